//! The OCI core of Plinth.
//!
//! Everything that is hashed goes through [`canonical`] (JSON) or [`layer`] (tar), so
//! the same inputs give the same digests on any machine. The read side opens images
//! from layouts and archives behind [`ImageSource`] (and plain root filesystems beside
//! them, see [`source::open`]), squashes their layers into an [`ImageFs`] and checks them
//! with [`fn@validate`]. [`mod@platform`] and [`mod@reference`] hold how platforms, image names and
//! tags are written. This crate knows nothing about Debian,
//! SBOMs or the network.
#![deny(missing_docs)]

pub mod blob;
pub mod canonical;
pub mod digest;
mod error;
pub mod fs;
pub mod image;
pub mod inspect;
pub mod layer;
pub mod layer_cache;
pub mod limits;
mod par;
mod pgzip;
pub mod platform;
pub mod reference;
pub mod source;
pub mod targuard;
#[cfg(feature = "testing")]
pub mod testing;
pub mod validate;
pub mod write;

pub use blob::Blob;
pub use digest::{Sha256Writer, sha256_digest};
pub use error::{Error, Result};
pub use fs::{ImageFs, ImageFsOptions, Node, NodeKind};
pub use image::{ArtifactSource, ImageArtifact, ImageBuilder, PlatformImage};
pub use layer::{Compression, Content, Entry, EntryKind, LayerBlob, LayerBuilder};
pub use layer_cache::LayerCache;
pub use platform::Platform;
pub use source::{ImageSource, Opened, RawBlob, ResolvedImage, RootfsSource, open_image};
pub use targuard::TarGuard;
pub use validate::{ValidationReport, validate};
pub use write::{OutputFormat, write_image};

/// Re-exported `oci-spec` image types: the one model of manifests, indexes and configs.
pub use oci_spec::image as spec;

/// Annotation naming a tag inside an OCI image layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
