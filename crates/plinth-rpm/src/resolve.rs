//! Dependency resolution over a repository's packages: `Requires` against `Provides`
//! (versioned, with rpm's range rule), file provides from primary.xml's file lists, and
//! rich dependencies (`and`, `or`, `if`/`else`, `unless`/`else`, `with`, `without`).
//!
//! Choice: among the providers of a requirement, a package already chosen wins; then one
//! whose name is the requirement's; then the highest EVR; then the name (so that the
//! result is deterministic). Only one version of a name is installed. Conditional rich
//! dependencies (`if`, `unless`) are re-evaluated against the chosen set until nothing
//! changes. This is not libsolv: it looks ahead only at pending `(a if b)` dependencies
//! and steps back only by swapping one chosen version for another that satisfies every
//! requirement seen so far (what that swapped-out version pulled in stays chosen).
//! `Obsoletes` play no part, and `Conflicts` are checked (simple ones only) after the
//! choice, not used to steer it. That is enough for the small package sets of minimal
//! images; a failure names the requirement and the whole chain that led to it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::deps::{Dep, Expr};
use crate::primary::RpmPackage;

/// Failure to resolve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Nothing provides a requirement.
    #[error("nothing provides {requirement} (needed by {chain})")]
    Missing {
        /// The requirement that failed.
        requirement: String,
        /// `root -> pkg -> pkg`: who needed it.
        chain: String,
    },
    /// Two chosen packages conflict.
    #[error("{a} conflicts with {b} ({dep})")]
    Conflict {
        /// The package declaring the conflict.
        a: String,
        /// The package it conflicts with.
        b: String,
        /// The conflict.
        dep: String,
    },
    /// A requirement needs a second version of an already chosen package.
    #[error("{requirement} needs another version of {chosen} (needed by {chain})")]
    VersionClash {
        /// The requirement.
        requirement: String,
        /// The chosen package.
        chosen: String,
        /// Who needed it.
        chain: String,
    },
}

/// The resolver's view of a repository.
#[derive(Debug)]
pub struct Universe<'a> {
    packages: Vec<&'a RpmPackage>,
    /// Capability name -> (package index, provide).
    provides: BTreeMap<&'a str, Vec<(usize, Dep)>>,
    /// File path -> package indexes.
    files: BTreeMap<&'a str, Vec<usize>>,
}

impl<'a> Universe<'a> {
    /// Indexes `packages` usable on `arch` (plus `noarch`; source packages are skipped).
    pub fn new(packages: &'a [RpmPackage], arch: &str) -> Self {
        let packages: Vec<&RpmPackage> = packages
            .iter()
            .filter(|p| p.arch == arch || p.arch == "noarch")
            .collect();
        let mut provides: BTreeMap<&str, Vec<(usize, Dep)>> = BTreeMap::new();
        let mut files: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, p) in packages.iter().enumerate() {
            // rpm adds `name = evr` to every package's provides.
            provides.entry(p.name.as_str()).or_default().push((
                i,
                Dep {
                    name: p.name.clone(),
                    constraint: Some((crate::deps::Op::Eq, p.evr.clone())),
                },
            ));
            for e in &p.provides {
                if let Expr::Simple(d) = e {
                    provides
                        .entry(d.name.as_str())
                        .or_default()
                        .push((i, d.clone()));
                }
            }
            for f in &p.files {
                files.entry(f.as_str()).or_default().push(i);
            }
        }
        Self {
            packages,
            provides,
            files,
        }
    }

    fn providers(&self, req: &Dep) -> Vec<usize> {
        let mut out: BTreeSet<usize> = self
            .provides
            .get(req.name.as_str())
            .into_iter()
            .flatten()
            .filter(|(_, d)| d.satisfies(req))
            .map(|(i, _)| *i)
            .collect();
        if req.name.starts_with('/') {
            out.extend(self.files.get(req.name.as_str()).into_iter().flatten());
        }
        out.into_iter().collect()
    }

    /// Resolves `roots` (dependency strings: package names, capabilities, files or rich
    /// dependencies) to the packages to install, sorted by name.
    pub fn resolve(&self, roots: &[&str]) -> Result<Vec<&'a RpmPackage>, ResolveError> {
        Ok(self
            .resolve_why(roots)?
            .into_iter()
            .map(|(p, _)| p)
            .collect())
    }

    /// [`Universe::resolve`], each package with the names of the packages that pulled it
    /// in, from the requested one down to itself (a requested package: just its name).
    pub fn resolve_why(
        &self,
        roots: &[&str],
    ) -> Result<Vec<(&'a RpmPackage, Vec<String>)>, ResolveError> {
        let mut st = State {
            u: self,
            chosen: BTreeMap::new(),
            parent: BTreeMap::new(),
            queue: VecDeque::new(),
            deferred: Vec::new(),
            reasons: BTreeMap::new(),
        };
        for root in roots {
            let expr = Expr::parse(root, None).map_err(|e| ResolveError::Missing {
                requirement: root.to_string(),
                chain: format!("the request: {e}"),
            })?;
            st.require(&expr, None)?;
        }
        loop {
            while let Some(i) = st.queue.pop_front() {
                for req in &self.packages[i].requires {
                    st.require(req, Some(i))?;
                }
            }
            // Conditional dependencies against the chosen set, until a fixpoint.
            let deferred = std::mem::take(&mut st.deferred);
            let mut changed = false;
            for (expr, by) in deferred {
                let before = st.chosen.len();
                st.require(&expr, by)?;
                changed |= st.chosen.len() != before;
            }
            if !changed && st.queue.is_empty() {
                break;
            }
        }
        // Conflicts among the chosen packages.
        let chosen: Vec<usize> = st.chosen.values().copied().collect();
        for &i in &chosen {
            for c in &self.packages[i].conflicts {
                if let Expr::Simple(d) = c {
                    for j in self.providers(d) {
                        if j != i && chosen.contains(&j) {
                            return Err(ResolveError::Conflict {
                                a: self.packages[i].nevra(),
                                b: self.packages[j].nevra(),
                                dep: d.to_string(),
                            });
                        }
                    }
                }
            }
        }
        Ok(chosen
            .into_iter()
            .map(|i| {
                let mut names = vec![self.packages[i].name.clone()];
                let mut cur = st.parent.get(&i).copied().flatten();
                while let Some(j) = cur {
                    if names.len() > 64 || names.contains(&self.packages[j].name) {
                        break;
                    }
                    names.push(self.packages[j].name.clone());
                    cur = st.parent.get(&j).copied().flatten();
                }
                names.reverse();
                (self.packages[i], names)
            })
            .collect())
    }
}

