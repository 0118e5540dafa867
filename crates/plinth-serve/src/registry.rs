//! The registry's operations over a [`Store`], free of HTTP.
//!
//! Layout of keys (names, tags and digests are checked before they get here):
//!
//! | key | holds |
//! |---|---|
//! | `blobs/<alg>/<hex[..2]>/<hex>` | the bytes of a blob or manifest, shared by every repository |
//! | `repositories/<name>/_layers/<alg>/<hex>` | empty: the repository holds that blob |
//! | `repositories/<name>/_manifests/revisions/<alg>/<hex>` | the manifest's media type, as pushed |
//! | `repositories/<name>/_manifests/tags/<tag>` | the digest the tag points at |
//! | `repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>` | the descriptor of a manifest whose `subject` is `<alg>:<hex>` |
//! | `_uploads/<id>/info`, `_uploads/<id>/data` | an upload session and its bytes so far |
//!
//! A blob becomes visible under `blobs/` only once whole and verified; a repository's link
//! to it is written after. Names' components never start with `_`, so the store's own keys
//! cannot collide with a repository's.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{ApiError, Code};
use crate::names::valid_tag;
use crate::store::{ByteStream, Meta, Store, StoreError, Writer};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

const FOREIGN_LAYERS: [&str; 2] = [
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
];

pub(crate) fn blob_key(d: &Digest) -> String {
    format!(
        "blobs/{}/{}/{}",
        d.algorithm().name(),
        &d.hex()[..2],
        d.hex()
    )
}

pub(crate) fn link_key(repo: &str, d: &Digest) -> String {
    format!(
        "repositories/{repo}/_layers/{}/{}",
        d.algorithm().name(),
        d.hex()
    )
}

pub(crate) fn revision_key(repo: &str, d: &Digest) -> String {
    format!(
        "repositories/{repo}/_manifests/revisions/{}/{}",
        d.algorithm().name(),
        d.hex()
    )
}

fn tags_prefix(repo: &str) -> String {
    format!("repositories/{repo}/_manifests/tags")
}

fn referrers_prefix(repo: &str, subject: &Digest) -> String {
    format!(
        "repositories/{repo}/_referrers/{}/{}",
        subject.algorithm().name(),
        subject.hex()
    )
}

fn referrer_key(repo: &str, subject: &Digest, d: &Digest) -> String {
    format!(
        "{}/{}-{}",
        referrers_prefix(repo, subject),
        d.algorithm().name(),
        d.hex()
    )
}

/// What a tag-or-digest reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A tag.
    Tag(String),
    /// A digest.
    Digest(Digest),
}

impl Reference {
    /// Parses the `<reference>` of a manifest URL.
    pub fn parse(s: &str) -> Result<Reference, ApiError> {
        if s.contains(':') {
            return s
                .parse()
                .map(Reference::Digest)
                .map_err(|e| ApiError::digest_invalid(e.to_string()));
        }
        if valid_tag(s) {
            Ok(Reference::Tag(s.to_string()))
        } else {
            Err(ApiError::manifest_invalid(format!(
                "{:?} is neither a tag nor a digest",
                s.chars().take(200).collect::<String>()
            )))
        }
    }
}

/// Parses a digest a client sent, as the spec answers a bad one.
pub fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    s.parse()
        .map_err(|e: crate::digest::DigestError| ApiError::digest_invalid(e.to_string()))
}

/// The session record kept beside an upload's bytes.
#[derive(Debug, Serialize, Deserialize)]
struct UploadInfo {
    repo: String,
    algorithm: String,
    /// Seconds since the epoch of the session's start.
    started: u64,
}

/// What this process knows of an upload between requests: the hash of its bytes so far,
/// so that finishing it does not read them again. Another process (or a restart) has no
/// entry, and then the bytes are hashed when the upload finishes.
#[derive(Debug)]
struct UploadState {
    offset: u64,
    hasher: Option<Hasher>,
}

/// A stored manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Its digest.
    pub digest: Digest,
    /// The media type it was pushed with.
    pub media_type: String,
    /// Its bytes, as pushed.
    pub bytes: Bytes,
}

