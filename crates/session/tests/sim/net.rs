//! A network between the session and its clients, on virtual time: every message takes its own
//! random latency (so messages on different connections overtake each other: reordering), a
//! connection keeps TCP's order, and a message can be lost — which on TCP means the connection
//! breaks, with everything in flight on it. Clients reconnect and resume as the phone does.
//! quinn's `Pair` with latency and loss injected, for one session and many connections.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use partyline_protocol::decode;
use partyline_session::{Config, ConnId, Peer, SECOND, Session, Time, Transmit};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::T0;

/// How the network behaves.
#[derive(Debug, Clone, Copy)]
pub struct Network {
    /// Each message's one-way delay, uniformly in this range (µs).
    pub latency: (Time, Time),
    /// The chance that a message is lost, breaking its connection.
    pub loss: f64,
}

/// One client as the phone runs it: joined once, then resuming with its last seq after a break.
pub struct NetClient {
    pub device: String,
    pub conn: Option<ConnId>,
    pub member_id: Option<String>,
    pub secret: Option<String>,
    pub last_seq: u64,
    /// Every sequenced message it processed, in order (duplicates would show here).
    pub seen: Vec<Value>,
    /// When it reconnects after a break (the backoff).
    pub retry_at: Option<Time>,
    pub breaks: u32,
    /// The close codes the session closed it with.
    pub closes: Vec<u16>,
    /// Its last resume was answered with a snapshot: the next seq may jump.
    pub snapshot: bool,
}

enum Flight {
    ToSession {
        conn: ConnId,
        text: String,
    },
    ToClient {
        conn: ConnId,
        text: String,
    },
    /// The session closed the connection: the client sees the close after what came before it.
    CloseToClient {
        conn: ConnId,
        code: u16,
    },
    Closed {
        conn: ConnId,
    },
}

/// A session, its clients and the network between them.
pub struct NetSim {
    pub session: Session,
    pub now: Time,
    pub clients: Vec<NetClient>,
    net: Network,
    rng: StdRng,
    next_conn: u64,
    /// In flight, by (due time, order of sending): a BTreeMap keeps it sorted.
    flights: BTreeMap<(Time, u64), Flight>,
    sent: u64,
    /// Per connection and direction, the latest due time: TCP delivers in order.
    tail: HashMap<(ConnId, bool), Time>,
    owner: HashMap<ConnId, usize>,
    /// When every client heartbeats next (every 5 s, as LOUDSYNC says).
    next_beat: Time,
}

impl NetSim {
    pub fn new(config: Config, net: Network, seed: u64, devices: usize) -> NetSim {
        let config = Config { session_id: Some("party1".into()), max_members_per_addr: 1000, ..config };
        let clients = (0..devices)
            .map(|n| NetClient {
                device: format!("dev-{n}"),
                conn: None,
                member_id: None,
                secret: None,
                last_seq: 0,
                seen: Vec::new(),
                retry_at: Some(T0),
                breaks: 0,
                closes: Vec::new(),
                snapshot: false,
            })
            .collect();
        NetSim {
            session: Session::new(config, T0, seed),
            now: T0,
            clients,
            net,
            rng: StdRng::seed_from_u64(seed),
            next_conn: 1,
            flights: BTreeMap::new(),
            sent: 0,
            tail: HashMap::new(),
            owner: HashMap::new(),
            next_beat: T0 + 5 * SECOND,
        }
    }

    fn send_over(&mut self, conn: ConnId, to_session: bool, flight: Flight) {
        let delay = self.rng.random_range(self.net.latency.0..=self.net.latency.1);
        let tail = self.tail.entry((conn, to_session)).or_insert(0);
        let due = (self.now + delay).max(*tail);
        *tail = due;
        self.sent += 1;
        self.flights.insert((due, self.sent), flight);
    }

    /// A client sends a text frame (lost with the network's chance: the connection breaks).
    pub fn client_send(&mut self, client: usize, text: String) {
        let Some(conn) = self.clients[client].conn else { return };
        if self.rng.random_bool(self.net.loss) {
            return self.break_conn(client);
        }
        self.send_over(conn, true, Flight::ToSession { conn, text });
    }

    fn break_conn(&mut self, client: usize) {
        let Some(conn) = self.clients[client].conn.take() else { return };
        // Everything in flight on it is gone, both ways; the session learns of it later.
        self.flights.retain(|_, f| {
            !matches!(f, Flight::ToSession { conn: c, .. } | Flight::ToClient { conn: c, .. }
                | Flight::CloseToClient { conn: c, .. } if *c == conn)
        });
        self.send_over(conn, true, Flight::Closed { conn });
        let c = &mut self.clients[client];
        c.breaks += 1;
        c.retry_at = Some(self.now + SECOND);
    }

