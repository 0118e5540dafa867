//! Go modules compiled into binaries, from the build information the Go linker embeds.
//!
//! Since Go 1.13 the linker writes a 32-byte header starting with `\xff Go buildinf:` into
//! the section `.go.buildinfo` (or, in binaries without section headers, near the start
//! of the first writable segment). Byte 15 tells the format:
//!
//! * bit 2 set (Go 1.18+): the header is followed by two varint-prefixed strings, the
//!   toolchain version (`go1.22.5`) and the module information;
//! * otherwise (Go 1.13–1.17): bytes 16.. hold two pointers (of the size in byte 14, in
//!   the byte order of byte 15) to Go string headers `{data pointer, length}`, which
//!   have to be looked up in the loaded segments.
//!
//! The module information is the text `runtime/debug.BuildInfo.String()` writes, framed
//! by 16 sentinel bytes on each side: `path`, `mod`, `dep`, `=>` (replacement of the line
//! before) and `build KEY=VALUE` lines, tab-separated.
//!
//! Reported, as syft does: the main module (`(devel)` stays `(devel)`), every dependency
//! (a replaced one under its replacement's path and version), and the toolchain as the
//! module `stdlib` whose PURL version drops the `go` prefix (`pkg:golang/stdlib@1.22.5`).

use std::collections::BTreeMap;

use object::{Object, ObjectSection, ObjectSegment};
use plinth_oci::fs::{Node, NodeKind};

use super::{Cataloger, Context, Findings};
use crate::model::{Package, PackageKind};
use crate::purl::purl;

/// The Go cataloger: reads the build information in every ELF executable built by Go.
#[derive(Debug)]
pub struct GoBinaries;

/// Whether the reader should keep the bytes of `path` for this cataloger. Go binaries are
/// executables, which the reader keeps anyway when they are ELF.
pub fn wants(_path: &str) -> bool {
    false
}

impl Cataloger for GoBinaries {
    fn name(&self) -> &'static str {
        "golang"
    }

    fn catalog(&self, cx: &Context<'_>, out: &mut Findings) {
        for (path, node, data) in elf_files(cx) {
            match go_packages(data) {
                Ok(pkgs) => {
                    for mut p in pkgs {
                        p.locations = vec![path.to_string()];
                        p.layer = Some(node.layer);
                        out.packages.push(p);
                    }
                }
                // Reported here once, for both binary catalogers.
                Err(e @ ElfError::NotElf(_)) => out.warnings.push(format!("skipped `{path}`: {e}")),
                Err(ElfError::Data(e)) => out
                    .warnings
                    .push(format!("skipped Go build info of `{path}`: {e}")),
            }
        }
    }
}

/// The kept ELF files not owned by an OS package: `(path, node, bytes)`.
pub(crate) fn elf_files<'a>(
    cx: &'a Context<'a>,
) -> impl Iterator<Item = (&'a str, &'a Node, &'a [u8])> + 'a {
    cx.fs.iter().filter_map(move |(path, node)| {
        if node.kind != NodeKind::File || cx.owned.contains(path) {
            return None;
        }
        let data = node.content.as_deref()?;
        data.starts_with(b"\x7fELF").then_some((path, node, data))
    })
}

/// Why a binary yielded nothing.
#[derive(Debug)]
pub(crate) enum ElfError {
    /// The bytes are not a readable ELF file.
    NotElf(String),
    /// The ELF file is fine but what it embeds is malformed.
    Data(String),
}

impl std::fmt::Display for ElfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ElfError::NotElf(e) => write!(f, "not a readable ELF file: {e}"),
            ElfError::Data(e) => f.write_str(e),
        }
    }
}

/// The Go modules of an ELF binary: empty when it is not a Go binary (or one built
/// without module information, which still reports `stdlib`). Never panics, whatever
/// the bytes; allocation is bounded by the input size.
pub fn parse_elf(data: &[u8]) -> Result<Vec<Package>, String> {
    go_packages(data).map_err(|e| e.to_string())
}

