// Rule protected: a guest stays in the party through drops, and every ending is final and named.
// The client moves connecting → connected → reconnecting → connected, resuming with memberId,
// resumeSecret and lastSeq; replayed messages are applied once (seq ≤ lastSeq is ignored); a
// `resumed` snapshot replaces the state; `resume_failed` joins afresh as the same device; a plain
// LOUDSYNC 1.0 server (no hello, no seq, no resume) still works by re-joining. Kicked, session
// closed, session full, unauthorized, locked and replaced are terminal: no reconnect, ever.
import test from 'node:test';
import { eq, ok, setup, serveJoin, HOST, ME, SARA, SESSION } from './fakes.mjs';

const chat = (seq, id, text) => ({ seq, type: 'chat', timestamp: 5, id, from: 'm-2', name: 'Sara', text });

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
  const { client, last, clock } = setup();
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
  eq(client.state.notice && client.state.notice.kind, 'snapshot', 'notice');
  ws2.receive(chat(3, 'c-9', 'after snapshot'));
  eq(client.state.chat.map((c) => c.text), ['old', 'after snapshot'], 'chat continues');
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
  last().serverClose(1006);
  ok(client.sendChat('while away'), 'queued');
  clock.advance(10_000);
  last().open();
  last().receive({ type: 'resumed', timestamp: 1, clientId: 'm-1', lastSeq: 2, replayed: 0 });
  eq(last().sentOfType('chat').map((m) => m.text), ['while away'], 'queued chat flushed after resume');
  eq(client.sendChat('x'.repeat(1500)) && last().sentOfType('chat')[1].text.length, 1000, 'capped at 1000 chars');
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
