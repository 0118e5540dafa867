//! The apk cataloger: Alpine packages from `/lib/apk/db/installed`.
//!
//! The database is a list of blocks separated by blank lines, one `X:value` line per
//! field: `P` name, `V` version, `A` arch, `o` origin (the source package), `L` licence,
//! `m` maintainer, `c` aports commit, `I` installed size, `T` description; `F:` names a
//! directory and the `R:` lines after it the files in it. Every package in the file is
//! installed (apk keeps no records of removed ones).

use std::collections::BTreeMap;

use super::os::{Problems, owned_files, path_budget, read_db};
use super::{Cataloger, Context, Findings};
use crate::model::{Distro, Package, PackageKind};
use crate::purl;

/// The apk database.
pub const INSTALLED: &str = "lib/apk/db/installed";
/// Where it is on a merged-`/usr` system.
const INSTALLED_USR: &str = "usr/lib/apk/db/installed";

/// The Alpine cataloger: reads the apk database (`lib/apk/db/installed`).
#[derive(Debug)]
pub struct Apk;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(path: &str) -> bool {
    path == INSTALLED || path == INSTALLED_USR
}

/// One package block of the apk database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApkEntry {
    /// `P`
    pub name: String,
    /// `V`
    pub version: String,
    /// `A`
    pub arch: Option<String>,
    /// `o`: the aport the package was built from.
    pub origin: Option<String>,
    /// `L`: an SPDX expression in current Alpine.
    pub license: Option<String>,
    /// `m`
    pub maintainer: Option<String>,
    /// `c`: the aports commit.
    pub commit: Option<String>,
    /// `I`: bytes.
    pub installed_size: Option<String>,
    /// `F` + `R`: the files (not directories) the package installed, no leading `/`.
    pub files: Vec<String>,
    /// The 1-based line the block starts on.
    pub line: usize,
}

impl ApkEntry {
    /// The package URL, as syft writes it: namespace the distro's ID (`alpine` without
    /// one), `upstream=ORIGIN` when the origin is another name, `distro=alpine-3.20.3`.
    pub fn purl(&self, distro: Option<&Distro>) -> String {
        let namespace = distro.map_or_else(|| "alpine".to_string(), |d| d.id.to_lowercase());
        let upstream = self
            .origin
            .as_deref()
            .filter(|o| *o != self.name)
            .unwrap_or_default();
        let distro_q = distro.map(Distro::purl_qualifier).unwrap_or_default();
        purl::purl(
            "apk",
            Some(&namespace),
            &self.name,
            &self.version,
            &[
                ("arch", self.arch.as_deref().unwrap_or_default()),
                ("upstream", upstream),
                ("distro", &distro_q),
            ],
        )
    }

    /// The package, found at `location`; `layer` and `files` are left for the caller.
    pub fn to_package(&self, distro: Option<&Distro>, location: &str) -> Package {
        let mut metadata = BTreeMap::new();
        for (k, v) in [
            ("maintainer", &self.maintainer),
            ("commit", &self.commit),
            ("installed-size", &self.installed_size),
        ] {
            if let Some(v) = v {
                metadata.insert(k.to_string(), v.clone());
            }
        }
        Package {
            kind: Some(PackageKind::Apk),
            name: self.name.clone(),
            version: self.version.clone(),
            source_name: self.origin.clone(),
            source_version: None,
            arch: self.arch.clone(),
            license: self.license.clone(),
            layer: None,
            locations: vec![location.to_string()],
            files: Vec::new(),
            purl: self.purl(distro),
            metadata,
        }
    }
}

/// Longest file path kept (Linux's `PATH_MAX`).
const MAX_PATH: usize = 4096;

