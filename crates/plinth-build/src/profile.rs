//! Built-in distroless-compatible profiles: which Debian packages each holds, and the
//! files that come from no package (`os-release`, `nsswitch.conf`, the CA bundle, the
//! dpkg metadata scanners read). Facts from `shared/reference/distroless-debian.md`.

use std::fmt;

use serde::Deserialize;

/// A distroless image kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// base-files, netbase, tzdata, media-types and the CA bundle; no libc.
    Static,
    /// static + libc6.
    BaseNossl,
    /// static + libc6 + libssl3.
    Base,
    /// base + the GCC runtime libraries (C++, OpenMP).
    Cc,
    /// A whole Debian system, as Debian's `debian:RELEASE-slim` image: every
    /// `Essential: yes` and `Priority: required` package and `apt`, installed by dpkg
    /// with their maintainer scripts run, documentation left out.
    Slim,
    /// [`Profile::Slim`] with the documentation kept, as Debian's `debian:RELEASE`.
    Full,
    /// An RPM image as UBI micro: the release package, `filesystem`, `setup` and `glibc`
    /// (under `[rpm]` only).
    Micro,
}

/// A release a profile can be built from: Debian's, or Ubuntu's (same formats, its own
/// archive, keyring and names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Release {
    /// Debian 12.
    Bookworm,
    /// Debian 13.
    Trixie,
    /// Ubuntu 20.04 LTS.
    Focal,
    /// Ubuntu 22.04 LTS.
    Jammy,
    /// Ubuntu 24.04 LTS.
    Noble,
}

/// The distribution a release belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distro {
    /// Debian.
    Debian,
    /// Ubuntu.
    Ubuntu,
}

impl Distro {
    /// `debian`, `ubuntu`: the `ID` of os-release and the spec's table name.
    pub fn id(self) -> &'static str {
        match self {
            Distro::Debian => "debian",
            Distro::Ubuntu => "ubuntu",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Static => "static",
            Profile::BaseNossl => "base-nossl",
            Profile::Base => "base",
            Profile::Cc => "cc",
            Profile::Slim => "slim",
            Profile::Full => "full",
            Profile::Micro => "micro",
        })
    }
}

impl Release {
    /// `bookworm`.
    pub fn codename(self) -> &'static str {
        match self {
            Release::Bookworm => "bookworm",
            Release::Trixie => "trixie",
            Release::Focal => "focal",
            Release::Jammy => "jammy",
            Release::Noble => "noble",
        }
    }

    /// Debian or Ubuntu.
    pub fn distro(self) -> Distro {
        match self {
            Release::Bookworm | Release::Trixie => Distro::Debian,
            Release::Focal | Release::Jammy | Release::Noble => Distro::Ubuntu,
        }
    }

    /// `12` (from Debian's release table: every Debian variant is in it, a test holds
    /// that), `24.04`.
    pub fn version_id(self) -> &'static str {
        match self {
            Release::Focal => "20.04",
            Release::Jammy => "22.04",
            Release::Noble => "24.04",
            _ => plinth_dpkg::releases::by_codename(self.codename()).map_or("", |r| r.number),
        }
    }

    /// os-release's `VERSION`: `Debian GNU/Linux 12 (bookworm)`, `24.04 LTS (Noble Numbat)`.
    pub fn version_text(self) -> String {
        match self {
            Release::Focal => "20.04 LTS (Focal Fossa)".into(),
            Release::Jammy => "22.04 LTS (Jammy Jellyfish)".into(),
            Release::Noble => "24.04 LTS (Noble Numbat)".into(),
            _ => format!(
                "Debian GNU/Linux {} ({})",
                self.version_id(),
                self.codename()
            ),
        }
    }

    /// The suites searched by default, newest version winning.
    pub fn suites(self) -> [String; 3] {
        let c = self.codename();
        [
            c.to_string(),
            format!("{c}-updates"),
            format!("{c}-security"),
        ]
    }
}

impl Profile {
    /// Whether the profile is a whole system (a shell, dpkg, apt, a package database
    /// dpkg writes, maintainer scripts run) rather than distroless files.
    pub fn is_system(self) -> bool {
        matches!(self, Profile::Slim | Profile::Full)
    }

