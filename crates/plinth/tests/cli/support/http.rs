//! A minimal HTTP/1.1 server for tests, on a thread, on a free port of 127.0.0.1.
//!
//! Written by hand on `std::net` rather than with a server crate because the hostile-server
//! tests must send what no well-behaved server library lets a handler send: a body
//! shorter or longer than its `Content-Length`, an endless body, a connection dropped
//! mid-body. The same server carries the token issuer of the token-auth registry.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A request as received (headers' names in lower case).
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When its headers were complete.
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// Every value of the query parameter `key`, percent-decoded.
    pub fn query_all(&self, key: &str) -> Vec<String> {
        form_values(self.target.split_once('?').map_or("", |(_, q)| q), key)
    }

    pub fn query(&self, key: &str) -> Option<String> {
        self.query_all(key).into_iter().next()
    }

    /// A value of an `application/x-www-form-urlencoded` body.
    pub fn form(&self, key: &str) -> Option<String> {
        form_values(&String::from_utf8_lossy(&self.body), key)
            .into_iter()
            .next()
    }
}

fn form_values(query: &str, key: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the server does with the connection after a handler ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Read the next request on the same connection.
    Keep,
    /// Close the connection (for a body sent without a length, or a lie about it).
    Close,
}

/// The connection a handler answers on.
pub struct Conn<'a> {
    stream: &'a mut TcpStream,
    stop: &'a AtomicBool,
}

impl Conn<'_> {
    /// Whether the server is shutting down: endless writers stop then.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Writes bytes as they are, waiting while the peer does not read (until the server
    /// stops).
    pub fn raw(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.stream.write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if is_timeout(&e) => {
                    if self.stopping() {
                        return Err(e);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes a status line and headers (no `Content-Length` added).
    pub fn head(&mut self, status: u16, headers: &[(&str, &str)]) -> io::Result<()> {
        let mut h = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (k, v) in headers {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        h.push_str("\r\n");
        self.raw(h.as_bytes())
    }

    /// A whole response with the right `Content-Length`.
    pub fn send(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
        let len = body.len().to_string();
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.push(("Content-Length", &len));
        self.head(status, &all)?;
        self.raw(body)
    }

    /// A JSON body.
    pub fn json(&mut self, status: u16, body: &serde_json::Value) -> io::Result<()> {
        self.send(
            status,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

type Handler = dyn Fn(&Request, &mut Conn) -> io::Result<Next> + Send + Sync;

/// A running server; stops (and joins every thread) when dropped.
pub struct Server {
    pub port: u16,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Request>>>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts serving on a free port of 127.0.0.1; each request goes to `handler`.
    pub fn start(
        handler: impl Fn(&Request, &mut Conn) -> io::Result<Next> + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let accept = {
            let (stop, log) = (stop.clone(), log.clone());
            std::thread::spawn(move || {
                let mut conns = Vec::new();
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (stop, log, handler) = (stop.clone(), log.clone(), handler.clone());
                    conns.push(std::thread::spawn(move || {
                        serve(stream, &stop, &log, &*handler);
                    }));
                }
                for c in conns {
                    let _ = c.join();
                }
            })
        };
        Server {
            port,
            stop,
            log,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then joins the connections (they poll `stop`).
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

const TICK: Duration = Duration::from_millis(100);

fn serve(mut stream: TcpStream, stop: &AtomicBool, log: &Mutex<Vec<Request>>, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(TICK));
    let _ = stream.set_write_timeout(Some(TICK));
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut stream, &mut buf, stop) {
        log.lock().unwrap().push(req.clone());
        let mut conn = Conn {
            stream: &mut stream,
            stop,
        };
        match handler(&req, &mut conn) {
            Ok(Next::Keep) => {}
            Ok(Next::Close) | Err(_) => break,
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

/// Reads one request; `None` at end of stream, on an error, or when the server stops.
/// `buf` carries bytes already read past the previous request.
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, stop: &AtomicBool) -> Option<Request> {
    let mut chunk = [0u8; 16 * 1024];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {
                if stop.load(Ordering::SeqCst) {
                    return None;
                }
            }
            Err(_) => return None,
        }
        // Not HTTP (a TLS ClientHello, as a client trying TLS first sends): close, as a
        // real plain-HTTP server answers at once rather than waiting for more.
        if buf.first().is_some_and(|b| !b.is_ascii_uppercase()) {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.drain(..end + 4);
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let at = Instant::now();
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        read_chunked(stream, buf, stop)?
    } else {
        let len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        fill(stream, buf, len, stop)?;
        buf.drain(..len).collect()
    };
    Some(Request {
        method,
        target,
        headers,
        body,
        at,
    })
}

/// Reads until `buf` holds at least `len` bytes.
fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, len: usize, stop: &AtomicBool) -> Option<()> {
    let mut chunk = [0u8; 64 * 1024];
    while buf.len() < len {
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {
                if stop.load(Ordering::SeqCst) {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
    Some(())
}

fn read_chunked(stream: &mut TcpStream, buf: &mut Vec<u8>, stop: &AtomicBool) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            let want = buf.len() + 1;
            fill(stream, buf, want, stop)?;
        };
        let size_line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        buf.drain(..line_end + 2);
        let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
        fill(stream, buf, size + 2, stop)?;
        body.extend(buf.drain(..size));
        buf.drain(..2);
        if size == 0 {
            return Some(body);
        }
    }
}
