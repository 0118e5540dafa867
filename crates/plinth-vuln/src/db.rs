//! The vulnerability database: one SQLite file, `<cache dir>/vuln.db`.
//!
//! Tables: `sources` (one row per imported feed) and `advisories` (one row per advisory
//! about one package in one ecosystem: id, source, ecosystem, package, status, and the
//! rest of the [`Advisory`] as JSON), indexed by `(ecosystem, package)`. The schema
//! version is SQLite's `user_version`; a file with another version, or that is not a
//! plinth database at all, is refused with a hint to import again.
//!
//! The file is only ever replaced whole: [`crate::import::import`] builds the new
//! database in a temporary file beside it and renames it into place once complete, so
//! a reader always sees a finished database and a failed import changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matcher::{AdvisoryLookup, DatabaseInfo};
use crate::model::{Advisory, Range, Severity, SourceInfo, Status};

/// `PRAGMA user_version` of the schema this code reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

/// `PRAGMA application_id`: "Plnt", marks the file as a plinth vulnerability database.
pub const APPLICATION_ID: i64 = 0x506c_6e74;

const SCHEMA: &str = "
CREATE TABLE sources (
    name TEXT PRIMARY KEY,
    origin TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    records INTEGER NOT NULL,
    skipped INTEGER NOT NULL,
    skipped_reasons TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE advisories (
    id TEXT NOT NULL,
    source TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    package TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX advisories_by_package ON advisories (ecosystem, package);
CREATE INDEX advisories_by_source ON advisories (source);
";

/// The database file name inside the cache directory.
pub const FILE_NAME: &str = "vuln.db";

/// `<cache dir>/vuln.db`, with the cache directory of the package cache
/// (`$PLINTH_CACHE`, else `$XDG_CACHE_HOME/plinth`, else `~/.cache/plinth`).
pub fn default_path() -> PathBuf {
    plinth_core::dirs::cache_root().join(FILE_NAME)
}

/// An open vulnerability database.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

pub(crate) fn status_str(status: &Status) -> &'static str {
    match status {
        Status::Fixed => "fixed",
        Status::Open => "open",
        Status::WontFix => "wont-fix",
        Status::Postponed => "postponed",
        Status::NotAffected => "not-affected",
        Status::Undetermined => "undetermined",
        Status::EndOfLife => "end-of-life",
    }
}

fn parse_status(s: &str) -> Option<Status> {
    Some(match s {
        "fixed" => Status::Fixed,
        "open" => Status::Open,
        "wont-fix" => Status::WontFix,
        "postponed" => Status::Postponed,
        "not-affected" => Status::NotAffected,
        "undetermined" => Status::Undetermined,
        "end-of-life" => Status::EndOfLife,
        _ => return None,
    })
}

/// Everything of an [`Advisory`] but the indexed columns, as stored in `data`.
#[derive(Serialize)]
pub(crate) struct RestRef<'a> {
    #[serde(rename = "src")]
    feed: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    aliases: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    ranges: &'a [Range],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    versions: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity_source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cvss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    symbols: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    modified: Option<&'a str>,
}

