// The host's clock from ping/pong exchanges: the one clock filter the phone and the desktop run
// (PartylineClient's default clock). DOM-free and plain ES2020 like client.js: no class fields, no
// private names, no `??=`. crates/clock (partyline-clock) is its port to Rust, checked equal to
// this file by shared test vectors (crates/clock/tests/vectors.json, written by
// crates/clock/tests/make_vectors.mjs from this file).
//
// Units: t0/t3 and every result in milliseconds of the client's clock (epoch ms, sub-ms precision);
// t1/t2 in MICROseconds of the host's clock, as the wire's `serverReceiveTime`/`serverSendTime`.

/** Tuning of SyncClock. Durations in ms; drifts dimensionless (1e-6 = 1 ppm). */
export const CLOCK_DEFAULTS = {
  window: 64, // samples for the offset (at a ping every 2 s: about two minutes)
  history: 256, // samples for the drift (about eight and a half minutes)
  epsilon: 0.25, // timestamp resolution (browsers round performance.now() to 0.1 ms)
  driftMinSpan: 120000, // the drift is estimated only over at least this much time…
  driftMinSamples: 40, // …and this many samples
  maxDrift: 300e-6, // a larger drift is not believed (real oscillators: tens of ppm)
  slackUnknown: 60e-6, // how far apart two samples' offsets may drift per ms of age, drift unknown
  slackKnown: 10e-6, // …and once the drift is estimated
  stepConfirm: 3, // this many newest samples outside the majority: the client clock stepped
};

function lowerHullSlope(points) {
  // points: [x, y] sorted by x. The line under every point that minimises the summed distance to
  // them (Moon, Skelly & Towsley's skew estimator) is the lower hull's edge above the mean x.
  const n = points.length;
  if (n < 2) return null;
  const x0 = points[0][0];
  const pts = points.map((p) => [p[0] - x0, p[1]]);
  const hull = [];
  for (const p of pts) {
    while (hull.length >= 2) {
      const a = hull[hull.length - 2];
      const b = hull[hull.length - 1];
      // keep only left turns (convex from below)
      if ((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) <= 0) hull.pop();
      else break;
    }
    hull.push(p);
  }
  if (hull.length < 2) return null;
  let mean = 0;
  for (const p of pts) mean += p[0];
  mean /= n;
  for (let i = 0; i + 1 < hull.length; i++) {
    const a = hull[i];
    const b = hull[i + 1];
    if (b[0] >= mean || i + 2 === hull.length) {
      if (b[0] === a[0]) return null;
      return (b[1] - a[1]) / (b[0] - a[0]);
    }
  }
  return null;
}

/**
 * The host's clock from ping/pong exchanges, for jittery Wi-Fi.
 *
 * Each exchange bounds the offset θ (server − client): forward f = t1 − t0 = d→ + θ ≥ θ and
 * backward b = t3 − t2 = d← − θ ≥ −θ, so θ ∈ [−b, f], an interval as wide as the round trip.
 * The classic estimate (the lowest-delay sample's midpoint) needs one exchange where BOTH
 * directions were fast; under random jitter that is rare. Intersecting the intervals instead
 * takes each direction's minimum separately, θ ≈ (min f − min b) / 2 (assuming only that both
 * directions have the same floor), and each minimum converges on its own: much faster.
 *
 * Robustness:
 *  - Outliers (a reply from a stepped clock, a bogus timestamp): Marzullo's algorithm finds the
 *    offset range most samples agree on; only those samples are used.
 *  - The client clock stepped (sleep, re-anchoring): when the newest `stepConfirm` samples all
 *    disagree with the majority, the older ones are dropped. After reset() (a new connection),
 *    the old samples are kept only if the first new one agrees with them.
 *  - Drift between the two oscillators (tens of ppm: a few ms a minute): estimated from the
 *    lower hulls of f and b over a longer history, used to refer every sample to the newest time,
 *    and applied when reading the offset: offsetAt(t) = offset + drift × (t − ref).
 *  - Samples are intersected newest first and only as far back as they stay consistent, so an
 *    unmodelled drift shortens the window instead of biasing it.
 *
 * Interface (what PartylineClient calls): addSample(t0, t1us, t2us, t3) → { offset, delay } of that
 * exchange or null when it is impossible and refused; addCoarse(serverTimeMs, clientReceiveMs)
 * (hello.serverTime, used only until a sample exists); reset() (a new connection); clear();
 * currentOffset([atLocalMs]) (server − client, ms; 0 when nothing is known); offset, delay, coarse,
 * samples. Also: drift, uncertainty (half the width of the offsets every used sample allows: a
 * bound on the error if the floors are equal), used (samples in the estimate), steps (client clock
 * steps detected).
 */
