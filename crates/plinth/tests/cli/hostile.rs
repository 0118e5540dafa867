//! Registries that lie: an in-test HTTP server serves the hello image as a registry
//! would, except for one lie per test (a wrong digest, a wrong size, a truncated or
//! endless body, a redirect loop, 401 forever, errors before success, a huge manifest).
//! Each test checks the exit code, that stderr names the reference, and that nothing
//! was left where the output would go.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;
use crate::support::http::{Conn, Next, Request, Server};
use crate::support::{hello_image, layout_digest};

/// The one thing the server gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lie {
    /// None: a well-behaved registry (the control).
    Honest,
    /// The layer's bytes, one flipped: same size, wrong digest.
    WrongDigest,
    /// The layer's bytes and 1000 more, with a `Content-Length` that says so.
    WrongSize,
    /// A `Content-Length` of the whole layer, half of it sent, then the connection closed.
    Truncated,
    /// The layer as a body without a length that never ends.
    EndlessBlob,
    /// The manifest as a chunked body that never ends.
    EndlessManifest,
    /// A well-formed manifest of 5 MiB (a huge annotation), over any sane cap.
    HugeManifest,
    /// Another manifest's bytes when asked for one by digest.
    ManifestByDigestIsAnother,
    /// The layer's URL redirects to a URL that redirects back, forever.
    RedirectLoop,
    /// Every request is refused with a Basic challenge, credentials or not.
    UnauthorizedForever,
    /// Bearer challenge; the realm hands out tokens the registry never accepts.
    TokenNeverAccepted,
    /// The first two layer requests get 500 with `Retry-After: 1`, then the truth.
    ServerErrorThenOk,
    /// The first two layer requests get 429 with `Retry-After: 1`, then the truth.
    TooManyRequestsThenOk,
    /// Every layer request gets 503.
    ServerErrorForever,
    /// Not a lie: Basic auth on every request, and the largest layer redirected to "blob
    /// storage" on another port (a server of its own), as registries on S3 do.
    RedirectToStorage(u16),
}

struct Image {
    manifest: Vec<u8>,
    manifest_digest: String,
    media_type: String,
    /// The largest layer: the blob the lies are about.
    layer: String,
    blobs: std::collections::HashMap<String, Vec<u8>>,
}

fn image() -> Image {
    let layout = hello_image();
    let manifest_digest = layout_digest(layout);
    let blob = |d: &str| {
        fs_err::read(
            layout
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let manifest = blob(&manifest_digest);
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let mut blobs = std::collections::HashMap::new();
    let config = m["config"]["digest"].as_str().unwrap().to_string();
    blobs.insert(config.clone(), blob(&config));
    // Every layer is served; the lies are told about the largest.
    let mut layer = String::new();
    for l in m["layers"].as_array().unwrap() {
        let d = l["digest"].as_str().unwrap().to_string();
        blobs.insert(d.clone(), blob(&d));
        if layer.is_empty() || blobs[&d].len() > blobs[&layer].len() {
            layer = d;
        }
    }
    Image {
        media_type: m["mediaType"].as_str().unwrap().to_string(),
        manifest,
        manifest_digest,
        layer,
        blobs,
    }
}

const REPO: &str = "hostile/img";

/// The `Authorization` header of the test user (`u:p`), as `RedirectToStorage` requires.
static BASIC: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("u:p")
    )
});

/// Serves `REPO` as a registry, telling `lie`.
fn serve(lie: Lie) -> (Server, Arc<Image>) {
    let img = Arc::new(image());
    let layer_gets = Arc::new(AtomicUsize::new(0));
    let i = img.clone();
    let server = Server::start(move |req, conn| answer(lie, &i, &layer_gets, req, conn));
    (server, img)
}

