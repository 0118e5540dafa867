//! htpasswd files of bcrypt entries, and the check of Basic credentials against them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use super::SecurityError;

/// A bcrypt hash of nothing anybody sends, checked when the user is unknown so that an
/// unknown user costs the same time as a wrong password.
const DUMMY_HASH: &str = "$2y$05$lEg4vTP0nDDCvKoNiFjBS.3MFV6WZ81PjW/Mc/XDQfeXtkfHdnE3C";

/// How many accepted credentials are remembered (a client sends them on every request,
/// and bcrypt is slow on purpose).
const CACHE_ENTRIES: usize = 1024;

/// The users of an htpasswd file.
#[derive(Debug)]
pub struct Htpasswd {
    users: HashMap<String, String>,
    /// SHA-256 of `user NUL password` for credentials that bcrypt accepted.
    accepted: Mutex<HashMap<[u8; 32], ()>>,
}

impl Htpasswd {
    /// Reads `path`: one `user:hash` per line, every hash bcrypt (`$2y$`, `$2b$`,
    /// `$2a$`); blank lines and `#` comments are skipped. Any other hash type is refused
    /// with its line number.
    pub fn load(path: &Path) -> Result<Htpasswd, SecurityError> {
        let text = fs_err::read_to_string(path).map_err(|source| SecurityError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Htpasswd::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<Htpasswd, SecurityError> {
        let bad = |line: usize, reason: String| SecurityError::Htpasswd {
            path: PathBuf::from(path),
            line,
            reason,
        };
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                return Err(bad(n, "not a user:hash entry".into()));
            };
            if user.is_empty() {
                return Err(bad(n, "the user name is empty".into()));
            }
            let kind = if hash.starts_with("$apr1$") {
                Some("Apache MD5 ($apr1$)")
            } else if hash.starts_with("{SHA}") {
                Some("SHA-1 ({SHA})")
            } else if hash.starts_with("$5$") || hash.starts_with("$6$") {
                Some("crypt SHA-2 ($5$/$6$)")
            } else if !hash.starts_with("$2") {
                Some("crypt or plain text")
            } else {
                None
            };
            if let Some(kind) = kind {
                return Err(bad(
                    n,
                    format!(
                        "the entry of {user} is {kind}, not bcrypt; write it with `htpasswd -B`"
                    ),
                ));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                return Err(bad(
                    n,
                    format!("the entry of {user} is not a well-formed bcrypt hash"),
                ));
            }
            if users.insert(user.to_string(), hash.to_string()).is_some() {
                return Err(bad(n, format!("{user} is listed twice")));
            }
        }
        Ok(Htpasswd {
            users,
            accepted: Mutex::new(HashMap::new()),
        })
    }

    /// How many users the file holds.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file holds no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether `password` is `user`'s. Runs bcrypt (slow on purpose) unless these exact
    /// credentials were accepted before; call it off the async workers.
    pub fn check(&self, user: &str, password: &str) -> bool {
        let mut h = Sha256::new();
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        let cache = || self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        if cache().contains_key(&key) {
            return true;
        }
        let ok = match self.users.get(user) {
            Some(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            None => {
                let _ = bcrypt::verify(password, DUMMY_HASH);
                false
            }
        };
        if ok {
            let mut c = cache();
            if c.len() >= CACHE_ENTRIES {
                c.clear();
            }
            c.insert(key, ());
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Htpasswd, SecurityError> {
        Htpasswd::parse(Path::new("users.htpasswd"), text)
    }

    #[test]
    fn bcrypt_entries_check_passwords() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let h = parse(&format!("# users\n\nalice:{hash}\n")).unwrap();
        assert_eq!(h.len(), 1);
        assert!(h.check("alice", "s3cret"));
        assert!(h.check("alice", "s3cret"), "from the cache");
        assert!(!h.check("alice", "wrong"));
        assert!(!h.check("bob", "s3cret"));
    }

    #[test]
    fn other_hash_types_are_refused_with_their_line_number() {
        let hash = bcrypt::hash("x", 4).unwrap();
        for (entry, what) in [
            ("bob:$apr1$abc$def", "Apache MD5"),
            ("bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "SHA-1"),
            ("bob:plaintext", "plain"),
            ("bob:$2y$05$short", "well-formed"),
            ("no-colon", "user:hash"),
        ] {
            let e = parse(&format!("alice:{hash}\n{entry}\n"))
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains("users.htpasswd line 2"), "{e}");
            assert!(e.contains(what), "{e}");
        }
    }

    #[test]
    fn the_dummy_hash_is_well_formed() {
        assert!(DUMMY_HASH.parse::<bcrypt::HashParts>().is_ok());
    }
}
