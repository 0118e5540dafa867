//! PEP 440 versions (PyPI), parsed and ordered by `pep440_rs` (uv's implementation):
//! the spec's normalisation rules (case, `v` prefix, `alpha`/`c`/`pre`/`preview`
//! spellings, `-`/`_`/`.` separators, implicit numbers, `1.0-1` as a post-release) and
//! `packaging.version.Version`'s order: epoch, release (trailing zeros ignored), then
//! dev < pre < final < post, then local segments. One difference from `packaging`: a
//! number above `u64::MAX` (`1.99999999999999999999999`) does not parse.

use std::cmp::Ordering;

fn parse(v: &str) -> Option<pep440_rs::Version> {
    v.trim().parse().ok()
}

/// Whether `v` is a PEP 440 version.
pub fn is_valid(v: &str) -> bool {
    parse(v).is_some()
}

/// PEP 440 ordering of `a` and `b`; `None` if either is not a PEP 440 version.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(parse(a)?.cmp(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use std::io::Write;
    use std::process::{Command, Stdio};

    #[test]
    fn spec_ordering() {
        // PEP 440's own example ordering, increasing.
        let chain = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        for (i, a) in chain.iter().enumerate() {
            for (j, b) in chain.iter().enumerate() {
                assert_eq!(compare(a, b), Some(i.cmp(&j)), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn normalisation() {
        let same = [
            ("1.0", "1.0.0"),
            ("1.0", "v1.0"),
            ("1.0", "0!1.0"),
            ("1.0a1", "1.0alpha1"),
            ("1.0a1", "1.0-a1"),
            ("1.0a1", "1.0.a.1"),
            ("1.0b0", "1.0beta"),
            ("1.0rc1", "1.0c1"),
            ("1.0rc1", "1.0pre1"),
            ("1.0rc1", "1.0preview1"),
            ("1.0.post1", "1.0-1"),
            ("1.0.post1", "1.0post1"),
            ("1.0.post1", "1.0-r1"),
            ("1.0.post1", "1.0.rev1"),
            ("1.0.post0", "1.0.post"),
            ("1.0.dev0", "1.0dev"),
            ("1.0+ubuntu.1", "1.0+ubuntu-1"),
            ("1.0RC1", "1.0rc1"),
            (" 1.0 ", "1.0"),
        ];
        for (a, b) in same {
            assert_eq!(compare(a, b), Some(Equal), "{a} == {b}");
        }
        assert_eq!(compare("1!1.0", "2.0"), Some(Greater));
        assert_eq!(compare("1.0.post1", "1.0"), Some(Greater));
        assert_eq!(compare("2.0.0-beta.1", "2.0.0"), Some(Less));
        for bad in [
            "",
            "x",
            "1.0-",
            "1.0+",
            "1.0+a..b",
            "1.0foo",
            "1.0 1",
            "1.0.",
            "1.0-SNAPSHOT",
            // pep440_rs stores numbers as u64; packaging would accept this one.
            "1.99999999999999999999999",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        let num = prop::sample::select(vec!["0", "1", "2", "10", "01"]);
        (
            prop::option::of(prop::sample::select(vec!["0!", "1!"])),
            prop::collection::vec(num.clone(), 1..4),
            prop::option::of((
                prop::sample::select(vec!["a", "b", "rc", "alpha", "c"]),
                num.clone(),
            )),
            prop::option::of(prop::sample::select(vec![
                ".post1", ".post0", "-2", ".post",
            ])),
            prop::option::of(prop::sample::select(vec![".dev0", ".dev3", "dev"])),
            prop::option::of(prop::sample::select(vec![
                "+abc", "+1", "+abc.1", "+1.abc", "+0",
            ])),
        )
            .prop_map(|(e, rel, pre, post, dev, local)| {
                let mut s = e.unwrap_or("").to_string();
                s.push_str(&rel.join("."));
                if let Some((l, n)) = pre {
                    s.push_str(l);
                    s.push_str(n);
                }
                s.push_str(post.unwrap_or(""));
                s.push_str(dev.unwrap_or(""));
                s.push_str(local.unwrap_or(""));
                s
            })
    }

    /// `packaging.version` answers for the pairs, or `None` without a Python that has it.
    fn packaging_oracle(pairs: &[(String, String)]) -> Option<Vec<Ordering>> {
        let script = "import sys\nfrom packaging.version import Version as V\n\
                      for line in sys.stdin:\n    a, b = line.split()\n    \
                      x, y = V(a), V(b)\n    print('L' if x < y else 'E' if x == y else 'G')\n";
        for python in ["python3", "/usr/bin/python3"] {
            let Ok(mut child) = Command::new(python)
                .args(["-c", script])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
            else {
                continue;
            };
            let input: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
            child.stdin.take()?.write_all(input.as_bytes()).ok()?;
            let out = child.wait_with_output().ok()?;
            if !out.status.success() {
                continue;
            }
            let answers: Vec<Ordering> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| match l {
                    "L" => Less,
                    "E" => Equal,
                    _ => Greater,
                })
                .collect();
            if answers.len() == pairs.len() {
                return Some(answers);
            }
        }
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI needs python3 with `packaging` (apt-get install python3-packaging)");
        }
        eprintln!("notice: no python3 with `packaging`, skipping the PEP 440 oracle comparison");
        None
    }

    #[test]
    fn matches_python_packaging_when_installed() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = (version_strategy(), version_strategy());
        let pairs: Vec<(String, String)> = (0..2000)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .collect();
        let Some(answers) = packaging_oracle(&pairs) else {
            return;
        };
        let mismatches: Vec<String> = pairs
            .iter()
            .zip(&answers)
            .filter_map(|((a, b), want)| {
                let got = compare(a, b);
                (got != Some(*want))
                    .then(|| format!("{a} vs {b}: ours {got:?}, packaging {want:?}"))
            })
            .collect();
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }

    crate::version::ordering_laws!(version_strategy());
}