export class SyncClock {
  constructor(opts) {
    this.opts = Object.assign({}, CLOCK_DEFAULTS, opts || {});
    this.samples = [];
    this.history = [];
    this.offset = null;
    this.delay = null;
    this.coarse = null;
    this.ref = null;
    this.drift = 0;
    this.driftKnown = false;
    this.uncertainty = null;
    this.used = 0;
    this.steps = 0;
    this._checkNext = false;
  }

  /**
   * A new connection (the phone may have slept and its clock stepped): keep what we know, but
   * drop it if the next sample disagrees.
   */
  reset() {
    if (this.samples.length) this._checkNext = true;
  }

  /** Forgets everything (drift included). */
  clear() {
    this.samples = [];
    this.history = [];
    this.offset = null;
    this.delay = null;
    this.ref = null;
    this.drift = 0;
    this.driftKnown = false;
    this.uncertainty = null;
    this.used = 0;
    this._checkNext = false;
  }

  addCoarse(serverTimeMs, clientReceiveMs) {
    this.coarse = serverTimeMs - clientReceiveMs;
  }

  /** Server − client (ms) at local time `atLocalMs` (default: the newest sample's time). */
  currentOffset(atLocalMs) {
    if (this.offset == null) return this.coarse != null ? this.coarse : 0;
    if (!this.driftKnown || !Number.isFinite(atLocalMs)) return this.offset;
    return this.offset + this.drift * (atLocalMs - this.ref);
  }

  /** The offset at local time `x` under the current model. */
  offsetAt(x) {
    return this.currentOffset(x);
  }

  addSample(t0, t1us, t2us, t3) {
    if (![t0, t1us, t2us, t3].every(Number.isFinite)) return null;
    const t1 = t1us / 1000;
    const t2 = t2us / 1000;
    const f = t1 - t0;
    const b = t3 - t2;
    const delay = f + b;
    if (t3 < t0 || t2 < t1 || delay < -1) return null;
    const s = { x: (t0 + t3) / 2, f, b, delay: Math.max(0, delay), outlier: false };
    if (this._checkNext) {
      this._checkNext = false;
      const theta = this.offsetAt(s.x);
      const slack = 2 + (this.uncertainty || 0);
      if (!(theta >= -b - slack && theta <= f + slack)) {
        this.steps += 1;
        this.samples = [];
        this.history = [];
      }
    }
    this.samples.push(s);
    if (this.samples.length > this.opts.window) this.samples.shift();
    this.history.push(s);
    if (this.history.length > this.opts.history) this.history.shift();
    this._estimate(true);
    if (s.outlier) this._dropIfStepped();
    this._estimateDrift();
    return { offset: (f - b) / 2, delay: s.delay };
  }

  // Intervals referred to the newest sample's time with the current drift, widened by age.
  _intervals(list) {
    const o = this.opts;
    const ref = list[list.length - 1].x;
    const d = this.driftKnown ? this.drift : 0;
    const slack = this.driftKnown ? o.slackKnown : o.slackUnknown;
    return list.map((s, i) => {
      const shift = d * (s.x - ref);
      const age = ref - s.x;
      const eps = o.epsilon + slack * age;
      const hi = s.f - shift;
      const lo = -(s.b + shift);
      return { i, s, lo, hi, wlo: lo - eps, whi: hi + eps };
    });
  }

