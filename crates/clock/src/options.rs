//! [`ClockOptions`]: the tuning of [`SyncClock`](crate::SyncClock), `CLOCK_DEFAULTS` in
//! `ui/shared/clock.js`, value for value.

/// Tuning of [`SyncClock`](crate::SyncClock). Durations in milliseconds; drifts dimensionless
/// (`1e-6` is 1 ppm). The defaults are the phone's (`CLOCK_DEFAULTS` in `ui/shared/clock.js`);
/// the shared test vectors check a change to one side without the other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockOptions {
    /// Samples for the offset: 64, at a ping every 2 s about two minutes.
    pub window: usize,
    /// Samples for the drift: 256, about eight and a half minutes.
    pub history: usize,
    /// Timestamp resolution, ms: 0.25, because browsers round `performance.now()` to 0.1 ms.
    pub epsilon: f64,
    /// The drift is estimated only over at least this much time (120,000 ms)…
    pub drift_min_span: f64,
    /// …and this many samples (40).
    pub drift_min_samples: usize,
    /// A larger drift is not believed: 300 ppm (real oscillators differ by tens of ppm).
    pub max_drift: f64,
    /// How far apart two samples' offsets may drift per ms of age while the drift is unknown:
    /// 60 ppm.
    pub slack_unknown: f64,
    /// …and once the drift is estimated: 10 ppm.
    pub slack_known: f64,
    /// This many newest samples outside the majority (3): the client clock stepped.
    pub step_confirm: usize,
}

impl Default for ClockOptions {
    fn default() -> Self {
        ClockOptions {
            window: 64,
            history: 256,
            epsilon: 0.25,
            drift_min_span: 120_000.0,
            drift_min_samples: 40,
            max_drift: 300e-6,
            slack_unknown: 60e-6,
            slack_known: 10e-6,
            step_confirm: 3,
        }
    }
}
