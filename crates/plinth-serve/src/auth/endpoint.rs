//! The hook every API request passes before it is dispatched, and the token endpoint.
//!
//! Refusals: a caller without credentials (or with invalid ones) gets `401
//! UNAUTHORIZED` and the challenge. An authenticated caller whose grants do not allow
//! the action gets `403 DENIED`: no other credentials would help, and docker, podman and
//! skopeo all stop there with the body's message ("denied: ..."). A bearer whose token
//! holds too little, while the grants would allow the action, gets `401` with a
//! challenge naming the scope and `error="insufficient_scope"` (what distribution
//! answers to every bearer): the client fetches a token for that scope and tries again,
//! as plinth's client and containers/image do. Bodies are the spec's error bodies.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::http::Extensions;
use hyper::{Method, Request, Response, StatusCode, Uri};
use serde_json::json;

use super::token::{AccessEntry, Claims, parse_scopes};
use super::{Action, Auth, Caller};
use crate::error::{ApiError, Code};
use crate::http::{Api, ResponseBody, Route, error_response};
use crate::names::valid_name;
use crate::store::Store;

/// The path of the token endpoint.
pub const TOKEN_PATH: &str = "/token";

/// Largest form body of `POST /token`.
const MAX_FORM: usize = 64 * 1024;

/// How long a client may take to send the form of `POST /token`.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// Put in the request's extensions by the hook: the catalog lists only what the caller
/// may pull.
#[derive(Debug, Clone)]
pub struct CatalogFilter {
    auth: Arc<Auth>,
    caller: Caller,
}

/// The repositories of `all` the request's caller may pull (all of them when access
/// control is off).
pub fn visible(extensions: &Extensions, mut all: Vec<String>) -> Vec<String> {
    if let Some(f) = extensions.get::<CatalogFilter>() {
        let user = f.caller.user();
        all.retain(|name| f.auth.granted(user, name, Action::Pull));
    }
    all
}

/// The action a request on `route` needs. Upload sessions are pushes whatever the
/// method (their status is a step of a push); otherwise GET and HEAD pull, DELETE
/// deletes, the rest push.
fn needed<'r>(route: &'r Route, method: &Method) -> Option<(&'r str, Action)> {
    let name = route.repository()?;
    let action = match route {
        Route::UploadStart(_) | Route::Upload(..) => Action::Push,
        _ if method == Method::GET || method == Method::HEAD => Action::Pull,
        _ if method == Method::DELETE => Action::Delete,
        _ => Action::Push,
    };
    Some((name, action))
}

fn host_of<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

/// The answer to a refused request: the spec's body, the challenge.
fn refusal(
    status: StatusCode,
    code: Code,
    message: String,
    scope: Option<(&str, Action)>,
    challenge: Option<String>,
    head: bool,
) -> Response<ResponseBody> {
    let mut e = ApiError::new(status, code, message);
    if let Some((name, action)) = scope {
        e = e.with_detail(json!([{
            "Type": "repository",
            "Class": "",
            "Name": name,
            "Action": action.as_str(),
        }]));
    }
    let mut r = error_response(&e, head);
    if let Some(c) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, c);
    }
    r
}

/// `uri` without its `mount` and `from` parameters.
fn without_mount(uri: &Uri) -> Uri {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .filter(|(k, _)| k != "mount" && k != "from"),
        )
        .finish();
    let pq = if query.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{query}", uri.path())
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = pq.parse().ok();
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

