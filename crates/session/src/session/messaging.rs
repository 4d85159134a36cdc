//! Messaging between members: chat, direct messages, topics and broadcast, presence, voice
//! signals, and the host's notifications.

use super::*;

/// A kind of message to one member, and which formats have it.
#[derive(Clone, Copy)]
pub(super) struct Addressed {
    kind: &'static str,
    takes: fn(Wire) -> bool,
}

/// `direct` (seed 001's `DirectMessage` too).
const DIRECT: Addressed = Addressed { kind: "direct", takes: Wire::has_direct };

/// `voice.signal` (Together's `VOICE_SIGNAL` too).
const VOICE_SIGNAL: Addressed = Addressed { kind: "voice.signal", takes: Wire::has_voice };

impl Session {
    /// A member says `text` in `room`: kept (for edits), sent to every member in its format, and
    /// the host hears of it. Returns the line.
    pub(super) fn say(&mut self, now: Time, key: u64, room: &str, text: String) -> Result<ChatLine, SessionError> {
        if text.trim().is_empty() || text.chars().count() > MAX_CHAT_CHARS {
            return Err(SessionError::BadChat);
        }
        if !self.rooms().iter().any(|r| r.id == room && r.kind == RoomKind::Text) {
            return Err(SessionError::NoSuchRoom(room.to_string()));
        }
        let member = &self.members[&key];
        self.next_chat += 1;
        let line = ChatLine {
            id: format!("c-{}", self.next_chat),
            room: room.to_string(),
            from: member.id.clone(),
            name: member.name.clone(),
            text,
            created_at: now / MILLISECOND,
            edited_at: None,
        };
        let message = ServerMessage::Chat {
            timestamp: line.created_at,
            id: line.id.clone(),
            from: line.from.clone(),
            name: line.name.clone(),
            text: line.text.clone(),
            room: line.room.clone(),
            cid: self.sending.clone(),
        };
        for dropped in self.chat.push(line.clone()) {
            self.journal(Durable::ChatGone { id: dropped, deleted: false });
        }
        self.journal(Durable::Chat(line.clone()));
        self.history_frame = None;
        self.broadcast(&Outgoing::new(&message), None);
        self.events.push_back(Event::Chat {
            id: line.id.clone(),
            room: line.room.clone(),
            from: line.from.clone(),
            name: line.name.clone(),
            text: line.text.clone(),
        });
        Ok(line)
    }

    /// Edits (`Some(text)`) or deletes (`None`) a kept line: its author may do either, the host
    /// may delete. Everyone is told (`chat.edited`/`chat.deleted`, Together's
    /// `MESSAGE_UPDATE`/`MESSAGE_DELETE`). Returns the line as it now is (as it was, if deleted).
    pub(super) fn change_line(
        &mut self,
        now: Time,
        by: Author,
        id: &str,
        text: Option<String>,
    ) -> Result<ChatLine, SessionError> {
        let line = self.chat.get(id).ok_or_else(|| SessionError::NoSuchLine(id.to_string()))?;
        let own = match by {
            Author::Member(key) => self.members.get(&key).is_some_and(|member| member.id == line.from),
            Author::Host => text.is_none(),
        };
        if !own {
            return Err(SessionError::NotYourLine(id.to_string()));
        }
        let timestamp = now / MILLISECOND;
        match text {
            Some(text) => {
                if text.trim().is_empty() || text.chars().count() > MAX_CHAT_CHARS {
                    return Err(SessionError::BadChat);
                }
                self.history_frame = None;
                let line = self.chat.get_mut(id).expect("found above");
                line.text = text;
                line.edited_at = Some(timestamp);
                let line = line.clone();
                self.journal(Durable::Chat(line.clone()));
                let message = ServerMessage::ChatEdited {
                    timestamp,
                    id: line.id.clone(),
                    room: line.room.clone(),
                    from: line.from.clone(),
                    text: line.text.clone(),
                    created_at: line.created_at,
                    edited_at: timestamp,
                };
                self.broadcast(&Outgoing::new(&message), None);
                self.events.push_back(Event::ChatEdited { id: line.id.clone(), text: line.text.clone() });
                Ok(line)
            }
            None => {
                self.history_frame = None;
                let line = self.chat.remove(id).expect("found above");
                self.journal(Durable::ChatGone { id: line.id.clone(), deleted: true });
                let message = ServerMessage::ChatDeleted { timestamp, id: line.id.clone(), room: line.room.clone() };
                self.broadcast(&Outgoing::new(&message), None);
                self.events.push_back(Event::ChatDeleted { id: line.id.clone() });
                Ok(line)
            }
        }
    }

