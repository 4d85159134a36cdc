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

use crate::binary::{BinaryFrame, BinaryKind};
use crate::client::{
    BinaryMessage, Broadcast, ClientMessage, Custom, DecodeError, Direct, FileAnnouncement, Heartbeat, HistoryRequest,
    Ping, Topics, checked, envelope, is_topic, truncate,
};
use crate::server::{Frame, ServerMessage};
use crate::types::{ErrorCode, NotificationLevel, PresenceStatus};
use crate::{MAX_MESSAGE_BYTES, MAX_PAYLOAD_BYTES};

/// The protocol version the seed's welcome names.
pub const PROTOCOL_VERSION: &str = "1.0";

/// What this host offers, in the welcome's `features` (`file_transfer`: when the host takes
/// uploads at the time; otherwise a file is refused with 403).
pub const FEATURES: [&str; 7] =
    ["broadcast", "direct_message", "presence", "notifications", "history", "binary", "file_transfer"];

/// The longest `metadata.ttl` accepted, in seconds: a day. A party lasts a night; a longer
/// wait would only keep a message the host drops at the end anyway.
pub const MAX_TTL_SECONDS: u64 = 24 * 60 * 60;

/// The largest file one 0x03 frame may carry without an announcement: what fits in one
/// message under the 64 KiB limit after the five header bytes.
pub const MAX_FILE_FRAME_BYTES: usize = MAX_MESSAGE_BYTES - crate::binary::HEADER_BYTES;

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
        ServerMessage::Notification { title, body, level, actions, .. } => {
            let level = match level {
                NotificationLevel::Info => "info",
                NotificationLevel::Warning => "warning",
                NotificationLevel::Alert => "alert",
            };
            frame("Notification", json!({"level": level, "title": title, "message": body, "actions": actions}))
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

/// Seed 001's "metadata headers", checked: `priority` is `low`, `normal` or `high` (accepted;
/// the host sends every message as it comes, so there is nothing for it to reorder), `ttl` a
/// whole number of seconds from 1 to [`MAX_TTL_SECONDS`] (returned: what it bounds is the
/// message's), `encryption` and `compression` only `"none"`: the host cannot decrypt or
/// decompress a payload, and relaying one it cannot read as if it could would be a lie. Other
/// keys are the client's own and ignored.
fn metadata(metadata: Option<&Value>, kind: &'static str) -> Result<Option<u32>, DecodeError> {
    let Some(metadata) = metadata.filter(|value| !value.is_null()) else { return Ok(None) };
    let Some(metadata) = metadata.as_object() else { return Err(bad(kind, "metadata must be an object")) };
    match metadata.get("priority") {
        None | Some(Value::Null) => {}
        Some(Value::String(priority)) if matches!(priority.as_str(), "low" | "normal" | "high") => {}
        Some(_) => return Err(bad(kind, "priority must be \"low\", \"normal\" or \"high\"")),
    }
    for (field, what) in [("encryption", "decrypt"), ("compression", "decompress")] {
        match metadata.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(none)) if none == "none" => {}
            Some(other) => {
                return Err(bad(
                    kind,
                    format!(
                        "{field} {other} cannot be honoured: this host does not {what} payloads; send them as plain JSON (or \"none\")"
                    ),
                ));
            }
        }
    }
    match metadata.get("ttl") {
        None | Some(Value::Null) => Ok(None),
        Some(ttl) => match ttl.as_u64() {
            Some(seconds @ 1..=MAX_TTL_SECONDS) => Ok(Some(seconds as u32)),
            _ => Err(bad(kind, format!("ttl must be a whole number of seconds from 1 to {MAX_TTL_SECONDS}"))),
        },
    }
}