impl<'a> RestRef<'a> {
    pub(crate) fn of(a: &'a Advisory) -> RestRef<'a> {
        RestRef {
            feed: &a.source,
            aliases: &a.aliases,
            ranges: &a.ranges,
            versions: &a.versions,
            severity: a.severity,
            severity_source: a.severity_source.as_deref(),
            cvss: a.cvss.as_deref(),
            summary: a.summary.as_deref(),
            symbols: &a.symbols,
            modified: a.modified.as_deref(),
        }
    }
}

#[derive(Deserialize)]
struct Rest {
    #[serde(rename = "src")]
    feed: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    ranges: Vec<Range>,
    #[serde(default)]
    versions: Vec<String>,
    severity: Option<Severity>,
    severity_source: Option<String>,
    cvss: Option<String>,
    summary: Option<String>,
    #[serde(default)]
    symbols: Vec<String>,
    modified: Option<String>,
}

/// The exclusive right to write the database at a path, held until dropped: an
/// advisory lock on `.NAME.lock` beside it. Two imports (or updates) of one database run
/// one after the other, so neither loses the other's feeds.
#[derive(Debug)]
pub(crate) struct WriteLock {
    _file: std::fs::File,
}

/// Takes the [`WriteLock`] of `db_path` (creating its directory, and waiting for another
/// writer to finish), then
/// removes what a writer that died left beside the database: `.NAME.import-*` files and
/// `.NAME.download-*` directories (no live writer can own them while the lock is held).
pub(crate) fn lock_for_writing(db_path: &Path) -> Result<WriteLock> {
    let dir = plinth_core::dirs::parent_dir(db_path);
    fs_err::create_dir_all(&dir).map_err(Error::write(&dir))?;
    let name = temp_stem(db_path);
    let lock_path = dir.join(format!("{name}.lock"));
    let file: std::fs::File = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(Error::write(&lock_path))?
        .into();
    file.lock().map_err(Error::write(&lock_path))?;
    if let Ok(entries) = fs_err::read_dir(&dir) {
        let import = format!("{name}.import-");
        let download = format!("{name}.download-");
        for e in entries.flatten() {
            let file_name = e.file_name();
            let n = file_name.to_string_lossy();
            if n.starts_with(&import) {
                let _ = fs_err::remove_file(e.path());
            } else if n.starts_with(&download) {
                let _ = fs_err::remove_dir_all(e.path());
            }
        }
    }
    Ok(WriteLock { _file: file })
}

/// `.vuln.db` for `DIR/vuln.db`: the stem of the lock and temporary names beside it.
pub(crate) fn temp_stem(db_path: &Path) -> String {
    let file = db_path
        .file_name()
        .map_or_else(|| "vuln.db".into(), |n| n.to_string_lossy().into_owned());
    format!(".{file}")
}

/// Refuses (with [`Error::Foreign`]) to let an import replace `path` unless it is empty
/// or its SQLite header names a plinth vulnerability database: the header's first 16
/// bytes are SQLite's magic and bytes 68..72 hold [`APPLICATION_ID`]. A damaged or older
/// plinth database passes (an import rebuilds it); a user's notes, another program's
/// SQLite file or anything else does not.
pub(crate) fn ensure_replaceable(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut head = Vec::with_capacity(72);
    let mut f = fs_err::File::open(path).map_err(Error::io(path))?;
    if !f.metadata().map_err(Error::io(path))?.is_file() {
        return Err(Error::Foreign {
            path: path.to_path_buf(),
        });
    }
    (&mut f)
        .take(72)
        .read_to_end(&mut head)
        .map_err(Error::io(path))?;
    let ours = head.len() == 72
        && head.starts_with(b"SQLite format 3\0")
        && head[68..72] == (APPLICATION_ID as u32).to_be_bytes();
    if head.is_empty() || ours {
        Ok(())
    } else {
        Err(Error::Foreign {
            path: path.to_path_buf(),
        })
    }
}

/// Reads `PRAGMA application_id` and `user_version` and refuses a file that is not a
/// plinth database of this schema. An empty file (no tables) passes as `Ok(false)`.
pub(crate) fn check_schema(conn: &Connection, path: &Path) -> Result<bool> {
    let sql = Error::sqlite(path);
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(sql)?;
    let app: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(Error::sqlite(path))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(Error::sqlite(path))?;
    if tables == 0 && app == 0 && version == 0 {
        return Ok(false);
    }
    if app != APPLICATION_ID {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            detail: "an SQLite file, but not a plinth vulnerability database".into(),
        });
    }
    if version != SCHEMA_VERSION {
        return Err(Error::SchemaVersion {
            path: path.to_path_buf(),
            found: version,
            expected: SCHEMA_VERSION,
        });
    }
    Ok(true)
}

