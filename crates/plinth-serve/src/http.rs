//! The HTTP side: routes of the distribution spec onto [`Registry`] operations, request
//! bodies streamed with an idle timeout, and the spec's headers on every answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, BodyStream, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::digest::Algorithm;
use crate::error::{ApiError, Code};
use crate::names::valid_name;
use crate::registry::{Body, Reference, Registry, parse_digest, read_capped};
use crate::store::Store;

/// A response body: bytes in memory or a stream from storage.
pub type ResponseBody = UnsyncBoxBody<Bytes, io::Error>;

/// What a request asks for, once its path is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`.
    Base,
    /// `/v2/_catalog`.
    Catalog,
    /// `/v2/<name>/tags/list`.
    Tags(String),
    /// `/v2/<name>/manifests/<reference>`.
    Manifest(String, String),
    /// `/v2/<name>/blobs/<digest>`.
    Blob(String, String),
    /// `/v2/<name>/blobs/uploads/`.
    UploadStart(String),
    /// `/v2/<name>/blobs/uploads/<id>`.
    Upload(String, String),
    /// `/v2/<name>/referrers/<digest>`.
    Referrers(String, String),
}

impl Route {
    /// Parses a request path; `None` for paths outside the API.
    pub fn parse(path: &str) -> Option<Route> {
        let rest = path.strip_prefix("/v2")?;
        if rest.is_empty() || rest == "/" {
            return Some(Route::Base);
        }
        let rest = rest.strip_prefix('/')?;
        if rest == "_catalog" {
            return Some(Route::Catalog);
        }
        let (head, last) = rest.rsplit_once('/')?;
        if last.is_empty() {
            // Only `/v2/<name>/blobs/uploads/` ends with a slash.
            let name = head.strip_suffix("/blobs/uploads")?;
            return Some(Route::UploadStart(name.to_string()));
        }
        let (name, kind) = head.rsplit_once('/')?;
        match kind {
            "tags" if last == "list" => Some(Route::Tags(name.to_string())),
            "manifests" => Some(Route::Manifest(name.to_string(), last.to_string())),
            "referrers" => Some(Route::Referrers(name.to_string(), last.to_string())),
            "blobs" if last == "uploads" => Some(Route::UploadStart(name.to_string())),
            "blobs" => Some(Route::Blob(name.to_string(), last.to_string())),
            "uploads" => {
                let name = name.strip_suffix("/blobs")?;
                Some(Route::Upload(name.to_string(), last.to_string()))
            }
            _ => None,
        }
    }

    /// The repository the route is about.
    pub fn repository(&self) -> Option<&str> {
        match self {
            Route::Base | Route::Catalog => None,
            Route::Tags(n)
            | Route::Manifest(n, _)
            | Route::Blob(n, _)
            | Route::UploadStart(n)
            | Route::Upload(n, _)
            | Route::Referrers(n, _) => Some(n),
        }
    }

    /// A short name for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Route::Base => "base",
            Route::Catalog => "catalog",
            Route::Tags(..) => "tags",
            Route::Manifest(..) => "manifest",
            Route::Blob(..) => "blob",
            Route::UploadStart(..) | Route::Upload(..) => "upload",
            Route::Referrers(..) => "referrers",
        }
    }
}

/// The HTTP front of a registry.
#[derive(Debug)]
pub struct Api<S> {
    registry: Arc<Registry<S>>,
    /// Access control (`crate::auth`); `None`: everything is allowed.
    pub(crate) auth: Option<Arc<crate::auth::Auth>>,
}

impl<S> Clone for Api<S> {
    fn clone(&self) -> Self {
        Api {
            registry: self.registry.clone(),
            auth: self.auth.clone(),
        }
    }
}

fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

fn response(status: StatusCode) -> Response<ResponseBody> {
    let mut r = Response::new(empty());
    *r.status_mut() = status;
    r
}