/// Decodes one text frame a seed-001 client sent.
pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
    let envelope: crate::client::TypeData = envelope(text)?;
    let Some(Value::String(kind)) = envelope.kind else { return Err(DecodeError::NoType) };
    let ttl = metadata(envelope.metadata.as_ref(), "metadata")?;
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
                ttl,
            })
        }
        "DirectMessage" => {
            let to = data
                .get("target_user")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("DirectMessage", "data.target_user must be a user id"))?;
            let id = message_id(&envelope.id, "DirectMessage")?.unwrap_or_else(|| "-".to_string());
            let payload = data.get("payload").cloned().unwrap_or(Value::Object(Map::new()));
            ClientMessage::Direct(Direct { timestamp: zero, to: to.to_string(), id, payload, ttl })
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
        "FileTransfer" => {
            let text = |field: &str| data.get(field).and_then(Value::as_str).map(str::to_string);
            ClientMessage::FileTransfer(FileAnnouncement {
                file_id: text("file_id").ok_or_else(|| bad("FileTransfer", "data.file_id must be a string"))?,
                name: text("name").ok_or_else(|| bad("FileTransfer", "data.name must be a string"))?,
                size: data
                    .get("size")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad("FileTransfer", "data.size must be a whole number of bytes"))?,
                checksum: match data.get("checksum") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(sum)) => Some(sum.to_ascii_lowercase()),
                    Some(_) => return Err(bad("FileTransfer", "data.checksum must be a string")),
                },
            })
        }
        custom if custom.starts_with("X-") => {
            ClientMessage::Custom(Custom { kind: custom.to_string(), data: data.clone() })
        }
        other => return Err(DecodeError::UnknownType(truncate(other, 64))),
    };
    checked(message)
}

/// Reads the address before a payload's data: one length byte, then that many bytes of UTF-8.
fn address<'a>(payload: &'a [u8], kind: &'static str) -> Result<(String, &'a [u8]), DecodeError> {
    let Some((&len, rest)) = payload.split_first() else {
        return Err(bad(kind, "the payload starts with one byte giving the length of what follows it"));
    };
    let len = usize::from(len);
    if len == 0 || len > rest.len() {
        return Err(bad(kind, format!("the address is {len} bytes but {} follow its length byte", rest.len())));
    }
    let (address, data) = rest.split_at(len);
    let address = std::str::from_utf8(address).map_err(|_| bad(kind, "the address is not UTF-8"))?;
    Ok((address.to_string(), data))
}

/// Decodes one binary frame a seed-001 client sent (`[type][4-byte length][payload]`, see
/// [`crate::binary`]). The payloads are ours (the seed leaves them open):
/// - 0x01 broadcast and 0x04 stream data: `[1 byte topic length][topic][data]`, the topic a
///   name (not a pattern), the data at most [`MAX_PAYLOAD_BYTES`] (as a text `payload`);
/// - 0x02 direct message: `[1 byte target length][target member id][data]`, the same bound;
/// - 0x03 file transfer: the payload is the file's bytes (or the next piece of an announced one).
///
/// The checksum is taken here, where the frame is read, not where the party's state is.
pub fn decode_binary(bytes: bytes::Bytes) -> Result<ClientMessage, DecodeError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge { size: bytes.len(), limit: MAX_MESSAGE_BYTES });
    }
    let frame = BinaryFrame::decode(&bytes)?;
    let (kind, size, checksum) = (frame.kind, frame.payload.len(), frame.checksum());
    let name = match kind {
        BinaryKind::Broadcast => "binary broadcast",
        BinaryKind::Direct => "binary direct message",
        BinaryKind::FileTransfer => "binary file transfer",
        BinaryKind::StreamData => "binary stream data",
    };
    let (address, data) = match kind {
        BinaryKind::FileTransfer => (String::new(), frame.payload),
        BinaryKind::Broadcast | BinaryKind::StreamData => {
            let (topic, data) = address(frame.payload, name)?;
            if !is_topic(&topic) {
                return Err(bad(name, format!("\"{}\" is not a topic name", truncate(&topic, 64))));
            }
            (topic, data)
        }
        BinaryKind::Direct => address(frame.payload, name)?,
    };
    if kind != BinaryKind::FileTransfer && data.len() > MAX_PAYLOAD_BYTES {
        let detail = format!("the data is {} bytes; the limit is {MAX_PAYLOAD_BYTES}", data.len());
        return Err(bad(name, detail));
    }
    let data = bytes.slice_ref(data);
    Ok(ClientMessage::Binary(BinaryMessage { kind, address, data, frame: bytes, size, checksum }))
}

/// A 0x02 frame as its recipient gets it: `[1 byte sender length][sender's member id][data]`.
pub fn direct_frame(from: &str, data: &[u8]) -> Frame {
    let from = from.as_bytes();
    let len = u8::try_from(from.len()).expect("a member id is short");
    let mut payload = Vec::with_capacity(1 + from.len() + data.len());
    payload.push(len);
    payload.extend_from_slice(from);
    payload.extend_from_slice(data);
    Frame::binary(crate::binary::encode(BinaryKind::Direct, &payload).into())
}

