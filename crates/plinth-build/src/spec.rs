//! The image spec (`plinth.toml`): parsed strictly (unknown keys are errors), then
//! checked, so that every mistake is reported with its file, line, column and key.
//! `docs/spec.md` documents every key.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plinth_oci::Compression;
use serde::Deserialize;
use toml::Spanned;

use crate::accounts::{Accounts, RawAccounts};
use crate::error::{BuildError, SpecError};
use crate::profile::{Profile, Release};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSpec {
    image: RawImage,
    #[serde(default)]
    config: RawConfig,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    accounts: RawAccounts,
    #[serde(default)]
    files: Vec<RawFile>,
    #[serde(default)]
    dirs: Vec<RawDir>,
    #[serde(default)]
    symlinks: Vec<RawSymlink>,
    debian: Option<RawDebian>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDebian {
    #[serde(default = "default_release")]
    release: Release,
    #[serde(default)]
    packages: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    layers: Layering,
    mirror: Option<Spanned<String>>,
    #[serde(default)]
    keys: Vec<Spanned<String>>,
    #[serde(default)]
    ca_certificates: Vec<Spanned<String>>,
    #[serde(default)]
    keep_docs: bool,
}

fn default_release() -> Release {
    Release::Bookworm
}

/// How Debian packages are laid out in layers.
#[derive(Deserialize, Default, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Layering {
    /// One layer per package (as distroless): layers are shared between images.
    #[default]
    PerPackage,
    /// All packages in one layer.
    Single,
}

/// The Debian part of a spec: a profile and/or packages, from one release.
#[derive(Debug, Clone)]
pub struct DebianSpec {
    pub profile: Option<Profile>,
    pub release: Release,
    /// Requested packages: the profile's, then the spec's own.
    pub packages: Vec<String>,
    /// Never installed (and treated as present when resolving).
    pub exclude: Vec<String>,
    pub layering: Layering,
    /// A mirror base URI overriding the machine's apt sources.
    pub mirror: Option<String>,
    /// Extra OpenPGP keys trusted for the mirror: files (relative to the spec) or
    /// armoured blocks written in the spec.
    pub keys: Vec<KeySource>,
    /// Extra CA certificates (PEM files) appended to the CA bundle.
    pub ca_certificates: Vec<PathBuf>,
    /// Keep manuals and documentation other than `copyright` files.
    pub keep_docs: bool,
}

#[derive(Debug, Clone)]
pub enum KeySource {
    File(PathBuf),
    Inline(String),
}

