//! The Debian Security Tracker: its `data/json` export (streamed: the real file is
//! ~60 MB) and aquasecurity's per-CVE vuln-list-debian files.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{MAX_FIELD_BYTES, Sink, SkipReason, bounded_summary};
use crate::error::{Error, Result};
use crate::model::{Advisory, Range, Severity, Status};
use crate::version::Scheme;

/// The feed name on Debian advisories.
pub const FEED: &str = "debian-tracker";

/// Codename → release number, for the releases the tracker has covered.
pub const RELEASES: [(&str, &str); 9] = [
    ("wheezy", "7"),
    ("jessie", "8"),
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("duke", "15"),
];

/// Releases that inherit unstable's state in vuln-list-debian files when they have no
/// annotation of their own (what the tracker itself does for them).
const INHERITING: [&str; 5] = ["buster", "bullseye", "bookworm", "trixie", "forky"];

pub(crate) fn default_releases() -> HashMap<String, String> {
    let mut m: HashMap<String, String> = RELEASES
        .iter()
        .map(|(c, n)| (c.to_string(), n.to_string()))
        .collect();
    m.insert("sid".into(), "sid".into());
    m.insert("unstable".into(), "sid".into());
    m
}

/// The ecosystem key of a codename: `debian:12`, `debian:sid`.
pub fn ecosystem(releases: &HashMap<String, String>, codename: &str) -> Option<String> {
    releases.get(codename).map(|n| format!("debian:{n}"))
}

/// Debian urgency → severity: `unimportant` → negligible; `low`, `medium`, `high`
/// (with any `*` suffix stripped); `not yet assigned`, `end-of-life` and anything else
/// → none.
pub fn severity_of_urgency(urgency: &str) -> Option<Severity> {
    match urgency.trim().trim_end_matches('*').trim() {
        "unimportant" => Some(Severity::Negligible),
        "low" => Some(Severity::Low),
        "medium" => Some(Severity::Medium),
        "high" => Some(Severity::High),
        _ => None,
    }
}

fn is_end_of_life(urgency: Option<&str>) -> bool {
    urgency.is_some_and(|u| u.trim().trim_end_matches('*') == "end-of-life")
}

// ---- tracker JSON ------------------------------------------------------------------

#[derive(Deserialize)]
struct TrackerCve {
    description: Option<String>,
    #[serde(default, deserialize_with = "releases_map")]
    releases: BTreeMap<String, TrackerRelease>,
}

#[derive(Deserialize)]
struct TrackerRelease {
    status: Option<String>,
    fixed_version: Option<String>,
    urgency: Option<String>,
    nodsa_reason: Option<String>,
}

/// `releases` is an object, except that the tracker writes `[]` when there are none.
fn releases_map<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, TrackerRelease>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<String, TrackerRelease>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of releases (or an empty array)")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut m: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = m.next_entry::<String, TrackerRelease>()? {
                out.insert(k, v);
            }
            Ok(out)
        }
        fn visit_seq<A: SeqAccess<'de>>(
            self,
            mut s: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            while s.next_element::<de::IgnoredAny>()?.is_some() {}
            Ok(BTreeMap::new())
        }
        fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
    }
    d.deserialize_any(V)
}

/// Streams the top-level object: each package's CVEs are converted and written as soon
/// as they are read.
struct Packages<'s, 'c> {
    sink: &'s mut Sink<'c>,
    failure: &'s mut Option<Error>,
}

