//! The shared store: PostgreSQL, for several replicas serving the same mapping.
//!
//! ```text
//! rest2mcp_apis      (name, current)                       one row per API; `current` commits
//! rest2mcp_versions  (name, version, created, change, tools, from_version, spec_hash, mapping)
//! rest2mcp_specs     (hash, format, bytes)                 each distinct spec once
//! ```
//!
//! Tables are created on first use. A write is one transaction: writers of every replica take
//! one advisory lock (so version numbers and spec pruning never race), the new version and
//! `current` are written, old versions beyond `keep_versions` and unused specs removed, and
//! `pg_notify('rest2mcp_changes', {"api", "version"})` sent; PostgreSQL delivers the
//! notification only when the transaction commits, and the write is acknowledged only then.
//!
//! Every replica listens on that channel on a connection of its own ([`Store::changes`]); after
//! each (re)connect, and every `poll_secs`, it also asks for a check of every API, which is the
//! safety net for notifications missed while the connection was down. When the database is
//! unreachable, queries fail with [`StoreError::Unavailable`] (the connection is made again on
//! the next use) and the registry keeps serving what it has.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::{Client, Row};

use super::mapping::Mapping;
use super::store::{
    BoxFuture, Change, Changed, Loaded, SpecDoc, Store, StoreError, Stored, VersionInfo, Write,
};
use crate::config::PostgresConfig;

mod errors;
mod listen;
mod tls;

use errors::{db, settle, unavailable, uncertain, unconfirmed};

