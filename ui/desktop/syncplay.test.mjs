// The desktop SyncPlay panel's DOM-free parts: how each phone's report is classified and how
// the room is summed up in one line.
//   node --test ui/desktop/syncplay.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { IN_SYNC_MS, STALE_US, classify, coverSrc, errorText, formatError, seekView, summarize } from './syncplay.js';

const NOW = 1_700_000_000_000_000;
const report = (state, errorMs, ageUs = 0) => ({ memberId: 'm', name: 'x', state, errorMs, position: 0, at: NOW - ageUs });

test('reports are classified against the in-sync window and their age', () => {
  assert.equal(classify(report('playing', IN_SYNC_MS), 'playing', NOW), 'inSync');
  assert.equal(classify(report('playing', -IN_SYNC_MS - 0.1), 'playing', NOW), 'behind');
  assert.equal(classify(report('playing', null), 'playing', NOW), 'playing');
  assert.equal(classify(report('buffering', null), 'playing', NOW), 'buffering');
  assert.equal(classify(report('playing', 1, STALE_US + 1), 'playing', NOW), 'stale', 'quiet while the group plays');
  assert.equal(classify(report('paused', 1, STALE_US * 10), 'paused', NOW), 'paused', 'quiet is normal when paused');
});

test('the room in one line', () => {
  const room = [report('playing', 2.2), report('playing', -2.9), report('playing', 0.4), report('buffering', null), report('ready', null)];
  assert.equal(summarize(room, 'playing', NOW), '3 in sync within 3 ms · 1 buffering · 1 ready');
  assert.equal(summarize([report('playing', 40)], 'playing', NOW), '1 catching up');
  assert.equal(summarize([report('playing', 0)], 'playing', NOW), '1 in sync within 1 ms');
  assert.equal(summarize([], 'idle', NOW), '');
});

test('errors are signed: ahead is +, behind is −', () => {
  assert.equal(formatError(2.44), '+2.4 ms');
  assert.equal(formatError(-12.6), '−13 ms');
  assert.equal(formatError(0), '±0.0 ms');
  assert.equal(formatError(null), '—');
});

/** A phone that cannot play, or has not started, reads "—", not perfect sync. */
test('a phone that cannot play shows no error, not "±0.0 ms"', () => {
  assert.equal(errorText('error', 0), '—');
  assert.equal(errorText('buffering', 0), '—');
  assert.equal(errorText('stale', 3), '—');
  assert.equal(errorText('inSync', 0), '±0.0 ms');
  assert.equal(errorText('behind', -12), '−12 ms');
});

/** An item whose tags hold a picture is shown from the app's cover: scheme by its id (the
 * host's /media/.cover/ is not the page's origin); one without has none. */
test('covers come from the app\'s cover: scheme, only for items that have one', () => {
  const linux = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko)';
  assert.equal(coverSrc({ id: 't-729d4290', cover: true }, linux), 'cover://localhost/t-729d4290');
  assert.equal(coverSrc({ id: 't-a b', cover: true }, linux), 'cover://localhost/t-a%20b');
  assert.equal(coverSrc({ id: 't-1', cover: true }, 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/120'), 'http://cover.localhost/t-1');
  assert.equal(coverSrc({ id: 't-1', cover: false }, linux), null, 'no picture in its tags');
  assert.equal(coverSrc({ id: 't-1' }, linux), null);
  assert.equal(coverSrc(null, linux), null, 'a file no longer shared');
});

/** A song whose length is unknown (an MP3 without tags): the slider empty and disabled, never full. */
test('a song of unknown length: the slider is empty, the end unknown, the time counts up', () => {
  const v = seekView(true, 95_000, 0);
  assert.equal(v.value, 0);
  assert.ok(v.value < v.max, 'the slider must not look full');
  assert.equal(v.disabled, true);
  assert.equal(v.unknown, true);
  assert.equal(v.pos, '1:35');
  assert.equal(v.dur, '–:––');
  const known = seekView(true, 95_000, 60_000);
  assert.deepEqual([known.max, known.value, known.disabled, known.pos, known.dur], [60_000, 60_000, false, '1:00', '1:00']);
  assert.deepEqual([seekView(false, 5_000, 60_000).value, seekView(false, 5_000, 60_000).disabled], [0, true]);
});
