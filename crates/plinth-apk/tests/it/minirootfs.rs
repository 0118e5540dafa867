//! The signed test repository in the tree (`tests/data/repos/alpine/`), made from the
//! real Alpine 3.20.3 minirootfs: each package apk's own installed database lists there
//! is re-packed with this crate's writer from the real files, at its real version and
//! with its real fields (dependencies, provides, install-if, replaces, installed size,
//! scripts), and signed with the test key committed beside it. Only `tzdata` is
//! synthetic (the minirootfs has none; Alpine's `static` needs it): one zone, UTC.
//!
//! The test makes the repository again and compares it byte for byte with the committed
//! one (RSA PKCS#1 v1.5 signatures and the gzip writer are deterministic), so the tree
//! holds no file nobody can reproduce. `PLINTH_REGENERATE_TEST_REPOS=1` writes it instead
//! (with `--test-threads 1`: the other test reads it).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use plinth_apk::index::{PackageInfo, decode_q1, parse_index, read_index};
use plinth_apk::keys::Keyring;
use plinth_apk::package::{Limits, read_package};
use plinth_apk::write::{
    FileKind, FileSpec, PackageSpec, SigningKey, build_index, data_tar, package_from_data_tar,
};
use sha1::{Digest, Sha1};

const KEY_NAME: &str = "plinth-test-alpine.rsa.pub";
const DESCRIPTION: &str = "v3.20.3-plinth-test";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn repo_dir() -> PathBuf {
    root().join("tests/data/repos/alpine")
}

/// One entry of the minirootfs tarball.
enum Node {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Hardlink(String),
}

fn read_rootfs() -> BTreeMap<String, Node> {
    let path = root().join("tests/data/images/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    let gz = flate2::read::GzDecoder::new(fs_err::File::open(path).unwrap());
    let mut ar = tar::Archive::new(gz);
    let mut out = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let p = p.trim_start_matches("./").trim_end_matches('/').to_string();
        let link = || {
            e.link_name()
                .unwrap()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        let node = match e.header().entry_type() {
            tar::EntryType::Directory => Node::Dir,
            tar::EntryType::Symlink => Node::Symlink(link()),
            tar::EntryType::Link => Node::Hardlink(link().trim_start_matches("./").to_string()),
            _ => {
                let mut b = Vec::new();
                e.read_to_end(&mut b).unwrap();
                Node::File(b)
            }
        };
        out.insert(p, node);
    }
    out
}

/// `lib/apk/db/scripts.tar`: `name-version.Q1….post-install` → content.
fn scripts(rootfs: &BTreeMap<String, Node>) -> Vec<(String, Vec<u8>)> {
    let Some(Node::File(bytes)) = rootfs.get("lib/apk/db/scripts.tar") else {
        panic!("no scripts.tar")
    };
    let mut ar = tar::Archive::new(&bytes[..]);
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        out.push((name, b));
    }
    out
}

fn acl(value: &str) -> (u64, u64, u32) {
    let v: Vec<&str> = value.split(':').collect();
    (
        v[0].parse().unwrap(),
        v[1].parse().unwrap(),
        u32::from_str_radix(v[2], 8).unwrap(),
    )
}

/// Files of the minirootfs that differ from what apk installed (the image's build
/// changed them after apk ran): they are re-packed as they are in the minirootfs.
const CHANGED_AFTER_INSTALL: &[&str] = &["etc/shadow"];

