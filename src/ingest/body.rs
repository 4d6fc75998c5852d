//! Request bodies: which media type is sent, how (JSON, form, multipart, text or bytes), and
//! how each property of a form is encoded (the OpenAPI Encoding Object).
//!
//! A multipart file part becomes an object argument with the file's bytes in base64
//! (`contentEncoding: base64`, `contentMediaType`), its file name and media type; a binary body
//! (`application/octet-stream`, images, ...) becomes one base64 string argument.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{BodyKind, RequestBody, SpecVersion, Style, deref};

/// How one property of a form (`application/x-www-form-urlencoded`) or `multipart/form-data`
/// body is written: the OpenAPI Encoding Object, with its defaults applied where they matter.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PropEncoding {
    /// `contentType`, as written (a comma-separated list, possibly with wildcards).
    pub content_type: Option<String>,
    /// RFC 6570-style serialization, when the description gives any of `style`, `explode`
    /// or `allowReserved` ("the presence of at least one of `style`, `explode`, or
    /// `allowReserved` with an explicit value is equivalent to using `schema` with `in:
    /// "query"` Parameter Objects", 3.0.4 and 3.1.1, Encoding Object). Without them the value
    /// is serialized by its content type ("the equivalent of using `content`").
    pub styled: Option<Styled>,
    /// multipart only: the property is a file (binary content), or a list of files; this is
    /// the media type its parts are sent with unless the argument names another.
    pub file: Option<String>,
}

/// `style`, `explode` and `allowReserved` of an Encoding Object (or a 2.0 `collectionFormat`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Styled {
    pub style: Style,
    pub explode: bool,
    pub allow_reserved: bool,
}

/// A media type that names JSON (`application/json`, `...+json`, `application/x-amz-json-1.0`,
/// `text/json`, or `*/*`), not a stream of JSON values (`ndjson`, `json-seq`).
pub fn is_json(ct: &str) -> bool {
    let ct = essence(ct);
    if ct == "*/*" {
        return true;
    }
    let sub = ct.split_once('/').map_or("", |(_, s)| s);
    sub.contains("json")
        && !["ndjson", "jsonl", "json-seq", "jsonlines"]
            .iter()
            .any(|x| sub.contains(x))
}

fn essence(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A media type whose content is text (sent from a string argument as it is), rather than
/// bytes (sent from a base64 argument).
pub fn is_textual(ct: &str) -> bool {
    let ct = essence(ct);
    ct.starts_with("text/")
        || [
            "json",
            "xml",
            "yaml",
            "javascript",
            "ecmascript",
            "graphql",
            "csv",
            "sql",
            "html",
            "markdown",
            "x-www-form-urlencoded",
        ]
        .iter()
        .any(|t| ct.contains(t))
}

/// Preferred request media type: JSON, then form, then multipart/form-data, then any other
/// non-multipart type (sent raw).
pub fn pick(content: &Map<String, Value>) -> Option<(&str, &Value)> {
    let by = |f: &dyn Fn(&str) -> bool| {
        content
            .iter()
            .find(|(ct, _)| f(ct))
            .map(|(ct, m)| (ct.as_str(), m))
    };
    by(&|ct| is_json(ct) && ct != "*/*")
        .or_else(|| by(&|ct| essence(ct) == "application/x-www-form-urlencoded"))
        .or_else(|| by(&|ct| essence(ct) == "multipart/form-data"))
        .or_else(|| by(&|ct| !ct.starts_with("multipart/")))
}

/// A 3.x `requestBody` (already dereferenced) as the operation's body. `translate` turns an
/// OpenAPI schema into JSON Schema (collecting its references).
pub fn request_body(
    root: &Value,
    version: SpecVersion,
    rb: &Value,
    translate: &mut dyn FnMut(&Value) -> Result<Value, String>,
) -> Result<RequestBody, String> {
    let content = rb
        .get("content")
        .and_then(Value::as_object)
        .ok_or("requestBody has no `content`")?;
    let (ct, media) = pick(content).ok_or_else(|| {
        format!(
            "no supported request body media type (has: {}; multipart types other than multipart/form-data are not supported)",
            content.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })?;
    let raw = media.get("schema");
    let mut encoding: IndexMap<String, PropEncoding> = media
        .get("encoding")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, e)| (k.clone(), encoding_object(e)))
                .collect()
        })
        .unwrap_or_default();
    let (kind, schema) = if is_json(ct) {
        (
            BodyKind::Json,
            translate(raw.unwrap_or(&Value::Bool(true)))?,
        )
    } else if essence(ct) == "application/x-www-form-urlencoded" {
        (
            BodyKind::Form,
            translate(raw.unwrap_or(&Value::Bool(true)))?,
        )
    } else if essence(ct) == "multipart/form-data" {
        // The properties are read inline (through a `$ref` to the body's schema), so that
        // file properties can become file arguments in this operation's schema only.
        let raw = match raw {
            Some(s) => deref(root, s).map_err(|e| format!("requestBody schema: {e}"))?,
            None => &Value::Bool(true),
        };
        let mut schema = translate(raw)?;
        mark_files(root, version, raw, &mut schema, &mut encoding);
        (BodyKind::Multipart, schema)
    } else {
        let schema = translate(raw.unwrap_or(&json!({"type": "string"})))?;
        raw_body(ct, schema)
    };
    Ok(RequestBody {
        content_type: ct.to_string(),
        kind,
        required: rb.get("required") == Some(&Value::Bool(true)),
        description: rb
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        schema,
        encoding,
    })
}

