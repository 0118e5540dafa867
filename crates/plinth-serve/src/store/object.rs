//! The S3-compatible backend, over the `object_store` crate (Apache Arrow's), with the
//! same keys as the file-system backend (the registry builds them).
//!
//! - A [`Writer`] buffers up to one part ([`PART`]); a smaller object is one PUT on
//!   commit, a larger one a multipart upload whose parts stream out as the bytes arrive
//!   (at most [`PARTS_IN_FLIGHT`] at once, so memory stays flat whatever the blob's size).
//!   S3 shows nothing of a multipart upload until it is completed, so an object appears
//!   whole or not at all. Abort, failure or drop aborts the upload; a killed process leaves
//!   an incomplete multipart upload, invisible, that a bucket lifecycle rule removes
//!   (docs/serve.md says how).
//! - An upload's bytes are one object per chunk, `_uploads/<id>/chunks/<offset, 20
//!   digits>.<random>`: a chunk is visible only once whole, and the upload's size is the
//!   sum of its chunks, which must follow on from one another. Any process on the bucket
//!   can take the next chunk, or finish the upload: the bucket is all that instances share.
//!   The random part keeps two chunks sent at once to two processes for the same offset
//!   from replacing one another: both stay, they overlap, and the upload is refused. (Were
//!   the later to replace the earlier, the process that received the earlier, holding its
//!   hash, could finish the upload with bytes that do not match the digest.)
//! - Finishing an upload copies a single chunk server-side, or streams several chunks into
//!   one multipart object, then removes them.

use std::fmt;
use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig, WriteMultipart,
};
use serde::Deserialize;

use super::{ByteStream, Meta, Result, Store, StoreError, Writer};

/// Size of a multipart upload's parts, and the most a writer buffers before it starts one
/// (S3 wants parts of 5 MiB at least, the last one excepted).
pub const PART: usize = 8 << 20;
/// Parts of one writer being sent at once.
pub const PARTS_IN_FLIGHT: usize = 2;
/// The largest object S3 copies in one request; a larger chunk is streamed instead.
const MAX_COPY: u64 = 5 << 30;

/// `[storage] type = "s3"`: a bucket of an S3-compatible object store.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The endpoint URL (`https://…`, or `http://…` with `allow_http`); AWS's endpoint for
    /// the region when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The region.
    #[serde(default = "default_region")]
    pub region: String,
    /// A prefix of every key (`registry/` keeps the registry under `registry/` in the
    /// bucket); none by default.
    #[serde(default)]
    pub prefix: String,
    /// The access key id (else `AWS_ACCESS_KEY_ID`).
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// The secret access key (else `AWS_SECRET_ACCESS_KEY`).
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// Whether a plain-HTTP endpoint is allowed.
    #[serde(default)]
    pub allow_http: bool,
    /// Virtual-hosted-style requests (`bucket.endpoint/key`) instead of path-style
    /// (`endpoint/bucket/key`).
    #[serde(default)]
    pub virtual_hosted_style: bool,
}

fn default_region() -> String {
    "us-east-1".to_string()
}

/// Never prints the secret.
impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "(set)"),
            )
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .finish()
    }
}

impl S3Config {
    /// `s3://bucket/prefix` (for the start-up line).
    pub fn describe(&self) -> String {
        let prefix = self.prefix.trim_matches('/');
        match &self.endpoint {
            Some(e) => format!("s3://{}/{prefix} at {e}", self.bucket),
            None => format!("s3://{}/{prefix}", self.bucket),
        }
    }
}

/// A registry's objects in a bucket (or any [`ObjectStore`]).
#[derive(Debug, Clone)]
pub struct ObjectBackend {
    store: Arc<dyn ObjectStore>,
    /// Key prefix without slashes at either end; may be empty.
    prefix: String,
    /// `s3://bucket/prefix`, for errors about the whole store.
    name: String,
}

