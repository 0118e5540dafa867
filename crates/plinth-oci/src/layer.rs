//! The deterministic layer writer.
//!
//! A [`LayerBuilder`] collects entries by normalised path; [`LayerBuilder::finish`]
//! writes them in byte order of their paths with fixed owners, modes and mtimes and no
//! user or group names, then compresses with settings that never vary (gzip header
//! mtime 0, fixed level; zstd single-threaded at a fixed level). Nothing about the
//! machine (umask, clock, file system order, the inputs' own mtimes) reaches the bytes.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oci_spec::image::{Digest, MediaType};
use tar::{EntryType, Header};

use crate::blob::{Blob, Spool};
use crate::digest::Sha256Writer;
use crate::error::{Error, Result};
use crate::pgzip::GzipWriter;

/// The version of the bytes this writer produces for given entries. Caches of finished
/// layers (a build's per-package layers) include it in their keys: bump it whenever a
/// change here or in [`crate::pgzip`] (the tar headers, the entry order, the compression
/// settings, the libdeflate version) changes the bytes of any layer.
pub const LAYER_WRITER_VERSION: u32 = 1;

/// Where a regular file's bytes come from.
#[derive(Clone, Debug)]
pub enum Content {
    /// Bytes held in memory.
    Bytes(Arc<[u8]>),
    /// A file on the local disk, read when the layer is written.
    Path(PathBuf),
}

impl Content {
    fn open(&self) -> Result<Box<dyn Read + '_>> {
        Ok(match self {
            Content::Bytes(b) => Box::new(&b[..]),
            Content::Path(p) => Box::new(fs_err::File::open(p).map_err(|e| Error::io(p, e))?),
        })
    }

    fn len(&self) -> Result<u64> {
        match self {
            Content::Bytes(b) => Ok(b.len() as u64),
            Content::Path(p) => Ok(fs_err::metadata(p).map_err(|e| Error::io(p, e))?.len()),
        }
    }

    fn read_all(&self) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.open()?.read_to_end(&mut v).map_err(|e| Error::Read {
            what: format!("{self:?}"),
            source: e,
        })?;
        Ok(v)
    }
}

/// What an [`Entry`] writes into the layer.
#[derive(Clone, Debug)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file with these bytes.
    File(Content),
    /// A symbolic link; the string is its target, written as given.
    Symlink(String),
    /// A hard link to another path in the same layer.
    Hardlink(String),
}

/// One entry of a layer: what it is, its permission bits (`0o7777`) and numeric owner.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Directory, file or link.
    pub kind: EntryKind,
    /// Permission bits, with setuid, setgid and sticky (`0o7777` at most).
    pub mode: u32,
    /// Owner's numeric user id.
    pub uid: u64,
    /// Owner's numeric group id.
    pub gid: u64,
}

impl Entry {
    /// A directory with these permission bits and owner.
    pub fn dir(mode: u32, uid: u64, gid: u64) -> Self {
        Entry {
            kind: EntryKind::Dir,
            mode,
            uid,
            gid,
        }
    }

    /// A regular file with these bytes, permission bits and owner.
    pub fn file(content: Content, mode: u32, uid: u64, gid: u64) -> Self {
        Entry {
            kind: EntryKind::File(content),
            mode,
            uid,
            gid,
        }
    }

    /// A regular file of in-memory bytes, owned by root.
    pub fn bytes(data: impl Into<Arc<[u8]>>, mode: u32) -> Self {
        Entry::file(Content::Bytes(data.into()), mode, 0, 0)
    }

    /// A symbolic link to `target`, mode `0o777`, owned by root.
    pub fn symlink(target: impl Into<String>) -> Self {
        Entry {
            kind: EntryKind::Symlink(target.into()),
            mode: 0o777,
            uid: 0,
            gid: 0,
        }
    }

