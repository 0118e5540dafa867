//! Hostile clients: names outside the grammar, oversized manifests, foreign upload ids,
//! expiry, slow and stalled clients, lying lengths, a full disk.

use std::process::Command;
use std::time::Duration;

use super::client::*;
use crate::support::serve::Serve;

/// Every file under `dir`, relative to it.
fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn names_outside_the_grammar_are_name_invalid_and_nothing_is_written_outside_the_root() {
    let outer = tempfile::tempdir().unwrap();
    let storage = outer.path().join("root").join("storage");
    let serve = Serve::start_on(&storage, &[]);
    let api = Api::new(&serve);
    let img = push_image(&api, "good/repo", "latest");
    let before_outer = tree(outer.path());
    let before_repos = tree(&storage.join("repositories"));
    let d = &img.digest;
    let bad_names = [
        "..",
        "../escape",
        "good/../../escape",
        "%2e%2e",
        "%2e%2e/%2e%2e/escape",
        "good/%2E%2E/x",
        "/abs",
        "/etc/passwd",
        "UPPER",
        "Good/repo",
        "good/_layers",
        "_uploads",
        "good/_manifests/tags",
        "a//b",
        "a/./b",
        "a%2fb",
    ];
    for name in bad_names {
        for (method, path, body) in [
            ("POST", format!("/v2/{name}/blobs/uploads/"), &b""[..]),
            (
                "POST",
                format!("/v2/{name}/blobs/uploads/?digest={}", sha256(b"x")),
                &b"x"[..],
            ),
            (
                "PUT",
                format!("/v2/{name}/manifests/latest"),
                &img.manifest[..],
            ),
            ("GET", format!("/v2/{name}/manifests/latest"), &b""[..]),
            ("GET", format!("/v2/{name}/blobs/{d}"), &b""[..]),
            ("GET", format!("/v2/{name}/tags/list"), &b""[..]),
            ("GET", format!("/v2/{name}/referrers/{d}"), &b""[..]),
            ("DELETE", format!("/v2/{name}/manifests/{d}"), &b""[..]),
        ] {
            let (status, text) = Raw::request(
                &serve.host,
                &format!(
                    "{method} {path} HTTP/1.1\r\nContent-Type: {OCI_MANIFEST}\r\nContent-Length: {}",
                    body.len()
                ),
                body,
            );
            assert_eq!(status, Some(400), "{method} {path}:\n{text}");
            assert!(text.contains("NAME_INVALID"), "{method} {path}:\n{text}");
        }
    }
    // A mount whose `from` is outside the grammar.
    let r = api.send(
        "POST",
        &format!("/v2/good/repo/blobs/uploads/?mount={d}&from=../x"),
        &[],
        None,
    );
    r.expect_error(400, "NAME_INVALID");
    assert_eq!(
        tree(outer.path()),
        before_outer,
        "nothing outside the storage root"
    );
    assert_eq!(
        tree(&storage.join("repositories")),
        before_repos,
        "no new repository"
    );
}

#[test]
fn manifest_over_the_cap_is_413_declared_or_streamed() {
    let tmp = tempfile::tempdir().unwrap();
    // The default cap (4 MiB): refused on the declared length, before the body.
    let serve = Serve::start();
    let mut raw = Raw::connect(&serve.host);
    raw.write(
        format!(
            "PUT /v2/big/manifests/latest HTTP/1.1\r\nHost: {}\r\nContent-Type: {OCI_MANIFEST}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            serve.host,
            (4 << 20) + 1
        )
        .as_bytes(),
    );
    let (status, text) = raw.read_answer();
    assert_eq!(status, Some(413), "{text}");
    // A configured cap, with a body streamed without a length.
    let (serve, _cfg) = serve_with_limits(&tmp.path().join("s"), "manifest_bytes = 1000");
    let api = Api::new(&serve);
    let img = push_image(&api, "capped", "small");
    assert!(img.manifest.len() < 1000);
    let big = format!(
        "{{\"schemaVersion\":2,\"padding\":\"{}\"}}",
        "x".repeat(5000)
    );
    let mut raw = Raw::connect(&serve.host);
    raw.write(
        format!(
            "PUT /v2/capped/manifests/big HTTP/1.1\r\nHost: {}\r\nContent-Type: {OCI_MANIFEST}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
            serve.host,
            big.len()
        )
        .as_bytes(),
    );
    let (status, text) = raw.read_answer();
    assert_eq!(status, Some(413), "{text}");
    api.head("/v2/capped/manifests/big").expect(404);
}

