//! Dependency fields (`Depends`, `Pre-Depends`, `Provides`, …): comma-separated groups of
//! `|`-separated alternatives, each `name[:archqual] [(op version)] [[arch ...]]`.

use std::fmt;

use plinth_dpkg::version::{Version, VersionError};

/// Why a dependency field was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepError {
    /// An alternative is empty or starts with its version or architectures.
    #[error("dependency {0:?} has no package name")]
    NoName(String),
    /// The package name, or its `:arch` qualifier, is empty or has a character outside
    /// `[a-z0-9+.-]`.
    #[error("dependency {0:?} has an invalid package name")]
    BadName(String),
    /// The operator in `(op version)` is none of `<<`, `<=`, `=`, `>=`, `>>`, `<`, `>`.
    #[error("dependency {0:?} has an unknown relation")]
    BadRelation(String),
    /// A `(` or `[` is not closed.
    #[error("dependency {0:?} has an unterminated ( or [")]
    Unterminated(String),
    /// The version in `(op version)` does not parse.
    #[error("dependency {text:?} has an invalid version")]
    BadVersion {
        /// The alternative, as written.
        text: String,
        /// Why the version was rejected.
        #[source]
        source: VersionError,
    },
    /// Text follows the version or architecture list.
    #[error("dependency {0:?} has unexpected trailing text")]
    Trailing(String),
}

/// A version relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// `<<`
    Lt,
    /// `<=` (also the obsolete `<`)
    Le,
    /// `=`
    Eq,
    /// `>=` (also the obsolete `>`)
    Ge,
    /// `>>`
    Gt,
}

impl Relation {
    /// Whether `have` satisfies `have <op> want`.
    pub fn holds(self, have: &Version, want: &Version) -> bool {
        let ord = have.cmp(want);
        match self {
            Self::Lt => ord.is_lt(),
            Self::Le => ord.is_le(),
            Self::Eq => ord.is_eq(),
            Self::Ge => ord.is_ge(),
            Self::Gt => ord.is_gt(),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<<",
            Self::Le => "<=",
            Self::Eq => "=",
            Self::Ge => ">=",
            Self::Gt => ">>",
        }
    }
}

/// One alternative of a dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The package name (or virtual package) depended on.
    pub name: String,
    /// `any`, `native` or an architecture name after a `:`.
    pub arch_qualifier: Option<String>,
    /// The `(op version)` restriction, `None` when any version will do.
    pub version: Option<(Relation, Version)>,
    /// `[amd64 !i386]` restrictions as written (`!` kept), empty if none.
    pub arches: Vec<String>,
}

impl Dependency {
    /// Whether the `[arch]` restriction keeps this alternative on `arch`.
    pub fn applies_to(&self, arch: &str) -> bool {
        if self.arches.is_empty() {
            return true;
        }
        let negated = self.arches.iter().all(|a| a.starts_with('!'));
        let hit = self
            .arches
            .iter()
            .any(|a| arch_matches(a.trim_start_matches('!'), arch));
        hit != negated
    }

    /// Whether a package of `version` satisfies the version relation (if any).
    pub fn version_ok(&self, version: &Version) -> bool {
        self.version
            .as_ref()
            .is_none_or(|(rel, want)| rel.holds(version, want))
    }
}

/// Matches a Debian architecture wildcard (`any`, `linux-any`, `any-amd64`) or name.
fn arch_matches(pattern: &str, arch: &str) -> bool {
    match pattern {
        "any" => true,
        "linux-any" => !arch.contains('-'),
        p => p == arch || p.strip_prefix("any-") == Some(arch),
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(q) = &self.arch_qualifier {
            write!(f, ":{q}")?;
        }
        if let Some((rel, v)) = &self.version {
            write!(f, " ({} {v})", rel.as_str())?;
        }
        if !self.arches.is_empty() {
            write!(f, " [{}]", self.arches.join(" "))?;
        }
        Ok(())
    }
}

/// A group of alternatives, any one of which satisfies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepGroup(pub Vec<Dependency>);

impl fmt::Display for DepGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Parses a field such as `Depends`. Empty groups (`a, , b`) are skipped like dpkg does
/// for a trailing comma.
pub fn parse_field(field: &str) -> Result<Vec<DepGroup>, DepError> {
    let mut groups = Vec::new();
    for group in field.split(',') {
        if group.trim().is_empty() {
            continue;
        }
        let alts = group
            .split('|')
            .map(parse_one)
            .collect::<Result<Vec<_>, _>>()?;
        groups.push(DepGroup(alts));
    }
    Ok(groups)
}

