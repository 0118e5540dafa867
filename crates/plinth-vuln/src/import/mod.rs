//! Importing feeds into the database: the Debian Security Tracker JSON (and
//! aquasecurity's per-CVE vuln-list-debian layout), OSV (one record, a directory of
//! records, or a per-ecosystem `all.zip`), and Alpine's secdb (YAML or JSON).
//!
//! [`import`] is atomic: it copies the current database into a temporary file beside
//! it, replaces the rows of every source it imports in one transaction, and renames the
//! result into place only when everything succeeded. Every record that does not become
//! an advisory is counted under a [`SkipReason`]; nothing is dropped silently.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use plinth_core::progress::Reporter;
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::db::{self, Db, RestRef};
use crate::error::{Error, Result};
use crate::model::Advisory;

pub mod alpine;
pub mod cvss;
pub mod debian;
pub mod osv;
pub mod yaml_depth;

/// The most one JSON/YAML document (an OSV record, an Alpine secdb file) or one zip
/// entry may hold when read whole.
pub const MAX_DOCUMENT_BYTES: u64 = 16 << 20;
/// The longest id, package name or version an advisory may have: each is copied into
/// every advisory of its record, so an unbounded one makes work grow with its length
/// times the record's entries. Longer ones are skipped as [`SkipReason::OversizedField`].
pub const MAX_FIELD_BYTES: usize = 1024;
/// The longest summary kept (longer ones are cut at a character boundary): a summary is
/// copied into every advisory of its record.
pub const MAX_SUMMARY_BYTES: usize = 4096;
/// The most aliases an OSV record may have (more: an invalid record); they are copied
/// into every advisory of the record.
pub const MAX_ALIASES: usize = 1024;
/// The most entries an OSV zip may have.
pub const MAX_ZIP_ENTRIES: usize = 2_000_000;
/// The most files a directory input may hold.
pub const MAX_DIR_FILES: usize = 2_000_000;

/// The kinds of feed files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// The tracker's `data/json` export: package → CVE → release.
    DebianTracker,
    /// aquasecurity/vuln-list-debian: one CVE per file with tracker annotations.
    DebianVulnList,
    /// vuln-list-debian's `distributions.json` (codename → release number).
    DebianDistributions,
    /// OSV records: `.json`, a directory of them, or a zip.
    Osv,
    /// Alpine secdb, YAML or JSON.
    AlpineSecdb,
}

impl Format {
    /// The name used on the command line and in reports (`debian-tracker`, `osv`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::DebianTracker => "debian-tracker",
            Format::DebianVulnList => "vuln-list-debian",
            Format::DebianDistributions => "vuln-list-debian-distributions",
            Format::Osv => "osv",
            Format::AlpineSecdb => "alpine-secdb",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing to import: a file or a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// The feed file or directory to read.
    pub path: PathBuf,
    /// The format; `None` = tell from the file name and content.
    pub format: Option<Format>,
    /// The source name to record (`osv:Go`, …); `None` = derive it (see [`import`]).
    pub name: Option<String>,
    /// Where the data came from (a URL); `None` = the path.
    pub origin: Option<String>,
}

impl Input {
    /// An input at `path` whose format, source name and origin are all derived.
    pub fn new(path: impl Into<PathBuf>) -> Input {
        Input {
            path: path.into(),
            format: None,
            name: None,
            origin: None,
        }
    }

    /// Sets the format instead of telling it from the file.
    pub fn with_format(mut self, format: Format) -> Input {
        self.format = Some(format);
        self
    }

    /// Sets the source name to record (`osv:Go`, …).
    pub fn with_name(mut self, name: impl Into<String>) -> Input {
        self.name = Some(name.into());
        self
    }

    /// Sets where the data came from (the URL it was downloaded from).
    pub fn with_origin(mut self, origin: impl Into<String>) -> Input {
        self.origin = Some(origin.into());
        self
    }
}

