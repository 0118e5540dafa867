//! The bodies of Plinth's fuzz targets, one function per target. The same files are
//! compiled into the crates' integration tests (`#[path]` modules), which replay the
//! committed corpora with deterministic mutations (`src/replay.rs`) in every CI run;
//! the libFuzzer targets in `fuzz_targets/` call them under coverage guidance.

#[path = "apk.rs"]
pub mod apk;
#[path = "oci.rs"]
pub mod oci;
#[path = "sbom.rs"]
pub mod sbom;
#[path = "vuln.rs"]
pub mod vuln;
