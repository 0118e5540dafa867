//! `plinth serve`: a registry that implements the OCI distribution specification, over
//! local disk (the default) or S3-compatible object storage.
//!
//! | module | holds |
//! |---|---|
//! | `config` | the TOML configuration and its defaults |
//! | `names`, `digest` | the spec's grammar for names, tags and digests; hashing |
//! | `store` | the storage trait, the file-system backend and the S3 one (`object_store`) |
//! | `registry` | the operations (blobs, uploads, manifests, tags, referrers), free of HTTP |
//! | `http` | routes, headers, bodies, timeouts |
//! | `auth` | access control (htpasswd, tokens, grants) and TLS |
//! | `gc` | garbage collection while pushes go on |
//! | `metrics` | Prometheus metrics at `/metrics` |
//!
//! The server is async (tokio, hyper) where the client in `plinth-registry` is blocking:
//! that is why it is a crate of its own, so that the client's users do not build an
//! async runtime.
#![deny(missing_docs)]

pub mod auth;
pub mod config;
pub mod digest;
pub mod error;
pub mod gc;
pub mod http;
pub mod metrics;
pub mod names;
pub mod registry;
pub mod sendfile;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

pub use config::{Config, StorageConfig};
pub use registry::Registry;
use store::Store;

/// A failure to start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `[auth]` or `[tls]` cannot be used.
    #[error(transparent)]
    Security(#[from] auth::SecurityError),
    /// The storage cannot be opened.
    #[error("cannot open the storage: {0}")]
    Store(#[from] store::StoreError),
    /// A garbage collection failed.
    #[error(transparent)]
    Gc(#[from] gc::GcError),
}

/// How long a graceful shutdown waits for transfers in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Binds the configured address.
pub async fn bind(config: &Config) -> Result<TcpListener, ServeError> {
    TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })
}

/// Serves `registry` on `listener`, with the access control and TLS of `security`, until
/// `shutdown` completes, then lets requests in flight finish (up to 30 s).
pub async fn serve<S: Store>(
    registry: Arc<Registry<S>>,
    listener: TcpListener,
    security: auth::Security,
    shutdown: impl Future<Output = ()>,
) {
    let api = http::Api::new(registry.clone()).with_auth(security.auth.clone());
    let limits = registry.config().limits.clone();
    let header_timeout = Duration::from_secs(limits.header_timeout_secs.max(1));
    let idle = Duration::from_secs(limits.idle_timeout_secs.max(1));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let maintenance = tokio::spawn(maintain(registry.clone()));
    let collector = tokio::spawn(gc::run_periodically(registry.clone()));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        let stream = security.wrap(stream, header_timeout);
        let slot = stream.sendfile_slot();
        let io = TokioIo::new(http::IdleTimeout::new(stream, idle));
        let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            let api = api.clone();
            if let Some(s) = &slot {
                req.extensions_mut().insert(s.clone());
            }
            async move { Ok::<_, std::convert::Infallible>(api.handle(req).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(1 << 20)
            // Body buffers go to the connection as they are, never copied into hyper's
            // own: zero-copy downloads depend on it (see `sendfile`).
            .writev(true)
            .serve_connection(io, service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    maintenance.abort();
    collector.abort();
    tracing::info!("shutting down: waiting for requests in flight");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {} s; stopping",
            SHUTDOWN_GRACE.as_secs()
        );
    }
}

/// Expires upload sessions and removes partial writes, now and then.
async fn maintain<S: Store>(registry: Arc<Registry<S>>) {
    let expiry = registry.config().limits.upload_expiry();
    let every = (expiry / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        match registry.expire_uploads().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "expired upload sessions"),
            Err(e) => tracing::warn!(error = %e, "expiring upload sessions failed"),
        }
        match registry.store().purge_partial(expiry).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(objects = n, "removed partial writes"),
            Err(e) => tracing::warn!(error = %e, "removing partial writes failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Runs the registry the configuration describes, on a runtime of its own, until
/// SIGINT or SIGTERM. `on_listen` is told the bound address (port 0 picks a free one).
pub fn run(config: Config, on_listen: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    rt.block_on(async move {
        let security = auth::Security::load(&config)?;
        let listener = bind(&config).await?;
        let addr = listener.local_addr().unwrap_or(config.listen);
        match &config.storage {
            StorageConfig::Fs { path } => {
                let store = store::fs::FsStore::open(path)?;
                on_listen(addr);
                serve(
                    Arc::new(Registry::new(store, config.clone())),
                    listener,
                    security,
                    signal(),
                )
                .await;
            }
            StorageConfig::S3(s3) => {
                let store = store::object::ObjectBackend::open(s3)?;
                store.check().await?;
                on_listen(addr);
                serve(
                    Arc::new(Registry::new(store, config.clone())),
                    listener,
                    security,
                    signal(),
                )
                .await;
            }
        }
        Ok(())
    })
}

/// Runs one garbage collection on the storage the configuration names (see [`gc`]),
/// on a runtime of its own; what it removed.
pub fn collect_once(config: Config) -> Result<gc::GcReport, ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    rt.block_on(async move {
        match &config.storage {
            StorageConfig::Fs { path } => {
                let store = store::fs::FsStore::open(path)?;
                let registry = Registry::new(store, config.clone());
                Ok(registry.collect_garbage().await?)
            }
            StorageConfig::S3(s3) => {
                let store = store::object::ObjectBackend::open(s3)?;
                store.check().await?;
                let registry = Registry::new(store, config.clone());
                Ok(registry.collect_garbage().await?)
            }
        }
    })
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
