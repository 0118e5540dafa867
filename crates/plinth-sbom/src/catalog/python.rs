//! Installed Python distributions: `*.dist-info/METADATA` (wheels, pip), with the files
//! `RECORD` lists, and `*.egg-info/PKG-INFO` or a single `*.egg-info` file (setuptools),
//! with the files `installed-files.txt` lists.
//!
//! Distributions whose metadata file or directory an OS package owns (Debian's
//! `python3-*` packages) are left to the OS cataloger.

use std::collections::BTreeSet;

use plinth_oci::fs::NodeKind;

use super::{Cataloger, Context, Findings};
use crate::model::{Package, PackageKind};
use crate::purl::purl;

/// The Python cataloger: reads `*.dist-info/METADATA` and `*.egg-info` metadata.
#[derive(Debug)]
pub struct Python;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(path: &str) -> bool {
    path.ends_with(".dist-info/METADATA")
        || path.ends_with(".dist-info/RECORD")
        || path.ends_with(".egg-info/PKG-INFO")
        || path.ends_with(".egg-info/installed-files.txt")
        || path.ends_with(".egg-info")
}

/// Most entries read from one `RECORD` or `installed-files.txt`.
const MAX_FILES: usize = 200_000;

impl Cataloger for Python {
    fn name(&self) -> &'static str {
        "python"
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Findings) {
        for (path, node) in cx.fs.iter() {
            if !matches!(node.kind, NodeKind::File | NodeKind::Hardlink(_)) {
                continue;
            }
            // (the metadata directory, or the egg-info file itself; the file list, relative to what)
            let (meta_dir, list) = if let Some(d) = path.strip_suffix("/METADATA") {
                if !d.ends_with(".dist-info") {
                    continue;
                }
                (d, Some((format!("{d}/RECORD"), parent(d))))
            } else if let Some(d) = path.strip_suffix("/PKG-INFO") {
                if !d.ends_with(".egg-info") {
                    continue;
                }
                (d, Some((format!("{d}/installed-files.txt"), d)))
            } else if path.ends_with(".egg-info") {
                (path, None)
            } else {
                continue;
            };
            if cx.owned.contains(path) || cx.owned.contains(meta_dir) {
                continue;
            }
            let Some(data) = cx.fs.read(path) else {
                out.warnings
                    .push(format!("skipped `{path}`: its bytes were not kept"));
                continue;
            };
            let mut p = match parse_metadata(data) {
                Ok(p) => p,
                Err(e) => {
                    out.warnings.push(format!("skipped `{path}`: {e}"));
                    continue;
                }
            };
            if let Some((list, base)) = list
                && let Some(bytes) = cx.fs.read(&list)
            {
                p.files = if list.ends_with("/RECORD") {
                    parse_record(bytes, base)
                } else {
                    parse_installed_files(bytes, base)
                };
            }
            p.locations = vec![path.to_string()];
            p.layer = Some(node.layer);
            out.packages.push(p);
        }
    }
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// The PURL name: lowercased, `_` as `-` (the PURL spec's pypi rule).
pub fn normalize_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

/// Parses a `METADATA` / `PKG-INFO` file (email-style headers; the body is ignored).
/// Fails when `Name` or `Version` is missing. Never panics, whatever the bytes.
pub fn parse_metadata(data: &[u8]) -> Result<Package, String> {
    let text = String::from_utf8_lossy(data);
    let mut name = None;
    let mut version = None;
    let mut expression = None;
    let mut license: Option<String> = None;
    let mut classifiers: Vec<String> = Vec::new();
    // Beside the list: a scan of it per classifier line was quadratic.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    // The header being read and its (first-line) value; continuation lines only matter
    // to tell a one-line `License` from a licence text.
    let mut current: Option<(String, String, bool)> = None;
    let mut finish = |h: Option<(String, String, bool)>| {
        let Some((key, value, continued)) = h else {
            return;
        };
        let value = value.trim().to_string();
        match key.to_ascii_lowercase().as_str() {
            "name" if name.is_none() => name = Some(value),
            "version" if version.is_none() => version = Some(value),
            "license-expression" if expression.is_none() => expression = Some(value),
            "license" if license.is_none() && !continued => license = Some(value),
            "classifier" => {
                if let Some(l) = value.strip_prefix("License ::") {
                    let last = l.rsplit("::").next().unwrap_or("").trim().to_string();
                    if !last.is_empty() && seen.insert(last.clone()) {
                        classifiers.push(last);
                    }
                }
            }
            _ => {}
        }
    };
    for line in text.lines() {
        if line.is_empty() {
            break; // the body (the long description)
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, _, continued)) = &mut current
                && !line.trim().is_empty()
            {
                *continued = true;
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        finish(current.take());
        current = Some((key.trim().to_string(), value.to_string(), false));
    }
    finish(current.take());
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or("no Name in the metadata")?;
    let version = version
        .filter(|v| !v.is_empty())
        .ok_or("no Version in the metadata")?;
    let license = expression
        .filter(|e| !e.is_empty())
        .or(license.filter(|l| !l.is_empty() && l.len() <= 200 && l != "UNKNOWN"))
        .or((!classifiers.is_empty()).then(|| classifiers.join(", ")));
    Ok(Package {
        kind: Some(PackageKind::Python),
        purl: purl(
            PackageKind::Python.purl_type(),
            None,
            &normalize_name(&name),
            &version,
            &[],
        ),
        name,
        version,
        license,
        ..Package::default()
    })
}

