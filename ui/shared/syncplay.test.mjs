// SyncPlay on the phone, DOM-free parts: the clock filter under simulated Wi-Fi jitter, the
// group's position and start planning, and the drift-correction tiers.
//   node --test ui/shared/syncplay.test.mjs
import test from 'node:test';
import { ClockSync, PartylineClient } from './client.js';
import {
  SYNC_DEFAULTS,
  LatencyEstimate,
  MedianWindow,
  SyncClock,
  correction,
  describeSync,
  formatTime,
  mediaTarget,
  planStart,
  sameTrajectory,
  syncError,
  targetPosition,
  toLocalMs,
  toServerUs,
} from './syncplay.js';
import { eq, ok, setup, serveJoin } from './fakes.mjs';

// ---- helpers --------------------------------------------------------------------------------

/** Deterministic uniform [0, 1). */
function lcg(seed) {
  let s = (seed * 2654435761 + 12345) >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function quantile(values, q) {
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/**
 * One ping/pong exchange. Client clock = true time; server clock = true + theta(true).
 * Each way: `floor` + uniform [0, jitter) ms; the server holds it `hold` ms.
 */
function exchange(rng, at, theta, { floor = 0.5, jitter = 50, jitterDown, hold = 0.02 } = {}) {
  const up = floor + rng() * jitter;
  const down = floor + rng() * (jitterDown == null ? jitter : jitterDown);
  const t0 = at;
  const t1 = at + up + theta(at + up);
  const t2 = t1 + hold;
  const t3 = at + up + hold + down;
  return [t0, t1 * 1000, t2 * 1000, t3];
}

// ---- clock filter -----------------------------------------------------------------------------

test('clock: exact without jitter, same shape as ClockSync', () => {
  const c = new SyncClock();
  const s = c.addSample(1000, (1000 + 10 + 250) * 1000, (1000 + 11 + 250) * 1000, 1021);
  eq(s, { offset: 250, delay: 20 }, 'sample');
  eq(c.offset, 250, 'offset');
  eq(c.currentOffset(), 250, 'currentOffset');
  eq(c.uncertainty, 10 + 0.25, 'uncertainty: half the round trip (+ resolution)');
  eq(new SyncClock().currentOffset(), 0, 'unknown → 0');
  const d = new SyncClock();
  d.addCoarse(10_500, 10_000);
  eq(d.currentOffset(), 500, 'coarse until a sample exists');
  eq(d.addSample(1000, 2000e3, 2100e3, 1050), null, 'server hold longer than the round trip is refused');
  eq(d.addSample(NaN, 1, 2, 3), null, 'non-number refused');
});

test('clock: 0–50 ms uniform jitter each way: error p95 ≤ 2 ms after 40 samples (vs lowest-delay)', () => {
  const RUNS = 1000;
  const checkpoints = [8, 16, 24, 32, 40, 48, 64];
  const errs = {};
  const classic = {};
  for (const n of checkpoints) {
    errs[n] = [];
    classic[n] = [];
  }
  for (let run = 0; run < RUNS; run++) {
    const rng = lcg(run + 1);
    const theta0 = (rng() - 0.5) * 2e6;
    const theta = () => theta0;
    const c = new SyncClock();
    const k = new ClockSync(); // the client's default: lowest-delay samples
    for (let n = 1; n <= 64; n++) {
      // the join burst (8 at 150 ms), then one ping every 2 s
      const at = 1.7e12 + (n <= 8 ? n * 150 : 1200 + (n - 8) * 2000);
      const ex = exchange(rng, at, theta);
      c.addSample(...ex);
      k.addSample(...ex);
      if (errs[n]) {
        errs[n].push(Math.abs(c.currentOffset(ex[3]) - theta0));
        classic[n].push(Math.abs(k.currentOffset() - theta0));
      }
    }
  }
  const rows = checkpoints.map((n) => ({
    samples: n,
    seconds: n <= 8 ? 1.2 : 1.2 + (n - 8) * 2,
    perDirP50: +quantile(errs[n], 0.5).toFixed(2),
    perDirP95: +quantile(errs[n], 0.95).toFixed(2),
    lowestDelayP50: +quantile(classic[n], 0.5).toFixed(2),
    lowestDelayP95: +quantile(classic[n], 0.95).toFixed(2),
  }));
  console.log('# clock error (ms) under 0–50 ms uniform jitter each way, ' + RUNS + ' runs');
  console.table(rows);
  const at40 = rows.find((r) => r.samples === 40);
  ok(at40.perDirP95 <= 2, `p95 after 40 samples (~65 s) is ${at40.perDirP95} ms`);
  ok(rows.every((r) => r.perDirP95 <= r.lowestDelayP95), 'per-direction beats lowest-delay at every checkpoint');
});

test('clock: lopsided jitter (0–50 ms up, 0–10 ms down): p95 ≤ 2 ms after 40 samples', () => {
  const errs = [];
  for (let run = 0; run < 500; run++) {
    const rng = lcg(5000 + run);
    const c = new SyncClock();
    let ex;
    for (let n = 1; n <= 40; n++) {
      ex = exchange(rng, 1.7e12 + n * 2000, () => 777, { jitter: 50, jitterDown: 10 });
      c.addSample(...ex);
    }
    errs.push(Math.abs(c.currentOffset(ex[3]) - 777));
  }
  const p95 = quantile(errs, 0.95);
  console.log(`# lopsided jitter, 40 samples: p50 ${quantile(errs, 0.5).toFixed(2)} ms, p95 ${p95.toFixed(2)} ms`);
  ok(p95 <= 2, `p95 ${p95}`);
});

test('clock: 40 ppm drift is estimated and removed (10 minutes, 0–50 ms jitter)', () => {
  const RUNS = 50;
  const DRIFT = 40e-6;
  const late = [];
  const lateNoDrift = [];
  const drifts = [];
  for (let run = 0; run < RUNS; run++) {
    const rng = lcg(1000 + run);
    const start = 1.7e12;
    const theta = (t) => 5000 + DRIFT * (t - start);
    const c = new SyncClock();
    const flat = new SyncClock({ maxDrift: 0 }); // never believes a drift
    for (let n = 0; n < 300; n++) {
      const at = start + n * 2000;
      const ex = exchange(rng, at, theta);
      c.addSample(...ex);
      flat.addSample(...ex);
      if (n >= 150) {
        // read the clock half a ping later, as playback does between pings
        const t = ex[3] + 1000;
        late.push(Math.abs(c.currentOffset(t) - theta(t)));
        lateNoDrift.push(Math.abs(flat.currentOffset(t) - theta(t)));
      }
    }
    drifts.push(c.drift);
  }
  const p95 = quantile(late, 0.95);
  const p95flat = quantile(lateNoDrift, 0.95);
  const dErr = drifts.map((d) => Math.abs(d - DRIFT) * 1e6);
  console.log(`# 40 ppm drift, minutes 5–10: error p95 ${p95.toFixed(2)} ms with drift tracking, ` +
    `${p95flat.toFixed(2)} ms without; drift estimate error p50 ${quantile(dErr, 0.5).toFixed(1)} ppm, ` +
    `p95 ${quantile(dErr, 0.95).toFixed(1)} ppm`);
  ok(p95 <= 2, `p95 with drift tracking ${p95.toFixed(2)} ms`);
  ok(p95 < p95flat, 'drift tracking helps');
  ok(quantile(dErr, 0.95) < 10, 'drift estimate within 10 ppm');
});

test('clock: an outlier (server clock glitch for one reply) does not move the estimate', () => {
  const c = new SyncClock();
  const rng = lcg(7);
  const theta = () => 300;
  for (let i = 0; i < 10; i++) c.addSample(...exchange(rng, 1e6 + i * 2000, theta, { jitter: 5 }));
  const before = c.offset;
  // A reply from a server clock 80 ms off, with an ordinary delay.
  c.addSample(...exchange(rng, 1e6 + 30000, () => 380, { jitter: 5 }));
  ok(Math.abs(c.offset - before) < 0.01, `offset ${c.offset} unchanged (was ${before})`);
  ok(Math.abs(c.offset - 300) < 3, 'near the truth');
  eq(c.samples[c.samples.length - 1].outlier, true, 'flagged');
});

test('clock: the client clock steps (phone slept): new samples take over after 3', () => {
  const c = new SyncClock();
  const rng = lcg(9);
  for (let i = 0; i < 20; i++) c.addSample(...exchange(rng, 1e6 + i * 2000, () => 1000, { jitter: 10 }));
  ok(Math.abs(c.offset - 1000) < 5, 'before');
  // The client clock jumps 1.5 s ahead: the offset becomes −500.
  for (let i = 0; i < 3; i++) c.addSample(...exchange(rng, 2e6 + i * 150, () => -500, { jitter: 10 }));
  ok(Math.abs(c.offset - -500) < 6, `after the step: ${c.offset}`);
  eq(c.steps, 1, 'one step detected');
  eq(c.samples.length, 3, 'old samples dropped');
});

test('clock: reset() (new connection) keeps agreeing samples, drops disagreeing ones', () => {
  const rng = lcg(11);
  const a = new SyncClock();
  for (let i = 0; i < 20; i++) a.addSample(...exchange(rng, 1e6 + i * 2000, () => 42, { jitter: 20 }));
  a.reset();
  a.addSample(...exchange(rng, 1e6 + 60000, () => 42, { jitter: 20 }));
  eq(a.samples.length, 21, 'agreeing: kept');
  const b = new SyncClock();
  for (let i = 0; i < 20; i++) b.addSample(...exchange(rng, 1e6 + i * 2000, () => 42, { jitter: 20 }));
  b.reset();
  b.addSample(...exchange(rng, 1e6 + 60000, () => 942, { jitter: 20 }));
  eq(b.samples.length, 1, 'disagreeing: dropped');
  ok(Math.abs(b.offset - 942) < 21, 'follows the new sample');
});

test('clock: plugs into PartylineClient (clock option) and serverNow() uses it', () => {
  const clock = new SyncClock();
  const { client, last, clock: fake } = setup({ options: { clock } });
  ok(client.clock === clock, 'injected');
  client.connect();
  const ws = last();
  serveJoin(ws);
  let answered = 0;
  for (let i = 0; i < 10; i++) {
    const pings = ws.sentOfType('ping');
    while (answered < pings.length) {
      const t0 = pings[answered++].timestamp;
      fake.advance(3);
      const t1 = (t0 + 3 + 2000) * 1000;
      fake.advance(3);
      ws.receive({ type: 'pong', timestamp: t0, serverReceiveTime: t1, serverSendTime: t1 });
    }
    fake.advance(144);
  }
  ok(clock.samples.length >= 8, 'burst fed the filter');
  ok(Math.abs(client.serverNow() - fake.now() - 2000) < 0.5, 'serverNow() − now() ≈ 2000');
  eq(client.state.clockOffset, clock.offset, 'state.clockOffset');
  ok(client instanceof PartylineClient, 'client');
});

// ---- position and scheduling ----------------------------------------------------------------

const PLAYING = { state: 'playing', entryId: 'q-1', position: 1000, serverTime: 5_000_000, rate: 1, paused: false };

test('targetPosition: advances at the rate from serverTime; holds when paused, waiting or not yet started', () => {
  eq(targetPosition(PLAYING, 5_000_000), 1000, 'at the anchor');
  eq(targetPosition(PLAYING, 6_500_000), 2500, '1.5 s later');
  eq(targetPosition(PLAYING, 4_000_000), 1000, 'before the anchor: the start has not happened');
  eq(targetPosition({ ...PLAYING, rate: 1.5 }, 7_000_000), 4000, 'rate 1.5');
  eq(targetPosition({ ...PLAYING, state: 'paused', paused: true }, 9_000_000), 1000, 'paused holds');
  eq(targetPosition({ ...PLAYING, state: 'waiting', paused: true }, 9_000_000), 1000, 'waiting holds');
  eq(targetPosition(null, 1), 0, 'no state');
});

test('output delay: the element runs ahead by the delay; error sign', () => {
  eq(mediaTarget(PLAYING, 6_000_000, 200), 2200, 'a 200 ms Bluetooth lag: media 200 ms ahead');
  eq(mediaTarget({ ...PLAYING, rate: 2 }, 6_000_000, 100), 1000 + 2000 + 200, 'at rate 2 the lead is 2 × delay');
  eq(syncError(2010, PLAYING, 6_000_000, 0), 10, 'ahead is positive');
  eq(syncError(1990, PLAYING, 6_000_000, 0), -10, 'behind is negative');
  eq(syncError(2200, PLAYING, 6_000_000, 200), 0, 'ahead by exactly the output delay is in sync');
  eq(toLocalMs(5_000_000, 250), 4750, 'server µs → local ms');
  eq(toServerUs(4750, 250), 5_000_000, 'local ms → server µs');
});

test('planStart: on time, the element leaves `position` at serverTime − output delay − start latency', () => {
  const p = planStart(PLAYING, { serverNowUs: 4_500_000, outputDelay: 100, startLatency: 30, prepare: 150 });
  eq(p, { startUs: 4_900_000, seekTo: 1000, playAtUs: 4_870_000, late: false }, 'plan');
});

test('planStart: late (joiner, or delay longer than the lead): start after `prepare` where the group will be', () => {
  const p = planStart(PLAYING, { serverNowUs: 8_000_000, outputDelay: 0, startLatency: 20, prepare: 200 });
  eq(p.late, true, 'late');
  eq(p.startUs, 8_220_000, 'start after prepare + start latency');
  eq(p.seekTo, 1000 + 3220, 'the group position then');
  eq(p.playAtUs, 8_200_000, 'play() one start latency earlier');
  const q = planStart(PLAYING, { serverNowUs: 4_800_000, outputDelay: 300, startLatency: 0, prepare: 100 });
  eq(q.late, true, 'a 300 ms output delay does not fit in a 200 ms lead');
  eq(q.seekTo, mediaTarget(PLAYING, q.startUs, 300), 'seekTo includes the output delay');
});

test('sameTrajectory: a permissions/queue-only revision does not disturb playback', () => {
  ok(sameTrajectory(PLAYING, { ...PLAYING, queue: [], revision: 9 }, 6_000_000), 'same');
  ok(!sameTrajectory(PLAYING, { ...PLAYING, position: 5000 }, 6_000_000), 'seek');
  ok(!sameTrajectory(PLAYING, { ...PLAYING, rate: 1.25 }, 6_000_000), 'rate');
  ok(!sameTrajectory(PLAYING, { ...PLAYING, entryId: 'q-2' }, 6_000_000), 'entry');
  ok(sameTrajectory(PLAYING, { ...PLAYING, position: 1500, serverTime: 5_500_000 }, 6_000_000), 'same line, re-anchored');
});

// ---- correction tiers ------------------------------------------------------------------------

test('correction tiers: leave / nudge proportionally (capped ±5 %) / seek after two readings', () => {
  const none = correction(3, 1, null);
  eq(none.action, 'none', '3 ms: leave it');
  eq(none.rate, 1, 'group rate');
  const small = correction(30, 1, null);
  eq(small.action, 'rate', '30 ms: nudge');
  ok(Math.abs(small.rate - (1 - 30 / SYNC_DEFAULTS.tau)) < 1e-12, `rate ${small.rate} = 1 − 30/τ`);
  ok(correction(-30, 1, null).rate > 1, 'behind: faster');
  eq(correction(120, 1, null).rate, 0.95, '120 ms: capped at −5 %');
  eq(correction(-120, 1, null).rate, 1.05, '−120 ms: capped at +5 %');
  ok(Math.abs(correction(30, 2, null).rate - 2 * (1 - 30 / SYNC_DEFAULTS.tau)) < 1e-12, 'relative to the group rate');
  const first = correction(400, 1, null);
  eq(first.action, 'rate', 'one reading over the threshold does not seek');
  eq(correction(400, 1, first).action, 'seek', 'the second does');
  eq(correction(20, 1, first).over, 0, 'a normal reading resets the count');
  eq(correction(NaN, 1, null).action, 'none', 'no reading: nothing');
});

test('correction: no band where the error sits: a running correction goes on down to 1.5 ms', () => {
  let prev = correction(8, 1, null);
  eq(prev.correcting, true, 'started at 8 ms');
  prev = correction(4, 1, prev);
  eq(prev.action, 'rate', 'still correcting at 4 ms (inside the 5 ms start band)');
  ok(prev.rate < 1 && prev.rate > 0.995, 'a gentle nudge');
  prev = correction(1, 1, prev);
  eq(prev.action, 'none', 'done at 1 ms');
  eq(correction(4, 1, prev).action, 'none', 'and a fresh 4 ms is left alone');
});

test('correction: a simulated device converges from 120 ms ahead and the rate returns to 1', () => {
  // The media clock runs at the commanded rate, applied 40 ms late; readings every 250 ms with
  // ±1 ms noise; the loop uses a median of 3.
  const rng = lcg(5);
  let err = 120;
  let rate = 1;
  let pendingRate = 1;
  let prev = null;
  const med = new MedianWindow(3);
  const trace = [];
  for (let t = 0; t < 20000; t += 10) {
    err += (rate - 1) * 10;
    if (t % 250 === 40) rate = pendingRate;
    if (t % 250 === 0) {
      const reading = med.push(err + (rng() - 0.5) * 2);
      prev = correction(reading, 1, prev);
      pendingRate = prev.rate;
      if (t % 1000 === 0) trace.push([t / 1000, +err.toFixed(1), +prev.rate.toFixed(4)]);
    }
  }
  console.log('# convergence from +120 ms [s, error ms, rate]: ' + JSON.stringify(trace.filter((r, i) => i < 10)));
  ok(Math.abs(err) < 3, `error after 20 s: ${err.toFixed(2)} ms`);
  ok(Math.abs(rate - 1) < 0.002, `rate back near 1: ${rate}`);
  const at8 = trace.find((r) => r[0] === 8);
  ok(Math.abs(at8[1]) < 6, `within 6 ms after 8 s (${at8[1]})`);
});

test('LatencyEstimate learns a seek latency from the residual error', () => {
  const l = new LatencyEstimate({ initial: 50 });
  // True latency 120 ms: with 50 compensated, the device lands 70 ms behind.
  l.learn(-70, 1);
  eq(l.value, 120, 'first measurement replaces the guess');
  l.learn(10, 1); // 10 ms ahead: a bit less
  ok(Math.abs(l.value - 114) < 1e-9, `then moves part of the way (${l.value})`);
  l.learn(-1e6, 1);
  eq(l.value, 1000, 'clamped');
});

test('describeSync and formatTime', () => {
  eq(describeSync(2.6, 'playing'), { kind: 'in-sync', text: 'In sync ±3 ms' }, 'in sync');
  eq(describeSync(0.2, 'playing').text, 'In sync ±1 ms', 'never ±0');
  eq(describeSync(-42, 'playing'), { kind: 'syncing', text: 'Syncing… 42 ms behind' }, 'syncing');
  eq(describeSync(0, 'buffering').kind, 'buffering', 'buffering');
  eq(describeSync(0, 'blocked').kind, 'blocked', 'blocked');
  eq(formatTime(83_500), '1:23', 'm:ss');
  eq(formatTime(3_723_000), '1:02:03', 'h:mm:ss');
});

// ---- client.js additions for SyncPlay ---------------------------------------------------------

test('client: syncplay.command / playback.progress on the wire; a refused command does not end the party', () => {
  const { client, last, clock } = setup();
  eq(client.sendSyncplayCommand('pause'), false, 'not connected: false');
  client.connect();
  const ws = last();
  serveJoin(ws);
  ok(client.sendSyncplayCommand('seek', { position: 1500 }), 'sent');
  const cmd = ws.sentOfType('syncplay.command')[0];
  eq([cmd.command, cmd.position, typeof cmd.timestamp], ['seek', 1500, 'number'], 'command fields');
  ok(client.sendPlaybackProgress({ entryId: 'q-1', position: 10, state: 'playing', error: -2.5 }), 'progress sent');
  const p = ws.sentOfType('playback.progress')[0];
  eq([p.entryId, p.position, p.state, p.error], ['q-1', 10, 'playing', -2.5], 'progress fields');
  const errors = [];
  client.on('servererror', (m) => errors.push(m.code));
  ws.receive({ type: 'error', timestamp: 1, code: 'unauthorized', message: 'only the host may control playback', details: { reason: 'syncplay' } });
  eq(client.state.connection, 'connected', 'still connected');
  eq(errors, ['unauthorized'], 'reported as a servererror');
  clock.advance(0);
});

test('client: setPingInterval() reschedules the pings', () => {
  const { client, last, clock } = setup();
  client.connect();
  const ws = last();
  serveJoin(ws);
  clock.advance(2000); // past the burst
  const before = ws.sentOfType('ping').length;
  client.setPingInterval(1000);
  clock.advance(3000);
  eq(ws.sentOfType('ping').length - before, 3, 'one a second');
  client.setPingInterval(5000);
  clock.advance(10000);
  eq(ws.sentOfType('ping').length - before, 5, 'then one every 5 s');
});
