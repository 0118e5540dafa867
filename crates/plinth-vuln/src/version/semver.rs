//! Semantic Versioning 2.0 precedence, tolerant of what real feeds contain: a `v`
//! prefix, a missing minor or patch number (`0`, `1.2`: OSV's `introduced: "0"`), and
//! leading zeros. Build metadata (`+incompatible`, `+build.5`) never affects the order.
//!
//! Go module versions are semver with a `v`; pseudo-versions
//! (`v0.0.0-20191109021931-daa7c04131f5`) are pre-releases and order correctly as they
//! are. With `go = true` the toolchain's spelling of Go releases is understood too:
//! `go1.21.3`, `go1.21` (= 1.21.0), `go1.21rc2` (= 1.21.0-rc.2), `go1.9beta1`.

use std::borrow::Cow;
use std::cmp::Ordering;

#[derive(Debug, PartialEq, Eq)]
struct SemVer<'a> {
    core: [&'a str; 3],
    pre: Vec<&'a str>,
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Go's toolchain spelling (`go1.21rc2`) as a semver string.
fn go_toolchain(v: &str) -> Option<String> {
    let rest = v.strip_prefix("go")?;
    let split = rest.find(|c: char| c.is_ascii_alphabetic());
    let (nums, pre) = match split {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || !parts.iter().all(|p| is_digits(p)) {
        return None;
    }
    let mut out = parts.join(".");
    for _ in parts.len()..3 {
        out.push_str(".0");
    }
    if !pre.is_empty() {
        let n = pre.find(|c: char| c.is_ascii_digit()).unwrap_or(pre.len());
        let (word, num) = pre.split_at(n);
        if !word.bytes().all(|b| b.is_ascii_lowercase()) || (!num.is_empty() && !is_digits(num)) {
            return None;
        }
        out.push('-');
        out.push_str(word);
        if !num.is_empty() {
            out.push('.');
            out.push_str(num);
        }
    }
    Some(out)
}

fn parse(v: &str) -> Option<SemVer<'_>> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let (v, build) = match v.split_once('+') {
        Some((v, build)) => (v, Some(build)),
        None => (v, None),
    };
    if let Some(build) = build
        && !build.split('.').all(is_ident)
    {
        return None;
    }
    let (core, pre) = match v.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (v, None),
    };
    let mut nums = ["0"; 3];
    for (i, part) in core.split('.').enumerate() {
        if i == 3 || !is_digits(part) {
            return None;
        }
        nums[i] = part;
    }
    let pre = match pre {
        Some(pre) => {
            let ids: Vec<&str> = pre.split('.').collect();
            if !ids.iter().all(|id| is_ident(id)) {
                return None;
            }
            ids
        }
        None => Vec::new(),
    };
    Some(SemVer { core: nums, pre })
}

fn normalise(v: &str, go: bool) -> Option<Cow<'_, str>> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    if go && v.starts_with("go") {
        return go_toolchain(v).map(Cow::Owned);
    }
    Some(Cow::Borrowed(v))
}

