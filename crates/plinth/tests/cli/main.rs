//! CLI tests: they run the real `plinth` binary, and real tools where the test says so.

mod alpine;
mod architecture;
mod bad_input;
mod build;
mod common;
mod debian;
mod exit_codes;
mod hostile;
mod interop;
mod layer_cache;
mod modes;
mod output;
#[path = "../../../../tests/support/overlapping_zip.rs"]
mod overlapping_zip;
mod reader;
mod readme;
mod registry;
mod rpm;
mod sbom;
mod scan;
mod serve;
mod serve_auth;
mod serve_clients;
mod serve_gc;
mod serve_s3;
mod serve_spec;
mod support;
mod system;
mod system_userns;
mod tampered;
mod ubuntu;
