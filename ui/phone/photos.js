// The party's photos (the client's `photos`: the welcome's, then each `photo.shared`), newest
// first, each a link to the full picture. They are behind the join key, as /media/ is.
import { el } from '../shared/dom.js';
import { $, page } from './page.js';
import { KEYS, session } from './store.js';

let drawn = '';

export function resetPhotos() {
  drawn = '';
  $('photo-strip').textContent = '';
}

export function renderPhotos(state) {
  const photos = state.photos || [];
  $('photos').hidden = !photos.length;
  const sig = photos.map((p) => p.id).join();
  if (sig === drawn) return;
  drawn = sig;
  const key = page.info && page.info.open ? null : session.get(KEYS.key);
  $('photo-strip').textContent = '';
  for (const p of photos.slice().reverse()) {
    const li = el('li', 'photo', 'photo');
    li.dataset.photoId = p.id;
    const a = el('a', 'photo-link', 'photo-link');
    a.href = p.url + (key ? (p.url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(key) : '');
    a.target = '_blank';
    a.rel = 'noopener';
    a.setAttribute('aria-label', (p.fromName ? 'Photo from ' + p.fromName : 'A photo') + (p.name ? ': ' + p.name : ''));
    const img = el('img', null, 'photo-img');
    img.alt = '';
    img.src = a.href;
    a.append(img);
    li.append(a, el('span', 'photo-from', 'photo-from', p.fromName));
    $('photo-strip').append(li);
  }
}
