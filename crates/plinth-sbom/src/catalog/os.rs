//! OS detection: `os-release` first (`/etc/os-release`, then `/usr/lib/os-release`), then
//! the distribution's own version files (`/etc/debian_version`, `/etc/alpine-release`).
//!
//! `os-release` is parsed the way `systemd` documents it: `KEY=value` lines, values in
//! shell quoting (double quotes with `\` escapes, single quotes, or bare words), `#`
//! comments. A line that does not parse is skipped with a warning naming the file; the
//! rest of the file is still used.

use plinth_oci::ImageFs;

use crate::model::Distro;

const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];
const DEBIAN_VERSION: &str = "etc/debian_version";
const ALPINE_RELEASE: &str = "etc/alpine-release";

/// Whether the reader should keep the bytes of `path` for OS detection.
pub fn wants(path: &str) -> bool {
    matches!(
        path,
        "etc/os-release" | "usr/lib/os-release" | "etc/debian_version" | "etc/alpine-release"
    )
}

/// Detects the OS; warnings name files that were present but unreadable.
pub fn detect(fs: &ImageFs, warnings: &mut Vec<String>) -> Option<Distro> {
    let mut found = None;
    for path in OS_RELEASE {
        let Some(data) = fs.read(path) else { continue };
        let (fields, problems) = parse_os_release(data);
        warnings.extend(problems.into_iter().map(|p| format!("{path}: {p}")));
        match distro_from_fields(&fields, path) {
            Some(d) => {
                found = Some(d);
                break;
            }
            None => warnings.push(format!("{path}: no ID field; ignored")),
        }
    }
    let debian = fs.read(DEBIAN_VERSION).map(|d| {
        let v = parse_debian_version(d);
        if v.is_none() {
            warnings.push(format!(
                "{DEBIAN_VERSION}: not a Debian version or codename; ignored"
            ));
        }
        v
    });
    let alpine = fs.read(ALPINE_RELEASE).map(|d| {
        let v = parse_alpine_release(d);
        if v.is_none() {
            warnings.push(format!("{ALPINE_RELEASE}: not an Alpine version; ignored"));
        }
        v
    });
    match found {
        Some(mut d) => {
            // Debian testing and unstable have no VERSION_ID; a numbered debian_version
            // (a point release) fills it in, a `codename/sid` one the codename.
            if d.id == "debian" {
                if let Some(Some(DebianVersion { major, codename })) = debian {
                    if d.version_id.is_none() {
                        d.version_id = major;
                    }
                    if d.codename.is_none() {
                        d.codename = codename;
                    }
                }
            } else if d.id == "alpine"
                && d.version_id.is_none()
                && let Some(Some(v)) = alpine
            {
                d.version_id = Some(v);
            }
            Some(d)
        }
        None => {
            if let Some(Some(DebianVersion { major, codename })) = debian {
                Some(Distro {
                    id: "debian".into(),
                    version_id: major,
                    codename,
                    source: DEBIAN_VERSION.into(),
                    ..Distro::default()
                })
            } else if let Some(Some(v)) = alpine {
                Some(Distro {
                    id: "alpine".into(),
                    version_id: Some(v),
                    source: ALPINE_RELEASE.into(),
                    ..Distro::default()
                })
            } else {
                None
            }
        }
    }
}

