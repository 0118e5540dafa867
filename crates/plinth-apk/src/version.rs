//! apk package versions: `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-rN}`.
//!
//! The ordering is apk-tools' `apk_version_compare` (apk-tools 3 `src/version.c`): digit
//! runs compare as numbers, except that a dotted run with a leading zero compares as a
//! string (Gentoo's rule); one letter may follow a digit run; suffixes `_alpha`, `_beta`,
//! `_pre`, `_rc` sort before the release and `_cvs`, `_svn`, `_git`, `_hg`, `_p` after it;
//! `-rN` is the package release. Numbers have no size limit.
//!
//! Like apk-tools 2.14 (what every released Alpine ships), digits may follow the letter
//! (`3.3.3p1-r3`). Versions apk-tools rejects are `None` here, never equal.
//!
//! The same comparison as `plinth-vuln`'s apk version scheme (the crate map keeps the two
//! crates apart: plinth-vuln may not link this crate's RSA code); a change to one is a
//! change to both, and both are tested on apk-tools' own vectors.

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

/// A version constraint of a dependency: `=`, `<`, `<=`, `>`, `>=`, `~` (fuzzy: the
/// version starts with the given one, component-wise), `><` (any version: apk's "any").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `~`: the candidate's version equals the given version or extends it by more
    /// components (`~1.2` matches `1.2`, `1.2.3`, `1.2-r4`, not `1.20`).
    Fuzzy,
}

impl Op {
    /// The operator as apk writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Fuzzy => "~",
        }
    }

    /// Whether `candidate` satisfies `candidate OP wanted`. Invalid versions satisfy
    /// nothing.
    pub fn matches(self, candidate: &str, wanted: &str) -> bool {
        if self == Op::Fuzzy {
            return fuzzy_match(candidate, wanted);
        }
        let Some(ord) = compare(candidate, wanted) else {
            return false;
        };
        match self {
            Op::Eq => ord == Ordering::Equal,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
            Op::Fuzzy => unreachable!("handled above"),
        }
    }
}

/// apk's `~` (`APK_VERSION_FUZZY`): the candidate's tokens start with all of the wanted
/// version's tokens (so `~1.2` takes `1.2`, `1.2.3` and `1.2-r4`, not `1.20`).
fn fuzzy_match(candidate: &str, wanted: &str) -> bool {
    if !is_valid(candidate) || !is_valid(wanted) {
        return false;
    }
    let (mut tc, mut tw) = (Tokens::new(candidate), Tokens::new(wanted));
    while tw.token.kind < Kind::End {
        if tc.token.kind != tw.token.kind || cmp_token(&tc.token, &tw.token) != Ordering::Equal {
            return false;
        }
        tc.advance();
        tw.advance();
    }
    true
}
