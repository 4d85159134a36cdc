//! SyncPlay: the group's playback state, decided here and applied by every device at the same
//! server time.
//!
//! Every change becomes a [`PlayState`] `{entry, position, serverTime, rate, paused}` that takes
//! effect at a moment far enough ahead that the message reaches every member first (see
//! [`SyncPlay::lead_time`]). Starting an entry waits for the members to report ready, up to a
//! timeout or the host's "start anyway"; after that, a device that is late or stalls catches up
//! on its own, from the state, and the group never pauses for it.

use std::collections::HashSet;

use partyline_protocol::client::PlayCommand;
use partyline_protocol::{GroupState, LibraryItem, Permissions, PlayState, QueueEntry};

use crate::durable::PlayRecord;
use crate::library::Library;
use crate::{MILLISECOND, SECOND, Time};

/// How long a start waits for every device to be ready. Long enough for a phone on a busy
/// Wi-Fi to fetch the first seconds of a song; short enough that nobody wonders whether the
/// tap worked.
pub const READY_TIMEOUT: Time = 8 * SECOND;

/// The least lead time: a browser needs time to seek and arm a media element, even on a
/// network with no delay at all.
pub const MIN_LEAD: Time = 300 * MILLISECOND;

/// The most lead time: past two seconds a command feels broken, and a member that slow
/// catches up on its own anyway.
pub const MAX_LEAD: Time = 2 * SECOND;

/// The longest queue: a night of music is a hundred or two songs; 500 is room to spare, and it
/// bounds the state every `syncplay.state` carries (about 25 KB at 500) and what members with
/// queue permission can make the host hold.
pub const MAX_QUEUE: usize = 500;

/// What a command changed, and so what to tell the members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing (a pause while paused): send nothing.
    Nothing,
    /// Only the queue, by this one step: send the step (`syncplay.queue`), not the whole state.
    Queue(QueueChange),
    /// The playback state: send `syncplay.state`.
    State,
}

/// One step of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueChange {
    /// This entry was inserted at this index.
    Added {
        /// The new entry.
        entry: QueueEntry,
        /// Where it is now.
        index: usize,
    },
    /// The entry with this id was removed.
    Removed {
        /// Its id.
        entry_id: String,
    },
}

