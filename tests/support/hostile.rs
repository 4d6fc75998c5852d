//! Hostile and odd HTTP/1 peers, scripted byte by byte: backends that send stray bytes after an
//! answer, broken framings, and raw clients that dribble, stall or flood.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a scripted backend does on one connection for one request: the bytes of its answer,
/// then, after `later`, more bytes (or none).
pub struct Script {
    pub answer: Vec<u8>,
    pub later: Option<(Duration, Vec<u8>)>,
    /// Close the connection after the answer (and the later bytes).
    pub close: bool,
}

/// One request as a scripted backend read it.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    pub target: String,
}

/// A keep-alive backend that reads request heads (no bodies bigger than their Content-Length)
/// and answers each with what `script` says for it. Returns its URL and a count of connections.
pub async fn scripted_backend<F>(script: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(&RawRequest) -> Script + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let conns = Arc::new(AtomicUsize::new(0));
    let counter = conns.clone();
    let script = Arc::new(script);
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            let script = script.clone();
            tokio::spawn(async move {
                let (mut rd, wr) = s.into_split();
                let wr = Arc::new(tokio::sync::Mutex::new(wr));
                let mut buf = Vec::new();
                while let Some(req) = read_request(&mut rd, &mut buf).await {
                    let sc = script(&req);
                    let _ = wr.lock().await.write_all(&sc.answer).await;
                    if let Some((after, bytes)) = sc.later {
                        let wr = wr.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(after).await;
                            let _ = wr.lock().await.write_all(&bytes).await;
                        });
                    }
                    if sc.close {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let _ = wr.lock().await.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    (url, conns)
}

/// Read one request (head, and a Content-Length body) from `rd`, keeping extra bytes in `buf`.
async fn read_request(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    buf: &mut Vec<u8>,
) -> Option<RawRequest> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let mut first = head.lines().next().unwrap_or("").split(' ');
            let method = first.next().unwrap_or("").to_string();
            let target = first.next().unwrap_or("").to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let mut chunk = [0u8; 4096];
                match rd.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            buf.drain(..end + 4 + len);
            return Some(RawRequest { method, target });
        }
        let mut chunk = [0u8; 4096];
        match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// `HTTP/1.1 200 OK` with a `Content-Length` body.
pub fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Whether the server closes `s` within `within` (EOF or reset), reading and dropping
/// anything it sends first.
pub async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let until = tokio::time::Instant::now() + within;
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(until, s.read(&mut chunk)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Resident memory of a process, KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
