//! Hostile and corrupt images given to the library's read path: the same mutations as
//! the CLI's `reader` tests (`crates/plinth/tests/cli/reader.rs`), checked one layer
//! down.
//!
//! Each test writes a real image through the library, then breaks it or crafts a hostile
//! variant with `plinth_oci::testing::hostile`. Where a test wants exactly one thing wrong,
//! everything above the change is re-digested (layer, config, manifest, `index.json`),
//! so that the reader has to find that one thing. Every read must end without a panic or
//! a hang, with an error naming the problem (or warnings, where the reader skips an
//! entry), and leave the file system alone: the test's temp dir must be unchanged
//! afterwards, and no `evil` or `escape` may appear next to it.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use plinth_oci::OutputFormat;
use plinth_oci::testing::{Layout, assert_mentions, escapees, hostile, tree};

use crate::{HELLO, Read, read_image, sample_image};

/// How long a read may take before the test calls it a hang.
const TIMEOUT: Duration = Duration::from_secs(60);

type Outcome = Result<Read, (String, Option<String>)>;

/// A temp dir for one test; images are written in `DIR/work/a/b`.
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

    /// Writes the sample image as `format` into `work/NAME` and returns that path.
    fn build(&self, name: &str, format: OutputFormat) -> PathBuf {
        let out = self.work().join(name);
        sample_image(&out, format);
        out
    }

    fn layout(&self) -> Layout {
        Layout(self.build("img", OutputFormat::Layout))
    }

    fn archive(&self) -> PathBuf {
        self.build("img.tar", OutputFormat::OciArchive)
    }

    /// Reads `target` on another thread: `None` if it was still running after
    /// `timeout`. Checks that it panicked not and wrote nothing anywhere.
    fn try_read(&self, target: &Path, timeout: Duration) -> Option<Outcome> {
        let parent = self.dir.path().parent().unwrap().to_path_buf();
        let before = (tree(self.dir.path()), escapees(&parent));
        let (tx, rx) = mpsc::channel();
        let t = target.to_path_buf();
        let reader = std::thread::spawn(move || {
            let _ = tx.send(read_image(&t));
        });
        let outcome = match rx.recv_timeout(timeout) {
            Ok(o) => Some(o),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = reader.join();
                panic!("the reader panicked on {}", target.display())
            }
        };
        assert_eq!(
            tree(self.dir.path()),
            before.0,
            "the reader changed files in its temp dir"
        );
        assert_eq!(
            escapees(&parent),
            before.1,
            "an `evil`/`escape` file appeared in {}",
            parent.display()
        );
        outcome
    }

    fn read(&self, target: &Path) -> Outcome {
        self.try_read(target, TIMEOUT)
            .unwrap_or_else(|| panic!("reading {} hung", target.display()))
    }

    /// The read must fail; returns the error's chain and hint.
    fn read_fails(&self, target: &Path) -> (String, Option<String>) {
        match self.read(target) {
            Ok(r) => panic!("{} was read without error: {r:?}", target.display()),
            Err(e) => e,
        }
    }

    /// The read must succeed.
    fn read_ok(&self, target: &Path) -> Read {
        self.read(target)
            .unwrap_or_else(|(e, _)| panic!("reading {} failed: {e}", target.display()))
    }
}

fn corrupt_hint(hint: &Option<String>) -> bool {
    hint.as_deref()
        .is_some_and(|h| h.contains("the image is corrupt"))
}

/// Builds an oci-archive, breaks it with `mutate`, and checks the read fails saying so.
fn archive_fails(mutate: fn(&Path) -> Vec<String>) -> (String, Option<String>) {
    let sb = Sandbox::new();
    let ar = sb.archive();
    let expected = mutate(&ar);
    let (err, hint) = sb.read_fails(&ar);
    assert_mentions(&err, &expected);
    (err, hint)
}

/// Builds a layout, breaks it with `mutate`, and checks the read fails saying so.
fn layout_fails(mutate: fn(&Layout) -> Vec<String>) -> (String, Option<String>) {
    let sb = Sandbox::new();
    let l = sb.layout();
    let expected = mutate(&l);
    let (err, hint) = sb.read_fails(&l.0);
    assert_mentions(&err, &expected);
    (err, hint)
}

/// Builds a layout, breaks it with `mutate`, and checks the read succeeds with warnings
/// saying what was skipped; returns what was read.
fn layout_warns(mutate: fn(&Layout) -> Vec<String>) -> Read {
    let sb = Sandbox::new();
    let l = sb.layout();
    let expected = mutate(&l);
    let r = sb.read_ok(&l.0);
    assert_mentions(&r.warnings.join("\n"), &expected);
    assert!(
        !r.files.iter().any(|f| f.contains("escape")),
        "{:?}",
        r.files
    );
    r
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
    let ar = sb.build("img.tar", OutputFormat::DockerArchive);
    let expected = hostile::docker_manifest_naming_a_layer_outside(&ar);
    let (err, _) = sb.read_fails(&ar);
    assert_mentions(&err, &expected);
}

