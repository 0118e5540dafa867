//! [`VerifyingReader`]: checks a blob's size and digest as its bytes go by, and carries
//! the typed errors through `io::Read`.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use crate::error::Error;

/// A reader that checks size and digest as the bytes go by and fails at the end if
/// either is off.
pub struct VerifyingReader<'a> {
    inner: io::Take<Box<dyn Read + Send + 'a>>,
    hasher: Sha256,
    read: u64,
    expected_size: u64,
    expected: String,
    done: bool,
}

impl<'a> VerifyingReader<'a> {
    /// Reads at most `size + 1` bytes of `inner` (one more tells an oversized blob).
    pub(super) fn new(inner: Box<dyn Read + Send + 'a>, size: u64, digest: String) -> Self {
        VerifyingReader {
            inner: inner.take(size + 1),
            hasher: Sha256::new(),
            read: 0,
            expected_size: size,
            expected: digest,
            done: false,
        }
    }

    /// Turns an I/O error from this reader back into the typed error it stands for.
    pub fn error(&self, e: io::Error) -> Error {
        unwrap_io(e, &self.expected)
    }
}

/// Carries typed blob errors through `io::Read`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct BlobError(Box<Error>);

pub(crate) fn unwrap_io(e: io::Error, what: &str) -> Error {
    if e.get_ref().is_some_and(|i| i.is::<BlobError>()) {
        let inner = e.into_inner().expect("checked");
        return *inner.downcast::<BlobError>().expect("checked").0;
    }
    Error::Read {
        what: what.to_string(),
        source: e,
    }
}

pub(crate) fn blob_io(e: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, BlobError(Box::new(e)))
}

impl Read for VerifyingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.expected_size {
            return Err(blob_io(Error::Oversized {
                digest: self.expected.clone(),
                expected: self.expected_size,
            }));
        }
        self.hasher.update(&buf[..n]);
        if n == 0 && !buf.is_empty() {
            self.done = true;
            if self.read < self.expected_size {
                return Err(blob_io(Error::Truncated {
                    digest: self.expected.clone(),
                    expected: self.expected_size,
                    found: self.read,
                }));
            }
            let actual = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
            if actual != self.expected {
                return Err(blob_io(Error::DigestMismatch {
                    expected: self.expected.clone(),
                    actual,
                }));
            }
        }
        Ok(n)
    }
}
