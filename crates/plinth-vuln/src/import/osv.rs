//! OSV records (<https://ossf.github.io/osv-schema/>): one `.json`, a directory of them,
//! or a per-ecosystem `all.zip` dump.
//!
//! One advisory per (record, ecosystem, package): several `affected` entries for the
//! same package are merged (their ranges are a union). Ecosystems plinth matches:
//! `Debian:N`, `Alpine:vX.Y`, `Go`, `crates.io`, `PyPI`, `npm`; others are counted as
//! skipped. `GIT` ranges (commits, not versions) are skipped and counted.

use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::cvss;
use super::{
    MAX_ALIASES, MAX_DOCUMENT_BYTES, MAX_FIELD_BYTES, MAX_ZIP_ENTRIES, Sink, SkipReason,
    bounded_summary,
};
use crate::error::{Error, Result};
use crate::model::{Advisory, Range, Severity, Status};
use crate::version::{self, Scheme};
use plinth_core::progress::Reporter;

/// The feed name on OSV advisories.
pub const FEED: &str = "osv";

/// `null` where a list or object is expected reads as empty.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> std::result::Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct Record {
    id: Option<String>,
    modified: Option<String>,
    withdrawn: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    aliases: Vec<String>,
    summary: Option<String>,
    details: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    severity: Vec<OsvSeverity>,
    #[serde(default, deserialize_with = "nullable")]
    affected: Vec<Affected>,
    database_specific: Option<Value>,
}

#[derive(Clone, Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: Option<String>,
    score: Option<String>,
}

