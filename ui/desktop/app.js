// Partyline desktop page: the host screen and the Browse tab. DOM and glue only: the party runs
// in Rust (src-tauri, through the host facade) and this page calls its commands; joining another
// party uses the same protocol client as the phone (ui/shared/client.js).
import { PartylineClient } from '../shared/client.js';
import { limitInput } from '../shared/text.js';
import { LIMITS, VERSIONS } from '../shared/wire.js';
import { createSyncPlay } from './syncplay.js';
import { createMessaging, presenceLabel } from './messaging.js';
import { createChat } from './chat.js';
import { createPhotos } from './photos.js';
import { createScreen, parseCapacity } from './screen.js';
import { browseWords, plain, startError, warningWords } from './words.js';
import './native.js';
import { el, fmtMs, hue, initial, said } from '../shared/dom.js';
import { deviceId, store } from '../shared/storage.js';
import { CONNECTION_TEXT, ENDING_TEXT } from '../shared/texts.js';

const $ = (id) => document.getElementById(id);
const TAURI = window.__TAURI__;

// The host's limits, counted as it counts them (code points; `maxlength` counts UTF-16 units).
limitInput($('party-name'), LIMITS.maxNameChars);
limitInput($('announce-title'), LIMITS.maxTitleChars);
limitInput($('announce-body'), LIMITS.maxChatChars);
limitInput($('join-name'), LIMITS.maxNameChars);

// ---- debug: ?theme=dark|light forces a color scheme (screenshots) ----------------------------
const query = new URLSearchParams(location.search);
if (/^(dark|light)$/.test(query.get('theme') || '')) document.documentElement.dataset.theme = query.get('theme');

/** Calls a command; rejects with the command error { code, message }. */
async function invoke(cmd, args) {
  if (!TAURI) throw { code: 'no_tauri', message: 'This page runs inside the Partyline desktop app.' };
  try {
    return await TAURI.core.invoke(cmd, args);
  } catch (e) {
    throw e && typeof e === 'object' && e.code ? e : { code: 'unknown', message: String(e) };
  }
}

let toastTimer = null;
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 4000);
}
const sentence = (t) => (t ? t.charAt(0).toUpperCase() + t.slice(1) : t);
const fail = (e) => toast(plain((e && e.message) || String(e)));
const screen = createScreen();
const syncplay = createSyncPlay({ invoke, fail, toast, onNow: (now) => screen.setNow(now) });
const messaging = createMessaging({ invoke, onPresence: () => renderMembers() });
const chat = createChat({ invoke, onLayout: () => screen.relayout() });
const photos = createPhotos({ invoke, fail, onLayout: () => screen.relayout() });

const fmtTime = (ms) => (typeof ms === 'number' ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '');

// ---- tabs -------------------------------------------------------------------------------------
function selectTab(name) {
  document.body.dataset.tab = name;
  for (const t of ['host', 'browse']) {
    $('tab-' + t).setAttribute('aria-selected', String(t === name));
    $('view-' + t).hidden = t !== name;
  }
  if (name === 'browse') refreshBrowse();
  else screen.relayout(); // the guest wall is measured, and was not while hidden
}
$('tab-host').addEventListener('click', () => selectTab('host'));
$('tab-browse').addEventListener('click', () => selectTab('browse'));

// Two-step buttons: the first click asks, a second within 4 s does it.
function armed(button, question, action, needsConfirm) {
  const label = button.textContent;
  let timer = null;
  button.addEventListener('click', async () => {
    if (needsConfirm() && !button.dataset.armed) {
      button.dataset.armed = '1';
      button.textContent = question;
      timer = setTimeout(() => {
        delete button.dataset.armed;
        button.textContent = label;
      }, 4000);
      return;
    }
    clearTimeout(timer);
    delete button.dataset.armed;
    button.textContent = label;
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
    }
  });
}

// ============================== the host screen ==============================================

