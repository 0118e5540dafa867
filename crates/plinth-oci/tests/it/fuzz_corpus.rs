//! The fuzz targets of plinth-oci's readers, run in every CI run without a nightly
//! compiler: each target's committed corpus (`fuzz/corpus/TARGET/`) and a fixed number of
//! seeded mutations of each input (`fuzz/src/replay.rs`). The target bodies are the same
//! source files the libFuzzer targets call (`fuzz/src/oci.rs`).

#[path = "../../../../fuzz/src/oci.rs"]
mod bodies;
#[path = "../../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn fuzz_corpus_tar_layer() {
    replay::replay("tar_layer", 300, bodies::tar_layer);
}

#[test]
fn fuzz_corpus_oci_layout() {
    replay::replay("oci_layout", 150, bodies::oci_layout);
}

#[test]
fn fuzz_corpus_image_archive() {
    replay::replay("image_archive", 150, bodies::image_archive);
}
