// Rule protected: the host's clock is estimated by one filter, SyncClock (clock.js), the default
// clock of PartylineClient on the phone and the desktop alike. Each exchange bounds the offset θ
// (server − client) by its two one-way legs, t1 − t0 ≥ θ ≥ −(t3 − t2), with t1/t2 the server's
// receive/send times in MICROseconds and t0/t3 the client's in milliseconds; the estimate
// intersects those bounds (each direction's minimum), votes out outliers, follows client clock
// steps and drift, and is exact without jitter. serverNow() is the client's clock plus that offset.
// The Rust port (crates/clock) replays the shared vectors that crates/clock/tests/make_vectors.mjs
// writes from this file's subject: the last test checks they are current.
//   node --test ui/shared/clock.test.mjs
import test from 'node:test';
import { readFileSync } from 'node:fs';
import { CLOCK_DEFAULTS, SyncClock } from './clock.js';
import { SyncClock as FromSyncplay } from './syncplay.js';
import { PartylineClient } from './client.js';
import { generate, render, VECTORS_PATH } from '../../crates/clock/tests/make_vectors.mjs';
import { eq, ok, setup, serveJoin } from './fakes.mjs';

// ---- helpers --------------------------------------------------------------------------------

const us = (ms) => ms * 1000;

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

/** One exchange by hand: true offset `theta`, outbound `up` ms, server hold `hold` ms, back `down` ms. */
function fixed(t0, theta, up, hold, down) {
  const t1 = t0 + up + theta;
  const t2 = t1 + hold;
  const t3 = t0 + up + hold + down;
  return [t0, us(t1), us(t2), t3];
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

/**
 * The classic baseline the comparisons measure against (NTP's, Jellyfin's): the offset of the
 * lowest-delay exchange among the last `size`, as if its two delays were equal.
 */
class LowestDelay {
  constructor(size) {
    this.size = size || 16;
    this.samples = [];
  }
  addSample(t0, t1us, t2us, t3) {
    const t1 = t1us / 1000;
    const t2 = t2us / 1000;
    this.samples.push({ offset: (t1 - t0 + (t2 - t3)) / 2, delay: t3 - t0 - (t2 - t1) });
    if (this.samples.length > this.size) this.samples.shift();
  }
  currentOffset() {
    return this.samples.reduce((best, s) => (s.delay < best.delay ? s : best)).offset;
  }
}

// ---- one exchange ---------------------------------------------------------------------------

test('clock: symmetric path: exact offset and delay; the uncertainty is half the round trip', () => {
  const c = new SyncClock();
  const s = c.addSample(...fixed(1000, 250, 10, 1, 10));
  eq(s, { offset: 250, delay: 20 }, 'sample');
  eq(c.offset, 250, 'offset');
  eq(c.currentOffset(), 250, 'currentOffset');
  eq(c.delay, 20, 'delay');
  eq(c.uncertainty, 10 + 0.25, 'uncertainty: half the round trip (+ resolution)');
});

test('clock: asymmetric path: the error is half the asymmetry and within the uncertainty', () => {
  const c = new SyncClock();
  // 30 ms up, 10 ms down, 1 ms server hold: the sample is biased by (30 − 10) / 2 = +10 ms.
  const s = c.addSample(...fixed(1000, 500, 30, 1, 10));
  eq(s.offset, 510, 'offset with asymmetric delays');
  eq(s.delay, 40, 'delay excludes the server hold time');
  eq(c.offset, 510, 'one sample: its own midpoint');
  ok(Math.abs(c.offset - 500) <= c.uncertainty, `error ${c.offset - 500} within the uncertainty ${c.uncertainty}`);
});

test('clock: impossible samples (negative delay, time running backwards) are refused', () => {
  const c = new SyncClock();
  eq(c.addSample(1000, us(2000), us(2100), 1050), null, 'server hold longer than the round trip');
  eq(c.addSample(1000, us(2000), us(1990), 1010), null, 'server send before receive');
  eq(c.addSample(1000, us(2000), us(2001), 990), null, 'pong before ping');
  eq(c.addSample(NaN, 1, 2, 3), null, 'non-number');
  eq(c.samples.length, 0, 'nothing kept');
  eq(c.currentOffset(), 0, 'offset unknown → 0');
});

test('clock: coarse hello.serverTime is used only until a real sample exists', () => {
  const c = new SyncClock();
  c.addCoarse(10_500, 10_000);
  eq(c.currentOffset(), 500, 'coarse offset');
  c.addSample(...fixed(20_000, 450, 5, 1, 5));
  eq(c.currentOffset(), 450, 'sampled offset replaces coarse');
});

// ---- the window -------------------------------------------------------------------------------

test('clock: each direction reaches its floor: fast legs win over slow biased exchanges', () => {
  const c = new SyncClock();
  for (let i = 0; i < 8; i++) c.addSample(...fixed(1000 + i * 100, -120, 80 + i, 1, 5)); // slow up, biased
  for (let i = 0; i < 4; i++) c.addSample(...fixed(5000 + i * 100, -120, 2, 1, 2)); // fast, symmetric
  ok(Math.abs(c.offset - -120) < 0.5, `offset ${c.offset} within 0.5 ms of -120`);
  eq(c.delay, 4, 'delay of the best sample');
});

test('clock: only the last `window` samples count', () => {
  const c = new SyncClock({ window: 4 });
  c.addSample(...fixed(1000, 999, 0.5, 0, 0.5)); // excellent but old
  for (let i = 0; i < 4; i++) c.addSample(...fixed(2000 + i, 10, 5, 1, 5));
  eq(c.samples.length, 4, 'kept samples');
  ok(Math.abs(c.offset - 10) < 0.01, `offset ${c.offset} from the recent samples only`);
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
    const k = new LowestDelay(16); // the classic filter, over the last 16 exchanges
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
    syncClockP50: +quantile(errs[n], 0.5).toFixed(2),
    syncClockP95: +quantile(errs[n], 0.95).toFixed(2),
    lowestDelayP50: +quantile(classic[n], 0.5).toFixed(2),
    lowestDelayP95: +quantile(classic[n], 0.95).toFixed(2),
  }));
  console.log('# clock error (ms) under 0–50 ms uniform jitter each way, ' + RUNS + ' runs');
  console.table(rows);
  const at40 = rows.find((r) => r.samples === 40);
  ok(at40.syncClockP95 <= 2, `p95 after 40 samples (~65 s) is ${at40.syncClockP95} ms`);
  ok(rows.every((r) => r.syncClockP95 <= r.lowestDelayP95), 'SyncClock beats lowest-delay at every checkpoint');
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

