// The guest changes their name ("Edit name" in the "You" card): `rename` through the client, then
// what the host made of it in words: taken or looking like someone else's (the host shows it with
// a number, "Sara (2)"), or refused (a character nobody can see).
import { limitInput } from '../shared/text.js';
import { LIMITS } from '../shared/wire.js';
import { $, page } from './page.js';
import { KEYS, local } from './store.js';

/** The host answers a rename at once; silence this long means it kept the name ("Sara (2)" asking for "Sara"). */
const ANSWER_MS = 5000;

/** The rename waiting for the host: { name (as the host keeps it), typed, old (the client's), was (shown) }. */
let asked = null;
let answerTimer = null;

/** The name the party shows this guest by, else the one the page joined with. */
export function shownName(state) {
  const c = page.client;
  const me = state.members.find((m) => m.id === state.selfId);
  return me ? me.name : c ? c.device.name : '';
}

function say(text, bad) {
  const r = $('rename-result');
  r.textContent = text;
  r.className = bad ? 'error' : 'hint';
  r.hidden = !text;
}

/** Opens "Edit name" in the guest's card, brought into view (a tap on their own row). */
export function openRename() {
  openForm(true);
  $('self').scrollIntoView({ block: 'nearest' });
}

function openForm(open) {
  $('rename-form').hidden = !open;
  $('rename-open').hidden = open;
  if (!open) return;
  const input = $('rename-input');
  input.value = page.client ? shownName(page.client.state) : '';
  say('');
  input.focus({ preventScroll: true });
  input.select();
}

/** Our own `member_updated` after a rename: how the party shows the name. */
export function onSelfUpdated(member) {
  const c = page.client;
  // (An update that keeps the name, a reconnection say, is not the answer.)
  if (!asked || !c || !member || String(member.id) !== c.state.selfId || member.name === asked.was) return;
  const { name, typed } = asked;
  settle();
  local.set(KEYS.name, typed); // the name this guest chose: a later join asks for it again
  if (member.name === name) {
    openForm(false);
    return say('Everyone now sees you as “' + name + '”.');
  }
  const same = c.state.members.some((m) => m.id !== c.state.selfId && m.name === name);
  say((same ? 'Someone here is already called “' + name + '”' : '“' + name + '” looks like the name of someone already here')
    + ', so everyone sees you as “' + member.name + '”. Pick another name?', true);
}

/**
 * The host's refusal of a name (`invalid_message`, reason "rename: name: …" or, for a join,
 * "join: deviceInfo.name: …") in words; null when `m` is not one.
 */
export function nameRefusal(m, kind) {
  const reason = (m && m.details && m.details.reason) || '';
  if (reason.indexOf(kind === 'join' ? 'join: deviceInfo.name:' : 'rename: name:') !== 0) return null;
  const cp = /U\+([0-9A-F]{4,6})/.exec(reason);
  return /invisible/.test(reason)
    ? 'That name has a character in it that nobody can see' + (cp ? ' (U+' + cp[1] + ')' : '') + '. Type it again without it.'
    : /at most/.test(reason) ? 'That name is too long: ' + LIMITS.maxNameChars + ' characters at most.'
      : "The host didn't take that name. Try another.";
}

/** `servererror`: the host refused our rename. */
export function onRenameRefused(m) {
  const words = asked && nameRefusal(m, 'rename');
  if (!words) return;
  const c = page.client;
  if (c) c.device.name = asked.old; // the client took the new name on sending; the host kept the old
  settle();
  say(words, true);
}

function settle() {
  asked = null;
  clearTimeout(answerTimer);
}

limitInput($('rename-input'), LIMITS.maxNameChars);

$('rename-open').addEventListener('click', () => openForm(true));
$('rename-cancel').addEventListener('click', () => {
  openForm(false);
  say('');
  $('rename-open').focus({ preventScroll: true });
});

$('rename-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const c = page.client;
  if (!c) return;
  const typed = $('rename-input').value.replace(/\s+/g, ' ').trim();
  if (!typed) return say('Type the name people should see.', true);
  const name = typed.normalize('NFC'); // as the host keeps it
  if (name === shownName(c.state)) return openForm(false); // nothing changed: nothing to send
  const old = c.device.name;
  if (!c.rename(typed)) return say("You're offline: try again in a moment.", true);
  asked = { name, typed, old, was: shownName(c.state) };
  say('Changing your name…');
  clearTimeout(answerTimer);
  answerTimer = setTimeout(() => {
    if (!asked || !page.client) return;
    page.client.device.name = asked.old;
    settle();
    say('Everyone still sees you as “' + shownName(page.client.state) + '”: that name looks like someone else\'s here.', true);
  }, ANSWER_MS);
});
