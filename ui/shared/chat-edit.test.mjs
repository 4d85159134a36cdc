// Rule protected: a chat line is the same line for everyone after it changes. The phone edits and
// deletes only its own lines (`chat.edit` / `chat.delete`, words trimmed and cut to the host's
// limit in code points), and applies anyone's `chat.edited` / `chat.deleted` to the line with that
// id, once: new words with `editedAt`, or a mark without the words; a replay changes nothing and a
// late edit never brings a deleted line back. The host's refusal reaches the page as
// `chatrefused` with the line it was about, and a `not_yours` (code `unauthorized`) ends nothing.
import test from 'node:test';
import { eq, ok, setup, serveJoin, HOST, ME, SARA } from './fakes.mjs';

const line = (seq, id, from, text) => ({ seq, type: 'chat', timestamp: 5, id, room: 'general', from,
  name: from === 'm-1' ? 'Phone' : 'Sara', text });
const edited = (seq, id, from, text, editedAt = 9) => ({ seq, type: 'chat.edited', timestamp: editedAt, id,
  room: 'general', from, text, createdAt: 5, editedAt });
const deleted = (seq, id) => ({ seq, type: 'chat.deleted', timestamp: 11, id, room: 'general' });

/** Connected, with one line of ours (c-1) and one of Sara's (c-2); returns the next seq. */
function party() {
  const t = setup();
  t.client.connect();
  const ws = t.last();
  let seq = serveJoin(ws, { members: [HOST, ME, SARA] });
  ws.receive(line(seq++, 'c-1', 'm-1', 'helo'));
  ws.receive(line(seq++, 'c-2', 'm-2', 'this song!'));
  const events = [];
  for (const type of ['chatedited', 'chatdeleted', 'chatrefused', 'servererror', 'ended']) {
    t.client.on(type, (e) => events.push([type, e]));
  }
  return Object.assign(t, { ws, seq, events });
}

/** What the chat holds, as [id, text, editedAt, deleted]. */
const shown = (client) => client.state.chat.map((c) => [c.id, c.text, c.editedAt, !!c.deleted]);

test('editChat/deleteChat: sent for our own lines only, words trimmed and cut in code points', () => {
  const { client, ws } = party();
  ok(client.editChat('c-1', '  hello  '), 'editChat on our line');
  ok(client.deleteChat('c-1'), 'deleteChat on our line');
  const sent = ws.sent.filter((m) => m.type.startsWith('chat.')).map(({ type, id, text }) => ({ type, id, text }));
  eq(sent, [{ type: 'chat.edit', id: 'c-1', text: 'hello' }, { type: 'chat.delete', id: 'c-1', text: undefined }],
    'chat.edit and chat.delete on the wire');
  ok(ws.sentOfType('chat.edit').every((m) => typeof m.timestamp === 'number'), 'each with a timestamp');

  ok(client.editChat('c-1', '🎉'.repeat(1001)), 'editChat with 1,001 emoji');
  const long = ws.sentOfType('chat.edit')[1].text;
  eq([Array.from(long).length, long.length], [1000, 2000], 'cut to 1,000 code points (2,000 UTF-16 units)');

  eq(client.editChat('c-2', 'not mine'), false, "editChat on Sara's line");
  eq(client.deleteChat('c-2'), false, "deleteChat on Sara's line");
  eq(client.editChat('c-9', 'gone'), false, 'editChat on a line we do not have');
  eq(client.editChat('c-1', '   '), false, 'editChat with only spaces');
  eq(client.editChat(null, 'x'), false, 'editChat without an id');
  eq(ws.sent.filter((m) => m.type.startsWith('chat.')).length, 3, 'nothing more sent');
});

test('editChat/deleteChat: nothing is sent while reconnecting, nor for a private message', () => {
  const { client, ws, seq } = party();
  ws.receive({ seq, type: 'direct', timestamp: 6, from: 'm-2', id: 'd-1', payload: { text: 'psst' } });
  const dm = client.state.chat.find((c) => c.kind === 'direct');
  ok(dm, 'the private message is in the chat');
  eq(client.deleteChat(dm.id), false, 'deleteChat on a private message');
  ws.serverClose(1006);
  eq(client.state.connection, 'reconnecting', 'cut off');
  eq(client.editChat('c-1', 'later'), false, 'editChat while reconnecting');
  eq(client.deleteChat('c-1'), false, 'deleteChat while reconnecting');
  eq(ws.sent.filter((m) => m.type.startsWith('chat.')), [], 'no chat.edit or chat.delete sent');
});

test("chat.edited: anyone's line gets the new words and editedAt, once; unknown ids change nothing", () => {
  const t = party();
  const { client, ws, events } = t;
  let seq = t.seq;
  ws.receive(edited(seq++, 'c-2', 'm-2', 'this song!!', 9));
  eq(shown(client), [['c-1', 'helo', undefined, false], ['c-2', 'this song!!', 9, false]], "Sara's edit applied");
  eq(events.map(([type, e]) => [type, e.id, e.text]), [['chatedited', 'c-2', 'this song!!']], 'one chatedited event');
  ws.receive(edited(seq - 1, 'c-2', 'm-2', 'replayed', 9)); // the same seq again (a resume's replay)
  ws.receive(edited(seq++, 'c-77', 'm-2', 'before we joined', 10));
  eq(shown(client)[1], ['c-2', 'this song!!', 9, false], 'a replay and an unknown id change nothing');
  eq(events.length, 1, 'no event for either');

  ok(client.editChat('c-1', 'hello'), 'our own edit');
  eq(shown(client)[0], ['c-1', 'helo', undefined, false], 'unchanged until the host says so');
  ws.receive(edited(seq++, 'c-1', 'm-1', 'hello', 12));
  eq(shown(client)[0], ['c-1', 'hello', 12, false], 'applied when chat.edited comes back');
  eq(client.state.chat[0].from, 'm-1', 'still our line');
});

