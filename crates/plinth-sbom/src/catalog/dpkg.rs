//! The dpkg cataloger: Debian packages from `/var/lib/dpkg/status` and from the
//! distroless layout, one control paragraph per file in `/var/lib/dpkg/status.d/`.
//!
//! Which entries count as installed: in `status`, those whose `Status` field's last word
//! (the package state) is `installed`, or `triggers-awaited`/`triggers-pending` (installed
//! and configured, with trigger processing still queued). Entries left as `config-files`,
//! `half-installed`, `unpacked`, `half-configured` or `not-installed` are not reported:
//! they are not a working package. Entries without a `Status` field (the `status.d/`
//! layout, where nothing but installed packages is recorded) count as installed.
//!
//! Files: `/var/lib/dpkg/info/NAME:ARCH.list` or `NAME.list`, else the matching
//! `.md5sums`; for `status.d/NAME`, `status.d/NAME.md5sums`. Only listed paths that are
//! in the image as something other than a directory are kept. No licence is read:
//! dpkg records none (it is in `/usr/share/doc/NAME/copyright`, free text).

use std::collections::BTreeMap;

use plinth_dpkg::control::{self, ControlError};

use super::os::{Problems, owned_files, read_db};
use super::{Cataloger, Context, Findings};
use crate::model::{Distro, Package, PackageKind};
use crate::purl;

/// The dpkg database.
pub const STATUS: &str = "var/lib/dpkg/status";
/// The distroless layout: one file per package.
pub const STATUS_D: &str = "var/lib/dpkg/status.d/";
const INFO: &str = "var/lib/dpkg/info/";

/// The Debian cataloger: reads dpkg's `status`, distroless's `status.d/` and the
/// `info/*.list` file lists.
#[derive(Debug)]
pub struct Dpkg;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(path: &str) -> bool {
    path == STATUS
        || path
            .strip_prefix(STATUS_D)
            .is_some_and(|n| !n.is_empty() && !n.contains('/'))
        || path
            .strip_prefix(INFO)
            .is_some_and(|n| !n.contains('/') && (n.ends_with(".list") || n.ends_with(".md5sums")))
}

/// One paragraph of a dpkg status file, as recorded (installed or not).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DpkgEntry {
    /// The `Package` field.
    pub name: String,
    /// The `Version` field, as written (`[epoch:]upstream[-revision]`).
    pub version: String,
    /// The `Architecture` field (`amd64`, `all`, …).
    pub arch: Option<String>,
    /// The `Source` field's name.
    pub source: Option<String>,
    /// The version in `Source: name (version)`, written by dpkg when it differs from
    /// `Version` (binNMUs, e.g. `bash` 5.2.15-2+b8 from source 5.2.15-2).
    pub source_version: Option<String>,
    /// The `Status` field, e.g. `install ok installed`.
    pub status: Option<String>,
    /// The `Maintainer` field, as written.
    pub maintainer: Option<String>,
    /// `Installed-Size`, in KiB, as written.
    pub installed_size: Option<String>,
    /// The 1-based line the paragraph starts on.
    pub line: usize,
}

impl DpkgEntry {
    /// Whether the package is installed (see the module documentation).
    pub fn is_installed(&self) -> bool {
        match &self.status {
            None => true,
            Some(s) => matches!(
                s.split_whitespace().last(),
                Some("installed" | "triggers-awaited" | "triggers-pending")
            ),
        }
    }

    /// The package URL, as syft writes it: namespace the distro's ID (`debian` without
    /// one), `upstream=SOURCE` or `upstream=SOURCE@VERSION` when a `Source` field is
    /// present, `distro=ID-VERSION_ID`.
    pub fn purl(&self, distro: Option<&Distro>) -> String {
        let namespace = distro.map_or("debian", |d| d.id.as_str());
        let upstream = match (&self.source, &self.source_version) {
            (Some(s), Some(v)) => format!("{s}@{v}"),
            (Some(s), None) => s.clone(),
            _ => String::new(),
        };
        let distro_q = distro.map(Distro::purl_qualifier).unwrap_or_default();
        purl::purl(
            "deb",
            Some(namespace),
            &self.name,
            &self.version,
            &[
                ("arch", self.arch.as_deref().unwrap_or_default()),
                ("upstream", &upstream),
                ("distro", &distro_q),
            ],
        )
    }

