// The party screen: what the desktop shows by default, made to be read across a room on a TV or
// a projector (1366×768 and up, nothing scrolls): the QR card (the code, the room code, how to
// join in words, and the party's state on the card itself: locked, full), the party's name, the
// guests as they arrive (initials, newest first; as many as fit, then "+N more"), and now
// playing. "Host controls" swaps the party's side for the host's forms while the QR card stays;
// F or F11 toggles full screen through the page's Fullscreen API. The pure parts (capacity,
// the card's state, the guest wall's cut, initials) are exported for the node tests.
import { el, hue, said } from '../shared/dom.js';

/** The most guests a host may allow (the host's own limit, `LIMITS.maxCapacity`). */
const DEFAULT_MAX = 10000;

/**
 * The "Most guests" field, as typed: `{ ok: true, value }`, or `{ ok: false, message }` in the
 * host's words. Only a plain whole number from 1 to `max` passes: "-5", "2.5", "1e3" and "abc"
 * get the same message (no "not 0"); a number below the guests already here is refused, since
 * lowering the capacity sends nobody away: it would only say "Full" while the party is over
 * it, which the Lock switch says honestly.
 */
export function parseCapacity(text, { max = DEFAULT_MAX, guests = 0 } = {}) {
  const t = String(text == null ? '' : text).trim();
  const whole = 'Most guests: a whole number from 1 to ' + max + '.';
  if (!/^[0-9]+$/.test(t)) return { ok: false, message: whole };
  const value = Number(t);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) return { ok: false, message: whole };
  if (value < guests) {
    const here = guests === 1 ? '1 guest is' : guests + ' guests are';
    return {
      ok: false,
      message: here + ' here already: the most guests cannot be fewer. To let nobody new in, lock the party.',
    };
  }
  return { ok: true, value };
}

/**
 * The QR card's state: `open`, `locked` (the host's choice, so it wins), or `full` (as many
 * guests as places), with the words the card shows ("" when open).
 */
export function partyState(session, guests) {
  if (session && session.locked) return { kind: 'locked', text: 'Locked — nobody new can join' };
  if (session && guests >= session.maxMembers) return { kind: 'full', text: 'Full — ' + guests + ' of ' + session.maxMembers };
  return { kind: 'open', text: '' };
}

/** "3 guests of 30 · open to join · 192.168.1.20:48321": the line under the party's name. */
export function partyLine(session, guests, address) {
  const state = partyState(session, guests);
  const how = { open: 'open to join', locked: 'locked: nobody new can join', full: 'full: nobody new can join until someone leaves' };
  return [(guests === 1 ? '1 guest' : guests + ' guests') + ' of ' + session.maxMembers, how[state.kind], address].filter(Boolean).join(' · ');
}

/**
 * How many of `total` guests the wall shows when `fit` tiles fit: all of them, or one fewer
 * than fit and a "+N more" tile in the last place. `{ shown, more }`.
 */
export function wallCut(total, fit) {
  const room = Math.max(0, Math.floor(fit));
  if (total <= room) return { shown: total, more: 0 };
  const shown = Math.max(0, room - 1);
  return { shown, more: total - shown };
}

/** Guests, newest first (the wall's order); the host is not a guest. */
export function newestGuests(members) {
  return members.filter((m) => !m.isHost).sort((a, b) => (b.joinedAt - a.joinedAt) || (a.id < b.id ? -1 : 1));
}

/**
 * An avatar's letters: the first letters of the first and last words ("Sara Lee" → "SL"), or
 * the first one (code points, so an emoji stays whole); "?" for nothing.
 */
export function initialsOf(name) {
  const words = String(name || '').trim().split(/\s+/).filter(Boolean);
  if (!words.length) return '?';
  const first = (w) => (Array.from(w)[0] || '').toUpperCase();
  return words.length === 1 ? first(words[0]) : first(words[0]) + first(words[words.length - 1]);
}

/** The address a person types, from the join URL: "http://192.168.1.20:48321" (no key). */
export function typedAddress(joinUrl) {
  try {
    const u = new URL(joinUrl);
    return u.protocol + '//' + u.host;
  } catch (e) {
    return '';
  }
}

/** The wall's tile sizes, largest first: the largest at which every guest fits is used. */
const SIZES = ['l', 'm', 's'];

/** Whether a key press toggles full screen: F11 anywhere, F outside text fields. */
export function isFullscreenKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return false;
  if (e.key === 'F11') return true;
  if (e.key !== 'f' && e.key !== 'F') return false;
  const t = e.target;
  const tag = t && t.tagName ? t.tagName.toLowerCase() : '';
  return !(tag === 'input' || tag === 'textarea' || tag === 'select' || (t && t.isContentEditable));
}

const $ = (id) => document.getElementById(id);

/**
 * The party screen's parts app.js drives: `render({ view, session, members })` after any
 * change, `setNow(now)` from the music panel, `showControls(open)`.
 */
