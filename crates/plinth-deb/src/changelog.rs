//! Debian changelogs (`usr/share/doc/<pkg>/changelog.Debian.gz`): the entries of a
//! source package, newest first, each with the CVE ids it names.
//!
//! The format (Debian Policy 4.4):
//!
//! ```text
//! openssl (3.0.13-1~deb12u1) bookworm; urgency=medium
//!
//!   * Import 3.0.13
//!    - CVE-2024-0727 (PKCS12 Decoding crashes) (Closes: #1061582).
//!
//!  -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sun, 03 Mar 2024 10:47:43 +0100
//! ```
//!
//! Parsing is lenient like `dpkg-parsechangelog`: lines it does not understand are
//! skipped, an entry whose version does not parse is dropped, and `Old Changelog:` ends
//! the parse. Input is bounded ([`MAX_CHANGELOG`] decompressed bytes) and never panics.

use std::io::Read;

use plinth_dpkg::version::Version;

/// Most decompressed bytes a changelog may have.
pub const MAX_CHANGELOG: u64 = 16 << 20;

/// Failure to read a changelog's bytes (parsing itself does not fail).
#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    /// The gzip stream is corrupt.
    #[error("cannot decompress the changelog")]
    Decompress(#[source] std::io::Error),
    /// The changelog, decompressed or as stored, is larger than the limit.
    #[error("the changelog is over the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes ([`MAX_CHANGELOG`]).
        limit: u64,
    },
}

/// One entry of a changelog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogEntry {
    /// The source package named in the header.
    pub source: String,
    /// The version of the header.
    pub version: Version,
    /// The distribution(s) of the header, as written (`bookworm-security`, `unstable`).
    pub distribution: String,
    /// The `urgency=` value, lower case (`medium`); empty when the header has none.
    pub urgency: String,
    /// The change lines between header and trailer, as written (blank lines around
    /// them removed).
    pub body: String,
    /// The CVE ids the body names, upper case, in order of first mention, each once.
    pub cve_ids: Vec<String>,
    /// `Name <email>` of the trailer.
    pub maintainer: Option<String>,
    /// The date of the trailer as written (RFC 2822).
    pub date: Option<String>,
}

/// Decompresses (gzip, by its magic) or takes as is the bytes of a changelog, at most
/// [`MAX_CHANGELOG`] of them.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, ChangelogError> {
    if !data.starts_with(&[0x1f, 0x8b]) {
        if data.len() as u64 > MAX_CHANGELOG {
            return Err(ChangelogError::TooLarge {
                limit: MAX_CHANGELOG,
            });
        }
        return Ok(data.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .take(MAX_CHANGELOG + 1)
        .read_to_end(&mut out)
        .map_err(ChangelogError::Decompress)?;
    if out.len() as u64 > MAX_CHANGELOG {
        return Err(ChangelogError::TooLarge {
            limit: MAX_CHANGELOG,
        });
    }
    Ok(out)
}

/// Reads a changelog file's bytes (gzip or plain) into its entries.
pub fn read(data: &[u8]) -> Result<Vec<ChangelogEntry>, ChangelogError> {
    let plain = decompress(data)?;
    Ok(parse(&String::from_utf8_lossy(&plain)))
}

/// The entries of a changelog's text, in the order written (newest first).
pub fn parse(text: &str) -> Vec<ChangelogEntry> {
    let mut out = Vec::new();
    // The entry being read, its body lines, and whether its trailer was seen.
    let mut current: Option<(ChangelogEntry, Vec<&str>, bool)> = None;
    let finish = |cur: Option<(ChangelogEntry, Vec<&str>, bool)>, out: &mut Vec<ChangelogEntry>| {
        if let Some((mut entry, lines, _)) = cur {
            let start = lines.iter().position(|l| !l.trim().is_empty());
            let end = lines.iter().rposition(|l| !l.trim().is_empty());
            entry.body = match (start, end) {
                (Some(s), Some(e)) => lines[s..=e].join("\n"),
                _ => String::new(),
            };
            entry.cve_ids = cve_ids(&entry.body);
            out.push(entry);
        }
    };
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(trailer) = line.strip_prefix(" -- ") {
            if let Some((entry, _, closed)) = current.as_mut()
                && !*closed
            {
                *closed = true;
                let (who, date) = match trailer.split_once("  ") {
                    Some((who, date)) => (who.trim(), Some(date.trim())),
                    None => (trailer.trim(), None),
                };
                entry.maintainer = Some(who.to_string()).filter(|w| !w.is_empty());
                entry.date = date.filter(|d| !d.is_empty()).map(str::to_string);
            }
            continue;
        }
        if line.starts_with([' ', '\t']) || line.is_empty() {
            if let Some((_, lines, false)) = current.as_mut() {
                lines.push(line);
            }
            continue;
        }
        if line.starts_with("Old Changelog:") {
            break;
        }
        // A top-level line: a header, or a comment / modeline that dpkg ignores.
        if let Some(entry) = parse_header(line) {
            finish(current.take(), &mut out);
            current = Some((entry, Vec::new(), false));
        }
    }
    finish(current, &mut out);
    out
}

