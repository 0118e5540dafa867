//! SBOM writers.
//!
//! [`write()`] renders an [`Sbom`] as SPDX 2.3 JSON, CycloneDX 1.6 JSON, a plain-text
//! table or Plinth's own JSON. Every writer is deterministic: the same `Sbom` and
//! [`WriteOptions`] give the same bytes (fixed field order, no hash-map iteration, no
//! clock, no random ids: SPDX's document namespace and CycloneDX's serial number are
//! UUIDs made from a SHA-256 of the content).

pub mod cyclonedx;
pub mod json;
pub mod license;
pub mod spdx;
pub mod table;

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::Sbom;

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// SPDX 2.3, JSON (`spdx-json`).
    SpdxJson,
    /// CycloneDX 1.6, JSON (`cyclonedx-json`).
    CycloneDxJson,
    /// A plain-text table for people (`table`).
    Table,
    /// The [`Sbom`] as Plinth's own JSON (`json`; `plinth-json` is kept as an alias).
    PlinthJson,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 4] = [
        Format::SpdxJson,
        Format::CycloneDxJson,
        Format::Table,
        Format::PlinthJson,
    ];

    /// The name [`FromStr`] accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::SpdxJson => "spdx-json",
            Format::CycloneDxJson => "cyclonedx-json",
            Format::Table => "table",
            Format::PlinthJson => "json",
        }
    }

    /// Other names [`FromStr`] accepts for the same format: the spellings of earlier
    /// versions and of the other commands (`scan -f cyclonedx`).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Format::SpdxJson => &[],
            Format::CycloneDxJson => &["cyclonedx", "cdx-json"],
            Format::Table => &[],
            Format::PlinthJson => &["plinth-json"],
        }
    }

    /// The conventional file-name suffix.
    pub fn extension(self) -> &'static str {
        match self {
            Format::SpdxJson => ".spdx.json",
            Format::CycloneDxJson => ".cdx.json",
            Format::Table => ".txt",
            Format::PlinthJson => ".plinth.json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name [`Format::from_str`] does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown SBOM format `{}` (expected one of: ", self.0)?;
        for (i, fmt) in Format::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(fmt.as_str())?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s || f.aliases().contains(&s))
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// What the writers need besides the [`Sbom`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// The creation time, Unix seconds. `None`: no timestamp where the format allows
    /// (CycloneDX, table, Plinth JSON); SPDX requires one and gets
    /// `1970-01-01T00:00:00Z`.
    pub created: Option<i64>,
    /// Plinth's version, for the creator/tool fields (empty: none given).
    pub tool_version: String,
}

/// Renders `sbom` as `format`. JSON formats end with a newline.
pub fn write(sbom: &Sbom, format: Format, opts: &WriteOptions) -> Vec<u8> {
    match format {
        Format::SpdxJson => spdx::write(sbom, opts),
        Format::CycloneDxJson => cyclonedx::write(sbom, opts),
        Format::Table => table::write(sbom, opts),
        Format::PlinthJson => json::write(sbom, opts),
    }
}

/// `plinth-<version>`, or `plinth` without one.
fn tool_name(opts: &WriteOptions) -> String {
    if opts.tool_version.is_empty() {
        "plinth".into()
    } else {
        format!("plinth-{}", opts.tool_version)
    }
}

/// A UUID (RFC 9562 layout, version 5 bits, variant 10) from the SHA-256 of the
/// `Sbom`'s content, the options and a `domain` that keeps formats apart. Not a true
/// v5 UUID (that is SHA-1 of a namespace and name), but the same idea: a name-based id.
pub(crate) fn content_uuid(domain: &str, sbom: &Sbom, opts: &WriteOptions) -> String {
    let mut h = Sha256::new();
    h.update(b"plinth-sbom\0");
    h.update(domain.as_bytes());
    h.update(b"\0");
    // Serialising the model cannot fail (strings, integers, vectors and B-tree maps).
    h.update(serde_json::to_vec(sbom).unwrap_or_default());
    h.update(b"\0");
    h.update(opts.tool_version.as_bytes());
    h.update(b"\0");
    if let Some(t) = opts.created {
        h.update(t.to_be_bytes());
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

pub(crate) use plinth_core::date::format_rfc3339 as rfc3339;

/// The hex of a `sha256:` digest, when it is one.
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Serialises `value` as pretty JSON followed by a newline.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // The writers' documents are plain structs of strings: serialisation cannot fail.
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.as_str());
        }
        // The one vocabulary of every command, with the old spellings as aliases.
        assert_eq!("plinth-json".parse::<Format>(), Ok(Format::PlinthJson));
        assert_eq!("cyclonedx".parse::<Format>(), Ok(Format::CycloneDxJson));
        // `spdx` alone could mean SPDX's tag-value form, which Plinth does not write.
        let e = "spdx".parse::<Format>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown SBOM format `spdx` (expected one of: spdx-json, cyclonedx-json, table, json)"
        );
    }

    #[test]
    fn uuid_is_stable_and_versioned() {
        let sbom = Sbom {
            name: "x".into(),
            ..Sbom::default()
        };
        let o = WriteOptions::default();
        let a = content_uuid("spdx", &sbom, &o);
        assert_eq!(a, content_uuid("spdx", &sbom, &o));
        assert_ne!(a, content_uuid("cyclonedx", &sbom, &o));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn sha256_digests() {
        let h = "a".repeat(64);
        assert_eq!(sha256_hex(&format!("sha256:{h}")), Some(h.as_str()));
        assert_eq!(sha256_hex("sha256:abc"), None);
        assert_eq!(sha256_hex(&format!("sha512:{h}")), None);
    }
}
