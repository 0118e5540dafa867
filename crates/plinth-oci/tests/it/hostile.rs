//! Hostile and corrupt images given to the library's read path: the same mutations as
//! the CLI's `reader` tests (`crates/plinth/tests/cli/reader.rs`), checked one layer
//! down.
//!
//! Each test writes a real image through the library, then breaks it or crafts a hostile
//! variant with `plinth_oci::testing`. Where a test wants exactly one thing wrong,
//! everything above the change is re-digested (layer, config, manifest, `index.json`),
//! so that the reader has to find that one thing. Every read must end without a panic or
//! a hang, with an error naming the problem (or warnings, where the reader skips an
//! entry), and leave the file system alone: the test's temp dir must be unchanged
//! afterwards, and no `evil` or `escape` may appear next to it.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use plinth_oci::OutputFormat;
use plinth_oci::testing::{
    Layout, edit_tar, entry_data, entry_name, escapees, file_entry, flip_a_byte, gzip,
    largest_entry, link_entry, raw_header, read, set_entry, sha256, tar_with, tree,
    truncate_inside_largest_entry, truncate_to_half, write,
};
use serde_json::{Value, json};

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

// ---------------------------------------------------------------------------------
// Hostile archive entry names

#[test]
fn oci_archive_entry_named_dotdot_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    edit_tar(&ar, |e| e.push(file_entry("../evil", b"pwned")));
    let (err, _) = sb.read_fails(&ar);
    assert!(err.contains("`../evil`"), "{err}");
    assert!(err.contains("escapes the archive root"), "{err}");
    assert!(err.contains(&ar.display().to_string()), "{err}");
}

#[test]
fn oci_archive_entry_with_absolute_name_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    edit_tar(&ar, |e| {
        e.push(file_entry("/etc/passwd", b"root::0:0:root:/root:/bin/sh\n"))
    });
    let (err, _) = sb.read_fails(&ar);
    assert!(err.contains("`/etc/passwd`"), "{err}");
    assert!(err.contains("absolute path"), "{err}");
}

#[test]
fn oci_archive_symlink_escaping_the_archive_root_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    edit_tar(&ar, |e| {
        e.push(link_entry(
            "blobs/sha256/evil",
            tar::EntryType::Symlink,
            "../../../etc/passwd",
        ))
    });
    let (err, _) = sb.read_fails(&ar);
    assert!(err.contains("`../../../etc/passwd`"), "{err}");
    assert!(
        err.contains("link target escapes the archive root"),
        "{err}"
    );
}

#[test]
fn oci_archive_hard_link_escaping_the_archive_root_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    edit_tar(&ar, |e| {
        e.push(link_entry("evil", tar::EntryType::Link, "../etc/shadow"))
    });
    let (err, _) = sb.read_fails(&ar);
    assert!(err.contains("`../etc/shadow`"), "{err}");
    assert!(
        err.contains("link target escapes the archive root"),
        "{err}"
    );
}

#[test]
fn docker_archive_manifest_naming_a_layer_outside_the_archive_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.build("img.tar", OutputFormat::DockerArchive);
    edit_tar(&ar, |e| {
        let mut m: Value = serde_json::from_slice(entry_data(e, "manifest.json")).unwrap();
        m[0]["Layers"][1] = json!("../evil.tar");
        set_entry(e, "manifest.json", serde_json::to_vec(&m).unwrap());
    });
    let (err, _) = sb.read_fails(&ar);
    assert!(err.contains("`../evil.tar`"), "{err}");
    assert!(err.contains("escapes the archive root"), "{err}");
}

// ---------------------------------------------------------------------------------
// Corrupt blobs

#[test]
fn truncated_layout_blob_is_reported_with_its_digest() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let layer = l.layer(1);
    let len = truncate_to_half(&l.blob(&layer));
    let (err, hint) = sb.read_fails(&l.0);
    assert!(
        err.contains(&format!(
            "blob {layer} is truncated: expected {len} bytes, found {}",
            len / 2
        )),
        "{err}"
    );
    assert!(corrupt_hint(&hint), "{hint:?}");
}

#[test]
fn config_blob_with_a_flipped_byte_is_a_digest_mismatch() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let config = l.config_digest();
    let bytes = flip_a_byte(&l.blob(&config));
    let (err, hint) = sb.read_fails(&l.0);
    assert!(
        err.contains(&format!(
            "blob {config} does not match its digest: content hashes to {}",
            sha256(&bytes)
        )),
        "{err}"
    );
    assert!(corrupt_hint(&hint), "{hint:?}");
}

