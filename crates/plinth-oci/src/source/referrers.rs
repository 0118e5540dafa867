//! Finding the artifacts attached to an image (OCI 1.1 referrers): the manifests whose
//! `subject` names it, among the blobs a source stores, the way a registry's referrers
//! API finds them among the manifests of a repository. A layout written by Plinth keeps
//! them out of `index.json` (see [`crate::write::layout_files`]); a layout that lists
//! them there (as `oras attach` does) or inside an index (docker buildx's shape) stores
//! them in `blobs/` all the same.

use std::collections::BTreeMap;

use oci_spec::image::{Descriptor, Digest, ImageManifest, MediaType};
use serde::Serialize;

use super::ImageSource;
use crate::error::{Error, Result};
use crate::limits::limits;

/// Most blobs listed from one layout or oci-archive when searching for attached
/// artifacts (fixed: a listing of names and sizes, far above any real layout).
pub const MAX_STORED_BLOBS: usize = 1_000_000;

/// Largest stored blob read as a possible referrer. An artifact manifest names one
/// config and a few layers and is well under a kilobyte; reading only small blobs keeps
/// the search from hashing layers.
pub const MAX_REFERRER_MANIFEST: u64 = 64 * 1024;

/// An artifact attached to an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Referrer {
    /// The artifact manifest's digest (`sha256:…`).
    pub digest: String,
    /// The manifest's size in bytes.
    pub size: u64,
    /// Its `artifactType`, else its config's media type (the OCI 1.1 rule).
    pub artifact_type: String,
    /// Its layers (the payload: one SBOM document for Plinth's), each verified.
    pub layers: Vec<ReferrerLayer>,
}

/// One blob an artifact carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReferrerLayer {
    /// The blob's digest.
    pub digest: String,
    /// Its media type (`application/spdx+json`).
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

impl dyn ImageSource + '_ {
    /// The artifacts whose `subject` is the manifest `subject`, in digest order. Every
    /// candidate is read through the verifying reader, and each referrer's config and
    /// layers are verified too: a corrupt blob is an error, not a missing referrer.
    pub fn referrers(&self, subject: &Digest) -> Result<Vec<Referrer>> {
        Ok(self
            .referrers_by_subject()?
            .remove(&subject.to_string())
            .unwrap_or_default())
    }

    /// Every stored artifact, by the digest of its subject (one pass over the blobs for
    /// all of a source's images).
    pub fn referrers_by_subject(&self) -> Result<BTreeMap<String, Vec<Referrer>>> {
        let mut out: BTreeMap<String, Vec<Referrer>> = BTreeMap::new();
        for (d, m) in self.referrer_manifests()? {
            let Some(subject) = m.subject() else {
                continue;
            };
            out.entry(subject.digest().to_string())
                .or_default()
                .push(self.referrer(&d, &m)?);
        }
        Ok(out)
    }

    /// Every stored manifest that has a `subject`, with its descriptor.
    fn referrer_manifests(&self) -> Result<Vec<(Descriptor, ImageManifest)>> {
        let candidates: Vec<Descriptor> = self
            .stored_blobs()?
            .into_iter()
            .filter(|d| d.size() <= MAX_REFERRER_MANIFEST)
            .collect();
        let max = limits().manifests;
        if candidates.len() > max {
            return Err(Error::Limit(format!(
                "more than {max} small blobs in {} to search for attached artifacts",
                self.name()
            )));
        }
        let mut out = Vec::new();
        for d in candidates {
            let bytes = self.read_blob(&d)?;
            // Configs, small layers and indexes are stored here too: only a manifest
            // with a subject is a referrer.
            if let Ok(m) = serde_json::from_slice::<ImageManifest>(&bytes)
                && m.subject().is_some()
            {
                out.push((d, m));
            }
        }
        Ok(out)
    }

    fn referrer(&self, d: &Descriptor, m: &ImageManifest) -> Result<Referrer> {
        self.read_blob(m.config())?;
        let mut layers = Vec::new();
        for l in m.layers() {
            self.verify_blob(l, limits().layer_size)?;
            layers.push(ReferrerLayer {
                digest: l.digest().to_string(),
                media_type: l.media_type().to_string(),
                size: l.size(),
            });
        }
        Ok(Referrer {
            digest: d.digest().to_string(),
            size: d.size(),
            artifact_type: m
                .artifact_type()
                .as_ref()
                .unwrap_or(m.config().media_type())
                .to_string(),
            layers,
        })
    }
}

/// A descriptor for a stored blob of unknown kind, to read it through the verifying
/// reader.
pub(super) fn stored(digest: Digest, size: u64) -> Descriptor {
    Descriptor::new(MediaType::ImageManifest, size, digest)
}
