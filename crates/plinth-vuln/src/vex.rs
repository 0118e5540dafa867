//! OpenVEX input: statements by an image's authors that a vulnerability does not affect
//! it (`not_affected`, with a justification) or was fixed in it (`fixed`) take the
//! matching findings out, keeping them listed as suppressed with the justification;
//! `affected` and `under_investigation` keep the finding and are noted on it.
//!
//! A statement applies to a finding when its vulnerability (`name` or `aliases`) is the
//! finding's ID or an alias, and one of its products or subcomponents names one of the
//! finding's packages by PURL (a PURL without version matches every version; one
//! without qualifiers matches whatever qualifiers the package has; qualifiers it has
//! must be equal). A product naming the scanned image itself (`pkg:oci/…@sha256:…` with
//! the image digest) without subcomponents applies to every package. When several
//! statements apply, the latest (by timestamp, a statement's own or its document's)
//! wins, as OpenVEX says statements are a sequence each overriding the ones before.
//! When a statement covers only some of a finding's binary packages, the finding is
//! split: the covered ones are suppressed, the rest stay.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::matcher::{ScanResult, Suppressed};
use crate::sbomin::Purl;

/// Why a VEX document was rejected.
#[derive(Debug, thiserror::Error)]
pub enum VexError {
    /// Not JSON, not an OpenVEX `@context`, or no `statements`; holds what is wrong.
    #[error("OpenVEX document: {0}")]
    Invalid(String),
}

/// A statement's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VexStatus {
    /// `not_affected`: the vulnerability does not affect the product (needs a
    /// justification or impact statement); the finding is suppressed.
    NotAffected,
    /// `affected`: the finding is kept, and noted.
    Affected,
    /// `fixed`: the product contains the fix; the finding is suppressed.
    Fixed,
    /// `under_investigation`: not known yet; the finding is kept, and noted.
    UnderInvestigation,
}

impl VexStatus {
    /// The status as OpenVEX writes it (`not_affected`).
    pub fn as_str(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "not_affected" => VexStatus::NotAffected,
            "affected" => VexStatus::Affected,
            "fixed" => VexStatus::Fixed,
            "under_investigation" => VexStatus::UnderInvestigation,
            _ => return None,
        })
    }
}

/// One statement, flattened.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// The vulnerability's name and aliases.
    pub vulnerabilities: Vec<String>,
    /// Products as written (`@id` and `identifiers.purl`).
    pub products: Vec<String>,
    /// Subcomponents of those products.
    pub subcomponents: Vec<String>,
    /// What the statement says about the vulnerability.
    pub status: VexStatus,
    /// The OpenVEX justification label (`vulnerable_code_not_present`, …).
    pub justification: Option<String>,
    /// Free text on why the product is not affected.
    pub impact_statement: Option<String>,
    /// Free text on what to do about an `affected` vulnerability.
    pub action_statement: Option<String>,
    /// Seconds since the epoch (the statement's, else the document's timestamp).
    pub time: Option<i64>,
}

/// A parsed OpenVEX document.
#[derive(Clone, Debug, PartialEq)]
pub struct VexDocument {
    /// The document's `@id`; empty when it has none.
    pub id: String,
    /// Its `author`, when given.
    pub author: Option<String>,
    /// The statements that parsed, in document order.
    pub statements: Vec<Statement>,
    /// Statements skipped as invalid, with why.
    pub warnings: Vec<String>,
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
}

/// The identifiers of a product or subcomponent: its `@id` and `identifiers.purl`, or
/// the string itself (documents before v0.2.0).
fn ids(v: &Value) -> Vec<String> {
    if let Some(t) = v.as_str() {
        return vec![t.to_string()];
    }
    let mut out: Vec<String> = s(v, "@id").into_iter().collect();
    if let Some(p) = v.get("identifiers").and_then(|i| s(i, "purl")) {
        out.push(p);
    }
    out
}

