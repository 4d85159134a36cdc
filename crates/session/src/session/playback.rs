//! The glue between members and [`crate::syncplay`]: commands, progress reports, the ready
//! barrier, and the lead time from the members' round trips.

use super::*;

/// Pages of the library a member sent it whole gets in one step: 8 pages are at most ~400 KB
/// (48 KiB each), a few milliseconds of a LAN's bandwidth, and a small share of the 256
/// messages its connection may have queued.
const LIBRARY_PUSH_PAGES: usize = 8;

/// The time between two steps: 20 ms, so that the largest library (10,000 items, 100 pages)
/// arrives in a quarter of a second, in steps a reader that keeps up never sees queue up; one
/// that falls behind is paused when its queue is deep (128 messages, half the limit at which it
/// would be closed) and goes on when it drained.
const LIBRARY_PUSH_INTERVAL: Time = 20 * MILLISECOND;

impl Session {
    pub(super) fn play(&mut self, now: Time, actor: Actor, command: PlayCommand) -> Result<(), PlayError> {
        let lead = self.lead_time();
        match self.syncplay.command(now, lead, actor, command)? {
            Change::Nothing => {}
            Change::Queue(change) => self.queue_changed(now, change),
            Change::State => {
                if let Some(deadline) = self.syncplay.ready_deadline() {
                    self.arm(deadline, Timer::Ready);
                }
                // A start with nobody to wait for begins at once.
                let waiting_for = self.syncplay_members();
                self.syncplay.members_changed(now, lead, &waiting_for);
                self.play_changed(now);
            }
        }
        Ok(())
    }

    pub(super) fn progress(&mut self, now: Time, key: u64, mut progress: PlaybackProgress) {
        if progress.entry_id.is_none() && progress.item_id.is_some() {
            // A client that knows items, not queue entries (Revenge): it is on the group's entry
            // when it plays the group's item.
            let state = self.syncplay.state();
            if state.item_id.is_some() && state.item_id == progress.item_id {
                progress.entry_id = state.entry_id;
            }
        }
        let Some(member) = self.members.get_mut(&key) else { return };
        member.player |= member.ext(); // it reports playback: it plays
        let report = MemberSync {
            member_id: member.id.clone(),
            state: progress.state,
            error_ms: progress.error,
            position: progress.position,
            at: now,
        };
        let ready_for = (progress.state == DeviceState::Ready).then(|| progress.entry_id.clone()).flatten();
        let ended = (progress.state == DeviceState::Ended).then(|| progress.entry_id.clone()).flatten();
        member.progress = Some((progress, now));
        self.events.push_back(Event::PlaybackProgress(report));
        if let Some(entry_id) = ready_for {
            let (lead, members) = (self.lead_time(), self.syncplay_members());
            if self.syncplay.ready(now, lead, key, &entry_id, &members) {
                self.play_changed(now);
            }
        }
        // Every device plays in step, so the first to reach the end speaks for all; a report
        // about an entry that is no longer current (a second device, a late one) changes nothing.
        if let Some(entry_id) = ended {
            let state = self.syncplay.state();
            if state.state == partyline_protocol::GroupState::Playing && state.entry_id.as_deref() == Some(&entry_id) {
                let _ = self.play(now, Actor::Host, PlayCommand::Next);
            }
        }
    }

    /// The members a start waits for: connected extension members.
    pub(super) fn syncplay_members(&self) -> Vec<u64> {
        // Only the members that play: a terminal or a remote in the party must not hold every
        // start for the whole ready timeout.
        self.order
            .iter()
            .copied()
            .filter(|key| {
                let member = &self.members[key];
                member.ext() && member.player && member.conn.is_some()
            })
            .collect()
    }

    pub(super) fn barrier_check(&mut self, now: Time) {
        let (lead, members) = (self.lead_time(), self.syncplay_members());
        if self.syncplay.members_changed(now, lead, &members) {
            self.play_changed(now);
        }
    }

