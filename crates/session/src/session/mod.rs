//! [`Session`]: the state machine, the conductor over its parts. The parts are `impl Session`
//! blocks of their own, each one job (quinn-proto's sub-state modules):
//! - `roster`: members and connections: join, rejoin, resume, drop, leave, kick, latency probes;
//! - `messaging`: chat, direct messages, topics and broadcast, presence, voice signals, notifications;
//! - `playback`: the glue to [`crate::syncplay`]: commands, progress, the ready barrier, the lead;
//! - `fanout`: who receives what: broadcasts, per-member sequenced delivery, replay bounds, replies;
//! - `types`: what the session takes and gives ([`Transmit`], [`Event`], [`Peer`], errors).

mod fanout;

use fanout::Outgoing;
mod messaging;
mod persist;
mod playback;
mod roster;
mod types;

pub use roster::MAX_LATENCIES;
pub use types::{Arrival, Author, Ban, ConnId, Event, MemberSync, Peer, SessionError, Transmit, VoiceChange};

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::IpAddr;

use partyline_protocol::binary::BinaryKind;
use partyline_protocol::client::{
    BinaryMessage, Broadcast, Channel, Custom, DeviceState, Direct, Feed, Join, LibraryQuery, MarkRead, PlayCommand,
    PlaybackProgress, Remote, Resume, Topics, VoiceSignal,
};
use partyline_protocol::{
    ClientMessage, ConnectionStatus, DecodeError, DeviceInfo, DeviceType, ErrorCode, Frame, LeaveReason,
    MAX_NAME_CHARS, MAX_TOPICS, MemberInfo, PARTYLINE_V1, SUPPORTED_VERSIONS, ServerMessage, SessionInfo, SessionState,
    Wire, close, names, reason,
};
use partyline_protocol::{
    DEFAULT_ROOM, DEFAULT_VOICE, HISTORY_BYTES, HISTORY_PER_TOPIC, LibraryItem, MAX_CHAT_CHARS, MAX_TITLE_CHARS,
    NotificationAction, NotificationLevel, Permissions, Photo, PlayState, PresenceStatus, Room, RoomKind,
    WELCOME_PHOTOS,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

use crate::chat::{ChatLine, ChatStore};
use crate::config::MAX_CAPACITY;
use crate::direct::DirectStore;
use crate::durable::{Durable, MemberRecord, PartyRecord, Record};
use crate::log::{Cursor, Log, Replay};
use crate::member::{ANONYMOUS_DEVICE, Marks, Member};
use crate::syncplay::{Actor, Change, PlayError, QueueChange, SyncPlay};
use crate::{Config, MILLISECOND, Time, ids};

/// Topics' recent broadcasts: at most [`HISTORY_PER_TOPIC`] each and [`HISTORY_BYTES`] in all
/// (as partyline/1 frames), the oldest dropped first.
#[derive(Debug, Default)]
struct History {
    /// Each topic's broadcasts with their size and when they expire (seed 001's `ttl`), if ever.
    topics: HashMap<String, VecDeque<(ServerMessage, usize, Option<Time>)>>,
    /// Every kept broadcast's topic, oldest first, to drop by age across topics.
    order: VecDeque<String>,
    bytes: usize,
}

impl History {
    fn keep(&mut self, topic: &str, message: ServerMessage, size: usize, expires: Option<Time>) {
        let kept = self.topics.entry(topic.to_string()).or_default();
        kept.push_back((message, size, expires));
        self.bytes += size;
        self.order.push_back(topic.to_string());
        if kept.len() > HISTORY_PER_TOPIC {
            self.drop_oldest_of(topic);
        }
        while self.bytes > HISTORY_BYTES {
            let Some(oldest) = self.order.front().cloned() else { break };
            self.drop_oldest_of(&oldest);
        }
    }

    fn drop_oldest_of(&mut self, topic: &str) {
        let Some(kept) = self.topics.get_mut(topic) else { return };
        if let Some((_, size, _)) = kept.pop_front() {
            self.bytes -= size;
            if let Some(at) = self.order.iter().position(|t| t == topic) {
                self.order.remove(at);
            }
        }
        if kept.is_empty() {
            self.topics.remove(topic);
        }
    }

    /// The newest `limit` of a topic's broadcasts that have not expired by `now`, oldest first.
    /// (An expired one stays counted in the bounds until it is pushed out: the bounds hold
    /// either way, and dropping it from the middle would cost a search.)
    fn recent(&self, topic: &str, limit: usize, now: Time) -> Vec<ServerMessage> {
        let Some(kept) = self.topics.get(topic) else { return Vec::new() };
        let live: Vec<&ServerMessage> = kept
            .iter()
            .filter(|(_, _, expires)| expires.is_none_or(|expires| now < expires))
            .map(|(message, _, _)| message)
            .collect();
        live[live.len().saturating_sub(limit)..].iter().map(|message| (*message).clone()).collect()
    }
}

/// Host notifications kept for read state: a party sees a few dozen announcements in a night.
pub const KEPT_NOTIFICATIONS: usize = 100;

/// The most devices the host keeps turned away; past it the oldest ban is lifted. A party bans
/// a handful; the bound only keeps a script that bans in a loop from growing the set forever.
const MAX_BANS: usize = 1000;

/// How many of the newest chat lines a member gets with its `welcome` (`chat.history`): the
/// screenful or two a guest scrolls back through on arrival, and a reloaded page's chat.
const HISTORY_NEWEST: usize = 100;

/// The most lines a member back from an absence gets: the lines said since it left, up to what
/// a phone reads through (about 75 KB of JSON); what is beyond is counted as missed.
const HISTORY_MOST: usize = 500;

/// The most bytes of direct messages (payloads) a member's `chat.history` carries, the newest
/// first: the same 256 KiB a member's own share of the replay log holds
/// (`Config::replay_bytes`), so a history costs no more than the replay it stands in for.
const DIRECT_HISTORY_BYTES: usize = 256 * 1024;

/// The session's timers. Each is armed at most once at a time (see `Session::arm`): a deadline
/// only ever moves later (a heartbeat, a new drop, a new start), so a timer that fires re-checks
/// the true deadline and re-arms itself, and a member that rejoins a thousand times still holds
/// one heartbeat timer, not a thousand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Timer {
    Probe,
    JoinDeadline(ConnId),
    Heartbeat(u64),
    Resume(u64),
    Ready,
    /// Pavilion's server heartbeat, to every Pavilion member.
    ServerHeartbeat,
    /// The next pages of the library to the members sent it whole ([`Wire::pushes_library`]).
    Library,
}

