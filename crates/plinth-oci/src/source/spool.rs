//! [`Spooled`]: a source that keeps some blobs of another in temporary files after their
//! first read, so that a layer several images share is fetched from a lazy (remote)
//! source once, not once per image. The bytes are kept as stored, unchecked: every read
//! of a spooled blob still goes through `open_blob`'s verifying reader.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;

use oci_spec::image::Descriptor;

use super::{ImageSource, RawBlob};
use crate::error::{Error, Result};

/// `inner`, with the blobs whose digests are in `shared` read once and then served from
/// a temporary directory (removed when dropped).
pub(crate) struct Spooled<'a> {
    inner: &'a dyn ImageSource,
    shared: HashSet<String>,
    dir: Option<tempfile::TempDir>,
    /// Spooled blobs by digest. Held while a blob is spooled, so a second reader of it
    /// waits for the file rather than fetching it again.
    files: Mutex<HashMap<String, (PathBuf, u64)>>,
}

impl<'a> Spooled<'a> {
    /// Spools the blobs of `inner` named in `shared` (no directory when none is).
    pub(crate) fn new(inner: &'a dyn ImageSource, shared: HashSet<String>) -> Result<Self> {
        let dir = if shared.is_empty() {
            None
        } else {
            Some(
                tempfile::Builder::new()
                    .prefix("plinth-spool-")
                    .tempdir()
                    .map_err(|e| Error::write(std::env::temp_dir(), e))?,
            )
        };
        Ok(Spooled {
            inner,
            shared,
            dir,
            files: Mutex::new(HashMap::new()),
        })
    }
}

impl ImageSource for Spooled<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn index(&self) -> &[Descriptor] {
        self.inner.index()
    }

    fn open_raw(&self, desc: &Descriptor) -> Result<Option<RawBlob<'_>>> {
        let digest = desc.digest().to_string();
        let Some(dir) = self.dir.as_ref().filter(|_| self.shared.contains(&digest)) else {
            return self.inner.open_raw(desc);
        };
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if !files.contains_key(&digest) {
            let Some(raw) = self.inner.open_raw(desc)? else {
                return Ok(None);
            };
            let path = dir.path().join(digest.replace(':', "-"));
            let mut f = fs_err::File::create(&path).map_err(|e| Error::write(&path, e))?;
            // One byte more than declared is kept, so that the verifying reader still
            // sees a blob that goes on past its size.
            let n = std::io::copy(&mut raw.reader.take(desc.size() + 1), &mut f).map_err(|e| {
                Error::Read {
                    what: format!("blob {digest} of {}", self.inner.name()),
                    source: e,
                }
            })?;
            files.insert(digest.clone(), (path, n));
        }
        let (path, len) = files[&digest].clone();
        drop(files);
        let f = fs_err::File::open(&path).map_err(|e| Error::write(&path, e))?;
        Ok(Some(RawBlob::new(f, len)))
    }
}
