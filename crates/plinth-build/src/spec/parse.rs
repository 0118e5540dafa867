//! [`Spec::parse`]: the `[image]` table, files, directories and symlinks; the
//! accounts, `[config]` and `[debian]` tables are checked by their own modules.

use std::path::Path;

use plinth_oci::Compression;
use plinth_oci::reference::{valid_name, valid_tag};
use toml::Spanned;

use super::ctx::{Ctx, check_image_path, parse_mode, parse_platforms};
use super::raw::{RawCompression, RawSpec};
use super::{DirSpec, FileSpec, Platform, Spec, accounts, alpine, config, debian, rpm};
use crate::error::BuildError;

impl Spec {
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
        let system = raw
            .image
            .profile
            .as_ref()
            .is_some_and(|p| p.get_ref().is_system());
        if raw.rpm.is_some() && (!raw.accounts.users.is_empty() || !raw.accounts.groups.is_empty())
        {
            return Err(ctx.err_hint(
                None,
                "an [rpm] image takes its accounts from its packages (the setup package's /etc/passwd and /etc/group): [accounts] cannot add users or groups to it",
                Some("add them in a layer built on top, or in a package of your repository"),
            ));
        }
        if system && (!raw.accounts.users.is_empty() || !raw.accounts.groups.is_empty()) {
            return Err(ctx.err_hint(
                None,
                "a system profile (slim, full) takes its accounts from base-passwd: [accounts] cannot add users or groups to it",
                Some("add them in a layer built on top (useradd works in the image), or use a distroless profile"),
            ));
        }
        let accounts = accounts::check_accounts(&ctx, &raw.accounts)?;
        let run_as = match &raw.image.run_as {
            Some(r) => accounts.resolve_owner(r.get_ref()).ok_or_else(|| {
                ctx.err_hint(
                    Some(r.span()),
                    format!("`image.run-as` names `{}`, which is not a user of this image", r.get_ref()),
                    Some("declare it under [[accounts.users]], or use root, nobody, nonroot or a numeric uid:gid"),
                )
            })
            .map(|(u, g)| (u, g, r.get_ref().clone()))?,
            // A system image starts as root, as Debian's do; an RPM image too, as UBI's
            // do (its packages' accounts have no `nonroot`).
            None if system || raw.rpm.is_some() => (0, 0, "root".into()),
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
        let mut config = config::check_config(&ctx, raw.config)?;
        if let (Some(r), true) = (
            &raw.rpm,
            raw.debian.is_some() || raw.ubuntu.is_some() || raw.alpine.is_some(),
        ) {
            return Err(ctx.err_hint(
                Some(r.span()),
                "a spec has one of [debian], [ubuntu], [alpine] or [rpm], not several",
                Some("an image is built from one distribution: keep the table of the one it is built from"),
            ));
        }
        let rpm = match &raw.rpm {
            Some(r) => Some(rpm::check_rpm(&ctx, &dir, raw.image.profile.as_ref(), r)?),
            None => None,
        };
        let (debian, alpine) = match &raw.alpine {
            _ if rpm.is_some() => (None, None),
            Some(a) => {
                if raw.debian.is_some() || raw.ubuntu.is_some() {
                    return Err(ctx.err_hint(
                        Some(a.span()),
                        "a spec has one of [debian], [ubuntu] or [alpine], not several",
                        Some("an image is built from one distribution: keep the table of the one it is built from"),
                    ));
                }
                let a = alpine::check_alpine(&ctx, &dir, raw.image.profile.as_ref(), a)?;
                (None, Some(a))
            }
            None => {
                let (table, distro) = match (&raw.debian, &raw.ubuntu) {
                    (Some(_), Some(_)) => {
                        return Err(ctx.err_hint(
                            None,
                            "the spec has both [debian] and [ubuntu]: an image comes from one distribution",
                            Some("keep the table of the distribution the image is built from"),
                        ));
                    }
                    (None, Some(u)) => (Some(u), crate::profile::Distro::Ubuntu),
                    (d, None) => (d.as_ref(), crate::profile::Distro::Debian),
                };
                let debian =
                    debian::check_debian(&ctx, &dir, raw.image.profile.as_ref(), table, distro)?;
                (debian, None)
            }
        };
        if system && config.cmd.is_none() && config.entrypoint.is_none() {
            config.cmd = Some(vec!["bash".into()]);
        }
        if (debian.is_some() || alpine.is_some()) && !system {
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
            alpine,
            rpm,
        })
    }
}

fn platforms_contains(raw: &RawSpec, p: &Platform) -> bool {
    match &raw.image.platforms {
        None => p.to_string() == "linux/amd64",
        Some(list) => list
            .iter()
            .any(|s| Platform::parse(s.get_ref()).ok().as_ref() == Some(p)),
    }
}
