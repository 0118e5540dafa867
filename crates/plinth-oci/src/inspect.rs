//! `inspect`: what an image holds (manifest, config, layers and files) after checking
//! every digest and size, as data for the caller to render.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fs::{ImageFs, ImageFsOptions, NodeKind};
use crate::source::{Referrer, ResolvedImage, Spooled, open_image};
use crate::validate::validate;

/// An image source and each of its images.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The digest of the image index the images were reached from (the digest a user
    /// pins for a multi-platform image); `None` when the source names manifests directly.
    pub index_digest: Option<String>,
    /// The source as its reader names it (a path, with the archive kind).
    pub source: String,
    /// How many blobs `validate` read and checked (digest and size).
    pub validated_blobs: usize,
    /// One report per image, in index order.
    pub images: Vec<ImageReport>,
}

/// One image (one platform's manifest) of a source.
#[derive(Clone, Debug, Serialize)]
pub struct ImageReport {
    /// The tag that names it in the source, if any.
    pub tag: Option<String>,
    /// The manifest's digest (`sha256:…`).
    pub digest: String,
    /// The manifest's media type.
    pub media_type: String,
    /// `os/arch[/variant]`.
    pub platform: String,
    /// The config's `created` time, as written.
    pub created: Option<String>,
    /// The config blob's digest.
    pub config_digest: String,
    /// The config, as JSON.
    pub config: serde_json::Value,
    /// The layers, bottom first.
    pub layers: Vec<LayerReport>,
    /// The sum of the layer blobs' sizes, in bytes.
    pub compressed_size: u64,
    /// The sum of the regular files' sizes in the squashed root filesystem, in bytes.
    pub uncompressed_files_size: u64,
    /// Every path of the squashed root filesystem, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileReport>>,
    /// What the squash skipped or refused (unsafe paths, hostile links).
    pub warnings: Vec<String>,
    /// The artifacts attached to the image (OCI 1.1 `subject`): the SBOM a build
    /// attaches, signatures, attestations.
    pub referrers: Vec<Referrer>,
}

/// One layer of an image.
#[derive(Clone, Debug, Serialize)]
pub struct LayerReport {
    /// The compressed blob's digest.
    pub digest: String,
    /// The uncompressed tar's digest, from the config.
    pub diff_id: String,
    /// The layer's media type (gzip, zstd or uncompressed).
    pub media_type: String,
    /// The blob's size in bytes.
    pub size: u64,
    /// The history entry's comment or `created_by`.
    pub comment: Option<String>,
}

/// One path of the squashed root filesystem.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    /// Absolute path inside the image.
    pub path: String,
    /// `file`, `dir`, `symlink`, `hardlink`, `char-device`, `block-device` or `fifo`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Octal, four digits.
    pub mode: String,
    /// Numeric owner.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
    /// Bytes, for a regular file; 0 otherwise.
    pub size: u64,
    /// A link's target, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Index (bottom = 0) of the layer the entry comes from.
    pub layer: usize,
}

/// Opens `reference` (as [`open_image`] reads it), validates it and reports each image
/// (only `platform`'s, when given), with the file listing when `files`.
pub fn inspect(reference: &str, platform: Option<&str>, files: bool) -> Result<Report> {
    let (src, tag) = open_image(reference)?;
    inspect_source(src.as_ref(), tag.as_deref(), platform, files, true)
}

/// [`inspect`] of a source opened elsewhere (a registry image), `tag` naming the image
/// in its index. With `validate_all` false (a remote source, where reading every blob
/// of every platform twice costs a download each), only the blobs of the images shown
/// are read, once, each through its verifying reader.
pub fn inspect_source(
    src: &dyn crate::ImageSource,
    tag: Option<&str>,
    platform: Option<&str>,
    files: bool,
    validate_all: bool,
) -> Result<Report> {
    let checked_blobs = if validate_all {
        Some(validate(src)?.blobs)
    } else {
        None
    };
    let mut images = src.images(tag)?;
    if let Some(p) = platform {
        images.retain(|i| i.platform_string() == p);
        if images.is_empty() {
            return Err(Error::NotFound(format!(
                "{} has no image for platform {p}",
                src.name()
            )));
        }
    }
    // A layer several of the images shown hold (a platform-independent one) is read
    // from a remote source once, then from a temporary file; counted once, as
    // `validate` counts it.
    let mut uses: HashMap<String, usize> = HashMap::new();
    let mut distinct = HashSet::new();
    for img in &images {
        for (l, diff_id) in img
            .manifest
            .layers()
            .iter()
            .zip(img.config.rootfs().diff_ids())
        {
            *uses.entry(l.digest().to_string()).or_default() += 1;
            distinct.insert((l.digest().to_string(), diff_id.clone()));
        }
    }
    let shared = if validate_all {
        HashSet::new()
    } else {
        uses.into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(d, _)| d)
            .collect()
    };
    let spooled = Spooled::new(src, shared)?;
    let mut reports = Vec::new();
    let mut validated = checked_blobs.unwrap_or(2 * images.len() + distinct.len());
    let mut referrers = src.referrers_by_subject()?;
    for img in &images {
        let fs = ImageFs::open(&spooled, img, &ImageFsOptions::default())?;
        let mut report = image_report(img, &fs, files);
        report.referrers = referrers
            .remove(&img.descriptor.digest().to_string())
            .unwrap_or_default();
        // Each referrer's manifest, config and layers were verified too.
        validated += report
            .referrers
            .iter()
            .map(|r| 2 + r.layers.len())
            .sum::<usize>();
        reports.push(report);
    }
    Ok(Report {
        index_digest: src.index_digest(tag),
        source: src.name(),
        validated_blobs: validated,
        images: reports,
    })
}