fn distro_from_fields(fields: &[(String, String)], source: &str) -> Option<Distro> {
    let get = |k: &str| {
        fields
            .iter()
            .rev() // the last assignment wins, as in a shell
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    Some(Distro {
        id: get("ID")?,
        version_id: get("VERSION_ID"),
        codename: get("VERSION_CODENAME"),
        pretty_name: get("PRETTY_NAME"),
        id_like: get("ID_LIKE")
            .map(|v| v.split_whitespace().map(String::from).collect())
            .unwrap_or_default(),
        source: source.to_string(),
    })
}

/// Most malformed lines reported one by one; the rest are counted.
const MAX_LINE_WARNINGS: usize = 3;

/// Parses an `os-release` file into `(KEY, value)` pairs in file order, and describes the
/// lines it skipped. Never panics; the work is linear in the input.
pub fn parse_os_release(data: &[u8]) -> (Vec<(String, String)>, Vec<String>) {
    let text = String::from_utf8_lossy(data);
    let mut fields = Vec::new();
    let mut problems = Vec::new();
    let mut skipped = 0usize;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_assignment(line) {
            Ok(kv) => fields.push(kv),
            Err(why) => {
                skipped += 1;
                if skipped <= MAX_LINE_WARNINGS {
                    problems.push(format!("line {}: {why}; skipped", i + 1));
                }
            }
        }
    }
    if skipped > MAX_LINE_WARNINGS {
        problems.push(format!(
            "{} more malformed lines skipped",
            skipped - MAX_LINE_WARNINGS
        ));
    }
    (fields, problems)
}

fn parse_assignment(line: &str) -> Result<(String, String), &'static str> {
    let line = line.strip_prefix("export ").unwrap_or(line);
    let Some((key, raw)) = line.split_once('=') else {
        return Err("no `=`");
    };
    if key.is_empty()
        || key.starts_with(|c: char| c.is_ascii_digit())
        || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err("not a variable name before `=`");
    }
    Ok((key.to_string(), unquote(raw)?))
}

/// Undoes shell quoting of one value: `"..."` (with `\"`, `\\`, `` \` ``, `\$` escapes),
/// `'...'`, and bare words with `\` escapes; adjacent pieces are joined. A trailing
/// `# comment` after whitespace is dropped.
fn unquote(raw: &str) -> Result<String, &'static str> {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => loop {
                match chars.next() {
                    None => return Err("unterminated double quote"),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        None => return Err("unterminated double quote"),
                        Some(e @ ('"' | '\\' | '`' | '$')) => out.push(e),
                        Some('\n') => {}
                        Some(e) => {
                            out.push('\\');
                            out.push(e);
                        }
                    },
                    Some(c) => out.push(c),
                }
            },
            '\'' => loop {
                match chars.next() {
                    None => return Err("unterminated single quote"),
                    Some('\'') => break,
                    Some(c) => out.push(c),
                }
            },
            '\\' => {
                if let Some(e) = chars.next() {
                    out.push(e);
                }
            }
            c if c.is_whitespace() => {
                // Unquoted whitespace ends the value; only a comment may follow.
                let rest: String = chars.collect();
                let rest = rest.trim_start();
                if rest.is_empty() || rest.starts_with('#') {
                    break;
                }
                return Err("unquoted space in the value");
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// What `/etc/debian_version` says.
#[derive(Debug, PartialEq, Eq)]
struct DebianVersion {
    /// The major release, from `12.7` or `12`.
    major: Option<String>,
    /// The codename, from `trixie/sid`.
    codename: Option<String>,
}

fn parse_debian_version(data: &[u8]) -> Option<DebianVersion> {
    let text = String::from_utf8_lossy(data);
    let line = text.lines().next()?.trim();
    if line.is_empty() || line.len() > 64 {
        return None;
    }
    let first = line.split('.').next().unwrap_or_default();
    if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
        let valid = line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'~' | b'+' | b'-'));
        return valid.then(|| DebianVersion {
            major: Some(first.to_string()),
            codename: None,
        });
    }
    if let Some((codename, _)) = line.split_once('/')
        && !codename.is_empty()
        && codename.bytes().all(|b| b.is_ascii_lowercase())
    {
        return Some(DebianVersion {
            major: None,
            codename: Some(codename.to_string()),
        });
    }
    None
}

