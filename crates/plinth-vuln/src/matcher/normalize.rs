//! Names and versions as the feeds write them: PEP 503 names, Go versions as OSV's.

/// PEP 503: lower case, runs of `-`, `_`, `.` as one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A Go module or toolchain version as OSV writes it: no `v`/`go` prefix, `1.21` as
/// `1.21.0`, `go1.21rc2` as `1.21.0-rc.2`. `None` for `(devel)` and empty versions.
pub fn normalize_go_version(v: &str) -> Option<String> {
    let v = v.trim();
    if v.is_empty() || v.starts_with('(') {
        return None;
    }
    let toolchain = v.starts_with("go");
    let v = v
        .strip_prefix("go")
        .or_else(|| v.strip_prefix('v'))
        .unwrap_or(v);
    if !toolchain {
        return Some(v.to_string());
    }
    // go1.21rc2, go1.20beta1, go1.21, go1.21.3
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let (num, pre) = v.split_at(split);
    let mut parts: Vec<&str> = num.split('.').collect();
    while parts.len() < 3 {
        parts.push("0");
    }
    let mut out = parts.join(".");
    if !pre.is_empty() {
        let digits = pre.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let word = &pre[..pre.len() - digits.len()];
        out.push('-');
        out.push_str(word);
        if !digits.is_empty() {
            out.push('.');
            out.push_str(digits);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_versions_normalise_like_osv() {
        assert_eq!(normalize_go_version("go1.19.8").unwrap(), "1.19.8");
        assert_eq!(normalize_go_version("v1.19.8").unwrap(), "1.19.8");
        assert_eq!(normalize_go_version("go1.21").unwrap(), "1.21.0");
        assert_eq!(normalize_go_version("go1.21rc2").unwrap(), "1.21.0-rc.2");
        assert_eq!(
            normalize_go_version("v0.0.0-20220101-abcdef").unwrap(),
            "0.0.0-20220101-abcdef"
        );
        assert_eq!(normalize_go_version("(devel)"), None);
    }

    #[test]
    fn pep503_names() {
        assert_eq!(pep503("Django"), "django");
        assert_eq!(pep503("zope.interface"), "zope-interface");
        assert_eq!(pep503("typing__extensions"), "typing-extensions");
    }
}
