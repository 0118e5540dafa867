//! TLS with rustls (the ring provider): the acceptor made from `[tls]`'s PEM files, and
//! a connection that runs the handshake within the header timeout, on the connection's
//! own task (the accept loop never waits for a handshake).

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::SecurityError;
use super::config::TlsConfig;

/// The acceptor for `[tls]`.
pub fn acceptor(cfg: &TlsConfig) -> Result<TlsAcceptor, SecurityError> {
    let read = |p: &Path| {
        fs_err::read(p).map_err(|source| SecurityError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let tls_err = |p: &Path, reason: String| SecurityError::Tls {
        path: p.to_path_buf(),
        reason,
    };
    let cert_pem = read(&cfg.cert)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(&cfg.cert, format!("not a PEM certificate chain: {e}")))?;
    if certs.is_empty() {
        return Err(tls_err(&cfg.cert, "holds no PEM certificate".into()));
    }
    let key_pem = read(&cfg.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| tls_err(&cfg.key, format!("holds no PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(&cfg.cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            tls_err(
                &cfg.key,
                format!("does not fit the certificate {}: {e}", cfg.cert.display()),
            )
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// An accepted connection: plain, or TLS (handshaking until its first read or write).
pub enum Conn {
    /// Plain HTTP.
    Plain(crate::sendfile::Stream),
    /// The handshake is under way; it fails when the deadline passes first.
    Handshake(
        Pin<Box<tokio::time::Sleep>>,
        Box<tokio_rustls::Accept<TcpStream>>,
    ),
    /// TLS, handshake done.
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// The handshake failed; every call fails.
    Failed,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Plain(_) => "Conn::Plain",
            Conn::Handshake(..) => "Conn::Handshake",
            Conn::Tls(_) => "Conn::Tls",
            Conn::Failed => "Conn::Failed",
        })
    }
}

impl Conn {
    /// `stream`, through `tls` when there is one; the handshake must end within
    /// `timeout`.
    pub fn new(stream: TcpStream, tls: Option<&TlsAcceptor>, timeout: Duration) -> Conn {
        match tls {
            None => Conn::Plain(crate::sendfile::Stream::new(stream)),
            Some(t) => Conn::Handshake(
                Box::pin(tokio::time::sleep(timeout)),
                Box::new(t.accept(stream)),
            ),
        }
    }

    /// Where a plain-HTTP connection takes files to send with `sendfile` (none under TLS).
    pub fn sendfile_slot(&self) -> Option<crate::sendfile::Slot> {
        match self {
            Conn::Plain(s) => Some(s.slot()),
            _ => None,
        }
    }

    /// Drives the handshake; `Ready(Ok)` once the stream is usable.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        use std::future::Future as _;
        let Conn::Handshake(deadline, accept) = self else {
            return match self {
                Conn::Failed => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the TLS handshake failed",
                ))),
                _ => Poll::Ready(Ok(())),
            };
        };
        match Pin::new(&mut **accept).poll(cx) {
            Poll::Ready(Ok(s)) => {
                *self = Conn::Tls(Box::new(s));
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                *self = Conn::Failed;
                Poll::Ready(Err(e))
            }
            Poll::Pending => match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    *self = Conn::Failed;
                    Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the TLS handshake took longer than the header timeout",
                    )))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

macro_rules! ready_or_return {
    ($this:expr, $cx:expr) => {
        match $this.poll_ready($cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    };
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready_or_return!(this, cx);
        match this {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
            _ => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready_or_return!(this, cx);
        match this {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
            _ => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready_or_return!(this, cx);
        match this {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
            _ => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
            _ => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
            _ => Poll::Ready(Ok(())),
        }
    }
}
