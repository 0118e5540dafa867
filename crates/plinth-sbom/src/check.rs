//! `check`: a hardening [`Policy`] read from a TOML file and evaluated over an image's
//! facts.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::facts::{Policy, RuleResult, facts_with};
use crate::{Sbom, Subject};

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    // The cause is part of the message (not a `source`) so that the one line says it.
    /// The file cannot be read (missing, not a regular file, too large).
    #[error("cannot read policy {}: {error}", path.display())]
    Read {
        /// The policy file.
        path: PathBuf,
        /// Why it cannot be read.
        error: std::io::Error,
    },
    /// The file is not a valid policy (TOML syntax, an unknown rule, a wrong type).
    #[error("policy {} is invalid: {message}", path.display())]
    Invalid {
        /// The policy file.
        path: PathBuf,
        /// What is wrong, with its line where TOML gives one.
        message: String,
    },
}

impl PolicyError {
    /// A line telling the user what a policy may hold, for an invalid one.
    pub fn hint(&self) -> Option<String> {
        match self {
            PolicyError::Invalid { .. } => Some(
                "rules are non-root, no-shell, no-package-manager, no-setuid, no-world-writable, \
                 no-network-tools (true/false) and world-writable-allow (a list of paths)"
                    .into(),
            ),
            PolicyError::Read { .. } => None,
        }
    }
}

/// Largest policy file read (a policy is a few lines of TOML).
pub const MAX_POLICY_BYTES: u64 = 1 << 20;

/// The policy in `path`, or the default policy when there is none.
pub fn load_policy(path: Option<&Path>) -> Result<Policy, PolicyError> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    let text =
        plinth_core::files::read_regular_to_string(path, MAX_POLICY_BYTES).map_err(|error| {
            PolicyError::Read {
                path: path.to_path_buf(),
                error,
            }
        })?;
    parse_policy(path, &text)
}

/// Parses a policy file's text; `path` names it in errors.
pub fn parse_policy(path: &Path, text: &str) -> Result<Policy, PolicyError> {
    toml::from_str(text).map_err(|e| PolicyError::Invalid {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })
}

/// What `check` found: every enabled rule, in a fixed order.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// The image as the user named it.
    pub image: String,
    /// The image's manifest digest; `None` for a root filesystem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Whether every enabled rule passed.
    pub passed: bool,
    /// Each enabled rule and its result.
    pub rules: Vec<RuleResult>,
}

/// Evaluates `policy` over the facts of `subject`, named `image` in the report.
pub fn check(image: &str, subject: &Subject, sbom: &Sbom, policy: &Policy) -> CheckReport {
    let allow: Vec<&str> = policy
        .world_writable_allow
        .iter()
        .map(|s| s.trim_matches('/'))
        .collect();
    let facts = facts_with(subject, sbom, &allow);
    let rules = policy.evaluate(&facts);
    CheckReport {
        image: image.to_string(),
        digest: facts.digest.clone(),
        passed: rules.iter().all(|r| r.passed),
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_is_the_default_policy() {
        let p = load_policy(None).unwrap();
        assert!(p.non_root && p.no_shell && !p.no_network_tools);
    }

    #[test]
    fn a_rule_switched_off() {
        let p = parse_policy(Path::new("p.toml"), "no-shell = false\n").unwrap();
        assert!(!p.no_shell && p.non_root);
    }

    #[test]
    fn unknown_rule_names_the_file_and_hints_the_rules() {
        let e = parse_policy(Path::new("p.toml"), "no-shells = false\n").unwrap_err();
        assert!(
            e.to_string().starts_with("policy p.toml is invalid: "),
            "{e}"
        );
        assert!(e.hint().unwrap().contains("no-shell"));
    }

    #[test]
    fn missing_file_names_it() {
        let e = load_policy(Some(Path::new("/nonexistent/policy.toml"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot read policy /nonexistent/policy.toml: No such file or directory (os error 2)"
        );
    }
}
