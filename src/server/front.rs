//! HTTP/1.1 front door: plain `POST /mcp/{name}` requests the fast path answers are read,
//! answered and written on the connection's own task; every other connection is handed, with
//! the bytes already read, to axum and hyper, which serve it from then on.
//!
//! Why: measured with `bench/`, hyper's server loop, axum's router and the request/response
//! types around them took about a third of the gateway's user-space time per `tools/call`,
//! more than the call's own work (JSON-RPC parse, validation, upstream exchange, result).
//! This module does only what a keep-alive JSON POST needs (`httparse` for the head, a
//! `Content-Length` body, one write per answer) and declines anything else before acting on
//! it: other methods and paths, `Transfer-Encoding`, `Expect`, `Upgrade`, `Connection`
//! options, HTTP/1.0, oversized or malformed heads, HTTP/2, requests with an `Origin`, a
//! missing or refused token, and every request the fast path itself declines. A declined
//! request has not been acted on (nothing went upstream), so hyper parses it again from the
//! same bytes and answers it exactly as it would have without this module. Graceful shutdown
//! stops the accept loop and lets each connection finish the request it is serving.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::AppState;

/// A request head larger than this is left to hyper (which answers 431).
const MAX_HEAD: usize = 16 * 1024;
/// As many header lines as the fast path will look at; more goes to hyper.
const MAX_HEADERS: usize = 32;
/// A request that has begun must arrive whole within this time, or the connection is closed.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection axum serves, starting with the bytes the front already read from it.
pub struct Handed {
    prefix: BytesMut,
    stream: TcpStream,
}

