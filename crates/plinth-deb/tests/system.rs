//! Tests against this machine's real apt configuration, apt lists, keyring and mirror.
//! Each skips with a notice when its input is missing, and fails instead under `CI=true`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use plinth_deb::keyring::{DEFAULT_KEYRING, Keyring};
use plinth_deb::release::{ReleaseError, verify_inrelease};
use plinth_deb::sources;

const LISTS: &str = "/var/lib/apt/lists";

fn skip(what: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and {what}"
    );
    eprintln!("notice: skipping: {what}");
}

fn lists_ending_with(suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(LISTS)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(suffix)))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

#[test]
fn real_apt_lists_inrelease_verify_offline() {
    let files = lists_ending_with("_InRelease");
    if files.is_empty() || !Path::new(DEFAULT_KEYRING).exists() {
        return skip("no InRelease under /var/lib/apt/lists or no debian-archive-keyring");
    }
    let keyring = Keyring::load(Path::new(DEFAULT_KEYRING)).unwrap();
    for path in files {
        let data = std::fs::read(&path).unwrap();
        // Judge validity at the file's own Date so the test is deterministic offline.
        let unsigned = plinth_deb::release::Release::parse(&data).ok();
        let date = {
            let text = String::from_utf8_lossy(&data);
            text.lines()
                .find_map(|l| l.strip_prefix("Date: "))
                .and_then(plinth_deb::release::parse_date)
                .expect("InRelease has a Date")
        };
        drop(unsigned);
        let v = verify_inrelease(&data, &keyring, at(date))
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert!(!v.release.sha256.is_empty(), "{}", path.display());
        assert_eq!(v.signer.len(), 40);
        // One changed byte in the signed text breaks it.
        let tampered = String::from_utf8_lossy(&data).replacen("Components:", "Components: x", 1);
        assert!(matches!(
            verify_inrelease(tampered.as_bytes(), &keyring, at(date)),
            Err(ReleaseError::BadSignature { .. })
        ));
        if let Some(until) = v.release.valid_until {
            assert!(matches!(
                verify_inrelease(&data, &keyring, at(until + 1)),
                Err(ReleaseError::Expired { .. })
            ));
        }
    }
}