  _estimate(markNewest) {
    const list = this.samples;
    if (!list.length) return;
    const iv = this._intervals(list);
    // Marzullo: the range covered by the most (widened) intervals; among equal ranges, the one
    // the newest samples agree with.
    const ev = [];
    for (const v of iv) {
      ev.push([v.wlo, -1]);
      ev.push([v.whi, 1]);
    }
    ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let count = 0;
    let best = -1;
    const regions = [];
    for (let k = 0; k < ev.length; k++) {
      if (ev[k][1] === -1) {
        count += 1;
        if (count >= best) {
          if (count > best) regions.length = 0;
          best = count;
          regions.push([ev[k][0], k + 1 < ev.length ? ev[k + 1][0] : ev[k][0]]);
        }
      } else count -= 1;
    }
    let bestLo = regions[0][0];
    let bestHi = regions[0][1];
    if (regions.length > 1) {
      let bestNewest = -1;
      for (const r of regions) {
        const m = (r[0] + r[1]) / 2;
        let newest = -1;
        for (let j = iv.length - 1; j >= 0; j--) {
          if (iv[j].wlo <= m && iv[j].whi >= m) {
            newest = j;
            break;
          }
        }
        if (newest > bestNewest) {
          bestNewest = newest;
          bestLo = r[0];
          bestHi = r[1];
        }
      }
    }
    const mid = (bestLo + bestHi) / 2;
    const chimers = iv.filter((v) => v.wlo <= mid + 1e-9 && v.whi >= mid - 1e-9);
    if (markNewest) {
      const newest = iv[iv.length - 1];
      newest.s.outlier = !chimers.includes(newest);
    }
    // Intersect newest first, as far back as the samples stay consistent.
    const eps = this.opts.epsilon;
    let lo = -Infinity;
    let hi = Infinity;
    let used = 0;
    let minDelay = Infinity;
    for (let k = chimers.length - 1; k >= 0; k--) {
      const v = chimers[k];
      const nlo = Math.max(lo, v.lo - eps);
      const nhi = Math.min(hi, v.hi + eps);
      if (nlo > nhi && used > 0) break;
      lo = nlo;
      hi = nhi;
      used += 1;
      if (v.s.delay < minDelay) minDelay = v.s.delay;
    }
    if (!used) return;
    const theta = (lo + hi) / 2;
    this.offset = Math.round(theta * 1000) / 1000;
    this.ref = list[list.length - 1].x;
    this.uncertainty = Math.max(0, (hi - lo) / 2);
    this.delay = minDelay;
    this.used = used;
  }

  // The newest samples all disagree with the majority: the client clock stepped. Start over
  // from them.
  _dropIfStepped() {
    const k = this.opts.stepConfirm;
    const list = this.samples;
    if (list.length <= k) return;
    for (let i = list.length - k; i < list.length; i++) if (!list[i].outlier) return;
    // They must agree with each other (not just be k random outliers).
    const recent = list.slice(list.length - k);
    let lo = -Infinity;
    let hi = Infinity;
    const slack = 2;
    for (const s of recent) {
      lo = Math.max(lo, -s.b - slack);
      hi = Math.min(hi, s.f + slack);
    }
    if (lo > hi) return;
    this.steps += 1;
    for (const s of recent) s.outlier = false;
    this.samples = recent;
    this.history = recent.slice();
    this._estimate(false);
  }

  _estimateDrift() {
    const o = this.opts;
    const h = this.history.filter((s) => !s.outlier);
    if (h.length < o.driftMinSamples || h[h.length - 1].x - h[0].x < o.driftMinSpan) return;
    const sf = lowerHullSlope(h.map((s) => [s.x, s.f]));
    const sb = lowerHullSlope(h.map((s) => [s.x, s.b]));
    if (sf == null || sb == null) return;
    const drift = (sf - sb) / 2;
    if (!Number.isFinite(drift) || Math.abs(drift) > o.maxDrift) {
      this.drift = 0;
      this.driftKnown = false;
      return;
    }
    const changed = !this.driftKnown || Math.abs(drift - this.drift) > 1e-7;
    this.drift = drift;
    this.driftKnown = true;
    if (changed) this._estimate(false);
  }
}
