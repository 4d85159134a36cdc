//! Who receives what: broadcasts to every member (or every extension member), sequenced
//! delivery into each member's stream with its replay bounds, and replies to one connection.

use std::sync::Arc;

use super::*;
use crate::log::{Audience, Encoded};
use crate::member::Member;
use partyline_protocol::client::Channel;

/// A message on its way to members (and kept in the party's log for resume): serialized at most once per wire format, when the first
/// member speaking that format gets it ([`Wire::encode`]: the format decides whether it has
/// such a message and with which fields), and sequenced or not as the message says
/// ([`ServerMessage::is_sequenced`]) — facts of the message, not booleans passed by callers.
#[derive(Debug)]
pub(super) struct Outgoing {
    message: ServerMessage,
    /// It carries `seq` and is kept for resume.
    sequenced: bool,
    /// News of who is in the party (`member_joined`, `member_left`, `member_updated`,
    /// `member_list`): what a fresh `member_list` says again, so a member whose queue is deep
    /// can be sent that list instead ([`Session::handle_congested`]). Not `latency_update`: it is
    /// small (`MAX_LATENCIES`) and one per 5 s, and a list for a latency is not worth its size.
    roster: bool,
    /// One slot per wire format ([`Wire::index`]): `None` inside when the format has no such
    /// message.
    frames: [std::sync::OnceLock<Option<Frame>>; Wire::ALL.len()],
    /// The Pavilion channel it arrives on (`None`: no channel's), worked out once.
    channel: std::sync::OnceLock<Option<Channel>>,
    /// When it stops being worth delivering to a member that is away (seed 001's
    /// `metadata.ttl`): a held copy that has expired is not written.
    expires: Option<Time>,
    /// A list of everyone kept as its members' entries ([`Session::member_list`]): its frames
    /// are written from them, and `message` is a `member_list` with no members, for what it
    /// says of itself (sequenced, roster news about no one member).
    list: Option<List>,
}

/// A `member_list`'s entries in JSON, the host's first, each format's own
/// ([`crate::member::Member::listed`]).
#[derive(Debug)]
struct List {
    timestamp: u64,
    partyline: Vec<bytes::Bytes>,
    loudsync: Vec<bytes::Bytes>,
}

impl List {
    /// The list as `wire` writes it: only partyline/1 and 1.0 have one (the protocol crate's
    /// `a_list_from_entries_is_the_list_serialized` holds both to `Wire::encode`).
    fn frame(&self, wire: Wire) -> Option<Frame> {
        let entries = match wire {
            Wire::Partyline => &self.partyline,
            Wire::Loudsync => &self.loudsync,
            _ => return None,
        };
        Some(Frame::member_list(self.timestamp, entries.iter().map(|entry| &entry[..])))
    }
}

impl Outgoing {
    pub(super) fn new(message: &ServerMessage) -> Arc<Outgoing> {
        Outgoing::expiring(message, None)
    }

    /// A message that a member who is away should get only before `expires`.
    pub(super) fn expiring(message: &ServerMessage, expires: Option<Time>) -> Arc<Outgoing> {
        Outgoing::build(message.clone(), expires, None)
    }

    fn build(message: ServerMessage, expires: Option<Time>, list: Option<List>) -> Arc<Outgoing> {
        Arc::new(Outgoing {
            sequenced: message.is_sequenced(),
            roster: matches!(
                message,
                ServerMessage::MemberJoined { .. }
                    | ServerMessage::MemberLeft { .. }
                    | ServerMessage::MemberUpdated { .. }
                    | ServerMessage::MemberList { .. }
            ),
            frames: Default::default(),
            channel: Default::default(),
            expires,
            message,
            list,
        })
    }

    /// A list of everyone at `timestamp` (ms), from its members' entries.
    fn list(timestamp: u64, partyline: Vec<bytes::Bytes>, loudsync: Vec<bytes::Bytes>) -> Arc<Outgoing> {
        let message = ServerMessage::MemberList { timestamp, members: Vec::new() };
        Outgoing::build(message, None, Some(List { timestamp, partyline, loudsync }))
    }

