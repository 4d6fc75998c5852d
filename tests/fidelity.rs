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

/// One part of a multipart body, as a real multipart parser (`multer`) reads it.
#[derive(Debug, Clone)]
struct ParsedPart {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

/// What the parsing backend read from one request.
#[derive(Debug, Clone, Default)]
struct Received {
    uri: String,
    content_type: String,
    parts: Vec<ParsedPart>,
    raw: Vec<u8>,
}

/// A backend that parses multipart bodies as a server would (or keeps other bodies' bytes).
async fn parsing_backend() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Received>>>) {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let store = seen.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let store = store.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let ct = parts
                .headers
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let mut got = Received {
                uri: parts.uri.to_string(),
                content_type: ct.clone(),
                raw: bytes.to_vec(),
                ..Default::default()
            };
            if ct.starts_with("multipart/form-data") {
                let boundary = multer::parse_boundary(&ct).expect("a boundary");
                let stream =
                    futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
                let mut mp = multer::Multipart::new(stream, boundary);
                while let Some(field) = mp.next_field().await.expect("a well-formed body") {
                    let part = ParsedPart {
                        name: field.name().unwrap_or_default().to_string(),
                        filename: field.file_name().map(str::to_string),
                        content_type: field.content_type().map(|m| m.to_string()),
                        bytes: Vec::new(),
                    };
                    let bytes = field.bytes().await.expect("the part's bytes");
                    got.parts.push(ParsedPart {
                        bytes: bytes.to_vec(),
                        ..part
                    });
                }
            }
            store.lock().unwrap().push(got);
            axum::Json(json!({"ok": true}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Bytes a careless encoder would break: NUL, non-UTF-8, CRLF, a fake boundary line.
const AWKWARD: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff\xfe--boundary\r\n--\r\n\r\nend";

/// Stripe's `PostFiles` (a binary `file`, deepObject `file_link_data` and `expand`) and an
/// AEM-like upload (a `$ref`'d body with a file, a list of images limited to two media types, a
/// JSON part), then a binary `application/octet-stream` body: a backend that parses the
/// multipart body finds every part with its headers, and the file bytes intact.
#[tokio::test]
async fn multipart_uploads_and_binary_bodies_arrive_intact() {
    let (url, seen) = parsing_backend().await;
    let spec = r##"openapi: 3.0.0
info: {title: uploads, version: "1"}
paths:
  /v1/files:
    post:
      operationId: PostFiles
      requestBody:
        required: true
        content:
          multipart/form-data:
            encoding:
              expand: {explode: true, style: deepObject}
              file_link_data: {explode: true, style: deepObject}
            schema:
              type: object
              required: [file, purpose]
              additionalProperties: false
              properties:
                expand: {type: array, items: {type: string}}
                file: {type: string, format: binary, description: A file to upload.}
                file_link_data:
                  type: object
                  required: [create]
                  properties: {create: {type: boolean}, expires_at: {type: integer}}
                purpose: {type: string, enum: [dispute_evidence, identity_document]}
      responses: {'200': {description: ok}}
  /etc/packmgr/service/{cmd}:
    post:
      operationId: postPackageService
      parameters:
        - {name: cmd, in: path, required: true, schema: {type: string}}
      requestBody:
        content:
          multipart/form-data:
            schema: {$ref: '#/components/schemas/Upload'}
            encoding:
              images: {contentType: 'image/png, image/jpeg'}
      responses: {'200': {description: ok}}
  /objects/{key}:
    put:
      operationId: putObject
      parameters:
        - {name: key, in: path, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/octet-stream:
            schema: {type: string, format: binary}
      responses: {'200': {description: ok}}
components:
  schemas:
    Upload:
      type: object
      properties:
        package: {type: string, format: binary}
        images: {type: array, items: {type: string, format: binary}}
        meta: {type: object, properties: {force: {type: boolean}}}
        comment: {type: string}
"##;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.yaml");
    std::fs::write(&path, spec).unwrap();
    let gw = Gateway::start(&api_config("f", &path, &url, ""));
    let mcp = gw.mcp("f");

    let tools = mcp.list().await;
    let files = tools.iter().find(|t| t["name"] == "PostFiles").unwrap();
    let file_arg = &files["inputSchema"]["properties"]["file"];
    assert_eq!(file_arg["type"], "object");
    assert_eq!(file_arg["required"], json!(["data"]));
    assert_eq!(file_arg["properties"]["data"]["contentEncoding"], "base64");
    assert_eq!(
        file_arg["properties"]["data"]["contentMediaType"],
        "application/octet-stream"
    );
    assert_eq!(file_arg["description"], "A file to upload.");
    let pkg = tools
        .iter()
        .find(|t| t["name"] == "postPackageService")
        .unwrap();
    assert_eq!(
        pkg["inputSchema"]["properties"]["images"]["items"]["properties"]["contentType"]["enum"],
        json!(["image/png", "image/jpeg"])
    );

    let r = mcp
        .call(
            "PostFiles",
            json!({"purpose": "dispute_evidence",
                   "file": {"data": b64(AWKWARD), "filename": "évidence \"1\".png",
                            "contentType": "image/png"},
                   "file_link_data": {"create": true, "expires_at": 1700000000},
                   "expand": ["link"]}),
        )
        .await;
    assert!(!is_error(&r), "{r}");
    let got = seen.lock().unwrap().pop().unwrap();
    assert_eq!(got.uri, "/v1/files");
    let parts: Vec<(&str, Option<&str>, Option<&str>)> = got
        .parts
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.filename.as_deref(),
                p.content_type.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        // In the schema's order.
        [
            ("expand[0]", None, None),
            ("file", Some("évidence %221%22.png"), Some("image/png")),
            ("file_link_data[create]", None, None),
            ("file_link_data[expires_at]", None, None),
            ("purpose", None, None),
        ]
    );
    assert_eq!(got.parts[1].bytes, AWKWARD, "the file's bytes, intact");
    assert_eq!(got.parts[0].bytes, b"link");
    assert_eq!(got.parts[2].bytes, b"true");
    assert_eq!(got.parts[3].bytes, b"1700000000");
    assert_eq!(got.parts[4].bytes, b"dispute_evidence");

    let r = mcp
        .call(
            "postPackageService",
            json!({"cmd": "upload", "package": {"data": b64(b"PK\x03\x04zip")},
                   "images": [{"data": b64(b"one"), "filename": "1.png"},
                              {"data": b64(b"two"), "filename": "2.jpg", "contentType": "image/jpeg"}],
                   "meta": {"force": true}, "comment": "line 1\r\nline 2"}),
        )
        .await;
    assert!(!is_error(&r), "{r}");
    let got = seen.lock().unwrap().pop().unwrap();
    type Summary = (String, Option<String>, Option<String>, Vec<u8>);
    let summary: Vec<Summary> = got
        .parts
        .into_iter()
        .map(|p| (p.name, p.filename, p.content_type, p.bytes))
        .collect();
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        summary,
        [
            (
                "package".into(),
                s("package"),
                s("application/octet-stream"),
                b"PK\x03\x04zip".to_vec()
            ),
            ("images".into(), s("1.png"), s("image/png"), b"one".to_vec()),
            (
                "images".into(),
                s("2.jpg"),
                s("image/jpeg"),
                b"two".to_vec()
            ),
            (
                "meta".into(),
                None,
                s("application/json"),
                br#"{"force":true}"#.to_vec()
            ),
            ("comment".into(), None, None, b"line 1\r\nline 2".to_vec()),
        ]
    );

    // Refused before anything is sent: bytes that are not base64, a media type not allowed.
    let r = mcp
        .call(
            "PostFiles",
            json!({"purpose": "dispute_evidence", "file": {"data": "not base64!"}}),
        )
        .await;
    assert!(
        is_error(&r) && text(&r).contains("`file.data` is not valid base64"),
        "{r}"
    );
    let r = mcp
        .call(
            "postPackageService",
            json!({"cmd": "x", "images": [{"data": "AA==", "contentType": "text/html"}]}),
        )
        .await;
    assert!(is_error(&r), "{r}");

    // A binary body: one base64 argument, the bytes as they were.
    let tools = mcp.list().await;
    let put = tools.iter().find(|t| t["name"] == "putObject").unwrap();
    assert_eq!(
        put["inputSchema"]["properties"]["body"]["contentEncoding"],
        "base64"
    );
    let before = seen.lock().unwrap().len();
    let r = mcp
        .call("putObject", json!({"key": "k", "body": b64(AWKWARD)}))
        .await;
    assert!(!is_error(&r), "{r}");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), before + 1, "the two refused calls sent nothing");
    let got = seen.last().unwrap();
    assert_eq!(got.content_type, "application/octet-stream");
    assert_eq!(got.raw, AWKWARD);
}

