//! MCP protocol: rmcp's [`ServerHandler`] over one API's catalog snapshot.
//!
//! rmcp does the wire protocol (every revision from 2025-03-26 to 2026-07-28, `initialize` and
//! `server/discover`, header checks, JSON or SSE answers); this handler only lists the
//! prebuilt pages, validates arguments with the prebuilt validators and calls upstream.

mod empty;

use std::sync::Arc;

use tracing::Instrument as _;

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

/// The request's id and trace context the HTTP layer attached (a new id if none).
fn trace(context: &RequestContext<RoleServer>) -> Arc<crate::telemetry::Trace> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<Arc<crate::telemetry::Trace>>())
        .cloned()
        .unwrap_or_else(crate::telemetry::detached)
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
            Some(c) => self
                .api
                .cursor(&c, view)
                .ok_or_else(|| ErrorData::invalid_params("invalid cursor", None))?,
        };
        let started = std::time::Instant::now();
        let (range, next) = self.api.page(page, view);
        let tools: Vec<Tool> = self
            .api
            .tools_in(range, view)
            .map(|t| self.api.rmcp_tool(t))
            .collect();
        let mut result = ListToolsResult::with_all_items(tools);
        result.next_cursor = next.map(|n| n.to_string());
        crate::metrics::get()
            .list_page
            .observe(started.elapsed().as_secs_f64());
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
        self.api.tool(name).map(|t| self.api.rmcp_tool(t))
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
            let trace = trace(&context);
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
                &trace,
            )
            .instrument(trace.span.clone())
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
        let trace = trace(&context);
        let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
        // rmcp serves this in a task of its own: the request's span again, for its log lines.
        let span = trace.span.clone();
        Ok(call(
            &self.api,
            &self.upstream,
            &self.access,
            caller.as_deref(),
            entry,
            args,
            &trace,
        )
        .instrument(span)
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

/// One tool call after the protocol layer: limits, scope check, argument validation,
/// downstream identity, upstream request; then its metrics and its audit line. Shared by
/// rmcp's path, the fast path and search mode's `call_tool`.
pub(crate) async fn call(
    api: &ApiCatalog,
    upstream: &Upstream,
    access: &Access,
    caller: Option<&Caller>,
    entry: &crate::catalog::ToolEntry,
    args: serde_json::Value,
    trace: &crate::telemetry::Trace,
) -> Outcome {
    let started = std::time::Instant::now();
    let m = crate::metrics::get();
    let api_label = || api.name.clone();
    let (outcome, status, bytes, limited) = match access.limits.admit(caller.map(Caller::subject)) {
        Err(refused) => {
            m.limited
                .get_or_create(&crate::metrics::Limited {
                    api: api_label(),
                    limit: refused.label(),
                })
                .inc();
            (Outcome::Failed(refused.to_string()), None, 0, true)
        }
        Ok(_permit) => {
            let mut guard = InFlight {
                gauge: m
                    .in_flight
                    .get_or_create_owned(&crate::metrics::Api { api: api_label() }),
                api,
                tool: &entry.mapped.name,
                caller,
                trace,
                started,
                done: false,
            };
            guard.gauge.inc();
            let span = crate::telemetry::otel::tool_span(&api.name, &entry.mapped.name);
            let (o, s, b) = checked_call(api, upstream, access, caller, entry, args, trace)
                .instrument(span)
                .await;
            guard.done = true;
            (o, s, b, false)
        }
    };
    let took = started.elapsed();
    let result = match &outcome {
        _ if limited => "limited",
        Outcome::Answer { .. } => "ok",
        Outcome::Failed(_) => "tool_error",
    };
    m.tool_results
        .get_or_create(&crate::metrics::ToolResult {
            api: api_label(),
            result,
        })
        .inc();
    m.tool_calls
        .get_or_create(&crate::metrics::Tool {
            api: api_label(),
            tool: if *entry
                .labelled
                .get_or_init(|| crate::metrics::tool_labelled(&api.name, &entry.mapped.name))
            {
                entry.mapped.name.clone()
            } else {
                "_other".into()
            },
        })
        .observe(took.as_secs_f64());
    audit(
        trace,
        api,
        &entry.mapped.name,
        caller,
        (status.unwrap_or(0), result),
        took,
        bytes,
    );
    outcome
}

/// A call in progress: counted in `calls_in_flight` until it ends, also when it ends because
/// its client went away (the future is dropped mid-call); then it is audited and counted as
/// `cancelled`, since its request may have reached the backend.
struct InFlight<'a> {
    gauge: prometheus_client::metrics::gauge::Gauge,
    api: &'a ApiCatalog,
    tool: &'a str,
    caller: Option<&'a Caller>,
    trace: &'a crate::telemetry::Trace,
    started: std::time::Instant,
    done: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.gauge.dec();
        if self.done {
            return;
        }
        crate::metrics::get()
            .tool_results
            .get_or_create(&crate::metrics::ToolResult {
                api: self.api.name.clone(),
                result: "cancelled",
            })
            .inc();
        let took = self.started.elapsed();
        audit(
            self.trace,
            self.api,
            self.tool,
            self.caller,
            (0, "cancelled"),
            took,
            0,
        );
    }
}

