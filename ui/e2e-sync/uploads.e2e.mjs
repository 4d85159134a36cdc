// Guests share songs and photos, end to end: the real phone page in headless Chromium against the
// real host on 127.0.0.1 (mDNS off). Rules protected: a song a guest picks in the page's own file
// picker ("Add a song") lands in every phone's library, can be queued from a phone and plays in
// sync on two other phones; a photo shared from one phone shows on another; a file over the
// host's limit is refused by the page before it is sent, an upload corrupted on the way (its
// bytes no longer match the page's X-Checksum) and one past the total the host keeps are refused
// by the host, each with the page's words, and none of them adds anything anywhere.
//
//   cargo build -p partyline-cli
//   node --experimental-websocket --test ui/e2e-sync/uploads.e2e.mjs        (Node 22+: no flag)
//
// Screenshots (390×844): tests/output/phone/uploads-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertServesCurrentUi, Browser, Host, requireEnvironment, sleep, waitUntil, within } from '../e2e/harness.mjs';
import { gradientPng } from './png.mjs';
import { clickTrackWav } from './wav.mjs';

// Run on purpose (scripts/test): a missing piece is a failure with its reason, never a skip.
requireEnvironment();

/** The host's per-file limit here, in MiB: small, so that a too-big test file stays small. */
const MAX_MB = 2;
/** What the host keeps in all, in MiB: the song, the photo and a 1 MiB song fit, a 1.5 MiB one does not. */
const TOTAL_MB = 3;

let host;
let chrome;
let dir;
let files;
const phones = {}; // name → { page, id }

/** Opens the join URL, types a name and taps Join (a real gesture); waits until connected. */
async function joinParty(name) {
  const page = await chrome.newPage();
  await page.goto(host.info.joinUrl);
  await page.waitFor(`!document.querySelector('[data-testid="screen-join"]').hidden`, 'join screen');
  await page.type('name-input', name);
  await page.tap('join-button');
  await page.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, name + ' connected');
  const id = await page.eval('window.__partyline.client.state.selfId');
  phones[name] = { page, id };
  return page;
}

/** The library as a phone shows it: [{ id, title }]. */
const libraryOf = (page) => page.eval(`[...document.querySelectorAll('[data-testid="library-item"]')].map((li) =>
  ({ id: li.dataset.itemId, title: li.querySelector('.np-row-title').textContent }))`);

/** The photos as a phone shows them: [{ id, from, loaded width }]. */
const photosOf = (page) => page.eval(`[...document.querySelectorAll('[data-testid="photo"]')].map((li) =>
  ({ id: li.dataset.photoId, from: li.querySelector('[data-testid="photo-from"]').textContent,
     width: li.querySelector('img').naturalWidth }))`);

/** The host's own library listing (its `library` command): the titles. */
async function hostLibrary() {
  host.stderr = '';
  host.command('library');
  await waitUntil(() => /now:/.test(host.stderr), "the host's library listing", 5000);
  return [...host.stderr.matchAll(/^\s+(t-[0-9a-f]+|[a-z]-[0-9a-z-]+)\s+(.+?) \(/gm)].map((m) => m[2]);
}

/** What the page said about the last upload ('' while nothing). */
const resultOf = (page) => page.eval(`(() => { const r = document.querySelector('[data-testid="upload-result"]'); return r.hidden ? '' : r.textContent; })()`);

/** Waits for the upload result to change from `before` and returns it. */
const nextResult = (page, before, what) => waitUntil(async () => {
  const r = await resultOf(page);
  return r && r !== before && r;
}, what, 15000);

function progressOf(member, pred = () => true) {
  return host.events.filter((e) => e.event === 'playback_progress' && e.memberId === member && pred(e));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pl-uploads-'));
  const media = join(dir, 'media');
  const picked = join(dir, 'picked');
  mkdirSync(media);
  mkdirSync(picked);
  files = {
    song: join(picked, 'Party song.wav'), // 20 s, 1.7 MiB: under the limit
    photo: join(picked, 'Balcony.png'),
    big: join(picked, 'Whole album.wav'), // 30 s, 2.5 MiB: over the 2 MiB limit
    second: join(picked, 'Second song.wav'), // 12 s, 1 MiB: fits the limit and the total left
    third: join(picked, 'Third song.wav'), // 18 s, 1.5 MiB: fits the limit, not the total left
  };
  writeFileSync(files.song, clickTrackWav({ seconds: 20 }));
  writeFileSync(files.photo, gradientPng({ width: 160, height: 120 })); // 40 KB
  writeFileSync(files.big, clickTrackWav({ seconds: 30 }));
  writeFileSync(files.second, clickTrackWav({ seconds: 12 }));
  writeFileSync(files.third, clickTrackWav({ seconds: 18 }));
  host = await Host.start({ media, name: 'Rooftop', extra: ['--upload-max-mb', String(MAX_MB), '--upload-total-mb', String(TOTAL_MB)] });
  await assertServesCurrentUi(host.httpBase);
  chrome = await Browser.launch({ autoplay: true });
});