fn answer(
    lie: Lie,
    img: &Image,
    layer_gets: &AtomicUsize,
    req: &Request,
    conn: &mut Conn,
) -> io::Result<Next> {
    let path = req.path().to_string();
    let head = req.method == "HEAD";
    match lie {
        Lie::UnauthorizedForever => {
            conn.send(
                401,
                &[("WWW-Authenticate", "Basic realm=\"hostile\"")],
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            )?;
            return Ok(Next::Keep);
        }
        Lie::TokenNeverAccepted if path == "/token" => {
            conn.json(
                200,
                &serde_json::json!({"token": "never-accepted", "expires_in": 300}),
            )?;
            return Ok(Next::Keep);
        }
        Lie::RedirectToStorage(_) if req.header("authorization") != Some(BASIC.as_str()) => {
            conn.send(401, &[("WWW-Authenticate", "Basic realm=\"hostile\"")], b"")?;
            return Ok(Next::Keep);
        }
        Lie::TokenNeverAccepted => {
            let host = req.header("host").unwrap_or("127.0.0.1").to_string();
            let challenge = format!(
                "Bearer realm=\"http://{host}/token\",service=\"hostile\",scope=\"repository:{REPO}:pull\""
            );
            conn.send(401, &[("WWW-Authenticate", &challenge)], b"")?;
            return Ok(Next::Keep);
        }
        _ => {}
    }
    if path == "/v2/" || path == "/v2" {
        conn.send(
            200,
            &[("Docker-Distribution-API-Version", "registry/2.0")],
            b"{}",
        )?;
        return Ok(Next::Keep);
    }
    let prefix = format!("/v2/{REPO}/");
    let Some(rest) = path.strip_prefix(&prefix) else {
        return not_found(conn);
    };
    if let Some(reference) = rest.strip_prefix("manifests/") {
        let by_digest = reference.starts_with("sha256:");
        if reference != "v1" && reference != img.manifest_digest {
            return not_found(conn);
        }
        let mut body = img.manifest.clone();
        match lie {
            Lie::HugeManifest => {
                let mut m: serde_json::Value = serde_json::from_slice(&body).unwrap();
                m["annotations"] = serde_json::json!({"padding": "x".repeat(5 << 20)});
                body = serde_json::to_vec(&m).unwrap();
            }
            Lie::ManifestByDigestIsAnother if by_digest => {
                let mut m: serde_json::Value = serde_json::from_slice(&body).unwrap();
                m["annotations"] = serde_json::json!({"swapped": "yes"});
                body = serde_json::to_vec(&m).unwrap();
            }
            Lie::EndlessManifest if !head => {
                conn.head(
                    200,
                    &[
                        ("Content-Type", &img.media_type),
                        ("Transfer-Encoding", "chunked"),
                    ],
                )?;
                let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
                conn.raw(b"1\r\n{\r\n")?;
                while !conn.stopping() {
                    conn.raw(chunk.as_bytes())?;
                }
                return Ok(Next::Close);
            }
            _ => {}
        }
        // A lying registry names the digest the client asked for.
        let digest = if by_digest {
            reference.to_string()
        } else {
            plinth_oci::testing::sha256(&body)
        };
        let headers = [
            ("Content-Type", img.media_type.as_str()),
            ("Docker-Content-Digest", digest.as_str()),
        ];
        return send_or_head(conn, head, &headers, &body);
    }
    if let Some(target) = rest.strip_prefix("loop/") {
        let next = if target == "a" { "b" } else { "a" };
        conn.send(307, &[("Location", &format!("{prefix}loop/{next}"))], b"")?;
        return Ok(Next::Keep);
    }
    let Some(digest) = rest.strip_prefix("blobs/") else {
        return not_found(conn);
    };
    let Some(body) = img.blobs.get(digest) else {
        return not_found(conn);
    };
    let ctype = [("Content-Type", "application/octet-stream")];
    if digest != img.layer || head {
        return send_or_head(conn, head, &ctype, body);
    }
    let n = layer_gets.fetch_add(1, Ordering::SeqCst);
    match lie {
        Lie::WrongDigest => {
            let mut b = body.clone();
            let mid = b.len() / 2;
            b[mid] ^= 1;
            conn.send(200, &ctype, &b)?;
        }
        Lie::WrongSize => {
            let mut b = body.clone();
            b.extend_from_slice(&[0u8; 1000]);
            conn.send(200, &ctype, &b)?;
        }
        Lie::Truncated => {
            let len = body.len().to_string();
            conn.head(200, &[ctype[0], ("Content-Length", &len)])?;
            conn.raw(&body[..body.len() / 2])?;
            return Ok(Next::Close);
        }
        Lie::EndlessBlob => {
            conn.head(200, &[ctype[0], ("Connection", "close")])?;
            conn.raw(body)?;
            let zeros = vec![0u8; 1 << 16];
            while !conn.stopping() {
                conn.raw(&zeros)?;
            }
            return Ok(Next::Close);
        }
        Lie::RedirectLoop => {
            conn.send(307, &[("Location", &format!("{prefix}loop/a"))], b"")?;
        }
        Lie::RedirectToStorage(port) => {
            let to = format!("http://127.0.0.1:{port}/storage/{digest}?signature=s3cret");
            conn.send(307, &[("Location", &to)], b"")?;
        }
        Lie::ServerErrorThenOk | Lie::TooManyRequestsThenOk if n < 2 => {
            let status = if lie == Lie::ServerErrorThenOk {
                500
            } else {
                429
            };
            conn.send(status, &[("Retry-After", "1")], b"")?;
        }
        Lie::ServerErrorForever => {
            conn.send(503, &[], b"")?;
        }
        _ => conn.send(200, &ctype, body)?,
    }
    Ok(Next::Keep)
}

