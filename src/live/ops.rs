//! The admin operations on stored APIs: put a spec and/or a mapping (with a dry run that only
//! answers the diff), delete, roll back. Each is checked by building it before anything is
//! stored; breaking changes need `force`; a write is stored durably, then swapped in.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::diff::{Diff, diff};
use super::mapping::Mapping;
use super::operations::{OperationView, views};
use super::registry::{Build, Source, store_label};
use super::status::Trigger;
use super::store::{Change, SpecDoc, StoreError, Write};
use super::{Live, fingerprint};
use crate::ingest::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(
        "api `{0}` comes from the config file and is read-only here: change the config file instead"
    )]
    ReadOnly(String),
    #[error("no API named `{0}` here")]
    NotFound(String),
    #[error("{0}")]
    BadName(String),
    #[error("{message}")]
    Invalid {
        message: String,
        diagnostics: Vec<Diagnostic>,
    },
    #[error("the new version has breaking changes: repeat with force=true to apply it")]
    Breaking(Box<Outcome>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no store is configured: start with --data-dir (or the `store:` section)")]
    NoStore,
}

/// What a put (or rollback) did, or would do.
#[derive(Debug, Serialize)]
pub struct Outcome {
    pub name: String,
    pub applied: bool,
    pub created: bool,
    /// The stored version (when applied).
    pub version: Option<u64>,
    pub tools: usize,
    pub mcp_url: String,
    pub diff: Diff,
    pub diagnostics: Vec<Diagnostic>,
    pub operations: Vec<OperationView>,
}

/// Names the admin API may create: those a config entry may have, and none that starts with a
/// dot (the store keeps one directory per name).
pub fn check_name(name: &str) -> Result<(), LiveError> {
    if name.len() > 64 || !crate::config::plain_name(name) {
        return Err(LiveError::BadName(format!(
            "api name `{name}` must be 1 to 64 of A-Z a-z 0-9 - _ . and not start with a dot"
        )));
    }
    Ok(())
}

/// A put: a new spec, a new mapping, or both.
pub struct Put {
    pub spec: Option<SpecDoc>,
    pub mapping: Option<Mapping>,
    pub dry_run: bool,
    pub force: bool,
}

/// Run a change to its end on a task of its own. A request's future is dropped when its client
/// hangs up; a change cut off there would keep writing in the background (the store's blocking
/// work goes on) with its locks released, so a retry could race it and lose what it wrote, or
/// leave the store ahead of what is served.
async fn to_the_end<T: Send + 'static>(
    change: impl Future<Output = Result<T, LiveError>> + Send + 'static,
) -> Result<T, LiveError> {
    match tokio::spawn(change).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(LiveError::Store(StoreError::Unavailable(
            "the gateway is stopping".into(),
        ))),
    }
}

impl Live {
    pub async fn put(self: &Arc<Self>, name: &str, p: Put) -> Result<Outcome, LiveError> {
        let (live, name) = (self.clone(), name.to_string());
        to_the_end(async move { live.put_version(&name, p, None).await }).await
    }

    /// Store version `version` of `name` again as its newest, and serve it.
    pub async fn rollback(
        self: &Arc<Self>,
        name: &str,
        version: u64,
    ) -> Result<Outcome, LiveError> {
        let (live, name) = (self.clone(), name.to_string());
        to_the_end(async move { live.rollback_to(&name, version).await }).await
    }

    async fn rollback_to(self: &Arc<Self>, name: &str, version: u64) -> Result<Outcome, LiveError> {
        let store = self.store.as_ref().ok_or(LiveError::NoStore)?;
        self.check_writable(name)?;
        let old = store.version(name, version).await?;
        let p = Put {
            spec: Some(old.spec),
            mapping: Some(old.mapping),
            dry_run: false,
            force: true,
        };
        self.put_version(name, p, Some(version)).await
    }

    pub async fn delete(self: &Arc<Self>, name: &str) -> Result<(), LiveError> {
        let (live, name) = (self.clone(), name.to_string());
        to_the_end(async move { live.delete_now(&name).await }).await
    }

    async fn delete_now(self: &Arc<Self>, name: &str) -> Result<(), LiveError> {
        let store = self.store.as_ref().ok_or(LiveError::NoStore)?;
        let _one_at_a_time = self.changing.lock().await;
        self.check_writable(name)?;
        if !store.delete(name).await? {
            return Err(LiveError::NotFound(name.to_string()));
        }
        self.uninstall(name);
        self.status.forget(name);
        tracing::info!(api = %name, "deleted");
        Ok(())
    }

