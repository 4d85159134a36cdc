// SyncPlay's "Now playing" panel: what plays, the group's state, this phone's sync badge, the
// controls the host allows, the queue and the library. It draws from the player (player.js) and
// sends the panel's taps to it; the player calls renderPanel / renderTime when something changed.
import { describeSync, formatTime, targetPosition } from '../shared/syncplay.js';
import { cannotPlayText } from '../shared/texts.js';
import { $ } from './page.js';
import { isUnlocked, neverActivated, unlockAudio } from './unlock.js';

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** The playing item's length (s): the element's, else the host's `durationMs` (from its tags). */
export function durationOf(p) {
  const d = p.media.duration;
  if (Number.isFinite(d) && d > 0) return d;
  const it = p.group && p.group.itemId ? p.library.get(p.group.itemId) : null;
  return it && it.durationMs > 0 ? it.durationMs / 1000 : NaN;
}

/** "Artist · 3:25", under a library row's title. */
export const itemLine = (it) => [it.artist, it.durationMs > 0 && formatTime(it.durationMs)].filter(Boolean).join(' · ');

const SEARCH_PAUSE_MS = 250; // the search asks once typing pauses

/** The panel's inputs wired to player `p`; returns the functions that unwire them. */
export function bindControls(p) {
  const offs = [];
  const ui = (id, type, fn) => {
    const e = $(id);
    if (!e) return;
    e.addEventListener(type, fn);
    offs.push(() => e.removeEventListener(type, fn));
  };
  ui('ctl-play', 'click', () => p.command(p.group && p.group.state === 'playing' ? 'pause' : 'play'));
  ui('ctl-prev', 'click', () => p.command('previous'));
  ui('ctl-next', 'click', () => p.command('next'));
  ui('np-progress', 'click', (e) => {
    if (!p.can('playback') || !p.group || p.group.state === 'idle') return;
    const dur = durationOf(p);
    if (!Number.isFinite(dur)) return;
    const r = e.currentTarget.getBoundingClientRect();
    const f = clamp((e.clientX - r.left) / r.width, 0, 1);
    p.command('seek', { position: Math.round(f * dur * 1000) });
  });
  ui('enable-sound', 'click', () => {
    unlockAudio();
    p.render();
  });
  ui('output-delay-minus', 'click', () => p.setOutputDelay(p.outputDelay - 10));
  ui('output-delay-plus', 'click', () => p.setOutputDelay(p.outputDelay + 10));
  ui('output-delay', 'change', (e) => p.setOutputDelay(parseFloat(e.target.value)));
  ui('library-list', 'click', (e) => listClick(p, e));
  let pause = null;
  ui('library-search', 'input', (e) => {
    clearTimeout(pause);
    const q = e.target.value;
    pause = setTimeout(() => { p.lib.search(q); p.render(); }, SEARCH_PAUSE_MS);
  });
  ui('library-search', 'search', (e) => { p.lib.search(e.target.value); p.render(); });
  ui('library-more', 'click', () => p.lib.more());
  offs.push(() => clearTimeout(pause));
  ui('queue-list', 'click', (e) => listClick(p, e));
  return offs;
}

function listClick(p, e) {
  const btn = e.target.closest('button[data-action]');
  if (!btn) return;
  const a = btn.dataset.action;
  if (a === 'play') p.command('play', { itemId: btn.dataset.itemId });
  else if (a === 'queue') p.command('queue.add', { itemId: btn.dataset.itemId });
  else if (a === 'remove') p.command('queue.remove', { entryId: btn.dataset.entryId });
}

