//! [`Session`]: the state machine.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::net::IpAddr;

use partyline_protocol::client::{
    Broadcast, Chat, DeviceState, Direct, Join, MarkRead, PlayCommand, PlaybackProgress, Resume, Topics, VoiceSignal,
};
use partyline_protocol::{
    ClientMessage, ConnectionStatus, DecodeError, ErrorCode, Frame, LeaveReason, MAX_NAME_CHARS, MAX_TOPICS,
    MemberInfo, PARTYLINE_V1, SUPPORTED_VERSIONS, ServerMessage, SessionInfo, SessionState, close,
};
use partyline_protocol::{
    LibraryItem, MAX_CHAT_CHARS, MAX_TITLE_CHARS, NotificationLevel, Permissions, PlayState, PresenceStatus,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use crate::config::MAX_CAPACITY;
use crate::member::{Member, Replay, Stream};
use crate::syncplay::{Actor, Change, PlayError, QueueChange, SyncPlay};
use crate::{Config, MILLISECOND, Time, ids};

/// A connection, as the I/O layer numbers them. The session never reuses one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// Where a connection comes from, as the I/O layer saw it when it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The remote address. Members are counted per address, and a device id is only trusted
    /// to take over its member from the address that member is on.
    pub addr: IpAddr,
    /// A short label for the device ("iPhone", "Windows PC"), if the I/O layer could tell; a
    /// member that joins on the connection carries it as `device` to extension members.
    pub device: Option<String>,
}

impl Peer {
    /// A connection from `addr` whose device is unknown.
    pub fn from_addr(addr: IpAddr) -> Peer {
        Peer { addr, device: None }
    }
}

/// Something for the I/O layer to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Write a text frame. With `seq`, splice it in first ([`Frame::with_seq`]).
    Send {
        /// To whom.
        conn: ConnId,
        /// The message, shared with the other recipients.
        frame: Frame,
        /// The member's sequence number for it, for extension members.
        seq: Option<u64>,
    },
    /// Write these sequenced frames, in order, paced by the connection's own writer: a resume's
    /// replay, which may be hundreds of messages and must not count against the connection's
    /// outbound queue one by one (a replay that overflowed it closed the member before
    /// `resumed` was written, and every retry did the same).
    Replay {
        /// To whom.
        conn: ConnId,
        /// The messages with their sequence numbers.
        frames: Vec<(u64, Frame)>,
    },
    /// Send a WebSocket ping whose payload is `sent_at` (8 bytes, big-endian), and hand the
    /// pong's payload back to [`Session::handle_probe_reply`].
    Probe {
        /// To whom.
        conn: ConnId,
        /// The time to carry.
        sent_at: Time,
    },
    /// Close the connection after writing what was queued before it. The session has already
    /// forgotten the connection: a later [`Session::handle_disconnect`] for it is ignored.
    Close {
        /// Which.
        conn: ConnId,
        /// The WebSocket close code ([`partyline_protocol::close`]).
        code: u16,
        /// The close reason.
        reason: &'static str,
    },
}

/// Something the host's own user interface should know. Serializes as an object whose
/// `event` field names the variant (`member_joined`, ...), for the desktop app's web view and
/// `partyline host --json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum Event {
    /// A member joined.
    MemberJoined(MemberInfo),
    /// A member left.
    MemberLeft {
        /// The member as it was.
        member: MemberInfo,
        /// Why.
        reason: LeaveReason,
    },
    /// A member's status, name, latency or device changed.
    MemberUpdated(MemberInfo),
    /// The session's name, lock, capacity or member count changed.
    SessionUpdated(SessionState),
    /// A chat line.
    Chat {
        /// Sender's member id.
        from: String,
        /// Sender's name.
        name: String,
        /// The line.
        text: String,
    },
    /// A member's presence changed (a fresh join of its device resets it to online).
    Presence {
        /// The member.
        member_id: String,
        /// Its name.
        name: String,
        /// Online, away or busy.
        status: PresenceStatus,
        /// Its words, if any.
        text: Option<String>,
    },
    /// A member has read host notifications (`mark_read`).
    NotificationsRead {
        /// The member.
        member_id: String,
        /// Its name.
        name: String,
        /// The notification ids, as it sent them.
        ids: Vec<String>,
    },
    /// SyncPlay's state changed.
    SyncPlay(PlayState),
    /// A member reported its playback (about once a second while playing).
    PlaybackProgress(MemberSync),
    /// The session is closed; nothing more will happen.
    Closed,
}

/// How one member's playback is doing, from its last report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberSync {
    /// The member.
    pub member_id: String,
    /// What it is doing.
    pub state: DeviceState,
    /// Its error against the group, ms (positive: ahead).
    pub error_ms: Option<f64>,
    /// Its position, ms.
    pub position: f64,
    /// When it reported.
    pub at: Time,
}

