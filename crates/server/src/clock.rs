//! The host's one clock: wall time read once at start, advanced by tokio's monotonic clock.
//!
//! Anchoring to the wall clock keeps LOUDSYNC's timestamps meaningful (milliseconds since the
//! epoch); advancing by `tokio::time::Instant` keeps it monotonic (a clock step on the host
//! never reaches the session) and lets tests pause time.
//!
//! A test hook moves it forward by hand ([`Clock::skip`]): every copy of the clock (the session
//! task's, the connections', the handle's) sees the same skipped time, so the session is given a
//! `now` that includes it, as if that long had passed. Browser tests use it (through
//! `partyline host`'s `advance <seconds>`) for "ten minutes away" with a real phone; a
//! production host never calls it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use partyline_session::Time;
use tokio::time::Instant;

/// Converts between [`Time`] and tokio instants. Clones share the skipped time.
#[derive(Debug, Clone)]
pub struct Clock {
    start: Instant,
    start_time: Time,
    /// Microseconds [`Clock::skip`] moved the clock forward, for every clone.
    skipped: Arc<AtomicU64>,
}

impl Clock {
    /// A clock anchored now.
    pub fn new() -> Clock {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Clock { start: Instant::now(), start_time: wall.as_micros() as Time, skipped: Arc::default() }
    }

    /// The current [`Time`].
    pub fn now(&self) -> Time {
        self.start_time + self.start.elapsed().as_micros() as Time + self.skipped()
    }

    /// The instant at which [`Clock::now`] reaches `time`.
    pub fn instant(&self, time: Time) -> Instant {
        self.start + Duration::from_micros(time.saturating_sub(self.start_time + self.skipped()))
    }

    /// Test hook: moves the clock forward by `by`, for every clone, as if that long had passed
    /// at once (what the session sees of a host whose clock jumps). Never called in production.
    pub fn skip(&self, by: Duration) {
        self.skipped.fetch_add(by.as_micros() as u64, Ordering::Relaxed);
    }

    fn skipped(&self) -> Time {
        self.skipped.load(Ordering::Relaxed) as Time
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A skip moves every clone's `now` forward by as much, and the instants of times before
    /// it are now (already due).
    #[tokio::test(start_paused = true)]
    async fn a_skip_moves_every_clone() {
        let clock = Clock::new();
        let other = clock.clone();
        let before = clock.now();
        let due = clock.instant(before + 60_000_000);
        clock.skip(Duration::from_secs(600));
        assert_eq!(other.now() - before, 600_000_000, "the clone sees the skip");
        assert!(other.instant(before + 60_000_000) <= Instant::now() && due > Instant::now(), "a minute on is past");
    }
}
