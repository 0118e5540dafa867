//! Helpers for tests that break images on purpose (compiled only with the `testing`
//! feature): digests, gzip, tar entries written byte for byte, and an OCI layout that is
//! edited consistently, every changed blob re-digested up through config, manifest and
//! `index.json`, so that a reader has to find the one thing a test got wrong.
//!
//! These are for tests: every function panics, naming the path, when something it does
//! fails.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Media type of an image index.
pub const INDEX_MEDIA: &str = "application/vnd.oci.image.index.v1+json";

/// One tar entry: its header as stored, and its data.
pub type TarEntry = (tar::Header, Vec<u8>);

// ---------------------------------------------------------------------------------
// Bytes: digests and gzip

/// `sha256:HEX` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    crate::sha256_digest(bytes).to_string()
}

/// The hex part of a `sha256:HEX` digest.
pub fn hex_of(digest: &str) -> &str {
    digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("`{digest}` is not a sha256 digest"))
}

/// `bytes` gzipped at the default level.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}

/// The gunzipped `bytes`; panics when they are not gzip.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut v)
        .unwrap_or_else(|e| panic!("not gzip: {e}"));
    v
}

// ---------------------------------------------------------------------------------
// Tar entries written by hand

/// A GNU tar header with `name` and `link` written byte for byte: `tar::Builder`
/// refuses `..` and absolute names, which is what hostile-archive tests need.
pub fn raw_header(name: &str, kind: tar::EntryType, link: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let g = h.as_gnu_mut().expect("a GNU header");
    g.name[..name.len()].copy_from_slice(name.as_bytes());
    g.linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    h
}

/// A regular file entry (mode 0644) holding `data`.
pub fn file_entry(name: &str, data: &[u8]) -> TarEntry {
    (
        raw_header(name, tar::EntryType::Regular, "", data.len() as u64),
        data.to_vec(),
    )
}

/// A link entry (`kind` is `Symlink` or `Link`) pointing at `target`.
pub fn link_entry(name: &str, kind: tar::EntryType, target: &str) -> TarEntry {
    (raw_header(name, kind, target, 0), Vec::new())
}

/// The entries of a tar (headers as stored, and data).
pub fn tar_entries(bytes: &[u8]) -> Vec<TarEntry> {
    let mut ar = tar::Archive::new(bytes);
    ar.entries()
        .expect("a tar")
        .map(|e| {
            let mut e = e.expect("a tar entry");
            let h = e.header().clone();
            let mut data = Vec::new();
            e.read_to_end(&mut data).expect("a tar entry's data");
            (h, data)
        })
        .collect()
}

/// Writes entries as a tar, headers verbatim.
pub fn tar_bytes(entries: &[TarEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, data) in entries {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

/// Appends entries to a tar (dropping its end-of-archive blocks).
pub fn tar_with(tar: &[u8], extra: Vec<TarEntry>) -> Vec<u8> {
    let mut entries = tar_entries(tar);
    entries.extend(extra);
    tar_bytes(&entries)
}

/// One entry of [`tar_of`].
#[derive(Debug, Clone, Copy)]
pub enum TarItem<'a> {
    /// A regular file with these bytes.
    File(&'a [u8]),
    /// A directory.
    Dir,
    /// A symbolic link to this target.
    Link(&'a str),
}

/// A tar of `entries` (`path`, what it is), written by `tar::Builder` so that long names
/// work: files 0644, directories 0755, symlinks.
pub fn tar_of(entries: &[(&str, TarItem)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, item) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        let done = match item {
            TarItem::File(d) => {
                h.set_size(d.len() as u64);
                b.append_data(&mut h, path, *d)
            }
            TarItem::Dir => {
                h.set_mode(0o755);
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, path, std::io::empty())
            }
            TarItem::Link(l) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, path, l)
            }
        };
        done.unwrap_or_else(|e| panic!("cannot add `{path}` to a tar: {e}"));
    }
    b.into_inner().expect("a tar in memory")
}

/// The file system of `layers` (uncompressed tars, bottom first), squashed with `opts`.
pub fn image_fs(layers: &[Vec<u8>], opts: &crate::ImageFsOptions) -> crate::ImageFs {
    let mut fs = crate::ImageFs::default();
    for (i, l) in layers.iter().enumerate() {
        fs.apply_tar(i, &l[..], &format!("layer {i}"), opts)
            .unwrap_or_else(|e| panic!("layer {i}: {}", error_chain(&e)));
    }
    fs
}

