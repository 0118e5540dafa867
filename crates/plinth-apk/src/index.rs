//! `APKINDEX.tar.gz`: a signature gzip member (a tar holding `.SIGN.RSA.<keyname>` or
//! `.SIGN.RSA256.<keyname>`) followed by the signed gzip member(s) of a tar holding
//! `DESCRIPTION` and `APKINDEX`. The signature is RSA PKCS#1 v1.5 over the raw bytes
//! from the second member to the end of the file. [`verify_index`] checks it against a
//! [`Keyring`] before a byte of the index is parsed; [`parse_index`] reads the text.

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

use crate::gzip::{self, GzipError};
use crate::keys::{Keyring, SignatureHash};

/// The most an index may inflate to (Alpine's biggest, edge/community x86_64, is about
/// 12 MB).
pub const MAX_INDEX_BYTES: u64 = 256 << 20;
/// The most a signature member may inflate to (one tar header and one RSA signature).
const MAX_SIGNATURE_MEMBER: u64 = 64 << 10;
/// The most signature files one signature member may hold.
const MAX_SIGNATURES: usize = 16;

/// A signature that could not be checked or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The first gzip member holds no `.SIGN.RSA.*` or `.SIGN.RSA256.*` file.
    #[error("no apk signature (.SIGN.RSA.<key> or .SIGN.RSA256.<key>) in the first gzip member")]
    Missing,
    /// None of the signatures' keys is configured.
    #[error("signed by unknown key {names} (configured keys: {known})")]
    UnknownKey {
        /// The key names the signatures carry.
        names: String,
        /// The configured key names.
        known: String,
    },
    /// A configured key's signature does not match the signed bytes.
    #[error("signature by key {key} does not match the signed data (modified or corrupt)")]
    Mismatch {
        /// The key name.
        key: String,
    },
    /// The signature member is not a readable tar.
    #[error("signature member is not a readable tar")]
    Tar(#[source] std::io::Error),
    /// The signature member could not be inflated.
    #[error(transparent)]
    Gzip(#[from] GzipError),
}

/// An index file that could not be read, verified or parsed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The file could not be read.
    #[error("cannot read {file}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The signature is missing, from an unknown key or wrong.
    #[error("cannot verify the signature of {file}")]
    Signature {
        /// The file.
        file: String,
        /// What is wrong with the signature.
        #[source]
        source: SignatureError,
    },
    /// The signed members are not a readable gzip or tar.
    #[error("{file}: the signed index is not a readable tar.gz")]
    Archive {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The signed members could not be inflated.
    #[error("{file}: the signed index cannot be inflated")]
    Gzip {
        /// The file.
        file: String,
        /// The gzip error.
        #[source]
        source: GzipError,
    },
    /// The archive has no `APKINDEX` file.
    #[error("{file} holds no APKINDEX file")]
    NoIndex {
        /// The file.
        file: String,
    },
    /// The `APKINDEX` text is malformed.
    #[error("{file}: malformed APKINDEX")]
    Parse {
        /// The file.
        file: String,
        /// Where and what.
        #[source]
        source: ParseError,
    },
}

/// Malformed index or database text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct ParseError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// One package as an index (or the installed database) describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageInfo {
    /// `C:`, the package checksum as written: `Q1` + base64 of the SHA-1 of the
    /// package's control gzip member.
    pub checksum: String,
    /// `P:` name.
    pub name: String,
    /// `V:` version.
    pub version: String,
    /// `A:` architecture.
    pub arch: String,
    /// `S:` size of the `.apk` file in bytes.
    pub size: u64,
    /// `I:` installed size in bytes.
    pub installed_size: u64,
    /// `T:` one-line description.
    pub description: String,
    /// `U:` project URL.
    pub url: String,
    /// `L:` licence expression.
    pub license: String,
    /// `o:` origin (the source package).
    pub origin: String,
    /// `m:` maintainer.
    pub maintainer: String,
    /// `t:` build time (seconds since the epoch).
    pub build_time: Option<u64>,
    /// `c:` aports commit.
    pub commit: String,
    /// `k:` provider priority.
    pub provider_priority: Option<u64>,
    /// `D:` dependencies, one token each (`name`, `so:x`, `name>=1.0`, `!name`).
    pub depends: Vec<String>,
    /// `p:` provides (`name` or `name=version`).
    pub provides: Vec<String>,
    /// `i:` install-if conditions.
    pub install_if: Vec<String>,
    /// `r:` replaces.
    pub replaces: Vec<String>,
    /// `q:` replaces priority.
    pub replaces_priority: Option<u64>,
}

