//! Reading `.deb` files without dpkg and without root: the `ar` container, the control
//! archive (`control`, `md5sums`) and the data archive (`data.tar.{xz,zst,gz}` or plain).
//!
//! Nothing is written to disk and no maintainer script is run. Entries are returned with
//! the modes and numeric owners the package records, paths normalised to `usr/bin/x`.
//! Hostile packages are rejected: `..` in a path, hard links or relative symlinks that
//! climb out of the root, device files, and archives beyond the size and entry bounds.

use std::io::Read;

/// Bounds on what one package may cost to read.
#[derive(Debug, Clone, Copy)]
pub struct DebLimits {
    /// Most uncompressed bytes in the data archive.
    pub max_data: u64,
    /// Most entries in the data archive.
    pub max_entries: usize,
    /// Largest control file or md5sums file.
    pub max_control: u64,
}

impl Default for DebLimits {
    fn default() -> Self {
        DebLimits {
            max_data: 4 << 30,
            max_entries: 500_000,
            max_control: 16 << 20,
        }
    }
}

/// Failure to read a `.deb`. `name` is always the name [`read_deb`] was given (the
/// package's file name).
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    /// The bytes are not an `ar` archive with the members a `.deb` must have.
    #[error("{name} is not a Debian package: {reason}")]
    NotADeb {
        /// The package's file name.
        name: String,
        /// What is wrong with the archive.
        reason: String,
    },
    /// A `control.tar.*` or `data.tar.*` member is compressed with something other than
    /// gzip, xz, zstd or nothing.
    #[error("{name}: member {member} uses unsupported compression")]
    Compression {
        /// The package's file name.
        name: String,
        /// The `ar` member's name.
        member: String,
    },
    /// Decompressing or reading a member, or an entry inside one, failed.
    #[error("{name}: failed to read {member}")]
    Read {
        /// The package's file name.
        name: String,
        /// The `ar` member, or the tar entry, being read.
        member: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A member or control file is larger than its [`DebLimits`] bound.
    #[error("{name}: {member} is over the limit of {limit} bytes")]
    TooLarge {
        /// The package's file name.
        name: String,
        /// The `ar` member, or the control file's path.
        member: String,
        /// The bound in force, in bytes.
        limit: u64,
    },
    /// The data archive has more entries than [`DebLimits::max_entries`].
    #[error("{name}: data archive has more than {limit} entries")]
    TooManyEntries {
        /// The package's file name.
        name: String,
        /// The bound in force.
        limit: usize,
    },
    /// A data archive entry's path or link target would land outside the root, or its
    /// kind is not one a base image can hold.
    #[error("{name}: unsafe entry `{path}` in the data archive: {reason}")]
    Unsafe {
        /// The package's file name.
        name: String,
        /// The entry's path, as stored.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
}

/// What an entry of the data archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebEntryKind {
    /// A directory.
    Dir,
    /// A regular file and its bytes.
    File(Vec<u8>),
    /// A symbolic link; the string is its target as stored.
    Symlink(String),
    /// A hard link to another path of the package (normalised).
    Hardlink(String),
}

/// One entry of a package's data archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebEntry {
    /// Normalised path without a leading `/` (`usr/lib/x86_64-linux-gnu/libc.so.6`).
    pub path: String,
    /// Directory, file or link.
    pub kind: DebEntryKind,
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    /// Owner's numeric user id.
    pub uid: u64,
    /// Owner's numeric group id.
    pub gid: u64,
}

/// A package read from its `.deb`.
#[derive(Debug, Clone)]
pub struct DebPackage {
    /// The `control` file, as shipped.
    pub control: String,
    /// The `md5sums` file, when the package ships one.
    pub md5sums: Option<String>,
    /// The conffiles list, when the package ships one.
    pub conffiles: Option<String>,
    /// The data archive's entries, in archive order.
    pub entries: Vec<DebEntry>,
}

/// One member of an `ar` archive.
struct Member<'a> {
    name: String,
    data: &'a [u8],
}

