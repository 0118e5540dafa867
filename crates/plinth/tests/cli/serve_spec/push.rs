//! Push: blobs (monolithic, POST+PUT, chunked, streamed, mounts; sha256 and sha512) and
//! manifests (by digest, by tag, with `?tag=`, with `subject`).

use serde_json::json;

use super::client::*;
use crate::support::serve::Serve;

/// A pushed blob is there, whole, under the `Location` the server gave and by digest.
fn assert_blob(api: &Api, repo: &str, location: &str, bytes: &[u8], d: &str) {
    let r = api.get(location);
    r.expect(200);
    assert_eq!(r.body, bytes);
    let r = api.get(&format!("/v2/{repo}/blobs/{d}"));
    r.expect(200);
    assert_eq!(r.body, bytes);
    assert_eq!(r.header("docker-content-digest"), Some(d));
    assert_eq!(r.header("content-length"), Some(&*bytes.len().to_string()));
}

#[test]
fn push_blob_monolithic_post_with_digest_is_201_with_location_and_digest() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(512);
    let d = sha256(&bytes);
    let r = api.send(
        "POST",
        &format!("/v2/mono/blobs/uploads/?digest={d}"),
        &[("content-type", "application/octet-stream")],
        Some(&bytes),
    );
    r.expect(201);
    assert_eq!(r.header("docker-content-digest"), Some(&*d));
    assert_blob(&api, "mono", &r.location(), &bytes, &d);
}

#[test]
fn push_blob_post_then_put_is_202_then_201() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(512);
    let d = sha256(&bytes);
    let r = api.send("POST", "/v2/postput/blobs/uploads/", &[], None);
    r.expect(202);
    let loc = r.location();
    assert!(r.header("docker-upload-uuid").is_some());
    let r = api.send(
        "PUT",
        &Api::with_digest(&loc, &d),
        &[("content-type", "application/octet-stream")],
        Some(&bytes),
    );
    r.expect(201);
    assert_eq!(r.header("docker-content-digest"), Some(&*d));
    assert_blob(&api, "postput", &r.location(), &bytes, &d);
}

/// Sends `bytes` in chunks of `chunk` with `Content-Range`, checking the `Range` each
/// answer reports; the last chunk goes with the PUT when `put_last`. The final answer.
fn push_chunked(
    api: &Api,
    repo: &str,
    bytes: &[u8],
    d: &str,
    chunk: usize,
    put_last: bool,
) -> Resp {
    let mut loc = api.start_upload(repo);
    let mut start = 0;
    while start < bytes.len() {
        let end = (start + chunk).min(bytes.len());
        let range = format!("{}-{}", start, end - 1);
        let len = (end - start).to_string();
        let headers = [
            ("content-type", "application/octet-stream"),
            ("content-range", range.as_str()),
            ("content-length", len.as_str()),
        ];
        if put_last && end == bytes.len() {
            return api.send(
                "PUT",
                &Api::with_digest(&loc, d),
                &headers,
                Some(&bytes[start..end]),
            );
        }
        let r = api.send("PATCH", &loc, &headers, Some(&bytes[start..end]));
        r.expect(202);
        assert_eq!(r.header("range"), Some(&*format!("0-{}", end - 1)));
        loc = r.location();
        start = end;
    }
    api.send(
        "PUT",
        &Api::with_digest(&loc, d),
        &[("content-length", "0")],
        None,
    )
}

#[test]
fn push_blob_chunked_with_content_range_in_one_and_in_three_chunks() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    for (size, chunk, put_last) in [
        (512, 512, false),
        (3 * 1024 - 5, 1024, false),
        (3 * 1024 - 5, 1024, true),
    ] {
        let bytes = random_bytes(size);
        let d = sha256(&bytes);
        let r = push_chunked(&api, "chunked", &bytes, &d, chunk, put_last);
        r.expect(201);
        assert_eq!(r.header("docker-content-digest"), Some(&*d));
        assert_blob(&api, "chunked", &r.location(), &bytes, &d);
    }
}

