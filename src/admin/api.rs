//! The admin API's handlers: exactly the contract of `docs/admin-api.md`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::access::Credential;
use super::{Admin, error};
use crate::live::mapping::Mapping;
use crate::live::ops::{LiveError, Put};
use crate::live::registry::Source;
use crate::live::store::SpecDoc;

pub fn routes() -> Router<Arc<Admin>> {
    Router::new()
        .route("/auth-config", get(auth_config))
        .route("/session", get(session))
        .route("/status", get(status))
        .route("/apis", get(list))
        .route("/apis/{name}", axum::routing::delete(delete))
        .route("/apis/{name}/spec", put(put_spec))
        .route("/apis/{name}/mapping", get(get_mapping).put(put_mapping))
        .route("/apis/{name}/operations", get(operations))
        .route("/apis/{name}/versions", get(versions))
        .route("/apis/{name}/rollback", post(rollback))
        .route("/fetch", post(fetch))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchBody {
    url: String,
}

/// `POST /admin/api/fetch {"url": ...}`: the document at that URL, fetched by the gateway
/// through the upstream host policy (only when `admin.fetch_urls` allows it).
async fn fetch(State(admin): State<Arc<Admin>>, req: Request) -> Response {
    if !admin.cfg.fetch_urls {
        return error(
            StatusCode::FORBIDDEN,
            "fetching specs from URLs is off (admin.fetch_urls)",
        );
    }
    let (_, bytes) = match body(&admin, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let b: FetchBody = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad body: {e}")),
    };
    let url = match crate::config::check_base_url(&b.url)
        .or_else(|_| url::Url::parse(&b.url).map_err(|e| e.to_string()))
    {
        Ok(u) => u,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let upstream = admin.live.registry.load().shared.upstream.clone();
    match upstream
        .fetch_document(&url, admin.cfg.max_spec_bytes)
        .await
    {
        Ok(a) if a.status.is_success() => (
            [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            a.body,
        )
            .into_response(),
        Ok(a) => error(
            StatusCode::BAD_GATEWAY,
            &format!("{} answered HTTP {}", url, a.status),
        ),
        Err(e) => error(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

/// `?dry_run=true&force=true`; anything else is refused.
struct WriteQuery {
    dry_run: bool,
    force: bool,
}

impl WriteQuery {
    fn parse(q: Option<&str>) -> Result<Self, Box<Response>> {
        let mut w = WriteQuery {
            dry_run: false,
            force: false,
        };
        for (k, v) in url::form_urlencoded::parse(q.unwrap_or("").as_bytes()) {
            let on = match v.as_ref() {
                "true" | "1" | "" => true,
                "false" | "0" => false,
                _ => {
                    return Err(Box::new(error(
                        StatusCode::BAD_REQUEST,
                        &format!("`{k}` must be true or false"),
                    )));
                }
            };
            match k.as_ref() {
                "dry_run" => w.dry_run = on,
                "force" => w.force = on,
                _ => {
                    return Err(Box::new(error(
                        StatusCode::BAD_REQUEST,
                        &format!("unknown query parameter `{k}`"),
                    )));
                }
            }
        }
        Ok(w)
    }
}

/// A spec and its mapping in one version.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    spec: Value,
    #[serde(default)]
    mapping: Option<Mapping>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    version: u64,
}

#[derive(Serialize)]
struct ApiSummary {
    name: String,
    title: String,
    tools: usize,
    mcp_url: String,
    version: Option<u64>,
    source: Source,
    last_reload: String,
    protected: bool,
    mode: crate::config::Mode,
}

async fn auth_config(State(admin): State<Arc<Admin>>) -> Response {
    let oauth = match &admin.cfg.issuer {
        Some(issuer) => {
            let meta = admin.verifier().endpoints_of(issuer).await;
            json!({
                "issuer": issuer,
                "authorization_endpoint": meta.as_ref().and_then(|m| m.0.clone()),
                "token_endpoint": meta.as_ref().and_then(|m| m.1.clone()),
                "client_id": admin.cfg.client_id,
                "scope": admin.cfg.scope,
                "resource": format!("{}/admin", admin.public_url().trim_end_matches('/')),
            })
        }
        None => Value::Null,
    };
    axum::Json(json!({
        "token": admin.token.is_some(),
        "oauth": oauth,
        "fetch_url": admin.cfg.fetch_urls,
        "naming": {"pattern": "^[A-Za-z0-9_-]{1,64}$", "max_len": crate::mapping::naming::MAX_LEN},
    }))
    .into_response()
}

async fn session(axum::Extension(c): axum::Extension<Credential>) -> Response {
    axum::Json(json!({"ok": true, "via": c.via, "subject": c.subject})).into_response()
}

async fn status(State(admin): State<Arc<Admin>>) -> Response {
    let reg = admin.live.registry.load();
    let apis: Vec<Value> = reg
        .order()
        .iter()
        .map(|n| json!({"name": n, "last_reload": admin.live.status.last(n)}))
        .collect();
    axum::Json(json!({"reloads": admin.live.status.reloads(), "apis": apis})).into_response()
}

async fn list(State(admin): State<Arc<Admin>>) -> Response {
    let reg = admin.live.registry.load();
    let all: Vec<ApiSummary> = reg
        .order()
        .into_iter()
        .map(|n| {
            let e = &reg.apis[&n];
            ApiSummary {
                title: e.catalog.title.clone(),
                tools: e.catalog.tools.len(),
                mcp_url: reg.mcp_url(&n),
                version: e.version,
                source: e.source,
                last_reload: admin.live.status.last(&n),
                protected: e.access.protection.is_some(),
                mode: e.config.mode,
                name: n,
            }
        })
        .collect();
    axum::Json(all).into_response()
}

fn live_error(e: LiveError) -> Response {
    let (status, extra) = match &e {
        LiveError::ReadOnly(_) => (StatusCode::CONFLICT, None),
        LiveError::NotFound(_) => (StatusCode::NOT_FOUND, None),
        LiveError::BadName(_) => (StatusCode::BAD_REQUEST, None),
        LiveError::Invalid { diagnostics, .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(json!({ "diagnostics": diagnostics })),
        ),
        LiveError::Breaking(outcome) => (StatusCode::CONFLICT, serde_json::to_value(outcome).ok()),
        LiveError::Store(crate::live::store::StoreError::NotFound(_)) => {
            (StatusCode::NOT_FOUND, None)
        }
        LiveError::Store(crate::live::store::StoreError::NoVersion { .. }) => {
            (StatusCode::NOT_FOUND, None)
        }
        LiveError::Store(
            crate::live::store::StoreError::Unavailable(_)
            | crate::live::store::StoreError::Uncertain(_),
        ) => (StatusCode::SERVICE_UNAVAILABLE, None),
        LiveError::Store(_) | LiveError::NoStore => (StatusCode::INTERNAL_SERVER_ERROR, None),
    };
    let mut body = extra.unwrap_or_else(|| json!({}));
    body["message"] = json!(e.to_string());
    (status, axum::Json(body)).into_response()
}

/// The request body, bounded by `admin.max_spec_bytes` and the connection's body deadline.
async fn body(
    admin: &Admin,
    req: Request,
) -> Result<(http::request::Parts, bytes::Bytes), Response> {
    let (parts, body) = req.into_parts();
    let ctx = parts
        .extensions
        .get::<crate::server::endpoint::ConnCtx>()
        .cloned();
    // A refusal leaves the rest of the body unread: the connection closes after it.
    let refuse = |r: Response| crate::server::endpoint::early(&ctx, r);
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let deadline = parts
        .extensions
        .get::<crate::server::endpoint::ConnCtx>()
        .map_or_else(
            || tokio::time::Instant::now() + std::time::Duration::from_secs(60),
            |c| c.body_deadline,
        );
    match crate::server::body::read(body, declared, admin.cfg.max_spec_bytes, deadline, None).await
    {
        Ok((b, _)) => Ok((parts, b)),
        Err(crate::server::body::BodyError::TooLarge(n)) => Err(refuse(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body exceeds admin.max_spec_bytes ({n} bytes)"),
        ))),
        Err(crate::server::body::BodyError::Deadline) => Err(refuse(error(
            StatusCode::REQUEST_TIMEOUT,
            "the body did not arrive in time",
        ))),
        Err(e) => Err(refuse(error(StatusCode::BAD_REQUEST, &e.to_string()))),
    }
}

fn is_json_type(parts: &http::request::Parts) -> bool {
    parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim().ends_with("json"))
}

/// A spec's bytes as uploaded, with its format.
fn spec_doc(bytes: bytes::Bytes) -> SpecDoc {
    let json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    SpecDoc {
        bytes,
        format: if json { "json" } else { "yaml" },
    }
}

async fn put_spec(
    State(admin): State<Arc<Admin>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Response {
    let q = match WriteQuery::parse(q.as_deref()) {
        Ok(q) => q,
        Err(r) => return *r,
    };
    let (parts, bytes) = match body(&admin, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    // `{"spec": ..., "mapping": ...}`: a spec and its mapping in one version.
    let mut put = Put {
        spec: None,
        mapping: None,
        dry_run: q.dry_run,
        force: q.force,
    };
    let envelope = is_json_type(&parts)
        .then(|| serde_json::from_slice::<Value>(&bytes).ok())
        .flatten()
        .filter(|v| {
            v.get("spec").is_some() && v.get("openapi").is_none() && v.get("swagger").is_none()
        });
    match envelope {
        Some(v) => match serde_json::from_value::<Envelope>(v) {
            Ok(e) => {
                put.spec = Some(match e.spec {
                    Value::String(s) => spec_doc(s.into_bytes().into()),
                    other => spec_doc(serde_json::to_vec(&other).unwrap_or_default().into()),
                });
                put.mapping = e.mapping;
            }
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad body: {e}")),
        },
        None => {
            if bytes.is_empty() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "the body must be the spec (JSON or YAML)",
                );
            }
            put.spec = Some(spec_doc(bytes));
        }
    }
    written(admin.live.put(&name, put).await)
}

fn written(r: Result<crate::live::ops::Outcome, LiveError>) -> Response {
    match r {
        Ok(o) => {
            let status = if o.applied && o.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (status, axum::Json(o)).into_response()
        }
        Err(e) => live_error(e),
    }
}

async fn put_mapping(
    State(admin): State<Arc<Admin>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Response {
    let q = match WriteQuery::parse(q.as_deref()) {
        Ok(q) => q,
        Err(r) => return *r,
    };
    let (_, bytes) = match body(&admin, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(e) = crate::ingest::check_yaml(&bytes) {
        return error(StatusCode::BAD_REQUEST, &format!("bad mapping: {e}"));
    }
    let mapping: Mapping = match yaml_serde::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad mapping: {e}")),
    };
    if !admin.live.registry.load().apis.contains_key(&name) && !stored(&admin, &name).await {
        return live_error(LiveError::NotFound(name));
    }
    let put = Put {
        spec: None,
        mapping: Some(mapping),
        dry_run: q.dry_run,
        force: q.force,
    };
    written(admin.live.put(&name, put).await)
}

async fn stored(admin: &Admin, name: &str) -> bool {
    match &admin.live.store {
        Some(s) => matches!(s.current(name).await, Ok(Some(_))),
        None => false,
    }
}

async fn get_mapping(State(admin): State<Arc<Admin>>, Path(name): Path<String>) -> Response {
    if let Some(e) = admin.live.registry.load().apis.get(&name) {
        return axum::Json(Mapping::of(&e.config)).into_response();
    }
    match &admin.live.store {
        Some(s) => match s.current(&name).await {
            Ok(Some(c)) => axum::Json(c.mapping).into_response(),
            Ok(None) => live_error(LiveError::NotFound(name)),
            Err(e) => live_error(e.into()),
        },
        None => live_error(LiveError::NotFound(name)),
    }
}

async fn operations(State(admin): State<Arc<Admin>>, Path(name): Path<String>) -> Response {
    let reg = admin.live.registry.load_full();
    let entry = reg.apis.get(&name).cloned();
    // The spec: the store's current version, or the config's file.
    let (bytes, config) = match (&entry, &admin.live.store) {
        (Some(e), _) if e.source == Source::Config => match std::fs::read(&e.config.spec) {
            Ok(b) => (bytes::Bytes::from(b), e.config.clone()),
            Err(err) => return error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
        },
        (_, Some(s)) => match s.current(&name).await {
            Ok(Some(c)) => (
                c.spec.bytes,
                c.mapping
                    .to_api(&name, crate::live::registry::store_label(&name)),
            ),
            Ok(None) => return live_error(LiveError::NotFound(name)),
            Err(e) => return live_error(e.into()),
        },
        _ => return live_error(LiveError::NotFound(name)),
    };
    let server = reg.shared.cfg.server.clone();
    let names = entry.map(|e| e.catalog.tool_names_by_operation());
    let views = tokio::task::spawn_blocking(move || {
        crate::ingest::parse(&bytes)
            .map(|spec| crate::live::operations::views(&spec, &config, &server, names.as_ref()))
    })
    .await;
    match views {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn versions(State(admin): State<Arc<Admin>>, Path(name): Path<String>) -> Response {
    let Some(store) = &admin.live.store else {
        return live_error(LiveError::NoStore);
    };
    let current = admin
        .live
        .registry
        .load()
        .apis
        .get(&name)
        .and_then(|e| e.version);
    match store.versions(&name).await {
        Ok(all) => {
            let out: Vec<Value> = all
                .into_iter()
                .map(|v| {
                    let mut j = serde_json::to_value(&v).unwrap_or_default();
                    j["current"] = json!(Some(v.version) == current);
                    j
                })
                .collect();
            axum::Json(out).into_response()
        }
        Err(e) => live_error(e.into()),
    }
}

async fn rollback(
    State(admin): State<Arc<Admin>>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let (_, bytes) = match body(&admin, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let b: RollbackBody = match serde_json::from_slice(&bytes) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad body: {e}")),
    };
    written(admin.live.rollback(&name, b.version).await)
}

async fn delete(State(admin): State<Arc<Admin>>, Path(name): Path<String>) -> Response {
    match admin.live.delete(&name).await {
        Ok(()) => axum::Json(json!({"name": name, "deleted": true})).into_response(),
        Err(e) => live_error(e),
    }
}
