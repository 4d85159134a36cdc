// Rule protected: a guest who opens the QR link on a phone (390×844) can join with just a name and
// then sees the party as it is: themself (marked "You") and every other guest in the member list,
// each with a latency in milliseconds (measured by the host and pushed in member_list and every 5 s
// in latency_update), their own latency from their pings, and chat both ways. Runs against the real
// `partyline host` binary serving the page it embeds, in headless Chromium.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  Cleanup, WsMember, startHostAndBrowser, waitUntil,
} from './harness.mjs';

const cleanup = new Cleanup();
let host;
let browser;

before(async () => {
  ({ host, browser } = await startHostAndBrowser(cleanup, { name: 'Rooftop' }));
});
after(() => cleanup.run());

test('join with a name at 390×844; see yourself and another guest, each with a latency', async () => {
  const sara = await WsMember.join(host, { name: 'Sara' });
  cleanup.add('ws member', () => sara.close());
  assert.equal(sara.reply.type, 'welcome', `expected the WebSocket member to be welcomed, got ${JSON.stringify(sara.reply)}`);

  const page = await browser.newPage();
  await page.goto(host.info.joinUrl);
  await page.waitScreen('screen-join');
  const size = await page.eval('[innerWidth, innerHeight]');
  assert.deepEqual(size, [390, 844], `expected a 390×844 viewport, got ${size.join('×')}`);
  assert.equal(await page.eval('location.hash'), '', 'expected the key to be removed from the address bar');
  assert.equal(await page.eval(page.visible('code-input')), false, 'expected no room-code field when the link carries the key');
  assert.equal(await page.text('join-session-name'), 'Rooftop', 'party name on the join screen');
  await page.type('name-input', 'Ana');
  await page.shot('join');

  const joinedFrom = host.events.length;
  await page.click('join-button');
  await page.waitScreen('screen-party');
  await page.waitFor(`document.querySelector('[data-testid="connection-state"]').dataset.state === 'connected'`, 'connection-state connected');
  const joined = await host.waitEvent((e) => e.event === 'member_joined' && e.name === 'Ana', 'member_joined Ana', 5000, joinedFrom);
  const me = await page.waitFor(`(document.querySelector('[data-testid="member"][data-self]') || {}).dataset?.memberId`, 'self marked in the list');
  assert.equal(me, joined.id, `expected the page's own member id to be the host's id for Ana (${joined.id}), got ${me}`);

  // Both guests listed; latency in ms for each (server-measured, so it may take one 5 s round).
  const members = await waitUntil(async () => {
    const list = await page.members();
    const ana = list.find((m) => m.id === me);
    const other = list.find((m) => m.id === sara.id);
    return ana && other && /^\d+ ms$/.test(ana.latency) && /^\d+ ms$/.test(other.latency) ? list : null;
  }, 'both guests listed with a latency in ms', 14000, 200).catch(async (e) => {
    throw new Error(e.message + '; members shown: ' + JSON.stringify(await page.members()));
  });
  const ana = members.find((m) => m.id === me);
  const other = members.find((m) => m.id === sara.id);
  assert.deepEqual([ana.name, ana.self, ana.status], ['Ana', true, 'connected'], 'Ana: [name, self, status]');
  assert.deepEqual([other.name, other.self, other.status], ['Sara', false, 'connected'], 'Sara: [name, self, status]');
  assert.ok(members.some((m) => m.host), `expected the host's own member listed, got ${JSON.stringify(members)}`);
  // The device comes from the User-Agent: the host names headless Chromium's platform ("Linux PC"
  // here), and the page shows what the host says; Sara's Node WebSocket is no browser: none.
  assert.ok(joined.device, `expected the host to name Ana's device, got ${JSON.stringify(joined)}`);
  assert.deepEqual([ana.device, other.device], [joined.device, ''], 'devices shown: [Ana, Sara]');
  assert.equal(await page.eval(`document.querySelector('[data-member-id="${me}"] [data-testid="self-badge"]').hidden`), false, 'expected the "You" badge on Ana');
  const selfLatency = await page.waitFor(`/^\\d+ ms$/.test(document.querySelector('[data-testid="self-latency"]').textContent) && document.querySelector('[data-testid="self-latency"]').textContent`, 'own latency (from pings) in ms', 5000);
  assert.match(selfLatency, /^\d+ ms$/, 'self-latency');
  assert.equal(await page.text('member-count'), `${members.length} people`, 'member count');

  // Chat both ways.
  sara.chat('Welcome, Ana!');
  await page.waitFor(`[...document.querySelectorAll('[data-testid="chat-text"]')].some((e) => e.textContent === 'Welcome, Ana!')`, "Sara's chat shown");
  await page.type('chat-input', 'Hi Sara, this song!');
  await page.click('chat-send');
  const got = await sara.waitFor((m) => m.type === 'chat' && m.text === 'Hi Sara, this song!', "Ana's chat at Sara");
  assert.equal(got.from, me, `expected Ana's chat to come from ${me}, got ${got.from}`);
  await page.waitFor(`document.querySelectorAll('[data-testid="chat-message"].mine').length === 1`, 'own chat echoed once');
  assert.deepEqual(await page.chatTexts(), ['Welcome, Ana!', 'Hi Sara, this song!'], 'chat as shown');
  assert.equal(await page.eval(`document.querySelector('[data-testid="chat-input"]').value`), '', 'chat input cleared after sending');

  await page.shot('party');
  page.assertNoErrors();
});