impl<'de> Visitor<'de> for Packages<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of source packages")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<(), A::Error> {
        while let Some(package) = m.next_key::<String>()? {
            let cves: BTreeMap<String, TrackerCve> = m.next_value()?;
            if let Err(e) = tracker_package(&package, cves, self.sink) {
                *self.failure = Some(e);
                return Err(de::Error::custom("import failed"));
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Packages<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

fn tracker_package(
    package: &str,
    cves: BTreeMap<String, TrackerCve>,
    sink: &mut Sink,
) -> Result<()> {
    for (id, cve) in cves {
        // The id, package and summary are copied into every release's advisory.
        if id.len() > MAX_FIELD_BYTES || package.len() > MAX_FIELD_BYTES {
            sink.skip(SkipReason::OversizedField, cve.releases.len().max(1) as u64);
            continue;
        }
        let summary = cve
            .description
            .filter(|d| !d.trim().is_empty())
            .map(|d| bounded_summary(&d));
        for (codename, rel) in cve.releases {
            let Some(ecosystem) = ecosystem(&sink.debian_releases, &codename) else {
                sink.skip(SkipReason::UnknownRelease, 1);
                continue;
            };
            let Some(status) = rel.status.as_deref() else {
                sink.skip(SkipReason::MissingFields, 1);
                continue;
            };
            let urgency = rel.urgency.as_deref();
            let mut ranges = Vec::new();
            let status = match status {
                "resolved" => match rel.fixed_version.as_deref().map(str::trim) {
                    Some("0") => Status::NotAffected,
                    Some(v) if !v.is_empty() => {
                        if !Scheme::Dpkg.is_valid(v) {
                            sink.skip(SkipReason::UnparseableVersion, 1);
                            continue;
                        }
                        ranges.push(Range {
                            fixed: Some(v.to_string()),
                            ..Range::default()
                        });
                        Status::Fixed
                    }
                    _ => {
                        sink.skip(SkipReason::MissingFields, 1);
                        continue;
                    }
                },
                "open" | "undetermined" if is_end_of_life(urgency) => Status::EndOfLife,
                "open" => match rel.nodsa_reason.as_deref().map(str::trim) {
                    Some("ignored") => Status::WontFix,
                    Some("postponed") => Status::Postponed,
                    _ => Status::Open,
                },
                "undetermined" => Status::Undetermined,
                _ => {
                    sink.skip(SkipReason::UnknownStatus, 1);
                    continue;
                }
            };
            let severity = urgency.and_then(severity_of_urgency);
            sink.add(&Advisory {
                id: id.clone(),
                aliases: Vec::new(),
                source: FEED.into(),
                ecosystem,
                package: package.to_string(),
                status,
                ranges,
                versions: Vec::new(),
                severity,
                severity_source: severity.map(|_| "debian urgency".into()),
                cvss: None,
                summary: summary.clone(),
                symbols: Vec::new(),
                modified: None,
            })?;
        }
    }
    Ok(())
}

/// Imports the tracker's JSON export, streaming it from `reader`.
pub(crate) fn import_tracker(path: &Path, reader: impl Read, sink: &mut Sink) -> Result<()> {
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = Packages {
        sink,
        failure: &mut failure,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Some(e) = failure {
        return Err(e);
    }
    result.map_err(|e| Error::parse(path, format!("not valid Debian Security Tracker JSON: {e}")))
}

// ---- vuln-list-debian --------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VulnList {
    header: Option<VlHeader>,
    #[serde(default)]
    annotations: Option<Vec<VlAnnotation>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VlHeader {
    #[serde(rename = "ID")]
    id: Option<String>,
    description: Option<String>,
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VlAnnotation {
    #[serde(rename = "Type")]
    kind_of_line: Option<String>,
    release: Option<String>,
    package: Option<String>,
    kind: Option<String>,
    version: Option<String>,
    severity: Option<String>,
}

/// Imports one vuln-list-debian CVE file. A release without an annotation of its own
/// inherits unstable's state, as in the tracker.
pub(crate) fn import_vuln_list(path: &Path, bytes: &[u8], sink: &mut Sink) -> Result<()> {
    let doc: VulnList = serde_json::from_slice(bytes)
        .map_err(|e| Error::parse(path, format!("not valid vuln-list-debian JSON: {e}")))?;
    let header = doc.header.unwrap_or(VlHeader {
        id: None,
        description: None,
    });
    let Some(id) = header.id.filter(|i| !i.trim().is_empty()) else {
        sink.skip(SkipReason::MissingFields, 1);
        return Ok(());
    };
    if id.len() > MAX_FIELD_BYTES {
        sink.skip(SkipReason::OversizedField, 1);
        return Ok(());
    }
    let summary = header.description.map(|d| {
        bounded_summary(
            d.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim(),
        )
    });
    // package → release ("" = unstable) → annotation
    let mut by_package: BTreeMap<String, BTreeMap<String, VlAnnotation>> = BTreeMap::new();
    for ann in doc.annotations.unwrap_or_default() {
        if ann.kind_of_line.as_deref() != Some("package") {
            continue;
        }
        let Some(package) = ann.package.clone().filter(|p| !p.is_empty()) else {
            sink.skip(SkipReason::MissingFields, 1);
            continue;
        };
        if package.len() > MAX_FIELD_BYTES {
            sink.skip(SkipReason::OversizedField, 1);
            continue;
        }
        let release = ann.release.clone().unwrap_or_default();
        by_package.entry(package).or_default().insert(release, ann);
    }
    for (package, mut releases) in by_package {
        if let Some(unstable) = releases.get("").cloned() {
            for codename in INHERITING {
                releases
                    .entry(codename.to_string())
                    .or_insert_with(|| unstable.clone());
            }
        }
        for (release, ann) in releases {
            let codename = if release.is_empty() { "sid" } else { &release };
            let Some(ecosystem) = ecosystem(&sink.debian_releases, codename) else {
                sink.skip(SkipReason::UnknownRelease, 1);
                continue;
            };
            let mut ranges = Vec::new();
            let status = match ann.kind.as_deref().unwrap_or_default() {
                "fixed" => match ann.version.as_deref().map(str::trim) {
                    Some("0") => Status::NotAffected,
                    Some(v) if Scheme::Dpkg.is_valid(v) => {
                        ranges.push(Range {
                            fixed: Some(v.to_string()),
                            ..Range::default()
                        });
                        Status::Fixed
                    }
                    Some(v) if !v.is_empty() => {
                        sink.skip(SkipReason::UnparseableVersion, 1);
                        continue;
                    }
                    _ => {
                        sink.skip(SkipReason::MissingFields, 1);
                        continue;
                    }
                },
                "unfixed" | "no-dsa" => Status::Open,
                "postponed" => Status::Postponed,
                "ignored" => Status::WontFix,
                "not-affected" => Status::NotAffected,
                "end-of-life" => Status::EndOfLife,
                "undetermined" => Status::Undetermined,
                _ => {
                    sink.skip(SkipReason::UnknownStatus, 1);
                    continue;
                }
            };
            let severity = ann.severity.as_deref().and_then(severity_of_urgency);
            sink.add(&Advisory {
                id: id.clone(),
                aliases: Vec::new(),
                source: FEED.into(),
                ecosystem,
                package: package.clone(),
                status,
                ranges,
                versions: Vec::new(),
                severity,
                severity_source: severity.map(|_| "debian urgency".into()),
                cvss: None,
                summary: summary.clone().filter(|s| !s.is_empty()),
                symbols: Vec::new(),
                modified: None,
            })?;
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct Distribution {
    #[serde(rename = "major-version")]
    major_version: Option<String>,
}

/// Reads vuln-list-debian's `distributions.json` into the codename map.
pub(crate) fn read_distributions(path: &Path, bytes: &[u8], sink: &mut Sink) -> Result<()> {
    let map: BTreeMap<String, Distribution> = serde_json::from_slice(bytes)
        .map_err(|e| Error::parse(path, format!("not a Debian distributions list: {e}")))?;
    for (codename, d) in map {
        if let Some(n) = d
            .major_version
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            sink.debian_releases.entry(codename).or_insert(n);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgencies() {
        assert_eq!(
            severity_of_urgency("unimportant"),
            Some(Severity::Negligible)
        );
        assert_eq!(severity_of_urgency("high**"), Some(Severity::High));
        assert_eq!(severity_of_urgency("low*"), Some(Severity::Low));
        assert_eq!(severity_of_urgency("medium"), Some(Severity::Medium));
        assert_eq!(severity_of_urgency("not yet assigned"), None);
        assert_eq!(severity_of_urgency("end-of-life"), None);
        assert!(is_end_of_life(Some("end-of-life")));
    }

    #[test]
    fn codenames() {
        let r = default_releases();
        assert_eq!(ecosystem(&r, "bookworm").as_deref(), Some("debian:12"));
        assert_eq!(ecosystem(&r, "buster").as_deref(), Some("debian:10"));
        assert_eq!(ecosystem(&r, "trixie").as_deref(), Some("debian:13"));
        assert_eq!(ecosystem(&r, "forky").as_deref(), Some("debian:14"));
        assert_eq!(ecosystem(&r, "sid").as_deref(), Some("debian:sid"));
        assert_eq!(ecosystem(&r, "hamm"), None);
    }
}
