//! The embedded store: files in a data directory, readable and diffable by a person.
//!
//! ```text
//! <data dir>/apis/<name>/current               the current version's number
//! <data dir>/apis/<name>/versions/00000007.yaml its facts, its spec's file, its mapping
//! <data dir>/apis/<name>/specs/<sha256>.yaml   each distinct spec, as uploaded
//! ```
//!
//! A write is durable before it returns: each file is written to a temporary file in its
//! directory, synced, renamed into place, and the directory synced (so a `kill -9` or a power
//! cut leaves the old or the new file, never a torn one), in an order that makes `current`
//! the commit point: the spec, then the version file, then `current`. A version file newer
//! than `current` is an unacknowledged write and is ignored (and overwritten by the next
//! write). Writes are serialized. An entry that cannot be read at start is reported and
//! skipped.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::mapping::Mapping;
use super::store::{BoxFuture, Loaded, SpecDoc, Store, StoreError, Stored, VersionInfo, Write};

mod lock;
#[cfg(test)]
mod tests;
use lock::{LOCK_WAIT, lock};

/// The store in a data directory.
pub struct FileStore {
    root: PathBuf,
    keep: usize,
    /// One write at a time.
    writing: tokio::sync::Mutex<()>,
    /// The data directory's lock (`lock`), held while the store is open.
    _lock: std::fs::File,
}

/// A version file.
#[derive(Serialize, Deserialize)]
struct VersionFile {
    #[serde(flatten)]
    info: VersionInfo,
    /// The spec's file, relative to the API's directory.
    spec: String,
    mapping: Mapping,
}

impl FileStore {
    /// Open (creating) the store under `data_dir`, keeping `keep` versions per API.
    /// Waits for the data directory's lock (see [`lock`]) until `cancel`.
    pub fn open(
        data_dir: &Path,
        keep: usize,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<Arc<Self>, StoreError> {
        let root = data_dir.join("apis");
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        let lock = lock(&root.join(".lock"), LOCK_WAIT, cancel)?;
        Ok(Arc::new(FileStore {
            root,
            keep: keep.max(1),
            writing: tokio::sync::Mutex::new(()),
            _lock: lock,
        }))
    }

    /// The directory of the API `name`. A name that is not a plain file name (empty, a dot
    /// first, a separator or anything outside `A-Z a-z 0-9 - _ .`) names no API: it never
    /// reaches the file system, so `../x` or `/etc` cannot read or delete outside the store.
    fn dir(&self, name: &str) -> Result<PathBuf, StoreError> {
        if !crate::config::plain_name(name) {
            return Err(StoreError::NotFound(name.to_string()));
        }
        Ok(self.root.join(name))
    }
}

pub(super) fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn damaged(path: &Path, message: impl std::fmt::Display) -> StoreError {
    StoreError::Damaged {
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

/// Write `bytes` to `dir/name` durably: temporary file, fsync, rename, fsync of the directory.
pub fn write_durable(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(dir))?;
    tmp.as_file().sync_all().map_err(io(dir))?;
    let target = dir.join(name);
    tmp.persist(&target).map_err(|e| io(&target)(e.error))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

fn version_file(v: u64) -> String {
    format!("{v:08}.yaml")
}

fn read_current(dir: &Path) -> Result<Option<u64>, StoreError> {
    let path = dir.join("current");
    match std::fs::read_to_string(&path) {
        Ok(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| damaged(&path, "not a version number")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

fn read_version(dir: &Path, name: &str, v: u64) -> Result<Stored, StoreError> {
    let path = dir.join("versions").join(version_file(v));
    let text = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::NoVersion {
                name: name.to_string(),
                version: v,
            }
        } else {
            io(&path)(e)
        }
    })?;
    let file: VersionFile = yaml_serde::from_slice(&text).map_err(|e| damaged(&path, e))?;
    if file.info.version != v || file.spec.contains("..") || file.spec.starts_with('/') {
        return Err(damaged(&path, "inconsistent version file"));
    }
    let spec_path = dir.join(&file.spec);
    let bytes = std::fs::read(&spec_path).map_err(io(&spec_path))?;
    let format = if file.spec.ends_with(".json") {
        "json"
    } else {
        "yaml"
    };
    Ok(Stored {
        name: name.to_string(),
        info: file.info,
        mapping: file.mapping,
        spec: SpecDoc {
            bytes: bytes.into(),
            format,
        },
    })
}

fn list_versions(dir: &Path) -> Result<Vec<VersionInfo>, StoreError> {
    let vdir = dir.join("versions");
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&vdir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(&vdir)(e)),
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let Ok(text) = std::fs::read(&path) else {
            continue;
        };
        if let Ok(f) = yaml_serde::from_slice::<VersionFile>(&text) {
            out.push(f.info);
        }
    }
    out.sort_by_key(|v| std::cmp::Reverse(v.version));
    Ok(out)
}

/// Every version file's number and spec, or `None` if any cannot be read or parsed.
fn read_all_versions(vdir: &Path) -> Option<Vec<(u64, String)>> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(vdir).ok()? {
        let path = e.ok()?.path();
        if path.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let text = std::fs::read(&path).ok()?;
        let f: VersionFile = yaml_serde::from_slice(&text).ok()?;
        all.push((f.info.version, f.spec));
    }
    Some(all)
}

