//! A tool's input schema: arguments from parameters and the (flattened) body, named safely,
//! with the shared `$defs` each schema reaches and nothing the request direction hides.

use super::*;

/// Argument name for a parameter or body field: the original when it is safe, else sanitised.
pub(super) fn arg_name(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_matches('_').to_string();
    let s = if s.is_empty() { "arg".into() } else { s };
    naming::shorten(&s, 64)
}

/// One object schema merging path, query, header and cookie parameters and the body.
/// Clashing names keep the first holder (path, query, header, cookie, body) and suffix the
/// others with their location (`id_query`, `id_body`).
pub(super) fn input_schema(
    op: &Operation,
    notes: &mut Vec<String>,
    owned_headers: &[String],
    table: &DefTable,
) -> (Map<String, Value>, DefList, Vec<ArgBinding>, Vec<String>) {
    let mut props = Map::new();
    let mut mirrored = Vec::new();
    let mut mirror_names = Vec::new();
    let mut required = Vec::new();
    let mut bindings = Vec::new();
    let mut claim = |raw: &str, suffix: &str, props: &Map<String, Value>| -> String {
        let base = arg_name(raw);
        if !props.contains_key(&base) {
            return base;
        }
        let mut n = format!("{base}_{suffix}");
        let mut i = 2;
        while props.contains_key(&n) {
            n = format!("{base}_{suffix}{i}");
            i += 1;
        }
        notes.push(format!(
            "argument `{raw}` ({suffix}) clashes with another argument: named `{n}`"
        ));
        n
    };
    let mut order: Vec<usize> = (0..op.parameters.len()).collect();
    order.sort_by_key(|i| op.parameters[*i].location);
    let mut owned_notes = Vec::new();
    for i in order {
        let p = &op.parameters[i];
        if p.location == Location::Header
            && owned_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&p.name))
        {
            owned_notes.push(format!(
                "header parameter `{}` is set by the gateway (downstream config): not exposed",
                p.name
            ));
            continue;
        }
        let loc = match p.location {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
            Location::Cookie => "cookie",
        };
        let arg = claim(&p.name, loc, &props);
        let mut s = p.schema.clone();
        if let (Some(d), Value::Object(o)) = (&p.description, &mut s)
            && !o.contains_key("description")
        {
            o.insert("description".into(), d.clone().into());
        }
        if arg != p.name
            && let Value::Object(o) = &mut s
        {
            let note = format!("(sent as {loc} parameter `{}`)", p.name);
            let d = o
                .get("description")
                .and_then(Value::as_str)
                .map(|d| format!("{d} {note}"))
                .unwrap_or(note);
            o.insert("description".into(), d.into());
        }
        if p.location == Location::Header && mirror::mark(&p.name, &mut s, &mut mirror_names) {
            mirrored.push(arg.clone());
        }
        props.insert(arg.clone(), s);
        if p.required {
            required.push(Value::String(arg.clone()));
        }
        bindings.push(ArgBinding {
            arg,
            target: Target::Param(i),
        });
    }
    if let Some(body) = &op.body {
        let flat = flattenable(&body.schema, &op.defs, body.required);
        match (body.kind, flat) {
            (BodyKind::Json | BodyKind::Form | BodyKind::Multipart, Some((fields, req))) => {
                for (field, s) in fields {
                    let arg = claim(field, "body", &props);
                    props.insert(arg.clone(), s.clone());
                    if req.iter().any(|r| r == field) {
                        required.push(Value::String(arg.clone()));
                    }
                    bindings.push(ArgBinding {
                        arg,
                        target: Target::BodyField(field.clone()),
                    });
                }
            }
            _ => {
                let arg = claim("body", "body", &props);
                let mut s = body.schema.clone();
                if let (Some(d), Value::Object(o)) = (&body.description, &mut s)
                    && !o.contains_key("description")
                {
                    o.insert("description".into(), d.clone().into());
                }
                props.insert(arg.clone(), s);
                if body.required {
                    required.push(Value::String(arg.clone()));
                }
                bindings.push(ArgBinding {
                    arg,
                    target: Target::Body,
                });
            }
        }
    }
    let mut schema = Map::new();
    schema.insert("type".into(), "object".into());
    schema.insert("properties".into(), Value::Object(props));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    schema.insert("additionalProperties".into(), Value::Bool(false));
    // Read-only properties are never arguments, nested ones included (see `direction`).
    let reached = table.reach(&schema);
    let defs = table.finish(&mut schema, Direction::Request, true, reached);
    notes.extend(owned_notes);
    (schema, defs, bindings, mirrored)
}

/// Body fields that become arguments, and the names among them that are required.
pub(super) type Flattened<'a> = (Vec<(&'a String, &'a Value)>, Vec<String>);

/// A body object whose properties can become top-level arguments: `(fields, required)`.
/// Only plain objects with `properties` qualify; an optional body with required fields stays
/// one `body` argument so "no body" remains expressible.
pub(super) fn flattenable<'a>(
    schema: &'a Value,
    defs: &'a Map<String, Value>,
    body_required: bool,
) -> Option<Flattened<'a>> {
    let mut s = schema;
    for _ in 0..8 {
        // Follow a bare `$ref` only: siblings (3.1) would be lost by flattening.
        if s.as_object()
            .is_some_and(|o| o.keys().any(|k| k != "$ref" && k != "description"))
        {
            break;
        }
        match s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
        {
            Some(k) => s = defs.get(&k.replace("~1", "/").replace("~0", "~"))?,
            None => break,
        }
    }
    let o = s.as_object()?;
    if o.get("type").is_some_and(|t| t != "object") {
        return None;
    }
    if ["allOf", "anyOf", "oneOf", "$ref", "patternProperties"]
        .iter()
        .any(|k| o.contains_key(*k))
        || o.get("additionalProperties")
            .is_some_and(|a| a != &Value::Bool(false))
    {
        return None;
    }
    // Read-only fields are not arguments, and not required of a request (see `direction`).
    let props: Vec<(&String, &Value)> = o
        .get("properties")?
        .as_object()?
        .iter()
        .filter(|(_, p)| !direction::is_hidden(p, defs, Direction::Request))
        .collect();
    if props.is_empty() {
        return None;
    }
    let req: Vec<String> = o
        .get("required")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|r| props.iter().any(|(k, _)| k == r))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if !body_required && !req.is_empty() {
        return None;
    }
    Some((props, req))
}
