//! The load generator's members: a minimal WebSocket client written for speed (one buffer per
//! connection, frames parsed in place, a message's type and the bench's marker found by byte
//! search rather than a JSON parse), so that one core of client can keep up with a server's
//! fan-out. Every member runs as a task on one thread; they share a [`Run`] without locks.
//!
//! A member connects (`/ws?token=<key>`), joins (`protocolVersion: "partyline/1"` or plain
//! LOUDSYNC 1.0), heartbeats every 5 s, pings on a timer and times the pong, answers the server's
//! WebSocket pings, keeps count of the member list it knows, and records every broadcast of the
//! scenario's [`Cast`] (a `chat`, a topic `broadcast`, a host `notification`) that carries the
//! bench's marker `#<broadcast>:<sent ns>:` (the send instant on the bench's one monotonic clock).

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BytesMut};
use memchr::memmem;
use partyline_protocol::client::{Broadcast, Chat, Heartbeat, Ping, Topics};
use partyline_protocol::{ClientMessage, PARTYLINE_V1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

/// Where the members connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    /// `Host` header value.
    pub host: String,
    /// Request path with the key: `/ws?token=...`.
    pub path: String,
    /// The session id to join.
    pub session_id: String,
}

/// The topic of a [`Cast::Topic`] scenario's broadcasts, which its receivers subscribe to.
pub const TOPIC: &str = "bench.cast";

/// What a scenario broadcasts, and so what its receivers count. Each is a party-wide fan-out
/// that some wire format's members receive: the other formats' scenarios are the twins of the
/// partyline/1 scenario with the same cast (`runner::Scenario::twin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cast {
    /// Member 0's `chat` lines, the marker at the start of the text; every member gets them,
    /// the sender too.
    Chat,
    /// Member 0's topic `broadcast`s on [`TOPIC`], the marker in `payload.text`; every other
    /// member subscribed gets them (never the sender).
    Topic,
    /// The host's notifications (`notify` on `serve-partyline`'s standard input), the marker
    /// in `title`; every member gets them.
    Notice,
}

impl Cast {
    /// Its part of a scenario's name (`steady-1k-128B-topic`); the chat scenarios have none.
    pub fn suffix(self) -> &'static str {
        match self {
            Cast::Chat => "",
            Cast::Topic => "-topic",
            Cast::Notice => "-notice",
        }
    }

    /// How many of `joined` members each broadcast reaches.
    pub fn receivers(self, joined: usize) -> u32 {
        match self {
            Cast::Chat | Cast::Notice => joined as u32,
            Cast::Topic => joined.saturating_sub(1) as u32,
        }
    }
}

/// The text that carries broadcast `index`'s marker (sent at `sent` on the bench's clock),
/// padded with `x` to `len` characters.
pub fn marker_text(index: usize, sent: u64, len: usize) -> String {
    let mut text = format!("#{index}:{sent}:");
    while text.len() < len {
        text.push('x');
    }
    text
}

/// How the members of one run behave.
#[derive(Debug, Clone)]
pub struct MemberConf {
    /// Join with `protocolVersion: "partyline/1"`.
    pub ext: bool,
    /// Heartbeat interval (LOUDSYNC: 5 s).
    pub heartbeat: Duration,
    /// Ping interval; `None`: no pings.
    pub ping_every: Option<Duration>,
    /// Source addresses to spread connections over (`127.0.0.x`); empty: let the kernel pick.
    pub sources: Vec<IpAddr>,
    /// Prefix of device ids, unique per run.
    pub tag: String,
    /// Free space kept in each connection's read buffer: bigger reads, fewer system calls.
    pub read_chunk: usize,
    /// What the scenario broadcasts: with [`Cast::Topic`] a member subscribes to [`TOPIC`]
    /// after its `welcome`, and counts as joined when the `subscriptions` answer comes.
    pub cast: Cast,
}

/// What the bench asks its sending member to do.
#[derive(Debug)]
pub enum Cmd {
    /// Send a chat for broadcast `index`, its text `text_len` characters long.
    Chat {
        /// Broadcast number (0-based).
        index: usize,
        /// Text length in characters (at least the marker's).
        text_len: usize,
    },
    /// Send a `broadcast` on [`TOPIC`] for broadcast `index`, `{"text": ...}` as its payload.
    Broadcast {
        /// Broadcast number (0-based).
        index: usize,
        /// Text length in characters (at least the marker's).
        text_len: usize,
    },
}