/// Swagger 2.0 `formData`: a `type: file` parameter makes a multipart upload; arrays follow
/// `collectionFormat` (`csv` by default, `multi` repeats the name) in both kinds of form.
#[tokio::test]
async fn swagger2_form_data_uploads_and_collection_formats() {
    let (url, seen) = parsing_backend().await;
    let spec = r##"{"swagger": "2.0", "info": {"title": "v2", "version": "1"}, "paths": {
  "/pet/{petId}/uploadImage": {"post": {"operationId": "uploadFile",
    "consumes": ["multipart/form-data"],
    "parameters": [
      {"name": "petId", "in": "path", "required": true, "type": "integer"},
      {"name": "additionalMetadata", "in": "formData", "type": "string"},
      {"name": "tags", "in": "formData", "type": "array", "items": {"type": "string"}, "collectionFormat": "multi"},
      {"name": "file", "in": "formData", "required": true, "type": "file"}],
    "responses": {"200": {"description": "ok"}}}},
  "/pet/{petId}": {"post": {"operationId": "updatePetWithForm",
    "consumes": ["application/x-www-form-urlencoded"],
    "parameters": [
      {"name": "petId", "in": "path", "required": true, "type": "integer"},
      {"name": "name", "in": "formData", "type": "string"},
      {"name": "ids", "in": "formData", "type": "array", "items": {"type": "integer"}},
      {"name": "status", "in": "formData", "type": "array", "items": {"type": "string"}, "collectionFormat": "pipes"}],
    "responses": {"200": {"description": "ok"}}}}}}"##;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.json");
    std::fs::write(&path, spec).unwrap();
    let gw = Gateway::start(&api_config("f", &path, &url, ""));
    let mcp = gw.mcp("f");
    let r = mcp
        .call(
            "uploadFile",
            json!({"petId": 7, "additionalMetadata": "m", "tags": ["a", "b"],
                   "file": {"data": b64(AWKWARD), "filename": "cat.jpg"}}),
        )
        .await;
    assert!(!is_error(&r), "{r}");
    let got = seen.lock().unwrap().pop().unwrap();
    assert_eq!(got.uri, "/pet/7/uploadImage");
    let names: Vec<_> = got.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["additionalMetadata", "tags", "tags", "file"]);
    let file = &got.parts[3];
    assert_eq!(file.filename.as_deref(), Some("cat.jpg"));
    assert_eq!(
        file.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(file.bytes, AWKWARD);

    let r = mcp
        .call(
            "updatePetWithForm",
            json!({"petId": 7, "name": "Rex", "ids": [1, 2], "status": ["a", "b"]}),
        )
        .await;
    assert!(!is_error(&r), "{r}");
    let got = seen.lock().unwrap().pop().unwrap();
    assert_eq!(got.content_type, "application/x-www-form-urlencoded");
    assert_eq!(
        String::from_utf8(got.raw).unwrap(),
        "name=Rex&ids=1%2C2&status=a%7Cb"
    );
}

