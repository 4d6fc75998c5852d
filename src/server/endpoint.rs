//! One request to `/mcp/{name}`: who is calling (from the head, before any body byte is
//! read), the body (bounded), then the fast path for plain `tools/call` / `tools/list`, or
//! rmcp's `StreamableHttpService` for everything else.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use super::body::{self, BodyError};
use super::io::Clock;
use super::{AppState, cors};

/// Per-request facts the connection knows: its clock (for a lingering close) and when the body
/// must have arrived.
#[derive(Clone)]
pub struct ConnCtx {
    pub clock: std::sync::Arc<Clock>,
    pub body_deadline: tokio::time::Instant,
}

/// The axum route for `/mcp/{name}` (every method; the connection sends plain `POST`s to
/// [`post`] directly).
pub async fn route(State(st): State<AppState>, Path(name): Path<String>, req: Request) -> Response {
    let ctx = req.extensions().get::<ConnCtx>().cloned();
    entry(st, &name, req, ctx).await
}

/// The axum route for a toolset, `/mcp/{name}/{set}`.
pub async fn route_set(
    State(st): State<AppState>,
    Path((name, set)): Path<(String, String)>,
    req: Request,
) -> Response {
    let ctx = req.extensions().get::<ConnCtx>().cloned();
    entry(st, &format!("{name}/{set}"), req, ctx).await
}

/// CORS for browser-based clients on an allowed `Origin` (`server.allowed_origins`): preflights
/// are answered before any token is asked for, and every answer (a 401 included, so the client
/// can read `WWW-Authenticate`) names the origin. Other origins get no CORS headers, and rmcp
/// refuses their requests.
pub async fn entry(st: AppState, name: &str, req: Request, ctx: Option<ConnCtx>) -> Response {
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .filter(|o| {
            o.to_str().is_ok_and(|o| {
                cors::allowed(
                    o,
                    &st.live.registry.load().shared.cfg.server.allowed_origins,
                )
            })
        })
        .cloned();
    if req.method() == http::Method::OPTIONS {
        return cors::preflight(origin, req.headers());
    }
    let mut resp = serve(st, name, req, ctx).await;
    if let Some(o) = origin {
        cors::decorate(&mut resp, o);
    }
    resp
}