#[derive(Debug, Clone)]
enum Conn {
    /// Connected, not yet joined, until this deadline; from this peer.
    Pending { deadline: Time, peer: Peer },
    /// Joined as this member.
    Member(u64),
}

/// One Partyline session. See the crate docs for the order of its method families.
#[derive(Debug)]
pub struct Session {
    config: Config,
    rng: StdRng,
    id: String,
    name: String,
    host: MemberInfo,
    locked: bool,
    closed: bool,
    conns: FxHashMap<ConnId, Conn>,
    members: FxHashMap<u64, Member>,
    by_id: HashMap<String, u64>,
    by_device: HashMap<String, u64>,
    /// How each member's name looks ([`partyline_protocol::names::skeleton`]), with how many
    /// members hold that look: a new name that looks taken is marked (`claim_name`).
    looks: HashMap<String, usize>,
    /// Member keys in order of joining.
    order: Vec<u64>,
    next_key: u64,
    /// The N of the next "Guest N" (a member that joined at connect without `?name=`).
    next_guest: u64,
    /// When the session started, ms (Together's server `created_at`).
    started_ms: u64,
    next_chat: u64,
    /// The chat lines kept for edits and deletions.
    chat: ChatStore,
    /// A fresh join's `chat.history`, encoded once; cleared whenever the chat changes.
    history_frame: Option<Frame>,
    /// The direct messages kept, per member.
    directs: DirectStore,
    /// The party's chat rooms and voice channels, the default ones first.
    rooms: Vec<Room>,
    /// Each topic's recent broadcasts, for seed 001's `History` (see [`History`]).
    history: History,
    next_notification: u64,
    /// The last [`KEPT_NOTIFICATIONS`] host notifications, oldest first: a member's read state
    /// refers to them, and a Pavilion client subscribing to `user` gets them with it.
    notifications: VecDeque<ServerMessage>,
    /// The devices the host turned away (kicked and banned), by device id.
    bans: BTreeMap<String, Ban>,
    /// The photos guests shared, oldest first: the newest [`WELCOME_PHOTOS`], for a late
    /// joiner's `welcome` and the host's UI.
    photos: VecDeque<Photo>,
    timers: BinaryHeap<Reverse<(Time, Timer)>>,
    /// The timers in `timers` now: one entry each.
    armed: FxHashSet<Timer>,
    /// The party's log of sequenced messages, for resume.
    log: Log,
    transmits: VecDeque<Transmit>,
    /// The fresh `member_list` made for the congested members that drained at this instant
    /// ([`Session::handle_drained`]; the driver looks at every congested queue at once), until
    /// the party changes: one list serves them all.
    drained_list: Option<(Time, std::sync::Arc<Outgoing>)>,
    /// Roster news held back from members whose queue is deep and whose format has no
    /// `member_list` (Together, Pavilion, seed 001, Revenge), by member key: written as one
    /// backlog once the queue has drained ([`Session::handle_drained`]).
    backlogs: FxHashMap<u64, Vec<std::sync::Arc<Outgoing>>>,
    /// The connection the last `error` went to, for [`Session::handle_sent`]'s `ack`.
    refused: Option<ConnId>,
    /// The `cid` of the message being handled, for the `chat` it says ([`Session::handle_sent`]).
    sending: Option<String>,
    events: VecDeque<Event>,
    syncplay: SyncPlay,
    /// Durable changes not yet drained by [`Session::poll_durable`], in order (only with
    /// `Config::durable`).
    durable: VecDeque<Durable>,
    /// Members whose durable fields changed since the last drain: their records are built
    /// when drained, once however often they changed.
    dirty: BTreeSet<u64>,
    /// SyncPlay changed since the last drain.
    play_dirty: bool,
    /// The party record last drained: a new one is journaled only when it differs.
    party_saved: Option<PartyRecord>,
}