impl<S: Store> Api<S> {
    /// Lets `req` through (possibly changed: a mount the caller may not read from
    /// becomes a plain upload), or answers it with a refusal.
    pub(crate) async fn admit(
        &self,
        route: &Route,
        mut req: Request<Incoming>,
    ) -> Result<Request<Incoming>, Response<ResponseBody>> {
        let Some(auth) = self.auth.clone() else {
            return Ok(req);
        };
        let head = req.method() == Method::HEAD;
        let needs = needed(route, req.method());
        let host = host_of(&req).map(str::to_string);
        let wanted: Vec<Action> = needs.iter().map(|(_, a)| *a).collect();
        let challenge = |insufficient: bool| {
            auth.challenge(
                host.as_deref(),
                needs.map(|(n, _)| (n, wanted.as_slice())),
                insufficient,
            )
        };
        let caller = match auth.identify(req.headers()).await {
            Ok(c) => c,
            Err(reason) => {
                return Err(refusal(
                    StatusCode::UNAUTHORIZED,
                    Code::Unauthorized,
                    reason,
                    needs,
                    Some(challenge(false)),
                    head,
                ));
            }
        };
        let Some((name, action)) = needs else {
            // The API root answers a caller without credentials with the challenge, even
            // with anonymous pull: clients (containers/image, docker) learn from this one
            // answer whether to send the credentials they have, and would push without
            // them after a 200. An anonymous token is enough when anonymous pull is on.
            // The catalog: any identity, or anybody with anonymous pull.
            let allowed = if *route == Route::Catalog {
                auth.admits(&caller)
            } else {
                caller.user().is_some()
                    || matches!(caller, Caller::Token(_)) && auth.admits(&caller)
            };
            if !allowed {
                return Err(refusal(
                    StatusCode::UNAUTHORIZED,
                    Code::Unauthorized,
                    "authentication required".into(),
                    None,
                    Some(challenge(false)),
                    head,
                ));
            }
            if *route == Route::Catalog {
                req.extensions_mut().insert(CatalogFilter {
                    auth: auth.clone(),
                    caller,
                });
            }
            return Ok(req);
        };
        if !auth.allows(&caller, name, action) {
            let user = caller.user();
            let (status, code, message, challenge) = if user.is_none() {
                (
                    StatusCode::UNAUTHORIZED,
                    Code::Unauthorized,
                    "authentication required".to_string(),
                    Some(challenge(false)),
                )
            } else if matches!(caller, Caller::Token(_)) && auth.granted(user, name, action) {
                (
                    StatusCode::UNAUTHORIZED,
                    Code::Unauthorized,
                    format!("the token does not grant {} on {name}", action.as_str()),
                    Some(challenge(true)),
                )
            } else {
                (
                    StatusCode::FORBIDDEN,
                    Code::Denied,
                    format!("requested access to {name} is denied"),
                    None,
                )
            };
            return Err(refusal(status, code, message, needs, challenge, head));
        }
        if let Route::UploadStart(_) = route {
            let pairs: Vec<(String, String)> =
                form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
            if pairs.iter().any(|(k, _)| k == "mount") {
                let from = pairs
                    .iter()
                    .find(|(k, _)| k == "from")
                    .map(|(_, v)| v.as_str())
                    .filter(|f| !f.is_empty());
                // A mount without `from` looks in every repository: only when everybody
                // may pull everything does that reveal nothing.
                let readable = match from {
                    Some(f) => auth.allows(&caller, f, Action::Pull),
                    None => auth.config.anonymous_pull,
                };
                if !readable {
                    *req.uri_mut() = without_mount(req.uri());
                }
            }
        }
        Ok(req)
    }

