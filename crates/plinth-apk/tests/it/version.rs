//! apk's version ordering: apk-tools' own test vectors, and a table written from the
//! rules apk-tools documents (apk-package(5), "pkgver": digits, one letter, suffixes,
//! `-rN`).

use std::cmp::Ordering::{self, *};

use plinth_apk::version::{Op, compare, is_valid};
use proptest::prelude::*;

/// apk-tools' `test/version.data`: `a op b` a line. Two pairs compare an invalid version
/// (apk-tools falls back to a string sort); this crate refuses to order them.
#[test]
fn apk_tools_vectors() {
    let text = fs_err::read_to_string(crate::support::data("apk-version-vectors.txt")).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [a, op, b] = parts[..] else { continue };
        let want = match op {
            "<" => Less,
            "=" => Equal,
            ">" => Greater,
            other => panic!("bad op {other}"),
        };
        if !is_valid(a) || !is_valid(b) {
            assert!(
                [("23_foo", "4_beta"), ("1.0", "1.0bc")].contains(&(a, b)),
                "{a} {b}"
            );
            assert_eq!(compare(a, b), None);
            continue;
        }
        assert_eq!(compare(a, b), Some(want), "{a} {op} {b}");
        assert_eq!(compare(b, a), Some(want.reverse()), "{b} vs {a}");
        n += 1;
    }
    assert!(n > 700, "{n} vectors");
}

/// Each row follows one documented rule; `a < b`.
#[test]
fn documented_rules_table() {
    let less: &[(&str, &str, &str)] = &[
        ("1.2", "1.10", "digit runs compare as numbers"),
        ("1.9", "1.10", "digit runs compare as numbers"),
        ("1.2", "1.2.1", "more components are newer"),
        (
            "1.01",
            "1.1",
            "a leading zero compares as a string (Gentoo's rule)",
        ),
        (
            "1.2",
            "1.2a",
            "a letter after the digits is newer than none",
        ),
        ("1.2a", "1.2b", "letters compare alphabetically"),
        ("1.2_alpha", "1.2_beta", "_alpha < _beta"),
        ("1.2_beta", "1.2_pre", "_beta < _pre"),
        ("1.2_pre", "1.2_rc", "_pre < _rc"),
        (
            "1.2_rc",
            "1.2",
            "pre-release suffixes are older than the release",
        ),
        ("1.2", "1.2_cvs", "_cvs is newer than the release"),
        ("1.2_cvs", "1.2_svn", "_cvs < _svn"),
        ("1.2_svn", "1.2_git", "_svn < _git"),
        ("1.2_git", "1.2_hg", "_git < _hg"),
        ("1.2_hg", "1.2_p", "_hg < _p"),
        ("1.2_p", "1.2_p1", "a suffix number is newer than none"),
        ("1.2_rc1", "1.2_rc2", "suffix numbers compare as numbers"),
        ("1.2_rc9", "1.2_rc10", "suffix numbers compare as numbers"),
        ("1.2-r0", "1.2-r1", "the -rN release counts last"),
        ("1.2-r9", "1.2-r10", "-rN compares as a number"),
        ("1.2", "1.2-r0", "a -rN, even -r0, is newer than none"),
        ("1.2-r5", "1.2.1-r0", "the version before the release"),
        (
            "1.2_rc1-r3",
            "1.2-r0",
            "a pre-release with any -rN is older than the release",
        ),
        ("1.2-r1", "1.2_p1-r0", "_p after the release, whatever -rN"),
        ("2022f-r0", "2022g-r0", "tzdata's letters"),
        ("1.35.0-r17", "1.35.0-r18", "busybox in 3.16"),
        ("1.1.1s-r0", "1.1.1t-r0", "openssl's letters"),
        (
            "20220614-r0",
            "20230506-r0",
            "date versions compare as numbers",
        ),
    ];
    for (a, b, rule) in less {
        assert_eq!(compare(a, b), Some(Less), "{a} < {b}: {rule}");
        assert_eq!(compare(b, a), Some(Greater), "{b} > {a}: {rule}");
    }
    for (a, b) in [("1.2", "1.2"), ("1.2-r0", "1.2-r0"), ("1.02", "1.02")] {
        assert_eq!(compare(a, b), Some(Equal), "{a} = {b}");
    }
    for bad in [
        "", "a1", "1.", "1..2", "1.0-1", "1.0-r", "1.0_foo", "1.0 ", "v1.0",
    ] {
        assert!(!is_valid(bad), "{bad:?}");
    }
}

#[test]
fn constraint_operators() {
    let cases: &[(&str, Op, &str, bool)] = &[
        ("1.2.3-r0", Op::Eq, "1.2.3-r0", true),
        ("1.2.3-r1", Op::Eq, "1.2.3-r0", false),
        ("1.2.3", Op::Eq, "1.2.3-r0", false),
        ("1.2", Op::Lt, "1.3", true),
        ("1.3", Op::Lt, "1.3", false),
        ("1.3", Op::Le, "1.3", true),
        ("1.4", Op::Gt, "1.3", true),
        ("1.3", Op::Ge, "1.3", true),
        ("1.2", Op::Ge, "1.3", false),
        ("1.2", Op::Fuzzy, "1.2", true),
        ("1.2.3", Op::Fuzzy, "1.2", true),
        ("1.2-r4", Op::Fuzzy, "1.2", true),
        ("1.20", Op::Fuzzy, "1.2", false),
        ("1.3", Op::Fuzzy, "1.2", false),
        ("1", Op::Fuzzy, "1.2", false),
        ("bad", Op::Ge, "1.0", false),
    ];
    for (have, op, want, ok) in cases {
        assert_eq!(op.matches(have, want), *ok, "{have} {} {want}", op.as_str());
    }
}

fn version() -> impl Strategy<Value = String> {
    let num = prop::sample::select(vec!["0", "1", "2", "9", "10", "01", "20230101"]);
    (
        prop::collection::vec(num.clone(), 1..4),
        prop::option::of(prop::sample::select(vec!["a", "z"])),
        prop::option::of(prop::sample::select(vec!["_alpha", "_rc1", "_p2", "_git"])),
        prop::option::of(num),
    )
        .prop_map(|(parts, letter, suffix, rel)| {
            let mut s = parts.join(".");
            s.push_str(letter.unwrap_or(""));
            s.push_str(suffix.unwrap_or(""));
            if let Some(r) = rel {
                s.push_str("-r");
                s.push_str(r);
            }
            s
        })
}

proptest! {
    #[test]
    fn ordering_is_a_total_order(a in version(), b in version(), c in version()) {
        let ab = compare(&a, &b).unwrap();
        prop_assert_eq!(compare(&b, &a).unwrap(), ab.reverse());
        prop_assert_eq!(compare(&a, &a), Some(Equal));
        let bc = compare(&b, &c).unwrap();
        if ab != Greater && bc != Greater {
            prop_assert_ne!(compare(&a, &c).unwrap(), Ordering::Greater, "{} {} {}", a, b, c);
        }
    }

    #[test]
    fn compare_never_panics(a in ".{0,20}", b in ".{0,20}") {
        let _ = compare(&a, &b);
        let _ = Op::Fuzzy.matches(&a, &b);
    }
}
