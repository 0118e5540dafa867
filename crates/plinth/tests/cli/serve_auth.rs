//! `plinth serve`'s access control and TLS (issue 15, point 5), with real clients:
//! skopeo with Basic credentials, podman and `plinth` through the token flow, skopeo over
//! TLS trusting a test CA; and raw requests for what a refused caller sees.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::common::*;
use crate::support::serve::Serve;
use crate::support::{hello_image, layout_digest, podman_pull_layout, skopeo_copy};

const KEY: &str = "a test secret of more than thirty-two bytes, shared";

/// A temp dir with an htpasswd file written by `htpasswd -B` (bcrypt): alice (grants on
/// `team/**`), bob (grants on `bob/**` only), carol (no grant at all).
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users.htpasswd");
        for (i, (user, password)) in [
            ("alice", "alice-pw"),
            ("bob", "bob-pw"),
            ("carol", "carol-pw"),
        ]
        .iter()
        .enumerate()
        {
            let mut c = Command::new("htpasswd");
            c.arg("-bB");
            if i == 0 {
                c.arg("-c");
            }
            ok(c.arg(&file).arg(user).arg(password));
        }
        fs_err::write(dir.path().join("token.key"), KEY).unwrap();
        Setup { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `registry.toml`: the users, the grants, and `extra` (more keys of `[auth]`
    /// first, then other sections).
    fn config(&self, name: &str, auth_extra: &str, rest: &str) -> PathBuf {
        let text = format!(
            r#"[storage]
type = "fs"
path = "storage"

[auth]
htpasswd = "users.htpasswd"
{auth_extra}

[[auth.grants]]
users = ["alice"]
repositories = ["team/**"]
actions = ["pull", "push", "delete"]

[[auth.grants]]
users = ["bob"]
repositories = ["bob/**"]
actions = ["pull", "push"]

{rest}
"#
        );
        let p = self.path().join(format!("{name}.toml"));
        fs_err::write(&p, text).unwrap();
        p
    }

    fn basic(&self) -> PathBuf {
        self.config("basic", "anonymous_pull = false", "")
    }

    fn token(&self) -> PathBuf {
        self.config(
            "token",
            "anonymous_pull = false\n[auth.token]\nenabled = true\nservice = \"plinth-test\"\nkey_file = \"token.key\"",
            "",
        )
    }

    fn start(&self, config: &Path) -> Serve {
        Serve::start_on(
            &self.path().join("storage"),
            &["--config", config.to_str().unwrap()],
        )
    }
}

fn tools(names: &[&str]) -> bool {
    names.iter().all(|t| have_tool(t))
}

/// An answer to a raw request.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `code` of the spec's error body.
    fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {self:?}"))
            .to_string()
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), read to the end.
fn request(host: &str, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {}", String::from_utf8_lossy(&raw)));
    let text = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16)
                .unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + n]);
            rest = &rest[nl + 2 + n + 2..];
        }
        body = out;
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn basic(user: &str, password: &str) -> (&'static str, String) {
    use base64::engine::general_purpose::STANDARD;
    (
        "Authorization",
        format!("Basic {}", STANDARD.encode(format!("{user}:{password}"))),
    )
}

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

