//! Auth: each `/mcp/{name}` as an OAuth 2.1 protected resource (MCP authorization spec).
//!
//! [`Protection`] is one endpoint's policy: its resource URL and Protected Resource Metadata
//! (RFC 9728), the audiences and issuers it accepts, the scopes it needs, and the `401` / `403`
//! challenges (RFC 6750) that let clients discover the authorization server and step up.
//! Token checks themselves live in [`verify`], shared by every endpoint; the development key
//! of `rest2mcp dev-token` in [`dev`].

pub mod crypto;
pub mod dev;
pub mod verify;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::catalog::ApiCatalog;
use crate::config::{ApiConfig, AuthConfig, ConfigError, DEV_ISSUER, IssuerConfig};
pub use verify::{Caller, Verifier};

/// Everything about callers for one API: who may call, and what the backend learns.
pub struct Access {
    /// `None`: the endpoint is open.
    pub protection: Option<Protection>,
    /// Shared with the rebuilds of its API that keep its settings (and so its token caches).
    pub downstream: Arc<crate::downstream::Downstream>,
    /// The API's call limits (shared by its toolsets, and kept by rebuilds with the same).
    pub limits: Arc<crate::limits::Limits>,
}

impl Access {
    /// The tools `caller` may see in `tools/list` (`None`: all of them).
    pub fn visible(&self, api: &ApiCatalog, caller: Option<&Caller>) -> Option<Arc<Vec<usize>>> {
        match (&self.protection, caller) {
            (Some(p), Some(c)) => p.visible(api, c),
            _ => None,
        }
    }
}

/// Why a request carries no usable token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("this MCP server needs an OAuth access token (Authorization: Bearer ...)")]
    Missing,
    #[error("{0}")]
    Invalid(String),
}

/// One endpoint's protection, built with the snapshot.
pub struct Protection {
    /// The canonical URL of the endpoint: the OAuth resource identifier (RFC 8707).
    pub resource: String,
    /// Where its Protected Resource Metadata is served.
    pub metadata_url: String,
    /// The metadata document, serialized once.
    pub metadata: bytes::Bytes,
    /// `aud` values accepted.
    audiences: Vec<String>,
    /// `iss` values accepted.
    issuers: Vec<String>,
    /// Scopes every request needs.
    scopes: Vec<String>,
    /// Every scope this endpoint knows (endpoint + tools): `scopes_supported`.
    all_scopes: Vec<String>,
    /// `tools/list` shows only what the caller may call.
    pub filter_tools: bool,
    /// `WWW-Authenticate` of a request without a usable token (minus `error`).
    challenge_401: String,
    verifier: Arc<Verifier>,
    /// Visible-tool lists per distinct set of relevant caller scopes.
    views: Mutex<HashMap<Vec<String>, Arc<Vec<usize>>>>,
}

/// Distinct scope sets remembered per endpoint for `tools/list` filtering.
const MAX_VIEWS: usize = 256;

impl Protection {
    /// The endpoint's policy, or `None` when it is open (no issuers, or `auth.enabled: false`).
    pub fn build(
        api_cfg: &ApiConfig,
        catalog: &ApiCatalog,
        auth: &AuthConfig,
        public_url: &str,
        verifier: &Arc<Verifier>,
    ) -> Result<Option<Protection>, ConfigError> {
        if auth.issuers.is_empty() || !api_cfg.auth.enabled {
            return Ok(None);
        }
        let a = &api_cfg.auth;
        let base = public_url.trim_end_matches('/');
        let resource = format!("{base}/mcp/{}", api_cfg.name);
        let metadata_url = format!(
            "{base}/.well-known/oauth-protected-resource/mcp/{}",
            api_cfg.name
        );
        let mut all: BTreeSet<String> = a.scopes.iter().cloned().collect();
        for t in &catalog.tools {
            all.extend(t.mapped.scopes.iter().flatten().cloned());
        }
        let all_scopes: Vec<String> = all.into_iter().collect();
        // Scopes go into challenge headers as quoted strings: RFC 6749 scope-token characters.
        if let Some(bad) = all_scopes.iter().find(|s| {
            s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        }) {
            return Err(ConfigError::Invalid(format!(
                "api `{}`: scope `{bad}` is not a valid OAuth scope (printable ASCII without spaces, quotes or backslashes)",
                api_cfg.name
            )));
        }
        let accepted = accepted_issuers(api_cfg, auth);
        let issuers: Vec<String> = accepted
            .iter()
            .map(|c| verifier.iss_of(&c.issuer).unwrap_or(&c.issuer).to_string())
            .collect();
        // Authorization servers a client can use: accepted issuers with a URL (not the local
        // dev key, not a bare `iss` string).
        let servers: Vec<&str> = accepted
            .iter()
            .filter(|c| c.issuer.starts_with("https://") || c.issuer.starts_with("http://"))
            .map(|c| c.issuer.as_str())
            .collect();
        let mut doc = Map::new();
        doc.insert("resource".into(), resource.clone().into());
        if !servers.is_empty() {
            doc.insert("authorization_servers".into(), json!(servers));
        }
        doc.insert("scopes_supported".into(), json!(all_scopes));
        doc.insert("bearer_methods_supported".into(), json!(["header"]));
        doc.insert(
            "resource_name".into(),
            a.resource_name
                .clone()
                .unwrap_or_else(|| catalog.title.clone())
                .into(),
        );
        let metadata = serde_json::to_vec(&Value::Object(doc)).expect("JSON serializes");
        // The scope a client should ask for first: what the endpoint needs, else everything it
        // offers (so one consent covers every tool; step-up stays possible).
        let first = if a.scopes.is_empty() {
            &all_scopes
        } else {
            &a.scopes
        };
        let mut challenge_401 = format!("Bearer resource_metadata=\"{metadata_url}\"");
        if !first.is_empty() {
            challenge_401.push_str(&format!(", scope=\"{}\"", first.join(" ")));
        }
        let audiences = if a.audiences.is_empty() {
            vec![resource.clone()]
        } else {
            a.audiences.clone()
        };
        Ok(Some(Protection {
            resource,
            metadata_url,
            metadata: metadata.into(),
            audiences,
            issuers,
            scopes: a.scopes.clone(),
            all_scopes,
            filter_tools: a.filter_tools,
            challenge_401,
            verifier: verifier.clone(),
            views: Mutex::new(HashMap::new()),
        }))
    }

