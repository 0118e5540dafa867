//! PEP 440 versions (PyPI), parsed with the spec's normalisation rules (case, `v`
//! prefix, `alpha`/`c`/`pre`/`preview` spellings, `-`/`_`/`.` separators, implicit
//! numbers, `1.0-1` as a post-release) and ordered like `packaging.version.Version`:
//! epoch, release (trailing zeros ignored), then dev < pre < final < post, then local
//! segments.

use std::cmp::Ordering;

/// A number of any length, stored without leading zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Num(String);

impl Num {
    fn new(digits: &str) -> Num {
        let t = digits.trim_start_matches('0');
        Num(if t.is_empty() { "0".into() } else { t.into() })
    }
    fn zero() -> Num {
        Num("0".into())
    }
    fn is_zero(&self) -> bool {
        self.0 == "0"
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Num) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum LocalSeg {
    /// Letters sort before numbers.
    Str(String),
    Int(Num),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pep440 {
    epoch: Num,
    release: Vec<Num>,
    /// `a` = 0, `b` = 1, `rc` = 2.
    pre: Option<(u8, Num)>,
    post: Option<Num>,
    dev: Option<Num>,
    local: Option<Vec<LocalSeg>>,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn digits(&mut self) -> Option<Num> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        (self.i > start)
            .then(|| Num::new(std::str::from_utf8(&self.s[start..self.i]).unwrap_or("0")))
    }
    fn sep(&mut self) -> bool {
        if matches!(self.peek(), Some(b'-' | b'_' | b'.')) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn word(&mut self, words: &[&str]) -> Option<usize> {
        let rest = &self.s[self.i..];
        let (k, w) = words
            .iter()
            .enumerate()
            .find(|(_, w)| rest.starts_with(w.as_bytes()))?;
        self.i += w.len();
        Some(k)
    }
    /// `[-_.]? word [-_.]? digits?`; rolls back when no word follows.
    fn tagged(&mut self, words: &[&str]) -> Option<(usize, Num)> {
        let start = self.i;
        self.sep();
        let Some(k) = self.word(words) else {
            self.i = start;
            return None;
        };
        let before = self.i;
        let had_sep = self.sep();
        let n = match self.digits() {
            Some(n) => n,
            None => {
                if had_sep {
                    self.i = before;
                }
                Num::zero()
            }
        };
        Some((k, n))
    }
}

fn parse(v: &str) -> Option<Pep440> {
    let lower = v.trim().to_ascii_lowercase();
    let s = lower.strip_prefix('v').unwrap_or(&lower);
    let mut c = Cursor {
        s: s.as_bytes(),
        i: 0,
    };
    let first = c.digits()?;
    let (epoch, first) = if c.peek() == Some(b'!') {
        c.i += 1;
        (first, c.digits()?)
    } else {
        (Num::zero(), first)
    };
    let mut release = vec![first];
    while c.peek() == Some(b'.') && c.s.get(c.i + 1).is_some_and(|b| b.is_ascii_digit()) {
        c.i += 1;
        release.push(c.digits()?);
    }
    // Longer spellings first so that `alpha` is not read as `a` + garbage.
    const PRE: [&str; 8] = ["alpha", "a", "beta", "b", "preview", "pre", "c", "rc"];
    const PRE_RANK: [u8; 8] = [0, 0, 1, 1, 2, 2, 2, 2];
    let pre = c.tagged(&PRE).map(|(k, n)| (PRE_RANK[k], n));
    let post = if c.peek() == Some(b'-') && c.s.get(c.i + 1).is_some_and(|b| b.is_ascii_digit()) {
        c.i += 1;
        c.digits()
    } else {
        c.tagged(&["post", "rev", "r"]).map(|(_, n)| n)
    };
    let dev = c.tagged(&["dev"]).map(|(_, n)| n);
    let local = if c.peek() == Some(b'+') {
        c.i += 1;
        let text = std::str::from_utf8(&c.s[c.i..]).ok()?;
        c.i = c.s.len();
        let mut segs = Vec::new();
        for seg in text.split(['-', '_', '.']) {
            if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return None;
            }
            segs.push(if seg.bytes().all(|b| b.is_ascii_digit()) {
                LocalSeg::Int(Num::new(seg))
            } else {
                LocalSeg::Str(seg.to_string())
            });
        }
        Some(segs)
    } else {
        None
    };
    if c.i != c.s.len() {
        return None;
    }
    while release.len() > 1 && release.last().is_some_and(Num::is_zero) {
        release.pop();
    }
    Some(Pep440 {
        epoch,
        release,
        pre,
        post,
        dev,
        local,
    })
}

/// Where a version stands among the releases of its release number: a dev-only
/// release (`1.0.dev1`) sorts before every pre-release of it, the final release after
/// them.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum PreKey<'a> {
    DevOnly,
    Pre(&'a (u8, Num)),
    Final,
}

fn pre_key(v: &Pep440) -> PreKey<'_> {
    match &v.pre {
        Some(p) => PreKey::Pre(p),
        None if v.post.is_none() && v.dev.is_some() => PreKey::DevOnly,
        None => PreKey::Final,
    }
}

/// `packaging`'s sort key, piece by piece: `None` plays -infinity or +infinity as the
/// spec requires.
fn cmp_parsed(a: &Pep440, b: &Pep440) -> Ordering {
    // No dev part sorts after every dev part.
    let dev = |v: &Pep440| (v.dev.is_none(), v.dev.clone());
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| a.release.cmp(&b.release))
        .then_with(|| pre_key(a).cmp(&pre_key(b)))
        .then_with(|| a.post.cmp(&b.post))
        .then_with(|| dev(a).cmp(&dev(b)))
        .then_with(|| a.local.cmp(&b.local))
}

/// Whether `v` is a PEP 440 version.
pub fn is_valid(v: &str) -> bool {
    parse(v).is_some()
}

/// PEP 440 ordering of `a` and `b`; `None` if either is not a PEP 440 version.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(cmp_parsed(&parse(a)?, &parse(b)?))
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
