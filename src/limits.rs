//! Per-API call limits: calls in progress at once, and an optional per-caller rate (`governor`'s
//! GCRA). A call over a limit is refused at once with a clear tool error: nothing waits in a
//! queue, so a flood of calls costs the gateway no memory beyond the refused requests.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::CallLimits;

/// Callers remembered by the rate limiter before idle ones are dropped.
const RETAIN_EVERY: usize = 4096;

/// One API's limits, kept across rebuilds of the API that keep its `limits` settings.
pub struct Limits {
    max: usize,
    running: AtomicUsize,
    rate: Option<(DefaultKeyedRateLimiter<String>, u32)>,
    checks: AtomicUsize,
}

/// Why a call was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error(
        "too many calls in progress for this API (limit {limit}); nothing was sent upstream: try again shortly"
    )]
    Busy { limit: usize },
    #[error(
        "rate limit reached: {per_minute} calls per minute per caller; nothing was sent upstream: try again in {retry_after_secs} s"
    )]
    Rate {
        per_minute: u32,
        retry_after_secs: u64,
    },
}

impl Refused {
    /// The `limit` label of `calls_limited`.
    pub fn label(&self) -> &'static str {
        match self {
            Refused::Busy { .. } => "concurrency",
            Refused::Rate { .. } => "rate",
        }
    }
}

/// A call in progress: counted until dropped.
pub struct Permit<'a>(&'a AtomicUsize);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limits {
    /// `default_max`: `server.max_concurrent_calls`, for APIs that set none.
    pub fn new(cfg: &CallLimits, default_max: usize) -> Self {
        let rate = cfg
            .calls_per_minute
            .and_then(NonZeroU32::new)
            .map(|per_minute| {
                let burst = cfg.burst.and_then(NonZeroU32::new).unwrap_or(per_minute);
                let quota = Quota::per_minute(per_minute).allow_burst(burst);
                (DefaultKeyedRateLimiter::keyed(quota), per_minute.get())
            });
        Limits {
            max: cfg.max_concurrent_calls.unwrap_or(default_max).max(1),
            running: AtomicUsize::new(0),
            rate,
            checks: AtomicUsize::new(0),
        }
    }

    /// Whether this was made for `cfg` under the default `default_max` (then it can be kept,
    /// with its counters, across a reload).
    pub fn made_for(&self, cfg: &CallLimits, default_max: usize) -> bool {
        self.max == cfg.max_concurrent_calls.unwrap_or(default_max).max(1)
    }

    /// Admit one call by `who` (a caller's subject, or `None` for anonymous callers).
    pub fn admit(&self, who: Option<&str>) -> Result<Permit<'_>, Refused> {
        if let Some((limiter, per_minute)) = &self.rate {
            if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
                limiter.retain_recent();
            }
            let key = who.unwrap_or("");
            if let Err(not_until) = limiter.check_key(&key.to_string()) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                return Err(Refused::Rate {
                    per_minute: *per_minute,
                    retry_after_secs: wait.as_secs() + 1,
                });
            }
        }
        let before = self.running.fetch_add(1, Ordering::AcqRel);
        let permit = Permit(&self.running);
        if before >= self.max {
            return Err(Refused::Busy { limit: self.max });
        }
        Ok(permit)
    }

    /// Calls in progress now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_is_refused_at_once_and_released() {
        let l = Limits::new(
            &CallLimits {
                max_concurrent_calls: Some(2),
                ..Default::default()
            },
            1024,
        );
        let a = l.admit(None).unwrap();
        let _b = l.admit(None).unwrap();
        assert_eq!(l.admit(None).err(), Some(Refused::Busy { limit: 2 }));
        assert_eq!(l.running(), 2, "a refused call holds nothing");
        drop(a);
        assert!(l.admit(None).is_ok());
    }

    #[test]
    fn rate_is_per_caller() {
        let l = Limits::new(
            &CallLimits {
                calls_per_minute: Some(2),
                ..Default::default()
            },
            1024,
        );
        assert!(l.admit(Some("alice")).is_ok());
        assert!(l.admit(Some("alice")).is_ok());
        let third = l.admit(Some("alice")).err().unwrap();
        assert!(
            matches!(third, Refused::Rate { per_minute: 2, retry_after_secs } if retry_after_secs <= 31)
        );
        assert!(
            l.admit(Some("bob")).is_ok(),
            "another caller has its own budget"
        );
    }
}