    /// A member's chat message that cannot be done, answered on its connection.
    pub(super) fn chat_refused(&mut self, now: Time, conn: ConnId, kind: &str, err: SessionError) {
        let (code, reason) = match &err {
            SessionError::NotYourLine(_) => (ErrorCode::Unauthorized, reason::NOT_YOURS),
            SessionError::NoSuchLine(_) => (ErrorCode::InvalidMessage, reason::NO_SUCH_LINE),
            SessionError::NoSuchRoom(_) => (ErrorCode::InvalidMessage, reason::NO_SUCH_ROOM),
            _ => (ErrorCode::InvalidMessage, reason::BAD_CHAT),
        };
        self.reply_error(now, conn, code, format!("{kind}: {err}"), json!({"reason": reason}));
    }

    /// The member whose device id this is (a REST call names its member so).
    pub(super) fn by_device_id(&self, device_id: &str) -> Result<u64, SessionError> {
        self.by_device.get(device_id).copied().ok_or_else(|| SessionError::NoSuchDevice(device_id.to_string()))
    }

    /// Posts a chat line for the member with this device id (Together's
    /// `POST /channels/{id}/messages`).
    pub fn post_chat(&mut self, now: Time, device_id: &str, room: &str, text: &str) -> Result<ChatLine, SessionError> {
        self.check_open()?;
        let key = self.by_device_id(device_id)?;
        self.say(now, key, room, text.to_string())
    }

    /// Edits a line for the member with this device id (its author).
    pub fn edit_chat(&mut self, now: Time, device_id: &str, id: &str, text: &str) -> Result<ChatLine, SessionError> {
        self.check_open()?;
        let key = self.by_device_id(device_id)?;
        self.change_line(now, Author::Member(key), id, Some(text.to_string()))
    }

    /// Deletes a line: for the member with this device id (its author), or with `None` for the
    /// host (moderation: any line).
    pub fn delete_chat(&mut self, now: Time, device_id: Option<&str>, id: &str) -> Result<ChatLine, SessionError> {
        self.check_open()?;
        let by = match device_id {
            Some(device_id) => Author::Member(self.by_device_id(device_id)?),
            None => Author::Host,
        };
        self.change_line(now, by, id, None)
    }

    /// The member with this device id, if it is in the party (a guest's upload is checked so
    /// before its bytes are kept).
    pub fn member_by_device(&self, device_id: &str) -> Option<MemberInfo> {
        let key = self.by_device_id(device_id).ok()?;
        Some(self.members[&key].info())
    }

    /// A photo the member with this device id shared (its upload stored, at `url`):
    /// `photo.shared` to every member, [`Event::PhotoShared`] to the host, and kept for the
    /// `welcome` of those who join later (the newest [`WELCOME_PHOTOS`]). Returns it.
    pub fn share_photo(
        &mut self,
        now: Time,
        device_id: &str,
        id: &str,
        url: &str,
        name: &str,
    ) -> Result<Photo, SessionError> {
        self.check_open()?;
        let key = self.by_device_id(device_id)?;
        let member = &self.members[&key];
        let photo = Photo {
            id: id.to_string(),
            url: url.to_string(),
            name: name.to_string(),
            from: member.id.clone(),
            from_name: member.name.clone(),
            timestamp: now / MILLISECOND,
        };
        if self.photos.len() == WELCOME_PHOTOS {
            self.photos.pop_front();
        }
        self.photos.push_back(photo.clone());
        self.broadcast(&Outgoing::new(&ServerMessage::PhotoShared { photo: photo.clone() }), None);
        self.events.push_back(Event::PhotoShared(photo.clone()));
        Ok(photo)
    }

