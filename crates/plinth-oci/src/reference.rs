//! Image names, tags and local references.
//!
//! [`valid_name`] and [`valid_tag`] hold the distribution spec's grammar for repository
//! names and tags; [`tag_matches`] answers whether a stored name (`docker.io/library/x:1`)
//! is the one a user wrote (`x:1`, `1`); [`LocalReference`] splits what users type to
//! name an image on disk (`DIR`, `DIR:TAG`, `oci-archive:FILE.tar:repo/name:tag`).

use std::path::{Path, PathBuf};

/// Whether `s` is a repository name: `/`-separated components of lower-case letters,
/// digits and `._-`, each starting with a letter or digit, 255 bytes at most.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.as_bytes()[0].is_ascii_alphanumeric()
        })
}

/// Whether `s` is a tag: letters, digits and `._-`, not starting with `.` or `-`, 128
/// bytes at most.
pub fn valid_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && (s.as_bytes()[0].is_ascii_alphanumeric() || s.as_bytes()[0] == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Whether a stored name (`latest`, `docker.io/library/hello:1`) answers to `wanted`
/// (`latest`, `hello:1`, or just the tag `1`).
pub fn tag_matches(stored: &str, wanted: &str) -> bool {
    fn norm(s: &str) -> &str {
        let s = s.strip_prefix("docker.io/").unwrap_or(s);
        s.strip_prefix("library/").unwrap_or(s)
    }
    stored == wanted
        || norm(stored) == norm(wanted)
        || (!wanted.contains([':', '/'])
            && stored.rsplit_once(':').is_some_and(|(_, t)| t == wanted))
}

/// The skopeo-style transports a local reference may start with.
pub const TRANSPORTS: &[&str] = &["oci:", "oci-archive:", "docker-archive:"];

/// A reference to an image on disk, split into the path that exists and the tag after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReference {
    /// The existing file or directory: an OCI layout or an image archive.
    pub path: PathBuf,
    /// What followed the path's `:` (a tag or `repo/name:tag`), `None` when nothing did.
    pub tag: Option<String>,
    /// Whether the reference named a transport (`oci:`, `oci-archive:`, `docker-archive:`).
    pub transport: bool,
}

impl LocalReference {
    /// Splits `reference`: `DIR`, `DIR:TAG`, `FILE.tar`, `FILE:repo/name:tag`, with an
    /// optional transport prefix. `FILE:repo/name:tag` holds several colons: the path is the
    /// first prefix that exists. `None` when no prefix names an existing path.
    pub fn parse(reference: &str) -> Option<LocalReference> {
        let stripped = TRANSPORTS
            .iter()
            .find_map(|prefix| reference.strip_prefix(prefix));
        let r = stripped.unwrap_or(reference);
        let candidates = std::iter::once((r, None)).chain(
            r.match_indices(':')
                .map(|(i, _)| (&r[..i], Some(r[i + 1..].to_string()))),
        );
        candidates
            .filter(|(p, t)| !p.is_empty() && t.as_deref() != Some(""))
            .find(|(p, _)| Path::new(p).exists())
            .map(|(p, tag)| LocalReference {
                path: PathBuf::from(p),
                tag,
                transport: stripped.is_some(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_the_way_users_write_them() {
        assert!(tag_matches("latest", "latest"));
        assert!(tag_matches("docker.io/library/hello:1", "hello:1"));
        assert!(tag_matches("docker.io/repo/hello:v1", "repo/hello:v1"));
        assert!(tag_matches("localhost/hello:latest", "latest"));
        assert!(!tag_matches("localhost/hello:latest", "other/hello:latest"));
        assert!(!tag_matches("hello:1", "2"));
    }

    #[test]
    fn names_and_tags_follow_the_distribution_grammar() {
        assert!(valid_name("plinth/base-nossl"));
        assert!(!valid_name("Plinth"));
        assert!(!valid_name("a//b"));
        assert!(!valid_name("-a"));
        assert!(valid_tag("v1.2_3-rc"));
        assert!(!valid_tag(".hidden"));
        assert!(!valid_tag(&"x".repeat(129)));
    }

    #[test]
    fn local_references_split_at_the_first_existing_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("img.tar");
        fs_err::write(&file, b"").unwrap();
        let f = file.display().to_string();
        let r = LocalReference::parse(&format!("oci-archive:{f}:repo/name:tag")).unwrap();
        assert_eq!(r.path, file);
        assert_eq!(r.tag.as_deref(), Some("repo/name:tag"));
        assert!(r.transport);
        let r = LocalReference::parse(&f).unwrap();
        assert_eq!((r.tag, r.transport), (None, false));
        assert!(LocalReference::parse(&format!("{f}:")).is_none());
        assert!(LocalReference::parse("/no/such/path:tag").is_none());
    }
}
