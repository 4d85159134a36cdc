//! The party's direct messages, kept so that a member back from an absence the log no longer
//! covers, or from a restart, gets what was said to it: per member the newest
//! [`KEPT_DIRECTS`], to and from it. A message is kept once, for both its members, and goes
//! when neither keeps it (each dropped its oldest past the bound, or left the party).
//!
//! Each member counts the messages it took part in (its *ordinal*): a member's mark is its
//! count when its connection went, so what it missed is what it has numbered above its mark,
//! and what is no longer kept of that is a count, not a guess.

use std::collections::{BTreeMap, HashMap, VecDeque};

use partyline_protocol::DirectLine;
pub use partyline_protocol::KEPT_DIRECTS;

/// One direct message as the party keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptDirect {
    /// The party's number for it: the order messages were taken in.
    pub n: u64,
    /// The message.
    pub line: DirectLine,
    /// Its place among the sender's messages (1 for its first).
    pub from_ord: u64,
    /// Its place among the recipient's messages.
    pub to_ord: u64,
}

impl KeptDirect {
    /// Its place among `member`'s messages.
    pub fn ord_for(&self, member: &str) -> u64 {
        if self.line.from == member { self.from_ord } else { self.to_ord }
    }

    /// The members it is kept for: the sender and the recipient (one, for a note to oneself).
    fn members(&self) -> impl Iterator<Item = &str> {
        let to = (self.line.to != self.line.from).then_some(self.line.to.as_str());
        std::iter::once(self.line.from.as_str()).chain(to)
    }
}

/// One member's messages: the numbers it keeps, oldest first, and how many it ever took part in.
#[derive(Debug, Default)]
struct Kept {
    numbers: VecDeque<u64>,
    count: u64,
}

/// The kept messages, by number and by member.
#[derive(Debug)]
pub struct DirectStore {
    lines: BTreeMap<u64, KeptDirect>,
    members: HashMap<String, Kept>,
    next: u64,
    capacity: usize,
}

impl Default for DirectStore {
    fn default() -> Self {
        DirectStore::new(KEPT_DIRECTS)
    }
}

impl DirectStore {
    /// An empty store keeping at most `capacity` messages per member.
    pub fn new(capacity: usize) -> DirectStore {
        DirectStore { lines: BTreeMap::new(), members: HashMap::new(), next: 0, capacity: capacity.max(1) }
    }

    /// Keeps a new message; returns it as kept and the numbers no longer kept for anyone.
    pub fn push(&mut self, line: DirectLine) -> (KeptDirect, Vec<u64>) {
        self.next += 1;
        let n = self.next;
        let ord = |store: &mut DirectStore, member: &str| {
            let kept = store.members.entry(member.to_string()).or_default();
            kept.count += 1;
            kept.count
        };
        let from_ord = ord(self, &line.from);
        let to_ord = if line.to == line.from { from_ord } else { ord(self, &line.to) };
        let kept = KeptDirect { n, line, from_ord, to_ord };
        let gone = self.keep(kept.clone());
        (kept, gone)
    }

    /// Puts back a message a store kept (oldest first), with its numbers and ordinals.
    pub fn restore(&mut self, kept: KeptDirect) {
        self.next = self.next.max(kept.n);
        for member in kept.members() {
            let count = &mut self.members.entry(member.to_string()).or_default().count;
            *count = (*count).max(kept.ord_for(member));
        }
        self.keep(kept);
    }

    fn keep(&mut self, kept: KeptDirect) -> Vec<u64> {
        let mut dropped = Vec::new();
        let members: Vec<String> = kept.members().map(str::to_string).collect();
        for member in &members {
            let list = &mut self.members.entry(member.clone()).or_default().numbers;
            list.push_back(kept.n);
            if list.len() > self.capacity {
                dropped.extend(list.pop_front());
            }
        }
        self.lines.insert(kept.n, kept);
        dropped.into_iter().filter(|n| self.release(*n)).collect()
    }

    /// Forgets a message that one of its members no longer keeps, if the other does not either.
    /// Returns whether it went.
    fn release(&mut self, n: u64) -> bool {
        let Some(kept) = self.lines.get(&n) else { return false };
        let held = kept.members().any(|member| self.members.get(member).is_some_and(|m| m.numbers.contains(&n)));
        if !held {
            self.lines.remove(&n);
        }
        !held
    }

    /// A member left the party: its side of every message goes. Returns the numbers no longer
    /// kept for anyone.
    pub fn forget(&mut self, member: &str) -> Vec<u64> {
        let Some(kept) = self.members.remove(member) else { return Vec::new() };
        kept.numbers.into_iter().filter(|n| self.release(*n)).collect()
    }

    /// How many messages `member` ever took part in: its mark when its connection goes.
    pub fn count(&self, member: &str) -> u64 {
        self.members.get(member).map_or(0, |kept| kept.count)
    }

