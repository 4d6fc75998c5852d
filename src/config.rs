//! Config: the YAML/JSON file (or command-line flags) describing which APIs to serve and how.
//!
//! Only the shape and static checks live here; turning a config into a servable mapping is
//! [`crate::catalog`]'s job.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::mapping::Selector;

mod auth;
mod load;
pub use auth::*;
pub use load::plain_name;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config: {0}")]
    Invalid(String),
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub upstream: UpstreamConfig,
    /// Who may call: trusted token issuers (none: every endpoint is open).
    #[serde(default)]
    pub auth: AuthConfig,
    /// Where uploaded specs and their mappings are kept (the admin API's store).
    #[serde(default)]
    pub store: StoreConfig,
    /// The admin API and console (`/admin`); off unless this section is present (or
    /// `serve --admin`).
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// APIs defined here (read-only through the admin API). May be empty when the store
    /// serves APIs.
    #[serde(default)]
    pub apis: Vec<ApiConfig>,
}

/// Where uploads are kept: the embedded store (a data directory), or PostgreSQL for replicas.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The data directory. Default (when the admin API is on): `$REST2MCP_DATA_DIR`, else
    /// `$XDG_DATA_HOME/rest2mcp`, else `~/.local/share/rest2mcp`.
    pub data_dir: Option<PathBuf>,
    /// Versions kept per API (older ones are removed).
    pub keep_versions: usize,
    /// A PostgreSQL database shared by several replicas instead of the data directory.
    pub postgres: Option<PostgresConfig>,
}

/// The shared store (`src/live/postgres.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/db` or `host=... user=...`, written here or read
    /// from `{env: NAME}` / `{file: PATH}` (never logged).
    pub url: DatabaseUrl,
    /// Seconds between checks of every API against the database (besides its notifications).
    #[serde(default = "default_poll_secs")]
    pub poll_secs: u64,
}

fn default_poll_secs() -> u64 {
    5
}

/// A connection string, or the secret holding one.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum DatabaseUrl {
    Plain(String),
    Secret(Secret),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Plain(_) => write!(f, "DatabaseUrl(..)"),
            DatabaseUrl::Secret(s) => s.fmt(f),
        }
    }
}

impl DatabaseUrl {
    pub fn read(&self) -> Result<String, String> {
        match self {
            DatabaseUrl::Plain(s) => Ok(s.clone()),
            DatabaseUrl::Secret(s) => s.read(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            data_dir: None,
            keep_versions: 10,
            postgres: None,
        }
    }
}

/// The default data directory.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("REST2MCP_DATA_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("rest2mcp");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/rest2mcp")
}

/// The admin API and console.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// A file holding the static admin token (`REST2MCP_ADMIN_TOKEN` wins). Default: the data
    /// directory's `admin-token`, created (mode 0600) when neither exists.
    pub token_file: Option<PathBuf>,
    /// An OAuth issuer whose access tokens (with `scope`, audience `{public_url}/admin`) are
    /// admin credentials too; one of `auth.issuers`.
    pub issuer: Option<String>,
    /// The scope such a token must carry.
    pub scope: String,
    /// The console's OAuth client (authorization code with PKCE) at `issuer`.
    pub client_id: Option<String>,
    /// Answer clients beyond loopback too.
    pub allow_remote: bool,
    /// Largest spec (or other body) an admin request may send, bytes.
    pub max_spec_bytes: usize,
    /// Let the console fetch a spec from a URL (through the upstream host policy).
    pub fetch_urls: bool,
    /// Environment variables a mapping written here may name as a secret: exact names, or a
    /// prefix ending in `*`. Anything else is refused, so an admin cannot read the gateway's
    /// other variables (its admin token, database URL) through a backend credential.
    pub secret_env: Vec<String>,
    /// Directories whose files a mapping written here may name as a secret (none by default).
    pub secret_dirs: Vec<PathBuf>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            token_file: None,
            issuer: None,
            scope: "rest2mcp:admin".into(),
            client_id: None,
            allow_remote: false,
            max_spec_bytes: 64 * 1024 * 1024,
            fetch_urls: false,
            secret_env: vec!["REST2MCP_SECRET_*".into()],
            secret_dirs: vec![],
        }
    }
}

