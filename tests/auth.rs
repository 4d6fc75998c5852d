//! The protected resource, driven over HTTP: the real binary, a real (test) authorization
//! server with a JWKS, real signed tokens, a recording backend.

mod support;

use base64::Engine as _;

use serde_json::{Value, json};
use support::oauth::{self, AuthServer, CLIENT_ID, CLIENT_SECRET};
use support::{Backend, Gateway, Mcp, fixture, is_error, text};

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

/// Petstore (pets:read on every operation, pets:write on create/delete) behind `issuer`.
fn config(a: &AuthServer, backend: &Backend, api_extra: &str, top_extra: &str) -> String {
    format!(
        "auth:\n  jwks_min_refresh_secs: 1\n  issuers:\n    - issuer: {}\n{top_extra}apis:\n  - name: pets\n    spec: {}\n    base_url: {}\n{api_extra}",
        a.issuer,
        fixture("../../specs/petstore.yaml").display(),
        backend.url
    )
}

impl Gateway {
    fn resource(&self, name: &str) -> String {
        format!("{}/mcp/{name}", self.base)
    }
}

async fn post(m: &Mcp, token: Option<&str>, body: &str) -> support::Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut h = vec![("mcp-protocol-version", "2025-11-25")];
    if let Some(a) = &auth {
        h.push(("authorization", a.as_str()));
    }
    m.post_raw(body, &h).await
}

async fn get_json(url: &str) -> Value {
    let r = support::http_client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

fn call_body(name: &str, args: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
           "params": {"name": name, "arguments": args}})
    .to_string()
}

