//! Alpine images end to end: `examples/alpine` (static) and `examples/alpine-base` built
//! offline from the signed test repository in the tree (`tests/data/repos/alpine`, the
//! real 3.20.3 packages re-packed and signed with a test key), golden digests, the
//! tampering cases through the build, the SBOM against syft and trivy, `why` and `lock`,
//! and the base image run with podman (busybox's sh, `apk info`, `apk audit`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// `plinth build examples/alpine/plinth.toml` (static): the golden digest.
const STATIC_DIGEST: &str =
    "sha256:3a5b9b28b110f76c62210ffa09b375c1a6ec205b22b0ae2e503bee48726ef959";
/// `plinth build examples/alpine-base/plinth.toml`: the golden digest.
const BASE_DIGEST: &str = "sha256:1cd6a1a75a2e429e47a33e90a1667eea5907a5bb6b2db88c6a24d8f8f13e9211";

const TEST_REPO: &str = "repos/alpine/v3.20/main";
const TEST_KEYS: &str = "repos/alpine/keys";

pub(crate) fn example(name: &str) -> PathBuf {
    repo_root().join("examples").join(name).join("plinth.toml")
}

/// Builds `spec` into `out` with its own package cache `cache` (so that a test sees a cold
/// build when it asks for one); returns the digest.
pub(crate) fn build_with_cache(spec: &Path, out: &Path, cache: &Path) -> String {
    build(
        spec,
        out,
        &["--cache-dir", cache.to_str().unwrap(), "--format", "oci"],
    )
}

/// A copy of the test repository (mirror layout: `v3.20/main/x86_64`) under `dir`, and
/// a spec without a lock that builds `profile` from it with `keys`.
fn spec_on_copy(dir: &Path, profile: &str, keys: &Path) -> (PathBuf, PathBuf) {
    let repo = dir.join("mirror/v3.20/main/x86_64");
    fs_err::create_dir_all(&repo).unwrap();
    for e in fs_err::read_dir(test_data(TEST_REPO).join("x86_64")).unwrap() {
        let e = e.unwrap();
        fs_err::copy(e.path(), repo.join(e.file_name())).unwrap();
    }
    let spec = write_spec(
        &dir.join("spec"),
        &format!(
            "[image]\nname = \"t\"\nprofile = \"{profile}\"\n[alpine]\nrelease = \"3.20\"\n\
             repositories = [\"../mirror/v3.20/main\"]\nkeys = [\"{}\"]\n",
            keys.display()
        ),
        &[],
    );
    (spec, repo)
}

/// Flips one byte of `file` at `offset` from its end.
pub(crate) fn flip(file: &Path, from_end: usize) {
    let mut b = fs_err::read(file).unwrap();
    let i = b.len() - from_end;
    b[i] ^= 0x55;
    fs_err::write(file, b).unwrap();
}

#[test]
fn alpine_examples_build_offline_to_their_golden_digests_cold_and_warm() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    for (name, golden) in [("alpine", STATIC_DIGEST), ("alpine-base", BASE_DIGEST)] {
        let spec = example(name);
        let lock_before = fs_err::read(spec.with_file_name("plinth.lock")).unwrap();
        let cold = build_with_cache(&spec, &tmp.path().join(format!("{name}-1")), &cache);
        let warm = build_with_cache(&spec, &tmp.path().join(format!("{name}-2")), &cache);
        assert_eq!(cold, golden, "{name}");
        assert_eq!(warm, golden, "{name}");
        // The committed lock is used, not rewritten.
        assert_eq!(
            fs_err::read(spec.with_file_name("plinth.lock")).unwrap(),
            lock_before
        );
    }
    // Another umask, TZ and working directory give the same image.
    let out = tmp.path().join("umask");
    let o = ok(Command::new("sh")
        .arg("-c")
        .arg(r#"umask 077; cd / && exec "$1" build "$2" -q -o "$3" --cache-dir "$4""#)
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_plinth"))
        .arg(example("alpine"))
        .arg(&out)
        .arg(&cache)
        .env("TZ", "Pacific/Kiritimati")
        .env("NO_COLOR", "1"));
    assert_eq!(o.trim(), STATIC_DIGEST);
}

