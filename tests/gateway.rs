//! The gateway as a user meets it: the real binary over HTTP, a real HTTP backend behind it.

mod support;

use serde_json::{Value, json};
use support::{Backend, Gateway, api_config, fixture, is_error, text};

const UPSTREAM: &str = "upstream:\n  timeout_ms: 1000\n  max_response_bytes: 1048576\n";

async fn echo_gateway(extra: &str) -> (Backend, Gateway) {
    let backend = Backend::start().await;
    let cfg = format!(
        "{UPSTREAM}{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, extra)
    );
    (backend, Gateway::start(&cfg))
}

#[tokio::test]
async fn lists_and_calls_with_path_query_header_cookie_and_body() {
    let (backend, gw) = echo_gateway("").await;
    let mcp = gw.mcp("echo");
    mcp.initialize().await;
    let tools = mcp.list().await;
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"items_update-item"), "{names:?}");
    let update = tools
        .iter()
        .find(|t| t["name"] == "items_update-item")
        .unwrap();
    assert_eq!(
        update["inputSchema"]["required"],
        json!(["itemId", "name"]),
        "path parameter and required body field are required"
    );
    assert_eq!(update["annotations"]["idempotentHint"], json!(true));

    let r = mcp
        .call(
            "items_update-item",
            json!({"itemId": "a/b c", "tags": ["x", "y z"], "dry_run": true,
                   "X-Trace-Id": "t-1", "session": "s1", "name": "lamp", "price": 9.5}),
        )
        .await;
    assert!(!is_error(&r), "{r}");
    let seen = backend.last();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.uri, "/items/a%2Fb%20c?tags=x&tags=y%20z&dry_run=true");
    assert_eq!(seen.header("x-trace-id"), Some("t-1"));
    assert_eq!(seen.header("cookie"), Some("session=s1"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(body, json!({"name": "lamp", "price": 9.5}));
    // The answer comes back as text and, being a JSON object, as structured content.
    assert_eq!(r["structuredContent"]["method"], "PUT");
}

#[tokio::test]
async fn form_raw_and_recursive_bodies() {
    let (backend, gw) = echo_gateway("").await;
    let mcp = gw.mcp("echo");
    let r = mcp
        .call("submitForm", json!({"name": "a b&c", "count": 2}))
        .await;
    assert!(!is_error(&r), "{r}");
    let seen = backend.last();
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.body, "name=a+b%26c&count=2");

    mcp.call("postNote", json!({"body": "hello\nworld"})).await;
    let seen = backend.last();
    assert_eq!(seen.header("content-type"), Some("text/plain"));
    assert_eq!(seen.body, "hello\nworld");

    let tree = json!({"label": "root", "children": [{"label": "leaf", "children": []}]});
    let r = mcp.call("postTree", tree.clone()).await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(
        serde_json::from_str::<Value>(&backend.last().body).unwrap(),
        tree
    );
    let bad = mcp
        .call(
            "postTree",
            json!({"label": "root", "children": [{"nolabel": 1}]}),
        )
        .await;
    assert!(
        is_error(&bad),
        "a recursive schema is still validated deep down: {bad}"
    );
}

#[tokio::test]
async fn invalid_arguments_never_reach_the_backend() {
    let (backend, gw) = echo_gateway("").await;
    let mcp = gw.mcp("echo");
    let r = mcp.call("getStatus", json!({"code": "abc"})).await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("argument `code`") && text(&r).contains("integer"),
        "{}",
        text(&r)
    );
    let r = mcp
        .call(
            "items_update-item",
            json!({"itemId": "1", "name": "", "colour": "red"}),
        )
        .await;
    assert!(is_error(&r));
    assert!(text(&r).contains("argument `name`"), "{}", text(&r));
    assert!(
        text(&r).contains("colour"),
        "unknown arguments are named: {}",
        text(&r)
    );
    let r = mcp
        .call(
            "items_update-item",
            json!({"itemId": "1", "name": "x", "price": 0}),
        )
        .await;
    assert!(is_error(&r), "3.0 exclusiveMinimum: true is enforced: {r}");
    let r = mcp.call("items_update-item", json!({"itemId": "1"})).await;
    assert!(
        text(&r).contains("name"),
        "missing required is named: {}",
        text(&r)
    );
    let r = mcp
        .call(
            "items_update-item",
            json!({"itemId": "1", "name": "x", "note": null}),
        )
        .await;
    assert!(!is_error(&r), "3.0 nullable accepts null: {r}");
    assert_eq!(
        backend.requests().len(),
        1,
        "only the valid call went upstream"
    );
}

#[tokio::test]
async fn refuses_dot_segments_and_header_injection() {
    let (backend, gw) = echo_gateway("").await;
    let mcp = gw.mcp("echo");
    let r = mcp
        .call("items_update-item", json!({"itemId": "..", "name": "x"}))
        .await;
    assert!(is_error(&r) && text(&r).contains("must not be"), "{r}");
    let r = mcp
        .call(
            "items_update-item",
            json!({"itemId": "1", "name": "x", "X-Trace-Id": "a\r\nX-Evil: 1"}),
        )
        .await;
    assert!(is_error(&r) && text(&r).contains("line breaks"), "{r}");
    assert!(backend.requests().is_empty());
}

