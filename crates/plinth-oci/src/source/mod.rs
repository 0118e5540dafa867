//! The read side: one [`ImageSource`] trait over OCI layout directories, oci-archives
//! and docker-archives (including the ones skopeo, podman and `docker save` write), and
//! [`open`], which also recognises a plain root filesystem ([`RootfsSource`]).
//!
//! A source only hands over stored bytes ([`ImageSource::open_raw`]); everything else
//! reads through `dyn ImageSource`'s methods, where every read is bounded by
//! the size its descriptor declares and checked against its digest. Archive entries that
//! would escape the archive root are rejected.
//!
//! | module | holds |
//! |---|---|
//! | `blob` | verified blob and layer reads over any source |
//! | `verify` | the reader that checks size and digest as bytes go by |
//! | `walk` | finding the images behind an index (nested indexes, docker lists) |
//! | `compress` | compression sniffing and layer decompression |
//! | `layer_reader` | the layer stream every reader goes through: both digests checked, size bounded |
//! | `layout` | OCI image layout directories |
//! | `referrers` | the artifacts attached to an image (OCI 1.1 `subject`) |
//! | `archive`, `tar_index`, `docker` | oci-archives and docker-archives, read in place |
//! | `rootfs` | plain root filesystems (a directory or a tarball) |

mod archive;
mod blob;
mod compress;
mod docker;
mod layer_reader;
mod layout;
mod referrers;
mod rootfs;
mod spool;
mod tar_index;
mod verify;
mod walk;

use std::io::Read;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageManifest, Platform};
use serde::Deserialize;

use crate::REF_NAME;
use crate::error::{Error, Result};
use crate::reference::LocalReference;

pub use archive::{ArchiveKind, ArchiveSource};
pub(crate) use compress::compression_of;
pub use compress::{decompress, sniff_compression};
pub use layer_reader::LayerReader;
pub use layout::LayoutSource;
pub use referrers::{MAX_REFERRER_MANIFEST, MAX_STORED_BLOBS, Referrer, ReferrerLayer};
pub use rootfs::{RootfsKind, RootfsSource};
pub(crate) use spool::Spooled;
pub use verify::VerifyingReader;
pub(crate) use verify::{blob_io, unwrap_io};

// The bounds readers keep (sizes, counts) are in `crate::limits`.

/// An image store that can be read: a layout dir, an oci-archive, a docker-archive (next,
/// a registry).
///
/// A source is asked for bytes only when they are read, one blob at a time, so a remote
/// source can be lazy: it resolves its index when opened and fetches a blob in
/// [`open_raw`](ImageSource::open_raw), possibly from several threads at once (layers
/// are read ahead). It checks nothing itself: readers go through `dyn ImageSource`'s
/// `open_blob`, which bounds the bytes by the descriptor's size and
/// fails unless they hash to its digest, and [`ImageFs`](crate::ImageFs) applies a layer
/// only once its stream has been read to the end and so verified.
pub trait ImageSource: Send + Sync {
    /// Names the source in messages (`OCI layout ./out/hello`).
    fn name(&self) -> String;
    /// The top-level descriptors (a layout's `index.json`, or one per docker-archive image).
    fn index(&self) -> &[Descriptor];
    /// Opens the stored bytes of the blob `desc` names; `None` when the source does not
    /// hold it. `desc` tells a lazy source what it fetches: its media type (a manifest or a
    /// blob) and its declared size. Unchecked: read through `open_blob`, not this.
    fn open_raw(&self, desc: &Descriptor) -> Result<Option<RawBlob<'_>>>;
    /// The digest and stored size of every sha256 blob the source holds, listed or not
    /// (descriptors of unknown kind): where `referrers` looks for
    /// artifacts. Default: none (a docker-archive stores no artifacts).
    fn stored_blobs(&self) -> Result<Vec<Descriptor>> {
        Ok(Vec::new())
    }
}

/// A blob's stored bytes as a source hands them over, before any check.
pub struct RawBlob<'a> {
    /// The stored bytes, possibly compressed, unverified.
    pub reader: Box<dyn Read + Send + 'a>,
    /// The stored length, when the source knows it before reading (a file's size, a
    /// `Content-Length`); `None` when only reading tells (a chunked download). Known
    /// lengths are checked before the first byte is read, unknown ones while reading.
    pub len: Option<u64>,
}

