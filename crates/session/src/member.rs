//! One member's state. What makes its resume lose nothing is the party's log
//! ([`crate::log`]): the member keeps only its cursor in it.

use std::collections::BTreeSet;
use std::net::IpAddr;

use partyline_protocol::{ConnectionStatus, MemberInfo, PresenceStatus, Wire};

use crate::Time;
use crate::log::Cursor;
use crate::session::ConnId;

/// How far the party's talk had got, by number: where a member's history counts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// The number of the party's last chat line (`c-<n>`).
    pub chat: u64,
    /// The member's count of direct messages ([`crate::direct`]).
    pub directs: u64,
    /// The number of the party's last host notification (`n-<n>`).
    pub notifications: u64,
}

/// Messages held for a reconnecting member of a format without resume: a few minutes of
/// direct messages; older ones go first.
pub const HELD_MESSAGES: usize = 64;

/// How many of a member's `cid`s the host remembers: a phone's outbox holds a few messages at a
/// time (what was typed during a drop), so 64 covers any resend by a wide margin.
pub const TAKEN_CIDS: usize = 64;

/// How the device id of a member that named none begins: such a member is new each time.
pub const ANONYMOUS_DEVICE: &str = "anon-";

/// A member's voice: which voice channel it is in, and whether it is muted or deafened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Voice {
    /// The voice channel (`None`: in none).
    pub channel: Option<String>,
    /// It does not send.
    pub muted: bool,
    /// It does not hear.
    pub deafened: bool,
}

/// A member of the session (the host's own member is kept apart, in the session).
#[derive(Debug)]
pub struct Member {
    /// The wire id, `m-xxxxxxxx`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The device's own id (`deviceInfo.id`); a second join from it replaces this member's
    /// connection.
    pub device_id: String,
    /// When it joined, ms since the epoch.
    pub joined_at_ms: u64,
    /// The live connection, or `None` while reconnecting.
    pub conn: Option<ConnId>,
    /// The address its current (or last) connection came from. A join naming this member's
    /// device from another address does not take it over (see `Session::join`).
    pub addr: IpAddr,
    /// A short label for the device ("iPhone", "Windows PC"), from the I/O layer at connect;
    /// sent to extension members only.
    pub device: Option<String>,
    /// What its connection speaks (set at join; a resume keeps it).
    pub wire: Wire,
    /// The resume secret (extension members only).
    pub secret: Option<String>,
    /// The last heartbeat (or the join).
    pub last_heartbeat: Time,
    /// When its connection dropped, while reconnecting.
    pub lost_at: Option<Time>,
    /// Smoothed round-trip time in µs.
    pub rtt: Option<Time>,
    /// The payload of the latency probe in flight, if any: only the pong that echoes it is a
    /// round trip. Anything else a client sends as a pong (unsolicited, replayed, forged) is not.
    pub probe: Option<Time>,
    /// The latency (ms) last announced in a `latency_update`.
    pub announced_latency: Option<u32>,
    /// Where its sequenced stream is in the party's log (extension members only).
    pub stream: Cursor,
    /// Its last `playback.progress`, and when it came.
    pub progress: Option<(partyline_protocol::client::PlaybackProgress, Time)>,
    /// The topics it subscribed to (extension members only). A resume keeps them; a fresh
    /// join of the same device starts with none, as the client does.
    pub topics: BTreeSet<String>,
    /// Its presence (extension members only): online until it says otherwise, and again
    /// after a fresh join of the same device.
    pub presence: PresenceStatus,
    /// The words with its presence, if any.
    pub presence_text: Option<String>,
    /// Pavilion's subscriptions other than topics (those are in `topics`).
    pub feeds: Feeds,
    /// Its voice channel and state (Together's voice).
    pub voice: Voice,
    /// What waits for it while it is reconnecting, for a format with no resume of its own (seed
    /// 001's direct messages "queued" for a member that is not connected): written when it is
    /// back, oldest first, at most [`HELD_MESSAGES`], each with the time it expires (seed 001's
    /// `metadata.ttl`) if it has one: an expired one is not written.
    pub held: std::collections::VecDeque<(partyline_protocol::Frame, Option<Time>)>,
    /// The host notifications it has read (`mark_read`, in any format), of those still kept.
    pub read: BTreeSet<String>,
    /// The `cid`s of its last [`TAKEN_CIDS`] messages (a hash of each), and whether each was
    /// applied: one sent again is answered, not applied again.
    pub taken: std::collections::VecDeque<(u64, bool)>,
    /// The number of the party's last chat line when its connection went (`c-<n>`), until it is
    /// back: a fresh `welcome` then brings the lines said since, and says how many are gone.
    pub chat_mark: Option<u64>,
    /// How many direct messages it had taken part in when its connection went
    /// ([`crate::direct`]), until it is back: a fresh `welcome` then brings those since.
    pub direct_mark: Option<u64>,
    /// The number of the party's last host notification when its connection went (`n-<n>`),
    /// until it is back: a fresh `welcome` then brings those sent since, and says how many are
    /// gone.
    pub notification_mark: Option<u64>,
    /// How far the party's talk had got when the latency probe in flight was sent, and as of
    /// its last answered probe: a pong comes after every frame written before its ping, so what
    /// was said up to `seen` has reached the phone. A connection that dies silently takes its
    /// marks from there, not from when the host noticed (what was written into the dead socket
    /// in between comes again in the history).
    pub probe_marks: Marks,
    /// See `probe_marks`: what is known to have reached it.
    pub seen: Marks,
    /// Picked up from a store after the host restarted, and not back yet: its resume says
    /// `restarted` (and is a snapshot: the log of sequenced messages is not kept).
    pub restored: bool,
    /// It plays SyncPlay's media (its `join` said `player`, or it reported playback): a start
    /// waits for it to be ready. Others (a terminal, a remote) are not waited for.
    pub player: bool,
    /// For a format that is sent the whole library ([`Wire::pushes_library`]): where in the
    /// library of this revision the next page it is sent starts, until it has every page.
    pub library_next: Option<usize>,
    /// Its connection's outbound queue is deep (the I/O layer said so,
    /// `Session::handle_congested`), until it drained: the library's pages wait for it.
    pub deep: bool,
    /// Its entry in a `member_list`, in JSON, kept from one list to the next ([`Member::listed`]).
    pub listed: Option<Listed>,
}

