//! Dependency resolution over parsed Packages indexes: the closure of the requested
//! packages over `Pre-Depends` and `Depends`, with a "why" chain for every selection.
//!
//! The resolver is greedy and deterministic, like a first pass of apt: for each group of
//! alternatives it keeps an already selected package that satisfies any alternative,
//! otherwise takes the first alternative that has a candidate, the newest version that
//! meets the relation (several suites may offer a package). Virtual packages resolve
//! through `Provides` (a versioned dependency needs a versioned provide); among several
//! providers the highest `Priority` wins, then the name, as apt picks `mawk` for `awk`. `Essential`
//! packages are not added implicitly. Excluded names count as present: a dependency they
//! would satisfy is met without selecting anything, and the hit is recorded.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::deps::{self, DepError, DepGroup, Dependency};
use crate::packages::{MultiArch, PackageRecord, RawDepends};

/// Failure to resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A [`Request::packages`] entry does not parse as a dependency.
    #[error("invalid requested package {request:?}")]
    BadRequest {
        /// The entry, as given.
        request: String,
        /// Why it was rejected.
        #[source]
        source: DepError,
    },
    /// No package of the universe satisfies a dependency.
    #[error("cannot resolve {path}: no candidate")]
    Unsatisfiable {
        /// The chain to the dependency, like `base -> libc6 -> libgcc-s1 (>= 3.0)`.
        path: String,
    },
    /// The `Depends` or `Pre-Depends` of a package the resolution reached does not parse.
    #[error("package {package}: invalid field {field}")]
    BadDepends {
        /// The package's name.
        package: String,
        /// `Depends` or `Pre-Depends`.
        field: &'static str,
        /// Why it was rejected.
        #[source]
        source: DepError,
    },
    /// A dependency's only candidates share a name with a package already selected at a
    /// version that does not satisfy it.
    #[error("cannot resolve {path}: {selected} is already selected")]
    Conflict {
        /// The chain to the dependency, like `base -> libc6 -> libgcc-s1 (>= 3.0)`.
        path: String,
        /// The package already selected, as `name version`.
        selected: String,
    },
}

/// All packages the resolver may choose from, from one or more indexes.
#[derive(Debug, Default, Clone)]
pub struct Universe {
    records: Records,
    /// Parallel to `records`: the caller's tag of the index each came from.
    origins: Vec<usize>,
    by_name: HashMap<String, Vec<usize>>,
    providers: HashMap<String, Vec<usize>>,
}

/// The records, each with its dependency fields as written when it was added by
/// [`Universe::add_lean`] (its parsed fields are then empty). One vector, in the layout
/// the index arrives in, so that a lean index is adopted without a copy.
#[derive(Debug, Default, Clone)]
struct Records(Vec<(PackageRecord, Option<RawDepends>)>);

impl std::ops::Index<usize> for Records {
    type Output = PackageRecord;

    fn index(&self, i: usize) -> &PackageRecord {
        &self.0[i].0
    }
}

impl Universe {
    /// An empty universe.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the records of one index. A record identical in name, version and architecture
    /// to one already present (the same package in two suites) is skipped.
    pub fn add(&mut self, records: impl IntoIterator<Item = PackageRecord>) {
        self.add_tagged(records.into_iter().map(|r| (r, 0)));
    }

    /// [`Universe::add`], each record tagged with where it came from (the index of its
    /// suite): [`Universe::origin`] gives the tag back. Records are moved in, not copied,
    /// so that an index is held once.
    pub fn add_tagged(&mut self, records: impl IntoIterator<Item = (PackageRecord, usize)>) {
        for (rec, origin) in records {
            self.push(rec, None, origin);
        }
    }

