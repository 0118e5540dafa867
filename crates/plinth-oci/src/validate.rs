//! [`validate`]: checks every digest and size of every image in a source, including the
//! uncompressed layer digests against the config's `rootfs.diff_ids`.

use crate::digest::hash_reader;
use crate::error::{Error, Result};
use std::collections::HashSet;

use crate::source::{ImageSource, MAX_LAYER_BLOB, MAX_UNCOMPRESSED_LAYER, unwrap_io};

/// What [`validate`] checked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ValidationReport {
    /// Image manifests (one per platform) reachable from the index.
    pub images: usize,
    /// Blobs verified: manifests, configs and distinct layers.
    pub blobs: usize,
    /// Stored (compressed) size of those blobs, in bytes.
    pub bytes: u64,
}

/// Checks every manifest, config and layer reachable from `src`'s index.
pub fn validate(src: &dyn ImageSource) -> Result<ValidationReport> {
    let images = src.images(None)?;
    let mut report = ValidationReport {
        images: images.len(),
        ..Default::default()
    };
    let mut checked = HashSet::new();
    for img in &images {
        report.blobs += 2; // manifest and config were verified by `images`
        report.bytes += img.descriptor.size() + img.manifest.config().size();
        for (desc, diff_id) in img
            .manifest
            .layers()
            .iter()
            .zip(img.config.rootfs().diff_ids())
        {
            // Layers shared between platforms are checked once.
            if !checked.insert((desc.digest().to_string(), diff_id.clone())) {
                continue;
            }
            let what = format!("layer {}", desc.digest());
            // The compressed bytes first: a corrupt blob is a digest mismatch, whatever
            // the decompressor would have said about it.
            src.verify_blob(desc, MAX_LAYER_BLOB)?;
            let r = src.open_layer(desc)?;
            let (actual, n) = hash_reader(r, MAX_UNCOMPRESSED_LAYER + 1)
                .map_err(|e| src.explain_layer_error(desc, unwrap_io(e, &what)))?;
            if n > MAX_UNCOMPRESSED_LAYER {
                return Err(Error::Limit(format!(
                    "{what} holds more than {MAX_UNCOMPRESSED_LAYER} uncompressed bytes"
                )));
            }
            if actual.to_string() != *diff_id {
                return Err(Error::invalid(
                    what,
                    format!(
                        "uncompressed content hashes to {actual}, but the config's diff_id is {diff_id}"
                    ),
                ));
            }
            report.blobs += 1;
            report.bytes += desc.size();
        }
    }
    Ok(report)
}