/// `source (version) dist [dist...]; urgency=x[, key=value...]`.
fn parse_header(line: &str) -> Option<ChangelogEntry> {
    let (source, rest) = line.split_once(" (")?;
    let source = source.trim();
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    };
    if !valid_name(source) {
        return None;
    }
    let (version, rest) = rest.split_once(')')?;
    let version = Version::parse(version).ok()?;
    let (dists, fields) = rest.split_once(';').unwrap_or((rest, ""));
    let distribution = dists.split_whitespace().collect::<Vec<_>>().join(" ");
    if distribution.is_empty() {
        return None;
    }
    let urgency = fields
        .split(',')
        .filter_map(|f| f.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("urgency"))
        .map(|(_, v)| {
            v.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    Some(ChangelogEntry {
        source: source.to_string(),
        version,
        distribution,
        urgency,
        body: String::new(),
        cve_ids: Vec::new(),
        maintainer: None,
        date: None,
    })
}

/// The CVE ids (`CVE-YYYY-NNNN…`, any case) in `text`, upper case, in order of first
/// mention, each once. Written without regular expressions: find `CVE-`, then exactly
/// four digits, `-`, and four or more digits not followed by another digit.
pub fn cve_ids(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out: Vec<String> = Vec::new();
    // A set beside the list: a changelog may name many ids, and a scan of the list per
    // mention made reading one quadratic.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut i = 0;
    while i + 4 <= bytes.len() {
        let here = &bytes[i..];
        if !here[..4].eq_ignore_ascii_case(b"CVE-")
            || (i > 0 && bytes[i - 1].is_ascii_alphanumeric())
        {
            i += 1;
            continue;
        }
        let digits = |from: usize| {
            here.get(from..)
                .map_or(0, |s| s.iter().take_while(|b| b.is_ascii_digit()).count())
        };
        let year = digits(4);
        let number = if year == 4 && here.get(8) == Some(&b'-') {
            digits(9)
        } else {
            0
        };
        // Guard against absurd digit runs; real ids have at most seven digits today.
        if (4..=19).contains(&number) {
            let id = format!(
                "CVE-{}-{}",
                String::from_utf8_lossy(&here[4..8]),
                String::from_utf8_lossy(&here[9..9 + number])
            );
            if seen.insert(id.clone()) {
                out.push(id);
            }
            i += 9 + number;
        } else {
            i += 4;
        }
    }
    out
}

/// What updating from an installed version brings, read from the newest changelog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChanges<'a> {
    /// The entries above the installed version, newest first.
    pub entries: Vec<&'a ChangelogEntry>,
    /// The CVE ids those entries name, each once, in order of first mention, less the ids
    /// an entry at or below the installed version already names (a later entry that
    /// says `local-CVE-2023-4911.patch: upstreamed` does not fix CVE-2023-4911 again).
    pub cve_ids: Vec<String>,
}

