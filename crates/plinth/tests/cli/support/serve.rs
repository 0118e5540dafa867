//! `plinth serve` for tests: the real binary on 127.0.0.1 with a port it picks itself
//! (`--listen 127.0.0.1:0`; the guard reads the address from its log), storage in a temp
//! dir or one the test names. Dropping the guard kills the process by its PID and waits.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::plinth;

pub struct Serve {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// The storage directory.
    #[allow(dead_code)] // for the tests that look at or share the store
    pub storage: PathBuf,
    /// The server's stderr (the request log).
    pub log: PathBuf,
    // Last: removed after the process is gone.
    _tmp: tempfile::TempDir,
}

impl Serve {
    /// Starts `plinth serve` on a temp storage directory.
    pub fn start() -> Serve {
        let tmp = tempfile::tempdir().unwrap();
        let storage = tmp.path().join("storage");
        Serve::start_with(tmp, &storage, &[])
    }

    /// Starts `plinth serve --storage STORAGE EXTRA...` (EXTRA may hold `--config FILE`).
    #[allow(dead_code)] // for the tests that share a store between servers
    pub fn start_on(storage: &Path, extra: &[&str]) -> Serve {
        Serve::start_with(tempfile::tempdir().unwrap(), storage, extra)
    }

    /// Starts `plinth serve --config CONFIG` (the storage is the file's; `storage` is
    /// left empty).
    #[allow(dead_code)] // for the tests of other storage backends
    pub fn start_config(config: &Path) -> Serve {
        let config = config.to_str().unwrap();
        Serve::start_with(
            tempfile::tempdir().unwrap(),
            Path::new(""),
            &["--config", config],
        )
    }

    fn start_with(tmp: tempfile::TempDir, storage: &Path, extra: &[&str]) -> Serve {
        let log = tmp.path().join("serve.log");
        let mut cmd = plinth();
        cmd.args(["serve", "--listen", "127.0.0.1:0"]);
        if !storage.as_os_str().is_empty() {
            cmd.arg("--storage").arg(storage);
        }
        let child = cmd
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs_err::File::create(&log).unwrap().into_parts().0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start plinth serve: {e}"));
        let mut s = Serve {
            child: Some(child),
            host: String::new(),
            storage: storage.to_path_buf(),
            log,
            _tmp: tmp,
        };
        s.host = s.wait_listening();
        s
    }

    fn wait_listening(&mut self) -> String {
        let start = Instant::now();
        loop {
            let log = fs_err::read_to_string(&self.log).unwrap_or_default();
            if let Some(i) = log.find("listening on http") {
                let rest = &log[i + "listening on http".len()..];
                let rest = rest.strip_prefix('s').unwrap_or(rest);
                let rest = rest.strip_prefix("://").unwrap_or(rest);
                let end = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
                    .unwrap_or(rest.len());
                return rest[..end].to_string();
            }
            let child = self.child.as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                panic!("plinth serve exited ({status}):\n{log}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "plinth serve did not start listening:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `http://127.0.0.1:PORT`.
    #[allow(dead_code)] // for the tests that speak HTTP to it directly
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }

    /// `127.0.0.1:PORT/REPO` (REPO may carry `:tag` or `@digest`).
    pub fn reference(&self, repo: &str) -> String {
        format!("{}/{repo}", self.host)
    }

    /// skopeo's `docker://` transport for `repo`.
    pub fn docker(&self, repo: &str) -> String {
        format!("docker://{}", self.reference(repo))
    }

    /// The PID (to signal it).
    #[allow(dead_code)] // for the tests that signal it
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// The request log so far.
    pub fn log_text(&self) -> String {
        fs_err::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the server with SIGKILL now and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for the server to exit; its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("server still running");
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = c.kill();
                let _ = c.wait();
                panic!("plinth serve did not stop within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}
