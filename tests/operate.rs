//! What operators see and rely on, through the real binary: `/metrics` (Prometheus/OpenMetrics
//! text), JSON logs with a request id on every request line and one audit line per tool call
//! (no token, secret or argument value anywhere in them), the request id and W3C trace context
//! sent to the backend, `/readyz`, and per-API call limits answered at once.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::oauth::{self, AuthServer, CLIENT_ID, CLIENT_SECRET};
use support::{Backend, Gateway, fixture, is_error, text};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const SECRET_ARG: &str = "SECRET-ARG-VALUE-7f3a";

fn call_body(name: &str, args: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
           "params": {"name": name, "arguments": args}})
    .to_string()
}

/// POST with exactly these headers (and `accept` as given: `text/event-stream` alone takes the
/// request to rmcp).
async fn post(
    url: &str,
    accept: &str,
    headers: &[(&str, &str)],
    body: String,
) -> reqwest::Response {
    let mut req = support::http_client()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", accept)
        .header("mcp-protocol-version", "2025-11-25")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn metrics(gw: &Gateway) -> String {
    let r = support::http_client()
        .get(format!("{}/metrics", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    r.text().await.unwrap()
}

/// The value of the sample named exactly `series` (name and labels as printed).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample `{series}` in:\n{text}"))
}

#[tokio::test]
async fn metrics_logs_and_audit_lines_tell_operators_what_happened() {
    let a = AuthServer::start().await;
    let b = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("gw-secret");
    std::fs::write(&secret, CLIENT_SECRET).unwrap();
    let cfg = format!(
        "auth:\n  issuers:\n    - issuer: {}\napis:\n  - name: echo\n    spec: {}\n    base_url: {}\n    downstream:\n      credential: {{mode: token_exchange, client_id: {CLIENT_ID}, client_secret: {{file: {}}}, audience: https://backend.internal}}\n",
        a.issuer,
        fixture("echo.yaml").display(),
        b.url,
        secret.display()
    );
    let gw = Gateway::start_with(
        &cfg,
        &["--log-format", "json"],
        &[("RUST_LOG", "rest2mcp=debug,info")],
    );
    let url = format!("{}/mcp/echo", gw.base);
    let token = a.token("alice", &url, "");
    let bearer = format!("Bearer {token}");

    // The fast path: the client's request id and trace context reach the backend.
    let r = post(
        &url,
        "application/json",
        &[
            ("authorization", &bearer),
            ("x-request-id", "req-audit-1"),
            ("traceparent", TRACEPARENT),
        ],
        call_body("postNote", json!({"body": SECRET_ARG})),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "req-audit-1");
    let reply: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(!is_error(&reply["result"]), "{reply}");
    let seen = b.last();
    assert_eq!(seen.header("x-request-id"), Some("req-audit-1"));
    assert_eq!(seen.header("traceparent"), Some(TRACEPARENT));
    assert_eq!(seen.body, SECRET_ARG);
    let exchanged = seen.header("authorization").unwrap().to_string();
    assert!(
        exchanged.starts_with("Bearer exchanged-alice"),
        "{exchanged}"
    );

    // rmcp's path (SSE answer): the same, with an id made here when the client sends none.
    let r = post(
        &url,
        "text/event-stream",
        &[("authorization", &bearer), ("traceparent", TRACEPARENT)],
        call_body("getStatus", json!({"code": 503})),
    )
    .await;
    assert_eq!(r.status(), 200);
    let made = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(made.len(), 20, "{made}");
    let body = r.text().await.unwrap();
    assert!(body.contains("upstream answered HTTP 503"), "{body}");
    let seen = b.last();
    assert_eq!(seen.header("x-request-id"), Some(made.as_str()));
    assert_eq!(seen.header("traceparent"), Some(TRACEPARENT));

    // Refusals: no token, an expired one.
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();
    let r = post(&url, "application/json", &[], list.clone()).await;
    assert_eq!(r.status(), 401);
    let mut old = a.claims("alice", &url, "");
    old["exp"] = json!(oauth::now() - 600);
    let expired = format!("Bearer {}", oauth::sign("rsa1", &old));
    let r = post(
        &url,
        "application/json",
        &[("authorization", &expired)],
        list.clone(),
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = post(
        &url,
        "application/json",
        &[("authorization", &bearer)],
        list,
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post(
        &format!("{}/mcp/nope", gw.base),
        "application/json",
        &[],
        "{}".into(),
    )
    .await;
    assert_eq!(r.status(), 404);

    let m = metrics(&gw).await;
    for (series, at_least) in [
        (
            r#"rest2mcp_mcp_requests_total{api="echo",method="tools/call",outcome="ok"}"#,
            2.0,
        ),
        (
            r#"rest2mcp_mcp_requests_total{api="echo",method="tools/list",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"rest2mcp_mcp_requests_total{api="echo",method="unknown",outcome="unauthorized"}"#,
            2.0,
        ),
        (
            r#"rest2mcp_mcp_requests_total{api="_unknown",method="unknown",outcome="rejected"}"#,
            1.0,
        ),
        (r#"rest2mcp_mcp_served_total{path="fast"}"#, 2.0),
        (r#"rest2mcp_mcp_served_total{path="rmcp"}"#, 1.0),
        (
            r#"rest2mcp_tool_call_duration_seconds_count{api="echo",tool="postNote"}"#,
            1.0,
        ),
        (
            r#"rest2mcp_tool_call_duration_seconds_count{api="echo",tool="getStatus"}"#,
            1.0,
        ),
        (r#"rest2mcp_tool_calls_total{api="echo",result="ok"}"#, 1.0),
        (
            r#"rest2mcp_tool_calls_total{api="echo",result="tool_error"}"#,
            1.0,
        ),
        (
            r#"rest2mcp_upstream_duration_seconds_count{api="echo"}"#,
            2.0,
        ),
        (
            r#"rest2mcp_upstream_responses_total{api="echo",status="2xx"}"#,
            1.0,
        ),
        (
            r#"rest2mcp_upstream_responses_total{api="echo",status="5xx"}"#,
            1.0,
        ),
        (r#"rest2mcp_auth_failures_total{reason="missing"}"#, 1.0),
        (r#"rest2mcp_auth_failures_total{reason="expired"}"#, 1.0),
        (r#"rest2mcp_token_checks_total{result="verified"}"#, 1.0),
        (r#"rest2mcp_token_checks_total{result="cached"}"#, 1.0),
        (r#"rest2mcp_token_exchange_total{result="fetched"}"#, 1.0),
        (r#"rest2mcp_token_exchange_total{result="cached"}"#, 1.0),
        (
            r#"rest2mcp_reloads_total{trigger="start",result="ok"}"#,
            1.0,
        ),
        ("rest2mcp_connections_open", 1.0),
        ("rest2mcp_tools_list_page_seconds_count", 1.0),
        (r#"rest2mcp_tools_list_page_seconds_bucket{le="0.05"}"#, 1.0),
    ] {
        let v = sample(&m, series);
        assert!(v >= at_least, "{series} = {v}, want >= {at_least}\n{m}");
    }
    assert_eq!(sample(&m, r#"rest2mcp_calls_in_flight{api="echo"}"#), 0.0);
    // No label carries a user, a token or a path nobody configured.
    for leak in ["alice", "nope", &token[..20], "req-audit-1"] {
        assert!(!m.contains(leak), "`{leak}` in /metrics:\n{m}");
    }

    // Logs: JSON, one audit line per call, the request id on each request's lines.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = gw.log_lines();
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let audits: Vec<&Value> = parsed
        .iter()
        .filter(|v| v["target"] == "rest2mcp::audit")
        .collect();
    assert_eq!(audits.len(), 2, "{lines:#?}");
    let first = &audits[0]["fields"];
    assert_eq!(first["message"], "tool call");
    assert_eq!(first["api"], "echo");
    assert_eq!(first["tool"], "postNote");
    assert_eq!(first["sub"], "alice");
    assert_eq!(first["client_id"], "vscode");
    assert_eq!(first["status"], 200);
    assert_eq!(first["result"], "ok");
    assert!(first["bytes"].as_u64().unwrap() > 0, "{first}");
    assert!(first["duration_ms"].as_f64().unwrap() > 0.0, "{first}");
    assert_eq!(first["request_id"], "req-audit-1");
    assert_eq!(
        audits[0]["span"]["request_id"], "req-audit-1",
        "{}",
        audits[0]
    );
    let second = &audits[1]["fields"];
    assert_eq!(second["tool"], "getStatus");
    assert_eq!(second["status"], 503);
    assert_eq!(second["result"], "tool_error");
    assert_eq!(second["request_id"], made.as_str());
    // Every line the gateway logs inside a request names it (refusals at debug level
    // included; rmcp's own lines come from tasks of its own, outside the request's span).
    let in_requests: Vec<&Value> = parsed
        .iter()
        .filter(|v| {
            v.get("span").is_some() && v["target"].as_str().unwrap().starts_with("rest2mcp")
        })
        .collect();
    assert!(in_requests.len() > 2, "{lines:#?}");
    for v in in_requests {
        assert!(v["span"]["request_id"].is_string(), "{v}");
    }
    // Never a token, a secret or an argument value.
    let all = lines.join("\n");
    for secret in [
        token.as_str(),
        &token[token.len() - 30..],
        exchanged.trim_start_matches("Bearer "),
        CLIENT_SECRET,
        SECRET_ARG,
    ] {
        assert!(!all.contains(secret), "`{secret}` in the logs:\n{all}");
    }
}

#[tokio::test]
async fn text_logs_have_no_colour_codes_off_a_terminal() {
    let b = Backend::start().await;
    let cfg = support::api_config("echo", &fixture("echo.yaml"), &b.url, "");
    let gw = Gateway::start_with(&cfg, &[], &[("RUST_LOG", "info")]);
    let r = gw.mcp("echo").call("getStatus", json!({"code": 200})).await;
    assert!(!is_error(&r), "{r}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = gw.log_lines().join("\n");
    assert!(all.contains("tool call"), "{all}");
    assert!(all.contains("request_id="), "{all}");
    assert!(!all.contains('\u{1b}'), "{all}");
}

#[tokio::test]
async fn call_limits_refuse_at_once_and_nothing_reaches_the_backend() {
    let b = Backend::start().await;
    let spec = fixture("echo.yaml");
    let cfg = format!(
        "server:\n  metrics_tool_series: 1\napis:\n  - name: busy\n    spec: {s}\n    base_url: {u}\n    limits: {{max_concurrent_calls: 1}}\n  - name: rated\n    spec: {s}\n    base_url: {u}\n    limits: {{calls_per_minute: 3}}\n",
        s = spec.display(),
        u = b.url
    );
    let gw = Gateway::start(&cfg);

    // One slow call holds the only slot; the next is refused at once.
    let busy = gw.mcp("busy");
    let slow = tokio::spawn(async move { busy.call("slow", json!({})).await });
    b.wait_for("/slow").await;
    let started = Instant::now();
    let r = gw.mcp("busy").call("slow", json!({})).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("too many calls in progress"), "{r}");
    assert!(text(&r).contains("limit 1"), "{r}");
    let first = slow.await.unwrap();
    assert!(!is_error(&first), "{first}");
    assert_eq!(b.requests().iter().filter(|s| s.uri == "/slow").count(), 1);
    // The slot is free again.
    let r = gw.mcp("busy").call("getStatus", json!({"code": 200})).await;
    assert!(!is_error(&r), "{r}");

    // Three calls a minute: the fourth is refused, and says when to try again.
    let rated = gw.mcp("rated");
    for _ in 0..3 {
        let r = rated.call("getStatus", json!({"code": 201})).await;
        assert!(!is_error(&r), "{r}");
    }
    let r = rated.call("getStatus", json!({"code": 201})).await;
    assert!(is_error(&r), "{r}");
    assert!(
        text(&r).contains("rate limit reached: 3 calls per minute"),
        "{r}"
    );
    assert!(text(&r).contains("try again in"), "{r}");
    assert_eq!(
        b.requests()
            .iter()
            .filter(|s| s.uri == "/status/201")
            .count(),
        3
    );

    let m = metrics(&gw).await;
    assert_eq!(
        sample(
            &m,
            r#"rest2mcp_calls_limited_total{api="busy",limit="concurrency"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            r#"rest2mcp_calls_limited_total{api="rated",limit="rate"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            r#"rest2mcp_tool_calls_total{api="rated",result="limited"}"#
        ),
        1.0
    );
    // One tool has a latency series of its own (the first called); the rest share `_other`.
    assert_eq!(
        sample(
            &m,
            r#"rest2mcp_tool_call_duration_seconds_count{api="busy",tool="slow"}"#
        ),
        2.0
    );
    assert_eq!(
        sample(
            &m,
            r#"rest2mcp_tool_call_duration_seconds_count{api="busy",tool="_other"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &m,
            r#"rest2mcp_tool_call_duration_seconds_count{api="rated",tool="_other"}"#
        ),
        4.0
    );
    assert!(!m.contains(r#"tool="getStatus""#), "{m}");
}

#[tokio::test]
async fn readyz_waits_for_signing_keys() {
    let a = AuthServer::start().await;
    a.set_jwks_down(true);
    let b = Backend::start().await;
    let cfg = format!(
        "auth:\n  jwks_min_refresh_secs: 1\n  issuers:\n    - issuer: {}\n{}",
        a.issuer,
        support::api_config("echo", &fixture("echo.yaml"), &b.url, "")
    );
    let gw = Gateway::start(&cfg);
    let http = support::http_client();
    let readyz = || async {
        let r = http
            .get(format!("{}/readyz", gw.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let (status, text) = readyz().await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("no signing keys yet for"), "{text}");
    let alive = http
        .get(format!("{}/healthz", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200, "alive while not ready");

    a.set_jwks_down(false);
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, text) = readyz().await;
        if status == 200 {
            assert!(text.starts_with("ready: 1 APIs"), "{text}");
            break;
        }
        assert!(Instant::now() < until, "never ready: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A call whose client goes away before the backend answers still leaves `calls_in_flight`
/// (it stayed counted forever once) and is audited as `cancelled`: it may have reached the
/// backend.
#[tokio::test]
async fn a_call_abandoned_by_its_client_is_audited_and_leaves_in_flight() {
    // A backend that reads the request and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let cfg = support::api_config("echo", &fixture("echo.yaml"), &url, "");
    let gw = Gateway::start_with(&cfg, &[], &[("RUST_LOG", "info")]);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let sent = client
        .post(format!("{}/mcp/echo", gw.base))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .body(call_body("getStatus", json!({"code": 200})))
        .send()
        .await;
    assert!(sent.is_err(), "the backend never answers");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = metrics(&gw).await;
        let cancelled =
            text.contains("rest2mcp_tool_calls_total{api=\"echo\",result=\"cancelled\"} 1");
        if cancelled {
            assert_eq!(sample(&text, "rest2mcp_calls_in_flight{api=\"echo\"}"), 0.0);
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = gw.log_lines().join("\n");
    assert!(
        logs.lines()
            .any(|l| l.contains("rest2mcp::audit") && l.contains("result=\"cancelled\"")),
        "{logs}"
    );
}