/// `Status` `file_received` for a file handed to the host's upload store: the sender's
/// `file_id`, and what the store made of it (`id`, `kind` song or photo, `url`, `size`, `checksum`).
pub fn file_received(file_id: Option<&str>, details: Value) -> Frame {
    let mut all = json!({"file_id": file_id});
    if let (Value::Object(all), Value::Object(details)) = (&mut all, details) {
        all.extend(details);
    }
    status("file_received", all)
}

/// `Status` `binary_received` for a binary frame: its `size`, `type` and `checksum` as the seed
/// says, and what became of it (`extra`: `recipients` for a broadcast or stream, `delivered_to`
/// and `queued` for a direct message).
pub fn binary_received(message: &BinaryMessage, extra: Value) -> Frame {
    let mut details = json!({"size": message.size, "type": message.kind.name(), "checksum": message.checksum});
    if let (Value::Object(details), Value::Object(extra)) = (&mut details, extra) {
        details.extend(extra);
    }
    status("binary_received", details)
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

    fn binary(kind: u8, payload: &[u8]) -> bytes::Bytes {
        let mut bytes = vec![kind];
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes.into()
    }

    /// Each binary type's payload is read as docs/protocol.md says: a topic or target before the
    /// data (one length byte), a file's bytes as they are; the checksum is of the whole payload.
    #[test]
    fn binary_payloads() {
        let mut payload = vec![5];
        payload.extend_from_slice(b"chat.");
        payload.extend_from_slice(b"\x00\xffdata");
        let Ok(ClientMessage::Binary(cast)) = decode_binary(binary(0x01, &payload)) else { panic!() };
        assert_eq!(
            (cast.kind, cast.address.as_str(), &cast.data[..]),
            (BinaryKind::Broadcast, "chat.", &b"\x00\xffdata"[..])
        );
        assert_eq!((cast.size, cast.checksum.clone()), (payload.len(), crate::binary::checksum(&payload)));
        assert_eq!(cast.frame, binary(0x01, &payload), "relayed as it came");
        let Ok(ClientMessage::Binary(dm)) = decode_binary(binary(0x02, b"\x03m-1hi")) else { panic!() };
        assert_eq!((dm.kind, dm.address.as_str(), &dm.data[..]), (BinaryKind::Direct, "m-1", &b"hi"[..]));
        let Ok(ClientMessage::Binary(file)) = decode_binary(binary(0x03, b"\x03abc")) else { panic!() };
        assert_eq!((file.address.as_str(), &file.data[..]), ("", &b"\x03abc"[..]), "a file has no address");
        let Ok(ClientMessage::Binary(stream)) = decode_binary(binary(0x04, b"\x01a")) else { panic!() };
        assert_eq!((stream.kind, stream.address.as_str(), stream.data.len()), (BinaryKind::StreamData, "a", 0));
        let relayed = direct_frame("m-2", b"hi");
        assert_eq!(relayed.bytes()[..], binary(0x02, b"\x03m-2hi")[..]);
        assert!(relayed.is_binary());
        let ack = value(Some(binary_received(&dm, json!({"delivered_to": ["m-1"]}))));
        assert_eq!(
            ack,
            json!({"type": "Status", "data": {"status": "binary_received", "details": {
                "size": 6, "type": "direct_message", "checksum": crate::binary::checksum(b"\x03m-1hi"),
                "delivered_to": ["m-1"]}}})
        );
    }

    /// A frame the codec refuses, an address longer than the payload, a topic that is no name,
    /// data over the text payload limit, and a frame over 64 KiB are refused.
    #[test]
    fn bad_binary_frames() {
        for (what, bytes) in [
            ("short", bytes::Bytes::from_static(&[1, 0, 0])),
            ("unknown type", binary(0x09, b"\x01a")),
            ("wrong length", bytes::Bytes::from_static(&[1, 0, 0, 0, 9, 1, b'a'])),
            ("no address", binary(0x01, b"")),
            ("address past the end", binary(0x02, b"\x09m-1")),
            ("empty address", binary(0x02, b"\x00hi")),
            ("not a topic", binary(0x01, b"\x03A Bdata")),
            ("a pattern", binary(0x04, b"\x03a.*")),
            ("not UTF-8", binary(0x02, b"\x02\xff\xfe")),
            ("data too large", binary(0x01, &[&[1u8, b'a'][..], &vec![0; MAX_PAYLOAD_BYTES + 1]].concat())),
            ("over 64 KiB", binary(0x03, &vec![0; MAX_MESSAGE_BYTES])),
        ] {
            assert!(decode_binary(bytes).is_err(), "{what} was accepted");
        }
        assert!(decode_binary(binary(0x03, &vec![0; MAX_FILE_FRAME_BYTES])).is_ok(), "a whole 64 KiB frame is a file");
    }

    /// `metadata`: `ttl` reaches a Broadcast and a DirectMessage; `priority` is one of three
    /// words; an `encryption` or `compression` the host cannot honour is refused, saying so.
    #[test]
    fn metadata_headers() {
        let cast = decode(
            r#"{"type": "Broadcast", "data": {"topic": "a", "payload": 1}, "metadata": {"priority": "high", "ttl": 3600}}"#,
        );
        assert!(matches!(cast, Ok(ClientMessage::Broadcast(Broadcast { ttl: Some(3600), .. }))), "{cast:?}");
        let dm = decode(
            r#"{"type": "DirectMessage", "data": {"target_user": "m-1", "payload": 1}, "metadata": {"ttl": 5, "encryption": "none", "mood": "happy"}}"#,
        );
        assert!(matches!(dm, Ok(ClientMessage::Direct(Direct { ttl: Some(5), .. }))), "{dm:?}");
        let ping = r#"{"type": "Ping", "data": {"timestamp": 1}, "metadata": {"priority": "low"}}"#;
        assert!(decode(ping).is_ok(), "metadata on any message");
        for metadata in [
            r#""fast""#,
            r#"{"priority": "urgent"}"#,
            r#"{"ttl": 0}"#,
            r#"{"ttl": -1}"#,
            r#"{"ttl": 1.5}"#,
            r#"{"ttl": 86401}"#,
            r#"{"ttl": "1h"}"#,
            r#"{"encryption": "aes256"}"#,
            r#"{"compression": "gzip"}"#,
        ] {
            let text = format!(r#"{{"type": "Ping", "data": {{"timestamp": 1}}, "metadata": {metadata}}}"#);
            let refused = decode(&text);
            assert!(refused.is_err(), "{metadata} was accepted: {refused:?}");
        }
        let Err(err) = decode(r#"{"type": "Ping", "data": {}, "metadata": {"compression": "gzip"}}"#) else { panic!() };
        assert!(err.to_string().contains("cannot be honoured"), "{err}");
    }

    /// `FileTransfer` announces a file (id, name, size, an optional sha256); a bad one is refused.
    #[test]
    fn file_announcements() {
        let sum = format!("sha256:{}", "AB".repeat(32));
        let text = json!({"type": "FileTransfer", "data": {"file_id": "f-1", "name": "song.mp3", "size": 70000, "checksum": sum}});
        let Ok(ClientMessage::FileTransfer(file)) = decode(&text.to_string()) else { panic!() };
        assert_eq!(
            file,
            FileAnnouncement {
                file_id: "f-1".into(),
                name: "song.mp3".into(),
                size: 70000,
                checksum: Some(format!("sha256:{}", "ab".repeat(32)))
            }
        );
        for data in [
            json!({"name": "a", "size": 1}),
            json!({"file_id": "f", "name": "", "size": 1}),
            json!({"file_id": "f", "name": "a", "size": 0}),
            json!({"file_id": "f", "name": "a", "size": -1}),
            json!({"file_id": "f", "name": "a", "size": 1, "checksum": "md5:00"}),
            json!({"file_id": "f", "name": "a", "size": 1, "checksum": "sha256:abc"}),
        ] {
            let text = json!({"type": "FileTransfer", "data": data}).to_string();
            assert!(decode(&text).is_err(), "{text} was accepted");
        }
    }

    /// A notification's actions are the seed's `actions` list of `{label, url}`.
    #[test]
    fn notification_actions() {
        let note = ServerMessage::Notification {
            timestamp: 1,
            id: "n-1".into(),
            title: "Maintenance Notice".into(),
            body: "System will undergo maintenance in 1 hour".into(),
            level: NotificationLevel::Info,
            from: "h-1".into(),
            name: "Host".into(),
            actions: vec![crate::NotificationAction {
                label: "Learn More".into(),
                url: "https://status.example.com".into(),
            }],
            read: None,
        };
        assert_eq!(
            value(encode(&note))["data"]["actions"],
            json!([{"label": "Learn More", "url": "https://status.example.com"}])
        );
    }
}
