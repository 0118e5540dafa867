//! The fuzz targets of the package-database parsers (deb822 from plinth-dpkg, the dpkg
//! and apk catalogers, the ELF readers), run in every CI run without a nightly
//! compiler: each target's committed corpus (`fuzz/corpus/TARGET/`) and a fixed number of
//! seeded mutations of each input (`fuzz/src/replay.rs`). The target bodies are the same
//! source files the libFuzzer targets call (`fuzz/src/sbom.rs`).

#[path = "../../../../fuzz/src/sbom.rs"]
mod bodies;
#[path = "../../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn fuzz_corpus_deb822() {
    replay::replay("deb822", 500, bodies::deb822);
}

#[test]
fn fuzz_corpus_dpkg_status() {
    replay::replay("dpkg_status", 500, bodies::dpkg_status);
}

#[test]
fn fuzz_corpus_apk_installed() {
    replay::replay("apk_installed", 500, bodies::apk_installed);
}

#[test]
fn fuzz_corpus_elf_binary() {
    replay::replay("elf_binary", 500, bodies::elf_binary);
}
