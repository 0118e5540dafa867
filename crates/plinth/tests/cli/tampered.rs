//! Every command that reads an image verifies every layer it reads: the stored bytes
//! against the descriptor's digest and size, the uncompressed bytes against the config's
//! `diff_id`, each stream read to its end (bytes after a tar's end-of-archive count),
//! before any result is printed. A tampered image is exit 2 naming the layer, with
//! nothing on stdout, in a layout, an oci-archive and a docker-archive, gzip and zstd
//! alike (issue 12, point 1).

use std::path::{Path, PathBuf};

use plinth_oci::testing::{Layout, assert_mentions, hostile};

use crate::common::{build, copy_example, ok, plinth, stdout, test_data};

/// What a tampering does to a layout; returns the fragments the error must name.
type Tamper = fn(&Layout) -> Vec<String>;

const TAMPERINGS: &[(&str, Tamper)] = &[
    (
        "layer bytes not matching the digest",
        hostile::layer_with_a_flipped_byte,
    ),
    (
        "diff_id not matching the layer",
        hostile::diff_id_not_matching_the_layer,
    ),
    (
        "bytes after the tar's end",
        hostile::bytes_after_the_end_of_the_layers_tar,
    ),
];

/// The hello example built with `compression` into `dir/built`.
fn built(dir: &Path, compression: &str) -> PathBuf {
    let spec = copy_example(&dir.join("example"));
    let text = fs_err::read_to_string(&spec).unwrap();
    let text = text.replace(
        "base = \"scratch\"",
        &format!("base = \"scratch\"\ncompression = \"{compression}\""),
    );
    fs_err::write(&spec, text).unwrap();
    let out = dir.join("built");
    build(&spec, &out, &[]);
    out
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs_err::create_dir_all(to).unwrap();
    for e in fs_err::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            fs_err::copy(e.path(), dst).unwrap();
        }
    }
}

/// Runs every reading command on `target`; each must fail with exit 2, name `expect`
/// on stderr and print nothing on stdout.
fn every_command_refuses(target: &Path, db: &Path, expect: &[String], case: &str) {
    let t = target.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["sbom", t],
        vec!["sbom", "-f", "spdx-json", t],
        vec!["check", t],
        vec!["inspect", t],
        vec!["compare", t, t],
        vec!["scan", "--db", db.to_str().unwrap(), t],
    ];
    for args in commands {
        let mut cmd = plinth();
        cmd.args(&args);
        let o = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{case}: plinth {args:?} must fail with exit 2\nstdout: {}\nstderr: {err}",
            stdout(&o)
        );
        assert!(
            o.stdout.is_empty(),
            "{case}: plinth {args:?} printed a result for a tampered image:\n{}",
            stdout(&o)
        );
        assert!(!err.contains("panicked"), "{case}: {err}");
        assert_mentions(&err, expect);
    }
}

fn tampered_images_are_refused_by_every_reader(compression: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let clean = built(tmp.path(), compression);
    let db = tmp.path().join("vuln.db");
    ok(plinth()
        .args(["db", "import", "-q", "--db"])
        .arg(&db)
        .arg(test_data("vuln/alpine/v3.20-main.subset.json")));
    for (i, (case, tamper)) in TAMPERINGS.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        let layout = Layout(dir.join("layout"));
        copy_dir(&clean, &layout.0);
        let expect = tamper(&layout);
        let case = format!("{compression}, {case}");
        every_command_refuses(&layout.0, &db, &expect, &format!("{case}, layout"));

        let oci_archive = dir.join("image.oci.tar");
        layout.to_oci_archive(&oci_archive);
        every_command_refuses(&oci_archive, &db, &expect, &format!("{case}, oci-archive"));

        // A docker-archive names its layers by file, and a layer's digest is what its
        // file hashes to: the stored bytes always match it, and what is left to catch is
        // the uncompressed content against the config's diff_id (or a stream that does
        // not decompress).
        let docker_archive = dir.join("image.docker.tar");
        layout.to_docker_archive(&docker_archive);
        every_command_refuses(
            &docker_archive,
            &db,
            &["layer sha256:".to_string()],
            &format!("{case}, docker-archive"),
        );
    }
}

#[test]
fn tampered_gzip_layers_are_refused_by_every_reader() {
    tampered_images_are_refused_by_every_reader("gzip");
}

#[test]
fn tampered_zstd_layers_are_refused_by_every_reader() {
    tampered_images_are_refused_by_every_reader("zstd");
}
