//! Prompts and resources: a REST gateway has none, and says so the way the MCP spec asks.
//!
//! A method whose capability is not declared is -32601 (2026-07-28 `MethodNotFoundError`:
//! "calling `prompts/list` when the `prompts` capability was not advertised"); a server that
//! declares `prompts` "MUST respond to `prompts/list` ... This set MAY be empty" (prompts.mdx,
//! resources.mdx alike). Clients and the conformance suite's `caching` scenario expect the
//! second: so `prompts` and `resources` are declared (without `listChanged`: nothing ever
//! changes), rmcp's default handlers answer the three lists empty, with the caching hints it
//! adds for 2026-07-28 clients (`ttlMs: 0`, `cacheScope: "private"`, as for `tools/list`), and
//! reading a resource or getting a prompt is -32602 naming what was asked for (SEP-2164:
//! "SHOULD return a JSON-RPC error with code -32602 ... SHOULD include the requested `uri` in
//! the error `data`").

use rmcp::ErrorData;
use rmcp::model::ServerCapabilities;
use serde_json::json;

/// Tools (whose list changes: `live`), and (empty) prompts and resources.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities::builder()
        .enable_tools()
        .enable_tool_list_changed()
        .enable_prompts()
        .enable_resources()
        .build()
}

/// `resources/read` of any URI: there is no resource.
pub fn unknown_resource(uri: &str) -> ErrorData {
    ErrorData::invalid_params("Resource not found", Some(json!({"uri": uri})))
}

/// `prompts/get` of any name: there is no prompt.
pub fn unknown_prompt(name: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!("Prompt not found: `{name}`"),
        Some(json!({"name": name})),
    )
}
