// Partyline protocol client: LOUDSYNC 1.0 + the Partyline extensions (docs/protocol.md).
//
// DOM-free and dependency-injected (WebSocket constructor, timers, clock, randomness) so that the
// phone page, the desktop app and the Node unit tests all run the same code.
// Plain ES2020: no class fields, no private names, no `??=`. Every close code, limit, version,
// timing default and error code the host defines comes from wire.js, generated from the Rust side.
import { CLOSE, ERROR, LIMITS, REASON, TIMING, VERSIONS } from './wire.js';
import { charCount, clip } from './text.js';
import { SyncClock } from './clock.js';

/** Close codes after which the client must not reconnect on its own. */
export const ENDING_CLOSE_CODES = {
  [CLOSE.UNAUTHORIZED]: 'unauthorized',
  [CLOSE.REPLACED]: 'replaced',
  [CLOSE.KICKED]: 'kicked',
  [CLOSE.SESSION_CLOSED]: 'closed',
};

/**
 * The close code this client uses when it abandons a socket itself (timeout, silent server). Not
 * one of the host's: 4000 is the first application code and says nothing more than "the client".
 */
const CLIENT_DROP = 4000;

/** Chat lines queued while reconnecting: a few thoughts typed in a tunnel, not a backlog. */
const MAX_QUEUED_CHAT = 20;
/** The most messages waiting in the outbox (pending or failed): past it, sending says no. */
const MAX_OUTBOX = 50;
/** A SyncPlay command still unsent after this long is not sent late (a stale pause surprises). */
const STALE_COMMAND_MS = 10000;

/**
 * `details.reason` of the host's refusals of `chat.edit` / `chat.delete` (docs/protocol.md):
 * `not_yours` comes with code `unauthorized`, which otherwise ends the session.
 */
export const CHAT_REFUSALS = Object.freeze({
  notYours: 'not_yours',
  noSuchLine: 'no_such_line',
  badChat: 'bad_chat',
});

/** Default tuning. All durations in milliseconds. */
export const DEFAULTS = {
  protocolVersion: VERSIONS.partyline,
  heartbeatInterval: TIMING.heartbeatInterval, // until `hello` says otherwise
  pingInterval: TIMING.probeInterval, // as often as the host measures the round trip itself
  burstPings: 8,
  burstSpacing: 150,
  backoffBase: 500,
  backoffCap: 10000,
  handshakeTimeout: 10000, // socket open + welcome/resumed
  deadAfter: TIMING.heartbeatTimeout, // nothing heard for as long as the host waits for us: it is dead
  wakeProbeTimeout: 3000, // after wake(): no answer to a probe ping within this: reconnect
  // A visible page knows within 5 s that its connection died (a phone's socket can stay "open"
  // for a minute after the Wi-Fi is gone): every `liveCheck` it looks; heard nothing for
  // `quietBefore` → a probe ping; no answer to it within `answerWithin` → reconnect. Worst case
  // quietBefore + liveCheck + answerWithin after the last frame: 5 s. A hidden page is left to
  // `deadAfter` (its timers are throttled and it should not keep the radio awake). 0: off.
  liveCheck: 1000,
  quietBefore: 1500,
  answerWithin: 2500,
  giveUpAfter: 180000, // reconnecting for this long: give up (state `failed`); at least the host's resume window
  initialGiveUpAfter: 20000, // never connected at all for this long: give up
  maxChat: 200,
  maxNotes: 50, // host notices kept in state (newest last)
  maxPhotos: 50, // shared photos kept in state (oldest first out), as many as the welcome lists
};

/**
 * Full-jitter exponential backoff: a uniformly random delay in [0, min(cap, base * 2^attempt)).
 * `attempt` counts from 0. `random` returns a number in [0, 1).
 */
export function backoffDelay(attempt, base, cap, random) {
  const b = base == null ? DEFAULTS.backoffBase : base;
  const c = cap == null ? DEFAULTS.backoffCap : cap;
  const r = random || Math.random;
  const n = Math.max(0, Math.min(attempt | 0, 30));
  const ceiling = Math.min(c, b * Math.pow(2, n));
  return Math.floor(r() * ceiling);
}

/** Epoch ms, sub-ms precise, re-anchored to Date.now() past 1 s of drift (phones' sleep). */
export function makeNow(perf, dateNow) {
  const p = perf || (typeof performance !== 'undefined' ? performance : null);
  const d = dateNow || Date.now;
  if (!p || typeof p.now !== 'function') return () => d();
  let origin = typeof p.timeOrigin === 'number' && p.timeOrigin > 0 ? p.timeOrigin : d() - p.now();
  return function now() {
    const mono = p.now();
    let t = origin + mono;
    const wall = d();
    if (Math.abs(t - wall) > 1000) {
      origin = wall - mono;
      t = wall;
    }
    return t;
  };
}

/**
 * Sequence tracking: accepts a seq once, in increasing order; a seq at or below the last processed
 * one is a duplicate (e.g. replayed after resume) and is rejected.
 */
export class SeqTracker {
  constructor() {
    this.last = 0;
  }
  /** true: process the message; false: already processed, ignore it. */
  accept(seq) {
    if (typeof seq !== 'number' || !Number.isFinite(seq)) return true; // unsequenced (1.0, hello, pong…)
    if (seq <= this.last) return false;
    this.last = seq;
    return true;
  }
  reset() {
    this.last = 0;
  }
}

/** Closes a socket nobody will listen to (its late events go nowhere). */
function closeQuietly(ws) {
  try {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    ws.close();
  } catch (e) {
    /* already closed */
  }
}

