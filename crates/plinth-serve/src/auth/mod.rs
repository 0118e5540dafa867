//! Access control and TLS: who the caller is (htpasswd Basic credentials, a bearer token
//! from Plinth's own token endpoint, or nobody), what the route needs (pull, push,
//! delete on a repository), and the answer when it is not allowed (401 with the
//! challenge the client follows, or 403), before any operation runs.
//!
//! | file | holds |
//! |---|---|
//! | `config` | `[auth]`, `[[auth.grants]]`, `[tls]`; repository globs |
//! | `htpasswd` | the users file (bcrypt only) and the password check |
//! | `token` | HS256 tokens: signing, checking, scopes |
//! | `endpoint` | the hook before every API request, and `/token` |
//! | `tls` | the rustls acceptor and the connection that handshakes lazily |
//!
//! Without an `[auth]` section everything is allowed (the local default).

pub mod config;
mod endpoint;
pub mod htpasswd;
pub mod tls;
pub mod token;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hyper::header::HeaderMap;
use tokio_rustls::TlsAcceptor;

pub use config::{Action, AuthConfig, Grant, TlsConfig, TokenConfig, resolve_paths};
pub use endpoint::{CatalogFilter, TOKEN_PATH, visible};
use htpasswd::Htpasswd;
use token::{Claims, Signer};

use crate::Config;

