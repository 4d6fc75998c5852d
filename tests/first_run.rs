//! A newcomer's first run, tried as a new user would: `rest2mcp serve` with no arguments, the
//! first tool call without a second terminal, and the rough edges the issue listed.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};

use serde_json::json;
use support::{Gateway, bin, is_error, text};

/// `rest2mcp serve` alone (only a port and a data directory chosen for the test): the console
/// with a new admin token (mode 0600), and the example API answering its first call.
#[tokio::test]
async fn serve_without_arguments_is_a_complete_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut cmd = Command::new(bin());
    cmd.env("REST2MCP_DATA_DIR", &data)
        .env_remove("REST2MCP_ADMIN_TOKEN");
    let gw = Gateway::spawn_cmd(cmd, &["serve", "--listen", "127.0.0.1:0"], dir);
    let out = &gw.startup;
    assert!(out.contains("/admin/"), "{out}");
    let token_file = data.join("admin-token");
    assert!(out.contains(&token_file.display().to_string()), "{out}");
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert!(
        out.contains(token.trim()),
        "the new token is printed: {out}"
    );
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(out.contains("/mcp/petstore"), "{out}");
    let r = gw.mcp("petstore").call("getPet", json!({"petId": 1})).await;
    assert!(!is_error(&r), "{r}");
    assert!(text(&r).contains("Rex"), "{r}");
    // The printed token opens the admin API.
    let admin = support::http_client()
        .get(format!("{}/admin/api/apis", gw.base))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    // A path that is not served names the ones that are (MCP Inspector, for one, may try /mcp).
    let r = support::http_client()
        .post(format!("{}/mcp", gw.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("/mcp/petstore"));
}

/// Without an `Accept` header every method answers the same way (JSON), on both paths.
#[tokio::test]
async fn requests_without_accept_are_answered_alike() {
    let backend = support::Backend::start().await;
    let gw = Gateway::start(&support::api_config(
        "echo",
        &support::fixture("echo.yaml"),
        &backend.url,
        "",
    ));
    let http = support::http_client();
    for (method, params) in [
        (
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}),
        ),
        ("ping", json!({})),
        ("tools/list", json!({})),
        (
            "tools/call",
            json!({"name": "getStatus", "arguments": {"code": 200}}),
        ),
    ] {
        for origin in [None, Some("http://localhost:1234")] {
            let mut req = http
                .post(format!("{}/mcp/echo", gw.base))
                .header("content-type", "application/json")
                .header("mcp-protocol-version", "2025-11-25")
                .body(
                    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
                        .to_string(),
                );
            if let Some(o) = origin {
                req = req.header("origin", o);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200, "{method} {origin:?}");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("application/json"),
                "{method} {origin:?}"
            );
        }
    }
}

/// The command line's rough edges: a reader that stops early, errors said once, logs without
/// colour codes in a file, the example backend on a taken port.
#[tokio::test]
async fn the_command_line_behaves() {
    let dir = tempfile::tempdir().unwrap();
    // `inspect ... | head -1`.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' inspect '{}' | head -1",
            bin(),
            support::fixture("echo.yaml").display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    // A missing config: one clear error, its cause said once.
    let out = Command::new(bin())
        .args(["serve", "--config", "/nonexistent/rest2mcp.yaml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    assert_eq!(
        err.matches("/nonexistent/rest2mcp.yaml").count(),
        1,
        "{err}"
    );
    // Logs written to a file carry no colour codes.
    let log = dir.path().join("log.txt");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:0\napis:\n  - name: echo\n    spec: {}\n    base_url: http://127.0.0.1:9\n",
            support::fixture("echo.yaml").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(bin())
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&log).unwrap().contains("ready") {
        assert!(std::time::Instant::now() < until, "never ready");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains('\u{1b}'), "colour codes in a file: {text}");
    // The example backend on a port that is taken: a clear error, no panic.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/debug/examples/petstore_backend");
    if example.exists() {
        let out = Command::new(&example)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--listen") && !err.contains("panicked"),
            "{err}"
        );
    }
}
