//! Credentials where docker and podman users already keep them, and `plinth login`'s
//! writes to the same file docker writes.
//!
//! Files are read in podman's order, first match wins:
//! 1. `$REGISTRY_AUTH_FILE`;
//! 2. `$XDG_RUNTIME_DIR/containers/auth.json`;
//! 3. `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/containers/auth.json`);
//! 4. `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
//!
//! In each file, as docker does: `credHelpers[registry]`, else `credsStore`, runs
//! `docker-credential-NAME get`; else `auths` (keys `host`, `host/repo/prefix`,
//! `https://host`, `https://index.docker.io/v1/`) gives a base64 `user:password` in
//! `auth` (or `username`/`password`) and an OAuth2 refresh token in `identitytoken`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::reference::DOCKER_HUB;

/// The key docker uses for Docker Hub in `auths` and with credential helpers.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Largest config file read.
const MAX_CONFIG: u64 = 4 << 20;

/// What a registry is told about who is asking.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (or personal access token).
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token endpoint.
    IdentityToken {
        /// The refresh token.
        token: String,
    },
}

impl std::fmt::Debug for Credential {
    /// Never shows a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credential::IdentityToken { .. } => write!(f, "IdentityToken(***)"),
        }
    }
}

/// A credentials file or helper that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("cannot read credentials file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the JSON docker and podman write.
    #[error("credentials file {} is not valid: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A credential helper could not be run or failed.
    #[error("credential helper docker-credential-{helper} failed for {registry}: {reason}")]
    Helper {
        /// The helper's name (after `docker-credential-`).
        helper: String,
        /// The registry asked about.
        registry: String,
        /// What went wrong.
        reason: String,
    },
    /// Writing the config file failed.
    #[error("cannot write credentials file {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The files credentials are read from, in order.
pub fn auth_files() -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut out = Vec::new();
    if let Some(f) = env("REGISTRY_AUTH_FILE") {
        out.push(f);
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        out.push(d.join("containers/auth.json"));
    }
    if let Some(d) = env("XDG_CONFIG_HOME").or_else(|| env("HOME").map(|h| h.join(".config"))) {
        out.push(d.join("containers/auth.json"));
    }
    out.push(docker_config_path());
    out
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`: what `plinth login` writes.
pub fn docker_config_path() -> PathBuf {
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d).join("config.json"),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".docker/config.json"),
    }
}

/// Where credentials are looked up: the files, and the `PATH` credential helpers are
/// searched in.
#[derive(Debug, Clone, Default)]
pub struct CredentialSources {
    /// The files, first match wins.
    pub files: Vec<PathBuf>,
    /// `PATH` for `docker-credential-*` helpers; `None` for the process's own.
    pub helper_path: Option<std::ffi::OsString>,
}

impl CredentialSources {
    /// The files of [`auth_files`], helpers on the process's `PATH`.
    pub fn from_env() -> Self {
        CredentialSources {
            files: auth_files(),
            helper_path: None,
        }
    }

    /// The credential for `registry` (and `repository`, for podman's per-repository
    /// keys) from the first file that has one; `None` for anonymous access.
    pub fn lookup(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Option<Credential>, ConfigError> {
        for path in &self.files {
            let Some(doc) = read_config(path)? else {
                continue;
            };
            if let Some(c) = lookup_in(
                &doc,
                path,
                registry,
                repository,
                self.helper_path.as_deref(),
            )? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

fn read_config(path: &Path) -> Result<Option<Value>, ConfigError> {
    let bytes = match fs_err::metadata(path) {
        Ok(m) if m.is_file() && m.len() <= MAX_CONFIG => {
            fs_err::read(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?
        }
        Ok(m) if m.is_file() => {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                reason: format!("larger than {MAX_CONFIG} bytes"),
            });
        }
        _ => return Ok(None),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| ConfigError::Invalid {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if !doc.is_object() {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            reason: "not a JSON object".into(),
        });
    }
    Ok(Some(doc))
}

/// `https://index.docker.io/v1/` → `docker.io`; `https://host:5000/v2/` → `host:5000`.
fn normalise_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host_end = k.find('/').unwrap_or(k.len());
    let (host, path) = k.split_at(host_end);
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
        h => h,
    };
    // A scheme-prefixed key names a registry; its path (`/v1/`) is an API path.
    if key.contains("://") || path.trim_matches('/').is_empty() {
        host.to_string()
    } else {
        format!("{host}{}", path.trim_end_matches('/'))
    }
}

