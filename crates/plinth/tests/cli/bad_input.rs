//! Bad specs and inputs: each gets a clear message, exit code 2, and writes nothing.
//! The snapshots hold exactly what the user sees on stderr.

use std::path::Path;

use crate::common::*;

/// Runs `plinth build` on `spec` (with `files`) and returns stderr with the temp dir
/// replaced by `[TMP]`, after checking exit code 2 and that no output was written.
fn build_error(spec: &str, files: &[(&str, &[u8])]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let spec_path = write_spec(tmp.path(), spec, files);
    let out = tmp.path().join("out");
    let err = fails(plinth().arg("build").arg(&spec_path).arg("-o").arg(&out), 2);
    assert!(!out.exists(), "a failed build wrote {out:?}");
    assert!(leftovers(tmp.path()).is_empty());
    redact(&err, tmp.path())
}

fn redact(s: &str, tmp: &Path) -> String {
    let real = tmp.canonicalize().unwrap();
    s.replace(&real.display().to_string(), "[TMP]")
        .replace(&tmp.display().to_string(), "[TMP]")
}

#[test]
fn missing_source_file() {
    insta::assert_snapshot!(build_error(
        "[image]\nname = \"x\"\n\n[[files]]\nsrc = \"app\"\ndst = \"/app\"\n",
        &[]
    ));
}

#[test]
fn destination_escaping_the_root_with_dotdot() {
    insta::assert_snapshot!(build_error(
        "[image]\n[[files]]\nsrc = \"a\"\ndst = \"/usr/../../etc/shadow\"\n",
        &[("a", b"x")]
    ));
}

#[test]
fn destination_through_an_absolute_symlink() {
    insta::assert_snapshot!(build_error(
        "[image]\n[[symlinks]]\npath = \"/evil\"\ntarget = \"/etc\"\n\n[[files]]\nsrc = \"a\"\ndst = \"/evil/passwd\"\n",
        &[("a", b"root::0:0::/:/bin/sh\n")]
    ));
}

#[test]
fn duplicate_paths_with_different_content() {
    insta::assert_snapshot!(build_error(
        "[image]\n[[files]]\nsrc = \"a\"\ndst = \"/app\"\n\n[[files]]\nsrc = \"b\"\ndst = \"/app\"\n",
        &[("a", b"one"), ("b", b"two")]
    ));
}

#[test]
fn duplicate_paths_with_identical_content_are_fine() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(
        tmp.path(),
        "[image]\n[[files]]\nsrc = \"a\"\ndst = \"/app\"\n\n[[files]]\nsrc = \"b\"\ndst = \"/app\"\n",
        &[("a", b"same"), ("b", b"same")],
    );
    build(&spec, &tmp.path().join("out"), &[]);
}

#[test]
fn unknown_run_as_user() {
    insta::assert_snapshot!(build_error(
        "[image]\nname = \"x\"\nrun-as = \"www-data\"\n",
        &[]
    ));
}

#[test]
fn unknown_file_owner() {
    insta::assert_snapshot!(build_error(
        "[image]\n[[files]]\nsrc = \"a\"\ndst = \"/a\"\nowner = \"app:app\"\n",
        &[("a", b"x")]
    ));
}

#[test]
fn invalid_platform() {
    insta::assert_snapshot!(build_error(
        "[image]\nplatforms = [\"linux/amd64\", \"linux/amd46\"]\n",
        &[]
    ));
}

#[test]
fn invalid_platform_variant() {
    insta::assert_snapshot!(build_error(
        "[image]\nplatforms = [\"linux/amd64/v7\"]\n",
        &[]
    ));
}

#[test]
fn malformed_toml() {
    insta::assert_snapshot!(build_error("[image]\nname = \"x\n", &[]));
}

#[test]
fn unknown_key_names_line_and_key() {
    insta::assert_snapshot!(build_error(
        "[image]\nname = \"x\"\n\n[config]\nentrypoint = [\"/a\"]\nuser = \"root\"\n",
        &[]
    ));
}

