//! Live mapping: what is served can change while the gateway runs, one API at a time.
//!
//! Every change (the config file or a spec it names changing on disk, SIGHUP, an admin API
//! write) is built off the serving threads, checked (a spec that does not read, a mapping or
//! base URL that does not build, is refused and the previous version keeps serving), stored
//! durably when it comes from the admin API, and then swapped in atomically for that API
//! alone ([`registry`]). Clients learn of it (`notifications/tools/list_changed`).
//!
//! - [`store`]: the storage interface; [`files`]: the embedded data-directory store;
//!   [`postgres`]: the store several replicas share; [`sync`]: following the others' writes.
//! - [`mapping`]: a stored API's mapping; [`diff`]: what a new version changes for clients.
//! - [`ops`]: the admin operations (put a spec, put a mapping, delete, roll back).
//! - [`reload`]: rebuilding from the config file; [`watch`]: file watch and SIGHUP.
//! - [`status`]: the record of reloads.

pub mod diff;
pub mod files;
pub mod mapping;
pub mod operations;
pub mod ops;
pub mod postgres;
pub mod registry;
pub mod reload;
pub mod secrets;
pub mod status;
pub mod store;
pub mod sync;
pub mod watch;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::catalog::BuildError;
use crate::config::ApiConfig;
use registry::{ApiEntry, Build, Registry, Shared, Source};
use store::Store;

/// The live state and everything that changes it.
pub struct Live {
    pub registry: Arc<ArcSwap<Registry>>,
    pub store: Option<Arc<dyn Store>>,
    /// The config file, when serving from one (reloaded on change and SIGHUP).
    pub config_path: Option<PathBuf>,
    /// Per API: a counter bumped whenever it changes (survives rebuilds): what
    /// `notifications/tools/list_changed` subscribers wait on.
    signals: Mutex<HashMap<String, tokio::sync::watch::Sender<u64>>>,
    /// Changes to the registry, one at a time.
    changing: tokio::sync::Mutex<()>,
    pub status: status::Log,
}

impl Live {
    pub fn new(
        shared: Arc<Shared>,
        store: Option<Arc<dyn Store>>,
        config_path: Option<PathBuf>,
    ) -> Arc<Live> {
        Arc::new(Live {
            registry: Arc::new(ArcSwap::from_pointee(Registry::empty(shared))),
            store,
            config_path,
            signals: Mutex::default(),
            changing: tokio::sync::Mutex::new(()),
            status: status::Log::default(),
        })
    }

    /// The change counter of `name` (created on first use).
    pub fn changes(&self, name: &str) -> tokio::sync::watch::Receiver<u64> {
        self.signals
            .lock()
            .expect("signals")
            .entry(name.to_string())
            .or_insert_with(|| tokio::sync::watch::channel(0).0)
            .subscribe()
    }

    /// Tell `name`'s subscribers its tool list changed.
    fn notify(&self, name: &str) {
        if let Some(tx) = self.signals.lock().expect("signals").get(name) {
            tx.send_modify(|v| *v += 1);
        }
    }

    /// Swap `entry` in (for its API alone) and tell its subscribers.
    fn install(&self, entry: ApiEntry) {
        let name = entry.name.clone();
        let entry = Arc::new(entry);
        self.registry.rcu(|r| r.with(entry.clone()));
        self.notify(&name);
    }

    /// Take `name` out of service.
    fn uninstall(&self, name: &str) {
        self.registry.rcu(|r| r.without(name));
        self.notify(name);
    }

    /// Build one entry off the serving threads.
    async fn build(
        &self,
        shared: Arc<Shared>,
        b: Build,
        previous: Option<Arc<ApiEntry>>,
    ) -> Result<ApiEntry, BuildError> {
        let changes = self.changes(&b.config.name);
        tokio::task::spawn_blocking(move || {
            registry::build_entry(&shared, b, previous.as_deref(), changes)
        })
        .await
        .unwrap_or_else(|e| {
            Err(BuildError::Config(crate::config::ConfigError::Invalid(
                format!("the build failed: {e}"),
            )))
        })
    }
}

