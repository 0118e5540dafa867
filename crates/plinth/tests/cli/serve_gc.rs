//! `plinth serve`: garbage collection online (issue 15 point 3), `--gc-once`, and the
//! Prometheus metrics at `/metrics` (issue 15 point 7).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::serve_spec::client::Api;
use crate::support::serve::Serve;
use crate::support::{hello_image, layout_digest, skopeo_copy};

/// One request to the server, in-process (`serve_spec`'s client; a `curl` process per
/// request cost this file's racing test most of its CPU): (status, body).
fn http(method: &str, url: &str, headers: &[(&str, &str)], data: Option<&[u8]>) -> (u16, Vec<u8>) {
    let r = Api::at("").send(method, url, headers, data);
    (r.status, r.body)
}

/// Pushes a blob in one POST; whether it was created.
fn push_blob(serve: &Serve, repo: &str, bytes: &[u8]) -> (bool, String) {
    let d = plinth_oci::testing::sha256(bytes);
    let url = format!("{}/v2/{repo}/blobs/uploads/?digest={d}", serve.url());
    let (status, _) = http(
        "POST",
        &url,
        &[("Content-Type", "application/octet-stream")],
        Some(bytes),
    );
    (status == 201, d)
}

/// A small image made of `seed` (a config and one layer) pushed blob by blob into
/// `repo`; its manifest's bytes, or `None` when a blob was refused.
fn raw_image(serve: &Serve, repo: &str, seed: &str) -> Option<Vec<u8>> {
    let config = format!(
        "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[]}},\"config\":{{\"Labels\":{{\"seed\":\"{seed}\"}}}}}}"
    );
    let layer = format!("the layer of {seed} ").repeat(100);
    let (c_ok, c) = push_blob(serve, repo, config.as_bytes());
    let (l_ok, l) = push_blob(serve, repo, layer.as_bytes());
    (c_ok && l_ok).then(|| manifest(&c, config.len(), &l, layer.len()))
}

fn manifest(config: &str, config_size: usize, layer: &str, layer_size: usize) -> Vec<u8> {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config,
            "size": config_size,
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer,
            "size": layer_size,
        }],
    })
    .to_string()
    .into_bytes()
}

fn put_manifest(serve: &Serve, repo: &str, reference: &str, bytes: &[u8]) -> u16 {
    let url = format!("{}/v2/{repo}/manifests/{reference}", serve.url());
    http(
        "PUT",
        &url,
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        Some(bytes),
    )
    .0
}

/// Whether `repo:reference` serves a manifest whose every blob comes back with its digest.
fn pulls_and_verifies(serve: &Serve, repo: &str, reference: &str) -> Result<(), String> {
    let url = format!("{}/v2/{repo}/manifests/{reference}", serve.url());
    let (status, body) = http(
        "GET",
        &url,
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        None,
    );
    if status != 200 {
        return Err(format!(
            "{repo}:{reference}: manifest GET answered {status}"
        ));
    }
    let m: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut digests = vec![m["config"]["digest"].as_str().unwrap().to_string()];
    for l in m["layers"].as_array().unwrap() {
        digests.push(l["digest"].as_str().unwrap().to_string());
    }
    for d in digests {
        let (status, bytes) = http(
            "GET",
            &format!("{}/v2/{repo}/blobs/{d}", serve.url()),
            &[],
            None,
        );
        if status != 200 || plinth_oci::testing::sha256(&bytes) != d {
            return Err(format!("{repo}:{reference}: blob {d} answered {status}"));
        }
    }
    Ok(())
}

