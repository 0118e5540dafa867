//! Where advisories come from: [`AdvisoryLookup`] (the database implements it) and
//! [`MemoryStore`] (tests, imports checked before they are written).

use std::collections::{BTreeMap, BTreeSet};

use super::MatchError;
use crate::model::Advisory;

/// Where advisories come from: the database, or a [`MemoryStore`].
pub trait AdvisoryLookup {
    /// The advisories about `package` (Debian: source package; Alpine: origin; Go:
    /// module path) in `ecosystem` (`debian:12`, `alpine:3.20`, `go`, `crates.io`,
    /// `pypi`, `npm`).
    fn advisories(&self, ecosystem: &str, package: &str) -> Result<Vec<Advisory>, String>;
    /// Every ecosystem key that holds at least one advisory.
    fn ecosystems(&self) -> Vec<String>;
}

/// Advisories held in memory, keyed by (ecosystem, package).
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    records: BTreeMap<(String, String), Vec<Advisory>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `advisory` under its ecosystem and package, after any already held.
    pub fn insert(&mut self, advisory: Advisory) {
        self.records
            .entry((advisory.ecosystem.clone(), advisory.package.clone()))
            .or_default()
            .push(advisory);
    }

    /// Number of advisories held.
    pub fn len(&self) -> usize {
        self.records.values().map(Vec::len).sum()
    }

    /// Whether it holds no advisory.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl FromIterator<Advisory> for MemoryStore {
    fn from_iter<I: IntoIterator<Item = Advisory>>(iter: I) -> Self {
        let mut store = MemoryStore::new();
        for a in iter {
            store.insert(a);
        }
        store
    }
}

impl AdvisoryLookup for MemoryStore {
    fn advisories(&self, ecosystem: &str, package: &str) -> Result<Vec<Advisory>, String> {
        Ok(self
            .records
            .get(&(ecosystem.to_string(), package.to_string()))
            .cloned()
            .unwrap_or_default())
    }

    fn ecosystems(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.records.keys().map(|(e, _)| e).collect();
        set.into_iter().cloned().collect()
    }
}

pub(super) fn lookup_err(ecosystem: &str, package: &str) -> impl FnOnce(String) -> MatchError {
    let (ecosystem, package) = (ecosystem.to_string(), package.to_string());
    move |message| MatchError::Lookup {
        ecosystem,
        package,
        message,
    }
}
