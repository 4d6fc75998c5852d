//! An `https://` backend: a test CA, a certificate for `localhost` and `127.0.0.1` signed by it,
//! and the recording backend's router served over rustls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A new test CA named `name`, its certificate (PEM) written to `ca`.
pub fn test_ca(name: &str, ca: &Path) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let issuer =
        rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    std::fs::write(ca, issuer.pem()).unwrap();
    issuer
}

/// A certificate for `names` that `ca` signed, and its key.
pub fn leaf(
    names: &[&str],
    ca: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, ca)
        .unwrap();
    (cert, key)
}

/// Start the recording backend (see [`super::Backend`]) over TLS; `ca` receives the CA
/// certificate (PEM) a client must trust. Returns its `https://127.0.0.1:port` URL.
pub async fn https_backend(ca: &Path) -> (String, super::Backend) {
    let plain = super::Backend::start().await;
    let ca_cert = test_ca("rest2mcp test CA", ca);
    let (leaf, leaf_key) = leaf(&["localhost", "127.0.0.1"], &ca_cert);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    // Every TLS connection is proxied as plain HTTP to the recording backend's router.
    let target = plain.url.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) =
                    tokio::net::TcpStream::connect(target.trim_start_matches("http://")).await
                else {
                    return;
                };
                let mut tls = tls;
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    (url, plain)
}

/// Where a test keeps its CA file.
pub fn ca_path(dir: &Path) -> PathBuf {
    dir.join("ca.pem")
}