/// Packages that only maintainer scripts need (Plinth runs none): never installed by a
/// profile, as distroless does. `base-files` pre-depends on awk, `ca-certificates` on
/// openssl and debconf, `tzdata` on debconf.
pub const SCRIPT_ONLY: &[&str] = &["debconf", "debconf-2.0", "openssl", "awk", "mawk"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawImage {
    name: Option<Spanned<String>>,
    tag: Option<Spanned<String>>,
    #[serde(default)]
    base: Base,
    platforms: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    compression: RawCompression,
    run_as: Option<Spanned<String>>,
    profile: Option<Spanned<Profile>>,
}

/// What the image starts from. Only `scratch` today; Debian profiles come next.
#[derive(Deserialize, Default, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Base {
    #[default]
    Scratch,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum RawCompression {
    #[default]
    Gzip,
    Zstd,
    None,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    #[serde(default)]
    env: BTreeMap<Spanned<String>, String>,
    workdir: Option<Spanned<String>>,
    #[serde(default)]
    ports: Vec<Spanned<String>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    stop_signal: Option<Spanned<String>>,
    #[serde(default)]
    volumes: Vec<Spanned<String>>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(crate) enum RawMode {
    Int(u32),
    Str(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawFile {
    src: Spanned<String>,
    dst: Spanned<String>,
    mode: Option<Spanned<RawMode>>,
    owner: Option<Spanned<String>>,
    platforms: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDir {
    path: Spanned<String>,
    mode: Option<Spanned<RawMode>>,
    owner: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSymlink {
    path: Spanned<String>,
    target: Spanned<String>,
}

/// A platform as `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    pub os: String,
    pub arch: String,
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

const ARCHES: &[&str] = &[
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

/// A checked spec, ready to build.
#[derive(Debug, Clone)]
pub struct Spec {
    pub path: PathBuf,
    pub name: String,
    pub tag: String,
    pub base: Base,
    pub platforms: Vec<Platform>,
    pub compression: Compression,
    /// Numeric `uid:gid` the image runs as, and the account name it came from.
    pub run_as: (u32, u32, String),
    pub config: ImageConfig,
    pub annotations: BTreeMap<String, String>,
    pub accounts: Accounts,
    pub files: Vec<FileSpec>,
    pub dirs: Vec<DirSpec>,
    pub symlinks: Vec<(String, String)>,
    /// Debian packages, when the spec names a profile or a `[debian]` table.
    pub debian: Option<DebianSpec>,
}

#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    pub ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    pub volumes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FileSpec {
    /// Absolute path on the local disk.
    pub src: PathBuf,
    /// Destination in the image, normalised (`usr/local/bin/app`).
    pub dst: String,
    pub mode: Option<u32>,
    pub uid: u32,
    pub gid: u32,
    pub platforms: Option<Vec<Platform>>,
}

#[derive(Debug, Clone)]
pub struct DirSpec {
    pub path: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Reports errors against one spec file's text.
pub(crate) struct Ctx<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Ctx<'_> {
    pub fn err(&self, span: Option<Range<usize>>, message: impl Into<String>) -> BuildError {
        self.err_hint(span, message, None)
    }

    pub fn err_hint(
        &self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        hint: Option<&str>,
    ) -> BuildError {
        let location = span.map(|s| line_col(self.text, s.start));
        BuildError::Spec(Box::new(SpecError {
            path: self.path.to_path_buf(),
            location,
            message: message.into(),
            hint: hint.map(str::to_string),
        }))
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

pub(crate) fn parse_mode(ctx: &Ctx, m: &Spanned<RawMode>, key: &str) -> Result<u32, BuildError> {
    let v = match m.get_ref() {
        RawMode::Int(i) => Some(*i),
        RawMode::Str(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8).ok(),
    };
    match v {
        Some(v) if v <= 0o7777 => Ok(v),
        _ => Err(ctx.err_hint(
            Some(m.span()),
            format!("`{key}` is not a file mode"),
            Some("write modes as an octal string (\"0755\") or a TOML octal integer (0o755)"),
        )),
    }
}

fn check_image_path(ctx: &Ctx, p: &Spanned<String>, key: &str) -> Result<String, BuildError> {
    if !p.get_ref().starts_with('/') {
        return Err(ctx.err(
            Some(p.span()),
            format!(
                "`{key}` must be an absolute path in the image, got `{}`",
                p.get_ref()
            ),
        ));
    }
    plinth_oci::layer::normalize_path(p.get_ref(), key)
        .map_err(|e| ctx.err(Some(p.span()), e.to_string()))
}

fn parse_platforms(ctx: &Ctx, list: &[Spanned<String>]) -> Result<Vec<Platform>, BuildError> {
    let mut out: Vec<Platform> = Vec::new();
    for p in list {
        let plat = Platform::parse(p.get_ref()).map_err(|m| {
            ctx.err_hint(
                Some(p.span()),
                m,
                Some("platforms look like \"linux/amd64\" or \"linux/arm64/v8\""),
            )
        })?;
        if out.contains(&plat) {
            return Err(ctx.err(Some(p.span()), format!("platform `{plat}` is listed twice")));
        }
        out.push(plat);
    }
    Ok(out)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.as_bytes()[0].is_ascii_alphanumeric()
        })
}

fn valid_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && (s.as_bytes()[0].is_ascii_alphanumeric() || s.as_bytes()[0] == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl Spec {
    /// Reads and checks the spec at `path`.
    pub fn load(path: &Path) -> Result<Spec, BuildError> {
        let text = fs_err::read_to_string(path).map_err(|source| BuildError::ReadSpec {
            path: path.to_path_buf(),
            source,
        })?;
        Spec::parse(path, &text)
    }

    /// Checks `text` as the spec at `path` (relative `src` paths resolve against its directory).
    pub fn parse(path: &Path, text: &str) -> Result<Spec, BuildError> {
        let ctx = Ctx { path, text };
        let raw: RawSpec = toml::from_str(text).map_err(|e| {
            ctx.err_hint(
                e.span(),
                e.message().to_string(),
                Some("see docs/spec.md for every key a spec may hold"),
            )
        })?;
        let dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."));
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());

        let name = match &raw.image.name {
            Some(n) if !valid_name(n.get_ref()) => {
                return Err(ctx.err(Some(n.span()), format!("`image.name` `{}` is not a valid image name (lower-case letters, digits, `._-/`)", n.get_ref())));
            }
            Some(n) => n.get_ref().clone(),
            None => dir
                .file_name()
                .map(|n| n.to_string_lossy().to_lowercase())
                .filter(|n| valid_name(n))
                .unwrap_or_else(|| "image".into()),
        };
        let tag = match &raw.image.tag {
            Some(t) if !valid_tag(t.get_ref()) => {
                return Err(ctx.err(
                    Some(t.span()),
                    format!("`image.tag` `{}` is not a valid tag", t.get_ref()),
                ));
            }
            Some(t) => t.get_ref().clone(),
            None => "latest".into(),
        };
        let platforms = match &raw.image.platforms {
            Some(list) if list.is_empty() => {
                return Err(ctx.err(
                    None,
                    "`image.platforms` is empty: name at least one platform",
                ));
            }
            Some(list) => parse_platforms(&ctx, list)?,
            None => vec![Platform::parse("linux/amd64").expect("valid")],
        };
        let compression = match raw.image.compression {
            RawCompression::Gzip => Compression::Gzip,
            RawCompression::Zstd => Compression::Zstd,
            RawCompression::None => Compression::None,
        };
        let accounts = Accounts::from_raw(&ctx, &raw.accounts)?;
        let run_as = match &raw.image.run_as {
            Some(r) => accounts.resolve_owner(r.get_ref()).ok_or_else(|| {
                ctx.err_hint(
                    Some(r.span()),
                    format!("`image.run-as` names `{}`, which is not a user of this image", r.get_ref()),
                    Some("declare it under [[accounts.users]], or use root, nobody, nonroot or a numeric uid:gid"),
                )
            })
            .map(|(u, g)| (u, g, r.get_ref().clone()))?,
            None => {
                let (u, g) = accounts.resolve_owner("nonroot").ok_or_else(|| {
                    ctx.err_hint(None, "no `image.run-as` and no `nonroot` user", Some("set image.run-as, or keep accounts.defaults = true"))
                })?;
                (u, g, "nonroot".into())
            }
        };
        let owner = |o: &Option<Spanned<String>>| -> Result<(u32, u32), BuildError> {
            match o {
                None => Ok((0, 0)),
                Some(o) => accounts.resolve_owner(o.get_ref()).ok_or_else(|| {
                    ctx.err_hint(
                        Some(o.span()),
                        format!(
                            "owner `{}` names no user or group of this image",
                            o.get_ref()
                        ),
                        Some("owners are `user`, `user:group` or numeric `uid:gid`"),
                    )
                }),
            }
        };

        let mut files = Vec::new();
        for f in &raw.files {
            let dst = check_image_path(&ctx, &f.dst, "files.dst")?;
            let src = dir.join(f.src.get_ref());
            if !src.exists() {
                return Err(ctx.err_hint(
                    Some(f.src.span()),
                    format!(
                        "source `{}` for `{}` does not exist ({})",
                        f.src.get_ref(),
                        f.dst.get_ref(),
                        src.display()
                    ),
                    Some("`src` paths are relative to the directory holding the spec file"),
                ));
            }
            let mode = f
                .mode
                .as_ref()
                .map(|m| parse_mode(&ctx, m, "files.mode"))
                .transpose()?;
            let (uid, gid) = owner(&f.owner)?;
            let platforms = f
                .platforms
                .as_ref()
                .map(|p| parse_platforms(&ctx, p))
                .transpose()?;
            if let Some(ps) = &platforms
                && let Some(p) = ps.iter().find(|p| !platforms_contains(&raw, p))
            {
                return Err(ctx.err(
                    f.platforms
                        .as_ref()
                        .and_then(|v| v.first())
                        .map(|s| s.span()),
                    format!(
                        "file `{}` names platform `{p}`, which `image.platforms` does not build",
                        f.dst.get_ref()
                    ),
                ));
            }
            files.push(FileSpec {
                src,
                dst,
                mode,
                uid,
                gid,
                platforms,
            });
        }
        let mut dirs = Vec::new();
        for d in &raw.dirs {
            let path = check_image_path(&ctx, &d.path, "dirs.path")?;
            let mode = d
                .mode
                .as_ref()
                .map(|m| parse_mode(&ctx, m, "dirs.mode"))
                .transpose()?
                .unwrap_or(0o755);
            let (uid, gid) = owner(&d.owner)?;
            dirs.push(DirSpec {
                path,
                mode,
                uid,
                gid,
            });
        }
        let mut symlinks = Vec::new();
        for s in &raw.symlinks {
            let path = check_image_path(&ctx, &s.path, "symlinks.path")?;
            let t = s.target.get_ref();
            if t.is_empty() || t.contains('\0') {
                return Err(ctx.err(
                    Some(s.target.span()),
                    "`symlinks.target` must be a non-empty path",
                ));
            }
            symlinks.push((path, t.clone()));
        }
        let mut config = check_config(&ctx, raw.config)?;
        let debian = check_debian(&ctx, &dir, raw.image.profile.as_ref(), raw.debian.as_ref())?;
        if debian.is_some() {
            config
                .env
                .entry("SSL_CERT_FILE".into())
                .or_insert_with(|| crate::profile::SSL_CERT_FILE.into());
        }
        Ok(Spec {
            path: path.to_path_buf(),
            name,
            tag,
            base: raw.image.base,
            platforms,
            compression,
            run_as,
            config,
            annotations: raw.annotations,
            accounts,
            files,
            dirs,
            symlinks,
            debian,
        })
    }
}

fn check_debian(
    ctx: &Ctx,
    dir: &Path,
    profile: Option<&Spanned<Profile>>,
    raw: Option<&RawDebian>,
) -> Result<Option<DebianSpec>, BuildError> {
    if profile.is_none() && raw.is_none() {
        return Ok(None);
    }
    let release = raw.map_or(Release::Bookworm, |r| r.release);
    let profile = profile.map(|p| *p.get_ref());
    let mut packages: Vec<String> = profile
        .map(|p| p.packages(release))
        .unwrap_or_default()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut exclude: Vec<String> = SCRIPT_ONLY.iter().map(|s| s.to_string()).collect();
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.:=<>() ~".contains(&b))
    };
    if let Some(r) = raw {
        for p in &r.packages {
            if !valid(p.get_ref()) {
                return Err(ctx.err(
                    Some(p.span()),
                    format!("`{}` is not a Debian package name", p.get_ref()),
                ));
            }
            if !packages.contains(p.get_ref()) {
                packages.push(p.get_ref().clone());
            }
        }
        for x in &r.exclude {
            if !valid(x.get_ref()) {
                return Err(ctx.err(
                    Some(x.span()),
                    format!("`{}` is not a Debian package name", x.get_ref()),
                ));
            }
            if packages.contains(x.get_ref()) {
                return Err(ctx.err(
                    Some(x.span()),
                    format!("`{}` is both requested and excluded", x.get_ref()),
                ));
            }
            exclude.push(x.get_ref().clone());
        }
        if let Some(m) = &r.mirror {
            let u = m.get_ref();
            if !(u.starts_with("http://") || u.starts_with("https://") || u.starts_with("file://"))
            {
                return Err(ctx.err_hint(
                    Some(m.span()),
                    format!("mirror `{u}` is not an http, https or file URI"),
                    Some("write the mirror's base URI, the directory holding dists/ and pool/"),
                ));
            }
        }
    }
    if packages.is_empty() {
        return Err(ctx.err_hint(
            None,
            "[debian] names no package and the spec no profile",
            Some("set image.profile (static, base-nossl, base, cc) or debian.packages"),
        ));
    }
    exclude.sort();
    exclude.dedup();
    let files =
        |list: Option<&Vec<Spanned<String>>>, key: &str| -> Result<Vec<PathBuf>, BuildError> {
            let mut out = Vec::new();
            for f in list.into_iter().flatten() {
                let p = dir.join(f.get_ref());
                if !p.is_file() {
                    return Err(ctx.err(
                        Some(f.span()),
                        format!(
                            "`{key}` file `{}` does not exist ({})",
                            f.get_ref(),
                            p.display()
                        ),
                    ));
                }
                out.push(p);
            }
            Ok(out)
        };
    Ok(Some(DebianSpec {
        profile,
        release,
        packages,
        exclude,
        layering: raw.map(|r| r.layers).unwrap_or_default(),
        mirror: raw.and_then(|r| {
            r.mirror
                .as_ref()
                .map(|m| m.get_ref().trim_end_matches('/').to_string())
        }),
        keys: {
            let (inline, paths): (Vec<_>, Vec<_>) = raw
                .map(|r| r.keys.clone())
                .unwrap_or_default()
                .into_iter()
                .partition(|k| k.get_ref().trim_start().starts_with("-----BEGIN PGP"));
            let mut keys: Vec<KeySource> = files(Some(&paths), "debian.keys")?
                .into_iter()
                .map(KeySource::File)
                .collect();
            keys.extend(
                inline
                    .into_iter()
                    .map(|k| KeySource::Inline(k.into_inner())),
            );
            keys
        },
        ca_certificates: files(raw.map(|r| &r.ca_certificates), "debian.ca-certificates")?,
        keep_docs: raw.is_some_and(|r| r.keep_docs),
    }))
}

fn platforms_contains(raw: &RawSpec, p: &Platform) -> bool {
    match &raw.image.platforms {
        None => p.to_string() == "linux/amd64",
        Some(list) => list
            .iter()
            .any(|s| Platform::parse(s.get_ref()).ok().as_ref() == Some(p)),
    }
}

fn check_config(ctx: &Ctx, c: RawConfig) -> Result<ImageConfig, BuildError> {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_string(), DEFAULT_PATH.to_string());
    for (k, v) in c.env {
        let key = k.get_ref();
        if key.is_empty() || key.contains('=') || key.contains('\0') || v.contains('\0') {
            return Err(ctx.err(
                Some(k.span()),
                format!("`{key}` is not a valid environment variable name"),
            ));
        }
        env.insert(key.clone(), v);
    }
    let workdir = match c.workdir {
        Some(w) if !w.get_ref().starts_with('/') => {
            return Err(ctx.err(
                Some(w.span()),
                format!("`config.workdir` must be absolute, got `{}`", w.get_ref()),
            ));
        }
        w => w.map(|w| w.into_inner()),
    };
    let mut ports = Vec::new();
    for p in &c.ports {
        let s = p.get_ref();
        let (num, proto) = s.split_once('/').unwrap_or((s, "tcp"));
        let ok = num.parse::<u16>().is_ok_and(|n| n > 0) && ["tcp", "udp", "sctp"].contains(&proto);
        if !ok {
            return Err(ctx.err_hint(
                Some(p.span()),
                format!("`{s}` is not a port"),
                Some("ports look like \"8080\", \"8080/tcp\" or \"53/udp\""),
            ));
        }
        ports.push(format!("{num}/{proto}"));
    }
    ports.sort();
    ports.dedup();
    let stop_signal = match c.stop_signal {
        Some(s) => {
            let v = s.get_ref();
            let ok = v.parse::<u8>().is_ok_and(|n| (1..=64).contains(&n))
                || (v.starts_with("SIG")
                    && v.len() > 3
                    && v[3..].bytes().all(|b| {
                        b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'+' || b == b'-'
                    }));
            if !ok {
                return Err(ctx.err_hint(
                    Some(s.span()),
                    format!("`{v}` is not a signal"),
                    Some("write a signal name such as \"SIGTERM\" or its number"),
                ));
            }
            Some(v.clone())
        }
        None => None,
    };
    let mut volumes = Vec::new();
    for v in &c.volumes {
        if !v.get_ref().starts_with('/') {
            return Err(ctx.err(
                Some(v.span()),
                format!("volume `{}` must be an absolute path", v.get_ref()),
            ));
        }
        volumes.push(v.get_ref().clone());
    }
    Ok(ImageConfig {
        entrypoint: c.entrypoint,
        cmd: c.cmd,
        env,
        workdir,
        ports,
        labels: c.labels,
        stop_signal,
        volumes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Spec, BuildError> {
        Spec::parse(Path::new("/nonexistent-dir/plinth.toml"), text)
    }

    fn msg(text: &str) -> String {
        match parse(text) {
            Err(e) => {
                e.to_string()
                    + &format!(
                        " / {:?}",
                        match &e {
                            BuildError::Spec(s) => s.to_string(),
                            _ => String::new(),
                        }
                    )
            }
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn minimal_spec_gets_defaults() {
        let s = parse("[image]\nname = \"x\"\n").unwrap();
        assert_eq!(s.tag, "latest");
        assert_eq!(s.run_as, (65532, 65532, "nonroot".into()));
        assert_eq!(s.platforms, vec![Platform::parse("linux/amd64").unwrap()]);
        assert_eq!(s.config.env["PATH"], DEFAULT_PATH);
    }

    #[test]
    fn errors_carry_line_and_key() {
        let m = msg("[image]\nname = \"x\"\nbogus = 1\n");
        assert!(m.contains(":3:1") && m.contains("bogus"), "{m}");
        let m = msg("[image]\nplatforms = [\"linux/amd64\", \"linux/sparc\"]\n");
        assert!(m.contains(":2:29") && m.contains("sparc"), "{m}");
        let m = msg("[image]\nrun-as = \"ghost\"\n");
        assert!(m.contains(":2:10") && m.contains("ghost"), "{m}");
        let m = msg("[image]\n[[files]]\nsrc = \"nope\"\ndst = \"/x\"\n");
        assert!(m.contains(":3:7") && m.contains("does not exist"), "{m}");
        let m = msg("[image]\n[[symlinks]]\npath = \"/a/../../b\"\ntarget = \"x\"\n");
        assert!(m.contains(":3:8") && m.contains(".."), "{m}");
        let m = msg("[image]\n[[dirs]]\npath = \"/d\"\nmode = \"0999\"\n");
        assert!(m.contains(":4:8"), "{m}");
        let m = msg("[image\n");
        assert!(m.contains(":1:"), "{m}");
    }

    #[test]
    fn platform_parsing() {
        assert!(Platform::parse("linux/arm64/v8").is_ok());
        assert!(Platform::parse("linux/arm/v7").is_ok());
        assert!(Platform::parse("linux/amd64/v7").is_err());
        assert!(Platform::parse("windows/amd64").is_err());
        assert!(Platform::parse("linux").is_err());
    }
}
