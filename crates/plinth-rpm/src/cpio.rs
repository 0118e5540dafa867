//! The cpio "newc" archive rpm payloads are (magic `070701`), read with bounds. rpm ≥ 4.12
//! writes a stripped variant (`07070X`) for files over 4 GiB; such payloads are refused.
//! Written by hand: the format is a fixed 110-byte ASCII header and padding, and the
//! crates for it are unmaintained or write-only.

use std::io::Read;

use crate::package::PayloadFile;

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
/// Longest path accepted.
const MAX_NAME: usize = 4096;

/// Reads every entry up to the `TRAILER!!!` entry; `limit` bounds the total data.
pub(crate) fn read_all(mut r: impl Read, limit: u64) -> Result<Vec<PayloadFile>, String> {
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut pos = 0u64;
    loop {
        let mut hdr = [0u8; 110];
        r.read_exact(&mut hdr)
            .map_err(|e| format!("truncated entry header: {e}"))?;
        pos += 110;
        if &hdr[..6] == b"07070X" {
            return Err("stripped cpio (files over 4 GiB) is not supported".into());
        }
        if &hdr[..6] != b"070701" && &hdr[..6] != b"070702" {
            return Err(format!("bad cpio magic at offset {}", pos - 110));
        }
        let field = |i: usize| -> Result<u32, String> {
            let s = std::str::from_utf8(&hdr[6 + 8 * i..14 + 8 * i])
                .map_err(|_| "non-ascii cpio field".to_string())?;
            u32::from_str_radix(s, 16).map_err(|_| format!("bad cpio field {s:?}"))
        };
        let mode = field(1)?;
        let filesize = field(6)? as u64;
        let namesize = field(11)? as usize;
        if namesize == 0 || namesize > MAX_NAME {
            return Err(format!("cpio name size {namesize} out of bounds"));
        }
        let mut name = vec![0u8; namesize];
        r.read_exact(&mut name)
            .map_err(|e| format!("truncated name: {e}"))?;
        pos += namesize as u64;
        skip(&mut r, pad4(pos), &mut pos)?;
        name.pop();
        let name = String::from_utf8_lossy(&name).into_owned();
        if name == "TRAILER!!!" {
            return Ok(out);
        }
        total += filesize;
        if total > limit {
            return Err(format!("payload larger than {limit} bytes"));
        }
        let mut data = Vec::with_capacity(filesize.min(1 << 20) as usize);
        let n = (&mut r)
            .take(filesize)
            .read_to_end(&mut data)
            .map_err(|e| e.to_string())?;
        if n as u64 != filesize {
            return Err(format!("truncated data of {name}"));
        }
        pos += filesize;
        skip(&mut r, pad4(pos), &mut pos)?;
        let kind = mode & S_IFMT;
        if kind == S_IFREG || kind == S_IFLNK || filesize == 0 {
            out.push(PayloadFile {
                path: name,
                mode,
                data,
            });
        }
    }
}

fn pad4(pos: u64) -> u64 {
    (4 - pos % 4) % 4
}

fn skip(r: &mut impl Read, n: u64, pos: &mut u64) -> Result<(), String> {
    let mut buf = [0u8; 4];
    r.read_exact(&mut buf[..n as usize])
        .map_err(|e| format!("truncated padding: {e}"))?;
    *pos += n;
    Ok(())
}
