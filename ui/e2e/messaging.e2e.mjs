// Rule protected: the messaging extensions reach guests on their phones (390×844). The host's
// `notify` shows as a banner on every phone, once, and dismissing it tells the host (mark_read);
// a guest who sets Away with a text is shown so in everyone else's member list; a private message
// is shown to its sender ("you → Ben", after the host's ack) and to its recipient ("Ana → you") and
// to nobody else; one to a guest who has left is shown as not delivered. A phone cut off while the
// host sends another notification gets it on resume, each banner once. Real `partyline host`, two
// phones in headless Chromium (one through a proxy that can cut it), a third guest over a WebSocket.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  Cleanup, Proxy, SHOTS, WsMember, joinFromPage, sleep, startHostAndBrowser, waitUntil,
} from './harness.mjs';

const cleanup = new Cleanup();
let host;
let browser;

before(async () => {
  ({ host, browser } = await startHostAndBrowser(cleanup, { name: 'Rooftop' }));
});
after(() => cleanup.run());

/** A real click on the first element matching a CSS selector (scrolled into view first). */
async function clickSel(page, selector) {
  const box = await page.eval(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height }; })()`);
  assert.ok(box && box.w > 0 && box.h > 0, `expected a visible ${selector} to click, got ${JSON.stringify(box)}`);
  for (const type of ['mousePressed', 'mouseReleased']) {
    await page.send('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: 1 });
  }
}

/** Like page.shot, but scrolled to the bottom (the chat), to see what the guest reads there. */
async function shotBottom(page, name) {
  await page.eval('document.activeElement && document.activeElement.blur && document.activeElement.blur(); window.scrollTo(0, document.documentElement.scrollHeight); true');
  await sleep(150);
  const { data } = await page.send('Page.captureScreenshot', { format: 'png' });
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(join(SHOTS, name + '.png'), Buffer.from(data, 'base64'));
}

const notesShown = (page) => page.eval(`[...document.querySelectorAll('[data-testid="notification"]')]
  .filter((e) => !e.closest('[hidden]')).map((e) => ({ id: e.dataset.noteId, level: e.dataset.level,
    title: e.querySelector('[data-testid="notification-title"]').textContent }))`);

const privateShown = (page) => page.eval(`[...document.querySelectorAll('[data-testid="chat-message"][data-private]')].map((e) => ({
  dir: e.dataset.private, author: e.querySelector('[data-testid="chat-author"]').firstChild.textContent,
  text: e.querySelector('[data-testid="chat-text"]').textContent }))`);

/** Fits the 390-px viewport: nothing wider than the page. */
const overflow = (page) => page.eval(`[...document.querySelectorAll('#screen-party *')].filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 0.5).map((e) => (e.getAttribute('data-testid') || e.tagName) + ':' + Math.round(e.getBoundingClientRect().right))`);

async function joined(page, name, url) {
  await joinFromPage(page, url, name);
  await page.waitScreen('screen-party');
  await page.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, `${name} connected`);
  return page.waitFor(`(document.querySelector('[data-testid="member"][data-self]') || {}).dataset?.memberId`, `${name}'s own row`);
}

