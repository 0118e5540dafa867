//! Platforms as users and configs write them: `os/arch[/variant]`.
//!
//! [`Platform::parse`] checks a platform an image is built for (Linux, a known
//! architecture, a variant that exists for it); [`platform_matches`] answers whether an
//! image's platform is the one a user asked for, the way `--platform` is written.

use std::fmt;

/// A platform as `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// Operating system (`linux`).
    pub os: String,
    /// Architecture in OCI (Go) spelling, one of [`ARCHES`] (`amd64`, `arm64`, …).
    pub arch: String,
    /// CPU variant (`v7`, `v8`), `None` when the platform names none.
    pub variant: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The architectures images are built for, in OCI (Go) spelling.
pub const ARCHES: &[&str] = &[
    "amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64",
];

impl Platform {
    /// Parses `linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`.
    pub fn parse(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, v] => (*os, *arch, Some(*v)),
            _ => {
                return Err(format!(
                    "`{s}` is not a platform: expected `os/arch` or `os/arch/variant`"
                ));
            }
        };
        if os != "linux" {
            return Err(format!(
                "unsupported os `{os}` in `{s}`: only `linux` images are built"
            ));
        }
        if !ARCHES.contains(&arch) {
            return Err(format!(
                "unknown architecture `{arch}` in `{s}` (known: {})",
                ARCHES.join(", ")
            ));
        }
        if let Some(v) = variant {
            let ok = match arch {
                "arm" => ["v5", "v6", "v7"].contains(&v),
                "arm64" => v == "v8",
                _ => false,
            };
            if !ok {
                return Err(format!(
                    "variant `{v}` does not exist for architecture `{arch}`"
                ));
            }
        }
        Ok(Platform {
            os: os.into(),
            arch: arch.into(),
            variant: variant.map(|v| v.to_string()),
        })
    }
}

/// Whether an image's platform `have` (`os/arch[/variant]`) is the one a user asked for:
/// the whole platform, the architecture alone (`arm64`), or `os/arch` without the variant.
pub fn platform_matches(have: &str, want: &str) -> bool {
    have == want
        || have.split('/').nth(1) == Some(want)
        || have
            .strip_prefix(want)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The platform this machine runs, as [`platform_matches`] takes it: `linux/amd64` and
/// `linux/arm64` on the usual hosts, else the bare architecture.
pub fn host_platform() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "linux/amd64",
        "aarch64" => "linux/arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_parsing() {
        assert!(Platform::parse("linux/arm64/v8").is_ok());
        assert!(Platform::parse("linux/arm/v7").is_ok());
        assert!(Platform::parse("linux/amd64/v7").is_err());
        assert!(Platform::parse("windows/amd64").is_err());
        assert!(Platform::parse("linux").is_err());
        assert_eq!(
            Platform::parse("linux/arm/v7").unwrap().to_string(),
            "linux/arm/v7"
        );
    }

    #[test]
    fn platforms_match_the_way_users_write_them() {
        assert!(platform_matches("linux/arm64/v8", "linux/arm64/v8"));
        assert!(platform_matches("linux/arm64/v8", "linux/arm64"));
        assert!(platform_matches("linux/arm64/v8", "arm64"));
        assert!(!platform_matches("linux/arm64/v8", "linux/arm"));
        assert!(!platform_matches("linux/amd64", "arm64"));
    }
}