#[test]
fn alpine_static_image_holds_the_database_apk_config_and_no_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    build_with_cache(&example("alpine"), &out, &tmp.path().join("cache"));
    let bundle = tmp.path().join("bundle");
    if !have_tool("umoci") {
        return;
    }
    ok(Command::new("umoci")
        .args(["raw", "unpack", "--rootless", "--image"])
        .arg(format!("{}:latest", out.display()))
        .arg(&bundle));
    let installed = fs_err::read_to_string(bundle.join("lib/apk/db/installed")).unwrap();
    let names: Vec<&str> = installed
        .lines()
        .filter_map(|l| l.strip_prefix("P:"))
        .collect();
    assert_eq!(
        names,
        ["alpine-baselayout-data", "ca-certificates-bundle", "tzdata"]
    );
    assert!(
        installed.contains("\nR:ca-certificates.crt\n"),
        "{installed}"
    );
    assert_eq!(
        fs_err::read_to_string(bundle.join("etc/apk/world")).unwrap(),
        "alpine-baselayout-data\nca-certificates-bundle\ntzdata\n"
    );
    // A file:// repository names the build machine: it is not written into the image.
    assert_eq!(
        fs_err::read_to_string(bundle.join("etc/apk/repositories")).unwrap(),
        ""
    );
    assert!(
        bundle
            .join("etc/apk/keys/plinth-test-alpine.rsa.pub")
            .is_file()
    );
    let osr = fs_err::read_to_string(bundle.join("etc/os-release")).unwrap();
    assert!(
        osr.contains("\nID=alpine\n") && osr.contains("\nVERSION_ID=3.20\n"),
        "{osr}"
    );
    assert!(bundle.join("etc/ssl/certs/ca-certificates.crt").is_file());
    assert!(bundle.join("usr/share/zoneinfo/UTC").is_file());
    assert!(!bundle.join("bin/sh").exists() && !bundle.join("bin/busybox").exists());
    let passwd = fs_err::read_to_string(bundle.join("etc/passwd")).unwrap();
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");
    let config = &inspect_json(&out)["images"][0];
    assert_eq!(config["config"]["config"]["User"], "65532:65532");
    // No shell, no package manager, not root: check passes it.
    let said = ok(plinth().arg("check").arg(&out));
    assert!(said.contains("all 5 rules passed"), "{said}");
}

#[test]
fn alpine_lock_why_and_update() {
    let spec = example("alpine-base");
    let listed = ok(plinth().arg("lock").arg(&spec).arg("-q"));
    let names: Vec<&str> = listed
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "alpine-baselayout",
            "alpine-baselayout-data",
            "apk-tools",
            "busybox",
            "busybox-binsh",
            "ca-certificates-bundle",
            "libcrypto3",
            "libssl3",
            "musl",
            "ssl_client",
            "tzdata",
            "zlib"
        ]
    );
    assert!(listed.starts_with("linux/amd64\talpine-baselayout\t3.6.5-r0\tx86_64\n"));
    assert_eq!(
        ok(plinth().args(["why", "libcrypto3"]).arg(&spec)),
        "linux/amd64: libcrypto3 3.3.2-r0: apk-tools -> libcrypto3\n"
    );
    assert_eq!(
        ok(plinth().args(["why", "busybox"]).arg(&spec)),
        "linux/amd64: busybox 1.36.1-r29: requested by the spec\n"
    );
    assert!(ok(plinth().args(["why", "ssl_client"]).arg(&spec)).contains("install_if busybox="));
    let e = fails(plinth().args(["why", "bash"]).arg(&spec), 2);
    assert!(e.contains("bash is not in the image"), "{e}");
    // --update on a copy re-resolves to the same packages; a changed spec is stale.
    let tmp = tempfile::tempdir().unwrap();
    let (copy, _) = spec_on_copy(tmp.path(), "base", &test_data(TEST_KEYS));
    update_keeps_then_stale(
        &copy,
        tmp.path(),
        "[alpine]\n",
        "packages = [\"scanelf\"]\n",
    );
}

/// `lock` then `lock --update` on `spec` changes no package; then, with `line` added after
/// `table` in the spec, a build refuses the stale lock (output under `tmp`).
pub(crate) fn update_keeps_then_stale(spec: &Path, tmp: &Path, table: &str, line: &str) {
    ok(plinth().arg("lock").arg(spec).arg("-q"));
    let o = run(plinth().args(["lock", "--update"]).arg(spec));
    assert!(o.status.success());
    assert!(stderr(&o).contains("no package changed"), "{}", stderr(&o));
    let text = fs_err::read_to_string(spec)
        .unwrap()
        .replace(table, &format!("{table}{line}"));
    fs_err::write(spec, text).unwrap();
    let e = fails(
        plinth().arg("build").arg(spec).arg("-o").arg(tmp.join("o")),
        2,
    );
    assert!(e.contains("written for another version of the spec"), "{e}");
    assert!(e.contains("plinth lock --update"), "{e}");
}

