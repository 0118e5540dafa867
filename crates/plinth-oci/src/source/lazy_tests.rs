//! A lazy source (what a registry will be): blobs fetched only when read, lengths
//! unknown until read, every byte checked before the view holds it.

use std::collections::HashMap;
use std::sync::Mutex;

use oci_spec::image::{ConfigBuilder, Descriptor, Platform};

use super::{ImageSource, RawBlob};
use crate::error::{Error, Result};
use crate::{Compression, Entry, ImageBuilder, ImageFs, ImageFsOptions, LayerBuilder};
use crate::{ImageArtifact, PlatformImage};

struct Lazy {
    blobs: HashMap<String, Vec<u8>>,
    index: Vec<Descriptor>,
    fetched: Mutex<Vec<String>>,
}

impl Lazy {
    fn new(artifact: &ImageArtifact) -> Self {
        Lazy {
            blobs: artifact
                .blobs
                .iter()
                .map(|(k, v)| (k.clone(), v.read_all().unwrap().to_vec()))
                .collect(),
            index: vec![artifact.tagged_root("latest")],
            fetched: Mutex::new(Vec::new()),
        }
    }

    fn fetched(&self) -> Vec<String> {
        self.fetched.lock().unwrap().clone()
    }
}

impl ImageSource for Lazy {
    fn name(&self) -> String {
        "lazy test source".into()
    }

    fn index(&self) -> &[Descriptor] {
        &self.index
    }

    fn open_raw(&self, desc: &Descriptor) -> Result<Option<RawBlob<'_>>> {
        let key = desc.digest().to_string();
        self.fetched.lock().unwrap().push(key.clone());
        // Like a chunked download: the length is known only once read.
        Ok(self.blobs.get(&key).map(|b| RawBlob {
            reader: Box::new(&b[..]),
            len: None,
        }))
    }
}

fn image(compression: Compression) -> ImageArtifact {
    let layer = |path: &str, data: &'static [u8]| {
        let mut l = LayerBuilder::new("test");
        l.add(path, Entry::bytes(data, 0o644)).unwrap();
        (l.finish(compression, 0).unwrap(), path.to_string())
    };
    let mut platform = Platform::default();
    platform.set_os("linux".into());
    platform.set_architecture("amd64".into());
    ImageBuilder::default()
        .build(vec![PlatformImage {
            platform,
            config: ConfigBuilder::default().build().unwrap(),
            layers: vec![layer("etc/a", b"a"), layer("etc/b", b"b")],
            created: "1970-01-01T00:00:00Z".into(),
        }])
        .unwrap()
}

fn opts() -> ImageFsOptions {
    ImageFsOptions {
        keep_files_up_to: 1 << 20,
        ..Default::default()
    }
}

#[test]
fn blobs_are_fetched_only_when_read() {
    let lazy = Lazy::new(&image(Compression::Gzip));
    let src: &dyn ImageSource = &lazy;
    let images = src.images(None).unwrap();
    let img = &images[0];
    assert_eq!(
        lazy.fetched(),
        [
            img.descriptor.digest().to_string(),
            img.manifest.config().digest().to_string()
        ],
        "resolving reads the manifest and config, no layer"
    );
    let fs = ImageFs::open(src, img, &opts()).unwrap();
    assert_eq!(fs.read("etc/b"), Some(&b"b"[..]));
    let mut layers = lazy.fetched()[2..].to_vec();
    layers.sort();
    let mut want: Vec<String> = img
        .manifest
        .layers()
        .iter()
        .map(|l| l.digest().to_string())
        .collect();
    want.sort();
    assert_eq!(layers, want, "each layer is fetched once");
}

/// A byte changed in the padding after the tar's end: the tar reads fine, only the
/// digest tells. Nothing of the layer may reach the view.
#[test]
fn a_layer_that_does_not_match_its_digest_is_never_applied() {
    let artifact = image(Compression::None);
    let mut lazy = Lazy::new(&artifact);
    let src: &dyn ImageSource = &lazy;
    let img = src.images(None).unwrap().remove(0);
    let top = img.manifest.layers()[1].digest().to_string();
    let blob = lazy.blobs.get_mut(&top).unwrap();
    *blob.last_mut().unwrap() ^= 1;
    let src: &dyn ImageSource = &lazy;
    let err = ImageFs::open(src, &img, &opts()).unwrap_err();
    assert!(
        matches!(&err, Error::DigestMismatch { expected, .. } if *expected == top),
        "{err}"
    );
}

#[test]
fn a_blob_longer_than_declared_is_cut_off() {
    let artifact = image(Compression::Gzip);
    let mut lazy = Lazy::new(&artifact);
    let src: &dyn ImageSource = &lazy;
    let img = src.images(None).unwrap().remove(0);
    let bottom = img.manifest.layers()[0].digest().to_string();
    lazy.blobs.get_mut(&bottom).unwrap().extend([0u8; 4096]);
    let src: &dyn ImageSource = &lazy;
    let err = ImageFs::open(src, &img, &opts()).unwrap_err();
    assert!(matches!(err, Error::Oversized { .. }), "{err}");
}

/// `inspect REF` of a two-platform index downloaded a layer both platforms hold once per
/// platform, and counted it twice in `validated_blobs` (24 where the same image as a
/// layout counts 19).
#[test]
fn inspect_of_a_lazy_index_fetches_and_counts_a_shared_layer_once() {
    let layer = |path: &str, data: &'static [u8]| {
        let mut l = LayerBuilder::new("test");
        l.add(path, Entry::bytes(data, 0o644)).unwrap();
        (l.finish(Compression::Gzip, 0).unwrap(), path.to_string())
    };
    let platform = |arch: &str| {
        let mut p = Platform::default();
        p.set_os("linux".into());
        p.set_architecture(arch.into());
        p
    };
    let artifact = ImageBuilder::default()
        .build(
            ["amd64", "arm64"]
                .into_iter()
                .map(|arch| PlatformImage {
                    platform: platform(arch),
                    config: ConfigBuilder::default().build().unwrap(),
                    layers: vec![
                        layer("etc/shared", b"same on every platform"),
                        layer("etc/arch", if arch == "amd64" { b"x86" } else { b"arm" }),
                    ],
                    created: "1970-01-01T00:00:00Z".into(),
                })
                .collect(),
        )
        .unwrap();
    let src = Lazy::new(&artifact);
    let images = (&src as &dyn ImageSource).images(None).unwrap();
    assert_eq!(images.len(), 2);
    let shared = images[0].manifest.layers()[0].digest().to_string();
    assert_eq!(images[1].manifest.layers()[0].digest().to_string(), shared);

    let report = crate::inspect::inspect_source(&src, None, None, true, false).unwrap();
    let fetches = src.fetched().iter().filter(|d| **d == shared).count();
    assert_eq!(fetches, 1, "{:?}", src.fetched());
    // Two manifests, two configs, three distinct layers: what `validate` counts.
    assert_eq!(report.validated_blobs, 7);
    assert_eq!(
        crate::validate::validate(&src).unwrap().blobs,
        report.validated_blobs
    );
    for img in &report.images {
        let files = img.files.as_ref().unwrap();
        assert!(files.iter().any(|f| f.path == "/etc/shared"), "{files:?}");
    }
}
