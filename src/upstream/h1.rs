//! A small HTTP/1.1 client for plain `http://` backends, driven inline on the calling task.
//!
//! Why not reqwest here: measured with `bench/`, a stubbed upstream call let the gateway do
//! ~37k `tools/call`/s on one core, the same call through reqwest ~14k on 1.2 cores: reqwest
//! (hyper's pooled client) runs each connection as its own task, so every call crosses tasks and
//! threads twice. This client writes the request and parses the answer (`httparse`) on the
//! caller's task over a pooled keep-alive connection. It covers what a REST backend answers:
//! `Content-Length`, `chunked` and close-delimited bodies. TLS backends keep using reqwest.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A pooled connection is not reused after this long idle (many servers close at 5 to 75 s).
const MAX_IDLE: Duration = Duration::from_secs(4);
const MAX_HEADERS: usize = 64;
const MAX_HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum H1Error {
    #[error("{0}")]
    Connect(std::io::Error),
    #[error("{0}")]
    Io(std::io::Error),
    #[error("the connection closed before the answer was complete")]
    Closed,
    #[error("malformed answer: {0}")]
    Malformed(String),
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
}

/// An answer read whole.
pub struct H1Answer {
    pub status: u16,
    pub is_json: bool,
    pub body: bytes::Bytes,
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    idle_since: Instant,
}

/// Keep-alive connections to one `host:port`.
pub struct Pool {
    authority: String,
    /// Idle connections per worker thread (slot 0 for any other thread): a connection is
    /// reused by the thread whose event loop it is registered with, so its wake-ups stay on
    /// that thread.
    idle: Box<[Mutex<Vec<Conn>>]>,
    max_idle_conns: usize,
}

/// Idle lists per pool; worker threads beyond `SLOTS - 1` share lists (which still works,
/// with wake-ups crossing threads).
const SLOTS: usize = 16;

thread_local! {
    static SLOT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Mark the calling thread as worker `i` (`server::front`): it gets its own idle connections.
pub fn set_worker(i: usize) {
    SLOT.with(|s| s.set(1 + i % (SLOTS - 1)));
}

fn slot() -> usize {
    SLOT.with(|s| s.get())
}

impl Pool {
    pub fn new(authority: String) -> Self {
        Pool {
            authority,
            idle: (0..SLOTS).map(|_| Mutex::new(Vec::new())).collect(),
            max_idle_conns: 256,
        }
    }

    /// A pooled connection, if one is fresh. For a request that cannot be replayed, the
    /// connection is first checked for a close the server already sent (one non-blocking read).
    fn take(&self, check_open: bool) -> Option<Conn> {
        loop {
            let c = self.idle[slot()].lock().expect("pool lock").pop()?;
            if c.idle_since.elapsed() >= MAX_IDLE {
                continue;
            }
            if check_open {
                let mut probe = [0u8; 1];
                match c.stream.try_read(&mut probe) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    _ => continue, // closed, reset, or unexpected bytes
                }
            }
            return Some(c);
        }
    }

    /// `host:port` this pool connects to.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    fn put(&self, mut c: Conn) {
        c.idle_since = Instant::now();
        let mut idle = self.idle[slot()].lock().expect("pool lock");
        if idle.len() < self.max_idle_conns {
            idle.push(c);
        }
    }

    async fn connect(&self, connect_timeout: Duration) -> Result<Conn, H1Error> {
        let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(&self.authority))
            .await
            .map_err(|_| {
                H1Error::Connect(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connect timed out",
                ))
            })?
            .map_err(H1Error::Connect)?;
        stream.set_nodelay(true).map_err(H1Error::Connect)?;
        Ok(Conn {
            stream,
            buf: BytesMut::with_capacity(8 * 1024),
            idle_since: Instant::now(),
        })
    }

    /// Send one request (head and body already serialized) and read the whole answer.
    /// A pooled connection the server closed meanwhile is replaced once, when that is safe:
    /// the write failed, or the method is idempotent and nothing was read.
    pub async fn send(
        &self,
        request: &[u8],
        method: &str,
        max_body: usize,
        connect_timeout: Duration,
    ) -> Result<H1Answer, H1Error> {
        let idempotent = matches!(
            method,
            "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
        );
        let head = method == "HEAD";
        if let Some(mut conn) = self.take(!idempotent) {
            match exchange(&mut conn, request, head, max_body).await {
                Ok((answer, keep)) => {
                    if keep {
                        self.put(conn);
                    }
                    return Ok(answer);
                }
                Err(Attempt::Stale) => {}
                Err(Attempt::NothingRead(_)) if idempotent => {}
                Err(Attempt::NothingRead(e) | Attempt::Failed(e)) => return Err(e),
            }
        }
        let mut conn = self.connect(connect_timeout).await?;
        match exchange(&mut conn, request, head, max_body).await {
            Ok((answer, keep)) => {
                if keep {
                    self.put(conn);
                }
                Ok(answer)
            }
            Err(Attempt::Stale) => Err(H1Error::Closed),
            Err(Attempt::NothingRead(e) | Attempt::Failed(e)) => Err(e),
        }
    }
}

