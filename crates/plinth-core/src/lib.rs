//! What every Plinth crate needs and that is about no domain: progress reporting
//! ([`progress`]), the bounded HTTP client (`http`, behind the feature of that name),
//! cache directories and output modes ([`dirs`]), dates ([`date`]), bounded reads of
//! user-named files ([`files`]), parallel maps ([`par`]) and versioned TOML files
//! (`lockfile`, behind the feature of that name) and OpenPGP key files (`openpgp`, likewise). This crate is the leaf of
//! the graph: it knows no image, package or vulnerability.
#![deny(missing_docs)]

pub mod date;
pub mod dirs;
pub mod files;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "lockfile")]
pub mod lockfile;
#[cfg(feature = "openpgp")]
pub mod openpgp;
pub mod par;
pub mod progress;

pub use progress::{NoReporter, Reporter};