test('chat.deleted: the line becomes a mark without its words; a late edit does not bring it back', () => {
  const { client, ws, events, seq } = party();
  ok(client.deleteChat('c-1'), 'our own deletion');
  ws.receive(deleted(seq, 'c-1'));
  ws.receive(deleted(seq + 1, 'c-2')); // the host took Sara's line back
  eq(shown(client), [['c-1', '', undefined, true], ['c-2', '', undefined, true]], 'both marked deleted, words gone');
  eq(events.map(([type, e]) => [type, e.id]), [['chatdeleted', 'c-1'], ['chatdeleted', 'c-2']], 'one event each');
  ws.receive(deleted(seq + 2, 'c-2'));
  ws.receive(edited(seq + 3, 'c-2', 'm-2', 'back from the dead'));
  eq(shown(client)[1], ['c-2', '', undefined, true], 'still deleted');
  eq(events.length, 2, 'no more events');
  eq(client.editChat('c-1', 'again'), false, 'a deleted line of ours cannot be edited');
  eq(client.deleteChat('c-1'), false, 'nor deleted twice');
});

test('a refused edit (not_yours, unauthorized) ends nothing and names the line and its words', () => {
  const { client, ws, events, transitions } = party();
  ok(client.editChat('c-1', 'hello'), 'editChat');
  ws.receive({ type: 'error', timestamp: 7, code: 'unauthorized', message: 'chat.edit: line c-1 is not yours',
    details: { reason: 'not_yours' } });
  eq(client.state.connection, 'connected', 'still connected');
  eq(transitions, ['connecting', 'connected'], 'no ending, no reconnect');
  eq(events.map(([type, e]) => [type, e]), [['chatrefused', { kind: 'edit', id: 'c-1', reason: 'not_yours',
    message: 'chat.edit: line c-1 is not yours', text: 'hello' }]], 'one chatrefused, no servererror, no ended');
  ok(ws.readyState === 1 && ws.closedByClient == null, 'the socket stays open');
});

test('refusals are matched to the oldest unanswered change of their kind; other errors are not', () => {
  const { client, ws, events, seq } = party();
  ok(client.editChat('c-1', 'one'), 'first edit');
  ok(client.deleteChat('c-1'), 'then a deletion');
  ok(client.editChat('c-1', 'two'), 'then a second edit');
  ws.receive(edited(seq, 'c-1', 'm-1', 'one')); // the first edit done
  ws.receive({ type: 'error', timestamp: 7, code: 'invalid_message', message: 'chat.edit: bad words',
    details: { reason: 'bad_chat' } });
  ws.receive({ type: 'error', timestamp: 7, code: 'invalid_message', message: 'chat.delete: no line c-1',
    details: { reason: 'no_such_line' } });
  eq(events.filter(([type]) => type === 'chatrefused').map(([, e]) => [e.kind, e.id, e.reason, e.text]),
    [['edit', 'c-1', 'bad_chat', 'two'], ['delete', 'c-1', 'no_such_line', undefined]], 'each refusal with its change');

  // A refusal with nothing unanswered (its change went out on a socket since lost) still ends nothing.
  ws.receive({ type: 'error', timestamp: 8, code: 'unauthorized', message: 'chat.delete: line c-2 is not yours',
    details: { reason: 'not_yours' } });
  eq(events[events.length - 1], ['chatrefused', { kind: 'delete', id: null, reason: 'not_yours',
    message: 'chat.delete: line c-2 is not yours' }], 'a refusal with no known line');
  // A plain chat's refusal is a server error as before, and a real unauthorized still ends the party.
  ws.receive({ type: 'error', timestamp: 8, code: 'invalid_message', message: 'chat: bad words', details: { reason: 'bad_chat' } });
  eq(events[events.length - 1][0], 'servererror', "a chat's bad_chat is a servererror");
  ws.receive({ type: 'error', timestamp: 9, code: 'unauthorized', message: 'the party is locked', details: { reason: 'locked' } });
  eq([client.state.connection, client.state.ending && client.state.ending.kind], ['ended', 'locked'], 'locked still ends');
});

test('after a drop and a resume, a refusal is not matched to a change sent on the lost socket', () => {
  const { client, ws, events, clock, last, seq } = party();
  ok(client.editChat('c-1', 'lost'), 'an edit whose answer never comes');
  ws.serverClose(1006);
  clock.advance(10_000);
  const ws2 = last();
  ok(ws2 !== ws, 'a new socket');
  ws2.open();
  ws2.receive({ type: 'resumed', timestamp: 9, clientId: 'm-1', lastSeq: seq - 1, replayed: 0, snapshot: false });
  eq(client.state.connection, 'connected', 'resumed');
  ok(client.deleteChat('c-1'), 'a deletion on the new socket');
  ws2.receive({ type: 'error', timestamp: 9, code: 'unauthorized', message: 'chat.edit: line c-1 is not yours',
    details: { reason: 'not_yours' } });
  eq(events.filter(([type]) => type === 'chatrefused').map(([, e]) => [e.kind, e.id]), [['edit', null]],
    'the edit refused is not the deletion sent since, nor the edit from the lost socket');
});
