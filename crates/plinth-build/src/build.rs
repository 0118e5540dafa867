//! Turning a checked [`Spec`] into an [`ImageArtifact`].
//!
//! Each platform's image has up to two layers: the accounts layer (`/etc/passwd`,
//! `/etc/group`, home directories, `/tmp`), identical across images that share accounts,
//! and the files layer (the spec's files, directories and symlinks).

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use plinth_oci::spec::{Arch, ConfigBuilder, Os};
use plinth_oci::{Content, Entry, ImageArtifact, ImageBuilder, LayerBuilder, PlatformImage};

use std::path::PathBuf;
use std::sync::Arc;

use plinth_core::progress::{NoReporter, Reporter};
use plinth_deb::cache::Cache;
use plinth_deb::lock::Lock;

use crate::debian;
use crate::error::BuildError;
use crate::spec::{Platform, Spec};

/// How to build: timestamps, platforms, mirror, cache, lock handling and progress.
#[derive(Clone)]
pub struct BuildOptions {
    /// Seconds since the epoch for every mtime and `created` (`SOURCE_DATE_EPOCH`).
    pub source_date_epoch: u64,
    /// Build only these of the spec's platforms.
    pub only_platforms: Option<Vec<Platform>>,
    /// A Debian mirror overriding the spec's and the apt sources'.
    pub mirror: Option<String>,
    /// The security archive's base URI, overriding the spec's and the apt sources'.
    pub security_mirror: Option<String>,
    /// Leave the release's `-security` suite out (`--no-security`), as the spec's
    /// `security = false` does.
    pub no_security: bool,
    /// The package cache (default: [`plinth_core::dirs::cache_root`]).
    pub cache: Option<PathBuf>,
    /// What to do with `plinth.lock` (Debian-based images only).
    pub lock: LockMode,
    /// Where progress goes (package index and package downloads).
    pub reporter: Arc<dyn Reporter>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            source_date_epoch: 0,
            only_platforms: None,
            mirror: None,
            security_mirror: None,
            no_security: false,
            cache: None,
            lock: LockMode::UseOrCreate,
            reporter: Arc::new(NoReporter),
        }
    }
}

/// What to do with `plinth.lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Use the lock; write one when there is none. A stale lock is an error.
    UseOrCreate,
    /// Resolve again and rewrite the lock.
    Update,
}

/// What happened to the lock.
#[derive(Debug, Clone)]
pub enum LockOutcome {
    /// The existing lock matched the spec and was used as is.
    Used,
    /// There was no lock: packages were resolved and the lock written.
    Created,
    /// The lock was resolved again and rewritten.
    Updated {
        /// One line per package added, changed or removed, as `platform: + name version`,
        /// `~ name old -> new` or `- name version`.
        changes: Vec<String>,
    },
}

/// A built image, held in memory, with its platforms and lock.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// The image: every blob, one manifest per platform, and the index for several.
    pub artifact: ImageArtifact,
    /// The platforms built, in spec order.
    pub platforms: Vec<Platform>,
    /// Set for Debian-based images.
    pub lock: Option<(Lock, LockOutcome)>,
    /// Set for Alpine-based images.
    pub alpine_lock: Option<(plinth_apk::lock::ApkLock, LockOutcome)>,
    /// Set for RPM-based images.
    pub rpm_lock: Option<(plinth_rpm::lock::RpmLock, LockOutcome)>,
}

/// The package cache `opts` names, else the default one.
fn package_cache(opts: &BuildOptions) -> Cache {
    Cache::new(
        opts.cache
            .clone()
            .unwrap_or_else(plinth_core::dirs::cache_root),
    )
}

/// `plinth.lock` beside the spec.
pub fn lock_path(spec: &Spec) -> PathBuf {
    spec.path.with_file_name("plinth.lock")
}

