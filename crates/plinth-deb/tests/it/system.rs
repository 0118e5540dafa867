//! Tests against this machine's real apt configuration, apt lists, keyring and mirror.
//! Each skips with a notice when its input is missing, and fails instead under `CI=true`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::skip;
use plinth_deb::keyring::{DEFAULT_KEYRING, Keyring};
use plinth_deb::packages::{self, Compression};
use plinth_deb::release::{Release, ReleaseError, verify_inrelease};
use plinth_deb::resolve::{Request, Universe, resolve};
use plinth_deb::sources::{self, SourceEntry};

const LISTS: &str = "/var/lib/apt/lists";

fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

fn binary_sources() -> Vec<SourceEntry> {
    sources::discover(Path::new("/"))
        .expect("this machine's apt sources parse")
        .into_iter()
        .filter(SourceEntry::is_binary)
        .collect()
}

/// The apt list file for `file` of `suite`, in whichever compression apt stored it.
fn apt_list(entry: &SourceEntry, suite: &str, file: &str) -> Option<PathBuf> {
    let base = Path::new(LISTS).join(entry.apt_list_name(suite, file));
    ["", ".lz4", ".xz", ".gz"]
        .iter()
        .map(|ext| PathBuf::from(format!("{}{ext}", base.display())))
        .find(|p| p.is_file())
}

/// Verifies at the file's own `Date`, so an old apt list still checks deterministically.
fn verify_at_own_date(data: &[u8], keyring: &Keyring) -> Result<Release, ReleaseError> {
    let text = String::from_utf8_lossy(data);
    let date = text
        .lines()
        .find_map(|l| l.strip_prefix("Date: "))
        .and_then(plinth_deb::release::parse_date)
        .unwrap_or(0);
    verify_inrelease(data, keyring, at(date)).map(|v| v.release)
}

#[test]
fn real_apt_lists_inrelease_verify_offline() {
    let mut checked = 0;
    for entry in binary_sources() {
        let keyring = match Keyring::for_source(&entry, Path::new("/")) {
            Ok(k) => k,
            Err(e) => return skip(&format!("no keyring for {}: {e}", entry.uri)),
        };
        for suite in &entry.suites {
            let Some(path) = apt_list(&entry, suite, "InRelease") else {
                continue;
            };
            let data = fs_err::read(&path).unwrap();
            let release = verify_at_own_date(&data, &keyring)
                .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            assert!(!release.sha256.is_empty(), "{}", path.display());
            let tampered =
                String::from_utf8_lossy(&data).replacen("Components:", "Components: x", 1);
            assert!(matches!(
                verify_at_own_date(tampered.as_bytes(), &keyring),
                Err(ReleaseError::BadSignature { .. })
            ));
            if let Some(until) = release.valid_until {
                assert!(matches!(
                    verify_inrelease(&data, &keyring, at(until + 1)),
                    Err(ReleaseError::Expired { .. })
                ));
            }
            checked += 1;
        }
    }
    if checked == 0 {
        skip("no InRelease of a configured source under /var/lib/apt/lists");
    }
}

#[test]
fn real_mirror_inrelease_verifies_now() {
    let Some(entry) = binary_sources().into_iter().next() else {
        return skip("no binary apt source configured");
    };
    let Some(suite) = entry.suites.first() else {
        return skip("first apt source has no suite");
    };
    if !Path::new(DEFAULT_KEYRING).exists() && entry.signed_by.is_none() {
        return skip("no debian-archive-keyring installed");
    }
    let keyring = Keyring::for_source(&entry, Path::new("/")).expect("source keyring loads");
    let url = entry.dist_url(suite, "InRelease");
    let data = match plinth_core::http::fetch_bytes(&url, 64 << 20) {
        Ok(d) => d,
        Err(e) => return skip(&format!("cannot fetch {url}: {e}")),
    };
    let verified = verify_inrelease(&data, &keyring, SystemTime::now())
        .unwrap_or_else(|e| panic!("{url}: {e:?}"));
    assert_eq!(verified.signer.len(), 40);
    assert!(
        verified
            .release
            .components
            .iter()
            .any(|c| c.ends_with("main"))
    );
}

#[test]
fn real_packages_index_resolves_a_base_image() {
    let mut universe = Universe::new();
    for entry in binary_sources() {
        let keyring = Keyring::for_source(&entry, Path::new("/")).ok();
        for suite in &entry.suites {
            let Some(path) = apt_list(&entry, suite, "main/binary-amd64/Packages") else {
                continue;
            };
            let raw = fs_err::read(&path).unwrap();
            let name = path.to_string_lossy();
            let data = packages::decompress(&raw, Compression::from_path(&name)).unwrap();
            // Trust chain: the signed InRelease lists the uncompressed index's hash.
            let release = apt_list(&entry, suite, "InRelease")
                .zip(keyring.as_ref())
                .map(|(p, k)| verify_at_own_date(&fs_err::read(p).unwrap(), k).unwrap());
            if let Some(release) = release {
                packages::verify_against_release(&data, &release, "main/binary-amd64/Packages")
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            universe.add(packages::parse(&data).unwrap());
        }
    }
    if universe.is_empty() {
        return skip("no main/binary-amd64 Packages list (run apt-get update)");
    }
    let request = Request {
        packages: "libc6 libssl3 ca-certificates base-files netbase tzdata media-types"
            .split(' ')
            .map(str::to_string)
            .collect(),
        exclude: Vec::new(),
        arch: "amd64".into(),
    };
    let r = resolve(&universe, &request).unwrap();
    for (name, rec) in &r.selected {
        eprintln!(
            "{name} {} <- {}",
            rec.version,
            r.why(name).unwrap().join(" -> ")
        );
    }
    assert!(r.selected.contains_key("libc6"));
    assert!(r.selected.contains_key("libssl3"));
    assert!(!r.selected.contains_key("bash"));
    assert!(!r.selected.contains_key("dash"));
    assert_eq!(r.why("libssl3").unwrap()[0], "libssl3");
}
