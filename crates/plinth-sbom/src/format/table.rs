//! A plain-text table for people: a header naming the image and distro, one row per
//! package (`NAME VERSION TYPE SOURCE`), and a count. No colour; columns as wide as
//! their widest cell (in terminal columns: CJK characters count two).

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

/// Columns a terminal gives `c`: 2 for East Asian wide and fullwidth characters (and
/// most emoji), 0 for combining marks, else 1. An approximation of Unicode's
/// East_Asian_Width without the tables.
fn char_width(c: char) -> usize {
    match u32::from(c) {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// The display width of `s`, in terminal columns.
pub(crate) fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
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
        let mut widths = header.map(width);
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(width(c));
            }
        }
        let mut line = |cells: [&str; 4]| {
            let mut l = String::new();
            for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                l.push_str(c);
                if i + 1 < cells.len() {
                    let pad = w - width(c) + 2;
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
    fn wide_characters_take_two_columns() {
        assert_eq!(width("日本語"), 6);
        assert_eq!(width("ünï"), 3);
        assert_eq!(width("e\u{301}"), 1);
        let sbom = Sbom {
            packages: vec![
                Package {
                    kind: Some(PackageKind::Npm),
                    name: "日本語".into(),
                    version: "1".into(),
                    ..Package::default()
                },
                Package {
                    kind: Some(PackageKind::Npm),
                    name: "abc".into(),
                    version: "2".into(),
                    ..Package::default()
                },
            ],
            ..Sbom::default()
        };
        let out = String::from_utf8(write(&sbom, &WriteOptions::default())).unwrap();
        assert!(
            out.contains(
                "NAME    VERSION  TYPE  SOURCE\n日本語  1        npm\nabc     2        npm\n"
            ),
            "{out}"
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
