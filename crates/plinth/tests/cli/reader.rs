//! Hostile and corrupt images given to the reader (`plinth inspect`).
//!
//! Each test builds a real image with `plinth build`, then breaks it or crafts a hostile
//! variant with `plinth_oci::testing::hostile` (the same mutations that plinth-oci's own
//! tests give its read path). Where a test wants exactly one thing wrong, everything
//! above the change is re-digested and re-written (layer, config, manifest,
//! `index.json`), so that the reader has to find that one thing. Every run must end without a panic, with exit code
//! 2 (or 0 where the reader skips an entry and warns), name the problem on stderr, and
//! leave the file system alone: `inspect` runs inside the test's temp dir, which must be
//! unchanged afterwards, and no `evil` or `escape` may appear next to that temp dir.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use plinth_oci::testing::{Layout, assert_mentions, escapees, hostile, tree};

use crate::common::{build, copy_example, plinth, run_with_timeout, stderr, stdout};

/// How long any `inspect` in this file may take before the test calls it a hang.
const TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------
// Sandbox: where images are built and inspected

/// A temp dir for one test. Images are built in `DIR/work/a/b` and `plinth inspect` runs
/// there, so that a `../..` that the reader followed would still land inside `DIR`.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("work/a/b")).unwrap();
        Sandbox { dir }
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work/a/b")
    }

    /// Builds the example as `format` (`oci`, `oci-archive`, `docker-archive`) into
    /// `work/NAME` and returns that path.
    fn build(&self, name: &str, format: &str) -> PathBuf {
        let spec = copy_example(&self.dir.path().join("example"));
        let out = self.work().join(name);
        build(&spec, &out, &["--format", format]);
        out
    }

    fn layout(&self) -> Layout {
        Layout(self.build("img", "oci"))
    }

    fn archive(&self) -> PathBuf {
        self.build("img.tar", "oci-archive")
    }

    /// Runs `plinth inspect TARGET EXTRA…` in `work`, kills it after `timeout` (`None`
    /// then), and checks that it wrote nothing anywhere.
    fn try_inspect(&self, target: &Path, extra: &[&str], timeout: Duration) -> Option<Output> {
        let parent = self.dir.path().parent().unwrap().to_path_buf();
        let before = (tree(self.dir.path()), escapees(&parent));
        let mut cmd = plinth();
        cmd.arg("inspect")
            .arg(target)
            .args(extra)
            .current_dir(self.work());
        let out = run_with_timeout(&mut cmd, timeout);
        assert_eq!(
            tree(self.dir.path()),
            before.0,
            "inspect changed files in its temp dir"
        );
        assert_eq!(
            escapees(&parent),
            before.1,
            "an `evil`/`escape` file appeared in {}",
            parent.display()
        );
        out
    }

    fn inspect(&self, target: &Path, extra: &[&str]) -> Output {
        self.try_inspect(target, extra, TIMEOUT)
            .unwrap_or_else(|| panic!("`plinth inspect {}` hung", target.display()))
    }

    /// `inspect` must fail with exit code 2 and no panic; returns stderr.
    fn inspect_fails(&self, target: &Path) -> String {
        let o = self.inspect(target, &[]);
        let err = stderr(&o);
        assert_eq!(
            o.status.code(),
            Some(2),
            "inspect {}:\nstdout: {}\nstderr: {err}",
            target.display(),
            stdout(&o)
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.starts_with("error: "), "{err}");
        err
    }

    /// `inspect` must succeed; returns (stdout, stderr).
    fn inspect_ok(&self, target: &Path) -> (String, String) {
        let o = self.inspect(target, &[]);
        let (out, err) = (stdout(&o), stderr(&o));
        assert!(
            o.status.success(),
            "inspect {} failed ({}):\n{out}\n{err}",
            target.display(),
            o.status
        );
        (out, err)
    }
}