impl PackageInfo {
    /// `name-version`, as apk names a package.
    pub fn id(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    /// The SHA-1 the `C:` field carries, or `None` if it is not `Q1` + base64 of 20 bytes.
    pub fn checksum_sha1(&self) -> Option<[u8; 20]> {
        decode_q1(&self.checksum)
    }

    /// The index paragraph apk writes for this package (`apk_pkg_write_index_entry`),
    /// each line ending in a newline, without the blank separator line.
    pub fn index_paragraph(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "C:{}", self.checksum);
        let _ = writeln!(s, "P:{}", self.name);
        let _ = writeln!(s, "V:{}", self.version);
        if !self.arch.is_empty() {
            let _ = writeln!(s, "A:{}", self.arch);
        }
        let _ = writeln!(s, "S:{}", self.size);
        let _ = writeln!(s, "I:{}", self.installed_size);
        let _ = writeln!(s, "T:{}", self.description);
        let _ = writeln!(s, "U:{}", self.url);
        let _ = writeln!(s, "L:{}", self.license);
        if !self.origin.is_empty() {
            let _ = writeln!(s, "o:{}", self.origin);
        }
        if !self.maintainer.is_empty() {
            let _ = writeln!(s, "m:{}", self.maintainer);
        }
        if let Some(t) = self.build_time {
            let _ = writeln!(s, "t:{t}");
        }
        if !self.commit.is_empty() {
            let _ = writeln!(s, "c:{}", self.commit);
        }
        if let Some(k) = self.provider_priority {
            let _ = writeln!(s, "k:{k}");
        }
        for (tag, list) in [
            ('D', &self.depends),
            ('p', &self.provides),
            ('i', &self.install_if),
        ] {
            if !list.is_empty() {
                let _ = writeln!(s, "{tag}:{}", list.join(" "));
            }
        }
        s
    }
}

/// `Q1` + base64 of a SHA-1, as apk writes package and file checksums.
pub fn encode_q1(sha1: &[u8; 20]) -> String {
    use base64::Engine as _;
    format!(
        "Q1{}",
        base64::engine::general_purpose::STANDARD.encode(sha1)
    )
}

/// The SHA-1 in a `Q1`-prefixed checksum, or `None` if it is not one.
pub fn decode_q1(value: &str) -> Option<[u8; 20]> {
    use base64::Engine as _;
    let b64 = value.strip_prefix("Q1")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    bytes.try_into().ok()
}

/// A verified, parsed index.
#[derive(Debug, Clone)]
pub struct Index {
    /// The key that signed it.
    pub key_name: String,
    /// The hash the signature was made over.
    pub hash: SignatureHash,
    /// The `DESCRIPTION` file (Alpine writes the aports version, `v3.16.3-13-g…`).
    pub description: Option<String>,
    /// The packages, in index order.
    pub packages: Vec<PackageInfo>,
}

/// The signature files of a signature member, in order: hash, key name, signature bytes.
pub(crate) type Signatures = Vec<(SignatureHash, String, Vec<u8>)>;

/// Reads the signature files at the start of a signature member's tar. abuild cuts the
/// tar's end-of-archive blocks, so the archive just ends.
pub(crate) fn read_signatures(tar_bytes: &[u8]) -> Result<Signatures, SignatureError> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for entry in archive.entries().map_err(SignatureError::Tar)? {
        let mut entry = entry.map_err(SignatureError::Tar)?;
        let path = entry.path().map_err(SignatureError::Tar)?;
        let name = path.to_string_lossy().into_owned();
        let Some((hash, key)) = SignatureHash::from_file_name(&name) else {
            break;
        };
        let key = key.to_string();
        let mut sig = Vec::new();
        (&mut entry)
            .take(MAX_SIGNATURE_MEMBER)
            .read_to_end(&mut sig)
            .map_err(SignatureError::Tar)?;
        out.push((hash, key, sig));
        if out.len() >= MAX_SIGNATURES {
            break;
        }
    }
    Ok(out)
}

/// Checks the signatures of a signature member against `signed`: the first signature
/// whose key is configured decides. Returns that key's name and hash.
pub(crate) fn verify_signatures(
    signature_member: &[u8],
    signed: &[u8],
    keys: &Keyring,
) -> Result<(String, SignatureHash), SignatureError> {
    let signatures = read_signatures(signature_member)?;
    if signatures.is_empty() {
        return Err(SignatureError::Missing);
    }
    for (hash, name, sig) in &signatures {
        let Some(key) = keys.get(name) else { continue };
        let (scheme, digest) = hash.scheme_and_digest(signed);
        return match key.verify(scheme, &digest, sig) {
            Ok(()) => Ok((name.clone(), *hash)),
            Err(_) => Err(SignatureError::Mismatch { key: name.clone() }),
        };
    }
    let names: Vec<&str> = signatures.iter().map(|(_, n, _)| n.as_str()).collect();
    let known: Vec<&str> = keys.names().collect();
    Err(SignatureError::UnknownKey {
        names: names.join(", "),
        known: if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        },
    })
}

/// The first gzip member, which must be small enough to be a signature: one that
/// inflates to more is the content itself, unsigned.
pub(crate) fn signature_member(bytes: &[u8]) -> Result<gzip::Member, SignatureError> {
    gzip::member_at(bytes, 0, MAX_SIGNATURE_MEMBER).map_err(|e| match e {
        GzipError::TooLarge { .. } => SignatureError::Missing,
        e => SignatureError::Gzip(e),
    })
}

