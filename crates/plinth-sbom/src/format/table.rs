//! A plain-text table for people: a header naming the image and distro, one row per
//! package (`NAME VERSION TYPE SOURCE`), and a count. No colour; columns as wide as
//! their widest cell (in characters).

use std::fmt::Write as _;

use super::{WriteOptions, rfc3339};
use crate::model::PackageKind;
use crate::{Package, Sbom};

/// Control characters would break the layout: show them escaped.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn source(p: &Package) -> String {
    match (&p.source_name, &p.source_version) {
        (Some(n), Some(v)) if !v.is_empty() && *v != p.version => format!("{n} {v}"),
        (Some(n), _) => n.clone(),
        (None, _) => String::new(),
    }
}

pub(crate) fn write(sbom: &Sbom, opts: &WriteOptions) -> Vec<u8> {
    let mut out = String::new();
    let mut image = if sbom.name.is_empty() {
        "(unnamed)".to_string()
    } else {
        cell(&sbom.name)
    };
    if let Some(d) = &sbom.digest {
        let _ = write!(image, " ({})", cell(d));
    }
    let _ = writeln!(out, "Image:  {image}");
    if let Some(p) = &sbom.platform {
        let _ = writeln!(out, "Platform: {}", cell(p));
    }
    let distro = match &sbom.distro {
        Some(d) => match (&d.pretty_name, &d.version_id) {
            (Some(p), _) if !p.is_empty() => cell(p),
            (_, Some(v)) => cell(&format!("{} {v}", d.id)),
            _ => cell(&d.id),
        },
        None => "none detected".into(),
    };
    let _ = writeln!(out, "Distro: {distro}");
    if let Some(t) = opts.created {
        let _ = writeln!(out, "Created: {}", rfc3339(t));
    }
    out.push('\n');

    let header = ["NAME", "VERSION", "TYPE", "SOURCE"];
    let rows: Vec<[String; 4]> = sbom
        .packages
        .iter()
        .map(|p| {
            [
                cell(&p.name),
                cell(&p.version),
                p.kind().as_str().to_string(),
                cell(&source(p)),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.push_str("No packages found.\n");
    } else {
        let mut widths = header.map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut line = |cells: [&str; 4]| {
            let mut l = String::new();
            for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                l.push_str(c);
                if i + 1 < cells.len() {
                    let pad = w - c.chars().count() + 2;
                    l.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(header);
        for r in &rows {
            line([&r[0], &r[1], &r[2], &r[3]]);
        }
    }

    out.push('\n');
    let n = sbom.packages.len();
    let _ = write!(out, "{n} package{}", if n == 1 { "" } else { "s" });
    let by_kind: Vec<String> = PackageKind::ALL
        .iter()
        .filter_map(|&k| match sbom.count(k) {
            0 => None,
            c => Some(format!("{c} {}", k.as_str())),
        })
        .collect();
    if !by_kind.is_empty() {
        let _ = write!(out, " ({})", by_kind.join(", "));
    }
    out.push('\n');
    if !sbom.warnings.is_empty() {
        let _ = writeln!(out, "{} warning(s):", sbom.warnings.len());
        for w in &sbom.warnings {
            let _ = writeln!(out, "  {}", cell(w));
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Distro;

    #[test]
    fn layout() {
        let sbom = Sbom {
            name: "example:latest".into(),
            distro: Some(Distro {
                id: "debian".into(),
                version_id: Some("12".into()),
                pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
                ..Distro::default()
            }),
            packages: vec![
                Package {
                    kind: Some(PackageKind::Deb),
                    name: "libc6".into(),
                    version: "2.36-9+deb12u9".into(),
                    source_name: Some("glibc".into()),
                    ..Package::default()
                },
                Package {
                    kind: Some(PackageKind::Go),
                    name: "github.com/google/uuid".into(),
                    version: "v1.6.0".into(),
                    ..Package::default()
                },
                Package {
                    kind: Some(PackageKind::Deb),
                    name: "libfoo\n".into(),
                    version: "1+b1".into(),
                    source_name: Some("foo".into()),
                    source_version: Some("1".into()),
                    ..Package::default()
                },
            ],
            ..Sbom::default()
        };
        let out = String::from_utf8(write(&sbom, &WriteOptions::default())).unwrap();
        assert_eq!(
            out,
            "Image:  example:latest\n\
             Distro: Debian GNU/Linux 12 (bookworm)\n\
             \n\
             NAME                    VERSION         TYPE  SOURCE\n\
             libc6                   2.36-9+deb12u9  deb   glibc\n\
             github.com/google/uuid  v1.6.0          go\n\
             libfoo\\n                1+b1            deb   foo 1\n\
             \n\
             3 packages (2 deb, 1 go)\n"
        );
    }

    #[test]
    fn empty() {
        let out = String::from_utf8(write(&Sbom::default(), &WriteOptions::default())).unwrap();
        assert_eq!(
            out,
            "Image:  (unnamed)\nDistro: none detected\n\nNo packages found.\n\n0 packages\n"
        );
    }
}
