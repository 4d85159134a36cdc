// The connection: what boot.js found, /api/info at boot, and the party's modules loaded behind the join screen
// (live.js: the PartylineClient and the party screen; imported later, so that a phone on a slow
// Wi-Fi sees the join screen without waiting for them), and waking the client when the phone
// comes back.
import { fetchJSON } from './api.js';
import { haveAccess, refreshJoin, showJoin } from './join.js';
import { $, page, show } from './page.js';
import { KEYS, readJSON, session } from './store.js';

// ---- the join key: from the fragment (#k=...), then hidden from the address bar ----------------
(function takeKeyFromHash() {
  const hash = new URLSearchParams(location.hash.replace(/^#/, ''));
  const k = hash.get('k');
  if (k) {
    session.set(KEYS.key, k);
    try {
      history.replaceState(history.state, '', location.pathname + location.search);
    } catch (e) {
      /* ignore */
    }
  }
})();

/** The party's modules: fetched once, the first call starts it. */
function live() {
  return import('./live.js');
}

/** Runs `use` on the party's modules, or, when they cannot be fetched, shows "can't reach". */
function withLive(use) {
  return live().then(use, () => failed());
}

function failed() {
  page.client = null;
  show('screen-loading');
  // The ending screen is a party module too: without it, try again shortly.
  live().then((l) => l.showEnding({ kind: 'failed', reason: null }, boot), () => setTimeout(boot, 2000));
}

/** Whether `saved` (the resume credentials) still hold for `info`'s party. */
function canResume(saved, info) {
  return !!(saved && info && saved.sessionId === info.sessionId && saved.memberId && saved.resumeSecret && haveAccess());
}

/** What the page's boot.js found and started (`window.partylineBoot`: the party's facts, its
 * GET /api/info, a reload's socket, a tap on Join), taken by the first boot alone. */
function takeBoot() {
  const found = window.partylineBoot || {};
  window.partylineBoot = null;
  return found;
}

/**
 * The first screen. A reload with the party's credentials goes straight back in, on the socket
 * boot.js opened (or on the facts of the last load, checked against fresh ones when they come:
 * the socket does not wait a round trip for them). Otherwise the join screen, at once from the
 * facts the host wrote into the page (boot.js drew it already; a tap it held is taken now), then
 * again when /api/info adds the head count; the party's modules are fetched behind it.
 */
export async function boot() {
  const pre = takeBoot();
  const saved = readJSON(session, KEYS.resume);
  page.info = pre.facts || page.info || readJSON(session, KEYS.info);
  const early = canResume(saved, page.info);
  let joinShown = false;
  if (early) {
    show('screen-loading');
    withLive((l) => {
      if (!page.client && canResume(readJSON(session, KEYS.resume), page.info)) l.start(saved, pre.socket);
      else if (pre.socket) pre.socket.ws.close();
    });
  } else {
    if (pre.socket) pre.socket.ws.close();
    if (pre.facts) {
      joinShown = true;
      showJoin();
      if (pre.take && pre.take()) $('join-form').requestSubmit(); // tapped before the modules came
      live().catch(() => {});
    } else {
      show('screen-loading');
    }
  }
  let info;
  try {
    const r = await fetchJSON('/api/info', undefined, pre.info || null);
    if (r.status !== 200 || !r.body) throw new Error('bad info');
    info = r.body;
  } catch (e) {
    const c = page.client;
    if (c && (!early || c.state.connection === 'connected')) return; // on its way in, or in: the socket says enough
    if (c) c.destroy();
    page.info = null; // no party known: a pending resume does not start
    failed();
    return;
  }
  page.info = info;
  session.set(KEYS.info, JSON.stringify(info));
  document.title = (info.name || 'Party') + ' · Partyline';
  if (canResume(saved, info)) {
    if (!early) withLive((l) => l.start(saved)); // page reload: straight back in
    return;
  }
  if (early && page.client) page.client.destroy(); // another party now: this one's credentials are void
  if (saved) session.del(KEYS.resume);
  if (joinShown) return refreshJoin(); // with the head count
  showJoin();
  live().catch(() => {});
}

/** Joins (or resumes with `resume`) on the party's modules, fetched first if they are not yet. */
export function start(resume) {
  return withLive((l) => l.start(resume));
}

// ---- staying in: the phone woke up or the network came back -----------------------------------
function wake() {
  if (page.client) page.client.wake();
  else if (document.body.dataset.screen === 'screen-end' && $('screen-end').dataset.ending === 'failed') boot();
}
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') wake();
});
window.addEventListener('online', wake);
window.addEventListener('offline', () => {
  if (page.client) page.client.offline();
});
window.addEventListener('pageshow', (e) => {
  if (e.persisted) wake();
});
window.addEventListener('focus', wake);
