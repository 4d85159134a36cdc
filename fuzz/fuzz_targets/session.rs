//! `session`: the sans-IO `Session` fed a script of everything the I/O layer and the host can
//! do to it, decoded from the input bytes, never panics and keeps its promises after every step.
//!
//! A script's steps: connections opening; messages built from a table of valid templates with
//! fuzzed fields (through `decode`, as the server sends them), and raw fuzzed text; binary and
//! oversize frames; probe replies (the host's own payload, or any number); rate-limit and
//! overflow reports; disconnects, clean or not; time advancing by a little, a heartbeat interval,
//! past the heartbeat timeout or past the resume window, each due timer run at its instant; and
//! host actions (kick, lock, capacity, rename, notify, SyncPlay commands, permissions, library,
//! remote commands, close).
//!
//! Checked after every step, on everything the session hands out:
//! - every `Transmit::Send` frame, with its `seq` spliced in, is a JSON object with a `type`;
//! - a LOUDSYNC 1.0 member never receives a type outside LOUDSYNC's (`ServerMessage::is_loudsync`:
//!   welcome, member_list, member_joined, member_left, kicked, session_closed, pong, error);
//! - the member count never grows past the capacity (lowering the capacity removes nobody, so
//!   the count may stay above a lowered capacity, but a join never adds to it);
//! - after `handle_timeout(now)`, `poll_timeout` is never `now` or earlier (every due deadline was
//!   handled), and running the due timers of one advance ends (no livelock).
//!
//! Not asserted, because it does not hold today (a known bug being fixed elsewhere): heartbeat
//! timers are not retired when a member leaves or reconnects, so the timer heap of a script that
//! reconnects again and again grows with every reconnection; see docs/fuzzing.md.
#![no_main]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use partyline_protocol::{
    ClientMessage, DecodeError, LibraryItem, NotificationLevel, PARTYLINE_V1, Permissions, client::decode_with_cid,
    decode,
};
use partyline_session::{Config, ConnId, Peer, SECOND, Session, Time, Transmit};
use serde_json::{Value, json};

/// The most steps one script runs: long enough to join, drop, resume and time out a few members,
/// short enough that every input runs in well under a millisecond.
const MAX_STEPS: usize = 200;

/// The types a LOUDSYNC 1.0 member may receive (the server's eight of LOUDSYNC's twelve).
const LOUDSYNC_TYPES: [&str; 8] =
    ["welcome", "member_list", "member_joined", "member_left", "kicked", "session_closed", "pong", "error"];

/// The session the script talks to, at this start time.
const T0: Time = 1_700_000_000 * SECOND;

/// Device ids the joins choose from: few, so that two joins share one and a device rejoins.
const DEVICES: [&str; 4] = ["dev-a", "dev-b", "dev-c", "dev-d"];

/// Names and chat lines a template picks from (or it takes raw fuzzed text): valid ones, so that
/// joins succeed often enough to reach what comes after them, and the kinds a check refuses.
const WORDS: [&str; 7] = [
    "Sara",
    "Tess's iPhone",
    "Zoë 🎉 東京",
    "Bob\r\u{1b}[2K- Alice left (Kicked)\u{1b}]0;pwned\u{7}",
    "   ",
    "a name that is far too long for any member list on any phone screen!",
    "\u{202e}desrever",
];

/// Text for a name or a chat line.
#[derive(Arbitrary, Debug)]
enum Words {
    Table(u8),
    Raw(String),
}

