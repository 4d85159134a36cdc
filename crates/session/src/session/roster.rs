//! Members and their connections: join, rejoin, resume, losing a connection, leaving, kicks,
//! and the latency probes.

use super::*;

/// Most latencies in one `latency_update`. Every member whose latency moved was announced to
/// every extension member every 5 s: at 10,000 members up to ~180 KB to each, 1.8 GB a round.
/// 64 entries are ~1.3 KB; the largest changes go first and the rest stay due, so every change
/// is told within a few rounds, and each member's latency is in every fresh `member_list`.
pub const MAX_LATENCIES: usize = 64;

impl Session {
    pub(super) fn join(&mut self, now: Time, conn: ConnId, join: Join, peer: Peer) {
        let wire = match join.protocol_version.as_deref() {
            _ if peer.arrival.is_some() => peer.arrival.as_ref().map_or(Wire::Loudsync, |arrival| arrival.wire),
            None | Some(partyline_protocol::LOUDSYNC_V1) => Wire::Loudsync,
            Some(PARTYLINE_V1) => Wire::Partyline,
            Some(other) => {
                let message = format!("protocol version \"{other}\" is not supported");
                return self.reply_error(
                    now,
                    conn,
                    ErrorCode::VersionMismatch,
                    message,
                    json!({"supported": SUPPORTED_VERSIONS}),
                );
            }
        };
        if !peer.may_join {
            // The host made a new key: the old QR code no longer lets anyone in.
            let message = "That join key is no longer this party's: scan the new QR code";
            self.reply_error(now, conn, ErrorCode::Unauthorized, message, json!({"reason": reason::OLD_KEY}));
            self.conns.remove(&conn);
            return self.close_conn(conn, close::UNAUTHORIZED, "unauthorized");
        }
        if join.session_id != self.id {
            let message = format!("Session {} not found", join.session_id);
            return self.reply_error(
                now,
                conn,
                ErrorCode::SessionNotFound,
                message,
                json!({"sessionId": join.session_id}),
            );
        }
        if self.bans.contains_key(&join.device_info.id) {
            // The host turned this device away: neither a join nor a rejoin brings it back.
            let message = "The host removed this device from the party";
            self.reply_error(now, conn, ErrorCode::Unauthorized, message, json!({"reason": reason::BANNED}));
            self.conns.remove(&conn);
            return self.close_conn(conn, close::KICKED, "banned");
        }
        if let Some(&key) = self.by_device.get(&join.device_info.id) {
            // A device id is a name, not a credential (anyone can send another's): it takes over
            // its member only from the address that member is on. From elsewhere, a connected
            // member keeps its place (LOUDSYNC: "Device must not already be connected"), and a
            // reconnecting one (its resume secret is what proves it) is let go for a fresh join.
            let member = &self.members[&key];
            if member.addr == peer.addr {
                return self.rejoin(now, conn, key, join, wire, peer);
            }
            if member.conn.is_some() {
                let message = "This device is already connected to the session";
                let details = json!({"deviceId": join.device_info.id});
                return self.reply_error(now, conn, ErrorCode::AlreadyJoined, message, details);
            }
            self.remove_member(now, key, LeaveReason::Timeout, None);
        }
        if self.locked {
            let message = "The host has locked the session";
            return self.reply_error(now, conn, ErrorCode::Unauthorized, message, json!({"reason": reason::LOCKED}));
        }
        let from_addr = self.members.values().filter(|member| member.addr == peer.addr).count();
        if from_addr >= self.config.max_members_per_addr {
            let per_addr = self.config.max_members_per_addr;
            let message = format!("Too many members from this address (at most {per_addr})");
            return self.reply_error(
                now,
                conn,
                ErrorCode::SessionFull,
                message,
                json!({"reason": reason::ADDRESS_LIMIT, "maxMembersPerAddress": per_addr}),
            );
        }
        let max = self.config.max_members;
        if self.members.len() as u32 >= max {
            // A reconnecting member holds a place, it does not fill it: when a new guest needs
            // it, the one away longest gives it up (it may still join afresh). Without this,
            // joins that drop at once held every place for the whole resume window.
            let longest_away =
                self.members.iter().filter_map(|(key, member)| member.lost_at.map(|lost_at| (lost_at, *key))).min();
            if let Some((_, key)) = longest_away {
                self.remove_member(now, key, LeaveReason::Timeout, None);
            }
        }
        if self.members.len() as u32 >= max {
            let current = self.members.len();
            let message = format!("Session has reached maximum capacity ({max} members)");
            return self.reply_error(
                now,
                conn,
                ErrorCode::SessionFull,
                message,
                json!({"maxMembers": max, "currentMembers": current}),
            );
        }

        let key = self.next_key;
        self.next_key += 1;
        let id = loop {
            let id = ids::member_id(&mut self.rng);
            if !self.by_id.contains_key(&id) {
                break id;
            }
        };
        let name = self.claim_name(&join.device_info.name);
        let member = Member {
            id: id.clone(),
            name,
            device_id: join.device_info.id.clone(),
            joined_at_ms: now / MILLISECOND,
            conn: Some(conn),
            addr: peer.addr,
            device: peer.device,
            wire,
            secret: wire.extended().then(|| ids::secret(&mut self.rng)),
            last_heartbeat: now,
            lost_at: None,
            rtt: None,
            probe: None,
            announced_latency: None,
            stream: Cursor::new(&self.log),
            progress: None,
            topics: BTreeSet::new(),
            presence: PresenceStatus::Online,
            presence_text: None,
            feeds: Default::default(),
            voice: Default::default(),
            read: BTreeSet::new(),
            held: Default::default(),
            taken: Default::default(),
            chat_mark: None,
            direct_mark: None,
            notification_mark: None,
            probe_marks: Marks { chat: self.next_chat, directs: 0, notifications: self.next_notification },
            seen: Marks { chat: self.next_chat, directs: 0, notifications: self.next_notification },
            restored: false,
            player: wire.extended() && join.player == Some(true),
            library_next: None,
            deep: false,
            listed: None,
        };
        self.members.insert(key, member);
        self.by_id.insert(id, key);
        self.by_device.insert(join.device_info.id, key);
        self.order.push(key);
        self.conns.insert(conn, Conn::Member(key));
        let wire = self.members[&key].wire;
        self.transmits.push_back(Transmit::Attach { conn, wire });
        self.arm_heartbeat(now, key);
        self.touch(key);

        self.welcome(now, key);
        let info = self.members[&key].info();
        let joined = ServerMessage::MemberJoined { timestamp: now / MILLISECOND, member: info.clone() };
        self.broadcast(&Outgoing::new(&joined), Some(key));
        self.events.push_back(Event::MemberJoined(info));
        self.events.push_back(Event::SessionUpdated(self.state()));
        self.send_probe(now, key, conn);
    }

