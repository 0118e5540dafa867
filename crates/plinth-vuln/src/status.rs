//! `db status`: what the database holds (sources, record counts, skip reasons, age),
//! as data for the caller to render.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::db::{Db, SCHEMA_VERSION};
use crate::model::SourceInfo;

/// What a vulnerability database holds and how old it is.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The database file, as displayed.
    pub path: String,
    /// The schema version this build of plinth reads and writes.
    pub schema: i64,
    /// How many advisory records it holds.
    pub advisories: u64,
    /// When the stalest source was imported (RFC 3339); `None` without sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_import: Option<String>,
    /// Seconds since the stalest source was imported; `None` without sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<u64>,
    /// Every imported source, by name.
    pub sources: Vec<SourceStatus>,
    /// Every ecosystem with advisories, by name.
    pub ecosystems: Vec<EcosystemStatus>,
}

/// One imported source (feed) of the database.
#[derive(Clone, Debug, Serialize)]
pub struct SourceStatus {
    /// Its name, origin, import time and record counts, serialized inline.
    #[serde(flatten)]
    pub info: SourceInfo,
    /// When it was imported (RFC 3339).
    pub imported: String,
    /// Why records were skipped at its import, with how many each; empty when none
    /// were.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped_reasons: BTreeMap<String, u64>,
}

/// The advisories the database holds for one ecosystem.
#[derive(Clone, Debug, Serialize)]
pub struct EcosystemStatus {
    /// The normalised ecosystem key (`debian:12`, `go`, …).
    pub ecosystem: String,
    /// How many advisory records it has.
    pub advisories: u64,
}

/// The status of `db`.
pub fn status(db: &Db) -> crate::Result<Status> {
    let info = db.info()?;
    let mut sources = Vec::new();
    for s in info.sources {
        let skipped_reasons = db.skipped_reasons(&s.name)?;
        sources.push(SourceStatus {
            imported: plinth_core::date::format_rfc3339(s.imported_at),
            info: s,
            skipped_reasons,
        });
    }
    Ok(Status {
        path: db.path().display().to_string(),
        schema: SCHEMA_VERSION,
        advisories: info.advisories,
        oldest_import: info.oldest_import,
        age_seconds: db.age()?.map(|d| d.as_secs()),
        sources,
        ecosystems: db
            .ecosystems()?
            .into_iter()
            .map(|(ecosystem, advisories)| EcosystemStatus {
                ecosystem,
                advisories,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{Input, import};
    use plinth_core::progress::NoReporter;

    #[test]
    fn sources_ecosystems_and_skips() {
        let tmp = tempfile::tempdir().unwrap();
        let feed = tmp.path().join("tracker.json");
        fs_err::write(
            &feed,
            r#"{"zlib": {"CVE-2023-45853": {"releases": {
                "bookworm": {"status": "open", "urgency": "low"},
                "duke": {"status": "resolved", "urgency": "low"}}}}}"#,
        )
        .unwrap();
        let path = tmp.path().join("vuln.db");
        import(&path, &[Input::new(&feed)], &NoReporter).unwrap();
        let s = status(&Db::open(&path).unwrap()).unwrap();
        assert_eq!(s.path, path.display().to_string());
        assert_eq!(s.schema, SCHEMA_VERSION);
        assert_eq!(s.advisories, 1);
        assert!(s.age_seconds.is_some() && s.oldest_import.is_some());
        assert_eq!(s.sources.len(), 1);
        assert_eq!(s.sources[0].info.name, "debian-tracker");
        assert!(!s.sources[0].skipped_reasons.is_empty(), "duke is unknown");
        assert_eq!(s.ecosystems[0].ecosystem, "debian:12");
    }
}
