#!/usr/bin/env python3
"""Dev-only mock Partyline host for trying the phone page without the Rust host.

Serves ui/ with the host's path mapping (/, /app.js, /client.js, /style.css, /player.js,
/syncplay.js), /api/info, /api/join?code=, and a WebSocket at /ws that follows docs/protocol.md
closely enough to exercise the client (join, welcome/hello/member_list, seq numbers, resume +
replay + snapshot, heartbeat timeout, ping/pong with µs times, chat, kicked, session_closed, full,
locked, replaced).
Not a reference implementation; the Rust host is. Standard library only. Binds 127.0.0.1 only.

  python3 ui/dev/mock_host.py --port 8765 --key testkey --code ABCD

Control endpoints (GET), for driving scenarios from a test or curl:
  /_mock/state                     members and settings as JSON
  /_mock/add?name=Sara             add a fake (socketless, connected) guest
  /_mock/status?id=..&s=reconnecting   change a fake guest's status
  /_mock/chat?text=..&from=<id>    chat from a member (default: the host)
  /_mock/kick?id=..&reason=..      kick a member
  /_mock/close?reason=..           end the session
  /_mock/drop?id=..&hold=3         cut a member's socket abruptly; refuse upgrades for `hold` s
  /_mock/forget?id=..              clear a member's replay buffer (next resume gets a snapshot)
  /_mock/lock?on=1                 lock / unlock
  /_mock/max?n=3                   change --max-members
  /_mock/rename?name=..            rename the session
  /_mock/down?s=5                  answer /api/* and /ws with 503 for s seconds (cuts sockets)
"""
import argparse
import base64
import collections
import hashlib
import json
import os
import secrets
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

UI = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUTES = {
    '/': ('phone/index.html', 'text/html; charset=utf-8'),
    '/app.js': ('phone/app.js', 'text/javascript; charset=utf-8'),
    '/client.js': ('shared/client.js', 'text/javascript; charset=utf-8'),
    '/style.css': ('phone/style.css', 'text/css; charset=utf-8'),
    '/player.js': ('phone/player.js', 'text/javascript; charset=utf-8'),
    '/syncplay.js': ('shared/syncplay.js', 'text/javascript; charset=utf-8'),
}
SEQUENCED = {'welcome', 'member_list', 'member_joined', 'member_left', 'member_updated',
             'latency_update', 'session_updated', 'chat', 'kicked', 'session_closed'}
GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


def ms():
    return int(time.time() * 1000)


def us():
    return int(time.time() * 1_000_000)


class Conn:
    """One WebSocket connection (server side, no extensions, no fragmentation)."""

    def __init__(self, sock):
        self.sock = sock
        self.lock = threading.Lock()
        self.closed = False
        self.member = None

    def _frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([n])
        elif n < 65536:
            head += bytes([126]) + struct.pack('!H', n)
        else:
            head += bytes([127]) + struct.pack('!Q', n)
        with self.lock:
            if self.closed:
                return
            try:
                self.sock.sendall(head + payload)
            except OSError:
                self.closed = True

    def send(self, obj):
        self._frame(1, json.dumps(obj).encode())

    def close(self, code, reason=''):
        self._frame(8, struct.pack('!H', code) + reason.encode()[:120])
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def cut(self):
        """Abrupt loss: no close frame (like Wi-Fi dropping)."""
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_frame(self, rfile):
        head = rfile.read(2)
        if len(head) < 2:
            return None, None
        opcode = head[0] & 0x0F
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack('!H', rfile.read(2))[0]
        elif n == 127:
            n = struct.unpack('!Q', rfile.read(8))[0]
        mask = rfile.read(4) if head[1] & 0x80 else b'\0\0\0\0'
        data = bytearray(rfile.read(n))
        for i in range(len(data)):
            data[i] ^= mask[i % 4]
        return opcode, bytes(data)


