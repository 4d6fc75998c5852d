//! Upstream request writes gathered per worker thread and sent together, in one
//! `io_uring_enter`, when the worker's event loop has run every task that was ready.
//!
//! Why: a TCP send to a sleeping backend wakes it, and Linux places it on the sender's CPU
//! (a socket wake-up is a "sync" one), where it preempts the worker at once, answers the one
//! request waiting and sleeps again. Measured on the 2-core bench box, that happened on about
//! one `tools/call` in three: two process switches each, and a backend that sleeps three
//! times as often as behind an nginx reverse proxy. Sent together in one system call, the
//! requests a worker has prepared all reach the backend before it can run, and it answers them
//! in one go. A worker still sends as soon as it has nothing else to do: no timer, no delay
//! beyond the pass over the ready tasks it is already making.
//!
//! Only plain `send`s with `MSG_DONTWAIT` go through the ring: each one either completes
//! inside the submitting call or fails with `EAGAIN`, so no operation is ever left in the
//! kernel after [`Batcher::flush`] returns, and a short or refused send is finished with an
//! ordinary write. Where io_uring is missing or forbidden (old kernels, Docker's default
//! seccomp profile), `upstream.io_uring: false`, or off a worker thread, [`send_all`] is an
//! ordinary write.
//!
//! No crate does this: `tokio-uring` and `monoio` bring their own runtimes, which the rest of
//! the gateway (hyper, rmcp, reqwest) does not run on. The ring itself is the `io-uring` crate
//! (tokio-rs); this module holds its one `unsafe` push, with the reasoning beside it.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Submission queue size: the most sends one `io_uring_enter` carries.
const ENTRIES: u32 = 256;

/// One worker thread's ring and the sends waiting for its next flush.
pub struct Batcher {
    inner: Mutex<Inner>,
}

struct Inner {
    ring: io_uring::IoUring,
    pending: Vec<Arc<Op>>,
    /// Set if the ring failed in a way that leaves the fate of a send unknown: from then on
    /// this worker writes directly.
    broken: bool,
}

/// One request write: the bytes are the operation's own, so they outlive anything the kernel
/// does with them.
struct Op {
    fd: RawFd,
    bytes: Vec<u8>,
    state: Mutex<State>,
}

enum State {
    Waiting(Option<Waker>),
    /// The `send` result: bytes sent, or a negated errno.
    Done(i32),
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Batcher>>> = const { RefCell::new(None) };
}

impl Batcher {
    /// A ring for the calling thread, or why there is none.
    pub fn new() -> io::Result<Arc<Self>> {
        let ring = io_uring::IoUring::new(ENTRIES)?;
        Ok(Arc::new(Batcher {
            inner: Mutex::new(Inner {
                ring,
                pending: Vec::new(),
                broken: false,
            }),
        }))
    }

    /// Make this the calling thread's batcher: [`send_all`] on this thread goes through it,
    /// and whoever drives the thread's event loop must call [`Batcher::flush`] before it waits.
    pub fn install(self: &Arc<Self>) {
        CURRENT.with(|c| *c.borrow_mut() = Some(self.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue a send; a full ring's worth is sent at once.
    fn push(&self, op: Arc<Op>) -> bool {
        let mut inner = self.lock();
        if inner.broken {
            return false;
        }
        inner.pending.push(op);
        if inner.pending.len() >= ENTRIES as usize {
            inner.flush();
        }
        true
    }

    /// Take a send back that has not gone out yet (its caller is gone).
    fn cancel(&self, op: &Arc<Op>) {
        let mut inner = self.lock();
        inner.pending.retain(|o| !Arc::ptr_eq(o, op));
    }

    /// Send everything queued, in one system call, and wake the callers.
    pub fn flush(&self) {
        self.lock().flush();
    }
}

impl Inner {
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // `push` flushes at `ENTRIES`, so one submission always has room for them all.
        let ops = std::mem::take(&mut self.pending);
        {
            let mut sq = self.ring.submission();
            for (i, op) in ops.iter().enumerate() {
                let len = u32::try_from(op.bytes.len()).unwrap_or(u32::MAX);
                let sqe =
                    io_uring::opcode::Send::new(io_uring::types::Fd(op.fd), op.bytes.as_ptr(), len)
                        .flags(libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
                        .build()
                        .user_data(i as u64);
                // SAFETY: the kernel reads `op.bytes` and uses `op.fd` until this send
                // completes, and every send pushed here completes before `flush` returns (the
                // loop below waits for all of them; `MSG_DONTWAIT` makes io_uring answer
                // `EAGAIN` instead of parking the send). The bytes belong to `op`, which `ops`
                // keeps alive meanwhile; if the ring fails and completions may still come, the
                // ops are leaked instead of freed. The socket is open: its `send_all` future
                // borrows the stream and, were it dropped, would first take the op out of
                // `pending` under the lock this flush holds.
                #[allow(unsafe_code)]
                let pushed = unsafe { sq.push(&sqe) };
                pushed.expect("the submission queue holds ENTRIES and each flush empties it");
            }
        }
        let mut left = ops.len();
        while left > 0 {
            match self.ring.submit_and_wait(left) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::error!(error = %e, "io_uring failed: upstream sends go one by one from now on");
                    self.broken = true;
                    for op in &ops {
                        if !op.is_done() {
                            // The kernel may still read these bytes: never free them.
                            std::mem::forget(op.clone());
                            op.finish(MAYBE_SENT);
                        }
                    }
                    return;
                }
            }
            for cqe in self.ring.completion() {
                if let Some(op) = usize::try_from(cqe.user_data())
                    .ok()
                    .and_then(|i| ops.get(i))
                {
                    op.finish(cqe.result());
                    left -= 1;
                }
            }
        }
    }
}

/// The result of a send the failed ring lost track of (not an errno: those are negative).
const MAYBE_SENT: i32 = i32::MIN;

/// A send whose fate is unknown: the server may have the request, so it is never resent.
#[derive(Debug, thiserror::Error)]
#[error("io_uring failed while sending: the request may have reached the server")]
pub struct MaybeSent;

/// Whether a [`send_all`] error leaves it open that the server got the request.
pub fn maybe_sent(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|e| e.is::<MaybeSent>())
}

