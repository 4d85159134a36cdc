// The live party: the one PartylineClient of the page (resumed after a reload, replaced on a
// rejoin), what it persists, and the party screen it draws. Loaded after the join screen is up
// (connection.js imports it later): the join screen needs none of this to appear.
import { PartylineClient } from '../shared/client.js';
import { deviceId } from '../shared/storage.js';
import { VERSIONS } from '../shared/wire.js';
import { chatLive, onChatRefused } from './chat.js';
import { onDirect, onDirectFailed } from './dm.js';
import { showEnding } from './endings.js';
import { showJoin } from './join.js';
import { readNoteIds } from './notes.js';
import { page, show } from './page.js';
import { render, resetPartyDom } from './party.js';
import { attachSyncPlay, createSyncClock } from './player.js';
import { nameRefusal, onRenameRefused, onSelfUpdated } from './rename.js';
import { KEYS, local, session } from './store.js';

export { showEnding };

let renderQueued = false;

function wsUrl() {
  const info = page.info;
  const key = info && info.open ? null : session.get(KEYS.key);
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' + (key ? '?token=' + encodeURIComponent(key) : '');
}

/** Joins, or resumes with `resume`; `socket`: the one boot.js opened at a reload, to take over. */
export function start(resume, socket) {
  const info = page.info;
  if (page.client) page.client.destroy();
  const versions = (info && info.protocolVersions) || [VERSIONS.partyline];
  const c = new PartylineClient({
    url: wsUrl(),
    sessionId: info.sessionId,
    sessionName: info.name,
    device: { id: deviceId(local, KEYS.device, 'web'), name: local.get(KEYS.name) || 'Guest' },
    resume: resume || undefined,
    resumeInUrl: true, // this host reads a resume in the socket's URL: a round trip sooner
    socket: (resume && socket) || undefined,
    protocolVersion: versions.indexOf(VERSIONS.partyline) >= 0 ? VERSIONS.partyline : null,
    clock: createSyncClock(), // SyncPlay's clock filter (player.js)
    readNotes: readNoteIds(), // dismissed before a reload: a resume replays them, they stay dismissed
    visible: () => document.visibilityState !== 'hidden', // only a visible page probes every second
    player: true, // this page plays SyncPlay's media: a start waits for it to be ready
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
  c.on('message', (m) => {
    if (c !== page.client) return;
    if (m.type === 'welcome' || m.type === 'resumed') chatLive(m.timestamp); // the chat's "New messages" mark
    if (m.type === 'member_updated') onSelfUpdated(m.member);
  });
  c.on('servererror', (m) => {
    if (c !== page.client) return;
    // A name the host refuses at the join: back to the join screen, saying why (joining again
    // with the same name would be refused again, the page waiting on "Connecting…").
    const refused = !c.state.selfId && nameRefusal(m, 'join');
    if (!refused) return onRenameRefused(m);
    c.destroy();
    showJoin(refused);
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

