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

use axum::http::{HeaderMap, HeaderValue, header};
use rmcp::model::RequestId;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::{Access, Caller};
use crate::catalog::ApiCatalog;
use crate::server::hosts::AllowedHosts;
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
    #[serde(default, borrow)]
    params: Option<Params<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Params<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    arguments: Option<Map<String, Value>>,
    cursor: Option<String>,
    #[serde(rename = "_meta")]
    meta: Option<Map<String, Value>>,
}

/// Which revision a request speaks, when the fast path can serve it.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Revision {
    Legacy,
    Modern,
}

/// The request headers the fast path reads: the first value of each.
#[derive(Default)]
pub struct Headers<'a> {
    pub host: Option<&'a [u8]>,
    pub origin: bool,
    pub session: bool,
    pub content_type: Option<&'a [u8]>,
    pub version: Option<&'a [u8]>,
    pub method: Option<&'a [u8]>,
    pub name: Option<&'a [u8]>,
    pub accept: Option<&'a [u8]>,
    pub authorization: Option<&'a [u8]>,
    /// Some `Mcp-Param-*` header is present (SEP-2243 mirrored arguments).
    pub params: bool,
}

impl<'a> Headers<'a> {
    pub fn from_map(h: &'a HeaderMap) -> Self {
        let get = |n: &str| h.get(n).map(HeaderValue::as_bytes);
        Headers {
            host: get("host"),
            origin: h.contains_key(header::ORIGIN),
            session: h.contains_key("mcp-session-id"),
            content_type: get("content-type"),
            version: get("mcp-protocol-version"),
            method: get("mcp-method"),
            name: get("mcp-name"),
            accept: get("accept"),
            authorization: get("authorization"),
            params: h.keys().any(|k| k.as_str().starts_with("mcp-param-")),
        }
    }
}

/// What `HeaderValue::to_str` accepts: visible ASCII, spaces and tabs.
pub fn is_visible_ascii(v: &[u8]) -> bool {
    v.iter().all(|b| *b == b'\t' || (b' '..=b'~').contains(b))
}

/// The revision a request speaks, when its headers let the fast path serve it at all (no
/// `Origin`, no session, JSON, an allowed `Host`, a known `MCP-Protocol-Version`).
/// Cheap: callers check it before anything costly, such as a token.
pub fn eligible(headers: &Headers<'_>, allowed_hosts: &AllowedHosts) -> Option<Revision> {
    if headers.origin
        || headers.session
        || !is_application_json(headers.content_type)
        || !allowed_hosts.allows(headers.host)
    {
        return None;
    }
    let version = headers.version?;
    if version == MODERN.as_bytes() {
        Some(Revision::Modern)
    } else if LEGACY.iter().any(|l| l.as_bytes() == version) {
        Some(Revision::Legacy)
    } else {
        None
    }
}

/// What a request the fast path can serve asks for, read from its body and headers alone.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// `tools/call` of `name` with these arguments.
    Call {
        id: RequestId,
        name: String,
        arguments: Map<String, Value>,
    },
    /// `tools/list`, this cursor (unchecked: the catalog decides whether it exists).
    List {
        id: RequestId,
        cursor: Option<String>,
    },
}

impl Plan {
    fn id(&self) -> &RequestId {
        match self {
            Plan::Call { id, .. } | Plan::List { id, .. } => id,
        }
    }
}

/// The plan for a plain, well-formed `tools/call` / `tools/list` request of `revision`, or
/// `None` ("ask rmcp"). Pure: no catalog, no I/O (the fuzz target drives it on its own).
pub fn parse(body: &[u8], headers: &Headers<'_>, revision: Revision) -> Option<Plan> {
    let msg: Message = serde_json::from_slice(body).ok()?;
    if msg.jsonrpc != "2.0" {
        return None;
    }
    let params = msg.params.unwrap_or_default();
    // Standard headers, when sent, must agree with the body (rmcp rejects a mismatch).
    match headers.method {
        Some(m) if m == msg.method.as_bytes() => {}
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
    match &*msg.method {
        "tools/call" => {
            let name = params.name?;
            match headers.name {
                Some(n) if n == name.as_bytes() => {}
                None if revision == Revision::Legacy => {}
                _ => return None,
            }
            if params.cursor.is_some() {
                return None;
            }
            Some(Plan::Call {
                id: msg.id,
                name: name.into_owned(),
                arguments: params.arguments.unwrap_or_default(),
            })
        }
        "tools/list" => {
            if params.name.is_some() || params.arguments.is_some() || headers.name.is_some() {
                return None;
            }
            Some(Plan::List {
                id: msg.id,
                cursor: params.cursor,
            })
        }
        _ => None,
    }
}

/// The JSON answer if the request is a plain `tools/call` / `tools/list`; `None` means "ask
/// rmcp". `None` is only ever returned before anything is sent upstream, so a caller may hand
/// the same request to rmcp (or re-parse it on another path) without repeating a call.
/// `revision` comes from [`eligible`] on the same headers. `served` counts the requests it
/// commits to (before any upstream call), so tests and `/metrics` see which path answered.
#[allow(clippy::too_many_arguments)]
pub async fn try_serve(
    api: &ApiCatalog,
    upstream: &Upstream,
    access: &Access,
    caller: Option<&Caller>,
    revision: Revision,
    headers: &Headers<'_>,
    body: &[u8],
    served: &prometheus_client::metrics::counter::Counter,
    trace: &crate::telemetry::Trace,
) -> Option<(Vec<u8>, &'static str)> {
    // Search mode is rmcp's to serve (`search`): its three tools are not the catalog's.
    if api.search.is_some() {
        return None;
    }
    let plan = parse(body, headers, revision)?;
    let modern = revision == Revision::Modern;
    // The JSON-RPC envelope is written around the result in one buffer.
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    serde_json::to_writer(&mut out, plan.id()).ok()?;
    out.extend_from_slice(b",\"result\":");
    let method;
    match plan {
        Plan::Call {
            name, arguments, ..
        } => {
            let entry = api.tool(&name)?;
            // SEP-2243: on 2026-07-28, rmcp checks `Mcp-Param-*` headers against the
            // arguments marked `x-mcp-header` (a missing, extra or different one is a 400). The
            // fast path serves only calls with nothing to check: no such header, and no value
            // in a marked argument.
            if modern
                && (headers.params
                    || entry
                        .mapped
                        .mirrored
                        .iter()
                        .any(|a| arguments.get(a).is_some_and(|v| !v.is_null())))
            {
                return None;
            }
            served.inc();
            crate::mcp::call(
                api,
                upstream,
                access,
                caller,
                entry,
                Value::Object(arguments),
                trace,
            )
            .await
            .write_json(&mut out, modern);
            method = "tools/call";
        }
        Plan::List { cursor, .. } => {
            let view = access.visible(api, caller);
            let view = view.as_deref().map(Vec::as_slice);
            let page = match &cursor {
                None => 0,
                Some(c) => api.cursor(c, view)?,
            };
            served.inc();
            let started = std::time::Instant::now();
            api.write_page(&mut out, page, modern, view);
            crate::metrics::get()
                .list_page
                .observe(started.elapsed().as_secs_f64());
            method = "tools/list";
        }
    }
    out.push(b'}');
    Some((out, method))
}

/// A request `Content-Type` of exactly `application/json` (any parameters), as rmcp requires.
fn is_application_json(ct: Option<&[u8]>) -> bool {
    ct.map(|v| {
        v.split(|b| *b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii()
    })
    .is_some_and(|e| e.eq_ignore_ascii_case(b"application/json"))
}
