//! The token issuer of a registry with token auth (distribution's `auth: token`): an HTTP
//! server on a thread that signs ES256 JWTs with a throwaway key, whose self-signed
//! certificate (made with `openssl`) is the registry's `rootcertbundle`; each token
//! carries the certificate in its `x5c` header, which is how the registry finds the key.
//!
//! It speaks both flows of the token spec: `GET realm?service&scope` with Basic
//! credentials (or none: an anonymous token that grants nothing, as Docker Hub does for a
//! private repository), and the OAuth2 `POST` (`grant_type=password` or
//! `grant_type=refresh_token`), which hands out a refresh token when asked for
//! `access_type=offline`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

use super::http::{Conn, Next, Request, Server};
use crate::common::ok;

pub const SERVICE: &str = "plinth-test-registry";
pub const ISSUER: &str = "plinth-test-issuer";
/// The refresh token the issuer hands out and accepts (one user, so one token).
pub const REFRESH_TOKEN: &str = "plinth-test-refresh-token";

pub struct TokenIssuer {
    pub server: Server,
    /// PEM of the self-signed certificate the registry trusts.
    pub cert: PathBuf,
}

struct Signer {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    x5c: String,
    user: String,
    password: String,
    next_id: AtomicU64,
}

impl TokenIssuer {
    /// Makes a key and certificate in `dir` and starts issuing tokens to `user`/`password`.
    pub fn start(dir: &Path, user: &str, password: &str) -> TokenIssuer {
        let sh = |cmd: &str| {
            ok(Command::new("sh").arg("-c").arg(cmd).current_dir(dir));
        };
        sh(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout token.key -out token.pem -days 2 -subj /CN=plinth-test-token-issuer 2>/dev/null",
        );
        sh("openssl pkcs8 -topk8 -nocrypt -in token.key -outform DER -out token.pk8");
        sh("openssl x509 -in token.pem -outform DER -out token.der");
        let rng = SystemRandom::new();
        let pk8 = fs_err::read(dir.join("token.pk8")).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pk8, &rng).unwrap();
        let signer = Arc::new(Signer {
            key,
            rng,
            x5c: STANDARD.encode(fs_err::read(dir.join("token.der")).unwrap()),
            user: user.into(),
            password: password.into(),
            next_id: AtomicU64::new(1),
        });
        let server = Server::start(move |req, conn| signer.answer(req, conn));
        TokenIssuer {
            server,
            cert: dir.join("token.pem"),
        }
    }

    /// The URL the registry sends clients to.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.server.host())
    }

    /// The requests that obtained a token, as `METHOD GRANT SCOPES` (grants: `basic` or
    /// `anonymous` for a GET, `password` or `refresh_token` for a POST).
    pub fn grants(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .map(|r| match r.method.as_str() {
                "POST" => format!(
                    "POST {} {}",
                    r.form("grant_type").unwrap_or_default(),
                    r.form("scope").unwrap_or_default()
                ),
                m => format!(
                    "{m} {} {}",
                    if r.header("authorization").is_some() {
                        "basic"
                    } else {
                        "anonymous"
                    },
                    r.query_all("scope").join(" ")
                ),
            })
            .collect()
    }
}

impl Signer {
    fn answer(&self, req: &Request, conn: &mut Conn) -> io::Result<Next> {
        if req.path() != "/token" {
            conn.send(404, &[], b"")?;
            return Ok(Next::Keep);
        }
        let denied = |conn: &mut Conn| {
            conn.json(
                401,
                &serde_json::json!({"details": "incorrect username or password"}),
            )
            .map(|()| Next::Keep)
        };
        let (authenticated, scopes, refresh) = match req.method.as_str() {
            "GET" => {
                let scopes = req.query_all("scope");
                match req.header("authorization") {
                    None => (false, scopes, false),
                    Some(h) if self.basic_ok(h) => (
                        true,
                        scopes,
                        req.query("offline_token").is_some_and(|v| v == "true"),
                    ),
                    Some(_) => return denied(conn),
                }
            }
            "POST" => {
                let scopes: Vec<String> = req
                    .form("scope")
                    .map(|s| s.split(' ').map(String::from).collect())
                    .unwrap_or_default();
                let good = match req.form("grant_type").as_deref() {
                    Some("password") => {
                        req.form("username").as_deref() == Some(&self.user)
                            && req.form("password").as_deref() == Some(&self.password)
                    }
                    Some("refresh_token") => {
                        req.form("refresh_token").as_deref() == Some(REFRESH_TOKEN)
                    }
                    _ => false,
                };
                if !good {
                    return denied(conn);
                }
                (
                    true,
                    scopes,
                    req.form("access_type").is_some_and(|v| v == "offline"),
                )
            }
            _ => {
                conn.send(405, &[], b"")?;
                return Ok(Next::Keep);
            }
        };
        let access: Vec<serde_json::Value> = if authenticated {
            scopes.iter().filter_map(|s| scope_access(s)).collect()
        } else {
            Vec::new()
        };
        let token = self.sign(&access);
        let mut body = serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": 300,
            "issued_at": jiff::Timestamp::now().to_string(),
        });
        if refresh {
            body["refresh_token"] = REFRESH_TOKEN.into();
        }
        conn.json(200, &body)?;
        Ok(Next::Keep)
    }

    fn basic_ok(&self, header: &str) -> bool {
        let Some(b64) = header.strip_prefix("Basic ") else {
            return false;
        };
        let Ok(raw) = STANDARD.decode(b64.trim()) else {
            return false;
        };
        raw == format!("{}:{}", self.user, self.password).as_bytes()
    }

    fn sign(&self, access: &[serde_json::Value]) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [self.x5c]});
        let claims = serde_json::json!({
            "iss": ISSUER,
            "sub": self.user,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": self.next_id.fetch_add(1, Ordering::SeqCst).to_string(),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.key.sign(&self.rng, input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

/// `repository:NAME:pull,push` → the token's grant of those actions on NAME.
fn scope_access(scope: &str) -> Option<serde_json::Value> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    Some(serde_json::json!({
        "type": kind,
        "name": name,
        "actions": actions.split(',').collect::<Vec<_>>(),
    }))
}
