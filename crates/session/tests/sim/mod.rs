//! A session on virtual time with every connection's output collected: the simulator the
//! session tests share (quinn's `Pair`, for one session and many connections). Every frame the
//! session transmits must decode as a typed server message ([`Received`]), or the test fails;
//! messages into the session are built typed ([`join_msg`], [`resume_msg`]).
#![allow(dead_code)]

pub mod net;

use std::collections::HashMap;

use partyline_protocol::client::{Heartbeat, Resume};
use partyline_protocol::{ClientMessage, PARTYLINE_V1, Received, ServerMessage};
use std::net::{IpAddr, Ipv4Addr};

use partyline_protocol::Wire;
use partyline_session::{Arrival, Config, ConnId, Event, Peer, SECOND, Session, Time, Transmit};
use serde_json::Value;

/// What a connection saw, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Msg(Value),
    /// A binary frame (seed 001's), as written.
    Binary(Vec<u8>),
    Probe(Time),
    Closed(u16),
}

/// A session on virtual time, with every connection's output collected.
pub struct Sim {
    pub session: Session,
    pub now: Time,
    next_conn: u64,
    inbox: HashMap<ConnId, Vec<Seen>>,
    /// Connections of another format than partyline/1 (seed 001's): their frames are kept as
    /// JSON (or bytes) without being read as partyline/1 server messages.
    foreign: std::collections::HashSet<ConnId>,
}

pub const T0: Time = 1_700_000_000 * SECOND;

/// The address every sim connection comes from unless a test says otherwise.
pub const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

impl Sim {
    pub fn new(config: Config) -> Sim {
        let config = Config { session_id: Some("party1".into()), name: "Test Party".into(), ..config };
        Sim {
            session: Session::new(config, T0, 7),
            now: T0,
            next_conn: 1,
            inbox: HashMap::new(),
            foreign: Default::default(),
        }
    }

    pub fn connect(&mut self) -> ConnId {
        self.connect_from(None)
    }

    /// Connects from a device the I/O layer labelled (`"iPhone"`), or could not.
    pub fn connect_from(&mut self, device: Option<&str>) -> ConnId {
        self.connect_peer(Peer { addr: LOCAL, device: device.map(str::to_string), may_join: true, arrival: None })
    }

    /// Connects from another address (the sim's default is [`LOCAL`]).
    pub fn connect_at(&mut self, addr: IpAddr) -> ConnId {
        self.connect_peer(Peer::from_addr(addr))
    }

    /// Connects a seed-001 client (`/rt/ws?name=…&device=…`): a member as it opens. Its frames
    /// are seed 001's ([`Sim::messages`] gives them as JSON; binary ones are [`Seen::Binary`]).
    pub fn connect_rt(&mut self, name: &str, device: Option<&str>) -> ConnId {
        self.connect_as(Wire::Rt, name, device)
    }

