//! [`SyncClock`]: the phone's clock filter (`SyncClock` in `ui/shared/clock.js`), ported step for
//! step, with the exchange it answers ([`Exchange`]), why it refuses one ([`Rejected`]) and the
//! samples it keeps ([`Sample`]).

use std::collections::VecDeque;

use crate::hull::lower_hull_slope;
use crate::options::ClockOptions;

/// The slack (ms) a sample may miss the current model by and still agree with it, when a new
/// connection checks its first sample and when the newest samples check each other after a
/// step: 2 ms, as in the JavaScript (more than the timestamps' resolution, far less than a step
/// worth detecting).
const AGREEMENT_SLACK: f64 = 2.0;

/// A drift estimate that moved by less than this (0.1 ppm) is not worth re-estimating the offset
/// for, as in the JavaScript.
const DRIFT_CHANGE: f64 = 1e-7;

/// The tolerance (ms) of Marzullo's chimer test against the rounding of the region's midpoint.
const CHIMER_TOLERANCE: f64 = 1e-9;

/// One exchange as [`SyncClock::add_sample`] read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exchange {
    /// This exchange's own offset (host − client, ms) if its two delays were equal.
    pub offset: f64,
    /// Its round trip minus the host's hold time (ms), at least 0.
    pub delay: f64,
}

/// Why [`SyncClock::add_sample`] refused an exchange (the JavaScript returns `null` for all three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// A timestamp is NaN or infinite.
    #[error("a timestamp is not a finite number")]
    NotFinite,
    /// The pong was read before the ping was sent: the client clock stepped back.
    #[error("the pong was read before the ping was sent")]
    PongBeforePing,
    /// The host wrote the pong before it read the ping.
    #[error("the host's send time is before its receive time")]
    HostTimeBackwards,
    /// The host held the ping longer than the round trip took (by more than 1 ms of rounding).
    #[error("the round trip is shorter than the host's hold time")]
    NegativeDelay,
}

/// One kept exchange, as the two bounds it puts on the offset θ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Its local time: the midpoint of ping and pong (ms, client clock).
    pub at: f64,
    /// `t1 − t0` (ms): the forward delay plus θ, so θ ≤ `forward`.
    pub forward: f64,
    /// `t3 − t2` (ms): the backward delay minus θ, so θ ≥ −`backward`.
    pub backward: f64,
    /// `forward + backward`, at least 0 (ms).
    pub delay: f64,
    /// It disagreed with the majority when it arrived.
    pub outlier: bool,
}

/// One sample's bounds referred to the newest sample's time, bare and widened by age.
#[derive(Debug, Clone, Copy)]
struct Interval {
    lo: f64,
    hi: f64,
    wide_lo: f64,
    wide_hi: f64,
    delay: f64,
}

/// The host's clock from ping/pong exchanges, for jittery Wi-Fi: the phone's `SyncClock`
/// (`ui/shared/clock.js`) in Rust, operation for operation, so that both give the same numbers
/// (`tests/vectors.rs` checks them against the JavaScript's own outputs).
///
/// Units are the JavaScript's: `t0`, `t3`, every offset, delay and uncertainty in milliseconds of
/// the client's clock; `t1`, `t2` in microseconds of the host's clock, as the wire's
/// `serverReceiveTime` and `serverSendTime` give them; the drift dimensionless.
///
/// Each exchange bounds θ (host − client): `f = t1 − t0 = d→ + θ ≥ θ` and `b = t3 − t2 = d← − θ ≥
/// −θ`, so θ ∈ [−b, f]. Intersecting those intervals takes each direction's minimum separately,
/// θ ≈ (min f − min b) / 2, assuming only that both directions have the same floor; each minimum
/// converges on its own, far sooner than one exchange with both delays small (the classic
/// lowest-delay estimate). Around that:
/// - Marzullo's algorithm keeps the samples most agree with (an outlier is left out);
/// - when the newest [`ClockOptions::step_confirm`] samples all disagree with the majority but
///   agree with each other, the client clock stepped and the older ones go; after
///   [`reset`](SyncClock::reset) the old samples stay only if the first new one agrees;
/// - the drift between the two oscillators comes from the lower hulls of `f` and `b` over a longer
///   history, refers every sample to the newest time, and is applied when reading:
///   [`current_offset`](SyncClock::current_offset)`(t) = offset + drift × (t − reference)`;
/// - samples are intersected newest first and only as far back as they stay consistent.
#[derive(Debug, Clone)]
pub struct SyncClock {
    options: ClockOptions,
    samples: VecDeque<Sample>,
    history: VecDeque<Sample>,
    offset: Option<f64>,
    delay: Option<f64>,
    coarse: Option<f64>,
    reference: Option<f64>,
    drift: f64,
    drift_known: bool,
    uncertainty: Option<f64>,
    used: usize,
    steps: usize,
    check_next: bool,
}

