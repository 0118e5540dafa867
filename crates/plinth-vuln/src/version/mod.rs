//! Version ordering for every ecosystem plinth matches: dpkg, apk, semver (crates.io,
//! npm), Go modules, PEP 440 (PyPI) and rpm.
//!
//! [`compare`] answers `None` when either side does not parse in the scheme: an
//! unparseable version is never silently "equal" or "older".

use std::cmp::Ordering;

pub mod apk;
pub mod pep440;
pub mod rpm;
pub mod semver;

/// A version ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Debian: `[epoch:]upstream[-revision]`, ordered like `dpkg --compare-versions`.
    Dpkg,
    /// Alpine: `1.2.3a_rc1_p2-r4`, ordered like apk-tools.
    Apk,
    /// Semantic versioning 2.0 (crates.io, npm), tolerating a `v` prefix and missing
    /// minor/patch numbers.
    Semver,
    /// Go modules: semver with a `v` prefix, `+incompatible`, pseudo-versions, and the
    /// toolchain's own `go1.21rc2` spelling for `stdlib`.
    Go,
    /// Python's PEP 440.
    Pep440,
    /// rpm's `[epoch:]version[-release]` with rpmvercmp (`~` and `^`).
    Rpm,
}

impl Scheme {
    /// The scheme's name in reports (`dpkg`, `pep440`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Apk => "apk",
            Scheme::Semver => "semver",
            Scheme::Go => "go",
            Scheme::Pep440 => "pep440",
            Scheme::Rpm => "rpm",
        }
    }

    /// Whether `version` parses in this scheme.
    pub fn is_valid(self, version: &str) -> bool {
        match self {
            Scheme::Dpkg => plinth_dpkg::version::Version::parse(version).is_ok(),
            Scheme::Apk => apk::is_valid(version),
            Scheme::Semver => semver::is_valid(version, false),
            Scheme::Go => semver::is_valid(version, true),
            Scheme::Pep440 => pep440::is_valid(version),
            Scheme::Rpm => rpm::is_valid(version),
        }
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Orders `a` and `b` in `scheme`; `None` when either does not parse.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Option<Ordering> {
    match scheme {
        Scheme::Dpkg => {
            let a = plinth_dpkg::version::Version::parse(a).ok()?;
            let b = plinth_dpkg::version::Version::parse(b).ok()?;
            Some(a.cmp(&b))
        }
        Scheme::Apk => apk::compare(a, b),
        Scheme::Semver => semver::compare(a, b, false),
        Scheme::Go => semver::compare(a, b, true),
        Scheme::Pep440 => pep440::compare(a, b),
        Scheme::Rpm => rpm::compare(a, b),
    }
}

/// The scheme of a normalised ecosystem key (`debian:12`, `alpine:3.20`, `go`, …).
/// Upper-case OSV spellings (`Debian:12`, `PyPI`) are accepted too. An ecosystem plinth
/// does not know gets [`Scheme::Semver`], the most common ordering of the rest.
pub fn scheme_for(ecosystem: &str) -> Scheme {
    let lower = ecosystem.to_ascii_lowercase();
    let family = lower.split(':').next().unwrap_or_default();
    match family {
        "debian" | "ubuntu" => Scheme::Dpkg,
        "alpine" | "wolfi" | "chainguard" => Scheme::Apk,
        "go" | "golang" => Scheme::Go,
        "pypi" => Scheme::Pep440,
        "crates.io" | "cargo" | "npm" => Scheme::Semver,
        "rpm" | "rhel" | "redhat" | "red hat" | "centos" | "fedora" | "rocky" | "rocky linux"
        | "almalinux" | "alma" | "amazon" | "amazonlinux" | "amazon linux" | "opensuse"
        | "suse" | "sles" | "oracle" | "oraclelinux" | "ol" | "mariner" | "azurelinux"
        | "photon" | "openeuler" => Scheme::Rpm,
        _ => Scheme::Semver,
    }
}

/// The laws every version ordering obeys, as property tests over a strategy of version
/// strings; each scheme's test module instantiates them for its own `compare`.
#[cfg(test)]
macro_rules! ordering_laws {
    ($strategy:expr) => {
        proptest::proptest! {
            #![proptest_config(proptest::prelude::ProptestConfig {
                cases: 512,
                ..proptest::prelude::ProptestConfig::default()
            })]

            #[test]
            fn antisymmetric(a in $strategy, b in $strategy) {
                proptest::prop_assert_eq!(
                    compare(&a, &b).unwrap(),
                    compare(&b, &a).unwrap().reverse()
                );
                proptest::prop_assert_eq!(compare(&a, &a), Some(std::cmp::Ordering::Equal));
            }

            #[test]
            fn transitive(a in $strategy, b in $strategy, c in $strategy) {
                let le = |x: &str, y: &str| compare(x, y).unwrap() != std::cmp::Ordering::Greater;
                for (x, y, z) in [(&a, &b, &c), (&a, &c, &b), (&b, &a, &c), (&b, &c, &a), (&c, &a, &b), (&c, &b, &a)] {
                    if le(x, y) && le(y, z) {
                        proptest::prop_assert!(le(x, z), "{} <= {} <= {} but not {} <= {}", x, y, z, x, z);
                    }
                }
            }

            #[test]
            fn never_panics(s in "\\PC{0,16}") {
                let _ = compare(&s, "1.0");
            }
        }
    };
}
#[cfg(test)]
pub(crate) use ordering_laws;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Debian versions from tricky pieces (`~`, `+`, leading zeros, epochs). Agreement
    /// with `dpkg --compare-versions` itself is plinth-deb's proptest
    /// (`version::tests::matches_dpkg_compare_versions`, 3,200 pairs).
    fn dpkg_strategy() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec!["0", "1", "9", "10", "01", "a", "z", "~", "+", "."]);
        (
            prop::option::of(prop::sample::select(vec!["1:", "0:"])),
            prop::sample::select(vec!["0", "1", "2", "10"]),
            prop::collection::vec(piece.clone(), 0..4),
            prop::option::of(prop::collection::vec(piece, 1..3)),
        )
            .prop_map(|(e, head, tail, rev)| {
                let mut s = e.unwrap_or("").to_string();
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
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn dpkg_is_antisymmetric_and_transitive(
            a in dpkg_strategy(), b in dpkg_strategy(), c in dpkg_strategy()
        ) {
            let cmp = |x: &str, y: &str| compare(Scheme::Dpkg, x, y).unwrap();
            prop_assert_eq!(cmp(&a, &b), cmp(&b, &a).reverse());
            let le = |x: &str, y: &str| cmp(x, y) != Ordering::Greater;
            for (x, y, z) in [(&a, &b, &c), (&a, &c, &b), (&b, &a, &c), (&b, &c, &a), (&c, &a, &b), (&c, &b, &a)] {
                if le(x, y) && le(y, z) {
                    prop_assert!(le(x, z), "{} <= {} <= {} but not {} <= {}", x, y, z, x, z);
                }
            }
        }
    }

    #[test]
    fn schemes_for_ecosystems() {
        assert_eq!(scheme_for("debian:12"), Scheme::Dpkg);
        assert_eq!(scheme_for("debian:sid"), Scheme::Dpkg);
        assert_eq!(scheme_for("Debian:11"), Scheme::Dpkg);
        assert_eq!(scheme_for("alpine:3.20"), Scheme::Apk);
        assert_eq!(scheme_for("go"), Scheme::Go);
        assert_eq!(scheme_for("crates.io"), Scheme::Semver);
        assert_eq!(scheme_for("npm"), Scheme::Semver);
        assert_eq!(scheme_for("pypi"), Scheme::Pep440);
        assert_eq!(scheme_for("PyPI"), Scheme::Pep440);
        assert_eq!(scheme_for("rhel:9"), Scheme::Rpm);
        assert_eq!(scheme_for("fedora:40"), Scheme::Rpm);
        assert_eq!(scheme_for("amazon:2023"), Scheme::Rpm);
    }

    #[test]
    fn dispatches() {
        use Ordering::*;
        assert_eq!(compare(Scheme::Dpkg, "1.0~rc1", "1.0"), Some(Less));
        assert_eq!(compare(Scheme::Dpkg, "abc", "1.0"), None);
        assert_eq!(compare(Scheme::Apk, "1.0_rc1-r0", "1.0-r0"), Some(Less));
        assert_eq!(compare(Scheme::Semver, "1.0.0-rc.1", "1.0.0"), Some(Less));
        assert_eq!(compare(Scheme::Go, "v1.2.3", "1.2.4"), Some(Less));
        assert_eq!(compare(Scheme::Pep440, "1.0rc1", "1.0"), Some(Less));
        assert_eq!(compare(Scheme::Rpm, "1.0~rc1", "1.0"), Some(Less));
        for scheme in [
            Scheme::Dpkg,
            Scheme::Apk,
            Scheme::Semver,
            Scheme::Go,
            Scheme::Pep440,
            Scheme::Rpm,
        ] {
            assert_eq!(compare(scheme, "", "1"), None, "{scheme}");
            assert!(!scheme.is_valid(""), "{scheme}");
            assert!(scheme.is_valid("1.2"), "{scheme}");
        }
    }
}
