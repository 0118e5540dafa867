//! `plinth serve`'s configuration: command-line flags, or a TOML file (`--config`) whose
//! every key `docs/serve.md` documents.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Where the registry keeps its bytes.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum StorageConfig {
    /// Files under a directory.
    Fs {
        /// The directory.
        path: PathBuf,
    },
    /// A bucket of an S3-compatible object store.
    S3(crate::store::object::S3Config),
}

/// Limits that keep one client from hurting the others.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest manifest accepted, in bytes (413 above it).
    pub manifest_bytes: u64,
    /// Seconds an upload session lives without activity before it is removed.
    pub upload_expiry_secs: u64,
    /// Seconds a client has to send a request's headers.
    pub header_timeout_secs: u64,
    /// Seconds a request body may stall between two reads, and an idle connection may
    /// stay open.
    pub idle_timeout_secs: u64,
    /// Advertised in `OCI-Chunk-Min-Length` (0: none).
    pub chunk_min_bytes: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            manifest_bytes: 4 << 20,
            upload_expiry_secs: 3600,
            header_timeout_secs: 30,
            idle_timeout_secs: 60,
            chunk_min_bytes: 0,
        }
    }
}

impl LimitsConfig {
    /// Upload expiry as a duration.
    pub fn upload_expiry(&self) -> Duration {
        Duration::from_secs(self.upload_expiry_secs)
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Storage backend.
    pub storage: StorageConfig,
    /// Limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Whether deletes of manifests, tags and blobs are allowed (405 otherwise).
    #[serde(default = "yes")]
    pub delete: bool,
    /// Access control (`crate::auth`); absent: everything is allowed.
    #[serde(default)]
    pub auth: Option<crate::auth::AuthConfig>,
    /// HTTPS; absent: plain HTTP.
    #[serde(default)]
    pub tls: Option<crate::auth::TlsConfig>,
    /// Garbage collection.
    #[serde(default)]
    pub gc: crate::gc::GcConfig,
    /// Whether `GET /metrics` answers with Prometheus metrics.
    #[serde(default = "yes")]
    pub metrics: bool,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5000))
}

fn yes() -> bool {
    true
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML for this schema.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<toml::de::Error>,
    },
}

impl Config {
    /// The defaults with storage under `dir`.
    pub fn with_storage(dir: &Path) -> Config {
        Config {
            listen: default_listen(),
            storage: StorageConfig::Fs {
                path: dir.to_path_buf(),
            },
            limits: LimitsConfig::default(),
            delete: true,
            auth: None,
            tls: None,
            gc: crate::gc::GcConfig::default(),
            metrics: true,
        }
    }

    /// Reads a TOML file. Relative storage paths are relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = fs_err::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        match &mut cfg.storage {
            StorageConfig::Fs { path } if path.is_relative() => *path = base.join(&*path),
            StorageConfig::Fs { .. } | StorageConfig::S3(_) => {}
        }
        crate::auth::resolve_paths(cfg.auth.as_mut(), cfg.tls.as_mut(), base);
        Ok(cfg)
    }
}
