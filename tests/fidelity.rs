//! Fidelity to both specifications (issue 13): what the backend receives is what the OpenAPI
//! description says it should, and the MCP side answers as the MCP spec asks. The real binary,
//! a recording backend behind it, and specs written like the real APIs that showed each case.

mod support;

use serde_json::{Value, json};
use support::{Backend, Gateway, api_config, is_error, text};

/// A gateway serving `spec` (YAML text) as API `f` in front of `backend`.
fn gateway_for(spec: &str, backend: &Backend) -> (Gateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.yaml");
    std::fs::write(&path, spec).unwrap();
    let gw = Gateway::start(&api_config("f", &path, &backend.url, ""));
    (gw, dir)
}

/// AWS descriptions write `POST /#X-Amz-Target=...` (and `/?Action=...`): the `#` and `?` are
/// path text and stay in the path, percent-encoded, instead of cutting the request line.
#[tokio::test]
async fn a_hash_or_question_mark_in_a_path_template_stays_in_the_path() {
    let backend = Backend::start().await;
    let spec = r##"openapi: 3.0.3
info: {title: AWS-like, version: "1"}
paths:
  /#X-Amz-Target=AmazonSQS.AddPermission:
    post:
      operationId: AddPermission
      requestBody:
        required: true
        content:
          application/x-amz-json-1.0:
            schema: {type: object, properties: {QueueUrl: {type: string}}}
      responses: {'200': {description: ok}}
  /{Bucket}?uploads:
    get:
      operationId: ListMultipartUploads
      parameters:
        - {name: Bucket, in: path, required: true, schema: {type: string}}
        - {name: prefix, in: query, schema: {type: string}}
      responses: {'200': {description: ok}}
"##;
    let (gw, _dir) = gateway_for(spec, &backend);
    let mcp = gw.mcp("f");
    let r = mcp
        .call("AddPermission", json!({"QueueUrl": "https://q"}))
        .await;
    assert!(!is_error(&r), "{r}");
    let seen = backend.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.uri, "/%23X-Amz-Target=AmazonSQS.AddPermission");
    assert_eq!(
        serde_json::from_str::<Value>(&seen.body).unwrap(),
        json!({"QueueUrl": "https://q"})
    );
    let r = mcp
        .call(
            "ListMultipartUploads",
            json!({"Bucket": "b", "prefix": "p"}),
        )
        .await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(backend.last().uri, "/b%3Fuploads?prefix=p");
    let _ = text(&r);
}
