//! repomd.xml signatures on real data: PGDG (OpenPGP v4) and SUSE (OpenPGP v3).

use plinth_rpm::keys::{Keyring, SignatureError};
use plinth_rpm::repomd::{self, RepomdError};

use crate::support::{NOW, chain, data, key};

fn read(rel: &str) -> Vec<u8> {
    fs_err::read(data(rel)).unwrap()
}

#[test]
fn pgdg_repomd_v4_signature_verifies() {
    let v = repomd::verify_dir(&data("pgdg"), &key("PGDG-RPM-GPG-KEY-RHEL"), NOW).unwrap();
    assert_eq!(
        v.signer.fingerprint,
        "D4BF08AE67A0B4C7A1DBCCD240BCA2B408B40D20"
    );
    assert_eq!(v.signer.version, 4);
    assert_eq!(v.signer.algorithm, "RSA/SHA256");
    let primary = v.repomd.entry("primary").unwrap();
    assert_eq!(primary.checksum.algorithm, "sha256");
    assert_eq!(
        primary.location,
        "repodata/b8c85f3f5ca6b89c70d34e69333155b3bfad008cbd2f6ab2c09de451a15cdba2-primary.xml.gz"
    );
    assert_eq!(primary.size, Some(95331));
}

#[test]
fn suse_repomd_v3_signature_verifies() {
    let v = repomd::verify_dir(&data("suse"), &key("RPM-GPG-KEY-SuSE-SLE-15"), NOW).unwrap();
    assert_eq!(
        v.signer.fingerprint,
        "FEAB502539D846DB2C0961CA70AF9E8139DB7C82"
    );
    assert_eq!(v.signer.version, 3);
    assert_eq!(v.signer.key_id, "70af9e8139db7c82");
    assert_eq!(v.repomd.data.len(), 3);
}

#[test]
fn repomd_signed_by_an_unknown_key_is_refused() {
    let err = repomd::verify_dir(&data("pgdg"), &key("RPM-GPG-KEY-SuSE-SLE-15"), NOW).unwrap_err();
    let RepomdError::Signature(SignatureError::UnknownKey { key_id, .. }) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(key_id, "40bca2b408b40d20");
}

#[test]
fn modified_repomd_is_refused() {
    for (dir, k) in [
        ("pgdg", "PGDG-RPM-GPG-KEY-RHEL"),
        ("suse", "RPM-GPG-KEY-SuSE-SLE-15"),
    ] {
        let xml = read(&format!("{dir}/repodata/repomd.xml"));
        let sig = read(&format!("{dir}/repodata/repomd.xml.asc"));
        let text = String::from_utf8(xml).unwrap();
        // Point primary at other bytes: one changed hex digit.
        let tampered = text.replacen(
            "<checksum type=\"sha256\">",
            "<checksum type=\"sha256\">0",
            1,
        );
        assert_ne!(tampered, text);
        let err = repomd::verify(tampered.as_bytes(), &sig, &key(k), NOW).unwrap_err();
        assert!(
            matches!(err, RepomdError::Signature(SignatureError::Bad { .. })),
            "{dir}: {err:?}"
        );
        assert!(
            chain(&err).contains("the signed data was modified"),
            "{}",
            chain(&err)
        );
    }
}

#[test]
fn suse_repomd_with_the_expired_in_repo_key_copy_is_refused() {
    // repomd.xml.key is the same key with a self-signature that expired 2024-09-20. The
    // signature (2021-09-16) predates the expiry, so gpg says "Good signature [expired]";
    // metadata needs a key that is alive now, as dnf, zypper and apt require.
    let in_repo = Keyring::load(&data("suse/repodata/repomd.xml.key")).unwrap();
    let err = repomd::verify_dir(&data("suse"), &in_repo, NOW).unwrap_err();
    let RepomdError::Signature(SignatureError::ExpiredKey { expired, .. }) = &err else {
        panic!("{err:?}")
    };
    // gpg --show-keys --with-colons: expiry 1726820507 (2024-09-20).
    assert_eq!(*expired, 1_726_820_507);
    assert!(
        chain(&err).contains("expired at 1726820507"),
        "{}",
        chain(&err)
    );
    // Checked at a time before that expiry, the same copy verifies.
    let before = 1_700_000_000;
    repomd::verify_dir(&data("suse"), &in_repo, before).unwrap();
}

#[test]
fn garbage_signature_is_an_error() {
    let xml = read("pgdg/repodata/repomd.xml");
    for sig in [
        &b""[..],
        b"-----BEGIN PGP SIGNATURE-----\n\n!!\n-----END PGP SIGNATURE-----\n",
        b"\x89\x01\x00",
    ] {
        assert!(repomd::verify(&xml, sig, &key("PGDG-RPM-GPG-KEY-RHEL"), NOW).is_err());
    }
    assert!(matches!(
        repomd::Repomd::parse(b"<repomd><data type=\"primary\"></data></repomd>"),
        Err(RepomdError::Xml(_))
    ));
}
