//! OpenTelemetry traces over OTLP/HTTP (protobuf), optional and off by default.
//!
//! On when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and
//! not turned off by `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`; the exporter reads
//! the other standard `OTEL_*` variables (headers, timeout, sampler, batch delay) itself. When
//! off, nothing here runs: no layer is installed and the spans below are `Span::none()`.
//!
//! Each MCP request is a server span (parent: the client's W3C `traceparent`) holding the
//! `request` span (its `request_id` links the trace to the log lines), each tool call a span
//! under that, and each upstream request a client span whose context goes to the backend in
//! `traceparent`, so the backend's spans hang under the gateway's.

use std::sync::atomic::{AtomicBool, Ordering};

use http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// The target of spans made for tracing only: exported, never written to the log.
pub const TARGET: &str = "rest2mcp::otel";

static ON: AtomicBool = AtomicBool::new(false);

/// Whether traces are exported.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Exports what is queued when dropped (at exit).
pub struct Exporter(SdkTracerProvider);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.shutdown();
    }
}

/// What the environment asks for: `Ok(None)` when traces are off.
fn wanted() -> Result<Option<()>, String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
    {
        return Ok(None);
    }
    if var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))
        .is_none()
    {
        return Ok(None);
    }
    let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/protobuf".into());
    if protocol != "http/protobuf" {
        return Err(format!(
            "OTLP protocol `{protocol}` is not supported: use http/protobuf (a collector's port 4318)"
        ));
    }
    Ok(Some(()))
}

/// The tracing layer that exports spans, if the environment turns traces on. `Err` is a
/// message to log: traces stay off.
#[allow(clippy::type_complexity)]
pub fn layer<S>() -> Result<Option<(Box<dyn Layer<S> + Send + Sync>, Exporter)>, String>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    if wanted()?.is_none() {
        return Ok(None);
    }
    // An `https` endpoint needs the process's TLS provider (the exporter's client has none).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| format!("traces are off: the OTLP exporter: {e}"))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("rest2mcp");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("rest2mcp");
    // Our spans only (not hyper's or rmcp's), and no log events as span events.
    let filter = tracing_subscriber::filter::filter_fn(|m| {
        m.is_span() && m.target().starts_with("rest2mcp") && *m.level() <= tracing::Level::INFO
    });
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(filter)
        .boxed();
    ON.store(true, Ordering::Relaxed);
    Ok(Some((layer, Exporter(provider))))
}

struct Headers<'a>(&'a HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct Inject<'a>(&'a mut HeaderMap);

impl opentelemetry::propagation::Injector for Inject<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// A server span for one MCP request under the caller's `traceparent`, if any (none when
/// traces are off).
pub fn server_span(method: &http::Method, api: &str, headers: &HeaderMap) -> Span {
    if !enabled() {
        return Span::none();
    }
    let span = tracing::info_span!(
        target: TARGET,
        "server",
        otel.name = %format_args!("{method} /mcp/{api}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = "/mcp/{name}",
        rest2mcp.api = api,
    );
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(parent);
    span
}

/// A span for one tool call (none when traces are off).
pub fn tool_span(api: &str, tool: &str) -> Span {
    if !enabled() {
        return Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "tools/call",
        otel.name = %format_args!("tools/call {tool}"),
        mcp.method.name = "tools/call",
        gen_ai.tool.name = tool,
        rest2mcp.api = api,
        otel.status_code = tracing::field::Empty,
    )
}

/// A client span for one upstream request; its context replaces the `traceparent` the backend
/// is sent (none, and the caller's `traceparent` passed as is, when traces are off).
pub fn upstream_span(method: &str, template: &str, extra: &mut HeaderMap) -> Span {
    if !enabled() {
        return Span::none();
    }
    let method = method.to_ascii_uppercase();
    let method = method.as_str();
    let span = tracing::info_span!(
        target: TARGET,
        "upstream",
        otel.name = method,
        otel.kind = "client",
        http.request.method = method,
        url.template = template,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    extra.remove("traceparent");
    extra.remove("tracestate");
    TraceContextPropagator::new().inject_context(&span.context(), &mut Inject(extra));
    span
}

/// Record how a call went on its spans: the upstream status, and an error when it failed.
pub fn finish(tool: &Span, upstream: &Span, status: Option<u16>, failed: bool) {
    if !enabled() {
        return;
    }
    if let Some(s) = status {
        upstream.record("http.response.status_code", i64::from(s));
        if s >= 400 {
            upstream.record("otel.status_code", "ERROR");
        }
    }
    if failed {
        tool.record("otel.status_code", "ERROR");
    }
}