/// One run's shared state and tallies. Single-threaded: cells, no locks.
#[derive(Debug)]
pub struct Run {
    /// The bench's clock: every instant below is nanoseconds since this.
    pub epoch: Instant,
    /// Members a complete member list holds (the members, plus the host's entry).
    pub view_target: usize,
    /// Set at teardown: members stop.
    pub stop: CancellationToken,
    /// At most this many members between connect and welcome at once.
    pub join_gate: Arc<Semaphore>,
    /// Members welcomed.
    pub joined: Cell<usize>,
    /// Per member: connect start to `welcome`, ns.
    pub join_ns: RefCell<Vec<u64>>,
    /// When the last member was welcomed.
    pub last_join_at: Cell<u64>,
    /// Members whose member list is complete.
    pub views: Cell<usize>,
    /// When the last member list became complete.
    pub last_view_at: Cell<u64>,
    /// Members that could not connect or were refused before `welcome`.
    pub failed: Cell<usize>,
    /// Members whose connection ended while the bench still ran.
    pub closed: Cell<usize>,
    /// `error` messages received.
    pub errors: Cell<usize>,
    /// The first of them (or the first connect failure), for the report.
    pub first_error: RefCell<Option<String>>,
    /// Receivers each broadcast must reach.
    pub receivers: Cell<u32>,
    /// Per broadcast: receivers reached so far.
    pub counts: RefCell<Vec<u32>>,
    /// Per broadcast: when the sender wrote it.
    pub sent_at: RefCell<Vec<u64>>,
    /// Per completed broadcast: send to last receiver, ns.
    pub reach_all_ns: RefCell<Vec<u64>>,
    /// Woken when a broadcast reaches every receiver (the burst's window).
    pub window: Notify,
    /// `chat` deliveries with the bench's marker.
    pub delivered: Cell<u64>,
    /// Their bytes (WebSocket payload).
    pub delivered_bytes: Cell<u64>,
    /// Per delivery: send to receipt, ns.
    pub latencies: RefCell<Vec<u64>>,
    /// When the first broadcast was sent, and the last delivery seen.
    pub first_send_at: Cell<Option<u64>>,
    /// When the last delivery was seen.
    pub last_delivery_at: Cell<u64>,
    /// Ping round trips, ns.
    pub pings: RefCell<Vec<u64>>,
    /// Pings with no pong within 5 s.
    pub pings_lost: Cell<u64>,
    /// Close codes the server sent, with their counts.
    pub close_codes: RefCell<std::collections::BTreeMap<u16, u32>>,
}

impl Run {
    /// A run whose complete member list has `view_target` entries.
    pub fn new(view_target: usize, join_concurrency: usize) -> Run {
        Run {
            epoch: Instant::now(),
            view_target,
            stop: CancellationToken::new(),
            join_gate: Arc::new(Semaphore::new(join_concurrency.max(1))),
            joined: Cell::new(0),
            join_ns: RefCell::new(Vec::new()),
            last_join_at: Cell::new(0),
            views: Cell::new(0),
            last_view_at: Cell::new(0),
            failed: Cell::new(0),
            closed: Cell::new(0),
            errors: Cell::new(0),
            first_error: RefCell::new(None),
            receivers: Cell::new(0),
            counts: RefCell::new(Vec::new()),
            sent_at: RefCell::new(Vec::new()),
            reach_all_ns: RefCell::new(Vec::new()),
            window: Notify::new(),
            delivered: Cell::new(0),
            delivered_bytes: Cell::new(0),
            latencies: RefCell::new(Vec::new()),
            first_send_at: Cell::new(None),
            last_delivery_at: Cell::new(0),
            pings: RefCell::new(Vec::new()),
            pings_lost: Cell::new(0),
            close_codes: RefCell::new(std::collections::BTreeMap::new()),
        }
    }

    /// Nanoseconds on the bench's clock.
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Prepares for `count` broadcasts, each to `receivers` members.
    pub fn expect_broadcasts(&self, count: usize, receivers: u32) {
        self.receivers.set(receivers);
        *self.counts.borrow_mut() = vec![0; count];
        *self.sent_at.borrow_mut() = vec![0; count];
        self.reach_all_ns.borrow_mut().clear();
        self.latencies.borrow_mut().reserve(count * receivers as usize);
    }