fn challenge(r: &support::Reply) -> String {
    r.headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn metadata_and_challenges_guide_a_client_to_its_authorization_server() {
    let a = AuthServer::start().await;
    let b = Backend::start().await;
    let gw = Gateway::start(&config(&a, &b, "", ""));
    let resource = gw.resource("pets");
    let prm_url = format!("{}/.well-known/oauth-protected-resource/mcp/pets", gw.base);

    let prm = get_json(&prm_url).await;
    assert_eq!(prm["resource"], json!(resource));
    assert_eq!(prm["authorization_servers"], json!([a.issuer]));
    assert_eq!(prm["scopes_supported"], json!(["pets:read", "pets:write"]));
    assert_eq!(prm["bearer_methods_supported"], json!(["header"]));
    assert_eq!(prm["resource_name"], json!("Petstore"));
    // The bare well-known path serves the only protected endpoint's metadata too.
    let bare = get_json(&format!("{}/.well-known/oauth-protected-resource", gw.base)).await;
    assert_eq!(bare, prm);
    assert!(gw.startup.contains(&prm_url), "{}", gw.startup);

    let m = gw.mcp("pets");
    let r = post(&m, None, LIST).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        challenge(&r),
        format!(r#"Bearer resource_metadata="{prm_url}", scope="pets:read pets:write""#)
    );
    // The other methods are refused the same way (nothing leaks before the token check).
    let get = support::http_client().get(&m.url).send().await.unwrap();
    assert_eq!(get.status(), 401);

    let t = oauth::now();
    let good = a.claims("alice", &resource, "pets:read");
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            oauth::sign("rsa1", &with("exp", json!(t - 120))),
            "token expired",
        ),
        (
            "not yet valid",
            oauth::sign("rsa1", &with("nbf", json!(t + 600))),
            "not yet valid",
        ),
        (
            "wrong issuer",
            oauth::sign(
                "rsa1",
                &with("iss", json!("https://evil.example\nInjected: yes")),
            ),
            "not trusted",
        ),
        (
            "wrong audience",
            oauth::sign("rsa1", &with("aud", json!("https://other.example/mcp"))),
            "audience",
        ),
        ("alg none", oauth::unsigned(&good), "alg none"),
        (
            "HS256 with the RSA public key",
            oauth::hs256_with_public_key("rsa1", &good),
            "symmetric",
        ),
        (
            // An allowed algorithm of another family, with the RSA key's kid: the key-family
            // check refuses it before any signature check is tried.
            "ES256 header naming the RSA key",
            {
                let pem = std::fs::read(fixture("keys/rsa1.pem")).unwrap();
                let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                h.kid = Some("rsa1".into());
                let t = oauth::encode(
                    &h,
                    &good,
                    &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
                );
                let (_, rest) = t.split_once('.').unwrap();
                let es = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(br#"{"alg":"ES256","typ":"JWT","kid":"rsa1"}"#);
                format!("{es}.{rest}")
            },
            "no signing key",
        ),
        (
            "signed by a key the issuer never published",
            oauth::sign("rsa2", &good),
            "no signing key",
        ),
        ("garbage", "not-a-token".to_string(), "not a JWT"),
    ];
    for (what, token, expect) in &cases {
        let r = post(&m, Some(token), LIST).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
        let c = challenge(&r);
        assert!(
            c.starts_with(r#"Bearer error="invalid_token""#),
            "{what}: {c}"
        );
        assert!(
            c.contains(&format!(r#"resource_metadata="{prm_url}""#)),
            "{what}: {c}"
        );
        assert!(r.text.contains(expect), "{what}: {}", r.text);
        assert_eq!(r.text.lines().count(), 1, "{what}: one line: {}", r.text);
        assert!(
            !r.text.contains(token.as_str()) && !c.contains(token.as_str()),
            "{what}: token echoed"
        );
    }

    let ok = post(
        &m,
        Some(&a.token("alice", &resource, "pets:read pets:write")),
        LIST,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json()["result"]["tools"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn scopes_decide_what_a_caller_sees_and_may_call() {
    let a = AuthServer::start().await;
    let b = Backend::start().await;
    let api =
        "    auth:\n      scopes: [pets:read]\n    tools:\n      listPets: {scopes: [pets:list]}\n";
    let gw = Gateway::start(&config(&a, &b, api, ""));
    let resource = gw.resource("pets");
    let m = gw.mcp("pets");
    let prm = format!("{}/.well-known/oauth-protected-resource/mcp/pets", gw.base);

    // The endpoint's own scope is missing: 403 (not 401), naming what to ask for.
    let r = post(&m, Some(&a.token("alice", &resource, "pets:write")), LIST).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        challenge(&r),
        format!(
            r#"Bearer error="insufficient_scope", scope="pets:read", resource_metadata="{prm}""#
        )
    );

    // Read-only caller: tools/list shows only what it may call (on both protocol paths).
    let reader = a.token("bob", &resource, "pets:read");
    let names = |v: &Value| -> Vec<String> {
        v["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r = post(&m, Some(&reader), LIST).await;
    assert_eq!(names(&r.json()), ["getPet"]);
    // A browser client (an `Origin`) is always served by rmcp: its `list_tools` filters too.
    let before = gw.served().await;
    let rmcp_path = m
        .post_raw(
            LIST,
            &[
                ("mcp-protocol-version", "2025-11-25"),
                ("authorization", &format!("Bearer {reader}")),
                ("origin", "http://localhost:6274"),
            ],
        )
        .await;
    assert_eq!(
        names(&rmcp_path.json()),
        ["getPet"],
        "rmcp's path filters too"
    );
    let after = gw.served().await;
    assert_eq!(after.1 - before.1, 1.0, "answered by rmcp");

    // Calling a tool beyond the caller's scopes: 403 insufficient_scope with the step-up scope.
    let r = post(
        &m,
        Some(&reader),
        &call_body("createPet", json!({"name": "Rex"})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        challenge(&r),
        format!(
            r#"Bearer error="insufficient_scope", scope="pets:read pets:write", resource_metadata="{prm}""#
        )
    );
    assert!(b.requests().is_empty(), "nothing reached the backend");

    // The override replaces the spec's scopes for that tool.
    let r = post(&m, Some(&reader), &call_body("listPets", json!({}))).await;
    assert_eq!(r.status, 403);
    assert!(
        challenge(&r).contains(r#"scope="pets:read pets:list""#),
        "{}",
        challenge(&r)
    );

    let writer = a.token("carol", &resource, "pets:read pets:write pets:list");
    let r = post(&m, Some(&writer), LIST).await;
    assert_eq!(names(&r.json()).len(), 4);
    let r = post(
        &m,
        Some(&writer),
        &call_body("createPet", json!({"name": "Rex"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!is_error(&r.json()["result"]), "{}", r.text);
    assert_eq!(b.last().method, "POST");
}

#[tokio::test]
async fn key_rotation_works_without_restart_and_an_outage_fails_closed() {
    let a = AuthServer::start().await;
    let b = Backend::start().await;
    let gw = Gateway::start(&config(&a, &b, "", ""));
    let resource = gw.resource("pets");
    let m = gw.mcp("pets");
    let claims = a.claims("alice", &resource, "pets:read");
    let new_key_token = oauth::sign("rsa2", &claims);

    assert_eq!(post(&m, Some(&new_key_token), LIST).await.status, 401);
    // The issuer rotates: rsa2 is published. After the refresh interval, it is accepted.
    a.add_key("rsa2");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let r = loop {
        let r = post(&m, Some(&new_key_token), LIST).await;
        if r.status == 200 || std::time::Instant::now() > until {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(r.status, 200, "{}", r.text);

    // Unknown kids re-fetch at most once per interval: a burst costs one fetch.
    let before = a.jwks_fetches();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for i in 0..5 {
        let mut c = claims.clone();
        c["jti"] = json!(i);
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some("never-published".into());
        let pem = std::fs::read(fixture("keys/rsa1.pem")).unwrap();
        let t = oauth::encode(
            &h,
            &c,
            &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
        );
        assert_eq!(post(&m, Some(&t), LIST).await.status, 401);
    }
    assert_eq!(a.jwks_fetches() - before, 1, "rate-limited refresh");

    // The JWKS goes down: an unknown key fails closed (after a fetch attempt), and the keys
    // already known keep working after that failed fetch.
    a.set_jwks_down(true);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let mut c = a.claims("eve", &resource, "pets:read");
    c["jti"] = json!("x");
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some("rsa3".into());
    let pem = std::fs::read(fixture("keys/rsa2.pem")).unwrap();
    let unknown = oauth::encode(
        &h,
        &c,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
    );
    let before = a.jwks_fetches();
    assert_eq!(post(&m, Some(&unknown), LIST).await.status, 401);
    assert_eq!(a.jwks_fetches(), before + 1, "a refresh was attempted");
    for (sub, key) in [("dave", "rsa1"), ("frank", "rsa2")] {
        let fresh = oauth::sign(key, &a.claims(sub, &resource, "pets:read"));
        assert_eq!(
            post(&m, Some(&fresh), LIST).await.status,
            200,
            "{key} still known"
        );
    }
}

#[tokio::test]
async fn opaque_tokens_are_introspected() {
    let a = AuthServer::start().await;
    let b = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
    let cfg = format!(
        "auth:\n  issuers:\n    - issuer: {iss}\n      introspection:\n        endpoint: {iss}/introspect\n        client_id: {CLIENT_ID}\n        client_secret: {{file: {}}}\n        cache_secs: 1\napis:\n  - name: pets\n    spec: {}\n    base_url: {}\n    downstream:\n      headers: {{X-User-Id: '{{{{sub}}}}'}}\n",
        secret.display(),
        fixture("../../specs/petstore.yaml").display(),
        b.url,
        iss = a.issuer,
    );
    let gw = Gateway::start(&cfg);
    let m = gw.mcp("pets");
    let good = format!("opaque~frank~pets:read~{}", gw.resource("pets"));
    let r = post(&m, Some(&good), &call_body("getPet", json!({"petId": 3}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(b.last().header("x-user-id"), Some("frank"));
    let r = post(&m, Some("opaque-unknown-token"), LIST).await;
    assert_eq!(r.status, 401);
    assert!(r.text.contains("not active"), "{}", r.text);
    let other_aud = "opaque~frank~pets:read~https://elsewhere.example/mcp";
    assert_eq!(post(&m, Some(other_aud), LIST).await.status, 401);

    // A revoked token stops working once its short cache entry (cache_secs: 1) has lapsed.
    a.revoke(&good);
    assert_eq!(
        post(&m, Some(&good), LIST).await.status,
        200,
        "still cached"
    );
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let r = loop {
        let r = post(&m, Some(&good), LIST).await;
        if r.status != 200 || std::time::Instant::now() > until {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(r.status, 401, "{}", r.text);
    // An inactive answer is remembered: retries do not each cost an introspection.
    let n = a.introspections();
    for _ in 0..3 {
        assert_eq!(
            post(&m, Some("opaque-unknown-token"), LIST).await.status,
            401
        );
    }
    assert_eq!(a.introspections(), n, "answered from the inactive cache");
}

/// A spec whose operation takes `X-User-Id` as a header parameter: the gateway owns that header.
fn whoami_spec(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("whoami.yaml");
    std::fs::write(
        &p,
        "openapi: 3.0.3\ninfo: {title: whoami, version: '1'}\npaths:\n  /whoami:\n    get:\n      operationId: whoami\n      parameters:\n        - {name: X-User-Id, in: header, schema: {type: string}}\n        - {name: X-Trace, in: header, schema: {type: string}}\n      responses: {'200': {description: ok}}\n",
    )
    .unwrap();
    p
}

#[tokio::test]
async fn each_downstream_mode_reaches_the_backend_as_configured() {
    let a = AuthServer::start().await;
    let b = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = whoami_spec(dir.path());
    let secret = dir.path().join("gw-secret");
    std::fs::write(&secret, CLIENT_SECRET).unwrap();
    let key = dir.path().join("api-key");
    std::fs::write(&key, "k-123\n").unwrap();
    let api = |name: &str, downstream: &str| {
        format!(
            "  - name: {name}\n    spec: {}\n    base_url: {}\n    downstream:\n{downstream}",
            spec.display(),
            b.url
        )
    };
    let cs = format!("client_secret: {{file: {}}}", secret.display());
    let cfg = format!(
        "auth:\n  issuers:\n    - issuer: {}\n      claims: [department]\napis:\n{}{}{}{}{}{}",
        a.issuer,
        api(
            "headers",
            "      headers:\n        X-User-Id: '{{sub}}'\n        X-Who: '{{sub}} <{{email}}> {{department}}'\n"
        ),
        api(
            "exchange",
            &format!(
                "      credential: {{mode: token_exchange, client_id: {CLIENT_ID}, {cs}, audience: https://backend.internal}}\n      headers: {{X-User-Id: '{{{{sub}}}}'}}\n"
            )
        ),
        api(
            "client",
            &format!(
                "      credential: {{mode: client_credentials, token_endpoint: {}/token, client_id: {CLIENT_ID}, {cs}, scope: backend.all}}\n",
                a.issuer
            )
        ),
        api(
            "apikey",
            &format!(
                "      credential: {{mode: api_key, header: X-Api-Key, value: {{file: {}}}}}\n",
                key.display()
            )
        ),
        api(
            "basic",
            &format!(
                "      credential: {{mode: basic, username: svc, password: {{file: {}}}}}\n",
                key.display()
            )
        ),
        api("passthrough", "      credential: {mode: passthrough}\n"),
    );
    let gw = Gateway::start(&cfg);
    let call = |api: &'static str, token: String| {
        let m = gw.mcp(api);
        async move {
            let r = post(&m, Some(&token), &call_body("whoami", json!({}))).await;
            assert_eq!(r.status, 200, "{api}: {}", r.text);
            r.json()["result"].clone()
        }
    };
    let mut claims = a.claims("alice", &gw.resource("headers"), "");
    claims["department"] = json!("R&D");
    let res = call("headers", oauth::sign("rsa1", &claims)).await;
    assert!(!is_error(&res), "{}", text(&res));
    let seen = b.last();
    assert_eq!(seen.header("x-user-id"), Some("alice"));
    assert_eq!(seen.header("x-who"), Some("alice <alice@example.com> R&D"));
    assert_eq!(
        seen.header("authorization"),
        None,
        "no token passthrough by default"
    );

    // The client cannot set a header the gateway owns: it is not even an argument.
    let m = gw.mcp("headers");
    let tok = oauth::sign("rsa1", &claims);
    let r = post(&m, Some(&tok), LIST).await.json();
    let props = &r["result"]["tools"][0]["inputSchema"]["properties"];
    assert!(
        props.get("X-User-Id").is_none() && props.get("X-Trace").is_some(),
        "{props}"
    );
    let r = post(
        &m,
        Some(&tok),
        &call_body("whoami", json!({"X-User-Id": "root"})),
    )
    .await;
    assert!(
        is_error(&r.json()["result"]),
        "unknown argument refused: {}",
        r.text
    );

    // A token without a claim a template needs: a clear tool error, nothing sent.
    let n = b.requests().len();
    let res = call("headers", a.token("bob", &gw.resource("headers"), "")).await;
    assert!(is_error(&res) && text(&res).contains("department"), "{res}");
    assert_eq!(b.requests().len(), n);

    // Token exchange: the backend gets a token minted for it, never the caller's; one exchange
    // per caller token while it lasts.
    let caller_token = a.token("alice", &gw.resource("exchange"), "");
    call("exchange", caller_token.clone()).await;
    call("exchange", caller_token.clone()).await;
    let seen = b.last();
    let auth = seen.header("authorization").unwrap().to_string();
    assert!(auth.starts_with("Bearer exchanged-alice-"), "{auth}");
    assert_eq!(seen.header("x-user-id"), Some("alice"));
    let exchanges: Vec<_> = a
        .token_requests()
        .into_iter()
        .filter(|f| f["grant_type"] == json!("urn:ietf:params:oauth:grant-type:token-exchange"))
        .collect();
    assert_eq!(exchanges.len(), 1, "cached per caller");
    assert_eq!(exchanges[0]["subject_token"], json!(caller_token));
    assert_eq!(exchanges[0]["audience"], json!("https://backend.internal"));
    // Another caller gets its own exchanged token, never alice's.
    call("exchange", a.token("bob", &gw.resource("exchange"), "")).await;
    let auth = b.last().header("authorization").unwrap().to_string();
    assert!(auth.starts_with("Bearer exchanged-bob-"), "{auth}");

    // Client credentials: the gateway's own token, fetched once and reused.
    call("client", a.token("alice", &gw.resource("client"), "")).await;
    call("client", a.token("bob", &gw.resource("client"), "")).await;
    assert!(
        b.last()
            .header("authorization")
            .unwrap()
            .starts_with("Bearer gateway-own-")
    );
    let cc: Vec<_> = a
        .token_requests()
        .into_iter()
        .filter(|f| f["grant_type"] == json!("client_credentials"))
        .collect();
    assert_eq!(cc.len(), 1);
    assert_eq!(cc[0]["scope"], json!("backend.all"));

    call("apikey", a.token("alice", &gw.resource("apikey"), "")).await;
    assert_eq!(b.last().header("x-api-key"), Some("k-123"));
    call("basic", a.token("alice", &gw.resource("basic"), "")).await;
    assert_eq!(b.last().header("authorization"), Some("Basic c3ZjOmstMTIz"));
    let own = a.token("alice", &gw.resource("passthrough"), "");
    call("passthrough", own.clone()).await;
    assert_eq!(
        b.last().header("authorization"),
        Some(format!("Bearer {own}").as_str())
    );
}

#[tokio::test]
async fn command_line_flags_protect_a_single_spec() {
    let a = AuthServer::start().await;
    let b = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let key: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("keys/rsa1.jwk.json")).unwrap())
            .unwrap();
    std::fs::write(&jwks, json!({"keys": [key]}).to_string()).unwrap();
    let port = support::free_port();
    let public = format!("http://localhost:{port}");
    let spec = fixture("../../specs/petstore.yaml");
    let gw = Gateway::spawn(
        &[
            "serve",
            "--spec",
            spec.to_str().unwrap(),
            "--base-url",
            &b.url,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--public-url",
            &public,
            "--issuer",
            &a.issuer,
            "--jwks",
            jwks.to_str().unwrap(),
            "--scope",
            "pets:read",
        ],
        dir,
    );
    let resource = format!("{public}/mcp/petstore");
    let m = gw.mcp("petstore");
    let r = post(&m, None, LIST).await;
    assert_eq!(r.status, 401);
    assert!(
        challenge(&r).contains(&format!(
            "{public}/.well-known/oauth-protected-resource/mcp/petstore"
        )),
        "{}",
        challenge(&r)
    );
    // The audience is the public resource URL, not the address the gateway listens on.
    let wrong = a.token("alice", &gw.resource("petstore"), "pets:read");
    assert_eq!(post(&m, Some(&wrong), LIST).await.status, 401);
    assert_eq!(
        post(&m, Some(&a.token("alice", &resource, "pets:write")), LIST)
            .await
            .status,
        403
    );
    let r = post(&m, Some(&a.token("alice", &resource, "pets:read")), LIST).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(a.jwks_fetches(), 0, "keys came from the --jwks file");
}

#[tokio::test]
async fn bad_auth_config_is_a_clear_error_at_load() {
    let spec = fixture("../../specs/petstore.yaml");
    let api = |down: &str| {
        format!(
            "auth:\n  issuers: [{{issuer: 'https://idp.example.com'}}]\napis:\n  - name: p\n    spec: {}\n    base_url: http://127.0.0.1:9\n    downstream:\n{down}",
            spec.display()
        )
    };
    let e = support::refused(&api("      headers: {X-Dept: '{{department}}'}\n"));
    assert!(
        e.contains("claim `department`") && e.contains("claims"),
        "{e}"
    );
    let e = support::refused(&api("      headers: {X-Id: '{{#if sub}}'}\n"));
    assert!(e.contains("X-Id") && e.contains("does not compile"), "{e}");
    let e = support::refused(&api(
        "      credential: {mode: api_key, header: X-Key, value: {env: REST2MCP_TEST_UNSET_VAR}}\n",
    ));
    assert!(
        e.contains("REST2MCP_TEST_UNSET_VAR") && e.contains("not set"),
        "{e}"
    );
    let e = support::refused(&format!(
        "auth:\n  issuers: [{{issuer: 'https://idp.example.com', algorithms: [HS256]}}]\napis:\n  - name: p\n    spec: {}\n    base_url: http://127.0.0.1:9\n",
        spec.display()
    ));
    assert!(e.contains("HS256") && e.contains("symmetric"), "{e}");
    let e = support::refused(&format!(
        "apis:\n  - name: p\n    spec: {}\n    base_url: http://127.0.0.1:9\n    downstream:\n      headers: {{X-Id: '{{{{sub}}}}'}}\n",
        spec.display()
    ));
    assert!(e.contains("auth.issuers"), "{e}");
}

#[tokio::test]
async fn dev_token_opens_a_dev_issuer_endpoint_from_the_command_line() {
    let a = AuthServer::start().await;
    let b = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("dev.p8");
    let spec = fixture("../../specs/petstore.yaml");
    // Two issuers on the gateway; `petstore` accepts only the development one, `other` (no
    // list) every issuer but the development one.
    let cfg = format!(
        "auth:\n  issuers:\n    - {{issuer: {}}}\n    - {{issuer: dev, dev_key: {}}}\napis:\n  - name: petstore\n    spec: {spec}\n    base_url: {b}\n    auth: {{issuers: [dev]}}\n    downstream:\n      headers: {{X-User-Id: '{{{{sub}}}}'}}\n  - name: other\n    spec: {spec}\n    base_url: {b}\n",
        a.issuer,
        key.display(),
        spec = spec.display(),
        b = b.url
    );
    let gw = Gateway::start(&cfg);
    let out = std::process::Command::new(support::bin())
        .args([
            "dev-token",
            "--key",
            key.to_str().unwrap(),
            "--audience",
            &gw.resource("petstore"),
            "--audience",
            &gw.resource("other"),
            "--scope",
            "pets:read",
            "--sub",
            "alice",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("DEVELOPMENT"));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let m = gw.mcp("petstore");
    let r = post(&m, Some(&token), &call_body("getPet", json!({"petId": 1}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(b.last().header("x-user-id"), Some("alice"));
    assert_eq!(post(&m, None, LIST).await.status, 401);
    let other = post(
        &m,
        Some(&a.token("alice", &gw.resource("petstore"), "pets:read")),
        LIST,
    )
    .await;
    assert_eq!(other.status, 401);
    assert!(other.text.contains("not accepted here"), "{}", other.text);
    let r = post(&gw.mcp("other"), Some(&token), LIST).await;
    assert_eq!(
        r.status, 401,
        "dev tokens only where `dev` is named: {}",
        r.text
    );
    // The PRM lists no authorization server for the local key (clients cannot use it).
    let prm = get_json(&format!(
        "{}/.well-known/oauth-protected-resource/mcp/petstore",
        gw.base
    ))
    .await;
    assert!(prm.get("authorization_servers").is_none(), "{prm}");
}

#[tokio::test]
async fn browser_clients_get_cors_on_allowed_origins_only() {
    let a = AuthServer::start().await;
    let b = Backend::start().await;
    let gw = Gateway::start(&config(&a, &b, "", ""));
    let m = gw.mcp("pets");
    let http = support::http_client();
    let preflight = http
        .request(reqwest::Method::OPTIONS, &m.url)
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204, "no token asked for a preflight");
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:6274");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );

    // The 401 names the origin and exposes the challenge, so the client can start OAuth.
    let r = post(&m, None, LIST).await;
    assert!(
        r.headers.get("access-control-allow-origin").is_none(),
        "no Origin, no CORS"
    );
    let r = m
        .post_raw(
            LIST,
            &[
                ("mcp-protocol-version", "2025-11-25"),
                ("origin", "http://localhost:6274"),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "http://localhost:6274"
    );
    assert!(
        r.headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("www-authenticate")
    );
    let token = a.token("alice", &gw.resource("pets"), "pets:read");
    let auth = format!("Bearer {token}");
    let ok = m
        .post_raw(
            LIST,
            &[
                ("mcp-protocol-version", "2025-11-25"),
                ("origin", "http://localhost:6274"),
                ("authorization", &auth),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        ok.headers["access-control-allow-origin"],
        "http://localhost:6274"
    );

    // Another site gets no CORS headers, and its request is refused.
    let evil = http
        .request(reqwest::Method::OPTIONS, &m.url)
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    let r = m
        .post_raw(
            LIST,
            &[
                ("mcp-protocol-version", "2025-11-25"),
                ("origin", "https://evil.example"),
                ("authorization", &auth),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn an_issuer_can_require_rfc9068_access_token_types() {
    let a = AuthServer::start().await;
    let b = Backend::start().await;
    let cfg = config(&a, &b, "", "").replace(
        &format!("    - issuer: {}\n", a.issuer),
        &format!("    - issuer: {}\n      require_at_jwt: true\n", a.issuer),
    );
    let gw = Gateway::start(&cfg);
    let m = gw.mcp("pets");
    let claims = a.claims("alice", &gw.resource("pets"), "pets:read");
    let r = post(&m, Some(&oauth::sign("rsa1", &claims)), LIST).await;
    assert_eq!(r.status, 401);
    assert!(r.text.contains("at+jwt"), "{}", r.text);
    let r = post(&m, Some(&oauth::sign_typ("rsa1", &claims, "at+jwt")), LIST).await;
    assert_eq!(r.status, 200, "{}", r.text);
}
