//! The HTTP side of the distribution protocol: one [`Client`] per run holds, per
//! registry, the scheme it speaks, the challenge it sent, the credential found for it and
//! the tokens it issued (cached per scope, renewed before they expire).
//!
//! Every request goes through [`Client::send`], which attaches credentials, answers a
//! `401` by fetching a token and trying once more, follows redirects (to blob storage)
//! without `Authorization` and with a hop cap, and retries connection failures, `429`
//! and `5xx` with backoff ([`crate::retry`]) whenever the request body can be sent again.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ureq::http::{self, Response};
use ureq::{Agent, SendBody};

use crate::auth::challenge::{self, Challenge};
use crate::auth::config::{Credential, CredentialSources};
use crate::error::{Error, Result};
use crate::reference::Reference;
use crate::retry::{self, Outcome};

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 10;
/// Largest token response or error body read.
const MAX_SMALL_BODY: u64 = 1 << 20;
/// Time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = plinth_core::http::CONNECT_TIMEOUT;
/// Time allowed for the headers, and for each read, before a transfer counts as stalled.
const READ_TIMEOUT: Duration = plinth_core::http::READ_TIMEOUT;

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Speak to non-loopback registries without TLS verification, or plain HTTP when they
    /// do not speak TLS (`--insecure`).
    pub insecure: bool,
    /// Where credentials are looked up.
    pub credentials: CredentialSources,
    /// Most blobs transferred at once.
    pub jobs: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            credentials: CredentialSources::from_env(),
            jobs: 4,
        }
    }
}

/// A token and when to fetch a new one.
#[derive(Clone)]
struct Token {
    value: String,
    fetched_at: Instant,
    renew_at: Instant,
}

#[derive(Default)]
struct HostState {
    /// `http://host:port` or `https://host`.
    base: OnceLock<String>,
    challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<String, Token>>,
    /// Held while a token is fetched, so that threads needing one wait for it rather
    /// than each asking the token endpoint.
    fetching: Mutex<()>,
    credentials: Mutex<HashMap<String, Option<Credential>>>,
}

/// A request body.
pub enum Body<'a> {
    /// No body.
    Empty,
    /// Bytes in memory: the request can be retried.
    Bytes(&'a [u8]),
    /// A stream of known length, sent once (no retry, no second try after a `401`).
    Stream(&'a mut dyn Read, u64),
}

impl Body<'_> {
    fn replayable(&self) -> bool {
        !matches!(self, Body::Stream(..))
    }
}

/// The registry client. Cheap to share between threads (`&Client` or `Arc<Client>`).
pub struct Client {
    agent: Agent,
    insecure_agent: Agent,
    /// Asks a loopback registry whether it speaks TLS, with a short timeout: a TLS server
    /// on loopback answers a handshake at once, a plain one may say nothing.
    probe_agent: Agent,
    opts: ClientOptions,
    hosts: Mutex<HashMap<String, Arc<HostState>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("opts", &self.opts).finish()
    }
}

fn agent(roots: Option<ureq::tls::RootCerts>) -> Agent {
    let mut b = Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_recv_response(Some(READ_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .http_status_as_error(false)
        // Redirects are followed by hand: without `Authorization`, with a cap, and
        // only for GET and HEAD.
        .max_redirects(0)
        .user_agent(concat!("plinth/", env!("CARGO_PKG_VERSION")));
    // No roots: the insecure agent, which verifies nothing.
    let tls = match roots {
        None => ureq::tls::TlsConfig::builder().disable_verification(true),
        Some(roots) => ureq::tls::TlsConfig::builder().root_certs(roots),
    };
    b = b.tls_config(tls.build());
    b.build().into()
}

/// How long a loopback registry has to answer a TLS handshake before it is taken for a
/// plain-HTTP one.
const TLS_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The system's CA bundles, where Debian, Fedora/RHEL, openSUSE and Alpine keep them (the
/// paths Go's crypto/x509 reads).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The roots a registry's certificate must chain to: the file `SSL_CERT_FILE` names when
/// it is set (as OpenSSL, curl and Go read it: a private CA is trusted this way), else the
/// system's bundle (so that a CA installed on the machine is trusted, as skopeo and crane
/// trust it), else the Mozilla roots built into the binary.
fn root_certs() -> ureq::tls::RootCerts {
    fn certs_in(path: &std::path::Path) -> Option<Vec<ureq::tls::Certificate<'static>>> {
        let pem = fs_err::read(path).ok()?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        (!certs.is_empty()).then_some(certs)
    }
    let env = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty());
    let files = env
        .iter()
        .map(std::path::PathBuf::from)
        .chain(SYSTEM_BUNDLES.iter().map(std::path::PathBuf::from));
    for f in files {
        if let Some(certs) = certs_in(&f) {
            return ureq::tls::RootCerts::new_with_certs(&certs);
        }
    }
    ureq::tls::RootCerts::WebPki
}

