//! plinth-oci's own integration tests: images written through the library and read back
//! through its read path (`open_image`, `validate`, `images`, `ImageFs::open`).

mod fuzz_corpus;
mod hostile;
mod layer_cache;

use std::path::{Path, PathBuf};

use plinth_oci::spec::{Arch, ConfigBuilder, Os, Platform};
use plinth_oci::testing::{error_chain, validate_image};
use plinth_oci::write::WriteOptions;
use plinth_oci::{
    Compression, Entry, ImageBuilder, ImageFs, ImageFsOptions, LayerBuilder, OutputFormat,
    PlatformImage, open_image, validate, write_image,
};

/// Path of the one program in [`sample_image`].
pub const HELLO: &str = "/usr/local/bin/hello";

/// Bytes that do not compress, so that the files layer is the image's largest blob.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes a small linux/amd64 image as `format` at `out`, shaped like the CLI's example:
/// layer 0 holds the accounts, layer 1 the files (one 64 KiB program).
pub fn sample_image(out: &Path, format: OutputFormat) {
    let mut accounts = LayerBuilder::new("accounts");
    accounts
        .add(
            "/etc/passwd",
            Entry::bytes(&b"root:x:0:0:root:/root:/sbin/nologin\n"[..], 0o644),
        )
        .unwrap();
    accounts
        .add("/etc/group", Entry::bytes(&b"root:x:0:\n"[..], 0o644))
        .unwrap();
    let mut files = LayerBuilder::new("files");
    files
        .add(HELLO, Entry::bytes(noise(64 << 10), 0o755))
        .unwrap();
    let mut platform = Platform::default();
    platform.set_os(Os::Linux);
    platform.set_architecture(Arch::Amd64);
    let config = ConfigBuilder::default()
        .user("65532:65532")
        .entrypoint(vec![HELLO.to_string()])
        .build()
        .unwrap();
    let artifact = ImageBuilder::default()
        .build(vec![PlatformImage {
            platform,
            config,
            layers: vec![
                (
                    accounts.finish(Compression::Gzip, 0).unwrap(),
                    "accounts".into(),
                ),
                (files.finish(Compression::Gzip, 0).unwrap(), "files".into()),
            ],
            created: "1970-01-01T00:00:00Z".into(),
        }])
        .unwrap();
    let opts = WriteOptions {
        format,
        name: "hello",
        tag: "latest",
        mtime: 0,
    };
    write_image(&artifact, out, &opts).unwrap();
    validate_image(out);
}

/// What a reader makes of an image: its files and warnings.
#[derive(Debug)]
pub struct Read {
    pub files: Vec<String>,
    pub warnings: Vec<String>,
}

/// The read path of `plinth inspect`: open, validate, resolve every image and squash
/// its layers. Errors come back as their whole chain of causes, and their hint.
pub fn read_image(target: &Path) -> Result<Read, (String, Option<String>)> {
    let fail = |e: plinth_oci::Error| (error_chain(&e), e.hint());
    let (src, tag) = open_image(target.to_str().unwrap()).map_err(fail)?;
    validate(src.as_ref()).map_err(fail)?;
    let images = src.images(tag.as_deref()).map_err(fail)?;
    let mut read = Read {
        files: Vec::new(),
        warnings: Vec::new(),
    };
    for img in &images {
        let fs = ImageFs::open(src.as_ref(), img, &ImageFsOptions::default()).map_err(fail)?;
        read.files.extend(
            fs.iter()
                .map(|(p, _)| format!("/{}", p.trim_start_matches('/'))),
        );
        read.warnings.extend(fs.warnings().iter().cloned());
    }
    Ok(read)
}

#[test]
fn every_output_format_validates() {
    let tmp = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for (name, format) in [
        ("layout", OutputFormat::Layout),
        ("oci.tar", OutputFormat::OciArchive),
        ("docker.tar", OutputFormat::DockerArchive),
    ] {
        let out: PathBuf = tmp.path().join(name);
        sample_image(&out, format);
        let read = read_image(&out).unwrap_or_else(|e| panic!("{name}: {}", e.0));
        assert!(read.files.iter().any(|f| f == HELLO), "{name}: {read:?}");
        assert!(read.warnings.is_empty(), "{name}: {read:?}");
        reports.push(validate_image(&out));
    }
    // Manifest, config and two layers in each.
    assert!(
        reports.iter().all(|r| r.images == 1 && r.blobs == 4),
        "{reports:?}"
    );
}