impl Session {
    /// A new session, started at `now`. `seed` seeds the generator of ids and secrets: give it
    /// OS randomness in production and a constant in tests.
    pub fn new(config: Config, now: Time, seed: u64) -> Session {
        let mut rng = StdRng::seed_from_u64(seed);
        let id = config.session_id.clone().unwrap_or_else(|| ids::session_id(&mut rng));
        let host = MemberInfo {
            id: ids::host_id(&mut rng),
            name: config.host_name.clone(),
            is_host: true,
            connection_status: ConnectionStatus::Connected,
            joined_at: now / MILLISECOND,
            latency: None,
            device: None,
        };
        let log = Log::new(config.replay_capacity, config.replay_log_bytes);
        let chat = ChatStore::new(config.chat_lines);
        let mut session = Session {
            name: config.name.clone(),
            config,
            rng,
            id,
            host,
            locked: false,
            closed: false,
            conns: FxHashMap::default(),
            members: FxHashMap::default(),
            by_id: HashMap::new(),
            by_device: HashMap::new(),
            looks: HashMap::new(),
            order: Vec::new(),
            next_key: 0,
            next_guest: 0,
            started_ms: now / MILLISECOND,
            next_chat: 0,
            chat,
            history_frame: None,
            directs: DirectStore::default(),
            history: History::default(),
            rooms: vec![
                Room { id: DEFAULT_ROOM.to_string(), name: "General".to_string(), kind: RoomKind::Text },
                Room { id: DEFAULT_VOICE.to_string(), name: "Voice".to_string(), kind: RoomKind::Voice },
            ],
            next_notification: 0,
            notifications: VecDeque::new(),
            bans: BTreeMap::new(),
            photos: VecDeque::new(),
            timers: BinaryHeap::new(),
            armed: FxHashSet::default(),
            log,
            transmits: VecDeque::new(),
            drained_list: None,
            backlogs: FxHashMap::default(),
            refused: None,
            sending: None,
            events: VecDeque::new(),
            syncplay: SyncPlay::default(),
            durable: VecDeque::new(),
            dirty: BTreeSet::new(),
            play_dirty: false,
            party_saved: None,
        };
        session.arm(now + session.config.probe_interval, Timer::Probe);
        session.arm(now + session.config.server_heartbeat_interval, Timer::ServerHeartbeat);
        session
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The session's state: name, lock, capacity, member count.
    pub fn state(&self) -> SessionState {
        SessionState {
            id: self.id.clone(),
            name: self.name.clone(),
            host_id: self.host.id.clone(),
            locked: self.locked,
            max_members: self.config.max_members,
            member_count: self.members.len() as u32,
        }
    }

    /// Every member, the host first, then in order of joining.
    pub fn members(&self) -> Vec<MemberInfo> {
        let mut list = Vec::with_capacity(self.order.len() + 1);
        list.push(self.host.clone());
        list.extend(self.order.iter().map(|key| self.members[key].info()));
        list
    }

    /// Bytes of messages the party's log keeps for resume: at most `Config::replay_log_bytes`.
    pub fn replay_bytes(&self) -> usize {
        self.log.bytes()
    }

    /// Timers armed now (one per kind and member at most): what `poll_timeout` chooses from.
    pub fn timers_pending(&self) -> usize {
        self.timers.len()
    }

    /// Members now in the session, not counting the host.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// SyncPlay's state.
    pub fn play_state(&self) -> PlayState {
        self.syncplay.state()
    }

    /// The shared library.
    pub fn library(&self) -> &[LibraryItem] {
        self.syncplay.library()
    }

    /// The shared library with its pages and search, as members read it (`library.query`).
    pub fn catalog(&self) -> &crate::Library {
        self.syncplay.catalog()
    }

    /// Each extension member's last playback report: how in sync the room is.
    pub fn sync_report(&self) -> Vec<MemberSync> {
        self.order
            .iter()
            .filter_map(|key| {
                let member = &self.members[key];
                member.progress.as_ref().map(|(progress, at)| MemberSync {
                    member_id: member.id.clone(),
                    state: progress.state,
                    error_ms: progress.error,
                    position: progress.position,
                    at: *at,
                })
            })
            .collect()
    }

    /// Whether [`Session::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The device id of the member a connection belongs to (the one an upload names).
    pub fn device_of(&self, conn: ConnId) -> Option<String> {
        match self.conns.get(&conn) {
            Some(Conn::Member(key)) => Some(self.members[key].device_id.clone()),
            _ => None,
        }
    }

    /// Whether the connection joined with the Partyline extensions.
    pub fn is_ext(&self, conn: ConnId) -> bool {
        match self.conns.get(&conn) {
            Some(Conn::Member(key)) => self.members[key].ext(),
            _ => false,
        }
    }

    /// A connection opened (and passed the key check), from `peer`.
    pub fn handle_connect(&mut self, now: Time, conn: ConnId, peer: Peer) {
        if self.closed {
            self.close_conn(conn, close::SESSION_CLOSED, "session closed");
            return;
        }
        let deadline = now + self.config.join_timeout;
        let arrival = peer.arrival.clone();
        self.conns.insert(conn, Conn::Pending { deadline, peer: peer.clone() });
        match arrival {
            None => self.arm(deadline, Timer::JoinDeadline(conn)),
            Some(arrival) => {
                let join = self.join_from_url(arrival);
                self.join(now, conn, join, peer);
                if let Some(Conn::Pending { .. }) = self.conns.get(&conn) {
                    // Refused (locked, full, an old key): told in its format, then closed, since
                    // a format that joins at connect has no second try on the same socket.
                    self.conns.remove(&conn);
                    self.close_conn(conn, close::POLICY, "not admitted");
                }
            }
        }
    }

    /// The `join` a connection's URL amounts to.
    fn join_from_url(&mut self, arrival: Arrival) -> Join {
        // A name another format's client gave in its URL; one a person could not read is none.
        let name = arrival.name.and_then(|name| names::clean(&name).ok());
        let name = match name {
            Some(name) => name,
            None => {
                self.next_guest += 1;
                format!("Guest {}", self.next_guest)
            }
        };
        let device =
            arrival.device_id.map(|id| id.trim().to_string()).filter(|id| (1..=128).contains(&id.chars().count()));
        let id = device.unwrap_or_else(|| format!("{ANONYMOUS_DEVICE}{}", ids::secret(&mut self.rng)));
        Join {
            timestamp: 0.into(),
            session_id: self.id.clone(),
            device_info: DeviceInfo { id, name, kind: DeviceType::Client },
            protocol_version: None,
            player: None,
        }
    }

    /// A message that came with a `cid` (partyline/1's outbox id) or without one. With one,
    /// from a partyline/1 member, the message is applied at most once: the member's last
    /// [`crate::member::TAKEN_CIDS`] `cid`s are remembered, and each is answered with `ack`
    /// (`ok` false when the message was refused with an `error`, `duplicate` when it had been
    /// taken before and nothing was done again). Without one, or from a member of another
    /// format, this is [`Session::handle_message`].
    pub fn handle_sent(&mut self, now: Time, conn: ConnId, message: ClientMessage, cid: Option<String>) {
        let handshake = matches!(
            message,
            ClientMessage::Join(_)
                | ClientMessage::Resume(_)
                | ClientMessage::Leave(_)
                | ClientMessage::Ping(_)
                | ClientMessage::Heartbeat(_)
        );
        let key = match self.conns.get(&conn) {
            Some(Conn::Member(key)) if self.members[key].wire == Wire::Partyline => Some(*key),
            _ => None,
        };
        let (Some(cid), Some(key), false) = (cid, key, handshake) else {
            return self.handle_message(now, conn, message);
        };
        let hash = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            cid.hash(&mut hasher);
            hasher.finish()
        };
        let ack = |ok, duplicate| ServerMessage::Ack { timestamp: now / MILLISECOND, cid: cid.clone(), ok, duplicate };
        if let Some(ok) = self.members[&key].taken(hash) {
            return self.reply(conn, ack(ok, true));
        }
        self.refused = None;
        self.sending = Some(cid.clone());
        self.handle_message(now, conn, message);
        self.sending = None;
        let ok = self.refused != Some(conn);
        if let Some(member) = self.members.get_mut(&key) {
            member.take(hash, ok);
            self.touch(key);
        }
        if self.conns.contains_key(&conn) {
            self.reply(conn, ack(ok, false));
        }
    }

