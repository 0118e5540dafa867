//! Imports feed files into a fresh temporary database and prints how long it took:
//! `cargo run --release -p plinth-vuln --example import -- FILE...`

use std::time::Instant;

use plinth_core::progress::NoReporter;
use plinth_vuln::import::{Input, import};

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: import FILE_OR_DIR...");
        std::process::exit(2);
    }
    let tmp = tempfile::tempdir().expect("temporary directory");
    let db = tmp.path().join("vuln.db");
    let inputs: Vec<Input> = files.iter().map(Input::new).collect();
    let start = Instant::now();
    match import(&db, &inputs, &NoReporter) {
        Ok(report) => {
            let elapsed = start.elapsed();
            for s in &report.sources {
                let skipped: Vec<String> =
                    s.skipped.iter().map(|(r, n)| format!("{r}: {n}")).collect();
                println!(
                    "{}: {} advisories, {} skipped [{}]",
                    s.name,
                    s.records,
                    s.skipped_total(),
                    skipped.join(", ")
                );
            }
            for note in &report.notes {
                println!("note: {note}");
            }
            let size = fs_err::metadata(&db).map(|m| m.len()).unwrap_or(0);
            println!(
                "imported {} advisories in {:.3} s ({} KiB database)",
                report.records(),
                elapsed.as_secs_f64(),
                size / 1024
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            std::process::exit(1);
        }
    }
}
