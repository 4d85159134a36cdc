// Dev-only end-to-end check of the phone page in headless Chromium against ui/dev/mock_host.py.
// Drives the real page over the Chrome DevTools Protocol (no npm packages), asserts the flows
// (join, party, drop + resume with missed chat, reload resume, freeze → heartbeat timeout → resume,
// and every ending screen) and writes screenshots, light and dark, to $SHOTS (default /tmp/shots).
//
//   node --experimental-websocket ui/dev/drive.mjs        (Node 20; Node 22+ needs no flag)
//
// Everything binds to 127.0.0.1.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const PORT = Number(process.env.PORT || 8765);
const CDP_PORT = Number(process.env.CDP_PORT || 9334);
const SHOTS = process.env.SHOTS || '/tmp/shots';
const BASE = `http://127.0.0.1:${PORT}`;
mkdirSync(SHOTS, { recursive: true });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];
function cleanup() {
  for (const c of children) {
    try {
      c.kill('SIGTERM');
    } catch (e) {
      /* gone */
    }
  }
}
process.on('exit', cleanup);

let failures = 0;
function check(cond, what, detail) {
  if (cond) console.log('  ok  ' + what);
  else {
    failures++;
    console.log('  FAIL ' + what + (detail !== undefined ? ': ' + JSON.stringify(detail) : ''));
  }
}

async function mock(cmd) {
  const r = await fetch(`${BASE}/_mock/${cmd}`);
  return r.json();
}

async function waitHttp(url, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      if (r.ok) return r;
    } catch (e) {
      /* not yet */
    }
    await sleep(100);
  }
  throw new Error('timeout waiting for ' + url);
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
        const { resolve, reject } = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) reject(new Error(m.error.message));
        else resolve(m.result);
      } else if (m.method) for (const h of this.handlers) h(m);
    };
  }
  static async connect(url) {
    const ws = new WebSocket(url);
    await new Promise((res, rej) => {
      ws.onopen = res;
      ws.onerror = rej;
    });
    return new CDP(ws);
  }
  send(method, params = {}, sessionId) {
    const id = ++this.id;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    this.ws.send(JSON.stringify(msg));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }
}

class Page {
  constructor(cdp, sessionId, targetId) {
    this.cdp = cdp;
    this.sid = sessionId;
    this.targetId = targetId;
  }
  static async open(cdp, contextId) {
    const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank', browserContextId: contextId });
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
    const p = new Page(cdp, sessionId, targetId);
    await p.send('Page.enable');
    await p.send('Runtime.enable');
    await p.send('Emulation.setDeviceMetricsOverride', { width: 390, height: 844, deviceScaleFactor: 1, mobile: true });
    await p.dark(false);
    cdp.handlers.push((m) => {
      if (m.sessionId !== sessionId) return;
      if (m.method === 'Runtime.exceptionThrown') {
        failures++;
        console.log('  FAIL page exception: ' + JSON.stringify(m.params.exceptionDetails.exception?.description || m.params.exceptionDetails.text));
      }
      if (m.method === 'Runtime.consoleAPICalled' && m.params.type === 'error') {
        console.log('  (console.error) ' + m.params.args.map((a) => a.value ?? a.description).join(' '));
      }
    });
    return p;
  }
  send(method, params) {
    return this.cdp.send(method, params, this.sid);
  }
  async dark(on) {
    await this.send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: on ? 'dark' : 'light' }] });
  }
  async goto(url) {
    await this.send('Page.navigate', { url });
    await sleep(300);
  }
  async eval(expr) {
    const r = await this.send('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true });
    if (r.exceptionDetails) throw new Error('eval failed: ' + expr + ' → ' + JSON.stringify(r.exceptionDetails.exception?.description));
    return r.result.value;
  }
  async waitFor(expr, what, ms = 8000) {
    const end = Date.now() + ms;
    let v;
    while (Date.now() < end) {
      try {
        v = await this.eval(expr);
        if (v) {
          check(true, what);
          return v;
        }
      } catch (e) {
        v = String(e.message);
      }
      await sleep(100);
    }
    check(false, what, v);
    return v;
  }
  visible(testid) {
    return `(() => { const e = document.querySelector('[data-testid="${testid}"]'); return !!e && !e.closest('[hidden]') && e.offsetParent !== null; })()`;
  }
  text(testid) {
    return this.eval(`(document.querySelector('[data-testid="${testid}"]') || {}).textContent`);
  }
  async type(testid, value) {
    await this.eval(`(() => { const e = document.querySelector('[data-testid="${testid}"]'); e.focus(); e.value = ${JSON.stringify(value)}; e.dispatchEvent(new Event('input', { bubbles: true })); })()`);
  }
  async click(testid) {
    await this.eval(`document.querySelector('[data-testid="${testid}"]').click()`);
  }
  async shot(name, both = true) {
    for (const dark of both ? [false, true] : [false]) {
      await this.dark(dark);
      await sleep(150);
      const { data } = await this.send('Page.captureScreenshot', { format: 'png' });
      const f = join(SHOTS, `${name}-${dark ? 'dark' : 'light'}.png`);
      writeFileSync(f, Buffer.from(data, 'base64'));
      console.log('  shot ' + f);
    }
    await this.dark(false);
  }
  async close() {
    await this.cdp.send('Target.closeTarget', { targetId: this.targetId });
  }
}

