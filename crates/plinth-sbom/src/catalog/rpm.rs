//! The rpm cataloger: RPM packages from the SQLite rpm database (`rpmdb.sqlite`, RPM 4.16
//! and later: Fedora 33+, RHEL 9+, their derivatives).
//!
//! The database has a table `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`; each blob is
//! an RPM header as `headerExport` writes it: `il` and `dl` (big-endian u32: the number
//! of index entries and the size of the data store), `il` 16-byte index entries (tag,
//! type, offset, count, each big-endian), then the data store. Every count and offset is
//! checked against the blob, so a malformed header is a warning naming its `hnum`.
//!
//! The database is handed to the bundled SQLite as a private copy in a temporary
//! directory (with its `-wal` file when the image has one). BerkeleyDB (`Packages`) and
//! NDB (`Packages.db`) databases of older releases are reported as unsupported.

use std::collections::BTreeMap;

use super::os::{Problems, owned_files, path_budget, read_db};
use super::{Cataloger, Context, Findings};
use crate::model::{Distro, Package, PackageKind};
use crate::purl;

/// Where the SQLite rpm database is: `/var/lib/rpm` is a symlink to the second on
/// Fedora; RHEL 9 has the database in the first.
pub const RPMDB_PATHS: [&str; 2] = [
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
];
/// Older database formats, recognised only to say they are not read.
const LEGACY: [&str; 4] = [
    "var/lib/rpm/Packages",
    "var/lib/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages",
    "usr/lib/sysimage/rpm/Packages.db",
];

/// The RPM cataloger: reads the SQLite rpm database (`rpmdb.sqlite`).
#[derive(Debug)]
pub struct Rpm;

/// Whether the reader should keep the bytes of `path` for this cataloger.
pub fn wants(path: &str) -> bool {
    RPMDB_PATHS
        .iter()
        .any(|p| path == *p || path.strip_prefix(p) == Some("-wal"))
}

/// What one header says about its package.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpmHeader {
    /// `NAME`.
    pub name: String,
    /// `VERSION` (upstream version).
    pub version: String,
    /// `RELEASE` (packaging release, e.g. `9.el9`).
    pub release: String,
    /// `EPOCH`; `None` when the header has none (which sorts as 0).
    pub epoch: Option<u32>,
    /// `ARCH`, e.g. `x86_64`, `noarch`.
    pub arch: Option<String>,
    /// `LICENSE`, as written (usually not an SPDX expression).
    pub license: Option<String>,
    /// `SOURCERPM`, e.g. `bash-5.1.8-9.el9.src.rpm`.
    pub source_rpm: Option<String>,
    /// `VENDOR`, e.g. `Red Hat, Inc.`.
    pub vendor: Option<String>,
    /// The files, no leading `/` (directories included: rpm does not tell them apart here).
    pub files: Vec<String>,
    /// Why the file list could not be read, when it could not (the package is still good).
    pub files_error: Option<String>,
}

impl RpmHeader {
    /// `[EPOCH:]VERSION-RELEASE`, as syft and rpm's `%{EVR}` write it.
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }

    /// The source package's name and `VERSION-RELEASE`, from `SOURCERPM`.
    pub fn source(&self) -> Option<(String, String)> {
        let s = self.source_rpm.as_deref()?;
        let stem = s
            .strip_suffix(".src.rpm")
            .or_else(|| s.strip_suffix(".nosrc.rpm"))?;
        let (rest, release) = stem.rsplit_once('-')?;
        let (name, version) = rest.rsplit_once('-')?;
        (!name.is_empty() && !version.is_empty() && !release.is_empty())
            .then(|| (name.to_string(), format!("{version}-{release}")))
    }

    /// The package URL, as syft writes it: namespace the distro's ID (`redhat` for RHEL,
    /// `opensuse` for openSUSE, none without a distro), version `VERSION-RELEASE`, the
    /// epoch as a qualifier, `upstream=` the source RPM's file name.
    pub fn purl(&self, distro: Option<&Distro>) -> String {
        let namespace = distro.map(|d| match d.id.as_str() {
            "rhel" | "hummingbird" => "redhat",
            id if id.starts_with("opensuse") => "opensuse",
            id => id,
        });
        let epoch = self.epoch.map(|e| e.to_string()).unwrap_or_default();
        let distro_q = distro.map(Distro::purl_qualifier).unwrap_or_default();
        purl::purl(
            "rpm",
            namespace,
            &self.name,
            &format!("{}-{}", self.version, self.release),
            &[
                ("arch", self.arch.as_deref().unwrap_or_default()),
                ("epoch", &epoch),
                ("upstream", self.source_rpm.as_deref().unwrap_or_default()),
                ("distro", &distro_q),
            ],
        )
    }

    /// The package, found at `location`; `layer` and `files` are left for the caller.
    pub fn to_package(&self, distro: Option<&Distro>, location: &str) -> Package {
        let (source_name, source_version) = match self.source() {
            Some((n, v)) => {
                let own = format!("{}-{}", self.version, self.release);
                (Some(n), (v != own).then_some(v))
            }
            None => (None, None),
        };
        let mut metadata = BTreeMap::new();
        if let Some(v) = &self.vendor {
            metadata.insert("vendor".to_string(), v.clone());
        }
        if let Some(s) = &self.source_rpm {
            metadata.insert("sourcerpm".to_string(), s.clone());
        }
        Package {
            kind: Some(PackageKind::Rpm),
            name: self.name.clone(),
            version: self.evr(),
            source_name,
            source_version,
            arch: self.arch.clone(),
            license: self.license.clone(),
            layer: None,
            locations: vec![location.to_string()],
            files: Vec::new(),
            purl: self.purl(distro),
            metadata,
        }
    }
}

