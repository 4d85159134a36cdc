// Rule protected: the messaging extensions reach the phone as state it can show. A host
// notification is kept once per id (a resume replays it: no second banner) and mark_read tells
// the host, also after a reconnect; presence_update builds a presence map (the phone's own
// included) that a fresh join resets; a private message is shown once the host acks it, an
// incoming one once, and recipient_unavailable becomes a visible failure, never a generic error.
import test from 'node:test';
import { eq, ok, setup, serveJoin, HOST, ME, SARA } from './fakes.mjs';

const note = (seq, id, title, level = 'info') => ({ seq, type: 'notification', timestamp: 7, id, title, body: '', level });

test('notifications: kept once per id, replays ignored, mark_read sent (and flushed after a drop)', () => {
  const { client, last, clock } = setup();
  const seen = [];
  client.on('notice', (n) => seen.push(n.id));
  client.connect();
  const ws1 = last();
  let seq = serveJoin(ws1, { members: [HOST, ME, SARA] });
  ws1.receive(note(seq++, 'n-1', 'Pizza is here'));
  ws1.receive(note(seq++, 'n-2', 'Last train at 1', 'warning'));
  ws1.receive(Object.assign(note(seq++, 'n-1', 'Pizza is here'), {})); // same id, new seq (should not happen, still once)
  eq(client.state.notes.map((n) => [n.id, n.title, n.level, n.read]),
    [['n-1', 'Pizza is here', 'info', false], ['n-2', 'Last train at 1', 'warning', false]], 'notes');
  eq(seen, ['n-1', 'n-2'], 'notice events');

  ok(client.markRead(['n-1']), 'markRead');
  eq(ws1.sentOfType('mark_read').map((m) => m.ids), [['n-1']], 'mark_read sent');
  eq(client.markRead(['n-1']), false, 'marking again does nothing');
  eq(ws1.sentOfType('mark_read').length, 1, 'no second mark_read');
  eq(client.state.notes.map((n) => n.read), [true, false], 'read flags');

  // Cut off: reading is remembered and sent once live again; the replay shows nothing twice.
  ws1.serverClose(1006);
  ok(client.markRead(['n-2']), 'markRead while reconnecting');
  clock.advance(10_000);
  const ws2 = last();
  ws2.open();
  eq(ws2.sent[0].type, 'resume', 'resumes');
  ws2.receive({ type: 'resumed', timestamp: 9, clientId: 'm-1', lastSeq: 2, replayed: 2, snapshot: false });
  eq(ws2.sentOfType('mark_read').map((m) => m.ids), [['n-2']], 'the read made offline is sent after resuming');
  ws2.receive(note(3, 'n-1', 'Pizza is here')); // replayed with its original seq (already processed)
  client.seq.last = 0; // even a full replay (a reloaded page starts at 0) is deduped by id
  ws2.receive(note(3, 'n-1', 'Pizza is here'));
  ws2.receive(note(4, 'n-2', 'Last train at 1', 'warning'));
  eq(client.state.notes.length, 2, 'still two notes after the replay');
  eq(seen, ['n-1', 'n-2'], 'no notice event for a replay');
});

test('notifications: readNotes (a reloaded page) arrive read; an unknown level counts as info', () => {
  const { client, last } = setup({ options: { readNotes: ['n-1'] } });
  client.connect();
  const ws = last();
  const seq = serveJoin(ws);
  ws.receive(note(seq, 'n-1', 'Pizza is here'));
  ws.receive(note(seq + 1, 'n-2', 'Cake', 'party'));
  eq(client.state.notes.map((n) => [n.id, n.read, n.level]), [['n-1', true, 'info'], ['n-2', false, 'info']], 'notes');
  eq(client.markRead(['n-1']), false, 'already read');
  eq(client.readNoteIds().sort(), ['n-1'], 'read ids');
});

test('presence: updates build the map (own included); online removes; leaving removes; a fresh join resets', () => {
  const { client, last } = setup();
  const events = [];
  client.on('presence', (p) => events.push(p));
  client.connect();
  const ws = last();
  let seq = serveJoin(ws, { members: [HOST, ME, SARA] });
  ws.receive({ seq: seq++, type: 'presence_update', timestamp: 8, memberId: 'm-2', status: 'away', text: 'back in 5' });
  eq(client.state.presence, { 'm-2': { status: 'away', text: 'back in 5' } }, 'Sara away');
  ws.receive({ seq: seq++, type: 'presence_update', timestamp: 8, memberId: 'm-2', status: 'busy' });
  eq(client.state.presence, { 'm-2': { status: 'busy', text: '' } }, 'Sara busy without text');

  ok(client.setPresence('away', '  back   in 5  '), 'setPresence');
  eq(ws.sentOfType('presence').map((m) => [m.status, m.text]), [['away', 'back in 5']], 'presence sent, trimmed');
  eq(client.state.myPresence, { status: 'away', text: 'back in 5' }, 'own presence');
  eq(client.state.presence['m-1'], { status: 'away', text: 'back in 5' }, 'own row in the map');
  ok(client.setPresence('online', 'ignored'), 'back online');
  const online = ws.sentOfType('presence')[1];
  eq(online, { type: 'presence', timestamp: online.timestamp, status: 'online', cid: online.cid }, 'online has no text');
  eq(client.state.presence['m-1'], undefined, 'own row plain again');
  eq(client.setPresence('asleep'), false, 'unknown status refused');
  eq(client.setPresence('busy', 'x'.repeat(80)) && client.state.myPresence.text.length, 64, 'text cut to 64');

  ws.receive({ seq: seq++, type: 'member_left', timestamp: 9, memberId: 'm-2', reason: 'left' });
  eq(client.state.presence['m-2'], undefined, 'a member who left has no presence');
  ws.receive({ seq: seq++, type: 'presence_update', timestamp: 8, memberId: 'host-7c01', status: 'away' });
  ws.receive({ seq: seq++, type: 'presence_update', timestamp: 8, memberId: 'host-7c01', status: 'online' });
  eq(client.state.presence['host-7c01'], undefined, 'online again: removed');
  eq(events.map((e) => e.memberId + ':' + e.status), ['m-2:away', 'm-2:busy', 'host-7c01:away', 'host-7c01:online'], 'presence events');

  // The resume fails: a fresh join, where everybody (this phone too) starts online.
  ws.receive({ seq: seq++, type: 'presence_update', timestamp: 8, memberId: 'm-9', status: 'away' });
  ws.receive({ type: 'error', timestamp: 9, code: 'resume_failed', message: 'x', details: {} });
  ws.receive({ seq: 1, type: 'welcome', timestamp: 1, clientId: 'm-1', sessionInfo: {}, resumeSecret: 'b'.repeat(32) });
  eq([client.state.presence, client.state.myPresence], [{}, { status: 'online', text: '' }], 'reset by a fresh join');
});

