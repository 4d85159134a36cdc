// The ending screen: how the party ended for this phone (kicked, closed, full, locked, a bad
// key, another tab, gone, left, unreachable), in the host's words where it gave some, and the
// one action that makes sense next.
import { ENDING_TEXT } from '../shared/texts.js';
import { boot } from './connection.js';
import { showJoin } from './join.js';
import { $, page, show } from './page.js';
import { resetPartyDom } from './party.js';
import { KEYS, session } from './store.js';

const rejoin = () => {
  if (page.info) showJoin();
  else boot();
};
const retry = () => {
  if (page.client) {
    resetPartyDom();
    show('screen-party');
    page.client.retry();
  } else boot();
};

// kind → [testid suffix, icon, title, message, hint, action label, action testid, action]
function endingView(ending) {
  const d = ending.details || {};
  const t = ENDING_TEXT[ending.kind] || ENDING_TEXT.failed;
  switch (ending.kind) {
    case 'kicked':
      return ['kicked', 'door', t.title, t.message,
        "If that was a mistake, ask the host, then join again.", 'Join again', 'rejoin-button', rejoin];
    case 'banned':
      return ['banned', 'door', t.title, t.message,
        'Only the host can let this device back in.', 'Look for another party', 'rejoin-button', () => location.reload()];
    case 'closed':
      return ['closed', 'moon', t.title, t.message,
        'If the host starts a new one, scan its QR code.', 'Look for a new party', 'rejoin-button', () => location.reload()];
    case 'full': {
      const nums = d.maxMembers ? ' Every place is taken: ' + (d.currentMembers != null ? d.currentMembers : d.maxMembers) + ' of ' + d.maxMembers + (d.maxMembers === 1 ? ' guest.' : ' guests.') : '';
      return ['full', 'people', t.title, t.message + nums,
        'Ask the host to make room or raise the limit, then try again.', 'Try again', 'retry-button', retry];
    }
    case 'locked':
      return ['locked', 'lock', t.title, t.message,
        'Ask the host to unlock it, then try again.', 'Try again', 'retry-button', retry];
    case 'unauthorized':
      return ['unauthorized', 'key', t.title, t.message,
        "Enter the room code shown on the host's screen, or scan the QR code again.", 'Enter room code', 'code-button', () => {
          session.del(KEYS.key);
          session.del(KEYS.resume);
          if (page.info) showJoin();
          else boot();
        }];
    case 'replaced':
      return ['replaced', 'tabs', t.title, t.message,
        'Use the other one, or continue here (the other tab will be disconnected).', 'Use this tab', 'use-here-button', retry];
    case 'not_found':
      return ['not-found', 'question', t.title, t.message,
        'Scan the QR code on the host\'s screen again.', 'Check again', 'rejoin-button', () => {
          session.del(KEYS.resume);
          boot();
        }];
    case 'left':
      return ['left', 'leave', t.title, t.message, 'Changed your mind?', 'Join again', 'rejoin-button', rejoin];
    default:
      return ['failed', 'offline', t.title, t.message,
        "Check that you're on the same Wi-Fi as the host and that the party is still running, then try again.", 'Try again', 'retry-button',
        page.client ? retry : boot];
  }
}

// Line icons (24×24, stroked in currentColor): no emoji font needed.
const ICONS = {
  door: '<path d="M14 3H6a1 1 0 0 0-1 1v16a1 1 0 0 0 1 1h8M10 12h11M17 8l4 4-4 4"/>',
  moon: '<path d="M20 14.5A8.5 8.5 0 1 1 9.5 4a7 7 0 0 0 10.5 10.5z"/>',
  people: '<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20a6.5 6.5 0 0 1 13 0"/><circle cx="17" cy="9" r="2.5"/><path d="M17.5 14a5 5 0 0 1 4 6"/>',
  lock: '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/>',
  key: '<circle cx="8" cy="15" r="4"/><path d="M11 12l9-9M16 7l3 3M14 9l2 2"/>',
  tabs: '<rect x="3" y="7" width="13" height="13" rx="2"/><path d="M8 4h11a2 2 0 0 1 2 2v11"/>',
  question: '<circle cx="12" cy="12" r="9"/><path d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6V14M12 17.5v.5"/>',
  leave: '<path d="M15 3h3a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2h-3M10 17l-5-5 5-5M5 12h11"/>',
  offline: '<path d="M2 8.8a15 15 0 0 1 20 0M5 12.5a10 10 0 0 1 14 0M8.5 16a5 5 0 0 1 7 0M12 19.5v.5M3 3l18 18"/>',
};

let endingAction = null;
export function showEnding(ending, action) {
  const v = endingView(ending);
  const sec = $('screen-end');
  sec.setAttribute('data-testid', 'screen-' + v[0]);
  sec.dataset.ending = ending.kind;
  $('end-icon').innerHTML = '<svg viewBox="0 0 24 24" width="64" height="64" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">' + ICONS[v[1]] + '</svg>';
  $('ending-title').textContent = v[2];
  $('ending-message').textContent = v[3];
  // The host's own words; the protocol's stock phrases would only repeat the title.
  const stock = /^host (ended the session|removed you from the session)$/i;
  const reason = (ending.kind === 'kicked' || ending.kind === 'closed') && ending.reason && !stock.test(ending.reason) ? ending.reason : null;
  $('ending-reason').hidden = !reason;
  $('ending-reason').textContent = reason ? (ending.kind === 'kicked' ? 'The host said: ' : '') + '“' + reason + '”' : '';
  $('ending-hint').textContent = v[4];
  const btn = $('ending-action');
  btn.textContent = v[5];
  btn.setAttribute('data-testid', v[6]);
  endingAction = action || v[7];
  show('screen-end');
  btn.focus({ preventScroll: true });
}
$('ending-action').addEventListener('click', () => endingAction && endingAction());
