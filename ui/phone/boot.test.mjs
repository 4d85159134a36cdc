// Rule protected: the page's first script (boot.js, a classic script the host's build writes into
// the page) does what the modules would, before they arrive, and agrees with them. Run here in a
// VM with a fake document, storage and WebSocket:
// - with no resume credentials it draws the join screen from the facts in the page (the name; the
//   room-code field only without a join key; the last name used), holds a tap on Join until
//   connection.js takes it, and asks for /api/info at once;
// - on a reload with credentials for this party it opens the socket at once, at the URL the
//   PartylineClient would open (live.js's socket URL with client.js's resumeUrl), and records what
//   the socket hears for the client to take over; with a nonce it asks for the same resume over
//   HTTP first and hands the client that answer before the socket's own frames;
// - credentials for another party, or a page without facts, open nothing.
// Its storage keys are store.js's.
import test from 'node:test';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { eq, ok } from '../shared/fakes.mjs';
import { resumeUrl } from '../shared/client.js';
import { KEYS } from './store.js';

const source = readFileSync(new URL('./boot.js', import.meta.url), 'utf8');
const FACTS = { sessionId: 'k7m2qx', name: 'Rooftop', open: false, locked: false, maxMembers: 50, protocolVersions: ['partyline/1'] };

function element(id) {
  const listeners = {};
  return {
    id, hidden: id !== 'screen-loading' && id !== 'join-form', textContent: '', value: '', disabled: false, dataset: {},
    addEventListener(type, f) { (listeners[type] = listeners[type] || []).push(f); },
    removeEventListener(type, f) { listeners[type] = (listeners[type] || []).filter((g) => g !== f); },
    fire(type) { const e = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } }; for (const f of listeners[type] || []) f(e); return e; },
  };
}

function run({ facts = FACTS, session = {}, local = {}, hash = '', crypto = null, answer = null } = {}) {
  const els = new Map();
  const byId = (id) => {
    if (id === 'party-facts') return facts ? { textContent: JSON.stringify(facts) } : null;
    if (!els.has(id)) els.set(id, element(id));
    return els.get(id);
  };
  const sockets = [];
  const fetched = [];
  const storage = (data) => ({ getItem: (k) => (k in data ? data[k] : null) });
  const window = {
    sessionStorage: storage(session),
    localStorage: storage(local),
    crypto: crypto || undefined,
  };
  // `answer(url)`: what GET /api/resume answers ({ status, text }, or a promise of it).
  const fetchAnswer = (url) => (url.startsWith('/api/resume') && answer ? Promise.resolve(answer(url)).then((a) => ({ status: a.status, text: () => Promise.resolve(a.text) })) : Promise.resolve({}));
  const context = vm.createContext({
    window, URLSearchParams, JSON,
    document: { getElementById: byId, body: { dataset: {} } },
    location: { protocol: 'http:', host: '192.168.1.20:7878', hash },
    fetch: (url) => { fetched.push(url); return fetchAnswer(url); },
    setTimeout: () => 0,
    Uint8Array,
    WebSocket: function (url) { this.url = url; this.readyState = 0; this.sent = []; this.send = (t) => this.sent.push(t); sockets.push(this); },
  });
  vm.runInContext(source, context);
  window.partylineBoot.draw(); // the page's one-line script after the join screen's elements
  return { boot: window.partylineBoot, els: byId, sockets, fetched, body: context.document.body };
}

test('no credentials: the join screen at once, from the facts; a tap is held until taken', () => {
  const { boot, els, sockets, fetched, body } = run({ hash: '#k=KEY1', local: { [KEYS.name]: 'Dana' } });
  eq(boot.facts, FACTS, 'the facts, read from the page');
  eq(fetched, ['/api/info'], 'the head count asked for at once');
  eq(sockets.length, 0, 'no socket before a join');
  eq(els('join-title').textContent, 'Rooftop', 'the party’s name');
  eq([els('screen-loading').hidden, els('screen-join').hidden, body.dataset.screen], [true, false, 'screen-join'], 'the join screen shown');
  eq(els('code-field').hidden, true, 'a join key in the link: no room code asked');
  eq(els('name-input').value, 'Dana', 'the last name used');
  const e = els('join-form').fire('submit');
  ok(e.defaultPrevented, 'the tap does not submit the form');
  eq([boot.tapped, els('join-button').disabled, els('join-button').textContent], [true, true, 'Joining…'], 'held, and said so');
  eq(boot.take(), true, 'connection.js takes the tap');
  eq(els('join-form').fire('submit').defaultPrevented, false, 'after which the modules’ handler alone has the form');
  eq(boot.take, null, 'taken once');
});

test('no key and a party that needs one: the room-code field; a locked party says so', () => {
  const { els } = run({ facts: Object.assign({}, FACTS, { locked: true }) });
  eq(els('code-field').hidden, false, 'the room code asked for');
  eq(els('join-notice').hidden, false, 'the locked notice shown');
  const open = run({ facts: Object.assign({}, FACTS, { open: true }) });
  eq(open.els('code-field').hidden, true, 'an open party needs no code');
});

