// Rule protected: the party screen reads right to a guest on a phone (390×844 and 320×568). A
// member row says nothing for a member who is simply here and words otherwise (never the raw
// "connected"); the guest's connection is one figure with a plain label; at 320 px nothing is
// wider than the screen, the chat's placeholder shows whole and names are not cut; with music
// shared (50 songs) the chat's input is on the first screen; a guest changes their name and the
// others see it, a lookalike, a taken name and an invisible character told in words (at a join
// too, on the join screen); each chat line shows its time, and "New messages" stands where the
// lines the guest did not see begin (the page hidden, then a reload); a phone that cannot play
// says so on its sync badge, never a sync figure; Arabic and Hebrew names, notes and lines read
// right to left. Real host, real Chromium; screenshots in
// tests/output/phone/guest-*.png.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { clickTrackWav } from '../e2e-sync/wav.mjs';
import {
  Browser, Cleanup, Host, WsMember, assertServesCurrentUi, joinFromPage, requireEnvironment, startHostAndBrowser, waitUntil,
} from './harness.mjs';

const cleanup = new Cleanup();
let host;
let browser;

before(async () => {
  ({ host, browser } = await startHostAndBrowser(cleanup, { name: 'Rooftop' }));
});
after(() => cleanup.run());

/** The viewport of `page` set to a phone's size (mobile emulation, as the harness opens it). */
function viewport(page, width, height) {
  return page.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: true });
}

/** A host of its own for one test (the names and lines of the others stay out of it). */
async function ownHost(name, options = {}) {
  const h = await Host.start(Object.assign({ name }, options));
  cleanup.add('host ' + name, () => h.stop());
  await assertServesCurrentUi(h.httpBase);
  return h;
}

/** A new tab that joins the party as `name` and is connected. */
async function phone(name, { on = host, chrome = browser } = {}) {
  const page = await chrome.newPage();
  await joinFromPage(page, on.info.joinUrl, name);
  await page.waitScreen('screen-party');
  await page.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, name + ' connected');
  return page;
}

/** Each member row as shown: { name, status (its words), statusShown, latency, self }. */
const rows = (page) => page.eval(`[...document.querySelectorAll('[data-testid="member"]')].map((e) => {
  const st = e.querySelector('[data-testid="status"]');
  return { name: e.querySelector('[data-testid="member-name"]').textContent, status: st.textContent,
    statusShown: !st.hidden, latency: e.querySelector('[data-testid="latency"]').textContent,
    self: e.hasAttribute('data-self'), host: e.hasAttribute('data-host'), presence: e.querySelector('[data-testid="member-presence"]').hidden ? '' : e.querySelector('[data-testid="member-presence"]').textContent };
})`);

/** The page hidden (or shown again) as a phone's browser does when it goes to the background. */
const setHidden = (page, hidden) => page.eval(`(() => {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => ${JSON.stringify(hidden ? 'hidden' : 'visible')} });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => ${hidden} });
  document.dispatchEvent(new Event('visibilitychange'));
  return true;
})()`);

/** The chat as shown, in order: 'NEW' for the "New messages" mark, else the line's words. */
const chatShown = (page) => page.eval(`[...document.querySelectorAll('[data-testid="chat-message"], [data-testid="chat-new"]')].map((li) =>
  li.getAttribute('data-testid') === 'chat-new' ? 'NEW' : (li.querySelector('[data-testid="chat-text"]') || {}).textContent)`);

