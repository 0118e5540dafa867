//! `compare`: one column of facts per image, with its vulnerability counts when a
//! database is at hand. The caller renders the columns (table, Markdown, JSON, HTML).

use std::collections::BTreeMap;

use plinth_sbom::facts::{Facts, facts};
use plinth_sbom::{Sbom, Subject};
use serde::Serialize;

use crate::matcher::{AdvisoryLookup, MatchError, ReleaseStatus, scan};

/// Findings per severity.
pub type Counts = BTreeMap<String, usize>;

/// One image's column.
#[derive(Clone, Debug, Serialize)]
pub struct Column {
    /// What the image holds (OS, size, layers, package counts), serialized inline.
    #[serde(flatten)]
    pub facts: Facts,
    /// Vulnerabilities by severity, when a database is available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cves: Option<Counts>,
    /// Why the counts are missing or incomplete (unknown or end-of-life release).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cves_note: Option<String>,
}

/// Findings per severity under the default rules, and why they may be incomplete.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CveCounts {
    /// Findings by severity name (`critical` … `unknown`, all six present); `None`
    /// when the OS release could not be told, or no database was given.
    pub counts: Option<Counts>,
    /// Why the counts are missing or leave the OS packages out, for the column.
    pub note: Option<String>,
    /// Something the user should hear about (the release could not be told).
    pub warning: Option<String>,
}

/// Counts `sbom`'s findings in `lookup`. An unknown OS release is a note and a warning,
/// not an error: the other columns still compare.
pub fn cve_counts(sbom: &Sbom, lookup: &dyn AdvisoryLookup) -> Result<CveCounts, MatchError> {
    let r = match scan(sbom, lookup, &Default::default()) {
        Ok(r) => r,
        Err(e @ MatchError::UnknownRelease { .. }) => {
            return Ok(CveCounts {
                counts: None,
                note: Some("unknown OS release".into()),
                warning: Some(format!("{}: {e}", sbom.name)),
            });
        }
        Err(e) => return Err(e),
    };
    let c = &r.counts;
    let counts = [
        ("critical", c.critical),
        ("high", c.high),
        ("medium", c.medium),
        ("low", c.low),
        ("negligible", c.negligible),
        ("unknown", c.unknown),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let note = match r.release_status {
        ReleaseStatus::EndOfLife => Some(format!(
            "{} end-of-life: OS packages not checked",
            r.ecosystem.as_deref().unwrap_or("release")
        )),
        ReleaseStatus::Unsupported => Some(format!(
            "{} not in the database: OS packages not checked",
            r.ecosystem.as_deref().unwrap_or("release")
        )),
        _ => None,
    };
    Ok(CveCounts {
        counts: Some(counts),
        note,
        warning: None,
    })
}

/// The column of `subject` (catalogued as `sbom`), with CVE counts when `lookup` is
/// given; the second value is a warning for the user, if any.
pub fn column(
    subject: &Subject,
    sbom: &Sbom,
    lookup: Option<&dyn AdvisoryLookup>,
) -> Result<(Column, Option<String>), MatchError> {
    let cves = match lookup {
        None => CveCounts::default(),
        Some(l) => cve_counts(sbom, l)?,
    };
    Ok((
        Column {
            facts: facts(subject, sbom),
            cves: cves.counts,
            cves_note: cves.note,
        },
        cves.warning,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::MemoryStore;
    use plinth_sbom::{Package, PackageKind};

    #[test]
    fn no_packages_count_zero_of_each_severity() {
        let c = cve_counts(&Sbom::default(), &MemoryStore::new()).unwrap();
        let counts = c.counts.unwrap();
        assert_eq!(counts.len(), 6);
        assert!(counts.values().all(|n| *n == 0));
        assert_eq!((c.note, c.warning), (None, None));
    }

    #[test]
    fn os_packages_of_an_unknown_release_are_a_note_not_an_error() {
        let sbom = Sbom {
            name: "img".into(),
            packages: vec![Package {
                kind: Some(PackageKind::Deb),
                name: "zlib1g".into(),
                version: "1:1.2.13.dfsg-1".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let c = cve_counts(&sbom, &MemoryStore::new()).unwrap();
        assert_eq!(c.counts, None);
        assert_eq!(c.note.as_deref(), Some("unknown OS release"));
        assert!(
            c.warning
                .unwrap()
                .starts_with("img: cannot tell which release")
        );
    }
}
