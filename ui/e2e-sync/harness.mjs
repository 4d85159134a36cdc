// Harness for the SyncPlay browser tests: the real host (target/debug/partyline) on 127.0.0.1,
// headless Chromium driven over the DevTools protocol (no npm packages), and small helpers.
// Node 20 needs --experimental-websocket (Node 22+ has WebSocket built in).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '..', '..');
export const SHOTS = process.env.SHOTS || join(ROOT, 'tests', 'output', 'phone');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function quantiles(values) {
  const s = values.slice().sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: q(0.5), p95: q(0.95), max: s[s.length - 1] };
}

/** The real host: `partyline host --bind 127.0.0.1 --no-mdns --json --no-qr --media <dir>`. */
export async function startHost({ media, name = 'SyncPlay test' } = {}) {
  const bin = process.env.PARTYLINE_BIN || join(ROOT, 'target', 'debug', 'partyline');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: cargo build -p partyline-cli`);
  const args = ['host', '--bind', '127.0.0.1', '--no-mdns', '--json', '--no-qr', '--name', name];
  if (media) args.push('--media', media);
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const host = { child, events: [], info: null, stderr: '', listeners: [] };
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      let obj;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        continue;
      }
      if (!host.info) host.info = obj;
      else {
        obj._at = Date.now();
        host.events.push(obj);
        for (const l of host.listeners.slice()) l(obj);
      }
    }
  });
  child.stderr.on('data', (d) => {
    host.stderr += d;
  });
  const end = Date.now() + 10000;
  while (!host.info && Date.now() < end) await sleep(50);
  if (!host.info) throw new Error('host did not start: ' + host.stderr);
  host.cmd = (line) => child.stdin.write(line + '\n');
  host.waitEvent = (pred, ms = 10000, what = 'event') =>
    new Promise((res, rej) => {
      const hit = host.events.find(pred);
      if (hit) return res(hit);
      const timer = setTimeout(() => {
        host.listeners = host.listeners.filter((l) => l !== fn);
        rej(new Error('timeout waiting for ' + what));
      }, ms);
      const fn = (e) => {
        if (pred(e)) {
          clearTimeout(timer);
          host.listeners = host.listeners.filter((l) => l !== fn);
          res(e);
        }
      };
      host.listeners.push(fn);
    });
  host.stop = async () => {
    try {
      child.stdin.write('close\n');
    } catch (e) {
      /* gone */
    }
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(2000)]);
    if (child.exitCode == null) child.kill('SIGTERM');
  };
  return host;
}

/** Library items from the host's stderr listing after `library`. */
export async function libraryIds(host) {
  host.stderr = '';
  host.cmd('library');
  const end = Date.now() + 5000;
  while (Date.now() < end && !/now:/.test(host.stderr)) await sleep(50);
  const out = {};
  for (const m of host.stderr.matchAll(/^\s+(t-[0-9a-f]+)\s+(.+?) \(/gm)) out[m[2]] = m[1];
  return out;
}

class CDP {
  constructor(ws) {
    this.ws = ws;
    this.id = 0;
    this.pending = new Map();
    this.handlers = [];
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.id && this.pending.has(m.id)) {
        const { resolve: ok, reject } = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) reject(new Error(m.error.message));
        else ok(m.result);
      } else if (m.method) for (const h of this.handlers) h(m);
    };
  }
  send(method, params = {}, sessionId) {
    const id = ++this.id;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    this.ws.send(JSON.stringify(msg));
    return new Promise((res, rej) => this.pending.set(id, { resolve: res, reject: rej }));
  }
}

/** Headless Chromium with its DevTools port on 127.0.0.1 (picked by Chromium). */
export async function startChrome() {
  const dir = mkdtempSync(join(tmpdir(), 'pl-sync-chrome-'));
  const child = spawn('/usr/bin/chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--no-first-run', '--disable-component-update', '--disable-sync', '--disable-quic',
    '--autoplay-policy=no-user-gesture-required', `--user-data-dir=${dir}`, '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise((res, rej) => {
    let b = '';
    const timer = setTimeout(() => rej(new Error('chromium did not start: ' + b)), 15000);
    child.stderr.on('data', (d) => {
      b += d;
      const m = /DevTools listening on (ws:\S+)/.exec(b);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
  });
  const ws = new WebSocket(url);
  await new Promise((res, rej) => {
    ws.onopen = res;
    ws.onerror = rej;
  });
  const cdp = new CDP(ws);
  return {
    cdp,
    async page() {
      const { browserContextId } = await cdp.send('Target.createBrowserContext');
      return Page.open(cdp, browserContextId);
    },
    async stop() {
      try {
        ws.close();
      } catch (e) {
        /* closed */
      }
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(3000)]);
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch (e) {
        /* still in use */
      }
    },
  };
}

export class Page {
  constructor(cdp, sessionId, targetId) {
    this.cdp = cdp;
    this.sid = sessionId;
    this.targetId = targetId;
    this.errors = [];
  }
  static async open(cdp, contextId) {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank', browserContextId: contextId });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    const p = new Page(cdp, sessionId, targetId);
    await p.send('Page.enable');
    await p.send('Runtime.enable');
    await p.send('Emulation.setDeviceMetricsOverride', { width: 390, height: 844, deviceScaleFactor: 1, mobile: true });
    await p.send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: 'light' }] });
    cdp.handlers.push((m) => {
      if (m.sessionId !== sessionId) return;
      if (m.method === 'Runtime.exceptionThrown') {
        p.errors.push(m.params.exceptionDetails.exception?.description || m.params.exceptionDetails.text);
      }
    });
    return p;
  }
  send(method, params) {
    return this.cdp.send(method, params, this.sid);
  }
  async goto(url) {
    await this.send('Page.navigate', { url });
    await sleep(300);
  }
  async eval(expr, userGesture = false) {
    const r = await this.send('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true, userGesture });
    if (r.exceptionDetails) throw new Error('eval failed: ' + expr.slice(0, 200) + ' → ' + JSON.stringify(r.exceptionDetails.exception?.description));
    return r.result.value;
  }
  async waitFor(expr, what, ms = 10000) {
    const end = Date.now() + ms;
    let v;
    while (Date.now() < end) {
      try {
        v = await this.eval(expr);
        if (v) return v;
      } catch (e) {
        v = String(e.message);
      }
      await sleep(100);
    }
    throw new Error('timeout: ' + what + ' (last: ' + JSON.stringify(v) + ')');
  }
  /** A tap: the click runs as a user gesture (it unlocks sound, as on a phone). */
  async tap(testid) {
    await this.eval(`document.querySelector('[data-testid="${testid}"]').click()`, true);
  }
  async type(testid, value) {
    await this.eval(`(() => { const e = document.querySelector('[data-testid="${testid}"]'); e.focus(); e.value = ${JSON.stringify(value)}; e.dispatchEvent(new Event('input', { bubbles: true })); })()`);
  }
  async shot(file, dark = false) {
    await this.send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: dark ? 'dark' : 'light' }] });
    await sleep(200);
    const { data } = await this.send('Page.captureScreenshot', { format: 'png' });
    mkdirSync(SHOTS, { recursive: true });
    const f = join(SHOTS, file);
    writeFileSync(f, Buffer.from(data, 'base64'));
    await this.send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: 'light' }] });
    return f;
  }
  async close() {
    await this.cdp.send('Target.closeTarget', { targetId: this.targetId });
  }
}

/** Opens the join URL, types a name and taps Join (a real gesture); waits until connected. */
export async function joinParty(page, joinUrl, name, { gesture = true } = {}) {
  await page.goto(joinUrl);
  await page.waitFor(`!document.querySelector('[data-testid="screen-join"]').hidden`, 'join screen');
  await page.type('name-input', name);
  if (gesture) await page.tap('join-button');
  else await page.eval(`document.querySelector('[data-testid="join-button"]').click()`);
  await page.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, 'connected');
  return page.eval('window.__partyline.client.state.selfId');
}