/// Parses an OpenVEX JSON document (v0.2.0; the older string forms of `vulnerability`
/// and `products` are read too).
pub fn parse(bytes: &[u8]) -> Result<VexDocument, VexError> {
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| VexError::Invalid(format!("not JSON: {e}")))?;
    let context = s(&doc, "@context").unwrap_or_default();
    if !context.starts_with("https://openvex.dev/ns") {
        return Err(VexError::Invalid(format!(
            "@context is {context:?}, not an OpenVEX context (https://openvex.dev/ns/…)"
        )));
    }
    let id = s(&doc, "@id").unwrap_or_default();
    let doc_time = s(&doc, "timestamp").and_then(|t| plinth_core::date::parse_rfc3339(&t));
    let statements = doc
        .get("statements")
        .and_then(Value::as_array)
        .ok_or_else(|| VexError::Invalid("no statements".into()))?;
    let mut out = VexDocument {
        id: id.clone(),
        author: s(&doc, "author"),
        statements: Vec::new(),
        warnings: Vec::new(),
    };
    for (i, st) in statements.iter().enumerate() {
        let n = i + 1;
        let vuln = st.get("vulnerability");
        let mut vulnerabilities: Vec<String> = Vec::new();
        match vuln {
            Some(Value::String(name)) => vulnerabilities.push(name.clone()),
            Some(v) => {
                vulnerabilities.extend(s(v, "name"));
                for a in v
                    .get("aliases")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    vulnerabilities.extend(a.as_str().map(str::to_string));
                }
            }
            None => {}
        }
        if vulnerabilities.is_empty() {
            out.warnings.push(format!(
                "{id}: statement {n} names no vulnerability; skipped"
            ));
            continue;
        }
        let Some(status) = s(st, "status").as_deref().and_then(VexStatus::parse) else {
            out.warnings.push(format!(
                "{id}: statement {n} ({}) has no valid status; skipped",
                vulnerabilities[0]
            ));
            continue;
        };
        let mut products = Vec::new();
        let mut subcomponents = Vec::new();
        for p in st
            .get("products")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            products.extend(ids(p));
            for sc in p
                .get("subcomponents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                subcomponents.extend(ids(sc));
            }
        }
        let statement = Statement {
            vulnerabilities,
            products,
            subcomponents,
            status,
            justification: s(st, "justification"),
            impact_statement: s(st, "impact_statement"),
            action_statement: s(st, "action_statement"),
            time: s(st, "timestamp")
                .and_then(|t| plinth_core::date::parse_rfc3339(&t))
                .or(doc_time),
        };
        if status == VexStatus::NotAffected
            && statement.justification.is_none()
            && statement.impact_statement.is_none()
        {
            out.warnings.push(format!(
                "{id}: statement {n} says {} is not_affected without a justification or \
                 impact_statement, which OpenVEX requires; skipped",
                statement.vulnerabilities[0]
            ));
            continue;
        }
        if statement.products.is_empty() && statement.subcomponents.is_empty() {
            out.warnings.push(format!(
                "{id}: statement {n} ({}) names no product; skipped",
                statement.vulnerabilities[0]
            ));
            continue;
        }
        out.statements.push(statement);
    }
    Ok(out)
}

/// Whether a statement applies to a package of the scanned image.
fn applies(st: &Statement, pkg_purl: &str, result: &ScanResult) -> bool {
    let Some(pkg) = Purl::parse(pkg_purl) else {
        return st
            .products
            .iter()
            .chain(&st.subcomponents)
            .any(|p| p == pkg_purl);
    };
    let names = |list: &[String]| {
        list.iter()
            .any(|p| Purl::parse(p).is_some_and(|vp| vp.covers(&pkg)))
    };
    if names(&st.subcomponents) || names(&st.products) {
        return true;
    }
    // The image itself as the product, with no subcomponents: every package.
    st.subcomponents.is_empty() && st.products.iter().any(|p| is_subject(p, result))
}

/// Whether `product` names the scanned image: its name, or a `pkg:oci` PURL whose
/// version is the image digest.
fn is_subject(product: &str, result: &ScanResult) -> bool {
    if !result.subject.is_empty() && product == result.subject {
        return true;
    }
    match (Purl::parse(product), &result.digest) {
        (Some(p), Some(digest)) if p.ty == "oci" => p.version.as_deref() == Some(digest.as_str()),
        _ => false,
    }
}

