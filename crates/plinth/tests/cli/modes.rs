//! Outputs follow the umask, as every other tool's do: an image layout, its SBOM, an
//! oci-archive and the vulnerability database are as readable as a file `touch` makes.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::common::{copy_example, ok};

fn mode(p: &Path) -> u32 {
    fs_err::metadata(p).unwrap().permissions().mode() & 0o777
}

/// `plinth ARGS` under umask 022.
fn plinth_umask_022(args: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_plinth"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SOURCE_DATE_EPOCH");
    c
}

/// The regression: `.spdx.json` files, oci-archives and `vuln.db` were created 0600 and
/// layout directories 0700.
#[test]
fn outputs_are_created_with_the_umask_not_0600() {
    let dir = tempfile::tempdir().unwrap();
    let spec = copy_example(&dir.path().join("example"));
    let spec = spec.to_str().unwrap();
    let out = dir.path().join("out");
    let layout = out.join("hello");
    ok(&mut plinth_umask_022(&[
        "build",
        spec,
        "-q",
        "-o",
        layout.to_str().unwrap(),
    ]));
    assert_eq!(mode(&layout), 0o755, "layout directory");
    assert_eq!(mode(&layout.join("index.json")), 0o644);
    let sboms: Vec<_> = fs_err::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".spdx.json"))
        .collect();
    assert!(!sboms.is_empty(), "no SBOM beside the layout");
    for s in &sboms {
        assert_eq!(mode(s), 0o644, "{}", s.display());
    }
    let archive = out.join("hello.tar");
    ok(&mut plinth_umask_022(&[
        "build",
        spec,
        "-q",
        "--format",
        "oci-archive",
        "-o",
        archive.to_str().unwrap(),
    ]));
    assert_eq!(mode(&archive), 0o644, "oci-archive");

    let feed = dir.path().join("GHSA-test.json");
    fs_err::write(
        &feed,
        r#"{"id":"GHSA-xxxx-yyyy-zzzz","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"example.com/m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.1"}]}]}]}"#,
    )
    .unwrap();
    let db = dir.path().join("db/vuln.db");
    ok(plinth_umask_022(&["db", "import", feed.to_str().unwrap()]).env("PLINTH_DB", &db));
    assert_eq!(mode(&db), 0o644, "vuln.db");
}