    /// One line for the start-up output.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "issuers {}, metadata {}",
            self.issuers.join(" "),
            self.metadata_url
        );
        if !self.scopes.is_empty() {
            s.push_str(&format!(", endpoint scopes `{}`", self.scopes.join(" ")));
        }
        if !self.all_scopes.is_empty() {
            s.push_str(&format!(
                ", scopes_supported `{}`",
                self.all_scopes.join(" ")
            ));
        }
        s
    }

    /// The caller behind the request's bearer token, or the `401` / `403` answer.
    pub async fn authorize(&self, headers: &HeaderMap) -> Result<Arc<Caller>, Response> {
        self.authorize_value(headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()))
            .await
    }

    /// [`Self::authorize`] given the `Authorization` header's (first) value.
    pub async fn authorize_value(
        &self,
        authorization: Option<&[u8]>,
    ) -> Result<Arc<Caller>, Response> {
        let token = match bearer(authorization) {
            Ok(t) => t,
            Err(e) => return Err(self.unauthorized(&e)),
        };
        let caller = self
            .verifier
            .verify(token, &self.issuers)
            .await
            .map_err(|e| self.unauthorized(&e))?;
        if !self.issuers.contains(&caller.issuer) {
            return Err(self.unauthorized(&AuthError::Invalid(format!(
                "tokens from issuer `{}` are not accepted here",
                caller.issuer
            ))));
        }
        if !caller.audiences.iter().any(|a| self.audiences.contains(a)) {
            return Err(self.unauthorized(&AuthError::Invalid(format!(
                "the token's audience is not this resource ({})",
                self.audiences.join(", ")
            ))));
        }
        if !caller.has_all(&self.scopes) {
            return Err(self.forbidden(&self.scopes, "this endpoint"));
        }
        Ok(caller)
    }

    /// `403 insufficient_scope` when a `tools/call` in `body` names a tool the caller may not use.
    pub fn check_call(&self, api: &ApiCatalog, caller: &Caller, body: &[u8]) -> Option<Response> {
        if caller.has_all(&self.all_scopes) {
            return None; // holds every scope there is: nothing to look at
        }
        #[derive(serde::Deserialize)]
        struct Probe {
            method: Option<String>,
            params: Option<ProbeParams>,
        }
        #[derive(serde::Deserialize)]
        struct ProbeParams {
            name: Option<String>,
            arguments: Option<Value>,
        }
        let probes: Vec<Probe> = match serde_json::from_slice::<Probe>(body) {
            Ok(p) => vec![p],
            Err(_) => serde_json::from_slice(body).unwrap_or_default(),
        };
        for p in probes {
            if p.method.as_deref() != Some("tools/call") {
                continue;
            }
            let Some(params) = p.params else { continue };
            let Some(mut name) = params.name else {
                continue;
            };
            // Search mode: `call_tool` needs the scopes of the tool it names.
            if let Some(target) = crate::search::called_tool(api, &name, params.arguments.as_ref())
            {
                name = target.to_string();
            }
            let Some(t) = api.tool(&name) else { continue };
            if !caller.may_use(&t.mapped.scopes) {
                let mut need: Vec<String> = self.scopes.clone();
                for s in &t.mapped.scopes[0] {
                    if !need.contains(s) {
                        need.push(s.clone());
                    }
                }
                return Some(self.forbidden(&need, &format!("tool `{name}`")));
            }
        }
        None
    }

    /// The tools `caller` may see (indices into the catalog), or `None` for all of them.
    pub fn visible(&self, api: &ApiCatalog, caller: &Caller) -> Option<Arc<Vec<usize>>> {
        if !self.filter_tools || caller.has_all(&self.all_scopes) {
            return None;
        }
        let key: Vec<String> = self
            .all_scopes
            .iter()
            .filter(|s| caller.has(s))
            .cloned()
            .collect();
        let mut views = self.views.lock().expect("views lock");
        if let Some(v) = views.get(&key) {
            return Some(v.clone());
        }
        let v: Arc<Vec<usize>> = Arc::new(
            api.tools
                .iter()
                .enumerate()
                .filter(|(_, t)| caller.may_use(&t.mapped.scopes))
                .map(|(i, _)| i)
                .collect(),
        );
        if views.len() >= MAX_VIEWS {
            views.clear();
        }
        views.insert(key, v.clone());
        Some(v)
    }

    /// `401`: no token, or one that cannot be used.
    fn unauthorized(&self, e: &AuthError) -> Response {
        // Reasons may quote the (unverified) token's `iss`, `alg` or `kid`: one printable line.
        let why = match e {
            AuthError::Missing => e.to_string(),
            AuthError::Invalid(why) => quoted_safe(&why.chars().take(200).collect::<String>()),
        };
        let (challenge, body) = match e {
            AuthError::Missing => (self.challenge_401.clone(), format!("{why}\n")),
            AuthError::Invalid(_) => (
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{why}\", {}",
                    self.challenge_401.trim_start_matches("Bearer ")
                ),
                format!("invalid token: {why}\n"),
            ),
        };
        tracing::debug!(resource = %self.resource, reason = %why, "request refused (401)");
        let reason = match e {
            AuthError::Missing => "missing",
            AuthError::Invalid(w) => crate::metrics::auth_reason(w),
        };
        crate::metrics::get()
            .auth_failures
            .get_or_create(&crate::metrics::Reason { reason })
            .inc();
        challenge_response(StatusCode::UNAUTHORIZED, &challenge, body)
    }

    /// `403 insufficient_scope`, naming the scopes to ask for.
    fn forbidden(&self, need: &[String], what: &str) -> Response {
        let scope = need.join(" ");
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\"",
            self.metadata_url
        );
        tracing::debug!(resource = %self.resource, %what, %scope, "request refused (403)");
        crate::metrics::get()
            .auth_failures
            .get_or_create(&crate::metrics::Reason { reason: "scope" })
            .inc();
        challenge_response(
            StatusCode::FORBIDDEN,
            &challenge,
            format!("insufficient scope: {what} needs `{scope}`\n"),
        )
    }
}

