//! CORS on `/mcp/{name}` for browser-based MCP clients, for the origins of
//! `server.allowed_origins` only (the same patterns rmcp checks: `http://localhost:*` for any
//! port, or an exact origin). Written here rather than with `tower-http`'s `CorsLayer` because
//! the allow-list semantics must be exactly rmcp's, and the answer is a handful of headers.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

const METHODS: &str = "GET, POST, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, content-type, accept, mcp-protocol-version, mcp-session-id, mcp-method, mcp-name, last-event-id";
const EXPOSE_HEADERS: &str = "www-authenticate, mcp-session-id, mcp-protocol-version";

/// Whether `origin` matches an allow-list entry (scheme and host exact; port exact, default,
/// or any with `:*`).
pub fn allowed(origin: &str, allow_list: &[String]) -> bool {
    let Some((scheme, host, port)) = parse(origin) else {
        return false;
    };
    allow_list.iter().any(|entry| {
        let (entry, any_port) = match entry.strip_suffix(":*") {
            Some(base) => (base, true),
            None => (entry.as_str(), false),
        };
        match parse(entry) {
            Some((s, h, p)) => s == scheme && h == host && (any_port || p == port),
            None => false,
        }
    })
}

/// The allow-list as rmcp must see it to decide exactly as [`allowed`] does: rmcp 3.11 still
/// lets an entry without a port match any port (deprecated there); an origin without a port
/// means the scheme's default port (RFC 6454), so each such entry gets it written out.
pub fn for_rmcp(allow_list: &[String]) -> Vec<String> {
    allow_list
        .iter()
        .map(|e| match parse(e) {
            Some((scheme, host, Some(port))) if !e.ends_with(":*") => {
                let host = if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]")
                } else {
                    host
                };
                format!("{scheme}://{host}:{port}")
            }
            _ => e.clone(),
        })
        .collect()
}

/// (scheme, host, port with the scheme's default filled in) of an origin; `None` for `null`
/// or anything that is not a bare `scheme://host[:port]`.
fn parse(origin: &str) -> Option<(String, String, Option<u16>)> {
    let u = url::Url::parse(origin.trim()).ok()?;
    if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
        return None;
    }
    let host = u.host_str()?.to_ascii_lowercase();
    Some((u.scheme().to_string(), host, u.port_or_known_default()))
}

/// The answer to `OPTIONS`: a preflight for an allowed origin, else just the methods.
pub fn preflight(origin: Option<HeaderValue>, request: &HeaderMap) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static(METHODS));
    if let Some(o) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(METHODS),
        );
        let asked = request
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or(HeaderValue::from_static(ALLOW_HEADERS));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        h.insert(header::VARY, HeaderValue::from_static("origin"));
    }
    resp
}

/// Name the (allowed) origin on an actual answer.
pub fn decorate(resp: &mut Response, origin: HeaderValue) {
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    h.append(header::VARY, HeaderValue::from_static("origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_like_rmcp_checks_them() {
        let list = vec![
            "http://localhost:*".to_string(),
            "https://app.example.com".to_string(),
        ];
        assert!(allowed("http://localhost:6274", &list));
        assert!(allowed("http://LOCALHOST:1", &list));
        assert!(allowed("https://app.example.com", &list));
        assert!(allowed("https://app.example.com:443", &list));
        assert!(!allowed("https://app.example.com:8443", &list));
        assert!(!allowed("http://app.example.com", &list));
        assert!(!allowed("https://localhost:6274", &list));
        assert!(!allowed("http://localhost.evil.com:80", &list));
        assert!(!allowed("null", &list));
        assert_eq!(
            for_rmcp(&list),
            ["http://localhost:*", "https://app.example.com:443"]
        );
        assert_eq!(for_rmcp(&["http://[::1]:*".into()]), ["http://[::1]:*"]);
    }
}
