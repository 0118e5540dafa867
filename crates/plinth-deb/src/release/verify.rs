//! OpenPGP verification of Release files against a [`Keyring`].

use std::time::SystemTime;

use pgp::armor::DearmorOptions;
use pgp::composed::{CleartextSignedMessage, Deserializable, DetachedSignature};

use super::{MAX_RELEASE, Release, ReleaseError, VerifiedRelease, unix_secs};
use crate::keyring::Keyring;

/// Verifies a cleartext-signed `InRelease` against `keyring`, then parses the signed text
/// (never the bytes around it) and checks its validity dates at `now`.
pub fn verify_inrelease(
    data: &[u8],
    keyring: &Keyring,
    now: SystemTime,
) -> Result<VerifiedRelease, ReleaseError> {
    if data.len() > MAX_RELEASE {
        return Err(ReleaseError::TooLarge(data.len()));
    }
    let (msg, _) = CleartextSignedMessage::from_armor_buf(data, DearmorOptions::default())
        .map_err(ReleaseError::Armor)?;
    let signed = msg.signed_text();
    let secs = unix_secs(now);
    let signer = msg
        .signatures()
        .iter()
        .find_map(|sig| keyring.verify(sig, signed.as_bytes(), secs))
        .ok_or(ReleaseError::BadSignature {
            keys: keyring.len(),
        })?;
    let text = signed.replace("\r\n", "\n");
    let release = Release::parse(text.as_bytes())?;
    release.check_valid_at(now)?;
    Ok(VerifiedRelease {
        release,
        signer,
        signed_text: signed,
    })
}

