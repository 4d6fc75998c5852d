//! HTTP front: the axum router that dispatches `/mcp/{name}` to that API's rmcp
//! `StreamableHttpService`, reading the current [`Snapshot`] from an `ArcSwap` per request.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::catalog::{ApiCatalog, Gateway};
use crate::config::ServerConfig;
use crate::mcp::McpApi;
use crate::upstream::Upstream;

type McpService = StreamableHttpService<McpApi, NeverSessionManager>;

/// What one request sees: the catalogs and the MCP service built for each.
pub struct Snapshot {
    pub gateway: Gateway,
    services: HashMap<String, McpService>,
}

impl Snapshot {
    /// Wrap a built gateway with one stateless MCP service per API.
    pub fn new(
        gateway: Gateway,
        upstream: &Upstream,
        server: &ServerConfig,
        cancel: &CancellationToken,
    ) -> Self {
        let services = gateway
            .apis
            .iter()
            .map(|(name, api)| (name.clone(), mcp_service(api, upstream, server, cancel)))
            .collect();
        Snapshot { gateway, services }
    }
}

fn mcp_service(
    api: &Arc<ApiCatalog>,
    upstream: &Upstream,
    server: &ServerConfig,
    cancel: &CancellationToken,
) -> McpService {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(server.allowed_hosts.clone())
        .with_allowed_origins(server.allowed_origins.clone())
        .enforce_origin_validation()
        .with_max_request_body_bytes(server.max_request_bytes)
        .with_cancellation_token(cancel.child_token());
    let handler = McpApi {
        api: api.clone(),
        upstream: upstream.clone(),
    };
    StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// Shared state of the router: the live snapshot.
#[derive(Clone)]
pub struct AppState {
    pub live: Arc<ArcSwap<Snapshot>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/mcp/{name}", any(mcp))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

async fn mcp(State(st): State<AppState>, Path(name): Path<String>, req: Request) -> Response {
    // Clone the service out of the snapshot: this request finishes on the mapping it began with.
    let svc = st.live.load().services.get(&name).cloned();
    let Some(svc) = svc else {
        return (
            StatusCode::NOT_FOUND,
            format!("no MCP server named `{name}` here\n"),
        )
            .into_response();
    };
    match svc.oneshot(req).await {
        Ok(resp) => resp.map(Body::new),
        Err(never) => match never {},
    }
}
