//! libFuzzer target: see `plinth_fuzz::apk::apk_data_tar` (fuzz/src/apk.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| plinth_fuzz::apk::apk_data_tar(data));
