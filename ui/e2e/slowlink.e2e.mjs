// Rule protected: the phone page works on a slow Wi-Fi, and what it costs there is printed. Headless
// Chromium reaches the host through `SlowLink` (harness.mjs): a 300 ms round trip (150 ms each way),
// 400 kbit/s each way shared by all the phone's connections, a round trip more for each new TCP
// connection. With a fresh cache the page opens the join link: the join screen must appear with the
// party's name, drawn before any module has run (boot.js, from the page alone); the guest joins
// (at once: a tap before the modules are here is held); then a reload must bring the page back into the party as the SAME
// member (resumed, not joined again). What is asserted is only what must work; the times, the bytes
// each way, the TCP connections and the requests (over the network or from the cache) are printed,
// never asserted (a timed assertion on a shared machine fails for the wrong reasons). The issue's
// goals: the join screen in < 2 s, a reload back in the party in < 1 s (docs/performance.md).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Cleanup, SlowLink, startHostAndBrowser } from './harness.mjs';

const cleanup = new Cleanup();
let host;
let browser;
const NAME = 'Slow Wi-Fi party';

before(async () => {
  ({ host, browser } = await startHostAndBrowser(cleanup, { name: NAME }));
});
after(() => cleanup.run());

/**
 * Runs in the page before its own scripts, at every load: `window.__slow.join` is when the join
 * form is shown with the party's name, `window.__slow.party` when the party screen is shown
 * connected with the guest's own row, each as `performance.now()` (ms since the navigation began).
 */
const RECORDER = `(() => {
  const marks = (window.__slow = {});
  const shown = (id) => { const e = document.querySelector('[data-testid="' + id + '"]'); return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0; };
  const check = () => {
    if (!marks.join && shown('name-input') && shown('join-button')
      && (document.querySelector('[data-testid="join-session-name"]') || {}).textContent === ${JSON.stringify(NAME)}) { marks.join = performance.now(); marks.beforeModules = !!window.partylineBoot; }
    if (!marks.party && shown('screen-party') && shown('member-list')
      && (document.querySelector('[data-testid="connection-state"]') || { dataset: {} }).dataset.state === 'connected'
      && document.querySelector('[data-testid="member"][data-self]')) marks.party = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
})()`;

/** The page's requests, by what the Network domain reports: URL, status, and whether the cache served it. */
function watchRequests(page) {
  const seen = new Map();
  const timeline = [];
  page.cdp.handlers.add((m) => {
    if (m.sessionId !== page.sid) return;
    const p = m.params;
    if (process.env.SLOWLINK_VERBOSE && /^Network\.(requestWillBeSent|responseReceived|loadingFinished|webSocket)/.test(m.method)) {
      const what = p.request ? p.request.url : p.response ? p.response.url : p.url || (p.response && p.response.payloadData) || '';
      timeline.push(`${Date.now()} ${m.method.replace('Network.', '')} ${String(what).slice(0, 90)}`);
    }
    if (m.method === 'Network.requestWillBeSent') seen.set(p.requestId, { url: p.request.url, status: null, cached: false });
    const r = seen.get(p && p.requestId);
    if (!r) return;
    if (m.method === 'Network.requestServedFromCache') r.cached = true;
    if (m.method === 'Network.responseReceived') {
      r.status = p.response.status;
      if (p.response.fromDiskCache || p.response.fromPrefetchCache) r.cached = true;
    }
    if (m.method === 'Network.webSocketCreated') seen.set('ws' + p.requestId, { url: p.url, status: 101, cached: false });
  });
  return {
    take() {
      const all = [...seen.values()];
      seen.clear();
      if (timeline.length) console.log(timeline.splice(0).join('\n'));
      return all;
    },
  };
}

/** One line: "N requests: a over the network (b of them 304), c from the cache". */
function describe(requests) {
  const net = requests.filter((r) => !r.cached);
  const notModified = net.filter((r) => r.status === 304).length;
  return `${requests.length} requests: ${net.length} over the network (${notModified} of them 304), ${requests.length - net.length} from the cache`;
}

