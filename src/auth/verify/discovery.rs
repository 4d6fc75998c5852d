//! Where an issuer's signing keys and endpoints come from: its JWKS (configured URL or file, or
//! found by RFC 8414 / OpenID discovery), re-fetched at most once per `jwks_min_refresh_secs`.

use std::sync::Arc;
use std::time::Instant;

use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};

use super::keys::{key_set, metadata_urls};
use super::{FAILED_FETCH_RETRY, Issuer, KeySource, Verifier};

impl Verifier {
    /// Re-fetch an issuer's JWKS unless another fetch started less than `min_refresh` ago
    /// (one second after a failed one: an outage is retried soon, but never per request).
    pub(super) async fn refresh_keys(&self, issuer: &Issuer, force: bool) -> Result<(), String> {
        if matches!(issuer.source, KeySource::Fixed) {
            return Ok(()); // the development key: nothing to fetch, nothing to replace
        }
        let mut last = issuer.refresh.lock().await;
        let wait = |ok: bool| {
            if ok {
                self.min_refresh
            } else {
                self.min_refresh.min(FAILED_FETCH_RETRY)
            }
        };
        if !force && last.is_some_and(|(t, ok)| t.elapsed() < wait(ok)) {
            return Ok(());
        }
        *last = Some((Instant::now(), false));
        let set = self.fetch_keys(issuer).await?;
        let keys = key_set(&set);
        tracing::info!(issuer = %issuer.iss, keys = keys.keys.len(), "signing keys loaded");
        issuer.keys.store(Arc::new(keys));
        *last = Some((Instant::now(), true));
        Ok(())
    }

    pub(super) async fn fetch_keys(&self, issuer: &Issuer) -> Result<JwkSet, String> {
        Ok(match &issuer.source {
            KeySource::Fixed => unreachable!("refresh_keys returns first for a fixed key set"),
            KeySource::File(p) => {
                let text = std::fs::read(p)
                    .map_err(|e| format!("cannot read JWKS {}: {e}", p.display()))?;
                serde_json::from_slice(&text)
                    .map_err(|e| format!("JWKS {} is not a JWK set: {e}", p.display()))?
            }
            KeySource::Url(u) => self.get_json(u).await?,
            KeySource::Discover => {
                let meta = self.metadata(issuer).await?;
                let uri = meta
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or("the issuer's metadata has no jwks_uri")?;
                self.get_json(uri).await?
            }
        })
    }

    pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, String> {
        let resp = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", resp.status()));
        }
        let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not the expected JSON: {e}"))
    }

    /// The issuer's authorization server metadata: RFC 8414, then OpenID Connect discovery.
    pub(super) async fn metadata<'a>(
        &'a self,
        issuer: &'a Issuer,
    ) -> Result<&'a Map<String, Value>, String> {
        issuer
            .metadata
            .get_or_try_init(|| async {
                let mut errors = Vec::new();
                for url in metadata_urls(&issuer.iss)? {
                    match self.get_json::<Map<String, Value>>(&url).await {
                        Ok(m) => {
                            if m.get("issuer").and_then(Value::as_str) != Some(issuer.iss.as_str())
                            {
                                errors.push(format!("{url}: `issuer` is not `{}`", issuer.iss));
                                continue;
                            }
                            return Ok(m);
                        }
                        Err(e) => errors.push(e),
                    }
                }
                Err(format!(
                    "no authorization server metadata: {}",
                    errors.join("; ")
                ))
            })
            .await
    }

    /// The token endpoint of the issuer whose `iss` is given (configured or discovered).
    pub async fn token_endpoint(&self, iss: &str) -> Result<String, String> {
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.iss == iss)
            .ok_or_else(|| format!("issuer `{iss}` is not configured"))?;
        if let Some(t) = &issuer.token_endpoint {
            return Ok(t.clone());
        }
        let meta = self.metadata(issuer).await?;
        meta.get("token_endpoint")
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| format!("issuer `{iss}` advertises no token_endpoint"))
    }

    /// The authorization and token endpoints of the configured issuer `name` (from its
    /// metadata), for the admin console's sign-in.
    pub async fn endpoints_of(&self, name: &str) -> Option<(Option<String>, Option<String>)> {
        let issuer = self.issuers.iter().find(|i| i.name == name)?;
        let meta = self.metadata(issuer).await.ok()?;
        let get = |k: &str| meta.get(k).and_then(Value::as_str).map(String::from);
        Some((
            get("authorization_endpoint"),
            issuer
                .token_endpoint
                .clone()
                .or_else(|| get("token_endpoint")),
        ))
    }
}
