// A small W3C WebDriver client for the phone page in the three engines phones use: Chromium
// (chromedriver), WebKit (WebKitGTK's MiniBrowser through WebKitWebDriver; iPhones run WebKit)
// and Gecko (Firefox ESR through geckodriver). `WdPage` offers what the CDP `Page` of
// harness.mjs offers the tests (goto, eval, waitFor, waitScreen, type, click, shot, ...), through
// the standard protocol only, so one test runs unchanged in every engine.
//
// Input is real: `type` sends key events to the focused element and `click` is a pointer action
// (move to the element's centre, press, release): trusted events, a user gesture as a finger's
// tap is (it unlocks sound). Nothing is clicked by script.
//
//   const engine = await Engine.start('webkit');   // or 'chromium', 'firefox'
//   const page = await engine.newPage();           // a session of its own, 390×844
//   ...; await page.close(); await engine.stop();
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, stopChild, waitUntil, within } from './harness.mjs';

const SHOTS = new URL('../../tests/output/phone/', import.meta.url).pathname;
const VIEWPORT = { width: 390, height: 844 };
const q = (testid) => `document.querySelector('[data-testid="${testid}"]')`;

// Debian's Firefox ESR, or a distribution's plain Firefox where there is no ESR package.
const FIREFOX = process.env.FIREFOX || ['/usr/bin/firefox-esr', '/usr/bin/firefox'].find((f) => existsSync(f)) || '/usr/bin/firefox-esr';

/** What each engine needs: the driver, its binary, and the capabilities of a new session. */
const ENGINES = {
  chromium: {
    driver: 'chromedriver',
    args: (port) => [`--port=${port}`],
    caps: () => ({
      browserName: 'chrome',
      'goog:chromeOptions': {
        binary: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
          '--disable-component-update', '--disable-sync', '--disable-quic', '--disable-extensions',
          `--window-size=${VIEWPORT.width},${VIEWPORT.height}`],
      },
    }),
  },
  webkit: {
    driver: 'WebKitWebDriver',
    args: (port) => [`--port=${port}`],
    display: true, // MiniBrowser is a GTK window: it needs an X server (Xvfb)
    caps: () => ({
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': {
        binary: '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
        args: ['--automation'],
      },
    }),
  },
  firefox: {
    driver: 'geckodriver',
    args: (port) => ['--port', String(port), '--host', '127.0.0.1'],
    caps: () => ({
      browserName: 'firefox',
      'moz:firefoxOptions': {
        binary: FIREFOX,
        args: ['-headless', `--width=${VIEWPORT.width}`, `--height=${VIEWPORT.height}`],
        // No network here but loopback: keep Firefox from reaching for it.
        prefs: {
          'app.update.enabled': false,
          'browser.shell.checkDefaultBrowser': false,
          'network.captive-portal-service.enabled': false,
          'network.connectivity-service.enabled': false,
          'browser.safebrowsing.malware.enabled': false,
          'browser.safebrowsing.phishing.enabled': false,
          'datareporting.policy.dataSubmissionEnabled': false,
          'toolkit.telemetry.enabled': false,
        },
      },
    }),
  },
};

/** The names of the engines, in the order the tests run them. */
export const ENGINE_NAMES = Object.keys(ENGINES);

