//! TLS to the database, read from libpq's `sslmode` and `sslrootcert` in the connection string.
//! tokio-postgres knows `disable`, `prefer` and `require` only, and no `sslrootcert`: both are
//! taken out of the string here (URL or `key=value` form), and connections go through
//! `tokio-postgres-rustls` (rustls over `ring`, as everywhere else in the gateway).
//!
//! | `sslmode` | encrypted | the server's certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (the default) | when the server offers TLS; plain if the handshake fails | not verified |
//! | `require` | always | not verified; with `sslrootcert`, as `verify-ca` |
//! | `verify-ca` | always | its chain, against `sslrootcert` (`system` or none: the system's roots) |
//! | `verify-full` | always | its chain and the host name |
//!
//! This is libpq's table, except that `verify-*` without `sslrootcert` uses the system's roots
//! (libpq would refuse to start). `sslcert` and `sslkey` (PEM files, together) give a client
//! certificate for servers that ask for one (`cert` in `pg_hba.conf`); a key protected by a
//! password (`sslpassword`) is not supported.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// No `sslrootcert`.
    Unset,
    /// `sslrootcert=system`.
    System,
    File(PathBuf),
}

/// The TLS settings of one connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub mode: Mode,
    pub root: Root,
    /// `sslcert`: the client certificate (chain), PEM.
    pub cert: Option<PathBuf>,
    /// `sslkey`: its private key, PEM.
    pub key: Option<PathBuf>,
}

impl Settings {
    /// What tokio-postgres is told: whether TLS is tried, and whether it is required.
    pub fn ssl_mode(&self) -> SslMode {
        match self.mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }

    /// Whether the server's certificate is checked (and how).
    fn check(&self) -> Check {
        match (self.mode, &self.root) {
            (Mode::VerifyFull, _) => Check::Full,
            (Mode::VerifyCa, _) | (Mode::Require, Root::File(_) | Root::System) => Check::Chain,
            _ => Check::Nothing,
        }
    }

    /// A warning for the log, when connections are encrypted but the server is not verified.
    pub fn warning(&self) -> Option<&'static str> {
        (self.mode == Mode::Require && self.check() == Check::Nothing).then_some(
            "store.postgres: sslmode=require encrypts but does not verify the database's \
             certificate; use sslmode=verify-full (with sslrootcert=<CA file> for a private CA)",
        )
    }

    /// The connector for these settings.
    pub fn connector(&self) -> Result<MakeRustlsConnect, String> {
        crate::upstream::install_tls_provider();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match self.check() {
            Check::Nothing => Arc::new(Unverified(provider.clone())),
            check => {
                let inner = self.chain_verifier(&provider)?;
                if check == Check::Full {
                    inner
                } else {
                    Arc::new(AnyName(inner))
                }
            }
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&self.cert, &self.key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                use rustls::pki_types::PrivateKeyDer;
                use rustls::pki_types::pem::PemObject;
                let chain =
                    crate::upstream::read_certificates(cert).map_err(|e| format!("sslcert {e}"))?;
                if chain.is_empty() {
                    return Err(format!(
                        "sslcert {}: no certificate in the file",
                        cert.display()
                    ));
                }
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("sslkey {}: {e}", key.display()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("sslcert and sslkey: {e}"))?
            }
            _ => return Err("sslcert and sslkey go together: give both".into()),
        };
        Ok(MakeRustlsConnect::new(config))
    }

    fn chain_verifier(
        &self,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Arc<dyn ServerCertVerifier>, String> {
        match &self.root {
            Root::File(path) => {
                let err = |e: &dyn std::fmt::Display| format!("sslrootcert {e}");
                let mut roots = rustls::RootCertStore::empty();
                for cert in crate::upstream::read_certificates(path).map_err(|e| err(&e))? {
                    roots
                        .add(cert)
                        .map_err(|e| err(&format!("{}: {e}", path.display())))?;
                }
                if roots.is_empty() {
                    return Err(err(&format!(
                        "{}: no certificate in the file",
                        path.display()
                    )));
                }
                let v =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| err(&format!("{}: {e}", path.display())))?;
                Ok(v)
            }
            Root::System | Root::Unset => Ok(Arc::new(
                rustls_platform_verifier::Verifier::new(provider.clone())
                    .map_err(|e| format!("cannot load the system's root certificates: {e}"))?,
            )),
        }
    }
}

