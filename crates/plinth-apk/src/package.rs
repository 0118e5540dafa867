//! `.apk` packages: three gzip members, a signature (a cut tar holding
//! `.SIGN.RSA.<keyname>`), the control section (a cut tar holding `.PKGINFO` and the
//! install scripts) and the data (a tar of the files). The signature covers the raw
//! control member; the index's `C:` is the SHA-1 of the same bytes; `.PKGINFO`'s
//! `datahash` is the SHA-256 of the raw data member. [`verify_package`] checks the three
//! links in that order before [`VerifiedPackage::read_data`] reads a file.

use std::io::Read;
use std::ops::Range;
use std::path::{Component, Path};

use sha1::{Digest, Sha1};
use sha2_v010::Sha256;

use crate::gzip::{self, GzipError};
use crate::index::{PackageInfo, SignatureError, encode_q1};
use crate::keys::{Keyring, SignatureHash};

/// The most a control member may inflate to (`.PKGINFO` and scripts).
const MAX_CONTROL_BYTES: u64 = 16 << 20;

/// What a package reader accepts at most.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes the data member may inflate to.
    pub data_bytes: u64,
    /// Entries in the data tar.
    pub entries: usize,
    /// Bytes of one path.
    pub path_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            data_bytes: 4 << 30,
            entries: 200_000,
            path_bytes: 4096,
        }
    }
}

/// A package that could not be read or verified.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The file could not be read.
    #[error("cannot read {file}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A gzip member is corrupt, truncated or too large.
    #[error("{file}: cannot read its {member} member")]
    Gzip {
        /// The file.
        file: String,
        /// `signature`, `control` or `data`.
        member: &'static str,
        /// The gzip error.
        #[source]
        source: GzipError,
    },
    /// The package has fewer than three gzip members.
    #[error("{file} is not an apk v2 package: it has no {member} member")]
    MissingMember {
        /// The file.
        file: String,
        /// The member that is missing.
        member: &'static str,
    },
    /// The control member's SHA-1 is not the index's `C:` checksum.
    #[error(
        "{file}: control section checksum {actual} does not match the index's C:{expected} for {package}"
    )]
    ChecksumMismatch {
        /// The file.
        file: String,
        /// `name-version` from the index.
        package: String,
        /// The index's `C:` value.
        expected: String,
        /// The package's.
        actual: String,
    },
    /// The package's signature is missing, from an unknown key or wrong.
    #[error("cannot verify the signature of {file}")]
    Signature {
        /// The file.
        file: String,
        /// What is wrong with the signature.
        #[source]
        source: SignatureError,
    },
    /// The control tar is unreadable.
    #[error("{file}: the control section is not a readable tar")]
    Control {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `.PKGINFO` is missing or malformed.
    #[error("{file}: .PKGINFO {problem}")]
    PkgInfo {
        /// The file.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// The data member's SHA-256 is not `.PKGINFO`'s `datahash`.
    #[error("{file}: data section sha256 {actual} does not match .PKGINFO datahash {expected}")]
    DataHashMismatch {
        /// The file.
        file: String,
        /// `datahash`.
        expected: String,
        /// The data member's SHA-256.
        actual: String,
    },
    /// `.PKGINFO` disagrees with the index entry the package was fetched for.
    #[error("{file}: .PKGINFO says {field} {actual:?}, the index says {expected:?}")]
    IndexMismatch {
        /// The file.
        file: String,
        /// `pkgname`, `pkgver` or `arch`.
        field: &'static str,
        /// The index's value.
        expected: String,
        /// `.PKGINFO`'s value.
        actual: String,
    },
    /// The data tar is unreadable or breaks a limit or rule.
    #[error("{file}: data entry {entry:?}: {problem}")]
    Data {
        /// The file.
        file: String,
        /// The entry's path (or its position when the path is unreadable).
        entry: String,
        /// What is wrong.
        problem: String,
    },
}

/// One entry of a package's data tar, with the path normalised (no `./`, no trailing
/// slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEntry {
    /// The path relative to the root.
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits including set-id and sticky bits (`0o7777`).
    pub mode: u32,
    /// Owner id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
    /// Modification time (seconds).
    pub mtime: u64,
    /// Content size in bytes (regular files).
    pub size: u64,
    /// The `APK-TOOLS.checksum.SHA1` PAX header: SHA-1 of a file's content or of a
    /// symlink's target. Checked against the content as it is read.
    pub sha1: Option<[u8; 20]>,
}