    /// Whether broadcast `index` has reached every receiver.
    pub fn complete(&self, index: usize) -> bool {
        self.counts.borrow().get(index).is_some_and(|c| *c >= self.receivers.get())
    }

    /// Notes that broadcast `index` was sent at `sent`.
    pub fn note_sent(&self, index: usize, sent: u64) {
        if let Some(at) = self.sent_at.borrow_mut().get_mut(index) {
            *at = sent;
        }
        if self.first_send_at.get().is_none() {
            self.first_send_at.set(Some(sent));
        }
    }

    /// Counts a member in: joined (and, where the scenario asks it, subscribed) after
    /// `started`.
    pub(crate) fn note_joined(&self, started: u64, now: u64) {
        self.joined.set(self.joined.get() + 1);
        self.join_ns.borrow_mut().push(now.saturating_sub(started));
        self.last_join_at.set(now);
    }

    pub(crate) fn note_error(&self, text: String) {
        let mut first = self.first_error.borrow_mut();
        if first.is_none() {
            *first = Some(text);
        }
    }

    pub(crate) fn record_delivery(&self, index: usize, sent: u64, now: u64, bytes: usize) {
        self.delivered.set(self.delivered.get() + 1);
        self.delivered_bytes.set(self.delivered_bytes.get() + bytes as u64);
        self.latencies.borrow_mut().push(now.saturating_sub(sent));
        self.last_delivery_at.set(now);
        let mut counts = self.counts.borrow_mut();
        if let Some(count) = counts.get_mut(index) {
            *count += 1;
            if *count == self.receivers.get() {
                self.reach_all_ns.borrow_mut().push(now.saturating_sub(sent));
                self.window.notify_one();
            }
        }
    }
}

pub(crate) const OP_CONT: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
pub(crate) const OP_PONG: u8 = 0xA;

/// Appends a masked client frame.
pub(crate) fn encode(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
}

/// A parsed frame header: FIN, opcode, header length, payload length.
pub(crate) struct Header {
    pub fin: bool,
    pub opcode: u8,
    pub header: usize,
    pub len: usize,
}

pub(crate) fn parse_header(b: &[u8]) -> Option<Result<Header, &'static str>> {
    if b.len() < 2 {
        return None;
    }
    if b[1] & 0x80 != 0 {
        return Some(Err("masked frame from the server"));
    }
    let (len, header) = match b[1] & 0x7f {
        126 => {
            if b.len() < 4 {
                return None;
            }
            (u16::from_be_bytes([b[2], b[3]]) as usize, 4)
        }
        127 => {
            if b.len() < 10 {
                return None;
            }
            (u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")) as usize, 10)
        }
        n => (n as usize, 2),
    };
    Some(Ok(Header { fin: b[0] & 0x80 != 0, opcode: b[0] & 0x0f, header, len }))
}

/// Opens a connection and completes the WebSocket handshake. Returns the halves and whatever
/// arrived after the handshake's response.
pub(crate) async fn connect(
    target: &Target,
    source: Option<IpAddr>,
) -> std::io::Result<(OwnedReadHalf, OwnedWriteHalf, BytesMut)> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(target.addr).await?;
    stream.set_nodelay(true)?;
    let (mut rd, mut wr) = stream.into_split();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.path, target.host
    );
    wr.write_all(request.as_bytes()).await?;
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if rd.read_buf(&mut buf).await? == 0 {
            return Err(std::io::Error::other("closed during the handshake"));
        }
        if let Some(end) = memmem::find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            if !head.starts_with("HTTP/1.1 101") {
                let status = head.lines().next().unwrap_or_default().to_string();
                return Err(std::io::Error::other(format!("upgrade refused: {status}")));
            }
            buf.advance(end + 4);
            return Ok((rd, wr, buf));
        }
        if buf.len() > 16 * 1024 {
            return Err(std::io::Error::other("handshake response too long"));
        }
    }
}

pub(crate) fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The `"type"` of a server message, found by byte search. The members read only `type`, the
/// chat's marker and the member count, by byte search, instead of decoding each message into a
/// `partyline_protocol::Received`: decoding a chat costs about what the server spends on a
/// delivery (0.5 to 1 µs against 1 to 1.5 µs here), so a generator that decoded all of them, on
/// its one core, would bound the deliveries per second it reports. What it sends is built typed.
pub(crate) fn message_type(data: &[u8]) -> &[u8] {
    let head = &data[..data.len().min(64)];
    let at = memmem::find(head, b"\"type\":\"").or_else(|| memmem::find(data, b"\"type\":\""));
    let Some(at) = at else { return b"" };
    let rest = &data[at + 8..];
    match memchr::memchr(b'"', rest) {
        Some(end) => &rest[..end],
        None => b"",
    }
}