/// Who gave a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The host (its own UI): may do anything.
    Host,
    /// A member, by its session key.
    Member(u64),
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlayError {
    /// The host has not let members do this.
    #[error("only the host may {0}")]
    NotAllowed(&'static str),
    /// No library item with this id.
    #[error("no library item {0}")]
    UnknownItem(String),
    /// No queue entry with this id.
    #[error("no queue entry {0}")]
    UnknownEntry(String),
    /// The command needs something to play.
    #[error("nothing to play: the queue is empty")]
    NothingToPlay,
    /// The queue already holds [`MAX_QUEUE`] entries.
    #[error("the queue is full ({MAX_QUEUE} entries); remove some first")]
    QueueFull,
}

/// The group's playback.
#[derive(Debug)]
pub struct SyncPlay {
    state: GroupState,
    queue: Vec<QueueEntry>,
    current: Option<usize>,
    /// Position (ms) at `anchor`.
    position: f64,
    anchor: Time,
    rate: f64,
    revision: u64,
    next_entry: u64,
    permissions: Permissions,
    library: Library,
    /// While waiting: the members that reported ready, and when to start regardless.
    ready: HashSet<u64>,
    ready_deadline: Option<Time>,
}

impl Default for SyncPlay {
    fn default() -> Self {
        SyncPlay {
            state: GroupState::Idle,
            queue: Vec::new(),
            current: None,
            position: 0.0,
            anchor: 0,
            rate: 1.0,
            revision: 0,
            next_entry: 0,
            permissions: Permissions::default(),
            library: Library::default(),
            ready: HashSet::new(),
            ready_deadline: None,
        }
    }
}

impl SyncPlay {
    /// The state as devices receive it.
    pub fn state(&self) -> PlayState {
        let entry = self.current.map(|i| &self.queue[i]);
        PlayState {
            state: self.state,
            entry_id: entry.map(|e| e.entry_id.clone()),
            item_id: entry.map(|e| e.item_id.clone()),
            position: self.position,
            server_time: self.anchor,
            rate: self.rate,
            paused: self.state != GroupState::Playing,
            queue: self.queue.clone(),
            revision: self.revision,
            permissions: self.permissions,
        }
    }

    /// The queue and where playback is, for the store.
    pub fn record(&self) -> PlayRecord {
        PlayRecord {
            state: self.state,
            queue: self.queue.clone(),
            current: self.current,
            position: self.position,
            anchor: self.anchor,
            rate: self.rate,
            revision: self.revision,
            next_entry: self.next_entry,
            permissions: self.permissions,
        }
    }

    /// SyncPlay as a restarted host picks it up at `now`. A group that was playing (or waiting
    /// to start) continues from where it had got to at `saved_at` (the store's last write): it
    /// waits for the devices again, at that position, as a start does (its ready barrier, at most
    /// [`READY_TIMEOUT`]), because every phone has to reconnect and load the item first. A paused
    /// group stays paused where it was; an idle one idle. The library is the caller's to set.
    pub fn restore(record: PlayRecord, now: Time, saved_at: Time) -> SyncPlay {
        let mut play = SyncPlay {
            state: record.state,
            queue: record.queue,
            current: record.current,
            position: record.position,
            anchor: record.anchor,
            rate: record.rate,
            revision: record.revision,
            next_entry: record.next_entry,
            permissions: record.permissions,
            ..SyncPlay::default()
        };
        if play.current.is_none_or(|current| current >= play.queue.len()) {
            play.stop();
            return play;
        }
        match play.state {
            GroupState::Playing => {
                let reached = play.position_at(saved_at);
                let index = play.current.expect("checked above");
                play.begin(now, index, reached);
                play.revision += 1;
            }
            GroupState::Waiting => {
                let index = play.current.expect("checked above");
                play.begin(now, index, play.position);
                play.revision += 1;
            }
            GroupState::Paused | GroupState::Idle => {}
        }
        play
    }

    /// The shared library.
    pub fn library(&self) -> &[LibraryItem] {
        self.library.items()
    }

    /// The shared library, with its pages and search.
    pub fn catalog(&self) -> &Library {
        &self.library
    }

    /// Where playback is (ms) at server time `at`.
    pub fn position_at(&self, at: Time) -> f64 {
        if self.state == GroupState::Playing && at > self.anchor {
            self.position + (at - self.anchor) as f64 / MILLISECOND as f64 * self.rate
        } else {
            self.position
        }
    }

    /// When a pending start should happen regardless of readiness.
    pub fn ready_deadline(&self) -> Option<Time> {
        self.ready_deadline
    }

    /// How far ahead a change is scheduled: twice the slowest member's round trip plus 100 ms
    /// of margin for Wi-Fi jitter, within [`MIN_LEAD`]..=[`MAX_LEAD`]. Twice the round trip is
    /// Jellyfin's rule; its 500 ms floor is ours lowered to 300 ms, because our members keep
    /// their clocks synced continuously rather than from a handful of samples.
    pub fn lead_time(max_rtt: Option<Time>) -> Time {
        let wanted = max_rtt.map_or(0, |rtt| 2 * rtt + 100 * MILLISECOND);
        wanted.clamp(MIN_LEAD, MAX_LEAD)
    }

    /// Replaces the library. Queue entries of items no longer shared stay until removed.
    pub fn set_library(&mut self, items: Vec<LibraryItem>) {
        self.library.set(items);
    }

    /// Sets what members may do.
    pub fn set_permissions(&mut self, permissions: Permissions) {
        self.permissions = permissions;
        self.revision += 1;
    }

    /// Applies a command at `now`, to take effect at `now + lead`. Returns what changed (and so
    /// what to send).
    pub fn command(&mut self, now: Time, lead: Time, actor: Actor, command: PlayCommand) -> Result<Change, PlayError> {
        self.check_allowed(actor, &command)?;
        let at = now + lead;
        match command {
            PlayCommand::Play { item_id: Some(item_id), position } => {
                let index = match self.queue.iter().position(|e| e.item_id == item_id) {
                    Some(index) => index,
                    None => self.enqueue(&item_id)?,
                };
                self.begin(now, index, position.unwrap_or(0.0));
            }
            PlayCommand::Play { item_id: None, position } => match self.state {
                GroupState::Playing => match position {
                    Some(position) => self.rebase(at, position),
                    None => return Ok(Change::Nothing),
                },
                GroupState::Paused => {
                    self.position = position.unwrap_or(self.position);
                    self.anchor = at;
                    self.state = GroupState::Playing;
                }
                GroupState::Waiting => self.start(now, lead),
                GroupState::Idle => {
                    if self.queue.is_empty() {
                        return Err(PlayError::NothingToPlay);
                    }
                    self.begin(now, 0, position.unwrap_or(0.0));
                }
            },
            PlayCommand::Pause => match self.state {
                GroupState::Playing => {
                    self.position = self.position_at(at);
                    self.anchor = at;
                    self.state = GroupState::Paused;
                }
                GroupState::Waiting => {
                    self.state = GroupState::Paused;
                    self.ready_deadline = None;
                }
                GroupState::Paused | GroupState::Idle => return Ok(Change::Nothing),
            },
            PlayCommand::Seek { position } => match self.state {
                GroupState::Playing => self.rebase(at, position),
                GroupState::Idle => return Err(PlayError::NothingToPlay),
                GroupState::Paused | GroupState::Waiting => self.position = position,
            },
            PlayCommand::SetRate { rate } => {
                if self.state == GroupState::Playing {
                    self.position = self.position_at(at);
                    self.anchor = at;
                }
                self.rate = rate;
            }
            PlayCommand::Next | PlayCommand::Previous => {
                let current = self.current.ok_or(PlayError::NothingToPlay)?;
                let target = if matches!(command, PlayCommand::Next) {
                    current + 1
                } else if self.position_at(now) > 3000.0 {
                    current // "previous" past the first seconds restarts the entry, as players do
                } else {
                    current.saturating_sub(1)
                };
                if target >= self.queue.len() {
                    self.stop();
                } else if self.state == GroupState::Playing || self.state == GroupState::Waiting {
                    self.begin(now, target, 0.0);
                } else {
                    self.current = Some(target);
                    self.position = 0.0;
                    self.state = GroupState::Paused;
                }
            }
            PlayCommand::QueueAdd { item_id } => {
                let index = self.enqueue(&item_id)?;
                self.revision += 1;
                return Ok(Change::Queue(QueueChange::Added { entry: self.queue[index].clone(), index }));
            }
            PlayCommand::QueueRemove { entry_id } => {
                let index = self
                    .queue
                    .iter()
                    .position(|e| e.entry_id == entry_id)
                    .ok_or_else(|| PlayError::UnknownEntry(entry_id.clone()))?;
                self.queue.remove(index);
                match self.current {
                    Some(current) if current == index => {
                        if index < self.queue.len() && self.state != GroupState::Paused {
                            self.begin(now, index, 0.0);
                        } else {
                            self.stop();
                        }
                    }
                    Some(current) if current > index => self.current = Some(current - 1),
                    _ => {
                        self.revision += 1;
                        return Ok(Change::Queue(QueueChange::Removed { entry_id }));
                    }
                }
            }
            PlayCommand::StartAnyway => {
                if self.state != GroupState::Waiting {
                    return Ok(Change::Nothing);
                }
                self.start(now, lead);
            }
        }
        self.revision += 1;
        Ok(Change::State)
    }

    /// A member reported ready for an entry. Returns true when that completes the barrier
    /// (every member in `members` is ready) and playback was started.
    pub fn ready(&mut self, now: Time, lead: Time, member: u64, entry_id: &str, members: &[u64]) -> bool {
        if self.state != GroupState::Waiting {
            return false;
        }
        let current = self.current.map(|i| self.queue[i].entry_id.as_str());
        if current != Some(entry_id) {
            return false;
        }
        self.ready.insert(member);
        if members.iter().all(|m| self.ready.contains(m)) {
            self.start(now, lead);
            self.revision += 1;
            return true;
        }
        false
    }

    /// The members to wait for changed (one left or dropped): the barrier may now be complete.
    pub fn members_changed(&mut self, now: Time, lead: Time, members: &[u64]) -> bool {
        if self.state == GroupState::Waiting && members.iter().all(|m| self.ready.contains(m)) {
            self.start(now, lead);
            self.revision += 1;
            return true;
        }
        false
    }

    /// The ready timeout passed: start with whoever is ready. Returns whether it started.
    pub fn handle_timeout(&mut self, now: Time, lead: Time) -> bool {
        if self.state == GroupState::Waiting && self.ready_deadline.is_some_and(|deadline| deadline <= now) {
            self.start(now, lead);
            self.revision += 1;
            return true;
        }
        false
    }

    fn check_allowed(&self, actor: Actor, command: &PlayCommand) -> Result<(), PlayError> {
        let Actor::Member(_) = actor else { return Ok(()) };
        match command {
            PlayCommand::QueueAdd { .. } | PlayCommand::QueueRemove { .. } if !self.permissions.queue => {
                Err(PlayError::NotAllowed("change the queue"))
            }
            PlayCommand::StartAnyway => Err(PlayError::NotAllowed("start without waiting")),
            PlayCommand::QueueAdd { .. } | PlayCommand::QueueRemove { .. } => Ok(()),
            _ if !self.permissions.playback => Err(PlayError::NotAllowed("control playback")),
            _ => Ok(()),
        }
    }

    fn enqueue(&mut self, item_id: &str) -> Result<usize, PlayError> {
        if !self.library.contains(item_id) {
            return Err(PlayError::UnknownItem(item_id.to_string()));
        }
        if self.queue.len() >= MAX_QUEUE {
            return Err(PlayError::QueueFull);
        }
        self.next_entry += 1;
        self.queue.push(QueueEntry { entry_id: format!("q-{}", self.next_entry), item_id: item_id.to_string() });
        Ok(self.queue.len() - 1)
    }

    /// Chooses an entry and waits for the devices to load it.
    fn begin(&mut self, now: Time, index: usize, position: f64) {
        self.current = Some(index);
        self.position = position;
        self.anchor = now;
        self.state = GroupState::Waiting;
        self.ready.clear();
        self.ready_deadline = Some(now + READY_TIMEOUT);
    }

    /// Starts playing at `now + lead` from the current position.
    fn start(&mut self, now: Time, lead: Time) {
        self.anchor = now + lead;
        self.state = GroupState::Playing;
        self.ready_deadline = None;
    }

    /// A seek while playing: from `position` at `at`.
    fn rebase(&mut self, at: Time, position: f64) {
        self.position = position;
        self.anchor = at;
    }

    fn stop(&mut self) {
        self.current = None;
        self.position = 0.0;
        self.state = GroupState::Idle;
        self.ready_deadline = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library() -> Vec<LibraryItem> {
        (1..=3)
            .map(|n| LibraryItem {
                id: format!("t-{n}"),
                title: format!("Track {n}"),
                mime: "audio/mpeg".into(),
                url: format!("/media/t-{n}"),
                size: 1000,
                ..LibraryItem::default()
            })
            .collect()
    }

    fn play(item: &str) -> PlayCommand {
        PlayCommand::Play { item_id: Some(item.into()), position: None }
    }

    /// The lead time follows the slowest member, within its bounds.
    #[test]
    fn lead_time_bounds() {
        assert_eq!(SyncPlay::lead_time(None), MIN_LEAD);
        assert_eq!(SyncPlay::lead_time(Some(20 * MILLISECOND)), MIN_LEAD);
        assert_eq!(SyncPlay::lead_time(Some(300 * MILLISECOND)), 700 * MILLISECOND);
        assert_eq!(SyncPlay::lead_time(Some(5 * SECOND)), MAX_LEAD);
    }

    /// Position advances at the rate from the anchor while playing, and holds while paused.
    #[test]
    fn position_arithmetic() {
        let mut sp = SyncPlay::default();
        sp.set_library(library());
        sp.command(0, MIN_LEAD, Actor::Host, play("t-1")).unwrap();
        sp.command(0, MIN_LEAD, Actor::Host, PlayCommand::StartAnyway).unwrap();
        assert_eq!(sp.state().server_time, MIN_LEAD);
        assert_eq!(sp.position_at(MIN_LEAD + SECOND), 1000.0);
        sp.command(MIN_LEAD + SECOND, MIN_LEAD, Actor::Host, PlayCommand::SetRate { rate: 2.0 }).unwrap();
        // Rate changes at now + lead, with the position continuous there.
        let at = MIN_LEAD + SECOND + MIN_LEAD;
        assert_eq!(sp.position_at(at), 1300.0);
        assert_eq!(sp.position_at(at + SECOND), 3300.0);
        sp.command(at + SECOND, MIN_LEAD, Actor::Host, PlayCommand::Pause).unwrap();
        let paused_at = sp.position_at(at + SECOND + MIN_LEAD);
        assert_eq!(paused_at, 3900.0);
        assert_eq!(sp.position_at(at + 100 * SECOND), 3900.0, "paused holds");
        assert!(sp.state().paused);
    }

    /// Members may not control playback or the queue until the host allows it; the host may.
    #[test]
    fn permissions() {
        let mut sp = SyncPlay::default();
        sp.set_library(library());
        let member = Actor::Member(1);
        assert_eq!(sp.command(0, 0, member, play("t-1")), Err(PlayError::NotAllowed("control playback")));
        let add = PlayCommand::QueueAdd { item_id: "t-2".into() };
        assert_eq!(sp.command(0, 0, member, add.clone()), Err(PlayError::NotAllowed("change the queue")));
        assert!(matches!(sp.command(0, 0, Actor::Host, add.clone()), Ok(Change::Queue(_))));
        sp.set_permissions(Permissions { playback: false, queue: true });
        assert!(matches!(sp.command(0, 0, member, add), Ok(Change::Queue(_))));
        assert_eq!(sp.command(0, 0, member, PlayCommand::Pause), Err(PlayError::NotAllowed("control playback")));
        sp.set_permissions(Permissions { playback: true, queue: true });
        assert_eq!(sp.command(0, 0, member, play("t-1")), Ok(Change::State));
        assert_eq!(
            sp.command(0, 0, member, PlayCommand::StartAnyway),
            Err(PlayError::NotAllowed("start without waiting"))
        );
    }

    /// Unknown items and entries are refused with their id.
    #[test]
    fn unknown_ids() {
        let mut sp = SyncPlay::default();
        sp.set_library(library());
        assert_eq!(sp.command(0, 0, Actor::Host, play("nope")), Err(PlayError::UnknownItem("nope".into())));
        let remove = PlayCommand::QueueRemove { entry_id: "q-9".into() };
        assert_eq!(sp.command(0, 0, Actor::Host, remove), Err(PlayError::UnknownEntry("q-9".into())));
        let resume = PlayCommand::Play { item_id: None, position: None };
        assert_eq!(sp.command(0, 0, Actor::Host, resume), Err(PlayError::NothingToPlay));
    }

    /// Next and previous walk the queue; past the end it stops; "previous" after 3 s restarts.
    #[test]
    fn queue_walk() {
        let mut sp = SyncPlay::default();
        sp.set_library(library());
        for id in ["t-1", "t-2"] {
            sp.command(0, 0, Actor::Host, PlayCommand::QueueAdd { item_id: id.into() }).unwrap();
        }
        sp.command(0, 0, Actor::Host, PlayCommand::Play { item_id: None, position: None }).unwrap();
        assert_eq!(sp.state().entry_id.as_deref(), Some("q-1"));
        sp.command(0, 0, Actor::Host, PlayCommand::StartAnyway).unwrap();
        sp.command(SECOND, 0, Actor::Host, PlayCommand::Next).unwrap();
        assert_eq!((sp.state().entry_id.as_deref(), sp.state().state), (Some("q-2"), GroupState::Waiting));
        sp.command(SECOND, 0, Actor::Host, PlayCommand::StartAnyway).unwrap();
        sp.command(10 * SECOND, 0, Actor::Host, PlayCommand::Previous).unwrap();
        assert_eq!(sp.state().entry_id.as_deref(), Some("q-2"), "restart after 3 s");
        sp.command(10 * SECOND, 0, Actor::Host, PlayCommand::Previous).unwrap();
        assert_eq!(sp.state().entry_id.as_deref(), Some("q-1"));
        sp.command(10 * SECOND, 0, Actor::Host, PlayCommand::Next).unwrap();
        sp.command(10 * SECOND, 0, Actor::Host, PlayCommand::Next).unwrap();
        assert_eq!(sp.state().state, GroupState::Idle, "past the end");
    }

    /// The queue holds at most MAX_QUEUE entries; adding and removing a non-current entry are
    /// queue steps, each a new revision.
    #[test]
    fn queue_is_bounded_and_changes_are_steps() {
        let mut sp = SyncPlay::default();
        sp.set_library(library());
        let add = || PlayCommand::QueueAdd { item_id: "t-1".into() };
        let first = sp.command(0, 0, Actor::Host, add()).unwrap();
        let entry = QueueEntry { entry_id: "q-1".into(), item_id: "t-1".into() };
        assert_eq!(first, Change::Queue(QueueChange::Added { entry, index: 0 }));
        for _ in 1..MAX_QUEUE {
            sp.command(0, 0, Actor::Host, add()).unwrap();
        }
        assert_eq!(sp.command(0, 0, Actor::Host, add()), Err(PlayError::QueueFull));
        assert_eq!(sp.command(0, 0, Actor::Host, play("t-2")), Err(PlayError::QueueFull), "play needs a place too");
        let revision = sp.state().revision;
        let removed = sp.command(0, 0, Actor::Host, PlayCommand::QueueRemove { entry_id: "q-7".into() }).unwrap();
        assert_eq!(removed, Change::Queue(QueueChange::Removed { entry_id: "q-7".into() }));
        assert_eq!((sp.state().queue.len(), sp.state().revision), (MAX_QUEUE - 1, revision + 1));
    }
}
