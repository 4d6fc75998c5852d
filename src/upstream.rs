//! Upstream: one pooled HTTP client that turns a validated tool call into a REST request and
//! the answer into a tool result. The base URL comes from config only, never from a client.

#[cfg(target_os = "linux")]
pub mod batch;
#[cfg(not(target_os = "linux"))]
#[path = "upstream/batch_direct.rs"]
pub mod batch;
pub mod encode;
pub mod h1;

use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
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

/// Install ring as the process-wide TLS provider (idempotent); every reqwest client needs it
/// first, since reqwest is built without a default provider.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client for the gateway's own calls to authorization servers (discovery, JWKS, token and
/// introspection endpoints): 5 s to connect, `total` per call.
pub fn auth_client(total: Duration) -> Result<reqwest::Client, String> {
    install_tls_provider();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(total)
        .user_agent(concat!("rest2mcp/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// The shared client and its limits.
#[derive(Clone)]
pub struct Upstream {
    /// For `https://` backends.
    client: reqwest::Client,
    /// Inline HTTP/1.1 connection pools for `http://` backends, by `host:port`.
    pools: Arc<RwLock<foldhash::HashMap<String, Arc<h1::Pool>>>>,
    cfg: UpstreamConfig,
}

/// An upstream answer, read whole (up to the size cap).
pub struct Answer {
    pub status: reqwest::StatusCode,
    /// The answer's media type names JSON ([`h1::is_json`]).
    pub is_json: bool,
    pub body: Bytes,
}

impl Upstream {
    pub fn new(cfg: &UpstreamConfig) -> Result<Self, reqwest::Error> {
        install_tls_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .pool_max_idle_per_host(256)
            .user_agent(concat!("rest2mcp/", env!("CARGO_PKG_VERSION")))
            // Redirects are answered as they are (as over plain HTTP): a REST backend that
            // redirects is usually a wrong base URL, and the Location is worth seeing.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            pools: Arc::default(),
            cfg: cfg.clone(),
        })
    }

    /// Run one tool call end to end; every failure becomes an `isError` outcome.
    pub async fn call_tool(
        &self,
        api: &ApiCatalog,
        entry: &ToolEntry,
        args: &JsonObject,
        extra: &HeaderMap,
    ) -> Outcome {
        match self.send(api, entry, args, extra).await {
            Ok(answer) => outcome(api, entry, answer),
            Err(e) => {
                tracing::info!(api = %api.name, tool = %entry.mapped.name, error = %e, "upstream call failed");
                Outcome::Failed(e.to_string())
            }
        }
    }

    /// Build and send the request; read the answer with the size cap.
    pub async fn send(
        &self,
        api: &ApiCatalog,
        entry: &ToolEntry,
        args: &JsonObject,
        extra: &HeaderMap,
    ) -> Result<Answer, UpstreamError> {
        let op = &entry.mapped.op;
        let mut path_values: Vec<(&str, String)> = Vec::new();
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
                        Location::Path => path_values.push((&p.name, encode::path_value(p, v)?)),
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
        // The base path, the expanded template and the query, all already percent-encoded.
        let base = &api.base_url;
        let mut target = String::with_capacity(base.path().len() + op.path.len() + 64);
        target.push_str(base.path().trim_end_matches('/'));
        expand(&op.path, &path_values, &mut target);
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query.join("&"));
        }
        let mut content: Option<(&str, Vec<u8>)> = None;
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
                content = Some((body.content_type.as_str(), bytes));
            }
        }
        if !cookies.is_empty() {
            let v = HeaderValue::from_str(&cookies.join("; "))
                .map_err(|_| UpstreamError::BadHeader("Cookie".into()))?;
            headers.insert(reqwest::header::COOKIE, v);
        }
        // The gateway's own headers (downstream identity, credentials) win over any argument.
        for (k, v) in extra {
            headers.insert(k.clone(), v.clone());
        }
        let total = Duration::from_millis(self.cfg.timeout_ms);
        let sent = if base.scheme() == "http" {
            tokio::time::timeout(
                total,
                self.send_h1(&op.method, base, &target, &headers, content),
            )
            .await
        } else {
            // Start from the parsed base URL (its host is never re-parsed).
            let mut url = base.clone();
            match target.split_once('?') {
                Some((p, q)) => {
                    url.set_path(p);
                    url.set_query(Some(q));
                }
                None => url.set_path(&target),
            }
            tokio::time::timeout(total, self.send_reqwest(&op.method, &url, headers, content)).await
        };
        sent.map_err(|_| UpstreamError::Timeout(self.cfg.timeout_ms))?
    }

    /// Plain HTTP: the inline keep-alive client.
    async fn send_h1(
        &self,
        method: &str,
        base: &url::Url,
        target: &str,
        headers: &reqwest::header::HeaderMap,
        content: Option<(&str, Vec<u8>)>,
    ) -> Result<Answer, UpstreamError> {
        let pool = self.pool(base);
        let mut req = Vec::with_capacity(256 + content.as_ref().map_or(0, |c| c.1.len()));
        req.extend_from_slice(method.as_bytes());
        req.push(b' ');
        req.extend_from_slice(target.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        req.extend_from_slice(base.host_str().unwrap_or("").as_bytes());
        if let Some(port) = base.port() {
            let _ = write!(req, ":{port}");
        }
        req.extend_from_slice(
            concat!(
                "\r\nUser-Agent: rest2mcp/",
                env!("CARGO_PKG_VERSION"),
                "\r\nAccept: application/json, */*;q=0.8\r\n"
            )
            .as_bytes(),
        );
        for (k, v) in headers {
            req.extend_from_slice(k.as_str().as_bytes());
            req.extend_from_slice(b": ");
            req.extend_from_slice(v.as_bytes());
            req.extend_from_slice(b"\r\n");
        }
        match &content {
            Some((ct, body)) => {
                req.extend_from_slice(
                    format!(
                        "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                );
                req.extend_from_slice(body);
            }
            None if matches!(method, "POST" | "PUT" | "PATCH") => {
                req.extend_from_slice(b"Content-Length: 0\r\n\r\n");
            }
            None => req.extend_from_slice(b"\r\n"),
        }
        let connect = Duration::from_millis(self.cfg.connect_timeout_ms);
        let a = pool
            .send(&req, method, self.cfg.max_response_bytes, connect)
            .await
            .map_err(|e| match e {
                h1::H1Error::Connect(e) => UpstreamError::Connect {
                    host: pool.authority().to_string(),
                    reason: e.to_string(),
                },
                h1::H1Error::TooLarge(n) => UpstreamError::TooLarge(n),
                other => UpstreamError::Http(other.to_string()),
            })?;
        Ok(Answer {
            status: reqwest::StatusCode::from_u16(a.status)
                .map_err(|_| UpstreamError::Http(format!("invalid status {}", a.status)))?,
            is_json: a.is_json,
            body: a.body,
        })
    }

    /// The connection pool for a backend, keyed by its base URL (no allocation on a hit).
    fn pool(&self, base: &url::Url) -> Arc<h1::Pool> {
        if let Some(p) = self.pools.read().expect("pools lock").get(base.as_str()) {
            return p.clone();
        }
        let authority = format!(
            "{}:{}",
            base.host_str().unwrap_or(""),
            base.port_or_known_default().unwrap_or(80)
        );
        self.pools
            .write()
            .expect("pools lock")
            .entry(base.as_str().to_string())
            .or_insert_with(|| Arc::new(h1::Pool::new(authority)))
            .clone()
    }

    /// HTTPS (and anything else): reqwest, with rustls.
    async fn send_reqwest(
        &self,
        method: &str,
        url: &url::Url,
        headers: reqwest::header::HeaderMap,
        content: Option<(&str, Vec<u8>)>,
    ) -> Result<Answer, UpstreamError> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| UpstreamError::Http(e.to_string()))?;
        let mut req = self
            .client
            .request(method, url.clone())
            .headers(headers)
            .header(reqwest::header::ACCEPT, "application/json, */*;q=0.8");
        if let Some((ct, bytes)) = content {
            req = req.header(CONTENT_TYPE, ct).body(bytes);
        }
        let resp = req.send().await.map_err(|e| self.classify(e, url))?;
        let status = resp.status();
        let is_json = resp
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| h1::is_json(v.as_bytes()));
        let cap = self.cfg.max_response_bytes;
        if resp.content_length().is_some_and(|l| l as usize > cap) {
            return Err(UpstreamError::TooLarge(cap));
        }
        let mut resp = resp;
        let mut buf = BytesMut::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.classify(e, url))? {
            if buf.len() + chunk.len() > cap {
                return Err(UpstreamError::TooLarge(cap));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            is_json,
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

/// The path template with each `{name}` that has a value replaced by it (values are already
/// percent-encoded); a placeholder without a value stays as written.
fn expand(template: &str, values: &[(&str, String)], out: &mut String) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match values.iter().find(|(n, _)| *n == name) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
}

const EXCERPT: usize = 1000;

/// What a tool call came to, before it is written as an MCP result: rmcp's path turns it into a
/// [`CallToolResult`], the fast path writes the same JSON directly ([`Outcome::write_json`]).
pub enum Outcome {
    /// A 2xx answer: its body is the text content; `structured` is the same body parsed,
    /// when it is a JSON object matching the tool's output schema.
    Answer {
        body: Bytes,
        structured: Option<Value>,
    },
    /// Anything else, as the text of an `isError` result.
    Failed(String),
}

impl Outcome {
    pub fn into_result(self) -> CallToolResult {
        match self {
            Outcome::Failed(msg) => CallToolResult::error(vec![ContentBlock::text(msg)]),
            Outcome::Answer { body, structured } => {
                let text = String::from_utf8_lossy(&body).into_owned();
                let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
                result.structured_content = structured;
                result
            }
        }
    }

    /// The result as JSON, as rmcp serializes [`Self::into_result`] (`resultType` only for
    /// 2026-07-28). The structured content is written from the parsed value that was checked,
    /// never from the raw bytes (which may, say, repeat a key with another value).
    pub fn write_json(&self, out: &mut Vec<u8>, modern: bool) {
        out.extend_from_slice(if modern {
            br#"{"resultType":"complete","content":[{"type":"text","text":"#
        } else {
            br#"{"content":[{"type":"text","text":"#
        });
        let (text, is_error) = match self {
            Outcome::Failed(msg) => (std::borrow::Cow::Borrowed(msg.as_str()), true),
            Outcome::Answer { body, .. } => (String::from_utf8_lossy(body), false),
        };
        serde_json::to_writer(&mut *out, &*text).expect("a string serializes");
        out.extend_from_slice(b"}]");
        if let Outcome::Answer {
            structured: Some(v),
            ..
        } = self
        {
            out.extend_from_slice(br#","structuredContent":"#);
            serde_json::to_writer(&mut *out, v).expect("a Value serializes");
        }
        out.extend_from_slice(if is_error {
            br#","isError":true}"#
        } else {
            br#","isError":false}"#
        });
    }
}

/// The outcome of an upstream answer.
fn outcome(api: &ApiCatalog, entry: &ToolEntry, a: Answer) -> Outcome {
    if !a.status.is_success() {
        let text = String::from_utf8_lossy(&a.body);
        let mut excerpt: String = text.chars().take(EXCERPT).collect();
        if text.len() > excerpt.len() {
            excerpt.push('…');
        }
        return Outcome::Failed(format!(
            "upstream answered HTTP {}{}",
            a.status,
            if excerpt.is_empty() {
                String::new()
            } else {
                format!(": {excerpt}")
            }
        ));
    }
    let mut structured = None;
    if let Some(v) = entry.output_validator() {
        let parsed = a
            .is_json
            .then(|| serde_json::from_slice::<Value>(&a.body).ok())
            .flatten();
        match parsed {
            Some(j) if j.is_object() && v.is_valid(&j) => structured = Some(j),
            _ => {
                api.stats.output_mismatches.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(api = %api.name, tool = %entry.mapped.name, "answer does not match the output schema: sent as text only");
            }
        }
    }
    Outcome::Answer {
        body: a.body,
        structured,
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn path_templates_expand_each_placeholder_once_and_keep_unknown_ones() {
        let mut out = String::new();
        let values = [("id", "7".to_string()), ("sub", "a%2Fb".to_string())];
        expand("/t/{id}/x/{sub}/{id}{missing}/{", &values, &mut out);
        assert_eq!(out, "/t/7/x/a%2Fb/7{missing}/{");
    }
}