// Tags (rpmtag.h).
const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const VENDOR: u32 = 1011;
const LICENSE: u32 = 1014;
const ARCH: u32 = 1022;
const OLDFILENAMES: u32 = 1027;
const SOURCERPM: u32 = 1044;
const DIRINDEXES: u32 = 1116;
const BASENAMES: u32 = 1117;
const DIRNAMES: u32 = 1118;
const WANTED: [u32; 12] = [
    NAME,
    VERSION,
    RELEASE,
    EPOCH,
    VENDOR,
    LICENSE,
    ARCH,
    OLDFILENAMES,
    SOURCERPM,
    DIRINDEXES,
    BASENAMES,
    DIRNAMES,
];

// Types.
const INT32: u32 = 4;
const STRING: u32 = 6;
const STRING_ARRAY: u32 = 8;
const I18NSTRING: u32 = 9;

/// rpm's own bounds (`hdrchkTags`, `hdrchkData`).
const MAX_TAGS: usize = 0xffff;
const MAX_DATA: usize = 0x0fff_ffff;
/// Most files one package may list.
const MAX_FILES: usize = 1_000_000;

#[derive(Clone, Copy)]
struct IndexEntry {
    ty: u32,
    offset: usize,
    count: usize,
}

struct Header<'a> {
    store: &'a [u8],
    /// The entries of [`WANTED`], in that order.
    found: [Option<IndexEntry>; WANTED.len()],
}