/// Every place a parameter can go, with the styles real descriptions use there (the Parameter
/// Object's style table, 3.1.1), `allowReserved`, `content` parameters (JSON text), cookies,
/// `type: [..., "null"]`, `default` (never filled in: the server assumes it) and `const`.
#[tokio::test]
async fn parameters_in_every_location_and_style() {
    let backend = Backend::start().await;
    let spec = r##"openapi: 3.1.0
info: {title: styles, version: "1"}
paths:
  /s/{label}/{matrix}/{simple}:
    get:
      operationId: styles
      parameters:
        - {name: label, in: path, required: true, style: label, explode: true, schema: {type: array, items: {type: string}}}
        - {name: matrix, in: path, required: true, style: matrix, schema: {type: object, additionalProperties: {type: integer}}}
        - {name: simple, in: path, required: true, explode: true, schema: {type: object}}
        - {name: ids, in: query, explode: false, schema: {type: array, items: {type: integer}}}
        - {name: color, in: query, schema: {type: object}}
        - {name: words, in: query, style: spaceDelimited, schema: {type: array, items: {type: string}}}
        - {name: pipes, in: query, style: pipeDelimited, schema: {type: array, items: {type: string}}}
        - {name: filter, in: query, style: deepObject, explode: true, schema: {type: object}}
        - {name: next, in: query, allowReserved: true, schema: {type: string}}
        - name: q
          in: query
          content: {application/json: {schema: {type: object}}}
        - {name: limit, in: query, schema: {type: integer, default: 20}}
        - {name: v, in: query, schema: {const: "2"}}
        - {name: X-Ids, in: header, schema: {type: array, items: {type: integer}}}
        - {name: X-Obj, in: header, explode: true, schema: {type: object}}
        - name: X-Filter
          in: header
          content: {application/json: {schema: {type: object}}}
        - {name: X-Maybe, in: header, schema: {type: [string, "null"]}}
        - {name: session, in: cookie, schema: {type: string}}
        - {name: prefs, in: cookie, explode: true, schema: {type: object}}
        - {name: tags, in: cookie, explode: false, schema: {type: array, items: {type: string}}}
      responses: {'200': {description: ok}}
"##;
    let (gw, _dir) = gateway_for(spec, &backend);
    let mcp = gw.mcp("f");
    let tool = mcp.list().await.remove(0);
    assert_eq!(
        tool["inputSchema"]["properties"]["limit"]["default"], 20,
        "a default is shown to the model"
    );
    let r = mcp
        .call(
            "styles",
            json!({"label": ["a", "b"], "matrix": {"x": 1, "y": 2}, "simple": {"R": 100, "G": 200},
                   "ids": [3, 4], "color": {"R": 1, "G": 2}, "words": ["big", "cat"],
                   "pipes": ["p", "q"], "filter": {"kind": "a b", "n": 1},
                   "next": "/x?y=1&z", "q": {"a": [1, "b"]}, "v": "2",
                   "X-Ids": [1, 2], "X-Obj": {"a": 1, "b": 2}, "X-Filter": {"k": "v"},
                   "X-Maybe": null, "session": "s 1", "prefs": {"theme": "dark", "lang": "fr"},
                   "tags": ["t1", "t2"]}),
        )
        .await;
    assert!(!is_error(&r), "{r}");
    let seen = backend.last();
    assert_eq!(
        seen.uri,
        "/s/.a.b/;matrix=x,1,y,2/R=100,G=200?ids=3,4&R=1&G=2&words=big%20cat&pipes=p%7Cq\
         &filter%5Bkind%5D=a%20b&filter%5Bn%5D=1&next=/x?y%3D1%26z\
         &q=%7B%22a%22%3A%5B1%2C%22b%22%5D%7D&v=2"
    );
    assert_eq!(seen.header("x-ids"), Some("1,2"));
    assert_eq!(seen.header("x-obj"), Some("a=1,b=2"));
    assert_eq!(seen.header("x-filter"), Some(r#"{"k":"v"}"#));
    assert_eq!(seen.header("x-maybe"), None, "null: not sent");
    assert_eq!(
        seen.header("cookie"),
        Some("session=s%201; theme=dark; lang=fr; tags=t1,t2")
    );
    // `const` is enforced; nothing else is filled in.
    let r = mcp
        .call(
            "styles",
            json!({"label": ["a"], "matrix": {"x": 1}, "simple": {"R": 1}, "v": "3"}),
        )
        .await;
    assert!(is_error(&r) && text(&r).contains("argument `v`"), "{r}");
    assert_eq!(backend.requests().len(), 1);
}

/// Bodies of every shape: a `oneOf` with a discriminator (validated as the `oneOf` says: "the
/// `discriminator` MUST NOT change the validation outcome", 3.1.1), `anyOf` of an object and a
/// list, 3.0 `nullable` (plain and on a `$ref`) and 3.1 `type: [..., "null"]` fields, defaults
/// left to the server: each body reaches the backend exactly as given.
#[tokio::test]
async fn one_of_any_of_nullable_and_default_bodies() {
    let backend = Backend::start().await;
    let spec = r##"openapi: 3.0.3
info: {title: bodies, version: "1"}
paths:
  /pets:
    post:
      operationId: addPet
      requestBody:
        required: true
        content:
          application/json:
            schema:
              oneOf: [{$ref: '#/components/schemas/Cat'}, {$ref: '#/components/schemas/Dog'}]
              discriminator:
                propertyName: petType
                mapping: {cat: Cat, dog: '#/components/schemas/Dog'}
      responses: {'200': {description: ok}}
  /things:
    post:
      operationId: addThings
      requestBody:
        required: true
        content:
          application/json:
            schema:
              anyOf:
                - {type: object, required: [name], properties: {name: {type: string}}}
                - {type: array, items: {type: string}}
      responses: {'200': {description: ok}}
  /notes:
    post:
      operationId: addNote
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [text]
              properties:
                text: {type: string, nullable: true}
                owner: {allOf: [{$ref: '#/components/schemas/Dog'}], nullable: true}
                size: {type: integer, default: 10}
      responses: {'200': {description: ok}}
components:
  schemas:
    Cat:
      type: object
      required: [petType, meows]
      properties: {petType: {type: string, enum: [cat]}, meows: {type: boolean}}
    Dog:
      type: object
      required: [petType, barks]
      properties: {petType: {type: string, enum: [dog]}, barks: {type: boolean}}
"##;
    let (gw, _dir) = gateway_for(spec, &backend);
    let mcp = gw.mcp("f");
    for (tool, args, body) in [
        (
            "addPet",
            json!({"body": {"petType": "dog", "barks": true}}),
            json!({"petType": "dog", "barks": true}),
        ),
        ("addThings", json!({"body": ["a", "b"]}), json!(["a", "b"])),
        (
            "addThings",
            json!({"body": {"name": "x"}}),
            json!({"name": "x"}),
        ),
        (
            "addNote",
            json!({"text": null, "owner": null}),
            json!({"text": null, "owner": null}),
        ),
        (
            "addNote",
            json!({"text": "t", "owner": {"petType": "dog", "barks": false}}),
            json!({"text": "t", "owner": {"petType": "dog", "barks": false}}),
        ),
    ] {
        let r = mcp.call(tool, args.clone()).await;
        assert!(!is_error(&r), "{tool} {args}: {r}");
        let got: Value = serde_json::from_str(&backend.last().body).unwrap();
        assert_eq!(got, body, "{tool} {args}");
    }
    let n = backend.requests().len();
    for (tool, args) in [
        ("addPet", json!({"body": {"petType": "cat", "barks": true}})),
        ("addThings", json!({"body": 5})),
        ("addNote", json!({"text": 1})),
    ] {
        let r = mcp.call(tool, args.clone()).await;
        assert!(is_error(&r), "{tool} {args} must be refused: {r}");
    }
    assert_eq!(backend.requests().len(), n, "refused calls send nothing");
}

const MODERN: &str = "2026-07-28";

/// A 2026-07-28 request (stateless: `_meta` in the body, standard headers), with `extra`
/// headers.
async fn modern(
    mcp: &support::Mcp,
    method: &str,
    mut params: Value,
    extra: &[(&str, &str)],
) -> support::Reply {
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": MODERN,
                             "io.modelcontextprotocol/clientCapabilities": {}});
    let name = params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let body = json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params});
    let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
    if let Some(n) = &name {
        headers.push(("mcp-name", n.as_str()));
    }
    headers.extend_from_slice(extra);
    mcp.post_raw(&body.to_string(), &headers).await
}

