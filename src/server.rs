//! HTTP front: the axum router that dispatches `/mcp/{name}` to that API's rmcp
//! `StreamableHttpService`, reading the current [`Snapshot`] from an `ArcSwap` per request.

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

use crate::auth::{Access, Protection, Verifier};
use crate::catalog::{ApiCatalog, Gateway};
use crate::config::{Config, ConfigError, ServerConfig};
use crate::downstream::Downstream;
use crate::mcp::McpApi;
use crate::upstream::Upstream;

mod cors;
pub mod front;

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
        .with_allowed_origins(server.allowed_origins.clone())
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

/// Shared state of the router: the live snapshot.
#[derive(Clone)]
pub struct AppState {
    pub live: Arc<ArcSwap<Snapshot>>,
    /// Largest MCP request body accepted.
    pub max_request_bytes: usize,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/mcp/{name}", any(mcp))
        .route(
            "/.well-known/oauth-protected-resource/mcp/{name}",
            get(resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(only_resource_metadata),
        )
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
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

/// CORS for browser-based clients on an allowed `Origin` (`server.allowed_origins`): preflights
/// are answered before any token is asked for, and every answer (a 401 included, so the client
/// can read `WWW-Authenticate`) names the origin. Other origins get no CORS headers, and rmcp
/// refuses their requests.
async fn mcp(State(st): State<AppState>, Path(name): Path<String>, req: Request) -> Response {
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .filter(|o| {
            o.to_str()
                .is_ok_and(|o| cors::allowed(o, &st.live.load().allowed_origins))
        })
        .cloned();
    if req.method() == http::Method::OPTIONS {
        return cors::preflight(origin, req.headers());
    }
    let mut resp = serve_mcp(st, name, req).await;
    if let Some(o) = origin {
        cors::decorate(&mut resp, o);
    }
    resp
}

async fn serve_mcp(st: AppState, name: String, mut req: Request) -> Response {
    // Hold this snapshot for the whole request: it finishes on the mapping it began with.
    let snap = st.live.load_full();
    let (Some(svcs), Some(access)) = (snap.services.get(&name), snap.access.get(&name)) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no MCP server named `{name}` here\n"),
        )
            .into_response();
    };
    // Who is calling: checked before anything else, for every method and both paths.
    let caller = match &access.protection {
        None => None,
        Some(p) => match p.authorize(req.headers()).await {
            Ok(c) => Some(c),
            Err(refusal) => return refusal,
        },
    };
    // The spec asks clients to accept both JSON and SSE. Be lenient with those that name only
    // one (curl, simple scripts): answer in the one they accept.
    let (json, sse) = accepts(
        req.headers()
            .get_all(http::header::ACCEPT)
            .iter()
            .map(|v| v.as_bytes()),
    );
    if !(json && sse) {
        req.headers_mut().insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json, text/event-stream"),
        );
    }
    let svc = if json || !sse { &svcs.json } else { &svcs.sse };
    // Read the body here (bounded) so a message rmcp cannot decode gets a JSON-RPC error
    // (-32700 / -32600) instead of a bare 415.
    let limit = st.max_request_bytes;
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            // The rest of the body stays unread: tell the client this connection is done.
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                [(http::header::CONNECTION, "close")],
                format!("request body exceeds {limit} bytes\n"),
            )
                .into_response();
        }
    };
    let api = snap.gateway.apis.get(&name);
    if let (Some(p), Some(c), Some(api)) = (&access.protection, &caller, api)
        && let Some(refusal) = p.check_call(api, c, &bytes)
    {
        return refusal;
    }
    let json_answer = json || !sse;
    let headers = crate::fastpath::Headers::from_map(&parts.headers);
    if json_answer
        && parts.method == http::Method::POST
        && let Some(api) = api
        && let Some(revision) = crate::fastpath::eligible(&headers, &snap.allowed_hosts)
        && let Some(body) = crate::fastpath::try_serve(
            api,
            &snap.upstream,
            access,
            caller.as_deref(),
            revision,
            &headers,
            &bytes,
        )
        .await
    {
        return json_response(body);
    }
    let mut parts = parts;
    if let Some(c) = caller {
        parts.extensions.insert(c);
    }
    // rmcp's 415 also covers a wrong Content-Type: that one is left as rmcp says it.
    let json_body = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case("application/json"))
        });
    let req = Request::from_parts(parts, Body::from(bytes.clone()));
    let resp = match svc.clone().oneshot(req).await {
        Ok(resp) => resp.map(Body::new),
        Err(never) => match never {},
    };
    if json_body && resp.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return undecodable(&bytes).unwrap_or(resp);
    }
    resp
}

