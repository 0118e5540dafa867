//! Assembling layers and configs into manifests and indexes.

use oci_spec::image::{
    Config, Descriptor, Digest, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, MediaType, Platform, RootFsBuilder,
};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::blob::Blob;
use crate::canonical;
use crate::digest::sha256_digest;
use crate::error::{Error, Result};
use crate::layer::LayerBlob;

/// What one platform's image is made of, before it is assembled.
#[derive(Debug)]
pub struct PlatformImage {
    /// The platform; written into the index entry when the image has several.
    pub platform: Platform,
    /// The runtime config (`Env`, `Entrypoint`, `User`, …) of the image config blob.
    pub config: Config,
    /// Layers, bottom first, each with the history comment that describes it.
    pub layers: Vec<(LayerBlob, String)>,
    /// The `created` time written into the config and history (RFC 3339).
    pub created: String,
}

/// A finished image: every blob by digest, and the root descriptor (a manifest for one
/// platform, an index for several) that a layout's `index.json` points at.
#[derive(Debug, Clone)]
pub struct ImageArtifact {
    /// Every blob (configs, layers, manifests, index, referrers), keyed by `sha256:…` digest.
    pub blobs: BTreeMap<String, Blob>,
    /// The image index for several platforms, else the one manifest.
    pub root: Descriptor,
    /// One manifest descriptor per platform, in spec order.
    pub manifests: Vec<Descriptor>,
    /// Artifacts attached to the image (SBOMs): each points at its image through
    /// `subject`. A layout stores them in `blobs/` without listing them in `index.json`
    /// (see [`crate::write::layout_files`]).
    pub referrers: Vec<Descriptor>,
}

/// Assembles [`PlatformImage`]s into an [`ImageArtifact`].
#[derive(Debug, Default)]
pub struct ImageBuilder {
    annotations: BTreeMap<String, String>,
}

fn desc(media_type: MediaType, bytes: &[u8]) -> Descriptor {
    Descriptor::new(media_type, bytes.len() as u64, sha256_digest(bytes))
}

fn json_err(what: &str) -> impl FnOnce(serde_json::Error) -> Error + '_ {
    move |source| Error::Json {
        what: what.to_string(),
        source,
    }
}

fn spec_err(what: &str) -> impl FnOnce(oci_spec::OciSpecError) -> Error + '_ {
    move |e| Error::invalid(what, e.to_string())
}

impl ImageBuilder {
    /// Annotations written on every manifest and on the index.
    pub fn new(annotations: BTreeMap<String, String>) -> Self {
        ImageBuilder { annotations }
    }

    fn annotations(&self) -> Option<HashMap<String, String>> {
        (!self.annotations.is_empty()).then(|| self.annotations.clone().into_iter().collect())
    }

    /// Writes one config and manifest per image and, for more than one, an index over
    /// them; fails on an empty list.
    pub fn build(&self, images: Vec<PlatformImage>) -> Result<ImageArtifact> {
        if images.is_empty() {
            return Err(Error::invalid("image", "no platform to build"));
        }
        let mut blobs = BTreeMap::new();
        let mut manifests = Vec::new();
        let multi = images.len() > 1;
        for img in images {
            let diff_ids: Vec<String> = img
                .layers
                .iter()
                .map(|(l, _)| l.diff_id.to_string())
                .collect();
            let history = img
                .layers
                .iter()
                .map(|(_, comment)| {
                    HistoryBuilder::default()
                        .created(img.created.clone())
                        .created_by("plinth build")
                        .comment(comment.clone())
                        .build()
                        .map_err(spec_err("image history"))
                })
                .collect::<Result<Vec<_>>>()?;
            let mut cb = ImageConfigurationBuilder::default()
                .created(img.created.clone())
                .architecture(img.platform.architecture().clone())
                .os(img.platform.os().clone())
                .config(img.config.clone())
                .rootfs(
                    RootFsBuilder::default()
                        .typ("layers")
                        .diff_ids(diff_ids)
                        .build()
                        .map_err(spec_err("image rootfs"))?,
                )
                .history(history);
            if let Some(v) = img.platform.variant() {
                cb = cb.variant(v.clone());
            }
            let config: ImageConfiguration = cb.build().map_err(spec_err("image config"))?;
            let config_bytes = canonical::to_vec(&config).map_err(json_err("image config"))?;
            let config_desc = desc(MediaType::ImageConfig, &config_bytes);
            blobs.insert(
                config_desc.digest().to_string(),
                Blob::from_bytes(config_bytes),
            );

            let mut layer_descs = Vec::new();
            for (layer, _) in img.layers {
                layer_descs.push(Descriptor::new(
                    layer.media_type.clone(),
                    layer.data.len(),
                    layer.digest.clone(),
                ));
                blobs.insert(layer.digest.to_string(), layer.data);
            }
            let mut mb = ImageManifestBuilder::default()
                .schema_version(2u32)
                .media_type(MediaType::ImageManifest)
                .config(config_desc)
                .layers(layer_descs);
            if let Some(a) = self.annotations() {
                mb = mb.annotations(a);
            }
            let manifest = mb.build().map_err(spec_err("image manifest"))?;
            let bytes = canonical::to_vec(&manifest).map_err(json_err("image manifest"))?;
            let mut d = desc(MediaType::ImageManifest, &bytes);
            if multi {
                d.set_platform(Some(img.platform.clone()));
            }
            blobs.insert(d.digest().to_string(), Blob::from_bytes(bytes));
            manifests.push(d);
        }
        let root = if multi {
            let mut ib = ImageIndexBuilder::default()
                .schema_version(2u32)
                .media_type(MediaType::ImageIndex)
                .manifests(manifests.clone());
            if let Some(a) = self.annotations() {
                ib = ib.annotations(a);
            }
            let index = ib.build().map_err(spec_err("image index"))?;
            let bytes = canonical::to_vec(&index).map_err(json_err("image index"))?;
            let d = desc(MediaType::ImageIndex, &bytes);
            blobs.insert(d.digest().to_string(), Blob::from_bytes(bytes));
            d
        } else {
            manifests[0].clone()
        };
        Ok(ImageArtifact {
            blobs,
            root,
            manifests,
            referrers: Vec::new(),
        })
    }
}