    /// [`Universe::add_tagged`] for records made by
    /// [`PackageRecord::from_paragraph_lean`], with their dependency fields as written
    /// (`origins` parallel to `records`): those are parsed only for the packages a
    /// resolution selects, so that an index of 60,000 packages costs tens of megabytes,
    /// not hundreds. Into an empty universe the vectors are adopted, not copied.
    pub fn add_lean(&mut self, records: Vec<(PackageRecord, RawDepends)>, origins: Vec<usize>) {
        // Same size and layout (the niche of `Box<str>`): collected in place.
        let records: Vec<(PackageRecord, Option<RawDepends>)> = records
            .into_iter()
            .map(|(rec, raw)| (rec, Some(raw)))
            .collect();
        if self.records.0.is_empty() {
            self.records = Records(records);
            self.origins = origins;
            self.origins.resize(self.records.0.len(), 0);
            for idx in 0..self.records.0.len() {
                self.index(idx);
            }
        } else {
            for ((rec, raw), origin) in records.into_iter().zip(origins) {
                self.push(rec, raw, origin);
            }
        }
    }

    fn push(&mut self, rec: PackageRecord, raw: Option<RawDepends>, origin: usize) {
        self.records.0.push((rec, raw));
        self.origins.push(origin);
        let idx = self.records.0.len() - 1;
        if !self.index(idx) {
            // Left unindexed: nothing finds it, and it costs no lookup.
            self.records.0.pop();
            self.origins.pop();
        }
    }

    /// Indexes record `idx` by name and provides, unless a record of the same name,
    /// version and architecture is indexed already (the same package in two suites);
    /// says whether it did.
    fn index(&mut self, idx: usize) -> bool {
        let rec = &self.records[idx];
        let same = |i: &usize| {
            let r = &self.records[*i];
            r.version == rec.version && r.architecture == rec.architecture
        };
        if self
            .by_name
            .get(&rec.package)
            .is_some_and(|v| v.iter().any(same))
        {
            return false;
        }
        self.by_name
            .entry(rec.package.clone())
            .or_default()
            .push(idx);
        for p in &rec.provides {
            self.providers.entry(p.name.clone()).or_default().push(idx);
        }
        true
    }

    /// The `Pre-Depends` and `Depends` groups of record `idx`.
    fn deps_of(&self, idx: usize) -> Result<(Vec<DepGroup>, Vec<DepGroup>), ResolveError> {
        let (rec, raw) = &self.records.0[idx];
        let Some(raw) = raw else {
            return Ok((rec.pre_depends.clone(), rec.depends.clone()));
        };
        let parse = |field: &'static str, text: &str| {
            deps::parse_field(text).map_err(|source| ResolveError::BadDepends {
                package: rec.package.clone(),
                field,
                source,
            })
        };
        Ok((
            parse("Pre-Depends", &raw.pre_depends)?,
            parse("Depends", &raw.depends)?,
        ))
    }

    /// The tag given with [`Universe::add_tagged`] to the record with `rec`'s name and
    /// SHA-256 (the first such record added), `None` when there is none.
    pub fn origin(&self, rec: &PackageRecord) -> Option<usize> {
        self.by_name
            .get(&rec.package)?
            .iter()
            .find(|&&i| self.records[i].sha256 == rec.sha256)
            .map(|&i| self.origins[i])
    }

    /// The packages of a Debian base system for `arch`: every package marked
    /// `Essential: yes` or `Priority: required` (of `arch` or `all`), by name, sorted.
    /// What `mmdebstrap --variant=minbase` and debootstrap's `minbase` install, less
    /// `apt`, which they add by name.
    pub fn base_system(&self, arch: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .records
            .0
            .iter()
            .map(|(r, _)| r)
            .filter(|r| r.architecture == arch || r.architecture == "all")
            .filter(|r| r.essential || r.priority.as_deref() == Some("required"))
            .map(|r| r.package.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Number of records kept.
    pub fn len(&self) -> usize {
        self.by_name.values().map(Vec::len).sum()
    }

    /// Whether no record has been added.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// What to resolve.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Package names; `name=version`, `name:arch` and `name (>= v)` are also accepted.
    pub packages: Vec<String>,
    /// Names never selected and treated as present.
    pub exclude: Vec<String>,
    /// Target architecture, e.g. `amd64`.
    pub arch: String,
}

/// The outcome: selected packages by name and the reasons they are there.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// The chosen record of every package to install, by package name.
    pub selected: BTreeMap<String, PackageRecord>,
    why: BTreeMap<String, Vec<String>>,
    pulled_by: BTreeMap<String, BTreeSet<String>>,
    /// Excluded names that some dependency would have pulled in, with the first chain.
    pub excluded_hits: BTreeMap<String, Vec<String>>,
}