/// Changes the spec directory or the repository copy; returns the keys to trust.
type Tamper<'a> = dyn Fn(&Path, &Path) -> PathBuf + 'a;

/// Each tampering case stops the build with a clear error, writes no image and no lock.
#[test]
fn alpine_tampering_through_the_build_is_refused_and_nothing_is_written() {
    let keys = test_data(TEST_KEYS);
    let cases: [(&str, &Tamper<'_>, &str); 4] = [
        (
            "modified index",
            &|_, repo| {
                flip(&repo.join("APKINDEX.tar.gz"), 40);
                keys.clone()
            },
            "cannot verify the index",
        ),
        (
            "unknown key",
            &|_, _| test_data("../../crates/plinth-apk/tests/data/keys"),
            "plinth-test-alpine.rsa.pub",
        ),
        (
            "modified package",
            &|_, repo| {
                flip(&repo.join("tzdata-2024b-r0.apk"), 30);
                keys.clone()
            },
            "cannot verify tzdata-2024b-r0",
        ),
        (
            "hash mismatch against the lock",
            &|spec_dir, repo| {
                // A lock made from the untouched repository, then a package whose bytes
                // differ from the locked ones (same size: the SHA-256 tells).
                let cache = spec_dir.join("lock-cache");
                ok(plinth()
                    .arg("lock")
                    .arg(spec_dir.join("plinth.toml"))
                    .arg("--cache-dir")
                    .arg(&cache)
                    .arg("-q"));
                flip(&repo.join("tzdata-2024b-r0.apk"), 30);
                keys.clone()
            },
            "checked against plinth.lock",
        ),
    ];
    for (what, tamper, expect) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let (spec, repo) = spec_on_copy(tmp.path(), "static", &keys);
        let keys_used = tamper(spec.parent().unwrap(), &repo);
        let text = fs_err::read_to_string(&spec).unwrap().replace(
            &keys.display().to_string(),
            &keys_used.display().to_string(),
        );
        fs_err::write(&spec, text).unwrap();
        assert_build_refused(what, &spec, tmp.path(), expect);
    }
}

/// Builds `spec` (cache and output under `tmp`) and checks that it fails with exit code 2
/// and `expect` in its message, writing no image, no lock (nor changing one) and no
/// temporary file beside the spec.
pub(crate) fn assert_build_refused(what: &str, spec: &Path, tmp: &Path, expect: &str) {
    let lock = spec.with_file_name("plinth.lock");
    let lock_before = fs_err::read(&lock).ok();
    let out = tmp.join("out");
    let e = fails(
        plinth()
            .arg("build")
            .arg(spec)
            .arg("-o")
            .arg(&out)
            .arg("--cache-dir")
            .arg(tmp.join("cache")),
        2,
    );
    eprintln!("{what}: {e}");
    assert!(e.contains(expect), "{what}: {e}");
    assert!(!out.exists(), "{what}: an image was written");
    assert_eq!(
        fs_err::read(&lock).ok(),
        lock_before,
        "{what}: the lock changed"
    );
    assert!(leftovers(spec.parent().unwrap()).is_empty(), "{what}");
}

#[test]
fn alpine_spec_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "[image]\nprofile = \"static\"\n[debian]\nrelease = \"bookworm\"\n[alpine]\nrelease = \"3.20\"\n",
        &[],
    );
    let e = fails(plinth().arg("lock").arg(&spec), 2);
    assert!(
        e.contains("one of [debian], [ubuntu] or [alpine], not several"),
        "{e}"
    );
    let spec = write_spec(
        tmp.path(),
        "[image]\nprofile = \"cc\"\n[alpine]\nrelease = \"3.20\"\n",
        &[],
    );
    let e = fails(plinth().arg("lock").arg(&spec), 2);
    assert!(e.contains("profile `cc` is a Debian profile"), "{e}");
    let spec = write_spec(
        tmp.path(),
        "[image]\nprofile = \"static\"\n[alpine]\nrelease = \"three\"\n",
        &[],
    );
    let e = fails(plinth().arg("lock").arg(&spec), 2);
    assert!(
        e.contains("`alpine.release` `three` is not an Alpine release"),
        "{e}"
    );
    let e = fails(
        plinth()
            .arg("lock")
            .arg(example("alpine"))
            .arg("--no-security"),
        2,
    );
    assert!(e.contains("is an Alpine spec"), "{e}");
    if !Path::new("/etc/apk/repositories").exists() {
        let spec = write_spec(
            tmp.path(),
            "[image]\nprofile = \"static\"\n[alpine]\nrelease = \"3.20\"\n",
            &[],
        );
        let e = fails(plinth().arg("lock").arg(&spec), 2);
        assert!(
            e.contains("names no repositories and /etc/apk/repositories does not exist"),
            "{e}"
        );
        assert!(e.contains("hint: set alpine.repositories"), "{e}");
    }
}

