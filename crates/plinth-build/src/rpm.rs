//! RPM-based images: resolve the spec's packages against signed yum/dnf repositories
//! (`repomd.xml` signature, then `primary.xml`'s checksum) to a lock, fetch each `.rpm`
//! against primary's SHA-256 and verify its header signature and payload digest, and turn
//! the packages into layers with the rpm database (`var/lib/rpm/rpmdb.sqlite`) that
//! `rpm -qa --root`, syft and trivy read.
//!
//! No scriptlet runs. Files get the mode the header gives and the owner the header names,
//! mapped to ids through the image's own `/etc/passwd` and `/etc/group` (those the
//! packages ship, `setup` on RPM distributions); a name neither file defines becomes 0,
//! as rpm itself does ("user X does not exist - using root"), and is reported as a
//! warning. `%ghost` files are not installed, as rpm does not create them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plinth_core::par::par_map;
use plinth_core::progress::Reporter;
use plinth_deb::cache::{Cache, Download};
use plinth_oci::{Entry, LayerBlob, LayerBuilder};
use plinth_rpm::keys::Keyring;
use plinth_rpm::lock::{
    DISTRIBUTION, LOCK_VERSION, RpmLock, RpmLockedPackage, RpmLockedRepository, RpmPlatform,
};
use plinth_rpm::package::{Expected, FileEntry, FileKind, Package};
use plinth_rpm::primary::{self, RpmPackage};
use plinth_rpm::repomd::{self, MAX_REPOMD};
use plinth_rpm::resolve::Universe;

use crate::alpine::{add_package_entry, repository_name, resolution_digest};
use crate::build::{DistroLock, ensure_distro_lock};
use crate::built_layers::{self, LayerInputs, rpm_layer_key};
use crate::error::BuildError;
use crate::spec::{Layering, Platform, RpmSpec, Spec};
use crate::{BuildOptions, LockOutcome, lock_path};

/// Largest compressed primary.xml fetched when repomd.xml gives no size.
const MAX_PRIMARY_FETCH: u64 = 1 << 30;
/// Version of the derived entries below (accounts, database): bump when they change.
const DERIVED_VERSION: u32 = 1;

fn err(message: impl Into<String>, hint: Option<&str>) -> BuildError {
    BuildError::Rpm {
        message: message.into(),
        hint: hint.map(str::to_string),
        source: None,
    }
}

fn err_src(
    message: impl Into<String>,
    e: impl std::error::Error + Send + Sync + 'static,
) -> BuildError {
    BuildError::Rpm {
        message: message.into(),
        hint: None,
        source: Some(Box::new(e)),
    }
}

/// The rpm architecture of a platform.
pub fn rpm_arch(p: &Platform) -> Option<&'static str> {
    Some(match p.arch.as_str() {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "ppc64le" => "ppc64le",
        "s390x" => "s390x",
        "386" => "i686",
        _ => return None,
    })
}

/// What the lock's `inputs` digest covers: everything the resolution depends on
/// (repositories by name, so that another mirror of the same ones keeps the lock).
pub fn inputs_digest(spec: &Spec, r: &RpmSpec) -> String {
    let mut exclude = r.exclude.clone();
    exclude.sort();
    resolution_digest(
        DISTRIBUTION,
        &r.release,
        &r.packages,
        spec,
        &r.repositories,
        &format!("exclude={}\n", exclude.join(",")),
    )
}

