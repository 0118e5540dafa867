//! The integration tests of plinth-rpm, in one binary. They run on the real, publisher-
//! signed data in `tests/data/` (see its PROVENANCE.md) and on repositories generated at
//! test time with rpmbuild, rpmsign, createrepo_c and gpg (`generated`).

mod entries;
mod generated;
mod packages;
mod primary;
mod repomd;
mod rpmdb;
mod support;
mod version;