enum Attempt {
    /// Writing failed: the server never saw this request.
    Stale,
    /// The connection ended before any answer byte arrived.
    NothingRead(H1Error),
    Failed(H1Error),
}

async fn exchange(
    conn: &mut Conn,
    request: &[u8],
    head: bool,
    max_body: usize,
) -> Result<(H1Answer, bool), Attempt> {
    if let Err(e) = super::batch::send_all(&mut conn.stream, request).await {
        // Only a write known not to have reached the server may be tried again elsewhere.
        return Err(if super::batch::maybe_sent(&e) {
            Attempt::Failed(H1Error::Io(e))
        } else {
            Attempt::Stale
        });
    }
    conn.buf.clear();
    // Head.
    let (status, is_json, framing, keep_alive, head_len) = loop {
        let n = conn
            .stream
            .read_buf(&mut conn.buf)
            .await
            .map_err(|e| read_error(conn.buf.is_empty(), H1Error::Io(e)))?;
        if n == 0 {
            return Err(read_error(conn.buf.is_empty(), H1Error::Closed));
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&conn.buf) {
            Ok(httparse::Status::Complete(len)) => {
                let status = resp.code.unwrap_or(0);
                if (100..200).contains(&status) {
                    // An interim answer (e.g. 103): drop it and read on.
                    conn.buf.advance(len);
                    continue;
                }
                let mut is_json = false;
                let mut length = None;
                let mut chunked = false;
                let mut close = resp.version == Some(0);
                // Only the four headers framing and the result need, read as bytes.
                for h in resp.headers.iter() {
                    let v = h.value.trim_ascii();
                    if h.name.eq_ignore_ascii_case("content-length") {
                        length = Some(parse_length(v).ok_or_else(|| {
                            Attempt::Failed(H1Error::Malformed("bad Content-Length".into()))
                        })?);
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        chunked = ends_with_ignore_case(v, b"chunked");
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        close |= contains_ignore_case(v, b"close");
                        close &=
                            !(resp.version == Some(0) && contains_ignore_case(v, b"keep-alive"));
                    } else if h.name.eq_ignore_ascii_case("content-type") {
                        is_json = self::is_json(v);
                    }
                }
                let framing = if head {
                    Framing::Length(0)
                } else if chunked {
                    Framing::Chunked
                } else if let Some(l) = length {
                    Framing::Length(l)
                } else if status == 204 || status == 304 {
                    Framing::Length(0)
                } else {
                    Framing::UntilClose
                };
                break (status, is_json, framing, !close, len);
            }
            Ok(httparse::Status::Partial) if conn.buf.len() < MAX_HEAD_BYTES => {}
            Ok(httparse::Status::Partial) => {
                return Err(Attempt::Failed(H1Error::Malformed(
                    "answer head too large".into(),
                )));
            }
            Err(e) => return Err(Attempt::Failed(H1Error::Malformed(e.to_string()))),
        }
    };
    conn.buf.advance(head_len);
    let fail = Attempt::Failed;
    let (body, reusable) = match framing {
        Framing::Length(len) => {
            if len > max_body {
                return Err(fail(H1Error::TooLarge(max_body)));
            }
            while conn.buf.len() < len {
                fill(conn).await.map_err(fail)?;
            }
            let body = conn.buf.split_to(len).freeze();
            (body, conn.buf.is_empty())
        }
        Framing::Chunked => (read_chunked(conn, max_body).await.map_err(fail)?, true),
        Framing::UntilClose => {
            loop {
                if conn.buf.len() > max_body {
                    return Err(fail(H1Error::TooLarge(max_body)));
                }
                let n = conn
                    .stream
                    .read_buf(&mut conn.buf)
                    .await
                    .map_err(|e| fail(H1Error::Io(e)))?;
                if n == 0 {
                    break;
                }
            }
            (conn.buf.split().freeze(), false)
        }
    };
    Ok((
        H1Answer {
            status,
            is_json,
            body,
        },
        keep_alive && reusable,
    ))
}

