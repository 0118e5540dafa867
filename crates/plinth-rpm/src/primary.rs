//! `primary.xml(.gz|.zst|.xz)`: the package list of a repository, streamed (quick-xml over
//! the decompressor) and checked against the checksum and size that the verified
//! repomd.xml gives before any package is returned.

use std::io::{BufReader, Read};
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::Event;
use sha2::Digest;

use crate::deps::{DepError, Expr, Op};
use crate::repomd::{Checksum, DataEntry};
use crate::version::Evr;

/// Largest decompressed primary.xml read when repomd gives no open-size (4 GiB).
pub const MAX_PRIMARY: u64 = 4 << 30;

/// Failure while reading primary.xml.
#[derive(Debug, thiserror::Error)]
pub enum PrimaryError {
    /// Reading failed (the error names the path).
    #[error("cannot read primary metadata")]
    Io(#[from] std::io::Error),
    /// The checksum from repomd.xml did not match.
    #[error(
        "{location}: {algorithm} checksum mismatch: repomd.xml says {expected}, file has {actual}"
    )]
    Checksum {
        /// The file, as repomd names it.
        location: String,
        /// Algorithm.
        algorithm: String,
        /// From repomd.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// The size from repomd.xml did not match or a bound was passed.
    #[error("{location}: size {actual} does not match {expected} from repomd.xml")]
    Size {
        /// The file.
        location: String,
        /// Expected.
        expected: u64,
        /// Read.
        actual: u64,
    },
    /// An unsupported checksum algorithm.
    #[error("unsupported checksum algorithm {0:?} (sha1, sha256, sha512 are)")]
    Algorithm(String),
    /// Malformed XML.
    #[error("{location}: malformed primary.xml: {detail}")]
    Xml {
        /// The file.
        location: String,
        /// What.
        detail: String,
    },
    /// A malformed dependency.
    #[error("{location}: package {package}")]
    Dep {
        /// The file.
        location: String,
        /// The package.
        package: String,
        /// What.
        #[source]
        source: DepError,
    },
}

/// One package from primary.xml.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RpmPackage {
    /// Name.
    pub name: String,
    /// Architecture (`x86_64`, `noarch`, `src`...).
    pub arch: String,
    /// Epoch, version, release.
    pub evr: Evr,
    /// The package file's checksum (`pkgid`).
    pub checksum: Option<Checksum>,
    /// Size of the package file.
    pub size: u64,
    /// Installed size.
    pub installed_size: u64,
    /// Location relative to the repository root.
    pub location: String,
    /// License tag.
    pub license: String,
    /// Source rpm.
    pub sourcerpm: String,
    /// Provides.
    pub provides: Vec<Expr>,
    /// Requires (without `rpmlib(...)` ones, which rpm itself provides).
    pub requires: Vec<Expr>,
    /// Conflicts.
    pub conflicts: Vec<Expr>,
    /// Obsoletes.
    pub obsoletes: Vec<Expr>,
    /// Files primary.xml lists (those in `/etc`, `*bin/` and `/usr/lib/sendmail`, as
    /// createrepo puts there: the file provides).
    pub files: Vec<String>,
}

impl RpmPackage {
    /// `name-[epoch:]version-release.arch`.
    pub fn nevra(&self) -> String {
        format!("{}-{}.{}", self.name, self.evr, self.arch)
    }
}

/// Reads and checks `repo/<entry.location>` against `entry`, and parses it.
pub fn read(repo: &Path, entry: &DataEntry) -> Result<Vec<RpmPackage>, PrimaryError> {
    let file = fs_err::File::open(repo.join(&entry.location))?;
    parse_checked(file, entry)
}

