//! The read side: one [`ImageSource`] trait over OCI layout directories, oci-archives
//! and docker-archives (including the ones skopeo, podman and `docker save` write).
//!
//! Every read is bounded by the size its descriptor declares and checked against its
//! digest; archive entries that would escape the archive root are rejected.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use oci_spec::image::{
    Descriptor, Digest, ImageConfiguration, ImageIndex, ImageManifest, MediaType, Platform,
};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::digest::{hash_reader, hex_to_digest};
use crate::error::{Error, Result};
use crate::{MAX_JSON_BLOB, REF_NAME, canonical};

/// Most entries an image archive may hold (a real one holds a few hundred).
pub const MAX_ARCHIVE_ENTRIES: usize = 100_000;
/// Largest layer blob accepted.
pub const MAX_LAYER_BLOB: u64 = 32 * 1024 * 1024 * 1024;
/// Most manifests and indexes visited from one source's index.
pub const MAX_DESCRIPTORS: usize = 10_000;
/// Most uncompressed bytes in one layer.
pub const MAX_UNCOMPRESSED_LAYER: u64 = 16 << 30;
/// How deep indexes may nest.
const MAX_INDEX_DEPTH: usize = 4;

/// An image store that can be read: a layout dir, an oci-archive, a docker-archive.
pub trait ImageSource: Send + Sync {
    /// Names the source in messages (`OCI layout ./out/hello`).
    fn name(&self) -> String;
    /// The top-level descriptors (a layout's `index.json`, or one per docker-archive image).
    fn index(&self) -> &[Descriptor];
    /// Opens a blob's stored bytes and tells their stored length; `None` when absent.
    fn open_raw(&self, digest: &Digest) -> Result<Option<(Box<dyn Read + Send + '_>, u64)>>;
}

impl dyn ImageSource + '_ {
    /// Opens a blob through a reader that fails unless the bytes match `desc`'s size and
    /// digest; reading never goes past the declared size.
    pub fn open_blob(&self, desc: &Descriptor, limit: u64) -> Result<VerifyingReader<'_>> {
        let digest = desc.digest().to_string();
        if desc.size() > limit {
            return Err(Error::TooLarge {
                digest,
                size: desc.size(),
                limit,
            });
        }
        if desc.digest().algorithm().as_ref() != "sha256" {
            return Err(Error::Unsupported(format!("digest algorithm of {digest}")));
        }
        let (r, stored) = self
            .open_raw(desc.digest())?
            .ok_or_else(|| Error::MissingBlob {
                digest: digest.clone(),
                source_name: self.name(),
            })?;
        if stored < desc.size() {
            return Err(Error::Truncated {
                digest,
                expected: desc.size(),
                found: stored,
            });
        }
        if stored > desc.size() {
            return Err(Error::Oversized {
                digest,
                expected: desc.size(),
            });
        }
        Ok(VerifyingReader {
            inner: r.take(desc.size() + 1),
            hasher: Sha256::new(),
            read: 0,
            expected_size: desc.size(),
            expected: digest,
            done: false,
        })
    }

    /// Reads a small JSON blob whole, verified.
    pub fn read_blob(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let mut r = self.open_blob(desc, MAX_JSON_BLOB)?;
        let mut v = Vec::with_capacity(desc.size() as usize);
        r.read_to_end(&mut v).map_err(|e| r.error(e))?;
        Ok(v)
    }

    /// Every image manifest reachable from the index (through nested indexes), optionally
    /// only those tagged `tag`.
    pub fn images(&self, tag: Option<&str>) -> Result<Vec<ResolvedImage>> {
        let roots: Vec<&Descriptor> = self
            .index()
            .iter()
            .filter(|d| tag.is_none_or(|t| ref_name(d).is_some_and(|r| tag_matches(r, t))))
            .collect();
        if roots.is_empty() {
            return Err(match tag {
                Some(t) => Error::NotFound(format!(
                    "no image tagged `{t}` in {} (tags: {})",
                    self.name(),
                    self.index()
                        .iter()
                        .filter_map(|d| ref_name(d))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                None => Error::NotFound(format!("{} holds no image", self.name())),
            });
        }
        let mut walk = Walk::default();
        for d in roots {
            self.collect(d, ref_name(d).map(str::to_string), 0, &mut walk)?;
        }
        Ok(walk.out)
    }

    fn collect(
        &self,
        d: &Descriptor,
        tag: Option<String>,
        depth: usize,
        walk: &mut Walk,
    ) -> Result<()> {
        walk.visited += 1;
        if walk.visited > MAX_DESCRIPTORS {
            return Err(Error::Limit(format!(
                "more than {MAX_DESCRIPTORS} manifests and indexes reachable from {}",
                self.name()
            )));
        }
        // An index may name the same manifest many times (or nest to multiply it):
        // each blob is read and each image reported once.
        if !walk.seen.insert(d.digest().to_string()) {
            return Ok(());
        }
        if depth > MAX_INDEX_DEPTH {
            return Err(Error::Limit(format!(
                "indexes nest deeper than {MAX_INDEX_DEPTH}"
            )));
        }
        match d.media_type() {
            MediaType::ImageIndex => self.collect_index(d, tag, depth, walk),
            MediaType::Other(m) if m == DOCKER_LIST => self.collect_index(d, tag, depth, walk),
            MediaType::ImageManifest => self.collect_manifest(d, tag, &mut walk.out),
            MediaType::Other(m) if m == DOCKER_MANIFEST => {
                self.collect_manifest(d, tag, &mut walk.out)
            }
            // Artifacts (signatures, SBOMs) and unknown kinds are not images.
            _ => Ok(()),
        }
    }

    fn collect_index(
        &self,
        d: &Descriptor,
        tag: Option<String>,
        depth: usize,
        walk: &mut Walk,
    ) -> Result<()> {
        let bytes = self.read_blob(d)?;
        let index: ImageIndex = parse_json(&bytes, &format!("image index {}", d.digest()))?;
        for m in index.manifests() {
            self.collect(m, tag.clone(), depth + 1, walk)?;
        }
        Ok(())
    }

    fn collect_manifest(
        &self,
        d: &Descriptor,
        tag: Option<String>,
        out: &mut Vec<ResolvedImage>,
    ) -> Result<()> {
        let what = format!("image manifest {}", d.digest());
        let bytes = self.read_blob(d)?;
        let manifest: ImageManifest = parse_json(&bytes, &what)?;
        let cfg_media = manifest.config().media_type().to_string();
        if cfg_media != MediaType::ImageConfig.to_string() && cfg_media != DOCKER_CONFIG {
            return Ok(()); // an artifact manifest, not an image
        }
        let config_raw = self.read_blob(manifest.config())?;
        let config: ImageConfiguration = parse_json(
            &config_raw,
            &format!("image config {}", manifest.config().digest()),
        )?;
        if config.rootfs().diff_ids().len() != manifest.layers().len() {
            return Err(Error::invalid(
                what,
                format!(
                    "{} layers but the config lists {} diff_ids",
                    manifest.layers().len(),
                    config.rootfs().diff_ids().len()
                ),
            ));
        }
        out.push(ResolvedImage {
            descriptor: d.clone(),
            tag,
            manifest,
            config,
            config_raw,
        });
        Ok(())
    }

    /// Reads a blob to its end, checking its size and digest, without keeping it.
    pub fn verify_blob(&self, desc: &Descriptor, limit: u64) -> Result<()> {
        let mut r = self.open_blob(desc, limit)?;
        io::copy(&mut r, &mut io::sink()).map_err(|e| r.error(e))?;
        Ok(())
    }

    /// When reading a layer failed (a decompression error, say), the better explanation
    /// is often that the blob does not match its digest: prefer that one when it holds.
    pub fn explain_layer_error(&self, desc: &Descriptor, err: Error) -> Error {
        match err {
            Error::Read { .. } => match self.verify_blob(desc, MAX_LAYER_BLOB) {
                Err(
                    e @ (Error::DigestMismatch { .. }
                    | Error::Truncated { .. }
                    | Error::Oversized { .. }),
                ) => e,
                _ => err,
            },
            e => e,
        }
    }

    /// Opens a layer as an uncompressed, verified tar stream.
    pub fn open_layer(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let r = self.open_blob(desc, MAX_LAYER_BLOB)?;
        decompress(desc.media_type(), Box::new(io::BufReader::new(r)))
    }
}

const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Whether a stored name (`latest`, `docker.io/library/hello:1`) answers to `wanted`
/// (`latest`, `hello:1`, or just the tag `1`).
fn tag_matches(stored: &str, wanted: &str) -> bool {
    fn norm(s: &str) -> &str {
        let s = s.strip_prefix("docker.io/").unwrap_or(s);
        s.strip_prefix("library/").unwrap_or(s)
    }
    stored == wanted
        || norm(stored) == norm(wanted)
        || (!wanted.contains([':', '/'])
            && stored.rsplit_once(':').is_some_and(|(_, t)| t == wanted))
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations().as_ref()?.get(REF_NAME).map(String::as_str)
}

fn parse_json<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| Error::Json {
        what: what.to_string(),
        source,
    })
}

