//! A real registry for tests: CNCF distribution (`docker-registry`, 2.8 in Debian 12) on
//! 127.0.0.1, in a temp dir, anonymous or with htpasswd (bcrypt) or token auth. The
//! registry picks its own free port (`addr: 127.0.0.1:0`) and the guard reads it from the
//! log, so two tests never race for a port. Dropping the guard kills the process by its
//! PID and waits for it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::token::{ISSUER, SERVICE, TokenIssuer};
use crate::common::{have_tool, ok};

pub const USER: &str = "plinth";
pub const PASSWORD: &str = "s3cret-test-password";

/// How clients authenticate to a test registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Anonymous,
    /// `auth: htpasswd`: Basic with `USER`/`PASSWORD` (bcrypt, made by `htpasswd -B`).
    Htpasswd,
    /// `auth: token`: Bearer tokens from a [`TokenIssuer`] that knows `USER`/`PASSWORD`.
    Token,
}

pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    pub issuer: Option<TokenIssuer>,
    /// The registry's log (for a failing test's message).
    pub log: PathBuf,
    // Last: removed after the process is gone.
    _tmp: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry; `None` (with a notice) when `docker-registry` or, for
    /// htpasswd, `htpasswd` is not installed, except under `CI=true`, where that fails.
    pub fn start(auth: Auth) -> Option<Registry> {
        if !have_tool("docker-registry") || (auth == Auth::Htpasswd && !have_tool("htpasswd")) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut config = format!(
            "version: 0.1\nlog: {{level: info, accesslog: {{disabled: true}}}}\n\
             storage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\n\
             http: {{addr: \"127.0.0.1:0\", secret: plinth-test-secret}}\n",
            d.join("data").display()
        );
        let issuer = match auth {
            Auth::Anonymous => None,
            Auth::Htpasswd => {
                let line = ok(Command::new("htpasswd").args(["-B", "-b", "-n", USER, PASSWORD]));
                fs_err::write(d.join("htpasswd"), line.trim_end().to_string() + "\n").unwrap();
                config += &format!(
                    "auth: {{htpasswd: {{realm: plinth-test, path: {}}}}}\n",
                    d.join("htpasswd").display()
                );
                None
            }
            Auth::Token => {
                let issuer = TokenIssuer::start(d, USER, PASSWORD);
                config += &format!(
                    "auth: {{token: {{realm: \"{}\", service: {SERVICE}, issuer: {ISSUER}, rootcertbundle: {}}}}}\n",
                    issuer.realm(),
                    issuer.cert.display()
                );
                Some(issuer)
            }
        };
        fs_err::write(d.join("config.yml"), config).unwrap();
        let log = d.join("registry.log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
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
            // The registry reads REGISTRY_* variables as configuration.
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start docker-registry: {e}"));
        let mut reg = Registry {
            child,
            host: String::new(),
            issuer,
            log,
            _tmp: dir,
        };
        reg.host = reg.wait_listening();
        Some(reg)
    }

    fn wait_listening(&mut self) -> String {
        let start = Instant::now();
        loop {
            let log = fs_err::read_to_string(&self.log).unwrap_or_default();
            if let Some(i) = log.find("listening on 127.0.0.1:") {
                let rest = &log[i + "listening on ".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
                    .unwrap_or(rest.len());
                return rest[..end].to_string();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("docker-registry exited ({status}):\n{log}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "docker-registry did not start listening:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `127.0.0.1:PORT/REPO` (REPO may carry `:tag` or `@digest`).
    pub fn reference(&self, repo: &str) -> String {
        format!("{}/{repo}", self.host)
    }

    /// skopeo's `docker://` transport for `repo`.
    pub fn docker(&self, repo: &str) -> String {
        format!("docker://{}", self.reference(repo))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An anonymous registry shared by the tests that run at the same time: each holds an
/// `Arc`, the last one to finish stops it (a static would never be dropped, and the
/// process would outlive the tests). Tests use repository names of their own.
pub fn shared() -> Option<Arc<Registry>> {
    static SHARED: Mutex<Weak<Registry>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap();
    if let Some(r) = slot.upgrade() {
        return Some(r);
    }
    let r = Arc::new(Registry::start(Auth::Anonymous)?);
    *slot = Arc::downgrade(&r);
    Some(r)
}
