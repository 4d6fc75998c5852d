//! Upstream: one pooled HTTP client that turns a validated tool call into a REST request and
//! the answer into a tool result. The base URL comes from config only, never from a client.

pub mod client;
pub mod encode;
pub mod form;
pub mod multipart;
pub mod policy;

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
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
    #[error(transparent)]
    Policy(#[from] policy::PolicyError),
}

/// Install ring as the process-wide TLS provider (idempotent); every reqwest client needs it
/// first, since reqwest is built without a default provider.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Every certificate in a PEM file (`upstream.ca_file`, the database's `sslrootcert` and
/// `sslcert`); an error names the file.
pub fn read_certificates(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(certs)
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
    client: client::Client,
    cfg: UpstreamConfig,
}

/// A tool call's upstream part: the outcome, the status if the backend answered, its bytes.
pub struct Called {
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub bytes: usize,
}

/// An upstream answer, read whole (up to the size cap).
pub struct Answer {
    pub status: http::StatusCode,
    /// The answer's media type names JSON ([`is_json`]).
    pub is_json: bool,
    pub body: Bytes,
}

impl Upstream {
    pub fn new(cfg: &UpstreamConfig) -> Result<Self, String> {
        Ok(Self {
            client: client::Client::new(cfg)?,
            cfg: cfg.clone(),
        })
    }

