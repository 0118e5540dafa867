//! Alpine-based images: resolve the spec's packages against signed `APKINDEX.tar.gz`
//! files to a lock, fetch and verify each `.apk` (index checksum, the package's own
//! signature, its data hash, then its SHA-256 against the lock), and turn them into
//! layers with the installed database (`lib/apk/db/installed`) apk, syft and trivy read.
//! No install script runs; the one result of a script images need, busybox's applet
//! links, is made here from the list busybox ships (`etc/busybox-paths.d/`), as apko does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use plinth_apk::index::{Index, MAX_INDEX_BYTES, PackageInfo, verify_index};
use plinth_apk::installed::{InstalledPackage, package_record};
use plinth_apk::keys::Keyring;
use plinth_apk::lock::{
    ApkLock, ApkLockedPackage, ApkPlatform, DISTRIBUTION, LOCK_VERSION, LockedRepository,
    why_from_chain,
};
use plinth_apk::package::{DataEntry, EntryKind as ApkKind, Limits, verify_package};
use plinth_apk::resolve::Repository;
use plinth_apk::rsa::pkcs8::{EncodePublicKey, LineEnding};
use plinth_core::par::par_map;
use plinth_core::progress::Reporter;
use plinth_deb::cache::{Cache, Download};
use plinth_oci::{Compression, Content, Entry, EntryKind, LayerBlob, LayerBuilder};

use crate::build::{DistroLock, ensure_distro_lock};
use crate::built_layers::{self, LayerInputs, apk_layer_key, apk_record_key};
use crate::error::BuildError;
use crate::spec::alpine::{APK_KEYS, APK_REPOSITORIES};
use crate::spec::{AlpineSpec, Layering, Platform, Spec};
use crate::{BuildOptions, LockOutcome};

const RECORD_KIND: &str = "apk-installed";

fn err(message: impl Into<String>) -> BuildError {
    BuildError::Alpine {
        message: message.into(),
        hint: None,
        source: None,
    }
}

fn err_src(
    message: impl Into<String>,
    e: impl std::error::Error + Send + Sync + 'static,
) -> BuildError {
    BuildError::Alpine {
        message: message.into(),
        hint: None,
        source: Some(Box::new(e)),
    }
}

/// The apk architecture of a platform.
pub fn apk_arch(p: &Platform) -> Option<&'static str> {
    Some(match (p.arch.as_str(), p.variant.as_deref()) {
        ("amd64", _) => "x86_64",
        ("arm64", _) => "aarch64",
        ("arm", Some("v7")) => "armv7",
        ("arm", Some("v6")) => "armhf",
        ("386", _) => "x86",
        ("ppc64le", _) => "ppc64le",
        ("s390x", _) => "s390x",
        ("riscv64", _) => "riscv64",
        ("loong64", _) => "loongarch64",
        _ => return None,
    })
}

/// A repository's name in the lock: the last two components of its URL (`v3.20/main`),
/// the same on every mirror.
pub fn repository_name(url: &str) -> String {
    let parts: Vec<&str> = url
        .trim_end_matches('/')
        .rsplit('/')
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    parts.join("/")
}

/// `a` with the command line's `--mirror`: the repository becomes
/// `MIRROR/<branch>/main` (`https://MIRROR/alpine` + `/v3.20/main`).
pub fn with_options(a: &AlpineSpec, opts: &BuildOptions) -> AlpineSpec {
    let mut a = a.clone();
    if let Some(m) = &opts.mirror {
        a.repositories = vec![format!("{}/{}/main", m.trim_end_matches('/'), a.branch())];
    }
    a
}

/// What the lock's `inputs` digest covers: everything the resolution depends on
/// (repositories by name, so that another mirror of the same ones keeps the lock).
pub fn inputs_digest(spec: &Spec, a: &AlpineSpec) -> String {
    resolution_digest("alpine", &a.release, &a.packages, spec, &a.repositories, "")
}

