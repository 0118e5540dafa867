//! Alpine package versions: `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-rN}`.
//!
//! The ordering is apk-tools' `apk_version_compare` (apk-tools 3 `src/version.c`): digit
//! runs compare as numbers, except that a dotted run with a leading zero compares as a
//! string (Gentoo's rule); one letter may follow a digit run; suffixes `_alpha`, `_beta`,
//! `_pre`, `_rc` sort before the release and `_cvs`, `_svn`, `_git`, `_hg`, `_p` after it;
//! `-rN` is the package release. Numbers have no size limit (apk-tools 2 overflowed
//! 32 bits on dates such as `_pre20191002222144`).
//!
//! One deliberate difference: like apk-tools 2.14 (what every released Alpine ships),
//! digits may follow the letter (`3.3.3p1-r3`). apk-tools 3 calls that invalid and then
//! compares both sides of `3.3.3p1-r3` vs `3.3.3p1-r2` as *equal*, which would read an
//! unpatched package as fixed. Versions that apk-tools rejects are `None` here, never
//! equal.

use std::cmp::Ordering;

/// Token kinds in the order apk-tools declares them: the order matters when two
/// versions differ in structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// `_alpha`.. `_rc` are below [`SUFFIX_NONE`] (pre-releases), the rest above.
const SUFFIXES: [(&str, u8); 9] = [
    ("alpha", 0),
    ("beta", 1),
    ("pre", 2),
    ("rc", 3),
    ("cvs", 5),
    ("svn", 6),
    ("git", 7),
    ("hg", 8),
    ("p", 9),
];
const SUFFIX_NONE: u8 = 4;

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Kind,
    value: &'a [u8],
    suffix: u8,
}

struct Tokens<'a> {
    rest: &'a [u8],
    token: Token<'a>,
}

impl<'a> Tokens<'a> {
    fn new(version: &'a str) -> Tokens<'a> {
        let mut t = Tokens {
            rest: version.as_bytes(),
            token: Token {
                kind: Kind::InitialDigit,
                value: b"",
                suffix: 0,
            },
        };
        t.digits(Kind::InitialDigit);
        t
    }

    fn digits(&mut self, kind: Kind) {
        let n = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let (value, rest) = self.rest.split_at(n);
        self.rest = rest;
        self.token = Token {
            kind: if n == 0 { Kind::Invalid } else { kind },
            value,
            suffix: 0,
        };
    }

    fn invalid(&mut self) {
        self.token.kind = Kind::Invalid;
    }

    fn advance(&mut self) {
        let Some(&c) = self.rest.first() else {
            self.token.kind = Kind::End;
            return;
        };
        let prev = self.token.kind;
        match c {
            b'a'..=b'z' => {
                if prev > Kind::Digit {
                    return self.invalid();
                }
                self.token = Token {
                    kind: Kind::Letter,
                    value: &self.rest[..1],
                    suffix: 0,
                };
                self.rest = &self.rest[1..];
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if prev > Kind::Digit {
                        return self.invalid();
                    }
                    self.rest = &self.rest[1..];
                }
                let kind = match prev {
                    Kind::InitialDigit | Kind::Digit => Kind::Digit,
                    // apk-tools 2.14 accepts digits after the letter (`3.3.3p1`).
                    Kind::Letter if c != b'.' => Kind::Digit,
                    Kind::Suffix if c != b'.' => Kind::SuffixNo,
                    _ => return self.invalid(),
                };
                self.digits(kind);
            }
            b'_' => {
                if prev > Kind::SuffixNo {
                    return self.invalid();
                }
                let body = &self.rest[1..];
                let n = body.iter().take_while(|b| b.is_ascii_lowercase()).count();
                let name = &body[..n];
                let Some(&(_, value)) = SUFFIXES.iter().find(|(s, _)| s.as_bytes() == name) else {
                    return self.invalid();
                };
                self.token = Token {
                    kind: Kind::Suffix,
                    value: name,
                    suffix: value,
                };
                self.rest = &body[n..];
            }
            b'~' => {
                if prev >= Kind::CommitHash {
                    return self.invalid();
                }
                let body = &self.rest[1..];
                let n = body.iter().take_while(|b| b.is_ascii_hexdigit()).count();
                if n == 0 {
                    return self.invalid();
                }
                self.token = Token {
                    kind: Kind::CommitHash,
                    value: &body[..n],
                    suffix: 0,
                };
                self.rest = &body[n..];
            }
            b'-' => {
                if prev >= Kind::RevisionNo || !self.rest.starts_with(b"-r") {
                    return self.invalid();
                }
                self.rest = &self.rest[2..];
                self.digits(Kind::RevisionNo);
            }
            _ => self.invalid(),
        }
    }
}

/// Compares digit strings as numbers of any length.
fn cmp_number(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |s: &[u8]| -> usize { s.iter().take_while(|&&c| c == b'0').count() };
    let (a, b) = (&a[strip(a)..], &b[strip(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_token(a: &Token, b: &Token) -> Ordering {
    match a.kind {
        Kind::Digit if a.value.first() == Some(&b'0') || b.value.first() == Some(&b'0') => {
            a.value.cmp(b.value)
        }
        Kind::InitialDigit | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
            cmp_number(a.value, b.value)
        }
        Kind::Letter => a.value.cmp(b.value),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.value.cmp(b.value),
    }
}

/// Whether apk would accept `version` (`apk_version_validate`, plus digits after the
/// letter).
pub fn is_valid(version: &str) -> bool {
    let mut t = Tokens::new(version);
    while t.token.kind < Kind::End {
        t.advance();
    }
    t.token.kind == Kind::End
}

/// apk's ordering of two versions; `None` if either is not a valid apk version.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    if !is_valid(a) || !is_valid(b) {
        return None;
    }
    let (mut ta, mut tb) = (Tokens::new(a), Tokens::new(b));
    while ta.token.kind == tb.token.kind && ta.token.kind < Kind::End {
        match cmp_token(&ta.token, &tb.token) {
            Ordering::Equal => {}
            other => return Some(other),
        }
        ta.advance();
        tb.advance();
    }
    let (x, y) = (ta.token, tb.token);
    if x.kind == y.kind {
        return Some(Ordering::Equal);
    }
    // Equal so far: the longer version is newer, unless what it has next is a
    // pre-release suffix.
    if x.kind == Kind::Suffix && x.suffix < SUFFIX_NONE {
        return Some(Ordering::Less);
    }
    if y.kind == Kind::Suffix && y.suffix < SUFFIX_NONE {
        return Some(Ordering::Greater);
    }
    Some(y.kind.cmp(&x.kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
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
