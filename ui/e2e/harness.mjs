// Shared harness of the end-to-end tests of the phone page, ui/e2e and ui/e2e-sync (not a test file itself): the one CDP client.
//
// Everything real, everything on 127.0.0.1: the `partyline host` binary (target/debug/partyline,
// driven through its --json event lines and its stdin commands), headless Chromium driven over
// the Chrome DevTools Protocol (no npm packages), a protocol-speaking WebSocket member, and a
// userspace TCP proxy that can cut the page's connections. Every wait has a time limit and every
// process started here is stopped by the caller's after hook (see `Cleanup`).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '..', '..');
export const BIN = process.env.PARTYLINE_BIN || join(ROOT, 'target', 'debug', 'partyline');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = join(ROOT, 'tests', 'output', 'phone');
export const VIEWPORT = { width: 390, height: 844 };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const show = (v) => {
  try {
    return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v, null, 0);
  } catch (e) {
    return String(v);
  }
};

/** Fails clearly when the runtime lacks what the suite needs (Node 20 needs the flag). */
export function requireEnvironment() {
  assert.equal(typeof WebSocket, 'function',
    'expected a global WebSocket (Node 20: run with --experimental-websocket), got ' + typeof WebSocket);
  assert.ok(existsSync(BIN), `expected the host binary at ${BIN}: run \`cargo build -p partyline-cli\` first`);
  assert.ok(existsSync(CHROMIUM), `expected Chromium at ${CHROMIUM}`);
}

/**
 * Polls `probe` (sync or async) until it returns something truthy; returns that value. On timeout
 * throws "timed out after N ms waiting for <what>: last value <v>".
 */
export async function waitUntil(probe, what, ms = 8000, every = 50) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = 'error: ' + e.message;
    }
    if (Date.now() >= end) throw new Error(`timed out after ${ms} ms waiting for ${what}; last value: ${show(last)}`);
    await sleep(every);
  }
}

