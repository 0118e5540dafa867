//! [`ImageFs`]: the squashed view of an image's layers, as a container would see it.
//!
//! Layers are applied bottom first. In each layer, whiteouts (`.wh.NAME`) delete `NAME`
//! from the layers below and an opaque marker (`.wh..wh..opq`) hides everything below its
//! directory; then the layer's own entries are laid on top. Nothing is written to disk
//! but, when asked for, the [layer cache](crate::layer_cache).
//! Entry count, total size and kept bytes are bounded, so a tar bomb ends in an error.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::layer_cache::LayerCache;
use crate::source::{ImageSource, ResolvedImage, RootfsSource, unwrap_io};
use crate::targuard::TarGuard;

/// What a [`Node`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link; the string is its target as written.
    Symlink(String),
    /// A hard link to another path (normalised, relative to the root).
    Hardlink(String),
    /// A character device node.
    CharDevice,
    /// A block device node.
    BlockDevice,
    /// A named pipe.
    Fifo,
}

/// One path of the squashed filesystem.
#[derive(Clone, Debug)]
pub struct Node {
    /// File, directory, link or special file.
    pub kind: NodeKind,
    /// Permission bits, with setuid, setgid and sticky (`mode & 0o7777`); no file type.
    pub mode: u32,
    /// Owner's numeric user id.
    pub uid: u64,
    /// Owner's numeric group id.
    pub gid: u64,
    /// Size in bytes of a regular file; 0 for every other kind.
    pub size: u64,
    /// Modification time, in seconds since the Unix epoch.
    pub mtime: u64,
    /// Index (bottom = 0) of the layer this path comes from.
    pub layer: usize,
    /// The file's bytes, when kept.
    pub content: Option<Arc<[u8]>>,
}

/// Decides, from a file's path, mode and bytes, whether kept bytes stay kept.
pub type RetainFn = fn(&str, u32, &[u8]) -> bool;

/// Bounds on what reading an image may cost.
#[derive(Clone, Debug)]
pub struct ImageFsOptions {
    /// Keep regular files' bytes up to this size each (0 keeps none).
    pub keep_files_up_to: u64,
    /// Total bytes kept in memory across all files.
    pub max_kept_bytes: u64,
    /// Most entries across all layers.
    pub max_entries: usize,
    /// Most uncompressed bytes read across all layers.
    pub max_uncompressed: u64,
    /// When set, only files for which `keep(path, mode)` is true are kept (path without
    /// a leading `/`).
    pub keep: Option<fn(&str, u32) -> bool>,
    /// When set, kept bytes are dropped again unless `retain(path, mode, bytes)` is true
    /// (e.g. executables that turn out not to be ELF).
    pub retain: Option<RetainFn>,
    /// When set, what reading each layer gave is cached by the layer's digests, and a
    /// cached layer is not read again (see [`LayerCache`]). The cache's tag must name
    /// `keep` and `retain`.
    pub cache: Option<LayerCache>,
}

impl Default for ImageFsOptions {
    fn default() -> Self {
        ImageFsOptions {
            keep_files_up_to: 0,
            max_kept_bytes: 2 << 30,
            max_entries: crate::limits::limits().files,
            max_uncompressed: crate::limits::limits().uncompressed,
            keep: None,
            retain: None,
            cache: None,
        }
    }
}

/// Most bytes accepted after a layer's tar end-of-archive blocks (record padding).
pub const MAX_TAR_TAIL: u64 = 1 << 20;

/// Longest path (and symlink target) a layer may hold, in bytes: the kernel's `PATH_MAX`.
pub const MAX_PATH: usize = 4096;
/// Most symlinks followed while resolving one path, as the kernel's limit.
pub const MAX_SYMLINK_HOPS: usize = 40;

/// The squashed filesystem of one image.
#[derive(Debug, Default)]
pub struct ImageFs {
    nodes: BTreeMap<String, Node>,
    warnings: Vec<String>,
}