#[test]
fn layer_blob_with_a_flipped_byte_is_a_digest_mismatch() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let layer = l.layer(1);
    let bytes = flip_a_byte(&l.blob(&layer));
    let (err, hint) = sb.read_fails(&l.0);
    assert!(
        err.contains(&format!(
            "blob {layer} does not match its digest: content hashes to {}",
            sha256(&bytes)
        )),
        "{err}"
    );
    assert!(corrupt_hint(&hint), "{hint:?}");
}

#[test]
fn layer_declaring_one_tib_fails_fast_as_too_large() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let layer = l.layer(1);
    l.declare_layer_size(1, 1 << 40);
    let (err, hint) = sb.read_fails(&l.0);
    assert!(
        err.contains(&format!(
            "blob {layer} declares 1099511627776 bytes, more than the limit"
        )),
        "{err}"
    );
    assert!(hint.is_some(), "{err}");
}

#[test]
fn layer_declaring_more_than_stored_fails_fast_as_truncated() {
    // 16 GiB: under the layer limit, so only the stored length can stop the read.
    let sb = Sandbox::new();
    let l = sb.layout();
    let layer = l.layer(1);
    l.declare_layer_size(1, 16 << 30);
    let (err, _) = sb.read_fails(&l.0);
    assert!(
        err.contains(&format!(
            "blob {layer} is truncated: expected 17179869184 bytes"
        )),
        "{err}"
    );
}

#[test]
fn manifest_declaring_one_tib_in_index_json_is_too_large() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let mut idx = l.index();
    let manifest = idx["manifests"][0]["digest"].as_str().unwrap().to_string();
    idx["manifests"][0]["size"] = json!(1u64 << 40);
    l.set_index(&idx);
    let (err, _) = sb.read_fails(&l.0);
    assert!(
        err.contains(&format!(
            "blob {manifest} declares 1099511627776 bytes, more than the limit of 8388608 bytes"
        )),
        "{err}"
    );
}

#[test]
fn layout_index_json_over_8_mib_is_rejected() {
    let sb = Sandbox::new();
    let l = sb.layout();
    // Valid JSON (trailing whitespace) so that only the limit can reject it.
    let mut idx = l.index().to_string().into_bytes();
    idx.resize(9 << 20, b' ');
    write(&l.index_path(), &idx);
    let (err, hint) = sb.read_fails(&l.0);
    assert!(
        err.contains("index.json is 9437184 bytes, more than the 8388608 accepted"),
        "{err}"
    );
    assert!(hint.is_some(), "{err}");
}

#[test]
fn oci_archive_index_json_over_8_mib_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    edit_tar(&ar, |e| {
        let mut idx = entry_data(e, "index.json").to_vec();
        idx.resize(9 << 20, b' ');
        set_entry(e, "index.json", idx);
    });
    let (err, _) = sb.read_fails(&ar);
    assert!(
        err.contains("`index.json` in")
            && err.contains("is 9437184 bytes, more than the 8388608 accepted"),
        "{err}"
    );
}

#[test]
fn oci_archive_truncated_inside_a_blob_is_reported() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    let (layer, size) = truncate_inside_largest_entry(&ar);
    let (err, hint) = sb.read_fails(&ar);
    assert!(
        err.contains(&format!(
            "archive {} is truncated inside `{layer}`: {size} bytes declared, {} present",
            ar.display(),
            size / 2
        )),
        "{err}"
    );
    assert!(corrupt_hint(&hint), "{hint:?}");
}

#[test]
fn layer_that_is_not_gzip_but_has_the_right_digest_is_rejected() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let junk = b"this is not gzip, but its digest is right\n".repeat(100);
    let layer = l.replace_layer(1, &junk, &l.diff_id(1));
    let (err, _) = sb.read_fails(&l.0);
    assert!(err.contains(&format!("layer {layer}")), "{err}");
    assert!(err.contains("gzip"), "{err}");
}

#[test]
fn config_diff_id_not_matching_the_layer_is_rejected() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let layer = l.layer(1);
    let bogus = sha256(b"not the layer");
    let real = sha256(&l.layer_tar(1));
    let mut config = l.config();
    config["rootfs"]["diff_ids"][1] = json!(bogus);
    l.set_config(&config);
    let (err, _) = sb.read_fails(&l.0);
    assert!(
        err.contains(&format!(
            "layer {layer} is invalid: uncompressed content hashes to {real}, but the config's diff_id is {bogus}"
        )),
        "{err}"
    );
}

