//! Nothing corrupt is ever visible: a client that goes away mid-upload, a server killed
//! mid-upload, and manifests that name what the repository does not hold.

use serde_json::json;

use super::client::*;
use crate::support::serve::Serve;

#[test]
fn a_client_that_disconnects_mid_patch_or_put_leaves_no_visible_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let (serve, _cfg) = serve_with_limits(&storage, "upload_expiry_secs = 2");
    let api = Api::new(&serve);
    let bytes = random_bytes(1 << 20);
    let d = sha256(&bytes);
    // Monolithic POST, PUT of a session, and PATCH: each cut off halfway.
    let loc_put = api.start_upload("cut");
    let loc_patch = api.start_upload("cut");
    for head in [
        format!("POST /v2/cut/blobs/uploads/?digest={d} HTTP/1.1"),
        format!("PUT {} HTTP/1.1", Api::with_digest(&loc_put, &d)),
        format!("PATCH {loc_patch} HTTP/1.1"),
    ] {
        let mut raw = Raw::connect(&serve.host);
        raw.write(
            format!(
                "{head}\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
                serve.host,
                bytes.len()
            )
            .as_bytes(),
        );
        raw.write(&bytes[..bytes.len() / 2]);
        drop(raw);
    }
    // Nothing visible, and the sessions hold no part of the cut chunks.
    assert!(eventually(
        || api.get(&loc_patch).header("range") == Some("0-0")
    ));
    assert!(eventually(
        || api.get(&loc_put).header("range") == Some("0-0")
    ));
    api.head(&format!("/v2/cut/blobs/{d}")).expect(404);
    // The same after a restart on the same storage.
    let mut serve = serve;
    serve.kill();
    let (serve, _cfg2) = serve_with_limits(&storage, "upload_expiry_secs = 2");
    let api = Api::new(&serve);
    api.head(&format!("/v2/cut/blobs/{d}")).expect(404);
    // And the sessions' directories go once expired.
    assert!(
        eventually(|| entries(&storage.join("_uploads")).is_empty()),
        "upload directories left: {:?}\n{}",
        entries(&storage.join("_uploads")),
        serve.log_text()
    );
    api.get(&loc_patch).expect_error(404, "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn a_server_killed_mid_upload_leaves_no_visible_blob_and_no_upload_after_expiry() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let (mut serve, _cfg) = serve_with_limits(&storage, "upload_expiry_secs = 2");
    let api = Api::new(&serve);
    let bytes = random_bytes(4 << 20);
    let d = sha256(&bytes);
    // One upload with a committed chunk, then a second chunk in flight; one monolithic.
    let loc = api.start_upload("killed");
    let r = api.send(
        "PATCH",
        &loc,
        &[("content-range", "0-999")],
        Some(&bytes[..1000]),
    );
    r.expect(202);
    let mut chunk = Raw::connect(&serve.host);
    chunk.write(
        format!(
            "PATCH {} HTTP/1.1\r\nHost: {}\r\nContent-Range: 1000-{}\r\nContent-Length: {}\r\n\r\n",
            r.location(),
            serve.host,
            bytes.len() - 1,
            bytes.len() - 1000
        )
        .as_bytes(),
    );
    chunk.write(&bytes[1000..2 << 20]);
    let mut mono = Raw::connect(&serve.host);
    mono.write(
        format!(
            "POST /v2/killed/blobs/uploads/?digest={d} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
            serve.host,
            bytes.len()
        )
        .as_bytes(),
    );
    mono.write(&bytes[..3 << 20]);
    // Wait until bytes of both transfers in flight are on disk, then SIGKILL the server.
    let in_flight = |dir: &std::path::Path| {
        entries(dir)
            .iter()
            .map(|id| fs_err::metadata(dir.join(id).join("data")).map_or(0, |m| m.len()))
            .filter(|&n| n > 1000)
            .count()
    };
    assert!(eventually(|| in_flight(&storage.join("_uploads")) >= 2));
    serve.kill();
    drop((chunk, mono));
    let (serve, _cfg2) = serve_with_limits(&storage, "upload_expiry_secs = 2");
    let api = Api::new(&serve);
    api.head(&format!("/v2/killed/blobs/{d}")).expect(404);
    api.get(&format!("/v2/killed/blobs/{d}"))
        .expect_error(404, "BLOB_UNKNOWN");
    assert!(
        eventually(|| entries(&storage.join("_uploads")).is_empty()
            && entries(&storage.join("_tmp")).is_empty()),
        "left behind: uploads {:?}, tmp {:?}\n{}",
        entries(&storage.join("_uploads")),
        entries(&storage.join("_tmp")),
        serve.log_text()
    );
    // Nothing under blobs/ at all: no blob was ever whole.
    let blobs = storage.join("blobs");
    let mut files = Vec::new();
    let mut stack = vec![blobs];
    while let Some(dir) = stack.pop() {
        for e in fs_err::read_dir(&dir).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    assert!(files.is_empty(), "{files:?}");
    // The store works as before.
    let d2 = api.push_blob("killed", b"after the restart");
    api.head(&format!("/v2/killed/blobs/{d2}")).expect(200);
}

#[test]
fn a_manifest_naming_a_blob_the_repository_does_not_hold_is_manifest_blob_unknown() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    // A layer never pushed.
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    api.push_blob("mbu", config);
    let missing = random_bytes(100);
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER, &missing)],
    }))
    .unwrap();
    let r = api.put_manifest("mbu", "latest", OCI_MANIFEST, &m);
    r.expect_error(400, "MANIFEST_BLOB_UNKNOWN");
    // A layer pushed to another repository only.
    api.push_blob("elsewhere", &missing);
    api.put_manifest("mbu", "latest", OCI_MANIFEST, &m)
        .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
    // A config never pushed.
    let m2 = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, b"{\"never\":true}"),
        "layers": [],
    }))
    .unwrap();
    api.put_manifest("mbu", "latest", OCI_MANIFEST, &m2)
        .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
    // An index naming a manifest the repository does not hold.
    let idx = index(
        OCI_INDEX,
        &[(OCI_MANIFEST, &m, platform("amd64"))],
        json!({}),
    );
    api.put_manifest("mbu", "index", OCI_INDEX, &idx)
        .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
    api.head("/v2/mbu/manifests/latest").expect(404);
    api.head("/v2/mbu/manifests/index").expect(404);
    // Once the layer is there, the same manifest goes in.
    api.push_blob("mbu", &missing);
    api.put_manifest("mbu", "latest", OCI_MANIFEST, &m)
        .expect(201);
    api.put_manifest("mbu", "index", OCI_INDEX, &idx)
        .expect(201);
}

