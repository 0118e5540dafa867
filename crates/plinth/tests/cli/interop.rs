//! Interoperability, proven with the real tools: skopeo, umoci and podman accept every
//! output format, podman runs the example locked down as 65532:65532, and images that
//! skopeo and podman write are read back by `plinth inspect`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

struct Outputs {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    layout: PathBuf,
    oci_tar: PathBuf,
    docker_tar: PathBuf,
    digest: String,
}

fn outputs() -> Outputs {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let spec = copy_example(&dir.join("src"));
    let layout = dir.join("layout");
    let oci_tar = dir.join("hello-oci.tar");
    let docker_tar = dir.join("hello-docker.tar");
    let digest = build(&spec, &layout, &[]);
    build(&spec, &oci_tar, &["--format", "oci-archive"]);
    build(&spec, &docker_tar, &["--format", "docker-archive"]);
    Outputs {
        _tmp: tmp,
        dir,
        layout,
        oci_tar,
        docker_tar,
        digest,
    }
}

fn refs(o: &Outputs) -> Vec<String> {
    vec![
        format!("oci:{}:latest", o.layout.display()),
        format!("oci-archive:{}", o.oci_tar.display()),
        format!("docker-archive:{}", o.docker_tar.display()),
    ]
}

#[test]
fn skopeo_inspect_accepts_every_format() {
    if !have_tool("skopeo") {
        return;
    }
    let o = outputs();
    for r in refs(&o) {
        let out = ok(Command::new("skopeo").args(["inspect", "--config", &r]));
        let cfg: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(cfg["config"]["User"], "65532:65532", "{r}");
        assert_eq!(cfg["architecture"], "amd64");
    }
    let raw = ok(Command::new("skopeo").args(["inspect", "--raw", &refs(&o)[0]]));
    assert_eq!(
        plinth_oci::testing::sha256(raw.as_bytes()),
        o.digest,
        "skopeo sees our exact manifest"
    );
}

