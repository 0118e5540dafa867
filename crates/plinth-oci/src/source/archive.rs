//! oci-archives and docker-archives, read in place: the tar is indexed once by entry
//! offset (`tar_index`) and blobs are read from those offsets, never extracted.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use oci_spec::image::{Descriptor, Digest, ImageIndex};

use super::layout::is_sha256_hex;
use super::referrers::stored;
use super::tar_index::{index_tar, looks_like_tar};
use super::{ImageSource, RawBlob, parse_json, sniff_compression};
use crate::digest::hash_reader;
use crate::error::{Error, Result};
use crate::layer::Compression;
use crate::limits::limits;

/// An oci-archive or docker-archive, read in place: entries are indexed once by
/// offset, never extracted.
pub struct ArchiveSource {
    pub(super) path: PathBuf,
    file: Mutex<std::fs::File>,
    pub(super) entries: HashMap<String, (u64, u64)>,
    kind: ArchiveKind,
    pub(super) index: Vec<Descriptor>,
    /// Blobs that exist only in memory: manifests synthesised for docker-archives.
    pub(super) synthetic: HashMap<String, Vec<u8>>,
    /// Digest → archive path, for docker-archive blobs named by file name.
    pub(super) by_digest: HashMap<String, String>,
}

/// Which of the two tar formats an [`ArchiveSource`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// An OCI image layout in a tar (`oci-layout` and `index.json` at the top).
    Oci,
    /// A `docker save` tar (`manifest.json` at the top).
    Docker,
}

impl ArchiveSource {
    /// Indexes the tar at `path` and reads its index; fails when it is neither an
    /// oci-archive nor a docker-archive.
    ///
    /// A gzip- or zstd-compressed archive (`docker save | gzip`, which `docker load`
    /// takes) is decompressed once into an unlinked temporary file, which is then read
    /// in place like any archive (blobs are read by offset, which a compressed stream
    /// cannot give); it needs as much free space in the temporary directory as the
    /// archive holds uncompressed, at most [`max_compressed_archive_expansion`] bytes.
    pub fn open(path: &Path) -> Result<Self> {
        let mut file: std::fs::File = fs_err::File::open(path)
            .map_err(|e| Error::io(path, e))?
            .into();
        let mut magic = [0u8; 4];
        let n = file.read(&mut magic).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(path, e))?;
        if sniff_compression(&magic[..n]) != Compression::None {
            file = decompress_to_temp(file, path)?;
        }
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let entries = index_tar(&mut file, len, path).map_err(|e| match e {
            Error::Read { .. } if !looks_like_tar(path) => Error::NotFound(format!(
                "{} is not an image: not an OCI layout, oci-archive or docker-archive",
                path.display()
            )),
            e => e,
        })?;
        let mut src = ArchiveSource {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            entries,
            kind: ArchiveKind::Oci,
            index: Vec::new(),
            synthetic: HashMap::new(),
            by_digest: HashMap::new(),
        };
        if src.entries.contains_key("index.json") && src.entries.contains_key("oci-layout") {
            let bytes = src.read_entry("index.json", limits().json)?;
            let index: ImageIndex =
                parse_json(&bytes, &format!("index.json in {}", path.display()))?;
            src.index = index.manifests().clone();
        } else if src.entries.contains_key("manifest.json") {
            src.kind = ArchiveKind::Docker;
            src.synthesise_docker()?;
        } else {
            return Err(Error::NotFound(format!(
                "{} is neither an oci-archive (no index.json and oci-layout) nor a docker-archive (no manifest.json)",
                path.display()
            )));
        }
        Ok(src)
    }

    /// Whether the archive is an oci-archive or a docker-archive.
    pub fn kind(&self) -> ArchiveKind {
        self.kind
    }

    pub(super) fn entry_reader(
        &self,
        name: &str,
        limit: u64,
    ) -> Result<(Box<dyn Read + Send + '_>, u64)> {
        let &(off, size) = self.entries.get(name).ok_or_else(|| {
            Error::NotFound(format!("`{name}` is missing from {}", self.path.display()))
        })?;
        if size > limit {
            return Err(Error::Limit(format!(
                "`{name}` in {} is {size} bytes, more than the {limit} accepted",
                self.path.display()
            )));
        }
        Ok((
            Box::new(EntryReader {
                src: self,
                pos: off,
                end: off + size,
            }),
            size,
        ))
    }

    pub(super) fn read_entry(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let (mut r, size) = self.entry_reader(name, limit)?;
        let mut v = Vec::with_capacity(size as usize);
        r.read_to_end(&mut v)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(v)
    }

    pub(super) fn hash_entry(&self, name: &str, limit: u64) -> Result<(Digest, u64)> {
        let (r, _) = self.entry_reader(name, limit)?;
        hash_reader(r, limit).map_err(|e| Error::io(&self.path, e))
    }
}

