//! Where a copy writes: a registry, or a layout directory / oci-archive / docker-archive
//! on disk (assembled under a temporary name, renamed into place when complete).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use oci_spec::image::{Descriptor, ImageIndexBuilder, ImageManifest, MediaType};
use plinth_core::progress::Reporter;
use plinth_oci::write::PendingDir;
use plinth_oci::{ImageSource, REF_NAME};

use crate::client::Client;
use crate::copy::{DiskFormat, max_blob};
use crate::error::{Error, Result};
use crate::reference::Reference;
use crate::repo::{BlobOutcome, Manifest, Repo, fallback_tag};
use crate::retry::{self, Outcome};

/// A copy's destination.
pub(crate) trait Sink: Sync {
    /// Readies the destination before the parallel transfers (a registry's token, so
    /// that the threads do not each fetch one).
    fn prepare(&self) -> Result<()> {
        Ok(())
    }
    /// Stores one blob read (verified) from `src`.
    fn blob(
        &self,
        src: &dyn ImageSource,
        d: &Descriptor,
        task: &str,
        reporter: &dyn Reporter,
    ) -> Result<BlobOutcome>;
    /// Stores a manifest of the image; `tag` for the root.
    fn manifest(&self, m: &Manifest, tag: Option<&str>) -> Result<()>;
    /// Stores a referrer manifest (its `subject` is in the image).
    fn referrer(&self, d: &Descriptor, m: &Manifest) -> Result<()>;
    /// Makes the result final.
    fn finish(
        self: Box<Self>,
        root: &Descriptor,
        tag: Option<&str>,
        reporter: &dyn Reporter,
    ) -> Result<()>;
}

/// Counts bytes into the reporter and keeps the first read error, which the HTTP client
/// would otherwise turn into a transport failure.
struct Tracked<'a, 'b> {
    inner: plinth_oci::source::VerifyingReader<'b>,
    error: &'a Mutex<Option<plinth_oci::Error>>,
    reporter: &'a dyn Reporter,
    task: &'a str,
}

impl Read for Tracked<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.reporter.advance(self.task, n as u64);
                Ok(n)
            }
            Err(e) => {
                let e = self.inner.error(e);
                let msg = e.to_string();
                *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Err(io::Error::other(msg))
            }
        }
    }
}

/// A registry destination.
pub(crate) struct RegistrySink<'c> {
    client: &'c Client,
    reference: Reference,
    /// The source repository, when it is on the same registry (blobs are mounted).
    mount_from: Option<String>,
}

impl<'c> RegistrySink<'c> {
    pub(crate) fn new(client: &'c Arc<Client>, r: &Reference, src: Option<&Reference>) -> Self {
        RegistrySink {
            client,
            reference: r.clone(),
            mount_from: src
                .filter(|s| s.registry == r.registry && s.repository != r.repository)
                .map(|s| s.repository.clone()),
        }
    }