#[test]
fn push_blob_streamed_patch_without_content_range_or_length() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(100_000);
    let d = sha256(&bytes);
    let loc = api.start_upload("stream");
    // A reader body goes out with `Transfer-Encoding: chunked`, without a length.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent
        .run(
            ureq::http::Request::builder()
                .method("PATCH")
                .uri(format!("{}{loc}", api.base))
                .header("content-type", "application/octet-stream")
                .body(ureq::SendBody::from_reader(&mut &bytes[..]))
                .unwrap(),
        )
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        r.headers()["range"].to_str().unwrap(),
        format!("0-{}", bytes.len() - 1)
    );
    let r = api.send("PUT", &Api::with_digest(&loc, &d), &[], None);
    r.expect(201);
    assert_blob(&api, "stream", &r.location(), &bytes, &d);
}

#[test]
fn out_of_order_chunk_is_416_and_the_upload_goes_on_from_its_range() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(3000);
    let d = sha256(&bytes);
    let loc = api.start_upload("ooo");
    // A chunk that skips ahead.
    let r = api.send(
        "PATCH",
        &loc,
        &[("content-range", "1000-1999"), ("content-length", "1000")],
        Some(&bytes[1000..2000]),
    );
    r.expect_error(416, "BLOB_UPLOAD_INVALID");
    let r = api.send(
        "PATCH",
        &loc,
        &[("content-range", "0-999")],
        Some(&bytes[..1000]),
    );
    r.expect(202);
    let loc = r.location();
    // A chunk that goes back to the start.
    let r = api.send(
        "PATCH",
        &loc,
        &[("content-range", "0-999")],
        Some(&bytes[..1000]),
    );
    assert_eq!(r.status, 416);
    // The PUT carrying an out-of-order last chunk is refused the same way.
    let r = api.send(
        "PUT",
        &Api::with_digest(&loc, &d),
        &[("content-range", "2000-2999")],
        Some(&bytes[2000..]),
    );
    assert_eq!(r.status, 416);
    // The session still holds the first 1000 bytes and says so.
    let r = api.get(&loc);
    r.expect(204);
    assert_eq!(r.header("range"), Some("0-999"));
    let loc = r.location();
    let r = api.send(
        "PATCH",
        &loc,
        &[("content-range", "1000-1999")],
        Some(&bytes[1000..2000]),
    );
    r.expect(202);
    let r = api.send(
        "PUT",
        &Api::with_digest(&r.location(), &d),
        &[("content-range", "2000-2999")],
        Some(&bytes[2000..]),
    );
    r.expect(201);
    assert_blob(&api, "ooo", &r.location(), &bytes, &d);
}

#[test]
fn upload_status_get_is_204_with_location_and_range() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let loc = api.start_upload("status");
    let r = api.get(&loc);
    r.expect(204);
    assert!(r.header("location").is_some());
    assert_eq!(r.header("range"), Some("0-0"), "an empty upload");
    let r = api.send("PATCH", &loc, &[], Some(b"0123456789"));
    r.expect(202);
    let r = api.get(&r.location());
    r.expect(204);
    assert_eq!(r.header("range"), Some("0-9"));
}

#[test]
fn oci_chunk_min_length_is_advertised_when_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("registry.toml");
    fs_err::write(
        &config,
        "[storage]\ntype = \"fs\"\npath = \"s\"\n[limits]\nchunk_min_bytes = 2048\n",
    )
    .unwrap();
    let serve = Serve::start_on(
        &tmp.path().join("s"),
        &["--config", config.to_str().unwrap()],
    );
    let api = Api::new(&serve);
    let r = api.send("POST", "/v2/min/blobs/uploads/", &[], None);
    r.expect(202);
    assert_eq!(r.header("oci-chunk-min-length"), Some("2048"));
    // A client that follows it: chunks of 2048.
    let bytes = random_bytes(3 * 2048 - 5);
    let d = sha256(&bytes);
    let r = push_chunked(&api, "min", &bytes, &d, 2048, false);
    r.expect(201);
    // Without the key, no header.
    let plain = Serve::start();
    let r = Api::new(&plain).send("POST", "/v2/min/blobs/uploads/", &[], None);
    r.expect(202);
    assert_eq!(r.header("oci-chunk-min-length"), None);
}