impl ImageFs {
    /// Reads every layer of `image` from `src` and squashes them.
    ///
    /// With [`ImageFsOptions::cache`], a layer whose reading was cached (by its digest
    /// and diff_id, which the verified manifest and config name) is checked against its
    /// digest but neither inflated nor parsed, and every other layer read in full and
    /// verified is cached.
    pub fn open(
        src: &dyn ImageSource,
        image: &ResolvedImage,
        opts: &ImageFsOptions,
    ) -> Result<Self> {
        let mut fs = ImageFs::default();
        let mut budget = Budget::default();
        let layers = image.manifest.layers();
        let diff_ids = image.config.rootfs().diff_ids();
        let cache = opts.cache.as_ref();
        // A layer is cached only under both of its digests: the manifest names the
        // stored bytes, the config the tar stream they inflate to.
        let key = |i: usize| Some((layers[i].digest().to_string(), diff_ids.get(i)?.clone()));
        let hits: Vec<Option<ParsedLayer>> = (0..layers.len())
            .map(|i| cache.zip(key(i)).and_then(|(c, (d, id))| c.load(&d, &id)))
            .collect();
        // The next layers are read, verified and decompressed on other cores while this
        // one is squashed (about two thirds of a scan's time is inflating); squashing
        // itself stays in layer order on this thread. Cache entries are written on their
        // own threads, beside the reading.
        let window = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::thread::scope(|s| {
            crate::par::read_ahead(
                s,
                layers.len(),
                window,
                |i| {
                    if hits[i].is_some() {
                        // A hit is still the layer the manifest names: its stored bytes
                        // are read through the verifying reader (size and digest), only
                        // not inflated nor parsed again.
                        src.verify_blob(&layers[i], crate::limits::limits().layer_size)?;
                        return Ok(Box::new(std::io::empty()) as Box<dyn Read + Send>);
                    }
                    let r = src.open_layer(&layers[i], diff_ids.get(i).map(String::as_str))?;
                    Ok(Box::new(r) as Box<dyn Read + Send>)
                },
                |i, r| {
                    let desc = &layers[i];
                    let r: Box<dyn Read + Send> = match &hits[i] {
                        Some(hit) if fs.replay(i, hit, opts, &mut budget) => return Ok(()),
                        // The entry cannot stand in for the layer here (a bound of this
                        // image would be crossed, or the reader wants a file the entry
                        // lacks): read the layer itself, which also rewrites the entry.
                        Some(_) => {
                            Box::new(src.open_layer(desc, diff_ids.get(i).map(String::as_str))?)
                        }
                        None => Box::new(r),
                    };
                    let parsed = parse_layer(r, desc.digest().as_ref(), opts, &mut budget)
                        .map_err(|e| src.explain_layer_error(desc, e))?;
                    match cache.zip(key(i)) {
                        Some((cache, (digest, diff_id))) if parsed.cacheable => {
                            fs.apply_parsed(i, parsed.clone());
                            // A cache that cannot be written is no error: the next
                            // read reads the layer.
                            s.spawn(move || {
                                let _ = cache.store(&digest, &diff_id, &parsed);
                            });
                        }
                        _ => fs.apply_parsed(i, parsed),
                    }
                    Ok(())
                },
            )
        })?;
        Ok(fs)
    }

    /// Reads a plain root filesystem (a directory or a tarball) as a one-layer image.
    pub fn from_rootfs(rootfs: &RootfsSource, opts: &ImageFsOptions) -> Result<Self> {
        match rootfs.open_tar()? {
            None => ImageFs::from_dir(rootfs.path(), opts),
            Some(r) => {
                let mut fs = ImageFs::default();
                fs.apply_tar(0, r, &rootfs.name(), opts)?;
                Ok(fs)
            }
        }
    }

