//! Paths to the test data and tool gating.

use std::path::PathBuf;
use std::process::Command;

use plinth_rpm::keys::Keyring;

/// `tests/data/…`.
pub fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// The keyring of `tests/data/keys/NAME`.
pub fn key(name: &str) -> Keyring {
    Keyring::load(&data(&format!("keys/{name}"))).unwrap()
}

/// 2026-12-03T00:00:00Z: "now" for the metadata tests, fixed so that they do not change
/// verdict when a real key reaches its expiry (the SLE 15 key copy expires 2028-10-02).
pub const NOW: i64 = 1_796_256_000;

/// Whether an external tool can be used. Missing: fails under `CI=true`, else skips
/// with a notice naming the install step.
pub fn have_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let msg = format!(
            "`{tool}` is not installed; run ./scripts/test.sh (it installs the test tools)"
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}

/// The error and its causes, joined with ": ".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
