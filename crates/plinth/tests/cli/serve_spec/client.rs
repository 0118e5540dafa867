//! A plain HTTP client for the spec tests: every request exactly as written (no auth, no
//! redirects, statuses are answers rather than errors), and helpers that build blobs,
//! images and indexes and push them the simplest way.

use std::time::Duration;

use serde_json::{Value, json};
use sha2::Digest as _;

use crate::support::serve::Serve;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const ARTIFACT_1: &str = "application/vnd.plinth.test.one";
pub const ARTIFACT_2: &str = "application/vnd.plinth.test.two";

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// `sha512:<hex>` of `bytes`.
pub fn sha512(bytes: &[u8]) -> String {
    format!("sha512:{}", hex::encode(sha2::Sha512::digest(bytes)))
}

/// Bytes that differ from test to test (and call to call), `n` of them.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{:?}-{}-{}",
        std::time::SystemTime::now(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut out = Vec::with_capacity(n + 64);
    let mut block = sha2::Sha256::digest(seed.as_bytes()).to_vec();
    while out.len() < n {
        out.extend_from_slice(&block);
        block = sha2::Sha256::digest(&block).to_vec();
    }
    out.truncate(n);
    out
}

/// An answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// A header's value (names compare without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "answer {} is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The first error code of a spec error body (and checks the body's shape).
    pub fn error_code(&self) -> String {
        let v = self.json();
        let errors = v["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("error body without errors: {v}"));
        assert!(!errors.is_empty(), "empty errors list: {v}");
        for e in errors {
            assert!(e["code"].is_string(), "error without code: {v}");
            assert!(e["message"].is_string(), "error without message: {v}");
        }
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "error bodies are JSON"
        );
        errors[0]["code"].as_str().unwrap().to_string()
    }

    /// Panics unless the status is `status`, showing the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Resp {
        assert_eq!(
            self.status,
            status,
            "unexpected answer: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// The status and the spec error code together.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        self.expect(status);
        assert_eq!(self.error_code(), code);
    }

    pub fn location(&self) -> String {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location in {:?}", self.headers))
            .to_string()
    }
}

/// The spec API of one server.
pub struct Api {
    pub base: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(serve: &Serve) -> Api {
        Api::at(&serve.url())
    }

    pub fn at(base: &str) -> Api {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Api {
            base: base.to_string(),
            agent,
        }
    }

    /// Sends `method path` (a path with its query, or a `Location` the server gave) with
    /// `headers` and `body`.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        let url = if path.starts_with("http://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut b = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let result = match body {
            Some(body) => self.agent.run(b.body(body.to_vec()).unwrap()),
            None => self.agent.run(b.body(ureq::SendBody::none()).unwrap()),
        };
        let mut r = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = r
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .unwrap_or_default();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], None)
    }

    pub fn head(&self, path: &str) -> Resp {
        self.send("HEAD", path, &[], None)
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, &[], None)
    }

    /// POST `/v2/<repo>/blobs/uploads/`: the new session's `Location`.
    pub fn start_upload(&self, repo: &str) -> String {
        self.send(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[("content-length", "0")],
            None,
        )
        .expect(202)
        .location()
    }

    /// `location` with `digest=` added to its query.
    pub fn with_digest(location: &str, digest: &str) -> String {
        let sep = if location.contains('?') { '&' } else { '?' };
        format!("{location}{sep}digest={digest}")
    }

    /// Pushes a blob by POST then PUT; its digest (sha256).
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let d = sha256(bytes);
        self.push_blob_as(repo, bytes, &d);
        d
    }

    /// Pushes a blob under digest `d` (any algorithm), POST then PUT.
    pub fn push_blob_as(&self, repo: &str, bytes: &[u8], d: &str) {
        let loc = self.start_upload(repo);
        self.send(
            "PUT",
            &Api::with_digest(&loc, d),
            &[("content-type", "application/octet-stream")],
            Some(bytes),
        )
        .expect(201);
    }

    /// PUTs a manifest under `reference` with `media_type`.
    pub fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, body: &[u8]) -> Resp {
        self.send(
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("content-type", media_type)],
            Some(body),
        )
    }
}

/// A descriptor of `bytes`.
pub fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({ "mediaType": media_type, "digest": sha256(bytes), "size": bytes.len() })
}

/// An image pushed to a repository: its manifest and what it names.
pub struct Image {
    pub manifest: Vec<u8>,
    pub digest: String,
    pub media_type: String,
    pub blobs: Vec<(String, Vec<u8>)>,
}

/// Options of an image manifest.
#[derive(Default)]
pub struct ImageSpec<'a> {
    pub docker: bool,
    pub layers: usize,
    pub artifact_type: Option<&'a str>,
    pub config_media_type: Option<&'a str>,
    pub config_bytes: Option<&'a [u8]>,
    pub layer_media_type: Option<&'a str>,
    pub subject: Option<Value>,
    pub annotations: Option<Value>,
}

