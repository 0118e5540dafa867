//! `.rpm` files: the 96-byte lead, the signature header (padded to 8 bytes), the main
//! header, then the compressed cpio payload (rpm's `docs/manual/format.md`).
//!
//! [`Package::verify`] checks, in order: the header-only signature (`RSAHEADER`, tag 268,
//! over the main header's bytes from its magic to the end of its data store), the header
//! SHA-256 and SHA-1 digests when present (unsigned, so they add no trust, but rpm checks
//! them and so do we, to agree with it), then the payload: against `PAYLOADDIGEST` (inside the
//! signed header; rpm ≥ 4.14 writes it) or, for older packages (CentOS 6/7), against the
//! `PGP` signature (tag 1002) over header and payload. The whole file's SHA-256 is compared
//! with the checksum primary.xml gives, when one is given. A package whose payload is
//! covered by neither is refused. Only the header is kept in memory; the payload is
//! streamed, except for legacy packages (no payload digest), whose header+payload
//! signature is checked in memory up to [`MAX_LEGACY_PAYLOAD`] bytes.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256, Sha512};

use crate::header::{Header, HeaderError, PREAMBLE, sigtag, tag};
use crate::keys::{Keyring, Liveness, SignatureError, Signer};

/// Lead magic.
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
/// Lead size.
const LEAD: usize = 96;
/// Largest payload of a package without a payload digest, checked in memory.
pub const MAX_LEGACY_PAYLOAD: u64 = 256 << 20;
/// Largest uncompressed payload [`Package::files`] reads.
pub const MAX_PAYLOAD_FILES: u64 = 1 << 30;

/// Failure while reading or verifying a package.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// Reading the file failed (the error names the path).
    #[error("cannot read package")]
    Io(#[from] std::io::Error),
    /// Not an rpm file.
    #[error("{path} is not an rpm file (bad lead magic)")]
    NotRpm {
        /// The file.
        path: PathBuf,
    },
    /// A header is malformed.
    #[error("{path}: malformed {which} header")]
    Header {
        /// The file.
        path: PathBuf,
        /// "signature" or "main".
        which: &'static str,
        /// What was wrong.
        #[source]
        source: HeaderError,
    },
    /// The header signature is missing.
    #[error("{path} carries no header signature (RSAHEADER/DSAHEADER)")]
    Unsigned {
        /// The file.
        path: PathBuf,
    },
    /// The header signature did not verify.
    #[error("{path}: header signature not accepted")]
    Signature {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: SignatureError,
    },
    /// A digest did not match.
    #[error("{path}: {what} digest mismatch: expected {expected}, got {actual}")]
    Digest {
        /// The file.
        path: PathBuf,
        /// "header SHA-256", "payload SHA-256", "package sha256 (from primary.xml)".
        what: &'static str,
        /// Expected hex digest.
        expected: String,
        /// Computed hex digest.
        actual: String,
    },
    /// The payload is covered by no signed digest nor signature.
    #[error("{path}: payload is covered by no signed digest or signature ({detail})")]
    PayloadUnverified {
        /// The file.
        path: PathBuf,
        /// What was missing.
        detail: String,
    },
    /// The payload compressor or format is not supported.
    #[error("{path}: unsupported payload {what}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What.
        what: String,
    },
    /// The payload archive is malformed or too large.
    #[error("{path}: malformed payload archive: {detail}")]
    Payload {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

/// Header fields of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageInfo {
    /// Name.
    pub name: String,
    /// Epoch, if set.
    pub epoch: Option<u32>,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Architecture.
    pub arch: String,
    /// License tag.
    pub license: String,
}

/// An opened package: its two headers and where the payload starts.
#[derive(Debug)]
pub struct Package {
    path: PathBuf,
    signature: Header,
    header: Header,
    payload_offset: u64,
}

/// What [`Package::verify`] proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Who signed the header.
    pub signer: Signer,
    /// How the payload was checked: `"payload digest SHA256"` or `"header+payload signature"`.
    pub payload_check: String,
    /// SHA-256 of the whole file.
    pub sha256: String,
    /// File size.
    pub size: u64,
}

