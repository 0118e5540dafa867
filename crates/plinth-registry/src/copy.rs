//! Copying an image between any two of: a registry reference, an OCI layout directory,
//! an oci-archive and a docker-archive. `pull` and `push` are copies.
//!
//! The source is any [`ImageSource`] (a layout or archive on disk, or a
//! [`RegistrySource`]); every byte is read through its verifying reader, so nothing that
//! does not match its digest and size reaches the destination. The graph (index,
//! manifests, configs, layers, and the referrers of each manifest) is read first; blobs
//! then go in parallel (bounded by `jobs`), manifests after their blobs, children before
//! their index, the root last. A disk destination is written under a temporary name and
//! renamed into place only when everything arrived and was verified.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use plinth_core::progress::Reporter;
use plinth_oci::reference::tag_matches;
use plinth_oci::{ImageSource, REF_NAME};
use serde::Serialize;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::reference::{Location, Reference, classify};
use crate::repo::{BlobOutcome, Manifest, is_manifest_type, sha256};
use crate::sink::{LocalSink, RegistrySink, Sink};
use crate::source::RegistrySource;

/// The on-disk forms an image is read from or written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiskFormat {
    /// An OCI image layout directory.
    Layout,
    /// An OCI layout in a tar file.
    OciArchive,
    /// `docker save`'s format (one platform).
    DockerArchive,
}

/// One end of a copy.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// A registry.
    Registry(Reference),
    /// A file or directory.
    Disk {
        /// The path.
        path: PathBuf,
        /// The tag inside it (`DIR:TAG`), when named.
        tag: Option<String>,
        /// The format to write (for a destination) or the argument as typed (sources
        /// are detected by content).
        format: DiskFormat,
        /// The argument as typed.
        arg: String,
    },
}

impl Endpoint {
    /// A copy source as typed: a registry reference or an image on disk (see
    /// [`classify`]).
    pub fn source(arg: &str) -> Result<Endpoint> {
        Ok(match classify(arg)? {
            Location::Remote(r) => Endpoint::Registry(r),
            Location::Local(a) => Endpoint::Disk {
                path: PathBuf::from(&a),
                tag: None,
                format: DiskFormat::Layout,
                arg: a,
            },
        })
    }

    /// A copy destination as typed: `docker://REF` or a registry reference; `oci:DIR[:TAG]`,
    /// `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:NAME:TAG]`; a path ending in `.tar`
    /// (an oci-archive) or any other path (a layout directory), existing or not.
    pub fn destination(arg: &str) -> Result<Endpoint> {
        let disk = |rest: &str, format| {
            // The tag is after the last `:` that follows the last `/` (paths hold no `:`).
            let slash = rest.rfind('/').map_or(0, |i| i + 1);
            let (path, tag) = match (format, rest[slash..].find(':')) {
                (_, Some(i)) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
                _ => (rest, None),
            };
            Endpoint::Disk {
                path: PathBuf::from(path),
                tag: tag.filter(|t| !t.is_empty()),
                format,
                arg: arg.to_string(),
            }
        };
        if let Some(r) = arg.strip_prefix("oci:") {
            return Ok(disk(r, DiskFormat::Layout));
        }
        if let Some(r) = arg.strip_prefix("oci-archive:") {
            return Ok(disk(r, DiskFormat::OciArchive));
        }
        if let Some(r) = arg.strip_prefix("docker-archive:") {
            // FILE:NAME:TAG: the path is up to the first `:`.
            let (path, tag) = match r.split_once(':') {
                Some((p, t)) => (p, Some(t.to_string())),
                None => (r, None),
            };
            return Ok(Endpoint::Disk {
                path: PathBuf::from(path),
                tag,
                format: DiskFormat::DockerArchive,
                arg: arg.to_string(),
            });
        }
        Ok(match classify(arg)? {
            Location::Remote(r) => Endpoint::Registry(r),
            Location::Local(a) if a.ends_with(".tar") => disk(&a, DiskFormat::OciArchive),
            Location::Local(a) => disk(&a, DiskFormat::Layout),
        })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Registry(r) => write!(f, "{r}"),
            Endpoint::Disk { arg, .. } => write!(f, "{arg}"),
        }
    }
}