impl Default for SyncClock {
    fn default() -> Self {
        SyncClock::new(ClockOptions::default())
    }
}

impl SyncClock {
    /// A clock filter that knows nothing yet.
    pub fn new(options: ClockOptions) -> Self {
        SyncClock {
            options,
            samples: VecDeque::new(),
            history: VecDeque::new(),
            offset: None,
            delay: None,
            coarse: None,
            reference: None,
            drift: 0.0,
            drift_known: false,
            uncertainty: None,
            used: 0,
            steps: 0,
            check_next: false,
        }
    }

    // ---- getters ----------------------------------------------------------------------------

    /// Its tuning.
    pub fn options(&self) -> &ClockOptions {
        &self.options
    }

    /// The estimated offset (host − client, ms) at [`reference`](Self::reference), rounded to the
    /// µs like the host's times; `None` before any sample.
    pub fn offset(&self) -> Option<f64> {
        self.offset
    }

    /// The smallest delay (ms) among the samples in the estimate.
    pub fn delay(&self) -> Option<f64> {
        self.delay
    }

    /// The one-way offset from [`add_coarse`](Self::add_coarse), if any.
    pub fn coarse(&self) -> Option<f64> {
        self.coarse
    }

    /// The local time (ms) the offset refers to: the newest sample's.
    pub fn reference(&self) -> Option<f64> {
        self.reference
    }

    /// The estimated drift (host rate minus client rate, dimensionless); 0 while unknown.
    pub fn drift(&self) -> f64 {
        self.drift
    }

    /// Whether the drift is estimated (and applied).
    pub fn drift_known(&self) -> bool {
        self.drift_known
    }

    /// Half the width of the offsets every used sample allows (ms): a bound on the error if both
    /// directions' floors are equal.
    pub fn uncertainty(&self) -> Option<f64> {
        self.uncertainty
    }

    /// How many samples the estimate used.
    pub fn used(&self) -> usize {
        self.used
    }

    /// How many client clock steps were detected.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The samples in the offset window, oldest first.
    pub fn samples(&self) -> impl ExactSizeIterator<Item = &Sample> {
        self.samples.iter()
    }

    /// How many samples the drift history holds.
    pub fn history_len(&self) -> usize {
        self.history.len()
    }

    /// Host − client (ms) at local time `at` (ms): the offset moved by the drift since the
    /// reference once the drift is known; the offset itself for `None` (or a non-finite `at`);
    /// the coarse offset, or 0, before any sample.
    pub fn current_offset(&self, at: Option<f64>) -> f64 {
        let Some(offset) = self.offset else { return self.coarse.unwrap_or(0.0) };
        match (at, self.reference) {
            (Some(at), Some(reference)) if self.drift_known && at.is_finite() => offset + self.drift * (at - reference),
            _ => offset,
        }
    }

    /// The host's clock (ms) at local time `client_ms`.
    pub fn host_now(&self, client_ms: f64) -> f64 {
        client_ms + self.current_offset(Some(client_ms))
    }

    // ---- mutators ---------------------------------------------------------------------------