/// The marker of a `chat` (its `text`) and of a topic `broadcast` (its `payload.text`).
pub(crate) const TEXT_MARKER: &[u8] = br##""text":"#"##;
/// The marker of a host `notification` (its `title`).
pub(crate) const TITLE_MARKER: &[u8] = br##""title":"#"##;

/// `#<index>:<ns>:` at the start of the string after `key` (`"text":"#`, say).
pub(crate) fn parse_marker(data: &[u8], key: &[u8]) -> Option<(usize, u64)> {
    let at = memmem::find(data, key)?;
    let mut rest = &data[at + key.len()..];
    let number = |rest: &mut &[u8]| -> Option<u64> {
        let end = memchr::memchr(b':', rest)?;
        let value = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
        *rest = &rest[end + 1..];
        Some(value)
    };
    let index = number(&mut rest)?;
    let sent = number(&mut rest)?;
    Some((index as usize, sent))
}

/// Per-member protocol state.
struct Member<'a> {
    run: &'a Run,
    started: u64,
    joined: bool,
    /// It subscribes to [`TOPIC`] after its welcome, and counts as joined once subscribed.
    subscribe: bool,
    list: i64,
    since_list: i64,
    view_done: bool,
    ping_out: Option<u64>,
    socket: Socket,
}

/// A member's side of its WebSocket, whatever it speaks: what it has to write, its mask, and a
/// fragmented text message being put together. Shared by every format's members.
pub(crate) struct Socket {
    /// Frames to write.
    pub(crate) out: Vec<u8>,
    mask: u32,
    partial: Vec<u8>,
    partial_op: u8,
}

impl Socket {
    /// The socket of member `index` (its masks differ from the others').
    pub(crate) fn new(index: usize) -> Socket {
        let mask = 0x9E37_79B9 ^ (index as u32).wrapping_mul(2_654_435_761) | 1;
        Socket { out: Vec::with_capacity(256), mask, partial: Vec::new(), partial_op: 0 }
    }

    /// Queues a frame (masked, as a client's must be).
    pub(crate) fn queue(&mut self, opcode: u8, payload: &[u8]) {
        // xorshift32: a mask needs no cryptography here, only to be a mask.
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        encode(&mut self.out, opcode, payload, self.mask.to_be_bytes());
    }
}

/// What a format's member does with a whole text message (`false`: end the connection).
pub(crate) trait OnText {
    /// The run it counts into.
    fn run(&self) -> &Run;
    /// Its socket.
    fn socket(&mut self) -> &mut Socket;
    /// Handles one text message.
    fn on_text(&mut self, data: &[u8], now: u64) -> bool;
}

/// Handles every complete frame in `buf`: text to the member (fragments put together), pings
/// answered, a close counted. Returns `false` when the server closed or the framing broke.
pub(crate) fn on_frames(member: &mut impl OnText, buf: &mut BytesMut) -> bool {
    loop {
        let header = match parse_header(buf) {
            None => return true,
            Some(Err(why)) => {
                member.run().note_error(why.to_string());
                return false;
            }
            Some(Ok(header)) => header,
        };
        let total = header.header + header.len;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return true;
        }
        let now = member.run().now();
        let payload = &buf[header.header..total];
        let keep_going = match header.opcode {
            OP_TEXT if header.fin => member.on_text(payload, now),
            OP_TEXT | OP_CONT => {
                let socket = member.socket();
                if header.opcode == OP_TEXT {
                    socket.partial.clear();
                    socket.partial_op = OP_TEXT;
                }
                socket.partial.extend_from_slice(payload);
                if header.fin && socket.partial_op == OP_TEXT {
                    let whole = std::mem::take(&mut socket.partial);
                    let go = member.on_text(&whole, now);
                    let socket = member.socket();
                    socket.partial = whole;
                    socket.partial.clear();
                    go
                } else {
                    true
                }
            }
            OP_PING => {
                let payload = payload.to_vec();
                member.socket().queue(OP_PONG, &payload);
                true
            }
            OP_CLOSE => {
                let code = if payload.len() >= 2 { u16::from_be_bytes([payload[0], payload[1]]) } else { 1005 };
                *member.run().close_codes.borrow_mut().entry(code).or_insert(0) += 1;
                false
            }
            _ => true,
        };
        buf.advance(total);
        if !keep_going {
            return false;
        }
    }
}

