//! Alpine's `/lib/apk/db/installed`: any bytes parse to packages and warnings.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = plinth_sbom::catalog::apk::parse(data);
});