impl Words {
    fn text(&self) -> &str {
        match self {
            Words::Table(i) => WORDS[usize::from(*i) % WORDS.len()],
            Words::Raw(text) => text,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Step {
    Connect { labelled: bool },
    Send { conn: u8, message: Template },
    Raw { conn: u8, text: String },
    Binary { conn: u8 },
    TooLarge { conn: u8 },
    ProbeReply { conn: u8, reply: ProbeReply },
    RateLimited { conn: u8, retry_after_ms: u16, abusive: bool },
    Overflow { conn: u8 },
    Disconnect { conn: u8, clean: bool },
    Advance(Advance),
    Host(HostAction),
}

#[derive(Arbitrary, Debug)]
enum ProbeReply {
    /// The payload of the last probe the host sent on this connection.
    Echo,
    /// Any payload (an unsolicited pong).
    Any(u64),
}

#[derive(Arbitrary, Debug)]
enum Advance {
    /// Up to a second, in milliseconds.
    Millis(u16),
    /// One heartbeat interval.
    HeartbeatInterval,
    /// Past the heartbeat (and join) timeout.
    PastHeartbeatTimeout,
    /// Past the resume window.
    PastResumeWindow,
    /// To the session's next deadline.
    NextDeadline,
}

#[derive(Arbitrary, Debug)]
enum Template {
    Join { device: u8, name: Words, ext: bool, right_session: bool },
    Resume { member: u8, right_secret: bool, last_seq: u16 },
    Leave { reason: Option<String> },
    Heartbeat,
    Ping { timestamp: f64 },
    Chat { text: Words },
    Direct { to: u8, id: String, text: String },
    Subscribe { topics: Vec<String> },
    Unsubscribe { topics: Vec<String> },
    Broadcast { id: String, topic: Option<String>, ack: bool, text: String },
    Presence { status: u8, text: Option<String> },
    VoiceSignal { to: u8, sdp: String },
    MarkRead { ids: Vec<String> },
    Play(PlayTemplate),
    Progress { entry: u8, position: f64, state: u8, error: Option<f64> },
}

#[derive(Arbitrary, Debug)]
enum PlayTemplate {
    Play { item: Option<u8>, position: Option<f64> },
    Pause,
    Seek { position: f64 },
    Next,
    Previous,
    SetRate { rate: f64 },
    QueueAdd { item: u8 },
    QueueRemove { entry: u8 },
    StartAnyway,
}

#[derive(Arbitrary, Debug)]
enum HostAction {
    Kick { member: u8, reason: String },
    Lock(bool),
    Capacity(u16),
    Rename(String),
    Notify { title: String, body: String, level: u8 },
    Play(PlayTemplate),
    Permissions { playback: bool, queue: bool },
    Library { items: u8 },
    Remote { member: u8, volume: f64 },
    Close,
}

fuzz_target!(|script: Vec<Step>| {
    let mut run = Run::new();
    for step in script.into_iter().take(MAX_STEPS) {
        run.step(step);
        run.drain();
    }
});

/// The calls into the session's API, in one place: the API is about to change (for one,
/// `handle_connect` gains the peer's address), and only these lines should have to follow it.
mod api {
    use super::*;

    /// A session and the settings it was made with (the session does not hand them back).
    pub fn new_session() -> (Session, Config) {
        let config = Config { session_id: Some("party1".into()), max_members: 3, ..Config::default() };
        (Session::new(config.clone(), T0, 7), config)
    }

    pub fn connect(session: &mut Session, now: Time, conn: ConnId, device: Option<String>) {
        let peer = Peer { addr: IpAddr::V4(Ipv4Addr::LOCALHOST), device, may_join: true, arrival: None };
        session.handle_connect(now, conn, peer);
    }

    /// A text frame, as the server hands it over: decoded, or refused.
    pub fn text(session: &mut Session, now: Time, conn: ConnId, text: &str) {
        match decode_with_cid(text) {
            Ok((message, cid)) => session.handle_sent(now, conn, message, cid),
            Err(err) => session.handle_invalid(now, conn, &err),
        }
    }

    pub fn invalid(session: &mut Session, now: Time, conn: ConnId, err: &DecodeError) {
        session.handle_invalid(now, conn, err);
    }

    pub fn probe_reply(session: &mut Session, now: Time, conn: ConnId, sent_at: Time) {
        session.handle_probe_reply(now, conn, sent_at);
    }

    pub fn rate_limited(session: &mut Session, now: Time, conn: ConnId, retry_after_ms: u64, abusive: bool) {
        session.handle_rate_limited(now, conn, retry_after_ms, abusive);
    }

    pub fn overflow(session: &mut Session, now: Time, conn: ConnId) {
        session.handle_overflow(now, conn);
    }

    pub fn disconnect(session: &mut Session, now: Time, conn: ConnId, clean: bool) {
        session.handle_disconnect(now, conn, clean);
    }

    pub fn timeout(session: &mut Session, now: Time) {
        session.handle_timeout(now);
    }

    pub fn next_deadline(session: &Session) -> Option<Time> {
        session.poll_timeout()
    }

    pub fn member_count(session: &Session) -> usize {
        session.member_count()
    }

    /// Host actions; their errors (a bad name, no such member) are answers, not failures.
    pub fn host(session: &mut Session, now: Time, action: HostAction, members: &[String], library: &[String]) {
        let member = |i: u8| members.get(usize::from(i) % members.len().max(1)).cloned().unwrap_or_default();
        let _ = match action {
            HostAction::Kick { member: i, reason } => session.kick(now, &member(i), &reason).map(drop),
            HostAction::Lock(locked) => session.set_locked(now, locked).map(drop),
            HostAction::Capacity(max) => session.set_capacity(now, u32::from(max)).map(drop),
            HostAction::Rename(name) => session.rename(now, &name).map(drop),
            HostAction::Notify { title, body, level } => {
                let level = [NotificationLevel::Info, NotificationLevel::Warning, NotificationLevel::Alert]
                    [usize::from(level % 3)];
                session.notify(now, &title, &body, level).map(drop)
            }
            HostAction::Play(play) => match serde_json::from_value(play.to_json(library)) {
                Ok(command) => session.syncplay_command(now, command),
                Err(_) => Ok(()),
            },
            HostAction::Permissions { playback, queue } => {
                session.set_permissions(now, Permissions { playback, queue })
            }
            HostAction::Library { items } => session.set_library(now, library_items(items % 8)),
            HostAction::Remote { member: i, volume } => {
                session.remote_command(now, &member(i), "volume", Some(json!(volume)))
            }
            HostAction::Close => {
                session.close(now, Some("fuzz"));
                Ok(())
            }
        };
    }

    pub fn poll_transmit(session: &mut Session) -> Option<Transmit> {
        session.poll_transmit()
    }

    pub fn drain_events(session: &mut Session) {
        while let Some(event) = session.poll_event() {
            serde_json::to_string(&event).expect("an event serializes for the host's UI");
        }
    }
}

/// `PARTYLINE_FUZZ_TRACE=1`: print every frame the session sends, to see what an input does.
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("PARTYLINE_FUZZ_TRACE").is_some_and(|v| v == "1"))
}

fn library_items(n: u8) -> Vec<LibraryItem> {
    (0..n)
        .map(|i| LibraryItem {
            id: format!("t-{i}"),
            title: format!("Track {i}"),
            mime: "audio/mpeg".into(),
            url: format!("/media/t-{i}"),
            size: 1000 + u64::from(i),
            ..LibraryItem::default()
        })
        .collect()
}

impl PlayTemplate {
    /// The command's fields as `syncplay.command` carries them (without `type`/`timestamp`).
    fn to_json(&self, library: &[String]) -> Value {
        let item = |i: u8| library.get(usize::from(i) % library.len().max(1)).cloned().unwrap_or_else(|| "t-9".into());
        match self {
            PlayTemplate::Play { item: i, position } => {
                let mut v = json!({"command": "play"});
                if let Some(i) = i {
                    v["itemId"] = json!(item(*i));
                }
                if let Some(p) = position {
                    v["position"] = json!(p);
                }
                v
            }
            PlayTemplate::Pause => json!({"command": "pause"}),
            PlayTemplate::Seek { position } => json!({"command": "seek", "position": position}),
            PlayTemplate::Next => json!({"command": "next"}),
            PlayTemplate::Previous => json!({"command": "previous"}),
            PlayTemplate::SetRate { rate } => json!({"command": "setRate", "rate": rate}),
            PlayTemplate::QueueAdd { item: i } => json!({"command": "queue.add", "itemId": item(*i)}),
            PlayTemplate::QueueRemove { entry } => json!({"command": "queue.remove", "entryId": format!("q-{entry}")}),
            PlayTemplate::StartAnyway => json!({"command": "startAnyway"}),
        }
    }
}

/// What a connection has said and been told, as far as the checks need it.
#[derive(Default)]
struct ConnState {
    /// Whether its last join asked for the extensions (a resume always does).
    asked_ext: bool,
    /// Joined as a LOUDSYNC 1.0 member (it received `welcome` after a 1.0 join).
    loudsync_member: bool,
    /// The payload of the last probe sent on it.
    last_probe: Option<Time>,
}

struct Run {
    session: Session,
    now: Time,
    /// Every connection opened, in order (steps name one by index).
    conns: Vec<ConnId>,
    state: HashMap<ConnId, ConnState>,
    /// Member ids and resume secrets from the welcomes seen.
    members: Vec<(String, String)>,
    library: Vec<String>,
    /// The most members the session may hold now: the capacity, or more if it was lowered
    /// below the count (nobody is removed, and nobody may be added).
    allowed: usize,
    capacity: usize,
    /// The settings the session was made with.
    config: Config,
}

impl Run {
    fn new() -> Run {
        let (session, config) = api::new_session();
        let capacity = config.max_members as usize;
        Run {
            session,
            now: T0,
            conns: Vec::new(),
            state: HashMap::new(),
            members: Vec::new(),
            library: Vec::new(),
            allowed: capacity,
            capacity,
            config,
        }
    }

