//! Finished package layers kept in the package cache, so that a warm build neither
//! decodes a `.deb` nor compresses a layer again. (Not to be confused with
//! [`plinth_oci::layer_cache`], which keeps what *reading* a layer gave, for SBOMs and
//! scans.)
//!
//! A layer's bytes depend only on the `.deb`s it is made of (named by their SHA-256),
//! how packages become entries ([`PACKAGE_LAYER_VERSION`]), the layer writer
//! ([`plinth_oci::layer::LAYER_WRITER_VERSION`]), the compression, the timestamp
//! (`SOURCE_DATE_EPOCH`) and the spec options that change the entries (`keep-docs`,
//! `layers`). Those inputs hash to the entry's key. An entry is two files of the cache:
//! the compressed blob, content-addressed like the `.deb`s (`blobs/sha256/<digest>`,
//! checked against its digest whenever it is read), and a small record under
//! `derived/package-layer/<key>` naming that digest, the `diff_id` and the uncompressed size
//! (checked against the SHA-256 line it starts with). Both are written to a temporary
//! file and renamed into place (a layer spooled to a file is hard-linked, not copied).
//! A blob is read back as a stream into a private hard link, never into memory. Anything that does not check out reads as absent: the
//! layer is built again from its `.deb` and the entry rewritten, never trusted.

use plinth_core::progress::Reporter;
use plinth_deb::cache::Cache;
use plinth_oci::blob::Held;
use plinth_oci::spec::{Digest, MediaType};
use plinth_oci::{Blob, Compression, LayerBlob};

/// The version of the mapping from a package to its layer's entries (which paths are
/// kept, the `status.d` files, their modes): bump it whenever `debian::add_package`, or
/// the profile rules it applies, change what a package's layer holds.
pub const PACKAGE_LAYER_VERSION: u32 = 1;

/// The version of the CA bundle derived from `ca-certificates` (bump it when
/// `profile::ca_bundle` changes).
pub const CA_BUNDLE_VERSION: u32 = 1;

const LAYER_KIND: &str = "package-layer";
const CA_KIND: &str = "ca-bundle";
const RECORD_HEADER: &str = "plinth layer record 1";

/// What makes a layer's bytes, besides the packages it holds.
#[derive(Debug, Clone, Copy)]
pub struct LayerInputs {
    /// The layer compression.
    pub compression: Compression,
    /// Every mtime in the layer (`SOURCE_DATE_EPOCH`).
    pub mtime: u64,
    /// Whether documentation is kept (`debian.keep-docs`).
    pub keep_docs: bool,
    /// Whether this is the one layer of every package (`layers = "single"`), whose
    /// directories take the first package's mode.
    pub single: bool,
}

/// The key of the layer made of `packages` (name and `.deb` SHA-256, in layer order).
pub fn layer_key<'a>(
    packages: impl IntoIterator<Item = (&'a str, &'a str)>,
    inputs: &LayerInputs,
) -> String {
    let mut text = format!(
        "plinth package layer\nwriter={}\npackage-layer={}\ncompression={:?}\nmtime={}\n\
         keep-docs={}\nsingle={}\n",
        plinth_oci::layer::LAYER_WRITER_VERSION,
        PACKAGE_LAYER_VERSION,
        inputs.compression,
        inputs.mtime,
        inputs.keep_docs,
        inputs.single,
    );
    for (name, sha256) in packages {
        text.push_str(&format!("deb={name} {}\n", sha256.to_ascii_lowercase()));
    }
    key_of(&text)
}

/// The version of the mapping from an `.apk` to its layer's entries and its installed
/// database record (`alpine::package_layer`): bump it whenever either changes.
pub const APK_LAYER_VERSION: u32 = 1;

/// The key of the layer made of the `.apk`s `packages` (name and SHA-256 of the whole
/// file, in layer order).
pub fn apk_layer_key<'a>(
    packages: impl IntoIterator<Item = (&'a str, &'a str)>,
    inputs: &LayerInputs,
) -> String {
    archive_layer_key("apk", APK_LAYER_VERSION, "", packages, inputs)
}

/// The version of the mapping from an `.rpm` to its layer's entries (`rpm::add_entries`,
/// owners by name to ids): bump it whenever it changes.
pub const RPM_LAYER_VERSION: u32 = 1;

/// The key of the layer made of the `.rpm`s `packages` (name and SHA-256 of the whole
/// file, in layer order) whose owners were mapped with the accounts `accounts` (the
/// digest of the image's `/etc/passwd` and `/etc/group`).
pub fn rpm_layer_key<'a>(
    packages: impl IntoIterator<Item = (&'a str, &'a str)>,
    accounts: &str,
    inputs: &LayerInputs,
) -> String {
    archive_layer_key("rpm", RPM_LAYER_VERSION, accounts, packages, inputs)
}