/// The listener axum serves: it accepts TCP connections, runs the front on each, and yields
/// the connections the front hands over.
pub struct Front {
    tcp: TcpListener,
    handed_tx: mpsc::Sender<(Handed, SocketAddr)>,
    handed_rx: mpsc::Receiver<(Handed, SocketAddr)>,
    state: AppState,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Front {
    pub fn new(tcp: TcpListener, state: AppState, cancel: CancellationToken) -> Self {
        let (handed_tx, handed_rx) = mpsc::channel(64);
        Front {
            tcp,
            handed_tx,
            handed_rx,
            state,
            cancel,
            tracker: TaskTracker::new(),
        }
    }

    /// The front's connection tasks: wait on it after axum's graceful shutdown.
    pub fn tracker(&self) -> TaskTracker {
        self.tracker.clone()
    }
}

impl axum::serve::Listener for Front {
    type Io = Handed;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Handed, SocketAddr) {
        loop {
            tokio::select! {
                Some(handed) = self.handed_rx.recv() => return handed,
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, addr)) => {
                        // Answers are written whole: no reason to let Nagle hold the last segment.
                        let _ = stream.set_nodelay(true);
                        self.tracker.spawn(connection(
                            stream,
                            addr,
                            self.state.clone(),
                            self.handed_tx.clone(),
                            self.cancel.clone(),
                        ));
                    }
                    Err(e) => accept_error(e).await,
                },
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// As axum does: a per-connection error is nothing; anything else (out of file descriptors)
/// is logged and retried after a second.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Where a request the front serves itself lies in the buffer, read whole.
struct Ready {
    /// Head and body.
    len: usize,
    head_len: usize,
}

enum Parsed {
    Ready(Ready),
    /// Eligible so far; more bytes needed.
    Partial,
    /// Not for the front: hand the connection over.
    Decline,
}

async fn connection(
    mut stream: TcpStream,
    addr: SocketAddr,
    st: AppState,
    handed: mpsc::Sender<(Handed, SocketAddr)>,
    cancel: CancellationToken,
) {
    let mut buf = BytesMut::with_capacity(4096);
    let mut out = Vec::with_capacity(1024);
    loop {
        let ready = loop {
            if !buf.is_empty() {
                match parse(&buf, st.max_request_bytes) {
                    Parsed::Ready(r) => break Some(r),
                    Parsed::Partial => {}
                    Parsed::Decline => break None,
                }
            }
            buf.reserve(4096);
            let read = if buf.is_empty() {
                // Between requests: wait as long as the client likes, but not past shutdown.
                tokio::select! {
                    r = stream.read_buf(&mut buf) => r,
                    _ = cancel.cancelled() => return,
                }
            } else {
                match tokio::time::timeout(REQUEST_READ_TIMEOUT, stream.read_buf(&mut buf)).await {
                    Ok(r) => r,
                    Err(_) => return,
                }
            };
            match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let Some(ready) = ready else { break };
        // Parse the head again (no allocation, a few hundred nanoseconds) to borrow from it.
        let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut lines);
        let _ = req.parse(&buf[..ready.head_len]);
        let name = &req.path.unwrap_or_default()["/mcp/".len()..];
        let Some(headers) = crate::fastpath::Headers::from_lines(req.headers) else {
            break;
        };
        let body = &buf[ready.head_len..ready.len];
        let Some(answer) = super::fast_answer(&st, name, &headers, body).await else {
            break;
        };
        write_answer(&mut out, &answer);
        if stream.write_all(&out).await.is_err() {
            return;
        }
        buf.advance(ready.len);
    }
    // Everything from the declined request on is hyper's to read.
    tracing::trace!(%addr, "connection handed to hyper");
    let _ = handed
        .send((
            Handed {
                prefix: buf,
                stream,
            },
            addr,
        ))
        .await;
}

/// Read a request head; `Ready` only for a complete, plain keep-alive JSON POST to
/// `/mcp/{name}` whose body has arrived too.
fn parse(buf: &[u8], max_body: usize) -> Parsed {
    let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut lines);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Parsed::Partial,
        _ => return Parsed::Decline,
    };
    if req.method != Some("POST") || req.version != Some(1) {
        return Parsed::Decline;
    }
    let Some(name) = req.path.and_then(|p| p.strip_prefix("/mcp/")) else {
        return Parsed::Decline;
    };
    // Only names that need no decoding (RFC 3986 unreserved): anything else is axum's.
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        return Parsed::Decline;
    }
    let mut length = None;
    for h in req.headers.iter() {
        let n = h.name;
        if n.eq_ignore_ascii_case("content-length") {
            let v = h.value.trim_ascii();
            if length.is_some() || v.is_empty() || !v.iter().all(u8::is_ascii_digit) || v.len() > 12
            {
                return Parsed::Decline;
            }
            length = std::str::from_utf8(v)
                .ok()
                .and_then(|v| v.parse::<usize>().ok());
        } else if n.eq_ignore_ascii_case("transfer-encoding")
            || n.eq_ignore_ascii_case("expect")
            || n.eq_ignore_ascii_case("upgrade")
            || (n.eq_ignore_ascii_case("connection")
                && !h.value.trim_ascii().eq_ignore_ascii_case(b"keep-alive"))
        {
            return Parsed::Decline;
        }
    }
    let Some(length) = length.filter(|l| *l <= max_body) else {
        return Parsed::Decline;
    };
    if buf.len() < head_len + length {
        return Parsed::Partial;
    }
    Parsed::Ready(Ready {
        len: head_len + length,
        head_len,
    })
}

/// `200 OK` with a JSON body, in hyper's header spelling.
fn write_answer(out: &mut Vec<u8>, body: &[u8]) {
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ");
    let _ = write!(out, "{}", body.len());
    out.extend_from_slice(b"\r\ndate: ");
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        let now = SystemTime::now();
        let secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if d.0 != secs {
            *d = (secs, httpdate::fmt_http_date(now));
        }
        out.extend_from_slice(d.1.as_bytes());
    });
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

thread_local! {
    /// `Date` for the current second, formatted once per second per thread (as hyper does).
    static DATE: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((0, String::new())) };
}

impl AsyncRead for Handed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(out.remaining());
            out.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, out)
    }
}

impl AsyncWrite for Handed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
