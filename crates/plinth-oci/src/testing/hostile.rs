//! The ways to break an image that the readers' tests share (plinth-oci's own and the
//! CLI's): each changes the image in place and returns what a reader must say about
//! it, the fragments of its error (or, where the reader skips an entry, its warnings).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{
    Layout, edit_tar, entry_data, entry_name, file_entry, flip_a_byte, gzip, hex_of, largest_entry,
    link_entry, raw_header, read, set_entry, sha256, tar_with, truncate_inside_largest_entry,
    truncate_to_half, write,
};

// Archives (an oci-archive unless said otherwise)

/// Adds a `../evil` file.
pub fn archive_entry_named_dotdot(ar: &Path) -> Vec<String> {
    edit_tar(ar, |e| e.push(file_entry("../evil", b"pwned")));
    vec![
        "`../evil`".into(),
        "escapes the archive root".into(),
        ar.display().to_string(),
    ]
}

/// Adds a `/etc/passwd` file.
pub fn archive_entry_with_absolute_name(ar: &Path) -> Vec<String> {
    edit_tar(ar, |e| {
        e.push(file_entry("/etc/passwd", b"root::0:0:root:/root:/bin/sh\n"))
    });
    vec!["`/etc/passwd`".into(), "absolute path".into()]
}

/// Adds a blob that is a symlink to `../../../etc/passwd`.
pub fn archive_symlink_escaping_the_root(ar: &Path) -> Vec<String> {
    edit_tar(ar, |e| {
        e.push(link_entry(
            "blobs/sha256/evil",
            tar::EntryType::Symlink,
            "../../../etc/passwd",
        ))
    });
    vec![
        "`../../../etc/passwd`".into(),
        "link target escapes the archive root".into(),
    ]
}

/// Adds a hard link to `../etc/shadow`.
pub fn archive_hard_link_escaping_the_root(ar: &Path) -> Vec<String> {
    edit_tar(ar, |e| {
        e.push(link_entry("evil", tar::EntryType::Link, "../etc/shadow"))
    });
    vec![
        "`../etc/shadow`".into(),
        "link target escapes the archive root".into(),
    ]
}

/// In a docker-archive: names `../evil.tar` as layer 1 in `manifest.json`.
pub fn docker_manifest_naming_a_layer_outside(ar: &Path) -> Vec<String> {
    edit_tar(ar, |e| {
        let mut m: Value = serde_json::from_slice(entry_data(e, "manifest.json")).expect("JSON");
        m[0]["Layers"][1] = json!("../evil.tar");
        set_entry(e, "manifest.json", serde_json::to_vec(&m).expect("JSON"));
    });
    vec!["`../evil.tar`".into(), "escapes the archive root".into()]
}

/// Pads `index.json` to 9 MiB with white space (still valid JSON).
pub fn archive_index_json_over_8_mib(ar: &Path) -> Vec<String> {
    edit_tar(ar, |e| {
        let mut idx = entry_data(e, "index.json").to_vec();
        idx.resize(9 << 20, b' ');
        set_entry(e, "index.json", idx);
    });
    vec![
        "`index.json` in".into(),
        "is 9437184 bytes, more than the 8388608 accepted".into(),
    ]
}

/// Cuts the archive half-way through its largest blob.
pub fn archive_truncated_inside_a_blob(ar: &Path) -> Vec<String> {
    let (layer, size) = truncate_inside_largest_entry(ar);
    vec![format!(
        "is truncated inside `{layer}`: {size} bytes declared, {} present",
        size / 2
    )]
}

/// Drops the largest blob.
pub fn archive_missing_a_blob(ar: &Path) -> Vec<String> {
    let mut layer = String::new();
    edit_tar(ar, |e| {
        layer = largest_entry(e);
        e.retain(|(h, _)| entry_name(h) != layer);
    });
    let digest = format!("sha256:{}", layer.rsplit('/').next().unwrap_or(""));
    vec![format!("blob {digest} is missing from oci-archive")]
}