    /// A message arrived on a connection.
    pub fn handle_message(&mut self, now: Time, conn: ConnId, message: ClientMessage) {
        // Cloning allocates only for a connection that has not joined yet (its device label).
        let Some(state) = self.conns.get(&conn).cloned() else { return };
        if let Conn::Member(key) = state
            && let Some(member) = self.members.get_mut(&key)
            && member.wire.joins_at_connect()
        {
            // Together and Pavilion close a client that is silent, whatever it sends.
            member.last_heartbeat = now;
        }
        match (state, message) {
            (_, ClientMessage::Ping(ping)) => {
                let clock = self.is_ext(conn).then_some((now, now));
                self.reply(conn, pong(ping.timestamp, clock));
            }
            (Conn::Pending { peer, .. }, ClientMessage::Join(join)) => self.join(now, conn, join, peer),
            (Conn::Pending { peer, .. }, ClientMessage::Resume(resume)) => self.resume(now, conn, resume, peer.addr),
            (Conn::Pending { .. }, other) => {
                let message = format!("{}: send join first", other.kind());
                self.reply_error(now, conn, ErrorCode::InvalidMessage, message, json!({"reason": reason::NOT_JOINED}));
            }
            (Conn::Member(key), ClientMessage::Heartbeat(_)) => {
                if let Some(member) = self.members.get_mut(&key) {
                    member.last_heartbeat = now;
                }
                // Together answers each one (`HEARTBEAT_ACK`); the other formats have no answer.
                self.reply(conn, ServerMessage::HeartbeatAck { timestamp: now / MILLISECOND });
            }
            (Conn::Member(key), ClientMessage::Feed(feed)) => self.feed(now, conn, key, feed),
            (Conn::Member(key), ClientMessage::Leave(_)) => {
                self.remove_member(now, key, LeaveReason::Left, Some((close::NORMAL, "left")));
            }
            (Conn::Member(key), ClientMessage::Chat(chat)) => {
                let room = chat.room.as_deref().unwrap_or(DEFAULT_ROOM).to_string();
                if let Err(err) = self.say(now, key, &room, chat.text) {
                    self.chat_refused(now, conn, "chat", err);
                }
            }
            (Conn::Member(key), ClientMessage::ChatEdit(edit)) => {
                if self.require_ext(now, conn, key, "chat.edit") {
                    let by = Author::Member(key);
                    if let Err(err) = self.change_line(now, by, &edit.id, Some(edit.text)) {
                        self.chat_refused(now, conn, "chat.edit", err);
                    }
                }
            }
            (Conn::Member(key), ClientMessage::ChatDelete(delete)) => {
                if self.require_ext(now, conn, key, "chat.delete")
                    && let Err(err) = self.change_line(now, Author::Member(key), &delete.id, None)
                {
                    self.chat_refused(now, conn, "chat.delete", err);
                }
            }
            (Conn::Member(key), ClientMessage::Direct(direct)) => self.direct(now, conn, key, direct),
            (Conn::Member(key), ClientMessage::Subscribe(topics)) => self.subscribe(now, conn, key, topics, true),
            (Conn::Member(key), ClientMessage::Unsubscribe(topics)) => self.subscribe(now, conn, key, topics, false),
            (Conn::Member(key), ClientMessage::Presence(presence)) => {
                if self.require_ext(now, conn, key, "presence") {
                    let text = presence.text.map(|text| text.trim().to_string()).filter(|text| !text.is_empty());
                    self.set_presence(now, key, presence.status, text);
                }
            }
            (Conn::Member(key), ClientMessage::VoiceSignal(voice)) => self.voice_signal(now, conn, key, voice),
            (Conn::Member(key), ClientMessage::MarkRead(MarkRead { ids, .. })) => {
                if self.require_ext(now, conn, key, "mark_read") {
                    let kept: Vec<String> = ids.iter().filter(|id| self.notification(id).is_some()).cloned().collect();
                    let member = self.members.get_mut(&key).expect("a member");
                    member.read.extend(kept);
                    self.touch(key);
                    let member = &self.members[&key];
                    let (member_id, name) = (member.id.clone(), member.name.clone());
                    self.events.push_back(Event::NotificationsRead { member_id, name, ids });
                }
            }
            (Conn::Member(key), ClientMessage::Broadcast(broadcast)) => {
                self.broadcast_message(now, conn, key, broadcast)
            }
            (Conn::Member(key), ClientMessage::Rename(rename)) => {
                if self.require_ext(now, conn, key, "rename") {
                    self.rename_member(now, key, &rename.name);
                }
            }
            (Conn::Member(key), ClientMessage::SyncplayCommand(command)) => {
                if let Err(err) = self.play(now, Actor::Member(key), command.command) {
                    let code = match err {
                        PlayError::NotAllowed(_) => ErrorCode::Unauthorized,
                        _ => ErrorCode::InvalidMessage,
                    };
                    self.reply_error(now, conn, code, err.to_string(), json!({"reason": reason::SYNCPLAY}));
                }
            }
            (Conn::Member(key), ClientMessage::PlaybackProgress(progress)) => self.progress(now, key, progress),
            (Conn::Member(key), ClientMessage::LibraryQuery(query)) => {
                if self.require_ext(now, conn, key, "library.query") {
                    self.library_query(now, conn, query);
                }
            }
            (Conn::Member(_), ClientMessage::Remote(remote)) => self.remote_from(now, conn, remote),
            (Conn::Member(key), ClientMessage::Custom(custom)) => self.custom(now, key, custom),
            (Conn::Member(key), ClientMessage::Binary(binary)) => self.binary(now, conn, key, binary),
            (Conn::Member(_), ClientMessage::FileTransfer(_)) => {
                // The I/O layer takes files (it hands them to the host's upload store); without
                // one, there is nowhere to put them.
                let message = "FileTransfer: this host takes no files here";
                self.reply_error(now, conn, ErrorCode::InvalidMessage, message, json!({}));
            }
            (Conn::Member(_), ClientMessage::History(request)) => {
                let messages = self.history.recent(&request.topic, request.limit, now);
                let topic = request.topic;
                self.reply(conn, ServerMessage::History { timestamp: now / MILLISECOND, topic, messages });
            }
            (Conn::Member(_), other @ (ClientMessage::Join(_) | ClientMessage::Resume(_))) => {
                let message = format!("{}: this connection has already joined", other.kind());
                self.reply_error(
                    now,
                    conn,
                    ErrorCode::InvalidMessage,
                    message,
                    json!({"reason": reason::ALREADY_JOINED}),
                );
            }
        }
    }

