//! The admin API against clients that misbehave: names that try to leave the data directory,
//! and clients that hang up in the middle of a write.

mod support;

use serde_json::{Value, json};
use support::admin::{AdminClient, TOKEN, admin_config, data_dir, things_spec};
use support::{Backend, Gateway};
use tokio::io::AsyncWriteExt;

/// `..`, separators and absolute paths in `{name}` name no API: reads answer 404 and a delete
/// touches nothing outside the store.
#[tokio::test]
async fn names_never_leave_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let gw = Gateway::start(&admin_config(&data));
    let admin = AdminClient::new(&gw);
    // A directory shaped like a stored API, outside the store, beside it.
    let victim = dir.path().join("victim");
    std::fs::create_dir_all(victim.join("versions")).unwrap();
    std::fs::write(victim.join("current"), "1\n").unwrap();
    let escaped = |p: &str| p.replace('/', "%2F");
    // Refused as naming nothing, and nothing of the store's own paths in the answer.
    let refused = |r: &support::Reply, what: &str| {
        assert!(
            r.status == 404 || r.status == 400,
            "{what}: {} {}",
            r.status,
            r.text
        );
        assert!(
            !r.text.contains(data.to_str().unwrap()),
            "{what}: {}",
            r.text
        );
    };
    for name in [
        escaped("../../victim"),
        escaped(victim.to_str().unwrap()),
        "..".into(),
        ".x".into(),
    ] {
        for path in ["versions", "mapping", "operations"] {
            let r = admin.get(&format!("/apis/{name}/{path}")).await;
            refused(&r, &format!("GET {name}/{path}"));
        }
        let delete = [("x-rest2mcp-admin", "1")];
        let r = admin
            .send("DELETE", &format!("/apis/{name}"), None, &delete)
            .await;
        refused(&r, &format!("DELETE {name}"));
        let r = admin
            .post_json(&format!("/apis/{name}/rollback"), &json!({"version": 1}))
            .await;
        refused(&r, &format!("rollback {name}"));
    }
    assert!(
        victim.join("current").exists(),
        "the delete reached outside the store"
    );
}

/// Clients send a write and hang up at once, many times: every write the store kept is served,
/// and after a restart the same versions are served (the store and what is served never part).
#[tokio::test]
async fn a_client_hanging_up_mid_write_leaves_store_and_served_agreeing() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let gw = Gateway::start(&admin_config(&data));
    let addr = gw.base.trim_start_matches("http://").to_string();
    const N: usize = 40;
    for i in 0..N {
        let body = json!({
            "spec": things_spec(2 + i % 3, &format!("T{i}")),
            "mapping": {"base_url": backend.url}
        })
        .to_string();
        let request = format!(
            "PUT /admin/api/apis/api{}/spec HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            i,
            body.len()
        );
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        // Gone before the answer, a moment further into the write each time.
        tokio::time::sleep(std::time::Duration::from_millis(5 * i as u64)).await;
        drop(s);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let before = served(&gw).await;
    for (k, current, newest, tools) in &before {
        // What the store holds as newest is what is served.
        assert_eq!(
            current, newest,
            "api{k}: served {current:?}, stored {newest:?}"
        );
        assert_eq!(newest.is_some(), *tools > 0, "api{k}: {tools} tools served");
    }
    drop(gw);
    let gw = Gateway::start(&admin_config(&data));
    let after = served(&gw).await;
    assert_eq!(before, after, "a restart serves something else");
}

