// The host screen's Photos card: the photos guests share, newest first (the `photo_shared` host
// events, and the host's list through the `photos` command when the card opens), large enough to
// read across a room; and the switch "Guests share songs and photos" (`set_uploads`). The web
// view loads a photo from the app's `photo:` scheme (src-tauri/src/uploads.rs): the party's own
// `/media/` answers same-origin pages only, and this page's origin is the app's.
import { el, said } from '../shared/dom.js';

/** Photos the card shows (oldest dropped first): as many as the host lists in a welcome. */
export const SHOWN_PHOTOS = 50;

/** The photos the card shows, by id, oldest first; DOM-free (node tests). */
export class PhotoWall {
  constructor(limit = SHOWN_PHOTOS) {
    this.limit = limit;
    this.photos = new Map(); // id → { id, url, name, from, fromName, timestamp }
  }
  /** A photo; false when it is already shown (the event and the list may both bring it). */
  add(p) {
    if (!p || p.id == null || typeof p.url !== 'string' || !/^\/(?!\/)/.test(p.url) || this.photos.has(p.id)) return false;
    this.photos.set(p.id, { id: p.id, url: p.url, name: p.name || '', from: p.from || '', fromName: p.fromName || '', timestamp: p.timestamp });
    for (const old of this.photos.keys()) {
      if (this.photos.size <= this.limit) break;
      this.photos.delete(old);
    }
    return true;
  }
  newestFirst() {
    return Array.from(this.photos.values()).reverse();
  }
  clear() {
    this.photos.clear();
  }
}

/** Where the web view loads photo `p` from: the app's `photo:` scheme, by id (Windows and
 * Android reach custom schemes as `http://<scheme>.localhost/`). */
export function photoSrc(p, userAgent) {
  const base = /Windows|Android/.test(userAgent || '') ? 'http://photo.localhost/' : 'photo://localhost/';
  return base + encodeURIComponent(p.id);
}

const $ = (id) => document.getElementById(id);

/** The Photos card (`#photos-card`, on the party screen once a guest shared one; `onLayout()`
 * when it appears or goes) and the uploads switch (`#uploads-toggle`). */
export function createPhotos({ invoke, fail, onLayout = () => {} }) {
  let generation = null;
  let view = null;
  const wall = new PhotoWall();

  function render() {
    const list = $('photo-grid');
    list.textContent = '';
    for (const p of wall.newestFirst()) {
      const li = el('li', 'photo', 'photo');
      li.dataset.photoId = p.id;
      const img = el('img', null, 'photo-img');
      img.src = photoSrc(p, navigator.userAgent);
      img.alt = (p.fromName ? 'Photo from ' + p.fromName : 'A guest\u2019s photo') + (p.name ? ': ' + p.name : '');
      img.loading = 'lazy';
      const from = said('p', 'photo-from', 'photo-from', p.fromName || '');
      li.append(img, from);
      list.append(li);
    }
    $('photos-empty').hidden = wall.photos.size > 0;
    $('photo-count').textContent = wall.photos.size ? '(' + wall.photos.size + ')' : '';
    const card = $('photos-card');
    if (card.hidden !== !wall.photos.size) {
      card.hidden = !wall.photos.size;
      onLayout();
    }
  }

  function setSwitch(state) {
    $('uploads-toggle').checked = !!(state && state.allowed);
  }

  $('uploads-toggle').addEventListener('change', async (e) => {
    const want = e.target.checked;
    try {
      setSwitch(await invoke('set_uploads', { allowed: want }));
    } catch (err) {
      e.target.checked = !want;
      fail(err);
    }
  });

  return {
    /** A party is shown (`v`: its HostView); a new one starts with an empty card. */
    async show(v) {
      view = v;
      if (v.generation === generation) return;
      generation = v.generation;
      wall.clear();
      render();
      try {
        const [photos, uploads] = await Promise.all([invoke('photos'), invoke('uploads')]);
        for (const p of photos) wall.add(p);
        setSwitch(uploads);
        render();
      } catch (err) {
        fail(err);
      }
    },
    /** A `photo_shared` host event; false for any other. */
    onEvent(event, body) {
      if (event !== 'photo_shared') return false;
      if (view && wall.add(body)) render();
      return true;
    },
  };
}