    /// How far ahead to schedule, from the slowest connected extension member's round trip.
    pub(super) fn lead_time(&self) -> Time {
        let max_rtt = self
            .order
            .iter()
            .filter_map(|key| {
                let member = &self.members[key];
                (member.ext() && member.conn.is_some()).then_some(member.rtt).flatten()
            })
            .max();
        SyncPlay::lead_time(max_rtt)
    }

    /// A queue step: `syncplay.queue` to every extension member (a few dozen bytes, where the
    /// whole state grows with the queue), the whole state to the host's UI.
    pub(super) fn queue_changed(&mut self, now: Time, change: QueueChange) {
        let state = self.syncplay.state();
        let (added, index, removed) = match change {
            QueueChange::Added { entry, index } => (Some(entry), Some(index), None),
            QueueChange::Removed { entry_id } => (None, None, Some(entry_id)),
        };
        let message = ServerMessage::SyncplayQueue {
            timestamp: now / MILLISECOND,
            revision: state.revision,
            added,
            index,
            removed,
        };
        self.broadcast(&Outgoing::new(&message), None);
        self.events.push_back(Event::SyncPlay(state));
        self.touch_play();
    }

    pub(super) fn play_changed(&mut self, now: Time) {
        let state = self.syncplay.state();
        let message = ServerMessage::SyncplayState { timestamp: now / MILLISECOND, state: state.clone() };
        self.broadcast(&Outgoing::new(&message), None);
        self.events.push_back(Event::SyncPlay(state));
        self.touch_play();
    }

    /// A SyncPlay command from the host.
    pub fn syncplay_command(&mut self, now: Time, command: PlayCommand) -> Result<(), SessionError> {
        self.check_open()?;
        Ok(self.play(now, Actor::Host, command)?)
    }

    /// Shares a library: `library.update` (its first page and total) to every extension member,
    /// and the rest of it, a page at a time, to the members whose format cannot ask for it.
    pub fn set_library(&mut self, now: Time, items: Vec<LibraryItem>) -> Result<(), SessionError> {
        self.check_open()?;
        self.syncplay.set_library(items);
        let message = self.library_update(now);
        self.broadcast(&Outgoing::new(&message), None);
        for i in 0..self.order.len() {
            let key = self.order[i];
            self.push_library_from(now, key, &message);
        }
        Ok(())
    }

    /// After `update` reached member `key`: when its format is sent the whole library
    /// ([`Wire::pushes_library`]), the pages after the first follow from the next
    /// [`Timer::Library`] on (a new library starts them again from there).
    pub(super) fn push_library_from(&mut self, now: Time, key: u64, update: &ServerMessage) {
        let ServerMessage::LibraryUpdate { total, items, .. } = update else { return };
        let Some(member) = self.members.get_mut(&key) else { return };
        if !member.wire.pushes_library() || member.conn.is_none() {
            return;
        }
        member.library_next = (items.len() < *total).then_some(items.len());
        if member.library_next.is_some() {
            self.arm(now, Timer::Library);
        }
    }

    /// One step of the library's pages to the members sent it whole: up to
    /// [`LIBRARY_PUSH_PAGES`] each, one frame a page shared by the members at the same place,
    /// none to a member whose queue is deep (it goes on once it drained); again after
    /// [`LIBRARY_PUSH_INTERVAL`] while pages are left.
    pub(super) fn push_library(&mut self, now: Time) {
        let mut at: std::collections::BTreeMap<usize, Vec<u64>> = Default::default();
        let mut waiting = false;
        for key in &self.order {
            let member = &self.members[key];
            let Some(next) = member.library_next.filter(|_| member.conn.is_some()) else { continue };
            if member.deep {
                waiting = true;
            } else {
                at.entry(next).or_default().push(*key);
            }
        }
        for (mut offset, keys) in at {
            let library = self.syncplay.catalog();
            let (revision, mut pages) = (library.revision(), Vec::new());
            let mut next = Some(offset);
            for _ in 0..LIBRARY_PUSH_PAGES {
                let page = library.page(None, offset, None);
                if page.items.is_empty() {
                    next = None;
                    break;
                }
                let sent = page.items.len();
                pages.push(ServerMessage::LibraryPage {
                    timestamp: now / MILLISECOND,
                    revision,
                    q: None,
                    offset,
                    total: page.total,
                    items: page.items,
                });
                offset += sent;
                next = (offset < page.total).then_some(offset);
                if next.is_none() {
                    break;
                }
            }
            for page in pages {
                self.broadcast_to(keys.clone(), &Outgoing::new(&page));
            }
            for key in &keys {
                if let Some(member) = self.members.get_mut(key) {
                    member.library_next = next;
                }
            }
            waiting |= next.is_some();
        }
        if waiting {
            self.arm(now + LIBRARY_PUSH_INTERVAL, Timer::Library);
        }
    }

