//! Debian package versions (`[epoch:]upstream[-revision]`) ordered exactly like dpkg.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Why a version string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// Nothing but whitespace.
    #[error("version is empty")]
    Empty,
    /// Whitespace inside the version (the trimmed text is kept).
    #[error("version {0:?} contains whitespace")]
    Whitespace(String),
    /// The part before `:` is empty, not all digits, or above `i32::MAX`.
    #[error("version {0:?} has an invalid epoch")]
    BadEpoch(String),
    /// Nothing between the epoch and the revision.
    #[error("version {0:?} has an empty upstream part")]
    EmptyUpstream(String),
    /// The version ends with `-`.
    #[error("version {0:?} has an empty revision")]
    EmptyRevision(String),
    /// The upstream part does not start with a digit.
    #[error("version {0:?} does not start with a digit")]
    NoLeadingDigit(String),
    /// A character outside `[A-Za-z0-9.+~-:]` in the upstream part, or outside
    /// `[A-Za-z0-9.+~]` in the revision.
    #[error("version {0:?} contains an invalid character")]
    BadCharacter(String),
}

/// A parsed Debian version. Equality and ordering follow dpkg, so `1.0`, `0:1.0` and
/// `1.0-0` are equal; [`Version::as_str`] keeps the text as written.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    epoch: u32,
    upstream: (usize, usize),
    revision: Option<(usize, usize)>,
}

impl Version {
    /// Parses a version with dpkg's rules, also rejecting what dpkg only warns about
    /// (no leading digit, characters outside `[A-Za-z0-9.+~-:]`).
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        if text.contains(char::is_whitespace) {
            return Err(VersionError::Whitespace(text.to_string()));
        }
        let bad = |f: fn(String) -> VersionError| Err(f(text.to_string()));
        let (epoch, up_start) = match text.find(':') {
            Some(i) => {
                let e = &text[..i];
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return bad(VersionError::BadEpoch);
                }
                match e.parse::<u32>() {
                    Ok(n) if n <= i32::MAX as u32 => (n, i + 1),
                    _ => return bad(VersionError::BadEpoch),
                }
            }
            None => (0, 0),
        };
        let (upstream, revision) = match text.rfind('-') {
            Some(i) if i >= up_start => {
                if i + 1 == text.len() {
                    return bad(VersionError::EmptyRevision);
                }
                ((up_start, i), Some((i + 1, text.len())))
            }
            _ => ((up_start, text.len()), None),
        };
        let up = &text[upstream.0..upstream.1];
        if up.is_empty() {
            return bad(VersionError::EmptyUpstream);
        }
        if !up.starts_with(|c: char| c.is_ascii_digit()) {
            return bad(VersionError::NoLeadingDigit);
        }
        let up_ok = up
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~-:".contains(&b));
        let rev_ok = revision.is_none_or(|(s, e)| {
            text[s..e]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b))
        });
        if !up_ok || !rev_ok {
            return bad(VersionError::BadCharacter);
        }
        Ok(Self {
            text: text.to_string(),
            epoch,
            upstream,
            revision,
        })
    }

    /// The version as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The epoch, 0 when the version has none.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream version: between the epoch's `:` and the last `-`.
    pub fn upstream(&self) -> &str {
        &self.text[self.upstream.0..self.upstream.1]
    }

    /// The Debian revision, `""` when the version has none.
    pub fn revision(&self) -> &str {
        self.revision.map_or("", |(s, e)| &self.text[s..e])
    }
}