test('notify on both phones, presence in the list, a private message only its recipient sees', async () => {
  const ana = await browser.newPage();
  const ben = await browser.newPage();
  const proxy = await Proxy.start(host.port); // Ben goes through it: it can cut him off
  cleanup.add('proxy', () => proxy.close());
  const anaId = await joined(ana, 'Ana', host.info.joinUrl);
  const benId = await joined(ben, 'Ben', `${proxy.base}/#k=${host.info.joinKey}`);
  assert.ok(benId, "Ben's own row");
  const cleo = await WsMember.join(host, { name: 'Cleo' });
  cleanup.add('cleo', () => cleo.close());
  await ana.waitFor(`document.querySelectorAll('[data-testid="member"]').length === 4`, 'Ana sees host, Ana, Ben, Cleo');
  assert.deepEqual(await notesShown(ana), [], 'no notification before the host sends one');
  assert.equal(await ana.eval(ana.visible('presence-control')), true, 'the presence control is shown');

  // 1. The host's notification, on both phones.
  host.command('notify Pizza is here');
  for (const [page, who] of [[ana, 'Ana'], [ben, 'Ben']]) {
    const shown = await page.waitFor(`document.querySelector('[data-testid="notification"]') && !document.querySelector('[data-testid="notifications"]').hidden`, `the notification on ${who}'s phone`);
    assert.ok(shown);
    assert.deepEqual((await notesShown(page)).map((n) => [n.title, n.level]), [['Pizza is here', 'info']], `${who}'s banner`);
  }
  const cleoNote = await cleo.waitFor((m) => m.type === 'notification', 'the notification at Cleo');
  await ana.shot('messaging-notification');
  assert.deepEqual(await overflow(ana), [], 'nothing wider than 390 px with a notification');

  const readFrom = host.events.length;
  await clickSel(ana, '[data-testid="notification-dismiss"]');
  await ana.waitFor(`document.querySelectorAll('[data-testid="notification"]').length === 0`, 'the banner gone after dismissing');
  const read = await host.waitEvent((e) => JSON.stringify(e).includes(cleoNote.id) && /read/i.test(JSON.stringify(e)), 'Ana read the notification', 5000, readFrom)
    .catch((e) => { throw new Error(e.message + '; events: ' + JSON.stringify(host.events.slice(readFrom))); });
  assert.ok(JSON.stringify(read).includes('Ana'), `expected the read event to name Ana, got ${JSON.stringify(read)}`);
  assert.equal((await notesShown(ben)).length, 1, "Ben's banner stays until Ben dismisses it");

  // 2. Presence: Ana is away, "back in 5"; Ben sees it in his member list.
  await ana.click('presence-away');
  await ana.waitFor(ana.visible('presence-text'), 'the status text field');
  await ana.type('presence-text', 'back in 5');
  await ana.click('presence-save');
  const benRow = `document.querySelector('[data-member-id="${anaId}"] [data-testid="member-presence"]')`;
  // Away goes out at the tap, the text with Set: wait for the second (the first may show alone).
  const seen = await ben.waitFor(`${benRow} && !${benRow}.hidden && ${benRow}.textContent.includes(': ') && ${benRow}.textContent`, "Ana's presence with its text in Ben's list");
  assert.equal(seen, 'Away: back in 5', "Ana's presence as Ben sees it");
  assert.equal(await ana.eval(`document.querySelector('[data-testid="presence-away"]').getAttribute('aria-pressed')`), 'true', 'Away pressed on Ana');
  const cleoSaw = await cleo.waitFor((m) => m.type === 'presence_update' && m.memberId === anaId && m.text === 'back in 5', 'presence_update at Cleo');
  assert.equal(cleoSaw.status, 'away', 'status at Cleo');
  await ben.shot('messaging-presence');

  // 3. A private message: Ben → Ana. Ana sees "Ben → you", Ben "you → Ana", Cleo nothing.
  await clickSel(ben, `[data-member-id="${anaId}"] [data-testid="dm-button"]`);
  await ben.waitFor(ben.visible('dm-form'), 'the compose box');
  assert.equal(await ben.text('dm-to'), 'Ana', 'compose box names Ana');
  await ben.type('dm-input', 'Saved you a slice');
  await ben.click('dm-send');
  await ana.waitFor(`document.querySelector('[data-testid="chat-message"][data-private="in"]')`, 'the private message at Ana');
  await ben.waitFor(`document.querySelector('[data-testid="chat-message"][data-private="out"]')`, 'the sent message at Ben (after direct_ack)');
  assert.deepEqual(await privateShown(ana), [{ dir: 'in', author: 'Ben → you', text: 'Saved you a slice' }], "Ana's private messages");
  assert.deepEqual(await privateShown(ben), [{ dir: 'out', author: 'you → Ana', text: 'Saved you a slice' }], "Ben's private messages");
  assert.equal(await ben.eval(`document.querySelector('[data-testid="dm-input"]').value`), '', 'compose box cleared');
  await sleep(300);
  assert.deepEqual(cleo.messages.filter((m) => m.type === 'direct'), [], 'Cleo got no direct');
  assert.deepEqual(await ana.chatTexts(), ['Saved you a slice'], "nothing else in Ana's chat");
  await ana.shot('messaging-direct-in');
  await shotBottom(ana, 'messaging-direct-in-chat');
  await shotBottom(ben, 'messaging-direct-out-chat');
  assert.deepEqual(await overflow(ben), [], 'nothing wider than 390 px with the compose box open');

  // 4. A private message to someone who has just left: shown as not delivered, words given back.
  await clickSel(ben, `[data-member-id="${cleo.id}"] [data-testid="dm-button"]`);
  await ben.waitFor(`document.querySelector('[data-testid="dm-to"]').textContent === 'Cleo'`, 'compose box for Cleo');
  cleo.send({ type: 'leave', reason: 'bye' });
  await ben.waitFor(`!document.querySelector('[data-member-id="${cleo.id}"]')`, 'Cleo gone from the list');
  await ben.type('dm-input', 'Cleo, you there?');
  await ben.click('dm-send');
  const err = await ben.waitFor(`${ben.visible('dm-error')} && document.querySelector('[data-testid="dm-error"]').textContent`, 'the delivery error');
  assert.match(err, /Couldn't deliver your private message to Cleo: they aren't in the party any more/, 'error text');
  assert.equal(await ben.eval(`document.querySelector('[data-testid="dm-input"]').value`), 'Cleo, you there?', 'the words given back');
  assert.equal(await ben.eval(`document.querySelectorAll('[data-testid="dm-failed"]').length`), 1, 'a failure line in the chat');
  assert.equal(await ben.connectionState(), 'connected', 'still connected');
  await shotBottom(ben, 'messaging-direct-failed');

  // The same screens in dark.
  for (const p of [ana, ben]) await p.eval(`document.documentElement.dataset.theme = 'dark'`);
  await shotBottom(ben, 'messaging-direct-failed-dark');
  await ana.shot('messaging-presence-dark');

  // Ben is cut off while the host sends another: on resume it arrives once, the first stays once.
  for (const p of [ana, ben]) await p.eval(`document.documentElement.dataset.theme = 'light'`);
  proxy.down = true;
  assert.ok(proxy.cut() >= 1, "expected Ben's page to have a connection through the proxy");
  await ben.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'reconnecting'`, 'Ben reconnecting', 3000);
  host.command('notify Cake in 10');
  await ana.waitFor(`document.querySelectorAll('[data-testid="notification"]').length === 1`, "the second notification on Ana's phone");
  proxy.down = false;
  await ben.eval(`window.dispatchEvent(new Event('online')); true`);
  await ben.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, 'Ben resumed', 10000);
  await waitUntil(async () => (await notesShown(ben)).length === 2, "Ben's two notifications", 5000);
  await sleep(300);
  assert.deepEqual((await notesShown(ben)).map((n) => n.title), ['Cake in 10', 'Pizza is here'], "Ben's banners after the resume, newest first, each once");
  assert.deepEqual(await privateShown(ben), [{ dir: 'out', author: 'you → Ana', text: 'Saved you a slice' }], "Ben's private messages after the resume");
  await ben.shot('messaging-two-notifications');
  ana.assertNoErrors();
  ben.assertNoErrors();
});
