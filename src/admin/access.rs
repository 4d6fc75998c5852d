//! Who may use the admin API: loopback clients only (unless `admin.allow_remote`), each request
//! with an admin credential (the static admin token, compared in constant time, or an OAuth
//! access token from `admin.issuer` carrying `admin.scope` for the `{public_url}/admin`
//! audience), and writes only with a JSON/YAML body or the `X-Rest2mcp-Admin` header, so that a
//! form posted from another site can do nothing.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{Method, StatusCode, header};

use super::{Admin, error};

/// How a request proved it is an admin's.
#[derive(Clone, Debug)]
pub struct Credential {
    /// `token` or `oauth`.
    pub via: &'static str,
    pub subject: String,
}

/// The static admin token: `REST2MCP_ADMIN_TOKEN`, else the token file (created with a new
/// random token, mode 0600, when it does not exist and `create` is set). The second value says
/// whether it was created now.
pub fn admin_token(file: &Path, create: bool) -> Result<(Option<String>, bool), String> {
    if let Ok(t) = std::env::var("REST2MCP_ADMIN_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok((Some(t.trim().to_string()), false));
    }
    match std::fs::read_to_string(file) {
        Ok(t) if !t.trim().is_empty() => return Ok((Some(t.trim().to_string()), false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(format!(
                "cannot read the admin token {}: {e}",
                file.display()
            ));
        }
    }
    if !create {
        return Ok((None, false));
    }
    let mut raw = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
        .map_err(|_| "no randomness for the admin token".to_string())?;
    use base64::Engine as _;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    write_private(file, &token).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((Some(token), true))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(format!("{text}\n").as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}

/// Equal in constant time (over SHA-256 digests, so the lengths leak nothing either).
fn same(a: &str, b: &str) -> bool {
    let d = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let (x, y) = (d(a), d(b));
    x.as_ref()
        .iter()
        .zip(y.as_ref())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// The admin API's guard: Host, loopback, credential, CSRF, in that order; nothing is read or
/// written for a request that fails one.
pub async fn guard(State(admin): State<Arc<Admin>>, mut req: Request, next: Next) -> Response {
    // DNS rebinding: a page whose name now points at us sends its own name as `Host`; the
    // same allow-list as `/mcp` (`server.allowed_hosts`, the public URL's host included).
    let registry = admin.live.registry.load();
    let host = req
        .headers()
        .get(header::HOST)
        .map(|h| h.as_bytes())
        .or_else(|| req.uri().authority().map(|a| a.as_str().as_bytes()));
    if !registry.shared.hosts.allows(host) {
        return error(
            StatusCode::FORBIDDEN,
            "this Host is not one the gateway answers to (server.allowed_hosts)",
        );
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if !admin.cfg.allow_remote && !peer.is_some_and(|ip| ip.is_loopback()) {
        return error(
            StatusCode::FORBIDDEN,
            "the admin API answers loopback clients only (set admin.allow_remote to change that)",
        );
    }
    // The sign-in settings are public: the console needs them before it has a credential.
    if req.uri().path().ends_with("/auth-config") && req.method() == Method::GET {
        return next.run(req).await;
    }
    let credential = match credential(&admin, req.headers()).await {
        Some(c) => c,
        None => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "an admin credential is needed (Authorization: Bearer <admin token>)",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"rest2mcp admin\""),
            );
            return r;
        }
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) && !csrf_safe(req.headers()) {
        return error(
            StatusCode::FORBIDDEN,
            "writes need Content-Type: application/json or YAML, or the X-Rest2mcp-Admin header",
        );
    }
    req.extensions_mut().insert(credential);
    next.run(req).await
}

async fn credential(admin: &Admin, headers: &http::HeaderMap) -> Option<Credential> {
    let token =
        crate::auth::bearer(headers.get(header::AUTHORIZATION).map(|v| v.as_bytes())).ok()?;
    if let Some(t) = &admin.token
        && same(token, t)
    {
        return Some(Credential {
            via: "token",
            subject: "admin".into(),
        });
    }
    let issuer = admin.cfg.issuer.as_ref()?;
    let verifier = admin.verifier();
    let iss = verifier.iss_of(issuer).unwrap_or(issuer).to_string();
    let caller = verifier
        .verify(token, std::slice::from_ref(&iss))
        .await
        .ok()?;
    let audience = format!("{}/admin", admin.public_url().trim_end_matches('/'));
    (caller.issuer == iss && caller.audiences.contains(&audience) && caller.has(&admin.cfg.scope))
        .then(|| Credential {
            via: "oauth",
            subject: caller.subject().to_string(),
        })
}

/// A write a browser form cannot make: a JSON or YAML body, or our own header.
fn csrf_safe(headers: &http::HeaderMap) -> bool {
    if headers.contains_key("x-rest2mcp-admin") {
        return true;
    }
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/json" | "application/yaml" | "application/x-yaml" | "text/yaml"
    ) || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_compare_whole() {
        assert!(super::same("abc", "abc"));
        assert!(!super::same("abc", "abd"));
        assert!(!super::same("abc", "abcd"));
        assert!(!super::same("", "a"));
    }
}
