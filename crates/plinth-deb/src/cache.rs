//! The content-addressed package cache shared by all builds: `blobs/sha256/<hex>` under
//! a root directory. A blob lands there only after its size and SHA-256 checked while it
//! streamed into `tmp/`; reading it back re-checks the hash.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use plinth_core::http::{self, VerifyError};
use plinth_core::progress::Reporter;

/// Failure of the package cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A [`Download`]'s `sha256` is not 64 hex digits.
    #[error("{name}: invalid sha256 {sha256:?}")]
    BadDigest {
        /// The download's [`Download::name`].
        name: String,
        /// The value given.
        sha256: String,
    },
    /// The download failed, or its content did not have the expected size and hash.
    #[error("cannot download {name}")]
    Download {
        /// The download's [`Download::name`].
        name: String,
        /// What the HTTP client reported.
        #[source]
        source: VerifyError,
    },
    /// Writing into the cache directory failed.
    #[error("cannot write to the cache at {path}")]
    Io {
        /// The file or directory in the cache.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// One file to fetch into the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// Where the file is fetched from.
    pub url: String,
    /// Hex SHA-256 the content must have.
    pub sha256: String,
    /// Exact size in bytes; no more than this is read.
    pub size: u64,
    /// For messages and progress, e.g. `libc6_2.36-9+deb12u14_amd64.deb`.
    pub name: String,
}

/// See [`Cache::lock_work`]; the lock is released when this is dropped.
#[derive(Debug)]
pub struct WorkLock {
    _file: std::fs::File,
}

