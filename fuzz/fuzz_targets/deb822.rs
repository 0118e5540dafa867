//! libFuzzer target: see `plinth_fuzz::sbom::deb822` (fuzz/src/sbom.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| plinth_fuzz::sbom::deb822(data));
