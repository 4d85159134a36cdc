// The party screen: its header (name, head count, connection pill, reconnect banner), the
// guest's own card, and drawing every part of it from the client's state. The parts come in the
// order a guest uses them: what plays (compact), the chat, the people, then the guest's own card,
// the queue and library, the photos.
import { fmtMs } from '../shared/dom.js';
import { CONNECTION_TEXT } from '../shared/texts.js';
import { CLOSE } from '../shared/wire.js';
import { renderChat, resetChat } from './chat.js';
import { closeDm, renderDm } from './dm.js';
import { ownLatency, renderMembers, resetMembers } from './members.js';
import { renderNotes, resetNotes } from './notes.js';
import { $, page, show } from './page.js';
import { renderPhotos, resetPhotos } from './photos.js';
import { renderPresence } from './presence.js';
import { shownName } from './rename.js';
import { renderShare } from './share.js';

/** "The host restarted": up for a glance. */
const RESTARTED_MS = 5000;
let backTimer = null;

/** Empties the lists of the party screen (a new client: nothing drawn belongs to it). */
export function resetPartyDom() {
  resetMembers();
  resetChat();
  resetNotes();
  resetPhotos();
  closeDm();
}

export function render() {
  const client = page.client;
  if (!client) return;
  const s = client.state;
  if (s.connection === 'ended' || s.connection === 'failed') return; // the ending screen is shown
  if (document.body.dataset.screen !== 'screen-party') show('screen-party'); // e.g. retrying after failed
  const title = s.session.name || (page.info && page.info.name) || 'Party';
  $('session-name').textContent = title;
  document.title = title + ' · Partyline';
  const n = s.members.length;
  $('member-count').textContent = n ? (n === 1 ? '1 person' : n + ' people') : '';
  const pill = $('connection-state');
  pill.dataset.state = s.connection;
  pill.textContent = CONNECTION_TEXT[s.connection] || s.connection;
  const trouble = s.connection === 'reconnecting' || (s.connection === 'connecting' && s.attempt > 0);
  const backFor = s.restarted && !trouble ? s.restarted.at + RESTARTED_MS - client.now() : 0;
  clearTimeout(backTimer);
  if (backFor > 0) backTimer = setTimeout(render, backFor + 50);
  $('reconnect-banner').hidden = !trouble && backFor <= 0;
  $('reconnect-now').hidden = !trouble;
  if (backFor > 0) $('banner-text').textContent = 'The host restarted — you’re back.';
  if (trouble) {
    const code = s.lastClose && s.lastClose.code;
    const why = code === CLOSE.TOO_SLOW ? 'Your connection fell behind.' : code === CLOSE.HEARTBEAT_TIMEOUT ? 'Lost contact for a moment.' : 'Connection lost.';
    $('banner-text').textContent = why + ' Reconnecting' + (s.attempt > 1 ? ' (try ' + s.attempt + ')' : '') + '…';
  }
  $('self-name').textContent = shownName(s);
  $('rename-open').disabled = !s.extensions || s.connection !== 'connected';
  // One figure for this guest's connection, here and on their own row (members.js ownLatency).
  $('self-latency').textContent = fmtMs(ownLatency(s));
  renderNotes(s);
  renderPresence(s);
  renderMembers(s);
  renderDm(s);
  renderPhotos(s);
  renderShare(s);
  const chatOk = s.extensions || s.connection !== 'connected';
  $('chat-section').hidden = !chatOk;
  if (chatOk) renderChat(s);
}

$('reconnect-now').addEventListener('click', () => page.client && page.client.wake());

$('leave-button').addEventListener('click', () => {
  if (page.client) page.client.leave();
});