/// The notification channel.
const CHANNEL: &str = "rest2mcp_changes";
/// The advisory lock every writer takes (`rest2mcp` in ASCII).
const WRITE_LOCK: i64 = 0x7265_7374_326d_6370;
/// Longest a query (or a connect) may take before the store counts as unavailable.
const OP_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rest2mcp_apis (
    name text PRIMARY KEY,
    current bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS rest2mcp_specs (
    hash text PRIMARY KEY,
    format text NOT NULL,
    bytes bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS rest2mcp_versions (
    name text NOT NULL REFERENCES rest2mcp_apis (name) ON DELETE CASCADE,
    version bigint NOT NULL,
    created text NOT NULL,
    change text NOT NULL,
    tools bigint NOT NULL,
    from_version bigint,
    spec_hash text NOT NULL REFERENCES rest2mcp_specs (hash),
    mapping jsonb NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX IF NOT EXISTS rest2mcp_versions_spec ON rest2mcp_versions (spec_hash);
";

/// One version's columns, spec included (`a` is the API row, `v` the version, `s` the spec).
const VERSION_COLUMNS: &str = "v.name, v.version, v.created, v.change, v.tools, v.from_version, \
     v.mapping::text, s.format, s.bytes";

pub struct PgStore {
    config: tokio_postgres::Config,
    /// TLS as the connection string's `sslmode` and `sslrootcert` say (see [`tls`]).
    connector: tls::Connector,
    keep: i64,
    poll: Duration,
    /// The connection for queries and writes, made again when it was lost.
    client: tokio::sync::Mutex<Option<Client>>,
    taken: Mutex<bool>,
}

impl PgStore {
    /// Connect, create the tables if they are missing, and keep `keep` versions per API.
    pub async fn open(cfg: &PostgresConfig, keep: usize) -> Result<Arc<Self>, StoreError> {
        let url = cfg
            .url
            .read()
            .map_err(|e| unavailable(format!("store.postgres.url: {e}")))?;
        let not_a_url = |e: &dyn std::fmt::Display| {
            unavailable(format!(
                "store.postgres.url is not a connection string: {e}"
            ))
        };
        let (url, tls) = tls::split(&url).map_err(|e| not_a_url(&e))?;
        let mut config = tokio_postgres::Config::from_str(&url).map_err(|e| not_a_url(&e))?;
        config.ssl_mode(tls.ssl_mode());
        let connector = tls::Connector::new(&tls)
            .map_err(|e| unavailable(format!("store.postgres: TLS: {e}")))?;
        if let Some(w) = tls.warning() {
            tracing::warn!("{w}");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("rest2mcp");
        }
        config.keepalives_idle(Duration::from_secs(30));
        let store = Arc::new(PgStore {
            config,
            connector,
            keep: keep.max(1) as i64,
            poll: Duration::from_secs(cfg.poll_secs.max(1)),
            client: tokio::sync::Mutex::new(None),
            taken: Mutex::new(false),
        });
        let mut guard = store.connection().await?;
        let c = guard.as_mut().expect("connected");
        let r = tokio::time::timeout(OP_TIMEOUT, async {
            let tx = c.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .await?;
            tx.batch_execute(SCHEMA).await?;
            tx.commit().await
        })
        .await;
        settle(&mut guard, r)?;
        drop(guard);
        Ok(store)
    }

    async fn connect(&self) -> Result<Client, StoreError> {
        let (client, conn) = self.connector.connect(&self.config).await.map_err(db)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "database connection ended");
            }
        });
        Ok(client)
    }

    /// The query connection, connected (again) when needed; held for one operation.
    async fn connection(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Client>>, StoreError> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = None;
            *guard = Some(self.connect().await?);
        }
        Ok(guard)
    }

    async fn write_tx(&self, w: Write) -> Result<VersionInfo, StoreError> {
        let mut guard = self.connection().await?;
        let c = guard.as_mut().expect("connected");
        let keep = self.keep;
        let committing = std::sync::atomic::AtomicBool::new(false);
        let r = tokio::time::timeout(OP_TIMEOUT, async {
            let tx = c.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .await?;
            let current: Option<i64> = tx
                .query_opt(
                    "SELECT current FROM rest2mcp_apis WHERE name = $1",
                    &[&w.name],
                )
                .await?
                .map(|r| r.get(0));
            let version = current.map_or(1, |c| c + 1);
            let hash = match &w.spec {
                Some(doc) => {
                    let hash = spec_hash(&doc.bytes);
                    tx.execute(
                        "INSERT INTO rest2mcp_specs (hash, format, bytes) VALUES ($1, $2, $3) \
                         ON CONFLICT (hash) DO NOTHING",
                        &[&hash, &doc.format, &doc.bytes.as_ref()],
                    )
                    .await?;
                    hash
                }
                None => match tx
                    .query_opt(
                        "SELECT v.spec_hash FROM rest2mcp_versions v JOIN rest2mcp_apis a \
                         ON a.name = v.name AND a.current = v.version WHERE a.name = $1",
                        &[&w.name],
                    )
                    .await?
                {
                    Some(r) => r.get(0),
                    None => return Ok(Err(StoreError::NotFound(w.name.clone()))),
                },
            };
            let info = VersionInfo {
                version: version as u64,
                created: super::store::now_rfc3339(),
                change: w.change,
                tools: w.tools,
                from: w.from,
            };
            let mapping = serde_json::to_string(&w.mapping).expect("a mapping serializes");
            tx.execute(
                "INSERT INTO rest2mcp_apis (name, current) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET current = EXCLUDED.current",
                &[&w.name, &version],
            )
            .await?;
            tx.execute(
                "INSERT INTO rest2mcp_versions \
                 (name, version, created, change, tools, from_version, spec_hash, mapping) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, CAST($8::text AS jsonb))",
                &[
                    &w.name,
                    &version,
                    &info.created,
                    &change_text(w.change),
                    &(w.tools as i64),
                    &w.from.map(|f| f as i64),
                    &hash,
                    &mapping,
                ],
            )
            .await?;
            tx.execute(
                "DELETE FROM rest2mcp_versions WHERE name = $1 AND version <= $2",
                &[&w.name, &(version - keep)],
            )
            .await?;
            prune_specs(&tx).await?;
            notify(&tx, &w.name, Some(version)).await?;
            committing.store(true, std::sync::atomic::Ordering::Relaxed);
            tx.commit().await?;
            Ok(Ok(info))
        })
        .await;
        let unsure = committing.load(std::sync::atomic::Ordering::Relaxed) && unconfirmed(&r);
        settle(&mut guard, r).map_err(|e| uncertain(e, unsure))?
    }

    async fn delete_tx(&self, name: &str) -> Result<bool, StoreError> {
        let mut guard = self.connection().await?;
        let c = guard.as_mut().expect("connected");
        let committing = std::sync::atomic::AtomicBool::new(false);
        let r = tokio::time::timeout(OP_TIMEOUT, async {
            let tx = c.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .await?;
            let n = tx
                .execute("DELETE FROM rest2mcp_apis WHERE name = $1", &[&name])
                .await?;
            if n > 0 {
                prune_specs(&tx).await?;
                notify(&tx, name, None).await?;
            }
            committing.store(true, std::sync::atomic::Ordering::Relaxed);
            tx.commit().await?;
            Ok(n > 0)
        })
        .await;
        let unsure = committing.load(std::sync::atomic::Ordering::Relaxed) && unconfirmed(&r);
        settle(&mut guard, r).map_err(|e| uncertain(e, unsure))
    }

    /// Rows of one query on the query connection.
    async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let mut guard = self.connection().await?;
        let c = guard.as_mut().expect("connected");
        let r = tokio::time::timeout(OP_TIMEOUT, c.query(sql, params)).await;
        settle(&mut guard, r)
    }

    async fn current_version(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let rows = self
            .rows(
                "SELECT current FROM rest2mcp_apis WHERE name = $1",
                &[&name],
            )
            .await?;
        Ok(rows.first().map(|r| r.get(0)))
    }
}

async fn prune_specs(tx: &tokio_postgres::Transaction<'_>) -> Result<u64, tokio_postgres::Error> {
    tx.execute(
        "DELETE FROM rest2mcp_specs s WHERE NOT EXISTS \
         (SELECT 1 FROM rest2mcp_versions v WHERE v.spec_hash = s.hash)",
        &[],
    )
    .await
}

async fn notify(
    tx: &tokio_postgres::Transaction<'_>,
    name: &str,
    version: Option<i64>,
) -> Result<u64, tokio_postgres::Error> {
    let payload = serde_json::json!({"api": name, "version": version}).to_string();
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
        .await
}

