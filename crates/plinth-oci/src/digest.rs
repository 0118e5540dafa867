//! SHA-256 digests in OCI form (`sha256:<hex>`).

use std::io::{self, Write};

use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};

/// The OCI digest of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> Digest {
    hex_to_digest(&hex::encode(Sha256::digest(bytes)))
}

pub(crate) fn hex_to_digest(hex: &str) -> Digest {
    format!("sha256:{hex}")
        .parse()
        .expect("a sha256 hex string is a valid digest")
}

/// A writer that hashes and counts what passes through it.
pub struct Sha256Writer<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Sha256Writer<W> {
    /// Wraps `inner`, with nothing hashed or counted yet.
    pub fn new(inner: W) -> Self {
        Sha256Writer {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The wrapped writer, the digest and the byte count.
    pub fn finish(self) -> (W, Digest, u64) {
        let hex = hex::encode(self.hasher.finalize());
        (self.inner, hex_to_digest(&hex), self.len)
    }
}

impl<W: Write> Write for Sha256Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes everything read through it, up to `limit` bytes: the bound every blob reader uses.
pub(crate) fn hash_reader(r: impl io::Read, limit: u64) -> io::Result<(Digest, u64)> {
    let mut w = Sha256Writer::new(io::sink());
    io::copy(&mut r.take(limit), &mut w)?;
    let (_, d, n) = w.finish();
    Ok((d, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_digest_is_the_well_known_one() {
        assert_eq!(
            sha256_digest(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn writer_matches_one_shot() {
        let mut w = Sha256Writer::new(Vec::new());
        w.write_all(b"hello ").unwrap();
        w.write_all(b"world").unwrap();
        let (buf, d, n) = w.finish();
        assert_eq!(buf, b"hello world");
        assert_eq!(n, 11);
        assert_eq!(d, sha256_digest(b"hello world"));
    }
}
