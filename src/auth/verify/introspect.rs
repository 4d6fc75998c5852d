//! Opaque tokens: RFC 7662 introspection at each issuer configured for it, an inactive answer
//! remembered briefly so a retrying client costs no introspection per request.

use serde_json::{Map, Value};

use super::{AuthError, Caller, Verifier, caller_from, now};

/// An issuer's introspection endpoint and the gateway's client credentials there.
pub(super) struct Introspection {
    pub(super) endpoint: String,
    pub(super) client_id: String,
    pub(super) client_secret: String,
    pub(super) cache_secs: u64,
}

/// Inactive opaque tokens are remembered this long (seconds): no introspection per retry.
const INACTIVE_CACHE_SECS: u64 = 30;

impl Verifier {
    /// RFC 7662: ask each issuer that introspects; the first that knows the token answers.
    pub(super) async fn introspect(
        &self,
        token: &str,
        accepted: &[String],
    ) -> Result<(Caller, u64), AuthError> {
        let mut any = false;
        let mut failed = false;
        for issuer in &self.issuers {
            let Some(i) = &issuer.introspection else {
                continue;
            };
            if !accepted.is_empty() && !accepted.contains(&issuer.iss) {
                continue; // never show a token to an issuer the endpoint does not trust
            }
            any = true;
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", token)
                .append_pair("token_type_hint", "access_token")
                .finish();
            let answer = self
                .http
                .post(&i.endpoint)
                .basic_auth(
                    crate::downstream::form_encode(&i.client_id),
                    Some(crate::downstream::form_encode(&i.client_secret)),
                )
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(body)
                .send()
                .await;
            let claims: Map<String, Value> = match answer {
                Ok(r) if r.status().is_success() => match r.bytes().await {
                    Ok(b) => serde_json::from_slice(&b).unwrap_or_default(),
                    Err(_) => Map::new(),
                },
                Ok(r) => {
                    tracing::warn!(endpoint = %i.endpoint, status = %r.status(), "introspection failed");
                    failed = true;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(endpoint = %i.endpoint, error = %e, "introspection failed");
                    failed = true;
                    continue;
                }
            };
            if claims.get("active") != Some(&Value::Bool(true)) {
                continue;
            }
            let mut claims = claims;
            claims.remove("active");
            let iss_claim = claims.get("iss").and_then(Value::as_str);
            if iss_claim.is_some_and(|s| s != issuer.iss) {
                continue;
            }
            if iss_claim.is_none() {
                claims.insert("iss".into(), issuer.iss.clone().into());
            }
            let t = now();
            if !claims.contains_key("exp") {
                claims.insert("exp".into(), (t + i.cache_secs).into());
            }
            if claims
                .get("nbf")
                .and_then(Value::as_u64)
                .is_some_and(|nbf| nbf > t + self.leeway)
            {
                return Err(AuthError::Invalid("token not yet valid (nbf)".into()));
            }
            let caller = caller_from(claims, token)?;
            if caller.expires_at + self.leeway < t {
                return Err(AuthError::Invalid("token expired".into()));
            }
            let until = caller.expires_at.min(t + i.cache_secs);
            return Ok((caller, until));
        }
        if any && !failed {
            self.inactive
                .insert(token.to_string(), now() + INACTIVE_CACHE_SECS);
        }
        Err(AuthError::Invalid(if any {
            "token is not active".into()
        } else {
            "not a JWT, and no issuer is configured for token introspection".into()
        }))
    }
}
