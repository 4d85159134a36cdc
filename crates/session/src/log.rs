//! The party's log of sequenced messages: each message appended once, whoever its recipients,
//! and kept for resume within a bound for the whole party. A member's stream is not a buffer of
//! its own but a cursor: where in the log it started counting and the next number it will give.
//! Its `seq`s are derived from the log when a resume asks for them.

use std::collections::VecDeque;
use std::sync::Arc;

use partyline_protocol::{Frame, Wire};

/// Who an entry is for, fixed when it is appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every member in the session then (a member counts entries only from where its cursor
    /// starts, so later joiners are not included), but `except`.
    All {
        /// The sender, when it does not get its own message.
        except: Option<u64>,
    },
    /// One member (a `direct`, an ack, `subscriptions`, `kicked`...).
    One(u64),
    /// These members (a topic's subscribers).
    Some(Vec<u64>),
}

impl Audience {
    fn includes(&self, key: u64) -> bool {
        match self {
            Audience::All { except } => *except != Some(key),
            Audience::One(one) => *one == key,
            Audience::Some(keys) => keys.contains(&key),
        }
    }
}

/// Turns an entry into the frame a member's wire format writes, or `None` when the format has
/// no such message (the fan-out's `Outgoing`; a trait so the log needs no session types).
pub trait Encoded: std::fmt::Debug + Send + Sync {
    /// The message as `wire` writes it.
    fn frame(&self, wire: Wire) -> Option<&Frame>;
    /// Roughly what it costs to keep: its partyline/1 frame's length.
    fn size(&self) -> usize;
}

#[derive(Debug)]
struct Entry {
    /// `None` once dropped for its one recipient's quota (the number it took stays counted).
    message: Option<Arc<dyn Encoded>>,
    audience: Audience,
    bytes: usize,
}

/// Where a member's sequenced stream is: numbers are given in order from 1; the ones from
/// `lost_through + 1` on are the log's entries for it from position `start` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The log position from which entries count for it (after its last snapshot).
    pub start: u64,
    /// The next number it gives.
    pub next_seq: u64,
    /// Numbers up to this one cannot be replayed (its snapshot, or what its quota dropped): a
    /// resume from before them gets a snapshot.
    pub lost_through: u64,
    /// Bytes of the entries addressed to it alone that the log holds (its quota).
    pub own_bytes: usize,
    /// Roster news for it is held back while its connection's queue is deep: `Some(true)` once
    /// some was, so that news (or a fresh `member_list`) is due when the queue has drained.
    pub coalescing: Option<bool>,
}

impl Cursor {
    /// A stream that starts now: its first number will be 1.
    pub fn new(log: &Log) -> Cursor {
        Cursor { start: log.end(), next_seq: 1, lost_through: 0, own_bytes: 0, coalescing: None }
    }

    /// Starts counting afresh from the log's end: every number given so far is from before a
    /// snapshot (a `welcome` bundle, a fresh `member_list`, or news it was not sent), so a resume
    /// from any of them gets a new snapshot.
    pub fn restart(&mut self, log: &Log) {
        self.start = log.end();
        self.lost_through = self.last_seq();
    }

    /// The next number, taken.
    pub fn number(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq - 1
    }

    /// The highest number given so far (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }
}

/// What a resume from `last_seq` gets.
#[derive(Debug)]
pub enum Replay {
    /// These messages, in order, with their numbers.
    Messages(Vec<(u64, Frame)>),
    /// The gap is older than the log (or the client claims a number never sent): send a fresh
    /// snapshot instead.
    Snapshot,
}

