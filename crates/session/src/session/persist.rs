//! The party as records: the journal of durable changes ([`Session::poll_durable`]'s sources),
//! the whole [`Record`] of a session, and [`Session::restore`], which rebuilds one from it.

use super::*;

impl Session {
    /// A session rebuilt at `now` from what a store kept: the same id, name, settings, rooms,
    /// bans, chat (and its counter: line ids never repeat), notifications, SyncPlay queue and
    /// position (see [`SyncPlay::restore`]), and every member that keeps its place when its
    /// connection goes ([`Member::keeps_place`]: not a LOUDSYNC 1.0 one, which is gone with its
    /// connection and joins afresh), each *reconnecting* from `now` with its resume window
    /// armed: its phone resumes with its old secret (`resumed` says `restarted`) and gets a
    /// fresh `welcome` with the chat's and its direct messages' history (the log of sequenced
    /// messages is not kept, so there is nothing to replay); a seed-001 member gets what was
    /// held for it when it is back. A member that was away keeps the mark it left at, so its history
    /// brings what it missed; one that was connected when the host stopped gets the newest
    /// [`HISTORY_MOST`] lines, which hold whatever was on its way to it (the page merges lines
    /// by id). `config`'s id, name and capacity give way to the record's; the library is the
    /// caller's to set again.
    pub fn restore(config: Config, record: Record, now: Time, seed: u64) -> Session {
        let Record { party, members, chat, deleted, notifications, bans, directs, play, saved_at } = record;
        let config = Config {
            session_id: Some(party.id.clone()),
            name: party.name.clone(),
            host_name: party.host_name.clone(),
            max_members: party.max_members,
            ..config
        };
        let mut session = Session::new(config, now, seed);
        session.host.id = party.host_id.clone();
        session.host.joined_at = party.started_ms;
        session.locked = party.locked;
        session.started_ms = party.started_ms;
        session.next_chat = party.next_chat;
        session.next_notification = party.next_notification;
        session.next_guest = party.next_guest;
        session.next_key = party.next_key;
        session.rooms = party.rooms.clone();
        for line in chat {
            session.chat.push(line);
        }
        for n in deleted {
            session.chat.mark_deleted(n);
        }
        let mut directs = directs;
        directs.sort_by_key(|kept| kept.n);
        for kept in directs {
            session.directs.restore(kept);
        }
        session.notifications = notifications.into_iter().rev().take(KEPT_NOTIFICATIONS).rev().collect();
        session.bans = bans.into_iter().map(|ban| (ban.device_id.clone(), ban)).collect();
        session.syncplay = SyncPlay::restore(play, now, saved_at);
        if let Some(deadline) = session.syncplay.ready_deadline() {
            session.arm(deadline, Timer::Ready);
        }
        let kept: HashSet<String> = session.notifications.iter().filter_map(notification_id).collect();
        let mark = session.next_chat.saturating_sub(HISTORY_MOST as u64);
        // One that was connected gets every kept notification (the page merges them by id).
        let notification_mark = session
            .notifications
            .front()
            .and_then(notification_id)
            .map_or(session.next_notification, |id| notification_number(&id).saturating_sub(1));
        let mut members = members;
        members.sort_by_key(|member| member.key);
        for record in members {
            let key = record.key;
            session.next_key = session.next_key.max(key + 1);
            let away = Member::keeps_place_for(record.wire, &record.device_id, false);
            if !away {
                // A LOUDSYNC 1.0 member (or one that named no device) is gone with its
                // connection; its phone joins afresh (its device id makes it the same member).
                session.journal(Durable::MemberGone(key));
                continue;
            }
            let chat_mark = record.chat_mark.unwrap_or(mark);
            let notification_mark = record.notification_mark.unwrap_or(notification_mark);
            let seen = Marks {
                chat: chat_mark,
                directs: record.direct_mark.unwrap_or_else(|| session.directs.count(&record.id)),
                notifications: notification_mark,
            };
            let member = Member {
                id: record.id.clone(),
                name: record.name,
                device_id: record.device_id.clone(),
                joined_at_ms: record.joined_at_ms,
                conn: None,
                addr: record.addr,
                device: record.device,
                wire: record.wire,
                secret: record.secret,
                last_heartbeat: now,
                lost_at: Some(now),
                rtt: None,
                probe: None,
                announced_latency: None,
                stream: Cursor::new(&session.log),
                progress: None,
                topics: record.topics.into_iter().collect(),
                presence: record.presence,
                presence_text: record.presence_text,
                feeds: Default::default(),
                voice: Default::default(),
                held: record.held.into_iter().collect(),
                read: record.read.into_iter().filter(|id| kept.contains(id)).collect(),
                taken: record.taken.into_iter().collect(),
                chat_mark: Some(chat_mark),
                // One that was connected gets its newest direct messages (the page merges them
                // by id): whatever was on its way to it is among them.
                direct_mark: record.direct_mark,
                notification_mark: Some(notification_mark),
                probe_marks: seen,
                seen,
                restored: true,
                // Not stored: a restored partyline/1 member counts as one that plays (a phone),
                // so the first start after a restart waits for the phones coming back.
                player: record.wire == Wire::Partyline,
                library_next: None,
                deep: false,
                listed: None,
            };
            *session.looks.entry(partyline_protocol::names::skeleton(&member.name)).or_default() += 1;
            session.by_id.insert(record.id, key);
            session.by_device.insert(record.device_id, key);
            session.members.insert(key, member);
            session.order.push(key);
            session.arm(now + session.config.resume_window, Timer::Resume(key));
        }
        // What was restored is what the store holds: nothing to journal until it changes.
        session.party_saved = Some(session.party_record());
        session
    }

