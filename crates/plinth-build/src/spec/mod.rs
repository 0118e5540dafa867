//! The image spec (`plinth.toml`): parsed strictly (unknown keys are errors), then
//! checked, so that every mistake is reported with its file, line, column and key.
//! `docs/spec.md` documents every key.
//!
//! | module | holds |
//! |---|---|
//! | `raw` | the TOML shapes, as serde reads them |
//! | `ctx` | errors with file, line and column; checks shared by every table |
//! | `parse` | `[image]`, files, directories, symlinks |
//! | `accounts` | `[accounts]`, into [`crate::accounts::Accounts`] |
//! | `config` | `[config]` |
//! | `debian` | `[debian]` and `image.profile` |
//! | `alpine` | `[alpine]` and what `image.profile` means for it |
//! | `rpm` | `[rpm]` and what `image.profile` means for it |

mod accounts;
pub mod alpine;
mod config;
mod ctx;
mod debian;
mod parse;
mod raw;
mod rpm;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plinth_oci::Compression;
use serde::Deserialize;

use crate::accounts::Accounts;
use crate::error::BuildError;
use crate::profile::{Profile, Release};

/// A platform as `os/arch[/variant]` (plinth-oci's: images and specs write it alike).
pub use plinth_oci::Platform;

/// How Debian packages are laid out in layers.
#[derive(Deserialize, Default, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Layering {
    /// One layer per package (as distroless): layers are shared between images.
    #[default]
    PerPackage,
    /// All packages in one layer.
    Single,
}

/// The Debian part of a spec: a profile and/or packages, from one release.
#[derive(Debug, Clone)]
pub struct DebianSpec {
    /// The distroless profile whose packages and files the image gets; `None` for only the
    /// spec's own packages.
    pub profile: Option<Profile>,
    /// The Debian release every package comes from.
    pub release: Release,
    /// Requested packages: the profile's, then the spec's own.
    pub packages: Vec<String>,
    /// Never installed (and treated as present when resolving).
    pub exclude: Vec<String>,
    /// How the packages are laid out in layers.
    pub layering: Layering,
    /// A mirror base URI overriding the machine's apt sources.
    pub mirror: Option<String>,
    /// The security archive's base URI, overriding the apt sources' `*-security` entry.
    pub security_mirror: Option<String>,
    /// Whether the release's `-security` suite is used (`security = false` leaves it
    /// out, on purpose); when used, it must exist.
    pub security: bool,
    /// Extra OpenPGP keys trusted for the mirror: files (relative to the spec) or
    /// armoured blocks written in the spec.
    pub keys: Vec<KeySource>,
    /// Extra CA certificates (PEM files) appended to the CA bundle.
    pub ca_certificates: Vec<PathBuf>,
    /// Keep manuals and documentation other than `copyright` files.
    pub keep_docs: bool,
}

/// Alpine's image kinds, named by `image.profile` under `[alpine]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlpineProfile {
    /// What Chainguard's `static` holds: `alpine-baselayout-data`,
    /// `ca-certificates-bundle`, `tzdata`; no libc.
    Static,
    /// A minimal base: static + `alpine-baselayout`, `musl`, `busybox`, `busybox-binsh`
    /// (so that `/bin/sh` exists) and `apk-tools`.
    Base,
}

impl AlpineProfile {
    /// The packages the profile asks for (dependencies are resolved on top).
    pub fn packages(self) -> Vec<&'static str> {
        let mut p = vec!["alpine-baselayout-data", "ca-certificates-bundle", "tzdata"];
        if self == AlpineProfile::Base {
            p.extend([
                "alpine-baselayout",
                "musl",
                "busybox",
                "busybox-binsh",
                "apk-tools",
            ]);
        }
        p
    }

    /// `static` or `base`.
    pub fn name(self) -> &'static str {
        match self {
            AlpineProfile::Static => "static",
            AlpineProfile::Base => "base",
        }
    }
}

/// The Alpine part of a spec: a profile and/or packages from one release's signed
/// repositories.
#[derive(Debug, Clone)]
pub struct AlpineSpec {
    /// The profile whose packages the image gets.
    pub profile: Option<AlpineProfile>,
    /// The release (`3.20`, `3.20.3` or `edge`): `VERSION_ID` in `/etc/os-release`, and
    /// `v3.20` in repository paths made from `--mirror`.
    pub release: String,
    /// Requested packages: the profile's, then the spec's own.
    pub packages: Vec<String>,
    /// Repository URLs as apk writes them (`https://MIRROR/alpine/v3.20/main`, or
    /// `file://`); empty means `/etc/apk/repositories`.
    pub repositories: Vec<String>,
    /// Key files or directories of `*.rsa.pub`; empty means `/etc/apk/keys`.
    pub keys: Vec<PathBuf>,
    /// How the packages are laid out in layers.
    pub layering: Layering,
}

impl AlpineSpec {
    /// The repository branch: `v3.20` for `3.20` and `3.20.3`, `edge` for `edge`.
    pub fn branch(&self) -> String {
        if self.release == "edge" {
            return "edge".into();
        }
        let mut parts = self.release.split('.');
        format!(
            "v{}.{}",
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default()
        )
    }
}