/// A security setting that cannot be used: the server does not start.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An htpasswd entry is not bcrypt, or not an entry.
    #[error("htpasswd {path} line {line}: {reason}")]
    Htpasswd {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The token key is too short to sign with.
    #[error("token key {path} holds {len} bytes; at least 32 are needed")]
    ShortKey {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// The `[auth]` section contradicts itself.
    #[error("[auth]: {0}")]
    Invalid(String),
    /// A certificate or key cannot be used.
    #[error("tls {path}: {reason}")]
    Tls {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Who sent a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// A user of the htpasswd file, by Basic credentials.
    User(String),
    /// The bearer of a valid token.
    Token(Arc<Claims>),
}

impl Caller {
    /// The user name, if the caller is authenticated.
    pub fn user(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::User(u) => Some(u),
            Caller::Token(c) if c.sub.is_empty() => None,
            Caller::Token(c) => Some(&c.sub),
        }
    }
}

/// The access rules, loaded once at start.
#[derive(Debug)]
pub struct Auth {
    config: AuthConfig,
    users: Option<Htpasswd>,
    /// Set when the token flow is on.
    signer: Option<Signer>,
    /// `https` with `[tls]`, else `http`: the scheme of the token realm.
    scheme: &'static str,
    /// The realm's host when a request has no usable `Host`.
    listen: SocketAddr,
}

impl Auth {
    /// Loads the users file and the token key `config` names.
    pub fn load(config: &AuthConfig, tls: bool, listen: SocketAddr) -> Result<Auth, SecurityError> {
        for (i, g) in config.grants.iter().enumerate() {
            if g.users.is_empty() || g.repositories.is_empty() || g.actions.is_empty() {
                return Err(SecurityError::Invalid(format!(
                    "grant {} needs users, repositories and actions",
                    i + 1
                )));
            }
        }
        if config.token.enabled && config.token.ttl_secs == 0 {
            return Err(SecurityError::Invalid(
                "token.ttl_secs must be above 0".into(),
            ));
        }
        let users = config.htpasswd.as_deref().map(Htpasswd::load).transpose()?;
        if users.as_ref().is_none_or(Htpasswd::is_empty) && !config.anonymous_pull {
            tracing::warn!("[auth] has no users and no anonymous pull: every request is refused");
        }
        let signer = if config.token.enabled {
            let key = match &config.token.key_file {
                Some(path) => {
                    let bytes = fs_err::read(path).map_err(|source| SecurityError::Read {
                        path: path.clone(),
                        source,
                    })?;
                    let key = bytes.trim_ascii_end().to_vec();
                    if key.len() < 32 {
                        return Err(SecurityError::ShortKey {
                            path: path.clone(),
                            len: key.len(),
                        });
                    }
                    key
                }
                None => {
                    let mut key = vec![0u8; 32];
                    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
                        .map_err(|_| {
                            SecurityError::Invalid("no randomness for the token key".into())
                        })?;
                    tracing::warn!(
                        "auth.token.key_file is not set: tokens are signed with a random key \
                         of this process; they do not survive a restart and other instances \
                         do not accept them"
                    );
                    key
                }
            };
            Some(Signer::new(key))
        } else {
            None
        };
        Ok(Auth {
            config: config.clone(),
            users,
            signer,
            scheme: if tls { "https" } else { "http" },
            listen,
        })
    }

    /// Whether the configured grants (not a token) let `user` (`None`: anonymous) do
    /// `action` on `repository`.
    pub fn granted(&self, user: Option<&str>, repository: &str, action: Action) -> bool {
        if action == Action::Pull && self.config.anonymous_pull {
            return true;
        }
        let Some(user) = user else {
            return false;
        };
        self.config
            .grants
            .iter()
            .any(|g| g.allows(user, repository, action))
    }

    /// Whether `caller` may do `action` on `repository`: by its token's claims for a
    /// bearer, by the grants otherwise.
    pub fn allows(&self, caller: &Caller, repository: &str, action: Action) -> bool {
        match caller {
            Caller::Token(c) => c.allows(repository, action),
            other => self.granted(other.user(), repository, action),
        }
    }

    /// Whether `caller` may list the catalog (any valid identity, or nobody when
    /// anonymous pull is on).
    pub fn admits(&self, caller: &Caller) -> bool {
        self.config.anonymous_pull || caller.user().is_some()
    }

    /// Who sent the request, from its `Authorization` header. `Err`: credentials were
    /// sent and are not valid (the reason, for the client).
    pub async fn identify(self: &Arc<Self>, headers: &HeaderMap) -> Result<Caller, String> {
        let Some(value) = headers.get(hyper::header::AUTHORIZATION) else {
            return Ok(Caller::Anonymous);
        };
        let value = value
            .to_str()
            .map_err(|_| "the Authorization header is not text".to_string())?;
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let (user, password) =
                basic_credentials(rest.trim()).ok_or("malformed Basic credentials")?;
            if user.is_empty() && password.is_empty() {
                // containers/image answers a Basic challenge with `:` when it has no
                // credentials: that is nobody, not a wrong password.
                return Ok(Caller::Anonymous);
            }
            if self.check_password(user.clone(), password).await {
                Ok(Caller::User(user))
            } else {
                Err("invalid username or password".into())
            }
        } else if scheme.eq_ignore_ascii_case("bearer") {
            let signer = self
                .signer
                .as_ref()
                .ok_or("this registry does not issue tokens")?;
            let t = &self.config.token;
            signer
                .verify(rest.trim(), &t.issuer, &t.service, token::now())
                .map(|c| Caller::Token(Arc::new(c)))
                .map_err(|e| e.to_string())
        } else {
            Err(format!("unsupported authorization scheme {scheme:?}"))
        }
    }

    /// Checks a password off the async workers (bcrypt is slow on purpose).
    async fn check_password(self: &Arc<Self>, user: String, password: String) -> bool {
        if self.users.is_none() {
            return false;
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            me.users.as_ref().is_some_and(|u| u.check(&user, &password))
        })
        .await
        .unwrap_or(false)
    }

    /// The `WWW-Authenticate` value for a refused request; `scope` is the repository and
    /// actions the request needed, `insufficient` says the token held too little.
    pub fn challenge(
        &self,
        host: Option<&str>,
        scope: Option<(&str, &[Action])>,
        insufficient: bool,
    ) -> String {
        if self.signer.is_none() {
            return "Basic realm=\"plinth\"".to_string();
        }
        let host = host
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
            })
            .map_or_else(|| self.listen.to_string(), str::to_string);
        let mut c = format!(
            "Bearer realm=\"{}://{host}{TOKEN_PATH}\",service=\"{}\"",
            self.scheme,
            self.config.token.service.replace('"', "")
        );
        if let Some((name, actions)) = scope {
            let actions: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
            c.push_str(&format!(
                ",scope=\"repository:{name}:{}\"",
                actions.join(",")
            ));
        }
        if insufficient {
            c.push_str(",error=\"insufficient_scope\"");
        }
        c
    }
}

/// `user:password` of a Basic `Authorization` value.
fn basic_credentials(b64: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// What the server needs for access control and TLS, loaded once at start.
#[derive(Clone, Default)]
pub struct Security {
    /// The access rules; `None`: everything is allowed.
    pub auth: Option<Arc<Auth>>,
    /// The TLS acceptor; `None`: plain HTTP.
    pub tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("auth", &self.auth)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Security {
    /// Loads `[auth]` and `[tls]`: their files are read and checked now, so that a bad
    /// file stops the start rather than the first request.
    pub fn load(config: &Config) -> Result<Security, SecurityError> {
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let auth = config
            .auth
            .as_ref()
            .map(|a| Auth::load(a, tls.is_some(), config.listen).map(Arc::new))
            .transpose()?;
        Ok(Security { auth, tls })
    }

    /// `stream` as the server speaks on it: TLS when configured, with the handshake
    /// bounded by `handshake_timeout`.
    pub fn wrap(
        &self,
        stream: tokio::net::TcpStream,
        handshake_timeout: std::time::Duration,
    ) -> tls::Conn {
        tls::Conn::new(stream, self.tls.as_ref(), handshake_timeout)
    }
}
