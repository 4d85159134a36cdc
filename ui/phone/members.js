// The people in the party: one row per member (name, badges, status, device, presence, latency,
// and the private-message button on another guest's row), kept in the host's order. A member who
// is simply here has no status word; one cut off says so ("Reconnecting…"), one away or busy too.
import { el, fmtMs, hue, initial } from '../shared/dom.js';
import { PRESENCE_TEXT, memberStatusText } from '../shared/texts.js';
import { openDm } from './dm.js';
import { $ } from './page.js';
import { openRename } from './rename.js';

const memberEls = new Map();

/**
 * This guest's connection, one figure wherever it shows: the round trip of their own pings, else
 * (before the first pong) the host's measure of it; none while cut off (no stale reading).
 */
export function ownLatency(state) {
  if (state.connection !== 'connected') return null;
  const me = state.members.find((m) => m.id === state.selfId);
  return state.latency != null ? state.latency : me ? me.latency : null;
}

export function resetMembers() {
  memberEls.clear();
  $('member-list').textContent = '';
}

/** Marks the row whose private-message box is open (`id` null: none). */
export function markDmOpen(id) {
  for (const [mid, li] of memberEls) li.toggleAttribute('data-dm-open', mid === id);
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
    else if (li.hasAttribute('data-self') && !$('rename-open').disabled) openRename(); // a tap on your own name
  });
  const side = el('div', 'side'); // latency, and under it the private-message button
  side.append(lat, dm);
  li.append(av, who, side);
  li._r = { av, nameText, host, you, status, device, lat, presence, dm };
  memberEls.set(id, li);
  return li;
}

export function renderMembers(state) {
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
    r.av.textContent = initial(m.name);
    r.host.hidden = !m.isHost;
    r.you.hidden = !self;
    // Our own row follows our own connection: the list is the host's last word, which cannot
    // tell us that we are the one cut off.
    const status = self && state.connection === 'reconnecting' ? 'reconnecting' : m.connectionStatus;
    li.setAttribute('data-status', status);
    li.toggleAttribute('data-host', m.isHost);
    li.toggleAttribute('data-self', self);
    r.status.setAttribute('data-status', status);
    r.status.textContent = memberStatusText(status);
    r.status.hidden = !r.status.textContent;
    r.device.textContent = m.device || '';
    r.device.hidden = !m.device;
    // The guest's own row shows the figure of their "You" card (their own pings), not a second one.
    const ms = self ? ownLatency(state) : m.latency;
    r.lat.textContent = fmtMs(ms);
    r.lat.title = self ? 'Your connection: how long a message takes to reach the host and come back'
      : 'Their connection: how long a message takes to reach the host and come back';
    const p = state.presence[m.id];
    li.setAttribute('data-presence', p ? p.status : 'online');
    r.presence.hidden = !p;
    r.presence.setAttribute('data-presence', p ? p.status : 'online');
    r.presence.textContent = p ? PRESENCE_TEXT[p.status] + (p.text ? ': ' + p.text : '') : '';
    // A private message: to another guest (the host's own row is the host's screen, not a guest).
    const canDm = !self && !m.isHost && state.extensions;
    r.dm.hidden = !canDm;
    r.dm.setAttribute('aria-label', 'Private message to ' + m.name);
    li.classList.toggle('tappable', canDm || self);
    li.title = self ? 'Edit your name' : '';
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
