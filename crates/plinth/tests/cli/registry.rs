//! Plinth against a real registry (CNCF distribution on 127.0.0.1) and the real clients
//! (skopeo, podman): what Plinth pushes they read, what they push Plinth reads, digests
//! equal; anonymous, htpasswd and token auth; credential helpers; referrers.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::*;
use crate::support::registry::{self, Auth, PASSWORD, Registry, USER};
use crate::support::*;

/// The harness itself: skopeo, a client that is not ours, gets in with the password and
/// not without, on both kinds of auth. A failure here is the harness's, not Plinth's.
#[test]
fn harness_registries_accept_skopeo_with_credentials_only() {
    if !have_tool("skopeo") {
        return;
    }
    let hello = hello_image();
    for auth in [Auth::Htpasswd, Auth::Token] {
        let Some(reg) = Registry::start(auth) else {
            return;
        };
        let dst = reg.docker("harness/hello:latest");
        let creds = format!("--dest-creds={USER}:{PASSWORD}");
        skopeo_copy(&[&creds, &format!("oci:{}:latest", hello.display()), &dst]);
        let (_, digest) = skopeo_raw(
            &reg.reference("harness/hello:latest"),
            &[&format!("--creds={USER}:{PASSWORD}")],
        );
        assert_eq!(digest, layout_digest(hello), "{auth:?}");
        let o = run(Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &dst]));
        assert!(!o.status.success(), "{auth:?}: anonymous read was let in");
        if let Some(issuer) = &reg.issuer {
            let grants = issuer.grants();
            assert!(
                grants.iter().any(|g| g.starts_with("GET basic")),
                "{grants:?}"
            );
        }
    }
}

/// The shared registry is one process while tests hold it, and gone after.
#[test]
fn harness_shared_registry_is_stopped_when_the_last_user_drops_it() {
    let Some(a) = registry::shared() else {
        return;
    };
    let b = registry::shared().unwrap();
    assert_eq!(a.host, b.host);
    let host = a.host.clone();
    drop((a, b));
    // Another test may hold it still; only when nobody does must the port be closed.
    if registry::shared().is_some_and(|r| r.host == host) {
        return;
    }
    assert!(
        std::net::TcpStream::connect(&host).is_err(),
        "{host} still answers"
    );
}

// --- helpers ----------------------------------------------------------------------------

