//! MCP protocol: rmcp's [`ServerHandler`] over one API's catalog snapshot.
//!
//! rmcp does the wire protocol (every revision from 2025-03-26 to 2026-07-28, `initialize` and
//! `server/discover`, header checks, JSON or SSE answers); this handler only lists the
//! prebuilt pages, validates arguments with the prebuilt validators and calls upstream.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::catalog::ApiCatalog;
use crate::upstream::Upstream;

/// Serves one API; cloned per request by rmcp's service factory (two `Arc` clones).
#[derive(Clone)]
pub struct McpApi {
    pub api: Arc<ApiCatalog>,
    pub upstream: Upstream,
}

impl ServerHandler for McpApi {
    fn get_info(&self) -> ServerConfig {
        let mut info = Implementation::new(
            format!("rest2mcp-{}", self.api.name),
            env!("CARGO_PKG_VERSION"),
        );
        info.title = Some(self.api.title.clone());
        let mut cfg = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(info);
        let mut instructions = format!(
            "Tools for the {} REST API: each tool calls one operation.",
            self.api.title
        );
        if let Some(d) = &self.api.description {
            instructions.push_str("\n\n");
            instructions.push_str(d);
        }
        cfg = cfg.with_instructions(instructions);
        cfg
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let page = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .ok()
                .filter(|p| *p < self.api.page_count())
                .ok_or_else(|| ErrorData::invalid_params("invalid cursor", None))?,
        };
        let tools: Vec<Tool> = self.api.page(page).iter().map(|t| t.tool()).collect();
        let mut result = ListToolsResult::with_all_items(tools);
        if page + 1 < self.api.page_count() {
            result.next_cursor = Some((page + 1).to_string());
        }
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.api.tool(name).map(|t| t.tool())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(entry) = self.api.tool(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        };
        let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
        if let Some(msg) = validation_errors(&entry.validator, &args) {
            return Ok(CallToolResult::error(vec![ContentBlock::text(msg)]).into());
        }
        let args = args.as_object().expect("built as an object above");
        Ok(self.upstream.call_tool(&self.api, entry, args).await.into())
    }
}

/// All schema violations of the arguments, one line each, naming the argument; `None` if valid.
pub(crate) fn validation_errors(
    v: &jsonschema::Validator,
    args: &serde_json::Value,
) -> Option<String> {
    if v.is_valid(args) {
        return None;
    }
    let lines: Vec<String> = v
        .iter_errors(args)
        .take(10)
        .map(|e| {
            let path = e.instance_path().to_string();
            let arg = path.trim_start_matches('/');
            if arg.is_empty() {
                format!("arguments: {e}")
            } else {
                format!("argument `{}`: {e}", arg.replace('/', "."))
            }
        })
        .collect();
    Some(format!("invalid arguments:\n{}", lines.join("\n")))
}
