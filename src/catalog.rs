//! Catalog: the immutable, ready-to-serve snapshot of every API's tools.
//!
//! Everything a request needs is derived here, once per mapping: the rmcp [`Tool`] list split
//! into pages, the compiled argument and output validators, the name index. A request loads
//! the current [`Gateway`] from the [`arc_swap::ArcSwap`] and never rebuilds any of it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::Value;

use crate::config::{ApiConfig, Config, ConfigError, ServerConfig, check_base_url};
use crate::ingest::{self, ApiSpec, IngestError};
use crate::mapping::defs::{DefBytes, DefTable};
use crate::mapping::{self, MappedTool, OpReport};

mod json;
#[cfg(test)]
mod tests;

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
    #[error("api `{api}`: backend {source}")]
    Policy {
        api: String,
        source: crate::upstream::policy::PolicyError,
    },
}

/// One tool, ready to call.
pub struct ToolEntry {
    /// Name, bindings, the lean operation and its `$defs` lists; its schemas are emptied once
    /// serialized (they live on in `json`).
    pub mapped: MappedTool,
    /// The tool definition as served in `tools/list`, serialized once, without its `$defs`
    /// (written from the catalog's shared [`DefBytes`]: [`ApiCatalog::write_tool`]).
    json: json::ToolJson,
    /// The whole definition's length in bytes.
    len: usize,
    /// Its position in the catalog (the key of its validators in the catalog's cache).
    pub index: u32,
    has_output_schema: bool,
    /// Whether its calls have a latency series of their own (decided on its first call).
    pub labelled: std::sync::OnceLock<bool>,
}

/// A compiled validator, or why the schema does not compile.
type Compiled = Result<Arc<jsonschema::Validator>, Arc<str>>;

/// Compiled validators kept per API (input and output count one each). Validators are
/// compiled on a tool's first call, not at load: on Microsoft Graph's 11k tools, compiling
/// every input schema at load took 5.7 of 6.9 s and 1.1 of 1.37 GB (each tool's schema
/// carries the `$defs` it reaches, and those repeat across tools); most tools of a large API
/// are never called.
const VALIDATORS_PER_API: usize = 1024;

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
    pub by_name: foldhash::HashMap<String, usize>,
    /// Tools per `tools/list` page, and bytes (see `ServerConfig::page_bytes`).
    pub page_size: usize,
    pub page_bytes: usize,
    pub report: Vec<OpReport>,
    pub diagnostics: Vec<ingest::Diagnostic>,
    pub stats: ApiStats,
    /// `mode: search`: the index over `tools`, and the three tools the endpoint lists instead.
    pub search: Option<Search>,
    /// The definitions the tools' schemas reach, serialized once.
    defs: DefBytes,
    /// Validators by (tool index, output?), compiled on first use, bounded.
    validators: quick_cache::sync::Cache<(u32, bool), Compiled>,
}

/// A search-mode API's index and listed tools.
pub struct Search {
    pub index: crate::search::Index,
    /// The `tools/list` result's tools (search, describe, call), serialized once.
    pub listed: Vec<Value>,
}

/// The whole servable state: every API by name.
pub struct Gateway {
    pub apis: foldhash::HashMap<String, Arc<ApiCatalog>>,
    pub order: Vec<String>,
}

