//! The party's chat lines, kept so that they can be edited and deleted (Together's
//! `MESSAGE_UPDATE`/`MESSAGE_DELETE`, partyline/1's `chat.edit`/`chat.delete`): the most recent
//! [`Config::chat_lines`](crate::Config::chat_lines), oldest dropped first. A line that has
//! left can no longer be edited or deleted, and is refused as unknown.

use std::collections::{HashMap, VecDeque};

/// One chat line as the party keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatLine {
    /// Its id, the same in every format.
    pub id: String,
    /// Its room.
    pub room: String,
    /// The author's member id.
    pub from: String,
    /// The author's name when it was said.
    pub name: String,
    /// The words (as edited).
    pub text: String,
    /// When it was said, ms since the Unix epoch.
    pub created_at: u64,
    /// When it was last edited, ms; `None`: never.
    pub edited_at: Option<u64>,
}

/// The kept lines, by id and in order.
#[derive(Debug)]
pub struct ChatStore {
    lines: HashMap<String, ChatLine>,
    order: VecDeque<String>,
    capacity: usize,
    /// The numbers of the last `capacity` deleted lines: a history's count of missed lines
    /// leaves them out (a deleted line is not missing).
    deleted: VecDeque<u64>,
}

impl ChatStore {
    /// An empty store keeping at most `capacity` lines.
    pub fn new(capacity: usize) -> ChatStore {
        ChatStore { lines: HashMap::new(), order: VecDeque::new(), capacity: capacity.max(1), deleted: VecDeque::new() }
    }

    /// Keeps a new line, dropping the oldest when full; returns the ids of those dropped.
    pub fn push(&mut self, line: ChatLine) -> Vec<String> {
        let mut dropped = Vec::new();
        while self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.lines.remove(&old);
                dropped.push(old);
            }
        }
        self.order.push_back(line.id.clone());
        self.lines.insert(line.id.clone(), line);
        dropped
    }

    /// Every kept line, oldest first.
    pub fn lines(&self) -> impl Iterator<Item = &ChatLine> {
        self.order.iter().filter_map(|id| self.lines.get(id))
    }

    /// The numbers of the last deleted lines, oldest first.
    pub fn deleted(&self) -> impl Iterator<Item = u64> + '_ {
        self.deleted.iter().copied()
    }

    /// Remembers that the line numbered `n` was deleted (a store's record of it, on restore).
    pub fn mark_deleted(&mut self, n: u64) {
        if self.deleted.len() == self.capacity {
            self.deleted.pop_front();
        }
        self.deleted.push_back(n);
    }

    /// The line with this id, if it is kept.
    pub fn get(&self, id: &str) -> Option<&ChatLine> {
        self.lines.get(id)
    }

    /// The line with this id, to change it.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut ChatLine> {
        self.lines.get_mut(id)
    }

    /// Forgets a line; returns it.
    pub fn remove(&mut self, id: &str) -> Option<ChatLine> {
        let line = self.lines.remove(id)?;
        self.order.retain(|kept| kept != id);
        self.mark_deleted(number(id));
        Some(line)
    }

    /// How many lines are kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The history a member is sent with its `welcome`: the newest `newest` lines, and every
    /// kept line numbered above `since` (a member back from an absence: the lines said after it
    /// left), at most `most` in all, oldest first; and how many lines numbered above `since`
    /// are not in it (dropped for room, or beyond `most`). Lines are numbered by their id
    /// (`c-<n>`); a deleted line is gone and not counted.
    pub fn history(&self, since: Option<u64>, newest: usize, most: usize) -> (Vec<&ChatLine>, u64) {
        let number = |id: &String| number(id);
        let after = since.map_or(0, |since| self.order.iter().rev().take_while(|id| number(id) > since).count());
        let take = after.max(newest).min(most).min(self.order.len());
        let lines: Vec<&ChatLine> =
            self.order.iter().skip(self.order.len() - take).filter_map(|id| self.lines.get(id)).collect();
        let Some(since) = since else { return (lines, 0) };
        // Lines said after `since` that are not sent: those before the first one sent (or the
        // first kept one), counted from the numbers in between, deleted ones aside.
        let first_sent = self.order.get(self.order.len() - take).map(&number);
        let first_kept_after = self.order.iter().map(number).find(|&n| n > since);
        let missed = match (first_sent, first_kept_after) {
            (Some(sent), Some(kept)) if sent > kept => {
                self.order.iter().map(number).filter(|&n| n > since && n < sent).count() as u64 + self.gone(since, kept)
            }
            (_, Some(kept)) => self.gone(since, kept),
            (_, None) => 0,
        };
        (lines, missed)
    }

    /// How many lines numbered strictly between `since` and `kept` left for room (not deleted).
    fn gone(&self, since: u64, kept: u64) -> u64 {
        let deleted = self.deleted.iter().filter(|&&n| n > since && n < kept).count() as u64;
        (kept - since - 1).saturating_sub(deleted)
    }
}

/// A line's number, from its id (`c-<n>`).
pub fn number(id: &str) -> u64 {
    id.strip_prefix("c-").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u32) -> ChatLine {
        ChatLine {
            id: format!("c-{n}"),
            room: "general".into(),
            from: "m".into(),
            name: "n".into(),
            text: "t".into(),
            created_at: 0,
            edited_at: None,
        }
    }

    /// The store keeps the newest lines up to its capacity and forgets removed ones.
    #[test]
    fn bounded_and_by_id() {
        let mut store = ChatStore::new(3);
        (1..=5).for_each(|n| {
            store.push(line(n));
        });
        assert_eq!(store.len(), 3);
        assert!(store.get("c-2").is_none() && store.get("c-3").is_some(), "the oldest went first");
        assert_eq!(store.remove("c-4").map(|l| l.id), Some("c-4".into()));
        assert!(store.get("c-4").is_none());
        store.push(line(6));
        store.push(line(7));
        assert_eq!(store.len(), 3, "a removed line frees its place");
        assert!(store.get("c-3").is_none() && store.get("c-5").is_some());
    }

    fn ids(lines: &[&ChatLine]) -> Vec<String> {
        lines.iter().map(|line| line.id.clone()).collect()
    }

    /// A fresh join gets the newest lines; a member back from an absence every kept line since
    /// its mark (and the newest), up to the cap, and the count of lines since it that are not
    /// sent: dropped for room, or over the cap.
    #[test]
    fn history_since_a_mark() {
        let mut store = ChatStore::new(10);
        (1..=15).for_each(|n| {
            store.push(line(n)); // 1–5 dropped for room
        });
        let (lines, missed) = store.history(None, 3, 100);
        assert_eq!((ids(&lines), missed), (vec!["c-13".into(), "c-14".into(), "c-15".into()], 0));
        let (lines, missed) = store.history(Some(12), 2, 100);
        assert_eq!((ids(&lines), missed), (vec!["c-13".into(), "c-14".into(), "c-15".into()], 0), "all since 12");
        let (lines, missed) = store.history(Some(2), 2, 100);
        assert_eq!((lines.len(), missed), (10, 3), "3, 4 and 5 are gone");
        let (lines, missed) = store.history(Some(8), 2, 4);
        assert_eq!((ids(&lines)[0].as_str(), missed), ("c-12", 3), "9–11 are over the cap of 4");
        let (lines, missed) = store.history(Some(15), 2, 100);
        assert_eq!((lines.len(), missed), (2, 0), "nothing new: the newest");
        store.remove("c-14");
        let (lines, missed) = store.history(Some(13), 1, 100);
        assert_eq!((ids(&lines), missed), (vec!["c-15".into()], 0), "a deleted line is not missed");
    }
}