let view = null; // HostView from the host_info command
const members = new Map(); // id → MemberInfo
const memberEls = new Map();

function setPill(state, text) {
  const p = $('host-pill');
  p.dataset.state = state;
  p.textContent = text;
}

async function loadHost() {
  try {
    showRunning(await invoke('host_info'));
  } catch (e) {
    showStopped(e);
  }
}

function showStopped(err) {
  view = null;
  members.clear();
  renderMembers();
  $('host-running').hidden = true;
  $('host-stopped').hidden = false;
  syncplay.hide();
  $('stopped-reason').textContent =
    err && err.code && err.code !== 'not_hosting'
      ? "Couldn't start hosting. " + startError(err)
      : 'Start a party and phones on your network can join it.';
  setPill('stopped', 'Not hosting');
  document.title = 'Partyline';
}

function showRunning(v) {
  view = v;
  $('host-stopped').hidden = true;
  $('host-running').hidden = false;
  syncplay.show(v.generation);
  messaging.show(v.generation);
  chat.show(v.generation);
  photos.show(v);
  $('qr').innerHTML = v.qrSvg;
  $('qr-big-code').innerHTML = v.qrSvg;
  $('join-url').textContent = v.joinUrl;
  $('room-code').textContent = v.roomCode || '—';
  $('qr-big-room').textContent = v.roomCode || '';
  const warnings = $('host-warnings');
  warnings.textContent = '';
  for (const w of v.warnings || []) warnings.append(el('li', null, null, warningWords(w)));
  warnings.hidden = !(v.warnings && v.warnings.length);
  $('visibility').textContent = v.advertised
    ? 'Visible on this network: other Partyline apps list this party.'
    : 'Not visible on this network: other Partyline apps do not list it. The QR code and the room code still work.';
  renderSession(v.session, true);
  refreshMembers();
  refreshBans();
  renderAddresses(v);
}

function renderSession(s, force) {
  if (!view) return;
  view.session = s;
  const name = $('party-name');
  if (force || document.activeElement !== name) name.value = s.name;
  const cap = $('capacity-input');
  if (force || document.activeElement !== cap) cap.value = s.maxMembers;
  $('lock-toggle').checked = !!s.locked;
  renderMeta();
  document.title = s.name + ' · Partyline';
}

// The guest count comes from the member list: the session's own `memberCount` is only re-sent
// with a rename, lock or capacity change (session_updated), not with every join and leave.
function guestCount() {
  let n = 0;
  for (const m of members.values()) if (!m.isHost) n++;
  return n;
}

// The party screen, the pill and the guest count: after any change to the session or the guests.
function renderMeta() {
  if (!view) return;
  const s = view.session;
  const n = guestCount();
  screen.render({ view, session: s, members: Array.from(members.values()) });
  const full = !s.locked && n >= s.maxMembers;
  setPill(s.locked ? 'locked' : full ? 'full' : 'hosting', s.locked ? 'Hosting · locked' : full ? 'Hosting · full' : 'Hosting');
  $('member-count').textContent = n ? '(' + n + ')' : '';
}

// ---- kept out: the devices the host banned, each with "Let back in" ---------------------------
async function refreshBans() {
  if (!view) return;
  try {
    renderBans(await invoke('bans'));
  } catch (e) {
    fail(e);
  }
}

function renderBans(bans) {
  const list = $('ban-list');
  list.textContent = '';
  for (const b of bans) {
    const li = el('li', 'ban', 'ban');
    li.dataset.deviceId = b.deviceId;
    const who = said('span', 'ban-who', 'ban-name', b.name);
    const back = el('button', 'small', 'unban-button', 'Let back in');
    back.type = 'button';
    back.title = 'Let ' + b.name + "'s phone join again";
    back.addEventListener('click', async () => {
      back.disabled = true;
      try {
        await invoke('unban', { deviceId: b.deviceId });
        refreshBans();
      } catch (e) {
        fail(e);
        back.disabled = false;
      }
    });
    li.append(who, back);
    list.append(li);
  }
  $('bans-card').hidden = !bans.length;
}