async function freshPage(cdp) {
  const { browserContextId } = await cdp.send('Target.createBrowserContext');
  return Page.open(cdp, browserContextId);
}

async function joinAs(page, name, hash = '#k=testkey') {
  await page.goto(`${BASE}/${hash}`);
  await page.waitFor(page.visible('screen-join'), `${name}: join screen`);
  await page.type('name-input', name);
  await page.click('join-button');
}

async function selfId(page) {
  return page.eval(`(document.querySelector('[data-testid="member"][data-self]') || {}).dataset?.memberId`);
}

async function main() {
  const host = spawn('python3', [join(HERE, 'mock_host.py'), '--port', String(PORT)], { stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(host);
  await waitHttp(`${BASE}/api/info`);
  const chrome = spawn('/usr/bin/chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--no-first-run', '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(join(tmpdir(), 'plchrome-'))}`,
    `--remote-debugging-port=${CDP_PORT}`, '--remote-debugging-address=127.0.0.1', 'about:blank'], { stdio: 'ignore' });
  children.push(chrome);
  const ver = await (await waitHttp(`http://127.0.0.1:${CDP_PORT}/json/version`)).json();
  const cdp = await CDP.connect(ver.webSocketDebuggerUrl);

  console.log('join screen');
  const a = await freshPage(cdp);
  await a.goto(`${BASE}/#k=testkey`);
  await a.waitFor(a.visible('screen-join'), 'join screen visible');
  check((await a.eval('location.hash')) === '', 'key removed from the address bar', await a.eval('location.href'));
  check(!(await a.eval(a.visible('code-input'))), 'no code field when the link has a key');
  await a.type('name-input', 'Ana');
  await a.shot('01-join');

  console.log('party');
  await mock('add?name=Sara&latency=41');
  const tom = (await mock('add?name=Tom%20with%20a%20very%20long%20name%20indeed&latency=120')).id;
  await a.click('join-button');
  await a.waitFor(a.visible('screen-party'), 'party screen');
  await a.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, 'connected');
  await a.waitFor(`document.querySelectorAll('[data-testid="member"]').length === 4`, '4 members listed');
  await a.waitFor(`document.querySelector('[data-testid="member"][data-host] [data-testid="host-badge"]').offsetParent !== null`, 'host marked');
  await mock(`status?id=${tom}&s=reconnecting`);
  await a.waitFor(`document.querySelector('[data-member-id="${tom}"] [data-testid="status"]').textContent === 'reconnecting'`, 'member status reconnecting shown');
  await mock('chat?text=' + encodeURIComponent('Welcome everyone! Drinks are in the kitchen.'));
  await a.type('chat-input', 'Hi all, this song!');
  await a.click('chat-send');
  await a.waitFor(`document.querySelectorAll('[data-testid="chat-message"]').length === 2`, 'two chat messages (own echoed)');
  await a.waitFor(`/\\d+ ms/.test(document.querySelector('[data-testid="self-latency"]').textContent)`, 'self latency shown');
  const me = await selfId(a);
  check(/^m-/.test(me || ''), 'self member marked', me);
  await a.shot('02-party');

  console.log('drop + resume: missed chat arrives once');
  await mock(`drop?id=${me}&hold=2.5`);
  await a.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'reconnecting'`, 'reconnecting shown');
  await a.waitFor(a.visible('reconnect-banner'), 'reconnect banner');
  await mock('chat?text=' + encodeURIComponent('you missed this one'));
  await a.shot('03-reconnecting', false);
  await a.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, 'connected again', 15000); // full jitter: up to ~10 s after a 2.5 s outage
  await a.waitFor(`[...document.querySelectorAll('[data-testid="chat-text"]')].some(e => e.textContent === 'you missed this one')`, 'missed chat delivered after resume');
  check((await selfId(a)) === me, 'same member id after resume');
  check((await a.eval(`document.querySelectorAll('[data-testid="chat-message"]').length`)) === 3, 'no duplicate chat messages');

  console.log('reload resumes without a tap');
  await a.send('Page.reload');
  await sleep(300);
  await a.waitFor(`document.querySelector('[data-testid="connection-state"]')?.dataset.state === 'connected' && !document.querySelector('[data-testid="screen-party"]').hidden`, 'back in the party after reload');
  await a.waitFor(`document.querySelectorAll('[data-testid="chat-message"]').length === 3`, 'chat history replayed after reload');
  check((await selfId(a)) === me, 'same member after reload', await selfId(a));

  if (!process.env.QUICK) {
    console.log('frozen page (phone locked) → heartbeat timeout → resume on wake');
    await a.send('Page.setWebLifecycleState', { state: 'frozen' });
    await sleep(16500);
    await mock('chat?text=' + encodeURIComponent('sent while your phone was locked'));
    const st = await mock('state');
    check(st.members.find((m) => m.id === me)?.connectionStatus === 'reconnecting', 'server marked us reconnecting');
    await a.send('Page.setWebLifecycleState', { state: 'active' });
    await a.eval(`document.dispatchEvent(new Event('visibilitychange'))`);
    await a.waitFor(`[...document.querySelectorAll('[data-testid="chat-text"]')].some(e => e.textContent === 'sent while your phone was locked')`, 'chat from while frozen arrives', 12000);
    await a.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, 'connected after wake');
  }

  console.log('snapshot resume');
  await mock(`forget?id=${me}`);
  await mock(`drop?id=${me}&hold=0`);
  await a.waitFor(`!!document.querySelector('[data-testid="chat-notice"]')`, 'snapshot notice shown');
  await a.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, 'connected after snapshot');
  await a.waitFor(`document.querySelectorAll('[data-testid="member"]').length === 4`, 'member list rebuilt from snapshot');

  console.log('replaced by another tab');
  // Two tabs in one browser context share localStorage, hence the device id.
  const { browserContextId: ctxShared } = await cdp.send('Target.createBrowserContext');
  const r1 = await Page.open(cdp, ctxShared);
  await joinAs(r1, 'Rae');
  await r1.waitFor(`document.querySelector('[data-testid="connection-state"]')?.dataset.state === 'connected'`, 'first tab connected');
  const r2 = await Page.open(cdp, ctxShared);
  await r2.goto(`${BASE}/#k=testkey`);
  await r2.waitFor(r2.visible('screen-join'), 'second tab join screen');
  await r2.click('join-button');
  await r1.waitFor(r1.visible('screen-replaced'), 'first tab: replaced screen');
  await r1.shot('04-replaced');
  await r1.click('use-here-button');
  await r1.waitFor(`document.querySelector('[data-testid="connection-state"]')?.dataset.state === 'connected'`, 'first tab takes over');
  await r2.waitFor(r2.visible('screen-replaced'), 'second tab now replaced');
  await r1.close();
  await r2.close();

  console.log('kicked');
  await mock(`kick?id=${me}&reason=${encodeURIComponent('Too loud, sorry!')}`);
  await a.waitFor(a.visible('screen-kicked'), 'kicked screen');
  check((await a.text('ending-reason')).includes('Too loud, sorry!'), "host's reason shown", await a.text('ending-reason'));
  await a.shot('05-kicked');
  const sockets = (await mock('state')).members.length;
  await sleep(1500);
  check((await mock('state')).members.length === sockets, 'no auto-reconnect after kick');

  console.log('wrong key → code');
  const w = await freshPage(cdp);
  await joinAs(w, 'Wen', '#k=wrong');
  await w.waitFor(w.visible('screen-unauthorized'), 'unauthorized screen');
  await w.shot('06-unauthorized', false);
  await w.click('code-button');
  await w.waitFor(w.visible('code-input'), 'code field shown');
  await w.type('code-input', 'zzzz');
  await w.click('join-button');
  await w.waitFor(`document.querySelector('[data-testid="join-error"]').textContent.includes("isn't right")`, 'wrong code message');
  await w.type('code-input', 'SLOW');
  await w.click('join-button');
  await w.waitFor(`document.querySelector('[data-testid="join-error"]').textContent.includes('Wait a minute')`, '429 → wait a minute');
  await w.shot('07-join-code');
  await w.type('code-input', 'abcd');
  await w.click('join-button');
  await w.waitFor(`document.querySelector('[data-testid="connection-state"]')?.dataset.state === 'connected'`, 'joined with the code');

  console.log('locked');
  await mock('lock?on=1');
  const l = await freshPage(cdp);
  await joinAs(l, 'Lou');
  await l.waitFor(l.visible('screen-locked'), 'locked screen');
  await l.shot('08-locked', false);
  await mock('lock?on=0');
  await l.close();

  console.log('full');
  const guests = (await mock('state')).members.filter((m) => !m.isHost).length;
  await mock(`max?n=${guests}`);
  const f = await freshPage(cdp);
  await joinAs(f, 'Fay');
  await f.waitFor(f.visible('screen-full'), 'full screen');
  check((await f.text('ending-message')).includes(String(guests)), 'numbers shown', await f.text('ending-message'));
  await f.shot('09-full');
  await mock('max?n=100');
  await f.close();

  console.log('session closed');
  await mock('close?reason=' + encodeURIComponent('Thanks for coming!'));
  await w.waitFor(w.visible('screen-closed'), 'closed screen');
  await w.shot('10-closed', false);

  console.log('host unreachable');
  await mock('down?s=3');
  const u = await freshPage(cdp);
  await u.goto(`${BASE}/#k=testkey`);
  await u.waitFor(u.visible('screen-failed'), 'failed screen when /api/info fails');
  await u.shot('11-failed');
  await sleep(3200);
  await u.click('retry-button');
  await u.waitFor(u.visible('screen-join'), 'retry → join screen');

  console.log('no key: code field');
  const n = await freshPage(cdp);
  await n.goto(`${BASE}/?theme=dark`);
  await n.waitFor(n.visible('code-input'), 'code field without a key');
  await n.shot('12-join-nokey', false);

  console.log('open host (--open): no key, no code; leave → left screen → join again');
  const OPEN = `http://127.0.0.1:${PORT + 1}`;
  children.push(spawn('python3', [join(HERE, 'mock_host.py'), '--port', String(PORT + 1), '--open'], { stdio: 'ignore' }));
  await waitHttp(`${OPEN}/api/info`);
  const o = await freshPage(cdp);
  await o.goto(`${OPEN}/`);
  await o.waitFor(o.visible('screen-join'), 'join screen');
  check(!(await o.eval(o.visible('code-input'))), 'no code field on an open host');
  await o.type('name-input', 'Ola');
  await o.click('join-button');
  await o.waitFor(`document.querySelector('[data-testid="connection-state"]')?.dataset.state === 'connected'`, 'joined an open host');
  await o.click('leave-button');
  await o.waitFor(o.visible('screen-left'), 'left screen');
  check((await fetch(`${OPEN}/_mock/state`).then((r) => r.json())).members.length === 1, 'host saw us leave');
  await o.click('rejoin-button');
  await o.waitFor(o.visible('screen-join'), 'back to the join screen');
  check((await o.eval(`document.querySelector('[data-testid="name-input"]').value`)) === 'Ola', 'name remembered');
  await o.click('join-button');
  await o.waitFor(`document.querySelector('[data-testid="connection-state"]')?.dataset.state === 'connected'`, 'joined again');

  console.log(failures ? `\n${failures} FAILED` : '\nall checks passed');
  cleanup();
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  cleanup();
  process.exit(2);
});
