use super::keys::metadata_urls;
use super::*;
use serde_json::json;

#[test]
fn metadata_is_looked_up_where_each_spec_puts_it() {
    assert_eq!(
        metadata_urls("https://idp.example.com").unwrap(),
        [
            "https://idp.example.com/.well-known/oauth-authorization-server",
            "https://idp.example.com/.well-known/openid-configuration",
        ]
    );
    assert_eq!(
        metadata_urls("https://org.okta.com/oauth2/default").unwrap(),
        [
            "https://org.okta.com/.well-known/oauth-authorization-server/oauth2/default",
            "https://org.okta.com/oauth2/default/.well-known/openid-configuration",
            "https://org.okta.com/oauth2/default/.well-known/oauth-authorization-server",
            "https://org.okta.com/.well-known/openid-configuration/oauth2/default",
        ]
    );
    // Auth0's issuer ends with a slash: no double slash in the lookups.
    assert_eq!(
        metadata_urls("https://tenant.auth0.com/").unwrap()[1],
        "https://tenant.auth0.com/.well-known/openid-configuration"
    );
}

#[test]
fn a_key_serves_only_its_own_algorithm_family() {
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/keys/rsa1.pub.pem"
    ))
    .unwrap();
    let rsa = Key {
        kid: Some("rsa1".into()),
        alg: None,
        key: DecodingKey::from_rsa_pem(&pem).unwrap(),
    };
    assert!(rsa.usable_for(Some("rsa1"), Algorithm::RS256));
    assert!(rsa.usable_for(None, Algorithm::PS384));
    // The confusion attacks: the RSA public key as an HMAC secret or an EC key.
    assert!(!rsa.usable_for(Some("rsa1"), Algorithm::HS256));
    assert!(!rsa.usable_for(Some("rsa1"), Algorithm::ES256));
    assert!(!rsa.usable_for(Some("other"), Algorithm::RS256));
    let pinned = Key {
        alg: Some(Algorithm::RS512),
        ..rsa
    };
    assert!(
        !pinned.usable_for(Some("rsa1"), Algorithm::RS256),
        "JWK alg"
    );
    assert!(pinned.usable_for(Some("rsa1"), Algorithm::RS512));
}

#[test]
fn scopes_come_from_scope_or_scp() {
    let c = |v: Value| caller_from(v.as_object().unwrap().clone(), "t").unwrap();
    assert_eq!(c(json!({"exp": 1, "scope": "b a"})).scopes, ["a", "b"]);
    assert_eq!(c(json!({"exp": 1, "scp": ["x", "y"]})).scopes, ["x", "y"]);
    assert_eq!(c(json!({"exp": 1, "scp": "x y"})).scopes, ["x", "y"]);
    assert_eq!(
        c(json!({"exp": 1, "aud": ["r1", "r2"]})).audiences,
        ["r1", "r2"]
    );
    assert!(caller_from(Map::new(), "t").is_err(), "exp is required");
}
