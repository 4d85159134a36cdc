// The chat: lines from everyone, private messages marked so, undeliverable ones, and a note
// when the page's state was rebuilt (messages from while it was away may be missing).
import { el } from '../shared/dom.js';
import { limitInput } from '../shared/text.js';
import { LIMITS } from '../shared/wire.js';
import { dmFailedText } from './dm.js';
import { $, page } from './page.js';

/** Within this many pixels of the bottom, a new line scrolls the list down with it. */
const FOLLOW_PX = 80;

const chatEls = new Map();
let noteEl = null;
let noticeAt = null;

export function resetChat() {
  chatEls.clear();
  $('chat-list').textContent = '';
  noteEl = null;
  noticeAt = null;
}

export function renderChat(state) {
  const list = $('chat-list');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < FOLLOW_PX;
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

limitInput($('chat-input'), LIMITS.maxChatChars);

$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('chat-input');
  if (page.client && page.client.sendChat(input.value)) input.value = '';
});