// ---------------------------------------------------------------------------------
// Corrupt blobs

#[test]
fn truncated_layout_blob_is_reported_with_its_digest() {
    let (_, hint) = layout_fails(hostile::truncated_layer_blob);
    assert!(corrupt_hint(&hint), "{hint:?}");
}

#[test]
fn config_blob_with_a_flipped_byte_is_a_digest_mismatch() {
    let (_, hint) = layout_fails(hostile::config_with_a_flipped_byte);
    assert!(corrupt_hint(&hint), "{hint:?}");
}

#[test]
fn layer_blob_with_a_flipped_byte_is_a_digest_mismatch() {
    let (_, hint) = layout_fails(hostile::layer_with_a_flipped_byte);
    assert!(corrupt_hint(&hint), "{hint:?}");
}

#[test]
fn layer_declaring_one_tib_fails_fast_as_too_large() {
    let (err, hint) = layout_fails(hostile::layer_declaring_one_tib);
    assert!(hint.is_some(), "{err}");
}

#[test]
fn layer_declaring_more_than_stored_fails_fast_as_truncated() {
    layout_fails(hostile::layer_declaring_more_than_stored);
}

#[test]
fn manifest_declaring_one_tib_in_index_json_is_too_large() {
    layout_fails(hostile::manifest_declaring_one_tib);
}

#[test]
fn layout_index_json_over_8_mib_is_rejected() {
    let (err, hint) = layout_fails(hostile::index_json_over_8_mib);
    assert!(hint.is_some(), "{err}");
}

#[test]
fn oci_archive_index_json_over_8_mib_is_rejected() {
    archive_fails(hostile::archive_index_json_over_8_mib);
}

#[test]
fn oci_archive_truncated_inside_a_blob_is_reported() {
    let (_, hint) = archive_fails(hostile::archive_truncated_inside_a_blob);
    assert!(corrupt_hint(&hint), "{hint:?}");
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
fn gzip_compressed_archive_is_read_as_the_image_it_holds() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    let gz = hostile::gzipped_archive(&ar);
    let (plain, compressed) = (sb.read_ok(&ar), sb.read_ok(&gz));
    assert_eq!(plain.files, compressed.files);
    assert!(!compressed.files.is_empty());
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
    let (err, hint) = archive_fails(hostile::archive_with_more_than_100000_entries);
    assert!(hint.is_some(), "{err}");
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
    // Either outcome is fine (a cap on images is an error); a hang or a panic is not.
    let outcome = sb
        .try_read(&l.0, TIMEOUT)
        .expect("reading a 4-blob image took over 60 s");
    if let Err((err, _)) = outcome {
        assert!(!err.is_empty());
    }
}

// ---------------------------------------------------------------------------------
// Special files in a layout

#[test]
fn layout_blob_that_is_a_fifo_is_rejected_without_hanging() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let expected = hostile::config_blob_that_is_a_fifo(&l);
    let (err, _) = sb
        .try_read(&l.0, Duration::from_secs(20))
        .expect("the reader hung on a FIFO blob")
        .expect_err("a FIFO blob was read");
    assert_mentions(&err, &expected);
}

// ---------------------------------------------------------------------------------
// Hostile paths inside layers: skipped with a warning, never written

#[test]
fn layer_entry_escaping_with_dotdot_is_skipped_with_a_warning() {
    let r = layout_warns(hostile::layer_entry_escaping_with_dotdot);
    assert!(r.files.iter().any(|f| f == HELLO), "{:?}", r.files);
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

/// 2,000 nested directories (paths up to 4,000 bytes) read in time linear in the layer:
/// the squash used to look up every parent of every entry.
#[test]
fn layer_with_2000_nested_directories_within_path_max_reads() {
    let sb = Sandbox::new();
    let l = sb.layout();
    hostile::nested_directories(&l, 2000);
    let read = sb.read_ok(&l.0);
    assert!(
        read.files.iter().any(|f| f.len() > 3990),
        "{:?}",
        read.files.len()
    );
}

#[test]
fn symlink_with_300000_components_is_refused() {
    layout_fails(hostile::symlink_with_300000_components);
}

/// A small tar followed by 20 GiB of zeros was inflated to the uncompressed limit before
/// it was refused; what follows a tar's end is bounded to its padding.
#[test]
fn layer_going_on_after_its_tar_ends_is_refused_at_once() {
    layout_fails(hostile::layer_going_on_after_its_tar_ends);
}