    /// A device that is already a member joined again: it takes over with its new connection
    /// and keeps its member id, so the others see no one leave.
    pub(super) fn rejoin(&mut self, now: Time, conn: ConnId, key: u64, join: Join, wire: Wire, peer: Peer) {
        let ext = wire.extended();
        let stream = Cursor::new(&self.log);
        let old_name = self.members[&key].name.clone();
        self.release_name(&old_name);
        let name = self.claim_name(&join.device_info.name);
        let member = self.members.get_mut(&key).expect("by_device points at a member");
        let device = peer.device;
        let old_conn = member.conn.replace(conn);
        member.deep = false; // a new connection's queue is empty
        let was_reconnecting = member.lost_at.take().is_some();
        let changed = member.name != name || member.device != device;
        member.name = name;
        member.device = device;
        member.wire = wire;
        member.player = ext && join.player == Some(true);
        member.secret = ext.then(|| ids::secret(&mut self.rng));
        member.last_heartbeat = now;
        member.probe = None;
        member.restored = false;
        member.stream = stream;
        member.topics.clear();
        member.feeds = Default::default();
        let had_presence = member.has_presence();
        member.presence = PresenceStatus::Online;
        member.presence_text = None;
        let device_id = member.device_id.clone();
        if let Some(old) = old_conn {
            self.conns.remove(&old);
            let message = "This device joined again on another connection";
            self.reply_error(now, old, ErrorCode::AlreadyJoined, message, json!({"deviceId": device_id}));
            self.close_conn(old, close::REPLACED, "replaced by a new connection");
        }
        self.conns.insert(conn, Conn::Member(key));
        let wire = self.members[&key].wire;
        self.transmits.push_back(Transmit::Attach { conn, wire });
        self.arm_heartbeat(now, key);
        self.welcome(now, key);
        self.touch(key);
        let held = std::mem::take(&mut self.members.get_mut(&key).expect("a member").held);
        if !held.is_empty() {
            self.journal(Durable::HeldSent(key));
        }
        for (frame, expires) in held {
            if expires.is_none_or(|expires| now < expires) {
                self.transmits.push_back(Transmit::Send { conn, frame, seq: None });
            }
        }
        if was_reconnecting || changed {
            self.member_changed(now, key);
        }
        if had_presence {
            self.set_presence(now, key, PresenceStatus::Online, None);
        }
        self.send_probe(now, key, conn);
    }

