// Partyline phone page: DOM rendering and browser glue only. Protocol logic lives in ../shared/client.js.
import { PartylineClient } from '../shared/client.js';
import { limitInput } from '../shared/text.js';
import { CLOSE, LIMITS, VERSIONS } from '../shared/wire.js';
import { attachSyncPlay, createSyncClock } from './player.js';

const $ = (id) => document.getElementById(id);
const KEYS = {
  device: 'partyline.deviceId', // localStorage: stable per browser
  name: 'partyline.name', // localStorage: last name used
  key: 'partyline.joinKey', // sessionStorage: the join key from the QR fragment or the room code
  resume: 'partyline.resume', // sessionStorage: { sessionId, memberId, resumeSecret }
  read: 'partyline.readNotes', // sessionStorage: { sessionId, ids } host notices already dismissed
};

// Storage can throw (private mode, disabled cookies): never let it break the page.
function store(kind) {
  let s = null;
  try {
    s = window[kind];
    s.setItem('partyline.probe', '1');
    s.removeItem('partyline.probe');
  } catch (e) {
    s = null;
  }
  const mem = {};
  return {
    get: (k) => {
      try {
        return s ? s.getItem(k) : k in mem ? mem[k] : null;
      } catch (e) {
        return null;
      }
    },
    set: (k, v) => {
      try {
        if (s) s.setItem(k, v);
        else mem[k] = v;
      } catch (e) {
        mem[k] = v;
      }
    },
    del: (k) => {
      try {
        if (s) s.removeItem(k);
      } catch (e) {
        /* ignore */
      }
      delete mem[k];
    },
  };
}
const local = store('localStorage');
const session = store('sessionStorage');

// ---- debug: ?theme=dark|light forces a color scheme (for screenshots) -------------------------
const query = new URLSearchParams(location.search);
if (/^(dark|light)$/.test(query.get('theme') || '')) document.documentElement.dataset.theme = query.get('theme');

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

function deviceId() {
  let id = local.get(KEYS.device);
  if (!id) {
    const bytes = new Uint8Array(12);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    id = 'web-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    local.set(KEYS.device, id);
  }
  return id;
}

function readJSON(s, k) {
  try {
    return JSON.parse(s.get(k) || 'null');
  } catch (e) {
    return null;
  }
}

// ---- screens ----------------------------------------------------------------------------------
const SCREENS = ['screen-loading', 'screen-join', 'screen-party', 'screen-end'];
function show(id) {
  for (const s of SCREENS) $(s).hidden = s !== id;
  document.body.dataset.screen = id;
}

let info = null; // /api/info
let client = null;
let renderQueued = false;

async function fetchJSON(url) {
  const ctl = typeof AbortController === 'function' ? new AbortController() : null;
  const timer = setTimeout(() => ctl && ctl.abort(), 8000);
  try {
    const res = await fetch(url, { cache: 'no-store', signal: ctl ? ctl.signal : undefined });
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    return { status: res.status, body };
  } finally {
    clearTimeout(timer);
  }
}

async function boot() {
  show('screen-loading');
  try {
    const r = await fetchJSON('/api/info');
    if (r.status !== 200 || !r.body) throw new Error('bad info');
    info = r.body;
  } catch (e) {
    showEnding({ kind: 'failed', reason: null }, boot);
    return;
  }
  document.title = (info.name || 'Party') + ' · Partyline';
  const saved = readJSON(session, KEYS.resume);
  if (saved && saved.sessionId === info.sessionId && saved.memberId && saved.resumeSecret && haveAccess()) {
    start(saved); // page reload: straight back in
    return;
  }
  if (saved) session.del(KEYS.resume);
  showJoin();
}

function haveAccess() {
  return !!(info && info.open) || !!session.get(KEYS.key);
}

function needsCode() {
  return !haveAccess();
}