#[test]
fn an_upload_id_that_is_not_ours_is_blob_upload_unknown() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let theirs = api.start_upload("theirs");
    let id = theirs.rsplit('/').next().unwrap().to_string();
    for bad in [
        "not-a-uuid".to_string(),
        "..".to_string(),
        "%2e%2e".to_string(),
        "00000000-0000-0000-0000-000000000000".to_string(),
        id.to_uppercase(),
        format!("{id}x"),
    ] {
        let path = format!("/v2/ours/blobs/uploads/{bad}");
        api.get(&path).expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        api.send("PATCH", &path, &[], Some(b"data"))
            .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        api.send(
            "PUT",
            &Api::with_digest(&path, &sha256(b"data")),
            &[],
            Some(b"data"),
        )
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        api.delete(&path).expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    }
    // Another repository's session is not this one's.
    let path = format!("/v2/ours/blobs/uploads/{id}");
    api.get(&path).expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    api.send("PATCH", &path, &[], Some(b"data"))
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    api.delete(&path).expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    api.get(&theirs).expect(204);
}

#[test]
fn upload_sessions_expire_and_their_bytes_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("s");
    let (serve, _cfg) = serve_with_limits(&storage, "upload_expiry_secs = 1");
    let api = Api::new(&serve);
    let loc = api.start_upload("expire");
    api.send("PATCH", &loc, &[], Some(b"some bytes"))
        .expect(202);
    assert!(
        eventually(|| api.get(&loc).status == 404),
        "the session never expired"
    );
    api.get(&loc).expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    assert!(eventually(|| entries(&storage.join("_uploads")).is_empty()));
}

#[test]
fn slowloris_headers_are_cut_after_the_header_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let (serve, _cfg) = serve_with_limits(
        &tmp.path().join("s"),
        "header_timeout_secs = 2\nidle_timeout_secs = 30",
    );
    let mut raw = Raw::connect(&serve.host);
    // One byte a second of a header that would take two minutes to send.
    let header = format!(
        "GET /v2/ HTTP/1.1\r\nHost: {}\r\nX-Slow: {}\r\n\r\n",
        serve.host,
        "a".repeat(120)
    );
    let mut cut = false;
    for b in header.as_bytes() {
        if !raw.write(&[*b]) {
            cut = true;
            break;
        }
        // A closed connection also shows as readable with 0 bytes.
        raw.stream.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        let closed = std::io::Read::read(&mut raw.stream, &mut buf).is_ok();
        raw.stream.set_nonblocking(false).unwrap();
        if closed {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(cut, "the server waited for the whole slow header");
    // Others are served all along.
    Api::new(&serve).get("/v2/").expect(200);
}

#[test]
fn a_stalled_body_is_cut_after_the_idle_timeout_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (serve, _cfg) = serve_with_limits(&tmp.path().join("s"), "idle_timeout_secs = 2");
    let api = Api::new(&serve);
    let bytes = random_bytes(10_000);
    let d = sha256(&bytes);
    let loc = api.start_upload("stall");
    for head in [
        format!("PATCH {loc} HTTP/1.1"),
        format!("POST /v2/stall/blobs/uploads/?digest={d} HTTP/1.1"),
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
        raw.write(&bytes[..1000]);
        // Then nothing: the server answers with an error or closes; it does not wait on.
        let (status, text) = raw.read_answer();
        if let Some(s) = status {
            assert!(s >= 400, "{text}");
        }
    }
    api.get(&loc).expect(204);
    assert_eq!(api.get(&loc).header("range"), Some("0-0"));
    api.head(&format!("/v2/stall/blobs/{d}")).expect(404);
}

#[test]
fn a_content_length_that_lies_is_an_error_and_leaves_nothing() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(2000);
    let d = sha256(&bytes[..1000]);
    let loc = api.start_upload("liar");
    for head in [
        format!("POST /v2/liar/blobs/uploads/?digest={d} HTTP/1.1"),
        format!("PUT {} HTTP/1.1", Api::with_digest(&loc, &d)),
        format!("PATCH {loc} HTTP/1.1"),
        format!("PUT /v2/liar/manifests/latest HTTP/1.1\r\nContent-Type: {OCI_MANIFEST}"),
    ] {
        let mut raw = Raw::connect(&serve.host);
        // Declares 2000 bytes, sends 1000, and closes its side.
        raw.write(
            format!(
                "{head}\r\nHost: {}\r\nContent-Length: 2000\r\n\r\n",
                serve.host
            )
            .as_bytes(),
        );
        raw.write(&bytes[..1000]);
        raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
        let (status, text) = raw.read_answer();
        if let Some(s) = status {
            assert!(s >= 400, "{head}: {text}");
        }
    }
    api.head(&format!("/v2/liar/blobs/{d}")).expect(404);
    assert_eq!(api.get(&loc).header("range"), Some("0-0"));
    api.head("/v2/liar/manifests/latest").expect(404);
}