    /// `GET /token` (Basic credentials or none) and `POST /token` (OAuth2 password
    /// grant, as podman and containerd send): a signed token for the scopes asked, cut
    /// down to what the grants allow.
    pub(crate) async fn token_endpoint(&self, req: Request<Incoming>) -> Response<ResponseBody> {
        let head = req.method() == Method::HEAD;
        let Some(auth) = self.auth.clone().filter(|a| a.signer.is_some()) else {
            return error_response(
                &ApiError::new(
                    StatusCode::NOT_FOUND,
                    Code::Unsupported,
                    format!("{TOKEN_PATH} is not an endpoint of this registry"),
                ),
                head,
            );
        };
        let bad = |status, code, message: String| {
            error_response(&ApiError::new(status, code, message), head)
        };
        let (params, credentials) = match *req.method() {
            Method::GET => {
                let params: Vec<(String, String)> =
                    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                        .into_owned()
                        .collect();
                let credentials = match req.headers().get(header::AUTHORIZATION) {
                    None => None,
                    Some(v) => {
                        let parsed = v.to_str().ok().and_then(|v| {
                            let (scheme, rest) = v.trim().split_once(' ')?;
                            scheme
                                .eq_ignore_ascii_case("basic")
                                .then(|| super::basic_credentials(rest.trim()))?
                        });
                        match parsed {
                            Some(c) => Some(c),
                            None => {
                                return bad(
                                    StatusCode::UNAUTHORIZED,
                                    Code::Unauthorized,
                                    "the token endpoint takes Basic credentials".into(),
                                );
                            }
                        }
                    }
                };
                (params, credentials)
            }
            Method::POST => {
                let body = Limited::new(req.into_body(), MAX_FORM);
                let bytes = match tokio::time::timeout(FORM_TIMEOUT, body.collect()).await {
                    Ok(Ok(b)) => b.to_bytes(),
                    _ => {
                        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
                    }
                };
                let params: Vec<(String, String)> =
                    form_urlencoded::parse(&bytes).into_owned().collect();
                let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                match get("grant_type").as_deref() {
                    Some("password") => {}
                    Some(_) => {
                        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
                    }
                    None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
                }
                let (Some(u), Some(p)) = (get("username"), get("password")) else {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
                };
                (params, Some((u, p)))
            }
            _ => {
                return bad(
                    StatusCode::METHOD_NOT_ALLOWED,
                    Code::Unsupported,
                    format!("{} is not allowed on {TOKEN_PATH}", req.method()),
                );
            }
        };
        let service = &auth.config.token.service;
        if let Some((_, s)) = params.iter().find(|(k, _)| k == "service")
            && s != service
        {
            return bad(
                StatusCode::BAD_REQUEST,
                Code::Unsupported,
                format!("this registry's service is {service:?}, not {s:?}"),
            );
        }
        let user = match credentials {
            None => None,
            Some((u, p)) => {
                if !auth.check_password(u.clone(), p).await {
                    let mut r = bad(
                        StatusCode::UNAUTHORIZED,
                        Code::Unauthorized,
                        "invalid username or password".into(),
                    );
                    r.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"plinth\""),
                    );
                    return r;
                }
                Some(u)
            }
        };
        let scopes = parse_scopes(
            params
                .iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.as_str()),
        );
        let access: Vec<AccessEntry> = scopes
            .into_iter()
            .filter(|s| valid_name(&s.name))
            .filter_map(|s| {
                let actions: Vec<String> = s
                    .actions
                    .iter()
                    .filter(|a| auth.granted(user.as_deref(), &s.name, **a))
                    .map(|a| a.as_str().to_string())
                    .collect();
                (!actions.is_empty()).then(|| AccessEntry {
                    kind: "repository".into(),
                    name: s.name,
                    actions,
                })
            })
            .collect();
        let now = super::token::now();
        let ttl = auth.config.token.ttl_secs.min(i64::MAX as u64 / 2) as i64;
        let claims = Claims {
            iss: auth.config.token.issuer.clone(),
            sub: user.clone().unwrap_or_default(),
            aud: service.clone(),
            exp: now.saturating_add(ttl),
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            access,
        };
        let signer = auth.signer.as_ref().expect("checked above");
        let token = signer.sign(&claims);
        tracing::debug!(
            user = user.as_deref().unwrap_or("-"),
            grants = claims.access.len(),
            "token issued"
        );
        let body = json!({
            "token": token,
            "access_token": token,
            "expires_in": ttl,
            "issued_at": plinth_core::date::format_rfc3339(now),
        })
        .to_string();
        json_answer(StatusCode::OK, body)
    }
}

fn json_answer(status: StatusCode, body: String) -> Response<ResponseBody> {
    let mut r = Response::new(
        http_body_util::Full::new(bytes::Bytes::from(body.clone()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&body.len().to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    r
}

/// An OAuth2 error answer (RFC 6749, 5.2), for `POST /token`.
fn oauth_error(status: StatusCode, error: &str) -> Response<ResponseBody> {
    json_answer(status, json!({ "error": error }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_mount_keeps_the_other_parameters() {
        let u: Uri = "/v2/a/blobs/uploads/?mount=sha256:1&from=b&digest-algorithm=sha256"
            .parse()
            .unwrap();
        assert_eq!(
            without_mount(&u).to_string(),
            "/v2/a/blobs/uploads/?digest-algorithm=sha256"
        );
        let u: Uri = "/v2/a/blobs/uploads/?mount=sha256:1&from=b"
            .parse()
            .unwrap();
        assert_eq!(without_mount(&u).to_string(), "/v2/a/blobs/uploads/");
    }

    #[test]
    fn methods_and_routes_need_their_actions() {
        let m = Route::Manifest("a".into(), "latest".into());
        assert_eq!(needed(&m, &Method::GET), Some(("a", Action::Pull)));
        assert_eq!(needed(&m, &Method::HEAD), Some(("a", Action::Pull)));
        assert_eq!(needed(&m, &Method::PUT), Some(("a", Action::Push)));
        assert_eq!(needed(&m, &Method::DELETE), Some(("a", Action::Delete)));
        let u = Route::Upload("a".into(), "id".into());
        assert_eq!(needed(&u, &Method::GET), Some(("a", Action::Push)));
        assert_eq!(needed(&u, &Method::PATCH), Some(("a", Action::Push)));
        assert_eq!(needed(&Route::Catalog, &Method::GET), None);
        assert_eq!(needed(&Route::Base, &Method::GET), None);
    }
}
