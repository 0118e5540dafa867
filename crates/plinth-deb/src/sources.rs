//! Discovery of the Debian mirrors configured in the machine's apt sources:
//! `etc/apt/sources.list` (one-line format) and `etc/apt/sources.list.d/*.list` and
//! `*.sources` (deb822 format), all relative to a root directory.

use std::path::{Path, PathBuf};

use plinth_dpkg::control::{self, ControlError};

/// Failure while reading apt sources.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    /// Listing or reading a sources file failed (the error names the path).
    #[error("cannot read apt sources")]
    Io(#[from] std::io::Error),
    /// A `.sources` file is not valid deb822.
    #[error("cannot parse {path}")]
    Control {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: ControlError,
    },
    /// A line or stanza parses but is not a usable source (missing URI or suite, bad
    /// options).
    #[error("{path}:{line}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line (of the stanza's start, for `.sources`).
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The keys a source's Release must be signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedBy {
    /// Keyring files and/or key fingerprints.
    Keys {
        /// Keyring files, as written (absolute paths on the machine).
        keyrings: Vec<PathBuf>,
        /// Hex fingerprints, as written (a trailing `!` kept).
        fingerprints: Vec<String>,
    },
    /// An ASCII-armoured public key block written into the `.sources` file.
    Inline(String),
}

/// One repository: a URI with its suites and components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// `deb` and/or `deb-src`.
    pub types: Vec<String>,
    /// Repository base URI, without a trailing slash.
    pub uri: String,
    /// Suites (`bookworm`, `bookworm-updates`); one ending in `/` is a flat repository path.
    pub suites: Vec<String>,
    /// Components (`main`, `contrib`, …), as listed.
    pub components: Vec<String>,
    /// Architectures restricted by the entry (`arch=` / `Architectures:`), empty if none.
    pub architectures: Vec<String>,
    /// The `signed-by=` / `Signed-By:` option, `None` when absent (the default keyring applies).
    pub signed_by: Option<SignedBy>,
    /// The file the entry came from.
    pub origin: PathBuf,
}

impl SourceEntry {
    /// Whether the entry offers binary packages (`deb`).
    pub fn is_binary(&self) -> bool {
        self.types.iter().any(|t| t == "deb")
    }

    /// URL of a file under the suite's release directory, e.g. `InRelease` or
    /// `main/binary-amd64/Packages.xz`. A suite ending in `/` is a flat repository path.
    pub fn dist_url(&self, suite: &str, file: &str) -> String {
        if suite.ends_with('/') {
            format!("{}/{}{}", self.uri, suite.trim_start_matches('/'), file)
        } else {
            format!("{}/dists/{}/{}", self.uri, suite, file)
        }
    }

    /// The name apt gives the downloaded copy of `dist_url(suite, file)` under
    /// `/var/lib/apt/lists` (apt's `URItoFileName`).
    pub fn apt_list_name(&self, suite: &str, file: &str) -> String {
        apt_list_name(&self.dist_url(suite, file))
    }
}

/// apt's `URItoFileName`: drop scheme and credentials, quote, turn `/` into `_`.
pub fn apt_list_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = match rest.split_once('/') {
        Some((host, path)) => {
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            format!("{host}/{path}")
        }
        None => rest.rsplit_once('@').map_or(rest, |(_, h)| h).to_string(),
    };
    let mut out = String::with_capacity(rest.len());
    for b in rest.bytes() {
        if b <= 0x20 || b >= 0x7f || b"\\|{}[]<>\"^~_=!@#$%^&*".contains(&b) {
            out.push_str(&format!("%{b:02x}"));
        } else if b == b'/' {
            out.push('_');
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// Reads every enabled entry under `root` (`/` for the real machine), in apt's order:
/// `sources.list` first, then `sources.list.d` files sorted by name. Files with other
/// extensions are ignored, as apt does.
pub fn discover(root: &Path) -> Result<Vec<SourceEntry>, SourcesError> {
    let etc = root.join("etc/apt");
    let mut entries = Vec::new();
    let main = etc.join("sources.list");
    if main.is_file() {
        entries.extend(parse_one_line(&fs_err::read_to_string(&main)?, &main)?);
    }
    let dir = etc.join("sources.list.d");
    if dir.is_dir() {
        let mut files: Vec<PathBuf> = fs_err::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for path in files {
            match path.extension().and_then(|e| e.to_str()) {
                Some("list") => {
                    entries.extend(parse_one_line(&fs_err::read_to_string(&path)?, &path)?)
                }
                Some("sources") => {
                    entries.extend(parse_deb822(&fs_err::read_to_string(&path)?, &path)?)
                }
                _ => {}
            }
        }
    }
    Ok(entries)
}

fn signed_by_from_list<'a>(items: impl Iterator<Item = &'a str>) -> Option<SignedBy> {
    let (mut keyrings, mut fingerprints) = (Vec::new(), Vec::new());
    for item in items.filter(|s| !s.is_empty()) {
        let hex = item.trim_end_matches('!');
        if !item.contains('/') && hex.len() >= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            fingerprints.push(item.to_string());
        } else {
            keyrings.push(PathBuf::from(item));
        }
    }
    (!keyrings.is_empty() || !fingerprints.is_empty()).then_some(SignedBy::Keys {
        keyrings,
        fingerprints,
    })
}

