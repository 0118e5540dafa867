//! [`validate`]: checks every digest and size of every image in a source, including the
//! uncompressed layer digests against the config's `rootfs.diff_ids`.

use crate::digest::hash_reader;
use crate::error::{Error, Result};
use crate::source::{ImageSource, unwrap_io};

/// What [`validate`] checked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ValidationReport {
    pub images: usize,
    pub blobs: usize,
    pub bytes: u64,
}

/// Checks every manifest, config and layer reachable from `src`'s index.
pub fn validate(src: &dyn ImageSource) -> Result<ValidationReport> {
    let images = src.images(None)?;
    let mut report = ValidationReport {
        images: images.len(),
        ..Default::default()
    };
    for img in &images {
        report.blobs += 2; // manifest and config were verified by `images`
        report.bytes += img.descriptor.size() + img.manifest.config().size();
        for (desc, diff_id) in img
            .manifest
            .layers()
            .iter()
            .zip(img.config.rootfs().diff_ids())
        {
            let what = format!("layer {}", desc.digest());
            let r = src.open_layer(desc)?;
            let (actual, _) = hash_reader(r, u64::MAX).map_err(|e| unwrap_io(e, &what))?;
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