fn send_or_head(
    conn: &mut Conn,
    head: bool,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Next> {
    if head {
        let len = body.len().to_string();
        let mut h = headers.to_vec();
        h.push(("Content-Length", &len));
        conn.head(200, &h)?;
    } else {
        conn.send(200, headers, body)?;
    }
    Ok(Next::Keep)
}

fn not_found(conn: &mut Conn) -> io::Result<Next> {
    conn.send(
        404,
        &[("Content-Type", "application/json")],
        br#"{"errors":[{"code":"NOT_FOUND","message":"not found"}]}"#,
    )?;
    Ok(Next::Keep)
}

/// What a pull from a lying server did.
struct Pulled {
    code: Option<i32>,
    stderr: String,
    reference: String,
    out: PathBuf,
    _tmp: tempfile::TempDir,
}

/// `plinth pull REF -o DIR` (or `-f FORMAT -o FILE`) against `server`, killed if it runs
/// for more than two minutes (a hang is a failure, not a wait).
fn pull(server: &Server, reference_tail: &str, format: Option<&str>) -> Pulled {
    let tmp = tempfile::tempdir().unwrap();
    let reference = format!("{}/{REPO}{reference_tail}", server.host());
    let out = tmp
        .path()
        .join(if format.is_some() { "img.tar" } else { "img" });
    let mut cmd = plinth();
    cmd.arg("pull").arg(&reference).arg("-o").arg(&out);
    if let Some(f) = format {
        cmd.args(["-f", f]);
    }
    // No credentials of the machine's user are offered to a test server.
    cmd.env("DOCKER_CONFIG", tmp.path().join("no-docker-config"))
        .env("REGISTRY_AUTH_FILE", tmp.path().join("no-auth.json"))
        .env("XDG_RUNTIME_DIR", tmp.path().join("no-runtime-dir"));
    let o = run_with_timeout(&mut cmd, Duration::from_secs(120))
        .unwrap_or_else(|| panic!("plinth pull {reference} hung (killed after 120 s)"));
    let stderr = stderr(&o);
    assert!(!stderr.contains("panicked"), "{stderr}");
    Pulled {
        code: o.status.code(),
        stderr,
        reference,
        out,
        _tmp: tmp,
    }
}

impl Pulled {
    /// The pull failed with `code`, said which reference, and left nothing behind.
    fn refused(&self, code: i32, what: &str) {
        assert_eq!(
            self.code,
            Some(code),
            "{what}: pull of {} should fail with {code}:\n{}",
            self.reference,
            self.stderr
        );
        assert!(
            self.stderr.contains(&self.reference),
            "{what}: the error does not name {}:\n{}",
            self.reference,
            self.stderr
        );
        assert!(
            !self.out.exists(),
            "{what}: {} was left",
            self.out.display()
        );
        let dir = self.out.parent().unwrap();
        let left: Vec<_> = fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(left.is_empty(), "{what}: partial output left: {left:?}");
    }

    fn succeeded(&self, img: &Image) {
        assert_eq!(self.code, Some(0), "{}", self.stderr);
        validate_image(&self.out);
        assert_eq!(layout_digest(&self.out), img.manifest_digest);
    }
}

fn refuses(lie: Lie, tail: &str, code: i32) -> (Server, Pulled) {
    let (server, _) = serve(lie);
    let p = pull(&server, tail, None);
    p.refused(code, &format!("{lie:?}"));
    (server, p)
}

/// The control: the same server without a lie is pulled fine, so the failures below are
/// the lies', not the server's.
#[test]
fn an_honest_test_server_is_pulled() {
    let (server, img) = serve(Lie::Honest);
    pull(&server, ":v1", None).succeeded(&img);
    pull(&server, &format!("@{}", img.manifest_digest), None).succeeded(&img);
}

#[test]
fn a_layer_with_the_wrong_digest_is_refused() {
    let (_s, p) = refuses(Lie::WrongDigest, ":v1", 2);
    assert!(p.stderr.contains("digest"), "{}", p.stderr);
}

#[test]
fn a_layer_longer_than_its_descriptor_is_refused() {
    refuses(Lie::WrongSize, ":v1", 2);
}

#[test]
fn a_truncated_layer_is_refused_and_no_archive_is_left() {
    refuses(Lie::Truncated, ":v1", 2);
    let (server, _) = serve(Lie::Truncated);
    pull(&server, ":v1", Some("oci-archive")).refused(2, "truncated, oci-archive");
}

#[test]
fn an_endless_layer_is_cut_at_its_size_and_refused() {
    refuses(Lie::EndlessBlob, ":v1", 2);
}

#[test]
fn an_endless_manifest_is_cut_at_the_cap_and_refused() {
    refuses(Lie::EndlessManifest, ":v1", 2);
}

#[test]
fn a_manifest_over_the_size_cap_is_refused() {
    refuses(Lie::HugeManifest, ":v1", 2);
}

#[test]
fn a_manifest_that_is_not_the_digest_asked_for_is_refused() {
    let (server, img) = serve(Lie::ManifestByDigestIsAnother);
    let p = pull(&server, &format!("@{}", img.manifest_digest), None);
    p.refused(2, "manifest by digest");
    assert!(p.stderr.contains(&img.manifest_digest), "{}", p.stderr);
}

#[test]
fn a_redirect_loop_is_cut_after_10_hops_and_not_retried() {
    let (server, p) = refuses(Lie::RedirectLoop, ":v1", 2);
    let hops = server
        .requests()
        .iter()
        .filter(|r| r.path().contains("/loop/"))
        .count();
    // docs/cli.md: a redirect is followed at most 10 times; a loop is not a transient
    // failure (connection, 429, 5xx), so it is not tried again.
    assert!(hops <= 10, "{hops} redirects followed");
    drop(p);
}

#[test]
fn a_registry_that_always_says_401_is_an_auth_error() {
    let (server, p) = refuses(Lie::UnauthorizedForever, ":v1", 2);
    assert!(
        server.requests().len() < 20,
        "{} requests",
        server.requests().len()
    );
    drop(p);
}

#[test]
fn a_token_the_registry_never_accepts_is_an_auth_error_not_a_loop() {
    let (server, p) = refuses(Lie::TokenNeverAccepted, ":v1", 2);
    let tokens = server
        .requests()
        .iter()
        .filter(|r| r.path() == "/token")
        .count();
    assert!((1..10).contains(&tokens), "{tokens} token requests");
    drop(p);
}

/// 500 and 429 are retried, after the `Retry-After` the server asked for.
#[test]
fn server_errors_and_429_are_retried_after_retry_after() {
    for lie in [Lie::ServerErrorThenOk, Lie::TooManyRequestsThenOk] {
        let (server, img) = serve(lie);
        pull(&server, ":v1", None).succeeded(&img);
        let gets: Vec<_> = server
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path().ends_with(&img.layer))
            .collect();
        assert_eq!(gets.len(), 3, "{lie:?}: two refusals, then the layer");
        // Not a timing measurement: a lower bound the server set (`Retry-After: 1`).
        for w in gets.windows(2) {
            let waited = w[1].at.duration_since(w[0].at);
            assert!(
                waited >= Duration::from_millis(900),
                "{lie:?}: retried after {waited:?}, before the Retry-After of 1 s"
            );
        }
    }
}

