//! A token bucket: the per-connection rate limit.
//!
//! It lives here, not in the server, so that its arithmetic is tested on virtual time; the
//! server applies it in each connection's reader, before a flood can reach the session.

use crate::{SECOND, Time};

/// A bucket of `capacity` tokens refilled at `per_second`; each message takes one.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    updated: Time,
}

/// A phone sends a heartbeat and a ping every 5 s, a burst of 8 clock-sync pings at join, and
/// playback reports; 60 covers every burst we make with room to spare.
pub const DEFAULT_BURST: u32 = 60;

/// Sustained rate: thirty times what an idle phone sends, far below what floods the host.
pub const DEFAULT_PER_SECOND: u32 = 30;

impl TokenBucket {
    /// A full bucket.
    pub fn new(now: Time, capacity: u32, per_second: u32) -> Self {
        TokenBucket { capacity: capacity as f64, per_second: per_second as f64, tokens: capacity as f64, updated: now }
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self, now: Time) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until a token is available, in milliseconds (0 if one is).
    pub fn retry_after_ms(&self, now: Time) -> u64 {
        let mut copy = self.clone();
        copy.refill(now);
        if copy.tokens >= 1.0 { 0 } else { (((1.0 - copy.tokens) / copy.per_second) * 1000.0).ceil() as u64 }
    }

    fn refill(&mut self, now: Time) {
        let elapsed = now.saturating_sub(self.updated) as f64 / SECOND as f64;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.updated = self.updated.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst up to capacity passes, the next is refused, and tokens come back at the rate.
    #[test]
    fn burst_then_refill() {
        let mut bucket = TokenBucket::new(0, 3, 2);
        assert!((0..3).all(|_| bucket.try_take(0)));
        assert!(!bucket.try_take(0));
        assert_eq!(bucket.retry_after_ms(0), 500);
        assert!(!bucket.try_take(SECOND / 2 - 1));
        assert!(bucket.try_take(SECOND / 2));
        // A long quiet spell refills to capacity, not beyond.
        assert!((0..3).all(|_| bucket.try_take(100 * SECOND)));
        assert!(!bucket.try_take(100 * SECOND));
    }
}
