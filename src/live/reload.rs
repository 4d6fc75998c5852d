//! Building what is served from the config file and the store: at start (every API), and on a
//! reload (only the APIs whose config entry or spec file changed; every API when the config's
//! global sections changed).

use std::sync::Arc;
use std::time::Instant;

use super::registry::{ApiEntry, Build, Shared, Source};
use super::status::Trigger;
use super::{Live, stored_build};
use crate::config::{ApiConfig, Config};

impl Live {
    /// Build every API at start: the config's (a failure stops the start, as before) and the
    /// store's (a failure is reported and skipped; a name the config also uses is the config's).
    pub async fn start(self: &Arc<Self>) -> anyhow::Result<()> {
        let shared = self.registry.load().shared.clone();
        // Config APIs are built on every core at once (each build is single-threaded CPU
        // work), then installed together.
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let permits = Arc::new(tokio::sync::Semaphore::new(cores));
        let mut builds = tokio::task::JoinSet::new();
        for (i, api) in shared.cfg.apis.iter().cloned().enumerate() {
            let (live, shared, permits) = (self.clone(), shared.clone(), permits.clone());
            builds.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let started = Instant::now();
                let built = match config_build(api, None, false).await {
                    Ok(Some(b)) => live.build(shared, b, None).await.map_err(|e| e.to_string()),
                    Ok(None) => unreachable!("nothing to compare with at start"),
                    Err(e) => Err(e),
                };
                (i, built, started.elapsed())
            });
        }
        let mut built = Vec::with_capacity(shared.cfg.apis.len());
        while let Some(done) = builds.join_next().await {
            built.push(done.map_err(|e| anyhow::anyhow!("a build failed: {e}"))?);
        }
        built.sort_by_key(|b| b.0);
        let mut entries = Vec::with_capacity(built.len());
        for (i, result, took) in built {
            let name = &shared.cfg.apis[i].name;
            let entry = result.map_err(anyhow::Error::msg)?;
            self.status.record(name, Trigger::Start, Ok(None), took);
            entries.push(Arc::new(entry));
        }
        self.registry.rcu(|r| {
            let mut n = r.with_shared(r.shared.clone());
            n.apis = r.apis.clone();
            for e in &entries {
                n.apis.insert(e.name.clone(), e.clone());
            }
            n
        });
        for e in &entries {
            self.notify(&e.name);
        }
        let Some(store) = &self.store else {
            return Ok(());
        };
        let loaded = store.load().await?;
        for e in loaded.damaged {
            tracing::error!(error = %e, "damaged store entry skipped");
        }
        for s in loaded.apis {
            let started = Instant::now();
            if shared.cfg.apis.iter().any(|a| a.name == s.name) {
                self.status.record(
                    &s.name,
                    Trigger::Start,
                    Err(format!(
                        "the config file also defines `{}`: the stored API is not served",
                        s.name
                    )),
                    started.elapsed(),
                );
                continue;
            }
            let built = match stored_build(&s) {
                Ok(b) => self
                    .build(shared.clone(), b, None)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            match built {
                Ok(entry) => {
                    self.install(entry);
                    self.status.record(
                        &s.name,
                        Trigger::Start,
                        Ok(Some(s.info.version)),
                        started.elapsed(),
                    );
                }
                Err(e) => self
                    .status
                    .record(&s.name, Trigger::Start, Err(e), started.elapsed()),
            }
        }
        Ok(())
    }

    /// Read the config file again and apply what changed; a config that does not load is
    /// refused whole (reported), an API that does not build is refused alone.
    pub async fn reload_config(self: &Arc<Self>, trigger: Trigger) {
        let Some(path) = self.config_path.clone() else {
            return;
        };
        let _one_at_a_time = self.changing.lock().await;
        let started = Instant::now();
        let cfg = match tokio::task::spawn_blocking(move || Config::load(&path)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                self.status
                    .record("(config)", trigger, Err(e.to_string()), started.elapsed());
                return;
            }
            Err(e) => {
                self.status
                    .record("(config)", trigger, Err(e.to_string()), started.elapsed());
                return;
            }
        };
        let reg = self.registry.load_full();
        let old = &reg.shared;
        let global = |c: &Config| format!("{:?}{:?}{:?}", c.server, c.upstream, c.auth);
        let rebuild_all = global(&old.cfg) != global(&cfg);
        if rebuild_all
            && (old.cfg.listen != cfg.listen || old.cfg.server.threads != cfg.server.threads)
        {
            tracing::warn!("`listen` and `server.threads` apply at the next start");
        }
        let shared = if rebuild_all {
            match Shared::rebuild(old, cfg.clone()) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    self.status
                        .record("(config)", trigger, Err(e), started.elapsed());
                    return;
                }
            }
        } else {
            Arc::new(old.with_config(cfg.clone()))
        };
        self.registry.rcu(|r| {
            let mut n = r.with_shared(shared.clone());
            n.apis = r.apis.clone();
            n
        });
        // Config APIs: new or changed ones are rebuilt, the others kept.
        for api in &cfg.apis {
            let t = Instant::now();
            let previous = reg.apis.get(&api.name).cloned();
            // SIGHUP reads the secrets of backend credentials again: an API whose values
            // changed (a rotated file or variable) is built again, the others are kept.
            let reread = trigger == Trigger::Sighup
                && has_secrets(api)
                && !previous
                    .as_ref()
                    .is_some_and(|p| p.access.downstream.secrets_unchanged(api));
            // Unchanged entries (same config entry and spec bytes) are not parsed again.
            let same = previous
                .as_ref()
                .filter(|p| !rebuild_all && !reread && p.source == Source::Config)
                .map(|p| p.fingerprint);
            let b = match config_build(api.clone(), same, reread).await {
                Ok(Some(b)) => b,
                Ok(None) => continue,
                Err(e) => {
                    self.status.record(&api.name, trigger, Err(e), t.elapsed());
                    continue;
                }
            };
            match self.build(shared.clone(), b, previous).await {
                Ok(entry) => {
                    self.install(entry);
                    self.status
                        .record(&api.name, trigger, Ok(None), t.elapsed());
                }
                Err(e) => self
                    .status
                    .record(&api.name, trigger, Err(e.to_string()), t.elapsed()),
            }
        }
        // Config APIs no longer in the file go; with new global settings, store APIs are
        // rebuilt too.
        for (name, entry) in &reg.apis {
            match entry.source {
                Source::Config if !cfg.apis.iter().any(|a| &a.name == name) => {
                    self.uninstall(name);
                    self.status.forget(name);
                    tracing::info!(api = %name, "no longer in the config file: not served");
                    // A stored API of the same name, hidden until now, is served again.
                    if let Some(store) = &self.store
                        && matches!(store.current(name).await, Ok(Some(_)))
                    {
                        self.rebuild_stored(&shared, name, None, trigger).await;
                    }
                }
                // A name the config file now uses is the config's: its entry was built above.
                Source::Store if cfg.apis.iter().any(|a| &a.name == name) => {}
                Source::Store
                    if rebuild_all
                        || (trigger == Trigger::Sighup
                            && has_secrets(&entry.config)
                            && !entry.access.downstream.secrets_unchanged(&entry.config)) =>
                {
                    self.rebuild_stored(&shared, name, Some(entry.clone()), trigger)
                        .await;
                }
                _ => {}
            }
        }
    }

    /// Build the stored API `name` again (its entry `previous`, if served) and serve it.
    async fn rebuild_stored(
        &self,
        shared: &Arc<Shared>,
        name: &str,
        previous: Option<Arc<ApiEntry>>,
        trigger: Trigger,
    ) {
        let Some(store) = &self.store else { return };
        let t = Instant::now();
        let built = match store.current(name).await {
            Ok(Some(s)) => match stored_build(&s) {
                Ok(mut b) => {
                    b.reread_secrets = trigger == Trigger::Sighup;
                    self.build(shared.clone(), b, previous)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e),
            },
            Ok(None) => Err("no longer in the store".into()),
            Err(e) => Err(e.to_string()),
        };
        match built {
            Ok(new) => {
                let v = new.version;
                self.install(new);
                self.status.record(name, trigger, Ok(v), t.elapsed());
            }
            Err(e) => self.status.record(name, trigger, Err(e), t.elapsed()),
        }
    }
}

