//! Bounded fetching of `http://`, `https://` and `file://` URLs, and the streaming
//! size + SHA-256 check that every download goes through.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::progress::Reporter;

/// Time allowed to open a TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for one whole request, body included (a large `.deb` on a slow link).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Time allowed for the response headers, and for each read of the connection, before
/// the transfer counts as stalled.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Failure while fetching a URL. Every variant names the URL.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // the fields are the URL and what the message shows of it
pub enum FetchError {
    /// The server (or the file system) has nothing at the URL: 404 or 410.
    #[error("{url} was not found")]
    NotFound { url: String },
    /// Any other status than 200.
    #[error("{url} answered with http status {status}")]
    Status { url: String, status: u16 },
    /// The request failed: connection, TLS, timeout, protocol.
    #[error("cannot fetch {url}")]
    Http {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    /// Reading the body (or the local file) failed.
    #[error("cannot read {url}")]
    Io {
        url: String,
        #[source]
        source: std::io::Error,
    },
    /// The body is larger than the caller's limit.
    #[error("{url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    /// Not `http`, `https` or `file`.
    #[error("unsupported url {url}: only http, https and file are supported")]
    Scheme { url: String },
}

/// Failure of a download checked against an expected size and SHA-256.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // the fields are the URL and the figures the message shows
pub enum VerifyError {
    /// The download itself failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// More bytes arrived than expected (reading stopped one byte past the size).
    #[error("{url} is larger than the expected {expected} bytes")]
    TooLarge { url: String, expected: u64 },
    /// The body ended before the expected size.
    #[error("{url} is {actual} bytes, expected {expected}")]
    Size {
        url: String,
        expected: u64,
        actual: u64,
    },
    /// The bytes do not hash to the expected SHA-256.
    #[error("{url} has sha256 {actual}, expected {expected}")]
    Hash {
        url: String,
        expected: String,
        actual: String,
    },
    /// The sink refused the bytes.
    #[error("cannot write the download of {url}")]
    Write {
        url: String,
        #[source]
        source: std::io::Error,
    },
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(READ_TIMEOUT))
            .timeout_per_read(Some(READ_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .user_agent(concat!("plinth/", env!("CARGO_PKG_VERSION")))
            .build();
        ureq::Agent::with_parts(
            config,
            ureq::unversioned::transport::DefaultConnector::default(),
            CachingResolver::default(),
        )
    })
}

/// Resolves each scheme, host and port once per process, as apt does per run. ureq
/// resolves the host of every request, pooled connection or not; a build fetching a
/// hundred packages then asks the system resolver a hundred times, and a resolver that
/// drops one of glibc's parallel A/AAAA replies stalls each unlucky request 5 s (measured:
/// 13 s of a 20 s system-image build). ureq's resolver API is `unversioned` (it may change
/// in a minor release); Cargo.lock pins the version this is written against.
#[derive(Debug, Default)]
struct CachingResolver {
    inner: ureq::unversioned::resolver::DefaultResolver,
    cache: std::sync::Mutex<
        std::collections::HashMap<String, ureq::unversioned::resolver::ResolvedSocketAddrs>,
    >,
}

impl ureq::unversioned::resolver::Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map(|a| a.as_str()).unwrap_or_default()
        );
        if let Some(found) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(found.clone());
        }
        let found = self.inner.resolve(uri, config, timeout)?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, found.clone());
        Ok(found)
    }
}

/// Whether `s` is lower-case or upper-case hex of 32 bytes.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The local path of a `file://` URL (`file:///srv/x` or `file://localhost/srv/x`), with
/// `%XX` escapes decoded.
pub fn file_url_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    Some(PathBuf::from(String::from_utf8(out).ok()?))
}

/// Opens `url` for reading. `limit` is the most the caller will read: a response that
/// announces a larger `Content-Length` (or a larger local file) is refused up front.
/// The caller must still bound its reads (see [`fetch_bytes`], [`fetch_verified`]).
pub fn open(url: &str, limit: u64) -> Result<Box<dyn Read + Send>, FetchError> {
    let too_large = || FetchError::TooLarge {
        url: url.to_string(),
        limit,
    };
    if url.starts_with("file:") {
        let path = file_url_path(url).ok_or_else(|| FetchError::Scheme {
            url: url.to_string(),
        })?;
        let io = |source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::NotFound {
                FetchError::NotFound {
                    url: url.to_string(),
                }
            } else {
                FetchError::Io {
                    url: url.to_string(),
                    source,
                }
            }
        };
        let file = fs_err::File::open(&path).map_err(io)?;
        if file.metadata().map_err(io)?.len() > limit {
            return Err(too_large());
        }
        return Ok(Box::new(file));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(FetchError::Scheme {
            url: url.to_string(),
        });
    }
    let response = agent().get(url).call().map_err(|e| FetchError::Http {
        url: url.to_string(),
        source: Box::new(e),
    })?;
    match response.status().as_u16() {
        200 => {}
        404 | 410 => {
            return Err(FetchError::NotFound {
                url: url.to_string(),
            });
        }
        status => {
            return Err(FetchError::Status {
                url: url.to_string(),
                status,
            });
        }
    }
    if response.body().content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    Ok(Box::new(response.into_body().into_reader()))
}