/// HTTP front settings shared by every API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `Host` values accepted (DNS-rebinding protection). Default: loopback names only.
    pub allowed_hosts: Vec<String>,
    /// Browser `Origin`s accepted (requests without `Origin` always pass). Default: loopback.
    pub allowed_origins: Vec<String>,
    /// Largest accepted MCP request body, bytes.
    pub max_request_bytes: usize,
    /// Tools per `tools/list` page.
    pub page_size: usize,
    /// A `tools/list` page ends before the tool that would take it past this many bytes (a
    /// page holds at least one tool): a few APIs have tools of 100 KB each.
    pub page_bytes: usize,
    /// Output schemas larger than this (serialized, with their `$defs`) are not advertised:
    /// they bloat `tools/list` and clients compile them; answers stay available as text.
    pub max_output_schema_bytes: usize,
    /// Public base URL clients use, e.g. `https://mcp.example.com`: each endpoint's OAuth
    /// resource identifier is `{public_url}/mcp/{name}`. Default: `http://{listen address}`.
    pub public_url: Option<String>,
    /// Threads serving connections, each with its own event loop and upstream connections
    /// (as nginx workers). Default: one per CPU this process may use.
    pub threads: Option<usize>,
    /// A request head must arrive whole within this time of its first byte (or of the
    /// connection's accept), milliseconds.
    pub header_read_timeout_ms: u64,
    /// A keep-alive connection without a new request for this long is closed, milliseconds.
    pub idle_timeout_ms: u64,
    /// A request body must arrive whole within this time of its head, milliseconds.
    pub body_read_timeout_ms: u64,
    /// Open client connections at most; more are closed at once (shed). Default: half the
    /// process's file descriptor limit, less a reserve (so `accept` never runs out).
    pub max_connections: Option<usize>,
    /// Bytes of request bodies held at once, process-wide, for requests no token vouched for
    /// (open endpoints); past it such requests get `503` at once.
    pub max_unauthenticated_bytes: usize,
    /// After an early answer to a request whose body was left unread (401, 408, 413), the
    /// gateway reads and drops what the client still sends for at most this long, so clients
    /// that send their whole body first still read the answer, milliseconds.
    pub linger_ms: u64,
    /// ...and at most this many bytes.
    pub linger_bytes: u64,
    /// After SIGTERM, connections get this long to finish what they are serving, milliseconds.
    pub shutdown_grace_ms: u64,
    /// Serve `/metrics` to any client, not only loopback ones (behind a network policy).
    pub metrics_remote: bool,
    /// Tools whose calls get a latency histogram of their own (10 series each), process-wide,
    /// first called first; the calls of later tools are counted under `tool="_other"`.
    pub metrics_tool_series: usize,
    /// `tools/call` in progress at once per API when the API sets no `limits.max_concurrent_calls`;
    /// past it calls are refused at once (never queued).
    pub max_concurrent_calls: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: vec![
                "http://localhost:*".into(),
                "http://127.0.0.1:*".into(),
                "http://[::1]:*".into(),
            ],
            max_request_bytes: 4 * 1024 * 1024,
            page_size: 100,
            page_bytes: 512 * 1024,
            max_output_schema_bytes: 32 * 1024,
            public_url: None,
            threads: None,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            body_read_timeout_ms: 30_000,
            max_connections: None,
            max_unauthenticated_bytes: 256 * 1024 * 1024,
            linger_ms: 30_000,
            linger_bytes: 256 * 1024 * 1024,
            shutdown_grace_ms: 30_000,
            metrics_remote: false,
            metrics_tool_series: 1000,
            max_concurrent_calls: 1024,
        }
    }
}

/// How upstream calls are made.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    pub connect_timeout_ms: u64,
    /// Whole-call timeout, connect to last byte.
    pub timeout_ms: u64,
    /// Larger upstream answers are cut off and reported as an error.
    pub max_response_bytes: usize,
    /// Backends allowed by name (host names or addresses) although the host policy would
    /// refuse them (link-local, metadata services, private ranges with `deny_private`).
    pub allow_hosts: Vec<String>,
    /// Refuse backends in loopback, private, shared and unique-local ranges too (hosted,
    /// multi-tenant setups).
    pub deny_private: bool,
    /// Extra root certificates (PEM) trusted for `https://` backends, beside the system's.
    pub ca_file: Option<PathBuf>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 5_000,
            timeout_ms: 30_000,
            max_response_bytes: 4 * 1024 * 1024,
            allow_hosts: Vec::new(),
            deny_private: false,
            ca_file: None,
        }
    }
}

