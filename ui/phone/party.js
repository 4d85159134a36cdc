// The party screen: its header (name, head count, connection pill, reconnect banner), the
// guest's own card, and drawing every part of it from the client's state.
import { fmtMs } from '../shared/dom.js';
import { CONNECTION_TEXT } from '../shared/texts.js';
import { CLOSE } from '../shared/wire.js';
import { renderChat, resetChat } from './chat.js';
import { closeDm, renderDm } from './dm.js';
import { renderMembers, resetMembers } from './members.js';
import { renderNotes, resetNotes } from './notes.js';
import { $, page, show } from './page.js';
import { renderPresence } from './presence.js';

/** Empties the lists of the party screen (a new client: nothing drawn belongs to it). */
export function resetPartyDom() {
  resetMembers();
  resetChat();
  resetNotes();
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
  $('reconnect-banner').hidden = !trouble;
  if (trouble) {
    const code = s.lastClose && s.lastClose.code;
    const why = code === CLOSE.TOO_SLOW ? 'Your connection fell behind.' : code === CLOSE.HEARTBEAT_TIMEOUT ? 'Lost contact for a moment.' : 'Connection lost.';
    $('banner-text').textContent = why + ' Reconnecting' + (s.attempt > 1 ? ' (try ' + s.attempt + ')' : '') + '…';
  }
  $('self-name').textContent = client.device.name;
  $('self-latency').textContent = s.connection === 'connected' ? fmtMs(s.latency) : '—'; // no stale reading while cut off
  renderNotes(s);
  renderPresence(s);
  renderMembers(s);
  renderDm(s);
  const chatOk = s.extensions || s.connection !== 'connected';
  $('chat-section').hidden = !chatOk;
  if (chatOk) renderChat(s);
}

$('reconnect-now').addEventListener('click', () => page.client && page.client.wake());

$('leave-button').addEventListener('click', () => {
  if (page.client) page.client.leave();
});