/// The packages of the minirootfs's installed database, with their real files.
fn repacked() -> Vec<PackageSpec> {
    let mut changed = Vec::new();
    let rootfs = read_rootfs();
    let scripts = scripts(&rootfs);
    let Some(Node::File(db)) = rootfs.get("lib/apk/db/installed") else {
        panic!("no installed database")
    };
    let db = String::from_utf8(db.clone()).unwrap();
    let mut out = Vec::new();
    for para in db.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let info = parse_index(&format!("{para}\n")).unwrap().remove(0);
        let mut files: Vec<FileSpec> = Vec::new();
        let mut dir = String::new();
        for line in para.lines() {
            let (tag, value) = line.split_at(2);
            match tag {
                "F:" => {
                    dir = value.to_string();
                    files.push(FileSpec::dir(value, 0o755));
                }
                "M:" => {
                    let (uid, gid, mode) = acl(value);
                    let d = files.last_mut().unwrap();
                    (d.uid, d.gid, d.mode) = (uid, gid, mode);
                }
                "R:" => {
                    let path = format!("{dir}/{value}");
                    let kind = match rootfs.get(&path) {
                        Some(Node::File(b)) => FileKind::File(b.clone()),
                        Some(Node::Symlink(t)) => FileKind::Symlink(t.clone()),
                        Some(Node::Hardlink(t)) => FileKind::Hardlink(t.clone()),
                        Some(Node::Dir) | None => panic!("{path} is not a file of the rootfs"),
                    };
                    let mode = if matches!(kind, FileKind::Symlink(_)) {
                        0o777
                    } else {
                        0o644
                    };
                    files.push(FileSpec {
                        path,
                        kind,
                        mode,
                        uid: 0,
                        gid: 0,
                    });
                }
                "a:" => {
                    let (uid, gid, mode) = acl(value);
                    let f = files.last_mut().unwrap();
                    (f.uid, f.gid) = (uid, gid);
                    if !matches!(f.kind, FileKind::Symlink(_)) {
                        f.mode = mode;
                    }
                }
                "Z:" => {
                    // The file should still be what apk installed.
                    let want = decode_q1(value).unwrap();
                    let f = files.last().unwrap();
                    let got: [u8; 20] = match &f.kind {
                        FileKind::File(b) => Sha1::digest(b).into(),
                        FileKind::Symlink(t) => Sha1::digest(t.as_bytes()).into(),
                        FileKind::Hardlink(t) => match rootfs.get(t) {
                            Some(Node::File(b)) => Sha1::digest(b).into(),
                            _ => panic!("hard link {} to no file", f.path),
                        },
                        FileKind::Dir => panic!("checksum on a directory"),
                    };
                    if got != want {
                        changed.push(f.path.clone());
                    }
                }
                _ => {}
            }
        }
        let prefix = format!("{}-{}.{}.", info.name, info.version, info.checksum);
        let scripts = scripts
            .iter()
            .filter_map(|(n, b)| {
                n.strip_prefix(&prefix)
                    .map(|s| (format!(".{s}"), b.clone()))
            })
            .collect();
        out.push(PackageSpec {
            info,
            files,
            scripts,
        });
    }
    assert_eq!(changed, CHANGED_AFTER_INSTALL);
    out
}

/// The synthetic `tzdata`: UTC only (the zone file is the tz database's, public domain).
fn tzdata() -> PackageSpec {
    let utc = fs_err::read(repo_dir().join("synthetic/tzdata/UTC")).unwrap();
    PackageSpec {
        info: PackageInfo {
            name: "tzdata".into(),
            version: "2024b-r0".into(),
            arch: "x86_64".into(),
            description: "Timezone data (Plinth test repository: synthetic, UTC only)".into(),
            url: "https://www.iana.org/time-zones".into(),
            license: "Public-Domain".into(),
            origin: "tzdata".into(),
            build_time: Some(1725000000),
            ..Default::default()
        },
        files: vec![
            FileSpec::dir("usr", 0o755),
            FileSpec::dir("usr/share", 0o755),
            FileSpec::dir("usr/share/zoneinfo", 0o755),
            FileSpec::file("usr/share/zoneinfo/UTC", &utc, 0o644),
            FileSpec::dir("usr/share/zoneinfo/Etc", 0o755),
            FileSpec::symlink("usr/share/zoneinfo/Etc/UTC", "../UTC"),
        ],
        scripts: Vec::new(),
    }
}

fn key() -> SigningKey {
    let pem = fs_err::read_to_string(repo_dir().join("signing/plinth-test-alpine.rsa")).unwrap();
    SigningKey::from_pem(KEY_NAME, &pem).unwrap()
}