/// The kind of a data entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link to the target.
    Symlink(String),
    /// A hard link to an earlier entry (a normalised path).
    Hardlink(String),
}

/// `.PKGINFO`: the package's own description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkgInfo {
    /// The fields in index form (`C:` and `S:` filled from the file itself).
    pub info: PackageInfo,
    /// `datahash`: SHA-256 of the data member.
    pub datahash: Option<[u8; 32]>,
    /// `triggers`: directories whose changes run the package's trigger script.
    pub triggers: Vec<String>,
}

/// A package whose chain (index checksum, signature, data hash) has been checked.
#[derive(Debug, Clone)]
pub struct VerifiedPackage {
    /// The key that signed the control section.
    pub key_name: String,
    /// The signature's hash.
    pub hash: SignatureHash,
    /// `.PKGINFO`, with `C:` (the control member's SHA-1) and `S:` (file size) set.
    pub pkginfo: PkgInfo,
    /// The install scripts (`.pre-install`, `.post-install`, `.trigger`, ...) by name.
    pub scripts: Scripts,
    /// The raw data member's range in the file.
    pub data_range: Range<usize>,
    file: String,
}

/// Reads and verifies a `.apk` file (see [`verify_package`]).
pub fn read_package(
    path: &Path,
    keys: &Keyring,
    expected: Option<&PackageInfo>,
) -> Result<(VerifiedPackage, Vec<u8>), PackageError> {
    let file = path.display().to_string();
    let bytes = fs_err::read(path).map_err(|source| PackageError::Read {
        file: file.clone(),
        source,
    })?;
    let pkg = verify_package(&file, &bytes, keys, expected)?;
    Ok((pkg, bytes))
}

/// Verifies a package's bytes: if `expected` (the signed index's entry) is given, the
/// control member's SHA-1 must be its `C:` and `.PKGINFO`'s name, version and arch must be
/// its own; the package's signature must verify with a configured key; the data
/// member's SHA-256 must be `.PKGINFO`'s `datahash`. `file` names the package in errors.
pub fn verify_package(
    file: &str,
    bytes: &[u8],
    keys: &Keyring,
    expected: Option<&PackageInfo>,
) -> Result<VerifiedPackage, PackageError> {
    let gz = |member: &'static str| {
        move |source| PackageError::Gzip {
            file: file.to_string(),
            member,
            source,
        }
    };
    let missing = |member| PackageError::MissingMember {
        file: file.to_string(),
        member,
    };
    let sig = crate::index::signature_member(bytes).map_err(|source| PackageError::Signature {
        file: file.to_string(),
        source,
    })?;
    if sig.range.end >= bytes.len() {
        return Err(missing("control"));
    }
    let control =
        gzip::member_at(bytes, sig.range.end, MAX_CONTROL_BYTES).map_err(gz("control"))?;
    if control.range.end >= bytes.len() {
        return Err(missing("data"));
    }
    let control_raw = &bytes[control.range.clone()];
    let checksum: [u8; 20] = Sha1::digest(control_raw).into();
    let checksum = encode_q1(&checksum);

    // 1. The signed index's checksum.
    if let Some(want) = expected
        && want.checksum != checksum
    {
        return Err(PackageError::ChecksumMismatch {
            file: file.to_string(),
            package: want.id(),
            expected: want.checksum.clone(),
            actual: checksum,
        });
    }
    // 2. The package's own signature over the control member.
    let (key_name, hash) = crate::index::verify_signatures(&sig.content, control_raw, keys)
        .map_err(|source| PackageError::Signature {
            file: file.to_string(),
            source,
        })?;
    // 3. The control section, then the data hash it carries.
    let (mut pkginfo, scripts) = read_control(file, &control.content)?;
    pkginfo.info.checksum = checksum;
    pkginfo.info.size = bytes.len() as u64;
    if let Some(want) = expected {
        for (field, exp, act) in [
            ("pkgname", &want.name, &pkginfo.info.name),
            ("pkgver", &want.version, &pkginfo.info.version),
            ("arch", &want.arch, &pkginfo.info.arch),
        ] {
            if exp != act {
                return Err(PackageError::IndexMismatch {
                    file: file.to_string(),
                    field,
                    expected: exp.clone(),
                    actual: act.clone(),
                });
            }
        }
    }
    let datahash = pkginfo.datahash.ok_or_else(|| PackageError::PkgInfo {
        file: file.to_string(),
        problem: "has no datahash (apk v2 packages from before abuild 2.13 are not supported)"
            .to_string(),
    })?;
    let data_range = control.range.end..bytes.len();
    let actual: [u8; 32] = Sha256::digest(&bytes[data_range.clone()]).into();
    if actual != datahash {
        return Err(PackageError::DataHashMismatch {
            file: file.to_string(),
            expected: hex::encode(datahash),
            actual: hex::encode(actual),
        });
    }
    Ok(VerifiedPackage {
        key_name,
        hash,
        pkginfo,
        scripts,
        data_range,
        file: file.to_string(),
    })
}

