//! The sandbox against a real root: the host's `/bin/sh` and the libraries `ldd` names,
//! copied into an empty directory. Needs root (the tests say so and skip otherwise).

use std::path::{Path, PathBuf};
use std::process::Command;

use plinth_sandbox::{Chroot, SandboxError};

fn is_root() -> bool {
    let root = rustix_uid() == 0;
    if !root {
        eprintln!("SKIPPED: the sandbox needs root");
    }
    root
}

fn rustix_uid() -> u32 {
    // The test crate does not link rustix: ask `id`.
    let o = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

/// A root holding `/bin/sh` and what it links.
fn shell_root() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let sh = fs_err::canonicalize("/bin/sh").unwrap();
    let mut files: Vec<PathBuf> = vec![sh.clone()];
    let ldd = Command::new("ldd").arg(&sh).output().unwrap();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from);
        files.extend(path);
    }
    for f in files {
        let dst = tmp.path().join(f.strip_prefix("/").unwrap());
        fs_err::create_dir_all(dst.parent().unwrap()).unwrap();
        fs_err::copy(&f, &dst).unwrap();
        // The dynamic loader is asked for by the path the binary names, often a link.
    }
    let bin = tmp.path().join("bin");
    fs_err::create_dir_all(&bin).unwrap();
    fs_err::copy(&sh, bin.join("sh")).unwrap();
    for ld in ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"] {
        let p = Path::new(ld);
        if p.exists() {
            let dst = tmp.path().join(ld.trim_start_matches('/'));
            fs_err::create_dir_all(dst.parent().unwrap()).unwrap();
            fs_err::copy(p, dst).unwrap();
        }
    }
    fs_err::create_dir_all(tmp.path().join("proc")).unwrap();
    tmp
}

#[test]
fn a_command_runs_chrooted_with_device_nodes_proc_and_only_the_environment_given() {
    if !is_root() {
        return;
    }
    let root = shell_root();
    let c = Chroot::new(root.path()).unwrap();
    let out = c
        .run(
            &[
                "/bin/sh",
                "-c",
                "echo hidden > /dev/null; test -c /dev/null && echo null-is-a-device; \
                 test -r /proc/self/status && echo proc-mounted; echo cwd=$(pwd); \
                 echo home=[$HOME] only=[$ONLY]; test -e /etc/hostname || echo no-host-files; \
                 echo to-stderr >&2",
            ],
            &[("ONLY", "given")],
        )
        .unwrap();
    let text = String::from_utf8_lossy(&out.output).into_owned();
    assert!(out.status.success(), "{text}");
    for line in [
        "null-is-a-device",
        "proc-mounted",
        "cwd=/",
        "home=[] only=[given]",
        "no-host-files",
        "to-stderr",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in {text}");
    }
    // The placeholders for the device nodes are gone; nothing stays mounted.
    let dev: Vec<_> = fs_err::read_dir(root.path().join("dev"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(dev.is_empty(), "{dev:?}");
    let mounts = fs_err::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(root.path().to_str().unwrap()), "{mounts}");
}

#[test]
fn a_failing_command_is_a_status_and_a_missing_one_an_error() {
    if !is_root() {
        return;
    }
    let root = shell_root();
    let c = Chroot::new(root.path()).unwrap();
    let out = c.run(&["/bin/sh", "-c", "echo why; exit 7"], &[]).unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(out.describe(), "exit code 7");
    assert_eq!(String::from_utf8_lossy(&out.output), "why\n");
    let err = c.run(&["/usr/bin/dpkg"], &[]).unwrap_err();
    assert!(matches!(err, SandboxError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("/usr/bin/dpkg"), "{err}");
    assert!(c.run(&[], &[]).is_err());
}

/// An executable still open for writing (by another thread's fork, in the real case)
/// is waited for, not an error; one that stays open is an error naming it.
#[test]
fn an_executable_still_open_for_writing_is_waited_for() {
    if !is_root() {
        return;
    }
    let root = shell_root();
    let c = Chroot::new(root.path()).unwrap();
    let sh = root.path().join("bin/sh");
    let writer = fs_err::OpenOptions::new().append(true).open(&sh).unwrap();
    let closer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(40));
        drop(writer);
    });
    let out = c.run(&["/bin/sh", "-c", "echo ran"], &[]).unwrap();
    closer.join().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.output), "ran\n");

    let _held = fs_err::OpenOptions::new().append(true).open(&sh).unwrap();
    let err = c.run(&["/bin/sh", "-c", "echo ran"], &[]).unwrap_err();
    assert!(matches!(err, SandboxError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("/bin/sh"), "{err}");
}

#[test]
fn output_is_bounded_to_its_end() {
    if !is_root() {
        return;
    }
    let root = shell_root();
    let c = Chroot::new(root.path()).unwrap();
    let out = c
        .run(
            &[
                "/bin/sh",
                "-c",
                "i=0; while [ $i -lt 20000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done; echo last",
            ],
            &[],
        )
        .unwrap();
    assert!(out.output.len() <= plinth_sandbox::OUTPUT_KEPT);
    assert!(String::from_utf8_lossy(&out.output).ends_with("last\n"));
}

#[test]
fn a_root_that_is_not_a_directory_is_refused() {
    if !is_root() {
        return;
    }
    let err = Chroot::new(Path::new("/nonexistent/root")).unwrap_err();
    assert!(matches!(err, SandboxError::NoRoot(_)), "{err}");
}
