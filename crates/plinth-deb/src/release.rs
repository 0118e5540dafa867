//! `InRelease` / `Release` files: parsing and validity dates here, OpenPGP verification
//! of the cleartext-signed `InRelease` (or `Release` + detached `Release.gpg`) in
//! [`verify`], re-exported as [`verify_inrelease`] and [`verify_detached`].

use std::collections::BTreeMap;
use std::time::SystemTime;

use plinth_dpkg::control::{self, ControlError};

mod verify;

pub use verify::{verify_detached, verify_inrelease};

/// Largest InRelease / Release accepted, in bytes.
pub const MAX_RELEASE: usize = 64 << 20;

/// A Release whose `Date` is later than `now` by more than this is refused (clock skew).
pub const MAX_FUTURE_SECS: i64 = 600;

/// Failure while reading or verifying a Release file.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The file (or its signature) is larger than [`MAX_RELEASE`]; holds its size in bytes.
    #[error("release file is {0} bytes, over the limit")]
    TooLarge(usize),
    /// The text is not valid deb822.
    #[error("cannot parse release fields")]
    Control(#[from] ControlError),
    /// The text holds no paragraph at all.
    #[error("release file has no paragraph")]
    Empty,
    /// A date does not parse, or a `SHA256` line is not `hash size path` with a safe path.
    #[error("release field {field} is invalid: {value:?}")]
    BadField {
        /// The field's name.
        field: &'static str,
        /// The value (or, for `SHA256`, the line) as written.
        value: String,
    },
    /// The cleartext-signed message or detached signature is not valid OpenPGP.
    #[error("cannot parse openpgp signature of release file")]
    Armor(#[source] pgp::errors::Error),
    /// No signature was made by a key of the keyring.
    #[error("no signature on release file verifies against the keyring ({keys} keys)")]
    BadSignature {
        /// Number of keys in the keyring tried.
        keys: usize,
    },
    /// `Valid-Until` is in the past.
    #[error("release file expired at {valid_until} (unix time), now is {now}")]
    Expired {
        /// `Valid-Until`, in unix seconds.
        valid_until: i64,
        /// The time checked against, in unix seconds.
        now: i64,
    },
    /// `Date` is more than [`MAX_FUTURE_SECS`] in the future.
    #[error("release file is dated {date} (unix time), in the future of {now}")]
    NotYetValid {
        /// `Date`, in unix seconds.
        date: i64,
        /// The time checked against, in unix seconds.
        now: i64,
    },
}

/// Size and SHA-256 of a file listed in a Release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// The fields of a Release file that Plinth uses. Dates are unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    /// `Origin` (`Debian`).
    pub origin: Option<String>,
    /// `Label`.
    pub label: Option<String>,
    /// `Suite`, the class name (`stable`, `oldstable-security`).
    pub suite: Option<String>,
    /// `Codename` (`bookworm`, `bookworm-security`).
    pub codename: Option<String>,
    /// `Version` of the release (`12.7`); absent for most suites other than the main one.
    pub version: Option<String>,
    /// `Date`, `None` when absent.
    pub date: Option<i64>,
    /// `Valid-Until`, `None` when the Release never expires.
    pub valid_until: Option<i64>,
    /// `Architectures`, as listed.
    pub architectures: Vec<String>,
    /// `Components` (`main`, `contrib`, …), as listed.
    pub components: Vec<String>,
    /// Whether `Acquire-By-Hash: yes` (indexes may be fetched under `by-hash/SHA256/`).
    pub acquire_by_hash: bool,
    /// Files by path relative to the release directory (`main/binary-amd64/Packages.xz`).
    pub sha256: BTreeMap<String, FileHash>,
}

/// A Release whose signature checked, with the fingerprint of the key that made it.
#[derive(Debug, Clone)]
pub struct VerifiedRelease {
    /// The parsed fields of the signed text.
    pub release: Release,
    /// Upper-case hex fingerprint of the primary key that signed.
    pub signer: String,
    /// The signed text, line endings as signed: for the fields [`Release`] does not
    /// keep, without parsing the armour a second time.
    pub signed_text: String,
}

impl Release {
    /// Parses the (unsigned) text of a Release file.
    pub fn parse(data: &[u8]) -> Result<Self, ReleaseError> {
        if data.len() > MAX_RELEASE {
            return Err(ReleaseError::TooLarge(data.len()));
        }
        let para = control::paragraphs(data, control::Options::default())?
            .next()
            .ok_or(ReleaseError::Empty)??;
        let text = |name: &str| para.get(name).map(str::to_string);
        let list = |name: &str| -> Vec<String> {
            para.get(name)
                .map(|v| v.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        let date = |field: &'static str| -> Result<Option<i64>, ReleaseError> {
            para.get(field)
                .map(|v| {
                    parse_date(v).ok_or_else(|| ReleaseError::BadField {
                        field,
                        value: v.to_string(),
                    })
                })
                .transpose()
        };
        let mut sha256 = BTreeMap::new();
        for line in para.get("SHA256").unwrap_or_default().lines() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = || ReleaseError::BadField {
                field: "SHA256",
                value: line.to_string(),
            };
            let mut words = line.split_whitespace();
            let (Some(hash), Some(size), Some(path), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(bad());
            };
            let hash_ok = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
            let path_ok = !path.starts_with('/') && !path.split('/').any(|c| c == "..");
            let size = size.parse::<u64>().map_err(|_| bad())?;
            if !hash_ok || !path_ok {
                return Err(bad());
            }
            let entry = FileHash {
                size,
                sha256: hash.to_ascii_lowercase(),
            };
            sha256.insert(path.to_string(), entry);
        }
        Ok(Self {
            origin: text("Origin"),
            label: text("Label"),
            suite: text("Suite"),
            codename: text("Codename"),
            version: text("Version"),
            date: date("Date")?,
            valid_until: date("Valid-Until")?,
            architectures: list("Architectures"),
            components: list("Components"),
            acquire_by_hash: para.get("Acquire-By-Hash") == Some("yes"),
            sha256,
        })
    }