/// Pushes an image's blobs to `repo` and returns the (not yet pushed) manifest.
pub fn image(api: &Api, repo: &str, spec: ImageSpec) -> Image {
    let mut blobs = Vec::new();
    let config_mt = spec.config_media_type.unwrap_or(if spec.docker {
        DOCKER_CONFIG
    } else {
        OCI_CONFIG
    });
    let config = match spec.config_bytes {
        Some(b) => b.to_vec(),
        None => {
            let salt = hex::encode(random_bytes(8));
            format!(
                "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[]}},\"config\":{{\"Labels\":{{\"salt\":\"{salt}\"}}}}}}"
            )
            .into_bytes()
        }
    };
    api.push_blob(repo, &config);
    blobs.push((sha256(&config), config.clone()));
    let layer_mt =
        spec.layer_media_type
            .unwrap_or(if spec.docker { DOCKER_LAYER } else { OCI_LAYER });
    let mut layers = Vec::new();
    for _ in 0..spec.layers {
        let bytes = random_bytes(700);
        api.push_blob(repo, &bytes);
        layers.push(descriptor(layer_mt, &bytes));
        blobs.push((sha256(&bytes), bytes));
    }
    let media_type = if spec.docker {
        DOCKER_MANIFEST
    } else {
        OCI_MANIFEST
    };
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(config_mt, &config),
        "layers": layers,
    });
    if let Some(at) = spec.artifact_type {
        m["artifactType"] = json!(at);
    }
    if let Some(s) = spec.subject {
        m["subject"] = s;
    }
    if let Some(a) = spec.annotations {
        m["annotations"] = a;
    }
    // Pretty-printed on purpose: the registry must keep these exact bytes.
    let manifest = serde_json::to_vec_pretty(&m).unwrap();
    Image {
        digest: sha256(&manifest),
        manifest,
        media_type: media_type.to_string(),
        blobs,
    }
}

/// Pushes a small OCI image (one layer) under `reference`; the image.
pub fn push_image(api: &Api, repo: &str, reference: &str) -> Image {
    let img = image(
        api,
        repo,
        ImageSpec {
            layers: 1,
            ..Default::default()
        },
    );
    api.put_manifest(repo, reference, &img.media_type, &img.manifest)
        .expect(201);
    img
}

/// An index of `manifests` (each `(media type, bytes, platform)`).
pub fn index(
    media_type: &str,
    manifests: &[(&str, &[u8], Option<Value>)],
    extra: Value,
) -> Vec<u8> {
    let list: Vec<Value> = manifests
        .iter()
        .map(|(mt, bytes, platform)| {
            let mut d = descriptor(mt, bytes);
            if let Some(p) = platform {
                d["platform"] = p.clone();
            }
            d
        })
        .collect();
    let mut v = json!({ "schemaVersion": 2, "mediaType": media_type, "manifests": list });
    if let Value::Object(extra) = extra {
        for (k, x) in extra {
            v[k] = x;
        }
    }
    serde_json::to_vec_pretty(&v).unwrap()
}

pub fn platform(arch: &str) -> Option<Value> {
    Some(json!({ "os": "linux", "architecture": arch }))
}

/// A connection that speaks bytes, for what no polite client sends.
pub struct Raw {
    pub stream: std::net::TcpStream,
}

impl Raw {
    pub fn connect(host: &str) -> Raw {
        let stream = std::net::TcpStream::connect(host).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Raw { stream }
    }

    /// Writes bytes; whether the server still took them.
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        use std::io::Write;
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .is_ok()
    }

    /// Reads until the server closes (or 60 s pass): the status of the answer, if any.
    pub fn read_answer(&mut self) -> (Option<u16>, String) {
        use std::io::Read;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("the server neither answered nor closed the connection: {e}"),
            }
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok());
        (status, text)
    }

    /// Sends a whole request with `Connection: close` and reads the answer.
    pub fn request(host: &str, head: &str, body: &[u8]) -> (Option<u16>, String) {
        let mut raw = Raw::connect(host);
        let req = format!("{head}\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        raw.write(req.as_bytes());
        raw.write(body);
        raw.read_answer()
    }
}

/// `plinth serve` with a config file whose `[limits]` table is `limits` (TOML lines),
/// on `storage`.
pub fn serve_with_limits(storage: &std::path::Path, limits: &str) -> (Serve, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("registry.toml");
    fs_err::write(
        &config,
        format!(
            "[storage]\ntype = \"fs\"\npath = \"{}\"\n[limits]\n{limits}\n",
            storage.display()
        ),
    )
    .unwrap();
    let serve = Serve::start_on(storage, &["--config", config.to_str().unwrap()]);
    (serve, tmp)
}

/// Waits (up to 60 s) for `cond`; whether it came true. Used for what the server does
/// on its own schedule (expiry), never to measure time.
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The entries of a directory of the store (empty when it does not exist).
pub fn entries(dir: &std::path::Path) -> Vec<String> {
    match fs_err::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}
