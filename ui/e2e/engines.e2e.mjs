// Rule protected: the phone page works in the three engines phones run — Chromium (Android),
// WebKit (every iPhone browser; here WebKitGTK's MiniBrowser through WebKitWebDriver) and Gecko
// (Firefox; here Firefox ESR through geckodriver) — not only in the Chromium the other browser
// tests drive. In each engine, against a real host on 127.0.0.1 (mDNS off), with real key and
// pointer input through W3C WebDriver: join by the QR link, see the party, chat both ways, play
// in sync with the group, be kicked with the host's words, come back, and see the party close.
// Screenshots: tests/output/phone/engine-<engine>-*.png.
//
//   cargo build -p partyline-cli
//   node --experimental-websocket --test ui/e2e/engines.e2e.mjs
//
// Every engine is required (scripts/test installs Firefox ESR, geckodriver and
// webkit2gtk-driver): a missing one fails with what is missing, never a skip.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeClickTrack } from '../e2e-sync/wav.mjs';
import { Cleanup, Host, WsMember, assertServesCurrentUi, requireEnvironment, sleep, waitUntil } from './harness.mjs';
import { ENGINE_NAMES, Engine } from './webdriver.mjs';

requireEnvironment();
const cleanup = new Cleanup();
after(() => cleanup.run());

const media = mkdtempSync(join(tmpdir(), 'pl-engines-media-'));
writeClickTrack(join(media, 'Click track.wav'), { seconds: 30 });
cleanup.add('media', () => rmSync(media, { recursive: true, force: true }));