/** Waits for `window.__slow[mark]` and returns it (ms since the navigation began). */
function waitMark(page, mark, ms = 20000) {
  return page.waitFor(`window.__slow && window.__slow.${mark}`, `the ${mark} mark`, ms);
}

test('on a 300 ms, 400 kbit/s link: the join screen, a join, a reload back in as the same member (times printed)', async () => {
  const link = await SlowLink.start(host.port, { rttMs: 300, kbit: 400 });
  cleanup.add('slow link', () => link.close());
  const page = await browser.newPage(); // its own browser context: an empty cache
  await page.send('Network.enable');
  await page.send('Page.addScriptToEvaluateOnNewDocument', { source: RECORDER });
  const requests = watchRequests(page);
  const figures = {};

  // 1. The join link, nothing cached.
  await page.send('Page.navigate', { url: `${link.base}/#k=${host.info.joinKey}` });
  figures.joinScreenMs = await waitMark(page, 'join');
  await page.waitScreen('screen-join');
  assert.equal(await page.text('join-session-name'), NAME, "the join screen's party name");
  // boot.js drew it from the page alone: connection.js, once it runs, takes `partylineBoot`.
  assert.equal(await page.eval('window.__slow.beforeModules'), true, 'expected the join screen before any module ran');
  const fresh = { up: link.up, down: link.down, connections: link.connections, requests: requests.take() };
  link.reset();
  await page.shot('slowlink-join');

  // 2. Join.
  await page.type('name-input', 'Dana');
  const clicked = Date.now();
  await page.click('join-button');
  await waitMark(page, 'party');
  figures.joinMs = Date.now() - clicked;
  const me = await page.selfId();
  assert.ok(me, 'expected the guest’s own row after the join');
  await host.waitEvent((e) => e.event === 'member_joined' && e.id === me, `member_joined ${me}`);
  const join = { up: link.up, down: link.down, connections: link.connections, requests: requests.take() };
  link.reset();

  // 3. Reload: back in the party as the same member, resumed.
  const mark = host.events.length;
  await page.send('Page.reload', {});
  figures.reloadMs = await waitMark(page, 'party');
  assert.equal(await page.selfId(), me, 'expected the reload to resume the same member');
  const joinedAgain = host.events.slice(mark).filter((e) => e.event === 'member_joined');
  assert.deepEqual(joinedAgain, [], 'expected no member_joined after the reload (a resume, not a new join)');
  const reload = { up: link.up, down: link.down, connections: link.connections, requests: requests.take() };
  page.assertNoErrors();
  // The reload's 304 carries only its validators: the policy the 200 came with still holds.
  const refused = await page.eval(`(() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.head.append(s); return window.__inline === undefined; })()`);
  assert.equal(refused, true, "expected the page's Content-Security-Policy to refuse an inline script after the reload");

  const kb = (n) => (n / 1000).toFixed(1) + ' KB';
  console.log(`slowlink: 300 ms round trip, 400 kbit/s each way, Chromium, ${fresh.requests.length} requests for the page`);
  console.log(`slowlink: join screen ready (fresh cache): ${Math.round(figures.joinScreenMs)} ms; ${kb(fresh.down)} down, ${kb(fresh.up)} up, ${fresh.connections} TCP connections; ${describe(fresh.requests)}`);
  console.log(`slowlink: join (tap → in the party): ${figures.joinMs} ms; ${kb(join.down)} down, ${kb(join.up)} up, ${join.connections} TCP connections; ${describe(join.requests)}`);
  console.log(`slowlink: reload → back in the party (resumed): ${Math.round(figures.reloadMs)} ms; ${kb(reload.down)} down, ${kb(reload.up)} up, ${reload.connections} TCP connections; ${describe(reload.requests)}`);
  if (process.env.SLOWLINK_VERBOSE) {
    for (const [phase, r] of Object.entries({ fresh, join, reload })) {
      for (const q of r.requests) console.log(`  ${phase}: ${q.status} ${q.cached ? 'cache' : 'net  '} ${q.url.replace(link.base, '')}`);
    }
  }
});
