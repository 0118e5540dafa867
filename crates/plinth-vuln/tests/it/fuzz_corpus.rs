//! The fuzz targets of the feed importers, run in every CI run without a nightly
//! compiler: each target's committed corpus (`fuzz/corpus/TARGET/`) and a fixed number of
//! seeded mutations of each input (`fuzz/src/replay.rs`). The target bodies are the same
//! source files the libFuzzer targets call (`fuzz/src/vuln.rs`).

#[path = "../../../../fuzz/src/vuln.rs"]
mod bodies;
#[path = "../../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn fuzz_corpus_osv() {
    replay::replay("osv", 300, bodies::osv);
}

#[test]
fn fuzz_corpus_vuln_feed() {
    replay::replay("vuln_feed", 200, bodies::vuln_feed);
}
