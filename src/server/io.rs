//! Deadlines and a lingering close around each client connection's socket, below hyper.
//!
//! hyper's HTTP/1 server has one timer of its own (`header_read_timeout`), which also bounds the
//! idle wait between keep-alive requests with the same value, and nothing for lingering. These
//! two wrappers add what a public listener needs, without touching HTTP framing (hyper's):
//! - [`Deadlines`]: the connection's [`Clock`] knows which phase it is in (waiting idle for a
//!   request, reading a head, or busy with a request). A read that would wait past the phase's
//!   deadline fails, and hyper closes the connection: the header-read timeout runs from the
//!   first byte of a head, the idle timeout from the end of the previous answer (or the accept).
//!   Body reads have their own deadline (`server::body`), and a busy connection has none here.
//! - [`Linger`]: when the gateway answered early without reading a request's body (a 401,
//!   413, 408), closing the socket with unread bytes would reset the connection and clients
//!   that send their whole body before reading (Python's urllib and httpx) would see a broken
//!   pipe instead of the answer. On shutdown it sends FIN, then reads and discards what the
//!   client still sends, bounded in time and bytes (as nginx's `lingering_close`).

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Waiting for the next request since the previous answer.
    Idle(Instant),
    /// Accepted, or a head has begun: it must be complete by then.
    Head(Instant),
    /// A request is being served.
    Busy,
}

/// One connection's phase, shared by its socket wrapper and the requests it serves.
pub struct Clock {
    state: Mutex<(Phase, Option<Waker>)>,
    idle: Duration,
    header: Duration,
    /// A request's body was left unread: linger on close.
    linger: AtomicBool,
    /// Bytes of a head have arrived and its request has not started yet.
    head_begun: AtomicBool,
}

impl Clock {
    pub fn new(idle: Duration, header: Duration) -> Self {
        Clock {
            // Accepted: the first head must arrive within the header-read timeout.
            state: Mutex::new((Phase::Head(Instant::now() + header), None)),
            idle,
            header,
            linger: AtomicBool::new(false),
            head_begun: AtomicBool::new(false),
        }
    }

    /// When the head a client has begun to send must be complete; `None` when no head is
    /// partly read (so closing the connection now loses nothing its client sent).
    pub fn head_under_way(&self) -> Option<Instant> {
        if !self.head_begun.load(Ordering::Relaxed) {
            return None;
        }
        match self.state.lock().expect("clock").0 {
            Phase::Head(deadline) => Some(deadline),
            _ => None,
        }
    }

    /// A request head was read whole: no socket deadline while it is served.
    pub fn request_started(&self) {
        self.state.lock().expect("clock").0 = Phase::Busy;
        self.head_begun.store(false, Ordering::Relaxed);
    }

    /// The answer was written (its body dropped): the idle timeout runs again. The reader
    /// may have parked without a timer while the connection was busy: wake it.
    pub fn response_finished(&self) {
        let waker = {
            let mut s = self.state.lock().expect("clock");
            if s.0 != Phase::Busy {
                return;
            }
            s.0 = Phase::Idle(Instant::now());
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The answer goes out with a request body unread: linger when the connection closes.
    pub fn linger_on_close(&self) {
        self.linger.store(true, Ordering::Relaxed);
    }
}

pin_project_lite::pin_project! {
    /// A socket whose reads fail once the connection's phase deadline has passed.
    pub struct Deadlines<T> {
        #[pin]
        inner: T,
        clock: std::sync::Arc<Clock>,
        sleep: Pin<Box<Sleep>>,
    }
}

impl<T> Deadlines<T> {
    pub fn new(inner: T, clock: std::sync::Arc<Clock>) -> Self {
        let first = Instant::now() + clock.header;
        Deadlines {
            inner,
            clock,
            sleep: Box::pin(tokio::time::sleep_until(first)),
        }
    }
}

impl<T: AsyncRead> AsyncRead for Deadlines<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        match this.inner.poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let mut s = this.clock.state.lock().expect("clock");
                    if let Phase::Idle(_) = s.0 {
                        s.0 = Phase::Head(Instant::now() + this.clock.header);
                    }
                    if s.0 != Phase::Busy {
                        this.clock.head_begun.store(true, Ordering::Relaxed);
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let deadline = {
                    let mut s = this.clock.state.lock().expect("clock");
                    if !s.1.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        s.1 = Some(cx.waker().clone());
                    }
                    match s.0 {
                        Phase::Idle(since) => since + this.clock.idle,
                        Phase::Head(deadline) => deadline,
                        Phase::Busy => return Poll::Pending,
                    }
                };
                // Deadlines are kept to a coarse grid (up to GRAIN later than exact), so that
                // the many requests of a busy keep-alive connection share one timer instead of
                // re-arming it for each (a timer re-arm costs a wake-up write per call).
                let deadline = coarse(deadline);
                if this.sleep.deadline() != deadline {
                    this.sleep.as_mut().reset(deadline);
                }
                if this.sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request within the idle or header-read timeout",
                    )));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite> AsyncWrite for Deadlines<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

