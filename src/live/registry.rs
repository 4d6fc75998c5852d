//! What requests see: every served API as its own immutable entry (catalog, protection,
//! downstream identity, rmcp services), in a map that one `ArcSwap` holds. Replacing one API
//! builds that entry alone and swaps in a map that shares every other entry; a request loads
//! the map once and finishes on the entry it began with.
//!
//! The parts every API shares and that outlive any one mapping (the token verifier and its
//! caches, the upstream client and its connections, the server settings) are [`Shared`]. A
//! downstream identity (and its token-exchange cache) is kept across a rebuild of its API when
//! its settings did not change.

use std::path::PathBuf;
use std::sync::Arc;

use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::auth::{Access, Protection, Verifier};
use crate::catalog::{ApiCatalog, BuildError};
use crate::config::{ApiConfig, Config};
use crate::downstream::Downstream;
use crate::ingest::ApiSpec;
use crate::mcp::McpApi;
use crate::server::hosts::AllowedHosts;
use crate::upstream::Upstream;

type McpService = StreamableHttpService<McpApi, NeverSessionManager>;

/// Settings and clients every API shares; replaced only when the config's global sections
/// change (then every API is rebuilt).
pub struct Shared {
    /// The config the shared parts come from (its `apis` give the config APIs' order).
    pub cfg: Config,
    /// `{public_url}/mcp/{name}` is each endpoint's URL and OAuth resource.
    pub public_url: String,
    /// The address the listener is bound to (`host:port`, loopback for an unspecified bind).
    pub bound: String,
    pub verifier: Arc<Verifier>,
    pub upstream: Upstream,
    pub cancel: CancellationToken,
    /// `cfg.server.allowed_hosts`, read once (the fast path and the admin API check it).
    pub hosts: AllowedHosts,
}

impl Shared {
    /// The shared parts for `cfg`, served at `bound`.
    pub fn new(mut cfg: Config, bound: String, cancel: CancellationToken) -> Result<Self, String> {
        // The public URL's host is where clients reach us: accept it as a Host value.
        if let Some(host) = cfg
            .server
            .public_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(String::from))
            && !cfg.server.allowed_hosts.contains(&host)
        {
            cfg.server.allowed_hosts.push(host);
        }
        let public_url = cfg
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"));
        let verifier = Arc::new(Verifier::new(&cfg.auth).map_err(|e| e.to_string())?);
        let upstream = Upstream::new(&cfg.upstream)?;
        let hosts = AllowedHosts::new(&cfg.server.allowed_hosts);
        Ok(Shared {
            hosts,
            cfg,
            public_url,
            bound,
            verifier,
            upstream,
            cancel,
        })
    }

    /// New shared parts for a changed config (new verifier and upstream client).
    pub fn rebuild(old: &Shared, cfg: Config) -> Result<Self, String> {
        let s = Shared::new(cfg, old.bound.clone(), old.cancel.clone())?;
        tokio::spawn(s.verifier.clone().prefetch());
        Ok(s)
    }

    /// The same parts with an updated list of config APIs.
    pub fn with_config(&self, mut cfg: Config) -> Self {
        cfg.server = self.cfg.server.clone();
        Shared {
            cfg,
            public_url: self.public_url.clone(),
            bound: self.bound.clone(),
            verifier: self.verifier.clone(),
            upstream: self.upstream.clone(),
            cancel: self.cancel.clone(),
            hosts: self.hosts.clone(),
        }
    }
}

/// Where an API's definition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The config file (read-only through the admin API).
    Config,
    /// The store (admin API, console).
    Store,
}

/// One served API.
pub struct ApiEntry {
    pub name: String,
    pub source: Source,
    /// The stored version (store APIs).
    pub version: Option<u64>,
    /// Its effective config entry (store APIs: `spec` is a label).
    pub config: ApiConfig,
    /// Of the config entry and the spec's bytes: what decides whether a reload rebuilds it.
    pub fingerprint: u64,
    pub catalog: Arc<ApiCatalog>,
    pub access: Arc<Access>,
    pub services: Services,
    /// Toolsets, `/mcp/{name}/{set}`, by set name.
    pub sets: std::collections::BTreeMap<String, SetEntry>,
}

/// One toolset endpoint: its tools, its own protection (its own resource URL, which also
/// accepts the API's tokens), its rmcp services.
pub struct SetEntry {
    pub tools: Arc<Vec<usize>>,
    pub access: Arc<Access>,
    pub services: Services,
}

/// JSON answers for clients that accept them; SSE for the ones that accept only SSE.
#[derive(Clone)]
pub struct Services {
    pub json: McpService,
    pub sse: McpService,
}

