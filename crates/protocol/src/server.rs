//! Server → client messages, and [`Frame`]: a message serialized once.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::types::{
    ErrorCode, LeaveReason, MemberInfo, NotificationLevel, Photo, PresenceStatus, Room, SessionInfo, SessionState,
};

/// Every message the server sends. `timestamp` is the server's clock in milliseconds since the
/// Unix epoch, except in `pong`, where it echoes the ping's.
///
/// It deserializes too, for Rust clients and tests ([`Received`] adds the `seq` a partyline/1
/// member's copy carries). Deserializing does not slow the host's encoder: the derive adds
/// code, not work, to [`Frame::encode`], and `hello`'s version is a `Cow` that the host
/// borrows from [`crate::PARTYLINE_V1`] as before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum ServerMessage {
    /// LOUDSYNC `welcome`.
    Welcome {
        /// Server time, ms.
        timestamp: u64,
        /// The member id assigned to the client.
        client_id: String,
        /// The session joined.
        session_info: SessionInfo,
        /// Extension: the secret that lets this member resume.
        #[serde(skip_serializing_if = "Option::is_none")]
        resume_secret: Option<String>,
        /// Extension: the photos guests shared, oldest first (at most
        /// [`crate::WELCOME_PHOTOS`]); only in a partyline/1 member's welcome.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        photos: Option<Vec<Photo>>,
    },
    /// Extension: connection parameters, right after `welcome`.
    Hello {
        /// Server time, ms.
        timestamp: u64,
        /// The protocol version in use (the host sends [`crate::PARTYLINE_V1`], borrowed).
        protocol_version: Cow<'static, str>,
        /// How often to send `heartbeat`, ms.
        heartbeat_interval: u64,
        /// How long without a heartbeat until the server closes, ms.
        heartbeat_timeout: u64,
        /// How long a dropped member may resume, ms.
        resume_window: u64,
        /// Server time, µs.
        server_time: u64,
    },
    /// LOUDSYNC `member_list`.
    MemberList {
        /// Server time, ms.
        timestamp: u64,
        /// Every member, the host first, then in order of joining.
        members: Vec<MemberInfo>,
    },
    /// LOUDSYNC `member_joined`.
    MemberJoined {
        /// Server time, ms.
        timestamp: u64,
        /// The member who joined.
        member: MemberInfo,
    },
    /// LOUDSYNC `member_left`.
    MemberLeft {
        /// Server time, ms.
        timestamp: u64,
        /// The member who left.
        member_id: String,
        /// Why.
        reason: LeaveReason,
    },
    /// Extension: a member's status or name changed.
    MemberUpdated {
        /// Server time, ms.
        timestamp: u64,
        /// The member as it is now.
        member: MemberInfo,
    },
    /// Extension: latencies that changed, batched.
    LatencyUpdate {
        /// Server time, ms.
        timestamp: u64,
        /// Member id → round-trip ms.
        latencies: BTreeMap<String, u32>,
    },
    /// Extension: the host changed the session's name, lock or capacity.
    SessionUpdated {
        /// Server time, ms.
        timestamp: u64,
        /// The session as it is now.
        session: SessionState,
    },
    /// Extension: a chat line.
    Chat {
        /// Server time, ms.
        timestamp: u64,
        /// A per-session id for the line.
        id: String,
        /// The sender's member id.
        from: String,
        /// The sender's name at the time.
        name: String,
        /// The line.
        text: String,
        /// The room it was said in ([`crate::DEFAULT_ROOM`] unless another).
        room: String,
        /// The `cid` its sender's `chat` came with, if any: the sender's outbox matches its
        /// line to what it sent (the others ignore it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cid: Option<String>,
    },
    /// Extension: the party's recent chat, to a member that joined or came back with a fresh
    /// `welcome` (not sequenced: what it holds is the chat so far, not news). Oldest first.
    #[serde(rename = "chat.history")]
    ChatHistory {
        /// Server time, ms.
        timestamp: u64,
        /// The lines, oldest first.
        lines: Vec<crate::types::HistoryLine>,
        /// How many lines said while this member was away are no longer kept (0: none missing).
        #[serde(default, skip_serializing_if = "crate::types::is_zero")]
        missed: u64,
        /// The direct messages to and from this member that it has not seen (back from an
        /// absence the log no longer covers, or a restart), or its newest ones (a fresh
        /// `welcome`), oldest first; absent when none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        directs: Vec<crate::types::DirectLine>,
        /// How many direct messages to or from it while it was away are no longer kept.
        #[serde(default, skip_serializing_if = "crate::types::is_zero")]
        directs_missed: u64,
        /// The host notifications sent while this member was away (back from an absence the
        /// log no longer covers, or a restart), oldest first; absent when none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        notifications: Vec<crate::types::HistoryNotification>,
        /// How many notifications sent while it was away are no longer kept.
        #[serde(default, skip_serializing_if = "crate::types::is_zero")]
        notifications_missed: u64,
    },
    /// Extension: a chat line was edited (by its author, or the host).
    #[serde(rename = "chat.edited")]
    ChatEdited {
        /// Server time, ms.
        timestamp: u64,
        /// The line's id.
        id: String,
        /// Its room.
        room: String,
        /// Its author's member id.
        from: String,
        /// The new text.
        text: String,
        /// When it was first said, ms.
        created_at: u64,
        /// When it was edited, ms.
        edited_at: u64,
    },
    /// Extension: a chat line was deleted (by its author, or the host).
    #[serde(rename = "chat.deleted")]
    ChatDeleted {
        /// Server time, ms.
        timestamp: u64,
        /// The line's id.
        id: String,
        /// Its room.
        room: String,
    },
    /// Extension: a member joined, left or changed its voice channel, or muted or deafened
    /// itself (Together's `VOICE_STATE_UPDATE`).
    #[serde(rename = "voice.state")]
    VoiceState {
        /// Server time, ms.
        timestamp: u64,
        /// The member.
        member_id: String,
        /// Its voice channel; `None`: it left voice.
        channel: Option<String>,
        /// It does not send.
        muted: bool,
        /// It does not hear.
        deafened: bool,
    },
    /// Extension: a `direct` message from another member.
    Direct {
        /// Server time, ms.
        timestamp: u64,
        /// The sender's member id.
        from: String,
        /// The sender's id for the message.
        id: String,
        /// The sender's payload, as sent.
        payload: Value,
    },
    /// Extension: a `direct` was queued for its recipient.
    DirectAck {
        /// Server time, ms.
        timestamp: u64,
        /// The sender's id for the message.
        id: String,
        /// The recipient's member id.
        to: String,
        /// True when the recipient is reconnecting: the message waits for it (a partyline/1
        /// member gets it on resume).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        queued: bool,
    },
    /// Extension: the host has taken a message the member sent with a `cid` (its outbox's id
    /// for it): applied once (`ok`), or refused (`ok` false: an `error` just before it says
    /// why); `duplicate` when that `cid` had been taken before, so nothing was done again.
    Ack {
        /// Server time, ms.
        timestamp: u64,
        /// The message's `cid`.
        cid: String,
        /// Whether it was applied (false: refused, with the `error` before this).
        ok: bool,
        /// The `cid` had been taken already (a message sent again after a drop).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        duplicate: bool,
    },
    /// Extension: the member's topics, after a `subscribe` or `unsubscribe`.
    Subscriptions {
        /// Server time, ms.
        timestamp: u64,
        /// Every topic the member is subscribed to, sorted.
        topics: Vec<String>,
    },
    /// Extension: a `broadcast` from another member.
    Broadcast {
        /// Server time, ms.
        timestamp: u64,
        /// The sender's member id.
        from: String,
        /// The sender's id for the message.
        id: String,
        /// The topic it was sent to; absent when sent to everyone.
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// The sender's payload, as sent.
        payload: Value,
    },
    /// Extension: a `broadcast` with `ack` was queued for its recipients.
    BroadcastAck {
        /// Server time, ms.
        timestamp: u64,
        /// The sender's id for the message.
        id: String,
        /// How many members it was queued for.
        recipients: u32,
    },
    /// Extension: a member's presence changed (or, right after `welcome`, is not `online`).
    PresenceUpdate {
        /// Server time, ms.
        timestamp: u64,
        /// The member.
        member_id: String,
        /// Online, away or busy.
        status: PresenceStatus,
        /// Its words, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// Extension: WebRTC signaling from another member. Not sequenced: see
    /// [`ServerMessage::is_sequenced`].
    #[serde(rename = "voice.signal")]
    VoiceSignal {
        /// Server time, ms.
        timestamp: u64,
        /// The sender's member id.
        from: String,
        /// The sender's signal, as sent.
        signal: serde_json::Map<String, Value>,
    },
    /// Extension: a notification from the host.
    Notification {
        /// Server time, ms.
        timestamp: u64,
        /// A per-session id, for `mark_read`.
        id: String,
        /// One line.
        title: String,
        /// More, possibly empty.
        body: String,
        /// How much it matters.
        level: NotificationLevel,
        /// Who sent it: the host's member id.
        from: String,
        /// The host's name.
        name: String,
        /// Links the host attached (at most three, http(s) only); absent when none.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        actions: Vec<crate::types::NotificationAction>,
        /// Whether the recipient has read it: only in a member's own backlog (a Pavilion client
        /// subscribing to `user` gets the kept ones with its read state); absent when new.
        #[serde(skip_serializing_if = "Option::is_none")]
        read: Option<bool>,
    },
    /// LOUDSYNC `kicked`.
    Kicked {
        /// Server time, ms.
        timestamp: u64,
        /// The host's reason.
        reason: String,
    },
    /// LOUDSYNC `session_closed`.
    SessionClosed {
        /// Server time, ms.
        timestamp: u64,
        /// Why.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// LOUDSYNC `pong`.
    Pong {
        /// The ping's timestamp, exactly as sent.
        timestamp: Number,
        /// Extension: when the server read the ping, µs since the epoch.
        #[serde(skip_serializing_if = "Option::is_none")]
        server_receive_time: Option<u64>,
        /// Extension: when the server wrote the pong, µs since the epoch.
        #[serde(skip_serializing_if = "Option::is_none")]
        server_send_time: Option<u64>,
    },
    /// LOUDSYNC `error`.
    Error {
        /// Server time, ms.
        timestamp: u64,
        /// What kind of error.
        code: ErrorCode,
        /// A sentence for people.
        message: String,
        /// Facts for programs.
        #[serde(skip_serializing_if = "Option::is_none")]
        details: Option<Value>,
    },
    /// Extension (SyncPlay): the group's playback state, to apply at `serverTime`.
    #[serde(rename = "syncplay.state")]
    SyncplayState {
        /// Server time, ms.
        timestamp: u64,
        /// The state and when it takes effect.
        #[serde(flatten)]
        state: crate::types::PlayState,
    },
    /// Extension (SyncPlay): one step of the queue (an entry added or removed), sent instead of
    /// the whole state when nothing else changed.
    #[serde(rename = "syncplay.queue")]
    SyncplayQueue {
        /// Server time, ms.
        timestamp: u64,
        /// The group state's revision after this step (as in `syncplay.state`).
        revision: u64,
        /// The entry added, if one was.
        #[serde(skip_serializing_if = "Option::is_none")]
        added: Option<crate::types::QueueEntry>,
        /// Where it was inserted (0-based), with `added`.
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        /// The id of the entry removed, if one was.
        #[serde(skip_serializing_if = "Option::is_none")]
        removed: Option<String>,
    },
    /// Extension (SyncPlay): the media the host shares changed (or a member joined): its first
    /// page, and how many items there are in all (`library.query` asks for the rest).
    #[serde(rename = "library.update")]
    LibraryUpdate {
        /// Server time, ms.
        timestamp: u64,
        /// The library's revision: a `library.page` of another revision is stale.
        #[serde(default)]
        revision: u64,
        /// How many items the library has.
        #[serde(default)]
        total: usize,
        /// The first items, in the library's order (at most [`crate::LIBRARY_PAGE_ITEMS`] and
        /// [`crate::LIBRARY_PAGE_BYTES`]).
        items: Vec<crate::types::LibraryItem>,
    },
    /// Extension (SyncPlay): the answer to one connection's `library.query` (not sequenced).
    #[serde(rename = "library.page")]
    LibraryPage {
        /// Server time, ms.
        timestamp: u64,
        /// The library's revision the page is of.
        revision: u64,
        /// The search it answers, as asked (absent: the whole library).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        q: Option<String>,
        /// Where in the matching items the page starts.
        offset: usize,
        /// How many items match (the whole library without `q`; the ids found with `ids`).
        total: usize,
        /// The items, in the library's order.
        items: Vec<crate::types::LibraryItem>,
    },
    /// Extension: the host acts on this device (e.g. its volume).
    #[serde(rename = "remote.command")]
    RemoteCommand {
        /// Server time, ms.
        timestamp: u64,
        /// What to do, e.g. `volume`.
        command: String,
        /// Its argument, e.g. `0.5`.
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
    },
    /// Extension: the answer to `resume`.
    Resumed {
        /// Server time, ms.
        timestamp: u64,
        /// The member resumed.
        client_id: String,
        /// The `lastSeq` the client sent.
        last_seq: u64,
        /// How many buffered messages follow.
        replayed: u64,
        /// True when the gap was too old: a fresh `welcome` and `member_list` follow instead.
        snapshot: bool,
        /// True when the host restarted since this member's connection went (its party was
        /// picked up from its store): the member is back as itself, with a fresh snapshot.
        /// Absent when false.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        restarted: bool,
    },
    /// Extension: a guest shared a photo (an upload the bytes showed to be an image); the
    /// message's `timestamp` is when.
    #[serde(rename = "photo.shared")]
    PhotoShared {
        /// The photo.
        #[serde(flatten)]
        photo: Photo,
    },
    /// For formats that greet a member with everything at once (Together's `READY`): the member
    /// itself and the party. No LOUDSYNC or partyline/1 form (they have `welcome` and
    /// `member_list`).
    Ready {
        /// Server time, ms.
        timestamp: u64,
        /// The member greeted.
        member: MemberInfo,
        /// Its presence.
        status: PresenceStatus,
        /// The party.
        session: SessionState,
        /// When the party started, ms.
        created_at: u64,
        /// Its rooms and voice channels.
        rooms: Vec<Room>,
    },
    /// The answer to a heartbeat, for formats that have one (Together's `HEARTBEAT_ACK`).
    HeartbeatAck {
        /// Server time, ms.
        timestamp: u64,
    },
    /// A subscription change as seed 001 answers it (`Status` `subscribed`): the topics asked
    /// for, and how many the member now has. partyline/1 has `subscriptions` instead.
    SubscriptionChange {
        /// Server time, ms.
        timestamp: u64,
        /// The topics in the request.
        topics: Vec<String>,
        /// Subscribed (true) or unsubscribed.
        added: bool,
        /// The member's subscriptions now.
        active: usize,
    },
    /// A seed-001 custom message from another member, relayed as it came (`X-…`). partyline/1
    /// members subscribed to its topic get a `broadcast` instead.
    Custom {
        /// Server time, ms.
        timestamp: u64,
        /// The sender's member id.
        from: String,
        /// Its type (`X-CustomAction`).
        kind: String,
        /// Its data.
        data: Value,
    },
    /// A topic's recent broadcasts, oldest first, for seed 001's `History` (each a `Broadcast`).
    History {
        /// Server time, ms.
        timestamp: u64,
        /// The topic asked for.
        topic: String,
        /// Its broadcasts, oldest first.
        messages: Vec<ServerMessage>,
    },
    /// The server's own keep-alive, for formats whose server sends one (Pavilion's
    /// `heartbeat`, every `Config::server_heartbeat_interval`).
    ServerHeartbeat {
        /// Server time, ms.
        timestamp: u64,
    },
}

impl ServerMessage {
    /// Every `type` the server sends at `/ws` (partyline/1's), in the enum's order
    /// ([`ServerMessage::kind`] of each variant but those only other formats have,
    /// [`ServerMessage::is_partyline`]; `tests/round_trip.rs` checks the two agree).
    pub const KINDS: [&'static str; 33] = [
        "welcome",
        "hello",
        "member_list",
        "member_joined",
        "member_left",
        "member_updated",
        "latency_update",
        "session_updated",
        "chat",
        "chat.edited",
        "chat.deleted",
        "voice.state",
        "direct",
        "direct_ack",
        "subscriptions",
        "broadcast",
        "broadcast_ack",
        "presence_update",
        "voice.signal",
        "notification",
        "kicked",
        "session_closed",
        "pong",
        "error",
        "syncplay.state",
        "syncplay.queue",
        "library.update",
        "remote.command",
        "resumed",
        "photo.shared",
        "ack",
        "chat.history",
        "library.page",
    ];

    /// The wire name of this message's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerMessage::Welcome { .. } => "welcome",
            ServerMessage::Hello { .. } => "hello",
            ServerMessage::MemberList { .. } => "member_list",
            ServerMessage::MemberJoined { .. } => "member_joined",
            ServerMessage::MemberLeft { .. } => "member_left",
            ServerMessage::MemberUpdated { .. } => "member_updated",
            ServerMessage::LatencyUpdate { .. } => "latency_update",
            ServerMessage::SessionUpdated { .. } => "session_updated",
            ServerMessage::Chat { .. } => "chat",
            ServerMessage::ChatEdited { .. } => "chat.edited",
            ServerMessage::ChatDeleted { .. } => "chat.deleted",
            ServerMessage::ChatHistory { .. } => "chat.history",
            ServerMessage::VoiceState { .. } => "voice.state",
            ServerMessage::Direct { .. } => "direct",
            ServerMessage::DirectAck { .. } => "direct_ack",
            ServerMessage::Ack { .. } => "ack",
            ServerMessage::Subscriptions { .. } => "subscriptions",
            ServerMessage::Broadcast { .. } => "broadcast",
            ServerMessage::BroadcastAck { .. } => "broadcast_ack",
            ServerMessage::PresenceUpdate { .. } => "presence_update",
            ServerMessage::VoiceSignal { .. } => "voice.signal",
            ServerMessage::Notification { .. } => "notification",
            ServerMessage::Kicked { .. } => "kicked",
            ServerMessage::SessionClosed { .. } => "session_closed",
            ServerMessage::Pong { .. } => "pong",
            ServerMessage::Error { .. } => "error",
            ServerMessage::SyncplayState { .. } => "syncplay.state",
            ServerMessage::SyncplayQueue { .. } => "syncplay.queue",
            ServerMessage::LibraryUpdate { .. } => "library.update",
            ServerMessage::LibraryPage { .. } => "library.page",
            ServerMessage::RemoteCommand { .. } => "remote.command",
            ServerMessage::Resumed { .. } => "resumed",
            ServerMessage::PhotoShared { .. } => "photo.shared",
            ServerMessage::Ready { .. } => "ready",
            ServerMessage::HeartbeatAck { .. } => "heartbeat_ack",
            ServerMessage::SubscriptionChange { .. } => "subscription_change",
            ServerMessage::Custom { .. } => "custom",
            ServerMessage::History { .. } => "history",
            ServerMessage::ServerHeartbeat { .. } => "server_heartbeat",
        }
    }

    /// The `details.reason` of an `error`, if it has one.
    pub fn error_reason(&self) -> Option<&str> {
        match self {
            ServerMessage::Error { details: Some(details), .. } => details.get("reason")?.as_str(),
            _ => None,
        }
    }

    /// Whether the message belongs to the member's sequenced stream (carries `seq`, is
    /// buffered for resume) or only answers one connection (`hello`, `pong`, `resumed`, `error`).
    /// `voice.signal` is not sequenced either: it is relayed only to a connected member and never
    /// replayed, because WebRTC signaling goes stale (an offer or ICE candidate from before a
    /// drop describes a negotiation both sides have abandoned; applied late it breaks the new one).
    pub fn is_sequenced(&self) -> bool {
        !matches!(
            self,
            ServerMessage::Hello { .. }
                | ServerMessage::Pong { .. }
                | ServerMessage::Error { .. }
                | ServerMessage::Ack { .. }
                | ServerMessage::ChatHistory { .. }
                | ServerMessage::LibraryPage { .. }
                | ServerMessage::Resumed { .. }
                | ServerMessage::VoiceSignal { .. }
                | ServerMessage::Ready { .. }
                | ServerMessage::HeartbeatAck { .. }
                | ServerMessage::ServerHeartbeat { .. }
                | ServerMessage::SubscriptionChange { .. }
                | ServerMessage::History { .. }
                | ServerMessage::Custom { .. }
        )
    }

    /// Whether partyline/1 has this message (every one but those other formats alone have).
    pub fn is_partyline(&self) -> bool {
        !matches!(
            self,
            ServerMessage::Ready { .. }
                | ServerMessage::HeartbeatAck { .. }
                | ServerMessage::ServerHeartbeat { .. }
                | ServerMessage::SubscriptionChange { .. }
                | ServerMessage::History { .. }
                | ServerMessage::Custom { .. }
        )
    }

    /// Whether a plain LOUDSYNC 1.0 client may receive this message.
    pub fn is_loudsync(&self) -> bool {
        matches!(
            self,
            ServerMessage::Welcome { .. }
                | ServerMessage::MemberList { .. }
                | ServerMessage::MemberJoined { .. }
                | ServerMessage::MemberLeft { .. }
                | ServerMessage::Kicked { .. }
                | ServerMessage::SessionClosed { .. }
                | ServerMessage::Pong { .. }
                | ServerMessage::Error { .. }
        )
    }

    /// Builds an `error`.
    pub fn error(timestamp: u64, code: ErrorCode, message: impl Into<String>, details: Option<Value>) -> Self {
        ServerMessage::Error { timestamp, code, message: message.into(), details }
    }
}