#[test]
fn wrong_type_names_line_and_key() {
    insta::assert_snapshot!(build_error("[image]\nplatforms = \"linux/amd64\"\n", &[]));
}

#[test]
fn unknown_base() {
    insta::assert_snapshot!(build_error("[image]\nbase = \"alpine\"\n", &[]));
}

#[test]
fn bad_mode() {
    insta::assert_snapshot!(build_error(
        "[image]\n[[dirs]]\npath = \"/data\"\nmode = \"rwxr-xr-x\"\n",
        &[]
    ));
}

/// `mode = 755` is TOML's decimal 755 (0o1363); it was taken silently.
#[test]
fn decimal_mode_that_looks_octal_is_refused() {
    insta::assert_snapshot!(build_error(
        "[image]\n[[dirs]]\npath = \"/data\"\nmode = 755\n",
        &[]
    ));
}

/// The same trap in `[[files]]`; a TOML octal integer (`0o755`) is accepted.
#[test]
fn decimal_file_mode_is_refused_and_octal_integers_pass() {
    let err = build_error(
        "[image]\n[[dirs]]\npath = \"/data\"\nmode = 0o755\n[[files]]\nsrc = \"a\"\ndst = \"/a\"\nmode = 644\n",
        &[("a", b"x")],
    );
    assert!(
        err.contains(":8:8: `files.mode` is written 644, which TOML reads as the decimal number 644 (the mode 0o1204)"),
        "{err}"
    );
    assert!(err.contains("write `mode = 0o644`"), "{err}");
}

#[test]
fn relative_destination() {
    insta::assert_snapshot!(build_error(
        "[image]\n[[files]]\nsrc = \"a\"\ndst = \"app\"\n",
        &[("a", b"x")]
    ));
}

#[test]
fn bad_port_and_signal() {
    insta::assert_snapshot!(
        "bad_port",
        build_error("[image]\n[config]\nports = [\"80/tcp\", \"99999\"]\n", &[])
    );
    insta::assert_snapshot!(
        "bad_signal",
        build_error("[image]\n[config]\nstop-signal = \"TERM; rm -rf /\"\n", &[])
    );
}

#[test]
fn missing_spec_file() {
    let tmp = tempfile::tempdir().unwrap();
    let err = fails(plinth().arg("build").arg(tmp.path().join("nope.toml")), 2);
    insta::assert_snapshot!(redact(&err, tmp.path()));
}

/// `/dev/zero` given as a spec drove memory past 2 GB; a spec must be a regular file.
#[test]
fn a_device_given_as_the_spec_is_refused() {
    let err = fails(plinth().args(["build", "/dev/zero"]), 2);
    assert!(
        err.contains("/dev/zero") && err.contains("not a regular file"),
        "{err}"
    );
}

/// A spec larger than the limit is refused before it is parsed.
#[test]
fn a_spec_over_the_size_limit_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("plinth.toml");
    fs_err::write(&spec, vec![b'#'; 5 << 20]).unwrap();
    let err = fails(plinth().arg("build").arg(&spec), 2);
    assert!(
        err.contains("larger than the limit of 4194304 bytes"),
        "{err}"
    );
}

#[test]
fn platform_flag_not_in_spec() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "[image]\nname = \"x\"\n", &[]);
    let err = fails(
        plinth()
            .arg("build")
            .arg(&spec)
            .args(["--platform", "linux/arm64", "-o"])
            .arg(tmp.path().join("o")),
        2,
    );
    insta::assert_snapshot!(redact(&err, tmp.path()));
}

#[test]
fn usage_errors_exit_2() {
    fails(plinth().arg("build"), 2);
    fails(plinth().arg("frobnicate"), 2);
    fails(plinth().args(["build", "x.toml", "--format", "zip"]), 2);
}

