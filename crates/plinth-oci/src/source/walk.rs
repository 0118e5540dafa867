//! Finding the images behind a source's index: nested indexes and docker manifest lists
//! are followed (bounded in depth and count), artifacts are skipped.

use std::collections::HashSet;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};

use super::{ImageSource, ResolvedImage, parse_json, ref_name};
use crate::error::{Error, Result};
use crate::reference::tag_matches;

/// How deep indexes may nest.
const MAX_INDEX_DEPTH: usize = 4;

pub(super) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(super) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(super) const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

#[derive(Default)]
struct Walk {
    out: Vec<ResolvedImage>,
    seen: HashSet<String>,
    visited: usize,
}

impl dyn ImageSource + '_ {
    /// Every image manifest reachable from the index (through nested indexes), optionally
    /// only those tagged `tag`.
    pub fn images(&self, tag: Option<&str>) -> Result<Vec<ResolvedImage>> {
        let roots = self.roots(tag);
        if roots.is_empty() {
            return Err(match tag {
                Some(t) => Error::NotFound(format!(
                    "no image tagged `{t}` in {} (tags: {})",
                    self.name(),
                    self.index()
                        .iter()
                        .filter_map(|d| ref_name(d))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                None => Error::NotFound(format!("{} holds no image", self.name())),
            });
        }
        let mut walk = Walk::default();
        for d in roots {
            self.collect(d, ref_name(d).map(str::to_string), 0, &mut walk)?;
        }
        Ok(walk.out)
    }

    /// The digest of the image index that `tag` (or, with no tag, the source) names: the
    /// digest a user pins for a multi-platform image. `None` when the top-level entries
    /// are image manifests, or when there are several indexes.
    pub fn index_digest(&self, tag: Option<&str>) -> Option<String> {
        let mut indexes = self
            .roots(tag)
            .into_iter()
            .filter(|d| match d.media_type() {
                MediaType::ImageIndex => true,
                MediaType::Other(m) => m == DOCKER_LIST,
                _ => false,
            });
        match (indexes.next(), indexes.next()) {
            (Some(d), None) => Some(d.digest().to_string()),
            _ => None,
        }
    }

    /// The top-level descriptors tagged `tag`, or all of them.
    fn roots(&self, tag: Option<&str>) -> Vec<&Descriptor> {
        self.index()
            .iter()
            .filter(|d| tag.is_none_or(|t| ref_name(d).is_some_and(|r| tag_matches(r, t))))
            .collect()
    }

    fn collect(
        &self,
        d: &Descriptor,
        tag: Option<String>,
        depth: usize,
        walk: &mut Walk,
    ) -> Result<()> {
        walk.visited += 1;
        if walk.visited > crate::limits::limits().manifests {
            return Err(Error::Limit(format!(
                "more than {} manifests and indexes reachable from {}",
                crate::limits::limits().manifests,
                self.name()
            )));
        }
        // An index may name the same manifest many times (or nest to multiply it):
        // each blob is read and each image reported once.
        if !walk.seen.insert(d.digest().to_string()) {
            return Ok(());
        }
        if depth > MAX_INDEX_DEPTH {
            return Err(Error::Limit(format!(
                "indexes nest deeper than {MAX_INDEX_DEPTH}"
            )));
        }
        match d.media_type() {
            MediaType::ImageIndex => self.collect_index(d, tag, depth, walk),
            MediaType::Other(m) if m == DOCKER_LIST => self.collect_index(d, tag, depth, walk),
            MediaType::ImageManifest => self.collect_manifest(d, tag, &mut walk.out),
            MediaType::Other(m) if m == DOCKER_MANIFEST => {
                self.collect_manifest(d, tag, &mut walk.out)
            }
            // Artifacts (signatures, SBOMs) and unknown kinds are not images.
            _ => Ok(()),
        }
    }

    fn collect_index(
        &self,
        d: &Descriptor,
        tag: Option<String>,
        depth: usize,
        walk: &mut Walk,
    ) -> Result<()> {
        let bytes = self.read_blob(d)?;
        let index: ImageIndex = parse_json(&bytes, &format!("image index {}", d.digest()))?;
        for m in index.manifests() {
            self.collect(m, tag.clone(), depth + 1, walk)?;
        }
        Ok(())
    }

    fn collect_manifest(
        &self,
        d: &Descriptor,
        tag: Option<String>,
        out: &mut Vec<ResolvedImage>,
    ) -> Result<()> {
        let what = format!("image manifest {}", d.digest());
        let bytes = self.read_blob(d)?;
        let manifest: ImageManifest = parse_json(&bytes, &what)?;
        let cfg_media = manifest.config().media_type().to_string();
        if cfg_media != MediaType::ImageConfig.to_string() && cfg_media != DOCKER_CONFIG {
            return Ok(()); // an artifact manifest, not an image
        }
        let config_raw = self.read_blob(manifest.config())?;
        let config: ImageConfiguration = parse_json(
            &config_raw,
            &format!("image config {}", manifest.config().digest()),
        )?;
        if config.rootfs().diff_ids().len() != manifest.layers().len() {
            return Err(Error::invalid(
                what,
                format!(
                    "{} layers but the config lists {} diff_ids",
                    manifest.layers().len(),
                    config.rootfs().diff_ids().len()
                ),
            ));
        }
        out.push(ResolvedImage {
            descriptor: d.clone(),
            tag,
            manifest,
            config,
            config_raw,
        });
        Ok(())
    }
}
