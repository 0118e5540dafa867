//! The integration tests of plinth-deb, in one binary.

mod repo;
mod support;
mod system;
