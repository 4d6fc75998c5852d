//! Mapping: which operations become tools, under which names, with which argument schema.
//!
//! Input: an [`ApiSpec`] and the API's config. Output: [`MappedTool`]s (name, description,
//! input schema and the [`ArgBinding`]s that say where each argument goes upstream) plus a
//! report line per operation for `inspect` and the start-up log.

pub mod defs;
pub mod direction;
pub mod mirror;
pub mod naming;
mod schema;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::config::{ApiConfig, ConfigError, ToolOverride};
use crate::ingest::{ApiSpec, BodyKind, Location, Operation};
use defs::{DefList, DefTable};
use direction::Direction;
use schema::input_schema;

/// One include/exclude rule; every field given must match.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// operationId, exact or glob (`repos/*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// One of the operation's tags, exact or glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Path template glob, e.g. `/pets/**` or `/pets/{petId}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// HTTP method(s), case-insensitive: `GET` or `[GET, HEAD]`.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub method: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// A selector with its globs compiled.
pub struct CompiledSelector {
    operation_id: Option<GlobMatcher>,
    tag: Option<GlobMatcher>,
    path: Option<GlobMatcher>,
    methods: Vec<String>,
}

impl Selector {
    pub fn compile(&self) -> Result<CompiledSelector, String> {
        let glob = |g: &Option<String>| -> Result<Option<GlobMatcher>, String> {
            g.as_ref()
                .map(|g| {
                    // `{` is literal in OpenAPI paths; globset would read it as alternation.
                    let escaped = g.replace('{', "[{]").replace('}', "[}]");
                    Glob::new(&escaped)
                        .map(|g| g.compile_matcher())
                        .map_err(|e| format!("bad pattern `{g}`: {e}"))
                })
                .transpose()
        };
        if self.operation_id.is_none()
            && self.tag.is_none()
            && self.path.is_none()
            && self.method.is_empty()
        {
            return Err(
                "an include/exclude rule needs at least one of operation_id, tag, path, method"
                    .into(),
            );
        }
        Ok(CompiledSelector {
            operation_id: glob(&self.operation_id)?,
            tag: glob(&self.tag)?,
            path: glob(&self.path)?,
            methods: self.method.iter().map(|m| m.to_ascii_uppercase()).collect(),
        })
    }
}

impl CompiledSelector {
    pub fn matches(&self, op: &Operation) -> bool {
        self.operation_id
            .as_ref()
            .is_none_or(|g| op.operation_id.as_deref().is_some_and(|id| g.is_match(id)))
            && self
                .tag
                .as_ref()
                .is_none_or(|g| op.tags.iter().any(|t| g.is_match(t)))
            && self.path.as_ref().is_none_or(|g| g.is_match(&op.path))
            && (self.methods.is_empty() || self.methods.contains(&op.method))
    }
}

/// Where one tool argument goes in the upstream request.
#[derive(Debug, Clone, Serialize)]
pub enum Target {
    /// The operation's parameter at this index.
    Param(usize),
    /// A property of an object request body.
    BodyField(String),
    /// The whole request body.
    Body,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArgBinding {
    pub arg: String,
    pub target: Target,
}

/// An operation mapped to a tool.
#[derive(Debug, Clone)]
pub struct MappedTool {
    pub name: String,
    pub title: String,
    pub description: String,
    /// The arguments' schema, without the shared definitions it reaches (`input_defs`).
    pub input_schema: Arc<Map<String, Value>>,
    pub input_defs: DefList,
    /// JSON Schema of `structuredContent`, when the 2xx response is a JSON object (without
    /// the shared definitions it reaches: `output_defs`).
    pub output_schema: Option<Arc<Map<String, Value>>>,
    pub output_defs: DefList,
    /// The document's definitions the two lists point into.
    pub defs: Arc<DefTable>,
    pub bindings: Vec<ArgBinding>,
    /// Arguments marked `x-mcp-header` (header parameters mirrored in `Mcp-Param-*`, SEP-2243).
    pub mirrored: Vec<String>,
    pub op: Operation,
    /// Scopes a caller needs: any one alternative, all of its scopes. Empty: none needed.
    pub scopes: Vec<Vec<String>>,
}

/// What happened to one operation, for `inspect` and the start-up log.
#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    pub method: String,
    pub path: String,
    pub operation_id: Option<String>,
    /// Tool name, when the operation could be mapped.
    pub tool: Option<String>,
    pub selected: bool,
    pub notes: Vec<String>,
    /// Scopes a caller needs for the tool, when the endpoint is protected (any alternative).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<Vec<String>>,
}