    fn conn(&self, i: u8) -> Option<ConnId> {
        (!self.conns.is_empty()).then(|| self.conns[usize::from(i) % self.conns.len()])
    }

    fn member_id(&self, i: u8) -> String {
        self.members.get(usize::from(i) % self.members.len().max(1)).map(|m| m.0.clone()).unwrap_or_default()
    }

    fn step(&mut self, step: Step) {
        let now = self.now;
        match step {
            Step::Connect { labelled } => {
                let conn = ConnId(self.conns.len() as u64 + 1);
                self.conns.push(conn);
                self.state.insert(conn, ConnState::default());
                api::connect(&mut self.session, now, conn, labelled.then(|| "iPhone".to_string()));
            }
            Step::Send { conn, message } => {
                let Some(conn) = self.conn(conn) else { return };
                let text = self.render(message);
                self.note_version(conn, &text);
                api::text(&mut self.session, now, conn, &text);
            }
            Step::Raw { conn, text } => {
                let Some(conn) = self.conn(conn) else { return };
                self.note_version(conn, &text);
                api::text(&mut self.session, now, conn, &text);
            }
            Step::Binary { conn } => {
                let Some(conn) = self.conn(conn) else { return };
                api::invalid(&mut self.session, now, conn, &DecodeError::Binary);
            }
            Step::TooLarge { conn } => {
                let Some(conn) = self.conn(conn) else { return };
                let limit = partyline_protocol::MAX_MESSAGE_BYTES;
                api::invalid(&mut self.session, now, conn, &DecodeError::TooLarge { size: limit + 1, limit });
            }
            Step::ProbeReply { conn, reply } => {
                let Some(conn) = self.conn(conn) else { return };
                let sent_at = match reply {
                    ProbeReply::Echo => match self.state[&conn].last_probe {
                        Some(sent_at) => sent_at,
                        None => return,
                    },
                    ProbeReply::Any(payload) => payload,
                };
                api::probe_reply(&mut self.session, now, conn, sent_at);
            }
            Step::RateLimited { conn, retry_after_ms, abusive } => {
                let Some(conn) = self.conn(conn) else { return };
                api::rate_limited(&mut self.session, now, conn, u64::from(retry_after_ms), abusive);
            }
            Step::Overflow { conn } => {
                let Some(conn) = self.conn(conn) else { return };
                api::overflow(&mut self.session, now, conn);
            }
            Step::Disconnect { conn, clean } => {
                let Some(conn) = self.conn(conn) else { return };
                api::disconnect(&mut self.session, now, conn, clean);
            }
            Step::Advance(advance) => {
                let config = &self.config;
                let until = match advance {
                    Advance::Millis(ms) => now + Time::from(ms % 1001) * 1000,
                    Advance::HeartbeatInterval => now + config.heartbeat_interval,
                    Advance::PastHeartbeatTimeout => now + config.heartbeat_timeout + SECOND,
                    Advance::PastResumeWindow => now + config.resume_window + SECOND,
                    Advance::NextDeadline => api::next_deadline(&self.session).unwrap_or(now).max(now),
                };
                self.advance_to(until);
            }
            Step::Host(action) => {
                let members: Vec<String> = self.members.iter().map(|m| m.0.clone()).collect();
                if let HostAction::Library { items } = &action {
                    self.library = library_items(items % 8).into_iter().map(|item| item.id).collect();
                }
                if let HostAction::Capacity(max) = &action
                    && (1..=10_000).contains(&u32::from(*max))
                    && !self.session.is_closed()
                {
                    self.capacity = usize::from(*max);
                }
                api::host(&mut self.session, now, action, &members, &self.library);
            }
        }
    }

