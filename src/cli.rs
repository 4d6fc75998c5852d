//! Command line: `serve` and `inspect`, and turning flags into a [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::config::{ApiConfig, Config, ConfigError, IssuerConfig, ServerConfig, UpstreamConfig};

#[derive(Debug, Parser)]
#[command(
    name = "rest2mcp",
    version,
    about = "Serve REST APIs described by OpenAPI as MCP servers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as human text (the default) or one JSON object per line.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        env = "REST2MCP_LOG_FORMAT"
    )]
    pub log_format: crate::telemetry::LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve one spec (--spec) or every API of a config file (--config) over MCP.
    Serve(ServeArgs),
    /// Show what each operation of a spec becomes, without serving.
    Inspect(InspectArgs),
    /// DEVELOPMENT ONLY: print a short-lived access token signed by the local development key,
    /// accepted by endpoints whose config trusts `issuer: dev`.
    DevToken(DevTokenArgs),
}

#[derive(Debug, Args)]
pub struct DevTokenArgs {
    /// Config whose endpoints the token is for (its resource URLs become the audience and its
    /// scopes the default scope).
    #[arg(long, default_value = "config/rest2mcp-dev-auth.yaml")]
    pub config: PathBuf,
    /// Audience (repeatable); replaces the config's resource URLs.
    #[arg(long = "audience")]
    pub audiences: Vec<String>,
    /// Scope to grant (repeatable); default: every scope the config's endpoints know.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Subject (`sub`).
    #[arg(long, default_value = "dev-user")]
    pub sub: String,
    /// Extra claim `name=value` (repeatable), e.g. --claim email=dev@example.com.
    #[arg(long = "claim")]
    pub claims: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl: u64,
    /// Signing key file (default: the dev issuer's `dev_key`, `$REST2MCP_DEV_KEY`, or
    /// ~/.config/rest2mcp/dev-signing-key.p8; created when missing).
    #[arg(long)]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Config file listing the APIs to serve.
    #[arg(long, conflicts_with_all = ["spec", "base_url", "name"])]
    pub config: Option<PathBuf>,
    /// One OpenAPI document to serve (JSON or YAML).
    #[arg(long)]
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
    /// Public base URL clients use (the OAuth resource is `{public-url}/mcp/{name}`).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Trust this token issuer (its URL, or `dev`); repeatable. Protects every endpoint.
    #[arg(long = "issuer")]
    pub issuers: Vec<String>,
    /// JWKS URL or file for the (single) --issuer (default: discovered from the issuer).
    #[arg(long, requires = "issuers")]
    pub jwks: Option<String>,
    /// Scope every request needs (repeatable).
    #[arg(long = "scope", requires = "issuers")]
    pub scopes: Vec<String>,
    /// Serve the admin API and console at /admin (loopback only unless configured).
    #[arg(long)]
    pub admin: bool,
    /// The data directory where uploaded APIs are stored (default: see the README).
    #[arg(long, env = "REST2MCP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
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
    /// `serve` with neither a config nor a spec: the first run (console, example API).
    pub fn first_run(&self) -> bool {
        self.config.is_none() && self.spec.is_none()
    }