/// Parses one header blob (without the 8-byte magic that `.rpm` files carry). Never
/// panics; allocations are bounded by the blob's size.
pub fn parse_header(blob: &[u8]) -> Result<RpmHeader, String> {
    let h = Header::new(blob)?;
    let name = h.string(NAME)?.ok_or("no NAME tag")?;
    let version = h.string(VERSION)?.ok_or("no VERSION tag")?;
    let release = h.string(RELEASE)?.ok_or("no RELEASE tag")?;
    let epoch = h.u32s(EPOCH)?.and_then(|v| v.first().copied());
    let (files, files_error) = match file_list(&h, blob.len()) {
        Ok(f) => (f, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    Ok(RpmHeader {
        name,
        version,
        release,
        epoch,
        arch: h.string(ARCH)?,
        license: h.string(LICENSE)?,
        source_rpm: h.string(SOURCERPM)?,
        vendor: h.string(VENDOR)?,
        files,
        files_error,
    })
}

/// The file paths of a header, from BASENAMES, DIRNAMES and DIRINDEXES (or the
/// OLDFILENAMES of rpm 3), capped in number and in total length.
fn file_list(h: &Header<'_>, blob_len: usize) -> Result<Vec<String>, String> {
    let mut files = Vec::new();
    let mut budget = path_budget(blob_len);
    let mut add = |dir: &str, base: &str| -> Result<(), String> {
        let len = dir.len() + base.len();
        if files.len() >= MAX_FILES || len > budget {
            return Err("the file list is larger than the header can hold".to_string());
        }
        budget -= len;
        let p = format!("{dir}{base}");
        let p = p.trim_start_matches('/');
        if !p.is_empty() {
            files.push(p.to_string());
        }
        Ok(())
    };
    match (
        h.strings(BASENAMES)?,
        h.strings(DIRNAMES)?,
        h.u32s(DIRINDEXES)?,
    ) {
        (Some(base), Some(dirs), Some(idx)) => {
            if base.len() != idx.len() {
                return Err(format!(
                    "{} BASENAMES but {} DIRINDEXES",
                    base.len(),
                    idx.len()
                ));
            }
            for (b, i) in base.iter().zip(idx) {
                let dir = dirs.get(i as usize).ok_or_else(|| {
                    format!("DIRINDEXES entry {i} is past the {} DIRNAMES", dirs.len())
                })?;
                add(dir, b)?;
            }
        }
        (None, _, _) => {
            for f in h.strings(OLDFILENAMES)?.unwrap_or_default() {
                add("", &f)?;
            }
        }
        _ => return Err("BASENAMES without DIRNAMES or DIRINDEXES".into()),
    }
    Ok(files)
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(w)
}

impl<'a> Header<'a> {
    fn new(blob: &'a [u8]) -> Result<Self, String> {
        if blob.len() < 8 {
            return Err(format!("{} bytes: too short for a header", blob.len()));
        }
        let il = be32(blob, 0) as usize;
        let dl = be32(blob, 4) as usize;
        if il == 0 || il > MAX_TAGS {
            return Err(format!("{il} index entries (1 to {MAX_TAGS} allowed)"));
        }
        if dl > MAX_DATA {
            return Err(format!("a data store of {dl} bytes (at most {MAX_DATA})"));
        }
        let need = 8 + il * 16 + dl;
        if blob.len() < need {
            return Err(format!(
                "truncated: {il} entries and {dl} data bytes need {need} bytes, the blob has {}",
                blob.len()
            ));
        }
        let index = &blob[8..8 + il * 16];
        let store = &blob[8 + il * 16..need];
        let mut found = [None; WANTED.len()];
        for e in index.chunks_exact(16) {
            let tag = be32(e, 0);
            let Some(slot) = WANTED.iter().position(|t| *t == tag) else {
                continue;
            };
            if found[slot].is_some() {
                continue;
            }
            let offset = be32(e, 8) as usize;
            let count = be32(e, 12) as usize;
            if offset > dl {
                return Err(format!(
                    "tag {tag}: offset {offset} is past the {dl}-byte data store"
                ));
            }
            found[slot] = Some(IndexEntry {
                ty: be32(e, 4),
                offset,
                count,
            });
        }
        Ok(Header { store, found })
    }

    fn entry(&self, tag: u32) -> Option<IndexEntry> {
        let slot = WANTED.iter().position(|t| *t == tag)?;
        self.found[slot]
    }

    /// `count` NUL-terminated strings from `offset`.
    fn read_strings(&self, tag: u32, e: IndexEntry, max: usize) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut pos = e.offset;
        for _ in 0..e.count.min(max) {
            let rest = self.store.get(pos..).unwrap_or_default();
            let Some(len) = rest.iter().position(|&b| b == 0) else {
                return Err(format!("tag {tag}: string runs past the data store"));
            };
            out.push(String::from_utf8_lossy(&rest[..len]).into_owned());
            pos += len + 1;
        }
        Ok(out)
    }

    /// A single string (the first of an array or of a translated string).
    fn string(&self, tag: u32) -> Result<Option<String>, String> {
        let Some(e) = self.entry(tag) else {
            return Ok(None);
        };
        match e.ty {
            STRING | STRING_ARRAY | I18NSTRING if e.count > 0 => {
                let s = self.read_strings(tag, e, 1)?.pop().unwrap_or_default();
                Ok((!s.is_empty()).then_some(s))
            }
            STRING | STRING_ARRAY | I18NSTRING => Ok(None),
            ty => Err(format!("tag {tag} has type {ty}, not a string")),
        }
    }

    fn strings(&self, tag: u32) -> Result<Option<Vec<String>>, String> {
        let Some(e) = self.entry(tag) else {
            return Ok(None);
        };
        if !matches!(e.ty, STRING_ARRAY | STRING | I18NSTRING) {
            return Err(format!("tag {tag} has type {}, not a string array", e.ty));
        }
        // Each string takes at least its NUL: more than the store holds cannot be.
        if e.count > self.store.len() {
            return Err(format!(
                "tag {tag}: {} strings in a {}-byte data store",
                e.count,
                self.store.len()
            ));
        }
        self.read_strings(tag, e, e.count).map(Some)
    }

    fn u32s(&self, tag: u32) -> Result<Option<Vec<u32>>, String> {
        let Some(e) = self.entry(tag) else {
            return Ok(None);
        };
        if e.ty != INT32 {
            return Err(format!("tag {tag} has type {}, not INT32", e.ty));
        }
        let bytes = e
            .count
            .checked_mul(4)
            .and_then(|n| e.offset.checked_add(n).map(|end| (n, end)))
            .filter(|(_, end)| *end <= self.store.len());
        let Some((_, end)) = bytes else {
            return Err(format!(
                "tag {tag}: {} integers run past the data store",
                e.count
            ));
        };
        Ok(Some(
            self.store[e.offset..end]
                .chunks_exact(4)
                .map(|c| be32(c, 0))
                .collect(),
        ))
    }
}

/// Most packages read from one database.
const MAX_PACKAGES: usize = 200_000;

/// Reads every header of an `rpmdb.sqlite` (`db`, and its write-ahead log `wal` when the
/// image has one). A header that does not parse is a warning naming its `hnum`; a file
/// that is not such a database is one warning. Never panics.
pub fn parse_rpmdb(db: &[u8], wal: Option<&[u8]>) -> (Vec<RpmHeader>, Vec<String>) {
    let mut problems = Problems::default();
    let mut headers = Vec::new();
    if let Err(e) = read_sqlite(db, wal, &mut headers, &mut problems) {
        problems.push(|| e);
    }
    (headers, problems.finish())
}

fn read_sqlite(
    db: &[u8],
    wal: Option<&[u8]>,
    headers: &mut Vec<RpmHeader>,
    problems: &mut Problems,
) -> Result<(), String> {
    use rusqlite::{Connection, OpenFlags, types::ValueRef};

    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let path = dir.path().join("rpmdb.sqlite");
    fs_err::write(&path, db).map_err(|e| format!("cannot copy the database: {e}"))?;
    if let Some(w) = wal {
        fs_err::write(dir.path().join("rpmdb.sqlite-wal"), w)
            .map_err(|e| format!("cannot copy the database's -wal file: {e}"))?;
    }
    let sql = |e: rusqlite::Error| format!("not a readable SQLite rpm database: {e}");
    // Read-write: replaying a write-ahead log needs it; this is a private copy.
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .map_err(sql)?;
    conn.pragma_update(None, "trusted_schema", false)
        .map_err(sql)?;
    conn.pragma_update(None, "query_only", true).map_err(sql)?;
    // The schema is the file's: make sure `Packages` is a plain table with plain columns
    // (a view or a generated column could make the query below arbitrarily costly).
    let kind: Option<(String, String)> = conn
        .query_row(
            "SELECT type, coalesce(sql, '') FROM sqlite_schema WHERE name = 'Packages'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(sql)?;
    match kind {
        None => return Err("no Packages table: not an rpm database".into()),
        Some((ty, _)) if ty != "table" => {
            return Err(format!("Packages is a {ty}, not a table"));
        }
        Some((_, sql_text))
            if sql_text
                .trim_start()
                .to_ascii_uppercase()
                .starts_with("CREATE VIRTUAL") =>
        {
            return Err("Packages is a virtual table".into());
        }
        Some(_) => {}
    }
    let mut stmt = conn
        .prepare("SELECT name, hidden FROM pragma_table_xinfo('Packages')")
        .map_err(sql)?;
    let cols: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    if cols.iter().any(|(_, hidden)| *hidden != 0) {
        return Err("the Packages table has generated or hidden columns".into());
    }
    for want in ["hnum", "blob"] {
        if !cols.iter().any(|(n, _)| n.eq_ignore_ascii_case(want)) {
            return Err(format!("the Packages table has no {want} column"));
        }
    }
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(sql)?;
    let mut rows = stmt.query([]).map_err(sql)?;
    let mut n = 0usize;
    loop {
        let row = match rows.next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Err(format!("reading the Packages table stopped: {e}")),
        };
        n += 1;
        if n > MAX_PACKAGES {
            problems.push(|| format!("more than {MAX_PACKAGES} packages; the rest are not read"));
            break;
        }
        let hnum = match row.get_ref(0) {
            Ok(ValueRef::Integer(i)) => i.to_string(),
            _ => format!("(row {n})"),
        };
        match row.get_ref(1) {
            Ok(ValueRef::Blob(b)) => match parse_header(b) {
                Ok(h) => {
                    if let Some(e) = &h.files_error {
                        let name = &h.name;
                        problems.push(|| {
                            format!("header {hnum} ({name}): {e}; its files are not listed")
                        });
                    }
                    headers.push(h);
                }
                Err(e) => problems.push(|| format!("header {hnum}: {e}; skipped")),
            },
            _ => problems.push(|| format!("header {hnum}: not a blob; skipped")),
        }
    }
    Ok(())
}

impl Cataloger for Rpm {
    fn name(&self) -> &'static str {
        "rpm"
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Findings) {
        let fs = cx.fs;
        let mut seen: Vec<String> = Vec::new();
        for path in RPMDB_PATHS {
            let Some(db) = read_db(fs, path, &mut out.warnings) else {
                continue;
            };
            if seen.contains(&db.path) {
                continue;
            }
            seen.push(db.path.clone());
            let wal = fs.read(&format!("{}-wal", db.path));
            let (headers, warnings) = parse_rpmdb(db.data, wal);
            out.warnings
                .extend(warnings.into_iter().map(|w| format!("{}: {w}", db.path)));
            for h in headers {
                // Imported signing keys are recorded as packages named gpg-pubkey.
                if h.name == "gpg-pubkey" {
                    continue;
                }
                let mut p = h.to_package(cx.distro, &db.path);
                p.layer = db.layer;
                p.files = owned_files(fs, h.files);
                out.packages.push(p);
            }
        }
        if seen.is_empty() {
            for path in LEGACY {
                if let Some(real) = fs.resolve(path)
                    && !seen.contains(&real)
                    && fs
                        .get(&real)
                        .is_some_and(|n| n.kind != plinth_oci::NodeKind::Dir)
                {
                    out.warnings.push(format!(
                        "{real}: a BerkeleyDB or NDB rpm database, which is not read (only rpmdb.sqlite is); its packages are missing"
                    ));
                    seen.push(real);
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::os::testing::{T, image};
    use super::*;
    use crate::catalog::{Context, Findings};
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// A tag value for [`header`].
    pub enum V<'a> {
        S(&'a str),
        A(&'a [&'a str]),
        I(&'a [u32]),
    }

    /// Encodes a header blob as rpm's `headerExport` does, region tag included.
    pub fn header(tags: &[(u32, V)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut store = Vec::new();
        let entry = |index: &mut Vec<u8>, tag: u32, ty: u32, offset: usize, count: usize| {
            for v in [tag, ty, offset as u32, count as u32] {
                index.extend_from_slice(&v.to_be_bytes());
            }
        };
        for (tag, v) in tags {
            match v {
                V::S(s) => {
                    entry(&mut index, *tag, STRING, store.len(), 1);
                    store.extend_from_slice(s.as_bytes());
                    store.push(0);
                }
                V::A(a) => {
                    entry(&mut index, *tag, STRING_ARRAY, store.len(), a.len());
                    for s in *a {
                        store.extend_from_slice(s.as_bytes());
                        store.push(0);
                    }
                }
                V::I(n) => {
                    while store.len() % 4 != 0 {
                        store.push(0);
                    }
                    entry(&mut index, *tag, INT32, store.len(), n.len());
                    for x in *n {
                        store.extend_from_slice(&x.to_be_bytes());
                    }
                }
            }
        }
        // The immutable region: tag 63, type BIN, 16 bytes of trailer at the end.
        let il = tags.len() + 1;
        let trailer_at = store.len();
        let mut region = Vec::new();
        entry(&mut region, 63, 7, trailer_at, 16);
        for v in [63u32, 7, (-(il as i32 * 16)) as u32, 16] {
            store.extend_from_slice(&v.to_be_bytes());
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&(il as u32).to_be_bytes());
        blob.extend_from_slice(&(store.len() as u32).to_be_bytes());
        blob.extend_from_slice(&region);
        blob.extend_from_slice(&index);
        blob.extend_from_slice(&store);
        blob
    }

    pub fn bash() -> Vec<u8> {
        header(&[
            (NAME, V::S("bash")),
            (VERSION, V::S("5.1.8")),
            (RELEASE, V::S("9.el9")),
            (VENDOR, V::S("Red Hat, Inc.")),
            (LICENSE, V::S("GPLv3+")),
            (ARCH, V::S("x86_64")),
            (SOURCERPM, V::S("bash-5.1.8-9.el9.src.rpm")),
            (DIRINDEXES, V::I(&[0, 0, 1])),
            (BASENAMES, V::A(&["bash", "sh", "bash"])),
            (DIRNAMES, V::A(&["/usr/bin/", "/usr/share/doc/"])),
        ])
    }

    pub fn openssl_libs() -> Vec<u8> {
        header(&[
            (NAME, V::S("openssl-libs")),
            (VERSION, V::S("3.0.7")),
            (RELEASE, V::S("27.el9")),
            (EPOCH, V::I(&[1])),
            (LICENSE, V::S("ASL 2.0")),
            (ARCH, V::S("x86_64")),
            (SOURCERPM, V::S("openssl-3.0.7-27.el9.src.rpm")),
            (DIRINDEXES, V::I(&[0])),
            (BASENAMES, V::A(&["libssl.so.3"])),
            (DIRNAMES, V::A(&["/usr/lib64/"])),
        ])
    }

    fn gpg_pubkey() -> Vec<u8> {
        header(&[
            (NAME, V::S("gpg-pubkey")),
            (VERSION, V::S("fd431d51")),
            (RELEASE, V::S("4ae0493b")),
        ])
    }

    /// A real `rpmdb.sqlite` holding `blobs`, as rpm creates it (WAL mode).
    pub fn rpmdb(blobs: &[Vec<u8>]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpmdb.sqlite");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
                 CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL);",
            )
            .unwrap();
            for b in blobs {
                conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [b])
                    .unwrap();
            }
        }
        fs_err::read(&path).unwrap()
    }

    fn rhel() -> Distro {
        Distro {
            id: "rhel".into(),
            version_id: Some("9.4".into()),
            source: "etc/os-release".into(),
            ..Distro::default()
        }
    }

    #[test]
    fn parses_a_header() {
        let h = parse_header(&bash()).unwrap();
        assert_eq!(
            (h.name.as_str(), h.version.as_str(), h.release.as_str()),
            ("bash", "5.1.8", "9.el9")
        );
        assert_eq!(h.epoch, None);
        assert_eq!(h.evr(), "5.1.8-9.el9");
        assert_eq!(
            h.files,
            ["usr/bin/bash", "usr/bin/sh", "usr/share/doc/bash"]
        );
        assert_eq!(h.files_error, None);
        assert_eq!(h.source(), Some(("bash".into(), "5.1.8-9.el9".into())));
        assert_eq!(
            h.purl(Some(&rhel())),
            "pkg:rpm/redhat/bash@5.1.8-9.el9?arch=x86_64&distro=rhel-9.4&upstream=bash-5.1.8-9.el9.src.rpm"
        );
        let p = h.to_package(Some(&rhel()), RPMDB_PATHS[0]);
        assert_eq!(p.version, "5.1.8-9.el9");
        assert_eq!(p.source_name.as_deref(), Some("bash"));
        assert_eq!(p.source_version, None);
        assert_eq!(p.license.as_deref(), Some("GPLv3+"));
        assert_eq!(p.metadata["vendor"], "Red Hat, Inc.");
        assert_eq!(p.kind, Some(PackageKind::Rpm));
    }

    #[test]
    fn epoch_is_in_the_version_and_a_qualifier() {
        let h = parse_header(&openssl_libs()).unwrap();
        assert_eq!(h.epoch, Some(1));
        assert_eq!(h.to_package(None, "x").version, "1:3.0.7-27.el9");
        let fedora = Distro {
            id: "fedora".into(),
            version_id: Some("40".into()),
            ..Distro::default()
        };
        assert_eq!(
            h.purl(Some(&fedora)),
            "pkg:rpm/fedora/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=fedora-40&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm"
        );
        assert_eq!(
            h.purl(None),
            "pkg:rpm/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm"
        );
        let p = h.to_package(None, "x");
        assert_eq!(p.source_name.as_deref(), Some("openssl"));
        assert_eq!(p.source_version, None, "same as VERSION-RELEASE");
    }

    #[test]
    fn malformed_headers_are_errors() {
        let good = bash();
        let err = |b: &[u8]| parse_header(b).unwrap_err();
        assert!(err(&good[..5]).contains("too short"));
        assert!(err(&good[..good.len() - 1]).contains("truncated"));
        assert!(err(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).contains("index entries"));
        assert!(err(&[0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff]).contains("data store of"));
        // NAME as an integer.
        assert!(err(&header(&[(NAME, V::I(&[1]))])).contains("not a string"));
        // No VERSION.
        assert_eq!(err(&header(&[(NAME, V::S("x"))])), "no VERSION tag");
        // A string whose NUL was cut off: make the last byte of the store non-NUL.
        let mut b = header(&[
            (NAME, V::S("x")),
            (VERSION, V::S("1")),
            (RELEASE, V::S("1")),
        ]);
        let n = b.len();
        b.truncate(n - 16); // drop the region trailer
        b.pop();
        b.push(b'!');
        let dl = (n - 16 - 8 - 4 * 16) as u32;
        b[4..8].copy_from_slice(&dl.to_be_bytes());
        assert!(err(&b).contains("past the data store"), "{}", err(&b));
        // An offset past the store.
        let mut b = bash();
        b[8 + 16 + 8..8 + 16 + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(err(&b).contains("past the"), "{}", err(&b));
    }

    #[test]
    fn a_bad_file_list_keeps_the_package() {
        let h = parse_header(&header(&[
            (NAME, V::S("x")),
            (VERSION, V::S("1")),
            (RELEASE, V::S("1")),
            (DIRINDEXES, V::I(&[7])),
            (BASENAMES, V::A(&["f"])),
            (DIRNAMES, V::A(&["/d/"])),
        ]))
        .unwrap();
        assert!(h.files.is_empty());
        assert!(h.files_error.unwrap().contains("past the 1 DIRNAMES"));
        let h = parse_header(&header(&[
            (NAME, V::S("x")),
            (VERSION, V::S("1")),
            (RELEASE, V::S("1")),
            (OLDFILENAMES, V::A(&["/etc/x", "/"])),
        ]))
        .unwrap();
        assert_eq!(h.files, ["etc/x"]);
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        let mut b = header(&[
            (NAME, V::S("x")),
            (VERSION, V::S("1")),
            (RELEASE, V::S("1")),
            (DIRINDEXES, V::I(&[0])),
            (BASENAMES, V::A(&["f"])),
            (DIRNAMES, V::A(&["/d/"])),
        ]);
        // Set the counts of DIRINDEXES and BASENAMES (the 4th and 5th tags) to u32::MAX.
        for i in [3usize, 4] {
            let at = 8 + (i + 1) * 16 + 12;
            b[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        }
        let h = parse_header(&b).unwrap();
        assert!(h.files.is_empty());
        assert!(h.files_error.is_some());
    }

    #[test]
    fn reads_an_rpmdb() {
        let db = rpmdb(&[
            bash(),
            b"\x00\x00\x00\x01garbage".to_vec(),
            openssl_libs(),
            gpg_pubkey(),
        ]);
        let (headers, w) = parse_rpmdb(&db, None);
        let names: Vec<&str> = headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["bash", "openssl-libs", "gpg-pubkey"]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("header 2: "), "{w:?}");
    }

    #[test]
    fn reads_rows_still_in_the_write_ahead_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpmdb.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .unwrap();
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [bash()])
            .unwrap();
        let db = fs_err::read(&path).unwrap();
        let wal = fs_err::read(dir.path().join("rpmdb.sqlite-wal")).unwrap();
        drop(conn);
        let (headers, w) = parse_rpmdb(&db, Some(&wal));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(headers.len(), 1);
        let (_, w) = parse_rpmdb(&db, None);
        assert!(w[0].contains("no Packages table"), "{w:?}");
    }

    #[test]
    fn not_an_rpmdb_is_one_warning() {
        let (h, w) = parse_rpmdb(b"", None);
        assert!(h.is_empty());
        assert_eq!(w, ["no Packages table: not an rpm database"]);
        let junk: Vec<u8> = (0..8192u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
            .collect();
        let (h, w) = parse_rpmdb(&junk, None);
        assert!(h.is_empty());
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("not a readable SQLite rpm database"),
            "{w:?}"
        );
        // Truncated databases: whatever SQLite can still read, and at most one warning.
        let db = rpmdb(&[bash(), openssl_libs()]);
        for n in [100, 1000, 4096, db.len() / 2, db.len() - 1] {
            let (h, w) = parse_rpmdb(&db[..n], None);
            assert!(h.len() <= 2 && w.len() <= 1, "{n}: {h:?} {w:?}");
        }
    }

    #[test]
    fn a_view_or_generated_column_is_refused() {
        for schema in [
            "CREATE TABLE t (hnum INTEGER PRIMARY KEY, blob BLOB);
             CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS hnum, x AS blob FROM c;",
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, n INTEGER, blob BLOB AS (zeroblob(n)) VIRTUAL);
             INSERT INTO Packages (n) VALUES (900000000);",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db");
            rusqlite::Connection::open(&path)
                .unwrap()
                .execute_batch(schema)
                .unwrap();
            let (h, w) = parse_rpmdb(&fs_err::read(&path).unwrap(), None);
            assert!(h.is_empty());
            assert_eq!(w.len(), 1, "{w:?}");
        }
    }

    #[test]
    fn catalogs_an_image() {
        let db = rpmdb(&[bash(), gpg_pubkey()]);
        let fs = image(&[
            &[
                ("usr/bin/bash", T::File(b"\x7fELF")),
                ("usr/bin/sh", T::Link("bash")),
                ("usr/share/doc", T::Dir),
            ],
            &[
                ("usr/lib/sysimage/rpm/rpmdb.sqlite", T::File(&db)),
                ("var/lib/rpm", T::Link("../../usr/lib/sysimage/rpm")),
                ("var/lib/rpm/Packages", T::File(b"old")),
            ],
        ]);
        let owned = HashSet::new();
        let d = rhel();
        let cx = Context {
            fs: &fs,
            distro: Some(&d),
            owned: &owned,
        };
        let mut out = Findings::default();
        Rpm.catalog(&cx, &mut out);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(out.packages.len(), 1, "gpg-pubkey is not a package");
        let p = &out.packages[0];
        assert_eq!(p.locations, ["usr/lib/sysimage/rpm/rpmdb.sqlite"]);
        assert_eq!(p.layer, Some(1));
        assert_eq!(p.files, ["usr/bin/bash", "usr/bin/sh"]);
    }

    #[test]
    fn legacy_databases_are_reported() {
        let fs = image(&[&[("var/lib/rpm/Packages", T::File(b"\0\0\0\0\x61\x15\x06\0"))]]);
        let owned = HashSet::new();
        let cx = Context {
            fs: &fs,
            distro: None,
            owned: &owned,
        };
        let mut out = Findings::default();
        Rpm.catalog(&cx, &mut out);
        assert!(out.packages.is_empty());
        assert_eq!(out.warnings.len(), 1);
        assert!(out.warnings[0].starts_with("var/lib/rpm/Packages: a BerkeleyDB"));
    }

    #[test]
    fn wanted_paths() {
        assert!(wants("var/lib/rpm/rpmdb.sqlite"));
        assert!(wants("usr/lib/sysimage/rpm/rpmdb.sqlite"));
        assert!(wants("usr/lib/sysimage/rpm/rpmdb.sqlite-wal"));
        assert!(!wants("usr/lib/sysimage/rpm/rpmdb.sqlite-shm"));
        assert!(!wants("var/lib/rpm/Packages"));
    }

    proptest! {
        #[test]
        fn header_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = parse_header(&bytes);
        }

        #[test]
        fn header_parser_survives_mutations(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut b = bash();
            for (i, byte) in edits {
                let i = i.index(b.len());
                b[i] = byte;
            }
            b.truncate(cut.index(b.len() + 1).max(b.len() - 8));
            if let Ok(h) = parse_header(&b) {
                prop_assert!(h.files.len() <= 3 || h.files.join("").len() <= path_budget(b.len()));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn rpmdb_reader_survives_mutations(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        ) {
            static DB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let mut b = DB.get_or_init(|| rpmdb(&[bash(), openssl_libs()])).clone();
            for (i, byte) in edits {
                let i = i.index(b.len());
                b[i] = byte;
            }
            let (h, _) = parse_rpmdb(&b, None);
            prop_assert!(h.len() <= 2);
        }
    }
}
