//! The upstream HTTP client: hyper's HTTP/1.1 client connections (`hyper::client::conn::http1`),
//! plain or over rustls, pooled per worker thread, each connection to an address the host policy
//! checked when it was resolved.
//!
//! Framing is hyper's, strictly: an answer is only ever read for the request written on that
//! connection; a connection that receives bytes while idle (a stray answer, a body after a HEAD
//! or a 204) is closed by hyper and never reused; conflicting lengths, bad chunk sizes and
//! unknown transfer codings are errors. Why a small pool of our own instead of
//! `hyper_util`'s legacy `Client`: each worker thread runs its own single-threaded runtime
//! (see `server::listen`), so its connections, their tasks and its idle list stay on that thread
//! with no lock and no extra task per call; the legacy client adds a shared pool behind a mutex
//! and a task per answer with a body.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Request, Response, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::policy::HostPolicy;
use super::{Answer, UpstreamError};
use crate::config::UpstreamConfig;

/// An idle connection is not reused after this long (many servers close theirs after 5 s).
const MAX_IDLE: Duration = Duration::from_secs(4);
/// Idle connections kept per backend and worker.
const MAX_IDLE_PER_HOST: usize = 256;

/// Where connections go: scheme, host and port of a base URL.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Key {
    tls: bool,
    host: String,
    port: u16,
}

struct Idle {
    tx: SendRequest<Full<Bytes>>,
    since: Instant,
}

thread_local! {
    /// This thread's idle connections: used by the tasks of this thread's runtime only.
    static POOL: RefCell<HashMap<Key, Vec<Idle>>> = RefCell::new(HashMap::new());
}

/// Settings shared by every worker's pool.
#[derive(Clone)]
pub struct Client {
    policy: Arc<HostPolicy>,
    tls: tokio_rustls::TlsConnector,
    connect_timeout: Duration,
    max_response_bytes: usize,
}