impl OnText for Member<'_> {
    fn run(&self) -> &Run {
        self.run
    }

    fn socket(&mut self) -> &mut Socket {
        &mut self.socket
    }

    fn on_text(&mut self, data: &[u8], now: u64) -> bool {
        Member::on_text(self, data, now)
    }
}

impl Member<'_> {
    fn queue(&mut self, opcode: u8, payload: &[u8]) {
        self.socket.queue(opcode, payload);
    }

    fn check_view(&mut self, now: u64) {
        if !self.view_done && self.list + self.since_list >= self.run.view_target as i64 {
            self.view_done = true;
            self.run.views.set(self.run.views.get() + 1);
            self.run.last_view_at.set(now);
        }
    }

    /// Handles one text message. Returns `false` to end the connection.
    fn on_text(&mut self, data: &[u8], now: u64) -> bool {
        match message_type(data) {
            kind @ (b"chat" | b"broadcast" | b"notification") => {
                let key = if kind == b"notification" { TITLE_MARKER } else { TEXT_MARKER };
                if let Some((index, sent)) = parse_marker(data, key) {
                    self.run.record_delivery(index, sent, now, data.len());
                }
            }
            b"welcome" if !self.joined => {
                self.joined = true;
                if self.subscribe {
                    let topics = vec![TOPIC.to_string()];
                    let subscribe = ClientMessage::Subscribe(Topics { timestamp: epoch_ms().into(), topics });
                    self.queue(OP_TEXT, subscribe.to_text().as_bytes());
                } else {
                    self.run.note_joined(self.started, now);
                }
            }
            b"subscriptions" if self.subscribe => {
                self.subscribe = false;
                self.run.note_joined(self.started, now);
            }
            b"member_list" => {
                self.list = memmem::find_iter(data, b"\"id\":\"").count() as i64;
                self.since_list = 0;
                self.check_view(now);
            }
            b"member_joined" => {
                self.since_list += 1;
                self.check_view(now);
            }
            b"member_left" => self.since_list -= 1,
            b"pong" => {
                if let Some(sent) = self.ping_out.take() {
                    self.run.pings.borrow_mut().push(now.saturating_sub(sent));
                }
            }
            b"error" => {
                self.run.errors.set(self.run.errors.get() + 1);
                self.run.note_error(String::from_utf8_lossy(&data[..data.len().min(300)]).to_string());
                if !self.joined {
                    return false;
                }
            }
            _ => {}
        }
        true
    }
}

