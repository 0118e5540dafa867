//! Opening what the user names: an image (layout, oci-archive, docker-archive) or a
//! plain root filesystem (a directory, or a tarball, optionally compressed), both through
//! [`plinth_oci::source::open`], squashed into an [`ImageFs`] with the options the
//! catalogers need.

use plinth_oci::platform::host_platform;
use plinth_oci::source::{Opened, RootfsKind};
use plinth_oci::{ImageFs, ImageFsOptions, ImageSource, LayerCache, ResolvedImage};
use serde::Serialize;

use crate::error::{Error, Result};

/// What kind of thing a subject was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubjectKind {
    /// An OCI image layout directory.
    OciLayout,
    /// An OCI image layout in a tarball (`oci-archive:`).
    OciArchive,
    /// A `docker save` tarball (`docker-archive:`).
    DockerArchive,
    /// A plain root filesystem directory.
    RootfsDir,
    /// A root filesystem tarball, optionally compressed.
    RootfsTar,
    /// An image in a registry, read lazily.
    Registry,
}

impl SubjectKind {
    /// The kebab-case name shown in reports (`oci-layout`, `rootfs-dir`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::OciLayout => "oci-layout",
            SubjectKind::OciArchive => "oci-archive",
            SubjectKind::DockerArchive => "docker-archive",
            SubjectKind::RootfsDir => "rootfs-dir",
            SubjectKind::RootfsTar => "rootfs-tar",
            SubjectKind::Registry => "registry",
        }
    }
}

/// One layer of an image subject.
#[derive(Clone, Debug, Serialize)]
pub struct LayerInfo {
    /// The layer's digest (`sha256:…`).
    pub digest: String,
    /// The size of the layer blob in bytes (compressed when the layer is).
    pub size: u64,
    /// The layer's media type, as the manifest gives it.
    pub media_type: String,
}

/// An opened image or root filesystem, squashed.
#[derive(Debug)]
pub struct Subject {
    /// What the user typed.
    pub reference: String,
    /// What the subject was read from.
    pub kind: SubjectKind,
    /// The image (manifest, config), when the subject is one.
    pub image: Option<ResolvedImage>,
    /// Every platform the source holds, `os/arch[/variant]` (empty for a rootfs).
    pub platforms: Vec<String>,
    /// The image's layers, bottom first (empty for a rootfs).
    pub layers: Vec<LayerInfo>,
    /// Bytes as stored: layer blobs for images, the file for a rootfs tarball.
    pub stored_size: Option<u64>,
    /// The squashed filesystem, holding the bytes of the files the reader options keep.
    pub fs: ImageFs,
}

impl Subject {
    /// The manifest digest of an image subject.
    pub fn digest(&self) -> Option<String> {
        self.image
            .as_ref()
            .map(|i| i.descriptor.digest().to_string())
    }

    /// The platform of an image subject, `os/arch[/variant]`.
    pub fn platform(&self) -> Option<String> {
        self.image.as_ref().map(|i| i.platform_string())
    }
}

/// The reader options that keep what the catalogers and facts need (no layer cache).
pub fn fs_options() -> ImageFsOptions {
    ImageFsOptions {
        keep_files_up_to: 512 << 20,
        keep: Some(crate::catalog::wants_file),
        retain: Some(crate::catalog::retain_file),
        ..ImageFsOptions::default()
    }
}

/// [`fs_options`] with, when `cache` is true and `PLINTH_NO_CACHE` is not set (to
/// anything but empty or `0`), the layer cache in `layers/` of Plinth's cache
/// directory ([`LayerCache`]): a second read of an image neither inflates nor parses
/// its layers again.
pub fn fs_options_cached(cache: bool) -> ImageFsOptions {
    let off = std::env::var_os("PLINTH_NO_CACHE").is_some_and(|v| !v.is_empty() && v != "0");
    ImageFsOptions {
        cache: (cache && !off)
            .then(|| LayerCache::new(LayerCache::default_dir(), crate::catalog::READER_TAG)),
        ..fs_options()
    }
}

/// Opens `reference`; `platform` picks one image of a multi-platform index (default: the
/// host's architecture, else the first). Layers are read through the layer cache
/// ([`fs_options_cached`]).
pub fn open(reference: &str, platform: Option<&str>) -> Result<Subject> {
    open_with(reference, platform, &fs_options_cached(true))
}

