//! Image facts: the hardening questions users ask of a base image, and the `check`
//! policy that turns them into pass/fail rules.

use std::collections::BTreeMap;

use plinth_oci::{ImageFs, NodeKind};
use serde::{Deserialize, Serialize};

use crate::model::PackageKind;
use crate::{Sbom, Subject};

/// Whether the reader should keep the bytes of `path` for the facts.
pub fn wants(path: &str) -> bool {
    matches!(path, "etc/passwd" | "etc/group")
}

const SHELLS: &[&str] = &[
    "bin/sh",
    "usr/bin/sh",
    "bin/bash",
    "usr/bin/bash",
    "bin/dash",
    "usr/bin/dash",
    "bin/ash",
    "usr/bin/ash",
    "bin/zsh",
    "usr/bin/zsh",
    "bin/ksh",
    "usr/bin/ksh",
    "bin/busybox",
    "usr/bin/busybox",
    "sbin/busybox",
];
const PACKAGE_MANAGERS: &[(&str, &[&str])] = &[
    ("apt", &["usr/bin/apt", "usr/bin/apt-get"]),
    ("dpkg", &["usr/bin/dpkg", "sbin/dpkg"]),
    ("apk", &["sbin/apk", "usr/bin/apk", "bin/apk"]),
    ("rpm", &["usr/bin/rpm", "bin/rpm"]),
    ("dnf", &["usr/bin/dnf", "usr/bin/microdnf"]),
    ("yum", &["usr/bin/yum"]),
];
const NETWORK_TOOLS: &[&str] = &[
    "usr/bin/wget",
    "bin/wget",
    "usr/bin/curl",
    "bin/curl",
    "usr/bin/nc",
    "bin/nc",
    "usr/bin/ncat",
    "usr/bin/netcat",
    "bin/netcat",
];
const CA_BUNDLES: &[&str] = &[
    "etc/ssl/certs/ca-certificates.crt",
    "etc/pki/tls/certs/ca-bundle.crt",
    "etc/ssl/cert.pem",
    "etc/ssl/ca-bundle.pem",
];
/// Where world-writable paths are expected by default.
pub const DEFAULT_WRITABLE_ALLOW: &[&str] = &["tmp", "var/tmp", "var/lock", "dev/shm", "run/lock"];

