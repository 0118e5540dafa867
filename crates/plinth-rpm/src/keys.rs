//! The OpenPGP keys an RPM repository is trusted with, and the signature policy.
//!
//! Keys come from ASCII-armoured key files (`RPM-GPG-KEY-*`, `repomd.xml.key`) or binary
//! keyrings. rpgp verifies version 3 signature packets (CentOS, RHEL 8 and SUSE sign with
//! them) as well as version 4 ones, so no hand-written v3 check is needed; what rpgp does
//! not decide is policy, which lives here:
//!
//! - **Weak algorithms are refused**: a DSA key or an MD5/SHA-1/RIPEMD-160 digest (CentOS 5
//!   signs with DSA-1024 over SHA-1). rpm 4.18 already refuses to import such a key.
//! - **Key liveness** is checked at the signature's creation time always (the key must
//!   exist then and not have expired), and for repository metadata also at "now".
//!   Packages are signed once and stay valid: rpm 4.18 says "signatures OK" for a
//!   CentOS 6 package whose key expired ten years after signing it (the
//!   `rpm_agrees_…` test checks this against rpmkeys). Repository metadata is only worth
//!   its freshness, and a key that has expired could otherwise vouch for replayed old
//!   metadata forever: dnf's librepo skips a signature whose key has expired ("key has
//!   expired", from gpgme's `KEY_EXPIRED` summary) and apt treats gpgv's `EXPKEYSIG` as
//!   a failure. gpg itself prints "Good signature ... [expired]" and exits 0; we follow
//!   the package managers, not gpg.

use std::path::{Path, PathBuf};

use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::packet::Signature;
use pgp::types::KeyDetails;

/// Largest key file read, in bytes.
const MAX_KEYFILE: u64 = 4 << 20;

#[cfg(test)]
const ARMOR_BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

/// Failure while loading keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading the key file failed (the error names the path).
    #[error("cannot read key file")]
    Io(#[from] std::io::Error),
    /// The key file is larger than 4 MiB.
    #[error("key file {path} is larger than {MAX_KEYFILE} bytes")]
    TooLarge {
        /// The key file.
        path: PathBuf,
    },
    /// The data is neither a binary keyring nor ASCII-armoured key blocks.
    #[error("cannot parse openpgp keys of {origin}")]
    Parse {
        /// Names the keys: a path or a description.
        origin: String,
        /// What the OpenPGP parser reported.
        #[source]
        source: pgp::errors::Error,
    },
    /// The data parses but holds no public key.
    #[error("{origin} holds no usable public key")]
    Empty {
        /// Names the keys: a path or a description.
        origin: String,
    },
}

/// Why a signature was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The signature data is not an OpenPGP signature.
    #[error("cannot parse openpgp signature")]
    Parse(#[source] Box<pgp::errors::Error>),
    /// The data holds no signature packet.
    #[error("no openpgp signature found")]
    Missing,
    /// No configured key has the signature's issuer key ID.
    #[error("signed by key {key_id}, which is not among the {keys} configured keys")]
    UnknownKey {
        /// The issuer key ID (16 hex digits), or "unknown" when the signature names none.
        key_id: String,
        /// How many primary keys were configured.
        keys: usize,
    },
    /// A weak public-key or hash algorithm.
    #[error(
        "signature by key {key_id} uses {algorithm}, which is refused as too weak (DSA, MD5, SHA-1 and RIPEMD-160 are not accepted)"
    )]
    WeakAlgorithm {
        /// The issuer key ID.
        key_id: String,
        /// `PUBKEY/HASH`, e.g. `DSA/SHA1`.
        algorithm: String,
    },
    /// The key had expired when the signature was made, or has expired since (metadata).
    #[error("key {fingerprint} expired at {expired} (unix time); the signature {when}")]
    ExpiredKey {
        /// The primary key fingerprint.
        fingerprint: String,
        /// Expiry, unix seconds.
        expired: i64,
        /// "was made after that" or "is checked at a later time".
        when: &'static str,
    },
    /// The key carries a revocation signature.
    #[error("key {fingerprint} is revoked")]
    Revoked {
        /// The primary key fingerprint.
        fingerprint: String,
    },
    /// The signature is older than the key that supposedly made it.
    #[error("signature made at {created} predates key {fingerprint}")]
    BeforeKey {
        /// The primary key fingerprint.
        fingerprint: String,
        /// Signature creation, unix seconds.
        created: i64,
    },
    /// The key matches but the signature does not verify: the data was modified.
    #[error("bad signature by key {fingerprint}: the signed data was modified")]
    Bad {
        /// The primary key fingerprint.
        fingerprint: String,
        /// What the OpenPGP library reported.
        #[source]
        source: Box<pgp::errors::Error>,
    },
}

/// When a key must be alive for its signature to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// At the signature's creation time only (package headers).
    AtSignature,
    /// At the signature's creation time and at this time, unix seconds (repository
    /// metadata).
    AtSignatureAndNow(i64),
}