/// One image's report, from its squashed filesystem.
pub fn image_report(img: &ResolvedImage, fs: &ImageFs, files: bool) -> ImageReport {
    let history: Vec<_> = img
        .config
        .history()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|h| !h.empty_layer().unwrap_or(false))
        .collect();
    let layers: Vec<LayerReport> = img
        .manifest
        .layers()
        .iter()
        .zip(img.config.rootfs().diff_ids())
        .enumerate()
        .map(|(i, (d, diff))| LayerReport {
            digest: d.digest().to_string(),
            diff_id: diff.clone(),
            media_type: d.media_type().to_string(),
            size: d.size(),
            comment: history
                .get(i)
                .and_then(|h| h.comment().clone().or(h.created_by().clone())),
        })
        .collect();
    let files = files.then(|| {
        fs.iter()
            .map(|(p, n)| {
                let (kind, link) = match &n.kind {
                    NodeKind::File => ("file", None),
                    NodeKind::Dir => ("dir", None),
                    NodeKind::Symlink(t) => ("symlink", Some(t.clone())),
                    NodeKind::Hardlink(t) => ("hardlink", Some(format!("/{t}"))),
                    NodeKind::CharDevice => ("char-device", None),
                    NodeKind::BlockDevice => ("block-device", None),
                    NodeKind::Fifo => ("fifo", None),
                };
                FileReport {
                    path: format!("/{p}"),
                    kind,
                    mode: format!("{:04o}", n.mode),
                    uid: n.uid,
                    gid: n.gid,
                    size: n.size,
                    link,
                    layer: n.layer,
                }
            })
            .collect()
    });
    ImageReport {
        tag: img.tag.clone(),
        digest: img.descriptor.digest().to_string(),
        media_type: img.descriptor.media_type().to_string(),
        platform: img.platform_string(),
        created: img.config.created().clone(),
        config_digest: img.manifest.config().digest().to_string(),
        config: serde_json::from_slice(&img.config_raw).unwrap_or(serde_json::Value::Null),
        compressed_size: layers.iter().map(|l| l.size).sum(),
        uncompressed_files_size: fs.file_bytes(),
        layers,
        files,
        warnings: fs.warnings().to_vec(),
        referrers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use oci_spec::image::{Arch, Config, Os, Platform};

    use super::*;
    use crate::image::{ImageBuilder, PlatformImage};
    use crate::layer::{Compression, Content, Entry, LayerBuilder};
    use crate::write::{OutputFormat, WriteOptions, write_image};

    fn layout(dir: &std::path::Path) -> std::path::PathBuf {
        write(&artifact(false), &dir.join("img"), OutputFormat::Layout)
    }

    fn write(
        artifact: &crate::ImageArtifact,
        out: &std::path::Path,
        format: OutputFormat,
    ) -> std::path::PathBuf {
        write_image(
            artifact,
            out,
            &WriteOptions {
                format,
                name: "img",
                tag: "latest",
                mtime: 0,
            },
        )
        .unwrap();
        out.to_path_buf()
    }

    /// A one-platform image, with an SBOM attached when `sbom`.
    fn artifact(sbom: bool) -> crate::ImageArtifact {
        let mut layer = LayerBuilder::new("test");
        layer.add("etc", Entry::dir(0o755, 0, 0)).unwrap();
        layer
            .add(
                "etc/motd",
                Entry::file(Content::Bytes(Arc::from(&b"hi\n"[..])), 0o644, 0, 0),
            )
            .unwrap();
        let mut platform = Platform::default();
        platform.set_os(Os::Linux);
        platform.set_architecture(Arch::Amd64);
        let mut artifact = ImageBuilder::new(BTreeMap::new())
            .build(vec![PlatformImage {
                platform,
                config: Config::default(),
                layers: vec![(layer.finish(Compression::Gzip, 0).unwrap(), "files".into())],
                created: "1970-01-01T00:00:00Z".into(),
            }])
            .unwrap();
        if sbom {
            let subject = artifact.manifests[0].clone();
            artifact
                .attach(
                    &subject,
                    "application/spdx+json",
                    br#"{"spdxVersion":"SPDX-2.3"}"#.to_vec(),
                    BTreeMap::new(),
                )
                .unwrap();
        }
        artifact
    }

    fn index_entries(layout: &std::path::Path) -> Vec<serde_json::Value> {
        let index: serde_json::Value =
            serde_json::from_slice(&fs_err::read(layout.join("index.json")).unwrap()).unwrap();
        index["manifests"].as_array().unwrap().clone()
    }

    /// Issue 13, point 5: skopeo, podman and syft refuse an untagged layout whose
    /// `index.json` holds more than the image.
    #[test]
    fn untagged_layout_with_an_attached_sbom_lists_only_the_image() {
        let tmp = tempfile::tempdir().unwrap();
        let a = artifact(true);
        let img = write(&a, &tmp.path().join("img"), OutputFormat::Layout);
        let entries = index_entries(&img);
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0]["digest"], a.root.digest().to_string());
        // The artifact is stored, and found by its subject.
        let r = inspect(img.to_str().unwrap(), None, false).unwrap();
        let refs = &r.images[0].referrers;
        assert_eq!(refs.len(), 1, "{refs:?}");
        assert_eq!(refs[0].digest, a.referrers[0].digest().to_string());
        assert_eq!(refs[0].artifact_type, "application/spdx+json");
        assert_eq!(refs[0].layers[0].media_type, "application/spdx+json");
        // manifest + config + layer, then the artifact's manifest, empty config, payload.
        assert_eq!(r.validated_blobs, 6);
        // The same from an oci-archive.
        let tar = write(&a, &tmp.path().join("img.tar"), OutputFormat::OciArchive);
        let r = inspect(tar.to_str().unwrap(), None, false).unwrap();
        assert_eq!(r.images[0].referrers, *refs);
        // An image with nothing attached has no referrers.
        let plain = write(
            &artifact(false),
            &tmp.path().join("plain"),
            OutputFormat::Layout,
        );
        let r = inspect(plain.to_str().unwrap(), None, false).unwrap();
        assert!(r.images[0].referrers.is_empty());
        assert_eq!(r.validated_blobs, 3);
    }

    /// `oras attach --oci-layout` lists the artifact in `index.json`: it is still found,
    /// once, and not taken for an image.
    #[test]
    fn an_artifact_listed_in_index_json_is_found_once() {
        let tmp = tempfile::tempdir().unwrap();
        let a = artifact(true);
        let img = write(&a, &tmp.path().join("img"), OutputFormat::Layout);
        let mut entries = index_entries(&img);
        entries.push(serde_json::to_value(&a.referrers[0]).unwrap());
        let index = serde_json::json!({"schemaVersion": 2, "manifests": entries});
        fs_err::write(img.join("index.json"), index.to_string()).unwrap();
        let r = inspect(&format!("{}:latest", img.display()), None, false).unwrap();
        assert_eq!(r.images.len(), 1);
        assert_eq!(r.images[0].referrers.len(), 1);
    }

    /// A stored artifact whose bytes do not match its name is a corrupt layout, not an
    /// image without an SBOM.
    #[test]
    fn a_corrupt_attached_artifact_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let a = artifact(true);
        let img = write(&a, &tmp.path().join("img"), OutputFormat::Layout);
        let blob = img
            .join("blobs")
            .join(a.referrers[0].digest().to_string().replacen(':', "/", 1));
        let mut bytes = fs_err::read(&blob).unwrap();
        bytes[0] = b' ';
        fs_err::write(&blob, bytes).unwrap();
        let e = inspect(img.to_str().unwrap(), None, false).unwrap_err();
        assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    }

    #[test]
    fn reports_layers_and_files_of_a_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let img = layout(tmp.path());
        let r = inspect(img.to_str().unwrap(), None, true).unwrap();
        assert_eq!(r.images.len(), 1);
        // One platform: the layout's index.json names the manifest, with no index between.
        assert_eq!(r.index_digest, None);
        let i = &r.images[0];
        assert_eq!(i.platform, "linux/amd64");
        assert_eq!(i.layers.len(), 1);
        assert_eq!(i.layers[0].comment.as_deref(), Some("files"));
        assert_eq!(i.uncompressed_files_size, 3);
        let motd = i
            .files
            .as_ref()
            .unwrap()
            .iter()
            .find(|f| f.path == "/etc/motd")
            .unwrap();
        assert_eq!(
            (motd.kind, motd.mode.as_str(), motd.size),
            ("file", "0644", 3)
        );
        assert!(
            inspect(img.to_str().unwrap(), None, false).unwrap().images[0]
                .files
                .is_none()
        );
    }

    #[test]
    fn another_platform_is_not_found() {
        let tmp = tempfile::tempdir().unwrap();
        let img = layout(tmp.path());
        let e = inspect(img.to_str().unwrap(), Some("linux/arm64"), false).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("has no image for platform linux/arm64"),
            "{e}"
        );
    }
}