#[test]
fn cancel_upload_is_204_and_the_session_is_then_unknown() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let loc = api.start_upload("cancel");
    api.send("PATCH", &loc, &[], Some(b"partial")).expect(202);
    api.delete(&loc).expect(204);
    api.get(&loc).expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    api.send("PATCH", &loc, &[], Some(b"more"))
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    api.delete(&loc).expect_error(404, "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn push_blob_with_a_wrong_digest_is_400_digest_invalid_and_stores_nothing() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(3000);
    let d = sha256(&bytes);
    let mut corrupt = bytes.clone();
    corrupt.extend_from_slice(b"oh no");
    // POST only.
    api.send(
        "POST",
        &format!("/v2/bad/blobs/uploads/?digest={d}"),
        &[],
        Some(&corrupt),
    )
    .expect_error(400, "DIGEST_INVALID");
    // POST + PUT.
    let loc = api.start_upload("bad");
    api.send("PUT", &Api::with_digest(&loc, &d), &[], Some(&corrupt))
        .expect_error(400, "DIGEST_INVALID");
    // Chunked, the last chunk in a PATCH or in the PUT.
    for put_last in [false, true] {
        push_chunked(&api, "bad", &corrupt, &d, 1024, put_last).expect_error(400, "DIGEST_INVALID");
    }
    // Streamed.
    let loc = api.start_upload("bad");
    let r = api.send("PATCH", &loc, &[], Some(&corrupt));
    r.expect(202);
    api.send("PUT", &Api::with_digest(&r.location(), &d), &[], None)
        .expect_error(400, "DIGEST_INVALID");
    api.head(&format!("/v2/bad/blobs/{d}")).expect(404);
    api.head(&format!("/v2/bad/blobs/{}", sha256(&corrupt)))
        .expect(404);
}

#[test]
fn sha512_blobs_push_every_way_and_pull_under_their_sha512_digest() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    // POST only.
    let bytes = random_bytes(512);
    let d = sha512(&bytes);
    api.send(
        "POST",
        &format!("/v2/s512/blobs/uploads/?digest={d}"),
        &[],
        Some(&bytes),
    )
    .expect(201);
    let r = api.get(&format!("/v2/s512/blobs/{d}"));
    r.expect(200);
    assert_eq!(r.body, bytes);
    assert_eq!(r.header("docker-content-digest"), Some(&*d));
    // POST + PUT, chunked, streamed.
    let bytes = random_bytes(600);
    let d = sha512(&bytes);
    api.push_blob_as("s512", &bytes, &d);
    api.get(&format!("/v2/s512/blobs/{d}")).expect(200);
    let bytes = random_bytes(3000);
    let d = sha512(&bytes);
    push_chunked(&api, "s512", &bytes, &d, 1024, true).expect(201);
    assert_eq!(api.get(&format!("/v2/s512/blobs/{d}")).body, bytes);
    // A wrong sha512 is refused.
    let loc = api.start_upload("s512");
    api.send(
        "PUT",
        &Api::with_digest(&loc, &sha512(b"other")),
        &[],
        Some(&bytes),
    )
    .expect_error(400, "DIGEST_INVALID");
}

#[test]
fn sha512_manifests_and_indexes_push_and_pull_by_their_sha512_digest() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let layer = random_bytes(800);
    let (cd, ld) = (sha512(&config), sha512(&layer));
    api.push_blob_as("m512", &config, &cd);
    api.push_blob_as("m512", &layer, &ld);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": OCI_CONFIG, "digest": cd, "size": config.len() },
        "layers": [{ "mediaType": OCI_LAYER, "digest": ld, "size": layer.len() }],
    }))
    .unwrap();
    let md = sha512(&manifest);
    let r = api.put_manifest("m512", &md, OCI_MANIFEST, &manifest);
    r.expect(201);
    assert_eq!(r.header("docker-content-digest"), Some(&*md));
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{ "mediaType": OCI_MANIFEST, "digest": md, "size": manifest.len(), "platform": {"os": "linux", "architecture": "amd64"} }],
    }))
    .unwrap();
    let id = sha512(&index);
    let r = api.send(
        "PUT",
        &format!("/v2/m512/manifests/{id}?tag=tag-param-sha512"),
        &[("content-type", OCI_INDEX)],
        Some(&index),
    );
    r.expect(201);
    assert_eq!(r.header("oci-tag"), Some("tag-param-sha512"));
    for reference in [id.as_str(), "tag-param-sha512"] {
        let r = api.get(&format!("/v2/m512/manifests/{reference}"));
        r.expect(200);
        assert_eq!(r.body, index);
        assert_eq!(r.header("docker-content-digest"), Some(&*id));
    }
    let r = api.get(&format!("/v2/m512/manifests/{md}"));
    assert_eq!(r.body, manifest);
}

