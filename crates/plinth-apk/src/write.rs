//! A writer of signed repositories in Alpine's format: `.apk` packages (signature,
//! control and data gzip members, with `datahash` and the per-file
//! `APK-TOOLS.checksum.SHA1` headers) and a signed `APKINDEX.tar.gz`, laid out as
//! abuild and `apk index` lay them out. apk-tools is not packaged in Debian, so Plinth's
//! tests and examples build their Alpine repositories with this writer, signed with a
//! key the test makes; the readers in this crate check what it writes, and the tests
//! compare its member layout with the real index and package.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use sha1::{Digest, Sha1};
use sha2_v010::Sha256;

use crate::index::{PackageInfo, encode_q1};
use crate::keys::SignatureHash;

/// A repository that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A file could not be written.
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// RSA signing failed.
    #[error("cannot sign with key {key}")]
    Sign {
        /// The key name.
        key: String,
        /// What rsa said.
        #[source]
        source: rsa::Error,
    },
    /// A package name or version would not make a plain file name.
    #[error("package {id:?} does not make a plain file name")]
    FileName {
        /// `name-version`.
        id: String,
    },
    /// A private key could not be read.
    #[error("cannot read private key {key}")]
    Key {
        /// The key name.
        key: String,
        /// What the PEM or DER decoder said.
        #[source]
        source: rsa::pkcs8::Error,
    },
    /// A tar header could not hold a path or a value.
    #[error("cannot write {path:?} into a tar header")]
    Tar {
        /// The entry path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A private key and the name its signatures carry (`<name>.rsa.pub` by convention).
#[derive(Debug, Clone)]
pub struct SigningKey {
    /// The key name: the file name of the public key in `/etc/apk/keys`.
    pub name: String,
    /// The hash to sign over.
    pub hash: SignatureHash,
    key: RsaPrivateKey,
}

impl SigningKey {
    /// A signing key (SHA-1 signatures, as every Alpine release makes).
    pub fn new(name: &str, key: RsaPrivateKey) -> SigningKey {
        SigningKey {
            name: name.to_string(),
            hash: SignatureHash::Sha1,
            key,
        }
    }

    /// A signing key from a PEM private key, PKCS#1 (`BEGIN RSA PRIVATE KEY`, as
    /// `abuild-keygen` writes it) or PKCS#8 (`BEGIN PRIVATE KEY`).
    pub fn from_pem(name: &str, pem: &str) -> Result<SigningKey, WriteError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let key = if pem.contains("BEGIN RSA PRIVATE KEY") {
            RsaPrivateKey::from_pkcs1_pem(pem).map_err(rsa::pkcs8::Error::from)
        } else {
            RsaPrivateKey::from_pkcs8_pem(pem)
        };
        let key = key.map_err(|source| WriteError::Key {
            key: name.to_string(),
            source,
        })?;
        Ok(SigningKey::new(name, key))
    }

    /// The public key as a PEM SubjectPublicKeyInfo, the form of `/etc/apk/keys` files.
    pub fn public_pem(&self) -> String {
        self.key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// The public key.
    pub fn public_key(&self) -> rsa::RsaPublicKey {
        self.key.to_public_key()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, WriteError> {
        let (scheme, digest) = self.hash.scheme_and_digest(data);
        self.key
            .sign(scheme, &digest)
            .map_err(|source| WriteError::Sign {
                key: self.name.clone(),
                source,
            })
    }

    /// The signature gzip member over `signed`: a GNU tar holding one
    /// `.SIGN.RSA.<name>` file, cut (no end-of-archive blocks), as abuild-sign writes it.
    pub fn signature_member(&self, signed: &[u8]) -> Result<Vec<u8>, WriteError> {
        let sig = self.sign(signed)?;
        let name = format!("{}{}", self.hash.prefix(), self.name);
        let mut tar = Vec::new();
        let mut h = tar::Header::new_gnu();
        set_path(&mut h, &name)?;
        h.set_size(sig.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.extend_from_slice(h.as_bytes());
        push_padded(&mut tar, &sig);
        Ok(gzip(&tar))
    }
}

fn set_path(h: &mut tar::Header, path: &str) -> Result<(), WriteError> {
    h.set_path(path).map_err(|source| WriteError::Tar {
        path: path.to_string(),
        source,
    })
}

fn push_padded(tar: &mut Vec<u8>, data: &[u8]) {
    tar.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    tar.extend(std::iter::repeat_n(0u8, pad));
}

/// One gzip member at maximum compression, mtime 0, OS "Unix": the header bytes abuild's
/// gzip writes. Deflated with miniz_oxide directly rather than through flate2, whose
/// backend depends on what else is in the build (zlib-rs once pgp is): the same input
/// gives the same bytes in every build, so the repository in the tree can be checked
/// byte for byte.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3];
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 9));
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// What a packaged file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file with this content.
    File(Vec<u8>),
    /// A directory.
    Dir,
    /// A symlink to the target.
    Symlink(String),
    /// A hard link to an earlier regular file of the package.
    Hardlink(String),
}