/// The outcome of a manifest push.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The manifest's digest.
    pub digest: Digest,
    /// Its `subject`, if it has one.
    pub subject: Option<Digest>,
    /// Tags set (from the reference and `?tag=`).
    pub tags: Vec<String>,
}

/// A registry over a store.
#[derive(Debug)]
pub struct Registry<S> {
    store: S,
    config: Config,
    uploads: Mutex<HashMap<String, Arc<tokio::sync::Mutex<UploadState>>>>,
    pub(crate) gc: crate::gc::GcState,
    metrics: crate::metrics::Metrics,
}

/// A request body: bytes as they arrive.
pub type Body = ByteStream;

impl<S: Store> Registry<S> {
    /// A registry over `store`.
    pub fn new(store: S, config: Config) -> Registry<S> {
        Registry {
            store,
            config,
            uploads: Mutex::new(HashMap::new()),
            gc: crate::gc::GcState::default(),
            metrics: crate::metrics::Metrics::new(),
        }
    }

    /// The metrics.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ---- blobs ----

    /// A blob's size, if the repository holds it.
    pub async fn blob_meta(&self, repo: &str, d: &Digest) -> Result<Meta, ApiError> {
        if self.store.head(&link_key(repo, d)).await?.is_none() {
            return Err(ApiError::blob_unknown(d));
        }
        self.store
            .head(&blob_key(d))
            .await?
            .ok_or_else(|| ApiError::blob_unknown(d))
    }

