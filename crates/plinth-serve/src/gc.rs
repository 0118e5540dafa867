//! Garbage collection online: unreferenced blobs, links and (by policy) untagged
//! manifests are removed while pushes go on.
//!
//! # What is kept
//!
//! Per repository, a manifest revision is kept when a tag points at it, when it is younger
//! than the grace period, when a kept index names it, or when its `subject` is kept (a
//! referrer lives as long as what it refers to). With `untagged = false` (the default)
//! every revision is kept. A kept revision keeps its own blob and link, its config and
//! layers (blobs and the repository's links to them) and its child manifests. A link is
//! kept when a kept revision references it or it is younger than the grace period; a kept
//! link keeps its blob. A blob nobody keeps and older than the grace period is removed.
//!
//! # Why a concurrent push never loses what it relies on
//!
//! The collector runs: list and mark (M1) -> candidate set C (revisions, links, blobs) ->
//! write a marker `_gc/doomed/<key>` for every candidate (`<key>` is the object's own
//! key, so a blob's marker is `_gc/doomed/blobs/<alg>/<hex[..2]>/<hex>`) -> list and mark
//! again (M2), this time also keeping every revision and link that is not a candidate or
//! was written again since M1 (its size or time changed), and drop from C (removing its
//! marker) whatever M2 keeps -> delete what is left of C, each object before its marker.
//!
//! Every request that makes the registry rely on an object X that may already exist (a
//! mount or a finished upload relies on the blob and on the link it writes; a manifest put
//! on its own blob, link and revision, and on the links, blobs and child revisions it
//! names) first writes everything it writes (links, revision, referrer entry, tags: the
//! objects W that reference X), and only then, in [`standing`], checks each X, and each
//! W that a collector could doom (links, revisions), for a marker first and for existence
//! second.
//!
//! Take a successful request and suppose the collector deletes X in the same run. X was in
//! C, so its marker was written before M2's listing began, and it is removed only after X
//! is deleted. The request read "no marker" after writing W, then "X exists".
//! - If the request's read came after the marker was written, the marker had been
//!   removed again, so X was already deleted and "X exists" could not follow. So the read
//!   came before the marker was written, and W was written before that, before M2's
//!   listing began: M2 saw W.
//! - M2 keeps W: a tag always; a revision or link unless it is a candidate whose size and
//!   time are as M1 saw them, that is unless the request did not write it after M1 —
//!   then M1 already saw W referencing X, and either kept W (and X) or found W itself
//!   unreferenced and older than the grace period, that is garbage by policy before the
//!   request ended (with a manifest put, a tag or a kept index keeps the revision).
//!   Whatever M2 keeps, keeps X, so X leaves C: a contradiction.
//!
//! A request that finds a marker undoes what it wrote and fails as if X were unknown (a
//! mount answers 202 and the client uploads; a manifest naming a doomed blob answers
//! `MANIFEST_BLOB_UNKNOWN`), or, where X is the request's own bytes (its upload, its
//! manifest), waits until the collection is over and writes them again.
//!
//! The grace period is what protects an upload whose manifest has not come yet: with
//! `grace_secs = 0` a blob that nothing names may go before its manifest arrives (the
//! manifest is then refused with `MANIFEST_BLOB_UNKNOWN`, never accepted and broken).
//!
//! One collector runs at a time per process (a lock); several processes over one store
//! must not collect at the same time: run the collector in one of them only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use crate::digest::Digest;
use crate::registry::{Registry, blob_key, check_manifest, link_key, revision_key};
use crate::store::{Meta, Store, StoreError};

/// Where the markers of doomed objects live.
const DOOMED: &str = "_gc/doomed";
/// How long a request waits for a collection to finish before it gives up.
const WAIT: Duration = Duration::from_secs(60);
/// Markers older than this were left by a collector that died; the next run removes them.
const STALE: Duration = Duration::from_secs(600);

/// The `[gc]` section of the configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct GcConfig {
    /// Seconds between two collections (0: never, except `plinth serve --gc-once`).
    pub interval_secs: u64,
    /// Nothing younger than this many seconds is removed.
    pub grace_secs: u64,
    /// Whether manifests that no tag, index or subject keeps are removed.
    pub untagged: bool,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            interval_secs: 3600,
            grace_secs: 3600,
            untagged: false,
        }
    }
}

/// A collection that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// The store failed.
    #[error("garbage collection stopped on a storage failure")]
    Store(#[from] StoreError),
}