impl<'a> RawBlob<'a> {
    /// Stored bytes of a known length.
    pub fn new(reader: impl Read + Send + 'a, len: u64) -> Self {
        RawBlob {
            reader: Box::new(reader),
            len: Some(len),
        }
    }
}

/// One image (one platform) found in a source.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// The descriptor of the image's manifest.
    pub descriptor: Descriptor,
    /// The `org.opencontainers.image.ref.name` of the top-level index entry it was
    /// reached from, `None` when that entry has none.
    pub tag: Option<String>,
    /// The parsed image manifest.
    pub manifest: ImageManifest,
    /// The parsed image config.
    pub config: ImageConfiguration,
    /// The config blob's bytes, as stored (and hashed).
    pub config_raw: Vec<u8>,
}

impl ResolvedImage {
    /// The platform the config declares (os, architecture, variant).
    pub fn platform(&self) -> Platform {
        let mut p = Platform::default();
        p.set_architecture(self.config.architecture().clone());
        p.set_os(self.config.os().clone());
        p.set_variant(self.config.variant().clone());
        p
    }

    /// `os/arch[/variant]`.
    pub fn platform_string(&self) -> String {
        let mut s = format!("{}/{}", self.config.os(), self.config.architecture());
        if let Some(v) = self.config.variant() {
            s.push('/');
            s.push_str(v);
        }
        s
    }

    /// Whether this image is the platform a user asked for (`linux/arm64/v8`,
    /// `linux/arm64`, `arm64`): see [`crate::platform::platform_matches`].
    pub fn matches_platform(&self, want: &str) -> bool {
        crate::platform::platform_matches(&self.platform_string(), want)
    }
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations().as_ref()?.get(REF_NAME).map(String::as_str)
}

fn parse_json<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|source| Error::Json {
        what: what.to_string(),
        source,
    })
}

/// Opens an image named the way users name them: `DIR`, `DIR:TAG`, `FILE.tar`, with an
/// optional skopeo-style transport prefix (`oci:`, `oci-archive:`, `docker-archive:`).
/// Returns the source and the tag, if one was given.
pub fn open_image(reference: &str) -> Result<(Box<dyn ImageSource>, Option<String>)> {
    let r = locate(reference)?;
    Ok((open_store(&r.path)?, r.tag))
}

/// What [`open`] found.
pub enum Opened {
    /// An image store, and the tag the reference named.
    Image {
        /// The layout or archive.
        source: Box<dyn ImageSource>,
        /// The tag after the path, `None` when the reference named none.
        tag: Option<String>,
    },
    /// A plain root filesystem, squashed by [`ImageFs::from_rootfs`](crate::ImageFs::from_rootfs).
    Rootfs(RootfsSource),
}

/// Opens whatever `reference` names: an image (as [`open_image`]) or, when no transport
/// is named, a plain root filesystem: a directory that is not an image layout, or a tarball
/// (plain, gzip or zstd) that is not an image archive.
pub fn open(reference: &str) -> Result<Opened> {
    let r = locate(reference)?;
    // A tag or a transport means an image.
    if !r.transport
        && r.tag.is_none()
        && let Some(rootfs) = RootfsSource::detect(&r.path)?
    {
        return Ok(Opened::Rootfs(rootfs));
    }
    Ok(Opened::Image {
        source: open_store(&r.path)?,
        tag: r.tag,
    })
}

fn locate(reference: &str) -> Result<LocalReference> {
    LocalReference::parse(reference).ok_or_else(|| {
        Error::NotFound(format!(
            "no image at `{reference}`: no such file or directory"
        ))
    })
}

/// Opens the layout directory or image archive at `path`.
fn open_store(path: &std::path::Path) -> Result<Box<dyn ImageSource>> {
    if path.is_dir() {
        Ok(Box::new(LayoutSource::open(path)?))
    } else if !path.is_file() {
        // A FIFO or a device would block the read forever, or never end.
        Err(Error::Invalid {
            what: path.display().to_string(),
            reason: "not a regular file or directory".into(),
        })
    } else {
        Ok(Box::new(ArchiveSource::open(path)?))
    }
}

#[cfg(test)]
mod lazy_tests;
