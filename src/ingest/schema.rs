//! OpenAPI schema objects -> JSON Schema 2020-12, the dialect MCP tool schemas use.
//!
//! Every local `$ref` becomes `#/$defs/<key>` and the referenced schema is translated once per
//! document and cached, so recursive schemas stay references instead of expanding forever. A
//! tool's schema then carries only the `$defs` it reaches ([`SchemaTranslator::closure`]).
//! OpenAPI 3.0 / Swagger 2.0 quirks are rewritten: `nullable` / `x-nullable` become a `null`
//! type, boolean `exclusiveMinimum`/`exclusiveMaximum` become numbers, `type: file` becomes a
//! binary string, `example` becomes `examples`.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use super::SpecVersion;

/// Why a schema could not be translated (the operation using it is skipped).
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SchemaError {
    #[error("external $ref `{0}` is not supported (only references inside the document)")]
    ExternalRef(String),
    #[error("$ref `{0}` does not point at anything in the document")]
    DanglingRef(String),
    #[error("schema nesting deeper than {0} levels")]
    TooDeep(usize),
}

const MAX_DEPTH: usize = 256;

/// A translated component schema: its `$defs` key, the schema, and the refs it uses.
#[derive(Debug)]
struct Def {
    key: String,
    schema: Result<Value, SchemaError>,
    deps: BTreeSet<String>,
}

/// Translates schemas of one document; caches every referenced component schema.
///
/// References are keyed by their canonical pointer (percent-decoded once), so every spelling
/// of one pointer (`#/components/schemas/Pet`, `#/components/schemas/P%65t`, ...) is one
/// definition, found by one hash lookup: loading stays linear in the number of references.
pub struct SchemaTranslator<'d> {
    root: &'d Value,
    version: SpecVersion,
    /// canonical pointer (e.g. `#/components/schemas/Pet`) -> translated definition
    defs: HashMap<String, Def>,
    /// canonical pointer -> its `$defs` key
    keys: HashMap<String, String>,
    /// every `$defs` key given out, and per base name the last `_n` suffix tried
    used: HashSet<String>,
    suffixes: HashMap<String, usize>,
}

impl<'d> SchemaTranslator<'d> {
    pub fn new(root: &'d Value, version: SpecVersion) -> Self {
        Self {
            root,
            version,
            defs: HashMap::new(),
            keys: HashMap::new(),
            used: HashSet::new(),
            suffixes: HashMap::new(),
        }
    }

    /// Translate one schema; returns it with the set of ref pointers it uses directly.
    pub fn translate(&mut self, schema: &Value) -> Result<(Value, BTreeSet<String>), SchemaError> {
        let mut deps = BTreeSet::new();
        let out = self.walk(schema, &mut deps, 0)?;
        Ok((out, deps))
    }

    /// Every `$defs` entry reachable from `deps`, keyed by its `$defs` name, in a stable order.
    #[cfg(test)]
    pub fn closure(&mut self, deps: &BTreeSet<String>) -> Result<Map<String, Value>, SchemaError> {
        let seen = self.check(deps)?;
        let mut out: Vec<(String, Value)> = seen
            .iter()
            .map(|p| {
                let d = &self.defs[p];
                (d.key.clone(), d.schema.clone().expect("checked above"))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out.into_iter().collect())
    }

    /// Translate everything reachable from `deps`; the first broken definition is the error.
    /// Returns the pointers reached.
    pub fn check(&mut self, deps: &BTreeSet<String>) -> Result<BTreeSet<String>, SchemaError> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = deps.iter().cloned().collect();
        while let Some(ptr) = stack.pop() {
            if !seen.insert(ptr.clone()) {
                continue;
            }
            self.ensure_def(&ptr)?;
            let def = &self.defs[&ptr];
            if let Err(e) = &def.schema {
                return Err(e.clone());
            }
            stack.extend(def.deps.iter().filter(|d| !seen.contains(*d)).cloned());
        }
        Ok(seen)
    }