/// One exposed API: a spec, a backend and the selection of operations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Served at `/mcp/{name}`.
    pub name: String,
    /// Path of the OpenAPI document (relative paths are relative to the config file).
    pub spec: PathBuf,
    /// Backend base URL; defaults to the spec's first absolute server URL.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Operations to expose (any rule matches). Empty: all.
    #[serde(default)]
    pub include: Vec<Selector>,
    /// Operations to leave out (any rule matches), applied after `include`.
    #[serde(default)]
    pub exclude: Vec<Selector>,
    /// Per-tool overrides keyed by operationId (or by the generated tool name).
    #[serde(default)]
    pub tools: BTreeMap<String, ToolOverride>,
    /// Advertise each tool's `outputSchema` (from its JSON 2xx response) and return the answers
    /// that match it as `structuredContent` too. `false` for backends whose answers often stray
    /// from their spec: some clients (the MCP TypeScript SDK) refuse a result that has no
    /// `structuredContent` when the tool declares an output schema.
    #[serde(default = "yes")]
    pub output_schemas: bool,
    /// `tools`: every selected operation is a tool. `search`: three tools (`search_tools`,
    /// `describe_tool`, `call_tool`) over them, for APIs past a client's tool limit.
    #[serde(default)]
    pub mode: Mode,
    /// Parts of this API served at endpoints of their own, `/mcp/{name}/{set}` (each under a
    /// client's tool limit): one per tag, and/or named sets of include rules.
    #[serde(default)]
    pub toolsets: Toolsets,
    /// Protection of this endpoint (when `auth.issuers` is not empty).
    #[serde(default)]
    pub auth: ApiAuthConfig,
    /// What the backend learns about the caller, and the backend's own credentials.
    #[serde(default)]
    pub downstream: DownstreamConfig,
    /// Calls in progress at once, and calls per caller per minute.
    #[serde(default)]
    pub limits: CallLimits,
}

/// Limits on one API's `tools/call`s, answered at once with a tool error (never queued).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CallLimits {
    /// Calls in progress at once (default: `server.max_concurrent_calls`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_calls: Option<usize>,
    /// Calls one caller (token subject; every anonymous caller counts as one) may start per
    /// minute. Default: no rate limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_per_minute: Option<u32>,
    /// Calls a caller may make at once above the steady rate (default: `calls_per_minute`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl CallLimits {
    pub fn is_default(&self) -> bool {
        *self == CallLimits::default()
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ToolOverride {
    /// New tool name (must be a valid tool name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Scopes a caller needs for this tool (replaces the operation's own `security` scopes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Overrides the API's `output_schemas` for this tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<bool>,
}

fn yes() -> bool {
    true
}

/// Toolsets of an API.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Toolsets {
    /// One set per tag, named after it (`/mcp/{name}/{tag}`).
    pub by_tag: bool,
    /// Named sets: the selected tools any of whose rules match.
    pub sets: BTreeMap<String, Vec<Selector>>,
}

impl Toolsets {
    pub fn is_empty(&self) -> bool {
        !self.by_tag && self.sets.is_empty()
    }
}

/// How an API's operations are offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One tool per selected operation.
    #[default]
    Tools,
    /// `search_tools`, `describe_tool` and `call_tool` over the selected operations.
    Search,
}

/// What a config entry that names only `name` and `spec` means (as `serve --spec` builds it).
impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            spec: PathBuf::new(),
            base_url: None,
            include: Vec::new(),
            exclude: Vec::new(),
            tools: BTreeMap::new(),
            output_schemas: true,
            mode: Mode::Tools,
            toolsets: Toolsets::default(),
            auth: ApiAuthConfig::default(),
            downstream: DownstreamConfig::default(),
            limits: CallLimits::default(),
        }
    }
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:8080".parse().expect("valid literal")
}

/// A base URL must be absolute http(s) without query or fragment.
pub fn check_base_url(u: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(u).map_err(|e| format!("`{u}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{u}` must be http:// or https://"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{u}` must not have a query or fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_bad_names_are_rejected() {
        let e = yaml_serde::from_str::<Config>("apis: []\nlisten_typo: 1\n").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let cfg: Config =
            yaml_serde::from_str("apis:\n  - name: 'a b'\n    spec: x.yaml\n").unwrap();
        assert!(cfg.validate().unwrap_err().to_string().contains("a b"));
    }
}