    /// GET a document through the upstream host policy (the console's "fetch from a URL"),
    /// within the whole-call timeout; only `http(s)` URLs.
    pub async fn fetch_document(
        &self,
        url: &url::Url,
        cap: usize,
    ) -> Result<Answer, UpstreamError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UpstreamError::Http("only http:// and https:// URLs".into()));
        }
        let total = Duration::from_millis(self.cfg.timeout_ms);
        tokio::time::timeout(total, self.client.get_document(url, cap))
            .await
            .map_err(|_| UpstreamError::Timeout(self.cfg.timeout_ms))?
    }

    /// The upstream host policy (for checks at load).
    pub fn policy(&self) -> &policy::HostPolicy {
        self.client.policy()
    }

    /// Run one tool call end to end; every failure becomes an `isError` outcome. Records the
    /// upstream latency by status class.
    pub async fn call_tool(
        &self,
        api: &ApiCatalog,
        entry: &ToolEntry,
        args: &JsonObject,
        extra: &HeaderMap,
    ) -> Called {
        let started = std::time::Instant::now();
        let sent = self.send(api, entry, args, extra).await;
        let status = sent.as_ref().ok().map(|a| a.status.as_u16());
        let m = crate::metrics::get();
        m.upstream
            .get_or_create(&crate::metrics::UpstreamApi {
                api: api.name.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        m.upstream_responses
            .get_or_create(&crate::metrics::Upstream {
                api: api.name.clone(),
                status: status.map_or("error", crate::metrics::status_class),
            })
            .inc();
        match sent {
            Ok(answer) => Called {
                status,
                bytes: answer.body.len(),
                outcome: outcome(api, entry, answer),
            },
            Err(e) => {
                tracing::info!(api = %api.name, tool = %entry.mapped.name, error = %e, "upstream call failed");
                Called {
                    status: None,
                    bytes: 0,
                    outcome: Outcome::Failed(e.to_string()),
                }
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
        let mut headers = HeaderMap::new();
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
                        // A null header is not sent (RFC 6570: undefined).
                        Location::Header if v.is_null() => {}
                        Location::Header => {
                            let s = encode::header_value(p, v)?;
                            let name = HeaderName::from_bytes(p.name.as_bytes())
                                .map_err(|_| UpstreamError::BadHeader(p.name.clone()))?;
                            let value = HeaderValue::from_str(&s)
                                .map_err(|_| UpstreamError::BadHeader(p.name.clone()))?;
                            headers.insert(name, value);
                        }
                        Location::Cookie => encode::cookie_pairs(p, v, &mut cookies),
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
        encode::check_expanded(&op.path, &target)?;
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query.join("&"));
        }
        let mut content: Option<(std::borrow::Cow<'_, str>, Vec<u8>)> = None;
        if let Some(body) = &op.body {
            let payload: Option<Value> = match whole_body {
                Some(v) => Some(v.clone()),
                None if !body_fields.is_empty() || body.required => {
                    Some(Value::Object(std::mem::take(&mut body_fields)))
                }
                None => None,
            };
            if let Some(payload) = payload {
                let ct = std::borrow::Cow::Borrowed(body.content_type.as_str());
                content = Some(match (body.kind, &payload) {
                    (BodyKind::Json, _) => (
                        ct,
                        serde_json::to_vec(&payload).expect("a Value serializes"),
                    ),
                    (BodyKind::Form, Value::Object(o)) => {
                        let mut pairs = Vec::new();
                        for (k, v) in o {
                            form::pairs(k, v, body.encoding.get(k), &mut pairs);
                        }
                        (ct, form::urlencoded(&pairs).into_bytes())
                    }
                    (BodyKind::Multipart, Value::Object(o)) => {
                        let (ct, bytes) = multipart::form_data(o, &body.encoding)?;
                        (ct.into(), bytes)
                    }
                    (BodyKind::Binary, v) => (
                        crate::ingest::body::concrete(&body.content_type).into(),
                        multipart::base64(&encode::scalar(v), "body")?,
                    ),
                    (_, other) => (ct, encode::scalar(other).into_bytes()),
                });
            }
        }
        if !cookies.is_empty() {
            let v = HeaderValue::from_str(&cookies.join("; "))
                .map_err(|_| UpstreamError::BadHeader("Cookie".into()))?;
            headers.insert(http::header::COOKIE, v);
        }
        // The gateway's own headers (downstream identity, credentials) win over any argument.
        for (k, v) in extra {
            headers.insert(k.clone(), v.clone());
        }
        let method = http::Method::from_bytes(op.method.as_bytes())
            .map_err(|e| UpstreamError::Http(e.to_string()))?;
        let mut req = http::Request::builder()
            .method(method.clone())
            .uri(target)
            .body(())
            .map_err(|e| UpstreamError::Http(format!("cannot build the request: {e}")))?;
        let h = req.headers_mut();
        h.insert(http::header::HOST, client::host_header(base));
        h.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("rest2mcp/", env!("CARGO_PKG_VERSION"))),
        );
        h.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json, */*;q=0.8"),
        );
        h.extend(headers);
        let body = match content {
            Some((ct, bytes)) => {
                let ct = HeaderValue::from_str(&ct)
                    .map_err(|_| UpstreamError::BadHeader("Content-Type".into()))?;
                req.headers_mut().insert(CONTENT_TYPE, ct);
                Bytes::from(bytes)
            }
            None => {
                if matches!(
                    method,
                    http::Method::POST | http::Method::PUT | http::Method::PATCH
                ) {
                    req.headers_mut()
                        .insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                }
                Bytes::new()
            }
        };
        let req = req.map(|()| http_body_util::Full::new(body));
        let idempotent = matches!(
            method,
            http::Method::GET
                | http::Method::HEAD
                | http::Method::PUT
                | http::Method::DELETE
                | http::Method::OPTIONS
                | http::Method::TRACE
        );
        let total = Duration::from_millis(self.cfg.timeout_ms);
        tokio::time::timeout(total, self.client.send(base, req, idempotent))
            .await
            .map_err(|_| UpstreamError::Timeout(self.cfg.timeout_ms))?
    }
}

/// A `Content-Type` that says JSON (`application/json`, `application/problem+json`,
/// `text/json`, ...): its media type names `json`.
pub fn is_json(content_type: &[u8]) -> bool {
    let media_type = content_type
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default();
    media_type
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"json"))
}

/// The path template with each `{name}` that has a value replaced by it (values are already
/// percent-encoded); a placeholder without a value stays as written (encoded).
///
/// The template's own text is path text: OpenAPI appends it to the server URL "no relative URL
/// resolution" (3.1.1, Paths Object), so a `#` or `?` in it (AWS descriptions write
/// `/#X-Amz-Target=...` to keep operations apart) is a character of the path and is sent as
/// `%23` / `%3F` (RFC 3986 3.3: neither is a `pchar`), as is anything else a path may not hold.
fn expand(template: &str, values: &[(&str, String)], out: &mut String) {
    let literal = |s: &str, out: &mut String| out.extend(encode::path_literal(s));
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        literal(&rest[..open], out);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match values.iter().find(|(n, _)| *n == name) {
                    Some((_, v)) => out.push_str(v),
                    None => literal(&rest[open..open + close + 2], out),
                }
                rest = &after[close + 1..];
            }
            None => {
                literal(&rest[open..], out);
                rest = "";
            }
        }
    }
    literal(rest, out);
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
    if let Some(v) = api.output_validator(entry) {
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
    use super::{encode, expand};

    #[test]
    fn an_expanded_path_never_gains_a_dot_segment() {
        let ok = |t: &str, e: &str| encode::check_expanded(t, e).is_ok();
        assert!(ok("/items/{id}", "/api/items/7"));
        assert!(ok("/files/{name}", "/files/group%2Fproject"));
        assert!(!ok("/files/{name}", "/files/a%2F..%2Fb"));
        assert!(!ok("/x/{a}{b}", "/x/.."));
        assert!(!ok("/x/{a}.{b}", "/x/."));
        assert!(!ok("/x/{a}", "/x/%2e%2E"));
        assert!(
            ok("/x/../{a}", "/x/../y"),
            "a template's own dot segments are its own"
        );
    }

    #[test]
    fn path_templates_expand_each_placeholder_once_and_keep_unknown_ones() {
        let mut out = String::new();
        let values = [("id", "7".to_string()), ("sub", "a%2Fb".to_string())];
        expand("/t/{id}/x/{sub}/{id}{missing}/{", &values, &mut out);
        assert_eq!(out, "/t/7/x/a%2Fb/7%7Bmissing%7D/%7B");
    }

    #[test]
    fn a_templates_own_text_stays_in_the_path() {
        let mut out = String::new();
        expand("/#X-Amz-Target=Svc.Op", &[], &mut out);
        assert_eq!(out, "/%23X-Amz-Target=Svc.Op");
        out.clear();
        let values = [("id", "7".to_string())];
        expand("/a?b/{id}#c d/%2F/é;x=1", &values, &mut out);
        assert_eq!(out, "/a%3Fb/7%23c%20d/%2F/%C3%A9;x=1");
        assert!(encode::check_expanded("/a?b/{id}", "/a%3Fb/7").is_ok());
    }
}