#[derive(Default)]
struct Walk {
    out: Vec<ResolvedImage>,
    seen: std::collections::HashSet<String>,
    visited: usize,
}

/// One image (one platform) found in a source.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    pub descriptor: Descriptor,
    pub tag: Option<String>,
    pub manifest: ImageManifest,
    pub config: ImageConfiguration,
    pub config_raw: Vec<u8>,
}

impl ResolvedImage {
    pub fn platform(&self) -> Platform {
        let mut p = Platform::default();
        p.set_architecture(self.config.architecture().clone());
        p.set_os(self.config.os().clone());
        p.set_variant(self.config.variant().clone());
        p
    }

    /// `os/arch[/variant]`.
    pub fn platform_string(&self) -> String {
        let mut s = format!("{}/{}", self.config.os(), self.config.architecture());
        if let Some(v) = self.config.variant() {
            s.push('/');
            s.push_str(v);
        }
        s
    }
}

/// A reader that checks size and digest as the bytes go by and fails at the end if
/// either is off.
pub struct VerifyingReader<'a> {
    inner: io::Take<Box<dyn Read + Send + 'a>>,
    hasher: Sha256,
    read: u64,
    expected_size: u64,
    expected: String,
    done: bool,
}

impl VerifyingReader<'_> {
    /// Turns an I/O error from this reader back into the typed error it stands for.
    pub fn error(&self, e: io::Error) -> Error {
        unwrap_io(e, &self.expected)
    }
}

