// The chat: lines from everyone, private messages marked so, undeliverable ones, and a note
// when the page's state was rebuilt (messages from while it was away may be missing). The guest's
// own lines have a "⋯" button (a tap, not a hover) with Edit (the words in a field, Save/Cancel)
// and Delete (asked once); a line anyone edited says "(edited)", a deleted one "Message deleted".
// Each line shows when it was said; "New messages" stands before the first line the guest has not
// seen (said while the page was hidden, or before a reload or a resume brought it: unseen.js).
import { el } from '../shared/dom.js';
import { limitInput } from '../shared/text.js';
import { LIMITS } from '../shared/wire.js';
import { dmFailedText } from './dm.js';
import { $, page } from './page.js';
import { KEYS, readJSON, session } from './store.js';
import { UnseenMark, chatTime } from './unseen.js';

/** Within this many pixels of the bottom, a new line scrolls the list down with it. */
const FOLLOW_PX = 80;

const chatEls = new Map();
/** key → the entry each line was drawn from: the client replaces an entry when it changes. */
const drawn = new Map();
let noteEl = null;
let noticeAt = null;
/** Which own line has its actions open ('menu' | 'edit' | 'confirm'); one at a time. */
let openLine = { id: null, mode: null };
let mark = new UnseenMark(null);
const divider = el('li', 'msg unseen', 'chat-new', 'New messages');
divider.setAttribute('role', 'separator');

/** The newest line this guest saw in this party, kept for a reload (sessionStorage). */
function savedSeenAt() {
  const saved = readJSON(session, KEYS.seen);
  return saved && page.info && saved.sessionId === page.info.sessionId ? saved.at : null;
}

/** The connection became live (`welcome` / `resumed`, at the host's time `at`). */
export function chatLive(at) {
  if (typeof at === 'number') mark.live(at);
}

export function resetChat() {
  mark = new UnseenMark(savedSeenAt());
  divider.remove();
  chatEls.clear();
  drawn.clear();
  $('chat-list').textContent = '';
  noteEl = null;
  noticeAt = null;
  openLine = { id: null, mode: null };
  $('chat-error').hidden = true;
}

const REFUSED_WHY = {
  not_yours: "it isn't yours",
  no_such_line: "it's too old, or gone",
  bad_chat: 'the words are empty or too long',
  offline: "you're offline, try again in a moment",
};

function showChatError(kind, reason) {
  const what = kind === 'delete' ? 'delete' : kind === 'edit' ? 'edit' : 'change';
  const why = REFUSED_WHY[reason];
  $('chat-error').textContent = "Couldn't " + what + ' that message' + (why ? ': ' + why : '') + '.';
  $('chat-error').hidden = false;
}

/** Why the client would not send an edit or a deletion: offline, or (null) nothing to say. */
function unsentWhy(c) {
  return !c || c.state.connection !== 'connected' ? 'offline' : null;
}

/** The client's `chatrefused` event: the host said no to an edit or a deletion of ours. */
export function onChatRefused(r) {
  showChatError(r.kind, r.reason);
  if (r.id != null && openLine.id === r.id) setOpen(null, null);
}

/** The line with this id as the client has it, if it is a plain chat line. */
function entryOf(id) {
  const c = page.client;
  return c ? c.state.chat.find((m) => m.id === id && !m.kind) : null;
}

/** Opens `mode` on the own line `id` (closing any other), or closes everything (null). */
function setOpen(id, mode, focus) {
  const was = openLine.id;
  openLine = { id: id, mode: mode };
  if (id != null) $('chat-error').hidden = true; // an old refusal says nothing about this
  for (const other of new Set([was, id])) if (other != null) redraw(other);
  if (focus) focusIn(id != null ? id : was, focus);
}

function redraw(id) {
  const li = chatEls.get('id:' + id);
  const m = entryOf(id);
  if (li && m) drawLine(li, m, page.client.state);
}

function focusIn(id, testid) {
  const li = chatEls.get('id:' + id);
  const target = li && li.querySelector('[data-testid="' + testid + '"]');
  if (target) target.focus({ preventScroll: true });
}