/** Draws the whole panel from player `p`. */
export function renderPanel(p) {
  const panel = $('now-playing');
  if (!panel) return;
  const s = p.group;
  const active = !!(s && s.state !== 'idle' && s.entryId);
  const lib = p.lib;
  const visible = active || lib.total > 0 || !!lib.q;
  panel.hidden = !visible;
  $('np-lists').hidden = !visible;
  if (!visible) return;
  const item = s && s.itemId ? p.library.get(s.itemId) : null;
  $('np-title').textContent = active ? (item ? item.title : 'Loading…') : 'Nothing playing';
  panel.dataset.state = s ? s.state : 'idle';
  panel.dataset.status = p.status;
  const STATE = { waiting: 'Getting ready…', paused: 'Paused', playing: 'Playing', idle: '' };
  const dur = durationOf(p);
  const finished = active && s.state === 'playing' && Number.isFinite(dur) && targetPosition(s, p.serverNowUs()) >= dur * 1000;
  $('np-state').textContent = finished ? 'Finished' : active ? STATE[s.state] || s.state : p.can('playback') ? 'Pick something from the library.' : 'The host will pick the music.';
  $('np-state').dataset.state = s ? s.state : 'idle';
  const blocked = p.status === 'blocked' || (active && !isUnlocked() && neverActivated());
  $('enable-sound').hidden = !blocked;
  const badgeStatus = blocked ? 'blocked' : p.status === 'error' ? 'error' : p.status === 'buffering' ? 'buffering'
    : p.status === 'seeking' ? 'seeking' : s && s.state === 'playing' && p.status === 'playing' ? 'playing' : 'other';
  const b = describeSync(p.error, badgeStatus);
  // A phone that cannot play says so, and why when the element knows; never a sync figure.
  if (badgeStatus === 'error') b.text = cannotPlayText(p.media.error && p.media.error.code);
  const badge = $('sync-badge');
  badge.textContent = b.text;
  badge.dataset.kind = b.kind;
  badge.hidden = !b.text;
  if (Number.isFinite(p.error) && badgeStatus !== 'error') badge.dataset.errorMs = String(Math.round(p.error * 10) / 10);
  else delete badge.dataset.errorMs;
  // controls
  const canPlay = p.can('playback');
  const canQueue = p.can('queue');
  $('np-controls').hidden = !canPlay || !active;
  const playing = s && s.state === 'playing';
  const pb = $('ctl-play');
  pb.dataset.action = playing ? 'pause' : 'play';
  pb.setAttribute('aria-label', playing ? 'Pause' : 'Play');
  pb.innerHTML = playing ? ICON.pause : ICON.play;
  $('np-progress').classList.toggle('seekable', canPlay && active);
  if (document.activeElement !== $('output-delay')) $('output-delay').value = String(p.outputDelay);
  $('output-delay-summary').textContent = p.outputDelay + ' ms';
  const n = p.notice && p.notice.until > p.now() ? p.notice.text : '';
  $('np-notice').textContent = n;
  $('np-notice').hidden = !n;
  renderTime(p);
  renderLists(p, canPlay, canQueue);
}

/** The position, the bar and the sync badge: redrawn on every tick of the correction loop. */
export function renderTime(p) {
  const s = p.group;
  const bar = $('np-bar');
  if (!bar) return;
  const active = !!(s && s.state !== 'idle' && s.entryId);
  const dur = durationOf(p);
  let pos = active ? targetPosition(s, p.serverNowUs()) : 0;
  if (Number.isFinite(dur)) pos = Math.min(pos, dur * 1000);
  $('np-position').textContent = active ? formatTime(pos) : '0:00';
  $('np-duration').textContent = Number.isFinite(dur) && active ? formatTime(dur * 1000) : '–:––';
  bar.style.width = Number.isFinite(dur) && dur > 0 && active ? ((pos / (dur * 1000)) * 100).toFixed(2) + '%' : '0%';
  $('np-progress').setAttribute('aria-valuenow', String(Math.round(pos / 1000)));
  if (p.status === 'playing' || p.status === 'seeking') {
    const b = describeSync(p.error, p.status === 'seeking' ? 'seeking' : s && s.state === 'playing' ? 'playing' : 'other');
    const badge = $('sync-badge');
    if (badge.textContent !== b.text) {
      badge.textContent = b.text;
      badge.dataset.kind = b.kind;
      badge.hidden = !b.text;
    }
    if (Number.isFinite(p.error)) badge.dataset.errorMs = String(Math.round(p.error * 10) / 10);
  }
  if (p.notice && p.notice.until <= p.now() && !$('np-notice').hidden) {
    p.notice = null;
    $('np-notice').hidden = true;
  }
}