/// What the real data in the tree can build: the real 3.16 x86_64 index verifies with
/// Alpine's key and the spec resolves against it, but its packages are not in the tree,
/// so locking stops at the first package it fetches, naming it.
#[test]
fn alpine_real_index_verifies_and_resolves_but_its_packages_are_not_in_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("mirror/v3.16/main/x86_64");
    fs_err::create_dir_all(&repo).unwrap();
    let real = repo_root().join("crates/plinth-apk/tests/data");
    fs_err::copy(
        real.join("APKINDEX-v3.16-main-x86_64.tar.gz"),
        repo.join("APKINDEX.tar.gz"),
    )
    .unwrap();
    let spec = write_spec(
        &tmp.path().join("spec"),
        &format!(
            "[image]\nprofile = \"static\"\n[alpine]\nrelease = \"3.16\"\n\
             repositories = [\"../mirror/v3.16/main\"]\nkeys = [\"{}\"]\n",
            real.join("keys").display()
        ),
        &[],
    );
    let e = fails(
        plinth()
            .arg("lock")
            .arg(&spec)
            .arg("--cache-dir")
            .arg(tmp.path().join("cache")),
        2,
    );
    // Verified and resolved: the error is about a package file, not the index.
    assert!(e.contains("cannot fetch file://"), "{e}");
    assert!(e.contains("/x86_64/") && e.contains(".apk"), "{e}");
    assert!(!spec.with_file_name("plinth.lock").exists());
}

pub(crate) type PkgSet = std::collections::BTreeSet<(String, String)>;

/// The `(name, version)` pairs `plinth lock SPEC` lists.
pub(crate) fn locked_packages(spec: &Path) -> PkgSet {
    ok(plinth().arg("lock").arg(spec).arg("-q"))
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[1].to_string(), f[2].to_string())
        })
        .collect()
}

/// Checks that `plinth sbom` of the image at `out` built from `spec` lists exactly the
/// locked packages under the distribution `distro_id`, and that syft and trivy (when
/// installed) list the same; returns Plinth's list and the image unpacked by umoci
/// under `tmp` (when umoci is installed).
pub(crate) fn sbom_agrees(
    what: &str,
    spec: &Path,
    out: &Path,
    tmp: &Path,
    distro_id: &str,
) -> (PkgSet, Option<PathBuf>) {
    let ours = crate::sbom::os_packages(out.to_str().unwrap());
    assert_eq!(ours, locked_packages(spec), "{what}");
    let v: serde_json::Value = serde_json::from_str(&ok(plinth()
        .args(["sbom", "-q", "--format", "plinth-json"])
        .arg(out)))
    .unwrap();
    assert_eq!(v["distro"]["id"], distro_id, "{what}");
    if let Some(s) = crate::sbom::syft_packages(&format!("oci-dir:{}", out.display())) {
        crate::sbom::same_packages(what, "syft", &ours, &s);
    }
    if !have_tool("umoci") {
        return (ours, None);
    }
    let bundle = tmp.join("bundle");
    ok(Command::new("umoci")
        .args(["raw", "unpack", "--rootless", "--image"])
        .arg(format!("{}:latest", out.display()))
        .arg(&bundle));
    if let Some(t) = crate::sbom::trivy_packages(&["rootfs", bundle.to_str().unwrap()], tmp) {
        crate::sbom::same_packages(what, "trivy", &ours, &t);
    }
    (ours, Some(bundle))
}

#[test]
fn alpine_base_sbom_matches_the_lock_syft_and_trivy() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    build_with_cache(&example("alpine-base"), &out, &tmp.path().join("cache"));
    sbom_agrees(
        "plinth alpine base",
        &example("alpine-base"),
        &out,
        tmp.path(),
        "alpine",
    );
    // check: a base with busybox and apk fails the shell and package-manager rules.
    let o = run(plinth().arg("check").arg(&out));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let said = stdout(&o);
    assert!(
        said.contains("FAIL  no-shell") && said.contains("FAIL  no-package-manager"),
        "{said}"
    );
    assert!(
        said.contains("pass  non-root") && said.contains("2 of 5 rules failed"),
        "{said}"
    );
}

