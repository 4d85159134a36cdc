//! Seed 001, the Real-time Communication Service, at `/rt/ws`: every frame is `{type, data, id?,
//! timestamp?}` (types in PascalCase), times are milliseconds since the Unix epoch.
//!
//! On connect the server writes `Status` `connected` (with `connection_id`, `server_time`,
//! `protocol_version` "1.0" and `features`). Both sides may `Ping` (the other answers `Pong` with
//! the same `timestamp`). Topics are the party's topics, subscribed to with wildcards
//! (`updates.*`, see [`crate::client::topic_matches`]); `Broadcast` and `DirectMessage` are
//! acknowledged with `Ack`; host announcements are `Notification`, presence is `Presence`;
//! errors are `Error {code, message, details}` with the seed's HTTP-like codes.
//!
//! [`encode`] maps the session's messages onto this format; [`decode`] reads a client's frame.
//! docs/protocol.md has the chapter.

use serde_json::{Map, Number, Value, json};

use crate::client::{
    Broadcast, ClientMessage, Custom, DecodeError, Direct, Heartbeat, HistoryRequest, Ping, Topics, checked, envelope,
    truncate,
};
use crate::server::{Frame, ServerMessage};
use crate::types::{ErrorCode, NotificationLevel, PresenceStatus};

/// The protocol version the seed's welcome names.
pub const PROTOCOL_VERSION: &str = "1.0";

/// What this host offers, in the welcome's `features`.
pub const FEATURES: [&str; 5] = ["broadcast", "direct_message", "presence", "notifications", "history"];

/// The seed's numeric error code for one of ours.
pub fn error_code(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::InvalidMessage
        | ErrorCode::MessageTooLarge
        | ErrorCode::VersionMismatch
        | ErrorCode::ResumeFailed
        | ErrorCode::InvalidSubscription => 400,
        ErrorCode::Unauthorized => 403,
        ErrorCode::SessionNotFound | ErrorCode::RecipientUnavailable => 404,
        ErrorCode::RateLimited => 429,
        ErrorCode::SessionFull | ErrorCode::AlreadyJoined => 503,
    }
}

fn frame(kind: &str, data: Value) -> Frame {
    Frame::json(&json!({"type": kind, "data": data}))
}

fn status(status: &str, details: Value) -> Frame {
    frame("Status", json!({"status": status, "details": details}))
}

fn presence(user_id: &str, status: PresenceStatus, at: u64) -> Frame {
    let status = match status {
        PresenceStatus::Online => "online",
        PresenceStatus::Away => "away",
        PresenceStatus::Busy => "busy",
        PresenceStatus::Offline => "offline",
    };
    frame("Presence", json!({"user_id": user_id, "status": status, "last_seen": at, "metadata": {}}))
}

/// A topic broadcast's `data`, as a `Broadcast` frame carries it (and each of `History`'s).
fn broadcast(message: &ServerMessage) -> Option<Value> {
    let ServerMessage::Broadcast { timestamp, from, id, topic: Some(topic), payload } = message else { return None };
    Some(json!({
        "topic": topic,
        "payload": payload,
        "metadata": {"sent_at": timestamp, "message_id": id, "from_user": from},
    }))
}

/// The `Error` frame for a code, message and details.
pub fn error(code: u16, message: &str, details: Value) -> Frame {
    frame("Error", json!({"code": code, "message": message, "details": details}))
}

