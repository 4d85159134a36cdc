//! Estimating the host's clock from ping/pong exchanges: the phone's clock filter (`SyncClock` in
//! `ui/shared/clock.js`) ported to Rust, so that the clock benchmark (`examples/sync_bench.rs`)
//! measures what phones run. The port is checked equal to the JavaScript by shared test vectors
//! (`tests/vectors.json`, written by `tests/make_vectors.mjs` from the real `clock.js`).
//!
//! Each exchange gives four timestamps: `t0` the client sent the ping (client clock), `t1` the
//! host read it and `t2` it wrote the pong (host clock), `t3` the client read the pong (client
//! clock). With θ the host clock minus the client clock and `d→`, `d←` the one-way delays:
//! `t1 − t0 = d→ + θ` and `t3 − t2 = d← − θ`. Units are the JavaScript's: `t0`, `t3` and the
//! results in ms, `t1`, `t2` in µs as the wire gives them.
//!
//! # Layout
//! - [`options`]: [`ClockOptions`], the tuning (`CLOCK_DEFAULTS`).
//! - [`sync_clock`]: [`SyncClock`], the filter: Marzullo voting over per-direction bounds, step
//!   detection, reset, drift; [`Exchange`], [`Rejected`], [`Sample`].
//! - `hull`: the lower-hull slope the drift comes from.

mod hull;
pub mod options;
pub mod sync_clock;

pub use options::ClockOptions;
pub use sync_clock::{Exchange, Rejected, Sample, SyncClock};
