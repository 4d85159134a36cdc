// The host screen's SyncPlay panel: the shared media folder, the library and the queue, the
// transport (play/pause, seek, previous/next, speed, start anyway), what guests may control, and
// how in sync each phone is. The party's SyncPlay runs in Rust (src-tauri/src/syncplay.rs); this
// calls its commands and follows its `syncPlay` / `playbackProgress` host events.
import { SYNC_DEFAULTS, formatTime, targetPosition } from '../shared/syncplay.js';
import { el, said } from '../shared/dom.js';
import { plain } from './words.js';

/** A phone within this many ms of the group counts as in sync (the phone's own badge agrees). */
export const IN_SYNC_MS = SYNC_DEFAULTS.deadband + 5;

/** A playing phone reports about once a second; older than this, its report is stale. */
export const STALE_US = 4_000_000;

const REFRESH_MS = 3000; // re-read the panel (members who left, names, the library's revision)
const SEARCH_PAUSE_MS = 250; // the library search asks the host once typing pauses

const STATE_TEXT = { idle: 'Nothing playing', waiting: 'Waiting for the phones to load…', paused: 'Paused', playing: 'Playing' };
const DEVICE_TEXT = {
  ready: 'ready', playing: 'playing', paused: 'paused', buffering: 'buffering', error: 'cannot play', ended: 'ended',
  stale: 'no report', behind: 'catching up',
};

/**
 * Classifies each member's last report: `inSync`, `behind` (playing but further off than
 * IN_SYNC_MS), `stale` (nothing recent while the group plays), or its own state.
 */
export function classify(sync, group, nowUs) {
  if (group === 'playing' && nowUs - sync.at > STALE_US) return 'stale';
  if (sync.state === 'playing') {
    if (!Number.isFinite(sync.errorMs)) return 'playing';
    return Math.abs(sync.errorMs) <= IN_SYNC_MS ? 'inSync' : 'behind';
  }
  return sync.state;
}

/** The room in one line: "5 in sync within 3 ms · 1 buffering". Empty when nobody reports. */
export function summarize(members, group, nowUs) {
  const counts = new Map();
  let worst = 0;
  for (const m of members) {
    const kind = classify(m, group, nowUs);
    counts.set(kind, (counts.get(kind) || 0) + 1);
    if (kind === 'inSync') worst = Math.max(worst, Math.abs(m.errorMs));
  }
  const parts = [];
  if (counts.has('inSync')) parts.push(counts.get('inSync') + ' in sync within ' + Math.max(1, Math.ceil(worst)) + ' ms');
  for (const kind of ['behind', 'playing', 'buffering', 'ready', 'paused', 'ended', 'error', 'stale']) {
    if (counts.has(kind)) parts.push(counts.get(kind) + ' ' + DEVICE_TEXT[kind]);
  }
  return parts.join(' · ');
}

/** What a phone's row says for its error: the error while it plays, else "—" (a phone that
 * cannot play, or has not started, has no error: "±0.0 ms" would read as perfect sync). */
export function errorText(kind, ms) {
  return kind === 'inSync' || kind === 'behind' || kind === 'playing' ? formatError(ms) : '—';
}

/** "+2.4 ms" / "−12 ms" (ahead / behind the group). */
export function formatError(ms) {
  if (!Number.isFinite(ms)) return '—';
  const a = Math.abs(ms);
  const v = a < 10 ? a.toFixed(1) : String(Math.round(a));
  return (ms > 0 ? '+' : ms < 0 ? '−' : '±') + v + ' ms';
}

/** Where the web view loads item `it`'s cover from, or `null` when its tags hold none: the
 * app's `cover:` scheme, by id (src-tauri/src/syncplay.rs; the host's own `/media/.cover/` is
 * not the page's origin). Windows and Android reach custom schemes as `http://<scheme>.localhost/`. */