/// Reads, writes or refreshes the spec's lock as `opts.lock` says.
pub fn ensure_lock(spec: &Spec, opts: &BuildOptions) -> Result<(Lock, LockOutcome), BuildError> {
    let d = spec.debian.as_ref().ok_or_else(|| BuildError::Debian {
        message: format!(
            "{} names no Debian profile or packages: there is nothing to lock",
            spec.path.display()
        ),
        source: None,
    })?;
    let d = &debian::with_options(spec, d, opts)?;
    if !d.security {
        opts.reporter.warn(&format!(
            "building without Debian's security updates ({}-security left out, as asked)",
            d.release.codename()
        ));
    }
    // A lock an older plinth resolved while the mirror lacked the security suite has the
    // same inputs: it is refused unless the spec leaves the suite out.
    let security = format!("{}-security", d.release.codename());
    let usable = |lock: &Lock| {
        if d.security && !lock.suites.iter().any(|s| s.name == security) {
            return Err(BuildError::LockWithoutSecurity {
                path: lock_path(spec),
                suite: security.clone(),
            });
        }
        Ok(())
    };
    ensure_distro_lock(spec, opts, &debian::inputs_digest(spec, d), usable, || {
        let cfg = debian::repo_config(d)?;
        debian::resolve_lock(spec, d, &cfg, &package_cache(opts), opts.reporter.as_ref())
    })
}