/// A server message as a client receives it: the message, and the `seq` that a partyline/1
/// member's copy of a sequenced message carries ([`Frame::with_seq`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Received {
    /// The message's place in the member's stream; absent for LOUDSYNC 1.0 members and for
    /// messages that are not sequenced.
    #[serde(default)]
    pub seq: Option<u64>,
    /// The message.
    #[serde(flatten)]
    pub message: ServerMessage,
}

impl Received {
    /// Reads one text frame from the server.
    pub fn decode(text: &str) -> Result<Received, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The wire name of the message's `type`.
    pub fn kind(&self) -> &'static str {
        self.message.kind()
    }
}

impl crate::Wire {
    /// The message as this wire format writes it, or `None` when the format has no such
    /// message. The one place that turns the session's messages into a format's bytes: a new
    /// format is a new arm here, not a change to who receives what.
    ///
    /// - [`crate::Wire::Partyline`]: the message as it is (the session's vocabulary is
    ///   partyline/1's).
    /// - [`crate::Wire::Loudsync`]: only LOUDSYNC 1.0's types ([`ServerMessage::is_loudsync`]),
    ///   with exactly its fields: members without `device`, `welcome` without `resumeSecret`,
    ///   `pong` without the server times.
    pub fn encode(self, message: &ServerMessage) -> Option<Frame> {
        match self {
            crate::Wire::Partyline => message.is_partyline().then(|| Frame::encode(message)),
            crate::Wire::Together => crate::together::encode(message),
            crate::Wire::Pavilion => crate::pavilion::encode(message),
            crate::Wire::Rt => crate::rt::encode(message),
            crate::Wire::Revenge => crate::revenge::encode(message),
            crate::Wire::Loudsync => {
                if !message.is_loudsync() {
                    return None;
                }
                let stripped = match message {
                    ServerMessage::MemberJoined { member, .. } if member.has_extensions() => {
                        let mut message = message.clone();
                        if let ServerMessage::MemberJoined { member, .. } = &mut message {
                            member.drop_extensions();
                        }
                        message
                    }
                    ServerMessage::MemberList { members, .. } if members.iter().any(MemberInfo::has_extensions) => {
                        let mut message = message.clone();
                        if let ServerMessage::MemberList { members, .. } = &mut message {
                            members.iter_mut().for_each(MemberInfo::drop_extensions);
                        }
                        message
                    }
                    ServerMessage::Welcome { resume_secret, photos, .. }
                        if resume_secret.is_some() || photos.is_some() =>
                    {
                        let mut message = message.clone();
                        if let ServerMessage::Welcome { resume_secret, photos, .. } = &mut message {
                            (*resume_secret, *photos) = (None, None);
                        }
                        message
                    }
                    ServerMessage::Pong { server_receive_time, server_send_time, .. }
                        if server_receive_time.is_some() || server_send_time.is_some() =>
                    {
                        let mut message = message.clone();
                        if let ServerMessage::Pong { server_receive_time, server_send_time, .. } = &mut message {
                            (*server_receive_time, *server_send_time) = (None, None);
                        }
                        message
                    }
                    _ => return Some(Frame::encode(message)),
                };
                Some(Frame::encode(&stripped))
            }
        }
    }
}

