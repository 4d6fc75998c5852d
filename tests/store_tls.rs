//! The shared store over TLS: a real PostgreSQL server with `ssl = on` (a test CA and a server
//! certificate for `localhost`, made by rcgen) that takes TCP connections over TLS only
//! (`hostssl`), reached with each of libpq's `sslmode` settings. The server is the referee:
//! a gateway that starts has talked to it over TLS.

mod support;

use std::path::Path;

use serde_json::json;
use support::admin::{AdminClient, pg_admin_config, things_spec};
use support::pg::Postgres;
use support::{Backend, Gateway};

/// A CA (its PEM written to `ca`) and a certificate for `localhost` it signed (PEM, key PEM).
fn ca_and_server(ca: &Path) -> (String, String) {
    let issuer = support::tls::test_ca("rest2mcp test database CA", ca);
    let (cert, key) = support::tls::leaf(&["localhost"], &issuer);
    (cert.pem(), key.serialize_pem())
}

fn config(dir: &Path, url: &str) -> String {
    pg_admin_config(dir, url, None)
}

#[tokio::test]
async fn each_sslmode_reaches_a_tls_only_database_as_libpq_would() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let (cert, key) = ca_and_server(&ca);
    let other_ca = dir.path().join("other-ca.pem");
    ca_and_server(&other_ca);
    let pg = Postgres::start_tls_only(&cert, &key, None);
    let at = |host: &str, params: &str| {
        format!("postgres://rest2mcp@{host}:{}/postgres?{params}", pg.port)
    };
    let ca = ca.display();
    let other_ca = other_ca.display();

    // Refused: no TLS at all, a certificate for another name, a CA that did not sign it.
    for (url, why) in [
        (at("127.0.0.1", "sslmode=disable"), "no encryption"),
        (
            at(
                "127.0.0.1",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            "certificate",
        ),
        (
            at(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={other_ca}"),
            ),
            "certificate",
        ),
        (
            at(
                "localhost",
                &format!("sslmode=verify-ca&sslrootcert={other_ca}"),
            ),
            "certificate",
        ),
        (at("localhost", "sslmode=verify-full"), "certificate"),
        (
            at(
                "localhost",
                "sslmode=verify-full&sslrootcert=/no/such/ca.pem",
            ),
            "/no/such/ca.pem",
        ),
    ] {
        let err = support::refused(&config(&dir.path().join("r"), &url));
        assert!(err.contains(why), "{url}: {err}");
    }

    // Served: each reaches the database (over TLS: the server takes nothing else over TCP).
    let backend = Backend::start().await;
    for (i, (url, warns)) in [
        (at("127.0.0.1", ""), false),
        (at("127.0.0.1", "sslmode=prefer"), false),
        (at("127.0.0.1", "sslmode=require"), true),
        (at("127.0.0.1", &format!("sslmode=require&sslrootcert={ca}")), false),
        (at("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")), false),
        (at("localhost", &format!("sslmode=verify-full&sslrootcert={ca}")), false),
        (
            format!(
                "host=localhost port={} user=rest2mcp dbname=postgres sslmode=verify-full sslrootcert='{ca}'",
                pg.port
            ),
            false,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let gw = Gateway::start(&config(&dir.path().join(format!("g{i}")), &url));
        let admin = AdminClient::new(&gw);
        let name = format!("api{i}");
        let r = admin
            .put_json(
                &format!("/apis/{name}/spec"),
                &json!({"spec": things_spec(1, "T"), "mapping": {"base_url": backend.url}}),
            )
            .await;
        assert!(r.status < 300, "{url}: {} {}", r.status, r.text);
        let versions = admin.get(&format!("/apis/{name}/versions")).await;
        assert_eq!(versions.status, 200, "{url}: {}", versions.text);
        let warned = gw
            .log_lines()
            .iter()
            .any(|l| l.contains("does not verify the database's certificate"));
        assert_eq!(warned, warns, "{url}: {:?}", gw.log_lines());
    }
}

/// A database that asks for a client certificate (`cert` authentication: the CN is the user)
/// takes the one `sslcert` and `sslkey` give, and refuses a connection without one.
#[tokio::test]
async fn a_client_certificate_from_sslcert_and_sslkey() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let (cert, key) = ca_and_server(&ca);
    let client_ca = support::tls::test_ca("rest2mcp test client CA", &dir.path().join("cca.pem"));
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rest2mcp");
    let client_key = rcgen::KeyPair::generate().unwrap();
    let client = params.signed_by(&client_key, &client_ca).unwrap();
    let (client_pem, client_key_pem) =
        (dir.path().join("client.pem"), dir.path().join("client.key"));
    std::fs::write(&client_pem, client.pem()).unwrap();
    std::fs::write(&client_key_pem, client_key.serialize_pem()).unwrap();
    let pg = Postgres::start_tls_only(&cert, &key, Some(&client_ca.pem()));
    let base = format!(
        "postgres://rest2mcp@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}",
        pg.port,
        ca.display()
    );
    let err = support::refused(&config(&dir.path().join("r"), &base));
    assert!(err.contains("certificate"), "{err}");
    let url = format!(
        "{base}&sslcert={}&sslkey={}",
        client_pem.display(),
        client_key_pem.display()
    );
    let gw = Gateway::start(&config(&dir.path().join("g"), &url));
    let versions = AdminClient::new(&gw).get("/apis/none/versions").await;
    assert_eq!(versions.status, 404, "{}", versions.text);
}

/// Under `prefer`, a server whose TLS the gateway cannot speak (an Ed448 certificate: rustls
/// has no Ed448) is reached without TLS, as libpq does; `require` refuses it.
#[tokio::test]
async fn prefer_falls_back_to_plain_when_the_handshake_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ed448", "-days", "2", "-nodes"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let pg = Postgres::start_tls_or_plain(
        &std::fs::read_to_string(&cert).unwrap(),
        &std::fs::read_to_string(&key).unwrap(),
    );
    let at = |params: &str| {
        format!(
            "postgres://rest2mcp@127.0.0.1:{}/postgres?{params}",
            pg.port
        )
    };
    let err = support::refused(&config(&dir.path().join("r"), &at("sslmode=require")));
    assert!(err.contains("TLS"), "{err}");
    for (i, params) in ["", "sslmode=prefer"].into_iter().enumerate() {
        let gw = Gateway::start(&config(&dir.path().join(format!("g{i}")), &at(params)));
        let versions = AdminClient::new(&gw).get("/apis/none/versions").await;
        assert_eq!(versions.status, 404, "{params}: {}", versions.text);
        assert!(
            gw.log_lines()
                .iter()
                .any(|l| l.contains("connecting without TLS")),
            "{params}: {:?}",
            gw.log_lines()
        );
    }
}
