//! CVSS v3.0/v3.1 base scores from vectors, and the qualitative rating of a score: the one
//! place plinth scores CVSS (the matcher and the report writers call these).

use crate::model::Severity;

/// A CVSS base score from a number in 0.0..=10.0 or a CVSS v3.x vector (v2 and v4
/// vectors: `None`).
pub fn score(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<f64>() {
        return (0.0..=10.0).contains(&n).then_some(n);
    }
    base_score_v3(text)
}

/// The base score of a `CVSS:3.x/AV:_/AC:_/PR:_/UI:_/S:_/C:_/I:_/A:_` vector (temporal
/// and environmental metrics are ignored), scored by the `cvss` crate with each minor
/// version's own rounding; `None` if a base metric is missing, repeated or unknown.
pub fn base_score_v3(vector: &str) -> Option<f64> {
    let vector = vector.trim();
    if !vector.starts_with("CVSS:3.") {
        return None;
    }
    let v: cvss::v3::Vector = vector.parse().ok()?;
    // The crate scores a missing base metric as 0; a vector without all eight is no score.
    let complete = v.av.is_some()
        && v.ac.is_some()
        && v.pr.is_some()
        && v.ui.is_some()
        && v.s.is_some()
        && v.c.is_some()
        && v.i.is_some()
        && v.a.is_some();
    complete.then(|| v.base_score().value())
}

/// The CVSS qualitative rating: 0.0 none (reported as negligible), then low, medium,
/// high, critical.
pub fn severity_of_score(score: f64) -> Severity {
    match score {
        s if s <= 0.0 => Severity::Negligible,
        s if s < 4.0 => Severity::Low,
        s if s < 7.0 => Severity::Medium,
        s if s < 9.0 => Severity::High,
        _ => Severity::Critical,
    }
}

/// A textual severity (GitHub's `database_specific.severity`: `LOW`, `MODERATE`, …).
pub fn severity_of_word(word: &str) -> Option<Severity> {
    Some(match word.trim().to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" | "important" => Severity::High,
        "moderate" | "medium" => Severity::Medium,
        "low" => Severity::Low,
        "negligible" | "none" | "unimportant" => Severity::Negligible,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_scores() {
        let cases = [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", 5.4),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0),
            ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
            ("CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:N/A:N", 4.7),
            ("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8),
            ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:C/C:L/I:N/A:N", 3.2),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O", 9.8),
        ];
        for (v, want) in cases {
            assert_eq!(base_score_v3(v), Some(want), "{v}");
        }
        for bad in [
            "CVSS:2.0/AV:N",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
            "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "",
        ] {
            assert_eq!(base_score_v3(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_or_vectors() {
        assert_eq!(score(" 7.5 "), Some(7.5));
        assert_eq!(score("10"), Some(10.0));
        assert_eq!(score("11"), None);
        assert_eq!(score("-1"), None);
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(score("AV:N/AC:L/Au:N/C:P/I:P/A:P"), None);
    }

    #[test]
    fn ratings() {
        assert_eq!(severity_of_score(0.0), Severity::Negligible);
        assert_eq!(severity_of_score(3.9), Severity::Low);
        assert_eq!(severity_of_score(4.0), Severity::Medium);
        assert_eq!(severity_of_score(7.0), Severity::High);
        assert_eq!(severity_of_score(9.0), Severity::Critical);
        assert_eq!(severity_of_word("MODERATE"), Some(Severity::Medium));
        assert_eq!(severity_of_word("what"), None);
    }
}