/// Most bytes a compressed image archive may decompress to: the largest layer Plinth
/// reads, plus room for the rest of the image.
pub fn max_compressed_archive_expansion() -> u64 {
    limits().layer_size.saturating_add(1 << 30)
}

/// Decompresses `file` (gzip or zstd, as its first bytes say) into an unlinked temporary
/// file, bounded by [`max_compressed_archive_expansion`], and returns it rewound.
fn decompress_to_temp(file: std::fs::File, path: &Path) -> Result<std::fs::File> {
    let mut r = super::decompress(
        &oci_spec::image::MediaType::Other("application/octet-stream".into()),
        Box::new(io::BufReader::with_capacity(256 << 10, file)),
    )?;
    let mut tmp = tempfile::tempfile().map_err(|e| Error::Write {
        what: format!("a temporary file to decompress {} into", path.display()),
        source: e,
    })?;
    let limit = max_compressed_archive_expansion();
    let n = io::copy(&mut (&mut r).take(limit + 1), &mut tmp).map_err(|e| {
        if e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded {
            Error::Write {
                what: format!("the decompressed copy of {}", path.display()),
                source: e,
            }
        } else {
            Error::Read {
                what: format!("compressed archive {}", path.display()),
                source: e,
            }
        }
    })?;
    if n > limit {
        return Err(Error::Limit(format!(
            "{} decompresses to more than {limit} bytes",
            path.display()
        )));
    }
    tmp.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    Ok(tmp)
}

struct EntryReader<'a> {
    src: &'a ArchiveSource,
    pos: u64,
    end: u64,
}

impl Read for EntryReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let mut f = self.src.file.lock().unwrap_or_else(|p| p.into_inner());
        f.seek(SeekFrom::Start(self.pos))?;
        let n = f.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl ImageSource for ArchiveSource {
    fn name(&self) -> String {
        match self.kind {
            ArchiveKind::Oci => format!("oci-archive {}", self.path.display()),
            ArchiveKind::Docker => format!("docker-archive {}", self.path.display()),
        }
    }

    fn index(&self) -> &[Descriptor] {
        &self.index
    }

    fn open_raw(&self, desc: &Descriptor) -> Result<Option<RawBlob<'_>>> {
        let digest = desc.digest();
        let key = digest.to_string();
        if let Some(b) = self.synthetic.get(&key) {
            return Ok(Some(RawBlob::new(&b[..], b.len() as u64)));
        }
        let name = match self.kind {
            ArchiveKind::Oci => {
                format!("blobs/{}/{}", digest.algorithm().as_ref(), digest.digest())
            }
            ArchiveKind::Docker => match self.by_digest.get(&key) {
                Some(n) => n.clone(),
                None => return Ok(None),
            },
        };
        if !self.entries.contains_key(&name) {
            return Ok(None);
        }
        let (r, len) = self.entry_reader(&name, u64::MAX)?;
        Ok(Some(RawBlob {
            reader: r,
            len: Some(len),
        }))
    }

    fn stored_blobs(&self) -> Result<Vec<Descriptor>> {
        if self.kind == ArchiveKind::Docker {
            return Ok(Vec::new());
        }
        let mut out: Vec<Descriptor> = self
            .entries
            .iter()
            .filter_map(|(name, &(_, size))| {
                let hex = name
                    .strip_prefix("blobs/sha256/")
                    .filter(|h| is_sha256_hex(h))?;
                Some(stored(crate::digest::hex_to_digest(hex), size))
            })
            .collect();
        out.sort_by_key(|d| d.digest().to_string());
        Ok(out)
    }
}