/// Carries typed blob errors through `io::Read`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct BlobError(Box<Error>);

pub(crate) fn unwrap_io(e: io::Error, what: &str) -> Error {
    if e.get_ref().is_some_and(|i| i.is::<BlobError>()) {
        let inner = e.into_inner().expect("checked");
        return *inner.downcast::<BlobError>().expect("checked").0;
    }
    Error::Read {
        what: what.to_string(),
        source: e,
    }
}

fn blob_io(e: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, BlobError(Box::new(e)))
}

impl Read for VerifyingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.expected_size {
            return Err(blob_io(Error::Oversized {
                digest: self.expected.clone(),
                expected: self.expected_size,
            }));
        }
        self.hasher.update(&buf[..n]);
        if n == 0 && !buf.is_empty() {
            self.done = true;
            if self.read < self.expected_size {
                return Err(blob_io(Error::Truncated {
                    digest: self.expected.clone(),
                    expected: self.expected_size,
                    found: self.read,
                }));
            }
            let actual = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
            if actual != self.expected {
                return Err(blob_io(Error::DigestMismatch {
                    expected: self.expected.clone(),
                    actual,
                }));
            }
        }
        Ok(n)
    }
}

/// Wraps a layer stream in the decompressor its media type (or, failing that, its first
/// bytes) calls for.
pub fn decompress<'a>(
    media_type: &MediaType,
    mut r: Box<dyn io::BufRead + Send + 'a>,
) -> Result<Box<dyn Read + Send + 'a>> {
    let m = media_type.to_string();
    let kind = if m.ends_with("gzip") {
        "gzip"
    } else if m.ends_with("zstd") {
        "zstd"
    } else if m.ends_with(".tar") || m.ends_with("diff.tar") {
        "tar"
    } else {
        let head = r.fill_buf().map_err(|e| Error::Read {
            what: format!("layer of media type {m}"),
            source: e,
        })?;
        sniff(head)
    };
    Ok(match kind {
        "gzip" => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        "zstd" => {
            Box::new(
                zstd::stream::read::Decoder::with_buffer(r).map_err(|e| Error::Read {
                    what: "zstd layer".into(),
                    source: e,
                })?,
            )
        }
        _ => Box::new(r),
    })
}

