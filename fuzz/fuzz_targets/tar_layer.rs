//! libFuzzer target: see `plinth_fuzz::oci::tar_layer` (fuzz/src/oci.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| plinth_fuzz::oci::tar_layer(data));