async function refreshMembers() {
  if (!view) return;
  try {
    const list = await invoke('members');
    members.clear();
    for (const m of list) members.set(m.id, m);
    renderMembers();
  } catch (e) {
    fail(e);
  }
}

function memberEl(id) {
  let li = memberEls.get(id);
  if (li) return li;
  li = el('li', 'member', 'member');
  li.dataset.memberId = id;
  const av = el('span', 'avatar');
  av.style.setProperty('--h', String(hue(id)));
  const who = el('div', 'who');
  const name = el('p', 'name');
  const nameText = said('span', null, 'member-name');
  const badge = el('span', 'badge', 'host-badge', 'Host');
  // Away or busy, with the guest's words (nothing while online).
  const presence = said('span', 'presence', 'member-presence');
  name.append(nameText, badge, presence);
  const meta = el('p', 'meta');
  const status = el('span', 'status', 'member-status');
  // The device ("Android phone", from the server; absent when it can't tell) and its separator.
  const device = el('span', 'device', 'member-device');
  const deviceSep = document.createTextNode('');
  const joined = el('span', null, 'member-joined');
  meta.append(status, document.createTextNode(' · '), device, deviceSep, joined);
  who.append(name, meta);
  const lat = el('span', 'latency', 'member-latency');
  lat.title = 'Round trip measured by this computer';
  const kick = el('button', 'small danger kick', 'kick-button', 'Kick');
  kick.type = 'button';
  // Kick asks first: the reason the guest is told, and whether the device may come back.
  const form = el('form', 'kick-form', 'kick-form');
  form.hidden = true;
  const reason = el('input', null, 'kick-reason');
  reason.type = 'text';
  reason.maxLength = 200;
  reason.placeholder = 'Reason the guest sees (optional)';
  reason.setAttribute('aria-label', 'Reason the guest sees');
  const keepOut = el('label', 'check');
  const ban = el('input', null, 'kick-ban');
  ban.type = 'checkbox';
  keepOut.append(ban, document.createTextNode(' Keep this phone out'));
  const confirm = el('button', 'small danger', 'kick-confirm', 'Remove');
  confirm.type = 'submit';
  const cancel = el('button', 'small', 'kick-cancel', 'Cancel');
  cancel.type = 'button';
  form.append(reason, keepOut, confirm, cancel);
  kick.addEventListener('click', () => {
    form.hidden = !form.hidden;
    if (!form.hidden) reason.focus({ preventScroll: true });
  });
  cancel.addEventListener('click', () => {
    form.hidden = true;
    kick.focus({ preventScroll: true });
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    confirm.disabled = true;
    try {
      await invoke('kick', { memberId: id, reason: reason.value.trim() || null, ban: ban.checked });
      if (ban.checked) refreshBans();
    } catch (err) {
      fail(err);
    } finally {
      confirm.disabled = false;
    }
  });
  li.append(av, who, lat, kick, form);
  li._r = { av, nameText, badge, presence, status, device, deviceSep, joined, lat, kick };
  memberEls.set(id, li);
  return li;
}

