//! Fuzz bodies for plinth-oci's readers: a layer's tar stream, an OCI layout directory
//! and an image archive. Shared, through `#[path]`, by the libFuzzer targets in
//! `fuzz/fuzz_targets/` and by the corpus replay test of plinth-oci
//! (`crates/plinth-oci/tests/it/fuzz_corpus.rs`), which runs without a nightly compiler.
//! Any bytes must give `Ok` or `Err`, never a panic, a hang or a huge allocation.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use plinth_oci::{ImageFs, ImageFsOptions};

/// Small bounds, so that an input cannot make one run slow by declaring large sizes.
pub fn options() -> ImageFsOptions {
    ImageFsOptions {
        keep_files_up_to: 1 << 20,
        max_kept_bytes: 8 << 20,
        max_entries: 10_000,
        max_uncompressed: 64 << 20,
        ..Default::default()
    }
}

/// Reads everything a cataloger would from `fs`: every path, resolved, and its bytes.
fn walk(fs: &ImageFs) {
    for (path, _) in fs.iter().take(10_000) {
        let _ = fs.resolve(path);
        let _ = fs.read(path).map(<[u8]>::len);
    }
    let _ = fs.warnings().len();
}

/// `data` as an uncompressed layer tar, applied on an empty file system, then again on
/// top of itself (whiteouts, hard links and directories replacing files meet the
/// result of the first pass).
pub fn tar_layer(data: &[u8]) {
    let opts = options();
    let mut fs = ImageFs::default();
    if fs.apply_tar(0, data, "fuzz layer", &opts).is_ok() {
        let _ = fs.apply_tar(1, data, "fuzz layer again", &opts);
    }
    walk(&fs);
}

/// Opens the image store at `path` and reads each image in it (at most four).
fn read_store(path: &Path) {
    let Some(reference) = path.to_str() else {
        return;
    };
    let Ok((src, tag)) = plinth_oci::source::open_image(reference) else {
        return;
    };
    let Ok(images) = src.images(tag.as_deref()) else {
        return;
    };
    for image in images.iter().take(4) {
        let _ = image.platform_string();
        if let Ok(fs) = ImageFs::open(src.as_ref(), image, &options()) {
            walk(&fs);
        }
    }
}

/// `data` as a tar holding an OCI layout (an oci-archive's content), unpacked into a
/// temporary directory (regular files and directories with plain relative names only,
/// 16 MiB at most) and opened as a layout directory.
pub fn oci_layout(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let mut archive = tar::Archive::new(data);
    let Ok(entries) = archive.entries() else {
        return;
    };
    let mut budget: u64 = 16 << 20;
    for entry in entries.take(1_000) {
        let Ok(mut entry) = entry else {
            break;
        };
        let Ok(name) = entry.path().map(|p| p.into_owned()) else {
            continue;
        };
        let Some(rel) = plain_relative(&name) else {
            continue;
        };
        let target = dir.path().join(&rel);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            let _ = fs_err::create_dir_all(&target);
        } else if kind.is_file() {
            if let Some(parent) = target.parent() {
                let _ = fs_err::create_dir_all(parent);
            }
            let mut bytes = Vec::new();
            if (&mut entry).take(budget).read_to_end(&mut bytes).is_err() {
                break;
            }
            budget -= bytes.len() as u64;
            let _ = fs_err::write(&target, &bytes);
        }
    }
    read_store(dir.path());
}

/// `name` if it is relative and has normal components only.
fn plain_relative(name: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// `data` as an image archive file (oci-archive or docker-archive, plain or
/// compressed), opened by the same entry point as `plinth sbom FILE`.
pub fn image_archive(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let path = dir.path().join("image.tar");
    if fs_err::write(&path, data).is_ok() {
        read_store(&path);
    }
}