    /// Reads a plain root filesystem directory as a one-layer image. Symlinks are
    /// recorded, never followed; sockets are skipped; the same limits apply as to layers.
    pub fn from_dir(root: &std::path::Path, opts: &ImageFsOptions) -> Result<Self> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let mut fs = ImageFs::default();
        let mut budget = Budget::default();
        let io = |path: &std::path::Path, source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut stack = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let rd = fs_err::read_dir(&dir).map_err(|e| io(&dir, e))?;
            let mut entries: Vec<_> = rd
                .collect::<std::io::Result<_>>()
                .map_err(|e| io(&dir, e))?;
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let path = e.path();
                let Some(name) = e.file_name().to_str().map(String::from) else {
                    fs.warnings.push(format!(
                        "skipped `{}`: its name is not UTF-8",
                        path.display()
                    ));
                    continue;
                };
                let relpath = join(&rel, &name);
                budget.entries += 1;
                if budget.entries > opts.max_entries {
                    return Err(Error::Limit(format!(
                        "more than {} entries under {}",
                        opts.max_entries,
                        root.display()
                    )));
                }
                let md = fs_err::symlink_metadata(&path).map_err(|e| io(&path, e))?;
                let ft = md.file_type();
                let mut content = None;
                let kind = if ft.is_dir() {
                    stack.push((path.clone(), relpath.clone()));
                    NodeKind::Dir
                } else if ft.is_symlink() {
                    let t = fs_err::read_link(&path).map_err(|e| io(&path, e))?;
                    NodeKind::Symlink(t.to_string_lossy().into_owned())
                } else if ft.is_file() {
                    let size = md.len();
                    let mode = md.mode() & 0o7777;
                    if size <= opts.keep_files_up_to
                        && budget.kept + size <= opts.max_kept_bytes
                        && opts.keep.is_none_or(|keep| keep(&relpath, mode))
                    {
                        let mut buf = Vec::with_capacity(size.min(64 << 20) as usize);
                        fs_err::File::open(&path)
                            .and_then(|f| f.take(size).read_to_end(&mut buf))
                            .map_err(|e| io(&path, e))?;
                        if opts
                            .retain
                            .is_none_or(|retain| retain(&relpath, mode, &buf))
                        {
                            budget.kept += buf.len() as u64;
                            content = Some(Arc::from(buf));
                        }
                    }
                    NodeKind::File
                } else if ft.is_char_device() {
                    NodeKind::CharDevice
                } else if ft.is_block_device() {
                    NodeKind::BlockDevice
                } else if ft.is_fifo() {
                    NodeKind::Fifo
                } else {
                    fs.warnings
                        .push(format!("skipped `{}`: a socket", path.display()));
                    continue;
                };
                fs.nodes.insert(
                    relpath,
                    Node {
                        size: if kind == NodeKind::File { md.len() } else { 0 },
                        kind,
                        mode: md.mode() & 0o7777,
                        uid: md.uid().into(),
                        gid: md.gid().into(),
                        mtime: md.mtime().max(0) as u64,
                        layer: 0,
                        content,
                    },
                );
            }
        }
        Ok(fs)
    }

    /// Squashes one more layer (a tar stream) on top; `layer` is its index.
    pub fn apply_tar(
        &mut self,
        layer: usize,
        r: impl Read,
        name: &str,
        opts: &ImageFsOptions,
    ) -> Result<()> {
        let mut budget = Budget {
            entries: self.nodes.len(),
            ..Budget::default()
        };
        let parsed = parse_layer(r, name, opts, &mut budget)?;
        self.apply_parsed(layer, parsed);
        Ok(())
    }

    /// Lays a layer read by [`parse_layer`] (or from the cache) on top: its opaque
    /// markers and whiteouts first, then its entries.
    fn apply_parsed(&mut self, layer: usize, parsed: ParsedLayer) {
        self.warnings.extend(parsed.warnings);
        for dir in &parsed.opaque {
            self.remove_children(dir);
        }
        for path in &parsed.whiteouts {
            self.remove_tree(path);
        }
        for ParsedEntry { path, node, .. } in parsed.entries {
            self.ensure_parents(&path, layer);
            if node.kind != NodeKind::Dir {
                self.remove_children(&path);
            }
            self.nodes.insert(path, Node { layer, ..node });
        }
    }

    /// Lays a cached layer on top when it gives exactly what reading the layer would:
    /// every bound of `opts` still holds with this layer counted, and every file `opts`
    /// keeps was kept in the entry. Returns false, changing nothing, otherwise.
    fn replay(
        &mut self,
        layer: usize,
        cached: &ParsedLayer,
        opts: &ImageFsOptions,
        budget: &mut Budget,
    ) -> bool {
        let st = &cached.stats;
        let read = budget.read.saturating_add(st.read);
        let tail_left = opts.max_uncompressed.saturating_sub(read).min(MAX_TAR_TAIL);
        if budget.entries.saturating_add(st.entries) > opts.max_entries
            || read > opts.max_uncompressed
            || budget.path_bytes.saturating_add(st.path_bytes) > MAX_PATH_BYTES
            || st.tail > tail_left
        {
            return false;
        }
        let wanted = |e: &ParsedEntry| {
            e.node.kind == NodeKind::File
                && e.declared <= opts.keep_files_up_to
                && opts.keep.is_none_or(|keep| keep(&e.path, e.node.mode))
        };
        let mut want_bytes = 0u64;
        for e in cached.entries.iter().filter(|e| wanted(e)) {
            if !e.read {
                return false; // the entry was written for a reader that kept less
            }
            want_bytes = want_bytes.saturating_add(e.declared);
        }
        if budget.kept.saturating_add(want_bytes) > opts.max_kept_bytes {
            return false;
        }
        budget.entries += st.entries;
        budget.read = read;
        budget.path_bytes += st.path_bytes;
        let mut parsed = ParsedLayer {
            entries: Vec::with_capacity(cached.entries.len()),
            whiteouts: cached.whiteouts.clone(),
            opaque: cached.opaque.clone(),
            warnings: cached.warnings.clone(),
            stats: cached.stats.clone(),
            cacheable: false,
        };
        for e in &cached.entries {
            let mut node = e.node.clone();
            if !wanted(e) {
                node.content = None;
            } else if let Some(bytes) = &node.content {
                if opts
                    .retain
                    .is_none_or(|retain| retain(&e.path, node.mode, bytes))
                {
                    budget.kept += bytes.len() as u64;
                } else {
                    node.content = None;
                }
            }
            parsed.entries.push(ParsedEntry {
                path: e.path.clone(),
                node,
                read: e.read,
                declared: e.declared,
            });
        }
        self.apply_parsed(layer, parsed);
        true
    }

    /// Creates the missing parent directories of `path`. Every node's parents exist, so
    /// the walk goes up from the nearest parent and stops at the first directory found:
    /// one lookup for an entry whose parent is there (the usual case), not one per
    /// component (which made 10,000 nested directories quadratic).
    fn ensure_parents(&mut self, path: &str, layer: usize) {
        let mut missing = Vec::new();
        let mut p = path;
        while let Some((parent, _)) = p.rsplit_once('/') {
            if matches!(self.nodes.get(parent).map(|n| &n.kind), Some(NodeKind::Dir)) {
                break;
            }
            missing.push(parent);
            p = parent;
        }
        for p in missing {
            self.nodes.insert(
                p.to_string(),
                Node {
                    kind: NodeKind::Dir,
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                    size: 0,
                    mtime: 0,
                    layer,
                    content: None,
                },
            );
        }
    }

    fn remove_children(&mut self, dir: &str) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    fn remove_tree(&mut self, path: &str) {
        self.nodes.remove(path);
        self.remove_children(path);
    }

    /// The node at `path` (leading `/` optional), without following symlinks.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path.trim_start_matches('/'))
    }

    /// All paths, sorted, without a leading `/`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of paths.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the filesystem has no path at all.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// What was skipped while reading, one line each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Total size of the regular files.
    pub fn file_bytes(&self) -> u64 {
        self.nodes
            .values()
            .filter(|n| n.kind == NodeKind::File)
            .map(|n| n.size)
            .sum()
    }

    /// Resolves `path` the way the kernel would inside a chroot: symlinks are followed
    /// (at most [`MAX_SYMLINK_HOPS`]) and can never leave the root, and a path longer than
    /// [`MAX_PATH`] resolves to nothing (`ENAMETOOLONG`). Returns the final path.
    ///
    /// Linear in what it reads: the resolved prefix is one string that components are
    /// appended to and cut from, not joined again at every step.
    pub fn resolve(&self, path: &str) -> Option<String> {
        if path.len() > MAX_PATH {
            return None;
        }
        let mut hops = 0;
        // Components still to walk, last first, borrowed from `path` and link targets.
        let mut todo: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).rev().collect();
        let mut cur = String::new();
        let mut ends: Vec<usize> = Vec::new(); // where each component of `cur` starts
        while let Some(c) = todo.pop() {
            match c {
                "." => continue,
                ".." => {
                    if let Some(start) = ends.pop() {
                        cur.truncate(start.saturating_sub(1));
                    }
                    continue;
                }
                _ => {}
            }
            let start = if cur.is_empty() { 0 } else { cur.len() + 1 };
            if !cur.is_empty() {
                cur.push('/');
            }
            cur.push_str(c);
            ends.push(start);
            if cur.len() > MAX_PATH {
                return None;
            }
            if let Some(Node {
                kind: NodeKind::Symlink(target),
                ..
            }) = self.nodes.get(cur.as_str())
            {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return None;
                }
                ends.pop();
                cur.truncate(start.saturating_sub(1));
                if target.starts_with('/') {
                    cur.clear();
                    ends.clear();
                }
                todo.extend(target.split('/').filter(|c| !c.is_empty()).rev());
            }
        }
        (cur.is_empty() || self.nodes.contains_key(&cur)).then_some(cur)
    }

    /// The bytes of the regular file at `path` (following symlinks and hard links), if kept.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        let p = self.resolve(path)?;
        let mut node = self.nodes.get(&p)?;
        if let NodeKind::Hardlink(t) = &node.kind {
            node = self.nodes.get(t)?;
        }
        node.content.as_deref()
    }
}

