// Rule protected: the party's photos reach the client's state as the host announces them: the
// welcome's `photos` (a join, or a snapshot after a resume), then each `photo.shared`, once per id
// (a resume replays), oldest first out past the limit, and only paths on this host (a photo's url
// becomes an <img src>: never another origin, never a javascript: URL).
import test from 'node:test';
import { MESSAGE_HANDLERS } from './client.js';
import { eq, ok, setup, serveJoin } from './fakes.mjs';

const photo = (id, extra = {}) => Object.assign({ id, url: '/media/photos/' + id + '.jpg', name: id + '.jpg', from: 'm-2', fromName: 'Sara', timestamp: 5 }, extra);

/** The welcome's photos, then photo.shared: once per id, oldest first, only paths on this host. */
test('photos: from the welcome and photo.shared, once per id, this host only', () => {
  ok(MESSAGE_HANDLERS.has('photo.shared'), 'photo.shared is in the dispatch table');
  const { client, last } = setup();
  const events = [];
  client.on('photo', (p) => events.push(p.id));
  client.connect();
  const ws = last();
  ws.open();
  ws.receive({ seq: 1, type: 'welcome', timestamp: 1, clientId: 'm-1', sessionInfo: { id: 'k7m2qx' }, resumeSecret: 'a'.repeat(32),
    photos: [photo('u-1'), photo('u-bad', { url: 'https://elsewhere.example/x.jpg' }), photo('u-2', { url: '//elsewhere/x.jpg' })] });
  eq(client.state.photos.map((p) => p.id), ['u-1'], 'welcome photos (other origins dropped)');
  ws.receive(Object.assign({ seq: 2, type: 'photo.shared' }, photo('u-3')));
  ws.receive(Object.assign({ seq: 3, type: 'photo.shared' }, photo('u-3'))); // the same id again
  ws.receive(Object.assign({ seq: 4, type: 'photo.shared' }, photo('u-4', { url: 'javascript:alert(1)' })));
  eq(client.state.photos.map((p) => [p.id, p.url, p.fromName]), [['u-1', '/media/photos/u-1.jpg', 'Sara'], ['u-3', '/media/photos/u-3.jpg', 'Sara']], 'photos');
  eq(events, ['u-3'], 'photo events');
});

/** More than maxPhotos: the oldest go first. */
test('photos: at most maxPhotos kept, the newest', () => {
  const { client, last } = setup({ options: { maxPhotos: 3 } });
  client.connect();
  let seq = serveJoin(last());
  for (let i = 1; i <= 5; i++) last().receive(Object.assign({ seq: seq++, type: 'photo.shared' }, photo('u-' + i)));
  eq(client.state.photos.map((p) => p.id), ['u-3', 'u-4', 'u-5'], 'kept');
});