/// Every served API.
pub struct Registry {
    pub shared: Arc<Shared>,
    pub apis: foldhash::HashMap<String, Arc<ApiEntry>>,
}

impl Registry {
    pub fn empty(shared: Arc<Shared>) -> Self {
        Registry {
            shared,
            apis: Default::default(),
        }
    }

    /// The names, config APIs first (in config order), then store APIs by name.
    pub fn order(&self) -> Vec<String> {
        let mut config: Vec<(usize, &str)> = self
            .apis
            .values()
            .filter(|e| e.source == Source::Config)
            .map(|e| {
                let i = self
                    .shared
                    .cfg
                    .apis
                    .iter()
                    .position(|a| a.name == e.name)
                    .unwrap_or(usize::MAX);
                (i, e.name.as_str())
            })
            .collect();
        config.sort();
        let mut store: Vec<&str> = self
            .apis
            .values()
            .filter(|e| e.source == Source::Store)
            .map(|e| e.name.as_str())
            .collect();
        store.sort();
        config
            .into_iter()
            .map(|(_, n)| n)
            .chain(store)
            .map(String::from)
            .collect()
    }

    /// This registry with `entry` in place of (or beside) the API of its name.
    pub fn with(&self, entry: Arc<ApiEntry>) -> Registry {
        let mut apis = self.apis.clone();
        apis.insert(entry.name.clone(), entry);
        Registry {
            shared: self.shared.clone(),
            apis,
        }
    }

    /// This registry (no APIs) on other shared parts.
    pub fn with_shared(&self, shared: Arc<Shared>) -> Registry {
        Registry::empty(shared)
    }

    /// This registry without the API `name`.
    pub fn without(&self, name: &str) -> Registry {
        let mut apis = self.apis.clone();
        apis.remove(name);
        Registry {
            shared: self.shared.clone(),
            apis,
        }
    }

    /// The protection of an API (or of a toolset, `name/set`), when it is protected.
    pub fn protection(&self, name: &str) -> Option<&Protection> {
        match name.split_once('/') {
            None => self
                .apis
                .get(name)
                .and_then(|e| e.access.protection.as_ref()),
            Some((api, set)) => self
                .apis
                .get(api)
                .and_then(|e| e.sets.get(set))
                .and_then(|s| s.access.protection.as_ref()),
        }
    }

    pub fn mcp_url(&self, name: &str) -> String {
        format!(
            "{}/mcp/{name}",
            self.shared.public_url.trim_end_matches('/')
        )
    }
}

/// What to build an entry from.
pub struct Build {
    pub config: ApiConfig,
    pub spec: ApiSpec,
    pub source: Source,
    pub version: Option<u64>,
    pub fingerprint: u64,
    /// Read its backend credential's secrets again (SIGHUP: a rotated secret file or value).
    pub reread_secrets: bool,
}

