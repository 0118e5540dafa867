//! The `[alpine]` table: Alpine packages from signed APK repositories, and what
//! `image.profile` means for them (`static`, `base`).

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::ctx::Ctx;
use super::raw::RawAlpine;
use super::{AlpineProfile, AlpineSpec};
use crate::error::BuildError;
use crate::profile::Profile;

/// Where apk keeps its repositories on an Alpine machine: read when the spec names none.
pub const APK_REPOSITORIES: &str = "/etc/apk/repositories";
/// Where apk keeps its trusted keys: used when the spec names none.
pub const APK_KEYS: &str = "/etc/apk/keys";

pub(super) fn check_alpine(
    ctx: &Ctx,
    dir: &Path,
    profile: Option<&Spanned<Profile>>,
    raw: &Spanned<RawAlpine>,
) -> Result<AlpineSpec, BuildError> {
    let span = raw.span();
    let raw = raw.get_ref();
    let profile = match profile {
        None => None,
        Some(p) => Some(match p.get_ref() {
            Profile::Static => AlpineProfile::Static,
            Profile::Base => AlpineProfile::Base,
            other => {
                return Err(ctx.err_hint(
                    Some(p.span()),
                    format!("profile `{other}` is a Debian profile: an [alpine] image is `static` or `base`"),
                    Some("`static`: alpine-baselayout-data, ca-certificates-bundle, tzdata; `base`: + musl, busybox, apk-tools"),
                ));
            }
        }),
    };
    let release = raw.release.get_ref();
    let parts: Vec<&str> = release.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !(numeric && (2..=3).contains(&parts.len())) && release != "edge" {
        return Err(ctx.err_hint(
            Some(raw.release.span()),
            format!("`alpine.release` `{release}` is not an Alpine release"),
            Some("write the release as `3.20` (or `3.20.3`, or `edge`)"),
        ));
    }
    let mut packages: Vec<String> = profile
        .map(AlpineProfile::packages)
        .unwrap_or_default()
        .iter()
        .map(|s| s.to_string())
        .collect();
    for p in &raw.packages {
        if plinth_apk::resolve::Dependency::parse(p.get_ref()).is_err()
            || p.get_ref().starts_with('!')
            || p.get_ref().contains(char::is_whitespace)
        {
            return Err(ctx.err(
                Some(p.span()),
                format!("`{}` is not an Alpine package name", p.get_ref()),
            ));
        }
        if !packages.contains(p.get_ref()) {
            packages.push(p.get_ref().clone());
        }
    }
    if packages.is_empty() {
        return Err(ctx.err_hint(
            Some(span),
            "[alpine] names no package and the spec no profile",
            Some("set image.profile (static, base) or alpine.packages"),
        ));
    }
    let mut repositories = Vec::new();
    for r in raw.repositories.iter().flatten() {
        repositories.push(repository(
            ctx,
            dir,
            r,
            "write the repository as apk does (https://MIRROR/alpine/v3.20/main) or a directory relative to the spec",
        )?);
    }
    let keys = match &raw.keys {
        None => Vec::new(),
        Some(list) => key_paths(
            ctx,
            dir,
            list,
            "alpine",
            "name directories of *.rsa.pub files or key files, relative to the spec",
        )?,
    };
    Ok(AlpineSpec {
        profile,
        release: release.clone(),
        packages,
        repositories,
        keys,
        layering: raw.layers,
    })
}

/// The key files or directories of `TABLE.keys`, relative to the spec; each must exist.
pub(super) fn key_paths(
    ctx: &Ctx,
    dir: &Path,
    list: &[Spanned<String>],
    table: &str,
    hint: &str,
) -> Result<Vec<PathBuf>, BuildError> {
    let mut out = Vec::new();
    for k in list {
        let p = dir.join(k.get_ref());
        if !p.exists() {
            return Err(ctx.err_hint(
                Some(k.span()),
                format!(
                    "`{table}.keys` entry `{}` does not exist ({})",
                    k.get_ref(),
                    p.display()
                ),
                Some(hint),
            ));
        }
        out.push(p);
    }
    Ok(out)
}

/// A repository as written: an http(s) or file URL, or a directory relative to the spec
/// (made a `file://` URL; it need not exist until it is read); `hint` says how to write
/// one.
pub(super) fn repository(
    ctx: &Ctx,
    dir: &Path,
    r: &Spanned<String>,
    hint: &str,
) -> Result<String, BuildError> {
    let u = r.get_ref().trim_end_matches('/');
    if u.starts_with("http://") || u.starts_with("https://") || u.starts_with("file://") {
        return Ok(u.to_string());
    }
    if u.contains("://") || u.is_empty() {
        return Err(ctx.err_hint(
            Some(r.span()),
            format!("repository `{u}` is not an http, https or file URL"),
            Some(hint),
        ));
    }
    // Not required to exist: a build whose packages are all cached reads no repository.
    let path: PathBuf = dir.join(u);
    let path = fs_err::canonicalize(&path).unwrap_or(path);
    Ok(format!("file://{}", path.display()))
}