    /// The package, found at `location`; `layer` and `files` are left for the caller.
    pub fn to_package(&self, distro: Option<&Distro>, location: &str) -> Package {
        let mut metadata = BTreeMap::new();
        if let Some(m) = &self.maintainer {
            metadata.insert("maintainer".to_string(), m.clone());
        }
        if let Some(s) = &self.installed_size {
            metadata.insert("installed-size".to_string(), s.clone());
        }
        Package {
            kind: Some(PackageKind::Deb),
            name: self.name.clone(),
            version: self.version.clone(),
            source_name: self.source.clone(),
            source_version: self.source_version.clone().filter(|v| *v != self.version),
            arch: self.arch.clone(),
            license: None,
            layer: None,
            locations: vec![location.to_string()],
            files: Vec::new(),
            purl: self.purl(distro),
            metadata,
        }
    }
}

/// Parses a dpkg status file (or a `status.d/` file) into its entries, installed or not.
///
/// A paragraph that does not parse (a line without a colon, a duplicate field, …) or
/// lacks `Package` or `Version` is skipped with a warning naming its line and, when it
/// can be found, its package; the other paragraphs are still read. Never panics; time and
/// memory are linear in the input.
pub fn parse(data: &[u8]) -> (Vec<DpkgEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut problems = Problems::default();
    for (start, chunk) in paragraphs(data) {
        let parsed = control::parse(chunk, control::Options::default());
        let paras = match parsed {
            Ok(p) => p,
            Err(e) => {
                let (rel, what) = describe(&e);
                let line = start + rel.saturating_sub(1);
                let pkg = package_of(chunk);
                problems.push(|| format!("line {line}: {what}; entry {pkg} skipped"));
                continue;
            }
        };
        for p in paras {
            let line = start + p.line.saturating_sub(1);
            let single = |name: &str| {
                p.get(name)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(String::from)
            };
            let Some(name) = single("Package") else {
                problems.push(|| format!("line {line}: entry without a Package field skipped"));
                continue;
            };
            if !is_word(&name) {
                problems.push(|| {
                    format!(
                        "line {line}: Package {:?} is not a package name; entry skipped",
                        clip(&name)
                    )
                });
                continue;
            }
            let Some(version) = single("Version") else {
                problems.push(|| format!("line {line}: package {name} has no Version; skipped"));
                continue;
            };
            if !is_word(&version) {
                problems.push(|| {
                    format!(
                        "line {line}: package {name} has Version {:?}, not a version; skipped",
                        clip(&version)
                    )
                });
                continue;
            }
            let (source, source_version) = match single("Source") {
                Some(s) => split_source(&s),
                None => (None, None),
            };
            entries.push(DpkgEntry {
                name,
                version,
                arch: single("Architecture"),
                source,
                source_version,
                status: single("Status"),
                maintainer: single("Maintainer"),
                installed_size: single("Installed-Size"),
                line,
            });
        }
    }
    (entries, problems.finish())
}

/// `glibc` → (glibc, None); `bash (5.2.15-2)` → (bash, 5.2.15-2).
fn split_source(s: &str) -> (Option<String>, Option<String>) {
    let mut it = s.splitn(2, char::is_whitespace);
    let name = it.next().unwrap_or_default().to_string();
    let version = it
        .next()
        .map(str::trim)
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.strip_suffix(')'))
        .map(str::trim)
        .filter(|v| is_word(v))
        .map(String::from);
    ((!name.is_empty()).then_some(name), version)
}

/// One line, no whitespace.
fn is_word(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_whitespace)
}

fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Splits `data` into runs of non-blank lines: (1-based first line, bytes).
fn paragraphs(data: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut pos = 0;
    let mut line = 1;
    std::iter::from_fn(move || {
        // Skip blank lines.
        loop {
            if pos >= data.len() {
                return None;
            }
            let end = memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i);
            if !is_blank(&data[pos..end]) {
                break;
            }
            pos = end + 1;
            line += 1;
        }
        let start = pos;
        let first = line;
        while pos < data.len() {
            let end = memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i);
            if is_blank(&data[pos..end]) {
                break;
            }
            pos = end + 1;
            line += 1;
        }
        let end = pos.min(data.len());
        Some((first, &data[start..end]))
    })
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// The `Package` of a paragraph that did not parse, for the warning.
fn package_of(chunk: &[u8]) -> String {
    for line in chunk.split(|&b| b == b'\n') {
        if line.len() > 8 && line[..8].eq_ignore_ascii_case(b"package:") {
            let name = String::from_utf8_lossy(&line[8..]);
            let name = name.trim();
            if !name.is_empty() {
                return clip(name);
            }
        }
    }
    "(no Package field)".to_string()
}

/// The 1-based line (within the paragraph) and description of a control error.
fn describe(e: &ControlError) -> (usize, String) {
    let line = match e {
        ControlError::TooLarge { .. } => 1,
        ControlError::MissingColon { line }
        | ControlError::BadFieldName { line }
        | ControlError::OrphanContinuation { line }
        | ControlError::DuplicateField { line, .. }
        | ControlError::UnexpectedComment { line }
        | ControlError::TooManyFields { line, .. }
        | ControlError::FieldTooLong { line, .. } => *line,
    };
    let msg = e.to_string();
    // The parser says `line N: what`; the caller gives the line in the whole file.
    let what = match msg.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest.to_string(),
        _ => msg,
    };
    (line, what)
}

/// The paths of a `.list` file (no leading `/`; `/.` dropped).
pub fn parse_file_list(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .lines()
        .map(|l| l.trim_end_matches('\r').trim_start_matches('/'))
        .filter(|l| !l.is_empty() && *l != ".")
        .map(String::from)
        .collect()
}

/// The paths of a `.md5sums` file (`HASH  path` lines; no leading `/`).
pub fn parse_md5sums(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .lines()
        .filter_map(|l| {
            let l = l.trim_end_matches('\r');
            let (_, path) = l.split_once(char::is_whitespace)?;
            let path = path.trim_start().trim_start_matches('/');
            (!path.is_empty()).then(|| path.to_string())
        })
        .collect()
}

impl Cataloger for Dpkg {
    fn name(&self) -> &'static str {
        "dpkg"
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Findings) {
        let fs = cx.fs;
        if let Some(db) = read_db(fs, STATUS, &mut out.warnings) {
            let (entries, warnings) = parse(db.data);
            out.warnings
                .extend(warnings.into_iter().map(|w| format!("{}: {w}", db.path)));
            for e in entries.iter().filter(|e| e.is_installed()) {
                let listed = file_list(cx, INFO, e, None);
                let mut p = e.to_package(cx.distro, &db.path);
                p.layer = db.layer;
                p.files = owned_files(fs, listed);
                out.packages.push(p);
            }
        }
        let status_d: Vec<String> = fs
            .iter()
            .filter_map(|(path, node)| {
                let name = path.strip_prefix(STATUS_D)?;
                let keep = !name.contains('/')
                    && !name.ends_with(".md5sums")
                    && !name.ends_with(".conffiles")
                    && node.kind != plinth_oci::NodeKind::Dir;
                keep.then(|| path.to_string())
            })
            .collect();
        for path in status_d {
            let Some(db) = read_db(fs, &path, &mut out.warnings) else {
                continue;
            };
            let (entries, warnings) = parse(db.data);
            out.warnings
                .extend(warnings.into_iter().map(|w| format!("{path}: {w}")));
            if entries.is_empty() {
                out.warnings
                    .push(format!("{path}: no package entry in this file"));
            }
            let file_name = &path[STATUS_D.len()..];
            for e in entries.iter().filter(|e| e.is_installed()) {
                let listed = file_list(cx, STATUS_D, e, Some(file_name));
                let mut p = e.to_package(cx.distro, &path);
                p.layer = db.layer;
                p.files = owned_files(fs, listed);
                out.packages.push(p);
            }
        }
    }
}