/// What to copy.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// Only this platform of a multi-platform index (`linux/arm64`).
    pub platform: Option<String>,
    /// Carry the referrers (signatures, SBOMs) of every manifest copied.
    pub referrers: bool,
}

/// One blob's fate.
#[derive(Debug, Clone, Serialize)]
pub struct BlobReport {
    /// `sha256:…`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
    /// Sent, skipped (already there) or mounted.
    pub outcome: BlobOutcome,
}

/// What a copy did.
#[derive(Debug, Clone, Serialize)]
pub struct CopyReport {
    /// The source as typed (normalised for a registry).
    pub source: String,
    /// The destination as typed (normalised for a registry).
    pub destination: String,
    /// The digest of the root written (the index, or the one manifest).
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Bytes of every blob and manifest of the image (referrers not counted).
    pub size: u64,
    /// Manifests and indexes written (referrers' included).
    pub manifests: usize,
    /// Blobs uploaded or written.
    pub blobs_sent: usize,
    /// Bytes of the blobs sent.
    pub bytes_sent: u64,
    /// Blobs the destination had already.
    pub blobs_skipped: usize,
    /// Blobs mounted from another repository.
    pub blobs_mounted: usize,
    /// Referrer manifests carried.
    pub referrers: usize,
    /// Every blob.
    pub blobs: Vec<BlobReport>,
}

/// The image read from the source: what to write, in order.
pub(crate) struct Graph {
    /// The root descriptor (index or manifest).
    pub root: Descriptor,
    /// Manifests children first, root last, with their bytes.
    pub manifests: Vec<(Descriptor, Arc<[u8]>)>,
    /// Config and layer blobs, each once.
    pub blobs: Vec<Descriptor>,
    /// Referrer manifests (children first), with the digest of their subject.
    pub referrers: Vec<(Descriptor, Arc<[u8]>)>,
    /// The blobs of the referrers.
    pub referrer_blobs: Vec<Descriptor>,
    /// Bytes of the image's blobs and manifests.
    pub size: u64,
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn is_index(d: &Descriptor) -> bool {
    INDEX_TYPES.contains(&d.media_type().to_string().as_str())
}

fn platform_string(d: &Descriptor) -> Option<String> {
    let p = d.platform().as_ref()?;
    let mut s = format!("{}/{}", p.os(), p.architecture());
    if let Some(v) = p.variant() {
        s.push('/');
        s.push_str(v);
    }
    Some(s)
}

struct Walker<'a> {
    src: &'a dyn ImageSource,
    seen: HashSet<String>,
    blobs_seen: HashSet<String>,
    visited: usize,
}

impl Walker<'_> {
    /// Adds `d` and everything it names, children first.
    fn walk(
        &mut self,
        d: &Descriptor,
        depth: usize,
        manifests: &mut Vec<(Descriptor, Arc<[u8]>)>,
        blobs: &mut Vec<Descriptor>,
    ) -> Result<()> {
        self.visited += 1;
        if self.visited > plinth_oci::limits::limits().manifests || depth > 4 {
            return Err(Error::Usage(format!(
                "{} nests or lists more manifests than allowed",
                self.src.name()
            )));
        }
        if !self.seen.insert(d.digest().to_string()) {
            return Ok(());
        }
        let bytes: Arc<[u8]> = Arc::from(self.src.read_blob(d)?);
        let what = format!("manifest {}", d.digest());
        if is_index(d) {
            let index: ImageIndex =
                serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
                    what,
                    reason: format!("not an image index: {e}"),
                })?;
            for m in index.manifests() {
                self.walk(m, depth + 1, manifests, blobs)?;
            }
        } else {
            let m: ImageManifest = serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
                what,
                reason: format!("not an image manifest: {e}"),
            })?;
            for b in std::iter::once(m.config()).chain(m.layers().iter()) {
                if self.blobs_seen.insert(b.digest().to_string()) {
                    blobs.push(b.clone());
                }
            }
        }
        manifests.push((d.clone(), bytes));
        Ok(())
    }
}