    /// `welcome`, `hello` (extension) and `member_list` to a member that just joined.
    pub(super) fn welcome(&mut self, now: Time, key: u64) {
        let member = &self.members[&key];
        let (conn, ext) = (member.conn.expect("a joining member is connected"), member.ext());
        let welcome = ServerMessage::Welcome {
            timestamp: now / MILLISECOND,
            client_id: member.id.clone(),
            session_info: SessionInfo { id: self.id.clone(), name: self.name.clone(), host_id: self.host.id.clone() },
            resume_secret: member.secret.clone(),
            photos: ext.then(|| self.photos.iter().cloned().collect()).filter(|photos: &Vec<Photo>| !photos.is_empty()),
        };
        let ready = ServerMessage::Ready {
            timestamp: now / MILLISECOND,
            member: member.info(),
            status: member.presence,
            session: self.state(),
            created_at: self.started_ms,
            rooms: self.rooms(),
        };
        self.send_snapshot(key, &Outgoing::new(&welcome));
        self.reply(conn, ready);
        if ext {
            let hello = ServerMessage::Hello {
                timestamp: now / MILLISECOND,
                protocol_version: PARTYLINE_V1.into(),
                heartbeat_interval: self.config.heartbeat_interval / MILLISECOND,
                heartbeat_timeout: self.config.heartbeat_timeout / MILLISECOND,
                resume_window: self.config.resume_window / MILLISECOND,
                server_time: now,
            };
            self.reply(conn, hello);
        }
        let list = self.member_list(now);
        self.send_snapshot(key, &list);
        if ext {
            let member = self.members.get_mut(&key).expect("a member");
            let (since, directs_since) = (member.chat_mark.take(), member.direct_mark.take());
            let notifications_since = member.notification_mark.take();
            self.send_history(now, key, conn, since, directs_since, notifications_since);
        }
        if ext || self.members[&key].wire == Wire::Revenge {
            // A late joiner learns the library and where playback is, and catches up on its own.
            let library = self.library_update(now);
            self.send_snapshot(key, &Outgoing::new(&library));
            self.push_library_from(now, key, &library);
            let state = ServerMessage::SyncplayState { timestamp: now / MILLISECOND, state: self.syncplay.state() };
            self.send_snapshot(key, &Outgoing::new(&state));
            // And who is away or busy (everyone else is online).
            for i in 0..self.order.len() {
                let other = &self.members[&self.order[i]];
                if other.has_presence() {
                    let update = ServerMessage::PresenceUpdate {
                        timestamp: now / MILLISECOND,
                        member_id: other.id.clone(),
                        status: other.presence,
                        text: other.presence_text.clone(),
                    };
                    self.send_snapshot(key, &Outgoing::new(&update));
                }
            }
        }
        let marks = self.members.get(&key).map(|member| self.marks(&member.id));
        if let Some((member, marks)) = self.members.get_mut(&key).zip(marks) {
            // The snapshot holds everything so far: a later drop counts from here at the least.
            member.seen = marks;
            // A resume from before the snapshot gets a new one: count from here. The list in it
            // is current: nothing held back is due.
            member.stream.restart(&self.log);
            member.stream.coalescing = None;
        }
        self.backlogs.remove(&key);
    }