/// Adds 100,000 empty files.
pub fn archive_with_more_than_100000_entries(ar: &Path) -> Vec<String> {
    edit_tar(ar, |e| {
        for i in 0..100_000 {
            e.push(file_entry(&format!("pad/{i}"), b""));
        }
    });
    vec!["holds more than 100000 entries".into()]
}

/// Writes the archive gzipped beside it; returns that path.
pub fn gzipped_archive(ar: &Path) -> PathBuf {
    let gz = ar.with_extension("tar.gz");
    write(&gz, &gzip(&read(ar)));
    gz
}

// Layouts: layer 1 is the one that is broken

/// Cuts layer 1's blob to half its length.
pub fn truncated_layer_blob(l: &Layout) -> Vec<String> {
    let layer = l.layer(1);
    let len = truncate_to_half(&l.blob(&layer));
    vec![format!(
        "blob {layer} is truncated: expected {len} bytes, found {}",
        len / 2
    )]
}

fn flipped(l: &Layout, digest: &str) -> Vec<String> {
    let bytes = flip_a_byte(&l.blob(digest));
    vec![format!(
        "blob {digest} does not match its digest: content hashes to {}",
        sha256(&bytes)
    )]
}

/// Flips a bit in the config blob.
pub fn config_with_a_flipped_byte(l: &Layout) -> Vec<String> {
    flipped(l, &l.config_digest())
}

/// Flips a bit in layer 1's blob.
pub fn layer_with_a_flipped_byte(l: &Layout) -> Vec<String> {
    flipped(l, &l.layer(1))
}

/// The manifest declares layer 1 as 1 TiB.
pub fn layer_declaring_one_tib(l: &Layout) -> Vec<String> {
    l.declare_layer_size(1, 1 << 40);
    vec![format!(
        "blob {} declares 1099511627776 bytes, more than the limit",
        l.layer(1)
    )]
}

/// The manifest declares layer 1 as 16 GiB: under the layer limit, so only the
/// stored length can stop the read.
pub fn layer_declaring_more_than_stored(l: &Layout) -> Vec<String> {
    l.declare_layer_size(1, 16 << 30);
    vec![format!(
        "blob {} is truncated: expected 17179869184 bytes",
        l.layer(1)
    )]
}

/// `index.json` declares the manifest as 1 TiB.
pub fn manifest_declaring_one_tib(l: &Layout) -> Vec<String> {
    let mut idx = l.index();
    let manifest = idx["manifests"][0]["digest"]
        .as_str()
        .expect("a digest")
        .to_string();
    idx["manifests"][0]["size"] = json!(1u64 << 40);
    l.set_index(&idx);
    vec![format!(
        "blob {manifest} declares 1099511627776 bytes, more than the limit of 8388608 bytes"
    )]
}

/// Pads `index.json` to 9 MiB with white space (still valid JSON).
pub fn index_json_over_8_mib(l: &Layout) -> Vec<String> {
    let mut idx = l.index().to_string().into_bytes();
    idx.resize(9 << 20, b' ');
    write(&l.index_path(), &idx);
    vec!["index.json is 9437184 bytes, more than the 8388608 accepted".into()]
}

/// Layer 1 becomes text that is not gzip, with the right digest and diff_id.
pub fn layer_that_is_not_gzip(l: &Layout) -> Vec<String> {
    let junk = b"this is not gzip, but its digest is right\n".repeat(100);
    let layer = l.replace_layer(1, &junk, &l.diff_id(1));
    vec![format!("layer {layer}"), "gzip".into()]
}

