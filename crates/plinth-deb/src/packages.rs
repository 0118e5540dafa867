//! `Packages` indexes: decompression (plain, gzip, xz, lz4 as apt stores its lists),
//! checking an index against its Release entry, and parsing into [`PackageRecord`]s.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::deps::{self, DepError, DepGroup};
use crate::release::Release;
use plinth_dpkg::control::{self, ControlError, Paragraph};
use plinth_dpkg::version::{Version, VersionError};

/// Largest decompressed index accepted, in bytes.
pub const MAX_INDEX: u64 = 1 << 30;

/// Failure while reading a Packages index.
#[derive(Debug, thiserror::Error)]
pub enum PackagesError {
    /// Reading an index file failed.
    #[error("cannot read index")]
    Io(#[from] std::io::Error),
    /// The compressed stream is corrupt.
    #[error("cannot decompress {compression:?} index")]
    Decompress {
        /// The compression the index was read with.
        compression: Compression,
        /// What the decompressor reported.
        #[source]
        source: std::io::Error,
    },
    /// The index decompresses to more than [`MAX_INDEX`] bytes.
    #[error("index decompresses to more than {MAX_INDEX} bytes")]
    TooLarge,
    /// The signed Release file lists no SHA-256 for the index.
    #[error("index {path} is not listed in the release file")]
    NotInRelease {
        /// The index's path, relative to the release directory.
        path: String,
    },
    /// The downloaded index does not have the size the Release file lists.
    #[error("index {path} is {actual} bytes, the release file says {expected}")]
    SizeMismatch {
        /// The index's path, relative to the release directory.
        path: String,
        /// Size the Release file lists, in bytes.
        expected: u64,
        /// Size downloaded, in bytes.
        actual: u64,
    },
    /// The downloaded index does not hash to the SHA-256 the Release file lists.
    #[error("index {path} has sha256 {actual}, the release file says {expected}")]
    HashMismatch {
        /// The index's path, relative to the release directory.
        path: String,
        /// SHA-256 (hex) the Release file lists.
        expected: String,
        /// SHA-256 (hex) of the bytes downloaded.
        actual: String,
    },
    /// The index is not valid deb822.
    #[error("cannot parse index")]
    Control(#[from] ControlError),
    /// A paragraph lacks a field every record must have.
    #[error("index paragraph at line {line} lacks field {field}")]
    MissingField {
        /// 1-based line on which the paragraph starts.
        line: usize,
        /// The missing field (`Package`, `Version`, `Filename`, …).
        field: &'static str,
    },
    /// A field's value is malformed (a number, a hash, a path, `Multi-Arch`, …).
    #[error("package {package}: field {field} is invalid: {value:?}")]
    BadField {
        /// The record's `Package`.
        package: String,
        /// The field's name.
        field: &'static str,
        /// Its value, as written.
        value: String,
    },
    /// The `Version` field does not parse.
    #[error("package {package}: invalid version")]
    Version {
        /// The record's `Package`.
        package: String,
        /// Why the version was rejected.
        #[source]
        source: VersionError,
    },
    /// A `Depends`, `Pre-Depends` or `Provides` field does not parse.
    #[error("package {package}: invalid field {field}")]
    Depends {
        /// The record's `Package`.
        package: String,
        /// The field's name.
        field: &'static str,
        /// Why the field was rejected.
        #[source]
        source: DepError,
    },
}

/// How an index file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed (`Packages`).
    None,
    /// gzip (`.gz`).
    Gzip,
    /// xz (`.xz`).
    Xz,
    /// LZ4 frames (`.lz4`, as apt stores its lists).
    Lz4,
}

impl Compression {
    /// Guesses from a file name's extension (`Packages.xz`, `..._Packages.lz4`).
    pub fn from_path(path: &str) -> Self {
        match Path::new(path).extension().and_then(|e| e.to_str()) {
            Some("gz") => Self::Gzip,
            Some("xz") => Self::Xz,
            Some("lz4") => Self::Lz4,
            _ => Self::None,
        }
    }
}

/// Decompresses `data`, refusing output over [`MAX_INDEX`].
pub fn decompress(data: &[u8], compression: Compression) -> Result<Vec<u8>, PackagesError> {
    let reader: Box<dyn Read + '_> = match compression {
        Compression::None => Box::new(data),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(data)),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(data)),
    };
    let mut out = Vec::new();
    reader
        .take(MAX_INDEX + 1)
        .read_to_end(&mut out)
        .map_err(|source| PackagesError::Decompress {
            compression,
            source,
        })?;
    if out.len() as u64 > MAX_INDEX {
        return Err(PackagesError::TooLarge);
    }
    Ok(out)
}

