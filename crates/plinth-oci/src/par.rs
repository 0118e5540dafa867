//! Reading ahead: the next layers of an image are verified and inflated on other cores
//! while one is consumed. (Parallel maps are `plinth_core::par`'s.)

/// What a read-ahead thread passes to the reader: a chunk, or the error that ended it.
enum Chunk {
    Data(Vec<u8>),
    Failed(std::io::Error),
}

/// The reading end of [`read_ahead`]: the stream's bytes, in order.
pub struct AheadReader {
    rx: std::sync::mpsc::Receiver<Chunk>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

impl std::io::Read for AheadReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Chunk::Data(v)) => {
                    self.current = v;
                    self.pos = 0;
                }
                Ok(Chunk::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // The sender finished: end of stream.
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The most bytes one read-ahead stream holds before its reader takes them.
const AHEAD_BYTES: usize = 8 << 20;
const AHEAD_CHUNK: usize = 256 << 10;

/// Reads the streams that `open` gives for `0..count` on threads of `scope`, at most
/// `window` streams (and [`AHEAD_BYTES`] each) ahead of the consumer, and hands them to
/// `consume` in order. Used to decompress and verify the next layers on other cores
/// while this one is squashed: the consumer stays sequential, so its result does not
/// depend on timing, and memory stays bounded whatever the streams hold. When `consume`
/// fails, the threads still reading stop at their next chunk (their receiver is gone).
/// No crate does bounded, ordered read-ahead of several streams; it is 80 lines here.
pub fn read_ahead<'scope, 'env, E: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    count: usize,
    window: usize,
    open: impl Fn(usize) -> Result<Box<dyn std::io::Read + Send + 'env>, E> + Send + Sync + 'env,
    mut consume: impl FnMut(usize, AheadReader) -> Result<(), E>,
) -> Result<(), E> {
    use std::sync::mpsc::sync_channel;
    let open = std::sync::Arc::new(open);
    let mut pending = std::collections::VecDeque::new();
    let spawn = |i: usize| {
        let (tx, rx) = sync_channel::<Chunk>(AHEAD_BYTES / AHEAD_CHUNK);
        let (open_tx, open_rx) = sync_channel::<Result<(), E>>(1);
        let open = std::sync::Arc::clone(&open);
        scope.spawn(move || {
            let mut r = match open(i) {
                Ok(r) => {
                    let _ = open_tx.send(Ok(()));
                    r
                }
                Err(e) => {
                    let _ = open_tx.send(Err(e));
                    return;
                }
            };
            loop {
                let mut buf = vec![0u8; AHEAD_CHUNK];
                let mut filled = 0;
                let failed = loop {
                    match r.read(&mut buf[filled..]) {
                        Ok(0) => break None,
                        Ok(n) => {
                            filled += n;
                            if filled == buf.len() {
                                break None;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => break Some(e),
                    }
                };
                let end = filled < buf.len() || failed.is_some();
                buf.truncate(filled);
                if filled > 0 && tx.send(Chunk::Data(buf)).is_err() {
                    return;
                }
                if let Some(e) = failed {
                    let _ = tx.send(Chunk::Failed(e));
                    return;
                }
                if end {
                    return;
                }
            }
        });
        (open_rx, rx)
    };
    let window = window.max(1);
    for i in 0..count.min(window) {
        pending.push_back(spawn(i));
    }
    for i in 0..count {
        let (open_rx, rx) = pending.pop_front().expect("one stream per index");
        if i + window < count {
            pending.push_back(spawn(i + window));
        }
        // The thread always sends once before it reads.
        if let Ok(Err(e)) = open_rx.recv() {
            return Err(e);
        }
        consume(
            i,
            AheadReader {
                rx,
                current: Vec::new(),
                pos: 0,
                done: false,
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn pattern(i: usize, n: usize) -> Vec<u8> {
        (0..n).map(|j| (i * 31 + j * 7) as u8).collect()
    }

    #[test]
    fn streams_arrive_whole_and_in_order() {
        let sizes = [0, 1, AHEAD_CHUNK - 1, AHEAD_CHUNK, 3 * AHEAD_CHUNK + 5, 100];
        let mut seen = Vec::new();
        std::thread::scope(|s| {
            read_ahead(
                s,
                sizes.len(),
                2,
                |i| Ok::<_, String>(Box::new(std::io::Cursor::new(pattern(i, sizes[i])))),
                |i, mut r| {
                    let mut v = Vec::new();
                    r.read_to_end(&mut v).unwrap();
                    assert_eq!(v, pattern(i, sizes[i]), "stream {i}");
                    seen.push(i);
                    Ok(())
                },
            )
        })
        .unwrap();
        assert_eq!(seen, (0..sizes.len()).collect::<Vec<_>>());
    }

    struct FailsAfter(usize);
    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("bad gzip"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(1);
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn errors_reach_the_consumer_in_place() {
        // Stream 1 fails to open, stream 2 fails while read: the consumer sees stream 0
        // whole, then the open error; nothing later runs.
        let mut seen = Vec::new();
        let r = std::thread::scope(|s| {
            read_ahead(
                s,
                4,
                4,
                |i| match i {
                    1 => Err(format!("cannot open {i}")),
                    2 => Ok(Box::new(FailsAfter(10)) as Box<dyn Read + Send>),
                    _ => Ok(Box::new(std::io::Cursor::new(pattern(i, 1 << 20))) as _),
                },
                |i, mut r| {
                    let mut v = Vec::new();
                    r.read_to_end(&mut v).map_err(|e| e.to_string())?;
                    seen.push(i);
                    Ok(())
                },
            )
        });
        assert_eq!(r, Err("cannot open 1".to_string()));
        assert_eq!(seen, vec![0]);

        let r = std::thread::scope(|s| {
            read_ahead(
                s,
                3,
                1,
                |i| match i {
                    1 => Ok(Box::new(FailsAfter(AHEAD_CHUNK + 10)) as Box<dyn Read + Send>),
                    _ => Ok(Box::new(std::io::Cursor::new(pattern(i, 10))) as _),
                },
                |_, mut r| {
                    let mut v = Vec::new();
                    r.read_to_end(&mut v).map_err(|e| e.to_string()).map(|_| ())
                },
            )
        });
        assert_eq!(r, Err("bad gzip".to_string()));
    }

    #[test]
    fn a_failing_consumer_stops_the_readers() {
        // Endless streams: if the threads did not stop when the consumer gave up, the
        // scope would never end.
        struct Endless;
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                buf.fill(0);
                Ok(buf.len())
            }
        }
        let r = std::thread::scope(|s| {
            read_ahead(
                s,
                5,
                3,
                |_| Ok::<_, &str>(Box::new(Endless) as Box<dyn Read + Send>),
                |_, mut r| {
                    let mut b = [0u8; 10];
                    r.read_exact(&mut b).unwrap();
                    Err("gave up")
                },
            )
        });
        assert_eq!(r, Err("gave up"));
    }
}
