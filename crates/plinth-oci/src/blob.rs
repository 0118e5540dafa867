//! A blob's bytes, held in memory or in a file: what a built image is made of.
//!
//! Manifests, configs and small layers are kept in memory; a layer larger than
//! [`SPILL_AT`] is written to a temporary file as it is made ([`Spool`]) and only its path
//! is held, so that building, caching and writing an image needs memory independent of
//! its layers' sizes. A file blob is read as a stream ([`Blob::open`]) or put in place by
//! a hard link ([`Blob::place`]), never loaded whole.

use std::borrow::Cow;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bytes a [`Spool`] keeps in memory before it moves them to a file.
pub const SPILL_AT: usize = 4 << 20;

/// A blob's bytes: in memory, or in a file. Cheap to clone (the bytes are shared).
#[derive(Clone, Debug)]
pub struct Blob(Repr);

#[derive(Clone, Debug)]
enum Repr {
    Bytes(Arc<[u8]>),
    File { file: Arc<BlobFile>, len: u64 },
}

/// Where a [`Blob`]'s bytes are.
#[derive(Debug, Clone, Copy)]
pub enum Held<'a> {
    /// In memory.
    Memory(&'a Arc<[u8]>),
    /// In this file.
    File(&'a Path),
}

/// A file that holds a blob: a temporary file (removed when the last [`Blob`] naming it
/// is dropped) or a file someone else owns.
#[derive(Debug)]
enum BlobFile {
    Temp(tempfile::TempPath),
    Kept(PathBuf),
}

impl BlobFile {
    fn path(&self) -> &Path {
        match self {
            BlobFile::Temp(t) => t,
            BlobFile::Kept(p) => p,
        }
    }
}

impl Blob {
    /// A blob of in-memory bytes.
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>) -> Blob {
        Blob(Repr::Bytes(bytes.into()))
    }

    /// A blob held in a temporary file of `len` bytes, removed when the last clone of the
    /// blob is dropped.
    pub fn from_temp(path: tempfile::TempPath, len: u64) -> Blob {
        Blob(Repr::File {
            file: Arc::new(BlobFile::Temp(path)),
            len,
        })
    }

    /// A blob held in the file at `path` of `len` bytes, which the caller keeps (the
    /// blob never removes it) and must not change while the blob is in use.
    pub fn from_file(path: impl Into<PathBuf>, len: u64) -> Blob {
        Blob(Repr::File {
            file: Arc::new(BlobFile::Kept(path.into())),
            len,
        })
    }

    /// The length in bytes.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Repr::Bytes(b) => b.len() as u64,
            Repr::File { len, .. } => *len,
        }
    }

    /// Whether the blob holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, when they are held in memory.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.0 {
            Repr::Bytes(b) => Some(b),
            Repr::File { .. } => None,
        }
    }

    /// Where the bytes are: in memory or in a file.
    pub fn held(&self) -> Held<'_> {
        match &self.0 {
            Repr::Bytes(b) => Held::Memory(b),
            Repr::File { file, .. } => Held::File(file.path()),
        }
    }

    /// The file holding the bytes, when they are in a file.
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Bytes(_) => None,
            Repr::File { file, .. } => Some(file.path()),
        }
    }

    /// The bytes as a stream.
    pub fn open(&self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(match &self.0 {
            Repr::Bytes(b) => Box::new(&b[..]),
            Repr::File { file, .. } => Box::new(io::BufReader::with_capacity(
                1 << 16,
                fs_err::File::open(file.path())?,
            )),
        })
    }

    /// Every byte, read into memory when held in a file: for blobs known to be small
    /// (manifests, configs) and for tests.
    pub fn read_all(&self) -> io::Result<Cow<'_, [u8]>> {
        match &self.0 {
            Repr::Bytes(b) => Ok(Cow::Borrowed(b)),
            Repr::File { file, .. } => fs_err::read(file.path()).map(Cow::Owned),
        }
    }

    /// Puts the bytes at `dst` (which must not exist), with the mode the umask gives a
    /// new file: a hard link to the blob's file when the file system allows it and the
    /// file has that mode already, else a copy read as a stream; in-memory bytes are
    /// written.
    pub fn place(&self, dst: &Path) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        match &self.0 {
            Repr::Bytes(b) => fs_err::write(dst, b),
            Repr::File { file, .. } => {
                let src_mode = fs_err::metadata(file.path())?.permissions().mode() & 0o7777;
                // Created first, to learn the mode the umask gives (a file kept in the
                // cache under another umask is copied, not linked).
                let out = fs_err::File::create(dst)?;
                let mode = out.metadata()?.permissions().mode() & 0o7777;
                if mode == src_mode {
                    drop(out);
                    fs_err::remove_file(dst)?;
                    if fs_err::hard_link(file.path(), dst).is_ok() {
                        return Ok(());
                    }
                    return self.copy_to(fs_err::File::create(dst)?);
                }
                self.copy_to(out)
            }
        }
    }

    fn copy_to(&self, out: fs_err::File) -> io::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 16, out);
        io::copy(&mut self.open()?, &mut w)?;
        w.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    }
}