/// Parses primary data from `reader` (compressed as `entry.location`'s extension says),
/// checking the compressed size and checksum against `entry` before returning.
pub fn parse_checked(
    reader: impl Read,
    entry: &DataEntry,
) -> Result<Vec<RpmPackage>, PrimaryError> {
    let loc = entry.location.clone();
    let hasher = hasher(&entry.checksum.algorithm)?;
    let mut counted = Counted {
        inner: reader.take(entry.size.map_or(u64::MAX, |s| s + 1)),
        hash: hasher,
        n: 0,
    };
    let limit = entry.open_size.map_or(MAX_PRIMARY, |s| s + 1);
    let packages = {
        let dec: Box<dyn Read + '_> = if loc.ends_with(".gz") {
            Box::new(flate2::read::GzDecoder::new(&mut counted))
        } else if loc.ends_with(".zst") {
            Box::new(zstd::stream::read::Decoder::new(&mut counted)?)
        } else if loc.ends_with(".xz") {
            Box::new(liblzma::read::XzDecoder::new(&mut counted))
        } else {
            Box::new(&mut counted)
        };
        let bounded = BufReader::new(dec.take(limit));
        parse(bounded, &loc)?
    };
    std::io::copy(&mut counted, &mut std::io::sink())?;
    if let Some(size) = entry.size
        && counted.n != size
    {
        return Err(PrimaryError::Size {
            location: loc,
            expected: size,
            actual: counted.n,
        });
    }
    let actual = counted.hash.hex();
    if !actual.eq_ignore_ascii_case(&entry.checksum.value) {
        return Err(PrimaryError::Checksum {
            location: loc,
            algorithm: entry.checksum.algorithm.clone(),
            expected: entry.checksum.value.clone(),
            actual,
        });
    }
    Ok(packages)
}