    fn same_as(&self, other: &Entry) -> Result<bool> {
        if (self.mode, self.uid, self.gid) != (other.mode, other.uid, other.gid) {
            return Ok(false);
        }
        Ok(match (&self.kind, &other.kind) {
            (EntryKind::Dir, EntryKind::Dir) => true,
            (EntryKind::Symlink(a), EntryKind::Symlink(b)) => a == b,
            (EntryKind::Hardlink(a), EntryKind::Hardlink(b)) => a == b,
            (EntryKind::File(a), EntryKind::File(b)) => {
                a.len()? == b.len()? && a.read_all()? == b.read_all()?
            }
            _ => false,
        })
    }
}

/// Normalises a path inside an image to its canonical relative form (`usr/bin/x`).
///
/// Leading `/`, `.` components and repeated slashes are dropped; `..`, NUL and an empty
/// result are errors, so no caller can address anything outside the image root.
pub fn normalize_path(path: &str, context: &str) -> Result<String> {
    let bad = |reason| Error::BadPath {
        path: path.to_string(),
        context: context.to_string(),
        reason,
    };
    if path.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    let mut parts = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(bad("`..` would escape the image root")),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(bad("names the image root itself"));
    }
    Ok(parts.join("/"))
}

/// How a layer's tar is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// gzip, the default.
    #[default]
    Gzip,
    /// zstd, level 3 (the `+zstd` layer media type).
    Zstd,
    /// A plain, uncompressed tar.
    None,
}

impl Compression {
    /// The OCI layer media type for this compression.
    pub fn media_type(self) -> MediaType {
        match self {
            Compression::Gzip => MediaType::ImageLayerGzip,
            Compression::Zstd => MediaType::ImageLayerZstd,
            Compression::None => MediaType::ImageLayer,
        }
    }
}

/// A finished, compressed layer blob and its two digests.
#[derive(Clone, Debug)]
pub struct LayerBlob {
    /// The layer media type, from its [`Compression`].
    pub media_type: MediaType,
    /// The compressed blob: in memory when small, else in a file (see [`crate::blob`]).
    pub data: Blob,
    /// Digest of `data` (what the manifest names).
    pub digest: Digest,
    /// Digest of the uncompressed tar (what the config's `rootfs.diff_ids` names).
    pub diff_id: Digest,
    /// Length of the uncompressed tar, in bytes.
    pub uncompressed_size: u64,
}

/// Collects entries and writes them as one reproducible layer.
#[derive(Default, Debug)]
pub struct LayerBuilder {
    entries: BTreeMap<String, Entry>,
    context: String,
}

impl LayerBuilder {
    /// `context` names the layer in error messages (for example `layer "files"`).
    pub fn new(context: impl Into<String>) -> Self {
        LayerBuilder {
            entries: BTreeMap::new(),
            context: context.into(),
        }
    }