after(async () => {
  if (chrome) await chrome.close();
  if (host) await host.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** /api/info tells the page the host takes uploads, and its limit. */
test('the host says it takes uploads; the phones show both buttons', async () => {
  const info = await (await fetch(host.httpBase + '/api/info')).json();
  assert.deepEqual(info.uploads && [info.uploads.allowed, info.uploads.max_file_bytes], [true, MAX_MB * 1024 * 1024],
    `/api/info uploads: expected allowed with ${MAX_MB} MiB, got ${JSON.stringify(info.uploads)}`);
  for (const name of ['Ana', 'Ben', 'Cal']) {
    const page = await joinParty(name);
    await page.waitFor(`${page.visible('add-song')} && ${page.visible('share-photo')}`, name + "'s share buttons");
  }
  const accepts = await phones.Ana.page.eval(`[document.querySelector('[data-testid="song-file"]').accept, document.querySelector('[data-testid="photo-file"]').accept]`);
  assert.deepEqual(accepts, ['audio/*', 'image/*'], 'the pickers ask for audio and images');
});

/** A song picked in the page's picker reaches every library, is queued from a phone and plays in sync on two others. */
test('a song from a phone plays in sync on two other phones', async () => {
  const ana = phones.Ana.page;
  await ana.pickFile('add-song', files.song);
  const said = await nextResult(ana, '', "Ana's upload result");
  assert.equal(said, '“Party song.wav” is in the library.', 'what Ana reads');
  await ana.shot('uploads-song-added', { scroll: false });
  let item = null;
  for (const name of ['Ana', 'Ben', 'Cal']) {
    const lib = await waitUntil(async () => {
      const l = await libraryOf(phones[name].page);
      return l.length === 1 && l;
    }, name + "'s library with the song", 8000);
    item = item || lib[0];
    assert.deepEqual(lib, [item], name + "'s library");
  }
  assert.match(item.title, /Party song/, 'the song is titled by its name');
  assert.deepEqual(await hostLibrary(), [item.title], "the host's library");

  host.command('allow queue');
  await ana.waitFor(`document.querySelectorAll('[data-testid="library-queue"]').length === 1`, "Ana's Queue button");
  await ana.eval(`document.querySelector('[data-testid="library-section"]').open = true`);
  await ana.clickSelector(`[data-testid="library-item"][data-item-id="${item.id}"] [data-testid="library-queue"]`);
  for (const name of ['Ben', 'Cal']) {
    await phones[name].page.waitFor(`document.querySelectorAll('[data-testid="queue-entry"]').length === 1`, name + ' sees it queued');
  }
  host.command('play');
  for (const name of ['Ben', 'Cal']) {
    const { page, id } = phones[name];
    await page.waitFor(`window.__partyline.player.status === 'playing'`, name + ' playing', 15000);
    assert.equal(await page.text('np-title'), item.title, name + "'s Now playing");
    // In sync as the SyncPlay tests count it: three reports in a row within 10 ms of the group.
    const lastThree = () => progressOf(id, (e) => e.state === 'playing' && e.errorMs != null).slice(-3).map((e) => e.errorMs);
    await waitUntil(() => {
      const r = lastThree();
      return r.length === 3 && r.every((e) => Math.abs(e) < 10) && r;
    }, `${name} reporting |error| < 10 ms three times in a row`, 20000, 200).catch((e) => {
      throw new Error(e.message + ` (last reports ${JSON.stringify(lastThree())})`);
    });
    console.log(`# ${name}: the guest's song plays in sync, reported errorMs ${JSON.stringify(lastThree())}`);
  }
  await phones.Ben.page.shot('uploads-song-playing', { scroll: false });
  host.command('pause');
});

/** A photo shared from Ana's phone shows, loaded, on Ben's, with who shared it. */
test('a photo from one phone shows on the other', async () => {
  const ana = phones.Ana.page;
  const before = await resultOf(ana);
  await ana.pickFile('share-photo', files.photo);
  assert.equal(await nextResult(ana, before, "Ana's photo result"), 'Photo shared with everyone.', 'what Ana reads');
  const ben = phones.Ben.page;
  const shown = await waitUntil(async () => {
    const p = await photosOf(ben);
    return p.length === 1 && p[0].width > 0 && p;
  }, "the photo loaded on Ben's phone", 8000);
  assert.deepEqual(shown.map((p) => [p.from, p.width]), [['Ana', 160]], "Ben's photo strip (who shared it, the image's width)");
  await ben.eval(`document.querySelector('[data-testid="photos"]').scrollIntoView({ block: 'start' }); true`);
  await ben.shot('uploads-photo-light', { scroll: false });
  await ben.shot('uploads-photo-dark', { dark: true, scroll: false });
  // Each links to the full picture, in a new tab, behind the key.
  const link = await ben.eval(`(() => { const a = document.querySelector('[data-testid="photo-link"]'); return { href: a.href, target: a.target, rel: a.rel }; })()`);
  assert.deepEqual([link.target, link.rel], ['_blank', 'noopener'], 'the link opens a new tab');
  const full = await within(5000, 'GET the photo link', fetch(link.href));
  assert.deepEqual([full.status, full.headers.get('content-type'), (await full.arrayBuffer()).byteLength],
    [200, 'image/png', readFileSync(files.photo).length], 'the link is the photo as shared');
  // A phone that joins now gets it in its welcome.
  const dee = await joinParty('Dee');
  await waitUntil(async () => (await photosOf(dee)).length === 1, "the photo on Dee's phone (joined after)", 8000);
  await dee.close();
});

/** Too big (refused by the page), corrupted on the way and past the host's total (refused by the host): nothing added. */
test('oversize, corrupted and over-the-total uploads are refused and add nothing', async () => {
  const ana = phones.Ana.page;
  const libBefore = await hostLibrary();
  const requests = [];
  // Every upload request the page makes, seen from the page's side (DevTools' Fetch domain), and
  // the second one corrupted on the way: one byte of its body flipped, the page's checksum kept.
  await ana.send('Fetch.enable', { patterns: [{ urlPattern: '*/api/uploads*', requestStage: 'Request' }] });
  let corrupt = false;
  const original = readFileSync(files.second);
  const onPaused = (m) => {
    if (m.sessionId !== ana.sid || m.method !== 'Fetch.requestPaused') return;
    const { requestId, request } = m.params;
    requests.push(request.url);
    const params = { requestId };
    if (corrupt) {
      const bad = Buffer.from(original);
      bad[bad.length - 1000] ^= 0xff;
      params.postData = bad.toString('base64');
    }
    ana.send('Fetch.continueRequest', params).catch(() => {});
  };
  ana.cdp.handlers.add(onPaused);
  try {
    let before = await resultOf(ana);
    await ana.pickFile('add-song', files.big);
    const tooBig = await nextResult(ana, before, 'the too-big refusal');
    assert.equal(tooBig, `That file is 2.5 MB: the host takes files up to ${MAX_MB} MB.`, 'what Ana reads');
    assert.deepEqual(requests, [], 'nothing was sent for the too-big file');
    await ana.shot('uploads-too-big', { scroll: false });

    corrupt = true;
    before = tooBig;
    await ana.pickFile('add-song', files.second);
    const corrupted = await nextResult(ana, before, 'the checksum refusal');
    assert.equal(requests.length, 1, 'the corrupted upload was sent once');
    assert.match(corrupted, /checksum|damaged|corrupt/i, 'what Ana reads names the damage');
    console.log(`# corrupted upload: the page said ${JSON.stringify(corrupted)}`);
    await ana.shot('uploads-corrupted', { scroll: false });

    corrupt = false;
    before = corrupted;
    await ana.pickFile('add-song', files.third);
    const full = await nextResult(ana, before, 'the over-the-total refusal');
    assert.equal(requests.length, 2, 'the over-the-total upload was sent');
    assert.match(full, new RegExp(`${TOTAL_MB} MB`), 'what Ana reads gives the total the host keeps');
    console.log(`# over the total: the page said ${JSON.stringify(full)}`);
  } finally {
    ana.cdp.handlers.delete(onPaused);
    await ana.send('Fetch.disable');
  }
  // Nothing was added: not on the host, not in any phone's library, no new photo.
  await sleep(500); // a library.update would have come by now (it comes in milliseconds on loopback)
  assert.deepEqual(await hostLibrary(), libBefore, "the host's library is unchanged");
  for (const name of ['Ana', 'Ben', 'Cal']) {
    assert.equal((await libraryOf(phones[name].page)).length, 1, name + "'s library still has the one song");
    assert.equal((await photosOf(phones[name].page)).length, 1, name + ' still has the one photo');
  }
  for (const name of ['Ana', 'Ben', 'Cal']) {
    assert.deepEqual(phones[name].page.errors, [], name + ': no page exceptions');
    assert.equal(await phones[name].page.connectionState(), 'connected', name + ' still in the party');
  }
});

/** With uploads off (`--no-uploads`), /api/info says so and the page shows no buttons. */
test('a host that takes no uploads: no buttons', async () => {
  const off = await Host.start({ name: 'Quiet', extra: ['--no-uploads'] });
  try {
    const page = await chrome.newPage();
    await page.goto(off.info.joinUrl);
    await page.waitFor(`!document.querySelector('[data-testid="screen-join"]').hidden`, 'join screen');
    await page.type('name-input', 'Eve');
    await page.tap('join-button');
    await page.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, 'connected');
    assert.equal(await page.eval(page.visible('share')), false, 'the share card is hidden');
    const res = await within(5000, 'POST /api/uploads', fetch(off.httpBase + '/api/uploads?device=x&name=a.wav', {
      method: 'POST', headers: { Authorization: 'Bearer ' + off.info.joinKey }, body: clickTrackWav({ seconds: 1 }) }));
    assert.equal(res.status, 403, 'the host refuses an upload anyway');
    await page.close();
  } finally {
    await off.stop();
  }
});