// ---- join screen ------------------------------------------------------------------------------
function showJoin(error) {
  client = null;
  $('join-title').textContent = info.name || 'the party';
  const n = info.memberCount;
  $('join-meta').textContent = typeof n !== 'number' ? '' : n === 0 ? 'Nobody here yet: be the first!' : n === 1 ? '1 guest is here' : n + ' guests are here';
  let notice = '';
  if (info.locked) notice = "The host has locked the party: new guests can't join right now.";
  else if (typeof info.maxMembers === 'number' && n >= info.maxMembers) notice = 'The party is full right now (' + n + ' of ' + info.maxMembers + ').';
  $('join-notice').textContent = notice;
  $('join-notice').hidden = !notice;
  $('code-field').hidden = !needsCode();
  $('name-input').value = $('name-input').value || local.get(KEYS.name) || '';
  setJoinError(error || '');
  setJoinBusy(false);
  show('screen-join');
}

function setJoinError(text) {
  $('join-error').textContent = text;
  $('join-error').hidden = !text;
}

function setJoinBusy(busy) {
  $('join-button').disabled = busy;
  $('join-button').textContent = busy ? 'Joining…' : 'Join the party';
}

// The host's limits, counted as it counts them (code points; `maxlength` counts UTF-16 units).
limitInput($('name-input'), LIMITS.maxNameChars);
limitInput($('presence-text'), LIMITS.maxPresenceChars);
limitInput($('dm-input'), LIMITS.maxChatChars);
limitInput($('chat-input'), LIMITS.maxChatChars);

$('code-input').addEventListener('input', (e) => {
  const v = e.target.value.toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (v !== e.target.value) e.target.value = v;
});

$('join-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('name-input').value.replace(/\s+/g, ' ').trim();
  if (!name) {
    setJoinError('Type your name so people know who you are.');
    $('name-input').focus();
    return;
  }
  setJoinError('');
  if (needsCode()) {
    const code = $('code-input').value.toUpperCase().replace(/[^A-Z0-9]/g, '');
    if (code.length < 4 || code.length > 6) {
      setJoinError("The room code has 4 to 6 letters or digits. It's on the host's screen.");
      $('code-input').focus();
      return;
    }
    setJoinBusy(true);
    let r;
    try {
      r = await fetchJSON('/api/join?code=' + encodeURIComponent(code));
    } catch (err) {
      setJoinBusy(false);
      setJoinError("Couldn't reach the host. Are you on the same Wi-Fi?");
      return;
    }
    setJoinBusy(false);
    if (r.status === 429) return setJoinError('Too many tries. Wait a minute, then try again.');
    if (r.status === 403 || r.status === 401 || r.status === 404) {
      return setJoinError("That code isn't right. Check the host's screen and try again.");
    }
    if (r.status !== 200 || !r.body || !r.body.joinKey) return setJoinError('Something went wrong. Try again.');
    session.set(KEYS.key, r.body.joinKey);
  }
  local.set(KEYS.name, name);
  start(null);
});

// ---- the party --------------------------------------------------------------------------------
function wsUrl() {
  const key = info && info.open ? null : session.get(KEYS.key);
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' + (key ? '?token=' + encodeURIComponent(key) : '');
}

function start(resume) {
  if (client) client.destroy();
  const versions = (info && info.protocolVersions) || [VERSIONS.partyline];
  client = new PartylineClient({
    url: wsUrl(),
    sessionId: info.sessionId,
    sessionName: info.name,
    device: { id: deviceId(), name: local.get(KEYS.name) || 'Guest' },
    resume: resume || undefined,
    protocolVersion: versions.indexOf(VERSIONS.partyline) >= 0 ? VERSIONS.partyline : null,
    clock: createSyncClock(), // SyncPlay's clock filter (player.js)
    readNotes: readNoteIds(), // dismissed before a reload: a resume replays them, they stay dismissed
  });
  const c = client;
  c.on('change', () => queueRender());
  c.on('credentials', (cr) => {
    if (cr) session.set(KEYS.resume, JSON.stringify(cr));
    else session.del(KEYS.resume);
  });
  c.on('ended', (ending) => {
    if (c === client) showEnding(ending);
  });
  c.on('direct', (d) => {
    if (c !== client || d.direction !== 'out' || dmTo !== d.to) return;
    dmPending = null;
    $('dm-status').textContent = 'Sent. It is in the chat below, marked private.';
  });
  c.on('directfailed', (d) => {
    if (c !== client || dmTo !== d.to) return;
    dmPending = null;
    $('dm-status').hidden = true; // the error says it all
    $('dm-error').textContent = dmFailedText(d);
    $('dm-error').hidden = false;
    if (!$('dm-input').value) $('dm-input').value = d.text; // give the words back
  });
  attachSyncPlay(c); // the "Now playing" panel and the media element
  resetPartyDom();
  show('screen-party');
  c.connect();
  render();
}