#[derive(Deserialize)]
struct Affected {
    package: Option<Package>,
    #[serde(default, deserialize_with = "nullable")]
    severity: Vec<OsvSeverity>,
    #[serde(default, deserialize_with = "nullable")]
    ranges: Vec<OsvRange>,
    #[serde(default, deserialize_with = "nullable")]
    versions: Vec<String>,
    ecosystem_specific: Option<Value>,
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct Package {
    ecosystem: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

/// The plinth ecosystem key of an OSV ecosystem: `Debian:12` → `debian:12`,
/// `Alpine:v3.20` → `alpine:3.20`, `Ubuntu:24.04:LTS` → `ubuntu:24.04`, `Go` → `go`, `crates.io`, `PyPI` → `pypi`, `npm`.
/// `None` for ecosystems plinth does not match.
pub fn ecosystem_key(osv: &str) -> Option<String> {
    let (base, release) = match osv.split_once(':') {
        Some((b, r)) => (b, Some(r)),
        None => (osv, None),
    };
    match (base, release) {
        ("Debian", Some(n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("debian:{n}"))
        }
        ("Alpine", Some(v)) => {
            let v = v.strip_prefix('v').unwrap_or(v);
            let ok = v.split('.').count() == 2
                && v.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            ok.then(|| format!("alpine:{v}"))
        }
        // `Ubuntu:24.04:LTS`, `Ubuntu:24.10`: the archive's own fixes. `Ubuntu:Pro:…` and
        // FIPS streams are other archives, which an image from the public one lacks.
        ("Ubuntu", Some(r)) => {
            let mut parts = r.split(':');
            let v = parts.next().unwrap_or_default();
            let rest: Vec<&str> = parts.collect();
            let numeric = v.split('.').count() == 2
                && v.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            (numeric && (rest.is_empty() || rest == ["LTS"])).then(|| format!("ubuntu:{v}"))
        }
        ("Go", None) => Some("go".into()),
        ("crates.io", None) => Some("crates.io".into()),
        ("PyPI", None) => Some("pypi".into()),
        ("npm", None) => Some("npm".into()),
        _ => None,
    }
}

/// The name under which a package is stored and looked up: PyPI names are normalised
/// as PEP 503 says (lower case, runs of `-`, `_`, `.` become `-`); others are kept.
pub fn normalize_package(ecosystem: &str, name: &str) -> String {
    if ecosystem != "pypi" {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Why an event list could not become ranges.
struct BadVersion;

/// Converts one range's events (sorted by version first, as the OSV spec asks) into
/// `introduced .. fixed|last_affected` ranges, and counts the `limit` events left out.
/// `introduced: "0"` is "from the start".
fn ranges_of(
    scheme: Scheme,
    events: &[Event],
) -> std::result::Result<(Vec<Range>, u64), BadVersion> {
    #[derive(Clone, Copy, PartialEq)]
    enum K {
        Introduced,
        Fixed,
        LastAffected,
        Limit,
    }
    let mut evs: Vec<(K, &str)> = Vec::new();
    for e in events {
        for (k, v) in [
            (K::Introduced, &e.introduced),
            (K::Fixed, &e.fixed),
            (K::LastAffected, &e.last_affected),
            (K::Limit, &e.limit),
        ] {
            if let Some(v) = v {
                let v = v.trim();
                let zero = k == K::Introduced && v == "0";
                if v.is_empty() || (!zero && !scheme.is_valid(v)) {
                    return Err(BadVersion);
                }
                evs.push((k, v));
            }
        }
    }
    fn key(v: &str) -> Option<&str> {
        (v != "0").then_some(v)
    }
    evs.sort_by(|a, b| match (key(a.1), key(b.1)) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => version::compare(scheme, x, y).unwrap_or(std::cmp::Ordering::Equal),
    });
    let mut out = Vec::new();
    let mut limits = 0;
    // Some(None) = open range from the start, Some(Some(v)) = from v.
    let mut open: Option<Option<String>> = None;
    for (k, v) in evs {
        let introduced = || open.clone().flatten();
        match k {
            K::Introduced => {
                if let Some(prev) = open.take() {
                    // Two starts in a row: the first range never closed.
                    out.push(Range {
                        introduced: prev,
                        ..Range::default()
                    });
                }
                open = Some(key(v).map(str::to_string));
            }
            K::Fixed => {
                out.push(Range {
                    introduced: introduced(),
                    fixed: Some(v.to_string()),
                    ..Range::default()
                });
                open = None;
            }
            K::LastAffected => {
                out.push(Range {
                    introduced: introduced(),
                    last_affected: Some(v.to_string()),
                    ..Range::default()
                });
                open = None;
            }
            // The model has no exclusive non-fix bound: the range is kept open (it may
            // over-report, never under-report) and the dropped bound is counted.
            K::Limit => limits += 1,
        }
    }
    if let Some(prev) = open {
        out.push(Range {
            introduced: prev,
            ..Range::default()
        });
    }
    Ok((out, limits))
}

/// `database_specific.severity` (GitHub's `LOW` … `CRITICAL`).
fn db_severity(v: Option<&Value>) -> Option<Severity> {
    v?.get("severity")?
        .as_str()
        .and_then(cvss::severity_of_word)
}

struct Rated {
    severity: Option<Severity>,
    source: Option<String>,
    cvss: Option<String>,
}

/// CVSS v3 → computed base score; CVSS v4 → the database's own word if any, else
/// unknown; nothing → the database's own word.
fn rate(sevs: &[OsvSeverity], db_specific: Option<Severity>) -> Rated {
    // A vector is copied into each advisory: an absurdly long one counts as none.
    let find = |t: &str| {
        sevs.iter()
            .find(|s| s.kind.as_deref() == Some(t))
            .and_then(|s| s.score.as_deref())
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= MAX_FIELD_BYTES)
    };
    // A distribution's own priority for its package (Ubuntu's records carry one, type
    // `Ubuntu`: negligible … critical) rates the package as shipped, as trivy prefers the
    // vendor's severity for OS packages; `untriaged` falls through to CVSS.
    if let Some(word) = find("Ubuntu").and_then(cvss::severity_of_word) {
        return Rated {
            severity: Some(word),
            source: Some("Ubuntu priority (osv)".into()),
            cvss: find("CVSS_V3")
                .or_else(|| find("CVSS_V4"))
                .map(str::to_string),
        };
    }
    if let Some(v3) = find("CVSS_V3")
        && let Some(score) = cvss::base_score_v3(v3)
    {
        return Rated {
            severity: Some(cvss::severity_of_score(score)),
            source: Some("CVSS_V3 (osv)".into()),
            cvss: Some(v3.to_string()),
        };
    }
    let vector = find("CVSS_V4").or_else(|| find("CVSS_V3"));
    if let Some(word) = db_specific {
        return Rated {
            severity: Some(word),
            source: Some("database_specific (osv)".into()),
            cvss: vector.map(str::to_string),
        };
    }
    match vector {
        Some(v) => Rated {
            severity: Some(Severity::Unknown),
            source: Some(if v.starts_with("CVSS:4") {
                "CVSS_V4 (osv)".into()
            } else {
                "CVSS_V3 (osv)".into()
            }),
            cvss: Some(v.to_string()),
        },
        None => Rated {
            severity: None,
            source: None,
            cvss: None,
        },
    }
}

/// Affected parts: Go's `imports[].path` + `symbols` (`path.Symbol`, or the bare path
/// when the whole package is affected) and RustSec's `affects.functions`. `None` when
/// the record does not narrow it down (the whole module/crate is affected).
fn symbols_of(es: Option<&Value>) -> Option<Vec<String>> {
    let es = es?;
    let mut out = Vec::new();
    if let Some(imports) = es.get("imports").and_then(Value::as_array) {
        for imp in imports {
            let Some(path) = imp.get("path").and_then(Value::as_str) else {
                continue;
            };
            let syms: Vec<&str> = imp
                .get("symbols")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if syms.is_empty() {
                out.push(path.to_string());
            } else {
                out.extend(syms.iter().map(|s| format!("{path}.{s}")));
            }
        }
    }
    if let Some(funcs) = es
        .get("affects")
        .and_then(|a| a.get("functions"))
        .and_then(Value::as_array)
    {
        out.extend(funcs.iter().filter_map(Value::as_str).map(str::to_string));
    }
    (!out.is_empty()).then_some(out)
}

fn summary_of(rec: &Record) -> Option<String> {
    if let Some(s) = rec
        .summary
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        return Some(bounded_summary(s));
    }
    let line = rec
        .details
        .as_deref()?
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())?;
    let mut s: String = line.chars().take(240).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    Some(s)
}

