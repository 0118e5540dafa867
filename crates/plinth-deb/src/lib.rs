//! Debian's archive for Plinth: apt sources discovery, signed Release files, Packages
//! indexes, dependency resolution, `.deb` reading, changelogs, the package cache and the
//! lock. The text formats it reads (control paragraphs, versions) are `plinth-dpkg`'s;
//! the HTTP client is `plinth-core`'s. See the crate README for a tour.
#![deny(missing_docs)]

pub mod archive;
pub mod cache;
pub mod changelog;
pub mod debfile;
pub mod deps;
pub mod keyring;
pub mod lock;
pub mod packages;
pub mod release;
pub mod repo;
pub mod resolve;
pub mod sources;