/// The config's diff_id for layer 1 is another digest.
pub fn diff_id_not_matching_the_layer(l: &Layout) -> Vec<String> {
    let layer = l.layer(1);
    let bogus = sha256(b"not the layer");
    let real = sha256(&l.layer_tar(1));
    let mut config = l.config();
    config["rootfs"]["diff_ids"][1] = json!(bogus);
    l.set_config(&config);
    vec![format!(
        "layer {layer} does not match its diff_id: the config names {bogus}, the uncompressed content hashes to {real}"
    )]
}

/// Layer 1 gains bytes after its tar's end-of-archive blocks; the stored blob is
/// re-digested (so its digest and size are right) but the config keeps the diff_id of the
/// tar without them. Only a reader that reads past the end of the archive sees it.
pub fn bytes_after_the_end_of_the_layers_tar(l: &Layout) -> Vec<String> {
    let old = l.diff_id(1);
    let mut tar = l.layer_tar(1);
    tar.extend_from_slice(b"smuggled after the end of the archive\n");
    let actual = sha256(&tar);
    let layer = l.replace_layer(1, &l.compress_like_layer(1, &tar), &old);
    vec![format!(
        "layer {layer} does not match its diff_id: the config names {old}, the uncompressed content hashes to {actual}"
    )]
}

/// Deletes the config blob.
pub fn missing_config_blob(l: &Layout) -> Vec<String> {
    let config = l.config_digest();
    fs_err::remove_file(l.blob(&config)).unwrap_or_else(|e| panic!("{e}"));
    vec![format!("blob {config} is missing from OCI layout")]
}

/// `index.json` names the manifest `sha256:../../../../etc/passwd`.
pub fn index_digest_with_path_traversal(l: &Layout) -> Vec<String> {
    let mut idx = l.index();
    idx["manifests"][0]["digest"] = json!("sha256:../../../../etc/passwd");
    l.set_index(&idx);
    vec!["index.json is not valid JSON".into()]
}

/// Layer 1 becomes one header declaring a 17 GiB file and no data: cheap to build,
/// and the digests all match.
pub fn layer_entry_declaring_17_gib(l: &Layout) -> Vec<String> {
    let tar = raw_header("huge", tar::EntryType::Regular, "", 17 << 30)
        .as_bytes()
        .to_vec();
    let layer = l.replace_layer_tar(1, &tar);
    vec![
        "the layers declare more than 17179869184 uncompressed bytes".into(),
        format!("`huge` in layer {layer}"),
    ]
}

/// The config blob becomes a FIFO (a reader that opens it blocks).
pub fn config_blob_that_is_a_fifo(l: &Layout) -> Vec<String> {
    let config = l.config_digest();
    let path = l.blob(&config);
    fs_err::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let st = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap_or_else(|e| panic!("cannot run mkfifo: {e}"));
    assert!(st.success(), "mkfifo {}: {st}", path.display());
    vec![hex_of(&config).to_string(), "not a regular file".into()]
}

/// Layer 1 gains a `../escape` file: skipped, with a warning.
pub fn layer_entry_escaping_with_dotdot(l: &Layout) -> Vec<String> {
    let tar = tar_with(&l.layer_tar(1), vec![file_entry("../escape", b"pwned")]);
    let layer = l.replace_layer_tar(1, &tar);
    vec![format!(
        "skipped `../escape` in layer {layer}: `..` would escape the image root"
    )]
}

/// Layer 1 gains a hard link `etc/escape` to `../../etc/shadow`: skipped, with a
/// warning.
pub fn layer_hard_link_escaping_with_dotdot(l: &Layout) -> Vec<String> {
    let link = link_entry("etc/escape", tar::EntryType::Link, "../../etc/shadow");
    l.replace_layer_tar(1, &tar_with(&l.layer_tar(1), vec![link]));
    vec!["skipped `etc/escape`".into()]
}

// Bombs and inputs that grow the work faster than themselves (issue 12, points 2 and 3)