/// Result of mapping one API.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub tools: Vec<MappedTool>,
    pub report: Vec<OpReport>,
}

/// Select, name and shape the tools of one API.
pub fn map_api(
    spec: &ApiSpec,
    api: &ApiConfig,
    max_output_schema_bytes: usize,
) -> Result<Mapping, ConfigError> {
    let (tools, report) = map_api_with(spec, api, max_output_schema_bytes, |t, _| Some(t))?;
    Ok(Mapping { tools, report })
}

/// [`map_api`], handing each tool to `each` as soon as it is shaped (with its report line), so
/// a caller can turn it into its final form while the next one is built: the catalog compiles
/// and serializes each tool at once, and the schema trees of all tools never coexist.
/// `each` returns `None` to drop the tool (it then says why in the report line).
pub fn map_api_with<T>(
    spec: &ApiSpec,
    api: &ApiConfig,
    max_output_schema_bytes: usize,
    each: impl FnMut(MappedTool, &mut OpReport) -> Option<T>,
) -> Result<(Vec<T>, Vec<OpReport>), ConfigError> {
    map_api_stable(spec, api, max_output_schema_bytes, None, each)
}

/// The key an operation keeps across versions of its spec: its operationId, else its method
/// and path.
pub fn op_key(op: &Operation) -> String {
    match &op.operation_id {
        Some(id) => id.clone(),
        None => format!("{} {}", op.method, op.path),
    }
}

