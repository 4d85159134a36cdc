// SyncPlay on the phone: the DOM-free part. Clock filtering, the group's position at a server
// time, when to start a media element, and how to correct its drift. The media element glue is
// ui/phone/player.js; the wire messages are in docs/protocol.md (SyncPlay).
// Plain ES2020 like client.js: no class fields, no private names, no `??=`.
//
// Units: positions and durations in milliseconds (float); server times in MICROseconds like the
// wire (`serverTime`); local times in epoch milliseconds (the client's `now()`).
//
// Sign of an error: positive = this device is AHEAD of the group.

/** Tuning of the correction loop. All durations in milliseconds. */
export const SYNC_DEFAULTS = {
  deadband: 5, // |error| below this: leave the rate alone…
  settle: 1.5, // …unless already correcting: then keep going until the error is inside this
  tau: 1000, // proportional time constant (ms): rate × (1 − error / tau); the error decays like e^(−t/tau)
  maxAdjust: 0.05, // the nudge never exceeds ±5 % of the group's rate
  seekThreshold: 150, // |error| at or above this: seek instead
  seekConfirm: 2, // consecutive readings over the threshold before seeking (one bad reading never seeks)
  minRateStep: 0.0005, // smaller rate changes are not worth a media pipeline update
};

const clamp = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);

// ---- the group's position ---------------------------------------------------------------------

/**
 * Where the group is (ms into the entry) at server time `serverNowUs`:
 * position + (T − serverTime) / 1000 × rate while playing and T ≥ serverTime; `position` otherwise
 * (paused, waiting, or a start that has not happened yet).
 */
export function targetPosition(state, serverNowUs) {
  if (!state) return 0;
  const p = Number(state.position) || 0;
  if (state.state !== 'playing' || state.paused) return p;
  const dt = serverNowUs - state.serverTime;
  if (!(dt > 0)) return p;
  const rate = state.rate > 0 ? state.rate : 1;
  return p + (dt / 1000) * rate;
}

/**
 * Where this device's MEDIA element must be at server time `serverNowUs` so that what its
 * speaker plays matches the group: the output (e.g. a Bluetooth speaker) lags by `outputDelayMs`,
 * so the element runs that much ahead: media(t) = target(t + outputDelay).
 */
export function mediaTarget(state, serverNowUs, outputDelayMs) {
  return targetPosition(state, serverNowUs + (outputDelayMs || 0) * 1000);
}

/** This device's error (ms, positive: ahead) given its media position `mediaMs` at `serverNowUs`. */
export function syncError(mediaMs, state, serverNowUs, outputDelayMs) {
  return mediaMs - mediaTarget(state, serverNowUs, outputDelayMs);
}

/** Server time (µs) ⇄ local time (epoch ms) for a clock offset (server − local, ms). */
export function toLocalMs(serverUs, offsetMs) {
  return serverUs / 1000 - offsetMs;
}
export function toServerUs(localMs, offsetMs) {
  return (localMs + offsetMs) * 1000;
}

/**
 * Plans starting a paused media element for a `playing` state.
 *
 *   serverNowUs   the server's time now (µs)
 *   outputDelay   ms the speaker lags (the element starts that much earlier)
 *   startLatency  ms between play() and the media clock actually running (learned)
 *   prepare       ms needed to seek and arm the element before the start (learned seek latency + margin)
 *
 * Returns { startUs, seekTo, playAtUs, late }: seek the element to `seekTo` (ms) now, call play()
 * at server time `playAtUs` so that its media clock leaves `seekTo` at `startUs`. On time, that is
 * serverTime − outputDelay with seekTo = position; late (a late joiner, or a lead time shorter than
 * the output delay), the start moves to now + prepare and seekTo is where the group will be then.
 */
export function planStart(state, opts) {
  const o = opts || {};
  const D = o.outputDelay || 0;
  const P = o.startLatency || 0;
  const prepare = o.prepare == null ? 150 : o.prepare;
  const now = o.serverNowUs;
  const onTime = state.serverTime - D * 1000; // the element leaves `position` here
  const earliest = now + (prepare + P) * 1000;
  const late = onTime < earliest;
  const startUs = late ? earliest : onTime;
  const seekTo = mediaTarget(state, startUs, D);
  return { startUs, seekTo, playAtUs: startUs - P * 1000, late };
}

/**
 * Whether two states describe the same trajectory (same entry, state and rate, positions within
 * `tolerance` ms at `atUs`): a new revision that only changes the queue or permissions, which must
 * not disturb playback.
 */
export function sameTrajectory(a, b, atUs, tolerance) {
  if (!a || !b) return false;
  if (a.entryId !== b.entryId || a.state !== b.state || !!a.paused !== !!b.paused) return false;
  if ((a.rate || 1) !== (b.rate || 1)) return false;
  const tol = tolerance == null ? 1 : tolerance;
  const at = Math.max(atUs, a.serverTime, b.serverTime);
  return Math.abs(targetPosition(a, at) - targetPosition(b, at)) <= tol;
}

// ---- drift correction ---------------------------------------------------------------------------