    /// The size and hash listed for `path`.
    pub fn file(&self, path: &str) -> Option<&FileHash> {
        self.sha256.get(path)
    }

    /// Refuses a Release past its `Valid-Until`, or dated too far in the future.
    pub fn check_valid_at(&self, now: SystemTime) -> Result<(), ReleaseError> {
        let now = unix_secs(now);
        if let Some(valid_until) = self.valid_until
            && valid_until < now
        {
            return Err(ReleaseError::Expired { valid_until, now });
        }
        if let Some(date) = self.date
            && date > now + MAX_FUTURE_SECS
        {
            return Err(ReleaseError::NotYetValid { date, now });
        }
        Ok(())
    }
}

pub(crate) use plinth_core::date::unix_secs;

/// Parses an RFC 2822 date as Release files write it (`Sat, 21 Nov 2026 00:53:02 UTC`,
/// also `+hhmm` offsets) into unix seconds.
pub fn parse_date(s: &str) -> Option<i64> {
    plinth_core::date::parse_rfc2822(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, UNIX_EPOCH};

    pub(super) const RELEASE: &str = "Origin: Example\nLabel: Example\nSuite: stable\nVersion: 12.5\n\
        Codename: bookworm\nDate: Sat, 21 Nov 2026 00:53:02 UTC\n\
        Valid-Until: Sat, 28 Nov 2026 00:53:02 UTC\nAcquire-By-Hash: yes\n\
        Architectures: amd64 arm64\nComponents: main contrib\nDescription: test\nSHA256:\n \
        e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/binary-amd64/Packages\n \
        f61f27bd17de546264aa58f40f3aafaac7021e0ef69c17f6b1b4cd7664a037ec 20 main/binary-amd64/Packages.gz\n";
    pub(super) const DATE: i64 = 1_795_222_382;

    pub(super) fn at(secs: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    }

    #[test]
    fn parses_release_fields() {
        let r = Release::parse(RELEASE.as_bytes()).unwrap();
        assert_eq!(r.suite.as_deref(), Some("stable"));
        assert_eq!(r.codename.as_deref(), Some("bookworm"));
        assert_eq!(r.version.as_deref(), Some("12.5"));
        assert_eq!(r.date, Some(DATE));
        assert_eq!(r.valid_until, Some(DATE + 7 * 86400));
        assert_eq!(r.architectures, ["amd64", "arm64"]);
        assert_eq!(r.components, ["main", "contrib"]);
        assert!(r.acquire_by_hash);
        assert_eq!(r.sha256.len(), 2);
        let f = r.file("main/binary-amd64/Packages.gz").unwrap();
        assert_eq!(f.size, 20);
        assert!(f.sha256.starts_with("f61f27"));
    }

    #[test]
    fn rejects_bad_hash_lines() {
        for line in [
            "abc 1 x",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 x path",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 1 ../etc/passwd",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 1 /abs",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 1",
        ] {
            let text = format!("Suite: s\nSHA256:\n {line}\n");
            let err = Release::parse(text.as_bytes()).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("release field SHA256 is invalid"),
                "{err}"
            );
        }
        let err = Release::parse(b"Date: yesterday\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "release field Date is invalid: \"yesterday\""
        );
        assert!(matches!(Release::parse(b"\n\n"), Err(ReleaseError::Empty)));
    }

    #[test]
    fn parses_dates() {
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(parse_date("Sat, 21 Nov 2026 00:53:02 UTC"), Some(DATE));
        assert_eq!(parse_date("29 Feb 2024 12:00:00 GMT"), Some(1_709_208_000));
        assert_eq!(
            parse_date("29 Feb 2024 13:00:00 +0100"),
            Some(1_709_208_000)
        );
        assert_eq!(parse_date("29 Feb 2024 11:30 -0030"), Some(1_709_208_000));
        for bad in [
            "",
            "Sat, 21 Foo 2026 00:53:02 UTC",
            "21 Nov 2026 25:00:00 UTC",
            "21 Nov 2026 1:2:3 EST",
            "21 Nov 2026 01:02:03 +-123",
            "21 Nov 2026 01:02:03 +0099",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn validity_window() {
        let r = Release::parse(RELEASE.as_bytes()).unwrap();
        assert!(r.check_valid_at(at(DATE + 3600)).is_ok());
        let err = r.check_valid_at(at(DATE + 8 * 86400)).unwrap_err();
        assert!(matches!(err, ReleaseError::Expired { .. }), "{err}");
        assert!(err.to_string().starts_with("release file expired at"));
        let err = r.check_valid_at(at(DATE - 3600)).unwrap_err();
        assert!(matches!(err, ReleaseError::NotYetValid { .. }));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn never_panics_on_garbage(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = Release::parse(&bytes);
            let _ = parse_date(&String::from_utf8_lossy(&bytes));
        }
    }
}
