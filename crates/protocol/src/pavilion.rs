//! Seed 004, Pavilion's notifications socket, at `/pavilion/ws`: every frame is `{type, payload,
//! timestamp}` with an ISO 8601 `timestamp`, both ways.
//!
//! The server writes `notification`, `status_update`, `chat_message`, `heartbeat` (every 30 s)
//! and `error {code, message}`; the client sends `subscribe`/`unsubscribe {channel}`,
//! `mark_read {notificationId}`, `presence {status}` and `heartbeat_ack`. What a member receives
//! is what it subscribed to: `user` (its notifications), `zone:{sessionId}` (the party's
//! presence), `chat:{roomId}` (a room's lines), `channel:{topic}` (a topic's broadcasts). A bad
//! frame is answered with `error` 1002 and the connection stays open.
//!
//! [`encode`] maps the session's messages onto this format; [`decode`] reads a client's frame.
//! docs/protocol.md has the chapter.

use serde::Deserialize;
use serde_json::{Number, Value, json};

use crate::client::{
    Channel, ClientMessage, DecodeError, Feed, Heartbeat, MarkRead, Presence, checked, envelope, truncate,
};
use crate::iso::{format_ms, parse_ms};
use crate::server::{Frame, ServerMessage};
use crate::types::{ConnectionStatus, ErrorCode, PresenceStatus};

/// Error 1001: authentication error (a wrong or missing token).
pub const AUTHENTICATION: u16 = 1001;

/// The presence status as Pavilion spells it.
pub fn status_name(status: PresenceStatus) -> &'static str {
    match status {
        PresenceStatus::Online => "online",
        PresenceStatus::Away => "away",
        PresenceStatus::Busy => "busy",
        PresenceStatus::Offline => "offline",
    }
}

fn status_from(name: &str) -> Option<PresenceStatus> {
    Some(match name {
        "online" => PresenceStatus::Online,
        "away" => PresenceStatus::Away,
        "busy" => PresenceStatus::Busy,
        "offline" => PresenceStatus::Offline,
        _ => return None,
    })
}

/// The seed's numeric error code for one of ours.
pub fn error_code(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::InvalidMessage
        | ErrorCode::MessageTooLarge
        | ErrorCode::VersionMismatch
        | ErrorCode::ResumeFailed
        | ErrorCode::RecipientUnavailable => 1002,
        ErrorCode::InvalidSubscription | ErrorCode::SessionNotFound => 1003,
        ErrorCode::Unauthorized | ErrorCode::SessionFull | ErrorCode::AlreadyJoined => 1004,
        ErrorCode::RateLimited => 1005,
    }
}

fn frame(kind: &str, payload: Value, at_ms: u64) -> Frame {
    Frame::json(&json!({"type": kind, "payload": payload, "timestamp": format_ms(at_ms)}))
}

fn status_update(user_id: &str, status: &str, at_ms: u64) -> Frame {
    frame("status_update", json!({"userId": user_id, "status": status, "lastActive": format_ms(at_ms)}), at_ms)
}

/// The `error` frame for a code and message.
pub fn error(code: u16, message: &str, at_ms: u64) -> Frame {
    frame("error", json!({"code": code, "message": message}), at_ms)
}

/// One of the session's messages as Pavilion writes it, or `None` when Pavilion has no such
/// message. Whether the member subscribed to it is the session's business
/// ([`ServerMessage`]'s channel, [`channel_of`]).
pub fn encode(message: &ServerMessage) -> Option<Frame> {
    Some(match message {
        ServerMessage::ServerHeartbeat { timestamp } => {
            Frame::json(&json!({"type": "heartbeat", "timestamp": format_ms(*timestamp)}))
        }
        ServerMessage::Chat { timestamp, id, from, name, text, room, .. } => frame(
            "chat_message",
            json!({
                "id": id,
                "roomId": room,
                "sender": {"id": from, "username": name, "profilePhoto": ""},
                "content": text,
                "createdAt": format_ms(*timestamp),
                "attachments": [],
            }),
            *timestamp,
        ),
        ServerMessage::Notification { timestamp, id, title, body, from, name, read, .. } => {
            let content = if body.is_empty() { title.clone() } else { format!("{title}\n\n{body}") };
            frame(
                "notification",
                json!({
                    "id": id,
                    "type": "announcement",
                    "content": content,
                    "isRead": read.unwrap_or(false),
                    "createdAt": format_ms(*timestamp),
                    "sender": {"id": from, "username": name, "profilePhoto": ""},
                    "reference": {"type": "announcement", "id": id},
                }),
                *timestamp,
            )
        }
        ServerMessage::PresenceUpdate { timestamp, member_id, status, .. } => {
            status_update(member_id, status_name(*status), *timestamp)
        }
        ServerMessage::MemberJoined { timestamp, member } => status_update(&member.id, "online", *timestamp),
        ServerMessage::MemberLeft { timestamp, member_id, .. } => status_update(member_id, "offline", *timestamp),
        ServerMessage::MemberUpdated { timestamp, member } => match member.connection_status {
            ConnectionStatus::Connected => return None,
            ConnectionStatus::Reconnecting | ConnectionStatus::Disconnected => {
                status_update(&member.id, "offline", *timestamp)
            }
        },
        ServerMessage::Broadcast { timestamp, from, id, topic: Some(topic), payload } => frame(
            "channel_message",
            json!({"channel": format!("channel:{topic}"), "id": id, "senderId": from, "data": payload}),
            *timestamp,
        ),
        ServerMessage::Error { timestamp, code, message, .. } => error(error_code(*code), message, *timestamp),
        _ => return None,
    })
}

