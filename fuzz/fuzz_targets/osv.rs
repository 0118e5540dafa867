//! libFuzzer target: see `plinth_fuzz::vuln::osv` (fuzz/src/vuln.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| plinth_fuzz::vuln::osv(data));