/** Runs `fn` with a time limit. */
export async function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Collects teardown steps; `run()` runs them all (last first), each with a time limit. */
export class Cleanup {
  constructor() {
    this.steps = [];
  }
  add(what, fn) {
    this.steps.push({ what, fn });
  }
  async run() {
    const errors = [];
    while (this.steps.length) {
      const { what, fn } = this.steps.pop();
      try {
        await within(10000, 'cleanup: ' + what, Promise.resolve().then(fn));
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw errors[0];
  }
}

export async function stopChild(child, { gracefully, ms = 5000, group = false } = {}) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  const kill = (sig) => {
    try {
      if (group) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch (e) {
      /* already gone */
    }
  };
  if (gracefully) {
    try {
      await gracefully();
    } catch (e) {
      /* fall through to signals */
    }
    if (await Promise.race([exited.then(() => true), sleep(ms).then(() => false)])) return;
  }
  kill('SIGTERM');
  if (await Promise.race([exited.then(() => true), sleep(ms).then(() => false)])) return;
  kill('SIGKILL');
  await Promise.race([exited, sleep(ms)]);
}

// ---- the host ---------------------------------------------------------------------------------

/**
 * A real `partyline host` on 127.0.0.1 with a random port, mDNS off. `info` is its first JSON line;
 * `events` every later event line (parsed), in order.
 */
export class Host {
  /**
   * `partyFile`: keep the party in that file (a restart picks it up); without it, in memory.
   * `testClock`: enable the test hook `advance <seconds>` (PARTYLINE_TEST_CLOCK=1, see advance()).
   */
  static async start({ maxMembers, open, name, media, partyFile, testClock = false, extra = [] } = {}) {
    const store = partyFile ? ['--party-file', partyFile] : ['--no-store'];
    const args = ['host', ...store, '--bind', '127.0.0.1', '--port', '0', '--json', '--no-mdns', '--no-qr'];
    if (maxMembers != null) args.push('--max-members', String(maxMembers));
    if (open) args.push('--open');
    if (name) args.push('--name', name);
    if (media) args.push('--media', media); // the shared folder (SyncPlay)
    args.push(...extra); // any other flag, e.g. ['--upload-max-mb', '2']
    const env = Object.assign({}, process.env, testClock ? { PARTYLINE_TEST_CLOCK: '1' } : {});
    const child = spawn(BIN, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    const h = new Host(child);
    const info = await within(10000, 'the host to print its JSON line', h._firstLine);
    h.info = info;
    return h;
  }

  constructor(child) {
    this.child = child;
    this.events = [];
    this.stderr = '';
    this.exit = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    child.stderr.on('data', (d) => {
      this.stderr += d;
    });
    child.stdin.on('error', () => {}); // the host may be gone already
    const rl = createInterface({ input: child.stdout });
    this._firstLine = new Promise((res, rej) => {
      let first = true;
      rl.on('line', (line) => {
        let obj;
        try {
          obj = JSON.parse(line);
        } catch (e) {
          if (first) rej(new Error('host printed a non-JSON first line: ' + line));
          return;
        }
        if (first) {
          first = false;
          res(obj);
        } else {
          obj._at = Date.now(); // when the test saw it (ms, the system clock the host also reads)
          this.events.push(obj);
        }
      });
      child.once('exit', (code) => rej(new Error(`host exited (${code}) before its JSON line; stderr: ${this.stderr}`)));
    });
  }

  get port() {
    return this.info.port;
  }
  get httpBase() {
    return `http://127.0.0.1:${this.info.port}`;
  }

  /** Types one command line into the host's stdin. */
  command(line) {
    this.child.stdin.write(line + '\n');
  }

  /** Library item ids by title, from the host's `library` listing on stderr. */
  async libraryIds() {
    this.stderr = '';
    this.command('library');
    const end = Date.now() + 5000;
    while (Date.now() < end && !/now:/.test(this.stderr)) await sleep(50);
    const out = {};
    for (const m of this.stderr.matchAll(/^\s+(t-[0-9a-f]+)\s+(.+?) \(/gm)) out[m[2]] = m[1];
    return out;
  }

  /**
   * Test hook (a host started with `testClock`): the host's clock jumps `seconds` forward, as if
   * that long had passed at once; resolves once the host says it ran what fell due.
   */
  async advance(seconds) {
    const from = this.stderr.length;
    this.command(`advance ${seconds}`);
    await waitUntil(() => /clock advanced .* \(test hook\)/.test(this.stderr.slice(from)) || /^! .*/m.test(this.stderr.slice(from)),
      `the host's clock ${seconds} s on`, 5000, 20);
    const said = this.stderr.slice(from);
    if (!/clock advanced/.test(said)) throw new Error('advance refused: ' + said.trim());
  }

  /** Waits for an event line matching `pred` (searching from index `from`); returns it. */
  waitEvent(pred, what, ms = 8000, from = 0) {
    return waitUntil(() => this.events.slice(from).find(pred), `host event: ${what}`, ms, 25);
  }

  /** SIGKILL: the host dies mid-party, as in a crash (nothing is said to anyone). */
  async kill() {
    this.child.kill('SIGKILL');
    await this.exit;
  }

  async stop() {
    await stopChild(this.child, {
      gracefully: async () => {
        this.command('close');
        this.child.stdin.end();
      },
    });
  }
}

/**
 * The host serves the page embedded at build time: a stale binary would test stale files. Checks
 * that every page file it serves (`/` = ui/phone/index.html, `/<name>` for the other files of
 * ui/phone, `/shared/<name>` for those of ui/shared; Node's .mjs files are not served) was built
 * from the file on disk: the host names the SHA-256 of each file's source in `x-partyline-source`
 * (what it serves is not the file byte for byte: the page has its import map written in, the
 * modules are minified). One it does not serve (404) is stale too.
 */
export async function assertServesCurrentUi(base) {
  // Written into the page, not served (build.rs's INLINED, in its order): the page's digest
  // covers index.html and then these.
  const inlined = ['ui/phone/style.css', 'ui/phone/boot.js'];
  const files = [];
  for (const [dir, prefix] of [['ui/phone', '/'], ['ui/shared', '/shared/']]) {
    for (const f of readdirSync(join(ROOT, dir)).sort()) {
      if (/\.(html|js|css|svg)$/.test(f) && !inlined.includes(dir + '/' + f)) {
        files.push([prefix === '/' && f === 'index.html' ? '/' : prefix + f, dir + '/' + f]);
      }
    }
  }
  const stale = [];
  for (const [path, file] of files) {
    const res = await within(5000, 'GET ' + path, fetch(base + path));
    await res.arrayBuffer();
    const built = res.headers.get('x-partyline-source');
    const sources = path === '/' ? [file, ...inlined] : [file];
    const hash = createHash('sha256');
    for (const f of sources) hash.update(readFileSync(join(ROOT, f)));
    const disk = hash.digest('hex').slice(0, 16);
    if (built !== disk) stale.push(`${file} (${res.status}, built from ${built}, on disk ${disk})`);
  }
  assert.deepEqual(stale, [],
    'expected the host to serve the page files as they are on disk; the binary is stale, run `cargo build -p partyline-cli`');
}

// ---- a protocol member (plain WebSocket) ------------------------------------------------------

/**
 * A second guest speaking the protocol directly (partyline/1), with heartbeats. `messages` keeps
 * every server message. Connects straight to the host (not through the proxy).
 */
export class WsMember {
  static async join(host, { name = 'Sara', deviceId = 'e2e-ws-' + Math.random().toString(16).slice(2) } = {}) {
    const m = new WsMember();
    const url = host.info.wsUrl + (host.info.joinKey ? '?token=' + encodeURIComponent(host.info.joinKey) : '');
    const ws = new WebSocket(url);
    m.ws = ws;
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      m.messages.push(msg);
    };
    ws.onclose = (ev) => {
      m.closed = { code: ev.code, reason: ev.reason };
    };
    await within(5000, 'member socket to open', new Promise((res, rej) => {
      ws.onopen = res;
      ws.onerror = () => rej(new Error('member socket failed to open'));
    }));
    m.send({ type: 'join', sessionId: host.info.sessionId, protocolVersion: 'partyline/1', deviceInfo: { id: deviceId, name, type: 'client' } });
    const reply = await m.waitFor((x) => x.type === 'welcome' || x.type === 'error', 'welcome or error');
    m.reply = reply;
    if (reply.type === 'welcome') {
      m.id = reply.clientId;
      m.hb = setInterval(() => m.send({ type: 'heartbeat' }), 4000);
    }
    return m;
  }

  constructor() {
    this.messages = [];
    this.closed = null;
    this.id = null;
  }
  send(obj) {
    this.ws.send(JSON.stringify(Object.assign({ timestamp: Date.now() }, obj)));
  }
  chat(text) {
    this.send({ type: 'chat', text });
  }
  waitFor(pred, what, ms = 5000) {
    return waitUntil(() => this.messages.find(pred), 'member message: ' + what, ms, 20);
  }
  async close() {
    clearInterval(this.hb);
    if (this.closed) return;
    const done = new Promise((r) => this.ws.addEventListener('close', r));
    try {
      this.ws.close(1000);
    } catch (e) {
      /* already closing */
    }
    await Promise.race([done, sleep(2000)]);
  }
}

/**
 * Fills the party's replay log past its 16 MiB: 2,210 broadcasts of 8 KB (the most a payload
 * holds) from 13 `senders` on a topic only `sink` takes (a phone gets none, so its page is not the
 * bottleneck). A member away across it gets a snapshot when it resumes, not a replay. The sink is
 * subscribed here, and the filling starts once the host has said so (`subscriptions`): a
 * broadcast the host took before the sink's subscribe would never reach it.
 */
export async function fillReplayLog(senders, sink) {
  const asked = sink.messages.length;
  sink.send({ type: 'subscribe', topics: ['filler'] });
  await waitUntil(() => sink.messages.slice(asked).some((m) => m.type === 'subscriptions' && (m.topics || []).includes('filler')),
    'the sink subscribed to the filler', 10000);
  const payload = { pad: 'x'.repeat(7900) };
  const each = Math.ceil(2210 / senders.length);
  const before = sink.messages.filter((m) => m.type === 'broadcast').length;
  const through = () => sink.messages.filter((m) => m.type === 'broadcast').length - before;
  let sent = 0;
  await Promise.all(senders.map(async (g, i) => {
    for (let k = 0; k < each; k++) {
      // At most 64 on their way to the sink: a loaded machine's sink that fell 256 behind would
      // be closed as too slow (4008), and the filler would never be through.
      await waitUntil(() => sent - through() < 64, 'the sink keeping up with the filler', 30000, 10);
      g.send({ type: 'broadcast', topic: 'filler', id: `f-${i}-${k}`, payload });
      sent += 1;
      await sleep(50);
    }
  }));
  const want = senders.length * each;
  try {
    await waitUntil(() => through() >= want, 'the filler through', 30000);
  } catch (e) {
    const closed = [sink, ...senders].filter((m) => m.closed).map((m) => `${m.id} ${m.closed.code}`);
    const errors = [sink, ...senders].flatMap((m) => m.messages.filter((x) => x.type === 'error').map((x) => x.code));
    throw new Error(`${e.message}: ${through()} of ${want} through; closed: [${closed}]; errors: [${errors}]`);
  }
}

// ---- a TCP proxy that can cut connections ------------------------------------------------------

/**
 * Forwards 127.0.0.1:<port> to the host. `cut()` destroys every open connection (both sides, so the
 * host sees the drop at once); while `down`, new connections are accepted and destroyed at once.
 * `silence()` is the Wi-Fi going away without a word: connections stay open and nothing crosses
 * them either way (new ones too); `restore()` ends it by cutting what the silence broke.
 */
export class Proxy {
  static async start(targetPort) {
    const p = new Proxy(targetPort);
    await new Promise((res, rej) => {
      p.server.once('error', rej);
      p.server.listen(0, '127.0.0.1', res);
    });
    p.port = p.server.address().port;
    return p;
  }
  constructor(targetPort) {
    this.down = false;
    this.silent = false;
    this.pairs = new Set();
    this.refused = 0;
    this.server = net.createServer((client) => {
      client.on('error', () => {});
      if (this.down) {
        this.refused++;
        client.destroy();
        return;
      }
      const upstream = net.connect(targetPort, '127.0.0.1');
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      const pair = { client, upstream };
      this.pairs.add(pair);
      const drop = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', drop);
      upstream.on('close', drop);
      client.on('data', (d) => {
        if (!this.silent) upstream.write(d);
      });
      upstream.on('data', (d) => {
        if (!this.silent) client.write(d);
      });
    });
  }
  /** The network goes silent: nothing crosses, nothing is closed. */
  silence() {
    this.silent = true;
  }
  /** The network is back: the connections the silence broke are cut, new ones work. */
  restore() {
    const n = this.cut();
    this.silent = false;
    return n;
  }
  get base() {
    return `http://127.0.0.1:${this.port}`;
  }
  /** Destroys every live connection; returns how many there were. */
  cut() {
    const n = this.pairs.size;
    for (const { client, upstream } of [...this.pairs]) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    return n;
  }
  async close() {
    this.cut();
    await new Promise((r) => this.server.close(r));
  }
}

// ---- a slow Wi-Fi link: delay and bandwidth in userspace ---------------------------------------

/**
 * One direction of the link, shared by every connection through it (a Wi-Fi channel is one
 * medium: a phone's six connections share its bandwidth, they do not get six times it). Bytes
 * leave in the order they were handed over, `bytesPerMs` at most, and arrive `delayMs` after
 * they left. One timer drains the queue, so nothing overtakes anything.
 */
class Pipe {
  constructor(bytesPerMs, delayMs) {
    this.bytesPerMs = bytesPerMs;
    this.delayMs = delayMs;
    this.freeAt = 0; // when the medium has finished sending what it was given
    this.queue = []; // { at, deliver }, `at` never decreasing
    this.timer = null;
    this.bytes = 0;
  }
  /** `data` (a Buffer, or null for a close) may leave at `readyAt`; `deliver` runs when it arrives. */
  push(data, readyAt, deliver) {
    const len = data ? data.length : 0;
    const leave = Math.max(performance.now(), readyAt, this.freeAt);
    this.freeAt = leave + len / this.bytesPerMs;
    this.bytes += len;
    this.queue.push({ at: this.freeAt + this.delayMs, deliver });
    this._arm();
  }
  _arm() {
    if (this.timer || !this.queue.length) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = performance.now();
      while (this.queue.length && this.queue[0].at <= now + 0.5) this.queue.shift().deliver();
      this._arm();
    }, Math.max(0, this.queue[0].at - performance.now()));
  }
  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
  }
}