/// Prompts and resources are declared and empty: the lists answer (with the 2026-07-28
/// caching hints), reading or getting anything is -32602 naming it, on both wires.
#[tokio::test]
async fn prompts_and_resources_are_declared_and_empty() {
    let backend = Backend::start().await;
    let gw = Gateway::start(&api_config(
        "echo",
        &support::fixture("echo.yaml"),
        &backend.url,
        "",
    ));
    let mcp = gw.mcp("echo");
    let caps = mcp.initialize().await["capabilities"].clone();
    assert_eq!(caps["prompts"], json!({}), "{caps}");
    assert_eq!(caps["resources"], json!({}), "{caps}");
    for (method, key) in [
        ("prompts/list", "prompts"),
        ("resources/list", "resources"),
        ("resources/templates/list", "resourceTemplates"),
    ] {
        let legacy = mcp.request(method, json!({})).await;
        assert_eq!(legacy["result"], json!({key: []}), "{method}");
        let r = modern(&mcp, method, json!({}), &[]).await;
        assert_eq!(r.status, 200, "{method}: {}", r.text);
        assert_eq!(
            r.json()["result"],
            json!({"resultType": "complete", key: [], "ttlMs": 0, "cacheScope": "private"}),
            "{method}"
        );
    }
    let r = modern(&mcp, "server/discover", json!({}), &[]).await;
    let caps = &r.json()["result"]["capabilities"];
    assert!(
        caps["prompts"].is_object() && caps["resources"].is_object(),
        "{caps}"
    );
    let r = modern(&mcp, "resources/read", json!({"uri": "test://nope"}), &[]).await;
    let e = &r.json()["error"];
    assert_eq!(
        (e["code"].clone(), e["data"]["uri"].clone()),
        (json!(-32602), json!("test://nope")),
        "{}",
        r.text
    );
    let r = mcp.request("prompts/get", json!({"name": "p"})).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(backend.requests().is_empty());
}