    /// It carries `seq` and is kept for resume.
    pub(super) fn is_sequenced(&self) -> bool {
        self.sequenced
    }

    /// The member a piece of roster news is about (`None` for a list, or for other news).
    fn subject(&self) -> Option<&str> {
        match &self.message {
            ServerMessage::MemberJoined { member, .. } | ServerMessage::MemberUpdated { member, .. } => {
                Some(&member.id)
            }
            ServerMessage::MemberLeft { member_id, .. } => Some(member_id),
            _ => None,
        }
    }

    /// The message as `wire` writes it (the [`Encoded`] view, for the session's own parts).
    pub(super) fn frame(&self, wire: Wire) -> Option<&Frame> {
        Encoded::frame(self, wire)
    }

    /// Whether `member` takes it: a Pavilion member only what arrives on a channel it
    /// subscribed to (seed 004: "Apply proper access control on subscription channels").
    fn wanted_by(&self, member: &Member) -> bool {
        if member.wire != Wire::Pavilion {
            return true;
        }
        match self.channel.get_or_init(|| partyline_protocol::pavilion::channel_of(&self.message, "")) {
            Some(channel) => member.subscribed(channel),
            None => true,
        }
    }
}

impl Encoded for Outgoing {
    /// The message as `wire` writes it, or `None` when that format has no such message.
    fn frame(&self, wire: Wire) -> Option<&Frame> {
        self.frames[wire.index()]
            .get_or_init(|| match &self.list {
                Some(list) => list.frame(wire),
                None => wire.encode(&self.message),
            })
            .as_ref()
    }

    fn size(&self) -> usize {
        self.frame(Wire::Partyline).map_or(0, Frame::len)
    }
}

/// Roster news held back from a member with a `member_list` before a fresh list is sent
/// instead: 512 pointers a congested member at most, and a list of a party of 2,048 or more
/// costs as much as this much news (130 B an entry, about as much as a `member_joined`). In a
/// storm of 10,000 joins a member whose queue was deep for a quarter of a second was held back
/// a few dozen `member_joined`s, and a list of up to 10,000 entries (1.3 MB) in their place
/// made every deep queue deeper.
const MAX_HELD: usize = 512;

/// The roster news held back from a member whose queue was deep, said once its queue has
/// drained: the last news of each member, in the order it came, and nothing of a member that
/// came and went meanwhile; a member that came and then changed gets its `member_joined` and
/// then the change, so that nobody hears of a change to a member it never heard of.
pub(super) fn backlog(held: Vec<Arc<Outgoing>>) -> Vec<Arc<Outgoing>> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    let mut first_joined: HashSet<&str> = HashSet::new();
    for (i, out) in held.iter().enumerate() {
        let Some(id) = out.subject() else { continue };
        if !last.contains_key(id) && matches!(out.message, ServerMessage::MemberJoined { .. }) {
            first_joined.insert(id);
        }
        last.insert(id, i);
    }
    let mut joined_seen: HashSet<&str> = HashSet::new();
    let keep: Vec<bool> = held
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let Some(id) = out.subject() else { return true };
            let is_last = last[id] == i;
            if !first_joined.contains(id) {
                return is_last;
            }
            if matches!(held[last[id]].message, ServerMessage::MemberLeft { .. }) {
                return false; // came and went
            }
            // Its first `member_joined`, and its last news if that is a later change.
            match out.message {
                ServerMessage::MemberJoined { .. } => joined_seen.insert(id),
                _ => is_last,
            }
        })
        .collect();
    held.into_iter().zip(keep).filter_map(|(out, keep)| keep.then_some(out)).collect()
}