/// Rows say nothing for a connected member, "Reconnecting…" and "Away" in words; one latency figure.
test('member rows speak a guest\'s words; the guest\'s connection is one figure', async () => {
  const sara = await WsMember.join(host, { name: 'Sara' });
  cleanup.add('sara', () => sara.close());
  const page = await phone('Ana');
  const list = await waitUntil(async () => {
    const r = await rows(page);
    return r.length >= 3 && r.filter((m) => !m.host).every((m) => /^\d+ ms$/.test(m.latency)) ? r : null;
  }, 'three rows, the guests\' with a latency', 14000, 200).catch(async (e) => {
    throw new Error(e.message + '; rows: ' + JSON.stringify(await rows(page)));
  });
  assert.deepEqual(list.filter((m) => m.statusShown || m.status !== ''), [], 'rows of connected members that say a status');
  const bodyText = await page.eval(`document.querySelector('[data-testid="member-list"]').innerText`);
  assert.doesNotMatch(bodyText, /\bconnected\b/i, 'the word "connected" in the member list');
  assert.equal(await page.eval(`document.querySelector('[data-testid="self"] .right .label').textContent`), 'Your connection', 'the label of the figure');
  // One figure: the "You" card and the guest's own row say the same, however often it changes.
  for (let i = 0; i < 5; i++) {
    const [card, row] = await page.eval(`[document.querySelector('[data-testid="self-latency"]').textContent,
      document.querySelector('[data-testid="member"][data-self] [data-testid="latency"]').textContent]`);
    assert.equal(row, card, `the guest's own row and the "You" card (reading ${i})`);
    assert.match(card, /^\d+ ms$/, 'the figure');
    await new Promise((r) => setTimeout(r, 300));
  }
  sara.send({ type: 'presence', status: 'away', text: 'back in 5' });
  await page.waitFor(`[...document.querySelectorAll('[data-testid="member-presence"]')].some((e) => !e.hidden && e.textContent === 'Away: back in 5')`, 'Sara away');
  clearInterval(sara.hb);
  sara.ws.close(4000); // dropped, not left: the host keeps her place
  const cut = await waitUntil(async () => (await rows(page)).find((m) => m.name === 'Sara' && m.status === 'Reconnecting…'), 'Sara reconnecting', 8000);
  assert.equal(cut.statusShown, true, 'the word is shown');
  await page.shot('guest-rows');
  page.assertNoErrors();
  await page.close();
});

/// At 320×568 nothing overflows, the chat placeholder shows whole and a long name is not cut.
test('at 320×568: no horizontal overflow, the placeholder whole, names not cut', async () => {
  const long = await WsMember.join(host, { name: 'Alexandra Konstantinopoulou-Smith' });
  cleanup.add('long', () => long.close());
  const page = await browser.newPage();
  await viewport(page, 320, 568);
  await joinFromPage(page, host.info.joinUrl, 'Maximiliane Wolkenstein');
  await page.waitScreen('screen-party');
  const size = await page.eval('[innerWidth, innerHeight]');
  assert.deepEqual(size, [320, 568], `expected a 320×568 viewport, got ${size.join('×')}`);
  await page.waitFor(`[...document.querySelectorAll('[data-testid="member-name"]')].some((e) => e.textContent.startsWith('Alexandra'))`, 'the long name listed');
  long.chat('A line from someone with a long name, to see the bubble at 320 px');
  await page.waitFor(`document.querySelectorAll('[data-testid="chat-message"]').length > 0`, 'a chat line');
  const m = await page.eval(`(() => {
    const input = document.querySelector('[data-testid="chat-input"]');
    const cs = getComputedStyle(input);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = cs.font;
    // Cut: clipped, or past the screen; or broken inside its words (more lines than words).
    const names = [...document.querySelectorAll('[data-testid="member-name"], [data-testid="self-name"], [data-testid="chat-author"]')]
      .filter((e) => e.getClientRects().length && (e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > innerWidth
        || (() => { const r = document.createRange(); r.selectNodeContents(e); return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size; })() > e.textContent.split(/[\s-]+/).length))
      .map((e) => e.textContent);
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth,
      placeholder: Math.ceil(ctx.measureText(input.placeholder).width),
      room: Math.floor(input.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)), cut: names };
  })()`);
  assert.ok(m.scrollWidth <= m.innerWidth, `expected the page no wider than the screen, got scrollWidth ${m.scrollWidth} > ${m.innerWidth}`);
  assert.ok(m.placeholder <= m.room, `expected the placeholder (${m.placeholder} px) to fit the field (${m.room} px)`);
  assert.deepEqual(m.cut, [], 'names cut or past the screen');
  await page.eval(`document.querySelector('[data-testid="chat"]').scrollIntoView(); true`);
  await page.shot('guest-320-chat', { scroll: false });
  await page.shot('guest-320');
  await page.shot('guest-320-dark', { dark: true });
  page.assertNoErrors();
  await page.close();
  await long.close();
});