/// A config entry as a build: its spec file read and parsed (off the serving threads).
/// `None` when its fingerprint is `same` (nothing to rebuild). The file is hashed as it is
/// parsed (one read); a reload hashes it first, in chunks, and reads it again only if it
/// changed. A large spec is never in memory twice (JSON is streamed).
async fn config_build(
    api: ApiConfig,
    same: Option<u64>,
    reread_secrets: bool,
) -> Result<Option<Build>, String> {
    tokio::task::spawn_blocking(move || {
        if let Some(same) = same {
            let fingerprint = super::fingerprint_file(&api, &api.spec).map_err(|e| {
                format!(
                    "api `{}`: cannot read {}: {e}",
                    api.name,
                    api.spec.display()
                )
            })?;
            if same == fingerprint {
                return Ok(None);
            }
        }
        // The fingerprint kept is that of the bytes parsed (the file may change again between
        // the hash above and this read).
        let (spec, fingerprint) =
            super::load_fingerprinted(&api).map_err(|e| format!("api `{}`: {e}", api.name))?;
        Ok(Some(Build {
            fingerprint,
            config: api,
            spec,
            source: Source::Config,
            version: None,
            reread_secrets,
        }))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Whether an API's backend credential reads secrets (SIGHUP reads them again).
fn has_secrets(api: &ApiConfig) -> bool {
    !api.downstream.credential.secrets().is_empty()
}