    /// The document's translated definitions, by `$defs` key (the broken ones left out).
    pub fn into_defs(self) -> Map<String, Value> {
        let mut out: Vec<(String, Value)> = self
            .defs
            .into_values()
            .filter_map(|d| d.schema.ok().map(|s| (d.key, s)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.into_iter().collect()
    }

    fn ensure_def(&mut self, ptr: &str) -> Result<(), SchemaError> {
        if self.defs.contains_key(ptr) {
            return Ok(());
        }
        let key = self.key_for(ptr);
        // Insert a placeholder first so a recursive schema finds itself and stops.
        self.defs.insert(
            ptr.to_string(),
            Def {
                key: key.clone(),
                schema: Ok(Value::Bool(true)),
                deps: BTreeSet::new(),
            },
        );
        let root = self.root;
        let target =
            resolve_canonical(root, ptr).ok_or_else(|| SchemaError::DanglingRef(ptr.into()));
        let result = target.and_then(|t| self.translate(t));
        let def = self.defs.get_mut(ptr).expect("inserted above");
        match result {
            Ok((schema, deps)) => {
                def.schema = Ok(schema);
                def.deps = deps;
            }
            Err(e) => def.schema = Err(e),
        }
        Ok(())
    }

    /// A `$defs` key for a canonical pointer: the component name when it is one, else the
    /// pointer's tokens joined by `.`; a key already given out gets the next free `_n`.
    fn key_for(&mut self, ptr: &str) -> String {
        if let Some(k) = self.keys.get(ptr) {
            return k.clone();
        }
        let short = ptr
            .strip_prefix("#/components/schemas/")
            .or_else(|| ptr.strip_prefix("#/definitions/"))
            .filter(|s| !s.contains('/'))
            .map(unescape_pointer_token);
        let base = short.unwrap_or_else(|| {
            ptr.trim_start_matches("#/")
                .split('/')
                .map(unescape_pointer_token)
                .collect::<Vec<_>>()
                .join(".")
        });
        let key = if self.used.insert(base.clone()) {
            base
        } else {
            // Suffixes are tried in increasing order per base name, each at most once.
            let n = self.suffixes.entry(base.clone()).or_insert(1);
            loop {
                *n += 1;
                let candidate = format!("{base}_{n}");
                if self.used.insert(candidate.clone()) {
                    break candidate;
                }
            }
        };
        self.keys.insert(ptr.to_string(), key.clone());
        key
    }

    fn walk(
        &mut self,
        v: &Value,
        deps: &mut BTreeSet<String>,
        depth: usize,
    ) -> Result<Value, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(SchemaError::TooDeep(MAX_DEPTH));
        }
        let Value::Object(obj) = v else {
            // `true`/`false` schemas and anything odd pass through unchanged.
            return Ok(v.clone());
        };
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            let reference = self.reference(r, deps)?;
            // In 3.0 and 2.0 siblings of $ref are ignored, except the nullable we honour.
            let nullable = self.version != SpecVersion::V3_1
                && (obj.get("nullable") == Some(&Value::Bool(true))
                    || obj.get("x-nullable") == Some(&Value::Bool(true)));
            if self.version == SpecVersion::V3_1 && obj.len() > 1 {
                // 3.1: $ref siblings are real keywords; keep them next to the rewritten ref.
                let mut out = Map::new();
                for (k, val) in obj {
                    if k == "$ref" {
                        out.insert(k.clone(), reference.clone());
                    } else {
                        out.insert(k.clone(), self.walk_keyword(k, val, deps, depth)?);
                    }
                }
                return Ok(Value::Object(out));
            }
            let mut out = Map::new();
            out.insert("$ref".into(), reference);
            if let Some(d) = obj.get("description") {
                out.insert("description".into(), d.clone());
            }
            if nullable {
                return Ok(serde_json::json!({"anyOf": [Value::Object(out), {"type": "null"}]}));
            }
            return Ok(Value::Object(out));
        }
        let mut out = Map::with_capacity(obj.len());
        for (k, val) in obj {
            match k.as_str() {
                // OpenAPI-only annotations with no meaning for a tool's arguments.
                "xml" | "externalDocs" | "discriminator" | "nullable" | "x-nullable" => {}
                "example" => {
                    out.insert("examples".into(), Value::Array(vec![val.clone()]));
                }
                "exclusiveMinimum" | "exclusiveMaximum" if val.is_boolean() => {
                    // Draft 4 style (3.0, 2.0): the bound lives in minimum/maximum.
                    let bound = if k == "exclusiveMinimum" {
                        "minimum"
                    } else {
                        "maximum"
                    };
                    if val == &Value::Bool(true)
                        && let Some(b) = obj.get(bound)
                    {
                        out.insert(k.clone(), b.clone());
                    }
                }
                "minimum" | "maximum"
                    if obj.get(if k == "minimum" {
                        "exclusiveMinimum"
                    } else {
                        "exclusiveMaximum"
                    }) == Some(&Value::Bool(true)) => {}
                "type" if val == "file" => {
                    out.insert("type".into(), "string".into());
                    out.insert("format".into(), "binary".into());
                }
                k if k.starts_with("x-") => {}
                _ => {
                    out.insert(k.clone(), self.walk_keyword(k, val, deps, depth)?);
                }
            }
        }
        let nullable = obj.get("nullable") == Some(&Value::Bool(true))
            || obj.get("x-nullable") == Some(&Value::Bool(true));
        if nullable && self.version != SpecVersion::V3_1 {
            make_nullable(&mut out);
        }
        Ok(Value::Object(out))
    }

    /// Recurse into the sub-schemas a keyword holds; copy other keyword values as they are.
    fn walk_keyword(
        &mut self,
        k: &str,
        val: &Value,
        deps: &mut BTreeSet<String>,
        depth: usize,
    ) -> Result<Value, SchemaError> {
        match k {
            "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
                match val {
                    Value::Object(m) => {
                        let mut out = Map::with_capacity(m.len());
                        for (name, s) in m {
                            out.insert(name.clone(), self.walk(s, deps, depth + 1)?);
                        }
                        Ok(Value::Object(out))
                    }
                    other => Ok(other.clone()),
                }
            }
            "items"
            | "additionalProperties"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "propertyNames"
            | "unevaluatedItems"
            | "unevaluatedProperties"
            | "additionalItems" => match val {
                Value::Array(a) => Ok(Value::Array(
                    a.iter()
                        .map(|s| self.walk(s, deps, depth + 1))
                        .collect::<Result<_, _>>()?,
                )),
                s => self.walk(s, deps, depth + 1),
            },
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => match val {
                Value::Array(a) => Ok(Value::Array(
                    a.iter()
                        .map(|s| self.walk(s, deps, depth + 1))
                        .collect::<Result<_, _>>()?,
                )),
                other => Ok(other.clone()),
            },
            _ => Ok(val.clone()),
        }
    }

    fn reference(&mut self, r: &str, deps: &mut BTreeSet<String>) -> Result<Value, SchemaError> {
        if !r.starts_with('#') {
            return Err(SchemaError::ExternalRef(r.to_string()));
        }
        let ptr = canonical_ref(r).ok_or_else(|| SchemaError::DanglingRef(r.to_string()))?;
        // A pointer seen before was resolved then: one lookup instead of a walk.
        if !self.keys.contains_key(&ptr) && resolve_canonical(self.root, &ptr).is_none() {
            return Err(SchemaError::DanglingRef(r.to_string()));
        }
        let key = self.key_for(&ptr);
        deps.insert(ptr);
        Ok(Value::String(format!(
            "#/$defs/{}",
            escape_pointer_token(&key)
        )))
    }
}