/// Install scripts by name (`.post-install`), with their content.
pub type Scripts = Vec<(String, Vec<u8>)>;

/// Reads the control tar: `.PKGINFO` and the scripts.
fn read_control(file: &str, tar_bytes: &[u8]) -> Result<(PkgInfo, Scripts), PackageError> {
    let err = |source| PackageError::Control {
        file: file.to_string(),
        source,
    };
    let mut pkginfo = None;
    let mut scripts = Vec::new();
    let mut archive = tar::Archive::new(tar_bytes);
    for entry in archive.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        let name = entry.path().map_err(err)?.to_string_lossy().into_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(err)?;
        if name == ".PKGINFO" {
            let text = String::from_utf8(content).map_err(|_| PackageError::PkgInfo {
                file: file.to_string(),
                problem: "is not UTF-8".to_string(),
            })?;
            pkginfo = Some(
                parse_pkginfo(&text).map_err(|problem| PackageError::PkgInfo {
                    file: file.to_string(),
                    problem,
                })?,
            );
        } else if name.starts_with('.') && !name.contains('/') {
            scripts.push((name, content));
        }
    }
    let pkginfo = pkginfo.ok_or_else(|| PackageError::PkgInfo {
        file: file.to_string(),
        problem: "is missing from the control section".to_string(),
    })?;
    Ok((pkginfo, scripts))
}