/// Layer 1 becomes a GNU long name header declaring 5 GiB, with a little of it: the tar
/// reader would read it whole into memory.
pub fn layer_with_a_gnu_long_name_declaring_5_gib(l: &Layout) -> Vec<String> {
    let mut tar = raw_header("././@LongLink", tar::EntryType::GNULongName, "", 5 << 30)
        .as_bytes()
        .to_vec();
    tar.extend(std::iter::repeat_n(b'a', 64 << 10));
    l.replace_layer(
        1,
        &zstd::encode_all(&tar[..], 3).expect("zstd"),
        &sha256(&tar),
    );
    let mut m = l.manifest();
    m["layers"][1]["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+zstd");
    l.set_manifest(&m);
    vec![
        "a GNU long name of 5368709120 bytes".into(),
        "capped at 1048576 bytes".into(),
    ]
}

/// Layer 1 becomes a pax extended header declaring 5 GiB.
pub fn layer_with_a_pax_header_declaring_5_gib(l: &Layout) -> Vec<String> {
    let tar = raw_header("pax", tar::EntryType::XHeader, "", 5 << 30)
        .as_bytes()
        .to_vec();
    l.replace_layer_tar(1, &tar);
    vec!["a pax extended header of 5368709120 bytes".into()]
}

/// Layer 1 becomes `depth` nested directories `d/d/d/…` (each its own entry, as a real
/// layer lists them).
pub fn nested_directories(l: &Layout, depth: usize) -> String {
    let mut b = tar::Builder::new(Vec::new());
    let mut path = String::new();
    for _ in 0..depth {
        path.push_str("d/");
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, &path, std::io::empty())
            .expect("dir entry");
    }
    let tar = b.into_inner().expect("tar");
    l.replace_layer_tar(1, &tar)
}

/// Layer 1 becomes 10,000 nested directories: their paths pass the kernel's PATH_MAX.
pub fn layer_with_10000_nested_directories(l: &Layout) -> Vec<String> {
    let layer = nested_directories(l, 10_000);
    vec![
        format!("layer {layer} holds a path of"),
        "paths are capped at 4096 bytes".into(),
    ]
}

/// Layer 1 gains a symlink whose target has 300,000 components.
pub fn symlink_with_300000_components(l: &Layout) -> Vec<String> {
    let target = "a/".repeat(300_000);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    let mut b = tar::Builder::new(Vec::new());
    b.append_link(&mut h, "etc/os-release", &target)
        .expect("link");
    let tar = b.into_inner().expect("tar");
    let layer = l.replace_layer_tar(1, &tar);
    vec![
        format!("`etc/os-release` in layer {layer} links to a path of 600000 bytes"),
        "link targets are capped at 4096 bytes".into(),
    ]
}

/// Layer 1 becomes a chain of `n` symlinks `etc/os-release` → `l1` → … → `lN` → a file.
pub fn symlink_chain(l: &Layout, n: usize) -> String {
    let mut b = tar::Builder::new(Vec::new());
    let mut link = |name: &str, target: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, name, target).expect("link");
    };
    link("etc/os-release", "/l1");
    for i in 1..n {
        link(&format!("l{i}"), &format!("l{}", i + 1));
    }
    link(&format!("l{n}"), "real");
    let body = b"ID=chained\nVERSION_ID=1\n";
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(body.len() as u64);
    b.append_data(&mut h, "real", &body[..]).expect("file");
    let tar = b.into_inner().expect("tar");
    l.replace_layer_tar(1, &tar)
}

/// Layer 1 goes on for 2 MiB of zeros after its tar's end (the digests match, the diff_id
/// too): the shape of a decompression bomb, refused at the tail's bound.
pub fn layer_going_on_after_its_tar_ends(l: &Layout) -> Vec<String> {
    let mut tar = l.layer_tar(1);
    tar.extend(std::iter::repeat_n(0u8, 2 << 20));
    let layer = l.replace_layer_tar(1, &tar);
    vec![format!(
        "layer {layer} goes on for more than 1048576 bytes after the end of its tar archive"
    )]
}