/// Builds an oci-archive, breaks it with `mutate`, and checks `inspect` fails saying so;
/// returns stderr.
fn archive_fails(mutate: fn(&Path) -> Vec<String>) -> String {
    let sb = Sandbox::new();
    let ar = sb.archive();
    let expected = mutate(&ar);
    let err = sb.inspect_fails(&ar);
    assert_mentions(&err, &expected);
    err
}

/// Builds a layout, breaks it with `mutate`, and checks `inspect` fails saying so;
/// returns stderr.
fn layout_fails(mutate: fn(&Layout) -> Vec<String>) -> String {
    let sb = Sandbox::new();
    let l = sb.layout();
    let expected = mutate(&l);
    let err = sb.inspect_fails(&l.0);
    assert_mentions(&err, &expected);
    err
}

/// Builds a layout, breaks it with `mutate`, and checks `inspect` succeeds with a
/// warning saying what was skipped, which the listing leaves out; returns stdout.
fn layout_warns(mutate: fn(&Layout) -> Vec<String>) -> String {
    let sb = Sandbox::new();
    let l = sb.layout();
    let expected: Vec<String> = mutate(&l)
        .into_iter()
        .map(|w| format!("warning: {w}"))
        .collect();
    let (out, err) = sb.inspect_ok(&l.0);
    assert_mentions(&err, &expected);
    assert!(!out.contains("escape"), "{out}");
    out
}

// ---------------------------------------------------------------------------------
// Hostile archive entry names

#[test]
fn oci_archive_entry_named_dotdot_is_rejected() {
    archive_fails(hostile::archive_entry_named_dotdot);
}

#[test]
fn oci_archive_entry_with_absolute_name_is_rejected() {
    archive_fails(hostile::archive_entry_with_absolute_name);
}

#[test]
fn oci_archive_symlink_escaping_the_archive_root_is_rejected() {
    archive_fails(hostile::archive_symlink_escaping_the_root);
}

#[test]
fn oci_archive_hard_link_escaping_the_archive_root_is_rejected() {
    archive_fails(hostile::archive_hard_link_escaping_the_root);
}

#[test]
fn docker_archive_manifest_naming_a_layer_outside_the_archive_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.build("img.tar", "docker-archive");
    let expected = hostile::docker_manifest_naming_a_layer_outside(&ar);
    assert_mentions(&sb.inspect_fails(&ar), &expected);
}

// ---------------------------------------------------------------------------------
// Corrupt blobs

#[test]
fn truncated_layout_blob_is_reported_with_its_digest() {
    let err = layout_fails(hostile::truncated_layer_blob);
    assert!(err.contains("hint: the image is corrupt"), "{err}");
}

#[test]
fn config_blob_with_a_flipped_byte_is_a_digest_mismatch() {
    let err = layout_fails(hostile::config_with_a_flipped_byte);
    assert!(err.contains("hint: the image is corrupt"), "{err}");
}

#[test]
fn layer_blob_with_a_flipped_byte_is_a_digest_mismatch() {
    let err = layout_fails(hostile::layer_with_a_flipped_byte);
    assert!(err.contains("hint: the image is corrupt"), "{err}");
}

