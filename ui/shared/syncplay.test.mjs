// SyncPlay on the phone, DOM-free parts: the group's position and start planning, and the
// drift-correction tiers. The clock filter (SyncClock) is tested in clock.test.mjs.
//   node --test ui/shared/syncplay.test.mjs
import test from 'node:test';
import {
  SYNC_DEFAULTS,
  LatencyEstimate,
  MedianWindow,
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
  const { client, last, clock } = setup({ options: { liveCheck: 0 } }); // the scheduled pings alone
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