impl Client {
    pub fn new(cfg: &UpstreamConfig) -> Result<Self, String> {
        super::install_tls_provider();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let extra = match &cfg.ca_file {
            Some(path) => {
                super::read_certificates(path).map_err(|e| format!("upstream.ca_file {e}"))?
            }
            None => Vec::new(),
        };
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .map_err(|e| format!("cannot load the system's root certificates: {e}"))?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Client {
            policy: Arc::new(HostPolicy::new(cfg)),
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            connect_timeout: Duration::from_millis(cfg.connect_timeout_ms),
            max_response_bytes: cfg.max_response_bytes,
        })
    }

    pub fn policy(&self) -> &HostPolicy {
        &self.policy
    }

    /// Send `req` (origin-form target, `Host` set) to the backend of `base` and read the whole
    /// answer, up to the size cap. A request that never reached a reused connection is sent
    /// again on a new one; an idempotent request also when a reused connection closed before
    /// answering.
    pub async fn send(
        &self,
        base: &url::Url,
        req: Request<Full<Bytes>>,
        idempotent: bool,
    ) -> Result<Answer, UpstreamError> {
        let key = Key {
            tls: base.scheme() == "https",
            host: base.host_str().unwrap_or_default().to_string(),
            port: base.port_or_known_default().unwrap_or(80),
        };
        let spare = idempotent.then(|| req.clone());
        let mut req = req;
        if let Some(mut tx) = checkout(&key) {
            match tx.try_send_request(req).await {
                Ok(resp) => return self.read(resp, key, tx).await,
                Err(mut e) => match (e.take_message(), &spare) {
                    // Never written: safe to send on a new connection, whatever the method.
                    (Some(r), _) => req = r,
                    (None, Some(r)) if e.error().is_incomplete_message() => req = r.clone(),
                    _ => return Err(http_error(e.error())),
                },
            }
        }
        let mut tx = self.connect(&key).await?;
        match tx.try_send_request(req).await {
            Ok(resp) => self.read(resp, key, tx).await,
            Err(e) => Err(http_error(e.error())),
        }
    }

    /// GET a document (a spec the admin console asks for) through the same policy, up to `cap`
    /// bytes; redirects are not followed.
    pub async fn get_document(&self, url: &url::Url, cap: usize) -> Result<Answer, UpstreamError> {
        self.policy.check_url(url)?;
        let mut target = url.path().to_string();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        let req = Request::get(target)
            .header(header::HOST, host_header(url))
            .header(
                header::ACCEPT,
                "application/yaml, application/json, */*;q=0.5",
            )
            .header(
                header::USER_AGENT,
                concat!("rest2mcp/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::new()))
            .map_err(|e| UpstreamError::Http(e.to_string()))?;
        let key = Key {
            tls: url.scheme() == "https",
            host: url.host_str().unwrap_or_default().to_string(),
            port: url.port_or_known_default().unwrap_or(80),
        };
        let mut tx = self.connect(&key).await?;
        let resp = tx
            .try_send_request(req)
            .await
            .map_err(|e| http_error(e.error()))?;
        let capped = Client {
            max_response_bytes: cap,
            ..self.clone()
        };
        capped.read(resp, key, tx).await
    }

    /// Read the answer whole; a connection whose answer ended cleanly goes back to the pool.
    async fn read(
        &self,
        resp: Response<Incoming>,
        key: Key,
        tx: SendRequest<Full<Bytes>>,
    ) -> Result<Answer, UpstreamError> {
        let (parts, mut body) = resp.into_parts();
        // hyper reads an unknown coding to the end of the connection, as RFC 9112 allows;
        // a REST answer framed that way is a broken backend: refuse it, never guess.
        if let Some(te) = parts.headers.get(header::TRANSFER_ENCODING) {
            let last = te
                .as_bytes()
                .rsplit(|b| *b == b',')
                .next()
                .unwrap_or_default();
            if !last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(UpstreamError::Http(format!(
                    "malformed answer: unsupported Transfer-Encoding `{}`",
                    String::from_utf8_lossy(te.as_bytes())
                )));
            }
        }
        let cap = self.max_response_bytes;
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|l| l > cap as u64) {
            return Err(UpstreamError::TooLarge(cap));
        }
        let mut buf = BytesMut::with_capacity(declared.map_or(8 * 1024, |l| l as usize));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| http_error(&e))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > cap {
                    return Err(UpstreamError::TooLarge(cap));
                }
                buf.extend_from_slice(&data);
            }
        }
        checkin(key, tx);
        let is_json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| super::is_json(v.as_bytes()));
        Ok(Answer {
            status: parts.status,
            is_json,
            body: buf.freeze(),
        })
    }

    /// A new connection: resolve, check every address against the host policy, connect to a
    /// checked one (TLS when asked), hand it to hyper.
    async fn connect(&self, key: &Key) -> Result<SendRequest<Full<Bytes>>, UpstreamError> {
        let host = key.host.clone();
        let fail = |reason: String| UpstreamError::Connect {
            host: format!("{}:{}", key.host, key.port),
            reason,
        };
        let connect = async {
            let lookup = key.host.trim_start_matches('[').trim_end_matches(']');
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((lookup, key.port))
                .await
                .map_err(|e| fail(e.to_string()))?
                .collect();
            self.policy
                .check_resolved(&host, &addrs)
                .map_err(UpstreamError::Policy)?;
            let mut last = None;
            let mut stream = None;
            for a in &addrs {
                match TcpStream::connect(a).await {
                    Ok(s) => {
                        stream = Some(s);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            let stream = stream
                .ok_or_else(|| fail(last.map_or_else(|| "no address".into(), |e| e.to_string())))?;
            let _ = stream.set_nodelay(true);
            if key.tls {
                let name = rustls::pki_types::ServerName::try_from(lookup.to_string())
                    .map_err(|e| fail(e.to_string()))?;
                let tls = self
                    .tls
                    .connect(name, stream)
                    .await
                    .map_err(|e| fail(format!("TLS: {e}")))?;
                handshake(tls).await
            } else {
                handshake(stream).await
            }
        };
        match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(r) => r,
            Err(_) => Err(fail("connect timed out".into())),
        }
    }
}

async fn handshake<I>(io: I) -> Result<SendRequest<Full<Bytes>>, UpstreamError>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, conn) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| http_error(&e))?;
    // The connection's task runs on this thread's runtime, beside the calls that use it.
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "upstream connection ended");
        }
    });
    Ok(tx)
}

/// The most recently used idle connection that is still open and ready.
fn checkout(key: &Key) -> Option<SendRequest<Full<Bytes>>> {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let list = p.get_mut(key)?;
        let mut not_yet = Vec::new();
        let mut found = None;
        while let Some(c) = list.pop() {
            if c.tx.is_closed() || c.since.elapsed() >= MAX_IDLE {
                continue; // dropped: hyper closes it
            }
            if c.tx.is_ready() {
                found = Some(c.tx);
                break;
            }
            // Its task has not yet run since its answer ended: keep it for a later call.
            not_yet.push(c);
        }
        list.extend(not_yet.into_iter().rev());
        found
    })
}

fn checkin(key: Key, tx: SendRequest<Full<Bytes>>) {
    if tx.is_closed() {
        return;
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let list = p.entry(key).or_default();
        if list.len() < MAX_IDLE_PER_HOST {
            list.push(Idle {
                tx,
                since: Instant::now(),
            });
        }
    });
}

fn http_error(e: &hyper::Error) -> UpstreamError {
    let mut reason = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        reason = format!("{reason}: {s}");
        src = s.source();
    }
    if e.is_parse() || e.is_parse_status() {
        UpstreamError::Http(format!("malformed answer: {reason}"))
    } else {
        UpstreamError::Http(reason)
    }
}

/// The `Host` value of a base URL (with its port when it has one).
pub fn host_header(base: &url::Url) -> HeaderValue {
    let host = base.host_str().unwrap_or_default();
    let v = match base.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}