/// A connection made through [`Connector`].
pub type Connection = tokio_postgres::Connection<
    tokio_postgres::Socket,
    <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>>::Stream,
>;

/// What a connection needs for TLS: the rustls connector, and whether a failed handshake may
/// be followed by a plain connection (`prefer`, as libpq does).
#[derive(Clone)]
pub struct Connector {
    rustls: MakeRustlsConnect,
    fall_back: bool,
}

impl Connector {
    pub fn new(settings: &Settings) -> Result<Connector, String> {
        Ok(Connector {
            rustls: settings.connector()?,
            fall_back: settings.mode == Mode::Prefer,
        })
    }

    /// Connect with `config`; under `prefer`, once more without TLS when the TLS handshake
    /// fails (a server offering TLS this gateway cannot speak), as libpq does.
    pub async fn connect(
        &self,
        config: &tokio_postgres::Config,
    ) -> Result<(tokio_postgres::Client, Connection), tokio_postgres::Error> {
        match config.connect(self.rustls.clone()).await {
            // tokio-postgres's error for a failed handshake (its kind is private); held by
            // `tests/store_tls.rs::prefer_falls_back_to_plain_when_the_handshake_fails`.
            Err(e)
                if self.fall_back
                    && e.to_string().starts_with("error performing TLS handshake") =>
            {
                tracing::warn!(
                    error = %e,
                    "store.postgres: the TLS handshake failed under sslmode=prefer: connecting without TLS, as libpq does (sslmode=require refuses instead)"
                );
                let mut plain = config.clone();
                plain.ssl_mode(SslMode::Disable);
                plain.connect(self.rustls.clone()).await
            }
            r => r,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    Full,
}

/// Take libpq's `sslmode` and `sslrootcert` out of a connection string: the string left for
/// tokio-postgres, and the settings.
pub fn split(conn: &str) -> Result<(String, Settings), String> {
    let mut settings = Settings {
        mode: Mode::Prefer,
        root: Root::Unset,
        cert: None,
        key: None,
    };
    let mut take = |key: &str, value: &str| -> Result<bool, String> {
        match key {
            "sslmode" => {
                settings.mode = match value {
                    "disable" => Mode::Disable,
                    "allow" | "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    _ => {
                        return Err(format!(
                            "sslmode `{value}`: use disable, prefer, require, verify-ca or verify-full"
                        ));
                    }
                };
                Ok(true)
            }
            "sslrootcert" => {
                settings.root = match value {
                    "system" => Root::System,
                    "" => Root::Unset,
                    path => Root::File(PathBuf::from(path)),
                };
                Ok(true)
            }
            "sslcert" => {
                settings.cert = (!value.is_empty()).then(|| PathBuf::from(value));
                Ok(true)
            }
            "sslkey" => {
                settings.key = (!value.is_empty()).then(|| PathBuf::from(value));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        let Some((base, query)) = conn.split_once('?') else {
            return Ok((conn.to_string(), settings));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| "the connection string's parameters are not UTF-8".to_string())
            };
            if !take(&decode(k)?, &decode(v)?)? {
                kept.push(pair);
            }
        }
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        let mut kept = Vec::new();
        for (k, v) in key_values(conn)? {
            if !take(&k, &v)? {
                let quoted = v.replace('\\', "\\\\").replace('\'', "\\'");
                kept.push(format!("{k}='{quoted}'"));
            }
        }
        kept.join(" ")
    };
    Ok((rest, settings))
}

/// The pairs of a `key=value` connection string, read as tokio-postgres reads it (libpq's
/// rules): pairs apart by spaces, spaces allowed around `=`, a value in single quotes may hold
/// spaces, `\` escapes the next character, an empty unquoted value is an error, and reading
/// stops quietly at an `=` with no key. Held equal to tokio-postgres's own parser by
/// `tests::key_values_read_as_tokio_postgres_reads_them` (generated strings).
fn key_values(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        if key.is_empty() {
            return Ok(out);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("the connection string has no `=` after `{key}`"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => return Err(format!("the value of `{key}` has no closing quote")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
            if value.is_empty() {
                return Err(format!("`{key}` has no value"));
            }
        }
        out.push((key, value));
    }
}

/// Accepts the server's certificate as it is (libpq's `prefer` and `require`); the handshake's
/// signatures are still checked, so the connection is encrypted to whoever holds that key.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name in the certificate may differ
/// from the host connected to.
#[derive(Debug)]
struct AnyName(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests;
