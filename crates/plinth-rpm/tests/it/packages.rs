//! .rpm reading and verification on real packages: PGDG (v4 RSA/SHA-256 header
//! signatures, payload digests), CentOS 6/7 and RHEL 8 (v3 signatures; CentOS 6/7 have no
//! payload digest, so the header+payload signature covers the payload), CentOS 5
//! (DSA/SHA-1, refused).

use std::path::Path;

use plinth_rpm::keys::SignatureError;
use plinth_rpm::package::{Expected, Package, PackageError};

use crate::support::{chain, data, key};

const SRPM_MACROS: &str = "pgdg/pgdg-srpm-macros-1.0.41-1PGDG.rhel8.noarch.rpm";
const SRPM_MACROS_SHA256: &str = "d2400b8915b1ef431584feb981bfa1eb772b3e4377701a4d39546ccf92d379a6";

fn expected(sha: &str) -> Expected {
    Expected {
        algorithm: "sha256".into(),
        value: sha.into(),
        size: None,
    }
}

#[test]
fn pgdg_packages_verify_with_v4_signatures_and_payload_digests() {
    let ring = key("PGDG-RPM-GPG-KEY-RHEL");
    for (file, sha) in [
        (SRPM_MACROS, SRPM_MACROS_SHA256),
        (
            "pgdg/pgdg-srpm-macros-1.0.27-1.rhel8.noarch.rpm",
            "ae8442995354c7d60ffba9882a120d454cb6dd2b840b65935f54cb917bb49c39",
        ),
        (
            "pgdg/pgdg-pyproject-srpm-macros-1.9.0-1PGDG.rhel8.noarch.rpm",
            "e0c014e6addf54db56d44bb2056496410a639c16b9ec54df68e5de2b2e00be01",
        ),
        (
            "pgdg/pgdg-poppler-data-devel-0.4.9-7.rhel8.noarch.rpm",
            "b631a2470adc0941f3ab561d3d923e364409e350771e23ceccd9cd9d4a002185",
        ),
    ] {
        let pkg = Package::open(&data(file)).unwrap();
        // The offsets PROVENANCE.txt lists (main header starts at 4504).
        assert_eq!(
            pkg.payload_offset() - pkg.header().raw().len() as u64,
            4504,
            "{file}"
        );
        let v = pkg.verify(&ring, Some(&expected(sha))).unwrap();
        assert_eq!(v.signer.version, 4, "{file}");
        assert_eq!(v.signer.key_id, "40bca2b408b40d20");
        assert_eq!(v.payload_check, "payload digest SHA256");
        assert_eq!(v.sha256, sha);
    }
    let info = Package::open(&data(SRPM_MACROS)).unwrap().info();
    assert_eq!(
        (
            info.name.as_str(),
            info.version.as_str(),
            info.release.as_str(),
            info.arch.as_str()
        ),
        ("pgdg-srpm-macros", "1.0.41", "1PGDG.rhel8", "noarch")
    );
}

#[test]
fn distro_packages_verify_with_v3_signatures() {
    for (file, k, payload_check) in [
        (
            "distro/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
            "RPM-GPG-KEY-CentOS-7",
            "header+payload signature",
        ),
        // The CentOS 6 key expired in 2021; it was alive when it signed (2011), which is
        // what counts for a package signature.
        (
            "distro/centos-release-6-0.el6.centos.5.x86_64.rpm",
            "RPM-GPG-KEY-CentOS-6",
            "header+payload signature",
        ),
        (
            "distro/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm",
            "RPM-GPG-KEY-redhat8-release",
            "payload digest SHA256",
        ),
    ] {
        let pkg = Package::open(&data(file)).unwrap();
        let v = pkg.verify(&key(k), None).unwrap();
        assert_eq!(v.signer.version, 3, "{file}");
        assert_eq!(v.signer.algorithm, "RSA/SHA256", "{file}");
        assert_eq!(v.payload_check, payload_check, "{file}");
    }
}