/// A member's entry in a `member_list` as each format writes it, and what it was written from:
/// a list of a thousand is then a copy of a thousand entries, not a thousand serialized again.
/// An entry whose member has changed since (its name, its connection, its latency) is written again.
#[derive(Debug)]
pub struct Listed {
    from: MemberInfo,
    partyline: bytes::Bytes,
    loudsync: bytes::Bytes,
}

/// What a Pavilion member subscribed to besides topics: `user`, the party's `zone:{id}`, and
/// rooms' `chat:{roomId}`. Other formats get what their document says without subscribing.
#[derive(Debug, Default)]
pub struct Feeds {
    /// `user`: its own notifications.
    pub user: bool,
    /// `zone:{sessionId}`: the party's presence and members coming and going.
    pub zone: bool,
    /// `chat:{roomId}`: those rooms' chat lines.
    pub rooms: BTreeSet<String>,
}

impl Member {
    /// Whether it gets the Partyline extensions.
    pub fn ext(&self) -> bool {
        self.wire.extended()
    }

    /// Whether it keeps its place when its connection is gone (until the resume window ends):
    /// a partyline/1 member (it resumes, or says `leave`), and a Together or Pavilion member
    /// that named its device (`?device=`: connecting again with it is the same member) and whose
    /// connection broke rather than closed (their formats have no `leave`: a close is one).
    /// The others are gone with their connection.
    pub fn keeps_place(&self, closed: bool) -> bool {
        Member::keeps_place_for(self.wire, &self.device_id, closed)
    }

    /// [`Member::keeps_place`] for a member speaking `wire` with this device id.
    pub fn keeps_place_for(wire: Wire, device_id: &str, closed: bool) -> bool {
        wire.extended() || (wire.joins_at_connect() && !closed && !device_id.starts_with(ANONYMOUS_DEVICE))
    }

    /// Whether one of its subscriptions takes `topic` (a name, or a pattern such as `updates.*`).
    pub fn subscribes_to(&self, topic: &str) -> bool {
        self.topics.contains(topic)
            || self.topics.iter().any(|pattern| partyline_protocol::client::topic_matches(pattern, topic))
    }

    /// Whether this member takes a message on `channel` (Pavilion: only what it subscribed to).
    pub fn subscribed(&self, channel: &partyline_protocol::client::Channel) -> bool {
        use partyline_protocol::client::Channel;
        match channel {
            Channel::User => self.feeds.user,
            Channel::Zone(_) => self.feeds.zone,
            Channel::Chat(room) => self.feeds.rooms.contains(room),
            Channel::Topic(topic) => self.subscribes_to(topic),
            Channel::Unknown(_) => false,
        }
    }

    /// Whether a message with this `cid` hash was taken already, and if so whether it was applied.
    pub fn taken(&self, cid: u64) -> Option<bool> {
        self.taken.iter().find(|(taken, _)| *taken == cid).map(|(_, ok)| *ok)
    }

    /// Remembers a taken `cid` hash (forgetting the oldest past [`TAKEN_CIDS`]).
    pub fn take(&mut self, cid: u64, ok: bool) {
        if self.taken.len() == TAKEN_CIDS {
            self.taken.pop_front();
        }
        self.taken.push_back((cid, ok));
    }

    /// Whether its presence is other than the default (online, no text).
    pub fn has_presence(&self) -> bool {
        self.presence != PresenceStatus::Online || self.presence_text.is_some()
    }

    /// Round-trip latency in whole milliseconds, if measured.
    pub fn latency_ms(&self) -> Option<u32> {
        self.rtt.map(|rtt| ((rtt + 500) / 1000) as u32)
    }

    /// Its entry in a `member_list`: partyline/1's (every field) and 1.0's (the document's fields),
    /// each the JSON of [`Member::info`]; written again only when the member changed since.
    pub fn listed(&mut self) -> (bytes::Bytes, bytes::Bytes) {
        let fresh = self.listed.as_ref().is_some_and(|listed| {
            let from = &listed.from;
            from.name == self.name
                && from.device == self.device
                && from.latency == self.latency_ms()
                && (from.connection_status == ConnectionStatus::Connected) == self.conn.is_some()
                && from.id == self.id
                && from.joined_at == self.joined_at_ms
        });
        if !fresh {
            let from = self.info();
            let partyline = from.json();
            let loudsync = if from.has_extensions() { from.loudsync().json() } else { partyline.clone() };
            self.listed = Some(Listed { from, partyline, loudsync });
        }
        let listed = self.listed.as_ref().expect("written above");
        (listed.partyline.clone(), listed.loudsync.clone())
    }

    /// The member as the wire describes it.
    pub fn info(&self) -> MemberInfo {
        MemberInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            is_host: false,
            connection_status: if self.conn.is_some() {
                ConnectionStatus::Connected
            } else {
                ConnectionStatus::Reconnecting
            },
            joined_at: self.joined_at_ms,
            latency: self.latency_ms(),
            device: self.device.clone(),
        }
    }
}
