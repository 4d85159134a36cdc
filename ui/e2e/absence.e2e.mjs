// Rule protected: a phone away for ten minutes is the same member when it is back and gets every
// message it missed, in order, once, and is told how many are beyond what the host keeps. A real
// phone in headless Chromium loses its network (a proxy cuts it and refuses it); the host's clock
// then moves ten minutes on (its test hook, `advance 600` under PARTYLINE_TEST_CLOCK=1: the session
// is given a `now` ten minutes later, as if they had passed); meanwhile another phone chats and
// sends it private messages, and the host notifies (more often than it keeps notifications), and
// other guests' broadcasts push the phone's share out of the party's replay log, so its resume is a
// snapshot whose `chat.history` must bring everything. The other phone, connected throughout, has
// its heartbeats look ten minutes late when the clock jumps (a host whose clock jumps, as a laptop
// waking up): it is closed, resumes, and loses nothing either.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  Browser, Cleanup, Host, Proxy, WsMember, assertServesCurrentUi, fillReplayLog, joinFromPage, requireEnvironment, sleep,
  waitUntil,
} from './harness.mjs';

const cleanup = new Cleanup();
let browser;

before(async () => {
  requireEnvironment();
  browser = await Browser.launch();
  cleanup.add('chromium', () => browser.close());
});
after(() => cleanup.run());

const stateIs = (s) => `document.querySelector('[data-testid="connection-state"]')?.dataset.state === '${s}'`;

/** A real click on the first element matching a CSS selector (scrolled into view first). */
async function clickSel(page, selector) {
  const box = await page.eval(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height }; })()`);
  assert.ok(box && box.w > 0 && box.h > 0, `expected a visible ${selector} to click, got ${JSON.stringify(box)}`);
  for (const type of ['mousePressed', 'mouseReleased']) {
    await page.send('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: 1 });
  }
}

async function say(page, text) {
  await page.type('chat-input', text);
  await page.click('chat-send');
  await page.waitFor(`!document.querySelector('[data-testid="chat-pending"]') && [...document.querySelectorAll('[data-testid="chat-text"]')].some((e) => e.textContent === ${JSON.stringify(text)})`, `"${text}" acked`, 8000);
}

async function whisper(page, toId, text) {
  await clickSel(page, `[data-member-id="${toId}"] [data-testid="dm-button"]`);
  await page.waitFor(page.visible('dm-form'), 'the compose box');
  await page.type('dm-input', text);
  await page.click('dm-send');
  await page.waitFor(`[...document.querySelectorAll('[data-testid="chat-message"][data-private="out"] [data-testid="chat-text"]')].some((e) => e.textContent === ${JSON.stringify(text)})`, `"${text}" acked (direct_ack)`, 8000);
}

/** The host's notify command; resolves once the host says it sent it. */
async function notify(host, text) {
  const from = host.stderr.length;
  host.command(`notify ${text}`);
  await waitUntil(() => /notification n-\d+ sent/.test(host.stderr.slice(from)), `the host's notification "${text}"`, 5000, 10);
}

const notesShown = (page) => page.eval(`[...document.querySelectorAll('[data-testid="notification"]')]
  .filter((e) => !e.closest('[hidden]')).map((e) => e.querySelector('[data-testid="notification-title"]').textContent)`);

