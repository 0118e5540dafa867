//! Whole Debian systems (the `slim` and `full` profiles): a root file system that dpkg
//! itself installs, maintainer scripts and triggers run, as `mmdebstrap` and
//! debootstrap make it, then normalised so that two builds give the same bytes.
//!
//! The steps, and where each comes from:
//! 1. the `Essential: yes` packages are unpacked into an empty root by Plinth (dpkg
//!    is one of them and cannot run before it exists), as mmdebstrap's `extract` step;
//! 2. in a private mount namespace and a chroot ([`plinth_sandbox::Chroot`]), the
//!    root's own dpkg installs them again, properly (`dpkg --install --force-depends`:
//!    dpkg does not order Pre-Depends inside one call, mmdebstrap's `essential` step),
//!    then every other package in one `dpkg --install`, which configures them in
//!    dependency order and runs the triggers; `policy-rc.d` refuses every service
//!    start, `SOURCE_DATE_EPOCH` is set;
//! 3. what installing leaves that differs from build to build or machine to machine is
//!    removed or reset, as debuerreotype's `fixup`, `minimizing-config` and `slimify`
//!    do (logs, caches, the ldconfig aux cache, `/etc/shadow`'s change dates);
//! 4. the tree becomes one layer with the deterministic layer writer.
//!
//! The finished layer is kept in the package cache under every input (the `.deb`s, the
//! profile, the apt sources written, the epoch, this module's version), so a warm build
//! runs no script and reads no `.deb`.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use plinth_core::par::par_map;
use plinth_core::progress::Reporter;
use plinth_deb::cache::Cache;
use plinth_deb::debfile::{DebEntryKind, DebLimits, read_control_file, read_deb_with_plain_data};
use plinth_deb::lock::{LockedPackage, LockedPlatform};
use plinth_oci::{Compression, Content, Entry, LayerBlob, LayerBuilder};
use plinth_sandbox::Chroot;
use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};

use crate::built_layers::{self, LayerInputs, layer_key};
use crate::debian::{deb_err, deb_src};
use crate::error::BuildError;
use crate::profile::Profile;
use crate::spec::DebianSpec;

/// The version of what this module makes of given packages. Part of the cached layer's
/// key: bump it when a change here changes a system layer's bytes.
pub const SYSTEM_LAYER_VERSION: u32 = 1;