/// One 60-byte `ar` member header: the member's name and size, or why it is not one.
fn ar_header(header: &[u8]) -> Result<(String, u64), &'static str> {
    if header.len() != 60 || &header[58..60] != b"`\n" {
        return Err("corrupt ar header");
    }
    let member = String::from_utf8_lossy(&header[..16])
        .trim_end()
        .trim_end_matches('/')
        .to_string();
    let size = std::str::from_utf8(&header[48..58])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or("bad member size")?;
    Ok((member, size))
}

/// Splits an `ar` archive. Written by hand: the format is a 8-byte magic then 60-byte
/// headers with decimal sizes, and owning the parser lets every size be bounds-checked
/// against the buffer (the `ar` crate reads from a stream and trusts the sizes).
fn ar_members<'a>(bytes: &'a [u8], name: &str) -> Result<Vec<Member<'a>>, DebError> {
    let bad = |reason: &str| DebError::NotADeb {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let rest = bytes
        .strip_prefix(b"!<arch>\n")
        .ok_or_else(|| bad("no ar magic"))?;
    let mut pos = 0usize;
    let mut out = Vec::new();
    while pos < rest.len() {
        if rest.len() - pos == 1 && rest[pos] == b'\n' {
            break; // final padding
        }
        let header = rest
            .get(pos..pos + 60)
            .ok_or_else(|| bad("truncated ar header"))?;
        let (member, size) = ar_header(header).map_err(bad)?;
        let size = usize::try_from(size).map_err(|_| bad("bad member size"))?;
        let start = pos + 60;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= rest.len())
            .ok_or_else(|| bad("member runs past the end of the file"))?;
        out.push(Member {
            name: member,
            data: &rest[start..end],
        });
        pos = end + (size % 2);
        if out.len() > 16 {
            return Err(bad("too many ar members"));
        }
    }
    Ok(out)
}

fn decompressor<'a>(member: &Member<'a>, name: &str) -> Result<Box<dyn Read + 'a>, DebError> {
    decompress_member(&member.name, member.data, name)
}

/// The decompressed stream of the `ar` member `member` (`data.tar.xz`, …), read from `data`.
fn decompress_member<'a>(
    member: &str,
    data: impl Read + 'a,
    name: &str,
) -> Result<Box<dyn Read + 'a>, DebError> {
    let ext = member.rsplit_once(".tar").map(|(_, e)| e).unwrap_or("?");
    Ok(match ext {
        "" => Box::new(data),
        ".gz" => Box::new(flate2::read::GzDecoder::new(data)),
        ".xz" => Box::new(liblzma::read::XzDecoder::new(data)),
        ".zst" => Box::new(
            zstd::stream::read::Decoder::new(data).map_err(|e| DebError::Read {
                name: name.to_string(),
                member: member.to_string(),
                source: e,
            })?,
        ),
        _ => {
            return Err(DebError::Compression {
                name: name.to_string(),
                member: member.to_string(),
            });
        }
    })
}

/// Reads the data archive of the `.deb` at `path` as a stream, never holding the
/// package in memory: every entry is checked as [`read_deb`] checks it, but a regular
/// file's bytes are kept only when `keep` accepts its (normalised) path, and the other
/// files are left out of the result. Reading one changelog out of an 80 MB package
/// costs the decompression, not the package's size in memory.
pub fn read_data_streaming(
    path: &std::path::Path,
    name: &str,
    limits: &DebLimits,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<DebEntry>, DebError> {
    use std::io::{BufReader, Seek, SeekFrom};
    let io = |member: &str| {
        let member = member.to_string();
        move |source| DebError::Read {
            name: name.to_string(),
            member,
            source,
        }
    };
    let bad = |reason: &str| DebError::NotADeb {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let mut f = BufReader::new(fs_err::File::open(path).map_err(io("the package"))?);
    let len = f.get_ref().metadata().map_err(io("the package"))?.len();
    let mut magic = [0u8; 8];
    f.read_exact(&mut magic).map_err(|_| bad("no ar magic"))?;
    if &magic != b"!<arch>\n" {
        return Err(bad("no ar magic"));
    }
    let mut pos: u64 = 8;
    for n in 0..=16 {
        let mut header = [0u8; 60];
        f.read_exact(&mut header)
            .map_err(|_| bad("truncated ar header"))?;
        let (member, size) = ar_header(&header).map_err(bad)?;
        let start = pos + 60;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= len)
            .ok_or_else(|| bad("member runs past the end of the file"))?;
        if n == 0 {
            let mut version = [0u8; 2];
            if member != "debian-binary" || size < 2 {
                return Err(bad("the first member is not debian-binary 2.x"));
            }
            f.read_exact(&mut version).map_err(io(&member))?;
            if &version != b"2." {
                return Err(bad("the first member is not debian-binary 2.x"));
            }
        } else if member.starts_with("data.tar") {
            let data = (&mut f).take(size);
            let stream = decompress_member(&member, data, name)?;
            return read_data_from(stream, &member, name, limits, keep);
        }
        pos = end + (size % 2);
        f.seek(SeekFrom::Start(pos)).map_err(io(&member))?;
    }
    Err(bad("no data archive"))
}

/// Normalises a path inside a package; `..` is refused.
fn normalize(raw: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// Whether a relative symlink at `path` pointing to `target` stays inside the root.
fn symlink_stays_inside(path: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return true; // absolute targets resolve inside the container's root
    }
    let mut depth: i64 = path.split('/').count() as i64 - 1;
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => depth += 1,
        }
    }
    true
}

