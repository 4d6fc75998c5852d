//! Config: the YAML/JSON file (or command-line flags) describing which APIs to serve and how.
//!
//! Only the shape and static checks live here; turning a config into a servable mapping is
//! [`crate::catalog`]'s job.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::mapping::Selector;

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
    pub apis: Vec<ApiConfig>,
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
    /// Output schemas larger than this (serialized, with their `$defs`) are not advertised:
    /// they bloat `tools/list` and clients compile them; answers stay available as text.
    pub max_output_schema_bytes: usize,
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
            max_output_schema_bytes: 32 * 1024,
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
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 5_000,
            timeout_ms: 30_000,
            max_response_bytes: 4 * 1024 * 1024,
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
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolOverride {
    /// New tool name (must be a valid tool name).
    pub name: Option<String>,
    pub description: Option<String>,
    pub title: Option<String>,
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:8080".parse().expect("valid literal")
}

impl Config {
    /// Read a config file; relative spec paths are made relative to the file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut cfg: Config = yaml_serde::from_slice(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for api in &mut cfg.apis {
            if api.spec.is_relative() {
                let beside = dir.join(&api.spec);
                // Accept paths relative to the config file, or to the working directory.
                if beside.exists() || !api.spec.exists() {
                    api.spec = beside;
                }
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Static checks that need no spec.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.apis.is_empty() {
            return Err(ConfigError::Invalid("no `apis` to serve".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for api in &self.apis {
            if api.name.is_empty()
                || !api
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                return Err(ConfigError::Invalid(format!(
                    "api name `{}` must be non-empty and use only A-Z a-z 0-9 - _ . (it becomes /mcp/{{name}})",
                    api.name
                )));
            }
            if !seen.insert(api.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "api name `{}` is used twice",
                    api.name
                )));
            }
            if let Some(u) = &api.base_url {
                check_base_url(u).map_err(|m| {
                    ConfigError::Invalid(format!("api `{}`: base_url: {m}", api.name))
                })?;
            }
            for s in api.include.iter().chain(&api.exclude) {
                s.compile().map_err(|m| {
                    ConfigError::Invalid(format!("api `{}`: selector: {m}", api.name))
                })?;
            }
        }
        if self.server.page_size == 0 {
            return Err(ConfigError::Invalid(
                "server.page_size must be at least 1".into(),
            ));
        }
        Ok(())
    }
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