#[test]
fn centos5_dsa_sha1_signature_is_refused_naming_the_algorithm() {
    let pkg = Package::open(&data("distro/centos-release-5-0.0.el5.centos.2.x86_64.rpm")).unwrap();
    let err = pkg.verify(&key("RPM-GPG-KEY-CentOS-5"), None).unwrap_err();
    let PackageError::Signature {
        source: SignatureError::WeakAlgorithm { algorithm, key_id },
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(algorithm, "DSA/SHA1");
    assert_eq!(key_id, "a8a447dce8562897");
    assert!(
        chain(&err).contains("uses DSA/SHA1, which is refused"),
        "{}",
        chain(&err)
    );
}

#[test]
fn package_signed_by_an_unknown_key_is_refused() {
    let pkg = Package::open(&data(SRPM_MACROS)).unwrap();
    let err = pkg.verify(&key("RPM-GPG-KEY-CentOS-7"), None).unwrap_err();
    assert!(
        matches!(&err, PackageError::Signature { source: SignatureError::UnknownKey { key_id, .. }, .. } if key_id == "40bca2b408b40d20"),
        "{err:?}"
    );
}

#[test]
fn wrong_checksum_against_primary_is_refused() {
    let pkg = Package::open(&data(SRPM_MACROS)).unwrap();
    let other = "ae8442995354c7d60ffba9882a120d454cb6dd2b840b65935f54cb917bb49c39";
    let err = pkg
        .verify(&key("PGDG-RPM-GPG-KEY-RHEL"), Some(&expected(other)))
        .unwrap_err();
    assert!(
        matches!(&err, PackageError::Digest { what, actual, .. } if what.contains("primary.xml") && actual == SRPM_MACROS_SHA256),
        "{err:?}"
    );
}

/// Copies `file` to a temp dir with the byte at `offset` flipped.
fn tampered(file: &str, offset: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = fs_err::read(data(file)).unwrap();
    bytes[offset] ^= 0x01;
    let path = dir.path().join(Path::new(file).file_name().unwrap());
    fs_err::write(&path, bytes).unwrap();
    (dir, path)
}

#[test]
fn modified_header_is_refused() {
    // Offset 4504 + 16 + 16*il + a few bytes lands in the main header's data store.
    let pkg = Package::open(&data(SRPM_MACROS)).unwrap();
    let store = pkg.payload_offset() as usize - pkg.header().data().len();
    for (file, k) in [
        (SRPM_MACROS, "PGDG-RPM-GPG-KEY-RHEL"),
        (
            "distro/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
            "RPM-GPG-KEY-CentOS-7",
        ),
    ] {
        let p = Package::open(&data(file)).unwrap();
        let at = p.payload_offset() as usize - p.header().data().len() + 40;
        let (_d, path) = tampered(file, at);
        let err = Package::open(&path)
            .unwrap()
            .verify(&key(k), None)
            .unwrap_err();
        assert!(
            matches!(
                &err,
                PackageError::Signature {
                    source: SignatureError::Bad { .. },
                    ..
                }
            ),
            "{file}: {err:?}"
        );
    }
    assert!(store > 4504);
}

#[test]
fn modified_payload_is_refused() {
    for (file, k) in [
        (SRPM_MACROS, "PGDG-RPM-GPG-KEY-RHEL"),
        (
            "distro/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
            "RPM-GPG-KEY-CentOS-7",
        ),
    ] {
        let p = Package::open(&data(file)).unwrap();
        let (_d, path) = tampered(file, p.payload_offset() as usize + 100);
        let err = Package::open(&path)
            .unwrap()
            .verify(&key(k), None)
            .unwrap_err();
        let msg = chain(&err);
        assert!(
            matches!(
                &err,
                PackageError::Digest {
                    what: "payload",
                    ..
                }
            ) || matches!(
                &err,
                PackageError::Signature {
                    source: SignatureError::Bad { .. },
                    ..
                }
            ),
            "{file}: {msg}"
        );
    }
}

#[test]
fn payload_files_are_read_after_verification() {
    let pkg = Package::open(&data(SRPM_MACROS)).unwrap();
    let (v, files) = pkg
        .verified_files(&key("PGDG-RPM-GPG-KEY-RHEL"), None)
        .unwrap();
    assert_eq!(v.sha256, SRPM_MACROS_SHA256);
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("macros.d/macros.pgdg-postgresql")),
        "{paths:?}"
    );
    // CentOS 6 (xz) and CentOS 7 (xz) through the legacy path.
    let pkg = Package::open(&data(
        "distro/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
    ))
    .unwrap();
    let (_, files) = pkg
        .verified_files(&key("RPM-GPG-KEY-CentOS-7"), None)
        .unwrap();
    let release = files
        .iter()
        .find(|f| f.path == "./etc/centos-release")
        .unwrap();
    assert_eq!(release.data, b"CentOS Linux release 7.2.1511 (Core) \n");
}

