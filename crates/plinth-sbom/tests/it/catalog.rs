//! The OS catalogers end to end: images built from tar layers, catalogued with
//! `catalog_fs`.

use plinth_oci::ImageFs;
use plinth_oci::testing::{TarItem as T, image_fs, tar_of as tar};
use plinth_sbom::{Package, PackageKind, catalog_fs, subject::fs_options};

fn image(layers: &[Vec<u8>]) -> ImageFs {
    image_fs(layers, &fs_options())
}

fn of_kind(packages: &[Package], kind: PackageKind) -> Vec<&Package> {
    packages.iter().filter(|p| p.kind() == kind).collect()
}

const BOOKWORM: &[u8] = b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"
NAME=\"Debian GNU/Linux\"
VERSION_ID=\"12\"
VERSION=\"12 (bookworm)\"
VERSION_CODENAME=bookworm
ID=debian
";

const STATUS: &[u8] = b"Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 341
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u11
Description: Debian base system miscellaneous files

Package: bash
Essential: yes
Status: install ok installed
Installed-Size: 7164
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Source: bash (5.2.15-2)
Version: 5.2.15-2+b8
Description: GNU Bourne Again SHell

Package: cron
Status: deinstall ok config-files
Architecture: amd64
Version: 3.0pl1-162
Description: process scheduling daemon

Package: libc6
Status: install ok installed
Installed-Size: 13001
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u14
Description: GNU C Library: Shared libraries
";

#[test]
fn dpkg_status_image() {
    let fs = image(&[
        tar(&[
            ("etc/os-release", T::File(BOOKWORM)),
            ("bin", T::Link("usr/bin")),
            ("lib", T::Link("usr/lib")),
            ("usr/bin/bash", T::File(b"#!not really")),
            ("usr/lib/x86_64-linux-gnu/libc.so.6", T::File(b"\x7fELF")),
            (
                "var/lib/dpkg/info/bash.list",
                T::File(b"/.\n/bin\n/bin/bash\n/usr/share/doc/bash/copyright\n"),
            ),
            (
                "var/lib/dpkg/info/libc6:amd64.list",
                T::File(b"/.\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n"),
            ),
        ]),
        tar(&[("var/lib/dpkg/status", T::File(STATUS))]),
    ]);
    let (distro, packages, warnings) = catalog_fs(&fs);
    assert!(warnings.is_empty(), "{warnings:?}");
    let distro = distro.unwrap();
    assert_eq!(distro.purl_qualifier(), "debian-12");
    let debs = of_kind(&packages, PackageKind::Deb);
    let names: Vec<&str> = debs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["base-files", "bash", "libc6"],
        "cron is not installed"
    );
    let bash = debs[1];
    assert_eq!(
        bash.purl,
        "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2"
    );
    assert_eq!(bash.files, ["usr/bin/bash"]);
    assert_eq!(bash.layer, Some(1));
    assert_eq!(bash.locations, ["var/lib/dpkg/status"]);
    assert_eq!(bash.source_version.as_deref(), Some("5.2.15-2"));
    let libc = debs[2];
    assert_eq!(libc.files, ["usr/lib/x86_64-linux-gnu/libc.so.6"]);
    assert_eq!(libc.source_or_name(), "glibc");
}

#[test]
fn distroless_status_d_image() {
    let os_release: &[u8] = b"PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\nVERSION_ID=\"12\"\nVERSION=\"Debian GNU/Linux 12 (bookworm)\"\n";
    let fs = image(&[
        tar(&[
            ("usr/lib/os-release", T::File(os_release)),
            ("etc/os-release", T::Link("../usr/lib/os-release")),
            (
                "var/lib/dpkg/status.d/tzdata",
                T::File(b"Package: tzdata\nVersion: 2025b-0+deb12u2\nArchitecture: all\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nInstalled-Size: 2565\n"),
            ),
            (
                "var/lib/dpkg/status.d/tzdata.md5sums",
                T::File(b"9b6dd6c8f8fd0e5c2d6c8a1e8f0ab0b1  usr/share/zoneinfo/UTC\n"),
            ),
            ("usr/share/zoneinfo/UTC", T::File(b"TZif2")),
        ]),
        tar(&[
            (
                "var/lib/dpkg/status.d/libssl3",
                T::File(b"Package: libssl3\nVersion: 3.0.20-1~deb12u2\nArchitecture: amd64\nSource: openssl\nMaintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>\n"),
            ),
            (
                "var/lib/dpkg/status.d/libssl3.md5sums",
                T::File(b"00112233445566778899aabbccddeeff  usr/lib/x86_64-linux-gnu/libssl.so.3\n"),
            ),
            ("usr/lib/x86_64-linux-gnu/libssl.so.3", T::File(b"\x7fELF")),
        ]),
    ]);
    let (distro, packages, warnings) = catalog_fs(&fs);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(distro.unwrap().pretty_name.as_deref(), Some("Distroless"));
    let debs = of_kind(&packages, PackageKind::Deb);
    assert_eq!(debs.len(), 2);
    let ssl = debs[0];
    assert_eq!(ssl.name, "libssl3");
    assert_eq!(
        ssl.purl,
        "pkg:deb/debian/libssl3@3.0.20-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"
    );
    assert_eq!(ssl.layer, Some(1));
    assert_eq!(ssl.locations, ["var/lib/dpkg/status.d/libssl3"]);
    assert_eq!(ssl.files, ["usr/lib/x86_64-linux-gnu/libssl.so.3"]);
    let tz = debs[1];
    assert_eq!(tz.layer, Some(0));
    assert_eq!(tz.files, ["usr/share/zoneinfo/UTC"]);
    assert_eq!(
        tz.purl,
        "pkg:deb/debian/tzdata@2025b-0%2Bdeb12u2?arch=all&distro=debian-12"
    );
}

