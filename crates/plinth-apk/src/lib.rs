//! Alpine's repository format (apk-tools 2, what every released Alpine serves): signed
//! `APKINDEX.tar.gz` files ([`index`]), `.apk` packages with their signed control
//! section and data hash ([`package`]), apk's version ordering ([`version`]), dependency
//! resolution with `so:`, `cmd:` and `pc:` provides and `!` conflicts ([`resolve`]), the
//! installed database apk, syft and trivy read ([`installed`]), and a writer of signed
//! repositories in the same format for tests and examples ([`write`]), and the lock of
//! an Alpine image's packages ([`lock`]).
//!
//! The chain of trust is apk's: a configured RSA key ([`keys`]) verifies the index's
//! signature; the index's `C:` checksum (SHA-1 of the package's control gzip member)
//! ties each package to the signed index; the package's own signature covers the same
//! control member; the control member's `.PKGINFO` carries `datahash`, the SHA-256 of the
//! data member.
#![deny(missing_docs)]

pub mod gzip;
pub mod index;
pub mod installed;
pub mod keys;
pub mod lock;
pub mod package;
pub mod resolve;
pub mod version;
pub mod write;

pub use rsa;