    fn repo(&self) -> Repo<'c> {
        Repo::push(self.client, &self.reference)
    }

    /// Uploads one blob; a stream cannot be sent twice, so each try opens the source
    /// again. Monolithic first; chunked when the registry refuses one PUT.
    fn upload(
        &self,
        src: &dyn ImageSource,
        d: &Descriptor,
        task: &str,
        reporter: &dyn Reporter,
    ) -> Result<()> {
        let repo = self.repo();
        let digest = d.digest().to_string();
        let mut chunked = false;
        let mut attempt = 0;
        loop {
            reporter.start(task, Some(d.size()));
            let error = Mutex::new(None);
            let verifying = src
                .open_blob(d, max_blob())
                .map_err(|e| Error::reading(src, e))?;
            let mut reader = Tracked {
                inner: verifying,
                error: &error,
                reporter,
                task,
            };
            let result = if chunked {
                repo.upload_chunked(&digest, d.size(), &mut reader)
                    .map(|_| None)
            } else {
                repo.upload_monolithic(&digest, d.size(), &mut reader)
            };
            // A source that lied (size, digest) is the error to report, whatever the
            // registry made of the cut-off upload.
            if let Some(e) = error.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return Err(Error::reading(src, e));
            }
            match result {
                Ok(None) => return Ok(()),
                Ok(Some(_)) if !chunked => chunked = true,
                Ok(Some(status)) => {
                    return Err(Error::Status {
                        what: format!("upload of blob {digest} to {}", self.reference.name()),
                        status,
                        detail: String::new(),
                    });
                }
                Err(e) => {
                    let outcome = match &e {
                        Error::Connect { .. } => Some(Outcome::Connection),
                        Error::Server { status, .. } => Some(Outcome::Status(*status, None)),
                        _ => None,
                    };
                    match outcome.and_then(|o| retry::decide(o, attempt)) {
                        Some(wait) => {
                            std::thread::sleep(wait);
                            attempt += 1;
                        }
                        None => return Err(e),
                    }
                }
            }
        }
    }

    /// Keeps the `sha256-<hex>` tag index of `subject` listing `d`, for registries
    /// without the referrers API.
    fn update_fallback_index(&self, subject: &str, d: &Descriptor) -> Result<()> {
        let repo = self.repo();
        let tag = fallback_tag(subject);
        let mut manifests = match repo.get_manifest(&tag) {
            Ok(m) => serde_json::from_slice::<oci_spec::image::ImageIndex>(&m.bytes)
                .map(|i| i.manifests().clone())
                .unwrap_or_default(),
            Err(Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        if manifests.iter().any(|m| m.digest() == d.digest()) {
            return Ok(());
        }
        manifests.push(d.clone());
        let index = ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(manifests)
            .build()
            .map_err(|e| Error::Usage(format!("cannot build the referrers index: {e}")))?;
        let bytes = plinth_oci::canonical::to_vec(&index)
            .map_err(|e| Error::Usage(format!("cannot encode the referrers index: {e}")))?;
        let m = Manifest {
            digest: crate::repo::sha256(&bytes),
            bytes,
            media_type: "application/vnd.oci.image.index.v1+json".into(),
        };
        repo.put_manifest(&tag, &m)?;
        Ok(())
    }
}

impl Sink for RegistrySink<'_> {
    fn prepare(&self) -> Result<()> {
        // Only an optimisation: a registry whose API root refuses us still gets its say
        // on each request, with an error naming the blob or manifest.
        let _ = self.client.prime(
            &self.reference,
            &[format!(
                "repository:{}:pull,push",
                self.reference.repository
            )],
        );
        Ok(())
    }

    fn blob(
        &self,
        src: &dyn ImageSource,
        d: &Descriptor,
        task: &str,
        reporter: &dyn Reporter,
    ) -> Result<BlobOutcome> {
        let repo = self.repo();
        let digest = d.digest().to_string();
        if repo.blob_size(&digest)?.is_some() {
            return Ok(BlobOutcome::Skipped);
        }
        if let Some(from) = &self.mount_from
            && repo.mount(&digest, from)?
        {
            return Ok(BlobOutcome::Mounted);
        }
        self.upload(src, d, task, reporter)?;
        Ok(BlobOutcome::Sent)
    }

    fn manifest(&self, m: &Manifest, tag: Option<&str>) -> Result<()> {
        let repo = self.repo();
        match tag {
            Some(t) => repo.put_manifest(t, m)?,
            None => repo.put_manifest(&m.digest, m)?,
        };
        Ok(())
    }

    fn referrer(&self, d: &Descriptor, m: &Manifest) -> Result<()> {
        let indexed = self.repo().put_manifest(&m.digest, m)?;
        if !indexed {
            #[derive(serde::Deserialize)]
            struct Subject {
                subject: Option<Descriptor>,
            }
            if let Some(s) = serde_json::from_slice::<Subject>(&m.bytes)
                .ok()
                .and_then(|s| s.subject)
            {
                self.update_fallback_index(s.digest().as_ref(), d)?;
            }
        }
        Ok(())
    }

    fn finish(
        self: Box<Self>,
        _root: &Descriptor,
        _tag: Option<&str>,
        _reporter: &dyn Reporter,
    ) -> Result<()> {
        Ok(())
    }
}

/// A disk destination: blobs stream into a layout under a temporary name; `finish`
/// renames it into place, or packs it into the archive and removes it.
pub(crate) struct LocalSink {
    dir: PendingDir,
    path: PathBuf,
    format: DiskFormat,
    /// `docker save`'s `RepoTags` name.
    docker_name: String,
}

impl LocalSink {
    pub(crate) fn new(path: &Path, format: DiskFormat, docker_name: String) -> Result<Self> {
        let dir = match format {
            DiskFormat::Layout => PendingDir::create(path)?,
            _ => {
                plinth_oci::write::check_output(path, plinth_oci::OutputFormat::OciArchive)?;
                PendingDir::scratch(path)?
            }
        };
        fs_err::create_dir_all(dir.path().join("blobs/sha256"))
            .map_err(|e| plinth_oci::Error::write(dir.path(), e))?;
        Ok(LocalSink {
            dir,
            path: path.to_path_buf(),
            format,
            docker_name,
        })
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir
            .path()
            .join("blobs")
            .join(digest.replacen(':', "/", 1))
    }

