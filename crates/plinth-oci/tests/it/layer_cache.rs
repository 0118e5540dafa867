//! The layer cache (`plinth_oci::layer_cache`): squashing cached layers gives exactly
//! what squashing the layers gives (paths, kinds, modes, owners, sizes, times, layer
//! indexes, kept bytes, warnings), whatever state the cache is in; a layer is still
//! checked against its digest on a hit; nothing that failed verification is cached.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use plinth_oci::testing::{
    Layout, TarEntry, TarItem, error_chain, file_entry, hostile, link_entry, tar_entries, tar_of,
    tar_with,
};
use plinth_oci::{ImageFs, ImageFsOptions, LayerCache, OutputFormat, open_image};

use crate::sample_image;

/// Breaks a cache entry's bytes.
type Corrupt = fn(&mut Vec<u8>);
/// Breaks an image; returns what the error must name.
type Tamper = fn(&Layout) -> Vec<String>;
/// Narrows one bound of the reader.
type Bound = Box<dyn Fn(&mut ImageFsOptions)>;

/// Keeps every file but those under `skip/`.
fn keep_most(path: &str, _mode: u32) -> bool {
    !path.starts_with("skip/")
}

/// Keeps only `etc/`.
fn keep_etc(path: &str, _mode: u32) -> bool {
    path.starts_with("etc/")
}

/// Drops executables that are not ELF, as the SBOM reader does.
fn retain_elf(_path: &str, mode: u32, bytes: &[u8]) -> bool {
    mode & 0o111 == 0 || bytes.starts_with(b"\x7fELF")
}

fn opts(cache: Option<&LayerCache>) -> ImageFsOptions {
    ImageFsOptions {
        keep_files_up_to: 1 << 20,
        keep: Some(keep_most),
        retain: Some(retain_elf),
        cache: cache.cloned(),
        ..ImageFsOptions::default()
    }
}

/// The sample image with its two layers replaced by ones that use every feature the
/// squash has: whiteouts, an opaque directory, a file replacing a directory, links,
/// executables kept and dropped, files not kept, and entries skipped with a warning.
fn layout(dir: &Path) -> Layout {
    let l = Layout(dir.join("img"));
    sample_image(&l.0, OutputFormat::Layout);
    let mut elf = b"\x7fELF".to_vec();
    elf.extend_from_slice(&[7; 300]);
    let lower = tar_of(&[
        ("etc/", TarItem::Dir),
        ("etc/a", TarItem::File(b"a")),
        ("etc/b", TarItem::File(b"b")),
        ("var/lib/x/", TarItem::Dir),
        ("var/lib/x/1", TarItem::File(b"1")),
        ("d/", TarItem::Dir),
        ("d/child", TarItem::File(b"c")),
        ("skip/big", TarItem::File(&[1; 5000])),
        ("usr/bin/link", TarItem::Link("prog")),
    ]);
    let lower = tar_with(
        &lower,
        vec![
            exec_entry("usr/bin/prog", &elf),
            exec_entry("usr/bin/script", b"#!/bin/sh\necho hi\n"),
            contiguous_entry("etc/contiguous", &[9; 100]),
            file_entry("../evil", b"x"),
            link_entry("usr/bin/hard", tar::EntryType::Link, "usr/bin/prog"),
            link_entry("usr/bin/out", tar::EntryType::Link, "../../x"),
        ],
    );
    let upper = tar_of(&[
        ("etc/.wh.a", TarItem::File(b"")),
        ("var/lib/x/.wh..wh..opq", TarItem::File(b"")),
        ("var/lib/x/2", TarItem::File(b"2")),
        ("d", TarItem::File(b"now a file")),
        ("etc/c", TarItem::File(b"c")),
    ]);
    l.replace_layer_tar(0, &lower);
    l.replace_layer_tar(1, &upper);
    l
}

/// An executable file entry (mode 0755).
fn exec_entry(name: &str, data: &[u8]) -> TarEntry {
    let (mut h, d) = file_entry(name, data);
    h.set_mode(0o755);
    h.set_cksum();
    (h, d)
}

/// A contiguous file entry (type `7`): a file whose node size is 0.
fn contiguous_entry(name: &str, data: &[u8]) -> TarEntry {
    let (mut h, d) = file_entry(name, data);
    h.set_entry_type(tar::EntryType::Continuous);
    h.set_cksum();
    (h, d)
}

