//! Tokens the gateway fetches for the backend: RFC 8693 token exchange (cached per caller
//! token) and the OAuth client-credentials grant (one token, refreshed before it expires).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use serde_json::{Map, Value};

use super::{DownstreamError, form_encode, sensitive};
use crate::auth::{Caller, Verifier};

pub(super) struct Grant {
    pub(super) client_id: String,
    pub(super) client_secret: String,
    pub(super) audience: Option<String>,
    pub(super) resource: Option<String>,
    pub(super) scope: Option<String>,
}

pub(super) struct Exchange {
    pub(super) grant: Grant,
    pub(super) token_endpoint: Option<String>,
    /// Without a configured endpoint: the one issuer whose token endpoint is used (so the
    /// gateway's client secret only ever goes to that issuer).
    pub(super) issuer: Option<String>,
    pub(super) verifier: Arc<Verifier>,
    pub(super) http: reqwest::Client,
    /// Exchanged tokens by caller token, with the instant they stop being used.
    pub(super) cache: quick_cache::sync::Cache<String, (HeaderValue, Instant)>,
}

pub(super) struct ClientToken {
    pub(super) grant: Grant,
    pub(super) token_endpoint: String,
    pub(super) http: reqwest::Client,
    pub(super) current: Mutex<Option<(HeaderValue, Instant)>>,
    pub(super) fetch: tokio::sync::Mutex<()>,
}

/// A backend token is reused at most this long, whatever its `expires_in` says.
const MAX_TOKEN_TTL_SECS: u64 = 24 * 3600;

/// A token is replaced this long before it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// Count a token exchange: `fetched`, `cached` or `failed`.
fn exchanged(result: &'static str) {
    crate::metrics::get()
        .token_exchange
        .get_or_create(&crate::metrics::Outcome { result })
        .inc();
}

impl Exchange {
    pub(super) async fn token_for(&self, caller: &Caller) -> Result<HeaderValue, DownstreamError> {
        if let Some((v, until)) = self.cache.get(caller.token.as_str())
            && Instant::now() < until
        {
            exchanged("cached");
            return Ok(v);
        }
        let endpoint = match (&self.token_endpoint, &self.issuer) {
            (Some(t), _) => t.clone(),
            (None, Some(iss)) if *iss == caller.issuer => self
                .verifier
                .token_endpoint(iss)
                .await
                .map_err(DownstreamError::Token)?,
            (None, _) => {
                return Err(DownstreamError::Token(format!(
                    "token exchange is configured for tokens from `{}` only",
                    self.issuer.as_deref().unwrap_or("-")
                )));
            }
        };
        let form = [
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", caller.token.as_str()),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            (
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ];
        let (v, ttl) = request_token(&self.http, &endpoint, &self.grant, &form)
            .await
            .inspect_err(|_| exchanged("failed"))?;
        exchanged("fetched");
        // Never kept past the caller's own token.
        let caller_left = Duration::from_secs(caller.expires_at.saturating_sub(now_secs()));
        let until = Instant::now() + ttl.min(caller_left).saturating_sub(EXPIRY_MARGIN);
        self.cache.insert(caller.token.clone(), (v.clone(), until));
        tracing::debug!(sub = %caller.subject(), "token exchanged for the backend");
        Ok(v)
    }
}

impl ClientToken {
    pub(super) async fn token(&self) -> Result<HeaderValue, DownstreamError> {
        let fresh = |c: &Mutex<Option<(HeaderValue, Instant)>>| {
            c.lock()
                .expect("token lock")
                .as_ref()
                .filter(|(_, until)| Instant::now() < *until)
                .map(|(v, _)| v.clone())
        };
        if let Some(v) = fresh(&self.current) {
            return Ok(v);
        }
        let _one_fetch = self.fetch.lock().await;
        if let Some(v) = fresh(&self.current) {
            return Ok(v);
        }
        let form = [("grant_type", "client_credentials")];
        let (v, ttl) = request_token(&self.http, &self.token_endpoint, &self.grant, &form).await?;
        *self.current.lock().expect("token lock") = Some((
            v.clone(),
            Instant::now() + ttl.saturating_sub(EXPIRY_MARGIN),
        ));
        Ok(v)
    }
}

/// POST a token request (client authenticated with HTTP basic); the `Authorization` value and
/// how long it lasts.
async fn request_token(
    http: &reqwest::Client,
    endpoint: &str,
    grant: &Grant,
    pairs: &[(&str, &str)],
) -> Result<(HeaderValue, Duration), DownstreamError> {
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.extend_pairs(pairs);
        if let Some(a) = &grant.audience {
            form.append_pair("audience", a);
        }
        if let Some(r) = &grant.resource {
            form.append_pair("resource", r);
        }
        if let Some(s) = &grant.scope {
            form.append_pair("scope", s);
        }
        form.finish()
    };
    let fail = |m: String| DownstreamError::Token(format!("{endpoint}: {m}"));
    let resp = http
        .post(endpoint)
        .basic_auth(
            form_encode(&grant.client_id),
            Some(form_encode(&grant.client_secret)),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| fail(e.to_string()))?;
    let answer: Map<String, Value> = serde_json::from_slice(&bytes).unwrap_or_default();
    if !status.is_success() {
        let why = answer
            .get("error")
            .and_then(Value::as_str)
            .map(|e| {
                let d = answer
                    .get("error_description")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                format!("{e} {d}").trim().to_string()
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(fail(why));
    }
    let token = answer
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("the answer has no access_token".into()))?;
    let ttl = Duration::from_secs(
        answer
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(300)
            .min(MAX_TOKEN_TTL_SECS),
    );
    let v = sensitive(&format!("Bearer {token}")).map_err(fail)?;
    Ok((v, ttl))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