    /// Puts back the photos guests shared before a restart (the server keeps their files and
    /// checks them), oldest first: for later `welcome`s, announced to no one.
    pub fn restore_photos(&mut self, photos: Vec<Photo>) {
        for photo in photos {
            if self.photos.len() == WELCOME_PHOTOS {
                self.photos.pop_front();
            }
            self.photos.push_back(photo);
        }
    }

    /// The photos guests shared, oldest first (the newest [`WELCOME_PHOTOS`]).
    pub fn photos(&self) -> Vec<Photo> {
        self.photos.iter().cloned().collect()
    }

    /// A kept host notification.
    pub(super) fn notification(&self, id: &str) -> Option<&ServerMessage> {
        self.notifications
            .iter()
            .find(|note| matches!(note, ServerMessage::Notification { id: kept, .. } if kept == id))
    }

    /// The notifications (of those kept) a member has read.
    pub fn read_by(&self, member_id: &str) -> Vec<String> {
        self.by_id.get(member_id).map(|key| self.members[key].read.iter().cloned().collect()).unwrap_or_default()
    }

    /// A kept chat line.
    pub fn chat_line(&self, id: &str) -> Option<&ChatLine> {
        self.chat.get(id)
    }

    /// `direct`: to the member `to` (sequenced: a reconnecting recipient gets it on resume), then
    /// `direct_ack` to the sender.
    pub(super) fn direct(&mut self, now: Time, conn: ConnId, key: u64, direct: Direct) {
        if !self.require_ext(now, conn, key, "direct") {
            return;
        }
        let Some(to) = self.recipient(now, conn, DIRECT, &direct.to, Some(&direct.id), false) else {
            return;
        };
        let message = ServerMessage::Direct {
            timestamp: now / MILLISECOND,
            from: self.members[&key].id.clone(),
            id: direct.id.clone(),
            payload: direct.payload,
        };
        let expires = direct.ttl.map(|ttl| now + u64::from(ttl) * crate::SECOND);
        if expires.is_none() {
            // Kept for both members' histories (one with a `ttl` is not worth it later).
            let line = partyline_protocol::DirectLine {
                id: direct.id.clone(),
                from: self.members[&key].id.clone(),
                to: self.members[&to].id.clone(),
                payload: match &message {
                    ServerMessage::Direct { payload, .. } => payload.clone(),
                    _ => unreachable!("built above"),
                },
                timestamp: now / MILLISECOND,
            };
            let (kept, gone) = self.directs.push(line);
            self.journal(Durable::Direct(kept));
            for n in gone {
                self.journal(Durable::DirectGone(n));
            }
        }
        self.deliver(to, &Outgoing::expiring(&message, expires));
        let recipient = &self.members[&to];
        let ack = ServerMessage::DirectAck {
            timestamp: now / MILLISECOND,
            id: direct.id,
            to: recipient.id.clone(),
            queued: recipient.conn.is_none(),
        };
        self.deliver(key, &Outgoing::new(&ack));
    }

