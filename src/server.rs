//! HTTP serving: the listener and its connections (`listen`, `conn`, hyper's HTTP/1 server with
//! deadlines), the `/mcp/{name}` endpoint (`endpoint`), and the axum router for everything else,
//! each request reading the current registry of APIs (`live::registry`) from an `ArcSwap`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::auth::Protection;
use crate::config::ServerConfig;
use crate::live::Live;

pub mod body;
mod conn;
mod cors;
pub mod endpoint;
pub mod hosts;
mod io;
pub mod listen;
mod refuse;

/// The allow-list as rmcp must see it (see `cors::for_rmcp`).
pub fn allowed_origins_for_rmcp(allow_list: &[String]) -> Vec<String> {
    cors::for_rmcp(allow_list)
}

/// Shared state of every request: the live snapshot, the request limits, counters.
#[derive(Clone)]
pub struct AppState {
    /// What is served, and what changes it.
    pub live: Arc<Live>,
    pub limits: Arc<Limits>,
    pub counters: Arc<Counters>,
}

/// Request limits shared by every connection.
pub struct Limits {
    /// Largest MCP request body accepted.
    pub max_request_bytes: usize,
    /// A request body must have arrived this long after its head.
    pub body_read_timeout: std::time::Duration,
    /// Bytes of bodies held for requests no token vouched for.
    pub budget: body::Budget,
}

impl Limits {
    pub fn new(cfg: &ServerConfig) -> Self {
        Limits {
            max_request_bytes: cfg.max_request_bytes,
            body_read_timeout: std::time::Duration::from_millis(cfg.body_read_timeout_ms),
            budget: body::Budget::new(cfg.max_unauthenticated_bytes),
        }
    }
}

/// What the listener did (`/metrics` has the same as gauges and counters).
#[derive(Default)]
pub struct Counters {
    /// Client connections open now.
    pub open: AtomicU64,
    /// Client connections closed at once because `server.max_connections` were open.
    pub shed: AtomicU64,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/mcp/{name}", any(endpoint::route))
        .route("/mcp/{name}/{set}", any(endpoint::route_set))
        .route(
            "/.well-known/oauth-protected-resource/mcp/{name}",
            get(resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp/{name}/{set}",
            get(set_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(only_resource_metadata),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_here)
        .with_state(state)
}

/// Anything else: a short answer naming what is served (clients that guess a path, such as an
/// `/mcp` without the API's name, learn the right one).
async fn not_here(State(st): State<AppState>, uri: http::Uri) -> Response {
    let reg = st.live.registry.load();
    let names = reg.order();
    let mut text = format!("nothing is served at {}\n", uri.path());
    if names.is_empty() {
        text.push_str("no MCP endpoint is configured yet\n");
    } else {
        text.push_str("MCP endpoints (Streamable HTTP, POST):\n");
        for n in names.iter().take(50) {
            text.push_str(&format!("  {}\n", reg.mcp_url(n)));
        }
        if names.len() > 50 {
            text.push_str(&format!("  ... and {} more\n", names.len() - 50));
        }
    }
    (StatusCode::NOT_FOUND, text).into_response()
}

/// Ready to take traffic: the mapping is loaded (it is before the listener opens), the store
/// answers, every issuer's signing keys are cached (or its tokens are introspected), and the
/// process is not shutting down. `503` with the reasons otherwise (none of them secret).
async fn readyz(State(st): State<AppState>) -> Response {
    let reg = st.live.registry.load_full();
    let mut problems = Vec::new();
    if reg.shared.cancel.is_cancelled() {
        problems.push("shutting down".to_string());
    }
    if let Some(store) = &st.live.store {
        match tokio::time::timeout(std::time::Duration::from_secs(2), store.heads()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => problems.push(format!("store: {e}")),
            Err(_) => problems.push("store: no answer within 2 s".into()),
        }
    }
    match tokio::time::timeout(
        std::time::Duration::from_secs(3),
        reg.shared.verifier.ready(),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.push(e),
        Err(_) => problems.push("signing keys: no answer within 3 s".into()),
    }
    if problems.is_empty() {
        (
            StatusCode::OK,
            format!("ready: {} APIs\n", reg.order().len()),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", problems.join("; ")),
        )
            .into_response()
    }
}

/// The metrics in the OpenMetrics text format Prometheus scrapes; to loopback clients only
/// unless `server.metrics_remote` is set.
async fn metrics(
    State(st): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
) -> Response {
    if !peer.ip().is_loopback() && !st.live.registry.load().shared.cfg.server.metrics_remote {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to loopback clients only (server.metrics_remote: true opens them)\n",
        )
            .into_response();
    }
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::encode(),
    )
        .into_response()
}

/// RFC 9728 Protected Resource Metadata of one endpoint.
async fn resource_metadata(State(st): State<AppState>, Path(name): Path<String>) -> Response {
    let reg = st.live.registry.load();
    match reg.protection(&name) {
        Some(p) => metadata_response(p),
        None => (
            StatusCode::NOT_FOUND,
            format!("no protected MCP server named `{name}` here\n"),
        )
            .into_response(),
    }
}

/// RFC 9728 metadata of a toolset endpoint.
async fn set_metadata(
    State(st): State<AppState>,
    Path((name, set)): Path<(String, String)>,
) -> Response {
    let reg = st.live.registry.load();
    match reg.protection(&format!("{name}/{set}")) {
        Some(p) => metadata_response(p),
        None => (
            StatusCode::NOT_FOUND,
            format!("no protected MCP server named `{name}/{set}` here\n"),
        )
            .into_response(),
    }
}

/// The metadata at the bare well-known path, for clients that look there: served when exactly
/// one endpoint is protected (otherwise it would be ambiguous).
async fn only_resource_metadata(State(st): State<AppState>) -> Response {
    let reg = st.live.registry.load();
    let mut all = reg
        .apis
        .values()
        .filter_map(|e| e.access.protection.as_ref());
    match (all.next(), all.next()) {
        (Some(p), None) => metadata_response(p),
        _ => (
            StatusCode::NOT_FOUND,
            "use /.well-known/oauth-protected-resource/mcp/{name}\n",
        )
            .into_response(),
    }
}

fn metadata_response(p: &Protection) -> Response {
    let mut resp = Response::new(Body::from(p.metadata.clone()));
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    // Browser-based clients (MCP Inspector) read it cross-origin; it is public by design.
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        http::HeaderValue::from_static("*"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("max-age=300"),
    );
    resp
}