/// The files a `RECORD` lists (CSV: path, hash, size), joined to `base` (the directory
/// holding the `.dist-info`) and normalised; sorted, without duplicates.
pub fn parse_record(data: &[u8], base: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let mut files = BTreeSet::new();
    for line in text.lines().take(MAX_FILES) {
        let Some(path) = csv_first(line) else {
            continue;
        };
        if let Some(p) = join_normalized(base, &path) {
            files.insert(p);
        }
    }
    files.into_iter().collect()
}

/// The files an `installed-files.txt` lists (one a line, relative to the `.egg-info`).
pub fn parse_installed_files(data: &[u8], base: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let files: BTreeSet<String> = text
        .lines()
        .take(MAX_FILES)
        .filter_map(|l| join_normalized(base, l.trim()))
        .collect();
    files.into_iter().collect()
}

/// The first CSV field of a line (quoted or not).
fn csv_first(line: &str) -> Option<String> {
    if let Some(rest) = line.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    out.push('"');
                } else {
                    return Some(out);
                }
            } else {
                out.push(c);
            }
        }
        None
    } else {
        let f = line.split(',').next().unwrap_or("");
        (!f.is_empty()).then(|| f.to_string())
    }
}

/// `base/rel` with `.` and `..` resolved (an absolute `rel` stands alone); `None` when it
/// climbs above the root or names nothing.
fn join_normalized(base: &str, rel: &str) -> Option<String> {
    if rel.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    let start = if rel.starts_with('/') { "" } else { base };
    for c in start.split('/').chain(rel.split('/')) {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_headers_and_licence_choice() {
        let m = b"Metadata-Version: 2.1\nName: Typing_Extensions\nVersion: 4.12.2\n\
License: MIT License\n        \n        Copyright (c) 2020\n\
Classifier: License :: OSI Approved :: Python Software Foundation License\n\
\nName: not-a-header\n";
        let p = parse_metadata(m).unwrap();
        assert_eq!(p.name, "Typing_Extensions");
        assert_eq!(p.purl, "pkg:pypi/typing-extensions@4.12.2");
        // The License header is a licence text: the classifier is used instead.
        assert_eq!(
            p.license.as_deref(),
            Some("Python Software Foundation License")
        );
        let m = b"Name: attrs\nVersion: 24.2.0\nLicense-Expression: MIT\nLicense: BSD\n";
        assert_eq!(parse_metadata(m).unwrap().license.as_deref(), Some("MIT"));
        assert!(parse_metadata(b"Name: x\n").is_err());
        assert!(parse_metadata(b"\nName: x\nVersion: 1\n").is_err());
    }

    #[test]
    fn record_paths_are_joined_and_normalised() {
        let rec = b"six.py,sha256=abc,123\n\"odd,name.py\",,\nsix-1.16.0.dist-info/RECORD,,\n../../../bin/six,sha256=x,1\n../../../../../../etc/evil,,\n";
        let files = parse_record(rec, "usr/lib/python3.11/site-packages");
        assert_eq!(
            files,
            [
                "usr/bin/six",
                "usr/lib/python3.11/site-packages/odd,name.py",
                "usr/lib/python3.11/site-packages/six-1.16.0.dist-info/RECORD",
                "usr/lib/python3.11/site-packages/six.py",
            ]
        );
    }
}
