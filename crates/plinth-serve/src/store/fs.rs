//! The default backend: objects as files under one directory.
//!
//! A write goes to a fresh file under `_tmp/` and is renamed onto its key when whole, so a
//! reader sees the old object or the new one, never part of one; a process killed
//! mid-write leaves only a file under `_tmp/`, which `purge_partial` removes once it
//! is older than the upload expiry. An upload's bytes are one file that each chunk
//! appends to (and is cut back to its old length if the chunk fails); finishing an upload
//! is a rename, so a pushed blob is written to disk once.

use std::io::{self, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::{ByteStream, Meta, Result, Store, StoreError, Writer};

/// Buffer size of blob reads: large enough that a 512 MiB blob is a few hundred reads.
const READ_CHUNK: usize = 1 << 20;
/// Chunks a blob read keeps ready ahead of the client.
const READ_AHEAD: usize = 2;

/// Objects under a directory.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// A store under `root`, created if missing.
    pub fn open(root: &Path) -> Result<FsStore> {
        fs_err::create_dir_all(root.join("_tmp"))
            .map_err(|e| StoreError::io("create", &root.display().to_string(), e))?;
        Ok(FsStore {
            root: root.to_path_buf(),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        debug_assert!(
            !key.split('/')
                .any(|c| c.is_empty() || c == "." || c == ".."),
            "store key {key:?} is not a plain relative path"
        );
        self.root.join(key)
    }

    fn upload_data(&self, id: &str) -> PathBuf {
        self.path(&format!("_uploads/{id}/data"))
    }

    /// Removes files under `_tmp/` older than `age` (writes of processes that died).
    async fn purge_tmp(&self, age: Duration) -> Result<usize> {
        let dir = self.root.join("_tmp");
        blocking(move || {
            let mut removed = 0;
            let entries = match fs_err::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(StoreError::io("list", "_tmp", e)),
            };
            let now = SystemTime::now();
            for entry in entries.flatten() {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| now.duration_since(m).unwrap_or_default() > age);
                if old && fs_err::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("storage task failed: {e}")))?
}

fn meta_of(m: &std::fs::Metadata) -> Meta {
    Meta {
        size: m.len(),
        modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory
}

/// The bytes of `range` of `file`, read by a blocking task of their own straight into the
/// buffers that go to the socket (one copy, where `tokio::fs::File` makes two), at most
/// [`READ_AHEAD`] chunks ahead of the client. The task stops when the stream is dropped.
fn read_stream(mut file: std::fs::File, key: &str, range: Range<u64>) -> ByteStream {
    let key = key.to_string();
    use std::io::{Read, Seek};
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(READ_AHEAD);
    // Buffers come back once hyper has written them, so a download allocates (and the
    // kernel faults in and zeroes) a few buffers, not one per MiB sent.
    let (home, back) = std::sync::mpsc::sync_channel::<Vec<u8>>(READ_AHEAD + 2);
    tokio::task::spawn_blocking(move || {
        if range.start > 0
            && let Err(e) = file.seek(SeekFrom::Start(range.start))
        {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut left = range.end.saturating_sub(range.start);
        while left > 0 {
            let n = left.min(READ_CHUNK as u64);
            let mut buf = back
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(READ_CHUNK));
            buf.clear();
            // `read_to_end` fills the spare capacity without zeroing it first.
            let chunk = match (&mut file).take(n).read_to_end(&mut buf) {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{key} is shorter than it was"),
                )),
                Ok(got) => {
                    left -= got as u64;
                    Ok(Bytes::from_owner(Pooled {
                        buf,
                        home: home.clone(),
                    }))
                }
                Err(e) => Err(e),
            };
            let failed = chunk.is_err();
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }))
}

/// A read buffer that goes back to its reader when the bytes in it have been sent.
struct Pooled {
    buf: Vec<u8>,
    home: std::sync::mpsc::SyncSender<Vec<u8>>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // A full pool, or a reader that is gone: the buffer is freed.
        let _ = self.home.try_send(std::mem::take(&mut self.buf));
    }
}

/// A write in progress.
#[derive(Debug)]
pub struct FsWriter {
    file: Option<tokio::fs::File>,
    target: Target,
    done: bool,
}

#[derive(Debug)]
enum Target {
    /// A new object: written to `tmp`, renamed to `dest`.
    Object { tmp: PathBuf, dest: PathBuf },
    /// A chunk appended to an upload's file that held `offset` bytes before.
    Chunk { data: PathBuf, offset: u64 },
}

impl FsWriter {
    fn undo(&mut self) {
        self.file = None;
        match &self.target {
            Target::Object { tmp, .. } => {
                let _ = fs_err::remove_file(tmp);
            }
            Target::Chunk { data, offset } => {
                if let Ok(f) = fs_err::OpenOptions::new().write(true).open(data) {
                    let _ = f.set_len(*offset);
                }
            }
        }
    }
}