    /// Runs every timer due up to `until`, each at its own instant, as the server's sleep does.
    fn advance_to(&mut self, until: Time) {
        // A script advances at most a few hundred times and a member has a handful of timers;
        // this many rounds in one advance can only be a livelock.
        const MAX_ROUNDS: usize = 100_000;
        let mut rounds = 0;
        while let Some(due) = api::next_deadline(&self.session) {
            if due > until {
                break;
            }
            rounds += 1;
            assert!(rounds < MAX_ROUNDS, "timers livelocked at {due}");
            self.now = self.now.max(due);
            api::timeout(&mut self.session, self.now);
            if let Some(next) = api::next_deadline(&self.session) {
                assert!(next > self.now, "after handle_timeout({}) a deadline is still due: {next}", self.now);
            }
            self.drain();
        }
        self.now = self.now.max(until);
    }

    /// What a join or resume on `conn` asks for, as the session will read it (templated or raw).
    fn note_version(&mut self, conn: ConnId, text: &str) {
        let asked_ext = match decode(text) {
            Ok(ClientMessage::Join(join)) => join.protocol_version.as_deref() == Some(PARTYLINE_V1),
            Ok(ClientMessage::Resume(_)) => true,
            _ => return,
        };
        self.state.get_mut(&conn).expect("known conn").asked_ext = asked_ext;
    }