#[test]
fn empty_blob_and_empty_json_blob_push_and_pull() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    for bytes in [&b""[..], &b"{}"[..]] {
        let d = api.push_blob("small", bytes);
        let r = api.get(&format!("/v2/small/blobs/{d}"));
        r.expect(200);
        assert_eq!(r.body, bytes);
        assert_eq!(r.header("content-length"), Some(&*bytes.len().to_string()));
        let r = api.head(&format!("/v2/small/blobs/{d}"));
        r.expect(200);
        assert_eq!(r.header("content-length"), Some(&*bytes.len().to_string()));
    }
    // The empty blob by POST only, too.
    let d = sha256(b"");
    api.send(
        "POST",
        &format!("/v2/small2/blobs/uploads/?digest={d}"),
        &[("content-length", "0")],
        None,
    )
    .expect(201);
    api.head(&format!("/v2/small2/blobs/{d}")).expect(200);
}

#[test]
fn mount_from_another_repository_is_201() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(512);
    let d = api.push_blob("source", &bytes);
    api.head(&format!("/v2/target/blobs/{d}")).expect(404);
    let r = api.send(
        "POST",
        &format!("/v2/target/blobs/uploads/?mount={d}&from=source"),
        &[],
        None,
    );
    r.expect(201);
    assert_eq!(r.header("docker-content-digest"), Some(&*d));
    assert_blob(&api, "target", &r.location(), &bytes, &d);
}

#[test]
fn mount_without_from_is_201_for_a_blob_the_registry_holds() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(512);
    let d = api.push_blob("source", &bytes);
    let r = api.send(
        "POST",
        &format!("/v2/anon/blobs/uploads/?mount={d}"),
        &[],
        None,
    );
    r.expect(201);
    assert_blob(&api, "anon", &r.location(), &bytes, &d);
}

#[test]
fn mount_of_a_blob_not_in_from_falls_back_to_an_upload_session() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(512);
    // The blob is in the registry (in `other`) but not in `from`.
    let d = api.push_blob("other", &bytes);
    for query in [
        format!("mount={d}&from=source"),
        format!("mount={}&from=other", sha256(b"never pushed")),
        format!("mount={}", sha256(b"never pushed")),
    ] {
        let r = api.send(
            "POST",
            &format!("/v2/target/blobs/uploads/?{query}"),
            &[],
            None,
        );
        r.expect(202);
        // The session works as any other.
        let r = api.send(
            "PUT",
            &Api::with_digest(&r.location(), &d),
            &[],
            Some(&bytes),
        );
        r.expect(201);
    }
    api.head(&format!("/v2/source/blobs/{d}")).expect(404);
}

#[test]
fn push_manifest_by_digest_and_by_tag_is_201_with_location_and_digest() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let img = image(
        &api,
        "man",
        ImageSpec {
            layers: 2,
            ..Default::default()
        },
    );
    let r = api.put_manifest("man", &img.digest, OCI_MANIFEST, &img.manifest);
    r.expect(201);
    assert_eq!(r.header("docker-content-digest"), Some(&*img.digest));
    let r = api.get(&r.location());
    r.expect(200);
    assert_eq!(r.body, img.manifest);
    let r = api.put_manifest("man", "v1", OCI_MANIFEST, &img.manifest);
    r.expect(201);
    assert_eq!(r.header("docker-content-digest"), Some(&*img.digest));
    let r = api.get(&r.location());
    r.expect(200);
    assert_eq!(r.body, img.manifest);
}

