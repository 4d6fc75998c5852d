//! The large-API mode and toolsets, as a client meets them: three tools instead of hundreds,
//! search, describe and call filtered by the caller's scopes with nothing hidden leaking, and
//! one API split into endpoints of its own.

mod support;

use serde_json::{Value, json};
use support::oauth::AuthServer;
use support::{Backend, Gateway, Mcp, is_error, text};

const SPEC: &str = r#"openapi: 3.0.3
info: {title: Office, version: '1'}
components:
  securitySchemes:
    oauth: {type: oauth2, flows: {clientCredentials: {tokenUrl: 'https://x/token', scopes: {mail.read: r, mail.send: s, cal.read: c, issues.write: w}}}}
paths:
  /me/sendMail:
    post:
      operationId: sendMail
      summary: Send an email message
      tags: [mail]
      security: [{oauth: [mail.send]}]
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [to, subject], properties: {to: {type: string}, subject: {type: string}}}
      responses: {'202': {description: sent}}
  /me/messages:
    get:
      operationId: listMessages
      summary: List the messages in the mailbox
      tags: [mail]
      security: [{oauth: [mail.read]}]
      responses: {'200': {description: ok}}
  /me/calendar/events:
    get:
      operationId: listEvents
      summary: List calendar events
      description: The events of the signed-in user's calendar, in a time range.
      tags: [calendar]
      security: [{oauth: [cal.read]}]
      parameters: [{name: top, in: query, schema: {type: integer}}]
      responses: {'200': {description: ok}}
  /repos/{repo}/issues:
    post:
      operationId: createIssue
      summary: Open an issue
      tags: [issues]
      security: [{oauth: [issues.write]}]
      parameters: [{name: repo, in: path, required: true, schema: {type: string}}]
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {title: {type: string}}}
      responses: {'201': {description: created}}
"#;

fn spec_file(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("office.yaml");
    std::fs::write(&p, SPEC).unwrap();
    p
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

async fn raw(m: &Mcp, token: Option<&str>, body: Value) -> support::Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut h = vec![("mcp-protocol-version", "2025-11-25")];
    if let Some(a) = &auth {
        h.push(("authorization", a.as_str()));
    }
    m.post_raw(&body.to_string(), &h).await
}

fn call(name: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": name, "arguments": args}})
}

