//! RPM images end to end: `examples/rpm` (micro + plinth-hello) built offline from the
//! signed test repository in the tree (`tests/data/repos/rpm-test`, synthetic packages
//! signed with a test key), its golden digest, what `rpm -qa --root` reads from the image,
//! owners mapped through the packages' own passwd/group, `lock`/`why`/`--update`, the
//! tampering cases through the build, the SBOM against syft and trivy, and an image from
//! the real, PGDG-signed repository in `crates/plinth-rpm/tests/data/pgdg`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::alpine::{
    PkgSet, assert_build_refused, build_with_cache, example, flip, locked_packages, sbom_agrees,
    update_keeps_then_stale,
};
use crate::common::*;

/// `plinth build examples/rpm/plinth.toml`: the golden digest.
const EXAMPLE_DIGEST: &str =
    "sha256:e7fb746d9eaa8e30a6e1166fda00c9d26ec412f0ed246d4f5ed55470e22e79bc";
/// The image of the real PGDG packages (`pgdg_spec`): the golden digest.
const PGDG_DIGEST: &str = "sha256:2b8348f061cdfbc4886c3a6abf1b54b27cc5dc0710b7081b40ee369df14f182a";

const TEST_REPO: &str = "repos/rpm-test";
const TEST_KEY: &str = "repos/rpm-test/RPM-GPG-KEY-plinth-test";
const HELLO_RPM: &str = "x86_64/plinth-hello-1.0-1.el8.x86_64.rpm";

/// A copy of the test repository at `dir/repos/rpm-test` (so that its name in a lock is
/// the tree's), and a spec at `dir/spec/plinth.toml`
/// (no lock) with `image` lines under `[image]` and `rpm` lines under `[rpm]`, naming the
/// copy and trusting `keys`.
fn spec_on_copy(dir: &Path, image: &str, rpm: &str, keys: &[&Path]) -> (PathBuf, PathBuf) {
    let repo = dir.join("repos/rpm-test");
    for sub in ["x86_64", "noarch", "repodata"] {
        fs_err::create_dir_all(repo.join(sub)).unwrap();
        for e in fs_err::read_dir(test_data(TEST_REPO).join(sub)).unwrap() {
            let e = e.unwrap();
            fs_err::copy(e.path(), repo.join(sub).join(e.file_name())).unwrap();
        }
    }
    let keys: Vec<String> = keys
        .iter()
        .map(|k| format!("{:?}", k.display().to_string()))
        .collect();
    let spec = write_spec(
        &dir.join("spec"),
        &format!(
            "[image]\nname = \"t\"\n{image}\n[rpm]\nrelease = \"el8\"\n{rpm}\n\
             repositories = [\"../repos/rpm-test\"]\nkeys = [{}]\n",
            keys.join(", ")
        ),
        &[],
    );
    (spec, repo)
}

/// Rewrites `repo`'s metadata after a package changed (createrepo_c), signed by a new
/// key made under `dir` (gpg); returns that key's file. `None` without the tools.
fn reindex_and_sign(repo: &Path, dir: &Path) -> Option<PathBuf> {
    if !(have_tool("gpg") && have_tool("createrepo_c")) {
        return None;
    }
    let home = dir.join("gnupg");
    fs_err::create_dir_all(&home).unwrap();
    fs_err::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = || {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", &home).args(["--batch", "--quiet"]);
        c
    };
    ok(gpg().args([
        "--passphrase",
        "",
        "--quick-gen-key",
        "Other <o@plinth.example>",
        "rsa2048",
        "sign",
        "never",
    ]));
    let key = dir.join("other.asc");
    fs_err::write(&key, ok(gpg().args(["--armor", "--export"]))).unwrap();
    ok(Command::new("createrepo_c")
        .args(["--quiet", "--no-database"])
        .arg(repo));
    ok(gpg()
        .args(["--armor", "--detach-sign", "--yes", "-o"])
        .arg(repo.join("repodata/repomd.xml.asc"))
        .arg(repo.join("repodata/repomd.xml")));
    Some(key)
}

