//! What a bearer-token check costs on the hot path: a full RS256 JWT validation (first sight of
//! a token) and the cached check every later request pays. Run with
//! `cargo bench --bench token_check`; under `cargo test` it runs a few iterations as a smoke
//! test. Figures are per check, on this machine, from one run.

use std::time::Instant;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rest2mcp::auth::Verifier;
use rest2mcp::config::{AuthConfig, IssuerConfig};
use serde_json::json;

const ISS: &str = "https://issuer.example";
const AUD: &str = "http://127.0.0.1:8080/mcp/petstore";

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (fresh_n, cached_n) = if full { (2_000, 2_000_000) } else { (5, 50) };
    let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys");
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    let jwk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(keys.join("rsa1.jwk.json")).unwrap())
            .unwrap();
    std::fs::write(&jwks, json!({"keys": [jwk]}).to_string()).unwrap();
    let cfg = AuthConfig {
        issuers: vec![IssuerConfig::new(ISS, Some(jwks.to_str().unwrap().into()))],
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let verifier = Verifier::new(&cfg).unwrap();
    let key = EncodingKey::from_rsa_pem(&std::fs::read(keys.join("rsa1.pem")).unwrap()).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa1".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = |i: usize| {
        let claims = json!({"iss": ISS, "aud": AUD, "sub": format!("user-{i}"), "exp": now + 3600,
                            "nbf": now - 5, "iat": now, "scope": "pets:read pets:write",
                            "email": "someone@example.com", "client_id": "vscode"});
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let fresh: Vec<String> = (0..fresh_n).map(token).collect();
    let accepted = vec![ISS.to_string()];
    rt.block_on(async {
        let t = Instant::now();
        for tok in &fresh {
            verifier.verify(tok, &accepted).await.expect("valid token");
        }
        let per_fresh = t.elapsed().as_secs_f64() / fresh_n as f64;
        let tok = &fresh[0];
        let t = Instant::now();
        for _ in 0..cached_n {
            std::hint::black_box(verifier.verify(tok, &accepted).await.expect("cached"));
        }
        let per_cached = t.elapsed().as_secs_f64() / cached_n as f64;
        println!(
            "token check ({} B RS256 JWT): first sight {:.1} us, cached {:.0} ns ({} + {} checks)",
            tok.len(),
            per_fresh * 1e6,
            per_cached * 1e9,
            fresh_n,
            cached_n
        );
    });
}