test('presence: refused when not connected', () => {
  const { client } = setup();
  client.connect();
  eq(client.setPresence('away', 'x'), false, 'not live yet');
});

test('direct: send → shown after direct_ack; incoming shown once; recipient_unavailable is a failed entry', () => {
  const { client, last } = setup({ randoms: [0.25] });
  const directs = [];
  const failed = [];
  const errors = [];
  client.on('direct', (d) => directs.push(d));
  client.on('directfailed', (d) => failed.push(d));
  client.on('servererror', (e) => errors.push(e.code));
  client.connect();
  const ws = last();
  let seq = serveJoin(ws, { members: [HOST, ME, SARA] });

  const id = client.sendDirect('m-2', '  meet at the bar?  ');
  ok(id, 'an id');
  const sent = ws.sentOfType('direct');
  eq(sent.map((m) => [m.to, m.id, m.payload]), [['m-2', id, { text: 'meet at the bar?' }]], 'direct sent');
  eq(client.state.chat.length, 0, 'not shown before the ack');
  ws.receive({ seq: seq++, type: 'direct_ack', timestamp: 10, id });
  eq(client.state.chat.map((c) => [c.kind, c.direction, c.from, c.to, c.name, c.text]),
    [['direct', 'out', 'm-1', 'm-2', 'Sara', 'meet at the bar?']], 'sent one shown');
  ws.receive({ seq: seq++, type: 'direct_ack', timestamp: 10, id }); // an ack for nothing pending
  eq(client.state.chat.length, 1, 'a second ack adds nothing');

  ws.receive({ seq: seq++, type: 'direct', timestamp: 11, from: 'm-2', id: 'd-7', payload: { text: 'yes!' } });
  ws.receive({ seq: seq++, type: 'direct', timestamp: 11, from: 'm-2', id: 'd-8', payload: { kind: 'poke' } }); // not text
  const replaySeq = seq;
  client.seq.last = 0; // replayed from the start (a reloaded page): deduped by sender + id
  ws.receive({ seq: replaySeq, type: 'direct', timestamp: 11, from: 'm-2', id: 'd-7', payload: { text: 'yes!' } });
  eq(client.state.chat.slice(1).map((c) => [c.direction, c.from, c.name, c.text]), [['in', 'm-2', 'Sara', 'yes!']], 'received once');
  eq(directs.map((d) => d.direction), ['out', 'in'], 'direct events');

  ws.receive({ seq: seq++, type: 'member_left', timestamp: 12, memberId: 'm-2', reason: 'left' });
  const id3 = client.sendDirect('m-2', 'still there?');
  ws.receive({ type: 'error', timestamp: 12, code: 'recipient_unavailable', message: 'x', details: { to: 'm-2', id: id3, reason: 'unknown_member' } });
  eq(client.state.chat[client.state.chat.length - 1].name, 'Sara', 'a member who left is still named');
  const id2 = client.sendDirect('m-404', 'hello?');
  ws.receive({ type: 'error', timestamp: 12, code: 'recipient_unavailable', message: 'direct: member m-404 is not in the session',
    details: { to: 'm-404', id: id2, reason: 'unknown_member' } });
  const f = client.state.chat[client.state.chat.length - 1];
  eq([f.kind, f.to, f.text, f.reason], ['direct-failed', 'm-404', 'hello?', 'unknown_member'], 'failed entry');
  eq(failed.length, 2, 'directfailed events');
  eq(errors, [], 'not a generic server error');
  eq(client.state.connection, 'connected', 'still connected');

  eq(client.sendDirect('m-1', 'me'), null, 'not to self');
  eq(client.sendDirect('m-2', '   '), null, 'not empty');
  ok(ws.sentOfType('direct')[1].id !== id, 'ids differ');
});

test('direct: a plain LOUDSYNC 1.0 server: nothing is sent', () => {
  const { client, last } = setup({ options: { protocolVersion: null } });
  client.connect();
  const ws = last();
  ws.open();
  ws.receive({ type: 'welcome', timestamp: 1, clientId: 'm-1', sessionInfo: {} });
  ws.receive({ type: 'member_list', timestamp: 1, members: [HOST, ME, SARA] });
  eq(client.state.connection, 'connected', 'connected');
  eq([client.sendDirect('m-2', 'hi'), client.setPresence('away'), client.markRead(['n-1'])], [null, false, true], 'refused (reads are only remembered)');
  eq(ws.sent.map((m) => m.type).filter((t) => t !== 'heartbeat' && t !== 'ping'), ['join'], 'only the join went out');
});