function median(list) {
  if (!list.length) return null;
  const s = list.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function cleanMember(m) {
  const out = {
    id: String(m.id),
    name: typeof m.name === 'string' ? m.name : String(m.id),
    isHost: !!m.isHost,
    connectionStatus: m.connectionStatus || 'connected',
    joinedAt: m.joinedAt,
  };
  if (typeof m.latency === 'number') out.latency = m.latency;
  if (typeof m.device === 'string' && m.device) out.device = m.device; // partyline/1: "Android phone"
  return out;
}

/** A shared photo as the page keeps it, or null when it has no id or no url. */
function cleanPhoto(p) {
  // A path on this host only: it becomes an <img src>, never another origin's address.
  if (!p || p.id == null || typeof p.url !== 'string' || !/^\/(?!\/)/.test(p.url)) return null;
  const str = (v) => (typeof v === 'string' ? v : '');
  return { id: String(p.id), url: p.url, name: str(p.name), from: p.from == null ? '' : String(p.from),
    fromName: str(p.fromName), timestamp: p.timestamp };
}

/**
 * The protocol client.
 *
 * Options:
 *   url            WebSocket URL, e.g. ws://host:port/ws?token=KEY (required)
 *   sessionId      session id for join/resume (from /api/info)
 *   device         { id, name } → deviceInfo (type is always "client")
 *   resume         { memberId, resumeSecret } to resume with at the first connect (page reload)
 *   resumeInUrl    true: a resume rides in the socket's URL (resumeUrl), answered right after the
 *                  upgrade, a round trip sooner than a `resume` sent once it is open (the host's
 *                  own page; docs/protocol.md, "resume")
 *   socket         { url, ws, events } a socket already opened at `url` (the page's boot.js, at
 *                  a reload), with what it received so far ([{ type: 'open' | 'message' |
 *                  'close', data, code, reason }]): the first connect takes it over when it was
 *                  opened at the URL that connect would use, and closes it otherwise
 *   protocolVersion "partyline/1" (default) or null for plain LOUDSYNC 1.0
 *   WebSocket      constructor (default: globalThis.WebSocket)
 *   setTimeout, clearTimeout   timer functions (default: global ones)
 *   now            () => epoch ms, sub-ms precision (default: makeNow())
 *   random         () => [0, 1) (default: Math.random)
 *   clock          the clock filter (default: new SyncClock(), clock.js); a test may inject its own
 *   any key of DEFAULTS to tune timing
 *
 * Events (client.on(type, fn) → unsubscribe function):
 *   change      (state)   after anything in the state changed
 *   connection  ({ state, previous })
 *   chat        (message) a new chat message (after dedupe)
 *   ended       (ending)  a terminal state was reached
 *   credentials (creds | null)  resume credentials to persist (null: forget them)
 *   servererror (message) a non-fatal server `error` (rate_limited, invalid_message…)
 *   message     (message) every accepted server message, raw
 *   notice      (note)    a new host `notification` ({ id, title, body, level, read }), once per id
 *   presence    ({ memberId, status, text })  a member's presence changed (the phone's own too)
 *   direct      (entry)   a private message in (`direct`) or out (after its `direct_ack`), also in chat
 *   directfailed (entry)  a private message the host could not deliver (`recipient_unavailable`)
 *   chatedited  (entry)   a chat line's new words (`text`, `editedAt`), whoever edited it
 *   chatdeleted (entry)   a chat line taken back: kept in chat as `{ deleted: true, text: '' }`
 *   chatrefused ({ kind: 'edit' | 'delete', id, reason, message, text })  the host refused this
 *               member's editChat/deleteChat (reason: CHAT_REFUSALS; id null if it is not known)
 *   photo       (photo)   a photo a guest shared (`photo.shared`), once per id
 *   restarted   ({ at })  back as itself after the host restarted
 *
 * Messaging extensions (docs/protocol.md), kept in `state`:
 *   notes       host notifications [{ id, title, body, level, timestamp, read }], deduped by id
 *               (a resume replays them); markRead(ids) marks them and sends `mark_read`
 *   presence    { memberId: { status, text } } for members that are away or busy
 *   myPresence  { status, text } this phone's own, set with setPresence()
 *   chat        also holds private messages: { kind: 'direct', direction: 'in' | 'out', from, to,
 *               name (the other member's), text, id } and undeliverable ones: { kind:
 *               'direct-failed', to, name, text, reason }
 *   photos      the party's shared photos [{ id, url, name, from, fromName, timestamp }], oldest
 *               first: the welcome's `photos`, then each `photo.shared` (deduped by id)
 * Option `readNotes`: ids already read (e.g. before a page reload): they arrive read.
 */
/**
 * `url` with a resume in its query (`resume`, `secret`, `session`, `lastSeq`): the host reads it
 * as the connection's first frame. The page's boot.js writes the same URL.
 */
export function resumeUrl(url, creds, lastSeq) {
  const q = (k, v) => k + '=' + encodeURIComponent(v);
  return url + (url.indexOf('?') >= 0 ? '&' : '?') + [q('resume', creds.memberId), q('secret', creds.resumeSecret),
    q('session', creds.sessionId), 'lastSeq=' + (lastSeq || 0)].join('&');
}

export class PartylineClient {
  constructor(options) {
    const o = options || {};
    const g = typeof globalThis !== 'undefined' ? globalThis : {};
    this.opts = Object.assign({}, DEFAULTS, o);
    this.url = o.url;
    this.device = { id: (o.device && o.device.id) || 'device', name: (o.device && o.device.name) || 'Guest' };
    this.sessionId = o.sessionId || null;
    this.protocolVersion = o.protocolVersion === undefined ? DEFAULTS.protocolVersion : o.protocolVersion;
    this._WS = o.WebSocket || g.WebSocket;
    this._setTimeout = o.setTimeout || ((f, ms) => setTimeout(f, ms));
    this._clearTimeout = o.clearTimeout || ((id) => clearTimeout(id));
    this.now = o.now || makeNow();
    this._random = o.random || Math.random;
    this._visible = o.visible || (() => true); // the page says whether it is visible
    this._probeAt = 0;
    this._listeners = {};
    this.clock = o.clock || new SyncClock();
    this.seq = new SeqTracker();
    this._creds = o.resume && o.resume.memberId && o.resume.resumeSecret
      ? { memberId: o.resume.memberId, resumeSecret: o.resume.resumeSecret, sessionId: o.resume.sessionId || this.sessionId }
      : null;
    this._ws = null;
    this._early = o.socket && o.socket.ws ? o.socket : null;
    this._resumeInUrl = !!o.resumeInUrl;
    this._urlResumed = false; // this socket's URL carried the resume
    this._phase = 'idle'; // idle | opening | joining | resuming | live | closing
    // a snapshot's time, until its chat.history says what is missing
    this._snapshotAt = null;
    this._timers = {};
    this._attempt = 0;
    this._troubleSince = null;
    this._everConnected = false;
    this._rtts = [];
    this._outbox = []; // { cid, kind, msg, state: 'pending' | 'failed', at, text?, to? } until the host's ack
    this._cidSeq = 0;
    this._pendingLines = []; // chat.edit / chat.delete sent, not yet answered: { ws, kind, id, text }
    this._lastRecvAt = 0;
    this._leaving = false;
    this._directSeq = 0;
    this._pendingDirects = {}; // id → { to, name, text } until direct_ack or recipient_unavailable
    this._readNotes = {};
    this._goneNames = {}; // member id → name, for members who left
    this._unsentReads = [];
    for (const id of o.readNotes || []) this._readNotes[id] = true;
    this.state = {
      connection: 'idle', // idle | connecting | connected | reconnecting | failed | ended
      ending: null, // { kind, reason, details, closeCode } once failed/ended
      selfId: null,
      session: { id: this.sessionId, name: o.sessionName || null, hostId: null },
      members: [],
      chat: [],
      latency: null, // this phone's round trip (ms), median of recent pings
      clockOffset: null, // server − client (ms)
      extensions: false, // true once the server speaks partyline/1
      heartbeatInterval: this.opts.heartbeatInterval,
      resumeWindow: TIMING.resumeWindow,
      lastSeq: 0,
      attempt: 0,
      nextRetryAt: null,
      notice: null, // { kind: 'snapshot' | 'rejoined', at } after state was rebuilt
      restarted: null, // { at }: see the restarted event
      lastClose: null, // { code, reason } of the last drop (code 0: the client gave up on the socket)
      notes: [], // host notifications, see above
      photos: [], // shared photos, see above
      presence: {}, // memberId → { status: 'away' | 'busy', text } (plain online members are absent)
      myPresence: { status: 'online', text: '' },
      // What this member sent that the host has not taken yet (see `outbox()`): chat and direct
      // lines waiting ('pending') or refused ('failed': retryOutbox() sends again, dropOutbox() forgets).
      outbox: [],
    };
  }

  // ---- events ------------------------------------------------------------------------------

  on(type, fn) {
    (this._listeners[type] || (this._listeners[type] = [])).push(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    const l = this._listeners[type];
    if (l) this._listeners[type] = l.filter((f) => f !== fn);
  }

  _emit(type, arg) {
    const l = this._listeners[type];
    if (!l) return;
    for (const fn of l.slice()) {
      try {
        fn(arg);
      } catch (e) {
        if (typeof console !== 'undefined') console.error(e);
      }
    }
  }

  _changed() {
    this.state.lastSeq = this.seq.last;
    this.state.clockOffset = this.clock.offset != null ? this.clock.offset : this.clock.coarse;
    this._emit('change', this.state);
  }

  _setConnection(next) {
    const previous = this.state.connection;
    if (previous === next) return;
    this.state.connection = next;
    this._emit('connection', { state: next, previous });
  }

  // ---- public API --------------------------------------------------------------------------

  /** Starts: resumes when resume credentials are known, joins otherwise. */
  connect() {
    if (this._phase !== 'idle') return;
    this._leaving = false;
    this.state.ending = null;
    this._troubleSince = this.now();
    this._setConnection(this._everConnected ? 'reconnecting' : 'connecting');
    this._open();
    this._changed();
  }

  /** From failed (or an ending such as replaced/locked): try again now. */
  retry() {
    this._teardown();
    this._attempt = 0;
    this.state.attempt = 0;
    this.state.nextRetryAt = null;
    this._phase = 'idle';
    this.connect();
  }

  /**
   * The page became visible or the network came back: reconnect at once if we are waiting, and
   * check a seemingly open socket with a ping (a phone's socket may be dead without knowing it).
   */
  wake() {
    const c = this.state.connection;
    if ((c === 'reconnecting' || c === 'connecting') && this._phase === 'idle') {
      // Timers may have been frozen while hidden: allow some more trying before giving up.
      const now = this.now();
      const limit = this._everConnected ? this.opts.giveUpAfter : this.opts.initialGiveUpAfter;
      if (this._troubleSince != null) this._troubleSince = Math.max(this._troubleSince, now - limit + 30000);
      this._attempt = 0;
      this._open();
      this._changed();
    } else if (c === 'failed') {
      this.retry();
    } else if (c === 'connected' && this._ws) {
      const sentAt = this.now();
      this._sendHeartbeat();
      this._sendPing();
      this._clear('probe');
      this._timers.probe = this._setTimeout(() => {
        if (this._lastRecvAt < sentAt) this._drop('no answer after wake');
      }, this.opts.wakeProbeTimeout);
    }
  }

  /**
   * The browser says the network is gone (`offline`): the socket cannot be trusted, so reconnect
   * now (the page shows "Reconnecting" at once) rather than when a ping goes unanswered.
   */
  offline() {
    if (this._ws && (this._phase === 'live' || this._phase === 'joining' || this._phase === 'resuming')) this._drop('offline');
  }

  /** Leaves the party for good (sends `leave`; the server closes with CLOSE.NORMAL). */
  leave(reason) {
    const ws = this._ws;
    this._leaving = true;
    if (ws && this._phase === 'live') {
      this._send({ type: 'leave', reason: reason || REASON.DEFAULT_LEAVE });
    }
    this._end({ kind: 'left', reason: reason || null });
    this._forgetCredentials();
  }

  /** Sends a chat line (extension). Queued while reconnecting. Returns false if impossible. */
  sendChat(text) {
    const t = clip(String(text == null ? '' : text).trim(), LIMITS.maxChatChars);
    if (!t) return false;
    const c = this.state.connection;
    if (c === 'failed' || c === 'ended') return false;
    if (this._phase === 'live' && !this.state.extensions) return false;
    return !!this._post('chat', { type: 'chat', text: t }, { text: t });
  }

  // ---- the outbox --------------------------------------------------------------------------

  /**
   * Outboxes a message with a fresh `cid`, sent if live, again after each reconnection (applied
   * once) until its `ack`; failed if refused. Returns the cid, or null when the outbox is full.
   */
  _post(kind, msg, extra) {
    if (this._outbox.length >= MAX_OUTBOX) return null;
    this._cidSeq += 1;
    const cid = 'c' + this._cidSeq.toString(36) + '-' + Math.floor(this._random() * 0x1000000).toString(36);
    const entry = Object.assign({ cid, kind, msg, state: 'pending', at: this.now() }, extra || {});
    if (kind === 'presence') this._outbox = this._outbox.filter((e) => e.kind !== 'presence'); // the newest says it all
    this._outbox.push(entry);
    this._sendEntry(entry);
    this._syncOutbox();
    this._changed();
    return cid;
  }

  _sendEntry(entry) {
    if (this._phase !== 'live' || !this.state.extensions) return false;
    return this._send(Object.assign({}, entry.msg, { cid: entry.cid }));
  }

  /** Sends again what waits (after a resume or a fresh join): in order, each once. */
  _flushOutbox() {
    const now = this.now();
    for (const entry of this._outbox) {
      if (entry.state !== 'pending') continue;
      if (entry.kind === 'syncplay' && now - entry.at > STALE_COMMAND_MS) {
        entry.state = 'failed';
        entry.reason = 'stale';
        continue;
      }
      this._sendEntry(entry);
    }
    this._syncOutbox();
  }

  /** A refused or stale message: try it again (same cid, so it is never applied twice). */
  retryOutbox(cid) {
    const entry = this._outbox.find((e) => e.cid === cid);
    if (!entry || entry.state !== 'failed') return false;
    entry.state = 'pending';
    entry.at = this.now();
    delete entry.reason;
    this._sendEntry(entry);
    this._syncOutbox();
    this._changed();
    return true;
  }

  /** Forgets a message in the outbox (the page's "discard"). */
  dropOutbox(cid) {
    const before = this._outbox.length;
    this._outbox = this._outbox.filter((e) => e.cid !== cid);
    if (this._outbox.length === before) return false;
    this._syncOutbox();
    this._changed();
    return true;
  }

  _takeOutbox(cid) {
    const i = this._outbox.findIndex((e) => e.cid === cid);
    return i < 0 ? null : this._outbox.splice(i, 1)[0];
  }

  /** state.outbox: the chat and direct lines waiting or failed, oldest first, for the page. */
  _syncOutbox() {
    this.state.outbox = this._outbox
      .filter((e) => e.kind === 'chat' || e.kind === 'direct')
      .map((e) => ({ cid: e.cid, kind: e.kind, state: e.state, text: e.text, to: e.to || null,
        name: e.to ? this._nameOf(e.to) : null, at: e.at, reason: e.reason || null }));
  }

  /**
   * `chat.edit`: new words for one of this member's lines (trimmed, cut like `sendChat`), applied
   * when `chat.edited` comes back, refused as `chatrefused`. False when nothing was sent.
   */
  editChat(id, text) {
    const t = clip(String(text == null ? '' : text).trim(), LIMITS.maxChatChars);
    if (!t || !this._ownLine(id)) return false;
    return this._changeLine({ type: 'chat.edit', id: String(id), text: t });
  }

  /**
   * `chat.delete` (extension): takes back one of this member's own chat lines; removed when the
   * host's `chat.deleted` comes back. Returns false when not connected or not a line of ours.
   */
  deleteChat(id) {
    if (!this._ownLine(id)) return false;
    return this._changeLine({ type: 'chat.delete', id: String(id) });
  }

  /** A plain chat line of this member's, in state and not deleted (the host decides the rest). */
  _ownLine(id) {
    if (id == null || this.state.selfId == null) return false;
    const line = this.state.chat.find((c) => c.id === String(id) && !c.kind);
    return !!line && !line.deleted && line.from === this.state.selfId;
  }

  /**
   * Sends an edit or a deletion and remembers it, with its socket, until the host answers: the
   * host's refusal names no line, so it is matched to the oldest unanswered one of its kind.
   */
  _changeLine(msg) {
    if (this._phase !== 'live' || !this.state.extensions) return false;
    if (!this._send(msg)) return false;
    const ws = this._ws;
    // Answers to a socket that is gone never come: forget what was sent on it.
    const open = this._pendingLines.filter((p) => p.ws === ws);
    open.push({ ws: ws, kind: msg.type === 'chat.edit' ? 'edit' : 'delete', id: msg.id, text: msg.text });
    this._pendingLines = open.slice(-MAX_QUEUED_CHAT);
    return true;
  }

  /** The oldest unanswered change of `kind` (any, if null; to `id`, if given) on this socket, taken out. */
  _takePendingLine(kind, id) {
    const open = this._pendingLines.filter((p) => p.ws === this._ws);
    const i = open.findIndex((p) => (kind == null || p.kind === kind) && (id == null || p.id === id));
    const found = i < 0 ? null : open.splice(i, 1)[0];
    this._pendingLines = open;
    return found;
  }

  /**
   * An `error` answering `chat.edit` / `chat.delete` (`not_yours`: an `unauthorized` that ends
   * nothing) → `chatrefused` with the id and refused words. False for any other error.
   */
  _chatChangeRefused(m) {
    const details = m.details || {};
    const named = /^chat\.(edit|delete):/.exec(String(m.message || ''));
    if (!named && details.reason !== CHAT_REFUSALS.notYours) return false;
    const pending = this._takePendingLine(named ? named[1] : null);
    const refusal = { kind: pending ? pending.kind : named ? named[1] : null, id: pending ? pending.id : null,
      reason: details.reason || null, message: m.message || null };
    if (pending && pending.text != null) refusal.text = pending.text;
    this._emit('chatrefused', refusal);
    return true;
  }

  // ---- messaging extensions ----------------------------------------------------------------

  /**
   * `presence`: status online | away | busy, text optional (trimmed, up to LIMITS.maxPresenceChars; none
   * when online). Returns false when not connected or the status is unknown.
   */
  setPresence(status, text) {
    if (status !== 'online' && status !== 'away' && status !== 'busy') return false;
    if (this._phase !== 'live' || !this.state.extensions) return false;
    const words = status === 'online' ? '' : String(text == null ? '' : text).replace(/\s+/g, ' ').trim();
    const t = clip(words, LIMITS.maxPresenceChars);
    const msg = { type: 'presence', status: status };
    if (t) msg.text = t;
    if (!this._post('presence', msg)) return false;
    this.state.myPresence = { status: status, text: t };
    if (this.state.selfId) this._setPresence(this.state.selfId, status, t);
    this._changed();
    return true;
  }

  /**
   * `direct` with payload { text } to member `to`. Shown in chat once the host acks it
   * (`direct_ack`); `recipient_unavailable` makes a 'direct-failed' chat entry instead. Returns the
   * message id, or null when impossible (not connected, empty text, to self).
   */
  sendDirect(to, text) {
    const t = clip(String(text == null ? '' : text).trim(), LIMITS.maxChatChars);
    if (!t || !to || to === this.state.selfId) return null;
    if (this._phase !== 'live' || !this.state.extensions) return null;
    this._directSeq += 1;
    const id = 'd-' + this._directSeq + '-' + Math.floor(this._random() * 0x100000).toString(36);
    if (!this._post('direct', { type: 'direct', to: String(to), id: id, payload: { text: t } }, { text: t, to: String(to) })) return null;
    this._pendingDirects[id] = { to: String(to), name: this._nameOf(to), text: t };
    return id;
  }

  /** `rename` (extension): the name this member is shown by; the host's `member_updated` says how it shows it. */
  rename(name) {
    const n = String(name == null ? '' : name).replace(/\s+/g, ' ').trim();
    if (!n || this._phase !== 'live' || !this.state.extensions) return false;
    this.device.name = n;
    return !!this._post('rename', { type: 'rename', name: n });
  }

  /** Marks host notifications read (they leave the banner) and tells the host (`mark_read`). */
  markRead(ids) {
    const fresh = (ids || []).map(String).filter((id) => id && charCount(id) <= LIMITS.maxMessageIdChars && !this._readNotes[id]);
    if (!fresh.length) return false;
    for (const id of fresh) this._readNotes[id] = true;
    this.state.notes = this.state.notes.map((n) => (this._readNotes[n.id] && !n.read ? Object.assign({}, n, { read: true }) : n));
    this._unsentReads = this._unsentReads.concat(fresh);
    this._flushReads();
    this._changed();
    return true;
  }

  /** Ids of the host notifications read on this phone (to persist across a page reload). */
  readNoteIds() {
    return Object.keys(this._readNotes);
  }

  _flushReads() {
    if (this._phase !== 'live' || !this.state.extensions) return;
    while (this._unsentReads.length) {
      const ids = this._unsentReads.slice(0, LIMITS.maxMarkReadIds);
      if (!this._send({ type: 'mark_read', ids: ids })) return;
      this._unsentReads = this._unsentReads.slice(ids.length);
    }
  }

  _nameOf(id) {
    const m = this.state.members.find((x) => x.id === id);
    return m ? m.name : this._goneNames[id] || String(id);
  }

  _setPresence(memberId, status, text) {
    const p = Object.assign({}, this.state.presence);
    if (status === 'online' && !text) delete p[memberId];
    else p[memberId] = { status: status, text: text || '' };
    this.state.presence = p;
  }

  _pushChat(entry) {
    const next = this.state.chat.concat([entry]);
    this.state.chat = next.length > this.opts.maxChat ? next.slice(next.length - this.opts.maxChat) : next;
  }

  /** The server's clock now, in epoch milliseconds. */
  serverNow() {
    const t = this.now();
    return t + this.clock.currentOffset(t);
  }

  // ---- SyncPlay (extension; see ui/shared/syncplay.js and ui/phone/player.js) ----------------

  /** Pings every `ms` from the next ping on (SyncPlay wants ~2 s while active; default 5 s). */
  setPingInterval(ms) {
    if (!(ms > 0) || ms === this.opts.pingInterval) return;
    this.opts.pingInterval = ms;
    if (this._phase === 'live' && this._timers.ping != null) this._schedulePing();
  }

  /**
   * `syncplay.command` (play | pause | seek | next | previous | setRate | queue.add | queue.remove)
   * with its fields. False when not connected; a refusal is a `servererror`.
   */
  sendSyncplayCommand(command, fields) {
    if (this._phase !== 'live' || !this.state.extensions) return false;
    return !!this._post('syncplay', Object.assign({}, fields || {}, { type: 'syncplay.command', command: command }));
  }

  /** `library.query`: { q?, offset?, limit?, ids? }, answered with one `library.page`. Returns
   * false when not connected. */
  sendLibraryQuery(query) {
    if (this._phase !== 'live' || !this.state.extensions) return false;
    return this._send(Object.assign({}, query || {}, { type: 'library.query' }));
  }

  /** `playback.progress`: { entryId, position, state, error }. Returns false when not connected. */
  sendPlaybackProgress(report) {
    if (this._phase !== 'live' || !this.state.extensions) return false;
    return this._send(Object.assign({}, report, { type: 'playback.progress' }));
  }

  /** Stops everything without leaving (the server keeps the member as reconnecting). */
  destroy() {
    if (this._early) closeQuietly(this._early.ws);
    this._early = null;
    this._teardown();
    this._phase = 'idle';
  }

  // ---- socket lifecycle --------------------------------------------------------------------

  _open() {
    this._clear('retry');
    this.state.nextRetryAt = null;
    const inUrl = !!(this._resumeInUrl && this._creds && this.protocolVersion);
    const url = inUrl ? resumeUrl(this.url, this._creds, this.seq.last) : this.url;
    const early = this._early;
    this._early = null;
    let ws;
    if (early && early.url === url) ws = early.ws;
    else {
      if (early) closeQuietly(early.ws);
      try {
        ws = new this._WS(url);
      } catch (e) {
        this._phase = 'idle';
        this._scheduleReconnect();
        return;
      }
    }
    this._urlResumed = inUrl;
    this._ws = ws;
    this._phase = 'opening';
    ws.onopen = () => {
      if (this._ws === ws) this._onOpen();
    };
    ws.onmessage = (ev) => {
      if (this._ws === ws) this._onMessage(ev.data);
    };
    ws.onclose = (ev) => {
      if (this._ws === ws) this._onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {}; // a close event follows
    this._lastPingAt = 0;
    this._clear('handshake');
    this._timers.handshake = this._setTimeout(() => {
      if (this._ws === ws && this._phase !== 'live') this._drop('handshake timeout');
    }, this.opts.handshakeTimeout);
    if (ws === (early && early.ws)) {
      // What the early socket heard before it was ours, in order, as if it had just happened.
      for (const ev of early.events) {
        if (this._ws !== ws) break;
        if (ev.type === 'open') ws.onopen();
        else if (ev.type === 'message') ws.onmessage({ data: ev.data });
        else if (ev.type === 'close') ws.onclose({ code: ev.code, reason: ev.reason });
      }
      early.events = [];
    }
  }

  _onOpen() {
    this._lastRecvAt = this.now();
    if (this._urlResumed) this._phase = 'resuming'; // the host has the resume already
    else if (this._creds && this.protocolVersion) this._sendResume();
    else this._sendJoin();
  }

  _sendJoin() {
    this._phase = 'joining';
    this.seq.reset();
    const msg = {
      type: 'join',
      sessionId: this.sessionId,
      deviceInfo: { id: this.device.id, name: this.device.name, type: 'client' },
    };
    if (this.protocolVersion) msg.protocolVersion = this.protocolVersion;
    if (this.protocolVersion && this.opts.player) msg.player = true; // SyncPlay waits for this one
    this._send(msg);
  }

  _sendResume() {
    this._phase = 'resuming';
    this._send({
      type: 'resume',
      sessionId: this._creds.sessionId || this.sessionId,
      memberId: this._creds.memberId,
      resumeSecret: this._creds.resumeSecret,
      lastSeq: this.seq.last,
    });
  }

  _send(obj) {
    const ws = this._ws;
    if (!ws) return false;
    const msg = Object.assign({ type: obj.type, timestamp: obj.timestamp || Math.round(this.now()) }, obj);
    try {
      ws.send(JSON.stringify(msg));
      return true;
    } catch (e) {
      return false;
    }
  }

  _sendHeartbeat() {
    this._send({ type: 'heartbeat' });
  }

  _sendPing() {
    // Sub-millisecond timestamp; the server echoes it exactly in the pong.
    const t = this.now();
    if (this._send({ type: 'ping', timestamp: t }) && !(this._lastPingAt > this._lastRecvAt)) this._lastPingAt = t;
  }

  _onClose(code, reason) {
    const wasLive = this._phase === 'live';
    if (this._snapshotAt != null) this._snapshotNotice(); // cut before its history came
    this._detach();
    if (this._leaving) return;
    const kind = ENDING_CLOSE_CODES[code];
    if (kind) {
      const ending = { kind, reason: reason || null, closeCode: code };
      if (kind === 'kicked' || kind === 'closed') this._forgetCredentials();
      this._end(ending);
      return;
    }
    if (wasLive) this._attempt = 0;
    this.state.lastClose = { code: code, reason: reason || null };
    this._scheduleReconnect();
  }

  /** Detaches from the current socket (its late events are ignored) and closes it. */
  _detach(code, why) {
    const ws = this._ws;
    this._ws = null;
    this._phase = 'idle';
    this._clear('handshake');
    this._clear('heartbeat');
    this._clear('ping');
    this._clear('burst');
    this._clear('probe');
    this._clear('live');
    this._probeAt = 0;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (code) {
        try {
          ws.close(code, why);
        } catch (e) {
          /* already closed */
        }
      }
    }
  }

  /** The socket is broken (timeout, dead): abandon it and reconnect. */
  _drop(why) {
    const wasLive = this._phase === 'live';
    this._detach(CLIENT_DROP, why);
    this.state.lastClose = { code: 0, reason: why };
    if (wasLive) this._attempt = 0;
    this._scheduleReconnect();
  }

  _teardown() {
    this._detach(CLOSE.NORMAL, 'bye');
    for (const k of Object.keys(this._timers)) this._clear(k);
  }

  _scheduleReconnect() {
    const now = this.now();
    if (this._troubleSince == null) this._troubleSince = now;
    this._setConnection(this._everConnected ? 'reconnecting' : 'connecting');
    const limit = this._everConnected ? this.opts.giveUpAfter : this.opts.initialGiveUpAfter;
    if (now - this._troubleSince >= limit) {
      this._end({ kind: 'failed', reason: 'unreachable' }, 'failed');
      return;
    }
    const delay = backoffDelay(this._attempt, this.opts.backoffBase, this.opts.backoffCap, this._random);
    this._attempt += 1;
    this.state.attempt = this._attempt;
    this.state.nextRetryAt = now + delay;
    this._timers.retry = this._setTimeout(() => {
      this._timers.retry = null;
      this._open();
      this._changed();
    }, delay);
    this._changed();
  }

  _end(ending, connection) {
    this._teardown();
    this._phase = 'idle';
    this.state.ending = ending;
    this.state.nextRetryAt = null;
    this._setConnection(connection || 'ended');
    this._emit('ended', ending);
    this._changed();
  }

  _clear(name) {
    if (this._timers[name] != null) {
      this._clearTimeout(this._timers[name]);
      this._timers[name] = null;
    }
  }

  _becomeLive() {
    this._phase = 'live';
    this._everConnected = true;
    this._troubleSince = null;
    this._attempt = 0;
    this.state.attempt = 0;
    this.state.nextRetryAt = null;
    this.state.ending = null;
    this._clear('handshake');
    this._setConnection('connected');
    this._startTimers();
    this._flushOutbox();
    this._flushReads();
  }

  _startTimers() {
    this._scheduleHeartbeat();
    this._scheduleLiveness();

    this._schedulePing();

    // Clock sync burst: fresh samples for this connection (the phone may have slept).
    this.clock.reset();
    this._rtts = [];
    let left = this.opts.burstPings;
    const burst = () => {
      this._timers.burst = null;
      if (left-- <= 0) return;
      this._sendPing();
      this._timers.burst = this._setTimeout(burst, this.opts.burstSpacing);
    };
    this._clear('burst');
    burst();
  }

  /**
   * A ping every `pingInterval`. Dead: nothing came back `deadAfter` after a ping (counted from
   * the ping, so a background tab's throttled timers do not count).
   */
  _schedulePing() {
    this._clear('ping');
    this._timers.ping = this._setTimeout(() => {
      this._timers.ping = null;
      const p = this._lastPingAt;
      if (p && this._lastRecvAt < p && this.now() - p > this.opts.deadAfter) {
        this._drop('server silent');
        return;
      }
      this._sendPing();
      this._schedulePing();
    }, this.opts.pingInterval);
  }

  /** The visible page's quick check that its connection still answers (see DEFAULTS.liveCheck). */
  _scheduleLiveness() {
    this._clear('live');
    if (!(this.opts.liveCheck > 0)) return; // 0: off
    this._timers.live = this._setTimeout(() => {
      this._timers.live = null;
      if (this._phase !== 'live') return;
      const now = this.now();
      if (!this._visible()) {
        this._probeAt = 0;
      } else if (this._probeAt && this._lastRecvAt < this._probeAt) {
        if (now - this._probeAt >= this.opts.answerWithin) {
          this._drop('no answer');
          return;
        }
      } else if (now - this._lastRecvAt >= this.opts.quietBefore) {
        this._probeAt = now;
        this._sendPing();
      }
      this._scheduleLiveness();
    }, this.opts.liveCheck);
  }

  _scheduleHeartbeat() {
    this._clear('heartbeat');
    const hb = () => {
      this._sendHeartbeat();
      this._timers.heartbeat = this._setTimeout(hb, this.state.heartbeatInterval);
    };
    this._timers.heartbeat = this._setTimeout(hb, this.state.heartbeatInterval);
  }

  _forgetCredentials() {
    if (this._creds) {
      this._creds = null;
      this._emit('credentials', null);
    }
  }

  // ---- messages ----------------------------------------------------------------------------

  _onMessage(data) {
    this._lastRecvAt = this.now();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;
    if (!this.seq.accept(msg.seq)) return; // replayed duplicate
    if (this._snapshotAt != null && !SNAPSHOT_BUNDLE.has(msg.type)) this._snapshotNotice();
    this._emit('message', msg);
    const handle = MESSAGE_HANDLERS.get(msg.type);
    if (handle) handle.call(this, msg);
    this._changed();
  }

  /** A snapshot with no chat.history (cut, or none came): some messages may be missing. */
  _snapshotNotice() {
    this.state.notice = { kind: 'snapshot', at: this._snapshotAt };
    this._snapshotAt = null;
  }

  _upsert(member) {
    if (!member || member.id == null) return;
    const c = cleanMember(member);
    const list = this.state.members;
    const i = list.findIndex((x) => x.id === c.id);
    if (i < 0) this.state.members = list.concat([c]);
    else {
      if (c.latency == null && list[i].latency != null) c.latency = list[i].latency;
      this.state.members = list.slice(0, i).concat([c], list.slice(i + 1));
    }
  }
}

/** What follows a snapshot `resumed` up to its `chat.history` (roster.rs welcome). */
const SNAPSHOT_BUNDLE = new Set(['welcome', 'ready', 'hello', 'member_list', 'chat.history']);

/** Nothing more to do: the message reaches whoever listens to `message` (SyncPlay's player, ...). */
function passOn() {}

/**
 * What the client does with each message type the host sends (wire.js SERVER_TYPES; dotted ones
 * too), called with the client as `this` after the message is emitted as `message`. A type
 * missing here is only emitted.
 */
export const MESSAGE_HANDLERS = new Map(Object.entries({
  welcome(m) {
    const s = this.state;
    s.selfId = m.clientId;
    s.session = Object.assign({}, s.session, m.sessionInfo || {});
    if (s.session.id) this.sessionId = s.session.id;
    if (typeof m.seq === 'number' || m.resumeSecret) s.extensions = true;
    // The party's photos as the host has them now (a join, or a snapshot after a resume).
    if (Array.isArray(m.photos)) s.photos = m.photos.map(cleanPhoto).filter(Boolean).slice(-this.opts.maxPhotos);
    if (m.resumeSecret) {
      this._creds = { memberId: m.clientId, resumeSecret: m.resumeSecret, sessionId: this.sessionId };
      this._emit('credentials', Object.assign({}, this._creds));
    }
    if (this._phase === 'joining') {
      s.members = [];
      // A fresh join: every member starts online (the others' presence follows the welcome bundle).
      s.presence = {};
      s.myPresence = { status: 'online', text: '' };
      this._becomeLive();
    } else {
      s.presence = {}; // a snapshot: the presence updates that follow rebuild it
    }
  },

  hello(m) {
    const s = this.state;
    s.extensions = true;
    if (m.heartbeatInterval > 0) s.heartbeatInterval = m.heartbeatInterval;
    if (m.resumeWindow > 0) s.resumeWindow = m.resumeWindow;
    // Keep trying for as long as the host keeps this member's place: back within it, it is the
    // same member with what it missed.
    if (m.resumeWindow > this.opts.giveUpAfter) this.opts.giveUpAfter = m.resumeWindow;
    if (typeof m.serverTime === 'number') this.clock.addCoarse(m.serverTime / 1000, this.now());
    if (this._phase === 'live' && m.heartbeatInterval > 0) this._scheduleHeartbeat();
  },

  resumed(m) {
    if (m.clientId) this.state.selfId = m.clientId;
    if (m.snapshot) {
      // A fresh welcome + member_list follow: accept them whatever their seq, and replace state.
      this.seq.reset();
      this.state.members = [];
      // What is missing, the chat.history that follows says: no notice drawn before it.
      this._snapshotAt = this.now();
    }
    if (m.restarted) this._emit('restarted', (this.state.restarted = { at: this.now() }));
    this.state.extensions = true;
    this._becomeLive();
  },

  member_list(m) {
    if (Array.isArray(m.members)) this.state.members = m.members.filter((x) => x && x.id != null).map(cleanMember);
  },

  member_joined(m) {
    this._upsert(m.member);
  },

  member_updated(m) {
    this._upsert(m.member);
  },

  member_left(m) {
    const gone = this.state.members.find((x) => x.id === m.memberId);
    if (gone) this._goneNames[gone.id] = gone.name; // a private message may still name them
    this.state.members = this.state.members.filter((x) => x.id !== m.memberId);
    if (this.state.presence[m.memberId]) this._setPresence(m.memberId, 'online', '');
  },

  presence_update(m) {
    if (m.memberId == null) return;
    const id = String(m.memberId);
    const status = m.status === 'away' || m.status === 'busy' ? m.status : 'online';
    const text = typeof m.text === 'string' ? m.text : '';
    this._setPresence(id, status, text);
    if (id === this.state.selfId) this.state.myPresence = { status: status, text: text };
    this._emit('presence', { memberId: id, status: status, text: text });
  },

  notification(m) {
    if (m.id == null) return;
    const id = String(m.id);
    if (this.state.notes.some((n) => n.id === id)) return; // replayed on resume: already known
    const level = m.level === 'warning' || m.level === 'alert' ? m.level : 'info';
    // Read here before a reload, or (a history's, a backlog's) read on this member's behalf.
    if (m.read === true) this._readNotes[id] = true;
    const note = { id: id, title: String(m.title || ''), body: String(m.body || ''), level: level,
      timestamp: m.timestamp, read: !!this._readNotes[id] };
    const next = this.state.notes.concat([note]);
    this.state.notes = next.length > this.opts.maxNotes ? next.slice(next.length - this.opts.maxNotes) : next;
    this._emit('notice', note);
  },

  direct(m) {
    const p = m.payload;
    if (m.from == null || m.id == null || !p || typeof p.text !== 'string') return; // not a text message
    const key = 'dm:' + m.from + ':' + m.id;
    if (this.state.chat.some((c) => c.id === key)) return;
    const entry = { kind: 'direct', direction: 'in', id: key, seq: m.seq, from: String(m.from), to: this.state.selfId,
      name: this._nameOf(String(m.from)), text: clip(p.text, LIMITS.maxChatChars), timestamp: m.timestamp };
    this._pushChat(entry);
    this._emit('direct', entry);
  },

  direct_ack(m) {
    const pending = this._pendingDirects[m.id];
    if (!pending) return;
    delete this._pendingDirects[m.id];
    const entry = { kind: 'direct', direction: 'out', id: 'dm:' + this.state.selfId + ':' + m.id, seq: m.seq,
      from: this.state.selfId, to: pending.to, name: pending.name, text: pending.text, timestamp: m.timestamp };
    this._pushChat(entry);
    this._emit('direct', entry);
  },

  latency_update(m) {
    const l = m.latencies || {};
    this.state.members = this.state.members.map((x) =>
      typeof l[x.id] === 'number' ? Object.assign({}, x, { latency: l[x.id] }) : x,
    );
  },

  session_updated(m) {
    this.state.session = Object.assign({}, this.state.session, m.session || {});
  },

  ack(m) {
    const entry = this._outbox.find((e) => e.cid === m.cid);
    if (!entry) return;
    if (!m.ok && entry.kind === 'chat') {
      // Refused (the error just before said why): it stays, marked, for the page to offer again.
      entry.state = 'failed';
      entry.reason = this._lastRefusal || null;
    } else {
      this._takeOutbox(m.cid);
    }
    this._syncOutbox();
  },

  chat(m) {
    if (m.cid != null && m.from === this.state.selfId && this._takeOutbox(String(m.cid))) this._syncOutbox();
    const chat = this.state.chat;
    if (m.id != null && chat.some((c) => c.id === m.id)) return;
    const entry = { id: m.id, seq: m.seq, from: m.from, name: m.name, text: String(m.text || ''), timestamp: m.timestamp };
    this._pushChat(entry);
    this._emit('chat', entry);
  },

  'chat.history'(m) {
    // The chat so far, after a welcome: merged by id with what this page holds (a resumed page
    // has some of it), in the order it was said.
    const have = new Set(this.state.chat.filter((c) => !c.kind && c.id != null).map((c) => String(c.id)));
    const add = (Array.isArray(m.lines) ? m.lines : [])
      .filter((l) => l && l.id != null && !have.has(String(l.id)))
      .map((l) => {
        const entry = { id: String(l.id), from: l.from, name: l.name, text: clip(String(l.text || ''), LIMITS.maxChatChars),
          timestamp: l.createdAt, room: l.room };
        if (typeof l.editedAt === 'number') entry.editedAt = l.editedAt;
        return entry;
      });
    // Its direct messages, by the ids live ones have.
    const dms = new Set(this.state.chat.map((c) => c.id));
    for (const d of Array.isArray(m.directs) ? m.directs : []) {
      const id = d && d.payload && typeof d.payload.text === 'string' && 'dm:' + d.from + ':' + d.id;
      if (!id || dms.has(id)) continue;
      dms.add(id);
      const out = String(d.from) === this.state.selfId;
      add.push({ kind: 'direct', direction: out ? 'out' : 'in', id, from: String(d.from), to: String(d.to),
        name: this._nameOf(String(out ? d.to : d.from)), text: clip(d.payload.text, LIMITS.maxChatChars), timestamp: d.timestamp });
    }
    if (add.length) {
      const all = this.state.chat.concat(add);
      all.sort((a, b) => (a.timestamp || 0) - (b.timestamp || 0)); // stable: equal times keep their order
      this.state.chat = all.length > this.opts.maxChat ? all.slice(all.length - this.opts.maxChat) : all;
    }
    // The host's notifications sent while it was away, in order, once each (by id, as live ones).
    const notification = MESSAGE_HANDLERS.get('notification');
    for (const n of Array.isArray(m.notifications) ? m.notifications : []) {
      if (n && typeof n === 'object') notification.call(this, n);
    }
    const missed = (m.missed || 0) + (m.directsMissed || 0) + (m.notificationsMissed || 0);
    this._snapshotAt = null;
    if (missed > 0) this.state.notice = { kind: 'missed', count: missed, at: this.now() };
    else if (this.state.notice && this.state.notice.kind === 'snapshot') this.state.notice = null; // nothing is missing
  },

  'chat.edited'(m) {
    if (m.id == null || typeof m.text !== 'string') return;
    const id = String(m.id);
    if (m.from != null && String(m.from) === this.state.selfId) this._takePendingLine('edit', id);
    const i = this.state.chat.findIndex((c) => c.id === id && !c.kind);
    if (i < 0) return; // said before this page joined (or dropped from the kept lines)
    const entry = Object.assign({}, this.state.chat[i], { text: clip(m.text, LIMITS.maxChatChars),
      editedAt: typeof m.editedAt === 'number' ? m.editedAt : m.timestamp });
    if (entry.deleted) return; // a late edit never brings a deleted line back
    this.state.chat = this.state.chat.slice(0, i).concat([entry], this.state.chat.slice(i + 1));
    this._emit('chatedited', entry);
  },

  'chat.deleted'(m) {
    if (m.id == null) return;
    const id = String(m.id);
    this._takePendingLine('delete', id);
    const i = this.state.chat.findIndex((c) => c.id === id && !c.kind);
    if (i < 0 || this.state.chat[i].deleted) return;
    // Kept as a mark ("message deleted") without its words, so that the lines around it still read.
    const entry = Object.assign({}, this.state.chat[i], { text: '', deleted: true, deletedAt: m.timestamp });
    delete entry.editedAt;
    this.state.chat = this.state.chat.slice(0, i).concat([entry], this.state.chat.slice(i + 1));
    this._emit('chatdeleted', entry);
  },

  'photo.shared'(m) {
    const p = cleanPhoto(m);
    if (!p || this.state.photos.some((x) => x.id === p.id)) return; // replayed on resume
    const next = this.state.photos.concat([p]);
    this.state.photos = next.slice(-this.opts.maxPhotos);
    this._emit('photo', p);
  },

  kicked(m) {
    this._forgetCredentials();
    this._end({ kind: 'kicked', reason: m.reason || null, closeCode: CLOSE.KICKED });
  },

  session_closed(m) {
    this._forgetCredentials();
    this._end({ kind: 'closed', reason: m.reason || null, closeCode: CLOSE.SESSION_CLOSED });
  },

  pong(m) {
    const t3 = this.now();
    const t0 = m.timestamp;
    if (typeof t0 !== 'number' || t3 < t0 || t3 - t0 > 60000) return;
    this._rtts.push(t3 - t0);
    if (this._rtts.length > 5) this._rtts.shift();
    this.state.latency = Math.round(median(this._rtts));
    if (typeof m.serverReceiveTime === 'number' && typeof m.serverSendTime === 'number') {
      this.clock.addSample(t0, m.serverReceiveTime, m.serverSendTime, t3);
    }
  },

  error(m) {
    this._lastRefusal = (m.details && m.details.reason) || m.code || null; // for an `ack` not ok that follows
    if (this._chatChangeRefused(m)) return; // before `unauthorized` below: a refused edit ends nothing
    const code = m.code;
    const details = m.details || {};
    const handshake = this._phase === 'joining' || this._phase === 'resuming' || this._phase === 'opening';
    if (code === ERROR.RESUME_FAILED || (code === ERROR.INVALID_MESSAGE && this._phase === 'resuming')) {
      // Join afresh as the same device (new member; state rebuilt from scratch).
      this._forgetCredentials();
      this.state.members = [];
      this.state.notice = { kind: 'rejoined', at: this.now() };
      this._sendJoin();
      return;
    }
    if (code === ERROR.VERSION_MISMATCH && handshake && this.protocolVersion) {
      this.protocolVersion = null; // fall back to plain LOUDSYNC 1.0
      this._sendJoin();
      return;
    }
    if (code === ERROR.UNAUTHORIZED && !(details.reason === REASON.SYNCPLAY && this._phase === 'live')) {
      this._forgetCredentials();
      const kind = details.reason === REASON.LOCKED ? 'locked' : details.reason === REASON.BANNED ? 'banned' : 'unauthorized';
      this._end({ kind, reason: m.message || null, details });
      return;
    }
    if (code === ERROR.SESSION_FULL) {
      this._end({ kind: 'full', reason: m.message || null, details });
      return;
    }
    if (code === ERROR.ALREADY_JOINED) {
      this._end({ kind: 'replaced', reason: m.message || null, details, closeCode: CLOSE.REPLACED });
      return;
    }
    if (code === ERROR.SESSION_NOT_FOUND && handshake) {
      this._forgetCredentials();
      this._end({ kind: 'not_found', reason: m.message || null, details });
      return;
    }
    if (code === ERROR.RECIPIENT_UNAVAILABLE && details.id != null && this._pendingDirects[details.id]) {
      const pending = this._pendingDirects[details.id];
      delete this._pendingDirects[details.id];
      const entry = { kind: 'direct-failed', id: 'dm-failed:' + details.id, to: pending.to, name: pending.name,
        text: pending.text, reason: details.reason || REASON.UNKNOWN_MEMBER, timestamp: m.timestamp };
      this._pushChat(entry);
      this._emit('directfailed', entry);
      return;
    }
    this._emit('servererror', m);
  },
  subscriptions: passOn,
  broadcast: passOn,
  broadcast_ack: passOn,
  'voice.signal': passOn,
  // A member's voice channel (Together clients join voice over REST); the page has no voice yet.
  'voice.state': passOn,
  'syncplay.state': passOn,
  'syncplay.queue': passOn,
  'library.update': passOn,
  'library.page': passOn,
  'remote.command': passOn,
}));