    /// A frame that could not be decoded arrived. `invalid_message` (or `message_too_large`)
    /// goes back; the connection stays open unless the frame was too large.
    pub fn handle_invalid(&mut self, now: Time, conn: ConnId, error: &DecodeError) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        match error {
            DecodeError::TooLarge { limit, .. } => {
                let details = json!({"maxBytes": limit});
                self.reply_error(now, conn, ErrorCode::MessageTooLarge, error.to_string(), details);
                self.drop_conn(now, conn, close::MESSAGE_TOO_BIG, "message too large", LeaveReason::Error);
            }
            _ if self.wire_of(conn) == Wire::Together => {
                // Seed 002: "4002 Invalid message format (malformed JSON or unknown opcode)".
                self.drop_conn(now, conn, close::MALFORMED, "invalid message format", LeaveReason::Error);
            }
            _ => {
                let details = json!({"reason": error.to_string()});
                self.reply_error(now, conn, ErrorCode::InvalidMessage, error.to_string(), details);
            }
        }
    }

    /// The I/O layer dropped messages from a connection that exceeded its rate. `abusive`: it
    /// kept on after being told, and is closed.
    pub fn handle_rate_limited(&mut self, now: Time, conn: ConnId, retry_after_ms: u64, abusive: bool) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        let message = format!("too many messages; retry after {retry_after_ms} ms");
        self.reply_error(now, conn, ErrorCode::RateLimited, message, json!({"retryAfterMs": retry_after_ms}));
        if abusive {
            self.drop_conn(now, conn, close::RATE_LIMITED, "rate limit exceeded", LeaveReason::Error);
        }
    }

    /// A connection could not keep up: its outbound queue is full. It is closed at once so that
    /// nobody else waits; an extension member may resume and catch up from its buffer.
    pub fn handle_overflow(&mut self, now: Time, conn: ConnId) {
        self.drop_conn(now, conn, close::TOO_SLOW, "too slow", LeaveReason::Error);
    }

    /// The connection closed. `clean`: with a close frame (the user left) rather than a broken
    /// socket. An extension member becomes `reconnecting`; a LOUDSYNC 1.0 member is gone.
    pub fn handle_disconnect(&mut self, now: Time, conn: ConnId, clean: bool) {
        let Some(state) = self.conns.remove(&conn) else { return };
        if let Conn::Member(key) = state {
            let reason = if clean { LeaveReason::Left } else { LeaveReason::Error };
            self.lose_connection(now, key, reason);
        }
    }

    /// Deadlines passed: heartbeats, join and resume windows, latency probes. Call it at (or
    /// after) [`Session::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some(&Reverse((at, timer))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            self.armed.remove(&timer);
            match timer {
                Timer::Probe => self.probe(now),
                Timer::JoinDeadline(conn) => {
                    if let Some(Conn::Pending { deadline, .. }) = self.conns.get(&conn)
                        && *deadline <= now
                    {
                        self.conns.remove(&conn);
                        self.close_conn(conn, close::JOIN_TIMEOUT, "no join in time");
                    }
                }
                Timer::Heartbeat(key) => {
                    let Some(member) = self.members.get(&key) else { continue };
                    let Some(conn) = member.conn else { continue };
                    let deadline = member.last_heartbeat + self.heartbeat_timeout(member.wire);
                    if deadline <= now {
                        self.conns.remove(&conn);
                        self.close_conn(conn, close::HEARTBEAT_TIMEOUT, "heartbeat timeout");
                        self.lose_connection(now, key, LeaveReason::Timeout);
                    } else {
                        self.arm(deadline, Timer::Heartbeat(key));
                    }
                }
                Timer::ServerHeartbeat => {
                    let beat = Outgoing::new(&ServerMessage::ServerHeartbeat { timestamp: now / MILLISECOND });
                    // Pavilion's server heartbeat, and seed 001's server Ping (its client must Pong).
                    let beating = |wire: Wire| matches!(wire, Wire::Pavilion | Wire::Rt);
                    let members: Vec<u64> =
                        self.order.iter().copied().filter(|key| beating(self.members[key].wire)).collect();
                    self.broadcast_to(members, &beat);
                    self.arm(now + self.config.server_heartbeat_interval, Timer::ServerHeartbeat);
                }
                Timer::Ready => {
                    let lead = self.lead_time();
                    if self.syncplay.handle_timeout(now, lead) {
                        self.play_changed(now);
                    } else if let Some(deadline) = self.syncplay.ready_deadline() {
                        self.arm(deadline, Timer::Ready); // a later start moved it
                    }
                }
                Timer::Library => self.push_library(now),
                Timer::Resume(key) => {
                    let Some(member) = self.members.get(&key) else { continue };
                    let Some(lost_at) = member.lost_at else { continue };
                    let deadline = lost_at + self.config.resume_window;
                    if deadline <= now {
                        self.remove_member(now, key, LeaveReason::Timeout, None);
                    } else {
                        self.arm(deadline, Timer::Resume(key)); // it resumed and dropped again since
                    }
                }
            }
        }
    }

    /// Locks or unlocks: while locked, joins are refused and resumes still work. Like every host
    /// action that changes the session, it returns the session as it is after the change.
    pub fn set_locked(&mut self, now: Time, locked: bool) -> Result<SessionState, SessionError> {
        self.check_open()?;
        if self.locked != locked {
            self.locked = locked;
            self.session_updated(now);
        }
        Ok(self.state())
    }

    /// Sets the capacity. Lowering it below the member count removes nobody; joins wait.
    pub fn set_capacity(&mut self, now: Time, max_members: u32) -> Result<SessionState, SessionError> {
        self.check_open()?;
        if !(1..=MAX_CAPACITY).contains(&max_members) {
            return Err(SessionError::BadCapacity(max_members));
        }
        if self.config.max_members != max_members {
            self.config.max_members = max_members;
            self.session_updated(now);
        }
        Ok(self.state())
    }

    /// Renames the session.
    pub fn rename(&mut self, now: Time, name: &str) -> Result<SessionState, SessionError> {
        self.check_open()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(SessionError::BadName);
        }
        if self.name != name {
            self.name = name.to_string();
            self.session_updated(now);
        }
        Ok(self.state())
    }

    /// Closes the session: `session_closed` to every member, then close 4011 for every
    /// connection. Later connections are closed at once.
    pub fn close(&mut self, now: Time, reason: Option<&str>) {
        if self.closed {
            return;
        }
        self.closed = true;
        let message = ServerMessage::SessionClosed { timestamp: now / MILLISECOND, reason: reason.map(str::to_string) };
        self.broadcast(&Outgoing::new(&message), None);
        let mut conns: Vec<ConnId> = self.conns.drain().map(|(conn, _)| conn).collect();
        conns.sort();
        for conn in conns {
            self.close_conn(conn, close::SESSION_CLOSED, "session closed");
        }
        // Every member was told the party is over (or, away, will be when it tries to come
        // back): none is kept for a later start of the same party, which begins with no guests.
        let mut gone: Vec<(u64, String)> = self.members.iter().map(|(key, m)| (*key, m.id.clone())).collect();
        gone.sort();
        for (key, id) in gone {
            self.journal(Durable::MemberGone(key));
            for n in self.directs.forget(&id) {
                self.journal(Durable::DirectGone(n));
            }
        }
        self.members.clear();
        self.by_id.clear();
        self.by_device.clear();
        self.order.clear();
        self.timers.clear();
        self.armed.clear();
        self.events.push_back(Event::Closed);
    }

    /// The next thing to write or close.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the host's user interface.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next durable change to store, in the order they were made (only with
    /// `Config::durable`): the journaled ones first (chat lines, bans, members gone...), then the
    /// party, SyncPlay and each changed member as they are now. Drain it to `None` and commit
    /// before writing that pass's transmits, so nothing is acknowledged that is not stored.
    pub fn poll_durable(&mut self) -> Option<Durable> {
        if !self.config.durable {
            return None;
        }
        if let Some(change) = self.durable.pop_front() {
            return Some(change);
        }
        if self.party_saved.as_ref().is_none_or(|saved| !self.party_is(saved)) {
            let party = self.party_record();
            self.party_saved = Some(party.clone());
            return Some(Durable::Party(party));
        }
        if std::mem::take(&mut self.play_dirty) {
            return Some(Durable::Play(self.syncplay.record()));
        }
        while let Some(key) = self.dirty.pop_first() {
            if let Some(record) = self.member_record(key) {
                return Some(Durable::Member(record));
            }
        }
        None
    }

    /// When to call [`Session::handle_timeout`] next (it may find nothing due: a deadline
    /// that moved is re-checked then, rather than searched for now).
    pub fn poll_timeout(&self) -> Option<Time> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Arms a timer unless it is armed already (then the earlier entry fires first, re-checks
    /// and re-arms: deadlines only move later).
    fn arm(&mut self, at: Time, timer: Timer) {
        if self.armed.insert(timer) {
            self.timers.push(Reverse((at, timer)));
        }
    }

    /// How long a member speaking `wire` may go without a sign of life: LOUDSYNC's heartbeat
    /// timeout, or for Together and Pavilion, their 90 s of silence.
    fn heartbeat_timeout(&self, wire: Wire) -> Time {
        if wire.joins_at_connect() { self.config.silence_timeout } else { self.config.heartbeat_timeout }
    }

    /// Arms a member's heartbeat deadline from now, by its format's rule.
    fn arm_heartbeat(&mut self, now: Time, key: u64) {
        let wire = self.members[&key].wire;
        self.arm(now + self.heartbeat_timeout(wire), Timer::Heartbeat(key));
    }

    fn check_open(&self) -> Result<(), SessionError> {
        if self.closed { Err(SessionError::Closed) } else { Ok(()) }
    }
}

