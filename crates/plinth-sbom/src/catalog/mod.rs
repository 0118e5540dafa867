//! Catalogers: each reads the squashed [`ImageFs`] and reports the packages of one kind.
//!
//! OS catalogers (dpkg, apk, rpm) run first; the files their packages own are then
//! handed to the language catalogers, which do not report them again.

use std::collections::HashSet;

use plinth_oci::ImageFs;

use crate::model::{Distro, Package};

pub mod apk;
pub mod dpkg;
pub mod golang;
pub mod npm;
pub mod os;
pub mod python;
pub mod rpm;
pub mod rust;

/// What a cataloger sees.
#[derive(Debug)]
pub struct Context<'a> {
    /// The squashed filesystem to read.
    pub fs: &'a ImageFs,
    /// The detected OS, for PURL qualifiers (`distro=debian-12`).
    pub distro: Option<&'a Distro>,
    /// Files owned by OS packages (no leading `/`): language catalogers skip them.
    pub owned: &'a HashSet<String>,
}

/// What a cataloger found: packages, and warnings naming what it skipped and why.
#[derive(Debug, Default)]
pub struct Findings {
    /// Packages found, in the order the cataloger met them.
    pub packages: Vec<Package>,
    /// What was skipped and why, each naming the file involved.
    pub warnings: Vec<String>,
}

/// One source of packages.
pub trait Cataloger: Sync {
    /// A short name, e.g. `dpkg`.
    fn name(&self) -> &'static str;
    /// Adds what it finds in `cx.fs` to `out`. Never panics on malformed input: what
    /// cannot be parsed becomes a warning naming the file.
    fn catalog(&self, cx: &Context<'_>, out: &mut Findings);
}

/// The OS package catalogers, in the order they run.
pub fn os_catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![Box::new(dpkg::Dpkg), Box::new(apk::Apk), Box::new(rpm::Rpm)]
}

/// The language catalogers, which run after the OS ones.
pub fn language_catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(golang::GoBinaries),
        Box::new(rust::CargoAuditable),
        Box::new(python::Python),
        Box::new(npm::Npm),
    ]
}

/// Whether a cataloger (or the facts) reads the file at `path` (no leading `/`).
fn read_by_name(path: &str) -> bool {
    os::wants(path)
        || dpkg::wants(path)
        || apk::wants(path)
        || rpm::wants(path)
        || python::wants(path)
        || npm::wants(path)
        || crate::facts::wants(path)
}

/// Names what [`wants_file`] and [`retain_file`] keep, for the layer cache
/// ([`plinth_oci::LayerCache`]): entries written under another tag are never used. A
/// cache entry replays exactly only if the rules are the same, so a change to either
/// function bumps the number here. (A file newly wanted by name is caught without it:
/// the cache reads a layer again when its entry lacks a file the reader wants.)
pub const READER_TAG: &str = concat!("plinth-sbom ", env!("CARGO_PKG_VERSION"), " reader 1");

/// Whether the image reader should keep the bytes of the file at `path` (no leading
/// `/`) with `mode`: the catalogers' inputs and executables (for Go and Rust binaries).
pub fn wants_file(path: &str, mode: u32) -> bool {
    read_by_name(path) || (mode & 0o111 != 0 && !path.ends_with(".sh"))
}

/// Whether kept bytes are worth holding on to: executables kept only for being
/// executable stay when they are ELF.
pub fn retain_file(path: &str, mode: u32, bytes: &[u8]) -> bool {
    mode & 0o111 == 0 || bytes.starts_with(b"\x7fELF") || read_by_name(path)
}
