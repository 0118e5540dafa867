//! The OS release: its ecosystem key (`debian:12`, `alpine:3.20`), whether the
//! database covers it, and which binaries of a distribution are not matched at all.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use plinth_sbom::{Distro, PackageKind};

use super::ReleaseStatus;

/// The ecosystem key of an OS release: `debian:12`, `alpine:3.20`, `ubuntu:22.04`, …
/// `None` when the distro names no usable version.
pub fn release_key(distro: &Distro) -> Option<String> {
    let id = distro.id.to_ascii_lowercase();
    let version = distro.version_id.as_deref().map(str::trim).unwrap_or("");
    match id.as_str() {
        "debian" => {
            let major = version.split('.').next().unwrap_or("");
            if !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) {
                return Some(format!("debian:{major}"));
            }
            let codename = distro
                .codename
                .as_deref()
                .or_else(|| (!version.is_empty()).then_some(version))
                .map(|c| c.split('/').next().unwrap_or(c).to_ascii_lowercase())?;
            plinth_dpkg::releases::codename_number(&codename).map(|n| format!("debian:{n}"))
        }
        "alpine" => {
            let mut parts = version.split('.');
            let major = parts
                .next()
                .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))?;
            let minor: String = parts
                .next()?
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if major.is_empty() || minor.is_empty() {
                return None;
            }
            Some(format!("alpine:{major}.{minor}"))
        }
        // RPM distributions publish advisories per major release (OSV's `Rocky Linux:8`,
        // `AlmaLinux:8`, Red Hat's `rhel-8` streams): `rocky:8` for `VERSION_ID=8.10`.
        id if RPM_BY_MAJOR.contains(&id) => {
            let major = version.split('.').next().unwrap_or("");
            (!major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()))
                .then(|| format!("{id}:{major}"))
        }
        _ if !id.is_empty() && !version.is_empty() => Some(format!("{id}:{version}")),
        _ => None,
    }
}

/// `os-release` IDs of RPM distributions whose advisories are per major release.
const RPM_BY_MAJOR: &[&str] = &[
    "rhel",
    "centos",
    "rocky",
    "almalinux",
    "ol",
    "fedora",
    "amzn",
];

/// The package kind a distribution's package manager installs.
pub(super) fn os_kind(distro_id: &str) -> Option<PackageKind> {
    match distro_id.to_ascii_lowercase().as_str() {
        "debian" | "ubuntu" => Some(PackageKind::Deb),
        "alpine" | "wolfi" | "chainguard" => Some(PackageKind::Apk),
        id if RPM_BY_MAJOR.contains(&id)
            || matches!(
                id,
                "opensuse-leap" | "opensuse-tumbleweed" | "sles" | "sle-micro"
            ) =>
        {
            Some(PackageKind::Rpm)
        }
        _ => None,
    }
}

pub(super) fn release_status(
    key: &str,
    distro: &Distro,
    ecosystems: &BTreeSet<String>,
) -> (ReleaseStatus, Option<String>) {
    if ecosystems.contains(key) {
        return (ReleaseStatus::Supported, None);
    }
    let (family, version) = key.split_once(':').unwrap_or((key, ""));
    let name = distro
        .pretty_name
        .clone()
        .unwrap_or_else(|| key.to_string());
    let held: Vec<&str> = ecosystems
        .iter()
        .filter_map(|e| e.strip_prefix(family)?.strip_prefix(':'))
        .collect();
    if held.is_empty() {
        return (
            ReleaseStatus::Unsupported,
            Some(format!(
                "the vulnerability database holds no advisories for {family} \
                 (no feed for it, or none imported); {name} was not matched"
            )),
        );
    }
    let mut sorted = held.clone();
    sorted.sort_by(|a, b| release_order(a, b));
    let list = sorted.join(", ");
    if release_order(version, sorted[0]) == Ordering::Less {
        (
            ReleaseStatus::EndOfLife,
            Some(format!(
                "{name} ({key}) is end-of-life: the {family} security feed no longer covers it \
                 (it covers {list}); its packages get no security updates. Upgrade the base image."
            )),
        )
    } else {
        (
            ReleaseStatus::Unsupported,
            Some(format!(
                "{name} ({key}) is not in the vulnerability database, which covers {family} {list}"
            )),
        )
    }
}

/// Orders release versions numerically (`9` < `10` < `sid`; `3.9` < `3.20`).
pub(super) fn release_order(a: &str, b: &str) -> Ordering {
    let parse = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|p| p.parse::<u64>().unwrap_or(u64::MAX))
            .collect()
    };
    parse(a).cmp(&parse(b))
}

/// Whether a binary of source `linux` holds no kernel: anything but a kernel image or its
/// modules (`linux-image-*`, `linux-modules-*`). A container runs the host's kernel, so
/// the kernel's CVEs are not those of `linux-libc-dev`, the headers, or user-space tools
/// built from the kernel's source such as `linux-perf`, `bpftool` or `usbip`.
pub fn kernel_headers_only(binary: &str) -> bool {
    !["linux-image-", "linux-modules-"]
        .iter()
        .any(|p| binary.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_keys() {
        let d = |id: &str, v: Option<&str>, c: Option<&str>| Distro {
            id: id.into(),
            version_id: v.map(Into::into),
            codename: c.map(Into::into),
            ..Default::default()
        };
        assert_eq!(
            release_key(&d("debian", Some("12"), None)).unwrap(),
            "debian:12"
        );
        assert_eq!(
            release_key(&d("debian", Some("12.11"), None)).unwrap(),
            "debian:12"
        );
        assert_eq!(
            release_key(&d("debian", None, Some("bookworm"))).unwrap(),
            "debian:12"
        );
        assert_eq!(
            release_key(&d("debian", None, Some("trixie"))).unwrap(),
            "debian:13"
        );
        assert_eq!(
            release_key(&d("debian", None, Some("bullseye"))).unwrap(),
            "debian:11"
        );
        assert_eq!(release_key(&d("debian", None, None)), None);
        assert_eq!(
            release_key(&d("alpine", Some("3.20.3"), None)).unwrap(),
            "alpine:3.20"
        );
        assert_eq!(
            release_key(&d("alpine", Some("3.21_alpha20240807"), None)).unwrap(),
            "alpine:3.21"
        );
        assert_eq!(release_key(&d("alpine", Some("edge"), None)), None);
        assert_eq!(
            release_key(&d("rocky", Some("8.10"), None)).unwrap(),
            "rocky:8"
        );
        assert_eq!(
            release_key(&d("rhel", Some("9.4"), None)).unwrap(),
            "rhel:9"
        );
        assert_eq!(
            release_key(&d("fedora", Some("40"), None)).unwrap(),
            "fedora:40"
        );
        assert_eq!(release_key(&d("centos", None, None)), None);
        assert_eq!(os_kind("almalinux"), Some(PackageKind::Rpm));
        assert_eq!(os_kind("sles"), Some(PackageKind::Rpm));
    }
}