function renderLists(p, canPlay, canQueue) {
  const s = p.group;
  const queue = (s && Array.isArray(s.queue) && s.queue) || [];
  // Rebuilt only when something shown changed.
  const known = queue.map((q) => !!p.library.get(q.itemId));
  const lib = p.lib;
  const sig = JSON.stringify([lib.items.map((i) => i.id), lib.total, lib.q, known, queue, canPlay, canQueue, s && s.state !== 'idle' ? s.entryId : null]);
  if (sig === p.listSig) return;
  p.listSig = sig;
  lib.want(queue.map((q) => q.itemId));
  const ql = $('queue-list');
  ql.textContent = '';
  for (const q of queue) {
    const it = p.library.get(q.itemId);
    const li = document.createElement('li');
    li.className = 'np-row';
    li.setAttribute('data-testid', 'queue-entry');
    li.dataset.entryId = q.entryId;
    const now = s && q.entryId === s.entryId && s.state !== 'idle';
    if (now) li.setAttribute('data-current', '');
    const t = document.createElement('span');
    t.className = 'np-row-title';
    t.textContent = (it ? it.title : '…');
    if (now) {
      const tag = document.createElement('span');
      tag.className = 'badge';
      tag.textContent = 'Now';
      t.append(tag);
    }
    li.append(t);
    if (canQueue) li.append(rowButton('Remove', 'remove', 'queue-remove', { entryId: q.entryId }));
    ql.append(li);
  }
  $('queue-empty').hidden = queue.length > 0;
  const ll = $('library-list');
  ll.textContent = '';
  for (const it of lib.items) {
    const li = document.createElement('li');
    li.className = 'np-row';
    li.setAttribute('data-testid', 'library-item');
    li.dataset.itemId = it.id;
    if (it.cover && p.mediaUrl) {
      const img = document.createElement('img');
      img.className = 'np-cover';
      img.alt = '';
      img.loading = 'lazy';
      img.width = img.height = 36;
      img.src = p.mediaUrl(it.cover);
      li.append(img);
    }
    const t = document.createElement('span');
    t.className = 'np-row-title';
    t.dir = 'auto';
    t.textContent = it.title;
    const line = itemLine(it);
    if (line) {
      const sub = document.createElement('span');
      sub.className = 'np-row-sub';
      sub.setAttribute('data-testid', 'library-item-line');
      sub.dir = 'auto';
      sub.textContent = line;
      li.append(t, sub);
    } else li.append(t);
    if (canPlay) li.append(rowButton('Play', 'play', 'library-play', { itemId: it.id }));
    if (canQueue) li.append(rowButton('Queue', 'queue', 'library-queue', { itemId: it.id }));
    ll.append(li);
  }
  const searching = !!lib.q;
  $('library-section').hidden = lib.total === 0 && !searching;
  $('library-count').textContent = String(searching ? lib.total + ' found' : lib.total);
  const more = $('library-more');
  if (more) {
    const left = lib.total - lib.items.length;
    more.hidden = left <= 0;
    more.textContent = 'Show more (' + left + ' more)';
  }
  const none = $('library-none');
  if (none) none.hidden = !(searching && lib.total === 0);
  if (!p.libraryOpened && lib.total) {
    // A short library starts open; a long one stays out of the way of the people and the chat.
    p.libraryOpened = true;
    $('library-section').open = lib.total <= 6;
  }
  $('queue-section').hidden = queue.length === 0 && !canQueue;
}

function rowButton(text, action, testid, data) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'small';
  b.textContent = text;
  b.dataset.action = action;
  b.setAttribute('data-testid', testid);
  for (const k of Object.keys(data)) b.dataset[k] = data[k];
  return b;
}

const svg = (d) => '<svg viewBox="0 0 24 24" width="26" height="26" fill="currentColor" aria-hidden="true">' + d + '</svg>';
const ICON = {
  play: svg('<path d="M7 4.5v15a1 1 0 0 0 1.5.86l12-7.5a1 1 0 0 0 0-1.72l-12-7.5A1 1 0 0 0 7 4.5z"/>'),
  pause: svg('<rect x="5.5" y="4" width="4.5" height="16" rx="1"/><rect x="14" y="4" width="4.5" height="16" rx="1"/>'),
};