/// Everything `compare` shows for one image.
#[derive(Clone, Debug, Serialize)]
pub struct Facts {
    /// The name the user gave the subject.
    pub name: String,
    /// The manifest digest, for images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `os/arch[/variant]`, for images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Bytes as stored (compressed layers, or the tarball), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compressed_size: Option<u64>,
    /// Bytes of the regular files in the squashed filesystem.
    pub uncompressed_size: u64,
    /// Number of layers (1 for a root filesystem).
    pub layers: usize,
    /// Number of entries in the squashed filesystem other than directories.
    pub files: usize,
    /// `PRETTY_NAME`, else `ID VERSION_ID`; `None` when no OS was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Packages per kind (`deb`, `apk`, `go`, …); only kinds with packages.
    pub packages: BTreeMap<String, usize>,
    /// Number of packages of every kind.
    pub packages_total: usize,
    /// Shells found (paths, with the symlink target when it is one).
    pub shells: Vec<String>,
    /// Package managers found: `apt`, `dpkg`, `apk`, `rpm`, ….
    pub package_managers: Vec<String>,
    /// Network tools found (`wget`, `curl`, `nc`, …): paths, with the symlink target when
    /// it is one.
    pub network_tools: Vec<String>,
    /// The configured user (`User` in the config), empty when unset.
    pub user: String,
    /// Whether processes run as root (unset user, `root`, `0`, or a name with uid 0).
    pub runs_as_root: bool,
    /// Files with the setuid or setgid bit, as `/path (setuid, 4755)`.
    pub setuid_files: Vec<String>,
    /// World-writable paths outside the allowed ones (sticky dirs included).
    pub world_writable: Vec<String>,
    /// The first CA bundle found, as an absolute path; `None` when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    /// Whether time zone data is present (`usr/share/zoneinfo/`).
    pub timezone_data: bool,
    /// `glibc`, `musl` or `none`.
    pub libc: String,
    /// The SBOM's warnings: what was skipped while cataloguing and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Computes the facts of an opened subject and its SBOM.
pub fn facts(subject: &Subject, sbom: &Sbom) -> Facts {
    facts_with(subject, sbom, DEFAULT_WRITABLE_ALLOW)
}

/// Like [`facts`], with world-writable entries allowed under `writable_allow` (paths
/// without a leading `/`) instead of [`DEFAULT_WRITABLE_ALLOW`].
pub fn facts_with(subject: &Subject, sbom: &Sbom, writable_allow: &[&str]) -> Facts {
    let fs = &subject.fs;
    let exists = |p: &str| fs.resolve(p).is_some_and(|r| !r.is_empty());
    let describe = |p: &str| -> String {
        match fs.get(p).map(|n| &n.kind) {
            Some(NodeKind::Symlink(t)) => format!("/{p} -> {t}"),
            _ => format!("/{p}"),
        }
    };
    let shells: Vec<String> = SHELLS
        .iter()
        .filter(|p| exists(p))
        .map(|p| describe(p))
        .collect();
    let package_managers: Vec<String> = PACKAGE_MANAGERS
        .iter()
        .filter(|(_, paths)| paths.iter().any(|p| exists(p)))
        .map(|(n, _)| n.to_string())
        .collect();
    let network_tools: Vec<String> = NETWORK_TOOLS
        .iter()
        .filter(|p| exists(p))
        .map(|p| describe(p))
        .collect();
    let user = subject
        .image
        .as_ref()
        .and_then(|i| i.config.config().as_ref().and_then(|c| c.user().clone()))
        .unwrap_or_default();
    let runs_as_root = runs_as_root(fs, &user, subject.image.is_some());
    let mut setuid_files = Vec::new();
    let mut world_writable = Vec::new();
    for (path, node) in fs.iter() {
        if matches!(node.kind, NodeKind::Symlink(_)) {
            continue;
        }
        if node.kind == NodeKind::File && node.mode & 0o6000 != 0 {
            let what = match node.mode & 0o6000 {
                0o6000 => "setuid+setgid",
                0o4000 => "setuid",
                _ => "setgid",
            };
            setuid_files.push(format!("/{path} ({what}, {:04o})", node.mode));
        }
        if node.mode & 0o002 != 0
            && matches!(node.kind, NodeKind::File | NodeKind::Dir)
            && !writable_allow
                .iter()
                .any(|a| path == *a || path.starts_with(&format!("{a}/")))
        {
            world_writable.push(format!("/{path}"));
        }
    }
    let ca_bundle = CA_BUNDLES
        .iter()
        .find(|p| exists(p))
        .map(|p| format!("/{p}"));
    let timezone_data = ["usr/share/zoneinfo/UTC", "usr/share/zoneinfo/Etc/UTC"]
        .iter()
        .any(|p| exists(p))
        || fs.iter().any(|(p, _)| p.starts_with("usr/share/zoneinfo/"));
    let libc = detect_libc(fs);
    let mut packages = BTreeMap::new();
    for k in PackageKind::ALL {
        let n = sbom.count(k);
        if n > 0 {
            packages.insert(k.as_str().to_string(), n);
        }
    }
    let os = sbom.distro.as_ref().map(|d| {
        d.pretty_name.clone().unwrap_or_else(|| {
            format!("{} {}", d.id, d.version_id.as_deref().unwrap_or(""))
                .trim()
                .to_string()
        })
    });
    Facts {
        name: subject.reference.clone(),
        digest: subject.digest(),
        platform: subject.platform(),
        compressed_size: subject.stored_size,
        uncompressed_size: fs.file_bytes(),
        layers: subject
            .layers
            .len()
            .max(usize::from(subject.image.is_none())),
        files: fs.iter().filter(|(_, n)| n.kind != NodeKind::Dir).count(),
        os,
        packages_total: sbom.packages.len(),
        packages,
        shells,
        package_managers,
        network_tools,
        user,
        runs_as_root,
        setuid_files,
        world_writable,
        ca_bundle,
        timezone_data,
        libc,
        warnings: sbom.warnings.clone(),
    }
}

/// Resolves `user` (`name`, `uid`, `name:group`, `uid:gid`) against `/etc/passwd`.
fn runs_as_root(fs: &ImageFs, user: &str, is_image: bool) -> bool {
    if !is_image {
        // A bare root filesystem has no configured user: a runtime starts it as root.
        return true;
    }
    let name = user.split(':').next().unwrap_or("").trim();
    if name.is_empty() || name == "root" {
        return true;
    }
    if let Ok(uid) = name.parse::<u64>() {
        return uid == 0;
    }
    let Some(passwd) = fs.read("etc/passwd") else {
        // An unknown name makes the runtime fail to start; it does not run as root.
        return false;
    };
    String::from_utf8_lossy(passwd).lines().any(|l| {
        let mut f = l.split(':');
        f.next() == Some(name) && f.nth(1) == Some("0")
    })
}

fn detect_libc(fs: &ImageFs) -> String {
    let mut glibc = false;
    let mut musl = false;
    for (p, _) in fs.iter() {
        let base = p.rsplit('/').next().unwrap_or(p);
        let in_lib = p.starts_with("lib") || p.starts_with("usr/lib");
        if !in_lib {
            continue;
        }
        if base.starts_with("ld-musl-") || base == "libc.musl-x86_64.so.1" {
            musl = true;
        }
        if base == "libc.so.6" || base.starts_with("ld-linux") {
            glibc = true;
        }
    }
    match (glibc, musl) {
        (true, true) => "glibc+musl",
        (true, false) => "glibc",
        (false, true) => "musl",
        _ => "none",
    }
    .to_string()
}

/// The `check` policy: each rule can be switched off in a small TOML file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Policy {
    /// `non-root`: the image must not run as root.
    #[serde(default = "yes")]
    pub non_root: bool,
    /// `no-shell`: no shell may be present.
    #[serde(default = "yes")]
    pub no_shell: bool,
    /// `no-package-manager`: no package manager may be present.
    #[serde(default = "yes")]
    pub no_package_manager: bool,
    /// `no-setuid`: no setuid or setgid file may be present.
    #[serde(default = "yes")]
    pub no_setuid: bool,
    /// `no-world-writable`: nothing world-writable outside `world_writable_allow`.
    #[serde(default = "yes")]
    pub no_world_writable: bool,
    /// `no-network-tools`: no `wget`, `curl`, `nc` or the like (off by default).
    #[serde(default)]
    pub no_network_tools: bool,
    /// Paths (no leading `/`) where world-writable entries are allowed.
    #[serde(default = "default_allow")]
    pub world_writable_allow: Vec<String>,
}

