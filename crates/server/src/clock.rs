//! The host's one clock: wall time read once at start, advanced by tokio's monotonic clock.
//!
//! Anchoring to the wall clock keeps LOUDSYNC's timestamps meaningful (milliseconds since the
//! epoch); advancing by `tokio::time::Instant` keeps it monotonic (a clock step on the host
//! never reaches the session) and lets tests pause time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use partyline_session::Time;
use tokio::time::Instant;

/// Converts between [`Time`] and tokio instants.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    start_time: Time,
}

impl Clock {
    /// A clock anchored now.
    pub fn new() -> Clock {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Clock { start: Instant::now(), start_time: wall.as_micros() as Time }
    }

    /// The current [`Time`].
    pub fn now(&self) -> Time {
        self.start_time + self.start.elapsed().as_micros() as Time
    }

    /// The instant at which [`Clock::now`] reaches `time`.
    pub fn instant(&self, time: Time) -> Instant {
        self.start + Duration::from_micros(time.saturating_sub(self.start_time))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
