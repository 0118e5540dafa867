//! What is inside an image.
//!
//! [`subject::open`] reads an image or a root filesystem into a squashed [`ImageFs`];
//! [`catalog`](mod@catalog) runs the catalogers over it and returns an [`Sbom`];
//! [`format`](mod@format) writes it as SPDX 2.3, CycloneDX 1.6, a table or Plinth's own
//! JSON; [`facts`] answers the hardening questions (shell, package manager, user, setuid
//! files, sizes).

#![deny(missing_docs)]

pub mod catalog;
pub mod check;
pub mod distro;
mod error;
pub mod facts;
pub mod format;
pub mod model;
pub mod purl;
pub mod subject;

use std::collections::HashSet;

pub use error::{Error, Result};
pub use model::{Distro, Package, PackageKind};
use plinth_oci::ImageFs;
use serde::Serialize;
pub use subject::{Subject, SubjectKind};

/// What was catalogued, and from what.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Sbom {
    /// The name the user gave the subject.
    pub name: String,
    /// The manifest digest, for images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `os/arch[/variant]`, for images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// `oci-layout`, `rootfs-dir`, …
    pub source_kind: String,
    /// The detected operating system; `None` when no `os-release` (or equivalent) was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// Every package found, in [`Package::sort_key`] order.
    pub packages: Vec<Package>,
    /// What was skipped and why (malformed databases, unreadable binaries).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Sbom {
    /// Packages of one kind.
    pub fn count(&self, kind: PackageKind) -> usize {
        self.packages.iter().filter(|p| p.kind() == kind).count()
    }
}

/// Runs every cataloger over `fs`.
pub fn catalog_fs(fs: &ImageFs) -> (Option<Distro>, Vec<Package>, Vec<String>) {
    let mut warnings = Vec::new();
    let distro = catalog::os::detect(fs, &mut warnings);
    let empty = HashSet::new();
    let mut os = catalog::Findings::default();
    {
        let cx = catalog::Context {
            fs,
            distro: distro.as_ref(),
            owned: &empty,
        };
        for c in catalog::os_catalogers() {
            c.catalog(&cx, &mut os);
        }
    }
    let owned: HashSet<String> = os
        .packages
        .iter()
        .flat_map(|p| p.files.iter().cloned())
        .collect();
    let mut lang = catalog::Findings::default();
    {
        let cx = catalog::Context {
            fs,
            distro: distro.as_ref(),
            owned: &owned,
        };
        for c in catalog::language_catalogers() {
            c.catalog(&cx, &mut lang);
        }
    }
    let mut packages = os.packages;
    packages.extend(lang.packages);
    packages.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    warnings.extend(fs.warnings().iter().cloned());
    warnings.extend(os.warnings);
    warnings.extend(lang.warnings);
    (distro, packages, warnings)
}

/// Catalogues an opened subject.
pub fn catalog(subject: &Subject) -> Sbom {
    let (distro, packages, warnings) = catalog_fs(&subject.fs);
    Sbom {
        name: subject.reference.clone(),
        digest: subject.digest(),
        platform: subject.platform(),
        source_kind: subject.kind.as_str().to_string(),
        distro,
        packages,
        warnings,
    }
}
