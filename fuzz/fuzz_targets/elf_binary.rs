//! libFuzzer target: see `plinth_fuzz::sbom::elf_binary` (fuzz/src/sbom.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| plinth_fuzz::sbom::elf_binary(data));
