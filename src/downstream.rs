//! Downstream identity: what the backend learns about the caller, per API.
//!
//! Without token passthrough by default: the caller's token was issued for this gateway, not for
//! the backend. Modes: RFC 8693 token exchange (the caller's token swapped at its issuer for one
//! meant for the backend, cached per caller), the gateway's own client-credentials token, a
//! static API key / basic / bearer credential, and passthrough only when configured. Claims can
//! be mapped into headers by `handlebars` templates, compiled and checked at load.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use handlebars::Handlebars;
use handlebars::template::{Parameter, Template, TemplateElement};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use crate::auth::{Caller, KNOWN_CLAIMS, Verifier};
use crate::config::{ApiConfig, AuthConfig, ConfigError, Credential};

mod grant;
use grant::{ClientToken, Exchange, Grant};

#[derive(Debug, thiserror::Error)]
pub enum DownstreamError {
    #[error("this call needs the caller's identity, but the endpoint is not protected")]
    NoCaller,
    #[error("header `{header}`: {reason}")]
    Template { header: String, reason: String },
    #[error("cannot obtain a token for the backend: {0}")]
    Token(String),
}

/// One API's downstream settings, ready to apply.
pub struct Downstream {
    headers: Vec<(HeaderName, String)>,
    templates: Handlebars<'static>,
    credential: Cred,
    /// The global `auth` settings it was built under (the issuers a token exchange goes to).
    auth: String,
    /// Of its secrets' values when built (`None`: it has none, or one could not be read).
    secrets: Option<u64>,
}

enum Cred {
    None,
    Static(HeaderName, HeaderValue),
    Passthrough,
    Exchange(Box<Exchange>),
    Client(Box<ClientToken>),
}

impl Downstream {
    /// Compile the templates, read the secrets and check every claim name. `protected`: the
    /// endpoint has callers with tokens (else claim-based modes are a config error).
    pub fn build(
        api: &ApiConfig,
        auth: &AuthConfig,
        protected: bool,
        verifier: &Arc<Verifier>,
    ) -> Result<Downstream, ConfigError> {
        let err = |m: String| ConfigError::Invalid(format!("api `{}`: downstream: {m}", api.name));
        let d = &api.downstream;
        let needs_caller = !d.headers.is_empty()
            || matches!(
                d.credential,
                Credential::TokenExchange { .. } | Credential::Passthrough
            );
        if needs_caller && !protected {
            return Err(err(
                "`headers`, `token_exchange` and `passthrough` use the caller's token: configure auth.issuers (and keep auth.enabled)".into(),
            ));
        }
        // Claims a template may use: the registered / OpenID ones, plus each accepted
        // issuer's declared custom claims.
        let accepted = crate::auth::accepted_issuers(api, auth);
        let mut known: HashSet<String> = KNOWN_CLAIMS.iter().map(|s| s.to_string()).collect();
        for i in &accepted {
            known.extend(i.claims.iter().cloned());
        }
        let mut templates = Handlebars::new();
        templates.set_strict_mode(true);
        templates.register_escape_fn(handlebars::no_escape);
        let mut headers = Vec::new();
        for (name, source) in &d.headers {
            let hn = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| err(format!("`{name}` is not a valid header name")))?;
            if crate::ingest::is_gateway_header(hn.as_str()) {
                return Err(err(format!("header `{name}` is set by the gateway itself")));
            }
            let t = Template::compile(source)
                .map_err(|e| err(format!("header `{name}`: template does not compile: {e}")))?;
            let mut used = Vec::new();
            claims_in(&t, &mut used);
            if used.iter().any(|u| u == "lookup") {
                return Err(err(format!(
                    "header `{name}`: `lookup` is not supported in header templates (name the claim: {{{{claim}}}})"
                )));
            }
            if let Some(unknown) = used.iter().find(|c| !known.contains(*c)) {
                return Err(err(format!(
                    "header `{name}` uses claim `{unknown}`, which no accepted issuer declares (add it to that issuer's `claims`)"
                )));
            }
            templates.register_template(name, t);
            headers.push((hn, name.clone()));
        }
        // Each secret is read once, and hashed as `secrets_hash` hashes it (for SIGHUP).
        let hashed = std::cell::RefCell::new(None::<std::collections::hash_map::DefaultHasher>);
        let secret = |s: &crate::config::Secret, what: &str| {
            let v = s.read().map_err(|m| err(format!("{what}: {m}")))?;
            std::hash::Hash::hash(&v, hashed.borrow_mut().get_or_insert_with(Default::default));
            Ok(v)
        };
        let http = || crate::upstream::auth_client(Duration::from_secs(15)).map_err(err);
        let credential = match &d.credential {
            Credential::None => Cred::None,
            Credential::Passthrough => {
                tracing::warn!(api = %api.name, "downstream passthrough: callers' tokens are forwarded to the backend as they are; use token_exchange unless the backend is the tokens' audience");
                Cred::Passthrough
            }
            Credential::ApiKey { header, value } => {
                let hn = HeaderName::from_bytes(header.as_bytes())
                    .map_err(|_| err(format!("`{header}` is not a valid header name")))?;
                Cred::Static(
                    hn,
                    sensitive(&secret(value, "api_key value")?).map_err(err)?,
                )
            }
            Credential::Basic { username, password } => {
                let pair = format!("{username}:{}", secret(password, "basic password")?);
                let v = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                );
                Cred::Static(AUTHORIZATION, sensitive(&v).map_err(err)?)
            }
            Credential::Bearer { token } => {
                let v = format!("Bearer {}", secret(token, "bearer token")?);
                Cred::Static(AUTHORIZATION, sensitive(&v).map_err(err)?)
            }
            Credential::TokenExchange {
                client_id,
                client_secret,
                token_endpoint,
                audience,
                resource,
                scope,
            } => Cred::Exchange(Box::new(Exchange {
                grant: Grant {
                    client_id: client_id.clone(),
                    client_secret: secret(client_secret, "token_exchange client_secret")?,
                    audience: audience.clone(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                },
                issuer: match (token_endpoint, accepted.as_slice()) {
                    (Some(_), _) => None,
                    (None, [one]) => Some(
                        verifier
                            .iss_of(&one.issuer)
                            .unwrap_or(&one.issuer)
                            .to_string(),
                    ),
                    (None, _) => {
                        return Err(err(
                            "token_exchange: set `token_endpoint`, or accept exactly one issuer on this API (auth.issuers): the client secret must only go to one authorization server".into(),
                        ));
                    }
                },
                token_endpoint: token_endpoint.clone(),
                verifier: verifier.clone(),
                http: http()?,
                cache: quick_cache::sync::Cache::new(10_000),
            })),
            Credential::ClientCredentials {
                token_endpoint,
                client_id,
                client_secret,
                scope,
                audience,
                resource,
            } => Cred::Client(Box::new(ClientToken {
                grant: Grant {
                    client_id: client_id.clone(),
                    client_secret: secret(client_secret, "client_credentials client_secret")?,
                    audience: audience.clone(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                },
                token_endpoint: token_endpoint.clone(),
                http: http()?,
                current: Mutex::new(None),
                fetch: tokio::sync::Mutex::new(()),
            })),
        };
        Ok(Downstream {
            headers,
            templates,
            credential,
            auth: format!("{auth:?}"),
            secrets: hashed.into_inner().map(|h| std::hash::Hasher::finish(&h)),
        })
    }