#[test]
fn layer_declaring_one_tib_fails_fast_as_too_large() {
    // `inspect_fails` calls anything slower than TIMEOUT a hang.
    let err = layout_fails(hostile::layer_declaring_one_tib);
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn layer_declaring_more_than_stored_fails_fast_as_truncated() {
    // `inspect_fails` calls anything slower than TIMEOUT a hang.
    layout_fails(hostile::layer_declaring_more_than_stored);
}

#[test]
fn manifest_declaring_one_tib_in_index_json_is_too_large() {
    layout_fails(hostile::manifest_declaring_one_tib);
}

#[test]
fn layout_index_json_over_8_mib_is_rejected() {
    let err = layout_fails(hostile::index_json_over_8_mib);
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn oci_archive_index_json_over_8_mib_is_rejected() {
    archive_fails(hostile::archive_index_json_over_8_mib);
}

#[test]
fn oci_archive_truncated_inside_a_blob_is_reported() {
    archive_fails(hostile::archive_truncated_inside_a_blob);
}

#[test]
fn layer_that_is_not_gzip_but_has_the_right_digest_is_rejected() {
    layout_fails(hostile::layer_that_is_not_gzip);
}

#[test]
fn config_diff_id_not_matching_the_layer_is_rejected() {
    layout_fails(hostile::diff_id_not_matching_the_layer);
}

#[test]
fn gzip_compressed_archive_is_inspected_as_the_image_it_holds() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    let gz = hostile::gzipped_archive(&ar);
    let (plain, _) = sb.inspect_ok(&ar);
    let (compressed, _) = sb.inspect_ok(&gz);
    assert_eq!(
        plain.replace(ar.to_str().unwrap(), "IMAGE"),
        compressed.replace(gz.to_str().unwrap(), "IMAGE")
    );
}

#[test]
fn layout_with_a_missing_blob_names_it() {
    layout_fails(hostile::missing_config_blob);
}

#[test]
fn oci_archive_with_a_missing_blob_names_it() {
    archive_fails(hostile::archive_missing_a_blob);
}

#[test]
fn index_digest_with_path_traversal_is_rejected_as_invalid_json() {
    layout_fails(hostile::index_digest_with_path_traversal);
}

// ---------------------------------------------------------------------------------
// Limits

#[test]
fn oci_archive_with_more_than_100000_entries_is_rejected() {
    archive_fails(hostile::archive_with_more_than_100000_entries);
}

#[test]
fn layer_entry_declaring_17_gib_hits_the_uncompressed_limit() {
    layout_fails(hostile::layer_entry_declaring_17_gib);
}

#[test]
fn nested_index_fan_out_does_not_multiply_the_work() {
    // index.json -> I3 -> 40 x I2 -> 40 x I1 -> 40 x the one manifest: 64,000 images
    // that are all the same 4 blobs. A reader that checks each blob once, or caps the
    // number of images, finishes at once; one that walks every path does not.
    let sb = Sandbox::new();
    let l = sb.layout();
    l.nest_indexes(3, 40);
    let o = sb
        .try_inspect(&l.0, &["--no-files"], Duration::from_secs(60))
        .expect("inspect of a 4-blob image took over 60 s");
    let err = stderr(&o);
    assert!(
        matches!(o.status.code(), Some(0 | 2)),
        "{}: {err}",
        o.status
    );
    assert!(!err.contains("panicked"), "{err}");
}

// ---------------------------------------------------------------------------------
// Special files in a layout

#[test]
fn layout_blob_that_is_a_fifo_is_rejected_without_hanging() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let expected = hostile::config_blob_that_is_a_fifo(&l);
    let o = sb
        .try_inspect(&l.0, &[], Duration::from_secs(20))
        .expect("inspect hung on a FIFO blob");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_mentions(&err, &expected);
}

// ---------------------------------------------------------------------------------
// Hostile paths inside layers: skipped with a warning, never written

#[test]
fn layer_entry_escaping_with_dotdot_is_skipped_with_a_warning() {
    let out = layout_warns(hostile::layer_entry_escaping_with_dotdot);
    assert!(out.contains("/usr/local/bin/hello"), "{out}");
}

#[test]
fn layer_hard_link_escaping_with_dotdot_is_skipped_with_a_warning_naming_it() {
    layout_warns(hostile::layer_hard_link_escaping_with_dotdot);
}

#[test]
fn layer_with_a_gnu_long_name_declaring_5_gib_is_refused_at_its_header() {
    layout_fails(hostile::layer_with_a_gnu_long_name_declaring_5_gib);
}

#[test]
fn layer_with_a_pax_header_declaring_5_gib_is_refused_at_its_header() {
    layout_fails(hostile::layer_with_a_pax_header_declaring_5_gib);
}

#[test]
fn layer_with_10000_nested_directories_is_refused_past_path_max() {
    layout_fails(hostile::layer_with_10000_nested_directories);
}

#[test]
fn symlink_with_300000_components_is_refused() {
    layout_fails(hostile::symlink_with_300000_components);
}