    /// A blob's bytes (or a range of them).
    pub async fn blob_read(
        &self,
        repo: &str,
        d: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<(Meta, ByteStream), ApiError> {
        if self.store.head(&link_key(repo, d)).await?.is_none() {
            return Err(ApiError::blob_unknown(d));
        }
        self.store
            .read(&blob_key(d), range)
            .await?
            .ok_or_else(|| ApiError::blob_unknown(d))
    }

    /// A blob as an open local file, if the repository holds it and the store keeps files.
    pub async fn blob_file(
        &self,
        repo: &str,
        d: &Digest,
    ) -> Result<Option<std::fs::File>, ApiError> {
        if self.store.head(&link_key(repo, d)).await?.is_none() {
            return Err(ApiError::blob_unknown(d));
        }
        Ok(self.store.open_file(&blob_key(d)).await?)
    }

    /// Removes the repository's link to a blob.
    pub async fn blob_delete(&self, repo: &str, d: &Digest) -> Result<(), ApiError> {
        if self.store.delete(&link_key(repo, d)).await? {
            Ok(())
        } else {
            Err(ApiError::blob_unknown(d))
        }
    }

    /// Mounts a blob from `from` (or from anywhere in the registry when `from` is
    /// `None`); whether it was mounted.
    pub async fn mount(
        &self,
        repo: &str,
        d: &Digest,
        from: Option<&str>,
    ) -> Result<bool, ApiError> {
        if let Some(from) = from
            && self.store.head(&link_key(from, d)).await?.is_none()
        {
            return Ok(false);
        }
        if self.store.head(&blob_key(d)).await?.is_none() {
            return Ok(false);
        }
        self.link(repo, d).await?;
        // The link first, then the blob's standing: see `gc` for why a blob the mount
        // relies on is never collected. A doomed blob is not mounted (the client uploads).
        let keys = [link_key(repo, d), blob_key(d)];
        if crate::gc::standing(&self.store, &keys).await? != crate::gc::Standing::Alive {
            self.store.delete(&link_key(repo, d)).await?;
            return Ok(false);
        }
        Ok(true)
    }

    async fn link(&self, repo: &str, d: &Digest) -> Result<(), ApiError> {
        self.store.put(&link_key(repo, d), Bytes::new()).await?;
        Ok(())
    }

    // ---- uploads ----

    /// Starts an upload session; its id.
    pub async fn upload_start(&self, repo: &str, algorithm: Algorithm) -> Result<String, ApiError> {
        let id = uuid::Uuid::new_v4().to_string();
        let info = UploadInfo {
            repo: repo.to_string(),
            algorithm: algorithm.name().to_string(),
            started: now_secs(),
        };
        self.store
            .put(
                &format!("_uploads/{id}/info"),
                Bytes::from(serde_json::to_vec(&info).unwrap_or_default()),
            )
            .await?;
        self.state(&id); // hashing starts with the first chunk
        Ok(id)
    }

    fn state(&self, id: &str) -> Arc<tokio::sync::Mutex<UploadState>> {
        let mut map = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(id.to_string())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(UploadState {
                    offset: 0,
                    hasher: None,
                }))
            })
            .clone()
    }

    fn forget(&self, id: &str) {
        self.uploads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    async fn upload_info(&self, repo: &str, id: &str) -> Result<UploadInfo, ApiError> {
        if !valid_upload_id(id) {
            return Err(ApiError::upload_unknown(id));
        }
        let bytes = self
            .store
            .get(&format!("_uploads/{id}/info"))
            .await?
            .ok_or_else(|| ApiError::upload_unknown(id))?;
        let info: UploadInfo =
            serde_json::from_slice(&bytes).map_err(|_| ApiError::upload_unknown(id))?;
        let active = self.last_activity(id, info.started).await?;
        let expired = now_secs().saturating_sub(active) > self.config.limits.upload_expiry_secs;
        if info.repo != repo || expired {
            return Err(ApiError::upload_unknown(id));
        }
        Ok(info)
    }

    /// When an upload last did something (seconds since the epoch): its start, or the
    /// last write to its bytes. Expiry counts from there, so a slow upload that keeps
    /// sending chunks is not cut off.
    async fn last_activity(&self, id: &str, started: u64) -> Result<u64, StoreError> {
        let written = self.store.upload_modified(id).await?.map_or(0, |modified| {
            modified
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs()
        });
        Ok(started.max(written))
    }

    /// The bytes an upload holds.
    pub async fn upload_status(&self, repo: &str, id: &str) -> Result<u64, ApiError> {
        self.upload_info(repo, id).await?;
        Ok(self.store.upload_size(id).await?.unwrap_or(0))
    }

    /// Appends a chunk. `range` is the request's `Content-Range` (inclusive), if given.
    /// Returns the upload's new size.
    pub async fn upload_chunk(
        &self,
        repo: &str,
        id: &str,
        range: Option<(u64, u64)>,
        body: Body,
    ) -> Result<u64, ApiError> {
        let info = self.upload_info(repo, id).await?;
        let algorithm = Algorithm::from_name(&info.algorithm).unwrap_or(Algorithm::Sha256);
        let state = self.state(id);
        let mut state = state.lock().await;
        let have = self.store.upload_size(id).await?.unwrap_or(0);
        let start = match range {
            Some((start, end)) => {
                if start != have || end < start {
                    return Err(out_of_order(have, start));
                }
                start
            }
            None => have,
        };
        if state.offset != have || (have == 0 && state.hasher.is_none()) {
            // Bytes stored by another process, or a fresh upload.
            state.hasher = (have == 0).then(|| Hasher::new(algorithm));
            state.offset = have;
        }
        let mut hasher = state.hasher.take();
        let written = match self.append(id, start, body, hasher.as_mut()).await {
            Ok(n) => n,
            Err(e) => {
                state.hasher = None;
                state.offset = u64::MAX;
                return Err(e);
            }
        };
        if let Some((start, end)) = range
            && written != end - start + 1
        {
            // The chunk is already stored; the client's range was wrong. Keep the bytes
            // (they arrived whole), report the mismatch.
            state.hasher = hasher;
            state.offset = start + written;
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::SizeInvalid,
                format!(
                    "Content-Range {start}-{end} declares {} bytes; the body held {written}",
                    end - start + 1
                ),
            ));
        }
        state.hasher = hasher;
        state.offset = start + written;
        Ok(start + written)
    }

    /// Streams a body into an upload at `offset`, hashing as it goes; all or nothing.
    async fn append(
        &self,
        id: &str,
        offset: u64,
        mut body: Body,
        mut hasher: Option<&mut Hasher>,
    ) -> Result<u64, ApiError> {
        let mut w = match self.store.upload_chunk(id, offset).await {
            Ok(w) => w,
            Err(StoreError::OutOfOrder { have, offset, .. }) => {
                return Err(out_of_order(have, offset));
            }
            Err(e) => return Err(e.into()),
        };
        let mut n = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = w.abort().await;
                    return Err(ApiError::upload_invalid(format!(
                        "the request body ended early: {e}"
                    )));
                }
            };
            if let Some(h) = hasher.as_deref_mut() {
                h.update(&chunk);
            }
            n += chunk.len() as u64;
            if let Err(e) = w.write(chunk).await {
                let _ = w.abort().await;
                return Err(e.into());
            }
        }
        w.commit().await?;
        Ok(n)
    }

    /// Finishes an upload: appends `body` (if any), checks the bytes against `digest`,
    /// and makes the blob visible in `repo`.
    pub async fn upload_finish(
        &self,
        repo: &str,
        id: &str,
        digest: &Digest,
        range: Option<(u64, u64)>,
        body: Option<Body>,
    ) -> Result<(), ApiError> {
        if let Some(body) = body {
            self.upload_chunk(repo, id, range, body).await?;
        } else {
            self.upload_info(repo, id).await?;
        }
        let state = self.state(id);
        let mut state = state.lock().await;
        let size = self.store.upload_size(id).await?.unwrap_or(0);
        let actual = match state.hasher.take() {
            Some(h) if state.offset == size && h.algorithm() == digest.algorithm() => h.finish(),
            _ => {
                let mut h = Hasher::new(digest.algorithm());
                let mut s = self.store.upload_read(id).await?;
                while let Some(chunk) = s.next().await {
                    let chunk = chunk.map_err(|e| StoreError::io("read", id, e))?;
                    h.update(&chunk);
                }
                h.finish()
            }
        };
        if &actual != digest {
            drop(state);
            self.upload_cancel_unchecked(id).await?;
            return Err(ApiError::digest_invalid(format!(
                "the upload's bytes have digest {actual}, not {digest}"
            )));
        }
        // The link first, then the blob's standing (see `gc`). While the collector is
        // about to remove the blob, wait for it to finish and promote the bytes again.
        let mut promoted = false;
        let mut attempts = 0;
        loop {
            if !promoted && self.store.head(&blob_key(digest)).await?.is_none() {
                self.store.upload_promote(id, &blob_key(digest)).await?;
                promoted = true;
            }
            self.link(repo, digest).await?;
            let keys = [link_key(repo, digest), blob_key(digest)];
            let key = match crate::gc::standing(&self.store, &keys).await? {
                crate::gc::Standing::Alive => break,
                crate::gc::Standing::Doomed(k) | crate::gc::Standing::Missing(k) => k,
            };
            self.store.delete(&link_key(repo, digest)).await?;
            attempts += 1;
            let cleared = crate::gc::wait_collected(&self.store, &key).await?;
            if !cleared
                || attempts > 3
                || (promoted && self.store.head(&blob_key(digest)).await?.is_none())
            {
                drop(state);
                self.upload_cancel_unchecked(id).await?;
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    Code::TooManyRequests,
                    format!(
                        "blob {digest} was removed by garbage collection while it was stored; upload it again"
                    ),
                ));
            }
        }
        drop(state);
        self.upload_cancel_unchecked(id).await?;
        Ok(())
    }

    /// Ends an upload session and removes its bytes.
    pub async fn upload_cancel(&self, repo: &str, id: &str) -> Result<(), ApiError> {
        self.upload_info(repo, id).await?;
        self.upload_cancel_unchecked(id).await
    }

    async fn upload_cancel_unchecked(&self, id: &str) -> Result<(), ApiError> {
        self.forget(id);
        self.store.delete_prefix(&format!("_uploads/{id}")).await?;
        Ok(())
    }

    /// Removes upload sessions older than the expiry; how many.
    pub async fn expire_uploads(&self) -> Result<usize, StoreError> {
        let expiry = self.config.limits.upload_expiry_secs;
        let mut removed = 0;
        for id in self.store.list_children("_uploads").await? {
            if !valid_upload_id(&id) {
                continue;
            }
            // Bytes without a record are a session whose start was cut short: their
            // last write counts.
            let started = match self.store.get(&format!("_uploads/{id}/info")).await? {
                Some(b) => serde_json::from_slice::<UploadInfo>(&b)
                    .map(|i| i.started)
                    .unwrap_or(0),
                None => 0,
            };
            let active = self.last_activity(&id, started).await?;
            if now_secs().saturating_sub(active) > expiry {
                self.forget(&id);
                self.store.delete_prefix(&format!("_uploads/{id}")).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    // ---- manifests ----

    async fn resolve(&self, repo: &str, reference: &Reference) -> Result<Digest, ApiError> {
        match reference {
            Reference::Digest(d) => Ok(d.clone()),
            Reference::Tag(t) => {
                let bytes = self
                    .store
                    .get(&format!("{}/{t}", tags_prefix(repo)))
                    .await?
                    .ok_or_else(|| ApiError::manifest_unknown(t))?;
                std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| ApiError::manifest_unknown(t))
            }
        }
    }

    /// A manifest by tag or digest.
    pub async fn manifest_get(
        &self,
        repo: &str,
        reference: &Reference,
    ) -> Result<Manifest, ApiError> {
        let digest = self.resolve(repo, reference).await?;
        let unknown = || ApiError::manifest_unknown(&digest.to_string());
        let media = self
            .store
            .get(&revision_key(repo, &digest))
            .await?
            .ok_or_else(unknown)?;
        let bytes = self
            .store
            .get(&blob_key(&digest))
            .await?
            .ok_or_else(unknown)?;
        Ok(Manifest {
            media_type: String::from_utf8_lossy(&media).into_owned(),
            digest,
            bytes,
        })
    }

    /// Stores a manifest under a tag or digest (and the extra `tags`).
    pub async fn manifest_put(
        &self,
        repo: &str,
        reference: &Reference,
        content_type: Option<&str>,
        bytes: Bytes,
        extra_tags: &[String],
    ) -> Result<Pushed, ApiError> {
        // Its own blob, link or revision doomed by the collector: write them again once
        // the collection is over (see `gc`).
        let mut attempts = 0;
        loop {
            let put =
                self.manifest_put_once(repo, reference, content_type, bytes.clone(), extra_tags);
            let key = match put.await? {
                Ok(pushed) => return Ok(pushed),
                Err(key) => key,
            };
            attempts += 1;
            if attempts > 3 || !crate::gc::wait_collected(&self.store, &key).await? {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    Code::TooManyRequests,
                    format!(
                        "{key} was removed by garbage collection while the manifest was stored; push it again"
                    ),
                ));
            }
        }
    }

    /// One attempt of [`Registry::manifest_put`]; `Ok(Err(key))` when `key`, one of the
    /// manifest's own objects, is being collected.
    async fn manifest_put_once(
        &self,
        repo: &str,
        reference: &Reference,
        content_type: Option<&str>,
        bytes: Bytes,
        extra_tags: &[String],
    ) -> Result<Result<Pushed, String>, ApiError> {
        let digest = match reference {
            Reference::Digest(d) => {
                let actual = Digest::of(d.algorithm(), &bytes);
                if &actual != d {
                    return Err(ApiError::digest_invalid(format!(
                        "the manifest's digest is {actual}, not {d}"
                    )));
                }
                actual
            }
            Reference::Tag(_) => Digest::of(Algorithm::Sha256, &bytes),
        };
        let checked = check_manifest(&bytes, content_type)?;
        // Every blob and child manifest it names must be in this repository.
        let mut missing = Vec::new();
        for d in &checked.blobs {
            if self.store.head(&link_key(repo, d)).await?.is_none()
                || self.store.head(&blob_key(d)).await?.is_none()
            {
                missing.push(d.to_string());
            }
        }
        for d in &checked.manifests {
            if self.store.head(&revision_key(repo, d)).await?.is_none() {
                missing.push(d.to_string());
            }
        }
        if !missing.is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::ManifestBlobUnknown,
                format!(
                    "the manifest names {} not in this repository: {}",
                    plural(missing.len()),
                    missing.join(", ")
                ),
            )
            .with_detail(serde_json::json!({ "digests": missing })));
        }
        let mut tags: Vec<String> = Vec::new();
        if let Reference::Tag(t) = reference {
            tags.push(t.clone());
        }
        for t in extra_tags {
            if !valid_tag(t) {
                return Err(ApiError::manifest_invalid(format!("invalid tag {t:?}")));
            }
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        let size = bytes.len() as u64;
        let had_revision = self
            .store
            .head(&revision_key(repo, &digest))
            .await?
            .is_some();
        let mut old_tags = Vec::new();
        for t in &tags {
            old_tags.push(
                self.store
                    .get(&format!("{}/{t}", tags_prefix(repo)))
                    .await?,
            );
        }
        if self.store.head(&blob_key(&digest)).await?.is_none() {
            self.store.put(&blob_key(&digest), bytes).await?;
        }
        self.link(repo, &digest).await?;
        self.store
            .put(
                &revision_key(repo, &digest),
                Bytes::from(checked.media_type.clone()),
            )
            .await?;
        if let Some(subject) = &checked.subject {
            let mut desc = Map::new();
            desc.insert("mediaType".into(), Value::from(checked.media_type.clone()));
            desc.insert("digest".into(), Value::from(digest.to_string()));
            desc.insert("size".into(), Value::from(size));
            if let Some(at) = &checked.artifact_type {
                desc.insert("artifactType".into(), Value::from(at.clone()));
            }
            if let Some(a) = &checked.annotations {
                desc.insert("annotations".into(), a.clone());
            }
            self.store
                .put(
                    &referrer_key(repo, subject, &digest),
                    Bytes::from(Value::Object(desc).to_string()),
                )
                .await?;
        }
        for t in &tags {
            self.store
                .put(
                    &format!("{}/{t}", tags_prefix(repo)),
                    Bytes::from(digest.to_string()),
                )
                .await?;
        }
        // What the manifest relies on, checked once all is written, tags included (see
        // `gc` for why nothing it relies on is then collected).
        let own = [
            revision_key(repo, &digest),
            link_key(repo, &digest),
            blob_key(&digest),
        ];
        let failed = match crate::gc::standing(&self.store, &own).await? {
            crate::gc::Standing::Alive => None,
            crate::gc::Standing::Doomed(k) | crate::gc::Standing::Missing(k) => Some(Err(k)),
        };
        let mut relied = Vec::new();
        for d in &checked.blobs {
            relied.push((link_key(repo, d), d));
            relied.push((blob_key(d), d));
        }
        for d in &checked.manifests {
            relied.push((revision_key(repo, d), d));
            relied.push((blob_key(d), d));
        }
        let keys: Vec<String> = relied.iter().map(|(k, _)| k.clone()).collect();
        let failed = match failed {
            Some(f) => Some(f),
            None => {
                match crate::gc::standing(&self.store, &keys).await? {
                    crate::gc::Standing::Alive => None,
                    crate::gc::Standing::Doomed(k) | crate::gc::Standing::Missing(k) => {
                        let d = relied
                            .iter()
                            .find(|(r, _)| *r == k)
                            .map_or(k.clone(), |(_, d)| d.to_string());
                        Some(Ok(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        Code::ManifestBlobUnknown,
                        format!("the manifest names {d}, which is being removed from this repository"),
                    )
                    .with_detail(serde_json::json!({ "digests": [d] }))))
                    }
                }
            }
        };
        if let Some(failed) = failed {
            // Undo what this attempt changed.
            for (t, old) in tags.iter().zip(old_tags) {
                let key = format!("{}/{t}", tags_prefix(repo));
                match old {
                    Some(b) => self.store.put(&key, b).await?,
                    None => {
                        self.store.delete(&key).await?;
                    }
                }
            }
            if !had_revision {
                if let Some(subject) = &checked.subject {
                    self.store
                        .delete(&referrer_key(repo, subject, &digest))
                        .await?;
                }
                self.store.delete(&revision_key(repo, &digest)).await?;
            }
            return match failed {
                Ok(e) => Err(e),
                Err(key) => Ok(Err(key)),
            };
        }
        Ok(Ok(Pushed {
            digest,
            subject: checked.subject,
            tags,
        }))
    }

    /// Deletes a tag, or a manifest (with the tags that point at it).
    pub async fn manifest_delete(&self, repo: &str, reference: &Reference) -> Result<(), ApiError> {
        match reference {
            Reference::Tag(t) => {
                if self
                    .store
                    .delete(&format!("{}/{t}", tags_prefix(repo)))
                    .await?
                {
                    Ok(())
                } else {
                    Err(ApiError::manifest_unknown(t))
                }
            }
            Reference::Digest(d) => {
                let m = self.manifest_get(repo, reference).await?;
                if let Ok(checked) = check_manifest(&m.bytes, Some(&m.media_type))
                    && let Some(subject) = checked.subject
                {
                    self.store.delete(&referrer_key(repo, &subject, d)).await?;
                }
                for t in self.tags(repo).await.unwrap_or_default() {
                    let key = format!("{}/{t}", tags_prefix(repo));
                    if let Some(b) = self.store.get(&key).await?
                        && b.as_ref() == d.to_string().as_bytes()
                    {
                        self.store.delete(&key).await?;
                    }
                }
                self.store.delete(&revision_key(repo, d)).await?;
                Ok(())
            }
        }
    }

    /// Whether the repository exists.
    pub async fn repo_exists(&self, repo: &str) -> Result<bool, ApiError> {
        Ok(self
            .store
            .exists_prefix(&format!("repositories/{repo}"))
            .await?)
    }

    /// The repository's tags, sorted.
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>, ApiError> {
        if !self.repo_exists(repo).await? {
            return Err(ApiError::name_unknown(repo));
        }
        let mut tags: Vec<String> = self
            .store
            .list_children(&tags_prefix(repo))
            .await?
            .into_iter()
            .filter(|t| valid_tag(t))
            .collect();
        tags.sort();
        Ok(tags)
    }

    /// The descriptors of the manifests whose `subject` is `subject`, sorted by digest,
    /// only those of `artifact_type` when given.
    pub async fn referrers(
        &self,
        repo: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let prefix = referrers_prefix(repo, subject);
        let mut out = Vec::new();
        for name in self.store.list_children(&prefix).await? {
            let Some(bytes) = self.store.get(&format!("{prefix}/{name}")).await? else {
                continue;
            };
            let Ok(desc) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            // A referrer whose manifest was deleted is not listed.
            let Some(d) = desc["digest"]
                .as_str()
                .and_then(|s| s.parse::<Digest>().ok())
            else {
                continue;
            };
            if self.store.head(&revision_key(repo, &d)).await?.is_none() {
                continue;
            }
            if let Some(at) = artifact_type
                && desc["artifactType"].as_str() != Some(at)
            {
                continue;
            }
            out.push(desc);
        }
        out.sort_by(|a, b| a["digest"].as_str().cmp(&b["digest"].as_str()));
        Ok(out)
    }

    /// Every repository with at least one manifest, sorted.
    pub async fn catalog(&self) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        let mut stack = vec![String::new()];
        while let Some(prefix) = stack.pop() {
            let dir = if prefix.is_empty() {
                "repositories".to_string()
            } else {
                format!("repositories/{prefix}")
            };
            for child in self.store.list_children(&dir).await? {
                if child == "_manifests" {
                    out.push(prefix.clone());
                } else if !child.starts_with('_') && crate::names::valid_name(&child) {
                    let name = if prefix.is_empty() {
                        child
                    } else {
                        format!("{prefix}/{child}")
                    };
                    if name.len() <= crate::names::MAX_NAME {
                        stack.push(name);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

fn plural(n: usize) -> String {
    if n == 1 {
        "a blob or manifest".to_string()
    } else {
        format!("{n} blobs or manifests")
    }
}

fn out_of_order(have: u64, start: u64) -> ApiError {
    ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        Code::BlobUploadInvalid,
        format!("the upload holds {have} bytes; a chunk starting at {start} is out of order"),
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

/// Upload ids are UUIDs this server made; anything else is unknown (and never reaches a
/// storage key).
fn valid_upload_id(id: &str) -> bool {
    uuid::Uuid::try_parse(id).is_ok() && id.len() == 36
}

/// What a manifest says, once checked.
#[derive(Debug)]
pub(crate) struct Checked {
    media_type: String,
    pub(crate) blobs: Vec<Digest>,
    pub(crate) manifests: Vec<Digest>,
    pub(crate) subject: Option<Digest>,
    artifact_type: Option<String>,
    annotations: Option<Value>,
}

fn descriptor_digest(v: &Value, what: &str) -> Result<Digest, ApiError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::manifest_invalid(format!("{what} is not a descriptor")))?;
    if !obj.get("mediaType").is_some_and(Value::is_string) {
        return Err(ApiError::manifest_invalid(format!(
            "{what} has no mediaType"
        )));
    }
    if obj.get("size").is_none_or(|s| s.as_u64().is_none()) {
        return Err(ApiError::manifest_invalid(format!(
            "{what} has no valid size"
        )));
    }
    let d = obj
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::manifest_invalid(format!("{what} has no digest")))?;
    d.parse()
        .map_err(|e: crate::digest::DigestError| ApiError::manifest_invalid(format!("{what}: {e}")))
}

/// Checks a manifest's shape and collects what it references.
pub(crate) fn check_manifest(
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<Checked, ApiError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::manifest_invalid(format!("the manifest is not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::manifest_invalid("the manifest is not a JSON object"))?;
    if obj.get("schemaVersion").and_then(Value::as_u64) != Some(2) {
        return Err(ApiError::manifest_invalid("schemaVersion must be 2"));
    }
    let content_type = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty());
    let body_type = obj.get("mediaType").and_then(Value::as_str);
    if let (Some(c), Some(b)) = (content_type, body_type)
        && c != b
    {
        return Err(ApiError::manifest_invalid(format!(
            "Content-Type {c} differs from the manifest's mediaType {b}"
        )));
    }
    let media_type = match body_type.or(content_type) {
        Some(m) => m.to_string(),
        None if obj.contains_key("manifests") => OCI_INDEX.to_string(),
        None => OCI_MANIFEST.to_string(),
    };
    let mut checked = Checked {
        media_type: media_type.clone(),
        blobs: Vec::new(),
        manifests: Vec::new(),
        subject: None,
        artifact_type: obj
            .get("artifactType")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        annotations: obj.get("annotations").filter(|a| a.is_object()).cloned(),
    };
    match media_type.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let config = obj
                .get("config")
                .ok_or_else(|| ApiError::manifest_invalid("the manifest has no config"))?;
            checked.blobs.push(descriptor_digest(config, "config")?);
            if checked.artifact_type.is_none() {
                checked.artifact_type = config["mediaType"].as_str().map(str::to_string);
            }
            let layers = match obj.get("layers") {
                Some(Value::Array(l)) => l.as_slice(),
                None if media_type == OCI_MANIFEST => &[],
                _ => return Err(ApiError::manifest_invalid("layers is not a list")),
            };
            for (i, l) in layers.iter().enumerate() {
                let d = descriptor_digest(l, &format!("layer {i}"))?;
                let foreign = l["mediaType"]
                    .as_str()
                    .is_some_and(|m| FOREIGN_LAYERS.contains(&m))
                    || l["urls"].as_array().is_some_and(|u| !u.is_empty());
                if !foreign {
                    checked.blobs.push(d);
                }
            }
        }
        OCI_INDEX | DOCKER_LIST => {
            let manifests = obj
                .get("manifests")
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError::manifest_invalid("the index has no manifests list"))?;
            for (i, m) in manifests.iter().enumerate() {
                checked
                    .manifests
                    .push(descriptor_digest(m, &format!("manifest {i}"))?);
            }
        }
        other => {
            return Err(ApiError::manifest_invalid(format!(
                "unsupported manifest media type {other}"
            )));
        }
    }
    if let Some(s) = obj.get("subject") {
        checked.subject = Some(descriptor_digest(s, "subject")?);
    }
    Ok(checked)
}

/// Reads a whole body of at most `max` bytes; `None` when it is longer.
pub async fn read_capped(mut body: Body, max: u64) -> Result<Option<Bytes>, std::io::Error> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if buf.len() as u64 + chunk.len() as u64 > max {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Some(buf.freeze()))
}

#[cfg(test)]
mod keys_tests;