test('ten minutes away on the host’s clock: the same member, everything missed in order and once, the rest counted', async () => {
  const host = await Host.start({ name: 'Rooftop', testClock: true });
  cleanup.add('host', () => host.stop());
  await assertServesCurrentUi(host.httpBase);
  const proxy = await Proxy.start(host.port);
  cleanup.add('proxy', () => proxy.close());
  const ana = await browser.newPage();
  const ben = await browser.newPage();
  await joinFromPage(ana, `${proxy.base}/#k=${host.info.joinKey}`, 'Ana');
  await joinFromPage(ben, `${host.httpBase}/#k=${host.info.joinKey}`, 'Ben');
  for (const page of [ana, ben]) await page.waitFor(stateIs('connected'), 'connected');
  const anaId = await ana.selfId();
  await ben.waitFor(`!!document.querySelector('[data-member-id="${anaId}"] [data-testid="dm-button"]')`, 'Ana in Ben’s list');

  await say(ben, 'before the walk');
  await notify(host, 'Welcome to the roof');
  await ana.waitFor(`[...document.querySelectorAll('[data-testid="chat-text"]')].some((e) => e.textContent === 'before the walk')`, 'the line before');
  await ana.waitFor(`document.querySelectorAll('[data-testid="notification"]').length === 1`, 'the banner before');
  await sleep(5500); // a latency probe answered after them: the host knows they reached her

  // Her network goes: cut, and every new connection refused until it is back.
  proxy.down = true;
  proxy.cut();
  const awayAt = Date.now();
  await ana.waitFor(stateIs('reconnecting'), 'reconnecting', 6000);

  // While she is away: more notifications than the host keeps (the oldest three of hers go)...
  const NEWS = 102;
  for (let i = 0; i < NEWS; i++) await notify(host, `News ${i}`);
  // ...two lines and a private message...
  await say(ben, 'while you were out 1');
  await say(ben, 'while you were out 2');
  await whisper(ben, anaId, 'saved you a slice');
  // ...ten minutes on the host's clock: Ben's heartbeats now look ten minutes late, so his
  // connection is closed (4012) and his page resumes...
  const benId = await ben.selfId();
  const jumpAt = host.events.length;
  await host.advance(600);
  await host.waitEvent((e) => e.event === 'member_updated' && e.id === benId && e.connectionStatus === 'reconnecting',
    'Ben’s connection closed by the jump (his heartbeats look ten minutes late)', 5000, jumpAt);
  await host.waitEvent((e) => e.event === 'member_updated' && e.id === benId && e.connectionStatus === 'connected',
    'Ben resumed', 15000, jumpAt);
  await ben.waitFor(stateIs('connected'), 'Ben back after the jump', 15000);
  // ...guests whose broadcasts push her out of the party's replay log (16 MiB)...
  const guests = [];
  for (let i = 0; i < 14; i++) guests.push(await WsMember.join(host, { name: `Guest ${i}` }));
  cleanup.add('guests', () => Promise.all(guests.map((g) => g.close())));
  const sink = guests[13];
  await fillReplayLog(guests.slice(0, 13), sink);
  // ...and, ten minutes later, a line, a private message and a notification.
  await say(ben, 'ten minutes later');
  await whisper(ben, anaId, 'are you coming back?');
  await notify(host, 'Cake in the kitchen');

  proxy.down = false;
  await ana.waitFor(stateIs('connected'), 'Ana back', 20000);
  const awayS = Math.round((Date.now() - awayAt) / 1000);
  await ana.waitFor(`!!document.querySelector('[data-testid="chat-notice"]')`, 'the notice of what is gone', 5000);
  const notice = await ana.text('chat-notice');

  assert.equal(await ana.selfId(), anaId, 'the same member after ten minutes');
  assert.equal(await ben.selfId(), benId, 'Ben too, after his connection was closed by the jump');
  const said = ['before the walk', 'while you were out 1', 'while you were out 2', 'saved you a slice', 'ten minutes later', 'are you coming back?'];
  assert.deepEqual(await ana.chatTexts(), said, 'every line and private message, in order, once');
  assert.deepEqual(await ben.chatTexts(), said, 'Ben lost nothing to the jump either');
  // The host keeps 100 notifications: of the 103 sent while she was away, News 0–2 are gone.
  assert.match(notice, /\b3 messages from then are no longer kept/, 'told how many are beyond what the host keeps: ' + notice);
  const shown = await notesShown(ana);
  const sent = ['Welcome to the roof', ...Array.from({ length: NEWS }, (_, i) => `News ${i}`), 'Cake in the kitchen'];
  const kept = [sent[0], ...sent.slice(4)]; // hers before she left, and the host's newest 100
  assert.deepEqual(shown, kept.slice(-50).reverse(), 'the banners: the newest 50 the page keeps, newest first, once each');
  const mine = await ana.eval(`[...document.querySelectorAll('[data-testid="chat-message"][data-private="in"] [data-testid="chat-text"]')].map((e) => e.textContent)`);
  assert.deepEqual(mine, ['saved you a slice', 'are you coming back?'], 'the private messages as hers, once each');
  await ben.waitFor(`document.querySelector('[data-member-id="${anaId}"]')?.dataset.status === 'connected'`, 'Ana shown connected to Ben', 5000);
  // Both phones' clocks follow the host's jump: its time is ten minutes ahead of theirs now.
  const ahead = (page) => page.eval('(window.__partyline.serverNow() - Date.now()) / 1000');
  for (const [who, page] of [['Ana', ana], ['Ben', ben]]) {
    await page.waitFor(`Math.abs((window.__partyline.serverNow() - Date.now()) / 1000 - 600) < 2`, `${who}'s view of the host's clock 600 s ahead`, 10000);
  }
  const aheadS = [(await ahead(ana)).toFixed(1), (await ahead(ben)).toFixed(1)];

  await ana.eval(`document.querySelector('[data-testid="chat-notice"]').scrollIntoView({ block: 'center' }); true`);
  await ana.shot('absence-back', { scroll: false });
  console.log(`absence: ${awayS} s away + 600 s on the host's clock; back as the same member with ${said.length} of ${said.length} lines and private messages, 0 duplicated; ${shown.length} banners; notice: "${notice}"; the phones see the host ${aheadS.join(' s and ')} s ahead`);
  ana.assertNoErrors();
  ben.assertNoErrors();
  await ana.close();
  await ben.close();
});