    /// `subscribe` (`add`) or `unsubscribe`: the member's topics change, and `subscriptions`
    /// with the full list goes back. Over [`MAX_TOPICS`] in all: an error, and nothing changes.
    pub(super) fn subscribe(&mut self, now: Time, conn: ConnId, key: u64, request: Topics, add: bool) {
        let kind = if add { "subscribe" } else { "unsubscribe" };
        if !self.require_ext(now, conn, key, kind) {
            return;
        }
        let member = self.members.get_mut(&key).expect("a connection's member");
        if add {
            let new = request.topics.iter().filter(|topic| !member.topics.contains(*topic)).collect::<BTreeSet<_>>();
            if member.topics.len() + new.len() > MAX_TOPICS {
                let message =
                    format!("subscribe: at most {MAX_TOPICS} topics; already subscribed to {}", member.topics.len());
                let details = json!({"reason": reason::TOO_MANY_TOPICS, "maxTopics": MAX_TOPICS});
                return self.reply_error(now, conn, ErrorCode::InvalidMessage, message, details);
            }
            member.topics.extend(request.topics.iter().cloned());
        } else {
            for topic in &request.topics {
                member.topics.remove(topic);
            }
        }
        let topics = member.topics.iter().cloned().collect();
        let active = member.topics.len();
        self.touch(key);
        let reply = ServerMessage::Subscriptions { timestamp: now / MILLISECOND, topics };
        self.deliver(key, &Outgoing::new(&reply));
        // Seed 001 answers with the topics asked for and the count (partyline/1 has the list).
        let change = ServerMessage::SubscriptionChange {
            timestamp: now / MILLISECOND,
            topics: request.topics,
            added: add,
            active,
        };
        self.reply(conn, change);
    }

    /// `broadcast`: to every other extension member subscribed to its topic (every other one
    /// when it has none), reconnecting ones included (it is sequenced); then, if asked,
    /// `broadcast_ack` with the count to the sender.
    pub(super) fn broadcast_message(&mut self, now: Time, conn: ConnId, key: u64, broadcast: Broadcast) {
        if !self.require_ext(now, conn, key, "broadcast") {
            return;
        }
        let message = ServerMessage::Broadcast {
            timestamp: now / MILLISECOND,
            from: self.members[&key].id.clone(),
            id: broadcast.id.clone(),
            topic: broadcast.topic.clone(),
            payload: broadcast.payload,
        };
        let to: Vec<u64> = self
            .order
            .iter()
            .copied()
            .filter(|other| {
                let member = &self.members[other];
                // A Pavilion member takes a topic's broadcasts on its `channel:{topic}`, a seed-001
                // member as its own `Broadcast`; neither has a broadcast to everyone.
                let topical = matches!(member.wire, Wire::Pavilion | Wire::Rt) && broadcast.topic.is_some();
                let wants = (member.ext() || topical)
                    && broadcast.topic.as_ref().is_none_or(|topic| member.subscribes_to(topic));
                *other != key && wants
            })
            .collect();
        let recipients = to.len() as u32;
        let out = Outgoing::new(&message);
        self.broadcast_to(to, &out);
        if let Some(topic) = &broadcast.topic {
            let size = out.frame(Wire::Partyline).map_or(0, Frame::len);
            let expires = broadcast.ttl.map(|ttl| now + u64::from(ttl) * crate::SECOND);
            self.history.keep(topic, message, size, expires);
        }
        if broadcast.ack {
            let ack = ServerMessage::BroadcastAck { timestamp: now / MILLISECOND, id: broadcast.id, recipients };
            self.deliver(key, &Outgoing::new(&ack));
        }
    }

