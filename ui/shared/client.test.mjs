// Rule protected: a guest stays in the party through drops, and every ending is final and named.
// The client moves connecting → connected → reconnecting → connected, resuming with memberId,
// resumeSecret and lastSeq; replayed messages are applied once (seq ≤ lastSeq is ignored); a
// `resumed` snapshot replaces the state; `resume_failed` joins afresh as the same device; a plain
// LOUDSYNC 1.0 server (no hello, no seq, no resume) still works by re-joining. Kicked, session
// closed, session full, unauthorized, locked and replaced are terminal: no reconnect, ever.
import test from 'node:test';
import { eq, ok, setup, serveJoin, HOST, ME, SARA, SESSION } from './fakes.mjs';

const chat = (seq, id, text) => ({ seq, type: 'chat', timestamp: 5, id, from: 'm-2', name: 'Sara', text });

test('join: a page that plays says so (player), one that does not says nothing', () => {
  const a = setup({ options: { player: true } });
  a.client.connect();
  a.last().open();
  eq(a.last().sent[0].player, true, 'a player');
  const b = setup();
  b.client.connect();
  b.last().open();
  eq('player' in b.last().sent[0], false, 'not a player: no field');
});

test('join: sends a partyline/1 join with the device, then connected with members', () => {
  const { client, last, transitions, creds } = setup();
  client.connect();
  eq(client.state.connection, 'connecting', 'state before open');
  const ws = last();
  eq(ws.url, 'ws://127.0.0.1:1/ws?token=abc', 'socket url');
  ws.open();
  const join = ws.sent[0];
  eq(join.type, 'join', 'first message');
  eq(join.protocolVersion, 'partyline/1', 'protocolVersion');
  eq(join.sessionId, 'k7m2qx', 'sessionId');
  eq(join.deviceInfo, { id: 'dev-1', name: 'Phone', type: 'client' }, 'deviceInfo');
  ok(typeof join.timestamp === 'number', 'join carries a numeric timestamp');
  serveJoin(ws, { members: [HOST, ME, Object.assign({ device: 'Android phone' }, SARA)] });
  eq(client.state.connection, 'connected', 'state after welcome');
  eq(transitions, ['connecting', 'connected'], 'transitions');
  eq(client.state.selfId, 'm-1', 'selfId');
  eq(client.state.session.name, "Rishad's Party", 'session name');
  eq(client.state.members.map((m) => m.id), ['host-7c01', 'm-1', 'm-2'], 'member ids');
  eq(client.state.members[0].isHost, true, 'host flagged');
  eq(client.state.members[2].latency, 40, 'server-measured latency');
  eq(client.state.members.map((m) => m.device), [undefined, undefined, 'Android phone'], 'devices, when the host knows them');
  eq(client.state.lastSeq, 2, 'lastSeq');
  eq(creds, [{ memberId: 'm-1', resumeSecret: 'a'.repeat(32), sessionId: 'k7m2qx' }], 'credentials event');
});

test('heartbeat every hello.heartbeatInterval; pings every 5 s', () => {
  const { client, last, clock } = setup({ options: { liveCheck: 0 } }); // the scheduled pings alone
  client.connect();
  const ws = last();
  ws.open();
  ws.receive({ seq: 1, type: 'welcome', timestamp: 1, clientId: 'm-1', sessionInfo: SESSION, resumeSecret: 's' });
  ws.receive({ type: 'hello', timestamp: 1, protocolVersion: 'partyline/1', heartbeatInterval: 2000, resumeWindow: 120000 });
  clock.advance(1999);
  eq(ws.sentOfType('heartbeat').length, 0, 'heartbeats before 2 s');
  clock.advance(1);
  eq(ws.sentOfType('heartbeat').length, 1, 'heartbeats at 2 s');
  const pingsAfterBurst = ws.sentOfType('ping').length;
  eq(pingsAfterBurst, 8, 'burst of pings at join');
  // keep the socket alive with pongs
  for (let i = 0; i < 10; i++) {
    clock.advance(1000);
    ws.receive({ type: 'pong', timestamp: clock.now() - 1 });
  }
  eq(ws.sentOfType('heartbeat').length, 6, 'heartbeats after 12 s');
  eq(ws.sentOfType('ping').length, 8 + 2, 'one ping per 5 s after the burst');
});

