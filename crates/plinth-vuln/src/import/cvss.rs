//! CVSS v3.0/v3.1 base scores from vectors, and the qualitative rating of a score.

use crate::model::Severity;

/// The base score of a `CVSS:3.x/AV:_/AC:_/PR:_/UI:_/S:_/C:_/I:_/A:_` vector (extra
/// temporal/environmental metrics are ignored); `None` if a base metric is missing or
/// unknown.
pub fn base_score_v3(vector: &str) -> Option<f64> {
    let mut parts = vector.trim().split('/');
    let version = parts.next()?;
    if version != "CVSS:3.1" && version != "CVSS:3.0" {
        return None;
    }
    let (mut av, mut ac, mut pr, mut ui, mut scope, mut c, mut i, mut a) =
        (None, None, None, None, None, None, None, None);
    for part in parts {
        let (k, v) = part.split_once(':')?;
        let cia = |v: &str| match v {
            "H" => Some(0.56),
            "L" => Some(0.22),
            "N" => Some(0.0),
            _ => None,
        };
        match k {
            "AV" => {
                av = Some(match v {
                    "N" => 0.85,
                    "A" => 0.62,
                    "L" => 0.55,
                    "P" => 0.2,
                    _ => return None,
                })
            }
            "AC" => {
                ac = Some(match v {
                    "L" => 0.77,
                    "H" => 0.44,
                    _ => return None,
                })
            }
            "PR" => pr = Some(v.to_string()),
            "UI" => {
                ui = Some(match v {
                    "N" => 0.85,
                    "R" => 0.62,
                    _ => return None,
                })
            }
            "S" => {
                scope = Some(match v {
                    "U" => false,
                    "C" => true,
                    _ => return None,
                })
            }
            "C" => c = Some(cia(v)?),
            "I" => i = Some(cia(v)?),
            "A" => a = Some(cia(v)?),
            _ => {}
        }
    }
    let changed = scope?;
    let pr = match (pr?.as_str(), changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let iss = 1.0 - (1.0 - c?) * (1.0 - i?) * (1.0 - a?);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02f64).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av? * ac? * pr * ui?;
    if impact <= 0.0 {
        return Some(0.0);
    }
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Some(roundup(raw))
}

/// CVSS v3.1's `Roundup`: the smallest one-decimal number >= the input, computed on
/// integers to avoid floating-point surprises.
fn roundup(x: f64) -> f64 {
    let int = (x * 100_000.0).round() as i64;
    if int % 10_000 == 0 {
        int as f64 / 100_000.0
    } else {
        ((int / 10_000) + 1) as f64 / 10.0
    }
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
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "",
        ] {
            assert_eq!(base_score_v3(bad), None, "{bad}");
        }
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
