//! The development issuer: a local ES256 key that `rest2mcp dev-token` signs with and that an
//! `issuer: dev` entry trusts (like `dotnet user-jwts`). For trying the protection without an
//! identity provider; never for production (the gateway warns at start when it is trusted).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Map, Value};

/// The `iss` of development tokens.
pub const DEV_ISS: &str = "urn:rest2mcp:dev";

/// The key file: the configured one, else `$REST2MCP_DEV_KEY`, else
/// `~/.config/rest2mcp/dev-signing-key.p8`.
pub fn key_path(configured: Option<&Path>) -> PathBuf {
    if let Some(p) = configured {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("REST2MCP_DEV_KEY") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("rest2mcp").join("dev-signing-key.p8")
}

/// A P-256 key pair (PKCS#8) and its JWK coordinates.
pub struct DevKey {
    pkcs8: Vec<u8>,
    x: String,
    y: String,
    pub kid: String,
}

impl DevKey {
    /// Read the key, or create it (mode 0600, written atomically) when there is none.
    pub fn load_or_create(path: &Path) -> Result<DevKey, String> {
        let pkcs8 = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = SystemRandom::new();
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| "cannot generate a development key".to_string())?;
                write_private(path, doc.as_ref())?;
                // Re-read: a concurrent first run may have written its key first.
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &pkcs8,
            &SystemRandom::new(),
        )
        .map_err(|_| format!("{} is not a P-256 PKCS#8 key", path.display()))?;
        let point = pair.public_key().as_ref(); // 0x04 || x || y
        let (x, y) = point[1..].split_at(32);
        let x = URL_SAFE_NO_PAD.encode(x);
        let y = URL_SAFE_NO_PAD.encode(y);
        let kid = format!("dev-{}", &x[..8]);
        Ok(DevKey { pkcs8, x, y, kid })
    }

    pub fn decoding_key(&self) -> Result<DecodingKey, String> {
        DecodingKey::from_ec_components(&self.x, &self.y).map_err(|e| e.to_string())
    }

    /// A signed access token (RFC 9068 shape) for `audiences`, valid `ttl_secs`.
    pub fn mint(
        &self,
        subject: &str,
        audiences: &[String],
        scopes: &[String],
        ttl_secs: u64,
        extra: Map<String, Value>,
    ) -> Result<String, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut claims = extra;
        claims.insert("iss".into(), DEV_ISS.into());
        claims.insert("sub".into(), subject.into());
        claims.insert(
            "aud".into(),
            match audiences {
                [one] => Value::from(one.as_str()),
                many => Value::from(many.to_vec()),
            },
        );
        claims.insert("iat".into(), now.into());
        claims.insert("nbf".into(), now.into());
        claims.insert("exp".into(), (now + ttl_secs).into());
        claims.insert("client_id".into(), "rest2mcp-dev-token".into());
        claims.insert("jti".into(), format!("{now}-{}", std::process::id()).into());
        if !scopes.is_empty() {
            claims.insert("scope".into(), scopes.join(" ").into());
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("at+jwt".into());
        super::crypto::install();
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&self.pkcs8))
            .map_err(|e| format!("cannot sign: {e}"))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    // Another process may have created it meanwhile: keep theirs.
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(e) if path.exists() => {
            drop(e);
            Ok(())
        }
        Err(e) => Err(format!("cannot write {}: {}", path.display(), e.error)),
    }
}
