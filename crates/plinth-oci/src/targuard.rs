//! [`TarGuard`]: a reader placed in front of `tar::Archive` that bounds the tar
//! format's metadata records before the `tar` crate reads them.
//!
//! Why by hand: the `tar` crate reads a GNU long name, a GNU long link target or a pax
//! extended header whole into memory, however large its header says it is
//! (`EntryFields::read_all` has no cap), so a layer whose long name declares 5 GiB (a few
//! KiB of zstd) drives memory to 5 GiB. No maintained synchronous tar reader bounds these
//! records, and the `tar` crate is otherwise the right reader. The guard follows the stream
//! block by block, as the `tar` crate will read it (header, GNU sparse extension blocks,
//! data padded to 512 bytes, pax `size` overrides), and fails the read that brings a
//! header declaring a metadata record over [`MAX_TAR_METADATA`] bytes (Go's
//! `archive/tar` caps pax records at 1 MiB too), or, when the stream's length is known, an
//! entry larger than what is left of the stream. It stops following at the end-of-archive
//! block, or at a header the `tar` crate will reject anyway (a bad checksum).

use std::io::{self, Read, Seek, SeekFrom};

use crate::error::Error;
use crate::source::blob_io;

/// Largest GNU long name, GNU long link or pax extended header accepted, in bytes.
pub const MAX_TAR_METADATA: u64 = 1 << 20;

const BLOCK: u64 = 512;

/// Follows a tar stream as it is read and refuses oversized metadata records; see the
/// module documentation.
pub struct TarGuard<R> {
    inner: R,
    what: String,
    len: Option<u64>,
    pos: u64,
    state: State,
    block: Box<[u8; 512]>,
    fill: usize,
    pax: Vec<u8>,
    /// The size a pax header gave the next entry, which overrides its header's.
    next_size: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a header block.
    Header,
    /// Collecting a GNU sparse extension block; the entry's data (with padding) follows.
    Sparse { data: u64 },
    /// Collecting a pax extended header's records until `end`, then padding until `next`.
    Pax { end: u64, next: u64 },
    /// Data or padding until `until`.
    Skip { until: u64 },
    /// Past the end of the archive (or no longer following): bytes pass unexamined.
    Done,
}

impl<R: Read> TarGuard<R> {
    /// Guards the tar stream `inner`, named `what` in errors; `len` is the stream's total
    /// length when known (a plain tar file), which lets an entry that declares more than
    /// the rest of the stream be refused at its header.
    pub fn new(inner: R, what: impl Into<String>, len: Option<u64>) -> Self {
        TarGuard {
            inner,
            what: what.into(),
            len,
            pos: 0,
            state: State::Header,
            block: Box::new([0; 512]),
            fill: 0,
            pax: Vec::new(),
            next_size: None,
        }
    }

