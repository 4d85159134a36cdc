// Rule protected: every way a guest can be turned away or sent home is reached for real against the
// host and ends on its own screen, saying why, without the page retrying on its own: kicked (with
// the host's words), party closed, party full, wrong join key. And the way in without a QR code
// works: with no key in the link the join screen asks for the room code, and the host's code lets
// the guest in.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  Cleanup, Host, WsMember, joinFromPage, sleep, startHostAndBrowser, within,
} from './harness.mjs';

const cleanup = new Cleanup();
let host; // the party most tests use; `close` ends it in the last test
let browser;

before(async () => {
  ({ host, browser } = await startHostAndBrowser(cleanup, { name: 'Garden' }));
});
after(() => cleanup.run());

const connected = `document.querySelector('[data-testid="connection-state"]')?.dataset.state === 'connected'`;

async function joined(page, name) {
  await page.waitScreen('screen-party');
  await page.waitFor(connected, `${name} connected`);
  return page.waitFor(`(document.querySelector('[data-testid="member"][data-self]') || {}).dataset?.memberId`, `${name}'s own id`);
}

/** No new member_joined for `ms`: the page did not come back on its own. */
async function assertStaysOut(h, from, ms, what) {
  await sleep(ms);
  const rejoins = h.events.slice(from).filter((e) => e.event === 'member_joined');
  assert.deepEqual(rejoins, [], `member_joined events after ${what} (the page must not rejoin on its own)`);
}

test('kicked: the host kicks the guest with a reason → screen-kicked shows the reason', async () => {
  const page = await browser.newPage();
  await joinFromPage(page, host.info.joinUrl, 'Kim');
  const me = await joined(page, 'Kim');
  const mark = host.events.length;
  host.command(`kick ${me} Too loud, sorry!`);
  await page.waitScreen('screen-kicked');
  const left = await host.waitEvent((e) => e.event === 'member_left' && e.member.id === me, `member_left ${me}`, 3000, mark);
  assert.equal(left.reason, 'kicked', 'member_left reason on the host');
  assert.equal(await page.text('ending-reason'), 'The host said: “Too loud, sorry!”', 'ending-reason');
  assert.equal(await page.eval(page.visible('ending-reason')), true, 'ending-reason visible');
  assert.equal(await page.text('ending-title'), 'You were removed from the party', 'ending-title');
  assert.equal(await page.eval(page.visible('rejoin-button')), true, '"Join again" button visible');
  await page.shot('kicked');
  await assertStaysOut(host, mark, 1200, 'the kick');
  page.assertNoErrors();
});

test('banned: the host bans the guest; "Join again" is refused → screen-banned, and the page stays out', async () => {
  const page = await browser.newPage();
  await joinFromPage(page, host.info.joinUrl, 'Bo');
  const me = await joined(page, 'Bo');
  // The host's own report of this join can come after the page shows it: wait for it, so that
  // only a join after the ban counts below.
  await host.waitEvent((e) => e.event === 'member_joined' && e.id === me, 'Bo’s join reported', 3000);
  const mark = host.events.length;
  host.command(`ban ${me} Spamming the chat`);
  await page.waitScreen('screen-kicked');
  await host.waitEvent((e) => e.event === 'banned' && e.name === 'Bo', 'banned Bo', 3000, mark);
  await page.click('rejoin-button');
  await page.waitScreen('screen-join');
  await page.click('join-button'); // the same device, its name remembered
  await page.waitScreen('screen-banned');
  assert.equal(await page.text('ending-title'), "You can't rejoin this party", 'ending-title');
  assert.equal(await page.text('ending-hint'), 'Only the host can let this device back in.', 'ending-hint');
  await page.shot('banned');
  await assertStaysOut(host, mark, 1200, 'the ban');
  page.assertNoErrors();
});

test('wrong key: /#k=wrong → screen-unauthorized', async () => {
  const page = await browser.newPage();
  await joinFromPage(page, `${host.httpBase}/#k=wrong`, 'Wen');
  await page.waitScreen('screen-unauthorized');
  assert.equal(await page.text('ending-title'), "That link or code didn't work", 'ending-title');
  assert.equal(await page.eval(page.visible('code-button')), true, '"Enter room code" button visible');
  assert.equal(await page.eval(page.visible('ending-reason')), false, 'no ending-reason for a wrong key');
  await page.shot('unauthorized');
  // The way out: the button leads to the code field.
  await page.click('code-button');
  await page.waitScreen('screen-join');
  assert.equal(await page.eval(page.visible('code-input')), true, 'code-input after "Enter room code"');
  page.assertNoErrors();
});

let codeGuest; // joined with the room code; the `close` test ends its party
test('room code: / without a key asks for the code; the host\'s code lets the guest in', async () => {
  const page = await browser.newPage();
  await page.goto(host.httpBase + '/');
  await page.waitScreen('screen-join');
  assert.equal(await page.eval(page.visible('code-input')), true, 'expected the join screen to ask for the room code');
  await page.type('name-input', 'Cody');
  await page.type('code-input', 'zz9z');
  assert.equal(await page.eval(`document.querySelector('[data-testid="code-input"]').value`), 'ZZ9Z', 'code upper-cased as typed');
  await page.click('join-button');
  await page.waitFor(`document.querySelector('[data-testid="join-error"]').textContent.includes("isn't right")`, 'wrong code rejected');
  await page.waitScreen('screen-join');
  await page.shot('join-code');
  const mark = host.events.length;
  await page.type('code-input', host.info.roomCode.toLowerCase());
  await page.click('join-button');
  const me = await joined(page, 'Cody');
  const ev = await host.waitEvent((e) => e.event === 'member_joined' && e.id === me, `member_joined ${me}`, 3000, mark);
  assert.equal(ev.name, 'Cody', 'name the host saw');
  page.assertNoErrors();
  codeGuest = page;
});

test('full: --max-members 1, another member is in → screen-full', async () => {
  const small = await Host.start({ name: 'Tiny', maxMembers: 1 });
  cleanup.add('small host', () => small.stop());
  const sara = await WsMember.join(small, { name: 'Sara' });
  cleanup.add('ws member', () => sara.close());
  assert.equal(sara.reply.type, 'welcome', 'the first member is welcomed');
  const page = await browser.newPage();
  await joinFromPage(page, small.info.joinUrl, 'Fay');
  await page.waitScreen('screen-full');
  assert.equal(await page.text('ending-title'), 'The party is full', 'ending-title');
  assert.match(await page.text('ending-message'), /Every place is taken: 1 of 1 guest\.$/, 'ending-message gives the numbers');
  assert.equal(await page.eval(page.visible('retry-button')), true, '"Try again" button visible');
  await page.shot('full');
  assert.deepEqual(small.events.filter((e) => e.event === 'member_joined').map((e) => e.name), ['Sara'], 'members the small host admitted');
  page.assertNoErrors();
});

test('closed: the host types `close` → screen-closed, host exits 0', async () => {
  assert.ok(codeGuest, 'needs the guest from the room-code test');
  const page = codeGuest;
  await page.waitFor(connected, 'the room-code guest still connected');
  host.command('close');
  await page.waitScreen('screen-closed');
  assert.equal(await page.text('ending-title'), 'The party is over', 'ending-title');
  assert.equal(await page.eval(page.visible('rejoin-button')), true, '"Look for a new party" button visible');
  await page.shot('closed');
  const exit = await within(5000, 'the host to exit after close', host.exit);
  assert.deepEqual(exit, { code: 0, signal: null }, 'host exit after `close`');
  page.assertNoErrors();
});