    fn connect(&mut self, client: usize) {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.owner.insert(conn, client);
        self.session.handle_connect(self.now, conn, Peer::from_addr(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        self.clients[client].conn = Some(conn);
        self.clients[client].retry_at = None;
        let c = &self.clients[client];
        let text = match (&c.member_id, &c.secret) {
            (Some(id), Some(secret)) => super::resume_text(id, secret, c.last_seq),
            _ => super::join_text(&c.device, true),
        };
        self.client_send(client, text);
        self.pump();
    }

    /// Moves what the session wants sent onto the network.
    fn pump(&mut self) {
        while let Some(transmit) = self.session.poll_transmit() {
            match transmit {
                Transmit::Send { conn, frame, seq } => {
                    let text = match seq {
                        Some(seq) => frame.with_seq(seq),
                        None => frame.as_str().to_string(),
                    };
                    self.send_to_client(conn, text);
                }
                Transmit::Replay { conn, frames } => {
                    for (seq, frame) in frames {
                        self.send_to_client(conn, frame.with_seq(seq));
                    }
                }
                Transmit::Backlog { conn, frames } => {
                    for (frame, seq) in frames {
                        self.send_to_client(
                            conn,
                            seq.map_or_else(|| frame.as_str().to_string(), |seq| frame.with_seq(seq)),
                        );
                    }
                }
                Transmit::Close { conn, code, .. } => {
                    if self.owner.get(&conn).is_some_and(|&client| self.clients[client].conn == Some(conn)) {
                        self.send_over(conn, false, Flight::CloseToClient { conn, code });
                    }
                }
                Transmit::Probe { .. } | Transmit::Attach { .. } => {}
            }
        }
        while self.session.poll_event().is_some() {}
    }

    fn send_to_client(&mut self, conn: ConnId, text: String) {
        let Some(&client) = self.owner.get(&conn) else { return };
        if self.clients[client].conn != Some(conn) {
            return; // a connection the client already gave up
        }
        if self.rng.random_bool(self.net.loss) {
            return self.break_conn(client);
        }
        self.send_over(conn, false, Flight::ToClient { conn, text });
    }

    fn client_receive(&mut self, client: usize, conn: ConnId, text: String) {
        if self.clients[client].conn != Some(conn) {
            return;
        }
        let message: Value = serde_json::from_str(&text).unwrap();
        let c = &mut self.clients[client];
        match message["type"].as_str().unwrap() {
            "welcome" if message["seq"] == 1 => {
                // A fresh join (its first join, or again after it lost its welcome): a new stream.
                c.last_seq = 0;
                c.seen.clear();
                c.member_id = message["clientId"].as_str().map(str::to_string);
                c.secret = message["resumeSecret"].as_str().map(str::to_string);
            }
            "welcome" => {
                c.member_id = message["clientId"].as_str().map(str::to_string);
                c.secret = message["resumeSecret"].as_str().map(str::to_string);
            }
            "error" if message["code"] == "resume_failed" => panic!("{} could not resume: {message}", c.device),
            // Too old to replay: a fresh welcome bundle follows, numbered on from where the
            // stream is (the gap is what the snapshot stands for).
            "resumed" if message["snapshot"] == true => c.snapshot = true,
            _ => {}
        }
        if let Some(seq) = message["seq"].as_u64() {
            if std::mem::take(&mut c.snapshot) {
                c.last_seq = seq - 1;
            }
            assert_eq!(seq, c.last_seq + 1, "{}: seq {} after {}: {message}", c.device, seq, c.last_seq);
            c.last_seq = seq;
            c.seen.push(message);
        }
    }

    /// Runs the network and the session up to `until`: deliveries, heartbeats every 5 s,
    /// reconnects, timers, each at its own instant. Bounded: a livelock fails the test.
    pub fn run_until(&mut self, until: Time) {
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 2_000_000, "the simulation livelocked at {}", self.now);
            let flight = self.flights.keys().next().copied().map(|(at, _)| at);
            let timer = self.session.poll_timeout();
            let retry = self.clients.iter().filter_map(|c| c.retry_at).min();
            let beat = self.next_beat;
            let next = [flight, timer, retry, Some(beat)].into_iter().flatten().min().unwrap();
            if next > until {
                self.now = until;
                return;
            }
            self.now = next;
            if flight == Some(next) {
                let key = *self.flights.keys().next().unwrap();
                match self.flights.remove(&key).unwrap() {
                    Flight::ToSession { conn, text } => match decode(&text) {
                        Ok(message) => self.session.handle_message(self.now, conn, message),
                        Err(err) => self.session.handle_invalid(self.now, conn, &err),
                    },
                    Flight::ToClient { conn, text } => {
                        let client = self.owner[&conn];
                        self.client_receive(client, conn, text);
                    }
                    Flight::CloseToClient { conn, code } => {
                        let client = self.owner[&conn];
                        if self.clients[client].conn == Some(conn) {
                            let c = &mut self.clients[client];
                            c.conn = None;
                            c.closes.push(code);
                            c.retry_at = Some(self.now + SECOND);
                        }
                    }
                    Flight::Closed { conn } => self.session.handle_disconnect(self.now, conn, false),
                }
            } else if timer == Some(next) {
                self.session.handle_timeout(self.now);
            } else if retry == Some(next) {
                let client = self.clients.iter().position(|c| c.retry_at == Some(next)).unwrap();
                self.connect(client);
            } else {
                self.next_beat += 5 * SECOND;
                for client in 0..self.clients.len() {
                    self.client_send(client, r#"{"type":"heartbeat","timestamp":1}"#.into());
                }
            }
            self.pump();
        }
    }
}
