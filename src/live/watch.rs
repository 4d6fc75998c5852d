//! Reload triggers besides the admin API: SIGHUP, and a debounced watch of the config file and
//! of the spec files it names.
//!
//! The watch is on their directories, not the files: editors save by renaming a new file over
//! the old one, and a Kubernetes ConfigMap volume swaps a `..data` symlink to a new directory;
//! both change the directory, not the file that was watched. Any event there that concerns
//! one of the files (or a `..`-named entry of such a volume) schedules a reload 100 ms after
//! the last one; the reload rebuilds only the APIs whose config entry or spec bytes changed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::Live;
use super::status::Trigger;

/// Quiet time after the last event before reloading.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// The longest a reload waits for quiet once one of its files changed.
const MAX_WAIT: Duration = Duration::from_secs(2);

/// Events held while a reload runs; past this, events are dropped and counted as a change of
/// ours (a reload follows), so a busy directory cannot grow memory without bound.
const QUEUE: usize = 4096;

/// Start the SIGHUP handler and the file watch (when serving from a config file).
pub fn spawn(live: &Arc<Live>) {
    if live.config_path.is_none() {
        return;
    }
    #[cfg(unix)]
    {
        let live = live.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP");
                return;
            };
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the config file");
                live.reload_config(Trigger::Sighup).await;
            }
        });
    }
    // The watches are in place before this returns (before the gateway says it is ready), so
    // a write right after start is seen.
    match Watch::new(live) {
        Ok(w) => {
            tokio::spawn(w.run(live.clone()));
        }
        Err(e) => {
            tracing::warn!(error = %e, "file watch unavailable: reload with SIGHUP or the admin API");
        }
    }
}

/// The files a reload reads, and their directories.
fn files(live: &Live) -> (HashSet<PathBuf>, HashSet<PathBuf>) {
    let mut files = HashSet::new();
    if let Some(c) = &live.config_path {
        files.insert(absolute(c));
    }
    for api in &live.registry.load().shared.cfg.apis {
        files.insert(absolute(&api.spec));
    }
    let dirs = files
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    (files, dirs)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

struct Watch {
    watcher: notify::RecommendedWatcher,
    rx: tokio::sync::mpsc::Receiver<PathBuf>,
    /// Events were dropped (the queue was full): one may have been about our files.
    overflowed: Arc<std::sync::atomic::AtomicBool>,
    watched: HashSet<PathBuf>,
}

impl Watch {
    fn new(live: &Live) -> notify::Result<Watch> {
        let (tx, rx) = tokio::sync::mpsc::channel::<PathBuf>(QUEUE);
        let overflowed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let dropped = overflowed.clone();
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            // Reading a file is no change: without this, each reload's own reads of the specs
            // (inotify's open and close-nowrite) would schedule the next reload, forever.
            if let Ok(ev) = res
                && !matches!(ev.kind, notify::EventKind::Access(_))
            {
                for p in ev.paths {
                    if let Err(tokio::sync::mpsc::error::TrySendError::Full(_)) = tx.try_send(p) {
                        dropped.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        })?;
        let mut w = Watch {
            watcher,
            rx,
            overflowed,
            watched: HashSet::new(),
        };
        w.add(&files(live).1);
        Ok(w)
    }

    /// Watch the directories not watched yet.
    fn add(&mut self, dirs: &HashSet<PathBuf>) {
        for d in dirs.difference(&self.watched).cloned().collect::<Vec<_>>() {
            match self.watcher.watch(&d, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(d);
                }
                Err(e) => tracing::warn!(dir = %d.display(), error = %e, "cannot watch"),
            }
        }
    }

    async fn run(mut self, live: Arc<Live>) {
        loop {
            let (files, dirs) = files(&live);
            self.add(&dirs);
            // Wait for an event that concerns our files, then for quiet.
            loop {
                let Some(p) = self.rx.recv().await else {
                    return;
                };
                if self.ours(&files, &p) {
                    break;
                }
            }
            // Quiet: no event about our files for `DEBOUNCE` (other files in the same
            // directories, a log written every few ms, do not hold the reload back), and never
            // longer than `MAX_WAIT`.
            let give_up = tokio::time::Instant::now() + MAX_WAIT;
            let mut quiet_from = tokio::time::Instant::now() + DEBOUNCE;
            loop {
                match tokio::time::timeout_at(quiet_from.min(give_up), self.rx.recv()).await {
                    Ok(Some(p)) => {
                        if self.ours(&files, &p) {
                            quiet_from = tokio::time::Instant::now() + DEBOUNCE;
                        }
                    }
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            tracing::info!("a watched file changed: reloading");
            live.reload_config(Trigger::File).await;
        }
    }
}

impl Watch {
    /// Whether the event at `p` (or one dropped before it) may concern one of `files`.
    fn ours(&self, files: &HashSet<PathBuf>, p: &Path) -> bool {
        self.overflowed
            .swap(false, std::sync::atomic::Ordering::Relaxed)
            || concerns(files, p)
    }
}

/// Whether an event at `p` may change one of `files`: the file itself, or a `..`-named entry
/// beside one (a ConfigMap volume's `..data` swap).
fn concerns(files: &HashSet<PathBuf>, p: &Path) -> bool {
    let p = absolute(p);
    if files.contains(&p) {
        return true;
    }
    let k8s = p
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(".."));
    k8s && files.iter().any(|f| f.parent() == p.parent())
}
