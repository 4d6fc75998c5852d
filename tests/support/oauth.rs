//! A real (small) OAuth authorization server for the auth tests, over HTTP on 127.0.0.1:0:
//! RFC 8414 metadata, a JWKS whose keys the test can rotate or break, a token endpoint for
//! RFC 8693 token exchange and client credentials (client `gw` / `gw-secret`), and RFC 7662
//! introspection. It records every token request. Tokens are signed with the test-only RSA
//! keys in `tests/fixtures/keys`.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

use super::fixture;

pub const CLIENT_ID: &str = "gw";
pub const CLIENT_SECRET: &str = "gw-secret";

#[derive(Default)]
struct AsState {
    issuer: String,
    /// Public JWKs served at /jwks.
    keys: Vec<Value>,
    /// /jwks answers 500 while set.
    jwks_down: bool,
    jwks_fetches: usize,
    /// Form bodies received at /token, decoded.
    token_requests: Vec<Map<String, Value>>,
    introspections: usize,
    /// Opaque tokens introspection now calls inactive.
    revoked: Vec<String>,
    /// `expires_in` of the tokens /token issues (default 300).
    token_ttl: Option<u64>,
}

pub struct AuthServer {
    pub issuer: String,
    state: Arc<Mutex<AsState>>,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jwk(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("keys/{name}.jwk.json"))).unwrap(),
    )
    .unwrap()
}

/// Sign `claims` with test key `key` (`rsa1`, `rsa2`), header `kid` = the key name.
pub fn sign(key: &str, claims: &Value) -> String {
    sign_typ(key, claims, "JWT")
}

/// `jsonwebtoken::encode` with the gateway's own signature provider (`ring`), as the gateway
/// has no other.
pub fn encode(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    rest2mcp::auth::crypto::install();
    jsonwebtoken::encode(header, claims, key).unwrap()
}

/// Same, with header `typ` = `typ`.
pub fn sign_typ(key: &str, claims: &Value, typ: &str) -> String {
    let pem = std::fs::read(fixture(&format!("keys/{key}.pem"))).unwrap();
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(key.to_string());
    h.typ = Some(typ.to_string());
    encode(&h, claims, &EncodingKey::from_rsa_pem(&pem).unwrap())
}

/// A token with `alg: none` and no signature.
pub fn unsigned(claims: &Value) -> String {
    let b = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        b(&json!({"alg": "none", "typ": "JWT"})),
        b(claims)
    )
}

/// HS256 keyed with the RSA *public* key: the classic algorithm-confusion attack.
pub fn hs256_with_public_key(key: &str, claims: &Value) -> String {
    let public = std::fs::read(fixture(&format!("keys/{key}.pub.pem"))).unwrap();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(key.to_string());
    encode(&h, claims, &EncodingKey::from_secret(&public))
}

impl AuthServer {
    /// Start with `rsa1` in the JWKS.
    pub async fn start() -> AuthServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(AsState {
            issuer: issuer.clone(),
            keys: vec![jwk("rsa1")],
            ..Default::default()
        }));
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/introspect", post(introspect))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        AuthServer { issuer, state }
    }

    /// Claims of a valid access token for `resource` with `scope`.
    pub fn claims(&self, sub: &str, resource: &str, scope: &str) -> Value {
        let t = now();
        json!({"iss": self.issuer, "sub": sub, "aud": resource, "scope": scope,
               "iat": t, "nbf": t - 5, "exp": t + 600, "client_id": "vscode",
               "email": format!("{sub}@example.com")})
    }

    /// A valid `rsa1`-signed token.
    pub fn token(&self, sub: &str, resource: &str, scope: &str) -> String {
        sign("rsa1", &self.claims(sub, resource, scope))
    }

    pub fn add_key(&self, name: &str) {
        self.state.lock().unwrap().keys.push(jwk(name));
    }

    pub fn set_jwks_down(&self, down: bool) {
        self.state.lock().unwrap().jwks_down = down;
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.lock().unwrap().jwks_fetches
    }

    pub fn revoke(&self, token: &str) {
        self.state.lock().unwrap().revoked.push(token.to_string());
    }

    pub fn introspections(&self) -> usize {
        self.state.lock().unwrap().introspections
    }

    /// Tokens issued from now on expire after `secs`.
    pub fn set_token_ttl(&self, secs: u64) {
        self.state.lock().unwrap().token_ttl = Some(secs);
    }

    pub fn token_requests(&self) -> Vec<Map<String, Value>> {
        self.state.lock().unwrap().token_requests.clone()
    }
}

async fn metadata(State(st): State<Arc<Mutex<AsState>>>) -> Json<Value> {
    let iss = st.lock().unwrap().issuer.clone();
    Json(json!({
        "issuer": iss,
        "jwks_uri": format!("{iss}/jwks"),
        "token_endpoint": format!("{iss}/token"),
        "introspection_endpoint": format!("{iss}/introspect"),
        "grant_types_supported": ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
    }))
}

async fn jwks(State(st): State<Arc<Mutex<AsState>>>) -> Response {
    let mut s = st.lock().unwrap();
    s.jwks_fetches += 1;
    if s.jwks_down {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    Json(json!({"keys": s.keys})).into_response()
}

fn form(body: &str) -> Map<String, Value> {
    url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
        .collect()
}

fn client_ok(headers: &HeaderMap) -> bool {
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str())
}

async fn token(
    State(st): State<Arc<Mutex<AsState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let f = form(&body);
    st.lock().unwrap().token_requests.push(f.clone());
    if !client_ok(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let n = st.lock().unwrap().token_requests.len();
    let ttl = st.lock().unwrap().token_ttl.unwrap_or(300);
    match f.get("grant_type").and_then(Value::as_str) {
        Some("urn:ietf:params:oauth:grant-type:token-exchange") => {
            // The subject's `sub`, read without checks: this AS issued it.
            let subject = f["subject_token"].as_str().unwrap_or("");
            let payload = subject.split('.').nth(1).unwrap_or("");
            let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            let sub = claims["sub"].as_str().unwrap_or("?");
            Json(
                json!({"access_token": format!("exchanged-{sub}-{n}"), "token_type": "Bearer",
                        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                        "expires_in": ttl}),
            )
            .into_response()
        }
        Some("client_credentials") => Json(json!({"access_token": format!("gateway-own-{n}"),
                                                 "token_type": "Bearer", "expires_in": ttl}))
        .into_response(),
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response(),
    }
}

/// `opaque-<sub>-<scope with + for spaces>-<audience>` is active; anything else is not.
async fn introspect(
    State(st): State<Arc<Mutex<AsState>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !client_ok(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let f = form(&body);
    let token = f.get("token").and_then(Value::as_str).unwrap_or("");
    let (iss, revoked) = {
        let mut s = st.lock().unwrap();
        s.introspections += 1;
        (s.issuer.clone(), s.revoked.iter().any(|r| r == token))
    };
    let parts: Vec<&str> = token.splitn(4, '~').collect();
    match parts.as_slice() {
        _ if revoked => Json(json!({"active": false})).into_response(),
        ["opaque", sub, scope, aud] => Json(json!({
            "active": true, "sub": sub, "scope": scope.replace('+', " "), "aud": aud,
            "iss": iss, "exp": now() + 600, "client_id": "vscode"
        }))
        .into_response(),
        _ => Json(json!({"active": false})).into_response(),
    }
}