test('drop → reconnecting → resume → connected; replay applied once', () => {
  const { client, last, clock, transitions, WS } = setup();
  client.connect();
  const ws1 = last();
  let seq = serveJoin(ws1, { members: [HOST, ME, SARA] });
  ws1.receive(chat(seq++, 'c-1', 'hi')); // seq 3
  ws1.receive(chat(seq++, 'c-2', 'this song!')); // seq 4
  eq(client.state.lastSeq, 4, 'lastSeq before drop');

  ws1.serverClose(1006);
  eq(client.state.connection, 'reconnecting', 'after an abnormal close');
  eq(WS.instances.length, 1, 'no new socket before the backoff delay');
  clock.advance(10_000);
  eq(WS.instances.length, 2, 'a new socket after the delay');
  const ws2 = last();
  ws2.open();
  eq(ws2.sent[0], { type: 'resume', timestamp: ws2.sent[0].timestamp, sessionId: 'k7m2qx', memberId: 'm-1',
    resumeSecret: 'a'.repeat(32), lastSeq: 4 }, 'resume message');

  ws2.receive({ type: 'resumed', timestamp: 9, clientId: 'm-1', lastSeq: 4, replayed: 3, snapshot: false });
  eq(client.state.connection, 'connected', 'state after resumed');
  // Replay: an old one (already processed) slips in, then the missed ones in order.
  ws2.receive(chat(4, 'c-2', 'this song!'));
  ws2.receive({ seq: 5, type: 'member_updated', timestamp: 9, member: Object.assign({}, SARA, { connectionStatus: 'reconnecting' }) });
  ws2.receive(chat(6, 'c-3', 'missed while away'));
  ws2.receive(chat(6, 'c-3', 'missed while away')); // duplicate delivery
  ws2.receive({ seq: 7, type: 'latency_update', timestamp: 9, latencies: { 'm-2': 61, 'host-7c01': 3 } });
  eq(client.state.chat.map((c) => c.text), ['hi', 'this song!', 'missed while away'], 'chat after replay');
  eq(client.state.lastSeq, 7, 'lastSeq after replay');
  const sara = client.state.members.find((m) => m.id === 'm-2');
  eq(sara.connectionStatus, 'reconnecting', 'member_updated applied');
  eq(sara.latency, 61, 'latency_update applied');
  eq(transitions, ['connecting', 'connected', 'reconnecting', 'connected'], 'transitions');
});

test('resumed with snapshot: true replaces members from the fresh welcome + member_list', () => {
  const { client, last, clock } = setup();
  client.connect();
  let seq = serveJoin(last(), { members: [HOST, ME, SARA] });
  last().receive(chat(seq++, 'c-1', 'old'));
  last().serverClose(1006);
  clock.advance(10_000);
  const ws2 = last();
  ws2.open();
  eq(ws2.sent[0].lastSeq, 3, 'resume lastSeq');
  ws2.receive({ type: 'resumed', timestamp: 9, clientId: 'm-1', lastSeq: 3, replayed: 0, snapshot: true });
  // The server may restart numbering: a welcome with seq 1 must still be accepted.
  ws2.receive({ seq: 1, type: 'welcome', timestamp: 9, clientId: 'm-1', sessionInfo: Object.assign({}, SESSION, { name: 'Rooftop' }), resumeSecret: 'b'.repeat(32) });
  ws2.receive({ seq: 2, type: 'member_list', timestamp: 9, members: [HOST, ME] });
  eq(client.state.connection, 'connected', 'state');
  eq(client.state.members.map((m) => m.id), ['host-7c01', 'm-1'], 'members replaced (Sara gone)');
  eq(client.state.session.name, 'Rooftop', 'session info replaced');
  eq(client.state.lastSeq, 2, 'lastSeq follows the snapshot');
  eq(client.state.notice, null, 'no notice while the history may still come');
  ws2.receive(chat(3, 'c-9', 'after snapshot'));
  eq(client.state.chat.map((c) => c.text), ['old', 'after snapshot'], 'chat continues');
  eq(client.state.notice && client.state.notice.kind, 'snapshot', 'no history came: some may be missing');
});

test('resume_failed → a fresh join as the same device', () => {
  const { client, last, clock, creds } = setup();
  client.connect();
  serveJoin(last());
  last().serverClose(1006);
  clock.advance(10_000);
  const ws2 = last();
  ws2.open();
  eq(ws2.sent[0].type, 'resume', 'tries resume first');
  ws2.receive({ type: 'error', timestamp: 9, code: 'resume_failed', message: 'window over', details: { reason: 'expired' } });
  const join = ws2.sent[1];
  eq(join && join.type, 'join', 'then joins on the same socket');
  eq(join.deviceInfo.id, 'dev-1', 'same device id');
  eq(creds[creds.length - 1], null, 'old credentials forgotten');
  serveJoin(ws2, { clientId: 'm-7', secret: 'c'.repeat(32), members: [HOST, Object.assign({}, ME, { id: 'm-7' })] });
  eq(client.state.connection, 'connected', 'connected again');
  eq(client.state.selfId, 'm-7', 'new member id');
  eq(client.state.notice.kind, 'rejoined', 'notice');
  eq(creds[creds.length - 1].resumeSecret, 'c'.repeat(32), 'new credentials');
});

