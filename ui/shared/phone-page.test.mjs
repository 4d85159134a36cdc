// Rule protected: the phone page is self-contained and embeddable. The host serves every file of
// ui/phone (at /<name>, index.html at /) and ui/shared (at /shared/<name>) from its binary, minus
// Node's .mjs files, on a LAN with no internet, over plain http (not a secure context): so the
// page loads only those files (relative imports that resolve to one of them; the Rust test
// crates/server/src/http/assets.rs checks the same against the embedded table), nothing from
// another origin, uses no API that needs a secure context, keeps the protocol client free of the
// DOM (the desktop app reuses it), carries the data-testid hooks that tests rely on, and stays
// under the 60 KB gzipped budget.
import test from 'node:test';
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq, ok } from './fakes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ui = join(here, '..');

/** Every served file: URL → { file, text }, as crates/server/build.rs lists them. */
const served = new Map();
for (const [folder, prefix] of [['phone', '/'], ['shared', '/shared/']]) {
  for (const name of readdirSync(join(ui, folder)).sort()) {
    if (!/\.(html|js|css|svg)$/.test(name)) continue;
    const url = prefix === '/' && name === 'index.html' ? '/' : prefix + name;
    served.set(url, { file: folder + '/' + name, text: readFileSync(join(ui, folder, name), 'utf8') });
  }
}
const modules = [...served].filter(([url]) => url.endsWith('.js'));
const html = served.get('/').text;
const phoneJs = modules.filter(([url]) => !url.startsWith('/shared/')).map(([, f]) => f.text).join('\n');

/** The specifiers a module imports (`import ... from '...'`, over several lines too). */
const importsOf = (text) => [...text.matchAll(/^import\s[^;]*?from\s+'([^']+)';$|^import\s+'([^']+)';$/gms)].map((m) => m[1] || m[2]);

test('index.html loads /style.css and /app.js, and every import is a served file', () => {
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).sort();
  eq(refs, ['/app.js', '/style.css'], 'src/href attributes in index.html');
  const missing = [];
  for (const [url, { file, text }] of modules) {
    for (const spec of importsOf(text)) {
      ok(spec.startsWith('./') || spec.startsWith('../'), `${file}: relative import ${spec}`);
      const resolved = new URL(spec, 'http://host' + url).pathname;
      if (!served.has(resolved)) missing.push(`${file} imports ${spec} (${resolved})`);
    }
    eq(/import\(/.test(text), false, `${file}: dynamic imports`);
  }
  eq(missing, [], 'imports that are not served');
});

test('every served module is loaded by the page (from /app.js)', () => {
  const reached = new Set(['/app.js']);
  const queue = ['/app.js'];
  while (queue.length) {
    const url = queue.shift();
    for (const spec of importsOf(served.get(url).text)) {
      const next = new URL(spec, 'http://host' + url).pathname;
      if (served.has(next) && !reached.has(next)) {
        reached.add(next);
        queue.push(next);
      }
    }
  }
  eq(modules.map(([url]) => url).filter((url) => !reached.has(url)), [], 'served modules the page never loads');
});

test('nothing is loaded from another origin', () => {
  for (const [, { file, text }] of served) {
    const urls = (text.match(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s'")]*/gi) || []).filter((u) => !u.startsWith('//'));
    eq(urls, [], `absolute URLs in ${file}`);
    eq(/@import|url\(/.test(file.endsWith('.css') ? text : ''), false, `${file}: CSS imports or url()`);
  }
});

test('no secure-context-only APIs', () => {
  const banned = ['randomUUID', 'crypto.subtle', 'navigator.clipboard', 'serviceWorker', 'navigator.share', 'Notification'];
  for (const [, { file, text }] of modules) {
    const found = banned.filter((b) => text.includes(b));
    eq(found, [], `secure-context APIs in ${file}`);
  }
});

test('the protocol client and its shared modules are DOM-free', () => {
  for (const url of ['/shared/client.js', '/shared/syncplay.js', '/shared/wire.js', '/shared/text.js']) {
    const { file, text } = served.get(url) || { file: url, text: '' };
    ok(text.length > 0, `${file} is served`);
    const found = ['document.', 'window.', 'localStorage', 'sessionStorage', 'location.'].filter((w) => text.includes(w));
    eq(found, [], `DOM/browser globals in ${file}`);
  }
});

test('the data-testid hooks exist', () => {
  const all = html + phoneJs;
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
    ok(phoneJs.includes(`['${s}',`), `ending screen screen-${s} defined`);
  }
});

test('under 60 KB gzipped', () => {
  const size = gzipSync(Buffer.from([...served.values()].map((f) => f.text).join('')), { level: 9 }).length;
  ok(size < 60 * 1024, `gzipped size ${size} bytes < ${60 * 1024}`);
});
