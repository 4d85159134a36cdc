//! One member's state, and the replay buffer that makes resume lose nothing.

use std::collections::{BTreeSet, VecDeque};
use std::net::IpAddr;

use partyline_protocol::{ConnectionStatus, Frame, MemberInfo, PresenceStatus, Wire};

use crate::Time;
use crate::session::ConnId;

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
    /// The sequenced stream (extension members only).
    pub stream: Stream,
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
}

impl Member {
    /// Whether it gets the Partyline extensions.
    pub fn ext(&self) -> bool {
        self.wire.extended()
    }

    /// Whether its presence is other than the default (online, no text).
    pub fn has_presence(&self) -> bool {
        self.presence != PresenceStatus::Online || self.presence_text.is_some()
    }

    /// Round-trip latency in whole milliseconds, if measured.
    pub fn latency_ms(&self) -> Option<u32> {
        self.rtt.map(|rtt| ((rtt + 500) / 1000) as u32)
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

/// A member's sequenced messages: the next number to give, and the most recent ones kept for
/// replay. Entries share their [`Frame`] with every other member's buffer.
#[derive(Debug)]
pub struct Stream {
    next_seq: u64,
    buffer: VecDeque<(u64, Frame)>,
    capacity: usize,
    /// The most bytes of frames kept: a bound on what one member's buffer can hold however
    /// large the messages sent to it (8 KiB `direct`s to a member that is away).
    max_bytes: usize,
    /// Bytes of the frames kept now.
    bytes: usize,
}

/// What a resume from `last_seq` gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Replay {
    /// These messages, in order, with their numbers.
    Messages(Vec<(u64, Frame)>),
    /// The gap is older than the buffer (or the client claims a number never sent): send a
    /// fresh snapshot instead.
    Snapshot,
}

impl Stream {
    /// An empty stream whose first message will be number 1, keeping at most `capacity`
    /// messages and `max_bytes` bytes of them.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Stream { next_seq: 1, buffer: VecDeque::new(), capacity, max_bytes, bytes: 0 }
    }

    /// Numbers a message and keeps it for replay, forgetting the oldest kept ones when the
    /// count or the bytes would pass their bounds (a resume from before them gets a snapshot).
    pub fn push(&mut self, frame: &Frame) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.capacity > 0 && frame.len() <= self.max_bytes {
            while self.buffer.len() >= self.capacity || self.bytes + frame.len() > self.max_bytes {
                let Some((_, old)) = self.buffer.pop_front() else { break };
                self.bytes -= old.len();
            }
            self.bytes += frame.len();
            self.buffer.push_back((seq, frame.clone()));
        } else if self.capacity > 0 {
            // Larger than the whole bound: it cannot be kept, so nothing before it can be
            // replayed either (a resume from before it gets a snapshot).
            self.forget_buffered();
        }
        seq
    }

    /// Bytes of the frames kept for replay.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The highest number given so far (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// What a client that processed everything up to `last_seq` has missed.
    pub fn replay_after(&self, last_seq: u64) -> Replay {
        if last_seq > self.last_seq() {
            return Replay::Snapshot;
        }
        let oldest_kept = self.buffer.front().map_or(self.next_seq, |(seq, _)| *seq);
        if last_seq + 1 < oldest_kept {
            return Replay::Snapshot;
        }
        Replay::Messages(self.buffer.iter().filter(|(seq, _)| *seq > last_seq).cloned().collect())
    }

    /// Forgets what is buffered, keeping the numbering: after a snapshot (welcome, member
    /// list) the buffer need not hold the snapshot itself, since a resume from before it is
    /// answered with a fresh snapshot anyway. Holding it would keep each joiner's member list
    /// (130 B per member: 130 KB at a thousand) alive for as long as it sits in the buffer.
    pub fn forget_buffered(&mut self) {
        self.buffer.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use partyline_protocol::ServerMessage;

    fn frame(n: u64) -> Frame {
        Frame::encode(&ServerMessage::Kicked { timestamp: n, reason: String::new() })
    }

    /// Replay returns exactly the messages after `last_seq`, then a snapshot once they are gone.
    #[test]
    fn replay_window() {
        let mut stream = Stream::new(3, 1 << 20);
        for n in 1..=5 {
            assert_eq!(stream.push(&frame(n)), n);
        }
        // Kept: 3, 4, 5.
        assert_eq!(stream.replay_after(5), Replay::Messages(vec![]));
        assert_eq!(stream.replay_after(3), Replay::Messages(vec![(4, frame(4)), (5, frame(5))]));
        assert_eq!(stream.replay_after(2), Replay::Messages(vec![(3, frame(3)), (4, frame(4)), (5, frame(5))]));
        assert_eq!(stream.replay_after(1), Replay::Snapshot, "message 2 is gone");
        assert_eq!(stream.replay_after(9), Replay::Snapshot, "a number never sent");
        stream.forget_buffered();
        assert_eq!(stream.replay_after(5), Replay::Messages(vec![]), "up to date: nothing to send");
        assert_eq!(stream.replay_after(4), Replay::Snapshot, "from before the snapshot: a new one");
        assert_eq!(stream.push(&frame(6)), 6, "numbering goes on");
    }

    /// The byte bound forgets the oldest frames first, and a frame larger than the bound
    /// leaves nothing to replay from before it.
    #[test]
    fn byte_bound() {
        let size = frame(1).len();
        let mut stream = Stream::new(100, 2 * size);
        for n in 1..=3 {
            stream.push(&frame(n));
        }
        assert_eq!(stream.bytes(), 2 * size, "two frames fit");
        assert_eq!(stream.replay_after(0), Replay::Snapshot, "frame 1 was forgotten for frame 3");
        assert_eq!(stream.replay_after(1), Replay::Messages(vec![(2, frame(2)), (3, frame(3))]));
        let big = Frame::encode(&ServerMessage::Kicked { timestamp: 4, reason: "x".repeat(3 * size) });
        assert_eq!(stream.push(&big), 4);
        assert_eq!((stream.bytes(), stream.replay_after(3)), (0, Replay::Snapshot));
        assert_eq!(stream.replay_after(4), Replay::Messages(vec![]));
    }
}
