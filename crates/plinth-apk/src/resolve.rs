//! Dependency resolution over indexes, as apk resolves a world: package names and the
//! `so:`, `cmd:` and `pc:` names packages provide (versioned `name=1.2` or not), version
//! constraints (`=`, `<`, `<=`, `>`, `>=`, `~`), `!name` conflicts, provider priorities
//! (`k:`) and install-if (`i:`).
//!
//! The resolver is greedy, like apko's: each dependency takes the highest version of a
//! package of that name, else the best provider (highest `k:`, then highest provided
//! version, then highest package version, then the first name), and never revisits a
//! choice. apk's solver can backtrack; where it would have to, this resolver names the
//! clash instead.
//!
//! Unversioned provides (`p:/bin/sh`) are apk's virtual packages: when several packages
//! provide the name and none has a `k:` priority, apk asks the user to name one, and so
//! does this resolver ([`ResolveError::Virtual`]). When exactly one package provides it,
//! it is chosen, as apk-tools 2.12.9 (Alpine 3.16) chooses busybox for `/bin/sh`; Alpine
//! 3.17 and later give such provides a version or a priority.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::index::PackageInfo;
use crate::version::{self, Op};

/// One dependency token: `name`, `name>=1.0`, `!name`, `so:libc.musl-x86_64.so.1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// `!name`: the named package must not be installed.
    pub conflict: bool,
    /// The package or provided name.
    pub name: String,
    /// The version constraint.
    pub constraint: Option<(Op, String)>,
}

impl std::fmt::Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.conflict {
            f.write_str("!")?;
        }
        f.write_str(&self.name)?;
        if let Some((op, v)) = &self.constraint {
            write!(f, "{}{v}", op.as_str())?;
        }
        Ok(())
    }
}

impl Dependency {
    /// Parses a dependency token as apk writes them in `D:`, `i:` and `world`.
    pub fn parse(text: &str) -> Result<Dependency, ResolveError> {
        let bad = |problem: &str| ResolveError::BadDependency {
            text: text.to_string(),
            problem: problem.to_string(),
        };
        let (conflict, rest) = match text.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let split = rest.find(['<', '>', '=', '~']).unwrap_or(rest.len());
        let (name, tail) = rest.split_at(split);
        if name.is_empty() {
            return Err(bad("no name"));
        }
        if name.contains('@') {
            return Err(bad("repository tags (name@tag) are not supported"));
        }
        if tail.is_empty() {
            return Ok(Dependency {
                conflict,
                name: name.to_string(),
                constraint: None,
            });
        }
        let op_len = tail
            .find(|c: char| !matches!(c, '<' | '>' | '=' | '~'))
            .unwrap_or(tail.len());
        let (op, ver) = tail.split_at(op_len);
        let op = match op {
            "=" => Op::Eq,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "~" | "~=" | "=~" => Op::Fuzzy,
            "><" => return Err(bad("checksum pins (><) are not supported")),
            _ => return Err(bad("unknown version operator")),
        };
        if !version::is_valid(ver) {
            return Err(bad("not an apk version"));
        }
        Ok(Dependency {
            conflict,
            name: name.to_string(),
            constraint: Some((op, ver.to_string())),
        })
    }

    /// Whether a package or provide of version `have` (`None`: an unversioned provide)
    /// satisfies the constraint.
    fn accepts(&self, have: Option<&str>) -> bool {
        match (&self.constraint, have) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some((op, want)), Some(have)) => op.matches(have, want),
        }
    }
}