/// What decides whether an API must be rebuilt: its config entry and its spec's bytes.
pub fn fingerprint(api: &ApiConfig, spec: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{api:?}").hash(&mut h);
    spec.hash(&mut h);
    h.finish()
}

/// The fingerprint of a config entry and its spec file, read in chunks (for config APIs; they
/// are only compared with each other).
pub fn fingerprint_file(api: &ApiConfig, path: &std::path::Path) -> std::io::Result<u64> {
    use std::io::Read as _;
    let mut h = file_hasher(api);
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.write(&buf[..n]);
    }
    Ok(h.finish())
}

/// A config entry's spec file loaded, and its fingerprint (as [`fingerprint_file`] gives) from
/// the same single read.
pub fn load_fingerprinted(
    api: &ApiConfig,
) -> Result<(crate::ingest::ApiSpec, u64), crate::ingest::IngestError> {
    let mut h = file_hasher(api);
    let spec = crate::ingest::load_file_seen(&api.spec, &mut |bytes| h.write(bytes))?;
    Ok((spec, h.finish()))
}

/// The hasher of a config API's fingerprint, its entry hashed; the spec's bytes follow.
fn file_hasher(api: &ApiConfig) -> std::collections::hash_map::DefaultHasher {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{api:?}").hash(&mut h);
    h
}

/// A stored API as a build.
fn stored_build(s: &store::Stored) -> Result<Build, String> {
    let spec = crate::ingest::parse(&s.spec.bytes).map_err(|e| e.to_string())?;
    let config = s.mapping.to_api(&s.name, registry::store_label(&s.name));
    Ok(Build {
        fingerprint: fingerprint(&config, &s.spec.bytes),
        config,
        spec,
        source: Source::Store,
        version: Some(s.info.version),
        reread_secrets: false,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::ApiConfig;

    /// The fingerprint taken while a spec loads (one read) is the one a reload computes by
    /// hashing the file alone: for YAML, JSON read whole, and JSON streamed (over 8 MiB, with
    /// trailing whitespace after the document); and a changed byte changes it.
    #[test]
    fn the_fingerprint_taken_while_loading_is_the_one_a_reload_computes() {
        let dir = tempfile::tempdir().unwrap();
        let op = |i: usize| {
            format!(
                "\"/p{i}\":{{\"get\":{{\"operationId\":\"op{i}\",\"description\":\"{}\",\"responses\":{{\"200\":{{\"description\":\"ok\"}}}}}}}}",
                "x".repeat(900)
            )
        };
        let big_paths: Vec<String> = (0..9_500).map(op).collect();
        let cases = [
            ("a.yaml", "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n      responses: {'200': {description: ok}}\n".to_string()),
            ("b.json", format!("{{\"openapi\":\"3.0.3\",\"info\":{{\"title\":\"t\",\"version\":\"1\"}},\"paths\":{{{}}}}}", op(1))),
            ("c.json", format!("{{\"openapi\":\"3.0.3\",\"info\":{{\"title\":\"t\",\"version\":\"1\"}},\"paths\":{{{}}}}}\n\n  \n", big_paths.join(","))),
        ];
        for (file, text) in cases {
            let path = dir.path().join(file);
            std::fs::write(&path, &text).unwrap();
            let api = ApiConfig {
                name: "t".into(),
                spec: path.clone(),
                ..ApiConfig::default()
            };
            let (spec, seen) = super::load_fingerprinted(&api).unwrap();
            assert!(!spec.operations.is_empty(), "{file}");
            let hashed = super::fingerprint_file(&api, &path).unwrap();
            assert_eq!(seen, hashed, "{file} ({} bytes)", text.len());
            std::fs::write(
                &path,
                text.replacen("\"t\"", "\"u\"", 1)
                    .replacen(": t,", ": u,", 1),
            )
            .unwrap();
            assert_ne!(
                super::fingerprint_file(&api, &path).unwrap(),
                hashed,
                "{file}"
            );
        }
    }
}