/// The listed files of `e`, from `dir` (`info/` or `status.d/`): `.list` first, then
/// `.md5sums`; `own` is the `status.d/` file's name, tried first.
fn file_list(cx: &Context<'_>, dir: &str, e: &DpkgEntry, own: Option<&str>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    if let Some(o) = own {
        keys.push(o.to_string());
    }
    if let Some(a) = &e.arch {
        keys.push(format!("{}:{a}", e.name));
    }
    keys.push(e.name.clone());
    for (ext, parser) in [
        (".list", parse_file_list as fn(&[u8]) -> Vec<String>),
        (".md5sums", parse_md5sums),
    ] {
        for k in &keys {
            if let Some(data) = cx.fs.read(&format!("{dir}{k}{ext}")) {
                return parser(data);
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::super::os::testing::{T, image};
    use super::*;
    use crate::catalog::{Context, Findings};
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// Real entries from a Debian 12 machine's `/var/lib/dpkg/status`.
    const STATUS_EXCERPT: &str = r#"Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 341
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u11
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Pre-Depends: awk
Breaks: debian-security-support (<< 2019.04.25), initscripts (<< 2.88dsf-13.3), sendfile (<< 2.1b.20080616-5.2~)
Conffiles:
 /etc/debian_version 8031d1483ffa9c819e6be94c6c77fd2a
 /etc/dpkg/origins/debian c47b6815f67ad1aeccb0d4529bd0b990
 /etc/host.conf 4eb63731c9f5e30903ac4fc07a7fe3d6
 /etc/issue 349d61a0e072d678e3e94923f0c3ce0e
 /etc/issue.net 3ae9b9ff69a78d614864f1957778fecb
 /etc/update-motd.d/10-uname 9e1b832b7b06f566156e7c9e0548247b
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system, and
 several important miscellaneous files, such as /etc/debian_version,
 /etc/host.conf, /etc/issue, /etc/motd, /etc/profile, and others,
 and the text of several common licenses in use on Debian systems.

Package: bash
Essential: yes
Status: install ok installed
Priority: required
Section: shells
Installed-Size: 7164
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Multi-Arch: foreign
Source: bash (5.2.15-2)
Version: 5.2.15-2+b8
Replaces: bash-completion (<< 20060301-0), bash-doc (<= 2.05-1)
Depends: base-files (>= 2.1.12), debianutils (>= 5.6-0.1)
Pre-Depends: libc6 (>= 2.36), libtinfo6 (>= 6)
Recommends: bash-completion (>= 20060301-0)
Suggests: bash-doc
Conflicts: bash-completion (<< 20060301-0)
Conffiles:
 /etc/bash.bashrc 89269e1298235f1b12b4c16e4065ad0d
 /etc/skel/.bash_logout 22bfb8c1dd94b5f3813a2b25da67463f
 /etc/skel/.bashrc ee35a240758f374832e809ae0ea4883a
 /etc/skel/.profile f4e81ade7d6f9fb342541152d08e7a97
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter that executes
 commands read from the standard input or from a file.  Bash also
 incorporates useful features from the Korn and C shells (ksh and csh).
 .
 Bash is ultimately intended to be a conformant implementation of the
 IEEE POSIX Shell and Tools specification (IEEE Working Group 1003.2).
 .
 The Programmable Completion Code, by Ian Macdonald, is now found in
 the bash-completion package.
Homepage: http://tiswww.case.edu/php/chet/bash/bashtop.html

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 13001
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u14
Replaces: libc6-amd64
Depends: libgcc-s1
Recommends: libidn2-0 (>= 2.0.5~)
Suggests: glibc-doc, debconf | debconf-2.0, libc-l10n, locales, libnss-nis, libnss-nisplus
Breaks: aide (<< 0.17.3-4+b3), busybox (<< 1.30.1-6), chrony (<< 4.2-3~), fakechroot (<< 2.19-3.5), firefox (<< 91~), firefox-esr (<< 91~), gnumach-image-1.8-486 (<< 2:1.8+git20210923~), gnumach-image-1.8-486-dbg (<< 2:1.8+git20210923~), gnumach-image-1.8-xen-486 (<< 2:1.8+git20210923~), gnumach-image-1.8-xen-486-dbg (<< 2:1.8+git20210923~), hurd (<< 1:0.9.git20220301-2), ioquake3 (<< 1.36+u20200211.f2c61c1~dfsg-2~), iraf-fitsutil (<< 2018.07.06-4), libgegl-0.4-0 (<< 0.4.18), libtirpc1 (<< 0.2.3), locales (<< 2.36), locales-all (<< 2.36), macs (<< 2.2.7.1-3~), nocache (<< 1.1-1~), nscd (<< 2.36), openarena (<< 0.8.8+dfsg-4~), openssh-server (<< 1:8.1p1-5), python3-iptables (<< 1.0.0-2), r-cran-later (<< 0.7.5+dfsg-2), tinydns (<< 1:1.05-14), valgrind (<< 1:3.19.0-1~), wcc (<< 0.0.2+dfsg-3)
Conffiles:
 /etc/ld.so.conf.d/x86_64-linux-gnu.conf d4e7a7b88a71b5ffd9e2644e71a0cfab
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system. This package includes shared versions of the standard C library
 and the standard math library, as well as many others.
Homepage: https://www.gnu.org/software/libc/libc.html

Package: tzdata
Status: install ok installed
Priority: required
Section: localization
Installed-Size: 2565
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: all
Multi-Arch: foreign
Version: 2025b-0+deb12u2
Provides: tzdata-bookworm
Depends: debconf (>= 0.5) | debconf-2.0
Description: time zone and daylight-saving time data
 This package contains data required for the implementation of
 standard local time for many representative locations around the
 globe. It is updated periodically to reflect changes made by
 political bodies to time zone boundaries, UTC offsets, and
 daylight-saving rules.
Homepage: https://www.iana.org/time-zones

Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 168
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Provides: libz1
Depends: libc6 (>= 2.14)
Breaks: libxml2 (<< 2.7.6.dfsg-2), texlive-binaries (<< 2009-12)
Conflicts: zlib1 (<= 1:1.0.4-7)
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.  This package includes the shared library.
Homepage: http://zlib.net/
"#;

    /// A package removed but not purged, as dpkg leaves it.
    const CONFIG_FILES: &str = "Package: cron
Status: deinstall ok config-files
Priority: important
Section: admin
Installed-Size: 254
Maintainer: Georges Khaznadar <georgesk@debian.org>
Architecture: amd64
Version: 3.0pl1-162
Conffiles:
 /etc/cron.d/e2scrub_all 7f44e7b7b2d5c5b5d4a3d9f5d3a1d7c1
Description: process scheduling daemon
";

    const DISTROLESS_LIBC6: &str = "Package: libc6
Version: 2.36-9+deb12u14
Architecture: amd64
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Installed-Size: 12996
Depends: libgcc-s1
Section: libs
Priority: optional
Multi-Arch: same
Source: glibc
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.
";

    fn bookworm() -> Distro {
        Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            codename: Some("bookworm".into()),
            source: "etc/os-release".into(),
            ..Distro::default()
        }
    }

    fn status() -> String {
        format!("{STATUS_EXCERPT}\n{CONFIG_FILES}")
    }

    fn run(fs: &plinth_oci::ImageFs, distro: Option<&Distro>) -> Findings {
        let owned = HashSet::new();
        let cx = Context {
            fs,
            distro,
            owned: &owned,
        };
        let mut out = Findings::default();
        Dpkg.catalog(&cx, &mut out);
        out
    }

    #[test]
    fn parses_a_real_status_file() {
        let (entries, warnings) = parse(status().as_bytes());
        assert!(warnings.is_empty(), "{warnings:?}");
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["base-files", "bash", "libc6", "tzdata", "zlib1g", "cron"]
        );
        let installed: Vec<&str> = entries
            .iter()
            .filter(|e| e.is_installed())
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(
            installed,
            ["base-files", "bash", "libc6", "tzdata", "zlib1g"]
        );

        let bash = &entries[1];
        assert_eq!(bash.version, "5.2.15-2+b8");
        assert_eq!(bash.source.as_deref(), Some("bash"));
        assert_eq!(bash.source_version.as_deref(), Some("5.2.15-2"));
        assert_eq!(bash.line, 28);
        let d = bookworm();
        assert_eq!(
            bash.purl(Some(&d)),
            "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2"
        );
        let p = bash.to_package(Some(&d), STATUS);
        assert_eq!(p.source_version.as_deref(), Some("5.2.15-2"));
        assert_eq!(p.metadata["installed-size"], "7164");
        assert_eq!(p.metadata["maintainer"], "Matthias Klose <doko@debian.org>");

        let libc = &entries[2];
        assert_eq!(libc.source.as_deref(), Some("glibc"));
        assert_eq!(libc.source_version, None);
        assert_eq!(
            libc.purl(Some(&d)),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12&upstream=glibc"
        );
        let base = &entries[0];
        assert_eq!(base.source, None);
        assert_eq!(
            base.purl(None),
            "pkg:deb/debian/base-files@12.4%2Bdeb12u11?arch=amd64"
        );
        assert_eq!(entries[3].arch.as_deref(), Some("all"));
        assert_eq!(entries[4].version, "1:1.2.13.dfsg-1");
        assert!(
            entries[4]
                .purl(Some(&d))
                .contains("zlib1g@1:1.2.13.dfsg-1?")
        );
        assert_eq!(
            entries[5].status.as_deref(),
            Some("deinstall ok config-files")
        );
    }

    #[test]
    fn installed_states() {
        let e = |s: Option<&str>| DpkgEntry {
            status: s.map(String::from),
            ..DpkgEntry::default()
        };
        assert!(e(None).is_installed());
        assert!(e(Some("install ok installed")).is_installed());
        assert!(e(Some("hold ok installed")).is_installed());
        assert!(e(Some("install ok triggers-pending")).is_installed());
        assert!(!e(Some("deinstall ok config-files")).is_installed());
        assert!(!e(Some("install ok half-configured")).is_installed());
        assert!(!e(Some("install reinstreq half-installed")).is_installed());
        assert!(!e(Some("purge ok not-installed")).is_installed());
    }

    #[test]
    fn source_field_forms() {
        assert_eq!(split_source("glibc"), (Some("glibc".into()), None));
        assert_eq!(
            split_source("bash (5.2.15-2)"),
            (Some("bash".into()), Some("5.2.15-2".into()))
        );
        assert_eq!(
            split_source("gcc-12 ( 12.2.0-14 )"),
            (Some("gcc-12".into()), Some("12.2.0-14".into()))
        );
        assert_eq!(split_source("x (unclosed"), (Some("x".into()), None));
    }

    #[test]
    fn malformed_paragraphs_are_skipped_with_warnings() {
        let text = "Package: dup\nVersion: 1\nVersion: 2\n\n\
                    Package: noversion\nArchitecture: amd64\n\n\
                    Package: ok\nVersion: 1.0\n\n\
                    Architecture: amd64\nVersion: 3\n\n\
                    Package: bad\nthis line has no colon\n\n\
                    Package: spaced\nVersion: 1 2\n\n\
                    Package: trunc\nVers";
        let (entries, w) = parse(text.as_bytes());
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["ok"]);
        assert_eq!(w.len(), 6, "{w:?}");
        assert_eq!(w[0], "line 3: duplicate field Version; entry dup skipped");
        assert_eq!(w[1], "line 5: package noversion has no Version; skipped");
        assert_eq!(w[2], "line 11: entry without a Package field skipped");
        assert_eq!(
            w[3],
            "line 15: field line without a colon; entry bad skipped"
        );
        assert!(w[4].starts_with("line 17: package spaced"), "{w:?}");
        assert_eq!(
            w[5],
            "line 21: field line without a colon; entry trunc skipped"
        );
    }

    #[test]
    fn truncated_real_file_keeps_the_complete_entries() {
        let s = status();
        let cut = s.find("Package: libc6").unwrap() + 30;
        let (entries, w) = parse(&s.as_bytes()[..cut]);
        assert_eq!(entries.len(), 2);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("libc6"), "{w:?}");
    }

    #[test]
    fn binary_garbage_is_warnings_not_a_panic() {
        let mut junk = Vec::new();
        for i in 0..4000u32 {
            junk.extend_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
        }
        let (entries, w) = parse(&junk);
        assert!(entries.is_empty());
        assert!(!w.is_empty());
        assert!(w.len() <= 21, "warnings are capped: {}", w.len());
        let (entries, w) = parse(b"\x7fELF\x02\x01\x01\0\0\0\0\n\n\xff\xfe:\x00");
        assert!(entries.is_empty());
        assert_eq!(w.len(), 2, "{w:?}");
    }

    #[test]
    fn file_lists() {
        assert_eq!(
            parse_file_list(b"/.\n/lib\n/lib/x86_64-linux-gnu/libz.so.1.2.13\r\n\n"),
            ["lib", "lib/x86_64-linux-gnu/libz.so.1.2.13"]
        );
        assert_eq!(
            parse_md5sums(
                b"c7c774d91213e966a04b2e51c787be23  lib/x86_64-linux-gnu/libz.so.1.2.13\nnohash\n\
                  d348307d5bf18267bcbada155a715a3e  usr/share/doc/zlib1g/copyright\n"
            ),
            [
                "lib/x86_64-linux-gnu/libz.so.1.2.13",
                "usr/share/doc/zlib1g/copyright"
            ]
        );
    }

    #[test]
    fn wanted_paths() {
        assert!(wants("var/lib/dpkg/status"));
        assert!(wants("var/lib/dpkg/status.d/libc6"));
        assert!(wants("var/lib/dpkg/status.d/libc6.md5sums"));
        assert!(wants("var/lib/dpkg/info/libc6:amd64.list"));
        assert!(wants("var/lib/dpkg/info/bash.md5sums"));
        assert!(!wants("var/lib/dpkg/info/bash.postinst"));
        assert!(!wants("var/lib/dpkg/status-old"));
        assert!(!wants("var/lib/dpkg/status.d/x/y"));
    }

    #[test]
    fn catalogs_a_status_image_with_merged_usr() {
        let status = status();
        let base = [
            ("lib", T::Link("usr/lib")),
            ("usr/lib/x86_64-linux-gnu/libc.so.6", T::File(b"\x7fELF")),
            ("usr/lib/x86_64-linux-gnu/libz.so.1.2.13", T::File(b"\x7fELF")),
            ("usr/lib/x86_64-linux-gnu/libz.so.1", T::Link("libz.so.1.2.13")),
            ("usr/share/doc/zlib1g/copyright", T::File(b"zlib")),
            ("bin/bash", T::File(b"\x7fELF")),
            ("var/lib/dpkg/info/libc6:amd64.list", T::File(
                b"/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n/usr/share/doc/libc6/gone\n",
            )),
            ("var/lib/dpkg/info/zlib1g:amd64.md5sums", T::File(
                b"c7c774d91213e966a04b2e51c787be23  lib/x86_64-linux-gnu/libz.so.1.2.13\n\
                  d348307d5bf18267bcbada155a715a3e  usr/share/doc/zlib1g/copyright\n",
            )),
            ("var/lib/dpkg/info/bash.list", T::File(b"/.\n/bin\n/bin/bash\n")),
        ];
        let top = [("var/lib/dpkg/status", T::File(status.as_bytes()))];
        let fs = image(&[&base, &top]);
        let d = bookworm();
        let out = run(&fs, Some(&d));
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        let names: Vec<&str> = out.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["base-files", "bash", "libc6", "tzdata", "zlib1g"]);
        let get = |n: &str| out.packages.iter().find(|p| p.name == n).unwrap();
        let libc = get("libc6");
        assert_eq!(libc.files, ["usr/lib/x86_64-linux-gnu/libc.so.6"]);
        assert_eq!(libc.layer, Some(1));
        assert_eq!(libc.locations, ["var/lib/dpkg/status"]);
        assert_eq!(libc.kind, Some(PackageKind::Deb));
        assert_eq!(libc.source_name.as_deref(), Some("glibc"));
        assert_eq!(
            get("zlib1g").files,
            [
                "usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
                "usr/share/doc/zlib1g/copyright"
            ]
        );
        assert_eq!(get("bash").files, ["bin/bash"]);
        assert!(get("tzdata").files.is_empty());
    }

    #[test]
    fn catalogs_a_distroless_status_d_image() {
        let fs = image(&[
            &[
                (
                    "var/lib/dpkg/status.d/base-files",
                    T::File(b"Package: base-files\nVersion: 12.4+deb12u11\nArchitecture: amd64\n"),
                ),
                ("etc/debian_version", T::File(b"12.11\n")),
                (
                    "var/lib/dpkg/status.d/base-files.md5sums",
                    T::File(b"8031d1483ffa9c819e6be94c6c77fd2a  etc/debian_version\n"),
                ),
            ],
            &[
                (
                    "var/lib/dpkg/status.d/libc6",
                    T::File(DISTROLESS_LIBC6.as_bytes()),
                ),
                (
                    "var/lib/dpkg/status.d/libc6.md5sums",
                    T::File(
                        b"0123456789abcdef0123456789abcdef  usr/lib/x86_64-linux-gnu/libc.so.6\n",
                    ),
                ),
                ("usr/lib/x86_64-linux-gnu/libc.so.6", T::File(b"\x7fELF")),
                (
                    "var/lib/dpkg/status.d/broken",
                    T::File(b"Package: broken\n"),
                ),
            ],
        ]);
        let d = bookworm();
        let out = run(&fs, Some(&d));
        let names: Vec<&str> = out.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["base-files", "libc6"]);
        assert_eq!(
            out.warnings,
            [
                "var/lib/dpkg/status.d/broken: line 1: package broken has no Version; skipped",
                "var/lib/dpkg/status.d/broken: no package entry in this file",
            ]
        );
        let base = &out.packages[0];
        assert_eq!(base.layer, Some(0));
        assert_eq!(base.locations, ["var/lib/dpkg/status.d/base-files"]);
        assert_eq!(base.files, ["etc/debian_version"]);
        let libc = &out.packages[1];
        assert_eq!(libc.layer, Some(1));
        assert_eq!(libc.files, ["usr/lib/x86_64-linux-gnu/libc.so.6"]);
        assert_eq!(
            libc.purl,
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12&upstream=glibc"
        );
        assert_eq!(libc.metadata["installed-size"], "12996");
    }

    proptest! {
        #[test]
        fn never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let (entries, w) = parse(&bytes);
            prop_assert!(w.len() <= 21);
            for e in &entries {
                prop_assert!(!e.name.is_empty() && !e.version.is_empty());
                let _ = e.purl(None);
            }
            let _ = parse_file_list(&bytes);
            let _ = parse_md5sums(&bytes);
        }

        #[test]
        fn survives_mutations_of_a_real_file(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut b = status().into_bytes();
            for (i, byte) in edits {
                let i = i.index(b.len());
                b[i] = byte;
            }
            let n = cut.index(b.len() + 1);
            b.truncate(n.max(b.len() / 2));
            let (entries, _) = parse(&b);
            prop_assert!(entries.len() <= 6);
        }
    }
}
