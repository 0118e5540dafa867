//! Compression: what a stream's first bytes say it is ([`sniff_compression`]), and the
//! decompressor a layer's media type (or, failing that, its first bytes) calls for.

use std::io::{self, Read};

use oci_spec::image::MediaType;

use super::unwrap_io;
use crate::error::{Error, Result};
use crate::layer::Compression;

/// What a stream's first bytes say it is: gzip, zstd, or neither (a plain tar, say).
pub fn sniff_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wraps a layer stream in the decompressor its media type (or, failing that, its first
/// bytes) calls for.
pub fn decompress<'a>(
    media_type: &MediaType,
    mut r: Box<dyn io::BufRead + Send + 'a>,
) -> Result<Box<dyn Read + Send + 'a>> {
    let kind = compression_of(media_type, &mut r)?;
    Ok(match kind {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r).map_err(
            |e| Error::Read {
                what: "zstd layer".into(),
                source: e,
            },
        )?),
        Compression::None => Box::new(r),
    })
}

/// The compression a layer's media type names or, for a media type that names none
/// (`application/octet-stream`, say), what the stream's first bytes say; the bytes
/// sniffed stay in `r`'s buffer.
pub(crate) fn compression_of(
    media_type: &MediaType,
    r: &mut impl io::BufRead,
) -> Result<Compression> {
    let m = media_type.to_string();
    Ok(if m.ends_with("gzip") {
        Compression::Gzip
    } else if m.ends_with("zstd") {
        Compression::Zstd
    } else if m.ends_with(".tar") || m.ends_with("diff.tar") {
        Compression::None
    } else {
        let head = r
            .fill_buf()
            .map_err(|e| unwrap_io(e, &format!("layer of media type {m}")))?;
        sniff_compression(head)
    })
}
