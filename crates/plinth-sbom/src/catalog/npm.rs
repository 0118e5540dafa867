//! Installed npm packages: the `package.json` at the top of each package directory under
//! a `node_modules` (`node_modules/NAME/` or `node_modules/@SCOPE/NAME/`), and the
//! application's own `package.json` beside a `node_modules` directory.
//!
//! `package.json` files deeper inside a package (test fixtures, `dist/package.json`
//! holding only `{"type":"module"}`) are not packages and are not read; files without
//! a name or version are skipped.

use plinth_oci::fs::NodeKind;
use serde::Deserialize;
use serde_json::Value;

use super::{Cataloger, Context, Findings};
use crate::model::{Package, PackageKind};
use crate::purl::purl;

/// The npm cataloger: reads the `package.json` of each package under `node_modules/`, and
/// the application's own.
#[derive(Debug)]
pub struct Npm;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(path: &str) -> bool {
    path == "package.json" || path.ends_with("/package.json")
}

/// The largest `package.json` read.
pub const MAX_SIZE: usize = 4 << 20;

impl Cataloger for Npm {
    fn name(&self) -> &'static str {
        "npm"
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Findings) {
        for (path, node) in cx.fs.iter() {
            if !matches!(node.kind, NodeKind::File | NodeKind::Hardlink(_)) || !wants(path) {
                continue;
            }
            let dir = path.strip_suffix("package.json").unwrap_or("");
            let dir = dir.strip_suffix('/').unwrap_or(dir);
            let app = matches!(
                cx.fs.get(&format!("{dir}/node_modules")).map(|n| &n.kind),
                Some(NodeKind::Dir)
            );
            if !(is_package_dir(dir) || app) || cx.owned.contains(path) {
                continue;
            }
            let Some(data) = cx.fs.read(path) else {
                out.warnings
                    .push(format!("skipped `{path}`: its bytes were not kept"));
                continue;
            };
            match parse_package_json(data) {
                Ok(Some(mut p)) => {
                    p.locations = vec![path.to_string()];
                    p.layer = Some(node.layer);
                    out.packages.push(p);
                }
                Ok(None) => {}
                Err(e) => out.warnings.push(format!("skipped `{path}`: {e}")),
            }
        }
    }
}

/// Whether `dir` is `…node_modules/NAME` or `…node_modules/@SCOPE/NAME`.
fn is_package_dir(dir: &str) -> bool {
    let mut parts = dir.rsplit('/');
    let (Some(name), Some(up)) = (parts.next(), parts.next()) else {
        return false;
    };
    if name.is_empty() || name.starts_with('.') {
        return false;
    }
    if up == "node_modules" {
        return !name.starts_with('@');
    }
    up.starts_with('@') && up.len() > 1 && parts.next() == Some("node_modules")
}

#[derive(Deserialize)]
struct PackageJson {
    #[serde(default)]
    name: Value,
    #[serde(default)]
    version: Value,
    #[serde(default)]
    license: Value,
    #[serde(default)]
    licenses: Value,
}

/// Parses a `package.json`: `Ok(None)` when it has no string name or version. Fails on
/// malformed JSON, on files over [`MAX_SIZE`] and on nesting deeper than serde_json's
/// limit (128) in the fields it reads (the others are skipped without recursing). Never
/// panics, whatever the bytes.
pub fn parse_package_json(data: &[u8]) -> Result<Option<Package>, String> {
    if data.len() > MAX_SIZE {
        return Err(format!("larger than {MAX_SIZE} bytes"));
    }
    let pj: PackageJson =
        serde_json::from_slice(data).map_err(|e| format!("malformed package.json: {e}"))?;
    let (Value::String(name), Value::String(version)) = (pj.name, pj.version) else {
        return Ok(None);
    };
    let (name, version) = (name.trim().to_string(), version.trim().to_string());
    if name.is_empty() || version.is_empty() {
        return Ok(None);
    }
    let (namespace, short) = match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => (Some(scope), n),
        _ => (None, name.as_str()),
    };
    let license = license_of(&pj.license).or_else(|| match &pj.licenses {
        Value::Array(a) => {
            let all: Vec<String> = a.iter().filter_map(license_of).collect();
            (!all.is_empty()).then(|| all.join(" OR "))
        }
        other => license_of(other),
    });
    Ok(Some(Package {
        kind: Some(PackageKind::Npm),
        purl: purl(
            PackageKind::Npm.purl_type(),
            namespace,
            short,
            &version,
            &[],
        ),
        name,
        version,
        license,
        ..Package::default()
    }))
}

/// A licence as `"MIT"` or `{"type": "MIT", "url": …}`.
fn license_of(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s,
        Value::Object(o) => match o.get("type") {
            Some(Value::String(s)) => s,
            _ => return None,
        },
        _ => return None,
    };
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_names_and_licence_shapes() {
        let p = parse_package_json(
            br#"{"name":"@babel/core","version":"7.26.0","license":"MIT","dependencies":{"x":"1"}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.purl, "pkg:npm/%40babel/core@7.26.0");
        assert_eq!(p.name, "@babel/core");
        assert_eq!(p.license.as_deref(), Some("MIT"));
        let p = parse_package_json(
            br#"{"name":"old","version":"1.0.0","licenses":[{"type":"MIT"},{"type":"Apache-2.0"}]}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.license.as_deref(), Some("MIT OR Apache-2.0"));
        let p = parse_package_json(br#"{"name":"o","version":"1.0.0","license":{"type":"ISC"}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(p.license.as_deref(), Some("ISC"));
        assert_eq!(parse_package_json(br#"{"type":"module"}"#), Ok(None));
        assert_eq!(parse_package_json(br#"{"name":"x","version":3}"#), Ok(None));
        assert!(parse_package_json(b"{").is_err());
        // Unread fields are skipped without recursion, however deep; read ones are
        // bounded by serde_json's recursion limit.
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse_package_json(deep.as_bytes()), Ok(None));
        let deep = format!(
            "{{\"name\":\"x\",\"version\":\"1\",\"license\":{}1{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(parse_package_json(deep.as_bytes()).is_err());
    }

    #[test]
    fn package_directories() {
        assert!(is_package_dir("app/node_modules/express"));
        assert!(is_package_dir("node_modules/express"));
        assert!(is_package_dir("app/node_modules/@babel/core"));
        assert!(is_package_dir("a/node_modules/x/node_modules/y"));
        assert!(!is_package_dir("app/node_modules/@babel"));
        assert!(!is_package_dir("app/node_modules/express/lib"));
        assert!(!is_package_dir("app/node_modules/.bin"));
        assert!(!is_package_dir("app"));
        assert!(!is_package_dir(""));
    }
}