/**
 * A slow Wi-Fi between the page and the host: 127.0.0.1:<port> forwarded with a one-way delay of
 * half the round trip each way (300 ms round trip: 150 ms up, 150 ms down) and `kbit` kbit/s per
 * direction, shared by all the phone's connections. A new connection pays one round trip before
 * its first byte leaves (the TCP handshake; the browser's connect() returns at once on loopback,
 * so the wait is put on its first bytes instead). Bytes go out in segments of at most 1,460 (one
 * TCP segment), so a large response trickles in as it would. Not modelled: loss, TCP's slow
 * start (at 400 kbit/s the bandwidth-delay product, 15 KB, is about TCP's initial window of ten
 * segments, so slow start would add little). `up`/`down` count the bytes each way, `connections`
 * the TCP connections opened; `reset()` zeroes them between phases of a test.
 */
export class SlowLink {
  static async start(targetPort, { rttMs = 300, kbit = 400 } = {}) {
    const link = new SlowLink(targetPort, rttMs, kbit);
    await new Promise((res, rej) => {
      link.server.once('error', rej);
      link.server.listen(0, '127.0.0.1', res);
    });
    link.port = link.server.address().port;
    return link;
  }
  constructor(targetPort, rttMs, kbit) {
    this.rttMs = rttMs;
    const bytesPerMs = (kbit * 1000) / 8 / 1000;
    this.upPipe = new Pipe(bytesPerMs, rttMs / 2);
    this.downPipe = new Pipe(bytesPerMs, rttMs / 2);
    this.sockets = new Set();
    this.connections = 0;
    this.server = net.createServer((client) => {
      this.connections++;
      const established = performance.now() + rttMs; // SYN, SYN-ACK: then the first byte may leave
      const upstream = net.connect(targetPort, '127.0.0.1');
      // The link's delays are the ones modelled above: no Nagle of the proxy's own on top (a
      // small write waiting for the ACK of the one before it).
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = () => {
        this.sockets.delete(client);
        this.sockets.delete(upstream);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop);
      upstream.on('error', drop);
      const forward = (from, to, pipe, readyAt) => {
        from.on('data', (d) => {
          for (let i = 0; i < d.length; i += 1460) {
            pipe.push(d.subarray(i, i + 1460), readyAt(), () => {
              if (!to.destroyed) to.write(d.subarray(i, i + 1460));
            });
          }
        });
        // A close travels the link too, behind the data sent before it.
        from.on('end', () => pipe.push(null, readyAt(), () => !to.destroyed && to.end()));
        from.on('close', () => pipe.push(null, readyAt(), drop));
      };
      forward(client, upstream, this.upPipe, () => established);
      forward(upstream, client, this.downPipe, () => 0);
    });
  }
  get base() {
    return `http://127.0.0.1:${this.port}`;
  }
  get up() {
    return this.upPipe.bytes;
  }
  get down() {
    return this.downPipe.bytes;
  }
  reset() {
    this.upPipe.bytes = 0;
    this.downPipe.bytes = 0;
    this.connections = 0;
  }
  async close() {
    this.upPipe.stop();
    this.downPipe.stop();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise((r) => this.server.close(r));
  }
}

