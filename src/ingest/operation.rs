//! One operation of a document -> an [`Operation`]: its parameters (with their styles), body,
//! output schema and security scopes, in the 2.0 and 3.x shapes alike.

use super::*;

/// One operation being normalised, with what it needs from its document.
pub(super) struct OpCtx<'a> {
    pub(super) root: &'a Value,
    pub(super) version: SpecVersion,
    pub(super) path: &'a str,
    pub(super) method: &'a str,
    pub(super) item: &'a Map<String, Value>,
    pub(super) op: &'a Value,
    pub(super) global_security: Option<&'a Value>,
}

impl<'a> OpCtx<'a> {
    pub(super) fn build(
        &self,
        tr: &mut SchemaTranslator<'_>,
        diags: &mut Vec<Diagnostic>,
        label: &str,
    ) -> Result<Operation, String> {
        let op = self
            .op
            .as_object()
            .ok_or("the operation is not an object")?;
        let text = |k: &str| op.get(k).and_then(Value::as_str).map(str::to_string);
        let mut deps = BTreeSet::new();
        let mut translate = |s: &Value, deps: &mut BTreeSet<String>| -> Result<Value, String> {
            let (v, d) = tr.translate(s).map_err(|e: SchemaError| e.to_string())?;
            deps.extend(d);
            Ok(v)
        };

        // Parameters: path-level first, operation-level overrides by (name, in).
        let mut raw: IndexMap<(String, String), &Value> = IndexMap::new();
        for list in [self.item.get("parameters"), op.get("parameters")]
            .into_iter()
            .flatten()
        {
            let list = list.as_array().ok_or("`parameters` is not a list")?;
            for p in list {
                let p = deref(self.root, p).map_err(|e| format!("parameter: {e}"))?;
                let name = p
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or("a parameter has no `name`")?;
                let loc = p
                    .get("in")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("parameter `{name}` has no `in`"))?;
                raw.insert((name.to_string(), loc.to_string()), p);
            }
        }
        let mut parameters = Vec::new();
        let mut form_fields: Vec<(&Value, String)> = Vec::new();
        let mut body = None;
        for ((name, loc), p) in &raw {
            let location = match loc.as_str() {
                "path" => Location::Path,
                "query" => Location::Query,
                "header" => Location::Header,
                "cookie" => Location::Cookie,
                "body" if self.version == SpecVersion::V2 => {
                    let s = p.get("schema").cloned().unwrap_or(Value::Bool(true));
                    let schema = translate(&s, &mut deps)?;
                    body = Some(RequestBody {
                        content_type: "application/json".into(),
                        kind: BodyKind::Json,
                        required: p.get("required") == Some(&Value::Bool(true)),
                        description: p
                            .get("description")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        schema,
                        encoding: IndexMap::new(),
                    });
                    continue;
                }
                "formData" if self.version == SpecVersion::V2 => {
                    form_fields.push((p, name.clone()));
                    continue;
                }
                other => {
                    return Err(format!(
                        "parameter `{name}` has an unknown location `in: {other}`"
                    ));
                }
            };
            if location == Location::Header {
                let lower = name.to_ascii_lowercase();
                if ["accept", "content-type", "authorization"].contains(&lower.as_str()) {
                    // OpenAPI: these header parameters are ignored (set by the gateway).
                    continue;
                }
                if GATEWAY_HEADERS.contains(&lower.as_str()) || lower.starts_with("proxy-") {
                    // Framing and connection headers are the gateway's: letting a caller set
                    // them would allow request smuggling.
                    diags.push(Diagnostic {
                        operation: label.to_string(),
                        message: format!(
                            "header parameter `{name}` is set by the gateway itself: not exposed"
                        ),
                        skipped: false,
                    });
                    continue;
                }
            }
            let mut content = None;
            let schema_src = if self.version == SpecVersion::V2 {
                swagger2_param_schema(p)
            } else if let Some(s) = p.get("schema") {
                s.clone()
            } else if let Some((media_type, m)) = p
                .get("content")
                .and_then(Value::as_object)
                .and_then(|c| c.iter().next())
            {
                content = Some(media_type.clone());
                m.get("schema").cloned().unwrap_or(Value::Bool(true))
            } else {
                Value::Bool(true)
            };
            let schema = translate(&schema_src, &mut deps)?;
            let (style, explode) = param_style(p, location, self.version);
            parameters.push(Parameter {
                name: name.clone(),
                location,
                required: location == Location::Path
                    || p.get("required") == Some(&Value::Bool(true)),
                description: p
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                schema,
                style,
                explode,
                allow_reserved: p.get("allowReserved") == Some(&Value::Bool(true)),
                content,
            });
        }
        // Every `{name}` in the template needs a path parameter.
        for seg in path_template_names(self.path) {
            if !parameters
                .iter()
                .any(|p| p.location == Location::Path && p.name == seg)
            {
                diags.push(Diagnostic {
                    operation: label.to_string(),
                    message: format!(
                        "path parameter `{seg}` is not declared; it is added as a required string"
                    ),
                    skipped: false,
                });
                parameters.push(Parameter {
                    name: seg.to_string(),
                    location: Location::Path,
                    required: true,
                    description: None,
                    schema: serde_json::json!({"type": "string"}),
                    style: Style::Simple,
                    explode: false,
                    allow_reserved: false,
                    content: None,
                });
            }
        }

