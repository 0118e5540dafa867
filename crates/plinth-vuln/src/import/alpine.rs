//! Alpine's secdb (`secdb.alpinelinux.org/<release>/<repo>.json`, and the older YAML
//! of alpine-secdb): per origin package, `secfixes: { "<fixed version>": [ids] }`, with
//! `"0"` meaning "never affected". There is no "open" state: a package is listed only
//! once fixed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Deserializer};

use super::yaml_depth::{MAX_YAML_FLOW_DEPTH, flow_depth_exceeded};
use super::{MAX_FIELD_BYTES, Sink, SkipReason};
use crate::error::{Error, Result};
use crate::model::{Advisory, Range, Status};
use crate::version::apk;

/// The feed name on Alpine advisories.
pub const FEED: &str = "alpine-secdb";

fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> std::result::Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct Secdb {
    distroversion: Option<String>,
    reponame: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    packages: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    pkg: Option<Pkg>,
}

#[derive(Deserialize)]
struct Pkg {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    secfixes: BTreeMap<String, Option<Vec<Option<String>>>>,
}

/// `alpine:3.20` for `v3.20`, `alpine:edge` for `edge`.
pub fn ecosystem_of(distroversion: &str) -> Option<String> {
    let v = distroversion.trim();
    let v = v.strip_prefix('v').unwrap_or(v);
    let numeric = v.split('.').count() == 2
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (numeric || v == "edge").then(|| format!("alpine:{v}"))
}

fn cve_id(token: &str) -> Option<String> {
    let upper = token.to_ascii_uppercase();
    let rest = upper
        .strip_prefix("CVE-")
        .or_else(|| upper.strip_prefix("CVE_"))?;
    let (year, num) = rest.split_once('-')?;
    let num: String = num.chars().take_while(|c| c.is_ascii_digit()).collect();
    (year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) && num.len() >= 4)
        .then(|| format!("CVE-{year}-{num}"))
}

fn other_id(token: &str) -> Option<String> {
    let ok = token.starts_with(|c: char| c.is_ascii_alphabetic())
        && token.contains('-')
        && token.bytes().any(|b| b.is_ascii_digit())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !token.ends_with('-');
    ok.then(|| token.to_string())
}

/// The advisory ids in one secfixes line: `CVE-2020-1234 CVE-2020-5678`,
/// `CVE-2017-8904 XSA-214`, `CVE-2018-16452 (SMB)`, `CVE_2019-2426`, `CVE 2018-16859`,
/// `CVE-2017-8073.patch`, `CVE-2017-17434-1` → CVE-2017-17434. Also whether some text
/// named no id (parenthesised comments aside).
pub fn ids_in_line(line: &str) -> (Vec<String>, bool) {
    let text = line.split('(').next().unwrap_or_default();
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut ids: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut unrecognised = false;
    let mut i = 0;
    while i < tokens.len() {
        let mut token = tokens[i]
            .trim_matches(|c: char| matches!(c, ',' | ';' | ':' | '"' | '\''))
            .to_string();
        // `CVE 2018-16859`
        if token.eq_ignore_ascii_case("cve")
            && let Some(next) = tokens.get(i + 1)
            && next.starts_with(|c: char| c.is_ascii_digit())
        {
            token = format!("CVE-{next}");
            i += 1;
        }
        i += 1;
        let token = token.strip_suffix(".patch").unwrap_or(&token);
        if token.is_empty() {
            continue;
        }
        match cve_id(token).or_else(|| other_id(token)) {
            Some(id) => {
                if seen.insert(id.clone()) {
                    ids.push(id);
                }
            }
            None => unrecognised = true,
        }
    }
    (ids, unrecognised)
}