impl Resolution {
    /// The chain from a requested package to `name` through the dependency that first
    /// pulled it in, e.g. `["ca-certificates", "openssl", "libssl3"]`.
    pub fn why(&self, name: &str) -> Option<&[String]> {
        self.why.get(name).map(Vec::as_slice)
    }

    /// Every selected package with a dependency that `name` satisfies.
    pub fn pulled_by(&self, name: &str) -> impl Iterator<Item = &str> {
        self.pulled_by
            .get(name)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
}

/// Whether candidate `c` may satisfy an alternative with arch qualifier `qual` for a
/// depender of architecture `from` (dpkg's Multi-Arch rules).
fn arch_ok(qual: Option<&str>, c: &PackageRecord, from: &str) -> bool {
    let same = c.architecture == from || c.architecture == "all";
    match qual {
        _ if c.multi_arch == MultiArch::Foreign => true,
        None | Some("native") => same,
        Some("any") => c.multi_arch == MultiArch::Allowed,
        Some(a) => c.architecture == a || (a == from && c.architecture == "all"),
    }
}

struct Resolver<'a> {
    u: &'a Universe,
    req: &'a Request,
    selected: BTreeMap<String, usize>,
    out: Resolution,
}

impl Resolver<'_> {
    /// Real packages and providers of `d` admissible from `from`, best first.
    fn candidates(&self, d: &Dependency, from: &str) -> Vec<usize> {
        let ok = |i: &&usize| arch_ok(d.arch_qualifier.as_deref(), &self.u.records[**i], from);
        let mut real: Vec<usize> = self
            .u
            .by_name
            .get(&d.name)
            .into_iter()
            .flatten()
            .filter(ok)
            .filter(|i| d.version_ok(&self.u.records[**i].version))
            .copied()
            .collect();
        let r = &self.u.records;
        real.sort_by(|a, b| {
            (r[*b].version.cmp(&r[*a].version))
                .then_with(|| (r[*b].architecture == from).cmp(&(r[*a].architecture == from)))
        });
        let mut virt: Vec<usize> = self
            .u
            .providers
            .get(&d.name)
            .into_iter()
            .flatten()
            .filter(ok)
            .filter(|i| self.provide_ok(d, **i))
            .copied()
            .collect();
        virt.sort_by(|a, b| {
            (r[*a].priority_rank().cmp(&r[*b].priority_rank()))
                .then_with(|| r[*a].package.cmp(&r[*b].package))
                .then_with(|| r[*b].version.cmp(&r[*a].version))
        });
        real.extend(virt);
        real.retain(|i| !self.req.exclude.contains(&r[*i].package));
        real
    }

    fn provide_ok(&self, d: &Dependency, idx: usize) -> bool {
        self.u.records[idx]
            .provides
            .iter()
            .filter(|p| p.name == d.name)
            .any(|p| match (&d.version, &p.version) {
                (None, _) => true,
                (Some((rel, want)), Some(have)) => rel.holds(have, want),
                (Some(_), None) => false,
            })
    }

    /// The selected package satisfying `d`, if any.
    fn satisfied_by(&self, d: &Dependency, from: &str) -> Option<usize> {
        let sel = |name: &str| self.selected.get(name).copied();
        let q = d.arch_qualifier.as_deref();
        if let Some(i) = sel(&d.name) {
            let rec = &self.u.records[i];
            if arch_ok(q, rec, from) && d.version_ok(&rec.version) {
                return Some(i);
            }
        }
        self.u
            .providers
            .get(&d.name)
            .into_iter()
            .flatten()
            .copied()
            .find(|&i| {
                let rec = &self.u.records[i];
                sel(&rec.package) == Some(i) && arch_ok(q, rec, from) && self.provide_ok(d, i)
            })
    }

    fn select(&mut self, idx: usize, chain: Vec<String>, queue: &mut VecDeque<usize>) {
        let name = self.u.records[idx].package.clone();
        self.selected.insert(name.clone(), idx);
        self.out.why.insert(name, chain);
        queue.push_back(idx);
    }

    fn resolve_group(
        &mut self,
        group: &DepGroup,
        parent: Option<&str>,
        from: &str,
        queue: &mut VecDeque<usize>,
    ) -> Result<(), ResolveError> {
        let alts: Vec<&Dependency> = group.0.iter().filter(|d| d.applies_to(from)).collect();
        if alts.is_empty() {
            return Ok(());
        }
        let chain_to = |me: &Self, last: String| {
            let mut c = parent
                .and_then(|p| me.out.why.get(p).cloned())
                .unwrap_or_default();
            c.push(last);
            c
        };
        let edge = |me: &mut Self, idx: usize| {
            if let Some(p) = parent {
                let name = me.u.records[idx].package.clone();
                me.out
                    .pulled_by
                    .entry(name)
                    .or_default()
                    .insert(p.to_string());
            }
        };
        if let Some(idx) = alts.iter().find_map(|d| self.satisfied_by(d, from)) {
            edge(self, idx);
            return Ok(());
        }
        if let Some(d) = alts.iter().find(|d| self.req.exclude.contains(&d.name)) {
            let chain = chain_to(self, d.name.clone());
            self.out
                .excluded_hits
                .entry(d.name.clone())
                .or_insert(chain);
            return Ok(());
        }
        for d in &alts {
            let Some(&idx) = self.candidates(d, from).first() else {
                continue;
            };
            let name = self.u.records[idx].package.clone();
            if let Some(&other) = self.selected.get(&name) {
                let o = &self.u.records[other];
                return Err(ResolveError::Conflict {
                    path: chain_to(self, group.to_string()).join(" -> "),
                    selected: format!("{} {}", o.package, o.version),
                });
            }
            let chain = chain_to(self, name.clone());
            self.select(idx, chain, queue);
            edge(self, idx);
            return Ok(());
        }
        Err(ResolveError::Unsatisfiable {
            path: chain_to(self, group.to_string()).join(" -> "),
        })
    }
}

