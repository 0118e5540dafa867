//! The integration tests of plinth-vuln, in one binary (one link instead of eight).

mod archive;
mod bad_input;
mod fuzz_corpus;
mod hostile_feeds;
mod match_rules;
mod match_support;
mod match_suppress;
mod mutations;
#[path = "../../../../tests/support/overlapping_zip.rs"]
mod overlapping_zip;
mod real_data;
mod report;
mod sbomin;
