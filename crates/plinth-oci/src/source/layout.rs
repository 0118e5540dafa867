//! OCI image layout directories: `oci-layout`, `index.json` and `blobs/`.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex};

use super::referrers::{MAX_STORED_BLOBS, stored};
use super::{ImageSource, RawBlob, parse_json};
use crate::error::{Error, Result};
use crate::limits::limits;

/// An OCI image layout directory.
pub struct LayoutSource {
    root: PathBuf,
    index: Vec<Descriptor>,
}

impl LayoutSource {
    /// Opens the layout at `root` and reads its `index.json`; fails when `root` has no
    /// `oci-layout` file.
    pub fn open(root: &Path) -> Result<Self> {
        let layout = root.join("oci-layout");
        if !layout.is_file() {
            return Err(Error::NotFound(format!(
                "{} is not an OCI image layout (no oci-layout file)",
                root.display()
            )));
        }
        let index_path = root.join("index.json");
        let bytes = read_file_bounded(&index_path, limits().json)?;
        let index: ImageIndex = parse_json(&bytes, &index_path.display().to_string())?;
        Ok(LayoutSource {
            root: root.to_path_buf(),
            index: index.manifests().clone(),
        })
    }
}

/// Opens `path` only if it is a regular file: opening a FIFO would block forever, and a
/// device could be read without end. (The type is checked again on the open handle.)
pub(super) fn open_regular(path: &Path) -> io::Result<Option<std::fs::File>> {
    let not_regular = || io::Error::new(io::ErrorKind::InvalidData, "not a regular file");
    match fs_err::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(not_regular()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    let f = fs_err::File::open(path)?;
    if !f.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(Some(f.into()))
}

fn read_file_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = open_regular(path)
        .and_then(|f| f.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file")))
        .map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    if len > limit {
        return Err(Error::Limit(format!(
            "{} is {len} bytes, more than the {limit} accepted",
            path.display()
        )));
    }
    let mut v = Vec::new();
    f.take(limit)
        .read_to_end(&mut v)
        .map_err(|e| Error::io(path, e))?;
    Ok(v)
}

/// Whether `name` is a sha256 blob's file name: 64 lower-case hex digits.
pub(super) fn is_sha256_hex(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl ImageSource for LayoutSource {
    fn name(&self) -> String {
        format!("OCI layout {}", self.root.display())
    }

    fn index(&self) -> &[Descriptor] {
        &self.index
    }

    fn open_raw(&self, desc: &Descriptor) -> Result<Option<RawBlob<'_>>> {
        let digest = desc.digest();
        // The digest type only admits [a-zA-Z0-9=_-] in the encoded part: no path tricks.
        let path = self
            .root
            .join("blobs")
            .join(digest.algorithm().as_ref())
            .join(digest.digest());
        match open_regular(&path) {
            Ok(Some(f)) => {
                let len = f.metadata().map_err(|e| Error::io(&path, e))?.len();
                Ok(Some(RawBlob::new(f, len)))
            }
            Ok(None) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(Error::invalid(
                format!("blob {digest} ({})", path.display()),
                "not a regular file",
            )),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    fn stored_blobs(&self) -> Result<Vec<Descriptor>> {
        let dir = self.root.join("blobs").join("sha256");
        let entries = match fs_err::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name();
            let Some(hex) = name.to_str().filter(|n| is_sha256_hex(n)) else {
                continue; // not a blob: a temporary, a stray file
            };
            // Not followed: a link or a FIFO is no blob to search (open_raw refuses it).
            let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
            if meta.is_file() {
                out.push(stored(crate::digest::hex_to_digest(hex), meta.len()));
            }
            if out.len() > MAX_STORED_BLOBS {
                return Err(Error::Limit(format!(
                    "more than {MAX_STORED_BLOBS} blobs in {}",
                    dir.display()
                )));
            }
        }
        out.sort_by_key(|d| d.digest().to_string());
        Ok(out)
    }
}