struct State<'u, 'a> {
    u: &'u Universe<'a>,
    /// Name -> chosen package index.
    chosen: BTreeMap<String, usize>,
    /// Package index -> the package that pulled it in (None: a root).
    parent: BTreeMap<usize, Option<usize>>,
    queue: VecDeque<usize>,
    /// Conditional dependencies whose condition may still change.
    deferred: Vec<(Expr, Option<usize>)>,
    /// Name -> the simple requirements the chosen package of that name answers.
    reasons: BTreeMap<String, Vec<Dep>>,
}

impl State<'_, '_> {
    fn chain(&self, by: Option<usize>) -> String {
        let mut names = Vec::new();
        let mut cur = by;
        while let Some(i) = cur {
            names.push(self.u.packages[i].nevra());
            cur = self.parent.get(&i).copied().flatten();
            if names.len() > 64 {
                break;
            }
        }
        if names.is_empty() {
            return "the request".into();
        }
        names.reverse();
        format!("the request -> {}", names.join(" -> "))
    }

    fn is_chosen(&self, i: usize) -> bool {
        self.chosen.get(&self.u.packages[i].name) == Some(&i)
    }

    /// Whether the chosen set satisfies `e` (for conditions).
    fn holds(&self, e: &Expr) -> bool {
        match e {
            Expr::Simple(d) => self.u.providers(d).iter().any(|&i| self.is_chosen(i)),
            Expr::And(v) => v.iter().all(|x| self.holds(x)),
            Expr::Or(v) => v.iter().any(|x| self.holds(x)),
            Expr::If(a, c, e) => {
                if self.holds(c) {
                    self.holds(a)
                } else {
                    e.as_ref().is_none_or(|e| self.holds(e))
                }
            }
            Expr::Unless(a, c, e) => {
                if !self.holds(c) {
                    self.holds(a)
                } else {
                    e.as_ref().is_none_or(|e| self.holds(e))
                }
            }
            Expr::With(a, b) => self.holds(a) && self.holds(b),
            Expr::Without(a, b) => self.holds(a) && !self.holds(b),
        }
    }

    /// Whether `e` could be satisfied (chosen or installable), without choosing.
    fn satisfiable(&self, e: &Expr) -> bool {
        match e {
            Expr::Simple(d) => self.u.providers(d).iter().any(|&i| {
                let name = &self.u.packages[i].name;
                self.chosen.get(name).is_none_or(|&c| c == i)
            }),
            Expr::And(v) => v.iter().all(|x| self.satisfiable(x)),
            Expr::Or(v) => v.iter().any(|x| self.satisfiable(x)),
            _ => true,
        }
    }