/// umoci checks every digest and size while unpacking: a strict validator.
#[test]
fn umoci_unpacks_every_format() {
    if !have_tool("umoci") || !have_tool("skopeo") {
        return;
    }
    let o = outputs();
    let check = |layout: &Path, tag: &str, name: &str| {
        let bundle = o.dir.join(format!("bundle-{name}"));
        ok(Command::new("umoci")
            .arg("unpack")
            .arg("--image")
            .arg(format!("{}:{tag}", layout.display()))
            .arg(&bundle));
        let rootfs = bundle.join("rootfs");
        assert!(rootfs.join("usr/local/bin/hello").is_file(), "{name}");
        let passwd = fs_err::read_to_string(rootfs.join("etc/passwd")).unwrap();
        assert!(passwd.contains("nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin"));
        let config: serde_json::Value =
            serde_json::from_slice(&fs_err::read(bundle.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["process"]["user"]["uid"], 65532, "{name}");
        assert_eq!(config["process"]["user"]["gid"], 65532, "{name}");
    };
    check(&o.layout, "latest", "layout");
    // An oci-archive is a layout in a tar: umoci reads it once extracted.
    let extracted = o.dir.join("extracted");
    fs_err::create_dir(&extracted).unwrap();
    ok(Command::new("tar")
        .arg("-xf")
        .arg(&o.oci_tar)
        .arg("-C")
        .arg(&extracted));
    check(&extracted, "latest", "oci-archive");
    // A docker-archive goes through skopeo into a layout first.
    let via = o.dir.join("via-skopeo");
    ok(Command::new("skopeo").args([
        "copy",
        "-q",
        &refs(&o)[2],
        &format!("oci:{}:t", via.display()),
    ]));
    check(&via, "t", "docker-archive");
}

#[test]
fn podman_runs_the_example_read_only_without_capabilities_as_nonroot() {
    if !have_tool("podman") || !have_tool("runc") {
        return;
    }
    let o = outputs();
    let store = tempfile::tempdir().unwrap();
    // podman names the image after the path, which must be lower case: go relative.
    let out = ok(podman(store.path())
        .current_dir(&o.dir)
        .args(RUN_FLAGS)
        .arg("oci:layout:latest")
        .arg("--flag"));
    assert_eq!(out, "hello from plinth: uid=65532 gid=65532\narg: --flag\n");
}

#[test]
fn podman_loads_the_docker_archive_and_runs_it() {
    if !have_tool("podman") || !have_tool("runc") {
        return;
    }
    let o = outputs();
    let store = tempfile::tempdir().unwrap();
    let loaded = ok(podman(store.path())
        .arg("load")
        .arg("-i")
        .arg(&o.docker_tar));
    assert!(loaded.contains("hello:latest"), "{loaded}");
    let out = ok(podman(store.path())
        .args(RUN_FLAGS)
        .arg("localhost/hello:latest"));
    assert_eq!(out, "hello from plinth: uid=65532 gid=65532\n");
}

/// What skopeo and podman write, plinth reads: same config, same layer diff_ids.
#[test]
fn images_written_by_skopeo_and_podman_are_readable() {
    if !have_tool("skopeo") || !have_tool("podman") || !have_tool("runc") {
        return;
    }
    let o = outputs();
    let ours = inspect_json(&o.layout);
    let src = &refs(&o)[0];
    let mut written = Vec::new();
    for (name, dest) in [
        (
            "skopeo-oci",
            format!("oci:{}:copied", o.dir.join("sk-layout").display()),
        ),
        (
            "skopeo-oci-archive",
            format!("oci-archive:{}", o.dir.join("sk-oci.tar").display()),
        ),
        (
            "skopeo-docker-archive",
            format!(
                "docker-archive:{}:repo/hello:v1",
                o.dir.join("sk-docker.tar").display()
            ),
        ),
    ] {
        ok(Command::new("skopeo").args(["copy", "-q", src, &dest]));
        // `plinth inspect` takes the same `PATH[:TAG]` form skopeo writes.
        written.push((name, dest.split_once(':').unwrap().1.to_string()));
    }
    let store = tempfile::tempdir().unwrap();
    ok(podman(store.path())
        .current_dir(&o.dir)
        .args(["pull", "-q", "oci:layout:latest"]));
    let name = ok(podman(store.path()).args(["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    let name = name.lines().next().unwrap().to_string();
    for (fmt, file) in [
        ("docker-archive", "pod-docker.tar"),
        ("oci-archive", "pod-oci.tar"),
    ] {
        let p = o.dir.join(file);
        ok(podman(store.path())
            .args(["save", "--format", fmt, "-o"])
            .arg(&p)
            .arg(&name));
        written.push(if fmt == "docker-archive" {
            ("podman-docker-archive", p.display().to_string())
        } else {
            ("podman-oci-archive", p.display().to_string())
        });
    }
    for (name, path) in written {
        // plinth's validator takes what the other tools wrote, too.
        validate_image(Path::new(&path));
        let theirs = inspect_json(Path::new(&path));
        let a = &ours["images"][0];
        let b = &theirs["images"][0];
        assert_eq!(b["config"]["config"], a["config"]["config"], "{name}");
        let diff_ids = |v: &serde_json::Value| -> Vec<String> {
            v["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["diff_id"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(diff_ids(b), diff_ids(a), "{name}: same uncompressed layers");
        assert_eq!(b["files"], a["files"], "{name}: same files");
    }
}

/// Layers over 1 MiB are gzip members concatenated (compressed in parallel): the Go
/// readers behind umoci and podman must take them, digest and diff_id included.
#[test]
fn multi_member_gzip_layers_are_accepted_by_umoci_and_podman() {
    if !have_tool("umoci") || !have_tool("podman") || !have_tool("runc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut data = vec![0u8; 5 << 20];
    let mut x: u32 = 7;
    for (i, b) in data.iter_mut().enumerate() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = if i % 2 == 0 { (x >> 24) as u8 } else { b'p' };
    }
    let spec = write_spec(
        tmp.path(),
        "[image]\nname = \"multi\"\n[[files]]\nsrc = \"hello\"\ndst = \"/hello\"\nmode = \"0755\"\n\
         [[files]]\nsrc = \"data.bin\"\ndst = \"/data.bin\"\n[config]\nentrypoint = [\"/hello\"]\n",
        &[("data.bin", &data)],
    );
    fs_err::copy(hello_example().join("hello"), tmp.path().join("hello")).unwrap();
    let out = tmp.path().join("img");
    build(&spec, &out, &[]);
    let bundle = tmp.path().join("bundle");
    ok(Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:latest", out.display()))
        .arg(&bundle));
    assert_eq!(fs_err::read(bundle.join("rootfs/data.bin")).unwrap(), data);
    let store = tempfile::tempdir().unwrap();
    let run = ok(podman(store.path())
        .current_dir(tmp.path())
        .args(RUN_FLAGS)
        .arg("oci:img:latest"));
    assert_eq!(run, "hello from plinth: uid=65532 gid=65532\n");
}

/// Issue 13, point 5: with the SBOM attached, `index.json` held two manifests, and
/// `skopeo inspect oci:out/hello` failed with "more than one image in oci, choose an
/// image" (podman the same), syft with "unexpected number of OCI directory manifests".
/// The untagged form now works with every tool, and the SBOM is still attached.
#[test]
fn untagged_layout_with_an_attached_sbom_is_refused_by_skopeo_podman_and_syft() {
    let o = outputs();
    // The SBOM is attached (OCI 1.1 `subject`) and plinth finds it by its subject.
    let j = inspect_json(&o.layout);
    let referrers = j["images"][0]["referrers"].as_array().unwrap();
    assert_eq!(referrers.len(), 1, "{referrers:?}");
    assert_eq!(referrers[0]["artifact_type"], "application/spdx+json");
    let payload = referrers[0]["layers"][0]["digest"].as_str().unwrap();
    let beside = fs_err::read(o.dir.join("layout.spdx.json")).unwrap();
    assert_eq!(
        plinth_oci::testing::sha256(&beside),
        payload,
        "the file beside"
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs_err::read(
            o.layout.join("blobs").join(
                referrers[0]["digest"]
                    .as_str()
                    .unwrap()
                    .replacen(':', "/", 1),
            ),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["subject"]["digest"], o.digest.as_str());
    let table = ok(plinth().arg("inspect").arg(&o.layout).arg("--no-files"));
    assert!(table.contains("Referrers\n  sha256:"), "{table}");
    // plinth's own readers take the untagged form.
    ok(plinth()
        .arg("sbom")
        .arg(format!("oci:{}", o.layout.display())));

    let untagged = format!("oci:{}", o.layout.display());
    if have_tool("skopeo") {
        let raw = ok(Command::new("skopeo").args(["inspect", "--raw", &untagged]));
        assert_eq!(plinth_oci::testing::sha256(raw.as_bytes()), o.digest);
        let copied = o.dir.join("copied.tar");
        ok(Command::new("skopeo").args([
            "copy",
            "-q",
            &untagged,
            &format!("docker-archive:{}:hello:copied", copied.display()),
        ]));
        assert!(copied.is_file());
    }
    if have_tool("umoci") {
        // umoci's `--image DIR` means the tag `latest`, which must name one manifest.
        let bundle = o.dir.join("bundle-untagged");
        ok(Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(&o.layout)
            .arg(&bundle));
        assert!(bundle.join("rootfs/usr/local/bin/hello").is_file());
    }
    if have_tool("podman") && have_tool("runc") {
        let store = tempfile::tempdir().unwrap();
        ok(podman(store.path())
            .current_dir(&o.dir)
            .args(["pull", "-q", "oci:layout"]));
        let out = ok(podman(store.path())
            .current_dir(&o.dir)
            .args(RUN_FLAGS)
            .arg("oci:layout"));
        assert_eq!(out, "hello from plinth: uid=65532 gid=65532\n");
    }
    if let Some(syft) = venv_tool("syft") {
        let out = ok(Command::new(syft)
            .args(["-q", "-o", "json"])
            .arg(format!("oci-dir:{}", o.layout.display()))
            .env("SYFT_CHECK_FOR_APP_UPDATE", "false"));
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["source"]["type"], "image", "{}", doc["source"]);
    }
}

/// The multi-platform form of the same: one index in `index.json`, which skopeo and
/// podman resolve to this machine's platform, and one SBOM attached to each platform's
/// manifest. (umoci 0.4 and syft 1.18 read no multi-platform layout at all: build one
/// platform with `--platform` for them.)
#[test]
fn untagged_multi_platform_layout_is_read_by_skopeo_with_an_sbom_per_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "[image]\nname = \"multi\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n\
         [[files]]\nsrc = \"a\"\ndst = \"/app\"\n",
        &[("a", b"app")],
    );
    let out = tmp.path().join("multi");
    build(&spec, &out, &[]);
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
    let j = inspect_json(&out);
    for img in j["images"].as_array().unwrap() {
        let r = img["referrers"].as_array().unwrap();
        assert_eq!(r.len(), 1, "{}: {r:?}", img["platform"]);
        assert_eq!(r[0]["artifact_type"], "application/spdx+json");
    }
    if have_tool("skopeo") {
        let cfg = ok(Command::new("skopeo").args([
            "inspect",
            "--config",
            &format!("oci:{}", out.display()),
        ]));
        let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
        assert_eq!(cfg["os"], "linux");
        let copy = tmp.path().join("copy");
        ok(Command::new("skopeo").args([
            "copy",
            "-q",
            "--all",
            &format!("oci:{}", out.display()),
            &format!("oci:{}:copied", copy.display()),
        ]));
    }
}