/// A frame read back as JSON, for the formats' tests (`None`: the format has no such message,
/// and the test fails).
#[cfg(test)]
pub(crate) fn json_of(frame: Option<Frame>) -> Value {
    serde_json::from_str(frame.expect("the format has this message").as_str()).expect("a frame is JSON")
}

/// A server message serialized to JSON once. Cloning shares the bytes, so a broadcast to a
/// thousand members costs one serialization. Seed 001's binary frames ([`crate::binary`]) are
/// frames too ([`Frame::binary`]), written as WebSocket binary messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame(Bytes, Kind);

/// Whether a frame goes out as a WebSocket text or binary message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

impl Frame {
    /// Serializes any value as a frame (another format's envelope).
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Frame {
        Frame::written(value, 256)
    }

    /// Serializes a message.
    pub fn encode(message: &ServerMessage) -> Frame {
        // A list of everyone is the large one (130 B a member and more): written into room
        // made for it, not grown by doubling from 128 B (ten reallocations for a party of a
        // thousand, each leaving a hole the allocator keeps).
        let room = match message {
            ServerMessage::MemberList { members, .. } => 96 + 192 * members.len(),
            _ => 256,
        };
        Frame::written(message, room)
    }

    /// A `member_list` written from each member's entry already in JSON ([`MemberInfo::json`],
    /// or the 1.0 entry, [`MemberInfo::loudsync`]'s): the same bytes as [`Frame::encode`] of
    /// [`ServerMessage::MemberList`] with those members, without serializing the party again
    /// (a joiner's list of a thousand is then a copy of a thousand entries the host keeps).
    pub fn member_list<'a, I>(timestamp: u64, members: I) -> Frame
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: Clone,
    {
        let members = members.into_iter();
        let head = format!("{{\"type\":\"member_list\",\"timestamp\":{timestamp},\"members\":[");
        let entries: usize = members.clone().map(|entry| entry.len() + 1).sum();
        let mut text = Vec::with_capacity(head.len() + entries + 2);
        text.extend_from_slice(head.as_bytes());
        for (i, entry) in members.enumerate() {
            if i > 0 {
                text.push(b',');
            }
            text.extend_from_slice(entry);
        }
        text.extend_from_slice(b"]}");
        Frame(Bytes::from(text), Kind::Text)
    }