/// The `PATH` maintainer scripts run with, and images get (Debian's).
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a system layer is made from, besides its packages.
#[derive(Debug, Clone)]
pub struct SystemInputs<'a> {
    /// `slim` or `full`.
    pub profile: Profile,
    /// Debian's name of the platform's architecture (`amd64`).
    pub arch: &'a str,
    /// The deb822 text of `/etc/apt/sources.list.d/debian.sources`.
    pub sources: String,
    /// Layer compression.
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH`: every mtime, and the date scripts see.
    pub epoch: u64,
}

/// The system layer of one platform: from the cache when it holds one made of the same
/// inputs, else installed by dpkg in a sandbox and kept for the next build.
pub fn system_layer(
    d: &DebianSpec,
    locked: &LockedPlatform,
    inputs: &SystemInputs,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<(LayerBlob, String), BuildError> {
    let pkgs = &locked.packages;
    let comment = format!("debian {} system: {} packages", inputs.profile, pkgs.len());
    let key = system_key(pkgs, inputs);
    if let Some(blob) = built_layers::load(cache, &key, reporter) {
        return Ok((blob, comment));
    }
    // dpkg's run takes seconds of CPU: a build beside this one making the same layer
    // (same inputs, same cache) is waited for, and its layer taken.
    let _work = cache
        .lock_work("system-layer", &key, reporter)
        .map_err(|e| BuildError::Debian {
            message: "cannot lock the system layer's work in the cache".into(),
            source: Some(Box::new(e)),
        })?;
    if let Some(blob) = built_layers::load(cache, &key, reporter) {
        return Ok((blob, comment));
    }
    let uname = uname_arch(inputs.arch);
    if !plinth_sandbox::can_run_arch(uname) {
        return Err(BuildError::Emulator {
            platform: locked.platform.clone(),
            arch: uname.to_string(),
        });
    }
    let refs: Vec<&LockedPackage> = pkgs.iter().collect();
    let debs = crate::debian::fetch_packages(d, &refs, cache, reporter)?;
    let work = tempfile::Builder::new()
        .prefix("plinth-system-")
        .tempdir_in(cache_tmp(cache)?)
        .map_err(|e| io_err("cannot make a directory to install the system in", e))?;
    let root = work.path().join("root");
    fs_err::create_dir(&root).map_err(|e| io_err("cannot make the root directory", e))?;
    install(&root, pkgs, &debs, inputs, reporter)?;
    normalise(&root, inputs)?;
    let layer = layer_from_root(&root, reporter)?;
    let blob = layer.finish_in(inputs.compression, inputs.epoch, &cache.tmp_dir())?;
    if let Err(e) = built_layers::store(cache, &key, &blob) {
        reporter.warn(&format!("cannot keep the system layer in the cache: {e}"));
    }
    Ok((blob, comment))
}

/// The image's apt sources (deb822): the mirrors and suites it was built from, each
/// mirror with its suites, trusting Debian's archive keyring.
pub fn sources_text(d: &DebianSpec, suites: &[String]) -> Result<String, BuildError> {
    let cfg = crate::debian::repo_config(d)?;
    let mut by_mirror: Vec<(String, Vec<&str>)> = Vec::new();
    for suite in suites {
        let m = cfg.mirror_for(suite).to_string();
        match by_mirror.iter_mut().find(|(k, _)| *k == m) {
            Some((_, v)) => v.push(suite),
            None => by_mirror.push((m, vec![suite])),
        }
    }
    let mut out = String::new();
    for (mirror, suites) in by_mirror {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "Types: deb\nURIs: {mirror}\nSuites: {}\nComponents: {}\n\
             Signed-By: /usr/share/keyrings/{}-archive-keyring.gpg\n",
            suites.join(" "),
            cfg.components.join(" "),
            d.release.distro().id()
        ));
    }
    Ok(out)
}

/// The cache key of a system layer: every input, in one text.
fn system_key(pkgs: &[LockedPackage], inputs: &SystemInputs) -> String {
    let extra = format!(
        "plinth system layer {SYSTEM_LAYER_VERSION}\nprofile={}\narch={}\nsources={}\n",
        inputs.profile, inputs.arch, inputs.sources
    );
    let extra_hash = plinth_oci::sha256_digest(extra.as_bytes()).to_string();
    layer_key(
        pkgs.iter()
            .map(|p| (p.name.as_str(), p.sha256.as_str()))
            .chain([("plinth-system", extra_hash.as_str())]),
        &LayerInputs {
            compression: inputs.compression,
            mtime: inputs.epoch,
            keep_docs: inputs.profile == Profile::Full,
            single: true,
        },
    )
}

/// Where the work directory goes: inside the cache, so that `.deb`s are hard-linked
/// into the root rather than copied.
fn cache_tmp(cache: &Cache) -> Result<PathBuf, BuildError> {
    let dir = cache.root().join("tmp");
    fs_err::create_dir_all(&dir).map_err(|e| io_err("cannot make the cache's tmp directory", e))?;
    Ok(dir)
}

/// The kernel's (and binfmt_misc's) name of a Debian architecture.
pub fn uname_arch(debian: &str) -> &str {
    match debian {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "armhf" | "armel" => "arm",
        "i386" => "i386",
        "ppc64el" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64el" => "mips64el",
        other => other,
    }
}

fn io_err(message: impl Into<String>, e: std::io::Error) -> BuildError {
    BuildError::Debian {
        message: message.into(),
        source: Some(Box::new(e)),
    }
}

/// The `path-exclude` and `path-include` rules of `slim`: debuerreotype's `slimify`
/// lists (documentation, manuals, translations; copyright files kept). dpkg applies the
/// last rule that matches; `*` matches `/` too (fnmatch without `FNM_PATHNAME`).
const SLIM_RULES: &[(bool, &str)] = &[
    (false, "/usr/share/doc/*"),
    (false, "/usr/share/info/*"),
    (false, "/usr/share/linda/*"),
    (false, "/usr/share/lintian/overrides/*"),
    (false, "/usr/share/locale/*"),
    (false, "/usr/share/man/*"),
    (false, "/usr/share/doc/kde/HTML/*/*"),
    (false, "/usr/share/gnome/help/*/*"),
    (false, "/usr/share/omf/*/*-*.emf"),
    (true, "/usr/share/doc/*/copyright"),
    (true, "/usr/share/doc/kde/HTML/C/*"),
    (true, "/usr/share/gnome/help/*/C/*"),
    (true, "/usr/share/locale/all_languages"),
    (true, "/usr/share/locale/currency/*"),
    (true, "/usr/share/locale/l10n/*"),
    (true, "/usr/share/locale/languages"),
    (true, "/usr/share/locale/locale.alias"),
    (true, "/usr/share/omf/*/*-C.emf"),
];

/// The dpkg configuration file of `slim` (`/etc/dpkg/dpkg.cfg.d/docker`, the name
/// Debian's images use, so that what users write against them still applies).
fn slim_dpkg_cfg() -> String {
    let mut s = String::from(
        "# The \"slim\" variant: files containers seldom need (documentation, manuals,\n\
         # translations) are not installed, and this file keeps it so for packages\n\
         # installed later. Written by Plinth, as debuerreotype writes Debian's.\n\n",
    );
    for (include, pattern) in SLIM_RULES {
        let verb = if *include { "include" } else { "exclude" };
        s.push_str(&format!("path-{verb} {pattern}\n"));
    }
    s
}

/// Whether `slim` installs `path` (absolute), by [`SLIM_RULES`].
fn slim_keeps(path: &str) -> bool {
    let mut keep = true;
    for (include, pattern) in SLIM_RULES {
        if fnmatch(pattern.as_bytes(), path.as_bytes()) {
            keep = *include;
        }
    }
    keep
}

/// fnmatch(3) for patterns of literal bytes and `*` (which matches anything, `/`
/// included): all dpkg's rules above need. Written here because it is ten lines.
fn fnmatch(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| fnmatch(rest, &text[i..])),
        Some((c, rest)) => text.first() == Some(c) && fnmatch(rest, &text[1..]),
    }
}

/// The configuration Debian's container images carry (debuerreotype's
/// `minimizing-config`): no service starts, unsafe-io for dpkg, no apt caches or
/// translations. Paths relative to the root, with their contents.
fn container_config(profile: Profile) -> Vec<(&'static str, String, u32)> {
    let mut files = vec![
        (
            "usr/sbin/policy-rc.d",
            "#!/bin/sh\n# Services are not started in a container image.\nexit 101\n".to_string(),
            0o755,
        ),
        (
            "etc/dpkg/dpkg.cfg.d/docker-apt-speedup",
            "# No fsync for every file dpkg writes: a container's layers are written once.\nforce-unsafe-io\n"
                .to_string(),
            0o644,
        ),
        (
            "etc/apt/apt.conf.d/docker-autoremove-suggests",
            "# Packages only suggested are not kept from autoremove.\nApt::AutoRemove::SuggestsImportant \"false\";\n"
                .to_string(),
            0o644,
        ),
        (
            "etc/apt/apt.conf.d/docker-clean",
            "# Downloaded packages and apt's binary caches are not kept in the image.\n\
             DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };\n\
             APT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };\n\n\
             Dir::Cache::pkgcache \"\";\nDir::Cache::srcpkgcache \"\";\n"
                .to_string(),
            0o644,
        ),
        (
            "etc/apt/apt.conf.d/docker-gzip-indexes",
            "# Package lists stay compressed.\nAcquire::GzipIndexes \"true\";\n".to_string(),
            0o644,
        ),
        (
            "etc/apt/apt.conf.d/docker-no-languages",
            "# No translated descriptions.\nAcquire::Languages \"none\";\n".to_string(),
            0o644,
        ),
    ];
    if profile == Profile::Slim {
        files.push(("etc/dpkg/dpkg.cfg.d/docker", slim_dpkg_cfg(), 0o644));
    }
    files
}

/// Unpacks the essential packages, then has the root's dpkg install everything.
fn install(
    root: &Path,
    pkgs: &[LockedPackage],
    debs: &[PathBuf],
    inputs: &SystemInputs,
    reporter: &dyn Reporter,
) -> Result<(), BuildError> {
    // The essential set is what `Essential: yes` packages and apt need, dependencies
    // included (libc6 is not essential, and dpkg cannot run without it): mmdebstrap's
    // `?essential` set, which apt extends with apt itself.
    let controls = par_map(
        &pkgs.iter().zip(debs).collect::<Vec<_>>(),
        |(p, path)| -> Result<Control, BuildError> {
            let bytes = fs_err::read(path).map_err(|e| io_err("cannot read a package", e))?;
            let name = deb_name(p);
            let control = read_control_file(&bytes, &name, &DebLimits::default())
                .map_err(|e| deb_src(format!("cannot read the control file of {name}"), e))?;
            Control::parse(&control)
                .map_err(|m| deb_err(format!("the control file of {name}: {m}")))
        },
    )
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let in_essential = essential_closure(pkgs, &controls);
    let mut essential = Vec::new();
    let mut rest = Vec::new();
    for ((p, path), e) in pkgs.iter().zip(debs).zip(in_essential) {
        if e {
            essential.push((p, path));
        } else {
            rest.push((p, path));
        }
    }
    if !essential.iter().any(|(p, _)| p.name == "dpkg") {
        return Err(deb_err(
            "the package set has no essential dpkg: a system image needs Debian's essential packages",
        ));
    }
    let keep = |path: &str| inputs.profile != Profile::Slim || slim_keeps(&format!("/{path}"));
    // 1. Unpack the essential packages (one at a time: each is decoded, written, dropped).
    // dpkg installs them again below: it is given each one with its data archive already
    // decoded (a plain data.tar), so that the xz is decoded once, here, not twice.
    let root_fd = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(format!("cannot open {}", root.display()), e.into()))?;
    let inbox = root.join("var/cache/plinth-debs");
    fs_err::create_dir_all(&inbox).map_err(|e| io_err("cannot prepare the root", e))?;
    let mut essential_paths = Vec::new();
    for (p, path) in &essential {
        let bytes = fs_err::read(path).map_err(|e| io_err("cannot read a package", e))?;
        let name = deb_name(p);
        let (deb, plain) = read_deb_with_plain_data(&bytes, &name, &DebLimits::default())
            .map_err(|e| deb_src(format!("cannot unpack {name}"), e))?;
        drop(bytes);
        fs_err::write(inbox.join(&name), plain).map_err(|e| io_err("cannot place a package", e))?;
        essential_paths.push(format!("/var/cache/plinth-debs/{name}"));
        for e in &deb.entries {
            if !matches!(e.kind, DebEntryKind::Dir) && !keep(&e.path) {
                continue;
            }
            extract_entry(&root_fd, e)
                .map_err(|err| io_err(format!("cannot unpack /{} of {name}", e.path), err))?;
        }
    }
    // 2. What dpkg needs to start from, and the container configuration.
    let write = |rel: &str, data: &[u8], mode: u32| -> Result<(), BuildError> {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            fs_err::create_dir_all(parent).map_err(|e| io_err("cannot prepare the root", e))?;
        }
        fs_err::write(&p, data).map_err(|e| io_err("cannot prepare the root", e))?;
        set_mode(&p, mode)
    };
    for dir in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
    ] {
        fs_err::create_dir_all(root.join(dir)).map_err(|e| io_err("cannot prepare the root", e))?;
    }
    write("var/lib/dpkg/status", b"", 0o644)?;
    write("var/lib/dpkg/available", b"", 0o644)?;
    for (rel, text, mode) in container_config(inputs.profile) {
        write(rel, text.as_bytes(), mode)?;
    }
    write(
        "etc/apt/sources.list.d/debian.sources",
        inputs.sources.as_bytes(),
        0o644,
    )?;
    // The other .debs, reachable inside the root (hard links: the cache is on the same
    // disk).
    let place = |list: &[(&LockedPackage, &PathBuf)]| -> Result<Vec<String>, BuildError> {
        list.iter()
            .map(|(p, src)| {
                let name = deb_name(p);
                let dst = inbox.join(&name);
                if fs_err::hard_link(src, &dst).is_err() {
                    fs_err::copy(src, &dst).map_err(|e| io_err("cannot place a package", e))?;
                }
                Ok(format!("/var/cache/plinth-debs/{name}"))
            })
            .collect()
    };
    let rest_paths = place(&rest)?;
    // 3. dpkg, in the sandbox.
    let chroot = Chroot::new(root).map_err(|e| deb_src("cannot set up the sandbox", e))?;
    let epoch = inputs.epoch.to_string();
    let env = [
        ("PATH", PATH),
        ("LC_ALL", "C"),
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("DEBCONF_NONINTERACTIVE_SEEN", "true"),
        ("HOME", "/root"),
        ("SOURCE_DATE_EPOCH", epoch.as_str()),
    ];
    let dpkg = |step: &str, args: &[&str], debs: &[String]| -> Result<(), BuildError> {
        let mut argv = vec!["/usr/bin/dpkg", "--force-unsafe-io"];
        argv.extend_from_slice(args);
        argv.extend(debs.iter().map(String::as_str));
        reporter.start(step, None);
        let out = chroot
            .run(&argv, &env)
            .map_err(|e| deb_src(format!("cannot run dpkg ({step})"), e))?;
        reporter.finish(step);
        if out.status.success() {
            return Ok(());
        }
        Err(BuildError::MaintainerScript {
            step: step.to_string(),
            packages: failed_packages(&out.output),
            status: out.describe(),
            output: tail(&out.output, 12),
        })
    };
    dpkg(
        "installing the essential packages",
        &["--install", "--force-depends"],
        &essential_paths,
    )?;
    if !rest_paths.is_empty() {
        dpkg(
            "installing the other packages",
            &["--install", "--force-depends"],
            &rest_paths,
        )?;
    }
    dpkg(
        "configuring what is left",
        &["--configure", "--pending"],
        &[],
    )?;
    let audit = chroot
        .run(&["/usr/bin/dpkg", "--audit"], &env)
        .map_err(|e| deb_src("cannot run dpkg --audit", e))?;
    if !audit.status.success() || !audit.output.is_empty() {
        return Err(BuildError::MaintainerScript {
            step: "checking the installed system (dpkg --audit)".into(),
            packages: failed_packages(&audit.output),
            status: audit.describe(),
            output: tail(&audit.output, 12),
        });
    }
    fs_err::remove_dir_all(&inbox).map_err(|e| io_err("cannot remove the packages", e))?;
    Ok(())
}

/// What the install needs of a package's control file.
struct Control {
    essential: bool,
    /// Every alternative of every `Pre-Depends` and `Depends` group.
    depends: Vec<Vec<String>>,
    provides: Vec<String>,
}

impl Control {
    fn parse(text: &str) -> Result<Control, String> {
        let paras = plinth_dpkg::control::parse(text.as_bytes(), Default::default())
            .map_err(|e| e.to_string())?;
        let para = paras.first().ok_or("no paragraph")?;
        let names = |field: &str| -> Result<Vec<Vec<String>>, String> {
            Ok(
                plinth_deb::deps::parse_field(para.get(field).unwrap_or_default())
                    .map_err(|e| format!("{field}: {e}"))?
                    .into_iter()
                    .map(|g| g.0.into_iter().map(|d| d.name).collect())
                    .collect(),
            )
        };
        let mut depends = names("Pre-Depends")?;
        depends.extend(names("Depends")?);
        Ok(Control {
            essential: para.get("Essential") == Some("yes"),
            depends,
            provides: names("Provides")?.into_iter().flatten().collect(),
        })
    }
}

/// Which of `pkgs` belong to the essential set: `Essential: yes` packages, apt, and
/// everything in the set they depend on (each alternative present counts).
fn essential_closure(pkgs: &[LockedPackage], controls: &[Control]) -> Vec<bool> {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (p, c)) in pkgs.iter().zip(controls).enumerate() {
        by_name.entry(p.name.as_str()).or_default().push(i);
        for v in &c.provides {
            by_name.entry(v.as_str()).or_default().push(i);
        }
    }
    let mut inside = vec![false; pkgs.len()];
    let mut queue: Vec<usize> = (0..pkgs.len())
        .filter(|&i| controls[i].essential || pkgs[i].name == "apt")
        .collect();
    while let Some(i) = queue.pop() {
        if std::mem::replace(&mut inside[i], true) {
            continue;
        }
        for group in &controls[i].depends {
            for name in group {
                let bare = name.split(':').next().unwrap_or(name);
                for &j in by_name.get(bare).into_iter().flatten() {
                    if !inside[j] {
                        queue.push(j);
                    }
                }
            }
        }
    }
    inside
}

/// The packages dpkg names in `dpkg: error processing package NAME` lines.
fn failed_packages(output: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(output);
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| {
            l.split_once("error processing package ")
                .or_else(|| l.split_once("error processing archive "))
                .map(|(_, rest)| {
                    let name = rest.split_whitespace().next().unwrap_or_default();
                    let name = name.rsplit('/').next().unwrap_or(name);
                    name.split('_').next().unwrap_or(name).to_string()
                })
        })
        .collect();
    names.dedup();
    names
}

/// What of dpkg's `output` a user needs: the lines before each `error processing`
/// (where the failing script printed its reason), then the last `n` lines.
fn tail(output: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().collect();
    let mut keep = vec![false; lines.len()];
    for (i, l) in lines.iter().enumerate() {
        if l.contains("error processing") {
            for k in keep.iter_mut().take(i + 2).skip(i.saturating_sub(8)) {
                *k = true;
            }
        }
    }
    let last = lines.len().saturating_sub(n);
    for k in keep.iter_mut().skip(last) {
        *k = true;
    }
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if keep[i] {
            if i > 0 && !keep[i - 1] && !out.is_empty() {
                out.push("…");
            }
            out.push(l);
        }
    }
    out.join("\n")
}

fn deb_name(p: &LockedPackage) -> String {
    format!(
        "{}_{}_{}.deb",
        p.name,
        p.version.replace(':', "%3a"),
        p.architecture
    )
}

fn set_mode(p: &Path, mode: u32) -> Result<(), BuildError> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_err("cannot prepare the root", e))
}

/// Writes one entry of a package under `root`, resolving every path as if `root` were
/// `/` (`RESOLVE_IN_ROOT`): a symlink a package ships, absolute or not, never leads a
/// later entry outside the root.
fn extract_entry(
    root: &rustix::fd::OwnedFd,
    e: &plinth_deb::debfile::DebEntry,
) -> std::io::Result<()> {
    let (parent, name) = match e.path.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", e.path.as_str()),
    };
    if name.is_empty() {
        return Ok(()); // the root itself
    }
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let dir = if parent.is_empty() {
        rustix::fs::openat(
            root,
            c".",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?
    } else {
        rustix::fs::openat2(
            root,
            parent,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        )?
    };
    let owner = |fd: &rustix::fd::OwnedFd| {
        rustix::fs::chownat(
            fd,
            c"",
            Some(rustix::fs::Uid::from_raw(e.uid as u32)),
            Some(rustix::fs::Gid::from_raw(e.gid as u32)),
            AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW,
        )
    };
    let remove_existing = || {
        if let Err(err) = rustix::fs::unlinkat(&dir, name, AtFlags::empty())
            && err != rustix::io::Errno::NOENT
        {
            return Err(err);
        }
        Ok(())
    };
    match &e.kind {
        DebEntryKind::Dir => {
            match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(err) => return Err(err.into()),
            }
            let fd = rustix::fs::openat2(
                &dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                resolve,
            )?;
            owner(&fd)?;
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(e.mode & 0o7777))?;
        }
        DebEntryKind::File(bytes) => {
            remove_existing()?;
            let fd = rustix::fs::openat(
                &dir,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            let mut f = std::fs::File::from(fd);
            f.write_all(bytes)?;
            let fd = rustix::fd::OwnedFd::from(f);
            owner(&fd)?;
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(e.mode & 0o7777))?;
        }
        DebEntryKind::Symlink(target) => {
            remove_existing()?;
            rustix::fs::symlinkat(target.as_str(), &dir, name)?;
            rustix::fs::chownat(
                &dir,
                name,
                Some(rustix::fs::Uid::from_raw(e.uid as u32)),
                Some(rustix::fs::Gid::from_raw(e.gid as u32)),
                AtFlags::SYMLINK_NOFOLLOW,
            )?;
        }
        DebEntryKind::Hardlink(target) => {
            remove_existing()?;
            let (tparent, tname) = match target.rsplit_once('/') {
                Some((p, n)) => (p, n),
                None => ("", target.as_str()),
            };
            let tdir = rustix::fs::openat2(
                root,
                if tparent.is_empty() { "." } else { tparent },
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                resolve,
            )?;
            rustix::fs::linkat(&tdir, tname, &dir, name, AtFlags::empty())?;
        }
    }
    Ok(())
}

/// Removes and resets what installing leaves that differs between two builds or two
/// machines (debuerreotype's `fixup`, and what its `tar` step leaves out).
fn normalise(root: &Path, inputs: &SystemInputs) -> Result<(), BuildError> {
    for rel in [
        "var/log/dpkg.log",
        "var/log/bootstrap.log",
        "var/log/alternatives.log",
        "var/log/apt/history.log",
        "var/log/apt/term.log",
        "var/log/apt/eipp.log.xz",
        "var/cache/ldconfig/aux-cache",
        "run/mount/utab",
        "etc/apt/apt.conf.d/01autoremove-kernels",
        "var/lib/systemd/catalog/database",
    ] {
        let p = root.join(rel);
        if fs_err::symlink_metadata(&p).is_ok() {
            fs_err::remove_file(&p).map_err(|e| io_err("cannot normalise the root", e))?;
        }
    }
    let _ = fs_err::remove_dir(root.join("run/mount"));
    for dir in ["var/cache/apt", "var/lib/apt/lists"] {
        let d = root.join(dir);
        let Ok(list) = fs_err::read_dir(&d) else {
            continue;
        };
        for entry in list {
            let entry = entry.map_err(|e| io_err("cannot normalise the root", e))?;
            let p = entry.path();
            let ft = entry
                .file_type()
                .map_err(|e| io_err("cannot normalise the root", e))?;
            if ft.is_file() || ft.is_symlink() {
                fs_err::remove_file(&p).map_err(|e| io_err("cannot normalise the root", e))?;
            }
        }
    }
    let machine_id = root.join("etc/machine-id");
    if fs_err::metadata(&machine_id).is_ok_and(|m| m.len() > 0) {
        fs_err::write(&machine_id, b"").map_err(|e| io_err("cannot normalise the root", e))?;
    }
    // The "last password change" of every account: the day of the epoch, not of the
    // build (shadow writes today's date when it makes /etc/shadow).
    let day = (inputs.epoch / 86_400).to_string();
    for rel in ["etc/shadow", "etc/shadow-"] {
        let p = root.join(rel);
        let Ok(text) = fs_err::read_to_string(&p) else {
            continue;
        };
        let fixed: String = text
            .lines()
            .map(|line| {
                let mut fields: Vec<&str> = line.split(':').collect();
                if fields.len() >= 3 && !fields[2].is_empty() {
                    fields[2] = &day;
                }
                format!("{}\n", fields.join(":"))
            })
            .collect();
        if fixed != text {
            fs_err::write(&p, fixed).map_err(|e| io_err("cannot normalise the root", e))?;
        }
    }
    Ok(())
}

/// The tree at `root` as one layer: modes, owners, symlinks and hard links as they are
/// on disk; sockets, FIFOs and device nodes (which no package ships) are left out with
/// a warning.
pub fn layer_from_root(root: &Path, reporter: &dyn Reporter) -> Result<LayerBuilder, BuildError> {
    let mut l = LayerBuilder::new("the system layer");
    let mut seen: HashMap<(u64, u64), String> = HashMap::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let mut children: Vec<_> = fs_err::read_dir(&dir)
            .map_err(|e| io_err("cannot read the installed system", e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| io_err("cannot read the installed system", e))?;
        children.sort();
        for c in children {
            let name = c.to_str().ok_or_else(|| {
                deb_err(format!(
                    "the installed system holds a file name that is not UTF-8 under /{rel}"
                ))
            })?;
            let path = dir.join(&c);
            let image_path = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            let m = fs_err::symlink_metadata(&path)
                .map_err(|e| io_err("cannot read the installed system", e))?;
            let ft = m.file_type();
            let (mode, uid, gid) = (m.mode() & 0o7777, u64::from(m.uid()), u64::from(m.gid()));
            if ft.is_dir() {
                l.add(&image_path, Entry::dir(mode, uid, gid))?;
                stack.push((path, image_path));
            } else if ft.is_symlink() {
                let target = fs_err::read_link(&path)
                    .map_err(|e| io_err("cannot read the installed system", e))?;
                let target = target.to_str().ok_or_else(|| {
                    deb_err(format!("/{image_path}: a symlink target that is not UTF-8"))
                })?;
                let mut e = Entry::symlink(target);
                e.uid = uid;
                e.gid = gid;
                l.add(&image_path, e)?;
            } else if ft.is_file() {
                if m.nlink() > 1 {
                    if let Some(first) = seen.get(&(m.dev(), m.ino())) {
                        let mut e = Entry::file(Content::Path(PathBuf::new()), mode, uid, gid);
                        e.kind = plinth_oci::EntryKind::Hardlink(first.clone());
                        l.add(&image_path, e)?;
                        continue;
                    }
                    seen.insert((m.dev(), m.ino()), image_path.clone());
                }
                l.add(
                    &image_path,
                    Entry::file(Content::Path(path), mode, uid, gid),
                )?;
            } else {
                reporter.warn(&format!(
                    "/{image_path} is not a file, directory or symlink: left out of the image"
                ));
            }
        }
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slim_rules_drop_docs_and_keep_copyright_files_as_dpkg_would() {
        assert!(!slim_keeps("/usr/share/doc/bash/README"));
        assert!(slim_keeps("/usr/share/doc/bash/copyright"));
        assert!(!slim_keeps("/usr/share/man/man1/ls.1.gz"));
        assert!(!slim_keeps("/usr/share/locale/de/LC_MESSAGES/dpkg.mo"));
        assert!(slim_keeps("/usr/share/locale/locale.alias"));
        assert!(slim_keeps("/usr/bin/dpkg"));
        // `*` crosses `/`, as fnmatch without FNM_PATHNAME.
        assert!(!slim_keeps("/usr/share/doc/a/b/c"));
        assert!(slim_keeps("/usr/share/doc/a/b/copyright"));
    }

    #[test]
    fn dpkg_failures_name_their_packages() {
        let out = b"Setting up foo (1.0) ...\n\
            dpkg: error processing package foo (--configure):\n \
            installed foo package post-installation script subprocess returned error exit status 1\n\
            dpkg: error processing archive /var/cache/plinth-debs/bar_2.0_amd64.deb (--install):\n";
        assert_eq!(failed_packages(out), vec!["foo", "bar"]);
    }
}