function renderMembers() {
  const list = $('member-list');
  const sorted = Array.from(members.values()).sort((a, b) => (b.isHost - a.isHost) || (a.joinedAt - b.joinedAt));
  let prev = null;
  for (const m of sorted) {
    const li = memberEl(m.id);
    const r = li._r;
    r.nameText.textContent = m.name;
    r.av.textContent = initial(m.name);
    r.badge.hidden = !m.isHost;
    const p = messaging.presenceOf(m.id);
    r.presence.textContent = presenceLabel(p);
    r.presence.hidden = !r.presence.textContent;
    r.presence.dataset.presence = p ? p.status : 'online';
    r.presence.title = r.presence.textContent ? m.name + ' is ' + r.presence.textContent : '';
    li.dataset.presence = p ? p.status : 'online';
    li.toggleAttribute('data-host', m.isHost);
    li.dataset.status = m.connectionStatus;
    r.status.dataset.status = m.connectionStatus;
    r.status.textContent = m.isHost ? 'this computer' : m.connectionStatus;
    r.device.textContent = m.device || '';
    r.device.hidden = !m.device;
    r.deviceSep.textContent = m.device ? ' · ' : '';
    r.joined.textContent = (m.isHost ? 'since ' : 'joined ') + fmtTime(m.joinedAt);
    r.lat.textContent = m.isHost ? '' : fmtMs(m.latency);
    r.kick.title = 'Remove ' + m.name + ' from the party';
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== li) list.insertBefore(li, want);
    prev = li;
  }
  for (const [id, li] of memberEls) {
    if (!members.has(id)) {
      li.remove();
      memberEls.delete(id);
    }
  }
  $('members-empty').hidden = sorted.some((m) => !m.isHost);
  renderMeta();
}

// A host event is the facade's HostEvent as `partyline host --json` prints it, plus the
// generation: {generation, event: 'member_joined', ...the event's fields}.
function onHostEvent(ev) {
  if (!view || ev.generation !== view.generation) return; // an earlier host's last words
  const { event, generation, ...body } = ev;
  switch (event) {
    case 'member_joined':
    case 'member_updated': {
      const old = members.get(body.id);
      const m = body;
      if (!old) messaging.forget(m.id); // new here: online
      if (m.latency == null && old && old.latency != null) m.latency = old.latency;
      members.set(m.id, m);
      renderMembers();
      break;
    }
    case 'member_left':
      members.delete(body.member.id);
      messaging.forget(body.member.id);
      renderMembers();
      break;
    case 'session_updated':
      renderSession(body);
      break;
    case 'lagged':
      refreshMembers();
      refreshBans();
      break;
    case 'banned':
    case 'unbanned':
      refreshBans();
      break;
    case 'closed':
      showStopped(null);
      break;
    case 'network_changed': // an address came or went: the QR code and URLs are redrawn
      loadHost();
      break;
    default:
      // Presence and reads, chat (lines, edits, deletions), photos, then SyncPlay's (sync_play,
      // playback_progress).
      if (!messaging.onEvent(event, body) && !chat.onEvent(event, body) && !photos.onEvent(event, body)) {
        syncplay.onEvent(event, body, generation);
      }
      break;
  }
}

// ---- address picker: shown when the machine has several LAN addresses ----------------------
function renderAddresses(v) {
  const list = v.addresses || [];
  const picker = $('address-picker');
  picker.hidden = list.length < 2;
  const select = $('address-select');
  select.textContent = '';
  for (const c of list) {
    const o = el('option', null, null, c.addr + ' (' + c.interface + ')');
    o.value = c.addr;
    o.selected = c.addr === v.selected;
    select.append(o);
  }
}
$('address-select').addEventListener('change', async (e) => {
  try {
    showRunning(await invoke('choose_address', { addr: e.target.value }));
  } catch (err) {
    fail(err);
    if (view) renderAddresses(view);
  }
});

// ---- controls ---------------------------------------------------------------------------------
$('start-button').addEventListener('click', async () => {
  $('start-button').disabled = true;
  try {
    showRunning(await invoke('start_hosting'));
  } catch (e) {
    showStopped(e);
  } finally {
    $('start-button').disabled = false;
  }
});

const haveGuests = () => Array.from(members.values()).some((m) => !m.isHost);
armed($('stop-button'), 'Sure? Ends the party', async () => {
  try {
    await invoke('stop_hosting');
    showStopped(null);
  } catch (e) {
    fail(e);
  }
}, haveGuests);
armed($('new-key'), 'Sure? The old QR code stops working', async () => {
  try {
    showRunning(await invoke('new_key'));
    toast('New QR code and room code: the old ones no longer work.');
  } catch (e) {
    showStopped(e);
  }
}, haveGuests);

