//! Debian's text formats, with no network and no cryptography: deb822 control paragraphs
//! ([`control`]: dpkg `status`, `Packages`, `Release`, `.sources`), package versions
//! ordered exactly as dpkg orders them ([`version`]), and the one table of Debian
//! releases ([`releases`]). Readers of an image's package database (`plinth-sbom`) use
//! this crate; the archive client (`plinth-deb`) builds on it.
#![deny(missing_docs)]

pub mod control;
pub mod releases;
pub mod version;

pub use version::{Version, VersionError};