    /// The whole party as records, as a store would hold it after every change so far: what a
    /// store writes first, and again after a failed write (its rows are then not to be trusted).
    /// `saved_at` is `now`.
    pub fn record(&self, now: Time) -> Record {
        Record {
            party: self.party_record(),
            members: self.order.iter().filter_map(|key| self.member_record(*key)).collect(),
            chat: self.chat.lines().cloned().collect(),
            deleted: self.chat.deleted().collect(),
            notifications: self.notifications.iter().cloned().collect(),
            bans: self.bans(),
            directs: self.directs.lines().cloned().collect(),
            play: self.syncplay.record(),
            saved_at: now,
        }
    }

    /// Forgets the journal: a store that writes [`Session::record`] whole has everything in it.
    pub fn clear_durable(&mut self) {
        self.durable.clear();
        self.dirty.clear();
        self.play_dirty = false;
        self.party_saved = Some(self.party_record());
    }

    /// The party's own record now.
    pub(super) fn party_record(&self) -> PartyRecord {
        PartyRecord {
            id: self.id.clone(),
            name: self.name.clone(),
            host_id: self.host.id.clone(),
            host_name: self.host.name.clone(),
            max_members: self.config.max_members,
            locked: self.locked,
            started_ms: self.started_ms,
            next_chat: self.next_chat,
            next_notification: self.next_notification,
            next_guest: self.next_guest,
            next_key: self.next_key,
            rooms: self.rooms.clone(),
        }
    }

    /// Whether `saved` is the party as it is now (checked at every drain, without building a
    /// record).
    pub(super) fn party_is(&self, saved: &PartyRecord) -> bool {
        saved.name == self.name
            && saved.max_members == self.config.max_members
            && saved.locked == self.locked
            && saved.next_chat == self.next_chat
            && saved.next_notification == self.next_notification
            && saved.next_guest == self.next_guest
            && saved.next_key == self.next_key
            && saved.rooms == self.rooms
            && saved.id == self.id
            && saved.host_id == self.host.id
    }

    /// A member's record now.
    pub(super) fn member_record(&self, key: u64) -> Option<MemberRecord> {
        let member = self.members.get(&key)?;
        Some(MemberRecord {
            key,
            id: member.id.clone(),
            name: member.name.clone(),
            device_id: member.device_id.clone(),
            joined_at_ms: member.joined_at_ms,
            addr: member.addr,
            device: member.device.clone(),
            wire: member.wire,
            secret: member.secret.clone(),
            presence: member.presence,
            presence_text: member.presence_text.clone(),
            topics: member.topics.iter().cloned().collect(),
            read: member.read.iter().cloned().collect(),
            taken: member.taken.iter().copied().collect(),
            chat_mark: member.chat_mark,
            direct_mark: member.direct_mark,
            notification_mark: member.notification_mark,
            held: member.held.iter().cloned().collect(),
        })
    }

    /// A member's durable fields changed: its record is journaled at the next drain.
    pub(super) fn touch(&mut self, key: u64) {
        if self.config.durable {
            self.dirty.insert(key);
        }
    }

    /// Journals a change that is not a record "as it is now" (a line, a ban, a member gone).
    pub(super) fn journal(&mut self, change: Durable) {
        if self.config.durable {
            if let Durable::MemberGone(key) = change {
                self.dirty.remove(&key);
            }
            self.durable.push_back(change);
        }
    }

    /// SyncPlay changed: journaled at the next drain.
    pub(super) fn touch_play(&mut self) {
        self.play_dirty = self.config.durable;
    }
}

/// A notification's number, from its id (`n-<n>`).
pub(super) fn notification_number(id: &str) -> u64 {
    id.strip_prefix("n-").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0)
}

/// A kept notification's id.
fn notification_id(message: &ServerMessage) -> Option<String> {
    match message {
        ServerMessage::Notification { id, .. } => Some(id.clone()),
        _ => None,
    }
}
