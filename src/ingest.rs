//! Ingest: an OpenAPI 3.0 / 3.1 or Swagger 2.0 document (JSON or YAML) -> one internal
//! operation model ([`ApiSpec`]), whatever the version.
//!
//! The document is read as a plain JSON tree and walked by hand instead of through a typed
//! OpenAPI crate: no single crate reads all three versions, the typed ones fail a whole document
//! on one malformed operation, and tool schemas need the raw JSON Schema anyway. Each operation
//! is normalised on its own; one that cannot be is skipped with a [`Diagnostic`].

pub mod body;
pub mod limits;
mod operation;
pub mod prune;
mod read;
pub use read::{check_yaml, load_file, load_file_seen};
pub mod schema;

use std::collections::BTreeSet;

use std::sync::Arc;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value};

pub use operation::path_template_names;
#[cfg(test)]
use operation::security_scopes;
use operation::{OpCtx, swagger2_param_schema};
use schema::{SchemaError, SchemaTranslator};

/// A whole document could not be read (nothing is served from it).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("not valid YAML: {0}")]
    Yaml(String),
    #[error("the document nests deeper than {limit} levels of maps and lists, the most a spec may have{}", at_line(.line))]
    TooDeep { limit: usize, line: Option<usize> },
    #[error(
        "the document's YAML aliases expand it past {limit} bytes (16 times its size, plus 16 MiB): write the repeated parts out or use $ref"
    )]
    TooBig { limit: u64 },
    #[error(
        "not an OpenAPI document: no `openapi` (3.x) or `swagger` (2.0) version field at the top level"
    )]
    NotOpenApi,
    #[error("unsupported OpenAPI version `{0}` (supported: 2.0, 3.0.x, 3.1.x)")]
    Version(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SpecVersion {
    #[serde(rename = "2.0")]
    V2,
    #[serde(rename = "3.0")]
    V3_0,
    #[serde(rename = "3.1")]
    V3_1,
}

/// Where a parameter goes in the upstream request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

/// OpenAPI serialization styles (2.0 `collectionFormat` is mapped onto these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Style {
    Simple,
    Label,
    Matrix,
    Form,
    SpaceDelimited,
    PipeDelimited,
    TabDelimited,
    DeepObject,
    /// 3.2's cookie style: `form`'s layout with `; ` between pairs and no percent-encoding.
    Cookie,
}

#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    pub name: String,
    pub location: Location,
    pub required: bool,
    pub description: Option<String>,
    /// JSON Schema (2020-12) of the value.
    pub schema: Value,
    pub style: Style,
    pub explode: bool,
    pub allow_reserved: bool,
    /// The media type of a parameter described with `content` instead of `schema`: its value
    /// is serialized by that media type (JSON text for JSON), not by `style`.
    pub content: Option<String>,
}

/// How a request body is encoded upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyKind {
    Json,
    /// `application/x-www-form-urlencoded`, per property `encoding`.
    Form,
    /// `multipart/form-data`, per property `encoding`; file parts from base64 arguments.
    Multipart,
    /// Sent as the given string, unchanged (text, xml, csv, ...).
    Raw,
    /// Bytes (octet-stream, images, ...), given as a base64 string.
    Binary,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestBody {
    pub content_type: String,
    pub kind: BodyKind,
    pub required: bool,
    pub description: Option<String>,
    pub schema: Value,
    /// Form and multipart bodies: how each property is written (Encoding Objects).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub encoding: IndexMap<String, body::PropEncoding>,
}

/// One operation, normalised. Schemas are JSON Schema 2020-12 with refs into `defs`.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    pub method: String,
    pub path: String,
    pub operation_id: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub deprecated: bool,
    pub parameters: Vec<Parameter>,
    pub body: Option<RequestBody>,
    /// Schema of the JSON 2xx response, when there is one.
    pub output_schema: Option<Value>,
    /// Scopes named by the operation's (or the document's) security requirements: any one
    /// alternative suffices; empty when none is needed.
    pub scopes: Vec<Vec<String>>,
    /// The document's translated definitions (shared by every operation), by `$defs` key.
    #[serde(skip)]
    pub defs: Arc<Map<String, Value>>,
}