function button(testid, text, cls) {
  const b = el('button', cls || 'small', testid, text);
  b.type = 'button';
  return b;
}

/**
 * Draws a plain chat line (again) from its entry and the open actions, the focus kept on the same
 * control if it was in the line (an edit arriving redraws the line under the guest's finger).
 */
function drawLine(li, m, state) {
  const active = document.activeElement;
  const had = active && li.contains(active) ? active.getAttribute('data-testid') : null;
  fillLine(li, m, state);
  if (had && !li.contains(document.activeElement)) {
    const again = li.querySelector('[data-testid="' + had + '"]');
    if (again) again.focus({ preventScroll: true });
  }
}

/** A drawn line's parts: its head (author, "⋯"), its words, and its actions or editor. */
const lineParts = new WeakMap();

function fillLine(li, m, state) {
  const mine = m.from === state.selfId;
  const own = mine && m.id != null && !m.deleted;
  if (!own && openLine.id === m.id) openLine = { id: null, mode: null }; // deleted under the open actions
  const mode = own && openLine.id === m.id ? openLine.mode : null;
  drawn.set('id:' + m.id, m);
  let p = lineParts.get(li);
  if (!p) {
    p = { head: el('div', 'msg-head'), author: el('span', 'author', 'chat-author'), more: null,
      body: el('div', 'msg-body'), extra: el('div', 'msg-extra'), entry: null, mode: null };
    // The line's parts stay put and only what changed is redrawn: the list is a live region, and
    // the actions and the editor (the guest's own doing, not news) are kept out of it.
    p.extra.setAttribute('aria-live', 'off');
    p.head.append(p.author, timeEl(m.timestamp));
    li.append(p.head, p.body, p.extra);
    lineParts.set(li, p);
  }
  li.className = 'msg' + (mine ? ' mine' : '') + (m.deleted ? ' deleted' : '') + (mode === 'edit' ? ' editing' : '');
  li.toggleAttribute('data-deleted', !!m.deleted);
  li.toggleAttribute('data-edited', !!m.editedAt && !m.deleted);
  p.author.textContent = mine ? 'You' : m.name || 'Someone';
  if (own && !p.more) {
    p.more = button('chat-actions', '⋯', 'msg-more');
    p.more.setAttribute('aria-label', 'Edit or delete your message');
    p.more.addEventListener('click', () => {
      const shown = openLine.id === m.id;
      setOpen(shown ? null : m.id, shown ? null : 'menu', shown ? 'chat-actions' : 'chat-edit');
    });
    p.head.append(p.more);
  } else if (!own && p.more) {
    p.more.remove();
    p.more = null;
  }
  if (p.more) p.more.setAttribute('aria-expanded', String(mode === 'menu' || mode === 'confirm'));
  const changed = p.entry !== m;
  if (changed) {
    p.body.textContent = '';
    if (m.deleted) p.body.append(el('span', 'text gone', 'chat-deleted', 'Message deleted'));
    else {
      p.body.append(el('span', 'text', 'chat-text', m.text));
      if (m.editedAt) p.body.append(el('span', 'edited', 'chat-edited', '(edited)'));
    }
  }
  p.body.hidden = mode === 'edit';
  if (!changed && p.mode === mode) return;
  p.entry = m;
  p.mode = mode;
  p.extra.textContent = '';
  if (mode === 'edit') p.extra.append(editForm(m));
  else if (mode === 'menu') {
    const row = el('div', 'msg-actions');
    const edit = button('chat-edit', 'Edit');
    edit.addEventListener('click', () => setOpen(m.id, 'edit', 'chat-edit-input'));
    const del = button('chat-delete', 'Delete');
    del.addEventListener('click', () => setOpen(m.id, 'confirm', 'chat-delete-no'));
    row.append(edit, del);
    p.extra.append(row);
  } else if (mode === 'confirm') {
    const row = el('div', 'msg-actions confirm');
    row.setAttribute('role', 'group');
    const ask = el('p', 'confirm-text', 'chat-delete-question', 'Delete this message?');
    ask.id = 'chat-ask-' + m.id;
    row.setAttribute('aria-labelledby', ask.id);
    const yes = button('chat-delete-yes', 'Delete', 'small danger');
    yes.addEventListener('click', () => {
      const c = page.client;
      $('chat-error').hidden = true;
      if (!c || !c.deleteChat(m.id)) return showChatError('delete', unsentWhy(c));
      setOpen(null, null);
      $('chat-input').focus({ preventScroll: true });
    });
    const no = button('chat-delete-no', 'Keep it');
    no.addEventListener('click', () => setOpen(null, null, 'chat-actions'));
    row.append(ask, yes, no);
    p.extra.append(row);
  }
}