/// Why a record (or part of one) did not become an advisory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// OSV ecosystem plinth does not match (Maven, NuGet, …).
    UnknownEcosystem,
    /// A Debian codename with no known release number.
    UnknownRelease,
    /// A fixed/introduced version that does not parse in the ecosystem's scheme.
    UnparseableVersion,
    /// A record without the fields it needs (id, package, status, fixed version).
    MissingFields,
    /// OSV `withdrawn` records.
    Withdrawn,
    /// OSV `GIT` ranges (commit hashes, not versions); counted per range.
    GitRange,
    /// OSV ranges of another type than `SEMVER`, `ECOSYSTEM` or `GIT`; per range.
    UnknownRangeType,
    /// OSV `limit` events: the model has no such bound, so the range is kept open
    /// (over-reporting rather than missing anything); per event.
    LimitEvent,
    /// An OSV affected package left with neither a usable range nor listed versions.
    NoAffectedVersions,
    /// A record that is not valid JSON/YAML inside a zip or directory.
    InvalidRecord,
    /// An unknown status or kind (`<removed>`, `<itp>`, unknown tracker status).
    UnknownStatus,
    /// Text in an Alpine secfixes line that names no advisory.
    UnrecognisedId,
    /// An id, package name or version longer than [`MAX_FIELD_BYTES`], or an OSV
    /// record with more than [`MAX_ALIASES`] aliases.
    OversizedField,
}

impl SkipReason {
    /// The words used in reports and in the database's `skipped_reasons`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::UnknownEcosystem => "unknown ecosystem",
            SkipReason::UnknownRelease => "unknown release",
            SkipReason::UnparseableVersion => "unparseable version",
            SkipReason::MissingFields => "missing fields",
            SkipReason::Withdrawn => "withdrawn",
            SkipReason::GitRange => "git range",
            SkipReason::UnknownRangeType => "unknown range type",
            SkipReason::LimitEvent => "limit event (range kept open)",
            SkipReason::NoAffectedVersions => "no affected versions",
            SkipReason::InvalidRecord => "invalid record",
            SkipReason::UnknownStatus => "unknown status",
            SkipReason::UnrecognisedId => "unrecognised id",
            SkipReason::OversizedField => "oversized field",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SkipReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What one source contributed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SourceReport {
    /// The source name (`debian-tracker`, `osv:Go`, `alpine-secdb:v3.20`, …).
    pub name: String,
    /// Where its data came from: URLs or paths, comma-separated when several files
    /// made one source.
    pub origin: String,
    /// Advisories written.
    pub records: u64,
    /// Things not written, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
}

impl SourceReport {
    /// Things not written, all reasons together.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The database written.
    pub path: PathBuf,
    /// One entry per source imported, by name.
    pub sources: Vec<SourceReport>,
    /// Things worth telling (a discarded old database, ignored files).
    pub notes: Vec<String>,
}

impl ImportReport {
    /// Advisories written, all sources together.
    pub fn records(&self) -> u64 {
        self.sources.iter().map(|s| s.records).sum()
    }

    /// Things not written, all sources and reasons together.
    pub fn skipped(&self) -> u64 {
        self.sources.iter().map(|s| s.skipped_total()).sum()
    }

    /// The report of the source called `name`, if it was imported.
    pub fn source(&self, name: &str) -> Option<&SourceReport> {
        self.sources.iter().find(|s| s.name == name)
    }
}

/// Receives the importers' output: advisories and skips, per source. Writes straight
/// into the open transaction.
pub struct Sink<'c> {
    conn: &'c Connection,
    path: PathBuf,
    sources: BTreeMap<String, SourceReport>,
    current: String,
    /// Debian codename → release number (`bookworm` → `12`); distributions files
    /// extend it.
    pub(crate) debian_releases: HashMap<String, String>,
}

