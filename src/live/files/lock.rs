//! The data directory's lock: one process per store.

use std::path::Path;

use super::io;
use crate::live::store::StoreError;

/// How long a start waits for another process to let go of the data directory (a restart
/// whose old process is still finishing its requests).
pub(super) const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The data directory's lock, held (by the open file) as long as the process runs: two
/// processes writing one store would give two writes the same version number. The kernel
/// drops it when the process ends, however it ends.
pub(super) fn lock(
    path: &Path,
    wait: std::time::Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<std::fs::File, StoreError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io(path))?;
    let started = std::time::Instant::now();
    let mut warned = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock)
                if started.elapsed() < wait && !cancel.is_cancelled() =>
            {
                if !warned {
                    tracing::warn!(lock = %path.display(), "another process holds the data directory: waiting for it (at most {} s)", wait.as_secs());
                    warned = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: path.display().to_string(),
                    waited: started.elapsed().as_secs(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    /// While one open file holds the lock, another waits, then fails with a clear error; once
    /// it is let go, the lock is taken.
    #[test]
    fn the_data_directory_lock_is_held_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let never = tokio_util::sync::CancellationToken::new();
        let held = super::lock(&path, std::time::Duration::ZERO, &never).unwrap();
        let t = std::time::Instant::now();
        let e = super::lock(&path, std::time::Duration::from_millis(300), &never).unwrap_err();
        assert!(t.elapsed() >= std::time::Duration::from_millis(300));
        assert!(
            e.to_string().contains("in use by another rest2mcp process"),
            "{e}"
        );
        // A stop signal ends the wait at once.
        let stop = tokio_util::sync::CancellationToken::new();
        stop.cancel();
        let t = std::time::Instant::now();
        assert!(super::lock(&path, std::time::Duration::from_secs(30), &stop).is_err());
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
        drop(held);
        super::lock(&path, std::time::Duration::ZERO, &never).unwrap();
    }
}