/// A `Content-Length` value: ASCII digits only (no sign, no spaces), as RFC 9110 has it.
/// Shared with the HTTP/1 front, which reads requests' lengths the same way.
pub(crate) fn parse_length(v: &[u8]) -> Option<usize> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn contains_ignore_case(v: &[u8], needle: &[u8]) -> bool {
    v.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn ends_with_ignore_case(v: &[u8], suffix: &[u8]) -> bool {
    v.len() >= suffix.len() && v[v.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// A `Content-Type` that says JSON (`application/json`, `application/problem+json`,
/// `text/json`, ...): its media type names `json`.
pub fn is_json(content_type: &[u8]) -> bool {
    let media_type = content_type
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default();
    contains_ignore_case(media_type, b"json")
}

fn read_error(nothing_read: bool, e: H1Error) -> Attempt {
    if nothing_read {
        Attempt::NothingRead(e)
    } else {
        Attempt::Failed(e)
    }
}

enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// Decode a chunked body (trailers are read and dropped).
async fn read_chunked(conn: &mut Conn, max_body: usize) -> Result<bytes::Bytes, H1Error> {
    let mut out = BytesMut::new();
    loop {
        let line = read_line(conn).await?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| H1Error::Malformed(format!("bad chunk size `{size_hex}`")))?;
        if size == 0 {
            // Trailers until an empty line.
            while !read_line(conn).await?.is_empty() {}
            return Ok(out.freeze());
        }
        if out.len() + size > max_body {
            return Err(H1Error::TooLarge(max_body));
        }
        while conn.buf.len() < size + 2 {
            fill(conn).await?;
        }
        out.extend_from_slice(&conn.buf[..size]);
        if &conn.buf[size..size + 2] != b"\r\n" {
            return Err(H1Error::Malformed("chunk not followed by CRLF".into()));
        }
        conn.buf.advance(size + 2);
    }
}

async fn read_line(conn: &mut Conn) -> Result<String, H1Error> {
    loop {
        if let Some(i) = conn.buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&conn.buf[..i]).into_owned();
            conn.buf.advance(i + 2);
            return Ok(line);
        }
        if conn.buf.len() > MAX_HEAD_BYTES {
            return Err(H1Error::Malformed("chunk header too long".into()));
        }
        fill(conn).await?;
    }
}

/// Read more of the answer into the buffer; the peer closing here is an error.
async fn fill(conn: &mut Conn) -> Result<(), H1Error> {
    match conn.stream.read_buf(&mut conn.buf).await {
        Ok(0) => Err(H1Error::Closed),
        Ok(_) => Ok(()),
        Err(e) => Err(H1Error::Io(e)),
    }
}
