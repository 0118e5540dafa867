//! Reading the small files a user names (a policy, an ignore file, a VEX document):
//! bounded, and regular files only, so that `/dev/zero` or an endless pipe given as one
//! is a clear error instead of a read that fills memory or never ends.

use std::io::{self, Read};
use std::path::Path;

/// Reads the whole of `path`, which must be a regular file (symlinks are followed) of at
/// most `limit` bytes. The error does not repeat the path: callers wrap it with theirs
/// (`cannot read ignore file PATH: …`).
// std::fs rather than fs-err: the callers' messages name the path, fs-err's would name
// it a second time.
#[allow(clippy::disallowed_methods)]
pub fn read_regular(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a device, FIFO or directory cannot be read as one)",
        ));
    }
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the limit of {limit} bytes"),
        )
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    // A file that grows while it is read (or lies about its size, as /proc's do) is
    // still bounded.
    file.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(out)
}

/// [`read_regular`] as UTF-8 text.
pub fn read_regular_to_string(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_regular(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_regular_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs_err::write(&p, b"hello").unwrap();
        assert_eq!(read_regular(&p, 5).unwrap(), b"hello");
        let e = read_regular(&p, 4).unwrap_err();
        assert_eq!(e.to_string(), "larger than the limit of 4 bytes");
        let e = read_regular(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(e.to_string().starts_with("not a regular file"), "{e}");
        assert!(read_regular(dir.path(), 1 << 20).is_err());
        assert_eq!(
            read_regular(&dir.path().join("missing"), 1)
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
        fs_err::write(&p, [0xff, 0xfe]).unwrap();
        assert!(read_regular_to_string(&p, 10).is_err());
    }
}
