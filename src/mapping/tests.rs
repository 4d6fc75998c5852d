use super::*;
use crate::ingest;

fn map_api_t(spec: &ApiSpec, api: &ApiConfig) -> Result<Mapping, ConfigError> {
    map_api(spec, api, 1 << 20)
}

fn api(yaml: &str) -> ApiConfig {
    yaml_serde::from_str(yaml).unwrap()
}

const SPEC: &str = r#"
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /pets/{id}:
    get:
      operationId: pets/get-one
      tags: [pets]
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
        - {name: id, in: query, schema: {type: string}}
      responses: {"200": {description: ok}}
    put:
      operationId: pets/get-one
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [name], properties: {name: {type: string}, id: {type: integer}}}
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses: {"200": {description: ok}}
  /admin:
    delete:
      tags: [admin]
      responses: {"204": {description: gone}}
"#;

#[test]
fn tool_scopes_come_from_override_then_spec_then_api_default() {
    let spec = ingest::parse(
            br#"
openapi: 3.0.3
info: {title: t, version: "1"}
security: [{o: [read]}]
paths:
  /a:
    get: {operationId: a, responses: {"200": {description: ok}}}
    post: {operationId: b, security: [{o: [write]}, {o: [admin]}], responses: {"200": {description: ok}}}
    put: {operationId: c, security: [], responses: {"200": {description: ok}}}
    delete: {operationId: d, responses: {"200": {description: ok}}}
"#,
        )
        .unwrap();
    let cfg = api(
        "name: t\nspec: x\nauth: {default_tool_scopes: [basic]}\ntools:\n  d: {scopes: [root]}\n",
    );
    let m = map_api_t(&spec, &cfg).unwrap();
    let scopes = |n: &str| m.tools.iter().find(|t| t.name == n).unwrap().scopes.clone();
    assert_eq!(scopes("a"), [["read"]], "document-level security");
    assert_eq!(scopes("b"), [["write"], ["admin"]], "alternatives");
    assert_eq!(scopes("c"), [["basic"]], "none declared: the API default");
    assert_eq!(scopes("d"), [["root"]], "the override wins");
}

#[test]
fn clashes_are_suffixed_and_reported() {
    let spec = ingest::parse(SPEC.as_bytes()).unwrap();
    let m = map_api_t(&spec, &api("name: t\nspec: x")).unwrap();
    let names: Vec<_> = m.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["pets_get-one", "pets_get-one_2", "delete_admin"]);
    assert!(
        m.report[1]
            .notes
            .iter()
            .any(|n| n.contains("already taken"))
    );
    let get = &m.tools[0].input_schema;
    assert_eq!(get["properties"]["id_query"]["type"], "string");
    let put = &m.tools[1].input_schema;
    assert_eq!(put["required"], json!(["id", "name"]));
    assert!(put["properties"]["id_body"].is_object());
}

#[test]
fn selection_and_overrides() {
    let spec = ingest::parse(SPEC.as_bytes()).unwrap();
    let cfg = api(
        "name: t\nspec: x\ninclude: [{tag: pets}]\nexclude: [{method: PUT}]\ntools:\n  pets/get-one: {name: fetch_pet, description: Fetch}\n",
    );
    let m = map_api_t(&spec, &cfg).unwrap();
    assert_eq!(m.tools.len(), 1);
    assert_eq!(m.tools[0].name, "fetch_pet");
    assert_eq!(m.tools[0].description, "Fetch");
    // An operation without operationId is overridden by its generated name.
    let by_generated = api("name: t\nspec: x\ntools:\n  delete_admin: {description: Wipe}\n");
    let m = map_api_t(&spec, &by_generated).unwrap();
    let admin = m.tools.iter().find(|t| t.name == "delete_admin").unwrap();
    assert_eq!(admin.description, "Wipe");
    let bad = api("name: t\nspec: x\ntools:\n  nope: {name: x}\n");
    assert!(
        map_api_t(&spec, &bad)
            .unwrap_err()
            .to_string()
            .contains("matches no operationId")
    );
}