/// Creates the tables in an empty database.
pub(crate) fn create_schema(conn: &Connection, path: &Path) -> Result<()> {
    conn.execute_batch(SCHEMA).map_err(Error::sqlite(path))?;
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(Error::sqlite(path))?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(Error::sqlite(path))?;
    Ok(())
}

pub(crate) use plinth_core::date::now_secs;

impl Db {
    /// Opens an existing database read-only: [`Error::Missing`] when there is none,
    /// [`Error::Corrupt`] when the file is not a plinth database (or is damaged),
    /// [`Error::SchemaVersion`] when another plinth wrote it.
    pub fn open(path: &Path) -> Result<Db> {
        match fs_err::metadata(path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(Error::Corrupt {
                    path: path.to_path_buf(),
                    detail: "not a regular file".into(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Missing {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(Error::io(path)(e)),
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(Error::sqlite(path))?;
        if !check_schema(&conn, path)? {
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                detail: "empty file".into(),
            });
        }
        Ok(Db {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Opens a database read-write, creating the file and its tables if there is none
    /// (its parent directory too). Refuses files that [`Db::open`] refuses.
    pub fn create_or_open(path: &Path) -> Result<Db> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs_err::create_dir_all(dir).map_err(Error::io(dir))?;
        }
        let conn = Connection::open(path).map_err(Error::sqlite(path))?;
        if !check_schema(&conn, path)? {
            create_schema(&conn, path)?;
        }
        Ok(Db {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self) -> impl FnOnce(rusqlite::Error) -> Error {
        Error::sqlite(&self.path)
    }

    /// Every advisory about `package` in `ecosystem` (normalised keys: `debian:12`,
    /// `alpine:3.20`, `go`, `crates.io`, `pypi`, `npm`), ordered by id then source.
    pub fn advisories(&self, ecosystem: &str, package: &str) -> Result<Vec<Advisory>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, ecosystem, package, status, data FROM advisories
                 WHERE ecosystem = ?1 AND package = ?2 ORDER BY id, source",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map(params![ecosystem, package], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(self.sql())?;
        let mut out = Vec::new();
        for row in rows {
            let (id, ecosystem, package, status, data) = row.map_err(self.sql())?;
            let corrupt = |detail: String| Error::Corrupt {
                path: self.path.clone(),
                detail,
            };
            let status = parse_status(&status)
                .ok_or_else(|| corrupt(format!("advisory {id}: unknown status {status:?}")))?;
            let rest: Rest =
                serde_json::from_str(&data).map_err(|e| corrupt(format!("advisory {id}: {e}")))?;
            out.push(Advisory {
                id,
                aliases: rest.aliases,
                source: rest.feed,
                ecosystem,
                package,
                status,
                ranges: rest.ranges,
                versions: rest.versions,
                severity: rest.severity,
                severity_source: rest.severity_source,
                cvss: rest.cvss,
                summary: rest.summary,
                symbols: rest.symbols,
                modified: rest.modified,
            });
        }
        Ok(out)
    }

    /// Every ecosystem with its number of advisories, by name.
    pub fn ecosystems(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT ecosystem, count(*) FROM advisories GROUP BY ecosystem ORDER BY ecosystem",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// The imported feeds, by name.
    pub fn sources(&self) -> Result<Vec<SourceInfo>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, origin, imported_at, records, skipped FROM sources ORDER BY name",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SourceInfo {
                    name: r.get(0)?,
                    origin: r.get(1)?,
                    imported_at: r.get(2)?,
                    records: r.get::<_, i64>(3)? as u64,
                    skipped: r.get::<_, i64>(4)? as u64,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Why records of `source` were skipped at its import, with counts.
    pub fn skipped_reasons(&self, source: &str) -> Result<BTreeMap<String, u64>> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT skipped_reasons FROM sources WHERE name = ?1",
                [source],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())?;
        match json {
            None => Ok(BTreeMap::new()),
            Some(json) => serde_json::from_str(&json).map_err(|e| Error::Corrupt {
                path: self.path.clone(),
                detail: format!("source {source}: {e}"),
            }),
        }
    }

    /// The number of advisories.
    pub fn count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT count(*) FROM advisories", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(self.sql())
    }

    /// How old the data is: the time since the *oldest* source was imported (the
    /// stalest data decides), `None` for a database without sources.
    pub fn age(&self) -> Result<Option<Duration>> {
        let oldest: Option<i64> = self
            .conn
            .query_row("SELECT min(imported_at) FROM sources", [], |r| r.get(0))
            .map_err(self.sql())?;
        Ok(oldest.map(|t| Duration::from_secs(now_secs().saturating_sub(t).max(0) as u64)))
    }
}

/// A database as the matcher's [`AdvisoryLookup`]: the ecosystem list is read once, so
/// a failure there is an error here rather than a silent "release not covered".
#[derive(Debug)]
pub struct DbLookup<'a> {
    db: &'a Db,
    ecosystems: Vec<String>,
}

impl Db {
    /// This database as an advisory source for [`crate::matcher::scan`].
    pub fn lookup(&self) -> Result<DbLookup<'_>> {
        let ecosystems = self.ecosystems()?.into_iter().map(|(e, _)| e).collect();
        Ok(DbLookup {
            db: self,
            ecosystems,
        })
    }

    /// What a scan report says about this database.
    pub fn info(&self) -> Result<DatabaseInfo> {
        let sources = self.sources()?;
        Ok(DatabaseInfo {
            path: self.path.display().to_string(),
            advisories: self.count()?,
            oldest_import: sources
                .iter()
                .map(|s| s.imported_at)
                .min()
                .map(plinth_core::date::format_rfc3339),
            sources,
        })
    }
}

impl AdvisoryLookup for DbLookup<'_> {
    fn advisories(
        &self,
        ecosystem: &str,
        package: &str,
    ) -> std::result::Result<Vec<Advisory>, String> {
        self.db
            .advisories(ecosystem, package)
            .map_err(|e| e.to_string())
    }