/// Parses an apk `installed` database.
///
/// A block without `P` or `V`, or with two of either (two packages run together when a
/// blank line is lost), is skipped with a warning naming its line; a line that is not
/// `X:value` is skipped with a warning. Never panics; time and memory are linear in the
/// input (the file paths built from `F:` and `R:` are capped in total).
pub fn parse(data: &[u8]) -> (Vec<ApkEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut problems = Problems::default();
    let mut budget = path_budget(data.len());
    let mut budget_spent = false;
    let mut block = Block::default();
    let lines = data.split(|&b| b == b'\n');
    for (i, raw) in lines.enumerate() {
        let n = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            block.finish(&mut entries, &mut problems);
            continue;
        }
        if block.line == 0 {
            block.line = n;
        }
        if raw.len() < 2 || raw[1] != b':' || !raw[0].is_ascii_graphic() {
            problems.push(|| format!("line {n}: not a `X:value` line; skipped"));
            continue;
        }
        let key = raw[0];
        let value = String::from_utf8_lossy(&raw[2..]).trim().to_string();
        let e = &mut block.entry;
        let slot = match key {
            b'P' => &mut e.name_opt,
            b'V' => &mut e.version_opt,
            b'A' => &mut e.inner.arch,
            b'o' => &mut e.inner.origin,
            b'L' => &mut e.inner.license,
            b'm' => &mut e.inner.maintainer,
            b'c' => &mut e.inner.commit,
            b'I' => &mut e.inner.installed_size,
            b'F' => {
                block.dir = value.trim_matches('/').to_string();
                continue;
            }
            b'R' => {
                if value.is_empty() {
                    continue;
                }
                let path = if block.dir.is_empty() {
                    value
                } else {
                    format!("{}/{value}", block.dir)
                };
                if path.len() > MAX_PATH {
                    problems.push(|| format!("line {n}: file path over {MAX_PATH} bytes; skipped"));
                } else if path.len() > budget {
                    if !budget_spent {
                        budget_spent = true;
                        problems.push(|| {
                            format!("line {n}: the file lists add up to far more than the database's size; the rest are not recorded")
                        });
                    }
                } else {
                    budget -= path.len();
                    e.inner.files.push(path);
                }
                continue;
            }
            _ => continue, // checksums, dependencies, sizes, …: not needed here
        };
        if slot.is_some() {
            let k = key as char;
            problems.push(|| format!("line {n}: second `{k}:` line in one block"));
            if matches!(key, b'P' | b'V') {
                block.broken = true;
            }
            continue;
        }
        if !value.is_empty() {
            *slot = Some(value);
        }
    }
    block.finish(&mut entries, &mut problems);
    (entries, problems.finish())
}

/// The block being read.
#[derive(Default)]
struct Block {
    entry: Draft,
    /// The current `F:` directory.
    dir: String,
    line: usize,
    broken: bool,
}

#[derive(Default)]
struct Draft {
    name_opt: Option<String>,
    version_opt: Option<String>,
    inner: ApkEntry,
}

impl Block {
    fn finish(&mut self, out: &mut Vec<ApkEntry>, problems: &mut Problems) {
        let b = std::mem::take(self);
        if b.line == 0 {
            return;
        }
        let line = b.line;
        let name = b.entry.name_opt;
        let label = name.as_deref().unwrap_or("(no P: line)").to_string();
        if b.broken {
            problems.push(|| format!("line {line}: block {label} has two names or versions (a missing blank line?); skipped"));
            return;
        }
        let Some(name) = name else {
            problems.push(|| format!("line {line}: block without a `P:` (name) line skipped"));
            return;
        };
        let Some(version) = b.entry.version_opt else {
            problems.push(|| {
                format!("line {line}: package {name} has no `V:` (version) line; skipped")
            });
            return;
        };
        out.push(ApkEntry {
            name,
            version,
            line,
            ..b.entry.inner
        });
    }
}

