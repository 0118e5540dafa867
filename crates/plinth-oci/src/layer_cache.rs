//! A cache of what reading a layer gave, keyed by the layer's digests (as trivy keeps
//! one): a second read of an image reads no layer whose entry is there.
//!
//! A digest names its bytes, so what a verified read of those bytes gave is what any
//! later read would give. An entry holds everything [`ImageFs`](crate::ImageFs) takes
//! from a layer: every path with its kind, link target, mode, owner, size and time; the
//! whiteouts and opaque markers; the warnings; what the layer counts against the
//! image's bounds; and the bytes of the files the reader kept (before the retain rule,
//! for the files it dropped, only that it did). Squashing cached layers therefore gives
//! exactly what squashing the layers gives; a replay that would not (a bound crossed,
//! a file wanted that the entry lacks) reads the layer instead.
//!
//! Entries are written only after a layer was read to its end through the verifying
//! reader (so its compressed digest and diff_id were checked), never for a layer that
//! failed. The key is the manifest's layer digest, the config's diff_id (both from the
//! verified manifest and config), the entry format and the reader's tag (which names
//! what the reader keeps). A hit still reads the stored blob through the verifying
//! reader (size and digest: a blob changed on disk since is refused as without the
//! cache), which costs a hash of the compressed bytes, not their inflating and parsing.
//! Each entry is one file,
//! written to a temporary file and renamed into place; a missing, truncated or corrupt
//! one (a CRC-32 covers it all) is a miss, and is written again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::fs::{LayerStats, Node, NodeKind, ParsedEntry, ParsedLayer};

/// The entry format; a change in what an entry holds or means bumps it.
const FORMAT: u32 = 1;
/// First bytes of every entry.
const MAGIC: &[u8; 8] = b"PLNTHLC\n";
/// Largest entry read back (bytes kept are bounded by the reader options anyway).
const MAX_ENTRY: u64 = 4 << 30;

/// Where layer entries live, and which reader they are for.
#[derive(Clone, Debug)]
pub struct LayerCache {
    dir: PathBuf,
    tag: String,
}

impl LayerCache {
    /// A cache in `dir` for a reader named `tag`. The tag must change whenever the
    /// reader's `keep` or `retain` rules do (readers with different tags never share
    /// entries).
    pub fn new(dir: impl Into<PathBuf>, tag: impl Into<String>) -> Self {
        LayerCache {
            dir: dir.into(),
            tag: tag.into(),
        }
    }

    /// The default place: `layers/` in Plinth's cache directory.
    pub fn default_dir() -> PathBuf {
        plinth_core::dirs::cache_root().join("layers")
    }

