//! Versioned TOML files a program writes and reads back (`plinth.lock`): read with a
//! clear error naming the file, refused when their `version` is not the one this
//! program reads, and written atomically (a temporary file beside the target, then a
//! rename), so that a reader never sees half a file and a failure keeps the old one.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Failure to read or write a file. `path` is always the file.
#[derive(Debug, thiserror::Error)]
pub enum LockFileError {
    /// The file exists but could not be read.
    #[error("failed to read lock {path}")]
    Read {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML of the expected shape, or its fields are malformed.
    #[error("lock {path} is not valid: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The file's `version` is not the one this program reads.
    #[error("lock {path} has version {found}, this plinth reads version {expected}")]
    Version {
        /// The file.
        path: String,
        /// The `version` it holds.
        found: u32,
        /// The version this program reads.
        expected: u32,
    },
    /// Writing the file (through a temporary file beside it) failed.
    #[error("failed to write lock {path}")]
    Write {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Reads `path` as a `T` whose version (`version_of`) must be `expected`; `Ok(None)`
/// when there is no such file.
pub fn read<T: DeserializeOwned>(
    path: &Path,
    version_of: impl Fn(&T) -> u32,
    expected: u32,
) -> Result<Option<T>, LockFileError> {
    let p = path.display().to_string();
    let text = match fs_err::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(LockFileError::Read { path: p, source }),
    };
    let value: T = toml::from_str(&text).map_err(|e| LockFileError::Parse {
        path: p.clone(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let found = version_of(&value);
    if found != expected {
        return Err(LockFileError::Version {
            path: p,
            found,
            expected,
        });
    }
    Ok(Some(value))
}

/// `header` (comment lines) followed by `value` as TOML.
pub fn to_text<T: Serialize>(header: &str, value: &T) -> String {
    let body = toml::to_string(value).expect("a lock always serialises");
    format!("{header}{body}")
}

/// Writes `text` to `path` atomically.
pub fn write(path: &Path, text: &str) -> Result<(), LockFileError> {
    let err = |source| LockFileError::Write {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or("lock".into(), |n| n.to_string_lossy());
    let tmp = dir.join(format!(".plinth-{name}-{}.tmp", std::process::id()));
    fs_err::write(&tmp, text).map_err(err)?;
    fs_err::rename(&tmp, path).map_err(|e| {
        let _ = fs_err::remove_file(&tmp);
        err(e)
    })
}

/// What changed on one platform between two locks, as `plinth lock --update` prints it:
/// `PLATFORM: + name version` and `PLATFORM: ~ name old -> new` in name order, then
/// `PLATFORM: - name version`. `before` and `after` map package names to versions.
pub fn changes(
    platform: &str,
    before: &std::collections::BTreeMap<String, String>,
    after: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (name, v) in after {
        match before.get(name) {
            None => out.push(format!("{platform}: + {name} {v}")),
            Some(old) if old != v => out.push(format!("{platform}: ~ {name} {old} -> {v}")),
            _ => {}
        }
    }
    for (name, v) in before {
        if !after.contains_key(name) {
            out.push(format!("{platform}: - {name} {v}"));
        }
    }
    out
}

/// What changed between two locks, platform by platform in `new`'s order: [`changes`] of
/// each platform against the one of the same name in `old` (none: every package is new).
/// `packages` gives a platform's name and its packages' names and versions.
pub fn platform_changes<P>(
    new: &[P],
    old: &[P],
    packages: impl Fn(&P) -> (&str, std::collections::BTreeMap<String, String>),
) -> Vec<String> {
    let old: Vec<_> = old.iter().map(&packages).collect();
    let none = std::collections::BTreeMap::new();
    new.iter()
        .flat_map(|p| {
            let (platform, after) = packages(p);
            let before = old
                .iter()
                .find(|(name, _)| *name == platform)
                .map_or(&none, |(_, versions)| versions);
            changes(platform, before, &after)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Doc {
        version: u32,
        name: String,
    }

    #[test]
    fn round_trip_version_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plinth.lock");
        assert!(read::<Doc>(&p, |d| d.version, 1).unwrap().is_none());
        let d = Doc {
            version: 1,
            name: "x".into(),
        };
        write(&p, &to_text("# h\n", &d)).unwrap();
        assert!(fs_err::read_to_string(&p).unwrap().starts_with("# h\n"));
        assert_eq!(read::<Doc>(&p, |d| d.version, 1).unwrap(), Some(d));
        assert!(matches!(
            read::<Doc>(&p, |d| d.version, 2),
            Err(LockFileError::Version { found: 1, .. })
        ));
        fs_err::write(&p, "version = \"one\"").unwrap();
        assert!(matches!(
            read::<Doc>(&p, |d| d.version, 1),
            Err(LockFileError::Parse { .. })
        ));
        // No temporary file is left beside it.
        let names: Vec<_> = fs_err::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn changes_list_additions_and_updates_in_name_order_then_removals() {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let before = map(&[("a", "1"), ("b", "1"), ("gone", "2")]);
        let after = map(&[("a", "1"), ("b", "2"), ("c", "1")]);
        assert_eq!(
            changes("linux/amd64", &before, &after),
            [
                "linux/amd64: ~ b 1 -> 2",
                "linux/amd64: + c 1",
                "linux/amd64: - gone 2"
            ]
        );
        assert!(changes("p", &after, &after).is_empty());
    }
}