impl Session {
    /// A `member_list` of everyone now: the host, then the members in the order they joined,
    /// written from each member's kept entry ([`crate::member::Member::listed`]), so a list
    /// costs a copy of each entry and a serialization of only those that changed.
    pub(super) fn member_list(&mut self, now: Time) -> Arc<Outgoing> {
        let mut partyline = Vec::with_capacity(self.order.len() + 1);
        let mut loudsync = Vec::with_capacity(self.order.len() + 1);
        let host = self.host.json();
        loudsync.push(if self.host.has_extensions() { self.host.loudsync().json() } else { host.clone() });
        partyline.push(host);
        for key in &self.order {
            let (full, plain) = self.members.get_mut(key).expect("every member in order is a member").listed();
            partyline.push(full);
            loudsync.push(plain);
        }
        Outgoing::list(now / MILLISECOND, partyline, loudsync)
    }

    pub(super) fn session_updated(&mut self, now: Time) {
        let state = self.state();
        let message = ServerMessage::SessionUpdated { timestamp: now / MILLISECOND, session: state.clone() };
        self.broadcast(&Outgoing::new(&message), None);
        self.events.push_back(Event::SessionUpdated(state));
    }

    /// Sends a message to every member that may receive it (see [`Session::deliver`]) but
    /// `except`: one entry in the party's log, whatever the number of members.
    pub(super) fn broadcast(&mut self, out: &Arc<Outgoing>, except: Option<u64>) {
        if out.roster {
            self.drained_list = None; // the party changed
        }
        self.log_append(out, Audience::All { except });
        for i in 0..self.order.len() {
            let key = self.order[i];
            if Some(key) != except {
                self.number_and_send(key, out);
            }
        }
    }

    /// Sends a message to these members only (a topic's subscribers): one entry in the log.
    pub(super) fn broadcast_to(&mut self, keys: Vec<u64>, out: &Arc<Outgoing>) {
        if out.roster {
            self.drained_list = None; // the party changed
        }
        if keys.iter().any(|key| self.members[key].ext()) {
            self.log_append(out, Audience::Some(keys.clone()));
        }
        for key in keys {
            self.number_and_send(key, out);
        }
    }

    /// Sends a message to one member: an entry in the log addressed to it alone, which counts
    /// against its quota (`Config::replay_bytes`): past it, what the log holds for it alone is
    /// dropped and its resume gets a snapshot, so nobody can fill the party's log through one
    /// member that is away.
    pub(super) fn deliver(&mut self, key: u64, out: &Arc<Outgoing>) {
        if self.members[&key].ext() && out.sequenced {
            let bytes = self.log_append(out, Audience::One(key));
            let member = self.members.get_mut(&key).expect("deliver to a member");
            member.stream.own_bytes += bytes;
            if member.stream.own_bytes > self.config.replay_bytes {
                self.log.drop_own(key, &mut member.stream);
            }
        }
        let member = self.members.get_mut(&key).expect("deliver to a member");
        if member.conn.is_none() && !member.ext() && member.wire.has_direct() && out.sequenced {
            // A seed-001 member that is reconnecting: its direct messages wait for it.
            if let Some(frame) = out.frame(member.wire).cloned() {
                self.hold(key, frame, out.expires);
            }
            return;
        }
        self.number_and_send(key, out);
    }

    /// Keeps a frame for a seed-001 member that is reconnecting, the oldest dropped past
    /// [`crate::member::HELD_MESSAGES`]; written when it is back unless `expires` has passed.
    pub(super) fn hold(&mut self, key: u64, frame: Frame, expires: Option<Time>) {
        let member = self.members.get_mut(&key).expect("hold for a member");
        if member.held.len() == crate::member::HELD_MESSAGES {
            member.held.pop_front();
        }
        member.held.push_back((frame.clone(), expires));
        self.journal(Durable::Held { key, frame, expires });
    }

    /// A message of a member's snapshot (the welcome bundle): numbered and written, not logged,
    /// since a resume from before a snapshot gets a new one.
    pub(super) fn send_snapshot(&mut self, key: u64, out: &Arc<Outgoing>) {
        self.number_and_send(key, out);
    }