impl Operation {
    /// A copy with only what a call needs: no schemas, descriptions or `$defs`.
    pub fn for_calls(&self) -> Operation {
        Operation {
            method: self.method.clone(),
            path: self.path.clone(),
            operation_id: self.operation_id.clone(),
            summary: None,
            description: None,
            tags: self.tags.clone(),
            deprecated: self.deprecated,
            parameters: self
                .parameters
                .iter()
                .map(|p| Parameter {
                    name: p.name.clone(),
                    location: p.location,
                    required: p.required,
                    description: None,
                    schema: Value::Null,
                    style: p.style,
                    explode: p.explode,
                    allow_reserved: p.allow_reserved,
                    content: p.content.clone(),
                })
                .collect(),
            body: self.body.as_ref().map(|b| RequestBody {
                content_type: b.content_type.clone(),
                kind: b.kind,
                required: b.required,
                description: None,
                schema: Value::Null,
                encoding: b.encoding.clone(),
            }),
            output_schema: None,
            scopes: self.scopes.clone(),
            defs: Arc::default(),
        }
    }
}

/// Something worth telling the user about one operation (or the document).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Diagnostic {
    /// `METHOD /path` or `document`.
    pub operation: String,
    pub message: String,
    /// True when the operation was skipped because of it.
    pub skipped: bool,
}

/// The normalised document.
#[derive(Debug, Clone, Serialize)]
pub struct ApiSpec {
    pub version: SpecVersion,
    pub title: String,
    pub description: Option<String>,
    /// The document's own server URL, when it has an absolute one.
    pub server_url: Option<String>,
    pub operations: Vec<Operation>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Headers a tool argument may never set.
const GATEWAY_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "cookie",
];