/// Checks downloaded bytes (as fetched, before decompression) against the size and
/// SHA-256 that `release` lists for `path` (relative to the release directory).
pub fn verify_against_release(
    data: &[u8],
    release: &Release,
    path: &str,
) -> Result<(), PackagesError> {
    let entry = release
        .file(path)
        .ok_or_else(|| PackagesError::NotInRelease {
            path: path.to_string(),
        })?;
    if entry.size != data.len() as u64 {
        return Err(PackagesError::SizeMismatch {
            path: path.to_string(),
            expected: entry.size,
            actual: data.len() as u64,
        });
    }
    let actual = hex::encode(Sha256::digest(data));
    if actual != entry.sha256 {
        return Err(PackagesError::HashMismatch {
            path: path.to_string(),
            expected: entry.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// Value of `Multi-Arch`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MultiArch {
    /// `no` (also when the field is absent): satisfies only dependencies of its own
    /// architecture, and is not co-installable with itself.
    #[default]
    No,
    /// `same`: co-installable with itself for other architectures.
    Same,
    /// `foreign`: satisfies dependencies of any architecture.
    Foreign,
    /// `allowed`: satisfies dependencies qualified `:any`.
    Allowed,
}

/// A `Source` field: the source package name and, if different, its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    /// The source package's name.
    pub name: String,
    /// The source version in `Source: name (version)`, `None` when it is the binary's.
    pub version: Option<Version>,
}

/// A virtual package a record provides, optionally at a version (`Provides: x (= 1)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provide {
    /// The virtual package's name.
    pub name: String,
    /// The version in `(= version)`, `None` when unversioned.
    pub version: Option<Version>,
}

/// One binary package of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    /// The binary package's name (`Package`).
    pub package: String,
    /// `Version`.
    pub version: Version,
    /// `Architecture`: a Debian architecture or `all`.
    pub architecture: String,
    /// `Multi-Arch`.
    pub multi_arch: MultiArch,
    /// `Source`, `None` when the source package has the binary's name and version.
    pub source: Option<SourceRef>,
    /// `Depends`, one group per comma.
    pub depends: Vec<DepGroup>,
    /// `Pre-Depends`, one group per comma.
    pub pre_depends: Vec<DepGroup>,
    /// `Provides`.
    pub provides: Vec<Provide>,
    /// Whether `Essential: yes`.
    pub essential: bool,
    /// `required`, `important`, `standard`, `optional` or `extra`, as written.
    pub priority: Option<String>,
    /// `Filename`: the `.deb`'s path under the mirror root (`pool/main/…`).
    pub filename: String,
    /// `Size` of the `.deb`, in bytes.
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Kibibytes.
    pub installed_size: Option<u64>,
    /// `Maintainer`, as written.
    pub maintainer: Option<String>,
    /// Synopsis line only.
    pub description: Option<String>,
}

impl PackageRecord {
    /// Rank of `Priority` for choosing among providers: `required` is 0, unknown last.
    pub fn priority_rank(&self) -> u8 {
        match self.priority.as_deref() {
            Some("required") => 0,
            Some("important") => 1,
            Some("standard") => 2,
            Some("optional") => 3,
            Some("extra") => 4,
            _ => 5,
        }
    }

