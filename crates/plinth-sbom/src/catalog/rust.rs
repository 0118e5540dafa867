//! Rust crates compiled into binaries built with `cargo auditable`.
//!
//! cargo-auditable links a section `.dep-v0` holding zlib-compressed JSON:
//! `{"packages":[{"name","version","source","kind","dependencies":[indices],"root"}]}`
//! (`kind` is absent for runtime dependencies and `"build"` for build-time ones; `root`
//! marks the crate that was built). Every package is reported, the root included, as
//! syft does; build-time ones carry `cargo.kind = build` in their metadata.

use std::collections::BTreeMap;
use std::io::Read;

use object::{Object, ObjectSection};
use serde::Deserialize;

use super::golang::{ElfError, elf_files};
use super::{Cataloger, Context, Findings};
use crate::model::{Package, PackageKind};
use crate::purl::purl;

/// The Rust cataloger: reads the cargo-auditable `.dep-v0` section of every ELF executable.
#[derive(Debug)]
pub struct CargoAuditable;

/// Whether the reader should keep the bytes of `path` for this cataloger. Rust binaries
/// are executables, which the reader keeps anyway when they are ELF.
pub fn wants(_path: &str) -> bool {
    false
}

impl Cataloger for CargoAuditable {
    fn name(&self) -> &'static str {
        "rust"
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Findings) {
        for (path, node, data) in elf_files(cx) {
            match cargo_packages(data) {
                Ok(pkgs) => {
                    for mut p in pkgs {
                        p.locations = vec![path.to_string()];
                        p.layer = Some(node.layer);
                        out.packages.push(p);
                    }
                }
                // The Go cataloger already warned about unreadable ELF files.
                Err(ElfError::NotElf(_)) => {}
                Err(ElfError::Data(e)) => out
                    .warnings
                    .push(format!("skipped the cargo-auditable data of `{path}`: {e}")),
            }
        }
    }
}

/// The most bytes the decompressed dependency list may take.
pub const MAX_JSON: u64 = 8 << 20;

/// The crates listed in an ELF binary's `.dep-v0` section: empty when it has none.
/// Never panics, whatever the bytes; allocation is bounded by the input and [`MAX_JSON`].
pub fn parse_elf(data: &[u8]) -> Result<Vec<Package>, String> {
    cargo_packages(data).map_err(|e| e.to_string())
}

fn cargo_packages(data: &[u8]) -> Result<Vec<Package>, ElfError> {
    if !data.starts_with(b"\x7fELF") {
        return Err(ElfError::NotElf("no ELF magic".into()));
    }
    let file = object::File::parse(data).map_err(|e| ElfError::NotElf(e.to_string()))?;
    let Some(section) = file.section_by_name(".dep-v0") else {
        return Ok(Vec::new());
    };
    let compressed = section.data().map_err(|e| ElfError::Data(e.to_string()))?;
    parse_dep_v0(compressed).map_err(ElfError::Data)
}

/// Decompresses and parses the contents of a `.dep-v0` section.
pub fn parse_dep_v0(compressed: &[u8]) -> Result<Vec<Package>, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("cannot decompress: {e}"))?;
    if json.len() as u64 > MAX_JSON {
        return Err(format!("decompresses to more than {MAX_JSON} bytes"));
    }
    parse_json(&json)
}

#[derive(Deserialize)]
struct VersionInfo {
    packages: Vec<Crate>,
}

#[derive(Deserialize)]
struct Crate {
    name: String,
    version: String,
    #[serde(default)]
    source: serde_json::Value,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    root: bool,
}

/// Parses the (decompressed) cargo-auditable JSON.
pub fn parse_json(json: &[u8]) -> Result<Vec<Package>, String> {
    let info: VersionInfo =
        serde_json::from_slice(json).map_err(|e| format!("malformed dependency list: {e}"))?;
    Ok(info
        .packages
        .into_iter()
        .filter(|c| !c.name.is_empty())
        .map(|c| {
            let mut metadata = BTreeMap::new();
            let source = match &c.source {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            };
            if let Some(s) = source {
                metadata.insert("cargo.source".to_string(), s);
            }
            if let Some(k) = c.kind.filter(|k| k != "runtime") {
                metadata.insert("cargo.kind".to_string(), k);
            }
            if c.root {
                metadata.insert("cargo.root".to_string(), "true".to_string());
            }
            Package {
                kind: Some(PackageKind::Cargo),
                purl: purl(
                    PackageKind::Cargo.purl_type(),
                    None,
                    &c.name,
                    &c.version,
                    &[],
                ),
                name: c.name,
                version: c.version,
                metadata,
                ..Package::default()
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn json_with_build_deps_and_root() {
        let json = br#"{"packages":[
            {"name":"hello","version":"0.1.0","source":"local","dependencies":[1,2],"root":true},
            {"name":"itoa","version":"1.0.19","source":"crates.io"},
            {"name":"cc","version":"1.2.0","source":"crates.io","kind":"build"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).unwrap();
        let pkgs = parse_dep_v0(&z.finish().unwrap()).unwrap();
        let purls: Vec<&str> = pkgs.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:cargo/hello@0.1.0",
                "pkg:cargo/itoa@1.0.19",
                "pkg:cargo/cc@1.2.0"
            ]
        );
        assert_eq!(pkgs[0].metadata["cargo.root"], "true");
        assert_eq!(pkgs[1].metadata["cargo.source"], "crates.io");
        assert_eq!(pkgs[2].metadata["cargo.kind"], "build");
        assert!(!pkgs[1].metadata.contains_key("cargo.kind"));
    }

    #[test]
    fn decompression_is_bounded() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..9 {
            z.write_all(&zeros).unwrap();
        }
        let err = parse_dep_v0(&z.finish().unwrap()).unwrap_err();
        assert!(err.contains("more than"), "{err}");
    }
}
