//! Test fixtures that read like sentences: a recording REST backend, the real `rest2mcp`
//! binary started on a config, and a small raw MCP-over-HTTP client.
#![allow(dead_code)]

pub mod admin;
pub mod cut;
pub mod hostile;
pub mod oauth;
pub mod pg;
pub mod tls;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What the backend received for one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query exactly as they arrived on the wire.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A real HTTP backend on 127.0.0.1:0 that records every request and answers by path:
/// `/status/{code}` with that status, `/slow` after 3 s, `/big` with 2 MiB, `/typed?shape=`
/// with a matching or mismatching object, anything else with an echo of the request.
pub struct Backend {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Backend {
    pub async fn start() -> Backend {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(record).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Backend { url, seen }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Wait (up to 5 s) until the backend has received a request whose URI starts with
    /// `prefix`.
    pub async fn wait_for(&self, prefix: &str) {
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while !self.requests().iter().any(|r| r.uri.starts_with(prefix)) {
            assert!(
                std::time::Instant::now() < until,
                "the backend never received {prefix}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn last(&self) -> Seen {
        self.requests()
            .pop()
            .expect("the backend received a request")
    }
}

async fn record(State(seen): State<Arc<Mutex<Vec<Seen>>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let s = Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    seen.lock().unwrap().push(s.clone());
    let path = parts.uri.path();
    if let Some(code) = path.strip_prefix("/status/") {
        let code = StatusCode::from_u16(code.parse().unwrap_or(500)).unwrap();
        return (code, format!("{{\"message\":\"status {code} as asked\"}}")).into_response();
    }
    match path {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            "late".into_response()
        }
        "/big" => "x".repeat(2 * 1024 * 1024).into_response(),
        "/typed" => {
            let body = if parts.uri.query() == Some("shape=bad") {
                json!({"id": "not-a-number"})
            } else {
                json!({"id": 7})
            };
            axum::Json(body).into_response()
        }
        _ => axum::Json(json!({
            "method": s.method, "uri": s.uri, "body": s.body,
        }))
        .into_response(),
    }
}

/// The real binary, serving a config written to a temp dir; killed on drop.
pub struct Gateway {
    pub base: String,
    pub startup: String,
    /// Everything the gateway wrote to stderr so far (its logs).
    pub logs: Arc<Mutex<String>>,
    child: Child,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rest2mcp")
}

impl Gateway {
    /// Start `rest2mcp serve --config` on `config` (YAML; `listen` is forced to port 0).
    pub fn start(config: &str) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rest2mcp.yaml");
        std::fs::write(&path, format!("listen: 127.0.0.1:0\n{config}")).unwrap();
        Self::spawn(&["serve", "--config", path.to_str().unwrap()], dir)
    }

    pub fn spawn(args: &[&str], dir: tempfile::TempDir) -> Gateway {
        Self::spawn_cmd(Command::new(bin()), args, dir)
    }

    /// As [`Gateway::start_file`], with extra environment (e.g. `RUST_LOG=info`).
    pub fn start_file_with(path: &Path, env: &[(&str, &str)]) -> Gateway {
        let mut command = Command::new(bin());
        command.envs(env.iter().copied());
        Self::launch(
            command,
            &["serve", "--config", path.to_str().unwrap()],
            None,
        )
    }

    /// `rest2mcp serve --config path` on a config file the test keeps (across restarts).
    pub fn start_file(path: &Path) -> Gateway {
        Self::launch(
            Command::new(bin()),
            &["serve", "--config", path.to_str().unwrap()],
            None,
        )
    }

    /// Start the binary through `command` (e.g. `prlimit --nofile=256:256 <bin>`), with `args`.
    pub fn spawn_cmd(command: Command, args: &[&str], dir: tempfile::TempDir) -> Gateway {
        Self::launch(command, args, Some(dir))
    }

    /// `rest2mcp serve --config` on `config` with extra arguments and environment (e.g.
    /// `RUST_LOG=info`, which replaces the default `warn`).
    pub fn start_with(config: &str, args: &[&str], env: &[(&str, &str)]) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rest2mcp.yaml");
        std::fs::write(&path, format!("listen: 127.0.0.1:0\n{config}")).unwrap();
        let mut command = Command::new(bin());
        command.envs(env.iter().copied());
        let mut all = vec!["serve", "--config", path.to_str().unwrap()];
        all.extend_from_slice(args);
        Self::launch(command, &all, Some(dir))
    }

    /// The log lines written so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn launch(mut command: Command, args: &[&str], dir: Option<tempfile::TempDir>) -> Gateway {
        if command.get_envs().all(|(k, _)| k != "RUST_LOG") {
            command.env("RUST_LOG", "warn");
        }
        let mut child = command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Drained all along: a full pipe would stop the gateway at its next log line.
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut startup = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                startup.push_str(&line);
                startup.push('\n');
                if let Some(base) = line.strip_prefix("ready on ") {
                    let _ = tx.send(Ok((base.to_string(), startup.clone())));
                    return;
                }
            }
            let _ = tx.send(Err(startup));
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok((base, startup))) => Gateway {
                base,
                startup,
                logs,
                child,
                _dir: dir,
            },
            other => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "gateway did not start: {other:?}\nstderr: {}",
                    logs.lock().unwrap()
                );
            }
        }
    }

    /// A value from `/metrics` (the first sample whose name and labels start with `series`).
    pub async fn metric(&self, series: &str) -> f64 {
        let text = http_client()
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no `{series}` in /metrics:\n{text}"))
    }

    /// MCP requests answered so far by (the fast path, rmcp).
    pub async fn served(&self) -> (f64, f64) {
        (
            self.metric("rest2mcp_mcp_served_total{path=\"fast\"}")
                .await,
            self.metric("rest2mcp_mcp_served_total{path=\"rmcp\"}")
                .await,
        )
    }

    /// The gateway's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Ask the gateway to stop, as `docker stop` or systemd would (SIGTERM).
    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM failed");
    }

    /// The exit status, if the process ends within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn mcp(&self, name: &str) -> Mcp {
        Mcp {
            url: format!("{}/mcp/{name}", self.base),
            http: http_client(),
            version: "2025-11-25".into(),
        }
    }
}

