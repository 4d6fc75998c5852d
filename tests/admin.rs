//! The admin API as its clients (the console, the CLI, scripts) use it, against the real
//! binary: upload, dry run and diff, apply, rollback, delete, read-only config APIs, refusals,
//! credentials and CSRF, and durability under `kill -9`.

mod support;

use serde_json::{Value, json};
use support::admin::{AdminClient, TOKEN, admin_config, data_dir, things_spec};
use support::{Backend, Gateway, fixture, is_error, text};

async fn gateway(backend: &Backend, dir: &std::path::Path, apis: &str) -> Gateway {
    let _ = backend;
    Gateway::start(&format!("{}{apis}", admin_config(&data_dir(dir))))
}

fn names(tools: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = tools
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn upload_dry_run_apply_rollback_and_delete() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(&backend, dir.path(), "").await;
    let admin = AdminClient::new(&gw);
    assert_eq!(admin.get("/apis").await.json(), json!([]));

    // A new name creates the API: stored, served, 201.
    let mapping = json!({"base_url": backend.url});
    let r = admin
        .put_json(
            "/apis/things/spec",
            &json!({"spec": things_spec(3, "Things"), "mapping": mapping}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (
            v["applied"].clone(),
            v["created"].clone(),
            v["version"].clone()
        ),
        (json!(true), json!(true), json!(1))
    );
    assert_eq!(v["diff"]["added"].as_array().unwrap().len(), 3);
    assert_eq!(v["operations"].as_array().unwrap().len(), 3);
    let mcp = gw.mcp("things");
    assert_eq!(names(&mcp.list().await), ["get0", "get1", "get2"]);
    let r = mcp.call("get1", json!({"q": "x"})).await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(backend.last().uri, "/things/1?q=x");
    let list = admin.get("/apis").await.json();
    assert_eq!(list[0]["name"], "things");
    assert_eq!(list[0]["tools"], 3);
    assert_eq!(list[0]["source"], "store");
    assert_eq!(list[0]["version"], 1);
    assert_eq!(list[0]["last_reload"], "ok");
    assert_eq!(list[0]["mcp_url"], format!("{}/mcp/things", gw.base));

    // A dry run of a spec without `get2` and with a new one: the diff, breaking; nothing changes.
    let mut v2 = things_spec(2, "Things");
    v2.push_str("  /more:\n    get:\n      operationId: getMore\n      responses: {'200': {description: ok}}\n");
    let r = admin.put_yaml("/apis/things/spec?dry_run=true", &v2).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = r.json();
    assert_eq!(d["applied"], false);
    assert_eq!(d["diff"]["breaking"], true);
    assert_eq!(d["diff"]["removed"][0]["tool"], "get2");
    assert_eq!(d["diff"]["added"][0]["tool"], "getMore");
    assert_eq!(
        names(&mcp.list().await),
        ["get0", "get1", "get2"],
        "dry run changed nothing"
    );
    // Without force: refused (409) with the same diff and a message.
    let r = admin.put_yaml("/apis/things/spec", &v2).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.json()["message"].as_str().unwrap().contains("force"));
    assert_eq!(r.json()["diff"]["removed"][0]["tool"], "get2");
    // With force: applied, version 2.
    let r = admin.put_yaml("/apis/things/spec?force=true", &v2).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["version"], 2);
    assert_eq!(names(&mcp.list().await), ["get0", "get1", "getMore"]);

    // A non-breaking mapping change (a description) applies directly.
    let mut m = admin.get("/apis/things/mapping").await.json();
    assert_eq!(m["base_url"], backend.url);
    m["tools"] = json!({"get0": {"description": "The first thing."}});
    let r = admin.put_json("/apis/things/mapping", &m).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["version"], 3);
    assert_eq!(r.json()["diff"]["breaking"], false);
    // Only the changed tool is in the diff (the others are served byte for byte as before).
    assert_eq!(
        r.json()["diff"]["changed"],
        json!([{"tool": "get0", "breaking": false, "changes": ["description changed"]}])
    );
    let tools = mcp.list().await;
    let get0 = tools.iter().find(|t| t["name"] == "get0").unwrap();
    assert_eq!(get0["description"], "The first thing.");

    // Versions, newest first; rollback to 1 is one call and a new version.
    let vs = admin.get("/apis/things/versions").await.json();
    let nums: Vec<u64> = vs
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(nums, [3, 2, 1]);
    assert_eq!(vs[0]["current"], true);
    assert_eq!(vs[0]["change"], "mapping");
    let r = admin
        .post_json("/apis/things/rollback", &json!({"version": 1}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["version"], 4);
    assert_eq!(names(&mcp.list().await), ["get0", "get1", "get2"]);
    let vs = admin.get("/apis/things/versions").await.json();
    assert_eq!(vs[0]["change"], "rollback");
    assert_eq!(vs[0]["from"], 1);

    // Operations of the current spec.
    let ops = admin.get("/apis/things/operations").await.json();
    assert_eq!(ops.as_array().unwrap().len(), 3);
    assert_eq!(ops[0]["method"], "GET");
    assert_eq!(ops[0]["path"], "/things/0");
    assert_eq!(ops[0]["operation_id"], "get0");
    assert_eq!(ops[0]["tool"], "get0");
    assert_eq!(ops[0]["selected"], true);
    assert!(ops[0]["schema_bytes"].as_u64().unwrap() > 50);

    // Status shows the reloads.
    let st = admin.get("/status").await.json();
    assert!(
        st["reloads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["api"] == "things" && r["trigger"] == "admin")
    );

    // Delete: gone from the list and from /mcp.
    let r = admin
        .send("DELETE", "/apis/things", None, &[("x-rest2mcp-admin", "1")])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(admin.get("/apis").await.json(), json!([]));
    let r = mcp
        .post_raw(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            &[("mcp-protocol-version", "2025-11-25")],
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(admin.get("/apis/things/versions").await.status, 404);
}

#[tokio::test]
async fn bad_changes_are_refused_and_the_old_version_keeps_serving() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(&backend, dir.path(), "").await;
    let admin = AdminClient::new(&gw);
    admin.create("t", 1, "T", &backend.url).await;
    let bad = [
        ("unparsable YAML", "openapi: 3.0.3\ninfo: [unclosed\n"),
        ("not OpenAPI", "hello: world\n"),
    ];
    for (what, body) in bad {
        let r = admin.put_yaml("/apis/t/spec", body).await;
        assert_eq!(r.status, 422, "{what}: {}", r.text);
        assert!(!r.json()["message"].as_str().unwrap().is_empty(), "{what}");
    }
    // A base URL the upstream host policy refuses.
    let r = admin
        .put_json(
            "/apis/t/mapping",
            &json!({"base_url": "http://169.254.169.254/latest"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("upstream host policy"),
        "{}",
        r.text
    );
    // A tool name that is not valid; a rule that matches nothing.
    let r = admin
        .put_json(
            "/apis/t/mapping",
            &json!({"base_url": backend.url, "tools": {"get0": {"name": "bad name!"}}}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    // Unknown fields are refused.
    let r = admin
        .put_json("/apis/t/mapping", &json!({"bse_url": backend.url}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("unknown field"),
        "{}",
        r.text
    );
    let r = admin
        .put_json(
            "/apis/t/spec",
            &json!({"spec": "x", "mapping": {}, "extra": 1}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    // Still version 1, still serving.
    let list = admin.get("/apis").await.json();
    assert_eq!(list[0]["version"], 1);
    let r = gw.mcp("t").call("get0", json!({})).await;
    assert!(!is_error(&r), "{r}");
    // The refusals are in the status.
    let st = admin.get("/status").await.json();
    assert!(
        st["reloads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["result"] == "error"),
        "{st}"
    );
    // Too large: 413.
    let big = "x".repeat(3 * 1024 * 1024);
    let r = admin.put_yaml("/apis/t/spec", &big).await;
    assert_eq!(r.status, 413, "{}", &r.text[..r.text.len().min(200)]);
    assert!(r.json()["message"].is_string());
    // A bad name.
    let r = admin.put_yaml("/apis/..x/spec", &things_spec(1, "T")).await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn config_apis_are_read_only_here() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let apis = format!(
        "apis:\n  - name: echo\n    spec: {}\n    base_url: {}\n",
        fixture("echo.yaml").display(),
        backend.url
    );
    let gw = gateway(&backend, dir.path(), &apis).await;
    let admin = AdminClient::new(&gw);
    let list = admin.get("/apis").await.json();
    assert_eq!(list[0]["source"], "config");
    assert_eq!(list[0]["version"], Value::Null);
    let m = admin.get("/apis/echo/mapping").await;
    assert_eq!(m.status, 200);
    assert_eq!(m.json()["base_url"], backend.url);
    let ops = admin.get("/apis/echo/operations").await;
    assert_eq!(ops.status, 200, "{}", ops.text);
    for (method, path, body) in [
        ("PUT", "/apis/echo/spec", things_spec(1, "x")),
        ("PUT", "/apis/echo/mapping", "{}".to_string()),
        ("DELETE", "/apis/echo", String::new()),
        (
            "POST",
            "/apis/echo/rollback",
            r#"{"version":1}"#.to_string(),
        ),
    ] {
        let r = admin
            .send(
                method,
                path,
                Some(("application/json", body.into_bytes())),
                &[],
            )
            .await;
        assert_eq!(r.status, 409, "{method} {path}: {}", r.text);
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .contains("config file"),
            "{}",
            r.text
        );
    }
}

#[tokio::test]
async fn admin_credentials_and_csrf() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(&backend, dir.path(), "").await;
    let mut anon = AdminClient::new(&gw);
    anon.token = None;
    let spec = json!({"spec": things_spec(1, "T"), "mapping": {"base_url": backend.url}});
    // No credential: 401, nothing written.
    let r = anon.put_json("/apis/t/spec", &spec).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.json()["message"].is_string());
    assert_eq!(anon.get("/apis").await.status, 401);
    // A wrong one.
    anon.token = Some(format!("{TOKEN}x"));
    assert_eq!(anon.put_json("/apis/t/spec", &spec).await.status, 401);
    assert_eq!(anon.get("/apis").await.status, 401);
    // The sign-in settings are public.
    let r = anon.get("/auth-config").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["token"], true);
    // A form another site could post (text/plain, no header): refused even with the token.
    let admin = AdminClient::new(&gw);
    let r = admin
        .send(
            "PUT",
            "/apis/t/spec",
            Some(("text/plain", things_spec(1, "T").into_bytes())),
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = admin
        .send(
            "PUT",
            "/apis/t/spec",
            Some(("application/x-www-form-urlencoded", b"a=b".to_vec())),
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = admin.send("DELETE", "/apis/t", None, &[]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        admin.get("/apis").await.json(),
        json!([]),
        "nothing was written"
    );
    // The custom header makes any body type acceptable.
    let with_server = things_spec(1, "T").replacen(
        "paths:",
        &format!("servers: [{{url: '{}'}}]\npaths:", backend.url),
        1,
    );
    let r = admin
        .send(
            "PUT",
            "/apis/t/spec",
            Some(("text/plain", with_server.into_bytes())),
            &[("x-rest2mcp-admin", "1")],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(admin.get("/session").await.json()["via"], "token");
    // The console page is served, under a strict CSP.
    let page = support::http_client()
        .get(format!("{}/admin/", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(page.text().await.unwrap().contains("<html"));
}

/// Without the admin API (no `admin:` section, no `--admin`), `/admin` does not exist.
#[tokio::test]
async fn the_admin_api_is_off_unless_enabled() {
    let backend = Backend::start().await;
    let gw = Gateway::start(&support::api_config(
        "echo",
        &fixture("echo.yaml"),
        &backend.url,
        "",
    ));
    let r = support::http_client()
        .get(format!("{}/admin/api/apis", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Durability: the gateway is killed (SIGKILL) at random moments during 50 admin writes and
/// restarted each time; every acknowledged write is there afterwards, nothing torn.
#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        format!("listen: 127.0.0.1:0\n{}", admin_config(&data)),
    )
    .unwrap();
    let mut gw = Gateway::start_file(&cfg);
    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rng = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut attempt = 0;
    while acked.len() < 50 {
        attempt += 1;
        assert!(attempt < 400, "too many attempts");
        let admin = AdminClient::new(&gw);
        let desc = format!("write {attempt}");
        // Alternate spec uploads (bigger writes) and mapping changes.
        let body = json!({
            "spec": things_spec(1 + (attempt % 3), &format!("T{attempt}")),
            "mapping": {"base_url": backend.url, "tools": {"get0": {"description": desc}}}
        });
        // Kill at a random moment around the write (before, during or after it).
        let delay = std::time::Duration::from_micros(rng() % 30_000);
        let pid = gw.pid();
        let killer = (rng() % 3 == 0).then(|| {
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            })
        });
        let url = format!("{}/admin/api/apis/durable/spec?force=true", gw.base);
        let sent = admin
            .http
            .put(url)
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        if let Ok(r) = sent
            && r.status().is_success()
            && let Ok(t) = r.text().await
            && let Ok(v) = serde_json::from_str::<Value>(&t)
            && let Some(n) = v["version"].as_u64()
        {
            acked.push((n, desc));
        }
        if let Some(k) = killer {
            k.join().unwrap();
            let _ = gw.wait_exit(std::time::Duration::from_secs(5));
            drop(gw);
            gw = Gateway::start_file(&cfg);
        }
    }
    drop(gw);
    let gw = Gateway::start_file(&cfg);
    let admin = AdminClient::new(&gw);
    let list = admin.get("/apis").await.json();
    let current = list[0]["version"].as_u64().unwrap();
    let last = acked.last().unwrap().0;
    assert!(
        current >= last,
        "current {current} < last acknowledged {last}"
    );
    assert_eq!(list[0]["last_reload"], "ok");
    // Every acknowledged version is kept, with the content it was acknowledged with.
    let versions: Vec<u64> = admin
        .get("/apis/durable/versions")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    for (n, desc) in &acked {
        assert!(
            versions.contains(n),
            "acknowledged version {n} is missing: {versions:?}"
        );
        let file = data.join(format!("apis/durable/versions/{n:08}.yaml"));
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.contains(desc.as_str()),
            "version {n} lost its content: {text}"
        );
    }
    // Nothing torn: every version file of the store reads.
    for e in std::fs::read_dir(data.join("apis/durable/versions")).unwrap() {
        let p = e.unwrap().path();
        let t = std::fs::read_to_string(&p).unwrap();
        let _: Value =
            yaml_serde::from_str(&t).unwrap_or_else(|e| panic!("{} torn: {e}", p.display()));
    }
    // And it serves the current version.
    let r = gw.mcp("durable").call("get0", json!({})).await;
    assert!(!is_error(&r), "{}", text(&r));
}

/// The console's "fetch from a URL": only when `admin.fetch_urls` allows it, and through the
/// upstream host policy like any backend.
#[tokio::test]
async fn specs_are_fetched_from_urls_only_when_allowed_and_through_the_policy() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/openapi.yaml", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/openapi.yaml",
        axum::routing::get(|| async { things_spec(2, "Fetched") }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let off = Gateway::start(&admin_config(&data_dir(dir.path())));
    let r = AdminClient::new(&off)
        .post_json("/fetch", &json!({"url": url}))
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        AdminClient::new(&off).get("/auth-config").await.json()["fetch_url"],
        false
    );

    let dir = tempfile::tempdir().unwrap();
    let on = Gateway::start(
        &admin_config(&data_dir(dir.path())).replace("admin:\n", "admin:\n  fetch_urls: true\n"),
    );
    let admin = AdminClient::new(&on);
    assert_eq!(admin.get("/auth-config").await.json()["fetch_url"], true);
    let r = admin.post_json("/fetch", &json!({"url": url})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("title: Fetched"), "{}", r.text);
    let r = admin
        .post_json(
            "/fetch",
            &json!({"url": "http://169.254.169.254/latest/meta-data"}),
        )
        .await;
    assert_eq!(r.status, 502, "{}", r.text);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("upstream host policy"),
        "{}",
        r.text
    );
}