/// Reads the graph under `root` from `src`, choosing `platform` in an index, and the
/// referrers of each manifest when `referrers` names how to find them.
pub(crate) fn read_graph(
    src: &dyn ImageSource,
    mut root: Descriptor,
    opts: &CopyOptions,
    referrers_of: &dyn Fn(&str) -> Result<Vec<Descriptor>>,
) -> Result<Graph> {
    if let Some(want) = &opts.platform
        && is_index(&root)
    {
        let bytes = src.read_blob(&root)?;
        let index: ImageIndex = serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
            what: format!("index {}", root.digest()),
            reason: format!("not an image index: {e}"),
        })?;
        let have: Vec<String> = index
            .manifests()
            .iter()
            .filter_map(platform_string)
            .collect();
        root = index
            .manifests()
            .iter()
            .find(|m| {
                platform_string(m).is_some_and(|p| plinth_oci::platform::platform_matches(&p, want))
            })
            .cloned()
            .ok_or_else(|| {
                Error::Usage(format!(
                    "{} has no image for platform {want} (it has: {})",
                    src.name(),
                    have.join(", ")
                ))
            })?;
    }
    let mut root = root;
    root.set_annotations(None);
    let mut w = Walker {
        src,
        seen: HashSet::new(),
        blobs_seen: HashSet::new(),
        visited: 0,
    };
    let mut manifests = Vec::new();
    let mut blobs = Vec::new();
    w.walk(&root, 0, &mut manifests, &mut blobs)?;
    let size = manifests.iter().map(|(d, _)| d.size()).sum::<u64>()
        + blobs.iter().map(Descriptor::size).sum::<u64>();
    let mut referrers = Vec::new();
    let mut referrer_blobs = Vec::new();
    if opts.referrers {
        // Referrers of the image's manifests, then of those referrers (a signature of
        // an SBOM), each once.
        let mut queue: Vec<String> = manifests
            .iter()
            .map(|(d, _)| d.digest().to_string())
            .collect();
        let mut asked = HashSet::new();
        while let Some(subject) = queue.pop() {
            if !asked.insert(subject.clone()) || asked.len() > 1000 {
                continue;
            }
            for r in referrers_of(&subject)? {
                if !is_manifest_type(r.media_type().as_ref()) {
                    continue;
                }
                let before = referrers.len();
                w.walk(&r, 0, &mut referrers, &mut referrer_blobs)?;
                queue.extend(
                    referrers[before..]
                        .iter()
                        .map(|(d, _)| d.digest().to_string()),
                );
            }
        }
    }
    Ok(Graph {
        root,
        manifests,
        blobs,
        referrers,
        referrer_blobs,
        size,
    })
}

/// The referrers a local source holds: the stored manifests whose `subject` names
/// `subject`, listed in its index or not (Plinth's layouts keep them out of `index.json`,
/// which skopeo, podman and syft need to hold the image alone).
fn local_referrers(src: &dyn ImageSource, subject: &str) -> Result<Vec<Descriptor>> {
    let Ok(subject) = subject.parse::<plinth_oci::spec::Digest>() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for r in src.referrers(&subject)? {
        let Ok(digest) = r.digest.parse::<plinth_oci::spec::Digest>() else {
            continue;
        };
        let mut d = Descriptor::new(plinth_oci::spec::MediaType::ImageManifest, r.size, digest);
        d.set_artifact_type(Some(plinth_oci::spec::MediaType::Other(r.artifact_type)));
        out.push(d);
    }
    Ok(out)
}