/// Dropping a writer undoes it at once, without waiting for a write in flight: the
/// registry runs uploads as tasks of their own that always end in `commit` or `abort`,
/// so a drop happens only on a panic.
impl Drop for FsWriter {
    fn drop(&mut self) {
        if !self.done {
            self.undo();
        }
    }
}

impl Writer for FsWriter {
    async fn write(&mut self, bytes: Bytes) -> Result<()> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| StoreError::Backend("write after close".into()))?;
        f.write_all(&bytes).await.map_err(|e| {
            let key = match &self.target {
                Target::Object { dest, .. } => dest.display().to_string(),
                Target::Chunk { data, .. } => data.display().to_string(),
            };
            StoreError::io("write", &key, e)
        })
    }

    async fn commit(mut self) -> Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush()
                .await
                .map_err(|e| StoreError::io("write", "object", e))?;
        }
        if let Target::Object { tmp, dest } = &self.target {
            let (tmp, dest) = (tmp.clone(), dest.clone());
            blocking(move || {
                if let Some(parent) = dest.parent() {
                    fs_err::create_dir_all(parent)
                        .map_err(|e| StoreError::io("create", &parent.display().to_string(), e))?;
                }
                fs_err::rename(&tmp, &dest)
                    .map_err(|e| StoreError::io("rename", &dest.display().to_string(), e))
            })
            .await?;
        }
        self.done = true;
        Ok(())
    }

    async fn abort(mut self) -> Result<()> {
        // Let a write still in flight land before the chunk is cut off.
        if let Some(f) = self.file.as_mut() {
            let _ = f.flush().await;
        }
        self.done = true;
        self.undo();
        Ok(())
    }
}