test('resume_failed then the server closes: the next socket joins (not resumes)', () => {
  const { client, last, clock } = setup();
  client.connect();
  serveJoin(last());
  last().serverClose(1006);
  clock.advance(10_000);
  last().open();
  last().receive({ type: 'error', timestamp: 9, code: 'resume_failed', details: { reason: 'unknown member' } });
  last().serverClose(1000);
  eq(client.state.connection, 'reconnecting', 'still trying');
  clock.advance(10_000);
  last().open();
  eq(last().sent[0].type, 'join', 'fresh join');
});

test('1.0-style server (no hello, no seq, no resumeSecret) works and re-joins after a drop', () => {
  const { client, last, clock, creds } = setup();
  client.connect();
  const ws = last();
  ws.open();
  ws.receive({ type: 'welcome', timestamp: 1, clientId: 'm-1', sessionInfo: SESSION });
  ws.receive({ type: 'member_list', timestamp: 1, members: [HOST, ME] });
  ws.receive({ type: 'member_joined', timestamp: 2, member: SARA });
  eq(client.state.connection, 'connected', 'connected without hello');
  eq(client.state.extensions, false, 'no extensions');
  eq(client.state.members.length, 3, 'members');
  ws.receive({ type: 'member_left', timestamp: 3, memberId: 'm-2', reason: 'left' });
  eq(client.state.members.length, 2, 'member_left applied (no seq needed)');
  clock.advance(5000);
  eq(ws.sentOfType('heartbeat').length, 1, 'default 5 s heartbeat');
  eq(creds.length, 0, 'no credentials from a 1.0 server');
  ws.serverClose(1006);
  clock.advance(10_000);
  last().open();
  eq(last().sent[0].type, 'join', 'rejoins (cannot resume)');
  last().receive({ type: 'welcome', timestamp: 1, clientId: 'm-1', sessionInfo: SESSION });
  eq(client.state.connection, 'connected', 'connected again');
});

test('version_mismatch at join falls back to plain 1.0', () => {
  const { client, last } = setup();
  client.connect();
  last().open();
  last().receive({ type: 'error', timestamp: 1, code: 'version_mismatch', details: { supported: ['1.0'] } });
  const j = last().sent[1];
  eq(j.type, 'join', 'joins again');
  eq('protocolVersion' in j, false, 'without protocolVersion');
});

function assertTerminal(t, { client, WS, clock }, kind, what) {
  eq(client.state.connection, 'ended', `${what}: connection`);
  eq(client.state.ending.kind, kind, `${what}: ending kind`);
  const n = WS.instances.length;
  clock.advance(600_000);
  eq(WS.instances.length, n, `${what}: no reconnect within 10 min`);
  client.wake();
  eq(WS.instances.length, n, `${what}: wake() does not reconnect either`);
}

test('kicked message → ended kicked with the host reason, no reconnect', (t) => {
  const ctx = setup();
  ctx.client.connect();
  const seq = serveJoin(ctx.last());
  ctx.last().receive({ seq, type: 'kicked', timestamp: 9, reason: 'Too loud' });
  ctx.last().serverClose(4010);
  assertTerminal(t, ctx, 'kicked', 'kicked');
  eq(ctx.client.state.ending.reason, 'Too loud', 'reason');
  eq(ctx.creds[ctx.creds.length - 1], null, 'resume secret forgotten');
});

test('close 4010 alone → kicked', (t) => {
  const ctx = setup();
  ctx.client.connect();
  serveJoin(ctx.last());
  ctx.last().serverClose(4010, 'Host removed you');
  assertTerminal(t, ctx, 'kicked', 'close 4010');
  eq(ctx.client.state.ending.closeCode, 4010, 'close code');
});

test('session_closed / 4011 → ended closed', (t) => {
  const ctx = setup();
  ctx.client.connect();
  const seq = serveJoin(ctx.last());
  ctx.last().receive({ seq, type: 'session_closed', timestamp: 9, reason: 'Host ended the session' });
  assertTerminal(t, ctx, 'closed', 'session_closed');
  eq(ctx.client.state.ending.reason, 'Host ended the session', 'reason');
  const ctx2 = setup();
  ctx2.client.connect();
  serveJoin(ctx2.last());
  ctx2.last().serverClose(4011);
  assertTerminal(t, ctx2, 'closed', 'close 4011');
});

test('session_full → ended full with the numbers', (t) => {
  const ctx = setup();
  ctx.client.connect();
  ctx.last().open();
  ctx.last().receive({ type: 'error', timestamp: 1, code: 'session_full', message: 'full',
    details: { maxMembers: 10, currentMembers: 10 } });
  assertTerminal(t, ctx, 'full', 'session_full');
  eq(ctx.client.state.ending.details, { maxMembers: 10, currentMembers: 10 }, 'details');
  ok(ctx.last().closedByClient, 'client closed the socket itself');
});

