//! Path arguments of every type and style stay inside their path segment: the real binary,
//! a recording backend behind a base path, and values built to climb out of it.

mod support;

use serde_json::{Value, json};
use support::{Backend, Gateway, api_config, is_error, text};

const SPEC: &str = r#"openapi: 3.0.3
info: {title: Paths, version: "1"}
paths:
  /items/{itemId}/detail:
    get:
      operationId: getItemDetail
      parameters:
        - {name: itemId, in: path, required: true, schema: {type: array, items: {type: string}}}
      responses: {'200': {description: ok}}
  /users/{a}/{b}/members:
    get:
      operationId: getMembers
      parameters:
        - {name: a, in: path, required: true, schema: {type: array, items: {type: string}}}
        - {name: b, in: path, required: true, schema: {type: array, items: {type: string}}}
      responses: {'200': {description: ok}}
  /labels/{tag}/x:
    get:
      operationId: getLabel
      parameters:
        - name: tag
          in: path
          required: true
          style: label
          explode: true
          schema: {type: array, items: {type: string}}
      responses: {'200': {description: ok}}
  /filters/{sel}/x:
    get:
      operationId: getFilter
      parameters:
        - name: sel
          in: path
          required: true
          style: label
          schema: {type: object, additionalProperties: {type: string}}
      responses: {'200': {description: ok}}
"#;

/// The path's segments once percent-decoded, as a normalising server reads them.
fn decoded_segments(uri: &str) -> Vec<String> {
    let path = uri.split('?').next().unwrap_or("");
    path.split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

#[tokio::test]
async fn non_scalar_path_values_never_leave_the_base_path() {
    let backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("paths.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let base = format!("{}/api/v1", backend.url);
    let gw = Gateway::start(&api_config("paths", &spec, &base, ""));
    let mcp = gw.mcp("paths");

    let attacks: [(&str, Value, &str); 8] = [
        // `GET /api/v1/items/../detail`
        ("getItemDetail", json!({"itemId": [".."]}), "itemId"),
        ("getItemDetail", json!({"itemId": ["."]}), "itemId"),
        // `GET /api/v1/users/../../members`: out of the base path.
        ("getMembers", json!({"a": [".."], "b": [".."]}), "a"),
        ("getMembers", json!({"a": ["x"], "b": [".."]}), "b"),
        // A percent-encoded dot segment, which servers normalise to `..`.
        ("getItemDetail", json!({"itemId": ["%2E%2E"]}), "itemId"),
        // Label style: the prefix and separators are dots (`..`, `.`).
        ("getLabel", json!({"tag": ["", ""]}), "tag"),
        ("getLabel", json!({"tag": []}), "tag"),
        ("getFilter", json!({"sel": {}}), "sel"),
    ];
    let mut passed = Vec::new();
    for (tool, args, param) in attacks {
        let r = mcp.call(tool, args.clone()).await;
        if !is_error(&r) || !text(&r).contains(&format!("`{param}`")) {
            passed.push(format!("{tool} {args} -> {}", text(&r)));
        }
    }
    assert!(
        passed.is_empty(),
        "each is an error naming its parameter; these were not:\n{}",
        passed.join("\n")
    );
    assert!(
        backend.requests().is_empty(),
        "refused calls reach nothing: {:?}",
        backend.requests()
    );

    // `a/../b` is sent as `a%2F..%2Fb`, which a proxy that decodes `%2F` before resolving
    // dot segments would read as `a/../b`: refused too, reaching nothing.
    let r = mcp
        .call("getItemDetail", json!({"itemId": ["a/../b"]}))
        .await;
    assert!(is_error(&r) && text(&r).contains("climb"), "{r}");
    assert!(backend.requests().is_empty());

    // Legitimate values still go through, each item encoded inside its own segment.
    let r = mcp
        .call("getItemDetail", json!({"itemId": ["a/b", "..", "c"]}))
        .await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(backend.last().uri, "/api/v1/items/a%2Fb,..,c/detail");
    let r = mcp.call("getLabel", json!({"tag": ["x", "y"]})).await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(backend.last().uri, "/api/v1/labels/.x.y/x");

    for seen in backend.requests() {
        let segs = decoded_segments(&seen.uri);
        assert!(seen.uri.starts_with("/api/v1/"), "{}", seen.uri);
        assert!(
            !segs.iter().any(|s| s == "." || s == ".."),
            "a dot segment reached the backend: {}",
            seen.uri
        );
    }
}
