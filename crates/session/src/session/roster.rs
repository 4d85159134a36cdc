//! Members and their connections: join, rejoin, resume, losing a connection, leaving, kicks,
//! and the latency probes.

use super::*;

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
        let member = Member {
            id: id.clone(),
            name: join.device_info.name.trim().to_string(),
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
        };
        self.members.insert(key, member);
        self.by_id.insert(id, key);
        self.by_device.insert(join.device_info.id, key);
        self.order.push(key);
        self.conns.insert(conn, Conn::Member(key));
        let wire = self.members[&key].wire;
        self.transmits.push_back(Transmit::Attach { conn, wire });
        self.arm_heartbeat(now, key);

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
        let member = self.members.get_mut(&key).expect("by_device points at a member");
        let device = peer.device;
        let old_conn = member.conn.replace(conn);
        let was_reconnecting = member.lost_at.take().is_some();
        let name = join.device_info.name.trim().to_string();
        let changed = member.name != name || member.device != device;
        member.name = name;
        member.device = device;
        member.wire = wire;
        member.secret = ext.then(|| ids::secret(&mut self.rng));
        member.last_heartbeat = now;
        member.probe = None;
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
        let held = std::mem::take(&mut self.members.get_mut(&key).expect("a member").held);
        for frame in held {
            self.transmits.push_back(Transmit::Send { conn, frame, seq: None });
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
        let members = self.members();
        let list = ServerMessage::MemberList { timestamp: now / MILLISECOND, members };
        self.send_snapshot(key, &Outgoing::new(&list));
        if ext || self.members[&key].wire == Wire::Revenge {
            // A late joiner learns the library and where playback is, and catches up on its own.
            let library =
                ServerMessage::LibraryUpdate { timestamp: now / MILLISECOND, items: self.syncplay.library().to_vec() };
            self.send_snapshot(key, &Outgoing::new(&library));
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
        if let Some(member) = self.members.get_mut(&key) {
            // A resume from before the snapshot gets a new one: count from here.
            member.stream.start = self.log.end();
            member.stream.lost_through = member.stream.last_seq();
        }
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
        let was_reconnecting = member.lost_at.take().is_some();
        member.last_heartbeat = now;
        member.addr = addr;
        member.probe = None;
        let replay = self.log.replay(key, member.wire, &member.stream, resume.last_seq);
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
                let replayed = messages.len() as u64;
                let resumed = ServerMessage::Resumed {
                    timestamp: now / MILLISECOND,
                    client_id,
                    last_seq: resume.last_seq,
                    replayed,
                    snapshot: false,
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
                };
                self.reply(conn, resumed);
                self.welcome(now, key);
            }
        }
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
        if member.keeps_place(reason == LeaveReason::Left) {
            member.lost_at = Some(now);
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
            let list =
                Outgoing::new(&ServerMessage::MemberList { timestamp: now / MILLISECOND, members: self.members() });
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

    /// Measures every connected member's round trip, and announces the latencies that moved.
    pub(super) fn probe(&mut self, now: Time) {
        let mut changed = BTreeMap::new();
        let mut updated = Vec::new();
        for key in &self.order {
            let member = self.members.get_mut(key).expect("order lists members");
            if let Some(conn) = member.conn {
                member.probe = Some(now);
                self.transmits.push_back(Transmit::Probe { conn, sent_at: now });
            }
            let Some(latency) = member.latency_ms() else { continue };
            // 2 ms: below that a change is noise on a Wi-Fi link, not news.
            let moved = member.announced_latency.is_none_or(|old| old.abs_diff(latency) >= 2);
            if moved {
                member.announced_latency = Some(latency);
                changed.insert(member.id.clone(), latency);
                updated.push(member.info());
            }
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

    /// Measures a member's round trip on its new connection at once (the list shows a latency
    /// within a round trip of joining), remembering the probe so only its pong counts.
    pub(super) fn send_probe(&mut self, now: Time, key: u64, conn: ConnId) {
        if let Some(member) = self.members.get_mut(&key) {
            member.probe = Some(now);
            self.transmits.push_back(Transmit::Probe { conn, sent_at: now });
        }
    }
}
