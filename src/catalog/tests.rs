//! Tools written from the shared definitions are byte for byte the tools serialized whole.

use super::*;
use crate::config::ServerConfig;

const SPEC: &str = r##"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /notes/{id}:
    get:
      operationId: getNote
      parameters:
        - {name: id, in: path, required: true, schema: {$ref: "#/components/schemas/Id"}}
      responses:
        "200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Note"}}}}
    put:
      operationId: putNote
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      requestBody:
        required: true
        content: {application/json: {schema: {$ref: "#/components/schemas/Note"}}}
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: object, properties: {note: {$ref: "#/components/schemas/Note"}, n: {type: integer}}}}}}
  /plain:
    post:
      operationId: plain
      requestBody:
        content: {application/json: {schema: {type: array, items: {$ref: "#/components/schemas/a~1b"}}}}
      responses: {"204": {description: none}}
components:
  schemas:
    Id: {type: string, readOnly: true}
    Note:
      type: object
      required: [id, text, secret]
      properties:
        id: {$ref: "#/components/schemas/Id"}
        text: {type: string}
        secret: {type: string, writeOnly: true}
        owner: {anyOf: [{$ref: "#/components/schemas/User"}, {type: "null"}]}
    User: {type: object, properties: {name: {type: string}, notes: {type: array, items: {$ref: "#/components/schemas/Note"}}}}
    a/b: {type: object, properties: {x: {$ref: "#/components/schemas/User"}}}
"##;

fn same_as_whole(spec_text: &str) -> usize {
    let api: ApiConfig =
        yaml_serde::from_str("name: t\nspec: x\nbase_url: http://127.0.0.1:9\n").unwrap();
    let server = ServerConfig::default();
    let spec = ingest::parse(spec_text.as_bytes()).unwrap();
    let mapped = mapping::map_api(&spec, &api, server.max_output_schema_bytes).unwrap();
    let cat = ApiCatalog::build(&api, spec, &server).unwrap();
    assert_eq!(cat.tools.len(), mapped.tools.len());
    let mut with_defs = 0;
    for m in &mapped.tools {
        with_defs += usize::from(!m.input_defs.is_empty() || !m.output_defs.is_empty());
        let whole = definition(
            m,
            Arc::new(m.defs.whole(&m.input_schema, &m.input_defs)),
            m.output_schema
                .as_ref()
                .map(|o| Arc::new(m.defs.whole(o, &m.output_defs))),
        );
        let t = cat.tool(&m.name).unwrap();
        let mut written = Vec::new();
        cat.write_tool(t, &mut written);
        assert_eq!(
            String::from_utf8(written).unwrap(),
            serde_json::to_string(&whole).unwrap(),
            "{}",
            m.name
        );
        assert_eq!(t.len, serde_json::to_vec(&whole).unwrap().len());
    }
    with_defs
}

#[test]
fn tools_written_from_shared_definitions_are_the_whole_tools() {
    assert_eq!(same_as_whole(SPEC), 3);
    same_as_whole(include_str!("../../specs/petstore.yaml"));
    same_as_whole(include_str!("../../tests/fixtures/petstore-v31.yaml"));
    assert!(same_as_whole(include_str!("../../tests/fixtures/petstore-v2.json")) > 0);
}
