//! RPM repositories for Plinth: signed `repomd.xml` ([`repomd`]), the package list in
//! `primary.xml` ([`primary`]), RPM version ordering ([`version`]), dependencies and their
//! resolution ([`deps`], [`resolve`]), `.rpm` reading and verification ([`package`]) and
//! the sqlite rpm database that rpm and the scanners read ([`rpmdb`]). Keys and the
//! signature policy (version 3 signatures accepted, DSA/SHA-1 and expired keys refused)
//! are in [`keys`]; the lock of an RPM image's packages in [`lock`].
#![deny(missing_docs)]

mod cpio;
pub mod deps;
pub mod header;
pub mod keys;
pub mod lock;
pub mod package;
pub mod primary;
pub mod repomd;
pub mod resolve;
pub mod rpmdb;
pub mod version;