fn go_packages(data: &[u8]) -> Result<Vec<Package>, ElfError> {
    Ok(match read_buildinfo_inner(data)? {
        Some(bi) => packages(&bi),
        None => Vec::new(),
    })
}

/// What the Go linker embedded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildInfo {
    /// The toolchain, e.g. `go1.22.5` (possibly with experiments: `go1.20.5 X:boringcrypto`).
    pub go_version: String,
    /// The module information, parsed.
    pub modinfo: ModInfo,
}

/// One module line (`mod`, `dep` or `=>`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Module {
    /// The module path, e.g. `golang.org/x/net` (for a local replacement, a directory).
    pub path: String,
    /// The module version, e.g. `v0.25.0`; `(devel)` for a main module built from a checkout.
    pub version: String,
    /// The `go.sum` hash (`h1:…`); empty when the line has none.
    pub sum: String,
    /// The `=>` line that replaces this module, when there is one.
    pub replace: Option<Box<Module>>,
}

/// The module information text, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModInfo {
    /// The `path` line: the main package's import path.
    pub path: String,
    /// The `mod` line: the main module.
    pub main: Option<Module>,
    /// The `dep` lines, in order.
    pub deps: Vec<Module>,
    /// `build` lines, in order.
    pub settings: Vec<(String, String)>,
}

impl ModInfo {
    /// The value of the first `build` setting named `key` (e.g. `GOOS`, `-ldflags`).
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

const MAGIC: &[u8] = b"\xff Go buildinf:";
const HEADER: usize = 32;
const ALIGN: usize = 16;
/// The largest string the pointer format may name (Go's own bound).
const MAX_STRING: u64 = 1 << 24;
/// Magic candidates tried per region before giving up.
const MAX_CANDIDATES: usize = 64;

/// Reads the build information of an ELF binary: `Ok(None)` when it has none.
pub fn read_buildinfo(data: &[u8]) -> Result<Option<BuildInfo>, String> {
    read_buildinfo_inner(data).map_err(|e| e.to_string())
}

fn read_buildinfo_inner(data: &[u8]) -> Result<Option<BuildInfo>, ElfError> {
    if !data.starts_with(b"\x7fELF") {
        return Err(ElfError::NotElf("no ELF magic".into()));
    }
    let file = object::File::parse(data).map_err(|e| ElfError::NotElf(e.to_string()))?;
    // Where Go's debug/buildinfo looks: the section, else (binaries whose section headers
    // were stripped) the writable segments.
    let mut regions: Vec<&[u8]> = Vec::new();
    if let Some(s) = file.section_by_name(".go.buildinfo") {
        regions.push(s.data().map_err(|e| ElfError::Data(e.to_string()))?);
    } else if file.sections().next().is_none() {
        regions.extend(
            file.segments()
                .filter(|s| s.permissions().writable())
                .filter_map(|s| s.data().ok())
                .take(8),
        );
    } else {
        return Ok(None);
    }
    let mut last_err = None;
    for region in regions {
        for blob in candidates(region).take(MAX_CANDIDATES) {
            match decode(&file, blob) {
                Ok(Some(bi)) => return Ok(Some(bi)),
                Ok(None) => {}
                Err(e) => last_err = Some(e),
            }
        }
    }
    match last_err {
        Some(e) => Err(ElfError::Data(e)),
        None => Ok(None),
    }
}

/// The 16-aligned positions of the magic in `region` with a whole header after them.
fn candidates(region: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        while at < region.len() {
            let rest = &region[at..];
            let i = find(rest, MAGIC)?;
            let pos = at + i;
            if region.len() - pos < HEADER {
                at = region.len();
                return None;
            }
            if pos.is_multiple_of(ALIGN) {
                at = pos + ALIGN;
                return Some(&region[pos..]);
            }
            at = (pos + ALIGN - 1) & !(ALIGN - 1);
        }
        None
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut from = 0;
    while let Some(i) = hay[from..].iter().position(|&b| b == first) {
        let at = from + i;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Decodes the blob starting with the magic: `Ok(None)` when it names no version.
fn decode(file: &object::File<'_>, blob: &[u8]) -> Result<Option<BuildInfo>, String> {
    let ptr_size = blob[14] as usize;
    let flags = blob[15];
    let (version, modinfo) = if flags & 2 != 0 {
        let (v, rest) = varint_string(&blob[HEADER..]).ok_or("truncated version string")?;
        let (m, _) = varint_string(rest).ok_or("truncated module information")?;
        (v, m)
    } else {
        let big = flags & 1 != 0;
        if ptr_size != 4 && ptr_size != 8 {
            return Err(format!("unsupported pointer size {ptr_size}"));
        }
        let read_ptr = |b: &[u8]| -> Option<u64> {
            let b = b.get(..ptr_size)?;
            let mut v = 0u64;
            if big {
                for &x in b {
                    v = (v << 8) | u64::from(x);
                }
            } else {
                for &x in b.iter().rev() {
                    v = (v << 8) | u64::from(x);
                }
            }
            Some(v)
        };
        let read_string = |addr: u64| -> Option<&[u8]> {
            let hdr = read_addr(file, addr, 2 * ptr_size as u64)?;
            let data = read_ptr(hdr)?;
            let len = read_ptr(&hdr[ptr_size..])?;
            if len > MAX_STRING {
                return None;
            }
            if len == 0 {
                return Some(&[]);
            }
            read_addr(file, data, len)
        };
        let v = read_ptr(&blob[16..])
            .and_then(read_string)
            .ok_or("unreadable version pointer")?;
        let m = read_ptr(&blob[16 + ptr_size..])
            .and_then(read_string)
            .unwrap_or_default();
        (v, m)
    };
    if version.is_empty() {
        return Ok(None);
    }
    let modinfo = strip_framing(modinfo);
    Ok(Some(BuildInfo {
        go_version: String::from_utf8_lossy(version).into_owned(),
        modinfo: parse_modinfo(&String::from_utf8_lossy(modinfo)),
    }))
}

/// `size` bytes at virtual address `addr`, from the segment that maps them.
fn read_addr<'d>(file: &object::File<'d>, addr: u64, size: u64) -> Option<&'d [u8]> {
    file.segments()
        .find_map(|s| s.data_range(addr, size).ok().flatten())
        .filter(|d| d.len() as u64 == size)
}

/// A Go `binary.Uvarint`-prefixed string.
fn varint_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, n) = uvarint(b)?;
    let rest = &b[n..];
    let len = usize::try_from(len).ok().filter(|&l| l <= rest.len())?;
    Some(rest.split_at(len))
}