export function coverSrc(it, userAgent) {
  if (!it || !it.cover) return null;
  const base = /Windows|Android/.test(userAgent || '') ? 'http://cover.localhost/' : 'cover://localhost/';
  return base + encodeURIComponent(it.id);
}

/** A library row's picture: the item's cover, or an empty square of the same size (the rows'
 * columns stay in line). `kept` holds the pictures made before, by src (the list is drawn again
 * on every refresh, and a picture made afresh would load, and blink, each time); `now` is told
 * the ones listed this time. */
function coverCell(it, kept, now) {
  const src = coverSrc(it, navigator.userAgent);
  if (!src) return el('span', 'sp-cover sp-cover-none');
  let img = kept.get(src);
  if (!img) {
    img = el('img', 'sp-cover', 'sp-item-cover');
    Object.assign(img, { alt: '', loading: 'lazy', width: 32, height: 32, src });
  }
  now.set(src, img);
  return img;
}

function button(text, testid, title, onClick, cls = 'small') {
  const b = el('button', cls, testid, text);
  b.type = 'button';
  if (title) b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

/**
 * Wires the panel. `invoke(cmd, args)` calls a command (rejects with `{code, message}`),
 * `fail(err)` shows an error, `toast(text)` a note, `onNow(now)` is told what the party screen
 * shows as now playing (`{ title, cover, state, kind, positionMs, durationMs, sync }`, or `null`;
 * `cover` is the picture's URL or `null`).
 * Returns the hooks app.js calls.
 */
/**
 * The position slider and the times for a song at `posMs` of `durMs` (0: its length is unknown,
 * as an MP3 with no tags can be): with no length the slider is empty and disabled, not full,
 * and the end reads "–:––"; the time played still counts up.
 */
export function seekView(active, posMs, durMs) {
  const pos = Math.max(0, active ? (durMs ? Math.min(posMs, durMs) : posMs) : 0);
  if (!durMs) return { max: 1, value: 0, disabled: true, unknown: true, pos: formatTime(pos), dur: '–:––' };
  return { max: durMs, value: Math.round(pos), disabled: !active, unknown: false, pos: formatTime(pos), dur: formatTime(durMs) };
}

export function createSyncPlay({ invoke, fail, toast, onNow = () => {} }) {
  const $ = (id) => document.getElementById(id);
  let generation = null; // the host this panel shows
  let data = null; // PlaybackView
  let offsetUs = 0; // host clock − this page's clock
  let refreshTimer = null;
  let tickTimer = null;
  let seeking = false; // the slider is held
  // The folder field holds text the host typed and has not shared: the 3-second refresh leaves
  // it alone (focused or not) until it is shared or put back (Esc).
  let folderEdited = false;
  const syncs = new Map(); // memberId → MemberSyncView
  const rows = new Map(); // memberId → its row's elements, kept so a held volume slider survives updates
  const volumes = new Map(); // memberId → the volume (0–100) this panel last set on that phone

  // The library list: a page at a time from the host (`library_page`), searched or not.
  const lib = { q: '', items: [], total: 0, revision: null, asking: false };
  let covers = new Map(); // cover src → its <img>, for the items listed (see coverCell)
  const nowUs = () => Date.now() * 1000 + offsetUs;
  const item = (id) => (data && data.queued.find((i) => i.id === id)) || lib.items.find((i) => i.id === id) || null;
  const position = () => (data ? targetPosition(data.state, nowUs()) : 0);

  async function command(cmd, args) {
    try {
      const state = await invoke(cmd, args);
      if (data) data.state = state;
      render();
      return state;
    } catch (e) {
      fail(e);
      return null;
    }
  }
  const play = (c) => command('syncplay_command', { command: c });

  async function refresh() {
    if (generation == null) return;
    try {
      apply(await invoke('playback'));
    } catch (e) {
      if (e && e.code !== 'not_hosting') fail(e);
    }
  }

  /** Reads the library's first page again (`more`: the next one) for the search shown. */
  async function loadLibrary(more) {
    if (lib.asking && more) return;
    const q = lib.q;
    const offset = more ? lib.items.length : 0;
    lib.asking = true;
    try {
      const page = await invoke('library_page', { q, offset, limit: 100 });
      if (q !== lib.q) return; // a newer search is on its way
      lib.items = more && offset === lib.items.length ? lib.items.concat(page.items) : page.items;
      lib.total = page.total;
      lib.revision = page.revision;
      if (data) renderLibrary();
    } catch (e) {
      if (e && e.code !== 'not_hosting') fail(e);
    } finally {
      lib.asking = false;
    }
  }

  function apply(view) {
    if (view.libraryRevision !== lib.revision) {
      lib.revision = view.libraryRevision;
      loadLibrary(false);
    }
    data = view;
    offsetUs = view.now - Date.now() * 1000;
    syncs.clear();
    for (const m of view.members) syncs.set(m.memberId, m);
    const field = $('sp-folder');
    if (!folderEdited && document.activeElement !== field) field.value = view.mediaFolder || '';
    render();
  }

  // ---- folder ----
  $('sp-folder').addEventListener('input', () => {
    folderEdited = true;
    renderFolder();
  });
  $('sp-folder').addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !data) return;
    folderEdited = false;
    e.target.value = data.mediaFolder || '';
    renderFolder();
  });
  $('sp-folder-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const path = $('sp-folder').value.trim();
    const set = $('sp-folder-set');
    set.disabled = true;
    try {
      const view = await invoke('set_media_folder', { path: path || null });
      folderEdited = false;
      if (view) apply(view);
      $('sp-folder').blur();
      toast(path ? 'Sharing ' + path + ': guests got the new library.' : 'Sharing no media now.');
    } catch (err) {
      fail(err);
    } finally {
      set.disabled = false;
    }
  });

  // ---- library ----
  let pause = null;
  $('sp-library-search').addEventListener('input', (e) => {
    clearTimeout(pause);
    pause = setTimeout(() => {
      lib.q = e.target.value.trim();
      loadLibrary(false);
    }, SEARCH_PAUSE_MS);
  });
  $('sp-library-more').addEventListener('click', () => loadLibrary(true));

  // ---- transport ----
  $('sp-play').addEventListener('click', () => {
    const s = data && data.state.state;
    play(s === 'playing' ? { command: 'pause' } : { command: 'play' });
  });
  $('sp-prev').addEventListener('click', () => play({ command: 'previous' }));
  $('sp-next').addEventListener('click', () => play({ command: 'next' }));
  $('sp-back').addEventListener('click', () => play({ command: 'seek', position: Math.max(0, position() - 10000) }));
  $('sp-fwd').addEventListener('click', () => {
    const it = data && item(data.state.itemId);
    let to = position() + 10000;
    if (it && it.durationMs) to = Math.min(to, Math.max(0, it.durationMs - 500));
    play({ command: 'seek', position: to });
  });
  $('sp-start-anyway').addEventListener('click', () => play({ command: 'startAnyway' }));
  $('sp-rate').addEventListener('change', (e) => play({ command: 'setRate', rate: Number(e.target.value) }));
  const seek = $('sp-seek');
  seek.addEventListener('input', () => {
    seeking = true;
    $('sp-pos').textContent = formatTime(Number(seek.value));
  });
  seek.addEventListener('change', async () => {
    await play({ command: 'seek', position: Number(seek.value) });
    seeking = false;
  });

  // ---- permissions ----
  for (const [id, key] of [['sp-perm-playback', 'playback'], ['sp-perm-queue', 'queue']]) {
    $(id).addEventListener('change', async (e) => {
      if (!data) return;
      const want = Object.assign({}, data.state.permissions, { [key]: e.target.checked });
      if (!(await command('set_permissions', want))) e.target.checked = !e.target.checked;
    });
  }

  // ---- rendering ----
  function render() {
    const panel = $('sp-body');
    if (!data) {
      panel.hidden = true;
      onNow(null);
      return;
    }
    panel.hidden = false;
    const s = data.state;
    const current = item(s.itemId);
    const active = s.state !== 'idle' && !!s.entryId;
    $('syncplay-panel').dataset.state = s.state;
    $('sp-title').textContent = active ? (current ? current.title : 'A file no longer shared') : 'Nothing playing';
    $('sp-state').textContent = active ? STATE_TEXT[s.state] + (s.rate !== 1 ? ' · ' + s.rate + '×' : '') : data.libraryTotal ? 'Pick something from the library.' : '';
    $('sp-state').dataset.state = s.state;
    const pb = $('sp-play');
    const playing = s.state === 'playing';
    pb.dataset.action = playing ? 'pause' : 'play';
    pb.textContent = playing ? 'Pause' : 'Play';
    pb.setAttribute('aria-label', playing ? 'Pause for everyone' : 'Play for everyone');
    for (const id of ['sp-back', 'sp-fwd', 'sp-prev', 'sp-next']) $(id).disabled = !active;
    pb.disabled = !active && !s.queue.length;
    $('sp-start-anyway').hidden = s.state !== 'waiting';
    if (document.activeElement !== $('sp-rate')) $('sp-rate').value = String(s.rate);
    $('sp-perm-playback').checked = !!s.permissions.playback;
    $('sp-perm-queue').checked = !!s.permissions.queue;
    renderFolder();
    renderTime();
    renderSync();
    renderQueue();
    renderLibrary();
  }

  function renderFolder() {
    if (!data) return;
    const note = $('sp-folder-note');
    const n = data.libraryTotal;
    note.classList.toggle('warn', !!data.mediaProblem || !!data.mediaNote);
    if (folderEdited && $('sp-folder').value.trim() !== (data.mediaFolder || '')) note.textContent = 'Not shared yet: press Share (Esc puts the shared folder back).';
    else if (data.mediaProblem) note.textContent = 'Not shared: ' + plain(data.mediaProblem);
    else if (!data.mediaFolder) note.textContent = 'Share a folder of music or video to play it on every phone at once.';
    else if (!n) note.textContent = 'No playable files here (MP3, M4A, AAC, OGG, Opus, WAV, FLAC, WebM, MP4).' + (data.mediaNote ? ' ' + data.mediaNote : '');
    else note.textContent = n + (n === 1 ? ' file' : ' files') + ' shared. ' + (data.mediaNote ? data.mediaNote : 'Changing the folder keeps the party going.');
  }

  function renderTime() {
    if (!data) return;
    const s = data.state;
    const active = s.state !== 'idle' && !!s.entryId;
    const it = item(s.itemId);
    const view = seekView(active, active ? position() : 0, (it && it.durationMs) || 0);
    if (!seeking) {
      $('sp-pos').textContent = view.pos;
      seek.max = String(view.max);
      seek.value = String(view.value);
    }
    seek.disabled = view.disabled;
    seek.dataset.unknown = String(view.unknown);
    seek.title = view.unknown ? 'This file does not say how long it is: it cannot be skipped through' : '';
    $('sp-dur').textContent = view.dur;
    // Reports age between refreshes: the summary says who went quiet.
    renderSummary();
  }

  function renderSummary() {
    const line = summarize(Array.from(syncs.values()), data.state.state, nowUs());
    $('sp-summary').textContent = line;
    $('sp-summary').hidden = !line;
    // The party screen's "Now playing".
    const s = data.state;
    if (s.state === 'idle' || !s.entryId) return onNow(null);
    const it = item(s.itemId);
    const dur = (it && it.durationMs) || 0;
    onNow({
      title: it ? it.title : 'A file no longer shared',
      cover: coverSrc(it, navigator.userAgent),
      state: STATE_TEXT[s.state] + (s.rate !== 1 ? ' · ' + s.rate + '×' : ''),
      kind: s.state,
      positionMs: dur ? Math.min(position(), dur) : position(),
      durationMs: dur,
      sync: line,
    });
  }

  function memberRow(m) {
    let r = rows.get(m.memberId);
    if (r) return r;
    const li = el('li', 'sp-member', 'sp-member');
    li.dataset.memberId = m.memberId;
    const name = said('span', 'sp-name', 'sp-member-name');
    const state = el('span', 'sp-dstate', 'sp-member-state');
    const meter = el('span', 'sp-meter');
    meter.title = 'Error against the group: the middle is exact; each side is 50 ms';
    const dot = el('span', 'sp-dot');
    meter.append(dot);
    const err = el('span', 'sp-err', 'sp-member-error');
    const volume = el('input', 'sp-volume', 'sp-member-volume');
    Object.assign(volume, { type: 'range', min: '0', max: '100', step: '5', value: '100' });
    volume.addEventListener('change', async () => {
      const want = Number(volume.value);
      try {
        await invoke('set_member_volume', { memberId: m.memberId, volume: want / 100 });
        volumes.set(m.memberId, want);
      } catch (e) {
        fail(e);
      }
      labelVolume(r);
    });
    const vol = el('label', 'sp-vol');
    vol.append(el('span', 'sp-vol-label', null, 'Vol'), volume);
    li.append(name, state, meter, err, vol);
    r = { li, name, state, dot, err, volume };
    rows.set(m.memberId, r);
    return r;
  }

  function labelVolume(r) {
    const v = volumes.has(r.li.dataset.memberId) ? volumes.get(r.li.dataset.memberId) : 100;
    if (document.activeElement !== r.volume) r.volume.value = String(v);
    const text = 'Volume on ' + r.name.textContent + "'s device: " + v + '% (iPhones keep their own volume buttons)';
    r.volume.title = text;
    r.volume.setAttribute('aria-label', text);
  }

  function renderSync() {
    const ul = $('sp-members');
    const list = Array.from(syncs.values()).sort((a, b) => a.name.localeCompare(b.name));
    const now = nowUs();
    for (const [id, r] of rows) {
      if (!syncs.has(id)) {
        r.li.remove();
        rows.delete(id);
      }
    }
    list.forEach((m, i) => {
      const kind = classify(m, data.state.state, now);
      const r = memberRow(m);
      r.li.dataset.kind = kind;
      r.name.textContent = m.name;
      r.state.textContent = kind === 'inSync' ? 'in sync' : DEVICE_TEXT[kind] || kind;
      if (Number.isFinite(m.errorMs) && errorText(kind, m.errorMs) !== '—') {
        const x = Math.max(-50, Math.min(50, m.errorMs));
        r.dot.style.left = (50 + x) + '%';
        r.dot.hidden = false;
        r.li.dataset.errorMs = String(Math.round(m.errorMs * 10) / 10);
      } else {
        r.dot.hidden = true;
        delete r.li.dataset.errorMs;
      }
      r.err.textContent = errorText(kind, m.errorMs);
      labelVolume(r);
      // Move a row only when the order changed: moving the one being dragged would drop the drag.
      if (ul.children[i] !== r.li) ul.insertBefore(r.li, ul.children[i] || null);
    });
    $('sp-members-empty').hidden = list.length > 0;
  }

  function renderQueue() {
    const ol = $('sp-queue');
    ol.textContent = '';
    const s = data.state;
    s.queue.forEach((entry, i) => {
      const it = item(entry.itemId);
      const li = el('li', 'sp-row', 'sp-queue-entry');
      const now = entry.entryId === s.entryId;
      li.toggleAttribute('data-current', now);
      const title = said('span', 'sp-row-title', null, (i + 1) + '. ' + (it ? it.title : 'A file no longer shared'));
      const meta = el('span', 'sp-row-meta', null, now ? (s.state === 'playing' ? 'now playing' : STATE_TEXT[s.state].toLowerCase()) : it && it.durationMs ? formatTime(it.durationMs) : '');
      const remove = button('Remove', 'sp-queue-remove', 'Remove from the queue', () => play({ command: 'queue.remove', entryId: entry.entryId }), 'small quiet');
      li.append(title, meta, remove);
      ol.append(li);
    });
    $('sp-queue-empty').hidden = s.queue.length > 0;
  }

  function renderLibrary() {
    const ul = $('sp-library');
    ul.textContent = '';
    const kept = covers;
    covers = new Map(); // only the pictures of the items listed now stay
    for (const it of lib.items) {
      const li = el('li', 'sp-row', 'sp-library-item');
      li.dataset.itemId = it.id;
      li.toggleAttribute('data-current', it.id === data.state.itemId && data.state.state !== 'idle');
      const title = said('span', 'sp-row-title', 'sp-item-title', it.title);
      title.title = it.title + ' (' + it.mime + ')';
      if (it.artist || it.album) title.title = it.title + ' — ' + [it.artist, it.album].filter(Boolean).join(', ') + ' (' + it.mime + ')';
      const artist = said('span', 'sp-row-meta sp-row-artist', 'sp-item-artist', it.artist || '');
      const meta = el('span', 'sp-row-meta', 'sp-item-duration', it.durationMs ? formatTime(it.durationMs) : (it.size / 1e6).toFixed(1) + ' MB');
      const now = button('Play', 'sp-item-play', 'Play ' + it.title + ' on every phone now', () => play({ command: 'play', itemId: it.id }), 'small primary');
      const add = button('Queue', 'sp-item-queue', 'Add ' + it.title + ' to the queue', () => play({ command: 'queue.add', itemId: it.id }), 'small');
      li.append(coverCell(it, kept, covers), title, artist, meta, now, add);
      ul.append(li);
    }
    const found = lib.q ? lib.total + ' found' : String(data.libraryTotal);
    $('sp-library-count').textContent = data.libraryTotal ? '(' + found + ')' : '';
    $('sp-library-empty').hidden = lib.items.length > 0;
    $('sp-library-empty').textContent = lib.q ? 'Nothing matches.' : 'Nothing shared yet.';
    $('sp-library-search').hidden = !data.libraryTotal;
    const left = lib.total - lib.items.length;
    $('sp-library-more').hidden = left <= 0;
    $('sp-library-more').textContent = 'Show more (' + left + ' more)';
  }

  // ---- hooks for app.js ----
  return {
    /** The host screen is shown for host `gen`. */
    show(gen) {
      if (generation !== gen) {
        data = null;
        syncs.clear();
        lib.revision = null;
        lib.items = [];
      }
      generation = gen;
      render();
      refresh();
      clearInterval(refreshTimer);
      clearInterval(tickTimer);
      refreshTimer = setInterval(refresh, REFRESH_MS);
      tickTimer = setInterval(() => data && renderTime(), 250);
    },
    /** Not hosting any more. */
    hide() {
      generation = null;
      data = null;
      syncs.clear();
      clearInterval(refreshTimer);
      clearInterval(tickTimer);
      render();
    },
    /** A host event app.js does not handle itself: its name, its fields, and its host's generation. */
    onEvent(event, body, gen) {
      if (gen !== generation || !data) return;
      if (event === 'sync_play') {
        data.state = body; // the group's PlayState
        render();
      } else if (event === 'playback_progress') {
        const known = syncs.get(body.memberId); // body: the member's MemberSync
        if (!known) {
          refresh(); // a new phone: its name comes with the panel's data
          return;
        }
        syncs.set(body.memberId, Object.assign({}, known, body));
        renderSync();
        renderSummary();
      }
    },
  };
}