/// RPM image kinds, named by `image.profile` under `[rpm]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpmProfile {
    /// As UBI micro: the smallest set that runs a dynamically linked program.
    Micro,
}

impl RpmProfile {
    /// The packages the profile asks for (dependencies are resolved on top). The release
    /// package is asked for by the capability every RPM distribution's provides
    /// (`system-release`), so that one profile serves them all.
    pub fn packages(self) -> Vec<&'static str> {
        vec!["system-release", "filesystem", "setup", "glibc"]
    }

    /// `micro`.
    pub fn name(self) -> &'static str {
        "micro"
    }
}

/// The RPM part of a spec: a profile and/or packages from signed repositories.
#[derive(Debug, Clone)]
pub struct RpmSpec {
    /// The profile whose packages the image gets.
    pub profile: Option<RpmProfile>,
    /// The distribution release, free text (`el8`): recorded in the lock.
    pub release: String,
    /// Requested packages (names, capabilities or file paths): the profile's, then the
    /// spec's own.
    pub packages: Vec<String>,
    /// Package names left out of the repositories before resolving (as dnf's `--exclude`).
    pub exclude: Vec<String>,
    /// Repository baseurls (`https://…`, or `file://`).
    pub repositories: Vec<String>,
    /// Armoured key files or directories of them.
    pub keys: Vec<PathBuf>,
    /// How the packages are laid out in layers.
    pub layering: Layering,
}

/// An OpenPGP key given in `debian.keys`.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A key file, resolved against the spec's directory.
    File(PathBuf),
    /// An armoured key block written in the spec.
    Inline(String),
}

/// Packages that only maintainer scripts need (Plinth runs none): never installed by a
/// profile, as distroless does. `base-files` pre-depends on awk, `ca-certificates` on
/// openssl and debconf, `tzdata` on debconf.
pub const SCRIPT_ONLY: &[&str] = &["debconf", "debconf-2.0", "openssl", "awk", "mawk"];

/// What the image starts from. Only `scratch` today; Debian profiles come next.
#[derive(Deserialize, Default, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Base {
    /// An empty image: only what the spec adds.
    #[default]
    Scratch,
}

/// A checked spec, ready to build.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The spec file; `src` paths and key files are relative to its directory, and
    /// `plinth.lock` sits beside it.
    pub path: PathBuf,
    /// Image name (`image.name`, else the spec directory's name, else `image`).
    pub name: String,
    /// Image tag (`image.tag`, `latest` by default).
    pub tag: String,
    /// What the image starts from (`image.base`).
    pub base: Base,
    /// The platforms built, in spec order (`image.platforms`, `linux/amd64` by default).
    pub platforms: Vec<Platform>,
    /// Layer compression (`image.compression`).
    pub compression: Compression,
    /// Numeric `uid:gid` the image runs as, and the account name it came from.
    pub run_as: (u32, u32, String),
    /// The image configuration: entrypoint, environment, ports and the like.
    pub config: ImageConfig,
    /// Annotations on the index and every manifest (`[annotations]`).
    pub annotations: BTreeMap<String, String>,
    /// Users and groups: distroless's unless `accounts.defaults = false`, then the spec's.
    pub accounts: Accounts,
    /// Local files and directory trees copied into the image (`[[files]]`).
    pub files: Vec<FileSpec>,
    /// Directories made in the image (`[[dirs]]`).
    pub dirs: Vec<DirSpec>,
    /// Symbolic links (`[[symlinks]]`): normalised path in the image, then target as written.
    pub symlinks: Vec<(String, String)>,
    /// Debian packages, when the spec names a profile or a `[debian]` table.
    pub debian: Option<DebianSpec>,
    /// Alpine packages, when the spec has an `[alpine]` table (never with `debian`).
    pub alpine: Option<AlpineSpec>,
    /// RPM packages, when the spec has an `[rpm]` table (never with another distribution).
    pub rpm: Option<RpmSpec>,
}