// ---- Chromium over CDP ------------------------------------------------------------------------

class CDP {
  constructor(ws) {
    this.ws = ws;
    this.id = 0;
    this.pending = new Map();
    this.handlers = new Set();
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.id && this.pending.has(m.id)) {
        const { resolve: ok, reject, method } = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) reject(new Error(method + ': ' + m.error.message));
        else ok(m.result);
      } else if (m.method) for (const h of this.handlers) h(m);
    };
    ws.onclose = () => {
      for (const { reject, method } of this.pending.values()) reject(new Error(method + ': CDP socket closed'));
      this.pending.clear();
    };
  }
  send(method, params = {}, sessionId) {
    const id = ++this.id;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    const p = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, method }));
    this.ws.send(JSON.stringify(msg));
    return within(15000, 'CDP ' + method, p);
  }
}

/**
 * Headless Chromium with a fresh profile; `newPage()` opens a page in its own browser context.
 * `autoplay`: media may play without a gesture (SyncPlay's timing tests; `tap` is still a gesture).
 */
export class Browser {
  static async launch({ autoplay = false } = {}) {
    const profile = mkdtempSync(join(tmpdir(), 'partyline-e2e-chrome-'));
    const child = spawn(CHROMIUM, [
      ...(autoplay ? ['--autoplay-policy=no-user-gesture-required'] : []),
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
      '--disable-component-update', '--disable-sync', '--disable-quic', '--disable-extensions',
      '--disable-features=Translate,MediaRouter,OptimizationHints',
      `--window-size=${VIEWPORT.width},${VIEWPORT.height}`,
      `--user-data-dir=${profile}`, '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    const b = new Browser(child, profile);
    let err = '';
    const wsUrl = await within(20000, 'Chromium to print its DevTools URL', new Promise((res, rej) => {
      child.stderr.on('data', (d) => {
        err += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) res(m[1]);
      });
      child.once('exit', (code) => rej(new Error(`Chromium exited (${code}) at start: ${err.slice(-2000)}`)));
    })).catch(async (e) => {
      await b.close();
      throw e;
    });
    child.stderr.resume();
    const ws = new WebSocket(wsUrl);
    await within(5000, 'CDP socket', new Promise((res, rej) => {
      ws.onopen = res;
      ws.onerror = () => rej(new Error('CDP socket failed'));
    }));
    b.cdp = new CDP(ws);
    return b;
  }
  constructor(child, profile) {
    this.child = child;
    this.profile = profile;
    this.cdp = null;
  }
  async newPage() {
    const { browserContextId } = await this.cdp.send('Target.createBrowserContext');
    return Page.open(this.cdp, browserContextId);
  }
  async close() {
    await stopChild(this.child, {
      group: true,
      gracefully: async () => {
        if (this.cdp) await Promise.race([this.cdp.send('Browser.close').catch(() => {}), sleep(2000)]);
      },
    });
    try {
      this.cdp && this.cdp.ws.close();
    } catch (e) {
      /* closed */
    }
    rmSync(this.profile, { recursive: true, force: true });
  }
}

const q = (testid) => `document.querySelector('[data-testid="${testid}"]')`;

/** One tab at 390×844 (mobile emulation). Collects the page's uncaught exceptions in `errors`. */
export class Page {
  static async open(cdp, contextId) {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank', browserContextId: contextId });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    const p = new Page(cdp, sessionId, targetId);
    cdp.handlers.add((m) => {
      if (m.sessionId !== sessionId) return;
      if (m.method === 'Runtime.exceptionThrown') {
        const d = m.params.exceptionDetails;
        p.errors.push((d.exception && d.exception.description) || d.text);
      }
      if (m.method === 'Runtime.consoleAPICalled' && m.params.type === 'error') {
        p.console.push(m.params.args.map((a) => (a.value !== undefined ? a.value : a.description)).join(' '));
      }
    });
    await p.send('Page.enable');
    await p.send('Runtime.enable');
    await p.send('Emulation.setDeviceMetricsOverride', {
      width: VIEWPORT.width, height: VIEWPORT.height, deviceScaleFactor: 1, mobile: true,
    });
    await p.send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: 'light' }] });
    return p;
  }
  constructor(cdp, sid, targetId) {
    this.cdp = cdp;
    this.sid = sid;
    this.targetId = targetId;
    this.errors = [];
    this.console = [];
  }
  send(method, params) {
    return this.cdp.send(method, params, this.sid);
  }
  /** Navigates and waits for the load event. */
  async goto(url) {
    const loaded = new Promise((res) => {
      const h = (m) => {
        if (m.sessionId === this.sid && m.method === 'Page.loadEventFired') {
          this.cdp.handlers.delete(h);
          res();
        }
      };
      this.cdp.handlers.add(h);
    });
    const r = await this.send('Page.navigate', { url });
    if (r.errorText) throw new Error(`navigation to ${url} failed: ${r.errorText}`);
    await within(10000, 'load of ' + url, loaded);
  }
  /** Evaluates `expr` in the page; `userGesture`: as if inside a tap (it unlocks sound). */
  async eval(expr, userGesture = false) {
    const r = await this.send('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true, userGesture });
    if (r.exceptionDetails) {
      const d = r.exceptionDetails;
      throw new Error('in page: ' + ((d.exception && d.exception.description) || d.text) + ' ← ' + expr);
    }
    return r.result.value;
  }
  /** Waits until `expr` is truthy in the page; returns its value. */
  waitFor(expr, what, ms = 8000) {
    return waitUntil(() => this.eval(expr), what, ms, 50);
  }
  /** An expression: is [data-testid=testid] rendered (not inside anything hidden)? */
  visible(testid) {
    return `(() => { const e = ${q(testid)}; return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0; })()`;
  }
  /** Waits for the visible screen to be `testid`; the error names the screen actually shown. */
  async waitScreen(testid, ms = 8000) {
    const end = Date.now() + ms;
    for (;;) {
      const shown = await this.eval(`(() => { const s = [...document.querySelectorAll('main > section')].find((e) => !e.hidden); return s ? s.getAttribute('data-testid') : null; })()`);
      if (shown === testid) return;
      if (Date.now() >= end) {
        const detail = await this.eval(`(document.querySelector('[data-testid="join-error"]') || {}).textContent || ''`).catch(() => '');
        throw new Error(`expected screen ${testid} within ${ms} ms, got ${shown}` + (detail ? ` (join-error: ${JSON.stringify(detail)})` : ''));
      }
      await sleep(50);
    }
  }
  text(testid) {
    return this.eval(`(${q(testid)} || {}).textContent`);
  }
  async type(testid, value) {
    await this.eval(`(() => { const e = ${q(testid)}; e.focus(); e.value = ${JSON.stringify(value)}; e.dispatchEvent(new Event('input', { bubbles: true })); })()`);
  }
  /** A real click (mouse events at the element's centre), after scrolling it into view. */
  async click(testid) {
    const box = await this.eval(`(() => { const e = ${q(testid)}; if (!e) return null; e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height }; })()`);
    assert.ok(box && box.w > 0 && box.h > 0, `expected a visible [data-testid=${testid}] to click, got ${show(box)}`);
    for (const type of ['mousePressed', 'mouseReleased']) {
      await this.send('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: 1 });
    }
  }
  /** A real click, like `click`, on the first element matching a CSS selector. */
  async clickSelector(selector) {
    const box = await this.eval(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height }; })()`);
    assert.ok(box && box.w > 0 && box.h > 0, `expected a visible ${selector} to click, got ${show(box)}`);
    for (const type of ['mousePressed', 'mouseReleased']) {
      await this.send('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: 1 });
    }
  }
  /** A key pressed and released where the focus is (`key` as in KeyboardEvent.key, e.g. 'Escape'). */
  async press(key, code = key, keyCode = 0) {
    for (const type of ['rawKeyDown', 'keyUp']) {
      await this.send('Input.dispatchKeyEvent', { type, key, code, windowsVirtualKeyCode: keyCode });
    }
  }
  /**
   * Picks `path` in the file chooser that a real click on [data-testid=testid] opens (the
   * page's own picker, through DevTools' file-chooser interception: no script sets the input).
   */
  async pickFile(testid, path) {
    await this.send('Page.setInterceptFileChooserDialog', { enabled: true });
    const opened = new Promise((res) => {
      const h = (m) => {
        if (m.sessionId === this.sid && m.method === 'Page.fileChooserOpened') {
          this.cdp.handlers.delete(h);
          res(m.params);
        }
      };
      this.cdp.handlers.add(h);
    });
    await this.click(testid);
    const chooser = await within(5000, 'the file chooser of ' + testid, opened);
    await this.send('DOM.setFileInputFiles', { files: [path], backendNodeId: chooser.backendNodeId });
    await this.send('Page.setInterceptFileChooserDialog', { enabled: false });
  }
  /** A tap: the element's click() run as a user gesture (it unlocks sound, as on a phone). */
  async tap(testid) {
    await this.eval(`${q(testid)}.click()`, true);
  }
  connectionState() {
    return this.eval(`(${q('connection-state')} || {}).dataset?.state || null`);
  }
  selfId() {
    return this.eval(`(document.querySelector('[data-testid="member"][data-self]') || {}).dataset?.memberId || null`);
  }
  chatTexts() {
    return this.eval(`[...document.querySelectorAll('[data-testid="chat-message"] [data-testid="chat-text"]')].map((e) => e.textContent)`);
  }
  /** Members as shown: [{ id, status, name, latency, self, host }]. */
  members() {
    return this.eval(`[...document.querySelectorAll('[data-testid="member"]')].map((e) => ({
      id: e.dataset.memberId, status: e.dataset.status, self: e.hasAttribute('data-self'), host: e.hasAttribute('data-host'),
      name: e.querySelector('[data-testid="member-name"]').textContent,
      latency: e.querySelector('[data-testid="latency"]').textContent,
      device: (e.querySelector('[data-testid="member-device"]') || {}).textContent || '' }))`);
  }
  /**
   * Saves a 390×844 PNG to tests/output/phone/<name>.png, scrolled to the top first unless
   * `scroll` is false; `dark`: in the dark color scheme (then back to light).
   */
  async shot(name, { dark = false, scroll = true } = {}) {
    mkdirSync(SHOTS, { recursive: true });
    if (scroll) await this.eval('window.scrollTo(0, 0); document.activeElement && document.activeElement.blur && document.activeElement.blur(); true');
    if (dark) await this.send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: 'dark' }] });
    await sleep(dark ? 200 : 100);
    const { data } = await this.send('Page.captureScreenshot', { format: 'png' });
    if (dark) await this.send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: 'light' }] });
    const file = join(SHOTS, name + '.png');
    writeFileSync(file, Buffer.from(data, 'base64'));
    return file;
  }
  async close() {
    await this.cdp.send('Target.closeTarget', { targetId: this.targetId });
  }
  assertNoErrors() {
    assert.deepEqual(this.errors, [], 'expected no uncaught exceptions in the page, got ' + show(this.errors));
  }
}

/**
 * The usual start of a test file: a host (`Host.start(options)`) whose page files are checked
 * against the disk, and Chromium, both stopped by `cleanup`.
 */
export async function startHostAndBrowser(cleanup, options) {
  requireEnvironment();
  const host = await Host.start(options);
  cleanup.add('host', () => host.stop());
  await assertServesCurrentUi(host.httpBase);
  const browser = await Browser.launch();
  cleanup.add('chromium', () => browser.close());
  return { host, browser };
}

/** Opens `url`, types `name` (and `code`, if given) and taps Join. */
export async function joinFromPage(page, url, name, code) {
  await page.goto(url);
  await page.waitScreen('screen-join');
  await page.type('name-input', name);
  if (code != null) await page.type('code-input', code);
  await page.click('join-button');
}