/// The key a registry is stored under by `plinth login` (docker's spelling).
pub fn store_key(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_KEY.to_string()
    } else {
        registry.to_string()
    }
}

fn lookup_in(
    doc: &Value,
    path: &Path,
    registry: &str,
    repository: &str,
    helper_path: Option<&std::ffi::OsStr>,
) -> Result<Option<Credential>, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let helper = doc
        .get("credHelpers")
        .and_then(Value::as_object)
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| normalise_key(k) == registry)
                .and_then(|(_, v)| v.as_str())
        })
        .or_else(|| doc.get("credsStore").and_then(Value::as_str))
        .filter(|h| !h.is_empty());
    if let Some(helper) = helper {
        return helper_get(helper, registry, helper_path);
    }
    let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
        return Ok(None);
    };
    // The most specific key wins: `host/org/repo` before `host/org` before `host`.
    let full = format!("{registry}/{repository}");
    let best = auths
        .iter()
        .map(|(k, v)| (normalise_key(k), v))
        .filter(|(k, _)| {
            k == registry
                || (full.starts_with(k.as_str()) && full.as_bytes().get(k.len()) == Some(&b'/'))
        })
        .max_by_key(|(k, _)| k.len());
    let Some((key, entry)) = best else {
        return Ok(None);
    };
    let field = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let Some(token) = field("identitytoken") {
        return Ok(Some(Credential::IdentityToken {
            token: token.to_string(),
        }));
    }
    if let Some(auth) = field("auth") {
        let raw = STANDARD
            .decode(auth.trim())
            .map_err(|e| invalid(format!("`auth` of {key} is not base64: {e}")))?;
        let text =
            String::from_utf8(raw).map_err(|_| invalid(format!("`auth` of {key} is not UTF-8")))?;
        let (username, password) = text
            .split_once(':')
            .ok_or_else(|| invalid(format!("`auth` of {key} is not `user:password`")))?;
        return Ok(Some(Credential::Basic {
            username: username.to_string(),
            password: password.to_string(),
        }));
    }
    if let (Some(u), Some(p)) = (field("username"), field("password")) {
        return Ok(Some(Credential::Basic {
            username: u.to_string(),
            password: p.to_string(),
        }));
    }
    Ok(None)
}

/// Most bytes a helper may print.
const MAX_HELPER_OUTPUT: usize = 1 << 20;

fn run_helper(
    helper: &str,
    verb: &str,
    registry: &str,
    input: &[u8],
    helper_path: Option<&std::ffi::OsStr>,
) -> Result<Vec<u8>, ConfigError> {
    let err = |reason: String| ConfigError::Helper {
        helper: helper.to_string(),
        registry: registry.to_string(),
        reason,
    };
    if helper.contains(['/', '\\']) || helper.starts_with('.') {
        return Err(err("not a helper name".into()));
    }
    let program = format!("docker-credential-{helper}");
    let mut cmd = Command::new(&program);
    if let Some(p) = helper_path {
        cmd.env("PATH", p);
    }
    let mut child = cmd
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input is judged by its exit status.
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("cannot run {program}: {e}")))?;
    if out.stdout.len() > MAX_HELPER_OUTPUT {
        return Err(err("printed more than 1 MiB".into()));
    }
    if !out.status.success() {
        let msg = String::from_utf8_lossy(if out.stdout.is_empty() {
            &out.stderr
        } else {
            &out.stdout
        })
        .trim()
        .to_string();
        return Err(err(format!(
            "{program} {verb} exited with {}: {msg}",
            out.status
        )));
    }
    Ok(out.stdout)
}

