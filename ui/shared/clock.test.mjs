// Rule protected: the clock offset (server − client) is computed NTP-style from ping/pong,
// offset = ((t1 − t0) + (t2 − t3)) / 2 and delay = (t3 − t0) − (t2 − t1), with t1/t2 the server's
// receive/send times in MICROseconds and t0/t3 the client's in milliseconds. Asymmetric paths
// bias a sample by at most delay / 2, so the estimate is taken from the lowest-delay samples of the
// last N, and samples that disagree with them (congestion spikes, impossible negative delays) are
// rejected; serverNow() is the client's clock plus that offset.
import test from 'node:test';
import { ClockSync, PartylineClient } from './client.js';
import { eq, ok, setup, serveJoin } from './fakes.mjs';

const us = (ms) => ms * 1000;

/** Builds one exchange: true offset `theta`, outbound `up` ms, server hold `hold` ms, back `down` ms. */
function exchange(t0, theta, up, hold, down) {
  const t1 = t0 + up + theta;
  const t2 = t1 + hold;
  const t3 = t0 + up + hold + down;
  return [t0, us(t1), us(t2), t3];
}

test('symmetric path: exact offset and delay', () => {
  const c = new ClockSync();
  const s = c.addSample(...exchange(1000, 250, 10, 1, 10));
  eq(s, { offset: 250, delay: 20 }, 'sample');
  eq(c.offset, 250, 'offset');
  eq(c.delay, 20, 'delay');
});

test('asymmetric path: error is half the asymmetry and within delay / 2', () => {
  const c = new ClockSync();
  // 30 ms up, 10 ms down, 1 ms server hold: the sample is biased by (30 − 10) / 2 = +10 ms.
  const s = c.addSample(...exchange(1000, 500, 30, 1, 10));
  eq(s.offset, 510, 'offset with asymmetric delays');
  eq(s.delay, 40, 'delay excludes the server hold time');
  ok(Math.abs(s.offset - 500) <= s.delay / 2, `error ${s.offset - 500} within delay/2 ${s.delay / 2}`);
});

test('the lowest-delay samples win over slow asymmetric ones', () => {
  const c = new ClockSync({ maxSamples: 16, best: 4 });
  for (let i = 0; i < 8; i++) c.addSample(...exchange(1000 + i * 100, -120, 80 + i, 1, 5)); // slow, biased
  for (let i = 0; i < 4; i++) c.addSample(...exchange(5000 + i * 100, -120, 2, 1, 2)); // fast, symmetric
  ok(Math.abs(c.offset - -120) < 0.5, `offset ${c.offset} within 0.5 ms of -120`);
  eq(c.delay, 4, 'delay of the best sample');
});

test('outliers are rejected: a low-delay sample with a wild offset does not move the estimate', () => {
  const c = new ClockSync({ maxSamples: 16, best: 4 });
  c.addSample(...exchange(1000, 300, 3, 1, 3)); // 6 ms delay, offset 300
  c.addSample(...exchange(2000, 300, 4, 1, 4));
  c.addSample(...exchange(3000, 300, 3, 1, 4));
  // A glitch: delay similar but offset 80 ms away (e.g. the server clock stepped for one reply).
  c.addSample(...exchange(4000, 380, 3, 1, 3));
  ok(Math.abs(c.offset - 300) < 1, `offset ${c.offset} stays near 300 despite the outlier`);
});

test('impossible samples (negative delay, time running backwards) are refused', () => {
  const c = new ClockSync();
  eq(c.addSample(1000, us(2000), us(2100), 1050), null, 'server hold longer than the round trip');
  eq(c.addSample(1000, us(2000), us(1990), 1010), null, 'server send before receive');
  eq(c.addSample(1000, us(2000), us(2001), 990), null, 'pong before ping');
  eq(c.addSample(NaN, 1, 2, 3), null, 'non-number');
  eq(c.samples.length, 0, 'nothing kept');
  eq(c.currentOffset(), 0, 'offset unknown → 0');
});

test('only the last N samples count', () => {
  const c = new ClockSync({ maxSamples: 4, best: 2 });
  c.addSample(...exchange(1000, 999, 0.5, 0, 0.5)); // excellent but old
  for (let i = 0; i < 4; i++) c.addSample(...exchange(2000 + i, 10, 5, 1, 5));
  eq(c.samples.length, 4, 'kept samples');
  ok(Math.abs(c.offset - 10) < 0.01, `offset ${c.offset} from the recent samples only`);
});

test('coarse hello.serverTime is used only until a real sample exists', () => {
  const c = new ClockSync();
  c.addCoarse(10_500, 10_000);
  eq(c.currentOffset(), 500, 'coarse offset');
  c.addSample(...exchange(20_000, 450, 5, 1, 5));
  eq(c.currentOffset(), 450, 'sampled offset replaces coarse');
});

test('client: pongs with server times feed serverNow(); burst of pings at join', () => {
  const { client, last, clock } = setup();
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
  eq(client.state.clockOffset, 2000, 'state.clockOffset');
  eq(client.serverNow() - clock.now(), 2000, 'serverNow() − now()');
  eq(client.state.latency, 8, 'own round trip (ms)');
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