/// Parses one alternative, e.g. `libc6:any (>= 2.34) [amd64]`.
pub fn parse_one(text: &str) -> Result<Dependency, DepError> {
    let err = |f: fn(String) -> DepError| f(text.trim().to_string());
    let mut rest = text.trim();
    let end = rest
        .find(|c: char| c.is_whitespace() || "([<".contains(c))
        .unwrap_or(rest.len());
    let (full_name, tail) = rest.split_at(end);
    if full_name.is_empty() {
        return Err(err(DepError::NoName));
    }
    let (name, qual) = match full_name.split_once(':') {
        Some((n, q)) => (n, Some(q)),
        None => (full_name, None),
    };
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
    };
    if !name_ok(name) || qual.is_some_and(|q| !name_ok(q)) {
        return Err(err(DepError::BadName));
    }
    let mut dep = Dependency {
        name: name.to_string(),
        arch_qualifier: qual.map(str::to_string),
        version: None,
        arches: Vec::new(),
    };
    rest = tail.trim_start();
    if let Some(inner) = rest.strip_prefix('(') {
        let (inside, after) = inner
            .split_once(')')
            .ok_or_else(|| err(DepError::Unterminated))?;
        let inside = inside.trim();
        let op_len = inside
            .find(|c: char| !"<>=".contains(c))
            .unwrap_or(inside.len());
        let rel = match &inside[..op_len] {
            "<<" => Relation::Lt,
            "<=" | "<" => Relation::Le,
            "=" => Relation::Eq,
            ">=" | ">" => Relation::Ge,
            ">>" => Relation::Gt,
            _ => return Err(err(DepError::BadRelation)),
        };
        let version = Version::parse(&inside[op_len..]).map_err(|source| DepError::BadVersion {
            text: text.trim().to_string(),
            source,
        })?;
        dep.version = Some((rel, version));
        rest = after.trim_start();
    }
    if let Some(inner) = rest.strip_prefix('[') {
        let (inside, after) = inner
            .split_once(']')
            .ok_or_else(|| err(DepError::Unterminated))?;
        dep.arches = inside.split_whitespace().map(str::to_string).collect();
        rest = after.trim_start();
    }
    // Build profiles (`<!nocheck>`) only occur in source packages; accept and ignore them.
    while let Some(inner) = rest.strip_prefix('<') {
        let (_, after) = inner
            .split_once('>')
            .ok_or_else(|| err(DepError::Unterminated))?;
        rest = after.trim_start();
    }
    if !rest.is_empty() {
        return Err(err(DepError::Trailing));
    }
    Ok(dep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_alternatives_relations_and_qualifiers() {
        let groups = parse_field(
            "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0,\n python3:any, libx:amd64 (<< 2~),",
        )
        .unwrap();
        assert_eq!(groups.len(), 4);
        assert_eq!(groups[0].0[0].name, "libc6");
        let (rel, v) = groups[0].0[0].version.as_ref().unwrap();
        assert_eq!((*rel, v.as_str()), (Relation::Ge, "2.34"));
        assert_eq!(groups[1].0.len(), 2);
        assert_eq!(groups[1].0[1].name, "debconf-2.0");
        assert_eq!(groups[2].0[0].arch_qualifier.as_deref(), Some("any"));
        assert_eq!(groups[3].0[0].arch_qualifier.as_deref(), Some("amd64"));
        assert_eq!(groups[1].to_string(), "debconf (>= 0.5) | debconf-2.0");
    }

    #[test]
    fn all_relations() {
        for (op, rel) in [
            ("<<", Relation::Lt),
            ("<=", Relation::Le),
            ("<", Relation::Le),
            ("=", Relation::Eq),
            (">=", Relation::Ge),
            (">", Relation::Ge),
            (">>", Relation::Gt),
        ] {
            let d = parse_one(&format!("p ({op}1.0)")).unwrap();
            assert_eq!(d.version.as_ref().unwrap().0, rel, "{op}");
        }
        let v = |s| Version::parse(s).unwrap();
        assert!(Relation::Lt.holds(&v("1.0~rc1"), &v("1.0")));
        assert!(!Relation::Gt.holds(&v("1.0"), &v("1.0")));
        assert!(Relation::Eq.holds(&v("0:1.0"), &v("1.0")));
    }

    #[test]
    fn arch_restrictions() {
        let d = parse_one("libfoo [amd64 arm64]").unwrap();
        assert!(d.applies_to("amd64") && !d.applies_to("i386"));
        let d = parse_one("libbar (>= 1) [!i386] <!nocheck>").unwrap();
        assert!(d.applies_to("amd64") && !d.applies_to("i386"));
        assert!(parse_one("x [linux-any]").unwrap().applies_to("arm64"));
        assert!(parse_one("x [any-amd64]").unwrap().applies_to("amd64"));
        assert_eq!(d.to_string(), "libbar (>= 1) [!i386]");
    }

    #[test]
    fn rejects_malformed() {
        assert!(matches!(parse_one(""), Err(DepError::NoName(_))));
        assert!(matches!(parse_one("Foo"), Err(DepError::BadName(_))));
        assert!(matches!(
            parse_one("a (~= 1)"),
            Err(DepError::BadRelation(_))
        ));
        assert!(matches!(
            parse_one("a (>= 1"),
            Err(DepError::Unterminated(_))
        ));
        assert!(matches!(
            parse_one("a (>= x)"),
            Err(DepError::BadVersion { .. })
        ));
        assert!(matches!(parse_one("a b"), Err(DepError::Trailing(_))));
        assert!(matches!(parse_field("a, | b"), Err(DepError::NoName(_))));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let _ = parse_field(&s);
        }

        #[test]
        fn display_round_trips(name in "[a-z0-9][a-z0-9+.-]{1,12}", ver in "[0-9][0-9a-z.+~]{0,6}") {
            let d = parse_one(&format!("{name}:any (>= {ver}) [amd64]")).unwrap();
            prop_assert_eq!(parse_one(&d.to_string()).unwrap(), d);
        }
    }
}