/// The log: a window of positions `first .. first + entries.len()`.
#[derive(Debug)]
pub struct Log {
    entries: VecDeque<Entry>,
    first: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Log {
    /// An empty log keeping at most `max_entries` entries and `max_bytes` bytes of them.
    pub fn new(max_entries: usize, max_bytes: usize) -> Log {
        Log { entries: VecDeque::new(), first: 0, bytes: 0, max_entries, max_bytes }
    }

    /// The position the next entry gets.
    pub fn end(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    /// Bytes kept now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries kept now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it keeps nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a message for `audience` and returns its size, forgetting the oldest entries past
    /// the bounds. `forgot(key, bytes)` is called for each forgotten entry that was for one
    /// member alone, so that member's quota ([`Cursor::own_bytes`]) gives the bytes back; the
    /// caller adds the returned size to the quota of an [`Audience::One`] recipient.
    pub fn append(
        &mut self,
        message: Arc<dyn Encoded>,
        audience: Audience,
        mut forgot: impl FnMut(u64, usize),
    ) -> usize {
        let bytes = message.size();
        if self.max_entries == 0 {
            return bytes;
        }
        self.entries.push_back(Entry { message: Some(message), audience, bytes });
        self.bytes += bytes;
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some(old) = self.entries.pop_front() else { break };
            self.first += 1;
            if old.message.is_some() {
                self.bytes -= old.bytes;
                if let Audience::One(key) = old.audience {
                    forgot(key, old.bytes);
                }
            }
        }
        bytes
    }

    /// Drops what the log holds for `key` alone (its quota is spent): those messages can no
    /// longer be replayed, so its numbers so far are marked lost (a resume gets a snapshot).
    pub fn drop_own(&mut self, key: u64, cursor: &mut Cursor) {
        for entry in self.entries.iter_mut() {
            if entry.audience == Audience::One(key) && entry.message.take().is_some() {
                self.bytes -= entry.bytes;
            }
        }
        cursor.own_bytes = 0;
        cursor.lost_through = cursor.last_seq();
    }

    /// What a member that processed everything up to `last_seq` has missed, in its wire format.
    pub fn replay(&self, key: u64, wire: Wire, cursor: &Cursor, last_seq: u64) -> Replay {
        if last_seq > cursor.last_seq() || last_seq < cursor.lost_through {
            return Replay::Snapshot;
        }
        let skip = cursor.start.saturating_sub(self.first) as usize;
        let mine: Vec<Option<Frame>> = self
            .entries
            .iter()
            .skip(skip)
            .filter(|entry| entry.audience.includes(key))
            .filter_map(|entry| match &entry.message {
                // Dropped for this member's quota: it still took a number.
                None => Some(None),
                Some(message) => message.frame(wire).map(|frame| Some(frame.clone())),
            })
            .collect();
        // The numbers the log still holds for it are the last `mine.len()` it gave.
        let oldest = cursor.next_seq - mine.len() as u64;
        if last_seq + 1 < oldest {
            return Replay::Snapshot; // the gap starts before what the log keeps
        }
        let mut messages = Vec::new();
        for (seq, frame) in (oldest..).zip(mine) {
            if seq <= last_seq {
                continue;
            }
            match frame {
                Some(frame) => messages.push((seq, frame)),
                None => return Replay::Snapshot,
            }
        }
        Replay::Messages(messages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use partyline_protocol::ServerMessage;

    #[derive(Debug)]
    struct Plain(Frame);

    impl Encoded for Plain {
        fn frame(&self, _wire: Wire) -> Option<&Frame> {
            Some(&self.0)
        }
        fn size(&self) -> usize {
            self.0.len()
        }
    }

    fn message(n: u64) -> Arc<dyn Encoded> {
        Arc::new(Plain(Frame::encode(&ServerMessage::Kicked { timestamp: n, reason: String::new() })))
    }

    /// Appends for `audience` and numbers it for the cursors it is for, as the fan-out does.
    fn send(log: &mut Log, cursors: &mut [(u64, Cursor)], n: u64, audience: Audience) {
        for (key, cursor) in cursors.iter_mut() {
            if audience.includes(*key) {
                cursor.next_seq += 1;
            }
        }
        let one = if let Audience::One(key) = audience { Some(key) } else { None };
        let mut forgotten = Vec::new();
        let bytes = log.append(message(n), audience, |key, bytes| forgotten.push((key, bytes)));
        for (key, cursor) in cursors.iter_mut() {
            if one == Some(*key) {
                cursor.own_bytes += bytes;
            }
            for (gone, bytes) in &forgotten {
                if gone == key {
                    cursor.own_bytes -= bytes;
                }
            }
        }
    }

    fn seqs(replay: Replay) -> Option<Vec<u64>> {
        match replay {
            Replay::Messages(messages) => Some(messages.into_iter().map(|(seq, _)| seq).collect()),
            Replay::Snapshot => None,
        }
    }

    /// Each member's numbers come from the entries for it; a replay returns exactly those
    /// after `last_seq`, and a snapshot once the gap is older than the log.
    #[test]
    fn numbers_are_derived_per_member() {
        let mut log = Log::new(4, 1 << 20);
        let mut cursors = vec![(1, Cursor::new(&log)), (2, Cursor::new(&log))];
        send(&mut log, &mut cursors, 1, Audience::All { except: None }); // 1:1 2:1
        send(&mut log, &mut cursors, 2, Audience::One(2)); //                 2:2
        send(&mut log, &mut cursors, 3, Audience::All { except: Some(2) }); // 1:2
        send(&mut log, &mut cursors, 4, Audience::Some(vec![1, 2])); //     1:3 2:3
        let (a, b) = (&cursors[0].1, &cursors[1].1);
        assert_eq!((a.last_seq(), b.last_seq()), (3, 3));
        assert_eq!(seqs(log.replay(1, Wire::Partyline, a, 1)), Some(vec![2, 3]));
        assert_eq!(seqs(log.replay(2, Wire::Partyline, b, 0)), Some(vec![1, 2, 3]));
        assert_eq!(seqs(log.replay(2, Wire::Partyline, b, 3)), Some(vec![]));
        assert_eq!(seqs(log.replay(2, Wire::Partyline, b, 4)), None, "a number never sent");
        send(&mut log, &mut cursors, 5, Audience::One(1)); // the first entry goes
        let (a, b) = (&cursors[0].1, &cursors[1].1);
        assert_eq!(seqs(log.replay(1, Wire::Partyline, a, 0)), None, "message 1 is gone for member 1");
        assert_eq!(seqs(log.replay(1, Wire::Partyline, a, 1)), Some(vec![2, 3, 4]));
        assert_eq!(seqs(log.replay(2, Wire::Partyline, b, 1)), Some(vec![2, 3]));
    }

    /// Dropping a member's own entries (its quota) makes its resume a snapshot and frees them.
    #[test]
    fn dropping_own_entries() {
        let mut log = Log::new(100, 1 << 20);
        let mut cursors = vec![(1, Cursor::new(&log))];
        for n in 0..5 {
            send(&mut log, &mut cursors, n, Audience::One(1));
        }
        assert!(cursors[0].1.own_bytes > 0 && log.bytes() > 0);
        let (key, cursor) = &mut cursors[0];
        log.drop_own(*key, cursor);
        assert_eq!((cursor.own_bytes, log.bytes()), (0, 0));
        assert_eq!(seqs(log.replay(1, Wire::Partyline, cursor, 2)), None);
        assert_eq!(seqs(log.replay(1, Wire::Partyline, cursor, 5)), Some(vec![]));
    }
}