fn challenge_response(status: StatusCode, challenge: &str, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(challenge) {
        h.insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// The issuers an endpoint accepts: those its `auth.issuers` names; by default every configured
/// issuer except the development one (`dev` must be named, unless it is the only issuer), so
/// adding a dev issuer for one endpoint never opens the others to locally minted tokens.
pub fn accepted_issuers<'a>(api: &ApiConfig, auth: &'a AuthConfig) -> Vec<&'a IssuerConfig> {
    if !api.auth.issuers.is_empty() {
        return auth
            .issuers
            .iter()
            .filter(|c| api.auth.issuers.contains(&c.issuer))
            .collect();
    }
    let real: Vec<&IssuerConfig> = auth
        .issuers
        .iter()
        .filter(|c| c.issuer != DEV_ISSUER)
        .collect();
    if real.is_empty() {
        auth.issuers.iter().collect()
    } else {
        real
    }
}

/// Text safe inside a quoted-string of a challenge (RFC 6750: no `"` or `\`, printable ASCII).
fn quoted_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '"' || c == '\\' || !(' '..='~').contains(&c) {
                '\''
            } else {
                c
            }
        })
        .collect()
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1; header only).
pub fn bearer(authorization: Option<&[u8]>) -> Result<&str, AuthError> {
    let Some(v) = authorization else {
        return Err(AuthError::Missing);
    };
    let v = std::str::from_utf8(v)
        .ok()
        .filter(|v| crate::fastpath::is_visible_ascii(v.as_bytes()))
        .ok_or_else(|| AuthError::Invalid("the Authorization header is not ASCII".into()))?;
    let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

/// Names of the claims that header templates may use without declaring them.
pub const KNOWN_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "scope",
    "scp",
    "client_id",
    "azp",
    "email",
    "email_verified",
    "name",
    "preferred_username",
    "given_name",
    "family_name",
    "nickname",
    "groups",
    "roles",
    "entitlements",
    "tid",
    "oid",
    "upn",
    "acr",
    "amr",
    "auth_time",
    "sid",
    "act",
    "locale",
    "zoneinfo",
    "phone_number",
    "picture",
    "website",
];