fn sniff(head: &[u8]) -> &'static str {
    if head.starts_with(&[0x1f, 0x8b]) {
        "gzip"
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "zstd"
    } else {
        "tar"
    }
}

/// Decompresses a whole in-memory layer (used when writing docker-archives).
pub(crate) fn decompress_all(media_type: &MediaType, data: &[u8], what: &str) -> Result<Vec<u8>> {
    let mut r = decompress(media_type, Box::new(data))?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).map_err(|e| unwrap_io(e, what))?;
    Ok(out)
}

// ---------------------------------------------------------------------------------
// OCI image layout directory

/// An OCI image layout directory.
pub struct LayoutSource {
    root: PathBuf,
    index: Vec<Descriptor>,
}

impl LayoutSource {
    pub fn open(root: &Path) -> Result<Self> {
        let layout = root.join("oci-layout");
        if !layout.is_file() {
            return Err(Error::NotFound(format!(
                "{} is not an OCI image layout (no oci-layout file)",
                root.display()
            )));
        }
        let index_path = root.join("index.json");
        let bytes = read_file_bounded(&index_path, MAX_JSON_BLOB)?;
        let index: ImageIndex = parse_json(&bytes, &index_path.display().to_string())?;
        Ok(LayoutSource {
            root: root.to_path_buf(),
            index: index.manifests().clone(),
        })
    }
}