/// Reads and verifies an `APKINDEX.tar.gz` file.
pub fn read_index(path: &Path, keys: &Keyring) -> Result<Index, IndexError> {
    let file = path.display().to_string();
    let bytes = fs_err::read(path).map_err(|source| IndexError::Read {
        file: file.clone(),
        source,
    })?;
    verify_index(&file, &bytes, keys)
}

/// Verifies the signature of an `APKINDEX.tar.gz`'s bytes, then parses the index. `file`
/// names it in errors.
pub fn verify_index(file: &str, bytes: &[u8], keys: &Keyring) -> Result<Index, IndexError> {
    let sig_err = |source| IndexError::Signature {
        file: file.to_string(),
        source,
    };
    let first = signature_member(bytes).map_err(sig_err)?;
    let signed = &bytes[first.range.end..];
    let (key_name, hash) = verify_signatures(&first.content, signed, keys).map_err(sig_err)?;

    // Only now inflate what the signature covers.
    let gz_err = |source| IndexError::Gzip {
        file: file.to_string(),
        source,
    };
    let mut tar_bytes = Vec::new();
    let mut offset = first.range.end;
    while offset < bytes.len() {
        let left = MAX_INDEX_BYTES - tar_bytes.len() as u64;
        let member = gzip::member_at(bytes, offset, left).map_err(gz_err)?;
        tar_bytes.extend_from_slice(&member.content);
        offset = member.range.end;
    }
    let arch_err = |source| IndexError::Archive {
        file: file.to_string(),
        source,
    };
    let mut description = None;
    let mut text = None;
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    for entry in archive.entries().map_err(arch_err)? {
        let mut entry = entry.map_err(arch_err)?;
        let name = entry
            .path()
            .map_err(arch_err)?
            .to_string_lossy()
            .into_owned();
        let mut content = String::new();
        match name.as_str() {
            "APKINDEX" => {
                entry.read_to_string(&mut content).map_err(arch_err)?;
                text = Some(content);
            }
            "DESCRIPTION" => {
                entry.read_to_string(&mut content).map_err(arch_err)?;
                description = Some(content.trim_end().to_string());
            }
            _ => {}
        }
    }
    let text = text.ok_or_else(|| IndexError::NoIndex {
        file: file.to_string(),
    })?;
    let packages = parse_index(&text).map_err(|source| IndexError::Parse {
        file: file.to_string(),
        source,
    })?;
    Ok(Index {
        key_name,
        hash,
        description,
        packages,
    })
}

/// Parses `APKINDEX` (or installed-database) text into packages: paragraphs of `X:value`
/// lines separated by blank lines. Unknown fields are skipped, as apk skips them; in the
/// installed database, the per-file lines (`F:`, `R:`, `a:`, `M:`, `Z:`) are skipped
/// here. Errors carry the 1-based line number.
pub fn parse_index(text: &str) -> Result<Vec<PackageInfo>, ParseError> {
    parse_paragraphs(text).map_err(|(line, problem)| ParseError { line, problem })
}

fn parse_paragraphs(text: &str) -> Result<Vec<PackageInfo>, (usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, PackageInfo)> = None;
    let finish = |cur: Option<(usize, PackageInfo)>, out: &mut Vec<PackageInfo>| {
        if let Some((line, p)) = cur {
            for (what, value) in [("P:", &p.name), ("V:", &p.version), ("C:", &p.checksum)] {
                if value.is_empty() {
                    return Err((line, format!("package paragraph without {what}")));
                }
            }
            out.push(p);
        }
        Ok(())
    };
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if line.is_empty() {
            finish(cur.take(), &mut out)?;
            continue;
        }
        let (tag, value) = match line.as_bytes() {
            [t, b':', ..] => (*t, &line[2..]),
            _ => return Err((n, format!("not a field: {line:?}"))),
        };
        let p = &mut cur.get_or_insert_with(|| (n, PackageInfo::default())).1;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| (n, format!("{}: not a number: {v:?}", tag as char)))
        };
        let words = |v: &str| v.split_whitespace().map(str::to_string).collect();
        match tag {
            b'C' => p.checksum = value.to_string(),
            b'P' => p.name = value.to_string(),
            b'V' => p.version = value.to_string(),
            b'A' => p.arch = value.to_string(),
            b'S' => p.size = number(value)?,
            b'I' => p.installed_size = number(value)?,
            b'T' => p.description = value.to_string(),
            b'U' => p.url = value.to_string(),
            b'L' => p.license = value.to_string(),
            b'o' => p.origin = value.to_string(),
            b'm' => p.maintainer = value.to_string(),
            b't' => p.build_time = Some(number(value)?),
            b'c' => p.commit = value.to_string(),
            b'k' => p.provider_priority = Some(number(value)?),
            b'D' => p.depends = words(value),
            b'p' => p.provides = words(value),
            b'i' => p.install_if = words(value),
            b'r' => p.replaces = words(value),
            b'q' => p.replaces_priority = Some(number(value)?),
            _ => {}
        }
    }
    finish(cur.take(), &mut out)?;
    Ok(out)
}
