//! Concatenated gzip members, the envelope of both `APKINDEX.tar.gz` and `.apk` files:
//! apk signs the raw (compressed) bytes of a member, so readers need each member's byte
//! range as well as what it inflates to. Inflating is bounded.

use std::io::Read;
use std::ops::Range;

use flate2::bufread::GzDecoder;

/// A gzip member that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GzipError {
    /// The bytes at `offset` are not a complete gzip member.
    #[error("gzip member at byte {offset} is corrupt or truncated")]
    Corrupt {
        /// Where the member starts in the file.
        offset: usize,
        /// What the decoder said.
        #[source]
        source: std::io::Error,
    },
    /// The member inflates to more than the reader allows.
    #[error("gzip member at byte {offset} inflates to more than {limit} bytes")]
    TooLarge {
        /// Where the member starts in the file.
        offset: usize,
        /// The limit in bytes.
        limit: u64,
    },
}

/// One gzip member: where it lies in the file and what it inflates to.
#[derive(Debug, Clone)]
pub struct Member {
    /// The member's raw bytes in the file (what apk signs and hashes).
    pub range: Range<usize>,
    /// The inflated content.
    pub content: Vec<u8>,
}

/// Inflates the gzip member that starts at `offset` in `file`, reading at most `limit`
/// inflated bytes, and returns it with its exact byte range (the decoder reads from a
/// slice through `BufRead`, so it consumes the member's trailer and nothing after it).
pub fn member_at(file: &[u8], offset: usize, limit: u64) -> Result<Member, GzipError> {
    let rest = file.get(offset..).unwrap_or_default();
    let mut decoder = GzDecoder::new(rest);
    let mut content = Vec::new();
    let read = (&mut decoder)
        .take(limit.saturating_add(1))
        .read_to_end(&mut content)
        .map_err(|source| GzipError::Corrupt { offset, source })?;
    if read as u64 > limit {
        return Err(GzipError::TooLarge { offset, limit });
    }
    let left = decoder.into_inner().len();
    let end = file.len() - left;
    if end == offset {
        return Err(GzipError::Corrupt {
            offset,
            source: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no gzip member here"),
        });
    }
    Ok(Member {
        range: offset..end,
        content,
    })
}
