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

/// Stripe's form bodies: `encoding: {metadata: {style: deepObject, explode: true}, ...}` for
/// nested objects and lists, which its server reads as `metadata[key1]=...`,
/// `shipping[address][city]=...` and `account_tax_ids[0]=...`; a property without an Encoding
/// Object goes by its content type (an object as JSON text, 3.1.1 "URL Encoded Form with JSON
/// Values").
#[tokio::test]
async fn stripe_like_deep_object_form_bodies() {
    let backend = Backend::start().await;
    let spec = r##"openapi: 3.0.0
info: {title: Stripe-like, version: "1"}
paths:
  /v1/customers/{customer}:
    post:
      operationId: PostCustomersCustomer
      parameters:
        - {name: customer, in: path, required: true, style: simple, explode: false, schema: {type: string, maxLength: 5000}}
      requestBody:
        required: false
        content:
          application/x-www-form-urlencoded:
            encoding:
              metadata: {explode: true, style: deepObject}
              shipping: {explode: true, style: deepObject}
              account_tax_ids: {explode: true, style: deepObject}
              expand: {explode: true, style: deepObject}
            schema:
              type: object
              additionalProperties: false
              properties:
                description: {type: string, maxLength: 5000}
                metadata:
                  anyOf:
                    - {type: object, additionalProperties: {type: string}}
                    - {type: string, enum: ['']}
                shipping:
                  anyOf:
                    - type: object
                      required: [address, name]
                      properties:
                        address:
                          type: object
                          properties:
                            city: {type: string}
                            line1: {type: string}
                        name: {type: string}
                    - {type: string, enum: ['']}
                account_tax_ids:
                  anyOf:
                    - {type: array, items: {type: string}}
                    - {type: string, enum: ['']}
                expand: {type: array, items: {type: string}}
                preferences: {type: object, properties: {lang: {type: string}}}
                balance: {type: integer}
      responses: {'200': {description: ok}}
    get:
      operationId: GetCustomersCustomer
      parameters:
        - {name: customer, in: path, required: true, schema: {type: string}}
        - {name: expand, in: query, style: deepObject, explode: true, schema: {type: array, items: {type: string}}}
      responses: {'200': {description: ok}}
"##;
    let (gw, _dir) = gateway_for(spec, &backend);
    let mcp = gw.mcp("f");
    let r = mcp
        .call(
            "PostCustomersCustomer",
            json!({"customer": "cus_1", "description": "a b&c",
                   "metadata": {"key1": "sample", "order": "6735"},
                   "shipping": {"name": "Jo", "address": {"city": "Paris", "line1": "1 rue"}},
                   "account_tax_ids": ["atxi_1", "atxi_2"], "expand": ["default_source"],
                   "preferences": {"lang": "fr"}, "balance": -5}),
        )
        .await;
    assert!(!is_error(&r), "{r}");
    let seen = backend.last();
    assert_eq!(seen.uri, "/v1/customers/cus_1");
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        seen.body,
        "description=a+b%26c&metadata%5Bkey1%5D=sample&metadata%5Border%5D=6735\
         &shipping%5Bname%5D=Jo&shipping%5Baddress%5D%5Bcity%5D=Paris\
         &shipping%5Baddress%5D%5Bline1%5D=1+rue&account_tax_ids%5B0%5D=atxi_1\
         &account_tax_ids%5B1%5D=atxi_2&expand%5B0%5D=default_source\
         &preferences=%7B%22lang%22%3A%22fr%22%7D&balance=-5"
    );
    // Stripe's way to clear a map: the empty string.
    mcp.call(
        "PostCustomersCustomer",
        json!({"customer": "cus_1", "metadata": ""}),
    )
    .await;
    assert_eq!(backend.last().body, "metadata=");
    // The same convention in a query parameter.
    mcp.call(
        "GetCustomersCustomer",
        json!({"customer": "cus_1", "expand": ["a", "b.c"]}),
    )
    .await;
    assert_eq!(
        backend.last().uri,
        "/v1/customers/cus_1?expand%5B0%5D=a&expand%5B1%5D=b.c"
    );
}
