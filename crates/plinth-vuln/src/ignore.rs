//! The ignore file: findings a team has looked at and accepted, with a reason, for a
//! while.
//!
//! ```toml
//! [[ignore]]
//! id = "CVE-2023-45853"          # the finding's ID or one of its aliases
//! package = "zlib"               # optional: source package or any binary it covers
//! reason = "minizip is not built in Debian's zlib"   # required
//! expires = "2026-12-31"         # optional: no effect from the next day on
//! ```
//!
//! Applied after matching; what it removes is kept in [`ScanResult::suppressed`] with
//! its reason and counted. An expired entry has no effect and gives a warning; so does
//! an entry that matched nothing.

use plinth_core::date::{Date, parse_ymd as parse_date, today_utc};
use serde::Deserialize;

use crate::matcher::{Finding, ScanResult};

/// Why an ignore file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreError {
    /// The file is not valid TOML or not the ignore file's shape; holds the TOML
    /// parser's message (with line and column).
    #[error("ignore file: {0}")]
    Toml(String),
    /// An entry that parses but fails a check.
    #[error("ignore file entry {index} ({id}): {problem}")]
    Entry {
        /// Its position among the `[[ignore]]` entries, from 1.
        index: usize,
        /// Its `id`, as written.
        id: String,
        /// What is wrong with it (empty `id`, no `reason`, bad `expires`).
        problem: String,
    },
}

/// One `[[ignore]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreRule {
    /// The finding's id or one of its aliases (`CVE-…`, `GHSA-…`).
    pub id: String,
    /// Limits the rule to this source package, or a binary package by name or purl;
    /// `None` = any package.
    #[serde(default)]
    pub package: Option<String>,
    /// Why the finding is accepted; [`IgnoreFile::parse`] rejects an entry without one.
    #[serde(default)]
    pub reason: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default)]
    pub expires: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    ignore: Vec<IgnoreRule>,
}

/// A parsed, checked ignore file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IgnoreFile {
    /// The entries, in file order.
    pub rules: Vec<IgnoreRule>,
}

impl IgnoreFile {
    /// Parses and checks: every entry needs an `id` and a non-empty `reason`, and
    /// `expires` must be a `YYYY-MM-DD` date.
    pub fn parse(text: &str) -> Result<Self, IgnoreError> {
        let file: File = toml::from_str(text).map_err(|e| IgnoreError::Toml(e.to_string()))?;
        for (i, r) in file.ignore.iter().enumerate() {
            let err = |problem: &str| IgnoreError::Entry {
                index: i + 1,
                id: r.id.clone(),
                problem: problem.to_string(),
            };
            if r.id.trim().is_empty() {
                return Err(err("`id` is empty"));
            }
            if r.reason.as_deref().is_none_or(|s| s.trim().is_empty()) {
                return Err(err("`reason` is required: say why it is safe to ignore"));
            }
            if let Some(e) = &r.expires
                && parse_date(e).is_none()
            {
                return Err(err("`expires` must be a date written YYYY-MM-DD"));
            }
        }
        Ok(IgnoreFile { rules: file.ignore })
    }

    /// Applies the rules as of today (UTC).
    pub fn apply(&self, result: &mut ScanResult) -> usize {
        self.apply_on(result, today_utc())
    }

    /// Applies the rules as of `today`; returns how many findings were suppressed.
    pub fn apply_on(&self, result: &mut ScanResult, today: Date) -> usize {
        let mut active = Vec::new();
        for r in &self.rules {
            match r.expires.as_deref().and_then(parse_date) {
                Some(exp) if exp < today => result.warnings.push(format!(
                    "ignore rule for {} expired on {}: it no longer applies",
                    r.id,
                    r.expires.as_deref().unwrap_or_default()
                )),
                _ => active.push(r),
            }
        }
        let mut used = vec![false; active.len()];
        let moved = result.suppress(|f| {
            let i = active.iter().position(|r| rule_matches(r, f))?;
            used[i] = true;
            let r = active[i];
            let mut reason = r.reason.clone().unwrap_or_default();
            if let Some(e) = &r.expires {
                reason.push_str(&format!(" (until {e})"));
            }
            Some(("ignore-file".to_string(), reason))
        });
        for (r, used) in active.iter().zip(used) {
            if !used {
                result.warnings.push(format!(
                    "ignore rule for {}{} matched no finding",
                    r.id,
                    r.package
                        .as_deref()
                        .map(|p| format!(" in {p}"))
                        .unwrap_or_default()
                ));
            }
        }
        moved
    }
}

fn rule_matches(r: &IgnoreRule, f: &Finding) -> bool {
    f.is_known_as(r.id.trim())
        && r.package.as_deref().is_none_or(|p| {
            f.source_package == p || f.packages.iter().any(|b| b.name == p || b.purl == p)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_is_required() {
        let e = IgnoreFile::parse("[[ignore]]\nid = \"CVE-2023-45853\"\n").unwrap_err();
        assert!(e.to_string().contains("reason"), "{e}");
        let e = IgnoreFile::parse("[[ignore]]\nid = \"CVE-1\"\nreason = \"  \"\n").unwrap_err();
        assert!(e.to_string().contains("reason"), "{e}");
        let e =
            IgnoreFile::parse("[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\nexpires = \"soon\"\n")
                .unwrap_err();
        assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");
        let e = IgnoreFile::parse("[[ignore]]\nid = \"CVE-1\"\nreason = \"x\"\nvuln = \"y\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("vuln"), "{e}");
        assert!(IgnoreFile::parse("").unwrap().rules.is_empty());
    }
}