/// Verifies a `Release` file against its detached signature (`Release.gpg`, armoured or
/// binary), then parses it and checks its validity dates at `now`.
pub fn verify_detached(
    release: &[u8],
    signature: &[u8],
    keyring: &Keyring,
    now: SystemTime,
) -> Result<VerifiedRelease, ReleaseError> {
    if release.len() > MAX_RELEASE || signature.len() > MAX_RELEASE {
        return Err(ReleaseError::TooLarge(release.len().max(signature.len())));
    }
    let sigs: Vec<DetachedSignature> = if signature.starts_with(b"-----BEGIN") {
        let (iter, _) =
            DetachedSignature::from_armor_many(signature).map_err(ReleaseError::Armor)?;
        iter.filter_map(Result::ok).collect()
    } else {
        DetachedSignature::from_bytes_many(signature)
            .map_err(ReleaseError::Armor)?
            .filter_map(Result::ok)
            .collect()
    };
    let secs = unix_secs(now);
    let signer = sigs
        .iter()
        .find_map(|s| keyring.verify(&s.signature, release, secs))
        .ok_or(ReleaseError::BadSignature {
            keys: keyring.len(),
        })?;
    let parsed = Release::parse(release)?;
    parsed.check_valid_at(now)?;
    Ok(VerifiedRelease {
        release: parsed,
        signer,
        signed_text: String::from_utf8_lossy(release).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::tests::{DATE, RELEASE, at};
    use pgp::composed::{
        ArmorOptions, KeyType, SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey,
        SubkeyParamsBuilder,
    };
    use pgp::crypto::hash::HashAlgorithm;
    use pgp::ser::Serialize;
    use pgp::types::{KeyDetails, Password};
    use proptest::prelude::*;
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;
    use std::time::UNIX_EPOCH;

    fn key(seed: u64, with_signing_subkey: bool) -> SignedSecretKey {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = SecretKeyParamsBuilder::default();
        params
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id("Plinth Test <test@plinth.example>".into());
        if with_signing_subkey {
            let mut sub = SubkeyParamsBuilder::default();
            sub.key_type(KeyType::Ed25519Legacy).can_sign(true);
            params.subkeys(vec![sub.build().unwrap()]);
        }
        params.build().unwrap().generate(&mut rng).unwrap()
    }

    fn sign(key: &SignedSecretKey, text: &str) -> String {
        let rng = ChaCha8Rng::seed_from_u64(1);
        let msg =
            CleartextSignedMessage::sign(rng, text, &key.primary_key, &Password::empty()).unwrap();
        msg.to_armored_string(ArmorOptions::default()).unwrap()
    }

    fn ring(key: &SignedSecretKey) -> Keyring {
        let public = SignedPublicKey::from(key.clone());
        Keyring::from_bytes(&public.to_bytes().unwrap(), "test").unwrap()
    }

    #[test]
    fn signed_release_verifies() {
        let key = key(1, false);
        let signed = sign(&key, RELEASE);
        let v = verify_inrelease(signed.as_bytes(), &ring(&key), at(DATE + 60)).unwrap();
        assert_eq!(v.release.suite.as_deref(), Some("stable"));
        assert_eq!(v.signer, format!("{:X}", key.fingerprint()));
        // The same key as an armoured file.
        let armored = SignedPublicKey::from(key.clone())
            .to_armored_string(ArmorOptions::default())
            .unwrap();
        let ring2 = Keyring::from_bytes(armored.as_bytes(), "armored").unwrap();
        assert!(verify_inrelease(signed.as_bytes(), &ring2, at(DATE + 60)).is_ok());
    }

    #[test]
    fn modified_text_fails() {
        let key = key(1, false);
        let signed = sign(&key, RELEASE).replace("Suite: stable", "Suite: stab1e");
        let err = verify_inrelease(signed.as_bytes(), &ring(&key), at(DATE + 60)).unwrap_err();
        assert!(
            matches!(err, ReleaseError::BadSignature { keys: 1 }),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_fails() {
        let signed = sign(&key(1, false), RELEASE);
        let err =
            verify_inrelease(signed.as_bytes(), &ring(&key(2, false)), at(DATE + 60)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no signature on release file verifies against the keyring (1 keys)"
        );
    }

    #[test]
    fn expired_valid_until_fails_despite_good_signature() {
        let key = key(1, false);
        let signed = sign(&key, RELEASE);
        let err =
            verify_inrelease(signed.as_bytes(), &ring(&key), at(DATE + 30 * 86400)).unwrap_err();
        assert!(matches!(err, ReleaseError::Expired { .. }), "{err}");
    }

    #[test]
    fn data_around_the_signed_block_is_refused() {
        let key = key(1, false);
        let signed = sign(&key, RELEASE);
        for doctored in [
            format!("{signed}Suite: evil\n"),
            format!("Suite: evil\n\n{signed}"),
        ] {
            assert!(verify_inrelease(doctored.as_bytes(), &ring(&key), at(DATE)).is_err());
        }
    }

    #[test]
    fn signing_subkey_is_accepted() {
        let key = key(3, true);
        let rng = ChaCha8Rng::seed_from_u64(1);
        let sub = &key.secret_subkeys[0].key;
        let msg = CleartextSignedMessage::sign(rng, RELEASE, sub, &Password::empty()).unwrap();
        let signed = msg.to_armored_string(ArmorOptions::default()).unwrap();
        let v = verify_inrelease(signed.as_bytes(), &ring(&key), at(DATE)).unwrap();
        assert_eq!(v.signer, format!("{:X}", key.fingerprint()));
    }

    #[test]
    fn detached_signature_verifies() {
        let key = key(4, false);
        let rng = ChaCha8Rng::seed_from_u64(1);
        let sig = DetachedSignature::sign_binary_data(
            rng,
            &key.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            RELEASE.as_bytes(),
        )
        .unwrap();
        let armored = sig.to_armored_string(ArmorOptions::default()).unwrap();
        let keys = ring(&key);
        let v = verify_detached(RELEASE.as_bytes(), armored.as_bytes(), &keys, at(DATE)).unwrap();
        assert_eq!(v.release.codename.as_deref(), Some("bookworm"));
        let binary = sig.to_bytes().unwrap();
        assert!(verify_detached(RELEASE.as_bytes(), &binary, &keys, at(DATE)).is_ok());
        let tampered = RELEASE.replace("12.5", "12.6");
        assert!(verify_detached(tampered.as_bytes(), &binary, &keys, at(DATE)).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn never_panics_on_garbage(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let keys = Keyring::default();
            let _ = verify_inrelease(&bytes, &keys, UNIX_EPOCH);
            let _ = verify_detached(&bytes, &bytes, &keys, UNIX_EPOCH);
            let mut armored = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n".to_vec();
            armored.extend_from_slice(&bytes);
            let _ = verify_inrelease(&armored, &keys, UNIX_EPOCH);
        }
    }
}