#[test]
fn push_manifest_with_tag_params_sets_every_tag_and_answers_oci_tag() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let img = image(
        &api,
        "tp",
        ImageSpec {
            layers: 1,
            ..Default::default()
        },
    );
    let r = api.send(
        "PUT",
        &format!(
            "/v2/tp/manifests/{}?tag=tag-param-sha256-0&tag=tag-param-sha256",
            img.digest
        ),
        &[("content-type", OCI_MANIFEST)],
        Some(&img.manifest),
    );
    r.expect(201);
    let tags: Vec<String> = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("oci-tag"))
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|t| t.trim().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(tags.contains(&"tag-param-sha256-0".to_string()), "{tags:?}");
    assert!(tags.contains(&"tag-param-sha256".to_string()), "{tags:?}");
    for t in ["tag-param-sha256-0", "tag-param-sha256"] {
        let r = api.head(&format!("/v2/tp/manifests/{t}"));
        r.expect(200);
        assert_eq!(r.header("docker-content-digest"), Some(&*img.digest));
    }
    // A tag outside the grammar is refused and sets nothing.
    let r = api.send(
        "PUT",
        &format!("/v2/tp/manifests/{}?tag=.bad", img.digest),
        &[("content-type", OCI_MANIFEST)],
        Some(&img.manifest),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn push_manifest_with_a_subject_answers_oci_subject_even_when_the_subject_is_missing() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let subject = push_image(&api, "subj", "image");
    let art = image(
        &api,
        "subj",
        ImageSpec {
            layers: 1,
            artifact_type: Some(ARTIFACT_1),
            config_media_type: Some(OCI_EMPTY),
            config_bytes: Some(b"{}"),
            layer_media_type: Some(ARTIFACT_1),
            subject: Some(
                json!({ "mediaType": OCI_MANIFEST, "digest": subject.digest, "size": subject.manifest.len() }),
            ),
            ..Default::default()
        },
    );
    let r = api.put_manifest("subj", &art.digest, OCI_MANIFEST, &art.manifest);
    r.expect(201);
    assert_eq!(r.header("oci-subject"), Some(&*subject.digest));
    // A subject the registry does not hold (yet) is accepted all the same.
    let missing = sha256(b"missing content");
    let art = image(
        &api,
        "subj",
        ImageSpec {
            layers: 1,
            artifact_type: Some(ARTIFACT_1),
            config_media_type: Some(OCI_EMPTY),
            config_bytes: Some(b"{}"),
            subject: Some(json!({ "mediaType": OCI_MANIFEST, "digest": missing, "size": 123 })),
            ..Default::default()
        },
    );
    let r = api.put_manifest("subj", "tagged-artifact", OCI_MANIFEST, &art.manifest);
    r.expect(201);
    assert_eq!(r.header("oci-subject"), Some(&*missing));
    let list = api.get(&format!("/v2/subj/referrers/{missing}")).json();
    assert_eq!(list["manifests"][0]["digest"], json!(art.digest));
}

#[test]
fn push_manifest_whose_bytes_do_not_match_the_digest_is_400_digest_invalid() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let img = image(
        &api,
        "bd",
        ImageSpec {
            layers: 1,
            ..Default::default()
        },
    );
    let mut spaced = img.manifest.clone();
    spaced.extend_from_slice(b"  ");
    api.put_manifest("bd", &img.digest, OCI_MANIFEST, &spaced)
        .expect_error(400, "DIGEST_INVALID");
    api.put_manifest("bd", "sha256:baddigeststring", OCI_MANIFEST, &img.manifest)
        .expect(400);
    api.head(&format!("/v2/bd/manifests/{}", img.digest))
        .expect(404);
    let r = api.get("/v2/bd/manifests/sha256:baddigeststring");
    assert!(r.status == 400 || r.status == 404, "{}", r.status);
}