function readNoteIds() {
  const r = readJSON(session, KEYS.read);
  return r && info && r.sessionId === info.sessionId && Array.isArray(r.ids) ? r.ids.slice(-200) : [];
}

function queueRender() {
  if (renderQueued) return;
  renderQueued = true;
  Promise.resolve().then(() => {
    renderQueued = false;
    render();
  });
}

const memberEls = new Map();
const noteEls = new Map();
const chatEls = new Map();
let noteEl = null;
let noticeAt = null;

function resetPartyDom() {
  memberEls.clear();
  chatEls.clear();
  noteEls.clear();
  $('member-list').textContent = '';
  $('chat-list').textContent = '';
  $('notes').textContent = '';
  closeDm();
  noteEl = null;
  noticeAt = null;
}

const CONNECTION_TEXT = {
  idle: 'Starting…',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  failed: 'Disconnected',
  ended: 'Disconnected',
};

function fmtMs(ms) {
  return typeof ms === 'number' ? Math.round(ms) + ' ms' : '—';
}

function hue(id) {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) % 360;
  return h;
}

function el(tag, cls, testid, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (testid) e.setAttribute('data-testid', testid);
  if (text != null) e.textContent = text;
  return e;
}

function memberEl(id) {
  let li = memberEls.get(id);
  if (li) return li;
  li = el('li', 'member', 'member');
  li.setAttribute('data-member-id', id);
  const av = el('span', 'avatar');
  av.setAttribute('aria-hidden', 'true');
  av.style.setProperty('--h', String(hue(id)));
  const who = el('div', 'who');
  const name = el('p', 'name');
  const nameText = el('span', 'name-text', 'member-name');
  const host = el('span', 'badge', 'host-badge', 'Host');
  const you = el('span', 'badge you', 'self-badge', 'You');
  name.append(nameText, host, you);
  const meta = el('p', 'meta');
  const status = el('span', 'status', 'status');
  const device = el('span', 'device', 'member-device'); // "Android phone": from the host, when it can tell
  meta.append(status, device);
  const presence = el('p', 'presence', 'member-presence'); // away / busy, with the member's text
  presence.hidden = true;
  who.append(name, meta, presence);
  const lat = el('span', 'latency', 'latency');
  const dm = el('button', 'small icon dm-btn', 'dm-button');
  dm.type = 'button';
  dm.innerHTML = '<svg viewBox="0 0 24 24" width="22" height="22" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M4 5h16a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H9l-5 4V6a1 1 0 0 1 1-1z"/></svg>';
  dm.addEventListener('click', (e) => {
    e.stopPropagation();
    openDm(id);
  });
  li.addEventListener('click', () => {
    if (!dm.hidden) openDm(id);
  });
  const side = el('div', 'side'); // latency, and under it the private-message button
  side.append(lat, dm);
  li.append(av, who, side);
  li._r = { av, nameText, host, you, status, device, lat, presence, dm };
  memberEls.set(id, li);
  return li;
}