fn primary_of(repo: &Path) -> PathBuf {
    fs_err::read_dir(repo.join("repodata"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-primary.xml.gz"))
        .unwrap()
}

/// Unpacks the image at `out` into `dir` with umoci (`None` without it).
fn unpack(out: &Path, dir: &Path) -> Option<PathBuf> {
    if !have_tool("umoci") {
        return None;
    }
    ok(Command::new("umoci")
        .args(["raw", "unpack", "--rootless", "--image"])
        .arg(format!("{}:latest", out.display()))
        .arg(dir));
    Some(dir.to_path_buf())
}

/// `rpm -qa` on the unpacked root `root`, as `name evr` pairs (`None` without rpm).
fn rpm_qa(root: &Path) -> Option<PkgSet> {
    if !have_tool("rpm") {
        return None;
    }
    let out = ok(Command::new("rpm").arg("--root").arg(root).args([
        "--dbpath",
        "/var/lib/rpm",
        "-qa",
        "--qf",
        "%{NAME}\t%{VERSION}-%{RELEASE}\n",
    ]));
    Some(
        out.lines()
            .map(|l| {
                let (n, v) = l.split_once('\t').unwrap();
                (n.to_string(), v.to_string())
            })
            .collect(),
    )
}

/// `tar -tv --numeric-owner` of every layer of the image layout `out`.
fn layer_listing(out: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for e in fs_err::read_dir(out.join("blobs/sha256")).unwrap() {
        let o = run(Command::new("tar")
            .args(["-tvzf"])
            .arg(e.unwrap().path())
            .arg("--numeric-owner"));
        if o.status.success() {
            lines.extend(stdout(&o).lines().map(str::to_string));
        }
    }
    lines
}

#[test]
fn rpm_example_builds_offline_to_its_golden_digest_cold_and_warm() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let spec = example("rpm");
    let lock_before = fs_err::read(spec.with_file_name("plinth.lock")).unwrap();
    let cold = build_with_cache(&spec, &tmp.path().join("1"), &cache);
    let warm = build_with_cache(&spec, &tmp.path().join("2"), &cache);
    assert_eq!(cold, EXAMPLE_DIGEST);
    assert_eq!(warm, EXAMPLE_DIGEST);
    assert_eq!(
        fs_err::read(spec.with_file_name("plinth.lock")).unwrap(),
        lock_before
    );
    // Warm: every package layer and the database come from the cache, so the packages
    // need not be there any more.
    let moved = tmp.path().join("copy");
    let (copy, repo) = spec_on_copy(
        &moved,
        "profile = \"micro\"",
        "packages = [\"plinth-hello\"]",
        &[&test_data(TEST_KEY)],
    );
    fs_err::copy(
        spec.with_file_name("plinth.lock"),
        copy.with_file_name("plinth.lock"),
    )
    .unwrap();
    fs_err::remove_dir_all(repo.join("x86_64")).unwrap();
    fs_err::remove_dir_all(repo.join("noarch")).unwrap();
    assert_eq!(
        build_with_cache(&copy, &tmp.path().join("3"), &cache),
        EXAMPLE_DIGEST
    );
}

#[test]
fn rpm_image_holds_the_database_rpm_reads_and_owners_from_the_packages_accounts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    build_with_cache(&example("rpm"), &out, &tmp.path().join("cache"));
    // Owners as the layers record them: plinthsvc is 987/986 in setup's passwd and
    // group; daemon is gid 2; a name no package defines is 0, as rpm does.
    let tree = layer_listing(&out);
    let line = |path: &str| {
        tree.iter()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} in\n{tree:#?}"))
            .clone()
    };
    assert!(
        line(" var/lib/plinth-hello/").contains(" 987/986 "),
        "{tree:#?}"
    );
    assert!(
        line(" var/lib/plinth-hello/state").contains(" 987/2 "),
        "{tree:#?}"
    );
    assert!(
        line(" var/lib/plinth-hello/orphan").contains(" 0/0 "),
        "{tree:#?}"
    );
    assert!(
        line(" usr/bin/plinth-hello").starts_with("-rwsr-xr-x"),
        "{tree:#?}"
    );
    assert!(line(" tmp/").starts_with("drwxrwxrwt"), "{tree:#?}");
    assert!(line(" usr/lib64/libc.so.6 link to usr/lib64/libc-2.28.so").starts_with('h'));
    let Some(root) = unpack(&out, &tmp.path().join("root")) else {
        return;
    };
    // Hard links stay hard links; the %ghost file is not there.
    let ino =
        |p: &str| std::os::unix::fs::MetadataExt::ino(&fs_err::metadata(root.join(p)).unwrap());
    assert_eq!(ino("usr/lib64/libc.so.6"), ino("usr/lib64/libc-2.28.so"));
    assert!(!root.join("etc/ld.so.cache").exists());
    if let Some(listed) = rpm_qa(&root) {
        assert_eq!(listed, locked_packages(&example("rpm")));
        let owner = ok(Command::new("rpm").arg("--root").arg(&root).args([
            "--dbpath",
            "/var/lib/rpm",
            "-qf",
            "/usr/lib64/libc.so.6",
        ]));
        assert_eq!(owner.trim(), "glibc-2.28-1.el8.x86_64");
    }
}