/// What one collection removed.
#[derive(Debug, Clone, Default)]
pub struct GcReport {
    /// Blobs, with their sizes.
    pub blobs: Vec<(Digest, u64)>,
    /// Repositories' links to blobs: (repository, digest).
    pub links: Vec<(String, Digest)>,
    /// Manifest revisions: (repository, digest).
    pub manifests: Vec<(String, Digest)>,
    /// Bytes of the removed blobs.
    pub bytes: u64,
    /// How long it took.
    pub duration: Duration,
}

/// The collector's state in a registry: one collection at a time.
#[derive(Debug, Default)]
pub struct GcState {
    lock: tokio::sync::Mutex<()>,
    /// Tests stop a collection between its second marking and its sweep here.
    #[cfg(test)]
    pause: std::sync::Mutex<Option<(Arc<tokio::sync::Notify>, Arc<tokio::sync::Notify>)>>,
}

impl GcState {
    #[cfg(test)]
    async fn pause_point(&self) {
        let pause = self.pause.lock().unwrap().take();
        if let Some((reached, resume)) = pause {
            reached.notify_one();
            resume.notified().await;
        }
    }
}

/// The key of the marker of a doomed object.
pub(crate) fn doomed_key(key: &str) -> String {
    format!("{DOOMED}/{key}")
}

/// Whether the objects a request relies on are safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Standing {
    /// All exist and none is doomed.
    Alive,
    /// This one is about to be removed by the collector.
    Doomed(String),
    /// This one does not exist.
    Missing(String),
}

/// Checks `keys` in order, each for a marker first and then for existence (see the
/// module's comment for why in that order). Call it after writing the object that
/// references them.
pub(crate) async fn standing<S: Store>(store: &S, keys: &[String]) -> Result<Standing, StoreError> {
    for key in keys {
        if store.head(&doomed_key(key)).await?.is_some() {
            return Ok(Standing::Doomed(key.clone()));
        }
        if store.head(key).await?.is_none() {
            return Ok(Standing::Missing(key.clone()));
        }
    }
    Ok(Standing::Alive)
}