/// With a shared library of 50 songs (one playing), the chat input shows on the first screen.
test('with 50 songs shared, the chat input is on the first screen at 390×844', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pl-guest-media-'));
  cleanup.add('media dir', () => rmSync(dir, { recursive: true, force: true }));
  const wav = clickTrackWav({ seconds: 2 });
  for (let i = 1; i <= 50; i++) writeFileSync(join(dir, `Song ${String(i).padStart(2, '0')}.wav`), wav);
  const music = await ownHost('Loud', { media: dir });
  const page = await phone('Ana', { on: music });
  await page.waitFor(`document.querySelector('[data-testid="library-count"]').textContent === '50'`, '50 songs in the library');
  music.command('play ' + await page.eval('[...window.__partyline.player.library.keys()][0]'));
  await page.waitFor(`document.querySelector('[data-testid="np-title"]').textContent.startsWith('Song')`, 'a song playing');
  const box = await page.eval(`(() => { window.scrollTo(0, 0); const r = document.querySelector('[data-testid="chat-input"]').getBoundingClientRect();
    return { top: Math.round(r.top), bottom: Math.round(r.bottom), h: innerHeight }; })()`);
  assert.ok(box.top >= 0 && box.bottom <= box.h, `expected the chat input within the first screen (0–${box.h}), got ${box.top}–${box.bottom}`);
  await page.shot('guest-music');
  page.assertNoErrors();
  await page.close();
});

/// A rename reaches the others; a lookalike, a taken name and an invisible character are told in words.
test('a guest renames; lookalike, taken and invisible names are told in words', async () => {
  const party = await ownHost('Names');
  const sara = await WsMember.join(party, { name: 'Sara' });
  cleanup.add('sara', () => sara.close());
  const ana = await phone('Ana', { on: party });
  const ben = await phone('Ben', { on: party });
  const anaId = await ana.selfId();
  const nameAtBen = () => ben.eval(`(document.querySelector('[data-member-id="${anaId}"] [data-testid="member-name"]') || {}).textContent`);
  const rename = async (name) => {
    await ana.click('rename-open');
    await ana.type('rename-input', name);
    await ana.click('rename-save');
  };
  const result = (re, what) => ana.waitFor(`(() => { const r = document.querySelector('[data-testid="rename-result"]');
    return !r.hidden && ${re}.test(r.textContent) && r.textContent; })()`, what).catch(async (e) => {
    throw new Error(e.message + '; it says: ' + JSON.stringify(await ana.text('rename-result')));
  });

  // The first time from her own row in the list (a tap on her own name), then from the card.
  await ana.clickSelector('[data-testid="member"][data-self] [data-testid="member-name"]');
  await ana.waitFor(ana.visible('rename-form'), 'the rename form opened from her own row');
  await ana.type('rename-input', 'Ana B.');
  await ana.click('rename-save');
  await ben.waitFor(`(document.querySelector('[data-member-id="${anaId}"] [data-testid="member-name"]') || {}).textContent === 'Ana B.'`, 'Ben sees "Ana B."');
  await result(/Everyone now sees you as “Ana B\.”/, 'Ana told her new name');
  assert.equal(await ana.text('self-name'), 'Ana B.', 'Ana\'s card');
  assert.equal(await ana.eval(ana.visible('rename-form')), false, 'the form closed');

  await rename('Ѕara'); // a Cyrillic S: looks like Sara's
  const lookalike = await result(/looks like the name of someone already here/, 'the lookalike told');
  assert.match(lookalike, /everyone sees you as “Ѕara \(2\)”/, 'how the party shows her');
  assert.equal(await waitUntil(async () => ((await nameAtBen()) === 'Ѕara (2)' ? 'Ѕara (2)' : null), 'Ben sees the marked name'), 'Ѕara (2)', 'at Ben');
  await ana.eval(`document.querySelector('[data-testid="self"]').scrollIntoView(); true`);
  await ana.shot('guest-rename-lookalike', { scroll: false });

  await ana.click('rename-cancel');
  await rename('Sara');
  await result(/Someone here is already called “Sara”, so everyone sees you as “Sara \(2\)”/, 'the taken name told');

  await ana.click('rename-cancel');
  await rename('Be\u200Bn'); // a zero-width space: refused by the host
  await result(/a character in it that nobody can see \(U\+200B\)/, 'the invisible character told');
  assert.equal(await ana.text('self-name'), 'Sara (2)', 'Ana keeps the name she had');
  assert.equal(await ana.eval('window.__partyline.client.device.name'), 'Sara', 'the client keeps the name the host took');
  assert.equal(await nameAtBen(), 'Sara (2)', 'at Ben, unchanged');
  assert.equal(await ana.connectionState(), 'connected', 'Ana still connected');
  await ana.eval(`document.querySelector('[data-testid="self"]').scrollIntoView(); true`);
  await ana.shot('guest-rename-invisible', { scroll: false });
  ana.assertNoErrors();
  ben.assertNoErrors();
  await ana.close();
  await ben.close();
});