impl<'c> Sink<'c> {
    fn new(conn: &'c Connection, path: &Path) -> Sink<'c> {
        Sink {
            conn,
            path: path.to_path_buf(),
            sources: BTreeMap::new(),
            current: String::new(),
            debian_releases: debian::default_releases(),
        }
    }

    /// Starts (or continues) source `name`. Its old rows go the first time it is seen
    /// in this import.
    pub(crate) fn begin(&mut self, name: &str, origin: &str) -> Result<()> {
        if !self.sources.contains_key(name) {
            let sql = Error::sqlite(&self.path);
            self.conn
                .execute("DELETE FROM advisories WHERE source = ?1", [name])
                .map_err(sql)?;
            self.conn
                .execute("DELETE FROM sources WHERE name = ?1", [name])
                .map_err(Error::sqlite(&self.path))?;
            self.sources.insert(
                name.to_string(),
                SourceReport {
                    name: name.to_string(),
                    origin: origin.to_string(),
                    ..SourceReport::default()
                },
            );
        } else if let Some(s) = self.sources.get_mut(name)
            && !s.origin.split(", ").any(|o| o == origin)
        {
            // Several files of one source: keep every origin, bounded.
            if s.origin.len() < 2048 {
                s.origin.push_str(", ");
                s.origin.push_str(origin);
            }
        }
        self.current = name.to_string();
        Ok(())
    }

    fn report(&mut self) -> &mut SourceReport {
        self.sources
            .get_mut(&self.current)
            .expect("Sink::begin is called before records")
    }

    /// Writes one advisory of the current source.
    pub(crate) fn add(&mut self, a: &Advisory) -> Result<()> {
        let json = serde_json::to_string(&RestRef::of(a)).map_err(|e| Error::Parse {
            path: self.path.clone(),
            detail: format!("cannot encode advisory {}: {e}", a.id),
        })?;
        let conn = self.conn;
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO advisories (id, source, ecosystem, package, status, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(Error::sqlite(&self.path))?;
        stmt.execute(params![
            a.id,
            self.current,
            a.ecosystem,
            a.package,
            db::status_str(&a.status),
            json
        ])
        .map_err(Error::sqlite(&self.path))?;
        self.report().records += 1;
        Ok(())
    }

    /// Counts `n` things of the current source skipped for `reason`.
    pub(crate) fn skip(&mut self, reason: SkipReason, n: u64) {
        if n > 0 {
            *self.report().skipped.entry(reason).or_default() += n;
        }
    }

    fn finish(self, imported_at: i64) -> Result<Vec<SourceReport>> {
        for s in self.sources.values() {
            let reasons: BTreeMap<&str, u64> =
                s.skipped.iter().map(|(r, n)| (r.as_str(), *n)).collect();
            let reasons = serde_json::to_string(&reasons).unwrap_or_else(|_| "{}".into());
            self.conn
                .execute(
                    "INSERT INTO sources (name, origin, imported_at, records, skipped, skipped_reasons)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        s.name,
                        s.origin,
                        imported_at,
                        s.records as i64,
                        s.skipped_total() as i64,
                        reasons
                    ],
                )
                .map_err(Error::sqlite(&self.path))?;
        }
        Ok(self.sources.into_values().collect())
    }
}

/// One file to import, after directories are expanded.
#[derive(Debug)]
struct Unit {
    path: PathBuf,
    format: Format,
    name: Option<String>,
    origin: String,
    /// For OSV records found in a directory: the directory's source name.
    group: Option<String>,
}

/// A reader that reports the bytes read to a [`Reporter`].
pub(crate) struct Progress<'r, R> {
    pub(crate) inner: R,
    pub(crate) reporter: &'r dyn Reporter,
    pub(crate) task: &'r str,
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.reporter.advance(self.task, n as u64);
        Ok(n)
    }
}

/// Reads a whole file of at most `limit` bytes.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = fs_err::File::open(path).map_err(Error::io(path))?;
    let mut out = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(Error::io(path))?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            what: "the file".into(),
            limit,
        });
    }
    Ok(out)
}