    pub(super) fn resume(&mut self, now: Time, conn: ConnId, resume: Resume, addr: IpAddr) {
        let fail = |session: &mut Session, reason: &str| {
            let message = format!("cannot resume: {reason}; join again");
            session.reply_error(now, conn, ErrorCode::ResumeFailed, message, json!({"reason": reason}));
        };
        if resume.session_id != self.id {
            return fail(self, reason::UNKNOWN_SESSION);
        }
        let Some(&key) = self.by_id.get(&resume.member_id) else { return fail(self, reason::RESUME_UNKNOWN_MEMBER) };
        let member = self.members.get_mut(&key).expect("by_id points at a member");
        let authentic =
            member.secret.as_deref().is_some_and(|secret| ids::secrets_equal(secret, &resume.resume_secret));
        if !authentic {
            return fail(self, reason::WRONG_SECRET);
        }
        let old_conn = member.conn.replace(conn);
        member.deep = false; // a new connection's queue is empty
        let was_reconnecting = member.lost_at.take().is_some();
        member.last_heartbeat = now;
        member.addr = addr;
        member.probe = None;
        // Back after a restart: nothing of its old stream is in this log, whatever it claims. Roster
        // news held back from it: its list is out of date, whatever it last read.
        let restarted = std::mem::take(&mut member.restored);
        let coalesced = member.stream.coalescing.take() == Some(true);
        let replay = if restarted || coalesced {
            Replay::Snapshot
        } else {
            self.log.replay(key, member.wire, &member.stream, resume.last_seq)
        };
        if let Some(old) = old_conn {
            self.conns.remove(&old);
            self.close_conn(old, close::REPLACED, "resumed on a new connection");
        }
        self.conns.insert(conn, Conn::Member(key));
        let wire = self.members[&key].wire;
        self.transmits.push_back(Transmit::Attach { conn, wire });
        self.arm_heartbeat(now, key);
        let client_id = resume.member_id;
        match replay {
            Replay::Messages(messages) => {
                // Everything it missed follows: no history needed.
                if let Some(member) = self.members.get_mut(&key) {
                    member.chat_mark = None;
                    member.direct_mark = None;
                    member.notification_mark = None;
                }
                let replayed = messages.len() as u64;
                let resumed = ServerMessage::Resumed {
                    timestamp: now / MILLISECOND,
                    client_id,
                    last_seq: resume.last_seq,
                    replayed,
                    snapshot: false,
                    restarted: false,
                };
                self.reply(conn, resumed);
                if !messages.is_empty() {
                    self.transmits.push_back(Transmit::Replay { conn, frames: messages });
                }
            }
            Replay::Snapshot => {
                let resumed = ServerMessage::Resumed {
                    timestamp: now / MILLISECOND,
                    client_id,
                    last_seq: resume.last_seq,
                    replayed: 0,
                    snapshot: true,
                    restarted,
                };
                self.reply(conn, resumed);
                self.welcome(now, key);
            }
        }
        self.touch(key);
        if was_reconnecting {
            self.member_changed(now, key);
        }
        self.send_probe(now, key, conn);
    }

    /// The member's connection is gone (dropped, timed out, too slow). Extension members wait
    /// for a resume; 1.0 members leave.
    pub(super) fn lose_connection(&mut self, now: Time, key: u64, reason: LeaveReason) {
        let Some(member) = self.members.get_mut(&key) else { return };
        member.conn = None;
        if member.stream.coalescing == Some(false) || !member.wire.has_member_list() {
            // Nothing was held back (or a format without resume): news while it is away is
            // logged for its resume as usual.
            member.stream.coalescing = None;
        }
        // A list format's resume after news was held back gets a snapshot, which says it all.
        self.backlogs.remove(&key);
        if member.keeps_place(reason == LeaveReason::Left) {
            member.lost_at = Some(now);
            // Counted from what is known to have reached it (its last answered probe), not from
            // now: a connection that died silently was written into until the host noticed, and
            // what a socket that broke held on its way is gone too.
            let seen = member.seen;
            member.chat_mark.get_or_insert(seen.chat);
            member.direct_mark.get_or_insert(seen.directs);
            member.notification_mark.get_or_insert(seen.notifications);
            self.touch(key);
            self.arm(now + self.config.resume_window, Timer::Resume(key));
            self.member_changed(now, key);
            self.barrier_check(now);
        } else {
            self.remove_member(now, key, reason, None);
        }
    }

    /// Tells everyone that a member's status or name changed: `member_updated` to extension
    /// members, a fresh `member_list` to 1.0 members (the only way 1.0 has to say it).
    pub(super) fn member_changed(&mut self, now: Time, key: u64) {
        let info = self.members[&key].info();
        let updated =
            Outgoing::new(&ServerMessage::MemberUpdated { timestamp: now / MILLISECOND, member: info.clone() });
        // The 1.0 list is the whole party: built only when some 1.0 member is there to get it,
        // not on every status change of a party of extension members (n² in a reconnect storm).
        let loudsync: Vec<u64> =
            self.order.iter().copied().filter(|other| *other != key && !self.members[other].ext()).collect();
        self.broadcast(&updated, Some(key));
        if !loudsync.is_empty() {
            let list = self.member_list(now);
            self.broadcast_to(loudsync, &list);
        }
        self.events.push_back(Event::MemberUpdated(info));
    }