fn gc_config(dir: &Path, interval: u64, grace: u64) -> String {
    let path = dir.join("gc.toml");
    fs_err::write(
        &path,
        format!(
            "[storage]\ntype = \"fs\"\npath = \"unused\"\n\n[gc]\ninterval_secs = {interval}\ngrace_secs = {grace}\nuntagged = true\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn gc_once(storage: &Path, config: Option<&str>) -> String {
    let mut cmd = plinth();
    cmd.args(["serve", "--gc-once", "--storage"]).arg(storage);
    if let Some(c) = config {
        cmd.args(["--config", c]);
    }
    ok(&mut cmd)
}

/// The samples of a Prometheus text exposition: `name{labels}` -> value.
fn scrape(serve: &Serve) -> HashMap<String, f64> {
    let (status, body) = http("GET", &format!("{}/metrics", serve.url()), &[], None);
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

fn sample(m: &HashMap<String, f64>, key: &str) -> f64 {
    m.get(key).copied().unwrap_or(0.0)
}

/// Issue 15 point 3: an unreferenced blob and an untagged manifest are removed once
/// older than the grace period, not before; a tagged image survives and still pulls with
/// skopeo. `--gc-once` runs beside the live server on the same storage.
#[test]
fn gc_removes_unreferenced_blobs_and_untagged_manifests_after_the_grace_and_not_before() {
    if !have_tool("skopeo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let storage = tmp.path().join("storage");
    let serve = Serve::start_on(&storage, &[]);
    let image = hello_image();
    skopeo_copy(&[
        &format!("oci:{}", image.display()),
        &serve.docker("hello:latest"),
    ]);
    let (pushed, orphan) = push_blob(&serve, "hello", b"a blob no manifest names");
    assert!(pushed);
    let untagged = raw_image(&serve, "hello", "untagged").unwrap();
    let untagged_digest = plinth_oci::testing::sha256(&untagged);
    assert_eq!(
        put_manifest(&serve, "hello", &untagged_digest, &untagged),
        201
    );

    // Within the default grace period (an hour) nothing is removed.
    assert_eq!(gc_once(&storage, None), "");

    // With no grace, the orphan, the untagged manifest and its own blobs go.
    let config = gc_config(tmp.path(), 0, 0);
    let out = gc_once(&storage, Some(&config));
    assert_removed(&out, &untagged_digest, &orphan);
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("blob {untagged_digest} "))),
        "{out}"
    );
    let (status, _) = http(
        "GET",
        &format!("{}/v2/hello/blobs/{orphan}", serve.url()),
        &[],
        None,
    );
    assert_eq!(status, 404);
    let (status, _) = http(
        "GET",
        &format!("{}/v2/hello/manifests/{untagged_digest}", serve.url()),
        &[],
        None,
    );
    assert_eq!(status, 404);

    // The tagged image is whole: skopeo pulls it and it matches.
    let back = tmp.path().join("back");
    skopeo_copy(&[
        &serve.docker("hello:latest"),
        &format!("oci:{}:latest", back.display()),
    ]);
    assert_eq!(layout_digest(&back), layout_digest(image));
    validate_image(&back);
    // Nothing is left to collect.
    assert_eq!(gc_once(&storage, Some(&config)), "");
}

/// Issue 15 point 3: pushes racing the collector (every second, no grace, untagged
/// manifests removed) — skopeo pushes into fresh repositories, raw uploads of images
/// whose blobs keep being collected and pushed again, cross-repository mounts — never
/// leave a manifest whose blobs 404: every push that succeeded pulls and verifies.
#[test]
fn pushes_racing_the_collector_never_leave_a_manifest_whose_blobs_404() {
    if !have_tool("skopeo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let config = gc_config(tmp.path(), 1, 0);
    let serve = Serve::start_on(&tmp.path().join("storage"), &["--config", &config]);
    let image = hello_image();
    let want = layout_digest(image);

    let (skopeo_pushed, raw_pushed) = std::thread::scope(|s| {
        let skopeo = s.spawn(|| {
            let mut pushed = Vec::new();
            for j in 0..12 {
                if pushed.len() == 4 {
                    break;
                }
                let dest = serve.docker(&format!("sk{j}:latest"));
                let o = run(Command::new("skopeo")
                    .args(["copy", "-q", "--dest-tls-verify=false"])
                    .arg(format!("oci:{}", image.display()))
                    .arg(&dest));
                if o.status.success() {
                    pushed.push(format!("sk{j}:latest"));
                }
            }
            pushed
        });
        let raw = s.spawn(|| {
            let mut pushed = Vec::new();
            for i in 0..120 {
                // Four images, pushed again and again; the odd ones are untagged right
                // after their push, so the collector keeps removing their blobs while
                // they are being pushed again.
                let seed = format!("seed{}", i % 4);
                let Some(m) = raw_image(&serve, "raw", &seed) else {
                    continue;
                };
                let tag = format!("t{i}");
                if put_manifest(&serve, "raw", &tag, &m) != 201 {
                    continue;
                }
                if i % 2 == 1 {
                    // Untagged at once: its manifest and blobs are garbage now, and
                    // pushed again two rounds later.
                    let url = format!("{}/v2/raw/manifests/{tag}", serve.url());
                    assert_eq!(http("DELETE", &url, &[], None).0, 202);
                    continue;
                }
                pushed.push(("raw".to_string(), tag.clone()));
                // The same image mounted into another repository and tagged there.
                let doc: serde_json::Value = serde_json::from_slice(&m).unwrap();
                let mut mounted = true;
                for d in [&doc["config"]["digest"], &doc["layers"][0]["digest"]] {
                    let url = format!(
                        "{}/v2/mnt/blobs/uploads/?mount={}&from=raw",
                        serve.url(),
                        d.as_str().unwrap()
                    );
                    mounted &= http("POST", &url, &[], None).0 == 201;
                }
                if mounted && put_manifest(&serve, "mnt", &tag, &m) == 201 {
                    pushed.push(("mnt".to_string(), tag));
                }
            }
            pushed
        });
        (skopeo.join().unwrap(), raw.join().unwrap())
    });
    assert!(!skopeo_pushed.is_empty(), "{}", serve.log_text());
    assert!(!raw_pushed.is_empty(), "{}", serve.log_text());

    // Let the collector run at least once more after the race, then check every push.
    let start = Instant::now();
    let runs = sample(&scrape(&serve), "plinth_serve_gc_runs_total");
    while sample(&scrape(&serve), "plinth_serve_gc_runs_total") < runs + 2.0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no collection ran"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for (repo, tag) in &raw_pushed {
        if let Err(e) = pulls_and_verifies(&serve, repo, tag) {
            panic!("{e}\n{}", serve.log_text());
        }
    }
    for (j, reference) in skopeo_pushed.iter().enumerate() {
        let back = tmp.path().join(format!("back{j}"));
        skopeo_copy(&[
            &serve.docker(reference),
            &format!("oci:{}:latest", back.display()),
        ]);
        assert_eq!(layout_digest(&back), want);
        validate_image(&back);
    }
    let metrics = scrape(&serve);
    assert!(sample(&metrics, "plinth_serve_gc_removed_blobs_total") > 0.0);
}

/// Issue 15 point 7: `/metrics` counts requests by route, method and status, the bytes
/// in and out, and what the collector did, in the Prometheus text format.
#[test]
fn metrics_count_a_push_and_a_pull() {
    if !have_tool("skopeo") {
        return;
    }
    let serve = Serve::start();
    let before = scrape(&serve);
    assert_eq!(sample(&before, "plinth_serve_received_bytes_total"), 0.0);
    let image = hello_image();
    skopeo_copy(&[
        &format!("oci:{}", image.display()),
        &serve.docker("hello:latest"),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    skopeo_copy(&[
        &serve.docker("hello:latest"),
        &format!("oci:{}:latest", tmp.path().join("back").display()),
    ]);
    let m = scrape(&serve);
    // The bytes of the image: its manifest, config and layers.
    let blob = |d: &str| {
        image
            .join("blobs/sha256")
            .join(plinth_oci::testing::hex_of(d))
    };
    let digest = layout_digest(image);
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs_err::read(blob(&digest)).unwrap()).unwrap();
    let mut blob_bytes = fs_err::metadata(blob(&digest)).unwrap().len();
    blob_bytes += manifest["config"]["size"].as_u64().unwrap();
    for l in manifest["layers"].as_array().unwrap() {
        blob_bytes += l["size"].as_u64().unwrap();
    }
    let manifest_put =
        "plinth_serve_requests_total{route=\"manifest\",method=\"PUT\",status=\"201\"}";
    assert!(sample(&m, manifest_put) >= 1.0, "{m:?}");
    let blob_get = "plinth_serve_requests_total{route=\"blob\",method=\"GET\",status=\"200\"}";
    assert!(sample(&m, blob_get) >= 2.0, "{m:?}");
    let manifest_get =
        "plinth_serve_requests_total{route=\"manifest\",method=\"GET\",status=\"200\"}";
    assert!(sample(&m, manifest_get) >= 1.0, "{m:?}");
    // What went in is the layout's blobs (manifest, config, layers), each once; what
    // came out is at least as much.
    let received = sample(&m, "plinth_serve_received_bytes_total") as u64;
    let sent = sample(&m, "plinth_serve_sent_bytes_total") as u64;
    assert_eq!(received, blob_bytes);
    assert!(sent >= blob_bytes, "{sent} sent of {blob_bytes}");
    assert_eq!(sample(&m, "plinth_serve_uploads_in_progress"), 0.0);
    assert_eq!(sample(&m, "plinth_serve_storage_errors_total"), 0.0);
    assert_eq!(sample(&m, "plinth_serve_gc_runs_total"), 0.0);
    // The scrape itself is counted.
    let scrapes = "plinth_serve_requests_total{route=\"metrics\",method=\"GET\",status=\"200\"}";
    assert!(sample(&m, scrapes) >= 1.0, "{m:?}");
}

/// Issue 15 points 3 and 4: on S3 storage shared by two servers, `--gc-once` removes
/// the orphan blob and the untagged manifest pushed through one of them, and the tagged
/// image pushed through the other still pulls through both.
#[test]
fn gc_on_s3_storage_removes_what_nothing_keeps_and_the_tagged_image_pulls_through_both_servers() {
    if !have_tool("skopeo") {
        return;
    }
    let Some(s3) = crate::support::seaweed::Seaweed::start() else {
        return;
    };
    let config = s3.serve_config(
        "gc.toml",
        "reg",
        "[gc]\ninterval_secs = 0\ngrace_secs = 0\nuntagged = true\n",
    );
    let (a, b) = (Serve::start_config(&config), Serve::start_config(&config));
    let image = hello_image();
    skopeo_copy(&[
        &format!("oci:{}", image.display()),
        &a.docker("hello:latest"),
    ]);
    let (pushed, orphan) = push_blob(&b, "hello", b"an orphan on S3");
    assert!(pushed);
    let untagged = raw_image(&b, "hello", "untagged on S3").unwrap();
    let untagged_digest = plinth_oci::testing::sha256(&untagged);
    assert_eq!(put_manifest(&b, "hello", &untagged_digest, &untagged), 201);

    let out = ok(plinth()
        .args(["serve", "--gc-once", "--config"])
        .arg(&config));
    assert_removed(&out, &untagged_digest, &orphan);
    for serve in [&a, &b] {
        let url = format!("{}/v2/hello/blobs/{orphan}", serve.url());
        assert_eq!(http("GET", &url, &[], None).0, 404);
        let tmp = tempfile::tempdir().unwrap();
        let back = tmp.path().join("back");
        skopeo_copy(&[
            &serve.docker("hello:latest"),
            &format!("oci:{}:latest", back.display()),
        ]);
        assert_eq!(layout_digest(&back), layout_digest(image));
        validate_image(&back);
    }
    assert!(
        s3.keys_under("reg/_gc").is_empty(),
        "no marker is left: {:?}",
        s3.keys_under("reg/_gc")
    );
}

/// What `--gc-once` printed names the untagged manifest, the orphan blob, and four blobs
/// in all (the orphan, the manifest, its config and its layer).
fn assert_removed(out: &str, untagged_digest: &str, orphan: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.contains(&format!("manifest hello@{untagged_digest}").as_str()),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("blob {orphan} "))),
        "{out}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("blob ")).count(),
        4,
        "the orphan, the manifest, its config and its layer: {out}"
    );
}