impl Gateway {
    /// Load every spec of a config and build the catalogs.
    pub fn build(cfg: &Config) -> Result<Gateway, BuildError> {
        let mut apis = foldhash::HashMap::default();
        let mut order = Vec::new();
        let policy = crate::upstream::policy::HostPolicy::new(&cfg.upstream);
        for api in &cfg.apis {
            let spec = ingest::load_file(&api.spec).map_err(|source| BuildError::Ingest {
                api: api.name.clone(),
                source,
            })?;
            let cat = ApiCatalog::build(api, spec, &cfg.server)?;
            // The spec's own server URL, when no base URL is configured, is checked here.
            policy
                .check_url(&cat.base_url)
                .map_err(|source| BuildError::Policy {
                    api: api.name.clone(),
                    source,
                })?;
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
        Self::build_stable(api, spec, server, None)
    }

    /// Each tool's name by its operation's key ([`mapping::op_key`]): what a rebuild keeps.
    pub fn tool_names_by_operation(&self) -> std::collections::HashMap<String, String> {
        self.tools
            .iter()
            .map(|t| (mapping::op_key(&t.mapped.op), t.mapped.name.clone()))
            .collect()
    }

    /// [`Self::build`], keeping the tool names of `previous` (by operation) where it can.
    pub fn build_stable(
        api: &ApiConfig,
        spec: ApiSpec,
        server: &ServerConfig,
        previous: Option<&std::collections::HashMap<String, String>>,
    ) -> Result<Self, BuildError> {
        let base = api
            .base_url
            .clone()
            .or_else(|| spec.server_url.clone())
            .ok_or_else(|| BuildError::NoBaseUrl(api.name.clone()))?;
        let base_url = check_base_url(&base)
            .map_err(|m| ConfigError::Invalid(format!("api `{}`: base URL: {m}", api.name)))?;
        let t = std::time::Instant::now();
        // Each tool is compiled as soon as it is mapped: its schema trees are gone before the
        // next one is built (peak memory on large specs).
        let mut table: Option<Arc<DefTable>> = None;
        let (tools, report) = mapping::map_api_stable(
            &spec,
            api,
            server.max_output_schema_bytes,
            previous,
            |m, r| {
                table.get_or_insert_with(|| m.defs.clone());
                compile(m)
                    .map_err(|msg| {
                        // A schema the validator cannot compile: skip this tool, say why.
                        r.selected = false;
                        r.notes.push(format!("skipped: {msg}"));
                    })
                    .ok()
            },
        )?;
        let ApiSpec {
            title,
            description,
            diagnostics,
            ..
        } = spec;
        // The definitions' trees go with the table; their bytes stay.
        let defs = table.map(|t| t.freeze()).unwrap_or_default();
        let mut tools = tools;
        for (i, t) in tools.iter_mut().enumerate() {
            t.index = i as u32;
            t.len = t
                .json
                .len(&defs, &t.mapped.input_defs, &t.mapped.output_defs);
        }
        let search = (api.mode == crate::config::Mode::Search).then(|| Search {
            index: crate::search::Index::build(tools.iter().map(|t: &ToolEntry| {
                crate::search::Doc {
                    name: &t.mapped.name,
                    summary: &t.mapped.title,
                    description: &t.mapped.description,
                    tags: &t.mapped.op.tags,
                    method: &t.mapped.op.method,
                    path: &t.mapped.op.path,
                }
            })),
            listed: crate::search::meta_tools(&title, tools.len()),
        });
        let rss_compiled = tracing::enabled!(tracing::Level::DEBUG).then(ingest::rss_kib);
        let by_name = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.mapped.name.clone(), i))
            .collect();
        tracing::debug!(
            api = %api.name,
            rss_compiled,
            mapped_and_compiled = ?t.elapsed(),
            rss = ingest::rss_kib(),
            tool_bytes = tools.iter().map(|t: &ToolEntry| t.json.size()).sum::<usize>(),
            def_bytes = defs.size(),
            "catalog"
        );
        Ok(ApiCatalog {
            name: api.name.clone(),
            title,
            description,
            base_url,
            tools,
            by_name,
            page_size: server.page_size.max(1),
            page_bytes: server.page_bytes,
            search,
            defs,
            validators: quick_cache::sync::Cache::new(VALIDATORS_PER_API),
            report,
            diagnostics,
            stats: ApiStats::default(),
        })
    }

    /// The page a `tools/list` cursor names: the position in `view` (indices into `tools`;
    /// `None`: all of them) of its first tool. `None` for anything else.
    pub fn cursor(&self, cursor: &str, view: Option<&[usize]>) -> Option<usize> {
        let n = view.map_or(self.tools.len(), <[usize]>::len);
        cursor.parse::<usize>().ok().filter(|&c| c == 0 || c < n)
    }

    /// The page of `view` from position `start`: at most `page_size` tools, and no more
    /// bytes than `page_bytes` unless its first tool alone is larger. Returns the tools'
    /// positions in `view` and the next page's cursor.
    pub fn page(
        &self,
        start: usize,
        view: Option<&[usize]>,
    ) -> (std::ops::Range<usize>, Option<usize>) {
        let n = view.map_or(self.tools.len(), <[usize]>::len);
        let start = start.min(n);
        let mut end = start;
        let mut bytes = 0;
        while end < n && end - start < self.page_size {
            let len = self.tools[view.map_or(end, |v| v[end])].len + 1;
            if end > start && bytes + len > self.page_bytes {
                break;
            }
            bytes += len;
            end += 1;
        }
        (start..end, (end < n).then_some(end))
    }

    /// The tools at these positions of `view`.
    pub fn tools_in<'a>(
        &'a self,
        range: std::ops::Range<usize>,
        view: Option<&'a [usize]>,
    ) -> impl Iterator<Item = &'a ToolEntry> + 'a {
        range.map(move |i| &self.tools[view.map_or(i, |v| v[i])])
    }

    /// Append the serialized `tools/list` result for the page of `view` from `start` to
    /// `out`; `modern` adds the 2026-07-28 fields (`resultType`, `ttlMs`, `cacheScope`) with
    /// the values rmcp gives them.
    pub fn write_page(
        &self,
        out: &mut Vec<u8>,
        start: usize,
        modern: bool,
        view: Option<&[usize]>,
    ) {
        // Pages are spliced from each tool's JSON, serialized once.
        let (range, next) = self.page(start, view);
        out.reserve(
            self.tools_in(range.clone(), view)
                .map(|t| t.len + 1)
                .sum::<usize>()
                + 96,
        );
        out.push(b'{');
        if modern {
            out.extend_from_slice(br#""resultType":"complete","ttlMs":0,"cacheScope":"private","#);
        }
        if let Some(next) = next {
            out.extend_from_slice(format!(r#""nextCursor":"{next}","#).as_bytes());
        }
        out.extend_from_slice(br#""tools":["#);
        for (i, t) in self.tools_in(range, view).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.write_tool(t, out);
        }
        out.extend_from_slice(b"]}");
    }

    /// Append one tool's definition as served.
    pub fn write_tool(&self, t: &ToolEntry, out: &mut Vec<u8>) {
        t.json
            .write(&self.defs, &t.mapped.input_defs, &t.mapped.output_defs, out);
    }

    /// One tool's definition as served, parsed.
    pub fn tool_value(&self, t: &ToolEntry) -> Value {
        self.parse_tool(t)
    }

    /// The rmcp tool definition (rebuilt from its JSON: only rmcp's own path needs it).
    pub fn rmcp_tool(&self, t: &ToolEntry) -> Tool {
        self.parse_tool(t)
    }

    fn parse_tool<T: serde::de::DeserializeOwned>(&self, t: &ToolEntry) -> T {
        let mut b = Vec::with_capacity(t.len);
        self.write_tool(t, &mut b);
        serde_json::from_slice(&b).expect("serialized from a Tool")
    }

    /// The validator of a tool's arguments (compiled on first use), or why its schema does
    /// not compile.
    pub fn input_validator(&self, t: &ToolEntry) -> Result<Arc<jsonschema::Validator>, String> {
        self.cached(t, false, "inputSchema")
            .map_err(|e| e.to_string())
    }

    /// The validator of a tool's JSON answers (compiled on first use); `None` when the tool
    /// declares no output schema (or, rarely, when it does not compile: answers are then text
    /// only).
    pub fn output_validator(&self, t: &ToolEntry) -> Option<Arc<jsonschema::Validator>> {
        if !t.has_output_schema {
            return None;
        }
        self.cached(t, true, "outputSchema").ok()
    }

    fn cached(&self, t: &ToolEntry, output: bool, which: &str) -> Compiled {
        let compiled = self.validators.get_or_insert_with(&(t.index, output), || {
            let schema = self
                .tool_value(t)
                .get_mut(which)
                .map(Value::take)
                .unwrap_or(Value::Null);
            Ok::<_, std::convert::Infallible>(compile_schema(&schema).map(Arc::new).map_err(|e| {
                tracing::warn!(api = %self.name, tool = %t.mapped.name, "{which}: {e}");
                Arc::<str>::from(e)
            }))
        });
        match compiled {
            Ok(c) => c,
            Err(never) => match never {},
        }
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

/// The rmcp tool definition of a mapped tool, with these schemas.
fn definition(
    m: &MappedTool,
    input_schema: Arc<serde_json::Map<String, Value>>,
    output_schema: Option<Arc<serde_json::Map<String, Value>>>,
) -> Tool {
    let mut ann = ToolAnnotations::with_title(m.title.clone()).open_world(true);
    match m.op.method.as_str() {
        "GET" | "HEAD" | "OPTIONS" => ann = ann.read_only(true),
        "DELETE" => ann = ann.read_only(false).destructive(true).idempotent(true),
        "PUT" => ann = ann.read_only(false).idempotent(true),
        _ => ann = ann.read_only(false),
    }
    let tool = Tool::new(m.name.clone(), m.description.clone(), input_schema)
        .with_title(m.title.clone())
        .with_annotations(ann);
    match output_schema {
        Some(s) => tool.with_raw_output_schema(s),
        None => tool,
    }
}

/// The ready tool: definition serialized (its `$defs` left to the catalog's shared bytes),
/// schema trees dropped (validators come later, on first use: `ApiCatalog::input_validator`).
fn compile(mut m: MappedTool) -> Result<ToolEntry, String> {
    let mut input_schema = std::mem::take(&mut m.input_schema);
    let mut output_schema = m.output_schema.take();
    if !m.input_defs.is_empty() {
        json::mark(&mut input_schema, json::Which::Input);
    }
    if let Some(s) = output_schema.as_mut()
        && !m.output_defs.is_empty()
    {
        json::mark(s, json::Which::Output);
    }
    let has_output_schema = output_schema.is_some();
    let json = json::ToolJson::new(&definition(&m, input_schema, output_schema));
    // The schema trees are the bulk of a large API's memory; the JSON keeps them. The
    // definitions' table goes too (the catalog keeps their bytes).
    m.defs = DefTable::empty();
    Ok(ToolEntry {
        mapped: m,
        json,
        len: 0,
        index: 0,
        has_output_schema,
        labelled: std::sync::OnceLock::new(),
    })
}
