//! Reading a config file and its static checks (names, selectors, issuers, base URLs, secrets)
//! before anything is built from it.

use super::*;

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
        for p in [
            cfg.upstream.ca_file.as_mut(),
            cfg.store.data_dir.as_mut(),
            cfg.admin.as_mut().and_then(|a| a.token_file.as_mut()),
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
        for p in cfg.admin.iter_mut().flat_map(|a| a.secret_dirs.iter_mut()) {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Static checks that need no spec.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.apis.is_empty()
            && self.admin.is_none()
            && self.store.data_dir.is_none()
            && self.store.postgres.is_none()
        {
            return Err(ConfigError::Invalid(
                "no `apis` to serve (list them, or enable the admin API to upload them)".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for api in &self.apis {
            if !plain_name(&api.name) {
                return Err(ConfigError::Invalid(format!(
                    "api name `{}` must be non-empty, use only A-Z a-z 0-9 - _ . and not start with a dot (it becomes /mcp/{{name}})",
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
            for set in api.toolsets.sets.keys() {
                if !plain_name(set) {
                    return Err(ConfigError::Invalid(format!(
                        "api `{}`: toolset name `{set}` must use only A-Z a-z 0-9 - _ . (it becomes /mcp/{}/{set})",
                        api.name, api.name
                    )));
                }
            }
            for s in api
                .include
                .iter()
                .chain(&api.exclude)
                .chain(api.toolsets.sets.values().flatten())
            {
                s.compile().map_err(|m| {
                    ConfigError::Invalid(format!("api `{}`: selector: {m}", api.name))
                })?;
            }
        }
        if let Some(u) = &self.server.public_url {
            let url = check_base_url(u)
                .map_err(|m| ConfigError::Invalid(format!("server.public_url: {m}")))?;
            if url.path() != "/" {
                // RFC 9728 puts the metadata at the host's root: serve the gateway at the root
                // of its public host.
                return Err(ConfigError::Invalid(format!(
                    "server.public_url `{u}` must not have a path (the gateway is served at the root of its public host)"
                )));
            }
        }
        for api in &self.apis {
            for i in &api.auth.issuers {
                if !self.auth.issuers.iter().any(|c| &c.issuer == i) {
                    return Err(ConfigError::Invalid(format!(
                        "api `{}`: auth.issuers names `{i}`, which is not in the top-level auth.issuers",
                        api.name
                    )));
                }
            }
        }
        if self.server.page_size == 0 {
            return Err(ConfigError::Invalid(
                "server.page_size must be at least 1".into(),
            ));
        }
        for (name, v) in [
            ("header_read_timeout_ms", self.server.header_read_timeout_ms),
            ("idle_timeout_ms", self.server.idle_timeout_ms),
            ("body_read_timeout_ms", self.server.body_read_timeout_ms),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!(
                    "server.{name} must be at least 1"
                )));
            }
        }
        // Deadlines are instants: a day is far past any use, and far from overflowing.
        for (name, v) in [
            ("header_read_timeout_ms", self.server.header_read_timeout_ms),
            ("idle_timeout_ms", self.server.idle_timeout_ms),
            ("body_read_timeout_ms", self.server.body_read_timeout_ms),
            ("linger_ms", self.server.linger_ms),
            ("shutdown_grace_ms", self.server.shutdown_grace_ms),
        ] {
            if v > MAX_DEADLINE_MS {
                return Err(ConfigError::Invalid(format!(
                    "server.{name} must be at most {MAX_DEADLINE_MS} (a day)"
                )));
            }
        }
        if let Some(o) = self.server.allowed_origins.iter().find(|o| {
            o.trim().eq_ignore_ascii_case("null")
                || url::Url::parse(o.trim_end_matches(":*")).is_err()
        }) {
            return Err(ConfigError::Invalid(format!(
                "server.allowed_origins: `{o}` is not an origin (scheme://host[:port] or scheme://host:*; `null` is sent by any sandboxed page and cannot be allowed)"
            )));
        }
        if self.server.max_connections == Some(0) {
            return Err(ConfigError::Invalid(
                "server.max_connections must be at least 1".into(),
            ));
        }
        let policy = crate::upstream::policy::HostPolicy::new(&self.upstream);
        for api in &self.apis {
            if let Some(u) = &api.base_url
                && let Ok(url) = check_base_url(u)
            {
                policy.check_url(&url).map_err(|e| {
                    ConfigError::Invalid(format!("api `{}`: base_url: {e}", api.name))
                })?;
            }
        }
        if self.server.threads == Some(0) {
            return Err(ConfigError::Invalid(
                "server.threads must be at least 1 (leave it out for one per CPU)".into(),
            ));
        }
        Ok(())
    }
}

/// The longest a `server.*_ms` deadline may be: a day.
const MAX_DEADLINE_MS: u64 = 86_400_000;

/// A name that becomes a URL path segment and a file name: non-empty, only `A-Z a-z 0-9 - _ .`,
/// not starting with a dot (so never `.`, `..` or a separator).
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
