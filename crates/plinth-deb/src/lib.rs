//! Debian side of Plinth: apt sources discovery, signed Release files, Packages indexes,
//! Debian version ordering and dependency resolution. See the crate README for a tour.

pub mod archive;
pub mod cache;
pub mod changelog;
pub mod control;
pub mod debfile;
pub mod deps;
pub mod http;
pub mod keyring;
pub mod lock;
pub mod packages;
pub mod progress;
pub mod release;
pub mod repo;
pub mod resolve;
pub mod sources;
pub mod version;

pub use version::{Version, VersionError};
