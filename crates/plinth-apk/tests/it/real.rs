//! Verification on Alpine's own signed index files and package (tests/data/PROVENANCE.md).

use plinth_apk::gzip;
use plinth_apk::index::{IndexError, SignatureError, read_index, verify_index};
use plinth_apk::keys::{Keyring, SignatureHash};
use plinth_apk::package::{EntryKind, Limits, PackageError, verify_package};

use crate::support::*;

const IDX316: &str = "APKINDEX-v3.16-main-x86_64.tar.gz";
const IDX317: &str = "APKINDEX-v3.17-main-aarch64.tar.gz";
const PKG: &str = "alpine-baselayout-3.2.0-r23.apk";

#[test]
fn real_v316_x86_64_index_verifies_with_alpine_keys() {
    let idx = read_index(&data(IDX316), &alpine_keys()).unwrap();
    assert_eq!(idx.key_name, X86_KEY);
    assert_eq!(idx.hash, SignatureHash::Sha1);
    assert_eq!(idx.description.as_deref(), Some("v3.16.3-13-g4d933a1fa3"));
    assert_eq!(idx.packages.len(), 4929);
    assert!(idx.packages.iter().all(|p| p.arch == "x86_64"));
    let base = idx
        .packages
        .iter()
        .find(|p| p.name == "alpine-baselayout")
        .unwrap();
    assert_eq!(base.version, "3.2.0-r23");
    assert_eq!(base.checksum, "Q19UI7UxyiUywG6aew9c3lCBPshsE=");
    assert_eq!(base.size, 11136);
    assert_eq!(base.installed_size, 348160);
    assert_eq!(base.build_time, Some(1662926906));
    assert_eq!(
        base.depends,
        [
            "alpine-baselayout-data=3.2.0-r23",
            "/bin/sh",
            "so:libc.musl-x86_64.so.1"
        ]
    );
    assert_eq!(base.provides, ["cmd:mkmntdirs=3.2.0-r23"]);
    // Every C: is Q1 + a SHA-1, every version is an apk version.
    for p in &idx.packages {
        assert!(p.checksum_sha1().is_some(), "{}", p.id());
        assert!(plinth_apk::version::is_valid(&p.version), "{}", p.id());
    }
    // Paragraph round trip: what apk writes for an index entry is what the index holds.
    let text = String::from_utf8(
        std::process::Command::new("tar")
            .args(["-xzOf"])
            .arg(data(IDX316))
            .arg("APKINDEX")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let ours: String = idx
        .packages
        .iter()
        .map(|p| format!("{}\n", p.index_paragraph()))
        .collect();
    assert_eq!(ours, text, "index paragraphs differ from the real APKINDEX");
}

#[test]
fn real_v317_aarch64_index_verifies_with_its_key() {
    let idx = read_index(&data(IDX317), &alpine_keys()).unwrap();
    assert_eq!(idx.key_name, AARCH64_KEY);
    assert_eq!(idx.packages.len(), 5004);
    assert_eq!(idx.description.as_deref(), Some("v3.17.3-216-g54a39ace82a"));
    let base = idx
        .packages
        .iter()
        .find(|p| p.name == "alpine-baselayout")
        .unwrap();
    assert_eq!(
        (base.version.as_str(), base.checksum.as_str()),
        ("3.4.0-r0", "Q1/eXfmbYT1WXenFSqKjroYyK84NE=")
    );
}

#[test]
fn real_gzip_member_boundaries() {
    let idx = read(IDX316);
    assert_eq!(gzip::member_at(&idx, 0, 1 << 20).unwrap().range, 0..667);
    assert_eq!(read(IDX317).len(), 661049);
    assert_eq!(
        gzip::member_at(&read(IDX317), 0, 1 << 20).unwrap().range,
        0..666
    );
    let pkg = read(PKG);
    let sig = gzip::member_at(&pkg, 0, 1 << 20).unwrap();
    let control = gzip::member_at(&pkg, sig.range.end, 1 << 20).unwrap();
    let data = gzip::member_at(&pkg, control.range.end, 1 << 20).unwrap();
    assert_eq!(
        (sig.range, control.range, data.range),
        (0..666, 666..2229, 2229..11012)
    );
}

/// The x86_64-only key set of the minirootfs's etc/apk/keys does not hold the aarch64 key.
#[test]
fn real_index_unknown_key_names_file_and_key() {
    let keys = Keyring::load(&[data("keys").join(X86_KEY)]).unwrap();
    let err = read_index(&data(IDX317), &keys).unwrap_err();
    let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(
        matches!(
            &err,
            IndexError::Signature {
                source: SignatureError::UnknownKey { .. },
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains(IDX317) && msg.contains(AARCH64_KEY) && msg.contains(X86_KEY),
        "{msg}"
    );
}

#[test]
fn real_index_one_flipped_signed_byte_is_refused() {
    for at in [667, 1000, 655_000, 655_753] {
        let mut idx = read(IDX316);
        idx[at] ^= 0x01;
        let err = verify_index(IDX316, &idx, &alpine_keys()).unwrap_err();
        assert!(
            matches!(&err, IndexError::Signature { source: SignatureError::Mismatch { key }, .. } if key == X86_KEY),
            "byte {at}: {err:?}"
        );
    }
    // A flipped byte in the signature itself (inside the first member) breaks either
    // the gzip CRC or the signature: refused either way.
    let mut idx = read(IDX316);
    idx[300] ^= 0x01;
    assert!(verify_index(IDX316, &idx, &alpine_keys()).is_err());
}

#[test]
fn real_index_without_its_signature_member_is_refused() {
    let idx = read(IDX316);
    let err = verify_index(IDX316, &idx[667..], &alpine_keys()).unwrap_err();
    assert!(
        matches!(
            &err,
            IndexError::Signature {
                source: SignatureError::Missing,
                ..
            }
        ),
        "{err:?}"
    );
    // Truncated: the signature holds, the rest is cut. Refused, no panic.
    assert!(verify_index(IDX316, &idx[..100_000], &alpine_keys()).is_err());
    assert!(verify_index(IDX316, &idx[..500], &alpine_keys()).is_err());
    assert!(verify_index(IDX316, b"", &alpine_keys()).is_err());
}

#[test]
fn real_package_chain_signature_and_datahash() {
    let bytes = read(PKG);
    let pkg = verify_package(PKG, &bytes, &alpine_keys(), None).unwrap();
    assert_eq!(pkg.key_name, AARCH64_KEY);
    let info = &pkg.pkginfo.info;
    assert_eq!(info.checksum, "Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc=");
    assert_eq!(
        (
            info.name.as_str(),
            info.version.as_str(),
            info.arch.as_str()
        ),
        ("alpine-baselayout", "3.2.0-r23", "aarch64")
    );
    assert_eq!(info.installed_size, 339968);
    assert_eq!(info.size, 11012);
    assert_eq!(
        info.depends,
        [
            "alpine-baselayout-data=3.2.0-r23",
            "/bin/sh",
            "so:libc.musl-aarch64.so.1"
        ]
    );
    assert_eq!(info.provides, ["cmd:mkmntdirs=3.2.0-r23"]);
    assert_eq!(
        hex::encode(pkg.pkginfo.datahash.unwrap()),
        "1a3a8e47d2287da6d505d973412cee1ad64bcc17bc5995069e4e932055ecb0c4"
    );
    let scripts: Vec<&str> = pkg.scripts.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        scripts,
        [
            ".pre-install",
            ".pre-upgrade",
            ".post-upgrade",
            ".post-install"
        ]
    );

    let entries = pkg.data_entries(&bytes, &Limits::default()).unwrap();
    // 83 entries (tar -tvzf lists them; the PAX headers are not entries).
    assert_eq!(entries.len(), 83);
    let get = |p: &str| entries.iter().find(|e| e.path == p).unwrap();
    assert_eq!(get("var/run").kind, EntryKind::Symlink("/run".into()));
    assert_eq!(
        hex::encode(get("var/run").sha1.unwrap()),
        "d7f48d673ffc70ad9d48a2be709a55ad922e1784" // sha1("/run")
    );
    assert_eq!(get("etc/crontabs/root").mode, 0o600);
    assert_eq!(get("tmp").mode, 0o1777);
    assert_eq!(get("root").mode, 0o700);
    assert_eq!(get("sbin/mkmntdirs").mode, 0o755);
    assert_eq!(get("sbin/mkmntdirs").size, 5736);
    // Every file and symlink carries apk's checksum header; directories do not.
    for e in &entries {
        assert_eq!(e.sha1.is_some(), e.kind != EntryKind::Dir, "{}", e.path);
        assert_eq!((e.uid, e.gid), (0, 0));
    }
}

/// The only index entry for alpine-baselayout-3.2.0-r23 is the x86_64 build: the
/// aarch64 package must not pass for it.
#[test]
fn real_package_against_x86_64_index_entry_is_refused() {
    let idx = read_index(&data(IDX316), &alpine_keys()).unwrap();
    let entry = idx
        .packages
        .iter()
        .find(|p| p.id() == "alpine-baselayout-3.2.0-r23")
        .unwrap();
    let err = verify_package(PKG, &read(PKG), &alpine_keys(), Some(entry)).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, PackageError::ChecksumMismatch { .. }),
        "{msg}"
    );
    assert!(
        msg.contains("Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc=")
            && msg.contains("Q19UI7UxyiUywG6aew9c3lCBPshsE=")
            && msg.contains(PKG),
        "{msg}"
    );
    // With the entry's checksum right but the arch wrong, .PKGINFO gives it away.
    let mut forged = entry.clone();
    forged.checksum = "Q1LLq2qDNrS/qRnhxQ3hsY/sHbQnc=".into();
    let err = verify_package(PKG, &read(PKG), &alpine_keys(), Some(&forged)).unwrap_err();
    assert!(
        matches!(err, PackageError::IndexMismatch { field: "arch", .. }),
        "{err}"
    );
}

