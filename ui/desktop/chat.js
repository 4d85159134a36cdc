// The host screen's chat: the party's lines as they are said (`chat` host events), "(edited)"
// after `chat_edited`, "Message deleted" after `chat_deleted`, newest at the bottom. The host may
// delete any line (moderation): a trash button, then one confirmation, then the `delete_chat`
// command; a refusal is shown on the card. The page never lists the chat by asking: it shows
// what it heard since it opened (a `lagged` subscriber may miss lines; they stay on phones).
import { el, hue, initial, said } from '../shared/dom.js';

/** Lines the card keeps (oldest dropped first): a long evening's worth on a party screen, few
 *  enough that the page never holds thousands of rows. The host keeps more, for phones' edits. */
export const SHOWN_LINES = 300;

/** How close to the bottom (px) counts as "reading the newest": a new line scrolls into view. */
const AT_BOTTOM_PX = 24;

/** The lines the card shows, by id and in order; DOM-free (node tests). */
export class ChatLog {
  constructor(limit = SHOWN_LINES) {
    this.limit = limit;
    this.lines = new Map(); // id → { id, room, from, name, text, edited, deleted }, oldest first
    this.rooms = new Set();
  }
  /** A new line; returns the ids dropped to stay within the limit. */
  add({ id, room, from, name, text }) {
    this.lines.delete(id); // the same id twice (a replay) moves nothing but stays once
    this.lines.set(id, { id, room, from, name, text, edited: false, deleted: false });
    if (room) this.rooms.add(room);
    const dropped = [];
    for (const old of this.lines.keys()) {
      if (this.lines.size <= this.limit) break;
      this.lines.delete(old);
      dropped.push(old);
    }
    return dropped;
  }
  /** New words for a shown line; false when it is not shown (too old, or said before the page opened). */
  edit(id, text) {
    const line = this.lines.get(id);
    if (!line || line.deleted) return false;
    line.text = text;
    line.edited = true;
    return true;
  }
  /** A deleted line keeps its place and loses its words; false when it is not shown. */
  remove(id) {
    const line = this.lines.get(id);
    if (!line) return false;
    line.deleted = true;
    line.text = '';
    return true;
  }
  get(id) {
    return this.lines.get(id) || null;
  }
  /** Whether the lines come from more than one room (then each shows its room). */
  manyRooms() {
    return this.rooms.size > 1;
  }
  clear() {
    this.lines.clear();
    this.rooms.clear();
  }
}

/** What the card says when the host refused a deletion. */
export function deleteError(err) {
  if (err && err.code === 'no_such_line') return "Couldn't delete that message: the party no longer keeps it.";
  const m = (err && err.message) || String(err);
  return "Couldn't delete that message: " + m + '.';
}

const TRASH =
  '<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" stroke-width="2" ' +
  'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M4 7h16M10 11v6M14 11v6' +
  'M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12M9 7V4h6v3"/></svg>';

const $ = (id) => document.getElementById(id);

/** The Chat card (`#chat-card`), on the party screen once the party has a line;
 * `onLayout()` when it appears or goes (the screen lays itself out again). */
