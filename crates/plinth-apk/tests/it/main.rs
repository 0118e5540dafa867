//! The integration tests of plinth-apk, in one binary: real Alpine data first, then the
//! signed repositories the writer makes for the tampering cases.

mod fuzz_corpus;
mod installed;
mod minirootfs;
mod real;
mod resolve;
mod support;
mod version;
mod written;