    /// A seed-001 `X-` custom message: to the party's other seed-001 members as it came, and to
    /// partyline/1 members subscribed to its topic (`x-customaction`) as a `broadcast`.
    pub(super) fn custom(&mut self, now: Time, key: u64, custom: Custom) {
        let from = self.members[&key].id.clone();
        let topic = custom.topic();
        let rt: Vec<u64> =
            self.order.iter().copied().filter(|k| *k != key && self.members[k].wire == Wire::Rt).collect();
        let subscribed: Vec<u64> = self
            .order
            .iter()
            .copied()
            .filter(|k| {
                let member = &self.members[k];
                *k != key && member.ext() && topic.as_deref().is_some_and(|topic| member.subscribes_to(topic))
            })
            .collect();
        let timestamp = now / MILLISECOND;
        let relayed = ServerMessage::Custom {
            timestamp,
            from: from.clone(),
            kind: custom.kind.clone(),
            data: custom.data.clone(),
        };
        self.broadcast_to(rt, &Outgoing::new(&relayed));
        if !subscribed.is_empty() {
            let message = ServerMessage::Broadcast { timestamp, from, id: custom.kind, topic, payload: custom.data };
            self.broadcast_to(subscribed, &Outgoing::new(&message));
        }
    }

    /// One of seed 001's binary frames (only a seed-001 member sends them; docs/protocol.md has
    /// the payloads). A broadcast (0x01) or stream (0x04) goes as it came to the connected
    /// seed-001 members whose subscriptions take its topic, never kept (no history, no queue:
    /// other formats have no binary frames, and history is JSON); a direct message (0x02) goes
    /// to one seed-001 member as `[sender][data]`, held like a text `DirectMessage` while that
    /// member is reconnecting. Each is acknowledged with `Status` `binary_received` (size, type,
    /// checksum, and who got it). A file (0x03) is the I/O layer's, which hands it to the
    /// host's upload store; one that reaches the session is refused.
    pub(super) fn binary(&mut self, now: Time, conn: ConnId, key: u64, binary: BinaryMessage) {
        let from = self.members[&key].id.clone();
        let extra = match binary.kind {
            BinaryKind::Broadcast | BinaryKind::StreamData => {
                let frame = Frame::binary(binary.frame.clone());
                let to: Vec<ConnId> = self
                    .order
                    .iter()
                    .filter(|other| **other != key)
                    .map(|other| &self.members[other])
                    .filter(|member| member.wire == Wire::Rt && member.subscribes_to(&binary.address))
                    .filter_map(|member| member.conn)
                    .collect();
                let recipients = to.len();
                for to in to {
                    self.transmits.push_back(Transmit::Send { conn: to, frame: frame.clone(), seq: None });
                }
                json!({"recipients": recipients})
            }
            BinaryKind::Direct => {
                let target = self.by_id.get(&binary.address).copied();
                let Some(to) = target.filter(|to| self.members[to].wire == Wire::Rt) else {
                    let why = if target.is_some() { "does not use a seed-001 client" } else { "is not in the party" };
                    let reason = if target.is_some() { reason::OTHER_FORMAT } else { reason::UNKNOWN_MEMBER };
                    let message = format!("binary direct message: member {} {why}", binary.address);
                    let details = json!({"to": binary.address, "reason": reason});
                    return self.reply_error(now, conn, ErrorCode::RecipientUnavailable, message, details);
                };
                let frame = partyline_protocol::rt::direct_frame(&from, &binary.data);
                let recipient = &self.members[&to];
                match recipient.conn {
                    Some(to_conn) => {
                        let id = recipient.id.clone();
                        self.transmits.push_back(Transmit::Send { conn: to_conn, frame, seq: None });
                        json!({"delivered_to": [id]})
                    }
                    None => {
                        self.hold(to, frame, None);
                        json!({"delivered_to": [], "queued": true})
                    }
                }
            }
            BinaryKind::FileTransfer => {
                let message = "binary file transfer: this host takes no files here";
                return self.reply_error(now, conn, ErrorCode::InvalidMessage, message, json!({}));
            }
        };
        let ack = partyline_protocol::rt::binary_received(&binary, extra);
        self.transmits.push_back(Transmit::Send { conn, frame: ack, seq: None });
    }