test('unauthorized (bad key, 4001) and locked → terminal', (t) => {
  const ctx = setup();
  ctx.client.connect();
  ctx.last().open();
  ctx.last().receive({ type: 'error', timestamp: 1, code: 'unauthorized', details: { reason: 'bad key' } });
  ctx.last().serverClose(4001);
  assertTerminal(t, ctx, 'unauthorized', 'bad key');

  const ctx2 = setup();
  ctx2.client.connect();
  ctx2.last().serverClose(4001); // close code only
  assertTerminal(t, ctx2, 'unauthorized', 'close 4001 only');

  const ctx3 = setup();
  ctx3.client.connect();
  ctx3.last().open();
  ctx3.last().receive({ type: 'error', timestamp: 1, code: 'unauthorized', message: 'Session is locked', details: { reason: 'locked' } });
  assertTerminal(t, ctx3, 'locked', 'locked');

  const ctx4 = setup();
  ctx4.client.connect();
  ctx4.last().open();
  ctx4.last().receive({ type: 'error', timestamp: 1, code: 'unauthorized', message: 'The host removed this device from the party', details: { reason: 'banned' } });
  ctx4.last().serverClose(4010, 'banned');
  assertTerminal(t, ctx4, 'banned', 'banned: not the wrong-key screen, no reconnect');
});

test('4009 / already_joined → replaced, no reconnect; retry() takes over by resuming', (t) => {
  const ctx = setup();
  ctx.client.connect();
  serveJoin(ctx.last());
  ctx.last().receive({ type: 'error', timestamp: 1, code: 'already_joined', details: { deviceId: 'dev-1' } });
  ctx.last().serverClose(4009);
  assertTerminal(t, ctx, 'replaced', 'replaced');
  ctx.client.retry();
  ctx.last().open();
  eq(ctx.last().sent[0].type, 'resume', 'retry resumes');
});

test('4012 heartbeat timeout and 4008 too slow → reconnect and resume', () => {
  for (const code of [4012, 4008, 4013, 1001]) {
    const { client, last, clock, WS } = setup();
    client.connect();
    serveJoin(last());
    last().serverClose(code);
    eq(client.state.connection, 'reconnecting', `close ${code}: state`);
    clock.advance(1000);
    eq(WS.instances.length, 2, `close ${code}: reconnects within the first backoff step`);
    last().open();
    eq(last().sent[0].type, 'resume', `close ${code}: resumes`);
  }
});

test('backoff grows between failed attempts, then gives up → failed; retry() starts again', () => {
  const { client, last, clock, WS } = setup({ randoms: [0.999] });
  client.connect();
  serveJoin(last());
  last().serverClose(1006);
  const gaps = [];
  let prev = clock.now();
  let count = WS.instances.length;
  while (client.state.connection === 'reconnecting' && clock.now() < prev + 400_000) {
    clock.advance(50);
    if (WS.instances.length > count) {
      gaps.push(clock.now() - prev);
      prev = clock.now();
      count = WS.instances.length;
      last().serverClose(1006); // host unreachable
    }
  }
  ok(gaps[0] <= 500 && gaps[1] <= 1000 && gaps[2] <= 2000, `first gaps grow from 0.5 s: ${gaps.slice(0, 4)}`);
  ok(gaps.every((g) => g <= 10_050), `no gap above the 10 s cap: max ${Math.max(...gaps)}`);
  eq(client.state.connection, 'failed', 'gives up');
  eq(client.state.ending.kind, 'failed', 'ending kind');
  const n = WS.instances.length;
  clock.advance(60_000);
  eq(WS.instances.length, n, 'no attempts after giving up');
  client.retry();
  eq(client.state.connection, 'reconnecting', 'retry() reconnects');
  eq(WS.instances.length, n + 1, 'a new socket at once');
});

test('the page keeps trying for as long as the host keeps its place (hello.resumeWindow), not 3 minutes', () => {
  const { client, last, clock, WS } = setup();
  client.connect();
  serveJoin(last());
  last().receive({ type: 'hello', timestamp: 1, protocolVersion: 'partyline/1', heartbeatInterval: 5000, resumeWindow: 900_000 });
  last().serverClose(1006);
  let count = WS.instances.length;
  const until = clock.now() + 600_000; // ten minutes away
  while (clock.now() < until) {
    clock.advance(1000);
    if (WS.instances.length > count) {
      count = WS.instances.length;
      last().serverClose(1006);
    }
  }
  eq(client.state.connection, 'reconnecting', 'still trying after ten minutes');
  while (WS.instances.length === count) clock.advance(100); // the next attempt
  last().open();
  last().receive({ type: 'resumed', timestamp: 1, clientId: 'm-1', lastSeq: 3, replayed: 0 });
  eq(client.state.connection, 'connected', 'and back as the same member');
});

test('first connection never succeeds → connecting, then failed (host unreachable)', () => {
  const { client, last, clock, transitions } = setup();
  client.connect();
  for (let i = 0; i < 200 && client.state.connection === 'connecting'; i++) {
    last().serverClose(1006);
    clock.advance(10_000);
  }
  eq(transitions, ['connecting', 'failed'], 'transitions');
});

