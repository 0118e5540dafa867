//! System images (`profile = "slim"`) built by a user who is not root: `plinth build`
//! re-runs itself as root of a user namespace (newuidmap, /etc/subuid), as mmdebstrap's
//! `unshare` mode, and gives the digest a root build gives.
//!
//! The tests run as root and switch to the user `plinth-test`, which `scripts/test.sh`
//! makes with a range of subordinate ids; without root, `setpriv`, `newuidmap` or that
//! user they skip with a notice (and fail under `CI=true`).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const USER: &str = "plinth-test";
const SLIM: &str = "[image]\nprofile = \"slim\"\n[debian]\nrelease = \"bookworm\"\n";

/// Fails under `CI=true`, else prints a notice; returns false.
fn missing(what: &str) -> bool {
    let msg = format!("{what}; run ./scripts/test.sh as root (it sets the test user up)");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

/// The uid and gid of `name`, from `id`.
fn ids_of(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let o = Command::new("id").arg(flag).arg(name).output().ok()?;
        o.status.success().then_some(())?;
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// The test user's ids, when everything the tests need is there.
fn test_user() -> Option<(u32, u32)> {
    if !have_tool("newuidmap") || !have_tool("setpriv") {
        return None;
    }
    if Command::new("id").arg("-u").output().ok().map(|o| o.stdout) != Some(b"0\n".to_vec()) {
        missing("these tests switch users and must run as root");
        return None;
    }
    let ids = ids_of(USER);
    if ids.is_none() {
        missing(&format!("there is no user {USER}"));
    }
    ids
}

/// A directory every user can enter, with `owner`'s subdirectory `name`.
fn owned_dir(parent: &Path, name: &str, owner: &str) -> PathBuf {
    let dir = parent.join(name);
    fs_err::create_dir_all(&dir).unwrap();
    ok(Command::new("chown")
        .arg("-R")
        .arg(format!("{owner}:"))
        .arg(&dir));
    dir
}

/// A temporary directory other users can enter (tempfile makes it 0700).
fn shared_tmp() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs_err::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    tmp
}

/// A copy of the plinth binary the test user can run, wherever the target dir is.
fn user_binary(dir: &Path) -> PathBuf {
    let bin = dir.join("plinth");
    fs_err::copy(env!("CARGO_BIN_EXE_plinth"), &bin).unwrap();
    fs_err::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// `bin` run as `user` with a login's clean environment plus `env`.
fn as_user(user: &str, bin: &Path, env: &[(&str, &Path)]) -> Command {
    let (_, gid) = ids_of(user).unwrap_or_else(|| panic!("no user {user}"));
    let mut c = Command::new("setpriv");
    c.args(["--reuid", user, "--regid", &gid.to_string()])
        .args(["--init-groups", "--reset-env", "env", "NO_COLOR=1"]);
    for (k, v) in env {
        c.arg(format!("{k}={}", v.display()));
    }
    c.arg(bin);
    c
}

/// Builds `examples/slim` (bookworm, from its committed lock) as root in `dir/root`:
/// (digest, spec directory).
fn root_build(dir: &Path) -> (String, PathBuf) {
    let spec_dir = dir.join("root");
    fs_err::create_dir_all(&spec_dir).unwrap();
    for f in ["plinth.toml", "plinth.lock"] {
        fs_err::copy(repo_root().join("examples/slim").join(f), spec_dir.join(f)).unwrap();
    }
    let digest = build(&spec_dir.join("plinth.toml"), &dir.join("root/out"), &[]);
    (digest, spec_dir)
}

/// The test user's spec directory (the spec and the root build's lock) and its cache,
/// seeded with the lock's `.deb`s from the shared test cache (no download, but no
/// built system layer either: the build installs the system itself).
fn user_workspace(tmp: &Path, root_spec_dir: &Path) -> (PathBuf, PathBuf) {
    let home = owned_dir(tmp, "user", "root");
    let lock = fs_err::read_to_string(root_spec_dir.join("plinth.lock")).unwrap();
    fs_err::copy(root_spec_dir.join("plinth.toml"), home.join("plinth.toml")).unwrap();
    fs_err::write(home.join("plinth.lock"), &lock).unwrap();
    let shared = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plinth-cache/blobs/sha256");
    let blobs = home.join("cache/blobs/sha256");
    fs_err::create_dir_all(&blobs).unwrap();
    let mut seeded = 0;
    for line in lock.lines() {
        let sum = line
            .strip_prefix("sha256 = \"")
            .and_then(|s| s.strip_suffix('"'));
        if let Some(sum) = sum
            && shared.join(sum).exists()
        {
            fs_err::copy(shared.join(sum), blobs.join(sum)).unwrap();
            seeded += 1;
        }
    }
    assert!(
        seeded > 50,
        "only {seeded} .debs of the lock in the shared cache"
    );
    ok(Command::new("chown")
        .arg("-R")
        .arg(format!("{USER}:"))
        .arg(&home));
    let cache = home.join("cache");
    (home, cache)
}

/// Every path under `dir` whose owner is not `uid`.
fn not_owned_by(dir: &Path, uid: u32) -> Vec<String> {
    let mut bad = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let m = fs_err::symlink_metadata(&p).unwrap();
        if m.uid() != uid {
            bad.push(format!("{} ({}:{})", p.display(), m.uid(), m.gid()));
        }
        if m.is_dir() {
            for e in fs_err::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    bad
}

#[test]
fn a_slim_image_built_without_root_has_the_digest_of_the_root_build() {
    let Some((uid, _)) = test_user() else { return };
    let tmp = shared_tmp();
    let (root_digest, root_spec_dir) = root_build(tmp.path());
    let (home, cache) = user_workspace(tmp.path(), &root_spec_dir);
    let bin = user_binary(tmp.path());
    let out = home.join("out");
    let o = run(as_user(USER, &bin, &[("PLINTH_CACHE", &cache)])
        .arg("build")
        .arg(home.join("plinth.toml"))
        .arg("-o")
        .arg(&out));
    let err = stderr(&o);
    assert!(o.status.success(), "{}\n{err}", o.status);
    assert!(err.contains("as root of a user namespace"), "{err}");
    // Two modes, one digest: the golden one (this is bookworm's second dpkg run of
    // `system::slim_builds_to_its_golden_digest_on_bookworm`).
    assert_eq!(stdout(&o).trim(), root_digest, "{err}");
    assert_eq!(root_digest, crate::system::SLIM_BOOKWORM);
    validate_image(&out);
    // The system was installed here, not taken from a cache: the built layer's record
    // is new.
    assert!(cache.join("derived/package-layer").is_dir(), "{err}");
    // What root of the namespace made is the user's: the image, the cache, and no work
    // directory is left in it.
    assert_eq!(not_owned_by(&home, uid), Vec::<String>::new());
    assert_eq!(
        fs_err::read_dir(cache.join("tmp")).unwrap().count(),
        0,
        "the build left its work directory"
    );
}

#[test]
fn a_user_without_subordinate_ids_is_told_how_to_add_them() {
    if test_user().is_none() {
        return;
    }
    // `nobody` exists everywhere and has no subordinate ids.
    let tmp = shared_tmp();
    let spec = write_spec(&tmp.path().join("spec"), SLIM, &[]);
    fs_err::set_permissions(
        spec.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let bin = user_binary(tmp.path());
    let err = fails(as_user("nobody", &bin, &[]).arg("build").arg(&spec), 2);
    assert!(
        err.contains("/etc/subuid gives nobody no subordinate ids"),
        "{err}"
    );
    assert!(err.contains("usermod --add-subuids"), "{err}");
    assert!(!spec.parent().unwrap().join("out").exists());
}

#[test]
fn without_newuidmap_the_build_names_the_package_to_install() {
    if test_user().is_none() {
        return;
    }
    let tmp = shared_tmp();
    let dir = owned_dir(tmp.path(), "spec", USER);
    fs_err::write(dir.join("plinth.toml"), SLIM).unwrap();
    let bin = user_binary(tmp.path());
    let err = fails(
        as_user(USER, &bin, &[("PATH", Path::new("/nonexistent"))])
            .arg("build")
            .arg(dir.join("plinth.toml")),
        2,
    );
    assert!(err.contains("`newuidmap` is not on PATH"), "{err}");
    assert!(err.contains("apt-get install uidmap"), "{err}");
}

/// The processes whose root directory is under `dir` (dpkg and what it runs in a build's
/// chroot there).
fn chrooted_under(dir: &Path) -> Vec<u32> {
    fs_err::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs_err::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r.starts_with(dir))
        })
        .collect()
}

/// Waits (up to two minutes) for `cond`.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(120), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_to_a_user_namespace_build_stops_it_and_its_dpkg() {
    let Some(_) = test_user() else { return };
    let tmp = shared_tmp();
    let (_, root_spec_dir) = root_build(tmp.path());
    let (home, cache) = user_workspace(tmp.path(), &root_spec_dir);
    let bin = user_binary(tmp.path());
    let parent = as_user(USER, &bin, &[("PLINTH_CACHE", &cache)])
        .arg("build")
        .arg(home.join("plinth.toml"))
        .arg("-q")
        .arg("-o")
        .arg(home.join("out"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut parent = KillOnDrop(parent);
    let work = cache.join("tmp");
    // Once dpkg runs in the namespace's chroot, the build is well under way.
    wait_for("dpkg never ran in the user namespace build", || {
        !chrooted_under(&work).is_empty()
    });
    ok(Command::new("kill")
        .args(["-TERM", &parent.0.id().to_string()])
        .stderr(Stdio::null()));
    let status = parent.0.wait().unwrap();
    // The parent forwarded the signal and ended as its child did: 128 + SIGTERM.
    assert_eq!(status.code(), Some(128 + 15), "{status}");
    wait_for("dpkg outlived the killed build", || {
        chrooted_under(&work).is_empty()
    });
}

#[test]
fn when_the_kernel_refuses_a_user_namespace_the_build_says_so() {
    if test_user().is_none() || !have_tool("unshare") {
        return;
    }
    // The kernel refuses a user namespace to a chrooted process (EPERM), as it does
    // where unprivileged namespaces are disabled: the machine's / bound onto a
    // directory, in a private mount namespace that dies with the command.
    let tmp = shared_tmp();
    let dir = owned_dir(tmp.path(), "spec", USER);
    fs_err::write(dir.join("plinth.toml"), SLIM).unwrap();
    let bin = user_binary(tmp.path());
    let jail = tmp.path().join("jail");
    fs_err::create_dir(&jail).unwrap();
    let user = as_user(USER, &bin, &[]);
    let inner: Vec<String> = std::iter::once(user.get_program())
        .chain(user.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let script = r#"mount --make-rprivate / && mount --rbind / "$0" && exec chroot "$0" "$@""#;
    let err = fails(
        Command::new("unshare")
            .args(["--mount", "sh", "-c", script])
            .arg(&jail)
            .args(&inner)
            .arg("build")
            .arg(dir.join("plinth.toml")),
        2,
    );
    assert!(
        err.contains("error: cannot create a user namespace"),
        "{err}"
    );
    assert!(err.contains("Operation not permitted"), "{err}");
    assert!(err.contains("allow unprivileged user namespaces"), "{err}");
}

#[test]
fn a_build_that_fails_in_the_namespace_exits_with_its_code_and_says_why_once() {
    if test_user().is_none() {
        return;
    }
    // A bookworm spec beside trixie's lock: refused in the namespace (exit 2), before
    // anything is fetched.
    let tmp = shared_tmp();
    let dir = owned_dir(tmp.path(), "spec", "root");
    fs_err::write(dir.join("plinth.toml"), SLIM).unwrap();
    fs_err::copy(
        repo_root().join("examples/slim-trixie/plinth.lock"),
        dir.join("plinth.lock"),
    )
    .unwrap();
    ok(Command::new("chown")
        .arg("-R")
        .arg(format!("{USER}:"))
        .arg(&dir));
    let bin = user_binary(tmp.path());
    let err = fails(
        as_user(USER, &bin, &[("PLINTH_CACHE", &dir.join("cache"))])
            .arg("build")
            .arg(dir.join("plinth.toml"))
            .arg("-o")
            .arg(dir.join("out")),
        2,
    );
    assert!(err.contains("as root of a user namespace"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(err.contains("plinth.lock"), "{err}");
    assert!(!dir.join("out").exists());
}

#[test]
fn a_failing_newuidmap_stops_the_build_with_its_message_once() {
    if test_user().is_none() {
        return;
    }
    // Stand-ins that refuse as a newuidmap without its set-uid bit does.
    let tmp = shared_tmp();
    let tools = tmp.path().join("tools");
    fs_err::create_dir(&tools).unwrap();
    for t in ["newuidmap", "newgidmap"] {
        let p = tools.join(t);
        fs_err::write(
            &p,
            format!("#!/bin/sh\necho \"{t}: write to uid_map failed: Operation not permitted\" >&2\nexit 1\n"),
        )
        .unwrap();
        fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dir = owned_dir(tmp.path(), "spec", USER);
    fs_err::write(dir.join("plinth.toml"), SLIM).unwrap();
    let bin = user_binary(tmp.path());
    let path =
        std::env::join_paths([tools.as_path(), Path::new("/usr/bin"), Path::new("/bin")]).unwrap();
    let err = fails(
        as_user(USER, &bin, &[("PATH", Path::new(&path))])
            .arg("build")
            .arg(dir.join("plinth.toml")),
        2,
    );
    assert!(err.contains("newuidmap "), "{err}");
    assert!(
        err.contains("write to uid_map failed: Operation not permitted"),
        "{err}"
    );
    assert!(err.contains("set-uid root"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
}
