//! Hostile and corrupt images given to the reader (`plinth inspect`).
//!
//! Each test builds a real image with `plinth build`, then breaks it or crafts a hostile
//! variant. Where a test wants exactly one thing wrong, everything above the change is
//! re-digested and re-written (layer, config, manifest, `index.json`), so that the
//! reader has to find that one thing. Every run must end without a panic, with exit code
//! 2 (or 0 where the reader skips an entry and warns), name the problem on stderr, and
//! leave the file system alone: `inspect` runs inside the test's temp dir, which must be
//! unchanged afterwards, and no `evil` or `escape` may appear next to that temp dir.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::common::{build, copy_example, plinth, stderr, stdout};

/// How long any `inspect` in this file may take before the test calls it a hang.
const TIMEOUT: Duration = Duration::from_secs(60);
const INDEX_MEDIA: &str = "application/vnd.oci.image.index.v1+json";

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
        std::fs::create_dir_all(dir.path().join("work/a/b")).unwrap();
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

/// Every path under `dir` with its type and size.
fn tree(dir: &Path) -> BTreeSet<(PathBuf, String, u64)> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                todo.push(p.clone());
            }
            out.insert((p, format!("{:?}", m.file_type()), m.len()));
        }
    }
    out
}

/// Names in `dir` that a traversal in these tests would create.
fn escapees(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("evil") || n.contains("escape"))
        .collect()
}

/// Runs `cmd` with stdin closed; `None` if it was still running after `timeout` (it is
/// killed then).
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > timeout {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    status.map(|status| Output {
        status,
        stdout,
        stderr,
    })
}

// ---------------------------------------------------------------------------------
// Bytes: digests, gzip, tar entries written by hand

fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap()
}

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    flate2::read::GzDecoder::new(b).read_to_end(&mut v).unwrap();
    v
}

/// A GNU tar header with `name` and `link` written byte for byte: `tar::Builder`
/// refuses `..` and absolute names, which is what these tests need.
pub fn raw_header(name: &str, kind: tar::EntryType, link: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let g = h.as_gnu_mut().unwrap();
    g.name[..name.len()].copy_from_slice(name.as_bytes());
    g.linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    h
}

/// The entries of a tar (headers as stored, and data).
fn tar_entries(bytes: &[u8]) -> Vec<(tar::Header, Vec<u8>)> {
    let mut ar = tar::Archive::new(bytes);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (h, data)
        })
        .collect()
}