/// Imports one secdb file (YAML or JSON).
pub(crate) fn import_secdb(
    path: &Path,
    bytes: &[u8],
    name: Option<&str>,
    origin: &str,
    sink: &mut Sink,
) -> Result<()> {
    let is_json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    let doc: Secdb = if is_json {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::parse(path, format!("not a valid Alpine secdb JSON: {e}")))?
    } else {
        // Checked first: libyaml's scanner is quadratic in flow nesting.
        if let Some(line) = flow_depth_exceeded(bytes, MAX_YAML_FLOW_DEPTH) {
            return Err(Error::parse(
                path,
                format!(
                    "not a valid Alpine secdb YAML: flow collections nested deeper than {MAX_YAML_FLOW_DEPTH} at line {line}"
                ),
            ));
        }
        serde_norway::from_slice(bytes)
            .map_err(|e| Error::parse(path, format!("not a valid Alpine secdb YAML: {e}")))?
    };
    let distroversion = doc
        .distroversion
        .as_deref()
        .ok_or_else(|| Error::parse(path, "Alpine secdb without `distroversion`"))?;
    let ecosystem = ecosystem_of(distroversion).ok_or_else(|| {
        Error::parse(
            path,
            format!("Alpine secdb with unknown distroversion {distroversion:?}"),
        )
    })?;
    let source = match (name, doc.reponame.as_deref()) {
        (Some(n), _) => n.to_string(),
        (None, Some(repo)) => format!("{FEED}:{}-{repo}", distroversion.trim()),
        (None, None) => format!("{FEED}:{}", distroversion.trim()),
    };
    sink.begin(&source, origin)?;
    for entry in doc.packages {
        let Some(pkg) = entry.pkg else {
            sink.skip(SkipReason::MissingFields, 1);
            continue;
        };
        let Some(package) = pkg.name.filter(|n| !n.trim().is_empty()) else {
            sink.skip(SkipReason::MissingFields, 1);
            continue;
        };
        if package.len() > MAX_FIELD_BYTES {
            sink.skip(SkipReason::OversizedField, 1);
            continue;
        }
        // id → fixed version (None = not affected), in first-seen order; `index` finds
        // an id's entry without a scan (a package may list many ids).
        let mut fixes: Vec<(String, Option<String>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (version, lines) in pkg.secfixes {
            let version = version.trim().to_string();
            let not_affected = version == "0";
            let lines: Vec<String> = lines.unwrap_or_default().into_iter().flatten().collect();
            let mut ids = Vec::new();
            for line in &lines {
                let (found, unrecognised) = ids_in_line(line);
                if unrecognised || found.is_empty() {
                    sink.skip(SkipReason::UnrecognisedId, 1);
                }
                ids.extend(found);
            }
            if version.len() > MAX_FIELD_BYTES {
                sink.skip(SkipReason::OversizedField, 1);
                continue;
            }
            if !not_affected && !apk::is_valid(&version) {
                sink.skip(SkipReason::UnparseableVersion, ids.len().max(1) as u64);
                continue;
            }
            for id in ids {
                let fixed = (!not_affected).then(|| version.clone());
                match index.get(&id).map(|&k| &mut fixes[k]) {
                    // Listed twice: the later fix wins (the first was incomplete), and
                    // any real fix wins over "not affected".
                    Some((_, prev)) => {
                        let newer = match (&prev, &fixed) {
                            (_, None) => false,
                            (None, Some(_)) => true,
                            (Some(p), Some(f)) => {
                                apk::compare(f, p) == Some(std::cmp::Ordering::Greater)
                            }
                        };
                        if newer {
                            *prev = fixed;
                        }
                    }
                    None => {
                        index.insert(id.clone(), fixes.len());
                        fixes.push((id, fixed));
                    }
                }
            }
        }
        for (id, fixed) in fixes {
            let (status, ranges) = match fixed {
                Some(v) => (
                    Status::Fixed,
                    vec![Range {
                        fixed: Some(v),
                        ..Range::default()
                    }],
                ),
                None => (Status::NotAffected, Vec::new()),
            };
            sink.add(&Advisory {
                id,
                aliases: Vec::new(),
                source: FEED.into(),
                ecosystem: ecosystem.clone(),
                package: package.clone(),
                status,
                ranges,
                versions: Vec::new(),
                severity: None,
                severity_source: None,
                cvss: None,
                summary: None,
                symbols: Vec::new(),
                modified: None,
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lines() {
        let ids = |l: &str| ids_in_line(l);
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(ids("CVE-2020-1234"), (v(&["CVE-2020-1234"]), false));
        assert_eq!(
            ids("CVE-2020-1234 CVE-2020-5678"),
            (v(&["CVE-2020-1234", "CVE-2020-5678"]), false)
        );
        assert_eq!(
            ids("CVE-2017-8904 XSA-214"),
            (v(&["CVE-2017-8904", "XSA-214"]), false)
        );
        assert_eq!(ids("CVE-2018-16452 (SMB)"), (v(&["CVE-2018-16452"]), false));
        assert_eq!(
            ids("CVE-2018-10105 (SMB - too unreliably reproduced, SMB printing disabled)"),
            (v(&["CVE-2018-10105"]), false)
        );
        assert_eq!(ids("CVE_2019-2426"), (v(&["CVE-2019-2426"]), false));
        assert_eq!(ids("CVE 2018-16859"), (v(&["CVE-2018-16859"]), false));
        assert_eq!(ids(" CVE-2016-6263"), (v(&["CVE-2016-6263"]), false));
        assert_eq!(ids("CVE-2017-8073.patch"), (v(&["CVE-2017-8073"]), false));
        assert_eq!(ids("CVE-2017-17434-1"), (v(&["CVE-2017-17434"]), false));
        assert_eq!(
            ids("CVE-2017-14450 TALOS-2017-0499"),
            (v(&["CVE-2017-14450", "TALOS-2017-0499"]), false)
        );
        assert_eq!(ids("wnpa-sec-2017-21"), (v(&["wnpa-sec-2017-21"]), false));
        assert_eq!(
            ids("CVE-2017-5753 CVE-2017-5715 CVE-2017-5754 XSA-254 XPTI"),
            (
                v(&["CVE-2017-5753", "CVE-2017-5715", "CVE-2017-5754", "XSA-254"]),
                true
            )
        );
        assert_eq!(ids("ALPINE-13661"), (v(&["ALPINE-13661"]), false));
        assert_eq!(ids("nothing here"), (v(&[]), true));
    }

    #[test]
    fn ecosystems() {
        assert_eq!(ecosystem_of("v3.20").as_deref(), Some("alpine:3.20"));
        assert_eq!(ecosystem_of("edge").as_deref(), Some("alpine:edge"));
        assert_eq!(ecosystem_of("v3"), None);
    }
}
