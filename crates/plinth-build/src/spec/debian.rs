//! The `[debian]` table and `image.profile`: which packages, from which release and
//! mirror, trusting which keys.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::ctx::Ctx;
use super::raw::RawDebian;
use super::{DebianSpec, KeySource, SCRIPT_ONLY};
use crate::error::BuildError;
use crate::profile::{Distro, Profile, Release};

pub(super) fn check_debian(
    ctx: &Ctx,
    dir: &Path,
    profile: Option<&Spanned<Profile>>,
    raw: Option<&RawDebian>,
    distro: Distro,
) -> Result<Option<DebianSpec>, BuildError> {
    if profile.is_none() && raw.is_none() {
        return Ok(None);
    }
    if let Some(p) = profile
        && *p.get_ref() == Profile::Micro
    {
        return Err(ctx.err_hint(
            Some(p.span()),
            "profile `micro` is an RPM profile: it needs an [rpm] table",
            Some("add [rpm] with its release, repositories and keys, or pick a Debian profile (static, base-nossl, base, cc, slim, full)"),
        ));
    }
    let release = match raw.and_then(|r| r.release.as_ref()) {
        None if distro == Distro::Ubuntu => Release::Noble,
        None => Release::Bookworm,
        Some(r) if r.get_ref().distro() != distro => {
            let other = r.get_ref().distro().id();
            return Err(ctx.err_hint(
                Some(r.span()),
                format!(
                    "`{}` is a release of {other}, not of {}",
                    r.get_ref().codename(),
                    distro.id()
                ),
                Some(match distro {
                    Distro::Debian => {
                        "Debian releases: bookworm, trixie (an Ubuntu release goes in [ubuntu])"
                    }
                    Distro::Ubuntu => {
                        "Ubuntu releases: focal, jammy, noble (a Debian release goes in [debian])"
                    }
                }),
            ));
        }
        Some(r) => *r.get_ref(),
    };
    let profile = profile.map(|p| *p.get_ref());
    let mut packages: Vec<String> = profile
        .map(|p| p.packages(release))
        .unwrap_or_default()
        .iter()
        .map(|s| s.to_string())
        .collect();
    // A system's maintainer scripts run: what they need is installed.
    let system = profile.is_some_and(Profile::is_system);
    let mut exclude: Vec<String> = if system {
        Vec::new()
    } else {
        SCRIPT_ONLY.iter().map(|s| s.to_string()).collect()
    };
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
        for (key, m) in [
            ("mirror", &r.mirror),
            ("security-mirror", &r.security_mirror),
        ] {
            let Some(m) = m else { continue };
            let u = m.get_ref();
            if !u.contains("://") {
                // A path: relative to the spec, and it must be there.
                if !dir.join(u).join("dists").is_dir() {
                    return Err(ctx.err_hint(
                        Some(m.span()),
                        format!(
                            "{key} `{u}` is a path, and {} holds no dists/ directory",
                            dir.join(u).display()
                        ),
                        Some("a local mirror is the directory holding dists/ and pool/, relative to the spec"),
                    ));
                }
                continue;
            }
            if !(u.starts_with("http://") || u.starts_with("https://") || u.starts_with("file://"))
            {
                return Err(ctx.err_hint(
                    Some(m.span()),
                    format!("{key} `{u}` is not an http, https or file URI"),
                    Some("write the mirror's base URI (the directory holding dists/ and pool/), or a path relative to the spec"),
                ));
            }
        }
        if let (false, Some(m)) = (r.security, &r.security_mirror) {
            return Err(ctx.err(
                Some(m.span()),
                "`security-mirror` is set but `security = false` leaves the security suite out",
            ));
        }
    }
    if packages.is_empty() {
        return Err(ctx.err_hint(
            None,
            "[debian] names no package and the spec no profile",
            Some("set image.profile (static, base-nossl, base, cc, slim, full) or debian.packages"),
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
        mirror: raw.and_then(|r| r.mirror.as_ref().map(|m| mirror_uri(dir, m.get_ref()))),
        security_mirror: raw.and_then(|r| {
            r.security_mirror
                .as_ref()
                .map(|m| mirror_uri(dir, m.get_ref()))
        }),
        security: raw.is_none_or(|r| r.security),
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
        keep_docs: raw.is_some_and(|r| r.keep_docs) || profile == Some(Profile::Full),
    }))
}

/// A mirror as written: a URI as is, a path (checked to exist) as the `file://` URI of
/// its absolute form, against the spec's directory.
fn mirror_uri(dir: &Path, written: &str) -> String {
    if written.contains("://") {
        return written.trim_end_matches('/').to_string();
    }
    let path = dir.join(written);
    let path = fs_err::canonicalize(&path).unwrap_or(path);
    format!("file://{}", path.display())
        .trim_end_matches('/')
        .to_string()
}
