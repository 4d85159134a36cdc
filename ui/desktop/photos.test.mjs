// The desktop Photos card's DOM-free parts: each photo shown once (the host event and the host's
// list may both bring it), the newest first, at most SHOWN_PHOTOS, only paths on the party's
// own host; and the address the web view loads it from (the app's photo: scheme).
//   node --test ui/desktop/photos.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { PhotoWall, SHOWN_PHOTOS, photoSrc } from './photos.js';

const photo = (n, extra = {}) => ({ id: 'u-' + n, url: '/media/guests/u-' + n + '.png', name: n + '.png', from: 'm-1', fromName: 'Sara', timestamp: n, ...extra });

/** Once per id, newest first, the oldest dropped past the limit. */
test('the wall keeps each photo once, newest first, within its limit', () => {
  const wall = new PhotoWall(2);
  assert.equal(wall.add(photo(1)), true);
  assert.equal(wall.add(photo(1)), false, 'the same photo again');
  wall.add(photo(2));
  wall.add(photo(3));
  assert.deepEqual(wall.newestFirst().map((p) => p.id), ['u-3', 'u-2']);
  assert.ok(SHOWN_PHOTOS >= 20 && SHOWN_PHOTOS <= 200, `a party's worth, not ${SHOWN_PHOTOS}`);
});

/** A url that is not a path on this host (another origin, a script URL) is never shown. */
test('only paths on the party host', () => {
  const wall = new PhotoWall();
  for (const url of ['https://elsewhere.example/a.png', '//elsewhere/a.png', 'javascript:alert(1)', '']) {
    assert.equal(wall.add(photo(1, { url })), false, url);
  }
  assert.equal(wall.photos.size, 0);
});

/** The web view loads a photo from the app's photo: scheme by its id (http://photo.localhost on Windows). */
test('photoSrc: the app scheme, by id', () => {
  assert.equal(photoSrc(photo(7), 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15'), 'photo://localhost/u-7');
  assert.equal(photoSrc(photo(7), 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/120'), 'http://photo.localhost/u-7');
  assert.equal(photoSrc({ id: 'u 1/..' }, ''), 'photo://localhost/u%201%2F..', 'the id is one path segment');
});