/// The grid socket deadlines are rounded up to.
const GRAIN: Duration = Duration::from_millis(250);

/// `t` rounded up to the next multiple of [`GRAIN`] since the process's first call.
fn coarse(t: Instant) -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    let since = t.saturating_duration_since(epoch).as_millis() as u64;
    let grain = GRAIN.as_millis() as u64;
    epoch + Duration::from_millis(since.div_ceil(grain) * grain)
}

/// Bounds of a lingering close.
#[derive(Clone, Copy, Debug)]
pub struct LingerLimits {
    /// In all.
    pub total: Duration,
    /// Without a byte from the client.
    pub gap: Duration,
    pub max_bytes: u64,
}

enum LingerState {
    Open,
    Draining { until: Instant, seen: u64 },
    Done,
}

pin_project_lite::pin_project! {
    /// A socket whose shutdown sends FIN, then (when the clock says a body was left unread)
    /// reads and discards what the client still sends, within [`LingerLimits`].
    pub struct Linger<T> {
        #[pin]
        inner: T,
        clock: std::sync::Arc<Clock>,
        limits: LingerLimits,
        state: LingerState,
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<T> Linger<T> {
    pub fn new(inner: T, clock: std::sync::Arc<Clock>, limits: LingerLimits) -> Self {
        Linger {
            inner,
            clock,
            limits,
            state: LingerState::Open,
            sleep: None,
        }
    }
}

impl<T: AsyncRead> AsyncRead for Linger<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite> AsyncWrite for Linger<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        loop {
            match this.state {
                LingerState::Open => {
                    std::task::ready!(this.inner.as_mut().poll_shutdown(cx))?;
                    if !this.clock.linger.load(Ordering::Relaxed) {
                        *this.state = LingerState::Done;
                        continue;
                    }
                    let now = Instant::now();
                    let until = now + this.limits.total;
                    *this.sleep = Some(Box::pin(tokio::time::sleep_until(
                        until.min(now + this.limits.gap),
                    )));
                    *this.state = LingerState::Draining { until, seen: 0 };
                }
                LingerState::Draining { until, seen } => {
                    let mut scratch = [0u8; 8192];
                    let mut rb = ReadBuf::new(&mut scratch);
                    let sleep = this.sleep.as_mut().expect("set when draining");
                    match this.inner.as_mut().poll_read(cx, &mut rb) {
                        Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                            *this.state = LingerState::Done
                        }
                        Poll::Ready(Ok(())) => {
                            *seen += rb.filled().len() as u64;
                            if *seen >= this.limits.max_bytes {
                                *this.state = LingerState::Done;
                                continue;
                            }
                            let next = (*until).min(Instant::now() + this.limits.gap);
                            sleep.as_mut().reset(next);
                        }
                        Poll::Ready(Err(_)) => *this.state = LingerState::Done,
                        Poll::Pending => {
                            if sleep.as_mut().poll(cx).is_ready() {
                                *this.state = LingerState::Done;
                                continue;
                            }
                            return Poll::Pending;
                        }
                    }
                }
                LingerState::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}
