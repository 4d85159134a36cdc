// Rule protected: a chat line reads the same on every phone after it changes, and only its author
// can change it. A guest edits her own line from its "⋯" (Edit, the words in a field, Save) and
// every phone shows the new words with "(edited)"; she deletes it (Delete, asked once) and every
// phone shows "Message deleted" instead of the words; a line another client edits or deletes shows
// so too; nobody has the actions on someone else's line; the host's refusal is shown as a notice
// and ends nothing. Real `partyline host`, two phones in headless Chromium (390×844) tapped with
// real mouse events, a third guest over a WebSocket.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Cleanup, SHOTS, WsMember, joinFromPage, sleep, startHostAndBrowser } from './harness.mjs';

const cleanup = new Cleanup();
let host;
let browser;

before(async () => {
  ({ host, browser } = await startHostAndBrowser(cleanup, { name: 'Rooftop' }));
});
after(() => cleanup.run());

async function joined(page, name) {
  await joinFromPage(page, host.info.joinUrl, name);
  await page.waitScreen('screen-party');
  await page.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, `${name} connected`);
  return page.waitFor(`(document.querySelector('[data-testid="member"][data-self]') || {}).dataset?.memberId`, `${name}'s own row`);
}

/** The chat as a phone shows it: [{ id, author, text, edited, deleted, actions }]. */
const lines = (page) => page.eval(`[...document.querySelectorAll('[data-testid="chat-message"][data-chat-id]')].map((e) => ({
  id: e.dataset.chatId, author: e.querySelector('[data-testid="chat-author"]').textContent,
  text: (e.querySelector('[data-testid="chat-text"]') || {}).textContent ?? null,
  edited: (e.querySelector('[data-testid="chat-edited"]') || {}).textContent ?? null,
  deleted: (e.querySelector('[data-testid="chat-deleted"]') || {}).textContent ?? null,
  actions: !!e.querySelector('[data-testid="chat-actions"]') }))`);

const lineOf = async (page, id) => (await lines(page)).find((l) => l.id === id);
const focused = (page) => page.eval(`document.activeElement && document.activeElement.getAttribute('data-testid')`);

/** Fits the 390-px viewport: nothing wider than the page. */
const overflow = (page) => page.eval(`[...document.querySelectorAll('#screen-party *')].filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 0.5).map((e) => (e.getAttribute('data-testid') || e.tagName) + ':' + Math.round(e.getBoundingClientRect().right))`);

/** A screenshot with the chat in view (the page scrolled to the bottom), focus left where it is. */
async function shotChat(page, name) {
  await page.eval('window.scrollTo(0, document.documentElement.scrollHeight); true');
  await sleep(150);
  const { data } = await page.send('Page.captureScreenshot', { format: 'png' });
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(join(SHOTS, name + '.png'), Buffer.from(data, 'base64'));
}

