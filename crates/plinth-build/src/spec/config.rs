//! The `[config]` table: environment, working directory, ports, stop signal, volumes.

use std::collections::BTreeMap;

use super::ctx::Ctx;
use super::raw::RawConfig;
use super::{DEFAULT_PATH, ImageConfig};
use crate::error::BuildError;

pub(super) fn check_config(ctx: &Ctx, c: RawConfig) -> Result<ImageConfig, BuildError> {
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
