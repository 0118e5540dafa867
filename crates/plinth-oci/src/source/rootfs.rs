//! A plain root filesystem: a directory, or a tarball (plain, gzip or zstd) of one.
//!
//! It is a source kind of its own rather than an [`ImageSource`](super::ImageSource): a
//! root filesystem has no manifest, config or digests, and synthesising them would cost a
//! whole extra pass (tarring and hashing a directory, inflating a tarball twice for its
//! `diff_id`) only to make digests nobody asked for. [`ImageFs::from_rootfs`] reads it
//! directly instead, with the same limits as layers.
//!
//! [`ImageFs::from_rootfs`]: crate::ImageFs::from_rootfs

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_spec::image::MediaType;

use super::{ArchiveSource, decompress, sniff_compression};
use crate::error::{Error, Result};
use crate::layer::Compression;

/// Most entries looked at to tell a root filesystem tarball from an image archive.
const MAX_SNIFFED_ENTRIES: usize = 100_000;

/// How a [`RootfsSource`] is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootfsKind {
    /// A directory on disk.
    Dir,
    /// A tarball, plain or compressed.
    Tar,
}

/// A root filesystem found by [`super::open`].
#[derive(Clone, Debug)]
pub struct RootfsSource {
    path: PathBuf,
    kind: RootfsKind,
    /// The tarball's size as stored.
    stored_size: Option<u64>,
}

impl RootfsSource {
    /// A root filesystem directory.
    pub fn dir(path: &Path) -> Self {
        RootfsSource {
            path: path.to_path_buf(),
            kind: RootfsKind::Dir,
            stored_size: None,
        }
    }

    /// What `path` holds when it is a root filesystem: a directory that is not an image
    /// layout (no `oci-layout` or `index.json`), or a file that is a compressed tarball
    /// (image archives are plain tar) or a plain tar holding no `index.json`,
    /// `manifest.json` or `oci-layout` at its top. `None` for anything else.
    pub fn detect(path: &Path) -> Result<Option<Self>> {
        if path.is_dir() {
            let layout = path.join("oci-layout").is_file() || path.join("index.json").is_file();
            return Ok((!layout).then(|| RootfsSource::dir(path)));
        }
        if !path.is_file() || !is_rootfs_tarball(path)? {
            return Ok(None);
        }
        let size = fs_err::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        Ok(Some(RootfsSource {
            path: path.to_path_buf(),
            kind: RootfsKind::Tar,
            stored_size: Some(size),
        }))
    }

    /// The directory or tarball.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Directory or tarball.
    pub fn kind(&self) -> RootfsKind {
        self.kind
    }

    /// Names the root filesystem in messages.
    pub fn name(&self) -> String {
        format!("root filesystem {}", self.path.display())
    }

    /// The tarball's size as stored (`None` for a directory).
    pub fn stored_size(&self) -> Option<u64> {
        self.stored_size
    }

    /// The tarball as an uncompressed tar stream (`None` for a directory).
    pub fn open_tar(&self) -> Result<Option<Box<dyn Read + Send>>> {
        if self.kind == RootfsKind::Dir {
            return Ok(None);
        }
        let file = fs_err::File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let r = decompress(
            &MediaType::Other("application/octet-stream".into()),
            Box::new(io::BufReader::new(file)),
        )?;
        Ok(Some(r))
    }
}

fn is_rootfs_tarball(path: &Path) -> Result<bool> {
    let io_err = |e| Error::io(path, e);
    let mut f = fs_err::File::open(path).map_err(io_err)?;
    let mut magic = [0u8; 6];
    let n = f.read(&mut magic).map_err(io_err)?;
    if sniff_compression(&magic[..n]) != Compression::None {
        // `docker save | gzip` (which `docker load` takes) is an image, not a root
        // filesystem: look at the first entries for an image archive's names.
        return Ok(!compressed_image_archive(path)?);
    }
    if ArchiveSource::open(path).is_ok() {
        return Ok(false);
    }
    let f = fs_err::File::open(path).map_err(io_err)?;
    let len = f.metadata().map_err(io_err)?.len();
    let mut ar = tar::Archive::new(crate::TarGuard::new(
        f,
        path.display().to_string(),
        Some(len),
    ));
    let Ok(entries) = ar.entries_with_seek() else {
        return Ok(false);
    };
    let mut any = false;
    for e in entries.take(MAX_SNIFFED_ENTRIES) {
        let Ok(e) = e else { return Ok(false) };
        any = true;
        let p = e.path_bytes();
        let p = String::from_utf8_lossy(&p);
        if matches!(
            p.trim_start_matches("./"),
            "index.json" | "manifest.json" | "oci-layout"
        ) {
            return Ok(false);
        }
    }
    Ok(any)
}

/// How many entries of a compressed tarball are looked at for an image archive's names.
/// Archives start with them (`blobs/`, `oci-layout`, a layer's `<hex>/` directory);
/// a root filesystem starts with `bin/`, `etc/`, `./`.
const SNIFFED_COMPRESSED_ENTRIES: usize = 64;

