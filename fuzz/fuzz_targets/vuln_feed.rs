//! libFuzzer target: see `plinth_fuzz::vuln::vuln_feed` (fuzz/src/vuln.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| plinth_fuzz::vuln::vuln_feed(data));