#[test]
fn a_server_that_keeps_failing_is_given_up_on() {
    let (server, p) = refuses(Lie::ServerErrorForever, ":v1", 3);
    let gets = server
        .requests()
        .iter()
        .filter(|r| r.path().contains("/blobs/"))
        .count();
    assert!((2..20).contains(&gets), "{gets} attempts");
    drop(p);
}

#[test]
fn a_missing_repository_is_a_404_naming_the_reference() {
    let (server, _) = serve(Lie::Honest);
    let tmp = tempfile::tempdir().unwrap();
    let reference = format!("{}/hostile/missing:v1", server.host());
    let out = tmp.path().join("img");
    let err = fails(
        plinth()
            .env("DOCKER_CONFIG", tmp.path().join("none"))
            .args(["pull", &reference, "-o"])
            .arg(&out),
        2,
    );
    assert!(err.contains(&reference), "{err}");
    assert!(!out.exists());
}

#[test]
fn an_unknown_host_is_an_error_naming_the_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("img");
    // `.invalid` never resolves (RFC 6761).
    let reference = "no-such-registry.invalid/library/alpine:3.20";
    let o = run_with_timeout(
        plinth()
            .env("DOCKER_CONFIG", tmp.path().join("none"))
            .args(["pull", reference, "-o"])
            .arg(&out),
        Duration::from_secs(120),
    )
    .expect("plinth pull of an unknown host hung");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(reference), "{err}");
    assert!(!out.exists());
}

