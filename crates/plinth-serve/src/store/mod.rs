//! Where the registry keeps its bytes. [`Store`] is the small set of operations the
//! registry needs from a storage backend; [`fs::FsStore`] keeps them under a directory.
//!
//! Keys are `/`-separated strings that the registry builds from checked names, tags and
//! digests only (see [`crate::registry`] for the layout); a backend never sees a client's
//! raw input. Every write is invisible until whole: a [`Writer`] writes beside its target
//! and the bytes appear under the key only on [`Writer::commit`].

pub mod fs;
pub mod object;

use std::future::Future;
use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::Stream;

/// A stream of an object's bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// What a backend knows about one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Size in bytes.
    pub size: u64,
    /// Last written.
    pub modified: SystemTime,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The operating system refused an operation on a key.
    #[error("{op} {key}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The key.
        key: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// An upload's stored length is not where the client says its chunk starts.
    #[error("upload {id} holds {have} bytes; a chunk at {offset} does not follow on")]
    OutOfOrder {
        /// The upload.
        id: String,
        /// Bytes it holds.
        have: u64,
        /// Where the chunk claims to start.
        offset: u64,
    },
    /// An object-store backend failed.
    #[error("object store: {0}")]
    Backend(String),
    /// An object store refused or failed a request on a key.
    #[error("object store: {op} {key}: {source}")]
    Object {
        /// What was being done.
        op: &'static str,
        /// The key.
        key: String,
        /// Why it failed.
        #[source]
        source: Box<object_store::Error>,
    },
}

impl StoreError {
    /// An I/O error on `key`.
    pub fn io(op: &'static str, key: &str, source: io::Error) -> StoreError {
        StoreError::Io {
            op,
            key: key.to_string(),
            source,
        }
    }

    /// Whether the failure is a full disk or quota (the registry answers 507).
    pub fn is_no_space(&self) -> bool {
        match self {
            StoreError::Io { source, .. } => {
                source.kind() == io::ErrorKind::StorageFull
                    || source.kind() == io::ErrorKind::QuotaExceeded
            }
            _ => false,
        }
    }
}

/// Result of a storage operation.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Bytes on their way into the store, invisible until committed.
pub trait Writer: Send + 'static {
    /// Appends bytes.
    fn write(&mut self, bytes: Bytes) -> impl Future<Output = Result<()>> + Send;
    /// Makes what was written visible, whole, at once.
    fn commit(self) -> impl Future<Output = Result<()>> + Send;
    /// Throws away what was written. Dropping a writer without committing does the same.
    fn abort(self) -> impl Future<Output = Result<()>> + Send;
}

/// A storage backend.
pub trait Store: Send + Sync + 'static {
    /// Its writer.
    type Writer: Writer;

    /// A whole (small) object, or `None` when the key does not exist.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>>> + Send;
    /// An object's size and time, or `None`.
    fn head(&self, key: &str) -> impl Future<Output = Result<Option<Meta>>> + Send;
    /// Stores a small object atomically (replacing any).
    fn put(&self, key: &str, bytes: Bytes) -> impl Future<Output = Result<()>> + Send;
    /// Removes an object; whether it existed.
    fn delete(&self, key: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Removes every object under `prefix/`.
    fn delete_prefix(&self, prefix: &str) -> impl Future<Output = Result<()>> + Send;
    /// Every object under `prefix/`, at any depth, as (key, meta), in no set order.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<(String, Meta)>>> + Send;
    /// The names directly under `prefix/` (objects and "directories" alike).
    fn list_children(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Whether anything exists under `prefix/`.
    fn exists_prefix(&self, prefix: &str) -> impl Future<Output = Result<bool>> + Send;
    /// An object's bytes, or the `range` of them, with its meta; `None` when absent.
    fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> impl Future<Output = Result<Option<(Meta, ByteStream)>>> + Send;
    /// A writer whose bytes become `key` on commit.
    fn writer(&self, key: &str) -> impl Future<Output = Result<Self::Writer>> + Send;

    /// The bytes an upload holds so far, or `None` when it has none stored yet.
    fn upload_size(&self, id: &str) -> impl Future<Output = Result<Option<u64>>> + Send;
    /// A writer for the upload's next chunk, which must start at `offset` (else
    /// [`StoreError::OutOfOrder`]). A chunk is all or nothing: on abort or drop the
    /// upload is as it was.
    fn upload_chunk(
        &self,
        id: &str,
        offset: u64,
    ) -> impl Future<Output = Result<Self::Writer>> + Send;
    /// All of an upload's bytes, in order.
    fn upload_read(&self, id: &str) -> impl Future<Output = Result<ByteStream>> + Send;
    /// When the upload's bytes were last written, or `None` when it has none stored.
    fn upload_modified(&self, id: &str) -> impl Future<Output = Result<Option<SystemTime>>> + Send {
        let key = format!("_uploads/{id}/data");
        async move { Ok(self.head(&key).await?.map(|m| m.modified)) }
    }
    /// Moves an upload's bytes to `key`, atomically.
    fn upload_promote(&self, id: &str, key: &str) -> impl Future<Output = Result<()>> + Send;

    /// The object as an open local file, where the backend keeps files (for `sendfile`);
    /// `None` for other backends or when the key does not exist.
    fn open_file(&self, key: &str) -> impl Future<Output = Result<Option<std::fs::File>>> + Send {
        let _ = key;
        async { Ok(None) }
    }

    /// Removes what writers of dead processes left behind that is older than `age`
    /// (the upload expiry); how many objects.
    fn purge_partial(&self, age: Duration) -> impl Future<Output = Result<usize>> + Send {
        let _ = age;
        async { Ok(0) }
    }
}