/// A local reference (`#...`, a URI fragment) as one canonical string: percent-decoded once,
/// so all spellings of one JSON pointer are equal. `None` when it does not decode to UTF-8.
pub fn canonical_ref(r: &str) -> Option<String> {
    let fragment = r.strip_prefix('#')?;
    if !fragment.contains('%') {
        return Some(r.to_string());
    }
    let decoded = percent_encoding::percent_decode_str(fragment)
        .decode_utf8()
        .ok()?;
    Some(format!("#{decoded}"))
}

/// Resolve a canonical reference (see [`canonical_ref`]): a JSON pointer after the `#`.
fn resolve_canonical<'a>(root: &'a Value, ptr: &str) -> Option<&'a Value> {
    match ptr.strip_prefix('#')? {
        "" => Some(root),
        p => root.pointer(p),
    }
}

/// Add `null` to a schema's accepted types (OpenAPI 3.0 `nullable: true`).
fn make_nullable(out: &mut Map<String, Value>) {
    match out.get_mut("type") {
        Some(Value::String(t)) => {
            let t = std::mem::take(t);
            out.insert("type".into(), serde_json::json!([t, "null"]));
        }
        Some(Value::Array(a)) if !a.iter().any(|t| t == "null") => a.push("null".into()),
        _ => {}
    }
    if let Some(Value::Array(e)) = out.get_mut("enum")
        && !e.contains(&Value::Null)
    {
        e.push(Value::Null);
    }
    if !out.contains_key("type") {
        for k in ["allOf", "oneOf", "anyOf"] {
            if out.contains_key(k) {
                let inner = Value::Object(std::mem::take(out));
                out.insert("anyOf".into(), serde_json::json!([inner, {"type": "null"}]));
                return;
            }
        }
    }
}

