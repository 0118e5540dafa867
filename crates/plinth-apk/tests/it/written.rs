//! Signed repositories written by `plinth_apk::write`: the readers accept them, their
//! member layout is the real index's and package's, and each tampering case is refused.

use std::io::{Read, Write};

use plinth_apk::gzip;
use plinth_apk::index::{IndexError, PackageInfo, SignatureError, read_index, verify_index};
use plinth_apk::keys::{Keyring, SignatureHash};
use plinth_apk::package::{EntryKind, Limits, PackageError, verify_package};
use plinth_apk::write::{
    FileKind, FileSpec, PackageSpec, SigningKey, build_index, build_package, write_repository,
};
use proptest::prelude::*;

use crate::support::*;

const KEY: &str = "plinth-test-0a1b2c3d.rsa.pub";

fn info(name: &str, version: &str, depends: &[&str], provides: &[&str]) -> PackageInfo {
    PackageInfo {
        name: name.into(),
        version: version.into(),
        arch: "x86_64".into(),
        description: format!("{name} for tests"),
        url: "https://example.invalid/".into(),
        license: "MIT".into(),
        origin: name.into(),
        maintainer: "Plinth <plinth@example.invalid>".into(),
        build_time: Some(1_700_000_000),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        depends: depends.iter().map(|s| s.to_string()).collect(),
        provides: provides.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn specs() -> Vec<PackageSpec> {
    vec![
        PackageSpec {
            info: info("musl", "1.2.3-r2", &[], &["so:libc.musl-x86_64.so.1=1"]),
            files: vec![
                FileSpec::dir("lib", 0o755),
                FileSpec::file("lib/ld-musl-x86_64.so.1", b"\x7fELF not really", 0o755),
                FileSpec::symlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
            ],
            scripts: vec![],
        },
        PackageSpec {
            info: info(
                "busybox",
                "1.35.0-r17",
                &["so:libc.musl-x86_64.so.1"],
                &["/bin/sh", "cmd:busybox=1.35.0-r17"],
            ),
            files: vec![
                FileSpec::dir("bin", 0o755),
                FileSpec::file("bin/busybox", b"busybox binary", 0o755),
                FileSpec {
                    path: "bin/sh".into(),
                    kind: FileKind::Hardlink("bin/busybox".into()),
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                },
                FileSpec::dir("tmp", 0o1777),
                FileSpec {
                    path: "etc/shadow".into(),
                    kind: FileKind::File(b"root:!::0:::::\n".to_vec()),
                    mode: 0o640,
                    uid: 0,
                    gid: 42,
                },
            ],
            scripts: vec![(".post-install".into(), b"#!/bin/sh\nexit 0\n".to_vec())],
        },
    ]
}

fn keyring(key: &SigningKey) -> Keyring {
    let mut k = Keyring::new();
    k.add(&key.name, key.public_key());
    k
}

#[test]
fn written_repository_reads_back_through_the_whole_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let key = test_key(KEY);
    // The public key as a file in a keys directory, as /etc/apk/keys holds it.
    let keys_dir = tmp.path().join("keys");
    fs_err::create_dir_all(&keys_dir).unwrap();
    fs_err::write(keys_dir.join(KEY), key.public_pem()).unwrap();
    let keys = Keyring::load(&[&keys_dir]).unwrap();

    let repo = tmp.path().join("main/x86_64");
    let infos = write_repository(&repo, &specs(), "plinth-test", &key).unwrap();
    let idx = read_index(&repo.join("APKINDEX.tar.gz"), &keys).unwrap();
    assert_eq!(idx.key_name, KEY);
    assert_eq!(idx.description.as_deref(), Some("plinth-test"));
    assert_eq!(idx.packages, infos);
    for entry in &idx.packages {
        let bytes = fs_err::read(repo.join(format!("{}.apk", entry.id()))).unwrap();
        assert_eq!(bytes.len() as u64, entry.size);
        let pkg = verify_package(&entry.id(), &bytes, &keys, Some(entry)).unwrap();
        assert_eq!(pkg.pkginfo.info.depends, entry.depends);
        assert_eq!(pkg.pkginfo.info.provides, entry.provides);
        assert_eq!(pkg.pkginfo.info.installed_size, entry.installed_size);
        let entries = pkg.data_entries(&bytes, &Limits::default()).unwrap();
        if entry.name == "busybox" {
            let get = |p: &str| entries.iter().find(|e| e.path == p).unwrap();
            assert_eq!(
                get("bin/sh").kind,
                EntryKind::Hardlink("bin/busybox".into())
            );
            assert_eq!(get("tmp").mode, 0o1777);
            assert_eq!((get("etc/shadow").gid, get("etc/shadow").mode), (42, 0o640));
            assert!(get("bin/busybox").sha1.is_some());
            assert_eq!(pkg.scripts[0].0, ".post-install");
            let db =
                plinth_apk::installed::package_record(&plinth_apk::installed::InstalledPackage {
                    info: pkg.pkginfo.info.clone(),
                    entries: entries.clone(),
                });
            // The hard link carries its target's checksum; the odd owner and mode show.
            let bb = get("bin/busybox").sha1.unwrap();
            let z = plinth_apk::index::encode_q1(&bb);
            assert!(
                db.contains(&format!(
                    "R:busybox\na:0:0:755\nZ:{z}\nR:sh\na:0:0:755\nZ:{z}\n"
                )),
                "{db}"
            );
            assert!(db.contains("F:etc\nR:shadow\na:0:42:640\n"), "{db}");
        }
    }
    // Resolution over the written index.
    let res = plinth_apk::resolve::Repository::new(&idx.packages)
        .resolve(&["busybox"])
        .unwrap();
    assert_eq!(res.names(), ["busybox", "musl"]);
}

/// Tar entry names and the tail of a member's tar.
fn tar_shape(content: &[u8]) -> (Vec<String>, bool) {
    let mut names = Vec::new();
    let mut a = tar::Archive::new(content);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        names.push(e.path().unwrap().to_string_lossy().into_owned());
    }
    let eof = content.len() >= 1024 && content[content.len() - 1024..].iter().all(|&b| b == 0);
    (names, eof)
}

