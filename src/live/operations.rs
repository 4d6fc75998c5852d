//! Every operation of a spec as the console shows it: what it is, which tool it becomes (or
//! would become), whether it is selected, what was said about it, and what its tool costs a
//! client (schema size, an estimate of model tokens).

use serde::Serialize;

use crate::config::{ApiConfig, ServerConfig};
use crate::ingest::{ApiSpec, Diagnostic};
use crate::mapping;

#[derive(Debug, Serialize)]
pub struct OperationView {
    pub method: String,
    pub path: String,
    pub operation_id: Option<String>,
    pub tags: Vec<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    /// The tool name it has (selected) or would have (not selected).
    pub tool: Option<String>,
    pub selected: bool,
    pub diagnostics: Vec<String>,
    /// Size of the tool definition a client loads (name, description, schemas), bytes.
    pub schema_bytes: usize,
    /// About `schema_bytes / 4`: what the definition costs a model's context.
    pub estimated_tokens: usize,
    pub read_only: bool,
    pub destructive: bool,
    /// Scopes a caller needs (any one alternative): the override's, else the spec's.
    pub scopes: Vec<Vec<String>>,
    /// The spec's own `security` scopes, whatever the override says.
    pub spec_scopes: Vec<Vec<String>>,
    /// The config override's name and description, if any.
    pub name_override: Option<String>,
    pub description_override: Option<String>,
}

/// The views of `spec`'s operations under `api`'s mapping (`previous`: names to keep).
pub fn views(
    spec: &ApiSpec,
    api: &ApiConfig,
    server: &ServerConfig,
    previous: Option<&std::collections::HashMap<String, String>>,
) -> Vec<OperationView> {
    let actual = mapping::map_api_stable(
        spec,
        api,
        server.max_output_schema_bytes,
        previous,
        |_, _| Some(()),
    )
    .map(|(_, r)| r)
    .unwrap_or_default();
    // Every operation selected: its tool's size even when it is not chosen now.
    let everything = ApiConfig {
        include: vec![],
        exclude: vec![],
        ..api.clone()
    };
    let mut sizes = vec![0usize; spec.operations.len()];
    let mut i = 0;
    let _ = mapping::map_api_stable(
        spec,
        &everything,
        server.max_output_schema_bytes,
        previous,
        |t, _| {
            let size = t.name.len()
                + t.description.len()
                + serde_json::to_vec(&*t.input_schema).map_or(0, |v| v.len())
                + t.output_schema
                    .as_ref()
                    .and_then(|o| serde_json::to_vec(&**o).ok())
                    .map_or(0, |v| v.len())
                + [&t.input_defs, &t.output_defs]
                    .iter()
                    .filter(|d| !d.is_empty())
                    .map(|d| t.defs.object_len(d) + r#","$defs":"#.len())
                    .sum::<usize>()
                + 120;
            // Tools come in operation order, one per operation.
            while i < spec.operations.len() && !same(&spec.operations[i], &t.op) {
                i += 1;
            }
            if i < sizes.len() {
                sizes[i] = size;
            }
            Some(())
        },
    );
    spec.operations
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let report = actual.get(i);
            let over = op
                .operation_id
                .as_deref()
                .and_then(|id| api.tools.get(id))
                .or_else(|| {
                    report
                        .and_then(|r| r.tool.as_deref())
                        .and_then(|t| api.tools.get(t))
                });
            let label = format!("{} {}", op.method, op.path);
            let mut diagnostics: Vec<String> = report.map(|r| r.notes.clone()).unwrap_or_default();
            diagnostics.extend(
                spec.diagnostics
                    .iter()
                    .filter(|d| d.operation == label)
                    .map(|d| d.message.clone()),
            );
            OperationView {
                method: op.method.clone(),
                path: op.path.clone(),
                operation_id: op.operation_id.clone(),
                tags: op.tags.clone(),
                summary: op.summary.clone(),
                description: op.description.clone(),
                tool: report.and_then(|r| r.tool.clone()),
                selected: report.is_some_and(|r| r.selected),
                diagnostics,
                schema_bytes: sizes[i],
                estimated_tokens: sizes[i].div_ceil(4),
                read_only: matches!(op.method.as_str(), "GET" | "HEAD" | "OPTIONS"),
                destructive: op.method == "DELETE",
                scopes: over
                    .and_then(|o| o.scopes.clone())
                    .map(|s| if s.is_empty() { vec![] } else { vec![s] })
                    .unwrap_or_else(|| op.scopes.clone()),
                spec_scopes: op.scopes.clone(),
                name_override: over.and_then(|o| o.name.clone()),
                description_override: over.and_then(|o| o.description.clone()),
            }
        })
        .collect()
}

fn same(a: &crate::ingest::Operation, b: &crate::ingest::Operation) -> bool {
    a.method == b.method && a.path == b.path
}

/// The document-level diagnostics and the skipped operations (not in `views`).
pub fn skipped(spec: &ApiSpec) -> Vec<Diagnostic> {
    spec.diagnostics.clone()
}
