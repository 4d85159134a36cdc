// The join screen: the party's name and head count, the guest's name and, when the page has no
// join key, the room code, exchanged for one at GET /api/join.
import { limitInput } from '../shared/text.js';
import { LIMITS } from '../shared/wire.js';
import { tradeCode } from './api.js';
import { start } from './connection.js';
import { $, page, show } from './page.js';
import { KEYS, local, session } from './store.js';

/** Whether the page may connect: an open host, or a join key from the QR code or a room code. */
export function haveAccess() {
  return !!(page.info && page.info.open) || !!session.get(KEYS.key);
}

function needsCode() {
  return !haveAccess();
}

/** The join screen's facts: the party's name, head count, locked or full, the room-code field. */
function drawJoin(info) {
  $('join-title').textContent = info.name || 'the party';
  const n = info.memberCount;
  $('join-meta').textContent = typeof n !== 'number' ? '' : n === 0 ? 'Nobody here yet: be the first!' : n === 1 ? '1 guest is here' : n + ' guests are here';
  let notice = '';
  if (info.locked) notice = "The host has locked the party: new guests can't join right now.";
  else if (typeof info.maxMembers === 'number' && n >= info.maxMembers) notice = 'The party is full right now (' + n + ' of ' + info.maxMembers + ').';
  $('join-notice').textContent = notice;
  $('join-notice').hidden = !notice;
  $('code-field').hidden = !needsCode();
}

export function showJoin(error) {
  page.client = null;
  drawJoin(page.info);
  $('name-input').value = $('name-input').value || local.get(KEYS.name) || '';
  setJoinError(error || '');
  setJoinBusy(false);
  show('screen-join');
}

/** The join screen drawn again with fresher facts (GET /api/info's head count), if it is shown
 * and no join is on its way. */
export function refreshJoin() {
  if (document.body.dataset.screen === 'screen-join' && !$('join-button').disabled && !page.client) drawJoin(page.info);
}

function setJoinError(text) {
  $('join-error').textContent = text;
  $('join-error').hidden = !text;
}

function setJoinBusy(busy, label) {
  $('join-button').disabled = busy;
  $('join-button').textContent = busy ? label || 'Joining…' : 'Join the party';
}

// The host's limit, counted as it counts (code points; `maxlength` counts UTF-16 units).
limitInput($('name-input'), LIMITS.maxNameChars);

$('code-input').addEventListener('input', (e) => {
  const v = e.target.value.toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (v !== e.target.value) e.target.value = v;
});

$('join-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('name-input').value.replace(/\s+/g, ' ').trim();
  if (!name) {
    setJoinError('Type your name so people know who you are.');
    $('name-input').focus();
    return;
  }
  setJoinError('');
  if (needsCode()) {
    const code = $('code-input').value.toUpperCase().replace(/[^A-Z0-9]/g, '');
    if (code.length < 4 || code.length > 6) {
      setJoinError("The room code has 4 to 6 letters or digits. It's on the host's screen.");
      $('code-input').focus();
      return;
    }
    setJoinBusy(true, 'Checking the code…');
    let r;
    try {
      r = await tradeCode(code, page.info, (label) => setJoinBusy(true, label));
    } catch (err) {
      setJoinBusy(false);
      setJoinError("Couldn't reach the host. Are you on the same Wi-Fi?");
      return;
    }
    setJoinBusy(false);
    if (r.status === 429) return setJoinError('Too many tries right now. Wait a few seconds, then try again.');
    if (r.status === 403 || r.status === 401 || r.status === 404) {
      return setJoinError("That code isn't right. Check the host's screen and try again.");
    }
    if (r.status !== 200 || !r.body || !r.body.joinKey) return setJoinError('Something went wrong. Try again.');
    session.set(KEYS.key, r.body.joinKey);
  }
  local.set(KEYS.name, name);
  start(null);
});