/// A verified signature: who made it and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// Fingerprint of the primary key (upper-case hex).
    pub fingerprint: String,
    /// The signature's issuer key ID (lower-case hex, 16 digits).
    pub key_id: String,
    /// Signature creation time, unix seconds.
    pub created: i64,
    /// `RSA/SHA256` and the like.
    pub algorithm: String,
    /// OpenPGP signature packet version (3 or 4).
    pub version: u8,
}

/// A set of trusted public keys (primary keys with their subkeys).
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
}

impl Keyring {
    /// Parses a binary keyring or one or more ASCII-armoured key blocks. `origin` names
    /// the data in errors.
    pub fn from_bytes(data: &[u8], origin: &str) -> Result<Self, KeyError> {
        let parse_err = |source| KeyError::Parse {
            origin: origin.to_string(),
            source,
        };
        let keys = plinth_core::openpgp::public_keys(data).map_err(parse_err)?;
        if keys.is_empty() {
            return Err(KeyError::Empty {
                origin: origin.to_string(),
            });
        }
        Ok(Self { keys })
    }

    /// Loads one key file (armoured or binary).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let meta = fs_err::metadata(path)?;
        if meta.len() > MAX_KEYFILE {
            return Err(KeyError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        Self::from_bytes(&fs_err::read(path)?, &path.display().to_string())
    }

    /// Loads and merges several key files.
    pub fn load_all<P: AsRef<Path>>(paths: &[P]) -> Result<Self, KeyError> {
        let mut ring = Self::default();
        for p in paths {
            ring.merge(Self::load(p.as_ref())?);
        }
        Ok(ring)
    }

    /// Adds the keys of `other`.
    pub fn merge(&mut self, other: Keyring) {
        self.keys.extend(other.keys);
    }

    /// Number of primary keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the keyring holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Upper-case hex fingerprints of the primary keys.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| format!("{:X}", k.fingerprint()))
            .collect()
    }