#[test]
fn gzip_compressed_archive_says_decompress_first() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    let gz = sb.work().join("img.tar.gz");
    write(&gz, &gzip(&read(&ar)));
    let (err, _) = sb.read_fails(&gz);
    assert!(err.contains(&gz.display().to_string()), "{err}");
    assert!(
        err.contains("is a compressed archive; decompress it first"),
        "{err}"
    );
}

#[test]
fn layout_with_a_missing_blob_names_it() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let config = l.config_digest();
    fs_err::remove_file(l.blob(&config)).unwrap();
    let (err, _) = sb.read_fails(&l.0);
    assert!(
        err.contains(&format!("blob {config} is missing from OCI layout")),
        "{err}"
    );
}

#[test]
fn oci_archive_with_a_missing_blob_names_it() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    let mut layer = String::new();
    edit_tar(&ar, |e| {
        layer = largest_entry(e);
        e.retain(|(h, _)| entry_name(h) != layer);
    });
    let digest = format!("sha256:{}", layer.rsplit('/').next().unwrap());
    let (err, _) = sb.read_fails(&ar);
    assert!(
        err.contains(&format!("blob {digest} is missing from oci-archive")),
        "{err}"
    );
}

#[test]
fn index_digest_with_path_traversal_is_rejected_as_invalid_json() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let mut idx = l.index();
    idx["manifests"][0]["digest"] = json!("sha256:../../../../etc/passwd");
    l.set_index(&idx);
    let (err, _) = sb.read_fails(&l.0);
    assert!(err.contains("index.json is not valid JSON"), "{err}");
}

// ---------------------------------------------------------------------------------
// Limits

#[test]
fn oci_archive_with_more_than_100000_entries_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    edit_tar(&ar, |e| {
        for i in 0..100_000 {
            e.push(file_entry(&format!("pad/{i}"), b""));
        }
    });
    let (err, hint) = sb.read_fails(&ar);
    assert!(err.contains("holds more than 100000 entries"), "{err}");
    assert!(err.contains(&ar.display().to_string()), "{err}");
    assert!(hint.is_some(), "{err}");
}

#[test]
fn layer_entry_declaring_17_gib_hits_the_uncompressed_limit() {
    // One header and no data: cheap to build, and the digests all match.
    let sb = Sandbox::new();
    let l = sb.layout();
    let tar = raw_header("huge", tar::EntryType::Regular, "", 17 << 30)
        .as_bytes()
        .to_vec();
    let layer = l.replace_layer_tar(1, &tar);
    let (err, _) = sb.read_fails(&l.0);
    assert!(
        err.contains("the layers declare more than 17179869184 uncompressed bytes")
            && err.contains(&format!("`huge` in layer {layer}")),
        "{err}"
    );
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
    let config = l.config_digest();
    let path = l.blob(&config);
    fs_err::remove_file(&path).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success());
    let (err, _) = sb
        .try_read(&l.0, Duration::from_secs(20))
        .expect("the reader hung on a FIFO blob")
        .expect_err("a FIFO blob was read");
    assert!(
        err.contains(plinth_oci::testing::hex_of(&config)) && err.contains("not a regular file"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------
// Hostile paths inside layers: skipped with a warning, never written

#[test]
fn layer_entry_escaping_with_dotdot_is_skipped_with_a_warning() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let tar = tar_with(&l.layer_tar(1), vec![file_entry("../escape", b"pwned")]);
    let layer = l.replace_layer_tar(1, &tar);
    let r = sb.read_ok(&l.0);
    assert!(
        r.warnings.iter().any(|w| w
            == &format!("skipped `../escape` in layer {layer}: `..` would escape the image root")),
        "{:?}",
        r.warnings
    );
    assert!(
        !r.files.iter().any(|f| f.contains("escape")),
        "{:?}",
        r.files
    );
    assert!(r.files.iter().any(|f| f == HELLO), "{:?}", r.files);
}

#[test]
fn layer_hard_link_escaping_with_dotdot_is_skipped_with_a_warning_naming_it() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let tar = tar_with(
        &l.layer_tar(1),
        vec![link_entry(
            "etc/escape",
            tar::EntryType::Link,
            "../../etc/shadow",
        )],
    );
    l.replace_layer_tar(1, &tar);
    let r = sb.read_ok(&l.0);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("skipped `etc/escape`")),
        "{:?}",
        r.warnings
    );
    assert!(
        !r.files.iter().any(|f| f.contains("escape")),
        "{:?}",
        r.files
    );
}
