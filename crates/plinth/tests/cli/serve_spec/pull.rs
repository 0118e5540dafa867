//! Pull: manifests by tag and digest, blobs, ranges, HEAD, missing content.

use super::client::*;
use crate::support::serve::Serve;

#[test]
fn ping_v2_is_200() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let r = api.get("/v2/");
    r.expect(200);
    api.head("/v2/").expect(200);
}

#[test]
fn pull_manifest_by_tag_and_by_digest_with_its_digest_length_and_type() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let img = push_image(&api, "pull", "image");
    for reference in ["image", img.digest.as_str()] {
        let r = api.get(&format!("/v2/pull/manifests/{reference}"));
        r.expect(200);
        assert_eq!(r.body, img.manifest);
        assert_eq!(r.header("content-type"), Some(OCI_MANIFEST));
        assert_eq!(r.header("docker-content-digest"), Some(&*img.digest));
        assert_eq!(
            r.header("content-length"),
            Some(&*img.manifest.len().to_string())
        );
    }
}

/// The headers that must agree between a GET and a HEAD.
const SAME: [&str; 4] = [
    "content-type",
    "content-length",
    "docker-content-digest",
    "etag",
];

#[test]
fn head_manifest_answers_with_the_headers_of_get_and_no_body() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let img = push_image(&api, "head", "image");
    for reference in ["image", img.digest.as_str(), "missing", &sha256(b"missing")] {
        let path = format!("/v2/head/manifests/{reference}");
        let (g, h) = (api.get(&path), api.head(&path));
        assert_eq!(g.status, h.status, "{reference}");
        for name in SAME {
            assert_eq!(g.header(name), h.header(name), "{name} of {reference}");
        }
        assert!(h.body.is_empty());
    }
}

#[test]
fn head_blob_answers_with_the_headers_of_get_and_no_body() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(2048);
    let d = api.push_blob("headblob", &bytes);
    for digest in [d.clone(), sha256(b"missing")] {
        let path = format!("/v2/headblob/blobs/{digest}");
        let (g, h) = (api.get(&path), api.head(&path));
        assert_eq!(g.status, h.status);
        for name in SAME {
            assert_eq!(g.header(name), h.header(name), "{name}");
        }
        assert!(h.body.is_empty());
    }
    let h = api.head(&format!("/v2/headblob/blobs/{d}"));
    h.expect(200);
    assert_eq!(h.header("content-length"), Some("2048"));
    assert_eq!(h.header("docker-content-digest"), Some(&*d));
}

#[test]
fn pull_blob_returns_its_bytes_with_docker_content_digest() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(5 << 20);
    let d = api.push_blob("blob", &bytes);
    let r = api.get(&format!("/v2/blob/blobs/{d}"));
    r.expect(200);
    assert!(r.body == bytes);
    assert_eq!(r.header("docker-content-digest"), Some(&*d));
    assert_eq!(r.header("content-length"), Some(&*bytes.len().to_string()));
}

#[test]
fn pull_of_missing_content_is_404_with_the_spec_codes() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    push_image(&api, "missing", "image");
    api.get(&format!("/v2/missing/blobs/{}", sha256(b"nothing")))
        .expect_error(404, "BLOB_UNKNOWN");
    api.get(&format!("/v2/missing/manifests/{}", sha256(b"nothing")))
        .expect_error(404, "MANIFEST_UNKNOWN");
    api.get("/v2/missing/manifests/missing-tag")
        .expect_error(404, "MANIFEST_UNKNOWN");
    // A blob of another repository is not this one's.
    let d = api.push_blob("elsewhere", b"elsewhere");
    api.get(&format!("/v2/missing/blobs/{d}"))
        .expect_error(404, "BLOB_UNKNOWN");
    // A malformed digest.
    let r = api.get("/v2/missing/blobs/sha256:nothex");
    r.expect_error(400, "DIGEST_INVALID");
}

