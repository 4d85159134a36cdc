// Private messages: the compose box opened from another guest's row, and what became of the
// message (sent, or why the host could not deliver it).
import { limitInput } from '../shared/text.js';
import { LIMITS } from '../shared/wire.js';
import { markDmOpen } from './members.js';
import { $, page } from './page.js';

let dmTo = null; // member id the compose box is for
let dmPending = null; // the id of the message waiting for its direct_ack

export function openDm(id) {
  const client = page.client;
  if (!client) return;
  const m = client.state.members.find((x) => x.id === id);
  if (!m) return;
  if (dmTo !== id) {
    $('dm-input').value = '';
    dmPending = null;
  }
  dmTo = id;
  $('dm-to').textContent = m.name;
  $('dm-error').hidden = true;
  $('dm-status').textContent = 'Only ' + m.name + ' will see it.';
  $('dm-status').hidden = false;
  $('dm-form').hidden = false;
  markDmOpen(id);
  $('dm-form').scrollIntoView({ block: 'nearest' });
  $('dm-input').focus({ preventScroll: true });
}

export function closeDm() {
  dmTo = null;
  dmPending = null;
  $('dm-form').hidden = true;
  $('dm-error').hidden = true;
  markDmOpen(null);
}

const DM_FAILED = {
  unknown_member: "they aren't in the party any more",
  loudsync_client: "their app can't receive private messages",
  reconnecting: "they're reconnecting, try again in a moment",
};
export function dmFailedText(m) {
  return "Couldn't deliver your private message to " + m.name + ': ' + (DM_FAILED[m.reason] || DM_FAILED.unknown_member) + '.';
}

/** The client's `direct` event: a message of ours, acked, to the member the box is open for. */
export function onDirect(d) {
  if (d.direction !== 'out' || dmTo !== d.to) return;
  dmPending = null;
  $('dm-status').textContent = 'Sent. It is in the chat below, marked private.';
}

/** The client's `directfailed` event: the host could not deliver it. */
export function onDirectFailed(d) {
  if (dmTo !== d.to) return;
  dmPending = null;
  $('dm-status').hidden = true; // the error says it all
  $('dm-error').textContent = dmFailedText(d);
  $('dm-error').hidden = false;
  if (!$('dm-input').value) $('dm-input').value = d.text; // give the words back
}

export function renderDm(state) {
  if (dmTo == null) return;
  const m = state.members.find((x) => x.id === dmTo);
  if (!state.extensions) return closeDm();
  if (m) $('dm-to').textContent = m.name;
  $('dm-send').disabled = state.connection !== 'connected';
}

limitInput($('dm-input'), LIMITS.maxChatChars);

$('dm-close').addEventListener('click', closeDm);

$('dm-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const client = page.client;
  if (!client || dmTo == null) return;
  const input = $('dm-input');
  const id = client.sendDirect(dmTo, input.value);
  if (!id) return;
  dmPending = id;
  input.value = '';
  $('dm-error').hidden = true;
  $('dm-status').hidden = false;
  $('dm-status').textContent = 'Sending…';
});
