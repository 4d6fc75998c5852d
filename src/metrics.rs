//! Prometheus metrics (`prometheus-client`), served at `/metrics` in the text format.
//!
//! Label sets stay bounded: API names come from the config and the store (a name nobody
//! configured is `_unknown`), methods are the MCP methods (anything else is `other`), outcomes
//! and reasons are fixed words, and a tool is its own label only for the first
//! `server.metrics_tool_series` tools called in the process (later ones share `_other`). No
//! label carries a user, a token or a raw path.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Tools with a latency histogram of their own, process-wide (`server.metrics_tool_series`).
static TOOL_SERIES: AtomicUsize = AtomicUsize::new(1000);
static LABELLED: LazyLock<Mutex<HashSet<(String, String)>>> = LazyLock::new(Mutex::default);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Request {
    pub api: String,
    pub method: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Path {
    pub path: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Tool {
    pub api: String,
    pub tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolResult {
    pub api: String,
    /// `ok`, `tool_error` (an `isError` result: upstream error status, invalid arguments...),
    /// or `limited` (refused at once by a limit).
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Upstream {
    pub api: String,
    /// `2xx`, `3xx`, `4xx`, `5xx`, or `error` (no answer: timeout, refused, too large).
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamApi {
    pub api: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reason {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reload {
    pub trigger: &'static str,
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Api {
    pub api: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Limited {
    pub api: String,
    /// `concurrency` or `rate`.
    pub limit: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    // 2 ms to 30 s: 7 buckets, so 10 series per histogram with `+Inf`, `_sum` and `_count`.
    Histogram::new([0.002, 0.01, 0.05, 0.25, 1.0, 5.0, 30.0])
}

pub struct Metrics {
    registry: Registry,
    /// `served{path="fast"}` and `served{path="rmcp"}`, made once (they count every request).
    pub served_fast: Counter,
    pub served_rmcp: Counter,
    /// `token_checks{result="cached"}` and `{result="verified"}`.
    pub token_cached: Counter,
    pub token_verified: Counter,
    pub tool_results: Family<ToolResult, Counter>,
    pub requests: Family<Request, Counter>,
    pub served: Family<Path, Counter>,
    pub tool_calls: Histograms<Tool>,
    pub upstream: Histograms<UpstreamApi>,
    /// Time to write one `tools/list` page, process-wide (a label per API would be thousands
    /// of series with the whole directory loaded).
    pub list_page: Histogram,
    pub upstream_responses: Family<Upstream, Counter>,
    pub auth_failures: Family<Reason, Counter>,
    pub token_checks: Family<Outcome, Counter>,
    pub token_exchange: Family<Outcome, Counter>,
    pub reloads: Family<Reload, Counter>,
    pub connections_open: Gauge,
    pub connections_shed: Counter,
    pub in_flight: Family<Api, Gauge>,
    pub limited: Family<Limited, Counter>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("rest2mcp");
    let served: Family<Path, Counter> = Family::default();
    let token_checks: Family<Outcome, Counter> = Family::default();
    let m = Metrics {
        served_fast: served.get_or_create_owned(&Path { path: "fast" }),
        served_rmcp: served.get_or_create_owned(&Path { path: "rmcp" }),
        token_cached: token_checks.get_or_create_owned(&Outcome { result: "cached" }),
        token_verified: token_checks.get_or_create_owned(&Outcome { result: "verified" }),
        tool_results: Family::default(),
        requests: Family::default(),
        served,
        tool_calls: Family::new_with_constructor(latency),
        upstream: Family::new_with_constructor(latency),
        // 0.5 ms to 50 ms: a page is a copy of bytes, usually well under 5 ms.
        list_page: Histogram::new([0.0005, 0.001, 0.002, 0.005, 0.01, 0.05]),
        upstream_responses: Family::default(),
        auth_failures: Family::default(),
        token_checks,
        token_exchange: Family::default(),
        reloads: Family::default(),
        connections_open: Gauge::default(),
        connections_shed: Counter::default(),
        in_flight: Family::default(),
        limited: Family::default(),
        registry: Registry::default(),
    };
    registry.register(
        "mcp_requests",
        "MCP requests by API, method and outcome",
        m.requests.clone(),
    );
    registry.register(
        "mcp_served",
        "MCP requests by serving path (fast path or rmcp)",
        m.served.clone(),
    );
    registry.register(
        "tool_call_duration_seconds",
        "tools/call latency by API and tool",
        m.tool_calls.clone(),
    );
    registry.register(
        "tool_calls",
        "tools/call results by API: ok, tool_error, limited",
        m.tool_results.clone(),
    );
    registry.register(
        "upstream_duration_seconds",
        "Upstream call latency by API (connect to last byte)",
        m.upstream.clone(),
    );
    registry.register(
        "tools_list_page_seconds",
        "Time to write one tools/list page (every API)",
        m.list_page.clone(),
    );
    registry.register(
        "upstream_responses",
        "Upstream answers by API and status class (error: none)",
        m.upstream_responses.clone(),
    );
    registry.register(
        "auth_failures",
        "Requests refused by the token or scope checks, by reason",
        m.auth_failures.clone(),
    );
    registry.register(
        "token_checks",
        "Bearer tokens checked in full or answered from the cache",
        m.token_checks.clone(),
    );
    registry.register(
        "token_exchange",
        "RFC 8693 token exchanges: fetched, cached, failed",
        m.token_exchange.clone(),
    );
    registry.register(
        "reloads",
        "API reloads by trigger and result",
        m.reloads.clone(),
    );
    registry.register(
        "connections_open",
        "Client connections open",
        m.connections_open.clone(),
    );
    registry.register(
        "connections_shed",
        "Client connections closed at once over server.max_connections",
        m.connections_shed.clone(),
    );
    registry.register(
        "calls_in_flight",
        "tools/call in progress, by API",
        m.in_flight.clone(),
    );
    registry.register(
        "calls_limited",
        "Calls refused at once by a limit, by API and limit",
        m.limited.clone(),
    );
    Metrics { registry, ..m }
});

/// The process's metrics.
pub fn get() -> &'static Metrics {
    &METRICS
}

/// The Prometheus text exposition of every metric.
pub fn encode() -> String {
    let mut out = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut out, &METRICS.registry);
    out
}

/// An MCP method as a label (anything unknown is `other`).
pub fn method(m: &str) -> &'static str {
    match m {
        "tools/call" => "tools/call",
        "tools/list" => "tools/list",
        "initialize" => "initialize",
        "ping" => "ping",
        "server/discover" => "server/discover",
        "subscriptions/listen" => "subscriptions/listen",
        "notifications/initialized" => "notifications/initialized",
        "prompts/list" => "prompts/list",
        "resources/list" => "resources/list",
        "resources/templates/list" => "resources/templates/list",
        _ => "other",
    }
}

/// The status class of an upstream answer.
pub fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "error",
    }
}

/// Why a token was refused, from the refusal's reason.
pub fn auth_reason(why: &str) -> &'static str {
    let w = why.to_ascii_lowercase();
    if w.contains("expired") || w.contains("not yet valid") {
        "expired"
    } else if w.contains("audience") {
        "audience"
    } else if w.contains("issuer") {
        "issuer"
    } else if w.contains("signature") || w.contains("signing key") || w.contains("algorithm") {
        "signature"
    } else if w.contains("not active") {
        "inactive"
    } else {
        "invalid"
    }
}

/// Set the process-wide number of tools labelled by name (`server.metrics_tool_series`).
pub fn set_tool_series(n: usize) {
    TOOL_SERIES.store(n, Ordering::Relaxed);
}

/// Whether `api`'s `tool` gets a latency series of its own: yes while fewer than
/// `server.metrics_tool_series` tools have one (decided once per tool; callers cache it).
pub fn tool_labelled(api: &str, tool: &str) -> bool {
    let mut set = LABELLED.lock().expect("metrics labels");
    let key = (api.to_string(), tool.to_string());
    if set.contains(&key) {
        return true;
    }
    if set.len() < TOOL_SERIES.load(Ordering::Relaxed) {
        set.insert(key);
        return true;
    }
    false
}
