//! HTTP serving: the listener and its connections (`listen`, `conn`, hyper's HTTP/1 server with
//! deadlines), the `/mcp/{name}` endpoint (`endpoint`), and the axum router for everything else,
//! each request reading the current [`Snapshot`] from an `ArcSwap`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::auth::{Access, Protection, Verifier};
use crate::catalog::{ApiCatalog, Gateway};
use crate::config::{Config, ConfigError, ServerConfig};
use crate::downstream::Downstream;
use crate::mcp::McpApi;
use crate::upstream::Upstream;

mod body;
mod conn;
mod cors;
pub mod endpoint;
mod io;
pub mod listen;

type McpService = StreamableHttpService<McpApi, NeverSessionManager>;

/// What one request sees: the catalogs and the MCP service built for each.
pub struct Snapshot {
    pub gateway: Gateway,
    services: foldhash::HashMap<String, Services>,
    /// Per API: its protection and downstream identity.
    access: foldhash::HashMap<String, Arc<Access>>,
    upstream: Upstream,
    allowed_hosts: Vec<String>,
    allowed_origins: Vec<String>,
}

/// JSON answers for clients that accept them; SSE for the ones that accept only SSE.
#[derive(Clone)]
struct Services {
    json: McpService,
    sse: McpService,
}

impl Snapshot {
    /// Wrap a built gateway with one stateless MCP service per API, each with its protection
    /// (resource URLs under `public_url`) and downstream identity.
    pub fn new(
        gateway: Gateway,
        cfg: &Config,
        public_url: &str,
        verifier: &Arc<Verifier>,
        upstream: &Upstream,
        cancel: &CancellationToken,
    ) -> Result<Self, ConfigError> {
        let server = &cfg.server;
        let mut services = foldhash::HashMap::default();
        let mut access = foldhash::HashMap::default();
        for api_cfg in &cfg.apis {
            let Some(api) = gateway.apis.get(&api_cfg.name) else {
                continue;
            };
            let protection = Protection::build(api_cfg, api, &cfg.auth, public_url, verifier)?;
            let downstream = Downstream::build(api_cfg, &cfg.auth, protection.is_some(), verifier)?;
            let a = Arc::new(Access {
                protection,
                downstream,
            });
            let svc = Services {
                json: mcp_service(api, &a, upstream, server, cancel, true),
                sse: mcp_service(api, &a, upstream, server, cancel, false),
            };
            services.insert(api_cfg.name.clone(), svc);
            access.insert(api_cfg.name.clone(), a);
        }
        Ok(Snapshot {
            gateway,
            services,
            access,
            upstream: upstream.clone(),
            allowed_hosts: server.allowed_hosts.clone(),
            allowed_origins: server.allowed_origins.clone(),
        })
    }

    /// The protection of an API, when it is protected.
    pub fn protection(&self, name: &str) -> Option<&Protection> {
        self.access.get(name).and_then(|a| a.protection.as_ref())
    }
}

fn mcp_service(
    api: &Arc<ApiCatalog>,
    access: &Arc<Access>,
    upstream: &Upstream,
    server: &ServerConfig,
    cancel: &CancellationToken,
    json: bool,
) -> McpService {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(json)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(server.allowed_hosts.clone())
        .with_allowed_origins(cors::for_rmcp(&server.allowed_origins))
        .enforce_origin_validation()
        .with_max_request_body_bytes(server.max_request_bytes)
        .with_cancellation_token(cancel.child_token());
    let handler = McpApi {
        api: api.clone(),
        upstream: upstream.clone(),
        access: access.clone(),
    };
    StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// Shared state of every request: the live snapshot, the request limits, counters.
#[derive(Clone)]
pub struct AppState {
    pub live: Arc<ArcSwap<Snapshot>>,
    pub limits: Arc<Limits>,
    pub counters: Arc<Counters>,
    pub verifier: Arc<Verifier>,
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

/// Which path served MCP requests, and what the listener did: read by `/metrics`.
#[derive(Default)]
pub struct Counters {
    /// MCP requests answered by the fast path.
    pub fast: AtomicU64,
    /// MCP requests answered by rmcp.
    pub rmcp: AtomicU64,
    /// Client connections open now.
    pub open: AtomicU64,
    /// Client connections closed at once because `server.max_connections` were open.
    pub shed: AtomicU64,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/mcp/{name}", any(endpoint::route))
        .route(
            "/.well-known/oauth-protected-resource/mcp/{name}",
            get(resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(only_resource_metadata),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Prometheus text format: the serving counters (loopback clients only).
async fn metrics(
    State(st): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
) -> Response {
    if !peer.ip().is_loopback() {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to loopback clients only\n",
        )
            .into_response();
    }
    let c = &st.counters;
    let text = format!(
        "# HELP rest2mcp_mcp_requests_total MCP requests answered, by serving path.\n\
         # TYPE rest2mcp_mcp_requests_total counter\n\
         rest2mcp_mcp_requests_total{{path=\"fast\"}} {}\n\
         rest2mcp_mcp_requests_total{{path=\"rmcp\"}} {}\n\
         # HELP rest2mcp_connections_open Client connections open.\n\
         # TYPE rest2mcp_connections_open gauge\n\
         rest2mcp_connections_open {}\n\
         # HELP rest2mcp_connections_shed_total Client connections closed at once over the cap.\n\
         # TYPE rest2mcp_connections_shed_total counter\n\
         rest2mcp_connections_shed_total {}\n\
         # HELP rest2mcp_token_checks_total Bearer tokens checked, in full or from the cache.\n\
         # TYPE rest2mcp_token_checks_total counter\n\
         rest2mcp_token_checks_total{{result=\"verified\"}} {}\n\
         rest2mcp_token_checks_total{{result=\"cached\"}} {}\n",
        c.fast.load(Ordering::Relaxed),
        c.rmcp.load(Ordering::Relaxed),
        c.open.load(Ordering::Relaxed),
        c.shed.load(Ordering::Relaxed),
        st.verifier.stats.verified.load(Ordering::Relaxed),
        st.verifier.stats.cached.load(Ordering::Relaxed),
    );
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
        .into_response()
}

/// RFC 9728 Protected Resource Metadata of one endpoint.
async fn resource_metadata(State(st): State<AppState>, Path(name): Path<String>) -> Response {
    let snap = st.live.load();
    match snap.protection(&name) {
        Some(p) => metadata_response(p),
        None => (
            StatusCode::NOT_FOUND,
            format!("no protected MCP server named `{name}` here\n"),
        )
            .into_response(),
    }
}

/// The metadata at the bare well-known path, for clients that look there: served when exactly
/// one endpoint is protected (otherwise it would be ambiguous).
async fn only_resource_metadata(State(st): State<AppState>) -> Response {
    let snap = st.live.load();
    let mut all = snap.access.values().filter_map(|a| a.protection.as_ref());
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