        if !form_fields.is_empty() {
            let consumes = op
                .get("consumes")
                .or_else(|| self.root.get("consumes"))
                .and_then(Value::as_array);
            let multipart = consumes
                .map(|c| {
                    c.iter().any(|x| x == "multipart/form-data")
                        && !c.iter().any(|x| x == "application/x-www-form-urlencoded")
                })
                .unwrap_or(false)
                || form_fields
                    .iter()
                    .any(|(p, _)| p.get("type") == Some(&Value::String("file".into())));
            body = Some(body::form_data(&form_fields, multipart, &mut |s| {
                translate(s, &mut deps)
            })?);
        }

        if let Some(rb) = op.get("requestBody") {
            let rb = deref(self.root, rb).map_err(|e| format!("requestBody: {e}"))?;
            body = Some(body::request_body(self.root, self.version, rb, &mut |s| {
                translate(s, &mut deps)
            })?);
        }

        // Output: the first JSON 2xx response schema.
        let mut out_deps = BTreeSet::new();
        let output_schema = match self.success_schema() {
            Some(s) => match tr.translate(s) {
                Ok((v, d)) => {
                    out_deps = d;
                    Some(v)
                }
                Err(e) => {
                    diags.push(Diagnostic {
                        operation: label.to_string(),
                        message: format!("response schema ignored: {e}"),
                        skipped: false,
                    });
                    None
                }
            },
            None => None,
        };
        tr.check(&deps).map_err(|e| e.to_string())?;
        let output_schema = match output_schema {
            Some(s) => match tr.check(&out_deps) {
                Ok(_) => Some(s),
                Err(e) => {
                    diags.push(Diagnostic {
                        operation: label.to_string(),
                        message: format!("response schema ignored: {e}"),
                        skipped: false,
                    });
                    None
                }
            },
            None => None,
        };

