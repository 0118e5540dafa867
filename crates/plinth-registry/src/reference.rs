//! Registry references, normalised the way docker, crane and skopeo do it, and the rule
//! that tells a registry reference from a path on disk.
//!
//! - `alpine` is `docker.io/library/alpine:latest`; `user/app` is `docker.io/user/app:latest`.
//! - The first `/`-separated component is a registry host when it holds a `.` or a `:`, or
//!   is `localhost`; otherwise the image is on Docker Hub.
//! - `name@sha256:…` pins a manifest; `name:tag@sha256:…` fetches by digest (the tag is
//!   kept for display and for naming the image when written to disk).
//! - `index.docker.io` and `registry-1.docker.io` are `docker.io`.

use std::fmt;
use std::path::Path;

use plinth_oci::reference::{TRANSPORTS, valid_name, valid_tag};

/// Docker Hub's canonical name.
pub const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's API answers on.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A reference that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid image reference `{reference}`: {reason}")]
pub struct ParseError {
    /// What the user typed.
    pub reference: String,
    /// The rule it breaks.
    pub reason: &'static str,
}

/// A parsed, normalised registry reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `docker.io`, `ghcr.io`, `127.0.0.1:5000`, `[::1]:5000`.
    pub registry: String,
    /// `library/alpine`, `org/app`.
    pub repository: String,
    /// The tag, when one was given (or `latest` when neither tag nor digest was).
    pub tag: Option<String>,
    /// The pinned manifest digest (`sha256:…`), when one was given.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `s` (without a `docker://` prefix) into its normalised form.
    pub fn parse(s: &str) -> Result<Reference, ParseError> {
        let err = |reason| ParseError {
            reference: s.to_string(),
            reason,
        };
        if s.is_empty() {
            return Err(err("empty"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("contains white space"));
        }
        let (rest, digest) = match s.rsplit_once('@') {
            Some((r, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| err("only sha256 digests are supported"))?;
                if !plinth_core::http::is_sha256_hex(hex)
                    || hex.bytes().any(|b| b.is_ascii_uppercase())
                {
                    return Err(err("the digest is not sha256 and 64 lower-case hex digits"));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag is what follows the last `:` after the last `/`.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&rest[..i], Some(rest[i + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(err(
                "the tag is not letters, digits, `.`, `_` and `-` (128 at most)",
            ));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains(['.', ':']) || first == "localhost" || first.starts_with('[') =>
            {
                (first.to_string(), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        if !valid_host(&registry) {
            return Err(err("the registry is not a host name with an optional port"));
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err("repository names are lower case"));
        }
        if !valid_name(&repository) {
            return Err(err(
                "the repository is not `/`-separated lower-case letters, digits, `.`, `_` and `-`",
            ));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What the manifest endpoint is asked for: the digest when pinned, else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The host the API answers on (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// Whether the registry is on a loopback address (`localhost`, `127.0.0.0/8`, `[::1]`),
    /// which speaks plain HTTP without `--insecure`, as docker treats it.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.registry)
    }

    /// The same repository with another tag or digest.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The same repository at tag `tag`, with no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for Reference {
    /// The full normalised form: `docker.io/library/alpine:latest`,
    /// `host/name:tag@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Whether `host` (with an optional port) is a loopback address.
pub fn is_loopback_host(host: &str) -> bool {
    let h = strip_port(host);
    h == "localhost"
        || h == "[::1]"
        || h.strip_prefix("127.").is_some_and(|rest| {
            let parts: Vec<_> = rest.split('.').collect();
            parts.len() == 3 && parts.iter().all(|p| p.parse::<u8>().is_ok())
        })
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`, with DNS labels of letters, digits and `-`.
fn valid_host(host: &str) -> bool {
    let (h, port) = if let Some(rest) = host.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => return true,
            p => ("v6", p.strip_prefix(':').map(Some).unwrap_or(Some(""))),
        }
    } else {
        match host.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host, None),
        }
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok());
    port_ok
        && !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// What a command-line image argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An image on disk, to open with `plinth_oci::source::open` (the argument as typed).
    Local(String),
    /// An image in a registry.
    Remote(Reference),
}

/// The rule that tells a registry reference from a path:
///
/// 1. `docker://REF` is a registry reference.
/// 2. A transport prefix (`oci:`, `oci-archive:`, `docker-archive:`) is local.
/// 3. An argument whose path (or a prefix of it before a `:`) exists is local.
/// 4. Anything else that parses as a registry reference is remote.
/// 5. Otherwise it is local (and opening it says that nothing is there).
pub fn classify(arg: &str) -> Result<Location, ParseError> {
    if let Some(r) = arg.strip_prefix("docker://") {
        return Reference::parse(r).map(Location::Remote);
    }
    if TRANSPORTS.iter().any(|t| arg.starts_with(t))
        || plinth_oci::reference::LocalReference::parse(arg).is_some()
        || Path::new(arg).exists()
    {
        return Ok(Location::Local(arg.to_string()));
    }
    // A path-looking argument (`./x`, `/x`, `../x`, `x.tar`) is never a reference.
    if arg.starts_with(['.', '/', '~']) || arg.ends_with(".tar") {
        return Ok(Location::Local(arg.to_string()));
    }
    match Reference::parse(arg) {
        Ok(r) => Ok(Location::Remote(r)),
        Err(_) => Ok(Location::Local(arg.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// The normalisations crane (`name.ParseReference`) and skopeo (`docker://`) apply.
    #[test]
    fn references_normalise_like_crane_and_skopeo() {
        let cases = [
            ("alpine", "docker.io/library/alpine:latest"),
            ("alpine:3.20", "docker.io/library/alpine:3.20"),
            ("library/alpine", "docker.io/library/alpine:latest"),
            ("user/app:v1", "docker.io/user/app:v1"),
            ("docker.io/alpine", "docker.io/library/alpine:latest"),
            (
                "index.docker.io/library/alpine",
                "docker.io/library/alpine:latest",
            ),
            ("registry-1.docker.io/x/y:1", "docker.io/x/y:1"),
            (
                "gcr.io/distroless/static",
                "gcr.io/distroless/static:latest",
            ),
            (
                "cgr.dev/chainguard/static:latest",
                "cgr.dev/chainguard/static:latest",
            ),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/app:1", "localhost:5000/app:1"),
            ("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t"),
            ("[::1]:5000/app", "[::1]:5000/app:latest"),
            (
                "ghcr.io/o/r/deep/name:tag_1.0-rc",
                "ghcr.io/o/r/deep/name:tag_1.0-rc",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(full(input), want, "{input}");
        }
        // A digest pins; with no tag none is invented.
        let r = Reference::parse(&format!("alpine@{D}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_ref(), D);
        assert_eq!(r.to_string(), format!("docker.io/library/alpine@{D}"));
        // tag@digest: fetched by digest, tag kept.
        let r = Reference::parse(&format!("host:5000/app:1.0@{D}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1.0"));
        assert_eq!(r.manifest_ref(), D);
        assert_eq!(r.api_host(), "host:5000");
        assert_eq!(
            Reference::parse("alpine").unwrap().api_host(),
            "registry-1.docker.io"
        );
        // A port is not a tag.
        let r = Reference::parse("host:5000/app").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.tag.as_deref()),
            ("host:5000", Some("latest"))
        );
    }

    #[test]
    fn invalid_references_are_refused() {
        let upper = format!("alpine@sha256:{}", D[7..].to_uppercase());
        for bad in [
            "",
            "Alpine",
            "docker.io/Library/alpine",
            "alpine:",
            "alpine:-x",
            "alpine@sha256:abc",
            "alpine@md5:0123",
            upper.as_str(),
            "a b",
            "host:99999/x",
            "host:/x",
            "-host.io/x",
            "a//b",
            "x/",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn loopback_registries_are_recognised() {
        for (host, lo) in [
            ("localhost", true),
            ("localhost:5000", true),
            ("127.0.0.1:5000", true),
            ("127.1.2.3", true),
            ("[::1]:5000", true),
            ("[::1]", true),
            ("127.0.0.1.example.com", false),
            ("10.0.0.1:5000", false),
            ("docker.io", false),
        ] {
            assert_eq!(is_loopback_host(host), lo, "{host}");
        }
    }

    #[test]
    fn paths_and_references_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("img");
        fs_err::create_dir(&layout).unwrap();
        let l = layout.display().to_string();
        assert_eq!(classify(&l).unwrap(), Location::Local(l.clone()));
        assert_eq!(
            classify(&format!("{l}:latest")).unwrap(),
            Location::Local(format!("{l}:latest"))
        );
        assert_eq!(
            classify("oci:whatever").unwrap(),
            Location::Local("oci:whatever".into())
        );
        assert_eq!(
            classify("./missing").unwrap(),
            Location::Local("./missing".into())
        );
        assert_eq!(
            classify("missing.tar").unwrap(),
            Location::Local("missing.tar".into())
        );
        assert!(matches!(
            classify("alpine:3.20").unwrap(),
            Location::Remote(r) if r.to_string() == "docker.io/library/alpine:3.20"
        ));
        assert!(matches!(
            classify("127.0.0.1:5000/x:1").unwrap(),
            Location::Remote(_)
        ));
        // docker:// always means a registry, even where a path of that name exists.
        assert!(matches!(
            classify(&format!("docker://localhost/{}", "x")).unwrap(),
            Location::Remote(_)
        ));
        assert!(classify("docker://Bad").is_err());
    }
}