/// Reads a `.deb` held in memory. `name` names it in errors.
pub fn read_deb(bytes: &[u8], name: &str, limits: &DebLimits) -> Result<DebPackage, DebError> {
    let [_, control_m, data_m] = deb_members(bytes, name)?;
    let (control, md5sums, conffiles) = read_control(&control_m, name, limits)?;
    let control =
        control.ok_or_else(|| not_a_deb(name, "the control archive has no control file"))?;
    let entries = read_data(&data_m, name, limits)?;
    Ok(DebPackage {
        control,
        md5sums,
        conffiles,
        entries,
    })
}

fn not_a_deb(name: &str, reason: &str) -> DebError {
    DebError::NotADeb {
        name: name.to_string(),
        reason: reason.to_string(),
    }
}

/// The `debian-binary`, control and data members of a `.deb` held in memory.
fn deb_members<'a>(bytes: &'a [u8], name: &str) -> Result<[Member<'a>; 3], DebError> {
    let mut members = ar_members(bytes, name)?;
    let binary = match members.first() {
        Some(m) if m.name == "debian-binary" && m.data.starts_with(b"2.") => members.remove(0),
        _ => return Err(not_a_deb(name, "the first member is not debian-binary 2.x")),
    };
    let mut take = |prefix: &str, missing: &str| {
        members
            .iter()
            .position(|m| m.name.starts_with(prefix))
            .map(|i| members.remove(i))
            .ok_or_else(|| not_a_deb(name, missing))
    };
    let control = take("control.tar", "no control archive")?;
    let data = take("data.tar", "no data archive")?;
    Ok([binary, control, data])
}

/// Reads a `.deb` held in memory as [`read_deb`] does, and gives beside it the same
/// package with its data archive stored uncompressed (a `data.tar` member, which every
/// dpkg reads): handed to dpkg, that package is unpacked without decoding its xz again.
/// The data archive is decoded once, into memory, at most `limits.max_data` bytes of it.
pub fn read_deb_with_plain_data(
    bytes: &[u8],
    name: &str,
    limits: &DebLimits,
) -> Result<(DebPackage, Vec<u8>), DebError> {
    let [binary, control_m, data_m] = deb_members(bytes, name)?;
    let (control, md5sums, conffiles) = read_control(&control_m, name, limits)?;
    let control =
        control.ok_or_else(|| not_a_deb(name, "the control archive has no control file"))?;
    let mut tar = Vec::new();
    decompressor(&data_m, name)?
        .take(limits.max_data.saturating_add(1))
        .read_to_end(&mut tar)
        .map_err(|e| DebError::Read {
            name: name.to_string(),
            member: data_m.name.clone(),
            source: e,
        })?;
    if tar.len() as u64 > limits.max_data {
        return Err(DebError::TooLarge {
            name: name.to_string(),
            member: data_m.name.clone(),
            limit: limits.max_data,
        });
    }
    let entries = read_data_from(Box::new(&tar[..]), &data_m.name, name, limits, &|_| true)?;
    let plain = ar_archive(&[
        ("debian-binary", binary.data),
        (&control_m.name, control_m.data),
        ("data.tar", &tar),
    ]);
    let package = DebPackage {
        control,
        md5sums,
        conffiles,
        entries,
    };
    Ok((package, plain))
}