fn yes() -> bool {
    true
}

fn default_allow() -> Vec<String> {
    DEFAULT_WRITABLE_ALLOW
        .iter()
        .map(|s| s.to_string())
        .collect()
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            non_root: true,
            no_shell: true,
            no_package_manager: true,
            no_setuid: true,
            no_world_writable: true,
            no_network_tools: false,
            world_writable_allow: default_allow(),
        }
    }
}

/// One rule's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct RuleResult {
    /// The rule's name, as in the policy file (`non-root`, `no-shell`, …).
    pub rule: &'static str,
    /// Whether nothing broke the rule.
    pub passed: bool,
    /// What was found (empty when the rule passed).
    pub details: Vec<String>,
}

impl Policy {
    /// Evaluates the enabled rules against `facts`, in a fixed order.
    pub fn evaluate(&self, f: &Facts) -> Vec<RuleResult> {
        let mut out = Vec::new();
        let mut rule = |enabled: bool, rule: &'static str, details: Vec<String>| {
            if enabled {
                out.push(RuleResult {
                    rule,
                    passed: details.is_empty(),
                    details,
                });
            }
        };
        rule(
            self.non_root,
            "non-root",
            if f.runs_as_root {
                vec![if f.user.is_empty() {
                    "no user is configured: the container runs as root".to_string()
                } else {
                    format!("user `{}` is root", f.user)
                }]
            } else {
                vec![]
            },
        );
        rule(self.no_shell, "no-shell", f.shells.clone());
        rule(
            self.no_package_manager,
            "no-package-manager",
            f.package_managers.clone(),
        );
        rule(self.no_setuid, "no-setuid", f.setuid_files.clone());
        rule(
            self.no_world_writable,
            "no-world-writable",
            f.world_writable.clone(),
        );
        rule(
            self.no_network_tools,
            "no-network-tools",
            f.network_tools.clone(),
        );
        out
    }
}
