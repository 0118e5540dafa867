//! rpm versions: `[epoch:]version[-release]`, each part ordered by `rpmvercmp` (rpm's
//! `rpmio/rpmvercmp.c`): alternating numeric and alphabetic segments, separators
//! ignored, numbers beat letters, `~` sorts before everything (even the end) and `^`
//! after the end but before anything else.

use std::cmp::Ordering;

/// rpm's ordering of two version (or release) strings, from `plinth-rpm` (one
/// implementation of rpm's `rpmvercmp`, checked against rpm itself there).
pub use plinth_rpm::version::rpmvercmp;

struct Evr<'a> {
    epoch: &'a str,
    version: &'a str,
    release: &'a str,
}

fn parse(v: &str) -> Option<Evr<'_>> {
    let v = v.trim();
    if v.is_empty() || v.contains(char::is_whitespace) {
        return None;
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (e.trim_start_matches('0'), rest)
        }
        None => ("", v),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((v, r)) => (v, r),
        None => (rest, ""),
    };
    if version.is_empty() {
        return None;
    }
    Some(Evr {
        epoch,
        version,
        release,
    })
}

/// Whether `v` is a usable `[epoch:]version[-release]`.
pub fn is_valid(v: &str) -> bool {
    parse(v).is_some()
}

/// rpm's ordering of two EVRs: epoch (missing = 0) as a number, then version, then
/// release with [`rpmvercmp`]. A missing release sorts before any release.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (parse(a)?, parse(b)?);
    let epoch = a
        .epoch
        .len()
        .cmp(&b.epoch.len())
        .then_with(|| a.epoch.cmp(b.epoch));
    Some(
        epoch
            .then_with(|| rpmvercmp(a.version, b.version))
            .then_with(|| rpmvercmp(a.release, b.release)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use std::process::Command;

    /// rpm's `tests/rpmvercmp.at` (RPMVERCMP(a, b, result)), transcribed, with the caret
    /// cases added in rpm 4.15.
    const VECTORS: &[(&str, &str, i8)] = &[
        ("1.0", "1.0", 0),
        ("1.0", "2.0", -1),
        ("2.0", "1.0", 1),
        ("2.0.1", "2.0.1", 0),
        ("2.0", "2.0.1", -1),
        ("2.0.1", "2.0", 1),
        ("2.0.1a", "2.0.1a", 0),
        ("2.0.1a", "2.0.1", 1),
        ("2.0.1", "2.0.1a", -1),
        ("5.5p1", "5.5p1", 0),
        ("5.5p1", "5.5p2", -1),
        ("5.5p2", "5.5p1", 1),
        ("5.5p10", "5.5p10", 0),
        ("5.5p1", "5.5p10", -1),
        ("5.5p10", "5.5p1", 1),
        ("10xyz", "10.1xyz", -1),
        ("10.1xyz", "10xyz", 1),
        ("xyz10", "xyz10", 0),
        ("xyz10", "xyz10.1", -1),
        ("xyz10.1", "xyz10", 1),
        ("xyz.4", "xyz.4", 0),
        ("xyz.4", "8", -1),
        ("8", "xyz.4", 1),
        ("xyz.4", "2", -1),
        ("2", "xyz.4", 1),
        ("5.5p2", "5.6p1", -1),
        ("5.6p1", "5.5p2", 1),
        ("5.6p1", "6.5p1", -1),
        ("6.5p1", "5.6p1", 1),
        ("6.0.rc1", "6.0", 1),
        ("6.0", "6.0.rc1", -1),
        ("10b2", "10a1", 1),
        ("10a2", "10b2", -1),
        ("1.0aa", "1.0aa", 0),
        ("1.0a", "1.0aa", -1),
        ("1.0aa", "1.0a", 1),
        ("10.0001", "10.0001", 0),
        ("10.0001", "10.1", 0),
        ("10.1", "10.0001", 0),
        ("10.0001", "10.0039", -1),
        ("10.0039", "10.0001", 1),
        ("4.999.9", "5.0", -1),
        ("5.0", "4.999.9", 1),
        ("20101121", "20101121", 0),
        ("20101121", "20101122", -1),
        ("20101122", "20101121", 1),
        ("2_0", "2_0", 0),
        ("2.0", "2_0", 0),
        ("2_0", "2.0", 0),
        ("a", "a", 0),
        ("a+", "a+", 0),
        ("a+", "a_", 0),
        ("a_", "a+", 0),
        ("+a", "+a", 0),
        ("+a", "_a", 0),
        ("_a", "+a", 0),
        ("+_", "+_", 0),
        ("_+", "+_", 0),
        ("_+", "_+", 0),
        ("+", "_", 0),
        ("_", "+", 0),
        ("1.0~rc1", "1.0~rc1", 0),
        ("1.0~rc1", "1.0", -1),
        ("1.0", "1.0~rc1", 1),
        ("1.0~rc1", "1.0~rc2", -1),
        ("1.0~rc2", "1.0~rc1", 1),
        ("1.0~rc1~git123", "1.0~rc1~git123", 0),
        ("1.0~rc1~git123", "1.0~rc1", -1),
        ("1.0~rc1", "1.0~rc1~git123", 1),
        ("1.0^", "1.0^", 0),
        ("1.0^", "1.0", 1),
        ("1.0", "1.0^", -1),
        ("1.0^git1", "1.0^git1", 0),
        ("1.0^git1", "1.0", 1),
        ("1.0", "1.0^git1", -1),
        ("1.0^git1", "1.0^git2", -1),
        ("1.0^git2", "1.0^git1", 1),
        ("1.0^git1", "1.01", -1),
        ("1.01", "1.0^git1", 1),
        ("1.0^20160101", "1.0^20160101", 0),
        ("1.0^20160101", "1.0.1", -1),
        ("1.0.1", "1.0^20160101", 1),
        ("1.0^20160101^git1", "1.0^20160101^git1", 0),
        ("1.0^20160102", "1.0^20160101^git1", 1),
        ("1.0^20160101^git1", "1.0^20160102", -1),
        ("1.0~rc1^git1", "1.0~rc1^git1", 0),
        ("1.0~rc1^git1", "1.0~rc1", 1),
        ("1.0~rc1", "1.0~rc1^git1", -1),
        ("1.0^git1~pre", "1.0^git1~pre", 0),
        ("1.0^git1", "1.0^git1~pre", 1),
        ("1.0^git1~pre", "1.0^git1", -1),
    ];

    #[test]
    fn rpm_test_suite_vectors() {
        for &(a, b, want) in VECTORS {
            assert_eq!(rpmvercmp(a, b), want.cmp(&0), "rpmvercmp({a}, {b})");
        }
    }

    #[test]
    fn evr_ordering() {
        assert_eq!(compare("1:1.0-1", "2.0-1"), Some(Greater));
        assert_eq!(compare("0:1.0-1", "1.0-1"), Some(Equal));
        assert_eq!(compare("1.0-1.el9", "1.0-2.el9"), Some(Less));
        assert_eq!(compare("1.0-1.el9_2", "1.0-1.el9_10"), Some(Less));
        assert_eq!(compare("1.0", "1.0-1"), Some(Less));
        assert_eq!(compare("3.0.7-27.el9", "3.0.7-27.el9_4.1"), Some(Less));
        assert_eq!(compare("a:1.0", "1.0"), None);
        assert_eq!(compare("", "1.0"), None);
        assert_eq!(compare("-1", "1.0"), None);
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "0", "1", "2", "10", "01", "a", "b", "rc", ".", "_", "+", "~", "^", "el9",
        ]);
        (
            prop::option::of(prop::sample::select(vec!["0:", "1:"])),
            prop::sample::select(vec!["0", "1", "2", "10"]),
            prop::collection::vec(piece.clone(), 0..5),
            prop::option::of(prop::collection::vec(piece, 1..4)),
        )
            .prop_map(|(e, head, tail, rel)| {
                let mut s = e.unwrap_or("").to_string();
                s.push_str(head);
                s.push_str(&tail.concat());
                if let Some(rel) = rel {
                    s.push('-');
                    s.push_str(&rel.concat());
                }
                s
            })
    }

    /// rpm's own answers through its Lua `rpm.vercmp`, all pairs in one `rpm` call.
    fn rpm_oracle(pairs: &[(String, String)]) -> Option<Vec<Ordering>> {
        let mut lua = String::from("%{lua:\n");
        for (a, b) in pairs {
            lua.push_str(&format!("print(rpm.vercmp(\"{a}\", \"{b}\") .. \" \")\n"));
        }
        lua.push('}');
        let out = Command::new("rpm").args(["--eval", &lua]).output().ok()?;
        // `print` output is collected into the macro's expansion, without newlines.
        let answers: Vec<Ordering> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(|l| l.parse::<i32>().unwrap_or(99).cmp(&0))
            .collect();
        (out.status.success() && answers.len() == pairs.len()).then_some(answers)
    }

    #[test]
    fn matches_rpm_when_installed() {
        if Command::new("rpm").arg("--version").output().is_err() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI needs rpm for the oracle comparison (apt-get install rpm)");
            }
            eprintln!("notice: rpm not found, skipping the rpm oracle comparison");
            return;
        }
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = (version_strategy(), version_strategy());
        // rpm ignores the release when only one side has one (not an order); plinth
        // sorts a missing release first, so only pairs alike in that are compared.
        let pairs: Vec<(String, String)> = (0..2000)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .filter(|(a, b)| a.contains('-') == b.contains('-'))
            .collect();
        let answers = rpm_oracle(&pairs).expect("rpm --eval with lua ran");
        let mismatches: Vec<String> = pairs
            .iter()
            .zip(&answers)
            .filter_map(|((a, b), want)| {
                let got = compare(a, b);
                (got != Some(*want)).then(|| format!("{a} vs {b}: ours {got:?}, rpm {want:?}"))
            })
            .collect();
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }

    crate::version::ordering_laws!(version_strategy());
}