#[test]
fn real_alpine_minirootfs() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/images/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    let gz = fs_err::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut fs = ImageFs::default();
    fs.apply_tar(0, flate2::read::GzDecoder::new(gz), "alpine", &fs_options())
        .unwrap();
    let (distro, packages, warnings) = catalog_fs(&fs);
    assert!(
        !warnings
            .iter()
            .any(|w| w.contains("apk") || w.contains("os-release")),
        "{warnings:?}"
    );
    let distro = distro.unwrap();
    assert_eq!(distro.id, "alpine");
    assert_eq!(distro.version_id.as_deref(), Some("3.20.3"));
    let apks = of_kind(&packages, PackageKind::Apk);
    assert_eq!(apks.len(), 14);
    let get = |n: &str| *apks.iter().find(|p| p.name == n).unwrap();
    let ssl = get("libssl3");
    assert_eq!(
        ssl.purl,
        "pkg:apk/alpine/libssl3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl"
    );
    assert_eq!(ssl.license.as_deref(), Some("Apache-2.0"));
    assert_eq!(ssl.locations, ["lib/apk/db/installed"]);
    assert_eq!(ssl.files, ["lib/libssl.so.3", "usr/lib/libssl.so.3"]);
    let busybox = get("busybox");
    assert_eq!(
        busybox.purl,
        "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3"
    );
    assert!(busybox.files.iter().any(|f| f == "bin/busybox"));
    assert!(of_kind(&packages, PackageKind::Deb).is_empty());
    assert!(of_kind(&packages, PackageKind::Rpm).is_empty());
}

/// Encodes an RPM header blob (string and INT32 tags).
fn header(tags: &[(u32, &[&str], &[u32])]) -> Vec<u8> {
    let mut index = Vec::new();
    let mut store = Vec::new();
    for (tag, strings, ints) in tags {
        let (ty, count) = if ints.is_empty() {
            (if strings.len() == 1 { 6u32 } else { 8 }, strings.len())
        } else {
            while store.len() % 4 != 0 {
                store.push(0);
            }
            (4, ints.len())
        };
        for v in [*tag, ty, store.len() as u32, count as u32] {
            index.extend_from_slice(&v.to_be_bytes());
        }
        for s in *strings {
            store.extend_from_slice(s.as_bytes());
            store.push(0);
        }
        for i in *ints {
            store.extend_from_slice(&i.to_be_bytes());
        }
    }
    let mut blob = Vec::new();
    blob.extend_from_slice(&(tags.len() as u32).to_be_bytes());
    blob.extend_from_slice(&(store.len() as u32).to_be_bytes());
    blob.extend_from_slice(&index);
    blob.extend_from_slice(&store);
    blob
}

#[test]
fn rpm_sqlite_image() {
    let blobs = [
        header(&[
            (1000, &["coreutils-single"], &[]),
            (1001, &["8.32"], &[]),
            (1002, &["35.el9"], &[]),
            (1014, &["GPLv3+"], &[]),
            (1022, &["x86_64"], &[]),
            (1044, &["coreutils-8.32-35.el9.src.rpm"], &[]),
            (1116, &[], &[0, 0]),
            (1117, &["coreutils", "ls"], &[]),
            (1118, &["/usr/bin/"], &[]),
        ]),
        header(&[
            (1000, &["openssl-libs"], &[]),
            (1001, &["3.0.7"], &[]),
            (1002, &["27.el9"], &[]),
            (1003, &[], &[1]),
            (1014, &["ASL 2.0"], &[]),
            (1022, &["x86_64"], &[]),
            (1044, &["openssl-3.0.7-27.el9.src.rpm"], &[]),
        ]),
        b"\x00\x00".to_vec(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("rpmdb.sqlite");
    {
        let conn = rusqlite::Connection::open(&db_path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .unwrap();
        for b in &blobs {
            conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [b])
                .unwrap();
        }
    }
    let db = fs_err::read(&db_path).unwrap();
    let os_release: &[u8] = b"NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.4 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.4 (Plow)\"\n";
    let fs = image(&[
        tar(&[
            ("etc/os-release", T::File(os_release)),
            ("usr/bin/coreutils", T::File(b"\x7fELF")),
            ("usr/bin/ls", T::Link("coreutils")),
        ]),
        tar(&[("var/lib/rpm/rpmdb.sqlite", T::File(&db))]),
    ]);
    let (distro, packages, warnings) = catalog_fs(&fs);
    assert_eq!(distro.unwrap().id_like, ["fedora"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("var/lib/rpm/rpmdb.sqlite: header 3: "),
        "{warnings:?}"
    );
    let rpms = of_kind(&packages, PackageKind::Rpm);
    assert_eq!(rpms.len(), 2);
    let core = rpms[0];
    assert_eq!(core.name, "coreutils-single");
    assert_eq!(core.version, "8.32-35.el9");
    assert_eq!(core.source_or_name(), "coreutils");
    assert_eq!(core.files, ["usr/bin/coreutils", "usr/bin/ls"]);
    assert_eq!(core.layer, Some(1));
    assert_eq!(
        core.purl,
        "pkg:rpm/redhat/coreutils-single@8.32-35.el9?arch=x86_64&distro=rhel-9.4&upstream=coreutils-8.32-35.el9.src.rpm"
    );
    let ssl = rpms[1];
    assert_eq!(ssl.version, "1:3.0.7-27.el9");
    assert!(ssl.purl.contains("&epoch=1&"), "{}", ssl.purl);
    assert_eq!(ssl.license.as_deref(), Some("ASL 2.0"));
}