/// Writes the repository into `dir` (`v3.20/main/x86_64/` under it).
fn generate(dir: &Path) {
    let key = key();
    let mut packages = repacked();
    packages.push(tzdata());
    packages.sort_by(|a, b| a.info.name.cmp(&b.info.name));
    // The real installed size (`I:`, rounded to blocks by abuild) is kept: the writer
    // gets the data tar and the size, not the files.
    let arch_dir = dir.join("v3.20/main/x86_64");
    let mut written = Vec::new();
    for p in &packages {
        let (tar, sum) = data_tar(&p.files).unwrap();
        let mut info = p.info.clone();
        if info.installed_size == 0 {
            info.installed_size = sum;
        }
        let built = package_from_data_tar(&info, &p.scripts, &tar, &key).unwrap();
        written.push((format!("{}.apk", info.id()), built));
    }
    fs_err::create_dir_all(&arch_dir).unwrap();
    for (name, built) in &written {
        fs_err::write(arch_dir.join(name), &built.bytes).unwrap();
    }
    let infos: Vec<PackageInfo> = written.into_iter().map(|(_, b)| b.info).collect();
    let index = build_index(&infos, DESCRIPTION, &key).unwrap();
    fs_err::write(arch_dir.join("APKINDEX.tar.gz"), index).unwrap();
}

fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in fs_err::read_dir(dir).unwrap() {
        let e = e.unwrap();
        out.insert(
            e.file_name().to_string_lossy().into_owned(),
            fs_err::read(e.path()).unwrap(),
        );
    }
    out
}

#[test]
fn the_test_repository_in_the_tree_is_the_minirootfs_re_packed() {
    let committed = repo_dir();
    if std::env::var("PLINTH_REGENERATE_TEST_REPOS").is_ok_and(|v| v == "1") {
        let _ = fs_err::remove_dir_all(committed.join("v3.20"));
        generate(&committed);
    }
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path());
    let sub = "v3.20/main/x86_64";
    let made = files_under(&tmp.path().join(sub));
    let have = files_under(&committed.join(sub));
    assert_eq!(
        made.keys().collect::<Vec<_>>(),
        have.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &made {
        assert!(
            &have[name] == bytes,
            "{sub}/{name} differs from what the generator makes: run with PLINTH_REGENERATE_TEST_REPOS=1"
        );
    }
    // The public key committed beside it is the signing key's.
    let public = fs_err::read_to_string(committed.join("keys").join(KEY_NAME)).unwrap();
    assert_eq!(
        plinth_apk::keys::parse_public_pem(&public).unwrap(),
        key().public_key()
    );
}

#[test]
fn every_package_of_the_test_repository_verifies_and_holds_the_real_files() {
    let keys = Keyring::load(&[repo_dir().join("keys")]).unwrap();
    let dir = repo_dir().join("v3.20/main/x86_64");
    let index = read_index(&dir.join("APKINDEX.tar.gz"), &keys).unwrap();
    assert_eq!(index.key_name, KEY_NAME);
    let names: Vec<&str> = index.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "alpine-baselayout",
            "alpine-baselayout-data",
            "alpine-keys",
            "apk-tools",
            "busybox",
            "busybox-binsh",
            "ca-certificates-bundle",
            "libcrypto3",
            "libssl3",
            "musl",
            "musl-utils",
            "scanelf",
            "ssl_client",
            "tzdata",
            "zlib"
        ]
    );
    let rootfs = read_rootfs();
    for p in &index.packages {
        let (pkg, bytes) = read_package(&dir.join(format!("{}.apk", p.id())), &keys, Some(p))
            .unwrap_or_else(|e| panic!("{}: {e}", p.id()));
        pkg.read_data(&bytes, &Limits::default(), |e, content| {
            if let Some(Node::File(real)) = rootfs.get(&e.path) {
                assert_eq!(real, content, "{}", e.path);
            }
        })
        .unwrap();
    }
    let busybox = index.packages.iter().find(|p| p.name == "busybox").unwrap();
    assert_eq!(busybox.version, "1.36.1-r29");
    assert_eq!(busybox.installed_size, 929792);
    assert_eq!(busybox.depends, ["so:libc.musl-x86_64.so.1"]);
}
