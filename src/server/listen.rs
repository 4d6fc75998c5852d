//! The listener: accepts connections, sheds the ones over the cap at once, and places each of the
//! others on the least busy worker thread, which serves it (`conn`) on its own single-threaded
//! runtime, as nginx and Envoy workers do: a call's client connection, upstream connection,
//! timers and wake-ups all stay on one thread (the upstream pool is per thread too).
//!
//! Graceful shutdown stops new connections (`refuse`), takes those already under way, closes
//! the listener, and lets each connection finish the request it is serving (answered with
//! `connection: close`), for at most `server.shutdown_grace_ms`; a quiet keep-alive connection is
//! kept 1 s for the request its client may be sending (`conn::SHUTDOWN_DRAIN`), so a rolling
//! restart loses no call.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::AppState;
use super::conn::ConnLimits;
use super::io::LingerLimits;
use crate::config::ServerConfig;

/// File descriptors kept back from the connection cap: upstream connections, spec files, logs.
const FD_RESERVE: u64 = 32;

/// How the listener runs.
#[derive(Clone, Copy, Debug)]
pub struct ListenOptions {
    pub threads: usize,
    pub max_connections: usize,
    pub grace: Duration,
    pub conn: ConnLimits,
}

impl ListenOptions {
    /// From the config; the default connection cap is half the file descriptor limit (raised to
    /// its hard limit first), less a reserve, so `accept` never runs out of descriptors.
    pub fn new(cfg: &ServerConfig) -> Self {
        let fds = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
        let max_connections = cfg
            .max_connections
            .unwrap_or_else(|| (fds / 2).saturating_sub(FD_RESERVE).max(16) as usize);
        let threads = cfg.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let ms = Duration::from_millis;
        let linger_total = ms(cfg.linger_ms);
        ListenOptions {
            threads,
            max_connections,
            grace: ms(cfg.shutdown_grace_ms),
            conn: ConnLimits {
                header_read: ms(cfg.header_read_timeout_ms),
                idle: ms(cfg.idle_timeout_ms),
                body_read: ms(cfg.body_read_timeout_ms),
                linger: LingerLimits {
                    total: linger_total,
                    gap: linger_total.min(Duration::from_secs(5)),
                    max_bytes: cfg.linger_bytes,
                },
            },
        }
    }
}

/// A connection on its way from the acceptor to a worker thread.
struct Accepted {
    stream: std::net::TcpStream,
    addr: SocketAddr,
    open: Open,
}

/// Counts a connection for its worker (least-loaded placement), for the cap and for the
/// shutdown grace, until it ends, however it ends.
struct Open {
    worker: Arc<AtomicUsize>,
    st: AppState,
    _tracked: TaskTrackerToken,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.worker.fetch_sub(1, Ordering::Relaxed);
        self.st.counters.open.fetch_sub(1, Ordering::Relaxed);
        crate::metrics::get().connections_open.dec();
    }
}

/// One worker thread: a single-threaded runtime serving the connections it is given.
struct Worker {
    tx: mpsc::UnboundedSender<Accepted>,
    open: Arc<AtomicUsize>,
}

/// Accept connections until `cancel`; then let them finish what they are serving.
pub async fn serve(
    tcp: TcpListener,
    state: AppState,
    router: Router,
    cancel: CancellationToken,
    opts: ListenOptions,
) -> io::Result<()> {
    let tracker = TaskTracker::new();
    // Ends the worker threads once their connections are done (or the grace is over).
    let stop = CancellationToken::new();
    let mut workers = Vec::with_capacity(opts.threads);
    for i in 0..opts.threads {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (state, router, cancel, stop) =
            (state.clone(), router.clone(), cancel.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("rest2mcp-worker-{i}"))
            .spawn(move || {
                rt.block_on(worker(rx, state, router, cancel, stop, opts.conn));
                rt.shutdown_background();
            })?;
        workers.push(Worker {
            tx,
            open: Arc::default(),
        });
    }
    tracing::debug!(
        max_connections = opts.max_connections,
        threads = opts.threads,
        "listening"
    );
    let mut next = 0;
    // After `cancel`, the connections already in the accept queue are taken too (and served,
    // their first request answered with `connection: close`), not reset with the listener.
    // `None` until then; then when the grace ends (counted from the signal), and how long the
    // queue must stay empty before the listener closes.
    let mut draining: Option<(tokio::time::Instant, Duration)> = None;
    loop {
        let accepted = if let Some((deadline, quiet)) = draining {
            let until = (tokio::time::Instant::now() + quiet).min(deadline);
            // An accept error is handled below like any other (the queue is not given up).
            match tokio::time::timeout_at(until, tcp.accept()).await {
                Ok(a) => a,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                a = tcp.accept() => a,
                _ = cancel.cancelled() => {
                    // No new connection from now on; the ones under way are taken.
                    let filtered = super::refuse::stop_new_connections(&tcp);
                    let quiet = if filtered { super::refuse::QUIET } else { Duration::ZERO };
                    draining = Some((tokio::time::Instant::now() + opts.grace, quiet));
                    continue;
                }
            }
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                accept_error(e).await;
                continue;
            }
        };
        if state.counters.open.load(Ordering::Relaxed) as usize >= opts.max_connections {
            // Shed at once: the descriptor is freed now, and `accept` keeps running.
            state.counters.shed.fetch_add(1, Ordering::Relaxed);
            crate::metrics::get().connections_shed.inc();
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%addr, error = %e, "cannot hand a connection to a worker");
                continue;
            }
        };
        // The worker with the fewest open connections, taking turns among equals.
        let w = (0..opts.threads)
            .map(|k| &workers[(next + k) % opts.threads])
            .min_by_key(|w| w.open.load(Ordering::Relaxed))
            .expect("at least one worker");
        next = (next + 1) % opts.threads;
        w.open.fetch_add(1, Ordering::Relaxed);
        state.counters.open.fetch_add(1, Ordering::Relaxed);
        crate::metrics::get().connections_open.inc();
        let open = Open {
            worker: w.open.clone(),
            st: state.clone(),
            _tracked: tracker.token(),
        };
        if w.tx.send(Accepted { stream, addr, open }).is_err() {
            tracing::error!(%addr, "a worker thread is gone: connection dropped");
        }
    }
    drop(tcp);
    drop(workers);
    tracker.close();
    let deadline = draining.map_or_else(|| tokio::time::Instant::now() + opts.grace, |d| d.0);
    if tokio::time::timeout_at(deadline, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = tracker.len(),
            "connections still busy {} ms after the shutdown signal: closing them",
            opts.grace.as_millis()
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
    limits: ConnLimits,
) {
    tokio::spawn(crate::memory::collect_periodically());
    while let Some(Accepted { stream, addr, open }) = rx.recv().await {
        match TcpStream::from_std(stream) {
            Ok(stream) => {
                let c = super::conn::serve(
                    stream,
                    addr,
                    state.clone(),
                    router.clone(),
                    cancel.clone(),
                    limits,
                );
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

/// As axum does: a per-connection error is nothing; anything else (out of file descriptors,
/// which the connection cap should prevent) is logged and retried shortly.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