/// Whether a failed TLS attempt met a TLS server (whose certificate was refused), rather
/// than a server that does not speak TLS.
fn met_a_tls_server(e: &ureq::Error) -> bool {
    let text = e.to_string();
    text.contains("certificate") || text.contains("Certificate")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Resolves a `Location` header against the URL it answered.
pub(crate) fn join_url(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    if let Some(rest) = location.strip_prefix("//") {
        return format!("{}{rest}", &base[..scheme_end]);
    }
    if location.starts_with('/') {
        return format!("{}{location}", &base[..host_end]);
    }
    let dir_end = base
        .rfind('/')
        .filter(|&i| i >= host_end)
        .map_or(base.len(), |i| i + 1);
    format!("{}{location}", &base[..dir_end])
}

pub(crate) fn header<'r>(resp: &'r Response<ureq::Body>, name: &str) -> Option<&'r str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// What a registry's error body says: `CODE: message` of its first error, else the start
/// of the body.
pub(crate) fn error_detail(resp: Response<ureq::Body>) -> String {
    let mut bytes = Vec::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(64 * 1024)
        .read_to_end(&mut bytes);
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(&bytes)
        && let Some(first) = e.errors.first()
    {
        return match (first.code.is_empty(), first.message.is_empty()) {
            (false, false) => format!("{}: {}", first.code, first.message),
            (false, true) => first.code.clone(),
            _ => first.message.clone(),
        };
    }
    let text = String::from_utf8_lossy(&bytes);
    let text: String = text.trim().chars().take(200).collect();
    if text.contains('<') {
        String::new()
    } else {
        text
    }
}

/// The error a non-success status stands for.
pub(crate) fn status_error(what: &str, resp: Response<ureq::Body>) -> Error {
    let status = resp.status().as_u16();
    let detail = error_detail(resp);
    let what = what.to_string();
    match status {
        401 => Error::Unauthorized { what, detail },
        403 => Error::Denied { what, detail },
        404 => Error::NotFound { what, detail },
        429 | 500..=599 => Error::Server {
            what,
            status,
            detail,
        },
        _ => Error::Status {
            what,
            status,
            detail,
        },
    }
}

/// Whether the name did not resolve: ureq says `HostNotFound`, or passes on the
/// resolver's I/O error.
fn is_unknown_host(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::HostNotFound => true,
        ureq::Error::Io(io) => {
            let m = io.to_string();
            m.contains("failed to lookup address") || m.contains("Name or service not known")
        }
        _ => false,
    }
}

/// The error a failed request stands for, naming the reference `r` it was made for.
fn transport_error(url: &str, r: &Reference, e: ureq::Error) -> Error {
    let reference = r.to_string();
    if outcome_of(&e) == Outcome::Permanent {
        return Error::Tls {
            reference,
            url: url.to_string(),
            source: Box::new(e),
        };
    }
    match e {
        e if is_unknown_host(&e) => Error::UnknownHost {
            reference,
            host: r.registry.clone(),
            source: Box::new(e),
        },
        e => Error::Connect {
            reference,
            url: url.to_string(),
            source: Box::new(e),
        },
    }
}

fn outcome_of(e: &ureq::Error) -> Outcome {
    match e {
        e if is_unknown_host(e) => Outcome::UnknownHost,
        // TLS failures (a plain-HTTP server, an untrusted certificate) come as
        // `InvalidData`; a reset, a refused or timed-out connection heal.
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => Outcome::Permanent,
        _ => Outcome::Connection,
    }
}