test('wake(): reconnects at once while waiting; probes an open socket and drops it if silent', () => {
  const { client, last, clock, WS } = setup({ randoms: [0.999] });
  client.connect();
  serveJoin(last());
  last().serverClose(1006);
  clock.advance(600); // first attempt
  last().serverClose(1006); // fails; next wait up to 1 s
  const n = WS.instances.length;
  client.wake();
  eq(WS.instances.length, n + 1, 'wake() opens a socket immediately');
  last().open();
  last().receive({ type: 'resumed', timestamp: 1, clientId: 'm-1', lastSeq: 2, replayed: 0 });
  eq(client.state.connection, 'connected', 'resumed');
  const live = last();
  clock.advance(100);
  client.wake();
  ok(live.sentOfType('heartbeat').length >= 1, 'wake() sends a heartbeat');
  clock.advance(3000);
  eq(client.state.connection, 'reconnecting', 'silent socket after wake → reconnecting');
  ok(live.closedByClient, 'the dead socket was closed');
});

test('a socket that stops answering pings is detected as dead', () => {
  const { client, last, clock } = setup();
  client.connect();
  serveJoin(last());
  clock.advance(25_000); // no pongs at all
  eq(client.state.connection, 'reconnecting', 'dead socket → reconnecting');
});

test('a visible page notices a dead connection within 5 s; a connection that answers stays', () => {
  const { client, last, clock } = setup();
  client.connect();
  serveJoin(last());
  const ws = last();
  // The host answers every ping for 20 s: never dropped.
  for (let t = 0; t < 20_000; t += 250) {
    clock.advance(250);
    for (const ping of ws.sentOfType('ping').slice(ws.answered || 0)) {
      ws.receive({ type: 'pong', timestamp: ping.timestamp, serverReceive: 1, serverSend: 1 });
    }
    ws.answered = ws.sentOfType('ping').length;
  }
  eq(client.state.connection, 'connected', 'a connection that answers is kept');
  // Now nothing comes back (the Wi-Fi is gone, the socket still looks open).
  let at = 0;
  while (client.state.connection === 'connected' && at < 30_000) {
    clock.advance(100);
    at += 100;
  }
  eq(client.state.connection, 'reconnecting', 'the dead connection is noticed');
  ok(at <= 5000, 'within 5 s of the last frame, not ' + at + ' ms');
  ok(ws.closedByClient, 'the dead socket was closed');
});

test('a hidden page does not probe every second; offline() reconnects at once', () => {
  let visible = false;
  const { client, last, clock } = setup({ options: { visible: () => visible } });
  client.connect();
  serveJoin(last());
  clock.advance(8000);
  eq(client.state.connection, 'connected', 'hidden: left to deadAfter, not the 5 s check');
  visible = true;
  clock.advance(5000);
  eq(client.state.connection, 'reconnecting', 'visible again: the silent socket is dropped');

  const b = setup();
  b.client.connect();
  serveJoin(b.last());
  const ws = b.last();
  b.client.offline();
  eq(b.client.state.connection, 'reconnecting', 'offline → reconnecting at once');
  ok(ws.closedByClient, 'the socket the network took away was closed');
});

test('leave → ended left, no reconnect, credentials forgotten', () => {
  const { client, last, clock, WS, creds } = setup();
  client.connect();
  serveJoin(last());
  const ws = last();
  client.leave();
  eq(ws.sentOfType('leave').length, 1, 'leave sent');
  eq(client.state.connection, 'ended', 'state');
  eq(client.state.ending.kind, 'left', 'kind');
  eq(creds[creds.length - 1], null, 'credentials forgotten');
  clock.advance(60_000);
  eq(WS.instances.length, 1, 'no reconnect');
});

test('chat: sent when connected, queued while reconnecting and sent after resume', () => {
  const { client, last, clock } = setup();
  client.connect();
  serveJoin(last());
  ok(client.sendChat('  hello  '), 'sendChat returns true');
  eq(last().sentOfType('chat').map((m) => m.text), ['hello'], 'chat sent trimmed');
  eq(client.state.chat.length, 0, 'not shown until the server echoes it');
  eq(client.state.outbox.map((e) => [e.text, e.state]), [['hello', 'pending']], 'pending in the outbox');
  last().receive({ type: 'ack', timestamp: 1, cid: last().sentOfType('chat')[0].cid, ok: true });
  eq(client.state.outbox, [], 'taken by the host');
  last().serverClose(1006);
  ok(client.sendChat('while away'), 'queued');
  clock.advance(10_000);
  last().open();
  last().receive({ type: 'resumed', timestamp: 1, clientId: 'm-1', lastSeq: 2, replayed: 0 });
  eq(last().sentOfType('chat').map((m) => m.text), ['while away'], 'queued chat flushed after resume');
  eq(client.sendChat('x'.repeat(1500)) && last().sentOfType('chat')[1].text.length, 1000, 'capped at 1000 chars');
});