/// What a merged advisory holds already, to merge further entries without a scan.
struct Held {
    ranges: HashSet<Range>,
    versions: HashSet<String>,
    symbols: HashSet<String>,
}

fn convert(rec: Record, sink: &mut Sink) -> Result<()> {
    if rec
        .withdrawn
        .as_deref()
        .is_some_and(|w| !w.trim().is_empty())
    {
        sink.skip(SkipReason::Withdrawn, 1);
        return Ok(());
    }
    let Some(id) = rec.id.clone().filter(|i| !i.trim().is_empty()) else {
        sink.skip(SkipReason::MissingFields, 1);
        return Ok(());
    };
    if rec.affected.is_empty() {
        sink.skip(SkipReason::NoAffectedVersions, 1);
        return Ok(());
    }
    // The id, aliases and summary are copied into each advisory of the record: bounded.
    if id.len() > MAX_FIELD_BYTES
        || rec.aliases.len() > MAX_ALIASES
        || rec.aliases.iter().any(|a| a.len() > MAX_FIELD_BYTES)
    {
        sink.skip(SkipReason::OversizedField, 1);
        return Ok(());
    }
    let mut aliases: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for a in &rec.aliases {
        if a != &id && seen.insert(a) {
            aliases.push(a.clone());
        }
    }
    let summary = summary_of(&rec);
    // `rate` looks at the first entry of each kind only: keep just those, so that rating
    // each affected entry does not scan a long record-level list again.
    let rec_severity: Vec<OsvSeverity> = {
        let mut kinds = HashSet::new();
        rec.severity
            .iter()
            .filter(|s| {
                matches!(s.kind.as_deref(), Some("CVSS_V3" | "CVSS_V4" | "Ubuntu"))
                    && kinds.insert(s.kind.clone())
            })
            .cloned()
            .collect()
    };
    let rec_db_severity = db_severity(rec.database_specific.as_ref());
    // (advisory, whole package affected in some entry), and by (ecosystem, package)
    // the index of its entry with what it holds already, so that merging many entries
    // stays linear.
    let mut merged: Vec<(Advisory, bool)> = Vec::new();
    let mut index: HashMap<(String, String), (usize, Held)> = HashMap::new();
    for aff in &rec.affected {
        let (Some(eco), Some(name)) = (
            aff.package.as_ref().and_then(|p| p.ecosystem.as_deref()),
            aff.package.as_ref().and_then(|p| p.name.as_deref()),
        ) else {
            sink.skip(SkipReason::MissingFields, 1);
            continue;
        };
        let Some(ecosystem) = ecosystem_key(eco) else {
            sink.skip(SkipReason::UnknownEcosystem, 1);
            continue;
        };
        let scheme = version::scheme_for(&ecosystem);
        let mut ranges = Vec::new();
        let mut bad = false;
        for r in &aff.ranges {
            match r.kind.as_deref() {
                Some("SEMVER") | Some("ECOSYSTEM") => match ranges_of(scheme, &r.events) {
                    Ok((rs, limits)) => {
                        ranges.extend(rs);
                        sink.skip(SkipReason::LimitEvent, limits);
                    }
                    Err(BadVersion) => bad = true,
                },
                Some("GIT") => sink.skip(SkipReason::GitRange, 1),
                _ => sink.skip(SkipReason::UnknownRangeType, 1),
            }
        }
        if bad {
            sink.skip(SkipReason::UnparseableVersion, 1);
            continue;
        }
        let versions: Vec<String> = aff
            .versions
            .iter()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if ranges.is_empty() && versions.is_empty() {
            sink.skip(SkipReason::NoAffectedVersions, 1);
            continue;
        }
        if name.len() > MAX_FIELD_BYTES {
            sink.skip(SkipReason::OversizedField, 1);
            continue;
        }
        let package = normalize_package(&ecosystem, name);
        let symbols = symbols_of(aff.ecosystem_specific.as_ref());
        let whole = symbols.is_none();
        let rated = if aff.severity.is_empty() {
            rate(
                &rec_severity,
                db_severity(aff.database_specific.as_ref()).or(rec_db_severity),
            )
        } else {
            rate(
                &aff.severity,
                db_severity(aff.database_specific.as_ref()).or(rec_db_severity),
            )
        };
        if let Some((k, held)) = index.get_mut(&(ecosystem.clone(), package.clone())) {
            let (adv, any_whole) = &mut merged[*k];
            for r in ranges {
                if r.fixed.is_some() {
                    adv.status = Status::Fixed;
                }
                if held.ranges.insert(r.clone()) {
                    adv.ranges.push(r);
                }
            }
            for v in versions {
                if held.versions.insert(v.clone()) {
                    adv.versions.push(v);
                }
            }
            *any_whole |= whole;
            for s in symbols.unwrap_or_default() {
                if held.symbols.insert(s.clone()) {
                    adv.symbols.push(s);
                }
            }
            continue;
        }
        let held = Held {
            ranges: ranges.iter().cloned().collect(),
            versions: versions.iter().cloned().collect(),
            symbols: symbols.iter().flatten().cloned().collect(),
        };
        index.insert((ecosystem.clone(), package.clone()), (merged.len(), held));
        let status = if ranges.iter().any(|r| r.fixed.is_some()) {
            Status::Fixed
        } else {
            Status::Open
        };
        merged.push((
            Advisory {
                id: id.clone(),
                aliases: aliases.clone(),
                source: FEED.into(),
                ecosystem,
                package,
                status,
                ranges,
                versions,
                severity: rated.severity,
                severity_source: rated.source,
                cvss: rated.cvss,
                summary: summary.clone(),
                symbols: symbols.unwrap_or_default(),
                modified: rec.modified.clone(),
            },
            whole,
        ));
    }
    for (mut adv, whole) in merged {
        if whole {
            // Some entry affects the whole package: a symbol list would understate it.
            adv.symbols.clear();
        }
        sink.add(&adv)?;
    }
    Ok(())
}