/// An expected whole-file checksum (from primary.xml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// `sha256` (others are refused: primary's pkgid for these repositories is sha256).
    pub algorithm: String,
    /// Hex digest.
    pub value: String,
    /// Size in bytes, if known.
    pub size: Option<u64>,
}

/// One file of the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFile {
    /// Path as stored (`./usr/...`).
    pub path: String,
    /// Mode bits including the file type.
    pub mode: u32,
    /// Contents (regular files) or link target (symlinks).
    pub data: Vec<u8>,
}

/// What a file of an installed package is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Dir,
    /// A regular file and its contents.
    File(Vec<u8>),
    /// A symbolic link to this target.
    Symlink(String),
    /// A hard link to this earlier path of the same package (no leading `/`).
    Hardlink(String),
}

impl From<FileKind> for plinth_oci::EntryKind {
    fn from(k: FileKind) -> Self {
        match k {
            FileKind::Dir => plinth_oci::EntryKind::Dir,
            FileKind::File(data) => {
                plinth_oci::EntryKind::File(plinth_oci::Content::Bytes(std::sync::Arc::from(data)))
            }
            FileKind::Symlink(t) => plinth_oci::EntryKind::Symlink(t),
            FileKind::Hardlink(t) => plinth_oci::EntryKind::Hardlink(t),
        }
    }
}

/// One file as rpm installs it: the header's metadata (mode, owner by name, link target,
/// hard-link group) with the payload's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Absolute path without its leading `/` (`usr/bin/sh`).
    pub path: String,
    /// What it is.
    pub kind: FileKind,
    /// Permission bits (`0o7777`: setuid, setgid and sticky included).
    pub mode: u32,
    /// Owner, by name, as the header records it.
    pub user: String,
    /// Group, by name, as the header records it.
    pub group: String,
}

/// `RPMFILE_GHOST`: listed in the header, never in the payload, not installed.
const RPMFILE_GHOST: u64 = 1 << 6;
const S_IFMT: u32 = 0o170000;

impl Package {
    /// Opens `path` and reads its lead and both headers.
    pub fn open(path: &Path) -> Result<Self, PackageError> {
        let mut f = BufReader::new(fs_err::File::open(path)?);
        let p = || path.to_path_buf();
        let mut lead = [0u8; LEAD];
        f.read_exact(&mut lead)
            .map_err(|_| PackageError::NotRpm { path: p() })?;
        if lead[..4] != LEAD_MAGIC {
            return Err(PackageError::NotRpm { path: p() });
        }
        let hdr_err = |which, source| PackageError::Header {
            path: p(),
            which,
            source,
        };
        let signature = read_header(&mut f).map_err(|e| hdr_err("signature", e))?;
        let sig_len = signature.raw().len();
        let pad = (8 - sig_len % 8) % 8;
        let mut skip = [0u8; 8];
        f.read_exact(&mut skip[..pad])
            .map_err(|_| hdr_err("main", HeaderError::Truncated))?;
        let header = read_header(&mut f).map_err(|e| hdr_err("main", e))?;
        let payload_offset = (LEAD + sig_len + pad + header.raw().len()) as u64;
        Ok(Self {
            path: path.to_path_buf(),
            signature,
            header,
            payload_offset,
        })
    }

    /// The main header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The signature header.
    pub fn signature_header(&self) -> &Header {
        &self.signature
    }

    /// Byte offset of the payload in the file.
    pub fn payload_offset(&self) -> u64 {
        self.payload_offset
    }

    /// Name, EVR, arch and licence from the main header.
    pub fn info(&self) -> PackageInfo {
        let s = |t| self.header.string(t).unwrap_or_default();
        PackageInfo {
            name: s(tag::NAME),
            epoch: self.header.int(tag::EPOCH).map(|e| e as u32),
            version: s(tag::VERSION),
            release: s(tag::RELEASE),
            arch: s(tag::ARCH),
            license: s(tag::LICENSE),
        }
    }