    /// `value` as JSON written into a buffer of `room` bytes, then trimmed to its length: a frame
    /// kept (in the party's log, a member's history) holds its text and nothing more. Serializing
    /// the wire's types cannot fail: every map key is a string and no value is a non-finite float.
    fn written<T: Serialize + ?Sized>(value: &T, room: usize) -> Frame {
        let mut text = Vec::with_capacity(room);
        serde_json::to_writer(&mut text, value).expect("wire messages always serialize");
        text.shrink_to_fit();
        Frame(Bytes::from(text), Kind::Text)
    }

    /// A text frame as it was written before (a store's copy of a frame held for a member):
    /// the text is taken as it is.
    pub fn text(text: String) -> Frame {
        Frame(Bytes::from(text), Kind::Text)
    }

    /// A binary frame of seed 001 (`[type][length][payload]`, [`crate::binary::encode`]).
    pub fn binary(bytes: Bytes) -> Frame {
        Frame(bytes, Kind::Binary)
    }

    /// Whether it is a binary frame (written as a WebSocket binary message), not JSON text.
    pub fn is_binary(&self) -> bool {
        self.1 == Kind::Binary
    }

    /// The JSON text. A binary frame has none: it panics.
    pub fn as_str(&self) -> &str {
        assert!(!self.is_binary(), "a binary frame has no text");
        std::str::from_utf8(&self.0).expect("a text frame is built from a String")
    }

