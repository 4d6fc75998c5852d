//! The data path under attack: hostile backends (stray bytes, broken framings), hostile clients
//! (stalls, floods, oversized bodies), and specs that point the gateway at the network it runs
//! in. Each test is a finding of a security review, driven against the real binary.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;
use support::hostile::{RawRequest, Script, closed_within, ok, scripted_backend};
use support::{Backend, Gateway, api_config, fixture, is_error, text};
use tokio::io::AsyncWriteExt;

/// `GET /data/{user}`, `HEAD /data/{user}`, `GET /empty/{user}`.
fn data_spec(dir: &std::path::Path) -> std::path::PathBuf {
    let spec = dir.join("data.yaml");
    std::fs::write(
        &spec,
        r#"openapi: 3.0.3
info: {title: data, version: '1'}
paths:
  /data/{user}:
    parameters: [{name: user, in: path, required: true, schema: {type: string}}]
    get: {operationId: getData, responses: {'200': {description: ok}}}
    head: {operationId: headData, responses: {'200': {description: ok}}}
  /empty/{user}:
    parameters: [{name: user, in: path, required: true, schema: {type: string}}]
    get: {operationId: getEmpty, responses: {'204': {description: none}}}
"#,
    )
    .unwrap();
    spec
}

fn user_of(req: &RawRequest) -> String {
    req.target.rsplit('/').next().unwrap_or("").to_string()
}