/// Writes entries back as a tar, headers verbatim.
pub fn tar_bytes(entries: &[(tar::Header, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, data) in entries {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

fn entry_name(h: &tar::Header) -> String {
    String::from_utf8_lossy(&h.path_bytes()).into_owned()
}

/// Rewrites the tar file at `path` through `edit`.
fn edit_tar(path: &Path, edit: impl FnOnce(&mut Vec<(tar::Header, Vec<u8>)>)) {
    let mut entries = tar_entries(&std::fs::read(path).unwrap());
    edit(&mut entries);
    std::fs::write(path, tar_bytes(&entries)).unwrap();
}

/// Replaces an entry's data, fixing its header's size.
fn set_entry(entries: &mut [(tar::Header, Vec<u8>)], name: &str, data: Vec<u8>) {
    let (h, d) = entries
        .iter_mut()
        .find(|(h, _)| entry_name(h) == name)
        .unwrap_or_else(|| panic!("no `{name}` in the archive"));
    h.set_size(data.len() as u64);
    h.set_cksum();
    *d = data;
}

/// The name of the largest entry (an image's files layer).
fn largest_entry(entries: &[(tar::Header, Vec<u8>)]) -> String {
    let (h, _) = entries.iter().max_by_key(|(_, d)| d.len()).unwrap();
    entry_name(h)
}

// ---------------------------------------------------------------------------------
// An OCI layout that the tests edit consistently

struct Layout(PathBuf);

impl Layout {
    fn blob(&self, digest: &str) -> PathBuf {
        self.0.join("blobs/sha256").join(hex_of(digest))
    }

    fn json(path: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn index(&self) -> Value {
        Self::json(&self.0.join("index.json"))
    }

    fn manifest(&self) -> Value {
        let idx = self.index();
        Self::json(&self.blob(idx["manifests"][0]["digest"].as_str().unwrap()))
    }

    fn config(&self) -> Value {
        Self::json(&self.blob(self.manifest()["config"]["digest"].as_str().unwrap()))
    }

    /// Digest of layer `i` (0 holds the accounts, 1 the files).
    fn layer(&self, i: usize) -> String {
        self.manifest()["layers"][i]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn config_digest(&self) -> String {
        self.manifest()["config"]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Stores a blob; returns its digest and size.
    fn put(&self, bytes: &[u8]) -> (String, u64) {
        let d = sha256(bytes);
        std::fs::write(self.blob(&d), bytes).unwrap();
        (d, bytes.len() as u64)
    }

    /// Stores `manifest` and points `index.json` at it.
    fn set_manifest(&self, manifest: &Value) {
        let (d, n) = self.put(&serde_json::to_vec(manifest).unwrap());
        let mut idx = self.index();
        idx["manifests"][0]["digest"] = json!(d);
        idx["manifests"][0]["size"] = json!(n);
        std::fs::write(self.0.join("index.json"), idx.to_string()).unwrap();
    }

    /// Stores `config`, and a manifest pointing at it, and points `index.json` at that.
    fn set_config(&self, config: &Value) {
        let (d, n) = self.put(&serde_json::to_vec(config).unwrap());
        let mut m = self.manifest();
        m["config"]["digest"] = json!(d);
        m["config"]["size"] = json!(n);
        self.set_manifest(&m);
    }

    /// The uncompressed tar of layer `i`.
    fn layer_tar(&self, i: usize) -> Vec<u8> {
        gunzip(&std::fs::read(self.blob(&self.layer(i))).unwrap())
    }

    /// Replaces layer `i` with `blob` as stored and `diff_id` in the config, re-writing
    /// config, manifest and index; returns the new layer digest.
    fn replace_layer(&self, i: usize, blob: &[u8], diff_id: &str) -> String {
        let (d, n) = self.put(blob);
        let mut config = self.config();
        config["rootfs"]["diff_ids"][i] = json!(diff_id);
        self.set_config(&config);
        let mut m = self.manifest();
        m["layers"][i]["digest"] = json!(d);
        m["layers"][i]["size"] = json!(n);
        self.set_manifest(&m);
        d
    }

    /// Replaces layer `i` with the uncompressed tar `tar`, gzipped, diff_id updated.
    fn replace_layer_tar(&self, i: usize, tar: &[u8]) -> String {
        self.replace_layer(i, &gzip(tar), &sha256(tar))
    }
}

/// Appends entries to a tar (dropping its end-of-archive blocks).
fn tar_with(tar: &[u8], extra: Vec<(tar::Header, Vec<u8>)>) -> Vec<u8> {
    let mut entries = tar_entries(tar);
    entries.extend(extra);
    tar_bytes(&entries)
}

// ---------------------------------------------------------------------------------
// Hostile archive entry names

#[test]
fn oci_archive_entry_named_dotdot_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.build("img.tar", "oci-archive");
    edit_tar(&ar, |e| {
        e.push((
            raw_header("../evil", tar::EntryType::Regular, "", 5),
            b"pwned".to_vec(),
        ));
    });
    let err = sb.inspect_fails(&ar);
    assert!(err.contains("`../evil`"), "{err}");
    assert!(err.contains("escapes the archive root"), "{err}");
    assert!(err.contains(&ar.display().to_string()), "{err}");
}

#[test]
fn oci_archive_entry_with_absolute_name_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.build("img.tar", "oci-archive");
    edit_tar(&ar, |e| {
        let data = b"root::0:0:root:/root:/bin/sh\n".to_vec();
        let h = raw_header(
            "/etc/passwd",
            tar::EntryType::Regular,
            "",
            data.len() as u64,
        );
        e.push((h, data));
    });
    let err = sb.inspect_fails(&ar);
    assert!(err.contains("`/etc/passwd`"), "{err}");
    assert!(err.contains("absolute path"), "{err}");
}

#[test]
fn oci_archive_symlink_escaping_the_archive_root_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.build("img.tar", "oci-archive");
    edit_tar(&ar, |e| {
        let h = raw_header(
            "blobs/sha256/evil",
            tar::EntryType::Symlink,
            "../../../etc/passwd",
            0,
        );
        e.push((h, Vec::new()));
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
    let ar = sb.build("img.tar", "oci-archive");
    edit_tar(&ar, |e| {
        let h = raw_header("evil", tar::EntryType::Link, "../etc/shadow", 0);
        e.push((h, Vec::new()));
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
        let (_, data) = e
            .iter()
            .find(|(h, _)| entry_name(h) == "manifest.json")
            .unwrap();
        let mut m: Value = serde_json::from_slice(data).unwrap();
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
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(l.blob(&layer))
        .unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len / 2).unwrap();
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
    let mut bytes = std::fs::read(l.blob(&config)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(l.blob(&config), &bytes).unwrap();
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
    let mut bytes = std::fs::read(l.blob(&layer)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(l.blob(&layer), &bytes).unwrap();
    let err = sb.inspect_fails(&l.0);
    assert!(err.contains(&layer), "{err}");
    assert!(err.contains("does not match its digest"), "{err}");
    assert!(err.contains("hint: the image is corrupt"), "{err}");
}

#[test]
fn layer_declaring_one_tib_fails_fast_as_too_large() {
    let sb = Sandbox::new();
    let l = sb.layout();
    let layer = l.layer(1);
    let mut m = l.manifest();
    m["layers"][1]["size"] = json!(1u64 << 40);
    l.set_manifest(&m);
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
    let mut m = l.manifest();
    m["layers"][1]["size"] = json!(16u64 << 30);
    l.set_manifest(&m);
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
    std::fs::write(l.0.join("index.json"), idx.to_string()).unwrap();
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
    std::fs::write(l.0.join("index.json"), &idx).unwrap();
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
    let ar = sb.build("img.tar", "oci-archive");
    edit_tar(&ar, |e| {
        let (_, data) = e
            .iter()
            .find(|(h, _)| entry_name(h) == "index.json")
            .unwrap();
        let mut idx = data.clone();
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
    let ar = sb.build("img.tar", "oci-archive");
    let bytes = std::fs::read(&ar).unwrap();
    let layer = largest_entry(&tar_entries(&bytes));
    let mut a = tar::Archive::new(&bytes[..]);
    let (pos, size) = a
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| entry_name(e.header()) == layer)
        .map(|e| (e.raw_file_position(), e.size()))
        .unwrap();
    let cut = pos + size / 2;
    std::fs::write(&ar, &bytes[..cut as usize]).unwrap();
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
    let diff_id = l.config()["rootfs"]["diff_ids"][1]
        .as_str()
        .unwrap()
        .to_string();
    let layer = l.replace_layer(1, &junk, &diff_id);
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
    let ar = sb.build("img.tar", "oci-archive");
    let gz = sb.work().join("img.tar.gz");
    std::fs::write(&gz, gzip(&std::fs::read(&ar).unwrap())).unwrap();
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
    std::fs::remove_file(l.blob(&config)).unwrap();
    let err = sb.inspect_fails(&l.0);
    assert!(
        err.contains(&format!("blob {config} is missing from OCI layout")),
        "{err}"
    );
}

#[test]
fn oci_archive_with_a_missing_blob_names_it() {
    let sb = Sandbox::new();
    let ar = sb.build("img.tar", "oci-archive");
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
    std::fs::write(l.0.join("index.json"), idx.to_string()).unwrap();
    let err = sb.inspect_fails(&l.0);
    assert!(err.contains("index.json is not valid JSON"), "{err}");
}

// ---------------------------------------------------------------------------------
// Limits

#[test]
fn oci_archive_with_more_than_100000_entries_is_rejected() {
    let sb = Sandbox::new();
    let ar = sb.build("img.tar", "oci-archive");
    edit_tar(&ar, |e| {
        for i in 0..100_000 {
            let h = raw_header(&format!("pad/{i}"), tar::EntryType::Regular, "", 0);
            e.push((h, Vec::new()));
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
    let mut desc = l.index()["manifests"][0].clone();
    desc.as_object_mut().unwrap().remove("annotations");
    for _ in 0..3 {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA,
            "manifests": vec![desc.clone(); 40],
        });
        let (d, n) = l.put(&serde_json::to_vec(&index).unwrap());
        desc = json!({"mediaType": INDEX_MEDIA, "digest": d, "size": n});
    }
    let idx = json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA, "manifests": [desc]});
    std::fs::write(l.0.join("index.json"), idx.to_string()).unwrap();
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
    std::fs::remove_file(&path).unwrap();
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
    let tar = tar_with(
        &l.layer_tar(1),
        vec![(
            raw_header("../escape", tar::EntryType::Regular, "", 5),
            b"pwned".to_vec(),
        )],
    );
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
        vec![(
            raw_header("etc/escape", tar::EntryType::Link, "../../etc/shadow", 0),
            Vec::new(),
        )],
    );
    l.replace_layer_tar(1, &tar);
    let (out, err) = sb.inspect_ok(&l.0);
    assert!(err.contains("warning: skipped `etc/escape`"), "{err}");
    assert!(!out.contains("escape"), "{out}");
}