$('lock-toggle').addEventListener('change', async (e) => {
  const want = e.target.checked;
  try {
    renderSession(await invoke('set_locked', { locked: want }));
  } catch (err) {
    e.target.checked = !want;
    fail(err);
  }
});

function setCapacityError(text) {
  $('capacity-error').textContent = text;
  $('capacity-error').hidden = !text;
}
$('capacity-input').addEventListener('input', () => setCapacityError(''));
$('capacity-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  // Checked here, in the host's words; the host checks again (and refuses with its own).
  const typed = parseCapacity($('capacity-input').value, { max: LIMITS.maxCapacity, guests: guestCount() });
  if (!typed.ok) return setCapacityError(typed.message);
  try {
    renderSession(await invoke('set_capacity', { maxMembers: typed.value }), true);
    setCapacityError('');
  } catch (err) {
    setCapacityError(plain(err.message));
  }
});

$('rename-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    renderSession(await invoke('rename', { name: $('party-name').value }), true);
    $('party-name').blur();
  } catch (err) {
    fail(err);
  }
});

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.append(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (err) {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}
$('copy-url').addEventListener('click', async () => {
  if (!view) return;
  const ok = await copyText(view.joinUrl);
  $('copy-url').textContent = ok ? 'Copied' : 'Copy failed';
  setTimeout(() => ($('copy-url').textContent = 'Copy'), 1500);
});

// The QR code, full window, for reading across the room.
$('qr').addEventListener('click', () => ($('qr-big').hidden = false));
$('qr-big').addEventListener('click', () => ($('qr-big').hidden = true));
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') $('qr-big').hidden = true;
});

// ============================== Browse: find and join another party ==========================

async function refreshBrowse() {
  try {
    renderBrowse(await invoke('browse_sessions'));
  } catch (e) {
    fail(e);
  }
}

// The whole list, from `browse_sessions` or a `browse-event` (sent on every change).
let shownBrowse = '';
function renderBrowse(b) {
  // Unchanged lists are left alone, so a button is never replaced under the pointer.
  const key = JSON.stringify(b);
  if (key === shownBrowse) return;
  shownBrowse = key;
  const ul = $('browse-list');
  ul.textContent = '';
  for (const s of b.sessions) {
    const li = el('li', 'session', 'browse-item');
    li.dataset.session = s.sessionId;
    const who = el('div');
    const name = said('strong', null, 'browse-item-name', s.name);
    const meta = [s.members + ' of ' + s.capacity];
    if (s.locked) meta.push('locked');
    meta.push(s.address);
    who.append(name, el('p', 'muted', 'browse-item-meta', meta.join(' · ')));
    li.append(who);
    if (s.own) {
      li.append(el('span', 'badge', 'browse-item-own', 'Your party'));
    } else {
      const pick = el('button', 'small', 'browse-item-join', 'Join…');
      pick.type = 'button';
      pick.disabled = s.locked;
      pick.title = s.locked ? 'The host has locked this party' : 'Join with its room code';
      pick.addEventListener('click', () => {
        $('join-address').value = s.address;
        $('join-code').value = '';
        $('join-code').focus();
      });
      li.append(pick);
    }
    ul.append(li);
  }
  const empty = $('browse-empty');
  empty.hidden = b.sessions.length > 0;
  empty.textContent = !b.enabled
    ? (b.error ? browseWords(b.error) + ' ' : 'Finding parties on this network is off. ') +
      'Join one by its address below.'
    : 'Looking for parties on your network… They appear here as they start.';
}
$('browse-refresh').addEventListener('click', refreshBrowse);