/// Most bytes of paths (and link targets) held across an image's files: with
/// [`MAX_PATH`] and the file count, what bounds the squashed view's memory.
pub const MAX_PATH_BYTES: u64 = 256 << 20;

#[derive(Default)]
struct Budget {
    path_bytes: u64,
    entries: usize,
    kept: u64,
    read: u64,
}

/// What reading one layer gave, before it is laid on the layers below: the unit the
/// layer cache stores. It depends on the layer's bytes and the reader options only,
/// never on the layers below (bounds across layers are checked again on a replay).
#[derive(Clone, Debug, Default)]
pub(crate) struct ParsedLayer {
    /// The layer's entries in tar order; `node.layer` is set when applied.
    pub(crate) entries: Vec<ParsedEntry>,
    /// Paths the layer's whiteouts delete.
    pub(crate) whiteouts: Vec<String>,
    /// Directories whose lower contents the layer's opaque markers hide.
    pub(crate) opaque: Vec<String>,
    /// What was skipped while reading the layer.
    pub(crate) warnings: Vec<String>,
    /// What the layer counts against the image's bounds.
    pub(crate) stats: LayerStats,
    /// Whether every file the options wanted was read (none refused by the bound on
    /// kept bytes, which depends on the layers below): only then may it be cached.
    pub(crate) cacheable: bool,
}