    /// Whether it can be kept under the global `auth` settings `auth` (the same ones).
    pub fn built_under(&self, auth: &AuthConfig) -> bool {
        self.auth == format!("{auth:?}")
    }

    /// Whether `api`'s secrets still read as they did when it was built.
    pub fn secrets_unchanged(&self, api: &ApiConfig) -> bool {
        self.secrets.is_some() && self.secrets == secrets_hash(api)
    }

    /// Nothing to add to upstream requests.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && matches!(self.credential, Cred::None)
    }

    /// The headers to set on an upstream request for `caller`.
    pub async fn headers(&self, caller: Option<&Caller>) -> Result<HeaderMap, DownstreamError> {
        let mut out = HeaderMap::new();
        if self.is_empty() {
            return Ok(out);
        }
        if !self.headers.is_empty() {
            let caller = caller.ok_or(DownstreamError::NoCaller)?;
            for (name, template) in &self.headers {
                let v = self
                    .templates
                    .render(template, &caller.claims)
                    .map_err(|e| DownstreamError::Template {
                        header: name.to_string(),
                        reason: render_reason(&e),
                    })?;
                let v = HeaderValue::from_str(&v).map_err(|_| DownstreamError::Template {
                    header: name.to_string(),
                    reason: "the rendered value is not a valid header value (control characters?)"
                        .into(),
                })?;
                out.insert(name.clone(), v);
            }
        }
        match &self.credential {
            Cred::None => {}
            Cred::Static(name, value) => {
                out.insert(name.clone(), value.clone());
            }
            Cred::Passthrough => {
                let caller = caller.ok_or(DownstreamError::NoCaller)?;
                let v = sensitive(&format!("Bearer {}", caller.token))
                    .map_err(DownstreamError::Token)?;
                out.insert(AUTHORIZATION, v);
            }
            Cred::Exchange(x) => {
                let caller = caller.ok_or(DownstreamError::NoCaller)?;
                out.insert(AUTHORIZATION, x.token_for(caller).await?);
            }
            Cred::Client(c) => {
                out.insert(AUTHORIZATION, c.token().await?);
            }
        }
        Ok(out)
    }
}

/// RFC 6749 §2.3.1: client id and secret are form-encoded before HTTP basic.
pub(crate) fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A header value marked sensitive (kept out of debug output).
fn sensitive(v: &str) -> Result<HeaderValue, String> {
    let mut v = HeaderValue::from_str(v)
        .map_err(|_| "the credential contains characters not allowed in a header".to_string())?;
    v.set_sensitive(true);
    Ok(v)
}