fn parse_alpine_release(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let v = text.lines().next()?.trim();
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.starts_with(|c: char| c.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    ok.then(|| v.to_string())
}

/// A database file the OS catalogers read: where it really is, its bytes, and the layer
/// that put it there.
pub(crate) struct DbFile<'a> {
    /// The path after following symlinks (no leading `/`).
    pub path: String,
    pub data: &'a [u8],
    pub layer: Option<usize>,
}

/// Reads the regular file at `path` (following symlinks). A file that is there but whose
/// bytes were not kept (over the size limit) is a warning; an absent one is not.
pub(crate) fn read_db<'a>(
    fs: &'a ImageFs,
    path: &str,
    warnings: &mut Vec<String>,
) -> Option<DbFile<'a>> {
    let real = fs.resolve(path)?;
    let node = fs.get(&real)?;
    match fs.read(&real) {
        Some(data) => Some(DbFile {
            path: real,
            data,
            layer: Some(node.layer),
        }),
        None => {
            if matches!(
                node.kind,
                plinth_oci::NodeKind::File | plinth_oci::NodeKind::Hardlink(_)
            ) {
                warnings.push(format!(
                    "{path}: present but its {} bytes were not read (over the size limit?); skipped",
                    node.size
                ));
            }
            None
        }
    }
}

/// The paths of `listed` (no leading `/`) that are in the image as something other than
/// a directory (or a symlink to one), under the name the image has them at: a path under
/// a symlinked directory, like `lib/...` in a merged-`/usr` image, becomes its real path.
/// Sorted, deduplicated.
pub(crate) fn owned_files(fs: &ImageFs, listed: impl IntoIterator<Item = String>) -> Vec<String> {
    use plinth_oci::NodeKind;
    let is_dir = |p: &str| fs.get(p).is_some_and(|n| n.kind == NodeKind::Dir);
    // The path itself when it is there and not a directory (nor a symlink to one).
    let keep = |p: &str| match fs.get(p).map(|n| &n.kind) {
        None | Some(NodeKind::Dir) => None,
        Some(NodeKind::Symlink(_)) => {
            let to_dir = fs.resolve(p).is_some_and(|r| is_dir(&r));
            (!to_dir).then(|| p.to_string())
        }
        Some(_) => Some(p.to_string()),
    };
    let mut out: Vec<String> = listed
        .into_iter()
        .filter_map(|p| {
            let p = p.trim_start_matches('/');
            if p.is_empty() || fs.get(p).is_some() {
                return keep(p);
            }
            // Not there under this name: its directory may be a symlink.
            let (dir, base) = p.rsplit_once('/')?;
            let real = fs.resolve(dir)?;
            if real.is_empty() {
                keep(base)
            } else {
                keep(&format!("{real}/{base}"))
            }
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Warnings of one parse, capped so that garbage input cannot produce millions of them.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    list: Vec<String>,
    more: usize,
}

impl Problems {
    const MAX: usize = 20;

    pub fn push(&mut self, msg: impl FnOnce() -> String) {
        if self.list.len() < Self::MAX {
            self.list.push(msg());
        } else {
            self.more += 1;
        }
    }

    pub fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.list
                .push(format!("{} more problems not listed", self.more));
        }
        self.list
    }
}

/// Most bytes of file paths one parse may produce, for `input_len` bytes of input: paths
/// are built from shared directory names, so a hostile database could otherwise make
/// them grow far beyond its own size.
pub(crate) fn path_budget(input_len: usize) -> usize {
    input_len.saturating_mul(8).saturating_add(1 << 20)
}

/// Test helpers shared by the OS catalogers' tests.
#[cfg(test)]
pub(crate) mod testing {
    use plinth_oci::ImageFs;

    pub use plinth_oci::testing::TarItem as T;
    use plinth_oci::testing::{image_fs, tar_of};

    /// An image of `layers` (bottom first), read with the SBOM reader's options.
    pub fn image(layers: &[&[(&str, T)]]) -> ImageFs {
        let tars: Vec<Vec<u8>> = layers.iter().map(|l| tar_of(l)).collect();
        image_fs(&tars, &crate::subject::fs_options())
    }
}

