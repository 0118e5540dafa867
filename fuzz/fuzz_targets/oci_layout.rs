//! libFuzzer target: see `plinth_fuzz::oci::oci_layout` (fuzz/src/oci.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| plinth_fuzz::oci::oci_layout(data));