/// The digest of a resolution's inputs: distribution, release, requested packages (in
/// any order), the spec's platforms, the repositories by name ([`repository_name`]) and
/// `extra` lines of the distribution's own.
pub fn resolution_digest(
    distribution: &str,
    release: &str,
    packages: &[String],
    spec: &Spec,
    repositories: &[String],
    extra: &str,
) -> String {
    let mut packages = packages.to_vec();
    packages.sort();
    let platforms: Vec<String> = spec.platforms.iter().map(|p| p.to_string()).collect();
    let repos: Vec<String> = repositories.iter().map(|r| repository_name(r)).collect();
    let text = format!(
        "distribution={distribution}\nrelease={release}\npackages={}\nplatforms={}\nrepositories={}\n{extra}",
        packages.join(","),
        platforms.join(","),
        repos.join(",")
    );
    plinth_oci::sha256_digest(text.as_bytes()).to_string()
}

/// The repository URLs: the spec's, else `/etc/apk/repositories` (comments, blank lines
/// and tagged `@name` repositories left out).
pub fn repositories(a: &AlpineSpec) -> Result<Vec<String>, BuildError> {
    if !a.repositories.is_empty() {
        return Ok(a.repositories.clone());
    }
    let path = Path::new(APK_REPOSITORIES);
    let text = match fs_err::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BuildError::Alpine {
                message: format!(
                    "[alpine] names no repositories and {APK_REPOSITORIES} does not exist"
                ),
                hint: Some(format!(
                    "set alpine.repositories (https://MIRROR/alpine/{}/main, or a directory) or pass --mirror https://MIRROR/alpine",
                    a.branch()
                )),
                source: None,
            });
        }
        Err(e) => return Err(err_src(format!("cannot read {APK_REPOSITORIES}"), e)),
    };
    let repos: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('@'))
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    if repos.is_empty() {
        return Err(err(format!("{APK_REPOSITORIES} names no repository")));
    }
    Ok(repos)
}

/// The trusted keys: the spec's files and directories, else `/etc/apk/keys`.
pub fn keyring(a: &AlpineSpec) -> Result<Keyring, BuildError> {
    let paths: Vec<PathBuf> = if a.keys.is_empty() {
        if !Path::new(APK_KEYS).is_dir() {
            return Err(BuildError::Alpine {
                message: format!("[alpine] names no keys and {APK_KEYS} does not exist"),
                hint: Some(
                    "set alpine.keys to the repository's public keys (*.rsa.pub files or directories of them)".into(),
                ),
                source: None,
            });
        }
        vec![PathBuf::from(APK_KEYS)]
    } else {
        a.keys.clone()
    };
    let ring =
        Keyring::load(&paths).map_err(|e| err_src("cannot load the apk keys".to_string(), e))?;
    if ring.is_empty() {
        return Err(BuildError::Alpine {
            message: "no apk key found in alpine.keys".into(),
            hint: Some("keys are *.rsa.pub PEM files, as in /etc/apk/keys".into()),
            source: None,
        });
    }
    Ok(ring)
}

/// Reads, writes or refreshes the spec's lock as `opts.lock` says.
pub fn ensure_lock(
    spec: &Spec,
    a: &AlpineSpec,
    opts: &BuildOptions,
    cache: &Cache,
) -> Result<(ApkLock, LockOutcome), BuildError> {
    if opts.no_security || opts.security_mirror.is_some() {
        return Err(BuildError::Alpine {
            message: format!(
                "--no-security and --security-mirror are about Debian's security archive; {} is an Alpine spec",
                spec.path.display()
            ),
            hint: Some(
                "Alpine's fixes are in the release's own repositories: leave the flags out".into(),
            ),
            source: None,
        });
    }
    let a = &with_options(a, opts);
    ensure_distro_lock(
        spec,
        opts,
        &inputs_digest(spec, a),
        |_| Ok(()),
        || resolve_lock(spec, a, cache, opts.reporter.as_ref()),
    )
}

impl DistroLock for ApkLock {
    fn load_lock(path: &Path) -> Result<Option<Self>, BuildError> {
        Ok(ApkLock::load(path)?)
    }
    fn save_lock(&self, path: &Path) -> Result<(), BuildError> {
        Ok(self.save(path)?)
    }
    fn inputs(&self) -> &str {
        &self.inputs
    }
    fn changes_since(&self, old: &Self) -> Vec<String> {
        self.diff(old)
    }
}