/// The channel a message arrives on, for a Pavilion member: it gets the message only when it
/// subscribed to that channel. `None`: not a channel's message (heartbeat, error).
pub fn channel_of(message: &ServerMessage, session_id: &str) -> Option<Channel> {
    match message {
        ServerMessage::Chat { room, .. } => Some(Channel::Chat(room.clone())),
        ServerMessage::Notification { .. } => Some(Channel::User),
        ServerMessage::PresenceUpdate { .. }
        | ServerMessage::MemberJoined { .. }
        | ServerMessage::MemberLeft { .. }
        | ServerMessage::MemberUpdated { .. } => Some(Channel::Zone(session_id.to_string())),
        ServerMessage::Broadcast { topic: Some(topic), .. } => Some(Channel::Topic(topic.clone())),
        _ => None,
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: Option<Value>,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    timestamp: Option<Value>,
}

fn bad(kind: &'static str, detail: impl Into<String>) -> DecodeError {
    DecodeError::BadFields { kind, detail: detail.into() }
}

fn field<'a>(payload: &'a Value, kind: &'static str, name: &str) -> Result<&'a str, DecodeError> {
    payload.get(name).and_then(Value::as_str).ok_or_else(|| bad(kind, format!("payload.{name} must be a string")))
}

/// Decodes one frame a Pavilion client sent.
pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
    let envelope: Envelope = envelope(text)?;
    let Some(Value::String(kind)) = envelope.kind else { return Err(DecodeError::NoType) };
    // The seed's timestamp is ISO 8601; a client may leave it out, but not send another kind.
    let at = match &envelope.timestamp {
        None | Some(Value::Null) => 0,
        Some(Value::String(text)) => parse_ms(text).ok_or_else(|| {
            bad("timestamp", "timestamp must be an ISO 8601 date and time, e.g. 2024-03-15T12:00:00Z")
        })?,
        Some(_) => return Err(bad("timestamp", "timestamp must be an ISO 8601 string")),
    };
    let timestamp = Number::from(at.max(0));
    let payload = envelope.payload.unwrap_or(Value::Null);
    let message = match kind.as_str() {
        "heartbeat_ack" | "heartbeat" => ClientMessage::Heartbeat(Heartbeat { timestamp }),
        "subscribe" | "unsubscribe" => {
            let kind = if kind == "subscribe" { "subscribe" } else { "unsubscribe" };
            let channel = Channel::parse(field(&payload, kind, "channel")?);
            ClientMessage::Feed(Feed { channel, add: kind == "subscribe" })
        }
        "mark_read" => {
            let id = field(&payload, "mark_read", "notificationId")?;
            ClientMessage::MarkRead(MarkRead { timestamp, ids: vec![id.to_string()] })
        }
        "presence" => {
            let status = field(&payload, "presence", "status")?;
            let status = status_from(status).ok_or_else(|| {
                bad(
                    "presence",
                    format!("status must be online, offline, busy or away, not \"{}\"", truncate(status, 32)),
                )
            })?;
            ClientMessage::Presence(Presence { timestamp, status, text: None })
        }
        other => return Err(DecodeError::UnknownType(truncate(other, 64))),
    };
    checked(message)
}

#[cfg(test)]
mod tests {
    //! Frames from seed 004's own examples, decoded; the session's messages encoded as the seed
    //! writes them.

    use super::*;
    use crate::server::json_of as value;