test('outbox: a line the host never acked is sent again after the resume, with the same cid; a refused one is marked failed and can be retried', () => {
  const { client, last, clock } = setup();
  client.connect();
  serveJoin(last());
  client.sendChat('lost in the outage');
  const first = last().sentOfType('chat')[0];
  ok(first.cid, 'sent with a cid');
  last().serverClose(1006); // the ack never came
  eq(client.state.outbox.map((e) => e.state), ['pending'], 'still pending while away');
  clock.advance(10_000);
  last().open();
  last().receive({ type: 'resumed', timestamp: 1, clientId: 'm-1', lastSeq: 2, replayed: 0 });
  const again = last().sentOfType('chat');
  eq(again.map((m) => [m.text, m.cid]), [['lost in the outage', first.cid]], 'sent again, same cid');
  last().receive({ seq: 3, type: 'chat', timestamp: 2, id: 'c-1', from: 'm-1', name: 'Phone', text: 'lost in the outage', room: 'general', cid: first.cid });
  eq(client.state.outbox, [], 'its line came back: no longer pending');
  last().receive({ type: 'ack', timestamp: 2, cid: first.cid, ok: true, duplicate: true });
  eq(client.state.chat.map((c) => c.text), ['lost in the outage'], 'shown once');

  client.sendChat('refused');
  const cid = last().sentOfType('chat')[1].cid;
  last().receive({ type: 'error', timestamp: 3, code: 'invalid_message', message: 'chat: no room', details: { reason: 'no_such_room' } });
  last().receive({ type: 'ack', timestamp: 3, cid, ok: false });
  eq(client.state.outbox.map((e) => [e.text, e.state, e.reason]), [['refused', 'failed', 'no_such_room']], 'failed, with why');
  ok(client.retryOutbox(cid), 'retry');
  eq(last().sentOfType('chat').slice(-1)[0].cid, cid, 'retried with the same cid');
  ok(client.dropOutbox(cid), 'discard');
  eq(client.state.outbox, [], 'forgotten');
});

test('chat.history: merged by id in the order said; a snapshot with nothing missing has no notice, one with missed lines says how many', () => {
  const { client, last, clock } = setup();
  client.connect();
  serveJoin(last());
  last().receive(chat(3, 'c-5', 'newest I had'));
  last().serverClose(1006);
  clock.advance(10_000);
  last().open();
  last().receive({ type: 'resumed', timestamp: 1, clientId: 'm-1', lastSeq: 3, replayed: 0, snapshot: true });
  last().receive({ seq: 1, type: 'welcome', timestamp: 1, clientId: 'm-1', sessionInfo: SESSION, resumeSecret: 'a'.repeat(32) });
  last().receive({ seq: 2, type: 'member_list', timestamp: 1, members: [HOST, ME] });
  // A page drawn here (each message is a task of its own) must not say "some may be missing":
  // the history that follows says what is (the CI once read that notice between the two).
  eq(client.state.notice, null, 'no notice before the history');
  last().receive({ type: 'chat.history', timestamp: 2, lines: [
    { id: 'c-4', room: 'general', from: 'm-2', name: 'Sara', text: 'older', createdAt: 0 },
    { id: 'c-5', room: 'general', from: 'm-2', name: 'Sara', text: 'newest I had', createdAt: 1 },
    { id: 'c-6', room: 'general', from: 'm-2', name: 'Sara', text: 'said while away', createdAt: 5, editedAt: 6 },
  ] });
  eq(client.state.chat.map((c) => c.text), ['older', 'newest I had', 'said while away'], 'merged, once each, in order');
  eq(client.state.chat[2].editedAt, 6, 'edited lines say so');
  eq(client.state.notice, null, 'nothing is missing: no notice');
  last().receive({ type: 'chat.history', timestamp: 3, lines: [], missed: 7 });
  eq([client.state.notice.kind, client.state.notice.count], ['missed', 7], 'told how many are gone');
});

test('a snapshot cut before its chat.history: the page says some messages may be missing', () => {
  const { client, last, clock } = setup();
  client.connect();
  serveJoin(last());
  last().serverClose(1006);
  clock.advance(10_000);
  last().open();
  last().receive({ type: 'resumed', timestamp: 1, clientId: 'm-1', lastSeq: 3, replayed: 0, snapshot: true });
  last().receive({ seq: 1, type: 'welcome', timestamp: 1, clientId: 'm-1', sessionInfo: SESSION, resumeSecret: 'a'.repeat(32) });
  eq(client.state.notice, null, 'nothing said yet');
  last().serverClose(1006);
  eq(client.state.notice && client.state.notice.kind, 'snapshot', 'the history never came');
});

