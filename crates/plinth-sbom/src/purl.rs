//! Package URLs, per <https://github.com/package-url/purl-spec>.
//!
//! Written by hand: the encoding rules are a dozen lines, and the crates that implement
//! PURL parse more than they build and disagree on qualifier encoding.

/// Builds `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`. Namespace segments, name and
/// version are percent-encoded; qualifiers are sorted by key and empty values dropped.
pub fn purl(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut s = format!("pkg:{ty}/");
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        for seg in ns.split('/').filter(|s| !s.is_empty()) {
            s.push_str(&encode(seg));
            s.push('/');
        }
    }
    s.push_str(&encode(name));
    if !version.is_empty() {
        s.push('@');
        s.push_str(&encode(version));
    }
    let mut q: Vec<_> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort_by_key(|(k, _)| *k);
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(&k.to_ascii_lowercase());
        s.push('=');
        s.push_str(&encode(v));
    }
    s
}

/// Percent-encodes everything but unreserved characters (RFC 3986) and `:`, which the
/// PURL spec leaves unencoded (epochs in Debian versions stay readable: `1:2.3`).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_purl_matches_the_spec_examples() {
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "libssl3",
                "3.0.20-1~deb12u2",
                &[("distro", "debian-12"), ("arch", "amd64")]
            ),
            "pkg:deb/debian/libssl3@3.0.20-1~deb12u2?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "libc6",
                "2.36-9+deb12u9",
                &[("arch", "amd64"), ("upstream", "glibc")]
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u9?arch=amd64&upstream=glibc"
        );
        assert_eq!(
            purl("golang", Some("github.com/google"), "uuid", "v1.6.0", &[]),
            "pkg:golang/github.com/google/uuid@v1.6.0"
        );
        assert_eq!(
            purl("npm", Some("@babel"), "core", "7.0.0", &[]),
            "pkg:npm/%40babel/core@7.0.0"
        );
    }
}
