// Rule protected: a guest's upload is checked before it leaves the phone and told in plain words
// after. X-Checksum carries the file's real sha256 where the browser can compute it (and is left
// out where it cannot: a phone on plain http has no SubtleCrypto), a file over the host's limit or
// an upload the host does not take is refused before a byte is sent, progress and cancel work,
// and every refusal of the host reads as what happened.
import test from 'node:test';
import { createHash, webcrypto } from 'node:crypto';
import { eq, ok } from './fakes.mjs';
import { UPLOAD_PATH, checksumOf, fmtBytes, outcomeText, refuseBeforeSending, startUpload, uploadPolicy } from './upload.js';

const nodeSha = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** A fake XMLHttpRequest: records what the page sends; the test answers for the host. */
function fakeXhr() {
  const made = [];
  class X {
    constructor() {
      this.headers = {};
      this.upload = {};
      this.aborted = false;
      made.push(this);
    }
    open(method, url) {
      this.method = method;
      this.url = url;
    }
    setRequestHeader(k, v) {
      this.headers[k] = v;
    }
    send(body) {
      this.body = body;
    }
    abort() {
      this.aborted = true;
      if (this.onabort) this.onabort();
    }
    answer(status, body) {
      this.status = status;
      this.responseText = JSON.stringify(body);
      this.onload();
    }
  }
  return { X, made };
}

