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

/// apideck's `creditNotesUpdate`: the body schema is the resource's own, whose `id` is
/// read-only and required. Read-only properties (nested ones too) are not arguments and not
/// required; the answer's schema keeps them (and `required`) but drops write-only ones.
#[tokio::test]
async fn read_only_fields_are_not_arguments_and_write_only_fields_not_output() {
    let backend = Backend::start().await;
    let spec = r##"openapi: 3.0.3
info: {title: apideck-like, version: "1"}
paths:
  /accounting/credit-notes/{id}:
    patch:
      operationId: creditNotesUpdate
      parameters:
        - {name: id, in: path, required: true, schema: {$ref: '#/components/schemas/Id'}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/CreditNote'}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/CreditNote'}
components:
  schemas:
    Id: {type: string, readOnly: true}
    CreditNote:
      type: object
      required: [id, total_amount, api_secret]
      properties:
        id: {$ref: '#/components/schemas/Id'}
        total_amount: {type: number}
        updated_at: {type: string, format: date-time, readOnly: true}
        api_secret: {type: string, writeOnly: true}
        line_items:
          type: array
          items: {$ref: '#/components/schemas/LineItem'}
    LineItem:
      type: object
      required: [id, amount]
      properties:
        id: {type: string, readOnly: true}
        amount: {type: number}
"##;
    let (gw, _dir) = gateway_for(spec, &backend);
    let mcp = gw.mcp("f");
    let tools = mcp.list().await;
    let t = &tools[0];
    let input = &t["inputSchema"];
    let args: Vec<&str> = input["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // `id` is the path parameter (a parameter is never left out), the body's `id` is gone.
    assert_eq!(args, ["id", "total_amount", "api_secret", "line_items"]);
    assert_eq!(
        input["required"],
        json!(["id", "total_amount", "api_secret"])
    );
    assert_eq!(
        input["$defs"]["LineItem"]["required"],
        json!(["amount"]),
        "{input}"
    );
    assert!(input["$defs"]["LineItem"]["properties"].get("id").is_none());
    // The output keeps read-only fields and their `required`, without the write-only one.
    let out = &t["outputSchema"]["$defs"]["CreditNote"];
    assert_eq!(out["required"], json!(["id", "total_amount"]), "{out}");
    assert!(out["properties"].get("api_secret").is_none());
    assert!(out["properties"].get("updated_at").is_some());
    assert_eq!(
        t["outputSchema"]["$defs"]["LineItem"]["required"],
        json!(["id", "amount"])
    );

    let r = mcp
        .call(
            "creditNotesUpdate",
            json!({"id": "cn_1", "total_amount": 10, "api_secret": "s",
                   "line_items": [{"amount": 10}]}),
        )
        .await;
    assert!(!is_error(&r), "{r}");
    let seen = backend.last();
    assert_eq!(seen.uri, "/accounting/credit-notes/cn_1");
    assert_eq!(
        serde_json::from_str::<Value>(&seen.body).unwrap(),
        json!({"total_amount": 10, "api_secret": "s", "line_items": [{"amount": 10}]})
    );
}