    /// Builds a record from one index paragraph.
    pub fn from_paragraph(para: &Paragraph) -> Result<Self, PackagesError> {
        // The checks run in the same order as ever: name, version, the dependency
        // fields, then the rest (the lean constructor reports a missing name or a bad
        // version).
        let parsed = match (para.get("Package"), para.get("Version")) {
            (Some(package), Some(v)) if Version::parse(v).is_ok() => {
                let depends = |field: &'static str| -> Result<Vec<DepGroup>, PackagesError> {
                    deps::parse_field(para.get(field).unwrap_or_default()).map_err(|source| {
                        PackagesError::Depends {
                            package: package.to_string(),
                            field,
                            source,
                        }
                    })
                };
                Some((depends("Depends")?, depends("Pre-Depends")?))
            }
            _ => None,
        };
        let mut rec = Self::from_paragraph_lean(para)?;
        if let Some((depends, pre_depends)) = parsed {
            (rec.depends, rec.pre_depends) = (depends, pre_depends);
        }
        rec.maintainer = para.get("Maintainer").map(str::to_string);
        rec.description = para
            .get("Description")
            .map(|d| d.lines().next().unwrap_or_default().to_string());
        Ok(rec)
    }

    /// What a resolver needs to hold of every record: [`PackageRecord::from_paragraph`]
    /// without `Depends` and `Pre-Depends` (left empty: [`RawDepends::of`] keeps their
    /// text, parsed only for the packages a resolution reaches), `Maintainer` and
    /// `Description`.
    pub fn from_paragraph_lean(para: &Paragraph) -> Result<Self, PackagesError> {
        let need = |field: &'static str| {
            para.get(field).ok_or(PackagesError::MissingField {
                line: para.line,
                field,
            })
        };
        let package = need("Package")?.to_string();
        let bad = |field: &'static str, value: &str| PackagesError::BadField {
            package: package.clone(),
            field,
            value: value.to_string(),
        };
        let version =
            Version::parse(need("Version")?).map_err(|source| PackagesError::Version {
                package: package.clone(),
                source,
            })?;
        let depends = |field: &'static str| -> Result<Vec<DepGroup>, PackagesError> {
            deps::parse_field(para.get(field).unwrap_or_default()).map_err(|source| {
                PackagesError::Depends {
                    package: package.clone(),
                    field,
                    source,
                }
            })
        };
        let provides = depends("Provides")?
            .into_iter()
            .map(|g| match g.0.as_slice() {
                [d] if d
                    .version
                    .as_ref()
                    .is_none_or(|(r, _)| *r == deps::Relation::Eq) =>
                {
                    Ok(Provide {
                        name: d.name.clone(),
                        version: d.version.as_ref().map(|(_, v)| v.clone()),
                    })
                }
                _ => Err(bad("Provides", &g.to_string())),
            })
            .collect::<Result<_, _>>()?;
        let multi_arch = match para.get("Multi-Arch").unwrap_or("no") {
            "no" => MultiArch::No,
            "same" => MultiArch::Same,
            "foreign" => MultiArch::Foreign,
            "allowed" => MultiArch::Allowed,
            other => return Err(bad("Multi-Arch", other)),
        };
        let source = match para.get("Source") {
            None => None,
            Some(s) => {
                let (name, ver) = match s.split_once('(') {
                    Some((n, v)) => {
                        let v = v.strip_suffix(')').ok_or_else(|| bad("Source", s))?;
                        (
                            n.trim(),
                            Some(Version::parse(v).map_err(|_| bad("Source", s))?),
                        )
                    }
                    None => (s.trim(), None),
                };
                Some(SourceRef {
                    name: name.to_string(),
                    version: ver,
                })
            }
        };
        let number = |field: &'static str| -> Result<Option<u64>, PackagesError> {
            para.get(field)
                .map(|v| v.parse::<u64>().map_err(|_| bad(field, v)))
                .transpose()
        };
        let sha256 = need("SHA256")?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("SHA256", sha256));
        }
        let filename = need("Filename")?;
        if filename.starts_with('/') || filename.split('/').any(|c| c == "..") {
            return Err(bad("Filename", filename));
        }
        Ok(Self {
            version,
            architecture: need("Architecture")?.to_string(),
            multi_arch,
            source,
            depends: Vec::new(),
            pre_depends: Vec::new(),
            provides,
            essential: para.get("Essential") == Some("yes"),
            priority: para.get("Priority").map(str::to_string),
            filename: filename.to_string(),
            size: number("Size")?.ok_or(PackagesError::MissingField {
                line: para.line,
                field: "Size",
            })?,
            sha256: sha256.to_ascii_lowercase(),
            installed_size: number("Installed-Size")?,
            maintainer: None,
            description: None,
            package,
        })
    }
}

