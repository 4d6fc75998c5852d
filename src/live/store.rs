//! The store interface: where uploaded specs and their mappings live, version by version.
//!
//! Small on purpose, so that a shared database (PostgreSQL, for several replicas) can implement
//! it beside the embedded file store ([`super::files::FileStore`]): every write is one new
//! version of one API, durable before the call returns; a version pairs a spec (stored once per
//! distinct content) with a mapping; the newest `keep` versions are kept. A shared store also
//! tells each process what the others changed ([`Store::changes`], applied by `live::sync`).

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use super::mapping::Mapping;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("damaged store entry {path}: {message}")]
    Damaged { path: String, message: String },
    #[error("no API named `{0}` in the store")]
    NotFound(String),
    #[error("API `{name}` has no version {version} (kept: the last ones only)")]
    NoVersion { name: String, version: u64 },
    #[error(
        "the data directory is in use by another rest2mcp process (its lock {path} was held for {waited} s): stop it, or give this one its own --data-dir"
    )]
    Locked { path: String, waited: u64 },
    #[error(
        "the database did not confirm the change: {0} (it may have been applied: every replica, this one included, serves what the database holds once it answers again)"
    )]
    Uncertain(String),
    #[error("the database is unavailable: {0} (nothing was changed; serving goes on from memory)")]
    Unavailable(String),
}

/// A change another process made to a shared store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// One API changed: its new current version (`None`: deleted).
    Api { name: String, version: Option<u64> },
    /// Anything may have changed (reconnected, or the periodic check): compare every API.
    Check,
}

/// What changed in a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A new API.
    Create,
    /// A new spec (and possibly a new mapping).
    Spec,
    /// A new mapping on the same spec.
    Mapping,
    /// An earlier version's spec and mapping, again.
    Rollback,
}

/// The spec document of a version, as uploaded.
#[derive(Debug, Clone)]
pub struct SpecDoc {
    pub bytes: bytes::Bytes,
    /// `json` or `yaml` (for the file name; readers detect the format themselves).
    pub format: &'static str,
}

/// One version's facts, without its spec.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VersionInfo {
    pub version: u64,
    /// RFC 3339, UTC.
    pub created: String,
    pub change: Change,
    /// Tools the version served when it was written.
    pub tools: usize,
    /// The version this one restored (rollbacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u64>,
}

/// One version whole: its facts, its mapping, and where its spec is.
#[derive(Debug, Clone)]
pub struct Stored {
    pub name: String,
    pub info: VersionInfo,
    pub mapping: Mapping,
    pub spec: SpecDoc,
}

/// A write: the spec (`None`: the current version's) and the mapping of the new version.
pub struct Write {
    pub name: String,
    pub change: Change,
    pub spec: Option<SpecDoc>,
    pub mapping: Mapping,
    pub tools: usize,
    pub from: Option<u64>,
}

/// What loading the whole store found: the current version of every API, and the entries
/// that could not be read (reported, skipped, never a crash).
#[derive(Default)]
pub struct Loaded {
    pub apis: Vec<Stored>,
    pub damaged: Vec<StoreError>,
}

/// Durable, versioned storage of uploaded APIs.
pub trait Store: Send + Sync + 'static {
    /// The current version of every API.
    fn load(&self) -> BoxFuture<'_, Result<Loaded, StoreError>>;
    /// The current version of one API.
    fn current<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Stored>, StoreError>>;
    /// One kept version of one API.
    fn version<'a>(
        &'a self,
        name: &'a str,
        version: u64,
    ) -> BoxFuture<'a, Result<Stored, StoreError>>;
    /// Every kept version's facts, newest first.
    fn versions<'a>(&'a self, name: &'a str)
    -> BoxFuture<'a, Result<Vec<VersionInfo>, StoreError>>;
    /// Store a new version (numbered after the newest); durable when it returns.
    fn write(&self, w: Write) -> BoxFuture<'_, Result<VersionInfo, StoreError>>;
    /// Remove an API and all its versions; `false` if there was none.
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// The current version number of every API (no specs read).
    fn heads(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>, StoreError>>;
    /// What other processes sharing this store change (taken once). `None`: no other writer.
    fn changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Changed>> {
        None
    }
}

/// Now, as RFC 3339 in UTC with seconds (`2026-11-30T20:01:02Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_032_062), "2026-11-18T20:01:02Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