#[test]
fn real_package_tampering_is_refused() {
    let keys = alpine_keys();
    // A data byte: the datahash catches it.
    let mut bytes = read(PKG);
    bytes[5000] ^= 0x01;
    let err = verify_package(PKG, &bytes, &keys, None).unwrap_err();
    assert!(
        matches!(err, PackageError::DataHashMismatch { .. }),
        "{err}"
    );
    // A control byte: the signature catches it (or the gzip CRC, first).
    let mut bytes = read(PKG);
    bytes[1500] ^= 0x01;
    assert!(verify_package(PKG, &bytes, &keys, None).is_err());
    // The last byte of the control member (its ISIZE): gzip accepts nothing wrong there
    // only if the signature also fails; either way refused.
    let mut bytes = read(PKG);
    bytes[2228] ^= 0x01;
    assert!(verify_package(PKG, &bytes, &keys, None).is_err());
    // Unknown key: only the x86_64 keys configured.
    let x86 = Keyring::load(&[data("keys").join(X86_KEY)]).unwrap();
    let err = verify_package(PKG, &read(PKG), &x86, None).unwrap_err();
    let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(msg.contains(AARCH64_KEY) && msg.contains(PKG), "{msg}");
    // Cut short anywhere: an error, never a panic.
    let bytes = read(PKG);
    for cut in [0, 10, 665, 666, 667, 2229, 5000, 11011] {
        assert!(
            verify_package(PKG, &bytes[..cut], &keys, None).is_err(),
            "cut at {cut}"
        );
    }
}
