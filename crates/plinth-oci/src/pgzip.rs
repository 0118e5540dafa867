//! Reproducible parallel gzip, the way pigz does it.
//!
//! The input is cut into fixed 1 MiB chunks; each is compressed on its own as raw deflate
//! (level 6) ending in a sync flush, the last one in a final block; the pieces are joined
//! into one gzip member (header mtime 0, OS "unknown") with the CRC-32 and length of the
//! whole. The bytes depend only on the input, the chunk size and the level, never on the
//! number of threads or their timing, so layer digests stay reproducible while a build
//! uses every core. Written by hand: the crates that parallelise gzip (gzp) write
//! several gzip members or tie their output to the thread count.
//!
//! Deflate is `miniz_oxide`, called directly and pinned to an exact version, not flate2:
//! flate2 switches backend when any crate in the build enables its `zlib-rs` feature
//! (pgp does), and a backend switch would change every layer digest.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
};

const CHUNK: usize = 1 << 20;
const LEVEL: i32 = 6;

/// Compresses `data` into one gzip member.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![data]
    } else {
        data.chunks(CHUNK).collect()
    };
    let last = chunks.len() - 1;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(chunks.len());
    let parts: Vec<Mutex<Vec<u8>>> = chunks.iter().map(|_| Mutex::new(Vec::new())).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= chunks.len() {
                break;
            }
            let out = deflate(chunks[i], i == last);
            *parts[i].lock().unwrap_or_else(|p| p.into_inner()) = out;
        }
    };
    if threads <= 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    let body: usize = parts.iter().map(|p| p.lock().map_or(0, |v| v.len())).sum();
    let mut out = Vec::with_capacity(body + 18);
    // ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown): nothing about this machine.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    for p in parts {
        out.extend_from_slice(&p.into_inner().unwrap_or_else(|p| p.into_inner()));
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Raw deflate of one chunk: a sync flush (byte-aligned, so pieces concatenate), or the
/// final block for the last chunk.
fn deflate(input: &[u8], last: bool) -> Vec<u8> {
    // window_bits 0: raw deflate, no zlib wrapper.
    let mut c = CompressorOxide::new(create_comp_flags_from_zip_params(LEVEL, 0, 0));
    let flush = if last {
        TDEFLFlush::Finish
    } else {
        TDEFLFlush::Sync
    };
    let mut out = vec![0u8; input.len() / 2 + 1024];
    let (mut pos, mut rest) = (0, input);
    loop {
        let (status, used, written) = compress(&mut c, rest, &mut out[pos..], flush);
        pos += written;
        rest = &rest[used..];
        match status {
            TDEFLStatus::Done => break,
            TDEFLStatus::Okay => {
                // A sync flush is complete once all input is in and output room was left.
                if !last && rest.is_empty() && pos < out.len() {
                    break;
                }
                if out.len() - pos < 1024 {
                    out.resize(out.len() * 2, 0);
                }
            }
            status => unreachable!("deflate into memory failed: {status:?}"),
        }
    }
    out.truncate(pos);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn sample(n: usize) -> Vec<u8> {
        let mut x: u32 = 1;
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                if i % 3 == 0 {
                    (x >> 24) as u8
                } else {
                    b"plinth "[i % 7]
                }
            })
            .collect()
    }

    #[test]
    fn round_trips_at_every_size_around_the_chunk_boundary() {
        for n in [0, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let data = sample(n);
            assert_eq!(gunzip(&gzip(&data)), data, "size {n}");
        }
    }

    #[test]
    fn gnu_gzip_accepts_it() {
        let data = sample(2 * CHUNK + 5);
        let gz = gzip(&data);
        let mut child = std::process::Command::new("gzip")
            .args(["-dc"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &gz));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, data);
    }

    #[test]
    fn output_does_not_depend_on_threads() {
        let data = sample(4 * CHUNK + 3);
        let parallel = gzip(&data);
        // The same pieces made one after another, on one thread.
        let chunks: Vec<&[u8]> = data.chunks(CHUNK).collect();
        let mut serial = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
        for (i, c) in chunks.iter().enumerate() {
            serial.extend(deflate(c, i == chunks.len() - 1));
        }
        serial.extend_from_slice(&crc32fast::hash(&data).to_le_bytes());
        serial.extend_from_slice(&(data.len() as u32).to_le_bytes());
        assert_eq!(parallel, serial);
    }
}