fn json_response(body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// What the fast path makes of a request the HTTP/1 front read itself.
pub(crate) enum FastAnswer {
    /// `200` with this JSON body.
    Json(Vec<u8>),
    /// The `401` / `403` the router would give (token or scope refused), written as it is.
    Refusal(Response),
    /// Not for the fast path: hand the connection, this request included, to the router.
    Decline,
}

/// The fast path for a request the HTTP/1 front read itself (`front`): the same decisions as
/// [`serve_mcp`], in an order that spends nothing on requests it will decline. The cheap header
/// checks come first; then the token and the tool's scopes, whose refusals are exactly the
/// router's (it checks them first too); then `fastpath`. Nothing has been sent upstream when
/// this declines.
pub(crate) async fn fast_answer(
    st: &AppState,
    name: &str,
    headers: &crate::fastpath::Headers<'_>,
    body: &[u8],
) -> FastAnswer {
    let snap = st.live.load_full();
    let (Some(access), Some(api)) = (snap.access.get(name), snap.gateway.apis.get(name)) else {
        return FastAnswer::Decline;
    };
    let (json, sse) = accepts(headers.accept.into_iter());
    if !json && sse {
        return FastAnswer::Decline;
    }
    let Some(revision) = crate::fastpath::eligible(headers, &snap.allowed_hosts) else {
        return FastAnswer::Decline;
    };
    let caller = match &access.protection {
        None => None,
        Some(p) => match p.authorize_value(headers.authorization).await {
            Ok(c) => {
                if let Some(refusal) = p.check_call(api, &c, body) {
                    return FastAnswer::Refusal(refusal);
                }
                Some(c)
            }
            Err(refusal) => return FastAnswer::Refusal(refusal),
        },
    };
    match crate::fastpath::try_serve(
        api,
        &snap.upstream,
        access,
        caller.as_deref(),
        revision,
        headers,
        body,
    )
    .await
    {
        Some(json) => FastAnswer::Json(json),
        None => FastAnswer::Decline,
    }
}

/// The JSON-RPC error for a body rmcp could not decode, when it was meant as JSON-RPC.
fn undecodable(bytes: &[u8]) -> Option<Response> {
    let (code, message, id) = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Err(e) => (-32700, format!("Parse error: {e}"), serde_json::Value::Null),
        Ok(v) => {
            let id = v.get("id").cloned().unwrap_or(serde_json::Value::Null);
            let what = if !v.is_object() {
                "a JSON-RPC message must be a JSON object".to_string()
            } else if v.get("jsonrpc") != Some(&serde_json::Value::from("2.0")) {
                "`jsonrpc` must be \"2.0\"".to_string()
            } else if v.get("method").is_none_or(|m| !m.is_string()) && v.get("result").is_none() {
                "a request needs a string `method`".to_string()
            } else {
                "the message does not match the MCP schema".to_string()
            };
            (-32600, format!("Invalid Request: {what}"), id)
        }
    };
    let body = serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    Some((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
}

/// Whether the `Accept` values admit JSON and SSE (`*/*` or no header admits both).
fn accepts<'a>(values: impl Iterator<Item = &'a [u8]>) -> (bool, bool) {
    let (mut json, mut sse, mut any) = (false, false, false);
    for v in values {
        // As `HeaderValue::to_str`: a value that is not visible ASCII is ignored.
        if !crate::fastpath::is_visible_ascii(v) {
            continue;
        }
        any = true;
        for part in v.split(|b| *b == b',') {
            let essence = part
                .split(|b| *b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            if essence == b"*/*" {
                return (true, true);
            }
            json |= essence.eq_ignore_ascii_case(b"application/json")
                || essence.eq_ignore_ascii_case(b"application/*");
            sse |= essence.eq_ignore_ascii_case(b"text/event-stream")
                || essence.eq_ignore_ascii_case(b"text/*");
        }
    }
    if !any { (true, true) } else { (json, sse) }
}
