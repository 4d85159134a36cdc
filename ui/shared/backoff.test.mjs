// Rule protected: reconnect delays use full-jitter exponential backoff. Each delay is uniformly
// random in [0, min(cap, base * 2^attempt)): never negative, never above the cap, growing with the
// attempt until the cap, and spread out (jittered) so that a room full of phones whose Wi-Fi came
// back at the same instant does not reconnect in lockstep and stampede the host.
import test from 'node:test';
import { backoffDelay, DEFAULTS } from './client.js';
import { eq, ok } from './fakes.mjs';

test('delay stays within [0, min(cap, base * 2^attempt))', () => {
  const base = 500;
  const cap = 10000;
  for (let attempt = 0; attempt < 40; attempt++) {
    const ceiling = Math.min(cap, base * 2 ** attempt);
    const low = backoffDelay(attempt, base, cap, () => 0);
    const high = backoffDelay(attempt, base, cap, () => 0.999999);
    eq(low, 0, `attempt ${attempt} with random 0`);
    ok(high < ceiling, `attempt ${attempt}: ${high} < ceiling ${ceiling}`);
    ok(high >= ceiling - 1, `attempt ${attempt}: ${high} close to ceiling ${ceiling}`);
  }
});

test('ceiling doubles from base until it reaches the cap', () => {
  const ceilings = [0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, 500, 10000, () => 0.999999) + 1);
  eq(ceilings, [500, 1000, 2000, 4000, 8000, 10000, 10000], 'ceilings per attempt');
});

test('defaults are base 500 ms, cap 10 s', () => {
  eq(DEFAULTS.backoffBase, 500, 'default base');
  eq(DEFAULTS.backoffCap, 10000, 'default cap');
  eq(backoffDelay(20, undefined, undefined, () => 0.999999), 9999, 'capped default delay');
});

test('delays are jittered: many draws spread over the whole range', () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const draws = Array.from({ length: 2000 }, () => backoffDelay(10, 500, 10000, rnd));
  const distinct = new Set(draws).size;
  const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
  ok(distinct > 1000, `distinct delays ${distinct} > 1000`);
  ok(mean > 4500 && mean < 5500, `mean ${mean.toFixed(0)} near 5000 (uniform over [0, 10000))`);
  ok(Math.min(...draws) < 500, `smallest draw ${Math.min(...draws)} < 500`);
  ok(Math.max(...draws) > 9500, `largest draw ${Math.max(...draws)} > 9500`);
});

test('nonsense attempts are clamped, never NaN or negative', () => {
  eq(backoffDelay(-3, 500, 10000, () => 0.5), 250, 'negative attempt treated as 0');
  eq(backoffDelay(1e9, 500, 10000, () => 0.5), 5000, 'huge attempt capped');
});
