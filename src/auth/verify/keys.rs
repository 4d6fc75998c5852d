//! One trusted issuer built from its config; where its metadata is looked for (RFC 8414 /
//! OpenID) and how a fetched JWK set becomes the keys tokens are checked with (`discovery`
//! fetches them).

use super::*;

impl Issuer {
    pub(super) fn new(c: &IssuerConfig) -> Result<Self, ConfigError> {
        let invalid = |m: String| ConfigError::Invalid(format!("auth issuer `{}`: {m}", c.issuer));
        let mut algorithms = Vec::new();
        for a in &c.algorithms {
            let alg: Algorithm = a
                .parse()
                .map_err(|_| invalid(format!("unknown algorithm `{a}`")))?;
            if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                return Err(invalid(format!(
                    "algorithm {a} is symmetric: only asymmetric algorithms are accepted"
                )));
            }
            algorithms.push(alg);
        }
        if algorithms.is_empty() {
            return Err(invalid("`algorithms` is empty".into()));
        }
        let introspection = match &c.introspection {
            None => None,
            Some(i) => Some(Introspection {
                endpoint: i.endpoint.clone(),
                client_id: i.client_id.clone(),
                client_secret: i
                    .client_secret
                    .read()
                    .map_err(|m| invalid(format!("introspection client_secret: {m}")))?,
                cache_secs: i.cache_secs,
            }),
        };
        if c.issuer == DEV_ISSUER {
            let path = crate::auth::dev::key_path(c.dev_key.as_deref());
            let key = crate::auth::dev::DevKey::load_or_create(&path).map_err(invalid)?;
            tracing::warn!(key = %path.display(), "trusting the DEVELOPMENT issuer (tokens from `rest2mcp dev-token`): never in production");
            return Ok(Issuer {
                name: c.issuer.clone(),
                iss: crate::auth::dev::DEV_ISS.to_string(),
                algorithms: vec![Algorithm::ES256],
                source: KeySource::Fixed,
                keys: ArcSwap::from_pointee(KeySet {
                    keys: vec![Key {
                        kid: Some(key.kid.clone()),
                        alg: Some(Algorithm::ES256),
                        key: key.decoding_key().map_err(invalid)?,
                    }],
                }),
                refresh: tokio::sync::Mutex::new(None),
                metadata: tokio::sync::OnceCell::new(),
                introspection,
                token_endpoint: c.token_endpoint.clone(),
                require_at_jwt: c.require_at_jwt,
            });
        }
        // Keys and metadata are discovered from the issuer URL; with `jwks` given, the issuer
        // is only compared with `iss` and may be any string.
        let is_url =
            url::Url::parse(&c.issuer).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
        if !is_url && c.jwks.is_none() {
            return Err(invalid(
                "`issuer` must be the issuer's http(s) URL (or `dev`), unless `jwks` is given"
                    .into(),
            ));
        }
        let source = match &c.jwks {
            None => KeySource::Discover,
            Some(j) if j.starts_with("https://") || j.starts_with("http://") => {
                KeySource::Url(j.clone())
            }
            Some(j) => {
                let p = PathBuf::from(j);
                if !p.exists() {
                    return Err(invalid(format!("jwks file {j} does not exist")));
                }
                KeySource::File(p)
            }
        };
        Ok(Issuer {
            name: c.issuer.clone(),
            iss: c.issuer.clone(),
            algorithms,
            source,
            keys: ArcSwap::from_pointee(KeySet::default()),
            refresh: tokio::sync::Mutex::new(None),
            metadata: tokio::sync::OnceCell::new(),
            introspection,
            token_endpoint: c.token_endpoint.clone(),
            require_at_jwt: c.require_at_jwt,
        })
    }
}

/// RFC 8414 (`/.well-known/oauth-authorization-server` inserted before the issuer's path),
/// then OpenID Connect (`/.well-known/openid-configuration` appended, and inserted).
pub(super) fn metadata_urls(iss: &str) -> Result<Vec<String>, String> {
    let u = url::Url::parse(iss).map_err(|e| format!("issuer `{iss}` is not a URL: {e}"))?;
    let origin = u.origin().ascii_serialization();
    let path = u.path().trim_end_matches('/');
    let mut v = vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}{path}/.well-known/openid-configuration"),
    ];
    if !path.is_empty() {
        // Servers that append rather than insert (Okta's custom authorization servers).
        v.push(format!(
            "{origin}{path}/.well-known/oauth-authorization-server"
        ));
        v.push(format!("{origin}/.well-known/openid-configuration{path}"));
    }
    Ok(v)
}

/// Usable signature keys of a JWK set (encryption keys and unsupported types are skipped).
pub(super) fn key_set(set: &JwkSet) -> KeySet {
    let mut keys = Vec::new();
    for jwk in &set.keys {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let alg = jwk.common.key_algorithm.and_then(|a| match a {
            KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            KeyAlgorithm::RS384 => Some(Algorithm::RS384),
            KeyAlgorithm::RS512 => Some(Algorithm::RS512),
            KeyAlgorithm::PS256 => Some(Algorithm::PS256),
            KeyAlgorithm::PS384 => Some(Algorithm::PS384),
            KeyAlgorithm::PS512 => Some(Algorithm::PS512),
            KeyAlgorithm::ES256 => Some(Algorithm::ES256),
            KeyAlgorithm::ES384 => Some(Algorithm::ES384),
            KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
            _ => None,
        });
        if jwk.common.key_algorithm.is_some() && alg.is_none() {
            continue; // a symmetric or encryption algorithm: never a signature key for us
        }
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => {
                if matches!(key.family(), jsonwebtoken::AlgorithmFamily::Hmac) {
                    continue;
                }
                keys.push(Key {
                    kid: jwk.common.key_id.clone(),
                    alg,
                    key,
                })
            }
            Err(e) => tracing::debug!(kid = ?jwk.common.key_id, error = %e, "JWK skipped"),
        }
    }
    KeySet { keys }
}
