//! Command line: `serve` and `inspect`, and turning flags into a [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::{ApiConfig, Config, ConfigError, ServerConfig, UpstreamConfig};

#[derive(Debug, Parser)]
#[command(
    name = "rest2mcp",
    version,
    about = "Serve REST APIs described by OpenAPI as MCP servers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve one spec (--spec) or every API of a config file (--config) over MCP.
    Serve(ServeArgs),
    /// Show what each operation of a spec becomes, without serving.
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Config file listing the APIs to serve.
    #[arg(long, conflicts_with_all = ["spec", "base_url", "name"])]
    pub config: Option<PathBuf>,
    /// One OpenAPI document to serve (JSON or YAML).
    #[arg(long, required_unless_present = "config")]
    pub spec: Option<PathBuf>,
    /// Backend base URL (default: the spec's own server URL).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Name of the endpoint, `/mcp/{name}` (default: the spec file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// Address to listen on (overrides the config's `listen`).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Extra accepted `Host` value (repeatable), e.g. mcp.example.com.
    #[arg(long = "allowed-host")]
    pub allowed_hosts: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The OpenAPI document.
    pub spec: PathBuf,
    /// Apply this config's selection rules and overrides (the API whose spec is this file).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl ServeArgs {
    /// The effective config: the file, or one API made from the flags.
    pub fn to_config(&self) -> Result<Config, ConfigError> {
        let mut cfg = match &self.config {
            Some(path) => Config::load(path)?,
            None => {
                let spec = self
                    .spec
                    .clone()
                    .expect("clap requires --spec without --config");
                let cfg = Config {
                    listen: "127.0.0.1:8080".parse().expect("valid literal"),
                    server: ServerConfig::default(),
                    upstream: UpstreamConfig::default(),
                    apis: vec![ApiConfig {
                        name: self.name.clone().unwrap_or_else(|| stem(&spec)),
                        spec,
                        base_url: self.base_url.clone(),
                        include: vec![],
                        exclude: vec![],
                        tools: Default::default(),
                    }],
                };
                cfg.validate()?;
                cfg
            }
        };
        if let Some(l) = self.listen {
            cfg.listen = l;
        }
        cfg.server
            .allowed_hosts
            .extend(self.allowed_hosts.iter().cloned());
        Ok(cfg)
    }
}

/// `specs/pet-store.v2.yaml` -> `pet-store_v2`: a usable endpoint name.
pub fn stem(path: &Path) -> String {
    let s = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "api".into());
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "api".into() } else { s }
}

impl InspectArgs {
    /// The API config to apply: the config's entry for this spec, or a default one.
    pub fn api_config(&self) -> Result<ApiConfig, ConfigError> {
        let default = ApiConfig {
            name: stem(&self.spec),
            spec: self.spec.clone(),
            base_url: None,
            include: vec![],
            exclude: vec![],
            tools: Default::default(),
        };
        let Some(path) = &self.config else {
            return Ok(default);
        };
        let cfg = Config::load(path)?;
        let want = std::fs::canonicalize(&self.spec).ok();
        let found = cfg
            .apis
            .into_iter()
            .find(|a| std::fs::canonicalize(&a.spec).ok() == want && want.is_some());
        found.ok_or_else(|| {
            ConfigError::Invalid(format!(
                "{} has no API whose spec is {}",
                path.display(),
                self.spec.display()
            ))
        })
    }
}