/// Parses `.PKGINFO` (`key = value` lines, `#` comments; `depend`, `provides`,
/// `install_if`, `replaces` and `triggers` repeat).
pub fn parse_pkginfo(text: &str) -> Result<PkgInfo, String> {
    let mut p = PkgInfo::default();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(" = ") else {
            return Err(format!("line {}: not `key = value`: {line:?}", n + 1));
        };
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("line {}: {key} is not a number: {v:?}", n + 1))
        };
        let i = &mut p.info;
        match key {
            "pkgname" => i.name = value.to_string(),
            "pkgver" => i.version = value.to_string(),
            "pkgdesc" => i.description = value.to_string(),
            "url" => i.url = value.to_string(),
            "builddate" => i.build_time = Some(number(value)?),
            "size" => i.installed_size = number(value)?,
            "arch" => i.arch = value.to_string(),
            "origin" => i.origin = value.to_string(),
            "commit" => i.commit = value.to_string(),
            "maintainer" => i.maintainer = value.to_string(),
            "license" => i.license = value.to_string(),
            "provider_priority" => i.provider_priority = Some(number(value)?),
            "replaces_priority" => i.replaces_priority = Some(number(value)?),
            "depend" => i
                .depends
                .extend(value.split_whitespace().map(str::to_string)),
            "provides" => i
                .provides
                .extend(value.split_whitespace().map(str::to_string)),
            "install_if" => i
                .install_if
                .extend(value.split_whitespace().map(str::to_string)),
            "replaces" => i
                .replaces
                .extend(value.split_whitespace().map(str::to_string)),
            "triggers" => p
                .triggers
                .extend(value.split_whitespace().map(str::to_string)),
            "datahash" => {
                let bytes = hex::decode(value)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| {
                        format!("line {}: datahash is not a sha256: {value:?}", n + 1)
                    })?;
                p.datahash = Some(bytes);
            }
            _ => {}
        }
    }
    if p.info.name.is_empty() || p.info.version.is_empty() {
        return Err("has no pkgname or pkgver".to_string());
    }
    Ok(p)
}

/// Normalises a tar path: strips `./` and trailing slashes, refuses absolute paths, `..`,
/// control characters and empty paths.
fn normalise(path: &str, limits: &Limits) -> Result<String, String> {
    if path.len() > limits.path_bytes {
        return Err(format!("path longer than {} bytes", limits.path_bytes));
    }
    if path.starts_with('/') {
        return Err("absolute path refused".to_string());
    }
    // The installed database is line-based: a newline in a path would let a package
    // write records of its own into it.
    if path.chars().any(char::is_control) {
        return Err("path with a control character refused".to_string());
    }
    let mut parts = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => parts.push(
                p.to_str()
                    .ok_or_else(|| "path is not UTF-8".to_string())?
                    .to_string(),
            ),
            Component::CurDir => {}
            Component::ParentDir => return Err("path with `..` refused".to_string()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute path refused".to_string());
            }
        }
    }
    if parts.is_empty() {
        return Err("empty path".to_string());
    }
    Ok(parts.join("/"))
}