function renderMembers(state) {
  const list = $('member-list');
  const members = state.members.slice().sort((a, b) => (b.isHost - a.isHost) || ((b.id === state.selfId) - (a.id === state.selfId)));
  const seen = new Set();
  let prev = null;
  for (const m of members) {
    seen.add(m.id);
    const li = memberEl(m.id);
    const r = li._r;
    const self = m.id === state.selfId;
    if (r.nameText.textContent !== m.name) r.nameText.textContent = m.name;
    r.av.textContent = (Array.from(m.name.trim())[0] || '?').toUpperCase();
    r.host.hidden = !m.isHost;
    r.you.hidden = !self;
    // Our own row follows our own connection: the list is the host's last word, which cannot
    // tell us that we are the one cut off.
    const status = self && state.connection === 'reconnecting' ? 'reconnecting' : m.connectionStatus;
    li.setAttribute('data-status', status);
    li.toggleAttribute('data-host', m.isHost);
    li.toggleAttribute('data-self', self);
    r.status.setAttribute('data-status', status);
    r.status.textContent = status;
    r.device.textContent = m.device || '';
    r.device.hidden = !m.device;
    r.lat.textContent = fmtMs(m.latency);
    r.lat.title = 'Latency measured by the host';
    const p = state.presence[m.id];
    li.setAttribute('data-presence', p ? p.status : 'online');
    r.presence.hidden = !p;
    r.presence.setAttribute('data-presence', p ? p.status : 'online');
    r.presence.textContent = p ? PRESENCE_TEXT[p.status] + (p.text ? ': ' + p.text : '') : '';
    // A private message: to another guest (the host's own row is the host's screen, not a guest).
    const canDm = !self && !m.isHost && state.extensions;
    r.dm.hidden = !canDm;
    r.dm.setAttribute('aria-label', 'Private message to ' + m.name);
    li.classList.toggle('tappable', canDm);
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== li) list.insertBefore(li, want);
    prev = li;
  }
  for (const [id, li] of memberEls) {
    if (!seen.has(id)) {
      li.remove();
      memberEls.delete(id);
    }
  }
  $('members-empty').hidden = members.length > 0;
}

const PRESENCE_TEXT = { online: 'Here', away: 'Away', busy: 'Busy' };

// ---- the host's notifications ------------------------------------------------------------------
const NOTE_LABEL = { info: 'From the host', warning: 'Heads up', alert: 'Important' };

function renderNotes(state) {
  const box = $('notes');
  const unread = state.notes.filter((n) => !n.read).reverse(); // newest first
  const keep = new Set(unread.map((n) => n.id));
  for (const [id, card] of noteEls) {
    if (!keep.has(id)) {
      card.remove();
      noteEls.delete(id);
    }
  }
  let prev = null;
  for (const n of unread) {
    let card = noteEls.get(n.id);
    if (!card) {
      card = el('div', 'note-card', 'notification');
      card.setAttribute('data-note-id', n.id);
      card.setAttribute('data-level', n.level);
      if (n.level === 'alert') card.setAttribute('role', 'alert');
      const text = el('div', 'note-text');
      text.append(el('p', 'note-label', 'notification-level', NOTE_LABEL[n.level] || NOTE_LABEL.info));
      text.append(el('p', 'note-title', 'notification-title', n.title));
      if (n.body) text.append(el('p', 'note-body', 'notification-body', n.body));
      const x = el('button', 'small icon note-x', 'notification-dismiss', '✕');
      x.type = 'button';
      x.setAttribute('aria-label', 'Dismiss: ' + n.title);
      x.addEventListener('click', () => dismissNotes([n.id]));
      card.append(text, x);
      noteEls.set(n.id, card);
    }
    const want = prev ? prev.nextSibling : box.firstChild;
    if (want !== card) box.insertBefore(card, want);
    prev = card;
  }
  box.hidden = unread.length === 0;
}

function dismissNotes(ids) {
  if (!client) return;
  client.markRead(ids); // tells the host (mark_read), now or once reconnected
  if (info) session.set(KEYS.read, JSON.stringify({ sessionId: info.sessionId, ids: client.readNoteIds().slice(-200) }));
}

// ---- private messages --------------------------------------------------------------------------
let dmTo = null; // member id the compose box is for
let dmPending = null; // the id of the message waiting for its direct_ack

function openDm(id) {
  if (!client) return;
  const m = client.state.members.find((x) => x.id === id);
  if (!m) return;
  if (dmTo !== id) {
    $('dm-input').value = '';
    dmPending = null;
  }
  dmTo = id;
  $('dm-to').textContent = m.name;
  $('dm-error').hidden = true;
  $('dm-status').textContent = 'Only ' + m.name + ' will see it.';
  $('dm-status').hidden = false;
  $('dm-form').hidden = false;
  for (const [mid, li] of memberEls) li.toggleAttribute('data-dm-open', mid === id);
  $('dm-form').scrollIntoView({ block: 'nearest' });
  $('dm-input').focus({ preventScroll: true });
}

