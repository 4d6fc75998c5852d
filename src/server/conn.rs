//! One client connection, served by hyper's HTTP/1 server: framing, keep-alive and pipelining
//! are hyper's; around it, the socket's deadlines and lingering close (`io`), and the body
//! deadline each request carries (`endpoint::ConnCtx`). Plain `POST /mcp/{name}` requests go
//! straight to the endpoint; everything else to the axum router.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::{HeaderValue, Request};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::AppState;
use super::endpoint::ConnCtx;
use super::io::{Clock, Deadlines, Linger, LingerLimits};

/// How long after the shutdown signal a quiet keep-alive connection stays open for a request
/// its client may already be sending (answered with `connection: close`).
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(1);

/// The deadlines every connection gets.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    pub header_read: Duration,
    pub idle: Duration,
    pub body_read: Duration,
    pub linger: LingerLimits,
}

/// Serve one connection until the client closes it, a deadline passes, or (after `cancel`)
/// the request in progress is answered.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    st: AppState,
    router: Router,
    cancel: CancellationToken,
    limits: ConnLimits,
) {
    let clock = Arc::new(Clock::new(limits.idle, limits.header_read));
    let io = TokioIo::new(Deadlines::new(
        Linger::new(stream, clock.clone(), limits.linger),
        clock.clone(),
    ));
    let stopping = cancel.clone();
    let conn_clock = clock.clone();
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        clock.request_started();
        let ctx = ConnCtx {
            clock: clock.clone(),
            body_deadline: tokio::time::Instant::now() + limits.body_read,
        };
        let req = req.map(Body::new);
        let (st, router, clock) = (st.clone(), router.clone(), clock.clone());
        let stopping = stopping.clone();
        async move {
            let name = (req.method() == http::Method::POST)
                .then(|| req.uri().path().strip_prefix("/mcp/"))
                .flatten()
                // A name with escapes goes through axum's router, which decodes it, so that
                // every spelling of a name is the same endpoint on every path.
                .filter(|n| {
                    !n.is_empty()
                        && n.matches('/').count() <= 1
                        && !n.ends_with('/')
                        && !n.contains('%')
                })
                .map(str::to_string);
            let resp = match name {
                // The hot path: the connection's facts are handed over directly.
                Some(name) => super::endpoint::entry(st, &name, req, Some(ctx)).await,
                None => {
                    let (mut parts, body) = req.into_parts();
                    parts.extensions.insert(ctx);
                    parts.extensions.insert(ConnectInfo(peer));
                    match router.oneshot(Request::from_parts(parts, body)).await {
                        Ok(r) => r,
                        Err(never) => match never {},
                    }
                }
            };
            let mut resp = resp.map(|inner| Finished { inner, clock });
            if stopping.is_cancelled() {
                // Shutting down: this connection's last answer.
                resp.headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(resp)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // `io::Deadlines` applies the header-read and idle timeouts, each with its own value
        // (hyper's one timer would bound both with one, re-armed on every request).
        .header_read_timeout(None)
        // Heads up to 16 KiB (large tokens included); bodies are read in pieces this size.
        .max_buf_size(16 * 1024)
        .keep_alive(!cancel.is_cancelled());
    let conn = builder.serve_connection(io, svc);
    let mut conn = pin!(conn);
    let (mut draining, mut shutdown, mut deferred) = (false, false, false);
    let drained = tokio::time::sleep(Duration::MAX / 4);
    let mut drained = pin!(drained);
    loop {
        tokio::select! {
            biased;
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::trace!(%peer, error = %e, "connection ended");
                }
                return;
            }
            _ = cancel.cancelled(), if !draining => {
                // A client may be sending its next request on this connection right now:
                // closing it at once would lose that request. The next answer says
                // `connection: close` instead; a connection still quiet after `SHUTDOWN_DRAIN`
                // is closed (a request in progress then is finished first).
                draining = true;
                drained.as_mut().reset(tokio::time::Instant::now() + SHUTDOWN_DRAIN);
            }
            _ = drained.as_mut(), if draining && !shutdown => {
                // hyper closes a connection whose next head is only partly read as idle: let
                // that head arrive first (once, until its header-read deadline).
                if let Some(head) = conn_clock.head_under_way().filter(|_| !deferred)
                    && head > tokio::time::Instant::now()
                {
                    deferred = true;
                    drained.as_mut().reset(head);
                    continue;
                }
                shutdown = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// A response body that tells the connection's clock when it is done (dropped once written),
/// so the idle timeout starts then.
struct Finished {
    inner: Body,
    clock: Arc<Clock>,
}

impl Drop for Finished {
    fn drop(&mut self) {
        self.clock.response_finished();
    }
}

impl http_body::Body for Finished {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