    /// The effective config: the file, or one API made from the flags.
    pub fn to_config(&self) -> Result<Config, ConfigError> {
        let mut cfg = match &self.config {
            Some(path) => Config::load(path)?,
            None => {
                let apis = match &self.spec {
                    Some(spec) => vec![ApiConfig {
                        name: self.name.clone().unwrap_or_else(|| stem(spec)),
                        spec: spec.clone(),
                        base_url: self.base_url.clone(),
                        ..Default::default()
                    }],
                    None => vec![],
                };
                Config {
                    listen: "127.0.0.1:8080".parse().expect("valid literal"),
                    server: ServerConfig::default(),
                    upstream: UpstreamConfig::default(),
                    apis,
                    auth: Default::default(),
                    store: Default::default(),
                    admin: None,
                }
            }
        };
        // No config and no spec: the first run, with the console to upload APIs.
        let first_run = self.first_run();
        if (self.admin || first_run) && cfg.admin.is_none() {
            cfg.admin = Some(Default::default());
        }
        if let Some(d) = &self.data_dir {
            cfg.store.data_dir = Some(d.clone());
        }
        if let Some(l) = self.listen {
            cfg.listen = l;
        }
        cfg.server
            .allowed_hosts
            .extend(self.allowed_hosts.iter().cloned());
        if let Some(u) = &self.public_url {
            cfg.server.public_url = Some(u.clone());
        }
        if self.jwks.is_some() && self.issuers.len() != 1 {
            return Err(ConfigError::Invalid(
                "--jwks applies to exactly one --issuer".into(),
            ));
        }
        for i in &self.issuers {
            cfg.auth.issuers.retain(|c| &c.issuer != i);
            cfg.auth
                .issuers
                .push(IssuerConfig::new(i, self.jwks.clone()));
        }
        if !self.scopes.is_empty() {
            for api in &mut cfg.apis {
                api.auth.scopes = self.scopes.clone();
            }
        }
        cfg.validate()?;
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
            ..Default::default()
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

impl DevTokenArgs {
    /// Mint the token: audience and scopes from the config unless given.
    pub fn run(&self) -> anyhow::Result<String> {
        let needs_config = self.audiences.is_empty() || self.scopes.is_empty();
        let cfg = if needs_config || self.key.is_none() {
            match Config::load(&self.config) {
                Ok(c) => Some(c),
                Err(e) if needs_config => {
                    anyhow::bail!("{e} (or give --audience and --scope)")
                }
                Err(_) => None,
            }
        } else {
            None
        };
        let dev_key = cfg.as_ref().and_then(|c| {
            c.auth
                .issuers
                .iter()
                .find(|i| i.issuer == crate::config::DEV_ISSUER)
                .and_then(|i| i.dev_key.clone())
        });
        let path = crate::auth::dev::key_path(self.key.as_deref().or(dev_key.as_deref()));
        let key = crate::auth::dev::DevKey::load_or_create(&path).map_err(anyhow::Error::msg)?;
        let mut audiences = self.audiences.clone();
        let mut scopes = self.scopes.clone();
        if let Some(cfg) = &cfg {
            if !cfg
                .auth
                .issuers
                .iter()
                .any(|i| i.issuer == crate::config::DEV_ISSUER)
            {
                eprintln!(
                    "warning: {} does not trust `issuer: dev`; its endpoints will refuse this token",
                    self.config.display()
                );
            }
            let public = cfg
                .server
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", cfg.listen));
            let protected: Vec<&ApiConfig> = cfg.apis.iter().filter(|a| a.auth.enabled).collect();
            if audiences.is_empty() {
                audiences = protected
                    .iter()
                    .flat_map(|a| {
                        if a.auth.audiences.is_empty() {
                            vec![format!("{}/mcp/{}", public.trim_end_matches('/'), a.name)]
                        } else {
                            a.auth.audiences.clone()
                        }
                    })
                    .collect();
            }
            if self.scopes.is_empty() {
                let gateway = crate::catalog::Gateway::build(cfg)?;
                let mut all = std::collections::BTreeSet::new();
                for a in &protected {
                    all.extend(a.auth.scopes.iter().cloned());
                    if let Some(cat) = gateway.apis.get(&a.name) {
                        for t in &cat.tools {
                            all.extend(t.mapped.scopes.iter().flatten().cloned());
                        }
                    }
                }
                scopes = all.into_iter().collect();
            }
        }
        if audiences.is_empty() {
            anyhow::bail!("no audience: give --audience or a --config with protected endpoints");
        }
        let mut extra = serde_json::Map::new();
        for c in &self.claims {
            let (k, v) = c
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--claim `{c}` is not name=value"))?;
            let v = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::from(v));
            extra.insert(k.to_string(), v);
        }
        eprintln!(
            "DEVELOPMENT token (key {}): sub={} aud={} scope=\"{}\" valid {} s",
            path.display(),
            self.sub,
            audiences.join(","),
            scopes.join(" "),
            self.ttl
        );
        key.mint(&self.sub, &audiences, &scopes, self.ttl, extra)
            .map_err(anyhow::Error::msg)
    }
}