/// An `ar` archive of `members` as dpkg-deb writes one (a `.deb` is one): each member
/// after a 60-byte header (name, mtime 0, owner and group 0, mode 100644, decimal size),
/// padded to an even offset. Names are at most 16 bytes.
pub fn ar_archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let len = members.iter().map(|(_, d)| 61 + d.len()).sum::<usize>();
    let mut out = Vec::with_capacity(8 + len);
    out.extend_from_slice(b"!<arch>\n");
    for (name, data) in members {
        let header = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            100644,
            data.len()
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

/// The `control` file of a `.deb` held in memory, without decoding its data archive.
pub fn read_control_file(bytes: &[u8], name: &str, limits: &DebLimits) -> Result<String, DebError> {
    let bad = |reason: &str| DebError::NotADeb {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let members = ar_members(bytes, name)?;
    let control_m = members
        .iter()
        .find(|m| m.name.starts_with("control.tar"))
        .ok_or_else(|| bad("no control archive"))?;
    read_control(control_m, name, limits)?
        .0
        .ok_or_else(|| bad("the control archive has no control file"))
}

type ControlFiles = (Option<String>, Option<String>, Option<String>);

fn read_control(m: &Member, name: &str, limits: &DebLimits) -> Result<ControlFiles, DebError> {
    let rerr = |e| DebError::Read {
        name: name.to_string(),
        member: m.name.clone(),
        source: e,
    };
    let mut ar = tar::Archive::new(decompressor(m, name)?);
    let (mut control, mut md5sums, mut conffiles) = (None, None, None);
    for (i, entry) in ar.entries().map_err(rerr)?.enumerate() {
        if i > 64 {
            return Err(DebError::TooManyEntries {
                name: name.to_string(),
                limit: 64,
            });
        }
        let mut entry = entry.map_err(rerr)?;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let slot = match normalize(&path).as_deref() {
            Some("control") => &mut control,
            Some("md5sums") => &mut md5sums,
            Some("conffiles") => &mut conffiles,
            _ => continue,
        };
        if entry.size() > limits.max_control {
            return Err(DebError::TooLarge {
                name: name.to_string(),
                member: path,
                limit: limits.max_control,
            });
        }
        let mut buf = Vec::new();
        (&mut entry)
            .take(limits.max_control)
            .read_to_end(&mut buf)
            .map_err(rerr)?;
        *slot = Some(String::from_utf8_lossy(&buf).into_owned());
    }
    Ok((control, md5sums, conffiles))
}

fn read_data(m: &Member, name: &str, limits: &DebLimits) -> Result<Vec<DebEntry>, DebError> {
    read_data_from(decompressor(m, name)?, &m.name, name, limits, &|_| true)
}

/// Reads the (decompressed) data archive of member `member`; regular files that `keep`
/// refuses are checked against the bounds and skipped, not returned.
fn read_data_from(
    stream: Box<dyn Read + '_>,
    member: &str,
    name: &str,
    limits: &DebLimits,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<DebEntry>, DebError> {
    let rerr = |e| DebError::Read {
        name: name.to_string(),
        member: member.to_string(),
        source: e,
    };
    let unsafe_entry = |path: &str, reason| DebError::Unsafe {
        name: name.to_string(),
        path: path.to_string(),
        reason,
    };
    let mut ar = tar::Archive::new(stream);
    let mut out = Vec::new();
    let mut total: u64 = 0;
    // Entries read, kept or not: the bound is on the archive, not on what is kept.
    let mut count = 0usize;
    for entry in ar.entries().map_err(rerr)? {
        if count >= limits.max_entries {
            return Err(DebError::TooManyEntries {
                name: name.to_string(),
                limit: limits.max_entries,
            });
        }
        let mut entry = entry.map_err(rerr)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = normalize(&raw)
            .ok_or_else(|| unsafe_entry(&raw, "`..` would escape the image root"))?;
        if path.is_empty() {
            continue; // `./` itself
        }
        count += 1;
        let h = entry.header();
        let mode = h.mode().map_err(rerr)? & 0o7777;
        let uid = h.uid().map_err(rerr)?;
        let gid = h.gid().map_err(rerr)?;
        let t = h.entry_type();
        let link = entry
            .link_name_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let kind = if t.is_dir() {
            DebEntryKind::Dir
        } else if t.is_symlink() {
            let target = link.unwrap_or_default();
            if target.is_empty() || !symlink_stays_inside(&path, &target) {
                return Err(unsafe_entry(&raw, "symlink points out of the root"));
            }
            DebEntryKind::Symlink(target)
        } else if t.is_hard_link() {
            let target = link
                .as_deref()
                .and_then(normalize)
                .filter(|t| !t.is_empty());
            DebEntryKind::Hardlink(
                target.ok_or_else(|| unsafe_entry(&raw, "hard link points out of the root"))?,
            )
        } else if t.is_file() || t == tar::EntryType::Continuous {
            let size = entry.size();
            total = total.saturating_add(size);
            if total > limits.max_data {
                return Err(DebError::TooLarge {
                    name: name.to_string(),
                    member: member.to_string(),
                    limit: limits.max_data,
                });
            }
            if !keep(&path) {
                continue; // read past by the tar reader; its bytes are not kept
            }
            let mut buf = Vec::with_capacity(size.min(64 << 20) as usize);
            (&mut entry)
                .take(size)
                .read_to_end(&mut buf)
                .map_err(rerr)?;
            DebEntryKind::File(buf)
        } else {
            return Err(unsafe_entry(
                &raw,
                "device files and fifos are not installed",
            ));
        };
        out.push(DebEntry {
            path,
            kind,
            mode,
            uid,
            gid,
        });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes an `ar` archive.
    pub fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        super::ar_archive(members)
    }

    pub enum T<'a> {
        D(&'a str),
        F(&'a str, &'a [u8]),
        L(&'a str, &'a str),
        H(&'a str, &'a str),
    }

    /// A tar with raw names (so tests can write `..` that tar::Builder refuses).
    pub fn tar_of(entries: &[T]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in entries {
            let mut h = tar::Header::new_gnu();
            let (name, data, kind, link): (&str, &[u8], _, Option<&str>) = match e {
                T::D(n) => (n, b"", tar::EntryType::Directory, None),
                T::F(n, d) => (n, d, tar::EntryType::Regular, None),
                T::L(n, t) => (n, b"", tar::EntryType::Symlink, Some(t)),
                T::H(n, t) => (n, b"", tar::EntryType::Link, Some(t)),
            };
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(l) = link {
                h.as_gnu_mut().unwrap().linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(if kind == tar::EntryType::Directory {
                0o755
            } else {
                0o4755
            });
            h.set_uid(0);
            h.set_gid(0);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }

    pub fn deb(data: &[T]) -> Vec<u8> {
        let control = tar_of(&[
            T::F(
                "./control",
                b"Package: demo\nVersion: 1.0-1\nArchitecture: amd64\n",
            ),
            T::F(
                "./md5sums",
                b"d41d8cd98f00b204e9800998ecf8427e  usr/bin/demo\n",
            ),
        ]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar_of(data)).unwrap();
        let data = gz.finish().unwrap();
        ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", &control),
            ("data.tar.gz", &data),
        ])
    }

    #[test]
    fn reads_control_md5sums_and_entries() {
        let bytes = deb(&[
            T::D("./"),
            T::D("./usr/"),
            T::D("./usr/bin/"),
            T::F("./usr/bin/demo", b"\x7fELF"),
            T::L("./usr/bin/demo2", "demo"),
            T::H("./usr/bin/demo3", "./usr/bin/demo"),
            T::L("./usr/lib/abs", "/etc/passwd"),
        ]);
        let p = read_deb(&bytes, "demo.deb", &DebLimits::default()).unwrap();
        assert!(p.control.starts_with("Package: demo"));
        assert!(p.md5sums.unwrap().contains("usr/bin/demo"));
        let paths: Vec<&str> = p.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "usr",
                "usr/bin",
                "usr/bin/demo",
                "usr/bin/demo2",
                "usr/bin/demo3",
                "usr/lib/abs"
            ]
        );
        assert_eq!(p.entries[2].kind, DebEntryKind::File(b"\x7fELF".to_vec()));
        assert_eq!(
            p.entries[2].mode, 0o4755,
            "setuid bits are kept as recorded"
        );
        assert_eq!(
            p.entries[4].kind,
            DebEntryKind::Hardlink("usr/bin/demo".into())
        );
    }

    #[test]
    fn rejects_hostile_packages() {
        let cases: Vec<(Vec<T>, &str)> = vec![
            (vec![T::F("./../../etc/cron.d/evil", b"x")], "escape"),
            (
                vec![T::L("./usr/lib/up", "../../../etc/shadow")],
                "symlink points out",
            ),
            (
                vec![T::H("./usr/bin/h", "../../etc/shadow")],
                "hard link points out",
            ),
        ];
        for (entries, expect) in cases {
            let err = read_deb(&deb(&entries), "evil.deb", &DebLimits::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect) && err.contains("evil.deb"), "{err}");
        }
        let err = read_deb(b"!<arch>\ngarbage", "x.deb", &DebLimits::default()).unwrap_err();
        assert!(err.to_string().contains("not a Debian package"), "{err}");
        let err = read_deb(b"PK\x03\x04", "x.deb", &DebLimits::default()).unwrap_err();
        assert!(err.to_string().contains("no ar magic"), "{err}");
        let tiny = DebLimits {
            max_data: 3,
            ..Default::default()
        };
        assert!(matches!(
            read_deb(&deb(&[T::F("./big", b"1234")]), "b.deb", &tiny),
            Err(DebError::TooLarge { .. })
        ));
    }

    #[test]
    fn streaming_reader_checks_what_read_deb_checks() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            fs_err::write(&p, bytes).unwrap();
            p
        };
        let all = |_: &str| true;
        let good = deb(&[
            T::D("./usr/"),
            T::F("./usr/bin/demo", b"\x7fELF"),
            T::F("./usr/share/doc/demo/changelog.Debian.gz", b"gz"),
            T::L("./usr/bin/demo2", "demo"),
        ]);
        let p = write("good.deb", &good);
        let whole = read_deb(&good, "good.deb", &DebLimits::default()).unwrap();
        let streamed = read_data_streaming(&p, "good.deb", &DebLimits::default(), &all).unwrap();
        assert_eq!(streamed, whole.entries);
        let only_docs = read_data_streaming(&p, "good.deb", &DebLimits::default(), &|p| {
            p.starts_with("usr/share/doc")
        })
        .unwrap();
        let paths: Vec<&str> = only_docs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "usr",
                "usr/share/doc/demo/changelog.Debian.gz",
                "usr/bin/demo2"
            ]
        );
        // Hostile entries are refused even when their bytes would not be kept.
        for (entries, expect) in [
            (vec![T::F("./../../etc/cron.d/evil", b"x")], "escape"),
            (
                vec![T::L("./usr/lib/up", "../../../etc/shadow")],
                "symlink points out",
            ),
        ] {
            let p = write("evil.deb", &deb(&entries));
            let err = read_data_streaming(&p, "evil.deb", &DebLimits::default(), &|_| false)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect) && err.contains("evil.deb"), "{err}");
        }
        let tiny = DebLimits {
            max_data: 3,
            ..Default::default()
        };
        let p = write("big.deb", &deb(&[T::F("./big", b"1234")]));
        assert!(matches!(
            read_data_streaming(&p, "big.deb", &tiny, &|_| false),
            Err(DebError::TooLarge { .. })
        ));
        for (bytes, expect) in [
            (&b"PK\x03\x04"[..], "no ar magic"),
            (&b"!<arch>\ngarbage"[..], "truncated ar header"),
            (&good[..good.len() - 10], "member runs past the end"),
        ] {
            let p = write("bad.deb", bytes);
            let err = read_data_streaming(&p, "bad.deb", &DebLimits::default(), &all).unwrap_err();
            assert!(err.to_string().contains(expect), "{err}");
        }
    }

    #[test]
    fn symlink_containment() {
        assert!(symlink_stays_inside("usr/lib/x", "../../bin/sh"));
        assert!(!symlink_stays_inside("usr/lib/x", "../../../etc"));
        assert!(symlink_stays_inside("a", "/anything"));
        assert!(symlink_stays_inside("usr/share/zoneinfo/UTC", "Etc/UTC"));
    }
}