class Member:
    def __init__(self, mid, name, device, is_host=False, ext=True):
        self.id = mid
        self.name = name
        self.device = device
        self.is_host = is_host
        self.ext = ext
        self.status = 'connected'
        self.joined_at = ms()
        self.latency = None
        self.secret = secrets.token_hex(16)
        self.seq = 0
        self.buffer = collections.deque(maxlen=512)
        self.conn = None
        self.last_hb = time.time()
        self.dropped_at = None
        self.fake = False

    def public(self):
        d = {'id': self.id, 'name': self.name, 'isHost': self.is_host,
             'connectionStatus': self.status, 'joinedAt': self.joined_at}
        if self.latency is not None:
            d['latency'] = self.latency
        return d


class Party:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.args = args
        self.session_id = 'k7m2qx'
        self.name = args.name
        self.locked = args.locked
        self.max = args.max
        self.members = collections.OrderedDict()
        host = Member('host-7c01', "Rishad's MacBook", 'host-device', is_host=True)
        host.fake = True
        host.latency = 0
        self.members[host.id] = host
        self.chat_n = 0
        self.hold_until = 0
        self.down_until = 0
        self.closed = False

    def guests(self):
        return [m for m in self.members.values() if not m.is_host]

    def send(self, m, msg):
        """Sends to one member: sequenced + buffered for [ext] members."""
        msg = dict(msg)
        msg.setdefault('timestamp', ms())
        if m.ext and msg['type'] in SEQUENCED:
            m.seq += 1
            msg = {'seq': m.seq, **msg}
            m.buffer.append(msg)
        if m.conn and m.status == 'connected':
            m.conn.send(msg)

    def broadcast(self, msg, skip=None, ext_only=False, v10_only=False):
        for m in list(self.members.values()):
            if m is skip or m.fake:
                continue
            if ext_only and not m.ext:
                continue
            if v10_only and m.ext:
                continue
            self.send(m, msg)

    def member_list(self):
        return {'type': 'member_list', 'members': [m.public() for m in self.members.values()]}

    def status_changed(self, m):
        self.broadcast({'type': 'member_updated', 'member': m.public()}, skip=m, ext_only=True)
        self.broadcast(self.member_list(), skip=m, v10_only=True)

    def remove(self, m, reason):
        self.members.pop(m.id, None)
        self.broadcast({'type': 'member_left', 'memberId': m.id, 'reason': reason})

    def session_updated(self):
        self.broadcast({'type': 'session_updated', 'session': {
            'id': self.session_id, 'name': self.name, 'hostId': 'host-7c01', 'locked': self.locked,
            'maxMembers': self.max, 'memberCount': len(self.guests())}}, ext_only=True)

    def info(self):
        d = {'sessionId': self.session_id, 'name': self.name, 'memberCount': len(self.guests()),
             'maxMembers': self.max, 'locked': self.locked, 'protocolVersions': ['1.0', 'partyline/1']}
        if self.args.open:
            d['open'] = True
        return d

    # ---- socket handling ---------------------------------------------------------------------

    def on_message(self, conn, msg):
        t = msg.get('type')
        m = conn.member
        if t == 'join' and not m:
            return self.on_join(conn, msg)
        if t == 'resume' and not m:
            return self.on_resume(conn, msg)
        if not m:
            return conn.send({'type': 'error', 'timestamp': ms(), 'code': 'invalid_message',
                              'message': 'join first', 'details': {'reason': 'join first'}})
        if t == 'heartbeat':
            m.last_hb = time.time()
        elif t == 'ping':
            r = us()
            conn.send({'type': 'pong', 'timestamp': msg.get('timestamp'),
                       **({'serverReceiveTime': r, 'serverSendTime': us()} if m.ext else {})})
        elif t == 'chat' and m.ext:
            self.chat_n += 1
            self.broadcast({'type': 'chat', 'id': 'c-%d' % self.chat_n, 'from': m.id, 'name': m.name,
                            'text': str(msg.get('text', ''))[:1000]}, ext_only=True)
        elif t == 'leave':
            m.conn = None
            self.remove(m, 'left')
            conn.close(1000)

    def on_join(self, conn, msg):
        pv = msg.get('protocolVersion')
        if pv not in (None, '1.0', 'partyline/1'):
            return conn.send({'type': 'error', 'timestamp': ms(), 'code': 'version_mismatch',
                              'message': 'unknown version', 'details': {'supported': ['1.0', 'partyline/1']}})
        if msg.get('sessionId') != self.session_id:
            return conn.send({'type': 'error', 'timestamp': ms(), 'code': 'session_not_found',
                              'message': 'no such session', 'details': {'sessionId': msg.get('sessionId')}})
        dev = (msg.get('deviceInfo') or {})
        existing = next((x for x in self.guests() if x.device == dev.get('id')), None)
        if not existing and self.locked:
            return conn.send({'type': 'error', 'timestamp': ms(), 'code': 'unauthorized',
                              'message': 'Session is locked', 'details': {'reason': 'locked'}})
        if not existing and len(self.guests()) >= self.max:
            n = len(self.guests())
            return conn.send({'type': 'error', 'timestamp': ms(), 'code': 'session_full',
                              'message': 'Session has reached maximum capacity (%d members)' % self.max,
                              'details': {'maxMembers': self.max, 'currentMembers': n}})
        ext = pv == 'partyline/1'
        if existing:
            m = existing
            self.replace(m)
            m.name = dev.get('name') or m.name
            m.ext = ext
        else:
            m = Member('m-' + secrets.token_hex(4), str(dev.get('name') or 'Guest')[:60], dev.get('id'), ext=ext)
            self.members[m.id] = m
        was = m.status
        m.conn = conn
        conn.member = m
        m.status = 'connected'
        m.last_hb = time.time()
        self.send(m, {'type': 'welcome', 'clientId': m.id, 'sessionInfo': {
            'id': self.session_id, 'name': self.name, 'hostId': 'host-7c01'},
            **({'resumeSecret': m.secret} if ext else {})})
        if ext:
            conn.send({'type': 'hello', 'timestamp': ms(), 'protocolVersion': 'partyline/1',
                       'heartbeatInterval': 5000, 'heartbeatTimeout': 15000,
                       'resumeWindow': self.args.resume_window * 1000, 'serverTime': us()})
        self.send(m, self.member_list())
        if not existing:
            self.broadcast({'type': 'member_joined', 'member': m.public()}, skip=m)
        elif was != 'connected':
            self.status_changed(m)

    def replace(self, m):
        old = m.conn
        if old and not old.closed:
            old.member = None
            old.send({'type': 'error', 'timestamp': ms(), 'code': 'already_joined',
                      'message': 'joined elsewhere', 'details': {'deviceId': m.device}})
            old.close(4009, 'replaced')

    def on_resume(self, conn, msg):
        m = self.members.get(msg.get('memberId'))
        if not m or m.fake or m.secret != msg.get('resumeSecret') or not m.ext:
            return conn.send({'type': 'error', 'timestamp': ms(), 'code': 'resume_failed',
                              'message': 'cannot resume', 'details': {'reason': 'unknown member or secret'}})
        self.replace(m)
        last = int(msg.get('lastSeq') or 0)
        buffered = [x for x in m.buffer if x['seq'] > last]
        complete = (not buffered and last >= m.seq) or (buffered and buffered[0]['seq'] == last + 1)
        if getattr(m, 'force_snapshot', False):
            complete = m.force_snapshot = False
        m.conn = conn
        conn.member = m
        was = m.status
        m.status = 'connected'
        m.last_hb = time.time()
        m.dropped_at = None
        if complete:
            conn.send({'type': 'resumed', 'timestamp': ms(), 'clientId': m.id, 'lastSeq': last,
                       'replayed': len(buffered), 'snapshot': False})
            for x in buffered:
                conn.send(x)
        else:
            conn.send({'type': 'resumed', 'timestamp': ms(), 'clientId': m.id, 'lastSeq': last,
                       'replayed': 0, 'snapshot': True})
            self.send(m, {'type': 'welcome', 'clientId': m.id, 'resumeSecret': m.secret, 'sessionInfo': {
                'id': self.session_id, 'name': self.name, 'hostId': 'host-7c01'}})
            self.send(m, self.member_list())
        if was != 'connected':
            self.status_changed(m)

    def on_socket_end(self, conn):
        m = conn.member
        if not m or m.conn is not conn:
            return
        m.conn = None
        if m.ext:
            m.status = 'reconnecting'
            m.dropped_at = time.time()
            self.status_changed(m)
        else:
            self.remove(m, 'error')

    def tick(self):
        """Heartbeat timeouts, resume windows, fake latencies."""
        now = time.time()
        for m in list(self.guests()):
            if m.fake:
                continue
            if m.conn and m.status == 'connected' and now - m.last_hb > 15:
                c = m.conn
                self.on_socket_end(c)
                c.close(4012, 'heartbeat timeout')
            if m.status == 'reconnecting' and m.dropped_at and now - m.dropped_at > self.args.resume_window:
                self.remove(m, 'timeout')
        if now - getattr(self, 'last_lat', 0) >= 5:
            self.last_lat = now
            lat = {}
            for m in self.guests():
                if m.conn and not m.conn.closed:
                    m.conn._frame(9, ('%.6f' % now).encode())
                if m.fake and m.status == 'connected':
                    m.latency = max(3, (m.latency or 30) + secrets.choice([-3, -2, 2, 3]))
                if m.latency is not None:
                    lat[m.id] = m.latency
            if lat:
                self.broadcast({'type': 'latency_update', 'latencies': lat}, ext_only=True)