    /// Verifies signatures and digests as the module docs describe; `expected` is the
    /// checksum primary.xml gives for this file.
    pub fn verify(
        &self,
        keyring: &Keyring,
        expected: Option<&Expected>,
    ) -> Result<Verified, PackageError> {
        let p = || self.path.clone();
        let sig_err = |source| PackageError::Signature { path: p(), source };
        // 1. The header-only signature.
        let header_sig = self
            .signature
            .bin(sigtag::RSA)
            .or_else(|| self.signature.bin(sigtag::DSA))
            .ok_or_else(|| PackageError::Unsigned { path: p() })?;
        let signer = keyring
            .verify_detached(header_sig, self.header.raw(), Liveness::AtSignature)
            .map_err(sig_err)?;
        // 2. The header digest (redundant with the signature, but cheap and names the fault).
        if let Some(want) = self.signature.string(sigtag::SHA256) {
            let got = hex::encode(Sha256::digest(self.header.raw()));
            if !want.eq_ignore_ascii_case(&got) {
                return Err(PackageError::Digest {
                    path: p(),
                    what: "header SHA-256",
                    expected: want,
                    actual: got,
                });
            }
        }
        if let Some(want) = self.signature.string(sigtag::SHA1) {
            let got = hex::encode(<sha1::Sha1 as sha1::Digest>::digest(self.header.raw()));
            if !want.eq_ignore_ascii_case(&got) {
                return Err(PackageError::Digest {
                    path: p(),
                    what: "header SHA-1",
                    expected: want,
                    actual: got,
                });
            }
        }
        // 3. Stream the payload, hashing it and the whole file.
        let mut f = BufReader::new(fs_err::File::open(&self.path)?);
        let mut file_hash = Sha256::new();
        let mut prefix = vec![0u8; self.payload_offset as usize];
        f.read_exact(&mut prefix)?;
        if prefix[prefix.len() - self.header.raw().len()..] != *self.header.raw() {
            return Err(PackageError::Payload {
                path: p(),
                detail: "file changed while it was read".into(),
            });
        }
        file_hash.update(&prefix);
        let digest = self.header.strings(tag::PAYLOADDIGEST);
        let algo = self.header.int(tag::PAYLOADDIGESTALGO).unwrap_or(8);
        let mut size = self.payload_offset;
        let payload_check;
        if let Some(want) = digest.and_then(|d| d.into_iter().next()) {
            let mut payload_hash: Box<dyn sha2::digest::DynDigest> = match algo {
                8 => Box::new(Sha256::new()),
                10 => Box::new(Sha512::new()),
                other => {
                    return Err(PackageError::PayloadUnverified {
                        path: p(),
                        detail: format!("payload digest algorithm {other} is not accepted"),
                    });
                }
            };
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                payload_hash.update(&buf[..n]);
                file_hash.update(&buf[..n]);
                size += n as u64;
            }
            let got = hex::encode(payload_hash.finalize());
            if !want.eq_ignore_ascii_case(&got) {
                return Err(PackageError::Digest {
                    path: p(),
                    what: "payload",
                    expected: want,
                    actual: got,
                });
            }
            payload_check = format!(
                "payload digest {}",
                if algo == 8 { "SHA256" } else { "SHA512" }
            );
        } else {
            let pgp = self
                .signature
                .bin(sigtag::PGP)
                .or_else(|| self.signature.bin(sigtag::GPG));
            let Some(pgp) = pgp else {
                return Err(PackageError::PayloadUnverified {
                    path: p(),
                    detail: "no PAYLOADDIGEST and no header+payload signature".into(),
                });
            };
            let mut data = self.header.raw().to_vec();
            let n = (&mut f)
                .take(MAX_LEGACY_PAYLOAD + 1)
                .read_to_end(&mut data)? as u64;
            if n > MAX_LEGACY_PAYLOAD {
                return Err(PackageError::PayloadUnverified {
                    path: p(),
                    detail: format!(
                        "legacy payload over {MAX_LEGACY_PAYLOAD} bytes without a payload digest"
                    ),
                });
            }
            file_hash.update(&data[self.header.raw().len()..]);
            size += n;
            keyring
                .verify_detached(pgp, &data, Liveness::AtSignature)
                .map_err(sig_err)?;
            payload_check = "header+payload signature".into();
        }
        let sha256 = hex::encode(file_hash.finalize());
        if let Some(exp) = expected {
            if !exp.algorithm.eq_ignore_ascii_case("sha256") {
                return Err(PackageError::Digest {
                    path: p(),
                    what: "package checksum (only sha256 is accepted)",
                    expected: format!("{}:{}", exp.algorithm, exp.value),
                    actual: format!("sha256:{sha256}"),
                });
            }
            if !exp.value.eq_ignore_ascii_case(&sha256) || exp.size.is_some_and(|s| s != size) {
                return Err(PackageError::Digest {
                    path: p(),
                    what: "package sha256 (from primary.xml)",
                    expected: exp.value.clone(),
                    actual: sha256,
                });
            }
        }
        Ok(Verified {
            signer,
            payload_check,
            sha256,
            size,
        })
    }

    /// Verifies the package (see [`Package::verify`]), then decompresses its payload and
    /// returns the files of its cpio archive. The payload bytes read for extraction are
    /// hashed again and compared with the verified digest before anything is returned.
    pub fn verified_files(
        &self,
        keyring: &Keyring,
        expected: Option<&Expected>,
    ) -> Result<(Verified, Vec<PayloadFile>), PackageError> {
        let verified = self.verify(keyring, expected)?;
        let p = || self.path.clone();
        let mut f = BufReader::new(fs_err::File::open(&self.path)?);
        let mut hasher = HashingReader {
            inner: &mut f,
            hash: Sha256::new(),
        };
        let mut prefix = vec![0u8; self.payload_offset as usize];
        hasher.read_exact(&mut prefix)?;
        let files = {
            let compressor = self
                .header
                .string(tag::PAYLOADCOMPRESSOR)
                .unwrap_or_else(|| "gzip".into());
            let format = self
                .header
                .string(tag::PAYLOADFORMAT)
                .unwrap_or_else(|| "cpio".into());
            if format != "cpio" {
                return Err(PackageError::Unsupported {
                    path: p(),
                    what: format!("format {format}"),
                });
            }
            let raw: Box<dyn Read + '_> = match compressor.as_str() {
                "gzip" => Box::new(flate2::read::GzDecoder::new(&mut hasher)),
                "xz" | "lzma" => Box::new(liblzma::read::XzDecoder::new(&mut hasher)),
                "zstd" => Box::new(zstd::stream::read::Decoder::new(&mut hasher)?),
                other => {
                    return Err(PackageError::Unsupported {
                        path: p(),
                        what: format!("compressor {other}"),
                    });
                }
            };
            crate::cpio::read_all(raw.take(MAX_PAYLOAD_FILES + 1), MAX_PAYLOAD_FILES)
                .map_err(|detail| PackageError::Payload { path: p(), detail })?
        };
        // Drain what the decompressor did not read, then compare the whole file's hash.
        std::io::copy(&mut hasher, &mut std::io::sink())?;
        let got = hex::encode(hasher.hash.finalize());
        if got != verified.sha256 {
            return Err(PackageError::Digest {
                path: p(),
                what: "package sha256 (file changed after verification)",
                expected: verified.sha256,
                actual: got,
            });
        }
        Ok((verified, files))
    }
}

