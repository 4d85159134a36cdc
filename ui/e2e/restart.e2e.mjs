// Rule protected: the party survives its host restarting, and a long absence loses nothing the host
// keeps. (a) The host is SIGKILLed with two phones in and started again on the same party file:
// both phones say "The host restarted — you're back" (never "wrong key"), are the same members
// (same selfId), and a line said before the kill is in both chats once; the time from the host
// being back to both phones resumed is printed. (b) A reload after the party's replay log was
// evicted (other guests' topic broadcasts past its 16 MiB) shows the kept chat with no "missed"
// notice; a phone away while 600 are said (and the log evicted again) is told exactly how many are
// beyond what the host keeps (all but the 500 a history brings). (c), ten minutes away with a real
// phone, is absence.e2e.mjs (the host's clock moved on by its test hook).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  Browser, Cleanup, Host, Proxy, WsMember, assertServesCurrentUi, fillReplayLog, joinFromPage, requireEnvironment, sleep,
  waitUntil,
} from './harness.mjs';

const cleanup = new Cleanup();
let browser;
let dir;

before(async () => {
  requireEnvironment();
  browser = await Browser.launch();
  cleanup.add('chromium', () => browser.close());
  dir = mkdtempSync(join(tmpdir(), 'partyline-e2e-restart-'));
  cleanup.add('party folder', () => rmSync(dir, { recursive: true, force: true }));
});
after(() => cleanup.run());

const stateIs = (s) => `document.querySelector('[data-testid="connection-state"]')?.dataset.state === '${s}'`;
const BACK = 'The host restarted — you’re back.';
const bannerSays = (text) =>
  `!document.querySelector('[data-testid="reconnect-banner"]').hidden && document.querySelector('[data-testid="reconnect-text"]').textContent === ${JSON.stringify(text)}`;

test('(a) the host is killed and started again: both phones are back as themselves, told so, the chat whole', async () => {
  const partyFile = join(dir, 'a.db');
  let host = await Host.start({ name: 'Rooftop', partyFile });
  cleanup.add('host a', () => host.stop());
  await assertServesCurrentUi(host.httpBase);
  const ana = await browser.newPage();
  const ben = await browser.newPage();
  await joinFromPage(ana, `${host.httpBase}/#k=${host.info.joinKey}`, 'Ana');
  await joinFromPage(ben, `${host.httpBase}/#k=${host.info.joinKey}`, 'Ben');
  for (const page of [ana, ben]) await page.waitFor(stateIs('connected'), 'connected');
  const ids = [await ana.selfId(), await ben.selfId()];
  await ana.type('chat-input', 'said before the crash');
  await ana.click('chat-send');
  for (const page of [ana, ben]) {
    await page.waitFor(`[...document.querySelectorAll('[data-testid="chat-text"]')].some((e) => e.textContent === 'said before the crash')`, 'the line before the kill');
  }
  await ana.waitFor(`!document.querySelector('[data-testid="chat-pending"]')`, 'acked before the kill', 3000);

  await host.kill();
  for (const page of [ana, ben]) await page.waitFor(stateIs('reconnecting'), 'reconnecting while the host is down', 8000);
  host = await Host.start({ name: 'Rooftop', partyFile });
  const backAt = Date.now();
  assert.equal(host.info.restored, true, 'the host picked the party up');
  const resumedMs = [];
  for (const page of [ana, ben]) {
    await page.waitFor(`${stateIs('connected')} && ${bannerSays(BACK)}`, 'back, and told so', 15000);
    resumedMs.push(Date.now() - backAt);
  }
  console.log(`restart (browser): host back → both phones resumed and showing the notice in ${Math.max(...resumedMs)} ms (${resumedMs.join(', ')} ms)`);
  await ana.shot('restart-back', { scroll: false });
  assert.deepEqual([await ana.selfId(), await ben.selfId()], ids, 'the same members (selfId) after the restart');
  for (const page of [ana, ben]) {
    assert.deepEqual(await page.chatTexts(), ['said before the crash'], 'the line before the kill, once');
    assert.equal(await page.eval(page.visible('screen-end')), false, 'no ending screen (never "wrong key")');
  }
  await ana.waitFor(`document.querySelector('[data-testid="reconnect-banner"]').hidden`, 'the notice goes after a few seconds', 8000);
  ana.assertNoErrors();
  ben.assertNoErrors();
  await ana.close();
  await ben.close();
  await host.stop();
});

