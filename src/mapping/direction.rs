//! `readOnly` and `writeOnly`: one schema describes a resource both ways, and some of its
//! properties only travel one way.
//!
//! OpenAPI 3.0.3 (Schema Object, `readOnly`): "it MAY be sent as part of a response but SHOULD
//! NOT be sent as part of the request. If the property is marked as `readOnly` being `true` and
//! is in the `required` list, the `required` will take effect on the response only." `writeOnly`
//! is the mirror case. 3.1 makes both JSON Schema annotations and lets the server "either ignore a
//! `readOnly` field or treat it as an error" (3.1.1, "Validating `readOnly` and `writeOnly`"):
//! a gateway that sends one may be refused (apideck's `creditNotesUpdate` refuses `id`). So a
//! tool's arguments leave out read-only properties (and their names in `required`), and its
//! output schema leaves out write-only ones.
//!
//! A definition shared by requests and responses has a variant per direction (`mapping::defs`):
//! the request variant goes in input schemas, the response variant in output schemas, and no
//! variant is made for schemas that never reach the keyword.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Which way a schema's data travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Tool arguments: `readOnly` properties are left out.
    Request,
    /// Tool output: `writeOnly` properties are left out.
    Response,
}

impl Direction {
    fn keyword(self) -> &'static str {
        match self {
            Direction::Request => "readOnly",
            Direction::Response => "writeOnly",
        }
    }
}

/// Keywords whose value is a map of names to schemas.
const SCHEMA_MAPS: [&str; 5] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];
/// Keywords whose value is a schema or a list of schemas.
const SCHEMAS: [&str; 15] = [
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
    "allOf",
    "anyOf",
    "oneOf",
    "prefixItems",
];

/// Whether `schema` (or its `$defs`) mentions this direction's keyword at all.
pub fn mentions(schema: &Map<String, Value>, dir: Direction) -> bool {
    fn any(v: &Value, dir: Direction) -> bool {
        match v {
            Value::Object(o) => mentions(o, dir),
            Value::Array(a) => a.iter().any(|v| any(v, dir)),
            _ => false,
        }
    }
    schema.iter().any(|(k, v)| {
        (k == dir.keyword() && v == &Value::Bool(true))
            || (!matches!(k.as_str(), "enum" | "const" | "default" | "examples") && any(v, dir))
    })
}

/// Whether a property's schema keeps it out of this direction: marked itself, or through what
/// it only refers to (a `$ref`, a one-entry `allOf`, a nullable `anyOf`/`oneOf` whose other
/// branches are all marked).
pub fn is_hidden(prop: &Value, defs: &Map<String, Value>, dir: Direction) -> bool {
    hidden_at(prop, defs, dir, 0)
}

fn hidden_at(prop: &Value, defs: &Map<String, Value>, dir: Direction, depth: usize) -> bool {
    let Some(o) = prop.as_object() else {
        return false;
    };
    if depth > 16 {
        return false;
    }
    if o.get(dir.keyword()) == Some(&Value::Bool(true)) {
        return true;
    }
    if let Some(target) = ref_target(o, defs) {
        return hidden_at(target, defs, dir, depth + 1);
    }
    if let Some(Value::Array(all)) = o.get("allOf")
        && all.len() == 1
    {
        return hidden_at(&all[0], defs, dir, depth + 1);
    }
    for k in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alts)) = o.get(k) {
            let mut typed = alts
                .iter()
                .filter(|s| s.get("type") != Some(&Value::String("null".into())))
                .peekable();
            return typed.peek().is_some() && typed.all(|s| hidden_at(s, defs, dir, depth + 1));
        }
    }
    false
}

fn ref_target<'a>(o: &Map<String, Value>, defs: &'a Map<String, Value>) -> Option<&'a Value> {
    let key = o
        .get("$ref")?
        .as_str()?
        .strip_prefix("#/$defs/")?
        .replace("~1", "/")
        .replace("~0", "~");
    defs.get(&key)
}

/// Leave out, everywhere in `schema` and its `$defs`, the properties hidden in this direction
/// and their names in `required`. With `keep_root`, the root's own properties stay (a tool's
/// arguments: parameters are never left out, and body fields were chosen already), but what
/// they hold is rewritten. Returns whether anything was left out.
pub fn strip(schema: &mut Map<String, Value>, dir: Direction, keep_root: bool) -> bool {
    // Marks are read from the definitions as written (a snapshot), then each copy is rewritten.
    let defs = match schema.get("$defs") {
        Some(Value::Object(d)) => d.clone(),
        _ => Map::new(),
    };
    walk(schema, &defs, dir, keep_root, 0)
}

/// [`strip`] for a schema without `$defs` whose references point into `defs` (the document's,
/// as written): the schema is rewritten, the definitions are not.
pub fn strip_with(
    schema: &mut Map<String, Value>,
    defs: &Map<String, Value>,
    dir: Direction,
    keep_root: bool,
) -> bool {
    walk(schema, defs, dir, keep_root, 0)
}

/// One definition of `defs` rewritten as [`strip`] rewrites it inside a schema's `$defs`.
pub fn strip_def(def: &mut Map<String, Value>, defs: &Map<String, Value>, dir: Direction) -> bool {
    walk(def, defs, dir, false, 1)
}