function closeDm() {
  dmTo = null;
  dmPending = null;
  $('dm-form').hidden = true;
  $('dm-error').hidden = true;
  for (const li of memberEls.values()) li.removeAttribute('data-dm-open');
}

const DM_FAILED = {
  unknown_member: "they aren't in the party any more",
  loudsync_client: "their app can't receive private messages",
  reconnecting: "they're reconnecting, try again in a moment",
};
function dmFailedText(m) {
  return "Couldn't deliver your private message to " + m.name + ': ' + (DM_FAILED[m.reason] || DM_FAILED.unknown_member) + '.';
}

function renderDm(state) {
  if (dmTo == null) return;
  const m = state.members.find((x) => x.id === dmTo);
  if (!state.extensions) return closeDm();
  if (m) $('dm-to').textContent = m.name;
  $('dm-send').disabled = state.connection !== 'connected';
}

function renderPresence(state) {
  $('presence-form').hidden = !state.extensions;
  const mine = state.myPresence || { status: 'online', text: '' };
  for (const b of document.querySelectorAll('#presence-form .seg-btn')) {
    b.setAttribute('aria-pressed', String(b.dataset.status === mine.status));
    b.disabled = state.connection !== 'connected';
  }
  $('presence-text-row').hidden = mine.status === 'online';
  $('presence-save').disabled = state.connection !== 'connected';
}

function renderChat(state) {
  const list = $('chat-list');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const keep = new Set();
  let added = false;
  if (state.notice && state.notice.at !== noticeAt) {
    noticeAt = state.notice.at;
    noteEl = el('li', 'msg note', 'chat-notice',
      state.notice.kind === 'snapshot'
        ? 'You were away for a while: some messages may be missing.'
        : 'You rejoined the party: messages from while you were away are missing.');
    list.append(noteEl);
    added = true;
  }
  for (const m of state.chat) {
    const key = m.id != null ? 'id:' + m.id : 'seq:' + m.seq;
    keep.add(key);
    if (chatEls.has(key)) continue;
    if (m.kind === 'direct-failed') {
      const li = el('li', 'msg note failed', 'dm-failed', dmFailedText(m));
      li.setAttribute('role', 'alert');
      list.append(li);
      chatEls.set(key, li);
      added = true;
      continue;
    }
    if (m.kind === 'direct') {
      const out = m.direction === 'out';
      const li = el('li', 'msg private' + (out ? ' mine' : ''), 'chat-message');
      li.setAttribute('data-private', m.direction);
      li.setAttribute('data-from', String(m.from));
      li.setAttribute('data-to', String(m.to));
      const author = el('span', 'author', 'chat-author', out ? 'you → ' + m.name : m.name + ' → you');
      author.append(el('span', 'private-tag', null, 'private'));
      li.append(author, el('span', 'text', 'chat-text', m.text));
      list.append(li);
      chatEls.set(key, li);
      added = true;
      continue;
    }
    const li = el('li', 'msg' + (m.from === state.selfId ? ' mine' : ''), 'chat-message');
    if (m.id != null) li.setAttribute('data-chat-id', String(m.id));
    if (m.seq != null) li.setAttribute('data-seq', String(m.seq));
    if (m.from != null) li.setAttribute('data-from', String(m.from));
    li.append(el('span', 'author', 'chat-author', m.from === state.selfId ? 'You' : m.name || 'Someone'));
    li.append(el('span', 'text', 'chat-text', m.text));
    list.append(li);
    chatEls.set(key, li);
    added = true;
  }
  for (const [key, li] of chatEls) {
    if (!keep.has(key)) {
      li.remove();
      chatEls.delete(key);
    }
  }
  $('chat-empty').hidden = chatEls.size > 0 || !!noteEl;
  if (added && nearBottom) list.scrollTop = list.scrollHeight;
}

