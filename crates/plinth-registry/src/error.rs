//! Errors of the registry client. Each names the reference, URL or digest involved.

use crate::auth::config::ConfigError;
use crate::reference::ParseError;

/// What went wrong talking to a registry or moving an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The reference does not parse.
    #[error(transparent)]
    Reference(#[from] ParseError),
    /// A credentials file or helper cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The registry's host name does not resolve.
    #[error("{reference}: unknown registry host {host}")]
    UnknownHost {
        /// The reference the request was for.
        reference: String,
        /// The host as written in the reference.
        host: String,
        /// The resolver's error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The connection failed or broke, after the retries.
    #[error("{reference}: cannot reach {url}")]
    Connect {
        /// The reference the request was for.
        reference: String,
        /// The URL asked for.
        url: String,
        /// The transport error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The TLS handshake failed: the server does not speak TLS, or its certificate is
    /// not trusted here. Another try would fail alike.
    #[error("{reference}: cannot speak TLS with {url}")]
    Tls {
        /// The reference the request was for.
        reference: String,
        /// The URL asked for.
        url: String,
        /// The transport error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The registry refused the credentials, or asks for some and there are none.
    #[error("{what}: authentication required or refused{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    Unauthorized {
        /// The reference or URL.
        what: String,
        /// What the registry said.
        detail: String,
    },
    /// The registry knows who is asking but refuses (403).
    #[error("{what}: access denied{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    Denied {
        /// The reference or URL.
        what: String,
        /// What the registry said.
        detail: String,
    },
    /// The manifest, tag or blob does not exist (404).
    #[error("{what} was not found in the registry{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    NotFound {
        /// The reference, manifest or blob.
        what: String,
        /// What the registry said.
        detail: String,
    },
    /// Any other 4xx answer.
    #[error("{what}: the registry answered {status}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    Status {
        /// The reference or URL.
        what: String,
        /// The HTTP status.
        status: u16,
        /// What the registry said.
        detail: String,
    },
    /// The registry failed (5xx or 429) on every try: not the input's fault.
    #[error("{what}: the registry failed with {status}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    Server {
        /// The reference or URL.
        what: String,
        /// The HTTP status.
        status: u16,
        /// What the registry said.
        detail: String,
    },
    /// A manifest larger than the cap.
    #[error("manifest of {reference} is larger than {limit} bytes")]
    ManifestTooLarge {
        /// The reference.
        reference: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// Bytes that do not hash to the digest they were asked for or announced with.
    #[error("{what} does not match its digest: expected {expected}, the registry sent {actual}")]
    DigestMismatch {
        /// The reference or blob.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// More redirects than allowed, or a loop.
    #[error("too many redirects fetching {url}")]
    TooManyRedirects {
        /// The first URL.
        url: String,
    },
    /// The registry answered something the protocol does not allow.
    #[error("{what}: {reason}")]
    Protocol {
        /// The reference or URL.
        what: String,
        /// What is wrong with the answer.
        reason: String,
    },
    /// Reading a blob of the image being copied failed, or it is not what its
    /// descriptor says (digest, size): the message names the image (for a registry, the
    /// reference), the cause the blob and what is wrong with it.
    #[error("cannot read {image}")]
    Source {
        /// The source, as [`plinth_oci::ImageSource::name`] shows it.
        image: String,
        /// What went wrong.
        #[source]
        source: plinth_oci::Error,
    },
    /// Reading, checking or writing an image failed.
    #[error(transparent)]
    Oci(#[from] plinth_oci::Error),
    /// The command asked for something that cannot be done (the string says what).
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Whether the failure is not the input's fault: a registry failing (5xx, 429, a
    /// broken connection after retries) or an output that cannot be written. Exit 3.
    pub fn is_internal(&self) -> bool {
        match self {
            Error::Server { .. } | Error::Connect { .. } => true,
            // A registry failure met while `plinth_oci` read a blob (a 5xx on a layer, a
            // connection broken mid-body) travels as the cause of its read error.
            Error::Oci(e) | Error::Source { source: e, .. } => {
                e.is_output_failure() || carried(e).is_some_and(Error::is_internal)
            }
            _ => false,
        }
    }

    /// `e`, met reading a blob of `src`, as an error naming `src`; a failure to write
    /// the output stays as it is.
    pub(crate) fn reading(src: &dyn plinth_oci::ImageSource, e: plinth_oci::Error) -> Error {
        if e.is_output_failure() {
            Error::Oci(e)
        } else {
            Error::Source {
                image: src.name(),
                source: e,
            }
        }
    }

    /// Whether another try of a blob read could succeed where this one failed: a
    /// connection that broke (also in the middle of a body), a body that ended early.
    /// What the client already retried (5xx, 429) and what no retry heals (a redirect
    /// loop, a 4xx, a digest mismatch) are not.
    pub(crate) fn is_transient_read(e: &plinth_oci::Error) -> bool {
        matches!(e, plinth_oci::Error::Read { .. })
            && carried(e).is_none_or(|r| matches!(r, Error::Connect { .. }))
    }

    /// A suggestion the user can act on, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Unauthorized { .. } => Some(
                "log in with `plinth login REGISTRY` (or `docker login`/`podman login`), or check \
                 the credentials in ~/.docker/config.json"
                    .into(),
            ),
            Error::Tls { .. } => Some(
                "a registry that speaks plain HTTP, or has a certificate this machine does \
                 not trust, needs --insecure; a private CA is trusted through SSL_CERT_FILE \
                 or the system's CA bundle"
                    .into(),
            ),
            Error::Connect { url, .. } if url.starts_with("https://") => Some(
                "check the registry's address and the network; a registry that speaks plain \
                 HTTP, or has a certificate this machine does not trust, needs --insecure"
                    .into(),
            ),
            Error::Connect { .. } => {
                Some("check the registry's address and that it is running".into())
            }
            Error::DigestMismatch { .. } => {
                Some("the registry (or something between it and you) sent corrupt data".into())
            }
            Error::Oci(e) | Error::Source { source: e, .. } => e.hint(),
            _ => None,
        }
    }
}

/// The registry error in `e`'s cause chain, where a reader carried it through
/// `plinth_oci` (directly, or inside the `io::Error` of a read).
pub(crate) fn carried<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(r) = c.downcast_ref::<Error>() {
            return Some(r);
        }
        if let Some(r) = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<Error>())
        {
            return Some(r);
        }
        cur = c.source();
    }
    None
}

/// Whether `e` (any error whose cause chain may hold a registry error, such as a lazy
/// read's) is the registry's fault rather than the input's: exit 3.
pub fn is_remote_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    carried(e).is_some_and(Error::is_internal)
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