/// The pong for a ping: the timestamp echoed, and with `clock` (extension members) the server's
/// receive and send times in µs.
pub fn pong(timestamp: serde_json::Number, clock: Option<(Time, Time)>) -> ServerMessage {
    ServerMessage::Pong {
        timestamp,
        server_receive_time: clock.map(|(received, _)| received),
        server_send_time: clock.map(|(_, sent)| sent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cast(n: usize) -> ServerMessage {
        ServerMessage::Broadcast {
            timestamp: n as u64,
            from: "m".into(),
            id: format!("b-{n}"),
            topic: Some("t".into()),
            payload: serde_json::Value::Null,
        }
    }

    /// History keeps each topic's newest [`HISTORY_PER_TOPIC`] and at most [`HISTORY_BYTES`] in
    /// all, dropping the oldest across topics first.
    #[test]
    fn history_is_bounded() {
        let mut history = History::default();
        (0..HISTORY_PER_TOPIC + 10).for_each(|n| history.keep("a", cast(n), 10, None));
        let kept = history.recent("a", usize::MAX, 0);
        assert_eq!(kept.len(), HISTORY_PER_TOPIC, "per topic");
        assert_eq!(kept[0], cast(10), "the oldest went first");
        assert_eq!(history.recent("a", 2, 0), vec![cast(HISTORY_PER_TOPIC + 8), cast(HISTORY_PER_TOPIC + 9)]);
        let big = HISTORY_BYTES / 4;
        (0..6).for_each(|n| history.keep(&format!("big{n}"), cast(n), big, None));
        assert!(history.bytes <= HISTORY_BYTES, "{} bytes kept", history.bytes);
        assert!(history.recent("a", 1, 0).is_empty(), "the oldest topic's went first");
        assert_eq!(history.recent("big5", 1, 0).len(), 1, "the newest stays");
        assert_eq!(history.order.len(), history.topics.values().map(VecDeque::len).sum::<usize>());
    }

    /// A broadcast with a `ttl` leaves its topic's history when it expires; the others stay,
    /// and `limit` counts only the live ones.
    #[test]
    fn history_expires() {
        let mut history = History::default();
        history.keep("t", cast(1), 10, None);
        history.keep("t", cast(2), 10, Some(100));
        history.keep("t", cast(3), 10, None);
        assert_eq!(history.recent("t", 3, 99), vec![cast(1), cast(2), cast(3)], "before it expires");
        assert_eq!(history.recent("t", 3, 100), vec![cast(1), cast(3)], "at its expiry");
        assert_eq!(history.recent("t", 2, 100), vec![cast(1), cast(3)], "the newest two live ones");
    }
}
