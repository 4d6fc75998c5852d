//! MCP protocol: rmcp's [`ServerHandler`] over one API's catalog snapshot.
//!
//! rmcp does the wire protocol (every revision from 2025-03-26 to 2026-07-28, `initialize` and
//! `server/discover`, header checks, JSON or SSE answers); this handler only lists the
//! prebuilt pages, validates arguments with the prebuilt validators and calls upstream.

mod empty;

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, GetPromptRequestParams, GetPromptResponse,
    Implementation, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ServerConfig, SubscriptionFilter, Tool,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::auth::{Access, Caller};
use crate::catalog::ApiCatalog;
use crate::upstream::{Outcome, Upstream};

/// Serves one API; cloned per request by rmcp's service factory (a few `Arc` clones).
#[derive(Clone)]
pub struct McpApi {
    pub api: Arc<ApiCatalog>,
    pub upstream: Upstream,
    pub access: Arc<Access>,
    /// Bumped whenever this API's tools change (`live`): what `subscriptions/listen` waits on.
    pub changes: tokio::sync::watch::Receiver<u64>,
    /// A toolset endpoint (`/mcp/{name}/{set}`): the tools it serves (sorted indices).
    pub set: Option<Arc<Vec<usize>>>,
}

impl McpApi {
    /// The tools `caller` sees here: the set's (if any) that its scopes allow.
    fn view(&self, caller: Option<&Caller>) -> Option<Arc<Vec<usize>>> {
        let visible = self.access.visible(&self.api, caller);
        match (&self.set, visible) {
            (None, v) => v,
            (Some(s), None) => Some(s.clone()),
            (Some(s), Some(v)) => Some(Arc::new(
                s.iter()
                    .filter(|i| v.binary_search(i).is_ok())
                    .copied()
                    .collect(),
            )),
        }
    }
}

/// The verified caller the HTTP layer attached to the request, if the endpoint is protected.
fn caller(context: &RequestContext<RoleServer>) -> Option<Arc<Caller>> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<Arc<Caller>>())
        .cloned()
}

impl ServerHandler for McpApi {
    fn get_info(&self) -> ServerConfig {
        let mut info = Implementation::new(
            format!("rest2mcp-{}", self.api.name),
            env!("CARGO_PKG_VERSION"),
        );
        info.title = Some(self.api.title.clone());
        let mut cfg = ServerConfig::new(empty::capabilities()).with_server_info(info);
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
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let view = self.view(caller(&context).as_deref());
        let view = view.as_deref().map(Vec::as_slice);
        if let Some(search) = &self.api.search {
            let tools: Vec<Tool> = search
                .listed
                .iter()
                .filter_map(|t| serde_json::from_value(t.clone()).ok())
                .collect();
            return Ok(ListToolsResult::with_all_items(tools));
        }
        let page = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .ok()
                .filter(|p| *p < self.api.page_count(view))
                .ok_or_else(|| ErrorData::invalid_params("invalid cursor", None))?,
        };
        let tools: Vec<Tool> = self.api.page(page, view).map(|t| t.tool()).collect();
        let mut result = ListToolsResult::with_all_items(tools);
        if page + 1 < self.api.page_count(view) {
            result.next_cursor = Some((page + 1).to_string());
        }
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        if let Some(search) = &self.api.search {
            return search
                .listed
                .iter()
                .find(|t| t["name"] == name)
                .and_then(|t| serde_json::from_value(t.clone()).ok());
        }
        self.api.tool(name).map(|t| t.tool())
    }

    /// 2026-07-28 `subscriptions/listen`: tool list changes are the one category served.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::default();
        accepted.tools_list_changed = requested.tools_list_changed.filter(|on| *on);
        Some(accepted)
    }

    /// Until the client goes away: a `notifications/tools/list_changed` each time this API's
    /// tools change (a reload, an admin write).
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let mut changes = self.changes.clone();
        changes.mark_unchanged();
        loop {
            tokio::select! {
                _ = context.cancelled() => return Ok(()),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    if context.sink().notify_tool_list_changed().await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if self.api.search.is_some() {
            let caller = caller(&context);
            let args = request.arguments.unwrap_or_default();
            let view = self.view(caller.as_deref());
            return match crate::search::answer(
                &self.api,
                &self.upstream,
                &self.access,
                caller.as_deref(),
                view,
                &request.name,
                args,
            )
            .await
            {
                Some(outcome) => Ok(outcome.into_result().into()),
                None => Err(ErrorData::invalid_params(
                    format!("unknown tool `{}`", request.name),
                    None,
                )),
            };
        }
        let in_set = |i: &usize| self.set.as_ref().is_none_or(|s| s.binary_search(i).is_ok());
        let Some(entry) = self
            .api
            .by_name
            .get(&*request.name)
            .filter(|i| in_set(i))
            .map(|i| &self.api.tools[*i])
        else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        };
        let caller = caller(&context);
        let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
        Ok(call(
            &self.api,
            &self.upstream,
            &self.access,
            caller.as_deref(),
            entry,
            args,
        )
        .await
        .into_result()
        .into())
    }

    // Prompts and resources: declared, and there are none (see `empty`).
    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        Err(empty::unknown_prompt(&request.name))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        Err(empty::unknown_resource(&request.uri))
    }
}

/// One tool call after the protocol layer: scope check, argument validation, downstream
/// identity, upstream request. Shared by rmcp's path and the fast path.
pub(crate) async fn call(
    api: &ApiCatalog,
    upstream: &Upstream,
    access: &Access,
    caller: Option<&Caller>,
    entry: &crate::catalog::ToolEntry,
    args: serde_json::Value,
) -> Outcome {
    // The HTTP layer already answered 403 for a missing scope; this is the second line.
    if access.protection.is_some() && !caller.is_some_and(|c| c.may_use(&entry.mapped.scopes)) {
        return Outcome::Failed(format!(
            "insufficient scope for tool `{}`",
            entry.mapped.name
        ));
    }
    let validator = match api.input_validator(entry) {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(format!("this tool cannot be called: its input {e}")),
    };
    if let Some(msg) = validation_errors(&validator, &args) {
        return Outcome::Failed(msg);
    }
    tracing::debug!(api = %api.name, tool = %entry.mapped.name, sub = caller.map_or("-", Caller::subject), "tool call");
    let extra = match access.downstream.headers(caller).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(api = %api.name, tool = %entry.mapped.name, error = %e, "no downstream identity");
            return Outcome::Failed(e.to_string());
        }
    };
    let args = args.as_object().expect("arguments are an object");
    upstream.call_tool(api, entry, args, &extra).await
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