impl DistroLock for Lock {
    fn load_lock(path: &Path) -> Result<Option<Self>, BuildError> {
        Ok(Lock::load(path)?)
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

/// Reads, writes or refreshes the lock of an Alpine-based spec as `opts.lock` says.
pub fn ensure_alpine_lock(
    spec: &Spec,
    opts: &BuildOptions,
) -> Result<(plinth_apk::lock::ApkLock, LockOutcome), BuildError> {
    let a = spec.alpine.as_ref().ok_or_else(|| BuildError::Alpine {
        message: format!("{} has no [alpine] table", spec.path.display()),
        hint: None,
        source: None,
    })?;
    crate::alpine::ensure_lock(spec, a, opts, &package_cache(opts))
}

/// What [`ensure_distro_lock`] needs of a distribution's lock type.
pub(crate) trait DistroLock: Clone + Sized {
    /// Reads the lock at `path`; `None` when there is none.
    fn load_lock(path: &Path) -> Result<Option<Self>, BuildError>;
    /// Writes the lock to `path` atomically.
    fn save_lock(&self, path: &Path) -> Result<(), BuildError>;
    /// The digest of the resolution inputs it was made from.
    fn inputs(&self) -> &str;
    /// One line per package added, changed or removed since `old`.
    fn changes_since(&self, old: &Self) -> Vec<String>;
}

/// Reads, writes or refreshes the lock of `spec` as `opts.lock` says: an existing lock
/// made from `inputs` is used as is if `usable` accepts it (one from other inputs is
/// stale); otherwise `resolve` makes a new one, which is written.
pub(crate) fn ensure_distro_lock<L: DistroLock>(
    spec: &Spec,
    opts: &BuildOptions,
    inputs: &str,
    usable: impl FnOnce(&L) -> Result<(), BuildError>,
    resolve: impl FnOnce() -> Result<L, BuildError>,
) -> Result<(L, LockOutcome), BuildError> {
    let path = lock_path(spec);
    let existing = L::load_lock(&path)?;
    if opts.lock == LockMode::UseOrCreate
        && let Some(lock) = existing.as_ref()
    {
        if lock.inputs() != inputs {
            return Err(BuildError::StaleLock { path });
        }
        usable(lock)?;
        return Ok((lock.clone(), LockOutcome::Used));
    }
    let lock = resolve()?;
    lock.save_lock(&path)?;
    let outcome = match existing {
        Some(old) => LockOutcome::Updated {
            changes: lock.changes_since(&old),
        },
        None => LockOutcome::Created,
    };
    Ok((lock, outcome))
}

/// Reads, writes or refreshes the lock of an RPM-based spec as `opts.lock` says.
pub fn ensure_rpm_lock(
    spec: &Spec,
    opts: &BuildOptions,
) -> Result<(plinth_rpm::lock::RpmLock, LockOutcome), BuildError> {
    let r = spec.rpm.as_ref().ok_or_else(|| BuildError::Rpm {
        message: format!("{} has no [rpm] table", spec.path.display()),
        hint: None,
        source: None,
    })?;
    crate::rpm::ensure_lock(spec, r, opts, &package_cache(opts))
}

/// Builds `spec`. Reads local files; writes nothing.
pub fn build(spec: &Spec, opts: &BuildOptions) -> Result<BuiltImage, BuildError> {
    let platforms: Vec<Platform> = match &opts.only_platforms {
        None => spec.platforms.clone(),
        Some(only) => {
            if let Some(p) = only.iter().find(|p| !spec.platforms.contains(p)) {
                return Err(BuildError::Spec(Box::new(crate::SpecError {
                    path: spec.path.clone(),
                    location: None,
                    message: format!("--platform {p} is not one of the spec's platforms"),
                    hint: Some(format!(
                        "the spec builds {}",
                        spec.platforms
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                })));
            }
            spec.platforms
                .iter()
                .filter(|p| only.contains(p))
                .cloned()
                .collect()
        }
    };
    let created = plinth_core::date::format_rfc3339(
        i64::try_from(opts.source_date_epoch).unwrap_or(i64::MAX),
    );
    let config = image_config(spec)?;
    let lock = match &spec.debian {
        Some(_) => Some(ensure_lock(spec, opts)?),
        None => None,
    };
    let cache = package_cache(opts);
    // Layers spooled by a build that was killed (a layer can be large).
    plinth_oci::write::remove_stale_temporaries(&cache.tmp_dir());
    let alpine_lock = match &spec.alpine {
        Some(a) => Some(crate::alpine::ensure_lock(spec, a, opts, &cache)?),
        None => None,
    };
    let rpm_lock = match &spec.rpm {
        Some(r) => Some(crate::rpm::ensure_lock(spec, r, opts, &cache)?),
        None => None,
    };
    let mut images = Vec::new();
    for platform in &platforms {
        let mut layers = Vec::new();
        if let (Some(r), Some((lock, _))) = (&spec.rpm, &rpm_lock) {
            let layers = crate::rpm::image_layers(spec, r, lock, platform, &cache, opts)?;
            push_files_and_image(spec, platform, &config, &created, layers, opts, &mut images)?;
            continue;
        }
        if let (Some(a), Some((lock, _))) = (&spec.alpine, &alpine_lock) {
            let a = &crate::alpine::with_options(a, opts);
            let locked =
                lock.platform(&platform.to_string())
                    .ok_or_else(|| BuildError::StaleLock {
                        path: lock_path(spec),
                    })?;
            let keys = crate::alpine::keyring(a)?;
            let pkgs = crate::alpine::platform_packages(
                a,
                locked,
                &keys,
                &cache,
                spec.compression,
                opts.source_date_epoch,
                opts.reporter.as_ref(),
            )?;
            layers.extend(pkgs.layers);
            let mut base = accounts_layer(spec)?;
            crate::alpine::system_files(&mut base, a, lock, locked, &keys, &pkgs.installed)?;
            layers.push((
                base.finish_in(spec.compression, opts.source_date_epoch, &cache.tmp_dir())?,
                "system".to_string(),
            ));
            push_files_and_image(spec, platform, &config, &created, layers, opts, &mut images)?;
            continue;
        }
        let system = spec
            .debian
            .as_ref()
            .and_then(|d| d.profile)
            .filter(|p| p.is_system());
        if let (Some(profile), Some(d), Some((lock, _))) = (system, &spec.debian, &lock) {
            // A whole system: dpkg writes the accounts, os-release and the rest.
            let d = &debian::with_options(spec, d, opts)?;
            let locked =
                lock.platform(&platform.to_string())
                    .ok_or_else(|| BuildError::StaleLock {
                        path: lock_path(spec),
                    })?;
            let suites: Vec<String> = lock.suites.iter().map(|s| s.name.clone()).collect();
            let inputs = crate::system::SystemInputs {
                profile,
                arch: &locked.arch,
                sources: crate::system::sources_text(d, &suites)?,
                compression: spec.compression,
                epoch: opts.source_date_epoch,
            };
            layers.push(crate::system::system_layer(
                d,
                locked,
                &inputs,
                &cache,
                opts.reporter.as_ref(),
            )?);
            push_files_and_image(spec, platform, &config, &created, layers, opts, &mut images)?;
            continue;
        }
        let mut base = accounts_layer(spec)?;
        if let (Some(d), Some((lock, _))) = (&spec.debian, &lock) {
            let d = &debian::with_options(spec, d, opts)?;
            let locked =
                lock.platform(&platform.to_string())
                    .ok_or_else(|| BuildError::StaleLock {
                        path: lock_path(spec),
                    })?;
            let pkgs = debian::platform_packages(
                d,
                locked,
                &cache,
                spec.compression,
                opts.source_date_epoch,
                opts.reporter.as_ref(),
            )?;
            layers.extend(pkgs.layers);
            debian::system_files(&mut base, d, pkgs.ca_bundle.as_deref())?;
        }
        let comment = if spec.debian.is_some() {
            "system"
        } else {
            "accounts"
        };
        layers.push((
            base.finish_in(spec.compression, opts.source_date_epoch, &cache.tmp_dir())?,
            comment.to_string(),
        ));
        push_files_and_image(spec, platform, &config, &created, layers, opts, &mut images)?;
    }
    let artifact = ImageBuilder::new(spec.annotations.clone()).build(images)?;
    Ok(BuiltImage {
        artifact,
        platforms,
        lock,
        alpine_lock,
        rpm_lock,
    })
}

/// Adds the spec's own files as a last layer, and the platform's image to `images`.
fn push_files_and_image(
    spec: &Spec,
    platform: &Platform,
    config: &plinth_oci::spec::Config,
    created: &str,
    mut layers: Vec<(plinth_oci::LayerBlob, String)>,
    opts: &BuildOptions,
    images: &mut Vec<PlatformImage>,
) -> Result<(), BuildError> {
    let files = files_layer(spec, platform)?;
    if !files.is_empty() {
        layers.push((
            // A large layer is spooled in the cache's tmp/, beside where layers are kept.
            files.finish_in(
                spec.compression,
                opts.source_date_epoch,
                &package_cache(opts).tmp_dir(),
            )?,
            "files".to_string(),
        ));
    }
    let mut p = plinth_oci::spec::Platform::default();
    p.set_os(Os::from(platform.os.as_str()));
    p.set_architecture(Arch::from(platform.arch.as_str()));
    p.set_variant(platform.variant.clone());
    images.push(PlatformImage {
        platform: p,
        config: config.clone(),
        layers,
        created: created.to_string(),
    });
    Ok(())
}

fn image_config(spec: &Spec) -> Result<plinth_oci::spec::Config, BuildError> {
    let c = &spec.config;
    let mut b = ConfigBuilder::default()
        .user(format!("{}:{}", spec.run_as.0, spec.run_as.1))
        .env(
            c.env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
        )
        .working_dir(c.workdir.clone().unwrap_or_else(|| default_workdir(spec)));
    if let Some(e) = &c.entrypoint {
        b = b.entrypoint(e.clone());
    }
    if let Some(cmd) = &c.cmd {
        b = b.cmd(cmd.clone());
    }
    if !c.ports.is_empty() {
        b = b.exposed_ports(c.ports.clone());
    }
    if !c.volumes.is_empty() {
        b = b.volumes(c.volumes.clone());
    }
    if !c.labels.is_empty() {
        b = b.labels(c.labels.clone().into_iter().collect::<HashMap<_, _>>());
    }
    if let Some(s) = &c.stop_signal {
        b = b.stop_signal(s.clone());
    }
    b.build().map_err(|e| {
        BuildError::Oci(plinth_oci::Error::Invalid {
            what: "image config".into(),
            reason: e.to_string(),
        })
    })
}

/// distroless's rule for Debian images: the `:nonroot` variant starts in the user's home,
/// root in `/`. Scratch images start in `/`.
fn default_workdir(spec: &Spec) -> String {
    let home = spec
        .accounts
        .users
        .iter()
        .find(|u| u.uid == spec.run_as.0 && u.home_mode.is_some());
    match home {
        Some(u) if (spec.debian.is_some() || spec.alpine.is_some()) && spec.run_as.0 != 0 => {
            u.home.clone()
        }
        _ => "/".into(),
    }
}

fn accounts_layer(spec: &Spec) -> Result<LayerBuilder, BuildError> {
    let mut l = LayerBuilder::new("the accounts layer");
    let a = &spec.accounts;
    l.add("/etc", Entry::dir(0o755, 0, 0))?;
    l.add("/etc/passwd", Entry::bytes(a.passwd().into_bytes(), 0o644))?;
    l.add("/etc/group", Entry::bytes(a.group().into_bytes(), 0o644))?;
    l.add("/tmp", Entry::dir(0o1777, 0, 0))?;
    for u in &a.users {
        if let Some(mode) = u.home_mode
            && u.home != "/"
        {
            l.add(&u.home, Entry::dir(mode, u.uid.into(), u.gid.into()))?;
        }
    }
    Ok(l)
}

fn files_layer(spec: &Spec, platform: &Platform) -> Result<LayerBuilder, BuildError> {
    let mut l = LayerBuilder::new("the files layer");
    for d in &spec.dirs {
        l.add(&d.path, Entry::dir(d.mode, d.uid.into(), d.gid.into()))?;
    }
    for f in &spec.files {
        if f.platforms
            .as_ref()
            .is_some_and(|ps| !ps.contains(platform))
        {
            continue;
        }
        add_source(&mut l, &f.src, &f.dst, f.mode, f.uid, f.gid)?;
    }
    for (path, target) in &spec.symlinks {
        l.add(path, Entry::symlink(target.clone()))?;
    }
    Ok(l)
}

/// Adds a local file, or a directory tree, at `dst`. File modes come from the spec, or
/// else are 0755 for files their owner may execute and 0644 for the rest, so that the
/// umask and the checkout never show through.
fn add_source(
    l: &mut LayerBuilder,
    src: &Path,
    dst: &str,
    mode: Option<u32>,
    uid: u32,
    gid: u32,
) -> Result<(), BuildError> {
    let err = |source| BuildError::Source {
        path: src.to_path_buf(),
        dst: format!("/{dst}"),
        source,
    };
    let meta = fs_err::symlink_metadata(src).map_err(err)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs_err::read_link(src).map_err(err)?;
        l.add(dst, Entry::symlink(target.to_string_lossy().into_owned()))?;
    } else if ft.is_file() {
        fs_err::File::open(src).map_err(err)?;
        let exec = meta.permissions().mode() & 0o100 != 0;
        let mode = mode.unwrap_or(if exec { 0o755 } else { 0o644 });
        l.add(
            dst,
            Entry::file(
                Content::Path(src.to_path_buf()),
                mode,
                uid.into(),
                gid.into(),
            ),
        )?;
    } else if ft.is_dir() {
        // A mode given for this tree is explicit; otherwise an explicit [[dirs]] entry for
        // the same path keeps its mode and owner.
        match mode {
            Some(m) => l.add(dst, Entry::dir(m, uid.into(), gid.into()))?,
            None => l.ensure_dir(dst, Entry::dir(0o755, uid.into(), gid.into()))?,
        }
        let mut children: Vec<_> = fs_err::read_dir(src)
            .map_err(err)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(err)?;
        children.sort();
        for c in children {
            let name = c.to_string_lossy();
            add_source(l, &src.join(&c), &format!("{dst}/{name}"), None, uid, gid)?;
        }
    } else {
        return Err(err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file, directory or symlink",
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_oci::{ArtifactSource, ImageFs, ImageFsOptions, ImageSource, NodeKind, validate};

    #[test]
    fn built_image_validates_and_holds_what_the_spec_says() {
        let tmp = tempfile::tempdir().unwrap();
        fs_err::write(tmp.path().join("app"), b"#!binary").unwrap();
        let spec_path = tmp.path().join("plinth.toml");
        let spec = Spec::parse(
            &spec_path,
            "[image]\nname = \"t\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n\
             [[files]]\nsrc = \"app\"\ndst = \"/bin/app\"\nmode = \"4755\"\n\
             [[dirs]]\npath = \"/data\"\nowner = \"nonroot\"\n\
             [[symlinks]]\npath = \"/app\"\ntarget = \"bin/app\"\n",
        )
        .unwrap();
        let built = build(
            &spec,
            &BuildOptions {
                source_date_epoch: 42,
                ..Default::default()
            },
        )
        .unwrap();
        let src = ArtifactSource::new(&built.artifact, "latest");
        let src: &dyn ImageSource = &src;
        let report = validate(src).unwrap();
        assert_eq!(report.images, 2);
        let images = src.images(None).unwrap();
        assert_eq!(images[1].platform_string(), "linux/arm64");
        let fs = ImageFs::open(
            src,
            &images[0],
            &ImageFsOptions {
                keep_files_up_to: 1 << 20,
                ..Default::default()
            },
        )
        .unwrap();
        let app = fs.get("/bin/app").unwrap();
        assert_eq!((app.mode, app.uid, app.mtime), (0o4755, 0, 42));
        assert_eq!(fs.read("/app"), Some(&b"#!binary"[..]));
        assert_eq!(
            fs.get("/data").map(|n| (n.uid, n.gid)),
            Some((65532, 65532))
        );
        assert_eq!(fs.get("/tmp").map(|n| n.mode), Some(0o1777));
        assert_eq!(
            fs.get("/home/nonroot").map(|n| (n.mode, n.uid)),
            Some((0o700, 65532))
        );
        assert!(matches!(fs.get("/app").unwrap().kind, NodeKind::Symlink(_)));
        assert_eq!(
            images[0]
                .config
                .config()
                .as_ref()
                .unwrap()
                .user()
                .as_deref(),
            Some("65532:65532")
        );
    }
}
