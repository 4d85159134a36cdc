// What a host reads is in a host's words: no "os error 98", no "mDNS", no "LAN address"; a port
// that is taken says so and what to do.
//   node --test ui/desktop/words.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { browseWords, plain, startError, warningWords } from './words.js';

/** The system's error numbers go; the sentence starts with a capital. */
test('plain drops the system error numbers', () => {
  assert.equal(plain('cannot read /x: No such file or directory (os error 2)'), 'Cannot read /x: No such file or directory');
  assert.equal(plain(''), '');
});

/** A taken port is said as such, never as "os error 98". */
test('a taken port', () => {
  const said = startError({ code: 'bind_failed', message: 'cannot bind 127.0.0.1:48321: Address already in use (os error 98)' });
  assert.equal(said, 'That port is taken — another program (or another Partyline) is using it. Close it, then start hosting again.');
  assert.doesNotMatch(startError({ code: 'bind_failed', message: 'cannot bind: Permission denied (os error 13)' }), /os error/);
});

/** The host's warnings, without mDNS or LAN. */
test('warnings in words', () => {
  const none = warningWords('no LAN address found (no interface is up); guests on other devices cannot reach this host');
  assert.match(none, /^This computer is not on a network guests can reach/);
  const adv = warningWords('not advertised on the LAN (mDNS daemon failed: os error 98); the QR code and URL still work');
  assert.match(adv, /^Not visible on this network/);
  for (const t of [none, adv]) assert.doesNotMatch(t, /mDNS|LAN|os error/);
});

/** Browse's error (discovery's "mDNS: …") in words, never the daemon's. */
test('browse errors in words', () => {
  const said = browseWords('mDNS: Failed to create a socket: Address family not supported (os error 97)');
  assert.equal(said, 'This computer cannot look for parties on its network right now (the network may not allow it).');
  assert.doesNotMatch(said, /mDNS|os error|socket/);
  assert.equal(browseWords('cannot spawn the browse thread: out of memory'), 'Cannot spawn the browse thread: out of memory.');
  assert.equal(browseWords(null), '');
});