/// dpkg's character weight: `~` lowest, then end of string, then letters, then others.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream().as_bytes(), other.upstream().as_bytes()))
            .then_with(|| verrevcmp(self.revision().as_bytes(), other.revision().as_bytes()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn parses_parts() {
        let x = v("2:1.2-3-4ubuntu1");
        assert_eq!(
            (x.epoch(), x.upstream(), x.revision()),
            (2, "1.2-3", "4ubuntu1")
        );
        let y = v(" 1.0 ");
        assert_eq!((y.epoch(), y.upstream(), y.revision()), (0, "1.0", ""));
        assert_eq!(y.as_str(), "1.0");
        assert_eq!(v("1:2.3:4").upstream(), "2.3:4");
    }

    #[test]
    fn rejects_bad_versions() {
        use VersionError::*;
        let err = |s: &str| Version::parse(s).unwrap_err();
        assert_eq!(err(""), Empty);
        assert!(matches!(err("1 .0"), Whitespace(_)));
        assert!(matches!(err("a:1.0"), BadEpoch(_)));
        assert!(matches!(err(":1.0"), BadEpoch(_)));
        assert!(matches!(err("99999999999:1"), BadEpoch(_)));
        assert!(matches!(err("1.0-"), EmptyRevision(_)));
        assert!(matches!(err("1:-1"), EmptyUpstream(_)));
        assert!(matches!(err("abc"), NoLeadingDigit(_)));
        assert!(matches!(err("1.0_1"), BadCharacter(_)));
        assert!(matches!(err("1.0-a_b"), BadCharacter(_)));
    }

    #[test]
    fn classic_tricky_orderings() {
        let less = [
            ("1.0~rc1", "1.0"),
            ("1.0~~", "1.0~"),
            ("1.0~~", "1.0~~a"),
            ("1.0~~a", "1.0~"),
            ("1.0", "1.0a"),
            ("1.0", "1.0+b1"),
            ("1.0", "1.0.1"),
            ("1.0a", "1.0+"),
            ("1.0+", "1.0."),
            ("1.9", "1.10"),
            ("1.0-1", "1.0-2"),
            ("1.0-9", "1.0-10"),
            ("1.0-1~bpo1", "1.0-1"),
            ("9.9", "1:0.1"),
            ("2.30-1", "2.30-1+deb12u1"),
            ("1.2.3-1", "1.2.3-1.1"),
            ("0.0~git2020", "0.0"),
            ("1.0-0~", "1.0"),
            ("3.0.11-1~deb12u2", "3.0.15-1~deb12u1"),
        ];
        for (a, b) in less {
            assert!(v(a) < v(b), "{a} < {b}");
            assert!(v(b) > v(a), "{b} > {a}");
        }
        let equal = [
            ("1.0", "0:1.0"),
            ("1.0", "1.0-0"),
            ("1.0", "1.00"),
            ("1.01", "1.1"),
        ];
        for (a, b) in equal {
            assert_eq!(v(a), v(b), "{a} == {b}");
        }
    }

    /// Three-way comparison by `dpkg --compare-versions`, one shell for the whole batch.
    fn dpkg_oracle(pairs: &[(String, String)]) -> Option<Vec<Ordering>> {
        let script = r#"while read a b; do
            if dpkg --compare-versions "$a" lt "$b"; then echo L;
            elif dpkg --compare-versions "$a" eq "$b"; then echo E; else echo G; fi
        done"#;
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let mut input = String::new();
        for (a, b) in pairs {
            input.push_str(&format!("{a} {b}\n"));
        }
        child.stdin.take()?.write_all(input.as_bytes()).ok()?;
        let out = child.wait_with_output().ok()?;
        let answers: Vec<Ordering> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| match l {
                "L" => Ordering::Less,
                "E" => Ordering::Equal,
                _ => Ordering::Greater,
            })
            .collect();
        (answers.len() == pairs.len()).then_some(answers)
    }

    fn dpkg_available() -> bool {
        let ok = Command::new("dpkg")
            .args(["--compare-versions", "1", "lt", "2"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "dpkg is required for the version oracle test in CI"
            );
            eprintln!("notice: dpkg not found, skipping the dpkg oracle comparison");
        }
        ok
    }

    /// Versions built from few, tricky pieces so that pairs often share prefixes.
    fn version_strategy() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "0", "1", "2", "9", "10", "01", "00", "a", "b", "z", "A", "~", "~~", "+", ".",
        ]);
        let upstream = (
            prop::sample::select(vec!["0", "1", "2", "10", "01"]),
            prop::collection::vec(piece.clone(), 0..5),
        );
        let revision = prop::option::of(prop::collection::vec(piece, 1..4));
        let epoch = prop::option::of(0u32..3);
        (epoch, upstream, revision).prop_map(|(e, (head, tail), rev)| {
            let mut s = String::new();
            if let Some(e) = e {
                s.push_str(&format!("{e}:"));
            }
            s.push_str(head);
            s.push_str(&tail.concat());
            if let Some(rev) = rev {
                s.push('-');
                s.push_str(&rev.concat());
            }
            s
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4, max_shrink_iters: 4, ..ProptestConfig::default() })]

        #[test]
        fn matches_dpkg_compare_versions(
            pairs in prop::collection::vec((version_strategy(), version_strategy()), 800)
        ) {
            if !dpkg_available() {
                return Ok(());
            }
            let answers = dpkg_oracle(&pairs).expect("dpkg oracle ran");
            let mismatches: Vec<String> = pairs
                .iter()
                .zip(&answers)
                .filter_map(|((a, b), want)| {
                    let got = v(a).cmp(&v(b));
                    (got != *want).then(|| format!("{a} vs {b}: ours {got:?}, dpkg {want:?}"))
                })
                .collect();
            prop_assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
        }

        #[test]
        fn ordering_is_consistent(a in version_strategy(), b in version_strategy()) {
            let (a, b) = (v(&a), v(&b));
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}") {
            let _ = Version::parse(&s);
        }
    }
}
