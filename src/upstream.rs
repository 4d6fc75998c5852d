//! Upstream: one pooled HTTP client that turns a validated tool call into a REST request and
//! the answer into a tool result. The base URL comes from config only, never from a client.

pub mod encode;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use serde_json::{Map, Value};

use crate::catalog::{ApiCatalog, ToolEntry};
use crate::config::UpstreamConfig;
use crate::ingest::{BodyKind, Location};
use crate::mapping::Target;
use encode::EncodeError;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("header parameter `{0}` is not a valid header name or value")]
    BadHeader(String),
    #[error("upstream did not answer within {0} ms")]
    Timeout(u64),
    #[error("cannot reach upstream {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("upstream answer is larger than the {0}-byte limit")]
    TooLarge(usize),
    #[error("upstream request failed: {0}")]
    Http(String),
}

/// The shared client and its limits.
#[derive(Clone)]
pub struct Upstream {
    client: reqwest::Client,
    cfg: UpstreamConfig,
}

/// An upstream answer, read whole (up to the size cap).
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl Upstream {
    pub fn new(cfg: &UpstreamConfig) -> Result<Self, reqwest::Error> {
        // Idempotent: the first caller installs ring as the process-wide TLS provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .pool_max_idle_per_host(256)
            .user_agent(concat!("rest2mcp/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        Ok(Self {
            client,
            cfg: cfg.clone(),
        })
    }

    /// Run one tool call end to end; every failure becomes an `isError` result.
    pub async fn call_tool(
        &self,
        api: &ApiCatalog,
        entry: &ToolEntry,
        args: &JsonObject,
    ) -> CallToolResult {
        match self.send(api, entry, args).await {
            Ok(answer) => to_result(api, entry, answer),
            Err(e) => {
                tracing::info!(api = %api.name, tool = %entry.mapped.name, error = %e, "upstream call failed");
                CallToolResult::error(vec![ContentBlock::text(e.to_string())])
            }
        }
    }

    /// Build and send the request; read the answer with the size cap.
    pub async fn send(
        &self,
        api: &ApiCatalog,
        entry: &ToolEntry,
        args: &JsonObject,
    ) -> Result<Answer, UpstreamError> {
        let op = &entry.mapped.op;
        let mut path = op.path.clone();
        let mut query: Vec<String> = Vec::new();
        let mut headers = reqwest::header::HeaderMap::new();
        let mut cookies: Vec<String> = Vec::new();
        let mut body_fields = Map::new();
        let mut whole_body: Option<&Value> = None;
        for b in &entry.mapped.bindings {
            let Some(v) = args.get(&b.arg) else { continue };
            match &b.target {
                Target::Param(i) => {
                    let p = &op.parameters[*i];
                    match p.location {
                        Location::Path => {
                            let s = encode::path_value(p, v)?;
                            path = path.replace(&format!("{{{}}}", p.name), &s);
                        }
                        Location::Query => encode::query_pairs(p, v, &mut query),
                        Location::Header => {
                            let s = encode::header_value(p, v)?;
                            let name = HeaderName::from_bytes(p.name.as_bytes())
                                .map_err(|_| UpstreamError::BadHeader(p.name.clone()))?;
                            let value = HeaderValue::from_str(&s)
                                .map_err(|_| UpstreamError::BadHeader(p.name.clone()))?;
                            headers.insert(name, value);
                        }
                        Location::Cookie => {
                            let s = encode::scalar(v);
                            cookies.push(format!("{}={}", encode::enc(&p.name), encode::enc(&s)));
                        }
                    }
                }
                Target::BodyField(f) => {
                    body_fields.insert(f.clone(), v.clone());
                }
                Target::Body => whole_body = Some(v),
            }
        }
        // Start from the parsed base URL (its host is never re-parsed) and set path and query.
        let mut url = api.base_url.clone();
        let base_path = api.base_url.path().trim_end_matches('/');
        url.set_path(&format!("{base_path}{path}"));
        if !query.is_empty() {
            url.set_query(Some(&query.join("&")));
        }
        let method = reqwest::Method::from_bytes(op.method.as_bytes())
            .map_err(|e| UpstreamError::Http(e.to_string()))?;
        let mut req = self.client.request(method, url.clone()).headers(headers);
        req = req.header(reqwest::header::ACCEPT, "application/json, */*;q=0.8");
        if !cookies.is_empty() {
            req = req.header(reqwest::header::COOKIE, cookies.join("; "));
        }
        if let Some(body) = &op.body {
            let payload: Option<Value> = match whole_body {
                Some(v) => Some(v.clone()),
                None if !body_fields.is_empty() || body.required => {
                    Some(Value::Object(std::mem::take(&mut body_fields)))
                }
                None => None,
            };
            if let Some(payload) = payload {
                let bytes = match body.kind {
                    BodyKind::Json => serde_json::to_vec(&payload).expect("a Value serializes"),
                    BodyKind::Form => match &payload {
                        Value::Object(o) => encode::form_body(o).into_bytes(),
                        other => encode::scalar(other).into_bytes(),
                    },
                    BodyKind::Raw => encode::scalar(&payload).into_bytes(),
                };
                req = req.header(CONTENT_TYPE, &body.content_type).body(bytes);
            }
        }
        let resp = req.send().await.map_err(|e| self.classify(e, &url))?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let cap = self.cfg.max_response_bytes;
        if resp.content_length().is_some_and(|l| l as usize > cap) {
            return Err(UpstreamError::TooLarge(cap));
        }
        let mut resp = resp;
        let mut buf = BytesMut::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(e, &url))? {
            if buf.len() + chunk.len() > cap {
                return Err(UpstreamError::TooLarge(cap));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            content_type,
            body: buf.freeze(),
        })
    }

    fn classify(&self, e: reqwest::Error, url: &url::Url) -> UpstreamError {
        if e.is_timeout() {
            UpstreamError::Timeout(self.cfg.timeout_ms)
        } else if e.is_connect() {
            let host = format!(
                "{}:{}",
                url.host_str().unwrap_or("?"),
                url.port_or_known_default().unwrap_or(0)
            );
            let mut reason = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                reason = s.to_string();
                src = s.source();
            }
            UpstreamError::Connect { host, reason }
        } else {
            UpstreamError::Http(e.without_url().to_string())
        }
    }
}

const EXCERPT: usize = 1000;

/// The tool result for an upstream answer.
fn to_result(api: &ApiCatalog, entry: &ToolEntry, a: Answer) -> CallToolResult {
    let text = String::from_utf8_lossy(&a.body);
    if !a.status.is_success() {
        let mut excerpt: String = text.chars().take(EXCERPT).collect();
        if text.len() > excerpt.len() {
            excerpt.push('…');
        }
        return CallToolResult::error(vec![ContentBlock::text(format!(
            "upstream answered HTTP {}{}",
            a.status,
            if excerpt.is_empty() {
                String::new()
            } else {
                format!(": {excerpt}")
            }
        ))]);
    }
    let mut result = CallToolResult::success(vec![ContentBlock::text(text.into_owned())]);
    if let Some(v) = entry.output_validator() {
        let is_json = a
            .content_type
            .as_deref()
            .is_some_and(|c| c.contains("json"));
        let parsed = is_json
            .then(|| serde_json::from_slice::<Value>(&a.body).ok())
            .flatten();
        match parsed {
            Some(j) if j.is_object() && v.is_valid(&j) => result.structured_content = Some(j),
            _ => {
                api.stats.output_mismatches.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(api = %api.name, tool = %entry.mapped.name, "answer does not match the output schema: sent as text only");
            }
        }
    }
    result
}