fn members(bytes: &[u8]) -> Vec<gzip::Member> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let m = gzip::member_at(bytes, at, 1 << 30).unwrap();
        at = m.range.end;
        out.push(m);
    }
    out
}

#[test]
fn written_files_have_the_real_member_layout() {
    let key = test_key(KEY);
    let built: Vec<_> = specs()
        .iter()
        .map(|s| build_package(s, &key).unwrap())
        .collect();
    let infos: Vec<PackageInfo> = built.iter().map(|b| b.info.clone()).collect();
    let ours = build_index(&infos, "plinth-test", &key).unwrap();
    let real = read("APKINDEX-v3.16-main-x86_64.tar.gz");
    let (o, r) = (members(&ours), members(&real));
    assert_eq!((o.len(), r.len()), (2, 2));
    for (m, file) in [(&o, &ours), (&r, &real)] {
        // gzip header: deflate, no flags, mtime 0, max compression, Unix.
        assert_eq!(&file[m[0].range.start..m[0].range.start + 10], &real[..10]);
        assert_eq!(&file[m[1].range.start..m[1].range.start + 10], &real[..10]);
        // Signature member: one GNU tar entry, cut (no end-of-archive blocks).
        let (names, eof) = tar_shape(&m[0].content);
        assert_eq!(names.len(), 1);
        assert!(names[0].starts_with(".SIGN.RSA."));
        assert!(!eof);
        assert_eq!(&m[0].content[257..265], b"ustar  \0");
        // Index member: DESCRIPTION then APKINDEX, a whole tar.
        let (names, eof) = tar_shape(&m[1].content);
        assert_eq!(names, ["DESCRIPTION", "APKINDEX"]);
        assert!(eof);
    }
    // Packages: signature (cut), control (cut, .PKGINFO first), data (whole, PAX checksums).
    let real_pkg = read("alpine-baselayout-3.2.0-r23.apk");
    for file in [&built[1].bytes, &real_pkg] {
        let m = members(file);
        assert_eq!(m.len(), 3);
        let (sig, sig_eof) = tar_shape(&m[0].content);
        assert!(sig.len() == 1 && sig[0].starts_with(".SIGN.RSA.") && !sig_eof);
        let (control, control_eof) = tar_shape(&m[1].content);
        assert_eq!(control[0], ".PKGINFO");
        assert!(control.iter().all(|n| n.starts_with('.')));
        assert!(!control_eof);
        let (_, data_eof) = tar_shape(&m[2].content);
        assert!(data_eof);
        let mut a = tar::Archive::new(&m[2].content[..]);
        let mut with_sum = 0;
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            if let Some(pax) = e.pax_extensions().unwrap() {
                with_sum += pax
                    .filter(|x| x.as_ref().unwrap().key() == Ok("APK-TOOLS.checksum.SHA1"))
                    .count();
            }
        }
        assert!(with_sum > 0);
    }
}