fn helper_get(
    helper: &str,
    registry: &str,
    helper_path: Option<&std::ffi::OsStr>,
) -> Result<Option<Credential>, ConfigError> {
    let server = store_key(registry);
    match run_helper(helper, "get", registry, server.as_bytes(), helper_path) {
        Ok(out) => {
            let v: Value = serde_json::from_slice(&out).map_err(|e| ConfigError::Helper {
                helper: helper.to_string(),
                registry: registry.to_string(),
                reason: format!("its answer is not JSON: {e}"),
            })?;
            let user = v.get("Username").and_then(Value::as_str).unwrap_or("");
            let secret = v.get("Secret").and_then(Value::as_str).unwrap_or("");
            Ok(match (user, secret) {
                (_, "") => None,
                ("<token>", s) => Some(Credential::IdentityToken {
                    token: s.to_string(),
                }),
                (u, s) => Some(Credential::Basic {
                    username: u.to_string(),
                    password: s.to_string(),
                }),
            })
        }
        // docker's helpers say "credentials not found" and exit 1 when they hold nothing.
        Err(ConfigError::Helper { reason, .. })
            if reason
                .to_ascii_lowercase()
                .contains("credentials not found") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Stores `username`/`password` for `registry` in docker's config file `path`
/// ([`docker_config_path`]): through the credential helper the file names for it, else
/// base64 in `auths`. Other entries and settings of the file are kept.
pub fn login(
    path: &Path,
    registry: &str,
    username: &str,
    password: &str,
) -> Result<(), ConfigError> {
    let mut doc = read_config(path)?.unwrap_or_else(|| Value::Object(Map::new()));
    let key = store_key(registry);
    let helper = helper_for(&doc, registry);
    let entry = match &helper {
        Some(h) => {
            let input =
                serde_json::json!({"ServerURL": key, "Username": username, "Secret": password});
            run_helper(h, "store", registry, input.to_string().as_bytes(), None)?;
            Value::Object(Map::new())
        }
        None => serde_json::json!({
            "auth": STANDARD.encode(format!("{username}:{password}"))
        }),
    };
    let obj = doc.as_object_mut().expect("checked when read");
    let auths = obj
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let auths = auths.as_object_mut().expect("just made an object");
    auths.retain(|k, _| normalise_key(k) != registry);
    auths.insert(key, entry);
    write_config(path, &doc)
}

/// Removes `registry`'s credentials from docker's config file `path` (and its helper).
/// Returns whether there were any.
pub fn logout(path: &Path, registry: &str) -> Result<bool, ConfigError> {
    let Some(mut doc) = read_config(path)? else {
        return Ok(false);
    };
    let mut had = false;
    if let Some(h) = helper_for(&doc, registry) {
        had |= run_helper(&h, "erase", registry, store_key(registry).as_bytes(), None).is_ok();
    }
    if let Some(auths) = doc.get_mut("auths").and_then(Value::as_object_mut) {
        let before = auths.len();
        auths.retain(|k, _| normalise_key(k) != registry);
        had |= auths.len() != before;
    }
    if had {
        write_config(path, &doc)?;
    }
    Ok(had)
}

fn helper_for(doc: &Value, registry: &str) -> Option<String> {
    doc.get("credHelpers")
        .and_then(Value::as_object)
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| normalise_key(k) == registry)
                .and_then(|(_, v)| v.as_str())
        })
        .or_else(|| doc.get("credsStore").and_then(Value::as_str))
        .filter(|h| !h.is_empty())
        .map(str::to_string)
}