    /// A new connection (the client may have slept and its clock stepped): keep what is known,
    /// but drop it if the next sample disagrees.
    pub fn reset(&mut self) {
        if !self.samples.is_empty() {
            self.check_next = true;
        }
    }

    /// Forgets every sample and the drift; the coarse offset and the step count stay.
    pub fn clear(&mut self) {
        self.samples.clear();
        self.history.clear();
        self.offset = None;
        self.delay = None;
        self.reference = None;
        self.drift = 0.0;
        self.drift_known = false;
        self.uncertainty = None;
        self.used = 0;
        self.check_next = false;
    }

    /// A one-way estimate (the host's `hello.serverTime` against the local receive time, both
    /// ms), used only until a sample exists.
    pub fn add_coarse(&mut self, server_time_ms: f64, client_receive_ms: f64) {
        self.coarse = Some(server_time_ms - client_receive_ms);
    }

    /// Adds one exchange: `t0` ping sent and `t3` pong read (ms, client clock), `t1_us` ping read
    /// and `t2_us` pong written (µs, host clock). Returns that exchange's own offset and delay,
    /// or why it was refused.
    pub fn add_sample(&mut self, t0: f64, t1_us: f64, t2_us: f64, t3: f64) -> Result<Exchange, Rejected> {
        if ![t0, t1_us, t2_us, t3].iter().all(|t| t.is_finite()) {
            return Err(Rejected::NotFinite);
        }
        let t1 = t1_us / 1000.0;
        let t2 = t2_us / 1000.0;
        let forward = t1 - t0;
        let backward = t3 - t2;
        let delay = forward + backward;
        if t3 < t0 {
            return Err(Rejected::PongBeforePing);
        }
        if t2 < t1 {
            return Err(Rejected::HostTimeBackwards);
        }
        if delay < -1.0 {
            return Err(Rejected::NegativeDelay);
        }
        let sample = Sample { at: (t0 + t3) / 2.0, forward, backward, delay: delay.max(0.0), outlier: false };
        if self.check_next {
            self.check_next = false;
            let theta = self.current_offset(Some(sample.at));
            let slack = AGREEMENT_SLACK + self.uncertainty.unwrap_or(0.0);
            if !(theta >= -backward - slack && theta <= forward + slack) {
                self.steps += 1;
                self.samples.clear();
                self.history.clear();
            }
        }
        push_bounded(&mut self.samples, sample, self.options.window);
        push_bounded(&mut self.history, sample, self.options.history);
        // The flag is set on both copies of the newest sample: the JavaScript shares one object
        // between the two lists.
        let outlier = self.estimate(true) == Some(true);
        if outlier {
            if let Some(newest) = self.samples.back_mut() {
                newest.outlier = true;
            }
            if let Some(newest) = self.history.back_mut() {
                newest.outlier = true;
            }
            self.drop_if_stepped();
        }
        self.estimate_drift();
        Ok(Exchange { offset: (forward - backward) / 2.0, delay: sample.delay })
    }

    // ---- the estimate -----------------------------------------------------------------------

    /// The window's intervals referred to the newest sample's time with the current drift, and
    /// widened by age.
    fn intervals(&self) -> Vec<Interval> {
        let o = &self.options;
        let reference = self.samples.back().map_or(0.0, |s| s.at);
        let drift = if self.drift_known { self.drift } else { 0.0 };
        let slack = if self.drift_known { o.slack_known } else { o.slack_unknown };
        self.samples
            .iter()
            .map(|s| {
                let shift = drift * (s.at - reference);
                let age = reference - s.at;
                let eps = o.epsilon + slack * age;
                let hi = s.forward - shift;
                let lo = -(s.backward + shift);
                Interval { lo, hi, wide_lo: lo - eps, wide_hi: hi + eps, delay: s.delay }
            })
            .collect()
    }

