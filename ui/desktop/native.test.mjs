// The desktop's native parts, their words: the close question counts the guests it ends the
// party for, the restored notice says how many can come back (and is not shown for none), and
// New party warns what it ends.
//   node --test ui/desktop/native.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { closeQuestion, newPartyQuestion, restoredText } from './native.js';

/** The close question names the number of guests, singular for one. */
test('the close question counts the guests', () => {
  assert.equal(closeQuestion(3), 'End the party for 3 guests?');
  assert.equal(closeQuestion(1), 'End the party for 1 guest?');
});

/** "Party restored — N guests can come back", and nothing to say when nobody can. */
test('the restored notice says how many can come back', () => {
  assert.match(restoredText(2), /^Party restored — 2 guests can come back/);
  assert.match(restoredText(1), /^Party restored — 1 guest can come back/);
  assert.equal(restoredText(0), null);
  assert.equal(restoredText(undefined), null);
});

/** New party says the party ends for good, and who must scan again. */
test('new party warns what it ends', () => {
  assert.match(newPartyQuestion(4), /ends for good: 4 guests must scan the new QR code/);
  assert.match(newPartyQuestion(0), /ends for good/);
});