        Ok(Operation {
            method: self.method.to_uppercase(),
            path: self.path.to_string(),
            operation_id: text("operationId").filter(|s| !s.trim().is_empty()),
            summary: text("summary"),
            description: text("description"),
            tags: op
                .get("tags")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            deprecated: op.get("deprecated") == Some(&Value::Bool(true)),
            parameters,
            body,
            output_schema,
            scopes: security_scopes(op.get("security").or(self.global_security)),
            defs: Arc::default(),
        })
    }

    /// Schema of the first 2xx response with a JSON body.
    fn success_schema(&self) -> Option<&'a Value> {
        let responses = self.op.get("responses")?.as_object()?;
        let mut codes: Vec<&String> = responses
            .keys()
            .filter(|c| c.starts_with('2') && c.len() == 3)
            .collect();
        codes.sort();
        for code in codes {
            let r = deref(self.root, &responses[code]).ok()?;
            if self.version == SpecVersion::V2 {
                if let Some(s) = r.get("schema") {
                    return Some(s);
                }
                continue;
            }
            let content = r.get("content").and_then(Value::as_object)?;
            if let Some((_, m)) = content.iter().find(|(ct, _)| body::is_json(ct)) {
                return m.get("schema");
            }
        }
        None
    }
}

/// A Swagger 2.0 non-body parameter carries its schema inline.
pub(super) fn swagger2_param_schema(p: &Value) -> Value {
    const KEYS: [&str; 15] = [
        "type",
        "format",
        "items",
        "enum",
        "default",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
    ];
    let mut s = Map::new();
    if let Some(o) = p.as_object() {
        for k in KEYS {
            if let Some(v) = o.get(k) {
                let v = if k == "items" {
                    swagger2_param_schema(v)
                } else {
                    v.clone()
                };
                s.insert(k.to_string(), v);
            }
        }
        if o.get("x-nullable") == Some(&Value::Bool(true)) {
            s.insert("x-nullable".into(), Value::Bool(true));
        }
        if let Some(r) = o.get("$ref") {
            s.insert("$ref".into(), r.clone());
        }
    }
    Value::Object(s)
}

pub(super) fn param_style(p: &Value, loc: Location, version: SpecVersion) -> (Style, bool) {
    if version == SpecVersion::V2 {
        let cf = p
            .get("collectionFormat")
            .and_then(Value::as_str)
            .unwrap_or("csv");
        let style = match (loc, cf) {
            (Location::Query, "ssv") => Style::SpaceDelimited,
            (Location::Query, "pipes") => Style::PipeDelimited,
            (Location::Query, "tsv") => Style::TabDelimited,
            (Location::Query | Location::Cookie, _) => Style::Form,
            _ => Style::Simple,
        };
        return (style, cf == "multi");
    }
    let style = match p.get("style").and_then(Value::as_str) {
        Some("label") => Style::Label,
        Some("matrix") => Style::Matrix,
        Some("form") => Style::Form,
        Some("spaceDelimited") => Style::SpaceDelimited,
        Some("pipeDelimited") => Style::PipeDelimited,
        Some("deepObject") => Style::DeepObject,
        Some("simple") => Style::Simple,
        Some("cookie") => Style::Cookie,
        _ => match loc {
            Location::Query | Location::Cookie => Style::Form,
            _ => Style::Simple,
        },
    };
    let explode = p
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(matches!(style, Style::Form | Style::Cookie));
    (style, explode)
}

/// Names in a path template, e.g. `/pets/{petId}` -> `petId`.
pub fn path_template_names(path: &str) -> impl Iterator<Item = &str> {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(n, _)| n))
}

/// The scope alternatives of a list of security requirement objects: any one requirement
/// suffices, and it needs all of its schemes' scopes. A requirement without scopes (`{}`, an
/// API key) means no scope is needed at all: the result is then empty.
pub(super) fn security_scopes(sec: Option<&Value>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for req in sec.and_then(Value::as_array).into_iter().flatten() {
        let mut alt: Vec<String> = Vec::new();
        for scopes in req.as_object().into_iter().flat_map(|o| o.values()) {
            for s in scopes.as_array().into_iter().flatten() {
                if let Some(s) = s.as_str()
                    && !alt.iter().any(|x| x == s)
                {
                    alt.push(s.to_string());
                }
            }
        }
        if alt.is_empty() {
            return vec![];
        }
        if !out.contains(&alt) {
            out.push(alt);
        }
    }
    out
}
