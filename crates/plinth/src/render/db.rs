//! `db`'s renderings: the import summary and the status table.

use std::time::Duration;

use plinth_vuln::ImportReport;
use plinth_vuln::status::Status;

/// One line per source, with every skip reason counted: nothing is dropped silently.
pub fn import_summary(r: &ImportReport) -> String {
    let mut o = String::new();
    for s in &r.sources {
        o.push_str(&format!("{:<34} {:>8} advisories", s.name, s.records));
        if s.skipped_total() > 0 {
            let why: Vec<String> = s
                .skipped
                .iter()
                .map(|(reason, n)| format!("{n} {reason}"))
                .collect();
            o.push_str(&format!(
                ", {} skipped ({})",
                s.skipped_total(),
                why.join(", ")
            ));
        }
        o.push('\n');
    }
    for n in &r.notes {
        o.push_str(&format!("note: {n}\n"));
    }
    o.push_str(&format!(
        "Imported {} advisories into {}\n",
        r.records(),
        r.path.display()
    ));
    o
}

/// The `db status` table.
pub fn status_table(st: &Status) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut o = format!(
        "Database:   {} (schema {})\nAdvisories: {}\n",
        st.path, st.schema, st.advisories
    );
    if let (Some(t), Some(age)) = (&st.oldest_import, st.age_seconds) {
        o.push_str(&format!(
            "Age:        {} (oldest source imported {t})\n",
            ago(Duration::from_secs(age))
        ));
    }
    o.push_str(
        "\nSOURCE                             RECORDS  SKIPPED  IMPORTED              ORIGIN\n",
    );
    for s in &st.sources {
        let age = Duration::from_secs(now.saturating_sub(s.info.imported_at).max(0) as u64);
        o.push_str(&format!(
            "{:<34} {:>8} {:>8}  {:<20}  {}\n",
            s.info.name,
            s.info.records,
            s.info.skipped,
            format!("{} ago", ago(age)),
            s.info.origin
        ));
        for (reason, n) in &s.skipped_reasons {
            o.push_str(&format!("{:>45}  {reason}\n", format!("{n} ×")));
        }
    }
    o.push_str("\nECOSYSTEM            ADVISORIES\n");
    for e in &st.ecosystems {
        o.push_str(&format!("{:<20} {:>10}\n", e.ecosystem, e.advisories));
    }
    o
}

/// `3 days`, `5 hours`, …
fn ago(d: Duration) -> String {
    plinth_vuln::report::ago(d.as_secs())
}