/// Finding 1: bytes a backend sends after an answer (stray, or a body on a HEAD / 204 answer)
/// are never taken as the next caller's answer: the connection they arrive on is closed.
#[tokio::test]
async fn stray_upstream_bytes_never_become_another_callers_answer() {
    let (url, conns) = scripted_backend(|req| {
        let user = user_of(req);
        match (
            req.method.as_str(),
            req.target.starts_with("/empty/"),
            user.as_str(),
        ) {
            ("GET", false, "warm") => Script {
                answer: ok("data-for-warm"),
                later: Some((
                    Duration::from_millis(200),
                    b"HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\nINJECTED-BY-STRAY-BYTES"
                        .to_vec(),
                )),
                close: false,
            },
            ("HEAD", _, _) => Script {
                answer: b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\n"
                    .to_vec(),
                later: Some((Duration::from_millis(50), b"head-body".to_vec())),
                close: false,
            },
            ("GET", true, _) => Script {
                answer: b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
                later: Some((Duration::from_millis(50), b"204-body".to_vec())),
                close: false,
            },
            _ => Script {
                answer: ok(&format!("data-for-{user}")),
                later: None,
                close: false,
            },
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&format!(
        "server:\n  threads: 1\n{}",
        api_config("d", &data_spec(dir.path()), &url, "")
    ));
    let mcp = gw.mcp("d");
    let r = mcp.call("getData", json!({"user": "warm"})).await;
    assert_eq!(text(&r), "data-for-warm");
    tokio::time::sleep(Duration::from_millis(500)).await;
    for user in ["alice", "bob", "carol"] {
        let r = mcp.call("getData", json!({"user": user})).await;
        assert!(!is_error(&r), "{user}: {r}");
        assert_eq!(
            text(&r),
            format!("data-for-{user}"),
            "{user} got another answer"
        );
    }
    // HEAD answered, then a body in a second write.
    let r = mcp.call("headData", json!({"user": "h"})).await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(text(&r), "");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = mcp.call("getData", json!({"user": "dave"})).await;
    assert_eq!(text(&r), "data-for-dave", "{r}");
    // 204 answered, then a body in a second write.
    let r = mcp.call("getEmpty", json!({"user": "e"})).await;
    assert!(!is_error(&r), "{r}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = mcp.call("getData", json!({"user": "erin"})).await;
    assert_eq!(text(&r), "data-for-erin", "{r}");
    assert!(
        conns.load(Ordering::SeqCst) >= 3,
        "stray bytes closed their connections"
    );
}

/// Findings 2 and 3: framings hyper's client refuses are refused (never guessed at, never a
/// panic), on the fast path and on rmcp's path (a browser `Origin`), and a `100 Continue`
/// followed by the answer in one read is read at once.
#[tokio::test]
async fn broken_upstream_framings_are_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let spec = support::thing_spec(dir.path());
    let good = Backend::start().await;
    let cases: [(&str, &'static str); 4] = [
        (
            "overflowing chunk size",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\nffffffffffffffff\r\n",
        ),
        (
            "two different lengths",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello!!",
        ),
        (
            "signed chunk size",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "unknown coding that ends in chunked",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ),
    ];
    for (what, answer) in cases {
        let (url, _) = support::raw_backend(answer).await;
        let cfg = format!(
            "{}  - name: good\n    spec: {}\n    base_url: {}\n",
            api_config("t", &spec, &url, ""),
            fixture("echo.yaml").display(),
            good.url
        );
        let mut gw = Gateway::start(&cfg);
        let r = gw.mcp("t").call("getThing", json!({})).await;
        assert!(
            is_error(&r) || !text(&r).starts_with("hello"),
            "{what}: decoded as if valid: {r}"
        );
        if what != "unknown coding that ends in chunked" {
            assert!(is_error(&r), "{what}: {r}");
        }
        // rmcp's path (a browser client) gets an answer too.
        let rmcp = gw
            .mcp("t")
            .post_raw(
                &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                        "params": {"name": "getThing", "arguments": {}}})
                .to_string(),
                &[
                    ("mcp-protocol-version", "2025-11-25"),
                    ("origin", "http://localhost:3000"),
                ],
            )
            .await;
        assert_eq!(rmcp.status, 200, "{what}: {}", rmcp.text);
        assert!(gw.alive(), "{what}: the gateway died");
        let r = gw.mcp("good").call("getStatus", json!({"code": 200})).await;
        assert!(!is_error(&r), "{what}: the gateway stopped serving: {r}");
    }

    // `100 Continue` and the answer in one write, on a connection kept open: read at once.
    let (url, _) = scripted_backend(|_| Script {
        answer: b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            .to_vec(),
        later: None,
        close: false,
    })
    .await;
    let gw = Gateway::start(&format!(
        "upstream:\n  timeout_ms: 5000\n{}",
        api_config("t", &spec, &url, "")
    ));
    let started = Instant::now();
    let r = gw.mcp("t").call("getThing", json!({})).await;
    assert_eq!(text(&r), "ok", "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?} for an answer already there",
        started.elapsed()
    );
}

const DEADLINES: &str = "server:\n  header_read_timeout_ms: 1000\n  idle_timeout_ms: 1500\n  body_read_timeout_ms: 1000\n  max_connections: 20\n";

async fn connect(gw: &Gateway) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(gw.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Finding 5: every served connection has a header-read timeout, a keep-alive idle timeout and
/// a body-read deadline; a cap on open connections sheds the excess at once.
#[tokio::test]
async fn deadlines_close_stalled_connections_and_excess_ones_are_shed() {
    let backend = Backend::start().await;
    let gw = Gateway::start(&format!(
        "{DEADLINES}{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    ));
    let health = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    // A slow head after one GET.
    let mut s = connect(&gw).await;
    s.write_all(health.as_bytes()).await.unwrap();
    assert!(support::read_head(&mut s).await);
    s.write_all(b"POST /mcp/echo HTTP/1.1\r\nHost: 127")
        .await
        .unwrap();
    assert!(
        closed_within(&mut s, Duration::from_secs(4)).await,
        "slow head"
    );

    // An idle socket that never sends a byte.
    let mut s = connect(&gw).await;
    assert!(
        closed_within(&mut s, Duration::from_secs(4)).await,
        "silent socket"
    );

    // A keep-alive connection left idle after a request.
    let mut s = connect(&gw).await;
    s.write_all(health.as_bytes()).await.unwrap();
    assert!(support::read_head(&mut s).await);
    assert!(
        closed_within(&mut s, Duration::from_secs(4)).await,
        "idle keep-alive"
    );

    // A body that stalls.
    let mut s = connect(&gw).await;
    s.write_all(
        b"POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 100000\r\n\r\n{\"jsonrpc\"",
    )
    .await
    .unwrap();
    assert!(
        closed_within(&mut s, Duration::from_secs(4)).await,
        "stalled body"
    );

    // 2 GiB announced.
    let mut s = connect(&gw).await;
    s.write_all(
        b"POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Content-Length: 2147483648\r\n\r\n{\"jsonrpc\"",
    )
    .await
    .unwrap();
    assert!(
        closed_within(&mut s, Duration::from_secs(4)).await,
        "2 GiB body"
    );

    // Over the cap: the excess is closed at once, the rest by the header deadline; then
    // clients are served again.
    let mut silent = Vec::new();
    for _ in 0..40 {
        silent.push(connect(&gw).await);
    }
    let mut shed = 0;
    for s in &mut silent {
        if closed_within(s, Duration::from_millis(100)).await {
            shed += 1;
        }
    }
    assert!(
        shed >= 15,
        "only {shed} of 40 connections over a cap of 20 were shed"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = gw.mcp("echo").call("getStatus", json!({"code": 200})).await;
    assert!(!is_error(&r), "{r}");
}

/// Finding 5 again: with the file descriptor limit at 128, 200 silent connects never make
/// `accept` fail for good: the default cap (from the limit) sheds the excess and the header
/// deadline reaps the rest.
#[tokio::test]
async fn a_flood_of_silent_connects_never_locks_clients_out() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(
        &path,
        format!(
            "listen: 127.0.0.1:0\nserver:\n  header_read_timeout_ms: 1000\n{}",
            api_config("echo", &fixture("echo.yaml"), &backend.url, "")
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new("prlimit");
    cmd.args(["--nofile=128:128", support::bin()]);
    let mut gw = Gateway::spawn_cmd(cmd, &["serve", "--config", path.to_str().unwrap()], dir);
    let mut flood = Vec::new();
    for _ in 0..200 {
        let addr = gw.base.trim_start_matches("http://");
        let connect = tokio::net::TcpStream::connect(addr);
        if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(200), connect).await {
            flood.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        gw.mcp("echo").call("getStatus", json!({"code": 200})),
    )
    .await
    .expect("served within 5 s of a flood");
    assert!(!is_error(&r), "{r}");
    assert!(gw.alive());
    drop(flood);
}

/// Finding 6: on a protected endpoint the token is checked from the head, before any body is
/// read; 4,000 unauthenticated connections with 64 KiB bodies cost little, and memory returns
/// to its baseline after them.
#[tokio::test]
async fn unauthenticated_floods_hold_little_memory() {
    raise_fd_limit();
    let a = support::oauth::AuthServer::start().await;
    let b = Backend::start().await;
    let gw = Gateway::start(&format!(
        "auth:\n  issuers:\n    - issuer: {}\napis:\n  - name: pets\n    spec: {}\n    base_url: {}\n",
        a.issuer,
        fixture("../../specs/petstore.yaml").display(),
        b.url
    ));
    let pid = gw.pid();
    let addr = gw.base.trim_start_matches("http://").to_string();
    // Warm up: one refused request.
    let r = gw.mcp("pets").post_raw("{}", &[]).await;
    assert_eq!(r.status, 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = support::hostile::rss_kib(pid);
    let body = vec![b' '; 64 * 1024];
    let head = format!(
        "POST /mcp/pets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         MCP-Protocol-Version: 2025-11-25\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut conns = Vec::new();
    for _ in 0..4000 {
        let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else {
            break;
        };
        let _ = s.write_all(head.as_bytes()).await;
        let _ = tokio::time::timeout(Duration::from_millis(50), s.write_all(&body)).await;
        conns.push(s);
    }
    assert!(conns.len() >= 3000, "only {} connections", conns.len());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = support::hostile::rss_kib(pid);
    drop(conns);
    // Wait for the gateway to have closed them all (a loaded machine takes a while), then give
    // memory up to 10 s to come back.
    let deadline = Instant::now() + Duration::from_secs(30);
    while gw.metric("rest2mcp_connections_open").await > 2.0 {
        assert!(
            Instant::now() < deadline,
            "the flood's connections stay open"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settle = Instant::now() + Duration::from_secs(10);
    let mut after = support::hostile::rss_kib(pid);
    while after >= baseline + 48 * 1024 && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = support::hostile::rss_kib(pid);
    }
    let mib = |k: u64| k as f64 / 1024.0;
    eprintln!(
        "RSS baseline {:.1} MiB, during {:.1} MiB, after {:.1} MiB",
        mib(baseline),
        mib(during),
        mib(after)
    );
    assert!(
        during < baseline + 160 * 1024,
        "4,000 unauthenticated connections took {:.1} MiB",
        mib(during - baseline)
    );
    assert!(
        after < baseline + 48 * 1024,
        "{:.1} MiB stayed after they closed",
        mib(after.saturating_sub(baseline))
    );
}

/// Raise this process's soft file descriptor limit to its hard limit (for floods).
fn raise_fd_limit() {
    if let Ok((_, hard)) = rlimit::Resource::NOFILE.get() {
        let _ = rlimit::Resource::NOFILE.set(hard, hard);
    }
}

/// Finding 8: a backend in the link-local range (the cloud metadata service) or named like a
/// metadata service is refused unless allowed by name; private ranges can be refused too, at
/// load for literal addresses and at connect time for names.
#[tokio::test]
async fn the_upstream_host_policy_refuses_metadata_and_link_local_backends() {
    let dir = tempfile::tempdir().unwrap();
    let spec = support::thing_spec(dir.path());
    for base in [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]:8080",
        "http://metadata.google.internal",
        "http://[::ffff:169.254.169.254]",
    ] {
        let err = support::refused(&api_config("t", &spec, base, ""));
        assert!(
            err.contains("upstream host policy") && err.contains("allow_hosts"),
            "{base}: {err}"
        );
    }
    // A spec whose own server URL is the metadata service.
    let meta = dir.path().join("meta.yaml");
    std::fs::write(
        &meta,
        "openapi: 3.0.3\ninfo: {title: m, version: '1'}\nservers: [{url: 'http://169.254.169.254/latest/'}]\npaths:\n  /x:\n    get: {operationId: x, responses: {'200': {description: ok}}}\n",
    )
    .unwrap();
    let err = support::refused(&format!(
        "apis:\n  - name: m\n    spec: {}\n",
        meta.display()
    ));
    assert!(err.contains("upstream host policy"), "{err}");
    // Allowed by name, it is served.
    let gw = Gateway::start(&format!(
        "upstream:\n  allow_hosts: [169.254.169.254]\n  connect_timeout_ms: 200\n  timeout_ms: 500\napis:\n  - name: m\n    spec: {}\n",
        meta.display()
    ));
    let r = gw.mcp("m").call("x", json!({})).await;
    assert!(is_error(&r), "no such service here: {r}");
    assert!(!text(&r).contains("policy"), "{r}");

    // Private ranges, when denied: a literal address at load...
    let backend = Backend::start().await;
    let err = support::refused(&format!(
        "upstream:\n  deny_private: true\n{}",
        api_config("t", &spec, &backend.url, "")
    ));
    assert!(err.contains("upstream host policy"), "{err}");
    // ...and a name at connect time (DNS can change).
    let port = backend.url.rsplit(':').next().unwrap();
    let gw = Gateway::start(&format!(
        "upstream:\n  deny_private: true\n{}",
        api_config("t", &spec, &format!("http://localhost:{port}"), "")
    ));
    let r = gw.mcp("t").call("getThing", json!({})).await;
    assert!(
        is_error(&r) && text(&r).contains("upstream host policy"),
        "{r}"
    );
    assert!(backend.requests().is_empty(), "nothing reached the backend");
    // Not denied by default: loopback backends are the common case in development.
    let gw = Gateway::start(&api_config(
        "t",
        &spec,
        &format!("http://localhost:{port}"),
        "",
    ));
    let r = gw.mcp("t").call("getThing", json!({})).await;
    assert!(!is_error(&r), "{r}");
}

/// Finding 9: an early `413` is read by clients that send the whole body before reading
/// (Python's urllib, so httpx and the MCP Python SDK): the gateway keeps reading for a while
/// (lingering close) instead of resetting the connection.
#[tokio::test]
async fn clients_that_send_whole_bodies_first_still_read_the_413() {
    let backend = Backend::start().await;
    let gw = Gateway::start(&api_config("echo", &fixture("echo.yaml"), &backend.url, ""));
    let url = format!("{}/mcp/echo", gw.base);
    let script = r#"
import sys, urllib.request, urllib.error
data = b"x" * (64 * 1024 * 1024)
req = urllib.request.Request(sys.argv[1], data=data, headers={
    "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25"})
try:
    urllib.request.urlopen(req, timeout=60)
    print("200")
except urllib.error.HTTPError as e:
    print(e.code)
except Exception as e:
    print("ERROR", type(e).__name__, e)
"#;
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", script, &url])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        said.trim(),
        "413",
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