fn render_reason(e: &handlebars::RenderError) -> String {
    match e.reason() {
        handlebars::RenderErrorReason::MissingVariable(Some(v)) => {
            format!("the caller's token has no `{v}` claim")
        }
        _ => e.to_string(),
    }
}

/// Top-level names a template reads (`{{email}}`, `{{#if groups}}`, `{{lookup claims "x"}}`...).
fn claims_in(t: &Template, out: &mut Vec<String>) {
    fn param(p: &Parameter, out: &mut Vec<String>) {
        match p {
            Parameter::Path(path) => {
                let raw = match path {
                    handlebars::Path::Relative((_, raw)) => raw.as_str(),
                    handlebars::Path::Local((_, _, raw)) => raw.as_str(),
                };
                let raw = raw.trim_start_matches("this.").trim_start_matches("./");
                // `[x-y]` is a segment literal: the claim named `x-y`.
                let first = match raw.strip_prefix('[') {
                    Some(rest) => rest.split(']').next().unwrap_or(""),
                    None => raw.split(['.', '/', '[']).next().unwrap_or(""),
                };
                if !first.is_empty() && !first.starts_with('@') && first != "this" {
                    out.push(first.to_string());
                }
            }
            Parameter::Subexpression(s) => {
                elem(&s.element, out);
            }
            _ => {}
        }
    }
    fn helper(h: &handlebars::template::HelperTemplate, out: &mut Vec<String>) {
        let is_plain = h.params.is_empty() && h.hash.is_empty() && !h.block;
        match &h.name {
            // `{{email}}`: a bare name is a variable (unless it is a helper with arguments).
            Parameter::Name(n) if is_plain => out.push(n.clone()),
            // A helper: `lookup` reads claims by computed names, which a load check cannot see.
            Parameter::Name(n) if n == "lookup" => out.push(n.clone()),
            other => param(other, out),
        }
        for p in h.params.iter().chain(h.hash.values()) {
            param(p, out);
        }
        if let Some(t) = &h.template {
            claims_in(t, out);
        }
        if let Some(t) = &h.inverse {
            claims_in(t, out);
        }
    }
    fn elem(e: &TemplateElement, out: &mut Vec<String>) {
        match e {
            TemplateElement::Expression(h)
            | TemplateElement::HtmlExpression(h)
            | TemplateElement::HelperBlock(h) => helper(h, out),
            _ => {}
        }
    }
    for e in &t.elements {
        elem(e, out);
    }
}

/// Of the values of `api`'s backend secrets, in the order `Downstream::build` reads them (a
/// credential has one); `None` when it has none or one cannot be read.
fn secrets_hash(api: &ApiConfig) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let secrets = api.downstream.credential.secrets();
    if secrets.is_empty() {
        return None;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for s in secrets {
        s.read().ok()?.hash(&mut h);
    }
    Some(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(src: &str) -> Vec<String> {
        let mut v = Vec::new();
        claims_in(&Template::compile(src).unwrap(), &mut v);
        v
    }

    /// The hash taken when an API is built and the one SIGHUP compares it with agree for every
    /// credential with secrets, and differ when one value changes.
    #[test]
    fn the_secrets_hash_at_build_is_the_one_sighup_takes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        let f = file.display();
        let verifier = Arc::new(Verifier::new(&AuthConfig::default()).unwrap());
        for credential in [
            format!("{{mode: bearer, token: {{file: {f}}}}}"),
            format!("{{mode: basic, username: svc, password: {{file: {f}}}}}"),
            format!("{{mode: api_key, header: X-Key, value: {{file: {f}}}}}"),
            format!(
                "{{mode: client_credentials, token_endpoint: 'http://127.0.0.1:9/t', client_id: c, client_secret: {{file: {f}}}}}"
            ),
        ] {
            std::fs::write(&file, "one\n").unwrap();
            let api: ApiConfig = yaml_serde::from_str(&format!(
                "name: t\nspec: x\ndownstream:\n  credential: {credential}\n"
            ))
            .unwrap();
            let built = Downstream::build(&api, &AuthConfig::default(), false, &verifier).unwrap();
            assert!(built.secrets_unchanged(&api), "{credential}");
            std::fs::write(&file, "two\n").unwrap();
            assert!(!built.secrets_unchanged(&api), "{credential}");
            std::fs::write(&file, "one\n").unwrap();
            assert!(built.secrets_unchanged(&api), "{credential}");
            std::fs::remove_file(&file).unwrap();
            assert!(!built.secrets_unchanged(&api), "{credential}: unreadable");
        }
    }

    #[test]
    fn template_claims_are_found() {
        assert_eq!(used("{{sub}}"), ["sub"]);
        assert_eq!(used("user={{email}};t={{tid}}"), ["email", "tid"]);
        assert_eq!(
            used("{{#if department}}{{department}}{{/if}}"),
            ["department", "department"]
        );
        assert!(used("{{address.city}}").contains(&"address".to_string()));
        assert!(used("static").is_empty());
        assert_eq!(used("{{[x-tenant]}}"), ["x-tenant"]);
        assert!(used("{{lookup this \"x\"}}").contains(&"lookup".to_string()));
    }
}