/// SEP-2243: header parameters are marked `x-mcp-header` (primitive types, no secrets), and a
/// 2026-07-28 call must mirror a marked argument in `Mcp-Param-<Name>` (as is or
/// `=?base64?...?=`): missing, different, extra or undecodable is HTTP 400 with -32020, and
/// nothing reaches the backend. Calls with nothing to check stay on the fast path.
#[tokio::test]
async fn header_parameters_are_mirrored_and_checked() {
    let backend = Backend::start().await;
    let spec = r##"openapi: 3.0.3
info: {title: headers, version: "1"}
paths:
  /zones:
    get:
      operationId: listZones
      parameters:
        - {name: X-Region, in: header, required: true, schema: {type: string}}
        - {name: X-Page, in: header, schema: {type: integer}}
        - {name: X-Api-Key, in: header, schema: {type: string}}
        - {name: X-Ratio, in: header, schema: {type: number}}
        - {name: X-Tags, in: header, schema: {type: array, items: {type: string}}}
        - {name: q, in: query, schema: {type: string}}
      responses: {'200': {description: ok}}
"##;
    let (gw, _dir) = gateway_for(spec, &backend);
    let mcp = gw.mcp("f");
    let tool = mcp.list().await.remove(0);
    let props = &tool["inputSchema"]["properties"];
    assert_eq!(props["X-Region"]["x-mcp-header"], "X-Region");
    assert_eq!(props["X-Page"]["x-mcp-header"], "X-Page");
    for p in ["X-Api-Key", "X-Ratio", "X-Tags", "q"] {
        assert!(props[p].get("x-mcp-header").is_none(), "{p}: {props}");
    }

    let call = |args: Value| json!({"name": "listZones", "arguments": args});
    let refused = [
        (call(json!({"X-Region": "eu"})), vec![]),
        (
            call(json!({"X-Region": "eu"})),
            vec![("mcp-param-x-region", "us")],
        ),
        (
            call(json!({"X-Region": "eu", "X-Page": 2})),
            vec![("Mcp-Param-X-Region", "eu")],
        ),
        (
            call(json!({"X-Region": "eu"})),
            vec![("Mcp-Param-X-Region", "eu"), ("Mcp-Param-X-Page", "1")],
        ),
        (
            call(json!({"X-Region": "Hello"})),
            vec![("Mcp-Param-X-Region", "=?base64?SGVsbG8?=")],
        ),
        (
            call(json!({"X-Region": "Hello"})),
            vec![("Mcp-Param-X-Region", "=?base64?SGVs!!!bG8=?=")],
        ),
    ];
    for (params, headers) in refused {
        let r = modern(&mcp, "tools/call", params.clone(), &headers).await;
        assert_eq!(r.status, 400, "{params} {headers:?}: {}", r.text);
        assert_eq!(r.json()["error"]["code"], -32020, "{}", r.text);
    }
    assert!(backend.requests().is_empty(), "nothing went upstream");

    let accepted = [
        (
            call(json!({"X-Region": "eu", "X-Page": 2})),
            vec![("Mcp-Param-X-Region", "eu"), ("Mcp-Param-X-Page", "2")],
            "eu",
        ),
        (
            call(json!({"X-Region": "Hello, 世界"})),
            vec![("Mcp-Param-X-Region", "=?base64?SGVsbG8sIOS4lueVjA==?=")],
            "Hello, 世界",
        ),
        (
            call(json!({"X-Region": "SGVsbG8="})),
            vec![("mcp-param-x-region", "SGVsbG8=")],
            "SGVsbG8=",
        ),
    ];
    let before = gw.served().await;
    for (params, headers, upstream) in accepted {
        let r = modern(&mcp, "tools/call", params.clone(), &headers).await;
        assert_eq!(r.status, 200, "{params} {headers:?}: {}", r.text);
        assert!(!is_error(&r.json()["result"]), "{}", r.text);
        let seen = backend.last();
        if upstream.is_ascii() {
            assert_eq!(seen.header("x-region"), Some(upstream));
        }
    }
    let after = gw.served().await;
    assert_eq!(after.1 - before.1, 3.0, "rmcp checked each mirrored call");

    // Nothing to check: the fast path answers (here: the required header argument is
    // missing, a tool error); and the 2025 revisions have no such headers.
    let before = gw.served().await;
    let r = modern(&mcp, "tools/call", call(json!({"q": "x"})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(text(&r.json()["result"]).contains("\"X-Region\" is a required property"));
    let r = mcp
        .call("listZones", json!({"X-Region": "eu", "q": "x"}))
        .await;
    assert!(!is_error(&r), "{r}");
    let after = gw.served().await;
    assert_eq!(after.0 - before.0, 2.0, "the fast path answered both");
    assert_eq!(backend.last().uri, "/zones?q=x");
}