/// Like [`open`], reading the filesystem with `opts` instead of [`fs_options`].
pub fn open_with(
    reference: &str,
    platform: Option<&str>,
    opts: &ImageFsOptions,
) -> Result<Subject> {
    let (src, tag) = match plinth_oci::source::open(reference)? {
        Opened::Rootfs(rootfs) => {
            let fs = ImageFs::from_rootfs(&rootfs, opts)?;
            return Ok(Subject {
                reference: reference.to_string(),
                kind: match rootfs.kind() {
                    RootfsKind::Dir => SubjectKind::RootfsDir,
                    RootfsKind::Tar => SubjectKind::RootfsTar,
                },
                image: None,
                platforms: Vec::new(),
                layers: Vec::new(),
                stored_size: rootfs.stored_size(),
                fs,
            });
        }
        Opened::Image { source, tag } => (source, tag),
    };
    let kind = match src.name() {
        n if n.starts_with("oci-archive") => SubjectKind::OciArchive,
        n if n.starts_with("docker-archive") => SubjectKind::DockerArchive,
        _ => SubjectKind::OciLayout,
    };
    from_source(
        src.as_ref(),
        tag.as_deref(),
        reference,
        platform,
        kind,
        opts,
    )
}

/// A subject from an image source opened elsewhere (a registry: the binary opens it,
/// since this crate does not link the network); `platform` picks one image of an index.
pub fn from_source(
    src: &dyn ImageSource,
    tag: Option<&str>,
    reference: &str,
    platform: Option<&str>,
    kind: SubjectKind,
    opts: &ImageFsOptions,
) -> Result<Subject> {
    let images = src.images(tag)?;
    let platforms: Vec<String> = images.iter().map(|i| i.platform_string()).collect();
    let image = pick(images, platform, reference)?;
    let fs = ImageFs::open(src, &image, opts)?;
    let layers = layer_infos(&image);
    Ok(Subject {
        reference: reference.to_string(),
        kind,
        stored_size: Some(layers.iter().map(|l| l.size).sum()),
        image: Some(image),
        platforms,
        layers,
        fs,
    })
}

/// A subject for an image already resolved from `src` (e.g. one just built), read
/// without the layer cache.
pub fn from_image(
    src: &dyn ImageSource,
    image: ResolvedImage,
    reference: &str,
    kind: SubjectKind,
) -> Result<Subject> {
    from_image_with(src, image, reference, kind, &fs_options())
}

/// [`from_image`], reading the file system with `opts` (e.g. [`fs_options_cached`]: a
/// build's SBOM of layers it took from its cache then neither inflates nor parses them).
pub fn from_image_with(
    src: &dyn ImageSource,
    image: ResolvedImage,
    reference: &str,
    kind: SubjectKind,
    opts: &ImageFsOptions,
) -> Result<Subject> {
    let fs = ImageFs::open(src, &image, opts)?;
    let layers = layer_infos(&image);
    Ok(Subject {
        reference: reference.to_string(),
        kind,
        stored_size: Some(layers.iter().map(|l| l.size).sum()),
        platforms: vec![image.platform_string()],
        image: Some(image),
        layers,
        fs,
    })
}

fn pick(
    mut images: Vec<ResolvedImage>,
    platform: Option<&str>,
    reference: &str,
) -> Result<ResolvedImage> {
    let all = images
        .iter()
        .map(|i| i.platform_string())
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(want) = platform {
        return match images.iter().position(|i| i.matches_platform(want)) {
            Some(n) => Ok(images.swap_remove(n)),
            None => Err(Error::Input {
                what: reference.to_string(),
                reason: format!("no image for platform {want} (it has: {all})"),
            }),
        };
    }
    if images.is_empty() {
        return Err(Error::Input {
            what: reference.to_string(),
            reason: "holds no image".into(),
        });
    }
    let host = host_platform();
    let n = images
        .iter()
        .position(|i| i.matches_platform(host))
        .unwrap_or(0);
    Ok(images.swap_remove(n))
}

fn layer_infos(image: &ResolvedImage) -> Vec<LayerInfo> {
    image
        .manifest
        .layers()
        .iter()
        .map(|d| LayerInfo {
            digest: d.digest().to_string(),
            size: d.size(),
            media_type: d.media_type().to_string(),
        })
        .collect()
}