    /// Connects a client of a format that joins at connect (`wire`: Together, Pavilion, seed
    /// 001, Revenge), a member as it opens; its frames are kept as JSON, as [`Sim::connect_rt`]'s.
    pub fn connect_as(&mut self, wire: Wire, name: &str, device: Option<&str>) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.foreign.insert(conn);
        let arrival = Arrival { wire, name: Some(name.into()), device_id: device.map(str::to_string) };
        self.connect_peer(Peer { addr: LOCAL, device: None, may_join: true, arrival: Some(arrival) })
    }

    /// Sends a seed-001 text frame, decoded as the host decodes it.
    pub fn send_rt(&mut self, conn: ConnId, text: &str) {
        match partyline_protocol::rt::decode(text) {
            Ok(message) => self.session.handle_message(self.now, conn, message),
            Err(err) => self.session.handle_invalid(self.now, conn, &err),
        }
        self.flush();
    }

    fn connect_peer(&mut self, peer: Peer) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.session.handle_connect(self.now, conn, peer);
        self.flush();
        conn
    }

    pub fn send(&mut self, conn: ConnId, text: &str) {
        match partyline_protocol::client::decode_with_cid(text) {
            Ok((message, cid)) => self.session.handle_sent(self.now, conn, message, cid),
            Err(err) => self.session.handle_invalid(self.now, conn, &err),
        }
        self.flush();
    }

    pub fn send_msg(&mut self, conn: ConnId, message: ClientMessage) {
        self.session.handle_message(self.now, conn, message);
        self.flush();
    }

    /// Connects and joins; returns the connection and the member id.
    pub fn join(&mut self, device: &str, ext: bool) -> (ConnId, String) {
        let conn = self.connect();
        self.send_msg(conn, join_msg(device, ext));
        let seen = self.received(conn);
        let welcome = seen.iter().find_map(|r| match &r.message {
            ServerMessage::Welcome { client_id, .. } => Some(client_id.clone()),
            _ => None,
        });
        (conn, welcome.unwrap_or_else(|| panic!("{device} got no welcome; saw {seen:?}")))
    }

    /// Connects and joins as an extension member; returns the connection, the member id and
    /// its resume secret (the welcome bundle is consumed).
    pub fn join_resumable(&mut self, device: &str) -> (ConnId, String, String) {
        let conn = self.connect();
        self.send_msg(conn, join_msg(device, true));
        let welcome = self.received(conn).into_iter().find_map(|r| match r.message {
            ServerMessage::Welcome { client_id, resume_secret: Some(secret), .. } => Some((client_id, secret)),
            _ => None,
        });
        let (id, secret) = welcome.unwrap_or_else(|| panic!("{device} got no welcome with a resume secret"));
        (conn, id, secret)
    }

    pub fn flush(&mut self) {
        while let Some(transmit) = self.session.poll_transmit() {
            let (conn, seen) = match transmit {
                Transmit::Send { conn, frame, .. } if frame.is_binary() => (conn, Seen::Binary(frame.bytes().to_vec())),
                Transmit::Send { conn, frame, .. } if self.foreign.contains(&conn) => {
                    (conn, Seen::Msg(serde_json::from_str(frame.as_str()).expect("a frame is JSON")))
                }
                Transmit::Send { conn, frame, seq } => {
                    let text = match seq {
                        Some(seq) => frame.with_seq(seq),
                        None => frame.as_str().to_string(),
                    };
                    (conn, Seen::Msg(typed_json(&text)))
                }
                Transmit::Replay { conn, frames } => {
                    let inbox = self.inbox.entry(conn).or_default();
                    for (seq, frame) in frames {
                        inbox.push(Seen::Msg(typed_json(&frame.with_seq(seq))));
                    }
                    continue;
                }
                Transmit::Backlog { conn, frames } => {
                    let inbox = self.inbox.entry(conn).or_default();
                    for (frame, seq) in frames {
                        let text = seq.map_or_else(|| frame.as_str().to_string(), |seq| frame.with_seq(seq));
                        inbox.push(Seen::Msg(typed_json(&text)));
                    }
                    continue;
                }
                Transmit::Probe { conn, sent_at } => (conn, Seen::Probe(sent_at)),
                Transmit::Attach { .. } => continue,
                Transmit::Close { conn, code, .. } => (conn, Seen::Closed(code)),
            };
            self.inbox.entry(conn).or_default().push(seen);
        }
    }

    pub fn take(&mut self, conn: ConnId) -> Vec<Seen> {
        self.inbox.remove(&conn).unwrap_or_default()
    }

    /// Messages only (no probes), of a connection.
    pub fn messages(&mut self, conn: ConnId) -> Vec<Value> {
        self.take(conn)
            .into_iter()
            .filter_map(|s| match s {
                Seen::Msg(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// Messages only, typed, of a connection.
    pub fn received(&mut self, conn: ConnId) -> Vec<Received> {
        self.messages(conn).into_iter().map(|m| serde_json::from_value(m).expect("checked in flush")).collect()
    }

    pub fn types(&mut self, conn: ConnId) -> Vec<String> {
        self.messages(conn).iter().map(|m| m["type"].as_str().unwrap().to_string()).collect()
    }

    /// Runs every timer due up to `until`, each at its own instant.
    pub fn advance_to(&mut self, until: Time) {
        let mut steps = 0;
        while let Some(due) = self.session.poll_timeout() {
            if due > until {
                break;
            }
            steps += 1;
            assert!(steps < 100_000, "timers livelocked at {due}");
            self.now = self.now.max(due);
            self.session.handle_timeout(self.now);
            self.flush();
        }
        self.now = until;
    }

    pub fn advance(&mut self, by: Time) {
        self.advance_to(self.now + by);
    }

    pub fn heartbeat(&mut self, conn: ConnId) {
        self.send_msg(conn, ClientMessage::Heartbeat(Heartbeat { timestamp: 1.into() }));
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }
}

/// A frame the session sent, as JSON, once it is known to decode as a server message.
fn typed_json(text: &str) -> Value {
    if let Err(err) = Received::decode(text) {
        panic!("the session sent a frame that is not a server message: {text}: {err}");
    }
    serde_json::from_str(text).unwrap()
}

/// A join for `device` (named "`device` phone"), with partyline/1 when `ext`.
pub fn join_msg(device: &str, ext: bool) -> ClientMessage {
    let mut join =
        ClientMessage::join(1706889600000u64, "party1", device, format!("{device} phone"), ext.then_some(PARTYLINE_V1));
    if let ClientMessage::Join(join) = &mut join {
        join.player = ext.then_some(true); // a phone: it plays
    }
    join
}

/// [`join_msg`] as text.
pub fn join_text(device: &str, ext: bool) -> String {
    join_msg(device, ext).to_text()
}

pub fn closed(seen: &[Seen]) -> Option<u16> {
    seen.iter().find_map(|s| match s {
        Seen::Closed(code) => Some(*code),
        _ => None,
    })
}

/// A resume of member `id` with its secret, from `last_seq`.
pub fn resume_msg(id: &str, secret: &str, last_seq: u64) -> ClientMessage {
    ClientMessage::Resume(Resume {
        timestamp: 1.into(),
        session_id: "party1".into(),
        member_id: id.into(),
        resume_secret: secret.into(),
        last_seq,
    })
}

/// [`resume_msg`] as text.
pub fn resume_text(id: &str, secret: &str, last_seq: u64) -> String {
    resume_msg(id, secret, last_seq).to_text()
}