const waitFor = async (probe, what) => {
  for (let i = 0; i < 200; i++) {
    const v = probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error('timed out waiting for ' + what);
};

/** checksumOf through SubtleCrypto is "sha256:" and node:crypto's hex digest. */
test('checksumOf: sha256 as the host spells it', async () => {
  for (const text of ['', 'a song, or a photo']) {
    const bytes = new TextEncoder().encode(text);
    eq(await checksumOf(bytes.buffer, webcrypto.subtle), 'sha256:' + nodeSha(bytes), JSON.stringify(text));
  }
});

/** /api/info's uploads decide the buttons and the limit; a missing block means no uploads. */
test('uploadPolicy and the checks before sending', () => {
  eq(uploadPolicy({}), { allowed: false, maxFileBytes: null }, 'no uploads block');
  eq(uploadPolicy({ uploads: { allowed: true, max_file_bytes: 52428800 } }), { allowed: true, maxFileBytes: 52428800 }, 'allowed');
  const policy = { allowed: true, maxFileBytes: 1024 * 1024 };
  eq(refuseBeforeSending({ size: 1024 * 1024 }, policy), null, 'exactly at the limit');
  eq(refuseBeforeSending({ size: 3 * 1024 * 1024 }, policy), 'That file is 3 MB: the host takes files up to 1 MB.', 'over');
  eq(refuseBeforeSending({ size: 0 }, policy), 'That file is empty.', 'empty');
  eq(refuseBeforeSending({ size: 10 }, { allowed: false, maxFileBytes: null }), "The host isn't taking songs or photos.", 'off');
  eq([fmtBytes(1), fmtBytes(840 * 1024), fmtBytes(12.5 * 1024 * 1024), fmtBytes(50 * 1024 * 1024)], ['1 KB', '840 KB', '13 MB', '50 MB'], 'sizes');
});

/** The request: the route, the device and name in the query, the key and checksum as headers, the file as the body. */
test('startUpload: hashes, sends, reports progress, resolves with the answer', async () => {
  const { X, made } = fakeXhr();
  const file = new File([new TextEncoder().encode('RIFF....WAVE')], 'My song (live).wav');
  const phases = [];
  const up = startUpload(file, { deviceId: 'web-1', key: 'k 1', XMLHttpRequest: X, subtle: webcrypto.subtle, onPhase: (p, f) => phases.push([p, f]) });
  const xhr = await waitFor(() => made[0] && made[0].body && made[0], 'the request');
  eq([xhr.method, xhr.url], ['POST', UPLOAD_PATH + '?device=web-1&name=My%20song%20(live).wav'], 'method and URL');
  eq(xhr.headers, { Authorization: 'Bearer k 1', 'X-Checksum': 'sha256:' + nodeSha(Buffer.from('RIFF....WAVE')) }, 'headers');
  ok(xhr.body === file, 'the file itself is the body');
  xhr.upload.onprogress({ lengthComputable: true, loaded: 6, total: 12 });
  xhr.answer(201, { id: 'u-1', kind: 'song', name: 'My song (live).wav', size: 12 });
  const r = await up.done;
  eq([r.status, r.body.id, r.cancelled], [201, 'u-1', false], 'result');
  eq(phases, [['checking', 0], ['sending', 0], ['sending', 0.5]], 'phases');
  eq(outcomeText(r), '“My song (live).wav” is in the library.', 'words');
});

/** No key on an open host: no Authorization; no SubtleCrypto (plain http): no checksum, no hashing. */
test('startUpload: an open host, a page with no SubtleCrypto', async () => {
  const { X, made } = fakeXhr();
  const phases = [];
  startUpload(new File(['x'], 'p.png'), { deviceId: 'd', key: null, XMLHttpRequest: X, subtle: null, onPhase: (p) => phases.push(p) });
  const xhr = await waitFor(() => made[0] && made[0].body && made[0], 'the request');
  eq(Object.keys(xhr.headers), [], 'headers');
  eq(phases, ['sending'], 'phases');
});

/** Cancel aborts the request and resolves at once as cancelled; a drop resolves as status 0. */
test('startUpload: cancel and a dropped connection', async () => {
  const { X, made } = fakeXhr();
  const up = startUpload(new File(['abc'], 'a.ogg'), { deviceId: 'd', key: 'k', XMLHttpRequest: X, subtle: null });
  const xhr = await waitFor(() => made[0] && made[0].body && made[0], 'the request');
  up.cancel();
  const r = await up.done;
  eq([r.status, r.cancelled, xhr.aborted], [0, true, true], 'cancelled');

  const up2 = startUpload(new File(['abc'], 'a.ogg'), { deviceId: 'd', key: 'k', XMLHttpRequest: X, subtle: null });
  const xhr2 = await waitFor(() => made[1] && made[1].body && made[1], 'the second request');
  xhr2.onerror();
  const r2 = await up2.done;
  eq([r2.status, r2.cancelled], [0, false], 'dropped');
  eq(outcomeText(r2), 'The upload stopped before it finished: nothing was added. Try again.', 'words');

  // Cancelled while still hashing: nothing is ever sent.
  const up3 = startUpload(new File(['abc'], 'a.ogg'), { deviceId: 'd', key: 'k', XMLHttpRequest: X, subtle: webcrypto.subtle });
  up3.cancel();
  eq((await up3.done).cancelled, true, 'cancelled before sending');
  await new Promise((r) => setTimeout(r, 10));
  eq(made.length, 2, 'requests made');
});

/** Each refusal reads as what happened: the host's own words as a sentence, the limit when they do not give it. */
test('outcomeText: the host refusals in plain words', () => {
  eq(outcomeText({ status: 201, body: { kind: 'photo' } }), 'Photo shared with everyone.', 'photo');
  eq(outcomeText({ status: 400, body: { error: 'That is not a song or a photo (MP3, WAV, PNG)' } }),
    'That is not a song or a photo (MP3, WAV, PNG).', "the host's words, as a sentence");
  eq(outcomeText({ status: 400, body: { error: `The file arrived damaged (checksum sha256:${'a'.repeat(64)}, expected sha256:${'b'.repeat(64)}); try again` } }),
    'The file arrived damaged; try again.', 'checksums left out of the words');
  eq(outcomeText({ status: 413, body: { error: 'That file is too big (the limit is 50 MB)', limit_bytes: 52428800 } }),
    'That file is too big (the limit is 50 MB).', '413 whose words give the limit');
  eq(outcomeText({ status: 413, body: { error: 'The host has no room for more songs or photos', limit_bytes: 3145728 } }),
    'The host has no room for more songs or photos: it keeps up to 3 MB.', '413 with the limit added');
  eq(outcomeText({ status: 502, body: null }), 'The host could not take it (error 502).', 'no words');
});