fn backend(op: &'static str, key: &str, source: object_store::Error) -> StoreError {
    StoreError::Object {
        op,
        key: key.to_string(),
        source: Box::new(source),
    }
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

fn meta_of(m: &ObjectMeta) -> Meta {
    Meta {
        size: m.size,
        modified: SystemTime::from(m.last_modified),
    }
}

impl ObjectBackend {
    /// The bucket the configuration names. Nothing is sent yet ([`ObjectBackend::check`]
    /// does).
    pub fn open(config: &S3Config) -> Result<ObjectBackend> {
        // reqwest is built without a TLS crypto provider of its own (see the workspace
        // Cargo.toml): use rustls' ring provider. An error means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_allow_http(config.allow_http)
            .with_virtual_hosted_style_request(config.virtual_hosted_style)
            // A request that failed is tried again a few times (about 3 s of back-off in
            // all), not object_store's default of 10 times over 3 minutes: a client waits
            // on the other end, and an unreachable bucket at start is an error at once.
            .with_retry(RetryConfig {
                max_retries: 4,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(config.allow_http)
                    // A blob GET streams for as long as the client reads: no limit on a
                    // whole request, only on a read that stalls.
                    .with_timeout_disabled()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_read_timeout(Duration::from_secs(60)),
            );
        if let Some(e) = &config.endpoint {
            // The URL crate is built without IDNA mapping (see `idna_adapter` in the
            // workspace Cargo.toml): a host name in Unicode is refused here, by name,
            // rather than by the first request; its ASCII (`xn--`) form works.
            reqwest::Url::parse(e).map_err(|err| {
                StoreError::Backend(format!(
                    "the endpoint {e:?} is not a URL ({err}); write a host name in its ASCII \
                     form (xn--...)"
                ))
            })?;
            b = b.with_endpoint(e);
        }
        if let Some(k) = config
            .access_key_id
            .clone()
            .or_else(|| env("AWS_ACCESS_KEY_ID"))
        {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = config
            .secret_access_key
            .clone()
            .or_else(|| env("AWS_SECRET_ACCESS_KEY"))
        {
            b = b.with_secret_access_key(s);
        }
        let store = b
            .build()
            .map_err(|e| backend("open", &format!("bucket {}", config.bucket), e))?;
        let mut backend = ObjectBackend::new(Arc::new(store), &config.prefix);
        backend.name = format!("s3://{}/{}", config.bucket, backend.prefix);
        Ok(backend)
    }

    /// A backend over any object store, its keys under `prefix`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> ObjectBackend {
        let prefix = prefix.trim_matches('/').to_string();
        ObjectBackend {
            name: format!("{store}/{prefix}"),
            store,
            prefix,
        }
    }

    /// Lists the top of the registry once: fails when the bucket cannot be reached, does
    /// not exist or refuses the credentials.
    pub async fn check(&self) -> Result<()> {
        let top = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        self.store
            .list_with_delimiter(top.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| backend("list", &self.name, e))
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(key)
        } else {
            Path::from(format!("{}/{key}", self.prefix))
        }
    }

    /// The registry key of a listed location.
    fn key_of(&self, p: &Path) -> String {
        let s = p.as_ref();
        if self.prefix.is_empty() {
            return s.to_string();
        }
        s.strip_prefix(&self.prefix)
            .and_then(|r| r.strip_prefix('/'))
            .unwrap_or(s)
            .to_string()
    }

    fn chunk_key(id: &str, offset: u64) -> String {
        let unique = uuid::Uuid::new_v4().simple();
        format!("_uploads/{id}/chunks/{offset:020}.{unique}")
    }

    /// An upload's chunks in order, as (offset, size, key), checked to follow on from one
    /// another; and the upload's size.
    async fn chunks(&self, id: &str) -> Result<(Vec<(u64, u64, String)>, u64)> {
        let dir = format!("_uploads/{id}/chunks");
        let mut chunks = Vec::new();
        for (key, meta) in self.list(&dir).await? {
            let Some(offset) = key
                .rsplit('/')
                .next()
                .and_then(|name| name.split('.').next())
                .and_then(|offset| offset.parse::<u64>().ok())
            else {
                continue;
            };
            chunks.push((offset, meta.size, key));
        }
        chunks.sort();
        let mut at = 0u64;
        for (offset, size, _) in &chunks {
            if *offset != at {
                return Err(StoreError::Backend(format!(
                    "upload {id}: its chunks do not follow on (one starts at {offset}, \
                     the ones before end at {at}): chunks sent at once for one offset?"
                )));
            }
            at += size;
        }
        Ok((chunks, at))
    }

    fn object_writer(&self, key: &str) -> ObjectWriter {
        ObjectWriter {
            store: self.store.clone(),
            path: self.path(key),
            key: key.to_string(),
            buffer: Vec::new(),
            buffered: 0,
            multipart: None,
        }
    }
}

/// Bytes on their way to one object: buffered up to [`PART`], then a multipart upload.
pub struct ObjectWriter {
    store: Arc<dyn ObjectStore>,
    path: Path,
    key: String,
    buffer: Vec<Bytes>,
    buffered: usize,
    multipart: Option<WriteMultipart>,
}

impl fmt::Debug for ObjectWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectWriter")
            .field("key", &self.key)
            .field("multipart", &self.multipart.is_some())
            .finish()
    }
}