/// Go's `binary.Uvarint`: `None` on truncation or on overflowing 64 bits.
pub fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    let mut shift = 0u32;
    for (i, &byte) in b.iter().enumerate().take(10) {
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return None;
            }
            return Some((x | (u64::from(byte) << shift), i + 1));
        }
        x |= u64::from(byte & 0x7f) << shift;
        shift += 7;
    }
    None
}

/// Drops the 16-byte sentinels around the module information (none: no modules).
fn strip_framing(m: &[u8]) -> &[u8] {
    if m.len() >= 33 && m[m.len() - 17] == b'\n' {
        &m[16..m.len() - 16]
    } else {
        &[]
    }
}

/// Parses the module information text. Lenient: malformed lines are skipped.
pub fn parse_modinfo(text: &str) -> ModInfo {
    let mut mi = ModInfo::default();
    // Which module an `=>` line replaces: the main module (None) or a dep (Some(i)).
    let mut last: Option<Option<usize>> = None;
    for line in text.lines() {
        let Some((word, rest)) = line.split_once('\t') else {
            continue;
        };
        match word {
            "path" => {
                mi.path = rest.to_string();
                last = None;
            }
            "mod" | "dep" => {
                let f: Vec<&str> = rest.split('\t').collect();
                if f.len() < 2 || f.len() > 3 || f[0].is_empty() {
                    last = None;
                    continue;
                }
                let m = Module {
                    path: f[0].to_string(),
                    version: f[1].to_string(),
                    sum: f.get(2).unwrap_or(&"").to_string(),
                    replace: None,
                };
                if word == "mod" {
                    mi.main = Some(m);
                    last = Some(None);
                } else {
                    mi.deps.push(m);
                    last = Some(Some(mi.deps.len() - 1));
                }
            }
            "=>" => {
                let f: Vec<&str> = rest.split('\t').collect();
                let target = match last.take() {
                    Some(Some(i)) => mi.deps.get_mut(i),
                    Some(None) => mi.main.as_mut(),
                    None => None,
                };
                if let (Some(t), 3, false) = (target, f.len(), f[0].is_empty()) {
                    t.replace = Some(Box::new(Module {
                        path: f[0].to_string(),
                        version: f[1].to_string(),
                        sum: f[2].to_string(),
                        replace: None,
                    }));
                }
            }
            "build" => {
                last = None;
                if let Some((k, v)) = parse_setting(rest) {
                    mi.settings.push((k, v));
                }
            }
            _ => last = None,
        }
    }
    mi
}

