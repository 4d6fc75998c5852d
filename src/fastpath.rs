//! Fast path: well-formed stateless `tools/call` and `tools/list` requests answered without
//! rmcp's per-request service machinery.
//!
//! rmcp's stateless mode builds a whole service per request (task spawn, channels, an untagged
//! enum decode of the message); measured in `bench/`, that alone kept `tools/call` near a third
//! of the throughput target. This module accepts only requests it can answer exactly as rmcp
//! would (an integration test sends each request both ways and compares the JSON answers);
//! anything else, including every error case, falls through to rmcp with the same bytes. So
//! rmcp stays the protocol authority and this is an optimisation, not a second implementation.

use std::borrow::Cow;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use rmcp::model::RequestId;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::{Access, Caller};
use crate::catalog::ApiCatalog;
use crate::upstream::Upstream;

const MODERN: &str = "2026-07-28";
const LEGACY: [&str; 3] = ["2025-03-26", "2025-06-18", "2025-11-25"];
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPS: &str = "io.modelcontextprotocol/clientCapabilities";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message<'a> {
    #[serde(borrow)]
    jsonrpc: Cow<'a, str>,
    id: RequestId,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(default)]
    params: Option<Params>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Params {
    name: Option<String>,
    arguments: Option<Map<String, Value>>,
    cursor: Option<String>,
    #[serde(rename = "_meta")]
    meta: Option<Map<String, Value>>,
}

/// Which revision a request speaks, when the fast path can serve it.
#[derive(Clone, Copy, PartialEq)]
enum Revision {
    Legacy,
    Modern,
}

/// Answer the request if it is a plain `tools/call` / `tools/list`; `None` means "ask rmcp".
pub async fn try_serve(
    api: &ApiCatalog,
    upstream: &Upstream,
    access: &Access,
    caller: Option<&Caller>,
    allowed_hosts: &[String],
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    if headers.contains_key(header::ORIGIN)
        || headers.contains_key("mcp-session-id")
        || !is_json(headers.get(header::CONTENT_TYPE))
        || !host_allowed(headers.get(header::HOST), allowed_hosts)
    {
        return None;
    }
    let version = headers.get("mcp-protocol-version")?.to_str().ok()?;
    let revision = if version == MODERN {
        Revision::Modern
    } else if LEGACY.contains(&version) {
        Revision::Legacy
    } else {
        return None;
    };
    let msg: Message = serde_json::from_slice(body).ok()?;
    if msg.jsonrpc != "2.0" {
        return None;
    }
    let params = msg.params.unwrap_or_default();
    let header_str = |name: &str| headers.get(name).map(|v| v.to_str().ok());
    // Standard headers, when sent, must agree with the body (rmcp rejects a mismatch).
    match header_str("mcp-method") {
        Some(Some(m)) if m == msg.method => {}
        None if revision == Revision::Legacy => {}
        _ => return None,
    }
    let meta_version = params.meta.as_ref().and_then(|m| m.get(META_VERSION));
    match revision {
        Revision::Legacy if meta_version.is_some() => return None,
        Revision::Modern
            if meta_version != Some(&Value::from(MODERN))
                || !params
                    .meta
                    .as_ref()
                    .is_some_and(|m| m.get(META_CAPS).is_some_and(Value::is_object)) =>
        {
            return None;
        }
        _ => {}
    }
    // The JSON-RPC envelope is written around the result in one buffer.
    let id = serde_json::to_vec(&msg.id).ok()?;
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(&id);
    out.extend_from_slice(b",\"result\":");
    match &*msg.method {
        "tools/call" => {
            let name = params.name.as_deref()?;
            match header_str("mcp-name") {
                Some(Some(n)) if n == name => {}
                None if revision == Revision::Legacy => {}
                _ => return None,
            }
            if params.cursor.is_some() {
                return None;
            }
            let entry = api.tool(name)?;
            let args = Value::Object(params.arguments.unwrap_or_default());
            let mut result = crate::mcp::call(api, upstream, access, caller, entry, args).await;
            if revision == Revision::Legacy {
                result.result_type = None;
            }
            serde_json::to_writer(&mut out, &result).ok()?;
        }
        "tools/list" => {
            if params.name.is_some()
                || params.arguments.is_some()
                || headers.contains_key("mcp-name")
            {
                return None;
            }
            let view = access.visible(api, caller);
            let view = view.as_deref().map(Vec::as_slice);
            let page = match &params.cursor {
                None => 0,
                Some(c) => c
                    .parse::<usize>()
                    .ok()
                    .filter(|p| *p < api.page_count(view))?,
            };
            api.write_page(&mut out, page, revision == Revision::Modern, view);
        }
        _ => return None,
    }
    out.push(b'}');
    let mut resp = Response::new(Body::from(out));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Some(resp)
}

fn is_json(ct: Option<&HeaderValue>) -> bool {
    ct.and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim())
        .is_some_and(|e| e.eq_ignore_ascii_case("application/json"))
}

/// A `Host` that is literally on the allow-list (with or without its port). Anything subtler
/// (an empty list, odd spellings) is left to rmcp's full check.
fn host_allowed(host: Option<&HeaderValue>, allowed: &[String]) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host.as_str(),
        }
    };
    allowed.iter().any(|a| {
        let a = a.trim_start_matches('[').trim_end_matches(']');
        a.eq_ignore_ascii_case(bare) || a.eq_ignore_ascii_case(&host)
    })
}