/// An answer with no body that says so (`Content-Length: 0`).
fn no_body(status: StatusCode) -> Response<ResponseBody> {
    let mut r = response(status);
    set(&mut r, "content-length", "0");
    r
}

fn set(r: &mut Response<ResponseBody>, name: &'static str, value: impl AsRef<str>) {
    if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
        r.headers_mut().insert(name, v);
    }
}

/// The error as an HTTP answer.
pub fn error_response(e: &ApiError, head: bool) -> Response<ResponseBody> {
    let body = e.body();
    let mut r = response(e.status);
    set(&mut r, "content-type", "application/json");
    set(&mut r, "content-length", body.len().to_string());
    if !head {
        *r.body_mut() = full(body);
    }
    r
}

fn json_response(v: &Value, content_type: &str) -> Response<ResponseBody> {
    let body = v.to_string();
    let mut r = response(StatusCode::OK);
    set(&mut r, "content-type", content_type);
    set(&mut r, "content-length", body.len().to_string());
    *r.body_mut() = full(body);
    r
}

/// A request body as a stream of bytes, each read bounded by `idle`.
fn body_stream(
    body: Incoming,
    idle: Duration,
    counter: prometheus_client::metrics::counter::Counter,
) -> Body {
    let frames = BodyStream::new(body);
    let stream = futures_util::stream::unfold(Some(frames), move |state| async move {
        let mut frames = state?;
        loop {
            match tokio::time::timeout(idle, frames.next()).await {
                Err(_) => {
                    return Some((
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("no data for {} s", idle.as_secs()),
                        )),
                        None,
                    ));
                }
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some((Err(io::Error::other(e)), None)),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        return Some((Ok(data), Some(frames)));
                    }
                }
            }
        }
    });
    let stream = stream.inspect(move |r| {
        if let Ok(data) = r {
            counter.inc_by(data.len() as u64);
        }
    });
    Box::pin(stream)
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn query_one<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn header_str(h: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// `Content-Range` of a chunk: `<start>-<end>`, inclusive (some clients write `bytes `).
fn content_range(h: &HeaderMap) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(v) = header_str(h, header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let v = v.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v).trim();
    let v = v.split('/').next().unwrap_or(v);
    let parsed = v
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    match parsed {
        Some((a, b)) if a <= b => Ok(Some((a, b))),
        _ => Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            Code::BlobUploadInvalid,
            format!("Content-Range {v:?} is not <start>-<end>"),
        )),
    }
}

/// `Range: bytes=a-b` of a blob GET, against the blob's size. `Ok(None)`: the whole blob.
fn blob_range(h: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = header_str(h, header::RANGE) else {
        return Ok(None);
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None); // another unit: ignore, as RFC 9110 allows
    };
    if spec.contains(',') {
        return Ok(None); // several ranges: answer with the whole blob
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size.saturating_sub(1))
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1))
        };
        (start, end)
    };
    if start >= size || end < start {
        return Err(());
    }
    Ok(Some((start, end)))
}

fn upload_headers(r: &mut Response<ResponseBody>, name: &str, id: &str, size: u64) {
    set(r, "location", format!("/v2/{name}/blobs/uploads/{id}"));
    set(r, "range", format!("0-{}", size.saturating_sub(1)));
    set(r, "docker-upload-uuid", id);
    set(r, "content-length", "0");
}

fn blob_created(name: &str, digest: &str) -> Response<ResponseBody> {
    let mut r = no_body(StatusCode::CREATED);
    set(&mut r, "location", format!("/v2/{name}/blobs/{digest}"));
    set(&mut r, "docker-content-digest", digest);
    r
}

/// Whether a request carries a body (a declared length above zero, or chunked).
fn has_body(h: &HeaderMap) -> bool {
    match header_str(h, header::CONTENT_LENGTH) {
        Some(n) => n.trim() != "0",
        None => h.contains_key(header::TRANSFER_ENCODING),
    }
}