#[cfg(test)]
mod tests {
    use super::testing::T;
    use super::*;
    use proptest::prelude::*;

    /// (path, content, or else the symlink target)
    type Spec<'a> = (&'a str, Option<&'a [u8]>, Option<&'a str>);

    fn image(files: &[Spec]) -> ImageFs {
        let spec: Vec<(&str, T)> = files
            .iter()
            .map(|&(p, d, l)| match (d, l) {
                (Some(d), _) => (p, T::File(d)),
                (None, Some(l)) => (p, T::Link(l)),
                (None, None) => (p, T::Dir),
            })
            .collect();
        testing::image(&[&spec])
    }

    const BOOKWORM: &[u8] = b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"
NAME=\"Debian GNU/Linux\"
VERSION_ID=\"12\"
VERSION=\"12 (bookworm)\"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL=\"https://www.debian.org/\"
SUPPORT_URL=\"https://www.debian.org/support\"
BUG_REPORT_URL=\"https://bugs.debian.org/\"
";

    #[test]
    fn debian_os_release() {
        let fs = image(&[("etc/os-release", Some(BOOKWORM), None)]);
        let mut w = Vec::new();
        let d = detect(&fs, &mut w).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(d.id, "debian");
        assert_eq!(d.version_id.as_deref(), Some("12"));
        assert_eq!(d.codename.as_deref(), Some("bookworm"));
        assert_eq!(
            d.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(d.source, "etc/os-release");
        assert_eq!(d.purl_qualifier(), "debian-12");
    }

    #[test]
    fn distroless_symlink_to_usr_lib() {
        let fs = image(&[
            (
                "usr/lib/os-release",
                Some(b"PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\nVERSION_ID=\"12\"\nVERSION=\"Debian GNU/Linux 12 (bookworm)\"\n"),
                None,
            ),
            ("etc/os-release", None, Some("../usr/lib/os-release")),
        ]);
        let mut w = Vec::new();
        let d = detect(&fs, &mut w).unwrap();
        assert_eq!(d.id, "debian");
        assert_eq!(d.version_id.as_deref(), Some("12"));
        assert_eq!(d.pretty_name.as_deref(), Some("Distroless"));
        assert_eq!(d.source, "etc/os-release");
    }

    #[test]
    fn usr_lib_os_release_when_etc_is_missing() {
        let fs = image(&[(
            "usr/lib/os-release",
            Some(b"ID=alpine\nVERSION_ID=3.20.3\nID_LIKE='foo bar'\n"),
            None,
        )]);
        let d = detect(&fs, &mut Vec::new()).unwrap();
        assert_eq!(d.source, "usr/lib/os-release");
        assert_eq!(d.id_like, ["foo", "bar"]);
        assert_eq!(d.purl_qualifier(), "alpine-3.20.3");
    }

    #[test]
    fn sid_without_version_id() {
        let fs = image(&[
            (
                "etc/os-release",
                Some(b"PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nNAME=\"Debian GNU/Linux\"\nVERSION_CODENAME=trixie\nID=debian\n"),
                None,
            ),
            ("etc/debian_version", Some(b"trixie/sid\n"), None),
        ]);
        let mut w = Vec::new();
        let d = detect(&fs, &mut w).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(d.id, "debian");
        assert_eq!(d.version_id, None);
        assert_eq!(d.codename.as_deref(), Some("trixie"));
        assert_eq!(d.purl_qualifier(), "debian");
    }

    #[test]
    fn debian_version_fills_a_missing_version_id() {
        let fs = image(&[
            ("etc/os-release", Some(b"ID=debian\n"), None),
            ("etc/debian_version", Some(b"12.7\n"), None),
        ]);
        let d = detect(&fs, &mut Vec::new()).unwrap();
        assert_eq!(d.version_id.as_deref(), Some("12"));
        assert_eq!(d.source, "etc/os-release");
    }

    #[test]
    fn fallback_files() {
        let fs = image(&[("etc/debian_version", Some(b"12.7\n"), None)]);
        let d = detect(&fs, &mut Vec::new()).unwrap();
        assert_eq!(
            (d.id.as_str(), d.version_id.as_deref(), d.source.as_str()),
            ("debian", Some("12"), "etc/debian_version")
        );
        let fs = image(&[("etc/debian_version", Some(b"trixie/sid\n"), None)]);
        let d = detect(&fs, &mut Vec::new()).unwrap();
        assert_eq!(d.version_id, None);
        assert_eq!(d.codename.as_deref(), Some("trixie"));
        let fs = image(&[("etc/alpine-release", Some(b"3.20.3\n"), None)]);
        let d = detect(&fs, &mut Vec::new()).unwrap();
        assert_eq!(
            (d.id.as_str(), d.version_id.as_deref(), d.source.as_str()),
            ("alpine", Some("3.20.3"), "etc/alpine-release")
        );
        assert_eq!(
            detect(&image(&[("x", Some(b"y"), None)]), &mut Vec::new()),
            None
        );
    }

    #[test]
    fn shell_quoting() {
        let (f, p) = parse_os_release(
            b"# comment\nA=\"x \\\"y\\\" \\$z \\q\"\nB='a \"b\" \\c'\nC=bare\\ word # trailing\nexport D=1\nE=\"a\"'b'c\nF=\n",
        );
        assert!(p.is_empty(), "{p:?}");
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("A"), Some("x \"y\" $z \\q"));
        assert_eq!(get("B"), Some("a \"b\" \\c"));
        assert_eq!(get("C"), Some("bare word"));
        assert_eq!(get("D"), Some("1"));
        assert_eq!(get("E"), Some("abc"));
        assert_eq!(get("F"), Some(""));
    }

    #[test]
    fn malformed_os_release_warns_and_keeps_the_rest() {
        let fs = image(&[(
            "etc/os-release",
            Some(b"ID=debian\nthis is not an assignment\nPRETTY_NAME=\"unterminated\nVERSION_ID=12\n"),
            None,
        )]);
        let mut w = Vec::new();
        let d = detect(&fs, &mut w).unwrap();
        assert_eq!(d.version_id.as_deref(), Some("12"));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("etc/os-release: line 2"), "{w:?}");
        assert!(w[1].contains("unterminated double quote"), "{w:?}");
    }

    #[test]
    fn garbage_is_a_warning_not_a_panic() {
        let fs = image(&[
            (
                "etc/os-release",
                Some(b"\x00\xff\xfe garbage\n\x7fELF\n= = =\n1X=2\n\xc3"),
                None,
            ),
            ("etc/debian_version", Some(b"\x00\x01\x02"), None),
        ]);
        let mut w = Vec::new();
        assert_eq!(detect(&fs, &mut w), None);
        assert!(
            w.iter().any(|w| w.contains("etc/os-release: no ID")),
            "{w:?}"
        );
        assert!(
            w.iter().any(|w| w.starts_with("etc/debian_version")),
            "{w:?}"
        );
        assert!(
            w.iter().any(|w| w.contains("more malformed lines")),
            "{w:?}"
        );
    }

    proptest! {
        #[test]
        fn os_release_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_os_release(&bytes);
            let _ = parse_debian_version(&bytes);
            let _ = parse_alpine_release(&bytes);
        }

        #[test]
        fn os_release_parser_survives_mutations(
            pos in 0usize..BOOKWORM.len(),
            byte in any::<u8>(),
            cut in 0usize..BOOKWORM.len(),
        ) {
            let mut b = BOOKWORM.to_vec();
            b[pos] = byte;
            b.truncate(cut.max(pos));
            let (fields, _) = parse_os_release(&b);
            prop_assert!(fields.len() <= 9);
        }
    }
}