/// [`map_api_with`], keeping names stable across versions: an operation that had a tool name
/// before (`previous`, by [`op_key`]) keeps it, unless the config now names it otherwise or
/// gives that name to another operation explicitly; new operations never take those names.
pub fn map_api_stable<T>(
    spec: &ApiSpec,
    api: &ApiConfig,
    max_output_schema_bytes: usize,
    previous: Option<&HashMap<String, String>>,
    mut each: impl FnMut(MappedTool, &mut OpReport) -> Option<T>,
) -> Result<(Vec<T>, Vec<OpReport>), ConfigError> {
    let compile = |v: &[Selector]| -> Result<Vec<CompiledSelector>, ConfigError> {
        v.iter()
            .map(|s| {
                s.compile()
                    .map_err(|m| ConfigError::Invalid(format!("api `{}`: selector: {m}", api.name)))
            })
            .collect()
    };
    let include = compile(&api.include)?;
    let exclude = compile(&api.exclude)?;

    // 1. Base names, in document order.
    let mut report = Vec::new();
    // (op index, name, notes, override); `report[i]` is operation `i`'s line.
    let mut chosen: Vec<(usize, String, Vec<String>, Option<&ToolOverride>)> = Vec::new();
    let mut used_overrides = HashSet::new();
    for (i, op) in spec.operations.iter().enumerate() {
        let selected = (include.is_empty() || include.iter().any(|s| s.matches(op)))
            && !exclude.iter().any(|s| s.matches(op));
        let mut notes = Vec::new();
        let raw = match &op.operation_id {
            Some(id) => naming::sanitize(id),
            None => {
                notes.push("no operationId: name derived from method and path".to_string());
                naming::from_method_path(&op.method, &op.path)
            }
        };
        let raw = if raw.is_empty() {
            naming::from_method_path(&op.method, &op.path)
        } else {
            raw
        };
        let over = op
            .operation_id
            .as_deref()
            .and_then(|id| api.tools.get(id).map(|o| (id, o)))
            .or_else(|| api.tools.get(&raw).map(|o| (raw.as_str(), o)));
        let name = match over.and_then(|(_, o)| o.name.clone()) {
            Some(n) => {
                if !naming::is_valid(&n) {
                    return Err(ConfigError::Invalid(format!(
                        "api `{}`: tool name `{n}` is not valid (1 to {} characters of A-Z a-z 0-9 _ -)",
                        api.name,
                        naming::MAX_LEN
                    )));
                }
                n
            }
            None => {
                let short = naming::shorten(&raw, naming::MAX_LEN);
                if short != raw {
                    notes.push(format!(
                        "name `{raw}` is longer than {} characters: shortened to `{short}`",
                        naming::MAX_LEN
                    ));
                }
                short
            }
        };
        if let Some((key, _)) = over {
            used_overrides.insert(key.to_string());
        }
        if selected {
            chosen.push((i, name.clone(), notes.clone(), over.map(|(_, o)| o)));
        }
        report.push(OpReport {
            method: op.method.clone(),
            path: op.path.clone(),
            operation_id: op.operation_id.clone(),
            tool: Some(name),
            selected,
            notes,
            scopes: vec![],
        });
    }
    if let Some(unused) = api.tools.keys().find(|k| !used_overrides.contains(*k)) {
        return Err(ConfigError::Invalid(format!(
            "api `{}`: `tools.{unused}` matches no operationId or tool name in the spec",
            api.name
        )));
    }

    // 2. Collisions: the first holder (document order) keeps a name; later ones get `_2`, `_3`.
    // Names the user set explicitly are never changed: a clash with one is a config error.
    let explicit: HashSet<&str> = api
        .tools
        .values()
        .filter_map(|o| o.name.as_deref())
        .collect();
    let mut taken: HashMap<String, usize> = HashMap::new();
    for (i, name, _, _) in &chosen {
        if explicit.contains(name.as_str())
            && let Some(prev) = taken.insert(name.clone(), *i)
        {
            return Err(ConfigError::Invalid(format!(
                "api `{}`: tool name `{name}` is given to two operations ({} and {})",
                api.name,
                label(&spec.operations[prev]),
                label(&spec.operations[*i])
            )));
        }
    }
    // Names kept from the previous version: reserved for their operations.
    let mut kept: HashMap<usize, String> = HashMap::new();
    let mut reserved: HashSet<String> = HashSet::new();
    if let Some(previous) = previous {
        for (i, _, _, over) in &chosen {
            let renamed = over.is_some_and(|o| o.name.is_some());
            if let Some(prev) = previous.get(&op_key(&spec.operations[*i]))
                && !renamed
                && !explicit.contains(prev.as_str())
                && reserved.insert(prev.clone())
            {
                kept.insert(*i, prev.clone());
            }
        }
    }
    let mut names = HashSet::new();
    let mut tools = Vec::new();
    // Headers the downstream config sets: a client never supplies them.
    let owned_headers = api.downstream.header_names();
    // The document's definitions: read for references and marks once, serialized once.
    let table = spec
        .operations
        .first()
        .map(|op| Arc::new(DefTable::new(op.defs.clone())))
        .unwrap_or_else(DefTable::empty);
    for (i, name, mut notes, over) in chosen {
        let mut final_name = name.clone();
        let explicit_here = explicit.contains(name.as_str()) && taken.get(&name) == Some(&i);
        let busy = |n: &str| names.contains(n) || explicit.contains(n) || reserved.contains(n);
        if let Some(k) = kept.get(&i) {
            final_name = k.clone();
        } else if !explicit_here && busy(&final_name) {
            let mut n = 2;
            while busy(&naming::with_suffix(&name, n)) {
                n += 1;
            }
            final_name = naming::with_suffix(&name, n);
            notes.push(format!(
                "name `{name}` is already taken by another operation: renamed to `{final_name}`"
            ));
        }
        names.insert(final_name.clone());
        let op = &spec.operations[i];
        let r = &mut report[i];
        r.tool = Some(final_name.clone());
        r.notes = notes;
        let with_output = over
            .and_then(|o| o.output_schema)
            .unwrap_or(api.output_schemas);
        let mut tool = build_tool(
            op,
            final_name,
            over,
            &mut r.notes,
            with_output.then_some(max_output_schema_bytes),
            &owned_headers,
            &table,
        );
        tool.scopes = tool_scopes(op, over, &api.auth.default_tool_scopes);
        r.scopes = tool.scopes.clone();
        if let Some(t) = each(tool, r) {
            tools.push(t);
        }
    }
    Ok((tools, report))
}

