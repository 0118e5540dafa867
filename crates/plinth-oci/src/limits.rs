//! The bounds every reader of untrusted images keeps, and how a user raises them.
//!
//! The defaults are far above any real base image and far below what would exhaust a
//! machine. A user with a legitimately larger image raises them with the environment
//! variable `PLINTH_LIMITS`, a comma-separated list of `key=value` (sizes take `KiB`,
//! `MiB`, `GiB` or `TiB`):
//!
//! ```text
//! PLINTH_LIMITS="layer-size=64GiB,uncompressed=64GiB,files=5000000" plinth sbom big.tar
//! ```
//!
//! The bounds that mirror the kernel's (`PATH_MAX` for paths and link targets, 40
//! symlink hops) and the 1 MiB cap on tar metadata records (as Go's `archive/tar`) are not
//! raisable: no image that a runtime can unpack exceeds them.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The raisable bounds; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest JSON document (index, manifest, config, `manifest.json`), in bytes.
    pub json: u64,
    /// Largest layer blob as stored (compressed), in bytes.
    pub layer_size: u64,
    /// Most uncompressed bytes in one layer, and across all the layers of an image.
    pub uncompressed: u64,
    /// Most files (tar entries) across all the layers of an image.
    pub files: usize,
    /// Most entries in an image archive (oci-archive, docker-archive).
    pub archive_entries: usize,
    /// Most manifests and indexes visited from one image's index.
    pub manifests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            json: 8 << 20,
            layer_size: 32 << 30,
            uncompressed: 16 << 30,
            files: 1_000_000,
            archive_entries: 100_000,
            manifests: 10_000,
        }
    }
}

/// The keys `PLINTH_LIMITS` takes, with what each bounds (for messages and docs).
pub const KEYS: &[(&str, &str)] = &[
    ("json", "largest JSON document"),
    ("layer-size", "largest stored layer"),
    (
        "uncompressed",
        "most uncompressed bytes per layer and per image",
    ),
    ("files", "most files per image"),
    ("archive-entries", "most entries in an image archive"),
    ("manifests", "most manifests and indexes per image"),
];

impl Limits {
    /// Parses `PLINTH_LIMITS`'s syntax on top of the defaults.
    pub fn parse(spec: &str) -> Result<Limits> {
        let mut l = Limits::default();
        let bad = |reason: String| Error::Invalid {
            what: "PLINTH_LIMITS".into(),
            reason,
        };
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| bad(format!("`{item}` is not KEY=VALUE")))?;
            let n = parse_size(value.trim())
                .ok_or_else(|| bad(format!("`{value}` is not a size (like 64GiB or 5000000)")))?;
            let count = || usize::try_from(n).map_err(|_| bad(format!("{n} is too large")));
            match key.trim() {
                "json" => l.json = n,
                "layer-size" => l.layer_size = n,
                "uncompressed" => l.uncompressed = n,
                "files" => l.files = count()?,
                "archive-entries" => l.archive_entries = count()?,
                "manifests" => l.manifests = count()?,
                other => {
                    let keys: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
                    return Err(bad(format!(
                        "unknown key `{other}`; the keys are {}",
                        keys.join(", ")
                    )));
                }
            }
        }
        Ok(l)
    }

    /// The limits `PLINTH_LIMITS` sets (the defaults when it is unset).
    pub fn from_env() -> Result<Limits> {
        match std::env::var("PLINTH_LIMITS") {
            Ok(spec) => Limits::parse(&spec),
            Err(_) => Ok(Limits::default()),
        }
    }
}

static LIMITS: OnceLock<Limits> = OnceLock::new();

/// Reads `PLINTH_LIMITS` once, so that a mistake in it is an error the program reports
/// at its start rather than a silent default; [`limits`] then returns what it set.
pub fn init_from_env() -> Result<&'static Limits> {
    let l = Limits::from_env()?;
    Ok(LIMITS.get_or_init(|| l))
}

/// The limits in force: what [`init_from_env`] read, or else `PLINTH_LIMITS` (the
/// defaults where it is unset or does not parse).
pub fn limits() -> &'static Limits {
    LIMITS.get_or_init(|| Limits::from_env().unwrap_or_default())
}

fn parse_size(s: &str) -> Option<u64> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" | "K" => 10,
        "MiB" | "M" => 20,
        "GiB" | "G" => 30,
        "TiB" | "T" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plinth_limits_raises_what_it_names() {
        let l = Limits::parse("layer-size=64GiB, uncompressed=100GiB,files=5000000").unwrap();
        assert_eq!(l.layer_size, 64 << 30);
        assert_eq!(l.uncompressed, 100 << 30);
        assert_eq!(l.files, 5_000_000);
        assert_eq!(l.json, Limits::default().json);
        assert_eq!(Limits::parse("").unwrap(), Limits::default());
    }

    #[test]
    fn mistakes_in_plinth_limits_are_named() {
        for (spec, says) in [
            ("files", "is not KEY=VALUE"),
            ("files=lots", "`lots` is not a size"),
            ("layers=3", "unknown key `layers`"),
            ("json=99999999999TiB", "is not a size"),
        ] {
            let err = Limits::parse(spec).unwrap_err().to_string();
            assert!(err.contains(says), "{spec}: {err}");
        }
    }
}