/// One entry of a [`ParsedLayer`].
#[derive(Clone, Debug)]
pub(crate) struct ParsedEntry {
    /// Normalised path, no leading `/`.
    pub(crate) path: String,
    /// The node, with its bytes when kept.
    pub(crate) node: Node,
    /// Whether the reader read the file's bytes to decide on keeping them (so that
    /// `content: None` means the retain rule dropped them).
    pub(crate) read: bool,
    /// The size the tar header declares (what the bounds on kept bytes count; a
    /// contiguous file's `node.size` is 0).
    pub(crate) declared: u64,
}

/// What one layer counts against an image's bounds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LayerStats {
    /// Tar entries, every kind.
    pub(crate) entries: usize,
    /// Uncompressed bytes the entries declare.
    pub(crate) read: u64,
    /// Bytes of paths and link targets.
    pub(crate) path_bytes: u64,
    /// Bytes after the tar's end-of-archive blocks.
    pub(crate) tail: u64,
}

/// Reads one layer's tar stream to its end (so that a verifying reader has checked it)
/// without touching any view; `budget` carries the image's bounds across layers.
fn parse_layer(
    r: impl Read,
    name: &str,
    opts: &ImageFsOptions,
    budget: &mut Budget,
) -> Result<ParsedLayer> {
    let what = format!("layer {name}");
    let mut ar = tar::Archive::new(TarGuard::new(r, what.clone(), None));
    let mut out = ParsedLayer {
        cacheable: true,
        ..ParsedLayer::default()
    };
    let start = (budget.entries, budget.read, budget.path_bytes);
    let read_err = |e: std::io::Error| unwrap_io(e, &what);
    for entry in ar.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        budget.entries += 1;
        if budget.entries > opts.max_entries {
            return Err(Error::Limit(format!(
                "more than {} entries in the image (at {what})",
                opts.max_entries
            )));
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if raw.len() > MAX_PATH {
            return Err(Error::Limit(format!(
                "{what} holds a path of {} bytes; paths are capped at {MAX_PATH} bytes (the kernel's PATH_MAX)",
                raw.len()
            )));
        }
        let Some(path) = normalize(&raw, &raw, &what, &mut out.warnings) else {
            continue;
        };
        budget.path_bytes +=
            raw.len() as u64 + entry.link_name_bytes().map_or(0, |l| l.len() as u64);
        if budget.path_bytes > MAX_PATH_BYTES {
            return Err(Error::Limit(format!(
                "the layers' paths and link targets hold more than {MAX_PATH_BYTES} bytes (at `{raw}` in {what})"
            )));
        }
        let h = entry.header();
        let size = entry.size();
        budget.read = budget.read.saturating_add(size);
        if budget.read > opts.max_uncompressed {
            return Err(Error::Limit(format!(
                "the layers declare more than {} uncompressed bytes (at `{raw}` in {what})",
                opts.max_uncompressed
            )));
        }
        let (parent, base) = match path.rsplit_once('/') {
            Some((p, b)) => (p.to_string(), b),
            None => (String::new(), path.as_str()),
        };
        if base == ".wh..wh..opq" {
            out.opaque.push(parent);
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            out.whiteouts.push(join(&parent, hidden));
            continue;
        }
        let link = |e: &tar::Entry<_>| -> Result<String> {
            let target = e
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if target.len() > MAX_PATH {
                return Err(Error::Limit(format!(
                    "`{raw}` in {what} links to a path of {} bytes; link targets are capped at {MAX_PATH} bytes (the kernel's PATH_MAX)",
                    target.len()
                )));
            }
            Ok(target)
        };
        let t = h.entry_type();
        let kind = if t.is_dir() {
            NodeKind::Dir
        } else if t.is_symlink() {
            NodeKind::Symlink(link(&entry)?)
        } else if t.is_hard_link() {
            let target = link(&entry)?;
            match normalize(&target, &path, &what, &mut out.warnings) {
                Some(t) => NodeKind::Hardlink(t),
                None => continue,
            }
        } else if t.is_character_special() {
            NodeKind::CharDevice
        } else if t.is_block_special() {
            NodeKind::BlockDevice
        } else if t.is_fifo() {
            NodeKind::Fifo
        } else if t.is_file() || t == tar::EntryType::Continuous {
            NodeKind::File
        } else {
            continue; // pax headers and the like are consumed by the tar reader
        };
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let uid = h.uid().unwrap_or(0);
        let gid = h.gid().unwrap_or(0);
        let mtime = h.mtime().unwrap_or(0);
        let mut content = None;
        let mut read = false;
        if kind == NodeKind::File
            && size <= opts.keep_files_up_to
            && opts.keep.is_none_or(|keep| keep(&path, mode))
        {
            if budget.kept + size <= opts.max_kept_bytes {
                let mut buf = Vec::with_capacity(size.min(64 << 20) as usize);
                (&mut entry)
                    .take(size)
                    .read_to_end(&mut buf)
                    .map_err(read_err)?;
                read = true;
                if opts.retain.is_none_or(|retain| retain(&path, mode, &buf)) {
                    budget.kept += buf.len() as u64;
                    content = Some(Arc::from(buf));
                }
            } else {
                out.cacheable = false;
            }
        }
        out.entries.push(ParsedEntry {
            path,
            node: Node {
                kind,
                mode,
                uid,
                gid,
                size: if t.is_file() { size } else { 0 },
                mtime,
                layer: 0,
                content,
            },
            read,
            declared: size,
        });
    }
    // Read the stream to its end before applying anything: a blob's size and digest
    // are checked at its end, past the tar's end-of-archive blocks and padding, so a
    // layer that does not match its descriptor leaves the view untouched.
    // What follows a tar's end-of-archive blocks is padding to its last record (10 KiB
    // for GNU tar's default blocking); a stream that goes on for more than
    // MAX_TAR_TAIL is a decompression bomb or a smuggled payload, refused at once
    // rather than inflated to the uncompressed limit.
    let left = opts
        .max_uncompressed
        .saturating_sub(budget.read)
        .min(MAX_TAR_TAIL);
    let mut rest = ar.into_inner().into_inner();
    let tail =
        std::io::copy(&mut (&mut rest).take(left + 1), &mut std::io::sink()).map_err(read_err)?;
    if tail > left {
        return Err(Error::Limit(format!(
            "{what} goes on for more than {left} bytes after the end of its tar archive"
        )));
    }
    out.stats = LayerStats {
        entries: budget.entries - start.0,
        read: budget.read - start.1,
        path_bytes: budget.path_bytes - start.2,
        tail,
    };
    Ok(out)
}