/// An entry's name as stored.
pub fn entry_name(h: &tar::Header) -> String {
    String::from_utf8_lossy(&h.path_bytes()).into_owned()
}

/// The data of the entry called `name`.
pub fn entry_data<'a>(entries: &'a [TarEntry], name: &str) -> &'a [u8] {
    entries
        .iter()
        .find(|(h, _)| entry_name(h) == name)
        .map(|(_, d)| &d[..])
        .unwrap_or_else(|| panic!("no `{name}` in the archive"))
}

/// Replaces an entry's data, fixing its header's size.
pub fn set_entry(entries: &mut [TarEntry], name: &str, data: Vec<u8>) {
    let (h, d) = entries
        .iter_mut()
        .find(|(h, _)| entry_name(h) == name)
        .unwrap_or_else(|| panic!("no `{name}` in the archive"));
    h.set_size(data.len() as u64);
    h.set_cksum();
    *d = data;
}

/// The name of the largest entry (an image's files layer).
pub fn largest_entry(entries: &[TarEntry]) -> String {
    let (h, _) = entries
        .iter()
        .max_by_key(|(_, d)| d.len())
        .expect("a non-empty archive");
    entry_name(h)
}

/// Rewrites the tar file at `path` through `edit`.
pub fn edit_tar(path: &Path, edit: impl FnOnce(&mut Vec<TarEntry>)) {
    let mut entries = tar_entries(&read(path));
    edit(&mut entries);
    write(path, &tar_bytes(&entries));
}

/// Cuts the tar file at `path` half-way through the data of its largest entry; returns
/// that entry's name and declared size.
pub fn truncate_inside_largest_entry(path: &Path) -> (String, u64) {
    let bytes = read(path);
    let name = largest_entry(&tar_entries(&bytes));
    let mut ar = tar::Archive::new(&bytes[..]);
    let (pos, size) = ar
        .entries()
        .expect("a tar")
        .map(|e| e.expect("a tar entry"))
        .find(|e| entry_name(e.header()) == name)
        .map(|e| (e.raw_file_position(), e.size()))
        .expect("the largest entry");
    write(path, &bytes[..(pos + size / 2) as usize]);
    (name, size)
}

// ---------------------------------------------------------------------------------
// Validation and errors

/// Opens the image at `path` (a layout, an oci-archive or a docker-archive, with an
/// optional `:TAG`) and checks every digest and size in it, layers' diff_ids included:
/// what every test that produces an image calls (go-containerregistry's `validate`).
/// Panics, naming the problem, unless the image is whole.
pub fn validate_image(path: &Path) -> crate::ValidationReport {
    let name = path.to_str().expect("a UTF-8 path");
    let (src, _) = crate::open_image(name)
        .unwrap_or_else(|e| panic!("cannot open {name}: {}", error_chain(&e)));
    let report = crate::validate(src.as_ref())
        .unwrap_or_else(|e| panic!("{name} does not validate: {}", error_chain(&e)));
    assert!(report.images > 0, "{name} holds no image: {report:?}");
    report
}

/// An error and its causes, `: `-separated: what a test searches for the names of the
/// digest, entry or path involved.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

// ---------------------------------------------------------------------------------
// Files

