//! Fuzz bodies for Alpine's repository format (plinth-apk): whole `.apk` and
//! `APKINDEX.tar.gz` files (gzip members, signature tars), data tars behind a valid
//! signature (the body signs them, so that mutations reach the tar reader and the
//! installed-database writer), and `APKINDEX` / `.PKGINFO` text with resolution over it.
//! Shared, through `#[path]`, by the libFuzzer targets and by plinth-apk's corpus replay
//! test (`crates/plinth-apk/tests/it/fuzz_corpus.rs`).

use std::sync::OnceLock;

use plinth_apk::index::{PackageInfo, parse_index, verify_index};
use plinth_apk::installed::{InstalledPackage, package_record};
use plinth_apk::keys::Keyring;
use plinth_apk::package::{Limits, parse_pkginfo, verify_package};
use plinth_apk::resolve::Repository;
use plinth_apk::write::{SigningKey, package_from_data_tar};

/// A throwaway 1024-bit RSA key made for the fuzz targets (`openssl genrsa -traditional
/// 1024`); it signs nothing but fuzz inputs. The corpus's `.apk` files are signed with it.
pub const FUZZ_KEY_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXQIBAAKBgQCzTOOqpUxTFlLIpAZrbq7MlynauBI/6+LHUnQfroiY0JVqO5zk
j3X1auXUtoxJyO/KbmUgV5NPh5onN7iuY7tENKHiOMNDLoFR6zxA3OkrfFba+B1U
wblDd0ugjdHhsoT5eqWbmqg/vU4HNW+ZcDqrWzqusV55dNhk75n/ZDF/2wIDAQAB
AoGAGnP8nt+WXCfN/OYeQFlrFqoytZ80qhOeOLQUh9wTMSCM+shixGHaEGQ+Flz8
Y6JuploVN2lURYaHGsQgzjHOnekqtQVtbnd92CEn4AWOtxQAgLMN4UK1GbqO9Ho0
slu4DHnFpp/RL8N49j4dSRQTieMGXcI3jreGy4C3yBC64RkCQQDiFdNwI/ztlW4V
8DX4er8k1q+DbtGCMSxc+MLJPXFsKzH6UrrguWIAA7c7SKIwscK0KAOfJCRhC5MT
f/a1GvA/AkEAywZSFUJfJLdD1iTn4QyhEFEaSMuFv3Syr97fU2OFk8iGWQDDncsv
55SPR7bHxDfQCom2M8qhWoFBZCE2+kGJZQJBAMRLGPIjfOW2uQb5MZLU2AKfF3Ix
FFxKX281WMGqxECbXGAv1itpKYpDr6IcVR2cKSWMHGDe22saxo7GqqfhhLcCQEUw
10KVhxVdO8o8c6YYBsAn07xhWCiinc8gNp4Vuc1etqKYhxI80AutbpMzMKunlcgx
nJ3T/d95U47LXxA0y50CQQDc+WiJiINLuapmFBf/t3Ru10E+IqQDJmkWQqh0NlF9
6oXM4huq3wW3P0LOhoOsxO0j59UvQkB+Rl+xBkw0GKFZ
-----END RSA PRIVATE KEY-----
";
/// The key name the fuzz key signs as.
pub const FUZZ_KEY_NAME: &str = "plinth-fuzz-00000000.rsa.pub";

const LIMITS: Limits = Limits {
    data_bytes: 1 << 20,
    entries: 1_000,
    path_bytes: 4096,
};

/// The fuzz key and a keyring trusting it.
pub fn fuzz_key() -> &'static (SigningKey, Keyring) {
    static KEY: OnceLock<(SigningKey, Keyring)> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = SigningKey::from_pem(FUZZ_KEY_NAME, FUZZ_KEY_PEM).expect("the fuzz key parses");
        let mut ring = Keyring::new();
        ring.add(FUZZ_KEY_NAME, key.public_key());
        (key, ring)
    })
}

/// A whole `.apk` or `APKINDEX.tar.gz`, verified with the fuzz key; a package that
/// verifies has its data read.
pub fn apk_file(data: &[u8]) {
    let (_, keys) = fuzz_key();
    if let Ok(pkg) = verify_package("fuzz.apk", data, keys, None) {
        let _ = pkg.data_entries(data, &LIMITS);
    }
    let _ = verify_index("fuzz/APKINDEX.tar.gz", data, keys);
}

/// A data tar signed into a package: the signature, the control checksum and the data
/// hash hold, so everything after them sees the mutated tar. What reads back is written
/// into an installed-database record, which must parse back to the package's fields.
pub fn apk_data_tar(data: &[u8]) {
    let (key, keys) = fuzz_key();
    let info = PackageInfo {
        name: "fuzz".into(),
        version: "1.0-r0".into(),
        arch: "x86_64".into(),
        ..PackageInfo::default()
    };
    let built = package_from_data_tar(&info, &[], data, key).expect("signing never fails");
    let pkg = verify_package("fuzz.apk", &built.bytes, keys, Some(&built.info))
        .expect("a package the writer signed verifies");
    if let Ok(entries) = pkg.data_entries(&built.bytes, &LIMITS) {
        let record = package_record(&InstalledPackage {
            info: pkg.pkginfo.info.clone(),
            entries,
        });
        let back = parse_index(&record).expect("a written record parses");
        assert_eq!(back, [pkg.pkginfo.info], "installed record round trip");
    }
}

/// `APKINDEX` (or installed-database) text and `.PKGINFO` text; what parses is
/// written back (the record parses to the same fields) and resolved.
pub fn apk_index_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_pkginfo(text);
    let Ok(packages) = parse_index(text) else {
        return;
    };
    for p in packages.iter().take(50) {
        let record = package_record(&InstalledPackage {
            info: p.clone(),
            entries: Vec::new(),
        });
        let back = parse_index(&record).expect("a written record parses");
        assert_eq!(
            back.as_slice(),
            std::slice::from_ref(p),
            "record round trip"
        );
    }
    let repo = Repository::new(packages.iter().take(200));
    for p in packages.iter().take(20) {
        let _ = repo.resolve(&[p.name.as_str()]);
        let _ = repo.resolve(&p.depends);
    }
}