    /// The library's `library.update`: its revision, its total, its first page.
    pub(super) fn library_update(&self, now: Time) -> ServerMessage {
        let library = self.syncplay.catalog();
        let page = library.page(None, 0, None);
        ServerMessage::LibraryUpdate {
            timestamp: now / MILLISECOND,
            revision: library.revision(),
            total: page.total,
            items: page.items,
        }
    }

    /// A member's `library.query`: one `library.page` back, to its connection only.
    pub(super) fn library_query(&mut self, now: Time, conn: ConnId, query: LibraryQuery) {
        let library = self.syncplay.catalog();
        let page = match &query.ids {
            Some(ids) => library.by_ids(ids),
            None => library.page(query.q.as_deref(), query.offset, query.limit),
        };
        let (q, offset) = if query.ids.is_some() { (None, 0) } else { (query.q, query.offset) };
        let message = ServerMessage::LibraryPage {
            timestamp: now / MILLISECOND,
            revision: library.revision(),
            q,
            offset,
            total: page.total,
            items: page.items,
        };
        self.reply(conn, message);
    }

    /// Lets members control playback and/or the queue.
    pub fn set_permissions(&mut self, now: Time, permissions: Permissions) -> Result<(), SessionError> {
        self.check_open()?;
        self.syncplay.set_permissions(permissions);
        self.play_changed(now);
        Ok(())
    }

    /// Acts on one member's device (`remote.command`), e.g. `volume` with `0.5`.
    pub fn remote_command(
        &mut self,
        now: Time,
        member_id: &str,
        command: &str,
        value: Option<serde_json::Value>,
    ) -> Result<(), SessionError> {
        let key = *self.by_id.get(member_id).ok_or_else(|| SessionError::NoSuchMember(member_id.to_string()))?;
        // A 1.0 client gets exactly LOUDSYNC's messages; this is not one of them.
        if !self.members[&key].ext() {
            return Err(SessionError::NoRemote(self.members[&key].name.clone()));
        }
        let message =
            ServerMessage::RemoteCommand { timestamp: now / MILLISECOND, command: command.to_string(), value };
        self.deliver(key, &Outgoing::new(&message));
        Ok(())
    }

    /// A member's `remote.command` for another member's device (Revenge's, with a `targetId`):
    /// allowed only when the host lets members control playback (`Permissions::playback`), and
    /// passed on as the host's own would be. Refusals go back as `error`.
    pub(super) fn remote_from(&mut self, now: Time, conn: ConnId, remote: Remote) {
        if !self.syncplay.state().permissions.playback {
            let message = "remote.command: the host does not let members control playback";
            return self.reply_error(now, conn, ErrorCode::Unauthorized, message, json!({"reason": reason::SYNCPLAY}));
        }
        let Some(target) = remote.target else {
            let message = format!("remote.command: unknown command \"{}\" with no targetId", remote.command);
            return self.reply_error(
                now,
                conn,
                ErrorCode::InvalidMessage,
                message,
                json!({"reason": reason::SYNCPLAY}),
            );
        };
        if let Err(err) = self.remote_command(now, &target, &remote.command, remote.value) {
            let code = match err {
                SessionError::NoSuchMember(_) | SessionError::NoRemote(_) => ErrorCode::RecipientUnavailable,
                _ => ErrorCode::InvalidMessage,
            };
            self.reply_error(now, conn, code, format!("remote.command: {err}"), json!({"to": target}));
        }
    }
}