/** The inline editor of an own line: its words in a field, Save (Enter) and Cancel (Escape). */
function editForm(m) {
  const form = el('form', 'chat-edit-form', 'chat-edit-form');
  form.setAttribute('autocomplete', 'off');
  const label = el('label', 'sr', null, 'Edit your message');
  const input = el('input', null, 'chat-edit-input');
  input.type = 'text';
  input.id = label.htmlFor = 'chat-edit-' + m.id;
  input.value = m.text;
  input.setAttribute('enterkeyhint', 'done');
  limitInput(input, LIMITS.maxChatChars);
  const row = el('div', 'msg-actions');
  const save = el('button', 'small primary', 'chat-edit-save', 'Save');
  save.type = 'submit';
  const cancel = button('chat-edit-cancel', 'Cancel');
  cancel.addEventListener('click', () => setOpen(null, null, 'chat-actions'));
  row.append(save, cancel);
  form.append(label, input, row);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const c = page.client;
    $('chat-error').hidden = true;
    const words = input.value.trim();
    if (words === m.text) return setOpen(null, null, 'chat-actions'); // nothing changed: nothing to send
    if (!words) return showChatError('edit', 'bad_chat');
    if (!c || !c.editChat(m.id, words)) return showChatError('edit', unsentWhy(c));
    setOpen(null, null, 'chat-actions');
  });
  return form;
}

export function renderChat(state) {
  const list = $('chat-list');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < FOLLOW_PX;
  const keep = new Set();
  const hidden = document.visibilityState === 'hidden';
  let added = false;
  if (state.notice && state.notice.at !== noticeAt) {
    noticeAt = state.notice.at;
    if (noteEl) noteEl.remove();
    noteEl = el('li', 'msg note', 'chat-notice', noticeText(state.notice));
    list.append(noteEl);
    added = true;
  } else if (!state.notice && noteEl) {
    noteEl.remove(); // the history brought everything back
    noteEl = null;
    noticeAt = null;
  }
  for (const m of state.chat) {
    const key = m.id != null ? 'id:' + m.id : 'seq:' + m.seq;
    keep.add(key);
    if (chatEls.has(key)) {
      if (!m.kind && m.id != null && drawn.get(key) !== m) drawLine(chatEls.get(key), m, state); // edited, deleted
      continue;
    }
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
      const head = el('div', 'msg-head');
      head.append(author, timeEl(m.timestamp));
      li.append(head, el('span', 'text', 'chat-text', m.text));
      fresh(li, key, m, out, hidden);
      list.append(li);
      chatEls.set(key, li);
      added = true;
      continue;
    }
    const li = el('li', 'msg', 'chat-message');
    if (m.id != null) li.setAttribute('data-chat-id', String(m.id));
    if (m.seq != null) li.setAttribute('data-seq', String(m.seq));
    if (m.from != null) li.setAttribute('data-from', String(m.from));
    drawLine(li, m, state);
    fresh(li, key, m, m.from === state.selfId, hidden);
    list.append(li);
    chatEls.set(key, li);
    added = true;
  }
  // What this guest sent that the host has not taken yet, below everything said: "Sending…", or
  // "Not sent" with why and Retry / Discard. Re-appended each time so it stays last.
  for (const o of state.outbox || []) {
    const key = 'out:' + o.cid + ':' + o.state;
    keep.add(key);
    let li = chatEls.get(key);
    if (!li) {
      li = drawOutbox(o);
      chatEls.set(key, li);
      added = true;
    }
    list.append(li);
  }
  for (const [key, li] of chatEls) {
    if (!keep.has(key)) {
      li.remove();
      chatEls.delete(key);
      drawn.delete(key);
      mark.forget(key);
    }
  }
  const first = mark.divider && chatEls.get(mark.divider);
  let moved = false;
  if (!first) divider.remove();
  else if (first.previousSibling !== divider) {
    list.insertBefore(divider, first);
    moved = true;
  }
  let newest = null;
  for (const m of state.chat) if (typeof m.timestamp === 'number' && (newest == null || m.timestamp > newest)) newest = m.timestamp;
  if (mark.shown(newest, hidden) && page.info) session.set(KEYS.seen, JSON.stringify({ sessionId: page.info.sessionId, at: mark.seenAt }));
  $('chat-empty').hidden = chatEls.size > 0 || !!noteEl;
  if (added && nearBottom) list.scrollTop = list.scrollHeight;
  // The mark just placed is in sight at the top, when the new lines would push it out of the list.
  if (moved) list.scrollTop = Math.min(list.scrollTop, divider.offsetTop - list.offsetTop - 8);
}

