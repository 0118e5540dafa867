//! The severity of a finding and where it came from: the advisory's own, else a CVSS
//! score or v3 vector it carries (scored by [`crate::import::cvss`]), else unknown.

use super::finding::is_debian;
use crate::model::{Advisory, Severity};

/// Whether the advisory carries a severity of its own (Debian: an urgency).
pub(super) fn has_own_severity(adv: &Advisory) -> bool {
    matches!(adv.severity, Some(s) if s != Severity::Unknown)
}

/// The severity of a finding and where it came from.
pub(super) fn severity_of(adv: &Advisory) -> (Severity, String) {
    if let Some(s) = adv.severity.filter(|s| *s != Severity::Unknown) {
        let source = adv.severity_source.clone().unwrap_or_else(|| {
            if is_debian(adv) {
                "debian urgency".to_string()
            } else {
                adv.source.clone()
            }
        });
        return (s, source);
    }
    if let Some(score) = adv.cvss.as_deref().and_then(cvss_score) {
        return (
            severity_from_score(score),
            format!("CVSS {score:.1} ({})", adv.source),
        );
    }
    (Severity::Unknown, "none".to_string())
}

/// CVSS qualitative rating of a base score (0.0 reads as negligible).
pub fn severity_from_score(score: f64) -> Severity {
    crate::import::cvss::severity_of_score(score)
}

/// A CVSS base score from a number or a CVSS v3.x vector (v2 and v4 vectors: `None`).
pub fn cvss_score(text: &str) -> Option<f64> {
    crate::import::cvss::score(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_v31_scores_match_the_calculator() {
        // NVD's scores for these vectors.
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"),
            Some(8.8)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"),
            Some(10.0)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"),
            Some(5.5)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"),
            Some(3.1)
        );
        assert_eq!(
            cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"),
            Some(6.1)
        );
        assert_eq!(cvss_score("7.5"), Some(7.5));
        assert_eq!(
            cvss_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            None
        );
        assert_eq!(severity_from_score(9.8), Severity::Critical);
        assert_eq!(severity_from_score(3.1), Severity::Low);
        assert_eq!(cvss_score("11"), None);
    }
}
