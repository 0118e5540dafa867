//! Verified reads over any [`ImageSource`]: blobs, small JSON blobs, layers.

use std::io::{self, Read};

use oci_spec::image::Descriptor;

use super::{ImageSource, LayerReader, VerifyingReader, compression_of};
use crate::error::{Error, Result};
use crate::limits::limits;

impl dyn ImageSource + '_ {
    /// Opens a blob through a reader that fails unless the bytes match `desc`'s size and
    /// digest; reading never goes past the declared size.
    pub fn open_blob(&self, desc: &Descriptor, limit: u64) -> Result<VerifyingReader<'_>> {
        let digest = desc.digest().to_string();
        if desc.size() > limit {
            return Err(Error::TooLarge {
                digest,
                size: desc.size(),
                limit,
            });
        }
        if desc.digest().algorithm().as_ref() != "sha256" {
            return Err(Error::Unsupported(format!("digest algorithm of {digest}")));
        }
        let raw = self.open_raw(desc)?.ok_or_else(|| Error::MissingBlob {
            digest: digest.clone(),
            source_name: self.name(),
        })?;
        match raw.len {
            Some(stored) if stored < desc.size() => {
                return Err(Error::Truncated {
                    digest,
                    expected: desc.size(),
                    found: stored,
                });
            }
            Some(stored) if stored > desc.size() => {
                return Err(Error::Oversized {
                    digest,
                    expected: desc.size(),
                });
            }
            _ => {}
        }
        Ok(VerifyingReader::new(raw.reader, desc.size(), digest))
    }

    /// Reads a small JSON blob whole, verified.
    pub fn read_blob(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let mut r = self.open_blob(desc, limits().json)?;
        let mut v = Vec::with_capacity(desc.size() as usize);
        r.read_to_end(&mut v).map_err(|e| r.error(e))?;
        Ok(v)
    }

    /// Reads a blob to its end, checking its size and digest, without keeping it.
    pub fn verify_blob(&self, desc: &Descriptor, limit: u64) -> Result<()> {
        let mut r = self.open_blob(desc, limit)?;
        io::copy(&mut r, &mut io::sink()).map_err(|e| r.error(e))?;
        Ok(())
    }

    /// When reading a layer failed (a decompression error, say), the better explanation
    /// is often that the blob does not match its digest: prefer that one when it holds.
    pub fn explain_layer_error(&self, desc: &Descriptor, err: Error) -> Error {
        match err {
            Error::Read { .. } => match self.verify_blob(desc, limits().layer_size) {
                Err(
                    e @ (Error::DigestMismatch { .. }
                    | Error::Truncated { .. }
                    | Error::Oversized { .. }),
                ) => e,
                _ => err,
            },
            e => e,
        }
    }

    /// Opens a layer as its uncompressed tar stream, verified against the descriptor's
    /// size and digest and, when given, the config's `diff_id`, and bounded by
    /// [`Limits::uncompressed`](crate::limits::Limits::uncompressed) bytes. Every check is made by the time `read` reports
    /// the end of the stream; none of its bytes may be trusted before.
    pub fn open_layer(&self, desc: &Descriptor, diff_id: Option<&str>) -> Result<LayerReader<'_>> {
        let layer = desc.digest().to_string();
        if let Some(d) = diff_id
            && !d.starts_with("sha256:")
        {
            return Err(Error::Unsupported(format!(
                "diff_id {d} of layer {layer}: only sha256 is read"
            )));
        }
        let mut stored =
            io::BufReader::with_capacity(256 << 10, self.open_blob(desc, limits().layer_size)?);
        let compression = compression_of(desc.media_type(), &mut stored)?;
        LayerReader::new(
            stored,
            compression,
            layer,
            diff_id.map(str::to_string),
            limits().uncompressed,
        )
    }
}