#[test]
fn truncated_and_garbage_files_are_errors_not_panics() {
    let bytes = fs_err::read(data(SRPM_MACROS)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ring = key("PGDG-RPM-GPG-KEY-RHEL");
    for cut in [0, 50, 96, 200, 4504, 4600, 11000, bytes.len() - 10] {
        let path = dir.path().join(format!("cut{cut}.rpm"));
        fs_err::write(&path, &bytes[..cut]).unwrap();
        let res = Package::open(&path).and_then(|p| p.verified_files(&ring, None));
        assert!(res.is_err(), "cut at {cut}");
    }
}

/// Our verdict and rpm's (`rpmkeys -K` with only that key imported) on every real package
/// and on tampered copies: both accept or both refuse. CentOS 6's key expired in 2021,
/// after it signed (2011): both accept. rpm 4.18 refuses to import CentOS 5's DSA-1024
/// key, so both refuse that package.
#[test]
fn rpm_agrees_on_every_verdict() {
    if !crate::support::have_tool("rpmkeys") {
        return;
    }
    let cases = [
        (SRPM_MACROS, "PGDG-RPM-GPG-KEY-RHEL"),
        (
            "pgdg/pgdg-poppler-data-devel-0.4.9-7.rhel8.noarch.rpm",
            "PGDG-RPM-GPG-KEY-RHEL",
        ),
        (
            "distro/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
            "RPM-GPG-KEY-CentOS-7",
        ),
        (
            "distro/centos-release-6-0.el6.centos.5.x86_64.rpm",
            "RPM-GPG-KEY-CentOS-6",
        ),
        (
            "distro/crypto-policies-20210617-1.gitc776d3e.el8.noarch.rpm",
            "RPM-GPG-KEY-redhat8-release",
        ),
        (
            "distro/centos-release-5-0.0.el5.centos.2.x86_64.rpm",
            "RPM-GPG-KEY-CentOS-5",
        ),
        // The wrong key.
        (SRPM_MACROS, "RPM-GPG-KEY-CentOS-7"),
    ];
    let mut accepted = 0;
    for (file, k) in cases {
        let mut paths = vec![(data(file), "as published")];
        let p = Package::open(&data(file)).unwrap();
        let (_d1, payload) = tampered(file, p.payload_offset() as usize + 100);
        let (_d2, header) = tampered(
            file,
            p.payload_offset() as usize - p.header().data().len() + 40,
        );
        paths.push((payload, "payload modified"));
        paths.push((header, "header modified"));
        for (path, what) in paths {
            let db = tempfile::tempdir().unwrap();
            let _ = std::process::Command::new("rpmkeys")
                .arg("--dbpath")
                .arg(db.path())
                .arg("--import")
                .arg(data(&format!("keys/{k}")))
                .output()
                .unwrap();
            let out = std::process::Command::new("rpmkeys")
                .arg("--dbpath")
                .arg(db.path())
                .arg("-K")
                .arg(&path)
                .output()
                .unwrap();
            let rpm_ok = out.status.success();
            let ours = Package::open(&path).and_then(|p| p.verify(&key(k), None));
            assert_eq!(
                ours.is_ok(),
                rpm_ok,
                "{file} ({what}) with {k}: rpm says {}, we say {ours:?}",
                String::from_utf8_lossy(&out.stdout)
            );
            accepted += usize::from(rpm_ok);
        }
    }
    assert_eq!(accepted, 5);
}

/// Every byte of the main header and the payload is covered: a flipped byte anywhere
/// there is refused (checked every 23rd byte); flips elsewhere (lead, signature header)
/// never panic.
#[test]
fn every_header_and_payload_byte_is_covered() {
    let ring = key("PGDG-RPM-GPG-KEY-RHEL");
    for file in [
        SRPM_MACROS,
        "distro/centos-release-7-2.1511.el7.centos.2.10.x86_64.rpm",
    ] {
        let ring = if file == SRPM_MACROS {
            ring.clone()
        } else {
            key("RPM-GPG-KEY-CentOS-7")
        };
        let orig = fs_err::read(data(file)).unwrap();
        let pkg = Package::open(&data(file)).unwrap();
        let header_start = pkg.payload_offset() as usize - pkg.header().raw().len();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.rpm");
        for at in (0..orig.len()).step_by(23) {
            let mut bytes = orig.clone();
            bytes[at] ^= 0x20;
            fs_err::write(&path, &bytes).unwrap();
            let res = Package::open(&path).and_then(|p| p.verify(&ring, None));
            if at >= header_start {
                assert!(res.is_err(), "{file}: flipped byte {at} accepted");
            }
        }
    }
}
