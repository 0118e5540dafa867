//! Verified reads over any [`ImageSource`]: blobs, small JSON blobs, layers.

use std::io::{self, Read};

use oci_spec::image::Descriptor;

use super::{ImageSource, MAX_LAYER_BLOB, VerifyingReader, decompress};
use crate::MAX_JSON_BLOB;
use crate::error::{Error, Result};

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
        let mut r = self.open_blob(desc, MAX_JSON_BLOB)?;
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
            Error::Read { .. } => match self.verify_blob(desc, MAX_LAYER_BLOB) {
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

    /// Opens a layer as an uncompressed, verified tar stream.
    pub fn open_layer(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let r = self.open_blob(desc, MAX_LAYER_BLOB)?;
        decompress(desc.media_type(), Box::new(io::BufReader::new(r)))
    }
}
