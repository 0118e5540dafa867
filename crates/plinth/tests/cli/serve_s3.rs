//! `plinth serve` on S3-compatible object storage: a real SeaweedFS on 127.0.0.1, and
//! several `plinth serve` processes on one bucket that share nothing else (issue 15,
//! point 4).

use std::io::Read;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::support::seaweed::{Seaweed, agent};
use crate::support::serve::Serve;
use crate::support::{hello_image, layout_digest, skopeo_copy};

fn sha256(bytes: &[u8]) -> String {
    plinth_oci::testing::sha256(bytes)
}

/// Deterministic bytes that do not compress or repeat in step with the chunk sizes.
fn blob(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// `n` servers on one bucket, each with its own config file (same contents).
fn instances(s3: &Seaweed, n: usize, extra: &str) -> Vec<Serve> {
    (0..n)
        .map(|i| Serve::start_config(&s3.serve_config(&format!("serve{i}.toml"), "reg", extra)))
        .collect()
}

fn status_of(resp: &ureq::http::Response<ureq::Body>) -> u16 {
    resp.status().as_u16()
}

/// Starts an upload through `serve`; its URL (on that server).
fn start_upload(serve: &Serve, repo: &str) -> String {
    let resp = agent()
        .post(&format!("{}/v2/{repo}/blobs/uploads/", serve.url()))
        .send_empty()
        .unwrap();
    assert_eq!(status_of(&resp), 202, "{}", serve.log_text());
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/v2/"), "{location}");
    location
}

fn blob_status(serve: &Serve, repo: &str, digest: &str) -> u16 {
    status_of(
        &agent()
            .head(&format!("{}/v2/{repo}/blobs/{digest}", serve.url()))
            .call()
            .unwrap(),
    )
}

fn get_blob(serve: &Serve, repo: &str, digest: &str) -> Vec<u8> {
    let mut resp = agent()
        .get(&format!("{}/v2/{repo}/blobs/{digest}", serve.url()))
        .call()
        .unwrap();
    assert_eq!(status_of(&resp), 200, "{}", serve.log_text());
    assert_eq!(resp.headers()["docker-content-digest"], digest);
    resp.body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .unwrap()
}

/// Point 4: several instances on one bucket are one registry. An image pushed with
/// skopeo through A comes back through B (skopeo and `plinth pull`, same digest); deleted
/// through C, it is gone from A and B too.
#[test]
fn an_image_pushed_through_one_instance_is_pulled_through_another_and_deleted_through_a_third() {
    if !have_tool("skopeo") {
        return;
    }
    let Some(s3) = Seaweed::start() else { return };
    let v = instances(&s3, 3, "");
    let (a, b, c) = (&v[0], &v[1], &v[2]);
    let image = hello_image();
    let digest = layout_digest(image);
    skopeo_copy(&[
        &format!("oci:{}", image.display()),
        &a.docker("hello:latest"),
    ]);

    let tmp = tempfile::tempdir().unwrap();
    let back = tmp.path().join("back");
    skopeo_copy(&[
        &b.docker("hello:latest"),
        &format!("oci:{}:latest", back.display()),
    ]);
    assert_eq!(layout_digest(&back), digest);
    let pulled = tmp.path().join("pulled");
    ok(plinth()
        .arg("pull")
        .arg(b.reference("hello:latest"))
        .arg("-o")
        .arg(&pulled));
    assert_eq!(layout_digest(&pulled), digest, "{}", b.log_text());
    validate_image(&pulled);
    assert!(
        !s3.keys_under("reg/blobs").is_empty(),
        "the blobs are in the bucket, under the prefix"
    );

    ok(Command::new("skopeo")
        .args(["delete", "--tls-verify=false"])
        .arg(c.docker(&format!("hello@{digest}"))));
    for serve in [a, b, c] {
        for reference in [digest.as_str(), "latest"] {
            let resp = agent()
                .head(&format!("{}/v2/hello/manifests/{reference}", serve.url()))
                .header("Accept", "application/vnd.oci.image.manifest.v1+json")
                .call()
                .unwrap();
            assert_eq!(
                status_of(&resp),
                404,
                "{reference} after the delete through another instance:\n{}",
                serve.log_text()
            );
        }
    }
}

/// Point 4 and the spec's chunked upload: PATCHes through A, the closing PUT (with a last
/// chunk) through B, which did not see the first bytes and hashes them from the bucket.
/// An out-of-order chunk through B is 416. The first chunk is larger than a multipart
/// part, so it goes up as a multipart upload, and three chunks are joined into one object.
#[test]
fn a_chunked_upload_patched_through_one_instance_and_finished_through_another_is_the_right_blob() {
    let Some(s3) = Seaweed::start() else { return };
    let v = instances(&s3, 2, "");
    let (a, b) = (&v[0], &v[1]);
    let data = blob(9 * 1024 * 1024 + 12_345, 1);
    let digest = sha256(&data);
    let (c1, rest) = data.split_at(8 * 1024 * 1024 + 100);
    let (c2, c3) = rest.split_at(rest.len() - 777);

    let location = start_upload(a, "chunks/repo");
    let patch = |serve: &Serve, start: usize, bytes: &[u8]| {
        agent()
            .patch(&format!("{}{location}", serve.url()))
            .header("Content-Type", "application/octet-stream")
            .header(
                "Content-Range",
                &format!("{start}-{}", start + bytes.len() - 1),
            )
            .send(bytes)
            .unwrap()
    };
    let r = patch(a, 0, c1);
    assert_eq!(status_of(&r), 202, "{}", a.log_text());
    let r = patch(a, c1.len(), c2);
    assert_eq!(status_of(&r), 202, "{}", a.log_text());
    assert_eq!(
        r.headers()["range"],
        format!("0-{}", c1.len() + c2.len() - 1).as_str()
    );
    // B sees the same upload, and refuses a chunk that does not follow on.
    let r = patch(b, 5, c3);
    assert_eq!(status_of(&r), 416, "{}", b.log_text());
    let r = agent()
        .put(&format!("{}{location}?digest={digest}", b.url()))
        .header("Content-Type", "application/octet-stream")
        .header(
            "Content-Range",
            &format!("{}-{}", c1.len() + c2.len(), data.len() - 1),
        )
        .send(c3)
        .unwrap();
    assert_eq!(status_of(&r), 201, "{}", b.log_text());

    for serve in [a, b] {
        assert_eq!(
            sha256(&get_blob(serve, "chunks/repo", &digest)),
            digest,
            "{}",
            serve.log_text()
        );
    }
    let upload_id = location.rsplit('/').next().unwrap();
    assert_eq!(
        s3.keys_under(&format!("reg/_uploads/{upload_id}")),
        Vec::<String>::new(),
        "the finished upload's chunks are removed"
    );
}

/// A request body that hands out `first` bytes, tells the test, then waits until the
/// test hangs up (and then fails, so the client gives up).
struct StallingBody {
    left: usize,
    reached: Option<mpsc::Sender<()>>,
    release: mpsc::Receiver<()>,
}

impl Read for StallingBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left > 0 {
            let n = buf.len().min(self.left).min(1 << 16);
            buf[..n].fill(0x5a);
            self.left -= n;
            return Ok(n);
        }
        if let Some(tx) = self.reached.take() {
            let _ = tx.send(());
        }
        let _ = self.release.recv();
        Err(std::io::Error::other("the test stopped the body"))
    }
}

