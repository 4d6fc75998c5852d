//! The upstream client as a backend meets it: `https://` backends, the answer size cap on
//! every framing, and what the caches and the shutdown grace promise, timed against the real
//! binary.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::oauth::{AuthServer, CLIENT_ID, CLIENT_SECRET};
use support::{Backend, Gateway, api_config, fixture, is_error, text};

/// An `https://` backend is called over rustls, trusting the system's roots plus
/// `upstream.ca_file`; without that file the test CA is refused.
#[tokio::test]
async fn https_backends_are_verified_against_the_roots_and_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = support::tls::ca_path(dir.path());
    let (url, plain) = support::tls::https_backend(&ca).await;
    let trusted = Gateway::start(&format!(
        "upstream:\n  ca_file: {}\n{}",
        ca.display(),
        api_config("echo", &fixture("echo.yaml"), &url, "")
    ));
    let r = trusted
        .mcp("echo")
        .call("items_update-item", json!({"itemId": "a", "name": "lamp"}))
        .await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(r["structuredContent"]["uri"], "/items/a");
    assert_eq!(plain.last().method, "PUT");
    // By name too (the certificate names `localhost`).
    let port = url.rsplit(':').next().unwrap();
    let by_name = Gateway::start(&format!(
        "upstream:\n  ca_file: {}\n{}",
        ca.display(),
        api_config(
            "echo",
            &fixture("echo.yaml"),
            &format!("https://localhost:{port}"),
            ""
        )
    ));
    let r = by_name
        .mcp("echo")
        .call("getStatus", json!({"code": 200}))
        .await;
    assert!(!is_error(&r), "{r}");

    let untrusted = Gateway::start(&api_config("echo", &fixture("echo.yaml"), &url, ""));
    let before = plain.requests().len();
    let r = untrusted
        .mcp("echo")
        .call("getStatus", json!({"code": 200}))
        .await;
    assert!(is_error(&r) && text(&r).contains("TLS"), "{r}");
    assert_eq!(plain.requests().len(), before, "nothing sent without trust");
}

/// Answers over `upstream.max_response_bytes` are refused whatever their framing: a length,
/// chunks, or the end of the connection.
#[tokio::test]
async fn the_answer_size_cap_holds_for_every_framing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = support::thing_spec(dir.path());
    let mib = "x".repeat(1024 * 1024);
    let answers = [
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{mib}{mib}",
            2 * mib.len()
        ),
        format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{mib}\r\n{:x}\r\n{mib}\r\n0\r\n\r\n",
            mib.len(),
            mib.len()
        ),
        format!("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{mib}{mib}"),
    ];
    for answer in answers {
        let framing = answer.lines().nth(1).unwrap_or("").to_string();
        let (url, _) = support::raw_backend(Box::leak(answer.into_boxed_str())).await;
        let gw = Gateway::start(&format!(
            "upstream:\n  max_response_bytes: 1048576\n{}",
            api_config("t", &spec, &url, "")
        ));
        let r = gw.mcp("t").call("getThing", json!({})).await;
        assert!(
            is_error(&r) && text(&r).contains("larger than the 1048576-byte limit"),
            "{framing}: {}",
            text(&r)
        );
    }
}

