//! Helpers shared by the CLI tests.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A `plinth` command with a clean, fixed environment.
pub fn plinth() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_plinth"));
    c.env_remove("SOURCE_DATE_EPOCH")
        .env_remove("PLINTH_MAX_DB_AGE")
        .env("NO_COLOR", "1")
        // No test reads the user's vulnerability database by accident.
        .env("PLINTH_DB", "/nonexistent/plinth-test/vuln.db")
        // Nor writes the user's cache (packages, layers, indexes): the tests share one
        // under the target dir, the one the Debian tests name with --cache-dir.
        .env(
            "PLINTH_CACHE",
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("plinth-cache"),
        );
    c
}

/// Runs `cmd` and returns its output; panics with both streams if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command that must succeed and returns its stdout.
pub fn ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Runs a command that must fail with `code` and returns its stderr.
pub fn fails(cmd: &mut Command, code: i32) -> String {
    let o = run(cmd);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{cmd:?}:\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Whether an external tool can be used. Missing: fails under `CI=true`, else skips
/// with a notice naming the install step.
pub fn have_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let msg = format!(
            "`{tool}` is not installed; run ./scripts/test.sh (it installs the test tools)"
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}

/// Builds the example's static binary (once per test run) and returns the example dir.
pub fn hello_example() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = repo_root().join("examples/hello");
            assert!(
                have_tool("gcc") && have_tool("make"),
                "gcc and make build the example"
            );
            ok(Command::new("make")
                .arg("-s")
                .arg("-C")
                .arg(&dir)
                .arg("hello"));
            dir
        })
        .clone()
}

/// Copies the example into `dst` (spec, sources and the built binary).
pub fn copy_example(dst: &Path) -> PathBuf {
    let src = hello_example();
    fs_err::create_dir_all(dst).unwrap();
    for f in ["plinth.toml", "hello", "hello.c"] {
        fs_err::copy(src.join(f), dst.join(f)).unwrap();
    }
    dst.join("plinth.toml")
}

/// Builds `spec` into `out`, validates the image, and returns the printed digest.
pub fn build(spec: &Path, out: &Path, extra: &[&str]) -> String {
    let digest = ok(plinth()
        .arg("build")
        .arg(spec)
        .arg("-o")
        .arg(out)
        .arg("-q")
        .args(extra))
    .trim()
    .to_string();
    validate_image(out);
    digest
}

/// Every test that produces an image validates it (go-containerregistry's `validate`).
pub use plinth_oci::testing::validate_image;

/// `plinth inspect IMAGE --format json`, which must succeed.
pub fn inspect_json(image: &Path) -> serde_json::Value {
    let out = ok(plinth()
        .arg("inspect")
        .arg(image)
        .args(["--format", "json"]));
    serde_json::from_str(&out).unwrap()
}

/// The platforms of the images in `inspect --format json` output, in order.
pub fn platforms(inspect: &serde_json::Value) -> Vec<String> {
    inspect["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["platform"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `cmd` with stdin closed; `None` if it was still running after `timeout` (it is
/// killed then).
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > timeout {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    status.map(|status| Output {
        status,
        stdout,
        stderr,
    })
}

/// A podman command with private storage under `tmp` and this machine's needed flags.
///
/// `overlay.skip_mount_home`, where podman's storage driver is overlay (its default, when
/// the kernel allows): overlay bind-mounts its home directory onto itself, and a podman
/// command that fails (a refused pull) exits without unmounting it; the mount then
/// outlived the test and kept its temporary directory from being removed.
pub fn podman(tmp: &Path) -> Command {
    static SKIP_MOUNT_HOME: OnceLock<bool> = OnceLock::new();
    let skip = *SKIP_MOUNT_HOME.get_or_init(|| {
        // Only the overlay driver takes the option: ask podman, on storage of its own.
        let probe = tempfile::tempdir().unwrap();
        let mut c = podman_with(probe.path(), None);
        c.args(["--storage-opt", "overlay.skip_mount_home=true", "info"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c.status().is_ok_and(|s| s.success())
    });
    let mut c = podman_with(tmp, None);
    if skip {
        c.args(["--storage-opt", "overlay.skip_mount_home=true"]);
    }
    c
}

/// [`podman`] with the vfs storage driver (whole copies of layers, no mounts).
pub fn podman_vfs(tmp: &Path) -> Command {
    podman_with(tmp, Some("vfs"))
}

fn podman_with(tmp: &Path, driver: Option<&str>) -> Command {
    let mut c = Command::new("podman");
    c.arg("--root")
        .arg(tmp.join("root"))
        .arg("--runroot")
        .arg(tmp.join("run"))
        .args(["--runtime", "runc"]);
    if let Some(d) = driver {
        c.args(["--storage-driver", d]);
    }
    c
}

/// Arguments for a locked-down `podman run`.
pub const RUN_FLAGS: &[&str] = &[
    "run",
    "--rm",
    "--read-only",
    "--cap-drop=ALL",
    "--network",
    "none",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

/// Writes a spec and its files into `dir`; returns the spec path.
pub fn write_spec(dir: &Path, spec: &str, files: &[(&str, &[u8])]) -> PathBuf {
    fs_err::create_dir_all(dir).unwrap();
    for (name, data) in files {
        let p = dir.join(name);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, data).unwrap();
    }
    let p = dir.join("plinth.toml");
    fs_err::write(&p, spec).unwrap();
    p
}

/// Names left behind in `dir` by an interrupted write.
pub fn leftovers(dir: &Path) -> Vec<String> {
    fs_err::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".plinth-"))
                .collect()
        })
        .unwrap_or_default()
}

/// A tool from the Python virtualenv that `./scripts/test.sh` prepares (`.venv-tools`),
/// or from `PATH`. Missing: fails under `CI=true`, else skips with a notice.
pub fn venv_tool(tool: &str) -> Option<PathBuf> {
    let in_venv = repo_root().join(".venv-tools/bin").join(tool);
    if in_venv.exists() {
        return Some(in_venv);
    }
    have_tool(tool).then(|| PathBuf::from(tool))
}

/// A file of the real public data in `tests/data/` at the repository root (its README
/// gives the source and licence of each).
pub fn test_data(rel: &str) -> PathBuf {
    let p = repo_root().join("tests/data").join(rel);
    assert!(p.exists(), "{} is missing from the checkout", p.display());
    p
}