    /// The packages a profile asks for (dependencies are resolved on top). A system
    /// profile names `apt`; the base system's packages are added when resolving, from
    /// the index (see `plinth_deb::resolve::Universe::base_system`).
    pub fn packages(self, release: Release) -> Vec<&'static str> {
        if self.is_system() {
            return vec!["apt"];
        }
        let mut p = vec![
            "base-files",
            "netbase",
            "tzdata",
            "media-types",
            "ca-certificates",
        ];
        if self != Profile::Static {
            p.push("libc6");
        }
        if matches!(self, Profile::Base | Profile::Cc) {
            p.push(match release {
                Release::Bookworm | Release::Jammy => "libssl3",
                Release::Trixie | Release::Noble => "libssl3t64",
                Release::Focal => "libssl1.1",
            });
        }
        if self == Profile::Cc {
            p.extend(["libgcc-s1", "libgomp1", "libstdc++6"]);
            p.push(match release {
                Release::Bookworm | Release::Jammy => "gcc-12-base",
                Release::Trixie | Release::Noble => "gcc-14-base",
                Release::Focal => "gcc-10-base",
            });
        }
        p
    }
}

/// `/usr/lib/os-release`: `ID`, `VERSION_ID` and `VERSION` exactly as Debian's (scanners
/// pick advisories by them), Plinth's own `PRETTY_NAME`.
pub fn os_release(profile: Profile, release: Release) -> String {
    let (v, c) = (release.version_id(), release.codename());
    if release.distro() == Distro::Ubuntu {
        // Ubuntu's own fields (scanners key on ID and VERSION_ID), Plinth's PRETTY_NAME.
        return format!(
            "PRETTY_NAME=\"Plinth {profile} (Ubuntu {v})\"\n\
             NAME=\"Ubuntu\"\n\
             VERSION_ID=\"{v}\"\n\
             VERSION=\"{}\"\n\
             VERSION_CODENAME={c}\n\
             ID=ubuntu\n\
             ID_LIKE=debian\n\
             UBUNTU_CODENAME={c}\n",
            release.version_text()
        );
    }
    format!(
        "PRETTY_NAME=\"Plinth {profile} (Debian GNU/Linux {v})\"\n\
         NAME=\"Debian GNU/Linux\"\n\
         ID=\"debian\"\n\
         VERSION_ID=\"{v}\"\n\
         VERSION=\"Debian GNU/Linux {v} ({c})\"\n\
         VERSION_CODENAME={c}\n"
    )
}

/// distroless's `/etc/nsswitch.conf`.
pub const NSSWITCH: &str = "\
passwd:         compat
group:          compat
shadow:         compat
gshadow:        files

hosts:          files dns
networks:       files

protocols:      db files
services:       db files
ethers:         db files
rpc:            db files

netgroup:       nis
";

/// Where the CA bundle lives, relative to the image root.
pub const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";
/// The `SSL_CERT_FILE` set in the environment of Debian-based images: [`CA_BUNDLE`],
/// absolute.
pub const SSL_CERT_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Builds the CA bundle the way `update-ca-certificates` would, without running it:
/// every `.crt` under `usr/share/ca-certificates/`, in path order, then `extra`
/// certificates (PEM) from the spec. Each certificate ends with a newline.
pub fn ca_bundle<'a>(
    package_files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    extra: &[Vec<u8>],
) -> Vec<u8> {
    let mut certs: Vec<(&str, &[u8])> = package_files
        .into_iter()
        .filter(|(p, _)| p.starts_with("usr/share/ca-certificates/") && p.ends_with(".crt"))
        .collect();
    certs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    for data in certs.iter().map(|(_, d)| *d) {
        push_cert(&mut out, data);
    }
    extend_ca_bundle(out, extra)
}

/// `bundle` (from [`ca_bundle`]) with the certificates of `extra` after it: the same
/// bytes as [`ca_bundle`] given both.
pub fn extend_ca_bundle(mut bundle: Vec<u8>, extra: &[Vec<u8>]) -> Vec<u8> {
    for data in extra {
        push_cert(&mut bundle, data);
    }
    bundle
}

fn push_cert(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(data);
    if !data.ends_with(b"\n") {
        out.push(b'\n');
    }
}

