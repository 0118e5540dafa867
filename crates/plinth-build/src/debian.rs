//! Debian-based images: resolve the spec's packages to a lock, fetch the verified
//! `.deb`s into the shared cache, and turn them into layers with the dpkg metadata
//! (`/var/lib/dpkg/status.d/`) that scanners read. No maintainer script ever runs; the
//! one result of a script that images need, the CA bundle, is built here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use plinth_core::par::par_map;
use plinth_core::progress::Reporter;
use plinth_deb::cache::{Cache, Download};
use plinth_deb::debfile::{DebEntryKind, DebLimits, DebPackage, read_deb};
use plinth_deb::keyring::Keyring;
use plinth_deb::lock::{LOCK_VERSION, Lock, LockedPackage, LockedPlatform, LockedSuite};
use plinth_deb::packages::{PackageRecord, PackagesError, RawDepends};
use plinth_deb::repo::{
    RepoConfig, RepoIndex, Security, SuiteIndex, add_security, config_from_apt, fetch_index_map,
};
use plinth_deb::resolve::{Request, Universe, resolve};
use plinth_dpkg::control::Paragraph;
use plinth_oci::{Compression, Content, Entry, EntryKind, LayerBlob, LayerBuilder};

use crate::built_layers::{self, LayerInputs, layer_key};

use crate::error::BuildError;
use crate::profile;
use crate::spec::{DebianSpec, KeySource, Layering, Platform, Spec};

/// The Debian architecture of a platform.
pub fn debian_arch(p: &Platform) -> Option<&'static str> {
    Some(match (p.arch.as_str(), p.variant.as_deref()) {
        ("amd64", _) => "amd64",
        ("arm64", _) => "arm64",
        ("arm", Some("v7")) => "armhf",
        ("arm", Some("v5")) => "armel",
        ("386", _) => "i386",
        ("ppc64le", _) => "ppc64el",
        ("s390x", _) => "s390x",
        ("riscv64", _) => "riscv64",
        ("mips64le", _) => "mips64el",
        ("loong64", _) => "loong64",
        _ => return None,
    })
}

pub(crate) fn deb_err(message: impl Into<String>) -> BuildError {
    BuildError::Debian {
        message: message.into(),
        source: None,
    }
}

pub(crate) fn deb_src(
    message: impl Into<String>,
    e: impl std::error::Error + Send + Sync + 'static,
) -> BuildError {
    BuildError::Debian {
        message: message.into(),
        source: Some(Box::new(e)),
    }
}

/// What the lock's `inputs` digest covers: everything the resolution depends on.
pub fn inputs_digest(spec: &Spec, d: &DebianSpec) -> String {
    let mut packages = d.packages.clone();
    packages.sort();
    let platforms: Vec<String> = spec.platforms.iter().map(|p| p.to_string()).collect();
    let mut text = format!(
        "release={}\npackages={}\nexclude={}\nplatforms={}\n",
        d.release.codename(),
        packages.join(","),
        d.exclude.join(","),
        platforms.join(",")
    );
    // Only when off: the locks written before the key existed stay valid.
    if !d.security {
        text.push_str("security=false\n");
    }
    plinth_oci::sha256_digest(text.as_bytes()).to_string()
}

/// `d` with the command line's overrides: `--mirror`, `--security-mirror` and
/// `--no-security` win over the spec's keys.
pub fn with_options(
    spec: &Spec,
    d: &DebianSpec,
    opts: &crate::BuildOptions,
) -> Result<DebianSpec, BuildError> {
    let mut d = d.clone();
    if let Some(m) = &opts.mirror {
        d.mirror = Some(m.trim_end_matches('/').to_string());
    }
    if opts.no_security {
        d.security = false;
        d.security_mirror = None;
    }
    if let Some(m) = &opts.security_mirror {
        if !d.security {
            return Err(deb_err(format!(
                "--security-mirror is given but {} leaves the security suite out (security = false)",
                spec.path.display()
            )));
        }
        d.security_mirror = Some(m.trim_end_matches('/').to_string());
    }
    Ok(d)
}

