//! Who may call, and as whom the backend is called: token issuers (JWT, introspection), each
//! endpoint's protection, the downstream identity and credentials, and secrets read from the
//! environment or a file.

use super::*;

/// Token issuers the gateway trusts, shared by every API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub issuers: Vec<IssuerConfig>,
    /// Clock skew allowed on `exp` / `nbf`, seconds.
    pub leeway_secs: u64,
    /// Least time between two JWKS fetches triggered by an unknown `kid`, seconds.
    pub jwks_min_refresh_secs: u64,
    /// A validated token is remembered this long at most (and never past its `exp`), seconds.
    pub token_cache_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuers: vec![],
            leeway_secs: 30,
            jwks_min_refresh_secs: 10,
            token_cache_secs: 300,
        }
    }
}

/// The development issuer's name in config: tokens minted by `rest2mcp dev-token`.
pub const DEV_ISSUER: &str = "dev";

/// One trusted authorization server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The exact `iss` of its tokens (also where its metadata is discovered, RFC 8414 /
    /// OpenID Connect). `dev`: the local development key of `rest2mcp dev-token`.
    pub issuer: String,
    /// JWKS URL or file; default: `jwks_uri` from the issuer's metadata.
    #[serde(default)]
    pub jwks: Option<String>,
    /// Accepted signature algorithms (asymmetric only).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Opaque (non-JWT) tokens are checked at this RFC 7662 endpoint.
    #[serde(default)]
    pub introspection: Option<IntrospectionConfig>,
    /// Token endpoint (for `token_exchange`); default: from the issuer's metadata.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// Refuse JWTs whose `typ` is not `at+jwt` (RFC 9068). Off by default: Entra ID, Okta and
    /// Keycloak issue access tokens typed `JWT`.
    #[serde(default)]
    pub require_at_jwt: bool,
    /// Custom claims that header templates may use, besides the registered/OpenID ones.
    #[serde(default)]
    pub claims: Vec<String>,
    /// Development issuer only: the key file (default `$REST2MCP_DEV_KEY` or
    /// `~/.config/rest2mcp/dev-signing-key.p8`).
    #[serde(default)]
    pub dev_key: Option<PathBuf>,
}

impl IssuerConfig {
    /// An issuer with every default: keys discovered (or from `jwks`), default algorithms.
    pub fn new(issuer: &str, jwks: Option<String>) -> Self {
        IssuerConfig {
            issuer: issuer.to_string(),
            jwks,
            algorithms: default_algorithms(),
            introspection: None,
            token_endpoint: None,
            require_at_jwt: false,
            claims: vec![],
            dev_key: None,
        }
    }
}

pub fn default_algorithms() -> Vec<String> {
    [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
    ]
    .map(String::from)
    .to_vec()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionConfig {
    pub endpoint: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// How long an introspection answer is reused, seconds (never past the token's `exp`).
    #[serde(default = "default_introspection_cache")]
    pub cache_secs: u64,
}

pub(super) fn default_introspection_cache() -> u64 {
    60
}

/// A secret, read from an environment variable or a file, never written in the config.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.env, &self.file) {
            (Some(e), _) => write!(f, "Secret(env {e})"),
            (_, Some(p)) => write!(f, "Secret(file {})", p.display()),
            _ => write!(f, "Secret(unset)"),
        }
    }
}

impl Secret {
    /// The value; trailing newlines of a file are dropped.
    pub fn read(&self) -> Result<String, String> {
        match (&self.env, &self.file) {
            (Some(e), None) => {
                std::env::var(e).map_err(|_| format!("environment variable `{e}` is not set"))
            }
            (None, Some(p)) => std::fs::read_to_string(p)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .map_err(|err| format!("cannot read secret file {}: {err}", p.display())),
            _ => Err("a secret needs exactly one of `env` or `file`".into()),
        }
    }
}

/// Protection of one endpoint.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiAuthConfig {
    /// `false` leaves this endpoint open even when issuers are configured.
    pub enabled: bool,
    /// Issuers (their `issuer` values) accepted here; empty: all.
    pub issuers: Vec<String>,
    /// Scopes every request to this endpoint needs.
    pub scopes: Vec<String>,
    /// Scopes a tool needs when neither its operation's `security` nor its override names any.
    pub default_tool_scopes: Vec<String>,
    /// Accepted `aud` values; default: this endpoint's resource URL.
    pub audiences: Vec<String>,
    /// `tools/list` shows only the tools the caller's scopes allow.
    pub filter_tools: bool,
    /// Shown to users by clients (`resource_name` in the metadata); default: the API title.
    pub resource_name: Option<String>,
}

impl Default for ApiAuthConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            issuers: vec![],
            scopes: vec![],
            default_tool_scopes: vec![],
            audiences: vec![],
            filter_tools: true,
            resource_name: None,
        }
    }
}

/// What reaches the backend on behalf of the caller.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DownstreamConfig {
    pub credential: Credential,
    /// Upstream headers rendered from the caller's token claims, e.g. `X-User-Id: "{{sub}}"`.
    pub headers: BTreeMap<String, String>,
}

impl DownstreamConfig {
    /// Upstream headers this config sets (lower case): never taken from a client.
    pub fn header_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .headers
            .keys()
            .map(|k| k.to_ascii_lowercase())
            .collect();
        match &self.credential {
            Credential::None => {}
            Credential::ApiKey { header, .. } => names.push(header.to_ascii_lowercase()),
            _ => names.push("authorization".into()),
        }
        names
    }
}

impl Credential {
    /// The secrets it reads.
    pub fn secrets(&self) -> Vec<&Secret> {
        match self {
            Credential::TokenExchange { client_secret, .. }
            | Credential::ClientCredentials { client_secret, .. } => vec![client_secret],
            Credential::ApiKey { value, .. } => vec![value],
            Credential::Basic { password, .. } => vec![password],
            Credential::Bearer { token } => vec![token],
            Credential::None | Credential::Passthrough => vec![],
        }
    }
}

/// The backend credential.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Credential {
    /// Nothing (besides `headers`).
    #[default]
    None,
    /// RFC 8693: the caller's token exchanged at its issuer for one meant for the backend.
    TokenExchange {
        client_id: String,
        client_secret: Secret,
        /// Default: the caller's issuer's token endpoint.
        #[serde(default)]
        token_endpoint: Option<String>,
        #[serde(default)]
        audience: Option<String>,
        #[serde(default)]
        resource: Option<String>,
        #[serde(default)]
        scope: Option<String>,
    },
    /// The gateway's own token (OAuth client credentials grant).
    ClientCredentials {
        token_endpoint: String,
        client_id: String,
        client_secret: Secret,
        #[serde(default)]
        scope: Option<String>,
        #[serde(default)]
        audience: Option<String>,
        #[serde(default)]
        resource: Option<String>,
    },
    /// A static API key in a header.
    ApiKey { header: String, value: Secret },
    /// HTTP basic authentication.
    Basic { username: String, password: Secret },
    /// A static bearer token.
    Bearer { token: Secret },
    /// The caller's own token, forwarded as is. Only when the backend is the token's audience.
    Passthrough,
}
