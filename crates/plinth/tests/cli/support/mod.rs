//! What the registry tests share: a real registry ([`registry`]), its token issuer
//! ([`token`]), a small HTTP server for lying registries ([`http`]), and the images they
//! move.

pub mod http;
pub mod registry;
pub mod seaweed;
pub mod serve;
pub mod token;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::*;

/// The `base` image of `examples/base` (bookworm, amd64 + arm64 in one index, each with
/// its SBOM attached by `subject`), built once per test run into the target's temp dir.
/// `None` when the Debian mirror cannot be reached and this is not CI.
pub fn base_image() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let out = tmp.join("registry-tests-base");
            let o = run(plinth()
                .arg("build")
                .arg(repo_root().join("examples/base/plinth.toml"))
                .arg("-q")
                .arg("-o")
                .arg(&out)
                // The same package cache as the other Debian tests.
                .arg("--cache-dir")
                .arg(tmp.join("plinth-cache")));
            if !o.status.success() {
                let err = stderr(&o);
                let offline =
                    err.contains("cannot read the package index") || err.contains("cannot fetch");
                if offline && std::env::var("CI").as_deref() != Ok("true") {
                    eprintln!(
                        "SKIPPED: the Debian mirror of the apt sources cannot be reached:\n{err}"
                    );
                    return None;
                }
                panic!("plinth build of examples/base failed:\n{err}");
            }
            validate_image(&out);
            Some(out)
        })
        .as_deref()
}

/// The hello example (a static binary on scratch, one platform), built once per run.
pub fn hello_image() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("registry-tests-hello");
        let spec = copy_example(&tmp.join("src"));
        let out = tmp.join("layout");
        build(&spec, &out, &[]);
        out
    })
}

/// Makes `podman` pull the image tagged `tag` from the layout at `layout`. podman names
/// an image pulled from an `oci:` path after that path, and refuses one with capitals:
/// it is given a relative path from the layout's parent, so that where the checkout is
/// (a home directory's `Projects/`, a `mktemp -d`) stays out of the name.
pub fn podman_pull_layout<'a>(
    podman: &'a mut std::process::Command,
    layout: &Path,
    tag: &str,
) -> &'a mut std::process::Command {
    let name = layout.file_name().unwrap().to_str().unwrap();
    assert_eq!(name, name.to_lowercase(), "podman needs a lowercase name");
    podman
        .current_dir(layout.parent().unwrap())
        .args(["pull", "-q"])
        .arg(format!("oci:{name}:{tag}"))
}

/// The digest of the first image in a layout's `index.json` (what a tag points to).
pub fn layout_digest(layout: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `skopeo inspect --raw` of a registry reference (TLS off: the registry is plain HTTP on
/// loopback), and the digest of those exact bytes.
pub fn skopeo_raw(reference: &str, extra: &[&str]) -> (Vec<u8>, String) {
    let o = run(Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .args(extra)
        .arg(format!("docker://{reference}")));
    assert!(
        o.status.success(),
        "skopeo inspect {reference}: {}",
        stderr(&o)
    );
    let digest = plinth_oci::testing::sha256(&o.stdout);
    (o.stdout, digest)
}

/// `skopeo copy` with TLS off on both sides (flags before the two references).
pub fn skopeo_copy(args: &[&str]) {
    ok(Command::new("skopeo")
        .args([
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .args(args));
}