/// The `Pre-Depends` and `Depends` of a record as written, for a record made by
/// [`PackageRecord::from_paragraph_lean`]: a few bytes each instead of the parsed groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawDepends {
    /// `Pre-Depends`, empty when absent.
    pub pre_depends: Box<str>,
    /// `Depends`, empty when absent.
    pub depends: Box<str>,
}

impl RawDepends {
    /// The two fields of `para`.
    pub fn of(para: &Paragraph) -> Self {
        RawDepends {
            pre_depends: para.get("Pre-Depends").unwrap_or_default().into(),
            depends: para.get("Depends").unwrap_or_default().into(),
        }
    }
}

/// Parses a decompressed Packages index.
pub fn parse(data: &[u8]) -> Result<Vec<PackageRecord>, PackagesError> {
    let opts = control::Options {
        max_input: MAX_INDEX as usize,
        ..control::Options::default()
    };
    control::paragraphs(data, opts)?
        .map(|p| PackageRecord::from_paragraph(&p?))
        .collect()
}

/// Decompresses and parses an index as a stream, keeping only the records whose
/// paragraph `keep` accepts: neither the decompressed text (50 MB for Debian's main
/// amd64 index) nor the refused records are ever held whole. Returns the records and the
/// size and SHA-256 of the decompressed text, to check against the release file.
pub fn parse_stream(
    data: &[u8],
    compression: Compression,
    keep: &dyn Fn(&Paragraph) -> bool,
) -> Result<(Vec<PackageRecord>, u64, String), PackagesError> {
    let mut reader: Box<dyn Read + '_> = match compression {
        Compression::None => Box::new(data),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(data)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(data)),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(data)),
    };
    parse_reader(&mut reader, compression, None, keep)
}

/// [`parse_stream`] over the decompressed text as `reader` yields it (`compression`
/// names the stream in errors); every byte read is also written to `tee`, when given
/// (a copy kept for the next run).
pub fn parse_reader(
    reader: &mut dyn Read,
    compression: Compression,
    tee: Option<&mut dyn std::io::Write>,
    keep: &dyn Fn(&Paragraph) -> bool,
) -> Result<(Vec<PackageRecord>, u64, String), PackagesError> {
    let map = |p: &Paragraph| -> Result<Option<PackageRecord>, PackagesError> {
        keep(p)
            .then(|| PackageRecord::from_paragraph(p))
            .transpose()
    };
    parse_reader_map(reader, compression, tee, &map)
}

/// [`parse_reader`], turning each paragraph into whatever `map` makes of it (`None`:
/// nothing kept), for callers that keep less than a [`PackageRecord`].
pub fn parse_reader_map<T>(
    reader: &mut dyn Read,
    compression: Compression,
    mut tee: Option<&mut dyn std::io::Write>,
    map: &dyn Fn(&Paragraph) -> Result<Option<T>, PackagesError>,
) -> Result<(Vec<T>, u64, String), PackagesError> {
    let mut hasher = Sha256::new();
    let mut total: u64 = 0;
    let mut records = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut line = 0usize;
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(PackagesError::Decompress {
                    compression,
                    source,
                });
            }
        };
        hasher.update(&chunk[..n]);
        if let Some(t) = tee.as_mut() {
            t.write_all(&chunk[..n])?;
        }
        total += n as u64;
        if total > MAX_INDEX {
            return Err(PackagesError::TooLarge);
        }
        pending.extend_from_slice(&chunk[..n]);
        // Whole paragraphs only: up to the last blank line, or everything at the end.
        let cut = if n == 0 {
            pending.len()
        } else {
            match memchr::memmem::rfind(&pending, b"\n\n") {
                Some(i) => i + 2,
                None => continue,
            }
        };
        let opts = control::Options {
            max_input: MAX_INDEX as usize,
            first_line: line,
            ..control::Options::default()
        };
        for p in control::paragraphs(&pending[..cut], opts)? {
            if let Some(t) = map(&p?)? {
                records.push(t);
            }
        }
        line += memchr::memchr_iter(b'\n', &pending[..cut]).count();
        pending.drain(..cut);
        if n == 0 {
            break;
        }
    }
    Ok((records, total, hex::encode(hasher.finalize())))
}