test('a reload with this party’s credentials: the socket at once, at the URL the client would open', () => {
  const creds = { sessionId: 'k7m2qx', memberId: 'm-3f9a2c1b', resumeSecret: 'f'.repeat(32) };
  const { boot, els, sockets } = run({ session: { [KEYS.key]: 'K E/Y', [KEYS.resume]: JSON.stringify(creds) } });
  eq(sockets.length, 1, 'one socket');
  // live.js's wsUrl, then client.js's resumeUrl from seq 0 (a reloaded page has processed nothing).
  const expected = resumeUrl('ws://192.168.1.20:7878/ws?token=' + encodeURIComponent('K E/Y'), creds, 0);
  eq(sockets[0].url, expected, 'the resume in the URL');
  eq(boot.socket.url, expected, 'recorded with its URL');
  eq(els('screen-join').hidden, true, 'no join screen on the way back in');
  sockets[0].onopen();
  sockets[0].onmessage({ data: '{"type":"resumed"}' });
  sockets[0].onclose({ code: 1006, reason: '' });
  eq(JSON.parse(JSON.stringify(boot.socket.events)), [{ type: 'open' }, { type: 'message', data: '{"type":"resumed"}' }, { type: 'close', code: 1006, reason: '' }], 'what it heard, in order');
  const open = run({ facts: Object.assign({}, FACTS, { open: true }), session: { [KEYS.resume]: JSON.stringify(creds) } });
  eq(open.sockets[0].url, resumeUrl('ws://192.168.1.20:7878/ws', creds, 0), 'an open party: no token');
});

test('a reload asks for its resume over the page’s connection too: its answer first, then the socket’s own', async () => {
  const creds = { sessionId: 'k7m2qx', memberId: 'm-3f9a2c1b', resumeSecret: 'f'.repeat(32) };
  const crypto = { getRandomValues: (bytes) => bytes.fill(171) };
  let release;
  const answered = new Promise((r) => (release = r));
  const { boot, sockets, fetched } = run({
    session: { [KEYS.key]: 'KEY', [KEYS.resume]: JSON.stringify(creds) },
    crypto,
    answer: () => answered,
  });
  const base = resumeUrl('ws://192.168.1.20:7878/ws?token=KEY', creds, 0);
  const nonce = 'ab'.repeat(16);
  eq(sockets[0].url, base + '&attach=' + nonce, 'the socket carries the nonce');
  eq(boot.socket.url, base, 'recorded with the URL the client would open (it takes the socket over)');
  eq(fetched, ['/api/resume' + base.slice(base.indexOf('?')) + '&attach=' + nonce, '/api/info'], 'the resume first, over the page’s connection, then the head count');
  // The socket is faster here: what it hears waits for the answer.
  sockets[0].readyState = 1;
  sockets[0].onopen();
  sockets[0].onmessage({ data: '{"type":"chat","seq":7}' });
  eq(boot.socket.events.length, 0, 'nothing before the answer');
  release({ status: 200, text: '{"type":"resumed","seq":5}\n{"type":"welcome","seq":6}\n' });
  await new Promise((r) => setImmediate(r));
  eq(JSON.parse(JSON.stringify(boot.socket.events)), [
    { type: 'open' },
    { type: 'message', data: '{"type":"resumed","seq":5}' },
    { type: 'message', data: '{"type":"welcome","seq":6}' },
    { type: 'message', data: '{"type":"chat","seq":7}' },
  ], 'one open, the answer, then the socket’s frames, in order');

  // Sent before the socket is open: it waits for it. 409 (the socket came first): the socket alone.
  const late = run({ session: { [KEYS.key]: 'KEY', [KEYS.resume]: JSON.stringify(creds) }, crypto, answer: () => ({ status: 409, text: '' }) });
  late.boot.socket.ws.send('{"type":"heartbeat"}');
  eq(late.sockets[0].sent.length, 0, 'not sent into a socket still opening');
  await new Promise((r) => setImmediate(r));
  late.sockets[0].readyState = 1;
  late.sockets[0].onopen();
  late.sockets[0].onmessage({ data: '{"type":"resumed"}' });
  eq(JSON.parse(JSON.stringify(late.sockets[0].sent)), ['{"type":"heartbeat"}'], 'sent once it opened');
  eq(JSON.parse(JSON.stringify(late.boot.socket.events)), [{ type: 'open' }, { type: 'message', data: '{"type":"resumed"}' }], 'the socket’s own resume');
});

test('credentials of another party, no access, or no facts: no early socket', () => {
  const other = { sessionId: 'old', memberId: 'm-1', resumeSecret: 'a'.repeat(32) };
  eq(run({ session: { [KEYS.key]: 'K', [KEYS.resume]: JSON.stringify(other) } }).sockets.length, 0, 'another party');
  const mine = { sessionId: 'k7m2qx', memberId: 'm-1', resumeSecret: 'a'.repeat(32) };
  eq(run({ session: { [KEYS.resume]: JSON.stringify(mine) } }).sockets.length, 0, 'no key for a party that needs one');
  const bare = run({ facts: null, session: { [KEYS.key]: 'K', [KEYS.resume]: JSON.stringify(mine) } });
  eq([bare.sockets.length, bare.fetched.length, bare.boot.facts], [0, 0, null], 'no facts: nothing started');
});