/// A token from `GET /token` for `scope`, as `user` (None: anonymous).
fn token_for(serve: &Serve, user: Option<(&str, &str)>, scope: &str) -> String {
    let headers: Vec<(&str, String)> = user.map(|(u, p)| basic(u, p)).into_iter().collect();
    let r = request(
        &serve.host,
        "GET",
        &format!("/token?service=plinth-test&scope={scope}"),
        &headers,
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    r.json()["token"].as_str().unwrap().to_string()
}

/// Pushes the hello image as alice to `team/hello:latest` with skopeo and Basic
/// credentials; the layer digests of its manifest.
fn push_hello_as_alice(serve: &Serve) -> Vec<String> {
    skopeo_copy(&[
        "--dest-creds",
        "alice:alice-pw",
        &format!("oci:{}", hello_image().display()),
        &serve.docker("team/hello:latest"),
    ]);
    let r = request(
        &serve.host,
        "GET",
        "/v2/team/hello/manifests/latest",
        &[
            basic("alice", "alice-pw"),
            (
                "Accept",
                "application/vnd.oci.image.manifest.v1+json".into(),
            ),
        ],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let m = r.json();
    let mut blobs: Vec<String> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    blobs.push(m["config"]["digest"].as_str().unwrap().to_string());
    blobs
}

/// The request log's lines for `path` with `status`.
fn logged(serve: &Serve, path: &str, status: u16) -> usize {
    serve
        .log_text()
        .lines()
        .filter(|l| {
            l.contains(&format!("path={path} ")) && l.contains(&format!("status={status} "))
        })
        .count()
}

#[test]
fn skopeo_creds_push_and_pull_through_htpasswd_basic_auth() {
    if !tools(&["skopeo", "htpasswd"]) {
        return;
    }
    let setup = Setup::new();
    let serve = setup.start(&setup.basic());
    let r = request(&serve.host, "GET", "/v2/", &[], b"");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"plinth\""));
    assert_eq!(r.code(), "UNAUTHORIZED");
    let digest = layout_digest(hello_image());
    push_hello_as_alice(&serve);
    let tmp = tempfile::tempdir().unwrap();
    let back = tmp.path().join("back");
    skopeo_copy(&[
        "--src-creds",
        "alice:alice-pw",
        &serve.docker("team/hello:latest"),
        &format!("oci:{}:latest", back.display()),
    ]);
    assert_eq!(layout_digest(&back), digest);
    // A wrong password and no password are both refused.
    for creds in [&["--src-creds", "alice:wrong"][..], &[]] {
        let o = run(Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .args(creds)
            .arg(serve.docker("team/hello:latest")));
        assert!(!o.status.success(), "{creds:?}: {}", stdout(&o));
    }
}

#[test]
fn an_htpasswd_entry_that_is_not_bcrypt_stops_the_start_with_its_line_number() {
    if !tools(&["htpasswd"]) {
        return;
    }
    let setup = Setup::new();
    // Line 4: Apache MD5, as `htpasswd -m` writes.
    ok(Command::new("htpasswd")
        .arg("-bm")
        .arg(setup.path().join("users.htpasswd"))
        .args(["dave", "dave-pw"]));
    let err = fails(
        plinth()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(setup.basic())
            .arg("--storage")
            .arg(setup.path().join("storage")),
        2,
    );
    assert!(err.contains("users.htpasswd line 4"), "{err}");
    assert!(err.contains("not bcrypt"), "{err}");
}

#[test]
fn podman_login_push_and_pull_through_the_token_flow() {
    if !tools(&["podman", "htpasswd"]) {
        return;
    }
    let setup = Setup::new();
    let serve = setup.start(&setup.token());
    let tmp = tempfile::tempdir().unwrap();
    let authfile = tmp.path().join("auth.json");
    fs_err::write(&authfile, "{}").unwrap();
    let podman_cmd = || {
        let mut c = podman(tmp.path());
        c.env("REGISTRY_AUTH_FILE", &authfile);
        c
    };
    let pulled = ok(podman_pull_layout(
        &mut podman_cmd(),
        hello_image(),
        "latest",
    ));
    let id = pulled.trim().to_string();
    let mut login = podman_cmd();
    login
        .args([
            "login",
            "--tls-verify=false",
            "-u",
            "alice",
            "--password-stdin",
        ])
        .arg(&serve.host)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = login.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"alice-pw\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "podman login: {}", stderr(&o));
    let reference = serve.reference("team/hello:latest");
    ok(podman_cmd()
        .args(["push", "-q", "--tls-verify=false", &id])
        .arg(format!("docker://{reference}")));
    ok(podman_cmd().args(["rmi", "-f", &id]));
    let back = ok(podman_cmd().args(["pull", "-q", "--tls-verify=false", &reference]));
    assert_eq!(back.trim(), id, "the same image (config digest) came back");
    assert!(
        logged(&serve, "/token", 200) >= 1,
        "podman used the token flow:\n{}",
        serve.log_text()
    );
    // Logged out, podman is refused.
    ok(podman_cmd().args(["logout", &serve.host]));
    ok(podman_cmd().args(["rmi", "-f", &id]));
    let o = run(podman_cmd().args(["pull", "-q", "--tls-verify=false", &reference]));
    assert!(!o.status.success(), "anonymous pull is off");
}