/// Build one API's entry (CPU work: run it off the serving threads). `previous`: the entry it
/// replaces, whose tool names stay stable and whose downstream identity (with its caches) is
/// kept when its settings are the same.
pub fn build_entry(
    shared: &Arc<Shared>,
    b: Build,
    previous: Option<&ApiEntry>,
    changes: tokio::sync::watch::Receiver<u64>,
) -> Result<ApiEntry, BuildError> {
    if b.source == Source::Store {
        // Before any secret is read: a refused one is never touched.
        let admin = shared.cfg.admin.clone().unwrap_or_default();
        super::secrets::check(&b.config, &admin)
            .map_err(|m| BuildError::Config(crate::config::ConfigError::Invalid(m)))?;
    }
    let names = previous.map(|p| p.catalog.tool_names_by_operation());
    let catalog = Arc::new(ApiCatalog::build_stable(
        &b.config,
        b.spec,
        &shared.cfg.server,
        names.as_ref(),
    )?);
    shared
        .upstream
        .policy()
        .check_url(&catalog.base_url)
        .map_err(|source| BuildError::Policy {
            api: b.config.name.clone(),
            source,
        })?;
    let auth = &shared.cfg.auth;
    let protection = Protection::build(
        &b.config,
        &catalog,
        auth,
        &shared.public_url,
        &shared.verifier,
    )?;
    let downstream = match previous {
        // Kept (with its token caches) only when nothing it was made from changed: its
        // settings, the global `auth` (the issuers it exchanges tokens at), and, on SIGHUP, the
        // contents of its secrets (read again then).
        Some(p)
            if p.config.downstream == b.config.downstream
                && p.config.auth == b.config.auth
                && p.access.protection.is_some() == protection.is_some()
                && p.access.downstream.built_under(&shared.cfg.auth)
                && !b.reread_secrets =>
        {
            p.access.downstream.clone()
        }
        _ => Arc::new(Downstream::build(
            &b.config,
            auth,
            protection.is_some(),
            &shared.verifier,
        )?),
    };
    let limits = match previous {
        Some(p)
            if p.config.limits == b.config.limits
                && p.access
                    .limits
                    .made_for(&b.config.limits, shared.cfg.server.max_concurrent_calls) =>
        {
            p.access.limits.clone()
        }
        _ => Arc::new(crate::limits::Limits::new(
            &b.config.limits,
            shared.cfg.server.max_concurrent_calls,
        )),
    };
    let access = Arc::new(Access {
        protection,
        downstream: downstream.clone(),
        limits: limits.clone(),
    });
    let services = Services {
        json: mcp_service(shared, &catalog, &access, &changes, None, true),
        sse: mcp_service(shared, &catalog, &access, &changes, None, false),
    };
    let mut sets = std::collections::BTreeMap::new();
    for (set, tools) in toolsets(&b.config, &catalog)? {
        // Its own resource (`{public_url}/mcp/{name}/{set}`); tokens for the API work too.
        let api_resource = format!(
            "{}/mcp/{}",
            shared.public_url.trim_end_matches('/'),
            b.config.name
        );
        let mut cfg = b.config.clone();
        cfg.name = format!("{}/{set}", b.config.name);
        if cfg.auth.audiences.is_empty() {
            cfg.auth.audiences = vec![
                format!(
                    "{}/mcp/{}",
                    shared.public_url.trim_end_matches('/'),
                    cfg.name
                ),
                api_resource,
            ];
        }
        let protection =
            Protection::build(&cfg, &catalog, auth, &shared.public_url, &shared.verifier)?;
        let access = Arc::new(Access {
            protection,
            downstream: downstream.clone(),
            limits: limits.clone(),
        });
        let tools = Arc::new(tools);
        let services = Services {
            json: mcp_service(shared, &catalog, &access, &changes, Some(&tools), true),
            sse: mcp_service(shared, &catalog, &access, &changes, Some(&tools), false),
        };
        sets.insert(
            set,
            SetEntry {
                tools,
                access,
                services,
            },
        );
    }
    Ok(ApiEntry {
        name: b.config.name.clone(),
        source: b.source,
        version: b.version,
        config: b.config,
        fingerprint: b.fingerprint,
        catalog,
        access,
        services,
        sets,
    })
}

/// The toolsets of an API: named sets (rules) and, with `by_tag`, one per tag; each the sorted
/// indices of its tools. A set without tools is left out.
fn toolsets(
    cfg: &ApiConfig,
    catalog: &ApiCatalog,
) -> Result<Vec<(String, Vec<usize>)>, BuildError> {
    let mut out: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    if cfg.toolsets.by_tag {
        for (i, t) in catalog.tools.iter().enumerate() {
            for tag in &t.mapped.op.tags {
                let name = crate::mapping::naming::sanitize(tag);
                if !name.is_empty() {
                    out.entry(name).or_default().push(i);
                }
            }
        }
    }
    for (set, rules) in &cfg.toolsets.sets {
        let rules = rules
            .iter()
            .map(|r| r.compile())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| {
                crate::config::ConfigError::Invalid(format!(
                    "api `{}`: toolset `{set}`: {m}",
                    cfg.name
                ))
            })?;
        let tools: Vec<usize> = catalog
            .tools
            .iter()
            .enumerate()
            .filter(|(_, t)| rules.iter().any(|r| r.matches(&t.mapped.op)))
            .map(|(i, _)| i)
            .collect();
        out.insert(set.clone(), tools);
    }
    Ok(out
        .into_iter()
        .filter(|(_, t)| !t.is_empty())
        .map(|(n, mut t)| {
            t.dedup();
            (n, t)
        })
        .collect())
}

fn mcp_service(
    shared: &Shared,
    api: &Arc<ApiCatalog>,
    access: &Arc<Access>,
    changes: &tokio::sync::watch::Receiver<u64>,
    set: Option<&Arc<Vec<usize>>>,
    json: bool,
) -> McpService {
    let server = &shared.cfg.server;
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(json)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(server.allowed_hosts.clone())
        .with_allowed_origins(crate::server::allowed_origins_for_rmcp(
            &server.allowed_origins,
        ))
        .enforce_origin_validation()
        .with_max_request_body_bytes(server.max_request_bytes)
        .with_cancellation_token(shared.cancel.child_token());
    let handler = McpApi {
        api: api.clone(),
        upstream: shared.upstream.clone(),
        access: access.clone(),
        changes: changes.clone(),
        set: set.cloned(),
    };
    StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// A label for a stored API's spec in its config entry (the document itself is in the store).
pub fn store_label(name: &str) -> PathBuf {
    PathBuf::from(format!("store:{name}"))
}