fn walk(
    o: &mut Map<String, Value>,
    defs: &Map<String, Value>,
    dir: Direction,
    keep: bool,
    depth: usize,
) -> bool {
    if depth > 256 {
        return false;
    }
    let mut changed = false;
    if !keep {
        let hidden = hidden_names(o, defs, dir);
        if !hidden.is_empty() {
            changed = true;
            if let Some(Value::Object(props)) = o.get_mut("properties") {
                props.retain(|k, _| !hidden.contains(k));
            }
            drop_required(o, &hidden);
            // `allOf: [{$ref: Base}, {required: [id]}]`: a branch may require what another
            // branch marks.
            if let Some(Value::Array(all)) = o.get_mut("allOf") {
                for b in all.iter_mut().filter_map(Value::as_object_mut) {
                    drop_required(b, &hidden);
                }
            }
        }
    }
    for (k, v) in o.iter_mut() {
        if SCHEMA_MAPS.contains(&k.as_str()) {
            if let Value::Object(m) = v {
                for s in m.values_mut().filter_map(Value::as_object_mut) {
                    changed |= walk(s, defs, dir, false, depth + 1);
                }
            }
        } else if SCHEMAS.contains(&k.as_str()) {
            match v {
                Value::Object(s) => changed |= walk(s, defs, dir, false, depth + 1),
                Value::Array(a) => {
                    for s in a.iter_mut().filter_map(Value::as_object_mut) {
                        changed |= walk(s, defs, dir, false, depth + 1);
                    }
                }
                _ => {}
            }
        }
    }
    changed
}

/// The names of this object schema's hidden properties, its own and those of its `allOf`
/// branches (followed through `$ref`).
fn hidden_names(
    o: &Map<String, Value>,
    defs: &Map<String, Value>,
    dir: Direction,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |s: &Map<String, Value>| {
        if let Some(Value::Object(props)) = s.get("properties") {
            out.extend(
                props
                    .iter()
                    .filter(|(_, p)| is_hidden(p, defs, dir))
                    .map(|(k, _)| k.clone()),
            );
        }
    };
    add(o);
    if let Some(Value::Array(all)) = o.get("allOf") {
        for b in all.iter().filter_map(Value::as_object) {
            match ref_target(b, defs).and_then(Value::as_object) {
                Some(t) => add(t),
                None => add(b),
            }
        }
    }
    out
}

fn drop_required(o: &mut Map<String, Value>, hidden: &BTreeSet<String>) {
    if let Some(Value::Array(req)) = o.get_mut("required") {
        req.retain(|r| r.as_str().is_none_or(|r| !hidden.contains(r)));
        if req.is_empty() {
            o.remove("required");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn read_only_properties_leave_requests_and_write_only_ones_leave_responses() {
        let shared = json!({
            "type": "object",
            "properties": {
                "body": {"$ref": "#/$defs/Note"},
            },
            "$defs": {
                "Note": {"type": "object", "required": ["id", "text", "secret"], "properties": {
                    "id": {"$ref": "#/$defs/Id"},
                    "text": {"type": "string"},
                    "created": {"type": "string", "readOnly": true},
                    "secret": {"type": "string", "writeOnly": true},
                    "owner": {"anyOf": [{"$ref": "#/$defs/Id"}, {"type": "null"}]}
                }},
                "Id": {"type": "string", "readOnly": true}
            }
        });
        let mut req = obj(shared.clone());
        assert!(mentions(shared.as_object().unwrap(), Direction::Request));
        assert!(strip(&mut req, Direction::Request, true));
        let note = &req["$defs"]["Note"];
        assert_eq!(note["required"], json!(["text", "secret"]));
        let names: Vec<_> = note["properties"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["text", "secret"]);
        // The root's own properties are arguments: kept.
        assert!(req["properties"]["body"].is_object());

        let mut resp = obj(shared);
        assert!(strip(&mut resp, Direction::Response, false));
        let note = &resp["$defs"]["Note"];
        assert_eq!(note["required"], json!(["id", "text"]));
        assert!(note["properties"].get("secret").is_none());
        assert!(note["properties"].get("created").is_some());
    }

    #[test]
    fn a_branch_may_require_what_another_marks() {
        let mut s = obj(json!({
            "allOf": [
                {"$ref": "#/$defs/Base"},
                {"type": "object", "required": ["id", "name"], "properties": {"name": {"type": "string"}}}
            ],
            "$defs": {"Base": {"type": "object", "properties": {"id": {"type": "integer", "readOnly": true}}}}
        }));
        assert!(strip(&mut s, Direction::Request, false));
        assert_eq!(s["allOf"][1]["required"], json!(["name"]));
        assert!(
            s["$defs"]["Base"]["properties"]
                .as_object()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn nothing_marked_nothing_changed() {
        let v = json!({"type": "object", "properties": {"a": {"type": "string", "enum": [{"readOnly": true}]}}});
        assert!(!mentions(v.as_object().unwrap(), Direction::Request));
        let mut s = obj(v.clone());
        assert!(!strip(&mut s, Direction::Request, false));
        assert_eq!(Value::Object(s), v);
    }
}