/// Per API: the version served, the newest stored, and how many tools are served.
async fn served(gw: &Gateway) -> Vec<(usize, Option<u64>, Option<u64>, usize)> {
    let admin = AdminClient::new(gw);
    {
        let mut out = Vec::new();
        for k in 0..40 {
            let versions = admin.get(&format!("/apis/api{k}/versions")).await;
            let stored: Option<u64> = (versions.status == 200)
                .then(|| {
                    let v: Value = serde_json::from_str(&versions.text).unwrap();
                    v.as_array()?
                        .iter()
                        .find(|v| v["current"] == true)
                        .and_then(|v| v["version"].as_u64())
                })
                .flatten();
            let newest = (versions.status == 200).then(|| {
                let v: Value = serde_json::from_str(&versions.text).unwrap();
                v.as_array().unwrap()[0]["version"].as_u64().unwrap()
            });
            let r = gw
                .mcp(&format!("api{k}"))
                .post_raw(
                    &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string(),
                    &[("mcp-protocol-version", "2025-11-25")],
                )
                .await;
            let tools = match r.status {
                200 => r.json()["result"]["tools"].as_array().unwrap().len(),
                _ => 0,
            };
            out.push((k, stored, newest, tools));
        }
        out
    }
}

/// A mapping whose YAML aliases would expand it far past its size (one 100 KB description
/// named by 5,000 tools: 500 MB from a 230 KB body) is refused at once with a clear error;
/// a plain mapping is taken.
#[tokio::test]
async fn a_mapping_whose_aliases_explode_is_refused() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&admin_config(&data_dir(dir.path())));
    let admin = AdminClient::new(&gw);
    admin.create("t", 3, "T", &backend.url).await;
    // Well-formed: 5,000 tool overrides whose description is one 100 KB string (500 MB).
    let mut bomb = format!(
        "base_url: {}\ntools:\n  get0: {{description: &d \"{}\"}}\n",
        backend.url,
        "x".repeat(100_000)
    );
    for i in 1..5_000 {
        bomb.push_str(&format!("  t{i}: {{description: *d}}\n"));
    }
    let started = std::time::Instant::now();
    let r = admin.put_yaml("/apis/t/mapping", &bomb).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("aliases expand it past"), "{}", r.text);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let r = admin
        .put_yaml(
            "/apis/t/mapping?force=true",
            &format!(
                "base_url: {}\ninclude: [{{operation_id: get1}}]\n",
                backend.url
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(gw.mcp("t").list().await.len(), 1);
}

/// A stored mapping's backend credential may name only the secrets the operator allowed
/// (`admin.secret_env`, default `REST2MCP_SECRET_*`; `admin.secret_dirs`, default none): the
/// admin token's variable or a host file is refused before anything is read (the same answer
/// whether the file exists or not), and an allowed variable reaches the backend.
#[tokio::test]
async fn a_stored_mapping_names_only_allowed_secrets() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(
        &admin_config(&data_dir(dir.path())),
        &[],
        &[
            ("REST2MCP_SECRET_PETS", "pets-key-1"),
            ("OTHER_SECRET", "do-not-leak"),
        ],
    );
    let admin = AdminClient::new(&gw);
    let put = |secret: Value| {
        json!({"spec": things_spec(1, "T"), "mapping": {
            "base_url": backend.url,
            "auth": {"enabled": false},
            "downstream": {"credential": {"mode": "bearer", "token": secret}}
        }})
    };
    let mut answers = Vec::new();
    for secret in [
        json!({"env": "OTHER_SECRET"}),
        json!({"env": "REST2MCP_ADMIN_TOKEN"}),
        json!({"file": "/etc/hostname"}),
        json!({"file": "/no/such/file"}),
        json!({"file": "/etc/../etc/hostname"}),
    ] {
        let r = admin.put_json("/apis/t/spec", &put(secret.clone())).await;
        assert_eq!(r.status, 422, "{secret}: {}", r.text);
        assert!(
            r.text.contains("not one a stored mapping may use")
                || r.text
                    .contains("not in a directory a stored mapping may use"),
            "{secret}: {}",
            r.text
        );
        for leak in ["No such file", "ermission", "do-not-leak", TOKEN] {
            assert!(!r.text.contains(leak), "{secret}: {}", r.text);
        }
        answers.push(
            r.text
                .replace("/etc/hostname", "F")
                .replace("/no/such/file", "F"),
        );
    }
    assert_eq!(
        answers[2], answers[3],
        "a refusal tells whether a file exists"
    );
    assert!(backend.requests().is_empty());

    let r = admin
        .put_json("/apis/t/spec", &put(json!({"env": "REST2MCP_SECRET_PETS"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let result = gw.mcp("t").call("get0", json!({})).await;
    assert!(!support::is_error(&result), "{result}");
    assert_eq!(
        backend.last().header("authorization"),
        Some("Bearer pets-key-1")
    );
}

/// DNS rebinding: a request whose `Host` is not one the gateway answers to is refused before
/// its credential is even looked at; loopback names (and `server.allowed_hosts`) pass.
#[tokio::test]
async fn the_admin_api_checks_the_host_like_mcp_does() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&admin_config(&data_dir(dir.path())));
    let admin = AdminClient::new(&gw);
    let port = gw.base.rsplit(':').next().unwrap().to_string();
    for (host, want) in [
        (format!("evil.example:{port}"), 403),
        ("evil.example".to_string(), 403),
        (format!("localhost:{port}"), 200),
        (format!("127.0.0.1:{port}"), 200),
    ] {
        let r = admin.send("GET", "/apis", None, &[("host", &host)]).await;
        assert_eq!(r.status, want, "{host}: {}", r.text);
    }
    drop(gw);
    // Every spelling gets the same answer from the admin API, the fast path and rmcp (which
    // serves a request without a protocol version header): entries with ports, brackets and
    // spaces, ports and case in the Host.
    let backend = Backend::start().await;
    let gw = Gateway::start(&format!(
        "{}server:\n  allowed_hosts: [127.0.0.1, rest2mcp.internal, 'api.example:8443', ' Spaced.Example ', '[fd00::1]:9000']\n",
        admin_config(&data_dir(dir.path()))
    ));
    let admin = AdminClient::new(&gw);
    admin.create("t", 1, "T", &backend.url).await;
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    let mcp = gw.mcp("t");
    for (host, want) in [
        ("rest2mcp.internal", 200),
        ("REST2MCP.internal:1", 200),
        ("api.example:8443", 200),
        ("api.example", 403),
        ("api.example:443", 403),
        ("spaced.example:80", 200),
        ("[fd00::1]:9000", 200),
        ("[FD00::1]:9001", 403),
        ("fd00::1", 403),
        ("rest2mcp.internal.evil", 403),
    ] {
        let a = admin.send("GET", "/apis", None, &[("host", host)]).await;
        let fast = mcp
            .post_raw(
                list,
                &[("host", host), ("mcp-protocol-version", "2025-11-25")],
            )
            .await;
        let slow = mcp.post_raw(list, &[("host", host)]).await;
        // rmcp answers a Host it cannot parse with 400 rather than 403.
        let refused = |s: u16| {
            if want == 403 {
                s == 403 || s == 400
            } else {
                s == want
            }
        };
        for (who, r) in [("admin", &a), ("fast path", &fast), ("rmcp", &slow)] {
            assert!(refused(r.status), "{host} {who}: {} {}", r.status, r.text);
        }
    }
}

/// One data directory, one process: a second gateway started on it waits (here until the first
/// is killed) instead of writing the same store at once; then it serves what the first stored.
#[tokio::test]
async fn a_second_process_waits_for_the_data_directory() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let first = Gateway::start(&admin_config(&data));
    AdminClient::new(&first)
        .create("t", 2, "T", &backend.url)
        .await;
    let config = admin_config(&data);
    let second = std::thread::spawn(move || Gateway::start(&config));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        !second.is_finished(),
        "the second gateway started beside the first"
    );
    drop(first);
    let second = second.join().unwrap();
    let versions = AdminClient::new(&second).get("/apis/t/versions").await;
    assert_eq!(versions.status, 200, "{}", versions.text);
    assert!(
        second
            .log_lines()
            .iter()
            .any(|l| l.contains("another process holds the data directory")),
        "{:?}",
        second.log_lines()
    );
}