test("a guest edits and deletes her own line; every phone shows it; nobody can change another's", async () => {
  const ana = await browser.newPage();
  const ben = await browser.newPage();
  const anaId = await joined(ana, 'Ana');
  await joined(ben, 'Ben');
  const cleo = await WsMember.join(host, { name: 'Cleo' });
  cleanup.add('cleo', () => cleo.close());
  await ana.waitFor(`document.querySelectorAll('[data-testid="member"]').length === 4`, 'Ana sees host, Ana, Ben, Cleo');

  // 1. Ana says a line; Ben says one. Each has the actions on their own line only.
  await ana.type('chat-input', 'See you at 10');
  await ana.click('chat-send');
  const id = await ana.waitFor(`(document.querySelector('[data-testid="chat-message"].mine[data-chat-id]') || {}).dataset?.chatId`, "Ana's line with its id");
  const L = `[data-chat-id="${id}"]`;
  await ben.waitFor(`document.querySelector('${L}')`, "Ana's line at Ben");
  await ben.type('chat-input', 'ok!');
  await ben.click('chat-send');
  await ana.waitFor(`document.querySelectorAll('[data-testid="chat-message"]').length === 2`, "Ben's line at Ana");
  const strip = (ls) => ls.map(({ author, text, actions }) => ({ author, text, actions }));
  assert.deepEqual(strip(await lines(ana)), [{ author: 'You', text: 'See you at 10', actions: true },
    { author: 'Ben', text: 'ok!', actions: false }], "Ana's chat: actions on her line only");
  assert.deepEqual(strip(await lines(ben)), [{ author: 'Ana', text: 'See you at 10', actions: false },
    { author: 'You', text: 'ok!', actions: true }], "Ben's chat: no edit button on Ana's line");
  assert.equal(await ana.eval(`document.querySelector('${L} [data-testid="chat-actions"]').getAttribute('aria-label')`),
    'Edit or delete your message', "the '⋯' button's name for screen readers");

  // 2. The menu by tap, closed with Escape (the focus goes back to '⋯'), then Edit → Save. The
  // chat is a live region: opening the menu redraws none of the words (no second announcement),
  // and the menu itself is outside it.
  await ana.eval(`window.__words = document.querySelector('${L} [data-testid="chat-text"]'); true`);
  await ana.clickSelector(`${L} [data-testid="chat-actions"]`);
  await ana.waitFor(`document.querySelector('${L} [data-testid="chat-edit"]')`, 'Edit and Delete shown');
  assert.equal(await ana.eval(`document.querySelector('${L} [data-testid="chat-text"]') === window.__words`), true,
    'the words are the same element once the menu is open');
  assert.equal(await ana.eval(`document.querySelector('${L} [data-testid="chat-edit"]').closest('[aria-live]').getAttribute('aria-live')`),
    'off', 'the menu outside the live region');
  assert.equal(await focused(ana), 'chat-edit', 'the focus on Edit once the menu opens');
  assert.equal(await ana.eval(`document.querySelector('${L} [data-testid="chat-actions"]').getAttribute('aria-expanded')`), 'true', 'aria-expanded');
  await ana.press('Escape', 'Escape', 27);
  await ana.waitFor(`!document.querySelector('${L} [data-testid="chat-edit"]')`, 'the menu closed by Escape');
  assert.equal(await focused(ana), 'chat-actions', "the focus back on '⋯'");
  await ana.clickSelector(`${L} [data-testid="chat-actions"]`);
  await ana.clickSelector(`${L} [data-testid="chat-edit"]`);
  await ana.waitFor(`document.querySelector('${L} [data-testid="chat-edit-input"]')`, 'the edit field');
  assert.equal(await ana.eval(`document.querySelector('${L} [data-testid="chat-edit-input"]').value`), 'See you at 10', 'the field holds the words');
  assert.equal(await focused(ana), 'chat-edit-input', 'the focus in the field');
  await ana.type('chat-edit-input', 'See you at 11 instead');
  await shotChat(ana, 'chat-editing');
  await ana.clickSelector(`${L} [data-testid="chat-edit-save"]`);
  const atCleo = await cleo.waitFor((m) => m.type === 'chat.edited' && m.id === id, 'chat.edited at Cleo');
  assert.deepEqual([atCleo.from, atCleo.text], [anaId, 'See you at 11 instead'], 'the edit as the host sent it');
  for (const [page, who, author] of [[ben, 'Ben', 'Ana'], [ana, 'Ana', 'You']]) {
    await page.waitFor(`document.querySelector('${L}[data-edited]')`, `the edit on ${who}'s phone`);
    const l = await lineOf(page, id);
    assert.deepEqual([l.author, l.text, l.edited, l.deleted], [author, 'See you at 11 instead', '(edited)', null], `Ana's line on ${who}'s phone`);
  }
  assert.equal(await focused(ana), 'chat-actions', "after Save the focus back on '⋯'");
  await ana.eval('document.activeElement.blur(); true');
  await shotChat(ben, 'chat-edited');
  await shotChat(ana, 'chat-edited-own');
  assert.deepEqual(await overflow(ben), [], 'nothing wider than 390 px with an edited line');

  // 3. Words the host counts as empty (U+0085 is whitespace to Rust's trim, not to JavaScript's):
  // its decoder refuses the chat.edit (invalid_message, its own words as the reason), shown as a
  // notice; Ana stays in, her line as it was.
  await ana.clickSelector(`${L} [data-testid="chat-actions"]`);
  await ana.clickSelector(`${L} [data-testid="chat-edit"]`);
  await ana.type('chat-edit-input', '\u0085');
  await ana.clickSelector(`${L} [data-testid="chat-edit-save"]`);
  const notice = await ana.waitFor(`${ana.visible('chat-error')} && document.querySelector('[data-testid="chat-error"]').textContent`, 'the refusal shown');
  assert.equal(notice, "Couldn't edit that message.", 'the notice');
  assert.equal(await ana.connectionState(), 'connected', 'Ana still connected');
  assert.equal((await lineOf(ana, id)).text, 'See you at 11 instead', "Ana's line unchanged");

  // 4. Another client's line, edited and deleted by its author: the phones follow; no actions on it.
  cleo.chat('Cake in 5');
  const cake = await cleo.waitFor((m) => m.type === 'chat' && m.text === 'Cake in 5', "Cleo's line back at Cleo");
  await ben.waitFor(`document.querySelector('[data-chat-id="${cake.id}"]')`, "Cleo's line at Ben");
  cleo.send({ type: 'chat.edit', id: cake.id, text: 'Cake in 10' });
  await ben.waitFor(`document.querySelector('[data-chat-id="${cake.id}"][data-edited]')`, "Cleo's edit at Ben");
  assert.deepEqual(await lineOf(ben, cake.id), { id: cake.id, author: 'Cleo', text: 'Cake in 10', edited: '(edited)', deleted: null, actions: false },
    "Cleo's edited line at Ben");
  cleo.send({ type: 'chat.delete', id: cake.id });
  await ana.waitFor(`document.querySelector('[data-chat-id="${cake.id}"][data-deleted]')`, "Cleo's deletion at Ana");
  assert.deepEqual(await lineOf(ana, cake.id), { id: cake.id, author: 'Cleo', text: null, edited: null, deleted: 'Message deleted', actions: false },
    "Cleo's deleted line at Ana");

  // 5. Ana deletes her line: asked once, then gone from every phone (a mark in its place).
  await ana.clickSelector(`${L} [data-testid="chat-actions"]`);
  await ana.clickSelector(`${L} [data-testid="chat-delete"]`);
  assert.equal(await ana.eval(ana.visible('chat-error')), false, 'the old notice gone once another action opens');
  const ask = await ana.waitFor(`(document.querySelector('${L} [data-testid="chat-delete-question"]') || {}).textContent`, 'the question');
  assert.equal(ask, 'Delete this message?', 'asked once');
  assert.equal((await lineOf(ben, id)).text, 'See you at 11 instead', 'nothing deleted before the answer');
  await shotChat(ana, 'chat-delete-ask');
  await ana.clickSelector(`${L} [data-testid="chat-delete-yes"]`);
  await cleo.waitFor((m) => m.type === 'chat.deleted' && m.id === id, 'chat.deleted at Cleo');
  for (const [page, who, author] of [[ben, 'Ben', 'Ana'], [ana, 'Ana', 'You']]) {
    await page.waitFor(`document.querySelector('${L}[data-deleted]')`, `the deletion on ${who}'s phone`);
    assert.deepEqual(await lineOf(page, id), { id, author, text: null, edited: null, deleted: 'Message deleted', actions: false },
      `Ana's line on ${who}'s phone`);
    assert.ok(!(await page.chatTexts()).some((t) => t.includes('See you at')), `the words gone from ${who}'s phone`);
  }
  await shotChat(ben, 'chat-deleted');
  assert.deepEqual(await overflow(ana), [], 'nothing wider than 390 px');
  for (const p of [ana, ben]) await p.eval(`document.documentElement.dataset.theme = 'dark'`);
  await shotChat(ben, 'chat-deleted-dark');
  ana.assertNoErrors();
  ben.assertNoErrors();
});