    /// `voice.signal`: relayed to `to` if it is a connected extension member, unsequenced (see
    /// [`ServerMessage::is_sequenced`]: stale signaling is worse than none, so a member that is
    /// reconnecting gets an error back instead of a buffered signal).
    pub(super) fn voice_signal(&mut self, now: Time, conn: ConnId, key: u64, voice: VoiceSignal) {
        if !self.require_ext(now, conn, key, "voice.signal") {
            return;
        }
        let Some(to) = self.recipient(now, conn, VOICE_SIGNAL, &voice.to, None, true) else {
            return;
        };
        // Seed 002: "to another participant in your current voice channel". A partyline/1
        // member has no voice channels: signals to and from it need none.
        let (from, target) = (&self.members[&key], &self.members[&to]);
        if from.wire == Wire::Together
            && target.wire == Wire::Together
            && (from.voice.channel.is_none() || from.voice.channel != target.voice.channel)
        {
            let message = format!("voice.signal: member {} is not in your voice channel", voice.to);
            let details = json!({"to": voice.to, "reason": reason::NOT_IN_VOICE});
            return self.reply_error(now, conn, ErrorCode::RecipientUnavailable, message, details);
        }
        let message = ServerMessage::VoiceSignal {
            timestamp: now / MILLISECOND,
            from: self.members[&key].id.clone(),
            signal: voice.signal,
        };
        self.deliver(to, &Outgoing::new(&message));
    }

    /// Sets a member's presence: `presence_update` to every other extension member, and the
    /// host hears of it.
    pub(super) fn set_presence(&mut self, now: Time, key: u64, status: PresenceStatus, text: Option<String>) {
        let member = self.members.get_mut(&key).expect("a member");
        member.presence = status;
        member.presence_text = text.clone();
        let (member_id, name) = (member.id.clone(), member.name.clone());
        self.touch(key);
        let message = ServerMessage::PresenceUpdate {
            timestamp: now / MILLISECOND,
            member_id: member_id.clone(),
            status,
            text: text.clone(),
        };
        self.broadcast(&Outgoing::new(&message), Some(key));
        self.events.push_back(Event::Presence { member_id, name, status, text });
    }

    /// Whether the member joined with `partyline/1`. A 1.0 member that sends an extension
    /// message gets `invalid_message` instead: the answer would be a type it does not know.
    pub(super) fn require_ext(&mut self, now: Time, conn: ConnId, key: u64, kind: &str) -> bool {
        // Every format but LOUDSYNC 1.0 has these in its own words (its decoder only makes the
        // messages it has).
        if !self.members[&key].wire.is_plain_loudsync() {
            return true;
        }
        let message = format!("{kind}: an extension message; join with protocolVersion \"{PARTYLINE_V1}\" to use it");
        self.reply_error(now, conn, ErrorCode::InvalidMessage, message, json!({"reason": reason::EXTENSION_ONLY}));
        false
    }

    /// The member a message to one member is addressed to: one whose format takes such a message
    /// ([`Addressed`]), and a connected one when `connected`. Otherwise `recipient_unavailable` goes back on `conn`, with the
    /// sender's message `id` when it has one, and `None` comes out.
    pub(super) fn recipient(
        &mut self,
        now: Time,
        conn: ConnId,
        Addressed { kind, takes }: Addressed,
        to: &str,
        id: Option<&str>,
        connected: bool,
    ) -> Option<u64> {
        let (reason, why) = match self.by_id.get(to) {
            None => (reason::UNKNOWN_MEMBER, "is not in the session"),
            Some(key) if self.members[key].wire.is_plain_loudsync() => {
                (reason::LOUDSYNC_CLIENT, "uses a LOUDSYNC 1.0 client")
            }
            Some(key) if !takes(self.members[key].wire) => {
                (reason::OTHER_FORMAT, "uses a client that has no such message")
            }
            Some(key) if connected && self.members[key].conn.is_none() => (reason::RECONNECTING, "is reconnecting"),
            Some(key) => return Some(*key),
        };
        let message = format!("{kind}: member {to} {why}");
        let mut details = json!({"to": to, "reason": reason});
        if let Some(id) = id {
            details["id"] = id.into();
        }
        self.reply_error(now, conn, ErrorCode::RecipientUnavailable, message, details);
        None
    }

