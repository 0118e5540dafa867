//! The language catalogers on crafted inputs: hand-built ELF files carrying Go build
//! information (both formats, with and without section headers) and cargo-auditable
//! data, Python and npm trees read through `ImageFs`, and random or truncated bytes fed
//! to every parser.

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use plinth_oci::ImageFs;
use plinth_sbom::catalog::{self, Cataloger, Context, Findings};
use plinth_sbom::{Package, PackageKind};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// A minimal ELF writer: one PT_LOAD (read-write) mapping the whole file at BASE, the given
// sections (16-aligned, addresses = BASE + offset), `.shstrtab`, and section headers
// unless `strip` is set.

const BASE: u64 = 0x40_0000;

struct Elf {
    is64: bool,
    big: bool,
}

impl Elf {
    fn ehsize(&self) -> usize {
        if self.is64 { 64 } else { 52 }
    }
    fn phentsize(&self) -> usize {
        if self.is64 { 56 } else { 32 }
    }
    fn shentsize(&self) -> usize {
        if self.is64 { 64 } else { 40 }
    }
    /// The address of the first section's data.
    fn first_section_addr(&self) -> u64 {
        BASE + align16(self.ehsize() + self.phentsize()) as u64
    }
    fn u16(&self, out: &mut Vec<u8>, v: u16) {
        out.extend(if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    fn u32(&self, out: &mut Vec<u8>, v: u32) {
        out.extend(if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    fn word(&self, out: &mut Vec<u8>, v: u64) {
        if self.is64 {
            out.extend(if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        } else {
            self.u32(out, v as u32);
        }
    }
    /// A pointer-sized value in this file's byte order.
    fn ptr(&self, v: u64) -> Vec<u8> {
        let mut b = Vec::new();
        self.word(&mut b, v);
        b
    }

    fn build(&self, sections: &[(&str, Vec<u8>)], strip: bool) -> Vec<u8> {
        let mut body = vec![0u8; align16(self.ehsize() + self.phentsize())];
        let mut placed = Vec::new(); // (name offset, data offset, size)
        let mut shstrtab = vec![0u8];
        for (name, data) in sections {
            body.resize(align16(body.len()), 0);
            placed.push((shstrtab.len() as u32, body.len(), data.len()));
            shstrtab.extend(name.as_bytes());
            shstrtab.push(0);
            body.extend(data);
        }
        let shstr_name = shstrtab.len() as u32;
        shstrtab.extend(b".shstrtab\0");
        let shstr_off = body.len();
        body.extend(&shstrtab);
        body.resize(align16(body.len()), 0);
        let shoff = body.len();
        let shnum = sections.len() + 2;
        let total = shoff + shnum * self.shentsize();

        // ELF header
        let mut h = vec![0x7f, b'E', b'L', b'F'];
        h.push(if self.is64 { 2 } else { 1 });
        h.push(if self.big { 2 } else { 1 });
        h.push(1);
        h.resize(16, 0);
        self.u16(&mut h, 2); // ET_EXEC
        self.u16(&mut h, if self.is64 { 62 } else { 20 }); // x86-64 / PowerPC
        self.u32(&mut h, 1);
        self.word(&mut h, BASE); // entry
        self.word(&mut h, self.ehsize() as u64); // phoff
        self.word(&mut h, if strip { 0 } else { shoff as u64 });
        self.u32(&mut h, 0);
        self.u16(&mut h, self.ehsize() as u16);
        self.u16(&mut h, self.phentsize() as u16);
        self.u16(&mut h, 1);
        self.u16(&mut h, self.shentsize() as u16);
        self.u16(&mut h, if strip { 0 } else { shnum as u16 });
        self.u16(&mut h, if strip { 0 } else { shnum as u16 - 1 });
        // PT_LOAD, RW, the whole file
        let (pt_load, rw) = (1u32, 6u32);
        if self.is64 {
            self.u32(&mut h, pt_load);
            self.u32(&mut h, rw);
            for v in [0, BASE, BASE, total as u64, total as u64, 0x1000] {
                self.word(&mut h, v);
            }
        } else {
            self.u32(&mut h, pt_load);
            for v in [0, BASE, BASE, total as u64, total as u64] {
                self.word(&mut h, v);
            }
            self.u32(&mut h, rw);
            self.word(&mut h, 0x1000);
        }
        body[..h.len()].copy_from_slice(&h);

        if !strip {
            body.extend(vec![0u8; self.shentsize()]); // the null section
            let mut sh = |name: u32, ty: u32, flags: u64, off: usize, size: usize| {
                let mut s = Vec::new();
                self.u32(&mut s, name);
                self.u32(&mut s, ty);
                self.word(&mut s, flags);
                self.word(&mut s, if flags & 2 != 0 { BASE + off as u64 } else { 0 });
                self.word(&mut s, off as u64);
                self.word(&mut s, size as u64);
                self.u32(&mut s, 0);
                self.u32(&mut s, 0);
                self.word(&mut s, 16);
                self.word(&mut s, 0);
                body.extend(s);
            };
            for (name, off, size) in placed {
                sh(name, 1, 3, off, size); // PROGBITS, WRITE|ALLOC
            }
            sh(shstr_name, 3, 0, shstr_off, shstrtab.len());
        } else {
            body.truncate(shoff);
            // Keep the PT_LOAD's file size in range: pad to the declared total.
            body.resize(total, 0);
        }
        assert_eq!(body.len(), total);
        body
    }
}

fn align16(n: usize) -> usize {
    (n + 15) & !15
}

const INFO_START: &[u8; 16] = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6";
const INFO_END: &[u8; 16] = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2";

const MODINFO: &str = "path\texample.com/app/cmd/app\n\
mod\texample.com/app\tv1.2.3\th1:main=\n\
dep\tgithub.com/google/uuid\tv1.6.0\th1:uuid=\n\
dep\texample.com/lib\tv0.1.0\n\
=>\texample.com/fork/lib\tv0.1.1\th1:fork=\n\
build\t-ldflags=\"-s -w\"\n\
build\tGOARCH=arm64\n\
build\tGOOS=linux\n";

fn framed(text: &str) -> Vec<u8> {
    let mut m = INFO_START.to_vec();
    m.extend(text.as_bytes());
    m.extend(INFO_END);
    m
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A Go 1.18+ `.go.buildinfo` (inline strings).
fn inline_buildinfo(version: &str, modinfo: &[u8]) -> Vec<u8> {
    let mut b = b"\xff Go buildinf:".to_vec();
    b.push(8);
    b.push(2);
    b.resize(32, 0);
    varint(version.len() as u64, &mut b);
    b.extend(version.as_bytes());
    varint(modinfo.len() as u64, &mut b);
    b.extend(modinfo);
    b
}

/// A Go 1.13–1.17 `.go.buildinfo` (pointers to string headers), for a section or
/// segment blob that will sit at address `addr`.
fn pointer_buildinfo(elf: &Elf, addr: u64, version: &str, modinfo: &[u8]) -> Vec<u8> {
    let p = if elf.is64 { 8 } else { 4 };
    let hdrs = addr + 32;
    let vers_data = hdrs + 4 * p;
    let mod_data = vers_data + version.len() as u64;
    let mut b = b"\xff Go buildinf:".to_vec();
    b.push(p as u8);
    b.push(u8::from(elf.big));
    b.extend(elf.ptr(hdrs));
    b.extend(elf.ptr(hdrs + 2 * p));
    b.resize(32, 0);
    b.extend(elf.ptr(vers_data));
    b.extend(elf.ptr(version.len() as u64));
    b.extend(elf.ptr(mod_data));
    b.extend(elf.ptr(modinfo.len() as u64));
    b.extend(version.as_bytes());
    b.extend(modinfo);
    b
}

fn purls(pkgs: &[Package]) -> Vec<&str> {
    pkgs.iter().map(|p| p.purl.as_str()).collect()
}

const EXPECTED_GO: [&str; 4] = [
    "pkg:golang/example.com/app@v1.2.3",
    "pkg:golang/github.com/google/uuid@v1.6.0",
    "pkg:golang/example.com/fork/lib@v0.1.1",
    "pkg:golang/stdlib@1.16.15",
];

fn go_elf_inline() -> Vec<u8> {
    let elf = Elf {
        is64: true,
        big: false,
    };
    elf.build(
        &[(
            ".go.buildinfo",
            inline_buildinfo("go1.16.15", &framed(MODINFO)),
        )],
        false,
    )
}

#[test]
fn go_inline_format_in_a_section() {
    let pkgs = catalog::golang::parse_elf(&go_elf_inline()).unwrap();
    assert_eq!(purls(&pkgs), EXPECTED_GO);
    let stdlib = &pkgs[3];
    assert_eq!(
        (stdlib.name.as_str(), stdlib.version.as_str()),
        ("stdlib", "go1.16.15")
    );
    assert_eq!(pkgs[0].metadata["go.main"], "example.com/app");
    assert_eq!(pkgs[0].metadata["go.toolchain"], "go1.16.15");
    assert_eq!(pkgs[1].metadata["go.h1digest"], "h1:uuid=");
    assert_eq!(pkgs[1].arch.as_deref(), Some("arm64"));
    assert!(pkgs.iter().all(|p| p.kind == Some(PackageKind::Go)));
    // Not a cargo-auditable binary.
    assert_eq!(catalog::rust::parse_elf(&go_elf_inline()), Ok(vec![]));
}

#[test]
fn go_pointer_format_both_byte_orders_and_sizes() {
    for (is64, big) in [(true, false), (false, true), (false, false), (true, true)] {
        let elf = Elf { is64, big };
        let blob = pointer_buildinfo(
            &elf,
            elf.first_section_addr(),
            "go1.16.15",
            &framed(MODINFO),
        );
        let bytes = elf.build(&[(".go.buildinfo", blob)], false);
        let pkgs = catalog::golang::parse_elf(&bytes).unwrap();
        assert_eq!(purls(&pkgs), EXPECTED_GO, "is64={is64} big={big}");
    }
}

#[test]
fn go_without_section_headers_is_found_in_the_writable_segment() {
    let elf = Elf {
        is64: true,
        big: false,
    };
    // Some data before the blob, keeping it 16-aligned, as the linker does.
    let mut seg = vec![0u8; 48];
    seg[3] = 0xff; // a stray 0xff that is not the magic
    seg.extend(inline_buildinfo("go1.16.15", &framed(MODINFO)));
    let bytes = elf.build(&[(".data", seg)], true);
    assert_eq!(
        purls(&catalog::golang::parse_elf(&bytes).unwrap()),
        EXPECTED_GO
    );

    let addr = elf.first_section_addr();
    let blob = pointer_buildinfo(&elf, addr, "go1.16.15", &framed(MODINFO));
    let bytes = elf.build(&[(".data", blob)], true);
    assert_eq!(
        purls(&catalog::golang::parse_elf(&bytes).unwrap()),
        EXPECTED_GO
    );
}

#[test]
fn go_without_module_information_reports_stdlib_only() {
    let elf = Elf {
        is64: true,
        big: false,
    };
    let bytes = elf.build(
        &[(".go.buildinfo", inline_buildinfo("go1.22.5", b""))],
        false,
    );
    assert_eq!(
        purls(&catalog::golang::parse_elf(&bytes).unwrap()),
        ["pkg:golang/stdlib@1.22.5"]
    );
}

#[test]
fn non_go_elf_and_bad_blobs() {
    let elf = Elf {
        is64: true,
        big: false,
    };
    let plain = elf.build(&[(".text", vec![0xc3; 10])], false);
    assert_eq!(catalog::golang::parse_elf(&plain), Ok(vec![]));
    assert_eq!(catalog::rust::parse_elf(&plain), Ok(vec![]));
    assert!(catalog::golang::parse_elf(b"\x7fELF\x02\x01").is_err());
    assert!(catalog::golang::parse_elf(b"#!/bin/sh\n").is_err());

    // A varint length that overflows 64 bits.
    let mut blob = b"\xff Go buildinf:\x08\x02".to_vec();
    blob.resize(32, 0);
    blob.extend([0xff; 12]);
    let bytes = elf.build(&[(".go.buildinfo", blob)], false);
    assert!(catalog::golang::parse_elf(&bytes).is_err());

    // A declared length far past the end.
    let mut blob = b"\xff Go buildinf:\x08\x02".to_vec();
    blob.resize(32, 0);
    varint(1 << 40, &mut blob);
    blob.extend(b"go1");
    let bytes = elf.build(&[(".go.buildinfo", blob)], false);
    assert!(catalog::golang::parse_elf(&bytes).is_err());

    // Pointers to nowhere, and a string header claiming 2^60 bytes.
    let addr = elf.first_section_addr();
    let mut blob = b"\xff Go buildinf:\x08\x00".to_vec();
    blob.extend(elf.ptr(0xdead_beef_0000));
    blob.extend(elf.ptr(addr + 32));
    blob.resize(32, 0);
    blob.extend(elf.ptr(addr));
    blob.extend(elf.ptr(1 << 60));
    let bytes = elf.build(&[(".go.buildinfo", blob)], false);
    assert!(catalog::golang::parse_elf(&bytes).is_err());
}

// ---------------------------------------------------------------------------------------
// cargo-auditable

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

const AUDIT_JSON: &str = r#"{"packages":[
 {"name":"probe","version":"0.3.1","source":"local","dependencies":[1,2],"root":true},
 {"name":"itoa","version":"1.0.19","source":"crates.io"},
 {"name":"autocfg","version":"1.4.0","source":"crates.io","kind":"build"}]}"#;

fn rust_elf() -> Vec<u8> {
    Elf {
        is64: true,
        big: false,
    }
    .build(
        &[
            (".text", vec![0xc3; 8]),
            (".dep-v0", zlib(AUDIT_JSON.as_bytes())),
        ],
        false,
    )
}

#[test]
fn cargo_auditable_section() {
    let pkgs = catalog::rust::parse_elf(&rust_elf()).unwrap();
    assert_eq!(
        purls(&pkgs),
        [
            "pkg:cargo/probe@0.3.1",
            "pkg:cargo/itoa@1.0.19",
            "pkg:cargo/autocfg@1.4.0"
        ]
    );
    assert_eq!(pkgs[2].metadata["cargo.kind"], "build");
    assert_eq!(pkgs[0].metadata["cargo.root"], "true");
    assert!(pkgs.iter().all(|p| p.kind == Some(PackageKind::Cargo)));
    assert_eq!(catalog::golang::parse_elf(&rust_elf()), Ok(vec![]));

    // Garbage in the section is an error, not a panic.
    let bad = Elf {
        is64: true,
        big: false,
    }
    .build(&[(".dep-v0", b"not zlib".to_vec())], false);
    assert!(catalog::rust::parse_elf(&bad).is_err());
}

#[test]
fn huge_declared_section_size_is_an_error() {
    let mut bytes = rust_elf();
    // Section headers: after the data; the .dep-v0 header is the third (null, .text, .dep-v0).
    let shoff = u64::from_le_bytes(bytes[0x28..0x30].try_into().unwrap()) as usize;
    let size_at = shoff + 2 * 64 + 32;
    bytes[size_at..size_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(catalog::rust::parse_elf(&bytes).is_err());
}

// ---------------------------------------------------------------------------------------
// Catalogers over a root filesystem

fn put(root: &Path, rel: &str, data: &[u8], mode: u32) {
    let p = root.join(rel);
    fs_err::create_dir_all(p.parent().unwrap()).unwrap();
    fs_err::write(&p, data).unwrap();
    fs_err::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn run(fs: &ImageFs, owned: &HashSet<String>, c: &dyn Cataloger) -> Findings {
    let cx = Context {
        fs,
        distro: None,
        owned,
    };
    let mut out = Findings::default();
    c.catalog(&cx, &mut out);
    out
}

#[test]
fn catalogers_over_a_root_filesystem() {
    let t = tempfile::tempdir().unwrap();
    let r = &t.path();
    put(r, "usr/local/bin/goapp", &go_elf_inline(), 0o755);
    put(r, "usr/bin/debian-go", &go_elf_inline(), 0o755);
    put(r, "usr/local/bin/rustapp", &rust_elf(), 0o755);
    // An ELF the reader does not keep (not executable), and a script.
    put(r, "opt/lib.so.data", &go_elf_inline(), 0o644);
    put(r, "usr/local/bin/tool.sh", b"#!/bin/sh\n", 0o755);
    // A truncated ELF: one warning, from the Go cataloger only.
    put(r, "usr/local/bin/truncated", &go_elf_inline()[..40], 0o755);

    let sp = "usr/local/lib/python3.11/site-packages";
    put(
        r,
        &format!("{sp}/Flask_Login-0.6.3.dist-info/METADATA"),
        b"Metadata-Version: 2.1\nName: Flask_Login\nVersion: 0.6.3\nLicense: MIT\n\nbody\n",
        0o644,
    );
    put(
        r,
        &format!("{sp}/Flask_Login-0.6.3.dist-info/RECORD"),
        b"flask_login/__init__.py,sha256=x,10\nFlask_Login-0.6.3.dist-info/METADATA,,\n",
        0o644,
    );
    put(
        r,
        &format!("{sp}/legacy-1.0-py3.11.egg-info/PKG-INFO"),
        b"Metadata-Version: 1.0\nName: legacy\nVersion: 1.0\nLicense: UNKNOWN\n",
        0o644,
    );
    put(
        r,
        &format!("{sp}/legacy-1.0-py3.11.egg-info/installed-files.txt"),
        b"../legacy/__init__.py\nPKG-INFO\n",
        0o644,
    );
    put(
        r,
        &format!("{sp}/single-2.0-py3.11.egg-info"),
        b"Metadata-Version: 1.1\nName: single\nVersion: 2.0\n",
        0o644,
    );
    let deb = "usr/lib/python3/dist-packages/six-1.16.0.dist-info";
    put(
        r,
        &format!("{deb}/METADATA"),
        b"Name: six\nVersion: 1.16.0\n",
        0o644,
    );
    put(
        r,
        &format!("{sp}/broken.dist-info/METADATA"),
        b"Name: x\n",
        0o644,
    );

    let nm = "app/node_modules";
    put(
        r,
        "app/package.json",
        br#"{"name":"my-app","version":"1.0.0","private":true}"#,
        0o644,
    );
    put(
        r,
        &format!("{nm}/express/package.json"),
        br#"{"name":"express","version":"4.21.2","license":"MIT"}"#,
        0o644,
    );
    put(
        r,
        &format!("{nm}/express/lib/package.json"),
        br#"{"name":"inner","version":"0.0.1"}"#,
        0o644,
    );
    put(
        r,
        &format!("{nm}/@babel/core/package.json"),
        br#"{"name":"@babel/core","version":"7.26.0","license":{"type":"MIT"}}"#,
        0o644,
    );
    put(
        r,
        &format!("{nm}/@babel/core/node_modules/semver/package.json"),
        br#"{"name":"semver","version":"6.3.1","license":"ISC"}"#,
        0o644,
    );
    put(
        r,
        &format!("{nm}/esm-only/package.json"),
        br#"{"type":"module"}"#,
        0o644,
    );
    put(r, &format!("{nm}/bad/package.json"), b"{nope", 0o644);
    put(
        r,
        "srv/package.json",
        br#"{"name":"no-modules","version":"1.0.0"}"#,
        0o644,
    );

    let fs = ImageFs::from_dir(r, &plinth_sbom::subject::fs_options()).unwrap();
    let owned: HashSet<String> = [
        "usr/bin/debian-go".to_string(),
        format!("{deb}/METADATA"),
        deb.to_string(),
    ]
    .into_iter()
    .collect();

    let go = run(&fs, &owned, &catalog::golang::GoBinaries);
    assert_eq!(purls(&go.packages), EXPECTED_GO);
    assert!(
        go.packages
            .iter()
            .all(|p| p.locations == ["usr/local/bin/goapp"])
    );
    assert!(go.packages.iter().all(|p| p.layer == Some(0)));
    assert_eq!(go.warnings.len(), 1, "{:?}", go.warnings);
    assert!(go.warnings[0].contains("usr/local/bin/truncated"));

    let rust = run(&fs, &owned, &catalog::rust::CargoAuditable);
    assert_eq!(rust.packages.len(), 3);
    assert!(rust.warnings.is_empty(), "{:?}", rust.warnings);
    assert!(
        rust.packages
            .iter()
            .all(|p| p.locations == ["usr/local/bin/rustapp"])
    );

    let py = run(&fs, &owned, &catalog::python::Python);
    let got: Vec<(&str, &str, Option<&str>)> = py
        .packages
        .iter()
        .map(|p| {
            (
                p.purl.as_str(),
                p.locations[0].as_str(),
                p.license.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "pkg:pypi/flask-login@0.6.3",
                "usr/local/lib/python3.11/site-packages/Flask_Login-0.6.3.dist-info/METADATA",
                Some("MIT")
            ),
            (
                "pkg:pypi/legacy@1.0",
                "usr/local/lib/python3.11/site-packages/legacy-1.0-py3.11.egg-info/PKG-INFO",
                None
            ),
            (
                "pkg:pypi/single@2.0",
                "usr/local/lib/python3.11/site-packages/single-2.0-py3.11.egg-info",
                None
            ),
        ]
    );
    assert_eq!(
        py.packages[0].files,
        [
            format!("{sp}/Flask_Login-0.6.3.dist-info/METADATA"),
            format!("{sp}/flask_login/__init__.py"),
        ]
    );
    assert_eq!(
        py.packages[1].files,
        [
            format!("{sp}/legacy-1.0-py3.11.egg-info/PKG-INFO"),
            format!("{sp}/legacy/__init__.py"),
        ]
    );
    assert_eq!(py.warnings.len(), 1, "{:?}", py.warnings);
    assert!(py.warnings[0].contains("broken.dist-info"));

    let npm = run(&fs, &owned, &catalog::npm::Npm);
    let got: Vec<(&str, Option<&str>)> = npm
        .packages
        .iter()
        .map(|p| (p.purl.as_str(), p.license.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("pkg:npm/semver@6.3.1", Some("ISC")),
            ("pkg:npm/%40babel/core@7.26.0", Some("MIT")),
            ("pkg:npm/express@4.21.2", Some("MIT")),
            ("pkg:npm/my-app@1.0.0", None),
        ]
    );
    assert_eq!(npm.warnings.len(), 1, "{:?}", npm.warnings);
    assert!(npm.warnings[0].contains("bad/package.json"));
}

// ---------------------------------------------------------------------------------------
// No input makes a parser panic.

fn all_parsers(data: &[u8]) {
    let _ = catalog::golang::parse_elf(data);
    let _ = catalog::golang::read_buildinfo(data);
    let _ = catalog::golang::parse_modinfo(&String::from_utf8_lossy(data));
    let _ = catalog::rust::parse_elf(data);
    let _ = catalog::rust::parse_dep_v0(data);
    let _ = catalog::rust::parse_json(data);
    let _ = catalog::python::parse_metadata(data);
    let _ = catalog::python::parse_record(data, "a/b");
    let _ = catalog::python::parse_installed_files(data, "a");
    let _ = catalog::npm::parse_package_json(data);
}

fn valid_inputs() -> Vec<Vec<u8>> {
    let elf32 = Elf {
        is64: false,
        big: true,
    };
    let addr = elf32.first_section_addr();
    vec![
        go_elf_inline(),
        elf32.build(
            &[(
                ".go.buildinfo",
                pointer_buildinfo(&elf32, addr, "go1.16.15", &framed(MODINFO)),
            )],
            false,
        ),
        Elf {
            is64: true,
            big: false,
        }
        .build(
            &[(".data", inline_buildinfo("go1.16.15", &framed(MODINFO)))],
            true,
        ),
        rust_elf(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        all_parsers(&data);
        let mut elf = b"\x7fELF".to_vec();
        elf.extend(&data);
        all_parsers(&elf);
    }

    #[test]
    fn truncated_and_mutated_elves_never_panic(
        which in 0usize..4,
        cut in any::<proptest::sample::Index>(),
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let mut data = valid_inputs().swap_remove(which);
        for (at, v) in flips {
            let i = at.index(data.len());
            data[i] = v;
        }
        all_parsers(&data);
        let n = cut.index(data.len() + 1);
        all_parsers(&data[..n]);
    }

    #[test]
    fn random_text_never_panics(s in "(path|mod|dep|=>|build|Name|Version|License)?[\\t: =\"\\\\a-z0-9.\\n]{0,200}") {
        all_parsers(s.as_bytes());
        let pkgs = catalog::golang::packages(&catalog::golang::BuildInfo {
            go_version: "go1.22.5".into(),
            modinfo: catalog::golang::parse_modinfo(&s),
        });
        prop_assert!(!pkgs.is_empty());
    }
}
