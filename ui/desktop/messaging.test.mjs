// The desktop messaging card's DOM-free parts: presence labels, the read tally (distinct members
// per announcement), and the list of the last few announcements.
//   node --test ui/desktop/messaging.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { ReadTally, SHOWN, newestFirst, presenceLabel, readText } from './messaging.js';

test('presence: online shows nothing; away and busy show their words', () => {
  assert.equal(presenceLabel(null), '');
  assert.equal(presenceLabel({ status: 'online', text: null }), '');
  assert.equal(presenceLabel({ status: 'away', text: 'back in 5' }), 'away · back in 5');
  assert.equal(presenceLabel({ status: 'busy', text: null }), 'busy');
});

test('reads count each member once per announcement', () => {
  const t = new ReadTally();
  assert.equal(t.count('n-1'), 0);
  t.add('m-1', 'Sara', ['n-1', 'n-2']);
  t.add('m-1', 'Sara', ['n-1']); // read again: still one
  t.add('m-2', 'Tess', ['n-1']);
  assert.equal(t.count('n-1'), 2);
  assert.equal(t.count('n-2'), 1);
  assert.deepEqual(t.names('n-1'), ['Sara', 'Tess']);
  assert.equal(readText(0), 'Not read yet');
  assert.equal(readText(2), 'Read by 2');
  t.clear();
  assert.equal(t.count('n-1'), 0);
});

test('the card keeps the newest few', () => {
  let list = [];
  for (let i = 1; i <= SHOWN + 2; i++) list = newestFirst(list, { id: 'n-' + i });
  assert.deepEqual(list.map((a) => a.id), ['n-7', 'n-6', 'n-5', 'n-4', 'n-3']);
});