fn label(op: &Operation) -> String {
    format!("{} {}", op.method, op.path)
}

fn build_tool(
    op: &Operation,
    name: String,
    over: Option<&ToolOverride>,
    notes: &mut Vec<String>,
    // `None`: output schemas are off for this tool (config).
    max_output_schema_bytes: Option<usize>,
    owned_headers: &[String],
    table: &Arc<DefTable>,
) -> MappedTool {
    let (input_schema, input_defs, bindings, mirrored) =
        input_schema(op, notes, owned_headers, table);
    let output = op.output_schema.as_ref().and_then(|s| {
        let max_output_schema_bytes = max_output_schema_bytes?;
        // MCP requires structuredContent to be an object: only object schemas qualify.
        let is_object = s.get("type") == Some(&Value::String("object".into()))
            || s.get("$ref").is_some_and(|r| {
                r.as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .and_then(|k| op.defs.get(k))
                    .is_some_and(|d| d.get("type") == Some(&Value::String("object".into())))
            });
        if !is_object {
            return None;
        }
        let mut s = match s {
            Value::Object(o) => o.clone(),
            _ => Map::new(),
        };
        let reached = table.reach(&s);
        let size = serde_json::to_vec(&s).map_or(0, |v| v.len()) + table.object_len(&reached);
        if size > max_output_schema_bytes {
            notes.push(format!(
                "output schema is {} KiB, over the {} KiB limit (server.max_output_schema_bytes): not advertised, answers are text only",
                size / 1024,
                max_output_schema_bytes / 1024
            ));
            return None;
        }
        // Write-only properties are never in an answer (see `direction`).
        let defs = table.finish(&mut s, Direction::Response, false, reached);
        if s.contains_key("$ref") {
            // A bare `$ref` root is fine for validators but not for every client.
            let r = s.remove("$ref").expect("checked");
            let mut wrapped = Map::new();
            wrapped.insert("type".into(), "object".into());
            wrapped.insert("allOf".into(), json!([{"$ref": r}]));
            s = wrapped;
        }
        Some((Arc::new(s), defs))
    });
    let (output_schema, output_defs) = match output {
        Some((s, d)) => (Some(s), d),
        None => (None, DefList::default()),
    };
    let summary = op.summary.clone().filter(|s| !s.trim().is_empty());
    let description = over.and_then(|o| o.description.clone()).unwrap_or_else(|| {
        let mut d = match (&summary, &op.description) {
            (Some(s), Some(d)) if d.trim() != s.trim() => format!("{s}\n\n{d}"),
            (Some(s), _) => s.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => format!("{} {}", op.method, op.path),
        };
        if op.deprecated {
            d.insert_str(0, "[deprecated] ");
        }
        d
    });
    let title = over
        .and_then(|o| o.title.clone())
        .or(summary)
        .unwrap_or_else(|| name.clone());
    MappedTool {
        name,
        title,
        description,
        input_schema: Arc::new(input_schema),
        input_defs,
        output_schema,
        output_defs,
        defs: table.clone(),
        bindings,
        mirrored,
        // The tool keeps what a call needs; schemas live in the tool's own `inputSchema`.
        op: op.for_calls(),
        scopes: vec![],
    }
}

/// A tool's required scopes: its override, else its operation's `security`, else the API's
/// default.
fn tool_scopes(
    op: &Operation,
    over: Option<&ToolOverride>,
    default: &[String],
) -> Vec<Vec<String>> {
    if let Some(s) = over.and_then(|o| o.scopes.as_ref()) {
        return if s.is_empty() {
            vec![]
        } else {
            vec![s.clone()]
        };
    }
    if !op.scopes.is_empty() {
        return op.scopes.clone();
    }
    if default.is_empty() {
        vec![]
    } else {
        vec![default.to_vec()]
    }
}

#[cfg(test)]
mod tests;