    /// Estimates the offset from the window. With `mark_newest`, returns whether the newest
    /// sample is an outlier (outside Marzullo's majority); `None` when the window is empty.
    fn estimate(&mut self, mark_newest: bool) -> Option<bool> {
        if self.samples.is_empty() {
            return None;
        }
        let iv = self.intervals();
        // Marzullo: the range covered by the most (widened) intervals; among equal ranges, the
        // one the newest samples agree with. An opening sorts before a closing at the same value.
        let mut events: Vec<(f64, i8)> = Vec::with_capacity(iv.len() * 2);
        for v in &iv {
            events.push((v.wide_lo, -1));
            events.push((v.wide_hi, 1));
        }
        // Stable, and −0 equal to +0, like the JavaScript's `a[0] − b[0] || a[1] − b[1]`.
        events.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(&b.1)));
        let mut count: i64 = 0;
        let mut best: i64 = -1;
        let mut regions: Vec<(f64, f64)> = Vec::new();
        for (k, event) in events.iter().enumerate() {
            if event.1 == -1 {
                count += 1;
                if count >= best {
                    if count > best {
                        regions.clear();
                    }
                    best = count;
                    let end = events.get(k + 1).map_or(event.0, |next| next.0);
                    regions.push((event.0, end));
                }
            } else {
                count -= 1;
            }
        }
        let (mut best_lo, mut best_hi) = regions[0];
        if regions.len() > 1 {
            let mut best_newest: isize = -1;
            for r in &regions {
                let m = (r.0 + r.1) / 2.0;
                let newest = iv.iter().rposition(|v| v.wide_lo <= m && v.wide_hi >= m).map_or(-1, |j| j as isize);
                if newest > best_newest {
                    best_newest = newest;
                    (best_lo, best_hi) = *r;
                }
            }
        }
        let mid = (best_lo + best_hi) / 2.0;
        let chimers: Vec<usize> = (0..iv.len())
            .filter(|&i| iv[i].wide_lo <= mid + CHIMER_TOLERANCE && iv[i].wide_hi >= mid - CHIMER_TOLERANCE)
            .collect();
        let newest_outlier = mark_newest.then(|| chimers.last() != Some(&(iv.len() - 1)));
        // Intersect newest first, as far back as the samples stay consistent.
        let eps = self.options.epsilon;
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        let mut used = 0;
        let mut min_delay = f64::INFINITY;
        for &i in chimers.iter().rev() {
            let v = &iv[i];
            let next_lo = lo.max(v.lo - eps);
            let next_hi = hi.min(v.hi + eps);
            if next_lo > next_hi && used > 0 {
                break;
            }
            lo = next_lo;
            hi = next_hi;
            used += 1;
            if v.delay < min_delay {
                min_delay = v.delay;
            }
        }
        if used == 0 {
            return newest_outlier;
        }
        let theta = (lo + hi) / 2.0;
        self.offset = Some(js_round(theta * 1000.0) / 1000.0);
        self.reference = self.samples.back().map(|s| s.at);
        self.uncertainty = Some(((hi - lo) / 2.0).max(0.0));
        self.delay = Some(min_delay);
        self.used = used;
        newest_outlier
    }

    /// The newest samples all disagree with the majority: if they agree with each other, the
    /// client clock stepped; start over from them.
    fn drop_if_stepped(&mut self) {
        let k = self.options.step_confirm;
        let n = self.samples.len();
        if n <= k {
            return;
        }
        if self.samples.range(n - k..).any(|s| !s.outlier) {
            return;
        }
        // They must agree with each other (not just be k random outliers).
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        for s in self.samples.range(n - k..) {
            lo = lo.max(-s.backward - AGREEMENT_SLACK);
            hi = hi.min(s.forward + AGREEMENT_SLACK);
        }
        if lo > hi {
            return;
        }
        self.steps += 1;
        let recent: VecDeque<Sample> = self.samples.range(n - k..).map(|s| Sample { outlier: false, ..*s }).collect();
        self.history = recent.clone();
        self.samples = recent;
        self.estimate(false);
    }

    /// The drift from the lower hulls of the forward and backward delays over the history
    /// (outliers left out), once it spans enough time and samples.
    fn estimate_drift(&mut self) {
        let o = self.options;
        let h: Vec<&Sample> = self.history.iter().filter(|s| !s.outlier).collect();
        let (Some(first), Some(last)) = (h.first(), h.last()) else { return };
        if h.len() < o.drift_min_samples || last.at - first.at < o.drift_min_span {
            return;
        }
        let forward: Vec<(f64, f64)> = h.iter().map(|s| (s.at, s.forward)).collect();
        let backward: Vec<(f64, f64)> = h.iter().map(|s| (s.at, s.backward)).collect();
        let (Some(sf), Some(sb)) = (lower_hull_slope(&forward), lower_hull_slope(&backward)) else { return };
        let drift = (sf - sb) / 2.0;
        if !drift.is_finite() || drift.abs() > o.max_drift {
            self.drift = 0.0;
            self.drift_known = false;
            return;
        }
        let changed = !self.drift_known || (drift - self.drift).abs() > DRIFT_CHANGE;
        self.drift = drift;
        self.drift_known = true;
        if changed {
            self.estimate(false);
        }
    }
}