/// A `plinth` command that sees only the credentials under `home` (never the machine
/// user's): `DOCKER_CONFIG=home/docker`, no podman auth file.
fn plinth_in(home: &Path) -> Command {
    let mut c = plinth();
    c.env("DOCKER_CONFIG", home.join("docker"))
        .env("REGISTRY_AUTH_FILE", home.join("no-auth.json"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("HOME", home);
    c
}

/// `--json` output of a transfer (`push`, `pull`, `copy`) that must succeed.
fn json_of(cmd: &mut Command) -> Value {
    let out = ok(cmd.arg("--json"));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The index of a layout's first entry and its per-platform manifests
/// (`os/arch` → digest).
fn platform_digests(layout: &Path) -> Vec<(String, String)> {
    let index = read_blob(layout, &layout_digest(layout));
    let index: Value = serde_json::from_slice(&index).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            (
                format!(
                    "{}/{}",
                    p["os"].as_str().unwrap(),
                    p["architecture"].as_str().unwrap()
                ),
                m["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn read_blob(layout: &Path, digest: &str) -> Vec<u8> {
    fs_err::read(
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

/// The referrers of `subject` written beside it in the layout (artifact digests).
fn layout_referrers(layout: &Path, subject: &str) -> Vec<String> {
    // A layout lists the image alone in index.json; its attached artifacts are found by
    // their subject, as `plinth inspect` reports them.
    let out = ok(plinth().args(["inspect", "--format", "json"]).arg(layout));
    let v: Value = serde_json::from_str(&out).unwrap();
    v["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["digest"] == subject)
        .flat_map(|i| i["referrers"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["digest"].as_str().map(str::to_string))
        .collect()
}

/// The digests listed by the `sha256-<hex>` tag (the referrers tag schema) for `subject`
/// in `repo`, read with skopeo; empty when the tag does not exist.
fn fallback_referrers(reg: &Registry, repo: &str, subject: &str) -> Vec<String> {
    let tag = subject.replace(':', "-");
    let o = run(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(reg.docker(&format!("{repo}:{tag}"))));
    if !o.status.success() {
        return Vec::new();
    }
    let index: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut v: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// A podman pull from a registry (private vfs storage under `tmp`); returns the digest
/// podman records for the image.
fn podman_pull(tmp: &Path, reference: &str, extra: &[&str]) -> String {
    let pm = |args: &[&str]| {
        let mut c = podman_vfs(tmp);
        c.args(args);
        c
    };
    ok(&mut pm(&[
        &["pull", "-q", "--tls-verify=false"],
        extra,
        &[reference],
    ]
    .concat()));
    ok(&mut pm(&[
        "image",
        "inspect",
        "--format",
        "{{.Digest}}",
        reference,
    ]))
    .trim()
    .to_string()
}

// --- push and pull against the real clients -----------------------------------------------

/// Plinth pushes the base image (an index of two platforms); skopeo and podman read it,
/// the registry serves the very bytes of the layout (same digests), and skopeo copies it
/// back into a layout that umoci-grade validation accepts.
#[test]
fn plinth_push_is_read_by_skopeo_and_podman_with_equal_digests() {
    if !have_tool("skopeo") || !have_tool("podman") {
        return;
    }
    let (Some(reg), Some(base)) = (registry::shared(), base_image()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let reference = reg.reference("interop/base:bookworm");
    let pushed = json_of(plinth_in(tmp.path()).arg("push").arg(base).arg(&reference));
    let index = layout_digest(base);
    assert_eq!(pushed["digest"], index, "{pushed:#}");
    let (_, served) = skopeo_raw(&reference, &[]);
    assert_eq!(served, index);
    for (platform, digest) in platform_digests(base) {
        let (_, d) = skopeo_raw(&reg.reference(&format!("interop/base@{digest}")), &[]);
        assert_eq!(d, digest, "{platform}");
    }
    let copy = tmp.path().join("skopeo-copy");
    skopeo_copy(&[
        "--all",
        &reg.docker("interop/base:bookworm"),
        &format!("oci:{}:bookworm", copy.display()),
    ]);
    validate_image(&copy);
    assert_eq!(layout_digest(&copy), index);
    assert_eq!(podman_pull(tmp.path(), &reference, &[]), index);
}

/// What skopeo pushed, Plinth pulls: into a layout (same index digest), an oci-archive,
/// and one platform into a docker-archive that skopeo reads back.
#[test]
fn skopeo_push_is_read_by_plinth_pull() {
    if !have_tool("skopeo") {
        return;
    }
    let (Some(reg), Some(base)) = (registry::shared(), base_image()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    skopeo_copy(&[
        "--all",
        &format!("oci:{}:bookworm", base.display()),
        &reg.docker("from-skopeo/base:bookworm"),
    ]);
    let reference = reg.reference("from-skopeo/base:bookworm");
    let out = tmp.path().join("pulled");
    let pulled = json_of(
        plinth_in(tmp.path())
            .arg("pull")
            .arg(&reference)
            .arg("-o")
            .arg(&out),
    );
    let index = layout_digest(base);
    assert_eq!(pulled["digest"], index, "{pulled:#}");
    validate_image(&out);
    assert_eq!(layout_digest(&out), index);
    // Nothing re-encoded: every blob pulled is one of the pushed layout's (by name, and
    // validate_image checked each name is its content's digest).
    for e in fs_err::read_dir(out.join("blobs/sha256")).unwrap() {
        let name = e.unwrap().file_name();
        assert!(base.join("blobs/sha256").join(&name).exists(), "{name:?}");
    }

    let archive = tmp.path().join("pulled.tar");
    ok(plinth_in(tmp.path())
        .args(["pull", &reference, "-f", "oci-archive", "-o"])
        .arg(&archive));
    let (_, amd64) = platform_digests(base)
        .into_iter()
        .find(|(p, _)| p == "linux/amd64")
        .unwrap();
    let docker = tmp.path().join("pulled-docker.tar");
    ok(plinth_in(tmp.path())
        .args([
            "pull",
            &reference,
            "--platform",
            "linux/amd64",
            "-f",
            "docker-archive",
            "-o",
        ])
        .arg(&docker));
    let manifest: Value = serde_json::from_slice(&read_blob(base, &amd64)).unwrap();
    let config = manifest["config"]["digest"].as_str().unwrap();
    let want: Value = serde_json::from_slice(&read_blob(base, config)).unwrap();
    let docker_cfg: Value = serde_json::from_str(&ok(Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("docker-archive:{}", docker.display()))))
    .unwrap();
    assert_eq!(
        docker_cfg["rootfs"], want["rootfs"],
        "same layers (diff_ids)"
    );
    let oci_cfg: Value = serde_json::from_str(&ok(Command::new("skopeo")
        .args(["inspect", "--config", "--override-arch", "amd64"])
        .arg(format!("oci-archive:{}", archive.display()))))
    .unwrap();
    assert_eq!(oci_cfg, want);
}

// --- copy --------------------------------------------------------------------------------

/// Registry to registry: the manifests arrive byte for byte; a second repository of the
/// same registry gets the blobs by cross-repository mount, not by upload; a repeated
/// copy sends nothing. All of it as `--format json` reports it, checked against what the
/// registry then serves.
#[test]
fn copy_between_repositories_mounts_and_skips_what_the_target_has() {
    if !have_tool("skopeo") {
        return;
    }
    let (Some(reg), Some(base)) = (registry::shared(), base_image()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = reg.reference("copy/src:bookworm");
    ok(plinth_in(tmp.path()).arg("push").arg(base).arg(&src));
    let index = layout_digest(base);

    let first =
        json_of(plinth_in(tmp.path()).args(["copy", &src, &reg.reference("copy/dst:bookworm")]));
    assert_eq!(first["digest"], index, "{first:#}");
    let blobs = first["blobs"].as_array().unwrap().len() as u64;
    assert!(blobs > 2, "{first:#}");
    assert_eq!(
        first["blobs_sent"], 0,
        "every blob is in the registry already: {first:#}"
    );
    assert_eq!(first["blobs_mounted"], blobs, "{first:#}");
    assert_eq!(
        skopeo_raw(&reg.reference("copy/dst:bookworm"), &[]).1,
        index
    );

    let again =
        json_of(plinth_in(tmp.path()).args(["copy", &src, &reg.reference("copy/dst:bookworm")]));
    assert_eq!(again["blobs_sent"], 0, "{again:#}");
    assert_eq!(again["blobs_mounted"], 0, "{again:#}");
    assert_eq!(again["blobs_skipped"], blobs, "{again:#}");
    assert_eq!(again["bytes_sent"], 0, "{again:#}");

    // To a registry that has none of it: everything is sent, and skopeo reads it.
    let Some(other) = Registry::start(Auth::Anonymous) else {
        return;
    };
    let far =
        json_of(plinth_in(tmp.path()).args(["copy", &src, &other.reference("copy/far:bookworm")]));
    assert_eq!(far["blobs_sent"], blobs, "{far:#}");
    assert_eq!(
        skopeo_raw(&other.reference("copy/far:bookworm"), &[]).1,
        index
    );
}

/// A multi-platform index is copied whole by default, and one platform with
/// `--platform` (its manifest unchanged, so its digest is the one in the index).
#[test]
fn multi_platform_index_is_copied_whole_or_one_platform() {
    if !have_tool("skopeo") {
        return;
    }
    let (Some(reg), Some(base)) = (registry::shared(), base_image()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = format!("oci:{}:bookworm", base.display());
    let whole = reg.reference("platforms/whole:bookworm");
    ok(plinth_in(tmp.path()).args(["copy", &src, &whole]));
    let (raw, d) = skopeo_raw(&whole, &[]);
    assert_eq!(d, layout_digest(base));
    let served: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(served["manifests"].as_array().unwrap().len(), 2);
    for (platform, digest) in platform_digests(base) {
        let one = reg.reference(&format!(
            "platforms/{}:bookworm",
            platform.replace('/', "-")
        ));
        let r =
            json_of(plinth_in(tmp.path()).args(["copy", &whole, &one, "--platform", &platform]));
        assert_eq!(r["digest"], digest, "{platform}: {r:#}");
        let (raw, d) = skopeo_raw(&one, &[]);
        assert_eq!(d, digest, "{platform}");
        let m: Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        // And pulled back, that platform only.
        let out = tmp.path().join(platform.replace('/', "-"));
        ok(plinth_in(tmp.path())
            .args(["pull", &whole, "--platform", &platform, "-o"])
            .arg(&out));
        validate_image(&out);
        assert_eq!(layout_digest(&out), digest, "{platform}");
    }
}

/// The SBOMs `plinth build` attaches (OCI 1.1 `subject`) travel with the image: pushed,
/// copied registry to registry, and pulled into a layout. distribution 2.8 has no
/// referrers API, so this is the `sha256-<hex>` tag schema; `--no-referrers` leaves them.
#[test]
fn referrers_survive_push_copy_and_pull_through_the_tag_schema() {
    if !have_tool("skopeo") {
        return;
    }
    let (Some(reg), Some(base)) = (registry::shared(), base_image()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = reg.reference("referrers/src:bookworm");
    ok(plinth_in(tmp.path()).arg("push").arg(base).arg(&src));
    let subjects = platform_digests(base);
    for (platform, subject) in &subjects {
        let mut want = layout_referrers(base, subject);
        want.sort();
        assert_eq!(want.len(), 1, "{platform}: the build attaches one SBOM");
        assert_eq!(
            fallback_referrers(&reg, "referrers/src", subject),
            want,
            "{platform}: push"
        );
    }

    ok(plinth_in(tmp.path()).args(["copy", &src, &reg.reference("referrers/dst:bookworm")]));
    ok(plinth_in(tmp.path()).args([
        "copy",
        "--no-referrers",
        &src,
        &reg.reference("referrers/bare:bookworm"),
    ]));
    let out = tmp.path().join("pulled");
    ok(plinth_in(tmp.path()).args(["pull", &src, "-o"]).arg(&out));
    validate_image(&out);
    for (platform, subject) in &subjects {
        let want = fallback_referrers(&reg, "referrers/src", subject);
        assert_eq!(
            fallback_referrers(&reg, "referrers/dst", subject),
            want,
            "{platform}: copy"
        );
        assert!(
            fallback_referrers(&reg, "referrers/bare", subject).is_empty(),
            "{platform}: --no-referrers copied them"
        );
        // The artifact itself is there, byte for byte.
        for d in &want {
            let (_, got) = skopeo_raw(&reg.reference(&format!("referrers/dst@{d}")), &[]);
            assert_eq!(&got, d);
        }
        let mut pulled = layout_referrers(&out, subject);
        pulled.sort();
        assert_eq!(pulled, want, "{platform}: pull -o DIR");
    }
}

// --- reading by reference -----------------------------------------------------------------

/// `sbom`, `inspect`, `check`, `compare` and `scan` of a registry reference say what they
/// say of the same image on disk (the subject's name aside).
#[test]
fn sbom_scan_inspect_check_and_compare_of_a_reference_equal_the_local_result() {
    let (Some(reg), Some(base)) = (registry::shared(), base_image()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let reference = reg.reference("read/base:bookworm");
    ok(plinth_in(tmp.path()).arg("push").arg(base).arg(&reference));
    let local = format!("{}:bookworm", base.display());
    let same = |args: &[&str]| {
        let of = |target: &str| -> Value {
            let out = ok(plinth_in(tmp.path()).args(args).arg(target));
            let mut v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
            strip_subject(&mut v, target);
            v
        };
        let (l, r) = (of(&local), of(&reference));
        assert_eq!(l, r, "plinth {args:?}: local and registry differ");
    };
    same(&["sbom", "-q", "-f", "json", "--platform", "linux/amd64"]);
    same(&["inspect", "--format", "json"]);
    same(&["check", "--format", "json"]);
    let hello = format!("{}:latest", hello_image().display());
    same(&["compare", "--format", "json", "--no-cves", &hello]);
    // Two references in one command, as `compare alpine gcr.io/distroless/static` is.
    let hello_ref = reg.reference("read/hello:latest");
    ok(plinth_in(tmp.path())
        .arg("push")
        .arg(hello_image())
        .arg(&hello_ref));
    let compare = |a: &str, b: &str| {
        let out =
            ok(plinth_in(tmp.path()).args(["compare", "--format", "json", "--no-cves", a, b]));
        let mut v: Value = serde_json::from_str(&out).unwrap();
        strip_subject(&mut v, a);
        strip_subject(&mut v, b);
        v
    };
    assert_eq!(compare(&hello_ref, &reference), compare(&hello, &local));
    let db = crate::scan::debian_db(tmp.path());
    let db = db.to_str().unwrap();
    same(&["scan", "-q", "-f", "json", "--db", db]);
}

/// `inspect` checks every blob before it shows anything; of a layout it reports the
/// distinct blobs it checked, and the same image read from a registry must say the same
/// (the layers both platforms share are one blob each).
#[test]
fn inspect_of_a_reference_counts_each_blob_once_as_for_a_layout() {
    let (Some(reg), Some(base)) = (registry::shared(), base_image()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let reference = reg.reference("read-count/base:bookworm");
    ok(plinth_in(tmp.path()).arg("push").arg(base).arg(&reference));
    // The blobs checked, less those of attached artifacts: a layout's are found among
    // its blobs and checked, a registry's are not listed by `inspect` of a reference yet.
    let count = |target: &str| {
        let out = ok(plinth_in(tmp.path()).args(["inspect", "--format", "json", target]));
        let v = serde_json::from_str::<Value>(&out).unwrap();
        let referrer_blobs: u64 = v["images"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| i["referrers"].as_array().cloned().unwrap_or_default())
            .map(|r| 2 + r["layers"].as_array().map_or(0, |l| l.len() as u64))
            .sum();
        v["validated_blobs"].as_u64().unwrap() - referrer_blobs
    };
    let local = count(&format!("{}:bookworm", base.display()));
    assert_eq!(count(&reference), local);
}

/// Replaces every string that names `target` (the subject of a report) by a placeholder
/// and drops what describes the source (`source`: "OCI layout DIR" or "registry image
/// REF"; `source_kind`) and inspect's `validated_blobs` (see
/// `inspect_of_a_reference_counts_each_blob_once_as_for_a_layout`).
fn strip_subject(v: &mut Value, target: &str) {
    match v {
        Value::String(s) if s.contains(target) => *s = s.replace(target, "SUBJECT"),
        Value::Array(a) => a.iter_mut().for_each(|x| strip_subject(x, target)),
        Value::Object(o) => {
            // A layout's attached artifacts are found by subject among its blobs; a
            // registry's are not listed by `inspect` of a reference yet.
            for k in ["source", "source_kind", "validated_blobs", "referrers"] {
                o.remove(k);
            }
            o.values_mut().for_each(|x| strip_subject(x, target));
        }
        _ => {}
    }
}

/// `plinth build SPEC --push REF` builds and pushes in one go: the registry serves the
/// digest the build printed.
#[test]
fn build_push_lands_the_printed_digest() {
    if !have_tool("skopeo") {
        return;
    }
    let Some(reg) = registry::shared() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(&tmp.path().join("src"));
    let reference = reg.reference("built/hello:latest");
    let digest = ok(plinth_in(tmp.path())
        .arg("build")
        .arg(&spec)
        .arg("-q")
        .arg("-o")
        .arg(tmp.path().join("out"))
        .args(["--push", &reference]))
    .trim()
    .to_string();
    assert_eq!(
        digest,
        layout_digest(hello_image()),
        "the example's pinned digest"
    );
    assert_eq!(skopeo_raw(&reference, &[]).1, digest);
}

// --- credentials ----------------------------------------------------------------------------

/// A docker `config.json` whose `credHelpers` names a helper for the registry: Plinth runs
/// `docker-credential-NAME get` with the registry on stdin and uses what it prints; without
/// the helper the same push is refused (401, exit 2, naming the reference).
#[test]
fn credentials_come_from_a_docker_credential_helper() {
    let Some(reg) = Registry::start(Auth::Htpasswd) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let hello = hello_image();
    let reference = reg.reference("helper/hello:latest");

    let err = fails(plinth_in(home).arg("push").arg(hello).arg(&reference), 2);
    // A refused blob upload names the repository (the tag is not involved yet).
    assert!(err.contains(&reg.reference("helper/hello")), "{err}");

    let bin = home.join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    let calls = home.join("helper-calls");
    let helper = bin.join("docker-credential-plinthtest");
    fs_err::write(
        &helper,
        format!(
            "#!/bin/sh\n\
             read -r server\n\
             echo \"$1 $server\" >> '{calls}'\n\
             [ \"$1\" = get ] || exit 1\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}\\n' \"$server\"\n",
            calls = calls.display()
        ),
    )
    .unwrap();
    ok(Command::new("chmod").arg("755").arg(&helper));
    fs_err::create_dir_all(home.join("docker")).unwrap();
    fs_err::write(
        home.join("docker/config.json"),
        serde_json::json!({"credHelpers": {reg.host.clone(): "plinthtest"}}).to_string(),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pushed = json_of(
        plinth_in(home)
            .env("PATH", &path)
            .arg("push")
            .arg(hello)
            .arg(&reference),
    );
    assert_eq!(pushed["digest"], layout_digest(hello));
    let calls = fs_err::read_to_string(&calls).unwrap();
    assert!(
        calls.lines().all(|l| l == format!("get {}", reg.host)),
        "{calls}"
    );
    assert!(!calls.is_empty());
    if have_tool("skopeo") {
        let creds = format!("--creds={USER}:{PASSWORD}");
        assert_eq!(skopeo_raw(&reference, &[&creds]).1, layout_digest(hello));
    }
}

/// `plinth login` writes the file docker writes; skopeo and podman log in with it
/// (`--authfile`), Plinth pushes with it through the token flow, and `plinth logout`
/// takes the entry out again.
#[test]
fn login_writes_a_config_json_that_skopeo_and_podman_accept() {
    if !have_tool("skopeo") || !have_tool("podman") {
        return;
    }
    let Some(reg) = Registry::start(Auth::Token) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let reference = reg.reference("login/hello:latest");
    let hello = hello_image();

    let mut login = plinth_in(home);
    login
        .args(["login", &reg.host, "-u", USER, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "plinth login: {}", stderr(&o));
    let config_path = home.join("docker/config.json");
    let config: Value = serde_json::from_slice(&fs_err::read(&config_path).unwrap()).unwrap();
    assert!(config["auths"][&reg.host]["auth"].is_string(), "{config:#}");

    ok(plinth_in(home).arg("push").arg(hello).arg(&reference));
    let grants = reg.issuer.as_ref().unwrap().grants();
    assert!(
        grants
            .iter()
            .all(|g| g.starts_with("GET basic") || g.starts_with("POST")),
        "{grants:?}"
    );

    let authfile = config_path.to_str().unwrap();
    let (_, d) = skopeo_raw(&reference, &["--authfile", authfile]);
    assert_eq!(d, layout_digest(hello));
    assert_eq!(
        podman_pull(home, &reference, &["--authfile", authfile]),
        layout_digest(hello)
    );

    ok(plinth_in(home).args(["logout", &reg.host]));
    let config: Value = serde_json::from_slice(&fs_err::read(&config_path).unwrap()).unwrap();
    assert!(config["auths"].get(&reg.host).is_none(), "{config:#}");
    let err = fails(plinth_in(home).arg("push").arg(hello).arg(&reference), 2);
    assert!(err.contains(&reg.reference("login/hello")), "{err}");
}

/// An identity token (what `docker login` stores for an OAuth2 registry) is exchanged
/// with the OAuth2 POST (`grant_type=refresh_token`), for a push and a pull.
#[test]
fn token_auth_uses_the_oauth2_refresh_token() {
    let Some((reg, base, home)) = oauth_push_and_pull("oauth/base:bookworm") else {
        return;
    };
    let grants = reg.issuer.as_ref().unwrap().grants();
    assert!(
        !grants.is_empty() && grants.iter().all(|g| g.starts_with("POST refresh_token")),
        "{grants:?}"
    );
    assert_eq!(
        layout_digest(&home.path().join("pulled")),
        layout_digest(base)
    );
}

/// Tokens are cached per scope: a push of tens of blobs, several in parallel, asks the
/// issuer once for its scope (`pull,push`), and the pull once for `pull`.
#[test]
fn parallel_layer_uploads_share_one_token_per_scope() {
    let Some((reg, _, _)) = oauth_push_and_pull("cache/base:bookworm") else {
        return;
    };
    let grants = reg.issuer.as_ref().unwrap().grants();
    let count = |scope: &str| grants.iter().filter(|g| g.ends_with(scope)).count();
    assert_eq!(count(":pull,push"), 1, "the push: {grants:#?}");
    assert_eq!(count(":pull"), 1, "the pull: {grants:#?}");
}

/// Pushes the base image to a token-auth registry with an identity token in config.json,
/// then pulls it into `HOME/pulled`.
fn oauth_push_and_pull(repo: &str) -> Option<(Registry, &'static Path, tempfile::TempDir)> {
    let reg = Registry::start(Auth::Token)?;
    let base = base_image()?;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    fs_err::create_dir_all(home.join("docker")).unwrap();
    fs_err::write(
        home.join("docker/config.json"),
        serde_json::json!({"auths": {reg.host.clone(): {
            "identitytoken": crate::support::token::REFRESH_TOKEN,
        }}})
        .to_string(),
    )
    .unwrap();
    let reference = reg.reference(repo);
    ok(plinth_in(home).arg("push").arg(base).arg(&reference));
    let out = home.join("pulled");
    ok(plinth_in(home).args(["pull", &reference, "-o"]).arg(&out));
    Some((reg, base, tmp))
}

/// podman's `auth.json` (`REGISTRY_AUTH_FILE`) is read too.
#[test]
fn credentials_come_from_podmans_auth_json() {
    let Some(reg) = Registry::start(Auth::Htpasswd) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let auth = tmp.path().join("auth.json");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    fs_err::write(
        &auth,
        serde_json::json!({"auths": {reg.host.clone(): {"auth": b64}}}).to_string(),
    )
    .unwrap();
    let reference = reg.reference("podman-auth/hello:latest");
    ok(plinth_in(tmp.path())
        .env("REGISTRY_AUTH_FILE", &auth)
        .arg("push")
        .arg(hello_image())
        .arg(&reference));
    let out = tmp.path().join("pulled");
    ok(plinth_in(tmp.path())
        .env("REGISTRY_AUTH_FILE", &auth)
        .args(["pull", &reference, "-o"])
        .arg(&out));
    assert_eq!(layout_digest(&out), layout_digest(hello_image()));
}
