//! Token validation, shared by every endpoint: JWT access tokens (RFC 9068) checked against
//! each trusted issuer's JWKS with `jsonwebtoken`, and opaque tokens by RFC 7662 introspection.
//!
//! Keys are found by RFC 8414 / OpenID discovery (or configured), cached, and re-fetched when
//! a token names an unknown `kid` (at most once per `jwks_min_refresh_secs`): key rotation needs
//! no restart, a JWKS outage keeps known keys working and fails unknown ones closed. A
//! validated token is remembered (keyed by the whole token, never past its `exp`), so the hot
//! path pays one hash lookup instead of a signature check.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::AuthError;
use crate::config::{AuthConfig, ConfigError, DEV_ISSUER, IssuerConfig};

mod discovery;
mod introspect;
mod keys;
use introspect::Introspection;

/// A validated caller.
pub struct Caller {
    /// The token's `iss`.
    pub issuer: String,
    /// `aud`, as a list.
    pub audiences: Vec<String>,
    /// Granted scopes (`scope` or `scp`), sorted.
    pub scopes: Vec<String>,
    /// Every claim of the token (or of the introspection answer).
    pub claims: Map<String, Value>,
    /// The token itself (for token exchange and explicit passthrough only).
    pub token: String,
    /// Unix time after which the token is no longer accepted.
    pub expires_at: u64,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("issuer", &self.issuer)
            .field("sub", &self.subject())
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive() // never the token
    }
}

impl Caller {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes
            .binary_search_by(|s| s.as_str().cmp(scope))
            .is_ok()
    }

    pub fn has_all(&self, scopes: &[String]) -> bool {
        scopes.iter().all(|s| self.has(s))
    }

    /// Whether one of the alternatives is fully granted (no alternatives: nothing needed).
    pub fn may_use(&self, alternatives: &[Vec<String>]) -> bool {
        alternatives.is_empty() || alternatives.iter().any(|a| self.has_all(a))
    }

    /// The caller's subject, for logs.
    pub fn subject(&self) -> &str {
        self.claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or("-")
    }

    /// The OAuth client the token was issued to (`client_id`, else `azp`), if it says.
    pub fn client_id(&self) -> Option<&str> {
        ["client_id", "azp"]
            .iter()
            .find_map(|k| self.claims.get(*k).and_then(Value::as_str))
    }
}

/// Every trusted issuer, their keys, and the cache of validated tokens.
pub struct Verifier {
    issuers: Vec<Arc<Issuer>>,
    http: reqwest::Client,
    leeway: u64,
    cache_secs: u64,
    min_refresh: Duration,
    /// Validated tokens (by their full text) and until when each may be reused (unix secs).
    cache: quick_cache::sync::Cache<String, (Arc<Caller>, u64)>,
    /// Opaque tokens introspection called inactive, until when (unix secs).
    inactive: quick_cache::sync::Cache<String, u64>,
}

/// Where an issuer's keys come from.
enum KeySource {
    Url(String),
    File(PathBuf),
    Discover,
    /// The development key (fixed set).
    Fixed,
}

struct Issuer {
    /// The config's name for it (`dev` for the development issuer).
    name: String,
    /// The exact `iss` its tokens carry.
    iss: String,
    algorithms: Vec<Algorithm>,
    source: KeySource,
    keys: ArcSwap<KeySet>,
    /// Serializes fetches; holds when the last one started and whether it worked.
    refresh: tokio::sync::Mutex<Option<(Instant, bool)>>,
    /// Discovered metadata (RFC 8414 / OpenID), fetched once.
    metadata: tokio::sync::OnceCell<Map<String, Value>>,
    introspection: Option<Introspection>,
    token_endpoint: Option<String>,
    require_at_jwt: bool,
}

#[derive(Default)]
struct KeySet {
    keys: Vec<Key>,
}

struct Key {
    kid: Option<String>,
    alg: Option<Algorithm>,
    key: DecodingKey,
}