/// One JSON pointer token, unescaped (the pointer is already percent-decoded).
fn unescape_pointer_token(t: &str) -> String {
    t.replace("~1", "/").replace("~0", "~")
}

fn escape_pointer_token(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tr(root: &Value, v: SpecVersion, s: &Value) -> (Value, Map<String, Value>) {
        let mut t = SchemaTranslator::new(root, v);
        let (out, deps) = t.translate(s).unwrap();
        let defs = t.closure(&deps).unwrap();
        (out, defs)
    }

    #[test]
    fn nullable_becomes_a_null_type() {
        let root = json!({});
        let (out, _) = tr(
            &root,
            SpecVersion::V3_0,
            &json!({"type":"string","nullable":true,"enum":["a"]}),
        );
        assert_eq!(out, json!({"type":["string","null"],"enum":["a",null]}));
    }

    #[test]
    fn recursive_schema_stays_a_reference() {
        let root = json!({"components":{"schemas":{"Node":{"type":"object","properties":{
            "children":{"type":"array","items":{"$ref":"#/components/schemas/Node"}}}}}}});
        let (out, defs) = tr(
            &root,
            SpecVersion::V3_0,
            &json!({"$ref":"#/components/schemas/Node"}),
        );
        assert_eq!(out, json!({"$ref":"#/$defs/Node"}));
        assert_eq!(
            defs["Node"]["properties"]["children"]["items"],
            json!({"$ref":"#/$defs/Node"})
        );
        assert_eq!(defs.len(), 1);
    }

    #[test]
    fn draft4_exclusive_bounds_become_numbers() {
        let root = json!({});
        let (out, _) = tr(
            &root,
            SpecVersion::V3_0,
            &json!({"type":"integer","minimum":1,"exclusiveMinimum":true,"maximum":9}),
        );
        assert_eq!(
            out,
            json!({"type":"integer","exclusiveMinimum":1,"maximum":9})
        );
    }

    #[test]
    fn spellings_of_one_pointer_are_one_definition_and_keys_stay_unique() {
        let root = json!({"components":{"schemas":{"Pet":{"type":"string"},
            "Pet_2":{"type":"integer"},"A%20B":{"type":"boolean"},"a/b":{"type":"null"}}},
            "definitions":{"Pet":{"type":"number"}}});
        let mut t = SchemaTranslator::new(&root, SpecVersion::V3_0);
        let mut refs = |r: &str| t.translate(&json!({"$ref": r})).unwrap().0["$ref"].clone();
        assert_eq!(refs("#/components/schemas/Pet"), "#/$defs/Pet");
        assert_eq!(refs("#/components/schemas/P%65t"), "#/$defs/Pet");
        assert_eq!(refs("#/%63omponents/schemas/%50%65%74"), "#/$defs/Pet");
        assert_eq!(refs("#/definitions/Pet"), "#/$defs/Pet_2");
        assert_eq!(refs("#/components/schemas/Pet_2"), "#/$defs/Pet_2_2");
        // Decoded once: `%2520` is a literal `%20` in the name.
        assert_eq!(refs("#/components/schemas/A%2520B"), "#/$defs/A%20B");
        assert_eq!(refs("#/components/schemas/a~1b"), "#/$defs/a~1b");
        assert_eq!(
            t.translate(&json!({"$ref": "#/components/schemas/%FF"}))
                .unwrap_err(),
            SchemaError::DanglingRef("#/components/schemas/%FF".into())
        );
        assert_eq!(canonical_ref("#/a/P%65t").as_deref(), Some("#/a/Pet"));
        assert_eq!(canonical_ref("#/a/Pet").as_deref(), Some("#/a/Pet"));
        assert_eq!(canonical_ref("x#/a"), None);
    }

    #[test]
    fn dangling_and_external_refs_are_errors() {
        let root = json!({});
        let mut t = SchemaTranslator::new(&root, SpecVersion::V3_0);
        assert_eq!(
            t.translate(&json!({"$ref":"#/components/schemas/Nope"}))
                .unwrap_err(),
            SchemaError::DanglingRef("#/components/schemas/Nope".into())
        );
        assert!(matches!(
            t.translate(&json!({"$ref":"other.yaml#/X"})).unwrap_err(),
            SchemaError::ExternalRef(_)
        ));
    }
}