/// The trusted keys: the spec's key files and directories.
pub fn keyring(r: &RpmSpec) -> Result<Keyring, BuildError> {
    let ring =
        Keyring::load_all(&r.keys).map_err(|e| err_src("cannot load the keys of rpm.keys", e))?;
    if ring.is_empty() {
        return Err(err(
            "no OpenPGP key found in rpm.keys",
            Some("keys are armoured public key files (RPM-GPG-KEY-…)"),
        ));
    }
    Ok(ring)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// One repository whose `repomd.xml` verified and whose primary data checked out.
struct RepoData {
    url: String,
    packages: Vec<RpmPackage>,
    locked: RpmLockedRepository,
}

/// Fetches and verifies `url/repodata/repomd.xml` (its detached signature by a key of
/// `keys`, alive now), then the primary data it names (size and checksum).
fn read_repository(url: &str, keys: &Keyring) -> Result<RepoData, BuildError> {
    let fetch = |file: &str, limit: u64| {
        let u = format!("{url}/{file}");
        plinth_core::http::fetch_bytes(&u, limit)
            .map_err(|e| err_src(format!("cannot fetch {u}"), e))
    };
    let xml = fetch("repodata/repomd.xml", MAX_REPOMD as u64)?;
    let asc = fetch("repodata/repomd.xml.asc", MAX_REPOMD as u64)?;
    let verified = repomd::verify(&xml, &asc, keys, now())
        .map_err(|e| err_src(format!("cannot verify {url}/repodata/repomd.xml"), e))?;
    let entry = verified
        .repomd
        .entry("primary")
        .map_err(|e| err_src(format!("{url}/repodata/repomd.xml"), e))?;
    let bytes = fetch(&entry.location, entry.size.unwrap_or(MAX_PRIMARY_FETCH))?;
    let packages = primary::parse_checked(&bytes[..], entry)
        .map_err(|e| err_src(format!("cannot read {url}/{}", entry.location), e))?;
    Ok(RepoData {
        url: url.to_string(),
        packages,
        locked: RpmLockedRepository {
            name: repository_name(url),
            repomd_sha256: plinth_oci::sha256_digest(&xml).digest().to_string(),
            signer: verified.signer.fingerprint.clone(),
        },
    })
}

/// Reads, writes or refreshes the spec's lock as `opts.lock` says.
pub fn ensure_lock(
    spec: &Spec,
    r: &RpmSpec,
    opts: &BuildOptions,
    cache: &Cache,
) -> Result<(RpmLock, LockOutcome), BuildError> {
    if opts.mirror.is_some() || opts.no_security || opts.security_mirror.is_some() {
        return Err(err(
            format!(
                "--mirror, --no-security and --security-mirror are about Debian and Alpine mirrors; {} is an RPM spec",
                spec.path.display()
            ),
            Some("name the repositories' baseurls in rpm.repositories"),
        ));
    }
    ensure_distro_lock(
        spec,
        opts,
        &inputs_digest(spec, r),
        |_| Ok(()),
        || resolve_lock(spec, r, cache, opts.reporter.as_ref()),
    )
}

impl DistroLock for RpmLock {
    fn load_lock(path: &std::path::Path) -> Result<Option<Self>, BuildError> {
        Ok(RpmLock::load(path)?)
    }
    fn save_lock(&self, path: &std::path::Path) -> Result<(), BuildError> {
        Ok(self.save(path)?)
    }
    fn inputs(&self) -> &str {
        &self.inputs
    }
    fn changes_since(&self, old: &Self) -> Vec<String> {
        changes(old, self)
    }
}

/// `platform: + name evr`, `~ name old -> new`, `- name evr`, per platform.
fn changes(old: &RpmLock, new: &RpmLock) -> Vec<String> {
    plinth_core::lockfile::platform_changes(&new.platforms, &old.platforms, |p| {
        let evrs = p.packages.iter().map(|x| (x.name.clone(), x.evr()));
        (&p.platform, evrs.collect())
    })
}

/// Resolves the spec's packages for every platform, fetching every package against
/// primary's SHA-256 and verifying its signature and payload (so that the lock pins
/// only packages that verify), and returns a new lock.
pub fn resolve_lock(
    spec: &Spec,
    r: &RpmSpec,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<RpmLock, BuildError> {
    let keys = keyring(r)?;
    let repos = r
        .repositories
        .iter()
        .map(|u| read_repository(u, &keys))
        .collect::<Result<Vec<_>, _>>()?;
    // One list for the resolver, each package remembering its repository.
    let mut all: Vec<RpmPackage> = Vec::new();
    let mut origin: Vec<usize> = Vec::new();
    for (i, repo) in repos.iter().enumerate() {
        for p in &repo.packages {
            if !r.exclude.contains(&p.name) {
                all.push(p.clone());
                origin.push(i);
            }
        }
    }
    let roots: Vec<&str> = r.packages.iter().map(String::as_str).collect();
    let mut platforms = Vec::new();
    for p in &spec.platforms {
        let arch = rpm_arch(p)
            .ok_or_else(|| err(format!("platform {p} has no rpm architecture"), None))?;
        let chosen = Universe::new(&all, arch)
            .resolve_why(&roots)
            .map_err(|e| err_src(format!("cannot resolve the packages for {p}"), e))?;
        let jobs: Vec<(Download, &RpmPackage, Vec<String>, usize)> = chosen
            .into_iter()
            .map(|(pkg, why)| {
                let at = all
                    .iter()
                    .position(|x| std::ptr::eq(x, pkg))
                    .expect("the resolver returns packages of the list");
                let repo = &repos[origin[at]];
                let sha256 = match &pkg.checksum {
                    Some(c) if c.algorithm.eq_ignore_ascii_case("sha256") => c.value.to_ascii_lowercase(),
                    other => {
                        return Err(err(
                            format!(
                                "{} has no sha256 checksum in {}'s primary.xml ({})",
                                pkg.nevra(),
                                repo.url,
                                other.as_ref().map_or("none", |c| c.algorithm.as_str())
                            ),
                            Some("Plinth pins packages by SHA-256: the repository must be made with sha256 checksums (createrepo_c's default)"),
                        ));
                    }
                };
                Ok((
                    Download {
                        url: format!("{}/{}", repo.url, pkg.location),
                        sha256,
                        size: pkg.size,
                        name: format!("{}.rpm", pkg.nevra()),
                    },
                    pkg,
                    why,
                    origin[at],
                ))
            })
            .collect::<Result<_, BuildError>>()?;
        let downloads: Vec<Download> = jobs.iter().map(|j| j.0.clone()).collect();
        let paths = cache
            .fetch_all(&downloads, 4, reporter)
            .map_err(|e| err_src("cannot fetch the packages (checked against primary.xml)", e))?;
        let checked = par_map(
            &jobs.iter().zip(&paths).collect::<Vec<_>>(),
            |((d, pkg, why, repo), path)| {
                verify_file(path, &d.name, &d.sha256, d.size, &keys)?;
                let requested = r.packages.iter().any(|w| w == &pkg.name);
                Ok(RpmLockedPackage {
                    name: pkg.name.clone(),
                    epoch: pkg.evr.epoch,
                    version: pkg.evr.version.clone(),
                    release: pkg.evr.release.clone().unwrap_or_default(),
                    arch: pkg.arch.clone(),
                    repository: repos[*repo].locked.name.clone(),
                    location: pkg.location.clone(),
                    size: pkg.size,
                    sha256: d.sha256.clone(),
                    why: if requested {
                        vec![pkg.name.clone()]
                    } else {
                        why.clone()
                    },
                })
            },
        );
        let packages = checked
            .into_iter()
            .collect::<Result<Vec<_>, BuildError>>()?;
        platforms.push(RpmPlatform {
            platform: p.to_string(),
            arch: arch.to_string(),
            packages,
        });
    }
    let mut repositories: Vec<RpmLockedRepository> = repos.into_iter().map(|r| r.locked).collect();
    repositories.dedup_by(|a, b| a.name == b.name);
    Ok(RpmLock {
        version: LOCK_VERSION,
        distribution: DISTRIBUTION.into(),
        inputs: inputs_digest(spec, r),
        release: r.release.clone(),
        repositories,
        platforms,
    })
}

/// Verifies the `.rpm` at `path` (in the cache, fetched against `sha256`): its header
/// signature by a key of `keys`, its payload digest and its whole-file SHA-256 and size.
/// A file that fails is removed from the cache.
fn verify_file(
    path: &std::path::Path,
    name: &str,
    sha256: &str,
    size: u64,
    keys: &Keyring,
) -> Result<Package, BuildError> {
    let expected = Expected {
        algorithm: "sha256".into(),
        value: sha256.to_string(),
        size: Some(size),
    };
    let res = Package::open(path).and_then(|pkg| pkg.verify(keys, Some(&expected)).map(|_| pkg));
    res.map_err(|e| {
        let _ = fs_err::remove_file(path);
        err_src(format!("cannot verify {name}"), e)
    })
}

/// A platform's package layers (bottom first, each with its history comment) and the
/// rpm database of its packages.
struct PlatformPackages {
    /// The package layers.
    layers: Vec<(LayerBlob, String)>,
    /// `var/lib/rpm/rpmdb.sqlite`.
    rpmdb: Vec<u8>,
}

/// Fetches (or finds in the cache) every `.rpm` of `locked`, each checked against the
/// lock's SHA-256 and size. The repositories are named only when something is missing.
fn fetch_packages(
    r: &RpmSpec,
    locked: &RpmPlatform,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<Vec<PathBuf>, BuildError> {
    let downloads = locked
        .packages
        .iter()
        .map(|p| {
            let base = r
                .repositories
                .iter()
                .find(|u| repository_name(u) == p.repository)
                .ok_or_else(|| {
                    err(
                        format!(
                            "{} comes from repository {}, which the spec does not name",
                            p.nevra(),
                            p.repository
                        ),
                        Some("run `plinth lock --update SPEC` after changing rpm.repositories"),
                    )
                })?;
            Ok(Download {
                url: format!("{base}/{}", p.location),
                sha256: p.sha256.clone(),
                size: p.size,
                name: format!("{}.rpm", p.nevra()),
            })
        })
        .collect::<Result<Vec<_>, BuildError>>()?;
    cache
        .fetch_all(&downloads, 4, reporter)
        .map_err(|e| err_src("cannot fetch the packages (checked against plinth.lock)", e))
}

/// The image's accounts: user and group names to ids, from `/etc/passwd` and
/// `/etc/group` as the packages ship them.
#[derive(Debug, Default)]
struct Accounts {
    users: BTreeMap<String, u32>,
    groups: BTreeMap<String, u32>,
}

impl Accounts {
    /// `passwd` and `group` joined by a NUL, as kept in the cache.
    fn parse(text: &str) -> Accounts {
        let (passwd, group) = text.split_once('\0').unwrap_or((text, ""));
        let table = |t: &str, id: usize| -> BTreeMap<String, u32> {
            t.lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    Some((f.first()?.to_string(), f.get(id)?.parse().ok()?))
                })
                .collect()
        };
        Accounts {
            users: table(passwd, 2),
            groups: table(group, 2),
        }
    }

    fn ids(&self, e: &FileEntry, reporter: &dyn Reporter) -> (u32, u32) {
        let look = |map: &BTreeMap<String, u32>, name: &str, what: &str| match map.get(name) {
            Some(&id) => id,
            None if name == "root" => 0,
            None => {
                reporter.warn(&format!(
                    "/{} is owned by {what} {name}, which the image's /etc/{} does not define: using 0, as rpm does",
                    e.path,
                    if what == "user" { "passwd" } else { "group" }
                ));
                0
            }
        };
        (
            look(&self.users, &e.user, "user"),
            look(&self.groups, &e.group, "group"),
        )
    }
}

/// The accounts text (`passwd\0group`) found in the packages' entries.
fn accounts_text(unpacked: &[Vec<FileEntry>]) -> String {
    let find = |path: &str| {
        unpacked
            .iter()
            .flatten()
            .find_map(|e| match &e.kind {
                FileKind::File(data) if e.path == path => {
                    Some(String::from_utf8_lossy(data).into_owned())
                }
                _ => None,
            })
            .unwrap_or_default()
    };
    format!("{}\0{}", find("etc/passwd"), find("etc/group"))
}

fn add_entries(
    l: &mut LayerBuilder,
    entries: &[FileEntry],
    accounts: &Accounts,
    single: bool,
    reporter: &dyn Reporter,
) -> Result<(), BuildError> {
    for e in entries {
        let (uid, gid) = accounts.ids(e, reporter);
        let entry = Entry {
            kind: e.kind.clone().into(),
            mode: e.mode,
            uid: uid.into(),
            gid: gid.into(),
        };
        add_package_entry(l, &e.path, entry, single)?;
    }
    Ok(())
}

/// The package layers and rpm database of one platform's lock, from the cache where it
/// has them: only the packages of missing layers are read, verified and unpacked again.
fn platform_packages(
    r: &RpmSpec,
    locked: &RpmPlatform,
    keys: &Keyring,
    cache: &Cache,
    inputs: &LayerInputs,
    reporter: &dyn Reporter,
) -> Result<PlatformPackages, BuildError> {
    let (single, compression, mtime) = (inputs.single, inputs.compression, inputs.mtime);
    let pkgs = &locked.packages;
    let set_key = plinth_oci::sha256_digest(
        format!(
            "plinth rpm set\nversion={DERIVED_VERSION}\nmtime={mtime}\n{}",
            pkgs.iter()
                .map(|p| format!("{} {}\n", p.name, p.sha256))
                .collect::<String>()
        )
        .as_bytes(),
    )
    .digest()
    .to_string();
    let mut unpacked: Vec<Option<Vec<FileEntry>>> = vec![None; pkgs.len()];
    let mut paths: Option<Vec<PathBuf>> = None;
    let get = Fetcher {
        r,
        locked,
        keys,
        cache,
        reporter,
    };
    let every: Vec<usize> = (0..pkgs.len()).collect();
    let accounts_text = match cache
        .derived("rpm-accounts", &set_key)
        .and_then(|b| String::from_utf8(b).ok())
    {
        Some(t) => t,
        None => {
            get.unpack(&every, &mut unpacked, &mut paths)?;
            let all: Vec<Vec<FileEntry>> = unpacked.iter().flatten().cloned().collect();
            let t = accounts_text(&all);
            if let Err(e) = cache.put_derived("rpm-accounts", &set_key, t.as_bytes()) {
                reporter.warn(&format!("cannot keep the accounts in the cache: {e}"));
            }
            t
        }
    };
    let accounts = Accounts::parse(&accounts_text);
    let accounts_digest = plinth_oci::sha256_digest(accounts_text.as_bytes())
        .digest()
        .to_string();
    let keys_of: Vec<String> = if single {
        vec![rpm_layer_key(
            pkgs.iter().map(|p| (p.name.as_str(), p.sha256.as_str())),
            &accounts_digest,
            inputs,
        )]
    } else {
        pkgs.iter()
            .map(|p| {
                rpm_layer_key(
                    [(p.name.as_str(), p.sha256.as_str())],
                    &accounts_digest,
                    inputs,
                )
            })
            .collect()
    };
    let mut layers: Vec<Option<LayerBlob>> =
        par_map(&keys_of, |k| built_layers::load(cache, k, reporter));
    let keep = |key: &str, blob: &LayerBlob| {
        if let Err(e) = built_layers::store(cache, key, blob) {
            reporter.warn(&format!("cannot keep a layer in the cache: {e}"));
        }
    };
    let layers: Vec<(LayerBlob, String)> = if single {
        let blob = match layers.pop().flatten() {
            Some(b) => b,
            None => {
                get.unpack(&every, &mut unpacked, &mut paths)?;
                let mut l = LayerBuilder::new("the packages layer");
                for e in unpacked.iter().flatten() {
                    add_entries(&mut l, e, &accounts, true, reporter)?;
                }
                let blob = l.finish(compression, mtime)?;
                keep(&keys_of[0], &blob);
                blob
            }
        };
        let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
        vec![(blob, format!("packages: {}", names.join(" ")))]
    } else {
        let missing: Vec<usize> = (0..pkgs.len()).filter(|&i| layers[i].is_none()).collect();
        if !missing.is_empty() {
            get.unpack(&missing, &mut unpacked, &mut paths)?;
            let made = par_map(&missing, |&i| -> Result<LayerBlob, BuildError> {
                let mut l = LayerBuilder::new(format!("package {}", pkgs[i].name));
                add_entries(
                    &mut l,
                    unpacked[i].as_deref().unwrap_or_default(),
                    &accounts,
                    false,
                    reporter,
                )?;
                let blob = l.finish(compression, mtime)?;
                keep(&keys_of[i], &blob);
                Ok(blob)
            });
            for (i, b) in missing.into_iter().zip(made) {
                layers[i] = Some(b?);
            }
        }
        pkgs.iter()
            .zip(layers)
            .map(|(p, b)| {
                let b = b.ok_or_else(|| err(format!("no layer for {}", p.name), None))?;
                Ok((b, format!("{} {}", p.name, p.evr())))
            })
            .collect::<Result<_, BuildError>>()?
    };
    let rpmdb = match cache.derived("rpmdb", &set_key) {
        Some(b) => b,
        None => {
            let b = rpm_database(pkgs, get.paths(&mut paths)?, keys, mtime)?;
            if let Err(e) = cache.put_derived("rpmdb", &set_key, &b) {
                reporter.warn(&format!("cannot keep the rpm database in the cache: {e}"));
            }
            b
        }
    };
    Ok(PlatformPackages { layers, rpmdb })
}

/// What fetching and unpacking the packages of one platform's lock needs.
struct Fetcher<'a> {
    r: &'a RpmSpec,
    locked: &'a RpmPlatform,
    keys: &'a Keyring,
    cache: &'a Cache,
    reporter: &'a dyn Reporter,
}