/// Reads all of `url`, refusing more than `limit` bytes.
pub fn fetch_bytes(url: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
    let mut out = Vec::new();
    open(url, limit)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|source| FetchError::Io {
            url: url.to_string(),
            source,
        })?;
    if out.len() as u64 > limit {
        return Err(FetchError::TooLarge {
            url: url.to_string(),
            limit,
        });
    }
    Ok(out)
}

/// Streams `url` into `sink`, reading at most `size + 1` bytes, and checks that exactly
/// `size` bytes with SHA-256 `sha256` (hex) arrived. Progress goes to `reporter` under
/// `task` (the caller calls `start` and `finish`). On error the sink holds garbage; the
/// caller discards it.
pub fn fetch_verified(
    url: &str,
    size: u64,
    sha256: &str,
    sink: &mut dyn Write,
    reporter: &dyn Reporter,
    task: &str,
) -> Result<(), VerifyError> {
    let mut reader = open(url, size).map_err(|e| match e {
        FetchError::TooLarge { url, .. } => VerifyError::TooLarge {
            url,
            expected: size,
        },
        e => VerifyError::Fetch(e),
    })?;
    let mut hasher = Sha256::new();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Never ask for more than one byte past the expected size.
        // `total <= size` here, so this is at least 1.
        let want = size
            .saturating_add(1)
            .saturating_sub(total)
            .min(buf.len() as u64) as usize;
        let n = match reader.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(FetchError::Io {
                    url: url.to_string(),
                    source,
                }
                .into());
            }
        };
        total += n as u64;
        if total > size {
            return Err(VerifyError::TooLarge {
                url: url.to_string(),
                expected: size,
            });
        }
        hasher.update(&buf[..n]);
        sink.write_all(&buf[..n])
            .map_err(|source| VerifyError::Write {
                url: url.to_string(),
                source,
            })?;
        reporter.advance(task, n as u64);
    }
    if total != size {
        return Err(VerifyError::Size {
            url: url.to_string(),
            expected: size,
            actual: total,
        });
    }
    let actual = hex::encode(hasher.finalize());
    if !actual.eq_ignore_ascii_case(sha256) {
        return Err(VerifyError::Hash {
            url: url.to_string(),
            expected: sha256.to_ascii_lowercase(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoReporter;

    #[test]
    fn file_urls_map_to_paths() {
        assert_eq!(
            file_url_path("file:///srv/debian/a%2bb"),
            Some(PathBuf::from("/srv/debian/a+b"))
        );
        assert_eq!(
            file_url_path("file://localhost/x"),
            Some(PathBuf::from("/x"))
        );
        assert_eq!(file_url_path("file://host/x"), None);
        assert_eq!(file_url_path("http://x.example/"), None);
    }

    #[test]
    fn local_files_are_bounded_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        fs_err::write(&path, b"hello").unwrap();
        let url = format!("file://{}", path.display());
        assert_eq!(fetch_bytes(&url, 5).unwrap(), b"hello");
        assert!(matches!(
            fetch_bytes(&url, 4),
            Err(FetchError::TooLarge { .. })
        ));
        let hash = hex::encode(Sha256::digest(b"hello"));
        let mut out = Vec::new();
        fetch_verified(&url, 5, &hash, &mut out, &NoReporter, "t").unwrap();
        assert_eq!(out, b"hello");
        let err = fetch_verified(&url, 6, &hash, &mut Vec::new(), &NoReporter, "t").unwrap_err();
        assert_eq!(err.to_string(), format!("{url} is 5 bytes, expected 6"));
        let err = fetch_verified(&url, 4, &hash, &mut Vec::new(), &NoReporter, "t").unwrap_err();
        assert!(matches!(err, VerifyError::TooLarge { .. }), "{err}");
        let zero = "0".repeat(64);
        let err = fetch_verified(&url, 5, &zero, &mut Vec::new(), &NoReporter, "t").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{url} has sha256 {hash}, expected {zero}")
        );
        let missing = format!("file://{}/nope", dir.path().display());
        assert!(matches!(
            fetch_bytes(&missing, 1),
            Err(FetchError::NotFound { .. })
        ));
        assert!(matches!(
            fetch_bytes("ftp://x.example/a", 1),
            Err(FetchError::Scheme { .. })
        ));
    }
}