    fn write_bytes(&self, digest: &str, bytes: &[u8]) -> Result<()> {
        let p = self.blob_path(digest);
        fs_err::write(&p, bytes).map_err(|e| plinth_oci::Error::write(&p, e))?;
        Ok(())
    }
}

impl LocalSink {
    /// One try at streaming `d` from `src` into its blob file (through a `.part` file).
    fn fetch(
        &self,
        src: &dyn ImageSource,
        d: &Descriptor,
        task: &str,
        reporter: &dyn Reporter,
    ) -> Result<()> {
        let target = self.blob_path(d.digest().as_ref());
        reporter.start(task, Some(d.size()));
        let mut r = src.open_blob(d, max_blob())?;
        let part = target.with_extension("part");
        let mut f = fs_err::File::create(&part).map_err(|e| plinth_oci::Error::write(&part, e))?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Oci(r.error(e))),
            };
            f.write_all(&buf[..n])
                .map_err(|e| plinth_oci::Error::write(&part, e))?;
            reporter.advance(task, n as u64);
        }
        drop(f);
        fs_err::rename(&part, &target).map_err(|e| plinth_oci::Error::write(&target, e))?;
        Ok(())
    }
}

impl Sink for LocalSink {
    /// Streams the blob to disk; a transfer that breaks off (a connection reset, a
    /// body ending early) is tried again from the start, as a connection failure is.
    /// A failure the client already retried (5xx, 429) or that no retry heals (a
    /// redirect loop, a 4xx) is not.
    fn blob(
        &self,
        src: &dyn ImageSource,
        d: &Descriptor,
        task: &str,
        reporter: &dyn Reporter,
    ) -> Result<BlobOutcome> {
        let mut attempt = 0;
        loop {
            match self.fetch(src, d, task, reporter) {
                Ok(()) => return Ok(BlobOutcome::Sent),
                Err(Error::Oci(e))
                    if Error::is_transient_read(&e)
                        && retry::decide(Outcome::Connection, attempt).is_some() =>
                {
                    std::thread::sleep(
                        retry::decide(Outcome::Connection, attempt).expect("checked"),
                    );
                    attempt += 1;
                    reporter.finish(task);
                }
                Err(Error::Oci(e)) => return Err(Error::reading(src, e)),
                Err(e) => return Err(e),
            }
        }
    }

    fn manifest(&self, m: &Manifest, _tag: Option<&str>) -> Result<()> {
        self.write_bytes(&m.digest, &m.bytes)
    }

    fn referrer(&self, _d: &Descriptor, m: &Manifest) -> Result<()> {
        self.write_bytes(&m.digest, &m.bytes)
    }