impl VerifiedPackage {
    /// Reads the data tar of `bytes` (the verified file's bytes), calling `visit` with
    /// each entry and, for regular files, its content. A file's content is checked
    /// against its `APK-TOOLS.checksum.SHA1` header, and so is a symlink's target.
    /// Bounded by `limits`; paths are normalised and never leave the root.
    pub fn read_data(
        &self,
        bytes: &[u8],
        limits: &Limits,
        mut visit: impl FnMut(&DataEntry, &[u8]),
    ) -> Result<(), PackageError> {
        let file = &self.file;
        let data = bytes.get(self.data_range.clone()).unwrap_or_default();
        let actual: [u8; 32] = Sha256::digest(data).into();
        if Some(actual) != self.pkginfo.datahash {
            return Err(PackageError::DataHashMismatch {
                file: file.clone(),
                expected: self.pkginfo.datahash.map(hex::encode).unwrap_or_default(),
                actual: hex::encode(actual),
            });
        }
        let bad = |entry: &str, problem: String| PackageError::Data {
            file: file.clone(),
            entry: entry.to_string(),
            problem,
        };
        let decoder = flate2::read::MultiGzDecoder::new(data);
        let mut archive = tar::Archive::new(decoder.take(limits.data_bytes.saturating_add(1)));
        let entries = archive
            .entries()
            .map_err(|e| bad("#0", format!("unreadable tar: {e}")))?;
        let mut total = 0u64;
        for (n, entry) in entries.enumerate() {
            let at = format!("#{n}");
            if n >= limits.entries {
                return Err(bad(&at, format!("more than {} entries", limits.entries)));
            }
            let mut entry = entry.map_err(|e| bad(&at, format!("unreadable tar: {e}")))?;
            let raw = entry
                .path()
                .map_err(|e| bad(&at, format!("unreadable path: {e}")))?
                .to_string_lossy()
                .into_owned();
            let path = normalise(&raw, limits).map_err(|p| bad(&raw, p))?;
            let mut sha1 = None;
            if let Some(pax) = entry
                .pax_extensions()
                .map_err(|e| bad(&path, format!("unreadable PAX header: {e}")))?
            {
                for ext in pax {
                    let ext = ext.map_err(|e| bad(&path, format!("unreadable PAX header: {e}")))?;
                    if ext.key_bytes() == b"APK-TOOLS.checksum.SHA1" {
                        let v = hex::decode(ext.value_bytes())
                            .ok()
                            .and_then(|b| <[u8; 20]>::try_from(b).ok())
                            .ok_or_else(|| {
                                bad(&path, "APK-TOOLS.checksum.SHA1 is not a SHA-1".to_string())
                            })?;
                        sha1 = Some(v);
                    }
                }
            }
            let header = entry.header();
            let mode = header.mode().map_err(|e| bad(&path, e.to_string()))? & 0o7777;
            let uid = header.uid().map_err(|e| bad(&path, e.to_string()))?;
            let gid = header.gid().map_err(|e| bad(&path, e.to_string()))?;
            let mtime = header.mtime().map_err(|e| bad(&path, e.to_string()))?;
            let size = header.entry_size().map_err(|e| bad(&path, e.to_string()))?;
            let ty = header.entry_type();
            let link = || -> Result<String, PackageError> {
                entry
                    .link_name()
                    .map_err(|e| bad(&path, format!("unreadable link target: {e}")))?
                    .map(|l| l.to_string_lossy().into_owned())
                    .filter(|l| !l.is_empty())
                    .ok_or_else(|| bad(&path, "link without a target".to_string()))
            };
            let kind = match ty {
                tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
                tar::EntryType::Directory => EntryKind::Dir,
                tar::EntryType::Symlink => {
                    let target = link()?;
                    if let Some(want) = sha1 {
                        let got: [u8; 20] = Sha1::digest(target.as_bytes()).into();
                        if got != want {
                            return Err(bad(
                                &path,
                                "symlink target does not match its APK-TOOLS.checksum.SHA1"
                                    .to_string(),
                            ));
                        }
                    }
                    EntryKind::Symlink(target)
                }
                tar::EntryType::Link => {
                    let target = normalise(&link()?, limits).map_err(|p| bad(&path, p))?;
                    EntryKind::Hardlink(target)
                }
                other => {
                    return Err(bad(&path, format!("unsupported tar entry type {other:?}")));
                }
            };
            let mut content = Vec::new();
            if kind == EntryKind::File {
                total = total.saturating_add(size);
                if total > limits.data_bytes {
                    return Err(bad(
                        &path,
                        format!("data inflates to more than {} bytes", limits.data_bytes),
                    ));
                }
                (&mut entry)
                    .take(size)
                    .read_to_end(&mut content)
                    .map_err(|e| bad(&path, format!("unreadable content: {e}")))?;
                if content.len() as u64 != size {
                    return Err(bad(&path, "truncated content".to_string()));
                }
                if let Some(want) = sha1 {
                    let got: [u8; 20] = Sha1::digest(&content).into();
                    if got != want {
                        return Err(bad(
                            &path,
                            "content does not match its APK-TOOLS.checksum.SHA1".to_string(),
                        ));
                    }
                }
            }
            let size = if kind == EntryKind::File { size } else { 0 };
            let entry = DataEntry {
                path,
                kind,
                mode,
                uid,
                gid,
                mtime,
                size,
                sha1,
            };
            visit(&entry, &content);
        }
        Ok(())
    }

    /// The data entries without their contents (see [`VerifiedPackage::read_data`]).
    pub fn data_entries(
        &self,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<Vec<DataEntry>, PackageError> {
        let mut out = Vec::new();
        self.read_data(bytes, limits, |e, _| out.push(e.clone()))?;
        Ok(out)
    }
}
