//! The record of reloads: the last ones with their results, and each API's last outcome, for
//! `GET /admin/api/status`, `GET /admin/api/apis` and the log.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

/// What started a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Start,
    File,
    Sighup,
    Admin,
    /// Another replica's write, through the shared store.
    Replica,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reload {
    pub at: String,
    pub api: String,
    pub trigger: Trigger,
    /// `ok` or `error`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    pub ms: u64,
}

/// Reloads kept.
const KEEP: usize = 100;

#[derive(Default)]
pub struct Log {
    reloads: Mutex<VecDeque<Reload>>,
    /// Per API: `ok`, or the error of its last reload.
    last: Mutex<HashMap<String, String>>,
}

impl Log {
    /// Record one API's reload (and log it).
    pub fn record(
        &self,
        api: &str,
        trigger: Trigger,
        outcome: Result<Option<u64>, String>,
        took: std::time::Duration,
    ) {
        let ms = took.as_millis() as u64;
        let (result, message, version) = match outcome {
            Ok(v) if trigger == Trigger::Start => {
                tracing::debug!(api, version = v, ms, "built");
                ("ok", None, v)
            }
            Ok(v) => {
                tracing::info!(api, ?trigger, version = v, ms, "reloaded");
                ("ok", None, v)
            }
            Err(m) if trigger == Trigger::Start => {
                tracing::error!(api, error = %m, "cannot be served");
                ("error", Some(m), None)
            }
            Err(m) => {
                tracing::warn!(api, ?trigger, error = %m, "reload refused; the previous version keeps serving");
                ("error", Some(m), None)
            }
        };
        let trigger_label = match trigger {
            Trigger::Start => "start",
            Trigger::File => "file",
            Trigger::Sighup => "sighup",
            Trigger::Admin => "admin",
            Trigger::Replica => "replica",
        };
        crate::metrics::get()
            .reloads
            .get_or_create(&crate::metrics::Reload {
                trigger: trigger_label,
                result,
            })
            .inc();
        self.last.lock().expect("status").insert(
            api.to_string(),
            message.clone().unwrap_or_else(|| "ok".into()),
        );
        let mut r = self.reloads.lock().expect("status");
        if r.len() == KEEP {
            r.pop_back();
        }
        r.push_front(Reload {
            at: super::store::now_rfc3339(),
            api: api.to_string(),
            trigger,
            result,
            message,
            version,
            ms,
        });
    }

    /// Forget an API (deleted).
    pub fn forget(&self, api: &str) {
        self.last.lock().expect("status").remove(api);
    }

    /// `ok` or the last error of `api`.
    pub fn last(&self, api: &str) -> String {
        self.last
            .lock()
            .expect("status")
            .get(api)
            .cloned()
            .unwrap_or_else(|| "ok".into())
    }

    /// The recorded reloads, newest first.
    pub fn reloads(&self) -> Vec<Reload> {
        self.reloads
            .lock()
            .expect("status")
            .iter()
            .cloned()
            .collect()
    }
}