/**
 * One step of the correction loop, a pure function of the measured error (ms, positive: ahead).
 *
 * Tiers:
 *  - |error| < deadband (5 ms): the group's rate, unless a correction is running, which goes on
 *    until the error is inside `settle` (1.5 ms): no band where the error may sit.
 *  - up to seekThreshold (150 ms): playbackRate = groupRate × (1 − error / tau), capped at
 *    ±maxAdjust, so the nudge shrinks with the error and the rate is back at the group's as it closes.
 *  - at or above seekThreshold for `seekConfirm` readings in a row: seek (the caller compensates
 *    its seek latency); the first such reading nudges at the cap meanwhile.
 *
 * `prev` is the previous result (or null). Returns { action: 'none'|'rate'|'seek', rate,
 * correcting, over }.
 */
export function correction(errorMs, groupRate, prev, opts) {
  const o = Object.assign({}, SYNC_DEFAULTS, opts || {});
  const r = groupRate > 0 ? groupRate : 1;
  const p = prev || {};
  if (!Number.isFinite(errorMs)) return { action: 'none', rate: r, correcting: false, over: 0 };
  const a = Math.abs(errorMs);
  if (a >= o.seekThreshold) {
    const over = (p.over || 0) + 1;
    if (over >= o.seekConfirm) return { action: 'seek', rate: r, correcting: false, over: 0 };
    return { action: 'rate', rate: r * (1 - Math.sign(errorMs) * o.maxAdjust), correcting: true, over };
  }
  const correcting = a >= o.deadband || (!!p.correcting && a > o.settle);
  if (!correcting) return { action: 'none', rate: r, correcting: false, over: 0 };
  const adjust = clamp(-errorMs / o.tau, -o.maxAdjust, o.maxAdjust);
  return { action: 'rate', rate: r * (1 + adjust), correcting: true, over: 0 };
}

/**
 * A latency learned from its consequences (seek latency, play() start latency): after acting
 * with `value`, the device turned out `errorMs` ahead (positive) or behind; ahead means the
 * latency was over-estimated. value ← value − gain × error / rate, within [min, max].
 */
export class LatencyEstimate {
  constructor(opts) {
    const o = opts || {};
    this.value = o.initial == null ? 50 : o.initial;
    this.min = o.min == null ? 0 : o.min;
    this.max = o.max == null ? 1000 : o.max;
    this.gain = o.gain == null ? 0.6 : o.gain;
    this.count = 0;
  }
  learn(errorMs, rate) {
    if (!Number.isFinite(errorMs)) return this.value;
    const r = rate > 0 ? rate : 1;
    // The first measurement replaces the guess; later ones move it part of the way.
    const g = this.count === 0 ? 1 : this.gain;
    this.value = clamp(this.value - (g * errorMs) / r, this.min, this.max);
    this.count += 1;
    return this.value;
  }
}

/**
 * A short running median of error readings: one stray reading of currentTime never moves the rate.
 */
export class MedianWindow {
  constructor(size) {
    this.size = size || 3;
    this.values = [];
  }
  push(v) {
    this.values.push(v);
    if (this.values.length > this.size) this.values.shift();
    return this.value();
  }
  value() {
    if (!this.values.length) return null;
    const s = this.values.slice().sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  }
  clear() {
    this.values = [];
  }
}

/** The sync badge: { kind, text } for an error (ms) and the device's playback status. */
export function describeSync(errorMs, status) {
  if (status === 'blocked') return { kind: 'blocked', text: 'Sound off' };
  if (status === 'buffering') return { kind: 'buffering', text: 'Buffering…' };
  if (status === 'loading') return { kind: 'loading', text: 'Loading…' };
  if (status === 'error') return { kind: 'error', text: "Can't play this file" };
  if (status === 'seeking') return { kind: 'catching-up', text: 'Catching up…' };
  if (status !== 'playing' || !Number.isFinite(errorMs)) return { kind: 'idle', text: '' };
  const a = Math.round(Math.abs(errorMs));
  if (a <= SYNC_DEFAULTS.deadband + 5) return { kind: 'in-sync', text: 'In sync ±' + Math.max(1, a) + ' ms' };
  if (a < SYNC_DEFAULTS.seekThreshold) return { kind: 'syncing', text: 'Syncing… ' + a + ' ms ' + (errorMs > 0 ? 'ahead' : 'behind') };
  return { kind: 'catching-up', text: 'Catching up… ' + a + ' ms ' + (errorMs > 0 ? 'ahead' : 'behind') };
}

/** m:ss (or h:mm:ss) for a position in ms. */
export function formatTime(ms) {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  const t = Math.floor(ms / 1000);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = t % 60;
  const ss = (s < 10 ? '0' : '') + s;
  return h ? h + ':' + (m < 10 ? '0' : '') + m + ':' + ss : m + ':' + ss;
}

// ---- clock filtering ----------------------------------------------------------------------------

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
 * Same interface as ClockSync (client.js): addSample(t0, t1us, t2us, t3), addCoarse, reset,
 * currentOffset([atLocalMs]), offset, delay, coarse, samples. Also: drift, uncertainty (half the
 * width of the offsets every used sample allows: a bound on the error if the floors are equal),
 * used (samples in the estimate).
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