#[test]
fn written_index_tampering_is_refused() {
    let key = test_key(KEY);
    let attacker = test_key("plinth-attacker-deadbeef.rsa.pub");
    let infos: Vec<PackageInfo> = specs()
        .iter()
        .map(|s| build_package(s, &key).unwrap().info)
        .collect();
    let good = build_index(&infos, "t", &key).unwrap();
    let keys = keyring(&key);
    verify_index("good", &good, &keys).unwrap();

    // Unknown key: signed by a key nobody configured.
    let bad = build_index(&infos, "t", &attacker).unwrap();
    let err = verify_index("evil/APKINDEX.tar.gz", &bad, &keys).unwrap_err();
    let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert_eq!(
        msg,
        "cannot verify the signature of evil/APKINDEX.tar.gz: signed by unknown key plinth-attacker-deadbeef.rsa.pub (configured keys: plinth-test-0a1b2c3d.rsa.pub)"
    );
    // The attacker's signature under the trusted key's name: a mismatch.
    let mut forged_key = attacker.clone();
    forged_key.name = KEY.into();
    let forged = build_index(&infos, "t", &forged_key).unwrap();
    let err = verify_index("f", &forged, &keys).unwrap_err();
    assert!(
        matches!(
            err,
            IndexError::Signature {
                source: SignatureError::Mismatch { .. },
                ..
            }
        ),
        "{err:?}"
    );
    // Modified index: a checksum changed, the old signature kept.
    let mut changed = infos.clone();
    changed[0].checksum = "Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let other = build_index(&changed, "t", &key).unwrap();
    let sig_end = gzip::member_at(&good, 0, 1 << 20).unwrap().range.end;
    let other_end = gzip::member_at(&other, 0, 1 << 20).unwrap().range.end;
    let spliced = [&good[..sig_end], &other[other_end..]].concat();
    let err = verify_index("spliced", &spliced, &keys).unwrap_err();
    let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert_eq!(
        msg,
        format!(
            "cannot verify the signature of spliced: signature by key {KEY} does not match the signed data (modified or corrupt)"
        )
    );
    // Missing signature.
    let err = verify_index("nosig", &good[sig_end..], &keys).unwrap_err();
    assert!(matches!(
        err,
        IndexError::Signature {
            source: SignatureError::Missing,
            ..
        }
    ));
    // SHA-256 signatures (.SIGN.RSA256.) verify too, and name the hash.
    let mut k256 = key.clone();
    k256.hash = SignatureHash::Sha256;
    let idx256 = build_index(&infos, "t", &k256).unwrap();
    let m = gzip::member_at(&idx256, 0, 1 << 20).unwrap();
    assert!(tar_shape(&m.content).0[0].starts_with(".SIGN.RSA256."));
    assert_eq!(
        verify_index("256", &idx256, &keys).unwrap().hash,
        SignatureHash::Sha256
    );
}