/// Dropped before commit or abort (a panic, a cancelled task): the multipart upload, if
/// one was started, is aborted in the background so that its parts do not linger.
impl Drop for ObjectWriter {
    fn drop(&mut self) {
        if let Some(mp) = self.multipart.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = mp.abort().await;
            });
        }
    }
}

impl Writer for ObjectWriter {
    async fn write(&mut self, bytes: Bytes) -> Result<()> {
        if let Some(mp) = self.multipart.as_mut() {
            // Back-pressure: no more than PARTS_IN_FLIGHT parts (and one filling) in memory.
            mp.wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(|e| backend("write", &self.key, e))?;
            mp.put(bytes);
            return Ok(());
        }
        self.buffered += bytes.len();
        self.buffer.push(bytes);
        if self.buffered >= PART {
            let upload = self
                .store
                .put_multipart(&self.path)
                .await
                .map_err(|e| backend("start upload of", &self.key, e))?;
            let mut mp = WriteMultipart::new_with_chunk_size(upload, PART);
            for b in self.buffer.drain(..) {
                mp.put(b);
            }
            self.buffered = 0;
            self.multipart = Some(mp);
        }
        Ok(())
    }

    async fn commit(mut self) -> Result<()> {
        match self.multipart.take() {
            // `finish` aborts the upload itself when it fails.
            Some(mp) => mp
                .finish()
                .await
                .map(|_| ())
                .map_err(|e| backend("complete upload of", &self.key, e)),
            None => {
                let payload: PutPayload = std::mem::take(&mut self.buffer).into_iter().collect();
                self.store
                    .put(&self.path, payload)
                    .await
                    .map(|_| ())
                    .map_err(|e| backend("put", &self.key, e))
            }
        }
    }

    async fn abort(mut self) -> Result<()> {
        self.buffer.clear();
        match self.multipart.take() {
            Some(mp) => mp
                .abort()
                .await
                .map_err(|e| backend("abort upload of", &self.key, e)),
            None => Ok(()),
        }
    }
}

fn io_error(e: object_store::Error) -> io::Error {
    io::Error::other(e)
}