    /// The directory entries are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of the entry for the layer `digest` whose tar stream is `diff_id`.
    pub fn entry_path(&self, digest: &str, diff_id: &str) -> PathBuf {
        let mut h = Sha256::new();
        for part in [
            &FORMAT.to_le_bytes()[..],
            self.tag.as_bytes(),
            digest.as_bytes(),
            diff_id.as_bytes(),
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        self.dir.join(hex::encode(h.finalize()))
    }

    /// The entry for the layer, when there is a sound one.
    pub(crate) fn load(&self, digest: &str, diff_id: &str) -> Option<ParsedLayer> {
        let bytes =
            plinth_core::files::read_regular(&self.entry_path(digest, diff_id), MAX_ENTRY).ok()?;
        let layer = decode(&bytes)?;
        (layer.0.tag == self.tag && layer.0.digest == digest && layer.0.diff_id == diff_id)
            .then_some(layer.1)
    }

    /// Writes the entry for the layer (atomically: a reader sees all of it or none).
    pub(crate) fn store(
        &self,
        digest: &str,
        diff_id: &str,
        layer: &ParsedLayer,
    ) -> std::io::Result<()> {
        let bytes = encode(&self.tag, digest, diff_id, layer);
        fs_err::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(plinth_core::dirs::umask_mode(0o666))
            .tempfile_in(&self.dir)?;
        tmp.write_all(&bytes)?;
        tmp.persist(self.entry_path(digest, diff_id))
            .map_err(|e| e.error)?;
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct Index {
    tag: String,
    digest: String,
    diff_id: String,
    entries: u64,
    read: u64,
    path_bytes: u64,
    tail: u64,
    warnings: Vec<String>,
    whiteouts: Vec<String>,
    opaque: Vec<String>,
    nodes: Vec<Rec>,
}

#[derive(Serialize, Deserialize)]
struct Rec {
    path: String,
    kind: u8,
    link: String,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    read: bool,
    declared: u64,
    /// Length of the kept bytes, which follow the index in entry order.
    kept: Option<u64>,
}

/// The entry: magic, format, index length, index (postcard), kept bytes, CRC-32.
fn encode(tag: &str, digest: &str, diff_id: &str, layer: &ParsedLayer) -> Vec<u8> {
    let nodes = layer
        .entries
        .iter()
        .map(|e| {
            let (kind, link) = match &e.node.kind {
                NodeKind::File => (0, ""),
                NodeKind::Dir => (1, ""),
                NodeKind::Symlink(t) => (2, t.as_str()),
                NodeKind::Hardlink(t) => (3, t.as_str()),
                NodeKind::CharDevice => (4, ""),
                NodeKind::BlockDevice => (5, ""),
                NodeKind::Fifo => (6, ""),
            };
            Rec {
                path: e.path.clone(),
                kind,
                link: link.to_string(),
                mode: e.node.mode,
                uid: e.node.uid,
                gid: e.node.gid,
                size: e.node.size,
                mtime: e.node.mtime,
                read: e.read,
                declared: e.declared,
                kept: e.node.content.as_ref().map(|c| c.len() as u64),
            }
        })
        .collect();
    let st = &layer.stats;
    let index = Index {
        tag: tag.to_string(),
        digest: digest.to_string(),
        diff_id: diff_id.to_string(),
        entries: st.entries as u64,
        read: st.read,
        path_bytes: st.path_bytes,
        tail: st.tail,
        warnings: layer.warnings.clone(),
        whiteouts: layer.whiteouts.clone(),
        opaque: layer.opaque.clone(),
        nodes,
    };
    let index = postcard::to_allocvec(&index).expect("serialising to memory cannot fail");
    let kept: usize = layer
        .entries
        .iter()
        .filter_map(|e| e.node.content.as_ref().map(|c| c.len()))
        .sum();
    let mut out = Vec::with_capacity(MAGIC.len() + 16 + index.len() + kept);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&(index.len() as u64).to_le_bytes());
    out.extend_from_slice(&index);
    for c in layer.entries.iter().filter_map(|e| e.node.content.as_ref()) {
        out.extend_from_slice(c);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads an entry back; `None` for anything malformed.
fn decode(bytes: &[u8]) -> Option<(Index, ParsedLayer)> {
    let (body, crc) = bytes.split_last_chunk::<4>()?;
    if crc32fast::hash(body) != u32::from_le_bytes(*crc) {
        return None;
    }
    let rest = body.strip_prefix(MAGIC)?;
    let (format, rest) = rest.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*format) != FORMAT {
        return None;
    }
    let (len, rest) = rest.split_first_chunk::<8>()?;
    let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
    if len > rest.len() {
        return None;
    }
    let (index, mut data) = rest.split_at(len);
    let mut index: Index = postcard::from_bytes(index).ok()?;
    let mut entries = Vec::with_capacity(index.nodes.len());
    for r in std::mem::take(&mut index.nodes) {
        let kind = match r.kind {
            0 => NodeKind::File,
            1 => NodeKind::Dir,
            2 => NodeKind::Symlink(r.link),
            3 => NodeKind::Hardlink(r.link),
            4 => NodeKind::CharDevice,
            5 => NodeKind::BlockDevice,
            6 => NodeKind::Fifo,
            _ => return None,
        };
        let content = match r.kept {
            None => None,
            Some(n) => {
                let n = usize::try_from(n).ok()?;
                if n > data.len() || kind != NodeKind::File {
                    return None;
                }
                let (c, tail) = data.split_at(n);
                data = tail;
                Some(Arc::<[u8]>::from(c))
            }
        };
        entries.push(ParsedEntry {
            path: r.path,
            node: Node {
                kind,
                mode: r.mode,
                uid: r.uid,
                gid: r.gid,
                size: r.size,
                mtime: r.mtime,
                layer: 0,
                content,
            },
            read: r.read,
            declared: r.declared,
        });
    }
    if !data.is_empty() {
        return None;
    }
    let layer = ParsedLayer {
        entries,
        whiteouts: std::mem::take(&mut index.whiteouts),
        opaque: std::mem::take(&mut index.opaque),
        warnings: std::mem::take(&mut index.warnings),
        stats: LayerStats {
            entries: usize::try_from(index.entries).ok()?,
            read: index.read,
            path_bytes: index.path_bytes,
            tail: index.tail,
        },
        cacheable: false,
    };
    Some((index, layer))
}