    /// A notification from the host: `notification` to every extension member (sequenced: one
    /// that is reconnecting gets it on resume). Returns its id, which `mark_read` names.
    pub fn notify(
        &mut self,
        now: Time,
        title: &str,
        body: &str,
        level: NotificationLevel,
    ) -> Result<String, SessionError> {
        self.notify_with_actions(now, title, body, level, Vec::new())
    }

    /// A notification with links the host attaches (seed 001's `actions`: at most three, each
    /// `{label, url}` with an http(s) URL, [`NotificationAction::check`]).
    pub fn notify_with_actions(
        &mut self,
        now: Time,
        title: &str,
        body: &str,
        level: NotificationLevel,
        actions: Vec<NotificationAction>,
    ) -> Result<String, SessionError> {
        self.check_open()?;
        let title = title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS || body.chars().count() > MAX_CHAT_CHARS {
            return Err(SessionError::BadNotification);
        }
        NotificationAction::check(&actions).map_err(SessionError::BadActions)?;
        let actions = actions
            .into_iter()
            .map(|action| NotificationAction { label: action.label.trim().to_string(), url: action.url })
            .collect();
        self.next_notification += 1;
        let id = format!("n-{}", self.next_notification);
        let message = ServerMessage::Notification {
            timestamp: now / MILLISECOND,
            id: id.clone(),
            title: title.to_string(),
            body: body.trim().to_string(),
            level,
            from: self.host.id.clone(),
            name: self.host.name.clone(),
            actions,
            read: None,
        };
        self.broadcast(&Outgoing::new(&message), None);
        if self.notifications.len() == KEPT_NOTIFICATIONS
            && let Some(ServerMessage::Notification { id: old, .. }) = self.notifications.pop_front()
        {
            self.members.values_mut().for_each(|member| {
                member.read.remove(&old);
            });
        }
        self.journal(Durable::Notification(message.clone()));
        self.notifications.push_back(message);
        Ok(id)
    }

    /// The party's chat rooms and voice channels.
    pub fn rooms(&self) -> Vec<Room> {
        self.rooms.clone()
    }