    fn check_writable(&self, name: &str) -> Result<(), LiveError> {
        let reg = self.registry.load();
        if reg.shared.cfg.apis.iter().any(|a| a.name == name)
            || reg
                .apis
                .get(name)
                .is_some_and(|e| e.source == Source::Config)
        {
            return Err(LiveError::ReadOnly(name.to_string()));
        }
        Ok(())
    }

    async fn put_version(
        self: &Arc<Self>,
        name: &str,
        p: Put,
        rollback_of: Option<u64>,
    ) -> Result<Outcome, LiveError> {
        check_name(name)?;
        let store = self.store.clone().ok_or(LiveError::NoStore)?;
        let _one_at_a_time = self.changing.lock().await;
        let started = Instant::now();
        self.check_writable(name)?;
        let reg = self.registry.load_full();
        let existing = reg.apis.get(name).cloned();
        let current = store.current(name).await?;
        let (spec_doc, new_spec) = match (p.spec, &current) {
            (Some(s), _) => (s, true),
            (None, Some(c)) => (c.spec.clone(), false),
            (None, None) => return Err(LiveError::NotFound(name.to_string())),
        };
        let mapping = p
            .mapping
            .or_else(|| current.as_ref().map(|c| c.mapping.clone()))
            .unwrap_or_default();
        let change = match (&current, rollback_of) {
            (_, Some(_)) => Change::Rollback,
            (None, _) => Change::Create,
            (Some(c), _) if new_spec && c.spec.bytes != spec_doc.bytes => Change::Spec,
            _ => Change::Mapping,
        };
        let bytes = spec_doc.bytes.clone();
        let spec = tokio::task::spawn_blocking(move || crate::ingest::parse(&bytes))
            .await
            .map_err(|e| invalid(e.to_string()))?
            .map_err(|e| invalid(format!("the spec cannot be read: {e}")))?;
        let config = mapping.to_api(name, store_label(name));
        let previous_names = existing
            .as_ref()
            .map(|e| e.catalog.tool_names_by_operation());
        let (operations, diagnostics) = {
            let (spec, config, server) =
                (spec.clone(), config.clone(), reg.shared.cfg.server.clone());
            let names = previous_names.clone();
            tokio::task::spawn_blocking(move || {
                (
                    views(&spec, &config, &server, names.as_ref()),
                    spec.diagnostics.clone(),
                )
            })
            .await
            .map_err(|e| invalid(e.to_string()))?
        };
        let build = Build {
            fingerprint: fingerprint(&config, &spec_doc.bytes),
            config,
            spec,
            source: Source::Store,
            version: None,
            reread_secrets: false,
        };
        let mut entry = match self
            .build(reg.shared.clone(), build, existing.clone())
            .await
        {
            Ok(e) => e,
            Err(e) => {
                let message = e.to_string();
                if !p.dry_run {
                    self.status.record(
                        name,
                        Trigger::Admin,
                        Err(message.clone()),
                        started.elapsed(),
                    );
                }
                return Err(LiveError::Invalid {
                    message,
                    diagnostics,
                });
            }
        };
        let d = diff(existing.as_ref().map(|e| &*e.catalog), &entry.catalog);
        let mut outcome = Outcome {
            name: name.to_string(),
            applied: false,
            created: current.is_none(),
            version: None,
            tools: entry.catalog.tools.len(),
            mcp_url: reg.mcp_url(name),
            diff: d,
            diagnostics,
            operations,
        };
        if p.dry_run {
            return Ok(outcome);
        }
        if outcome.diff.breaking && !p.force && current.is_some() {
            return Err(LiveError::Breaking(Box::new(outcome)));
        }
        let info = store
            .write(Write {
                name: name.to_string(),
                change,
                spec: new_spec.then_some(spec_doc),
                mapping,
                tools: outcome.tools,
                from: rollback_of,
            })
            .await?;
        entry.version = Some(info.version);
        self.install(entry);
        self.status.record(
            name,
            Trigger::Admin,
            Ok(Some(info.version)),
            started.elapsed(),
        );
        outcome.applied = true;
        outcome.version = Some(info.version);
        Ok(outcome)
    }
}

fn invalid(message: String) -> LiveError {
    LiveError::Invalid {
        message,
        diagnostics: vec![],
    }
}