/// Of the `ca-certificates` package only the bundle and its copyright are installed, as
/// distroless does: no per-certificate files or hash links.
pub fn keep_ca_certificates_path(path: &str) -> bool {
    path == "usr/share/doc/ca-certificates/copyright"
        || path == "usr"
        || path == "usr/share"
        || path == "usr/share/doc"
        || path == "usr/share/doc/ca-certificates"
}

/// Documentation dropped unless the spec keeps it, as Debian's own `-slim` images do
/// with dpkg path excludes: manuals, info pages, lintian overrides, bug-report scripts and
/// everything under `/usr/share/doc` but each package's `copyright` (its licence terms).
pub fn is_droppable_doc(path: &str) -> bool {
    if let Some(rest) = path.strip_prefix("usr/share/doc/") {
        // Keep the package's directory and its copyright file.
        return rest.contains('/') && !rest.ends_with("/copyright");
    }
    [
        "usr/share/man/",
        "usr/share/info/",
        "usr/share/lintian/",
        "usr/share/bug/",
    ]
    .iter()
    .any(|p| path.starts_with(p))
        || [
            "usr/share/man",
            "usr/share/info",
            "usr/share/lintian",
            "usr/share/bug",
        ]
        .contains(&path)
}

/// `/var/lib/dpkg/status.d/<name>`: the package's control paragraph, ending in one
/// newline. Scanners (syft, trivy, grype) read this layout.
pub fn status_d_entry(control: &str) -> String {
    let mut s = control.trim_end_matches('\n').to_string();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_sets_match_distroless() {
        let b = Release::Bookworm;
        assert_eq!(
            Profile::Static.packages(b),
            [
                "base-files",
                "netbase",
                "tzdata",
                "media-types",
                "ca-certificates"
            ]
        );
        assert!(Profile::BaseNossl.packages(b).contains(&"libc6"));
        assert!(!Profile::BaseNossl.packages(b).contains(&"libssl3"));
        assert!(Profile::Base.packages(b).contains(&"libssl3"));
        let cc = Profile::Cc.packages(b);
        for p in [
            "libgcc-s1",
            "libgomp1",
            "libstdc++6",
            "gcc-12-base",
            "libssl3",
            "libc6",
        ] {
            assert!(cc.contains(&p), "{p}");
        }
        assert!(
            Profile::Base
                .packages(Release::Trixie)
                .contains(&"libssl3t64")
        );
    }

    #[test]
    fn every_release_is_in_debian_s_table() {
        assert_eq!(Release::Bookworm.version_id(), "12");
        assert_eq!(Release::Trixie.version_id(), "13");
    }

    #[test]
    fn os_release_keeps_debian_identity() {
        let s = os_release(Profile::Base, Release::Bookworm);
        assert!(s.contains("\nID=\"debian\"\n"));
        assert!(s.contains("\nVERSION_ID=\"12\"\n"));
        assert!(s.contains("\nVERSION=\"Debian GNU/Linux 12 (bookworm)\"\n"));
    }

    #[test]
    fn docs_are_dropped_but_copyright_stays() {
        assert!(is_droppable_doc("usr/share/doc/libc6/changelog.Debian.gz"));
        assert!(is_droppable_doc("usr/share/man/man1/x.1.gz"));
        assert!(is_droppable_doc("usr/share/lintian/overrides/libc6"));
        assert!(!is_droppable_doc("usr/share/doc/libc6/copyright"));
        assert!(!is_droppable_doc("usr/share/doc/libc6"));
        assert!(!is_droppable_doc("usr/share/zoneinfo/UTC"));
        assert!(!is_droppable_doc("usr/share/doc-base"));
    }

    #[test]
    fn ca_bundle_is_sorted_and_newline_terminated() {
        let files = [
            ("usr/share/ca-certificates/mozilla/B.crt", &b"B"[..]),
            ("usr/share/ca-certificates/mozilla/A.crt", &b"A\n"[..]),
            ("usr/share/doc/ca-certificates/copyright", &b"(c)"[..]),
        ];
        assert_eq!(ca_bundle(files, &[b"TEST-CA".to_vec()]), b"A\nB\nTEST-CA\n");
    }
}