    /// The bytes (a text frame's UTF-8 JSON), shared.
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// The JSON text with `"seq":n` as its first field, for a member that opted into sequence
    /// numbers. Splicing the number into the shared text costs one copy, not a serialization.
    pub fn with_seq(&self, seq: u64) -> String {
        let body = &self.as_str()[1..];
        let mut out = self.seq_head(seq, body.len() + 28);
        out.push_str(body);
        out
    }

    /// [`Frame::with_seq`] in two pieces, `seq` and the rest: `{"seq":N,` and the frame's own
    /// bytes after its `{` (shared, not copied), which joined are exactly `with_seq(seq)`. A long
    /// message then goes to each member as a small piece of its own and the bytes everyone shares
    /// (written as fragments of one WebSocket message).
    pub fn seq_parts(&self, seq: u64) -> (String, Bytes) {
        (self.seq_head(seq, 28), self.0.slice(1..))
    }

    /// `{"seq":N` and the comma before the frame's own fields (none for `{}`), in a `String` of
    /// `room` bytes.
    fn seq_head(&self, seq: u64, room: usize) -> String {
        let mut head = String::with_capacity(room);
        head.push_str("{\"seq\":");
        head.push_str(itoa(seq).as_str());
        if &self.0[1..] != b"}" {
            head.push(',');
        }
        head
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the frame is empty (never, for an encoded message).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn itoa(n: u64) -> String {
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ConnectionStatus;

    fn json(message: &ServerMessage) -> Value {
        serde_json::from_str(Frame::encode(message).as_str()).unwrap()
    }

    /// `welcome` has exactly LOUDSYNC's shape, with nothing extra for a 1.0 client.
    #[test]
    fn welcome_matches_loudsync() {
        let message = ServerMessage::Welcome {
            timestamp: 1706889600100,
            client_id: "client-789".into(),
            session_info: SessionInfo {
                id: "abc123".into(),
                name: "Rishad's Party".into(),
                host_id: "host-001".into(),
            },
            resume_secret: None,
            photos: None,
        };
        let expected = serde_json::json!({
            "type": "welcome", "timestamp": 1706889600100u64, "clientId": "client-789",
            "sessionInfo": {"id": "abc123", "name": "Rishad's Party", "hostId": "host-001"}
        });
        assert_eq!(json(&message), expected);
    }

    /// A list written from its members' JSON entries is the list serialized whole, byte for
    /// byte, for partyline/1 (every field) and for 1.0 (the 1.0 entries), with names that need
    /// escaping; and no other format has a `member_list` (so a list built from entries needs
    /// no frame but those two).
    #[test]
    fn a_list_from_entries_is_the_list_serialized() {
        let member = |i: u64, name: &str, device: Option<&str>, latency: Option<u32>| MemberInfo {
            id: format!("m-{i:08x}"),
            name: name.into(),
            is_host: i == 0,
            connection_status: if i.is_multiple_of(2) {
                ConnectionStatus::Connected
            } else {
                ConnectionStatus::Reconnecting
            },
            joined_at: 1_706_889_600_000 + i,
            latency,
            device: device.map(Into::into),
        };
        let parties = [
            vec![],
            vec![member(0, "vm", Some("Partyline desktop"), None)],
            vec![
                member(0, "Host \"quoted\"", None, None),
                member(1, "Sara </script>", Some("iPhone"), Some(23)),
                member(2, "Ünïcödé 🎉 \\ back\u{7}slash", None, Some(0)),
                member(3, "עברית", Some("Android phone"), None),
            ],
        ];
        for members in parties {
            let whole = ServerMessage::MemberList { timestamp: 17, members: members.clone() };
            let entries: Vec<Bytes> = members.iter().map(MemberInfo::json).collect();
            let built = Frame::member_list(17, entries.iter().map(|entry| &entry[..]));
            assert_eq!(built.as_str(), crate::Wire::Partyline.encode(&whole).unwrap().as_str());
            let plain: Vec<Bytes> = members.iter().map(|member| member.loudsync().json()).collect();
            let built = Frame::member_list(17, plain.iter().map(|entry| &entry[..]));
            assert_eq!(built.as_str(), crate::Wire::Loudsync.encode(&whole).unwrap().as_str());
            for wire in crate::Wire::ALL {
                if !wire.has_member_list() {
                    assert_eq!(wire.encode(&whole), None, "{wire:?} has no member_list");
                }
            }
        }
    }

    /// A list written from entries is LOUDSYNC 1.0's own example of `member_list` (seed 003,
    /// lines 279–299), field for field: the host without a latency, the phone with one.
    #[test]
    fn a_list_from_entries_is_the_documents_example() {
        let host = MemberInfo {
            id: "host-001".into(),
            name: "Rishad's MacBook".into(),
            is_host: true,
            connection_status: ConnectionStatus::Connected,
            joined_at: 1706889500000,
            latency: None,
            device: Some("Partyline desktop".into()),
        };
        let phone = MemberInfo {
            id: "client-789".into(),
            name: "Rishad's iPhone".into(),
            is_host: false,
            connection_status: ConnectionStatus::Connected,
            joined_at: 1706889600000,
            latency: Some(23),
            device: None,
        };
        let entries = [host.loudsync().json(), phone.loudsync().json()];
        let built = Frame::member_list(1706889600200, entries.iter().map(|entry| &entry[..]));
        let expected = serde_json::json!({
          "type": "member_list",
          "timestamp": 1706889600200u64,
          "members": [
            {"id": "host-001", "name": "Rishad's MacBook", "isHost": true, "connectionStatus": "connected",
             "joinedAt": 1706889500000u64},
            {"id": "client-789", "name": "Rishad's iPhone", "isHost": false, "connectionStatus": "connected",
             "joinedAt": 1706889600000u64, "latency": 23}
          ]
        });
        assert_eq!(serde_json::from_str::<Value>(built.as_str()).unwrap(), expected);
    }

    /// `seq_parts` joined is `with_seq`, for a message with fields and for one without.
    #[test]
    fn seq_parts_join_into_with_seq() {
        let cases =
            [("{\"type\":\"x\",\"a\":\"é\"}", "{\"seq\":42,\"type\":\"x\",\"a\":\"é\"}"), ("{}", "{\"seq\":42}")];
        for (text, numbered) in cases {
            let frame = Frame::text(text.into());
            let (head, rest) = frame.seq_parts(42);
            let joined = [head.as_bytes(), &rest[..]].concat();
            assert_eq!(String::from_utf8(joined).unwrap(), frame.with_seq(42));
            assert_eq!(frame.with_seq(42), numbered);
        }
    }

    /// `member_list` and `error` match the document's examples.
    #[test]
    fn member_list_and_error_match_loudsync() {
        let message = ServerMessage::MemberList {
            timestamp: 1,
            members: vec![MemberInfo {
                id: "client-789".into(),
                name: "Rishad's iPhone".into(),
                is_host: false,
                connection_status: ConnectionStatus::Connected,
                joined_at: 1706889600000,
                latency: Some(23),
                device: None,
            }],
        };
        let expected = serde_json::json!({"type": "member_list", "timestamp": 1, "members": [{
            "id": "client-789", "name": "Rishad's iPhone", "isHost": false,
            "connectionStatus": "connected", "joinedAt": 1706889600000u64, "latency": 23}]});
        assert_eq!(json(&message), expected);
        let error = ServerMessage::error(
            2,
            ErrorCode::SessionFull,
            "Session has reached maximum capacity (10 members)",
            Some(serde_json::json!({"maxMembers": 10, "currentMembers": 10})),
        );
        let expected = serde_json::json!({"type": "error", "timestamp": 2, "code": "session_full",
            "message": "Session has reached maximum capacity (10 members)",
            "details": {"maxMembers": 10, "currentMembers": 10}});
        assert_eq!(json(&error), expected);
    }

    /// A connected member, Sara, with this device label.
    fn sara(device: Option<&str>) -> MemberInfo {
        MemberInfo {
            id: "m-1".into(),
            name: "Sara".into(),
            is_host: false,
            connection_status: ConnectionStatus::Connected,
            joined_at: 5,
            latency: None,
            device: device.map(str::to_string),
        }
    }

    /// `device` (extension) is sent when known, and the LOUDSYNC view of a member drops it.
    #[test]
    fn member_device_is_an_extension() {
        let member = sara(Some("Android phone"));
        assert!(member.has_extensions());
        let joined = |member: MemberInfo| json(&ServerMessage::MemberJoined { timestamp: 6, member });
        let base = serde_json::json!({"id": "m-1", "name": "Sara", "isHost": false,
            "connectionStatus": "connected", "joinedAt": 5});
        let mut with_device = base.clone();
        with_device["device"] = "Android phone".into();
        assert_eq!(
            joined(member.clone()),
            serde_json::json!({"type": "member_joined", "timestamp": 6, "member": with_device})
        );
        let legacy = member.loudsync();
        assert!(!legacy.has_extensions());
        assert_eq!(joined(legacy), serde_json::json!({"type": "member_joined", "timestamp": 6, "member": base}));
        let parsed: MemberInfo = serde_json::from_value(with_device_value()).unwrap();
        assert_eq!(parsed.device.as_deref(), Some("iPhone"));
    }

    fn with_device_value() -> Value {
        serde_json::json!({"id": "m-2", "name": "Ann", "isHost": false, "connectionStatus": "connected",
            "joinedAt": 1, "device": "iPhone"})
    }

    /// The messaging extensions are never LOUDSYNC 1.0 messages; all but `voice.signal` are
    /// sequenced.
    #[test]
    fn messaging_types_are_extensions() {
        use crate::types::{NotificationLevel, PresenceStatus};
        let (t, s) = (1, String::new);
        let messages = [
            ServerMessage::Direct { timestamp: t, from: s(), id: s(), payload: Value::Null },
            ServerMessage::DirectAck { timestamp: t, id: s(), to: s(), queued: false },
            ServerMessage::Subscriptions { timestamp: t, topics: vec![] },
            ServerMessage::Broadcast { timestamp: t, from: s(), id: s(), topic: None, payload: Value::Null },
            ServerMessage::BroadcastAck { timestamp: t, id: s(), recipients: 0 },
            ServerMessage::PresenceUpdate { timestamp: t, member_id: s(), status: PresenceStatus::Away, text: None },
            ServerMessage::Notification {
                timestamp: t,
                id: s(),
                title: s(),
                body: s(),
                level: NotificationLevel::Info,
                from: s(),
                name: s(),
                actions: vec![],
                read: None,
            },
            ServerMessage::VoiceSignal { timestamp: t, from: s(), signal: serde_json::Map::new() },
        ];
        let kinds: Vec<String> = messages.iter().map(|m| json(m)["type"].as_str().unwrap().to_string()).collect();
        let expected = ["direct", "direct_ack", "subscriptions", "broadcast", "broadcast_ack", "presence_update"];
        assert_eq!(kinds[..6], expected);
        assert_eq!(kinds[6..], ["notification", "voice.signal"]);
        for message in &messages {
            assert!(!message.is_loudsync(), "{message:?}");
        }
        let sequenced: Vec<bool> = messages.iter().map(ServerMessage::is_sequenced).collect();
        assert_eq!(sequenced, [true, true, true, true, true, true, true, false]);
    }

    /// Each wire format writes a message its own way: LOUDSYNC 1.0 drops extension types and
    /// fields, partyline/1 keeps them.
    #[test]
    fn wire_formats() {
        use crate::Wire;
        let member = sara(Some("iPhone"));
        let joined = ServerMessage::MemberJoined { timestamp: 6, member: member.clone() };
        let text = |frame: Option<Frame>| frame.map(|f| f.as_str().to_string());
        assert!(text(Wire::Partyline.encode(&joined)).unwrap().contains("\"device\":\"iPhone\""));
        assert!(!text(Wire::Loudsync.encode(&joined)).unwrap().contains("device"));
        let list = ServerMessage::MemberList { timestamp: 6, members: vec![member] };
        assert!(!text(Wire::Loudsync.encode(&list)).unwrap().contains("device"));
        let chat = ServerMessage::Chat {
            timestamp: 1,
            id: "c-1".into(),
            from: "m".into(),
            name: "n".into(),
            text: "hi".into(),
            room: crate::DEFAULT_ROOM.into(),
            cid: None,
        };
        assert_eq!(Wire::Loudsync.encode(&chat), None, "no chat in LOUDSYNC 1.0");
        let welcome = ServerMessage::Welcome {
            timestamp: 1,
            client_id: "m-1".into(),
            session_info: SessionInfo { id: "s".into(), name: "n".into(), host_id: "h".into() },
            resume_secret: Some("secret".into()),
            photos: Some(Vec::new()),
        };
        assert!(!text(Wire::Loudsync.encode(&welcome)).unwrap().contains("secret"));
        assert!(!text(Wire::Loudsync.encode(&welcome)).unwrap().contains("photos"));
        let pong = ServerMessage::Pong { timestamp: 1.into(), server_receive_time: Some(2), server_send_time: Some(3) };
        assert_eq!(text(Wire::Loudsync.encode(&pong)).unwrap(), r#"{"type":"pong","timestamp":1}"#);
    }

    /// A 1.0 pong is only the echoed timestamp, digit for digit.
    #[test]
    fn pong_echoes_exactly() {
        let timestamp: Number = serde_json::from_str("1706889650000.125").unwrap();
        let pong = ServerMessage::Pong { timestamp, server_receive_time: None, server_send_time: None };
        assert_eq!(Frame::encode(&pong).as_str(), r#"{"type":"pong","timestamp":1706889650000.125}"#);
    }

    /// A client's sub-millisecond timestamp comes back as the same number in the same digits:
    /// JSON numbers are parsed exactly (serde_json's `float_roundtrip`; without it 17-digit
    /// values like this one came back one ulp off, found by the decode fuzz target) and printed
    /// shortest, as JavaScript prints them.
    #[test]
    fn pong_echoes_a_seventeen_digit_timestamp() {
        for text in ["1709637127385.7385", "1706889650000.125", "1700000000123.456"] {
            let ping = crate::decode(&format!(r#"{{"type":"ping","timestamp":{text}}}"#)).unwrap();
            let crate::ClientMessage::Ping(ping) = ping else { panic!("a ping") };
            let pong =
                ServerMessage::Pong { timestamp: ping.timestamp, server_receive_time: None, server_send_time: None };
            assert_eq!(Frame::encode(&pong).as_str(), format!(r#"{{"type":"pong","timestamp":{text}}}"#));
        }
    }

    /// The sequence number is spliced in as the first field and the rest is untouched.
    #[test]
    fn seq_splice() {
        let frame = Frame::encode(&ServerMessage::Kicked { timestamp: 5, reason: "bye".into() });
        assert_eq!(frame.with_seq(42), r#"{"seq":42,"type":"kicked","timestamp":5,"reason":"bye"}"#);
        let parsed: Value = serde_json::from_str(&frame.with_seq(7)).unwrap();
        assert_eq!(parsed["seq"], 7);
    }
}
