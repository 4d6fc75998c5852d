//! Following a shared store: what another replica writes is served here too.
//!
//! The store says what changed ([`Store::changes`](super::store::Store::changes)): one API (a
//! notification, with its new version), or "check everything" (after a reconnect, and
//! periodically). Either way an API is rebuilt from the store's current version when it differs
//! from the one served, and taken out of service when the store no longer has it. A store that
//! cannot be reached changes nothing: the registry keeps serving what it has, and the next
//! check catches up. A version that does not build here is reported once and not retried.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::registry::Source;
use super::status::Trigger;
use super::store::{Changed, StoreError};
use super::{Live, stored_build};

/// What [`Live::refresh_stored`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// Already serving the store's current version (or a config API of that name wins).
    Unchanged,
    /// Now serving this version.
    Installed(u64),
    /// No longer in the store: no longer served.
    Removed,
    /// This version does not build here; the previous one keeps serving.
    Refused(u64),
}

/// Follow the store's changes, when it is shared.
pub fn spawn(live: &Arc<Live>) {
    let Some(mut rx) = live.store.as_ref().and_then(|s| s.changes()) else {
        return;
    };
    let live = live.clone();
    tokio::spawn(async move {
        let mut state = State::default();
        while let Some(c) = rx.recv().await {
            let r = match c {
                Changed::Api { name, version } => live.follow(&name, version, &mut state).await,
                Changed::Check => live.check_store(&mut state).await,
            };
            match r {
                Ok(()) if state.unreachable => {
                    state.unreachable = false;
                    tracing::info!("the store answers again");
                }
                Ok(()) => {}
                Err(e) => {
                    if !state.unreachable {
                        tracing::warn!(error = %e, "cannot check the store: serving what is loaded");
                    }
                    state.unreachable = true;
                }
            }
        }
    });
}

#[derive(Default)]
struct State {
    /// Versions that did not build here, per API (not tried again).
    refused: HashMap<String, u64>,
    unreachable: bool,
}

impl Live {
    /// Serve `name` as the store has it now: rebuilt from its current version when that is not
    /// the one served, taken out of service when the store no longer has it. A store error
    /// changes nothing.
    pub async fn refresh_stored(self: &Arc<Self>, name: &str) -> Result<Refreshed, StoreError> {
        let Some(store) = self.store.clone() else {
            return Ok(Refreshed::Unchanged);
        };
        let _one_at_a_time = self.changing.lock().await;
        let reg = self.registry.load_full();
        if reg.shared.cfg.apis.iter().any(|a| a.name == name) {
            return Ok(Refreshed::Unchanged);
        }
        let served = reg
            .apis
            .get(name)
            .filter(|e| e.source == Source::Store)
            .cloned();
        let started = Instant::now();
        let Some(s) = store.current(name).await? else {
            if served.is_none() {
                return Ok(Refreshed::Unchanged);
            }
            self.uninstall(name);
            self.status.forget(name);
            tracing::info!(api = %name, "deleted in the store: no longer served");
            return Ok(Refreshed::Removed);
        };
        let version = s.info.version;
        if served.as_ref().and_then(|e| e.version) == Some(version) {
            return Ok(Refreshed::Unchanged);
        }
        let built = match stored_build(&s) {
            Ok(b) => self
                .build(reg.shared.clone(), b, served)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let took = started.elapsed();
        Ok(match built {
            Ok(entry) => {
                self.install(entry);
                self.status
                    .record(name, Trigger::Replica, Ok(Some(version)), took);
                Refreshed::Installed(version)
            }
            Err(e) => {
                self.status.record(name, Trigger::Replica, Err(e), took);
                Refreshed::Refused(version)
            }
        })
    }

    /// A notification: `name` is now at `version` (`None`: deleted).
    async fn follow(
        self: &Arc<Self>,
        name: &str,
        version: Option<u64>,
        state: &mut State,
    ) -> Result<(), StoreError> {
        if let Some(v) = version {
            let served = self.registry.load().apis.get(name).and_then(|e| e.version);
            if served == Some(v) || state.refused.get(name) == Some(&v) {
                return Ok(());
            }
        }
        self.refresh(name, state).await
    }

    async fn refresh(self: &Arc<Self>, name: &str, state: &mut State) -> Result<(), StoreError> {
        match self.refresh_stored(name).await? {
            Refreshed::Refused(v) => {
                state.refused.insert(name.to_string(), v);
            }
            Refreshed::Installed(_) | Refreshed::Removed => {
                state.refused.remove(name);
            }
            Refreshed::Unchanged => {}
        }
        Ok(())
    }

    /// Compare every API's served version with the store's; refresh those that differ.
    async fn check_store(self: &Arc<Self>, state: &mut State) -> Result<(), StoreError> {
        let Some(store) = self.store.clone() else {
            return Ok(());
        };
        let heads: HashMap<String, u64> = store.heads().await?.into_iter().collect();
        let reg = self.registry.load_full();
        let mut stale: Vec<String> = heads
            .iter()
            .filter(|(name, v)| {
                !reg.shared.cfg.apis.iter().any(|a| &a.name == *name)
                    && reg.apis.get(*name).and_then(|e| e.version) != Some(**v)
                    && state.refused.get(*name) != Some(*v)
            })
            .map(|(name, _)| name.clone())
            .collect();
        stale.extend(
            reg.apis
                .values()
                .filter(|e| e.source == Source::Store && !heads.contains_key(&e.name))
                .map(|e| e.name.clone()),
        );
        stale.sort();
        for name in stale {
            self.refresh(&name, state).await?;
        }
        Ok(())
    }
}