// ---- robustness -------------------------------------------------------------------------------

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

// ---- in the client ----------------------------------------------------------------------------

test('client: SyncClock is the default clock (also from syncplay.js); pongs feed serverNow(); burst at join', () => {
  const { client, last, clock } = setup();
  ok(client.clock instanceof SyncClock, `default clock is SyncClock, got ${client.clock && client.clock.constructor.name}`);
  ok(FromSyncplay === SyncClock, 'syncplay.js re-exports the same class');
  eq(client.clock.opts, CLOCK_DEFAULTS, 'with the defaults');
  client.connect();
  const ws = last();
  serveJoin(ws);
  clock.advance(0);
  const burst = ws.sentOfType('ping').length;
  ok(burst >= 1, `a ping is sent at once (got ${burst})`);
  // Answer every ping with a server clock 2000 ms ahead, 4 ms each way.
  let answered = 0;
  const answer = () => {
    const pings = ws.sentOfType('ping');
    while (answered < pings.length) {
      const t0 = pings[answered++].timestamp;
      clock.advance(4);
      const t1 = us(t0 + 4 + 2000);
      clock.advance(4);
      ws.receive({ type: 'pong', timestamp: t0, serverReceiveTime: t1, serverSendTime: t1 });
    }
  };
  for (let i = 0; i < 10; i++) {
    answer();
    clock.advance(142); // lands exactly on the next burst ping
  }
  eq(ws.sentOfType('ping').length, 8, 'burst size');
  eq(client.clock.samples.length, 8, 'the burst fed the filter');
  eq(client.state.clockOffset, 2000, 'state.clockOffset');
  eq(client.serverNow() - clock.now(), 2000, 'serverNow() − now()');
  eq(client.state.latency, 8, 'own round trip (ms)');
});

test('client: an injected clock is used (clock option)', () => {
  const injected = new SyncClock({ window: 8 });
  const { client } = setup({ options: { clock: injected } });
  ok(client.clock === injected, 'injected');
});

test('client: a plain 1.0 pong gives latency but no offset', () => {
  const { client, last, clock } = setup();
  client.connect();
  const ws = last();
  ws.open();
  ws.receive({ type: 'welcome', timestamp: 1, clientId: 'm-1', sessionInfo: { id: 'k7m2qx', name: 'P', hostId: 'h' } });
  const t0 = ws.sentOfType('ping')[0].timestamp;
  clock.advance(12);
  ws.receive({ type: 'pong', timestamp: t0 });
  eq(client.state.latency, 12, 'latency');
  eq(client.state.clockOffset, null, 'no offset without server times');
  ok(client instanceof PartylineClient, 'client');
});

// ---- the Rust port's vectors ------------------------------------------------------------------

test('clock: the shared test vectors are what make_vectors.mjs writes from this clock.js', () => {
  const onDisk = readFileSync(VECTORS_PATH, 'utf8');
  const now = render(generate());
  const a = onDisk.split('\n');
  const b = now.split('\n');
  const line = a.findIndex((l, i) => l !== b[i]);
  ok(onDisk === now, `crates/clock/tests/vectors.json is current (first difference at line ${line + 1}: ` +
    `on disk ${JSON.stringify((a[line] || '').slice(0, 120))}, now ${JSON.stringify((b[line] || '').slice(0, 120))}); ` +
    'rerun node crates/clock/tests/make_vectors.mjs and the Rust port\'s test (cargo test -p partyline-clock)');
});