def handler_for(party):
    class H(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, fmt, *a):
            if os.environ.get('MOCK_VERBOSE'):
                super().log_message(fmt, *a)

        def reply(self, code, body, ctype='application/json'):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(data)))
            self.send_header('Cache-Control', 'no-store')
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            u = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(u.query).items()}
            if u.path.startswith('/_mock/'):
                with party.lock:
                    return self.reply(200, control(party, u.path[7:], q))
            if time.time() < party.down_until and (u.path.startswith('/api/') or u.path == '/ws'):
                return self.reply(503, {'error': 'down'})
            if u.path in ROUTES:
                f, ctype = ROUTES[u.path]
                with open(os.path.join(UI, f), 'rb') as fh:
                    return self.reply(200, fh.read(), ctype)
            if u.path == '/api/info':
                with party.lock:
                    return self.reply(200, party.info())
            if u.path == '/api/join':
                code = q.get('code', '').upper()
                if party.args.open:
                    return self.reply(200, {'joinKey': ''})
                if code == 'SLOW':
                    return self.reply(429, {'error': 'too many tries'})
                if code == party.args.code:
                    return self.reply(200, {'joinKey': party.args.key})
                return self.reply(403, {'error': 'wrong code'})
            if u.path == '/ws' and self.headers.get('Upgrade', '').lower() == 'websocket':
                return self.websocket(q)
            self.reply(404, {'error': 'not found'})

        def websocket(self, q):
            if time.time() < party.hold_until or time.time() < party.down_until:
                return self.reply(503, {'error': 'holding'})
            key = self.headers.get('Sec-WebSocket-Key', '')
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            self.send_response(101, 'Switching Protocols')
            self.send_header('Upgrade', 'websocket')
            self.send_header('Connection', 'Upgrade')
            self.send_header('Sec-WebSocket-Accept', accept)
            self.end_headers()
            self.wfile.flush()
            conn = Conn(self.connection)
            self.close_connection = True
            if not party.args.open and q.get('token') != party.args.key:
                conn.send({'type': 'error', 'timestamp': ms(), 'code': 'unauthorized',
                           'message': 'wrong or missing join key', 'details': {'reason': 'bad key'}})
                conn.close(4001, 'unauthorized')
                return
            try:
                while True:
                    op, data = conn.read_frame(self.rfile)
                    if op is None or op == 8:
                        break
                    if op == 9:
                        conn._frame(10, data)
                        continue
                    if op == 10:
                        with party.lock:
                            if conn.member:
                                try:
                                    conn.member.latency = round((time.time() - float(data)) * 1000)
                                except ValueError:
                                    pass
                        continue
                    if op != 1:
                        continue
                    try:
                        msg = json.loads(data)
                    except ValueError:
                        continue
                    with party.lock:
                        party.on_message(conn, msg)
                    if conn.closed:
                        break
            except (OSError, ValueError):
                pass
            finally:
                with party.lock:
                    party.on_socket_end(conn)
                conn.cut()

    return H