#[test]
fn inspect_of_something_that_is_not_an_image() {
    let tmp = tempfile::tempdir().unwrap();
    fs_err::write(tmp.path().join("notes.txt"), "hello").unwrap();
    let e1 = fails(
        plinth().arg("inspect").arg(tmp.path().join("nothing-here")),
        2,
    );
    let e2 = fails(plinth().arg("inspect").arg(tmp.path()), 2);
    let e3 = fails(plinth().arg("inspect").arg(tmp.path().join("notes.txt")), 2);
    insta::assert_snapshot!(redact(&format!("{e1}---\n{e2}---\n{e3}"), tmp.path()));
}

#[test]
fn the_same_directory_twice_with_different_modes() {
    insta::assert_snapshot!(build_error(
        "[image]\n[[dirs]]\npath = \"/data\"\nmode = \"0750\"\n\n[[dirs]]\npath = \"/data\"\nmode = \"0755\"\n",
        &[]
    ));
}

/// `--db notes.txt` replaced a user's file with a database; now it is refused, exit 2,
/// and the file is left as it was.
#[test]
fn db_import_refuses_to_replace_a_file_that_is_not_a_database() {
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("notes.txt");
    fs_err::write(&notes, b"my notes\n").unwrap();
    let feed = crate::common::test_data("vuln/debian/tracker-sample.json");
    let err = fails(
        plinth()
            .args(["db", "import"])
            .arg(&feed)
            .arg("--db")
            .arg(&notes),
        2,
    );
    assert!(
        err.contains("refusing to replace") && err.contains("not a plinth vulnerability database"),
        "{err}"
    );
    assert_eq!(fs_err::read(&notes).unwrap(), b"my notes\n");
}

/// `docker save | gzip` (which `docker load` accepts) was read as an empty root
/// filesystem and scanned clean with exit 0; it is read as the image it is, gzip or zstd,
/// docker-archive or oci-archive.
#[test]
fn a_gzipped_docker_archive_is_read_as_the_image_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = crate::common::copy_example(&tmp.path().join("example"));
    for format in ["docker-archive", "oci-archive"] {
        let tar = tmp.path().join(format!("{format}.tar"));
        crate::common::build(&spec, &tar, &["--format", format]);
        let plain = fs_err::read(&tar).unwrap();
        let gz = tmp.path().join(format!("{format}.tar.gz"));
        fs_err::write(&gz, plinth_oci::testing::gzip(&plain)).unwrap();
        let zst = tmp.path().join(format!("{format}.tar.zst"));
        fs_err::write(&zst, zstd::encode_all(&plain[..], 3).unwrap()).unwrap();
        let sbom = |p: &std::path::Path| {
            crate::common::ok(plinth().args(["sbom", "-q", "-f", "json"]).arg(p))
                .replace(p.to_str().unwrap(), "IMAGE")
        };
        let inspect = |p: &std::path::Path| crate::common::inspect_json(p);
        let want = sbom(&tar);
        for compressed in [&gz, &zst] {
            assert_eq!(sbom(compressed), want, "{}", compressed.display());
            let digest = |p: &std::path::Path| inspect(p)["images"][0]["digest"].clone();
            assert!(digest(&tar).is_string());
            assert_eq!(digest(compressed), digest(&tar));
            crate::common::ok(plinth().arg("check").arg(compressed));
        }
    }
}