impl Fetcher<'_> {
    /// The cached files of every package, fetched the first time they are asked for.
    fn paths<'p>(&self, paths: &'p mut Option<Vec<PathBuf>>) -> Result<&'p [PathBuf], BuildError> {
        if paths.is_none() {
            *paths = Some(fetch_packages(
                self.r,
                self.locked,
                self.cache,
                self.reporter,
            )?);
        }
        Ok(paths.as_deref().unwrap_or_default())
    }

    /// Unpacks the packages `which` not unpacked yet, each verified again (signature,
    /// payload digest, the lock's SHA-256 and size).
    fn unpack(
        &self,
        which: &[usize],
        unpacked: &mut [Option<Vec<FileEntry>>],
        paths: &mut Option<Vec<PathBuf>>,
    ) -> Result<(), BuildError> {
        let all = self.paths(paths)?;
        let pkgs = &self.locked.packages;
        let todo: Vec<usize> = which
            .iter()
            .copied()
            .filter(|&i| unpacked[i].is_none())
            .collect();
        let done = par_map(&todo, |&i| {
            let p = &pkgs[i];
            let name = format!("{}.rpm", p.nevra());
            let expected = Expected {
                algorithm: "sha256".into(),
                value: p.sha256.clone(),
                size: Some(p.size),
            };
            Package::open(&all[i])
                .and_then(|pkg| pkg.verified_entries(self.keys, Some(&expected)))
                .map(|(_, e)| e)
                .map_err(|e| {
                    let _ = fs_err::remove_file(&all[i]);
                    err_src(format!("cannot verify {name}"), e)
                })
        });
        for (i, e) in todo.into_iter().zip(done) {
            unpacked[i] = Some(e?);
        }
        Ok(())
    }
}