/// What updating from `installed` brings. A changelog is a history, not a set: walk it
/// from the top and stop at the first entry that is the installed version or older.
/// Version order alone would be wrong: a `~deb12u1` rebuild of an unstable upload lists
/// that upload (`0.13.0-1.1`) below itself although it sorts above it, and its CVEs
/// are part of the update.
pub fn pending_since<'a>(entries: &'a [ChangelogEntry], installed: &Version) -> PendingChanges<'a> {
    let split = entries
        .iter()
        .position(|e| &e.version <= installed)
        .unwrap_or(entries.len());
    let (newer, older) = entries.split_at(split);
    let known: std::collections::HashSet<&str> = older
        .iter()
        .flat_map(|e| e.cve_ids.iter().map(String::as_str))
        .collect();
    let mut cve_ids: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for id in newer.iter().flat_map(|e| &e.cve_ids) {
        if !known.contains(id.as_str()) && seen.insert(id.as_str()) {
            cve_ids.push(id.clone());
        }
    }
    PendingChanges {
        entries: newer.iter().collect(),
        cve_ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    /// An excerpt of bookworm's openssl `changelog.Debian.gz` (as shipped in libssl3).
    const OPENSSL: &str = "\
openssl (3.0.18-1~deb12u2) bookworm-security; urgency=medium

  * CVE-2025-15467 (Stack buffer overflow in CMS AuthEnvelopedData parsing)
  * CVE-2025-68160 (Heap out-of-bounds write in BIO_f_linebuffer on short
    writes)
  * CVE-2026-22796 (ASN1_TYPE Type Confusion in the
    PKCS7_digest_from_attributes() function)

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sat, 24 Jan 2026 16:01:59 +0100

openssl (3.0.18-1~deb12u1) bookworm; urgency=medium

  * Import 3.0.18

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sat, 01 Nov 2025 12:54:37 +0100

openssl (3.0.16-1~deb12u1) bookworm; urgency=medium

  * Import 3.0.16
    - CVE-2024-13176 (Timing side-channel in ECDSA signature computation)
      (Closes: #1094027).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Tue, 15 Apr 2025 21:59:18 +0200

openssl (3.0.13-1~deb12u1) bookworm; urgency=medium

  * Import 3.0.13
   - CVE-2023-5678 (Fix excessive time spent in DH check / generation with
     large Q parameter value) (Closes: #1055473).
   - CVE-2023-6129 (POLY1305 MAC implementation corrupts vector registers on
     PowerPC) (Closes: #1060347).
   - CVE-2023-6237 (Excessive time spent checking invalid RSA public keys)
     (Closes: #1060858)
   - CVE-2024-0727 (PKCS12 Decoding crashes) (Closes: #1061582).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sun, 03 Mar 2024 10:47:43 +0100

openssl (3.0.11-1~deb12u2) bookworm-security; urgency=medium

  * CVE-2023-5363 (Incorrect cipher key and IV length processing).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Mon, 23 Oct 2023 19:52:22 +0200

openssl (3.0.9-1) unstable; urgency=medium

  * Import 3.0.9
   - CVE-2023-0464 (Excessive Resource Usage Verifying X.509 Policy
     Constraints) (Closes: #1034720).
   - Alternative fix for CVE-2022-4304 (Timing Oracle in RSA Decryption).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Tue, 30 May 2023 18:12:36 +0200

openssl (3.0.7-2) unstable; urgency=medium

  [ Sebastian Andrzej Siewior ]
  * CVE-2022-3996 (X.509 Policy Constraints Double Locking) (Closes: #1027102).

  [ Helmut Grohne ]
  * Support the noudeb build profile (Closes: #1024929).

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Thu, 19 Jan 2023 21:31:42 +0100

# Older entries have been removed from this changelog.
# To read the complete changelog use `apt changelog libssl3`.
";

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn parses_a_real_changelog() {
        let entries = parse(OPENSSL);
        let versions: Vec<&str> = entries.iter().map(|e| e.version.as_str()).collect();
        assert_eq!(
            versions,
            [
                "3.0.18-1~deb12u2",
                "3.0.18-1~deb12u1",
                "3.0.16-1~deb12u1",
                "3.0.13-1~deb12u1",
                "3.0.11-1~deb12u2",
                "3.0.9-1",
                "3.0.7-2"
            ]
        );
        let first = &entries[0];
        assert_eq!(first.source, "openssl");
        assert_eq!(first.distribution, "bookworm-security");
        assert_eq!(first.urgency, "medium");
        assert_eq!(
            first.cve_ids,
            ["CVE-2025-15467", "CVE-2025-68160", "CVE-2026-22796"]
        );
        assert_eq!(
            first.maintainer.as_deref(),
            Some("Sebastian Andrzej Siewior <sebastian@breakpoint.cc>")
        );
        assert_eq!(
            first.date.as_deref(),
            Some("Sat, 24 Jan 2026 16:01:59 +0100")
        );
        assert!(first.body.starts_with("  * CVE-2025-15467"));
        assert!(first.body.ends_with("function)"));
        assert!(entries[1].cve_ids.is_empty());
        assert_eq!(
            entries[3].cve_ids,
            [
                "CVE-2023-5678",
                "CVE-2023-6129",
                "CVE-2023-6237",
                "CVE-2024-0727"
            ]
        );
        assert_eq!(entries[6].cve_ids, ["CVE-2022-3996"]);
        assert!(entries[6].body.contains("[ Helmut Grohne ]"));
        // The gzip form reads the same.
        assert_eq!(read(&gzip(OPENSSL.as_bytes())).unwrap(), entries);
        assert_eq!(read(OPENSSL.as_bytes()).unwrap(), entries);
    }

    #[test]
    fn pending_since_stops_at_the_installed_version() {
        let entries = parse(OPENSSL);
        let pending = pending_since(&entries, &v("3.0.11-1~deb12u2"));
        let versions: Vec<&str> = pending.entries.iter().map(|e| e.version.as_str()).collect();
        assert_eq!(
            versions,
            [
                "3.0.18-1~deb12u2",
                "3.0.18-1~deb12u1",
                "3.0.16-1~deb12u1",
                "3.0.13-1~deb12u1"
            ]
        );
        assert!(pending.cve_ids.iter().any(|c| c == "CVE-2024-0727"));
        assert!(!pending.cve_ids.iter().any(|c| c == "CVE-2023-5363"));
        // An installed version absent from the changelog stops the walk at the first
        // older entry.
        assert_eq!(
            pending_since(&entries, &v("3.0.17-1~deb12u3"))
                .entries
                .len(),
            2
        );
        let none = pending_since(&entries, &v("3.0.18-1~deb12u2"));
        assert!(none.entries.is_empty() && none.cve_ids.is_empty());
        // Older than every entry: the whole history is pending.
        assert_eq!(
            pending_since(&entries, &v("0.1")).entries.len(),
            entries.len()
        );
    }

    /// python-xmltodict in bookworm: the `~deb12u1` rebuild lists the unstable upload it
    /// carries below itself, though `0.13.0-1.1` sorts after `0.13.0-1.1~deb12u1`.
    #[test]
    fn fixes_carried_in_from_unstable_are_kept() {
        let text = "\
python-xmltodict (0.13.0-1.1~deb12u1) bookworm; urgency=medium

  * Rebuild for bookworm.

 -- Debian Maintainer <m@example.org>  Mon, 13 Oct 2025 10:00:00 +0200

python-xmltodict (0.13.0-1.1) unstable; urgency=medium

  * Non-maintainer upload.
  * Validate XML element and attribute names (CVE-2025-9375) (Closes: #1114829)

 -- Debian Maintainer <m@example.org>  Fri, 10 Oct 2025 10:00:00 +0200

python-xmltodict (0.13.0-1) unstable; urgency=medium

  * New upstream version.

 -- Debian Maintainer <m@example.org>  Sat, 01 Oct 2022 10:00:00 +0200
";
        let entries = parse(text);
        assert_eq!(entries.len(), 3);
        let pending = pending_since(&entries, &v("0.13.0-1"));
        assert_eq!(pending.entries.len(), 2);
        assert_eq!(pending.cve_ids, ["CVE-2025-9375"]);
    }

    /// glibc's `2.36-9+deb12u5` entry says `local-CVE-2023-4911.patch: upstreamed`; the
    /// fix itself came in `deb12u3`. An image at `deb12u4` has it already.
    #[test]
    fn cves_a_changelog_only_mentions_again_are_not_pending() {
        let text = "\
glibc (2.36-9+deb12u5) bookworm; urgency=medium

  * debian/patches/git-updates.diff: update from upstream stable branch:
    - Drop debian/patches/any/local-CVE-2023-4911.patch (upstreamed).
    - Fix CVE-2024-2961 in iconv.

 -- Aurelien Jarno <aurel32@debian.org>  Sat, 27 Apr 2024 10:00:00 +0200

glibc (2.36-9+deb12u4) bookworm; urgency=medium

  * Fix CVE-2023-6246, CVE-2023-6779 and CVE-2023-6780 in syslog.

 -- Aurelien Jarno <aurel32@debian.org>  Tue, 30 Jan 2024 10:00:00 +0200

glibc (2.36-9+deb12u3) bookworm-security; urgency=medium

  * debian/patches/any/local-CVE-2023-4911.patch: fix a buffer overflow in the
    GLIBC_TUNABLES handling of ld.so (CVE-2023-4911).

 -- Aurelien Jarno <aurel32@debian.org>  Sun, 01 Oct 2023 10:00:00 +0200
";
        let entries = parse(text);
        let pending = pending_since(&entries, &v("2.36-9+deb12u4"));
        assert_eq!(pending.entries.len(), 1);
        assert_eq!(pending.cve_ids, ["CVE-2024-2961"]);
        // From deb12u2, CVE-2023-4911 is pending (named first in deb12u5's entry).
        let pending = pending_since(&entries, &v("2.36-9+deb12u2"));
        assert!(pending.cve_ids.iter().any(|c| c == "CVE-2023-4911"));
    }

    #[test]
    fn a_changelog_naming_100000_cves_is_read_in_one_pass() {
        // Each id was looked up in the list of ids so far: 100,000 ids took minutes.
        let mut text = String::from("hello (2.0-1) unstable; urgency=medium\n\n");
        for i in 0..100_000 {
            text.push_str(&format!("  * Fix CVE-2020-{}.\n", 1_000_000 + i));
        }
        text.push_str("\n -- A <a@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let entries = parse(&text);
            let pending = pending_since(&entries, &v("1.0-1")).cve_ids.len();
            let _ = tx.send((entries[0].cve_ids.len(), pending));
        });
        let counts = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("reading the changelog hung");
        assert_eq!(counts, (100_000, 100_000));
    }

    #[test]
    fn cve_ids_are_strict() {
        assert_eq!(
            cve_ids("fix cve-2024-12345, CVE-2024-12345 and CVE-2023-0001."),
            ["CVE-2024-12345", "CVE-2023-0001"]
        );
        assert!(cve_ids("CVE-24-1234 CVE-2024-123 XCVE-2024-1234 CVE-20245-1234 CVE-").is_empty());
        assert_eq!(cve_ids("(CVE-2024-1234567)"), ["CVE-2024-1234567"]);
        assert_eq!(
            cve_ids("CVE-2024-1234\u{e9}CVE-2024-5678"),
            ["CVE-2024-1234", "CVE-2024-5678"]
        );
        assert!(cve_ids("CVE-2024-11111111111111111111111").is_empty());
        assert!(cve_ids("\u{e9}CVE").is_empty());
    }

    #[test]
    fn lenient_headers_and_trailers() {
        let text = "\
emacs-like comment line
pkg (1:2.0-1) unstable experimental; urgency=HIGH (security), binary-only=yes

  * one CVE-2020-1111

 -- A <a@b>
bad (not a version) unstable; urgency=low

  * CVE-2021-2222

 -- B <b@c>  Mon, 01 Jan 2024 00:00:00 +0000
noUrgency (1.0) stable

\t* tab indented CVE-2022-3333
Old Changelog:
old (0.1) unstable; urgency=low
";
        let entries = parse(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].version.as_str(), "1:2.0-1");
        assert_eq!(entries[0].distribution, "unstable experimental");
        assert_eq!(entries[0].urgency, "high");
        assert_eq!(entries[0].maintainer.as_deref(), Some("A <a@b>"));
        assert_eq!(entries[0].date, None);
        // The entry with a bad version is dropped, and its body with it.
        assert_eq!(entries[0].cve_ids, ["CVE-2020-1111"]);
        assert_eq!(entries[1].source, "noUrgency");
        assert_eq!(entries[1].urgency, "");
        assert_eq!(entries[1].cve_ids, ["CVE-2022-3333"]);
    }

    #[test]
    fn bounded_decompression() {
        let big = vec![b' '; MAX_CHANGELOG as usize + 1];
        assert!(matches!(
            decompress(&gzip(&big)),
            Err(ChangelogError::TooLarge { .. })
        ));
        assert!(matches!(
            decompress(&big),
            Err(ChangelogError::TooLarge { .. })
        ));
        assert!(matches!(
            read(b"\x1f\x8b\x08garbage"),
            Err(ChangelogError::Decompress(_))
        ));
        assert!(read(b"").unwrap().is_empty());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = read(&data);
            let mut gz = vec![0x1f, 0x8b];
            gz.extend_from_slice(&data);
            let _ = read(&gz);
        }

        #[test]
        fn changelog_like_text_never_panics(
            lines in proptest::collection::vec(
                "(pkg \\([0-9:.~+a-z-]{0,8}\\) [a-z ]{0,8};? ?(urgency=[a-z]*)?| -- [a-z <>@]{0,10}( {2}[A-Za-z0-9 ,:+]{0,12})?|  \\* (CVE-[0-9-]{0,12} ?)*|[^\n]{0,20}|)",
                0..20,
            )
        ) {
            let text = lines.join("\n");
            let entries = parse(&text);
            for e in &entries {
                for id in &e.cve_ids {
                    prop_assert!(id.starts_with("CVE-") && id.len() >= 13);
                }
            }
        }

        #[test]
        fn pending_stops_at_the_first_entry_not_newer(
            versions in proptest::collection::vec("[0-9]{1,2}\\.[0-9]{1,2}(-[0-9]{1,2}(~deb12u[0-9])?)?", 1..6),
            installed in "[0-9]{1,2}\\.[0-9]{1,2}(-[0-9]{1,2}(~deb12u[0-9])?)?",
        ) {
            let text: String = versions
                .iter()
                .map(|a| format!("p ({a}) unstable; urgency=low\n\n  * x\n\n -- M <m@x>  date\n\n"))
                .collect();
            let entries = parse(&text);
            prop_assert_eq!(entries.len(), versions.len());
            let inst = v(&installed);
            let expected = entries.iter().take_while(|e| e.version > inst).count();
            prop_assert_eq!(pending_since(&entries, &inst).entries.len(), expected);
        }
    }
}