export function createChat({ invoke, onLayout = () => {} }) {
  let generation = null;
  const log = new ChatLog();
  const rows = new Map(); // id → li
  let asking = null; // the id whose confirmation is open

  function setError(text) {
    $('chat-error').textContent = text;
    $('chat-error').hidden = !text;
  }

  function atBottom() {
    const box = $('chat-scroll');
    return box.scrollHeight - box.scrollTop - box.clientHeight <= AT_BOTTOM_PX;
  }

  function scrollDown() {
    const box = $('chat-scroll');
    box.scrollTop = box.scrollHeight;
  }

  function setAsking(id) {
    const was = asking;
    asking = id;
    if (id) setError(''); // an old refusal says nothing about this line
    for (const other of [was, id]) if (other && rows.has(other)) fill(rows.get(other), log.get(other));
    if (id && rows.has(id)) rows.get(id)._r.no.focus({ preventScroll: true });
  }

  function row(line) {
    const li = el('li', 'chat-line', 'chat-line');
    li.dataset.id = line.id;
    const av = el('span', 'avatar');
    av.style.setProperty('--h', String(hue(line.from || line.id)));
    const main = el('div', 'chat-main');
    const head = el('p', 'chat-head');
    const name = said('span', 'chat-name', 'chat-name');
    const room = el('span', 'chat-room', 'chat-room');
    head.append(name, room);
    const body = el('p', 'chat-body');
    const text = said('span', 'chat-text', 'chat-text');
    const edited = el('span', 'chat-edited', 'chat-edited', '(edited)');
    const gone = el('span', 'chat-gone', 'chat-deleted', 'Message deleted');
    body.append(text, edited, gone);
    main.append(head, body);
    const del = el('button', 'chat-delete icon quiet', 'chat-delete');
    del.type = 'button';
    del.innerHTML = TRASH;
    del.addEventListener('click', () => setAsking(line.id));
    // The one confirmation, in the line's own row so it is plain which line goes; the host's own
    // doing, not news, so the list's live region does not read it out.
    const confirm = el('div', 'chat-confirm', 'chat-confirm');
    confirm.setAttribute('aria-live', 'off');
    const ask = el('span', 'chat-ask', null, 'Delete for everyone?');
    ask.id = 'chat-ask-' + line.id;
    const yes = el('button', 'small danger', 'chat-delete-yes', 'Delete');
    yes.type = 'button';
    yes.setAttribute('aria-describedby', ask.id);
    const no = el('button', 'small', 'chat-delete-no', 'Keep');
    no.type = 'button';
    no.addEventListener('click', () => setAsking(null));
    yes.addEventListener('click', async () => {
      yes.disabled = no.disabled = true;
      try {
        await invoke('delete_chat', { id: line.id });
        setError('');
        // The `chat_deleted` event marks it; the command's answer already says it is gone.
        onDeleted(line.id);
      } catch (err) {
        setError(deleteError(err));
      } finally {
        yes.disabled = no.disabled = false;
        if (asking === line.id) setAsking(null);
      }
    });
    confirm.append(ask, yes, no);
    li.append(av, main, del, confirm);
    li._r = { av, name, room, text, edited, gone, del, confirm, no };
    return li;
  }

  function fill(li, line) {
    const r = li._r;
    r.av.textContent = initial(line.name);
    r.name.textContent = line.name;
    r.room.textContent = '#' + line.room;
    r.room.hidden = !log.manyRooms();
    r.text.textContent = line.text;
    r.text.hidden = line.deleted;
    r.edited.hidden = !line.edited || line.deleted;
    r.gone.hidden = !line.deleted;
    li.toggleAttribute('data-deleted', line.deleted);
    li.toggleAttribute('data-edited', line.edited);
    const open = asking === line.id && !line.deleted;
    li.toggleAttribute('data-asking', open);
    r.confirm.hidden = !open;
    r.del.hidden = line.deleted || open;
    const what = line.name + "'s message";
    r.del.setAttribute('aria-label', 'Delete ' + what);
    r.del.title = 'Delete ' + what + ' for everyone';
  }

  function onDeleted(id) {
    if (!log.remove(id)) return;
    if (asking === id) asking = null;
    fill(rows.get(id), log.get(id));
  }

  function render() {
    $('chat-empty').hidden = log.lines.size > 0;
    $('chat-count').textContent = log.lines.size ? '(' + log.lines.size + ')' : '';
    const card = $('chat-card');
    if (card.hidden !== !log.lines.size) {
      card.hidden = !log.lines.size;
      onLayout();
    }
  }

  return {
    /** A party is shown; a new one (restart) starts with an empty card. */
    show(gen) {
      if (gen === generation) return;
      generation = gen;
      log.clear();
      rows.clear();
      asking = null;
      $('chat-list').textContent = '';
      setError('');
      render();
    },
    /** A `chat`, `chat_edited` or `chat_deleted` host event; false for any other. */
    onEvent(event, body) {
      if (event === 'chat') {
        const follow = atBottom();
        const rooms = log.rooms.size;
        for (const id of log.add(body)) {
          if (rows.has(id)) rows.get(id).remove();
          rows.delete(id);
          if (asking === id) asking = null;
        }
        let li = rows.get(body.id);
        if (!li) {
          li = row(body);
          rows.set(body.id, li);
        }
        fill(li, log.get(body.id));
        $('chat-list').append(li);
        // A second room: every line now says its room.
        if (log.rooms.size !== rooms) for (const [id, other] of rows) fill(other, log.get(id));
        render();
        if (follow) scrollDown();
        return true;
      }
      if (event === 'chat_edited') {
        if (log.edit(body.id, body.text)) fill(rows.get(body.id), log.get(body.id));
        return true;
      }
      if (event === 'chat_deleted') {
        onDeleted(body.id);
        return true;
      }
      return false;
    },
  };
}
