// "Add a song" and "Share a photo": a file picker each, the upload's progress with Cancel, then
// the outcome (../shared/upload.js). Shown when /api/info says the host takes uploads.
import { outcomeText, refuseBeforeSending, startUpload, uploadPolicy } from '../shared/upload.js';
import { fetchJSON } from './api.js';
import { $, page } from './page.js';
import { KEYS, session } from './store.js';

let current = null; // the upload under way: one at a time

export function renderShare(state) {
  $('share').hidden = !uploadPolicy(page.info).allowed || !state.extensions;
  $('add-song').disabled = $('share-photo').disabled = !!current;
}

function say(text, ok) {
  const r = $('upload-result');
  r.textContent = text;
  r.className = ok ? 'upload-ok' : 'error';
  r.hidden = !text;
}

function progress(label, f) {
  $('upload').hidden = false;
  $('upload-state').textContent = label;
  $('upload-bar').style.width = Math.round(f * 100) + '%';
  $('upload-progress').setAttribute('aria-valuenow', String(Math.round(f * 100)));
}

async function send(file) {
  const c = page.client;
  if (!c || !file || current) return;
  const why = refuseBeforeSending(file, uploadPolicy(page.info));
  if (why) return say(why, false);
  say('', true);
  $('upload-name').textContent = file.name;
  current = startUpload(file, {
    deviceId: c.device.id,
    key: page.info.open ? null : session.get(KEYS.key),
    XMLHttpRequest: window.XMLHttpRequest,
    // Only in a secure context (localhost, https): then the host checks the bytes against it.
    subtle: window.isSecureContext && window.crypto ? window.crypto.subtle : null,
    onPhase: (p, f) => progress(p === 'checking' ? 'Checking the file…' : 'Sending… ' + Math.round(f * 100) + '%', f),
  });
  renderShare(c.state);
  const r = await current.done;
  current = null;
  $('upload').hidden = true;
  say(r.cancelled ? 'Cancelled: nothing was added.' : outcomeText(r), r.status === 201);
  if (r.status === 403) {
    // The host may have turned uploads off: ask again, so the buttons follow.
    const info = await fetchJSON('/api/info').catch(() => null);
    if (info && info.status === 200 && info.body) page.info = info.body;
  }
  if (page.client) renderShare(page.client.state);
}

for (const [button, input] of [['add-song', 'song-file'], ['share-photo', 'photo-file']]) {
  $(button).addEventListener('click', () => $(input).click());
  $(input).addEventListener('change', (e) => {
    const file = e.target.files && e.target.files[0];
    e.target.value = ''; // the same file can be picked again
    send(file);
  });
}
$('upload-cancel').addEventListener('click', () => current && current.cancel());
