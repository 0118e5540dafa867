//! libFuzzer target: see `plinth_fuzz::sbom::dpkg_status` (fuzz/src/sbom.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| plinth_fuzz::sbom::dpkg_status(data));
