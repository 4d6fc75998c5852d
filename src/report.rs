//! Human-facing summaries: the `inspect` table and what `serve` prints at start.

use std::fmt::Write as _;

use serde::Serialize;

use crate::catalog::ApiCatalog;
use crate::ingest::Diagnostic;
use crate::mapping::OpReport;

/// `inspect --json` output.
#[derive(Serialize)]
pub struct InspectJson<'a> {
    pub api: &'a str,
    pub title: &'a str,
    /// `None` when neither the spec nor the config names a backend.
    pub base_url: Option<&'a str>,
    pub tools: usize,
    pub operations: &'a [OpReport],
    pub diagnostics: &'a [Diagnostic],
}

pub fn inspect_json(cat: &ApiCatalog) -> String {
    serde_json::to_string_pretty(&InspectJson {
        api: &cat.name,
        title: &cat.title,
        base_url: (cat.base_url.host_str() != Some(NO_BACKEND_HOST)).then(|| cat.base_url.as_str()),
        tools: cat.tools.len(),
        operations: &cat.report,
        diagnostics: &cat.diagnostics,
    })
    .expect("plain data serializes")
}

/// One line per operation: method, path, tool name, selected, then its notes.
pub fn inspect_table(cat: &ApiCatalog) -> String {
    let mut out = String::new();
    let w_method = 7;
    let w_path = cat
        .report
        .iter()
        .map(|r| r.path.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    let w_tool = cat
        .report
        .iter()
        .map(|r| r.tool.as_deref().map_or(1, str::len))
        .max()
        .unwrap_or(4)
        .max(4);
    // Scopes only when some tool needs any (they matter on protected endpoints).
    let scoped = cat.report.iter().any(|r| !r.scopes.is_empty());
    let _ = writeln!(
        out,
        "{:<w_method$} {:<w_path$} {:<w_tool$} SELECTED{}",
        "METHOD",
        "PATH",
        "TOOL",
        if scoped { "  SCOPES" } else { "" }
    );
    for r in &cat.report {
        let scopes = if scoped {
            let alts: Vec<String> = r.scopes.iter().map(|a| a.join(" ")).collect();
            format!(
                "{:<8}  {}",
                if r.selected { "yes" } else { "no" },
                alts.join(" | ")
            )
        } else {
            (if r.selected { "yes" } else { "no" }).to_string()
        };
        let _ = writeln!(
            out,
            "{:<w_method$} {:<w_path$} {:<w_tool$} {}",
            r.method,
            r.path,
            r.tool.as_deref().unwrap_or("-"),
            scopes.trim_end()
        );
        for n in &r.notes {
            let _ = writeln!(out, "    note: {n}");
        }
    }
    for d in &cat.diagnostics {
        let _ = writeln!(
            out,
            "{} {}: {}",
            if d.skipped { "SKIPPED" } else { "WARNING" },
            d.operation,
            d.message
        );
    }
    let _ = writeln!(
        out,
        "{} tools from {} operations ({} skipped); backend {}",
        cat.tools.len(),
        cat.report.len() + cat.diagnostics.iter().filter(|d| d.skipped).count(),
        cat.diagnostics.iter().filter(|d| d.skipped).count(),
        backend(cat)
    );
    out
}

/// The backend URL, or what to do when neither the spec nor the config names one.
fn backend(cat: &ApiCatalog) -> String {
    if cat.base_url.host_str() == Some(NO_BACKEND_HOST) {
        "not set (the spec has no absolute server URL: set base_url or --base-url)".into()
    } else {
        cat.base_url.to_string()
    }
}

/// Placeholder host `inspect` uses when no backend URL is known.
pub const NO_BACKEND_HOST: &str = "backend-not-set.invalid";

/// What `serve` prints for one API at start: its URL, tool count, and everything noteworthy.
pub fn startup(
    cat: &ApiCatalog,
    url: &str,
    protection: Option<&crate::auth::Protection>,
) -> String {
    let mut out = format!(
        "{url}  {} tools  ({} -> {})\n",
        cat.tools.len(),
        cat.title,
        cat.base_url
    );
    if let Some(p) = protection {
        let _ = writeln!(out, "  protected: {}", p.summary());
    }
    for d in &cat.diagnostics {
        let _ = writeln!(
            out,
            "  {} {}: {}",
            if d.skipped { "skipped" } else { "warning" },
            d.operation,
            d.message
        );
    }
    for r in cat.report.iter().filter(|r| r.selected) {
        for n in &r.notes {
            let _ = writeln!(
                out,
                "  note {} {} -> {}: {n}",
                r.method,
                r.path,
                r.tool.as_deref().unwrap_or("-")
            );
        }
    }
    out
}
