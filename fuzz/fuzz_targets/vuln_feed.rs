//! Vulnerability feeds: the first byte picks the importer (Debian tracker JSON,
//! vuln-list-debian, its distributions file, an OSV record, an Alpine secdb in YAML or
//! JSON); the rest is the document. Any bytes give a report or an error, never a panic.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use plinth_vuln::import::{Format, check_document};

const FORMATS: [Format; 5] = [
    Format::DebianTracker,
    Format::DebianVulnList,
    Format::DebianDistributions,
    Format::Osv,
    Format::AlpineSecdb,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, doc)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(pick) % FORMATS.len()];
    let _ = check_document(format, Path::new("fuzz"), doc);
});