impl Op {
    fn finish(&self, result: i32) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let State::Waiting(waker) = std::mem::replace(&mut *state, State::Done(result)) {
            drop(state);
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    fn is_done(&self) -> bool {
        matches!(
            *self.state.lock().unwrap_or_else(PoisonError::into_inner),
            State::Done(_)
        )
    }

    fn poll_done(&self, cx: &mut Context<'_>) -> Poll<i32> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *state {
            State::Done(r) => Poll::Ready(*r),
            State::Waiting(w) => {
                if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *w = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

/// Takes a queued send back if its caller goes away before the flush.
struct Queued<'a> {
    batcher: &'a Batcher,
    op: &'a Arc<Op>,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if !self.op.is_done() {
            self.batcher.cancel(self.op);
        }
    }
}

/// Write all of `bytes` to `stream`: through the thread's batcher when it has one, else
/// directly.
pub async fn send_all(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    let Some(batcher) = CURRENT.with(|c| c.borrow().clone()) else {
        return stream.write_all(bytes).await;
    };
    let op = Arc::new(Op {
        fd: stream.as_raw_fd(),
        bytes: bytes.to_vec(),
        state: Mutex::new(State::Waiting(None)),
    });
    if !batcher.push(op.clone()) {
        return stream.write_all(bytes).await;
    }
    let queued = Queued {
        batcher: &batcher,
        op: &op,
    };
    let sent = std::future::poll_fn(|cx| op.poll_done(cx)).await;
    drop(queued);
    match usize::try_from(sent) {
        Ok(n) if n >= bytes.len() => Ok(()),
        // A short send (the socket buffer filled up): the rest the ordinary way.
        Ok(n) => stream.write_all(&bytes[n..]).await,
        Err(_) if sent == -libc::EAGAIN => stream.write_all(bytes).await,
        Err(_) if sent == MAYBE_SENT => Err(io::Error::other(MaybeSent)),
        Err(_) => Err(io::Error::from_raw_os_error(-sent)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A current-thread runtime that flushes before it waits, as the gateway's workers do.
    fn runtime(batcher: &Arc<Batcher>) -> tokio::runtime::Runtime {
        let b = batcher.clone();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(move || b.flush())
            .build()
            .unwrap()
    }

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (c, s)
    }

    #[test]
    fn sends_arrive_whole_and_in_order_through_the_ring() {
        let Ok(batcher) = Batcher::new() else {
            eprintln!("io_uring unavailable here: the direct path is what runs");
            return;
        };
        runtime(&batcher).block_on(async {
            batcher.install();
            let (mut c0, mut s0) = pair().await;
            let (mut c1, mut s1) = pair().await;
            let (mut c2, mut s2) = pair().await;
            // Three sends prepared in one pass go out together, each whole.
            let (a, b, c) = tokio::join!(
                send_all(&mut c0, b"request 0"),
                send_all(&mut c1, b"request 1"),
                send_all(&mut c2, b"request 2"),
            );
            for r in [a, b, c] {
                r.unwrap();
            }
            for (i, s) in [&mut s0, &mut s1, &mut s2].into_iter().enumerate() {
                let mut got = vec![0; 9];
                s.read_exact(&mut got).await.unwrap();
                assert_eq!(got, format!("request {i}").as_bytes());
            }
            // More than the socket takes at once: the rest is written the ordinary way.
            let (c, s) = (&mut c0, &mut s0);
            let big: Vec<u8> = (0..8 << 20).map(|i| (i % 251) as u8).collect();
            let expect = big.clone();
            let reader = async {
                let mut got = vec![0; expect.len()];
                s.read_exact(&mut got).await.unwrap();
                got
            };
            let reader = tokio::time::timeout(std::time::Duration::from_secs(20), reader);
            let (sent, got) = tokio::join!(send_all(c, &big), reader);
            sent.unwrap();
            let got = got.expect("the rest of a short send never arrived");
            assert!(got == expect, "a short send lost or reordered bytes");
        });
        CURRENT.with(|c| c.borrow_mut().take());
    }

    #[test]
    fn a_send_whose_caller_is_gone_never_goes_out() {
        let Ok(batcher) = Batcher::new() else {
            return;
        };
        runtime(&batcher).block_on(async {
            batcher.install();
            let (mut c, mut s) = pair().await;
            {
                let send = send_all(&mut c, b"dropped");
                // Poll it once (queued), then drop it before the worker flushes.
                let mut send = std::pin::pin!(send);
                let mut cx = Context::from_waker(Waker::noop());
                assert!(std::future::Future::poll(send.as_mut(), &mut cx).is_pending());
            }
            assert!(
                batcher.lock().pending.is_empty(),
                "the dropped send is still queued"
            );
            send_all(&mut c, b"kept").await.unwrap();
            let mut got = vec![0; 4];
            s.read_exact(&mut got).await.unwrap();
            assert_eq!(got, b"kept");
        });
        CURRENT.with(|c| c.borrow_mut().take());
    }

    #[test]
    fn a_send_refused_by_a_full_socket_is_written_once_there_is_room() {
        let Ok(batcher) = Batcher::new() else {
            return;
        };
        runtime(&batcher).block_on(async {
            batcher.install();
            // Small fixed buffers (no autotuning), filled until the kernel takes nothing more,
            // each time after delayed ACKs (40 ms) have freed what they free: the ring's send
            // then gets EAGAIN.
            let l = tokio::net::TcpSocket::new_v4().unwrap();
            l.set_recv_buffer_size(4096).unwrap();
            l.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let l = l.listen(1).unwrap();
            let cs = tokio::net::TcpSocket::new_v4().unwrap();
            cs.set_send_buffer_size(4096).unwrap();
            let c = cs.connect(l.local_addr().unwrap()).await.unwrap();
            let (mut s, _) = l.accept().await.unwrap();
            // Plain non-blocking writes (tokio's `try_write` would trust its cached readiness).
            let raw = c.into_std().unwrap();
            let mut filled = 0;
            for _ in 0..3 {
                std::thread::sleep(std::time::Duration::from_millis(60));
                while let Ok(n) = std::io::Write::write(&mut &raw, &[7; 1024]) {
                    filled += n;
                }
            }
            let mut c = TcpStream::from_std(raw).unwrap();
            let reader = async {
                let mut got = vec![0; filled + 64 * 1024];
                s.read_exact(&mut got).await.unwrap();
                got
            };
            let reader = tokio::time::timeout(std::time::Duration::from_secs(20), reader);
            // Queue the send and flush it before the reader runs, as a worker's pass would.
            let tail = vec![9; 64 * 1024];
            let mut send = std::pin::pin!(send_all(&mut c, &tail));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(std::future::Future::poll(send.as_mut(), &mut cx).is_pending());
            batcher.flush();
            let (sent, got) = tokio::join!(send, reader);
            sent.unwrap();
            let got = got.expect("the refused send never arrived");
            assert!(got[..filled].iter().all(|b| *b == 7));
            assert!(
                got[filled..].iter().all(|b| *b == 9),
                "the refused send's bytes"
            );
        });
        CURRENT.with(|c| c.borrow_mut().take());
    }

    #[test]
    fn without_a_batcher_it_is_a_plain_write() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (mut c, mut s) = pair().await;
            send_all(&mut c, b"direct").await.unwrap();
            let mut got = vec![0; 6];
            s.read_exact(&mut got).await.unwrap();
            assert_eq!(got, b"direct");
        });
    }
}
