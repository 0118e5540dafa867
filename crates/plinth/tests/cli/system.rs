//! Whole Debian systems (`image.profile = "slim"` / `"full"`, issue 16): dpkg installs
//! the base system with its maintainer scripts, the image is a working Debian inside
//! podman (dpkg, apt, alternatives), two builds give the golden digest, the package set
//! is mmdebstrap's `minbase`, and a failing script stops the build naming its package.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;
use crate::support::http::{Next, Server};

/// `examples/slim` (bookworm) and `examples/slim-trixie`, from their committed locks.
pub const SLIM_BOOKWORM: &str =
    "sha256:954ca52ea948fc83d0fc080d05697b1bd48c0ea665f07bb0679dd58b7f3bed77";
const SLIM_TRIXIE: &str = "sha256:1c55a253422b72e42c3518aef1e9f9f801c2d65540d914667fdc8ac91be88d5a";

use crate::debian::{cache_dir, copy_debian_example as copy_example};
use crate::support::layout_digest as index_digest;

/// `plinth build SPEC -o OUT --cache-dir CACHE`; `None` (skipped, outside CI) when the
/// mirror of the apt sources cannot be reached.
fn build_with(spec: &Path, out: &Path, cache: &Path, extra: &[&str]) -> Option<Output> {
    let o = run(plinth()
        .arg("build")
        .arg(spec)
        .arg("-q")
        .arg("-o")
        .arg(out)
        .arg("--cache-dir")
        .arg(cache)
        .args(extra));
    let err = stderr(&o);
    let offline =
        err.contains("cannot read the package index") || err.contains("cannot fetch the packages");
    if offline && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("SKIPPED: the Debian mirror of the apt sources cannot be reached:\n{err}");
        return None;
    }
    Some(o)
}

