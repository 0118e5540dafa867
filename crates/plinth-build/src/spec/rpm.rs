//! The `[rpm]` table: RPM packages from signed yum/dnf repositories, and what
//! `image.profile` means for them (`micro`).

use std::path::Path;

use toml::Spanned;

use super::alpine::{key_paths, repository};
use super::ctx::Ctx;
use super::raw::RawRpm;
use super::{RpmProfile, RpmSpec};
use crate::error::BuildError;
use crate::profile::Profile;

pub(super) fn check_rpm(
    ctx: &Ctx,
    dir: &Path,
    profile: Option<&Spanned<Profile>>,
    raw: &Spanned<RawRpm>,
) -> Result<RpmSpec, BuildError> {
    let span = raw.span();
    let raw = raw.get_ref();
    let profile = match profile {
        None => None,
        Some(p) if *p.get_ref() == Profile::Micro => Some(RpmProfile::Micro),
        Some(p) => {
            return Err(ctx.err_hint(
                Some(p.span()),
                format!(
                    "profile `{}` is not an RPM profile: an [rpm] image is `micro`, or no profile",
                    p.get_ref()
                ),
                Some("`micro`: the release package (system-release), filesystem, setup, glibc"),
            ));
        }
    };
    let release = raw.release.get_ref().trim();
    if release.is_empty() || release.chars().any(char::is_control) {
        return Err(ctx.err_hint(
            Some(raw.release.span()),
            "`rpm.release` is empty",
            Some("name the distribution release the repositories serve, e.g. `el8`"),
        ));
    }
    let name_ok = |s: &str| {
        !s.is_empty()
            && !s.starts_with('-')
            && !s.contains(char::is_whitespace)
            && !s.chars().any(char::is_control)
    };
    let mut packages: Vec<String> = profile
        .map(RpmProfile::packages)
        .unwrap_or_default()
        .iter()
        .map(|s| s.to_string())
        .collect();
    for p in &raw.packages {
        if !name_ok(p.get_ref()) {
            return Err(ctx.err(
                Some(p.span()),
                format!("`{}` is not an RPM package name or capability", p.get_ref()),
            ));
        }
        if !packages.contains(p.get_ref()) {
            packages.push(p.get_ref().clone());
        }
    }
    if packages.is_empty() {
        return Err(ctx.err_hint(
            Some(span),
            "[rpm] names no package and the spec no profile",
            Some("set image.profile = \"micro\" or rpm.packages"),
        ));
    }
    let mut exclude = Vec::new();
    for e in &raw.exclude {
        if !name_ok(e.get_ref()) {
            return Err(ctx.err(
                Some(e.span()),
                format!("`{}` is not an RPM package name", e.get_ref()),
            ));
        }
        if packages.contains(e.get_ref()) {
            return Err(ctx.err(
                Some(e.span()),
                format!("`{}` is both requested and excluded", e.get_ref()),
            ));
        }
        exclude.push(e.get_ref().clone());
    }
    if raw.repositories.is_empty() {
        return Err(ctx.err_hint(
            Some(span),
            "[rpm] names no repositories",
            Some("set rpm.repositories to the repositories' baseurls (https://MIRROR/…, file://…, or directories relative to the spec)"),
        ));
    }
    let mut repositories = Vec::new();
    for r in &raw.repositories {
        repositories.push(repository(
            ctx,
            dir,
            r,
            "write the repository as its baseurl (the directory holding repodata/), or a directory relative to the spec",
        )?);
    }
    if raw.keys.is_empty() {
        return Err(ctx.err_hint(
            Some(span),
            "[rpm] names no keys: Plinth ships none for RPM distributions",
            Some("set rpm.keys to the distribution's armoured key files (RPM-GPG-KEY-…), relative to the spec"),
        ));
    }
    let keys = key_paths(
        ctx,
        dir,
        &raw.keys,
        "rpm",
        "name armoured OpenPGP key files (RPM-GPG-KEY-…) or directories of them, relative to the spec",
    )?;
    Ok(RpmSpec {
        profile,
        release: release.to_string(),
        packages,
        exclude,
        repositories,
        keys,
        layering: raw.layers,
    })
}