/// A text body travels as a string argument (a binary `format` dropped); any other body as a
/// base64 string of its bytes, unless its schema says it is text already (`contentEncoding`).
fn raw_body(ct: &str, schema: Value) -> (BodyKind, Value) {
    let o = schema.as_object();
    let format_binary = o.is_some_and(|o| o.get("format") == Some(&json!("binary")));
    let encoded_text = o.is_some_and(|o| o.contains_key("contentEncoding"));
    if (!is_textual(ct) && !encoded_text) || format_binary {
        return (BodyKind::Binary, base64_schema(&concrete(ct), None));
    }
    let schema = match schema {
        Value::Object(mut o) if o.get("type") == Some(&json!("string")) => {
            o.remove("format");
            Value::Object(o)
        }
        _ => json!({"type": "string"}),
    };
    (BodyKind::Raw, schema)
}

/// The first concrete media type of a `contentType` list, or `application/octet-stream`.
pub fn concrete(list: &str) -> String {
    list.split(',')
        .map(str::trim)
        .find(|t| !t.is_empty() && !t.contains('*'))
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// A base64 string argument for bytes of media type `ct`.
fn base64_schema(ct: &str, description: Option<&str>) -> Value {
    let mut s = json!({"type": "string", "contentEncoding": "base64", "contentMediaType": ct});
    s["description"] = description
        .map(str::to_string)
        .unwrap_or_else(|| format!("The content ({ct}), base64-encoded."))
        .into();
    s
}

/// The argument for one file part: its bytes in base64, a file name, a media type.
fn file_schema(list: Option<&str>, fallback: &str, description: Option<&Value>) -> Value {
    let default = list.map_or_else(|| fallback.to_string(), concrete);
    let mut media = json!({"type": "string",
        "description": format!("The file's media type (default {default}).")});
    let allowed: Vec<&str> = list
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if !allowed.is_empty() && allowed.iter().all(|t| !t.contains('*')) {
        media["enum"] = json!(allowed);
    }
    let mut s = json!({
        "type": "object",
        "properties": {
            "data": base64_schema(&default, Some("The file's bytes, base64-encoded.")),
            "filename": {"type": "string", "description": "The file name sent with it."},
            "contentType": media,
        },
        "required": ["data"],
        "additionalProperties": false,
    });
    if let Some(d) = description {
        s["description"] = d.clone();
    }
    s
}

/// One Encoding Object.
fn encoding_object(e: &Value) -> PropEncoding {
    let given = |k| e.get(k).is_some();
    let styled = (given("style") || given("explode") || given("allowReserved")).then(|| {
        let style = match e.get("style").and_then(Value::as_str) {
            Some("spaceDelimited") => Style::SpaceDelimited,
            Some("pipeDelimited") => Style::PipeDelimited,
            Some("deepObject") => Style::DeepObject,
            // The query styles are the ones defined for forms; `form` is the default.
            _ => Style::Form,
        };
        Styled {
            style,
            explode: e
                .get("explode")
                .and_then(Value::as_bool)
                .unwrap_or(style == Style::Form),
            allow_reserved: e.get("allowReserved") == Some(&Value::Bool(true)),
        }
    });
    PropEncoding {
        content_type: e
            .get("contentType")
            .and_then(Value::as_str)
            .map(str::to_string),
        styled,
        file: None,
    }
}

/// Whether a property's (raw, OpenAPI) schema holds bytes: `format: binary` (3.0, and 2.0's
/// `type: file`), in 3.1 a string with `contentMediaType` and no `contentEncoding` or a schema
/// without `type` (3.1.1's Encoding Object table: "_absent_ -> `application/octet-stream`"),
/// or a non-text `contentType` in its Encoding Object.
fn is_binary(root: &Value, version: SpecVersion, s: &Value, ct: Option<&str>) -> bool {
    let s = deref(root, s).unwrap_or(s);
    let Some(o) = s.as_object() else {
        return false;
    };
    let ty = o.get("type").and_then(Value::as_str);
    if ty == Some("file") || (ty == Some("string") && o.get("format") == Some(&json!("binary"))) {
        return true;
    }
    if version == SpecVersion::V3_1 {
        if ty == Some("string")
            && o.contains_key("contentMediaType")
            && !o.contains_key("contentEncoding")
        {
            return true;
        }
        if o.get("type").is_none()
            && o.keys()
                .all(|k| k == "description" || k == "title" || k == "contentMediaType")
        {
            return true;
        }
    }
    ty.is_none_or(|t| t == "string") && ct.is_some_and(|ct| !is_textual(ct))
}

/// multipart/form-data: the properties that hold files (or lists of files) get file arguments
/// in `schema` and their `file` media type in `encoding`.
fn mark_files(
    root: &Value,
    version: SpecVersion,
    raw: &Value,
    schema: &mut Value,
    encoding: &mut IndexMap<String, PropEncoding>,
) {
    let Some(raw_props) = raw.get("properties").and_then(Value::as_object) else {
        return;
    };
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, raw_prop) in raw_props {
        let ct = encoding.get(name).and_then(|e| e.content_type.clone());
        let raw_prop = deref(root, raw_prop).unwrap_or(raw_prop);
        let items = (raw_prop.get("type") == Some(&json!("array")))
            .then(|| raw_prop.get("items"))
            .flatten();
        let (binary, list) = match items {
            Some(i) => (is_binary(root, version, i, ct.as_deref()), true),
            None => (is_binary(root, version, raw_prop, ct.as_deref()), false),
        };
        if !binary {
            continue;
        }
        let fallback = items
            .unwrap_or(raw_prop)
            .get("contentMediaType")
            .and_then(Value::as_str)
            .unwrap_or("application/octet-stream");
        let description = raw_prop.get("description");
        let file = file_schema(ct.as_deref(), fallback, description.filter(|_| !list));
        let arg = if list {
            let mut a = json!({"type": "array", "items": file});
            if let Some(d) = description {
                a["description"] = d.clone();
            }
            a
        } else {
            file
        };
        props.insert(name.clone(), arg);
        let e = encoding.entry(name.clone()).or_default();
        e.file = Some(ct.as_deref().map_or_else(|| fallback.to_string(), concrete));
    }
}