fn locked_names(lock: &Path) -> Vec<String> {
    let lock: toml::Value = toml::from_str(&fs_err::read_to_string(lock).unwrap()).unwrap();
    let mut names: Vec<String> = lock["platform"][0]["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Point 3: the golden digest, from the layer cache the other tests fill, and again from
/// a cache holding only the `.deb`s (dpkg runs again). On trixie this test runs dpkg
/// twice; on bookworm the second dpkg run is
/// `system_userns::a_slim_image_built_without_root_has_the_digest_of_the_root_build`,
/// whose own cache holds only the `.deb`s and whose digest must be the root build's,
/// this one's.
#[test]
fn slim_builds_to_its_golden_digest_on_bookworm() {
    builds_to_its_golden_digest("slim", SLIM_BOOKWORM, false);
}

#[test]
fn slim_builds_to_its_golden_digest_twice_on_trixie() {
    builds_to_its_golden_digest("slim-trixie", SLIM_TRIXIE, true);
}

fn builds_to_its_golden_digest(example: &str, golden: &str, twice: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example(example, tmp.path());
    let out = tmp.path().join("out");
    let Some(o) = build_with(&spec, &out, &cache_dir(), &[]) else {
        return;
    };
    assert!(o.status.success(), "{example}: {}", stderr(&o));
    assert_eq!(stdout(&o).trim(), golden, "{example}: first build");
    validate_image(&out);
    if !twice {
        return;
    }
    // A cache with only the .debs: dpkg installs everything again.
    let fresh = tmp.path().join("fresh-cache");
    fs_err::create_dir_all(fresh.join("blobs/sha256")).unwrap();
    let lock: toml::Value =
        toml::from_str(&fs_err::read_to_string(spec.with_file_name("plinth.lock")).unwrap())
            .unwrap();
    for p in lock["platform"][0]["package"].as_array().unwrap() {
        let sha = p["sha256"].as_str().unwrap();
        let from = cache_dir().join("blobs/sha256").join(sha);
        fs_err::copy(&from, fresh.join("blobs/sha256").join(sha)).unwrap();
    }
    let out2 = tmp.path().join("out2");
    let o = build_with(&spec, &out2, &fresh, &[]).unwrap();
    assert!(o.status.success(), "{example}: {}", stderr(&o));
    assert_eq!(stdout(&o).trim(), golden, "{example}: dpkg run again");
    assert_eq!(index_digest(&out2), golden);
}

/// Point 1, inside the image: dpkg lists every package installed, `dpkg --audit` and
/// `apt-get check` are clean, the alternatives and the files scripts make exist.
#[test]
fn slim_is_a_working_debian_system_in_podman() {
    if !have_tool("podman") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example("slim", tmp.path());
    let out = tmp.path().join("out");
    let Some(o) = build_with(&spec, &out, &cache_dir(), &[]) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let names = locked_names(&spec.with_file_name("plinth.lock"));
    let script = "set -e
        echo installed=$(dpkg-query -W -f '${db:Status-Abbrev}\\n' | grep -c '^ii ')
        echo not-installed=$(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n' | grep -vc '^ii ' || true)
        echo audit=[$(dpkg --audit)]
        apt-get check -q >/dev/null && echo apt-check=ok
        echo awk=$(command -v awk) which=$(command -v which)
        echo sum=$(echo 1 2 | awk '{print $1 + $2}')
        update-alternatives --query awk | grep '^Value:'
        test -s /etc/ld.so.cache && echo ld.so.cache=ok
        test -s /var/cache/debconf/config.dat && echo debconf=ok
        getent passwd root daemon nobody | cut -d: -f1 | tr '\\n' ' '; echo
        test ! -e /usr/share/doc/bash/README && test -e /usr/share/doc/bash/copyright && echo slim=ok
        rc=0; /usr/sbin/policy-rc.d || rc=$?; echo policy-rc.d=$rc
        . /etc/os-release; echo os=$ID-$VERSION_ID
        echo lists=$(ls /var/lib/dpkg/info/*.list | wc -l)
        test -s /var/lib/dpkg/info/base-files.conffiles && echo conffiles=ok
        ls /var/lib/dpkg/info/*.postinst >/dev/null && echo scripts=ok
        echo verify=[$(dpkg --verify | grep -Ev '^missing +c? +/usr/share/(doc|man|locale|info|lintian)/')]";
    let text = ok(podman(&tmp.path().join("podman"))
        .current_dir(tmp.path())
        .args(RUN_FLAGS)
        .arg("oci:out:latest")
        .args(["sh", "-c", script]));
    eprintln!("{text}");
    for line in [
        format!("installed={}", names.len()).as_str(),
        "not-installed=0",
        "audit=[]",
        "apt-check=ok",
        "awk=/usr/bin/awk which=/usr/bin/which",
        "sum=3",
        "Value: /usr/bin/mawk",
        "ld.so.cache=ok",
        "debconf=ok",
        "root daemon nobody ",
        "slim=ok",
        "policy-rc.d=101",
        "os=debian-12",
        format!("lists={}", names.len()).as_str(),
        "conffiles=ok",
        "scripts=ok",
        // Every installed file has the checksum its package gives (slim's path-excluded
        // documentation is reported missing by dpkg, as in Debian's own -slim images).
        "verify=[]",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line `{line}` in:\n{text}"
        );
    }
}

/// Builds a `.deb` with dpkg-deb from `files` (path in the package, content, mode) and
/// control fields; returns its path.
fn make_deb(dir: &Path, name: &str, control: &str, files: &[(&str, &str, u32)]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = dir.join(format!("{name}-root"));
    fs_err::create_dir_all(root.join("DEBIAN")).unwrap();
    fs_err::write(root.join("DEBIAN/control"), control).unwrap();
    for (path, content, mode) in files {
        let p = root.join(path);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, content).unwrap();
        fs_err::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    let deb = dir.join(format!("{name}.deb"));
    ok(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "--build"])
        .arg(&root)
        .arg(&deb));
    deb
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A Debian repository at `dir` (suite `suite`, component main, amd64 and all) holding
/// `debs`, its InRelease signed by a key made for the test with gpg. Returns the public
/// key (binary, for apt's `signed-by`) and its armoured form (for a spec's `keys`).
fn signed_repo(dir: &Path, suite: &str, debs: &[PathBuf]) -> (PathBuf, PathBuf) {
    let gnupg = dir.join("gnupg");
    fs_err::create_dir_all(&gnupg).unwrap();
    let gpg = |args: &[&str]| {
        let mut c = Command::new("gpg");
        c.arg("--homedir")
            .arg(&gnupg)
            .args(["--batch", "--quiet"])
            .args(args);
        c
    };
    ok(&mut gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "Plinth test repository <test@plinth.invalid>",
        "rsa2048",
        "sign",
        "never",
    ]));
    let mut packages = String::new();
    let pool = dir.join("pool");
    fs_err::create_dir_all(&pool).unwrap();
    for deb in debs {
        let name = deb.file_name().unwrap().to_str().unwrap();
        let bytes = fs_err::read(deb).unwrap();
        fs_err::write(pool.join(name), &bytes).unwrap();
        let control = ok(Command::new("dpkg-deb").arg("-f").arg(deb));
        packages.push_str(control.trim_end());
        packages.push_str(&format!(
            "\nFilename: pool/{name}\nSize: {}\nSHA256: {}\n\n",
            bytes.len(),
            sha256_hex(&bytes)
        ));
    }
    let dist = dir.join("dists").join(suite);
    let mut hashes = String::new();
    for arch in ["amd64", "all"] {
        let rel = format!("main/binary-{arch}/Packages");
        fs_err::create_dir_all(dist.join(&rel).parent().unwrap()).unwrap();
        let body: &str = if arch == "amd64" { &packages } else { "" };
        fs_err::write(dist.join(&rel), body).unwrap();
        hashes.push_str(&format!(
            " {} {} {rel}\n",
            sha256_hex(body.as_bytes()),
            body.len()
        ));
    }
    let release = format!(
        "Origin: Plinth Test\nLabel: Plinth Test\nSuite: {suite}\nCodename: {suite}\n\
         Date: Thu, 03 Dec 2026 00:00:00 UTC\nArchitectures: amd64 all\nComponents: main\n\
         Description: plinth test\nSHA256:\n{hashes}"
    );
    fs_err::write(dist.join("Release"), &release).unwrap();
    ok(gpg(&["--clearsign", "--output"])
        .arg(dist.join("InRelease"))
        .arg(dist.join("Release")));
    let key = dir.join("key.gpg");
    let asc = dir.join("key.asc");
    ok(gpg(&["--export", "--output"])
        .arg(&key)
        .arg("test@plinth.invalid"));
    ok(gpg(&["--armor", "--export", "--output"])
        .arg(&asc)
        .arg("test@plinth.invalid"));
    (key, asc)
}

/// Serves `dir` over HTTP on 127.0.0.1 (GET only, no listing).
fn serve_dir(dir: &Path) -> Server {
    let dir = dir.to_path_buf();
    Server::start(move |req, conn| {
        let rel = req.path().trim_start_matches('/');
        let p = dir.join(rel);
        if rel.split('/').any(|c| c == "..") || !p.is_file() {
            conn.send(404, &[], b"not found")?;
        } else {
            conn.send(200, &[], &fs_err::read(&p)?)?;
        }
        Ok(Next::Keep)
    })
}

/// Point 1, the package manager: inside the image, `apt-get update && apt-get install`
/// of a package from a signed repository served on 127.0.0.1 works (offline: the
/// image's own sources are set aside), and the installed package runs.
#[test]
fn apt_get_installs_a_package_from_a_signed_repository_on_127_0_0_1() {
    if !(have_tool("podman") && have_tool("dpkg-deb") && have_tool("gpg")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example("slim", tmp.path());
    let out = tmp.path().join("out");
    let Some(o) = build_with(&spec, &out, &cache_dir(), &[]) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let repo = tmp.path().join("repo");
    let deb = make_deb(
        tmp.path(),
        "plinth-hello",
        "Package: plinth-hello\nVersion: 1.0\nArchitecture: all\nMaintainer: Plinth <test@plinth.invalid>\n\
         Depends: mawk\nPriority: optional\nSection: misc\nDescription: says hello\n",
        &[(
            "usr/bin/plinth-hello",
            "#!/bin/sh\necho hello from a signed test repository | awk '{print}'\n",
            0o755,
        )],
    );
    let (key, _) = signed_repo(&repo, "plinth-test", &[deb]);
    let server = serve_dir(&repo);
    let sources = tmp.path().join("test.sources");
    fs_err::write(
        &sources,
        format!(
            "Types: deb\nURIs: http://{}/\nSuites: plinth-test\nComponents: main\nSigned-By: /etc/apt/keyrings/plinth-test.gpg\n",
            server.host()
        ),
    )
    .unwrap();
    let script = "set -e
        apt-get -o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::SourceList=/test.sources -q update
        apt-get -o Dir::Etc::SourceParts=/dev/null -o Dir::Etc::SourceList=/test.sources -q install -y plinth-hello
        plinth-hello
        dpkg -s plinth-hello | grep '^Status:'";
    let text = ok(podman(&tmp.path().join("podman"))
        .current_dir(tmp.path())
        .args([
            "run",
            "--rm",
            "--network",
            "host",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ])
        .arg("-v")
        .arg(format!(
            "{}:/etc/apt/keyrings/plinth-test.gpg:ro",
            key.display()
        ))
        .arg("-v")
        .arg(format!("{}:/test.sources:ro", sources.display()))
        .arg("oci:out:latest")
        .args(["sh", "-c", script]));
    eprintln!("{text}");
    assert!(
        text.contains("hello from a signed test repository"),
        "{text}"
    );
    assert!(text.contains("Status: install ok installed"), "{text}");
    // apt fetched the signed release file and the package from the test server.
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert!(paths.iter().any(|p| p.ends_with("/InRelease")), "{paths:?}");
    assert!(
        paths.iter().any(|p| p.ends_with("plinth-hello.deb")),
        "{paths:?}"
    );
}

/// Point 4: the package set of `slim` is what `mmdebstrap --variant=minbase` installs
/// for the same release (asked with `--simulate`, which resolves without installing).
#[test]
fn slim_package_set_equals_mmdebstrap_minbase() {
    if !have_tool("mmdebstrap") {
        return;
    }
    for (example, release) in [("slim", "bookworm"), ("slim-trixie", "trixie")] {
        let ours = locked_names(
            &repo_root()
                .join("examples")
                .join(example)
                .join("plinth.lock"),
        );
        let o = run(Command::new("mmdebstrap").args([
            "--variant=minbase",
            "--simulate",
            "--verbose",
            release,
            "/dev/null",
        ]));
        let text = format!("{}{}", stdout(&o), stderr(&o));
        if !o.status.success() {
            if std::env::var("CI").as_deref() != Ok("true") {
                eprintln!("SKIPPED: mmdebstrap cannot reach the mirror:\n{text}");
                return;
            }
            panic!("mmdebstrap failed:\n{text}");
        }
        let mut theirs: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("Inst "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect();
        theirs.sort();
        theirs.dedup();
        assert_eq!(ours, theirs, "{release}: slim vs mmdebstrap minbase");
    }
}

/// Point 2: a maintainer script that fails stops the build; the error names the package
/// and shows what the script printed; nothing is written.
#[test]
fn a_failing_maintainer_script_stops_the_build_naming_the_package() {
    if !(have_tool("dpkg-deb") && have_tool("gpg")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // Warm the cache with the base system's .debs (and check the build works).
    let spec = copy_example("slim", tmp.path());
    let Some(o) = build_with(&spec, &tmp.path().join("ok"), &cache_dir(), &[]) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    // A mirror of the locked packages and one whose postinst fails.
    let lock: toml::Value =
        toml::from_str(&fs_err::read_to_string(spec.with_file_name("plinth.lock")).unwrap())
            .unwrap();
    let mut debs: Vec<PathBuf> = Vec::new();
    let debs_dir = tmp.path().join("debs");
    fs_err::create_dir_all(&debs_dir).unwrap();
    for p in lock["platform"][0]["package"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let dst = debs_dir.join(format!("{name}.deb"));
        fs_err::copy(
            cache_dir()
                .join("blobs/sha256")
                .join(p["sha256"].as_str().unwrap()),
            &dst,
        )
        .unwrap();
        debs.push(dst);
    }
    debs.push(make_deb(
        tmp.path(),
        "plinth-broken",
        "Package: plinth-broken\nVersion: 1.0\nArchitecture: all\nMaintainer: Plinth <test@plinth.invalid>\n\
         Priority: optional\nSection: misc\nDescription: fails to configure\n",
        &[(
            "DEBIAN/postinst",
            "#!/bin/sh\necho 'plinth-broken: the database cannot be migrated' >&2\nexit 3\n",
            0o755,
        )],
    ));
    let repo = tmp.path().join("mirror");
    let (_, asc) = signed_repo(&repo, "bookworm", &debs);
    let dir = tmp.path().join("broken");
    let spec = write_spec(
        &dir,
        &format!(
            "[image]\nprofile = \"slim\"\n[debian]\nrelease = \"bookworm\"\npackages = [\"plinth-broken\"]\n\
             mirror = \"file://{}\"\nsecurity = false\nkeys = [\"{}\"]\n",
            repo.display(),
            asc.display()
        ),
        &[],
    );
    let out = dir.join("out");
    let err = fails(
        plinth()
            .arg("build")
            .arg(&spec)
            .arg("-o")
            .arg(&out)
            .arg("--cache-dir")
            .arg(tmp.path().join("cache")),
        2,
    );
    assert!(err.contains("package plinth-broken"), "{err}");
    assert!(err.contains("the database cannot be migrated"), "{err}");
    assert!(!out.exists(), "a failed build wrote {}", out.display());
}

/// Point 2: a platform whose binaries cannot run here (no binfmt_misc emulator) is a
/// clear error naming the platform, with the way out.
#[test]
fn a_foreign_platform_without_an_emulator_is_a_clear_error() {
    if Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists() {
        eprintln!("SKIPPED: this machine runs arm64 binaries through an emulator");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "[image]\nprofile = \"slim\"\nplatforms = [\"linux/arm64\"]\n[debian]\nrelease = \"bookworm\"\n",
        &[],
    );
    let Some(o) = build_with(&spec, &tmp.path().join("out"), &cache_dir(), &[]) else {
        return;
    };
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("linux/arm64"), "{err}");
    assert!(err.contains("aarch64 binaries cannot run"), "{err}");
    assert!(err.contains("qemu-user-static"), "{err}");
    assert!(!tmp.path().join("out").exists());
}

/// Point 5: `check` reports what a whole system has (a shell, a package manager, root),
/// and the SBOM lists every installed package from dpkg's own `status` file.
#[test]
fn check_and_sbom_read_the_system_as_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = copy_example("slim", tmp.path());
    let out = tmp.path().join("out");
    let Some(o) = build_with(&spec, &out, &cache_dir(), &[]) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(plinth().arg("check").arg(&out));
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    for rule in [
        "FAIL  non-root",
        "FAIL  no-shell",
        "FAIL  no-package-manager",
    ] {
        assert!(text.contains(rule), "{text}");
    }
    let sbom: serde_json::Value = serde_json::from_str(&ok(plinth()
        .args(["sbom", "--format", "spdx-json"])
        .arg(&out)))
    .unwrap();
    let mut names: Vec<String> = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["externalRefs"].as_array().is_some_and(|r| {
                r.iter().any(|r| {
                    r["referenceLocator"]
                        .as_str()
                        .is_some_and(|l| l.starts_with("pkg:deb/"))
                })
            })
        })
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names, locked_names(&spec.with_file_name("plinth.lock")));
}
