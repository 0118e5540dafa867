//! The registry client against a scripted HTTP server on 127.0.0.1: the token flows,
//! redirects, retries and registries that lie. (Real registries are exercised by the
//! CLI tests.)

mod server;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use plinth_core::progress::NoReporter;
use plinth_registry::auth::config::CredentialSources;
use plinth_registry::copy::{CopyOptions, DiskFormat, Endpoint};
use plinth_registry::repo::{Repo, sha256};
use plinth_registry::{Client, ClientOptions, Error, Reference};
use server::{Request, Response, Server};

/// A one-layer image: (manifest bytes, blobs by digest).
fn image(layer: &[u8]) -> (Vec<u8>, HashMap<String, Vec<u8>>) {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#.to_vec();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}}"#,
        sha256(&config),
        config.len(),
        sha256(layer),
        layer.len()
    );
    let blobs = HashMap::from([(sha256(&config), config), (sha256(layer), layer.to_vec())]);
    (manifest.into_bytes(), blobs)
}

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// Serves `manifest` at tag `t` and by digest, and `blobs`, under repository `r`.
fn registry(req: &Request, manifest: &[u8], blobs: &HashMap<String, Vec<u8>>) -> Response {
    let digest = sha256(manifest);
    let path = req.target.split('?').next().unwrap_or("");
    if path == "/v2/" {
        return Response::new(200);
    }
    if path == "/v2/r/manifests/t" || path == format!("/v2/r/manifests/{digest}") {
        return Response::new(200)
            .header("content-type", MANIFEST_TYPE)
            .header("docker-content-digest", digest)
            .body(manifest.to_vec());
    }
    if let Some(d) = path.strip_prefix("/v2/r/blobs/")
        && let Some(b) = blobs.get(d)
    {
        return Response::new(200).body(b.clone());
    }
    Response::new(404).body(r#"{"errors":[{"code":"NOT_FOUND","message":"nothing here"}]}"#)
}

fn client(config: Option<&Path>) -> Arc<Client> {
    Arc::new(Client::new(ClientOptions {
        insecure: false,
        credentials: CredentialSources {
            files: config.map(|c| vec![c.to_path_buf()]).unwrap_or_default(),
            helper_path: None,
        },
        jobs: 2,
    }))
}

fn pull_to(client: &Arc<Client>, addr: &str, out: &Path) -> plinth_registry::Result<String> {
    let src = Endpoint::Registry(Reference::parse(&format!("{addr}/r:t")).unwrap());
    let dst = Endpoint::Disk {
        path: out.to_path_buf(),
        tag: None,
        format: DiskFormat::Layout,
        arg: out.display().to_string(),
    };
    let opts = CopyOptions {
        platform: None,
        referrers: true,
    };
    plinth_registry::copy(client, &src, &dst, &opts, &NoReporter).map(|r| r.digest)
}

fn basic(user: &str, pw: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

/// The registry wants a Bearer token from its realm; the realm wants Basic credentials
/// from the docker config. One token serves every request of the scope.
#[test]
fn bearer_tokens_are_fetched_with_basic_credentials_and_cached() {
    let (manifest, blobs) = image(b"layer bytes");
    let token_requests = Arc::new(AtomicUsize::new(0));
    let addr_cell: Arc<std::sync::OnceLock<String>> = Arc::default();
    let server = {
        let token_requests = token_requests.clone();
        let addr_cell = addr_cell.clone();
        let manifest = manifest.clone();
        Server::start(move |req| {
            let addr = addr_cell.get().cloned().unwrap_or_default();
            if req.target.starts_with("/token") {
                token_requests.fetch_add(1, Ordering::SeqCst);
                assert!(req.target.contains("service=fake"), "{}", req.target);
                assert!(
                    req.target.contains("scope=repository%3Ar%3Apull"),
                    "{}",
                    req.target
                );
                if req.header("authorization") != Some(&basic("alice", "pw")) {
                    return Response::new(401);
                }
                return Response::new(200).body(r#"{"token":"good-token","expires_in":300}"#);
            }
            if req.header("authorization") != Some("Bearer good-token") {
                return Response::new(401).header(
                    "www-authenticate",
                    format!(r#"Bearer realm="http://{addr}/token",service="fake",scope="repository:r:pull""#),
                );
            }
            registry(req, &manifest, &blobs)
        })
    };
    addr_cell.set(server.addr.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    fs_err::write(
        &config,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            server.addr,
            base64::engine::general_purpose::STANDARD.encode("alice:pw")
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let digest = pull_to(&client(Some(&config)), &server.addr, &out).unwrap();
    assert_eq!(digest, sha256(&manifest));
    assert!(out.join("index.json").is_file());
    assert_eq!(token_requests.load(Ordering::SeqCst), 1);

    // Without credentials the token endpoint refuses: a clear error, nothing written.
    let out2 = dir.path().join("out2");
    let err = pull_to(&client(None), &server.addr, &out2).unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("/r"), "{err}");
    assert!(!out2.exists());
}

/// An `identitytoken` in the config is an OAuth2 refresh token: POSTed to the realm.
#[test]
fn identity_tokens_use_the_oauth2_refresh_grant() {
    let (manifest, blobs) = image(b"x");
    let addr_cell: Arc<std::sync::OnceLock<String>> = Arc::default();
    let server = {
        let addr_cell = addr_cell.clone();
        let manifest = manifest.clone();
        Server::start(move |req| {
            let addr = addr_cell.get().cloned().unwrap_or_default();
            if req.target.starts_with("/token") {
                let form = String::from_utf8_lossy(&req.body).to_string();
                if req.method == "POST"
                    && form.contains("grant_type=refresh_token")
                    && form.contains("refresh_token=refresh-me")
                    && form.contains("service=fake")
                {
                    return Response::new(200).body(r#"{"access_token":"good-token"}"#);
                }
                return Response::new(401);
            }
            if req.header("authorization") != Some("Bearer good-token") {
                return Response::new(401).header(
                    "www-authenticate",
                    format!(r#"Bearer realm="http://{addr}/token",service="fake""#),
                );
            }
            registry(req, &manifest, &blobs)
        })
    };
    addr_cell.set(server.addr.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("auth.json");
    fs_err::write(
        &config,
        format!(
            r#"{{"auths":{{"{}":{{"identitytoken":"refresh-me"}}}}}}"#,
            server.addr
        ),
    )
    .unwrap();
    let digest = pull_to(&client(Some(&config)), &server.addr, &dir.path().join("o")).unwrap();
    assert_eq!(digest, sha256(&manifest));
}

/// A blob that does not hash to its digest fails the pull, and nothing is left behind:
/// no output, no temporary directory.
#[test]
fn a_registry_lying_about_a_blob_leaves_no_output() {
    let (manifest, mut blobs) = image(b"the real layer");
    let layer = sha256(b"the real layer");
    blobs.insert(layer.clone(), b"the fake layer".to_vec());
    let server = Server::start(move |req| registry(req, &manifest, &blobs));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let err = pull_to(&client(None), &server.addr, &out).unwrap_err();
    assert!(
        matches!(&err, Error::Source { source: plinth_oci::Error::DigestMismatch { expected, .. }, .. } if *expected == layer),
        "{err}"
    );
    let left: Vec<_> = fs_err::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A blob that goes on past its declared size is cut one byte after it.
#[test]
fn an_endless_blob_is_cut_at_its_declared_size() {
    let (manifest, blobs) = image(b"short");
    let layer = sha256(b"short");
    let server = Server::start(move |req| {
        if req.target.ends_with(&layer) {
            let mut r = Response::new(200);
            r.body = server::Body::Unsized(64 << 20);
            return r;
        }
        registry(req, &manifest, &blobs)
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let err = pull_to(&client(None), &server.addr, &out).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Source {
                source: plinth_oci::Error::Oversized { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(!out.exists());
}

/// A manifest fetched by digest must hash to it.
#[test]
fn a_manifest_that_is_not_its_digest_is_refused() {
    let (manifest, _) = image(b"a");
    let wanted = sha256(b"something else");
    let server = Server::start(move |_| {
        Response::new(200)
            .header("content-type", MANIFEST_TYPE)
            .body(manifest.clone())
    });
    let c = client(None);
    let r = Reference::parse(&format!("{}/r@{wanted}", server.addr)).unwrap();
    let err = Repo::pull(&c, &r).get_manifest(&wanted).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&wanted), "{err}");
}

/// A manifest larger than 4 MiB is refused before it is read.
#[test]
fn a_manifest_over_the_cap_is_refused() {
    let server = Server::start(|_| {
        Response::new(200)
            .header("content-type", MANIFEST_TYPE)
            .body(vec![b' '; 5 << 20])
    });
    let c = client(None);
    let r = Reference::parse(&format!("{}/r:t", server.addr)).unwrap();
    let err = Repo::pull(&c, &r).get_manifest("t").unwrap_err();
    assert!(matches!(err, Error::ManifestTooLarge { .. }), "{err}");
    assert!(err.to_string().contains("/r:t"), "{err}");
}

/// A redirect loop ends with an error naming the URL, not a hang.
#[test]
fn a_redirect_loop_is_cut() {
    let server = Server::start(|req| Response::new(307).header("location", req.target.clone()));
    let c = client(None);
    let r = Reference::parse(&format!("{}/r:t", server.addr)).unwrap();
    let err = match Repo::pull(&c, &r).get_blob(&sha256(b"x"), 1) {
        Err(e) => e,
        Ok(_) => panic!("a redirect loop was followed to a blob"),
    };
    assert!(matches!(err, Error::TooManyRedirects { .. }), "{err}");
    assert!(server.requests().len() <= 12);
}

/// A redirect to blob storage is followed without the registry's `Authorization`.
#[test]
fn a_redirect_to_storage_carries_no_credentials() {
    let (manifest, blobs) = image(b"stored elsewhere");
    let layer = sha256(b"stored elsewhere");
    let server = {
        let manifest = manifest.clone();
        Server::start(move |req| {
            if req.target.starts_with("/storage/") {
                return Response::new(200).body(b"stored elsewhere".to_vec());
            }
            if req.header("authorization") != Some(&basic("u", "p")) {
                return Response::new(401).header("www-authenticate", r#"Basic realm="r""#);
            }
            if req.target.ends_with(&layer) {
                return Response::new(307).header("location", "/storage/blob?sig=1");
            }
            registry(req, &manifest, &blobs)
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    fs_err::write(
        &config,
        format!(
            r#"{{"auths":{{"{}":{{"username":"u","password":"p"}}}}}}"#,
            server.addr
        ),
    )
    .unwrap();
    pull_to(&client(Some(&config)), &server.addr, &dir.path().join("o")).unwrap();
    let storage: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| r.target.starts_with("/storage/"))
        .collect();
    assert_eq!(storage.len(), 1);
    assert_eq!(storage[0].header("authorization"), None);
}

/// 429 with `Retry-After: 0` and a 503 are tried again.
#[test]
fn busy_registries_are_retried() {
    let (manifest, blobs) = image(b"y");
    let calls = Arc::new(AtomicUsize::new(0));
    let server = {
        let calls = calls.clone();
        let manifest = manifest.clone();
        Server::start(move |req| {
            if req.target.contains("/manifests/") {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => return Response::new(429).header("retry-after", "0"),
                    1 => return Response::new(503),
                    _ => {}
                }
            }
            registry(req, &manifest, &blobs)
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let digest = pull_to(&client(None), &server.addr, &dir.path().join("o")).unwrap();
    assert_eq!(digest, sha256(&manifest));
    assert!(calls.load(Ordering::SeqCst) >= 3);
}

/// A 404 names the reference and what the registry said.
#[test]
fn a_missing_manifest_names_the_reference() {
    let server = Server::start(|_| {
        Response::new(404)
            .body(r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#)
    });
    let dir = tempfile::tempdir().unwrap();
    let err = pull_to(&client(None), &server.addr, &dir.path().join("o")).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "manifest {}/r:t was not found in the registry (MANIFEST_UNKNOWN: manifest unknown)",
            server.addr
        )
    );
}

/// A registry that refuses one-PUT uploads (413) gets the blob in PATCH chunks.
#[test]
fn uploads_fall_back_to_chunks_when_a_single_put_is_refused() {
    let stored: Arc<std::sync::Mutex<Vec<u8>>> = Arc::default();
    let server = {
        let stored = stored.clone();
        Server::start(move |req| {
            let path = req.target.split('?').next().unwrap_or("");
            match (req.method.as_str(), path) {
                ("GET", "/v2/") => Response::new(200),
                ("HEAD", _) => Response::new(404),
                ("POST", "/v2/r/blobs/uploads/") => {
                    Response::new(202).header("location", "/v2/r/blobs/uploads/u1?_state=s")
                }
                ("PUT", "/v2/r/blobs/uploads/u1") if !req.body.is_empty() => Response::new(413),
                ("PATCH", "/v2/r/blobs/uploads/u1") => {
                    stored.lock().unwrap().extend_from_slice(&req.body);
                    Response::new(202).header("location", "/v2/r/blobs/uploads/u1?_state=t")
                }
                ("PUT", "/v2/r/blobs/uploads/u1") => {
                    assert!(req.target.contains("digest=sha256%3A"), "{}", req.target);
                    Response::new(201)
                }
                _ => Response::new(404),
            }
        })
    };
    let c = client(None);
    let r = Reference::parse(&format!("{}/r:t", server.addr)).unwrap();
    let repo = Repo::push(&c, &r);
    let data = b"chunk me".to_vec();
    let refused = repo
        .upload_monolithic(&sha256(&data), data.len() as u64, &mut &data[..])
        .unwrap();
    assert_eq!(refused, Some(413));
    repo.upload_chunked(&sha256(&data), data.len() as u64, &mut &data[..])
        .unwrap();
    assert_eq!(*stored.lock().unwrap(), data);
}

/// A body that ends before its `Content-Length` fails the pull, naming the blob, and
/// leaves nothing.
#[test]
fn a_truncated_blob_leaves_no_output() {
    let (manifest, blobs) = image(b"0123456789");
    let layer = sha256(b"0123456789");
    let server = Server::start(move |req| {
        if req.target.ends_with(&layer) {
            let mut r = Response::new(200);
            r.body = server::Body::Short {
                announce: 10,
                send: b"01234".to_vec(),
            };
            return r;
        }
        registry(req, &manifest, &blobs)
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let err = pull_to(&client(None), &server.addr, &out).unwrap_err();
    assert!(!err.is_internal(), "{err}");
    // The error names the image pulled, its cause the blob.
    let mut chain = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        chain.push_str(&format!(": {c}"));
        cause = c.source();
    }
    assert!(chain.contains(&sha256(b"0123456789")), "{chain}");
    assert!(err.to_string().contains(&server.addr), "{err}");
    let left: Vec<_> = fs_err::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A registry failing with 500 on every try is not the input's fault (exit 3).
#[test]
fn a_failing_registry_is_not_the_inputs_fault() {
    let server = Server::start(|_| Response::new(500));
    let dir = tempfile::tempdir().unwrap();
    let err = pull_to(&client(None), &server.addr, &dir.path().join("o")).unwrap_err();
    assert!(matches!(err, Error::Server { status: 500, .. }), "{err}");
    assert!(err.is_internal());
    // The first try and the retries.
    assert_eq!(
        server.requests().len() as u32,
        1 + plinth_registry::retry::MAX_RETRIES
    );
}

/// A registry with the OCI 1.1 referrers API: a pull into a layout carries the
/// signature that names the image as its subject, stored beside it and found by its
/// subject, not listed in index.json (skopeo, podman and syft read an untagged layout
/// only when it names the image alone: issue 13, point 5); `referrers: false` leaves it
/// behind.
#[test]
fn referrers_travel_with_a_pull_into_a_layout() {
    let (manifest, mut blobs) = image(b"signed layer");
    let subject = sha256(&manifest);
    let sig_payload = b"signature".to_vec();
    let empty = b"{}".to_vec();
    blobs.insert(sha256(&sig_payload), sig_payload.clone());
    blobs.insert(sha256(&empty), empty.clone());
    let sig = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.dev.cosign.simplesigning.v1+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"{}","size":{}}}],"subject":{{"mediaType":"{MANIFEST_TYPE}","digest":"{subject}","size":{}}}}}"#,
        sha256(&empty),
        sha256(&sig_payload),
        sig_payload.len(),
        manifest.len()
    )
    .into_bytes();
    let sig_digest = sha256(&sig);
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"{MANIFEST_TYPE}","artifactType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"{sig_digest}","size":{}}}]}}"#,
        sig.len()
    );
    let server = {
        let manifest = manifest.clone();
        let sig = sig.clone();
        let sig_digest = sig_digest.clone();
        Server::start(move |req| {
            if req.target == format!("/v2/r/referrers/{subject}") {
                return Response::new(200)
                    .header("content-type", "application/vnd.oci.image.index.v1+json")
                    .body(index.clone());
            }
            if req.target.starts_with("/v2/r/referrers/") {
                return Response::new(200)
                    .header("content-type", "application/vnd.oci.image.index.v1+json")
                    .body(r#"{"schemaVersion":2,"manifests":[]}"#);
            }
            if req.target == format!("/v2/r/manifests/{sig_digest}") {
                return Response::new(200)
                    .header("content-type", MANIFEST_TYPE)
                    .body(sig.clone());
            }
            registry(req, &manifest, &blobs)
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("with");
    pull_to(&client(None), &server.addr, &out).unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(out.join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{index}");
    assert_eq!(
        entries[0]["annotations"]["org.opencontainers.image.ref.name"],
        "t"
    );
    let layout = plinth_oci::source::LayoutSource::open(&out).unwrap();
    let layout: &dyn plinth_oci::ImageSource = &layout;
    let found = layout
        .referrers(&sha256(&manifest).parse().unwrap())
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].digest, sig_digest);
    let sig_path = out.join("blobs/sha256").join(&sig_digest[7..]);
    assert_eq!(fs_err::read(sig_path).unwrap(), sig);
    assert!(
        out.join("blobs/sha256")
            .join(&sha256(&sig_payload)[7..])
            .is_file()
    );

    let without = dir.path().join("without");
    let src = Endpoint::Registry(Reference::parse(&format!("{}/r:t", server.addr)).unwrap());
    let dst = Endpoint::Disk {
        path: without.clone(),
        tag: None,
        format: DiskFormat::Layout,
        arg: without.display().to_string(),
    };
    let report = plinth_registry::copy(
        &client(None),
        &src,
        &dst,
        &CopyOptions {
            platform: None,
            referrers: false,
        },
        &NoReporter,
    )
    .unwrap();
    assert_eq!(report.referrers, 0);
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(without.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
}

/// `RegistrySource` is lazy: opening it fetches the manifest, resolving the image its
/// config, and only squashing the filesystem fetches the layer, once, verified.
#[test]
fn a_registry_source_fetches_a_layer_only_when_it_is_read() {
    use plinth_oci::testing::{file_entry, gzip, tar_bytes};
    use plinth_oci::{ImageFs, ImageFsOptions, ImageSource};
    let tar = tar_bytes(&[file_entry("etc/os-release", b"ID=lazy\n")]);
    let layer = gzip(&tar);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        sha256(&tar)
    )
    .into_bytes();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{MANIFEST_TYPE}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}]}}"#,
        sha256(&config),
        config.len(),
        sha256(&layer),
        layer.len()
    )
    .into_bytes();
    let blobs = HashMap::from([(sha256(&config), config), (sha256(&layer), layer.clone())]);
    let server = {
        let manifest = manifest.clone();
        Server::start(move |req| registry(req, &manifest, &blobs))
    };
    let layer_gets = || {
        server
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.target.ends_with(&sha256(&layer)))
            .count()
    };
    let r = Reference::parse(&format!("{}/r:t", server.addr)).unwrap();
    let src = plinth_registry::RegistrySource::open(client(None), &r).unwrap();
    let src: &dyn ImageSource = &src;
    let images = src.images(Some("t")).unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(layer_gets(), 0, "the layer was fetched before it was read");
    let fs = ImageFs::open(src, &images[0], &ImageFsOptions::default()).unwrap();
    assert!(fs.get("etc/os-release").is_some());
    assert_eq!(layer_gets(), 1);
}