def control(party, cmd, q):
    g = lambda k, d=None: q.get(k, d)
    if cmd == 'add':
        m = Member('m-' + secrets.token_hex(4), g('name', 'Guest'), 'fake-' + secrets.token_hex(4))
        m.fake = True
        m.latency = int(g('latency', 30))
        party.members[m.id] = m
        party.broadcast({'type': 'member_joined', 'member': m.public()})
        return {'id': m.id}
    m = party.members.get(g('id', ''))
    if cmd == 'status' and m:
        m.status = g('s', 'reconnecting')
        party.status_changed(m)
    elif cmd == 'chat':
        sender = m or party.members['host-7c01']
        party.chat_n += 1
        party.broadcast({'type': 'chat', 'id': 'c-%d' % party.chat_n, 'from': sender.id,
                         'name': sender.name, 'text': g('text', 'hello')}, ext_only=True)
    elif cmd == 'kick' and m:
        party.send(m, {'type': 'kicked', 'reason': g('reason', 'Host removed you from the session')})
        c = m.conn
        m.conn = None
        party.remove(m, 'kicked')
        if c:
            c.member = None
            c.close(4010, 'kicked')
    elif cmd == 'close':
        for x in party.guests():
            party.send(x, {'type': 'session_closed', 'reason': g('reason', 'Host ended the session')})
            if x.conn:
                x.conn.member = None
                x.conn.close(4011, 'session closed')
        party.members = collections.OrderedDict((k, v) for k, v in party.members.items() if v.is_host)
        party.session_id = 'closed-' + secrets.token_hex(2)
    elif cmd == 'drop' and m and m.conn:
        party.hold_until = time.time() + float(g('hold', 0))
        m.conn.cut()
    elif cmd == 'forget' and m:
        m.buffer.clear()
        m.force_snapshot = True
    elif cmd == 'lock':
        party.locked = g('on', '1') == '1'
        party.session_updated()
    elif cmd == 'max':
        party.max = int(g('n', 100))
        party.session_updated()
    elif cmd == 'rename':
        party.name = g('name', party.name)
        party.session_updated()
    elif cmd == 'down':
        party.down_until = time.time() + float(g('s', 5))
        for x in party.guests():
            if x.conn:
                x.conn.cut()
    return {'session': party.info(), 'members': [dict(x.public(), seq=x.seq, ext=x.ext, fake=x.fake,
                                                      online=bool(x.conn)) for x in party.members.values()]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--port', type=int, default=8765)
    ap.add_argument('--key', default='testkey')
    ap.add_argument('--code', default='ABCD')
    ap.add_argument('--open', action='store_true')
    ap.add_argument('--locked', action='store_true')
    ap.add_argument('--max', type=int, default=100)
    ap.add_argument('--name', default="Rishad's Party")
    ap.add_argument('--resume-window', type=float, default=120)
    args = ap.parse_args()
    party = Party(args)

    def ticker():
        while True:
            time.sleep(0.25)
            with party.lock:
                party.tick()

    threading.Thread(target=ticker, daemon=True).start()
    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            import sys
            if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                super().handle_error(request, client_address)

    srv = Server(('127.0.0.1', args.port), handler_for(party))
    srv.daemon_threads = True
    print('mock Partyline host on http://127.0.0.1:%d/#k=%s  (code %s)' % (args.port, args.key, args.code), flush=True)
    srv.serve_forever()


if __name__ == '__main__':
    main()