/// `plinth` with credentials only under `home`.
fn plinth_in(home: &Path) -> Command {
    let mut c = plinth();
    c.env("DOCKER_CONFIG", home.join("docker"))
        .env("REGISTRY_AUTH_FILE", home.join("no-auth.json"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("HOME", home);
    c
}

/// `plinth login HOST -u alice --password-stdin` as `cmd` (credentials under its home).
fn plinth_login(mut cmd: Command, host: &str, password: &str) -> Output {
    cmd.args(["login", host, "-u", "alice", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{password}\n").as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn plinth_login_push_and_pull_through_the_token_flow() {
    if !tools(&["htpasswd"]) {
        return;
    }
    let setup = Setup::new();
    let serve = setup.start(&setup.token());
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let o = plinth_login(plinth_in(home), &serve.host, "alice-pw");
    assert!(o.status.success(), "plinth login: {}", stderr(&o));
    let reference = serve.reference("team/hello:latest");
    ok(plinth_in(home)
        .arg("push")
        .arg(hello_image())
        .arg(&reference));
    let pulled = home.join("pulled");
    ok(plinth_in(home)
        .arg("pull")
        .arg(&reference)
        .arg("-o")
        .arg(&pulled));
    assert_eq!(layout_digest(&pulled), layout_digest(hello_image()));
    validate_image(&pulled);
    assert!(logged(&serve, "/token", 200) >= 1, "{}", serve.log_text());
    // A wrong password is refused at login, and nothing is stored for it.
    let o = plinth_login(plinth_in(&home.join("other")), &serve.host, "wrong");
    assert!(!o.status.success(), "a wrong password logs in");
    assert!(!home.join("other/docker/config.json").exists());
}

#[test]
fn anonymous_pull_is_allowed_or_refused_by_config() {
    if !tools(&["skopeo", "htpasswd"]) {
        return;
    }
    let setup = Setup::new();
    let inspect = |serve: &Serve| {
        run(Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(serve.docker("team/hello:latest")))
    };
    let open = setup.config("open", "anonymous_pull = true", "");
    let mut serve = setup.start(&open);
    push_hello_as_alice(&serve);
    let o = inspect(&serve);
    assert!(o.status.success(), "anonymous pull allowed: {}", stderr(&o));
    // Anonymous callers still cannot push.
    let r = request(
        &serve.host,
        "POST",
        "/v2/team/hello/blobs/uploads/",
        &[],
        b"",
    );
    assert_eq!((r.status, r.code().as_str()), (401, "UNAUTHORIZED"));
    serve.kill();

    let serve = setup.start(&setup.basic());
    let o = inspect(&serve);
    assert!(!o.status.success(), "anonymous pull refused");
    let r = request(
        &serve.host,
        "GET",
        "/v2/team/hello/manifests/latest",
        &[],
        b"",
    );
    assert_eq!((r.status, r.code().as_str()), (401, "UNAUTHORIZED"));

    // The same, with tokens: an anonymous token grants pull only when allowed.
    drop(serve);
    let open = setup.config(
        "open-token",
        "anonymous_pull = true\n[auth.token]\nenabled = true\nservice = \"plinth-test\"\nkey_file = \"token.key\"",
        "",
    );
    let serve = setup.start(&open);
    let t = token_for(&serve, None, "repository:team/hello:pull,push");
    let r = request(
        &serve.host,
        "GET",
        "/v2/team/hello/tags/list",
        &[bearer(&t)],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let r = request(
        &serve.host,
        "POST",
        "/v2/team/hello/blobs/uploads/",
        &[bearer(&t)],
        b"",
    );
    assert_eq!((r.status, r.code().as_str()), (401, "UNAUTHORIZED"));
    drop(serve);
    let serve = setup.start(&setup.token());
    let t = token_for(&serve, None, "repository:team/hello:pull");
    let r = request(
        &serve.host,
        "GET",
        "/v2/team/hello/tags/list",
        &[bearer(&t)],
        b"",
    );
    assert_eq!((r.status, r.code().as_str()), (401, "UNAUTHORIZED"));
}

/// The refused answers: status, the spec's code, and nothing of the repository's data.
fn assert_refused(r: &Reply, status: u16, code: &str, secrets: &[String], what: &str) {
    assert_eq!(r.status, status, "{what}: {r:?}");
    assert_eq!(r.code(), code, "{what}");
    let body = String::from_utf8_lossy(&r.body);
    for s in secrets {
        assert!(!body.contains(s.as_str()), "{what} reveals {s}: {body}");
    }
    assert!(r.header("docker-content-digest").is_none(), "{what}: {r:?}");
}

#[test]
fn a_user_without_a_grant_gets_401_or_403_with_the_spec_body_and_no_data() {
    if !tools(&["skopeo", "htpasswd"]) {
        return;
    }
    let setup = Setup::new();
    for config in [setup.basic(), setup.token()] {
        let token_flow = config.ends_with("token.toml");
        let serve = setup.start(&config);
        let blobs = push_hello_as_alice(&serve);
        let layer = &blobs[0];
        let mut secrets = blobs.clone();
        secrets.push("latest".into());
        secrets.push("schemaVersion".into());
        let requests = [
            ("GET", "/v2/team/hello/manifests/latest".to_string()),
            ("HEAD", "/v2/team/hello/manifests/latest".to_string()),
            ("GET", format!("/v2/team/hello/blobs/{layer}")),
            ("GET", "/v2/team/hello/tags/list".to_string()),
            ("POST", "/v2/team/hello/blobs/uploads/".to_string()),
            ("DELETE", "/v2/team/hello/manifests/latest".to_string()),
        ];
        // carol: authenticated, no grant. As a token bearer she asks for everything.
        let carol = if token_flow {
            bearer(&token_for(
                &serve,
                Some(("carol", "carol-pw")),
                "repository:team/hello:pull,push,delete",
            ))
        } else {
            basic("carol", "carol-pw")
        };
        for (method, path) in &requests {
            let what = format!("{method} {path} as carol (token flow: {token_flow})");
            let r = request(&serve.host, method, path, std::slice::from_ref(&carol), b"");
            if *method == "HEAD" {
                assert_eq!(r.status, 403, "{what}");
                assert!(r.body.is_empty(), "{what}");
                continue;
            }
            assert_refused(&r, 403, "DENIED", &secrets, &what);
            // Nobody: 401 and the challenge to follow.
            let what = format!("{method} {path} anonymously (token flow: {token_flow})");
            let r = request(&serve.host, method, path, &[], b"");
            assert_refused(&r, 401, "UNAUTHORIZED", &secrets, &what);
            let challenge = r.header("www-authenticate").unwrap();
            if token_flow {
                assert!(
                    challenge.starts_with(&format!(
                        "Bearer realm=\"http://{}/token\",service=\"plinth-test\",scope=\"repository:team/hello:",
                        serve.host
                    )),
                    "{challenge}"
                );
            } else {
                assert_eq!(challenge, "Basic realm=\"plinth\"");
            }
        }
        // The catalog: 401 for nobody; for carol, a list without team/hello.
        let r = request(&serve.host, "GET", "/v2/_catalog", &[], b"");
        assert_refused(&r, 401, "UNAUTHORIZED", &secrets, "catalog anonymously");
        let r = request(
            &serve.host,
            "GET",
            "/v2/_catalog",
            std::slice::from_ref(&carol),
            b"",
        );
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.json(), json!({ "repositories": [] }));
        let alice = if token_flow {
            bearer(&token_for(
                &serve,
                Some(("alice", "alice-pw")),
                "registry:catalog:*",
            ))
        } else {
            basic("alice", "alice-pw")
        };
        let r = request(&serve.host, "GET", "/v2/_catalog", &[alice], b"");
        assert_eq!(r.json(), json!({ "repositories": ["team/hello"] }));
    }
}

#[test]
fn a_token_short_of_an_action_the_grants_allow_gets_a_scope_challenge() {
    if !tools(&["htpasswd"]) {
        return;
    }
    let setup = Setup::new();
    let serve = setup.start(&setup.token());
    let t = token_for(
        &serve,
        Some(("alice", "alice-pw")),
        "repository:team/app:pull",
    );
    let r = request(
        &serve.host,
        "POST",
        "/v2/team/app/blobs/uploads/",
        &[bearer(&t)],
        b"",
    );
    assert_eq!((r.status, r.code().as_str()), (401, "UNAUTHORIZED"));
    let c = r.header("www-authenticate").unwrap();
    assert!(
        c.contains("scope=\"repository:team/app:push\"")
            && c.contains("error=\"insufficient_scope\""),
        "{c}"
    );
    // Asked for push and granted: the same request goes through.
    let t = token_for(
        &serve,
        Some(("alice", "alice-pw")),
        "repository:team/app:pull,push",
    );
    let r = request(
        &serve.host,
        "POST",
        "/v2/team/app/blobs/uploads/",
        &[bearer(&t)],
        b"",
    );
    assert_eq!(r.status, 202, "{r:?}");
}

#[test]
fn a_mount_from_a_repository_the_user_cannot_pull_does_not_mount() {
    if !tools(&["skopeo", "htpasswd"]) {
        return;
    }
    let setup = Setup::new();
    let serve = setup.start(&setup.basic());
    let blobs = push_hello_as_alice(&serve);
    let layer = &blobs[0];
    let bob = basic("bob", "bob-pw");
    let mount = format!("/v2/bob/copy/blobs/uploads/?mount={layer}&from=team/hello");
    let r = request(&serve.host, "POST", &mount, std::slice::from_ref(&bob), b"");
    assert_eq!(r.status, 202, "an upload starts instead: {r:?}");
    assert!(
        r.header("location")
            .unwrap()
            .starts_with("/v2/bob/copy/blobs/uploads/"),
        "{r:?}"
    );
    let r = request(
        &serve.host,
        "HEAD",
        &format!("/v2/bob/copy/blobs/{layer}"),
        std::slice::from_ref(&bob),
        b"",
    );
    assert_eq!(r.status, 404, "the blob was not mounted: {r:?}");
    // Without `from`, a mount would look everywhere: not honoured either.
    let r = request(
        &serve.host,
        "POST",
        &format!("/v2/bob/copy/blobs/uploads/?mount={layer}"),
        std::slice::from_ref(&bob),
        b"",
    );
    assert_eq!(r.status, 202, "{r:?}");
    let r = request(
        &serve.host,
        "HEAD",
        &format!("/v2/bob/copy/blobs/{layer}"),
        &[bob],
        b"",
    );
    assert_eq!(r.status, 404, "{r:?}");
    // alice may pull from team/hello: her mount mounts.
    let alice = basic("alice", "alice-pw");
    let r = request(
        &serve.host,
        "POST",
        &format!("/v2/team/copy/blobs/uploads/?mount={layer}&from=team/hello"),
        std::slice::from_ref(&alice),
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let r = request(
        &serve.host,
        "HEAD",
        &format!("/v2/team/copy/blobs/{layer}"),
        &[alice],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
}

/// A token signed with the test key by an independent HMAC (ring's), with these claims.
fn forge(claims: &Value, key: &[u8]) -> String {
    let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing = format!("{head}.{body}");
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let sig = ring::hmac::sign(&k, signing.as_bytes());
    format!("{signing}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

#[test]
fn an_expired_token_and_a_tampered_token_are_refused() {
    if !tools(&["htpasswd"]) {
        return;
    }
    let setup = Setup::new();
    let serve = setup.start(&setup.token());
    let path = "/v2/team/hello/tags/list";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = |exp: i64, aud: &str| {
        json!({
            "iss": "plinth", "sub": "alice", "aud": aud,
            "exp": exp, "nbf": now - 600, "iat": now - 600, "jti": "t",
            "access": [{ "type": "repository", "name": "team/hello", "actions": ["pull"] }],
        })
    };
    // Control: a well-signed, current token is accepted (the repository has no tags yet).
    let good = forge(&claims(now + 300, "plinth-test"), KEY.as_bytes());
    let r = request(&serve.host, "GET", path, &[bearer(&good)], b"");
    assert_eq!(
        (r.status, r.code().as_str()),
        (404, "NAME_UNKNOWN"),
        "{r:?}"
    );

    let expired = forge(&claims(now - 60, "plinth-test"), KEY.as_bytes());
    let foreign = forge(&claims(now + 300, "another-service"), KEY.as_bytes());
    let other_key = forge(
        &claims(now + 300, "plinth-test"),
        b"another key of more than 32 bytes!!",
    );
    // The claims of a real token changed to grant push, its signature kept.
    let real = token_for(
        &serve,
        Some(("carol", "carol-pw")),
        "repository:team/hello:pull",
    );
    let parts: Vec<&str> = real.split('.').collect();
    let mut c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    c["access"] =
        json!([{ "type": "repository", "name": "team/hello", "actions": ["pull", "push"] }]);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(c.to_string()),
        parts[2]
    );
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(now + 300, "plinth-test").to_string())
    );
    for (what, t) in [
        ("expired", &expired),
        ("for another service", &foreign),
        ("signed with another key", &other_key),
        ("tampered", &tampered),
        ("unsigned", &unsigned),
    ] {
        for (method, p) in [("GET", path), ("POST", "/v2/team/hello/blobs/uploads/")] {
            let r = request(&serve.host, method, p, &[bearer(t)], b"");
            assert_eq!(
                (r.status, r.code().as_str()),
                (401, "UNAUTHORIZED"),
                "{what} token, {method} {p}: {r:?}"
            );
            assert!(r.header("www-authenticate").unwrap().starts_with("Bearer "));
        }
    }
}

#[test]
fn the_token_endpoint_takes_the_oauth2_password_grant_and_cuts_scopes_to_the_grants() {
    if !tools(&["htpasswd"]) {
        return;
    }
    let setup = Setup::new();
    let serve = setup.start(&setup.token());
    let form = "grant_type=password&username=bob&password=bob-pw&service=plinth-test&client_id=test\
                &scope=repository%3Abob%2Fapp%3Apull%2Cpush%2Cdelete+repository%3Ateam%2Fhello%3Apull";
    let r = request(
        &serve.host,
        "POST",
        "/token",
        &[("Content-Type", "application/x-www-form-urlencoded".into())],
        form.as_bytes(),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let answer = r.json();
    assert_eq!(answer["token"], answer["access_token"]);
    assert_eq!(answer["expires_in"], 300);
    assert!(answer["issued_at"].as_str().unwrap().ends_with('Z'));
    let token = answer["token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["aud"], "plinth-test");
    assert_eq!(
        claims["access"],
        json!([{ "type": "repository", "name": "bob/app", "actions": ["pull", "push"] }]),
        "delete and team/hello are not granted to bob"
    );
    // A wrong password, another grant type, another service.
    let r = request(
        &serve.host,
        "POST",
        "/token",
        &[],
        b"grant_type=password&username=bob&password=nope&service=plinth-test",
    );
    assert_eq!((r.status, r.code().as_str()), (401, "UNAUTHORIZED"));
    let r = request(
        &serve.host,
        "POST",
        "/token",
        &[],
        b"grant_type=refresh_token&refresh_token=x",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "unsupported_grant_type");
    let r = request(&serve.host, "GET", "/token?service=other", &[], b"");
    assert_eq!(r.status, 400);
}

/// A CA and a certificate for 127.0.0.1 signed by it, made with openssl: `ca.crt`,
/// `server.crt`, `server.key` in `dir`.
fn test_ca(dir: &Path) {
    let sh = |args: &[&str]| ok(Command::new("openssl").current_dir(dir).args(args));
    sh(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=plinth test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    sh(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    fs_err::write(dir.join("ext.cnf"), "subjectAltName = IP:127.0.0.1\n").unwrap();
    sh(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.crt",
    ]);
}

#[test]
fn skopeo_pushes_and_pulls_over_tls_trusting_a_test_ca_with_token_auth() {
    if !tools(&["skopeo", "htpasswd", "openssl"]) {
        return;
    }
    let setup = Setup::new();
    test_ca(setup.path());
    let certs = setup.path().join("certs");
    fs_err::create_dir_all(&certs).unwrap();
    fs_err::copy(setup.path().join("ca.crt"), certs.join("ca.crt")).unwrap();
    let config = setup.config(
        "tls",
        "anonymous_pull = false\n[auth.token]\nenabled = true\nservice = \"plinth-test\"\nkey_file = \"token.key\"",
        "[tls]\ncert = \"server.crt\"\nkey = \"server.key\"",
    );
    let serve = setup.start(&config);
    assert!(serve.log_text().contains("listening on https://"));
    let certs = certs.to_str().unwrap();
    let digest = layout_digest(hello_image());
    ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--dest-cert-dir",
        certs,
        "--dest-creds",
        "alice:alice-pw",
        &format!("oci:{}", hello_image().display()),
        &serve.docker("team/hello:latest"),
    ]));
    let tmp = tempfile::tempdir().unwrap();
    let back = tmp.path().join("back");
    ok(Command::new("skopeo").args([
        "copy",
        "-q",
        "--src-cert-dir",
        certs,
        "--src-creds",
        "alice:alice-pw",
        &serve.docker("team/hello:latest"),
        &format!("oci:{}:latest", back.display()),
    ]));
    assert_eq!(layout_digest(&back), digest);
    // The token realm is https too, and skopeo went through it.
    assert!(logged(&serve, "/token", 200) >= 1, "{}", serve.log_text());
    // Without the CA, verification fails: the certificate was really checked.
    let o = run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--creds",
        "alice:alice-pw",
        &serve.docker("team/hello:latest"),
    ]));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("certificate"), "{}", stderr(&o));
}

/// `plinth pull` and `plinth push` speak TLS to a registry on loopback that speaks it,
/// trusting a private CA named by `SSL_CERT_FILE` (as OpenSSL, curl and Go do), and refuse
/// the certificate without it.
#[test]
fn plinth_pushes_and_pulls_over_tls_trusting_a_ca_from_ssl_cert_file() {
    if !tools(&["htpasswd", "openssl"]) {
        return;
    }
    let setup = Setup::new();
    test_ca(setup.path());
    let config = setup.config(
        "tls-plinth",
        "anonymous_pull = false",
        "[tls]\ncert = \"server.crt\"\nkey = \"server.key\"",
    );
    let serve = setup.start(&config);
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let ca = setup.path().join("ca.crt");
    let reference = serve.reference("team/hello:latest");
    let mut login = plinth_in(home);
    login.env("SSL_CERT_FILE", &ca);
    let o = plinth_login(login, &serve.host, "alice-pw");
    assert!(o.status.success(), "plinth login over TLS: {}", stderr(&o));
    ok(plinth_in(home)
        .env("SSL_CERT_FILE", &ca)
        .arg("push")
        .arg(hello_image())
        .arg(&reference));
    let pulled = home.join("pulled");
    ok(plinth_in(home)
        .env("SSL_CERT_FILE", &ca)
        .arg("pull")
        .arg(&reference)
        .arg("-o")
        .arg(&pulled));
    assert_eq!(layout_digest(&pulled), layout_digest(hello_image()));
    // Without the CA the certificate is refused, with a hint naming SSL_CERT_FILE.
    let o = run(plinth_in(home)
        .arg("pull")
        .arg(&reference)
        .arg("-o")
        .arg(home.join("untrusted")));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("SSL_CERT_FILE"), "{}", stderr(&o));
    assert!(!home.join("untrusted").exists());
}

#[test]
fn a_tls_client_that_never_finishes_the_handshake_is_disconnected() {
    if !tools(&["openssl", "htpasswd"]) {
        return;
    }
    let setup = Setup::new();
    test_ca(setup.path());
    let config = setup.config(
        "tls-open",
        "anonymous_pull = true",
        "[tls]\ncert = \"server.crt\"\nkey = \"server.key\"\n\n[limits]\nheader_timeout_secs = 1",
    );
    let serve = setup.start(&config);
    let mut s = TcpStream::connect(&serve.host).unwrap();
    // A generous bound: the test proves the server hangs up, not how fast.
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut buf = [0u8; 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => panic!("the server sent {n} bytes to a client that said nothing"),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}