/// Paginates sorted `items` with `n` and `last`, as tag lists and the catalog do; the
/// page and the `Link` to the next one.
fn paginate(
    items: Vec<String>,
    pairs: &[(String, String)],
    path: &str,
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let last = query_one(pairs, "last");
    let mut items: Vec<String> = match last {
        Some(l) => items.into_iter().filter(|t| t.as_str() > l).collect(),
        None => items,
    };
    let n = match query_one(pairs, "n") {
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::Unsupported,
                format!("n={n:?} is not a count"),
            )
        })?),
        None => None,
    };
    let mut link = None;
    if let Some(n) = n
        && items.len() > n
    {
        items.truncate(n);
        if let Some(l) = items.last() {
            let q: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("n", &n.to_string())
                .append_pair("last", l)
                .finish();
            link = Some(format!("<{path}?{q}>; rel=\"next\""));
        }
    }
    Ok((items, link))
}

impl<S: Store> Api<S> {
    /// The API over a registry.
    pub fn new(registry: Arc<Registry<S>>) -> Api<S> {
        Api {
            registry,
            auth: None,
        }
    }

    /// The API with access control (`None`: everything is allowed).
    pub fn with_auth(mut self, auth: Option<Arc<crate::auth::Auth>>) -> Api<S> {
        self.auth = auth;
        self
    }

    /// The registry.
    pub fn registry(&self) -> &Arc<Registry<S>> {
        &self.registry
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request<Incoming>) -> Response<ResponseBody> {
        let start = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let head = method == Method::HEAD;
        let route = Route::parse(&path);
        let metrics = self.registry.metrics();
        let _upload = (matches!(route, Some(Route::UploadStart(_) | Route::Upload(..)))
            && matches!(method, Method::POST | Method::PATCH | Method::PUT))
        .then(|| metrics.upload_started());
        let mut resp = match &route {
            None if path == crate::auth::TOKEN_PATH => self.token_endpoint(req).await,
            None if path == "/metrics"
                && self.registry.config().metrics
                && matches!(method, Method::GET | Method::HEAD) =>
            {
                let text = metrics.encode();
                let mut r = response(StatusCode::OK);
                set(&mut r, "content-type", crate::metrics::CONTENT_TYPE);
                set(&mut r, "content-length", text.len().to_string());
                if !head {
                    *r.body_mut() = full(text);
                }
                r
            }
            None => error_response(
                &ApiError::new(
                    StatusCode::NOT_FOUND,
                    Code::Unsupported,
                    format!("{path} is not an endpoint of this registry"),
                ),
                head,
            ),
            Some(route) => match self.dispatch(route, req).await {
                Ok(r) => r,
                Err(e) => {
                    if e.code == Code::Internal {
                        metrics.storage_error();
                        tracing::error!(%method, %path, error = %e.message, "storage failure");
                    }
                    error_response(&e, head)
                }
            },
        };
        set(&mut resp, "docker-distribution-api-version", "registry/2.0");
        tracing::info!(
            %method,
            %path,
            route = route.as_ref().map_or("none", Route::label),
            status = resp.status().as_u16(),
            length = header_str(resp.headers(), header::CONTENT_LENGTH).unwrap_or("-"),
            ms = start.elapsed().as_millis() as u64,
            "request"
        );
        let method_label = match method {
            Method::GET
            | Method::HEAD
            | Method::POST
            | Method::PUT
            | Method::PATCH
            | Method::DELETE => method.as_str(),
            _ => "other",
        };
        let route_label = match &route {
            Some(r) => r.label(),
            None if path == "/metrics" => "metrics",
            None if path == crate::auth::TOKEN_PATH => "token",
            None => "none",
        };
        metrics.request(route_label, method_label, resp.status().as_u16());
        resp.map(|b| metrics.counted(b).boxed_unsync())
    }