    fn require(&mut self, e: &Expr, by: Option<usize>) -> Result<(), ResolveError> {
        match e {
            Expr::Simple(d) => self.require_simple(d, by),
            Expr::And(v) => v.iter().try_for_each(|x| self.require(x, by)),
            Expr::Or(v) => {
                if v.iter().any(|x| self.holds(x)) {
                    return Ok(());
                }
                let pick = v.iter().find(|x| self.satisfiable(x)).unwrap_or(&v[0]);
                self.require(pick, by)
            }
            Expr::If(a, c, els) => {
                if self.holds(c) {
                    self.require(a, by)
                } else {
                    if let Some(els) = els {
                        // The else branch holds only while the condition does not.
                        if !self.holds(els) {
                            self.require(els, by)?;
                        }
                    }
                    self.deferred.push((e.clone(), by));
                    Ok(())
                }
            }
            Expr::Unless(a, c, els) => {
                if self.holds(c) {
                    els.as_ref().map_or(Ok(()), |els| self.require(els, by))
                } else {
                    self.require(a, by)
                }
            }
            Expr::With(a, b) => {
                // One package providing both.
                let (Expr::Simple(da), Expr::Simple(db)) = (a.as_ref(), b.as_ref()) else {
                    return self.require(&Expr::And(vec![(**a).clone(), (**b).clone()]), by);
                };
                let both: Vec<usize> = self
                    .u
                    .providers(da)
                    .into_iter()
                    .filter(|i| self.u.providers(db).contains(i))
                    .collect();
                self.choose(&both, &format!("({da} with {db})"), by)
            }
            Expr::Without(a, b) => {
                let Expr::Simple(da) = a.as_ref() else {
                    return self.require(a, by);
                };
                let not: Vec<usize> = match b.as_ref() {
                    Expr::Simple(db) => self.u.providers(db),
                    _ => Vec::new(),
                };
                let cands: Vec<usize> = self
                    .u
                    .providers(da)
                    .into_iter()
                    .filter(|i| !not.contains(i))
                    .collect();
                self.choose(&cands, &format!("({da} without ...)"), by)
            }
        }
    }

    /// Whether choosing `i` keeps the pending `(a if c)` dependencies satisfiable: when
    /// `i` provides `c`, it must provide `a` or leave it to another package. This is the
    /// one look-ahead the resolver has (e.g. `(macros = 1.9 if macros)` picks 1.9, not the
    /// highest version, when macros is requested after the package that says so).
    fn fits_deferred(&self, i: usize) -> bool {
        let p = self.u.packages[i];
        self.deferred.iter().all(|(e, _)| {
            let Expr::If(a, c, _) = e else { return true };
            let (Expr::Simple(da), Expr::Simple(dc)) = (a.as_ref(), c.as_ref()) else {
                return true;
            };
            if !self.u.providers(dc).contains(&i) {
                return true;
            }
            self.u
                .providers(da)
                .iter()
                .any(|&j| j == i || self.u.packages[j].name != p.name)
        })
    }

    fn require_simple(&mut self, d: &Dep, by: Option<usize>) -> Result<(), ResolveError> {
        let cands = self.u.providers(d);
        match self.choose(&cands, &d.to_string(), by) {
            Err(ResolveError::VersionClash { .. }) if self.swap(&cands, d) => Ok(()),
            Err(e) => Err(e),
            Ok(()) => {
                if let Some(&i) = cands.iter().find(|&&i| self.is_chosen(i)) {
                    let name = self.u.packages[i].name.clone();
                    self.reasons.entry(name).or_default().push(d.clone());
                }
                Ok(())
            }
        }
    }

    /// The one step back the resolver takes: when `d` needs another version of a chosen
    /// package, and some version satisfies `d` and every requirement that chose the
    /// current one, that version replaces it.
    fn swap(&mut self, cands: &[usize], d: &Dep) -> bool {
        for &i in cands {
            let name = self.u.packages[i].name.clone();
            let reasons = self.reasons.get(&name).cloned().unwrap_or_default();
            let ok = reasons.iter().all(|r| self.u.providers(r).contains(&i));
            if ok && let Some(old) = self.chosen.insert(name.clone(), i) {
                let parent = self.parent.get(&old).copied().flatten();
                self.parent.insert(i, parent);
                self.queue.push_back(i);
                self.reasons.entry(name).or_default().push(d.clone());
                return true;
            }
        }
        false
    }

    fn choose(
        &mut self,
        cands: &[usize],
        what: &str,
        by: Option<usize>,
    ) -> Result<(), ResolveError> {
        if cands.iter().any(|&i| self.is_chosen(i)) {
            return Ok(());
        }
        // Providers whose name is not yet taken by another version.
        let free: Vec<usize> = cands
            .iter()
            .copied()
            .filter(|&i| !self.chosen.contains_key(&self.u.packages[i].name))
            .collect();
        if free.is_empty() {
            if let Some(&i) = cands.first() {
                let name = &self.u.packages[i].name;
                return Err(ResolveError::VersionClash {
                    requirement: what.to_string(),
                    chosen: self.u.packages[self.chosen[name]].nevra(),
                    chain: self.chain(by),
                });
            }
            return Err(ResolveError::Missing {
                requirement: what.to_string(),
                chain: self.chain(by),
            });
        }
        let dep_name = what.split_whitespace().next().unwrap_or("");
        let best = free
            .iter()
            .copied()
            .max_by(|&a, &b| {
                let (pa, pb) = (self.u.packages[a], self.u.packages[b]);
                self.fits_deferred(a)
                    .cmp(&self.fits_deferred(b))
                    .then_with(|| (pa.name == dep_name).cmp(&(pb.name == dep_name)))
                    .then_with(|| pa.evr.compare(&pb.evr))
                    .then_with(|| pb.name.cmp(&pa.name))
            })
            .expect("free is not empty");
        self.chosen.insert(self.u.packages[best].name.clone(), best);
        self.parent.insert(best, by);
        self.queue.push_back(best);
        Ok(())
    }
}