function render() {
  if (!client) return;
  const s = client.state;
  if (s.connection === 'ended' || s.connection === 'failed') return; // the ending screen is shown
  if (document.body.dataset.screen !== 'screen-party') show('screen-party'); // e.g. retrying after failed
  const title = s.session.name || (info && info.name) || 'Party';
  $('session-name').textContent = title;
  document.title = title + ' · Partyline';
  const n = s.members.length;
  $('member-count').textContent = n ? (n === 1 ? '1 person' : n + ' people') : '';
  const pill = $('connection-state');
  pill.dataset.state = s.connection;
  pill.textContent = CONNECTION_TEXT[s.connection] || s.connection;
  const trouble = s.connection === 'reconnecting' || (s.connection === 'connecting' && s.attempt > 0);
  $('reconnect-banner').hidden = !trouble;
  if (trouble) {
    const code = s.lastClose && s.lastClose.code;
    const why = code === CLOSE.TOO_SLOW ? 'Your connection fell behind.' : code === CLOSE.HEARTBEAT_TIMEOUT ? 'Lost contact for a moment.' : 'Connection lost.';
    $('banner-text').textContent = why + ' Reconnecting' + (s.attempt > 1 ? ' (try ' + s.attempt + ')' : '') + '…';
  }
  $('self-name').textContent = client.device.name;
  $('self-latency').textContent = s.connection === 'connected' ? fmtMs(s.latency) : '—'; // no stale reading while cut off
  renderNotes(s);
  renderPresence(s);
  renderMembers(s);
  renderDm(s);
  const chatOk = s.extensions || s.connection !== 'connected';
  $('chat-section').hidden = !chatOk;
  if (chatOk) renderChat(s);
}

$('reconnect-now').addEventListener('click', () => client && client.wake());

$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('chat-input');
  if (client && client.sendChat(input.value)) input.value = '';
});

for (const b of document.querySelectorAll('#presence-form .seg-btn')) {
  b.addEventListener('click', () => {
    if (!client) return;
    const status = b.dataset.status;
    if (status === 'online') $('presence-text').value = '';
    client.setPresence(status, $('presence-text').value);
    if (status !== 'online' && !$('presence-text').value) $('presence-text').focus({ preventScroll: true });
  });
}

$('presence-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (!client) return;
  const st = client.state.myPresence.status;
  client.setPresence(st === 'online' ? 'away' : st, $('presence-text').value);
  $('presence-text').blur();
});

$('dm-close').addEventListener('click', closeDm);

$('dm-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (!client || dmTo == null) return;
  const input = $('dm-input');
  const id = client.sendDirect(dmTo, input.value);
  if (!id) return;
  dmPending = id;
  input.value = '';
  $('dm-error').hidden = true;
  $('dm-status').hidden = false;
  $('dm-status').textContent = 'Sending…';
});

$('leave-button').addEventListener('click', () => {
  if (client) client.leave();
});

// ---- endings ----------------------------------------------------------------------------------
const rejoin = () => {
  if (info) showJoin();
  else boot();
};
const retry = () => {
  if (client) {
    resetPartyDom();
    show('screen-party');
    client.retry();
  } else boot();
};