/// Ubuntu's archive keys (`crates/plinth-build/keyrings/README.md` gives their source).
pub const UBUNTU_KEYRING: &[u8] = include_bytes!("../keyrings/ubuntu-archive-keyring.gpg");

/// Where the mirror and its keys come from: the spec (with the command line's
/// overrides, see [`with_options`]) or the apt sources. The security suite comes from
/// `security-mirror`, else the apt sources' `*-security` entry, else the main mirror; it
/// is left out only when `security` is off, and required otherwise.
pub fn repo_config(d: &DebianSpec) -> Result<RepoConfig, BuildError> {
    let now = SystemTime::now();
    let ubuntu = d.release.distro() == profile::Distro::Ubuntu;
    if ubuntu && d.mirror.is_none() {
        // A Debian machine's apt sources name no Ubuntu archive; guessing one from them
        // would fetch Debian's indexes under Ubuntu's names.
        return Err(deb_err(format!(
            "an [ubuntu] spec needs the Ubuntu archive's URI for {}: set `mirror` in [ubuntu] \
             or pass --mirror (the directory holding dists/ and pool/)",
            d.release.codename()
        )));
    }
    let security = match (&d.security_mirror, d.security) {
        (_, false) => Security::Off,
        (Some(m), true) => Security::Mirror(m.clone()),
        // Ubuntu's archive carries RELEASE-security beside the release.
        (None, true) if ubuntu => Security::Mirror(
            d.mirror
                .as_deref()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string(),
        ),
        (None, true) => Security::Apt,
    };
    let codename = d.release.codename();
    let mut cfg = match d.mirror.as_deref() {
        Some(m) => RepoConfig {
            mirror: m.trim_end_matches('/').to_string(),
            suites: d.release.suites().to_vec(),
            components: vec!["main".into()],
            keyring: if d.keys.is_empty() && ubuntu {
                Keyring::from_bytes(
                    UBUNTU_KEYRING,
                    "Ubuntu's archive keyring (shipped with Plinth)",
                )
                .map_err(|e| deb_src("cannot load Ubuntu's archive keyring", e))?
            } else if d.keys.is_empty() {
                Keyring::load(Path::new(plinth_deb::keyring::DEFAULT_KEYRING))
                    .map_err(|e| deb_src("cannot load the Debian archive keyring", e))?
            } else {
                Keyring::default()
            },
            now,
            suite_mirrors: BTreeMap::new(),
        },
        None => config_from_apt(Path::new("/"), codename, &security, now).map_err(|e| {
            deb_src(
                format!(
                    "cannot find a mirror for {} in the apt sources",
                    d.release.codename()
                ),
                e,
            )
        })?,
    };
    if d.mirror.is_some() {
        add_security(&mut cfg, Path::new("/"), codename, &security).map_err(|e| {
            deb_src(
                format!("cannot find the security archive of {codename} in the apt sources"),
                e,
            )
        })?;
    }
    for k in &d.keys {
        let ring = match k {
            KeySource::File(p) => Keyring::load(p)
                .map_err(|e| deb_src(format!("cannot load key {}", p.display()), e))?,
            KeySource::Inline(text) => Keyring::from_bytes(text.as_bytes(), "a key in the spec")
                .map_err(|e| deb_src("cannot read the armoured key written in the spec", e))?,
        };
        cfg.keyring.merge(ring);
    }
    Ok(cfg)
}

