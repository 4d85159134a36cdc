//! Messaging between members: chat, direct messages, topics and broadcast, presence, voice
//! signals, and the host's notifications.

use super::*;

impl Session {
    pub(super) fn chat(&mut self, now: Time, key: u64, chat: Chat) {
        let member = &self.members[&key];
        self.next_chat += 1;
        let (from, name) = (member.id.clone(), member.name.clone());
        let message = ServerMessage::Chat {
            timestamp: now / MILLISECOND,
            id: format!("c-{}", self.next_chat),
            from: from.clone(),
            name: name.clone(),
            text: chat.text.clone(),
        };
        self.broadcast(&Outgoing::new(&message), None);
        self.events.push_back(Event::Chat { from, name, text: chat.text });
    }

    /// `direct`: to the member `to` (sequenced: a reconnecting recipient gets it on resume), then
    /// `direct_ack` to the sender.
    pub(super) fn direct(&mut self, now: Time, conn: ConnId, key: u64, direct: Direct) {
        if !self.require_ext(now, conn, key, "direct") {
            return;
        }
        let Some(to) = self.recipient(now, conn, "direct", &direct.to, Some(&direct.id), false) else { return };
        let message = ServerMessage::Direct {
            timestamp: now / MILLISECOND,
            from: self.members[&key].id.clone(),
            id: direct.id.clone(),
            payload: direct.payload,
        };
        self.deliver(to, &Outgoing::new(&message));
        let ack = ServerMessage::DirectAck { timestamp: now / MILLISECOND, id: direct.id };
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
            member.topics.extend(request.topics);
        } else {
            for topic in &request.topics {
                member.topics.remove(topic);
            }
        }
        let topics = member.topics.iter().cloned().collect();
        let reply = ServerMessage::Subscriptions { timestamp: now / MILLISECOND, topics };
        self.deliver(key, &Outgoing::new(&reply));
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
                let wants = member.ext() && broadcast.topic.as_ref().is_none_or(|topic| member.topics.contains(topic));
                *other != key && wants
            })
            .collect();
        let recipients = to.len() as u32;
        self.broadcast_to(to, &Outgoing::new(&message));
        if broadcast.ack {
            let ack = ServerMessage::BroadcastAck { timestamp: now / MILLISECOND, id: broadcast.id, recipients };
            self.deliver(key, &Outgoing::new(&ack));
        }
    }

    /// `voice.signal`: relayed to `to` if it is a connected extension member, unsequenced (see
    /// [`ServerMessage::is_sequenced`]: stale signaling is worse than none, so a member that is
    /// reconnecting gets an error back instead of a buffered signal).
    pub(super) fn voice_signal(&mut self, now: Time, conn: ConnId, key: u64, voice: VoiceSignal) {
        if !self.require_ext(now, conn, key, "voice.signal") {
            return;
        }
        let Some(to) = self.recipient(now, conn, "voice.signal", &voice.to, None, true) else { return };
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
        if self.members[&key].ext() {
            return true;
        }
        let message = format!("{kind}: an extension message; join with protocolVersion \"{PARTYLINE_V1}\" to use it");
        self.reply_error(now, conn, ErrorCode::InvalidMessage, message, json!({"reason": reason::EXTENSION_ONLY}));
        false
    }

    /// The member a `kind` message is addressed to: an extension member (and a connected one
    /// when `connected`). Otherwise `recipient_unavailable` goes back on `conn`, with the
    /// sender's message `id` when it has one, and `None` comes out.
    pub(super) fn recipient(
        &mut self,
        now: Time,
        conn: ConnId,
        kind: &str,
        to: &str,
        id: Option<&str>,
        connected: bool,
    ) -> Option<u64> {
        let (reason, why) = match self.by_id.get(to) {
            None => (reason::UNKNOWN_MEMBER, "is not in the session"),
            Some(key) if !self.members[key].ext() => (reason::LOUDSYNC_CLIENT, "uses a LOUDSYNC 1.0 client"),
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
        self.check_open()?;
        let title = title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS || body.chars().count() > MAX_CHAT_CHARS {
            return Err(SessionError::BadNotification);
        }
        self.next_notification += 1;
        let id = format!("n-{}", self.next_notification);
        let message = ServerMessage::Notification {
            timestamp: now / MILLISECOND,
            id: id.clone(),
            title: title.to_string(),
            body: body.trim().to_string(),
            level,
        };
        self.broadcast(&Outgoing::new(&message), None);
        Ok(id)
    }
}