/// A deterministic spread over `[0, period)` for member `index`, so that timers do not fire
/// all at once.
pub(crate) fn phase(index: usize, period: Duration, salt: u64) -> Duration {
    let x = (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(salt).rotate_left(17) % 10_000;
    period.mul_f64(x as f64 / 10_000.0)
}

/// One member, from connect until the run stops or the server closes it.
pub async fn member(
    run: Rc<Run>,
    target: Rc<Target>,
    conf: Rc<MemberConf>,
    index: usize,
    mut cmds: Option<mpsc::UnboundedReceiver<Cmd>>,
) {
    let Ok(permit) = run.join_gate.clone().acquire_owned().await else { return };
    let mut permit = Some(permit);
    let started = run.now();
    let source = (!conf.sources.is_empty()).then(|| conf.sources[index % conf.sources.len()]);
    let connected = tokio::select! {
        () = run.stop.cancelled() => return,
        c = tokio::time::timeout(Duration::from_secs(20), connect(&target, source)) => c,
    };
    let (mut rd, mut wr, mut buf) = match connected {
        Ok(Ok(parts)) => parts,
        Ok(Err(err)) => {
            run.failed.set(run.failed.get() + 1);
            run.note_error(format!("connect: {err}"));
            return;
        }
        Err(_) => {
            run.failed.set(run.failed.get() + 1);
            run.note_error("connect: timed out".into());
            return;
        }
    };
    let mut m = Member {
        run: &run,
        started,
        joined: false,
        subscribe: conf.cast == Cast::Topic,
        list: 0,
        since_list: 0,
        view_done: false,
        ping_out: None,
        socket: Socket::new(index),
    };
    let (id, name) = (format!("{}-{index}", conf.tag), format!("bench-{index}"));
    let join = ClientMessage::join(epoch_ms(), target.session_id.clone(), id, name, conf.ext.then_some(PARTYLINE_V1));
    m.queue(OP_TEXT, join.to_text().as_bytes());
    let start = tokio::time::Instant::now();
    let mut heartbeat = tokio::time::interval_at(start + phase(index, conf.heartbeat, 1), conf.heartbeat);
    let ping_period = conf.ping_every.unwrap_or(Duration::from_secs(3600));
    let mut ping = tokio::time::interval_at(start + phase(index, ping_period, 2), ping_period);
    let mut alive = true;
    while alive {
        if !m.socket.out.is_empty() {
            if wr.write_all(&m.socket.out).await.is_err() {
                break;
            }
            m.socket.out.clear();
        }
        if m.joined && permit.is_some() {
            permit = None;
        }
        if buf.capacity() - buf.len() < conf.read_chunk / 2 {
            buf.reserve(conf.read_chunk);
        }
        tokio::select! {
            () = run.stop.cancelled() => return,
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => alive = false,
                Ok(_) => alive = on_frames(&mut m, &mut buf),
            },
            _ = heartbeat.tick(), if m.joined => {
                let beat = ClientMessage::Heartbeat(Heartbeat { timestamp: epoch_ms().into() });
                m.queue(OP_TEXT, beat.to_text().as_bytes());
            }
            _ = ping.tick(), if m.joined && conf.ping_every.is_some() => {
                let now = run.now();
                if let Some(sent) = m.ping_out
                    && now - sent > 5_000_000_000
                {
                    run.pings_lost.set(run.pings_lost.get() + 1);
                    m.ping_out = None;
                }
                if m.ping_out.is_none() {
                    m.ping_out = Some(now);
                    let ping = ClientMessage::Ping(Ping { timestamp: epoch_ms().into() });
                    m.queue(OP_TEXT, ping.to_text().as_bytes());
                }
            }
            Some(cmd) = recv(&mut cmds) => match cmd {
                Cmd::Chat { index, text_len } => {
                    let sent = run.now();
                    let text = marker_text(index, sent, text_len);
                    let chat = ClientMessage::Chat(Chat { timestamp: epoch_ms().into(), text, room: None });
                    m.queue(OP_TEXT, chat.to_text().as_bytes());
                    run.note_sent(index, sent);
                }
                Cmd::Broadcast { index, text_len } => {
                    let sent = run.now();
                    let cast = ClientMessage::Broadcast(Broadcast {
                        timestamp: epoch_ms().into(),
                        id: format!("b-{index}"),
                        topic: Some(TOPIC.to_string()),
                        payload: serde_json::json!({ "text": marker_text(index, sent, text_len) }),
                        ack: false,
                        ttl: None,
                    });
                    m.queue(OP_TEXT, cast.to_text().as_bytes());
                    run.note_sent(index, sent);
                }
            },
        }
    }
    if !run.stop.is_cancelled() {
        if m.joined {
            run.closed.set(run.closed.get() + 1);
        } else {
            run.failed.set(run.failed.get() + 1);
        }
    }
}

async fn recv(cmds: &mut Option<mpsc::UnboundedReceiver<Cmd>>) -> Option<Cmd> {
    match cmds {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_types() {
        let chat = br##"{"seq":12,"type":"chat","timestamp":1,"id":"c-1","from":"m-1","name":"b","text":"#42:123456789:xxxx"}"##;
        assert_eq!(message_type(chat), b"chat");
        assert_eq!(parse_marker(chat, TEXT_MARKER), Some((42, 123_456_789)));
        assert_eq!(message_type(br#"{"type":"member_list","members":[]}"#), b"member_list");
    }

    #[test]
    fn frames_round_trip_headers() {
        let mut out = Vec::new();
        encode(&mut out, OP_TEXT, &[b'a'; 300], [0, 0, 0, 0]);
        // A client frame is masked; strip the mask bit to parse it as the server would send it.
        out[1] &= 0x7f;
        let header = parse_header(&out).unwrap().unwrap();
        assert_eq!((header.fin, header.opcode, header.header, header.len), (true, OP_TEXT, 4, 300));
    }
}