/// The `[config]` table, checked: what goes into the OCI image configuration.
#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    /// `Entrypoint`; `None` leaves it unset.
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`; `None` leaves it unset.
    pub cmd: Option<Vec<String>>,
    /// Environment variables; `PATH` is always set, and `SSL_CERT_FILE` for Debian- and
    /// Alpine-based images.
    pub env: BTreeMap<String, String>,
    /// Absolute working directory; `None` leaves it unset.
    pub workdir: Option<String>,
    /// Exposed ports as `port/protocol` (`8080/tcp`), sorted and without duplicates.
    pub ports: Vec<String>,
    /// Image labels.
    pub labels: BTreeMap<String, String>,
    /// `StopSignal`, as a name (`SIGTERM`) or number; `None` leaves it unset.
    pub stop_signal: Option<String>,
    /// Absolute paths declared as volumes, in spec order.
    pub volumes: Vec<String>,
}

/// A local file or directory tree copied into the image (`[[files]]`).
#[derive(Debug, Clone)]
pub struct FileSpec {
    /// Absolute path on the local disk.
    pub src: PathBuf,
    /// Destination in the image, normalised (`usr/local/bin/app`).
    pub dst: String,
    /// Mode of the file, or of a tree's top directory; `None` means 0755 for directories and
    /// files their owner may execute, 0644 for the rest (a tree's contents always get these).
    pub mode: Option<u32>,
    /// Owner's numeric user id.
    pub uid: u32,
    /// Owner's numeric group id.
    pub gid: u32,
    /// Only on these platforms; `None` for every platform the spec builds.
    pub platforms: Option<Vec<Platform>>,
}

/// A directory made in the image (`[[dirs]]`).
#[derive(Debug, Clone)]
pub struct DirSpec {
    /// Normalised path in the image (`var/lib/app`).
    pub path: String,
    /// Permission bits (0755 by default).
    pub mode: u32,
    /// Owner's numeric user id.
    pub uid: u32,
    /// Owner's numeric group id.
    pub gid: u32,
}

/// Largest spec file read: specs are a few kilobytes of TOML.
pub const MAX_SPEC_BYTES: u64 = 4 << 20;

pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
impl Spec {
    /// Reads and checks the spec at `path`: a regular file of at most [`MAX_SPEC_BYTES`]
    /// (a device or an endless pipe given as a spec is an error, not a read that never
    /// ends).
    pub fn load(path: &Path) -> Result<Spec, BuildError> {
        let text =
            plinth_core::files::read_regular_to_string(path, MAX_SPEC_BYTES).map_err(|source| {
                BuildError::ReadSpec {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        Spec::parse(path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec, BuildError> {
        Spec::parse(Path::new("/nonexistent-dir/plinth.toml"), text)
    }

    fn msg(text: &str) -> String {
        match parse(text) {
            Err(e) => {
                e.to_string()
                    + &format!(
                        " / {:?}",
                        match &e {
                            BuildError::Spec(s) => s.to_string(),
                            _ => String::new(),
                        }
                    )
            }
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn minimal_spec_gets_defaults() {
        let s = parse("[image]\nname = \"x\"\n").unwrap();
        assert_eq!(s.tag, "latest");
        assert_eq!(s.run_as, (65532, 65532, "nonroot".into()));
        assert_eq!(s.platforms, vec![Platform::parse("linux/amd64").unwrap()]);
        assert_eq!(s.config.env["PATH"], DEFAULT_PATH);
    }

    #[test]
    fn errors_carry_line_and_key() {
        let m = msg("[image]\nname = \"x\"\nbogus = 1\n");
        assert!(m.contains(":3:1") && m.contains("bogus"), "{m}");
        let m = msg("[image]\nplatforms = [\"linux/amd64\", \"linux/sparc\"]\n");
        assert!(m.contains(":2:29") && m.contains("sparc"), "{m}");
        let m = msg("[image]\nrun-as = \"ghost\"\n");
        assert!(m.contains(":2:10") && m.contains("ghost"), "{m}");
        let m = msg("[image]\n[[files]]\nsrc = \"nope\"\ndst = \"/x\"\n");
        assert!(m.contains(":3:7") && m.contains("does not exist"), "{m}");
        let m = msg("[image]\n[[symlinks]]\npath = \"/a/../../b\"\ntarget = \"x\"\n");
        assert!(m.contains(":3:8") && m.contains(".."), "{m}");
        let m = msg("[image]\n[[dirs]]\npath = \"/d\"\nmode = \"0999\"\n");
        assert!(m.contains(":4:8"), "{m}");
        let m = msg("[image\n");
        assert!(m.contains(":1:"), "{m}");
    }

    /// The security suite is on unless the spec leaves it out explicitly (issue 13,
    /// point 9), and leaving it out changes the lock's inputs.
    #[test]
    fn security_is_on_unless_the_spec_says_false() {
        let on = parse("[image]\nprofile = \"base\"\n[debian]\nrelease = \"trixie\"\n").unwrap();
        let d = on.debian.as_ref().unwrap();
        assert!(d.security && d.security_mirror.is_none());
        let off = parse(
            "[image]\nprofile = \"base\"\n[debian]\nrelease = \"trixie\"\nsecurity = false\n",
        )
        .unwrap();
        assert!(!off.debian.as_ref().unwrap().security);
        assert_ne!(
            crate::debian::inputs_digest(&on, d),
            crate::debian::inputs_digest(&off, off.debian.as_ref().unwrap())
        );
        let m = parse("[image]\nprofile = \"base\"\n[debian]\nsecurity-mirror = \"http://s.example/debian-security/\"\n")
            .unwrap();
        assert_eq!(
            m.debian.unwrap().security_mirror.as_deref(),
            Some("http://s.example/debian-security")
        );
        let e = msg("[image]\nprofile = \"base\"\n[debian]\nsecurity-mirror = \"s.example\"\n");
        assert!(
            e.contains(":4:19") && e.contains("security-mirror `s.example`"),
            "{e}"
        );
        let e = msg(
            "[image]\nprofile = \"base\"\n[debian]\nsecurity = false\nsecurity-mirror = \"http://s.example/\"\n",
        );
        assert!(e.contains("`security = false`"), "{e}");
    }
}