/// The bytes of the file at `path`.
pub fn read(path: &Path) -> Vec<u8> {
    fs_err::read(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Writes `bytes` to the file at `path`, replacing it.
pub fn write(path: &Path, bytes: &[u8]) {
    fs_err::write(path, bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// Flips one bit in the middle of the file at `path`; returns its new content.
pub fn flip_a_byte(path: &Path) -> Vec<u8> {
    let mut bytes = read(path);
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    write(path, &bytes);
    bytes
}

/// Cuts the file at `path` to half its length; returns the length it had.
pub fn truncate_to_half(path: &Path) -> u64 {
    let f = fs_err::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{e}"));
    let len = f.metadata().unwrap_or_else(|e| panic!("{e}")).len();
    f.set_len(len / 2).unwrap_or_else(|e| panic!("{e}"));
    len
}

/// Every path under `dir` with its type and size: compare before and after to prove
/// that a reader wrote nothing.
pub fn tree(dir: &Path) -> BTreeSet<(PathBuf, String, u64)> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs_err::read_dir(&d).unwrap_or_else(|e| panic!("{e}")) {
            let p = e.unwrap_or_else(|e| panic!("{e}")).path();
            let m = fs_err::symlink_metadata(&p).unwrap_or_else(|e| panic!("{e}"));
            if m.is_dir() {
                todo.push(p.clone());
            }
            out.insert((p, format!("{:?}", m.file_type()), m.len()));
        }
    }
    out
}

/// Names in `dir` that a traversal by a hostile archive (`evil`, `escape`) would create.
pub fn escapees(dir: &Path) -> BTreeSet<String> {
    fs_err::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("evil") || n.contains("escape"))
        .collect()
}

// ---------------------------------------------------------------------------------
// An OCI layout that tests edit consistently

/// An OCI image layout directory whose first `index.json` entry is a one-platform image.
#[derive(Debug, Clone)]
pub struct Layout(pub PathBuf);

impl Layout {
    /// The path of blob `digest` (`sha256:HEX`) in the layout.
    pub fn blob(&self, digest: &str) -> PathBuf {
        self.0.join("blobs/sha256").join(hex_of(digest))
    }

    fn json(path: &Path) -> Value {
        serde_json::from_slice(&read(path))
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
    }

    /// The path of the layout's `index.json`.
    pub fn index_path(&self) -> PathBuf {
        self.0.join("index.json")
    }

    /// The parsed `index.json`.
    pub fn index(&self) -> Value {
        Self::json(&self.index_path())
    }

    /// Replaces `index.json` with `index`, as is (nothing re-digested).
    pub fn set_index(&self, index: &Value) {
        write(&self.index_path(), index.to_string().as_bytes());
    }

    /// The parsed manifest of the first `index.json` entry.
    pub fn manifest(&self) -> Value {
        let idx = self.index();
        Self::json(&self.blob(idx["manifests"][0]["digest"].as_str().expect("a digest")))
    }

    /// The parsed config of that manifest.
    pub fn config(&self) -> Value {
        Self::json(&self.blob(&self.config_digest()))
    }

    /// The config's digest, as that manifest names it.
    pub fn config_digest(&self) -> String {
        self.manifest()["config"]["digest"]
            .as_str()
            .expect("a config digest")
            .to_string()
    }

    /// Digest of layer `i`, bottom first.
    pub fn layer(&self, i: usize) -> String {
        self.manifest()["layers"][i]["digest"]
            .as_str()
            .unwrap_or_else(|| panic!("no layer {i}"))
            .to_string()
    }

    /// The config's `diff_id` of layer `i`.
    pub fn diff_id(&self, i: usize) -> String {
        self.config()["rootfs"]["diff_ids"][i]
            .as_str()
            .unwrap_or_else(|| panic!("no diff_id {i}"))
            .to_string()
    }

    /// Stores a blob; returns its digest and size.
    pub fn put(&self, bytes: &[u8]) -> (String, u64) {
        let d = sha256(bytes);
        write(&self.blob(&d), bytes);
        (d, bytes.len() as u64)
    }

    /// Stores `manifest` and points `index.json` at it.
    pub fn set_manifest(&self, manifest: &Value) {
        let (d, n) = self.put(&serde_json::to_vec(manifest).expect("JSON"));
        let mut idx = self.index();
        idx["manifests"][0]["digest"] = json!(d);
        idx["manifests"][0]["size"] = json!(n);
        self.set_index(&idx);
    }

    /// Stores `config`, and a manifest pointing at it, and points `index.json` at that.
    pub fn set_config(&self, config: &Value) {
        let (d, n) = self.put(&serde_json::to_vec(config).expect("JSON"));
        let mut m = self.manifest();
        m["config"]["digest"] = json!(d);
        m["config"]["size"] = json!(n);
        self.set_manifest(&m);
    }

    /// Sets the size that the manifest declares for layer `i`.
    pub fn declare_layer_size(&self, i: usize, size: u64) {
        let mut m = self.manifest();
        m["layers"][i]["size"] = json!(size);
        self.set_manifest(&m);
    }

    /// The uncompressed tar of layer `i` (gzip, zstd or none, as its media type says).
    pub fn layer_tar(&self, i: usize) -> Vec<u8> {
        let stored = read(&self.blob(&self.layer(i)));
        match self.layer_media_type(i).rsplit('+').next() {
            Some("gzip") => gunzip(&stored),
            Some("zstd") => zstd::decode_all(&stored[..]).expect("zstd layer"),
            _ => stored,
        }
    }

    /// The media type of layer `i`.
    pub fn layer_media_type(&self, i: usize) -> String {
        self.manifest()["layers"][i]["mediaType"]
            .as_str()
            .unwrap_or_else(|| panic!("no layer {i}"))
            .to_string()
    }

    /// `tar` compressed the way layer `i` is stored.
    pub fn compress_like_layer(&self, i: usize, tar: &[u8]) -> Vec<u8> {
        match self.layer_media_type(i).rsplit('+').next() {
            Some("gzip") => gzip(tar),
            Some("zstd") => zstd::encode_all(tar, 3).expect("zstd"),
            _ => tar.to_vec(),
        }
    }

    /// Writes this layout as an oci-archive at `to` (a tar of the directory).
    pub fn to_oci_archive(&self, to: &Path) {
        let mut b = tar::Builder::new(fs_err::File::create(to).expect("create archive"));
        b.append_dir_all(".", &self.0).expect("tar the layout");
        b.finish().expect("finish the archive");
    }

    /// Writes this layout's (single) image as a docker-archive at `to`: a `manifest.json`
    /// naming the config and layer blobs, as `docker save` (25 and later) writes it.
    pub fn to_docker_archive(&self, to: &Path) {
        let m = self.manifest();
        let mut names = vec![format!("blobs/sha256/{}", hex_of(&self.config_digest()))];
        let layers: Vec<String> = m["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .map(|l| {
                format!(
                    "blobs/sha256/{}",
                    hex_of(l["digest"].as_str().expect("digest"))
                )
            })
            .collect();
        let manifest = json!([{
            "Config": names[0],
            "RepoTags": ["hello:latest"],
            "Layers": layers,
        }]);
        names.extend(layers);
        let mut b = tar::Builder::new(fs_err::File::create(to).expect("create archive"));
        let body = serde_json::to_vec(&manifest).expect("JSON");
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "manifest.json", &body[..])
            .expect("manifest.json");
        for name in names {
            b.append_path_with_name(self.0.join(&name), &name)
                .expect("blob");
        }
        b.finish().expect("finish the archive");
    }

    /// Replaces layer `i` with `blob` as stored and `diff_id` in the config, re-writing
    /// config, manifest and index; returns the new layer digest.
    pub fn replace_layer(&self, i: usize, blob: &[u8], diff_id: &str) -> String {
        let (d, n) = self.put(blob);
        let mut config = self.config();
        config["rootfs"]["diff_ids"][i] = json!(diff_id);
        self.set_config(&config);
        let mut m = self.manifest();
        m["layers"][i]["digest"] = json!(d);
        m["layers"][i]["size"] = json!(n);
        self.set_manifest(&m);
        d
    }

    /// Replaces layer `i` with the uncompressed tar `tar`, gzipped, diff_id updated;
    /// returns the new layer digest.
    pub fn replace_layer_tar(&self, i: usize, tar: &[u8]) -> String {
        self.replace_layer(i, &gzip(tar), &sha256(tar))
    }

    /// Points `index.json` at `depth` nested indexes, each listing the one below
    /// `fan_out` times, the last listing the image: `fan_out^depth` images made of the
    /// same few blobs.
    pub fn nest_indexes(&self, depth: usize, fan_out: usize) {
        let mut desc = self.index()["manifests"][0].clone();
        if let Some(o) = desc.as_object_mut() {
            o.remove("annotations");
        }
        for _ in 0..depth {
            let index = json!({
                "schemaVersion": 2,
                "mediaType": INDEX_MEDIA,
                "manifests": vec![desc.clone(); fan_out],
            });
            let (d, n) = self.put(&serde_json::to_vec(&index).expect("JSON"));
            desc = json!({"mediaType": INDEX_MEDIA, "digest": d, "size": n});
        }
        self.set_index(&json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA, "manifests": [desc]}));
    }
}

// ---------------------------------------------------------------------------------
// Hostile variants

/// Panics unless `text` (an error chain, stderr, warnings) holds every fragment.
pub fn assert_mentions(text: &str, fragments: &[String]) {
    for f in fragments {
        assert!(text.contains(f.as_str()), "no `{f}` in:\n{text}");
    }
}

pub mod hostile;