fn spec_hash(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn change_text(c: Change) -> String {
    match serde_json::to_value(c) {
        Ok(serde_json::Value::String(s)) => s,
        _ => unreachable!("a change is a string"),
    }
}

fn damaged(name: &str, message: impl std::fmt::Display) -> StoreError {
    StoreError::Damaged {
        path: format!("rest2mcp_versions[{name}]"),
        message: message.to_string(),
    }
}

fn info_of(r: &Row) -> Result<VersionInfo, StoreError> {
    let name: String = r.get("name");
    let change: String = r.get("change");
    Ok(VersionInfo {
        version: r.get::<_, i64>("version") as u64,
        created: r.get("created"),
        change: serde_json::from_value(serde_json::Value::String(change))
            .map_err(|e| damaged(&name, e))?,
        tools: r.get::<_, i64>("tools") as usize,
        from: r.get::<_, Option<i64>>("from_version").map(|v| v as u64),
    })
}

/// A row of [`VERSION_COLUMNS`] as a stored version.
fn stored(r: &Row) -> Result<Stored, StoreError> {
    let name: String = r.get("name");
    let mapping: String = r.get(6);
    let mapping: Mapping = serde_json::from_str(&mapping).map_err(|e| damaged(&name, e))?;
    let format: String = r.get("format");
    let bytes: Vec<u8> = r.get("bytes");
    Ok(Stored {
        info: info_of(r)?,
        name,
        mapping,
        spec: SpecDoc {
            bytes: bytes.into(),
            format: if format == "json" { "json" } else { "yaml" },
        },
    })
}

impl Store for Arc<PgStore> {
    fn load(&self) -> BoxFuture<'_, Result<Loaded, StoreError>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    &format!(
                        "SELECT {VERSION_COLUMNS} FROM rest2mcp_apis a \
                         JOIN rest2mcp_versions v ON v.name = a.name AND v.version = a.current \
                         JOIN rest2mcp_specs s ON s.hash = v.spec_hash ORDER BY a.name"
                    ),
                    &[],
                )
                .await?;
            let mut loaded = Loaded::default();
            for r in &rows {
                match stored(r) {
                    Ok(s) => loaded.apis.push(s),
                    Err(e) => loaded.damaged.push(e),
                }
            }
            Ok(loaded)
        })
    }

    fn current<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Stored>, StoreError>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    &format!(
                        "SELECT {VERSION_COLUMNS} FROM rest2mcp_apis a \
                         JOIN rest2mcp_versions v ON v.name = a.name AND v.version = a.current \
                         JOIN rest2mcp_specs s ON s.hash = v.spec_hash WHERE a.name = $1"
                    ),
                    &[&name],
                )
                .await?;
            rows.first().map(stored).transpose()
        })
    }

    fn version<'a>(
        &'a self,
        name: &'a str,
        version: u64,
    ) -> BoxFuture<'a, Result<Stored, StoreError>> {
        Box::pin(async move {
            let current = self
                .current_version(name)
                .await?
                .ok_or_else(|| StoreError::NotFound(name.to_string()))?;
            let no = || StoreError::NoVersion {
                name: name.to_string(),
                version,
            };
            if version as i64 > current {
                return Err(no());
            }
            let rows = self
                .rows(
                    &format!(
                        "SELECT {VERSION_COLUMNS} FROM rest2mcp_versions v \
                         JOIN rest2mcp_specs s ON s.hash = v.spec_hash \
                         WHERE v.name = $1 AND v.version = $2"
                    ),
                    &[&name, &(version as i64)],
                )
                .await?;
            rows.first().ok_or_else(no).and_then(stored)
        })
    }

    fn versions<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<VersionInfo>, StoreError>> {
        Box::pin(async move {
            let current = self
                .current_version(name)
                .await?
                .ok_or_else(|| StoreError::NotFound(name.to_string()))?;
            let rows = self
                .rows(
                    "SELECT name, version, created, change, tools, from_version \
                     FROM rest2mcp_versions WHERE name = $1 AND version <= $2 \
                     ORDER BY version DESC",
                    &[&name, &current],
                )
                .await?;
            rows.iter().map(info_of).collect()
        })
    }

    fn write(&self, w: Write) -> BoxFuture<'_, Result<VersionInfo, StoreError>> {
        Box::pin(self.write_tx(w))
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.delete_tx(name))
    }

    fn heads(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>, StoreError>> {
        Box::pin(async move {
            let rows = self
                .rows("SELECT name, current FROM rest2mcp_apis ORDER BY name", &[])
                .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
                .collect())
        })
    }

    fn changes(&self) -> Option<mpsc::UnboundedReceiver<Changed>> {
        let mut taken = self.taken.lock().expect("taken");
        if *taken {
            return None;
        }
        *taken = true;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(listen::listen(
            self.config.clone(),
            self.connector.clone(),
            tx.clone(),
        ));
        let poll = self.poll;
        tokio::spawn(async move {
            let mut every = tokio::time::interval(poll);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                if tx.send(Changed::Check).is_err() {
                    return;
                }
            }
        });
        Some(rx)
    }
}
