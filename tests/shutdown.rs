//! Stopping: what clients see while a gateway shuts down. A call is either refused before the
//! gateway takes it (safe for a load balancer or client to send elsewhere) or answered in
//! full; never taken and then dropped.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use support::{Backend, Gateway, api_config, fixture};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What became of one call made on a fresh connection.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The connection was refused: the gateway never saw the call.
    Refused,
    /// A whole `200` answer.
    Answered,
    /// The connection was accepted, then the call got no whole answer.
    Lost(String),
}

/// One call on a fresh connection to `addr`, read to the connection's end.
async fn call_once(addr: &str, id: u64) -> Outcome {
    let mut s = match tokio::net::TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Outcome::Refused,
        Err(e) => return Outcome::Lost(format!("connect: {e}")),
    };
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": "getStatus", "arguments": {"code": 200}}})
    .to_string();
    let request = format!(
        "POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    if let Err(e) = s.write_all(request.as_bytes()).await {
        return Outcome::Lost(format!("write: {e}"));
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    match read {
        Ok(Ok(_)) if text.starts_with("HTTP/1.1 200") && text.contains("\"isError\":false") => {
            Outcome::Answered
        }
        Ok(Ok(_)) => Outcome::Lost(format!("answer: {text:?}")),
        Ok(Err(e)) => Outcome::Lost(format!("read: {e} after {} bytes", answer.len())),
        Err(_) => Outcome::Lost("no answer in 10 s".into()),
    }
}

/// Clients open a fresh connection per call, as fast as they can, while the gateway gets
/// SIGTERM: the connections that reach its accept queue in the instant it closes its listener
/// are the ones a plain close resets. Several stops, so that instant is hit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_stopping_a_call_is_refused_or_answered_never_dropped() {
    let backend = Backend::start().await;
    let config = api_config("echo", &fixture("echo.yaml"), &backend.url, "");
    let (mut answered, mut refused, mut lost) = (0, 0, Vec::new());
    for round in 0..10 {
        let mut gw = Gateway::start(&config);
        let addr = gw.base.trim_start_matches("http://").to_string();
        let signalled = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..12u64)
            .map(|t| {
                let (addr, signalled) = (addr.clone(), signalled.clone());
                tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    for n in 0.. {
                        let o = call_once(&addr, t * 1_000_000 + n).await;
                        let stop = o == Outcome::Refused && signalled.load(Ordering::Relaxed);
                        outcomes.push(o);
                        if stop {
                            break;
                        }
                    }
                    outcomes
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        signalled.store(true, Ordering::Relaxed);
        gw.terminate();
        let exit = gw.wait_exit(Duration::from_secs(15));
        assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
        let mut lost_here = 0;
        for t in tasks {
            for o in t.await.unwrap() {
                match o {
                    Outcome::Answered => answered += 1,
                    Outcome::Refused => refused += 1,
                    Outcome::Lost(why) => {
                        lost_here += 1;
                        lost.push(format!("round {round}: {why}"));
                    }
                }
            }
        }
        eprintln!("round {round}: {lost_here} lost");
    }
    eprintln!(
        "{answered} answered, {refused} refused, {} lost",
        lost.len()
    );
    assert!(lost.is_empty(), "{:?}", &lost[..lost.len().min(5)]);
    assert!(answered > 100, "{answered}");
}

/// A keep-alive client that has begun its next request when the drain second after SIGTERM
/// ends still gets it answered: the connection is closed only once that head has arrived
/// (hyper would close a connection with a partly read head as idle).
#[tokio::test]
async fn a_request_half_sent_when_the_drain_ends_is_answered() {
    let backend = Backend::start().await;
    let mut gw = Gateway::start(&api_config("echo", &fixture("echo.yaml"), &backend.url, ""));
    let addr = gw.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = |id: u64| {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": "getStatus", "arguments": {"code": 200}}})
        .to_string();
        format!(
            "POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    s.write_all(request(1).as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );

    gw.terminate();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let next = request(2);
    let (first, rest) = next.split_at(40);
    s.write_all(first.as_bytes()).await.unwrap();
    // The drain second ends while the head is half here.
    tokio::time::sleep(Duration::from_millis(900)).await;
    s.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        matches!(read, Ok(Ok(_))) && text.starts_with("HTTP/1.1 200"),
        "{read:?} {text:?}"
    );
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    assert!(
        text.contains("\"id\":2") && text.contains("\"isError\":false"),
        "{text}"
    );
    let exit = gw.wait_exit(Duration::from_secs(10));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
}