/// A writer that keeps what it is given in memory up to [`SPILL_AT`] bytes and moves it
/// to a temporary file in its directory beyond that; [`Spool::finish`] turns it into a
/// [`Blob`]. Dropped unfinished (an error on the way), it removes its file.
pub struct Spool {
    dir: PathBuf,
    buf: Vec<u8>,
    file: Option<(BufWriter<fs_err::File>, tempfile::TempPath)>,
    len: u64,
}

impl Spool {
    /// A spool whose file, if it needs one, goes in `dir` (created when needed).
    pub fn new(dir: impl Into<PathBuf>) -> Spool {
        Spool {
            dir: dir.into(),
            buf: Vec::new(),
            file: None,
            len: 0,
        }
    }

    fn spill(&mut self) -> io::Result<()> {
        fs_err::create_dir_all(&self.dir)?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".plinth-tmp-{}-blob-", std::process::id()))
            .permissions(plinth_core::dirs::umask_mode(0o666))
            .tempfile_in(&self.dir)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot make a file in {}: {e}", self.dir.display()),
                )
            })?;
        let (file, path) = tmp.into_parts();
        let file = fs_err::File::from_parts(file, path.to_path_buf());
        let mut w = BufWriter::with_capacity(1 << 16, file);
        w.write_all(&self.buf)?;
        self.buf = Vec::new();
        self.file = Some((w, path));
        Ok(())
    }

    /// The blob written.
    pub fn finish(self) -> io::Result<Blob> {
        match self.file {
            None => Ok(Blob::from_bytes(self.buf)),
            Some((w, path)) => {
                w.into_inner().map_err(|e| e.into_error())?;
                Ok(Blob::from_temp(path, self.len))
            }
        }
    }
}

impl Write for Spool {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.file.is_none() && self.buf.len() + data.len() > SPILL_AT {
            self.spill()?;
        }
        match &mut self.file {
            Some((w, _)) => w.write_all(data)?,
            None => self.buf.extend_from_slice(data),
        }
        self.len += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some((w, _)) => w.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_stays_in_memory_large_spills_and_is_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::new(dir.path());
        s.write_all(b"abc").unwrap();
        let small = s.finish().unwrap();
        assert_eq!(small.as_bytes(), Some(&b"abc"[..]));

        let big: Vec<u8> = (0..SPILL_AT + 10).map(|i| i as u8).collect();
        let mut s = Spool::new(dir.path().join("sub"));
        for part in big.chunks(1000) {
            s.write_all(part).unwrap();
        }
        let blob = s.finish().unwrap();
        assert_eq!(blob.len(), big.len() as u64);
        let path = blob.path().unwrap().to_path_buf();
        assert_eq!(&blob.read_all().unwrap()[..], &big[..]);
        let mut streamed = Vec::new();
        blob.open().unwrap().read_to_end(&mut streamed).unwrap();
        assert_eq!(streamed, big);

        let placed = dir.path().join("placed");
        blob.clone().place(&placed).unwrap();
        {
            use std::os::unix::fs::MetadataExt as _;
            use std::os::unix::fs::PermissionsExt as _;
            let ino = |p: &Path| fs_err::metadata(p).unwrap().ino();
            assert_eq!(ino(&placed), ino(&path), "linked, not copied");
            // A file of another mode than the umask gives is copied, with that mode.
            fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let copied = dir.path().join("copied");
            blob.place(&copied).unwrap();
            assert_ne!(ino(&copied), ino(&path));
            assert_eq!(fs_err::read(&copied).unwrap(), big);
            let mode = fs_err::metadata(&copied).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode,
                fs_err::metadata(dir.path().join("sub"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o666
            );
        }
        drop(blob);
        assert!(!path.exists(), "the temporary file outlived its blob");
        assert_eq!(fs_err::read(&placed).unwrap(), big);

        // Dropped unfinished, the spool removes its file.
        let mut s = Spool::new(dir.path().join("sub"));
        s.write_all(&big).unwrap();
        drop(s);
        assert_eq!(fs_err::read_dir(dir.path().join("sub")).unwrap().count(), 0);
    }
}