/// The key of a layer made of whole package files of `format` (`apk`, `rpm`), the
/// mapping at `version`, with `extra` naming any other input of the mapping.
fn archive_layer_key<'a>(
    format: &str,
    version: u32,
    extra: &str,
    packages: impl IntoIterator<Item = (&'a str, &'a str)>,
    inputs: &LayerInputs,
) -> String {
    let mut text = format!(
        "plinth {format} layer\nwriter={}\n{format}-layer={version}\ncompression={:?}\nmtime={}\nsingle={}\n",
        plinth_oci::layer::LAYER_WRITER_VERSION,
        inputs.compression,
        inputs.mtime,
        inputs.single,
    );
    if !extra.is_empty() {
        text.push_str(&format!("extra={extra}\n"));
    }
    for (name, sha256) in packages {
        text.push_str(&format!(
            "{format}={name} {}\n",
            sha256.to_ascii_lowercase()
        ));
    }
    key_of(&text)
}

/// The key of the installed-database record of the `.apk` with this SHA-256.
pub fn apk_record_key(apk_sha256: &str) -> String {
    key_of(&format!(
        "plinth apk installed record\nversion={APK_LAYER_VERSION}\napk={}\n",
        apk_sha256.to_ascii_lowercase()
    ))
}

/// The cache key of each layer of a platform's `packages` (name, file SHA-256): one per
/// package, or one for all of them when `single`; `key` makes a key of a group.
pub fn layer_keys<'a>(
    packages: &[(&'a str, &'a str)],
    single: bool,
    key: impl Fn(&[(&'a str, &'a str)]) -> String,
) -> Vec<String> {
    if single {
        vec![key(packages)]
    } else {
        packages
            .iter()
            .map(|p| key(std::slice::from_ref(p)))
            .collect()
    }
}

/// The key of the CA bundle made from the `ca-certificates` package with this SHA-256.
pub fn ca_bundle_key(deb_sha256: &str) -> String {
    key_of(&format!(
        "plinth ca bundle\nversion={CA_BUNDLE_VERSION}\ndeb={}\n",
        deb_sha256.to_ascii_lowercase()
    ))
}

fn key_of(text: &str) -> String {
    plinth_oci::sha256_digest(text.as_bytes())
        .digest()
        .to_string()
}

/// The cached layer `key`, when its record and its blob are present and check out.
pub fn load(cache: &Cache, key: &str, reporter: &dyn Reporter) -> Option<LayerBlob> {
    let record = cache.derived(LAYER_KIND, key)?;
    let Some((media_type, digest, diff_id, size)) = parse_record(&record) else {
        reporter.warn(&format!(
            "cached layer record {key} is not one this version writes; building the layer again"
        ));
        return None;
    };
    // The blob is checked against the digest the record names (a damaged one is removed),
    // as a stream, in a link of its own that a prune or a rewrite cannot take away.
    let (path, len) = cache.checkout(digest.digest(), reporter)?;
    Some(LayerBlob {
        media_type,
        data: Blob::from_temp(path, len),
        digest,
        diff_id,
        uncompressed_size: size,
    })
}

/// Keeps `blob` as the layer `key`: the blob first, then the record naming it.
pub fn store(
    cache: &Cache,
    key: &str,
    blob: &LayerBlob,
) -> Result<(), plinth_deb::cache::CacheError> {
    match blob.data.held() {
        Held::Memory(bytes) => cache.put(blob.digest.digest(), bytes)?,
        // Hashed as it was written: linked into place, not read again.
        Held::File(path) => cache.put_file(blob.digest.digest(), path)?,
    };
    let record = format!(
        "{RECORD_HEADER}\n{}\n{}\n{}\n{}\n",
        blob.media_type, blob.digest, blob.diff_id, blob.uncompressed_size
    );
    cache.put_derived(LAYER_KIND, key, record.as_bytes())
}

fn parse_record(bytes: &[u8]) -> Option<(MediaType, Digest, Digest, u64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    if lines.next()? != RECORD_HEADER {
        return None;
    }
    let media_type = MediaType::from(lines.next()?);
    let digest: Digest = lines.next()?.parse().ok()?;
    let diff_id: Digest = lines.next()?.parse().ok()?;
    let size = lines.next()?.parse().ok()?;
    let sha256 = |d: &Digest| {
        d.algorithm().to_string() == "sha256" && plinth_core::http::is_sha256_hex(d.digest())
    };
    (sha256(&digest) && sha256(&diff_id) && lines.next().is_none())
        .then_some((media_type, digest, diff_id, size))
}

/// The cached CA bundle of the `ca-certificates` package with this SHA-256.
pub fn load_ca_bundle(cache: &Cache, deb_sha256: &str) -> Option<Vec<u8>> {
    cache.derived(CA_KIND, &ca_bundle_key(deb_sha256))
}