    /// Parses one binary signature packet (as rpm stores it in a signature header) or
    /// armoured/binary detached signatures, and verifies the first that a configured key
    /// made over `data`.
    pub fn verify_detached(
        &self,
        signature: &[u8],
        data: &[u8],
        liveness: Liveness,
    ) -> Result<Signer, SignatureError> {
        let sigs = parse_signatures(signature)?;
        let mut last = SignatureError::Missing;
        for sig in &sigs {
            match self.verify(sig, data, liveness) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Verifies one signature over `data` under the policy described in the module docs.
    pub fn verify(
        &self,
        sig: &Signature,
        data: &[u8],
        liveness: Liveness,
    ) -> Result<Signer, SignatureError> {
        let issuers: Vec<String> = sig
            .issuer_key_id()
            .iter()
            .map(|k| hex::encode(k.as_ref()))
            .collect();
        let key_id = issuers.first().cloned().unwrap_or_else(|| "unknown".into());
        let config = sig.config().ok_or_else(|| SignatureError::UnknownKey {
            key_id: key_id.clone(),
            keys: self.keys.len(),
        })?;
        let algorithm = format!("{}/{}", alg_name(config.pub_alg), config.hash_alg);
        let weak_hash = matches!(
            config.hash_alg,
            HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::Ripemd160
        );
        if weak_hash || config.pub_alg == PublicKeyAlgorithm::DSA {
            return Err(SignatureError::WeakAlgorithm { key_id, algorithm });
        }
        let created = sig
            .created()
            .map(|t| i64::from(t.as_secs()))
            .unwrap_or_default();
        let version = match sig.version() {
            pgp::packet::SignatureVersion::V2 => 2,
            pgp::packet::SignatureVersion::V3 => 3,
            pgp::packet::SignatureVersion::V4 => 4,
            pgp::packet::SignatureVersion::V5 => 5,
            pgp::packet::SignatureVersion::V6 => 6,
            _ => 0,
        };
        let mut found: Option<SignatureError> = None;
        for key in &self.keys {
            let fingerprint = format!("{:X}", key.fingerprint());
            // Only self-signatures set the key's expiry, not third-party certifications.
            let own_id = key.legacy_key_id();
            let primary_expiry = expiry(
                key.created_at().as_secs(),
                key.details
                    .users
                    .iter()
                    .flat_map(|u| &u.signatures)
                    .filter(|s| {
                        let ids = s.issuer_key_id();
                        ids.is_empty() || ids.contains(&&own_id)
                    }),
            );
            let mut candidates: Vec<(&dyn VerifyKey, Option<i64>, i64)> = vec![(
                &key.primary_key,
                primary_expiry,
                i64::from(key.created_at().as_secs()),
            )];
            for sub in &key.public_subkeys {
                // A subkey counts only with a valid binding from its primary key.
                if sub.verify_bindings(&key.primary_key).is_err() {
                    continue;
                }
                let sub_expiry = expiry(sub.key.created_at().as_secs(), &sub.signatures);
                let e = match (primary_expiry, sub_expiry) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                candidates.push((&sub.key, e, i64::from(sub.key.created_at().as_secs())));
            }
            for (k, exp, key_created) in candidates {
                let id = hex::encode(k.key_id().as_ref());
                if !issuers.is_empty() && !issuers.contains(&id) {
                    continue;
                }
                if let Err(source) = k.verify_sig(sig, data) {
                    found = Some(SignatureError::Bad {
                        fingerprint: fingerprint.clone(),
                        source: Box::new(source),
                    });
                    continue;
                }
                if !key.details.revocation_signatures.is_empty() {
                    return Err(SignatureError::Revoked { fingerprint });
                }
                if created < key_created {
                    return Err(SignatureError::BeforeKey {
                        fingerprint,
                        created,
                    });
                }
                if let Some(exp) = exp {
                    if exp <= created {
                        return Err(SignatureError::ExpiredKey {
                            fingerprint,
                            expired: exp,
                            when: "was made after that",
                        });
                    }
                    if let Liveness::AtSignatureAndNow(now) = liveness
                        && exp <= now
                    {
                        return Err(SignatureError::ExpiredKey {
                            fingerprint,
                            expired: exp,
                            when: "is checked at a later time (repository metadata needs a live key)",
                        });
                    }
                }
                return Ok(Signer {
                    fingerprint,
                    key_id: key_id.clone(),
                    created,
                    algorithm,
                    version,
                });
            }
        }
        Err(found.unwrap_or(SignatureError::UnknownKey {
            key_id,
            keys: self.keys.len(),
        }))
    }
}

/// The two kinds of key (primary and subkey) behind one interface.
trait VerifyKey {
    fn key_id(&self) -> pgp::types::KeyId;
    fn verify_sig(&self, sig: &Signature, data: &[u8]) -> Result<(), pgp::errors::Error>;
}

impl VerifyKey for pgp::packet::PublicKey {
    fn key_id(&self) -> pgp::types::KeyId {
        self.legacy_key_id()
    }
    fn verify_sig(&self, sig: &Signature, data: &[u8]) -> Result<(), pgp::errors::Error> {
        sig.verify(self, data)
    }
}

impl VerifyKey for pgp::packet::PublicSubkey {
    fn key_id(&self) -> pgp::types::KeyId {
        self.legacy_key_id()
    }
    fn verify_sig(&self, sig: &Signature, data: &[u8]) -> Result<(), pgp::errors::Error> {
        sig.verify(self, data)
    }
}

/// Signatures from armoured text, a binary detached signature, or a bare packet.
pub(crate) fn parse_signatures(data: &[u8]) -> Result<Vec<Signature>, SignatureError> {
    use pgp::composed::DetachedSignature;
    let sigs: Vec<Signature> = if data.starts_with(b"-----BEGIN") {
        let (iter, _) = DetachedSignature::from_armor_many(data)
            .map_err(|e| SignatureError::Parse(Box::new(e)))?;
        iter.filter_map(Result::ok).map(|d| d.signature).collect()
    } else {
        DetachedSignature::from_bytes_many(data)
            .map_err(|e| SignatureError::Parse(Box::new(e)))?
            .filter_map(Result::ok)
            .map(|d| d.signature)
            .collect()
    };
    if sigs.is_empty() {
        return Err(SignatureError::Missing);
    }
    Ok(sigs)
}

fn alg_name(alg: PublicKeyAlgorithm) -> String {
    match alg {
        PublicKeyAlgorithm::RSA | PublicKeyAlgorithm::RSASign => "RSA".into(),
        PublicKeyAlgorithm::DSA => "DSA".into(),
        PublicKeyAlgorithm::ECDSA => "ECDSA".into(),
        PublicKeyAlgorithm::EdDSALegacy => "EdDSA".into(),
        PublicKeyAlgorithm::Ed25519 => "Ed25519".into(),
        other => format!("{other:?}"),
    }
}

/// Expiry (unix seconds) from the newest self-signature carrying a key expiration time.
fn expiry<'a>(created: u32, sigs: impl IntoIterator<Item = &'a Signature>) -> Option<i64> {
    let newest = sigs
        .into_iter()
        .filter(|s| s.created().is_some())
        .max_by_key(|s| s.created().map(|t| t.as_secs()))?;
    let secs = newest.key_expiration_time()?.as_secs();
    (secs > 0).then(|| i64::from(created) + i64::from(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Keyring::from_bytes(b"\x99\x01\xffnot a key", "junk").is_err());
        let armored =
            format!("{ARMOR_BEGIN}\n\nnot base64!!\n-----END PGP PUBLIC KEY BLOCK-----\n");
        assert!(Keyring::from_bytes(armored.as_bytes(), "junk").is_err());
        assert!(parse_signatures(b"\x88\x00garbage").is_err());
        assert!(parse_signatures(b"").is_err());
    }
}