/// `KEY=VALUE`, either side possibly Go-quoted.
fn parse_setting(s: &str) -> Option<(String, String)> {
    let (key, rest) = if s.starts_with('"') {
        let (k, n) = unquote_prefix(s)?;
        (k, s[n..].strip_prefix('=')?)
    } else {
        let (k, v) = s.split_once('=')?;
        (k.to_string(), v)
    };
    let value = if rest.starts_with('"') {
        unquote_prefix(rest).map(|(v, _)| v)?
    } else {
        rest.to_string()
    };
    Some((key, value))
}

/// Unquotes the Go string literal at the start of `s`: (value, bytes consumed).
fn unquote_prefix(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut v = 0u32;
                        for _ in 0..n {
                            v = v * 16 + chars.next()?.1.to_digit(16)?;
                        }
                        out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// The toolchain version without experiments: `go1.20.5 X:boringcrypto` → `go1.20.5`;
/// a development toolchain `devel go1.23-abc123 …` → `go1.23-abc123`.
fn toolchain(go_version: &str) -> &str {
    let mut words = go_version.split_whitespace();
    match words.next() {
        Some("devel") => words
            .next()
            .filter(|w| w.starts_with("go"))
            .unwrap_or("devel"),
        w => w.unwrap_or(""),
    }
}

/// The PURL of a Go module, as syft writes it: the last path element is the name.
pub fn go_purl(module: &str, version: &str) -> String {
    match module.rsplit_once('/') {
        Some((ns, name)) => purl(PackageKind::Go.purl_type(), Some(ns), name, version, &[]),
        None => purl(PackageKind::Go.purl_type(), None, module, version, &[]),
    }
}

/// The packages a binary's build information names (without locations).
pub fn packages(bi: &BuildInfo) -> Vec<Package> {
    let mi = &bi.modinfo;
    let tool = toolchain(&bi.go_version).to_string();
    let main_path = mi.main.as_ref().map(|m| m.path.clone()).unwrap_or_default();
    let arch = mi.setting("GOARCH").map(str::to_string);
    let mut base = BTreeMap::new();
    base.insert("go.toolchain".to_string(), bi.go_version.clone());
    if !main_path.is_empty() {
        base.insert("go.main".to_string(), main_path.clone());
    }
    for key in ["GOOS", "GOARCH", "vcs.revision"] {
        if let Some(v) = mi.setting(key) {
            base.insert(format!("go.{key}"), v.to_string());
        }
    }
    let module = |m: &Module, main: bool| -> Option<Package> {
        let m = m.replace.as_deref().unwrap_or(m);
        if m.path.is_empty() {
            return None;
        }
        let mut metadata = base.clone();
        if !m.sum.is_empty() {
            metadata.insert("go.h1digest".into(), m.sum.clone());
        }
        if main {
            metadata.insert("go.main-module".into(), "true".into());
        }
        Some(Package {
            kind: Some(PackageKind::Go),
            name: m.path.clone(),
            version: m.version.clone(),
            arch: arch.clone(),
            purl: go_purl(&m.path, &m.version),
            metadata,
            ..Package::default()
        })
    };
    let mut out = Vec::new();
    if let Some(m) = &mi.main {
        out.extend(module(m, true));
    }
    for d in &mi.deps {
        out.extend(module(d, false));
    }
    if !tool.is_empty() {
        out.push(Package {
            kind: Some(PackageKind::Go),
            name: "stdlib".into(),
            version: tool.clone(),
            arch: arch.clone(),
            license: Some("BSD-3-Clause".into()),
            purl: go_purl("stdlib", tool.strip_prefix("go").unwrap_or(&tool)),
            metadata: base.clone(),
            ..Package::default()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modinfo_with_replacements_and_quoted_settings() {
        let text = "path\texample.com/hello\n\
                    mod\texample.com/hello\t(devel)\t\n\
                    dep\texample.com/greet\tv0.0.0-00010101000000-000000000000\n\
                    =>\t../greet\t\t\n\
                    dep\tgolang.org/x/text\tv0.3.7\th1:abc=\n\
                    dep\tgithub.com/a/b\tv1.0.0\th1:x=\n\
                    =>\tgithub.com/fork/b\tv1.0.1\th1:y=\n\
                    build\t-ldflags=\"-s -w -X \\\"main.v=1\\\"\"\n\
                    build\tGOARCH=amd64\n\
                    build\tGOOS=linux\n";
        let mi = parse_modinfo(text);
        assert_eq!(mi.path, "example.com/hello");
        assert_eq!(mi.main.as_ref().unwrap().version, "(devel)");
        assert_eq!(mi.deps.len(), 3);
        assert_eq!(mi.deps[0].replace.as_ref().unwrap().path, "../greet");
        assert!(mi.deps[1].replace.is_none());
        assert_eq!(mi.deps[2].replace.as_ref().unwrap().version, "v1.0.1");
        assert_eq!(mi.setting("-ldflags"), Some("-s -w -X \"main.v=1\""));
        assert_eq!(mi.setting("GOARCH"), Some("amd64"));
        let pkgs = packages(&BuildInfo {
            go_version: "go1.22.5".into(),
            modinfo: mi,
        });
        let purls: Vec<&str> = pkgs.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:golang/example.com/hello@%28devel%29",
                "pkg:golang/../greet",
                "pkg:golang/golang.org/x/text@v0.3.7",
                "pkg:golang/github.com/fork/b@v1.0.1",
                "pkg:golang/stdlib@1.22.5",
            ]
        );
        assert_eq!(pkgs[4].version, "go1.22.5");
        assert_eq!(pkgs[2].arch.as_deref(), Some("amd64"));
    }

    #[test]
    fn uvarint_matches_go() {
        assert_eq!(uvarint(&[0x05]), Some((5, 1)));
        assert_eq!(uvarint(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(uvarint(&[0x80]), None);
        assert_eq!(uvarint(&[0xff; 10]), None);
        let mut max = [0xffu8; 10];
        max[9] = 1;
        assert_eq!(uvarint(&max), Some((u64::MAX, 10)));
    }

    #[test]
    fn experiments_are_not_part_of_the_stdlib_version() {
        let pkgs = packages(&BuildInfo {
            go_version: "go1.20.5 X:boringcrypto".into(),
            modinfo: ModInfo::default(),
        });
        assert_eq!(pkgs.len(), 1);
        assert_eq!(pkgs[0].version, "go1.20.5");
        assert_eq!(pkgs[0].purl, "pkg:golang/stdlib@1.20.5");
        assert_eq!(
            toolchain("devel go1.23-4f2d8a Tue Jan 2 +0000 2024"),
            "go1.23-4f2d8a"
        );
        assert!(read_buildinfo(b"not elf").is_err());
    }
}
