//! End to end, as a user connects: a real OAuth authorization server (npm `oidc-provider`,
//! resource indicators -> JWT access tokens for the gateway's resource URL) and the official
//! MCP TypeScript SDK client with its OAuth support. The client gets the 401, reads the
//! Protected Resource Metadata, registers, completes authorization code + PKCE headlessly,
//! lists tools and calls one; the backend sees the user's identity, never the user's token.
//! Node scripts: `tests/e2e/` (dependencies pinned in its package-lock.json).

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Backend, Gateway, fixture};

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

/// `npm ci` once (the test command does it first; this covers a bare `cargo test`).
fn node_modules() {
    let dir = e2e_dir();
    if dir.join("node_modules/oidc-provider").exists()
        && dir.join("node_modules/@modelcontextprotocol/sdk").exists()
    {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .expect("npm is needed for the end-to-end test (apt-get install npm)");
    assert!(
        out.status.success(),
        "npm ci in tests/e2e failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the authorization server; its issuer URL.
fn auth_server(resource: &str) -> (Killed, String) {
    auth_server_with(resource, "pets:read pets:write", "")
}

/// The same, with these scopes and (`"<client_id> <redirect_uri>"`, or empty) a public client.
fn auth_server_with(resource: &str, scopes: &str, public_client: &str) -> (Killed, String) {
    let mut child = Command::new("node")
        .arg(e2e_dir().join("auth_server.mjs"))
        .env("AS_PORT", "0")
        .env("RESOURCE", resource)
        .env("SCOPES", scopes)
        .env("PUBLIC_CLIENT", public_client)
        .env("USER_ID", "alice")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node is needed for the end-to-end test");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(iss) = line.strip_prefix("ready ") {
                let _ = tx.send(iss.to_string());
            }
        }
    });
    let child = Killed(child);
    let issuer = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("oidc-provider did not start");
    (child, issuer)
}

#[tokio::test]
async fn mcp_sdk_client_signs_in_with_oidc_provider_and_the_backend_sees_the_user() {
    node_modules();
    let backend = Backend::start().await;
    // The resource URL must be known to the authorization server before the gateway starts.
    let port = support::free_port();
    let resource = format!("http://127.0.0.1:{port}/mcp/petstore");
    let (_as, issuer) = auth_server(&resource);
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "listen: 127.0.0.1:{port}\nauth:\n  issuers:\n    - issuer: {issuer}\napis:\n  - name: petstore\n    spec: {}\n    base_url: {}\n    downstream:\n      headers:\n        X-User-Id: '{{{{sub}}}}'\n        X-User-Email: '{{{{email}}}}'\n",
        fixture("../../specs/petstore.yaml").display(),
        backend.url
    );
    let path = dir.path().join("rest2mcp.yaml");
    std::fs::write(&path, cfg).unwrap();
    let _gw = Gateway::spawn(&["serve", "--config", path.to_str().unwrap()], dir);

    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(e2e_dir().join("mcp_client.mjs"))
            // listPets declares no output schema (its answer is an array): the recording
            // backend's echo is a fine answer for it.
            .args([resource.as_str(), "listPets", r#"{"limit": 2}"#])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let trace = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client failed:\n{trace}");
    let reply: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");

    // The discovery dance happened as the MCP authorization spec describes.
    assert!(
        trace.contains(&format!("POST http://127.0.0.1:{port}/mcp/petstore -> 401")),
        "{trace}"
    );
    assert!(
        trace.contains(&format!(
            "GET http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp/petstore -> 200"
        )),
        "{trace}"
    );
    let claims = &reply["token_claims"];
    assert_eq!(
        claims["aud"],
        format!("http://127.0.0.1:{port}/mcp/petstore")
    );
    assert_eq!(claims["iss"], issuer.as_str());

    let tools: Vec<&str> = reply["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        tools.contains(&"getPet") && tools.contains(&"createPet"),
        "{tools:?}"
    );
    assert_ne!(reply["result"]["isError"], Value::Bool(true), "{reply}");

    let seen = backend.last();
    assert_eq!(seen.uri, "/pets?limit=2");
    assert_eq!(seen.header("x-user-id"), Some("alice"));
    assert_eq!(seen.header("x-user-email"), Some("alice@example.com"));
    assert_eq!(
        seen.header("authorization"),
        None,
        "the user's token stays at the gateway"
    );
}

/// The console signs in at a real authorization server: authorization code with PKCE in
/// headless Chromium (`tests/console/oauth_signin.mjs`), a token for `{public_url}/admin` with
/// the admin scope, which the admin API then takes.
#[tokio::test]
async fn the_console_signs_in_with_pkce_at_oidc_provider() {
    node_modules();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists() && root.join("tests/console/node_modules").exists(),
        "Chromium and tests/console's packages are needed (scripts/test.sh installs them)"
    );
    let port = support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (_as, issuer) = auth_server_with(
        &format!("{base}/admin"),
        "rest2mcp:admin",
        &format!("rest2mcp-console {base}/admin/"),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "listen: 127.0.0.1:{port}\nauth:\n  issuers:\n    - issuer: {issuer}\nadmin:\n  issuer: {issuer}\n  client_id: rest2mcp-console\nstore:\n  data_dir: {}\n",
        dir.path().join("data").display()
    );
    let path = dir.path().join("rest2mcp.yaml");
    std::fs::write(&path, cfg).unwrap();
    let _gw = Gateway::spawn(&["serve", "--config", path.to_str().unwrap()], dir);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("tests/console/oauth_signin.mjs")
            .current_dir(root)
            .env("BASE", &base)
            .env("CHROMIUM", chromium)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the sign-in failed:\n{stderr}");
    let reply: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    eprintln!("{reply}");
    assert!(
        reply["user"].as_str().unwrap_or("").contains("alice"),
        "{reply}"
    );
    assert_eq!(reply["session"]["status"], 200, "{reply}");
    assert_eq!(reply["session"]["body"]["via"], "oauth", "{reply}");
    assert_eq!(reply["session"]["body"]["subject"], "alice", "{reply}");
}