#[test]
fn rpm_micro_alone_and_packages_without_a_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let key = test_data(TEST_KEY);
    let (micro, _) = spec_on_copy(
        &tmp.path().join("micro"),
        "profile = \"micro\"",
        "",
        &[&key],
    );
    let names: Vec<String> = locked_packages(&micro)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        ["filesystem", "glibc", "plinth-test-release", "setup"]
    );
    // No profile: just the packages and what they need.
    let (plain, _) = spec_on_copy(
        &tmp.path().join("plain"),
        "",
        "packages = [\"setup\"]",
        &[&key],
    );
    let names: Vec<String> = locked_packages(&plain)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["plinth-test-release", "setup"]);
    let out = tmp.path().join("out");
    build_with_cache(&plain, &out, &tmp.path().join("cache"));
    if let Some(root) = unpack(&out, &tmp.path().join("root"))
        && let Some(listed) = rpm_qa(&root)
    {
        assert_eq!(listed.len(), 2);
    }
    // exclude takes a package out of the repositories: then nothing provides it.
    let (excl, _) = spec_on_copy(
        &tmp.path().join("excl"),
        "profile = \"micro\"",
        "exclude = [\"plinth-test-release\"]",
        &[&key],
    );
    let e = fails(plinth().arg("lock").arg(&excl), 2);
    assert!(e.contains("nothing provides system-release"), "{e}");
}

#[test]
fn rpm_lock_why_and_update() {
    let spec = example("rpm");
    let listed = ok(plinth().arg("lock").arg(&spec).arg("-q"));
    assert!(
        listed.starts_with("linux/amd64\tfilesystem\t3.8-1.el8\tx86_64\n"),
        "{listed}"
    );
    assert_eq!(
        ok(plinth().args(["why", "plinth-hello"]).arg(&spec)),
        "linux/amd64: plinth-hello 1.0-1.el8: requested by the spec\n"
    );
    let why = ok(plinth().args(["why", "plinth-test-release"]).arg(&spec));
    assert!(
        why.starts_with("linux/amd64: plinth-test-release 1.0-1.el8: "),
        "{why}"
    );
    let e = fails(plinth().args(["why", "bash"]).arg(&spec), 2);
    assert!(e.contains("bash is not in the image"), "{e}");
    let lock = fs_err::read_to_string(spec.with_file_name("plinth.lock")).unwrap();
    assert!(lock.contains("distribution = \"rpm\""));
    assert!(lock.contains("location = \"x86_64/plinth-hello-1.0-1.el8.x86_64.rpm\""));
    // --update on a copy re-resolves to the same packages; a changed spec is stale.
    let tmp = tempfile::tempdir().unwrap();
    let (copy, _) = spec_on_copy(
        tmp.path(),
        "profile = \"micro\"",
        "",
        &[&test_data(TEST_KEY)],
    );
    update_keeps_then_stale(
        &copy,
        tmp.path(),
        "[rpm]\n",
        "packages = [\"plinth-hello\"]\n",
    );
    let o = run(plinth().args(["lock", "--update"]).arg(&copy));
    assert!(
        stderr(&o).contains("+ plinth-hello 1.0-1.el8"),
        "{}",
        stderr(&o)
    );
}

/// Changes the spec directory or the repository copy (and may make a key under the
/// scratch directory); returns the keys to trust, or `None` to skip the case.
type Tamper<'a> = dyn Fn(&Path, &Path, &Path) -> Option<Vec<PathBuf>> + 'a;

