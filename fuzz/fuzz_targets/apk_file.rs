//! libFuzzer target: see `plinth_fuzz::apk::apk_file` (fuzz/src/apk.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| plinth_fuzz::apk::apk_file(data));