impl Key {
    /// Whether a token whose header names `kid` and `alg` may be checked with this key: the
    /// `kid` matches, the JWK's own `alg` (if any) is the header's, and the key's family is the
    /// algorithm's. The last stops the algorithm confusions (an RSA public key used as an
    /// HMAC secret, or as an EC key) even for an algorithm the issuer allows.
    fn usable_for(&self, kid: Option<&str>, alg: Algorithm) -> bool {
        (kid.is_none() || self.kid.as_deref() == kid)
            && self.alg.is_none_or(|a| a == alg)
            && self.key.family() == alg.family()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// After a failed JWKS fetch, the next one may start this soon.
const FAILED_FETCH_RETRY: Duration = Duration::from_secs(1);

/// Largest number of validated tokens remembered.
const TOKEN_CACHE_ENTRIES: usize = 10_000;

impl Verifier {
    /// Check the issuer entries (algorithms, secrets, key files) and set up their key caches.
    /// Nothing is fetched here; [`Verifier::prefetch`] warms the caches in the background.
    pub fn new(cfg: &AuthConfig) -> Result<Self, ConfigError> {
        super::crypto::install();
        let http =
            crate::upstream::auth_client(Duration::from_secs(10)).map_err(ConfigError::Invalid)?;
        let mut issuers = Vec::new();
        for c in &cfg.issuers {
            issuers.push(Arc::new(Issuer::new(c)?));
        }
        for (i, a) in issuers.iter().enumerate() {
            if issuers[..i].iter().any(|b| b.iss == a.iss) {
                return Err(ConfigError::Invalid(format!(
                    "auth.issuers lists `{}` twice",
                    a.name
                )));
            }
        }
        Ok(Verifier {
            issuers,
            http,
            leeway: cfg.leeway_secs,
            cache_secs: cfg.token_cache_secs,
            min_refresh: Duration::from_secs(cfg.jwks_min_refresh_secs),
            cache: quick_cache::sync::Cache::new(TOKEN_CACHE_ENTRIES),
            inactive: quick_cache::sync::Cache::new(TOKEN_CACHE_ENTRIES),
        })
    }

    /// The `iss` value of the issuer config named `name`.
    pub fn iss_of(&self, name: &str) -> Option<&str> {
        self.issuers
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.iss.as_str())
    }

    /// Whether every issuer's signing keys are cached (or its tokens are introspected): for
    /// `/readyz`. A reason per issuer that is not ready.
    pub fn keys_ready(&self) -> Result<(), String> {
        let missing: Vec<&str> = self
            .issuers
            .iter()
            .filter(|i| i.introspection.is_none() && i.keys.load().keys.is_empty())
            .map(|i| i.iss.as_str())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("no signing keys yet for {}", missing.join(", ")))
        }
    }

    /// [`Verifier::keys_ready`], after trying once more (no more often than failed fetches
    /// are retried) to fetch the keys of issuers that have none.
    pub async fn ready(&self) -> Result<(), String> {
        for i in &self.issuers {
            if i.introspection.is_none() && i.keys.load().keys.is_empty() {
                let _ = self.refresh_keys(i, false).await;
            }
        }
        self.keys_ready()
    }

    /// Fetch every issuer's keys once (failures are logged; requests retry later).
    pub async fn prefetch(self: Arc<Self>) {
        for i in &self.issuers {
            if let Err(e) = self.refresh_keys(i, true).await {
                tracing::warn!(issuer = %i.iss, error = %e, "cannot load signing keys yet; will retry on the first token");
            }
        }
    }

    /// The caller behind `token`, or why it is refused. `accepted`: the `iss` values the
    /// endpoint accepts (empty: all); opaque tokens are only sent to those issuers.
    pub async fn verify(&self, token: &str, accepted: &[String]) -> Result<Arc<Caller>, AuthError> {
        let t = now();
        if let Some((c, keep_until)) = self.cache.get(token) {
            if t <= keep_until && t <= c.expires_at + self.leeway {
                crate::metrics::get().token_cached.inc();
                return Ok(c);
            }
            self.cache.remove(token); // checked again below (revocation, key removal)
        }
        crate::metrics::get().token_verified.inc();
        let (caller, keep_until) = if token.bytes().filter(|b| *b == b'.').count() == 2 {
            let c = self.verify_jwt(token).await?;
            let until = c.expires_at.min(t + self.cache_secs);
            (c, until)
        } else {
            if self.inactive.get(token).is_some_and(|until| t <= until) {
                return Err(AuthError::Invalid("token is not active".into()));
            }
            self.introspect(token, accepted).await?
        };
        let caller = Arc::new(caller);
        if keep_until > t {
            self.cache
                .insert(token.to_string(), (caller.clone(), keep_until));
        }
        Ok(caller)
    }

    async fn verify_jwt(&self, token: &str) -> Result<Caller, AuthError> {
        let bad = |m: &str| AuthError::Invalid(m.to_string());
        let mut parts = token.split('.');
        let (h, p) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let head: Map<String, Value> = decode_part(h).ok_or_else(|| bad("malformed token"))?;
        let alg_name = head.get("alg").and_then(Value::as_str).unwrap_or("");
        if alg_name.eq_ignore_ascii_case("none") || alg_name.is_empty() {
            return Err(bad("unsigned tokens (alg none) are refused"));
        }
        if alg_name.starts_with("HS") {
            return Err(bad(&format!(
                "symmetric algorithm {alg_name} is refused (asymmetric only)"
            )));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| bad(&format!("unsupported algorithm `{alg_name}`")))?;
        let payload: Map<String, Value> = decode_part(p).ok_or_else(|| bad("malformed token"))?;
        let iss = payload
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("the token has no `iss` claim"))?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.iss == iss)
            .ok_or_else(|| bad(&format!("issuer `{iss}` is not trusted")))?;
        if !issuer.algorithms.contains(&header.alg) {
            return Err(bad(&format!(
                "algorithm {:?} is not accepted for issuer `{iss}`",
                header.alg
            )));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.validate_aud = false; // checked per endpoint (RFC 8707), see Protection
        validation.set_issuer(&[iss]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        if issuer.require_at_jwt
            && !header.typ.as_deref().is_some_and(|t| {
                t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
            })
        {
            return Err(bad("not an access token (`typ` must be at+jwt)"));
        }
        let kid = header.kid.as_deref();
        let mut refreshed = false;
        loop {
            let keys = issuer.keys.load();
            let mut found = false;
            let mut last_err = None;
            for k in keys.keys.iter().filter(|k| k.usable_for(kid, header.alg)) {
                found = true;
                match jsonwebtoken::decode::<Map<String, Value>>(token, &k.key, &validation) {
                    Ok(data) => return caller_from(data.claims, token),
                    Err(e) => last_err = Some(e),
                }
            }
            if let Some(e) = last_err {
                return Err(jwt_error(&e));
            }
            if found {
                return Err(bad("signature does not verify"));
            }
            if refreshed {
                return Err(bad(&format!(
                    "no signing key `{}` for issuer `{iss}`",
                    kid.unwrap_or("(none)")
                )));
            }
            // Unknown key: the issuer may have rotated. Re-fetch (rate-limited), then retry once.
            if let Err(e) = self.refresh_keys(issuer, false).await {
                tracing::warn!(issuer = %iss, error = %e, "cannot refresh signing keys");
            }
            refreshed = true;
        }
    }
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn jwt_error(e: &jsonwebtoken::errors::Error) -> AuthError {
    use jsonwebtoken::errors::ErrorKind as K;
    let m = match e.kind() {
        K::ExpiredSignature => "token expired".to_string(),
        K::ImmatureSignature => "token not yet valid (nbf)".to_string(),
        K::InvalidSignature => "signature does not verify".to_string(),
        K::InvalidIssuer => "wrong issuer".to_string(),
        K::InvalidAlgorithm => "algorithm does not match the key".to_string(),
        K::MissingRequiredClaim(c) => format!("the token has no `{c}` claim"),
        K::InvalidClaimFormat(c) => format!("claim `{c}` is malformed"),
        _ => "malformed token".to_string(),
    };
    AuthError::Invalid(m)
}

/// The caller from validated claims.
fn caller_from(claims: Map<String, Value>, token: &str) -> Result<Caller, AuthError> {
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let audiences = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => vec![],
    };
    let mut scopes: Vec<String> = match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) | (None, Some(Value::String(s))) => {
            s.split_whitespace().map(String::from).collect()
        }
        (None, Some(Value::Array(a))) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => vec![],
    };
    scopes.sort();
    scopes.dedup();
    let expires_at = claims
        .get("exp")
        .and_then(|e| e.as_u64().or_else(|| e.as_f64().map(|f| f as u64)))
        .ok_or_else(|| AuthError::Invalid("the token has no `exp`".into()))?;
    Ok(Caller {
        issuer,
        audiences,
        scopes,
        claims,
        token: token.to_string(),
        expires_at,
    })
}

#[cfg(test)]
mod tests;