/// `-o /dev/stdout` replaced the device with a regular file; it is written through.
#[test]
fn output_to_dev_stdout_is_written_through() {
    let rootfs = crate::common::test_data("images/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    let plain = crate::common::ok(plinth().args(["sbom", "-q", "-f", "json"]).arg(&rootfs));
    let through = crate::common::ok(
        plinth()
            .args(["sbom", "-q", "-f", "json", "-o", "/dev/stdout"])
            .arg(&rootfs),
    );
    assert_eq!(through, plain);
    // The link in /dev is still the link it was.
    assert!(
        fs_err::symlink_metadata("/dev/stdout")
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// A build refused because `-o` is a user's directory still wrote `NAME.spdx.json` beside
/// it, overwriting a user file of that name; a refused build now writes nothing.
#[test]
fn a_refused_build_writes_no_sbom_beside_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = crate::common::copy_example(&tmp.path().join("example"));
    let mine = tmp.path().join("mine");
    fs_err::create_dir(&mine).unwrap();
    fs_err::write(mine.join("notes.txt"), b"keep").unwrap();
    let beside = tmp.path().join("mine.spdx.json");
    fs_err::write(&beside, b"my own file").unwrap();
    let err = fails(plinth().arg("build").arg(&spec).arg("-o").arg(&mine), 2);
    assert!(err.contains("refusing to replace"), "{err}");
    assert_eq!(fs_err::read(&beside).unwrap(), b"my own file");
    assert_eq!(fs_err::read(mine.join("notes.txt")).unwrap(), b"keep");
}

/// `build -o /dev/null` wrote `/dev/null.spdx.json`: a device output gets no SBOM file
/// beside it, and the device stays a device.
#[test]
fn a_build_to_dev_null_writes_nothing_beside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = crate::common::copy_example(&tmp.path().join("example"));
    let _ = fs_err::remove_file("/dev/null.spdx.json");
    crate::common::ok(plinth().arg("build").arg(&spec).args([
        "-q",
        "--format",
        "oci-archive",
        "-o",
        "/dev/null",
    ]));
    assert!(!Path::new("/dev/null.spdx.json").exists());
    assert!(!fs_err::metadata("/dev/null").unwrap().is_file());
}

/// The bounds are raisable, and a mistake in raising them is said, not ignored.
#[test]
fn plinth_limits_lowers_and_raises_bounds_and_names_its_mistakes() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = crate::common::copy_example(&tmp.path().join("example"));
    let out = tmp.path().join("img");
    crate::common::build(&spec, &out, &[]);
    let err = fails(
        plinth()
            .env("PLINTH_LIMITS", "files=2")
            .arg("sbom")
            .arg(&out),
        2,
    );
    assert!(
        err.contains("more than 2 entries") && err.contains("PLINTH_LIMITS"),
        "{err}"
    );
    crate::common::ok(
        plinth()
            .env("PLINTH_LIMITS", "files=5000000,uncompressed=64GiB")
            .arg("sbom")
            .arg(&out),
    );
    let err = fails(
        plinth()
            .env("PLINTH_LIMITS", "layers=3")
            .arg("sbom")
            .arg(&out),
        2,
    );
    assert!(
        err.contains("PLINTH_LIMITS") && err.contains("unknown key `layers`"),
        "{err}"
    );
}

/// Feeds built to make parsing grow faster than their size (issue 12, point 3): secdb
/// YAML nested 200,000 brackets deep, and an OSV zip whose 20,000 entries share one
/// 16 MiB stream. Each took minutes to hours; now each is exit 2 naming what is wrong,
/// and the database is left as it was. (Under a generous hang guard, not a timing.)
#[test]
fn db_import_of_nested_yaml_or_overlapping_zip_is_exit_2_not_a_hang() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("vuln.db");
    let yaml = tmp.path().join("main.yaml");
    let mut doc = b"distroversion: v3.20\nreponame: main\npackages: ".to_vec();
    doc.extend(b"[".repeat(200_000));
    doc.extend(b"]".repeat(200_000));
    fs_err::write(&yaml, &doc).unwrap();
    let zip = tmp.path().join("Go-all.zip");
    fs_err::write(
        &zip,
        crate::overlapping_zip::overlapping_zip(20_000, 16 << 20),
    )
    .unwrap();
    for (feed, says) in [
        (&yaml, "flow collections nested deeper than 64 at line 3"),
        (&zip, "entries overlap"),
    ] {
        let out = run_with_timeout(
            plinth().args(["db", "import", "--db"]).arg(&db).arg(feed),
            std::time::Duration::from_secs(120),
        )
        .unwrap_or_else(|| panic!("db import of {} hung", feed.display()));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(!db.exists(), "a refused import wrote the database");
    }
}