/// A small tmpfs mounted for the test, unmounted (after its server stops) on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("SKIPPED: mounting a tmpfs is not permitted here (needs root)");
            return None;
        }
        Some(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn the_disk_filling_up_is_a_5xx_and_a_log_line_and_the_store_is_intact_afterwards() {
    let Some(fs) = Tmpfs::mount("3m") else {
        return;
    };
    let storage = fs.dir.path().join("storage");
    let mut serve = Serve::start_on(&storage, &[]);
    let api = Api::new(&serve);
    let img = push_image(&api, "full", "before");
    let early = random_bytes(500_000);
    let early_d = api.push_blob("full", &early);
    // Larger than what is left, each way.
    let huge = random_bytes(4 << 20);
    let hd = sha256(&huge);
    // (Raw requests: the server may answer and close before the body is all sent.)
    let loc = api.start_upload("full");
    for head in [
        format!("POST /v2/full/blobs/uploads/?digest={hd} HTTP/1.1"),
        format!("PATCH {loc} HTTP/1.1"),
    ] {
        let (status, text) = Raw::request(
            &serve.host,
            &format!("{head}\r\nContent-Length: {}", huge.len()),
            &huge,
        );
        if let Some(s) = status {
            assert!(s >= 500, "{head}: {text}");
            assert!(text.contains("INTERNAL_ERROR"), "{text}");
        }
    }
    let log = serve.log_text();
    assert_eq!(
        log.matches("status=507").count(),
        2,
        "each full-disk failure is a 507 in the request log:\n{log}"
    );
    assert!(log.contains("storage failure"), "{log}");
    assert_eq!(
        api.get(&loc).header("range"),
        Some("0-0"),
        "the failed chunk is undone"
    );
    api.head(&format!("/v2/full/blobs/{hd}")).expect(404);
    // What was there still verifies, and a small push works.
    let r = api.get(&format!("/v2/full/blobs/{early_d}"));
    r.expect(200);
    assert_eq!(sha256(&r.body), early_d);
    let r = api.get("/v2/full/manifests/before");
    assert_eq!(r.body, img.manifest);
    for (d, b) in &img.blobs {
        assert_eq!(&api.get(&format!("/v2/full/blobs/{d}")).body, b);
    }
    let small = api.push_blob("full", b"a small push after the disk filled");
    api.head(&format!("/v2/full/blobs/{small}")).expect(200);
    api.put_manifest("full", "after", OCI_MANIFEST, &img.manifest)
        .expect(201);
    serve.kill();
    drop(fs);
}

/// The idle timeout is for connections where nothing moves: a client that reads a blob
/// slowly but steadily (so the server's reads wait all along) gets all of it.
#[test]
fn a_slow_but_steady_download_is_not_cut_by_the_idle_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let (serve, _cfg) = serve_with_limits(&tmp.path().join("s"), "idle_timeout_secs = 2");
    let api = Api::new(&serve);
    let bytes = random_bytes(16 << 20);
    let d = api.push_blob("slow", &bytes);
    let mut raw = Raw::connect(&serve.host);
    raw.write(
        format!(
            "GET /v2/slow/blobs/{d} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            serve.host
        )
        .as_bytes(),
    );
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match std::io::Read::read(&mut raw.stream, &mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the download failed after {} bytes: {e}", got.len()),
        }
        // About 3 MB/s: five seconds for the blob, each read well within the idle time.
        std::thread::sleep(Duration::from_millis(20));
    }
    let body_at = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(got.len() - body_at, bytes.len(), "the whole blob arrives");
    assert!(got[body_at..] == bytes[..]);
}

/// The upload expiry counts from a session's last activity: a slow chunked upload that
/// keeps sending outlives it.
#[test]
fn an_upload_that_keeps_sending_chunks_outlives_the_upload_expiry() {
    let tmp = tempfile::tempdir().unwrap();
    let (serve, _cfg) = serve_with_limits(&tmp.path().join("s"), "upload_expiry_secs = 2");
    let api = Api::new(&serve);
    let bytes = random_bytes(8 * 100);
    let d = sha256(&bytes);
    let mut loc = api.start_upload("steady");
    for (i, chunk) in bytes.chunks(100).enumerate() {
        // A quarter of the expiry between chunks: two expiries in all.
        std::thread::sleep(Duration::from_millis(500));
        let range = format!("{}-{}", i * 100, i * 100 + 99);
        let r = api.send("PATCH", &loc, &[("content-range", &range)], Some(chunk));
        r.expect(202);
        loc = r.location();
    }
    api.send("PUT", &Api::with_digest(&loc, &d), &[], None)
        .expect(201);
}

/// A keep-alive connection that goes quiet after its answer is closed after the idle
/// timeout (and not before it has been answered).
#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let (serve, _cfg) = serve_with_limits(&tmp.path().join("s"), "idle_timeout_secs = 2");
    let mut raw = Raw::connect(&serve.host);
    raw.write(format!("GET /v2/ HTTP/1.1\r\nHost: {}\r\n\r\n", serve.host).as_bytes());
    // The answer comes, then nothing; the server closes: read_answer returns at EOF
    // (it would fail after 60 s of neither).
    let (status, text) = raw.read_answer();
    assert_eq!(status, Some(200), "{text}");
    assert!(text.ends_with("{}"), "one whole answer: {text}");
}
