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
}

impl ChatStore {
    /// An empty store keeping at most `capacity` lines.
    pub fn new(capacity: usize) -> ChatStore {
        ChatStore { lines: HashMap::new(), order: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// Keeps a new line, dropping the oldest when full.
    pub fn push(&mut self, line: ChatLine) {
        while self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.lines.remove(&old);
            }
        }
        self.order.push_back(line.id.clone());
        self.lines.insert(line.id.clone(), line);
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
        (1..=5).for_each(|n| store.push(line(n)));
        assert_eq!(store.len(), 3);
        assert!(store.get("c-2").is_none() && store.get("c-3").is_some(), "the oldest went first");
        assert_eq!(store.remove("c-4").map(|l| l.id), Some("c-4".into()));
        assert!(store.get("c-4").is_none());
        store.push(line(6));
        store.push(line(7));
        assert_eq!(store.len(), 3, "a removed line frees its place");
        assert!(store.get("c-3").is_none() && store.get("c-5").is_some());
    }
}