    /// Whether no entry has been added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of entries (paths) added.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry at `path` (normalised first), `None` when there is none or the path is invalid.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        normalize_path(path, &self.context)
            .ok()
            .and_then(|p| self.entries.get(&p))
    }

    /// Adds `entry` at `path`. The same path twice is fine when both entries are
    /// identical, and an error otherwise.
    pub fn add(&mut self, path: &str, mut entry: Entry) -> Result<()> {
        let path = normalize_path(path, &self.context)?;
        entry.mode &= 0o7777;
        if let EntryKind::Hardlink(t) = &entry.kind {
            entry.kind = EntryKind::Hardlink(normalize_path(t, &self.context)?);
        }
        if let Some(existing) = self.entries.get(&path) {
            if existing.same_as(&entry)? {
                return Ok(());
            }
            return Err(Error::DuplicatePath {
                path: format!("/{path}"),
            });
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// Adds a directory unless `path` already holds one (whatever its mode and owner):
    /// for directories that only exist to hold other entries.
    pub fn ensure_dir(&mut self, path: &str, entry: Entry) -> Result<()> {
        let norm = normalize_path(path, &self.context)?;
        match self.entries.get(&norm).map(|e| &e.kind) {
            Some(EntryKind::Dir) => Ok(()),
            _ => self.add(path, entry),
        }
    }

    /// Adds `entry` unless the path already holds a directory (used for implicit parents).
    fn add_parent(&mut self, path: &str) {
        self.entries
            .entry(path.to_string())
            .or_insert_with(|| Entry::dir(0o755, 0, 0));
    }

    /// Adds missing parent directories and checks that the tree is sound.
    fn prepare(&mut self) -> Result<()> {
        // Every ancestor of every entry must be a directory: a path that passes through
        // a symlink (`/evil -> /etc` then `/evil/passwd`) would write outside its place.
        let paths: Vec<String> = self.entries.keys().cloned().collect();
        for path in &paths {
            let mut prefix = String::new();
            let comps: Vec<&str> = path.split('/').collect();
            for c in &comps[..comps.len() - 1] {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(c);
                match self.entries.get(&prefix).map(|e| &e.kind) {
                    None => self.add_parent(&prefix.clone()),
                    Some(EntryKind::Dir) => {}
                    Some(EntryKind::Symlink(_)) => {
                        return Err(Error::BadPath {
                            path: format!("/{path}"),
                            context: self.context.clone(),
                            reason: "a parent directory is a symlink, so the entry could land outside its place",
                        });
                    }
                    Some(_) => {
                        return Err(Error::BadPath {
                            path: format!("/{path}"),
                            context: self.context.clone(),
                            reason: "a parent path is not a directory",
                        });
                    }
                }
            }
        }
        for (path, e) in &self.entries {
            if let EntryKind::Hardlink(t) = &e.kind
                && !matches!(
                    self.entries.get(t).map(|e| &e.kind),
                    Some(EntryKind::File(_))
                )
            {
                return Err(Error::BadPath {
                    path: format!("/{path}"),
                    context: self.context.clone(),
                    reason: "hard link to a path that is not a regular file of the same layer",
                });
            }
        }
        Ok(())
    }

    /// Writes the entries as an uncompressed tar to `w` (used for archives).
    pub fn write_tar_to<W: Write>(mut self, w: W, mtime: u64) -> Result<W> {
        self.prepare()?;
        Ok(self.write_tar(w, mtime)?.0)
    }

    /// Checks the tree and writes the layer, a large one to a temporary file in the
    /// system's temporary directory: see [`LayerBuilder::finish_in`].
    pub fn finish(self, compression: Compression, mtime: u64) -> Result<LayerBlob> {
        self.finish_in(compression, mtime, &std::env::temp_dir())
    }

    /// Checks the tree and writes the layer as a stream: each file is read as its entry
    /// is written, the tar compressed as it is made (gzip in 1 MiB chunks on every core,
    /// see [`crate::pgzip`]) and the blob kept in memory while small, else in a temporary
    /// file in `dir` (removed when the blob is dropped, or at once on an error). The tar
    /// is hashed once (the `diff_id`) and the compressed bytes once (the digest), as
    /// they pass, so memory does not grow with the size of the files or the layer.
    pub fn finish_in(
        mut self,
        compression: Compression,
        mtime: u64,
        dir: &Path,
    ) -> Result<LayerBlob> {
        self.prepare()?;

        let sink = Sha256Writer::new(Spool::new(dir));
        let (sink, diff_id, uncompressed_size) = match compression {
            Compression::Gzip => {
                let (gz, diff_id, n) = self.write_tar(GzipWriter::new(sink), mtime)?;
                (gz.finish().map_err(|e| self.werr(e))?, diff_id, n)
            }
            Compression::Zstd => {
                let z = zstd::Encoder::new(sink, 3).map_err(|e| self.werr(e))?;
                let (z, diff_id, n) = self.write_tar(z, mtime)?;
                (z.finish().map_err(|e| self.werr(e))?, diff_id, n)
            }
            Compression::None => self.write_tar(sink, mtime)?,
        };
        let (spool, digest, _) = sink.finish();
        let data = spool.finish().map_err(|e| self.werr(e))?;
        Ok(LayerBlob {
            media_type: compression.media_type(),
            data,
            digest,
            diff_id,
            uncompressed_size,
        })
    }

    fn werr(&self, e: io::Error) -> Error {
        Error::Read {
            what: format!("layer {}", self.context),
            source: e,
        }
    }

    fn write_tar<W: Write>(&self, w: W, mtime: u64) -> Result<(W, Digest, u64)> {
        let mut tar = tar::Builder::new(Sha256Writer::new(w));
        for (path, e) in &self.entries {
            let mut h = Header::new_gnu();
            h.set_mtime(mtime);
            h.set_uid(e.uid);
            h.set_gid(e.gid);
            h.set_mode(e.mode);
            h.set_size(0);
            let res = match &e.kind {
                EntryKind::Dir => {
                    h.set_entry_type(EntryType::Directory);
                    tar.append_data(&mut h, format!("{path}/"), io::empty())
                }
                EntryKind::File(c) => {
                    h.set_entry_type(EntryType::Regular);
                    let size = c.len()?;
                    h.set_size(size);
                    // The tar holds exactly the size its header declares, or the layer
                    // is refused: a file that changes while it is read, or a /proc file
                    // whose size reads as 0, must not make a corrupt layer.
                    let mut r = ExactSize {
                        inner: c.open()?,
                        declared: size,
                        left: size,
                    };
                    tar.append_data(&mut h, path, &mut r)
                }
                EntryKind::Symlink(t) => {
                    h.set_entry_type(EntryType::Symlink);
                    tar.append_link(&mut h, path, t)
                }
                EntryKind::Hardlink(t) => {
                    h.set_entry_type(EntryType::Link);
                    tar.append_link(&mut h, path, t)
                }
            };
            res.map_err(|err| Error::Read {
                what: format!("/{path} into layer {}", self.context),
                source: err,
            })?;
        }
        let hw = tar.into_inner().map_err(|e| self.werr(e))?;
        Ok(hw.finish())
    }
}

/// Reads exactly `declared` bytes of `inner`: fewer (the file shrank) or more (it grew,
/// or is a `/proc` file whose size reads as 0) is an error rather than a tar entry whose
/// data does not match its header.
struct ExactSize<R> {
    inner: R,
    declared: u64,
    left: u64,
}

impl<R: Read> Read for ExactSize<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(invalid(format!(
                    "the file holds more than the {} bytes its size said when the layer was \
                     planned (it changed while read, or is a special file such as /proc's)",
                    self.declared
                ))),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(invalid(format!(
                "the file ended after {} of the {} bytes its size said (it changed while read)",
                self.declared - self.left,
                self.declared
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(order: &[usize]) -> LayerBuilder {
        let items: Vec<(&str, Entry)> = vec![
            ("/usr/bin/app", Entry::bytes(&b"binary"[..], 0o755)),
            (
                "etc/passwd",
                Entry::bytes(&b"root:x:0:0::/root:/sbin/nologin\n"[..], 0o644),
            ),
            ("/bin", Entry::symlink("usr/bin")),
            ("/tmp", Entry::dir(0o1777, 0, 0)),
        ];
        let mut b = LayerBuilder::new("test");
        for &i in order {
            b.add(items[i].0, items[i].1.clone()).unwrap();
        }
        b
    }

    #[test]
    fn insertion_order_does_not_change_digest() {
        let a = sample(&[0, 1, 2, 3]).finish(Compression::Gzip, 0).unwrap();
        let b = sample(&[3, 2, 1, 0]).finish(Compression::Gzip, 0).unwrap();
        assert_eq!(a.digest, b.digest);
        assert_eq!(a.diff_id, b.diff_id);
        let z1 = sample(&[0, 1, 2, 3]).finish(Compression::Zstd, 0).unwrap();
        let z2 = sample(&[2, 0, 3, 1]).finish(Compression::Zstd, 0).unwrap();
        assert_eq!(z1.digest, z2.digest);
        // Same tar inside, whatever the compression.
        assert_eq!(a.diff_id, z1.diff_id);
    }

    #[test]
    fn tar_is_sorted_with_implicit_parents_and_no_names() {
        let blob = sample(&[0, 1, 2, 3]).finish(Compression::None, 7).unwrap();
        let bytes = blob.data.read_all().unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.mtime().unwrap(), 7);
            assert_eq!(h.username().unwrap(), Some(""));
            assert_eq!(h.groupname().unwrap(), Some(""));
            seen.push(e.path().unwrap().to_string_lossy().into_owned());
        }
        assert_eq!(
            seen,
            [
                "bin",
                "etc/",
                "etc/passwd",
                "tmp/",
                "usr/",
                "usr/bin/",
                "usr/bin/app"
            ]
        );
    }

    /// A `/proc` source file (size 0, content not empty) gave a corrupt layer and exit 0.
    #[test]
    fn a_file_whose_content_does_not_match_its_size_is_refused() {
        let mut b = LayerBuilder::new("t");
        b.add(
            "/status",
            Entry::file(Content::Path("/proc/self/status".into()), 0o644, 0, 0),
        )
        .unwrap();
        let err = b.finish(Compression::Gzip, 0).unwrap_err();
        let chain = format!(
            "{err}: {}",
            std::error::Error::source(&err)
                .map(|e| e.to_string())
                .unwrap_or_default()
        );
        assert!(chain.contains("/status"), "{chain}");
        assert!(chain.contains("more than the 0 bytes"), "{chain}");
        // Exact sizes still pass, and a reader that ends early is refused.
        let mut ok = ExactSize {
            inner: &b"abc"[..],
            declared: 3,
            left: 3,
        };
        let mut out = Vec::new();
        assert_eq!(ok.read_to_end(&mut out).unwrap(), 3);
        let mut short = ExactSize {
            inner: &b"ab"[..],
            declared: 3,
            left: 3,
        };
        let err = short.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains("ended after 2 of the 3 bytes"),
            "{err}"
        );
    }

    #[test]
    fn rejects_escapes_and_conflicts() {
        let mut b = LayerBuilder::new("t");
        assert!(matches!(
            b.add("/a/../../etc", Entry::dir(0o755, 0, 0)),
            Err(Error::BadPath { .. })
        ));
        b.add("/x", Entry::bytes(&b"1"[..], 0o644)).unwrap();
        b.add("/x", Entry::bytes(&b"1"[..], 0o644)).unwrap();
        b.add("/d", Entry::dir(0o750, 0, 0)).unwrap();
        b.ensure_dir("/d", Entry::dir(0o755, 0, 0)).unwrap();
        assert_eq!(b.get("/d").unwrap().mode, 0o750);
        assert!(matches!(
            b.add("/d", Entry::dir(0o700, 0, 0)),
            Err(Error::DuplicatePath { .. })
        ));
        assert!(matches!(
            b.add("/x", Entry::bytes(&b"2"[..], 0o644)),
            Err(Error::DuplicatePath { .. })
        ));
        let mut b = LayerBuilder::new("t");
        b.add("/evil", Entry::symlink("/etc")).unwrap();
        b.add("/evil/passwd", Entry::bytes(&b"x"[..], 0o644))
            .unwrap();
        assert!(matches!(
            b.finish(Compression::None, 0),
            Err(Error::BadPath { .. })
        ));
    }

    #[test]
    fn long_paths_and_link_targets_round_trip() {
        let long = format!("/{}/file", "d".repeat(150));
        let target = format!("/{}", "t".repeat(200));
        let mut b = LayerBuilder::new("t");
        b.add(&long, Entry::bytes(&b"x"[..], 0o644)).unwrap();
        b.add("/link", Entry::symlink(target.clone())).unwrap();
        let blob = b.finish(Compression::None, 0).unwrap();
        let bytes = blob.data.read_all().unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let names: Vec<(String, Option<String>)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    e.link_name()
                        .unwrap()
                        .map(|l| l.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert!(names.contains(&(long[1..].to_string(), None)));
        assert!(names.contains(&("link".to_string(), Some(target))));
    }

    /// The layer as `LAYER_WRITER_VERSION` 1 wrote it before layers were streamed: the
    /// whole tar in memory, then compressed whole.
    fn in_memory(b: LayerBuilder, compression: Compression) -> Vec<u8> {
        let tar = b.write_tar_to(Vec::new(), 0).unwrap();
        match compression {
            Compression::Gzip => crate::pgzip::tests::in_memory(&tar),
            Compression::Zstd => {
                let mut z = zstd::Encoder::new(Vec::new(), 3).unwrap();
                z.write_all(&tar).unwrap();
                z.finish().unwrap()
            }
            Compression::None => tar,
        }
    }

    /// One file of `size` bytes read from disk at `/f` (and a small one beside it).
    fn one_file(dir: &Path, size: usize) -> LayerBuilder {
        let src = dir.join(format!("src-{size}"));
        fs_err::write(&src, crate::pgzip::tests::sample(size)).unwrap();
        let mut b = LayerBuilder::new("t");
        b.add("/f", Entry::file(Content::Path(src), 0o644, 0, 0))
            .unwrap();
        b.add("/etc/x", Entry::bytes(&b"x"[..], 0o644)).unwrap();
        b
    }

    fn check_same_bytes(size: usize, compression: Compression) {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        let want = in_memory(one_file(dir.path(), size), compression);
        let blob = one_file(dir.path(), size)
            .finish_in(compression, 0, &spool)
            .unwrap();
        let got = blob.data.read_all().unwrap();
        assert!(
            got[..] == want[..],
            "{compression:?}, file of {size} bytes: the streamed layer differs"
        );
        assert_eq!(blob.digest, crate::sha256_digest(&want));
        let tar = in_memory(one_file(dir.path(), size), Compression::None);
        assert_eq!(blob.diff_id, crate::sha256_digest(&tar));
        assert_eq!(blob.uncompressed_size, tar.len() as u64);
        // Large layers are in a file, small ones in memory; either way nothing else is
        // left in the spool directory once the blob is gone.
        assert_eq!(
            blob.data.path().is_some(),
            want.len() > crate::blob::SPILL_AT
        );
        drop(blob);
        let left = fs_err::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "temporary files left behind");
    }

    /// Streamed and in-memory layers are the same bytes for files (and so tars) on
    /// either side of the 1 MiB chunk boundary and across many chunks.
    #[test]
    fn streamed_layers_equal_in_memory_ones_around_chunk_boundaries() {
        const C: usize = crate::pgzip::CHUNK;
        // The tar is `etc/` (512 bytes), `etc/x` (1024), `f` (512 and its data padded to
        // 512) and 1024 bytes of end: a file of C - 3072 bytes fills exactly one chunk.
        let edge = C - 3072;
        for size in [
            0,
            1,
            C - 1,
            C,
            C + 1,
            edge - 1,
            edge,
            edge + 1,
            edge + 512,
            2 * C - 3072,
            5 * C + 3,
        ] {
            check_same_bytes(size, Compression::Gzip);
        }
        for size in [0, C + 1, 5 * C + 3] {
            check_same_bytes(size, Compression::Zstd);
            check_same_bytes(size, Compression::None);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
        #[test]
        fn streamed_layers_equal_in_memory_ones(chunks in 0usize..6, delta in -4000i64..4000) {
            let size = (chunks as i64 * crate::pgzip::CHUNK as i64 + delta).max(0) as usize;
            check_same_bytes(size, Compression::Gzip);
        }
    }

    /// An error while the layer is written leaves no temporary file behind.
    #[test]
    fn a_failed_layer_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path().join("spool");
        let mut b = one_file(dir.path(), 6 << 20);
        b.add(
            "/status",
            Entry::file(Content::Path("/proc/self/status".into()), 0o644, 0, 0),
        )
        .unwrap();
        b.finish_in(Compression::Gzip, 0, &spool).unwrap_err();
        let left = fs_err::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "temporary files left behind");
    }
}