/// Appends `sample`, dropping the oldest while more than `limit` are held.
fn push_bounded(list: &mut VecDeque<Sample>, sample: Sample, limit: usize) {
    list.push_back(sample);
    while list.len() > limit {
        list.pop_front();
    }
}

/// JavaScript's `Math.round`: to the nearest integer, halves toward +∞ (Rust's `round` takes
/// halves away from zero, which differs for negative halves).
fn js_round(x: f64) -> f64 {
    let floor = x.floor();
    if x - floor >= 0.5 { floor + 1.0 } else { floor }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without jitter the offset is exact, and the uncertainty is half the round trip plus the
    /// resolution; impossible exchanges are refused, each with its reason, and change nothing.
    #[test]
    fn exact_without_jitter_and_refusals() {
        let mut clock = SyncClock::default();
        assert_eq!(clock.current_offset(None), 0.0, "expected 0 before anything is known");
        clock.add_coarse(10_500.0, 10_000.0);
        assert_eq!(clock.current_offset(None), 500.0, "expected the coarse offset until a sample exists");
        let exchange = clock.add_sample(1000.0, 1_260_000.0, 1_261_000.0, 1021.0);
        assert_eq!(
            exchange,
            Ok(Exchange { offset: 250.0, delay: 20.0 }),
            "expected the exchange's own offset and delay"
        );
        assert_eq!(clock.offset(), Some(250.0), "expected the exact offset");
        assert_eq!(clock.uncertainty(), Some(10.25), "expected half the round trip plus 0.25 ms");
        for (t, expected) in [
            ([f64::NAN, 1.0, 2.0, 3.0], Rejected::NotFinite),
            ([1000.0, 2_000_000.0, 2_001_000.0, 990.0], Rejected::PongBeforePing),
            ([1000.0, 2_000_000.0, 1_990_000.0, 1010.0], Rejected::HostTimeBackwards),
            ([1000.0, 2_000_000.0, 2_100_000.0, 1050.0], Rejected::NegativeDelay),
        ] {
            let result = clock.add_sample(t[0], t[1], t[2], t[3]);
            assert_eq!(result, Err(expected), "{t:?}: expected {expected:?}, got {result:?}");
        }
        assert_eq!(clock.samples().len(), 1, "expected refused exchanges not kept");
        assert_eq!(clock.current_offset(None), 250.0, "expected the estimate unchanged by refusals");
    }

    /// Halves round toward +∞, as in JavaScript, also below zero.
    #[test]
    fn rounds_like_javascript() {
        for (x, expected) in [(2.5, 3.0), (-2.5, -2.0), (-2.6, -3.0), (-0.4, 0.0), (0.49999999999999994, 0.0)] {
            assert_eq!(js_round(x), expected, "js_round({x}): expected {expected}, got {}", js_round(x));
        }
    }
}