/// One of the session's messages as seed 001 writes it, or `None` when it has no such message.
pub fn encode(out: &ServerMessage) -> Option<Frame> {
    Some(match out {
        ServerMessage::Ready { timestamp, member, .. } => status(
            "connected",
            json!({
                "connection_id": member.id,
                "server_time": timestamp,
                "protocol_version": PROTOCOL_VERSION,
                "features": FEATURES,
            }),
        ),
        ServerMessage::Pong { timestamp, .. } => frame("Pong", json!({"timestamp": timestamp})),
        ServerMessage::ServerHeartbeat { timestamp } => frame("Ping", json!({"timestamp": timestamp})),
        ServerMessage::SubscriptionChange { topics, added, active, .. } => status(
            if *added { "subscribed" } else { "unsubscribed" },
            json!({"topics": topics, "active_subscriptions": active}),
        ),
        ServerMessage::Broadcast { topic: Some(_), .. } => frame("Broadcast", broadcast(out)?),
        ServerMessage::Custom { timestamp, from, kind, data } => {
            Frame::json(&json!({"type": kind, "data": data, "metadata": {"sent_at": timestamp, "from_user": from}}))
        }
        ServerMessage::History { topic, messages, .. } => {
            let messages: Vec<Value> = messages.iter().filter_map(broadcast).collect();
            frame("History", json!({"topic": topic, "messages": messages}))
        }
        ServerMessage::BroadcastAck { id, recipients, .. } => {
            frame("Ack", json!({"message_id": id, "status": "delivered", "recipients": recipients}))
        }
        ServerMessage::Direct { timestamp, from, id, payload } => frame(
            "DirectMessage",
            json!({"from_user": from, "payload": payload, "metadata": {"sent_at": timestamp, "message_id": id}}),
        ),
        ServerMessage::DirectAck { id, to, queued: true, .. } => {
            error(404, &format!("User {to} not found or not connected"), json!({"message_id": id, "queued": true}))
        }
        ServerMessage::DirectAck { id, to, .. } => {
            frame("Ack", json!({"message_id": id, "status": "delivered", "delivered_to": [to]}))
        }
        ServerMessage::Notification { title, body, level, .. } => {
            let level = match level {
                NotificationLevel::Info => "info",
                NotificationLevel::Warning => "warning",
                NotificationLevel::Alert => "alert",
            };
            frame("Notification", json!({"level": level, "title": title, "message": body, "actions": []}))
        }
        ServerMessage::PresenceUpdate { timestamp, member_id, status, .. } => presence(member_id, *status, *timestamp),
        ServerMessage::MemberJoined { timestamp, member } => presence(&member.id, PresenceStatus::Online, *timestamp),
        ServerMessage::MemberLeft { timestamp, member_id, .. } => {
            presence(member_id, PresenceStatus::Offline, *timestamp)
        }
        ServerMessage::Error { code, message, details, .. } => {
            let mut details = details.clone().unwrap_or_else(|| json!({}));
            if let Some(retry) = details.get("retryAfterMs").cloned() {
                details["retry_after_ms"] = retry;
            }
            error(error_code(*code), message, details)
        }
        _ => return None,
    })
}

fn bad(kind: &'static str, detail: impl Into<String>) -> DecodeError {
    DecodeError::BadFields { kind, detail: detail.into() }
}

/// The message id a client gave (`id`), if any: a string, or a number written as one.
fn message_id(id: &Option<Value>, kind: &'static str) -> Result<Option<String>, DecodeError> {
    match id {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) => Ok(Some(id.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(bad(kind, "id must be a string")),
    }
}

fn topics(data: &Value, kind: &'static str) -> Result<Vec<String>, DecodeError> {
    let list = data.get("topics").and_then(Value::as_array).ok_or_else(|| bad(kind, "data.topics must be a list"))?;
    list.iter()
        .map(|topic| topic.as_str().map(str::to_string).ok_or_else(|| bad(kind, "every topic must be a string")))
        .collect()
}

/// Decodes one text frame a seed-001 client sent.
pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
    let envelope: crate::client::TypeData = envelope(text)?;
    let Some(Value::String(kind)) = envelope.kind else { return Err(DecodeError::NoType) };
    let data = envelope.data.unwrap_or(Value::Null);
    let zero = Number::from(0);
    let message = match kind.as_str() {
        "Ping" => {
            let timestamp = match data.get("timestamp") {
                Some(Value::Number(n)) => n.clone(),
                None | Some(Value::Null) => zero,
                Some(_) => return Err(bad("Ping", "data.timestamp must be a number")),
            };
            ClientMessage::Ping(Ping { timestamp })
        }
        "Pong" => ClientMessage::Heartbeat(Heartbeat { timestamp: zero }),
        "Subscribe" => ClientMessage::Subscribe(Topics { timestamp: zero, topics: topics(&data, "Subscribe")? }),
        "Unsubscribe" => ClientMessage::Unsubscribe(Topics { timestamp: zero, topics: topics(&data, "Unsubscribe")? }),
        "Broadcast" => {
            let topic = data
                .get("topic")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("Broadcast", "data.topic must be a topic"))?;
            let id = message_id(&envelope.id, "Broadcast")?;
            ClientMessage::Broadcast(Broadcast {
                timestamp: zero,
                ack: id.is_some(),
                id: id.unwrap_or_else(|| "-".to_string()),
                topic: Some(topic.to_string()),
                payload: data.get("payload").cloned().unwrap_or(Value::Null),
            })
        }
        "DirectMessage" => {
            let to = data
                .get("target_user")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("DirectMessage", "data.target_user must be a user id"))?;
            let id = message_id(&envelope.id, "DirectMessage")?.unwrap_or_else(|| "-".to_string());
            let payload = data.get("payload").cloned().unwrap_or(Value::Object(Map::new()));
            ClientMessage::Direct(Direct { timestamp: zero, to: to.to_string(), id, payload })
        }
        "History" => {
            let topic = data
                .get("topic")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("History", "data.topic must be a topic"))?;
            let limit = match data.get("limit") {
                None | Some(Value::Null) => crate::HISTORY_PER_TOPIC,
                Some(limit) => {
                    limit.as_u64().ok_or_else(|| bad("History", "data.limit must be a whole number"))? as usize
                }
            };
            ClientMessage::History(HistoryRequest {
                topic: topic.to_string(),
                limit: limit.min(crate::HISTORY_PER_TOPIC),
            })
        }
        custom if custom.starts_with("X-") => {
            ClientMessage::Custom(Custom { kind: custom.to_string(), data: data.clone() })
        }
        other => return Err(DecodeError::UnknownType(truncate(other, 64))),
    };
    checked(message)
}