    /// The guarded reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn observe(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        while !bytes.is_empty() {
            match self.state {
                State::Done => return Ok(()),
                State::Header | State::Sparse { .. } => {
                    let k = (512 - self.fill).min(bytes.len());
                    self.block[self.fill..self.fill + k].copy_from_slice(&bytes[..k]);
                    self.fill += k;
                    self.pos += k as u64;
                    bytes = &bytes[k..];
                    if self.fill == 512 {
                        self.fill = 0;
                        match self.state {
                            State::Sparse { data } => {
                                // Byte 504 of an extension block: another one follows.
                                if self.block[504] == 0 {
                                    self.state = State::Skip {
                                        until: self.pos + data,
                                    };
                                }
                            }
                            _ => self.on_header()?,
                        }
                    }
                }
                State::Pax { end, next } => {
                    let k = (end - self.pos).min(bytes.len() as u64) as usize;
                    self.pax.extend_from_slice(&bytes[..k]);
                    self.pos += k as u64;
                    bytes = &bytes[k..];
                    if self.pos == end {
                        self.next_size = pax_size(&self.pax);
                        self.pax = Vec::new();
                        self.state = State::Skip { until: next };
                    }
                }
                State::Skip { until } => {
                    let k = (until - self.pos).min(bytes.len() as u64) as usize;
                    self.pos += k as u64;
                    bytes = &bytes[k..];
                    if self.pos == until {
                        self.state = State::Header;
                    }
                }
            }
        }
        Ok(())
    }

    fn on_header(&mut self) -> Result<(), Error> {
        let h = &self.block;
        if h.iter().all(|&b| b == 0) || !checksum_ok(h) {
            // The end of the archive, or a header the tar reader will refuse itself.
            self.state = State::Done;
            return Ok(());
        }
        let kind = h[156];
        let Some(declared) = parse_number(&h[124..136]) else {
            return Err(self.invalid("a header's size field is not a number".into()));
        };
        let is_meta = matches!(kind, b'L' | b'K' | b'x' | b'g' | b'X');
        let size = match (is_meta, self.next_size.take()) {
            (false, Some(s)) => s,
            _ => declared,
        };
        let name = String::from_utf8_lossy(&h[..100])
            .trim_end_matches('\0')
            .to_string();
        if is_meta && size > MAX_TAR_METADATA {
            let record = match kind {
                b'L' => "a GNU long name",
                b'K' => "a GNU long link target",
                _ => "a pax extended header",
            };
            return Err(Error::Limit(format!(
                "{} holds {record} of {size} bytes (at `{name}`); such records are capped at {MAX_TAR_METADATA} bytes",
                self.what
            )));
        }
        let padded = size.checked_add(BLOCK - 1).map(|s| s / BLOCK * BLOCK);
        let Some(padded) = padded else {
            return Err(self.invalid(format!("entry `{name}` declares {size} bytes")));
        };
        if let Some(len) = self.len {
            let left = len.saturating_sub(self.pos);
            if size > left {
                return Err(self.invalid(format!(
                    "entry `{name}` declares {size} bytes, but only {left} bytes of the stream are left"
                )));
            }
        }
        let next = self.pos + padded;
        self.state = if kind == b'x' || kind == b'X' {
            State::Pax {
                end: self.pos + size,
                next,
            }
        } else if kind == b'S' && h[482] != 0 {
            State::Sparse { data: padded }
        } else {
            State::Skip { until: next }
        };
        if self.state == (State::Skip { until: self.pos }) {
            self.state = State::Header;
        }
        Ok(())
    }

    fn invalid(&self, reason: String) -> Error {
        Error::Invalid {
            what: self.what.clone(),
            reason,
        }
    }
}

impl<R: Read> Read for TarGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(&buf[..n]).map_err(blob_io)?;
        Ok(n)
    }
}

/// Seeking is followed as the `tar` crate seeks (`entries_with_seek` jumps over an
/// entry's data to the next header); a seek anywhere else stops the guard following.
impl<R: Read + Seek> Seek for TarGuard<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = self.inner.seek(to)?;
        match self.state {
            State::Skip { until } if new >= self.pos && new <= until => {
                self.pos = new;
                if new == until {
                    self.state = State::Header;
                }
            }
            _ if new == self.pos => {}
            _ => {
                self.pos = new;
                self.state = State::Done;
            }
        }
        Ok(new)
    }
}

/// The tar header checksum: the sum of the header's bytes with the checksum field read as
/// spaces.
fn checksum_ok(h: &[u8; 512]) -> bool {
    let Some(stored) = parse_number(&h[148..156]) else {
        return false;
    };
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    sum == stored
}