/// Writes the config readable by its owner only, through a temporary file and a rename.
fn write_config(path: &Path, doc: &Value) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let werr = |source| ConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = plinth_core::dirs::parent_dir(path);
    fs_err::create_dir_all(&dir).map_err(werr)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".plinth-tmp-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(&dir)
        .map_err(werr)?;
    let mut bytes = serde_json::to_vec_pretty(doc).expect("a JSON value serialises");
    bytes.push(b'\n');
    tmp.write_all(&bytes).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    tmp.persist(path).map_err(|e| werr(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(u: &str, p: &str) -> Option<Credential> {
        Some(Credential::Basic {
            username: u.into(),
            password: p.into(),
        })
    }

    #[test]
    fn auths_entries_are_found_by_registry_and_repository() {
        let b64 = |s: &str| STANDARD.encode(s);
        let doc = serde_json::json!({
            "auths": {
                "https://index.docker.io/v1/": {"auth": b64("hub:pw")},
                "127.0.0.1:5000": {"auth": b64("local:se:cret")},
                "127.0.0.1:5000/team": {"auth": b64("team:pw")},
                "http://reg.example:8080": {"username": "u", "password": "p"},
                "tok.example": {"auth": b64("x:y"), "identitytoken": "refresh"},
                "bad.example": {"auth": "%%%"},
                "empty.example": {}
            }
        });
        let p = Path::new("config.json");
        let get = |r: &str, repo: &str| lookup_in(&doc, p, r, repo, None).unwrap();
        assert_eq!(get("docker.io", "library/alpine"), basic("hub", "pw"));
        // The password keeps its colons; the longest matching key wins.
        assert_eq!(get("127.0.0.1:5000", "app"), basic("local", "se:cret"));
        assert_eq!(get("127.0.0.1:5000", "team/app"), basic("team", "pw"));
        assert_eq!(
            get("127.0.0.1:5000", "teamx/app"),
            basic("local", "se:cret")
        );
        assert_eq!(get("reg.example:8080", "a"), basic("u", "p"));
        assert_eq!(
            get("tok.example", "a"),
            Some(Credential::IdentityToken {
                token: "refresh".into()
            })
        );
        assert_eq!(get("empty.example", "a"), None);
        assert_eq!(get("other.example", "a"), None);
        let err = lookup_in(&doc, p, "bad.example", "a", None).unwrap_err();
        assert!(err.to_string().contains("not base64"), "{err}");
    }

    #[test]
    fn keys_normalise_like_docker() {
        assert_eq!(normalise_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalise_key("registry-1.docker.io"), "docker.io");
        assert_eq!(normalise_key("https://host:5000/v2/"), "host:5000");
        assert_eq!(normalise_key("host:5000/org/"), "host:5000/org");
        assert_eq!(store_key("docker.io"), DOCKER_HUB_KEY);
        assert_eq!(store_key("host:5000"), "host:5000");
    }

    /// A docker config naming a credential helper runs `docker-credential-NAME get` with
    /// the server URL on stdin, as docker does.
    #[test]
    fn credential_helpers_are_run_like_docker_runs_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        fs_err::create_dir(&bin).unwrap();
        let script = |name: &str, body: &str| {
            let p = bin.join(format!("docker-credential-{name}"));
            fs_err::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        // Answers only for the server it is asked about, read from stdin.
        script(
            "test",
            r#"[ "$1" = get ] || exit 2
read server
case "$server" in
  127.0.0.1:5000) echo '{"ServerURL":"127.0.0.1:5000","Username":"helper-user","Secret":"helper-pw"}';;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"<token>","Secret":"refresh-tok"}';;
  *) echo "credentials not found in native keychain"; exit 1;;
esac"#,
        );
        script("broken", "echo boom >&2; exit 3");
        let config = dir.path().join("config.json");
        fs_err::write(
            &config,
            r#"{"auths":{"127.0.0.1:5000":{}},"credsStore":"test","credHelpers":{"broken.example":"broken"}}"#,
        )
        .unwrap();
        let sources = CredentialSources {
            files: vec![dir.path().join("missing.json"), config],
            helper_path: Some(bin.into_os_string()),
        };
        assert_eq!(
            sources.lookup("127.0.0.1:5000", "app").unwrap(),
            basic("helper-user", "helper-pw")
        );
        assert_eq!(
            sources.lookup("docker.io", "library/alpine").unwrap(),
            Some(Credential::IdentityToken {
                token: "refresh-tok".into()
            })
        );
        assert_eq!(sources.lookup("other.example", "a").unwrap(), None);
        let err = sources.lookup("broken.example", "a").unwrap_err();
        assert!(
            err.to_string().contains("docker-credential-broken"),
            "{err}"
        );
        assert!(format!("{:?}", err).contains("boom"), "{err:?}");
    }

    #[test]
    fn a_config_that_is_not_json_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("auth.json");
        fs_err::write(&config, "{not json").unwrap();
        let sources = CredentialSources {
            files: vec![config.clone()],
            helper_path: None,
        };
        let err = sources.lookup("x.example", "a").unwrap_err();
        assert!(
            err.to_string().contains(&config.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn login_writes_what_docker_reads_and_logout_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("d/config.json");
        fs_err::create_dir_all(config.parent().unwrap()).unwrap();
        fs_err::write(
            &config,
            r#"{"auths":{"other.example":{"auth":"eDp5"}},"psFormat":"x"}"#,
        )
        .unwrap();
        login(&config, "docker.io", "me", "p:w").unwrap();
        login(&config, "127.0.0.1:5000", "me", "pw").unwrap();
        let doc: Value = serde_json::from_slice(&fs_err::read(&config).unwrap()).unwrap();
        assert_eq!(doc["psFormat"], "x");
        assert_eq!(
            doc["auths"][DOCKER_HUB_KEY]["auth"],
            STANDARD.encode("me:p:w")
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs_err::metadata(&config).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let sources = CredentialSources {
            files: vec![config.clone()],
            helper_path: None,
        };
        assert_eq!(
            sources.lookup("docker.io", "library/x").unwrap(),
            basic("me", "p:w")
        );
        assert!(logout(&config, "docker.io").unwrap());
        assert!(!logout(&config, "docker.io").unwrap());
        assert_eq!(sources.lookup("docker.io", "library/x").unwrap(), None);
        assert_eq!(
            sources.lookup("other.example", "x").unwrap(),
            basic("x", "y")
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let c = basic("user", "hunter2").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