/// Opens `path` only if it is a regular file: opening a FIFO would block forever, and a
/// device could be read without end. (The type is checked again on the open handle.)
fn open_regular(path: &Path) -> io::Result<Option<std::fs::File>> {
    let not_regular = || io::Error::new(io::ErrorKind::InvalidData, "not a regular file");
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(not_regular()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    let f = std::fs::File::open(path)?;
    if !f.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(Some(f))
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

impl ImageSource for LayoutSource {
    fn name(&self) -> String {
        format!("OCI layout {}", self.root.display())
    }

    fn index(&self) -> &[Descriptor] {
        &self.index
    }

    fn open_raw(&self, digest: &Digest) -> Result<Option<(Box<dyn Read + Send + '_>, u64)>> {
        // The digest type only admits [a-zA-Z0-9=_-] in the encoded part: no path tricks.
        let path = self
            .root
            .join("blobs")
            .join(digest.algorithm().as_ref())
            .join(digest.digest());
        match open_regular(&path) {
            Ok(Some(f)) => {
                let len = f.metadata().map_err(|e| Error::io(&path, e))?.len();
                Ok(Some((Box::new(f), len)))
            }
            Ok(None) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(Error::invalid(
                format!("blob {digest} ({})", path.display()),
                "not a regular file",
            )),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

// ---------------------------------------------------------------------------------
// Tar archives (oci-archive and docker-archive)

/// An oci-archive or docker-archive, read in place: entries are indexed once by
/// offset, never extracted.
pub struct ArchiveSource {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    entries: HashMap<String, (u64, u64)>,
    kind: ArchiveKind,
    index: Vec<Descriptor>,
    /// Blobs that exist only in memory: manifests synthesised for docker-archives.
    synthetic: HashMap<String, Vec<u8>>,
    /// Digest → archive path, for docker-archive blobs named by file name.
    by_digest: HashMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Oci,
    Docker,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

impl ArchiveSource {
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut magic = [0u8; 4];
        let n = file.read(&mut magic).map_err(|e| Error::io(path, e))?;
        if sniff(&magic[..n]) != "tar" {
            return Err(Error::Unsupported(format!(
                "{} is a compressed archive; decompress it first (for example with gunzip)",
                path.display()
            )));
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(path, e))?;
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
            let bytes = src.read_entry("index.json", MAX_JSON_BLOB)?;
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

    pub fn kind(&self) -> ArchiveKind {
        self.kind
    }

    fn entry_reader(&self, name: &str, limit: u64) -> Result<(Box<dyn Read + Send + '_>, u64)> {
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

    fn read_entry(&self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let (mut r, size) = self.entry_reader(name, limit)?;
        let mut v = Vec::with_capacity(size as usize);
        r.read_to_end(&mut v)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(v)
    }

    fn hash_entry(&self, name: &str, limit: u64) -> Result<(Digest, u64)> {
        let (r, _) = self.entry_reader(name, limit)?;
        hash_reader(r, limit).map_err(|e| Error::io(&self.path, e))
    }

    fn synthesise_docker(&mut self) -> Result<()> {
        let what = format!("manifest.json in {}", self.path.display());
        let bytes = self.read_entry("manifest.json", MAX_JSON_BLOB)?;
        let entries: Vec<DockerManifestEntry> = parse_json(&bytes, &what)?;
        let mut hashed: HashMap<String, (Digest, u64)> = HashMap::new();
        for e in entries {
            let config_name = normalize_archive_path(&e.config, &self.path)?;
            let (config_digest, config_size) = self.hash_entry(&config_name, MAX_JSON_BLOB)?;
            self.by_digest
                .insert(config_digest.to_string(), config_name);
            let mut layers = Vec::new();
            for l in &e.layers {
                let name = normalize_archive_path(l, &self.path)?;
                // A manifest.json may name one file many times: hash each file once.
                let (digest, size) = match hashed.get(&name) {
                    Some(v) => v.clone(),
                    None => {
                        let v = self.hash_entry(&name, MAX_LAYER_BLOB)?;
                        hashed.insert(name.clone(), v.clone());
                        v
                    }
                };
                let mut head = [0u8; 4];
                let n = {
                    let (mut r, _) = self.entry_reader(&name, MAX_LAYER_BLOB)?;
                    r.read(&mut head).map_err(|e| Error::io(&self.path, e))?
                };
                let media = match sniff(&head[..n]) {
                    "gzip" => MediaType::ImageLayerGzip,
                    "zstd" => MediaType::ImageLayerZstd,
                    _ => MediaType::ImageLayer,
                };
                self.by_digest.insert(digest.to_string(), name);
                layers.push(Descriptor::new(media, size, digest));
            }
            let manifest = oci_spec::image::ImageManifestBuilder::default()
                .schema_version(2u32)
                .media_type(MediaType::ImageManifest)
                .config(Descriptor::new(
                    MediaType::ImageConfig,
                    config_size,
                    config_digest,
                ))
                .layers(layers)
                .build()
                .map_err(|err| Error::invalid(what.clone(), err.to_string()))?;
            let bytes = canonical::to_vec(&manifest).map_err(|source| Error::Json {
                what: what.clone(),
                source,
            })?;
            let digest = hex_to_digest(&hex::encode(Sha256::digest(&bytes)));
            let mut d = Descriptor::new(MediaType::ImageManifest, bytes.len() as u64, digest);
            if let Some(tag) = e.repo_tags.as_ref().and_then(|t| t.first()) {
                d.set_annotations(Some(HashMap::from([(REF_NAME.to_string(), tag.clone())])));
            }
            self.synthetic.insert(d.digest().to_string(), bytes);
            self.index.push(d);
        }
        Ok(())
    }
}

/// Whether the file starts with a tar header whose checksum is right.
fn looks_like_tar(path: &Path) -> bool {
    let mut block = [0u8; 512];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut block))
        .is_ok();
    if !ok {
        return false;
    }
    let stored = std::str::from_utf8(&block[148..156])
        .ok()
        .and_then(|s| u32::from_str_radix(s.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok());
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    stored == Some(sum)
}

/// Normalises an archive entry name; `..` and absolute names are path traversal.
fn normalize_archive_path(name: &str, archive: &Path) -> Result<String> {
    let bad = |reason| Error::BadPath {
        path: name.to_string(),
        context: format!("archive {}", archive.display()),
        reason,
    };
    if name.starts_with('/') {
        return Err(bad("absolute path in an image archive"));
    }
    let mut parts = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(bad("`..` escapes the archive root")),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

fn index_tar(
    file: &mut std::fs::File,
    len: u64,
    path: &Path,
) -> Result<HashMap<String, (u64, u64)>> {
    let mut ar = tar::Archive::new(file);
    let mut out = HashMap::new();
    let mut links = Vec::new();
    let err = |e| Error::Read {
        what: format!("archive {}", path.display()),
        source: e,
    };
    for (i, entry) in ar.entries_with_seek().map_err(err)?.enumerate() {
        if i >= MAX_ARCHIVE_ENTRIES {
            return Err(Error::Limit(format!(
                "{} holds more than {MAX_ARCHIVE_ENTRIES} entries",
                path.display()
            )));
        }
        let entry = entry.map_err(err)?;
        let raw = entry.path_bytes();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let norm = normalize_archive_path(&name, path)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            // skopeo and podman write `ID/layer.tar -> ../DIGEST.tar`: symlink targets are
            // relative to the link's directory, hard link targets to the archive root.
            let resolved = match norm.rsplit_once('/') {
                Some((dir, _)) if kind.is_symlink() && !target.starts_with('/') => {
                    format!("{dir}/{target}")
                }
                _ => target.clone(),
            };
            links.push((norm, resolve_dots(&resolved, &target, path)?));
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let off = entry.raw_file_position();
        let size = entry.size();
        if off.checked_add(size).is_none_or(|end| end > len) {
            return Err(Error::TruncatedArchive {
                path: path.to_path_buf(),
                entry: name,
                expected: size,
                found: len.saturating_sub(off),
            });
        }
        out.insert(norm, (off, size));
    }
    // Links become aliases of the entries they name (chains of a few hops at most).
    for _ in 0..8 {
        let mut changed = false;
        for (name, target) in &links {
            if !out.contains_key(name)
                && let Some(&v) = out.get(target)
            {
                out.insert(name.clone(), v);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    Ok(out)
}

/// Folds `.` and `..` in a link target; a target that climbs above the root is traversal.
fn resolve_dots(joined: &str, original: &str, archive: &Path) -> Result<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::BadPath {
                        path: original.to_string(),
                        context: format!("archive {}", archive.display()),
                        reason: "link target escapes the archive root",
                    });
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
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

    fn open_raw(&self, digest: &Digest) -> Result<Option<(Box<dyn Read + Send + '_>, u64)>> {
        let key = digest.to_string();
        if let Some(b) = self.synthetic.get(&key) {
            return Ok(Some((Box::new(&b[..]), b.len() as u64)));
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
        self.entry_reader(&name, u64::MAX).map(Some)
    }
}

// ---------------------------------------------------------------------------------

/// Opens an image named the way users name them: `DIR`, `DIR:TAG`, `FILE.tar`, with an
/// optional skopeo-style transport prefix (`oci:`, `oci-archive:`, `docker-archive:`).
/// Returns the source and the tag, if one was given.
pub fn open_image(reference: &str) -> Result<(Box<dyn ImageSource>, Option<String>)> {
    let mut r = reference;
    for prefix in ["oci:", "oci-archive:", "docker-archive:"] {
        if let Some(rest) = r.strip_prefix(prefix) {
            r = rest;
            break;
        }
    }
    // `FILE:repo/name:tag` holds several colons: the path is the first prefix that exists.
    let candidates = std::iter::once((r, None)).chain(
        r.match_indices(':')
            .map(|(i, _)| (&r[..i], Some(r[i + 1..].to_string()))),
    );
    let Some((path, tag)) = candidates
        .filter(|(p, t)| !p.is_empty() && t.as_deref() != Some(""))
        .find(|(p, _)| Path::new(p).exists())
        .map(|(p, t)| (PathBuf::from(p), t))
    else {
        return Err(Error::NotFound(format!(
            "no image at `{reference}`: no such file or directory"
        )));
    };
    let src: Box<dyn ImageSource> = if path.is_dir() {
        Box::new(LayoutSource::open(&path)?)
    } else if !path.is_file() {
        // A FIFO or a device would block the read forever, or never end.
        return Err(Error::Invalid {
            what: path.display().to_string(),
            reason: "not a regular file or directory".into(),
        });
    } else {
        Box::new(ArchiveSource::open(&path)?)
    };
    // A docker-archive names images `repo:tag`: accept the bare tag too.
    Ok((src, tag))
}

#[cfg(test)]
mod tests {
    use super::tag_matches;

    #[test]
    fn tags_match_the_way_users_write_them() {
        assert!(tag_matches("latest", "latest"));
        assert!(tag_matches("docker.io/library/hello:1", "hello:1"));
        assert!(tag_matches("docker.io/repo/hello:v1", "repo/hello:v1"));
        assert!(tag_matches("localhost/hello:latest", "latest"));
        assert!(!tag_matches("localhost/hello:latest", "other/hello:latest"));
        assert!(!tag_matches("hello:1", "2"));
    }
}
