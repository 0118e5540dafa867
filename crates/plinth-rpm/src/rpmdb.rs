//! The rpm database as rpm ≥ 4.16 writes it by default: `var/lib/rpm/rpmdb.sqlite`, a
//! `Packages` table of header blobs and one index table per indexed tag (the schema and
//! index contents of rpm's `lib/backend/sqlite.c` and `lib/rpmdb.c`, checked against a
//! database rpm itself writes in the tests).
//!
//! A blob is the package's main header as rpm stores an installed one: the header without
//! its 8-byte magic, i.e. the immutable region (tag 63) unchanged, followed by the tags
//! rpm adds at install time (install time and transaction id, file states, colour, and the
//! signature-header digests and signature that rpm copies in).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use crate::header::{Header, sigtag, tag, ty};
use crate::package::Package;

/// Where the database lives in a root file system.
pub const RPMDB_PATH: &str = "var/lib/rpm/rpmdb.sqlite";

/// Failure while writing the database.
#[derive(Debug, thiserror::Error)]
pub enum RpmdbError {
    /// A file operation failed (the error names the path).
    #[error("cannot write rpm database")]
    Io(#[from] std::io::Error),
    /// SQLite failed.
    #[error("cannot write rpm database {path}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// A header lacks its immutable region.
    #[error("header of {0} has no immutable region (tag 63); cannot store it")]
    NoRegion(String),
}

/// Index tables: (table, tag, key type). Order as rpm creates them.
const INDEXES: &[(&str, u32, &str)] = &[
    ("Name", tag::NAME, "TEXT"),
    ("Basenames", tag::BASENAMES, "TEXT"),
    ("Group", tag::GROUP, "TEXT"),
    ("Requirename", tag::REQUIRENAME, "TEXT"),
    ("Providename", tag::PROVIDENAME, "TEXT"),
    ("Conflictname", tag::CONFLICTNAME, "TEXT"),
    ("Obsoletename", tag::OBSOLETENAME, "TEXT"),
    ("Triggername", tag::TRIGGERNAME, "TEXT"),
    ("Dirnames", tag::DIRNAMES, "TEXT"),
    ("Installtid", tag::INSTALLTID, "BLOB"),
    ("Sigmd5", tag::SIGMD5, "BLOB"),
    ("Sha1header", tag::SHA1HEADER, "TEXT"),
    ("Filetriggername", tag::FILETRIGGERNAME, "TEXT"),
    ("Transfiletriggername", tag::TRANSFILETRIGGERNAME, "TEXT"),
    ("Recommendname", tag::RECOMMENDNAME, "TEXT"),
    ("Suggestname", tag::SUGGESTNAME, "TEXT"),
    ("Supplementname", tag::SUPPLEMENTNAME, "TEXT"),
    ("Enhancename", tag::ENHANCENAME, "TEXT"),
];

/// Tables rpm creates an `hnum` index for as well (all but these four).
const NO_HNUM_INDEX: &[&str] = &["Name", "Group", "Installtid", "Sigmd5", "Sha1header"];

/// rpm's `RPMSENSE_*` bits that mark an install-time-only prerequisite, which rpm leaves
/// out of the Requirename index (`lib/rpmdb.c`), and rpmlib() dependencies.
const RPMSENSE_RPMLIB: u64 = 1 << 24;

/// Writes `root/var/lib/rpm/rpmdb.sqlite` holding `packages`, installed at `install_time`
/// (unix seconds; pass `SOURCE_DATE_EPOCH` for reproducible output). The file is written
/// beside its final path and renamed into place.
pub fn write(root: &Path, packages: &[&Package], install_time: u32) -> Result<PathBuf, RpmdbError> {
    let path = root.join(RPMDB_PATH);
    let dir = path.parent().expect("RPMDB_PATH has a parent");
    fs_err::create_dir_all(dir)?;
    let tmp = dir.join(".rpmdb.sqlite.plinth-tmp");
    if tmp.exists() {
        fs_err::remove_file(&tmp)?;
    }
    let sql = |source| RpmdbError::Sqlite {
        path: path.clone(),
        source,
    };
    {
        let mut db = Connection::open(&tmp).map_err(sql)?;
        // One self-contained file (no -wal/-shm beside it in an image).
        db.pragma_update(None, "journal_mode", "DELETE")
            .map_err(sql)?;
        let txn = db.transaction().map_err(sql)?;
        txn.execute_batch(
            "CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)",
        )
        .map_err(sql)?;
        for (table, _, key) in INDEXES {
            txn.execute_batch(&format!(
                "CREATE TABLE '{table}' (key '{key}' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum));"
            ))
            .map_err(sql)?;
            if *key == "TEXT" {
                txn.execute_batch(&format!(
                    "CREATE INDEX '{table}_key_idx' ON '{table}'(key ASC);"
                ))
                .map_err(sql)?;
            }
            if !NO_HNUM_INDEX.contains(table) {
                txn.execute_batch(&format!(
                    "CREATE INDEX '{table}_hnum_idx' ON '{table}'(hnum ASC);"
                ))
                .map_err(sql)?;
            }
        }
        for (n, pkg) in packages.iter().enumerate() {
            let hnum = n as i64 + 1;
            let blob = installed_blob(pkg, install_time)?;
            txn.execute(
                "INSERT INTO 'Packages' (hnum, blob) VALUES (?1, ?2)",
                params![hnum, blob],
            )
            .map_err(sql)?;
            let installed = Header::parse([&crate::header::MAGIC[..], &[0; 4], &blob].concat())
                .map_err(|_| RpmdbError::NoRegion(pkg.info().name))?;
            for (table, t, key) in INDEXES {
                for (idx, k) in index_keys(&installed, *t) {
                    let stmt =
                        format!("INSERT INTO '{table}' (key, hnum, idx) VALUES (?1, ?2, ?3)");
                    match k {
                        Key::Text(s) if *key == "TEXT" => txn.execute(&stmt, params![s, hnum, idx]),
                        Key::Text(s) => txn.execute(&stmt, params![s.into_bytes(), hnum, idx]),
                        Key::Blob(b) => txn.execute(&stmt, params![b, hnum, idx]),
                        Key::Skip => continue,
                    }
                    .map_err(sql)?;
                }
            }
        }
        txn.commit().map_err(sql)?;
        db.execute_batch("ANALYZE;").map_err(sql)?;
    }
    fs_err::rename(&tmp, &path)?;
    Ok(path)
}

enum Key {
    Text(String),
    Blob(Vec<u8>),
    /// An entry rpm leaves out of the index (its position still counts).
    Skip,
}

/// The (idx, key) rows of one index for one header. A rich dependency gives its whole
/// text and each name inside it at the same idx, names in an `if` condition prefixed
/// or `unless` condition prefixed with `!` (and also plain when there is an `else`), as rpm 4.18 writes them (compared
/// with `rpm --justdb` in the tests).
fn index_keys(h: &Header, t: u32) -> Vec<(i64, Key)> {
    match t {
        tag::INSTALLTID => h
            .int(t)
            .map(|v| vec![(0, Key::Blob((v as u32).to_le_bytes().to_vec()))])
            .unwrap_or_default(),
        tag::SIGMD5 => h
            .bin(t)
            .map(|b| vec![(0, Key::Blob(b.to_vec()))])
            .unwrap_or_default(),
        _ => {
            let flags = if t == tag::REQUIRENAME {
                h.ints(tag::REQUIREFLAGS).unwrap_or_default()
            } else {
                Vec::new()
            };
            let mut out = Vec::new();
            for (i, s) in h.strings(t).unwrap_or_default().into_iter().enumerate() {
                let i = i as i64;
                let f = flags.get(i as usize).copied().unwrap_or(0);
                if t == tag::REQUIRENAME && (f & RPMSENSE_RPMLIB != 0 || s.starts_with("rpmlib(")) {
                    out.push((i, Key::Skip));
                    continue;
                }
                if s.starts_with('(')
                    && let Ok(e) = crate::deps::Expr::parse(&s, None)
                {
                    let mut names = Vec::new();
                    rich_names(&e, false, &mut names);
                    out.push((i, Key::Text(s)));
                    out.extend(names.into_iter().map(|n| (i, Key::Text(n))));
                } else {
                    out.push((i, Key::Text(s)));
                }
            }
            out
        }
    }
}

fn rich_names(e: &crate::deps::Expr, neg: bool, out: &mut Vec<String>) {
    use crate::deps::Expr;
    match e {
        Expr::Simple(d) => out.push(if neg {
            format!("!{}", d.name)
        } else {
            d.name.clone()
        }),
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| rich_names(x, neg, out)),
        Expr::If(a, c, els) => {
            rich_names(a, neg, out);
            rich_names(c, !neg, out);
            if let Some(x) = els {
                // With an else branch rpm indexes the condition both ways.
                rich_names(c, neg, out);
                rich_names(x, neg, out);
            }
        }
        Expr::Unless(a, c, els) => {
            rich_names(a, neg, out);
            rich_names(c, !neg, out);
            if let Some(x) = els {
                rich_names(c, neg, out);
                rich_names(x, neg, out);
            }
        }
        Expr::With(a, b) | Expr::Without(a, b) => {
            rich_names(a, neg, out);
            rich_names(b, neg, out);
        }
    }
}

