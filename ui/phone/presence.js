// The guest's own presence, in the "You" card: Here / Away / Busy and an optional text.
import { limitInput } from '../shared/text.js';
import { LIMITS } from '../shared/wire.js';
import { $, page } from './page.js';

export function renderPresence(state) {
  $('presence-form').hidden = !state.extensions;
  const mine = state.myPresence || { status: 'online', text: '' };
  for (const b of document.querySelectorAll('#presence-form .seg-btn')) {
    b.setAttribute('aria-pressed', String(b.dataset.status === mine.status));
    b.disabled = state.connection !== 'connected';
  }
  $('presence-text-row').hidden = mine.status === 'online';
  $('presence-save').disabled = state.connection !== 'connected';
}

limitInput($('presence-text'), LIMITS.maxPresenceChars);

for (const b of document.querySelectorAll('#presence-form .seg-btn')) {
  b.addEventListener('click', () => {
    const client = page.client;
    if (!client) return;
    const status = b.dataset.status;
    if (status === 'online') $('presence-text').value = '';
    client.setPresence(status, $('presence-text').value);
    if (status !== 'online' && !$('presence-text').value) $('presence-text').focus({ preventScroll: true });
  });
}

$('presence-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const client = page.client;
  if (!client) return;
  const st = client.state.myPresence.status;
  client.setPresence(st === 'online' ? 'away' : st, $('presence-text').value);
  $('presence-text').blur();
});
