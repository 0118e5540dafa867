//! The installed database apk keeps at `lib/apk/db/installed`, written as apk-tools 2
//! writes it (`apk_db_write_fdb`): per package the index fields (`C:` to `k:`, `D:`,
//! `p:`, `i:`), then `r:` and `q:`, then per directory an `F:` line (with `M:uid:gid:mode`
//! when not root's 0755) followed by its files, each an `R:` line (with
//! `a:uid:gid:mode` when not root's 0644) and `Z:` (`Q1` + base64 of the SHA-1 from the
//! file's `APK-TOOLS.checksum.SHA1`), and a blank line after each package. apk, syft and
//! trivy read this file to list what is installed.
//!
//! [`write_database`] also writes the small set apk needs to run in the image:
//! `etc/apk/world`, `etc/apk/repositories` and `etc/apk/keys/`. It does not write
//! `lib/apk/db/scripts.tar` or `lib/apk/db/triggers` (apk creates them when it next
//! installs).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::index::{PackageInfo, encode_q1};
use crate::package::{DataEntry, EntryKind};

/// A database that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum InstalledError {
    /// A file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A key name would leave `etc/apk/keys`.
    #[error("apk key name {name:?} is not a plain file name")]
    KeyName {
        /// The name.
        name: String,
    },
}

/// An installed package: its index fields and the entries its data tar held.
#[derive(Debug, Clone)]
pub struct InstalledPackage {
    /// The package's fields (`C:` is the control checksum, `S:` the `.apk` size).
    pub info: PackageInfo,
    /// The data entries, in tar order.
    pub entries: Vec<DataEntry>,
}

fn parent_and_name(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", path),
    }
}

/// One package's database paragraph, ending in the blank separator line.
pub fn package_record(pkg: &InstalledPackage) -> String {
    let mut s = pkg.info.index_paragraph();
    if !pkg.info.replaces.is_empty() {
        let _ = writeln!(s, "r:{}", pkg.info.replaces.join(" "));
    }
    if let Some(q) = pkg.info.replaces_priority {
        let _ = writeln!(s, "q:{q}");
    }
    // Directories in the order they first appear (as a directory entry or as a file's
    // parent), each with its files in tar order.
    let checksums: HashMap<&str, [u8; 20]> = pkg
        .entries
        .iter()
        .filter_map(|e| e.sha1.map(|c| (e.path.as_str(), c)))
        .collect();
    let mut dirs: Vec<(&str, Vec<&DataEntry>)> = Vec::new();
    let mut slot: HashMap<&str, usize> = HashMap::new();
    let mut dir_acl: HashMap<&str, (u64, u64, u32)> = HashMap::new();
    for e in &pkg.entries {
        let dir = match e.kind {
            EntryKind::Dir => {
                dir_acl.insert(&e.path, (e.uid, e.gid, e.mode));
                e.path.as_str()
            }
            _ => parent_and_name(&e.path).0,
        };
        let i = *slot.entry(dir).or_insert_with(|| {
            dirs.push((dir, Vec::new()));
            dirs.len() - 1
        });
        if e.kind != EntryKind::Dir {
            dirs[i].1.push(e);
        }
    }
    for (dir, files) in &dirs {
        let _ = writeln!(s, "F:{dir}");
        if let Some(&(uid, gid, mode)) = dir_acl.get(dir)
            && (uid, gid, mode) != (0, 0, 0o755)
        {
            let _ = writeln!(s, "M:{uid}:{gid}:{mode:o}");
        }
        for e in files {
            let (_, name) = parent_and_name(&e.path);
            let _ = writeln!(s, "R:{name}");
            let mode = match e.kind {
                EntryKind::Symlink(_) => 0o777,
                _ => e.mode,
            };
            if (e.uid, e.gid, mode) != (0, 0, 0o644) {
                let _ = writeln!(s, "a:{}:{}:{mode:o}", e.uid, e.gid);
            }
            let sum = e.sha1.or_else(|| match &e.kind {
                EntryKind::Hardlink(target) => checksums.get(target.as_str()).copied(),
                _ => None,
            });
            if let Some(sum) = sum {
                let _ = writeln!(s, "Z:{}", encode_q1(&sum));
            }
        }
    }
    s.push('\n');
    s
}

/// The whole `lib/apk/db/installed` text for `packages`, in the order given.
pub fn installed_database(packages: &[InstalledPackage]) -> String {
    packages.iter().map(package_record).collect()
}

/// What [`write_database`] writes besides the installed packages.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// `etc/apk/world`: the names the user asked for.
    pub world: Vec<String>,
    /// `etc/apk/repositories`: one repository URL a line.
    pub repositories: Vec<String>,
    /// `etc/apk/keys/<name>`: the trusted keys' PEM text by file name.
    pub keys: Vec<(String, String)>,
}

/// Writes `text` to `path` through a temporary file in the same directory, so that a
/// failure never leaves a half-written file.
fn write_atomic(path: &Path, text: &[u8]) -> Result<(), InstalledError> {
    let err = |source| InstalledError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension(format!("plinth-tmp-{}", std::process::id()));
    fs_err::write(&tmp, text).map_err(err)?;
    fs_err::rename(&tmp, path).map_err(err)
}

/// Writes the installed database and apk's configuration under `root`:
/// `lib/apk/db/installed`, `etc/apk/world`, `etc/apk/repositories`, `etc/apk/keys/*`.
pub fn write_database(
    root: &Path,
    packages: &[InstalledPackage],
    setup: &Setup,
) -> Result<(), InstalledError> {
    for (name, _) in &setup.keys {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(InstalledError::KeyName { name: name.clone() });
        }
    }
    let lines = |v: &[String]| v.iter().map(|l| format!("{l}\n")).collect::<String>();
    write_atomic(
        &root.join("lib/apk/db/installed"),
        installed_database(packages).as_bytes(),
    )?;
    write_atomic(&root.join("etc/apk/world"), lines(&setup.world).as_bytes())?;
    write_atomic(
        &root.join("etc/apk/repositories"),
        lines(&setup.repositories).as_bytes(),
    )?;
    let keys = root.join("etc/apk/keys");
    fs_err::create_dir_all(&keys).map_err(|source| InstalledError::Write {
        path: keys.clone(),
        source,
    })?;
    for (name, pem) in &setup.keys {
        write_atomic(&keys.join(name), pem.as_bytes())?;
    }
    Ok(())
}