/// One file of a package to write.
#[derive(Debug, Clone)]
pub struct FileSpec {
    /// The path, relative, without a trailing slash.
    pub path: String,
    /// What it is.
    pub kind: FileKind,
    /// Permission bits.
    pub mode: u32,
    /// Owner and group ids.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
}

impl FileSpec {
    /// A root-owned regular file.
    pub fn file(path: &str, content: &[u8], mode: u32) -> FileSpec {
        FileSpec {
            path: path.to_string(),
            kind: FileKind::File(content.to_vec()),
            mode,
            uid: 0,
            gid: 0,
        }
    }

    /// A root-owned directory.
    pub fn dir(path: &str, mode: u32) -> FileSpec {
        FileSpec {
            path: path.to_string(),
            kind: FileKind::Dir,
            mode,
            uid: 0,
            gid: 0,
        }
    }

    /// A symlink.
    pub fn symlink(path: &str, target: &str) -> FileSpec {
        FileSpec {
            path: path.to_string(),
            kind: FileKind::Symlink(target.to_string()),
            mode: 0o777,
            uid: 0,
            gid: 0,
        }
    }
}

/// A package to write: its fields (name, version, arch, description, url, license,
/// origin, maintainer, build time, commit, depends, provides, install-if, replaces,
/// provider priority; the checksum and sizes are computed) and its files in order.
#[derive(Debug, Clone, Default)]
pub struct PackageSpec {
    /// The fields to write into `.PKGINFO`.
    pub info: PackageInfo,
    /// The files, in tar order (parents before children).
    pub files: Vec<FileSpec>,
    /// Install scripts (`.post-install`, ...) by name, with their content.
    pub scripts: Vec<(String, Vec<u8>)>,
}

/// A written package: its bytes and its index entry.
#[derive(Debug, Clone)]
pub struct BuiltPackage {
    /// The `.apk` file.
    pub bytes: Vec<u8>,
    /// The index entry (`C:`, `S:` and `I:` filled in).
    pub info: PackageInfo,
}