/// A world that cannot be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// A dependency token is malformed.
    #[error("bad dependency {text:?}: {problem}")]
    BadDependency {
        /// The token.
        text: String,
        /// What is wrong.
        problem: String,
    },
    /// No package is or provides the dependency.
    #[error("no package provides {dependency} (needed by {chain})")]
    Missing {
        /// The dependency.
        dependency: String,
        /// Who needs it: `world → a-1.0-r0 → b-2.0-r0`.
        chain: String,
    },
    /// Only unversioned provides without a priority: apk asks the user to choose.
    #[error(
        "{dependency} is a virtual package provided by {providers}: name one of them (needed by {chain})"
    )]
    Virtual {
        /// The dependency.
        dependency: String,
        /// The providers.
        providers: String,
        /// Who needs it.
        chain: String,
    },
    /// A package already chosen does not satisfy a later constraint.
    #[error(
        "{dependency} (needed by {chain}) is not satisfied by {chosen}, already chosen for {chosen_by}"
    )]
    Clash {
        /// The dependency.
        dependency: String,
        /// Who needs it.
        chain: String,
        /// The package already chosen.
        chosen: String,
        /// Why it was chosen.
        chosen_by: String,
    },
    /// A chosen package conflicts with a `!` dependency.
    #[error(
        "{package} (needed by {package_chain}) conflicts with {conflict} (declared by {chain})"
    )]
    Conflict {
        /// The chosen package.
        package: String,
        /// Why it was chosen.
        package_chain: String,
        /// The `!` dependency.
        conflict: String,
        /// Who declared it.
        chain: String,
    },
}

/// The packages of one or more indexes, looked up by name and by what they provide.
#[derive(Debug)]
pub struct Repository<'a> {
    packages: Vec<&'a PackageInfo>,
    by_name: HashMap<&'a str, Vec<usize>>,
    providers: HashMap<&'a str, Vec<(usize, Option<&'a str>)>>,
}

/// Splits a provide into name and version (`so:libc.so=1` → `so:libc.so`, `1`).
fn split_provide(p: &str) -> (&str, Option<&str>) {
    match p.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (p, None),
    }
}