/// `rpmdb.sqlite` of the packages at `paths` (each verified again), installed at `mtime`.
fn rpm_database(
    pkgs: &[RpmLockedPackage],
    paths: &[PathBuf],
    keys: &Keyring,
    mtime: u64,
) -> Result<Vec<u8>, BuildError> {
    let opened = pkgs
        .iter()
        .zip(paths)
        .map(|(p, path)| verify_file(path, &format!("{}.rpm", p.nevra()), &p.sha256, p.size, keys))
        .collect::<Result<Vec<_>, _>>()?;
    let dir = tempfile::tempdir()
        .map_err(|e| err_src("cannot make a directory for the rpm database", e))?;
    let refs: Vec<&Package> = opened.iter().collect();
    let install_time = u32::try_from(mtime).unwrap_or(u32::MAX);
    let path = plinth_rpm::rpmdb::write(dir.path(), &refs, install_time)
        .map_err(|e| err_src("cannot write the rpm database", e))?;
    fs_err::read(&path).map_err(|e| err_src("cannot read the rpm database back", e))
}

/// The layers of `platform` from `lock`, bottom first with their history comments: the
/// package layers, then one layer with the rpm database (`var/lib/rpm/rpmdb.sqlite`).
pub fn image_layers(
    spec: &Spec,
    r: &RpmSpec,
    lock: &RpmLock,
    platform: &Platform,
    cache: &Cache,
    opts: &BuildOptions,
) -> Result<Vec<(LayerBlob, String)>, BuildError> {
    let locked = lock
        .platform(&platform.to_string())
        .ok_or_else(|| BuildError::StaleLock {
            path: lock_path(spec),
        })?;
    let (compression, mtime) = (spec.compression, opts.source_date_epoch);
    let keys = keyring(r)?;
    let inputs = LayerInputs {
        compression,
        mtime,
        keep_docs: true,
        single: r.layering == Layering::Single,
    };
    let pkgs = platform_packages(r, locked, &keys, cache, &inputs, opts.reporter.as_ref())?;
    let mut layers = pkgs.layers;
    let mut db = LayerBuilder::new("the rpm database layer");
    for d in ["/var", "/var/lib", "/var/lib/rpm"] {
        db.ensure_dir(d, Entry::dir(0o755, 0, 0))?;
    }
    db.add(
        &format!("/{}", plinth_rpm::rpmdb::RPMDB_PATH),
        Entry::bytes(pkgs.rpmdb, 0o644),
    )?;
    layers.push((db.finish(compression, mtime)?, "rpm database".to_string()));
    Ok(layers)
}