#[tokio::test]
async fn search_mode_lists_three_tools_and_searches_describes_and_calls() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&support::api_config(
        "office",
        &spec_file(dir.path()),
        &backend.url,
        "    mode: search\n",
    ));
    let mcp = gw.mcp("office");
    let list = raw(
        &mcp,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(list.status, 200);
    let tools = &list.json()["result"]["tools"];
    assert_eq!(names(tools), ["search_tools", "describe_tool", "call_tool"]);
    assert!(list.text.len() < 4096, "{} bytes", list.text.len());

    let found = mcp
        .call("search_tools", json!({"query": "send an email"}))
        .await;
    assert!(!is_error(&found), "{found}");
    let hits = &found["structuredContent"]["tools"];
    assert_eq!(hits[0]["name"], "sendMail", "{found}");
    assert_eq!(hits[0]["method"], "POST");
    assert_eq!(hits[0]["path"], "/me/sendMail");
    assert_eq!(hits[0]["summary"], "Send an email message");
    let found = mcp
        .call(
            "search_tools",
            json!({"query": "list my calendar events", "limit": 1}),
        )
        .await;
    assert_eq!(names(&found["structuredContent"]["tools"]), ["listEvents"]);

    let d = mcp.call("describe_tool", json!({"name": "sendMail"})).await;
    assert_eq!(
        d["structuredContent"]["inputSchema"]["required"],
        json!(["to", "subject"])
    );
    assert_eq!(d["structuredContent"]["annotations"]["readOnlyHint"], false);

    // call_tool: validated as the plain tool would be; nothing upstream when invalid.
    let bad = mcp
        .call(
            "call_tool",
            json!({"name": "sendMail", "arguments": {"to": "a@b"}}),
        )
        .await;
    assert!(is_error(&bad) && text(&bad).contains("subject"), "{bad}");
    assert!(backend.requests().is_empty());
    let ok = mcp
        .call(
            "call_tool",
            json!({"name": "listEvents", "arguments": {"top": 5}}),
        )
        .await;
    assert!(!is_error(&ok), "{ok}");
    assert_eq!(backend.last().uri, "/me/calendar/events?top=5");
    let unknown = mcp.call("call_tool", json!({"name": "nope"})).await;
    assert!(
        is_error(&unknown) && text(&unknown).contains("unknown tool"),
        "{unknown}"
    );
    // The plain tools are not callable directly in search mode.
    let r = raw(&mcp, None, call("listEvents", json!({}))).await;
    assert!(
        r.json().get("error").is_some() || is_error(&r.json()["result"]),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn search_describe_and_call_show_only_what_the_caller_may_call() {
    let a = AuthServer::start().await;
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&format!(
        "auth:\n  issuers:\n    - issuer: {}\n{}",
        a.issuer,
        support::api_config(
            "office",
            &spec_file(dir.path()),
            &backend.url,
            "    mode: search\n"
        )
    ));
    let mcp = gw.mcp("office");
    let resource = format!("{}/mcp/office", gw.base);
    let reader = a.token("bob", &resource, "mail.read cal.read");
    let found = raw(
        &mcp,
        Some(&reader),
        call(
            "search_tools",
            json!({"query": "mail email message send issue", "limit": 50}),
        ),
    )
    .await;
    let hits = names(&found.json()["result"]["structuredContent"]["tools"]);
    assert!(hits.contains(&"listMessages".to_string()), "{hits:?}");
    assert!(
        !hits.contains(&"sendMail".to_string()),
        "a hidden tool was found: {hits:?}"
    );
    assert!(!hits.contains(&"createIssue".to_string()), "{hits:?}");
    // Describing a hidden tool: the same answer as a tool that does not exist.
    let hidden = raw(
        &mcp,
        Some(&reader),
        call("describe_tool", json!({"name": "sendMail"})),
    )
    .await;
    let missing = raw(
        &mcp,
        Some(&reader),
        call("describe_tool", json!({"name": "noSuchTool"})),
    )
    .await;
    assert_eq!(
        text(&hidden.json()["result"]).replace("sendMail", "X"),
        text(&missing.json()["result"]).replace("noSuchTool", "X")
    );
    assert!(!hidden.text.contains("mail.send"), "{}", hidden.text);
    // Calling a tool beyond the caller's scopes: 403 insufficient_scope naming what to ask for.
    let r = raw(
        &mcp,
        Some(&reader),
        call(
            "call_tool",
            json!({"name": "sendMail", "arguments": {"to": "x", "subject": "y"}}),
        ),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let challenge = r.headers["www-authenticate"].to_str().unwrap().to_string();
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("mail.send"),
        "{challenge}"
    );
    assert!(backend.requests().is_empty());
    // With the scope, found and called, with the caller's identity as for the plain tool.
    let writer = a.token(
        "carol",
        &resource,
        "mail.read mail.send cal.read issues.write",
    );
    let found = raw(
        &mcp,
        Some(&writer),
        call("search_tools", json!({"query": "send email"})),
    )
    .await;
    assert_eq!(
        found.json()["result"]["structuredContent"]["tools"][0]["name"],
        "sendMail"
    );
    let r = raw(
        &mcp,
        Some(&writer),
        call(
            "call_tool",
            json!({"name": "sendMail", "arguments": {"to": "x", "subject": "y"}}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!is_error(&r.json()["result"]), "{}", r.text);
    assert_eq!(backend.last().uri, "/me/sendMail");
}

#[tokio::test]
async fn toolsets_split_an_api_into_endpoints() {
    let a = AuthServer::start().await;
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&format!(
        "auth:\n  issuers:\n    - issuer: {}\n{}",
        a.issuer,
        support::api_config(
            "office",
            &spec_file(dir.path()),
            &backend.url,
            "    toolsets:\n      by_tag: true\n      sets:\n        reading: [{method: GET}]\n",
        )
    ));
    let token = a.token(
        "carol",
        &format!("{}/mcp/office", gw.base),
        "mail.read mail.send cal.read issues.write",
    );
    let auth = format!("Bearer {token}");
    let list = |set: &str| {
        let m = gw.mcp(set);
        let auth = auth.clone();
        async move {
            let r = m
                .post_raw(
                    r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
                    &[
                        ("mcp-protocol-version", "2025-11-25"),
                        ("authorization", &auth),
                    ],
                )
                .await;
            (r.status, r.text.clone(), r)
        }
    };
    let (s, t, r) = list("office/mail").await;
    assert_eq!(s, 200, "{t}");
    let mut n = names(&r.json()["result"]["tools"]);
    n.sort();
    assert_eq!(n, ["listMessages", "sendMail"]);
    let (_, _, r) = list("office/reading").await;
    let mut n = names(&r.json()["result"]["tools"]);
    n.sort();
    assert_eq!(n, ["listEvents", "listMessages"]);
    let (s, _, _) = list("office/nope").await;
    assert_eq!(s, 404);
    // A tool of another set is not callable here.
    let m = gw.mcp("office/mail");
    let r = raw(&m, Some(&token), call("listEvents", json!({}))).await;
    assert!(r.json().get("error").is_some(), "{}", r.text);
    let r = raw(&m, Some(&token), call("listMessages", json!({}))).await;
    assert!(!is_error(&r.json()["result"]), "{}", r.text);
    // Each set is its own protected resource, which also accepts the API's tokens.
    let r = raw(
        &m,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(r.status, 401);
    let challenge = r.headers["www-authenticate"].to_str().unwrap().to_string();
    assert!(
        challenge.contains("/.well-known/oauth-protected-resource/mcp/office/mail"),
        "{challenge}"
    );
    let meta: Value = serde_json::from_str(
        &support::http_client()
            .get(format!(
                "{}/.well-known/oauth-protected-resource/mcp/office/mail",
                gw.base
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(meta["resource"], format!("{}/mcp/office/mail", gw.base));
    let set_token = a.token("dave", &format!("{}/mcp/office/mail", gw.base), "mail.read");
    let r = raw(
        &m,
        Some(&set_token),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}