#[test]
fn alpine_base_image_runs_busybox_sh_and_apk_lists_exactly_the_locked_packages() {
    if !have_tool("podman") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    build_with_cache(&example("alpine-base"), &out, &tmp.path().join("cache"));
    // podman takes the layout's path relative: an absolute one parses as a reference.
    let image = "oci:out:latest";
    let pod = tmp.path().join("podman");
    let podman = |pod: &Path| {
        let mut c = podman(pod);
        c.current_dir(tmp.path());
        c
    };
    let said = ok(podman(&pod).args(RUN_FLAGS).arg(image).args([
        "busybox",
        "sh",
        "-c",
        "echo from $0 as $(id -u):$(id -g); ls /bin/ls",
    ]));
    assert_eq!(said, "from sh as 65532:65532\n/bin/ls\n");
    let listed = ok(podman(&pod)
        .args(RUN_FLAGS)
        .arg(image)
        .args(["apk", "info"]));
    let names: std::collections::BTreeSet<String> = listed.lines().map(str::to_string).collect();
    let want: std::collections::BTreeSet<String> = locked_packages(&example("alpine-base"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, want);
    // apk audit: the only changed files are the accounts Plinth writes over
    // alpine-baselayout-data's (as apko does) and those podman mounts.
    let audit = ok(podman(&pod)
        .args(RUN_FLAGS)
        .args(["--user", "0:0"])
        .arg(image)
        .args(["apk", "audit"]));
    let changed: Vec<&str> = audit.lines().filter(|l| l.starts_with("U ")).collect();
    for l in &changed {
        assert!(
            [
                "U etc/passwd",
                "U etc/group",
                "U etc/hosts",
                "U etc/hostname",
                "U etc/resolv.conf"
            ]
            .contains(l),
            "{audit}"
        );
    }
    let verify = run(podman(&pod)
        .args(RUN_FLAGS)
        .args(["--user", "0:0"])
        .arg(image)
        .args(["apk", "verify"]));
    assert!(verify.status.success(), "{}", stderr(&verify));
}

/// `plinth scan` on the built base image finds what it finds in the real minirootfs
/// (the same busybox, musl and openssl versions), from the real secdb records; `ecosystem`
/// comes from the os-release Plinth writes.
#[test]
fn alpine_base_scan_matches_the_real_minirootfs_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    build_with_cache(&example("alpine-base"), &out, &tmp.path().join("cache"));
    let db = crate::scan::alpine_db(tmp.path());
    let ours = crate::scan::scan_json(&db, &out, &[]);
    assert_eq!(ours["ecosystem"], "alpine:3.20", "{ours:#}");
    let real = crate::scan::scan_json(&db, &test_data(crate::sbom::ALPINE), &[]);
    // (id, origin, installed, fixed): the binaries differ (the minirootfs also has
    // musl-utils and scanelf).
    let key =
        |v: &serde_json::Value| -> std::collections::BTreeSet<(String, String, String, String)> {
            crate::scan::rows(v)
                .into_iter()
                .map(|r| (r.0, r.1, r.2, r.3))
                .collect()
        };
    assert_eq!(key(&ours), key(&real));
    assert_eq!(key(&ours).len(), 27);
}

/// A warm build reads no `.apk` and no repository: with the repository gone and the
/// `.apk`s removed from the cache, the cached layers and installed-database records
/// still give the same image; a cold cache then fails, naming the repository.
#[test]
fn alpine_warm_build_needs_neither_the_repository_nor_the_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, repo) = spec_on_copy(tmp.path(), "base", &test_data(TEST_KEYS));
    let cache = tmp.path().join("cache");
    let first = build_with_cache(&spec, &tmp.path().join("out1"), &cache);
    assert_eq!(first, BASE_DIGEST);
    let lock = fs_err::read_to_string(spec.with_file_name("plinth.lock")).unwrap();
    fs_err::remove_dir_all(repo.parent().unwrap()).unwrap();
    let mut removed = 0;
    for line in lock.lines() {
        if let Some(sha) = line.strip_prefix("sha256 = \"") {
            let sha = sha.trim_end_matches('"');
            fs_err::remove_file(cache.join("blobs/sha256").join(sha)).unwrap();
            removed += 1;
        }
    }
    assert_eq!(removed, 12);
    let warm = build_with_cache(&spec, &tmp.path().join("out2"), &cache);
    assert_eq!(warm, BASE_DIGEST);
    let e = fails(
        plinth()
            .arg("build")
            .arg(&spec)
            .arg("-o")
            .arg(tmp.path().join("out3"))
            .arg("--cache-dir")
            .arg(tmp.path().join("empty-cache")),
        2,
    );
    assert!(e.contains("cannot fetch the packages"), "{e}");
    assert!(!tmp.path().join("out3").exists());
}
