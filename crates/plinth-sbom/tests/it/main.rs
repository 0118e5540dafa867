//! The integration tests of plinth-sbom, in one binary.

mod catalog;
mod formats;
mod fuzz_corpus;
mod lang_catalogers;
mod lang_toolchains;