/// The image entry of a local source's index that `tag` (or, with none, the only image)
/// names.
fn local_root(src: &dyn ImageSource, tag: Option<&str>) -> Result<Descriptor> {
    let images: Vec<&Descriptor> = src
        .index()
        .iter()
        .filter(|d| d.artifact_type().is_none())
        .collect();
    let name = |d: &Descriptor| {
        d.annotations()
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .cloned()
    };
    let chosen: Vec<&Descriptor> = match tag {
        Some(t) => images
            .iter()
            .copied()
            .filter(|d| name(d).is_some_and(|n| tag_matches(&n, t)))
            .collect(),
        None => images.clone(),
    };
    match chosen.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::Usage(match tag {
            Some(t) => format!("no image tagged `{t}` in {}", src.name()),
            None => format!("{} holds no image", src.name()),
        })),
        many => Err(Error::Usage(format!(
            "{} holds {} images ({}); name one with SOURCE:TAG",
            src.name(),
            many.len(),
            many.iter()
                .map(|d| name(d).unwrap_or_else(|| d.digest().to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// An opened copy source.
pub struct OpenedSource {
    /// The source.
    pub source: Box<dyn ImageSource>,
    /// The root to copy.
    pub root: Descriptor,
    /// The tag it was reached by, when there is one (names the image at the destination
    /// when the destination names none).
    pub tag: Option<String>,
    /// The registry reference, for a registry source.
    pub reference: Option<Reference>,
}

/// Opens a copy source.
pub fn open_source(client: &Arc<Client>, src: &Endpoint) -> Result<OpenedSource> {
    match src {
        Endpoint::Registry(r) => {
            let s = RegistrySource::open(client.clone(), r)?;
            let mut root = s.root().clone();
            root.set_annotations(None);
            Ok(OpenedSource {
                root,
                tag: r.tag.clone(),
                reference: Some(r.clone()),
                source: Box::new(s),
            })
        }
        Endpoint::Disk { arg, .. } => {
            let (source, tag) = plinth_oci::open_image(arg)?;
            let root = local_root(source.as_ref(), tag.as_deref())?;
            let tag = tag.or_else(|| {
                root.annotations()
                    .as_ref()
                    .and_then(|a| a.get(REF_NAME))
                    .map(|n| {
                        n.rsplit_once(':')
                            .map_or(n.as_str(), |(_, t)| t)
                            .to_string()
                    })
            });
            Ok(OpenedSource {
                source,
                root,
                tag,
                reference: None,
            })
        }
    }
}

/// Copies `src` to `dst`.
pub fn copy(
    client: &Arc<Client>,
    src: &Endpoint,
    dst: &Endpoint,
    opts: &CopyOptions,
    reporter: &dyn Reporter,
) -> Result<CopyReport> {
    let opened = open_source(client, src)?;
    copy_from(client, &opened, src, dst, opts, reporter)
}

/// Copies an opened source to `dst`.
pub fn copy_from(
    client: &Arc<Client>,
    opened: &OpenedSource,
    src: &Endpoint,
    dst: &Endpoint,
    opts: &CopyOptions,
    reporter: &dyn Reporter,
) -> Result<CopyReport> {
    let source = opened.source.as_ref();
    let referrers_of = |digest: &str| -> Result<Vec<Descriptor>> {
        match &opened.reference {
            Some(r) => crate::repo::Repo::pull(client, r).referrers(digest),
            None => local_referrers(source, digest),
        }
    };
    // Archives carry no referrers: with a second manifest in its index.json, skopeo and
    // podman refuse an untagged `oci-archive:FILE` ("more than one image"), and a
    // docker-archive has no place for them.
    let mut opts = opts.clone();
    if let Endpoint::Disk { format, .. } = dst
        && *format != DiskFormat::Layout
    {
        opts.referrers = false;
    }
    let graph = read_graph(source, opened.root.clone(), &opts, &referrers_of)?;
    if let Endpoint::Disk {
        format: DiskFormat::DockerArchive,
        ..
    } = dst
        && is_index(&graph.root)
    {
        return Err(Error::Usage(format!(
            "a docker-archive holds one platform, and {src} is a multi-platform index; choose one with --platform"
        )));
    }
    let (sink, dest_tag): (Box<dyn Sink>, Option<String>) = match dst {
        Endpoint::Registry(r) => {
            if r.digest.is_some() && r.digest.as_deref() != Some(graph.root.digest().as_ref()) {
                return Err(Error::Usage(format!(
                    "destination {r} names digest {}, but the image is {}",
                    r.digest.as_deref().unwrap_or(""),
                    graph.root.digest()
                )));
            }
            (
                Box::new(RegistrySink::new(client, r, opened.reference.as_ref())),
                r.tag.clone(),
            )
        }
        Endpoint::Disk {
            path, tag, format, ..
        } => {
            let tag = tag.clone().or_else(|| opened.tag.clone());
            let name = match &tag {
                // `docker-archive:FILE:NAME:TAG` names the image itself.
                Some(t) if t.contains(':') => t.clone(),
                t => docker_name(opened.reference.as_ref(), src, t.as_deref()),
            };
            (Box::new(LocalSink::new(path, *format, name)?), tag)
        }
    };
    let mut report = CopyReport {
        source: src.to_string(),
        destination: dst.to_string(),
        digest: graph.root.digest().to_string(),
        media_type: graph.root.media_type().to_string(),
        size: graph.size,
        manifests: graph.manifests.len() + graph.referrers.len(),
        blobs_sent: 0,
        bytes_sent: 0,
        blobs_skipped: 0,
        blobs_mounted: 0,
        referrers: graph.referrers.len(),
        blobs: Vec::new(),
    };
    let all_blobs: Vec<&Descriptor> = graph
        .blobs
        .iter()
        .chain(graph.referrer_blobs.iter())
        .collect();
    sink.prepare()?;
    reporter.plan("blobs", all_blobs.len() as u64);
    let outcomes = transfer(
        sink.as_ref(),
        source,
        &all_blobs,
        client.options().jobs,
        reporter,
    )?;
    for (d, outcome) in all_blobs.iter().zip(outcomes) {
        match outcome {
            BlobOutcome::Sent => {
                report.blobs_sent += 1;
                report.bytes_sent += d.size();
            }
            BlobOutcome::Skipped => report.blobs_skipped += 1,
            BlobOutcome::Mounted => report.blobs_mounted += 1,
        }
        report.blobs.push(BlobReport {
            digest: d.digest().to_string(),
            size: d.size(),
            outcome,
        });
    }
    for (d, bytes) in &graph.manifests {
        let is_root = d.digest() == graph.root.digest();
        let m = manifest_of(d, bytes);
        sink.manifest(&m, if is_root { dest_tag.as_deref() } else { None })?;
    }
    for (d, bytes) in &graph.referrers {
        sink.referrer(d, &manifest_of(d, bytes))?;
    }
    sink.finish(&graph.root, dest_tag.as_deref(), reporter)?;
    Ok(report)
}

fn manifest_of(d: &Descriptor, bytes: &[u8]) -> Manifest {
    Manifest {
        bytes: bytes.to_vec(),
        digest: sha256(bytes),
        media_type: d.media_type().to_string(),
    }
}

/// `docker save`'s name for an image: `alpine:3.20` for Docker Hub's library images,
/// else `registry/repository:tag`; for an image read from disk, its file name without
/// extension (`hello:latest` for `out/hello`).
fn docker_name(r: Option<&Reference>, src: &Endpoint, tag: Option<&str>) -> String {
    let tag = tag.unwrap_or("latest");
    match r {
        Some(r) if r.registry == crate::reference::DOCKER_HUB => {
            let repo = r
                .repository
                .strip_prefix("library/")
                .unwrap_or(&r.repository);
            format!("{repo}:{tag}")
        }
        Some(r) => format!("{}:{tag}", r.name()),
        None => {
            let stem = match src {
                Endpoint::Disk { path, .. } => path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_ascii_lowercase())
                    .filter(|s| plinth_oci::reference::valid_name(s)),
                Endpoint::Registry(_) => None,
            };
            format!("{}:{tag}", stem.as_deref().unwrap_or("image"))
        }
    }
}

/// Sends every blob through `sink`, `jobs` at a time; the first failure stops the rest.
fn transfer(
    sink: &dyn Sink,
    src: &dyn ImageSource,
    blobs: &[&Descriptor],
    jobs: usize,
    reporter: &dyn Reporter,
) -> Result<Vec<BlobOutcome>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Vec<std::sync::Mutex<Option<Result<BlobOutcome>>>> =
        blobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, 16).min(blobs.len().max(1)) {
            s.spawn(|| {
                loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(d) = blobs.get(i) else { break };
                    let task = short(d.digest().as_ref());
                    let r = sink.blob(src, d, &task, reporter);
                    reporter.finish(&task);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(blobs.len());
    let mut first_err = None;
    for r in results {
        match r.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(Ok(o)) => out.push(o),
            Some(Err(e)) => {
                first_err.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// `sha256:0123456789ab` for progress lines.
fn short(digest: &str) -> String {
    digest.chars().take(19).collect()
}

/// Largest layer a copy moves.
pub(crate) fn max_blob() -> u64 {
    plinth_oci::limits::limits().layer_size
}