impl Package {
    /// Verifies the package ([`Package::verified_files`]) and returns the files rpm would
    /// install, in header order: every file the header lists except `%ghost` ones, with
    /// the header's mode and owner names, symlink targets from `FILELINKTOS`, and hard
    /// links (same device and inode) as [`FileKind::Hardlink`] to the group's first path,
    /// which holds the contents (cpio stores them with the group's last member).
    pub fn verified_entries(
        &self,
        keyring: &Keyring,
        expected: Option<&Expected>,
    ) -> Result<(Verified, Vec<FileEntry>), PackageError> {
        let (verified, files) = self.verified_files(keyring, expected)?;
        let bad = |detail: String| PackageError::Payload {
            path: self.path.clone(),
            detail,
        };
        let h = &self.header;
        let Some(basenames) = h.strings(tag::BASENAMES) else {
            return Ok((verified, Vec::new()));
        };
        let n = basenames.len();
        let dirnames = h.strings(tag::DIRNAMES).unwrap_or_default();
        let list = |t: u32| h.ints(t).unwrap_or_default();
        let strs = |t: u32| h.strings(t).unwrap_or_default();
        let (dirindexes, modes, flags) = (
            list(tag::DIRINDEXES),
            list(tag::FILEMODES),
            list(tag::FILEFLAGS),
        );
        let (devices, inodes) = (list(tag::FILEDEVICES), list(tag::FILEINODES));
        let (users, groups, links) = (
            strs(tag::FILEUSERNAME),
            strs(tag::FILEGROUPNAME),
            strs(tag::FILELINKTOS),
        );
        if [dirindexes.len(), modes.len(), users.len(), groups.len()]
            .iter()
            .any(|&l| l != n)
        {
            return Err(bad("the header's file lists differ in length".into()));
        }
        let mut payload: std::collections::HashMap<String, Vec<u8>> = files
            .into_iter()
            .map(|f| {
                (
                    f.path
                        .trim_start_matches('.')
                        .trim_start_matches('/')
                        .to_string(),
                    f.data,
                )
            })
            .collect();
        let mut first_of_inode: std::collections::HashMap<(u64, u64), usize> =
            std::collections::HashMap::new();
        let mut out: Vec<FileEntry> = Vec::with_capacity(n);
        for i in 0..n {
            if flags.get(i).is_some_and(|f| f & RPMFILE_GHOST != 0) {
                continue;
            }
            let dir = dirnames
                .get(dirindexes[i] as usize)
                .ok_or_else(|| bad(format!("file {i} names directory index {}", dirindexes[i])))?;
            let path = format!("{dir}{}", basenames[i])
                .trim_start_matches('/')
                .to_string();
            let mode = modes[i] as u32;
            let kind = match mode & S_IFMT {
                0o040000 => FileKind::Dir,
                0o120000 => FileKind::Symlink(
                    links
                        .get(i)
                        .filter(|t| !t.is_empty())
                        .cloned()
                        .ok_or_else(|| bad(format!("symlink /{path} has no target")))?,
                ),
                0o100000 => {
                    let data = payload.remove(&path).ok_or_else(|| {
                        bad(format!("/{path} is in the header but not in the payload"))
                    })?;
                    let key = (
                        devices.get(i).copied().unwrap_or(0),
                        inodes.get(i).copied().unwrap_or(i as u64),
                    );
                    match first_of_inode.get(&key) {
                        Some(&j) => {
                            // The group's contents are stored once, with its last member.
                            if let FileKind::File(first) = &mut out[j].kind
                                && first.is_empty()
                            {
                                *first = data;
                            }
                            FileKind::Hardlink(out[j].path.clone())
                        }
                        None => {
                            first_of_inode.insert(key, out.len());
                            FileKind::File(data)
                        }
                    }
                }
                other => {
                    return Err(PackageError::Unsupported {
                        path: self.path.clone(),
                        what: format!("file type {other:o} of /{path}"),
                    });
                }
            };
            out.push(FileEntry {
                path,
                kind,
                mode: mode & 0o7777,
                user: users[i].clone(),
                group: groups[i].clone(),
            });
        }
        Ok((verified, out))
    }
}

/// Hashes what passes through.
struct HashingReader<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

fn read_header(r: &mut impl Read) -> Result<Header, HeaderError> {
    let mut pre = [0u8; PREAMBLE];
    r.read_exact(&mut pre).map_err(|_| HeaderError::Truncated)?;
    let (il, dl) = Header::sizes(&pre)?;
    let len = PREAMBLE + 16 * il as usize + dl as usize;
    let mut raw = Vec::with_capacity(len.min(1 << 20));
    raw.extend_from_slice(&pre);
    let want = (len - PREAMBLE) as u64;
    let got = r
        .take(want)
        .read_to_end(&mut raw)
        .map_err(|_| HeaderError::Truncated)?;
    if got as u64 != want {
        return Err(HeaderError::Truncated);
    }
    Header::parse(raw)
}
