//! TODO(helper): OS detection from os-release and friends.

use plinth_oci::ImageFs;

use crate::model::Distro;

/// Whether the reader should keep the bytes of `path` for OS detection.
pub fn wants(path: &str) -> bool {
    matches!(
        path,
        "etc/os-release" | "usr/lib/os-release" | "etc/debian_version" | "etc/alpine-release"
    )
}

/// Detects the OS; warnings name files that were present but unreadable.
pub fn detect(_fs: &ImageFs, _warnings: &mut Vec<String>) -> Option<Distro> {
    None
}