impl Store for FsStore {
    type Writer = FsWriter;

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match tokio::fs::read(self.path(key)).await {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(StoreError::io("read", key, e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<Meta>> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(m) if m.is_file() => Ok(Some(meta_of(&m))),
            Ok(_) => Ok(None),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(StoreError::io("stat", key, e)),
        }
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        let mut w = self.writer(key).await?;
        w.write(bytes).await?;
        w.commit().await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(true),
            Err(e) if not_found(&e) => Ok(false),
            Err(e) => Err(StoreError::io("delete", key, e)),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        match tokio::fs::remove_dir_all(self.path(prefix)).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(StoreError::io("delete", prefix, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<(String, Meta)>> {
        let base = self.path(prefix);
        let prefix = prefix.to_string();
        blocking(move || {
            let mut out = Vec::new();
            let mut stack = vec![(base, prefix.clone())];
            while let Some((dir, key)) = stack.pop() {
                let entries = match fs_err::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if not_found(&e) => continue,
                    Err(e) => return Err(StoreError::io("list", &key, e)),
                };
                for entry in entries {
                    let entry = entry.map_err(|e| StoreError::io("list", &key, e))?;
                    let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                        continue;
                    };
                    let child = format!("{key}/{name}");
                    let Ok(m) = entry.metadata() else { continue };
                    if m.is_dir() {
                        stack.push((entry.path(), child));
                    } else if m.is_file() {
                        out.push((child, meta_of(&m)));
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn list_children(&self, prefix: &str) -> Result<Vec<String>> {
        let dir = self.path(prefix);
        let key = prefix.to_string();
        blocking(move || match fs_err::read_dir(&dir) {
            Ok(entries) => Ok(entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect()),
            Err(e) if not_found(&e) => Ok(Vec::new()),
            Err(e) => Err(StoreError::io("list", &key, e)),
        })
        .await
    }

    async fn exists_prefix(&self, prefix: &str) -> Result<bool> {
        match tokio::fs::metadata(self.path(prefix)).await {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if not_found(&e) => Ok(false),
            Err(e) => Err(StoreError::io("stat", prefix, e)),
        }
    }

    async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<Option<(Meta, ByteStream)>> {
        let f = match tokio::fs::File::open(self.path(key)).await {
            Ok(f) => f,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(StoreError::io("open", key, e)),
        };
        let m = f
            .metadata()
            .await
            .map_err(|e| StoreError::io("stat", key, e))?;
        let meta = meta_of(&m);
        let range = range.unwrap_or(0..meta.size);
        Ok(Some((meta, read_stream(f.into_std().await, key, range))))
    }

    async fn open_file(&self, key: &str) -> Result<Option<std::fs::File>> {
        match tokio::fs::File::open(self.path(key)).await {
            Ok(f) => Ok(Some(f.into_std().await)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(StoreError::io("open", key, e)),
        }
    }

    async fn writer(&self, key: &str) -> Result<FsWriter> {
        let tmp = self
            .root
            .join("_tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| StoreError::io("create", key, e))?;
        Ok(FsWriter {
            file: Some(file),
            target: Target::Object {
                tmp,
                dest: self.path(key),
            },
            done: false,
        })
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.upload_data(id)).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(StoreError::io("stat", id, e)),
        }
    }

    async fn upload_chunk(&self, id: &str, offset: u64) -> Result<FsWriter> {
        let data = self.upload_data(id);
        if let Some(parent) = data.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| StoreError::io("create", id, e))?;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&data)
            .await
            .map_err(|e| StoreError::io("open", id, e))?;
        let have = file
            .metadata()
            .await
            .map_err(|e| StoreError::io("stat", id, e))?
            .len();
        if have != offset {
            return Err(StoreError::OutOfOrder {
                id: id.to_string(),
                have,
                offset,
            });
        }
        Ok(FsWriter {
            file: Some(file),
            target: Target::Chunk { data, offset },
            done: false,
        })
    }

    async fn upload_read(&self, id: &str) -> Result<ByteStream> {
        let key = format!("_uploads/{id}/data");
        match self.read(&key, None).await? {
            Some((_, s)) => Ok(s),
            None => Ok(Box::pin(futures_util::stream::empty())),
        }
    }

    async fn purge_partial(&self, age: Duration) -> Result<usize> {
        self.purge_tmp(age).await
    }

    async fn upload_promote(&self, id: &str, key: &str) -> Result<()> {
        let data = self.upload_data(id);
        let dest = self.path(key);
        let key = key.to_string();
        blocking(move || {
            if !data.exists() {
                // An empty upload has no file: the blob is empty.
                fs_err::File::create(&data).map_err(|e| StoreError::io("create", &key, e))?;
            }
            if let Some(parent) = dest.parent() {
                fs_err::create_dir_all(parent).map_err(|e| StoreError::io("create", &key, e))?;
            }
            fs_err::rename(&data, &dest).map_err(|e| StoreError::io("rename", &key, e))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    async fn collect(mut s: ByteStream) -> Vec<u8> {
        let mut v = Vec::new();
        while let Some(b) = s.next().await {
            v.extend_from_slice(&b.unwrap());
        }
        v
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn writes_are_invisible_until_committed_and_gone_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let s = FsStore::open(dir.path()).unwrap();
        let mut w = s.writer("a/b").await.unwrap();
        w.write(Bytes::from_static(b"hello")).await.unwrap();
        assert!(s.head("a/b").await.unwrap().is_none());
        drop(w);
        assert!(s.head("a/b").await.unwrap().is_none());
        assert_eq!(
            fs_err::read_dir(dir.path().join("_tmp")).unwrap().count(),
            0
        );
        let mut w = s.writer("a/b").await.unwrap();
        w.write(Bytes::from_static(b"hello")).await.unwrap();
        w.commit().await.unwrap();
        assert_eq!(&s.get("a/b").await.unwrap().unwrap()[..], b"hello");
        let (m, st) = s.read("a/b", Some(1..3)).await.unwrap().unwrap();
        assert_eq!(m.size, 5);
        assert_eq!(collect(st).await, b"el");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn reads_of_several_chunks_and_ranges_across_them_come_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let s = FsStore::open(dir.path()).unwrap();
        let bytes: Vec<u8> = (0..READ_CHUNK * 5 / 2).map(|i| (i % 251) as u8).collect();
        s.put("blob", Bytes::from(bytes.clone())).await.unwrap();
        let (m, st) = s.read("blob", None).await.unwrap().unwrap();
        assert_eq!(m.size, bytes.len() as u64);
        assert_eq!(collect(st).await, bytes);
        let (a, b) = (READ_CHUNK - 3, 2 * READ_CHUNK + 5);
        let (_, st) = s
            .read("blob", Some(a as u64..b as u64))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(collect(st).await, &bytes[a..b]);
        let (_, st) = s.read("blob", Some(7..7)).await.unwrap().unwrap();
        assert!(collect(st).await.is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_failed_chunk_leaves_the_upload_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let s = FsStore::open(dir.path()).unwrap();
        let mut w = s.upload_chunk("u", 0).await.unwrap();
        w.write(Bytes::from_static(b"abc")).await.unwrap();
        w.commit().await.unwrap();
        assert!(matches!(
            s.upload_chunk("u", 1).await,
            Err(StoreError::OutOfOrder { have: 3, .. })
        ));
        let mut w = s.upload_chunk("u", 3).await.unwrap();
        w.write(Bytes::from_static(b"defg")).await.unwrap();
        w.abort().await.unwrap();
        assert_eq!(s.upload_size("u").await.unwrap(), Some(3));
        s.upload_promote("u", "blobs/x").await.unwrap();
        assert_eq!(&s.get("blobs/x").await.unwrap().unwrap()[..], b"abc");
    }
}
