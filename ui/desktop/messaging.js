// The host screen's messaging: the Announce form (the `notify` command: a title, an optional
// message and a level, to every guest's phone), the last few announcements with how many guests
// have read each (from `notificationsRead` host events: distinct members per announcement), and
// each guest's presence (from `presence` host events) for the guest list.
import { el, said } from '../shared/dom.js';

/** How many sent announcements the card lists (newest first). */
export const SHOWN = 5;

const LEVEL_TEXT = { info: 'Info', warning: 'Warning', alert: 'Alert' };

/** "away", "busy · back in 5"; empty for online (nothing to show). */
export function presenceLabel(p) {
  if (!p || !p.status || p.status === 'online') return '';
  return p.text ? p.status + ' · ' + p.text : p.status;
}

/** Who has read which announcement: each member counts once per id, however often it says so. */
export class ReadTally {
  constructor() {
    this.byId = new Map(); // notification id → Map(member id → name)
  }
  add(memberId, name, ids) {
    for (const id of ids || []) {
      if (!this.byId.has(id)) this.byId.set(id, new Map());
      this.byId.get(id).set(memberId, name);
    }
  }
  count(id) {
    return this.byId.has(id) ? this.byId.get(id).size : 0;
  }
  names(id) {
    return this.byId.has(id) ? Array.from(this.byId.get(id).values()) : [];
  }
  clear() {
    this.byId.clear();
  }
}

/** "Not read yet", "Read by 1", "Read by 3". */
export function readText(n) {
  return n ? 'Read by ' + n : 'Not read yet';
}

/** `item` first, then the rest of `list`, at most `n` in all. */
export function newestFirst(list, item, n = SHOWN) {
  return [item].concat(list.filter((a) => a.id !== item.id)).slice(0, n);
}

const $ = (id) => document.getElementById(id);

/**
 * The Announce card and the presence the guest list shows. `onPresence()` is called when a
 * guest's presence changes (the page re-renders its list).
 */
export function createMessaging({ invoke, onPresence }) {
  let generation = null;
  let sent = []; // announcements, newest first
  const reads = new ReadTally();
  const presence = new Map(); // member id → { status, text }

  function setError(text) {
    $('announce-error').textContent = text;
    $('announce-error').hidden = !text;
  }

  function render() {
    const ul = $('announce-list');
    ul.textContent = '';
    for (const a of sent) {
      const li = el('li', 'announcement', 'announcement');
      li.dataset.level = a.level;
      li.dataset.id = a.id;
      const head = el('p', 'an-head');
      head.append(el('span', 'an-level', 'announcement-level', LEVEL_TEXT[a.level] || a.level),
        said('span', 'an-title', 'announcement-title', a.title));
      const n = reads.count(a.id);
      const meta = el('p', 'an-meta');
      const read = el('span', 'an-reads', 'announcement-reads', readText(n));
      read.dataset.count = String(n);
      if (n) read.title = 'Read by ' + reads.names(a.id).join(', ');
      const when = new Date(a.sentAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      meta.append(document.createTextNode(when + ' · '), read);
      li.append(head);
      if (a.body) li.append(said('p', 'an-body', 'announcement-body', a.body));
      li.append(meta);
      ul.append(li);
    }
    ul.hidden = !sent.length;
  }

  $('announce-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = $('announce-send');
    button.disabled = true;
    try {
      const a = await invoke('notify', {
        title: $('announce-title').value,
        body: $('announce-body').value,
        level: $('announce-level').value,
      });
      setError('');
      sent = newestFirst(sent, a);
      $('announce-title').value = '';
      $('announce-body').value = '';
      render();
    } catch (err) {
      const m = (err && err.message) || String(err);
      setError(m.charAt(0).toUpperCase() + m.slice(1) + '.');
    } finally {
      button.disabled = false;
    }
  });
  $('announce-title').addEventListener('input', () => setError(''));

  return {
    /** A party is shown; a new one (new key, restart) starts with nothing sent or read. */
    show(gen) {
      if (gen === generation) return;
      generation = gen;
      sent = [];
      reads.clear();
      presence.clear();
      setError('');
      render();
    },
    /** A `presence` or `notifications_read` host event (its name and fields); false for any other. */
    onEvent(event, body) {
      if (event === 'presence') {
        if (body.status === 'online' && !body.text) presence.delete(body.memberId);
        else presence.set(body.memberId, { status: body.status, text: body.text || null });
        onPresence();
        return true;
      }
      if (event === 'notifications_read') {
        reads.add(body.memberId, body.name, body.ids);
        render();
        return true;
      }
      return false;
    },
    /** A guest new to the list, or one who left: online (the server says so again on a fresh join). */
    forget(memberId) {
      presence.delete(memberId);
    },
    presenceOf(memberId) {
      return presence.get(memberId) || null;
    },
  };
}