const DEVICE_KEY = 'partyline.desktop.deviceId';
const NAME_KEY = 'partyline.desktop.name';
const local = store('localStorage');
$('join-name').value = local.get(NAME_KEY) || '';
$('join-code').addEventListener('input', (e) => {
  const v = e.target.value.toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (v !== e.target.value) e.target.value = v;
});

let guest = null; // PartylineClient while joined to another party

function setJoinError(text) {
  $('join-error').textContent = text;
  $('join-error').hidden = !text;
}

$('join-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('join-name').value.replace(/\s+/g, ' ').trim();
  if (!$('join-address').value.trim()) return setJoinError('Type the host address shown under its QR code.');
  if (!name) return setJoinError('Type your name so people know who you are.');
  setJoinError('');
  $('join-button').disabled = true;
  let target;
  try {
    target = await invoke('resolve_join', { address: $('join-address').value, roomCode: $('join-code').value || null });
  } catch (err) {
    setJoinError(sentence(err.message));
    return;
  } finally {
    $('join-button').disabled = false;
  }
  local.set(NAME_KEY, name);
  joinParty(target, name);
});

function joinParty(target, name) {
  if (guest) guest.destroy();
  const c = new PartylineClient({
    url: target.wsUrl,
    sessionId: target.sessionId,
    sessionName: target.name,
    device: { id: deviceId(local, DEVICE_KEY, 'desktop'), name },
    protocolVersion: target.protocolVersions.indexOf(VERSIONS.partyline) >= 0 ? VERSIONS.partyline : null,
  });
  guest = c;
  c.on('change', () => c === guest && renderJoined());
  $('browse-pick').hidden = true;
  $('browse-joined').hidden = false;
  $('joined-ending').hidden = true;
  $('leave-button').hidden = false;
  $('back-button').hidden = true;
  c.connect();
  renderJoined();
}


function renderJoined() {
  const s = guest.state;
  $('joined-name').textContent = s.session.name || 'Party';
  $('joined-meta').textContent = s.members.length ? s.members.length + (s.members.length === 1 ? ' person' : ' people') : '';
  const pill = $('joined-pill');
  pill.dataset.state = s.connection;
  pill.textContent = CONNECTION_TEXT[s.connection] || s.connection;
  const over = s.connection === 'ended' || s.connection === 'failed';
  $('joined-ending').hidden = !over;
  if (over) $('joined-ending').textContent = (ENDING_TEXT[(s.ending || {}).kind] || ENDING_TEXT.failed).message;
  $('leave-button').hidden = over;
  $('back-button').hidden = !over;
  const ul = $('joined-members');
  ul.textContent = '';
  if (over) return;
  for (const m of s.members) {
    const li = el('li', 'member', 'joined-member');
    const av = el('span', 'avatar', null, initial(m.name));
    av.style.setProperty('--h', String(hue(m.id)));
    const who = el('div');
    const n = said('p', 'name', null, m.name);
    if (m.isHost) n.append(el('span', 'badge', null, 'Host'));
    if (m.id === s.selfId) n.append(el('span', 'badge', null, 'You'));
    who.append(n, el('p', 'meta', null, [m.connectionStatus, m.device].filter(Boolean).join(' · ')));
    li.append(av, who, el('span', 'latency', null, m.isHost ? '' : fmtMs(m.latency)));
    ul.append(li);
  }
}

$('leave-button').addEventListener('click', () => guest && guest.leave());
$('back-button').addEventListener('click', () => {
  if (guest) guest.destroy();
  guest = null;
  $('browse-joined').hidden = true;
  $('browse-pick').hidden = false;
  refreshBrowse();
});

// ============================== start ========================================================

if (TAURI) {
  TAURI.event.listen('host-event', (e) => onHostEvent(e.payload)).then(loadHost, loadHost);
  TAURI.event.listen('browse-event', (e) => renderBrowse(e.payload)).then(refreshBrowse, refreshBrowse);
} else {
  showStopped({ code: 'no_tauri', message: 'this page runs inside the Partyline desktop app' });
}
