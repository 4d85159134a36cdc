// Rule protected: nothing a guest sends is lost to a network that dies without a word. The phone's
// Wi-Fi goes silent (a proxy stops passing bytes and closes nothing: the socket still looks open);
// within 5 s the page says it is reconnecting; a line typed 2 s into the outage shows as "Sending…"
// (the input is cleared, the words are not gone); when the network is back the page resumes as the
// same member and the line reaches the other guest and the host exactly once, and is shown once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  Browser, Cleanup, Host, Proxy, WsMember, assertServesCurrentUi, joinFromPage, requireEnvironment, sleep,
} from './harness.mjs';

const cleanup = new Cleanup();
let browser;

before(async () => {
  requireEnvironment();
  browser = await Browser.launch();
  cleanup.add('chromium', () => browser.close());
});
after(() => cleanup.run());

const stateIs = (s) => `document.querySelector('[data-testid="connection-state"]')?.dataset.state === '${s}'`;

test('a line typed into a silent outage is kept, marked, and delivered once when the network is back', async () => {
  const host = await Host.start({ name: 'Rooftop' });
  cleanup.add('host', () => host.stop());
  await assertServesCurrentUi(host.httpBase);
  const proxy = await Proxy.start(host.port);
  cleanup.add('proxy', () => proxy.close());
  const sara = await WsMember.join(host, { name: 'Sara' });
  cleanup.add('sara', () => sara.close());

  const page = await browser.newPage();
  await joinFromPage(page, `${proxy.base}/#k=${host.info.joinKey}`, 'Ana');
  await page.waitFor(stateIs('connected'), 'connected through the proxy');
  const me = await page.selfId();
  sara.chat('anyone here?');
  await page.waitFor(`document.querySelectorAll('[data-testid="chat-message"]').length === 1`, 'a line before the outage');

  proxy.silence();
  const cutAt = Date.now();
  await sleep(2000);
  await page.type('chat-input', 'typed in the outage');
  await page.click('chat-send');
  assert.equal(await page.eval(`document.querySelector('[data-testid="chat-input"]').value`), '', 'the input is cleared');
  await page.waitFor(`!!document.querySelector('[data-testid="chat-pending"]')`, 'the line shown as pending', 1000);
  assert.equal(await page.text('outbox-state'), 'Sending…', 'marked as not yet sent');
  await page.waitFor(stateIs('reconnecting'), 'reconnecting, within 5 s of the outage', 5000 - (Date.now() - cutAt) + 250);
  const noticedMs = Date.now() - cutAt;
  console.log(`outage: the page showed Reconnecting ${noticedMs} ms after its network went silent`);
  assert.ok(noticedMs <= 5250, `expected the page to notice the dead connection within 5 s, took ${noticedMs} ms`);
  await page.eval(`document.querySelector('[data-testid="chat-pending"]').scrollIntoView({ block: 'center' }); true`);
  await page.shot('outage-pending', { scroll: false });
  await sleep(Math.max(0, 9000 - (Date.now() - cutAt)));
  assert.equal(sara.messages.filter((m) => m.type === 'chat' && m.text === 'typed in the outage').length, 0,
    'nothing crossed the silent network');

  proxy.restore();
  await page.waitFor(stateIs('connected'), 'connected again', 12000);
  await sara.waitFor((m) => m.type === 'chat' && m.text === 'typed in the outage', 'the line, after the outage', 5000);
  await page.waitFor(`!document.querySelector('[data-testid="chat-pending"]')`, 'no longer pending', 3000);
  await sleep(500); // a duplicate would come with the resend
  assert.equal(await page.selfId(), me, 'the same member after the outage');
  const atSara = sara.messages.filter((m) => m.type === 'chat' && m.text === 'typed in the outage');
  assert.deepEqual(atSara.map((m) => m.from), [me], 'the other guest got it once, from the same member');
  const atHost = host.events.filter((e) => e.event === 'chat' && e.text === 'typed in the outage');
  assert.equal(atHost.length, 1, 'the host got it once');
  assert.deepEqual(await page.chatTexts(), ['anyone here?', 'typed in the outage'], 'shown once, in order');
  console.log(`outage: 1 line typed in the outage, delivered ${atSara.length}× to the guest, ${atHost.length}× to the host: 0 lost, 0 duplicated`);
  page.assertNoErrors();
});
