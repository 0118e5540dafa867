//! The spec's TOML shapes, parsed strictly (unknown keys are errors) and checked by the
//! sibling modules into [`Spec`](super::Spec).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Base, Layering};
use crate::profile::{Profile, Release};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSpec {
    pub(super) image: RawImage,
    #[serde(default)]
    pub(super) config: RawConfig,
    #[serde(default)]
    pub(super) annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) accounts: RawAccounts,
    #[serde(default)]
    pub(super) files: Vec<RawFile>,
    #[serde(default)]
    pub(super) dirs: Vec<RawDir>,
    #[serde(default)]
    pub(super) symlinks: Vec<RawSymlink>,
    pub(super) debian: Option<RawDebian>,
    /// The same keys as `[debian]`, for Ubuntu's archive.
    pub(super) ubuntu: Option<RawDebian>,
    pub(super) alpine: Option<Spanned<RawAlpine>>,
    pub(super) rpm: Option<Spanned<RawRpm>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawRpm {
    pub(super) release: Spanned<String>,
    #[serde(default)]
    pub(super) packages: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) repositories: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) keys: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) exclude: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) layers: Layering,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawAlpine {
    pub(super) release: Spanned<String>,
    #[serde(default)]
    pub(super) packages: Vec<Spanned<String>>,
    pub(super) repositories: Option<Vec<Spanned<String>>>,
    pub(super) keys: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) layers: Layering,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawDebian {
    /// `bookworm` under `[debian]`, `noble` under `[ubuntu]` when absent.
    pub(super) release: Option<Spanned<Release>>,
    #[serde(default)]
    pub(super) packages: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) exclude: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) layers: Layering,
    pub(super) mirror: Option<Spanned<String>>,
    pub(super) security_mirror: Option<Spanned<String>>,
    #[serde(default = "yes")]
    pub(super) security: bool,
    #[serde(default)]
    pub(super) keys: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) ca_certificates: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) keep_docs: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawImage {
    pub(super) name: Option<Spanned<String>>,
    pub(super) tag: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) base: Base,
    pub(super) platforms: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) compression: RawCompression,
    pub(super) run_as: Option<Spanned<String>>,
    pub(super) profile: Option<Spanned<Profile>>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub(super) enum RawCompression {
    #[default]
    Gzip,
    Zstd,
    None,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawConfig {
    pub(super) entrypoint: Option<Vec<String>>,
    pub(super) cmd: Option<Vec<String>>,
    #[serde(default)]
    pub(super) env: BTreeMap<Spanned<String>, String>,
    pub(super) workdir: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) ports: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) labels: BTreeMap<String, String>,
    pub(super) stop_signal: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) volumes: Vec<Spanned<String>>,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum RawMode {
    Int(u32),
    Str(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawFile {
    pub(super) src: Spanned<String>,
    pub(super) dst: Spanned<String>,
    pub(super) mode: Option<Spanned<RawMode>>,
    pub(super) owner: Option<Spanned<String>>,
    pub(super) platforms: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawDir {
    pub(super) path: Spanned<String>,
    pub(super) mode: Option<Spanned<RawMode>>,
    pub(super) owner: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSymlink {
    pub(super) path: Spanned<String>,
    pub(super) target: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawAccounts {
    #[serde(default = "yes")]
    pub(super) defaults: bool,
    #[serde(default)]
    pub(super) users: Vec<RawUser>,
    #[serde(default)]
    pub(super) groups: Vec<RawGroup>,
}

impl Default for RawAccounts {
    fn default() -> Self {
        RawAccounts {
            defaults: true,
            users: Vec::new(),
            groups: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawUser {
    pub(super) name: Spanned<String>,
    pub(super) uid: u32,
    pub(super) gid: Option<u32>,
    pub(super) home: Option<String>,
    pub(super) shell: Option<String>,
    pub(super) gecos: Option<String>,
    pub(super) home_mode: Option<Spanned<RawMode>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawGroup {
    pub(super) name: Spanned<String>,
    pub(super) gid: u32,
    #[serde(default)]
    pub(super) members: Vec<String>,
}
