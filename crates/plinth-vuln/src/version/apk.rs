//! Alpine package versions: apk-tools' ordering, from `plinth-apk` (which resolves
//! against it too: one implementation, tested here against the same vectors). Versions
//! that apk-tools rejects are `None`, never equal.

pub use plinth_apk::version::{compare, is_valid};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use std::cmp::Ordering;
    use std::process::Command;

    /// apk-tools' own `test/version.data`, transcribed: `a op b` per line. The pairs
    /// where apk-tools only answers by comparing an invalid version are in [`INVALID`].
    const VECTORS: &str = include_str!("apk_vectors.txt");

    /// apk-tools' vectors with an invalid side: no ordering here.
    const INVALID: [(&str, &str); 2] = [("23_foo", "4_beta"), ("1.0", "1.0bc")];

    fn parse_vectors() -> Vec<(String, Ordering, String)> {
        VECTORS
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let parts: Vec<&str> = line.split_whitespace().collect();
                let op = match parts[1] {
                    "<" => Ordering::Less,
                    "=" => Ordering::Equal,
                    ">" => Ordering::Greater,
                    other => panic!("bad op {other}"),
                };
                (parts[0].to_string(), op, parts[2].to_string())
            })
            .filter(|(a, _, b)| !INVALID.contains(&(a.as_str(), b.as_str())))
            .collect()
    }

    #[test]
    fn apk_tools_vectors() {
        let vectors = parse_vectors();
        assert!(vectors.len() > 700, "{}", vectors.len());
        for (a, want, b) in &vectors {
            assert_eq!(compare(a, b), Some(*want), "{a} vs {b}");
            assert_eq!(compare(b, a), Some(want.reverse()), "{b} vs {a}");
        }
        for (a, b) in INVALID {
            assert_eq!(compare(a, b), None, "{a} vs {b}");
        }
    }

    #[test]
    fn tricky_cases() {
        use Ordering::*;
        let less = [
            ("1.0_rc1-r0", "1.0-r0"),
            ("1.0-r0", "1.0-r1"),
            ("1.0-r1", "1.0_p1-r0"),
            ("1.0", "1.0a"),
            ("1.0a", "1.0b"),
            ("1.0", "1.0.1"),
            ("1.0_alpha", "1.0_beta"),
            ("1.0_beta", "1.0_pre"),
            ("1.0_pre", "1.0_rc"),
            ("1.0_rc", "1.0"),
            ("1.0", "1.0_cvs"),
            ("1.0_cvs", "1.0_svn"),
            ("1.0_svn", "1.0_git"),
            ("1.0_git", "1.0_hg"),
            ("1.0_hg", "1.0_p"),
            ("3.3.3p1-r2", "3.3.3p1-r3"),
            ("3.3.3p1", "3.3.3p2"),
            // A commit hash sorts after the plain version (apk-tools 3).
            ("1.2.3-r0", "1.2.3~abc-r0"),
            ("1.36.1-r29", "1.36.1-r31"),
            ("3.3.2-r0", "3.3.2-r1"),
            ("1.2.13-r0", "1.2.13-r1"),
        ];
        for (a, b) in less {
            assert_eq!(compare(a, b), Some(Less), "{a} < {b}");
            assert_eq!(compare(b, a), Some(Greater), "{b} > {a}");
        }
        for bad in [
            "",
            "a1",
            "1.",
            "1..2",
            "1.0-1",
            "1.0-r",
            "1.0_foo",
            "1.0bc",
            "1.0.r2",
            "1-r1-r2",
            "1.0 ",
            "v1.0",
            "2.7.16-33",
            "0.8.21.r2",
        ] {
            assert!(!is_valid(bad), "{bad:?} should be invalid");
            assert_eq!(compare(bad, "1.0"), None, "{bad:?}");
        }
        for good in [
            "1",
            "1.2.3",
            "1.2.3a",
            "1.0_rc1_p2-r4",
            "20230101",
            "1.0~deadbeef-r1",
        ] {
            assert!(is_valid(good), "{good:?} should be valid");
        }
    }

    fn apk_available() -> bool {
        let ok = Command::new("apk")
            .args(["version", "-t", "1", "2"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "<");
        if !ok {
            eprintln!("notice: apk not found, skipping the apk-tools oracle comparison");
        }
        ok
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        let digits = prop::sample::select(vec!["0", "1", "2", "9", "10", "01", "00", "20230101"]);
        let core = prop::collection::vec(digits.clone(), 1..4).prop_map(|v| v.join("."));
        let letter = prop::option::of(prop::sample::select(vec!["a", "b", "z"]));
        let suffix = prop::collection::vec(
            (
                prop::sample::select(vec![
                    "alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p",
                ]),
                prop::option::of(digits.clone()),
            ),
            0..3,
        );
        let rev = prop::option::of(digits);
        (core, letter, suffix, rev).prop_map(|(core, letter, suffix, rev)| {
            let mut s = core;
            if let Some(l) = letter {
                s.push_str(l);
            }
            for (name, n) in suffix {
                s.push('_');
                s.push_str(name);
                if let Some(n) = n {
                    s.push_str(n);
                }
            }
            if let Some(r) = rev {
                s.push_str("-r");
                s.push_str(r);
            }
            s
        })
    }

    crate::version::ordering_laws!(version_strategy());

    #[test]
    fn matches_apk_tools_when_installed() {
        if !apk_available() {
            return;
        }
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = (version_strategy(), version_strategy());
        for _ in 0..300 {
            let (a, b) = strategy.new_tree(&mut runner).unwrap().current();
            let out = Command::new("apk")
                .args(["version", "-t", &a, &b])
                .output()
                .unwrap();
            let want = match String::from_utf8_lossy(&out.stdout).trim() {
                "<" => Ordering::Less,
                "=" => Ordering::Equal,
                ">" => Ordering::Greater,
                other => panic!("apk version -t {} {}: {other}", a, b),
            };
            assert_eq!(compare(&a, &b), Some(want), "{} vs {}", a, b);
        }
    }
}
