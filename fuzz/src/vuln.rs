//! Fuzz bodies for the vulnerability feed importers. Shared, through `#[path]`, by the
//! libFuzzer targets and by plinth-vuln's corpus replay test
//! (`crates/plinth-vuln/tests/it/fuzz_corpus.rs`).

use std::path::Path;

use plinth_vuln::import::{Format, check_document};

/// An OSV record, or (bytes starting with `PK`) a zip of records as in an `all.zip`.
pub fn osv(data: &[u8]) {
    let _ = check_document(Format::Osv, Path::new("fuzz.osv"), data);
}

/// Any feed: the first byte picks the importer (Debian tracker JSON, vuln-list-debian,
/// its distributions file, OSV, Alpine secdb YAML or JSON), the rest is the document.
pub fn vuln_feed(data: &[u8]) {
    const FORMATS: [Format; 5] = [
        Format::DebianTracker,
        Format::DebianVulnList,
        Format::DebianDistributions,
        Format::Osv,
        Format::AlpineSecdb,
    ];
    let Some((&pick, doc)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(pick) % FORMATS.len()];
    let _ = check_document(format, Path::new("fuzz"), doc);
}