/// Point 2 on S3: a server killed with SIGKILL in the middle of a blob upload leaves
/// nothing visible (another instance answers 404 for the blob), and once the upload
/// session has expired another instance has removed it from the bucket.
#[test]
fn a_server_killed_mid_upload_leaves_nothing_visible_and_its_session_expires() {
    let Some(s3) = Seaweed::start() else { return };
    let mut v = instances(&s3, 2, "[limits]\nupload_expiry_secs = 2\n");
    let location = start_upload(&v[0], "killed");
    let upload_id = location.rsplit('/').next().unwrap().to_string();
    assert!(
        !s3.keys_under(&format!("reg/_uploads/{upload_id}"))
            .is_empty(),
        "the session is recorded in the bucket"
    );
    // 20 MiB of a blob go out (more than two multipart parts), then the body stalls.
    let sent = 20 << 20;
    let digest = sha256(&vec![0x5a; sent]);
    let (reached_tx, reached) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let url = format!("{}{location}?digest={digest}", v[0].url());
    let client = std::thread::spawn(move || {
        let body = StallingBody {
            left: sent,
            reached: Some(reached_tx),
            release: release_rx,
        };
        let _ = agent()
            .put(&url)
            .header("Content-Type", "application/octet-stream")
            .send(ureq::SendBody::from_owned_reader(body));
    });
    reached
        .recv_timeout(Duration::from_secs(120))
        .expect("the client sent its bytes");
    // Wait until the server has started storing the upload: a multipart upload of the
    // chunk is open in the bucket (SeaweedFS keeps those under `.uploads`).
    let start = Instant::now();
    while s3.keys_under(".uploads").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the server never began a multipart upload:\n{}",
            v[0].log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    v[0].kill();
    drop(release);
    client.join().unwrap();

    let b = &v[1];
    assert_eq!(blob_status(b, "killed", &digest), 404);
    assert!(
        s3.keys_under("reg/blobs").is_empty(),
        "no blob object in the bucket"
    );
    assert!(
        s3.keys_under(&format!("reg/_uploads/{upload_id}/chunks"))
            .is_empty(),
        "the cut-off chunk was never completed"
    );
    // B's maintenance expires the session (started more than 2 s ago) and removes it.
    let start = Instant::now();
    while !s3
        .keys_under(&format!("reg/_uploads/{upload_id}"))
        .is_empty()
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the session was not removed after its expiry:\n{}",
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let resp = agent()
        .get(&format!("{}{location}", b.url()))
        .call()
        .unwrap();
    assert_eq!(status_of(&resp), 404, "the expired upload is unknown");
}

