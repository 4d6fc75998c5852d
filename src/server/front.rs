//! HTTP/1.1 front door: plain `POST /mcp/{name}` requests the fast path answers are read,
//! answered and written on the connection's own task; every other connection is handed, with
//! the bytes already read, to hyper serving the axum router, which serves it from then on.
//!
//! Why: measured with `bench/`, hyper's server loop, axum's router and the request/response
//! types around them took about a third of the gateway's user-space time per `tools/call`,
//! more than the call's own work (JSON-RPC parse, validation, upstream exchange, result).
//! This module does only what a keep-alive JSON POST needs (`httparse` for the head, a
//! `Content-Length` body, one write per answer) and declines anything else before acting on
//! it: other methods and paths, `Transfer-Encoding`, `Expect`, `Upgrade`, `Connection`
//! options, HTTP/1.0, oversized or malformed heads, bodies over 64 KiB, HTTP/2, requests with
//! an `Origin`, and every request the fast path itself declines. A refused token or scope is
//! answered here with the router's own `401`/`403`, so it is checked once. A declined
//! request has not been acted on (nothing went upstream), so hyper parses it again from the
//! same bytes and answers it exactly as it would have without this module. Graceful shutdown
//! stops the accept loop and lets each connection finish the request it is serving (answered
//! with `connection: close`, by the front or by hyper), for at most 30 s.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::response::Response;
use bytes::{Buf, BytesMut};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::{AppState, FastAnswer};
use crate::upstream::batch::Batcher;

/// A request head larger than this is left to hyper (which answers 431).
const MAX_HEAD: usize = 16 * 1024;
/// Bodies the front reads itself; a larger one is left to hyper, so no connection holds more
/// than this before its token is checked.
const MAX_BODY: usize = 64 * 1024;
/// As many header lines as the fast path will look at; more goes to hyper.
const MAX_HEADERS: usize = 32;
/// A request that has begun must arrive whole within this time, or the connection is closed.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// After a shutdown signal, how long connections get to finish what they are serving.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Buffers grown past this by one large request are given back afterwards.
const KEEP_BUFFER: usize = 64 * 1024;

/// A connection hyper serves, starting with the bytes the front already read from it.
struct Handed {
    prefix: BytesMut,
    stream: TcpStream,
}

/// A connection on its way from the acceptor to a worker thread.
struct Accepted {
    stream: std::net::TcpStream,
    addr: SocketAddr,
    open: Open,
}

/// Counts a connection for its worker (least-loaded placement) and for the shutdown grace,
/// until it ends, however it ends.
struct Open {
    count: Arc<AtomicUsize>,
    _tracked: TaskTrackerToken,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One worker thread: a single-threaded runtime serving the connections it is given.
struct Worker {
    tx: mpsc::UnboundedSender<Accepted>,
    open: Arc<AtomicUsize>,
}

/// Accept connections until `cancel`, giving each to the least busy of `threads` worker
/// threads, which serve it with the front (and hyper when handed over); then let them finish
/// what they are serving, for at most [`SHUTDOWN_GRACE`].
///
/// Why worker threads, each with its own single-threaded runtime, rather than tokio's
/// work-stealing pool: a call is a few short steps on one connection and one upstream
/// connection; measured with `bench/`, keeping both on one thread (the upstream pool keeps
/// idle connections per thread, see `upstream::h1`) spares the cross-thread wake-ups and
/// context switches the shared pool costs per call. This is nginx's and Envoy's model. A long
/// CPU-bound request would delay the other connections of its thread; no request here does
/// more than parse, validate and copy its own bytes.
pub async fn serve(
    tcp: TcpListener,
    state: AppState,
    router: Router,
    cancel: CancellationToken,
    threads: usize,
    io_uring: bool,
) -> io::Result<()> {
    let tracker = TaskTracker::new();
    // Ends the worker threads once their connections are done (or the grace is over).
    let stop = CancellationToken::new();
    let mut workers = Vec::with_capacity(threads);
    for i in 0..threads {
        let batcher = match io_uring.then(Batcher::new) {
            Some(Ok(b)) => Some(b),
            Some(Err(e)) => {
                if i == 0 {
                    tracing::info!(error = %e, "io_uring unavailable: upstream requests are sent one by one");
                }
                None
            }
            None => None,
        };
        let mut rt = tokio::runtime::Builder::new_current_thread();
        rt.enable_all();
        if let Some(b) = &batcher {
            // Before the worker waits for events, the requests its tasks prepared go out.
            let b = b.clone();
            rt.on_thread_park(move || b.flush());
        }
        let rt = rt.build()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (state, router, cancel, stop) =
            (state.clone(), router.clone(), cancel.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("rest2mcp-worker-{i}"))
            .spawn(move || {
                crate::upstream::h1::set_worker(i);
                if let Some(b) = &batcher {
                    b.install();
                }
                rt.block_on(worker(rx, state, router, cancel, stop));
                rt.shutdown_background();
            })?;
        workers.push(Worker {
            tx,
            open: Arc::default(),
        });
    }
    let mut next = 0;
    loop {
        let accepted = tokio::select! {
            a = tcp.accept() => a,
            _ = cancel.cancelled() => break,
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                accept_error(e).await;
                continue;
            }
        };
        // Answers are written whole: no reason to let Nagle hold the last segment.
        let _ = stream.set_nodelay(true);
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%addr, error = %e, "cannot hand a connection to a worker");
                continue;
            }
        };
        // The worker with the fewest open connections, taking turns among equals.
        let w = (0..threads)
            .map(|k| &workers[(next + k) % threads])
            .min_by_key(|w| w.open.load(Ordering::Relaxed))
            .expect("at least one worker");
        next = (next + 1) % threads;
        w.open.fetch_add(1, Ordering::Relaxed);
        let open = Open {
            count: w.open.clone(),
            _tracked: tracker.token(),
        };
        if w.tx.send(Accepted { stream, addr, open }).is_err() {
            tracing::error!(%addr, "a worker thread is gone: connection dropped");
        }
    }
    drop(tcp);
    drop(workers);
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = tracker.len(),
            "connections still busy {} s after the shutdown signal: closing them",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    stop.cancel();
    Ok(())
}