/// One verified index of one repository.
struct RepoIndex {
    url: String,
    index: Index,
}

/// Resolves the spec's packages for every platform, fetching and verifying each
/// package (so that the lock can pin its SHA-256), and returns a new lock.
pub fn resolve_lock(
    spec: &Spec,
    a: &AlpineSpec,
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<ApkLock, BuildError> {
    let repos = repositories(a)?;
    let keys = keyring(a)?;
    let mut repositories: BTreeMap<(String, String), LockedRepository> = BTreeMap::new();
    let mut platforms = Vec::new();
    for p in &spec.platforms {
        let arch =
            apk_arch(p).ok_or_else(|| err(format!("platform {p} has no Alpine architecture")))?;
        let mut indexes = Vec::new();
        for url in &repos {
            let file = format!("{url}/{arch}/APKINDEX.tar.gz");
            let bytes = plinth_core::http::fetch_bytes(&file, MAX_INDEX_BYTES)
                .map_err(|e| err_src(format!("cannot fetch {file}"), e))?;
            let index = verify_index(&file, &bytes, &keys)
                .map_err(|e| err_src(format!("cannot verify the index {file}"), e))?;
            let name = repository_name(url);
            repositories.insert(
                (name.clone(), arch.to_string()),
                LockedRepository {
                    name,
                    arch: arch.to_string(),
                    apkindex_sha256: plinth_oci::sha256_digest(&bytes).digest().to_string(),
                    key: index.key_name.clone(),
                },
            );
            indexes.push(RepoIndex {
                url: url.clone(),
                index,
            });
        }
        let all = indexes.iter().flat_map(|r| r.index.packages.iter());
        let resolution = Repository::new(all)
            .resolve(&a.packages)
            .map_err(|e| err_src(format!("cannot resolve the packages for {p}"), e))?;
        // Fetch and verify every package, in parallel: the lock pins each file's SHA-256.
        let jobs: Vec<(&PackageInfo, &String, &RepoIndex)> = resolution
            .packages
            .iter()
            .map(|(info, chain)| {
                let repo = indexes
                    .iter()
                    .find(|r| {
                        r.index
                            .packages
                            .iter()
                            .any(|x| x.checksum == info.checksum && x.name == info.name)
                    })
                    .ok_or_else(|| err(format!("{} is in no index", info.id())))?;
                Ok((info, chain, repo))
            })
            .collect::<Result<_, BuildError>>()?;
        let locked = par_map(&jobs, |(info, chain, repo)| {
            let url = format!("{}/{arch}/{}.apk", repo.url, info.id());
            reporter.start(&info.id(), Some(info.size));
            let bytes = plinth_core::http::fetch_bytes(&url, info.size);
            reporter.finish(&info.id());
            let bytes = bytes.map_err(|e| err_src(format!("cannot fetch {url}"), e))?;
            verify_package(&url, &bytes, &keys, Some(info))
                .map_err(|e| err_src(format!("cannot verify {}", info.id()), e))?;
            let sha256 = plinth_oci::sha256_digest(&bytes).digest().to_string();
            cache
                .put(&sha256, &bytes)
                .map_err(|e| err_src(format!("cannot keep {} in the cache", info.id()), e))?;
            let requested = a.packages.iter().any(|w| w == &info.name);
            Ok(ApkLockedPackage {
                name: info.name.clone(),
                version: info.version.clone(),
                arch: info.arch.clone(),
                repository: repository_name(&repo.url),
                size: bytes.len() as u64,
                checksum: info.checksum.clone(),
                sha256,
                why: if requested {
                    vec![info.name.clone()]
                } else {
                    why_from_chain(chain, &info.name)
                },
            })
        });
        let packages = locked.into_iter().collect::<Result<Vec<_>, BuildError>>()?;
        platforms.push(ApkPlatform {
            platform: p.to_string(),
            arch: arch.to_string(),
            packages,
        });
    }
    Ok(ApkLock {
        version: LOCK_VERSION,
        distribution: DISTRIBUTION.into(),
        inputs: inputs_digest(spec, a),
        release: a.release.clone(),
        repositories: repositories.into_values().collect(),
        platforms,
    })
}

/// A platform's package layers (bottom first, each with its history comment) and the
/// installed database made of their records, in lock order.
pub struct PlatformPackages {
    /// The package layers.
    pub layers: Vec<(LayerBlob, String)>,
    /// `lib/apk/db/installed`.
    pub installed: String,
}

/// Fetches (or finds in the cache) the `.apk`s of `packages`, each checked against the
/// lock's SHA-256 and size, and returns their paths in order. The repositories are
/// looked up only when something is missing: a warm build needs neither.
fn fetch_packages(
    a: &AlpineSpec,
    arch: &str,
    packages: &[&ApkLockedPackage],
    cache: &Cache,
    reporter: &dyn Reporter,
) -> Result<Vec<PathBuf>, BuildError> {
    if packages.is_empty() {
        return Ok(Vec::new());
    }
    let all_cached = packages
        .iter()
        .all(|p| cache.blob_path(&p.sha256).is_file());
    let repos = if all_cached {
        Vec::new()
    } else {
        repositories(a)?
    };
    let downloads = packages
        .iter()
        .map(|p| {
            let base = if all_cached {
                String::new()
            } else {
                repos
                    .iter()
                    .find(|r| repository_name(r) == p.repository)
                    .cloned()
                    .ok_or_else(|| {
                        err(format!(
                            "{} comes from repository {}, which the spec does not name",
                            p.id(),
                            p.repository
                        ))
                    })?
            };
            Ok(Download {
                url: format!("{base}/{arch}/{}.apk", p.id()),
                sha256: p.sha256.clone(),
                size: p.size,
                name: format!("{}.apk", p.id()),
            })
        })
        .collect::<Result<Vec<_>, BuildError>>()?;
    cache
        .fetch_all(&downloads, 4, reporter)
        .map_err(|e| err_src("cannot fetch the packages (checked against plinth.lock)", e))
}

/// What one `.apk` gives: its data entries with contents, and its database record.
struct Unpacked {
    entries: Vec<(DataEntry, Vec<u8>)>,
    record: String,
}

/// Reads the `.apk` of `lp` at `path` (in the cache, its SHA-256 the lock's) and
/// verifies its chain again: the lock's `C:`, the signature by a configured key, the
/// data hash and each file's checksum.
fn unpack(lp: &ApkLockedPackage, path: &Path, keys: &Keyring) -> Result<Unpacked, BuildError> {
    let bytes =
        fs_err::read(path).map_err(|e| err_src(format!("cannot read {}", path.display()), e))?;
    let sha256 = plinth_oci::sha256_digest(&bytes).digest().to_string();
    if sha256 != lp.sha256 {
        return Err(BuildError::Alpine {
            message: format!(
                "{}.apk has sha256 {sha256}, plinth.lock pins {}",
                lp.id(),
                lp.sha256
            ),
            hint: Some(
                "run `plinth lock --update SPEC` if the repository changed on purpose".into(),
            ),
            source: None,
        });
    }
    let expected = PackageInfo {
        name: lp.name.clone(),
        version: lp.version.clone(),
        arch: lp.arch.clone(),
        checksum: lp.checksum.clone(),
        ..Default::default()
    };
    let file = format!("{}.apk", lp.id());
    let pkg = verify_package(&file, &bytes, keys, Some(&expected))
        .map_err(|e| err_src(format!("cannot verify {file}"), e))?;
    let mut entries = Vec::new();
    pkg.read_data(&bytes, &Limits::default(), |e, content| {
        entries.push((e.clone(), content.to_vec()))
    })
    .map_err(|e| err_src(format!("cannot unpack {file}"), e))?;
    let record = package_record(&InstalledPackage {
        info: pkg.pkginfo.info.clone(),
        entries: entries.iter().map(|(e, _)| e.clone()).collect(),
    });
    Ok(Unpacked { entries, record })
}

/// busybox's applets, as `busybox --install -s` (its post-install script) links them:
/// every path listed in `etc/busybox-paths.d/*` that the layer does not hold yet, a
/// symlink to `/bin/busybox`.
fn busybox_links(l: &mut LayerBuilder, entries: &[(DataEntry, Vec<u8>)]) -> Result<(), BuildError> {
    for (e, content) in entries {
        if !(e.path.starts_with("etc/busybox-paths.d/") && e.kind == ApkKind::File) {
            continue;
        }
        for line in String::from_utf8_lossy(content).lines() {
            let path = line.trim().trim_start_matches('/');
            if path.is_empty() || l.get(path).is_some() {
                continue;
            }
            l.add(path, Entry::symlink("/bin/busybox"))?;
        }
    }
    Ok(())
}

fn add_entries(
    l: &mut LayerBuilder,
    entries: Vec<(DataEntry, Vec<u8>)>,
    single: bool,
) -> Result<(), BuildError> {
    for (e, content) in entries {
        let entry = Entry {
            kind: match e.kind {
                ApkKind::Dir => EntryKind::Dir,
                ApkKind::File => EntryKind::File(Content::Bytes(Arc::from(content))),
                ApkKind::Symlink(t) => EntryKind::Symlink(t),
                ApkKind::Hardlink(t) => EntryKind::Hardlink(t),
            },
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
        };
        add_package_entry(l, &e.path, entry, single)?;
    }
    Ok(())
}

/// Adds one entry of a package to its layer. In the one layer of every package
/// (`single`), a directory several packages ship (etc/, usr/) keeps the first one's mode
/// and owner.
pub(crate) fn add_package_entry(
    l: &mut LayerBuilder,
    path: &str,
    entry: Entry,
    single: bool,
) -> Result<(), BuildError> {
    if matches!(entry.kind, EntryKind::Dir) && single {
        l.ensure_dir(path, entry)?;
    } else {
        l.add(path, entry)?;
    }
    Ok(())
}

/// The package layers of one platform's lock, from the layer cache where it has them:
/// only the `.apk`s of missing layers or records are read, verified and unpacked.
pub fn platform_packages(
    a: &AlpineSpec,
    locked: &ApkPlatform,
    keys: &Keyring,
    cache: &Cache,
    compression: Compression,
    mtime: u64,
    reporter: &dyn Reporter,
) -> Result<PlatformPackages, BuildError> {
    let single = a.layering == Layering::Single;
    let inputs = LayerInputs {
        compression,
        mtime,
        keep_docs: true,
        single,
    };
    let pkgs = &locked.packages;
    let pairs: Vec<(&str, &str)> = pkgs
        .iter()
        .map(|p| (p.name.as_str(), p.sha256.as_str()))
        .collect();
    let keys_of = built_layers::layer_keys(&pairs, single, |g| {
        apk_layer_key(g.iter().copied(), &inputs)
    });
    let mut layers: Vec<Option<LayerBlob>> =
        par_map(&keys_of, |k| built_layers::load(cache, k, reporter));
    let mut records: Vec<Option<String>> = pkgs
        .iter()
        .map(|p| {
            cache
                .derived(RECORD_KIND, &apk_record_key(&p.sha256))
                .and_then(|b| String::from_utf8(b).ok())
        })
        .collect();
    let needed: Vec<usize> = (0..pkgs.len())
        .filter(|&i| layers[if single { 0 } else { i }].is_none() || records[i].is_none())
        .collect();
    let refs: Vec<&ApkLockedPackage> = needed.iter().map(|&i| &pkgs[i]).collect();
    let paths = fetch_packages(a, &locked.arch, &refs, cache, reporter)?;
    let keep = |key: &str, blob: &LayerBlob| {
        if let Err(e) = built_layers::store(cache, key, blob) {
            reporter.warn(&format!("cannot keep a layer in the cache: {e}"));
        }
    };
    let keep_record = |lp: &ApkLockedPackage, record: &str| {
        if let Err(e) =
            cache.put_derived(RECORD_KIND, &apk_record_key(&lp.sha256), record.as_bytes())
        {
            reporter.warn(&format!(
                "cannot keep an installed record in the cache: {e}"
            ));
        }
    };
    if single {
        if layers[0].is_none() {
            // Every package is needed for the one layer: `needed` holds them all.
            let mut l = LayerBuilder::new("the packages layer");
            let mut all = Vec::new();
            for (&i, path) in needed.iter().zip(&paths) {
                let u = unpack(&pkgs[i], path, keys)?;
                keep_record(&pkgs[i], &u.record);
                records[i] = Some(u.record);
                all.extend(u.entries);
            }
            let mut bb: Vec<(DataEntry, Vec<u8>)> = Vec::new();
            for (e, c) in &all {
                if e.path.starts_with("etc/busybox-paths.d/") {
                    bb.push((e.clone(), c.clone()));
                }
            }
            add_entries(&mut l, all, true)?;
            busybox_links(&mut l, &bb)?;
            let blob = l.finish_in(compression, mtime, &cache.tmp_dir())?;
            keep(&keys_of[0], &blob);
            layers[0] = Some(blob);
        } else {
            for (&i, path) in needed.iter().zip(&paths) {
                let u = unpack(&pkgs[i], path, keys)?;
                keep_record(&pkgs[i], &u.record);
                records[i] = Some(u.record);
            }
        }
    } else {
        type Made = (usize, Option<LayerBlob>, String);
        let jobs: Vec<(usize, &PathBuf)> = needed.iter().copied().zip(&paths).collect();
        let made = par_map(&jobs, |(i, path)| -> Result<Made, BuildError> {
            let lp = &pkgs[*i];
            let u = unpack(lp, path, keys)?;
            keep_record(lp, &u.record);
            let blob = match layers[*i] {
                Some(_) => None,
                None => {
                    let mut l = LayerBuilder::new(format!("package {}", lp.name));
                    let bb: Vec<(DataEntry, Vec<u8>)> = u
                        .entries
                        .iter()
                        .filter(|(e, _)| e.path.starts_with("etc/busybox-paths.d/"))
                        .cloned()
                        .collect();
                    add_entries(&mut l, u.entries, false)?;
                    busybox_links(&mut l, &bb)?;
                    let blob = l.finish_in(compression, mtime, &cache.tmp_dir())?;
                    keep(&keys_of[*i], &blob);
                    Some(blob)
                }
            };
            Ok((*i, blob, u.record))
        });
        for r in made {
            let (i, blob, record) = r?;
            if blob.is_some() {
                layers[i] = blob;
            }
            records[i] = Some(record);
        }
    }
    let installed: String = records
        .into_iter()
        .zip(pkgs)
        .map(|(r, lp)| r.ok_or_else(|| err(format!("no installed record for {}", lp.name))))
        .collect::<Result<_, _>>()?;
    let layers = if single {
        let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
        let blob = layers
            .pop()
            .flatten()
            .ok_or_else(|| err("no packages layer"))?;
        vec![(blob, format!("packages: {}", names.join(" ")))]
    } else {
        pkgs.iter()
            .zip(layers)
            .map(|(lp, blob)| {
                let blob = blob.ok_or_else(|| err(format!("no layer for {}", lp.name)))?;
                Ok((blob, format!("{} {}", lp.name, lp.version)))
            })
            .collect::<Result<_, BuildError>>()?
    };
    Ok(PlatformPackages { layers, installed })
}

/// `/etc/os-release` for an image whose packages do not ship one (`alpine-release`
/// does from 3.21 on): `ID` and `VERSION_ID` as Alpine's (scanners pick advisories by
/// them), Plinth's own `PRETTY_NAME`.
pub fn os_release(a: &AlpineSpec) -> String {
    let kind = a
        .profile
        .map(|p| format!("Plinth {}", p.name()))
        .unwrap_or_else(|| "Plinth".into());
    format!(
        "NAME=\"Alpine Linux\"\n\
         ID=alpine\n\
         VERSION_ID={}\n\
         PRETTY_NAME=\"{kind} (Alpine Linux {})\"\n\
         HOME_URL=\"https://alpinelinux.org/\"\n",
        a.release,
        a.branch()
    )
}

/// Files from no package: the installed database, apk's configuration
/// (`etc/apk/world`, `etc/apk/repositories` with the http(s) repositories only,
/// `etc/apk/keys/` with the keys that signed the locked indexes, `etc/apk/arch`) and,
/// when no package ships them, `etc/os-release` and `etc/alpine-release`.
pub fn system_files(
    l: &mut LayerBuilder,
    a: &AlpineSpec,
    lock: &ApkLock,
    locked: &ApkPlatform,
    keys: &Keyring,
    installed: &str,
) -> Result<(), BuildError> {
    l.add("/lib/apk/db", Entry::dir(0o755, 0, 0))?;
    l.add(
        "/lib/apk/db/installed",
        Entry::bytes(installed.as_bytes().to_vec(), 0o644),
    )?;
    l.add("/etc/apk", Entry::dir(0o755, 0, 0))?;
    let mut world = a.packages.clone();
    world.sort();
    let world: String = world.iter().map(|w| format!("{w}\n")).collect();
    l.add("/etc/apk/world", Entry::bytes(world.into_bytes(), 0o644))?;
    l.add(
        "/etc/apk/arch",
        Entry::bytes(format!("{}\n", locked.arch).into_bytes(), 0o644),
    )?;
    // A file:// repository names the build machine: it means nothing in the image, and
    // would make the image depend on where the tree is checked out.
    let repos: String = a
        .repositories
        .iter()
        .filter(|r| r.starts_with("http://") || r.starts_with("https://"))
        .map(|r| format!("{r}\n"))
        .collect();
    l.add(
        "/etc/apk/repositories",
        Entry::bytes(repos.into_bytes(), 0o644),
    )?;
    l.add("/etc/apk/keys", Entry::dir(0o755, 0, 0))?;
    let mut names: Vec<&str> = lock
        .repositories
        .iter()
        .filter(|r| r.arch == locked.arch)
        .map(|r| r.key.as_str())
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let key = keys.get(name).ok_or_else(|| BuildError::Alpine {
            message: format!("plinth.lock names key {name}, which alpine.keys does not hold"),
            hint: Some("add the key to alpine.keys, or run `plinth lock --update SPEC`".into()),
            source: None,
        })?;
        let pem = key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| err(format!("cannot write key {name}: {e}")))?;
        l.add(
            &format!("/etc/apk/keys/{name}"),
            Entry::bytes(pem.into_bytes(), 0o644),
        )?;
    }
    if !locked.packages.iter().any(|p| p.name == "alpine-release") {
        l.add(
            "/etc/os-release",
            Entry::bytes(os_release(a).into_bytes(), 0o644),
        )?;
        l.add(
            "/etc/alpine-release",
            Entry::bytes(format!("{}\n", a.release).into_bytes(), 0o644),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Spec {
        Spec::parse(Path::new("/nonexistent-dir/plinth.toml"), text).unwrap()
    }

    #[test]
    fn profiles_branches_and_mirrors() {
        let s = spec(
            "[image]\nprofile = \"base\"\n[alpine]\nrelease = \"3.20.3\"\npackages = [\"zlib\"]\n\
             repositories = [\"https://m.example/alpine/v3.20/main/\"]\n",
        );
        let a = s.alpine.as_ref().unwrap();
        assert_eq!(a.branch(), "v3.20");
        assert_eq!(a.repositories, ["https://m.example/alpine/v3.20/main"]);
        assert_eq!(
            a.packages,
            [
                "alpine-baselayout-data",
                "ca-certificates-bundle",
                "tzdata",
                "alpine-baselayout",
                "musl",
                "busybox",
                "busybox-binsh",
                "apk-tools",
                "zlib"
            ]
        );
        assert_eq!(s.run_as, (65532, 65532, "nonroot".into()));
        assert!(s.debian.is_none());
        let opts = BuildOptions {
            mirror: Some("file:///srv/alpine/".into()),
            ..Default::default()
        };
        let m = with_options(a, &opts);
        assert_eq!(m.repositories, ["file:///srv/alpine/v3.20/main"]);
        // Another mirror of the same repositories keeps the lock's inputs.
        assert_eq!(inputs_digest(&s, a), inputs_digest(&s, &m));
        let edge = spec("[image]\nprofile = \"static\"\n[alpine]\nrelease = \"edge\"\n");
        assert_eq!(edge.alpine.unwrap().branch(), "edge");
    }

    #[test]
    fn repository_names_ignore_the_mirror() {
        assert_eq!(
            repository_name("https://m.example/alpine/v3.20/main/"),
            "v3.20/main"
        );
        assert_eq!(
            repository_name("file:///srv/repos/alpine/v3.20/main"),
            "v3.20/main"
        );
    }
}