/** Guests who say `total` lines between them, each under the rate limit (20 a second). */
async function chatter(guests, total, prefix) {
  await Promise.all(guests.map(async (g, i) => {
    for (let k = i; k < total; k += guests.length) {
      g.chat(`${prefix} ${k}`);
      await sleep(50);
    }
  }));
  const heard = (m) => m.type === 'chat' && m.text.startsWith(prefix + ' ');
  await waitUntil(() => guests[0].messages.filter(heard).length >= total - Math.ceil(total / guests.length), `the ${prefix} lines`, 20000);
  await waitUntil(() => guests[guests.length - 1].messages.filter(heard).length === total, `all ${prefix} lines at the last guest`, 20000);
}

const lines = (page) => page.eval(`[...document.querySelectorAll('[data-testid="chat-message"] [data-testid="chat-text"]')].map((e) => e.textContent)`);
const hasNotice = (page) => page.eval(`!!document.querySelector('[data-testid="chat-notice"]')`);

test('(b) a reload after the log was evicted shows the kept chat with no notice; an absence beyond what the host keeps says how much', async () => {
  const host = await Host.start({ name: 'Rooftop' });
  cleanup.add('host b', () => host.stop());
  await assertServesCurrentUi(host.httpBase);
  const proxy = await Proxy.start(host.port);
  cleanup.add('proxy', () => proxy.close());
  const guests = [];
  for (let i = 0; i < 15; i++) guests.push(await WsMember.join(host, { name: `Guest ${i}` }));
  cleanup.add('guests', () => Promise.all(guests.map((g) => g.close())));
  const sink = guests[14];
  const page = await browser.newPage();
  await joinFromPage(page, `${proxy.base}/#k=${host.info.joinKey}`, 'Ana');
  await page.waitFor(stateIs('connected'), 'connected');
  const me = await page.selfId();

  await chatter(guests, 60, 'first');
  await page.waitFor(`document.querySelectorAll('[data-testid="chat-message"]').length === 60`, 'the 60 lines live', 10000);
  await sleep(5500); // a latency probe answered after them
  await fillReplayLog(guests.slice(0, 13), sink);
  await page.eval('location.reload(); true');
  await page.waitFor(stateIs('connected'), 'back after the reload', 10000);
  await page.waitFor(`document.querySelectorAll('[data-testid="chat-message"]').length === 60`, 'the kept chat after the reload', 5000);
  const texts = await lines(page);
  assert.equal(await page.selfId(), me, 'the same member after the reload');
  const said = (prefix) => sink.messages.filter((m) => m.type === 'chat' && m.text.startsWith(prefix)).map((m) => m.text);
  assert.deepEqual(texts, said('first '), 'the whole kept chat, in the order the host took it, once');
  assert.equal(await hasNotice(page), false, 'no "missed" notice: nothing was said while it reloaded');

  await sleep(5500); // a latency probe answered after the reload
  proxy.silence();
  await page.waitFor(stateIs('reconnecting'), 'reconnecting', 6000);
  await chatter(guests, 600, 'second');
  await fillReplayLog(guests.slice(0, 13), sink);
  proxy.restore();
  await page.waitFor(stateIs('connected'), 'connected again', 15000);
  await page.waitFor(`!!document.querySelector('[data-testid="chat-notice"]')`, 'the notice', 5000);
  const notice = await page.text('chat-notice');
  assert.match(notice, /\b100 messages from then are no longer kept/, 'all but the 500 a history brings: ' + notice);
  const after = await lines(page);
  assert.equal(new Set(after).size, after.length, 'nothing shown twice');
  assert.deepEqual(after.slice(-3), said('second ').slice(-3), 'the newest lines of the absence, in order');
  console.log(`reload after eviction: ${texts.length} of 60 lines shown, no notice; away for 600 lines and the log evicted: "${notice}"`);
  page.assertNoErrors();
  await page.close();
});