    /// Runs an upload step as a task of its own, so that it ends in a commit or an abort
    /// even when the client goes away and hyper drops the request.
    async fn detached<T, F, Fut>(&self, name: &str, id: &str, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Registry<S>>, String, String) -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        let task = tokio::spawn(f(self.registry.clone(), name.to_string(), id.to_string()));
        task.await.map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Internal,
                format!("upload task failed: {e}"),
            )
        })?
    }

    async fn dispatch(
        &self,
        route: &Route,
        req: Request<Incoming>,
    ) -> Result<Response<ResponseBody>, ApiError> {
        let req = match self.admit(route, req).await {
            Ok(req) => req,
            Err(refused) => return Ok(refused),
        };
        if let Some(name) = route.repository()
            && !valid_name(name)
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::NameInvalid,
                format!(
                    "invalid repository name {:?}",
                    name.chars().take(300).collect::<String>()
                ),
            ));
        }
        let (parts, body) = req.into_parts();
        let method = parts.method.clone();
        let pairs = query_pairs(parts.uri.query());
        let limits = &self.registry.config().limits;
        let idle = Duration::from_secs(limits.idle_timeout_secs.max(1));
        let reg = &self.registry;
        // Request bodies count towards the metrics' bytes in.
        let body_stream = |body, idle| body_stream(body, idle, reg.metrics().bytes_in());
        let head = method == Method::HEAD;
        let not_allowed = || {
            Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::Unsupported,
                format!("{method} is not allowed here"),
            ))
        };
        let deletes_disabled = || {
            Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::Unsupported,
                "deletes are disabled on this registry",
            ))
        };
        match route {
            Route::Base => match method {
                Method::GET | Method::HEAD => {
                    let mut r = json_response(&json!({}), "application/json");
                    if head {
                        *r.body_mut() = empty();
                    }
                    Ok(r)
                }
                _ => not_allowed(),
            },
            Route::Catalog => match method {
                Method::GET => {
                    let (repos, link) = paginate(
                        crate::auth::visible(&parts.extensions, reg.catalog().await?),
                        &pairs,
                        "/v2/_catalog",
                    )?;
                    let mut r =
                        json_response(&json!({ "repositories": repos }), "application/json");
                    if let Some(l) = link {
                        set(&mut r, "link", l);
                    }
                    Ok(r)
                }
                _ => not_allowed(),
            },
            Route::Tags(name) => match method {
                Method::GET => {
                    let tags = reg.tags(name).await?;
                    let (tags, link) = paginate(tags, &pairs, &format!("/v2/{name}/tags/list"))?;
                    let mut r =
                        json_response(&json!({ "name": name, "tags": tags }), "application/json");
                    if let Some(l) = link {
                        set(&mut r, "link", l);
                    }
                    Ok(r)
                }
                _ => not_allowed(),
            },
            Route::Referrers(name, digest) => match method {
                Method::GET => {
                    let subject = parse_digest(digest)?;
                    let filter = query_one(&pairs, "artifactType");
                    let list = reg.referrers(name, &subject, filter).await?;
                    let index = json!({
                        "schemaVersion": 2,
                        "mediaType": crate::registry::OCI_INDEX,
                        "manifests": list,
                    });
                    let mut r = json_response(&index, crate::registry::OCI_INDEX);
                    if filter.is_some() {
                        set(&mut r, "oci-filters-applied", "artifactType");
                    }
                    Ok(r)
                }
                _ => not_allowed(),
            },
            Route::Manifest(name, reference) => {
                let reference = Reference::parse(reference)?;
                match method {
                    Method::GET | Method::HEAD => {
                        let m = reg.manifest_get(name, &reference).await?;
                        let mut r = response(StatusCode::OK);
                        set(&mut r, "content-type", &m.media_type);
                        set(&mut r, "docker-content-digest", m.digest.to_string());
                        set(&mut r, "etag", format!("\"{}\"", m.digest));
                        set(&mut r, "content-length", m.bytes.len().to_string());
                        if !head {
                            *r.body_mut() = full(m.bytes);
                        }
                        Ok(r)
                    }
                    Method::PUT => {
                        let max = limits.manifest_bytes;
                        let declared = header_str(&parts.headers, header::CONTENT_LENGTH)
                            .and_then(|n| n.trim().parse::<u64>().ok());
                        let too_big = || {
                            ApiError::new(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                Code::ManifestInvalid,
                                format!("manifests are limited to {max} bytes"),
                            )
                        };
                        if declared.is_some_and(|n| n > max) {
                            return Err(too_big());
                        }
                        let bytes = read_capped(body_stream(body, idle), max)
                            .await
                            .map_err(|e| {
                                ApiError::manifest_invalid(format!("reading the manifest: {e}"))
                            })?
                            .ok_or_else(too_big)?;
                        let tags: Vec<String> = pairs
                            .iter()
                            .filter(|(k, _)| k == "tag")
                            .map(|(_, v)| v.clone())
                            .collect();
                        let pushed = reg
                            .manifest_put(
                                name,
                                &reference,
                                header_str(&parts.headers, header::CONTENT_TYPE),
                                bytes,
                                &tags,
                            )
                            .await?;
                        let mut r = no_body(StatusCode::CREATED);
                        set(
                            &mut r,
                            "location",
                            format!("/v2/{name}/manifests/{}", pushed.digest),
                        );
                        set(&mut r, "docker-content-digest", pushed.digest.to_string());
                        if let Some(s) = &pushed.subject {
                            set(&mut r, "oci-subject", s.to_string());
                        }
                        if !tags.is_empty() {
                            set(&mut r, "oci-tag", pushed.tags.join(", "));
                        }
                        Ok(r)
                    }
                    Method::DELETE => {
                        if !reg.config().delete {
                            return deletes_disabled();
                        }
                        reg.manifest_delete(name, &reference).await?;
                        Ok(no_body(StatusCode::ACCEPTED))
                    }
                    _ => not_allowed(),
                }
            }
            Route::Blob(name, digest) => {
                let d = parse_digest(digest)?;
                match method {
                    Method::GET | Method::HEAD => {
                        let meta = reg.blob_meta(name, &d).await?;
                        let range = blob_range(&parts.headers, meta.size);
                        let Ok(range) = range else {
                            let mut r = error_response(
                                &ApiError::new(
                                    StatusCode::RANGE_NOT_SATISFIABLE,
                                    Code::BlobUnknown,
                                    format!("the range is outside blob {d} of {} bytes", meta.size),
                                ),
                                head,
                            );
                            set(&mut r, "content-range", format!("bytes */{}", meta.size));
                            return Ok(r);
                        };
                        let (status, len) = match range {
                            Some((a, b)) => (StatusCode::PARTIAL_CONTENT, b - a + 1),
                            None => (StatusCode::OK, meta.size),
                        };
                        let mut r = response(status);
                        set(&mut r, "content-type", "application/octet-stream");
                        set(&mut r, "docker-content-digest", d.to_string());
                        set(&mut r, "etag", format!("\"{d}\""));
                        set(&mut r, "accept-ranges", "bytes");
                        set(&mut r, "content-length", len.to_string());
                        if let Some((a, b)) = range {
                            set(
                                &mut r,
                                "content-range",
                                format!("bytes {a}-{b}/{}", meta.size),
                            );
                        }
                        if !head {
                            let span = range.map_or(0..meta.size, |(a, b)| a..b + 1);
                            let sendfile = parts.extensions.get::<crate::sendfile::Slot>();
                            let file = match sendfile {
                                Some(_) => reg.blob_file(name, &d).await?,
                                None => None,
                            };
                            let stream = match (sendfile, file) {
                                (Some(slot), Some(file)) => slot.body(file, span),
                                _ => reg.blob_read(name, &d, Some(span)).await?.1,
                            };
                            let frames = stream.map_ok(Frame::data);
                            *r.body_mut() = BodyExt::boxed_unsync(StreamBody::new(frames));
                        }
                        Ok(r)
                    }
                    Method::DELETE => {
                        if !reg.config().delete {
                            return deletes_disabled();
                        }
                        reg.blob_delete(name, &d).await?;
                        Ok(no_body(StatusCode::ACCEPTED))
                    }
                    _ => not_allowed(),
                }
            }
            Route::UploadStart(name) => {
                if method != Method::POST {
                    return not_allowed();
                }
                if let Some(mount) = query_one(&pairs, "mount") {
                    let d = parse_digest(mount)?;
                    let from = query_one(&pairs, "from").filter(|f| !f.is_empty());
                    if let Some(f) = from
                        && !valid_name(f)
                    {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            Code::NameInvalid,
                            format!("invalid repository name {f:?} in from"),
                        ));
                    }
                    if reg.mount(name, &d, from).await? {
                        return Ok(blob_created(name, &d.to_string()));
                    }
                }
                let algorithm = match query_one(&pairs, "digest-algorithm") {
                    Some(a) => Algorithm::from_name(a).ok_or_else(|| {
                        ApiError::digest_invalid(format!("unsupported digest algorithm {a:?}"))
                    })?,
                    None => Algorithm::Sha256,
                };
                if let Some(digest) = query_one(&pairs, "digest") {
                    // Monolithic upload in one POST.
                    let d = parse_digest(digest)?;
                    let id = reg.upload_start(name, d.algorithm()).await?;
                    let body = body_stream(body, idle);
                    let digest = d.clone();
                    self.detached(name, &id, move |reg, name, id| async move {
                        let result = reg
                            .upload_finish(&name, &id, &digest, None, Some(body))
                            .await;
                        if result.is_err() {
                            let _ = reg.upload_cancel(&name, &id).await;
                        }
                        result
                    })
                    .await?;
                    return Ok(blob_created(name, &d.to_string()));
                }
                let id = reg.upload_start(name, algorithm).await?;
                let mut r = response(StatusCode::ACCEPTED);
                upload_headers(&mut r, name, &id, 0);
                if limits.chunk_min_bytes > 0 {
                    set(
                        &mut r,
                        "oci-chunk-min-length",
                        limits.chunk_min_bytes.to_string(),
                    );
                }
                Ok(r)
            }
            Route::Upload(name, id) => match method {
                Method::GET => {
                    let size = reg.upload_status(name, id).await?;
                    let mut r = response(StatusCode::NO_CONTENT);
                    upload_headers(&mut r, name, id, size);
                    Ok(r)
                }
                Method::PATCH => {
                    let range = content_range(&parts.headers)?;
                    let body = body_stream(body, idle);
                    let size = self
                        .detached(name, id, move |reg, name, id| async move {
                            reg.upload_chunk(&name, &id, range, body).await
                        })
                        .await?;
                    let mut r = response(StatusCode::ACCEPTED);
                    upload_headers(&mut r, name, id, size);
                    Ok(r)
                }
                Method::PUT => {
                    let digest = query_one(&pairs, "digest").ok_or_else(|| {
                        ApiError::digest_invalid("finishing an upload needs ?digest=")
                    })?;
                    let d = parse_digest(digest)?;
                    let range = content_range(&parts.headers)?;
                    let body = has_body(&parts.headers).then(|| body_stream(body, idle));
                    let digest = d.clone();
                    self.detached(name, id, move |reg, name, id| async move {
                        reg.upload_finish(&name, &id, &digest, range, body).await
                    })
                    .await?;
                    Ok(blob_created(name, &d.to_string()))
                }
                Method::DELETE => {
                    reg.upload_cancel(name, id).await?;
                    Ok(no_body(StatusCode::NO_CONTENT))
                }
                _ => not_allowed(),
            },
        }
    }
}

