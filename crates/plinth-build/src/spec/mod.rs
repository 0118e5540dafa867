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

mod accounts;
mod config;
mod ctx;
mod debian;
mod parse;
mod raw;

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
    pub profile: Option<Profile>,
    pub release: Release,
    /// Requested packages: the profile's, then the spec's own.
    pub packages: Vec<String>,
    /// Never installed (and treated as present when resolving).
    pub exclude: Vec<String>,
    pub layering: Layering,
    /// A mirror base URI overriding the machine's apt sources.
    pub mirror: Option<String>,
    /// Extra OpenPGP keys trusted for the mirror: files (relative to the spec) or
    /// armoured blocks written in the spec.
    pub keys: Vec<KeySource>,
    /// Extra CA certificates (PEM files) appended to the CA bundle.
    pub ca_certificates: Vec<PathBuf>,
    /// Keep manuals and documentation other than `copyright` files.
    pub keep_docs: bool,
}

#[derive(Debug, Clone)]
pub enum KeySource {
    File(PathBuf),
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
    #[default]
    Scratch,
}

/// A checked spec, ready to build.
#[derive(Debug, Clone)]
pub struct Spec {
    pub path: PathBuf,
    pub name: String,
    pub tag: String,
    pub base: Base,
    pub platforms: Vec<Platform>,
    pub compression: Compression,
    /// Numeric `uid:gid` the image runs as, and the account name it came from.
    pub run_as: (u32, u32, String),
    pub config: ImageConfig,
    pub annotations: BTreeMap<String, String>,
    pub accounts: Accounts,
    pub files: Vec<FileSpec>,
    pub dirs: Vec<DirSpec>,
    pub symlinks: Vec<(String, String)>,
    /// Debian packages, when the spec names a profile or a `[debian]` table.
    pub debian: Option<DebianSpec>,
}

#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    pub ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    pub volumes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FileSpec {
    /// Absolute path on the local disk.
    pub src: PathBuf,
    /// Destination in the image, normalised (`usr/local/bin/app`).
    pub dst: String,
    pub mode: Option<u32>,
    pub uid: u32,
    pub gid: u32,
    pub platforms: Option<Vec<Platform>>,
}

#[derive(Debug, Clone)]
pub struct DirSpec {
    pub path: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
impl Spec {
    /// Reads and checks the spec at `path`.
    pub fn load(path: &Path) -> Result<Spec, BuildError> {
        let text = fs_err::read_to_string(path).map_err(|source| BuildError::ReadSpec {
            path: path.to_path_buf(),
            source,
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
}