/// Everything the squashed view holds, and its warnings, as text.
fn snapshot(fs: &ImageFs) -> String {
    let mut s = String::new();
    for (path, node) in fs.iter() {
        s.push_str(&format!("{path} {node:?}\n"));
    }
    for w in fs.warnings() {
        s.push_str(&format!("warning: {w}\n"));
    }
    s
}

fn read(image: &Path, opts: &ImageFsOptions) -> Result<String, String> {
    let (src, tag) = open_image(image.to_str().unwrap()).map_err(|e| error_chain(&e))?;
    let images = src.images(tag.as_deref()).map_err(|e| error_chain(&e))?;
    ImageFs::open(src.as_ref(), &images[0], opts)
        .map(|fs| snapshot(&fs))
        .map_err(|e| error_chain(&e))
}

/// The cache's entry files, by inode (a rewritten entry is a new file).
fn entries(cache: &LayerCache) -> Vec<(String, u64)> {
    let Ok(rd) = fs_err::read_dir(cache.dir()) else {
        return Vec::new();
    };
    let mut v: Vec<(String, u64)> = rd
        .map(|e| e.unwrap())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.metadata().unwrap().ino())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_warm_layer_cache_squashes_exactly_as_the_layers_do() {
    let tmp = tempfile::tempdir().unwrap();
    let l = layout(tmp.path());
    let cache = LayerCache::new(tmp.path().join("cache"), "test");
    let want = read(&l.0, &opts(None)).unwrap();
    // The view really has what the layers are made to test.
    for fragment in [
        "usr/bin/prog Node { kind: File",
        "etc/contiguous Node { kind: File",
        "usr/bin/hard Node { kind: Hardlink(\"usr/bin/prog\")",
        "d Node { kind: File",
        "var/lib/x/2 Node",
        "warning: skipped `../evil`",
        "warning: skipped `usr/bin/out`",
    ] {
        assert!(want.contains(fragment), "{fragment} missing from\n{want}");
    }
    for gone in ["etc/a ", "var/lib/x/1 ", "d/child "] {
        assert!(!want.contains(gone), "{gone} present in\n{want}");
    }
    let cold = read(&l.0, &opts(Some(&cache))).unwrap();
    assert_eq!(cold, want);
    let written = entries(&cache);
    assert_eq!(written.len(), 2, "one entry per layer: {written:?}");
    let warm = read(&l.0, &opts(Some(&cache))).unwrap();
    assert_eq!(warm, want);
    assert_eq!(entries(&cache), written, "a warm read rewrites no entry");
}

#[test]
fn a_corrupt_cache_entry_is_ignored_and_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let l = layout(tmp.path());
    let cache = LayerCache::new(tmp.path().join("cache"), "test");
    let want = read(&l.0, &opts(None)).unwrap();
    read(&l.0, &opts(Some(&cache))).unwrap();
    let names: Vec<String> = entries(&cache).into_iter().map(|(n, _)| n).collect();
    let good: Vec<Vec<u8>> = names
        .iter()
        .map(|n| fs_err::read(cache.dir().join(n)).unwrap())
        .collect();
    let corruptions: [(&str, Corrupt); 5] = [
        ("empty", |b| b.clear()),
        ("truncated", |b| b.truncate(b.len() / 2)),
        ("a flipped byte", |b| {
            let n = b.len() / 2;
            b[n] ^= 0x40;
        }),
        ("garbage", |b| *b = vec![0xa5; 4096]),
        ("trailing bytes", |b| b.extend_from_slice(b"more")),
    ];
    for (what, corrupt) in corruptions {
        for (name, bytes) in names.iter().zip(&good) {
            let mut b = bytes.clone();
            corrupt(&mut b);
            fs_err::write(cache.dir().join(name), b).unwrap();
        }
        assert_eq!(read(&l.0, &opts(Some(&cache))).unwrap(), want, "{what}");
        for (name, bytes) in names.iter().zip(&good) {
            let now = fs_err::read(cache.dir().join(name)).unwrap();
            assert!(&now == bytes, "{what}: entry {name} was not rewritten");
        }
    }
    // An entry that is a directory is no entry either (and cannot be replaced).
    fs_err::remove_file(cache.dir().join(&names[0])).unwrap();
    fs_err::create_dir(cache.dir().join(&names[0])).unwrap();
    assert_eq!(read(&l.0, &opts(Some(&cache))).unwrap(), want);
}