/// A connection that fails when nothing has moved, in either direction, for `idle`
/// (idle keep-alive connections and stalled peers are closed). A read that waits while
/// the response streams out is not idle: hyper keeps a read pending during a download
/// to notice the peer closing, and a slow but steady download must not be cut.
#[derive(Debug)]
pub struct IdleTimeout<T> {
    inner: T,
    idle: Duration,
    /// When bytes last moved either way.
    progress: tokio::time::Instant,
    read_wait: Option<Pin<Box<tokio::time::Sleep>>>,
    write_wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> IdleTimeout<T> {
    /// Wraps a connection.
    pub fn new(inner: T, idle: Duration) -> IdleTimeout<T> {
        IdleTimeout {
            inner,
            idle,
            progress: tokio::time::Instant::now(),
            read_wait: None,
            write_wait: None,
        }
    }
}

fn check_wait(
    wait: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    deadline: tokio::time::Instant,
    cx: &mut Context<'_>,
) -> Poll<io::Error> {
    let sleep = wait.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if sleep.deadline() != deadline {
        // Bytes moved the other way since this wait began: it starts over.
        sleep.as_mut().reset(deadline);
    }
    match sleep.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "connection idle for too long",
        )),
        Poll::Pending => Poll::Pending,
    }
}

use std::future::Future as _;

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for IdleTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.read_wait = None;
                this.progress = tokio::time::Instant::now();
                Poll::Ready(r)
            }
            Poll::Pending => {
                check_wait(&mut this.read_wait, this.progress + this.idle, cx).map(Err)
            }
        }
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.write_wait = None;
                this.progress = tokio::time::Instant::now();
                Poll::Ready(r)
            }
            Poll::Pending => {
                check_wait(&mut this.write_wait, this.progress + this.idle, cx).map(Err)
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                this.write_wait = None;
                this.progress = tokio::time::Instant::now();
                Poll::Ready(r)
            }
            Poll::Pending => {
                check_wait(&mut this.write_wait, this.progress + this.idle, cx).map(Err)
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_names_with_slashes() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(Route::parse("/v2/"), Some(Route::Base));
        assert_eq!(Route::parse("/v2"), Some(Route::Base));
        assert_eq!(Route::parse("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(
            Route::parse("/v2/a/b/tags/list"),
            Some(Route::Tags("a/b".into()))
        );
        assert_eq!(
            Route::parse("/v2/a/manifests/b/manifests/latest"),
            Some(Route::Manifest("a/manifests/b".into(), "latest".into()))
        );
        assert_eq!(
            Route::parse(&format!("/v2/x/blobs/{d}")),
            Some(Route::Blob("x".into(), d.clone()))
        );
        assert_eq!(
            Route::parse("/v2/x/y/blobs/uploads/"),
            Some(Route::UploadStart("x/y".into()))
        );
        assert_eq!(
            Route::parse("/v2/x/blobs/uploads/abc"),
            Some(Route::Upload("x".into(), "abc".into()))
        );
        assert_eq!(
            Route::parse(&format!("/v2/x/referrers/{d}")),
            Some(Route::Referrers("x".into(), d))
        );
        assert_eq!(Route::parse("/v1/x"), None);
        assert_eq!(Route::parse("/v2/x/other/y"), None);
    }

    #[test]
    fn blob_ranges_follow_rfc_9110() {
        let mut h = HeaderMap::new();
        let mut at = |v: &str| {
            h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
            blob_range(&h, 100)
        };
        assert_eq!(at("bytes=0-9"), Ok(Some((0, 9))));
        assert_eq!(at("bytes=90-"), Ok(Some((90, 99))));
        assert_eq!(at("bytes=-10"), Ok(Some((90, 99))));
        assert_eq!(at("bytes=50-500"), Ok(Some((50, 99))));
        assert_eq!(at("bytes=100-"), Err(()));
        assert_eq!(at("bytes=9-3"), Err(()));
        assert_eq!(at("bytes=x-3"), Err(()));
        assert_eq!(at("items=0-3"), Ok(None));
    }
}