#[cfg(test)]
mod tests {
    //! Frames from seed 001's own examples, decoded; the session's messages encoded as the seed
    //! writes them.

    use super::*;
    use crate::server::json_of as value;

    /// The seed's client examples decode to the session's messages.
    #[test]
    fn seed_client_examples_decode() {
        let ping = decode(r#"{"type": "Ping", "data": {"timestamp": 1234567890}}"#);
        assert!(matches!(&ping, Ok(ClientMessage::Ping(Ping { timestamp })) if timestamp.as_u64() == Some(1234567890)));
        let sub =
            decode(r#"{"type": "Subscribe", "data": {"topics": ["notifications", "chat.general", "updates.*"]}}"#);
        let Ok(ClientMessage::Subscribe(Topics { topics, .. })) = sub else { panic!("{sub:?}") };
        assert_eq!(topics, ["notifications", "chat.general", "updates.*"]);
        let cast = decode(
            r#"{"type": "Broadcast", "data": {"topic": "chat.general", "payload": {"message": "Hello everyone!", "sender": "user123", "metadata": {"mood": "happy"}}}, "id": "msg_123456"}"#,
        );
        let Ok(ClientMessage::Broadcast(cast)) = cast else { panic!("{cast:?}") };
        assert_eq!((cast.id.as_str(), cast.topic.as_deref(), cast.ack), ("msg_123456", Some("chat.general"), true));
        let dm = decode(
            r#"{"type": "DirectMessage", "data": {"target_user": "user456", "payload": {"message": "Private message", "attachments": []}}, "id": "dm_789012"}"#,
        );
        let Ok(ClientMessage::Direct(dm)) = dm else { panic!("{dm:?}") };
        assert_eq!((dm.to.as_str(), dm.id.as_str()), ("user456", "dm_789012"));
        assert!(matches!(decode(r#"{"type": "Pong", "data": {"timestamp": 5}}"#), Ok(ClientMessage::Heartbeat(_))));
    }

    /// Bad frames are refused, each with its reason.
    #[test]
    fn bad_frames_are_refused() {
        for text in [
            "{",
            r#"{"data": {}}"#,
            r#"{"type": "Subscribe", "data": {"topics": "all"}}"#,
            r#"{"type": "Subscribe", "data": {"topics": ["Not A Topic"]}}"#,
            r#"{"type": "Broadcast", "data": {"payload": 1}}"#,
            r#"{"type": "DirectMessage", "data": {"payload": 1}}"#,
            r#"{"type": "Ping", "data": {"timestamp": "now"}}"#,
            r#"{"type": "Teleport", "data": {}}"#,
        ] {
            assert!(decode(text).is_err(), "{text} was accepted");
        }
    }

    /// The welcome, acks, deliveries and errors have the seed's shapes.
    #[test]
    fn server_messages_are_the_seeds_shape() {
        let cast = ServerMessage::Broadcast {
            timestamp: 1234567890,
            from: "m-1".into(),
            id: "msg_1".into(),
            topic: Some("chat.general".into()),
            payload: json!({"message": "Hello everyone!"}),
        };
        let v = value(encode(&cast));
        assert_eq!(v["type"], "Broadcast");
        assert_eq!(v["data"]["metadata"]["sent_at"], 1234567890);
        assert_eq!(v["data"]["metadata"]["message_id"], "msg_1");
        let ack = value(encode(&ServerMessage::BroadcastAck { timestamp: 0, id: "msg_1".into(), recipients: 42 }));
        assert_eq!(
            ack,
            json!({"type": "Ack", "data": {"message_id": "msg_1", "status": "delivered", "recipients": 42}})
        );
        let queued = ServerMessage::DirectAck { timestamp: 0, id: "dm_1".into(), to: "m-2".into(), queued: true };
        let v = value(encode(&queued));
        assert_eq!((v["type"].as_str(), v["data"]["code"].as_u64()), (Some("Error"), Some(404)));
        assert_eq!(v["data"]["details"], json!({"message_id": "dm_1", "queued": true}));
        let limited = ServerMessage::error(0, ErrorCode::RateLimited, "slow down", Some(json!({"retryAfterMs": 500})));
        let v = value(encode(&limited));
        assert_eq!(
            (v["data"]["code"].as_u64(), v["data"]["details"]["retry_after_ms"].as_u64()),
            (Some(429), Some(500))
        );
        assert_eq!(
            value(encode(&ServerMessage::ServerHeartbeat { timestamp: 7 })),
            json!({"type": "Ping", "data": {"timestamp": 7}})
        );
    }

    /// What a wildcard takes: `prefix.*` every topic under the prefix at any depth, `*` every
    /// topic; a pattern elsewhere than at the end is no subscription.
    #[test]
    fn topic_patterns() {
        use crate::client::{is_topic_pattern, topic_matches};
        assert!(topic_matches("updates.*", "updates.score") && topic_matches("updates.*", "updates.score.home"));
        assert!(!topic_matches("updates.*", "updates") && !topic_matches("updates.*", "updatesx.score"));
        assert!(topic_matches("*", "anything") && topic_matches("chat.general", "chat.general"));
        assert!(!topic_matches("chat.general", "chat.generally"));
        assert!(is_topic_pattern("updates.*") && is_topic_pattern("*") && is_topic_pattern("a.b"));
        assert!(!is_topic_pattern("*.score") && !is_topic_pattern("up*") && !is_topic_pattern("Updates.*"));
    }

    /// `History` asks for a topic's recent broadcasts (at most the host's 50) and gets them in
    /// `Broadcast`'s shape, oldest first.
    #[test]
    fn history() {
        let ask = decode(r#"{"type": "History", "data": {"topic": "chat.general", "limit": 500}, "id": "h-1"}"#);
        let Ok(ClientMessage::History(ask)) = ask else { panic!("{ask:?}") };
        assert_eq!((ask.topic.as_str(), ask.limit), ("chat.general", crate::HISTORY_PER_TOPIC));
        assert!(decode(r#"{"type": "History", "data": {"topic": "updates.*"}}"#).is_err(), "a pattern is no topic");
        let old = ServerMessage::Broadcast {
            timestamp: 5,
            from: "m-1".into(),
            id: "b-1".into(),
            topic: Some("chat.general".into()),
            payload: json!({"message": "first"}),
        };
        let v =
            value(encode(&ServerMessage::History { timestamp: 9, topic: "chat.general".into(), messages: vec![old] }));
        assert_eq!(v["type"], "History");
        assert_eq!(
            v["data"]["messages"][0]["metadata"],
            json!({"sent_at": 5, "message_id": "b-1", "from_user": "m-1"})
        );
    }
}