/// Nothing listens on the port: retried, then exit 3 (not the input's fault), naming the
/// reference, nothing written.
#[test]
fn a_registry_that_refuses_connections_is_exit_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("img");
    let reference = format!("127.0.0.1:{port}/{REPO}:v1");
    let o = run_with_timeout(
        plinth()
            .env("DOCKER_CONFIG", tmp.path().join("none"))
            .args(["pull", &reference, "-o"])
            .arg(&out),
        Duration::from_secs(120),
    )
    .expect("plinth pull from a closed port hung");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains(&reference), "{err}");
    assert!(!out.exists());
}

/// `localhost:PORT` is a loopback registry too: plain HTTP without a flag.
#[test]
fn localhost_registries_speak_plain_http() {
    let (server, img) = serve(Lie::Honest);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("img");
    ok(plinth()
        .env("DOCKER_CONFIG", tmp.path().join("none"))
        .args([
            "pull",
            &format!("localhost:{}/{REPO}:v1", server.port),
            "-o",
        ])
        .arg(&out));
    assert_eq!(layout_digest(&out), img.manifest_digest);
}

/// A blob redirected to storage elsewhere is fetched there without the registry's
/// credentials (storage URLs carry their own signature; an `Authorization` header would
/// leak the password to another host, and S3 refuses the request).
#[test]
fn a_redirect_to_blob_storage_does_not_forward_the_credentials() {
    let img = Arc::new(image());
    let i = img.clone();
    let storage = Server::start(move |req, conn| {
        let digest = req.path().trim_start_matches("/storage/");
        match i.blobs.get(digest) {
            Some(b) => conn.send(200, &[], b)?,
            None => conn.send(404, &[], b"")?,
        }
        Ok(Next::Keep)
    });
    let (server, _) = serve(Lie::RedirectToStorage(storage.port));
    let tmp = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(tmp.path().join("docker")).unwrap();
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode("u:p");
    fs_err::write(
        tmp.path().join("docker/config.json"),
        serde_json::json!({"auths": {server.host(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let out = tmp.path().join("img");
    ok(plinth()
        .env("DOCKER_CONFIG", tmp.path().join("docker"))
        .env("REGISTRY_AUTH_FILE", tmp.path().join("none.json"))
        .args(["pull", &format!("{}/{REPO}:v1", server.host()), "-o"])
        .arg(&out));
    validate_image(&out);
    assert_eq!(layout_digest(&out), img.manifest_digest);
    let fetched = storage.requests();
    assert!(
        !fetched.is_empty(),
        "the layer was not fetched from storage"
    );
    for r in fetched {
        assert_eq!(
            r.header("authorization"),
            None,
            "{} got credentials",
            r.target
        );
        assert!(r.target.ends_with("?signature=s3cret"), "{}", r.target);
    }
}
