//! Bearer tokens: JWTs signed with HMAC-SHA256 (`HS256`), carrying the actions granted
//! per repository, as distribution's token servers issue them (with ES256/RS256 there:
//! here the issuer and the verifier are the same program, so a shared secret does).
//!
//! Written by hand over `hmac` and `sha2` rather than with a JWT crate: one algorithm,
//! one claim set, about as many lines as the glue a crate would need, and no algorithm
//! negotiation to get wrong (the header must say `HS256`, nothing else is tried).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::config::Action;

/// Longest token accepted (a token of 64 repositories is about 8 KiB).
const MAX_TOKEN: usize = 64 * 1024;

/// Seconds of clock difference between instances tolerated on `nbf`.
const LEEWAY: i64 = 60;

/// One `access` entry of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// Always `repository`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The repository name.
    pub name: String,
    /// The granted actions.
    pub actions: Vec<String>,
}

/// The claims of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The issuer.
    pub iss: String,
    /// The user; empty for an anonymous caller.
    pub sub: String,
    /// The service (audience).
    pub aud: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Not before, Unix seconds.
    pub nbf: i64,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// A unique id.
    pub jti: String,
    /// What the token allows.
    #[serde(default)]
    pub access: Vec<AccessEntry>,
}

impl Claims {
    /// Whether the token grants `action` on `repository`.
    pub fn allows(&self, repository: &str, action: Action) -> bool {
        self.access.iter().any(|a| {
            a.kind == "repository"
                && a.name == repository
                && a.actions.iter().any(|x| x == action.as_str())
        })
    }
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON, or too long.
    #[error("the token is malformed")]
    Malformed,
    /// The header names another algorithm.
    #[error("the token is not signed with HS256")]
    Algorithm,
    /// The signature does not match.
    #[error("the token's signature is invalid")]
    Signature,
    /// Past its expiry, or not valid yet.
    #[error("the token has expired")]
    Expired,
    /// Issued for another service or by another issuer.
    #[error("the token was issued for another service")]
    Audience,
}

/// Signs and checks tokens with one key.
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { key: <secret> }")
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
}

impl Signer {
    /// A signer over `key`.
    pub fn new(key: Vec<u8>) -> Signer {
        Signer { key }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("HMAC accepts any key")
    }

    /// The signed token of `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = Header {
            alg: "HS256".into(),
            typ: "JWT".into(),
        };
        let mut out = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default()));
        let mut mac = self.mac();
        mac.update(out.as_bytes());
        let sig = mac.finalize().into_bytes();
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(sig));
        out
    }

    /// The claims of `token` once its signature, issuer, audience and times are checked.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        service: &str,
        now: i64,
    ) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| TokenError::Malformed);
        let header: Header =
            serde_json::from_slice(&decode(h)?).map_err(|_| TokenError::Malformed)?;
        if header.alg != "HS256" {
            return Err(TokenError::Algorithm);
        }
        let mut mac = self.mac();
        mac.update(&token.as_bytes()[..h.len() + 1 + c.len()]);
        mac.verify_slice(&decode(s)?)
            .map_err(|_| TokenError::Signature)?;
        let claims: Claims =
            serde_json::from_slice(&decode(c)?).map_err(|_| TokenError::Malformed)?;
        if claims.iss != issuer || claims.aud != service {
            return Err(TokenError::Audience);
        }
        if now >= claims.exp || claims.nbf > now + LEEWAY {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// A scope a client asks for: `repository:NAME:ACTIONS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The repository.
    pub name: String,
    /// The actions asked for (`*`: all).
    pub actions: Vec<Action>,
}

/// Most scopes one token request may name.
const MAX_SCOPES: usize = 64;

/// The repository scopes of `scope` parameters (each may hold several, space-separated).
/// Other scope types (`registry:catalog:*`) and malformed ones are left out: the token
/// simply does not grant them.
pub fn parse_scopes<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Scope> {
    // Merged by name, so `repository:a:pull repository:a:push` is one entry.
    let mut by_name: BTreeMap<String, Vec<Action>> = BTreeMap::new();
    for item in values.into_iter().flat_map(|v| v.split(' ')) {
        let Some(rest) = item.strip_prefix("repository:") else {
            continue;
        };
        let Some((name, actions)) = rest.rsplit_once(':') else {
            continue;
        };
        if !crate::names::valid_name(name) {
            continue;
        }
        if by_name.len() >= MAX_SCOPES && !by_name.contains_key(name) {
            continue;
        }
        let entry = by_name.entry(name.to_string()).or_default();
        for a in actions.split(',') {
            if a == "*" {
                entry.extend(Action::ALL);
            } else if let Some(a) = Action::from_name(a) {
                entry.push(a);
            }
        }
        entry.sort();
        entry.dedup();
    }
    by_name
        .into_iter()
        .map(|(name, actions)| Scope { name, actions })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "plinth".into(),
            sub: "alice".into(),
            aud: "registry".into(),
            exp,
            nbf: 1000,
            iat: 1000,
            jti: "1".into(),
            access: vec![AccessEntry {
                kind: "repository".into(),
                name: "team/app".into(),
                actions: vec!["pull".into()],
            }],
        }
    }

    #[test]
    fn a_signed_token_verifies_and_carries_its_grants() {
        let s = Signer::new(b"k".repeat(32));
        let t = s.sign(&claims(2000));
        let c = s.verify(&t, "plinth", "registry", 1500).unwrap();
        assert!(c.allows("team/app", Action::Pull));
        assert!(!c.allows("team/app", Action::Push));
        assert!(!c.allows("team/other", Action::Pull));
    }

    #[test]
    fn expired_tampered_foreign_and_unsigned_tokens_are_refused() {
        let s = Signer::new(b"k".repeat(32));
        let t = s.sign(&claims(2000));
        assert_eq!(
            s.verify(&t, "plinth", "registry", 2000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            s.verify(&t, "plinth", "other", 1500),
            Err(TokenError::Audience)
        );
        let other = Signer::new(b"x".repeat(32));
        assert_eq!(
            other.verify(&t, "plinth", "registry", 1500),
            Err(TokenError::Signature)
        );
        // The claims changed to grant push, the signature kept.
        let parts: Vec<&str> = t.split('.').collect();
        let mut forged = claims(2000);
        forged.access[0].actions.push("push".into());
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tampered = format!("{}.{body}.{}", parts[0], parts[2]);
        assert_eq!(
            s.verify(&tampered, "plinth", "registry", 1500),
            Err(TokenError::Signature)
        );
        // alg none.
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            s.verify(&format!("{none}.{}.", parts[1]), "plinth", "registry", 1500),
            Err(TokenError::Algorithm)
        );
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(
                s.verify(junk, "plinth", "registry", 1500),
                Err(TokenError::Malformed)
            );
        }
    }

    #[test]
    fn scopes_merge_by_name_and_skip_what_is_not_a_repository() {
        let s = parse_scopes([
            "repository:team/app:pull,push repository:base:*",
            "repository:team/app:delete",
            "registry:catalog:*",
            "repository:../x:pull",
            "repository:nocolon",
        ]);
        assert_eq!(
            s,
            vec![
                Scope {
                    name: "base".into(),
                    actions: Action::ALL.to_vec()
                },
                Scope {
                    name: "team/app".into(),
                    actions: Action::ALL.to_vec()
                },
            ]
        );
    }
}