/// Whether the compressed tarball at `path` holds an image archive rather than a root
/// filesystem, by the names of its first entries.
fn compressed_image_archive(path: &Path) -> Result<bool> {
    let file = fs_err::File::open(path).map_err(|e| Error::io(path, e))?;
    let r = decompress(
        &MediaType::Other("application/octet-stream".into()),
        Box::new(io::BufReader::new(file)),
    )?;
    let mut ar = tar::Archive::new(crate::TarGuard::new(r, path.display().to_string(), None));
    let Ok(entries) = ar.entries() else {
        return Ok(false);
    };
    for e in entries.take(SNIFFED_COMPRESSED_ENTRIES) {
        // A damaged tarball is the root filesystem reader's to report.
        let Ok(e) = e else { return Ok(false) };
        let p = e.path_bytes();
        let p = String::from_utf8_lossy(&p);
        if is_archive_entry(p.trim_start_matches("./")) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Names only an image archive has at its top: the OCI layout files, `blobs/`, and
/// docker's `manifest.json`, `repositories` and `<64 hex>/` or `<64 hex>.json`.
fn is_archive_entry(p: &str) -> bool {
    let top = p.split('/').next().unwrap_or(p);
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(
        p,
        "index.json" | "manifest.json" | "oci-layout" | "repositories"
    ) || top == "blobs"
        || hex64(top.strip_suffix(".json").unwrap_or(top))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Opened, open};
    use crate::{ImageFs, ImageFsOptions};

    fn tar_of(name: &str, data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
        b.into_inner().unwrap()
    }

    fn rootfs(reference: &str) -> Option<RootfsSource> {
        match open(reference).unwrap() {
            Opened::Rootfs(r) => Some(r),
            Opened::Image { .. } => None,
        }
    }

    /// `docker save | gzip` was read as an empty root filesystem and scanned clean.
    #[test]
    fn a_compressed_image_archive_is_not_a_root_filesystem() {
        let tmp = tempfile::tempdir().unwrap();
        let gzip = |tar: &[u8]| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut enc, tar).unwrap();
            enc.finish().unwrap()
        };
        let layer_dir = format!("{}/layer.tar", "ab".repeat(32));
        for (name, entry) in [
            ("docker.tar.gz", "manifest.json"),
            ("docker-old.tar.gz", layer_dir.as_str()),
            ("oci.tar.gz", "blobs/sha256/00"),
            ("layout.tar.gz", "./oci-layout"),
        ] {
            let p = tmp.path().join(name);
            fs_err::write(&p, gzip(&tar_of(entry, b"{}"))).unwrap();
            assert!(
                RootfsSource::detect(&p).unwrap().is_none(),
                "{name} is an image archive, not a root filesystem"
            );
        }
        // A root filesystem whose files merely look alike deeper down is still one.
        let p = tmp.path().join("root.tar.gz");
        fs_err::write(&p, gzip(&tar_of("srv/blobs/manifest.json", b"{}"))).unwrap();
        assert!(RootfsSource::detect(&p).unwrap().is_some());
        assert!(!is_archive_entry("etc/index.json.bak"));
        assert!(is_archive_entry(&format!("{}.json", "0f".repeat(32))));
    }

    #[test]
    fn directories_and_tarballs_open_as_root_filesystems() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("root");
        fs_err::create_dir_all(dir.join("etc")).unwrap();
        fs_err::write(dir.join("etc/os-release"), b"ID=test\n").unwrap();
        let r = rootfs(dir.to_str().unwrap()).unwrap();
        assert_eq!((r.kind(), r.stored_size()), (RootfsKind::Dir, None));

        let plain = tar_of("etc/os-release", b"ID=test\n");
        let gz = tmp.path().join("root.tar.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &plain).unwrap();
        let bytes = enc.finish().unwrap();
        fs_err::write(&gz, &bytes).unwrap();
        let r = rootfs(gz.to_str().unwrap()).unwrap();
        assert_eq!(
            (r.kind(), r.stored_size()),
            (RootfsKind::Tar, Some(bytes.len() as u64))
        );
        let opts = ImageFsOptions {
            keep_files_up_to: 1 << 20,
            ..Default::default()
        };
        let fs = ImageFs::from_rootfs(&r, &opts).unwrap();
        assert_eq!(fs.read("etc/os-release"), Some(&b"ID=test\n"[..]));

        // A plain tar holding an image's top-level files is an archive, not a rootfs.
        let archive = tmp.path().join("image.tar");
        fs_err::write(&archive, tar_of("manifest.json", b"[]")).unwrap();
        assert!(RootfsSource::detect(&archive).unwrap().is_none());
        // A transport prefix always means an image.
        assert!(open(&format!("oci:{}", dir.display())).is_err());
    }
}