    /// Appends a sequenced message to the log (unsequenced ones are never replayed). Returns
    /// its size.
    fn log_append(&mut self, out: &Arc<Outgoing>, audience: Audience) -> usize {
        if !out.sequenced {
            return 0;
        }
        let members = &mut self.members;
        let by_id = out.clone() as Arc<dyn Encoded>;
        self.log.append(by_id, audience, |key, bytes| {
            if let Some(member) = members.get_mut(&key) {
                member.stream.own_bytes = member.stream.own_bytes.saturating_sub(bytes);
            }
        })
    }

    /// Writes a message to a member in its wire format, numbered for an extension member when it
    /// is sequenced. The one place that decides who gets what: a member whose format has no
    /// such message gets nothing (a LOUDSYNC 1.0 member never sees a type outside LOUDSYNC), and
    /// the number it takes is the one the log's replay derives for it.
    fn number_and_send(&mut self, key: u64, out: &Arc<Outgoing>) {
        let member = self.members.get_mut(&key).expect("deliver to a member");
        if !out.wanted_by(member) {
            return;
        }
        let Some(frame) = out.frame(member.wire) else { return };
        if out.roster && member.stream.coalescing.is_some() {
            // Its queue is deep: once it has drained, the news held back is said in one
            // backlog, or by a fresh list when the backlog would cost as much. Its numbers no
            // longer follow the log's entries for it, so a resume until then gets a snapshot.
            let first = member.stream.coalescing == Some(false);
            member.stream.coalescing = Some(true);
            member.stream.restart(&self.log);
            if !member.wire.has_member_list() {
                self.backlogs.entry(key).or_default().push(out.clone());
            } else if first || self.backlogs.contains_key(&key) {
                // A list of N members is N entries: past a quarter of that (or past
                // `MAX_HELD`), or for news that is itself a list, the list is due instead.
                let cap = (self.order.len() / 4).min(MAX_HELD);
                let held = self.backlogs.entry(key).or_default();
                if held.len() < cap && out.subject().is_some() {
                    held.push(out.clone());
                } else {
                    self.backlogs.remove(&key);
                }
            }
            return;
        }
        let seq = (member.ext() && out.sequenced).then(|| member.stream.number());
        if let Some(conn) = member.conn {
            self.transmits.push_back(Transmit::Send { conn, frame: frame.clone(), seq });
        }
    }

    /// An unsequenced reply to one connection, in its format (nothing when the format has no
    /// such message: a Together client gets no `error`).
    pub(super) fn reply(&mut self, conn: ConnId, message: ServerMessage) {
        if let Some(frame) = self.wire_of(conn).encode(&message) {
            self.transmits.push_back(Transmit::Send { conn, frame, seq: None });
        }
    }

    /// What a connection speaks: its member's format, or for one that has not joined, the
    /// format its URL chose (partyline/1's vocabulary at `/ws` until a `join` decides).
    pub(super) fn wire_of(&self, conn: ConnId) -> Wire {
        match self.conns.get(&conn) {
            Some(Conn::Member(key)) => self.members[key].wire,
            Some(Conn::Pending { peer, .. }) => peer.arrival.as_ref().map_or(Wire::Partyline, |arrival| arrival.wire),
            None => Wire::Partyline,
        }
    }

    pub(super) fn reply_error(
        &mut self,
        now: Time,
        conn: ConnId,
        code: ErrorCode,
        message: impl Into<String>,
        details: serde_json::Value,
    ) {
        self.refused = Some(conn);
        self.reply(conn, ServerMessage::error(now / MILLISECOND, code, message, Some(details)));
    }

    pub(super) fn close_conn(&mut self, conn: ConnId, code: u16, reason: &'static str) {
        self.transmits.push_back(Transmit::Close { conn, code, reason });
    }
}
