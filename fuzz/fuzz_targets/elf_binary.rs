//! ELF files as the Go buildinfo and cargo-auditable readers see them: truncated
//! headers, huge section sizes and bad varints give an error, never a panic or a huge
//! allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = plinth_sbom::catalog::golang::parse_elf(data);
    let _ = plinth_sbom::catalog::golang::read_buildinfo(data);
    let _ = plinth_sbom::catalog::rust::parse_elf(data);
    let _ = plinth_sbom::catalog::rpm::parse_header(data);
});