/// Imports one OSV record given on its own: malformed JSON is an error.
pub(crate) fn import_record(path: &Path, bytes: &[u8], sink: &mut Sink) -> Result<()> {
    let rec: Record = serde_json::from_slice(bytes)
        .map_err(|e| Error::parse(path, format!("not a valid OSV record: {e}")))?;
    convert(rec, sink)
}

/// Imports one OSV record out of many (a zip or a directory): malformed JSON is
/// counted as an invalid record.
pub(crate) fn import_record_lenient(bytes: &[u8], sink: &mut Sink) -> Result<()> {
    match serde_json::from_slice::<Record>(bytes) {
        Ok(rec) => convert(rec, sink),
        Err(_) => {
            sink.skip(SkipReason::InvalidRecord, 1);
            Ok(())
        }
    }
}

/// Imports every `.json` entry of an OSV zip. A damaged archive (truncated, bad CRC,
/// bad compressed data) fails the import; an entry larger than
/// [`MAX_DOCUMENT_BYTES`] is counted as an invalid record.
pub(crate) fn import_zip(
    path: &Path,
    sink: &mut Sink,
    reporter: &dyn Reporter,
    task: &str,
) -> Result<()> {
    let file = fs_err::File::open(path).map_err(Error::io(path))?;
    // A small buffer: the reader seeks to every entry, and each seek drops the buffer.
    import_zip_from(
        path,
        BufReader::with_capacity(16 << 10, file),
        sink,
        reporter,
        task,
    )
}