    /// A valid message of the template's type with its fuzzed fields, as JSON text.
    fn render(&self, message: Template) -> String {
        let ts = 1_706_889_600_000u64;
        let value = match message {
            Template::Join { device, name, ext, right_session } => {
                let mut v = json!({"type": "join", "timestamp": ts,
                    "sessionId": if right_session { "party1" } else { "other" },
                    "deviceInfo": {"id": DEVICES[usize::from(device) % DEVICES.len()], "name": name.text(), "type": "client"}});
                if ext {
                    v["protocolVersion"] = json!("partyline/1");
                }
                v
            }
            Template::Resume { member, right_secret, last_seq } => {
                let (id, secret) = self
                    .members
                    .get(usize::from(member) % self.members.len().max(1))
                    .cloned()
                    .unwrap_or_else(|| ("m-none".into(), "none".into()));
                let secret = if right_secret { secret } else { format!("{secret}x") };
                json!({"type": "resume", "timestamp": ts, "sessionId": "party1", "memberId": id,
                    "resumeSecret": secret, "lastSeq": last_seq})
            }
            Template::Leave { reason } => json!({"type": "leave", "timestamp": ts, "reason": reason}),
            Template::Heartbeat => json!({"type": "heartbeat", "timestamp": ts}),
            Template::Ping { timestamp } => json!({"type": "ping", "timestamp": timestamp}),
            Template::Chat { text } => json!({"type": "chat", "timestamp": ts, "text": text.text()}),
            Template::Direct { to, id, text } => {
                json!({"type": "direct", "timestamp": ts, "to": self.member_id(to), "id": id, "payload": {"text": text}})
            }
            Template::Subscribe { topics } => json!({"type": "subscribe", "timestamp": ts, "topics": topics}),
            Template::Unsubscribe { topics } => json!({"type": "unsubscribe", "timestamp": ts, "topics": topics}),
            Template::Broadcast { id, topic, ack, text } => {
                let mut v =
                    json!({"type": "broadcast", "timestamp": ts, "id": id, "ack": ack, "payload": {"text": text}});
                if let Some(topic) = topic {
                    v["topic"] = json!(topic);
                }
                v
            }
            Template::Presence { status, text } => {
                let status = ["online", "away", "busy"][usize::from(status % 3)];
                json!({"type": "presence", "timestamp": ts, "status": status, "text": text})
            }
            Template::VoiceSignal { to, sdp } => json!({"type": "voice.signal", "timestamp": ts,
                "to": self.member_id(to), "signal": {"type": "offer", "sdp": sdp}}),
            Template::MarkRead { ids } => json!({"type": "mark_read", "timestamp": ts, "ids": ids}),
            Template::Play(play) => {
                let mut v = play.to_json(&self.library);
                v["type"] = json!("syncplay.command");
                v["timestamp"] = json!(ts);
                v
            }
            Template::Progress { entry, position, state, error } => {
                let state = ["playing", "paused", "buffering", "error", "ended"][usize::from(state % 5)];
                json!({"type": "playback.progress", "timestamp": ts, "entryId": format!("q-{entry}"),
                    "position": position, "state": state, "error": error})
            }
        };
        value.to_string()
    }