/// `text` cut to at most [`MAX_SUMMARY_BYTES`], at a character boundary.
pub(crate) fn bounded_summary(text: &str) -> String {
    let mut end = text.len().min(MAX_SUMMARY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Tells a file's format from its name and first bytes.
pub fn detect_format(path: &Path) -> Result<Format> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".zip") {
        return Ok(Format::Osv);
    }
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        return Ok(Format::AlpineSecdb);
    }
    let mut head = Vec::new();
    fs_err::File::open(path)
        .map_err(Error::io(path))?
        .take(256 << 10)
        .read_to_end(&mut head)
        .map_err(Error::io(path))?;
    sniff_json(&head).ok_or_else(|| Error::UnknownFormat {
        path: path.to_path_buf(),
    })
}

/// The format of a JSON document from the keys it starts with: the earliest of a few
/// telling keys wins.
fn sniff_json(head: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(head);
    if !text.trim_start().starts_with('{') {
        return None;
    }
    const KEYS: [(&str, Format); 8] = [
        ("distroversion", Format::AlpineSecdb),
        ("Annotations", Format::DebianVulnList),
        ("Header", Format::DebianVulnList),
        ("major-version", Format::DebianDistributions),
        ("affected", Format::Osv),
        ("schema_version", Format::Osv),
        ("releases", Format::DebianTracker),
        ("fixed_version", Format::DebianTracker),
    ];
    let mut best: Option<(usize, Format)> = None;
    for (key, format) in KEYS {
        let quoted = format!("\"{key}\"");
        let mut from = 0;
        while let Some(i) = text[from..].find(&quoted) {
            let at = from + i;
            let after = text[at + quoted.len()..].trim_start();
            if after.starts_with(':') {
                if best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, format));
                }
                break;
            }
            from = at + quoted.len();
        }
    }
    best.map(|(_, f)| f)
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Expands inputs into files with their formats. Directories are walked (sorted, so
/// imports are reproducible); files in them that are not `.json`, `.yaml`, `.yml` or
/// `.zip` are ignored, and counted in a note.
fn expand(inputs: &[Input], notes: &mut Vec<String>) -> Result<Vec<Unit>> {
    let mut units = Vec::new();
    for input in inputs {
        let meta = fs_err::metadata(&input.path).map_err(Error::io(&input.path))?;
        if !meta.is_dir() && !meta.is_file() {
            // A FIFO or a device would block the import forever, or never end.
            return Err(Error::Parse {
                path: input.path.clone(),
                detail: "not a regular file or directory".into(),
            });
        }
        if !meta.is_dir() {
            let format = match input.format {
                Some(f) => f,
                None => detect_format(&input.path)?,
            };
            units.push(Unit {
                path: input.path.clone(),
                format,
                name: input.name.clone(),
                origin: input.origin.clone().unwrap_or_else(|| display(&input.path)),
                group: None,
            });
            continue;
        }
        let mut files = Vec::new();
        let mut stack = vec![input.path.clone()];
        while let Some(dir) = stack.pop() {
            for entry in fs_err::read_dir(&dir).map_err(Error::io(&dir))? {
                let entry = entry.map_err(Error::io(&dir))?;
                let kind = entry.file_type().map_err(Error::io(entry.path()))?;
                if kind.is_dir() {
                    stack.push(entry.path());
                } else if kind.is_file() {
                    files.push(entry.path());
                    if files.len() > MAX_DIR_FILES {
                        return Err(Error::TooLarge {
                            path: input.path.clone(),
                            what: format!("the directory ({} files or more)", MAX_DIR_FILES),
                            limit: MAX_DIR_FILES as u64,
                        });
                    }
                }
            }
        }
        files.sort();
        let dir_name = input
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dir".into());
        let mut ignored = 0;
        let before = units.len();
        for file in files {
            let lower = file.to_string_lossy().to_ascii_lowercase();
            if ![".json", ".yaml", ".yml", ".zip"]
                .iter()
                .any(|e| lower.ends_with(e))
            {
                ignored += 1;
                continue;
            }
            let format = match input.format {
                Some(f) => f,
                None => match detect_format(&file) {
                    Ok(f) => f,
                    Err(Error::UnknownFormat { .. }) => {
                        ignored += 1;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            let group = (format == Format::Osv && !lower.ends_with(".zip"))
                .then(|| input.name.clone().unwrap_or(format!("osv:{dir_name}")));
            units.push(Unit {
                origin: input.origin.clone().unwrap_or_else(|| display(&file)),
                path: file,
                format,
                name: input.name.clone(),
                group,
            });
        }
        if units.len() == before {
            return Err(Error::Parse {
                path: input.path.clone(),
                detail: format!(
                    "no feed data in this directory ({ignored} other file(s)): expected tracker JSON, OSV .json/.zip or secdb .yaml/.json files"
                ),
            });
        }
        if ignored > 0 {
            notes.push(format!(
                "{}: ignored {ignored} file(s) that are not feed data",
                input.path.display()
            ));
        }
    }
    // Codename lists first: they extend the release map the Debian importers use.
    units.sort_by_key(|u| u.format != Format::DebianDistributions);
    Ok(units)
}

/// Imports `inputs` into the database at `db_path`, atomically (see the module docs).
///
/// Source names, unless an input names its own: `debian-tracker`, `vuln-list-debian`,
/// `osv:<Ecosystem>` for `<Ecosystem>-all.zip` or `<Ecosystem>/all.zip` (else
/// `osv:<file stem>`; records in a directory: `osv:<directory name>`), and
/// `alpine-secdb:<distroversion>-<repo>` from the secdb file. Importing a source again
/// replaces its rows. A database that another plinth version wrote (or a damaged one)
/// is replaced by a fresh one, and a note says so; a file that is not a plinth database
/// at all is never replaced ([`Error::Foreign`]).
pub fn import(db_path: &Path, inputs: &[Input], reporter: &dyn Reporter) -> Result<ImportReport> {
    let _lock = db::lock_for_writing(db_path)?;
    import_locked(db_path, inputs, reporter)
}

/// [`import`] for a caller that holds the database's write lock.
pub(crate) fn import_locked(
    db_path: &Path,
    inputs: &[Input],
    reporter: &dyn Reporter,
) -> Result<ImportReport> {
    let mut notes = Vec::new();
    let units = expand(inputs, &mut notes)?;
    // The write lock created the directory.
    let dir = plinth_core::dirs::parent_dir(db_path);
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{}.import-", db::temp_stem(db_path)))
        .permissions(plinth_core::dirs::umask_mode(0o666))
        .tempfile_in(&dir)
        .map_err(Error::write(&dir))?;
    let tmp_path = tmp.path().to_path_buf();
    if db_path.exists() {
        db::ensure_replaceable(db_path)?;
        match Db::open(db_path) {
            Ok(db) => {
                drop(db);
                fs_err::copy(db_path, &tmp_path).map_err(Error::write(&tmp_path))?;
            }
            Err(e @ (Error::Corrupt { .. } | Error::SchemaVersion { .. })) => {
                notes.push(format!("the previous database was replaced: {e}"));
            }
            Err(e) => return Err(e),
        }
    }
    let conn = Connection::open(&tmp_path).map_err(Error::sqlite(&tmp_path))?;
    // The temporary copy is thrown away on any failure: no journal needed.
    conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        .map_err(Error::sqlite(&tmp_path))?;
    if !db::check_schema(&conn, &tmp_path)? {
        db::create_schema(&conn, &tmp_path)?;
    }
    conn.execute_batch("BEGIN")
        .map_err(Error::sqlite(&tmp_path))?;
    let mut sink = Sink::new(&conn, &tmp_path);
    reporter.plan("feed files", units.len() as u64);
    for unit in &units {
        let task = display(&unit.path);
        let size = fs_err::metadata(&unit.path).map(|m| m.len()).ok();
        reporter.start(&task, size);
        let result = import_unit(unit, &mut sink, reporter, &task);
        reporter.finish(&task);
        result?;
    }
    let sources = sink.finish(db::now_secs())?;
    conn.execute_batch("COMMIT")
        .map_err(Error::sqlite(&tmp_path))?;
    let free: i64 = conn
        .pragma_query_value(None, "freelist_count", |r| r.get(0))
        .map_err(Error::sqlite(&tmp_path))?;
    let pages: i64 = conn
        .pragma_query_value(None, "page_count", |r| r.get(0))
        .map_err(Error::sqlite(&tmp_path))?;
    if free * 4 > pages {
        conn.execute_batch("VACUUM")
            .map_err(Error::sqlite(&tmp_path))?;
    }
    conn.close().map_err(|(_, e)| Error::sqlite(&tmp_path)(e))?;
    tmp.as_file().sync_all().map_err(Error::write(&tmp_path))?;
    tmp.persist(db_path)
        .map_err(|e| Error::write(db_path)(e.error))?;
    if let Ok(d) = fs_err::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(ImportReport {
        path: db_path.to_path_buf(),
        sources,
        notes,
    })
}

/// Runs the importer of `format` over one document held in memory, into a throwaway
/// in-memory database, and reports what it would have imported. Nothing on disk is
/// touched. This is the entry point of the fuzz targets and of the mutation tests: any
/// bytes give `Ok` or an `Err` naming `name`, never a panic. OSV bytes that start with
/// `PK` are read as a zip of records, as an `all.zip` is.
pub fn check_document(format: Format, name: &Path, bytes: &[u8]) -> Result<SourceReport> {
    let conn = Connection::open_in_memory().map_err(Error::sqlite(name))?;
    db::create_schema(&conn, name)?;
    let mut sink = Sink::new(&conn, name);
    let origin = display(name);
    match format {
        Format::DebianTracker => {
            sink.begin("debian-tracker", &origin)?;
            debian::import_tracker(name, bytes, &mut sink)?;
        }
        Format::DebianVulnList => {
            sink.begin("vuln-list-debian", &origin)?;
            debian::import_vuln_list(name, bytes, &mut sink)?;
        }
        Format::DebianDistributions => {
            sink.begin("vuln-list-debian-distributions", &origin)?;
            debian::read_distributions(name, bytes, &mut sink)?;
        }
        Format::Osv => {
            sink.begin("osv", &origin)?;
            if bytes.starts_with(b"PK") {
                let none = plinth_core::progress::NoReporter;
                osv::import_zip_from(name, std::io::Cursor::new(bytes), &mut sink, &none, "")?;
            } else {
                osv::import_record(name, bytes, &mut sink)?;
            }
        }
        Format::AlpineSecdb => {
            alpine::import_secdb(name, bytes, None, &origin, &mut sink)?;
        }
    }
    let mut sources = sink.finish(0)?;
    Ok(sources.pop().unwrap_or_default())
}

/// The default source name of a file: `osv:Go` for `Go-all.zip` or `Go/all.zip`.
fn osv_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = if let Some(eco) = file.strip_suffix("-all.zip") {
        eco.to_string()
    } else if file == "all.zip" {
        path.parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "all".into())
    } else {
        file.trim_end_matches(".zip")
            .trim_end_matches(".json")
            .to_string()
    };
    format!("osv:{stem}")
}

/// `path`, buffered, reporting progress.
fn open_with_progress<'r>(
    path: &Path,
    reporter: &'r dyn Reporter,
    task: &'r str,
) -> Result<BufReader<Progress<'r, std::fs::File>>> {
    let file = fs_err::File::open(path).map_err(Error::io(path))?;
    Ok(BufReader::with_capacity(
        256 << 10,
        Progress {
            inner: file.into(),
            reporter,
            task,
        },
    ))
}

