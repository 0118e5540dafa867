//! [`validate`]: checks every digest and size of every image in a source, including the
//! uncompressed layer digests against the config's `rootfs.diff_ids`.

use crate::error::Result;
use std::collections::HashSet;

use crate::source::ImageSource;

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
            // The compressed bytes first: a corrupt blob is a digest mismatch, whatever
            // the decompressor would have said about it.
            src.verify_blob(desc, crate::limits::limits().layer_size)?;
            // Then the uncompressed stream, which the layer reader checks against the
            // diff_id (and bounds) by the time it ends.
            let mut r = src.open_layer(desc, Some(diff_id))?;
            std::io::copy(&mut r, &mut std::io::sink())
                .map_err(|e| src.explain_layer_error(desc, r.error(e)))?;
            report.blobs += 1;
            report.bytes += desc.size();
        }
    }
    Ok(report)
}
