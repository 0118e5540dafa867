//! The package model every cataloger fills and every format writer reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The ecosystem a package belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageKind {
    /// A Debian package (dpkg `status` or distroless `status.d/`).
    Deb,
    /// An Alpine package (`/lib/apk/db/installed`).
    Apk,
    /// An RPM package (`rpmdb.sqlite`).
    Rpm,
    /// A Go module from a binary's buildinfo (the toolchain is the module `stdlib`).
    Go,
    /// A Rust crate from a binary's cargo-auditable `.dep-v0` section.
    Cargo,
    /// A Python distribution (`*.dist-info`, `*.egg-info`).
    Python,
    /// An npm package (`node_modules/**/package.json`).
    Npm,
}

impl PackageKind {
    /// The PURL type.
    pub fn purl_type(self) -> &'static str {
        match self {
            PackageKind::Deb => "deb",
            PackageKind::Apk => "apk",
            PackageKind::Rpm => "rpm",
            PackageKind::Go => "golang",
            PackageKind::Cargo => "cargo",
            PackageKind::Python => "pypi",
            PackageKind::Npm => "npm",
        }
    }

    /// Packages installed by the OS package manager (as opposed to language packages).
    pub fn is_os(self) -> bool {
        matches!(self, PackageKind::Deb | PackageKind::Apk | PackageKind::Rpm)
    }

    /// The short name shown in the table and in [`crate::facts::Facts::packages`] (`deb`,
    /// `go`, `python`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            PackageKind::Deb => "deb",
            PackageKind::Apk => "apk",
            PackageKind::Rpm => "rpm",
            PackageKind::Go => "go",
            PackageKind::Cargo => "cargo",
            PackageKind::Python => "python",
            PackageKind::Npm => "npm",
        }
    }

    /// Every kind, in [`Package::sort_key`] order.
    pub const ALL: [PackageKind; 7] = [
        PackageKind::Deb,
        PackageKind::Apk,
        PackageKind::Rpm,
        PackageKind::Go,
        PackageKind::Cargo,
        PackageKind::Python,
        PackageKind::Npm,
    ];
}

/// The operating system of an image, from `os-release` and friends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// `ID`, e.g. `debian`, `alpine`.
    pub id: String,
    /// `VERSION_ID`, e.g. `12`, `3.20.3`; for Debian without one, from `debian_version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `VERSION_CODENAME`, e.g. `bookworm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// `PRETTY_NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// `ID_LIKE`, split on spaces.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub id_like: Vec<String>,
    /// Where the facts came from, e.g. `etc/os-release`.
    pub source: String,
}

impl Distro {
    /// The `distro=` PURL qualifier: `debian-12`, `alpine-3.20.3`.
    pub fn purl_qualifier(&self) -> String {
        match &self.version_id {
            Some(v) => format!("{}-{v}", self.id),
            None => self.id.clone(),
        }
    }
}

/// One package found in an image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// The ecosystem; `None` reads as [`PackageKind::Deb`] (see [`Package::kind`]).
    pub kind: Option<PackageKind>,
    /// The package name in its ecosystem (Debian package, Go module path, PyPI project, …).
    pub name: String,
    /// The version, as the ecosystem writes it.
    pub version: String,
    /// The source package (Debian `Source:`, Alpine `origin`, RPM source RPM name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// The source version when it differs from `version` (Debian binNMUs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// The architecture, when the package database records one (`amd64`, `x86_64`, `all`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The declared licence, as written by the package (an SPDX expression when it is one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Index (bottom = 0) of the layer that introduced the package's record or binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// Where the package was found: the database or binary path (no leading `/`).
    pub locations: Vec<String>,
    /// Files the package owns (no leading `/`), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub files: Vec<String>,
    /// The package URL.
    pub purl: String,
    /// Extra facts worth keeping (e.g. `go.toolchain`, `maintainer`), sorted by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub metadata: BTreeMap<String, String>,
}

impl Package {
    /// The ecosystem: [`Package::kind`]'s field, with `None` read as [`PackageKind::Deb`].
    pub fn kind(&self) -> PackageKind {
        self.kind.unwrap_or(PackageKind::Deb)
    }

    /// The source name, or the package's own name when it has none.
    pub fn source_or_name(&self) -> &str {
        self.source_name.as_deref().unwrap_or(&self.name)
    }

    /// The source version, or the package's own version when it has none.
    pub fn source_version_or_version(&self) -> &str {
        self.source_version.as_deref().unwrap_or(&self.version)
    }

    /// The order packages are listed in: by kind, name, version, location.
    pub fn sort_key(&self) -> (PackageKind, &str, &str, Option<&String>) {
        (
            self.kind(),
            &self.name,
            &self.version,
            self.locations.first(),
        )
    }
}