/// A content-addressed store of verified files.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// The cache in directory `root` (created when something is first stored).
    pub fn new(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// The cache's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this hash lives (whether or not it is present).
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        self.root
            .join("blobs/sha256")
            .join(sha256.to_ascii_lowercase())
    }

    /// The cache's scratch directory (`tmp/`, on the cache's file system): where files
    /// bound for the cache are written before they are renamed into place, and where a
    /// build spools its large layers (so that keeping one is a hard link, not a copy).
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Path of a verified blob, if present and its content still hashes to `sha256`. A
    /// corrupted entry is deleted (with a warning) and `None` returned.
    pub fn get(&self, sha256: &str, reporter: &dyn Reporter) -> Option<PathBuf> {
        if !http::is_sha256_hex(sha256) {
            return None;
        }
        let path = self.blob_path(sha256);
        let actual = match hash_file(&path) {
            Ok(h) => h,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                let why = format!(
                    "cannot read cache entry {}: {e}; fetching it again",
                    path.display()
                );
                return discard(&path, &why, reporter);
            }
        };
        if actual.eq_ignore_ascii_case(sha256) {
            return Some(path);
        }
        let why = format!(
            "cache entry {} is corrupt (its sha256 is {actual}); removed it",
            path.display()
        );
        discard(&path, &why, reporter)
    }

    /// A private hard link to the blob `sha256` (a temporary file in `tmp/`, removed when
    /// dropped) and its length, once the link's content is checked against that hash as a
    /// stream: `None` when absent; a corrupt or unreadable entry is removed (with a
    /// warning) and `None` returned, so that the caller rebuilds or fetches it. The link
    /// keeps the checked bytes even when the entry is removed or replaced meanwhile, and
    /// nothing is read into memory (a cached layer can be any size). Where the file
    /// system has no hard links, the blob is copied, and hashed on the way.
    pub fn checkout(
        &self,
        sha256: &str,
        reporter: &dyn Reporter,
    ) -> Option<(tempfile::TempPath, u64)> {
        if !http::is_sha256_hex(sha256) {
            return None;
        }
        let path = self.blob_path(sha256);
        if !path.is_file() {
            return None;
        }
        let tmp_dir = self.tmp_dir();
        let unreadable = |e: std::io::Error| {
            let why = format!(
                "cannot read cache entry {}: {e}; removed it",
                path.display()
            );
            discard::<(tempfile::TempPath, u64)>(&path, &why, reporter)
        };
        if let Err(e) = fs_err::create_dir_all(&tmp_dir) {
            reporter.warn(&format!("cannot use the cache's tmp directory: {e}"));
            return None;
        }
        let linked = tempfile::Builder::new()
            .prefix(&checkout_prefix())
            .make_in(&tmp_dir, |p| fs_err::hard_link(&path, p));
        let (tmp, actual) = match linked {
            Ok(t) => {
                let tmp = t.into_temp_path();
                match hash_file(&tmp) {
                    Ok(h) => (tmp, h),
                    Err(e) => return unreadable(e),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(_) => match self.copy_hashed(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
                Err(e) => return unreadable(e),
            },
        };
        if !actual.eq_ignore_ascii_case(sha256) {
            let why = format!(
                "cache entry {} is corrupt (its sha256 is {actual}); removed it",
                path.display()
            );
            return discard(&path, &why, reporter);
        }
        let len = fs_err::metadata(&tmp).ok()?.len();
        Some((tmp, len))
    }

    /// A copy of `src` in `tmp/` and the SHA-256 of what was copied.
    fn copy_hashed(&self, src: &Path) -> std::io::Result<(tempfile::TempPath, String)> {
        let mut from = fs_err::File::open(src)?;
        let tmp = tempfile::Builder::new()
            .prefix(&checkout_prefix())
            .tempfile_in(self.tmp_dir())?;
        let (file, tmp) = tmp.into_parts();
        let mut to = HashingWriter {
            inner: BufWriter::new(file),
            hasher: Sha256::new(),
        };
        std::io::copy(&mut from, &mut to)?;
        to.inner.into_inner().map_err(|e| e.into_error())?;
        Ok((tmp, hex::encode(to.hasher.finalize())))
    }

    /// Downloads each item with `jobs` worker threads, verifying size and SHA-256 while
    /// streaming into a temporary file and renaming it into place only once verified.
    /// Items already cached (and still verified) are not downloaded. Returns the cached
    /// paths in input order, or the error of the first failing item (in input order,
    /// among those that ran: after a failure no new download starts); a failed download
    /// leaves nothing behind.
    pub fn fetch_all(
        &self,
        items: &[Download],
        jobs: usize,
        reporter: &dyn Reporter,
    ) -> Result<Vec<PathBuf>, CacheError> {
        for item in items {
            if !http::is_sha256_hex(&item.sha256) {
                return Err(CacheError::BadDigest {
                    name: item.name.clone(),
                    sha256: item.sha256.clone(),
                });
            }
        }
        // Fetch each distinct blob once.
        let mut unique: Vec<usize> = Vec::new();
        let mut slot_of = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let pos = unique
                .iter()
                .position(|&u| items[u].sha256.eq_ignore_ascii_case(&item.sha256));
            slot_of.push(pos.unwrap_or_else(|| {
                unique.push(i);
                unique.len() - 1
            }));
        }
        reporter.plan("packages", unique.len() as u64);
        let fetched = plinth_core::par::try_par_map_threads(jobs, &unique, |&index| {
            self.fetch_one(&items[index], reporter)
        })?;
        Ok(slot_of.iter().map(|&slot| fetched[slot].clone()).collect())
    }

    fn fetch_one(&self, item: &Download, reporter: &dyn Reporter) -> Result<PathBuf, CacheError> {
        if let Some(path) = self.get(&item.sha256, reporter) {
            reporter.finish(&item.name);
            return Ok(path);
        }
        let target = self.blob_path(&item.sha256);
        let tmp_dir = self.tmp_dir();
        for dir in [&tmp_dir, target.parent().unwrap_or(&self.root)] {
            fs_err::create_dir_all(dir).map_err(io(dir))?;
        }
        let tmp = tempfile::Builder::new()
            .prefix(".download-")
            .permissions(plinth_core::dirs::umask_mode(0o666))
            .tempfile_in(&tmp_dir)
            .map_err(io(&tmp_dir))?;
        reporter.start(&item.name, Some(item.size));
        let result = (|| {
            let mut sink = BufWriter::new(tmp.as_file());
            http::fetch_verified(
                &item.url,
                item.size,
                &item.sha256,
                &mut sink,
                reporter,
                &item.name,
            )
            .map_err(|source| CacheError::Download {
                name: item.name.clone(),
                source,
            })?;
            sink.flush().map_err(io(tmp.path()))
        })();
        reporter.finish(&item.name);
        // On error `tmp` is dropped here, which deletes the partial file.
        result?;
        tmp.persist(&target).map_err(|e| CacheError::Io {
            path: target.clone(),
            source: e.error,
        })?;
        Ok(target)
    }
}