/// Readers racing writers of the same blob (monolithic and chunked pushes, in several
/// repositories) see it whole or not at all: every GET is a 404 or the exact bytes.
#[test]
fn readers_racing_pushes_of_the_same_blob_see_it_whole_or_not_at_all() {
    let serve = Serve::start();
    let bytes = random_bytes(3 << 20);
    let d = sha256(&bytes);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..3)
            .map(|i| {
                let (serve, bytes, d, stop) = (&serve, &bytes, &d, &stop);
                s.spawn(move || {
                    let api = Api::new(serve);
                    let repo = format!("race{}", i % 2);
                    let (mut whole, mut missing) = (0, 0);
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let r = api.get(&format!("/v2/{repo}/blobs/{d}"));
                        match r.status {
                            200 => {
                                assert!(r.body == *bytes, "a partial or wrong blob was served");
                                whole += 1;
                            }
                            404 => missing += 1,
                            other => panic!("GET answered {other}"),
                        }
                    }
                    (whole, missing)
                })
            })
            .collect();
        let writers: Vec<_> = (0..2)
            .map(|i| {
                let (serve, bytes, d) = (&serve, &bytes, &d);
                s.spawn(move || {
                    let api = Api::new(serve);
                    let repo = format!("race{i}");
                    for round in 0..4 {
                        if round % 2 == 0 {
                            api.send(
                                "POST",
                                &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
                                &[],
                                Some(bytes),
                            )
                            .expect(201);
                        } else {
                            let mut loc = api.start_upload(&repo);
                            for (n, chunk) in bytes.chunks(1 << 20).enumerate() {
                                let range = format!("{}-{}", n << 20, (n << 20) + chunk.len() - 1);
                                let r = api.send(
                                    "PATCH",
                                    &loc,
                                    &[("content-range", &range)],
                                    Some(chunk),
                                );
                                r.expect(202);
                                loc = r.location();
                            }
                            api.send("PUT", &Api::with_digest(&loc, d), &[], None)
                                .expect(201);
                        }
                        api.delete(&format!("/v2/{repo}/blobs/{d}")).expect(202);
                    }
                    api.push_blob(&repo, bytes);
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        // One more round of reads once both are pushed for good.
        let api = Api::new(&serve);
        for repo in ["race0", "race1"] {
            assert!(api.get(&format!("/v2/{repo}/blobs/{d}")).body == bytes);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            let (whole, missing) = r.join().unwrap();
            assert!(whole + missing > 0);
        }
    });
}