/// Keeps the CA bundle of the `ca-certificates` package with this SHA-256.
pub fn store_ca_bundle(
    cache: &Cache,
    deb_sha256: &str,
    bundle: &[u8],
) -> Result<(), plinth_deb::cache::CacheError> {
    cache.put_derived(CA_KIND, &ca_bundle_key(deb_sha256), bundle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_core::progress::NoReporter;
    use plinth_oci::{Entry, LayerBuilder};

    fn inputs() -> LayerInputs {
        LayerInputs {
            compression: Compression::Gzip,
            mtime: 0,
            keep_docs: false,
            single: false,
        }
    }

    fn layer() -> LayerBlob {
        let mut l = LayerBuilder::new("test");
        l.add("/etc/x", Entry::bytes(b"x\n".to_vec(), 0o644))
            .unwrap();
        l.finish(Compression::Gzip, 0).unwrap()
    }

    #[test]
    fn every_input_changes_the_key() {
        let sha = "a".repeat(64);
        let base = layer_key([("libc6", sha.as_str())], &inputs());
        let other_sha = "b".repeat(64);
        let variants = [
            layer_key([("libc6", other_sha.as_str())], &inputs()),
            layer_key([("libc7", sha.as_str())], &inputs()),
            layer_key(
                [("libc6", sha.as_str())],
                &LayerInputs {
                    compression: Compression::Zstd,
                    ..inputs()
                },
            ),
            layer_key(
                [("libc6", sha.as_str())],
                &LayerInputs {
                    mtime: 1,
                    ..inputs()
                },
            ),
            layer_key(
                [("libc6", sha.as_str())],
                &LayerInputs {
                    keep_docs: true,
                    ..inputs()
                },
            ),
            layer_key(
                [("libc6", sha.as_str())],
                &LayerInputs {
                    single: true,
                    ..inputs()
                },
            ),
            layer_key([("libc6", sha.as_str()), ("x", sha.as_str())], &inputs()),
        ];
        for v in &variants {
            assert_ne!(v, &base);
        }
        assert_eq!(base, layer_key([("libc6", sha.as_str())], &inputs()));
    }

    /// A layer of `size` bytes of noise, spooled in `cache`'s tmp/ when large.
    fn noise_layer(cache: &Cache, size: usize) -> LayerBlob {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let data: Vec<u8> = (0..size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut l = LayerBuilder::new("test");
        l.add("/big", Entry::bytes(data, 0o644)).unwrap();
        l.finish_in(Compression::Gzip, 0, &cache.tmp_dir()).unwrap()
    }

    #[test]
    fn a_stored_layer_loads_whole_and_a_damaged_one_reads_as_absent() {
        for large in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let cache = Cache::new(dir.path());
            let key = layer_key([("a", "a".repeat(64).as_str())], &inputs());
            assert!(load(&cache, &key, &NoReporter).is_none());
            let blob = if large {
                noise_layer(&cache, 6 << 20)
            } else {
                layer()
            };
            // A large layer is a file, kept by a hard link and read back from one.
            assert_eq!(blob.data.path().is_some(), large);
            store(&cache, &key, &blob).unwrap();
            let got = load(&cache, &key, &NoReporter).unwrap();
            assert!(
                got.data.path().is_some(),
                "a cached layer is read as a file"
            );
            assert_eq!(
                (&got.digest, &got.diff_id, got.uncompressed_size),
                (&blob.digest, &blob.diff_id, blob.uncompressed_size)
            );
            assert!(got.data.read_all().unwrap() == blob.data.read_all().unwrap());
            assert_eq!(got.media_type, blob.media_type);
            // The spool and the checkout are temporary: gone once the blobs are.
            drop((got, blob));
            let left: Vec<_> = fs_err::read_dir(cache.tmp_dir())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert!(left.is_empty(), "left in tmp/: {left:?}");
            // A blob that no longer hashes to its digest is removed, not used.
            let blob = load(&cache, &key, &NoReporter).unwrap();
            let path = cache.blob_path(blob.digest.digest());
            let mut bytes = fs_err::read(&path).unwrap();
            bytes[10] ^= 1;
            // Written in place: the inode a layout may share by a hard link must be the
            // one checked.
            fs_err::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
                .unwrap();
            assert!(load(&cache, &key, &NoReporter).is_none());
            assert!(!path.exists());
            // A damaged record reads as absent too.
            let fresh = if large {
                noise_layer(&cache, 6 << 20)
            } else {
                layer()
            };
            store(&cache, &key, &fresh).unwrap();
            let record = dir.path().join("derived/package-layer").join(&key);
            let mut bytes = fs_err::read(&record).unwrap();
            let last = bytes.len() - 2;
            bytes[last] ^= 1;
            fs_err::write(&record, bytes).unwrap();
            assert!(load(&cache, &key, &NoReporter).is_none());
        }
    }
}
