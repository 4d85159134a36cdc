// The host's notifications: banners at the top of the party screen, newest first, until the
// guest dismisses them (mark_read; the dismissed ids outlive a reload in sessionStorage). The
// links the host attached (`actions`) show under the text; only http(s) ones, opened apart
// from this page (noopener: the page that opens cannot reach this one, where the key lives).
import { el } from '../shared/dom.js';
import { $, page } from './page.js';
import { KEYS, readJSON, session } from './store.js';

/** Dismissed ids kept across a reload: far more than a party's notifications. */
const KEPT_READ_IDS = 200;

const NOTE_LABEL = { info: 'From the host', warning: 'Heads up', alert: 'Important' };

const noteEls = new Map();

/** Each notification's links, by id, read from the messages as they come. */
const actionsById = new Map();
const watched = new WeakSet();

/** An action's URL if it is an http(s) one (the host sends no other; a page never trusts that). */
function safeUrl(url) {
  try {
    const u = new URL(String(url));
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch (e) {
    return null;
  }
}

/** Keeps one notification's links, if it has any. */
function keepActions(n) {
  if (!n || n.id == null || !Array.isArray(n.actions)) return;
  const links = n.actions
    .map((a) => ({ label: String((a && a.label) || '').trim(), url: safeUrl(a && a.url) }))
    .filter((a) => a.label && a.url)
    .slice(0, 3);
  if (links.length) actionsById.set(String(n.id), links);
}

/**
 * Keeps the actions of the notifications a client receives (its state keeps only the text): live
 * ones, and those a `chat.history` brings back after an absence.
 */
function watch(client) {
  if (!client || watched.has(client)) return;
  watched.add(client);
  client.on('message', (m) => {
    if (m.type === 'notification') keepActions(m);
    else if (m.type === 'chat.history' && Array.isArray(m.notifications)) m.notifications.forEach(keepActions);
  });
}

function actionLinks(id) {
  const links = actionsById.get(id);
  if (!links) return null;
  const p = el('p', 'note-body note-actions', 'notification-actions');
  links.forEach((link, i) => {
    const a = el('a', 'note-action', 'notification-action', link.label);
    a.href = link.url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    if (i > 0) p.append(' · ');
    p.append(a);
  });
  return p;
}

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
  watch(page.client);
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
      const links = actionLinks(n.id);
      if (links) text.append(links);
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
