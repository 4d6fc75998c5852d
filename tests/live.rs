//! What is served changes while the gateway runs: the config file and its specs are watched
//! (also through a Kubernetes-style symlink swap), SIGHUP reloads, a bad change is refused
//! while the old version keeps serving, tool names stay stable, and 2026-07-28 clients
//! subscribed to `tools/list_changed` hear of each change.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::admin::{AdminClient, admin_config, data_dir, things_spec};
use support::{Backend, Gateway, Mcp};

fn names(tools: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = tools
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

/// Wait (up to 10 s) until the API's tool names are `want`.
async fn until_tools(mcp: &Mcp, want: &[&str]) -> Duration {
    let started = Instant::now();
    loop {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        let r = mcp
            .post_raw(body, &[("mcp-protocol-version", "2025-11-25")])
            .await;
        if r.status == 200 {
            let got = names(r.json()["result"]["tools"].as_array().unwrap());
            if got == want {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "tools never became {want:?} (last answer {} {})",
            r.status,
            r.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn write_config(dir: &Path, backend: &str, extra: &str) -> std::path::PathBuf {
    let cfg = dir.join("rest2mcp.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:0\n{extra}apis:\n  - name: t\n    spec: spec.yaml\n    base_url: {backend}\n"
        ),
    )
    .unwrap();
    cfg
}

#[tokio::test]
async fn a_changed_spec_file_is_served_without_a_restart_and_a_bad_one_is_refused() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.yaml"), things_spec(2, "T")).unwrap();
    let cfg = write_config(
        dir.path(),
        &backend.url,
        &admin_config(&data_dir(dir.path())),
    );
    let gw = Gateway::start_file_with(&cfg, &[("RUST_LOG", "rest2mcp=info")]);
    let mcp = gw.mcp("t");
    // Rewritten in place at once, as soon as the gateway says it is ready: picked up by the
    // watch (set up before the ready line; once it was set up just after, and such a write
    // was missed).
    std::fs::write(dir.path().join("spec.yaml"), things_spec(3, "T")).unwrap();
    let took = until_tools(&mcp, &["get0", "get1", "get2"]).await;
    eprintln!("file change served after {took:?}");
    // One change, one reload: the reload's own reads of the files trigger nothing (they once
    // scheduled the next reload after every debounce, forever).
    let reloads = || {
        gw.log_lines()
            .iter()
            .filter(|l| l.contains("a watched file changed"))
            .count()
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = reloads();
    assert_eq!(after, 1, "{:#?}", gw.log_lines());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(reloads(), after, "{:#?}", gw.log_lines());
    // Replaced by a rename (as editors save): picked up too.
    let tmp = dir.path().join(".spec.yaml.tmp");
    std::fs::write(&tmp, things_spec(1, "T")).unwrap();
    std::fs::rename(&tmp, dir.path().join("spec.yaml")).unwrap();
    until_tools(&mcp, &["get0"]).await;
    // A broken spec is refused: the old version keeps serving, the status says why.
    std::fs::write(
        dir.path().join("spec.yaml"),
        "openapi: 3.0.3\ninfo: [broken\n",
    )
    .unwrap();
    let admin = AdminClient::new(&gw);
    let started = Instant::now();
    loop {
        let list = admin.get("/apis").await.json();
        if list[0]["last_reload"] != "ok" {
            assert!(
                list[0]["last_reload"].as_str().unwrap().contains("YAML"),
                "{list}"
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until_tools(&mcp, &["get0"]).await;
    let r = mcp.call("get0", json!({})).await;
    assert!(!support::is_error(&r), "{r}");
    // A config that does not load is refused whole, reported, and changes nothing.
    std::fs::write(&cfg, "listen: 127.0.0.1:0\napis: [oops\n").unwrap();
    let started = Instant::now();
    loop {
        let st = admin.get("/status").await.json();
        if st["reloads"][0]["api"] == "(config)" {
            assert_eq!(st["reloads"][0]["result"], "error", "{st}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until_tools(&mcp, &["get0"]).await;
}

#[tokio::test]
async fn sighup_reloads_the_config_file() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.yaml"), things_spec(1, "T")).unwrap();
    let cfg = write_config(
        dir.path(),
        &backend.url,
        &admin_config(&data_dir(dir.path())),
    );
    let gw = Gateway::start_file(&cfg);
    let admin = AdminClient::new(&gw);
    // A second API, added to the config file by a rename the watch sees too; then SIGHUP.
    std::fs::write(dir.path().join("two.yaml"), things_spec(2, "Two")).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:0\n{}apis:\n  - name: t\n    spec: spec.yaml\n    base_url: {}\n  - name: two\n    spec: two.yaml\n    base_url: {}\n",
            admin_config(&data_dir(dir.path())),
            backend.url,
            backend.url
        ),
    )
    .unwrap();
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    until_tools(&gw.mcp("two"), &["get0", "get1"]).await;
    let st = admin.get("/status").await.json();
    assert!(
        st["reloads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["trigger"] == "sighup" || r["trigger"] == "file"),
        "{st}"
    );
    // The process is alive and the first API untouched.
    until_tools(&gw.mcp("t"), &["get0"]).await;
    // SIGHUP alone (no file change): nothing rebuilt, the reload recorded.
    std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    until_tools(&gw.mcp("two"), &["get0", "get1"]).await;
}

/// A Kubernetes ConfigMap volume: `config.yaml -> ..data/config.yaml`, and an update swaps the
/// `..data` symlink to a new directory in one rename.
#[tokio::test]
async fn a_configmap_style_symlink_swap_is_followed() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let version = |n: &str, ops: usize| {
        let d = root.join(n);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("spec.yaml"), things_spec(ops, "K")).unwrap();
        std::fs::write(
            d.join("config.yaml"),
            format!(
                "listen: 127.0.0.1:0\napis:\n  - name: k\n    spec: spec.yaml\n    base_url: {}\n",
                backend.url
            ),
        )
        .unwrap();
    };
    version("..2026_11_30_a", 1);
    std::os::unix::fs::symlink("..2026_11_30_a", root.join("..data")).unwrap();
    for f in ["config.yaml", "spec.yaml"] {
        std::os::unix::fs::symlink(format!("..data/{f}"), root.join(f)).unwrap();
    }
    let gw = Gateway::start_file(&root.join("config.yaml"));
    let mcp = gw.mcp("k");
    until_tools(&mcp, &["get0"]).await;
    version("..2026_11_30_b", 2);
    std::os::unix::fs::symlink("..2026_11_30_b", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    std::fs::remove_dir_all(root.join("..2026_11_30_a")).unwrap();
    until_tools(&mcp, &["get0", "get1"]).await;
}

/// The watch waits for quiet on the files it serves only: a log written beside the spec every
/// few milliseconds does not hold a reload back, and a spec rewritten without pause is still
/// reloaded within the 2 s cap rather than never.
#[tokio::test]
async fn a_busy_directory_neither_holds_back_nor_starves_a_reload() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::write(root.join("spec.yaml"), things_spec(1, "T")).unwrap();
    let cfg = write_config(&root, &backend.url, "");
    let gw = Gateway::start_file(&cfg);
    let mcp = gw.mcp("t");
    until_tools(&mcp, &["get0"]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = |every: u64, f: Box<dyn Fn(u64) + Send>| {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                f(i);
                i += 1;
                std::thread::sleep(Duration::from_millis(every));
            }
        })
    };
    let log = root.join("noise.log");
    let noise = writer(
        5,
        Box::new(move |i| std::fs::write(&log, format!("line {i}\n")).unwrap()),
    );
    std::fs::write(root.join("spec.yaml"), things_spec(2, "T")).unwrap();
    let took = until_tools(&mcp, &["get0", "get1"]).await;
    assert!(
        took < Duration::from_millis(1500),
        "held back by the log: {took:?}"
    );
    // The spec itself, replaced (write and rename) every 40 ms: 3 or 4 operations.
    let spec_root = root.clone();
    let busy = writer(
        40,
        Box::new(move |i| {
            let tmp = spec_root.join("spec.yaml.tmp");
            std::fs::write(&tmp, things_spec(3 + (i % 2) as usize, "T")).unwrap();
            std::fs::rename(&tmp, spec_root.join("spec.yaml")).unwrap();
        }),
    );
    let started = Instant::now();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    loop {
        let r = mcp
            .post_raw(body, &[("mcp-protocol-version", "2025-11-25")])
            .await;
        let n = r.json()["result"]["tools"].as_array().map_or(0, Vec::len);
        if n >= 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "never reloaded while the spec kept changing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !busy.is_finished() && !noise.is_finished(),
        "the writers stopped early"
    );
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    noise.join().unwrap();
}

/// A tool keeps its name while its operation survives, even when a new operation would now
/// take it (here: a new operation earlier in the document with the same operationId base).
#[tokio::test]
async fn tool_names_are_stable_across_versions() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&admin_config(&data_dir(dir.path())));
    let admin = AdminClient::new(&gw);
    // Two operations whose names collide: the second gets `_2`.
    let v1 = "openapi: 3.0.3\ninfo: {title: S, version: '1'}\npaths:\n  /a:\n    get: {operationId: list.items, responses: {'200': {description: ok}}}\n  /b:\n    get: {operationId: list_items, responses: {'200': {description: ok}}}\n";
    let r = admin
        .put_json(
            "/apis/s/spec",
            &json!({"spec": v1, "mapping": {"base_url": backend.url}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let mcp = gw.mcp("s");
    let before = mcp.list().await;
    assert_eq!(names(&before), ["list_items", "list_items_2"]);
    // v2: `/a` is gone and a new operation `/c` comes first. `/b` keeps `list_items_2`
    // (its name), the new one gets a fresh name rather than taking it.
    let v2 = "openapi: 3.0.3\ninfo: {title: S, version: '2'}\npaths:\n  /c:\n    get: {operationId: list-items, responses: {'200': {description: ok}}}\n  /b:\n    get: {operationId: list_items, responses: {'200': {description: ok}}}\n";
    let r = admin.put_yaml("/apis/s/spec?force=true", v2).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let after = mcp.list().await;
    let ops = admin.get("/apis/s/operations").await.json();
    let b = ops
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["path"] == "/b")
        .unwrap();
    assert_eq!(b["tool"], "list_items_2", "{ops}");
    let c = ops
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["path"] == "/c")
        .unwrap();
    assert_ne!(c["tool"], "list_items_2");
    assert_eq!(names(&after).len(), 2);
}

/// 2026-07-28: a client listening (`subscriptions/listen` with `toolsListChanged`) gets
/// `notifications/tools/list_changed` when the API changes.
#[tokio::test]
async fn subscribed_clients_hear_of_tool_list_changes() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&admin_config(&data_dir(dir.path())));
    let admin = AdminClient::new(&gw);
    admin.create("n", 1, "N", &backend.url).await;
    let caps = gw
        .mcp("n")
        .post_raw(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
            &[("mcp-protocol-version", "2025-11-25")],
        )
        .await;
    assert_eq!(
        caps.json()["result"]["capabilities"]["tools"]["listChanged"],
        true,
        "{}",
        caps.text
    );
    let listen = json!({"jsonrpc": "2.0", "id": 7, "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": true},
                   "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                             "io.modelcontextprotocol/clientCapabilities": {}}}});
    let resp = support::http_client()
        .post(format!("{}/mcp/n", gw.base))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "subscriptions/listen")
        .body(listen.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut resp = resp;
    let mut seen = String::new();
    // The acknowledgement first.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !seen.contains("subscriptions/acknowledged") {
        let chunk = tokio::time::timeout_at(deadline.into(), resp.chunk())
            .await
            .unwrap_or_else(|_| panic!("no acknowledgement within 5 s: {seen}"))
            .unwrap()
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let r = admin
        .put_json(
            "/apis/n/spec",
            &json!({"spec": things_spec(2, "N"), "mapping": {"base_url": backend.url}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !seen.contains("notifications/tools/list_changed") {
        let chunk = tokio::time::timeout_at(deadline.into(), resp.chunk())
            .await
            .unwrap_or_else(|_| panic!("no list_changed within 5 s: {seen}"))
            .unwrap()
            .expect("stream open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

/// SIGHUP reads backend secrets again: a rotated token file is sent from then on, without a
/// restart (and without it, the old value stays: no file watch on secrets).
#[tokio::test]
async fn sighup_reads_rotated_secrets() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("backend-token");
    std::fs::write(&token, "old-token\n").unwrap();
    let gw = Gateway::start(&support::api_config(
        "t",
        &support::fixture("echo.yaml"),
        &backend.url,
        &format!(
            "    downstream:\n      credential: {{mode: bearer, token: {{file: {}}}}}\n",
            token.display()
        ),
    ));
    let call = || async {
        let r = gw
            .mcp("t")
            .call("getStatus", serde_json::json!({"code": 200}))
            .await;
        assert!(!support::is_error(&r), "{r}");
        backend.last().header("authorization").map(String::from)
    };
    assert_eq!(call().await.as_deref(), Some("Bearer old-token"));
    std::fs::write(&token, "new-token\n").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(call().await.as_deref(), Some("Bearer old-token"));
    std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let seen = call().await;
        if seen.as_deref() == Some("Bearer new-token") {
            break;
        }
        assert!(std::time::Instant::now() < until, "still {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A backend identity (here the gateway's own client-credentials token, with its cache) lives
/// across reloads that leave its settings alone (a changed spec, a SIGHUP with the same secret)
/// and is built again when the global `auth` section changes.
#[tokio::test]
async fn a_reload_keeps_the_backend_identity_unless_its_settings_change() {
    let auth = support::oauth::AuthServer::start().await;
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, support::oauth::CLIENT_SECRET).unwrap();
    std::fs::write(dir.path().join("spec.yaml"), things_spec(1, "T")).unwrap();
    let write = |global: &str| {
        std::fs::write(
            dir.path().join("rest2mcp.yaml"),
            format!(
                "listen: 127.0.0.1:0\n{global}apis:\n  - name: t\n    spec: spec.yaml\n    base_url: {}\n    downstream:\n      credential: {{mode: client_credentials, token_endpoint: {}/token, client_id: {}, client_secret: {{file: {}}}}}\n",
                backend.url,
                auth.issuer,
                support::oauth::CLIENT_ID,
                secret.display()
            ),
        )
        .unwrap();
        dir.path().join("rest2mcp.yaml")
    };
    let gw = Gateway::start_file(&write("auth: {token_cache_secs: 60}\n"));
    let mcp = gw.mcp("t");
    let used = || async {
        let r = mcp.call("get0", json!({})).await;
        assert!(!support::is_error(&r), "{r}");
        backend.last().header("authorization").map(String::from)
    };
    assert_eq!(used().await.as_deref(), Some("Bearer gateway-own-1"));
    std::fs::write(dir.path().join("spec.yaml"), things_spec(2, "T")).unwrap();
    until_tools(&mcp, &["get0", "get1"]).await;
    assert_eq!(
        used().await.as_deref(),
        Some("Bearer gateway-own-1"),
        "new spec"
    );
    std::process::Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .unwrap();
    // Then a change it must see, to know the SIGHUP was handled first.
    std::fs::write(dir.path().join("spec.yaml"), things_spec(3, "T")).unwrap();
    until_tools(&mcp, &["get0", "get1", "get2"]).await;
    assert_eq!(
        used().await.as_deref(),
        Some("Bearer gateway-own-1"),
        "SIGHUP"
    );
    write("auth: {token_cache_secs: 61}\n");
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = used().await;
        if seen.as_deref() == Some("Bearer gateway-own-2") {
            break;
        }
        assert!(Instant::now() < until, "auth changed, still {seen:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A name used by the config file and the store is the config's, also after a reload that
/// rebuilds everything (a global section changed); when the config file lets the name go, the
/// stored API is served again.
#[tokio::test]
async fn a_name_in_both_the_config_and_the_store_is_the_configs() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.yaml"), things_spec(1, "T")).unwrap();
    std::fs::write(dir.path().join("x.yaml"), things_spec(1, "X")).unwrap();
    let admin_lines = admin_config(&data_dir(dir.path()));
    let cfg = write_config(dir.path(), &backend.url, &admin_lines);
    let gw = Gateway::start_file(&cfg);
    let admin = AdminClient::new(&gw);
    admin.create("x", 2, "Stored", &backend.url).await;
    until_tools(&gw.mcp("x"), &["get0", "get1"]).await;
    let hup = || {
        std::process::Command::new("kill")
            .args(["-HUP", &gw.pid().to_string()])
            .status()
            .unwrap();
    };
    let with_x = |extra: &str| {
        format!(
            "listen: 127.0.0.1:0\n{admin_lines}{extra}apis:\n  - name: t\n    spec: spec.yaml\n    base_url: {0}\n  - name: x\n    spec: x.yaml\n    base_url: {0}\n",
            backend.url
        )
    };
    // `x` added to the config file in the same reload as a global change, which rebuilds every
    // API (the stored ones too): `x` is the config's.
    std::fs::write(&cfg, with_x("server:\n  page_size: 50\n")).unwrap();
    hup();
    until_tools(&gw.mcp("x"), &["get0"]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    until_tools(&gw.mcp("x"), &["get0"]).await;
    // The config lets `x` go: the stored one is served again.
    write_config(dir.path(), &backend.url, &admin_lines);
    hup();
    until_tools(&gw.mcp("x"), &["get0", "get1"]).await;
}