impl<'a> Repository<'a> {
    /// Indexes `packages` (several indexes may be chained; all are candidates).
    pub fn new(packages: impl IntoIterator<Item = &'a PackageInfo>) -> Repository<'a> {
        let packages: Vec<&PackageInfo> = packages.into_iter().collect();
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut providers: HashMap<&str, Vec<(usize, Option<&str>)>> = HashMap::new();
        for (i, p) in packages.iter().enumerate() {
            by_name.entry(p.name.as_str()).or_default().push(i);
            for prov in &p.provides {
                let (n, v) = split_provide(prov);
                providers.entry(n).or_default().push((i, v));
            }
        }
        Repository {
            packages,
            by_name,
            providers,
        }
    }

    /// The best candidate for `dep`, or why there is none.
    fn choose(&self, dep: &Dependency, chain: &str) -> Result<usize, ResolveError> {
        let real = self
            .by_name
            .get(dep.name.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| dep.accepts(Some(&self.packages[i].version)))
            .max_by(|&a, &b| self.cmp_version(a, b));
        if let Some(i) = real {
            return Ok(i);
        }
        let provs: Vec<(usize, Option<&str>)> = self
            .providers
            .get(dep.name.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|&(_, v)| dep.accepts(v))
            .collect();
        let mut provider_names: Vec<&str> = provs
            .iter()
            .map(|&(i, _)| self.packages[i].name.as_str())
            .collect();
        provider_names.sort_unstable();
        provider_names.dedup();
        let sole = provider_names.len() == 1;
        let eligible = provs.iter().copied().filter(|&(i, v)| {
            v.is_some() || sole || self.packages[i].provider_priority.is_some_and(|k| k > 0)
        });
        let best = eligible.max_by(|&(a, va), &(b, vb)| {
            let pa = self.packages[a].provider_priority.unwrap_or(0);
            let pb = self.packages[b].provider_priority.unwrap_or(0);
            pa.cmp(&pb)
                .then_with(|| match (va, vb) {
                    (Some(x), Some(y)) => version::compare(x, y).unwrap_or(Ordering::Equal),
                    _ => Ordering::Equal,
                })
                .then_with(|| self.cmp_version(a, b))
                // max_by keeps the last of equals: prefer the first name.
                .then_with(|| self.packages[b].name.cmp(&self.packages[a].name))
        });
        match best {
            Some((i, _)) => Ok(i),
            None if !provs.is_empty() => {
                let mut names: Vec<String> =
                    provs.iter().map(|&(i, _)| self.packages[i].id()).collect();
                names.sort();
                names.dedup();
                Err(ResolveError::Virtual {
                    dependency: dep.to_string(),
                    providers: names.join(", "),
                    chain: chain.to_string(),
                })
            }
            None => Err(ResolveError::Missing {
                dependency: dep.to_string(),
                chain: chain.to_string(),
            }),
        }
    }

    fn cmp_version(&self, a: usize, b: usize) -> Ordering {
        version::compare(&self.packages[a].version, &self.packages[b].version)
            .unwrap_or(Ordering::Equal)
    }

    /// Whether package `i` is or provides what `dep` names, at an accepted version.
    fn satisfies(&self, i: usize, dep: &Dependency) -> bool {
        let p = self.packages[i];
        if p.name == dep.name && dep.accepts(Some(&p.version)) {
            return true;
        }
        p.provides.iter().any(|prov| {
            let (n, v) = split_provide(prov);
            n == dep.name && dep.accepts(v)
        })
    }

    /// Resolves `world` (dependency tokens) to the set of packages to install.
    pub fn resolve(&self, world: &[impl AsRef<str>]) -> Result<Resolution, ResolveError> {
        let mut chosen: BTreeMap<&str, (usize, String)> = BTreeMap::new();
        let mut conflicts: Vec<(Dependency, String)> = Vec::new();
        let mut queue: VecDeque<(Dependency, String)> = VecDeque::new();
        for w in world {
            queue.push_back((Dependency::parse(w.as_ref())?, "world".to_string()));
        }
        loop {
            while let Some((dep, chain)) = queue.pop_front() {
                if dep.conflict {
                    for (i, by) in chosen.values() {
                        if self.satisfies(*i, &dep) {
                            return Err(ResolveError::Conflict {
                                package: self.packages[*i].id(),
                                package_chain: by.clone(),
                                conflict: dep.to_string(),
                                chain,
                            });
                        }
                    }
                    conflicts.push((dep, chain));
                    continue;
                }
                if chosen.values().any(|(i, _)| self.satisfies(*i, &dep)) {
                    continue;
                }
                let i = self.choose(&dep, &chain)?;
                let p = self.packages[i];
                if let Some((j, by)) = chosen.get(p.name.as_str()) {
                    return Err(ResolveError::Clash {
                        dependency: dep.to_string(),
                        chain,
                        chosen: self.packages[*j].id(),
                        chosen_by: by.clone(),
                    });
                }
                for (c, by) in &conflicts {
                    if self.satisfies(i, c) {
                        return Err(ResolveError::Conflict {
                            package: p.id(),
                            package_chain: chain,
                            conflict: c.to_string(),
                            chain: by.clone(),
                        });
                    }
                }
                let here = format!("{chain} → {}", p.id());
                for d in &p.depends {
                    queue.push_back((Dependency::parse(d)?, here.clone()));
                }
                chosen.insert(p.name.as_str(), (i, chain));
            }
            // install_if: a package whose conditions all hold joins (apk's "install_if").
            let mut added = false;
            let mut names: Vec<(&&str, &Vec<usize>)> = self.by_name.iter().collect();
            names.sort_unstable_by_key(|(n, _)| **n);
            for (name, idxs) in names {
                if chosen.contains_key(name) {
                    continue;
                }
                let best = idxs
                    .iter()
                    .copied()
                    .max_by(|&a, &b| self.cmp_version(a, b))
                    .filter(|&i| {
                        let p = self.packages[i];
                        !p.install_if.is_empty()
                            && p.install_if.iter().all(|c| {
                                Dependency::parse(c).is_ok_and(|d| {
                                    let held = chosen.values().any(|(j, _)| self.satisfies(*j, &d));
                                    held != d.conflict
                                })
                            })
                    });
                if let Some(i) = best {
                    let p = self.packages[i];
                    let why = format!("install_if {}", p.install_if.join(" "));
                    queue.push_back((
                        Dependency {
                            conflict: false,
                            name: p.name.clone(),
                            constraint: Some((Op::Eq, p.version.clone())),
                        },
                        why,
                    ));
                    added = true;
                }
            }
            if !added {
                break;
            }
        }
        let mut packages: Vec<(PackageInfo, String)> = chosen
            .into_values()
            .map(|(i, why)| (self.packages[i].clone(), why))
            .collect();
        packages.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(Resolution { packages })
    }
}

/// The packages a world resolves to.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// Each package, sorted by name, with the chain that pulled it in
    /// (`world → busybox-1.35.0-r17`).
    pub packages: Vec<(PackageInfo, String)>,
}

impl Resolution {
    /// The package names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.packages.iter().map(|(p, _)| p.name.as_str()).collect()
    }
}
