//! A session on virtual time with every connection's output collected: the simulator the
//! session tests share (quinn's `Pair`, for one session and many connections).
#![allow(dead_code)]

pub mod net;

use std::collections::HashMap;

use partyline_protocol::{ClientMessage, decode};
use std::net::{IpAddr, Ipv4Addr};

use partyline_session::{Config, ConnId, Event, Peer, SECOND, Session, Time, Transmit};
use serde_json::Value;

/// What a connection saw, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Msg(Value),
    Probe(Time),
    Closed(u16),
}

/// A session on virtual time, with every connection's output collected.
pub struct Sim {
    pub session: Session,
    pub now: Time,
    next_conn: u64,
    inbox: HashMap<ConnId, Vec<Seen>>,
}

pub const T0: Time = 1_700_000_000 * SECOND;

/// The address every sim connection comes from unless a test says otherwise.
pub const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

impl Sim {
    pub fn new(config: Config) -> Sim {
        let config = Config { session_id: Some("party1".into()), name: "Test Party".into(), ..config };
        Sim { session: Session::new(config, T0, 7), now: T0, next_conn: 1, inbox: HashMap::new() }
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

    fn connect_peer(&mut self, peer: Peer) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.session.handle_connect(self.now, conn, peer);
        self.flush();
        conn
    }

    pub fn send(&mut self, conn: ConnId, text: &str) {
        match decode(text) {
            Ok(message) => self.session.handle_message(self.now, conn, message),
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
        self.send(conn, &join_text(device, ext));
        let seen = self.take(conn);
        let welcome = seen.iter().find_map(|s| match s {
            Seen::Msg(m) if m["type"] == "welcome" => Some(m.clone()),
            _ => None,
        });
        let welcome = welcome.unwrap_or_else(|| panic!("{device} got no welcome; saw {seen:?}"));
        (conn, welcome["clientId"].as_str().unwrap().to_string())
    }

    /// Connects and joins as an extension member; returns the connection, the member id and
    /// its resume secret (the welcome bundle is consumed).
    pub fn join_resumable(&mut self, device: &str) -> (ConnId, String, String) {
        let conn = self.connect();
        self.send(conn, &join_text(device, true));
        let welcome = self.messages(conn).into_iter().find(|m| m["type"] == "welcome");
        let welcome = welcome.unwrap_or_else(|| panic!("{device} got no welcome"));
        let text = |key: &str| welcome[key].as_str().unwrap().to_string();
        (conn, text("clientId"), text("resumeSecret"))
    }

    pub fn flush(&mut self) {
        while let Some(transmit) = self.session.poll_transmit() {
            let (conn, seen) = match transmit {
                Transmit::Send { conn, frame, seq } => {
                    let text = match seq {
                        Some(seq) => frame.with_seq(seq),
                        None => frame.as_str().to_string(),
                    };
                    (conn, Seen::Msg(serde_json::from_str(&text).unwrap()))
                }
                Transmit::Replay { conn, frames } => {
                    let inbox = self.inbox.entry(conn).or_default();
                    for (seq, frame) in frames {
                        inbox.push(Seen::Msg(serde_json::from_str(&frame.with_seq(seq)).unwrap()));
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
        self.send(conn, r#"{"type":"heartbeat","timestamp":1}"#);
    }

    pub fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }
}

pub fn join_text(device: &str, ext: bool) -> String {
    let version = if ext { r#","protocolVersion":"partyline/1""# } else { "" };
    format!(
        r#"{{"type":"join","timestamp":1706889600000,"sessionId":"party1","deviceInfo":{{"id":"{device}","name":"{device} phone","type":"client"}}{version}}}"#
    )
}

pub fn closed(seen: &[Seen]) -> Option<u16> {
    seen.iter().find_map(|s| match s {
        Seen::Closed(code) => Some(*code),
        _ => None,
    })
}

pub fn resume_text(id: &str, secret: &str, last_seq: u64) -> String {
    format!(
        r#"{{"type":"resume","timestamp":1,"sessionId":"party1","memberId":"{id}","resumeSecret":"{secret}","lastSeq":{last_seq}}}"#
    )
}
