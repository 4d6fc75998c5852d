//! An `https://` backend: a test CA, a certificate for `localhost` and `127.0.0.1` signed by it,
//! and the recording backend's router served over rustls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Start the recording backend (see [`super::Backend`]) over TLS; `ca` receives the CA
/// certificate (PEM) a client must trust. Returns its `https://127.0.0.1:port` URL.
pub async fn https_backend(ca: &Path) -> (String, super::Backend) {
    let plain = super::Backend::start().await;
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rest2mcp test CA");
    let ca_cert = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    std::fs::write(ca, ca_cert.pem()).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .signed_by(&leaf_key, &ca_cert)
        .unwrap();
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