test('chat.history: the notifications sent while away join the notes once each, in order, read as the host says; those gone are counted', () => {
  const { client, last, clock } = setup();
  const notices = [];
  client.on('notice', (n) => notices.push(n.id));
  client.connect();
  let seq = serveJoin(last());
  last().receive({ seq: seq++, type: 'notification', timestamp: 2, id: 'n-1', title: 'Before', body: '', level: 'info' });
  last().serverClose(1006);
  clock.advance(10_000);
  last().open();
  last().receive({ type: 'resumed', timestamp: 9, clientId: 'm-1', lastSeq: seq - 1, replayed: 0, snapshot: true });
  last().receive({ seq: 1, type: 'welcome', timestamp: 9, clientId: 'm-1', sessionInfo: SESSION, resumeSecret: 'a'.repeat(32) });
  last().receive({ type: 'chat.history', timestamp: 9, lines: [], notificationsMissed: 3, notifications: [
    { id: 'n-1', title: 'Before', body: '', level: 'info', from: 'h-1', name: 'Host', timestamp: 2 },
    { id: 'n-5', title: 'Cake', body: 'in the kitchen', level: 'alert', from: 'h-1', name: 'Host', timestamp: 7, read: true },
    { id: 'n-6', title: 'Last song', body: '', level: 'warning', from: 'h-1', name: 'Host', timestamp: 8,
      actions: [{ label: 'Menu', url: 'https://example.com/menu' }] },
  ] });
  eq(client.state.notes.map((n) => [n.id, n.title, n.level, n.read]), [
    ['n-1', 'Before', 'info', false],
    ['n-5', 'Cake', 'alert', true],
    ['n-6', 'Last song', 'warning', false],
  ], 'once each, in order, read as the host has it');
  eq(notices, ['n-1', 'n-5', 'n-6'], 'a notice event for each, once');
  ok(client.readNoteIds().includes('n-5'), 'read on this member’s behalf is remembered');
  eq([client.state.notice.kind, client.state.notice.count], ['missed', 3], 'the notifications gone are counted');
});

test('host restarted: the resume says so (state.restarted, a restarted event), the member is the same, and the history’s direct messages join the chat once each, in order', () => {
  const { client, last, clock } = setup();
  const restarts = [];
  const endings = [];
  client.on('restarted', (r) => restarts.push(r));
  client.on('ended', (e) => endings.push(e));
  client.connect();
  let seq = serveJoin(last(), { members: [HOST, ME, SARA] });
  last().receive({ seq: seq++, type: 'direct', timestamp: 3, from: 'm-2', id: 'd-1', payload: { text: 'before the crash' } });
  last().serverClose(1006);
  clock.advance(10_000);
  last().open();
  eq(last().sent[0].type, 'resume', 'resumes with its old secret');
  last().receive({ type: 'resumed', timestamp: 9, clientId: 'm-1', lastSeq: seq - 1, replayed: 0, snapshot: true, restarted: true });
  last().receive({ seq: 1, type: 'welcome', timestamp: 9, clientId: 'm-1', sessionInfo: SESSION, resumeSecret: 'a'.repeat(32) });
  last().receive({ seq: 2, type: 'member_list', timestamp: 9, members: [HOST, ME, SARA] });
  last().receive({ type: 'chat.history', timestamp: 9, lines: [], directs: [
    { id: 'd-1', from: 'm-2', to: 'm-1', payload: { text: 'before the crash' }, timestamp: 3 },
    { id: 'd-9', from: 'm-1', to: 'm-2', payload: { text: 'mine, acked before the crash' }, timestamp: 4 },
    { id: 'd-2', from: 'm-2', to: 'm-1', payload: { text: 'while it was down' }, timestamp: 6 },
  ] });
  eq(client.state.connection, 'connected', 'back in');
  eq(client.state.selfId, 'm-1', 'the same member');
  eq(endings, [], 'no ending (never "wrong key")');
  eq(restarts.length, 1, 'told once');
  ok(client.state.restarted && client.state.restarted.at > 0, 'state.restarted set');
  const dms = client.state.chat.filter((c) => c.kind === 'direct');
  eq(dms.map((d) => [d.direction, d.text, d.name]), [
    ['in', 'before the crash', 'Sara'],
    ['out', 'mine, acked before the crash', 'Sara'],
    ['in', 'while it was down', 'Sara'],
  ], 'once each, in order, with the other member named');
  eq(client.state.notice, null, 'nothing is missing');
  last().receive({ type: 'chat.history', timestamp: 10, lines: [], directsMissed: 2 });
  eq([client.state.notice.kind, client.state.notice.count], ['missed', 2], 'direct messages gone are counted too');
});

