//! The glue between members and [`crate::syncplay`]: commands, progress reports, the ready
//! barrier, and the lead time from the members' round trips.

use super::*;

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
        self.order.iter().copied().filter(|key| self.members[key].ext() && self.members[key].conn.is_some()).collect()
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
    }

    pub(super) fn play_changed(&mut self, now: Time) {
        let state = self.syncplay.state();
        let message = ServerMessage::SyncplayState { timestamp: now / MILLISECOND, state: state.clone() };
        self.broadcast(&Outgoing::new(&message), None);
        self.events.push_back(Event::SyncPlay(state));
    }

    /// A SyncPlay command from the host.
    pub fn syncplay_command(&mut self, now: Time, command: PlayCommand) -> Result<(), SessionError> {
        self.check_open()?;
        Ok(self.play(now, Actor::Host, command)?)
    }

    /// Shares a library: `library.update` to every extension member.
    pub fn set_library(&mut self, now: Time, items: Vec<LibraryItem>) -> Result<(), SessionError> {
        self.check_open()?;
        self.syncplay.set_library(items);
        let message =
            ServerMessage::LibraryUpdate { timestamp: now / MILLISECOND, items: self.syncplay.library().to_vec() };
        self.broadcast(&Outgoing::new(&message), None);
        Ok(())
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