/// The MCP method a request carried, for the `mcp_requests` metric (set on the answer).
#[derive(Clone, Copy)]
struct Method(&'static str);

/// One request, in a span carrying its id (on every log line), counted by API, method and
/// outcome; the id is echoed in the answer's `x-request-id`.
async fn serve(st: AppState, name: &str, req: Request, ctx: Option<ConnCtx>) -> Response {
    use tracing::Instrument as _;
    let mut trace = crate::telemetry::Trace::from_headers(req.headers());
    // With traces on, the request's span sits under a server span continuing the caller's.
    let server = crate::telemetry::otel::server_span(req.method(), name, req.headers());
    let span = tracing::info_span!(parent: &server, "request", request_id = trace.id());
    trace.span = span.clone();
    let trace = std::sync::Arc::new(trace);
    let id = trace.id.clone();
    let (mut resp, known) = serve_traced(st, name, req, ctx, trace)
        .instrument(span)
        .await;
    let method = resp.extensions().get::<Method>().map_or("unknown", |m| m.0);
    let status = resp.status().as_u16();
    let outcome = match status {
        200..=299 => "ok",
        401 => "unauthorized",
        403 => "forbidden",
        400..=499 => "rejected",
        _ => "error",
    };
    crate::metrics::get()
        .requests
        .get_or_create(&crate::metrics::Request {
            // Names nobody configured are not labels (a client could make any number).
            api: if known {
                name.to_string()
            } else {
                "_unknown".into()
            },
            method,
            outcome,
        })
        .inc();
    resp.headers_mut().insert(crate::telemetry::REQUEST_ID, id);
    resp
}

async fn serve_traced(
    st: AppState,
    name: &str,
    req: Request,
    ctx: Option<ConnCtx>,
    trace: std::sync::Arc<crate::telemetry::Trace>,
) -> (Response, bool) {
    // Hold this API's entry for the whole request: it finishes on the mapping it began with.
    let reg = st.live.registry.load_full();
    // Only an answer to a request with a body can leave bytes unread behind it.
    let ctx = ctx.filter(|_| {
        req.headers().contains_key(http::header::TRANSFER_ENCODING)
            || req
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0")
    });
    // `/mcp/{name}` or a toolset, `/mcp/{name}/{set}`.
    let (api_name, set) = match name.split_once('/') {
        Some((a, s)) => (a, Some(s)),
        None => (name, None),
    };
    let entry = reg.apis.get(api_name).cloned();
    let found = entry
        .as_ref()
        .is_some_and(|e| set.is_none_or(|s| e.sets.contains_key(s)));
    let (Some(entry), true) = (entry, found) else {
        let resp = (
            StatusCode::NOT_FOUND,
            format!("no MCP server named `{name}` here\n"),
        );
        return (early(&ctx, resp.into_response()), false);
    };
    let access = match set {
        Some(s) => &entry.sets[s].access,
        None => &entry.access,
    };
    // Who is calling: checked from the head, before any body byte is read.
    let caller = match &access.protection {
        None => None,
        Some(p) => match p.authorize(req.headers()).await {
            Ok(c) => Some(c),
            Err(refusal) => return (early(&ctx, refusal), true),
        },
    };
    // The rest holds far more state than the checks above: boxed, so that a connection whose
    // request was refused (or is still waiting for its token check) stays small.
    let set = set.map(str::to_string);
    let resp = Box::pin(serve_caller(st, req, reg, entry, set, ctx, caller, trace)).await;
    (resp, true)
}

#[allow(clippy::too_many_arguments)]
async fn serve_caller(
    st: AppState,
    req: Request,
    reg: std::sync::Arc<crate::live::registry::Registry>,
    entry: std::sync::Arc<crate::live::registry::ApiEntry>,
    set: Option<String>,
    ctx: Option<ConnCtx>,
    caller: Option<std::sync::Arc<crate::auth::Caller>>,
    trace: std::sync::Arc<crate::telemetry::Trace>,
) -> Response {
    let (svcs, access, api) = match set.as_deref().and_then(|s| entry.sets.get(s)) {
        Some(s) => (&s.services, &s.access, &entry.catalog),
        None => (&entry.services, &entry.access, &entry.catalog),
    };
    // The spec asks clients to accept both JSON and SSE. Be lenient with those that name only
    // one (curl, simple scripts): answer in the one they accept.
    let (json, sse) = accepts(
        req.headers()
            .get_all(http::header::ACCEPT)
            .iter()
            .map(|v| v.as_bytes()),
    );
    // rmcp wants both named; the answer's form was chosen above from what the client accepts
    // (no `Accept` at all, or `*/*`, accepts both), so every method answers alike.
    let (mut parts, body) = req.into_parts();
    parts.headers.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json, text/event-stream"),
    );
    let svc = if json || !sse { &svcs.json } else { &svcs.sse };
    // Read the body here (bounded) so a message rmcp cannot decode gets a JSON-RPC error
    // (-32700 / -32600) instead of a bare 415. Bodies no token vouched for count against the
    // process-wide budget.
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let deadline = ctx.as_ref().map_or_else(
        || tokio::time::Instant::now() + st.limits.body_read_timeout,
        |c| c.body_deadline,
    );
    let budget = caller.is_none().then_some(&st.limits.budget);
    let (bytes, _held) = match body::read(
        body,
        declared,
        st.limits.max_request_bytes,
        deadline,
        budget,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => return early(&ctx, body_refusal(&e)),
    };
    if let (Some(p), Some(c)) = (&access.protection, &caller)
        && let Some(mut refusal) = p.check_call(api, c, &bytes)
    {
        refusal
            .extensions_mut()
            .insert(Method(sniff_method(&bytes)));
        return refusal;
    }
    let json_answer = json || !sse;
    let headers = crate::fastpath::Headers::from_map(&parts.headers);
    // Toolsets are rmcp's to serve: the fast path knows whole APIs only.
    if json_answer
        && set.is_none()
        && parts.method == http::Method::POST
        && let Some(revision) = crate::fastpath::eligible(&headers, &reg.shared.hosts)
        && let Some((body, method)) = crate::fastpath::try_serve(
            api,
            &reg.shared.upstream,
            access,
            caller.as_deref(),
            revision,
            &headers,
            &bytes,
            &crate::metrics::get().served_fast,
            &trace,
        )
        .await
    {
        let mut resp = json_response(body);
        resp.extensions_mut().insert(Method(method));
        return resp;
    }
    crate::metrics::get().served_rmcp.inc();
    let method = sniff_method(&bytes);
    if let Some(c) = caller {
        parts.extensions.insert(c);
    }
    parts.extensions.insert(trace);
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
    let mut resp = if json_body && resp.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        undecodable(&bytes).unwrap_or(resp)
    } else {
        resp
    };
    resp.extensions_mut().insert(Method(method));
    resp
}

/// The `method` of a JSON-RPC request, as a metric label (`other` for anything unexpected).
fn sniff_method(bytes: &[u8]) -> &'static str {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    if bytes.is_empty() {
        return "none";
    }
    match serde_json::from_slice::<Head<'_>>(bytes) {
        Ok(Head { method: Some(m) }) => crate::metrics::method(&m),
        Ok(Head { method: None }) => "response",
        Err(_) => "invalid",
    }
}

/// An answer given with the request's body (possibly) unread: the connection closes after it,
/// lingering so that a client still sending its body reads it. (`ctx` is `None` for a request
/// without a body.)
pub fn early(ctx: &Option<ConnCtx>, mut resp: Response) -> Response {
    if let Some(c) = ctx {
        c.clock.linger_on_close();
        resp.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    resp
}

fn body_refusal(e: &BodyError) -> Response {
    let status = match e {
        BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::Deadline => StatusCode::REQUEST_TIMEOUT,
        BodyError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        BodyError::Read(_) => StatusCode::BAD_REQUEST,
    };
    let mut resp = (status, format!("{e}\n")).into_response();
    if matches!(e, BodyError::Busy) {
        resp.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
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