/// The checksum algorithms repodata uses.
enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => sha1::Digest::update(h, data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn hex(self) -> String {
        match self {
            Hasher::Sha1(h) => hex::encode(sha1::Digest::finalize(h)),
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha384(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

fn hasher(alg: &str) -> Result<Hasher, PrimaryError> {
    Ok(match alg {
        "sha256" => Hasher::Sha256(sha2::Sha256::new()),
        "sha512" => Hasher::Sha512(sha2::Sha512::new()),
        "sha384" => Hasher::Sha384(sha2::Sha384::new()),
        // Old createrepo writes SHA-1 as "sha". The checksum is under the repomd
        // signature, which is what carries the trust.
        "sha1" | "sha" => Hasher::Sha1(<sha1::Sha1 as sha1::Digest>::new()),
        other => return Err(PrimaryError::Algorithm(other.into())),
    })
}

struct Counted<R> {
    inner: R,
    hash: Hasher,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.hash.update(&buf[..k]);
        self.n += k as u64;
        Ok(k)
    }
}

/// Which dependency list an `rpm:entry` belongs to.
#[derive(Clone, Copy, PartialEq)]
enum List {
    None,
    Provides,
    Requires,
    Conflicts,
    Obsoletes,
}

/// Parses (unchecked) primary XML.
pub fn parse(
    reader: impl std::io::BufRead,
    location: &str,
) -> Result<Vec<RpmPackage>, PrimaryError> {
    let xml_err = |detail: String| PrimaryError::Xml {
        location: location.to_string(),
        detail,
    };
    let mut r = Reader::from_reader(reader);
    r.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut cur: Option<RpmPackage> = None;
    let mut list = List::None;
    let mut text = String::new();
    loop {
        let ev = r
            .read_event_into(&mut buf)
            .map_err(|e| xml_err(e.to_string()))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                text.clear();
                let attrs: Vec<(Vec<u8>, String)> = e
                    .attributes()
                    .map(|a| {
                        let a = a.map_err(|e| xml_err(e.to_string()))?;
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map_err(|e| xml_err(e.to_string()))?
                            .into_owned();
                        Ok((a.key.local_name().as_ref().to_vec(), v))
                    })
                    .collect::<Result<_, PrimaryError>>()?;
                let attr = |k: &str| {
                    attrs
                        .iter()
                        .find(|(n, _)| n == k.as_bytes())
                        .map(|(_, v)| v.clone())
                };
                let name = e.local_name();
                match name.as_ref() {
                    b"package" => cur = Some(RpmPackage::default()),
                    b"provides" => list = List::Provides,
                    b"requires" => list = List::Requires,
                    b"conflicts" => list = List::Conflicts,
                    b"obsoletes" => list = List::Obsoletes,
                    b"recommends" | b"suggests" | b"supplements" | b"enhances" => list = List::None,
                    _ => {}
                }
                let Some(p) = cur.as_mut() else {
                    buf.clear();
                    continue;
                };
                match name.as_ref() {
                    b"version" => {
                        p.evr = Evr {
                            epoch: attr("epoch").and_then(|e| e.parse().ok()),
                            version: attr("ver").unwrap_or_default(),
                            release: attr("rel"),
                        }
                    }
                    b"checksum" => {
                        p.checksum = Some(Checksum {
                            algorithm: attr("type").unwrap_or_default(),
                            value: String::new(),
                        })
                    }
                    b"size" => {
                        p.size = attr("package").and_then(|s| s.parse().ok()).unwrap_or(0);
                        p.installed_size =
                            attr("installed").and_then(|s| s.parse().ok()).unwrap_or(0);
                    }
                    b"location" => p.location = attr("href").unwrap_or_default(),
                    b"entry" if list != List::None => {
                        let dep_name = attr("name").unwrap_or_default();
                        if dep_name.starts_with("rpmlib(") {
                            buf.clear();
                            continue;
                        }
                        let constraint = attr("flags").and_then(|f| Op::from_flags(&f)).map(|op| {
                            (
                                op,
                                Evr {
                                    epoch: attr("epoch").and_then(|e| e.parse().ok()),
                                    version: attr("ver").unwrap_or_default(),
                                    release: attr("rel"),
                                },
                            )
                        });
                        let expr = Expr::parse(&dep_name, constraint).map_err(|source| {
                            PrimaryError::Dep {
                                location: location.to_string(),
                                package: p.nevra(),
                                source,
                            }
                        })?;
                        match list {
                            List::Provides => p.provides.push(expr),
                            List::Requires => p.requires.push(expr),
                            List::Conflicts => p.conflicts.push(expr),
                            List::Obsoletes => p.obsoletes.push(expr),
                            List::None => {}
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                text.push_str(&t.decode().map_err(|e| xml_err(e.to_string()))?);
            }
            Event::GeneralRef(g) => {
                let name = g.decode().map_err(|e| xml_err(e.to_string()))?;
                match quick_xml::escape::resolve_predefined_entity(&name) {
                    Some(s) => text.push_str(s),
                    None => {
                        if let Ok(Some(c)) = g.resolve_char_ref() {
                            text.push(c);
                        }
                    }
                }
            }
            Event::End(ref e) => {
                let name = e.local_name();
                match name.as_ref() {
                    b"provides" | b"requires" | b"conflicts" | b"obsoletes" | b"recommends"
                    | b"suggests" | b"supplements" | b"enhances" => list = List::None,
                    b"package" => {
                        if let Some(p) = cur.take() {
                            if p.name.is_empty() || p.location.is_empty() {
                                return Err(xml_err("a package lacks a name or location".into()));
                            }
                            out.push(p);
                        }
                    }
                    _ => {}
                }
                if let Some(p) = cur.as_mut() {
                    let t = std::mem::take(&mut text);
                    match name.as_ref() {
                        b"name" => p.name = t,
                        b"arch" => p.arch = t,
                        b"checksum" => {
                            if let Some(c) = p.checksum.as_mut() {
                                c.value = t;
                            }
                        }
                        b"license" => p.license = t,
                        b"sourcerpm" => p.sourcerpm = t,
                        b"file" => p.files.push(t),
                        _ => {}
                    }
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}