/// Whether a header (lower case) belongs to the gateway: framing, connection and hop headers.
pub fn is_gateway_header(lower: &str) -> bool {
    GATEWAY_HEADERS.contains(&lower) || lower.starts_with("proxy-")
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn at_line(line: &Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// Read and normalise a document from bytes (JSON or YAML).
pub fn parse(bytes: impl AsRef<[u8]>) -> Result<ApiSpec, IngestError> {
    let t = std::time::Instant::now();
    let tree = read::tree(bytes.as_ref())?;
    drop(bytes); // the tree is all we need: free the file before normalising
    normalise_tree(tree.root, tree.refs_paths, t)
}

fn normalise_tree(
    mut root: Value,
    refs_paths: bool,
    t: std::time::Instant,
) -> Result<ApiSpec, IngestError> {
    let parsed = t.elapsed();
    let rss_parsed = tracing::enabled!(tracing::Level::DEBUG).then(rss_kib);
    // Unless something refers into them, the paths are consumed (and freed) one by one.
    let paths = if refs_paths {
        None
    } else {
        root.get_mut("paths").map(Value::take)
    };
    let spec = normalise_with(&root, paths);
    tracing::debug!(?parsed, rss_parsed, normalised = ?t.elapsed() - parsed, rss_normalised = rss_kib(), "ingest");
    spec
}

/// Detect the version of a parsed document.
pub fn detect_version(root: &Value) -> Result<SpecVersion, IngestError> {
    let obj = root.as_object().ok_or(IngestError::NotOpenApi)?;
    if let Some(v) = obj.get("openapi") {
        let v = scalar_string(v).ok_or(IngestError::NotOpenApi)?;
        return if v.starts_with("3.0") {
            Ok(SpecVersion::V3_0)
        } else if v.starts_with("3.1") || v.starts_with("3.2") {
            Ok(SpecVersion::V3_1)
        } else {
            Err(IngestError::Version(v))
        };
    }
    if let Some(v) = obj.get("swagger") {
        let v = scalar_string(v).ok_or(IngestError::NotOpenApi)?;
        return if v == "2.0" || v == "2" {
            Ok(SpecVersion::V2)
        } else {
            Err(IngestError::Version(v))
        };
    }
    Err(IngestError::NotOpenApi)
}

/// Normalise a parsed document.
pub fn normalise(root: &Value) -> Result<ApiSpec, IngestError> {
    normalise_with(root, None)
}

/// Normalise, reading the paths from `owned_paths` (taken out of `root`) when given.
fn normalise_with(root: &Value, owned_paths: Option<Value>) -> Result<ApiSpec, IngestError> {
    let version = detect_version(root)?;
    let info = root.get("info");
    let title = info
        .and_then(|i| i.get("title"))
        .and_then(Value::as_str)
        .unwrap_or("API")
        .to_string();
    let description = info
        .and_then(|i| i.get("description"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut diagnostics = Vec::new();
    let mut operations = Vec::new();
    let mut tr = SchemaTranslator::new(root, version);
    let global_security = root.get("security");
    let mut each = |path: &str, item: &Value| {
        let item = match deref(root, item) {
            Ok(i) => i,
            Err(e) => {
                diagnostics.push(Diagnostic {
                    operation: format!("* {path}"),
                    message: format!("path item skipped: {e}"),
                    skipped: true,
                });
                return;
            }
        };
        let Some(item) = item.as_object() else {
            return;
        };
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let label = format!("{} {path}", method.to_uppercase());
            let ctx = OpCtx {
                root,
                version,
                path,
                method,
                item,
                op,
                global_security,
            };
            match ctx.build(&mut tr, &mut diagnostics, &label) {
                Ok(o) => operations.push(o),
                Err(message) => diagnostics.push(Diagnostic {
                    operation: label,
                    message,
                    skipped: true,
                }),
            }
        }
    };
    let has_paths = match owned_paths {
        Some(Value::Object(paths)) => {
            for (path, item) in paths {
                each(&path, &item); // `item` is freed here
            }
            true
        }
        _ => match root.get("paths").and_then(Value::as_object) {
            Some(paths) => {
                for (path, item) in paths {
                    each(path, item);
                }
                true
            }
            None => false,
        },
    };
    if !has_paths {
        diagnostics.push(Diagnostic {
            operation: "document".into(),
            message: "the document has no `paths`: no operations to expose".into(),
            skipped: false,
        });
    }
    let defs = Arc::new(tr.into_defs());
    for op in &mut operations {
        op.defs = defs.clone();
    }
    Ok(ApiSpec {
        version,
        title,
        description,
        server_url: server_url(root, version),
        operations,
        diagnostics,
    })
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first absolute server URL, with server variables set to their defaults.
fn server_url(root: &Value, version: SpecVersion) -> Option<String> {
    let url = if version == SpecVersion::V2 {
        let host = root.get("host")?.as_str()?;
        let scheme = root
            .get("schemes")
            .and_then(|s| s.as_array())
            .and_then(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .find(|s| *s == "https")
                    .or_else(|| a.first().and_then(Value::as_str))
            })
            .unwrap_or("https");
        let base = root.get("basePath").and_then(Value::as_str).unwrap_or("");
        format!("{scheme}://{host}{base}")
    } else {
        let server = root.get("servers")?.as_array()?.first()?;
        let mut url = server.get("url")?.as_str()?.to_string();
        if let Some(vars) = server.get("variables").and_then(Value::as_object) {
            for (k, v) in vars {
                if let Some(d) = v.get("default").and_then(scalar_string) {
                    url = url.replace(&format!("{{{k}}}"), &d);
                }
            }
        }
        url
    };
    (url.starts_with("http://") || url.starts_with("https://"))
        .then(|| url.trim_end_matches('/').to_string())
}

/// Resolve a local JSON pointer such as `#/components/schemas/Pet`.
pub fn resolve_pointer<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let ptr = r.strip_prefix('#')?;
    if ptr.is_empty() {
        return Some(root);
    }
    let decoded = percent_encoding::percent_decode_str(ptr)
        .decode_utf8()
        .ok()?;
    root.pointer(&decoded)
}

/// Follow `$ref` on a non-schema object (parameter, path item, request body, response).
fn deref<'a>(root: &'a Value, mut v: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..32 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) if !r.starts_with('#') => {
                return Err(format!(
                    "external $ref `{r}` is not supported (only references inside the document)"
                ));
            }
            Some(r) => {
                v = resolve_pointer(root, r).ok_or_else(|| {
                    format!("$ref `{r}` does not point at anything in the document")
                })?
            }
            None => return Ok(v),
        }
    }
    Err("$ref chain longer than 32 links (a cycle?)".into())
}

/// Resident set size in KiB (Linux), for debug logs.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