/// Each tampering case stops the build with a clear error, writes no image and no lock.
#[test]
fn rpm_tampering_through_the_build_is_refused_and_nothing_is_written() {
    let key = test_data(TEST_KEY);
    let cases: [(&str, &Tamper<'_>, &str); 6] = [
        (
            "modified repomd.xml",
            &|_, repo, _| {
                let p = repo.join("repodata/repomd.xml");
                let t = fs_err::read_to_string(&p)
                    .unwrap()
                    .replace("<revision>", "<revision>9");
                fs_err::write(p, t).unwrap();
                Some(vec![key.clone()])
            },
            "cannot verify file://",
        ),
        (
            "unknown key",
            &|_, _, _| {
                Some(vec![repo_root().join(
                    "crates/plinth-rpm/tests/data/keys/PGDG-RPM-GPG-KEY-RHEL",
                )])
            },
            "repodata/repomd.xml",
        ),
        (
            "modified primary.xml",
            &|_, repo, _| {
                flip(&primary_of(repo), 20);
                Some(vec![key.clone()])
            },
            "primary.xml.gz",
        ),
        (
            "modified package, metadata untouched",
            &|_, repo, _| {
                flip(&repo.join(HELLO_RPM), 10);
                Some(vec![key.clone()])
            },
            "checked against primary.xml",
        ),
        (
            "modified payload, re-indexed and re-signed by another trusted key",
            &|_, repo, scratch| {
                flip(&repo.join(HELLO_RPM), 10);
                let other = reindex_and_sign(repo, scratch)?;
                Some(vec![key.clone(), other])
            },
            "cannot verify plinth-hello-1.0-1.el8.x86_64.rpm",
        ),
        (
            "package sha256 differs from the lock",
            &|spec_dir, repo, scratch| {
                // Locked from the untouched repository; then the repository serves
                // another plinth-hello, re-indexed and signed by a trusted key.
                ok(plinth()
                    .arg("lock")
                    .arg(spec_dir.join("plinth.toml"))
                    .arg("--cache-dir")
                    .arg(scratch.join("lock-cache"))
                    .arg("-q"));
                flip(&repo.join(HELLO_RPM), 10);
                let other = reindex_and_sign(repo, scratch)?;
                Some(vec![key.clone(), other])
            },
            "checked against plinth.lock",
        ),
    ];
    for (what, tamper, expect) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let scratch = tmp.path().join("scratch");
        fs_err::create_dir_all(&scratch).unwrap();
        let (spec, repo) = spec_on_copy(
            tmp.path(),
            "profile = \"micro\"",
            "packages = [\"plinth-hello\"]",
            &[&key],
        );
        let Some(keys) = tamper(spec.parent().unwrap(), &repo, &scratch) else {
            eprintln!("{what}: skipped (gpg or createrepo_c missing)");
            continue;
        };
        let list: Vec<String> = keys
            .iter()
            .map(|k| format!("{:?}", k.display().to_string()))
            .collect();
        let text = fs_err::read_to_string(&spec).unwrap();
        let start = text.find("keys = [").unwrap();
        let text = format!("{}keys = [{}]\n", &text[..start], list.join(", "));
        fs_err::write(&spec, text).unwrap();
        assert_build_refused(what, &spec, tmp.path(), expect);
    }
}

#[test]
fn rpm_spec_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let key = test_data(TEST_KEY);
    let cases: [(&str, &str); 5] = [
        (
            "[image]\nname = \"t\"\nprofile = \"micro\"\n",
            "profile `micro` is an RPM profile",
        ),
        (
            "[image]\nname = \"t\"\nprofile = \"base\"\n[rpm]\nrelease = \"el8\"\nrepositories = [\"r\"]\nkeys = [\"k\"]\n",
            "profile `base` is not an RPM profile",
        ),
        (
            "[image]\nname = \"t\"\nprofile = \"micro\"\n[rpm]\nrelease = \"el8\"\nrepositories = [\"r\"]\n",
            "[rpm] names no keys",
        ),
        (
            "[image]\nname = \"t\"\n[rpm]\nrelease = \"el8\"\npackages = [\"a\"]\nrepositories = [\"r\"]\nkeys = [\"k\"]\n[alpine]\nrelease = \"3.20\"\n",
            "not several",
        ),
        (
            "[image]\nname = \"t\"\nprofile = \"micro\"\n[[accounts.users]]\nname = \"app\"\nuid = 1000\n[rpm]\nrelease = \"el8\"\nrepositories = [\"r\"]\nkeys = [\"k\"]\n",
            "takes its accounts from its packages",
        ),
    ];
    for (i, (text, expect)) in cases.iter().enumerate() {
        let dir = tmp.path().join(i.to_string());
        fs_err::create_dir_all(dir.join("r")).unwrap();
        fs_err::copy(&key, dir.join("k")).unwrap();
        let spec = write_spec(&dir, text, &[]);
        let e = fails(plinth().arg("lock").arg(&spec), 2);
        assert!(e.contains(expect), "{expect}: {e}");
    }
}

