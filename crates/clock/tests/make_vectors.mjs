// Writes the shared test vectors (vectors.json beside this file): seeded scenarios run through the
// phone's own clock filter (ui/shared/clock.js), every operation's inputs and SyncClock's state
// after it. tests/vectors.rs replays them through the Rust port and checks it gives the same
// numbers; ui/shared/clock.test.mjs checks the file is what this script writes now, so a change to
// clock.js without regenerating fails.
//
//   node crates/clock/tests/make_vectors.mjs        (rewrites crates/clock/tests/vectors.json)
//
// Units as clock.js: t0/t3 and every offset in ms, t1/t2 in µs.
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CLOCK_DEFAULTS, SyncClock } from '../../../ui/shared/clock.js';

/** Where the vectors live. */
export const VECTORS_PATH = fileURLToPath(new URL('./vectors.json', import.meta.url));

/** Deterministic uniform [0, 1), the same generator as the JS unit tests. */
function lcg(seed) {
  let s = (seed * 2654435761 + 12345) >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** An epoch-ms start, like a phone's `now()`. */
const EPOCH = 1.7e12;

/**
 * One exchange at true time `at` (ms): the client clock is true time + `step`, the host clock true
 * time + theta(at). Each way `floor` + uniform [0, jitter) ms; the host holds it `hold` ms.
 */
function exchange(rng, at, theta, { floor = 0.5, jitter = 50, hold = 0.02, step = 0 } = {}) {
  const up = floor + rng() * jitter;
  const down = floor + rng() * jitter;
  const t1 = at + up + theta(at + up);
  const t2 = t1 + hold;
  return [at + step, t1 * 1000, t2 * 1000, at + up + hold + down + step];
}

/** The scenarios: each a list of operations on one fresh SyncClock (with `options`, if any). */
function scenarios() {
  const list = [];
  const add = (name, options, build) => {
    const ops = [];
    build(ops);
    list.push({ name, options, ops });
  };

  add('no jitter: exact, after a coarse offset; impossible samples refused', {}, (ops) => {
    const rng = lcg(1);
    ops.push({ op: 'coarse', server: EPOCH + 480, client: EPOCH });
    for (let n = 0; n < 12; n++) {
      ops.push({ op: 'sample', t: exchange(rng, EPOCH + n * 2000, () => 250, { floor: 5, jitter: 0 }) });
    }
    ops.push({ op: 'sample', t: [EPOCH + 30000, 1e15, 1e15 + 100e3, EPOCH + 30050] }); // hold > round trip
    ops.push({ op: 'sample', t: [EPOCH + 30000, 1e15, 1e15 - 10e3, EPOCH + 30010] }); // host time backwards
    ops.push({ op: 'sample', t: [EPOCH + 30000, 1e15, 1e15 + 1e3, EPOCH + 29990] }); // pong before ping
  });

  add('0–50 ms uniform jitter each way: the join burst, then a ping every 2 s', {}, (ops) => {
    const rng = lcg(2);
    const theta0 = (rng() - 0.5) * 2e6;
    for (let n = 1; n <= 80; n++) {
      const at = EPOCH + (n <= 8 ? n * 150 : 1200 + (n - 8) * 2000);
      ops.push({ op: 'sample', t: exchange(rng, at, () => theta0) });
    }
  });

  add('40 ppm drift under 0–50 ms jitter, 6 minutes', {}, (ops) => {
    const rng = lcg(3);
    const theta = (t) => 5000 + 40e-6 * (t - EPOCH);
    for (let n = 0; n < 180; n++) ops.push({ op: 'sample', t: exchange(rng, EPOCH + n * 2000, theta) });
  });

  add('500 ppm drift: more than maxDrift, not believed', {}, (ops) => {
    const rng = lcg(4);
    const theta = (t) => -700 + 500e-6 * (t - EPOCH);
    for (let n = 0; n < 70; n++) {
      ops.push({ op: 'sample', t: exchange(rng, EPOCH + n * 2000, theta, { jitter: 5 }) });
    }
  });

  add('the client clock steps 1.5 s ahead mid-run', {}, (ops) => {
    const rng = lcg(5);
    for (let n = 0; n < 20; n++) {
      ops.push({ op: 'sample', t: exchange(rng, EPOCH + n * 2000, () => 1000, { jitter: 10 }) });
    }
    for (let n = 0; n < 8; n++) {
      const at = EPOCH + 40000 + n * 150;
      ops.push({ op: 'sample', t: exchange(rng, at, () => 1000, { jitter: 10, step: 1500 }) });
    }
  });

  add('an outlier: one reply from a host clock 80 ms off', {}, (ops) => {
    const rng = lcg(6);
    for (let n = 0; n < 24; n++) {
      const theta = n === 12 ? () => 380 : () => 300;
      ops.push({ op: 'sample', t: exchange(rng, EPOCH + n * 2000, theta, { jitter: 5 }) });
    }
  });

  add('reset() after a sleep: kept when the first new sample agrees, dropped when it does not', {}, (ops) => {
    const rng = lcg(7);
    let at = EPOCH;
    for (let n = 0; n < 20; n++, at += 2000) ops.push({ op: 'sample', t: exchange(rng, at, () => 42, { jitter: 20 }) });
    at += 60000; // slept a minute, same clock
    ops.push({ op: 'reset' });
    for (let n = 0; n < 5; n++, at += 150) ops.push({ op: 'sample', t: exchange(rng, at, () => 42, { jitter: 20 }) });
    at += 300000; // slept five minutes; the client clock stepped 900 ms back meanwhile
    ops.push({ op: 'reset' });
    for (let n = 0; n < 10; n++, at += 2000) {
      ops.push({ op: 'sample', t: exchange(rng, at, () => 42, { jitter: 20, step: -900 }) });
    }
    ops.push({ op: 'clear' });
    ops.push({ op: 'sample', t: exchange(rng, at, () => 42, { jitter: 20 }) });
  });

  add('small windows: 16 samples, a 64-sample history, drift from 30 s', {
    window: 16,
    history: 64,
    driftMinSpan: 30000,
    driftMinSamples: 20,
    stepConfirm: 2,
  }, (ops) => {
    const rng = lcg(8);
    const theta = (t) => -12345 + 25e-6 * (t - EPOCH);
    for (let n = 0; n < 90; n++) ops.push({ op: 'sample', t: exchange(rng, EPOCH + n * 1000, theta, { jitter: 30 }) });
  });

  // Edges the random scenarios would meet only by chance: each sits a fraction of a ms inside or
  // outside a threshold, so a changed constant or rounding rule moves the outcome.
  add('edge: an offset of exactly -1.0625 ms rounds to -1.062 (halves toward +infinity)', {}, (ops) => {
    ops.push({ op: 'sample', t: [1000, 1003937.5, 1003937.5, 1010] });
  });

  for (const [theta, what] of [[29.9, 'kept (0.15 ms inside)'], [29.6, 'dropped (0.15 ms outside)']]) {
    add(`edge: reset(), then a sample ${(42 - theta).toFixed(1)} ms off against the 2 ms slack: ${what}`, {}, (ops) => {
      const rng = lcg(9);
      for (let n = 0; n < 10; n++) {
        ops.push({ op: 'sample', t: exchange(rng, EPOCH + n * 2000, () => 42, { floor: 5, jitter: 0 }) });
      }
      ops.push({ op: 'reset' });
      ops.push({ op: 'sample', t: exchange(rng, EPOCH + 80000, () => theta, { floor: 5, jitter: 0 }) });
    });
  }

  add('edge: three outliers 4.5 ms apart do not make a step; three that agree do', {}, (ops) => {
    const rng = lcg(10);
    for (let n = 0; n < 20; n++) {
      ops.push({ op: 'sample', t: exchange(rng, EPOCH + n * 2000, () => 300, { jitter: 0 }) });
    }
    for (const [n, theta] of [500, 500, 505.5, 505.5, 505.5].entries()) {
      ops.push({ op: 'sample', t: exchange(rng, EPOCH + 40000 + n * 2000, () => theta, { jitter: 0 }) });
    }
  });

  return list;
}

/** SyncClock's state after an operation, with currentOffset at the newest time and later. */
function state(c, now) {
  const newest = c.samples[c.samples.length - 1];
  return {
    offset: c.offset,
    delay: c.delay,
    coarse: c.coarse,
    ref: c.ref,
    drift: c.drift,
    driftKnown: c.driftKnown,
    uncertainty: c.uncertainty,
    used: c.used,
    steps: c.steps,
    samples: c.samples.length,
    history: c.history.length,
    newestOutlier: newest ? newest.outlier : null,
    current: c.currentOffset(),
    at: [now, now + 1000, now + 60000].map((x) => [x, c.currentOffset(x)]),
  };
}

/** Runs every scenario through clock.js: { defaults, scenarios: [{ name, options, steps }] }. */
export function generate() {
  return {
    defaults: CLOCK_DEFAULTS,
    scenarios: scenarios().map(({ name, options, ops }) => {
      const c = new SyncClock(options);
      let now = EPOCH;
      const steps = ops.map((op) => {
        const step = Object.assign({}, op);
        if (op.op === 'sample') {
          step.result = c.addSample(...op.t);
          now = op.t[3];
        } else if (op.op === 'coarse') {
          c.addCoarse(op.server, op.client);
        } else if (op.op === 'reset') {
          c.reset();
        } else if (op.op === 'clear') {
          c.clear();
        }
        step.after = state(c, now);
        return step;
      });
      return { name, options, steps };
    }),
  };
}

/** The file's text: one step per line, so a change shows as the steps it moved. */
export function render(vectors) {
  const lines = [];
  lines.push('{');
  lines.push('"generator": "crates/clock/tests/make_vectors.mjs (from ui/shared/clock.js); do not edit",');
  lines.push('"defaults": ' + JSON.stringify(vectors.defaults) + ',');
  lines.push('"scenarios": [');
  vectors.scenarios.forEach((s, i) => {
    lines.push('{"name": ' + JSON.stringify(s.name) + ', "options": ' + JSON.stringify(s.options) + ', "steps": [');
    s.steps.forEach((step, j) => lines.push(JSON.stringify(step) + (j + 1 < s.steps.length ? ',' : '')));
    lines.push(']}' + (i + 1 < vectors.scenarios.length ? ',' : ''));
  });
  lines.push(']');
  lines.push('}');
  return lines.join('\n') + '\n';
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = render(generate());
  writeFileSync(VECTORS_PATH, text);
  console.log(`wrote ${VECTORS_PATH} (${text.length} bytes)`);
}