    /// Every client example of the seed decodes, ISO timestamps included.
    #[test]
    fn seed_client_examples_decode() {
        let sub =
            decode(r#"{"type": "subscribe", "payload": {"channel": "zone:123"}, "timestamp": "2024-03-15T12:00:00Z"}"#);
        assert!(
            matches!(&sub, Ok(ClientMessage::Feed(Feed { channel: Channel::Zone(id), add: true })) if id == "123"),
            "{sub:?}"
        );
        let chat = decode(
            r#"{"type": "subscribe", "payload": {"channel": "chat:456", "parameters": {}}, "timestamp": "2024-03-15T12:00:00Z"}"#,
        );
        assert!(
            matches!(&chat, Ok(ClientMessage::Feed(Feed { channel: Channel::Chat(id), .. })) if id == "456"),
            "{chat:?}"
        );
        let off =
            decode(r#"{"type": "unsubscribe", "payload": {"channel": "user"}, "timestamp": "2024-03-15T12:00:00Z"}"#);
        assert!(matches!(off, Ok(ClientMessage::Feed(Feed { channel: Channel::User, add: false }))));
        let read = decode(
            r#"{"type": "mark_read", "payload": {"notificationId": "n-1"}, "timestamp": "2024-03-15T12:00:00Z"}"#,
        );
        assert!(matches!(&read, Ok(ClientMessage::MarkRead(MarkRead { ids, .. })) if ids == &["n-1"]), "{read:?}");
        let busy =
            decode(r#"{"type": "presence", "payload": {"status": "busy"}, "timestamp": "2024-03-15T12:00:00Z"}"#);
        assert!(matches!(busy, Ok(ClientMessage::Presence(Presence { status: PresenceStatus::Busy, .. }))));
        let ack = decode(r#"{"type": "heartbeat_ack", "timestamp": "2024-03-15T12:00:00Z"}"#);
        assert!(matches!(ack, Ok(ClientMessage::Heartbeat(_))));
    }

    /// Malformed frames are refused with a reason, each its own.
    #[test]
    fn bad_frames_are_refused() {
        for text in [
            "{",
            r#"{"payload": {}}"#,
            r#"{"type": "subscribe", "payload": {}}"#,
            r#"{"type": "presence", "payload": {"status": "idle"}}"#,
            r#"{"type": "mark_read", "payload": {"notificationId": 5}}"#,
            r#"{"type": "heartbeat_ack", "timestamp": 1710504000000}"#,
            r#"{"type": "heartbeat_ack", "timestamp": "noon"}"#,
            r#"{"type": "chat_message", "payload": {}}"#,
        ] {
            assert!(decode(text).is_err(), "{text} was accepted");
        }
    }

    /// chat_message, notification, status_update and heartbeat have the seed's fields.
    #[test]
    fn server_messages_are_the_seeds_shape() {
        let chat = ServerMessage::Chat {
            timestamp: 1_710_504_000_000,
            id: "c-1".into(),
            from: "m-1".into(),
            name: "alice".into(),
            text: "hi".into(),
            room: "general".into(),
            cid: None,
        };
        let v = value(encode(&chat));
        assert_eq!((v["type"].as_str(), v["timestamp"].as_str()), (Some("chat_message"), Some("2024-03-15T12:00:00Z")));
        let p = &v["payload"];
        assert_eq!((p["roomId"].as_str(), p["sender"]["username"].as_str()), (Some("general"), Some("alice")));
        assert_eq!(p["createdAt"], "2024-03-15T12:00:00Z");
        assert_eq!(p["attachments"], json!([]));
        assert_eq!(channel_of(&chat, "s"), Some(Channel::Chat("general".into())));

        let note = ServerMessage::Notification {
            timestamp: 1_710_504_000_000,
            id: "n-1".into(),
            title: "Pizza".into(),
            body: String::new(),
            level: crate::NotificationLevel::Info,
            from: "h-1".into(),
            name: "Host".into(),
            actions: vec![],
            read: None,
        };
        let v = value(encode(&note));
        let p = &v["payload"];
        assert_eq!(
            (p["id"].as_str(), p["content"].as_str(), p["isRead"].as_bool()),
            (Some("n-1"), Some("Pizza"), Some(false))
        );
        assert_eq!(p["sender"]["id"], "h-1");

        let away = ServerMessage::PresenceUpdate {
            timestamp: 1_710_504_000_000,
            member_id: "m-1".into(),
            status: PresenceStatus::Away,
            text: None,
        };
        let v = value(encode(&away));
        assert_eq!(v["payload"], json!({"userId": "m-1", "status": "away", "lastActive": "2024-03-15T12:00:00Z"}));
        assert_eq!(channel_of(&away, "s-9"), Some(Channel::Zone("s-9".into())));

        let beat = value(encode(&ServerMessage::ServerHeartbeat { timestamp: 1_710_504_000_000 }));
        assert_eq!(beat, json!({"type": "heartbeat", "timestamp": "2024-03-15T12:00:00Z"}));
        let err = ServerMessage::error(0, ErrorCode::RateLimited, "slow down", None);
        assert_eq!(value(encode(&err))["payload"]["code"], 1005);
    }
}
