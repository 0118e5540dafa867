//! Zero-copy blob downloads on plain-HTTP connections: the kernel's `sendfile(2)` copies
//! a blob's bytes from the page cache to the socket, so the server never reads them.
//!
//! hyper owns the connection and writes response bodies from buffers; it has no hook for
//! `sendfile`. So the connection is ours ([`Stream`]), and a blob's body is a stream of
//! *placeholders*: slices of one static buffer, [`PLACEHOLDER`], that are never sent.
//! When hyper writes a slice that lies inside that buffer, [`Stream`] sends as many bytes
//! from the blob's file instead, at the file offset it keeps. Each body queues its file
//! ([`Slot`]) when hyper first asks it for data, and hyper writes bodies in the order it
//! asks for them, so the n-th placeholder byte written is always the n-th byte owed by the
//! oldest queued file. This needs hyper to pass body buffers through untouched, which its
//! vectored ("queue") write strategy does: the server forces it with `writev(true)`.
//! TLS connections never get a slot (their bytes must go through rustls) and read the
//! blob into buffers as before. Written by hand because no crate offers sendfile under
//! hyper.

use std::collections::VecDeque;
use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::store::ByteStream;

/// Size of one placeholder slice: what hyper is handed per body frame.
const CHUNK: usize = 1 << 20;

/// The bytes that stand for a file's bytes in a body. Never sent: their address, not their
/// content, tells [`Stream`] to send from the file.
pub static PLACEHOLDER: [u8; CHUNK] = [0; CHUNK];

fn is_placeholder(b: &[u8]) -> bool {
    let start = PLACEHOLDER.as_ptr() as usize;
    let p = b.as_ptr() as usize;
    !b.is_empty() && p >= start && p + b.len() <= start + CHUNK
}

/// A file's bytes owed to the socket.
#[derive(Debug)]
struct Job {
    file: std::fs::File,
    offset: u64,
    remaining: u64,
}

/// The files a connection owes, oldest first. Given to every request on a plain-HTTP
/// connection (as a request extension).
#[derive(Debug, Clone, Default)]
pub struct Slot(Arc<Mutex<VecDeque<Job>>>);

impl Slot {
    /// The body that sends `range` of `file` by `sendfile` when hyper writes it.
    pub fn body(&self, file: std::fs::File, range: Range<u64>) -> ByteStream {
        let mut left = range.end.saturating_sub(range.start);
        let mut job = (left > 0).then_some(Job {
            file,
            offset: range.start,
            remaining: left,
        });
        let slot = self.clone();
        Box::pin(futures_util::stream::poll_fn(move |_cx| {
            if let Some(j) = job.take() {
                slot.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_back(j);
            }
            if left == 0 {
                return Poll::Ready(None);
            }
            let n = left.min(CHUNK as u64) as usize;
            left -= n as u64;
            Poll::Ready(Some(Ok(Bytes::from_static(&PLACEHOLDER[..n]))))
        }))
    }
}

/// A plain-HTTP connection that sends placeholders from their files.
#[derive(Debug)]
pub struct Stream {
    tcp: TcpStream,
    slot: Slot,
}

impl Stream {
    /// Wraps an accepted connection.
    pub fn new(tcp: TcpStream) -> Stream {
        Stream {
            tcp,
            slot: Slot::default(),
        }
    }

    /// The connection's slot, for its requests.
    pub fn slot(&self) -> Slot {
        self.slot.clone()
    }

    /// Sends at most `max` bytes of the oldest file owed.
    fn poll_sendfile(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.tcp.poll_write_ready(cx))?;
            let mut jobs = self.slot.0.lock().unwrap_or_else(|e| e.into_inner());
            let Some(job) = jobs.front_mut() else {
                return Poll::Ready(Err(io::Error::other(
                    "a zero-copy body was written with no file behind it",
                )));
            };
            let n = (max as u64).min(job.remaining) as usize;
            let tcp = &self.tcp;
            let sent = tcp.try_io(Interest::WRITABLE, || {
                let mut offset = job.offset;
                rustix::fs::sendfile(tcp, &job.file, Some(&mut offset), n).map_err(io::Error::from)
            });
            match sent {
                Ok(0) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "a blob's file is shorter than its size",
                    )));
                }
                Ok(k) => {
                    job.offset += k as u64;
                    job.remaining -= k as u64;
                    if job.remaining == 0 {
                        jobs.pop_front();
                    }
                    return Poll::Ready(Ok(k));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if is_placeholder(buf) {
            this.poll_sendfile(cx, buf.len())
        } else {
            Pin::new(&mut this.tcp).poll_write(cx, buf)
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(first) = bufs.iter().position(|b| !b.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        if is_placeholder(&bufs[first]) {
            return this.poll_sendfile(cx, bufs[first].len());
        }
        // The real bytes up to the next placeholder, in one writev.
        let end = bufs[first..]
            .iter()
            .position(|b| is_placeholder(b))
            .map_or(bufs.len(), |k| first + k);
        Pin::new(&mut this.tcp).poll_write_vectored(cx, &bufs[first..end])
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_slices_of_the_placeholder_are_placeholders() {
        assert!(is_placeholder(&PLACEHOLDER[..]));
        assert!(is_placeholder(&PLACEHOLDER[5..100]));
        assert!(!is_placeholder(&PLACEHOLDER[..0]));
        let copy = PLACEHOLDER[..10].to_vec();
        assert!(!is_placeholder(&copy));
    }
}
