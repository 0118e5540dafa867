//! `plinth serve` with real clients (issue 15, point 8): skopeo copies in and out,
//! inspects and deletes; podman pushes, pulls and runs; umoci unpacks what was pulled;
//! CNCF distribution (`docker-registry`) is a peer that skopeo and `plinth copy` move
//! images to and from, digest for digest.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::*;
use crate::support::registry::{Auth, Registry};
use crate::support::serve::Serve;
use crate::support::{
    base_image, hello_image, layout_digest, podman_pull_layout, skopeo_copy, skopeo_raw,
};

/// What the hello image prints when run as its default user.
const HELLO: &str = "hello from plinth: uid=65532 gid=65532\n";

/// `plinth` with a private home (no credentials of the machine).
fn plinth_in(home: &Path) -> Command {
    let mut c = plinth();
    c.env("DOCKER_CONFIG", home.join("docker"))
        .env("REGISTRY_AUTH_FILE", home.join("no-auth.json"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("HOME", home);
    c
}

/// podman with private storage under `dir` (vfs, as the registry tests use it).
fn pm(dir: &Path) -> Command {
    podman_vfs(dir)
}

/// The `(platform, digest)` of each manifest of the index a layout's tag points at.
fn platform_digests(layout: &Path) -> Vec<(String, String)> {
    let d = layout_digest(layout);
    let bytes = fs_err::read(
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:")),
    )
    .unwrap();
    let index: Value = serde_json::from_slice(&bytes).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                format!(
                    "{}/{}",
                    m["platform"]["os"].as_str().unwrap(),
                    m["platform"]["architecture"].as_str().unwrap()
                ),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The referrers API of plinth serve for `subject`: the listed descriptors.
fn referrers(serve: &Serve, repo: &str, subject: &str) -> Vec<Value> {
    let out = ok(Command::new("curl")
        .args(["-sf"])
        .arg(format!("{}/v2/{repo}/referrers/{subject}", serve.url())));
    let v: Value = serde_json::from_str(&out).unwrap();
    v["manifests"].as_array().unwrap().clone()
}

#[test]
fn skopeo_copies_in_and_out_inspects_and_deletes() {
    if !have_tool("skopeo") {
        return;
    }
    let serve = Serve::start();
    let image = hello_image();
    let digest = layout_digest(image);
    skopeo_copy(&[
        &format!("oci:{}", image.display()),
        &serve.docker("sk/hello:latest"),
    ]);
    // inspect --raw: the very bytes of the layout's manifest.
    let (raw, d) = skopeo_raw(&serve.reference("sk/hello:latest"), &[]);
    assert_eq!(d, digest, "{}", serve.log_text());
    let layout_bytes = fs_err::read(
        image
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap();
    assert_eq!(raw, layout_bytes);
    // inspect: the config, through the manifest.
    let out = ok(Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(serve.docker("sk/hello:latest")));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Digest"], Value::from(digest.clone()));
    assert_eq!(v["Architecture"], Value::from("amd64"));
    let out = ok(Command::new("skopeo")
        .args(["inspect", "--config", "--tls-verify=false"])
        .arg(serve.docker("sk/hello:latest")));
    assert!(serde_json::from_str::<Value>(&out).unwrap()["rootfs"].is_object());
    // Out again, digest for digest, and valid.
    let tmp = tempfile::tempdir().unwrap();
    let back = tmp.path().join("back");
    skopeo_copy(&[
        &serve.docker("sk/hello:latest"),
        &format!("oci:{}:latest", back.display()),
    ]);
    assert_eq!(layout_digest(&back), digest);
    validate_image(&back);
    // Registry to registry inside plinth serve.
    skopeo_copy(&[
        &serve.docker("sk/hello:latest"),
        &serve.docker("sk/other:copy"),
    ]);
    assert_eq!(skopeo_raw(&serve.reference("sk/other:copy"), &[]).1, digest);
    // Delete: the manifest is gone (skopeo deletes by digest).
    ok(Command::new("skopeo")
        .args(["delete", "--tls-verify=false"])
        .arg(serve.docker("sk/hello:latest")));
    let o = run(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(serve.docker(&format!("sk/hello@{digest}"))));
    assert!(
        !o.status.success(),
        "the manifest is still there after skopeo delete"
    );
    // The other repository keeps its copy.
    assert_eq!(skopeo_raw(&serve.reference("sk/other:copy"), &[]).1, digest);
}

#[test]
fn skopeo_copy_all_of_a_multi_platform_index_and_its_sbom_referrers() {
    if !have_tool("skopeo") {
        return;
    }
    let Some(base) = base_image() else {
        return;
    };
    let serve = Serve::start();
    let tmp = tempfile::tempdir().unwrap();
    let index = layout_digest(base);
    // skopeo copies the index and both platforms.
    skopeo_copy(&[
        "--all",
        &format!("oci:{}:bookworm", base.display()),
        &serve.docker("multi/base:bookworm"),
    ]);
    let (raw, d) = skopeo_raw(&serve.reference("multi/base:bookworm"), &[]);
    assert_eq!(d, index, "{}", serve.log_text());
    assert_eq!(
        serde_json::from_slice::<Value>(&raw).unwrap()["manifests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for (platform, digest) in platform_digests(base) {
        assert_eq!(
            skopeo_raw(&serve.reference(&format!("multi/base@{digest}")), &[]).1,
            digest,
            "{platform}"
        );
    }
    // skopeo 1.9 does not know referrers: `plinth push` sends the SBOMs, by `subject`,
    // and plinth serve lists them in its referrers API.
    ok(plinth_in(tmp.path())
        .arg("push")
        .arg(base)
        .arg(serve.reference("multi/base:bookworm")));
    for (platform, subject) in platform_digests(base) {
        let list = referrers(&serve, "multi/base", &subject);
        assert_eq!(list.len(), 1, "{platform}: one SBOM per platform: {list:?}");
        let sbom = &list[0];
        assert!(
            sbom["artifactType"]
                .as_str()
                .is_some_and(|t| t.contains("spdx")
                    || t.contains("cyclonedx")
                    || t.contains("sbom")),
            "{sbom}"
        );
        let d = sbom["digest"].as_str().unwrap();
        assert_eq!(
            skopeo_raw(&serve.reference(&format!("multi/base@{d}")), &[]).1,
            d
        );
    }
    // And everything comes back out with skopeo, digest for digest.
    let back = tmp.path().join("back");
    skopeo_copy(&[
        "--all",
        &serve.docker("multi/base:bookworm"),
        &format!("oci:{}:bookworm", back.display()),
    ]);
    assert_eq!(layout_digest(&back), index);
    validate_image(&back);
}

#[test]
fn podman_pushes_and_pulls_and_runs_the_pulled_image() {
    if !have_tool("podman") || !have_tool("runc") || !have_tool("skopeo") {
        return;
    }
    let serve = Serve::start();
    let image = hello_image();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // What skopeo pushed byte for byte, podman pulls with its digest and runs. (First:
    // after podman has pushed recompressed layers, skopeo would reuse them and change
    // the manifest.)
    skopeo_copy(&[
        &format!("oci:{}", image.display()),
        &serve.docker("pm/hello:latest"),
    ]);
    let c = dir.join("c");
    ok(pm(&c)
        .args(["pull", "-q", "--tls-verify=false"])
        .arg(serve.reference("pm/hello:latest")));
    let d = ok(pm(&c)
        .args(["image", "inspect", "--format", "{{.Digest}}"])
        .arg(serve.reference("pm/hello:latest")));
    assert_eq!(d.trim(), layout_digest(image));
    let out = ok(pm(&c)
        .args(RUN_FLAGS)
        .arg(serve.reference("pm/hello:latest")));
    assert_eq!(out, HELLO);
    // podman push: from its own storage into plinth serve (it recompresses layers).
    ok(podman_pull_layout(&mut pm(&dir.join("a")), image, "latest"));
    let local = ok(pm(&dir.join("a")).args(["images", "-q"]))
        .lines()
        .next()
        .unwrap()
        .to_string();
    ok(pm(&dir.join("a"))
        .args(["push", "-q", "--tls-verify=false", &local])
        .arg(format!("docker://{}", serve.reference("pm/hello:pushed"))));
    // podman pull into fresh storage, and run.
    let b = dir.join("b");
    ok(pm(&b)
        .args(["pull", "-q", "--tls-verify=false"])
        .arg(serve.reference("pm/hello:pushed")));
    let out = ok(pm(&b)
        .args(RUN_FLAGS)
        .arg(serve.reference("pm/hello:pushed")));
    assert_eq!(out, HELLO);
}

#[test]
fn umoci_unpacks_what_was_pulled_from_plinth_serve() {
    if !have_tool("umoci") || !have_tool("skopeo") {
        return;
    }
    let serve = Serve::start();
    let image = hello_image();
    skopeo_copy(&[
        &format!("oci:{}", image.display()),
        &serve.docker("um/hello:latest"),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let pulled = tmp.path().join("pulled");
    ok(plinth_in(tmp.path())
        .arg("pull")
        .arg(serve.reference("um/hello:latest"))
        .arg("-o")
        .arg(&pulled));
    let by_skopeo = tmp.path().join("skopeo");
    skopeo_copy(&[
        &serve.docker("um/hello:latest"),
        &format!("oci:{}:latest", by_skopeo.display()),
    ]);
    for (layout, tag) in [(&pulled, "latest"), (&by_skopeo, "latest")] {
        let bundle = tmp.path().join(format!(
            "bundle-{}",
            layout.file_name().unwrap().to_string_lossy()
        ));
        // umoci checks every digest and size on the way.
        ok(Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:{tag}", layout.display()))
            .arg(&bundle));
        assert!(bundle.join("config.json").is_file());
        let rootfs: Vec<_> = fs_err::read_dir(bundle.join("rootfs"))
            .unwrap()
            .flatten()
            .collect();
        assert!(
            !rootfs.is_empty(),
            "an empty rootfs from {}",
            layout.display()
        );
    }
}

#[test]
fn docker_registry_and_plinth_serve_copy_both_ways_with_byte_identical_digests() {
    if !have_tool("skopeo") {
        return;
    }
    let Some(peer) = Registry::start(Auth::Anonymous) else {
        return;
    };
    let serve = Serve::start();
    let tmp = tempfile::tempdir().unwrap();
    let hello = hello_image();
    let mut images = vec![(
        format!("oci:{}", hello.display()),
        layout_digest(hello),
        "hello",
        false,
    )];
    if let Some(base) = base_image() {
        images.push((
            format!("oci:{}:bookworm", base.display()),
            layout_digest(base),
            "base",
            true,
        ));
    }
    for (src, digest, name, all) in images {
        let all: &[&str] = if all { &["--all"] } else { &[] };
        // layout -> distribution -> plinth serve -> distribution (another repository).
        skopeo_copy(&[all, &[src.as_str(), &peer.docker(&format!("{name}/a:t"))]].concat());
        skopeo_copy(
            &[
                all,
                &[
                    &*peer.docker(&format!("{name}/a:t")),
                    &*serve.docker(&format!("{name}/b:t")),
                ],
            ]
            .concat(),
        );
        skopeo_copy(
            &[
                all,
                &[
                    &*serve.docker(&format!("{name}/b:t")),
                    &*peer.docker(&format!("{name}/c:t")),
                ],
            ]
            .concat(),
        );
        let (a, da) = skopeo_raw(&peer.reference(&format!("{name}/a:t")), &[]);
        let (b, db) = skopeo_raw(&serve.reference(&format!("{name}/b:t")), &[]);
        let (c, dc) = skopeo_raw(&peer.reference(&format!("{name}/c:t")), &[]);
        assert_eq!((&da, &db, &dc), (&digest, &digest, &digest), "{name}");
        assert!(a == b && b == c, "{name}: the manifest bytes differ");
        // Pulled back from plinth serve: the same layout digest, a valid image.
        let out = tmp.path().join(name);
        ok(plinth_in(tmp.path())
            .arg("pull")
            .arg(serve.reference(&format!("{name}/b:t")))
            .arg("-o")
            .arg(&out));
        assert_eq!(layout_digest(&out), digest);
        validate_image(&out);
    }
}

#[test]
fn plinth_copy_between_docker_registry_and_plinth_serve() {
    if !have_tool("docker-registry") {
        return;
    }
    let Some(peer) = Registry::start(Auth::Anonymous) else {
        return;
    };
    let serve = Serve::start();
    let tmp = tempfile::tempdir().unwrap();
    let (layout, tag) = match base_image() {
        Some(b) => (b, "bookworm"),
        None => (hello_image(), "latest"),
    };
    let digest = layout_digest(layout);
    let src = format!("oci:{}:{tag}", layout.display());
    ok(plinth_in(tmp.path()).args(["copy", &src, &serve.reference("pc/src:t")]));
    // plinth serve -> distribution -> plinth serve.
    ok(plinth_in(tmp.path()).args([
        "copy",
        &serve.reference("pc/src:t"),
        &peer.reference("pc/mid:t"),
    ]));
    ok(plinth_in(tmp.path()).args([
        "copy",
        &peer.reference("pc/mid:t"),
        &serve.reference("pc/dst:t"),
    ]));
    for r in [
        serve.reference("pc/src:t"),
        peer.reference("pc/mid:t"),
        serve.reference("pc/dst:t"),
    ] {
        let out = tmp.path().join(r.replace([':', '/'], "_"));
        ok(plinth_in(tmp.path())
            .arg("pull")
            .arg(&r)
            .arg("-o")
            .arg(&out));
        assert_eq!(layout_digest(&out), digest, "{r}");
    }
    if have_tool("skopeo") {
        assert_eq!(skopeo_raw(&serve.reference("pc/dst:t"), &[]).1, digest);
    }
    // The SBOMs went along: distribution keeps them under the tag schema, and plinth
    // serve lists them again in its referrers API.
    if tag == "bookworm" {
        for (platform, subject) in platform_digests(layout) {
            let src = referrers(&serve, "pc/src", &subject);
            let dst = referrers(&serve, "pc/dst", &subject);
            assert_eq!(src.len(), 1, "{platform}");
            assert_eq!(src, dst, "{platform}");
        }
    }
}