/// A name with a character nobody can see, refused at the join, brings back the join screen saying why.
test('a join with an invisible character in the name is told in words on the join screen', async () => {
  const page = await browser.newPage();
  await joinFromPage(page, host.info.joinUrl, 'Sa\u200Bra');
  await page.waitScreen('screen-join', 5000);
  const error = await page.waitFor(`(() => { const e = document.querySelector('[data-testid="join-error"]'); return !e.hidden && e.textContent; })()`, 'the join error');
  assert.equal(error, 'That name has a character in it that nobody can see (U+200B). Type it again without it.', 'what the guest reads');
  await page.type('name-input', 'Sara J.');
  await page.click('join-button');
  await page.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, 'joined with a plain name');
  page.assertNoErrors();
  await page.close();
});

/// Each line shows its time; "New messages" marks what came while hidden, and what a reload brings.
test('chat times, and "New messages" after the page was hidden and after a reload', async () => {
  const party = await ownHost('Chatty');
  const sara = await WsMember.join(party, { name: 'Cleo' });
  cleanup.add('cleo', () => sara.close());
  sara.chat('before Ana came');
  await sara.waitFor((m) => m.type === 'chat' && m.text === 'before Ana came', 'the first line echoed');
  const page = await phone('Ana', { on: party });
  await page.waitFor(`document.querySelectorAll('[data-testid="chat-message"]').length === 1`, 'the history');
  const says = async (text) => {
    sara.chat(text);
    await page.waitFor(`[...document.querySelectorAll('[data-testid="chat-text"]')].some((e) => e.textContent === ${JSON.stringify(text)})`, 'Ana has ' + text);
  };
  await says('one');
  assert.deepEqual(await chatShown(page), ['before Ana came', 'one'], 'a first join and a line while watching: nothing new');
  // Each line's time: the line's own timestamp, in the phone's clock, short.
  const times = await page.eval(`[...document.querySelectorAll('[data-testid="chat-message"] [data-testid="chat-time"]')].map((t) =>
    [t.textContent, new Date(t.dateTime).toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' })])`);
  assert.equal(times.length, 2, 'a time on each line');
  for (const [shown, want] of times) assert.equal(shown, want, 'a line\'s time');
  const echoed = sara.messages.find((m) => m.type === 'chat' && m.text === 'one');
  assert.equal(Date.parse(await page.eval(`document.querySelectorAll('[data-testid="chat-time"]')[1].dateTime`)), echoed.timestamp, 'the time is the host\'s timestamp of the line');

  await setHidden(page, true);
  await says('two');
  await says('three');
  await setHidden(page, false);
  await says('four');
  assert.deepEqual(await chatShown(page), ['before Ana came', 'one', 'NEW', 'two', 'three', 'four'], 'after the page was hidden');
  await page.shot('guest-new-messages', { scroll: false });

  await setHidden(page, true);
  const later = ['five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen'];
  for (const t of later) await says(t); // more than the chat's height: the mark must be brought into sight
  await page.eval('window.__old = true');
  await page.send('Page.reload', {}); // still hidden when it goes: "five" was never seen
  await page.waitFor(`!window.__old && document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, 'back after the reload');
  const after = await waitUntil(async () => {
    const c = await chatShown(page);
    return c.includes('fourteen') && c.includes('NEW') ? c : null;
  }, 'the chat after the reload, with its mark', 8000).catch(async (e) => {
    throw new Error(e.message + '; shown: ' + JSON.stringify(await chatShown(page)));
  });
  assert.deepEqual(after, ['before Ana came', 'one', 'two', 'three', 'four', 'NEW', ...later], 'after the reload');
  const sight = await page.eval(`(() => { const l = document.querySelector('[data-testid="chat-list"]').getBoundingClientRect();
    const d = document.querySelector('[data-testid="chat-new"]').getBoundingClientRect();
    return { list: [Math.round(l.top), Math.round(l.bottom)], mark: [Math.round(d.top), Math.round(d.bottom)] }; })()`);
  assert.ok(sight.mark[0] >= sight.list[0] && sight.mark[1] <= sight.list[1], `expected the mark within the chat's view ${sight.list.join('–')}, got ${sight.mark.join('–')}`);
  await page.eval(`document.querySelector('[data-testid="chat"]').scrollIntoView(); true`);
  await page.shot('guest-new-messages-reload', { scroll: false });
  await page.shot('guest-new-messages-reload-dark', { scroll: false, dark: true });
  page.assertNoErrors();
  await page.close();
});

/** Every shown text holding Arabic or Hebrew whose element takes no direction of its own (neither
 *  dir="auto"/"rtl" nor `unicode-bidi: plaintext` on it, or on an ancestor it begins), as
 *  [element's test id or tag, the text]: such a line is laid out left to right. */
const RTL_UNDIRECTED = `(() => {
  const RTL = /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]/, out = [];
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) {
    const t = n.data.trim(), e = n.parentElement;
    if (!RTL.test(t) || [...t].length < 2 || !e.getClientRects().length) continue; // one letter (an avatar) has no order
    let ok = false;
    for (let a = e; a && a !== document.body && a.textContent.trim().startsWith(t.slice(0, 1)); a = a.parentElement) {
      const d = a.getAttribute('dir');
      if (d === 'auto' || d === 'rtl' || getComputedStyle(a).unicodeBidi === 'plaintext') { ok = true; break; }
    }
    if (!ok) out.push([e.closest('[data-testid]') ? e.closest('[data-testid]').dataset.testid : e.tagName, t]);
  }
  return out;
})()`;

/// Arabic and Hebrew (a name, a chat line, a presence note) read right to left in the English page.
test('Arabic and Hebrew names and lines are laid out right to left', async () => {
  const party = await ownHost('Bidi');
  const noa = await WsMember.join(party, { name: 'נועה' });
  cleanup.add('noa', () => noa.close());
  const line = 'مرحبا بالجميع!';
  const page = await phone('Ana', { on: party });
  noa.send({ type: 'presence', status: 'away', text: 'חוזרת עוד מעט' });
  noa.chat(line);
  await page.waitFor(`[...document.querySelectorAll('[data-testid="chat-text"]')].some((e) => e.textContent === ${JSON.stringify(line)})
    && [...document.querySelectorAll('[data-testid="member-presence"]')].some((e) => !e.hidden && e.textContent.includes('חוזרת'))`, 'the line and the note');
  assert.deepEqual(await page.eval(RTL_UNDIRECTED), [], 'Arabic or Hebrew text shown with no direction of its own');
  // As laid out: the "!" that ends the Arabic line is at its left end, not after it on the right.
  const ends = await page.eval(`(() => {
    const t = [...document.querySelectorAll('[data-testid="chat-text"]')].find((e) => e.textContent === ${JSON.stringify(line)}).firstChild;
    const at = (i) => { const r = document.createRange(); r.setStart(t, i); r.setEnd(t, i + 1); return r.getBoundingClientRect(); };
    return { first: at(0).left, bang: at(t.data.length - 1).right };
  })()`);
  assert.ok(ends.bang <= ends.first + 1, `expected the line's "!" left of its first letter (right to left), got ${JSON.stringify(ends)}`);
  await page.shot('guest-rtl');
  page.assertNoErrors();
  await page.close();
});

/// A phone that cannot play the file says "Can't play" and why; no sync figure, no ±.
test('a phone that cannot play says so on its sync badge', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pl-guest-broken-'));
  cleanup.add('broken dir', () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'Broken.mp3'), Buffer.alloc(64 * 1024, 0x5a)); // named a song, holds no sound
  const music = await ownHost('Broken', { media: dir });
  requireEnvironment();
  const chrome = await Browser.launch({ autoplay: true });
  cleanup.add('autoplay chromium', () => chrome.close());
  const page = await phone('Ana', { on: music, chrome });
  await page.waitFor(`document.querySelector('[data-testid="library-count"]').textContent === '1'`, 'the library');
  music.command('play ' + await page.eval('[...window.__partyline.player.library.keys()][0]'));
  const badge = await page.waitFor(`(() => { const b = document.querySelector('[data-testid="sync-badge"]');
    return !b.hidden && b.dataset.kind === 'error' && { text: b.textContent, ms: b.dataset.errorMs || null }; })()`, 'the badge says it cannot play', 10000);
  // Chromium's element says MEDIA_ERR_SRC_NOT_SUPPORTED (4) for bytes it cannot read as sound.
  assert.equal(badge.text, "Can't play: this phone can't open this kind of file", 'the badge');
  assert.doesNotMatch(badge.text, /±|\d+ ms/, 'a sync figure on a phone that cannot play');
  assert.equal(badge.ms, null, 'no sync error kept on the badge');
  await new Promise((r) => setTimeout(r, 1500)); // the correction loop ticks 5 times a second: it must not overwrite it
  assert.equal(await page.text('sync-badge'), badge.text, 'the badge a moment later');
  await page.shot('guest-cannot-play');
  page.assertNoErrors();
  await page.close();
});
