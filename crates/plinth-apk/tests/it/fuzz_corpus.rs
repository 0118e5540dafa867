//! The fuzz targets of plinth-apk, run in every CI run without a nightly compiler: each
//! target's committed corpus (`fuzz/corpus/TARGET/`) and a fixed number of seeded
//! mutations of each input (`fuzz/src/replay.rs`). The target bodies are the same source
//! file the libFuzzer targets call (`fuzz/src/apk.rs`).

#[path = "../../../../fuzz/src/apk.rs"]
mod bodies;
#[path = "../../../../fuzz/src/replay.rs"]
mod replay;

use plinth_apk::index::PackageInfo;
use plinth_apk::write::{FileKind, FileSpec, PackageSpec, build_index, build_package};

#[test]
fn fuzz_corpus_apk_file() {
    replay::replay("apk_file", 300, bodies::apk_file);
}

#[test]
fn fuzz_corpus_apk_data_tar() {
    replay::replay("apk_data_tar", 300, bodies::apk_data_tar);
}

#[test]
fn fuzz_corpus_apk_index_text() {
    replay::replay("apk_index_text", 300, bodies::apk_index_text);
}

fn corpus_spec() -> PackageSpec {
    PackageSpec {
        info: PackageInfo {
            name: "corpus".into(),
            version: "1.0_rc1-r2".into(),
            arch: "x86_64".into(),
            license: "MIT".into(),
            depends: vec!["so:libc.musl-x86_64.so.1".into(), "!other<2".into()],
            provides: vec!["cmd:corpus=1.0_rc1-r2".into()],
            ..PackageInfo::default()
        },
        files: vec![
            FileSpec::dir("usr", 0o755),
            FileSpec::dir("usr/bin", 0o755),
            FileSpec::file("usr/bin/corpus", b"#!/bin/sh\n", 0o755),
            FileSpec::symlink("usr/bin/c", "corpus"),
            FileSpec {
                path: "usr/bin/hard".into(),
                kind: FileKind::Hardlink("usr/bin/corpus".into()),
                mode: 0o755,
                uid: 0,
                gid: 0,
            },
            FileSpec::dir("tmp", 0o1777),
        ],
        scripts: vec![(".post-install".into(), b"#!/bin/sh\n".to_vec())],
    }
}

/// Rewrites the committed corpus inputs (run by hand after a format change:
/// `cargo test -p plinth-apk --test it write_fuzz_corpus -- --ignored`).
#[test]
#[ignore = "writes fuzz/corpus/apk_*; run by hand"]
fn write_fuzz_corpus() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let (key, _) = bodies::fuzz_key();
    let built = build_package(&corpus_spec(), key).unwrap();
    let index = build_index(std::slice::from_ref(&built.info), "corpus", key).unwrap();
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = root.join(target);
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join(name), data).unwrap();
    };
    write("apk_file", "corpus.apk", &built.bytes);
    write("apk_file", "APKINDEX.tar.gz", &index);
    // The data member's tar, inflated.
    let mut at = 0;
    for _ in 0..2 {
        at = plinth_apk::gzip::member_at(&built.bytes, at, 1 << 20)
            .unwrap()
            .range
            .end;
    }
    let data = plinth_apk::gzip::member_at(&built.bytes, at, 1 << 20).unwrap();
    write("apk_data_tar", "corpus.tar", &data.content);
    // The writer's entry and four real ones from Alpine 3.16's index (with k:, i:, p:).
    let real = plinth_apk::index::read_index(
        &crate::support::data("APKINDEX-v3.16-main-x86_64.tar.gz"),
        &crate::support::alpine_keys(),
    )
    .unwrap();
    let mut text = format!("{}\n", built.info.index_paragraph());
    for p in &real.packages {
        if ["busybox", "musl", "ssl_client", "ifupdown-ng"].contains(&p.name.as_str()) {
            text.push_str(&p.index_paragraph());
            text.push('\n');
        }
    }
    write("apk_index_text", "APKINDEX", text.as_bytes());
    let control = plinth_apk::gzip::member_at(
        &built.bytes,
        plinth_apk::gzip::member_at(&built.bytes, 0, 1 << 20)
            .unwrap()
            .range
            .end,
        1 << 20,
    )
    .unwrap();
    let start = 512;
    let len = control.content[124..135]
        .iter()
        .fold(0usize, |n, &b| n * 8 + (b - b'0') as usize);
    write(
        "apk_index_text",
        "PKGINFO",
        &control.content[start..start + len],
    );
}