/// [`import_zip`] over any seekable reader (a file, or bytes in memory); `path` names it
/// in errors.
pub(crate) fn import_zip_from(
    path: &Path,
    reader: impl Read + Seek,
    sink: &mut Sink,
    reporter: &dyn Reporter,
    task: &str,
) -> Result<()> {
    let mut zip = zip::ZipArchive::new(reader)
        .map_err(|e| Error::parse(path, format!("not a valid zip archive: {e}")))?;
    if zip.len() > MAX_ZIP_ENTRIES {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            what: format!("the zip's entry count ({})", zip.len()),
            limit: MAX_ZIP_ENTRIES as u64,
        });
    }
    // Entries that share bytes (a zip bomb: 20,000 entries over one 16 MiB stream) would
    // make the work grow with entries × shared size, not with the file: refused, like
    // entries that run into the central directory. Reading each local header is linear.
    let overlap = zip
        .has_overlapping_entries()
        .map_err(|e| Error::parse(path, format!("not a valid zip archive: {e}")))?;
    if overlap {
        return Err(Error::parse(
            path,
            "not a valid zip archive: its entries overlap each other or the central directory",
        ));
    }
    let mut buf = Vec::new();
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| Error::parse(path, format!("zip entry {i}: {e}")))?;
        reporter.advance(task, entry.compressed_size());
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("#{i}"));
        if entry.is_dir() || !name.to_ascii_lowercase().ends_with(".json") {
            continue;
        }
        if entry.size() > MAX_DOCUMENT_BYTES {
            sink.skip(SkipReason::InvalidRecord, 1);
            continue;
        }
        buf.clear();
        entry
            .take(MAX_DOCUMENT_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Error::parse(path, format!("zip entry {name}: {e}")))?;
        if buf.len() as u64 > MAX_DOCUMENT_BYTES {
            sink.skip(SkipReason::InvalidRecord, 1);
            continue;
        }
        import_record_lenient(&buf, sink)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystems() {
        assert_eq!(ecosystem_key("Debian:12").as_deref(), Some("debian:12"));
        assert_eq!(
            ecosystem_key("Alpine:v3.20").as_deref(),
            Some("alpine:3.20")
        );
        assert_eq!(
            ecosystem_key("Ubuntu:24.04:LTS").as_deref(),
            Some("ubuntu:24.04")
        );
        assert_eq!(
            ecosystem_key("Ubuntu:24.10").as_deref(),
            Some("ubuntu:24.10")
        );
        assert_eq!(ecosystem_key("Go").as_deref(), Some("go"));
        assert_eq!(ecosystem_key("crates.io").as_deref(), Some("crates.io"));
        assert_eq!(ecosystem_key("PyPI").as_deref(), Some("pypi"));
        assert_eq!(ecosystem_key("npm").as_deref(), Some("npm"));
        for other in [
            "Maven",
            "NuGet",
            "Debian",
            "Debian:",
            "Alpine:edge",
            "Ubuntu:Pro:22.04:LTS",
            "Ubuntu:Pro:FIPS-updates:22.04:LTS",
            "Ubuntu:",
            "go",
        ] {
            assert_eq!(ecosystem_key(other), None, "{other}");
        }
    }

    #[test]
    fn pypi_names() {
        assert_eq!(normalize_package("pypi", "Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(normalize_package("pypi", "requests"), "requests");
        assert_eq!(normalize_package("npm", "Foo_Bar"), "Foo_Bar");
    }

    fn ev(k: &str, v: &str) -> Event {
        let s = Some(v.to_string());
        Event {
            introduced: (k == "i").then(|| s.clone()).flatten(),
            fixed: (k == "f").then(|| s.clone()).flatten(),
            last_affected: (k == "l").then(|| s.clone()).flatten(),
            limit: (k == "x").then(|| s.clone()).flatten(),
        }
    }

    fn r(i: Option<&str>, f: Option<&str>, l: Option<&str>) -> Range {
        Range {
            introduced: i.map(str::to_string),
            fixed: f.map(str::to_string),
            last_affected: l.map(str::to_string),
        }
    }

    #[test]
    fn events_become_ranges() {
        let got = ranges_of(
            Scheme::Go,
            &[
                ev("i", "0"),
                ev("f", "1.19.10"),
                ev("i", "1.20.0-0"),
                ev("f", "1.20.5"),
            ],
        )
        .ok()
        .unwrap()
        .0;
        assert_eq!(
            got,
            vec![
                r(None, Some("1.19.10"), None),
                r(Some("1.20.0-0"), Some("1.20.5"), None)
            ]
        );
        // Unsorted events are sorted first.
        let got = ranges_of(
            Scheme::Semver,
            &[
                ev("i", "2.0.0"),
                ev("f", "2.1.0"),
                ev("i", "0"),
                ev("f", "1.5.0"),
            ],
        )
        .ok()
        .unwrap()
        .0;
        assert_eq!(
            got,
            vec![
                r(None, Some("1.5.0"), None),
                r(Some("2.0.0"), Some("2.1.0"), None)
            ]
        );
        let got = ranges_of(Scheme::Pep440, &[ev("i", "1.0"), ev("l", "1.4")])
            .ok()
            .unwrap();
        assert_eq!(got, (vec![r(Some("1.0"), None, Some("1.4"))], 0));
        let got = ranges_of(Scheme::Pep440, &[ev("i", "1.0"), ev("x", "2.0")])
            .ok()
            .unwrap();
        assert_eq!(got, (vec![r(Some("1.0"), None, None)], 1));
        let got = ranges_of(Scheme::Semver, &[ev("i", "0")]).ok().unwrap();
        assert_eq!(got, (vec![r(None, None, None)], 0));
        assert!(ranges_of(Scheme::Semver, &[ev("i", "0"), ev("f", "not a version")]).is_err());
    }

    #[test]
    fn symbols() {
        let go: Value = serde_json::from_str(
            r#"{"imports": [{"path": "net/http", "symbols": ["Client.Do", "Get"]}, {"path": "runtime"}]}"#,
        )
        .unwrap();
        assert_eq!(
            symbols_of(Some(&go)).unwrap(),
            vec!["net/http.Client.Do", "net/http.Get", "runtime"]
        );
        let rust: Value =
            serde_json::from_str(r#"{"affects": {"os": [], "functions": ["foo::bar"]}}"#).unwrap();
        assert_eq!(symbols_of(Some(&rust)).unwrap(), vec!["foo::bar"]);
        assert_eq!(symbols_of(Some(&serde_json::json!({}))), None);
        assert_eq!(symbols_of(None), None);
    }

    #[test]
    fn ratings() {
        let v3 = OsvSeverity {
            kind: Some("CVSS_V3".into()),
            score: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
        };
        let v4 = OsvSeverity {
            kind: Some("CVSS_V4".into()),
            score: Some("CVSS:4.0/AV:N/AC:L/AT:P/PR:L/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N".into()),
        };
        let r = rate(std::slice::from_ref(&v3), None);
        assert_eq!(r.severity, Some(Severity::Critical));
        assert_eq!(r.source.as_deref(), Some("CVSS_V3 (osv)"));
        let r = rate(std::slice::from_ref(&v4), None);
        assert_eq!(r.severity, Some(Severity::Unknown));
        assert!(r.cvss.unwrap().starts_with("CVSS:4.0/"));
        let r = rate(std::slice::from_ref(&v4), Some(Severity::Medium));
        assert_eq!(r.severity, Some(Severity::Medium));
        assert_eq!(r.source.as_deref(), Some("database_specific (osv)"));
        let ubuntu = OsvSeverity {
            kind: Some("Ubuntu".into()),
            score: Some("high".into()),
        };
        let r = rate(&[v3.clone(), ubuntu], None);
        assert_eq!(r.severity, Some(Severity::High));
        assert_eq!(r.source.as_deref(), Some("Ubuntu priority (osv)"));
        let untriaged = OsvSeverity {
            kind: Some("Ubuntu".into()),
            score: Some("untriaged".into()),
        };
        let r = rate(&[untriaged], None);
        assert_eq!(r.severity, None);
        let r = rate(&[], None);
        assert_eq!(r.severity, None);
    }
}