/// A host action that cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// No member has that id.
    #[error("no member with id {0}")]
    NoSuchMember(String),
    /// The capacity is outside 1..=10,000.
    #[error("capacity must be between 1 and {MAX_CAPACITY}, not {0}")]
    BadCapacity(u32),
    /// The name is empty or longer than 64 characters.
    #[error("a session name must be 1 to {MAX_NAME_CHARS} characters")]
    BadName,
    /// The session is closed.
    #[error("the session is closed")]
    Closed,
    /// A notification's title is empty or over 100 characters, or its body over 1,000.
    #[error("a notification needs a title of 1 to {MAX_TITLE_CHARS} characters and a body of at most {MAX_CHAT_CHARS}")]
    BadNotification,
    /// The member joined with a LOUDSYNC 1.0 client, which knows no `remote.command`.
    #[error("{0} uses a LOUDSYNC 1.0 client, which takes no remote commands")]
    NoRemote(String),
    /// SyncPlay refused the command.
    #[error(transparent)]
    Play(#[from] PlayError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Probe,
    JoinDeadline(ConnId),
    Heartbeat(u64),
    Resume(u64),
    Ready,
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
    conns: HashMap<ConnId, Conn>,
    members: HashMap<u64, Member>,
    by_id: HashMap<String, u64>,
    by_device: HashMap<String, u64>,
    /// Member keys in order of joining.
    order: Vec<u64>,
    next_key: u64,
    next_chat: u64,
    next_notification: u64,
    timers: BinaryHeap<Reverse<(Time, Timer)>>,
    /// Bytes kept in every member's replay buffer together (see `Config::replay_total_bytes`).
    replay_bytes: usize,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    syncplay: SyncPlay,
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
        let mut session = Session {
            name: config.name.clone(),
            config,
            rng,
            id,
            host,
            locked: false,
            closed: false,
            conns: HashMap::new(),
            members: HashMap::new(),
            by_id: HashMap::new(),
            by_device: HashMap::new(),
            order: Vec::new(),
            next_key: 0,
            next_chat: 0,
            next_notification: 0,
            timers: BinaryHeap::new(),
            replay_bytes: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            syncplay: SyncPlay::default(),
        };
        session.timers.push(Reverse((now + session.config.probe_interval, Timer::Probe)));
        session
    }

    // ----- Getters -----

    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The settings it runs with.
    pub fn config(&self) -> &Config {
        &self.config
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

    /// Bytes held in the members' replay buffers, counting a shared frame once per buffer:
    /// at most `Config::replay_total_bytes`.
    pub fn replay_bytes(&self) -> usize {
        self.replay_bytes
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

    /// Whether the connection joined with the Partyline extensions.
    pub fn is_ext(&self, conn: ConnId) -> bool {
        match self.conns.get(&conn) {
            Some(Conn::Member(key)) => self.members[key].ext,
            _ => false,
        }
    }

    // ----- What came in -----

    /// A connection opened (and passed the key check), from `peer`.
    pub fn handle_connect(&mut self, now: Time, conn: ConnId, peer: Peer) {
        if self.closed {
            self.close_conn(conn, close::SESSION_CLOSED, "session closed");
            return;
        }
        let deadline = now + self.config.join_timeout;
        self.conns.insert(conn, Conn::Pending { deadline, peer });
        self.timers.push(Reverse((deadline, Timer::JoinDeadline(conn))));
    }

    /// A message arrived on a connection.
    pub fn handle_message(&mut self, now: Time, conn: ConnId, message: ClientMessage) {
        // Cloning allocates only for a connection that has not joined yet (its device label).
        let Some(state) = self.conns.get(&conn).cloned() else { return };
        match (state, message) {
            (_, ClientMessage::Ping(ping)) => {
                let clock = self.is_ext(conn).then_some((now, now));
                self.reply(conn, pong(ping.timestamp, clock));
            }
            (Conn::Pending { peer, .. }, ClientMessage::Join(join)) => self.join(now, conn, join, peer),
            (Conn::Pending { peer, .. }, ClientMessage::Resume(resume)) => self.resume(now, conn, resume, peer.addr),
            (Conn::Pending { .. }, other) => {
                let message = format!("{}: send join first", other.kind());
                self.reply_error(now, conn, ErrorCode::InvalidMessage, message, json!({"reason": "not_joined"}));
            }
            (Conn::Member(key), ClientMessage::Heartbeat(_)) => {
                if let Some(member) = self.members.get_mut(&key) {
                    member.last_heartbeat = now;
                }
            }
            (Conn::Member(key), ClientMessage::Leave(_)) => {
                self.remove_member(now, key, LeaveReason::Left, Some((close::NORMAL, "left")));
            }
            (Conn::Member(key), ClientMessage::Chat(chat)) => self.chat(now, key, chat),
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
                    let member = &self.members[&key];
                    let (member_id, name) = (member.id.clone(), member.name.clone());
                    self.events.push_back(Event::NotificationsRead { member_id, name, ids });
                }
            }
            (Conn::Member(key), ClientMessage::Broadcast(broadcast)) => {
                self.broadcast_message(now, conn, key, broadcast)
            }
            (Conn::Member(key), ClientMessage::SyncplayCommand(command)) => {
                if let Err(err) = self.play(now, Actor::Member(key), command.command) {
                    let code = match err {
                        PlayError::NotAllowed(_) => ErrorCode::Unauthorized,
                        _ => ErrorCode::InvalidMessage,
                    };
                    self.reply_error(now, conn, code, err.to_string(), json!({"reason": "syncplay"}));
                }
            }
            (Conn::Member(key), ClientMessage::PlaybackProgress(progress)) => self.progress(now, key, progress),
            (Conn::Member(_), other @ (ClientMessage::Join(_) | ClientMessage::Resume(_))) => {
                let message = format!("{}: this connection has already joined", other.kind());
                self.reply_error(now, conn, ErrorCode::InvalidMessage, message, json!({"reason": "already_joined"}));
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

    /// The answer to a [`Transmit::Probe`] arrived.
    pub fn handle_probe_reply(&mut self, now: Time, conn: ConnId, sent_at: Time) {
        let Some(Conn::Member(key)) = self.conns.get(&conn) else { return };
        let Some(member) = self.members.get_mut(key) else { return };
        // Only the pong of the probe in flight is a round trip: an unsolicited pong, an old one
        // or a forged payload (0 read as "sent at the epoch": 822,754,496 ms) measures nothing.
        if member.probe != Some(sent_at) || sent_at > now {
            return;
        }
        member.probe = None;
        let sample = now - sent_at;
        // Smooth like TCP's SRTT (RFC 6298, alpha = 1/8 would be slow to show a change on a
        // screen; 1/4 settles in a few samples and still hides a single hiccup).
        member.rtt = Some(match member.rtt {
            None => sample,
            Some(previous) => (previous * 3 + sample) / 4,
        });
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
                    let deadline = member.last_heartbeat + self.config.heartbeat_timeout;
                    if deadline <= now {
                        self.conns.remove(&conn);
                        self.close_conn(conn, close::HEARTBEAT_TIMEOUT, "heartbeat timeout");
                        self.lose_connection(now, key, LeaveReason::Timeout);
                    } else {
                        self.timers.push(Reverse((deadline, Timer::Heartbeat(key))));
                    }
                }
                Timer::Ready => {
                    let lead = self.lead_time();
                    if self.syncplay.handle_timeout(now, lead) {
                        self.play_changed(now);
                    }
                }
                Timer::Resume(key) => {
                    let Some(member) = self.members.get(&key) else { continue };
                    if let Some(lost_at) = member.lost_at
                        && lost_at + self.config.resume_window <= now
                    {
                        self.remove_member(now, key, LeaveReason::Timeout, None);
                    }
                }
            }
        }
    }

    // ----- Host actions -----

    /// Removes a member: `kicked` to it, close 4010, `member_left` (kicked) to the others. Its
    /// resume secret dies with it.
    pub fn kick(&mut self, now: Time, member_id: &str, reason: &str) -> Result<MemberInfo, SessionError> {
        let key = *self.by_id.get(member_id).ok_or_else(|| SessionError::NoSuchMember(member_id.to_string()))?;
        let info = self.members[&key].info();
        let kicked = Frame::encode(&ServerMessage::Kicked { timestamp: now / MILLISECOND, reason: reason.to_string() });
        self.deliver(key, &kicked, true);
        self.remove_member(now, key, LeaveReason::Kicked, Some((close::KICKED, "kicked")));
        Ok(info)
    }

    /// Locks or unlocks: while locked, joins are refused and resumes still work.
    pub fn set_locked(&mut self, now: Time, locked: bool) -> Result<(), SessionError> {
        self.check_open()?;
        if self.locked != locked {
            self.locked = locked;
            self.session_updated(now);
        }
        Ok(())
    }

    /// Sets the capacity. Lowering it below the member count removes nobody; joins wait.
    pub fn set_capacity(&mut self, now: Time, max_members: u32) -> Result<(), SessionError> {
        self.check_open()?;
        if !(1..=MAX_CAPACITY).contains(&max_members) {
            return Err(SessionError::BadCapacity(max_members));
        }
        if self.config.max_members != max_members {
            self.config.max_members = max_members;
            self.session_updated(now);
        }
        Ok(())
    }

    /// Renames the session.
    pub fn rename(&mut self, now: Time, name: &str) -> Result<(), SessionError> {
        self.check_open()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(SessionError::BadName);
        }
        if self.name != name {
            self.name = name.to_string();
            self.session_updated(now);
        }
        Ok(())
    }

    /// Closes the session: `session_closed` to every member, then close 4011 for every
    /// connection. Later connections are closed at once.
    pub fn close(&mut self, now: Time, reason: Option<&str>) {
        if self.closed {
            return;
        }
        self.closed = true;
        let message = ServerMessage::SessionClosed { timestamp: now / MILLISECOND, reason: reason.map(str::to_string) };
        let frame = Frame::encode(&message);
        for key in self.order.clone() {
            self.deliver(key, &frame, true);
        }
        let mut conns: Vec<ConnId> = self.conns.drain().map(|(conn, _)| conn).collect();
        conns.sort();
        for conn in conns {
            self.close_conn(conn, close::SESSION_CLOSED, "session closed");
        }
        self.members.clear();
        self.replay_bytes = 0;
        self.by_id.clear();
        self.by_device.clear();
        self.order.clear();
        self.timers.clear();
        self.events.push_back(Event::Closed);
    }

    /// A SyncPlay command from the host.
    pub fn syncplay_command(&mut self, now: Time, command: PlayCommand) -> Result<(), SessionError> {
        self.check_open()?;
        Ok(self.play(now, Actor::Host, command)?)
    }

    /// Shares a library: `library.update` to every extension member.
    pub fn set_library(&mut self, now: Time, items: Vec<LibraryItem>) -> Result<(), SessionError> {
        self.check_open()?;
        self.syncplay.set_library(items);
        let message =
            ServerMessage::LibraryUpdate { timestamp: now / MILLISECOND, items: self.syncplay.library().to_vec() };
        self.broadcast(&Frame::encode(&message), false, None);
        Ok(())
    }

    /// Lets members control playback and/or the queue.
    pub fn set_permissions(&mut self, now: Time, permissions: Permissions) -> Result<(), SessionError> {
        self.check_open()?;
        self.syncplay.set_permissions(permissions);
        self.play_changed(now);
        Ok(())
    }

    /// Acts on one member's device (`remote.command`), e.g. `volume` with `0.5`.
    pub fn remote_command(
        &mut self,
        now: Time,
        member_id: &str,
        command: &str,
        value: Option<serde_json::Value>,
    ) -> Result<(), SessionError> {
        let key = *self.by_id.get(member_id).ok_or_else(|| SessionError::NoSuchMember(member_id.to_string()))?;
        // A 1.0 client gets exactly LOUDSYNC's messages; this is not one of them.
        if !self.members[&key].ext {
            return Err(SessionError::NoRemote(self.members[&key].name.clone()));
        }
        let message =
            ServerMessage::RemoteCommand { timestamp: now / MILLISECOND, command: command.to_string(), value };
        self.deliver(key, &Frame::encode(&message), true);
        Ok(())
    }

    /// A notification from the host: `notification` to every extension member (sequenced: one
    /// that is reconnecting gets it on resume). Returns its id, which `mark_read` names.
    pub fn notify(
        &mut self,
        now: Time,
        title: &str,
        body: &str,
        level: NotificationLevel,
    ) -> Result<String, SessionError> {
        self.check_open()?;
        let title = title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS || body.chars().count() > MAX_CHAT_CHARS {
            return Err(SessionError::BadNotification);
        }
        self.next_notification += 1;
        let id = format!("n-{}", self.next_notification);
        let message = ServerMessage::Notification {
            timestamp: now / MILLISECOND,
            id: id.clone(),
            title: title.to_string(),
            body: body.trim().to_string(),
            level,
        };
        self.broadcast(&Frame::encode(&message), false, None);
        Ok(id)
    }

    // ----- What goes out -----

    /// The next thing to write or close.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the host's user interface.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Session::handle_timeout`] next (it may find nothing due: a deadline
    /// that moved is re-checked then, rather than searched for now).
    pub fn poll_timeout(&self) -> Option<Time> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    // ----- Inside -----

    fn check_open(&self) -> Result<(), SessionError> {
        if self.closed { Err(SessionError::Closed) } else { Ok(()) }
    }

    fn join(&mut self, now: Time, conn: ConnId, join: Join, peer: Peer) {
        let ext = match join.protocol_version.as_deref() {
            None | Some(partyline_protocol::LOUDSYNC_V1) => false,
            Some(PARTYLINE_V1) => true,
            Some(other) => {
                let message = format!("protocol version \"{other}\" is not supported");
                return self.reply_error(
                    now,
                    conn,
                    ErrorCode::VersionMismatch,
                    message,
                    json!({"supported": SUPPORTED_VERSIONS}),
                );
            }
        };
        if join.session_id != self.id {
            let message = format!("Session {} not found", join.session_id);
            return self.reply_error(
                now,
                conn,
                ErrorCode::SessionNotFound,
                message,
                json!({"sessionId": join.session_id}),
            );
        }
        if let Some(&key) = self.by_device.get(&join.device_info.id) {
            // A device id is a name, not a credential (anyone can send another's): it takes over
            // its member only from the address that member is on. From elsewhere, a connected
            // member keeps its place (LOUDSYNC: "Device must not already be connected"), and a
            // reconnecting one (its resume secret is what proves it) is let go for a fresh join.
            let member = &self.members[&key];
            if member.addr == peer.addr {
                return self.rejoin(now, conn, key, join, ext, peer);
            }
            if member.conn.is_some() {
                let message = "This device is already connected to the session";
                let details = json!({"deviceId": join.device_info.id});
                return self.reply_error(now, conn, ErrorCode::AlreadyJoined, message, details);
            }
            self.remove_member(now, key, LeaveReason::Timeout, None);
        }
        if self.locked {
            let message = "The host has locked the session";
            return self.reply_error(now, conn, ErrorCode::Unauthorized, message, json!({"reason": "locked"}));
        }
        let from_addr = self.members.values().filter(|member| member.addr == peer.addr).count();
        if from_addr >= self.config.max_members_per_addr {
            let per_addr = self.config.max_members_per_addr;
            let message = format!("Too many members from this address (at most {per_addr})");
            return self.reply_error(
                now,
                conn,
                ErrorCode::SessionFull,
                message,
                json!({"reason": "address_limit", "maxMembersPerAddress": per_addr}),
            );
        }
        let max = self.config.max_members;
        if self.members.len() as u32 >= max {
            // A reconnecting member holds a place, it does not fill it: when a new guest needs
            // it, the one away longest gives it up (it may still join afresh). Without this,
            // joins that drop at once held every place for the whole resume window.
            let longest_away =
                self.members.iter().filter_map(|(key, member)| member.lost_at.map(|lost_at| (lost_at, *key))).min();
            if let Some((_, key)) = longest_away {
                self.remove_member(now, key, LeaveReason::Timeout, None);
            }
        }
        if self.members.len() as u32 >= max {
            let current = self.members.len();
            let message = format!("Session has reached maximum capacity ({max} members)");
            return self.reply_error(
                now,
                conn,
                ErrorCode::SessionFull,
                message,
                json!({"maxMembers": max, "currentMembers": current}),
            );
        }

        let key = self.next_key;
        self.next_key += 1;
        let id = loop {
            let id = ids::member_id(&mut self.rng);
            if !self.by_id.contains_key(&id) {
                break id;
            }
        };
        let member = Member {
            id: id.clone(),
            name: join.device_info.name.trim().to_string(),
            device_id: join.device_info.id.clone(),
            joined_at_ms: now / MILLISECOND,
            conn: Some(conn),
            addr: peer.addr,
            device: peer.device,
            ext,
            secret: ext.then(|| ids::secret(&mut self.rng)),
            last_heartbeat: now,
            lost_at: None,
            rtt: None,
            probe: None,
            announced_latency: None,
            stream: self.new_stream(ext),
            progress: None,
            topics: BTreeSet::new(),
            presence: PresenceStatus::Online,
            presence_text: None,
        };
        self.members.insert(key, member);
        self.by_id.insert(id, key);
        self.by_device.insert(join.device_info.id, key);
        self.order.push(key);
        self.conns.insert(conn, Conn::Member(key));
        self.timers.push(Reverse((now + self.config.heartbeat_timeout, Timer::Heartbeat(key))));

        self.welcome(now, key);
        let info = self.members[&key].info();
        let joined = |member| Frame::encode(&ServerMessage::MemberJoined { timestamp: now / MILLISECOND, member });
        let legacy = info.has_extensions().then(|| joined(info.loudsync()));
        let ext_frame = joined(info.clone());
        self.broadcast_versions(&ext_frame, legacy.as_ref(), Some(key));
        self.events.push_back(Event::MemberJoined(info));
        self.events.push_back(Event::SessionUpdated(self.state()));
        self.send_probe(now, key, conn);
    }

    /// A device that is already a member joined again: it takes over with its new connection
    /// and keeps its member id, so the others see no one leave.
    fn rejoin(&mut self, now: Time, conn: ConnId, key: u64, join: Join, ext: bool, peer: Peer) {
        let stream = self.new_stream(ext);
        let member = self.members.get_mut(&key).expect("by_device points at a member");
        let device = peer.device;
        let old_conn = member.conn.replace(conn);
        let was_reconnecting = member.lost_at.take().is_some();
        let name = join.device_info.name.trim().to_string();
        let changed = member.name != name || member.device != device;
        member.name = name;
        member.device = device;
        member.ext = ext;
        member.secret = ext.then(|| ids::secret(&mut self.rng));
        member.last_heartbeat = now;
        member.probe = None;
        self.replay_bytes -= std::mem::replace(&mut member.stream, stream).bytes();
        member.topics.clear();
        let had_presence = member.has_presence();
        member.presence = PresenceStatus::Online;
        member.presence_text = None;
        let device_id = member.device_id.clone();
        if let Some(old) = old_conn {
            self.conns.remove(&old);
            let message = "This device joined again on another connection";
            self.reply_error(now, old, ErrorCode::AlreadyJoined, message, json!({"deviceId": device_id}));
            self.close_conn(old, close::REPLACED, "replaced by a new connection");
        }
        self.conns.insert(conn, Conn::Member(key));
        self.timers.push(Reverse((now + self.config.heartbeat_timeout, Timer::Heartbeat(key))));
        self.welcome(now, key);
        if was_reconnecting || changed {
            self.member_changed(now, key);
        }
        if had_presence {
            self.set_presence(now, key, PresenceStatus::Online, None);
        }
        self.send_probe(now, key, conn);
    }

    /// `welcome`, `hello` (extension) and `member_list` to a member that just joined.
    fn welcome(&mut self, now: Time, key: u64) {
        let member = &self.members[&key];
        let (conn, ext) = (member.conn.expect("a joining member is connected"), member.ext);
        let welcome = ServerMessage::Welcome {
            timestamp: now / MILLISECOND,
            client_id: member.id.clone(),
            session_info: SessionInfo { id: self.id.clone(), name: self.name.clone(), host_id: self.host.id.clone() },
            resume_secret: member.secret.clone(),
        };
        self.deliver(key, &Frame::encode(&welcome), true);
        if ext {
            let hello = ServerMessage::Hello {
                timestamp: now / MILLISECOND,
                protocol_version: PARTYLINE_V1,
                heartbeat_interval: self.config.heartbeat_interval / MILLISECOND,
                heartbeat_timeout: self.config.heartbeat_timeout / MILLISECOND,
                resume_window: self.config.resume_window / MILLISECOND,
                server_time: now,
            };
            self.reply(conn, hello);
        }
        let members = if ext { self.members() } else { self.loudsync_members() };
        let list = ServerMessage::MemberList { timestamp: now / MILLISECOND, members };
        self.deliver(key, &Frame::encode(&list), true);
        if ext {
            // A late joiner learns the library and where playback is, and catches up on its own.
            let library =
                ServerMessage::LibraryUpdate { timestamp: now / MILLISECOND, items: self.syncplay.library().to_vec() };
            self.deliver(key, &Frame::encode(&library), true);
            let state = ServerMessage::SyncplayState { timestamp: now / MILLISECOND, state: self.syncplay.state() };
            self.deliver(key, &Frame::encode(&state), true);
            // And who is away or busy (everyone else is online).
            for i in 0..self.order.len() {
                let other = &self.members[&self.order[i]];
                if other.has_presence() {
                    let update = ServerMessage::PresenceUpdate {
                        timestamp: now / MILLISECOND,
                        member_id: other.id.clone(),
                        status: other.presence,
                        text: other.presence_text.clone(),
                    };
                    self.deliver(key, &Frame::encode(&update), true);
                }
            }
        }
        if let Some(member) = self.members.get_mut(&key) {
            self.replay_bytes -= member.stream.bytes();
            member.stream.forget_buffered();
        }
    }

    fn resume(&mut self, now: Time, conn: ConnId, resume: Resume, addr: IpAddr) {
        let fail = |session: &mut Session, reason: &str| {
            let message = format!("cannot resume: {reason}; join again");
            session.reply_error(now, conn, ErrorCode::ResumeFailed, message, json!({"reason": reason}));
        };
        if resume.session_id != self.id {
            return fail(self, "unknown session");
        }
        let Some(&key) = self.by_id.get(&resume.member_id) else { return fail(self, "unknown member") };
        let member = self.members.get_mut(&key).expect("by_id points at a member");
        let authentic =
            member.secret.as_deref().is_some_and(|secret| ids::secrets_equal(secret, &resume.resume_secret));
        if !authentic {
            return fail(self, "wrong secret");
        }
        let old_conn = member.conn.replace(conn);
        let was_reconnecting = member.lost_at.take().is_some();
        member.last_heartbeat = now;
        member.addr = addr;
        member.probe = None;
        let replay = member.stream.replay_after(resume.last_seq);
        if let Some(old) = old_conn {
            self.conns.remove(&old);
            self.close_conn(old, close::REPLACED, "resumed on a new connection");
        }
        self.conns.insert(conn, Conn::Member(key));
        self.timers.push(Reverse((now + self.config.heartbeat_timeout, Timer::Heartbeat(key))));
        let client_id = resume.member_id;
        match replay {
            Replay::Messages(messages) => {
                let replayed = messages.len() as u64;
                let resumed = ServerMessage::Resumed {
                    timestamp: now / MILLISECOND,
                    client_id,
                    last_seq: resume.last_seq,
                    replayed,
                    snapshot: false,
                };
                self.reply(conn, resumed);
                if !messages.is_empty() {
                    self.transmits.push_back(Transmit::Replay { conn, frames: messages });
                }
            }
            Replay::Snapshot => {
                let resumed = ServerMessage::Resumed {
                    timestamp: now / MILLISECOND,
                    client_id,
                    last_seq: resume.last_seq,
                    replayed: 0,
                    snapshot: true,
                };
                self.reply(conn, resumed);
                self.welcome(now, key);
            }
        }
        if was_reconnecting {
            self.member_changed(now, key);
        }
        self.send_probe(now, key, conn);
    }

    fn chat(&mut self, now: Time, key: u64, chat: Chat) {
        let member = &self.members[&key];
        self.next_chat += 1;
        let (from, name) = (member.id.clone(), member.name.clone());
        let message = ServerMessage::Chat {
            timestamp: now / MILLISECOND,
            id: format!("c-{}", self.next_chat),
            from: from.clone(),
            name: name.clone(),
            text: chat.text.clone(),
        };
        self.broadcast(&Frame::encode(&message), false, None);
        self.events.push_back(Event::Chat { from, name, text: chat.text });
    }

    /// `direct`: to the member `to` (sequenced: a reconnecting recipient gets it on resume), then
    /// `direct_ack` to the sender.
    fn direct(&mut self, now: Time, conn: ConnId, key: u64, direct: Direct) {
        if !self.require_ext(now, conn, key, "direct") {
            return;
        }
        let Some(to) = self.recipient(now, conn, "direct", &direct.to, Some(&direct.id), false) else { return };
        let message = ServerMessage::Direct {
            timestamp: now / MILLISECOND,
            from: self.members[&key].id.clone(),
            id: direct.id.clone(),
            payload: direct.payload,
        };
        self.deliver(to, &Frame::encode(&message), true);
        let ack = ServerMessage::DirectAck { timestamp: now / MILLISECOND, id: direct.id };
        self.deliver(key, &Frame::encode(&ack), true);
    }

    /// `subscribe` (`add`) or `unsubscribe`: the member's topics change, and `subscriptions`
    /// with the full list goes back. Over [`MAX_TOPICS`] in all: an error, and nothing changes.
    fn subscribe(&mut self, now: Time, conn: ConnId, key: u64, request: Topics, add: bool) {
        let kind = if add { "subscribe" } else { "unsubscribe" };
        if !self.require_ext(now, conn, key, kind) {
            return;
        }
        let member = self.members.get_mut(&key).expect("a connection's member");
        if add {
            let new = request.topics.iter().filter(|topic| !member.topics.contains(*topic)).collect::<BTreeSet<_>>();
            if member.topics.len() + new.len() > MAX_TOPICS {
                let message =
                    format!("subscribe: at most {MAX_TOPICS} topics; already subscribed to {}", member.topics.len());
                let details = json!({"reason": "too_many_topics", "maxTopics": MAX_TOPICS});
                return self.reply_error(now, conn, ErrorCode::InvalidMessage, message, details);
            }
            member.topics.extend(request.topics);
        } else {
            for topic in &request.topics {
                member.topics.remove(topic);
            }
        }
        let topics = member.topics.iter().cloned().collect();
        let reply = ServerMessage::Subscriptions { timestamp: now / MILLISECOND, topics };
        self.deliver(key, &Frame::encode(&reply), true);
    }

    /// `broadcast`: to every other extension member subscribed to its topic (every other one
    /// when it has none), reconnecting ones included (it is sequenced); then, if asked,
    /// `broadcast_ack` with the count to the sender.
    fn broadcast_message(&mut self, now: Time, conn: ConnId, key: u64, broadcast: Broadcast) {
        if !self.require_ext(now, conn, key, "broadcast") {
            return;
        }
        let message = ServerMessage::Broadcast {
            timestamp: now / MILLISECOND,
            from: self.members[&key].id.clone(),
            id: broadcast.id.clone(),
            topic: broadcast.topic.clone(),
            payload: broadcast.payload,
        };
        let frame = Frame::encode(&message);
        let mut recipients = 0;
        for i in 0..self.order.len() {
            let other = self.order[i];
            let member = &self.members[&other];
            let wants = member.ext && broadcast.topic.as_ref().is_none_or(|topic| member.topics.contains(topic));
            if other != key && wants {
                self.deliver(other, &frame, true);
                recipients += 1;
            }
        }
        if broadcast.ack {
            let ack = ServerMessage::BroadcastAck { timestamp: now / MILLISECOND, id: broadcast.id, recipients };
            self.deliver(key, &Frame::encode(&ack), true);
        }
    }

    /// `voice.signal`: relayed to `to` if it is a connected extension member, unsequenced (see
    /// [`ServerMessage::is_sequenced`]: stale signaling is worse than none, so a member that is
    /// reconnecting gets an error back instead of a buffered signal).
    fn voice_signal(&mut self, now: Time, conn: ConnId, key: u64, voice: VoiceSignal) {
        if !self.require_ext(now, conn, key, "voice.signal") {
            return;
        }
        let Some(to) = self.recipient(now, conn, "voice.signal", &voice.to, None, true) else { return };
        let message = ServerMessage::VoiceSignal {
            timestamp: now / MILLISECOND,
            from: self.members[&key].id.clone(),
            signal: voice.signal,
        };
        self.deliver(to, &Frame::encode(&message), message.is_sequenced());
    }

    /// Sets a member's presence: `presence_update` to every other extension member, and the
    /// host hears of it.
    fn set_presence(&mut self, now: Time, key: u64, status: PresenceStatus, text: Option<String>) {
        let member = self.members.get_mut(&key).expect("a member");
        member.presence = status;
        member.presence_text = text.clone();
        let (member_id, name) = (member.id.clone(), member.name.clone());
        let message = ServerMessage::PresenceUpdate {
            timestamp: now / MILLISECOND,
            member_id: member_id.clone(),
            status,
            text: text.clone(),
        };
        self.broadcast(&Frame::encode(&message), false, Some(key));
        self.events.push_back(Event::Presence { member_id, name, status, text });
    }

    /// Whether the member joined with `partyline/1`. A 1.0 member that sends an extension
    /// message gets `invalid_message` instead: the answer would be a type it does not know.
    fn require_ext(&mut self, now: Time, conn: ConnId, key: u64, kind: &str) -> bool {
        if self.members[&key].ext {
            return true;
        }
        let message = format!("{kind}: an extension message; join with protocolVersion \"{PARTYLINE_V1}\" to use it");
        self.reply_error(now, conn, ErrorCode::InvalidMessage, message, json!({"reason": "extension_only"}));
        false
    }

    /// The member a `kind` message is addressed to: an extension member (and a connected one
    /// when `connected`). Otherwise `recipient_unavailable` goes back on `conn`, with the
    /// sender's message `id` when it has one, and `None` comes out.
    fn recipient(
        &mut self,
        now: Time,
        conn: ConnId,
        kind: &str,
        to: &str,
        id: Option<&str>,
        connected: bool,
    ) -> Option<u64> {
        let (reason, why) = match self.by_id.get(to) {
            None => ("unknown_member", "is not in the session"),
            Some(key) if !self.members[key].ext => ("loudsync_client", "uses a LOUDSYNC 1.0 client"),
            Some(key) if connected && self.members[key].conn.is_none() => ("reconnecting", "is reconnecting"),
            Some(key) => return Some(*key),
        };
        let message = format!("{kind}: member {to} {why}");
        let mut details = json!({"to": to, "reason": reason});
        if let Some(id) = id {
            details["id"] = id.into();
        }
        self.reply_error(now, conn, ErrorCode::RecipientUnavailable, message, details);
        None
    }

    /// Measures every connected member's round trip, and announces the latencies that moved.
    fn probe(&mut self, now: Time) {
        let mut changed = BTreeMap::new();
        let mut updated = Vec::new();
        for key in &self.order {
            let member = self.members.get_mut(key).expect("order lists members");
            if let Some(conn) = member.conn {
                member.probe = Some(now);
                self.transmits.push_back(Transmit::Probe { conn, sent_at: now });
            }
            let Some(latency) = member.latency_ms() else { continue };
            // 2 ms: below that a change is noise on a Wi-Fi link, not news.
            let moved = member.announced_latency.is_none_or(|old| old.abs_diff(latency) >= 2);
            if moved {
                member.announced_latency = Some(latency);
                changed.insert(member.id.clone(), latency);
                updated.push(member.info());
            }
        }
        if !changed.is_empty() {
            let message = ServerMessage::LatencyUpdate { timestamp: now / MILLISECOND, latencies: changed };
            self.broadcast(&Frame::encode(&message), false, None);
            self.events.extend(updated.into_iter().map(Event::MemberUpdated));
        }
        self.timers.push(Reverse((now + self.config.probe_interval, Timer::Probe)));
    }

    /// The member's connection is gone (dropped, timed out, too slow). Extension members wait
    /// for a resume; 1.0 members leave.
    fn lose_connection(&mut self, now: Time, key: u64, reason: LeaveReason) {
        let Some(member) = self.members.get_mut(&key) else { return };
        member.conn = None;
        if member.ext {
            member.lost_at = Some(now);
            self.timers.push(Reverse((now + self.config.resume_window, Timer::Resume(key))));
            self.member_changed(now, key);
            self.barrier_check(now);
        } else {
            self.remove_member(now, key, reason, None);
        }
    }

    /// Tells everyone that a member's status or name changed: `member_updated` to extension
    /// members, a fresh `member_list` to 1.0 members (the only way 1.0 has to say it).
    fn member_changed(&mut self, now: Time, key: u64) {
        let info = self.members[&key].info();
        let updated =
            Frame::encode(&ServerMessage::MemberUpdated { timestamp: now / MILLISECOND, member: info.clone() });
        let members = self.loudsync_members();
        let list = Frame::encode(&ServerMessage::MemberList { timestamp: now / MILLISECOND, members });
        for other in self.order.clone() {
            if other == key {
                continue;
            }
            let frame = if self.members[&other].ext { &updated } else { &list };
            self.deliver(other, frame, true);
        }
        self.events.push_back(Event::MemberUpdated(info));
    }

    fn remove_member(&mut self, now: Time, key: u64, reason: LeaveReason, close: Option<(u16, &'static str)>) {
        let Some(member) = self.members.remove(&key) else { return };
        self.replay_bytes -= member.stream.bytes();
        self.by_id.remove(&member.id);
        self.by_device.remove(&member.device_id);
        self.order.retain(|other| *other != key);
        if let Some(conn) = member.conn {
            self.conns.remove(&conn);
            if let Some((code, text)) = close {
                self.close_conn(conn, code, text);
            }
        }
        let left = ServerMessage::MemberLeft { timestamp: now / MILLISECOND, member_id: member.id.clone(), reason };
        self.broadcast(&Frame::encode(&left), true, None);
        self.events.push_back(Event::MemberLeft { member: member.info(), reason });
        if !self.closed {
            // The host's UI shows the count (and mDNS carries it); clients learn of it from
            // member_left, so this is an event only, not a `session_updated` broadcast.
            self.events.push_back(Event::SessionUpdated(self.state()));
            self.barrier_check(now);
        }
    }

    fn play(&mut self, now: Time, actor: Actor, command: PlayCommand) -> Result<(), PlayError> {
        let lead = self.lead_time();
        match self.syncplay.command(now, lead, actor, command)? {
            Change::Nothing => {}
            Change::Queue(change) => self.queue_changed(now, change),
            Change::State => {
                if let Some(deadline) = self.syncplay.ready_deadline() {
                    self.timers.push(Reverse((deadline, Timer::Ready)));
                }
                // A start with nobody to wait for begins at once.
                let waiting_for = self.syncplay_members();
                self.syncplay.members_changed(now, lead, &waiting_for);
                self.play_changed(now);
            }
        }
        Ok(())
    }

    fn progress(&mut self, now: Time, key: u64, progress: PlaybackProgress) {
        let Some(member) = self.members.get_mut(&key) else { return };
        let report = MemberSync {
            member_id: member.id.clone(),
            state: progress.state,
            error_ms: progress.error,
            position: progress.position,
            at: now,
        };
        let ready_for = (progress.state == DeviceState::Ready).then(|| progress.entry_id.clone()).flatten();
        let ended = (progress.state == DeviceState::Ended).then(|| progress.entry_id.clone()).flatten();
        member.progress = Some((progress, now));
        self.events.push_back(Event::PlaybackProgress(report));
        if let Some(entry_id) = ready_for {
            let (lead, members) = (self.lead_time(), self.syncplay_members());
            if self.syncplay.ready(now, lead, key, &entry_id, &members) {
                self.play_changed(now);
            }
        }
        // Every device plays in step, so the first to reach the end speaks for all; a report
        // about an entry that is no longer current (a second device, a late one) changes nothing.
        if let Some(entry_id) = ended {
            let state = self.syncplay.state();
            if state.state == partyline_protocol::GroupState::Playing && state.entry_id.as_deref() == Some(&entry_id) {
                let _ = self.play(now, Actor::Host, PlayCommand::Next);
            }
        }
    }

    /// The members a start waits for: connected extension members.
    fn syncplay_members(&self) -> Vec<u64> {
        self.order.iter().copied().filter(|key| self.members[key].ext && self.members[key].conn.is_some()).collect()
    }

    fn barrier_check(&mut self, now: Time) {
        let (lead, members) = (self.lead_time(), self.syncplay_members());
        if self.syncplay.members_changed(now, lead, &members) {
            self.play_changed(now);
        }
    }

    /// How far ahead to schedule, from the slowest connected extension member's round trip.
    fn lead_time(&self) -> Time {
        let max_rtt = self
            .order
            .iter()
            .filter_map(|key| {
                let member = &self.members[key];
                (member.ext && member.conn.is_some()).then_some(member.rtt).flatten()
            })
            .max();
        SyncPlay::lead_time(max_rtt)
    }

    /// A queue step: `syncplay.queue` to every extension member (a few dozen bytes, where the
    /// whole state grows with the queue), the whole state to the host's UI.
    fn queue_changed(&mut self, now: Time, change: QueueChange) {
        let state = self.syncplay.state();
        let (added, index, removed) = match change {
            QueueChange::Added { entry, index } => (Some(entry), Some(index), None),
            QueueChange::Removed { entry_id } => (None, None, Some(entry_id)),
        };
        let message = ServerMessage::SyncplayQueue {
            timestamp: now / MILLISECOND,
            revision: state.revision,
            added,
            index,
            removed,
        };
        self.broadcast(&Frame::encode(&message), false, None);
        self.events.push_back(Event::SyncPlay(state));
    }

    fn play_changed(&mut self, now: Time) {
        let state = self.syncplay.state();
        let message = ServerMessage::SyncplayState { timestamp: now / MILLISECOND, state: state.clone() };
        self.broadcast(&Frame::encode(&message), false, None);
        self.events.push_back(Event::SyncPlay(state));
    }

    /// Closes a connection for a fault of its own; a member on it loses its connection.
    fn drop_conn(&mut self, now: Time, conn: ConnId, code: u16, text: &'static str, reason: LeaveReason) {
        let Some(state) = self.conns.remove(&conn) else { return };
        self.close_conn(conn, code, text);
        if let Conn::Member(key) = state {
            self.lose_connection(now, key, reason);
        }
    }

    fn session_updated(&mut self, now: Time) {
        let state = self.state();
        let message = ServerMessage::SessionUpdated { timestamp: now / MILLISECOND, session: state.clone() };
        self.broadcast(&Frame::encode(&message), false, None);
        self.events.push_back(Event::SessionUpdated(state));
    }

    /// Every member as LOUDSYNC 1.0 describes them (no extension fields).
    fn loudsync_members(&self) -> Vec<MemberInfo> {
        let mut list = self.members();
        list.iter_mut().for_each(MemberInfo::drop_extensions);
        list
    }

    /// Sends `ext` to extension members and `legacy` (or `ext` when it is `None`, i.e. it
    /// carries no extension fields) to 1.0 members; to everyone but `except`.
    fn broadcast_versions(&mut self, ext: &Frame, legacy: Option<&Frame>, except: Option<u64>) {
        for i in 0..self.order.len() {
            let key = self.order[i];
            if Some(key) == except {
                continue;
            }
            let frame = if self.members[&key].ext { ext } else { legacy.unwrap_or(ext) };
            self.deliver(key, frame, true);
        }
    }

    /// Sends one frame to every member (but `except`): to 1.0 members only if `loudsync`.
    fn broadcast(&mut self, frame: &Frame, loudsync: bool, except: Option<u64>) {
        for i in 0..self.order.len() {
            let key = self.order[i];
            if Some(key) == except || (!loudsync && !self.members[&key].ext) {
                continue;
            }
            self.deliver(key, frame, true);
        }
    }

    /// Puts a frame into a member's stream: numbered and kept for an extension member, written
    /// if the member is connected.
    fn deliver(&mut self, key: u64, frame: &Frame, sequenced: bool) {
        let member = self.members.get_mut(&key).expect("deliver to a member");
        let seq = (member.ext && sequenced).then(|| {
            let before = member.stream.bytes();
            let seq = member.stream.push(frame);
            self.replay_bytes = self.replay_bytes + member.stream.bytes() - before;
            seq
        });
        if let Some(conn) = member.conn {
            self.transmits.push_back(Transmit::Send { conn, frame: frame.clone(), seq });
        }
        if self.replay_bytes > self.config.replay_total_bytes {
            self.trim_replay();
        }
    }

    /// All replay buffers together hold more than their bound: drops the largest buffer of a
    /// member that is reconnecting (it resumes with a snapshot), or the largest one of all.
    fn trim_replay(&mut self) {
        let largest = self
            .members
            .iter()
            .max_by_key(|(_, member)| (member.conn.is_none(), member.stream.bytes()))
            .map(|(key, _)| *key);
        if let Some(member) = largest.and_then(|key| self.members.get_mut(&key)) {
            self.replay_bytes -= member.stream.bytes();
            member.stream.forget_buffered();
        }
    }

    /// A member's sequenced stream: extension members keep recent messages for resume.
    fn new_stream(&self, ext: bool) -> Stream {
        let capacity = if ext { self.config.replay_capacity } else { 0 };
        Stream::new(capacity, self.config.replay_bytes)
    }

    /// Measures a member's round trip on its new connection at once (the list shows a latency
    /// within a round trip of joining), remembering the probe so only its pong counts.
    fn send_probe(&mut self, now: Time, key: u64, conn: ConnId) {
        if let Some(member) = self.members.get_mut(&key) {
            member.probe = Some(now);
            self.transmits.push_back(Transmit::Probe { conn, sent_at: now });
        }
    }

    /// An unsequenced reply to one connection.
    fn reply(&mut self, conn: ConnId, message: ServerMessage) {
        self.transmits.push_back(Transmit::Send { conn, frame: Frame::encode(&message), seq: None });
    }

    fn reply_error(
        &mut self,
        now: Time,
        conn: ConnId,
        code: ErrorCode,
        message: impl Into<String>,
        details: serde_json::Value,
    ) {
        self.reply(conn, ServerMessage::error(now / MILLISECOND, code, message, Some(details)));
    }

    fn close_conn(&mut self, conn: ConnId, code: u16, reason: &'static str) {
        self.transmits.push_back(Transmit::Close { conn, code, reason });
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