/// Waits until the marker of `key` is gone (the collection that doomed it finished);
/// whether it went within [`WAIT`].
pub(crate) async fn wait_collected<S: Store>(store: &S, key: &str) -> Result<bool, StoreError> {
    let start = Instant::now();
    let marker = doomed_key(key);
    while store.head(&marker).await?.is_some() {
        if start.elapsed() > WAIT {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(true)
}

/// What a manifest names.
#[derive(Debug, Clone, Default)]
struct Refs {
    blobs: Vec<Digest>,
    manifests: Vec<Digest>,
    subject: Option<Digest>,
}

/// One repository as listed.
#[derive(Debug, Default)]
struct Repo {
    revisions: HashMap<Digest, Meta>,
    links: HashMap<Digest, Meta>,
    tags: Vec<Digest>,
    /// Referrer entries: (key, the referring manifest).
    referrers: Vec<(String, Digest)>,
}

/// Everything the store holds, as one listing saw it.
#[derive(Debug, Default)]
struct Listing {
    repos: BTreeMap<String, Repo>,
}

/// What a marking keeps.
#[derive(Debug, Default)]
struct Marks {
    revisions: HashSet<(String, Digest)>,
    links: HashSet<(String, Digest)>,
    blobs: HashSet<Digest>,
}

/// Candidates of one run.
#[derive(Debug, Default)]
struct Doomed {
    /// With the meta the first listing saw (an object written since is not doomed).
    revisions: HashMap<(String, Digest), Meta>,
    links: HashMap<(String, Digest), Meta>,
    blobs: HashMap<Digest, u64>,
}

impl Doomed {
    /// Whether the second marking keeps `k` as it is now (`meta`): it is not a
    /// candidate, or it was written again since the first listing.
    fn spares(map: &HashMap<(String, Digest), Meta>, k: &(String, Digest), meta: &Meta) -> bool {
        map.get(k).is_none_or(|m| m != meta)
    }
}

impl Doomed {
    fn keys(&self) -> Vec<String> {
        let revs = self.revisions.keys().map(|(r, d)| revision_key(r, d));
        let links = self.links.keys().map(|(r, d)| link_key(r, d));
        let blobs = self.blobs.keys().map(blob_key);
        revs.chain(links).chain(blobs).collect()
    }
}

fn parse_digest_path(alg: &str, hex: &str) -> Option<Digest> {
    format!("{alg}:{hex}").parse().ok()
}

fn young(meta: &Meta, now: SystemTime, grace: Duration) -> bool {
    now.duration_since(meta.modified).unwrap_or_default() < grace
}

impl<S: Store> Registry<S> {
    /// Runs one collection (see the module's comment).
    pub async fn collect_garbage(&self) -> Result<GcReport, GcError> {
        let _guard = self.gc.lock.lock().await;
        let start = Instant::now();
        let cfg = &self.config().gc;
        let grace = Duration::from_secs(cfg.grace_secs);
        let store = self.store();
        self.purge_stale_markers().await?;
        let mut refs = HashMap::new();

        // Mark, and the candidates.
        let now = SystemTime::now();
        let listing = self.list_repositories().await?;
        let marks = self
            .mark(&listing, &mut refs, now, grace, cfg.untagged, None)
            .await?;
        let mut doomed = Doomed::default();
        for (name, repo) in &listing.repos {
            for (d, meta) in &repo.revisions {
                let k = (name.clone(), d.clone());
                if !marks.revisions.contains(&k) {
                    doomed.revisions.insert(k, *meta);
                }
            }
            for (d, meta) in &repo.links {
                let k = (name.clone(), d.clone());
                if !marks.links.contains(&k) {
                    doomed.links.insert(k, *meta);
                }
            }
        }
        for (key, meta) in store.list("blobs").await? {
            let mut parts = key.split('/').skip(1);
            let (Some(alg), Some(_), Some(hex), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(d) = parse_digest_path(alg, hex) else {
                continue;
            };
            if !marks.blobs.contains(&d) && !young(&meta, now, grace) {
                doomed.blobs.insert(d, meta.size);
            }
        }
        if doomed.revisions.is_empty() && doomed.links.is_empty() && doomed.blobs.is_empty() {
            return Ok(GcReport {
                duration: start.elapsed(),
                ..GcReport::default()
            });
        }

        // Markers, then mark again: whatever a request made the registry rely on in the
        // meantime is kept.
        for key in doomed.keys() {
            store.put(&doomed_key(&key), bytes::Bytes::new()).await?;
        }
        let listing = self.list_repositories().await?;
        let marks = self
            .mark(
                &listing,
                &mut refs,
                SystemTime::now(),
                grace,
                cfg.untagged,
                Some(&doomed),
            )
            .await?;
        let mut spared = Vec::new();
        doomed.revisions.retain(|k, _| {
            let keep = marks.revisions.contains(k);
            if keep {
                spared.push(revision_key(&k.0, &k.1));
            }
            !keep
        });
        doomed.links.retain(|k, _| {
            let keep = marks.links.contains(k);
            if keep {
                spared.push(link_key(&k.0, &k.1));
            }
            !keep
        });
        doomed.blobs.retain(|d, _| {
            let keep = marks.blobs.contains(d);
            if keep {
                spared.push(blob_key(d));
            }
            !keep
        });
        for key in spared {
            store.delete(&doomed_key(&key)).await?;
        }

        #[cfg(test)]
        self.gc.pause_point().await;

        // Sweep: each object before its marker.
        let mut report = GcReport::default();
        for (name, repo) in &listing.repos {
            for (key, d) in &repo.referrers {
                if doomed.revisions.contains_key(&(name.clone(), d.clone())) {
                    store.delete(key).await?;
                }
            }
        }
        for (name, d) in doomed.revisions.keys() {
            let key = revision_key(name, d);
            if store.delete(&key).await? {
                report.manifests.push((name.clone(), d.clone()));
            }
            store.delete(&doomed_key(&key)).await?;
        }
        for (name, d) in doomed.links.keys() {
            let key = link_key(name, d);
            if store.delete(&key).await? {
                report.links.push((name.clone(), d.clone()));
            }
            store.delete(&doomed_key(&key)).await?;
        }
        for (d, size) in &doomed.blobs {
            let key = blob_key(d);
            if store.delete(&key).await? {
                report.blobs.push((d.clone(), *size));
                report.bytes += size;
            }
            store.delete(&doomed_key(&key)).await?;
        }
        report.blobs.sort();
        report.links.sort();
        report.manifests.sort();
        report.duration = start.elapsed();
        Ok(report)
    }

    /// Removes markers a collector that died left behind.
    async fn purge_stale_markers(&self) -> Result<(), StoreError> {
        let now = SystemTime::now();
        for (key, meta) in self.store().list(DOOMED).await? {
            if !young(&meta, now, STALE) {
                self.store().delete(&key).await?;
            }
        }
        Ok(())
    }

    /// Lists every repository's revisions, links, tags and referrer entries.
    async fn list_repositories(&self) -> Result<Listing, StoreError> {
        let mut listing = Listing::default();
        let mut tags = Vec::new();
        for (key, meta) in self.store().list("repositories").await? {
            let Some(rest) = key.strip_prefix("repositories/") else {
                continue;
            };
            // Names' components never start with `_`: the first one that does ends it.
            let Some(i) = rest.find("/_") else { continue };
            let (name, tail) = (&rest[..i], &rest[i + 1..]);
            let parts: Vec<&str> = tail.split('/').collect();
            let repo = listing.repos.entry(name.to_string()).or_default();
            match parts.as_slice() {
                ["_manifests", "revisions", alg, hex] => {
                    if let Some(d) = parse_digest_path(alg, hex) {
                        repo.revisions.insert(d, meta);
                    }
                }
                ["_layers", alg, hex] => {
                    if let Some(d) = parse_digest_path(alg, hex) {
                        repo.links.insert(d, meta);
                    }
                }
                ["_manifests", "tags", _] => tags.push((name.to_string(), key.clone())),
                ["_referrers", _, _, entry] => {
                    if let Some((alg, hex)) = entry.split_once('-')
                        && let Some(d) = parse_digest_path(alg, hex)
                    {
                        repo.referrers.push((key.clone(), d));
                    }
                }
                _ => {}
            }
        }
        for (name, key) in tags {
            if let Some(b) = self.store().get(&key).await?
                && let Some(d) = std::str::from_utf8(&b)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                && let Some(repo) = listing.repos.get_mut(&name)
            {
                repo.tags.push(d);
            }
        }
        Ok(listing)
    }

    /// What a manifest names (cached: a digest's bytes never change).
    async fn refs_of(
        &self,
        name: &str,
        d: &Digest,
        cache: &mut HashMap<Digest, Refs>,
    ) -> Result<Refs, StoreError> {
        if let Some(r) = cache.get(d) {
            return Ok(r.clone());
        }
        let media = self.store().get(&revision_key(name, d)).await?;
        let bytes = self.store().get(&blob_key(d)).await?;
        let refs = match (media, bytes) {
            (Some(media), Some(bytes)) => {
                let media = String::from_utf8_lossy(&media).into_owned();
                match check_manifest(&bytes, Some(&media)) {
                    Ok(c) => Refs {
                        blobs: c.blobs,
                        manifests: c.manifests,
                        subject: c.subject,
                    },
                    Err(_) => Refs::default(),
                }
            }
            // Gone while listing: names nothing (and is not cached).
            _ => return Ok(Refs::default()),
        };
        cache.insert(d.clone(), refs.clone());
        Ok(refs)
    }

    /// Marks what `listing` keeps. With `doomed` (the second marking), every revision and
    /// link that exists and is not a candidate is kept too.
    async fn mark(
        &self,
        listing: &Listing,
        cache: &mut HashMap<Digest, Refs>,
        now: SystemTime,
        grace: Duration,
        untagged: bool,
        doomed: Option<&Doomed>,
    ) -> Result<Marks, StoreError> {
        let mut marks = Marks::default();
        for (name, repo) in &listing.repos {
            let key = |d: &Digest| (name.clone(), d.clone());
            let mut refs = HashMap::new();
            let mut referrers: HashMap<Digest, Vec<Digest>> = HashMap::new();
            for d in repo.revisions.keys() {
                let r = self.refs_of(name, d, cache).await?;
                if let Some(s) = &r.subject {
                    referrers.entry(s.clone()).or_default().push(d.clone());
                }
                refs.insert(d.clone(), r);
            }
            let mut work: Vec<Digest> = repo
                .revisions
                .iter()
                .filter(|(d, meta)| {
                    !untagged
                        || young(meta, now, grace)
                        || doomed.is_some_and(|c| Doomed::spares(&c.revisions, &key(d), meta))
                })
                .map(|(d, _)| d.clone())
                .chain(repo.tags.iter().cloned())
                .collect();
            let mut kept = HashSet::new();
            while let Some(d) = work.pop() {
                if !repo.revisions.contains_key(&d) || !kept.insert(d.clone()) {
                    continue;
                }
                if let Some(r) = refs.get(&d) {
                    work.extend(r.manifests.iter().cloned());
                }
                if let Some(rs) = referrers.get(&d) {
                    work.extend(rs.iter().cloned());
                }
            }
            for d in &kept {
                marks.blobs.insert(d.clone());
                marks.links.insert(key(d));
                if let Some(r) = refs.get(d) {
                    for b in r.blobs.iter().chain(&r.manifests) {
                        marks.blobs.insert(b.clone());
                        marks.links.insert(key(b));
                    }
                }
                marks.revisions.insert(key(d));
            }
            for (d, meta) in &repo.links {
                if young(meta, now, grace)
                    || doomed.is_some_and(|c| Doomed::spares(&c.links, &key(d), meta))
                {
                    marks.links.insert(key(d));
                }
                if marks.links.contains(&key(d)) {
                    marks.blobs.insert(d.clone());
                }
            }
        }
        Ok(marks)
    }
}

/// Collects now and then, as the configuration says (never when `interval_secs` is 0).
pub async fn run_periodically<S: Store>(registry: Arc<Registry<S>>) {
    let every = registry.config().gc.interval_secs;
    if every == 0 {
        return;
    }
    loop {
        tokio::time::sleep(Duration::from_secs(every)).await;
        match registry.collect_garbage().await {
            Ok(report) => {
                registry.metrics().gc_finished(&report);
                if !report.blobs.is_empty()
                    || !report.links.is_empty()
                    || !report.manifests.is_empty()
                {
                    tracing::info!(
                        blobs = report.blobs.len(),
                        bytes = report.bytes,
                        links = report.links.len(),
                        manifests = report.manifests.len(),
                        ms = report.duration.as_millis() as u64,
                        "garbage collected"
                    );
                }
            }
            Err(e) => {
                registry.metrics().storage_error();
                tracing::warn!(error = %e, "garbage collection failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::digest::Algorithm;
    use crate::error::Code;
    use crate::registry::{OCI_INDEX, OCI_MANIFEST, Reference};
    use crate::store::fs::FsStore;
    use bytes::Bytes;
    use futures_util::StreamExt;

    fn registry(dir: &std::path::Path, grace: u64, untagged: bool) -> Registry<FsStore> {
        let mut config = Config::with_storage(dir);
        config.gc = GcConfig {
            interval_secs: 0,
            grace_secs: grace,
            untagged,
        };
        Registry::new(FsStore::open(dir).unwrap(), config)
    }

    fn body(bytes: Bytes) -> crate::registry::Body {
        Box::pin(futures_util::stream::once(async move { Ok(bytes) }))
    }

    async fn push_blob(reg: &Registry<FsStore>, repo: &str, bytes: &[u8]) -> Digest {
        try_push_blob(reg, repo, bytes).await.unwrap()
    }

    async fn try_push_blob(
        reg: &Registry<FsStore>,
        repo: &str,
        bytes: &[u8],
    ) -> Result<Digest, crate::error::ApiError> {
        let d = Digest::of(Algorithm::Sha256, bytes);
        let id = reg.upload_start(repo, Algorithm::Sha256).await?;
        reg.upload_finish(
            repo,
            &id,
            &d,
            None,
            Some(body(Bytes::copy_from_slice(bytes))),
        )
        .await?;
        Ok(d)
    }

    fn descriptor(media: &str, d: &Digest, size: usize) -> serde_json::Value {
        serde_json::json!({ "mediaType": media, "digest": d.to_string(), "size": size })
    }

    /// An image of a config and one layer (`seed` makes it unique); its manifest's bytes.
    async fn image(
        reg: &Registry<FsStore>,
        repo: &str,
        seed: &str,
        subject: Option<&Digest>,
    ) -> (Bytes, Vec<Digest>) {
        let config = format!("{{\"seed\":\"{seed}\"}}");
        let layer = format!("layer of {seed}");
        let c = push_blob(reg, repo, config.as_bytes()).await;
        let l = push_blob(reg, repo, layer.as_bytes()).await;
        let mut m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &c, config.len()),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &l, layer.len())],
        });
        if let Some(s) = subject {
            m["subject"] = descriptor(OCI_MANIFEST, s, 10);
        }
        (Bytes::from(m.to_string()), vec![c, l])
    }

    async fn try_image(
        reg: &Registry<FsStore>,
        repo: &str,
        seed: &str,
    ) -> Result<(Bytes, Vec<Digest>), crate::error::ApiError> {
        let config = format!("{{\"seed\":\"{seed}\"}}");
        let layer = format!("layer of {seed}");
        let c = try_push_blob(reg, repo, config.as_bytes()).await?;
        let l = try_push_blob(reg, repo, layer.as_bytes()).await?;
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &c, config.len()),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &l, layer.len())],
        });
        Ok((Bytes::from(m.to_string()), vec![c, l]))
    }

    async fn put(
        reg: &Registry<FsStore>,
        repo: &str,
        reference: &str,
        bytes: &Bytes,
    ) -> Result<Digest, crate::error::ApiError> {
        let r = match reference.parse::<Digest>() {
            Ok(d) => Reference::Digest(d),
            Err(_) => Reference::Tag(reference.to_string()),
        };
        reg.manifest_put(repo, &r, None, bytes.clone(), &[])
            .await
            .map(|p| p.digest)
    }

    /// Whether the repository serves the manifest and every blob it names.
    async fn pulls(reg: &Registry<FsStore>, repo: &str, reference: &str) -> bool {
        let r = Reference::parse(reference).unwrap();
        let Ok(m) = reg.manifest_get(repo, &r).await else {
            return false;
        };
        let checked = check_manifest(&m.bytes, Some(&m.media_type)).unwrap();
        for d in &checked.blobs {
            let Ok((_, mut s)) = reg.blob_read(repo, d, None).await else {
                return false;
            };
            let mut h = crate::digest::Hasher::new(d.algorithm());
            while let Some(c) = s.next().await {
                h.update(&c.unwrap());
            }
            if &h.finish() != d {
                return false;
            }
        }
        for d in &checked.manifests {
            if !Box::pin(pulls(reg, repo, &d.to_string())).await {
                return false;
            }
        }
        true
    }

    async fn blob_exists(reg: &Registry<FsStore>, d: &Digest) -> bool {
        reg.store().head(&blob_key(d)).await.unwrap().is_some()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unreferenced_blobs_and_untagged_manifests_are_removed_after_the_grace_and_not_before()
    {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path(), 3600, true);
        let orphan = push_blob(&reg, "a", b"nobody names me").await;
        let (tagged, _) = image(&reg, "a", "tagged", None).await;
        put(&reg, "a", "v1", &tagged).await.unwrap();
        let (untagged, untagged_blobs) = image(&reg, "a", "untagged", None).await;
        let untagged = put(
            &reg,
            "a",
            &Digest::of(Algorithm::Sha256, &untagged).to_string(),
            &untagged,
        )
        .await
        .unwrap();

        // Within the grace period nothing goes.
        let report = reg.collect_garbage().await.unwrap();
        assert!(
            report.blobs.is_empty() && report.manifests.is_empty(),
            "{report:?}"
        );
        assert!(blob_exists(&reg, &orphan).await);

        // After it (grace 0), the orphan blob and the untagged manifest with its blobs go;
        // the tagged image stays whole.
        let reg = registry(dir.path(), 0, true);
        let report = reg.collect_garbage().await.unwrap();
        let removed: Vec<&Digest> = report.blobs.iter().map(|(d, _)| d).collect();
        assert!(removed.contains(&&orphan), "{report:?}");
        assert!(removed.contains(&&untagged), "{report:?}");
        for d in &untagged_blobs {
            assert!(removed.contains(&d), "{report:?}");
        }
        assert_eq!(report.manifests, vec![("a".to_string(), untagged.clone())]);
        assert!(!blob_exists(&reg, &orphan).await);
        assert!(
            reg.manifest_get("a", &Reference::Digest(untagged))
                .await
                .is_err(),
            "the untagged manifest is gone"
        );
        assert!(pulls(&reg, "a", "v1").await, "the tagged image still pulls");
        assert!(report.bytes > 0);
        // And a second run finds nothing more.
        let again = reg.collect_garbage().await.unwrap();
        assert!(again.blobs.is_empty() && again.manifests.is_empty() && again.links.is_empty());
        assert!(
            reg.store().list(DOOMED).await.unwrap().is_empty(),
            "no marker is left"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn untagged_manifests_stay_unless_the_policy_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path(), 0, false);
        let (m, _) = image(&reg, "a", "untagged", None).await;
        let d = Digest::of(Algorithm::Sha256, &m).to_string();
        put(&reg, "a", &d, &m).await.unwrap();
        let report = reg.collect_garbage().await.unwrap();
        assert!(
            report.blobs.is_empty() && report.manifests.is_empty(),
            "{report:?}"
        );
        assert!(pulls(&reg, "a", &d).await);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_tagged_index_keeps_its_children_and_a_kept_subject_keeps_its_referrers() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path(), 0, true);
        let (child, _) = image(&reg, "a", "child", None).await;
        let child_d = Digest::of(Algorithm::Sha256, &child);
        put(&reg, "a", &child_d.to_string(), &child).await.unwrap();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [descriptor(OCI_MANIFEST, &child_d, child.len())],
        });
        let index = Bytes::from(index.to_string());
        put(&reg, "a", "multi", &index).await.unwrap();
        let (sbom, _) = image(&reg, "a", "sbom", Some(&child_d)).await;
        let sbom_d = put(
            &reg,
            "a",
            &Digest::of(Algorithm::Sha256, &sbom).to_string(),
            &sbom,
        )
        .await
        .unwrap();
        // A referrer of a manifest that goes, goes with it.
        let (lone, _) = image(&reg, "a", "lone", None).await;
        let lone_d = put(
            &reg,
            "a",
            &Digest::of(Algorithm::Sha256, &lone).to_string(),
            &lone,
        )
        .await
        .unwrap();
        let (sig, _) = image(&reg, "a", "sig", Some(&lone_d)).await;
        let sig_d = put(
            &reg,
            "a",
            &Digest::of(Algorithm::Sha256, &sig).to_string(),
            &sig,
        )
        .await
        .unwrap();

        let report = reg.collect_garbage().await.unwrap();
        let mut gone: Vec<Digest> = report.manifests.iter().map(|(_, d)| d.clone()).collect();
        gone.sort();
        let mut want = vec![lone_d, sig_d];
        want.sort();
        assert_eq!(gone, want, "{report:?}");
        assert!(
            pulls(&reg, "a", "multi").await,
            "the index and its child pull"
        );
        assert!(
            pulls(&reg, "a", &sbom_d.to_string()).await,
            "the child's referrer stays"
        );
        let referrers = reg.referrers("a", &child_d, None).await.unwrap();
        assert_eq!(referrers.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_mount_of_a_doomed_blob_is_refused_and_leaves_no_link() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path(), 0, false);
        let d = push_blob(&reg, "a", b"shared").await;
        reg.store()
            .put(&doomed_key(&blob_key(&d)), Bytes::new())
            .await
            .unwrap();
        assert!(!reg.mount("b", &d, Some("a")).await.unwrap());
        assert!(
            reg.store()
                .head(&link_key("b", &d))
                .await
                .unwrap()
                .is_none()
        );
        reg.store()
            .delete(&doomed_key(&blob_key(&d)))
            .await
            .unwrap();
        assert!(reg.mount("b", &d, Some("a")).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_manifest_naming_a_doomed_blob_is_refused_with_manifest_blob_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry(dir.path(), 0, false);
        let (m, blobs) = image(&reg, "a", "x", None).await;
        reg.store()
            .put(&doomed_key(&link_key("a", &blobs[1])), Bytes::new())
            .await
            .unwrap();
        let e = put(&reg, "a", "v1", &m).await.unwrap_err();
        assert_eq!(e.code, Code::ManifestBlobUnknown, "{e:?}");
        assert!(e.message.contains(&blobs[1].to_string()), "{e:?}");
        let d = Digest::of(Algorithm::Sha256, &m);
        assert!(
            reg.store()
                .head(&revision_key("a", &d))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            reg.tags("a").await.unwrap().is_empty(),
            "the tag was undone"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_upload_onto_a_doomed_blob_waits_for_the_collection_and_stores_its_bytes_again() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Arc::new(registry(dir.path(), 0, false));
        let d = push_blob(&reg, "a", b"about to go").await;
        let marker = doomed_key(&blob_key(&d));
        reg.store().put(&marker, Bytes::new()).await.unwrap();
        // The collector: deletes the blob, then its marker, a little later.
        let collector = {
            let reg = reg.clone();
            let d = d.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                reg.store().delete(&blob_key(&d)).await.unwrap();
                reg.store()
                    .delete(&doomed_key(&blob_key(&d)))
                    .await
                    .unwrap();
            })
        };
        push_blob(&reg, "b", b"about to go").await;
        collector.await.unwrap();
        assert!(pulls_blob(&reg, "b", &d).await, "the blob was stored again");
    }

    async fn pulls_blob(reg: &Registry<FsStore>, repo: &str, d: &Digest) -> bool {
        reg.blob_meta(repo, d).await.is_ok() && blob_exists(reg, d).await
    }

    /// Issue 15 point 3: pushes racing the collector (grace 0, untagged manifests
    /// removed) never leave a manifest whose blobs are gone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn pushes_racing_the_collector_never_leave_a_manifest_whose_blobs_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Arc::new(registry(dir.path(), 0, true));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let collector = {
            let (reg, stop) = (reg.clone(), stop.clone());
            tokio::spawn(async move {
                let mut runs = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    reg.collect_garbage().await.unwrap();
                    runs += 1;
                    tokio::task::yield_now().await;
                }
                runs
            })
        };
        let mut pushers = Vec::new();
        for p in 0..4 {
            let reg = reg.clone();
            pushers.push(tokio::spawn(async move {
                let mut pushed = Vec::new();
                for i in 0..40 {
                    // Shared blobs (the same seed in every pusher) and own ones, pushed,
                    // mounted from another repository, and tagged.
                    let seed = format!("s{}", i % 5);
                    let repo = format!("r{p}");
                    // With grace 0 an upload not yet named by a manifest may be
                    // collected before the manifest comes: that push fails.
                    let Ok((m, blobs)) = try_image(&reg, &repo, &seed).await else {
                        continue;
                    };
                    let other = format!("m{p}");
                    for b in &blobs {
                        let _ = reg.mount(&other, b, Some(&repo)).await;
                    }
                    let tag = format!("t{i}");
                    if put(&reg, &repo, &tag, &m).await.is_ok() {
                        pushed.push((repo.clone(), tag.clone()));
                    }
                    if put(&reg, &other, &tag, &m).await.is_ok() {
                        pushed.push((other, tag));
                    }
                }
                pushed
            }));
        }
        let mut pushed = Vec::new();
        for p in pushers {
            pushed.extend(p.await.unwrap());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let runs = collector.await.unwrap();
        assert!(runs > 0);
        assert!(!pushed.is_empty(), "some pushes got through");
        // One more run after the race: what was tagged still pulls.
        reg.collect_garbage().await.unwrap();
        for (repo, tag) in &pushed {
            assert!(pulls(&reg, repo, tag).await, "{repo}:{tag} lost a blob");
        }
    }

    /// Runs a collection up to its pause point (after the second marking, before the
    /// sweep); the task and the notify that lets it go on.
    async fn collect_until_paused(
        reg: &Arc<Registry<FsStore>>,
    ) -> (tokio::task::JoinHandle<GcReport>, Arc<tokio::sync::Notify>) {
        let reached = Arc::new(tokio::sync::Notify::new());
        let resume = Arc::new(tokio::sync::Notify::new());
        *reg.gc.pause.lock().unwrap() = Some((reached.clone(), resume.clone()));
        let task = {
            let reg = reg.clone();
            tokio::spawn(async move { reg.collect_garbage().await.unwrap() })
        };
        reached.notified().await;
        (task, resume)
    }

    /// The window the markers close: a request that checked its blobs before the
    /// collector's second marking and writes after it. Without the markers the manifest
    /// put would succeed and its layer be deleted right after.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_manifest_put_after_the_second_marking_is_refused_and_nothing_it_names_breaks() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Arc::new(registry(dir.path(), 0, false));
        let (m, blobs) = image(&reg, "a", "late", None).await;
        let (task, resume) = collect_until_paused(&reg).await;
        // Everything still exists: only the markers tell the push what is coming.
        for d in &blobs {
            assert!(blob_exists(&reg, d).await);
        }
        let e = put(&reg, "a", "v1", &m).await.unwrap_err();
        assert_eq!(e.code, Code::ManifestBlobUnknown, "{e:?}");
        assert!(!reg.mount("b", &blobs[0], Some("a")).await.unwrap());
        resume.notify_one();
        let report = task.await.unwrap();
        assert_eq!(report.blobs.len(), 2, "{report:?}");
        assert!(
            reg.manifest_get("a", &Reference::Tag("v1".into()))
                .await
                .is_err()
        );
        assert!(
            reg.store()
                .head(&link_key("b", &blobs[0]))
                .await
                .unwrap()
                .is_none()
        );
        // Pushed again after the collection, it goes in whole.
        let (m, _) = image(&reg, "a", "late", None).await;
        put(&reg, "a", "v1", &m).await.unwrap();
        assert!(pulls(&reg, "a", "v1").await);
    }

    /// The same window for an upload whose blob already exists: it waits for the
    /// collection and stores its own bytes.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_upload_after_the_second_marking_stores_its_bytes_once_the_collection_is_over() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Arc::new(registry(dir.path(), 0, false));
        let d = push_blob(&reg, "a", b"orphan").await;
        let (task, resume) = collect_until_paused(&reg).await;
        let upload = {
            let reg = reg.clone();
            tokio::spawn(async move { push_blob(&reg, "b", b"orphan").await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        resume.notify_one();
        let report = task.await.unwrap();
        assert!(report.blobs.iter().any(|(x, _)| x == &d), "{report:?}");
        assert_eq!(upload.await.unwrap(), d);
        assert!(
            pulls_blob(&reg, "b", &d).await,
            "the upload's bytes are there"
        );
    }
}