/// The data tar: ustar entries with a PAX `APK-TOOLS.checksum.SHA1` header on files and
/// symlinks, ending with the end-of-archive blocks. Returns the tar and the sum of the
/// files' sizes (for [`package_from_data_tar`] when the real `I:` is not known).
pub fn data_tar(files: &[FileSpec]) -> Result<(Vec<u8>, u64), WriteError> {
    let mut b = tar::Builder::new(Vec::new());
    let mut installed = 0u64;
    let io = |path: &str| {
        let path = path.to_string();
        move |source| WriteError::Tar { path, source }
    };
    for f in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(f.mode);
        h.set_uid(f.uid);
        h.set_gid(f.gid);
        h.set_mtime(0);
        h.set_username("root").map_err(io(&f.path))?;
        h.set_groupname("root").map_err(io(&f.path))?;
        let (data, sum): (&[u8], Option<[u8; 20]>) = match &f.kind {
            FileKind::File(c) => (c, Some(Sha1::digest(c).into())),
            FileKind::Symlink(t) => (&[], Some(Sha1::digest(t.as_bytes()).into())),
            _ => (&[], None),
        };
        if let Some(sum) = sum {
            let hex = hex::encode(sum);
            b.append_pax_extensions([("APK-TOOLS.checksum.SHA1", hex.as_bytes())])
                .map_err(io(&f.path))?;
        }
        match &f.kind {
            FileKind::File(c) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(c.len() as u64);
                installed += c.len() as u64;
                set_path(&mut h, &f.path)?;
            }
            FileKind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                set_path(&mut h, &format!("{}/", f.path))?;
            }
            FileKind::Symlink(t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                set_path(&mut h, &f.path)?;
                h.set_link_name(t).map_err(io(&f.path))?;
            }
            FileKind::Hardlink(t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                set_path(&mut h, &f.path)?;
                h.set_link_name(t).map_err(io(&f.path))?;
            }
        }
        h.set_cksum();
        b.append(&h, data).map_err(io(&f.path))?;
    }
    let tar = b.into_inner().map_err(io("(end of archive)"))?;
    Ok((tar, installed))
}

/// `.PKGINFO` in abuild's order.
fn pkginfo_text(info: &PackageInfo, size: u64, datahash: &[u8; 32]) -> String {
    let mut s = String::from("# Generated by plinth-apk\n");
    let mut kv = |k: &str, v: &str| {
        let _ = writeln!(s, "{k} = {v}");
    };
    kv("pkgname", &info.name);
    kv("pkgver", &info.version);
    kv("pkgdesc", &info.description);
    kv("url", &info.url);
    if let Some(t) = info.build_time {
        kv("builddate", &t.to_string());
    }
    kv("size", &size.to_string());
    kv("arch", &info.arch);
    if !info.origin.is_empty() {
        kv("origin", &info.origin);
    }
    if !info.commit.is_empty() {
        kv("commit", &info.commit);
    }
    if !info.maintainer.is_empty() {
        kv("maintainer", &info.maintainer);
    }
    kv("license", &info.license);
    if let Some(k) = info.provider_priority {
        kv("provider_priority", &k.to_string());
    }
    if let Some(q) = info.replaces_priority {
        kv("replaces_priority", &q.to_string());
    }
    for r in &info.replaces {
        kv("replaces", r);
    }
    for d in &info.depends {
        kv("depend", d);
    }
    for p in &info.provides {
        kv("provides", p);
    }
    if !info.install_if.is_empty() {
        kv("install_if", &info.install_if.join(" "));
    }
    kv("datahash", &hex::encode(datahash));
    s
}

/// Builds a signed `.apk`: data member, `.PKGINFO` with its `datahash`, control member,
/// signature over the control member.
pub fn build_package(spec: &PackageSpec, key: &SigningKey) -> Result<BuiltPackage, WriteError> {
    let (data_tar, installed) = data_tar(&spec.files)?;
    let mut info = spec.info.clone();
    info.installed_size = installed;
    package_from_data_tar(&info, &spec.scripts, &data_tar, key)
}