/// A worker thread's loop: serve each connection it is given on its own task; once the
/// acceptor is done, keep serving them until `stop`.
async fn worker(
    mut rx: mpsc::UnboundedReceiver<Accepted>,
    state: AppState,
    router: Router,
    cancel: CancellationToken,
    stop: CancellationToken,
) {
    while let Some(Accepted { stream, addr, open }) = rx.recv().await {
        match TcpStream::from_std(stream) {
            Ok(stream) => {
                let c = connection(stream, addr, state.clone(), router.clone(), cancel.clone());
                tokio::spawn(async move {
                    c.await;
                    drop(open);
                });
            }
            Err(e) => tracing::warn!(%addr, error = %e, "cannot register a connection"),
        }
    }
    stop.cancelled().await;
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

/// Where a request the front serves itself lies in the buffer.
#[derive(Clone, Copy)]
struct Head {
    head_len: usize,
    /// Head and body.
    len: usize,
}

enum Parsed {
    Head(Head),
    /// Eligible so far; more bytes needed.
    Partial,
    /// Not for the front: hand the connection over.
    Decline,
}

async fn connection(
    mut stream: TcpStream,
    addr: SocketAddr,
    st: AppState,
    router: Router,
    cancel: CancellationToken,
) {
    let mut buf = BytesMut::with_capacity(4096);
    let mut out = Vec::with_capacity(1024);
    let mut answered = false;
    loop {
        // Read until one whole request is in `buf` (its head is parsed once).
        let mut head = None;
        let mut deadline = None;
        let head = loop {
            if !buf.is_empty() {
                if head.is_none() {
                    match parse(&buf, st.max_request_bytes.min(MAX_BODY)) {
                        Parsed::Head(h) => head = Some(h),
                        Parsed::Partial => {}
                        Parsed::Decline => break None,
                    }
                }
                if let Some(h) = head
                    && buf.len() >= h.len
                {
                    break Some(h);
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
                let until = *deadline.get_or_insert_with(|| Instant::now() + REQUEST_READ_TIMEOUT);
                match tokio::time::timeout_at(until, stream.read_buf(&mut buf)).await {
                    Ok(r) => r,
                    Err(_) => return,
                }
            };
            match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let Some(head) = head else { break };
        // Parse the head again (no allocation, a few hundred nanoseconds) to borrow from it.
        let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut lines);
        let _ = req.parse(&buf[..head.head_len]);
        let name = &req.path.unwrap_or_default()["/mcp/".len()..];
        let Some(headers) = crate::fastpath::Headers::from_lines(req.headers) else {
            break;
        };
        let body = &buf[head.head_len..head.len];
        // With a pipelined request already read there is nothing to watch (as in hyper).
        let watch = buf.len() == head.len;
        let work = super::fast_answer(&st, name, &headers, body);
        let Some(answer) = unless_hung_up(&stream, watch, work).await else {
            tracing::debug!(%addr, "client closed the connection during its call: call dropped");
            return;
        };
        // After a shutdown signal, answer what is in hand and say the connection ends (as
        // hyper does), so the client does not take the close for a failure.
        let close = cancel.is_cancelled();
        match answer {
            FastAnswer::Json(json) => write_answer(&mut out, &json, close),
            FastAnswer::Refusal(resp) => write_response(&mut out, resp, close).await,
            FastAnswer::Decline => break,
        }
        if stream.write_all(&out).await.is_err() || close {
            let _ = stream.shutdown().await;
            return;
        }
        answered = true;
        buf.advance(head.len);
        if out.capacity() > KEEP_BUFFER {
            out = Vec::with_capacity(1024);
        }
        if buf.capacity() > KEEP_BUFFER && buf.len() < 4096 {
            buf = BytesMut::from(&buf[..]);
        }
    }
    // Everything from the declined request on is hyper's to read. After the front answered
    // on this connection it can only be HTTP/1.1; before, hyper also sniffs for HTTP/2.
    tracing::trace!(%addr, "connection handed to hyper");
    let io = TokioIo::new(Handed {
        prefix: buf,
        stream,
    });
    let service = TowerToHyperService::new(router);
    // Handed over after the shutdown signal: hyper answers this last request with
    // `connection: close`, as it does for one it began itself.
    let keep_alive = !cancel.is_cancelled();
    if answered {
        let conn = hyper::server::conn::http1::Builder::new()
            .keep_alive(keep_alive)
            .serve_connection(io, service)
            .with_upgrades();
        let mut conn = pin!(conn);
        drive(conn.as_mut(), &cancel, |c| c.graceful_shutdown()).await;
    } else {
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder.http1().keep_alive(keep_alive);
        let conn = builder.serve_connection_with_upgrades(io, service);
        let mut conn = pin!(conn);
        drive(conn.as_mut(), &cancel, |c| c.graceful_shutdown()).await;
    }
}

/// `work`'s output, or `None` as soon as the client closes the connection (or it fails)
/// first: a client that hung up gets nothing, so its call is dropped, upstream exchange and
/// all, as hyper drops a handler whose connection closes. Bytes of a pipelined next request
/// end the watch (they stay unread in the socket until their turn).
async fn unless_hung_up<T>(
    stream: &TcpStream,
    mut watch: bool,
    work: impl Future<Output = T>,
) -> Option<T> {
    let mut work = pin!(work);
    loop {
        let mut probe = [0u8; 1];
        tokio::select! {
            biased;
            out = work.as_mut() => return Some(out),
            peeked = std::future::poll_fn(|cx| stream.poll_peek(cx, &mut ReadBuf::new(&mut probe))), if watch => {
                match peeked {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => watch = false,
                }
            }
        }
    }
}

/// Serve a hyper connection to its end; on shutdown, let it finish the request it has begun
/// (hyper answers it with `connection: close`), as axum's own server does.
async fn drive<C, T, E>(
    mut conn: Pin<&mut C>,
    cancel: &CancellationToken,
    shutdown: impl FnOnce(Pin<&mut C>),
) where
    C: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut shutdown = Some(shutdown);
    loop {
        tokio::select! {
            // The connection first: it reads the replayed request before a shutdown that is
            // already under way can close it unread.
            biased;
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::trace!(error = %e, "connection ended");
                }
                return;
            }
            _ = cancel.cancelled(), if shutdown.is_some() => {
                if let Some(f) = shutdown.take() {
                    f(conn.as_mut());
                }
            }
        }
    }
}

