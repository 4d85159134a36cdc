// The host's notifications: banners at the top of the party screen, newest first, until the
// guest dismisses them (mark_read; the dismissed ids outlive a reload in sessionStorage).
import { el } from '../shared/dom.js';
import { $, page } from './page.js';
import { KEYS, readJSON, session } from './store.js';

/** Dismissed ids kept across a reload: far more than a party's notifications. */
const KEPT_READ_IDS = 200;

const NOTE_LABEL = { info: 'From the host', warning: 'Heads up', alert: 'Important' };

const noteEls = new Map();

export function resetNotes() {
  noteEls.clear();
  $('notes').textContent = '';
}

/** The ids dismissed on this page before a reload, for this session only. */
export function readNoteIds() {
  const r = readJSON(session, KEYS.read);
  const info = page.info;
  return r && info && r.sessionId === info.sessionId && Array.isArray(r.ids) ? r.ids.slice(-KEPT_READ_IDS) : [];
}

export function renderNotes(state) {
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
  const client = page.client;
  if (!client) return;
  client.markRead(ids); // tells the host (mark_read), now or once reconnected
  if (page.info) session.set(KEYS.read, JSON.stringify({ sessionId: page.info.sessionId, ids: client.readNoteIds().slice(-KEPT_READ_IDS) }));
}
