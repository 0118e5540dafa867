//! Hostile and corrupt images given to the reader (`plinth inspect`).
//!
//! Each test builds a real image with `plinth build`, then breaks it or crafts a hostile
//! variant. Where a test wants exactly one thing wrong, everything above the change is
//! re-digested and re-written (layer, config, manifest, `index.json`), so that the
//! reader has to find that one thing. Every run must end without a panic, with exit code
//! 2 (or 0 where the reader skips an entry and warns), name the problem on stderr, and
//! leave the file system alone: `inspect` runs inside the test's temp dir, which must be
//! unchanged afterwards, and no `evil` or `escape` may appear next to that temp dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use plinth_oci::testing::{
    Layout, edit_tar, entry_data, entry_name, escapees, file_entry, flip_a_byte, gzip, hex_of,
    largest_entry, link_entry, raw_header, read, set_entry, sha256, tar_with, tree,
    truncate_inside_largest_entry, truncate_to_half, write,
};
use serde_json::{Value, json};

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

// ---------------------------------------------------------------------------------
// Hostile archive entry names

#[test]
fn oci_archive_entry_named_dotdot_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.archive();
    edit_tar(&ar, |e| e.push(file_entry("../evil", b"pwned")));
    let err = sb.inspect_fails(&ar);
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
    let err = sb.inspect_fails(&ar);
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
    let err = sb.inspect_fails(&ar);
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
    let err = sb.inspect_fails(&ar);
    assert!(err.contains("`../etc/shadow`"), "{err}");
    assert!(
        err.contains("link target escapes the archive root"),
        "{err}"
    );
}

#[test]
fn docker_archive_manifest_naming_a_layer_outside_the_archive_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.build("img.tar", "docker-archive");
    edit_tar(&ar, |e| {
        let mut m: Value = serde_json::from_slice(entry_data(e, "manifest.json")).unwrap();
        m[0]["Layers"][1] = json!("../evil.tar");
        set_entry(e, "manifest.json", serde_json::to_vec(&m).unwrap());
    });
    let err = sb.inspect_fails(&ar);
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
    let err = sb.inspect_fails(&l.0);
    assert!(
        err.contains(&format!(
            "blob {layer} is truncated: expected {len} bytes, found {}",
            len / 2
        )),
        "{err}"
    );
    assert!(err.contains("hint: the image is corrupt"), "{err}");
}

#[test]
fn config_blob_with_a_flipped_byte_is_a_digest_mismatch() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let config = l.config_digest();
    let bytes = flip_a_byte(&l.blob(&config));
    let err = sb.inspect_fails(&l.0);
    assert!(
        err.contains(&format!(
            "blob {config} does not match its digest: content hashes to {}",
            sha256(&bytes)
        )),
        "{err}"
    );
    assert!(err.contains("hint: the image is corrupt"), "{err}");
}

#[test]

fn layer_blob_with_a_flipped_byte_is_a_digest_mismatch() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let layer = l.layer(1);
    let bytes = flip_a_byte(&l.blob(&layer));
    let err = sb.inspect_fails(&l.0);
    assert!(
        err.contains(&format!(
            "blob {layer} does not match its digest: content hashes to {}",
            sha256(&bytes)
        )),
        "{err}"
    );
    assert!(err.contains("hint: the image is corrupt"), "{err}");
}

#[test]
fn layer_declaring_one_tib_fails_fast_as_too_large() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let layer = l.layer(1);
    l.declare_layer_size(1, 1 << 40);
    // `inspect_fails` calls anything slower than TIMEOUT a hang.
    let err = sb.inspect_fails(&l.0);
    assert!(
        err.contains(&format!(
            "blob {layer} declares 1099511627776 bytes, more than the limit"
        )),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn layer_declaring_more_than_stored_fails_fast_as_truncated() {
    // 16 GiB: under the layer limit, so only the stored length can stop the read.
    let sb = Sandbox::new();
    let l = sb.layout();
    let layer = l.layer(1);
    l.declare_layer_size(1, 16 << 30);
    // `inspect_fails` calls anything slower than TIMEOUT a hang.
    let err = sb.inspect_fails(&l.0);
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
    let err = sb.inspect_fails(&l.0);
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
    let err = sb.inspect_fails(&l.0);
    assert!(
        err.contains("index.json is 9437184 bytes, more than the 8388608 accepted"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
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
    let err = sb.inspect_fails(&ar);
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
    let err = sb.inspect_fails(&ar);
    assert!(
        err.contains(&format!(
            "is truncated inside `{layer}`: {size} bytes declared, {} present",
            size / 2
        )),
        "{err}"
    );
}

#[test]
fn layer_that_is_not_gzip_but_has_the_right_digest_is_rejected() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let junk = b"this is not gzip, but its digest is right\n".repeat(100);
    let layer = l.replace_layer(1, &junk, &l.diff_id(1));
    let err = sb.inspect_fails(&l.0);
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
    let err = sb.inspect_fails(&l.0);
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
    let err = sb.inspect_fails(&gz);
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
    let err = sb.inspect_fails(&l.0);
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
    let err = sb.inspect_fails(&ar);
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
    let err = sb.inspect_fails(&l.0);
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
    let err = sb.inspect_fails(&ar);
    assert!(err.contains("holds more than 100000 entries"), "{err}");
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
    let err = sb.inspect_fails(&l.0);
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
    let config = l.config_digest();
    let path = l.blob(&config);
    fs_err::remove_file(&path).unwrap();
    let st = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(st.success());
    let o = sb
        .try_inspect(&l.0, &[], Duration::from_secs(20))
        .expect("inspect hung on a FIFO blob");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(hex_of(&config)) && err.contains("not a regular file"),
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
    let (out, err) = sb.inspect_ok(&l.0);
    assert!(
        err.contains(&format!(
            "warning: skipped `../escape` in layer {layer}: `..` would escape the image root"
        )),
        "{err}"
    );
    assert!(!out.contains("escape"), "{out}");
    assert!(out.contains("/usr/local/bin/hello"), "{out}");
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
    let (out, err) = sb.inspect_ok(&l.0);
    assert!(err.contains("warning: skipped `etc/escape`"), "{err}");
    assert!(!out.contains("escape"), "{out}");
}