/// A plain HTTP client for tests (the crate builds reqwest without a default TLS provider).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// The config for one API of `spec` against `backend_url`, plus extra YAML for the API entry.
pub fn api_config(name: &str, spec: &Path, backend_url: &str, extra: &str) -> String {
    format!(
        "apis:\n  - name: {name}\n    spec: {}\n    base_url: {backend_url}\n{extra}",
        spec.display()
    )
}

/// A raw MCP client over HTTP: every request and header is visible to the test.
pub struct Mcp {
    pub url: String,
    pub http: reqwest::Client,
    pub version: String,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }
}

impl Mcp {
    pub async fn post_raw(&self, body: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        Reply {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            text: r.text().await.unwrap(),
        }
    }

    /// One JSON-RPC request on the negotiated (handshake) revision.
    pub async fn request(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let r = self
            .post_raw(
                &body.to_string(),
                &[("mcp-protocol-version", self.version.as_str())],
            )
            .await;
        assert_eq!(r.status, 200, "{method}: {}", r.text);
        r.json()
    }

    pub async fn initialize(&self) -> Value {
        let r = self
            .request(
                "initialize",
                json!({"protocolVersion": self.version, "capabilities": {},
                       "clientInfo": {"name": "test", "version": "1"}}),
            )
            .await;
        r["result"].clone()
    }

    pub async fn list(&self) -> Vec<Value> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let r = self.request("tools/list", params).await;
            tools.extend(r["result"]["tools"].as_array().unwrap().iter().cloned());
            match r["result"]["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return tools,
            }
        }
    }

    /// `tools/call`; returns the `result` (a tool result, possibly `isError`).
    pub async fn call(&self, name: &str, args: Value) -> Value {
        let r = self
            .request("tools/call", json!({"name": name, "arguments": args}))
            .await;
        assert!(r.get("error").is_none(), "JSON-RPC error: {r}");
        r["result"].clone()
    }
}

/// The text of a tool result's first content block.
pub fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or("")
}

pub fn is_error(result: &Value) -> bool {
    result["isError"] == json!(true)
}

/// The GitHub REST API description (npm `@octokit/openapi`, pinned), fetched once into
/// `target/` with npm; it is 13 MB and not committed.
pub fn github_spec() -> PathBuf {
    const VERSION: &str = "23.0.2";
    // Tests of one binary ask at once: one fetch at a time here, and each fetch in a directory
    // of its own renamed into place, so other test processes never see half a download.
    static FETCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/github-spec");
    let spec = dir.join(format!("api.github.com-{VERSION}.json"));
    if spec.exists() {
        return spec;
    }
    let work = dir.join(format!("fetch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let out = Command::new("npm")
        .args(["pack", &format!("@octokit/openapi@{VERSION}"), "--silent"])
        .current_dir(&work)
        .output()
        .expect("npm is needed to fetch the GitHub spec (apt-get install npm)");
    assert!(
        out.status.success(),
        "npm pack @octokit/openapi@{VERSION} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tgz = work.join(format!("octokit-openapi-{VERSION}.tgz"));
    let status = Command::new("tar")
        .args(["xzf", tgz.to_str().unwrap(), "-C", work.to_str().unwrap()])
        .arg("package/generated/api.github.com.json")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::rename(work.join("package/generated/api.github.com.json"), &spec).unwrap();
    let _ = std::fs::remove_dir_all(&work);
    spec
}

/// `rest2mcp serve` on `config`, expected to refuse it: its stderr.
pub fn refused(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, format!("listen: 127.0.0.1:0\n{config}")).unwrap();
    let mut child = std::process::Command::new(bin())
        .args(["serve", "--config", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("started on a bad config (still running after 20 s)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "started on a bad config");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Read from `s` until a whole request head is in; `false` if the connection ended first.
pub async fn read_head(s: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    true
}

/// A raw TCP backend for HTTP edge cases: each connection reads one request head and gets
/// `answer` verbatim, then the socket is closed (whatever the answer's headers promised).
pub async fn raw_backend(answer: &'static str) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let conns = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = conns.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                if !read_head(&mut s).await {
                    return;
                }
                let _ = s.write_all(answer.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (url, conns)
}

/// A one-operation spec (`GET /thing`, `POST /thing`) in a temp dir.
pub fn thing_spec(dir: &Path) -> PathBuf {
    let spec = dir.join("thing.yaml");
    std::fs::write(
        &spec,
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /thing:\n    get:\n      operationId: getThing\n      responses: {'200': {description: ok}}\n    post:\n      operationId: postThing\n      responses: {'200': {description: ok}}\n",
    )
    .unwrap();
    spec
}

/// A loopback port free a moment ago, for a server whose URL must be known before it starts
/// (another process may take it meanwhile; callers that bind it retry or accept that).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