export function createScreen() {
  let last = null;
  const tiles = new Map(); // member id → li, kept so a guest's tile is not rebuilt on each change

  function tile(m) {
    let li = tiles.get(m.id);
    if (!li) {
      li = el('li', 'guest', 'guest');
      li.dataset.memberId = m.id;
      const av = el('span', 'avatar guest-avatar');
      av.style.setProperty('--h', String(hue(m.id)));
      const name = said('span', 'guest-name', 'guest-name');
      li.append(av, name);
      li._r = { av, name };
      tiles.set(m.id, li);
    }
    li._r.av.textContent = initialsOf(m.name);
    li._r.name.textContent = m.name;
    li.title = m.name;
    li.dataset.status = m.connectionStatus;
    return li;
  }

  /** Lays the wall out: the largest tiles at which every guest fits, else the smallest and
   * "+N more" (measured: the wall's box is what the window leaves it). */
  function layWall(guests) {
    const wall = $('guest-wall');
    const fill = (n, more) => {
      const want = guests.slice(0, n).map(tile);
      if (more) {
        const rest = el('li', 'guest more', 'guest-more');
        rest.append(el('span', 'avatar guest-avatar more-avatar', null, '+' + more), el('span', 'guest-name', null, 'more'));
        rest.title = more + ' more guests';
        want.push(rest);
      }
      wall.replaceChildren(...want);
    };
    const overflows = () => wall.scrollHeight > wall.clientHeight + 1;
    for (const size of SIZES) {
      wall.dataset.size = size;
      fill(guests.length, 0);
      if (!overflows()) return { shown: guests.length, more: 0, size };
    }
    // The smallest tiles and still too many: as many as fit, the last place says how many more.
    const items = Array.from(wall.children);
    const bottom = wall.getBoundingClientRect().top + wall.clientHeight;
    const fit = items.filter((li) => li.getBoundingClientRect().bottom <= bottom + 1).length;
    const cut = wallCut(guests.length, fit);
    fill(cut.shown, cut.more);
    return Object.assign(cut, { size: wall.dataset.size });
  }

  function render({ view, session, members }) {
    last = { view, session, members };
    const guests = newestGuests(members);
    const state = partyState(session, guests.length);
    const address = typedAddress(view.joinUrl);
    $('screen-name').textContent = session.name;
    $('party-meta').textContent = partyLine(session, guests.length, new URL(view.httpUrl).host);
    const card = $('qr-card');
    card.dataset.state = state.kind;
    $('qr-state').textContent = state.text;
    $('qr-state').hidden = !state.text;
    $('join-address-shown').textContent = address;
    $('qr-big-name').textContent = session.name;
    $('qr-big-how').textContent = 'Scan to join, or open ' + address + ' and type the code';
    for (const id of tiles.keys()) if (!members.some((m) => m.id === id)) tiles.delete(id);
    $('guest-wall-empty').hidden = guests.length > 0;
    const side = $('screen-side');
    side.toggleAttribute('data-busy', !$('chat-card').hidden || !$('photos-card').hidden || !$('screen-now').hidden);
    if (side.offsetParent === null) return; // not shown (host controls open): laid out when it is
    const laid = layWall(guests);
    const wall = $('guest-wall');
    wall.dataset.shown = String(laid.shown);
    wall.dataset.more = String(laid.more);
  }

  // The wall depends on the window's size: lay it out again when that changes.
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => last && render(last), 100);
  });

  // ---- full screen: F or F11; the page's Fullscreen API (the web view makes its window full
  // screen, and Esc leaves, as in any browser) ----
  async function toggleFullscreen() {
    try {
      if (document.fullscreenElement) await document.exitFullscreen();
      else await document.documentElement.requestFullscreen();
    } catch (e) {
      // A web view without the API: the window stays as it is.
    }
  }
  document.addEventListener('keydown', (e) => {
    if (!isFullscreenKey(e)) return;
    e.preventDefault();
    toggleFullscreen();
  });
  $('fullscreen-button').addEventListener('click', toggleFullscreen);
  document.addEventListener('fullscreenchange', () => {
    const on = !!document.fullscreenElement;
    document.body.toggleAttribute('data-fullscreen', on);
    $('fullscreen-button').setAttribute('aria-pressed', String(on));
    $('fullscreen-button').lastChild.textContent = on ? ' Leave full screen' : ' Full screen';
  });

  // ---- host controls: the panel in place of the party's side; the QR card stays ----
  function showControls(open) {
    $('host-running').dataset.panel = open ? 'controls' : 'screen';
    $('controls-panel').hidden = !open;
    $('screen-side').hidden = open;
    $('controls-toggle').setAttribute('aria-expanded', String(open));
    $('controls-toggle').textContent = open ? 'Party screen' : 'Host controls';
    if (!open && last) render(last);
  }
  $('controls-toggle').addEventListener('click', () => showControls($('controls-panel').hidden));
  $('controls-close').addEventListener('click', () => showControls(false));

  return {
    render,
    showControls,
    /** Now playing, from the music panel: `null` when nothing plays. */
    setNow(now) {
      const card = $('screen-now');
      const was = card.hidden;
      card.hidden = !now;
      if (now) {
        $('screen-now-title').textContent = now.title;
        const cover = $('screen-now-cover');
        // Set only when it changes: a new src every 250 ms tick would reload the picture.
        if (now.cover && cover.getAttribute('src') !== now.cover) cover.src = now.cover;
        cover.hidden = !now.cover;
        card.toggleAttribute('data-cover', !!now.cover);
        $('screen-now-state').textContent = now.state;
        $('screen-now-sync').textContent = now.sync ? '· ' + now.sync : '';
        card.dataset.state = now.kind;
        const pct = now.durationMs ? Math.max(0, Math.min(100, (100 * now.positionMs) / now.durationMs)) : 0;
        $('screen-now-bar').style.width = pct.toFixed(2) + '%';
      }
      if (was !== card.hidden && last) render(last);
    },
    /** The chat or the photos appeared or went: the wall's room changed. */
    relayout() {
      if (last) render(last);
    },
  };
}