impl Cache {
    /// Stores `bytes`, already verified by the caller against `sha256` (a signed index's
    /// hash), as the blob `sha256`: written to `tmp/` and renamed into place.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> Result<PathBuf, CacheError> {
        if !http::is_sha256_hex(sha256) || hex::encode(Sha256::digest(bytes)) != sha256 {
            return Err(CacheError::BadDigest {
                name: "a verified file".into(),
                sha256: sha256.to_string(),
            });
        }
        let target = self.blob_path(sha256);
        self.write_atomically(&target, bytes)?;
        Ok(target)
    }

    /// Stores the file at `src` as the blob `sha256`, a hash the caller computed of its
    /// bytes as it wrote them (a layer, hashed as it was made): hard-linked into place
    /// (copied as a stream where the file system has no hard links), not read again.
    /// Every read of the entry checks the hash ([`Cache::checkout`], [`Cache::get`]), so
    /// a wrong one reads as absent, never as a wrong layer.
    pub fn put_file(&self, sha256: &str, src: &Path) -> Result<PathBuf, CacheError> {
        if !http::is_sha256_hex(sha256) {
            return Err(CacheError::BadDigest {
                name: src.display().to_string(),
                sha256: sha256.to_string(),
            });
        }
        let target = self.blob_path(sha256);
        let tmp_dir = self.tmp_dir();
        for dir in [&tmp_dir, target.parent().unwrap_or(&self.root)] {
            fs_err::create_dir_all(dir).map_err(io(dir))?;
        }
        let linked = tempfile::Builder::new()
            .prefix(".write-")
            .make_in(&tmp_dir, |p| fs_err::hard_link(src, p));
        let tmp = match linked {
            Ok(t) => t.into_temp_path(),
            Err(_) => {
                let mut from = fs_err::File::open(src).map_err(io(src))?;
                let tmp = tempfile::Builder::new()
                    .prefix(".write-")
                    .permissions(plinth_core::dirs::umask_mode(0o666))
                    .tempfile_in(&tmp_dir)
                    .map_err(io(&tmp_dir))?;
                let (file, tmp) = tmp.into_parts();
                let mut to = BufWriter::new(file);
                std::io::copy(&mut from, &mut to).map_err(io(&tmp))?;
                to.into_inner()
                    .map_err(|e| e.into_error())
                    .map_err(io(&tmp))?;
                tmp
            }
        };
        tmp.persist(&target).map_err(|e| CacheError::Io {
            path: target.clone(),
            source: e.error,
        })?;
        Ok(target)
    }

    /// A small file derived from verified inputs (the changelog read out of a package
    /// whose hash `key` names), stored as `derived/KIND/KEY`: the payload after a line
    /// holding its SHA-256, so a damaged entry reads as absent (and is removed).
    pub fn derived(&self, kind: &str, key: &str) -> Option<Vec<u8>> {
        if !http::is_sha256_hex(key) {
            return None;
        }
        let path = self.root.join("derived").join(kind).join(key);
        let bytes = fs_err::read(&path).ok()?;
        let ok = bytes.len() > 65
            && bytes[64] == b'\n'
            && hex::encode(Sha256::digest(&bytes[65..])).as_bytes() == &bytes[..64];
        if !ok {
            let _ = fs_err::remove_file(&path);
            return None;
        }
        Some(bytes[65..].to_vec())
    }

    /// Stores `payload` as the derived entry `kind`/`key` (see [`Cache::derived`]).
    pub fn put_derived(&self, kind: &str, key: &str, payload: &[u8]) -> Result<(), CacheError> {
        check_entry(kind, key, "derived")?;
        let mut bytes = hex::encode(Sha256::digest(payload)).into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(payload);
        self.write_atomically(&self.root.join("derived").join(kind).join(key), &bytes)
    }

    /// Holds the work of making the derived entry `kind`/`key` for this process alone:
    /// a build that needs the same expensive result another is making (two builds of
    /// one system image side by side, sharing a cache) waits for it and then finds it in
    /// the cache, instead of doing the same work again beside it. The lock is an
    /// advisory `flock` on `locks/KIND-KEY`: the kernel drops it when the holder exits,
    /// killed or not, so a crashed build never leaves the others waiting.
    pub fn lock_work(
        &self,
        kind: &str,
        key: &str,
        reporter: &dyn Reporter,
    ) -> Result<WorkLock, CacheError> {
        check_entry(kind, key, "lock")?;
        let dir = self.root.join("locks");
        let path = dir.join(format!("{kind}-{}", key.to_ascii_lowercase()));
        fs_err::create_dir_all(&dir).map_err(io(&dir))?;
        let (file, _) = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?
            .into_parts();
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                reporter.warn(&format!(
                    "waiting for another build making the same {kind} (it holds {})",
                    path.display()
                ));
                file.lock().map_err(io(&path))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        Ok(WorkLock { _file: file })
    }

    fn write_atomically(&self, target: &Path, bytes: &[u8]) -> Result<(), CacheError> {
        let tmp_dir = self.tmp_dir();
        for dir in [&tmp_dir, target.parent().unwrap_or(&self.root)] {
            fs_err::create_dir_all(dir).map_err(io(dir))?;
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".write-")
            .permissions(plinth_core::dirs::umask_mode(0o666))
            .tempfile_in(&tmp_dir)
            .map_err(io(&tmp_dir))?;
        tmp.write_all(bytes).map_err(io(tmp.path()))?;
        tmp.persist(target).map_err(|e| CacheError::Io {
            path: target.to_path_buf(),
            source: e.error,
        })?;
        Ok(())
    }
}