/// A numeric header field: octal digits (space- or NUL-padded), or GNU's base-256 form
/// (first byte's top bit set). `None` when it is neither, or does not fit in 64 bits.
fn parse_number(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let s = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ' || b == 0)
        .take_while(|&b| b != b' ' && b != 0);
    let mut v: u64 = 0;
    for b in s {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// The `size` a pax extended header's records set, if any (`"%d size=%d\n"` records).
fn pax_size(mut records: &[u8]) -> Option<u64> {
    let mut size = None;
    while !records.is_empty() {
        let sp = records.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&records[..sp]).ok()?.parse().ok()?;
        if len <= sp || len > records.len() {
            return size;
        }
        let record = &records[sp + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(v) = record.strip_prefix(b"size=") {
            size = std::str::from_utf8(v).ok().and_then(|v| v.parse().ok());
        }
        records = &records[len..];
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn guarded(bytes: &[u8], len: Option<u64>) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut ar = tar::Archive::new(TarGuard::new(bytes, "test tar", len));
        let mut out = Vec::new();
        for e in ar.entries().map_err(|e| e.to_string())? {
            let mut e = e.map_err(|e| e.to_string())?;
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).map_err(|e| e.to_string())?;
            out.push((name, data));
        }
        let mut rest = ar.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        h
    }

    /// A GNU long name header declaring 5 GiB drove memory to 5 GiB; it is refused at
    /// its header.
    #[test]
    fn a_gnu_long_name_declaring_5_gib_is_refused_at_its_header() {
        let h = header("././@LongLink", tar::EntryType::GNULongName, 5 << 30);
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(b'a', 4096));
        let err = guarded(&bytes, None).unwrap_err();
        assert!(
            err.contains("a GNU long name of 5368709120 bytes")
                && err.contains("capped at 1048576"),
            "{err}"
        );
    }

    #[test]
    fn a_pax_header_declaring_5_gib_is_refused_at_its_header() {
        let h = header("pax", tar::EntryType::XHeader, 5 << 30);
        let err = guarded(h.as_bytes(), None).unwrap_err();
        assert!(
            err.contains("a pax extended header of 5368709120 bytes"),
            "{err}"
        );
    }

    #[test]
    fn an_entry_larger_than_the_rest_of_a_plain_tar_is_refused_at_its_header() {
        let h = header("big", tar::EntryType::Regular, 1 << 40);
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend([0u8; 1024]);
        let err = guarded(&bytes, Some(bytes.len() as u64)).unwrap_err();
        assert!(
            err.contains("declares 1099511627776 bytes, but only 1024"),
            "{err}"
        );
    }

    /// Real tars pass untouched: long names, long links, pax headers (with a size
    /// override), sparse-free regular files of every size around the block boundary.
    #[test]
    fn long_names_links_and_pax_records_within_the_cap_pass() {
        let mut b = tar::Builder::new(Vec::new());
        let long = "d/".repeat(300) + "file";
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "link", "t/".repeat(200) + "x")
            .unwrap();
        b.append_pax_extensions([("path", &b"pax/named"[..]), ("size", &b"5"[..])])
            .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "short", &b"hello"[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        let entries = guarded(&bytes, Some(bytes.len() as u64)).unwrap();
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert_eq!(names[0], long);
        assert_eq!(entries[2], ("pax/named".to_string(), b"hello".to_vec()));
    }

    #[test]
    fn seeking_over_entries_is_followed() {
        let mut b = tar::Builder::new(Vec::new());
        for (name, size) in [("a", 10usize), ("b", 600), ("c", 0)] {
            let mut h = tar::Header::new_gnu();
            h.set_size(size as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, &vec![1u8; size][..]).unwrap();
        }
        let mut h = header("././@LongLink", tar::EntryType::GNULongName, 2 << 20);
        h.set_cksum();
        let mut bytes = b.into_inner().unwrap();
        bytes.truncate(bytes.len() - 1024); // drop the end-of-archive blocks
        bytes.extend_from_slice(h.as_bytes());
        bytes.extend(vec![b'x'; 2 << 20]);
        let len = bytes.len() as u64;
        let mut ar = tar::Archive::new(TarGuard::new(io::Cursor::new(bytes), "t", Some(len)));
        let mut names = Vec::new();
        let mut err = None;
        for e in ar.entries_with_seek().unwrap() {
            match e {
                Ok(e) => names.push(String::from_utf8_lossy(&e.path_bytes()).into_owned()),
                Err(e) => {
                    err = Some(e.to_string());
                    break;
                }
            }
        }
        assert_eq!(names, ["a", "b", "c"]);
        assert!(err.unwrap().contains("a GNU long name of 2097152 bytes"));
    }

    proptest! {
        /// Whatever a tar holds, the guard lets through exactly what the tar reader
        /// would read without it.
        #[test]
        fn the_guard_passes_every_well_formed_tar(
            files in proptest::collection::vec(("[a-z]{1,120}", 0usize..2000), 0..12),
            chunk in 1usize..700,
        ) {
            let mut b = tar::Builder::new(Vec::new());
            for (i, (name, size)) in files.iter().enumerate() {
                let mut h = tar::Header::new_gnu();
                h.set_size(*size as u64);
                h.set_mode(0o644);
                let data = vec![i as u8; *size];
                b.append_data(&mut h, format!("{i}/{name}"), &data[..]).unwrap();
            }
            let bytes = b.into_inner().unwrap();
            // Feed the guard in chunks of every size, as a decompressor would.
            struct Chunked<'a>(&'a [u8], usize);
            impl Read for Chunked<'_> {
                fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                    let n = self.1.min(buf.len()).min(self.0.len());
                    buf[..n].copy_from_slice(&self.0[..n]);
                    self.0 = &self.0[n..];
                    Ok(n)
                }
            }
            let mut ar = tar::Archive::new(TarGuard::new(
                Chunked(&bytes, chunk),
                "t",
                Some(bytes.len() as u64),
            ));
            let mut n = 0;
            for e in ar.entries().unwrap() {
                e.unwrap();
                n += 1;
            }
            prop_assert_eq!(n, files.len());
        }
    }
}