/// Point 2 on S3: bytes that do not match the digest the client names are refused with
/// DIGEST_INVALID, and nothing of them is visible, under either digest, through any
/// instance or in the bucket.
#[test]
fn a_tampered_upload_is_refused_with_digest_invalid_and_nothing_is_visible() {
    let Some(s3) = Seaweed::start() else { return };
    let v = instances(&s3, 2, "");
    let data = blob(10 * 1024 * 1024, 2);
    let real = sha256(&data);
    let mut tampered = data.clone();
    tampered[12_345] ^= 1;
    let location = start_upload(&v[0], "tampered");
    let mut resp = agent()
        .put(&format!("{}{location}?digest={real}", v[0].url()))
        .header("Content-Type", "application/octet-stream")
        .send(&tampered[..])
        .unwrap();
    assert_eq!(status_of(&resp), 400, "{}", v[0].log_text());
    let body = resp.body_mut().read_to_string().unwrap();
    assert!(body.contains("\"DIGEST_INVALID\""), "{body}");
    for serve in &v {
        assert_eq!(blob_status(serve, "tampered", &real), 404);
        assert_eq!(blob_status(serve, "tampered", &sha256(&tampered)), 404);
    }
    assert!(s3.keys_under("reg/blobs").is_empty(), "no blob object");
    assert!(
        s3.keys_under("reg/repositories").is_empty(),
        "no link in the repository"
    );
    assert!(
        s3.keys_under("reg/_uploads").is_empty(),
        "the refused upload's bytes are removed"
    );
}

/// Bad input never hangs: a bucket that cannot be reached (nothing listens on the
/// endpoint) stops `plinth serve` at start, exit 2, naming the bucket, within the retries'
/// few seconds (the guard allows 60).
#[test]
fn a_bucket_that_cannot_be_reached_stops_the_server_at_start_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("serve.toml");
    fs_err::write(
        &config,
        format!(
            "[storage]\ntype = \"s3\"\nbucket = \"nowhere\"\nendpoint = \
             \"http://127.0.0.1:{port}\"\naccess_key_id = \"k\"\nsecret_access_key = \"s\"\n\
             allow_http = true\n"
        ),
    )
    .unwrap();
    let o = run_with_timeout(
        plinth()
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config),
        Duration::from_secs(60),
    )
    .expect("plinth serve gave up on the unreachable bucket");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("s3://nowhere/"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("listening"),
        "{err}"
    );
}

/// The upload expiry counts from a session's last activity on S3 too, where the bytes are
/// one object per chunk: a slow chunked upload that keeps sending, through two instances
/// in turn, outlives it (regression: the activity was read from the file-system
/// backend's `_uploads/<id>/data`, which S3 uploads do not have).
#[test]
fn an_upload_that_keeps_sending_chunks_through_two_instances_outlives_the_upload_expiry() {
    let Some(s3) = Seaweed::start() else { return };
    let v = instances(&s3, 2, "[limits]\nupload_expiry_secs = 2\n");
    let bytes = blob(8 * 100, 3);
    let digest = sha256(&bytes);
    let location = start_upload(&v[0], "steady");
    for (i, chunk) in bytes.chunks(100).enumerate() {
        // A quarter of the expiry between chunks: two expiries in all.
        std::thread::sleep(Duration::from_millis(500));
        let serve = &v[i % 2];
        let r = agent()
            .patch(&format!("{}{location}", serve.url()))
            .header("Content-Type", "application/octet-stream")
            .header("Content-Range", &format!("{}-{}", i * 100, i * 100 + 99))
            .send(chunk)
            .unwrap();
        assert_eq!(status_of(&r), 202, "chunk {i}:\n{}", serve.log_text());
    }
    let r = agent()
        .put(&format!("{}{location}?digest={digest}", v[1].url()))
        .send_empty()
        .unwrap();
    assert_eq!(status_of(&r), 201, "{}", v[1].log_text());
    assert_eq!(get_blob(&v[0], "steady", &digest), bytes);
}