#[tokio::test]
async fn upstream_failures_are_tool_errors() {
    let (_backend, gw) = echo_gateway("").await;
    let mcp = gw.mcp("echo");
    let r = mcp.call("getStatus", json!({"code": 503})).await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("503") && text(&r).contains("status 503 Service Unavailable as asked"),
        "status and a body excerpt: {}",
        text(&r)
    );
    // The backend answers after 3 s; the 1 s timeout answers first.
    let r = mcp.call("slow", json!({})).await;
    assert!(
        is_error(&r) && text(&r).contains("did not answer within 1000 ms"),
        "{r}"
    );
    let r = mcp.call("big", json!({})).await;
    assert!(is_error(&r) && text(&r).contains("limit"), "{r}");

    // Nothing listens on the backend port any more.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let gw2 = Gateway::start(&api_config("echo", &fixture("echo.yaml"), &dead, ""));
    let r = gw2.mcp("echo").call("slow", json!({})).await;
    assert!(
        is_error(&r) && text(&r).contains("cannot reach upstream"),
        "{r}"
    );
}

#[tokio::test]
async fn structured_content_only_when_the_answer_matches_the_output_schema() {
    let (_backend, gw) = echo_gateway("").await;
    let mcp = gw.mcp("echo");
    let tools = mcp.list().await;
    let typed = tools.iter().find(|t| t["name"] == "typed").unwrap();
    assert_eq!(typed["outputSchema"]["required"], json!(["id"]));
    let good = mcp.call("typed", json!({"shape": "good"})).await;
    assert_eq!(good["structuredContent"], json!({"id": 7}));
    let bad = mcp.call("typed", json!({"shape": "bad"})).await;
    assert!(!is_error(&bad));
    assert!(bad.get("structuredContent").is_none(), "{bad}");
    assert!(text(&bad).contains("not-a-number"));
}

/// `output_schemas: false` (per API, or `output_schema` per tool, which wins) leaves the output
/// schema out of `tools/list` and answers text only, for clients that refuse a result without
/// `structuredContent` when the tool declares one.
#[tokio::test]
async fn output_schemas_can_be_turned_off_per_api_and_per_tool() {
    let (_backend, gw) = echo_gateway("    output_schemas: false\n").await;
    let mcp = gw.mcp("echo");
    let tools = mcp.list().await;
    assert!(
        tools.iter().all(|t| t.get("outputSchema").is_none()),
        "{tools:?}"
    );
    let r = mcp.call("typed", json!({"shape": "good"})).await;
    assert!(!is_error(&r) && r.get("structuredContent").is_none(), "{r}");
    assert_eq!(
        serde_json::from_str::<Value>(text(&r)).unwrap(),
        json!({"id": 7})
    );

    let (_backend, gw) =
        echo_gateway("    output_schemas: false\n    tools:\n      typed: {output_schema: true}\n")
            .await;
    let mcp = gw.mcp("echo");
    let tools = mcp.list().await;
    let typed = tools.iter().find(|t| t["name"] == "typed").unwrap();
    assert_eq!(typed["outputSchema"]["required"], json!(["id"]));
    let r = mcp.call("typed", json!({"shape": "good"})).await;
    assert_eq!(r["structuredContent"], json!({"id": 7}), "{r}");

    let (_backend, gw) = echo_gateway("    tools:\n      typed: {output_schema: false}\n").await;
    let tools = gw.mcp("echo").list().await;
    let typed = tools.iter().find(|t| t["name"] == "typed").unwrap();
    assert!(typed.get("outputSchema").is_none(), "{typed}");
}