/// Compares digit strings as numbers of any length.
fn cmp_number(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_ident(a: &str, b: &str) -> Ordering {
    match (is_digits(a), is_digits(b)) {
        (true, true) => cmp_number(a, b),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

fn cmp_parsed(a: &SemVer, b: &SemVer) -> Ordering {
    for i in 0..3 {
        match cmp_number(a.core[i], b.core[i]) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    match (a.pre.is_empty(), b.pre.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    for (x, y) in a.pre.iter().zip(&b.pre) {
        match cmp_ident(x, y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    a.pre.len().cmp(&b.pre.len())
}

/// Whether `v` parses (with Go's spellings when `go`).
pub fn is_valid(v: &str, go: bool) -> bool {
    normalise(v, go).is_some_and(|v| parse(&v).is_some())
}

/// Semver precedence of `a` and `b`; `None` if either does not parse.
pub fn compare(a: &str, b: &str, go: bool) -> Option<Ordering> {
    let (a, b) = (normalise(a, go)?, normalise(b, go)?);
    Some(cmp_parsed(&parse(&a)?, &parse(&b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;
    use proptest::prelude::*;

    #[test]
    fn semver_spec_precedence() {
        // semver.org §11, in increasing order.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for (i, a) in chain.iter().enumerate() {
            for (j, b) in chain.iter().enumerate() {
                assert_eq!(compare(a, b, false), Some(i.cmp(&j)), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn tolerant_forms() {
        assert_eq!(compare("0", "0.0.0-0", false), Some(Greater));
        assert_eq!(compare("0", "0.0.0", false), Some(Equal));
        assert_eq!(compare("1.2", "1.2.0", false), Some(Equal));
        assert_eq!(compare("v1.2.3", "1.2.3", false), Some(Equal));
        assert_eq!(
            compare("1.2.3+build.1", "1.2.3+build.2", false),
            Some(Equal)
        );
        assert_eq!(compare("1.10.0", "1.9.0", false), Some(Greater));
        assert_eq!(compare("1.0.0-rc.10", "1.0.0-rc.9", false), Some(Greater));
        assert_eq!(
            compare("99999999999999999999.0.0", "9.0.0", false),
            Some(Greater)
        );
        for bad in [
            "",
            "x",
            "1.2.3.4",
            "1..2",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.3+",
            "1.2a",
        ] {
            assert!(!is_valid(bad, false), "{bad:?}");
            assert_eq!(compare(bad, "1.0.0", false), None, "{bad:?}");
        }
    }

    #[test]
    fn go_module_versions() {
        let chain = [
            "v0.0.0-20191109021931-daa7c04131f5",
            "v0.0.0-20200101000000-aaaaaaaaaaaa",
            "v0.1.0",
            "v1.20.0-0",
            "v1.20.0-rc.1",
            "v1.20.0",
            "v1.20.1-0.20230101000000-abcdefabcdef",
            "v1.20.1",
            "v2.0.0+incompatible",
            "v2.0.1+incompatible",
        ];
        for w in chain.windows(2) {
            assert_eq!(compare(w[0], w[1], true), Some(Less), "{} < {}", w[0], w[1]);
        }
        assert_eq!(compare("v2.0.0+incompatible", "2.0.0", true), Some(Equal));
    }

    #[test]
    fn go_toolchain_versions() {
        let chain = [
            "go1.9beta1",
            "go1.9rc2",
            "go1.9",
            "go1.20.14",
            "go1.21rc2",
            "go1.21.0",
            "go1.21.3",
            "1.21.4",
        ];
        for w in chain.windows(2) {
            assert_eq!(compare(w[0], w[1], true), Some(Less), "{} < {}", w[0], w[1]);
        }
        assert_eq!(compare("go1.21", "1.21.0", true), Some(Equal));
        assert_eq!(compare("go1.21rc2", "1.21.0-rc.2", true), Some(Equal));
        assert_eq!(compare("go1.21", "1.21.0", false), None);
        assert!(!is_valid("goX", true));
        assert!(!is_valid("go1.2.3.4", true));
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        let num = prop::sample::select(vec!["0", "1", "2", "10", "01"]);
        let ident = prop::sample::select(vec!["0", "1", "11", "alpha", "beta", "rc", "a-b"]);
        (
            prop::bool::ANY,
            prop::collection::vec(num, 1..4),
            prop::collection::vec(ident.clone(), 0..3),
            prop::collection::vec(ident, 0..2),
        )
            .prop_map(|(v, core, pre, build)| {
                let mut s = if v { "v".to_string() } else { String::new() };
                s.push_str(&core.join("."));
                if !pre.is_empty() {
                    s.push('-');
                    s.push_str(&pre.join("."));
                }
                if !build.is_empty() {
                    s.push('+');
                    s.push_str(&build.join("."));
                }
                s
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn antisymmetric(a in version_strategy(), b in version_strategy(), go in prop::bool::ANY) {
            prop_assert_eq!(compare(&a, &b, go).unwrap(), compare(&b, &a, go).unwrap().reverse());
            prop_assert_eq!(compare(&a, &a, go), Some(Equal));
        }

        #[test]
        fn transitive(a in version_strategy(), b in version_strategy(), c in version_strategy()) {
            let le = |x: &str, y: &str| compare(x, y, true).unwrap() != Greater;
            for (x, y, z) in [(&a, &b, &c), (&a, &c, &b), (&b, &a, &c), (&b, &c, &a), (&c, &a, &b), (&c, &b, &a)] {
                if le(x, y) && le(y, z) {
                    prop_assert!(le(x, z), "{} <= {} <= {} but not {} <= {}", x, y, z, x, z);
                }
            }
        }

        #[test]
        fn never_panics(s in "\\PC{0,16}") {
            let _ = compare(&s, "1.0.0", true);
            let _ = compare(&s, "1.0.0", false);
        }
    }
}