/// Builds a signed `.apk` around a data tar made elsewhere (it should carry apk's
/// `APK-TOOLS.checksum.SHA1` headers): `info.installed_size` is written as `.PKGINFO`'s
/// `size`; the checksum and file size are computed.
pub fn package_from_data_tar(
    info: &PackageInfo,
    scripts: &[(String, Vec<u8>)],
    data_tar: &[u8],
    key: &SigningKey,
) -> Result<BuiltPackage, WriteError> {
    let data = gzip(data_tar);
    let datahash: [u8; 32] = Sha256::digest(&data).into();
    let pkginfo = pkginfo_text(info, info.installed_size, &datahash);

    // The control tar is cut like the signature's: apk reads on into the data member.
    let mut control_tar = Vec::new();
    let mut entries: Vec<(&str, &[u8], u32)> = vec![(".PKGINFO", pkginfo.as_bytes(), 0o644)];
    for (name, content) in scripts {
        entries.push((name, content, 0o755));
    }
    for (name, content, mode) in entries {
        let mut h = tar::Header::new_ustar();
        set_path(&mut h, name)?;
        h.set_size(content.len() as u64);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        control_tar.extend_from_slice(h.as_bytes());
        push_padded(&mut control_tar, content);
    }
    let control = gzip(&control_tar);
    let signature = key.signature_member(&control)?;

    let mut bytes = signature;
    bytes.extend_from_slice(&control);
    bytes.extend_from_slice(&data);
    let mut info = info.clone();
    info.checksum = encode_q1(&Sha1::digest(&control).into());
    info.size = bytes.len() as u64;
    Ok(BuiltPackage { bytes, info })
}

/// Builds a signed `APKINDEX.tar.gz` listing `packages` (a GNU tar of `DESCRIPTION` and
/// `APKINDEX` in one gzip member, after the signature member).
pub fn build_index(
    packages: &[PackageInfo],
    description: &str,
    key: &SigningKey,
) -> Result<Vec<u8>, WriteError> {
    let text: String = packages
        .iter()
        .map(|p| format!("{}\n", p.index_paragraph()))
        .collect();
    let mut b = tar::Builder::new(Vec::new());
    for (name, content) in [
        ("DESCRIPTION", description.as_bytes()),
        ("APKINDEX", text.as_bytes()),
    ] {
        let mut h = tar::Header::new_gnu();
        set_path(&mut h, name)?;
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        let _ = h.set_username("root");
        let _ = h.set_groupname("root");
        h.set_cksum();
        b.append(&h, content).map_err(|source| WriteError::Tar {
            path: name.to_string(),
            source,
        })?;
    }
    let tar = b.into_inner().map_err(|source| WriteError::Tar {
        path: "APKINDEX.tar.gz".to_string(),
        source,
    })?;
    let signed = gzip(&tar);
    let mut out = key.signature_member(&signed)?;
    out.extend_from_slice(&signed);
    Ok(out)
}

/// Writes a repository directory: `<name>-<version>.apk` for each package and the signed
/// `APKINDEX.tar.gz`, as `apk` expects under `<repository>/<arch>/`. Returns the index
/// entries.
pub fn write_repository(
    dir: &Path,
    packages: &[PackageSpec],
    description: &str,
    key: &SigningKey,
) -> Result<Vec<PackageInfo>, WriteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    fs_err::create_dir_all(dir).map_err(io(dir))?;
    // Each file goes through a temporary name, so that a failure leaves no half-written
    // file; the index is written last, so it never lists a package that is missing.
    let write = |path: &Path, bytes: &[u8]| -> Result<(), WriteError> {
        let tmp = path.with_extension(format!("plinth-tmp-{}", std::process::id()));
        fs_err::write(&tmp, bytes).map_err(io(&tmp))?;
        fs_err::rename(&tmp, path).map_err(io(path))
    };
    let mut infos = Vec::new();
    for spec in packages {
        let id = spec.info.id();
        if id.contains('/') || id.starts_with('.') || id.chars().any(char::is_control) {
            return Err(WriteError::FileName { id });
        }
        let built = build_package(spec, key)?;
        write(&dir.join(format!("{id}.apk")), &built.bytes)?;
        infos.push(built.info);
    }
    let index = build_index(&infos, description, key)?;
    write(&dir.join("APKINDEX.tar.gz"), &index)?;
    Ok(infos)
}