    /// The host adds a chat room or voice channel; returns it. Its id is made from its name
    /// (`Kitchen talk` → `kitchen-talk`, with a number after it if taken): a Together channel
    /// id and Pavilion's `chat:{id}`.
    pub fn add_room(&mut self, name: &str, kind: RoomKind) -> Result<Room, SessionError> {
        self.check_open()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(SessionError::BadRoomName);
        }
        let mut slug: String = name
            .chars()
            .map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        if slug.is_empty() {
            slug = "room".to_string();
        }
        let mut id = slug.clone();
        let mut n = 1;
        while self.rooms.iter().any(|room| room.id == id) {
            n += 1;
            id = format!("{slug}-{n}");
        }
        let room = Room { id, name: name.to_string(), kind };
        self.rooms.push(room.clone());
        Ok(room)
    }

    /// Changes the voice of the member with this device id; everyone hears of it
    /// (`voice.state`, Together's `VOICE_STATE_UPDATE`). Returns the member id and its voice.
    pub fn voice(
        &mut self,
        now: Time,
        device_id: &str,
        change: VoiceChange,
    ) -> Result<(String, crate::member::Voice), SessionError> {
        self.check_open()?;
        let key = self.by_device_id(device_id)?;
        let is_voice = |session: &Session, channel: &str| {
            session.rooms.iter().any(|room| room.id == channel && room.kind == RoomKind::Voice)
        };
        let member = &self.members[&key];
        let mut voice = member.voice.clone();
        match change {
            VoiceChange::Join { channel, muted, deafened } => {
                if !is_voice(self, &channel) {
                    return Err(SessionError::NoSuchRoom(channel));
                }
                voice = crate::member::Voice { channel: Some(channel), muted, deafened };
            }
            VoiceChange::Leave { channel } | VoiceChange::Set { channel, .. }
                if voice.channel.as_deref() != Some(channel.as_str()) =>
            {
                return Err(SessionError::NotInVoice(channel));
            }
            VoiceChange::Leave { .. } => voice.channel = None,
            VoiceChange::Set { muted, deafened, .. } => {
                voice.muted = muted.unwrap_or(voice.muted);
                voice.deafened = deafened.unwrap_or(voice.deafened);
            }
        }
        let member = self.members.get_mut(&key).expect("a member");
        member.voice = voice.clone();
        let member_id = member.id.clone();
        let message = ServerMessage::VoiceState {
            timestamp: now / MILLISECOND,
            member_id: member_id.clone(),
            channel: voice.channel.clone(),
            muted: voice.muted,
            deafened: voice.deafened,
        };
        self.broadcast(&Outgoing::new(&message), None);
        Ok((member_id, voice))
    }

    /// Pavilion's `subscribe`/`unsubscribe`: `user`, the party's zone, a room's chat or a topic.
    /// A channel that does not exist here, or another party's zone, is `invalid_subscription`
    /// (Pavilion's 1003), and nothing is delivered on it.
    pub(super) fn feed(&mut self, now: Time, conn: ConnId, key: u64, feed: Feed) {
        let refuse = |session: &mut Session, why: String| {
            let details = json!({"channel": feed.channel.name()});
            session.reply_error(now, conn, ErrorCode::InvalidSubscription, why, details);
        };
        match &feed.channel {
            Channel::Zone(id) if *id != self.id => return refuse(self, format!("no zone {id} here")),
            Channel::Chat(room) if !self.rooms().iter().any(|r| r.id == *room && r.kind == RoomKind::Text) => {
                return refuse(self, format!("no chat room {room}"));
            }
            Channel::Topic(topic) if !partyline_protocol::client::is_topic(topic) => {
                return refuse(self, format!("\"{topic}\" is not a channel name (a-z, 0-9, '.', '_', '-')"));
            }
            Channel::Topic(_) if feed.add && self.members[&key].topics.len() >= MAX_TOPICS => {
                return refuse(self, format!("at most {MAX_TOPICS} channels"));
            }
            Channel::Unknown(name) => {
                return refuse(
                    self,
                    format!("unknown channel \"{name}\" (user, zone:{{id}}, channel:{{id}}, chat:{{roomId}})"),
                );
            }
            _ => {}
        }
        if feed.channel == Channel::User && feed.add && !self.members[&key].feeds.user {
            // Its notifications so far, each with whether it has read it (seed 004's `isRead`),
            // so that a client that reconnects knows what is still unread.
            let member = &self.members[&key];
            let backlog: Vec<ServerMessage> = self
                .notifications
                .iter()
                .map(|note| {
                    let mut note = note.clone();
                    if let ServerMessage::Notification { id, read, .. } = &mut note {
                        *read = Some(member.read.contains(id));
                    }
                    note
                })
                .collect();
            for note in backlog {
                self.reply(conn, note);
            }
        }
        let member = self.members.get_mut(&key).expect("a member");
        match feed.channel {
            Channel::User => member.feeds.user = feed.add,
            Channel::Zone(_) => member.feeds.zone = feed.add,
            Channel::Chat(room) if feed.add => {
                member.feeds.rooms.insert(room);
            }
            Channel::Chat(room) => {
                member.feeds.rooms.remove(&room);
            }
            Channel::Topic(topic) if feed.add => {
                member.topics.insert(topic);
            }
            Channel::Topic(topic) => {
                member.topics.remove(&topic);
            }
            Channel::Unknown(_) => {}
        }
    }
}