/// A tag rpm adds at install time, with its type and big-endian data.
struct Added {
    tag: u32,
    ty: u32,
    count: u32,
    data: Vec<u8>,
}

/// The package's header as rpm stores it installed (see the module docs).
pub fn installed_blob(pkg: &Package, install_time: u32) -> Result<Vec<u8>, RpmdbError> {
    let h = pkg.header();
    let sig = pkg.signature_header();
    if h.entries().first().map(|e| e.tag) != Some(tag::HEADERIMMUTABLE) {
        return Err(RpmdbError::NoRegion(pkg.info().name));
    }
    let mut added = Vec::new();
    let int32 = |tag, v: u32| Added {
        tag,
        ty: ty::INT32,
        count: 1,
        data: v.to_be_bytes().to_vec(),
    };
    let string = |tag, s: String| {
        let mut data = s.into_bytes();
        data.push(0);
        Added {
            tag,
            ty: ty::STRING,
            count: 1,
            data,
        }
    };
    let bin = |tag, b: &[u8]| Added {
        tag,
        ty: ty::BIN,
        count: b.len() as u32,
        data: b.to_vec(),
    };
    if let Some(v) = sig.int(sigtag::SIZE) {
        added.push(int32(tag::SIGSIZE, v as u32));
    }
    if let Some(b) = sig.bin(sigtag::PGP) {
        added.push(bin(tag::SIGPGP, b));
    }
    if let Some(b) = sig.bin(sigtag::GPG) {
        added.push(bin(tag::SIGGPG, b));
    }
    if let Some(v) = sig.int(sigtag::PAYLOADSIZE) {
        added.push(int32(tag::ARCHIVESIZE, v as u32));
    }
    let int64 = |tag, v: u64| Added {
        tag,
        ty: ty::INT64,
        count: 1,
        data: v.to_be_bytes().to_vec(),
    };
    if let Some(v) = sig.int(sigtag::LONGSIZE) {
        added.push(int64(tag::LONGSIGSIZE, v));
    }
    if let Some(v) = sig.int(sigtag::LONGARCHIVESIZE) {
        added.push(int64(tag::LONGARCHIVESIZE, v));
    }
    if let Some(b) = sig.bin(sigtag::MD5) {
        added.push(bin(tag::SIGMD5, b));
    }
    if let Some(b) = sig.bin(sigtag::DSA) {
        added.push(bin(tag::DSAHEADER, b));
    }
    if let Some(b) = sig.bin(sigtag::RSA) {
        added.push(bin(tag::RSAHEADER, b));
    }
    if let Some(s) = sig.string(sigtag::SHA1) {
        added.push(string(tag::SHA1HEADER, s));
    }
    if let Some(s) = sig.string(sigtag::SHA256) {
        added.push(string(tag::SHA256HEADER, s));
    }
    added.push(int32(tag::INSTALLTIME, install_time));
    let nfiles = h.strings(tag::BASENAMES).map_or(0, |v| v.len());
    if nfiles > 0 {
        added.push(Added {
            tag: tag::FILESTATES,
            ty: ty::CHAR,
            count: nfiles as u32,
            data: vec![0; nfiles], // RPMFILE_STATE_NORMAL
        });
    }
    added.push(int32(tag::INSTALLCOLOR, 0));
    added.push(int32(tag::INSTALLTID, install_time));
    added.sort_by_key(|a| a.tag);

    let mut index: Vec<u8> = Vec::new();
    for e in h.entries() {
        for w in [e.tag, e.ty, e.offset, e.count] {
            index.extend(w.to_be_bytes());
        }
    }
    let mut data = h.data().to_vec();
    for a in &added {
        let align = match a.ty {
            ty::INT16 => 2,
            ty::INT32 => 4,
            ty::INT64 => 8,
            _ => 1,
        };
        while !data.len().is_multiple_of(align) {
            data.push(0);
        }
        for w in [a.tag, a.ty, data.len() as u32, a.count] {
            index.extend(w.to_be_bytes());
        }
        data.extend(&a.data);
    }
    let il = (h.entries().len() + added.len()) as u32;
    let mut blob = Vec::with_capacity(8 + index.len() + data.len());
    blob.extend(il.to_be_bytes());
    blob.extend((data.len() as u32).to_be_bytes());
    blob.extend(index);
    blob.extend(data);
    Ok(blob)
}
