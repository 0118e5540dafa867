//! `WWW-Authenticate` challenges (RFC 7235): `Bearer realm="…",service="…",scope="…"`
//! and `Basic realm="…"`.
//!
//! Written by hand: the grammar is small (a scheme, then comma-separated `key=value` or
//! `key="quoted \" value"` pairs), and the HTTP crates in the tree do not parse it.

use std::collections::BTreeMap;

/// One authentication challenge from a `401` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// The token flow: ask `realm` for a token for `service` and `scope`.
    Bearer {
        /// The token endpoint URL.
        realm: String,
        /// The `service` parameter to pass on, when given.
        service: Option<String>,
        /// The scope the registry asked for, when given.
        scope: Option<String>,
    },
    /// HTTP Basic: send the user name and password with each request.
    Basic,
}

/// Parses the first usable challenge (Bearer preferred over Basic) in a
/// `WWW-Authenticate` header value; `None` when it holds neither, or a Bearer challenge
/// without a realm.
pub fn parse(header: &str) -> Option<Challenge> {
    let mut found = None;
    for (scheme, params) in challenges(header) {
        match scheme.to_ascii_lowercase().as_str() {
            "bearer" => {
                let realm = params.get("realm")?.clone();
                return Some(Challenge::Bearer {
                    realm,
                    service: params.get("service").cloned(),
                    scope: params.get("scope").cloned(),
                });
            }
            "basic" => found = Some(Challenge::Basic),
            _ => {}
        }
    }
    found
}

/// Splits a header value into `(scheme, params)` pairs. A new challenge starts at a
/// token that is followed by a space rather than by `=`.
fn challenges(header: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let mut out: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let b = header.as_bytes();
    let mut i = 0;
    let skip = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t' || b[*i] == b',') {
            *i += 1;
        }
    };
    loop {
        skip(&mut i);
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && !matches!(b[i], b' ' | b'\t' | b',' | b'=') {
            i += 1;
        }
        let token = header[start..i].to_string();
        // Skip spaces to see whether `=` follows.
        let mut j = i;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if j < b.len() && b[j] == b'=' && !out.is_empty() {
            // A parameter of the current challenge.
            i = j + 1;
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            let value = if i < b.len() && b[i] == b'"' {
                i += 1;
                let mut v = String::new();
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    let ch = header[i..].chars().next().expect("in bounds");
                    v.push(ch);
                    i += ch.len_utf8();
                }
                i += 1; // closing quote (or past the end)
                v
            } else {
                let s = i;
                while i < b.len() && b[i] != b',' {
                    i += 1;
                }
                header[s..i].trim().to_string()
            };
            if let Some((_, params)) = out.last_mut() {
                params.insert(token.to_ascii_lowercase(), value);
            }
        } else if token.is_empty() {
            i += 1;
        } else {
            out.push((token, BTreeMap::new()));
            i = j;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(realm: &str, service: Option<&str>, scope: Option<&str>) -> Challenge {
        Challenge::Bearer {
            realm: realm.into(),
            service: service.map(Into::into),
            scope: scope.map(Into::into),
        }
    }

    #[test]
    fn challenges_parse_as_registries_send_them() {
        // Docker Hub.
        assert_eq!(
            parse(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#
            ),
            Some(bearer(
                "https://auth.docker.io/token",
                Some("registry.docker.io"),
                Some("repository:library/alpine:pull")
            ))
        );
        // Two actions in a scope hold a comma inside quotes; spaces after commas.
        assert_eq!(
            parse(
                r#"Bearer realm="http://127.0.0.1:1/t", scope="repository:a/b:pull,push", service="reg""#
            ),
            Some(bearer(
                "http://127.0.0.1:1/t",
                Some("reg"),
                Some("repository:a/b:pull,push")
            ))
        );
        // Scheme case, unquoted values, escaped quotes.
        assert_eq!(
            parse(r#"bearer realm=https://x.example/token,service="a\"b""#),
            Some(bearer("https://x.example/token", Some("a\"b"), None))
        );
        assert_eq!(
            parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        // Several challenges: Bearer wins wherever it is.
        assert_eq!(
            parse(r#"Basic realm="x", Bearer realm="https://t.example/""#),
            Some(bearer("https://t.example/", None, None))
        );
        // Nothing usable.
        assert_eq!(parse(r#"Bearer service="x""#), None);
        assert_eq!(parse("Negotiate"), None);
        assert_eq!(parse(""), None);
        assert_eq!(
            parse(r#"Bearer realm="unterminated"#),
            Some(bearer("unterminated", None, None))
        );
    }
}
