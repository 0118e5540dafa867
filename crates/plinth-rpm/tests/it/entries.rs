//! `Package::verified_entries` on the signed test repository in the tree
//! (`tests/data/repos/rpm-test`, synthetic packages made by its `make.sh`): what rpm
//! would install, with the header's modes, owner names, symlinks and hard links.

use std::path::PathBuf;

use plinth_rpm::keys::Keyring;
use plinth_rpm::package::{Expected, FileEntry, FileKind, Package};
use plinth_rpm::primary;
use plinth_rpm::repomd;
use plinth_rpm::resolve::Universe;

use crate::support::NOW;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/repos/rpm-test")
}

fn entries(name: &str) -> Vec<FileEntry> {
    let ring = Keyring::load(&repo().join("RPM-GPG-KEY-plinth-test")).unwrap();
    let v = repomd::verify_dir(&repo(), &ring, NOW).unwrap();
    let pkgs = primary::read(&repo(), v.repomd.entry("primary").unwrap()).unwrap();
    let p = pkgs.iter().find(|p| p.name == name).unwrap();
    let c = p.checksum.clone().unwrap();
    let expected = Expected {
        algorithm: c.algorithm,
        value: c.value,
        size: Some(p.size),
    };
    let pkg = Package::open(&repo().join(&p.location)).unwrap();
    pkg.verified_entries(&ring, Some(&expected)).unwrap().1
}

fn find<'a>(e: &'a [FileEntry], path: &str) -> &'a FileEntry {
    e.iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} in {e:?}"))
}

#[test]
fn the_micro_set_resolves_in_the_test_repository() {
    let ring = Keyring::load(&repo().join("RPM-GPG-KEY-plinth-test")).unwrap();
    let v = repomd::verify_dir(&repo(), &ring, NOW).unwrap();
    let pkgs = primary::read(&repo(), v.repomd.entry("primary").unwrap()).unwrap();
    let u = Universe::new(&pkgs, "x86_64");
    let names: Vec<&str> = u
        .resolve(&["system-release", "filesystem", "setup", "glibc"])
        .unwrap()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["filesystem", "glibc", "plinth-test-release", "setup"]
    );
}

#[test]
fn hard_links_symlinks_and_ghosts_as_rpm_installs_them() {
    let e = entries("glibc");
    let libc = find(&e, "usr/lib64/libc-2.28.so");
    assert_eq!(libc.kind, FileKind::File(b"synthetic libc 2.28\n".to_vec()));
    assert_eq!(
        find(&e, "usr/lib64/libc.so.6").kind,
        FileKind::Hardlink("usr/lib64/libc-2.28.so".into())
    );
    assert_eq!(
        find(&e, "usr/lib64/ld-linux-x86-64.so.2").kind,
        FileKind::Symlink("ld-2.28.so".into())
    );
    assert_eq!(find(&e, "usr/sbin/ldconfig").mode, 0o755);
    // %ghost /etc/ld.so.cache is listed in the header but not installed.
    assert!(!e.iter().any(|f| f.path == "etc/ld.so.cache"));
}

#[test]
fn modes_and_owner_names_come_from_the_header() {
    let e = entries("plinth-hello");
    let bin = find(&e, "usr/bin/plinth-hello");
    assert_eq!((bin.mode, bin.user.as_str()), (0o4755, "root"));
    let dir = find(&e, "var/lib/plinth-hello");
    assert_eq!(dir.kind, FileKind::Dir);
    assert_eq!(
        (dir.mode, dir.user.as_str(), dir.group.as_str()),
        (0o750, "plinthsvc", "plinthsvc")
    );
    let state = find(&e, "var/lib/plinth-hello/state");
    assert_eq!((state.mode, state.group.as_str()), (0o640, "daemon"));
    let fs = entries("filesystem");
    assert_eq!(find(&fs, "tmp").mode, 0o1777);
    assert_eq!(find(&fs, "bin").kind, FileKind::Symlink("usr/bin".into()));
}