#[test]
fn written_package_tampering_is_refused() {
    let key = test_key(KEY);
    let keys = keyring(&key);
    let spec = &specs()[1];
    let built = build_package(spec, &key).unwrap();
    verify_package("good", &built.bytes, &keys, Some(&built.info)).unwrap();
    let m = members(&built.bytes);

    // Hash mismatch: the index lists another build of the package.
    let mut rebuilt_spec = spec.clone();
    rebuilt_spec.files[1] = FileSpec::file("bin/busybox", b"trojan", 0o755);
    let other = build_package(&rebuilt_spec, &key).unwrap();
    let err = verify_package("busybox.apk", &other.bytes, &keys, Some(&built.info)).unwrap_err();
    assert!(
        matches!(err, PackageError::ChecksumMismatch { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("busybox.apk: control section checksum"),
        "{err}"
    );

    // Modified package: the data member swapped for another (signed control kept).
    let swapped = [
        &built.bytes[..m[1].range.end],
        &other.bytes[members(&other.bytes)[2].range.clone()],
    ]
    .concat();
    let err = verify_package("swapped", &swapped, &keys, Some(&built.info)).unwrap_err();
    assert!(
        matches!(err, PackageError::DataHashMismatch { .. }),
        "{err}"
    );

    // Modified control section, re-compressed so gzip is happy: the index checksum
    // catches it, and without an index the signature does.
    let mut control = m[1].content.clone();
    let text = String::from_utf8_lossy(&control).replace("MIT", "BSD");
    control = text.into_bytes();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&control).unwrap();
    let control_gz = enc.finish().unwrap();
    let modified = [
        &built.bytes[..m[0].range.end],
        &control_gz,
        &built.bytes[m[2].range.clone()],
    ]
    .concat();
    let err = verify_package("m", &modified, &keys, Some(&built.info)).unwrap_err();
    assert!(
        matches!(err, PackageError::ChecksumMismatch { .. }),
        "{err}"
    );
    let err = verify_package("m", &modified, &keys, None).unwrap_err();
    assert!(
        matches!(
            err,
            PackageError::Signature {
                source: SignatureError::Mismatch { .. },
                ..
            }
        ),
        "{err}"
    );

    // Unknown key.
    let attacker = test_key("plinth-attacker-deadbeef.rsa.pub");
    let evil = build_package(spec, &attacker).unwrap();
    let err = verify_package("evil", &evil.bytes, &keys, None).unwrap_err();
    assert!(
        matches!(
            err,
            PackageError::Signature {
                source: SignatureError::UnknownKey { .. },
                ..
            }
        ),
        "{err}"
    );
}

/// A data member whose tar holds `name` (written with raw header bytes, as a hostile
/// packager would), in an otherwise valid signed package.
fn package_with_raw_entry(
    key: &SigningKey,
    name: &[u8],
    kind: u8,
    link: &[u8],
) -> (Vec<u8>, PackageInfo) {
    let mut h = tar::Header::new_ustar();
    h.set_path("placeholder").unwrap();
    h.set_size(if kind == b'0' { 3 } else { 0 });
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::new(kind));
    {
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name);
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link);
    }
    h.set_cksum();
    let mut tar = h.as_bytes().to_vec();
    if kind == b'0' {
        tar.extend_from_slice(b"abc");
        tar.extend(std::iter::repeat_n(0, 509));
    }
    tar.extend(std::iter::repeat_n(0, 1024));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&tar).unwrap();
    let data = enc.finish().unwrap();
    // Rebuild the control section around this data's hash, by writing a package with
    // the writer and splicing: the writer's control would carry its own datahash, so
    // write .PKGINFO by hand.
    use sha2_v010::Digest as _;
    let datahash = hex::encode(sha2_v010::Sha256::digest(&data));
    let pkginfo =
        format!("pkgname = evil\npkgver = 1-r0\narch = x86_64\nsize = 3\ndatahash = {datahash}\n");
    let mut ch = tar::Header::new_ustar();
    ch.set_path(".PKGINFO").unwrap();
    ch.set_size(pkginfo.len() as u64);
    ch.set_mode(0o644);
    ch.set_cksum();
    let mut ctar = ch.as_bytes().to_vec();
    ctar.extend_from_slice(pkginfo.as_bytes());
    ctar.extend(std::iter::repeat_n(0, (512 - pkginfo.len() % 512) % 512));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&ctar).unwrap();
    let control = enc.finish().unwrap();
    let sig = key.signature_member(&control).unwrap();
    let bytes = [sig, control, data].concat();
    let pkg = verify_package("evil", &bytes, &keyring(key), None).unwrap();
    (bytes, pkg.pkginfo.info)
}