    fn ecosystems(&self) -> Vec<String> {
        self.ecosystems.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_garbage_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.db");
        let err = Db::open(&missing).unwrap_err();
        assert!(matches!(err, Error::Missing { .. }), "{err}");
        assert!(err.to_string().contains("plinth db update"), "{err}");

        let garbage = dir.path().join("garbage.db");
        fs_err::write(&garbage, b"this is not sqlite at all, just some bytes ....").unwrap();
        let err = Db::open(&garbage).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("plinth db import"), "{err}");
        let err = Db::create_or_open(&garbage).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");

        let empty = dir.path().join("empty.db");
        fs_err::write(&empty, b"").unwrap();
        assert!(matches!(
            Db::open(&empty).unwrap_err(),
            Error::Corrupt { .. }
        ));

        let foreign = dir.path().join("foreign.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t (x INTEGER);")
            .unwrap();
        let err = Db::open(&foreign).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");

        let other = dir.path().join("other.db");
        drop(Db::create_or_open(&other).unwrap());
        Connection::open(&other)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Db::open(&other).unwrap_err();
        assert!(
            matches!(
                err,
                Error::SchemaVersion {
                    found: 99,
                    expected: SCHEMA_VERSION,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("run `plinth db import` / `plinth db update` again"),
            "{err}"
        );
    }

    #[test]
    fn new_database_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/vuln.db");
        let db = Db::create_or_open(&path).unwrap();
        assert_eq!(db.count().unwrap(), 0);
        assert!(db.sources().unwrap().is_empty());
        assert!(db.ecosystems().unwrap().is_empty());
        assert_eq!(db.age().unwrap(), None);
        assert!(db.advisories("debian:12", "zlib").unwrap().is_empty());
        drop(db);
        Db::open(&path).unwrap();
    }

    #[test]
    fn default_path_is_in_the_cache() {
        assert!(default_path().ends_with("vuln.db"));
        assert_eq!(
            default_path().parent().unwrap(),
            plinth_core::dirs::cache_root()
        );
    }
}