impl Store for ObjectBackend {
    type Writer = ObjectWriter;

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let got = match self.store.get(&self.path(key)).await {
            Ok(g) => g,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(backend("get", key, e)),
        };
        match got.bytes().await {
            Ok(b) => Ok(Some(b)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(backend("get", key, e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<Meta>> {
        match self.store.head(&self.path(key)).await {
            Ok(m) => Ok(Some(meta_of(&m))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(backend("head", key, e)),
        }
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        self.store
            .put(&self.path(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| backend("put", key, e))
    }

    /// S3 answers a DELETE of a missing key as of one that existed: this asks first, so
    /// two deletes racing may both say "existed".
    async fn delete(&self, key: &str) -> Result<bool> {
        if self.head(key).await?.is_none() {
            return Ok(false);
        }
        match self.store.delete(&self.path(key)).await {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(backend("delete", key, e)),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        let locations = self
            .store
            .list(Some(&self.path(prefix)))
            .map_ok(|m| m.location)
            .boxed();
        let mut deleted = self.store.delete_stream(locations);
        while let Some(r) = deleted.next().await {
            match r {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(backend("delete", prefix, e)),
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, Meta)>> {
        self.store
            .list(Some(&self.path(prefix)))
            .map_ok(|m| (self.key_of(&m.location), meta_of(&m)))
            .try_collect()
            .await
            .map_err(|e| backend("list", prefix, e))
    }

    async fn list_children(&self, prefix: &str) -> Result<Vec<String>> {
        let listed = self
            .store
            .list_with_delimiter(Some(&self.path(prefix)))
            .await
            .map_err(|e| backend("list", prefix, e))?;
        Ok(listed
            .common_prefixes
            .iter()
            .chain(listed.objects.iter().map(|m| &m.location))
            .filter_map(|p| p.filename().map(str::to_string))
            .collect())
    }

    async fn exists_prefix(&self, prefix: &str) -> Result<bool> {
        match self.store.list(Some(&self.path(prefix))).next().await {
            None => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(backend("list", prefix, e)),
        }
    }

    async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<Option<(Meta, ByteStream)>> {
        // S3 cannot serve an empty range: ask for the meta only.
        if let Some(r) = &range
            && r.start >= r.end
        {
            return Ok(self
                .head(key)
                .await?
                .map(|m| (m, Box::pin(futures_util::stream::empty()) as ByteStream)));
        }
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        match self.store.get_opts(&self.path(key), options).await {
            Ok(got) => {
                let meta = meta_of(&got.meta);
                let stream = got.into_stream().map_err(io_error);
                Ok(Some((meta, Box::pin(stream))))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(backend("get", key, e)),
        }
    }

    async fn writer(&self, key: &str) -> Result<ObjectWriter> {
        Ok(self.object_writer(key))
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>> {
        let (chunks, size) = self.chunks(id).await?;
        Ok((!chunks.is_empty()).then_some(size))
    }

    /// The time of the upload's newest chunk.
    async fn upload_modified(&self, id: &str) -> Result<Option<SystemTime>> {
        let chunks = self.list(&format!("_uploads/{id}/chunks")).await?;
        Ok(chunks.into_iter().map(|(_, m)| m.modified).max())
    }

    async fn upload_chunk(&self, id: &str, offset: u64) -> Result<ObjectWriter> {
        let (_, have) = self.chunks(id).await?;
        if have != offset {
            return Err(StoreError::OutOfOrder {
                id: id.to_string(),
                have,
                offset,
            });
        }
        Ok(self.object_writer(&Self::chunk_key(id, offset)))
    }

    async fn upload_read(&self, id: &str) -> Result<ByteStream> {
        let (chunks, _) = self.chunks(id).await?;
        let store = self.store.clone();
        let paths: Vec<Path> = chunks.iter().map(|(_, _, k)| self.path(k)).collect();
        // One chunk open at a time, each streamed as it arrives.
        let stream = futures_util::stream::iter(paths)
            .then(move |p| {
                let store = store.clone();
                async move {
                    let got = store.get(&p).await.map_err(io_error)?;
                    Ok::<_, io::Error>(got.into_stream().map_err(io_error))
                }
            })
            .try_flatten();
        Ok(Box::pin(stream))
    }

    async fn upload_promote(&self, id: &str, key: &str) -> Result<()> {
        let (chunks, _) = self.chunks(id).await?;
        match chunks.as_slice() {
            [] => self.put(key, Bytes::new()).await?,
            [(_, size, chunk)] if *size <= MAX_COPY => self
                .store
                .copy(&self.path(chunk), &self.path(key))
                .await
                .map_err(|e| backend("copy", chunk, e))?,
            _ => {
                let mut w = self.object_writer(key);
                let mut bytes = self.upload_read(id).await?;
                while let Some(b) = bytes.next().await {
                    let b = match b {
                        Ok(b) => b,
                        Err(e) => {
                            let _ = w.abort().await;
                            return Err(StoreError::io("read", &format!("upload {id}"), e));
                        }
                    };
                    if let Err(e) = w.write(b).await {
                        let _ = w.abort().await;
                        return Err(e);
                    }
                }
                w.commit().await?;
            }
        }
        self.delete_prefix(&format!("_uploads/{id}/chunks")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn store() -> ObjectBackend {
        ObjectBackend::new(Arc::new(InMemory::new()), "/reg/")
    }

    async fn collect(mut s: ByteStream) -> Vec<u8> {
        let mut v = Vec::new();
        while let Some(b) = s.next().await {
            v.extend_from_slice(&b.unwrap());
        }
        v
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_object_is_invisible_until_committed_small_or_multipart() {
        let s = store();
        for size in [5, PART + PART / 2 + 3] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut w = s.writer("a/b").await.unwrap();
            for piece in data.chunks(100_000) {
                w.write(Bytes::copy_from_slice(piece)).await.unwrap();
            }
            assert!(s.head("a/b").await.unwrap().is_none());
            w.commit().await.unwrap();
            assert_eq!(s.get("a/b").await.unwrap().unwrap().len(), size);
            let (m, st) = s.read("a/b", Some(1..3)).await.unwrap().unwrap();
            assert_eq!(m.size, size as u64);
            assert_eq!(collect(st).await, &data[1..3]);
            assert!(s.delete("a/b").await.unwrap());
            assert!(!s.delete("a/b").await.unwrap());
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_aborted_or_dropped_writer_leaves_nothing() {
        let s = store();
        let mut w = s.writer("x").await.unwrap();
        w.write(Bytes::from(vec![1u8; PART + 1])).await.unwrap();
        w.abort().await.unwrap();
        let mut w = s.writer("x").await.unwrap();
        w.write(Bytes::from(vec![1u8; PART + 1])).await.unwrap();
        drop(w);
        assert!(s.head("x").await.unwrap().is_none());
        assert!(s.list("").await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn upload_chunks_follow_on_and_promote_into_one_object() {
        let s = store();
        assert_eq!(s.upload_size("u").await.unwrap(), None);
        let mut w = s.upload_chunk("u", 0).await.unwrap();
        w.write(Bytes::from_static(b"abc")).await.unwrap();
        w.commit().await.unwrap();
        assert!(matches!(
            s.upload_chunk("u", 1).await,
            Err(StoreError::OutOfOrder { have: 3, .. })
        ));
        let mut w = s.upload_chunk("u", 3).await.unwrap();
        w.write(Bytes::from_static(b"zzzz")).await.unwrap();
        w.abort().await.unwrap();
        assert_eq!(s.upload_size("u").await.unwrap(), Some(3));
        let mut w = s.upload_chunk("u", 3).await.unwrap();
        w.write(Bytes::from_static(b"defg")).await.unwrap();
        w.commit().await.unwrap();
        assert_eq!(s.upload_size("u").await.unwrap(), Some(7));
        assert!(s.upload_modified("u").await.unwrap().is_some());
        assert!(s.upload_modified("none").await.unwrap().is_none());
        assert_eq!(collect(s.upload_read("u").await.unwrap()).await, b"abcdefg");
        s.upload_promote("u", "blobs/x").await.unwrap();
        assert_eq!(&s.get("blobs/x").await.unwrap().unwrap()[..], b"abcdefg");
        assert!(!s.exists_prefix("_uploads/u").await.unwrap());
        // A single chunk is copied; no chunk at all is an empty blob.
        let mut w = s.upload_chunk("v", 0).await.unwrap();
        w.write(Bytes::from_static(b"one")).await.unwrap();
        w.commit().await.unwrap();
        s.upload_promote("v", "blobs/y").await.unwrap();
        assert_eq!(&s.get("blobs/y").await.unwrap().unwrap()[..], b"one");
        s.upload_promote("w", "blobs/z").await.unwrap();
        assert_eq!(s.head("blobs/z").await.unwrap().unwrap().size, 0);
    }

    /// Two processes that both accepted a chunk at the same offset (each checked the size
    /// before the other committed) both keep theirs: the upload is refused, not finished
    /// with whichever was stored last.
    #[tokio::test(flavor = "multi_thread")]
    async fn chunks_written_at_once_for_one_offset_make_the_upload_fail_not_swap_bytes() {
        let s = store();
        let mut a = s.upload_chunk("u", 0).await.unwrap();
        let mut b = s.upload_chunk("u", 0).await.unwrap();
        a.write(Bytes::from_static(b"good")).await.unwrap();
        b.write(Bytes::from_static(b"evil")).await.unwrap();
        a.commit().await.unwrap();
        b.commit().await.unwrap();
        assert!(s.upload_size("u").await.is_err());
        assert!(s.upload_read("u").await.is_err());
        assert!(s.upload_promote("u", "blobs/q").await.is_err());
        assert!(s.head("blobs/q").await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_gap_between_chunks_is_an_error_not_a_short_blob() {
        let s = store();
        s.put(
            "_uploads/u/chunks/00000000000000000000",
            Bytes::from_static(b"ab"),
        )
        .await
        .unwrap();
        s.put(
            "_uploads/u/chunks/00000000000000000005",
            Bytes::from_static(b"cd"),
        )
        .await
        .unwrap();
        assert!(s.upload_size("u").await.is_err());
        assert!(s.upload_promote("u", "blobs/q").await.is_err());
        assert!(s.head("blobs/q").await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn keys_live_under_the_prefix_and_list_without_it() {
        let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let s = ObjectBackend::new(inner.clone(), "reg");
        s.put(
            "repositories/a/_manifests/tags/latest",
            Bytes::from_static(b"d"),
        )
        .await
        .unwrap();
        s.put("repositories/b/_layers/sha256/00", Bytes::new())
            .await
            .unwrap();
        assert!(
            inner
                .head(&Path::from("reg/repositories/a/_manifests/tags/latest"))
                .await
                .is_ok()
        );
        let mut children = s.list_children("repositories").await.unwrap();
        children.sort();
        assert_eq!(children, ["a", "b"]);
        let listed = s.list("repositories/a").await.unwrap();
        assert_eq!(listed[0].0, "repositories/a/_manifests/tags/latest");
        assert!(s.exists_prefix("repositories/b").await.unwrap());
        s.delete_prefix("repositories").await.unwrap();
        assert!(!s.exists_prefix("repositories").await.unwrap());
        assert_eq!(s.get("nothing").await.unwrap(), None);
    }

    /// docs/serve.md's S3 example is a configuration this schema reads, with every key of
    /// [`S3Config`] (`deny_unknown_fields`: a documented key that does not exist fails).
    #[test]
    fn the_documented_s3_section_parses_and_names_every_key() {
        let doc = include_str!("../../../../docs/serve.md");
        let section = doc
            .split("## S3-compatible object storage")
            .nth(1)
            .expect("docs/serve.md has its S3 section");
        let block = section
            .split("```text\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("the S3 section has its example");
        let c: crate::Config = toml::from_str(block).unwrap();
        let crate::StorageConfig::S3(s3) = &c.storage else {
            panic!("not s3: {c:?}")
        };
        assert_eq!(s3.region, "us-east-1");
        for key in [
            "bucket",
            "endpoint",
            "region",
            "prefix",
            "access_key_id",
            "secret_access_key",
            "allow_http",
            "virtual_hosted_style",
        ] {
            assert!(
                block.contains(&format!("\n{key} = ")),
                "{key} is not documented"
            );
        }
    }

    #[tokio::test]
    async fn an_endpoint_with_a_unicode_host_name_is_refused_by_name_and_its_ascii_form_opens() {
        let config = |endpoint: &str| S3Config {
            bucket: "reg".into(),
            endpoint: Some(endpoint.into()),
            region: "us-east-1".into(),
            prefix: String::new(),
            access_key_id: Some("K".into()),
            secret_access_key: Some("S".into()),
            allow_http: false,
            virtual_hosted_style: false,
        };
        let err = ObjectBackend::open(&config("https://b\u{fc}cher.example"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("b\u{fc}cher.example") && err.contains("xn--"),
            "{err}"
        );
        ObjectBackend::open(&config("https://xn--bcher-kva.example")).unwrap();
        ObjectBackend::open(&config("https://S3.Example.COM:9000")).unwrap();
    }

    #[test]
    fn the_s3_section_reads_every_key_and_hides_the_secret() {
        let c: crate::Config = toml::from_str(
            r#"
[storage]
type = "s3"
bucket = "reg"
endpoint = "http://127.0.0.1:8333"
prefix = "a/b"
access_key_id = "K"
secret_access_key = "S3CR3T"
allow_http = true
virtual_hosted_style = true
"#,
        )
        .unwrap();
        let crate::StorageConfig::S3(s3) = &c.storage else {
            panic!("not s3: {c:?}")
        };
        assert_eq!(s3.region, "us-east-1");
        assert!(s3.allow_http && s3.virtual_hosted_style);
        assert!(!format!("{c:?}").contains("S3CR3T"));
        assert!(
            toml::from_str::<crate::Config>("[storage]\ntype = \"s3\"\nbucket = \"b\"\nbukcet = 1")
                .is_err()
        );
    }
}