fn spec_hash(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl FileStore {
    fn load_sync(&self) -> Result<Loaded, StoreError> {
        let mut loaded = Loaded::default();
        let entries = std::fs::read_dir(&self.root).map_err(io(&self.root))?;
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(String::from))
            .collect();
        names.sort();
        for name in names {
            let dir = self.root.join(&name);
            if name.starts_with('.') {
                // A delete that was interrupted: finish it.
                let _ = std::fs::remove_dir_all(&dir);
                continue;
            }
            match read_current(&dir) {
                Ok(Some(v)) => match read_version(&dir, &name, v) {
                    Ok(s) => loaded.apis.push(s),
                    Err(e) => loaded.damaged.push(e),
                },
                // Created but never acknowledged (no `current` yet): nothing to serve.
                Ok(None) => {}
                Err(e) => loaded.damaged.push(e),
            }
        }
        Ok(loaded)
    }

    fn write_sync(&self, w: Write) -> Result<VersionInfo, StoreError> {
        let dir = self.dir(&w.name)?;
        let current = read_current(&dir)?;
        for d in [dir.join("versions"), dir.join("specs")] {
            std::fs::create_dir_all(&d).map_err(io(&d))?;
        }
        if current.is_none() {
            // A first version (perhaps after a write that failed half way): the directories
            // must be durable before it is acknowledged.
            sync_dir(&self.root)?;
            sync_dir(&dir)?;
        }
        let version = current.map_or(1, |c| c + 1);
        // The spec: stored once per distinct content.
        let spec_file = match &w.spec {
            Some(doc) => {
                let file = format!("specs/{}.{}", spec_hash(&doc.bytes), doc.format);
                if dir.join(&file).exists() {
                    // Left by an earlier write: its name may not be durable yet.
                    sync_dir(&dir.join("specs"))?;
                } else {
                    write_durable(&dir.join("specs"), &file["specs/".len()..], &doc.bytes)?;
                }
                file
            }
            None => {
                let c = current.ok_or_else(|| StoreError::NotFound(w.name.clone()))?;
                let path = dir.join("versions").join(version_file(c));
                let text = std::fs::read(&path).map_err(io(&path))?;
                let f: VersionFile =
                    yaml_serde::from_slice(&text).map_err(|e| damaged(&path, e))?;
                f.spec
            }
        };
        let info = VersionInfo {
            version,
            created: super::store::now_rfc3339(),
            change: w.change,
            tools: w.tools,
            from: w.from,
        };
        let file = VersionFile {
            info: info.clone(),
            spec: spec_file,
            mapping: w.mapping,
        };
        let text = yaml_serde::to_string(&file).map_err(|e| damaged(&dir, e))?;
        write_durable(
            &dir.join("versions"),
            &version_file(version),
            text.as_bytes(),
        )?;
        // The commit point.
        write_durable(&dir, "current", format!("{version}\n").as_bytes())?;
        self.prune(&dir, version);
        Ok(info)
    }

    /// Keep the newest `keep` versions and the specs they use (best effort: a leftover file is
    /// harmless). Every version file is read first; if any cannot be read, nothing is removed,
    /// so a spec still in use never goes.
    fn prune(&self, dir: &Path, current: u64) {
        let Some(mut all) = read_all_versions(&dir.join("versions")) else {
            tracing::warn!(dir = %dir.display(), "a version file cannot be read: old versions are kept");
            return;
        };
        all.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
        let keep: Vec<u64> = all
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| *v <= current)
            .take(self.keep)
            .collect();
        let mut used = std::collections::HashSet::new();
        for (v, spec) in all {
            if keep.contains(&v) || v > current {
                used.insert(spec);
            } else {
                let _ = std::fs::remove_file(dir.join("versions").join(version_file(v)));
            }
        }
        if let Ok(specs) = std::fs::read_dir(dir.join("specs")) {
            for e in specs.flatten() {
                let rel = format!("specs/{}", e.file_name().to_string_lossy());
                if !used.contains(&rel) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    fn delete_sync(&self, name: &str) -> Result<bool, StoreError> {
        let Ok(dir) = self.dir(name) else {
            return Ok(false);
        };
        if !dir.exists() {
            return Ok(false);
        }
        // One rename is the commit point; the files go afterwards (or at the next start).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let trash = self.root.join(format!(".deleted-{name}-{nanos}"));
        std::fs::rename(&dir, &trash).map_err(io(&dir))?;
        sync_dir(&self.root)?;
        let _ = std::fs::remove_dir_all(&trash);
        Ok(true)
    }
}

/// Run blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Io {
            path: "store".into(),
            source: std::io::Error::other(e.to_string()),
        })?
}

