//! OpenTelemetry traces over OTLP/HTTP, through the real binary: a collector (here a plain
//! HTTP receiver decoding the OTLP protobuf messages, as a collector does) receives the
//! gateway's spans under the caller's trace, and the backend is sent the gateway's client span
//! as its parent. Off by default: without an endpoint the caller's `traceparent` passes as is
//! (tests/operate.rs).

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::json;
use support::{Backend, Gateway, fixture, is_error};

const TRACE_A: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACE_B: &str = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_PARENT: &str = "00f067aa0ba902b7";

#[derive(Default, Clone)]
struct Collected {
    spans: Arc<Mutex<Vec<Span>>>,
    services: Arc<Mutex<Vec<String>>>,
}

/// An OTLP/HTTP receiver on loopback: `POST /v1/traces` with protobuf bodies.
async fn collector() -> (String, Collected) {
    let got = Collected::default();
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            axum::routing::post(|State(c): State<Collected>, body: Bytes| async move {
                let req = ExportTraceServiceRequest::decode(body).expect("an OTLP message");
                for rs in req.resource_spans {
                    for kv in rs.resource.iter().flat_map(|r| &r.attributes) {
                        if let (true, Some(Any::StringValue(s))) = (
                            kv.key == "service.name",
                            kv.value.as_ref().and_then(|v| v.value.clone()),
                        ) {
                            c.services.lock().unwrap().push(s);
                        }
                    }
                    for ss in rs.scope_spans {
                        c.spans.lock().unwrap().extend(ss.spans);
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn attr(s: &Span, key: &str) -> Option<Any> {
    s.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.clone())
}

/// The spans of one trace, once its client span (the last to end) has arrived.
async fn trace_of(c: &Collected, trace: &str) -> Vec<Span> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let spans: Vec<Span> = c
            .spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| hex(&s.trace_id) == trace)
            .cloned()
            .collect();
        if spans.len() >= 4 || Instant::now() > deadline {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span `{name}` in {spans:#?}"))
}

/// The `traceparent` the backend received, split into (trace id, parent id).
fn received(b: &Backend) -> (String, String) {
    let seen = b.last();
    let tp = seen
        .header("traceparent")
        .expect("a traceparent")
        .to_string();
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    assert_eq!((parts[0], parts[3]), ("00", "01"), "{tp}");
    (parts[1].to_string(), parts[2].to_string())
}

#[tokio::test]
async fn spans_reach_an_otlp_collector_and_the_backend_continues_the_trace() {
    let (endpoint, got) = collector().await;
    let b = Backend::start().await;
    let cfg = support::api_config("echo", &fixture("echo.yaml"), &b.url, "");
    let gw = Gateway::start_with(
        &cfg,
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("RUST_LOG", "info"),
        ],
    );
    let url = format!("{}/mcp/echo", gw.base);
    let post = |accept: &'static str, tp: Option<String>, body: serde_json::Value| {
        let mut req = support::http_client()
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", accept)
            .header("mcp-protocol-version", "2025-11-25")
            .body(body.to_string());
        if let Some(tp) = tp {
            req = req.header("traceparent", tp);
        }
        async move { req.send().await.unwrap().text().await.unwrap() }
    };

    // The fast path, under the caller's trace A.
    let tp_a = format!("00-{TRACE_A}-{CLIENT_PARENT}-01");
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "postNote", "arguments": {"body": "hello"}}});
    let r = post("application/json", Some(tp_a), body).await;
    let reply: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert!(!is_error(&reply["result"]), "{r}");
    let (trace, parent) = received(&b);
    assert_eq!(trace, TRACE_A);
    assert_ne!(
        parent, CLIENT_PARENT,
        "the backend's parent is the gateway's span"
    );

    let spans = trace_of(&got, TRACE_A).await;
    let server = named(&spans, "POST /mcp/echo");
    let request = named(&spans, "request");
    let tool = named(&spans, "tools/call postNote");
    let client = named(&spans, "POST");
    assert_eq!(server.kind, 2, "server span: {server:?}");
    assert_eq!(hex(&server.parent_span_id), CLIENT_PARENT);
    assert_eq!(request.parent_span_id, server.span_id);
    assert!(
        matches!(attr(request, "request_id"), Some(Any::StringValue(id)) if id.len() == 20),
        "the request id links the trace to the logs: {request:?}"
    );
    assert_eq!(tool.parent_span_id, request.span_id);
    assert_eq!(client.kind, 3, "client span: {client:?}");
    assert_eq!(client.parent_span_id, tool.span_id);
    assert_eq!(
        hex(&client.span_id),
        parent,
        "the backend's parent is the client span"
    );
    assert_eq!(
        attr(client, "http.response.status_code"),
        Some(Any::IntValue(200))
    );
    assert_eq!(
        attr(tool, "gen_ai.tool.name"),
        Some(Any::StringValue("postNote".into()))
    );
    assert_eq!(got.services.lock().unwrap()[0], "rest2mcp");

    // rmcp's path (an SSE-only Accept), under trace B: its task continues the request's span,
    // and a backend error marks the spans.
    let tp_b = format!("00-{TRACE_B}-{CLIENT_PARENT}-01");
    let body = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                      "params": {"name": "getStatus", "arguments": {"code": 503}}});
    let r = post("text/event-stream", Some(tp_b), body).await;
    assert!(r.contains("upstream answered HTTP 503"), "{r}");
    let (trace, parent) = received(&b);
    assert_eq!(trace, TRACE_B);
    let spans = trace_of(&got, TRACE_B).await;
    let server = named(&spans, "POST /mcp/echo");
    let request = named(&spans, "request");
    let tool = named(&spans, "tools/call getStatus");
    let client = named(&spans, "GET");
    assert_eq!(request.parent_span_id, server.span_id, "{spans:#?}");
    assert_eq!(tool.parent_span_id, request.span_id, "{spans:#?}");
    assert_eq!(hex(&client.span_id), parent);
    assert_eq!(
        attr(client, "http.response.status_code"),
        Some(Any::IntValue(503))
    );
    assert_eq!(client.status.as_ref().map(|s| s.code), Some(2), "error");
    assert_eq!(tool.status.as_ref().map(|s| s.code), Some(2), "error");

    // No caller trace: the gateway starts one, and the backend continues it.
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                      "params": {"name": "getStatus", "arguments": {"code": 200}}});
    let r = post("application/json", None, body).await;
    assert!(r.contains("\"isError\":false"), "{r}");
    let (trace, parent) = received(&b);
    assert_ne!(trace, TRACE_A);
    let spans = trace_of(&got, &trace).await;
    let server = named(&spans, "POST /mcp/echo");
    assert!(server.parent_span_id.is_empty(), "a root span: {server:?}");
    assert_eq!(hex(&named(&spans, "GET").span_id), parent);

    // Spans made for traces are not log context; nothing secret or argument-like is exported.
    let logs = gw.log_lines().join("\n");
    assert!(!logs.contains("otel."), "{logs}");
    assert!(!logs.contains("upstream{"), "{logs}");
    let all = format!("{:?}", got.spans.lock().unwrap());
    assert!(
        !all.contains("hello"),
        "an argument value was exported: {all}"
    );
}

#[tokio::test]
async fn an_unsupported_otlp_protocol_is_said_and_traces_stay_off() {
    let b = Backend::start().await;
    let cfg = support::api_config("echo", &fixture("echo.yaml"), &b.url, "");
    let gw = Gateway::start_with(
        &cfg,
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ],
    );
    let tp = format!("00-{TRACE_A}-{CLIENT_PARENT}-01");
    let r = support::http_client()
        .post(format!("{}/mcp/echo", gw.base))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .header("traceparent", &tp)
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "getStatus", "arguments": {"code": 200}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Off: the caller's trace context reaches the backend as it came.
    assert_eq!(b.last().header("traceparent"), Some(tp.as_str()));
    let logs = gw.log_lines().join("\n");
    assert!(
        logs.contains("OTLP protocol `grpc` is not supported"),
        "{logs}"
    );
}
