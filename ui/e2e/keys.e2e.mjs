// Rule protected: "New key" changes who may come in, not who is in. Two phones are in the party;
// the host makes a new key (`new-key`): neither phone drops or reconnects (the host reports no
// status change for either), they chat on, and a third phone with the old QR code is turned away.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Cleanup, joinFromPage, sleep, startHostAndBrowser } from './harness.mjs';

const cleanup = new Cleanup();
let host;
let browser;

before(async () => {
  ({ host, browser } = await startHostAndBrowser(cleanup, { name: 'Lounge' }));
});
after(() => cleanup.run());

const connected = `document.querySelector('[data-testid="connection-state"]')?.dataset.state === 'connected'`;
const selfId = `(document.querySelector('[data-testid="member"][data-self]') || {}).dataset?.memberId`;

test('a new key keeps both phones in the party and keeps the old QR code out', async () => {
  const ana = await browser.newPage();
  await joinFromPage(ana, host.info.joinUrl, 'Ana');
  await ana.waitFor(connected, 'Ana connected');
  const anaId = await ana.waitFor(selfId, "Ana's id");
  const ben = await browser.newPage();
  await joinFromPage(ben, host.info.joinUrl, 'Ben');
  await ben.waitFor(connected, 'Ben connected');
  const benId = await ben.waitFor(selfId, "Ben's id");

  const mark = host.events.length;
  host.command('new-key');
  await sleep(1500);
  const statusChanges = host.events.slice(mark)
    .filter((e) => e.event === 'member_updated' && e.connectionStatus && e.connectionStatus !== 'connected');
  assert.deepEqual(statusChanges, [], 'no phone dropped or reconnected when the key changed');
  assert.equal(await ana.connectionState(), 'connected', 'Ana still connected');
  assert.equal(await ben.connectionState(), 'connected', 'Ben still connected');

  await ana.type('chat-input', 'new key, same party');
  await ana.click('chat-send');
  await ben.waitFor(`[...document.querySelectorAll('[data-testid="chat-text"]')].some((e) => e.textContent === 'new key, same party')`,
    'Ana\u2019s line on Ben\u2019s phone');
  assert.equal(await ana.selfId(), anaId, 'Ana is the same member');
  assert.equal(await ben.selfId(), benId, 'Ben is the same member');

  const late = await browser.newPage();
  await joinFromPage(late, host.info.joinUrl, 'Late'); // the old QR code
  await late.waitScreen('screen-unauthorized');
  const joined = host.events.slice(mark).filter((e) => e.event === 'member_joined');
  assert.deepEqual(joined, [], 'nobody got in with the old key');
  ana.assertNoErrors();
  ben.assertNoErrors();
});
