// The party screen's decisions, DOM-free: the "Most guests" field says what is wrong in the
// host's words ("-5", "2.5", "abc": a whole number from 1 to 10000, never "not 0") and refuses
// a number below the guests already here; the QR card says Locked or Full on itself (never
// "open to join" when full); 30 guests fit the wall or end in "+N more", never push the code away.
//   node --test ui/desktop/screen.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { initialsOf, isFullscreenKey, newestGuests, parseCapacity, partyLine, partyState, typedAddress, wallCut } from './screen.js';

const WHOLE = 'Most guests: a whole number from 1 to 10000.';

/** Anything but a plain whole number in range gets the one message of its own. */
test('capacity: what is not a whole number from 1 to 10000 is named as such', () => {
  for (const typed of ['-5', '2.5', 'abc', '', '   ', '0', '10001', '1e3', '+5', '0x10', '99999999999999999999']) {
    assert.deepEqual(parseCapacity(typed), { ok: false, message: WHOLE }, `typed ${JSON.stringify(typed)}`);
  }
  assert.deepEqual(parseCapacity(' 12 '), { ok: true, value: 12 });
  assert.deepEqual(parseCapacity('10000'), { ok: true, value: 10000 });
  assert.deepEqual(parseCapacity('1'), { ok: true, value: 1 });
  assert.equal(parseCapacity('5', { max: 4 }).message, 'Most guests: a whole number from 1 to 4.');
});

/** A capacity below the guests already here is refused, saying why and what does the job. */
test('capacity: fewer places than guests here is refused', () => {
  const r = parseCapacity('10', { guests: 15 });
  assert.equal(r.ok, false);
  assert.equal(r.message, '15 guests are here already: the most guests cannot be fewer. To let nobody new in, lock the party.');
  assert.match(parseCapacity('0', { guests: 1 }).message, /whole number/, 'out of range says so first');
  assert.equal(parseCapacity('1', { guests: 2 }).message.startsWith('2 guests are here'), true);
  assert.deepEqual(parseCapacity('15', { guests: 15 }), { ok: true, value: 15 }, 'exactly full is allowed');
});

/** Locked wins (the host's choice); full is as many guests as places; open otherwise. */
test('the QR card: locked, full or open', () => {
  assert.deepEqual(partyState({ locked: false, maxMembers: 30 }, 29), { kind: 'open', text: '' });
  assert.deepEqual(partyState({ locked: false, maxMembers: 30 }, 30), { kind: 'full', text: 'Full — 30 of 30' });
  assert.deepEqual(partyState({ locked: true, maxMembers: 30 }, 30), { kind: 'locked', text: 'Locked — nobody new can join' });
});

/** The line under the name never says "open to join" for a full party. */
test('the party line follows the card', () => {
  const s = { locked: false, maxMembers: 3 };
  assert.equal(partyLine(s, 1, '10.0.0.2:5000'), '1 guest of 3 · open to join · 10.0.0.2:5000');
  const full = partyLine(s, 3, '10.0.0.2:5000');
  assert.equal(full, '3 guests of 3 · full: nobody new can join until someone leaves · 10.0.0.2:5000');
  assert.doesNotMatch(full, /open to join/);
  assert.match(partyLine({ locked: true, maxMembers: 3 }, 0, ''), /^0 guests of 3 · locked: nobody new can join$/);
});

/** All guests when they fit; else the last place is "+N more" and the counts add up. */
test('the guest wall: all, or as many as fit and +N more', () => {
  assert.deepEqual(wallCut(0, 20), { shown: 0, more: 0 });
  assert.deepEqual(wallCut(20, 20), { shown: 20, more: 0 });
  assert.deepEqual(wallCut(30, 24), { shown: 23, more: 7 });
  assert.deepEqual(wallCut(30, 1), { shown: 0, more: 30 });
  assert.deepEqual(wallCut(30, 0), { shown: 0, more: 30 });
  for (let fit = 1; fit <= 40; fit++) {
    const { shown, more } = wallCut(30, fit);
    assert.equal(shown + more, 30, `fit ${fit}`);
    assert.ok(shown + (more ? 1 : 0) <= fit, `fit ${fit}: ${shown} tiles and ${more ? 'a' : 'no'} "+N" tile`);
  }
});

/** Newest first, without the host. */
test('guests, newest first', () => {
  const ms = [
    { id: 'h', isHost: true, joinedAt: 5 },
    { id: 'a', isHost: false, joinedAt: 1 },
    { id: 'b', isHost: false, joinedAt: 3 },
    { id: 'c', isHost: false, joinedAt: 2 },
  ];
  assert.deepEqual(newestGuests(ms).map((m) => m.id), ['b', 'c', 'a']);
});

/** Initials: first and last words, code points whole, "?" for nothing. */
test('initials', () => {
  assert.equal(initialsOf('Sara Lee'), 'SL');
  assert.equal(initialsOf('  omar  '), 'O');
  assert.equal(initialsOf('Mary Ann de Vries'), 'MV');
  assert.equal(initialsOf('🎉 Party'), '🎉P');
  assert.equal(initialsOf(''), '?');
});

/** The typed address is the join URL without its key. */
test('the address to type', () => {
  assert.equal(typedAddress('http://192.168.1.20:48321/#k=abc'), 'http://192.168.1.20:48321');
  assert.equal(typedAddress('not a url'), '');
});

/** F toggles full screen outside text fields; F11 anywhere; not with a modifier. */
test('the full-screen key', () => {
  const key = (k, tag, mods = {}) => Object.assign({ key: k, target: { tagName: tag } }, mods);
  assert.equal(isFullscreenKey(key('f', 'BODY')), true);
  assert.equal(isFullscreenKey(key('F', 'BUTTON')), true);
  assert.equal(isFullscreenKey(key('f', 'INPUT')), false, 'typing an f in a field');
  assert.equal(isFullscreenKey(key('f', 'TEXTAREA')), false);
  assert.equal(isFullscreenKey(key('F11', 'INPUT')), true);
  assert.equal(isFullscreenKey(key('f', 'BODY', { ctrlKey: true })), false, 'Ctrl+F is find');
  assert.equal(isFullscreenKey(key('g', 'BODY')), false);
});
