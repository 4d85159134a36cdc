// Rule protected: the phone page is self-contained and embeddable. The host serves exactly six
// files (GET / → index.html, /app.js, /client.js, /style.css, and for SyncPlay /player.js,
// /syncplay.js) from its binary on a LAN with no
// internet, over plain http (not a secure context): so the page references only those paths, loads
// nothing from another origin, uses no API that needs a secure context, keeps the protocol client
// free of the DOM (the desktop app reuses it), carries the data-testid hooks that tests rely on,
// and stays under the 60 KB gzipped budget.
import test from 'node:test';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq, ok } from './fakes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const read = (p) => readFileSync(join(here, '..', 'phone', p), 'utf8');
const html = read('index.html');
const app = read('app.js');
const css = read('style.css');
const client = readFileSync(join(here, 'client.js'), 'utf8');
const player = read('player.js');
const syncplay = readFileSync(join(here, 'syncplay.js'), 'utf8');

test('index.html references exactly /style.css and /app.js; app.js imports /client.js and /player.js', () => {
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).sort();
  eq(refs, ['/app.js', '/style.css'], 'src/href attributes in index.html');
  const importsOf = (text) => [...text.matchAll(/^import [^;]* from '([^']+)';$/gm)].map((m) => m[1]);
  eq(importsOf(app), ['/client.js', '/player.js'], 'imports in app.js');
  eq(importsOf(player), ['/syncplay.js'], 'imports in player.js');
  eq([...client.matchAll(/^import /gm)].length, 0, 'imports in client.js');
  eq([...syncplay.matchAll(/^import /gm)].length, 0, 'imports in syncplay.js');
  eq(/import\(/.test(app + player + client + syncplay), false, 'no dynamic imports');
});

test('nothing is loaded from another origin', () => {
  for (const [name, text] of [['index.html', html], ['app.js', app], ['style.css', css], ['client.js', client], ['player.js', player], ['syncplay.js', syncplay]]) {
    const urls = (text.match(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s'")]*/gi) || []).filter((u) => !u.startsWith('//'));
    eq(urls, [], `absolute URLs in ${name}`);
    eq(/@import|url\(/.test(name === 'style.css' ? text : ''), false, `${name}: CSS imports or url()`);
  }
});

test('no secure-context-only APIs', () => {
  const banned = ['randomUUID', 'crypto.subtle', 'navigator.clipboard', 'serviceWorker', 'navigator.share', 'Notification'];
  for (const [name, text] of [['app.js', app], ['client.js', client], ['player.js', player], ['syncplay.js', syncplay]]) {
    const found = banned.filter((b) => text.includes(b));
    eq(found, [], `secure-context APIs in ${name}`);
  }
});

test('client.js and syncplay.js are DOM-free', () => {
  for (const [name, text] of [['client.js', client], ['syncplay.js', syncplay]]) {
    const found = ['document.', 'window.', 'localStorage', 'sessionStorage', 'location.'].filter((w) => text.includes(w));
    eq(found, [], `DOM/browser globals in ${name}`);
  }
});

test('the data-testid hooks exist', () => {
  const all = html + app;
  const want = ['screen-loading', 'screen-join', 'screen-party', 'name-input', 'code-input', 'join-button', 'join-error',
    'session-name', 'connection-state', 'member-list', 'member', 'member-name', 'status', 'latency', 'host-badge',
    'self-latency', 'chat-list', 'chat-message', 'chat-input', 'chat-send', 'reconnect-banner', 'leave-button',
    'ending-title', 'ending-reason', 'retry-button',
    'notifications', 'notification', 'notification-title', 'notification-dismiss', 'presence-control', 'presence-online',
    'presence-away', 'presence-busy', 'presence-text', 'presence-save', 'member-presence', 'dm-button', 'dm-form', 'dm-to',
    'dm-input', 'dm-send', 'dm-error', 'dm-failed'];
  const missing = want.filter((id) => !all.includes(`'${id}'`) && !all.includes(`"${id}"`));
  eq(missing, [], 'missing data-testid values');
  for (const s of ['kicked', 'closed', 'full', 'unauthorized', 'locked', 'replaced', 'failed', 'left']) {
    ok(app.includes(`['${s}',`), `ending screen screen-${s} defined`);
  }
});

test('under 60 KB gzipped', () => {
  const size = gzipSync(Buffer.from(html + app + css + client + player + syncplay), { level: 9 }).length;
  ok(size < 60 * 1024, `gzipped size ${size} bytes < ${60 * 1024}`);
});
