//! The `[auth]` and `[tls]` sections of the configuration, and the grants they hold.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What a request does to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Read manifests, blobs, tags and referrers.
    Pull,
    /// Upload blobs and manifests.
    Push,
    /// Delete manifests, tags and blobs.
    Delete,
}

impl Action {
    /// Every action, in the order tokens list them.
    pub const ALL: [Action; 3] = [Action::Pull, Action::Push, Action::Delete];

    /// The name in scopes and tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }

    /// The action a scope names (`*` is handled by the caller).
    pub fn from_name(s: &str) -> Option<Action> {
        match s {
            "pull" => Some(Action::Pull),
            "push" => Some(Action::Push),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

/// `[auth]`: who may do what. Without this section every request is allowed.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// An htpasswd file of bcrypt entries (`htpasswd -B`): the users.
    pub htpasswd: Option<PathBuf>,
    /// Whether a caller without credentials may pull every repository.
    pub anonymous_pull: bool,
    /// The token endpoint and bearer tokens.
    pub token: TokenConfig,
    /// What each user may do, by repository.
    pub grants: Vec<Grant>,
}

/// `[auth.token]`: bearer tokens issued by `/token` (the flow docker, podman and skopeo
/// follow) instead of Basic credentials on every request.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    /// Whether the token flow is on (Basic authentication otherwise).
    pub enabled: bool,
    /// The `service` of the challenge, and the audience of the tokens.
    pub service: String,
    /// The `iss` of the tokens.
    pub issuer: String,
    /// A file holding the HMAC secret (at least 32 bytes), shared by every instance
    /// that must accept the others' tokens. None: a random key per process.
    pub key_file: Option<PathBuf>,
    /// How long a token is valid, in seconds.
    pub ttl_secs: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            enabled: false,
            service: "plinth".into(),
            issuer: "plinth".into(),
            key_file: None,
            ttl_secs: 300,
        }
    }
}

/// `[[auth.grants]]`: `users` may do `actions` on the repositories matching
/// `repositories` (`*` matches within a path component, `**` across components).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// User names of the htpasswd file; `*` is every authenticated user.
    pub users: Vec<String>,
    /// Repository name patterns.
    pub repositories: Vec<String>,
    /// What they may do.
    pub actions: Vec<Action>,
}

impl Grant {
    /// Whether the grant gives `user` the right to `action` on `repository`.
    pub fn allows(&self, user: &str, repository: &str, action: Action) -> bool {
        self.actions.contains(&action)
            && self.users.iter().any(|u| u == "*" || u == user)
            && self.repositories.iter().any(|p| glob(p, repository))
    }
}

/// `[tls]`: serve HTTPS with this certificate chain and key (PEM files).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Makes the relative paths of `[auth]` and `[tls]` relative to `base` (the directory of
/// the configuration file), as the storage path is.
pub fn resolve_paths(auth: Option<&mut AuthConfig>, tls: Option<&mut TlsConfig>, base: &Path) {
    let fix = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    if let Some(a) = auth {
        a.htpasswd.as_mut().map(fix);
        a.token.key_file.as_mut().map(fix);
    }
    if let Some(t) = tls {
        fix(&mut t.cert);
        fix(&mut t.key);
    }
}

/// Whether `name` matches `pattern`: `*` is any run of characters but `/`, `**` any run
/// at all, every other character itself. Dynamic programming over both strings, so a
/// pattern with many stars costs `len(pattern) × len(name)`, whatever the name.
pub fn glob(pattern: &str, name: &str) -> bool {
    #[derive(Clone, Copy)]
    enum Tok {
        Byte(u8),
        Star,
        DoubleStar,
    }
    let p = pattern.as_bytes();
    let mut toks = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'*' {
            if p.get(i + 1) == Some(&b'*') {
                toks.push(Tok::DoubleStar);
                i += 2;
            } else {
                toks.push(Tok::Star);
                i += 1;
            }
        } else {
            toks.push(Tok::Byte(p[i]));
            i += 1;
        }
    }
    let n = name.as_bytes();
    // row[j]: the tokens so far match n[..j].
    let mut row = vec![false; n.len() + 1];
    row[0] = true;
    for t in toks {
        let mut next = vec![false; n.len() + 1];
        match t {
            Tok::Byte(b) => {
                for j in 1..=n.len() {
                    next[j] = row[j - 1] && n[j - 1] == b;
                }
            }
            Tok::Star | Tok::DoubleStar => {
                let crosses = matches!(t, Tok::DoubleStar);
                next[0] = row[0];
                for j in 1..=n.len() {
                    next[j] = row[j] || (next[j - 1] && (crosses || n[j - 1] != b'/'));
                }
            }
        }
        row = next;
    }
    row[n.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/serve.md's `toml` blocks together are one configuration this schema reads
    /// (`deny_unknown_fields`: a documented key that does not exist fails here).
    #[test]
    fn the_documented_configuration_parses() {
        let doc = include_str!("../../../../docs/serve.md");
        let blocks: Vec<&str> = doc
            .split("```toml\n")
            .skip(1)
            .map(|b| b.split("```").next().unwrap())
            .collect();
        assert!(blocks.len() >= 2, "the docs lost their examples");
        let cfg: crate::Config = toml::from_str(&blocks.concat()).unwrap();
        let auth = cfg.auth.unwrap();
        assert_eq!(auth.token.ttl_secs, 300);
        assert_eq!(auth.grants.len(), 2);
        assert!(cfg.tls.is_some());
    }

    #[test]
    fn star_stays_in_a_component_and_double_star_crosses() {
        assert!(glob("team/*", "team/app"));
        assert!(!glob("team/*", "team/app/sub"));
        assert!(!glob("team/*", "team"));
        assert!(glob("team/**", "team/app/sub"));
        assert!(glob("**", "a/b/c"));
        assert!(glob("*", "base"));
        assert!(!glob("*", "a/b"));
        assert!(glob("base", "base"));
        assert!(!glob("base", "base2"));
        assert!(glob("*-dev", "app-dev"));
        assert!(glob("a/**/z", "a/b/c/z"));
        assert!(!glob("a/*/z", "a/b/c/z"));
        assert!(glob("", ""));
        assert!(!glob("", "a"));
    }

    #[test]
    fn many_stars_against_a_long_name_are_quick() {
        let pattern = "*a".repeat(100);
        let name = "a".repeat(99) + "b";
        assert!(!glob(&pattern, &name));
    }

    #[test]
    fn a_grant_needs_the_user_the_repository_and_the_action() {
        let g = Grant {
            users: vec!["alice".into()],
            repositories: vec!["team/*".into(), "base".into()],
            actions: vec![Action::Pull, Action::Push],
        };
        assert!(g.allows("alice", "team/app", Action::Push));
        assert!(g.allows("alice", "base", Action::Pull));
        assert!(!g.allows("alice", "base", Action::Delete));
        assert!(!g.allows("bob", "base", Action::Pull));
        assert!(!g.allows("alice", "other", Action::Pull));
        let every = Grant {
            users: vec!["*".into()],
            ..g
        };
        assert!(every.allows("bob", "base", Action::Pull));
    }
}
