// The connection: /api/info at boot, the one PartylineClient of the page (resumed after a
// reload, replaced on a rejoin), what it persists, and waking it when the phone comes back.
import { PartylineClient } from '../shared/client.js';
import { deviceId } from '../shared/storage.js';
import { VERSIONS } from '../shared/wire.js';
import { fetchJSON } from './api.js';
import { onChatRefused } from './chat.js';
import { onDirect, onDirectFailed } from './dm.js';
import { showEnding } from './endings.js';
import { haveAccess, showJoin } from './join.js';
import { readNoteIds } from './notes.js';
import { $, page, show } from './page.js';
import { render, resetPartyDom } from './party.js';
import { attachSyncPlay, createSyncClock } from './player.js';
import { KEYS, local, readJSON, session } from './store.js';

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

let renderQueued = false;

export async function boot() {
  show('screen-loading');
  try {
    const r = await fetchJSON('/api/info');
    if (r.status !== 200 || !r.body) throw new Error('bad info');
    page.info = r.body;
  } catch (e) {
    showEnding({ kind: 'failed', reason: null }, boot);
    return;
  }
  const info = page.info;
  document.title = (info.name || 'Party') + ' · Partyline';
  const saved = readJSON(session, KEYS.resume);
  if (saved && saved.sessionId === info.sessionId && saved.memberId && saved.resumeSecret && haveAccess()) {
    start(saved); // page reload: straight back in
    return;
  }
  if (saved) session.del(KEYS.resume);
  showJoin();
}

function wsUrl() {
  const info = page.info;
  const key = info && info.open ? null : session.get(KEYS.key);
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' + (key ? '?token=' + encodeURIComponent(key) : '');
}

export function start(resume) {
  const info = page.info;
  if (page.client) page.client.destroy();
  const versions = (info && info.protocolVersions) || [VERSIONS.partyline];
  const c = new PartylineClient({
    url: wsUrl(),
    sessionId: info.sessionId,
    sessionName: info.name,
    device: { id: deviceId(local, KEYS.device, 'web'), name: local.get(KEYS.name) || 'Guest' },
    resume: resume || undefined,
    protocolVersion: versions.indexOf(VERSIONS.partyline) >= 0 ? VERSIONS.partyline : null,
    clock: createSyncClock(), // SyncPlay's clock filter (player.js)
    readNotes: readNoteIds(), // dismissed before a reload: a resume replays them, they stay dismissed
  });
  page.client = c;
  c.on('change', () => queueRender());
  c.on('credentials', (cr) => {
    if (cr) session.set(KEYS.resume, JSON.stringify(cr));
    else session.del(KEYS.resume);
  });
  c.on('ended', (ending) => {
    if (c === page.client) showEnding(ending);
  });
  c.on('direct', (d) => {
    if (c === page.client) onDirect(d);
  });
  c.on('directfailed', (d) => {
    if (c === page.client) onDirectFailed(d);
  });
  c.on('chatrefused', (r) => {
    if (c === page.client) onChatRefused(r);
  });
  attachSyncPlay(c); // the "Now playing" panel and the media element
  resetPartyDom();
  show('screen-party');
  c.connect();
  render();
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  Promise.resolve().then(() => {
    renderQueued = false;
    render();
  });
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
window.addEventListener('pageshow', (e) => {
  if (e.persisted) wake();
});
window.addEventListener('focus', wake);