impl Cataloger for Apk {
    fn name(&self) -> &'static str {
        "apk"
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Findings) {
        let fs = cx.fs;
        let db = read_db(fs, INSTALLED, &mut out.warnings)
            .or_else(|| read_db(fs, INSTALLED_USR, &mut out.warnings));
        let Some(db) = db else { return };
        let (entries, warnings) = parse(db.data);
        out.warnings
            .extend(warnings.into_iter().map(|w| format!("{}: {w}", db.path)));
        for e in entries {
            let mut p = e.to_package(cx.distro, &db.path);
            p.layer = db.layer;
            p.files = owned_files(fs, e.files);
            out.packages.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::os::testing::{T, image};
    use super::*;
    use crate::catalog::{Context, Findings};
    use proptest::prelude::*;
    use std::collections::HashSet;
    use std::io::Read;

    /// Two real blocks of Alpine 3.20.3's database.
    const EXCERPT: &str = r#"C:Q1+BBSqExeECj+TbSOlMlKsagmqJg=
P:libssl3
V:3.3.2-r0
A:x86_64
S:357545
I:815104
T:SSL shared libraries
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1725386997
c:f81b26d0708cf0a8149e2caf8e5bc3e7fda1225b
D:libcrypto3=3.3.2-r0 so:libc.musl-x86_64.so.1 so:libcrypto.so.3
p:so:libssl.so.3=3
r:openssl
F:lib
R:libssl.so.3
a:0:0:755
Z:Q1EpCYy/t/OHocVaRa3+kkvdACdXw=
F:usr
F:usr/lib
R:libssl.so.3
a:0:0:777
Z:Q1oMqe3ENWHl40WtquaRE6llAmBfU=

C:Q1PS2iNeHDH3BF6TgqSMu/pcc3XIY=
P:musl
V:1.2.5-r0
A:x86_64
S:407468
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1710503016
c:4fe5bdbe47b100daa6380f81c4c8ea3f99b61362
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1HZA7d+LP0Q3TzAECd+MB9p1PxQU=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=
"#;

    fn alpine() -> Distro {
        Distro {
            id: "alpine".into(),
            version_id: Some("3.20.3".into()),
            source: "etc/os-release".into(),
            ..Distro::default()
        }
    }

    /// `lib/apk/db/installed` of the real Alpine minirootfs in the repository's
    /// `tests/data/images` (see its README).
    pub(crate) fn real_installed() -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/images/alpine-minirootfs-3.20.3-x86_64.tar.gz");
        let f = fs_err::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().to_str() == Some("./lib/apk/db/installed") {
                let mut buf = Vec::new();
                e.read_to_end(&mut buf).unwrap();
                return buf;
            }
        }
        panic!("no lib/apk/db/installed in {}", path.display());
    }

    #[test]
    fn parses_real_blocks() {
        let (entries, w) = parse(EXCERPT.as_bytes());
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(entries.len(), 2);
        let ssl = &entries[0];
        assert_eq!(
            (ssl.name.as_str(), ssl.version.as_str(), ssl.line),
            ("libssl3", "3.3.2-r0", 1)
        );
        assert_eq!(ssl.origin.as_deref(), Some("openssl"));
        assert_eq!(ssl.license.as_deref(), Some("Apache-2.0"));
        assert_eq!(ssl.files, ["lib/libssl.so.3", "usr/lib/libssl.so.3"]);
        assert_eq!(
            ssl.purl(Some(&alpine())),
            "pkg:apk/alpine/libssl3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl"
        );
        let musl = &entries[1];
        assert_eq!(
            musl.purl(Some(&alpine())),
            "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"
        );
        assert_eq!(
            musl.files,
            ["lib/ld-musl-x86_64.so.1", "lib/libc.musl-x86_64.so.1"]
        );
        let p = musl.to_package(Some(&alpine()), INSTALLED);
        assert_eq!(p.source_name.as_deref(), Some("musl"));
        assert_eq!(p.license.as_deref(), Some("MIT"));
        assert_eq!(
            p.metadata["commit"],
            "4fe5bdbe47b100daa6380f81c4c8ea3f99b61362"
        );
        assert_eq!(p.metadata["installed-size"], "667648");
        assert_eq!(p.kind, Some(PackageKind::Apk));
    }

    #[test]
    fn parses_the_real_alpine_database() {
        let db = real_installed();
        let (entries, w) = parse(&db);
        assert!(w.is_empty(), "{w:?}");
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
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
                "zlib"
            ]
        );
        let ca = &entries[6];
        assert_eq!(ca.license.as_deref(), Some("MPL-2.0 AND MIT"));
        assert_eq!(ca.origin.as_deref(), Some("ca-certificates"));
        let busybox = &entries[4];
        assert!(
            busybox.files.iter().any(|f| f == "bin/busybox"),
            "{:?}",
            busybox.files
        );
    }

    #[test]
    fn malformed_blocks_are_skipped_with_warnings() {
        let text = "P:nover\nA:x86_64\n\n\
                    P:a\nV:1\nP:b\nV:2\n\n\
                    P:good\nV:1.0-r0\nL:MIT\nL:GPL\ngarbage line\n\n\
                    V:3\nA:x86_64\n\n\
                    P:trunc\nV:9-r0\nF:usr/bin\nR:to";
        let (entries, w) = parse(text.as_bytes());
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["good", "trunc"]);
        assert_eq!(entries[0].license.as_deref(), Some("MIT"));
        assert_eq!(entries[1].files, ["usr/bin/to"]);
        assert_eq!(
            w,
            [
                "line 1: package nover has no `V:` (version) line; skipped",
                "line 6: second `P:` line in one block",
                "line 7: second `V:` line in one block",
                "line 4: block a has two names or versions (a missing blank line?); skipped",
                "line 12: second `L:` line in one block",
                "line 13: not a `X:value` line; skipped",
                "line 15: block without a `P:` (name) line skipped",
            ]
        );
    }

    #[test]
    fn binary_garbage_is_warnings_not_a_panic() {
        let mut junk = Vec::new();
        for i in 0..4000u32 {
            junk.extend_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
        }
        let (entries, w) = parse(&junk);
        assert!(entries.is_empty());
        assert!(!w.is_empty() && w.len() <= 21, "{}", w.len());
    }

    #[test]
    fn file_paths_cannot_outgrow_the_input() {
        let mut text = format!("P:x\nV:1\nF:{}\n", "d".repeat(4000));
        for _ in 0..100_000 {
            text.push_str("R:f\n");
        }
        let (entries, w) = parse(text.as_bytes());
        let total: usize = entries[0].files.iter().map(String::len).sum();
        assert!(total <= path_budget(text.len()));
        assert!(w.iter().any(|w| w.contains("far more than")), "{w:?}");
    }

    #[test]
    fn catalogs_an_image() {
        let fs = image(&[
            &[
                ("lib/ld-musl-x86_64.so.1", T::File(b"\x7fELF")),
                ("lib/libc.musl-x86_64.so.1", T::Link("ld-musl-x86_64.so.1")),
                ("lib/libssl.so.3", T::File(b"\x7fELF")),
            ],
            &[("lib/apk/db/installed", T::File(EXCERPT.as_bytes()))],
        ]);
        let owned = HashSet::new();
        let d = alpine();
        let cx = Context {
            fs: &fs,
            distro: Some(&d),
            owned: &owned,
        };
        let mut out = Findings::default();
        Apk.catalog(&cx, &mut out);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(out.packages.len(), 2);
        let ssl = &out.packages[0];
        assert_eq!(ssl.layer, Some(1));
        assert_eq!(ssl.locations, ["lib/apk/db/installed"]);
        assert_eq!(
            ssl.files,
            ["lib/libssl.so.3"],
            "usr/lib/libssl.so.3 is not in the image"
        );
        assert_eq!(
            out.packages[1].files,
            ["lib/ld-musl-x86_64.so.1", "lib/libc.musl-x86_64.so.1"]
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let (entries, w) = parse(&bytes);
            prop_assert!(w.len() <= 21);
            for e in &entries {
                let _ = e.purl(None);
            }
        }

        #[test]
        fn survives_mutations_of_real_blocks(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut b = EXCERPT.as_bytes().to_vec();
            for (i, byte) in edits {
                let i = i.index(b.len());
                b[i] = byte;
            }
            b.truncate(cut.index(b.len() + 1));
            let (entries, _) = parse(&b);
            prop_assert!(entries.len() <= 9);
        }
    }
}
