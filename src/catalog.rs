//! Catalog: the immutable, ready-to-serve snapshot of every API's tools.
//!
//! Everything a request needs is derived here, once per mapping: the rmcp [`Tool`] list split
//! into pages, the compiled argument and output validators, the name index. A request loads
//! the current [`Gateway`] from the [`arc_swap::ArcSwap`] and never rebuilds any of it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::Value;

use crate::config::{ApiConfig, Config, ConfigError, ServerConfig, check_base_url};
use crate::ingest::{self, ApiSpec, IngestError};
use crate::mapping::{self, MappedTool, OpReport};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("api `{api}`: {source}")]
    Ingest { api: String, source: IngestError },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "api `{0}`: no base URL: the spec has no absolute server URL; set `base_url` (or --base-url)"
    )]
    NoBaseUrl(String),
}

/// One tool, ready to call.
pub struct ToolEntry {
    pub mapped: MappedTool,
    pub tool: Tool,
    /// Checks arguments before anything goes upstream.
    pub validator: jsonschema::Validator,
    /// Checks a JSON 2xx answer before it is offered as `structuredContent`.
    pub output_validator: Option<jsonschema::Validator>,
}

/// Counters a human or a dashboard may want.
#[derive(Default)]
pub struct ApiStats {
    /// 2xx JSON answers that did not match the declared output schema (sent as text only).
    pub output_mismatches: AtomicU64,
}

/// All tools of one API.
pub struct ApiCatalog {
    pub name: String,
    pub title: String,
    pub description: Option<String>,
    pub base_url: url::Url,
    pub tools: Vec<ToolEntry>,
    pub by_name: HashMap<String, usize>,
    /// `tools/list` pages, built once.
    pub pages: Vec<Arc<[Tool]>>,
    /// The same pages as serialized `tools/list` results, for revisions before 2026-07-28
    /// and for 2026-07-28 (with its cache hints).
    pub list_json_legacy: Vec<Vec<u8>>,
    pub list_json_modern: Vec<Vec<u8>>,
    pub report: Vec<OpReport>,
    pub diagnostics: Vec<ingest::Diagnostic>,
    pub stats: ApiStats,
}

/// The whole servable state: every API by name.
pub struct Gateway {
    pub apis: HashMap<String, Arc<ApiCatalog>>,
    pub order: Vec<String>,
}

impl Gateway {
    /// Load every spec of a config and build the catalogs.
    pub fn build(cfg: &Config) -> Result<Gateway, BuildError> {
        let mut apis = HashMap::new();
        let mut order = Vec::new();
        for api in &cfg.apis {
            let spec = ingest::load_file(&api.spec).map_err(|source| BuildError::Ingest {
                api: api.name.clone(),
                source,
            })?;
            let cat = ApiCatalog::build(api, spec, &cfg.server)?;
            order.push(api.name.clone());
            apis.insert(api.name.clone(), Arc::new(cat));
        }
        Ok(Gateway { apis, order })
    }
}

impl ApiCatalog {
    pub fn build(
        api: &ApiConfig,
        spec: ApiSpec,
        server: &ServerConfig,
    ) -> Result<Self, BuildError> {
        let base = api
            .base_url
            .clone()
            .or_else(|| spec.server_url.clone())
            .ok_or_else(|| BuildError::NoBaseUrl(api.name.clone()))?;
        let base_url = check_base_url(&base)
            .map_err(|m| ConfigError::Invalid(format!("api `{}`: base URL: {m}", api.name)))?;
        let t = std::time::Instant::now();
        let mapping = mapping::map_api(&spec, api, server.max_output_schema_bytes)?;
        let mapped = t.elapsed();
        let mut report = mapping.report;
        let mut tools = Vec::with_capacity(mapping.tools.len());
        for m in mapping.tools {
            let name = m.name.clone();
            match compile(m) {
                Ok(e) => tools.push(e),
                Err(msg) => {
                    // A schema the validator cannot compile: skip this tool, say why.
                    if let Some(r) = report.iter_mut().find(|r| r.tool.as_deref() == Some(&name)) {
                        r.selected = false;
                        r.notes.push(format!("skipped: {msg}"));
                    }
                }
            }
        }
        let compiled = t.elapsed() - mapped;
        let by_name = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.mapped.name.clone(), i))
            .collect();
        let pages = tools
            .chunks(server.page_size.max(1))
            .map(|c| c.iter().map(|t| t.tool.clone()).collect::<Arc<[Tool]>>())
            .collect::<Vec<_>>();
        let (list_json_legacy, list_json_modern) = crate::fastpath::serialize_pages(&pages);
        tracing::debug!(api = %api.name, ?mapped, ?compiled, total = ?t.elapsed(), "catalog");
        Ok(ApiCatalog {
            name: api.name.clone(),
            title: spec.title,
            description: spec.description,
            base_url,
            tools,
            by_name,
            pages,
            list_json_legacy,
            list_json_modern,
            report,
            diagnostics: spec.diagnostics,
            stats: ApiStats::default(),
        })
    }

    pub fn tool(&self, name: &str) -> Option<&ToolEntry> {
        self.by_name.get(name).map(|i| &self.tools[*i])
    }

    /// Load one spec file and build its catalog (for `inspect` and single-spec `serve`).
    pub fn from_file(
        api: &ApiConfig,
        path: &Path,
        server: &ServerConfig,
    ) -> Result<Self, BuildError> {
        let spec = ingest::load_file(path).map_err(|source| BuildError::Ingest {
            api: api.name.clone(),
            source,
        })?;
        Self::build(api, spec, server)
    }
}

fn compile_schema(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::draft202012::options()
        .should_validate_formats(false)
        .build(schema)
        .map_err(|e| format!("schema does not compile: {e}"))
}

fn compile(m: MappedTool) -> Result<ToolEntry, String> {
    let validator = compile_schema(&Value::Object((*m.input_schema).clone()))?;
    let output_validator = m
        .output_schema
        .as_ref()
        .and_then(|s| compile_schema(&Value::Object((**s).clone())).ok());
    let method = m.op.method.as_str();
    let mut ann = ToolAnnotations::with_title(m.title.clone()).open_world(true);
    match method {
        "GET" | "HEAD" | "OPTIONS" => ann = ann.read_only(true),
        "DELETE" => ann = ann.read_only(false).destructive(true).idempotent(true),
        "PUT" => ann = ann.read_only(false).idempotent(true),
        _ => ann = ann.read_only(false),
    }
    let mut tool = Tool::new(
        m.name.clone(),
        m.description.clone(),
        m.input_schema.clone(),
    )
    .with_title(m.title.clone())
    .with_annotations(ann);
    if let (Some(s), Some(_)) = (&m.output_schema, &output_validator) {
        tool = tool.with_raw_output_schema(s.clone());
    }
    Ok(ToolEntry {
        mapped: m,
        tool,
        validator,
        output_validator,
    })
}