#[test]
fn blob_get_with_range_is_206_with_content_range() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(2048);
    let d = api.push_blob("range", &bytes);
    let path = format!("/v2/range/blobs/{d}");
    for (range, from, to) in [
        ("bytes=500-1499", 500, 1499),
        ("bytes=500-", 500, 2047),
        ("bytes=-500", 1548, 2047),
        ("bytes=2000-5000", 2000, 2047),
        ("bytes=0-0", 0, 0),
    ] {
        let r = api.send("GET", &path, &[("range", range)], None);
        r.expect(206);
        assert_eq!(r.body, &bytes[from..=to], "{range}");
        assert_eq!(
            r.header("content-length"),
            Some(&*(to - from + 1).to_string())
        );
        assert_eq!(
            r.header("content-range"),
            Some(&*format!("bytes {from}-{to}/2048"))
        );
        assert_eq!(r.header("docker-content-digest"), Some(&*d));
    }
}

#[test]
fn blob_get_with_an_unsatisfiable_range_is_416() {
    let serve = Serve::start();
    let api = Api::new(&serve);
    let bytes = random_bytes(2048);
    let d = api.push_blob("range416", &bytes);
    let path = format!("/v2/range416/blobs/{d}");
    for range in ["bytes=500-0", "bytes=5000-10000", "bytes=2048-"] {
        let r = api.send("GET", &path, &[("range", range)], None);
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(r.header("content-range"), Some("bytes */2048"));
    }
}

/// Blob downloads on plain HTTP go out by `sendfile` (the body is placeholders the
/// connection replaces with the file's bytes). Pipelined GETs of different blobs and
/// ranges on one connection, each larger than a placeholder chunk, must each get exactly
/// their own bytes, in order, with a HEAD and a manifest GET between them.
#[test]
fn pipelined_blob_gets_on_one_connection_each_get_exactly_their_bytes() {
    use std::io::{BufRead, BufReader, Read, Write};
    let serve = Serve::start();
    let api = Api::new(&serve);
    let a = random_bytes(3 * 1024 * 1024 + 17);
    let b = random_bytes(2 * 1024 * 1024 + 5);
    let da = api.push_blob("pipelined", &a);
    let db = api.push_blob("pipelined", &b);
    // (request line, range asked for, the blob's bytes)
    type Req<'a> = (String, Option<(usize, usize)>, &'a [u8]);
    let reqs: Vec<Req> = vec![
        (format!("GET /v2/pipelined/blobs/{da}"), None, &a[..]),
        (
            format!("GET /v2/pipelined/blobs/{db}"),
            Some((1_000_000, 2_000_000)),
            &b[..],
        ),
        (format!("HEAD /v2/pipelined/blobs/{da}"), None, &[][..]),
        (
            format!("GET /v2/pipelined/blobs/{da}"),
            Some((5, 3 * 1024 * 1024)),
            &a[..],
        ),
        (format!("GET /v2/pipelined/blobs/{db}"), None, &b[..]),
    ];
    let mut conn = std::net::TcpStream::connect(&serve.host).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut all = String::new();
    for (line, range, _) in &reqs {
        all += &format!("{line} HTTP/1.1\r\nHost: {}\r\n", serve.host);
        if let Some((from, to)) = range {
            all += &format!("Range: bytes={from}-{to}\r\n");
        }
        all += "\r\n";
    }
    conn.write_all(all.as_bytes()).unwrap();
    let mut r = BufReader::new(conn);
    for (line, range, bytes) in &reqs {
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            if h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let head = line.starts_with("HEAD");
        let want: &[u8] = match range {
            _ if head => &[],
            Some((from, to)) => &bytes[*from..=*to],
            None => bytes,
        };
        assert!(
            status.starts_with(if range.is_some() {
                "HTTP/1.1 206"
            } else {
                "HTTP/1.1 200"
            }),
            "{line}: {status}"
        );
        if !head {
            assert_eq!(length, want.len(), "{line}");
            let mut body = vec![0u8; length];
            r.read_exact(&mut body).unwrap();
            assert!(
                body == want,
                "{line} {range:?}: the body is not the blob's bytes"
            );
        }
    }
}
