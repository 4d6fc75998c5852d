use super::*;

#[test]
fn security_requirements_become_scope_alternatives() {
    let alts = |v: Value| security_scopes(Some(&v));
    assert_eq!(
        alts(serde_json::json!([{"oauth": ["a", "b"], "oidc": ["b", "c"]}, {"oauth": ["d"]}])),
        vec![vec!["a", "b", "c"], vec!["d"]]
    );
    // An alternative that needs no scope (an API key, or `{}`): nothing is required.
    assert!(alts(serde_json::json!([{"oauth": ["a"]}, {"key": []}])).is_empty());
    assert!(alts(serde_json::json!([])).is_empty());
}

#[test]
fn not_openapi_is_one_clear_error() {
    let e = parse(b"{\"hello\": 1}").unwrap_err();
    assert!(e.to_string().contains("not an OpenAPI document"), "{e}");
    let e = parse(b"key: [unclosed").unwrap_err();
    assert!(e.to_string().starts_with("not valid YAML"), "{e}");
    let e = parse(b"openapi: 4.0.0").unwrap_err();
    assert!(e.to_string().contains("unsupported OpenAPI version"), "{e}");
}

#[test]
fn swagger2_server_url_and_collection_formats() {
    let spec = parse(
        br#"{"swagger":"2.0","info":{"title":"t","version":"1"},"host":"api.example.com",
        "basePath":"/v1","schemes":["http"],"paths":{"/a":{"get":{"operationId":"a",
        "parameters":[{"name":"ids","in":"query","type":"array","items":{"type":"integer"},
        "collectionFormat":"multi"}],"responses":{"200":{"description":"ok"}}}}}}"#,
    )
    .unwrap();
    assert_eq!(
        spec.server_url.as_deref(),
        Some("http://api.example.com/v1")
    );
    let p = &spec.operations[0].parameters[0];
    assert_eq!((p.style, p.explode), (Style::Form, true));
    assert_eq!(
        p.schema,
        serde_json::json!({"type":"array","items":{"type":"integer"}})
    );
}

#[test]
fn framing_headers_are_never_arguments() {
    let spec = parse(
        br#"{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/a":{"post":{
        "parameters":[{"name":"Content-Length","in":"header","schema":{"type":"string"}},
                      {"name":"Transfer-Encoding","in":"header","schema":{"type":"string"}},
                      {"name":"X-Ok","in":"header","schema":{"type":"string"}}],
        "responses":{}}}}}"#,
    )
    .unwrap();
    let names: Vec<_> = spec.operations[0]
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["X-Ok"]);
    assert_eq!(spec.diagnostics.len(), 2, "{:?}", spec.diagnostics);
}

#[test]
fn references_into_paths_still_resolve() {
    // The paths are normally consumed while normalising; not when something points at them.
    let spec = parse(
        br##"{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{
        "/a":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":
          {"schema":{"type":"object","properties":{"n":{"type":"integer"}}}}}}}}},
        "/b":{"post":{"requestBody":{"required":true,"content":{"application/json":{"schema":
          {"$ref":"#/paths/~1a/get/responses/200/content/application~1json/schema"}}}},
          "responses":{"200":{"description":"ok"}}}}}}"##,
    )
    .unwrap();
    assert_eq!(spec.operations.len(), 2, "{:?}", spec.diagnostics);
    assert!(spec.diagnostics.is_empty(), "{:?}", spec.diagnostics);
}

#[test]
fn undeclared_path_parameter_is_added_and_reported() {
    let spec = parse(
        br#"{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/a/{id}":{"get":{"responses":{}}}}}"#,
    )
    .unwrap();
    assert_eq!(spec.operations[0].parameters[0].name, "id");
    assert!(spec.diagnostics[0].message.contains("not declared"));
}