#[tokio::test]
async fn every_protocol_revision_is_served() {
    let (_backend, gw) = echo_gateway("").await;
    for v in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        let mut mcp = gw.mcp("echo");
        mcp.version = v.into();
        let init = mcp.initialize().await;
        assert_eq!(init["protocolVersion"], v);
        assert!(init["capabilities"]["tools"].is_object());
        assert!(mcp.list().await.len() >= 8);
        let r = mcp.call("getStatus", json!({"code": 200})).await;
        assert!(!is_error(&r), "{v}: {r}");
    }
    // 2026-07-28: no initialize; metadata on every request; method headers.
    let mcp = gw.mcp("echo");
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {},
                      "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}});
    let h = |m: &'static str| vec![("mcp-protocol-version", "2026-07-28"), ("mcp-method", m)];
    let r = mcp
        .post_raw(
            &json!({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta": meta}})
                .to_string(),
            &h("server/discover"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.json()["result"]["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28"))
    );
    let r = mcp
        .post_raw(
            &json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta": meta}})
                .to_string(),
            &h("tools/list"),
        )
        .await;
    let list = r.json();
    assert!(list["result"]["ttlMs"].is_number(), "{list}");
    assert!(list["result"]["cacheScope"].is_string(), "{list}");
    let call = json!({"jsonrpc":"2.0","id":3,"method":"tools/call",
        "params":{"name":"getStatus","arguments":{"code":200},"_meta": meta}});
    let mut headers = h("tools/call");
    headers.push(("mcp-name", "getStatus"));
    let r = mcp.post_raw(&call.to_string(), &headers).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["result"]["isError"], json!(false));
    // A Mcp-Name header that contradicts the body is refused.
    let mut wrong = h("tools/call");
    wrong.push(("mcp-name", "slow"));
    let r = mcp.post_raw(&call.to_string(), &wrong).await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn malformed_requests_get_clear_json_rpc_errors() {
    let (_backend, gw) = echo_gateway("").await;
    let mcp = gw.mcp("echo");
    let v = [("mcp-protocol-version", "2025-11-25")];
    let r = mcp.post_raw("{not json", &v).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], json!(-32700), "{}", r.text);
    // (body, JSON-RPC error code): not a request, unknown method, unknown tool, bad cursor.
    let cases = [
        (r#"{"jsonrpc":"2.0","id":1}"#, -32600),
        (r#"[1,2]"#, -32600),
        (r#"{"jsonrpc":"2.0","id":1,"method":"no/such"}"#, -32601),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"zzz"}}"#,
            -32602,
        ),
    ];
    for (body, code) in cases {
        let r = mcp.post_raw(body, &v).await;
        assert_eq!(r.json()["error"]["code"], json!(code), "{body}: {}", r.text);
    }
    let r = mcp
        .post_raw(
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            &v,
        )
        .await;
    assert_eq!(r.status, 202);
    let r = mcp
        .post_raw(
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            &[("mcp-protocol-version", "1999-01-01")],
        )
        .await;
    assert_eq!(r.status, 400, "unsupported protocol version: {}", r.text);
    let r = mcp
        .post_raw(&format!("\"{}\"", "x".repeat(5 * 1024 * 1024)), &v)
        .await;
    assert_eq!(r.status, 413);
    let text_plain = mcp
        .http
        .post(&mcp.url)
        .header("content-type", "text/plain")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(text_plain.status().as_u16(), 415);
    assert!(text_plain.text().await.unwrap().contains("Content-Type"));
    let get = mcp.http.get(&mcp.url).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
    let missing = mcp
        .http
        .post(format!("{}/mcp/nope", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

#[tokio::test]
async fn sse_only_clients_get_sse() {
    let (_backend, gw) = echo_gateway("").await;
    let mcp = gw.mcp("echo");
    let r = mcp
        .http
        .post(&mcp.url)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"getStatus","arguments":{"code":200}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = r.text().await.unwrap();
    assert!(
        body.contains("data:") && body.contains("\"isError\":false"),
        "{body}"
    );
}

#[tokio::test]
async fn dns_rebinding_is_refused() {
    let (_backend, gw) = echo_gateway("").await;
    let mcp = gw.mcp("echo");
    let v = ("mcp-protocol-version", "2025-11-25");
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let r = mcp.post_raw(ping, &[v, ("host", "evil.example.com")]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = mcp
        .post_raw(ping, &[v, ("origin", "https://evil.example.com")])
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = mcp
        .post_raw(ping, &[v, ("origin", "http://localhost:6274")])
        .await;
    assert_eq!(
        r.status, 200,
        "a local inspector page is allowed: {}",
        r.text
    );

    // An allow-listed public name is accepted.
    let backend = Backend::start().await;
    let cfg = format!(
        "server:\n  allowed_hosts: [mcp.example.com]\n{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    );
    let gw2 = Gateway::start(&cfg);
    let r = gw2
        .mcp("echo")
        .post_raw(ping, &[v, ("host", "mcp.example.com")])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // An allowed origin without a port means its default port (RFC 6454), for the CORS
    // answer and for rmcp's check alike: another port gets neither.
    let cfg = format!(
        "server:\n  allowed_origins: ['https://app.example.com']\n{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    );
    let gw3 = Gateway::start(&cfg);
    let m3 = gw3.mcp("echo");
    let ok = m3
        .post_raw(ping, &[v, ("origin", "https://app.example.com")])
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(
        ok.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let other = m3
        .post_raw(ping, &[v, ("origin", "https://app.example.com:8443")])
        .await;
    assert_eq!(other.status, 403, "{}", other.text);
    assert!(other.headers.get("access-control-allow-origin").is_none());
    let null = m3.post_raw(ping, &[v, ("origin", "null")]).await;
    assert_eq!(null.status, 403, "{}", null.text);
    let err = support::refused(&format!(
        "server:\n  allowed_origins: ['null']\n{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    ));
    assert!(err.contains("sandboxed"), "{err}");
}

#[tokio::test]
async fn broken_operations_are_skipped_and_reported() {
    let (_backend, gw) = echo_gateway("").await;
    assert!(
        gw.startup.contains("skipped GET /broken")
            && gw.startup.contains("#/components/parameters/DoesNotExist"),
        "{}",
        gw.startup
    );
    assert!(gw.startup.contains("/mcp/echo  8 tools"), "{}", gw.startup);
    let out = std::process::Command::new(support::bin())
        .args(["inspect", fixture("echo.yaml").to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tools"], json!(8));
    assert_eq!(report["diagnostics"][0]["operation"], "GET /broken");
    assert_eq!(report["diagnostics"][0]["skipped"], json!(true));
}

#[tokio::test]
async fn swagger2_and_openapi31_specs_work() {
    let backend = Backend::start().await;
    let cfg = format!(
        "{}  - name: v31\n    spec: {}\n    base_url: {}\n",
        api_config("v2", &fixture("petstore-v2.json"), &backend.url, ""),
        fixture("petstore-v31.yaml").display(),
        backend.url
    );
    let gw = Gateway::start(&cfg);
    // The multipart upload (a 2.0 `type: file` form field) is a tool too (tests/fidelity.rs).
    assert!(gw.startup.contains("/mcp/v2  4 tools"), "{}", gw.startup);

    let v2 = gw.mcp("v2");
    let r = v2
        .call("getPet", json!({"petId": 3, "fields": ["name", "tag"]}))
        .await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(backend.last().uri, "/pets/3?fields=name,tag");
    let r = v2.call("addPet", json!({"name": "rex", "tag": null})).await;
    assert!(!is_error(&r), "x-nullable accepts null: {r}");
    assert_eq!(backend.last().body, r#"{"name":"rex","tag":null}"#);
    v2.call("login", json!({"user": "ann", "remember": true}))
        .await;
    assert_eq!(backend.last().body, "user=ann&remember=true");

    let v31 = gw.mcp("v31");
    let r = v31.call("getPet", json!({"petId": 1, "tag": null})).await;
    assert!(!is_error(&r), "type arrays: {r}");
    let r = v31
        .call(
            "createPet",
            json!({"body": {"name": "a", "parent": {"name": "b"}}}),
        )
        .await;
    assert!(!is_error(&r), "{r}");
    let r = v31
        .call("createPet", json!({"body": {"name": "a", "extra": 1}}))
        .await;
    assert!(
        is_error(&r),
        "unevaluatedProperties: false is enforced: {r}"
    );
}

#[tokio::test]
async fn pagination_and_selection_rules() {
    let backend = Backend::start().await;
    let cfg = format!(
        "server:\n  page_size: 3\n{}",
        api_config(
            "echo",
            &fixture("echo.yaml"),
            &backend.url,
            "    exclude: [{path: /sl*}, {operation_id: big}]\n    tools:\n      typed: {name: typed_object, description: Fixed}\n"
        )
    );
    let gw = Gateway::start(&cfg);
    let mcp = gw.mcp("echo");
    let first = mcp.request("tools/list", json!({})).await;
    assert_eq!(first["result"]["tools"].as_array().unwrap().len(), 3);
    // The cursor is the position of the next page's first tool.
    assert_eq!(first["result"]["nextCursor"], "3");
    let all = mcp.list().await;
    let names: Vec<&str> = all.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(all.len(), 6, "{names:?}");
    assert!(!names.contains(&"slow") && !names.contains(&"big"));
    let typed = all.iter().find(|t| t["name"] == "typed_object").unwrap();
    assert_eq!(typed["description"], "Fixed");
    drop(gw);

    // Pages also end at `page_bytes`: here every tool is past it, so one tool per page, and
    // the same tools in the same order.
    let small = cfg.replace("  page_size: 3\n", "  page_size: 3\n  page_bytes: 1\n");
    assert_ne!(small, cfg);
    let gw = Gateway::start(&small);
    let mcp = gw.mcp("echo");
    let first = mcp.request("tools/list", json!({})).await;
    assert_eq!(first["result"]["tools"].as_array().unwrap().len(), 1);
    assert_eq!(first["result"]["nextCursor"], "1");
    let again = mcp.list().await;
    assert_eq!(again, all);
    // A cursor past the end is refused.
    let past = mcp.request("tools/list", json!({"cursor": "6"})).await;
    assert_eq!(past["error"]["code"], -32602, "{past}");
}

#[tokio::test]
async fn bad_input_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let not_openapi = dir.path().join("x.yaml");
    std::fs::write(&not_openapi, "hello: world\n").unwrap();
    let out = std::process::Command::new(support::bin())
        .args([
            "serve",
            "--spec",
            not_openapi.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not an OpenAPI document"), "{err}");

    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        "apis:\n  - name: a\n    spec: x.yaml\n    base_url: ftp://x\n",
    )
    .unwrap();
    let out = std::process::Command::new(support::bin())
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must be http:// or https://"), "{err}");
}

#[tokio::test]
async fn single_spec_serve_defaults_name_and_base_url() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("my-api.yaml");
    let text = std::fs::read_to_string(fixture("petstore-v31.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:1", &backend.url);
    std::fs::write(&spec, text).unwrap();
    let gw = Gateway::spawn(
        &[
            "serve",
            "--spec",
            spec.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        dir,
    );
    let r = gw.mcp("my-api").call("getPet", json!({"petId": 5})).await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(backend.last().uri, "/pets/5");
}

/// The fast path (no Origin header) and rmcp (same request with an allowed Origin, which the
/// fast path leaves to rmcp) must give the same answers.
#[tokio::test]
async fn fast_path_answers_exactly_as_rmcp_does() {
    let backend = Backend::start().await;
    let cfg = format!(
        "{UPSTREAM}server:\n  page_size: 3\n{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    );
    let gw = Gateway::start(&cfg);
    let mcp = gw.mcp("echo");
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        (
            "tools/call",
            json!({"name": "typed", "arguments": {"shape": "good"}}),
            None,
        ),
        (
            "tools/call",
            json!({"name": "typed", "arguments": {"shape": "bad"}}),
            None,
        ),
        (
            "tools/call",
            json!({"name": "getStatus", "arguments": {"code": "x"}}),
            None,
        ),
        (
            "tools/call",
            json!({"name": "getStatus", "arguments": {"code": 404}}),
            None,
        ),
        ("tools/call", json!({"name": "typed"}), None),
        ("tools/list", json!({}), None),
        ("tools/list", json!({"cursor": "2"}), None),
        (
            "tools/call",
            json!({"name": "typed", "arguments": {}, "_meta": meta}),
            Some("typed"),
        ),
        ("tools/list", json!({"_meta": meta}), Some("")),
        (
            "tools/list",
            json!({"cursor": "1", "_meta": meta}),
            Some(""),
        ),
    ];
    for (method, params, modern_name) in cases {
        let before = gw.served().await;
        let body = json!({"jsonrpc": "2.0", "id": "req-7", "method": method, "params": params});
        let mut headers = vec![];
        if let Some(name) = modern_name {
            headers.push(("mcp-protocol-version", "2026-07-28"));
            headers.push(("mcp-method", method));
            if !name.is_empty() {
                headers.push(("mcp-name", name));
            }
        } else {
            headers.push(("mcp-protocol-version", "2025-11-25"));
        }
        let fast = mcp.post_raw(&body.to_string(), &headers).await;
        headers.push(("origin", "http://localhost:9999"));
        let slow = mcp.post_raw(&body.to_string(), &headers).await;
        let after = gw.served().await;
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (1.0, 1.0),
            "{method} {params}: one answer from each path"
        );
        assert_eq!(fast.status, 200, "{method} {params}: {}", fast.text);
        assert_eq!(slow.status, 200, "{method} {params}: {}", slow.text);
        assert_eq!(fast.json(), slow.json(), "{method} {params}");
        assert_eq!(
            fast.headers["content-type"], slow.headers["content-type"],
            "{method} {params}"
        );
    }
}

/// A name spelled with percent escapes names the same endpoint on every method and either
/// path: the connection's own dispatch decodes the path as axum's router does.
#[tokio::test]
async fn an_escaped_name_is_the_same_endpoint_on_every_path() {
    let (_backend, gw) = echo_gateway("").await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}});
    let plain = gw.mcp("echo").post_raw(&list.to_string(), &[]).await;
    assert_eq!(plain.status, 200, "{}", plain.text);
    for spelled in ["ech%6f", "%65cho", "ech%6F"] {
        let mcp = gw.mcp(spelled);
        let fast = mcp.post_raw(&list.to_string(), &[]).await;
        let slow = mcp
            .post_raw(&list.to_string(), &[("origin", "http://localhost:9999")])
            .await;
        for (path, r) in [("fast", &fast), ("rmcp", &slow)] {
            assert_eq!(r.status, 200, "{spelled} ({path}): {}", r.text);
            assert_eq!(r.json(), plain.json(), "{spelled} ({path})");
        }
    }
    // Escapes that decode to no plain name are unknown endpoints, on both paths.
    for spelled in ["ech%2Fo", "%2e%2e", "echo%00", "ech%"] {
        let r = gw.mcp(spelled).post_raw(&list.to_string(), &[]).await;
        assert_eq!(r.status, 404, "{spelled}: {}", r.text);
    }
}

/// The whole GitHub REST API: every operation becomes a tool with a valid, unique name, and
/// `tools/list` serves all of them.
#[tokio::test]
async fn github_rest_api_maps_every_operation() {
    let spec = support::github_spec();
    let out = std::process::Command::new(support::bin())
        .args(["inspect", spec.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ops = report["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1223);
    assert_eq!(report["tools"], json!(1223));
    assert!(
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["skipped"] == json!(false)),
        "{}",
        report["diagnostics"]
    );
    let mut names = std::collections::HashSet::new();
    for op in ops {
        let name = op["tool"].as_str().unwrap();
        assert!(
            name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "{name}"
        );
        assert!(names.insert(name.to_string()), "duplicate {name}");
    }
    // Word boundaries survive: `issues/create-label` stays readable.
    assert!(names.contains("issues_create-label"));
    // Shortened names are reported, never silent.
    for op in ops
        .iter()
        .filter(|o| o["operation_id"].as_str().unwrap().len() > 64)
    {
        assert!(
            op["notes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n.as_str().unwrap().contains("shortened")),
            "{op}"
        );
    }

    let backend = Backend::start().await;
    let gw = Gateway::start(&api_config("github", &spec, &backend.url, ""));
    let tools = gw.mcp("github").list().await;
    assert_eq!(tools.len(), 1223);
    let r = gw
        .mcp("github")
        .call(
            "issues_create-label",
            json!({"owner": "o", "repo": "r", "name": "bug", "color": "f00"}),
        )
        .await;
    assert!(!is_error(&r), "{r}");
    let seen = backend.last();
    assert_eq!(seen.uri, "/repos/o/r/labels");
    assert_eq!(
        serde_json::from_str::<Value>(&seen.body).unwrap(),
        json!({"name": "bug", "color": "f00"})
    );
}

/// The plain-HTTP upstream client: chunked and close-delimited answers, a keep-alive
/// connection the backend dropped, redirects, HEAD-free framing.
#[tokio::test]
async fn plain_http_upstream_edge_cases() {
    let dir = tempfile::tempdir().unwrap();
    let spec = support::thing_spec(dir.path());

    // Chunked (with an extension and a trailer), then the server closes although it promised
    // keep-alive: the next GET must reconnect transparently.
    let (url, conns) = support::raw_backend(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n\
         4;x=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nTrailer: t\r\n\r\n",
    )
    .await;
    let gw = Gateway::start(&api_config("t", &spec, &url, ""));
    let mcp = gw.mcp("t");
    for _ in 0..3 {
        let r = mcp.call("getThing", json!({})).await;
        assert!(!is_error(&r), "{r}");
        assert_eq!(text(&r), r#"{"a":1}"#);
    }
    assert_eq!(conns.load(std::sync::atomic::Ordering::SeqCst), 3);
    // A POST is never replayed; a pooled connection the server closed is noticed before use.
    let r = mcp.call("postThing", json!({})).await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(conns.load(std::sync::atomic::Ordering::SeqCst), 4);

    // Close-delimited body (no length, no chunking).
    let (url, _) =
        support::raw_backend("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello there").await;
    let gw = Gateway::start(&api_config("t", &spec, &url, ""));
    let r = gw.mcp("t").call("getThing", json!({})).await;
    assert_eq!(text(&r), "hello there");

    // A redirect is reported, not followed.
    let (url, _) = support::raw_backend(
        "HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere/\r\nContent-Length: 5\r\n\r\nmoved",
    )
    .await;
    let gw = Gateway::start(&api_config("t", &spec, &url, ""));
    let r = gw.mcp("t").call("getThing", json!({})).await;
    assert!(is_error(&r) && text(&r).contains("301"), "{r}");

    // A signed length is no length (RFC 9110: digits only): the answer is refused, never
    // framed by a guess.
    let (url, _) = support::raw_backend(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: +7\r\n\r\n{\"a\":1}",
    )
    .await;
    let gw = Gateway::start(&api_config("t", &spec, &url, ""));
    let r = gw.mcp("t").call("getThing", json!({})).await;
    assert!(
        is_error(&r) && text(&r).to_ascii_lowercase().contains("content-length"),
        "{r}"
    );

    // Garbage instead of HTTP.
    let (url, _) = support::raw_backend("SSH-2.0-OpenSSH\r\n\r\n").await;
    let gw = Gateway::start(&api_config("t", &spec, &url, ""));
    let r = gw.mcp("t").call("getThing", json!({})).await;
    assert!(is_error(&r) && text(&r).contains("malformed"), "{r}");
}

/// Read one HTTP/1.1 answer (head + `Content-Length` or chunked body) from a raw connection.
async fn read_answer(
    stream: &mut tokio::net::TcpStream,
    pending: &mut Vec<u8>,
) -> Option<(u16, String, String)> {
    use tokio::io::AsyncReadExt;
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_string();
            let status: u16 = head[9..12].parse().unwrap();
            let lower = head.to_ascii_lowercase();
            let len = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map(|v| v.trim().parse::<usize>().unwrap());
            let start = end + 4;
            if let Some(len) = len {
                if pending.len() >= start + len {
                    let body = String::from_utf8_lossy(&pending[start..start + len]).to_string();
                    pending.drain(..start + len);
                    return Some((status, head, body));
                }
            } else if let Some(stop) = pending[start..].windows(5).position(|w| w == b"0\r\n\r\n") {
                // chunked: good enough for the short answers here
                let body = String::from_utf8_lossy(&pending[start..start + stop]).to_string();
                pending.drain(..start + stop + 5);
                return Some((status, head, body));
            }
        }
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("answer in time")
            .unwrap();
        if n == 0 {
            return None;
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// A raw HTTP/1.1 `POST /mcp/echo` of `body` (JSON-RPC), with `Content-Length`.
fn raw_post(body: &Value, extra_headers: &str) -> String {
    let body = body.to_string();
    format!(
        "POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\n\
         {extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn call_request(id: u32, extra_headers: &str) -> String {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": "getStatus", "arguments": {"code": 200}}});
    raw_post(&body, extra_headers)
}

/// HTTP/1 as a raw client sees it (hyper's server): pipelined requests answered in order,
/// requests split across packets, other methods, chunked bodies, `Connection: close`,
/// smuggling attempts and HTTP/1.0 on one server, the MCP calls among them on the fast path.
#[tokio::test]
async fn http1_pipelining_partial_reads_and_odd_framings() {
    use tokio::io::AsyncWriteExt;
    let (backend, gw) = echo_gateway("").await;
    let addr = gw.base.trim_start_matches("http://").to_string();
    let connect = || tokio::net::TcpStream::connect(addr.clone());
    let ok = |answer: &Option<(u16, String, String)>, id: u32| {
        let (status, head, body) = answer.as_ref().expect("an answer");
        assert_eq!(*status, 200, "{head}\n{body}");
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["id"], id, "{body}");
        assert_eq!(v["result"]["isError"], false, "{body}");
    };

    // Three pipelined calls, then a GET (declined: hyper answers 405), then a call served
    // after the handover, all on one connection and answered in order.
    let mut s = connect().await.unwrap();
    let mut pending = Vec::new();
    let mut burst = String::new();
    for id in 1..=3 {
        burst.push_str(&call_request(id, ""));
    }
    burst
        .push_str("GET /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
    burst.push_str(&call_request(4, ""));
    s.write_all(burst.as_bytes()).await.unwrap();
    for id in 1..=3 {
        ok(&read_answer(&mut s, &mut pending).await, id);
    }
    let get = read_answer(&mut s, &mut pending).await.unwrap();
    assert_eq!(get.0, 405, "{get:?}");
    ok(&read_answer(&mut s, &mut pending).await, 4);
    assert_eq!(backend.requests().len(), 4);

    // A request dribbled in byte ranges (head split, body split) is still answered.
    let mut s = connect().await.unwrap();
    let req = call_request(5, "");
    for part in [
        &req[..20],
        &req[20..150],
        &req[150..req.len() - 5],
        &req[req.len() - 5..],
    ] {
        s.write_all(part.as_bytes()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    ok(&read_answer(&mut s, &mut Vec::new()).await, 5);

    // `Connection: close`: answered, then the server closes.
    let mut s = connect().await.unwrap();
    let mut pending = Vec::new();
    s.write_all(call_request(6, "Connection: close\r\n").as_bytes())
        .await
        .unwrap();
    ok(&read_answer(&mut s, &mut pending).await, 6);
    assert!(read_answer(&mut s, &mut pending).await.is_none());

    // A chunked body is hyper's to read; the answer is the same.
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "getStatus", "arguments": {"code": 200}}})
    .to_string();
    let chunked = format!(
        "POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         MCP-Protocol-Version: 2025-11-25\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let mut s = connect().await.unwrap();
    s.write_all(chunked.as_bytes()).await.unwrap();
    ok(&read_answer(&mut s, &mut Vec::new()).await, 7);

    // Content-Length and Transfer-Encoding together (a smuggling attempt): read by the
    // Transfer-Encoding as RFC 9112 says, answered once, and the connection is closed so no
    // leftover byte is ever read as a request.
    let calls_before = backend.requests().len();
    let smuggle = chunked.replace(
        "Transfer-Encoding: chunked\r\n",
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
    );
    let mut s = connect().await.unwrap();
    let mut pending = Vec::new();
    s.write_all(smuggle.as_bytes()).await.unwrap();
    let answer = read_answer(&mut s, &mut pending).await;
    ok(&answer, 7);
    assert!(
        answer
            .unwrap()
            .1
            .to_ascii_lowercase()
            .contains("connection: close")
    );
    assert!(read_answer(&mut s, &mut pending).await.is_none());
    assert_eq!(backend.requests().len(), calls_before + 1);

    // A body over the front's 64 KiB is read by hyper, and answered the same.
    let pad = "x".repeat(70 * 1024);
    let big = raw_post(
        &json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                "params": {"name": "getStatus", "arguments": {"code": 200}, "_meta": {"pad": pad}}}),
        "",
    );
    let mut s = connect().await.unwrap();
    s.write_all(big.as_bytes()).await.unwrap();
    ok(&read_answer(&mut s, &mut Vec::new()).await, 9);

    // After the front answered, the connection is HTTP/1.1 for good: an HTTP/2 preface is
    // refused (the connection closes), never switched to.
    let mut s = connect().await.unwrap();
    let mut pending = Vec::new();
    s.write_all(call_request(10, "").as_bytes()).await.unwrap();
    ok(&read_answer(&mut s, &mut pending).await, 10);
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let after = read_answer(&mut s, &mut pending).await;
    assert!(after.as_ref().is_none_or(|a| a.0 >= 400), "{after:?}");

    // HTTP/1.0 is served too (by hyper).
    let mut s = connect().await.unwrap();
    let old = call_request(8, "").replacen("HTTP/1.1", "HTTP/1.0", 1);
    s.write_all(old.as_bytes()).await.unwrap();
    ok(&read_answer(&mut s, &mut Vec::new()).await, 8);
    // Every call above went through the fast path; rmcp answered the GET (405).
    assert_eq!(gw.served().await, (11.0, 1.0));
}

/// SIGTERM (as `docker stop` sends it): a call in flight on the fast path finishes and is answered,
/// an idle keep-alive connection is closed, and the process exits promptly and cleanly.
#[tokio::test]
async fn sigterm_finishes_calls_in_flight_then_exits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let backend = Backend::start().await;
    let cfg = format!(
        "upstream:\n  timeout_ms: 8000\n{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    );
    let mut gw = Gateway::start(&cfg);
    let addr = gw.base.trim_start_matches("http://").to_string();
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Used once, so the front holds it as a keep-alive connection between requests.
    idle.write_all(call_request(1, "").as_bytes())
        .await
        .unwrap();
    assert_eq!(
        read_answer(&mut idle, &mut Vec::new()).await.unwrap().0,
        200
    );

    let slow = raw_post(
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "slow", "arguments": {}}}),
        "",
    );
    let mut busy = tokio::net::TcpStream::connect(&addr).await.unwrap();
    busy.write_all(slow.as_bytes()).await.unwrap();
    // A request the front declines (a GET, hyper's), half sent when the signal comes.
    let mut half = tokio::net::TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    backend.wait_for("/slow").await;
    assert_eq!(
        gw.served().await,
        (2.0, 0.0),
        "the first call and the one in flight are on the fast path"
    );
    gw.terminate();
    // The signal is handled once the listener is closed.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(std::time::Instant::now() < until, "still accepting");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    half.write_all(b"\r\n").await.unwrap();
    let (status, head, text) = read_answer(&mut half, &mut Vec::new())
        .await
        .expect("the half-sent request is answered");
    assert_eq!((status, text.as_str()), (200, "ok"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );

    let answer = read_answer(&mut busy, &mut Vec::new()).await;
    let (status, head, text) = answer.expect("the call in flight is answered");
    assert_eq!(status, 200);
    assert!(
        text.contains("late") && text.contains("\"isError\":false"),
        "{text}"
    );
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    let mut rest = [0u8; 16];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), idle.read(&mut rest))
        .await
        .expect("the idle connection is closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
    let status = gw.wait_exit(std::time::Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

/// `structuredContent` is the value that was checked against the output schema, on the fast
/// path as on rmcp's: an answer that repeats a key (`{"id":"x","id":7}` parses as `{"id":7}`)
/// is never passed on in its raw form, and both paths give the same JSON.
#[tokio::test]
async fn structured_content_is_the_checked_value_on_both_paths() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("dup.yaml");
    std::fs::write(
        &spec,
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /thing:\n    get:\n      operationId: getThing\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {type: object, properties: {id: {type: integer}}, required: [id]}\n",
    )
    .unwrap();
    let (url, _) = support::raw_backend(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 23\r\n\r\n{\"id\":\"x\",\"id\":7}      ",
    )
    .await;
    let gw = Gateway::start(&api_config("t", &spec, &url, ""));
    let mcp = gw.mcp("t");
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "getThing", "arguments": {}}})
    .to_string();
    let v = [("mcp-protocol-version", "2025-11-25")];
    let fast = mcp.post_raw(&body, &v).await;
    let slow = mcp
        .post_raw(&body, &[v[0], ("origin", "http://localhost:1")])
        .await;
    // Raw, a first-key-wins reader would see "x"; only the text content may carry it.
    assert!(!fast.text.contains(r#"{"id":"x""#), "{}", fast.text);
    assert_eq!(fast.json()["result"]["structuredContent"], json!({"id": 7}));
    assert_eq!(fast.json(), slow.json());
    assert_eq!(gw.served().await, (1.0, 1.0), "one answer from each path");
}

/// Each worker thread serves many connections at once: with `server.threads: 1`, a call
/// waiting on a slow backend holds up no other connection, and the slow call is answered in
/// full afterwards. `threads: 0` is refused with a clear error.
#[tokio::test]
async fn one_worker_thread_serves_connections_concurrently() {
    use tokio::io::AsyncWriteExt;
    let backend = Backend::start().await;
    let cfg = format!(
        "server:\n  threads: 1\nupstream:\n  timeout_ms: 8000\n{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    );
    let gw = Gateway::start(&cfg);
    let addr = gw.base.trim_start_matches("http://").to_string();
    let mut busy = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let slow = raw_post(
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "slow", "arguments": {}}}),
        "",
    );
    busy.write_all(slow.as_bytes()).await.unwrap();
    backend.wait_for("/slow").await;
    // The backend takes 3 s for /slow: these calls, on other connections, come first.
    let mcp = gw.mcp("echo");
    for code in [200, 201, 202] {
        let r = mcp.call("getStatus", json!({"code": code})).await;
        assert!(!is_error(&r), "{r}");
    }
    let mut probe = [0u8; 1];
    assert!(
        matches!(busy.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the slow call is still in progress"
    );
    let (status, _, text) = read_answer(&mut busy, &mut Vec::new())
        .await
        .expect("the slow call is answered");
    assert_eq!(status, 200);
    assert!(
        text.contains("late") && text.contains("\"isError\":false"),
        "{text}"
    );

    let err = support::refused(&format!(
        "server:\n  threads: 0\n{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    ));
    assert!(err.contains("server.threads must be at least 1"), "{err}");
    // A deadline so long that an instant plus it would overflow is refused, not a panic.
    let err = support::refused(&format!(
        "server:\n  idle_timeout_ms: 18446744073709551615\n{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    ));
    assert!(
        err.contains("server.idle_timeout_ms must be at most 86400000"),
        "{err}"
    );
}

/// A client that hangs up while its call waits on the backend stops the call: the gateway
/// closes its upstream connection at once instead of waiting out the backend (as hyper does
/// for the requests it serves).
#[tokio::test]
async fn a_client_that_hangs_up_stops_its_call() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A backend that never answers and reports whether the gateway closed the connection
    // within 5 s of sending its request.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (events, mut seen) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let events = events.clone();
            tokio::spawn(async move {
                if !support::read_head(&mut s).await {
                    return;
                }
                let _ = events.send("request");
                let mut chunk = [0u8; 16];
                let wait = std::time::Duration::from_secs(5);
                let _ = events.send(match tokio::time::timeout(wait, s.read(&mut chunk)).await {
                    Ok(Ok(0) | Err(_)) => "closed",
                    Ok(Ok(_)) => "more bytes",
                    Err(_) => "held",
                });
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "upstream:\n  timeout_ms: 8000\n{}",
        api_config("echo", &support::thing_spec(dir.path()), &url, "")
    );
    let gw = Gateway::start(&cfg);
    let addr = gw.base.trim_start_matches("http://").to_string();
    let mut client = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "getThing", "arguments": {}}});
    client
        .write_all(raw_post(&call, "").as_bytes())
        .await
        .unwrap();
    assert_eq!(seen.recv().await, Some("request"));
    assert_eq!(
        gw.served().await,
        (1.0, 0.0),
        "the call is on the fast path"
    );
    drop(client);
    assert_eq!(
        seen.recv().await,
        Some("closed"),
        "the upstream call ends when its client hangs up"
    );
}

/// Many calls at once on one worker thread each get their own answer, bodies included, all on
/// the fast path.
#[tokio::test]
async fn concurrent_calls_on_one_worker_get_their_own_answers() {
    let backend = Backend::start().await;
    let cfg = format!(
        "server:\n  threads: 1\n{UPSTREAM}{}",
        api_config("echo", &fixture("echo.yaml"), &backend.url, "")
    );
    let gw = Gateway::start(&cfg);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..40 {
        let mcp = gw.mcp("echo");
        calls.spawn(async move {
            let r = mcp
                .call(
                    "items_update-item",
                    json!({"itemId": format!("item-{i}"), "name": format!("name-{i}")}),
                )
                .await;
            (i, r)
        });
    }
    for (i, r) in calls.join_all().await {
        assert!(!is_error(&r), "call {i}: {r}");
        let seen = &r["structuredContent"];
        assert_eq!(seen["uri"], format!("/items/item-{i}"), "{r}");
        let body: Value = serde_json::from_str(seen["body"].as_str().unwrap()).unwrap();
        assert_eq!(body, json!({"name": format!("name-{i}")}));
    }
    assert_eq!(backend.requests().len(), 40);
    assert_eq!(gw.served().await, (40.0, 0.0));
}

/// Every GitHub tool is served whole: the shared `$defs` spliced back into the served JSON
/// (`catalog/json.rs`) give exactly the schemas the mapping made, member order included.
#[test]
fn every_github_tool_is_served_with_its_whole_schemas() {
    use rest2mcp::{catalog::ApiCatalog, config, ingest, mapping};
    let path = support::github_spec();
    let api: config::ApiConfig =
        yaml_serde::from_str("name: gh\nspec: x\nbase_url: http://127.0.0.1:9\n").unwrap();
    let server = config::ServerConfig::default();
    let spec = ingest::load_file(&path).unwrap();
    let mapped = mapping::map_api(&spec, &api, server.max_output_schema_bytes).unwrap();
    let cat = ApiCatalog::build(&api, spec, &server).unwrap();
    assert_eq!(cat.tools.len(), 1223);
    let text = |v: &Value| serde_json::to_string(v).unwrap();
    let (mut with_input_defs, mut with_output_defs) = (0, 0);
    for m in &mapped.tools {
        let served = cat.tool_value(cat.tool(&m.name).unwrap());
        let input = m.defs.whole(&m.input_schema, &m.input_defs);
        assert_eq!(
            text(&served["inputSchema"]),
            text(&Value::Object(input)),
            "{}",
            m.name
        );
        match &m.output_schema {
            Some(o) => {
                let output = m.defs.whole(o, &m.output_defs);
                assert_eq!(
                    text(&served["outputSchema"]),
                    text(&Value::Object(output)),
                    "{}",
                    m.name
                );
            }
            None => assert!(served.get("outputSchema").is_none(), "{}", m.name),
        }
        with_input_defs += usize::from(!m.input_defs.is_empty());
        with_output_defs += usize::from(!m.output_defs.is_empty());
    }
    // The check covers the spliced case: most of GitHub's tools reach shared definitions.
    assert!(
        with_input_defs > 50 && with_output_defs > 300,
        "{with_input_defs} {with_output_defs}"
    );
}
