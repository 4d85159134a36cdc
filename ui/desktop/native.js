// The desktop app's own parts of the host screen, kept apart from its layout (app.js and
// index.html): the "Choose…" button beside the media folder field (the native folder picker, in
// Rust), the question the window's close asks while guests are in the party, the "Party
// restored" notice, and "New party". Each finds its place by data-testid and adds itself there;
// a page without that place (not the desktop app) gets nothing.
import { el } from '../shared/dom.js';

/** "3 guests", "1 guest". */
export function guests(n) {
  return n === 1 ? '1 guest' : n + ' guests';
}

/** The close question for `n` guests. */
export function closeQuestion(n) {
  return 'End the party for ' + guests(n) + '?';
}

/** The notice after a restart that picked the party up with `n` guests; `null` with none (nobody
 *  is waiting to come back, so there is nothing to say). */
export function restoredText(n) {
  if (!n) return null;
  return 'Party restored — ' + guests(n) + ' can come back: their phones reconnect by themselves, with the same QR code.';
}

/** The New party question for a party with `n` guests. */
export function newPartyQuestion(n) {
  return n
    ? 'Start a new party? This one ends for good: ' + guests(n) + ' must scan the new QR code.'
    : 'Start a new party? This one ends for good, with a new QR code and room code.';
}

// ---- DOM ---------------------------------------------------------------------------------------

const TAURI = typeof window === 'undefined' ? null : window.__TAURI__;
const $ = (id) => document.querySelector('[data-testid="' + id + '"]');

async function invoke(cmd, args) {
  try {
    return await TAURI.core.invoke(cmd, args);
  } catch (e) {
    throw e && typeof e === 'object' && e.code ? e : { code: 'unknown', message: String(e) };
  }
}

const STYLE = `
.native-dialog { border: 0; border-radius: 12px; padding: 22px 24px; max-width: 440px;
  background: var(--card, #fff); color: var(--text, #111); box-shadow: 0 12px 48px rgba(0,0,0,.35); }
.native-dialog::backdrop { background: rgba(0,0,0,.45); }
.native-dialog h2 { margin: 0 0 8px; font-size: 1.25rem; }
.native-dialog p { margin: 0 0 18px; line-height: 1.4; }
.native-dialog .native-buttons { display: flex; gap: 10px; justify-content: flex-end; }
.native-notice { position: fixed; top: 12px; left: 50%; transform: translateX(-50%); z-index: 50;
  display: flex; gap: 12px; align-items: center; max-width: min(720px, 92vw); padding: 10px 14px;
  border-radius: 10px; background: #1f6f43; color: #fff; box-shadow: 0 6px 24px rgba(0,0,0,.3); }
.native-notice button { background: transparent; color: inherit; border: 1px solid rgba(255,255,255,.6); }
`;

/** A modal question with two answers; resolves true for `yes`. Only one is open at a time: a
 *  second ask while one is open gets the open one's answer. */
let open = null;
function ask({ title, body, no, yes, testid }) {
  if (open) return open;
  const dialog = el('dialog', 'native-dialog', testid);
  dialog.append(el('h2', null, testid + '-title', title));
  if (body) dialog.append(el('p', null, testid + '-body', body));
  const row = el('div', 'native-buttons');
  const keep = el('button', 'small', testid + '-no', no);
  const go = el('button', 'small danger', testid + '-yes', yes);
  keep.type = go.type = 'button';
  row.append(keep, go);
  dialog.append(row);
  document.body.append(dialog);
  open = new Promise((resolve) => {
    const done = (answer) => {
      open = null;
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    keep.addEventListener('click', () => done(false));
    go.addEventListener('click', () => done(true));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault(); // Escape: the safe answer
      done(false);
    });
  });
  // A modal dialog focuses its first button, and focus scrolls what holds it into view: the
  // page's root does not scroll (body overflow: hidden), so whatever moved is put back.
  const root = document.scrollingElement;
  const top = root ? root.scrollTop : 0;
  dialog.showModal();
  keep.focus({ preventScroll: true });
  if (root) root.scrollTop = top;
  return open;
}

function notice(text, testid) {
  const box = el('div', 'native-notice', testid);
  box.setAttribute('role', 'status');
  box.append(el('span', null, testid + '-text', text));
  const close = el('button', 'small', testid + '-dismiss', 'OK');
  close.type = 'button';
  close.addEventListener('click', () => box.remove());
  box.append(close);
  document.body.append(box);
}

function showError(e) {
  notice((e && e.message) || String(e), 'native-error');
}

/** Guests in the party now (reconnecting ones included), as the host counts them. */
async function guestCount() {
  try {
    return (await invoke('host_info')).session.memberCount || 0;
  } catch {
    return 0;
  }
}

function addChooseButton() {
  const share = $('sp-folder-set');
  const field = $('sp-folder');
  if (!share || !field) return;
  const choose = el('button', 'small', 'sp-folder-choose', 'Choose…');
  choose.type = 'button';
  choose.title = 'Pick the folder in a window';
  choose.addEventListener('click', async () => {
    choose.disabled = true;
    try {
      const folder = await invoke('pick_media_folder');
      if (folder) {
        // Shared exactly as a typed folder is: the field, then the form's own submit.
        field.value = folder;
        field.form.requestSubmit();
      }
    } catch (e) {
      showError(e);
    } finally {
      choose.disabled = false;
    }
  });
  share.after(choose);
}

function addNewPartyButton() {
  const stop = $('stop-button');
  if (!stop) return;
  const button = el('button', 'small', 'new-party-button', 'New party');
  button.type = 'button';
  button.title = 'End this party for good and start a new one, with a new QR code';
  button.addEventListener('click', async () => {
    const n = await guestCount();
    const yes = await ask({
      title: 'New party',
      body: newPartyQuestion(n),
      no: 'Keep this party',
      yes: 'New party',
      testid: 'new-party-dialog',
    });
    if (!yes) return;
    button.disabled = true;
    try {
      await invoke('new_party');
      // Everything on the screen was the old party's: start the page afresh.
      location.reload();
    } catch (e) {
      button.disabled = false;
      showError(e);
    }
  });
  stop.before(button);
}

async function showRestored() {
  try {
    const view = await invoke('host_info');
    const text = view.restored && restoredText(view.session && view.session.memberCount);
    if (text) notice(text, 'restored-notice');
  } catch {
    // Not hosting: nothing was restored.
  }
}

if (TAURI) {
  const style = document.createElement('style');
  style.textContent = STYLE;
  document.head.append(style);
  addChooseButton();
  addNewPartyButton();
  showRestored();
  TAURI.event.listen('close-requested', async (e) => {
    const n = (e.payload && e.payload.guests) || 0;
    const end = await ask({
      title: closeQuestion(n),
      body: 'Their phones are told the party is over. Partyline keeps it: open the app again to pick it up with the same QR code.',
      no: 'Keep hosting',
      yes: 'End party',
      testid: 'close-dialog',
    });
    if (end) invoke('close_app').catch(showError);
  });
}