#[test]
fn hostile_data_entries_are_refused() {
    let key = test_key(KEY);
    let keys = keyring(&key);
    for (name, kind, link, want) in [
        (
            &b"../etc/passwd"[..],
            b'0',
            &b""[..],
            "path with `..` refused",
        ),
        (b"/etc/passwd", b'0', b"", "absolute path refused"),
        (b"usr/../../x", b'0', b"", "path with `..` refused"),
        (b"x", b'1', b"../../etc/shadow", "path with `..` refused"),
        (b"dev/null", b'3', b"", "unsupported tar entry type"),
        (b"x\nF:etc", b'0', b"", "control character refused"),
    ] {
        let (bytes, _) = package_with_raw_entry(&key, name, kind, link);
        let pkg = verify_package("evil", &bytes, &keys, None).unwrap();
        let err = pkg.data_entries(&bytes, &Limits::default()).unwrap_err();
        assert!(
            err.to_string().contains(want),
            "{}: {err}",
            String::from_utf8_lossy(name)
        );
    }
    // Limits: entries and bytes.
    let built = build_package(&specs()[1], &key).unwrap();
    let pkg = verify_package("b", &built.bytes, &keys, None).unwrap();
    let few = Limits {
        entries: 2,
        ..Limits::default()
    };
    assert!(
        pkg.data_entries(&built.bytes, &few)
            .unwrap_err()
            .to_string()
            .contains("more than 2 entries")
    );
    let small = Limits {
        data_bytes: 4,
        ..Limits::default()
    };
    assert!(pkg.data_entries(&built.bytes, &small).is_err());
}

/// A content byte changed together with a re-signed control section: only the per-file
/// checksum header can catch it, and it does.
#[test]
fn file_checksum_header_is_checked() {
    let key = test_key(KEY);
    let built = build_package(&specs()[0], &key).unwrap();
    let m = members(&built.bytes);
    let mut data_tar = Vec::new();
    flate2::read::GzDecoder::new(&built.bytes[m[2].range.clone()])
        .read_to_end(&mut data_tar)
        .unwrap();
    let at = data_tar.windows(4).position(|w| w == b"ELF ").unwrap();
    data_tar[at] = b'e';
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&data_tar).unwrap();
    let data = enc.finish().unwrap();
    use sha2_v010::Digest as _;
    let newhash = hex::encode(sha2_v010::Sha256::digest(&data));
    let control_text = String::from_utf8_lossy(&m[1].content).into_owned();
    let old = control_text.split("datahash = ").nth(1).unwrap()[..64].to_string();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(control_text.replace(&old, &newhash).as_bytes())
        .unwrap();
    let control = enc.finish().unwrap();
    let sig = key.signature_member(&control).unwrap();
    let bytes = [sig, control, data].concat();
    let pkg = verify_package("p", &bytes, &keyring(&key), None).unwrap();
    let err = pkg.data_entries(&bytes, &Limits::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not match its APK-TOOLS.checksum.SHA1"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    /// Any single corrupted byte or truncation of a signed package: an error or (for
    /// bytes gzip ignores) a verified package, never a panic.
    #[test]
    fn corrupted_packages_never_panic(at in 0usize..4000, xor in 1u8..=255, cut in 0usize..4000) {
        let key = test_key(KEY);
        let keys = keyring(&key);
        let built = build_package(&specs()[1], &key).unwrap();
        let mut bytes = built.bytes.clone();
        let at = at % bytes.len();
        bytes[at] ^= xor;
        if let Ok(pkg) = verify_package("p", &bytes, &keys, Some(&built.info)) {
            let _ = pkg.data_entries(&bytes, &Limits::default());
        }
        let cut = cut % built.bytes.len();
        prop_assert!(verify_package("p", &built.bytes[..cut], &keys, None).is_err());
        let _ = verify_index("i", &bytes, &keys);
    }
}