    /// Takes everything the session wants done and checks it.
    fn drain(&mut self) {
        while let Some(transmit) = api::poll_transmit(&mut self.session) {
            match transmit {
                Transmit::Send { conn, frame, seq } => {
                    let text = match seq {
                        Some(seq) => frame.with_seq(seq),
                        None => frame.as_str().to_string(),
                    };
                    let value: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|err| panic!("a frame to {conn} is not JSON ({err}): {text}"));
                    let kind = value["type"].as_str().unwrap_or_else(|| panic!("a frame without a type: {text}"));
                    self.seen(conn, kind, &value);
                }
                Transmit::Probe { conn, sent_at } => {
                    if let Some(state) = self.state.get_mut(&conn) {
                        state.last_probe = Some(sent_at);
                    }
                }
                Transmit::Backlog { conn, frames } => {
                    for (frame, seq) in frames {
                        let text = seq.map_or_else(|| frame.as_str().to_string(), |seq| frame.with_seq(seq));
                        let value: Value = serde_json::from_str(&text)
                            .unwrap_or_else(|err| panic!("a held-back frame to {conn} is not JSON ({err}): {text}"));
                        let kind = value["type"].as_str().unwrap_or_else(|| panic!("a frame without a type: {text}"));
                        self.seen(conn, kind, &value);
                    }
                }
                Transmit::Replay { conn, frames } => {
                    for (seq, frame) in frames {
                        let text = frame.with_seq(seq);
                        let value: Value = serde_json::from_str(&text)
                            .unwrap_or_else(|err| panic!("a replayed frame to {conn} is not JSON ({err}): {text}"));
                        let kind = value["type"].as_str().unwrap_or_else(|| panic!("a frame without a type: {text}"));
                        self.seen(conn, kind, &value);
                    }
                }
                Transmit::Close { .. } | Transmit::Attach { .. } => {}
            }
        }
        api::drain_events(&mut self.session);
        let count = api::member_count(&self.session);
        assert!(
            count <= self.allowed,
            "members {count}, but at most {} may be in (capacity {})",
            self.allowed,
            self.capacity
        );
        self.allowed = self.capacity.max(count);
    }

    fn seen(&mut self, conn: ConnId, kind: &str, value: &Value) {
        if trace() {
            eprintln!("{conn} <- {kind}");
        }
        let state = self.state.get_mut(&conn).expect("frames go only to connections that opened");
        if state.loudsync_member {
            assert!(LOUDSYNC_TYPES.contains(&kind), "a LOUDSYNC 1.0 member received {kind}: {value}");
        }
        if kind == "welcome" {
            state.loudsync_member = !state.asked_ext;
            let id = value["clientId"].as_str().unwrap_or_default().to_string();
            let secret = value["resumeSecret"].as_str().unwrap_or_default().to_string();
            if state.asked_ext {
                assert!(!secret.is_empty(), "an extension member's welcome carries a resume secret: {value}");
            } else {
                assert!(secret.is_empty(), "a LOUDSYNC 1.0 welcome carries no resume secret: {value}");
            }
            self.members.retain(|(known, _)| *known != id);
            self.members.push((id, secret));
        }
    }
}