/// The error of an I/O step on `path` in the cache.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.to_path_buf();
    move |source| CacheError::Io { path, source }
}

/// A derived entry's or a lock's `kind` names one directory level and its `key` is a
/// SHA-256: neither can lead out of the cache.
fn check_entry(kind: &str, key: &str, what: &str) -> Result<(), CacheError> {
    if !http::is_sha256_hex(key) || kind.contains(['/', '.']) {
        return Err(CacheError::BadDigest {
            name: format!("{what} {kind}"),
            sha256: key.to_string(),
        });
    }
    Ok(())
}

fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Checkouts carry the PID, as `.plinth-tmp-PID-…`, so that a later build can tell the
/// leftovers of a killed one (`plinth_oci::write::remove_stale_temporaries`).
fn checkout_prefix() -> String {
    format!(".plinth-tmp-{}-checkout-", std::process::id())
}

/// Hashes what is written through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Removes a cache entry that cannot be trusted, with the warning `why`; always `None`, so
/// that the caller fetches or rebuilds it.
fn discard<T>(path: &std::path::Path, why: &str, reporter: &dyn Reporter) -> Option<T> {
    reporter.warn(why);
    let _ = fs_err::remove_file(path);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_core::progress::NoReporter;

    fn item(dir: &Path, name: &str, data: &[u8]) -> Download {
        let path = dir.join(name);
        fs_err::write(&path, data).unwrap();
        Download {
            url: format!("file://{}", path.display()),
            sha256: hex::encode(Sha256::digest(data)),
            size: data.len() as u64,
            name: name.to_string(),
        }
    }

    #[test]
    fn fetches_dedups_and_verifies_local_files() {
        let src = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let a = item(src.path(), "a.deb", b"aaa");
        let b = item(src.path(), "b.deb", b"bbbb");
        let paths = cache
            .fetch_all(&[a.clone(), b.clone(), a.clone()], 4, &NoReporter)
            .unwrap();
        assert_eq!(paths.len(), 3);
        assert_eq!(fs_err::read(&paths[0]).unwrap(), b"aaa");
        assert_eq!(fs_err::read(&paths[1]).unwrap(), b"bbbb");
        assert_eq!(paths[0], paths[2]);
        assert_eq!(cache.get(&a.sha256, &NoReporter), Some(paths[0].clone()));
        let bad = Download {
            sha256: "../../etc".into(),
            ..a.clone()
        };
        assert!(matches!(
            cache.fetch_all(&[bad], 1, &NoReporter),
            Err(CacheError::BadDigest { .. })
        ));
        assert_eq!(cache.get("../x", &NoReporter), None);
        assert!(cache.fetch_all(&[], 4, &NoReporter).unwrap().is_empty());
    }

    /// Two workers on the same entry take turns, the second told it waits; another
    /// entry is not held up; a bad key is refused.
    #[test]
    fn work_on_one_entry_is_done_by_one_holder_at_a_time() {
        use std::sync::Mutex;
        #[derive(Default)]
        struct Said(Mutex<Vec<String>>);
        impl Reporter for Said {
            fn warn(&self, m: &str) {
                self.0.lock().unwrap().push(m.to_string());
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let key = hex::encode(Sha256::digest(b"system"));
        let other = hex::encode(Sha256::digest(b"other"));
        let held = cache.lock_work("system-layer", &key, &NoReporter).unwrap();
        // Another entry is free.
        drop(
            cache
                .lock_work("system-layer", &other, &NoReporter)
                .unwrap(),
        );
        let said = Said::default();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let _second = cache.lock_work("system-layer", &key, &said).unwrap();
                tx.send(()).unwrap();
            });
            // The second waits while the first holds the entry...
            while said.0.lock().unwrap().is_empty() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            assert!(rx.try_recv().is_err(), "the second holder did not wait");
            // ...and goes on once it is released.
            drop(held);
            rx.recv().unwrap();
        });
        let said = said.0.into_inner().unwrap();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("waiting for another build making the same system-layer"),
            "{said:?}"
        );
        assert!(matches!(
            cache.lock_work("system-layer", "../../etc", &NoReporter),
            Err(CacheError::BadDigest { .. })
        ));
        assert!(cache.lock_work("a/b", &key, &NoReporter).is_err());
    }

    #[test]
    fn derived_entries_round_trip_and_a_damaged_one_reads_as_absent() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let key = hex::encode(Sha256::digest(b"k"));
        assert_eq!(cache.derived("changelog", &key), None);
        cache.put_derived("changelog", &key, b"payload").unwrap();
        assert_eq!(cache.derived("changelog", &key).unwrap(), b"payload");
        let path = dir.path().join("derived/changelog").join(&key);
        let mut bytes = fs_err::read(&path).unwrap();
        *bytes.last_mut().unwrap() = b'X';
        fs_err::write(&path, bytes).unwrap();
        assert_eq!(cache.derived("changelog", &key), None);
        assert!(!path.exists(), "a damaged entry is removed");
        assert!(cache.put_derived("../x", &key, b"p").is_err());
        assert!(cache.derived("changelog", "../../x").is_none());
        let sha = hex::encode(Sha256::digest(b"index"));
        let p = cache.put(&sha, b"index").unwrap();
        assert_eq!(cache.get(&sha, &NoReporter), Some(p));
        assert!(cache.put(&sha, b"other").is_err());
    }

    /// A file stored by `put_file` is linked, not copied; `checkout` hands back a link of
    /// its own, checked as a stream; a damaged entry reads as absent and is removed.
    #[test]
    fn put_file_links_and_checkout_checks() {
        use std::os::unix::fs::MetadataExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path().join("cache"));
        let data = vec![7u8; 300_000];
        let sha = hex::encode(Sha256::digest(&data));
        assert!(cache.checkout(&sha, &NoReporter).is_none(), "absent");
        fs_err::create_dir_all(cache.tmp_dir()).unwrap();
        let src = cache.tmp_dir().join("layer");
        fs_err::write(&src, &data).unwrap();
        let stored = cache.put_file(&sha, &src).unwrap();
        let ino = |p: &Path| fs_err::metadata(p).unwrap().ino();
        assert_eq!(ino(&stored), ino(&src), "hard-linked into place");
        fs_err::remove_file(&src).unwrap();
        let (link, len) = cache.checkout(&sha, &NoReporter).unwrap();
        assert_eq!(len, data.len() as u64);
        assert_eq!(fs_err::read(&link).unwrap(), data);
        let link_path = link.to_path_buf();
        drop(link);
        assert!(!link_path.exists(), "the checkout is temporary");
        // Damaged: removed, absent.
        let mut bad = data.clone();
        bad[5] ^= 1;
        fs_err::write(&stored, &bad).unwrap();
        assert!(cache.checkout(&sha, &NoReporter).is_none());
        assert!(!stored.exists());
        assert_eq!(fs_err::read_dir(cache.tmp_dir()).unwrap().count(), 0);
        assert!(matches!(
            cache.put_file("nothex", &stored),
            Err(CacheError::BadDigest { .. })
        ));
    }
}
