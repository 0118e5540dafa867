//! dpkg `status` / `status.d` entries, `.list` and `.md5sums` files: any bytes parse to
//! packages and warnings, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = plinth_sbom::catalog::dpkg::parse(data);
    let _ = plinth_sbom::catalog::dpkg::parse_file_list(data);
    let _ = plinth_sbom::catalog::dpkg::parse_md5sums(data);
    let _ = plinth_sbom::catalog::os::parse_os_release(data);
});