/** Which of the tools an engine needs are missing from this machine (empty: none). */
export function missingFor(name) {
  const e = ENGINES[name];
  const out = [];
  const onPath = (cmd) => (process.env.PATH || '').split(':').some((d) => d && existsSync(join(d, cmd)));
  if (!onPath(e.driver)) out.push(e.driver);
  const binary = Object.values(e.caps()).find((v) => v && typeof v === 'object' && v.binary)?.binary;
  if (binary && !existsSync(binary)) out.push(binary);
  if (e.display && !process.env.DISPLAY && !onPath('Xvfb')) out.push('Xvfb');
  return out;
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** One driver process (and, for WebKit without a display, its own Xvfb). */
export class Engine {
  static async start(name) {
    const spec = ENGINES[name];
    assert.ok(spec, `unknown engine ${name}`);
    const missing = missingFor(name);
    assert.deepEqual(missing, [], `${name}: missing on this machine: ${missing.join(', ')} (scripts/test installs them)`);
    const eng = new Engine(name, spec);
    const env = { ...process.env };
    if (spec.display && !env.DISPLAY) {
      const display = ':' + (90 + Math.floor(Math.random() * 400));
      eng.xvfb = spawn('Xvfb', [display, '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: 'ignore', detached: true });
      env.DISPLAY = display;
      await sleep(500);
    }
    eng.port = await freePort();
    eng.profile = mkdtempSync(join(tmpdir(), `partyline-wd-${name}-`));
    env.TMPDIR = eng.profile; // geckodriver's profiles, MiniBrowser's caches: gone with it
    eng.child = spawn(spec.driver, spec.args(eng.port), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
    eng.log = '';
    eng.child.stdout.on('data', (d) => { eng.log = (eng.log + d).slice(-4000); });
    eng.child.stderr.on('data', (d) => { eng.log = (eng.log + d).slice(-4000); });
    await waitUntil(async () => {
      const r = await fetch(`http://127.0.0.1:${eng.port}/status`).catch(() => null);
      return r && r.ok;
    }, `${spec.driver} to listen (log: ${eng.log})`, 20000, 100);
    return eng;
  }
  constructor(name, spec) {
    this.name = name;
    this.spec = spec;
    this.pages = new Set();
  }
  /** A new browser session: a page of its own (its own storage), 390×844. */
  async newPage() {
    const r = await wd(`http://127.0.0.1:${this.port}`, 'POST', '/session', { capabilities: { alwaysMatch: this.spec.caps() } }, 60000);
    const page = new WdPage(this, `http://127.0.0.1:${this.port}/session/${r.sessionId}`, r.capabilities);
    this.pages.add(page);
    await page.resize(VIEWPORT.width, VIEWPORT.height);
    return page;
  }
  async stop() {
    for (const p of [...this.pages]) await p.close().catch(() => {});
    if (this.child) await stopChild(this.child, { group: true });
    if (this.xvfb) await stopChild(this.xvfb, { group: true });
    if (this.profile) rmSync(this.profile, { recursive: true, force: true });
  }
}

/** One WebDriver command; throws with the driver's error and message. */
async function wd(base, method, path, body, ms = 20000) {
  const res = await within(ms, `WebDriver ${method} ${path}`, fetch(base + path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  }));
  const json = await res.json().catch(() => ({}));
  if (!res.ok || (json.value && json.value.error)) {
    const v = json.value || {};
    throw new Error(`WebDriver ${method} ${path}: ${v.error || res.status}: ${v.message || JSON.stringify(json).slice(0, 500)}`);
  }
  return json.value;
}

// What the page's own uncaught errors are collected with (WebDriver has no event for them).
const TRAP = `(() => { if (!window.__wdErrors) { window.__wdErrors = [];
  addEventListener('error', (e) => window.__wdErrors.push(String(e.message || e.error)));
  addEventListener('unhandledrejection', (e) => window.__wdErrors.push('unhandled rejection: ' + String(e.reason && (e.reason.stack || e.reason)))); } })()`;

/** One page (a WebDriver session) with the interface of harness.mjs's `Page`. */
export class WdPage {
  constructor(engine, base, capabilities) {
    this.engine = engine;
    this.base = base;
    this.capabilities = capabilities;
    this.errors = [];
  }
  cmd(method, path, body, ms) {
    return wd(this.base, method, path, body, ms);
  }
  async resize(width, height) {
    await this.cmd('POST', '/window/rect', { width, height }).catch(() => {});
    // Headless windows count their frame differently per engine: make the viewport 390×844.
    for (let i = 0; i < 2; i++) {
      const inner = await this.eval('({ w: innerWidth, h: innerHeight, ow: outerWidth, oh: outerHeight })');
      const dw = width - inner.w;
      const dh = height - inner.h;
      if (!dw && !dh) break;
      await this.cmd('POST', '/window/rect', { width: inner.ow + dw, height: inner.oh + dh }).catch(() => {});
    }
  }
  async goto(url) {
    await this.cmd('POST', '/url', { url }, 30000);
    await this.eval(TRAP);
  }
  /** Evaluates `expr` (an expression; a promise is awaited) in the page and returns its value. */
  async eval(expr) {
    const script = `const done = arguments[arguments.length - 1];
      try { Promise.resolve((${expr})).then((v) => done({ ok: v === undefined ? null : v }), (e) => done({ err: String(e && (e.stack || e)) })); }
      catch (e) { done({ err: String(e && (e.stack || e)) }); }`;
    const r = await this.cmd('POST', '/execute/async', { script, args: [] });
    if (r && r.err) throw new Error('in page: ' + r.err + ' ← ' + expr.slice(0, 300));
    return r ? r.ok : r;
  }
  waitFor(expr, what, ms = 8000) {
    return waitUntil(() => this.eval(expr), what, ms, 100);
  }
  visible(testid) {
    return `(() => { const e = ${q(testid)}; return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0; })()`;
  }
  async waitScreen(testid, ms = 8000) {
    const shownExpr = `(() => { const s = [...document.querySelectorAll('main > section')].find((e) => !e.hidden); return s ? s.getAttribute('data-testid') : null; })()`;
    let shown = null;
    await waitUntil(async () => (shown = await this.eval(shownExpr)) === testid, `screen ${testid} (shown: ${shown})`, ms, 100)
      .catch(async () => {
        const detail = await this.eval(`(${q('join-error')} || {}).textContent || ''`).catch(() => '');
        throw new Error(`${this.engine.name}: expected screen ${testid} within ${ms} ms, got ${shown}` + (detail ? ` (join-error: ${JSON.stringify(detail)})` : ''));
      });
  }
  text(testid) {
    return this.eval(`(${q(testid)} || {}).textContent`);
  }
  async element(testid) {
    const r = await this.cmd('POST', '/element', { using: 'css selector', value: `[data-testid="${testid}"]` });
    return Object.values(r)[0];
  }
  /** Types `value` into the field with real key events (after clearing it). */
  async type(testid, value) {
    const id = await this.element(testid);
    await this.cmd('POST', `/element/${id}/clear`, {});
    await this.cmd('POST', `/element/${id}/value`, { text: value });
  }
  /** A real pointer click at the element's centre, after scrolling it into view. */
  async click(testid) {
    const box = await this.eval(`(() => { const e = ${q(testid)}; if (!e) return null; e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: Math.round(r.left + r.width / 2), y: Math.round(r.top + r.height / 2), w: r.width, h: r.height }; })()`);
    assert.ok(box && box.w > 0 && box.h > 0, `${this.engine.name}: expected a visible [data-testid=${testid}] to click, got ${JSON.stringify(box)}`);
    await this.cmd('POST', '/actions', {
      actions: [{
        type: 'pointer', id: 'finger', parameters: { pointerType: 'mouse' },
        actions: [
          { type: 'pointerMove', duration: 0, origin: 'viewport', x: box.x, y: box.y },
          { type: 'pointerDown', button: 0 },
          { type: 'pointerUp', button: 0 },
        ],
      }],
    });
    await this.cmd('DELETE', '/actions').catch(() => {});
  }
  tap(testid) {
    return this.click(testid);
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
  /** Saves a PNG of the viewport to tests/output/phone/<name>.png (scrolled to the top first). */
  async shot(name, { scroll = true } = {}) {
    mkdirSync(SHOTS, { recursive: true });
    if (scroll) await this.eval('(window.scrollTo(0, 0), document.activeElement && document.activeElement.blur && document.activeElement.blur(), true)');
    await sleep(150);
    const data = await this.cmd('GET', '/screenshot');
    const file = join(SHOTS, name + '.png');
    writeFileSync(file, Buffer.from(data, 'base64'));
    return file;
  }
  /** The page's uncaught errors since its last navigation. */
  async pageErrors() {
    return (await this.eval('window.__wdErrors || []')) || [];
  }
  async assertNoErrors() {
    const errs = await this.pageErrors();
    assert.deepEqual(errs, [], `${this.engine.name}: expected no uncaught exceptions in the page, got ${JSON.stringify(errs)}`);
  }
  async close() {
    this.engine.pages.delete(this);
    await this.cmd('DELETE', '', undefined, 20000).catch(() => {});
  }
}
