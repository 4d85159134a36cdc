// The desktop chat card's DOM-free parts: the lines it keeps (bounded, oldest dropped first), an
// edit and a deletion changing a line in place, rooms shown once there are several, and the
// words a refused deletion shows.
//   node --test ui/desktop/chat.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { ChatLog, SHOWN_LINES, deleteError } from './chat.js';

const line = (n, room = 'general') => ({ id: 'c-' + n, room, from: 'm-1', name: 'Sara', text: 'line ' + n });

test('the card keeps the newest lines, in the order they were said', () => {
  const log = new ChatLog(3);
  assert.deepEqual(log.add(line(1)), []);
  log.add(line(2));
  log.add(line(3));
  assert.deepEqual(log.add(line(4)), ['c-1'], 'the oldest goes first');
  assert.deepEqual(Array.from(log.lines.keys()), ['c-2', 'c-3', 'c-4']);
  assert.equal(log.get('c-1'), null);
  assert.ok(SHOWN_LINES >= 100 && SHOWN_LINES <= 1000, `a few hundred, not ${SHOWN_LINES}`);
});

test('an edit changes the words and marks the line; a line not shown is left alone', () => {
  const log = new ChatLog();
  log.add(line(1));
  assert.equal(log.edit('c-1', 'line one'), true);
  assert.deepEqual(log.get('c-1'), { ...line(1), text: 'line one', edited: true, deleted: false });
  assert.equal(log.edit('c-9', 'nothing'), false, 'said before the page opened');
  assert.equal(log.lines.size, 1, 'an unknown edit adds nothing');
});

test('a deletion keeps the line in place without its words, and cannot be edited back', () => {
  const log = new ChatLog();
  log.add(line(1));
  log.add(line(2));
  assert.equal(log.remove('c-1'), true);
  assert.deepEqual(log.get('c-1'), { ...line(1), text: '', edited: false, deleted: true });
  assert.deepEqual(Array.from(log.lines.keys()), ['c-1', 'c-2'], 'still in its place');
  assert.equal(log.edit('c-1', 'back again'), false);
  assert.equal(log.get('c-1').text, '');
  assert.equal(log.remove('c-9'), false);
});

test('rooms are shown once lines come from more than one', () => {
  const log = new ChatLog();
  log.add(line(1));
  assert.equal(log.manyRooms(), false);
  log.add(line(2, 'games'));
  assert.equal(log.manyRooms(), true);
  log.clear();
  assert.equal(log.manyRooms(), false);
  assert.equal(log.lines.size, 0);
});

test('a refused deletion says why', () => {
  assert.equal(deleteError({ code: 'no_such_line', message: 'no chat line c-3' }),
    "Couldn't delete that message: the party no longer keeps it.");
  assert.equal(deleteError({ code: 'not_hosting', message: 'Not hosting a party right now' }),
    "Couldn't delete that message: Not hosting a party right now.");
});