/// The empty config of OCI 1.1 artifacts (`{}`).
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

impl ImageArtifact {
    /// Attaches `payload` to the platform manifest `subject` as an OCI 1.1 artifact
    /// (`artifactType` = `media_type`, an empty config, one layer, `subject` set), the
    /// way `oras attach` does. Returns the artifact manifest's descriptor.
    pub fn attach(
        &mut self,
        subject: &Descriptor,
        media_type: &str,
        payload: Vec<u8>,
        annotations: BTreeMap<String, String>,
    ) -> Result<Descriptor> {
        let empty = desc(MediaType::Other(EMPTY_CONFIG_MEDIA_TYPE.into()), b"{}");
        self.blobs
            .insert(empty.digest().to_string(), Blob::from_bytes(&b"{}"[..]));
        let layer = desc(MediaType::Other(media_type.into()), &payload);
        self.blobs
            .insert(layer.digest().to_string(), Blob::from_bytes(payload));
        let mut subject = subject.clone();
        subject.set_annotations(None);
        subject.set_platform(None);
        let mut b = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .artifact_type(MediaType::Other(media_type.into()))
            .config(empty)
            .layers(vec![layer])
            .subject(subject);
        if !annotations.is_empty() {
            b = b.annotations(annotations.clone().into_iter().collect::<HashMap<_, _>>());
        }
        let manifest = b.build().map_err(spec_err("artifact manifest"))?;
        let bytes = canonical::to_vec(&manifest).map_err(json_err("artifact manifest"))?;
        let mut d = desc(MediaType::ImageManifest, &bytes);
        d.set_artifact_type(Some(MediaType::Other(media_type.into())));
        if !annotations.is_empty() {
            d.set_annotations(Some(annotations.into_iter().collect()));
        }
        self.blobs
            .insert(d.digest().to_string(), Blob::from_bytes(bytes));
        self.referrers.push(d.clone());
        Ok(d)
    }

    /// The blob `digest`, `None` when the artifact does not hold it.
    pub fn blob(&self, digest: &Digest) -> Option<&Blob> {
        self.blobs.get(&digest.to_string())
    }

    /// The bytes of blob `digest` read into memory (for manifests and configs, which are
    /// held there anyway), `None` when the artifact does not hold it.
    pub fn blob_bytes(&self, digest: &Digest) -> Result<Option<std::borrow::Cow<'_, [u8]>>> {
        self.blob(digest)
            .map(|b| {
                b.read_all()
                    .map_err(|e| Error::io(b.path().unwrap_or(Path::new("")), e))
            })
            .transpose()
    }

    /// The root descriptor as it appears in a layout's `index.json`, tagged `tag`.
    pub fn tagged_root(&self, tag: &str) -> Descriptor {
        let mut d = self.root.clone();
        d.set_annotations(Some(HashMap::from([(
            crate::REF_NAME.to_string(),
            tag.to_string(),
        )])));
        d
    }
}

/// An [`ImageArtifact`] read back through [`crate::ImageSource`], so that a build can be
/// validated and inspected before (or without) being written anywhere.
pub struct ArtifactSource<'a> {
    artifact: &'a ImageArtifact,
    index: Vec<Descriptor>,
}

impl<'a> ArtifactSource<'a> {
    /// Reads `artifact` as if it were a layout whose `index.json` tags its root `tag`.
    pub fn new(artifact: &'a ImageArtifact, tag: &str) -> Self {
        ArtifactSource {
            artifact,
            index: vec![artifact.tagged_root(tag)],
        }
    }
}

impl crate::ImageSource for ArtifactSource<'_> {
    fn name(&self) -> String {
        format!("built image {}", self.artifact.root.digest())
    }

    fn index(&self) -> &[Descriptor] {
        &self.index
    }

    fn open_raw(&self, desc: &Descriptor) -> Result<Option<crate::RawBlob<'_>>> {
        let Some(b) = self.artifact.blob(desc.digest()) else {
            return Ok(None);
        };
        let r = b
            .open()
            .map_err(|e| Error::io(b.path().unwrap_or(Path::new("")), e))?;
        Ok(Some(crate::RawBlob::new(r, b.len())))
    }

    fn stored_blobs(&self) -> Result<Vec<Descriptor>> {
        Ok(self
            .artifact
            .blobs
            .iter()
            .filter_map(|(digest, b)| {
                Some(Descriptor::new(
                    MediaType::ImageManifest,
                    b.len(),
                    digest.parse::<Digest>().ok()?,
                ))
            })
            .collect())
    }
}