    pub(super) fn remove_member(
        &mut self,
        now: Time,
        key: u64,
        reason: LeaveReason,
        close: Option<(u16, &'static str)>,
    ) {
        let Some(member) = self.members.remove(&key) else { return };
        self.backlogs.remove(&key);
        self.release_name(&member.name);
        self.journal(Durable::MemberGone(key));
        for n in self.directs.forget(&member.id) {
            self.journal(Durable::DirectGone(n));
        }
        self.by_id.remove(&member.id);
        self.by_device.remove(&member.device_id);
        self.order.retain(|other| *other != key);
        if let Some(conn) = member.conn {
            self.conns.remove(&conn);
            if let Some((code, text)) = close {
                self.close_conn(conn, code, text);
            }
        }
        if member.voice.channel.is_some() {
            let gone = ServerMessage::VoiceState {
                timestamp: now / MILLISECOND,
                member_id: member.id.clone(),
                channel: None,
                muted: member.voice.muted,
                deafened: member.voice.deafened,
            };
            self.broadcast(&Outgoing::new(&gone), None);
        }
        let left = ServerMessage::MemberLeft { timestamp: now / MILLISECOND, member_id: member.id.clone(), reason };
        self.broadcast(&Outgoing::new(&left), None);
        self.events.push_back(Event::MemberLeft { member: member.info(), reason });
        if !self.closed {
            // The host's UI shows the count (and mDNS carries it); clients learn of it from
            // member_left, so this is an event only, not a `session_updated` broadcast.
            self.events.push_back(Event::SessionUpdated(self.state()));
            self.barrier_check(now);
        }
    }

    /// Closes a connection for a fault of its own; a member on it loses its connection.
    pub(super) fn drop_conn(&mut self, now: Time, conn: ConnId, code: u16, text: &'static str, reason: LeaveReason) {
        let Some(state) = self.conns.remove(&conn) else { return };
        self.close_conn(conn, code, text);
        if let Conn::Member(key) = state {
            self.lose_connection(now, key, reason);
        }
    }

    /// The I/O layer says this connection's outbound queue is deep. Roster news to its member
    /// (`member_joined`, `member_left`, `member_updated`, a 1.0 `member_list`)
    /// is held back from now on, and said once the queue has drained ([`Session::handle_drained`]):
    /// the news itself in one backlog when it is less than a quarter of a list of everyone
    /// (at most 512 items), else one fresh `member_list`: in a join storm the session makes a
    /// `member_joined` for every member at each join, faster than sockets take them, and a
    /// queue that overflows closes its member with 4008 for messages the host itself made.
    /// A format with no `member_list` (Together, Pavilion, seed 001, Revenge) gets the news
    /// held back instead, the last of each member's, in one backlog.
    pub fn handle_congested(&mut self, _now: Time, conn: ConnId) {
        let Some(Conn::Member(key)) = self.conns.get(&conn) else { return };
        let Some(member) = self.members.get_mut(key) else { return };
        member.deep = true;
        if member.stream.coalescing.is_none() {
            member.stream.coalescing = Some(false);
        }
    }

    /// The connection's outbound queue has drained ([`Session::handle_congested`]): if roster
    /// news was held back, its member gets one fresh `member_list`, numbered for an extension
    /// member and a snapshot (a resume from before it gets a new one).
    pub fn handle_drained(&mut self, now: Time, conn: ConnId) {
        let Some(Conn::Member(key)) = self.conns.get(&conn) else { return };
        let key = *key;
        let Some(member) = self.members.get_mut(&key) else { return };
        member.deep = false;
        if member.stream.coalescing.take() != Some(true) {
            return;
        }
        if let Some(held) = self.backlogs.remove(&key) {
            // The news itself (a format with no list, or less news than a list would be): one
            // slot of the queue, written at the connection's pace, like a replay; numbered for
            // an extension member, and a resume from before it gets a snapshot.
            let (wire, ext) = (member.wire, member.ext());
            let mut frames = Vec::new();
            for out in super::fanout::backlog(held) {
                let Some(frame) = out.frame(wire).cloned() else { continue };
                let seq = (ext && out.is_sequenced()).then(|| member.stream.number());
                frames.push((frame, seq));
            }
            if ext {
                member.stream.restart(&self.log);
            }
            if !frames.is_empty() {
                self.transmits.push_back(Transmit::Backlog { conn, frames });
            }
            return;
        }
        if !member.wire.has_member_list() {
            return;
        }
        let list = match &self.drained_list {
            // The same instant: the driver tells the session of every drained queue at once,
            // with nothing in between that could change the party.
            Some((at, list)) if *at == now => list.clone(),
            _ => {
                let list = self.member_list(now);
                self.drained_list = Some((now, list.clone()));
                list
            }
        };
        self.send_snapshot(key, &list);
        if let Some(member) = self.members.get_mut(&key) {
            member.stream.restart(&self.log);
        }
    }

    /// Measures every connected member's round trip, and announces the latencies that moved:
    /// at most [`MAX_LATENCIES`] of them in one `latency_update`, the largest changes first
    /// (the others stay due, for the next round).
    pub(super) fn probe(&mut self, now: Time) {
        let mut moved = Vec::new();
        for key in &self.order {
            let member = self.members.get_mut(key).expect("order lists members");
            if let Some(conn) = member.conn {
                member.probe = Some(now);
                member.probe_marks = Marks {
                    chat: self.next_chat,
                    directs: self.directs.count(&member.id),
                    notifications: self.next_notification,
                };
                self.transmits.push_back(Transmit::Probe { conn, sent_at: now });
            }
            let Some(latency) = member.latency_ms() else { continue };
            // 2 ms: below that a change is noise on a Wi-Fi link, not news.
            let change = member.announced_latency.map_or(u32::MAX, |old| old.abs_diff(latency));
            if change >= 2 {
                moved.push((change, *key, latency));
            }
        }
        if moved.len() > MAX_LATENCIES {
            moved.select_nth_unstable_by(MAX_LATENCIES - 1, |a, b| b.0.cmp(&a.0));
            moved.truncate(MAX_LATENCIES);
        }
        let mut changed = BTreeMap::new();
        let mut updated = Vec::new();
        for (_, key, latency) in moved {
            let member = self.members.get_mut(&key).expect("order lists members");
            member.announced_latency = Some(latency);
            changed.insert(member.id.clone(), latency);
            updated.push(member.info());
        }
        if !changed.is_empty() {
            let message = ServerMessage::LatencyUpdate { timestamp: now / MILLISECOND, latencies: changed };
            self.broadcast(&Outgoing::new(&message), None);
            self.events.extend(updated.into_iter().map(Event::MemberUpdated));
        }
        self.arm(now + self.config.probe_interval, Timer::Probe);
    }

    /// The answer to a [`Transmit::Probe`] arrived.
    pub fn handle_probe_reply(&mut self, now: Time, conn: ConnId, sent_at: Time) {
        let Some(Conn::Member(key)) = self.conns.get(&conn) else { return };
        let Some(member) = self.members.get_mut(key) else { return };
        // Only the pong of the probe in flight is a round trip: an unsolicited pong, an old one
        // or a forged payload (0 read as "sent at the epoch": 822,754,496 ms) measures nothing.
        if member.probe != Some(sent_at) || sent_at > now {
            return;
        }
        member.probe = None;
        member.seen = member.probe_marks;
        let sample = now - sent_at;
        // Smooth like TCP's SRTT (RFC 6298, alpha = 1/8 would be slow to show a change on a
        // screen; 1/4 settles in a few samples and still hides a single hiccup).
        member.rtt = Some(match member.rtt {
            None => sample,
            Some(previous) => (previous * 3 + sample) / 4,
        });
    }

    /// Removes a member: `kicked` to it, close 4010, `member_left` (kicked) to the others. Its
    /// resume secret dies with it.
    pub fn kick(&mut self, now: Time, member_id: &str, reason: &str) -> Result<MemberInfo, SessionError> {
        let key = *self.by_id.get(member_id).ok_or_else(|| SessionError::NoSuchMember(member_id.to_string()))?;
        let info = self.members[&key].info();
        let kicked = Outgoing::new(&ServerMessage::Kicked { timestamp: now / MILLISECOND, reason: reason.to_string() });
        self.deliver(key, &kicked);
        self.remove_member(now, key, LeaveReason::Kicked, Some((close::KICKED, "kicked")));
        Ok(info)
    }

    /// Kicks a member (as [`Session::kick`]) and bans its device: a join with that device id
    /// is refused (`unauthorized`, `banned`, then close 4010) until [`Session::unban`]. A device
    /// id is what the phone keeps in its storage; a guest who clears it comes back as a new
    /// device, which is what "New key" is for.
    pub fn ban(&mut self, now: Time, member_id: &str, reason: &str) -> Result<MemberInfo, SessionError> {
        let key = *self.by_id.get(member_id).ok_or_else(|| SessionError::NoSuchMember(member_id.to_string()))?;
        let member = &self.members[&key];
        let ban = Ban {
            device_id: member.device_id.clone(),
            name: member.name.clone(),
            reason: reason.to_string(),
            at: now / MILLISECOND,
        };
        let info = self.kick(now, member_id, reason)?;
        if self.bans.len() >= MAX_BANS && !self.bans.contains_key(&ban.device_id) {
            let oldest = self.bans.values().min_by_key(|ban| ban.at).map(|ban| ban.device_id.clone());
            if let Some(oldest) = oldest.and_then(|id| self.bans.remove(&id)) {
                self.journal(Durable::Unban(oldest.device_id.clone()));
                self.events.push_back(Event::Unbanned(oldest));
            }
        }
        self.journal(Durable::Ban(ban.clone()));
        self.bans.insert(ban.device_id.clone(), ban.clone());
        self.events.push_back(Event::Banned(ban));
        Ok(info)
    }

    /// Lifts the ban on a device: it may join again.
    pub fn unban(&mut self, device_id: &str) -> Result<Ban, SessionError> {
        let ban = self.bans.remove(device_id).ok_or_else(|| SessionError::NoSuchBan(device_id.to_string()))?;
        self.journal(Durable::Unban(ban.device_id.clone()));
        self.events.push_back(Event::Unbanned(ban.clone()));
        Ok(ban)
    }

    /// The devices turned away, oldest ban first.
    pub fn bans(&self) -> Vec<Ban> {
        let mut bans: Vec<Ban> = self.bans.values().cloned().collect();
        bans.sort_by_key(|ban| ban.at);
        bans
    }

    /// How far the party's talk has got now, for the member with this id.
    pub(super) fn marks(&self, member_id: &str) -> Marks {
        Marks { chat: self.next_chat, directs: self.directs.count(member_id), notifications: self.next_notification }
    }

    /// `chat.history` to a member being welcomed: the newest [`HISTORY_NEWEST`] lines, and
    /// (back from an absence, `since` its mark) the lines said since it left, at most
    /// [`HISTORY_MOST`], with how many are gone; its direct messages (`directs_since` its
    /// mark, or its newest), at most [`DIRECT_HISTORY_BYTES`], with how many of those are gone;
    /// and (back from an absence, `notifications_since` its mark) the host notifications sent
    /// since it left, with how many of those are gone. A fresh join's history without direct
    /// messages is the same for everyone until the chat changes: encoded once.
    fn send_history(
        &mut self,
        now: Time,
        key: u64,
        conn: ConnId,
        since: Option<u64>,
        directs_since: Option<u64>,
        notifications_since: Option<u64>,
    ) {
        let member_id = self.members[&key].id.clone();
        let (directs, directs_missed) = self.directs.history(&member_id, directs_since, DIRECT_HISTORY_BYTES);
        let directs: Vec<partyline_protocol::DirectLine> = directs.into_iter().cloned().collect();
        let (notifications, notifications_missed) = self.notifications_since(key, notifications_since);
        let plain = directs.is_empty() && directs_missed == 0 && notifications.is_empty() && notifications_missed == 0;
        if since.is_none()
            && plain
            && let Some(frame) = &self.history_frame
        {
            let frame = frame.clone();
            return self.transmits.push_back(Transmit::Send { conn, frame, seq: None });
        }
        let (lines, missed) = self.chat.history(since, HISTORY_NEWEST, HISTORY_MOST);
        if lines.is_empty() && missed == 0 && plain {
            return;
        }
        let lines = lines
            .into_iter()
            .map(|line| partyline_protocol::HistoryLine {
                id: line.id.clone(),
                room: line.room.clone(),
                from: line.from.clone(),
                name: line.name.clone(),
                text: line.text.clone(),
                created_at: line.created_at,
                edited_at: line.edited_at,
            })
            .collect();
        let history = ServerMessage::ChatHistory {
            timestamp: now / MILLISECOND,
            lines,
            missed,
            directs,
            directs_missed,
            notifications,
            notifications_missed,
        };
        let frame = Frame::encode(&history);
        if since.is_none() && plain {
            self.history_frame = Some(frame.clone());
        }
        self.transmits.push_back(Transmit::Send { conn, frame, seq: None });
    }

    /// The kept host notifications numbered above `since` (a member back from an absence: those
    /// sent after it left), oldest first, each with whether the member has read it; and how many
    /// numbered above `since` are no longer kept (the host keeps the newest
    /// [`KEPT_NOTIFICATIONS`]; none is ever deleted, so every number up to the last was sent).
    /// Nothing without a mark: a fresh join is not told of what was announced before it came.
    fn notifications_since(&self, key: u64, since: Option<u64>) -> (Vec<partyline_protocol::HistoryNotification>, u64) {
        let Some(since) = since else { return (Vec::new(), 0) };
        let read = &self.members[&key].read;
        let sent: Vec<partyline_protocol::HistoryNotification> = self
            .notifications
            .iter()
            .filter_map(|note| match note {
                ServerMessage::Notification { timestamp, id, title, body, level, from, name, actions, .. }
                    if persist::notification_number(id) > since =>
                {
                    Some(partyline_protocol::HistoryNotification {
                        id: id.clone(),
                        title: title.clone(),
                        body: body.clone(),
                        level: *level,
                        from: from.clone(),
                        name: name.clone(),
                        actions: actions.clone(),
                        timestamp: *timestamp,
                        read: read.contains(id),
                    })
                }
                _ => None,
            })
            .collect();
        let missed = self.next_notification.saturating_sub(since).saturating_sub(sent.len() as u64);
        (sent, missed)
    }

    /// The name a member is shown by: cleaned ([`names::clean`]; a `join` was checked already,
    /// so this only normalizes it), and marked with a number when it looks like the host's or
    /// another member's name ("Sara (2)" beside "Sara" or "Ѕara"), so nobody can pass for
    /// someone else. Each member's name holds its look ([`names::skeleton`]) until released.
    pub(super) fn claim_name(&mut self, raw: &str) -> String {
        let name = names::clean(raw).unwrap_or_else(|_| raw.trim().chars().take(MAX_NAME_CHARS).collect());
        let host = names::skeleton(&self.host.name);
        let taken = |session: &Session, candidate: &str| {
            let look = names::skeleton(candidate);
            look == host || session.looks.contains_key(&look)
        };
        let mut chosen = name.clone();
        let mut n = 2;
        while taken(self, &chosen) {
            let mark = format!(" ({n})");
            let room = MAX_NAME_CHARS - mark.chars().count();
            chosen = format!("{}{mark}", name.chars().take(room).collect::<String>().trim_end());
            n += 1;
        }
        *self.looks.entry(names::skeleton(&chosen)).or_default() += 1;
        chosen
    }

    /// A member takes a new name (`rename`): marked like a joiner's if it looks taken; every
    /// member hears of it (`member_updated`, to the member too: its name may have been marked).
    pub(super) fn rename_member(&mut self, now: Time, key: u64, raw: &str) {
        let old = self.members[&key].name.clone();
        self.release_name(&old);
        let name = self.claim_name(raw);
        if name == old {
            return;
        }
        self.members.get_mut(&key).expect("a member").name = name;
        self.touch(key);
        self.member_changed(now, key);
        let updated = ServerMessage::MemberUpdated { timestamp: now / MILLISECOND, member: self.members[&key].info() };
        self.send_snapshot(key, &Outgoing::new(&updated));
    }

    /// A member's name no longer holds its look (it left, or changed its name).
    pub(super) fn release_name(&mut self, name: &str) {
        let look = names::skeleton(name);
        if let Some(count) = self.looks.get_mut(&look) {
            *count -= 1;
            if *count == 0 {
                self.looks.remove(&look);
            }
        }
    }

    /// Measures a member's round trip on its new connection at once (the list shows a latency
    /// within a round trip of joining), remembering the probe so only its pong counts.
    pub(super) fn send_probe(&mut self, now: Time, key: u64, conn: ConnId) {
        let marks = self.members.get(&key).map(|member| self.marks(&member.id));
        if let Some((member, marks)) = self.members.get_mut(&key).zip(marks) {
            member.probe = Some(now);
            member.probe_marks = marks;
            self.transmits.push_back(Transmit::Probe { conn, sent_at: now });
        }
    }
}