/// A spec building the two real PGDG packages the tree holds whole (signed repomd.xml,
/// primary.xml of 537 packages, rpms signed by PGDG's key).
fn pgdg_spec(dir: &Path) -> PathBuf {
    let data = repo_root().join("crates/plinth-rpm/tests/data");
    write_spec(
        dir,
        &format!(
            "[image]\nname = \"pgdg\"\n[rpm]\nrelease = \"el8\"\n\
             packages = [\"pgdg-srpm-macros\", \"pgdg-pyproject-srpm-macros\"]\n\
             repositories = [{:?}]\nkeys = [{:?}]\n",
            data.join("pgdg").display().to_string(),
            data.join("keys/PGDG-RPM-GPG-KEY-RHEL")
                .display()
                .to_string()
        ),
        &[],
    )
}

#[test]
fn rpm_image_from_the_real_pgdg_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = pgdg_spec(&tmp.path().join("spec"));
    let out = tmp.path().join("out");
    let digest = build_with_cache(&spec, &out, &tmp.path().join("cache"));
    eprintln!("pgdg image: {digest}");
    assert_eq!(digest, PGDG_DIGEST);
    let lock = fs_err::read_to_string(spec.with_file_name("plinth.lock")).unwrap();
    // The real repomd.xml's signer: PGDG's key.
    assert!(
        lock.contains("signer = \"D4BF08AE67A0B4C7A1DBCCD240BCA2B408B40D20\""),
        "{lock}"
    );
    assert!(lock.contains("version = \"1.0.41\""), "{lock}");
    if let Some(root) = unpack(&out, &tmp.path().join("root"))
        && let Some(listed) = rpm_qa(&root)
    {
        assert_eq!(listed, locked_packages(&spec));
        let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["pgdg-pyproject-srpm-macros", "pgdg-srpm-macros"]);
    }
    let text = fs_err::read_to_string(&spec).unwrap().replace(
        "\"pgdg-pyproject-srpm-macros\"",
        "\"pgdg-poppler-data-devel\"",
    );
    fs_err::write(&spec, text).unwrap();
    // A package whose file dependency nothing in the real primary.xml provides.
    let e = fails(plinth().args(["lock", "--update"]).arg(&spec), 2);
    assert!(
        e.contains("nothing provides /usr/bin/pkg-config (needed by the request -> pgdg-poppler-data-devel-0.4.9-7.rhel8.noarch)"),
        "{e}"
    );
}

#[test]
fn rpm_sbom_matches_the_lock_syft_trivy_and_rpm() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    build_with_cache(&example("rpm"), &out, &tmp.path().join("cache"));
    let (ours, root) = sbom_agrees(
        "plinth rpm micro",
        &example("rpm"),
        &out,
        tmp.path(),
        "plinth-rpm-test",
    );
    if let Some(r) = root.as_deref().and_then(rpm_qa) {
        crate::sbom::same_packages("plinth rpm micro", "rpm -qa", &ours, &r);
    }
    let o = run(plinth().arg("check").arg(&out));
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}\n{}",
        stdout(&o),
        stderr(&o)
    );
}

/// The tree holds no RPM advisory feed: a scan of the RPM example says its release is not
/// covered and that its rpm packages were not checked (and `--fail-on` fails), rather
/// than reporting a clean image. The release key of an os-release naming a real RPM
/// distribution (`rocky:8`) is unit-tested in plinth-vuln.
#[test]
fn rpm_scan_says_no_feed_covers_the_release() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    build_with_cache(&example("rpm"), &out, &tmp.path().join("cache"));
    let db = crate::scan::alpine_db(tmp.path());
    let o = run(plinth()
        .args(["scan", "--fail-on", "critical", "--db"])
        .arg(&db)
        .arg(&out));
    eprintln!("{}\n{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("NOT checked"), "{}", stderr(&o));
    assert!(stdout(&o).contains("plinth-rpm-test"), "{}", stdout(&o));
}