#[test]
fn a_layer_changed_after_it_was_cached_is_refused_as_without_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, Tamper); 3] = [
        ("flipped byte", hostile::layer_with_a_flipped_byte),
        ("truncated blob", hostile::truncated_layer_blob),
        (
            "bytes after the tar",
            hostile::bytes_after_the_end_of_the_layers_tar,
        ),
    ];
    for (what, tamper) in cases {
        let dir = tmp.path().join(what);
        let l = layout(&dir);
        let cache = LayerCache::new(dir.join("cache"), "test");
        read(&l.0, &opts(Some(&cache))).unwrap();
        let expect = tamper(&l);
        let uncached = read(&l.0, &opts(None)).unwrap_err();
        let cached = read(&l.0, &opts(Some(&cache))).unwrap_err();
        assert_eq!(cached, uncached, "{what}");
        plinth_oci::testing::assert_mentions(&cached, &expect);
    }
}

#[test]
fn a_layer_that_fails_verification_is_not_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let l = layout(tmp.path());
    hostile::diff_id_not_matching_the_layer(&l);
    let cache = LayerCache::new(tmp.path().join("cache"), "test");
    let e = read(&l.0, &opts(Some(&cache))).unwrap_err();
    assert_eq!(e, read(&l.0, &opts(None)).unwrap_err());
    for i in 0..2 {
        let entry = cache.entry_path(&l.layer(i), &l.diff_id(i));
        let bad = e.contains(&l.layer(i));
        assert!(
            !(bad && entry.exists()),
            "layer {i} failed verification ({e}) and was cached"
        );
    }
}

#[test]
fn an_entry_written_for_a_reader_that_kept_less_is_not_used() {
    let tmp = tempfile::tempdir().unwrap();
    let l = layout(tmp.path());
    let cache = LayerCache::new(tmp.path().join("cache"), "test");
    let less = ImageFsOptions {
        keep: Some(keep_etc),
        ..opts(Some(&cache))
    };
    let want_less = read(
        &l.0,
        &ImageFsOptions {
            cache: None,
            ..less.clone()
        },
    )
    .unwrap();
    assert_eq!(read(&l.0, &less).unwrap(), want_less);
    // The entries keep only etc/: a reader that wants more reads the layers again.
    let more = read(&l.0, &opts(Some(&cache))).unwrap();
    assert_eq!(more, read(&l.0, &opts(None)).unwrap());
    // And entries that keep more serve a reader that wants less.
    assert_eq!(read(&l.0, &less).unwrap(), want_less);
}

#[test]
fn bounds_hold_across_cached_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let l = layout(tmp.path());
    let cache = LayerCache::new(tmp.path().join("cache"), "test");
    read(&l.0, &opts(Some(&cache))).unwrap();
    let bounded = |cache: Option<&LayerCache>, f: &dyn Fn(&mut ImageFsOptions)| {
        let mut o = opts(cache);
        f(&mut o);
        read(&l.0, &o)
    };
    // Bounds that the lower layer keeps within and the upper one crosses: each cached
    // layer is fine alone, the image is not.
    let lower = tar_entries(&l.layer_tar(0));
    let lower_entries = lower.len();
    let lower_bytes: u64 = lower.iter().map(|(h, _)| h.size().unwrap()).sum();
    let bounds: [(&str, Bound); 5] = [
        (
            "entries",
            Box::new(move |o| o.max_entries = lower_entries + 2),
        ),
        (
            "uncompressed bytes",
            Box::new(move |o| o.max_uncompressed = lower_bytes + 3),
        ),
        // Room after the lower layer for less than the tar's end padding.
        (
            "tail",
            Box::new(move |o| o.max_uncompressed = lower_bytes + 12),
        ),
        // Too little room to keep every file: what is kept depends on the layers
        // below, as without the cache.
        ("kept bytes", Box::new(|o| o.max_kept_bytes = 310)),
        // The lower layer's kept files hold 427 bytes, 100 of them in the contiguous
        // file, whose node size is 0: the bound counts what the header declares.
        (
            "kept bytes, contiguous",
            Box::new(|o| o.max_kept_bytes = 400),
        ),
    ];
    for (what, f) in &bounds {
        let uncached = bounded(None, f.as_ref());
        let cached = bounded(Some(&cache), f.as_ref());
        assert_eq!(cached, uncached, "{what}");
        // Each bound bites: the read differs from an unbounded one.
        assert_ne!(Ok(read(&l.0, &opts(None)).unwrap()), uncached, "{what}");
    }
}
