//! Stopping the listener without dropping a connection the kernel already took.
//!
//! Closing a listening socket resets every connection in its accept queue: those clients did
//! connect, may have sent their call, and get a reset instead of an answer (or a refusal a load
//! balancer could act on). Draining the queue first still leaves a gap between the last
//! `accept` and the close, in which a new connection lands and is reset; under a stream of
//! fresh connections that gap is hit (1 stop in about 30 in `tests/shutdown.rs`).
//!
//! So, on Linux, the listener first stops taking new connections: a classic BPF socket filter
//! (attached with `socket2`) drops every pure SYN, the first packet of a new connection. A
//! handshake already under way still completes (its ACK is not a pure SYN), and lands in the
//! queue, which the acceptor then drains until it has been quiet for `QUIET` (bounded by the
//! shutdown grace). A client whose SYN
//! was dropped sends it again about 1 s later, finds the port closed and is refused: a refusal,
//! which any client or balancer may retry elsewhere, instead of a lost call.

use std::time::Duration;

use tokio::net::TcpListener;

/// How long the accept queue must stay empty, new SYNs dropped, before the listener closes:
/// a handshake under way when the filter went on completes within the client's round trip,
/// so this covers round trips up to 250 ms (across the world), and stays well under the 1 s
/// after which a client whose SYN was dropped sends it again (and is then refused).
pub const QUIET: Duration = Duration::from_millis(250);

/// Stop `tcp` taking new connections; `false` where this cannot be done (then the listener is
/// closed as soon as its queue is empty).
pub fn stop_new_connections(tcp: &TcpListener) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use socket2::{SockFilter, SockRef};
        // Classic BPF over the TCP header (a TCP socket's filter sees the packet from its TCP
        // header): byte 13 holds the flags; SYN without ACK is a new connection.
        const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
        const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
        const JMP_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
        const RET_K: u16 = 0x06; // BPF_RET | BPF_K
        const SYN: u32 = 0x02;
        const ACK: u32 = 0x10;
        let drop_pure_syn = [
            SockFilter::new(LD_B_ABS, 0, 0, 13),
            SockFilter::new(ALU_AND_K, 0, 0, SYN | ACK),
            SockFilter::new(JMP_JEQ_K, 0, 1, SYN),
            SockFilter::new(RET_K, 0, 0, 0),
            SockFilter::new(RET_K, 0, 0, u32::MAX),
        ];
        match SockRef::from(tcp).attach_filter(&drop_pure_syn) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(error = %e, "cannot filter new connections: closing the listener at once");
                false
            }
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = tcp;
        false
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::time::timeout;

    /// Over IPv4 and IPv6: once filtered, the listener takes no new connection (the connect
    /// waits: its SYN was dropped), while one already in its queue is still taken and used.
    #[tokio::test]
    async fn a_stopped_listener_takes_no_new_connection_but_keeps_those_under_way() {
        for host in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(tcp) = TcpListener::bind(host).await else {
                assert!(host.starts_with('['), "cannot bind {host}");
                continue; // no IPv6 here
            };
            let addr = tcp.local_addr().unwrap();
            let mut queued = TcpStream::connect(addr).await.unwrap();
            assert!(super::stop_new_connections(&tcp), "{host}");

            let late = timeout(Duration::from_millis(300), TcpStream::connect(addr)).await;
            assert!(
                late.is_err(),
                "{host}: a new connection was completed: {late:?}"
            );
            let (mut taken, _) = timeout(Duration::from_secs(1), tcp.accept())
                .await
                .expect("the queued connection is taken")
                .unwrap();
            let none = timeout(Duration::from_millis(100), tcp.accept()).await;
            assert!(
                none.is_err(),
                "{host}: the late connection reached the queue"
            );

            queued.write_all(b"call").await.unwrap();
            let mut got = [0u8; 4];
            taken.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"call");
            taken.write_all(b"answer").await.unwrap();
            let mut got = [0u8; 6];
            queued.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"answer");
        }
    }
}
