// Test doubles for client.js: a manual clock with timers, a fake WebSocket driven by the test
// (acting as the server), and a small assertion helper whose messages show expected vs actual.
import assert from 'node:assert/strict';
import { PartylineClient } from './client.js';

/** Deep-equal assertion: "<what>: expected <e>, got <a>". */
export function eq(actual, expected, what) {
  assert.deepStrictEqual(
    actual,
    expected,
    `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
  );
}

/** Truthy assertion with the value shown. */
export function ok(value, what) {
  assert.ok(value, `${what}: expected truthy, got ${JSON.stringify(value)}`);
}

/** A manual clock: timers run only when the test advances time. */
export class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.t = start;
    this.timers = new Map();
    this.nextId = 1;
    this.now = () => this.t;
    this.setTimeout = (fn, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { at: this.t + Math.max(0, ms || 0), fn, id });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  /** Advances time by `ms`, running every timer that falls due, in order. */
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let next = null;
      for (const tm of this.timers.values()) {
        if (tm.at <= end && (!next || tm.at < next.at || (tm.at === next.at && tm.id < next.id))) next = tm;
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }
}

/** A fake WebSocket; every instance is recorded in `FakeWebSocket.instances` (reset per test). */
export function makeFakeWebSocket() {
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedByClient = null;
      FakeWebSocket.instances.push(this);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('not open');
      this.sent.push(JSON.parse(data));
    }
    close(code, reason) {
      this.closedByClient = { code, reason };
      this.readyState = 3;
    }
    // ---- driven by the test (the "server") ----
    open() {
      this.readyState = 1;
      if (this.onopen) this.onopen({});
    }
    receive(obj) {
      if (this.onmessage) this.onmessage({ data: JSON.stringify(obj) });
    }
    serverClose(code = 1006, reason = '') {
      this.readyState = 3;
      if (this.onclose) this.onclose({ code, reason });
    }
    sentOfType(type) {
      return this.sent.filter((m) => m.type === type);
    }
  }
  FakeWebSocket.instances = [];
  return FakeWebSocket;
}

export const SESSION = { id: 'k7m2qx', name: "Rishad's Party", hostId: 'host-7c01' };
export const HOST = { id: 'host-7c01', name: "Rishad's MacBook", isHost: true, connectionStatus: 'connected', joinedAt: 1 };
export const ME = { id: 'm-1', name: 'Phone', isHost: false, connectionStatus: 'connected', joinedAt: 2 };
export const SARA = { id: 'm-2', name: 'Sara', isHost: false, connectionStatus: 'connected', joinedAt: 3, latency: 40 };

/** A client wired to a fake clock and fake sockets. */
export function setup(extra = {}) {
  const clock = new FakeClock();
  const WS = makeFakeWebSocket();
  let r = 0;
  const randoms = extra.randoms || [0.5];
  const client = new PartylineClient(Object.assign({
    url: 'ws://127.0.0.1:1/ws?token=abc',
    sessionId: SESSION.id,
    device: { id: 'dev-1', name: 'Phone' },
    WebSocket: WS,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    now: clock.now,
    random: () => randoms[r++ % randoms.length],
  }, extra.options || {}));
  const transitions = [];
  client.on('connection', (e) => transitions.push(e.state));
  const creds = [];
  client.on('credentials', (c) => creds.push(c));
  const last = () => WS.instances[WS.instances.length - 1];
  return { clock, WS, client, transitions, creds, last };
}

/** Drives a full partyline/1 join on socket `ws`, seqs starting at `seq`. Returns the next seq. */
export function serveJoin(ws, { seq = 1, members = [HOST, ME], secret = 'a'.repeat(32), clientId = 'm-1' } = {}) {
  ws.open();
  ws.receive({ seq, type: 'welcome', timestamp: 1, clientId, sessionInfo: SESSION, resumeSecret: secret });
  ws.receive({ type: 'hello', timestamp: 1, protocolVersion: 'partyline/1', heartbeatInterval: 5000,
    heartbeatTimeout: 15000, resumeWindow: 120000, serverTime: 1_700_000_000_000_000 });
  ws.receive({ seq: seq + 1, type: 'member_list', timestamp: 1, members });
  return seq + 2;
}
