//! Indexing a tar file in place: each regular entry's offset and size, links resolved
//! to the entries they name, names that would escape the archive root rejected.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Whether the file starts with a tar header whose checksum is right.
pub(super) fn looks_like_tar(path: &Path) -> bool {
    let mut block = [0u8; 512];
    let ok = fs_err::File::open(path)
        .and_then(|mut f| f.read_exact(&mut block))
        .is_ok();
    if !ok {
        return false;
    }
    let stored = std::str::from_utf8(&block[148..156])
        .ok()
        .and_then(|s| u32::from_str_radix(s.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok());
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    stored == Some(sum)
}

/// Normalises an archive entry name; `..` and absolute names are path traversal.
pub(super) fn normalize_archive_path(name: &str, archive: &Path) -> Result<String> {
    let bad = |reason| Error::BadPath {
        path: name.to_string(),
        context: format!("archive {}", archive.display()),
        reason,
    };
    if name.starts_with('/') {
        return Err(bad("absolute path in an image archive"));
    }
    let mut parts = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(bad("`..` escapes the archive root")),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

pub(super) fn index_tar(
    file: &mut std::fs::File,
    len: u64,
    path: &Path,
) -> Result<HashMap<String, (u64, u64)>> {
    let mut ar = tar::Archive::new(crate::TarGuard::new(
        file,
        format!("archive {}", path.display()),
        None, // a truncated entry is reported below, naming it
    ));
    let mut out = HashMap::new();
    let mut links = Vec::new();
    let err = |e| Error::Read {
        what: format!("archive {}", path.display()),
        source: e,
    };
    for (i, entry) in ar.entries_with_seek().map_err(err)?.enumerate() {
        let max = crate::limits::limits().archive_entries;
        if i >= max {
            return Err(Error::Limit(format!(
                "{} holds more than {max} entries",
                path.display()
            )));
        }
        let entry = entry.map_err(err)?;
        let raw = entry.path_bytes();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let norm = normalize_archive_path(&name, path)?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            // skopeo and podman write `ID/layer.tar -> ../DIGEST.tar`: symlink targets are
            // relative to the link's directory, hard link targets to the archive root.
            let resolved = match norm.rsplit_once('/') {
                Some((dir, _)) if kind.is_symlink() && !target.starts_with('/') => {
                    format!("{dir}/{target}")
                }
                _ => target.clone(),
            };
            links.push((norm, resolve_dots(&resolved, &target, path)?));
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let off = entry.raw_file_position();
        let size = entry.size();
        if off.checked_add(size).is_none_or(|end| end > len) {
            return Err(Error::TruncatedArchive {
                path: path.to_path_buf(),
                entry: name,
                expected: size,
                found: len.saturating_sub(off),
            });
        }
        out.insert(norm, (off, size));
    }
    // Links become aliases of the entries they name (chains of a few hops at most).
    for _ in 0..8 {
        let mut changed = false;
        for (name, target) in &links {
            if !out.contains_key(name)
                && let Some(&v) = out.get(target)
            {
                out.insert(name.clone(), v);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    Ok(out)
}

/// Folds `.` and `..` in a link target; a target that climbs above the root is traversal.
fn resolve_dots(joined: &str, original: &str, archive: &Path) -> Result<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::BadPath {
                        path: original.to_string(),
                        context: format!("archive {}", archive.display()),
                        reason: "link target escapes the archive root",
                    });
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}