/// A handle the blocking tasks can own.
#[derive(Clone)]
struct Handle(Arc<FileStore>);

impl Store for Arc<FileStore> {
    fn load(&self) -> BoxFuture<'_, Result<Loaded, StoreError>> {
        let h = Handle(self.clone());
        Box::pin(blocking(move || h.0.load_sync()))
    }

    fn current<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Stored>, StoreError>> {
        let h = Handle(self.clone());
        let name = name.to_string();
        Box::pin(blocking(move || {
            let dir = h.0.dir(&name)?;
            match read_current(&dir)? {
                Some(v) => read_version(&dir, &name, v).map(Some),
                None => Ok(None),
            }
        }))
    }

    fn version<'a>(
        &'a self,
        name: &'a str,
        version: u64,
    ) -> BoxFuture<'a, Result<Stored, StoreError>> {
        let h = Handle(self.clone());
        let name = name.to_string();
        Box::pin(blocking(move || {
            let dir = h.0.dir(&name)?;
            let current = read_current(&dir)?.ok_or_else(|| StoreError::NotFound(name.clone()))?;
            if version > current {
                return Err(StoreError::NoVersion { name, version });
            }
            read_version(&dir, &name, version)
        }))
    }

    fn versions<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<VersionInfo>, StoreError>> {
        let h = Handle(self.clone());
        let name = name.to_string();
        Box::pin(blocking(move || {
            let dir = h.0.dir(&name)?;
            let current = read_current(&dir)?.ok_or(StoreError::NotFound(name))?;
            let mut all = list_versions(&dir)?;
            all.retain(|v| v.version <= current);
            Ok(all)
        }))
    }

    fn write(&self, w: Write) -> BoxFuture<'_, Result<VersionInfo, StoreError>> {
        let h = Handle(self.clone());
        Box::pin(async move {
            let _one_at_a_time = h.0.writing.lock().await;
            let h2 = h.clone();
            blocking(move || h2.0.write_sync(w)).await
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let h = Handle(self.clone());
        let name = name.to_string();
        Box::pin(async move {
            let _one_at_a_time = h.0.writing.lock().await;
            let h2 = h.clone();
            blocking(move || h2.0.delete_sync(&name)).await
        })
    }

    fn heads(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>, StoreError>> {
        let h = Handle(self.clone());
        Box::pin(blocking(move || {
            let entries = std::fs::read_dir(&h.0.root).map_err(io(&h.0.root))?;
            let mut out = Vec::new();
            for e in entries.flatten() {
                let Some(name) = e.file_name().to_str().map(String::from) else {
                    continue;
                };
                if !name.starts_with('.')
                    && let Ok(Some(v)) = read_current(&e.path())
                {
                    out.push((name, v));
                }
            }
            out.sort();
            Ok(out)
        }))
    }
}