/// Reads, decompresses (by extension) and parses an index file.
pub fn read_index(path: &Path) -> Result<Vec<PackageRecord>, PackagesError> {
    let raw = fs_err::read(path)?;
    let compression = Compression::from_path(&path.to_string_lossy());
    parse(&decompress(&raw, compression)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const INDEX: &str = "Package: libc6\nSource: glibc\nVersion: 2.36-9+deb12u10\n\
        Installed-Size: 12987\nMaintainer: GNU Libc Maintainers <libc@example.org>\n\
        Architecture: amd64\nMulti-Arch: same\nReplaces: libc6-amd64\n\
        Depends: libgcc-s1\nRecommends: libidn2-0 (>= 2.0.5~)\n\
        Description: GNU C Library: Shared libraries\n Contains the standard libraries.\n\
        Filename: pool/main/g/glibc/libc6_2.36-9+deb12u10_amd64.deb\nSize: 2757936\n\
        SHA256: 0000000000000000000000000000000000000000000000000000000000000abc\n\n\
        Package: mawk\nVersion: 1.3.4.20200120-3.1\nArchitecture: amd64\nMulti-Arch: foreign\n\
        Priority: required\n\
        Pre-Depends: libc6 (>= 2.34)\nProvides: awk\nFilename: pool/main/m/mawk/mawk.deb\n\
        Size: 10\nSHA256: 1111111111111111111111111111111111111111111111111111111111111111\n\n\
        Package: libssl3\nSource: openssl (3.0.15-1~deb12u1)\nVersion: 3.0.15-1~deb12u1+b1\n\
        Architecture: amd64\nEssential: yes\nProvides: libssl (= 3.0.15), ssl-any\n\
        Depends: libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0\n\
        Filename: pool/main/o/openssl/libssl3.deb\nSize: 20\n\
        SHA256: 2222222222222222222222222222222222222222222222222222222222222222\n";

    #[test]
    fn parses_records() {
        let recs = parse(INDEX.as_bytes()).unwrap();
        assert_eq!(recs.len(), 3);
        let libc = &recs[0];
        assert_eq!(libc.package, "libc6");
        assert_eq!(libc.version.as_str(), "2.36-9+deb12u10");
        assert_eq!(libc.multi_arch, MultiArch::Same);
        assert_eq!(libc.source.as_ref().unwrap().name, "glibc");
        assert_eq!(libc.installed_size, Some(12987));
        assert_eq!(libc.size, 2757936);
        assert_eq!(
            libc.description.as_deref(),
            Some("GNU C Library: Shared libraries")
        );
        assert_eq!(libc.depends[0].0[0].name, "libgcc-s1");
        let mawk = &recs[1];
        assert_eq!(mawk.multi_arch, MultiArch::Foreign);
        assert_eq!(mawk.pre_depends[0].to_string(), "libc6 (>= 2.34)");
        assert_eq!(mawk.provides[0].name, "awk");
        assert_eq!(
            (mawk.priority.as_deref(), mawk.priority_rank()),
            (Some("required"), 0)
        );
        assert_eq!(libc.priority_rank(), 5);
        let ssl = &recs[2];
        assert!(ssl.essential);
        let src = ssl.source.as_ref().unwrap();
        assert_eq!(
            (src.name.as_str(), src.version.as_ref().unwrap().as_str()),
            ("openssl", "3.0.15-1~deb12u1")
        );
        assert_eq!(ssl.provides[0].version.as_ref().unwrap().as_str(), "3.0.15");
        assert_eq!(ssl.provides[1].version, None);
        assert_eq!(ssl.depends[1].0.len(), 2);
    }

    #[test]
    fn bad_records_name_the_package() {
        let cases = [
            (
                "Version: 1\n",
                "index paragraph at line 1 lacks field Package",
            ),
            ("Package: p\nVersion: x\n", "package p: invalid version"),
            (
                "Package: p\nVersion: 1\nArchitecture: all\nMulti-Arch: maybe\n",
                "package p: field Multi-Arch is invalid: \"maybe\"",
            ),
            (
                "Package: p\nVersion: 1\nDepends: a (>> )\n",
                "package p: invalid field Depends",
            ),
            (
                "Package: p\nVersion: 1\nArchitecture: all\nProvides: v (>= 1)\n",
                "package p: field Provides is invalid: \"v (>= 1)\"",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
        let evil = INDEX.replace("pool/main/m/mawk/mawk.deb", "../../etc/passwd");
        assert!(matches!(
            parse(evil.as_bytes()),
            Err(PackagesError::BadField {
                field: "Filename",
                ..
            })
        ));
    }

    #[test]
    fn streamed_parse_keeps_what_it_is_asked_and_counts_lines_across_chunks() {
        // Big enough to be read in several chunks, so paragraphs straddle them.
        let mut text = String::new();
        while text.len() < 3 << 20 {
            text.push_str(INDEX.trim_end());
            text.push_str("\n\n");
        }
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(text.as_bytes()).unwrap();
        let xz = xz.finish().unwrap();
        let keep = |p: &Paragraph| p.get("Package") == Some("mawk");
        let (records, size, sha) = parse_stream(&xz, Compression::Xz, &keep).unwrap();
        let all = parse(text.as_bytes()).unwrap();
        let want: Vec<_> = all.into_iter().filter(|r| r.package == "mawk").collect();
        assert_eq!(records, want);
        assert_eq!(size, text.len() as u64);
        assert_eq!(sha, hex::encode(Sha256::digest(text.as_bytes())));
        // An error deep in the stream names its line in the whole index.
        let lines = text.matches('\n').count();
        let bad = format!("{text}Package: p\nbroken line\n");
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(bad.as_bytes()).unwrap();
        let err = parse_stream(&xz.finish().unwrap(), Compression::Xz, &|_| true).unwrap_err();
        assert!(
            std::error::Error::source(&err)
                .unwrap()
                .to_string()
                .contains(&format!("line {}", lines + 2)),
            "{err:?}"
        );
    }

    #[test]
    fn decompresses_every_format() {
        let raw = INDEX.as_bytes();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(raw).unwrap();
        let gz = gz.finish().unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(raw).unwrap();
        let xz = xz.finish().unwrap();
        let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz4.write_all(raw).unwrap();
        let lz4 = lz4.finish().unwrap();
        for (data, name) in [
            (raw.to_vec(), "Packages"),
            (gz, "Packages.gz"),
            (xz, "Packages.xz"),
            (lz4, "x_Packages.lz4"),
        ] {
            let c = Compression::from_path(name);
            assert_eq!(decompress(&data, c).unwrap(), raw, "{name}");
        }
        let err = decompress(b"not xz", Compression::Xz).unwrap_err();
        assert_eq!(err.to_string(), "cannot decompress Xz index");
        assert!(decompress(b"\x1f\x8b\x08garbage", Compression::Gzip).is_err());
    }

    #[test]
    fn index_is_checked_against_release() {
        let data = INDEX.as_bytes();
        let hash = hex::encode(Sha256::digest(data));
        let text = format!(
            "Suite: s\nSHA256:\n {hash} {} main/binary-amd64/Packages\n",
            data.len()
        );
        let release = Release::parse(text.as_bytes()).unwrap();
        verify_against_release(data, &release, "main/binary-amd64/Packages").unwrap();
        let err = verify_against_release(data, &release, "main/binary-arm64/Packages").unwrap_err();
        assert_eq!(
            err.to_string(),
            "index main/binary-arm64/Packages is not listed in the release file"
        );
        let mut tampered = data.to_vec();
        tampered[0] = b'p';
        let err =
            verify_against_release(&tampered, &release, "main/binary-amd64/Packages").unwrap_err();
        assert!(matches!(err, PackagesError::HashMismatch { .. }));
        assert!(err.to_string().contains(&hash));
        let err =
            verify_against_release(&data[1..], &release, "main/binary-amd64/Packages").unwrap_err();
        assert!(matches!(err, PackagesError::SizeMismatch { .. }));
    }

    #[test]
    fn reads_index_files_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Packages.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(INDEX.as_bytes()).unwrap();
        fs_err::write(&path, gz.finish().unwrap()).unwrap();
        assert_eq!(read_index(&path).unwrap().len(), 3);
        let err = read_index(&dir.path().join("missing")).unwrap_err();
        assert!(format!("{:?}", err).contains("missing"));
    }
}