/// Parses the one-line format: `deb [ opt=val ... ] uri suite [component ...]`.
pub fn parse_one_line(text: &str, origin: &Path) -> Result<Vec<SourceEntry>, SourcesError> {
    let mut entries = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let invalid = |reason: &str| SourcesError::Invalid {
            path: origin.to_path_buf(),
            line: idx + 1,
            reason: reason.to_string(),
        };
        let line = raw.split_once('#').map_or(raw, |(l, _)| l).trim();
        if line.is_empty() {
            continue;
        }
        let (kind, mut rest) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid("entry has no uri"))?;
        if kind != "deb" && kind != "deb-src" {
            return Err(invalid("entry type is not deb or deb-src"));
        }
        let mut options = Vec::new();
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('[') {
            let (opts, tail) = after
                .split_once(']')
                .ok_or_else(|| invalid("unterminated option list"))?;
            options = opts.split_whitespace().collect();
            rest = tail;
        }
        let mut words = rest.split_whitespace();
        let uri = words.next().ok_or_else(|| invalid("entry has no uri"))?;
        let suite = words.next().ok_or_else(|| invalid("entry has no suite"))?;
        let mut entry = SourceEntry {
            types: vec![kind.to_string()],
            uri: uri.trim_end_matches('/').to_string(),
            suites: vec![suite.to_string()],
            components: words.map(str::to_string).collect(),
            architectures: Vec::new(),
            signed_by: None,
            origin: origin.to_path_buf(),
        };
        for opt in options {
            let (key, value) = opt
                .split_once('=')
                .ok_or_else(|| invalid("option without a value"))?;
            match key {
                "arch" => entry.architectures = value.split(',').map(str::to_string).collect(),
                "signed-by" => entry.signed_by = signed_by_from_list(value.split(',')),
                _ => {}
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Parses the deb822 format of `*.sources` files.
pub fn parse_deb822(text: &str, origin: &Path) -> Result<Vec<SourceEntry>, SourcesError> {
    let paras =
        control::parse(text.as_bytes(), control::Options::with_comments()).map_err(|source| {
            SourcesError::Control {
                path: origin.to_path_buf(),
                source,
            }
        })?;
    let mut entries = Vec::new();
    for para in paras {
        let invalid = |reason: &str| SourcesError::Invalid {
            path: origin.to_path_buf(),
            line: para.line,
            reason: reason.to_string(),
        };
        if para
            .get("Enabled")
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "no" | "false" | "0"))
        {
            continue;
        }
        let list = |name: &str| -> Vec<String> {
            para.get(name)
                .map(|v| v.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        let types = list("Types");
        let uris = list("URIs");
        let suites = list("Suites");
        if types.is_empty() || uris.is_empty() || suites.is_empty() {
            return Err(invalid("stanza needs Types, URIs and Suites"));
        }
        let signed_by = match para.get("Signed-By") {
            Some(v) if v.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") => {
                Some(SignedBy::Inline(unfold_inline_key(v)))
            }
            Some(v) => signed_by_from_list(v.split_whitespace()),
            None => None,
        };
        for uri in uris {
            entries.push(SourceEntry {
                types: types.clone(),
                uri: uri.trim_end_matches('/').to_string(),
                suites: suites.clone(),
                components: list("Components"),
                architectures: list("Architectures"),
                signed_by: signed_by.clone(),
                origin: origin.to_path_buf(),
            });
        }
    }
    Ok(entries)
}

/// An inline key's empty lines are written as ` .`; turn them back into blank lines.
fn unfold_inline_key(value: &str) -> String {
    let mut out = String::new();
    for line in value.trim_start_matches('\n').lines() {
        out.push_str(if line.trim() == "." { "" } else { line.trim() });
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "/usr/share/keyrings/example-archive-keyring.gpg";

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }

    #[test]
    fn one_line_format_with_options_and_comments() {
        let text = "# comment\n\n\
            deb [arch=amd64,arm64 signed-by=/k/a.gpg] http://mirror.example/debian/ stable main contrib # tail\n\
            deb-src http://mirror.example/debian stable main\n\
            deb http://flat.example/repo ./\n";
        let e = parse_one_line(text, Path::new("x.list")).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].uri, "http://mirror.example/debian");
        assert_eq!(e[0].suites, ["stable"]);
        assert_eq!(e[0].components, ["main", "contrib"]);
        assert_eq!(e[0].architectures, ["amd64", "arm64"]);
        assert_eq!(
            e[0].signed_by,
            Some(SignedBy::Keys {
                keyrings: vec![PathBuf::from("/k/a.gpg")],
                fingerprints: vec![]
            })
        );
        assert!(!e[1].is_binary());
        assert_eq!(
            e[2].dist_url("./", "InRelease"),
            "http://flat.example/repo/./InRelease"
        );
    }

    #[test]
    fn one_line_format_errors_name_the_line() {
        let err = parse_one_line("deb\n", Path::new("a.list")).unwrap_err();
        assert_eq!(err.to_string(), "a.list:1: entry has no uri");
        let err = parse_one_line("\nrpm http://x.example/ a\n", Path::new("a.list")).unwrap_err();
        assert!(err.to_string().starts_with("a.list:2:"));
        assert!(parse_one_line("deb [arch=amd64 http://x.example s\n", Path::new("a")).is_err());
    }

    #[test]
    fn deb822_format() {
        let text = format!(
            "# header comment\n\
             Types: deb deb-src\n\
             # http://old.example/ comment inside\n\
             URIs: http://mirror.example/debian http://mirror2.example/debian/\n\
             Suites: stable stable-updates\n\
             Components: main\n\
             Signed-By: {KEY}\n\
             \n\
             Types: deb\n\
             URIs: http://security.example/debian-security\n\
             Suites: stable-security\n\
             Components: main\n\
             Enabled: no\n\
             \n\
             Types: deb\n\
             URIs: http://other.example/repo\n\
             Suites: trixie\n\
             Components: main\n\
             Architectures: amd64\n\
             Signed-By: 0123456789ABCDEF0123456789ABCDEF01234567\n"
        );
        let e = parse_deb822(&text, Path::new("x.sources")).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].types, ["deb", "deb-src"]);
        assert_eq!(e[1].uri, "http://mirror2.example/debian");
        assert_eq!(e[0].suites, ["stable", "stable-updates"]);
        assert_eq!(
            e[0].dist_url("stable", "InRelease"),
            "http://mirror.example/debian/dists/stable/InRelease"
        );
        assert!(
            matches!(&e[0].signed_by, Some(SignedBy::Keys { keyrings, .. }) if keyrings == &[PathBuf::from(KEY)])
        );
        assert_eq!(e[2].uri, "http://other.example/repo");
        assert!(
            matches!(&e[2].signed_by, Some(SignedBy::Keys { fingerprints, .. }) if fingerprints.len() == 1)
        );
    }

    #[test]
    fn deb822_inline_key() {
        let text = "Types: deb\nURIs: http://mirror.example/debian\nSuites: s\nComponents: main\n\
            Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBGQ\n =abcd\n \
            -----END PGP PUBLIC KEY BLOCK-----\n";
        let e = parse_deb822(text, Path::new("x.sources")).unwrap();
        let Some(SignedBy::Inline(key)) = &e[0].signed_by else {
            panic!("inline key expected: {:?}", e[0].signed_by)
        };
        assert_eq!(
            key,
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGQ\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n"
        );
    }

    #[test]
    fn deb822_missing_fields_is_an_error() {
        let err = parse_deb822("Types: deb\nSuites: s\n", Path::new("b.sources")).unwrap_err();
        assert!(
            err.to_string().contains("needs Types, URIs and Suites"),
            "{err}"
        );
        let err = parse_deb822("Types deb\n", Path::new("b.sources")).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot parse b.sources"),
            "{err}"
        );
    }

    #[test]
    fn discover_reads_all_files_in_apt_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "etc/apt/sources.list",
            "deb http://a.example/debian stable main\n",
        );
        write(
            root,
            "etc/apt/sources.list.d/b.sources",
            "Types: deb\nURIs: http://b.example/debian\nSuites: stable\nComponents: main\n",
        );
        write(
            root,
            "etc/apt/sources.list.d/a.list",
            "deb http://c.example/debian stable main\n",
        );
        write(
            root,
            "etc/apt/sources.list.d/z.list.disabled",
            "deb http://d.example/x s m\n",
        );
        write(root, "etc/apt/sources.list.d/old.sources.bak", "garbage");
        let uris: Vec<String> = discover(root).unwrap().into_iter().map(|e| e.uri).collect();
        assert_eq!(
            uris,
            [
                "http://a.example/debian",
                "http://c.example/debian",
                "http://b.example/debian"
            ]
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(discover(empty.path()).unwrap().is_empty());
    }

    #[test]
    fn apt_list_names_match_apt() {
        let e = &parse_one_line(
            "deb http://user:pw@mirror.example/debian stable main",
            Path::new("x"),
        )
        .unwrap()[0];
        assert_eq!(
            e.apt_list_name("stable", "main/binary-amd64/Packages"),
            "mirror.example_debian_dists_stable_main_binary-amd64_Packages"
        );
        assert_eq!(
            apt_list_name("https://m.example/a~b_c/"),
            "m.example_a%7eb%5fc_"
        );
    }

    #[test]
    fn reads_this_machines_sources_without_error() {
        // Whatever the machine has configured must parse; the result is not asserted
        // because it differs between machines.
        let entries = discover(Path::new("/")).unwrap();
        for e in entries {
            assert!(!e.uri.is_empty() && !e.suites.is_empty());
        }
    }
}