/** When a line was said, as a `<time>` ("21:04"); empty when the host gave no time. */
function timeEl(at) {
  const t = el('time', 'msg-time', 'chat-time', chatTime(at));
  if (typeof at === 'number') t.dateTime = new Date(at).toISOString();
  return t;
}

/** A line drawn for the first time: marked `data-new` when the guest had not seen it. */
function fresh(li, key, m, own, hidden) {
  li.toggleAttribute('data-new', mark.add(key, m.timestamp, own, hidden));
}

/** The note in the chat when the page's state was rebuilt. */
function noticeText(n) {
  if (n.kind === 'missed') {
    return n.count === 1
      ? 'You were away for a while: 1 message from then is no longer kept.'
      : 'You were away for a while: ' + n.count + ' messages from then are no longer kept.';
  }
  if (n.kind === 'snapshot') return 'You were away for a while: some messages may be missing.';
  return 'You rejoined the party: messages from while you were away are missing.';
}

/** Why the host refused a line, in words. */
const NOT_SENT_WHY = {
  no_such_room: 'that room is gone',
  bad_chat: 'the words are empty or too long',
  rate_limited: 'too many messages at once',
};

/** One line of the outbox. */
function drawOutbox(o) {
  const failed = o.state === 'failed';
  const li = el('li', 'msg mine outbox ' + (failed ? 'failed' : 'pending'), failed ? 'chat-failed' : 'chat-pending');
  li.setAttribute('data-cid', o.cid);
  li.append(el('span', 'author', 'chat-author', o.kind === 'direct' ? 'you → ' + (o.name || 'a guest') : 'you'));
  li.append(el('span', 'text', 'chat-text', o.text));
  if (!failed) {
    li.append(el('span', 'outbox-state', 'outbox-state', 'Sending…'));
    return li;
  }
  const why = NOT_SENT_WHY[o.reason];
  li.setAttribute('role', 'alert');
  li.append(el('span', 'outbox-state', 'outbox-state', 'Not sent' + (why ? ': ' + why : '') + '.'));
  const actions = el('div', 'msg-actions');
  const retry = el('button', 'small primary', 'outbox-retry', 'Retry');
  retry.type = 'button';
  retry.addEventListener('click', () => page.client && page.client.retryOutbox(o.cid));
  const discard = el('button', 'small', 'outbox-discard', 'Discard');
  discard.type = 'button';
  discard.addEventListener('click', () => page.client && page.client.dropOutbox(o.cid));
  actions.append(retry, discard);
  li.append(actions);
  return li;
}

limitInput($('chat-input'), LIMITS.maxChatChars);

$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('chat-input');
  if (page.client && page.client.sendChat(input.value)) input.value = '';
});

// A hidden page sees nothing: lines that come now are new when the guest looks again.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') mark.hide();
});

// Escape closes the open actions or editor of a line and puts the focus back on its "⋯".
$('chat-list').addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' || openLine.id == null) return;
  e.preventDefault();
  setOpen(null, null, 'chat-actions');
});
