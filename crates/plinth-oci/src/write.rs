//! Writing an [`ImageArtifact`] as an OCI image layout, an oci-archive or a
//! docker-archive. Every output is written under a temporary name beside its target and
//! renamed into place, so a failed or interrupted write leaves nothing half-written.

use std::io::{BufWriter, Write};
use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndexBuilder, MediaType};
use serde::Serialize;

use crate::blob::{Blob, Held, Spool};
use crate::canonical;
use crate::digest::Sha256Writer;
use crate::error::{Error, Result};
use crate::image::ImageArtifact;
use crate::layer::{Content, Entry, LayerBuilder};

/// The on-disk form [`write_image`] produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// An OCI image layout directory.
    Layout,
    /// An OCI image layout in a tar file.
    OciArchive,
    /// The `docker save` format, for `docker load` and `podman load`.
    DockerArchive,
}

/// Where the image is written and under which names.
#[derive(Clone, Debug)]
pub struct WriteOptions<'a> {
    /// Layout directory, oci-archive or docker-archive.
    pub format: OutputFormat,
    /// Repository name used in docker-archive `RepoTags`.
    pub name: &'a str,
    /// Tag written as `org.opencontainers.image.ref.name` and in `RepoTags`.
    pub tag: &'a str,
    /// mtime of the archive entries (the image's `SOURCE_DATE_EPOCH`).
    pub mtime: u64,
}

/// Writes `artifact` to `path` atomically.
pub fn write_image(artifact: &ImageArtifact, path: &Path, opts: &WriteOptions) -> Result<()> {
    prepare_image(artifact, path, opts)?.commit()
}

/// An image written in full under a temporary name beside its output, put in place by
/// [`PreparedImage::commit`]; dropped uncommitted, it is removed. (A process killed
/// before the commit leaves a `.plinth-tmp-PID-*` entry that the next write in that
/// directory removes.)
pub struct PreparedImage {
    staged: Staged,
}

enum Staged {
    Dir(tempfile::TempDir, std::path::PathBuf),
    File(PreparedFile),
}

impl PreparedImage {
    /// Puts the image in place: an atomic rename (a layout replaces the previous one with
    /// two renames, with no moment where a half-written layout is visible).
    pub fn commit(self) -> Result<()> {
        match self.staged {
            Staged::Dir(tmp, path) => replace_dir(tmp, &path),
            Staged::File(f) => f.commit(),
        }
    }
}

/// Writes `artifact` for `path` in full under a temporary name, without putting it in
/// place yet: see [`PreparedImage`].
pub fn prepare_image(
    artifact: &ImageArtifact,
    path: &Path,
    opts: &WriteOptions,
) -> Result<PreparedImage> {
    let parent = plinth_core::dirs::parent_dir(path);
    fs_err::create_dir_all(&parent).map_err(|e| Error::write(&parent, e))?;
    remove_stale_temporaries(&parent);
    let staged = match opts.format {
        OutputFormat::Layout => {
            check_replaceable_dir(path)?;
            let tmp = tempfile::Builder::new()
                .prefix(&tmp_prefix())
                .permissions(plinth_core::dirs::umask_mode(0o777))
                .tempdir_in(&parent)
                .map_err(|e| Error::write(&parent, e))?;
            for (name, entry) in layout_files(artifact, opts.tag)? {
                let dst = tmp.path().join(&name);
                if let Some(dir) = dst.parent() {
                    fs_err::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
                }
                // A blob in a file is hard-linked when the file system allows, else
                // copied as a stream; none is read into memory.
                entry.place(&dst).map_err(|e| Error::write(&dst, e))?;
            }
            Staged::Dir(tmp, path.to_path_buf())
        }
        OutputFormat::OciArchive => {
            let mut b = LayerBuilder::new("oci-archive");
            for (name, data) in layout_files(artifact, opts.tag)? {
                b.add(&name, Entry::file(content_of(&data), 0o644, 0, 0))?;
            }
            Staged::File(prepare_file(path, |w| {
                b.write_tar_to(w, opts.mtime)
                    .map(|_| ())
                    .map_err(|e| as_write(e, path))
            })?)
        }
        OutputFormat::DockerArchive => {
            // The layers' tars are spooled beside the output while the archive is
            // written, and removed with `scratch` after it.
            let scratch = PendingDir::scratch(path)?;
            let (b, _tars) = docker_archive(artifact, opts, scratch.path())?;
            Staged::File(prepare_file(path, |w| {
                b.write_tar_to(w, opts.mtime)
                    .map(|_| ())
                    .map_err(|e| as_write(e, path))
            })?)
        }
    };
    Ok(PreparedImage { staged })
}