/// Swagger 2.0 `formData` parameters as one body: `application/x-www-form-urlencoded`, or
/// `multipart/form-data` when the operation consumes only that or has a `file` parameter.
pub fn form_data(
    fields: &[(&Value, String)],
    multipart: bool,
    translate: &mut dyn FnMut(&Value) -> Result<Value, String>,
) -> Result<RequestBody, String> {
    let mut props = Map::new();
    let mut required = Vec::new();
    let mut encoding = IndexMap::new();
    for (p, name) in fields {
        let mut s = if multipart && p.get("type") == Some(&json!("file")) {
            encoding.insert(
                name.clone(),
                PropEncoding {
                    file: Some("application/octet-stream".into()),
                    ..Default::default()
                },
            );
            file_schema(None, "application/octet-stream", None)
        } else {
            translate(&super::swagger2_param_schema(p))?
        };
        if let (Some(d), Value::Object(o)) = (p.get("description"), &mut s) {
            o.insert("description".into(), d.clone());
        }
        props.insert(name.clone(), s);
        if p.get("required") == Some(&Value::Bool(true)) {
            required.push(Value::String(name.clone()));
        }
        // 2.0 arrays are `csv` unless `collectionFormat` says otherwise.
        if p.get("type") == Some(&json!("array")) {
            let (style, explode) = match p.get("collectionFormat").and_then(Value::as_str) {
                Some("multi") => (Style::Form, true),
                Some("ssv") => (Style::SpaceDelimited, false),
                Some("pipes") => (Style::PipeDelimited, false),
                Some("tsv") => (Style::TabDelimited, false),
                _ => (Style::Form, false),
            };
            encoding.insert(
                name.clone(),
                PropEncoding {
                    styled: Some(Styled {
                        style,
                        explode,
                        allow_reserved: false,
                    }),
                    ..Default::default()
                },
            );
        }
    }
    Ok(RequestBody {
        content_type: if multipart {
            "multipart/form-data"
        } else {
            "application/x-www-form-urlencoded"
        }
        .into(),
        kind: if multipart {
            BodyKind::Multipart
        } else {
            BodyKind::Form
        },
        required: !required.is_empty(),
        description: None,
        schema: json!({"type": "object", "properties": props, "required": required}),
        encoding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_objects_are_styled_only_when_they_say_so() {
        let e = encoding_object(&json!({"style": "deepObject", "explode": true}));
        assert_eq!(
            e.styled,
            Some(Styled {
                style: Style::DeepObject,
                explode: true,
                allow_reserved: false
            })
        );
        let e = encoding_object(&json!({"allowReserved": true}));
        assert_eq!(
            e.styled.map(|s| (s.style, s.explode, s.allow_reserved)),
            Some((Style::Form, true, true))
        );
        let e = encoding_object(&json!({"contentType": "application/xml"}));
        assert_eq!(e.styled, None);
        assert_eq!(e.content_type.as_deref(), Some("application/xml"));
    }

    #[test]
    fn media_types() {
        assert!(is_json("application/x-amz-json-1.1"));
        assert!(is_json("application/vnd.api+json; charset=utf-8"));
        assert!(!is_json("application/x-ndjson"));
        assert!(is_textual("text/csv") && is_textual("application/xml"));
        assert!(!is_textual("application/octet-stream") && !is_textual("image/png"));
        assert_eq!(concrete("image/*, image/png"), "image/png");
        assert_eq!(concrete("image/*"), "application/octet-stream");
    }

    #[test]
    fn raw_bodies_are_text_or_base64_bytes() {
        let (k, s) = raw_body("application/octet-stream", json!({"type": "string"}));
        assert_eq!(k, BodyKind::Binary);
        assert_eq!(s["contentEncoding"], "base64");
        let (k, _) = raw_body("text/plain", json!({"type": "string", "format": "binary"}));
        assert_eq!(k, BodyKind::Binary);
        let (k, s) = raw_body("application/xml", json!({"type": "object"}));
        assert_eq!((k, s), (BodyKind::Raw, json!({"type": "string"})));
        let (k, _) = raw_body(
            "application/pdf",
            json!({"type": "string", "contentEncoding": "base64"}),
        );
        assert_eq!(k, BodyKind::Raw, "already text: sent as given");
    }
}