/// Applies `docs` to `result`, in order (later documents win ties); returns how many
/// findings (or parts of findings) were suppressed.
pub fn apply(docs: &[VexDocument], result: &mut ScanResult) -> usize {
    for d in docs {
        result
            .warnings
            .extend(d.warnings.iter().map(|w| format!("vex: {w}")));
    }
    // Every statement with its document, ordered by time then position.
    let mut all: Vec<(usize, usize, &VexDocument, &Statement)> = Vec::new();
    for (di, d) in docs.iter().enumerate() {
        for (si, st) in d.statements.iter().enumerate() {
            all.push((di, si, d, st));
        }
    }
    all.sort_by_key(|(di, si, _, st)| (st.time.unwrap_or(i64::MIN), *di, *si));

    let mut moved = 0;
    let mut kept = Vec::new();
    let findings = std::mem::take(&mut result.findings);
    for mut f in findings {
        // The latest applicable statement, per package of the finding.
        let latest: Vec<Option<(&VexDocument, &Statement)>> = f
            .packages
            .iter()
            .map(|p| {
                all.iter()
                    .rev()
                    .find(|(_, _, _, st)| {
                        st.vulnerabilities.iter().any(|v| f.is_known_as(v))
                            && applies(st, &p.purl, result)
                    })
                    .map(|(_, _, d, st)| (*d, *st))
            })
            .collect();
        let suppressing = |x: &Option<(&VexDocument, &Statement)>| matches!(x, Some((_, st)) if matches!(st.status, VexStatus::NotAffected | VexStatus::Fixed));
        let (mut out_pkgs, mut in_pkgs) = (Vec::new(), Vec::new());
        let mut reasons = BTreeSet::new();
        let mut states = BTreeSet::new();
        let mut justifications = BTreeSet::new();
        let mut notes = BTreeSet::new();
        for (p, l) in f.packages.iter().zip(&latest) {
            if suppressing(l) {
                let (d, st) = l.expect("checked");
                reasons.insert(reason(d, st));
                states.insert(st.status.as_str());
                justifications.extend(st.justification.clone());
                out_pkgs.push(p.clone());
            } else {
                if let Some((_, st)) = l {
                    notes.insert(st.status.as_str());
                }
                in_pkgs.push(p.clone());
            }
        }
        if !notes.is_empty() {
            f.vex_status = Some(notes.into_iter().collect::<Vec<_>>().join(", "));
        }
        if out_pkgs.is_empty() {
            kept.push(f);
            continue;
        }
        moved += 1;
        let mut gone = f.clone();
        gone.packages = out_pkgs;
        gone.vex_status = None;
        result.suppressed.push(Suppressed {
            by: "openvex".into(),
            reason: reasons.into_iter().collect::<Vec<_>>().join("; "),
            vex_status: Some(states.into_iter().collect::<Vec<_>>().join(", ")),
            justification: (!justifications.is_empty())
                .then(|| justifications.into_iter().collect::<Vec<_>>().join(", ")),
            finding: gone,
        });
        if !in_pkgs.is_empty() {
            f.packages = in_pkgs;
            kept.push(f);
        }
    }
    result.findings = kept;
    result.finish();
    moved
}

fn reason(d: &VexDocument, st: &Statement) -> String {
    let mut r = st.status.as_str().to_string();
    if let Some(j) = &st.justification {
        r.push_str(&format!(": {j}"));
    }
    if let Some(i) = &st.impact_statement {
        r.push_str(&format!(" ({i})"));
    }
    if !d.id.is_empty() {
        r.push_str(&format!(" [{}]", d.id));
    }
    r
}

/// The OpenVEX justification as CycloneDX's `analysis.justification`.
pub fn cyclonedx_justification(openvex: &str) -> Option<&'static str> {
    Some(match openvex {
        "component_not_present" | "vulnerable_code_not_present" => "code_not_present",
        "vulnerable_code_not_in_execute_path" => "code_not_reachable",
        "vulnerable_code_cannot_be_controlled_by_adversary" => "requires_environment",
        "inline_mitigations_already_exist" => "protected_by_mitigating_control",
        _ => return None,
    })
}