test('page reload: resume credentials given to the constructor resume with lastSeq 0 (full replay)', () => {
  const { client, last } = setup({ options: { resume: { memberId: 'm-1', resumeSecret: 'z'.repeat(32), sessionId: 'k7m2qx' } } });
  client.connect();
  last().open();
  eq(last().sent[0].type, 'resume', 'resumes');
  eq(last().sent[0].lastSeq, 0, 'lastSeq 0');
  last().receive({ type: 'resumed', timestamp: 1, clientId: 'm-1', lastSeq: 0, replayed: 3 });
  last().receive({ seq: 1, type: 'welcome', timestamp: 1, clientId: 'm-1', sessionInfo: SESSION, resumeSecret: 'z'.repeat(32) });
  last().receive({ seq: 2, type: 'member_list', timestamp: 1, members: [HOST, ME] });
  last().receive(chat(3, 'c-1', 'before reload'));
  eq(client.state.connection, 'connected', 'connected');
  eq(client.state.members.length, 2, 'members rebuilt from replay');
  eq(client.state.chat.length, 1, 'chat rebuilt from replay');
});

test('session_updated merges; garbage frames are ignored', () => {
  const { client, last } = setup();
  client.connect();
  const seq = serveJoin(last());
  last().onmessage({ data: 'not json' });
  last().onmessage({ data: '[1,2]' });
  last().receive({ seq, type: 'session_updated', timestamp: 9, session: { id: 'k7m2qx', name: 'Rooftop', locked: true, maxMembers: 20, memberCount: 2 } });
  eq(client.state.session.name, 'Rooftop', 'name');
  eq(client.state.session.locked, true, 'locked');
  eq(client.state.session.hostId, 'host-7c01', 'hostId kept');
  eq(client.state.connection, 'connected', 'still connected');
});

test('resumeInUrl: the resume rides in the socket URL and no resume frame is sent; a failure joins afresh', async () => {
  const { resumeUrl } = await import('./client.js');
  const { client, last, clock } = setup({ options: { resumeInUrl: true } });
  client.connect();
  let seq = serveJoin(last(), { members: [HOST, ME, SARA] });
  last().receive(chat(seq++, 'c-1', 'hi')); // seq 3
  last().serverClose(1006);
  clock.advance(10_000);
  const ws2 = last();
  const creds = { memberId: 'm-1', resumeSecret: 'a'.repeat(32), sessionId: 'k7m2qx' };
  eq(ws2.url, resumeUrl('ws://127.0.0.1:1/ws?token=abc', creds, 3), 'the resume in the URL, from the last seq');
  eq(ws2.url, 'ws://127.0.0.1:1/ws?token=abc&resume=m-1&secret=' + 'a'.repeat(32) + '&session=k7m2qx&lastSeq=3', 'its spelling');
  ws2.open();
  eq(ws2.sent.length, 0, 'nothing sent: the host has the resume');
  ws2.receive({ type: 'resumed', timestamp: 9, clientId: 'm-1', lastSeq: 3, replayed: 0, snapshot: false });
  eq(client.state.connection, 'connected', 'connected on the resumed that follows the upgrade');

  last().serverClose(1006);
  clock.advance(10_000);
  const ws3 = last();
  ws3.open();
  ws3.receive({ type: 'error', timestamp: 9, code: 'resume_failed', message: 'no', details: { reason: 'unknown member' } });
  eq(ws3.sent.map((m) => m.type), ['join'], 'a failed resume joins afresh on the same socket');
});

test('socket: an early socket opened at the same URL is taken over with what it heard; another URL is closed', async () => {
  const { resumeUrl } = await import('./client.js');
  const creds = { memberId: 'm-1', resumeSecret: 'a'.repeat(32), sessionId: 'k7m2qx' };
  const url = resumeUrl('ws://127.0.0.1:1/ws?token=abc', creds, 0);
  const early = { url, ws: { url, sent: [], closed: false, send(t) { this.sent.push(JSON.parse(t)); }, close() { this.closed = true; } },
    events: [{ type: 'open' }, { type: 'message', data: JSON.stringify({ type: 'resumed', timestamp: 9, clientId: 'm-1', lastSeq: 0, replayed: 1, snapshot: false }) },
      { type: 'message', data: JSON.stringify(chat(3, 'c-1', 'while the modules loaded')) }] };
  const { client, WS } = setup({ options: { resumeInUrl: true, resume: creds, socket: early } });
  client.connect();
  eq(WS.instances.length, 0, 'no socket of its own');
  eq(early.ws.sent.filter((m) => m.type === 'resume'), [], 'no resume frame: it was in the URL');
  eq(client.state.connection, 'connected', 'connected from the early socket’s resumed');
  eq(client.state.chat.map((c) => c.text), ['while the modules loaded'], 'what it heard before it was taken over');
  early.ws.onmessage({ data: JSON.stringify(chat(4, 'c-2', 'and after')) });
  eq(client.state.chat.length, 2, 'its later frames reach the client');

  const stale = { url: 'ws://elsewhere/ws', ws: { closed: false, close() { this.closed = true; } }, events: [] };
  const other = setup({ options: { resumeInUrl: true, resume: creds, socket: stale } });
  other.client.connect();
  eq(stale.ws.closed, true, 'a socket at another URL is closed');
  eq(other.WS.instances.length, 1, 'and one of its own opened');
  eq(other.last().url, url, 'at the resume URL');
});