/// Normalises `raw`; on `..`, records a warning naming `entry` (the skipped path).
fn normalize(raw: &str, entry: &str, what: &str, warnings: &mut Vec<String>) -> Option<String> {
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                warnings.push(if raw == entry {
                    format!("skipped `{raw}` in {what}: `..` would escape the image root")
                } else {
                    format!("skipped `{entry}` in {what}: its link target `{raw}` would escape the image root")
                });
                return None;
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return None; // the root itself
    }
    Some(parts.join("/"))
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::{TarItem, file_entry, tar_of, tar_with};

    /// (path, file content or None for a directory, symlink target)
    type Spec<'a> = (&'a str, Option<&'a [u8]>, Option<&'a str>);

    fn tar(entries: &[Spec]) -> Vec<u8> {
        let items: Vec<(&str, TarItem)> = entries
            .iter()
            .map(|&(path, data, link)| match (data, link) {
                (_, Some(l)) => (path, TarItem::Link(l)),
                (Some(d), None) => (path, TarItem::File(d)),
                (None, None) => (path, TarItem::Dir),
            })
            .collect();
        tar_of(&items)
    }

    fn opts() -> ImageFsOptions {
        ImageFsOptions {
            keep_files_up_to: 1 << 20,
            ..Default::default()
        }
    }

    #[test]
    fn whiteouts_and_opaque_dirs_hide_lower_layers() {
        let mut fs = ImageFs::default();
        let l0 = tar(&[
            ("etc/", None, None),
            ("etc/a", Some(b"a"), None),
            ("etc/b", Some(b"b"), None),
            ("var/lib/x/", None, None),
            ("var/lib/x/1", Some(b"1"), None),
            ("keep", Some(b"k"), None),
        ]);
        fs.apply_tar(0, &l0[..], "l0", &opts()).unwrap();
        let l1 = tar(&[
            ("etc/.wh.a", Some(b""), None),
            ("var/lib/x/.wh..wh..opq", Some(b""), None),
            ("var/lib/x/2", Some(b"2"), None),
        ]);
        fs.apply_tar(1, &l1[..], "l1", &opts()).unwrap();
        let paths: Vec<&str> = fs.iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "etc",
                "etc/b",
                "keep",
                "var",
                "var/lib",
                "var/lib/x",
                "var/lib/x/2"
            ]
        );
        assert_eq!(fs.get("/var/lib/x/2").unwrap().layer, 1);
        assert_eq!(fs.read("keep"), Some(&b"k"[..]));
    }

    #[test]
    fn file_replacing_a_directory_drops_its_children() {
        let mut fs = ImageFs::default();
        fs.apply_tar(
            0,
            &tar(&[("d/", None, None), ("d/x", Some(b"x"), None)])[..],
            "l0",
            &opts(),
        )
        .unwrap();
        fs.apply_tar(
            1,
            &tar(&[("d", Some(b"now a file"), None)])[..],
            "l1",
            &opts(),
        )
        .unwrap();
        assert!(fs.get("d/x").is_none());
        assert_eq!(fs.get("d").unwrap().kind, NodeKind::File);
    }

    #[test]
    fn symlinks_resolve_inside_the_root_only() {
        let mut fs = ImageFs::default();
        let l = tar(&[
            ("etc/", None, None),
            ("etc/passwd", Some(b"root"), None),
            ("up", None, Some("../../../../etc")),
            ("abs", None, Some("/etc/passwd")),
            ("loop1", None, Some("loop2")),
            ("loop2", None, Some("loop1")),
        ]);
        fs.apply_tar(0, &l[..], "l", &opts()).unwrap();
        assert_eq!(fs.resolve("up/passwd").as_deref(), Some("etc/passwd"));
        assert_eq!(fs.read("abs"), Some(&b"root"[..]));
        assert_eq!(fs.resolve("loop1"), None);
    }

    /// A chain of 40 symlinks resolves, as in the kernel; 41 do not; `..` and `.` inside
    /// targets are followed component by component.
    #[test]
    fn symlinks_resolve_through_40_hops_and_no_more() {
        for (links, resolves) in [(40usize, true), (41, false)] {
            // l0 → l1 → … → l(links-1) → etc/passwd: `links` symlinks to follow.
            let names: Vec<String> = (0..links).map(|i| format!("l{i}")).collect();
            let targets: Vec<String> = (1..links)
                .map(|i| format!("./x/../l{i}"))
                .chain(["/etc/passwd".to_string()])
                .collect();
            let mut spec: Vec<Spec> = vec![("etc/", None, None), ("x/", None, None)];
            spec.push(("etc/passwd", Some(b"root"), None));
            for (name, target) in names.iter().zip(&targets) {
                spec.push((name, None, Some(target)));
            }
            let mut fs = ImageFs::default();
            fs.apply_tar(0, &tar(&spec)[..], "l", &opts()).unwrap();
            assert_eq!(fs.read("l0").is_some(), resolves, "{links} links");
        }
    }

    #[test]
    fn over_long_paths_resolve_to_nothing() {
        let mut fs = ImageFs::default();
        let l = tar(&[("etc/", None, None), ("etc/passwd", Some(b"root"), None)]);
        fs.apply_tar(0, &l[..], "l", &opts()).unwrap();
        let long = "./".repeat(3000) + "etc/passwd";
        assert_eq!(fs.resolve(&long), None);
        let fine = "./".repeat(1000) + "etc/../etc/passwd";
        assert_eq!(fs.resolve(&fine).as_deref(), Some("etc/passwd"));
    }

    #[test]
    fn traversal_entries_are_skipped_with_a_warning() {
        let mut fs = ImageFs::default();
        // A `../evil` name written by hand: tar::Builder refuses to.
        let raw = tar_with(
            &tar(&[("okay", Some(b"x"), None)]),
            vec![file_entry("../evil", b"")],
        );
        fs.apply_tar(0, &raw[..], "l", &opts()).unwrap();
        assert_eq!(fs.len(), 1);
        assert!(fs.warnings()[0].contains("../evil"), "{:?}", fs.warnings());
    }

    #[test]
    fn entry_limit_stops_a_tar_bomb() {
        let names: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
        let entries: Vec<Spec> = names
            .iter()
            .map(|n| (n.as_str(), Some(&b""[..]), None))
            .collect();
        let mut fs = ImageFs::default();
        let o = ImageFsOptions {
            max_entries: 10,
            ..opts()
        };
        assert!(matches!(
            fs.apply_tar(0, &tar(&entries)[..], "l", &o),
            Err(Error::Limit(_))
        ));
    }
}