/// Found by the apk_data_tar fuzz target: a data entry named `u\nsr/bin` became a line
/// of its own in the installed database, so a package could write records (a fake
/// package, a fake checksum) that apk, syft and trivy would believe.
#[test]
fn newline_in_data_path_cannot_inject_database_records() {
    let key = test_key(KEY);
    let (bytes, _) = package_with_raw_entry(
        &key,
        b"etc/x\n\nC:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:fake\nV:1-r0",
        b'0',
        b"",
    );
    let pkg = verify_package("evil", &bytes, &keyring(&key), None).unwrap();
    let err = pkg.data_entries(&bytes, &Limits::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("path with a control character refused"),
        "{err}"
    );
}

/// openssl as the oracle of the writer's signatures: a key made by `openssl genrsa`
/// (PKCS#1, as abuild-keygen writes it) and the same key in PKCS#8 sign an index whose
/// signature `openssl dgst -sha1 -verify` accepts over the signed members, exactly as
/// PROVENANCE.md checks Alpine's own.
#[test]
fn written_index_signature_verifies_with_openssl() {
    let have = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("`openssl` is not installed; run ./scripts/test.sh");
        }
        eprintln!("SKIPPED: `openssl` is not installed; run ./scripts/test.sh");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    run(&["genrsa", "-traditional", "-out", "k1.pem", "2048"]);
    run(&[
        "pkcs8", "-topk8", "-nocrypt", "-in", "k1.pem", "-out", "k8.pem",
    ]);
    run(&["rsa", "-in", "k1.pem", "-pubout", "-out", "k.pub"]);
    let pkcs1 = fs_err::read_to_string(tmp.path().join("k1.pem")).unwrap();
    let pkcs8 = fs_err::read_to_string(tmp.path().join("k8.pem")).unwrap();
    assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY") && pkcs8.contains("BEGIN PRIVATE KEY"));
    for pem in [pkcs1, pkcs8] {
        let key = SigningKey::from_pem("k.pub", &pem).unwrap();
        assert_eq!(
            key.public_pem(),
            fs_err::read_to_string(tmp.path().join("k.pub")).unwrap()
        );
        let infos: Vec<PackageInfo> = specs()
            .iter()
            .map(|s| build_package(s, &key).unwrap().info)
            .collect();
        let index = build_index(&infos, "t", &key).unwrap();
        let sig = gzip::member_at(&index, 0, 1 << 20).unwrap();
        let mut a = tar::Archive::new(&sig.content[..]);
        let mut entry = a.entries().unwrap().next().unwrap().unwrap();
        let mut signature = Vec::new();
        entry.read_to_end(&mut signature).unwrap();
        fs_err::write(tmp.path().join("sig"), signature).unwrap();
        fs_err::write(tmp.path().join("signed"), &index[sig.range.end..]).unwrap();
        let out = run(&[
            "dgst",
            "-sha1",
            "-verify",
            "k.pub",
            "-signature",
            "sig",
            "signed",
        ]);
        assert_eq!(String::from_utf8_lossy(&out).trim(), "Verified OK");
        // And the reader, with the key loaded from the openssl-written file.
        let keys = Keyring::load(&[tmp.path().join("k.pub")]).unwrap();
        verify_index("t", &index, &keys).unwrap();
    }
    assert!(
        SigningKey::from_pem(
            "bad",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        .is_err()
    );
}
