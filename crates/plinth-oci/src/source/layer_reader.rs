//! [`LayerReader`]: a layer's uncompressed tar stream that is verified twice, and that
//! every reader of layers goes through.
//!
//! The stored (compressed) bytes go through a [`VerifyingReader`] (size and digest of the
//! descriptor); the uncompressed bytes are hashed as they go by and, at their end, checked
//! against the config's `diff_id`. The end of the uncompressed stream is only reported
//! once the stored stream has been read to its own end too (a decompressor may stop at
//! the end of its last frame, before trailing bytes), so "end of stream" means "both
//! checks passed". A caller that stops early (a tar reader at end-of-archive) must read
//! the rest: [`ImageFs`](crate::ImageFs) does, before it applies anything.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;
use sha2::{Digest as _, Sha256};

use super::VerifyingReader;
use super::blob_io;
use crate::error::{Error, Result};
use crate::layer::Compression;

/// The decompressor over the verified stored bytes; each keeps the stored stream
/// reachable so that it can be drained to its end.
enum Decoder<'a> {
    Gzip(Box<MultiGzDecoder<BufReader<VerifyingReader<'a>>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<VerifyingReader<'a>>>>),
    Plain(Box<BufReader<VerifyingReader<'a>>>),
}

impl<'a> Decoder<'a> {
    fn stored(&mut self) -> &mut BufReader<VerifyingReader<'a>> {
        match self {
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Zstd(d) => d.get_mut(),
            Decoder::Plain(r) => r.as_mut(),
        }
    }
}

impl Read for Decoder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
            Decoder::Plain(r) => r.read(buf),
        }
    }
}

/// A layer's uncompressed tar stream, checked against the descriptor's digest and size
/// and against the config's `diff_id`, and bounded in size. A mismatch is an error from
/// `read` at the end of the stream (carried as a typed [`Error`] through `io::Error`;
/// [`LayerReader::error`] gets it back).
pub struct LayerReader<'a> {
    decoder: Decoder<'a>,
    hasher: Sha256,
    read: u64,
    limit: u64,
    layer: String,
    diff_id: Option<String>,
    done: bool,
}

impl<'a> LayerReader<'a> {
    /// Decompresses `stored` as `compression` says. `diff_id` is the config's digest of
    /// the uncompressed stream (`None` where no config names one, as for a bare blob);
    /// more than `limit` uncompressed bytes is an error.
    pub(super) fn new(
        buffered: BufReader<VerifyingReader<'a>>,
        compression: Compression,
        layer: String,
        diff_id: Option<String>,
        limit: u64,
    ) -> Result<Self> {
        let decoder = match compression {
            Compression::Gzip => Decoder::Gzip(Box::new(MultiGzDecoder::new(buffered))),
            Compression::Zstd => Decoder::Zstd(Box::new(
                zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| Error::Read {
                    what: format!("zstd layer {layer}"),
                    source: e,
                })?,
            )),
            Compression::None => Decoder::Plain(Box::new(buffered)),
        };
        Ok(LayerReader {
            decoder,
            hasher: Sha256::new(),
            read: 0,
            limit,
            layer,
            diff_id,
            done: false,
        })
    }

    /// Turns an I/O error from this reader back into the typed error it stands for.
    pub fn error(&self, e: io::Error) -> Error {
        super::unwrap_io(e, &format!("layer {}", self.layer))
    }

    fn finish(&mut self) -> io::Result<()> {
        // The decompressor has ended; the stored bytes must end too, and only their
        // end tells whether they match the descriptor.
        let stored = self.decoder.stored();
        loop {
            let n = stored.fill_buf()?.len();
            if n == 0 {
                break;
            }
            stored.consume(n);
        }
        if let Some(expected) = &self.diff_id {
            let actual = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
            if actual != *expected {
                return Err(blob_io(Error::DiffIdMismatch {
                    layer: self.layer.clone(),
                    expected: expected.clone(),
                    actual,
                }));
            }
        }
        Ok(())
    }
}

impl Read for LayerReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = self.decoder.read(buf)?;
        if n == 0 {
            self.done = true;
            self.finish()?;
            return Ok(0);
        }
        self.read += n as u64;
        if self.read > self.limit {
            self.done = true;
            return Err(blob_io(Error::Limit(format!(
                "layer {} holds more than {} uncompressed bytes",
                self.layer, self.limit
            ))));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