    fn finish(
        self: Box<Self>,
        root: &Descriptor,
        tag: Option<&str>,
        _reporter: &dyn Reporter,
    ) -> Result<()> {
        let mut root = root.clone();
        if let Some(t) = tag {
            root.set_annotations(Some(
                [(REF_NAME.to_string(), t.to_string())]
                    .into_iter()
                    .collect(),
            ));
        }
        // The referrers' manifests are stored, not listed: as in the layouts `plinth
        // build` writes, index.json names the image alone, so that skopeo, podman and
        // syft read the untagged `oci:DIR`; readers find them by their subject.
        let index = ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(vec![root.clone()])
            .build()
            .map_err(|e| Error::Usage(format!("cannot build index.json: {e}")))?;
        let index = plinth_oci::canonical::to_vec(&index)
            .map_err(|e| Error::Usage(format!("cannot encode index.json: {e}")))?;
        let dir = self.dir.path().to_path_buf();
        let w = |name: &str, bytes: &[u8]| -> Result<()> {
            let p = dir.join(name);
            fs_err::write(&p, bytes).map_err(|e| plinth_oci::Error::write(&p, e))?;
            Ok(())
        };
        w("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        w("index.json", &index)?;
        match self.format {
            DiskFormat::Layout => self.dir.commit()?,
            DiskFormat::OciArchive => {
                plinth_oci::write::write_file_atomically(&self.path, |out| {
                    tar_dir(&dir, out).map_err(|e| plinth_oci::Error::write(&self.path, e))
                })?;
            }
            DiskFormat::DockerArchive => {
                docker_archive(&dir, &root, &self.docker_name, &self.path)?;
            }
        }
        Ok(())
    }
}

fn tar_header(size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// Packs a layout directory into a tar (sorted names, zero times and owners).
fn tar_dir(dir: &Path, out: &mut dyn Write) -> io::Result<()> {
    let mut b = tar::Builder::new(out);
    for d in ["blobs/", "blobs/sha256/"] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(0);
        b.append_data(&mut h, d, io::empty())?;
    }
    let mut blobs: Vec<String> = fs_err::read_dir(dir.join("blobs/sha256"))?
        .filter_map(|e| e.ok())
        .map(|e| format!("blobs/sha256/{}", e.file_name().to_string_lossy()))
        .collect();
    blobs.sort();
    let files = ["oci-layout".to_string(), "index.json".to_string()]
        .into_iter()
        .chain(blobs);
    for name in files {
        let f = fs_err::File::open(dir.join(&name))?;
        let len = f.metadata()?.len();
        b.append_data(&mut tar_header(len, 0o644), &name, f)?;
    }
    b.into_inner()?.flush()
}

/// Writes `docker save`'s format from the layout at `dir`: the config as `HEX.json`,
/// each layer decompressed as `DIFFID.tar` (through a temporary file, so memory does not
/// grow with the layer), and `manifest.json`.
fn docker_archive(dir: &Path, root: &Descriptor, name: &str, path: &Path) -> Result<()> {
    let media = root.media_type().to_string();
    if !matches!(
        media.as_str(),
        "application/vnd.oci.image.manifest.v1+json"
            | "application/vnd.docker.distribution.manifest.v2+json"
    ) {
        return Err(Error::Usage(
            "a docker-archive holds one platform, and this image is an index; choose one with --platform".into(),
        ));
    }
    let blob = |d: &str| dir.join("blobs").join(d.replacen(':', "/", 1));
    let read = |p: &Path| -> Result<Vec<u8>> {
        Ok(fs_err::read(p).map_err(|e| plinth_oci::Error::write(p, e))?)
    };
    let manifest: ImageManifest = serde_json::from_slice(&read(&blob(root.digest().as_ref()))?)
        .map_err(|e| Error::Usage(format!("manifest {}: {e}", root.digest())))?;
    let scratch = tempfile::tempdir_in(dir).map_err(|e| plinth_oci::Error::write(dir, e))?;
    let mut layers = Vec::new();
    for (i, l) in manifest.layers().iter().enumerate() {
        let f = fs_err::File::open(blob(l.digest().as_ref()))
            .map_err(|e| plinth_oci::Error::write(dir, e))?;
        let mut r =
            plinth_oci::source::decompress(l.media_type(), Box::new(io::BufReader::new(f)))?;
        let tmp = scratch.path().join(format!("{i}.tar"));
        let out = fs_err::File::create(&tmp).map_err(|e| plinth_oci::Error::write(&tmp, e))?;
        let mut w = plinth_oci::Sha256Writer::new(io::BufWriter::new(out));
        io::copy(&mut r, &mut w).map_err(|e| plinth_oci::Error::Read {
            what: format!("layer {}", l.digest()),
            source: e,
        })?;
        let (mut out, diff_id, _) = w.finish();
        out.flush().map_err(|e| plinth_oci::Error::write(&tmp, e))?;
        layers.push((tmp, format!("{}.tar", diff_id.digest())));
    }
    let config_name = format!("{}.json", manifest.config().digest().digest());
    let entry = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [name],
        "Layers": layers.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
    }]);
    let manifest_json = serde_json::to_vec(&entry).expect("JSON serialises");
    let config_path = blob(manifest.config().digest().as_ref());
    plinth_oci::write::write_file_atomically(path, |out| {
        let werr = |e| plinth_oci::Error::write(path, e);
        let mut b = tar::Builder::new(out);
        let f = fs_err::File::open(&config_path).map_err(werr)?;
        let len = f.metadata().map_err(werr)?.len();
        b.append_data(&mut tar_header(len, 0o644), &config_name, f)
            .map_err(werr)?;
        let mut added = std::collections::HashSet::new();
        for (tmp, n) in &layers {
            if !added.insert(n.clone()) {
                continue;
            }
            let f = fs_err::File::open(tmp).map_err(werr)?;
            let len = f.metadata().map_err(werr)?.len();
            b.append_data(&mut tar_header(len, 0o644), n, f)
                .map_err(werr)?;
        }
        b.append_data(
            &mut tar_header(manifest_json.len() as u64, 0o644),
            "manifest.json",
            &manifest_json[..],
        )
        .map_err(werr)?;
        b.into_inner().map_err(werr)?.flush().map_err(werr)
    })?;
    Ok(())
}