/// A validated token is checked in full once, then answered from the cache for at most
/// `auth.token_cache_secs`.
#[tokio::test]
async fn validated_tokens_are_cached_for_token_cache_secs() {
    let a = AuthServer::start().await;
    let b = Backend::start().await;
    let gw = Gateway::start(&format!(
        "auth:\n  token_cache_secs: 1\n  issuers:\n    - issuer: {}\napis:\n  - name: pets\n    spec: {}\n    base_url: {}\n",
        a.issuer,
        fixture("../../specs/petstore.yaml").display(),
        b.url
    ));
    let token = a.token("alice", &format!("{}/mcp/pets", gw.base), "pets:read");
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let auth = format!("Bearer {token}");
    let headers = [
        ("mcp-protocol-version", "2025-11-25"),
        ("authorization", auth.as_str()),
    ];
    let checks = || async {
        (
            gw.metric("rest2mcp_token_checks_total{result=\"verified\"}")
                .await,
            gw.metric("rest2mcp_token_checks_total{result=\"cached\"}")
                .await,
        )
    };
    let started = Instant::now();
    for _ in 0..3 {
        assert_eq!(gw.mcp("pets").post_raw(list, &headers).await.status, 200);
    }
    if started.elapsed() < Duration::from_millis(900) {
        assert_eq!(checks().await, (1.0, 2.0), "one full check, then the cache");
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before = checks().await;
    assert_eq!(gw.mcp("pets").post_raw(list, &headers).await.status, 200);
    let after = checks().await;
    assert_eq!(after.0 - before.0, 1.0, "checked in full again after 1 s");
}

/// An exchanged token is reused per caller until shortly (30 s) before it expires, then
/// exchanged again.
#[tokio::test]
async fn exchanged_tokens_are_reused_until_shortly_before_they_expire() {
    let a = AuthServer::start().await;
    a.set_token_ttl(32);
    let b = Backend::start().await;
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), CLIENT_SECRET).unwrap();
    let gw = Gateway::start(&format!(
        "auth:\n  issuers:\n    - issuer: {}\napis:\n  - name: pets\n    spec: {}\n    base_url: {}\n    downstream:\n      credential: {{mode: token_exchange, client_id: {CLIENT_ID}, client_secret: {{file: {}}}, audience: https://backend.internal}}\n",
        a.issuer,
        fixture("../../specs/petstore.yaml").display(),
        b.url,
        secret.path().display()
    ));
    let token = a.token("alice", &format!("{}/mcp/pets", gw.base), "pets:read");
    let auth = format!("Bearer {token}");
    let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"getPet","arguments":{"petId":1}}}"#;
    let headers = [
        ("mcp-protocol-version", "2025-11-25"),
        ("authorization", auth.as_str()),
    ];
    let started = Instant::now();
    for _ in 0..2 {
        let r = gw.mcp("pets").post_raw(call, &headers).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let first = b.last().header("authorization").unwrap_or("").to_string();
    assert!(first.starts_with("Bearer exchanged-alice"), "{first}");
    if started.elapsed() < Duration::from_millis(1500) {
        assert_eq!(a.token_requests().len(), 1, "reused within its lifetime");
    }
    // 32 s tokens are replaced 30 s before they expire: a new exchange within a few seconds.
    let until = Instant::now() + Duration::from_secs(8);
    while a.token_requests().len() < 2 {
        assert!(Instant::now() < until, "never exchanged again");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = gw.mcp("pets").post_raw(call, &headers).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_ne!(b.last().header("authorization").unwrap_or(""), first);
}

/// After SIGTERM, a call still in progress when `server.shutdown_grace_ms` runs out is cut
/// off: the process exits then, not when the backend answers.
#[tokio::test]
async fn the_shutdown_grace_is_a_deadline() {
    use tokio::io::AsyncWriteExt;
    let backend = Backend::start().await;
    let mut gw = Gateway::start(&format!(
        "server:\n  shutdown_grace_ms: 500\nupstream:\n  timeout_ms: 8000\n{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    ));
    let mut s = tokio::net::TcpStream::connect(gw.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "slow", "arguments": {}}})
    .to_string();
    let req = format!(
        "POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         MCP-Protocol-Version: 2025-11-25\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    backend.wait_for("/slow").await;
    let signalled = Instant::now();
    gw.terminate();
    let status = gw.wait_exit(Duration::from_secs(5));
    let took = signalled.elapsed();
    assert!(status.is_some(), "still running 5 s after SIGTERM");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(2500),
        "exited after {took:?}; the backend answers after 3 s"
    );
    assert!(
        support::hostile::closed_within(&mut s, Duration::from_secs(1)).await,
        "the cut-off connection is closed"
    );
}