const quantile = (values, p) => {
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

for (const name of ENGINE_NAMES) {
  test(`${name}: join, party, chat both ways, SyncPlay, kicked, back, closed`, async (t) => {
    const host = await Host.start({ name: 'Porch', media });
    cleanup.add(`host (${name})`, () => host.stop());
    await assertServesCurrentUi(host.httpBase);
    const engine = await Engine.start(name);
    cleanup.add(`${name} driver`, () => engine.stop());
    const sara = await WsMember.join(host, { name: 'Sara' });
    cleanup.add(`Sara (${name})`, () => sara.close());
    const page = await engine.newPage();
    let me;

    await t.test('join from the QR link: type a name, tap Join, see yourself and Sara', async () => {
      await page.goto(host.info.joinUrl);
      await page.waitScreen('screen-join', 15000);
      await page.type('name-input', 'Iris');
      await page.click('join-button');
      await page.waitScreen('screen-party', 10000);
      await page.waitFor(`document.querySelector('[data-testid="connection-state"]')?.dataset.state === 'connected'`, 'connected', 10000);
      me = await page.waitFor(`(document.querySelector('[data-testid="member"][data-self]') || {}).dataset?.memberId`, 'own member row');
      const names = await page.waitFor(`(() => { const n = [...document.querySelectorAll('[data-testid="member-name"]')].map((e) => e.textContent);
        return n.some((x) => x.includes('Sara')) && n.some((x) => x.includes('Iris')) && n; })()`, 'Iris and Sara in the list');
      console.log(`# ${name}: ${page.capabilities.browserName} ${page.capabilities.browserVersion}; members shown: ${JSON.stringify(names)}`);
      const vp = await page.eval('({ w: innerWidth, h: innerHeight, sw: document.documentElement.scrollWidth })');
      assert.ok(vp.sw <= vp.w, `${name}: no sideways scrolling at ${vp.w}×${vp.h}: scrollWidth ${vp.sw}`);
      await page.shot(`engine-${name}-party`);
    });

    await t.test('chat both ways', async () => {
      const line = `hello from ${name}`;
      await page.type('chat-input', line);
      await page.click('chat-send');
      const got = await sara.waitFor((m) => m.type === 'chat' && m.text === line, `Sara hears "${line}"`, 8000);
      assert.equal(got.from, me, `${name}: the line comes from Iris (${me}), got ${got.from}`);
      sara.send({ type: 'chat', text: `hi ${name}, Sara here` });
      await page.waitFor(`[...document.querySelectorAll('[data-testid="chat-text"]')].some((e) => e.textContent === 'hi ${name}, Sara here')`, 'Sara\'s line on the page');
      await page.shot(`engine-${name}-chat`, { scroll: false });
    });

    await t.test('SyncPlay: the host plays a song; the page plays it, in time with the group', async () => {
      const ids = await host.libraryIds();
      assert.ok(ids['Click track'], `the library lists the click track, got ${JSON.stringify(ids)}`);
      // A tap first, as a guest's would be (some engines play sound only after one).
      await page.eval(`document.querySelector('[data-testid="enable-sound"]') && !document.querySelector('[data-testid="enable-sound"]').hidden`)
        .then((shown) => (shown ? page.click('enable-sound') : null));
      const from = host.events.length;
      host.command('play ' + ids['Click track']);
      await host.waitEvent((e) => e.event === 'sync_play' && e.state === 'playing', 'group playing', 20000, from);
      await page.waitFor(`window.__partyline.player.status === 'playing'`, `${name} playing`, 15000)
        .catch(async (e) => {
          const st = await page.eval(`({ status: window.__partyline.player.status, err: (document.querySelector('[data-testid="np-media"]').error || {}).code,
            notice: (document.querySelector('[data-testid="np-notice"]') || {}).textContent })`).catch(() => null);
          throw new Error(`${e.message}; page: ${JSON.stringify(st)}`);
        });
      const advance = await page.eval(`(async () => { const m = document.querySelector('[data-testid="np-media"]'); const a = m.currentTime; await new Promise((r) => setTimeout(r, 1000)); return m.currentTime - a; })()`);
      assert.ok(Math.abs(advance - 1) < 0.1, `${name}: the media clock advances in real time (${advance} s in 1 s)`);
      // In sync by the page's own reports to the host: three in a row within 10 ms.
      const three = () => host.events.filter((e) => e.event === 'playback_progress' && e.memberId === me && e.state === 'playing' && e.errorMs != null)
        .slice(-3).map((e) => e.errorMs);
      await host.waitEvent(() => { const r = three(); return r.length === 3 && r.every((x) => Math.abs(x) < 10); },
        `${name} reporting |error| < 10 ms three times in a row`, 20000)
        .catch((e) => { throw new Error(`${e.message}; last reports ${JSON.stringify(three())}`); });
      // Then settled by its own measure (inside 5 ms for 1 s: on two loaded cores a correction
      // takes longer), and checked against the true clock: the page's clock vs the system
      // clock (the host's) first.
      let inside = 0;
      await waitUntil(async () => {
        const e = await page.eval('window.__partyline.player.error');
        inside = Number.isFinite(e) && Math.abs(e) < 5 ? inside + 1 : 0;
        return inside >= 5;
      }, `${name}: the page's own error inside 5 ms for 1 s`, 15000, 200);
      const bias = await page.eval(`(() => { let s = 0, n = 0; const end = performance.now() + 200;
        while (performance.now() < end) { s += Date.now() + 0.5 - (performance.timeOrigin + performance.now()); n++; } return s / n; })()`);
      // Read at the instant the element's clock ticks over: Firefox's headless clock moves in steps
      // of ~40 ms (Chromium's and WebKit's move smoothly), so a reading at a random moment would be
      // up to a step stale. The page yields through a MessageChannel (no timer clamping) until
      // currentTime changes, and compares the new value with where the group is at that moment.
      const errs = [];
      for (let i = 0; i < 10; i++) {
        const v = await page.eval(`(async () => { const pl = window.__partyline, p = pl.player, s = p.active, m = p.media;
          if (!s || s.state !== 'playing' || m.paused) return null;
          const ch = new MessageChannel(); const tick = () => new Promise((r) => { ch.port1.onmessage = r; ch.port2.postMessage(0); });
          const c0 = m.currentTime; const end = performance.now() + 150;
          while (m.currentTime === c0 && performance.now() < end) await tick();
          const c1 = m.currentTime;
          const dt = (pl.now() + ${bias}) * 1000 + p.outputDelay * 1000 - s.serverTime;
          const err = c1 * 1000 - (s.position + (dt > 0 ? dt / 1000 * (s.rate || 1) : 0));
          while (m.currentTime === c1 && performance.now() < end + 150) await tick();
          return { err, step: (m.currentTime - c1) * 1000 }; })()`);
        if (v != null) errs.push(v);
        await sleep(200);
      }
      const abs = errs.map((v) => Math.abs(v.err));
      const step = quantile(errs.map((v) => v.step), 0.5);
      console.log(`# ${name}: reported ${JSON.stringify(three())} ms; true error at the clock's ticks over ${errs.length} readings: `
        + `${JSON.stringify(errs.map((v) => Math.round(v.err * 10) / 10))} ms, |p50| ${quantile(abs, 0.5).toFixed(2)} ms; the media clock moves in steps of ${step.toFixed(1)} ms`);
      // Sync is as fine as the clock a page can read: 10 ms, or one step of a coarser clock and 10 ms.
      const bound = 10 + (step > 10 ? step : 0);
      assert.ok(errs.length === 10 && quantile(abs, 0.5) < bound, `${name}: true playback error p50 < ${bound.toFixed(1)} ms, got ${JSON.stringify(abs.map((x) => Math.round(x * 10) / 10))}`);
      await page.shot(`engine-${name}-syncplay`);
      host.command('stop');
    });

    await t.test('kicked with the host\'s words; "Join again" brings the guest back', async () => {
      const from = host.events.length;
      host.command(`kick ${me} Time for bed`);
      await page.waitScreen('screen-kicked');
      assert.equal(await page.text('ending-reason'), 'The host said: “Time for bed”', `${name}: the kick's reason`);
      await host.waitEvent((e) => e.event === 'member_left' && e.member.id === me && e.reason === 'kicked', 'member_left kicked', 5000, from);
      await page.shot(`engine-${name}-kicked`);
      await page.click('rejoin-button');
      await page.waitScreen('screen-join');
      await page.click('join-button'); // the name is remembered
      await page.waitScreen('screen-party', 10000);
      me = await page.waitFor(`(document.querySelector('[data-testid="member"][data-self]') || {}).dataset?.memberId`, 'own member row again');
    });

    await t.test('closed: the host ends the party → the closed screen', async () => {
      host.command('close');
      await page.waitScreen('screen-closed', 10000);
      await page.shot(`engine-${name}-closed`);
      await page.assertNoErrors();
      const { code } = await host.exit;
      assert.equal(code, 0, `${name}: host exit code after close`);
    });

    await page.close();
    await engine.stop();
    await host.stop();
  });
}