/// The archive's entries are the image's own blobs (in memory or in its temporary
/// files): an I/O error while writing its tar is the output's, not a read of an input.
fn as_write(e: Error, path: &Path) -> Error {
    match e {
        Error::Read { source, .. } => Error::write(path, source),
        e => e,
    }
}

/// The files of an OCI image layout: `oci-layout`, `index.json` and every blob.
///
/// `index.json` names the image alone, tagged `tag`: the artifacts attached to it (its
/// referrers) are stored in `blobs/` but not listed. skopeo, podman and syft read an
/// untagged layout (`oci:DIR`) only when `index.json` holds exactly one entry, and umoci
/// only when the tag reaches exactly one manifest; listing the artifacts, beside the image
/// or inside an index with it (docker buildx's shape), breaks one or the other. An
/// artifact is found by its `subject`, as a registry's referrers API finds it:
/// [`crate::ImageSource`]'s `referrers`.
pub fn layout_files(artifact: &ImageArtifact, tag: &str) -> Result<Vec<(String, Blob)>> {
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![artifact.tagged_root(tag)])
        .build()
        .map_err(|e| Error::invalid("index.json", e.to_string()))?;
    let index = canonical::to_vec(&index).map_err(|source| Error::Json {
        what: "index.json".into(),
        source,
    })?;
    let mut files: Vec<(String, Blob)> = vec![
        (
            "oci-layout".into(),
            Blob::from_bytes(&br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
        ),
        ("index.json".into(), Blob::from_bytes(index)),
    ];
    for (digest, data) in &artifact.blobs {
        files.push((
            format!("blobs/{}", digest.replacen(':', "/", 1)),
            data.clone(),
        ));
    }
    Ok(files)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// What an archive entry of `blob` reads: its bytes, or its file as a stream.
fn content_of(blob: &Blob) -> Content {
    match blob.held() {
        Held::Memory(bytes) => Content::Bytes(bytes.clone()),
        Held::File(path) => Content::Path(path.to_path_buf()),
    }
}

/// The entries of a docker-archive, and the blobs of its layers' plain tars (spooled in
/// `scratch` when large), which must live until the archive is written.
fn docker_archive(
    artifact: &ImageArtifact,
    opts: &WriteOptions,
    scratch: &Path,
) -> Result<(LayerBuilder, Vec<Blob>)> {
    if artifact.manifests.len() != 1 {
        return Err(Error::Unsupported(format!(
            "a docker-archive holds one platform, and this image has {}; choose one with --platform",
            artifact.manifests.len()
        )));
    }
    let manifest_desc: &Descriptor = &artifact.manifests[0];
    let manifest: oci_spec::image::ImageManifest = serde_json::from_slice(
        &artifact
            .blob_bytes(manifest_desc.digest())?
            .ok_or_else(|| Error::invalid("image", "manifest blob missing"))?,
    )
    .map_err(|source| Error::Json {
        what: "image manifest".into(),
        source,
    })?;
    let mut b = LayerBuilder::new("docker-archive");
    let config = manifest.config();
    let config_name = format!("{}.json", config.digest().digest());
    let config_bytes = artifact
        .blobs
        .get(&config.digest().to_string())
        .ok_or_else(|| Error::invalid("image", "config blob missing"))?;
    b.add(
        &config_name,
        Entry::file(content_of(config_bytes), 0o644, 0, 0),
    )?;
    let mut layers = Vec::new();
    let mut tars = Vec::new();
    for l in manifest.layers() {
        let data = artifact
            .blob(l.digest())
            .ok_or_else(|| Error::invalid("image", format!("layer {} missing", l.digest())))?;
        // docker-archive layers are plain tars named by their diff_id: decompressed as
        // a stream into the scratch directory, hashed on the way.
        let what = l.digest().to_string();
        let read = |e| Error::io(data.path().unwrap_or(Path::new(&what)), e);
        let raw = std::io::BufReader::new(data.open().map_err(read)?);
        let mut tar = crate::source::decompress(l.media_type(), Box::new(raw))?;
        let mut sink = Sha256Writer::new(Spool::new(scratch));
        std::io::copy(&mut tar, &mut sink).map_err(|e| crate::source::unwrap_io(e, &what))?;
        let (spool, diff_id, _) = sink.finish();
        let blob = spool.finish().map_err(|e| Error::write(scratch, e))?;
        let name = format!("{}.tar", diff_id.digest());
        b.add(&name, Entry::file(content_of(&blob), 0o644, 0, 0))?;
        tars.push(blob);
        layers.push(name);
    }
    let entry = DockerManifestEntry {
        config: config_name,
        repo_tags: vec![format!("{}:{}", opts.name, opts.tag)],
        layers,
    };
    let json = canonical::to_vec(&[entry]).map_err(|source| Error::Json {
        what: "manifest.json".into(),
        source,
    })?;
    b.add(
        "manifest.json",
        Entry::file(Content::Bytes(json.into()), 0o644, 0, 0),
    )?;
    Ok((b, tars))
}

/// A directory written under a temporary name beside its target, for writers that fill
/// it piece by piece (a pull streams blobs into it): [`PendingDir::commit`] renames it
/// into place; dropping it uncommitted removes it, so nothing half-written is left.
pub struct PendingDir {
    tmp: tempfile::TempDir,
    target: std::path::PathBuf,
}

impl PendingDir {
    /// Starts a directory that will replace `path`: refused unless `path` is absent, a
    /// previous OCI image layout or an empty directory.
    pub fn create(path: &Path) -> Result<PendingDir> {
        check_replaceable_dir(path)?;
        let parent = plinth_core::dirs::parent_dir(path);
        fs_err::create_dir_all(&parent).map_err(|e| Error::write(&parent, e))?;
        remove_stale_temporaries(&parent);
        let tmp = tempfile::Builder::new()
            .prefix(&tmp_prefix())
            .permissions(plinth_core::dirs::umask_mode(0o777))
            .tempdir_in(&parent)
            .map_err(|e| Error::write(&parent, e))?;
        Ok(PendingDir {
            tmp,
            target: path.to_path_buf(),
        })
    }

    /// A scratch directory beside `path` (for an archive assembled before it is
    /// written), removed when dropped; it is never renamed into place.
    pub fn scratch(path: &Path) -> Result<PendingDir> {
        let parent = plinth_core::dirs::parent_dir(path);
        fs_err::create_dir_all(&parent).map_err(|e| Error::write(&parent, e))?;
        remove_stale_temporaries(&parent);
        let tmp = tempfile::Builder::new()
            .prefix(&tmp_prefix())
            .tempdir_in(&parent)
            .map_err(|e| Error::write(&parent, e))?;
        Ok(PendingDir {
            tmp,
            target: path.to_path_buf(),
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Renames the directory into place, replacing what [`PendingDir::create`] allowed.
    pub fn commit(self) -> Result<()> {
        replace_dir(self.tmp, &self.target)
    }
}

/// Temporary names carry the writer's PID so that a later run can tell leftovers of a
/// killed process from a write in progress.
fn tmp_prefix() -> String {
    format!(".plinth-tmp-{}-", std::process::id())
}

/// Removes `.plinth-tmp-PID-*` and `.plinth-old-PID-*` entries in `dir` whose process is
/// gone: what a build killed mid-write (SIGKILL, power loss) left behind, beside an
/// output or in the cache's `tmp/` (spooled layers, see [`crate::blob::Spool`]).
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(".plinth-tmp-")
            .or_else(|| name.strip_prefix(".plinth-old-"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let p = e.path();
        let _ = if p.is_dir() && !p.is_symlink() {
            fs_err::remove_dir_all(&p)
        } else {
            fs_err::remove_file(&p)
        };
    }
}

/// Checks, before anything is written, that [`write_image`] may write `format` at
/// `path`: a layout may replace only a previous layout or an empty directory; an archive
/// may not replace a directory. Callers that write files beside the image (SBOMs) call
/// this first, so that a refused build writes nothing at all.
pub fn check_output(path: &Path, format: OutputFormat) -> Result<()> {
    match format {
        OutputFormat::Layout => check_replaceable_dir(path),
        OutputFormat::OciArchive | OutputFormat::DockerArchive => {
            if fs_err::metadata(path).is_ok_and(|m| m.is_dir()) {
                return Err(Error::Clobber {
                    path: path.to_path_buf(),
                    reason: "it is a directory",
                });
            }
            Ok(())
        }
    }
}

/// Whether `path` is a device or FIFO (`/dev/null`, `/dev/stdout`, a named pipe): an
/// output with no directory to write other files beside.
pub fn is_special_output(path: &Path) -> bool {
    fs_err::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Refuses to replace anything that is not a previous image layout or an empty directory.
fn check_replaceable_dir(path: &Path) -> Result<()> {
    match fs_err::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
        Ok(m) if m.is_dir() => {
            let is_layout = path.join("oci-layout").is_file();
            let empty = fs_err::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .next()
                .is_none();
            if is_layout || empty {
                Ok(())
            } else {
                Err(Error::Clobber {
                    path: path.to_path_buf(),
                    reason: "it is a non-empty directory that is not an OCI image layout",
                })
            }
        }
        Ok(_) => Err(Error::Clobber {
            path: path.to_path_buf(),
            reason: "it exists and is not a directory",
        }),
    }
}

fn replace_dir(tmp: tempfile::TempDir, path: &Path) -> Result<()> {
    let tmp_path = tmp.keep();
    if path.exists() {
        // `.plinth-old-PID-NAME`: the PID first, as `remove_stale_temporaries` reads it
        // (with the name first, a killed build's old layout was never removed).
        let old = path.with_file_name(format!(
            ".plinth-old-{}-{}",
            std::process::id(),
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
        ));
        fs_err::rename(path, &old).map_err(|e| Error::write(path, e))?;
        if let Err(e) = fs_err::rename(&tmp_path, path) {
            let _ = fs_err::rename(&old, path);
            let _ = fs_err::remove_dir_all(&tmp_path);
            return Err(Error::write(path, e));
        }
        let _ = fs_err::remove_dir_all(&old);
    } else if let Err(e) = fs_err::rename(&tmp_path, path) {
        let _ = fs_err::remove_dir_all(&tmp_path);
        return Err(Error::write(path, e));
    }
    Ok(())
}

/// Writes a file through `f` under a temporary name and renames it to `path`.
///
/// What is at `path` is never replaced by something else: a device or FIFO
/// (`-o /dev/stdout`, `-o /dev/null`, a named pipe) is written through, as a shell
/// redirection would; a symbolic link to a regular file has its target replaced
/// (atomically), not the link; a directory or a link to nothing is refused.
pub fn write_file_atomically(
    path: &Path,
    f: impl FnOnce(&mut BufWriter<&mut std::fs::File>) -> Result<()>,
) -> Result<()> {
    prepare_file(path, f)?.commit()
}

/// A file written in full under a temporary name beside where it goes, put in place by
/// [`PreparedFile::commit`] (an atomic rename); dropped uncommitted, it is removed.
pub struct PreparedFile {
    /// `None` when the output was written through (a device or FIFO).
    tmp: Option<tempfile::NamedTempFile>,
    path: std::path::PathBuf,
}

impl PreparedFile {
    /// Where the file goes (a symbolic link's target, when the output was a link).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file into place.
    pub fn commit(self) -> Result<()> {
        if let Some(tmp) = self.tmp {
            tmp.persist(&self.path)
                .map_err(|e| Error::write(&self.path, e.error))?;
        }
        Ok(())
    }
}

/// Writes a file through `f` under a temporary name beside `path`, without renaming it
/// into place yet: see [`write_file_atomically`] for what happens to what is at `path`.
/// A device or FIFO is written through at once (there is nothing to rename).
pub fn prepare_file(
    path: &Path,
    f: impl FnOnce(&mut BufWriter<&mut std::fs::File>) -> Result<()>,
) -> Result<PreparedFile> {
    let is_link = fs_err::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let target = match fs_err::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(Error::Clobber {
                path: path.to_path_buf(),
                reason: "it is a directory",
            });
        }
        Ok(m) if !m.is_file() => {
            let mut file: std::fs::File = fs_err::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| Error::write(path, e))?
                .into();
            let mut w = BufWriter::new(&mut file);
            f(&mut w)?;
            w.flush().map_err(|e| Error::write(path, e))?;
            return Ok(PreparedFile {
                tmp: None,
                path: path.to_path_buf(),
            });
        }
        Ok(_) if is_link => fs_err::canonicalize(path).map_err(|e| Error::write(path, e))?,
        Err(_) if is_link => {
            return Err(Error::Clobber {
                path: path.to_path_buf(),
                reason: "it is a symbolic link to nothing",
            });
        }
        _ => path.to_path_buf(),
    };
    let path = target.as_path();
    let parent = plinth_core::dirs::parent_dir(path);
    fs_err::create_dir_all(&parent).map_err(|e| Error::write(&parent, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&tmp_prefix())
        .permissions(plinth_core::dirs::umask_mode(0o666))
        .tempfile_in(&parent)
        .map_err(|e| Error::write(&parent, e))?;
    {
        let mut w = BufWriter::new(tmp.as_file_mut());
        f(&mut w)?;
        w.flush().map_err(|e| Error::write(path, e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::write(path, e))?;
    Ok(PreparedFile {
        tmp: Some(tmp),
        path: target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn write_text(path: &Path, text: &str) -> Result<()> {
        write_file_atomically(path, |w| {
            w.write_all(text.as_bytes())
                .map_err(|e| Error::write(path, e))
        })
    }

    /// `-o` onto a symlink replaced the link with a regular file.
    #[test]
    fn a_symlink_is_written_through_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("real.json");
        fs_err::write(&target, b"old").unwrap();
        let link = tmp.path().join("link.json");
        fs_err::os::unix::fs::symlink(&target, &link).unwrap();
        write_text(&link, "new").unwrap();
        assert!(
            fs_err::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs_err::read(&target).unwrap(), b"new");
        let dangling = tmp.path().join("dangling.json");
        fs_err::os::unix::fs::symlink(tmp.path().join("nowhere/x"), &dangling).unwrap();
        let err = write_text(&dangling, "x").unwrap_err();
        assert!(
            err.to_string().contains("symbolic link to nothing"),
            "{err}"
        );
        assert!(!tmp.path().join("nowhere").exists());
    }

    /// `-o /dev/null` and `-o FIFO` replaced the device or pipe with a regular file.
    #[test]
    fn devices_and_fifos_are_written_through() {
        write_text(Path::new("/dev/null"), "discarded").unwrap();
        let meta = fs_err::metadata("/dev/null").unwrap();
        assert!(!meta.is_file(), "/dev/null was replaced");

        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("SKIPPED: mkfifo is not available");
            return;
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut got = String::new();
                fs_err::File::open(&fifo)
                    .unwrap()
                    .read_to_string(&mut got)
                    .unwrap();
                got
            })
        };
        write_text(&fifo, "through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert!(!fs_err::metadata(&fifo).unwrap().is_file());
    }
}