/// The audit trail: who called what, and how it went (upstream status, result). Never
/// arguments or tokens.
fn audit(
    trace: &crate::telemetry::Trace,
    api: &ApiCatalog,
    tool: &str,
    caller: Option<&Caller>,
    (status, result): (u16, &str),
    took: std::time::Duration,
    bytes: usize,
) {
    tracing::info!(
        target: "rest2mcp::audit",
        request_id = trace.id(),
        api = %api.name,
        tool = %tool,
        sub = caller.map_or("-", Caller::subject),
        client_id = caller.and_then(Caller::client_id).unwrap_or("-"),
        status,
        result,
        duration_ms = (took.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        bytes,
        "tool call"
    );
}

/// The call once admitted: (outcome, upstream status if one answered, answer bytes).
async fn checked_call(
    api: &ApiCatalog,
    upstream: &Upstream,
    access: &Access,
    caller: Option<&Caller>,
    entry: &crate::catalog::ToolEntry,
    args: serde_json::Value,
    trace: &crate::telemetry::Trace,
) -> (Outcome, Option<u16>, usize) {
    // The HTTP layer already answered 403 for a missing scope; this is the second line.
    if access.protection.is_some() && !caller.is_some_and(|c| c.may_use(&entry.mapped.scopes)) {
        let msg = format!("insufficient scope for tool `{}`", entry.mapped.name);
        return (Outcome::Failed(msg), None, 0);
    }
    let validator = match api.input_validator(entry) {
        Ok(v) => v,
        Err(e) => {
            let msg = format!("this tool cannot be called: its input {e}");
            return (Outcome::Failed(msg), None, 0);
        }
    };
    if let Some(msg) = validation_errors(&validator, &args) {
        return (Outcome::Failed(msg), None, 0);
    }
    let mut extra = match access.downstream.headers(caller).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(request_id = trace.id(), api = %api.name, tool = %entry.mapped.name, error = %e, "no downstream identity");
            return (Outcome::Failed(e.to_string()), None, 0);
        }
    };
    trace.apply(&mut extra);
    let op = &entry.mapped.op;
    let span = crate::telemetry::otel::upstream_span(&op.method, &op.path, &mut extra);
    let args = args.as_object().expect("arguments are an object");
    let called = upstream
        .call_tool(api, entry, args, &extra)
        .instrument(span.clone())
        .await;
    let failed = matches!(called.outcome, Outcome::Failed(_));
    crate::telemetry::otel::finish(&tracing::Span::current(), &span, called.status, failed);
    (called.outcome, called.status, called.bytes)
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