/// Read a request head; `Head` only for a plain keep-alive JSON POST to `/mcp/{name}` with a
/// body of at most `max_body` bytes.
fn parse(buf: &[u8], max_body: usize) -> Parsed {
    let mut lines = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut lines);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEAD => n,
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
            match crate::upstream::h1::parse_length(v) {
                Some(l) if length.is_none() && v.len() <= 12 => length = Some(l),
                _ => return Parsed::Decline,
            }
        } else if n.eq_ignore_ascii_case("transfer-encoding")
            || n.eq_ignore_ascii_case("expect")
            || n.eq_ignore_ascii_case("upgrade")
            || (n.eq_ignore_ascii_case("connection")
                && !h.value.trim_ascii().eq_ignore_ascii_case(b"keep-alive"))
        {
            return Parsed::Decline;
        }
    }
    match length.filter(|l| *l <= max_body) {
        Some(length) => Parsed::Head(Head {
            head_len,
            len: head_len + length,
        }),
        None => Parsed::Decline,
    }
}

/// `200 OK` with a JSON body, in hyper's header spelling.
fn write_answer(out: &mut Vec<u8>, body: &[u8], close: bool) {
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n");
    finish_head(out, body.len(), close);
    out.extend_from_slice(body);
}

/// A whole (in-memory) answer from the router's own code, such as a `401` challenge, written
/// as hyper would write it.
async fn write_response(out: &mut Vec<u8>, resp: Response, close: bool) {
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    out.clear();
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_str(),
        parts.status.canonical_reason().unwrap_or("")
    );
    for (name, value) in &parts.headers {
        if name == http::header::CONTENT_LENGTH || name == http::header::CONNECTION {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    finish_head(out, body.len(), close);
    out.extend_from_slice(&body);
}

/// `content-length`, `connection: close` when the connection ends, `date`, the blank line.
fn finish_head(out: &mut Vec<u8>, len: usize, close: bool) {
    let _ = write!(out, "content-length: {len}\r\n");
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"date: ");
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        let now = SystemTime::now();
        let secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if d.0 != secs || d.1.is_empty() {
            *d = (secs, httpdate::fmt_http_date(now));
        }
        out.extend_from_slice(d.1.as_bytes());
    });
    out.extend_from_slice(b"\r\n\r\n");
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
