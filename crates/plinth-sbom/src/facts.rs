//! Image facts: the hardening questions users ask of a base image.

/// Whether the reader should keep the bytes of `path` for the facts.
pub fn wants(path: &str) -> bool {
    matches!(path, "etc/passwd" | "etc/group")
}
