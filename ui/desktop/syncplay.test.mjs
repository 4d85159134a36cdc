// The desktop SyncPlay panel's DOM-free parts: how each phone's report is classified and how
// the room is summed up in one line.
//   node --test ui/desktop/syncplay.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { IN_SYNC_MS, STALE_US, classify, formatError, summarize } from './syncplay.js';

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