    /// Every kept message, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = &KeptDirect> {
        self.lines.values()
    }

    /// How many messages are kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// What a member being welcomed gets: with `since` (its mark: back from an absence), every
    /// kept message it numbered above it; without (a fresh `welcome`), its newest. At most
    /// `max_bytes` of payloads either way, the newest kept first; oldest first. And how many it
    /// numbered above `since` are not in it (dropped for room, or over `max_bytes`).
    pub fn history(&self, member: &str, since: Option<u64>, max_bytes: usize) -> (Vec<&DirectLine>, u64) {
        let Some(kept) = self.members.get(member) else { return (Vec::new(), 0) };
        let after = since.unwrap_or(0);
        let mut lines = Vec::new();
        let mut bytes = 0;
        let mut over = 0;
        for n in kept.numbers.iter().rev() {
            let Some(line) = self.lines.get(n) else { continue };
            if line.ord_for(member) <= after {
                break;
            }
            // The payload's size as JSON and ~100 bytes of envelope: what the frame carries.
            let size = serde_json::to_string(&line.line.payload).map_or(0, |json| json.len()) + 100;
            if bytes + size > max_bytes || over > 0 {
                over += 1;
                continue;
            }
            bytes += size;
            lines.push(&line.line);
        }
        lines.reverse();
        let Some(since) = since else { return (lines, 0) };
        // Numbered above `since` but no longer kept: those before its oldest kept one.
        let oldest = kept.numbers.front().and_then(|n| self.lines.get(n)).map_or(kept.count + 1, |l| l.ord_for(member));
        let dropped = oldest.saturating_sub(since + 1);
        (lines, dropped + over)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dm(from: &str, to: &str, n: u32) -> DirectLine {
        DirectLine {
            id: format!("d-{n}"),
            from: from.into(),
            to: to.into(),
            payload: serde_json::json!({"text": format!("t{n}")}),
            timestamp: u64::from(n),
        }
    }

    fn ids(lines: &[&DirectLine]) -> Vec<String> {
        lines.iter().map(|line| line.id.clone()).collect()
    }

    /// Each member keeps its newest messages; a message goes only when neither of its members
    /// keeps it, and a member that leaves takes its side with it.
    #[test]
    fn bounded_per_member() {
        let mut store = DirectStore::new(3);
        for n in 1..=3 {
            store.push(dm("a", "b", n));
        }
        let (_, gone) = store.push(dm("a", "c", 4));
        assert_eq!(gone, Vec::<u64>::new(), "b still keeps 1");
        let (_, gone) = store.push(dm("b", "c", 5));
        assert_eq!(gone, vec![1], "a dropped 1 for 4, b for 5");
        assert_eq!((store.count("a"), store.count("b"), store.count("c")), (4, 4, 2));
        assert_eq!(store.forget("c"), Vec::<u64>::new(), "4 and 5 are a's and b's too");
        let mut gone = store.forget("a");
        gone.sort();
        assert_eq!(gone, vec![4], "only a kept 4 (c left)");
        assert_eq!(store.len(), 3, "2, 3 and 5 are b's");
    }

    /// A member back from an absence gets what it numbered above its mark, in order, and the
    /// count of what is gone; a fresh welcome its newest; a byte bound keeps the newest.
    #[test]
    fn history_since_a_mark() {
        let mut store = DirectStore::new(4);
        for n in 1..=2 {
            store.push(dm("a", "b", n));
        }
        let mark = store.count("b");
        for n in 3..=8 {
            store.push(if n % 2 == 0 { dm("b", "a", n) } else { dm("a", "b", n) });
        }
        let (lines, missed) = store.history("b", Some(mark), usize::MAX);
        assert_eq!((ids(&lines), missed), (vec!["d-5".into(), "d-6".into(), "d-7".into(), "d-8".into()], 2));
        let (lines, missed) = store.history("b", Some(6), usize::MAX);
        assert_eq!((ids(&lines), missed), (vec!["d-7".into(), "d-8".into()], 0), "kept since 6: nothing gone");
        let (lines, missed) = store.history("b", Some(8), usize::MAX);
        assert_eq!((lines.len(), missed), (0, 0), "nothing new");
        let (lines, missed) = store.history("b", None, usize::MAX);
        assert_eq!((lines.len(), missed), (4, 0), "a fresh welcome: the newest kept");
        let (lines, missed) = store.history("b", Some(6), 120);
        assert_eq!((ids(&lines), missed), (vec!["d-8".into()], 1), "over the bytes: the newest, one counted");
        let (lines, _) = store.history("z", None, usize::MAX);
        assert!(lines.is_empty(), "a member with none");
    }

    /// Restoring what a store kept gives the same history and counts as before.
    #[test]
    fn restore_is_the_same() {
        let mut store = DirectStore::new(3);
        for n in 1..=5 {
            store.push(dm("a", "b", n));
        }
        store.push(dm("b", "c", 6));
        let mut back = DirectStore::new(3);
        store.lines().cloned().for_each(|kept| back.restore(kept));
        for member in ["a", "b", "c"] {
            assert_eq!(back.count(member), store.count(member), "{member}'s count");
            assert_eq!(back.history(member, Some(1), usize::MAX), store.history(member, Some(1), usize::MAX));
        }
        let (kept, _) = back.push(dm("a", "b", 7));
        assert_eq!((kept.n, kept.from_ord), (7, 6), "numbers go on");
    }
}