// kind → [testid suffix, icon, title, message, hint, action label, action testid, action]
function endingView(ending) {
  const d = ending.details || {};
  switch (ending.kind) {
    case 'kicked':
      return ['kicked', 'door', 'You were removed from the party', 'The host removed you.',
        "If that was a mistake, ask the host, then join again.", 'Join again', 'rejoin-button', rejoin];
    case 'closed':
      return ['closed', 'moon', 'The party is over', 'The host ended the party.',
        'If the host starts a new one, scan its QR code.', 'Look for a new party', 'rejoin-button', () => location.reload()];
    case 'full': {
      const nums = d.maxMembers ? ' Every place is taken: ' + (d.currentMembers != null ? d.currentMembers : d.maxMembers) + ' of ' + d.maxMembers + (d.maxMembers === 1 ? ' guest.' : ' guests.') : '';
      return ['full', 'people', 'The party is full', "There's no room for another guest right now." + nums,
        'Ask the host to make room or raise the limit, then try again.', 'Try again', 'retry-button', retry];
    }
    case 'locked':
      return ['locked', 'lock', 'The host locked the party', "New guests can't join right now.",
        'Ask the host to unlock it, then try again.', 'Try again', 'retry-button', retry];
    case 'unauthorized':
      return ['unauthorized', 'key', "That link or code didn't work", 'The join key is wrong or out of date.',
        "Enter the room code shown on the host's screen, or scan the QR code again.", 'Enter room code', 'code-button', () => {
          session.del(KEYS.key);
          session.del(KEYS.resume);
          if (info) showJoin();
          else boot();
        }];
    case 'replaced':
      return ['replaced', 'tabs', 'You joined from another tab', 'This party is open in another tab or window on this device, so this one was disconnected.',
        'Use the other one, or continue here (the other tab will be disconnected).', 'Use this tab', 'use-here-button', retry];
    case 'not_found':
      return ['not-found', 'question', 'This party no longer exists', 'The host may have restarted it.',
        'Scan the QR code on the host\'s screen again.', 'Check again', 'rejoin-button', () => {
          session.del(KEYS.resume);
          boot();
        }];
    case 'left':
      return ['left', 'leave', 'You left the party', 'See you next time.', 'Changed your mind?', 'Join again', 'rejoin-button', rejoin];
    default:
      return ['failed', 'offline', "Can't reach the host", "Your phone can't reach the party right now.",
        "Check that you're on the same Wi-Fi as the host and that the party is still running, then try again.", 'Try again', 'retry-button',
        client ? retry : boot];
  }
}

// Line icons (24×24, stroked in currentColor): no emoji font needed.
const ICONS = {
  door: '<path d="M14 3H6a1 1 0 0 0-1 1v16a1 1 0 0 0 1 1h8M10 12h11M17 8l4 4-4 4"/>',
  moon: '<path d="M20 14.5A8.5 8.5 0 1 1 9.5 4a7 7 0 0 0 10.5 10.5z"/>',
  people: '<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20a6.5 6.5 0 0 1 13 0"/><circle cx="17" cy="9" r="2.5"/><path d="M17.5 14a5 5 0 0 1 4 6"/>',
  lock: '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/>',
  key: '<circle cx="8" cy="15" r="4"/><path d="M11 12l9-9M16 7l3 3M14 9l2 2"/>',
  tabs: '<rect x="3" y="7" width="13" height="13" rx="2"/><path d="M8 4h11a2 2 0 0 1 2 2v11"/>',
  question: '<circle cx="12" cy="12" r="9"/><path d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6V14M12 17.5v.5"/>',
  leave: '<path d="M15 3h3a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2h-3M10 17l-5-5 5-5M5 12h11"/>',
  offline: '<path d="M2 8.8a15 15 0 0 1 20 0M5 12.5a10 10 0 0 1 14 0M8.5 16a5 5 0 0 1 7 0M12 19.5v.5M3 3l18 18"/>',
};

let endingAction = null;
function showEnding(ending, action) {
  const v = endingView(ending);
  const sec = $('screen-end');
  sec.setAttribute('data-testid', 'screen-' + v[0]);
  sec.dataset.ending = ending.kind;
  $('end-icon').innerHTML = '<svg viewBox="0 0 24 24" width="64" height="64" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">' + ICONS[v[1]] + '</svg>';
  $('ending-title').textContent = v[2];
  $('ending-message').textContent = v[3];
  // The host's own words; the protocol's stock phrases would only repeat the title.
  const stock = /^host (ended the session|removed you from the session)$/i;
  const reason = (ending.kind === 'kicked' || ending.kind === 'closed') && ending.reason && !stock.test(ending.reason) ? ending.reason : null;
  $('ending-reason').hidden = !reason;
  $('ending-reason').textContent = reason ? (ending.kind === 'kicked' ? 'The host said: ' : '') + '“' + reason + '”' : '';
  $('ending-hint').textContent = v[4];
  const btn = $('ending-action');
  btn.textContent = v[5];
  btn.setAttribute('data-testid', v[6]);
  endingAction = action || v[7];
  show('screen-end');
  btn.focus({ preventScroll: true });
}
$('ending-action').addEventListener('click', () => endingAction && endingAction());

// ---- staying in: the phone woke up or the network came back -----------------------------------
function wake() {
  if (client) client.wake();
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

boot();
