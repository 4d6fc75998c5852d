//! An admin API client for tests, and a gateway with the admin API on and its store in a
//! temporary data directory.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Gateway, Reply, http_client};

pub const TOKEN: &str = "test-admin-token-0123456789";

/// The config lines that turn the admin API on with [`TOKEN`] and keep the store in `data`.
pub fn admin_config(data: &Path) -> String {
    std::fs::create_dir_all(data).unwrap();
    let token = data.join("token");
    std::fs::write(&token, TOKEN).unwrap();
    format!(
        "admin:\n  token_file: {}\n  max_spec_bytes: 2097152\nstore:\n  data_dir: {}\n  keep_versions: 100\n",
        token.display(),
        data.display()
    )
}

/// A config with the admin API on (its token in `dir`) and the store in the PostgreSQL
/// database at `url` (checked every `poll_secs`, when given).
pub fn pg_admin_config(dir: &Path, url: &str, poll_secs: Option<u64>) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let poll = poll_secs.map_or(String::new(), |s| format!("    poll_secs: {s}\n"));
    format!(
        "admin:\n  token_file: {}\nstore:\n  data_dir: {}\n  postgres:\n    url: \"{url}\"\n{poll}",
        token.display(),
        dir.join("data").display(),
    )
}

/// A client of one gateway's admin API.
pub struct AdminClient {
    pub base: String,
    pub token: Option<String>,
    pub http: reqwest::Client,
}

impl AdminClient {
    pub fn new(gw: &Gateway) -> Self {
        AdminClient {
            base: gw.base.clone(),
            token: Some(TOKEN.to_string()),
            http: http_client(),
        }
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = format!("{}/admin/api{path}", self.base);
        let mut req = self
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some((ct, b)) = body {
            req = req.header("content-type", ct).body(b);
        }
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

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, &[]).await
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> Reply {
        self.send(
            "PUT",
            path,
            Some(("application/json", body.to_string().into_bytes())),
            &[],
        )
        .await
    }

    pub async fn put_yaml(&self, path: &str, yaml: &str) -> Reply {
        self.send(
            "PUT",
            path,
            Some(("application/yaml", yaml.as_bytes().to_vec())),
            &[],
        )
        .await
    }

    /// Create the stored API `name`: `things_spec(ops, title)` against `backend_url` (`201`).
    pub async fn create(&self, name: &str, ops: usize, title: &str, backend_url: &str) {
        let body = serde_json::json!({"spec": things_spec(ops, title),
                                      "mapping": {"base_url": backend_url}});
        let r = self.put_json(&format!("/apis/{name}/spec"), &body).await;
        assert_eq!(r.status, 201, "creating {name}: {}", r.text);
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.send(
            "POST",
            path,
            Some(("application/json", body.to_string().into_bytes())),
            &[],
        )
        .await
    }
}

/// A spec with `ops` operations `GET /things/{i}` (operationId `get{i}`, each with an optional
/// query parameter `q`), served by any echoing backend.
pub fn things_spec(ops: usize, title: &str) -> String {
    let mut s = format!("openapi: 3.0.3\ninfo: {{title: {title}, version: '1'}}\npaths:\n");
    for i in 0..ops {
        s.push_str(&format!(
            "  /things/{i}:\n    get:\n      operationId: get{i}\n      summary: thing {i}\n      parameters: [{{name: q, in: query, schema: {{type: string}}}}]\n      responses: {{'200': {{description: ok}}}}\n"
        ));
    }
    s
}

/// Where a test keeps its data directory.
pub fn data_dir(dir: &Path) -> PathBuf {
    dir.join("data")
}
