//! Exit codes say what happened (docs/cli.md): 0 ok, 1 the check found something, 2 usage
//! or input error, 3 a failure that is not the input's fault (an output that cannot be
//! written, a bug). The tests run as root, so the unwritable outputs are places root
//! cannot write either: a full device and a path under /proc.

use std::path::Path;
use std::process::Stdio;

use crate::common::*;

/// A root filesystem with a shell and nothing else: fails `check`'s no-shell rule.
fn rootfs_with_a_shell(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("rootfs");
    fs_err::create_dir_all(root.join("bin")).unwrap();
    fs_err::write(root.join("bin/sh"), b"#!shell\n").unwrap();
    root
}

#[test]
fn exit_0_when_the_command_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let root = rootfs_with_a_shell(tmp.path());
    let o = run(plinth().arg("sbom").arg(&root).arg("-q"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn exit_1_when_the_check_finds_something() {
    let tmp = tempfile::tempdir().unwrap();
    let root = rootfs_with_a_shell(tmp.path());
    let o = run(plinth().arg("check").arg(&root));
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("FAIL  no-shell"), "{}", stdout(&o));
}

#[test]
fn exit_2_for_a_missing_input() {
    let tmp = tempfile::tempdir().unwrap();
    let err = fails(plinth().arg("sbom").arg(tmp.path().join("nothing-here")), 2);
    assert!(err.starts_with("error: "), "{err}");
}

#[test]
fn exit_3_when_stdout_is_a_full_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let root = rootfs_with_a_shell(tmp.path());
    let full: std::fs::File = fs_err::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
        .into();
    let o = run(plinth()
        .arg("sbom")
        .arg(&root)
        .args(["-q", "-f", "spdx-json"])
        .stdout(Stdio::from(full)));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.starts_with("error: failed to write stdout\n"), "{err}");
    assert!(err.contains("caused by: No space left on device"), "{err}");
}

#[test]
fn exit_3_when_the_output_file_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let root = rootfs_with_a_shell(tmp.path());
    // Not even root can create a directory in /proc.
    let out = Path::new("/proc/plinth-test-no-such-dir/sbom.json");
    let err = fails(
        plinth().arg("sbom").arg(&root).arg("-q").arg("-o").arg(out),
        3,
    );
    assert!(
        err.starts_with("error: failed to write /proc/plinth-test-no-such-dir\n"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn exit_3_when_the_built_image_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "[image]\nname = \"x\"\n\n[[files]]\nsrc = \"a\"\ndst = \"/a\"\n",
        &[("a", b"x")],
    );
    let err = fails(
        plinth().arg("build").arg(&spec).args([
            "-q",
            "--sbom",
            "none",
            "-o",
            "/proc/plinth-test-no-such-dir/x",
        ]),
        3,
    );
    assert!(
        err.starts_with("error: failed to write /proc/plinth-test-no-such-dir\n"),
        "{err}"
    );
}

#[test]
fn exit_2_when_the_output_would_clobber_a_directory() {
    // Refusing to replace a directory is the user's choice of --output, not a failure.
    let tmp = tempfile::tempdir().unwrap();
    let root = rootfs_with_a_shell(tmp.path());
    let dir = tmp.path().join("taken");
    fs_err::create_dir_all(dir.join("keep")).unwrap();
    let err = fails(
        plinth()
            .arg("sbom")
            .arg(&root)
            .arg("-q")
            .arg("-o")
            .arg(&dir),
        2,
    );
    assert!(err.contains("refusing to replace"), "{err}");
    assert!(dir.join("keep").exists());
}

#[test]
fn exit_3_when_the_vulnerability_database_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("tracker.json");
    fs_err::write(
        &feed,
        r#"{"zlib": {"CVE-2023-45853": {"releases": {"bookworm": {"status": "open", "urgency": "low"}}}}}"#,
    )
    .unwrap();
    let err = fails(
        plinth()
            .args([
                "db",
                "import",
                "-q",
                "--db",
                "/proc/plinth-test-no-such-dir/vuln.db",
            ])
            .arg(&feed),
        3,
    );
    assert!(
        err.starts_with("error: cannot write /proc/plinth-test-no-such-dir\n"),
        "{err}"
    );
    // A feed that is not one is the input's fault.
    fs_err::write(&feed, b"{\"not\": \"a feed\"").unwrap();
    fails(
        plinth()
            .args(["db", "import", "-q", "--db"])
            .arg(tmp.path().join("vuln.db"))
            .arg(&feed),
        2,
    );
}