#[test]
fn manifests_of_every_kind_push_and_pull_byte_for_byte() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let repo = "kinds";
    let plain = image(
        &api,
        repo,
        ImageSpec {
            layers: 1,
            ..Default::default()
        },
    );
    let no_layers = image(&api, repo, ImageSpec::default());
    let docker = image(
        &api,
        repo,
        ImageSpec {
            docker: true,
            layers: 1,
            ..Default::default()
        },
    );
    let artifact = image(
        &api,
        repo,
        ImageSpec {
            layers: 1,
            artifact_type: Some(ARTIFACT_1),
            config_media_type: Some(OCI_EMPTY),
            config_bytes: Some(b"{}"),
            layer_media_type: Some(ARTIFACT_1),
            ..Default::default()
        },
    );
    let artifact_empty_layer = {
        api.push_blob(repo, b"{}");
        let m = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": ARTIFACT_1,
            "config": descriptor(OCI_EMPTY, b"{}"),
            "layers": [descriptor(OCI_EMPTY, b"{}")],
        }))
        .unwrap();
        (m, OCI_MANIFEST)
    };
    // Descriptors with a `data` field, and fields the spec does not know.
    let data_field = {
        let config = br#"{"architecture":"arm64","os":"linux"}"#;
        api.push_blob(repo, config);
        let mut c = descriptor(OCI_CONFIG, config);
        c["data"] = json!(base64_std(config));
        let m = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": c,
            "layers": [],
            "extraField": { "kept": true },
        }))
        .unwrap();
        (m, OCI_MANIFEST)
    };
    let mut pushed: Vec<(Vec<u8>, &str)> = vec![
        (plain.manifest.clone(), OCI_MANIFEST),
        (no_layers.manifest.clone(), OCI_MANIFEST),
        (docker.manifest.clone(), DOCKER_MANIFEST),
        (artifact.manifest.clone(), OCI_MANIFEST),
        artifact_empty_layer,
        data_field,
    ];
    for (m, mt) in &pushed {
        api.put_manifest(repo, &sha256(m), mt, m).expect(201);
    }
    // Indexes: multi-platform, empty, nested, an artifact index, a Docker list.
    let multi = index(
        OCI_INDEX,
        &[
            (OCI_MANIFEST, &plain.manifest, platform("amd64")),
            (OCI_MANIFEST, &no_layers.manifest, platform("arm64")),
        ],
        json!({}),
    );
    let empty = index(OCI_INDEX, &[], json!({}));
    let artifact_index = index(
        OCI_INDEX,
        &[(OCI_MANIFEST, &artifact.manifest, None)],
        json!({ "artifactType": ARTIFACT_2 }),
    );
    let list = index(
        DOCKER_LIST,
        &[(DOCKER_MANIFEST, &docker.manifest, platform("amd64"))],
        json!({}),
    );
    for (m, mt) in [
        (&multi, OCI_INDEX),
        (&empty, OCI_INDEX),
        (&artifact_index, OCI_INDEX),
        (&list, DOCKER_LIST),
    ] {
        api.put_manifest(repo, &sha256(m), mt, m).expect(201);
        pushed.push((m.clone(), mt));
    }
    let nested = index(
        OCI_INDEX,
        &[(OCI_INDEX, &multi, None), (OCI_INDEX, &empty, None)],
        json!({}),
    );
    api.put_manifest(repo, "index-of-index", OCI_INDEX, &nested)
        .expect(201);
    pushed.push((nested, OCI_INDEX));
    for (m, mt) in &pushed {
        let d = sha256(m);
        let r = api.send(
            "GET",
            &format!("/v2/{repo}/manifests/{d}"),
            &[("accept", OCI_MANIFEST), ("accept", OCI_INDEX)],
            None,
        );
        r.expect(200);
        assert_eq!(&r.body, m, "byte for byte");
        assert_eq!(
            r.header("content-type"),
            Some(*mt),
            "the media type it was pushed with"
        );
        assert_eq!(r.header("docker-content-digest"), Some(&*d));
        assert_eq!(r.header("content-length"), Some(&*m.len().to_string()));
    }
}

#[test]
fn large_manifest_under_the_cap_is_accepted() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    // As the conformance suite's: 390 annotations of 10,000 bytes (about 3.9 MB).
    let mut annotations = serde_json::Map::new();
    for i in 0..390 {
        annotations.insert(format!("large-annotation-{i}"), json!("A".repeat(10_000)));
    }
    let img = image(
        &api,
        "large",
        ImageSpec {
            layers: 1,
            annotations: Some(annotations.into()),
            ..Default::default()
        },
    );
    assert!(img.manifest.len() > 3_900_000 && img.manifest.len() < 4 << 20);
    api.put_manifest("large", "large-manifest", OCI_MANIFEST, &img.manifest)
        .expect(201);
    assert_eq!(
        api.get("/v2/large/manifests/large-manifest").body,
        img.manifest
    );
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