fn import_unit(unit: &Unit, sink: &mut Sink, reporter: &dyn Reporter, task: &str) -> Result<()> {
    let open = || open_with_progress(&unit.path, reporter, task);
    match unit.format {
        Format::DebianTracker => {
            let name = unit.name.as_deref().unwrap_or("debian-tracker");
            sink.begin(name, &unit.origin)?;
            debian::import_tracker(&unit.path, open()?, sink)
        }
        Format::DebianVulnList => {
            let name = unit.name.as_deref().unwrap_or("vuln-list-debian");
            sink.begin(name, &unit.origin)?;
            let bytes = read_bounded(&unit.path, MAX_DOCUMENT_BYTES)?;
            reporter.advance(task, bytes.len() as u64);
            debian::import_vuln_list(&unit.path, &bytes, sink)
        }
        Format::DebianDistributions => {
            let bytes = read_bounded(&unit.path, MAX_DOCUMENT_BYTES)?;
            reporter.advance(task, bytes.len() as u64);
            debian::read_distributions(&unit.path, &bytes, sink)
        }
        Format::Osv => {
            let lower = unit.path.to_string_lossy().to_ascii_lowercase();
            if lower.ends_with(".zip") {
                let name = unit.name.clone().unwrap_or_else(|| osv_name(&unit.path));
                sink.begin(&name, &unit.origin)?;
                osv::import_zip(&unit.path, sink, reporter, task)
            } else {
                let name = unit
                    .group
                    .clone()
                    .or_else(|| unit.name.clone())
                    .unwrap_or_else(|| osv_name(&unit.path));
                sink.begin(&name, &unit.origin)?;
                let bytes = read_bounded(&unit.path, MAX_DOCUMENT_BYTES)?;
                reporter.advance(task, bytes.len() as u64);
                if unit.group.is_some() {
                    // One bad file in a directory of records is counted, not fatal.
                    osv::import_record_lenient(&bytes, sink)
                } else {
                    osv::import_record(&unit.path, &bytes, sink)
                }
            }
        }
        Format::AlpineSecdb => {
            let bytes = read_bounded(&unit.path, 64 << 20)?;
            reporter.advance(task, bytes.len() as u64);
            alpine::import_secdb(&unit.path, &bytes, unit.name.as_deref(), &unit.origin, sink)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_formats() {
        let s = |t: &str| sniff_json(t.as_bytes());
        assert_eq!(
            s(r#"{"zlib": {"CVE-1": {"releases": {}}}}"#),
            Some(Format::DebianTracker)
        );
        assert_eq!(
            s(r#"{"id": "GO-1", "summary": "x \"affected\" y", "affected": []}"#),
            Some(Format::Osv)
        );
        assert_eq!(
            s(r#"{"schema_version": "1.3.1", "id": "GO-1"}"#),
            Some(Format::Osv)
        );
        assert_eq!(
            s(r#"{"apkurl": "", "distroversion": "v3.20", "packages": []}"#),
            Some(Format::AlpineSecdb)
        );
        assert_eq!(
            s(r#"{"Header": {"ID": "CVE-1"}, "Annotations": []}"#),
            Some(Format::DebianVulnList)
        );
        assert_eq!(
            s(r#"{"bookworm": {"major-version": "12"}}"#),
            Some(Format::DebianDistributions)
        );
        assert_eq!(s(r#"[1, 2]"#), None);
        assert_eq!(s(r#"{"x": 1}"#), None);
        assert_eq!(s("garbage"), None);
    }

    #[test]
    fn osv_source_names() {
        assert_eq!(osv_name(Path::new("/x/Go-all.zip")), "osv:Go");
        assert_eq!(osv_name(Path::new("/x/crates.io-all.zip")), "osv:crates.io");
        assert_eq!(osv_name(Path::new("/x/PyPI/all.zip")), "osv:PyPI");
        assert_eq!(osv_name(Path::new("/x/GHSA-1.json")), "osv:GHSA-1");
    }
}