/// Real packages from the machine's configured mirror, fetched with `apt-get download`.
#[cfg(test)]
mod real {
    use super::*;

    #[test]
    fn reads_real_debian_packages() {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("apt-get")
            .args(["download", "-q", "base-files", "libc6", "tzdata"])
            .current_dir(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            let msg =
                "apt-get download failed: the Debian mirror in the apt sources is unreachable";
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
            eprintln!("SKIPPED: {msg}");
            return;
        }
        let mut seen = 0;
        let scratch = tempfile::tempdir().unwrap();
        for e in fs_err::read_dir(dir.path()).unwrap() {
            let p = e.unwrap().path();
            let bytes = fs_err::read(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let pkg = read_deb(&bytes, &name, &DebLimits::default()).unwrap();
            let first = name.split('_').next().unwrap();
            assert!(
                pkg.control.starts_with(&format!("Package: {first}\n")),
                "{name}"
            );
            let md5 = pkg.md5sums.expect("every one of these ships md5sums");
            // Every file the md5sums list names is in the data archive, with that md5.
            for line in md5.lines() {
                let (sum, path) = line.split_once("  ").unwrap();
                let e = pkg
                    .entries
                    .iter()
                    .find(|e| e.path == path)
                    .unwrap_or_else(|| panic!("{name}: {path}"));
                if let DebEntryKind::File(data) = &e.kind {
                    assert_eq!(format!("{:032x}", md5_digest(data)), sum, "{name}: {path}");
                }
            }
            // The streaming reader sees the same entries, keeping only the files asked for.
            let streamed = read_data_streaming(&p, &name, &DebLimits::default(), &|path| {
                path.starts_with("usr/share/doc/")
            })
            .unwrap();
            let expected: Vec<&DebEntry> = pkg
                .entries
                .iter()
                .filter(|e| {
                    !matches!(e.kind, DebEntryKind::File(_)) || e.path.starts_with("usr/share/doc/")
                })
                .collect();
            assert_eq!(streamed.iter().collect::<Vec<_>>(), expected, "{name}");
            // The same package with a plain data.tar: the same entries for us, and for
            // dpkg-deb the same files, control and metadata as the original.
            let (same, plain) =
                read_deb_with_plain_data(&bytes, &name, &DebLimits::default()).unwrap();
            assert_eq!(same.entries, pkg.entries, "{name}");
            assert_eq!(same.control, pkg.control, "{name}");
            let reread = read_deb(&plain, &name, &DebLimits::default()).unwrap();
            assert_eq!(reread.entries, pkg.entries, "{name}");
            let plain_path = scratch.path().join(&name);
            fs_err::write(&plain_path, &plain).unwrap();
            for args in [["--contents"], ["--info"]] {
                let dpkg_deb = |path: &std::path::Path| {
                    let o = std::process::Command::new("dpkg-deb")
                        .args(args)
                        .arg(path)
                        .output()
                        .unwrap();
                    assert!(o.status.success(), "{name} {args:?}: {o:?}");
                    String::from_utf8(o.stdout)
                        .unwrap()
                        .replace(plain_path.to_str().unwrap(), "")
                        .replace(p.to_str().unwrap(), "")
                };
                let (want, got) = (dpkg_deb(&p), dpkg_deb(&plain_path));
                if args == ["--info"] {
                    // Only the package's size differs ("new Debian package, version
                    // 2.0.\n size N bytes: ...").
                    let strip = |t: &str| t.lines().skip(2).collect::<Vec<_>>().join("\n");
                    assert_eq!(strip(&got), strip(&want), "{name}");
                } else {
                    assert_eq!(got, want, "{name}");
                }
            }
            seen += 1;
        }
        assert_eq!(seen, 3);
    }

    fn md5_digest(data: &[u8]) -> u128 {
        // md5 via the system tool keeps a digest crate out of the dependencies for a test.
        use std::io::Write;
        let mut child = std::process::Command::new("md5sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(data).unwrap();
        let out = child.wait_with_output().unwrap();
        u128::from_str_radix(std::str::from_utf8(&out.stdout[..32]).unwrap(), 16).unwrap()
    }
}
