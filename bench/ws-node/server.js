// Reference server for partyline-bench: the LOUDSYNC subset the bench uses, on Node and the
// `ws` package, written the way a careful Node server is: each broadcast serialized once into
// one Buffer that every member's send shares, no per-message compression.
//
//   join      -> welcome + member_list to the joiner, member_joined to the others
//   heartbeat -> nothing
//   ping      -> pong echoing timestamp
//   chat      -> a server chat to every member, the sender included
//   close     -> member_left to the others
//
// Usage: node server.js [--port 0] [--bind 127.0.0.1]
// Prints one JSON line ({kind, wsUrl, port, sessionId, joinKey, pid}) and runs until its
// standard input closes (the bench holds it open) or it is killed.
'use strict';

const crypto = require('node:crypto');
const { WebSocketServer } = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const bind = arg('--bind', '127.0.0.1');
const port = Number(arg('--port', '0'));
const sessionId = 'node01';
const joinKey = crypto.randomBytes(16).toString('base64url');
const hostInfo = { id: 'host-node', name: 'bench-host', isHost: true, connectionStatus: 'connected', joinedAt: Date.now() };

/** Joined members in order of joining: { ws, id, name, info (JSON text) }. */
const members = new Map();
let nextMember = 1;
let nextChat = 1;

function broadcast(buffer, except) {
  for (const member of members.values()) {
    if (member.ws !== except && member.ws.readyState === 1) member.ws.send(buffer, { binary: false });
  }
}

const wss = new WebSocketServer({ host: bind, port, perMessageDeflate: false, maxPayload: 64 * 1024 });

wss.on('listening', () => {
  const actual = wss.address().port;
  process.stdout.write(JSON.stringify({
    kind: 'ws-node', wsUrl: `ws://${bind}:${actual}/ws`, port: actual, sessionId, joinKey, pid: process.pid,
  }) + '\n');
});

wss.on('connection', (ws, request) => {
  const token = new URL(request.url, 'http://x').searchParams.get('token');
  if (token !== joinKey) {
    ws.send(JSON.stringify({ type: 'error', timestamp: Date.now(), code: 'unauthorized', message: 'Wrong or missing join key' }));
    ws.close(4001, 'unauthorized');
    return;
  }
  let me = null;
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    switch (msg.type) {
      case 'join': {
        if (me || msg.sessionId !== sessionId) return;
        const now = Date.now();
        const id = 'm-' + (nextMember++).toString(16).padStart(8, '0');
        const name = (msg.deviceInfo && msg.deviceInfo.name) || 'guest';
        const info = JSON.stringify({ id, name, isHost: false, connectionStatus: 'connected', joinedAt: now });
        me = { ws, id, name, info };
        ws.send(JSON.stringify({
          type: 'welcome', timestamp: now, clientId: id, sessionInfo: { id: sessionId, name: 'Bench', hostId: hostInfo.id },
        }));
        const list = [JSON.stringify(hostInfo)];
        for (const member of members.values()) list.push(member.info);
        list.push(info);
        ws.send(`{"type":"member_list","timestamp":${now},"members":[${list.join(',')}]}`);
        broadcast(Buffer.from(`{"type":"member_joined","timestamp":${now},"member":${info}}`), ws);
        members.set(ws, me);
        break;
      }
      case 'heartbeat':
        break;
      case 'ping':
        ws.send(JSON.stringify({ type: 'pong', timestamp: msg.timestamp }));
        break;
      case 'chat': {
        if (!me || typeof msg.text !== 'string') return;
        const seq = nextChat++;
        const frame = JSON.stringify({
          type: 'chat', timestamp: Date.now(), seq, id: `c-${seq}`, from: me.id, name: me.name, text: msg.text,
        });
        broadcast(Buffer.from(frame), null);
        break;
      }
      case 'leave':
        ws.close(1000, 'left');
        break;
      default:
        break;
    }
  });
  ws.on('close', () => {
    if (!me) return;
    members.delete(ws);
    broadcast(Buffer.from(JSON.stringify({ type: 'member_left', timestamp: Date.now(), memberId: me.id, reason: 'left' })), null);
  });
  ws.on('error', () => {});
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