/// Computes the closure of `req.packages` over `Pre-Depends` and `Depends`.
pub fn resolve(universe: &Universe, req: &Request) -> Result<Resolution, ResolveError> {
    let mut r = Resolver {
        u: universe,
        req,
        selected: BTreeMap::new(),
        out: Resolution::default(),
    };
    let mut queue = VecDeque::new();
    for wanted in &req.packages {
        let text = match wanted.split_once('=') {
            Some((n, v)) if !n.contains('(') => format!("{n} (= {v})"),
            _ => wanted.clone(),
        };
        let dep = deps::parse_one(&text).map_err(|source| ResolveError::BadRequest {
            request: wanted.clone(),
            source,
        })?;
        r.resolve_group(&DepGroup(vec![dep]), None, &req.arch, &mut queue)?;
    }
    while let Some(idx) = queue.pop_front() {
        let rec = &universe.records[idx];
        let from = if rec.architecture == "all" {
            req.arch.as_str()
        } else {
            rec.architecture.as_str()
        };
        let (pre_depends, depends) = universe.deps_of(idx)?;
        for group in pre_depends.iter().chain(&depends) {
            r.resolve_group(group, Some(&rec.package), from, &mut queue)?;
        }
    }
    r.out.selected = r
        .selected
        .into_iter()
        .map(|(name, idx)| {
            let mut rec = universe.records[idx].clone();
            (rec.pre_depends, rec.depends) = universe.deps_of(idx)?;
            Ok((name, rec))
        })
        .collect::<Result<_, ResolveError>>()?;
    Ok(r.out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages;

    /// Builds an index from `name version arch [multi-arch]; field: value; ...` lines.
    fn index(spec: &str) -> Vec<PackageRecord> {
        packages::parse(index_text(spec).as_bytes()).unwrap()
    }

    /// The index text of `index`.
    fn index_text(spec: &str) -> String {
        let mut text = String::new();
        for (i, line) in spec
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let mut parts = line.split(';').map(str::trim);
            let head: Vec<&str> = parts.next().unwrap().split_whitespace().collect();
            text.push_str(&format!(
                "Package: {}\nVersion: {}\nArchitecture: {}\n",
                head[0], head[1], head[2]
            ));
            if let Some(ma) = head.get(3) {
                text.push_str(&format!("Multi-Arch: {ma}\n"));
            }
            for field in parts {
                text.push_str(field);
                text.push('\n');
            }
            text.push_str(&format!(
                "Filename: pool/{i}.deb\nSize: 1\nSHA256: {}\n\n",
                "0".repeat(64)
            ));
        }
        text
    }

    /// `spec` as a lean universe (dependency fields kept as text, parsed when reached).
    fn lean_universe(spec: &str) -> Universe {
        let text = index_text(spec);
        let records: Vec<(PackageRecord, RawDepends)> =
            plinth_dpkg::control::paragraphs(text.as_bytes(), Default::default())
                .unwrap()
                .map(|p| {
                    let p = p.unwrap();
                    (
                        PackageRecord::from_paragraph_lean(&p).unwrap(),
                        RawDepends::of(&p),
                    )
                })
                .collect();
        let n = records.len();
        let mut u = Universe::new();
        u.add_lean(records, vec![0; n]);
        u
    }

    /// Resolution over a lean universe (what a build without a lock uses, to hold an
    /// index in tens of megabytes) selects exactly what the full one does, with the
    /// dependency fields filled in; a malformed `Depends` matters only when reached.
    #[test]
    fn lean_universe_resolves_as_the_full_one() {
        let spec = "
            base 1 all; Depends: libc6, netbase | awk
            libc6 2.36 amd64 same; Pre-Depends: libgcc-s1 (>= 3.0)
            libgcc-s1 12 amd64 same
            mawk 1.3 amd64 foreign; Priority: required; Provides: awk
            netbase 6.4 all
        ";
        let with_broken = format!("{spec}\nbroken 1 amd64; Depends: libc6 (>> )\n");
        let full = resolve(&universe(spec), &req(&["base"], &[])).unwrap();
        let lean = resolve(&lean_universe(&with_broken), &req(&["base"], &[])).unwrap();
        assert_eq!(names(&lean), names(&full));
        assert_eq!(lean.selected, full.selected);
        assert_eq!(lean.why("libgcc-s1"), full.why("libgcc-s1"));
        let err = resolve(&lean_universe(&with_broken), &req(&["broken"], &[])).unwrap_err();
        assert!(
            matches!(&err, ResolveError::BadDepends { package, field: "Depends", .. } if package == "broken"),
            "{err:?}"
        );
    }

    fn universe(spec: &str) -> Universe {
        let mut u = Universe::new();
        u.add(index(spec));
        u
    }

    fn req(pkgs: &[&str], exclude: &[&str]) -> Request {
        Request {
            packages: pkgs.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            arch: "amd64".into(),
        }
    }

    fn names(r: &Resolution) -> Vec<&str> {
        r.selected.keys().map(String::as_str).collect()
    }

    const BASE: &str = "
        base 1 all; Depends: libc6
        libc6 2.36 amd64 same; Depends: libgcc-s1 (>= 3.0)
        libgcc-s1 12 amd64 same; Pre-Depends: gcc-base (= 12)
        gcc-base 12 amd64 same
        bash 5.2 amd64 foreign; Essential: yes; Depends: base
        dash 0.5 amd64 foreign; Essential: yes
    ";

    #[test]
    fn closure_and_why_chains() {
        let r = resolve(&universe(BASE), &req(&["base"], &[])).unwrap();
        assert_eq!(names(&r), ["base", "gcc-base", "libc6", "libgcc-s1"]);
        assert_eq!(
            r.why("gcc-base").unwrap(),
            ["base", "libc6", "libgcc-s1", "gcc-base"]
        );
        assert_eq!(r.why("base").unwrap(), ["base"]);
        assert_eq!(r.pulled_by("libc6").collect::<Vec<_>>(), ["base"]);
        assert!(
            r.why("bash").is_none(),
            "essential packages are not implicit"
        );
    }

    #[test]
    fn unsatisfiable_names_the_chain() {
        let u = universe(&BASE.replace("libgcc-s1 12 amd64", "libgcc-s1 2 amd64"));
        let err = resolve(&u, &req(&["base"], &[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot resolve base -> libc6 -> libgcc-s1 (>= 3.0): no candidate"
        );
        let err = resolve(&u, &req(&["nosuch"], &[])).unwrap_err();
        assert_eq!(err.to_string(), "cannot resolve nosuch: no candidate");
        assert!(matches!(
            resolve(&u, &req(&["Bad Name"], &[])),
            Err(ResolveError::BadRequest { .. })
        ));
    }

    #[test]
    fn newest_version_across_indexes_wins_within_relations() {
        let mut u = universe("app 1 amd64; Depends: lib (<< 3)\nlib 1 amd64\n");
        u.add(index("lib 2 amd64\nlib 3 amd64\nlib 1 amd64\n"));
        assert_eq!(u.len(), 4, "duplicate lib 1 skipped");
        let r = resolve(&u, &req(&["app"], &[])).unwrap();
        assert_eq!(r.selected["lib"].version.as_str(), "2");
        let r = resolve(&u, &req(&["lib"], &[])).unwrap();
        assert_eq!(r.selected["lib"].version.as_str(), "3");
        let r = resolve(&u, &req(&["lib=1"], &[])).unwrap();
        assert_eq!(r.selected["lib"].version.as_str(), "1");
    }

    #[test]
    fn alternatives_prefer_selected_then_first_available() {
        let u = universe(
            "
            a 1 all; Depends: missing | y, z
            b 1 all; Depends: x | z
            x 1 all
            y 1 all
            z 1 all
        ",
        );
        let r = resolve(&u, &req(&["a"], &[])).unwrap();
        assert_eq!(names(&r), ["a", "y", "z"]);
        let r = resolve(&u, &req(&["a", "b"], &[])).unwrap();
        assert_eq!(
            names(&r),
            ["a", "b", "y", "z"],
            "z already selected, x not pulled"
        );
        let r = resolve(&u, &req(&["b"], &[])).unwrap();
        assert_eq!(names(&r), ["b", "x"]);
    }

    #[test]
    fn virtual_packages_and_versioned_provides() {
        let u_spec = "
            app 1 all; Depends: awk, libfoo-abi (>= 2)
            mawk 1.3 amd64 foreign; Provides: awk; Priority: optional
            gawk 5 amd64 foreign; Provides: awk; Priority: optional
            busybox 1 amd64; Provides: awk; Priority: extra
            foo-old 1 amd64; Provides: libfoo-abi (= 1)
            foo-new 1 amd64; Provides: libfoo-abi (= 2)
            foo-unv 1 amd64; Provides: libfoo-abi
        ";
        let u = universe(u_spec);
        let r = resolve(&u, &req(&["app"], &[])).unwrap();
        assert_eq!(names(&r), ["app", "foo-new", "gawk"]);
        assert_eq!(r.why("gawk").unwrap(), ["app", "gawk"]);
        let r = resolve(&u, &req(&["mawk", "app"], &[])).unwrap();
        assert!(
            !r.selected.contains_key("gawk"),
            "selected provider preferred"
        );
        let u2 = universe(&[u_spec, "oawk 1 amd64; Provides: awk; Priority: required"].concat());
        let r = resolve(&u2, &req(&["app"], &[])).unwrap();
        assert!(
            r.selected.contains_key("oawk"),
            "required priority preferred"
        );
    }

    #[test]
    fn excluded_names_count_as_present() {
        let u = universe(
            "
            tzdata 1 all; Depends: debconf (>= 0.5) | debconf-2.0
            debconf 1.5 all; Pre-Depends: perl-base
            perl-base 5.36 amd64; Essential: yes
        ",
        );
        let r = resolve(&u, &req(&["tzdata"], &[])).unwrap();
        assert_eq!(names(&r), ["debconf", "perl-base", "tzdata"]);
        let r = resolve(&u, &req(&["tzdata"], &["debconf"])).unwrap();
        assert_eq!(names(&r), ["tzdata"]);
        assert_eq!(r.excluded_hits["debconf"], ["tzdata", "debconf"]);
    }

    #[test]
    fn multi_arch_rules() {
        let u = universe(
            "
            tool 1 amd64; Depends: python3:any, helper, libz
            python3 3.11 arm64 allowed
            helper 1 i386 foreign
            libz 1 i386 same
            libz 1 amd64 same
            only-i386 1 i386 same
            user 1 amd64; Depends: only-i386
            user2 1 amd64; Depends: only-i386:i386
            strict 1 amd64; Depends: plain:any
            plain 1 amd64
        ",
        );
        let r = resolve(&u, &req(&["tool"], &[])).unwrap();
        assert_eq!(
            r.selected["python3"].architecture, "arm64",
            ":any takes allowed"
        );
        assert_eq!(
            r.selected["helper"].architecture, "i386",
            "foreign satisfies cross"
        );
        assert_eq!(r.selected["libz"].architecture, "amd64");
        assert!(resolve(&u, &req(&["user"], &[])).is_err(), "same-arch only");
        assert!(resolve(&u, &req(&["user2"], &[])).is_ok(), "explicit :i386");
        assert!(
            resolve(&u, &req(&["strict"], &[])).is_err(),
            ":any needs allowed"
        );
    }

    #[test]
    fn conflicting_versions_are_reported() {
        let u = universe(
            "a 1 all; Depends: lib, b\nb 1 all; Depends: lib (<< 2)\nlib 2 all\nlib 1 all\n",
        );
        let err = resolve(&u, &req(&["a"], &[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot resolve a -> b -> lib (<< 2): lib 2 is already selected"
        );
    }

    #[test]
    fn arch_restricted_alternatives_are_skipped() {
        let u = universe("a 1 amd64; Depends: winonly [i386], b [amd64]\nb 1 amd64\n");
        let r = resolve(&u, &req(&["a"], &[])).unwrap();
        assert_eq!(names(&r), ["a", "b"]);
    }

    #[test]
    fn dependency_cycles_terminate() {
        let u = universe("a 1 all; Depends: b\nb 1 all; Pre-Depends: a\n");
        let r = resolve(&u, &req(&["a"], &[])).unwrap();
        assert_eq!(names(&r), ["a", "b"]);
        assert_eq!(r.pulled_by("a").collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn base_system_is_every_essential_and_required_package_of_the_architecture() {
        let u = universe(
            "bash 5.2 amd64; Essential: yes; Priority: required
             mawk 1.3 amd64; Priority: required
             tzdata 2024 all; Priority: required
             apt 2.6 amd64; Priority: important
             curl 7 amd64; Priority: optional
             dpkg 1.21 arm64; Essential: yes
             dpkg 1.21 amd64; Essential: yes; Priority: required
             base-files 12 amd64; Essential: yes",
        );
        assert_eq!(
            u.base_system("amd64"),
            ["base-files", "bash", "dpkg", "mawk", "tzdata"]
        );
        assert_eq!(u.base_system("arm64"), ["dpkg", "tzdata"]);
    }
}
