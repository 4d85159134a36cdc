// SyncPlay on the phone: the DOM-free part. The group's position at a server time, when to start
// a media element, and how to correct its drift; the clock filter (SyncClock) is clock.js,
// re-exported here. The media element glue is ui/phone/player.js; the wire messages are in
// docs/protocol.md (SyncPlay).
// Plain ES2020 like client.js: no class fields, no private names, no `??=`.
//
// Units: positions and durations in milliseconds (float); server times in MICROseconds like the
// wire (`serverTime`); local times in epoch milliseconds (the client's `now()`).
//
// Sign of an error: positive = this device is AHEAD of the group.

export { CLOCK_DEFAULTS, SyncClock } from './clock.js';

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