/// Resolves the spec's packages for every platform and returns a new lock.
///
/// The indexes are kept in `cache` under the SHA-256 the verified release file gives
/// them (and their decompressed text, as zstd): a later resolve downloads only the
/// release files and what changed since. Each index is parsed as a stream and its
/// records moved into the resolver, never held twice.
pub fn resolve_lock(
    spec: &Spec,
    d: &DebianSpec,
    cfg: &RepoConfig,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<Lock, BuildError> {
    let mut suites: BTreeMap<String, LockedSuite> = BTreeMap::new();
    let mut platforms = Vec::new();
    for p in &spec.platforms {
        // Each platform is resolved on a thread of its own, which ends with it. glibc hands
        // a finished thread's allocator arena, with the memory its index records and
        // resolver freed, to the next thread that needs one: the next platform's resolve
        // and then the threads that build the layers reuse that memory, where freed memory
        // of the calling thread's heap stayed resident beside theirs. Measured for
        // examples/base's two platforms, cold: peak RSS 155-158 -> 129-132 MiB.
        let resolved = std::thread::scope(|scope| {
            scope
                .spawn(|| resolve_platform(p, d, cfg, cache, reporter))
                .join()
        });
        let (index_suites, platform) =
            resolved.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        for s in index_suites {
            suites
                .entry(s.suite.clone())
                .or_insert_with(|| LockedSuite {
                    name: s.suite,
                    inrelease_sha256: s.inrelease_sha256,
                });
        }
        platforms.push(platform);
    }
    Ok(Lock {
        version: LOCK_VERSION,
        inputs: inputs_digest(spec, d),
        release: d.release.codename().to_string(),
        suites: suites.into_values().collect(),
        platforms,
    })
}

/// Resolves the spec's packages for platform `p`: the suites its index came from, and
/// its locked packages.
fn resolve_platform(
    p: &Platform,
    d: &DebianSpec,
    cfg: &RepoConfig,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<(Vec<SuiteIndex>, LockedPlatform), BuildError> {
    // Only what resolution needs is held of each record (dependency fields unparsed).
    let lean = |p: &Paragraph| -> Result<_, PackagesError> {
        Ok(Some((
            PackageRecord::from_paragraph_lean(p)?,
            RawDepends::of(p),
        )))
    };
    let arch = debian_arch(p)
        .ok_or_else(|| deb_err(format!("platform {p} has no Debian architecture")))?;
    let index = fetch_index_map(cfg, arch, Some(cache), &lean, reporter)
        .map_err(|e| deb_src(format!("cannot read the package index for {arch}"), e))?;
    let RepoIndex {
        suites: index_suites,
        packages: records,
        origin,
    } = index;
    let mut universe = Universe::new();
    universe.add_lean(records, origin);
    let mut packages = Vec::new();
    if d.profile.is_some_and(profile::Profile::is_system) {
        // The base system as the index marks it, then apt and the spec's own.
        packages = universe.base_system(arch);
    }
    for p in &d.packages {
        if !packages.contains(p) {
            packages.push(p.clone());
        }
    }
    let req = Request {
        packages,
        exclude: d.exclude.clone(),
        arch: arch.to_string(),
    };
    let res = resolve(&universe, &req)
        .map_err(|e| deb_src(format!("cannot resolve the packages for {p}"), e))?;
    let mut packages = Vec::new();
    for (name, rec) in &res.selected {
        let suite = universe
            .origin(rec)
            .and_then(|i| index_suites.get(i))
            .ok_or_else(|| {
                deb_err(format!(
                    "{name} is missing from the index it was resolved from"
                ))
            })?;
        packages.push(LockedPackage {
            name: rec.package.clone(),
            version: rec.version.as_str().to_string(),
            architecture: rec.architecture.clone(),
            filename: rec.filename.clone(),
            size: rec.size,
            sha256: rec.sha256.clone(),
            suite: suite.suite.clone(),
            source: rec
                .source
                .as_ref()
                .map(|s| s.name.clone())
                .filter(|s| s != &rec.package),
            why: res
                .why(name)
                .map(|w| w.to_vec())
                .unwrap_or_else(|| vec![name.clone()]),
        });
    }
    Ok((
        index_suites,
        LockedPlatform {
            platform: p.to_string(),
            arch: arch.to_string(),
            packages,
        },
    ))
}

/// Fetches the `.deb`s of `packages` (some of a platform's locked packages) into the
/// cache, or finds them there, and returns their paths in the same order.
///
/// The mirror is looked up (spec, `--mirror`, apt sources) only when some package is not
/// in the cache yet: a warm build needs neither network nor apt sources.
pub fn fetch_packages(
    d: &DebianSpec,
    packages: &[&LockedPackage],
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<Vec<PathBuf>, BuildError> {
    if packages.is_empty() {
        return Ok(Vec::new());
    }
    let all_cached = packages
        .iter()
        .all(|p| cache.blob_path(&p.sha256).is_file());
    let cfg = if all_cached {
        None
    } else {
        Some(repo_config(d)?)
    };
    let downloads: Vec<Download> = packages
        .iter()
        .map(|p| {
            let base = cfg.as_ref().map_or("", |c| c.mirror_for(&p.suite));
            Download {
                url: format!("{}/{}", base.trim_end_matches('/'), p.filename),
                sha256: p.sha256.clone(),
                size: p.size,
                name: p
                    .filename
                    .rsplit('/')
                    .next()
                    .unwrap_or(&p.filename)
                    .to_string(),
            }
        })
        .collect();
    cache
        .fetch_all(&downloads, 4, reporter)
        .map_err(|e| deb_src("cannot fetch the packages", e))
}

/// Reads the `.deb` of `p` at `path` (in the cache, verified when fetched).
fn read_package(p: &LockedPackage, path: &Path) -> Result<DebPackage, BuildError> {
    let bytes =
        fs_err::read(path).map_err(|e| deb_src(format!("cannot read {}", path.display()), e))?;
    let name = format!("{}_{}_{}.deb", p.name, p.version, p.architecture);
    read_deb(&bytes, &name, &DebLimits::default())
        .map_err(|e| deb_src(format!("cannot unpack {name}"), e))
}

/// A platform's package layers (bottom first, each with its history comment) and the
/// CA bundle made from its `ca-certificates`, if it has that package.
pub struct PlatformPackages {
    /// The package layers, bottom first, each with its history comment.
    pub layers: Vec<(LayerBlob, String)>,
    /// The certificates of `ca-certificates`, concatenated (see [`profile::ca_bundle`]).
    pub ca_bundle: Option<Vec<u8>>,
}

/// The package layers of one platform's lock, from the layer cache where it has them
/// (see [`crate::built_layers`]): only the `.deb`s of the layers it lacks are fetched,
/// decoded and compressed, and their layers kept for the next build. Per-package layers
/// are made in parallel, each `.deb` decoded, turned into its layer and dropped in one
/// step, so that memory holds a few packages at a time, not all of them.
pub fn platform_packages(
    d: &DebianSpec,
    locked: &LockedPlatform,
    cache: &Cache,
    compression: Compression,
    mtime: u64,
    reporter: &dyn Reporter,
) -> Result<PlatformPackages, BuildError> {
    let single = d.layering == Layering::Single;
    let inputs = LayerInputs {
        compression,
        mtime,
        keep_docs: d.keep_docs,
        single,
    };
    let pkgs = &locked.packages;
    // One key per layer: each package's, or one for all of them.
    let pairs: Vec<(&str, &str)> = pkgs
        .iter()
        .map(|p| (p.name.as_str(), p.sha256.as_str()))
        .collect();
    let keys = built_layers::layer_keys(&pairs, single, |g| layer_key(g.iter().copied(), &inputs));
    let mut cached: Vec<Option<LayerBlob>> =
        par_map(&keys, |k| built_layers::load(cache, k, reporter));
    let ca = pkgs.iter().find(|p| p.name == "ca-certificates");
    let ca_cached = ca.and_then(|p| built_layers::load_ca_bundle(cache, &p.sha256));
    // The packages whose .deb must be read: those of a missing layer, and
    // ca-certificates when its bundle is missing.
    let needed: Vec<(usize, &LockedPackage)> = pkgs
        .iter()
        .enumerate()
        .filter(|(i, p)| {
            let layer_missing = cached[if single { 0 } else { *i }].is_none();
            layer_missing || (p.name == "ca-certificates" && ca_cached.is_none())
        })
        .collect();
    let refs: Vec<&LockedPackage> = needed.iter().map(|(_, p)| *p).collect();
    let paths = fetch_packages(d, &refs, cache, reporter)?;
    let keep = |key: &str, blob: &LayerBlob| {
        if let Err(e) = built_layers::store(cache, key, blob) {
            reporter.warn(&format!("cannot keep a layer in the cache: {e}"));
        }
    };
    let keep_ca = |lp: &LockedPackage, deb: &DebPackage| {
        let bundle = ca_certificates_bundle(deb);
        if let Err(e) = built_layers::store_ca_bundle(cache, &lp.sha256, &bundle) {
            reporter.warn(&format!("cannot keep the CA bundle in the cache: {e}"));
        }
        bundle
    };
    let need_ca = ca.is_some() && ca_cached.is_none();
    let mut ca_bundle = ca_cached;
    let layers = if single {
        let blob = match cached.pop().flatten() {
            Some(b) => b,
            None => {
                // One layer of every package: they are all read (one at a time).
                let mut l = LayerBuilder::new("packages");
                for ((_, lp), path) in needed.iter().zip(&paths) {
                    let deb = read_package(lp, path)?;
                    if lp.name == "ca-certificates" && ca_bundle.is_none() {
                        ca_bundle = Some(keep_ca(lp, &deb));
                    }
                    add_package(&mut l, lp, deb, true, d.keep_docs)?;
                }
                let blob = l.finish_in(compression, mtime, &cache.tmp_dir())?;
                keep(&keys[0], &blob);
                blob
            }
        };
        if let (Some(ca), None) = (ca, &ca_bundle) {
            let at = needed.iter().position(|(_, p)| p.name == ca.name);
            let path = at
                .map(|i| &paths[i])
                .ok_or_else(|| deb_err("ca-certificates was not fetched"))?;
            ca_bundle = Some(keep_ca(ca, &read_package(ca, path)?));
        }
        let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
        vec![(blob, format!("packages: {}", names.join(" ")))]
    } else {
        // Decode, build and keep the missing layers in parallel (xz decoding and
        // compression dominate), then put every layer in lock order.
        let jobs: Vec<(&(usize, &LockedPackage), &PathBuf)> = needed.iter().zip(&paths).collect();
        type Made = (usize, Option<LayerBlob>, Option<Vec<u8>>);
        let made = par_map(&jobs, |((i, lp), path)| -> Result<Made, BuildError> {
            let deb = read_package(lp, path)?;
            let bundle = (lp.name == "ca-certificates" && need_ca).then(|| keep_ca(lp, &deb));
            let blob = match cached[*i] {
                Some(_) => None,
                None => {
                    let mut l = LayerBuilder::new(format!("package {}", lp.name));
                    add_package(&mut l, lp, deb, false, d.keep_docs)?;
                    let blob = l.finish_in(compression, mtime, &cache.tmp_dir())?;
                    keep(&keys[*i], &blob);
                    Some(blob)
                }
            };
            Ok((*i, blob, bundle))
        });
        for r in made {
            let (i, blob, bundle) = r?;
            if blob.is_some() {
                cached[i] = blob;
            }
            if bundle.is_some() {
                ca_bundle = bundle;
            }
        }
        pkgs.iter()
            .zip(cached)
            .map(|(lp, blob)| {
                let blob = blob.ok_or_else(|| deb_err(format!("no layer for {}", lp.name)))?;
                Ok((blob, format!("{} {}", lp.name, lp.version)))
            })
            .collect::<Result<_, BuildError>>()?
    };
    Ok(PlatformPackages { layers, ca_bundle })
}

/// The certificates `ca-certificates` ships, as one bundle.
fn ca_certificates_bundle(deb: &DebPackage) -> Vec<u8> {
    let files = deb.entries.iter().filter_map(|e| match &e.kind {
        DebEntryKind::File(b) => Some((e.path.as_str(), &b[..])),
        _ => None,
    });
    profile::ca_bundle(files, &[])
}

/// Adds one package's files and its `status.d` entries to `l`. Takes the package, so
/// that each file's bytes are moved into the layer one at a time, not all copied.
fn add_package(
    l: &mut LayerBuilder,
    lp: &LockedPackage,
    deb: DebPackage,
    single: bool,
    keep_docs: bool,
) -> Result<(), BuildError> {
    let keep = |path: &str| {
        (lp.name != "ca-certificates" || profile::keep_ca_certificates_path(path))
            && (keep_docs || !profile::is_droppable_doc(path))
    };
    for e in deb.entries.into_iter().filter(|e| keep(&e.path)) {
        let entry = Entry {
            kind: match e.kind {
                DebEntryKind::Dir => EntryKind::Dir,
                DebEntryKind::File(b) => EntryKind::File(Content::Bytes(Arc::from(b))),
                DebEntryKind::Symlink(t) => EntryKind::Symlink(t),
                DebEntryKind::Hardlink(t) => EntryKind::Hardlink(t),
            },
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
        };
        if matches!(entry.kind, EntryKind::Dir) && single {
            // Many packages ship /usr, /usr/share: the first one's mode and owner stand.
            l.ensure_dir(&e.path, entry)?;
        } else {
            l.add(&e.path, entry)?;
        }
    }
    let status = format!("var/lib/dpkg/status.d/{}", lp.name);
    l.add(
        &status,
        Entry::bytes(profile::status_d_entry(&deb.control).into_bytes(), 0o644),
    )?;
    if let Some(md5) = &deb.md5sums {
        // md5sums lists exactly the files installed.
        let md5: String = md5
            .lines()
            .filter(|line| line.split_once("  ").is_some_and(|(_, p)| keep(p)))
            .map(|l| format!("{l}\n"))
            .collect();
        l.add(
            &format!("{status}.md5sums"),
            Entry::bytes(md5.into_bytes(), 0o644),
        )?;
    }
    Ok(())
}

/// Files from no package: os-release, nsswitch.conf and the CA bundle (`ca_bundle`, the
/// certificates of the image's `ca-certificates`, with the spec's own after them).
pub fn system_files(
    l: &mut LayerBuilder,
    d: &DebianSpec,
    ca_bundle: Option<&[u8]>,
) -> Result<(), BuildError> {
    let release_text = match d.profile {
        Some(p) => profile::os_release(p, d.release),
        None => profile::os_release(profile::Profile::Static, d.release).replacen(
            "Plinth static",
            "Plinth",
            1,
        ),
    };
    l.add(
        "/usr/lib/os-release",
        Entry::bytes(release_text.into_bytes(), 0o644),
    )?;
    l.add("/etc/os-release", Entry::symlink("../usr/lib/os-release"))?;
    if d.release.distro() == profile::Distro::Ubuntu {
        // Ubuntu's base-files ships it, and trivy tells Ubuntu by it, not by os-release.
        let lsb = format!(
            "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE={}\nDISTRIB_CODENAME={}\nDISTRIB_DESCRIPTION=\"Ubuntu {}\"\n",
            d.release.version_id(),
            d.release.codename(),
            d.release
                .version_text()
                .split(" (")
                .next()
                .unwrap_or_default()
        );
        l.add("/etc/lsb-release", Entry::bytes(lsb.into_bytes(), 0o644))?;
    }
    l.add(
        "/etc/nsswitch.conf",
        Entry::bytes(profile::NSSWITCH.as_bytes().to_vec(), 0o644),
    )?;
    if let Some(bundle) = ca_bundle {
        let extra = d
            .ca_certificates
            .iter()
            .map(|p| {
                fs_err::read(p)
                    .map_err(|e| deb_src(format!("cannot read CA certificate {}", p.display()), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        l.add("/etc/ssl/certs", Entry::dir(0o755, 0, 0))?;
        l.add(
            profile::CA_BUNDLE,
            Entry::bytes(profile::extend_ca_bundle(bundle.to_vec(), &extra), 0o644),
        )?;
    } else if !d.ca_certificates.is_empty() {
        return Err(deb_err(
            "debian.ca-certificates needs the ca-certificates package (any profile has it)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod ubuntu_tests {
    use super::*;

    #[test]
    fn ubuntu_keyring_holds_the_key_that_signs_focal_and_later() {
        let ring = Keyring::from_bytes(UBUNTU_KEYRING, "test").unwrap();
        let fprs = ring.fingerprints();
        assert!(
            fprs.iter()
                .any(|f| f.eq_ignore_ascii_case("F6ECB3762474EDA9D21B7022871920D1991BC93C")),
            "{fprs:?}"
        );
        assert_eq!(ring.len(), 3, "{fprs:?}");
    }
}