impl Client {
    /// A client with `opts`.
    pub fn new(opts: ClientOptions) -> Client {
        let roots = root_certs();
        Client {
            agent: agent(Some(roots.clone())),
            insecure_agent: agent(None),
            probe_agent: Agent::config_builder()
                .timeout_global(Some(TLS_PROBE_TIMEOUT))
                .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into(),
            opts,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The options the client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    fn host(&self, registry: &str) -> Arc<HostState> {
        self.hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(registry.to_string())
            .or_default()
            .clone()
    }

    fn agent_for(&self, url: &str) -> &Agent {
        if self.opts.insecure && url.starts_with("https://") {
            &self.insecure_agent
        } else {
            &self.agent
        }
    }

    /// `https://host`, or `http://host` for a registry on loopback that does not speak TLS;
    /// elsewhere `http://` only with `--insecure` when the registry does not speak TLS.
    pub fn base_url(&self, r: &Reference) -> String {
        let state = self.host(&r.registry);
        state
            .base
            .get_or_init(|| {
                let host = r.api_host();
                let https = format!("https://{host}");
                if r.is_loopback() {
                    // Registries on loopback are often plain HTTP (docker's rule treats
                    // them as insecure): speak TLS when the registry does, else HTTP.
                    let ping = http::Request::get(format!("{https}/v2/"))
                        .body(SendBody::none())
                        .expect("a valid request");
                    return match self.probe_agent.run(ping) {
                        Ok(_) => https,
                        Err(e) if met_a_tls_server(&e) => https,
                        Err(_) => format!("http://{host}"),
                    };
                }
                if !self.opts.insecure {
                    return https;
                }
                let ping = http::Request::get(format!("{https}/v2/"))
                    .body(SendBody::none())
                    .expect("a valid request");
                match self.insecure_agent.run(ping) {
                    Err(e) if is_unknown_host(&e) => https,
                    Ok(_) => https,
                    Err(_) => format!("http://{host}"),
                }
            })
            .clone()
    }

    /// The credential for `r`'s registry and repository (looked up once per repository).
    fn credential(&self, state: &HostState, r: &Reference) -> Result<Option<Credential>> {
        let mut creds = state.credentials.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = creds.get(&r.repository) {
            return Ok(c.clone());
        }
        let c = self.opts.credentials.lookup(&r.registry, &r.repository)?;
        creds.insert(r.repository.clone(), c.clone());
        Ok(c)
    }

    /// The `Authorization` header for a request on `r` needing `scopes`, from what the
    /// registry's last challenge asked for; `None` before any challenge (anonymous).
    /// `refused_since`: a request sent then was refused, so a token fetched before then
    /// is not good enough.
    fn authorization(
        &self,
        state: &HostState,
        r: &Reference,
        scopes: &[String],
        refused_since: Option<Instant>,
    ) -> Result<Option<String>> {
        let challenge = state
            .challenge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.credential(state, r)?.and_then(|c| match c {
                Credential::Basic { username, password } => Some(format!(
                    "Basic {}",
                    STANDARD.encode(format!("{username}:{password}"))
                )),
                Credential::IdentityToken { .. } => None,
            })),
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let mut scopes = scopes.to_vec();
                if scopes.is_empty()
                    && let Some(s) = scope
                {
                    scopes.push(s);
                }
                let key = scopes.join(" ");
                let cached = || {
                    state
                        .tokens
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get(&key)
                        .filter(|t| {
                            Instant::now() < t.renew_at
                                && refused_since.is_none_or(|since| t.fetched_at > since)
                        })
                        .map(|t| format!("Bearer {}", t.value))
                };
                if let Some(v) = cached() {
                    return Ok(Some(v));
                }
                let _fetching = state.fetching.lock().unwrap_or_else(|p| p.into_inner());
                // Another thread may have fetched it while this one waited.
                if let Some(v) = cached() {
                    return Ok(Some(v));
                }
                let token = self.fetch_token(state, r, &realm, service.as_deref(), &scopes)?;
                let value = format!("Bearer {}", token.value);
                state
                    .tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, token);
                Ok(Some(value))
            }
        }
    }

    /// The token flow: GET the realm (with Basic credentials when there are some), or
    /// POST an OAuth2 refresh-token grant when the stored credential is an identity token.
    fn fetch_token(
        &self,
        state: &HostState,
        r: &Reference,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<Token> {
        let credential = self.credential(state, r)?;
        let what = format!("token for {} from {realm}", r.name());
        let mut retry = 0;
        let resp = loop {
            let result = match &credential {
                Some(Credential::IdentityToken { token }) => {
                    let mut form = format!(
                        "grant_type=refresh_token&client_id=plinth&refresh_token={}",
                        enc(token)
                    );
                    if let Some(s) = service {
                        form.push_str(&format!("&service={}", enc(s)));
                    }
                    if !scopes.is_empty() {
                        form.push_str(&format!("&scope={}", enc(&scopes.join(" "))));
                    }
                    let req = http::Request::post(realm)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("content-length", form.len())
                        .body(SendBody::from_owned_reader(std::io::Cursor::new(
                            form.into_bytes(),
                        )))
                        .map_err(|e| Error::Protocol {
                            what: what.clone(),
                            reason: e.to_string(),
                        })?;
                    self.agent_for(realm).run(req)
                }
                cred => {
                    let mut url = realm.to_string();
                    let mut sep = if url.contains('?') { '&' } else { '?' };
                    if let Some(s) = service {
                        url.push_str(&format!("{sep}service={}", enc(s)));
                        sep = '&';
                    }
                    for s in scopes {
                        url.push_str(&format!("{sep}scope={}", enc(s)));
                        sep = '&';
                    }
                    let mut req = http::Request::get(&url);
                    if let Some(Credential::Basic { username, password }) = cred {
                        req = req.header(
                            "authorization",
                            format!(
                                "Basic {}",
                                STANDARD.encode(format!("{username}:{password}"))
                            ),
                        );
                    }
                    let req = req.body(SendBody::none()).map_err(|e| Error::Protocol {
                        what: what.clone(),
                        reason: e.to_string(),
                    })?;
                    self.agent_for(&url).run(req)
                }
            };
            let outcome = match &result {
                Err(e) => outcome_of(e),
                Ok(resp) => Outcome::Status(
                    resp.status().as_u16(),
                    header(resp, "retry-after").and_then(retry::parse_retry_after),
                ),
            };
            match result {
                Ok(resp) if resp.status().is_success() => break resp,
                _ if retry::decide(outcome, retry).is_some() => {
                    std::thread::sleep(retry::decide(outcome, retry).expect("checked"));
                    retry += 1;
                }
                Ok(resp) => return Err(status_error(&what, resp)),
                Err(e) => return Err(transport_error(realm, r, e)),
            }
        };
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let mut bytes = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_SMALL_BODY)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Protocol {
                what: what.clone(),
                reason: format!("cannot read the answer: {e}"),
            })?;
        let t: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| Error::Protocol {
            what: what.clone(),
            reason: format!("the answer is not a token: {e}"),
        })?;
        let value = if t.token.is_empty() {
            t.access_token
        } else {
            t.token
        };
        if value.is_empty() || value.chars().any(|c| c.is_control() || c == ' ') {
            return Err(Error::Protocol {
                what,
                reason: "the answer holds no usable token".into(),
            });
        }
        // The spec's default lifetime is 60 s. Renew a little early: a quarter of the
        // lifetime, at most 30 s, before it ends.
        let life = t.expires_in.unwrap_or(60).max(1);
        let margin = (life / 4).min(30);
        let now = Instant::now();
        Ok(Token {
            value,
            fetched_at: now,
            renew_at: now + Duration::from_secs(life - margin),
        })
    }

    /// Sends one request on `r`'s registry needing `scopes`. Returns the final response,
    /// whatever its status (the caller reads it), except for transport failures after
    /// the retries, which are errors.
    pub fn send(
        &self,
        r: &Reference,
        scopes: &[String],
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        mut body: Body<'_>,
    ) -> Result<Response<ureq::Body>> {
        let state = self.host(&r.registry);
        // Only GETs follow redirects: a redirect answering a HEAD already says the blob
        // exists, and a storage URL signed for GET may refuse a HEAD.
        let follows = method == "GET";
        let mut current = url.to_string();
        let mut hops = 0;
        let mut retry = 0;
        let mut renewed = false;
        let mut refused_since = None;
        loop {
            // After a redirect the request goes elsewhere (blob storage): no credentials.
            let auth = if hops == 0 {
                self.authorization(&state, r, scopes, refused_since)?
            } else {
                None
            };
            let sent_at = Instant::now();
            let replayable = body.replayable();
            let mut req = http::Request::builder().method(method).uri(&current);
            for (k, v) in headers {
                req = req.header(*k, v.as_str());
            }
            if let Some(a) = &auth {
                req = req.header("authorization", a.as_str());
            }
            let build_err = |e: http::Error| Error::Protocol {
                what: current.clone(),
                reason: format!("cannot build the request: {e}"),
            };
            let agent = self.agent_for(&current);
            let result = match &mut body {
                Body::Empty => {
                    if !matches!(method, "GET" | "HEAD") {
                        req = req.header("content-length", "0");
                    }
                    agent.run(req.body(SendBody::none()).map_err(build_err)?)
                }
                Body::Bytes(b) => {
                    req = req.header("content-length", b.len());
                    agent.run(req.body(*b).map_err(build_err)?)
                }
                Body::Stream(reader, len) => {
                    req = req.header("content-length", *len);
                    agent.run(
                        req.body(SendBody::from_reader(&mut **reader))
                            .map_err(build_err)?,
                    )
                }
            };
            let resp = match result {
                Err(e) => {
                    let outcome = outcome_of(&e);
                    if replayable && let Some(wait) = retry::decide(outcome, retry) {
                        std::thread::sleep(wait);
                        retry += 1;
                        continue;
                    }
                    return Err(transport_error(&current, r, e));
                }
                Ok(resp) => resp,
            };
            let status = resp.status().as_u16();
            if follows
                && (300..400).contains(&status)
                && status != 304
                && let Some(loc) = header(&resp, "location")
            {
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(Error::TooManyRedirects {
                        url: url.to_string(),
                    });
                }
                current = join_url(&current, loc);
                continue;
            }
            if status == 401 && hops == 0 && !renewed && replayable {
                let parsed = header(&resp, "www-authenticate").and_then(challenge::parse);
                if let Some(ch) = parsed {
                    *state.challenge.lock().unwrap_or_else(|p| p.into_inner()) = Some(ch);
                    renewed = true;
                    refused_since = Some(sent_at);
                    continue;
                }
            }
            let outcome = Outcome::Status(
                status,
                header(&resp, "retry-after").and_then(retry::parse_retry_after),
            );
            if replayable
                && (status == 429 || status >= 500)
                && let Some(wait) = retry::decide(outcome, retry)
            {
                std::thread::sleep(wait);
                retry += 1;
                continue;
            }
            return Ok(resp);
        }
    }

    /// Checks that `credential` is accepted by the registry `r` names (its API root, and
    /// its token endpoint when it has one), as `docker login` does before storing it.
    pub fn check_login(&self, r: &Reference, credential: Credential) -> Result<()> {
        let state = self.host(&r.registry);
        state
            .credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(r.repository.clone(), Some(credential));
        let url = format!("{}/v2/", self.base_url(r));
        let resp = self.send(r, &[], "GET", &url, &[], Body::Empty)?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(status_error(&r.registry, resp))
        }
    }

    /// Makes sure a token for `scopes` is at hand before a request whose body cannot be
    /// sent twice (a streamed upload), by asking the registry's API root.
    pub(crate) fn prime(&self, r: &Reference, scopes: &[String]) -> Result<()> {
        let url = format!("{}/v2/", self.base_url(r));
        let resp = self.send(r, scopes, "GET", &url, &[], Body::Empty)?;
        match resp.status().as_u16() {
            200..=299 | 404 => Ok(()),
            _ => Err(status_error(&r.registry, resp)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_request() {
        let base = "http://127.0.0.1:5000/v2/a/b/blobs/uploads/";
        assert_eq!(
            join_url(base, "/v2/a/b/blobs/uploads/uuid?_state=x"),
            "http://127.0.0.1:5000/v2/a/b/blobs/uploads/uuid?_state=x"
        );
        assert_eq!(
            join_url(base, "https://s3.example/bucket/k?sig=1"),
            "https://s3.example/bucket/k?sig=1"
        );
        assert_eq!(join_url(base, "//cdn.example/x"), "http://cdn.example/x");
        assert_eq!(
            join_url(base, "uuid"),
            "http://127.0.0.1:5000/v2/a/b/blobs/uploads/uuid"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            enc("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(enc("a b~c"), "a%20b~c");
    }
}
