//! Seed 002, Together's WebSocket gateway, at `/together/ws`: every frame is `{op, t, d}`.
//!
//! The server writes `DISPATCH` events (`READY`, `MESSAGE_CREATE`, `MESSAGE_UPDATE`,
//! `MESSAGE_DELETE`, `PRESENCE_UPDATE`, `VOICE_STATE_UPDATE`, `VOICE_SIGNAL`) and
//! `HEARTBEAT_ACK`; the client sends `HEARTBEAT`, `PRESENCE_UPDATE` and `VOICE_SIGNAL`.
//! Timestamps are ISO 8601, ids are the party's member and message ids, and the party is the
//! one "server" in `READY`. A frame that is not JSON, has no string `op`, or names an op a
//! client does not send is "Invalid message format": the session closes with 4002.
//!
//! How each of the session's messages maps onto this format is [`encode`]; what a client's
//! frame means is [`decode`]. docs/protocol.md has the chapter.

use serde::Deserialize;
use serde_json::{Map, Number, Value, json};

use crate::client::{ClientMessage, DecodeError, Heartbeat, Presence, VoiceSignal, checked, envelope, truncate};
use crate::iso::format_ms;
use crate::server::{Frame, ServerMessage};
use crate::types::{ConnectionStatus, PresenceStatus, RoomKind};

/// How often the seed tells clients to send `HEARTBEAT`, ms ("every 30 seconds").
pub const HEARTBEAT_INTERVAL_MS: u64 = 30_000;

/// The presence status as Together spells it: idle is our away, dnd our busy.
pub fn status_name(status: PresenceStatus) -> &'static str {
    match status {
        PresenceStatus::Online => "online",
        PresenceStatus::Away => "idle",
        PresenceStatus::Busy => "dnd",
        PresenceStatus::Offline => "offline",
    }
}

fn status_from(name: &str) -> Option<PresenceStatus> {
    Some(match name {
        "online" => PresenceStatus::Online,
        "idle" => PresenceStatus::Away,
        "dnd" => PresenceStatus::Busy,
        "offline" => PresenceStatus::Offline,
        _ => return None,
    })
}

/// A message object as the seed writes it (in `MESSAGE_CREATE`/`MESSAGE_UPDATE`, and as the REST
/// routes answer).
pub fn message(
    id: &str,
    channel: &str,
    author: &str,
    content: &str,
    created_ms: u64,
    updated_ms: Option<u64>,
) -> Value {
    json!({
        "id": id,
        "channel_id": channel,
        "author_id": author,
        "content": content,
        "created_at": format_ms(created_ms),
        "updated_at": updated_ms.map(format_ms),
    })
}

fn dispatch(t: &str, d: Value) -> Frame {
    Frame::json(&json!({"op": "DISPATCH", "t": t, "d": d}))
}

fn presence(user_id: &str, status: &str) -> Frame {
    dispatch("PRESENCE_UPDATE", json!({"user_id": user_id, "status": status}))
}

/// One of the session's messages as Together writes it, or `None` when Together has no such
/// message (LOUDSYNC's member list, SyncPlay, errors: a Together client learns of members from
/// `READY` and `PRESENCE_UPDATE`, and of its own mistakes from close 4002).
pub fn encode(out: &ServerMessage) -> Option<Frame> {
    Some(match out {
        ServerMessage::Ready { member, status, session, created_at, rooms, .. } => {
            let channels: Vec<Value> = rooms
                .iter()
                .map(|room| {
                    let kind = match room.kind {
                        RoomKind::Text => "text",
                        RoomKind::Voice => "voice",
                    };
                    json!({"id": room.id, "name": room.name, "type": kind})
                })
                .collect();
            dispatch(
                "READY",
                json!({
                    "user": {
                        "id": member.id,
                        "username": member.name,
                        "email": null,
                        "avatar_url": null,
                        "status": status_name(*status),
                        "created_at": format_ms(member.joined_at),
                    },
                    "servers": [{
                        "id": session.id,
                        "name": session.name,
                        "description": null,
                        "owner_id": session.host_id,
                        "member_count": session.member_count,
                        "created_at": format_ms(*created_at),
                        "channels": channels,
                    }],
                }),
            )
        }
        ServerMessage::HeartbeatAck { .. } => Frame::json(&json!({"op": "HEARTBEAT_ACK", "t": null, "d": null})),
        ServerMessage::MemberJoined { member, .. } => presence(&member.id, "online"),
        ServerMessage::MemberLeft { member_id, .. } => presence(member_id, "offline"),
        ServerMessage::MemberUpdated { member, .. } => match member.connection_status {
            ConnectionStatus::Connected => return None, // its presence is unchanged by a rename
            ConnectionStatus::Reconnecting | ConnectionStatus::Disconnected => presence(&member.id, "offline"),
        },
        ServerMessage::PresenceUpdate { member_id, status, .. } => presence(member_id, status_name(*status)),
        ServerMessage::Chat { timestamp, id, from, text, room, .. } => {
            dispatch("MESSAGE_CREATE", message(id, room, from, text, *timestamp, None))
        }
        ServerMessage::ChatEdited { id, room, from, text, created_at, edited_at, .. } => {
            dispatch("MESSAGE_UPDATE", message(id, room, from, text, *created_at, Some(*edited_at)))
        }
        ServerMessage::ChatDeleted { id, room, .. } => {
            dispatch("MESSAGE_DELETE", json!({"id": id, "channel_id": room}))
        }
        ServerMessage::VoiceState { member_id, channel, muted, deafened, .. } => dispatch(
            "VOICE_STATE_UPDATE",
            json!({"user_id": member_id, "channel_id": channel, "muted": muted, "deafened": deafened}),
        ),
        ServerMessage::VoiceSignal { from, signal, .. } => {
            dispatch("VOICE_SIGNAL", json!({"from_user_id": from, "signal": signal}))
        }
        _ => return None,
    })
}

#[derive(Deserialize)]
struct Envelope {
    op: Option<Value>,
    #[serde(default)]
    d: Option<Value>,
}

fn bad(kind: &'static str, detail: impl Into<String>) -> DecodeError {
    DecodeError::BadFields { kind, detail: detail.into() }
}

/// Decodes one frame a Together client sent.
pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
    let envelope: Envelope = envelope(text)?;
    let Some(Value::String(op)) = envelope.op else { return Err(DecodeError::NoType) };
    let timestamp = Number::from(0);
    let d = envelope.d.unwrap_or(Value::Null);
    let message = match op.as_str() {
        "HEARTBEAT" => ClientMessage::Heartbeat(Heartbeat { timestamp }),
        "PRESENCE_UPDATE" => {
            let status = d
                .get("status")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("PRESENCE_UPDATE", "d.status must be one of online, idle, dnd, offline"))?;
            let status = status_from(status)
                .ok_or_else(|| bad("PRESENCE_UPDATE", format!("unknown status \"{}\"", truncate(status, 32))))?;
            ClientMessage::Presence(Presence { timestamp, status, text: None })
        }
        "VOICE_SIGNAL" => {
            let to = d
                .get("to_user_id")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("VOICE_SIGNAL", "d.to_user_id must be a user id"))?;
            let signal: Map<String, Value> = match d.get("signal") {
                Some(Value::Object(signal)) => signal.clone(),
                _ => return Err(bad("VOICE_SIGNAL", "d.signal must be an object")),
            };
            ClientMessage::VoiceSignal(VoiceSignal { timestamp, to: to.to_string(), signal })
        }
        other => return Err(DecodeError::UnknownType(truncate(other, 64))),
    };
    checked(message)
}

#[cfg(test)]
mod tests {
    //! Frames from seed 002's own examples, decoded; the session's messages encoded and read back
    //! as the seed writes them.

    use super::*;
    use crate::server::json_of as value;
    use crate::types::{MemberInfo, Room, SessionState};

    /// The seed's client examples decode to the session's messages.
    #[test]
    fn seed_client_examples_decode() {
        assert!(matches!(decode(r#"{"op": "HEARTBEAT"}"#), Ok(ClientMessage::Heartbeat(_))));
        let idle = decode(r#"{"op": "PRESENCE_UPDATE", "d": {"status": "idle"}}"#);
        assert!(matches!(idle, Ok(ClientMessage::Presence(Presence { status: PresenceStatus::Away, .. }))), "{idle:?}");
        let signal =
            decode(r#"{"op": "VOICE_SIGNAL", "d": {"to_user_id": "m-2", "signal": {"type": "offer", "sdp": "v=0"}}}"#);
        let Ok(ClientMessage::VoiceSignal(signal)) = signal else { panic!("{signal:?}") };
        assert_eq!((signal.to.as_str(), signal.signal["type"].as_str()), ("m-2", Some("offer")));
    }

    /// Malformed JSON, no op, an unknown op and a server-only op are all refused.
    #[test]
    fn bad_frames_are_refused() {
        for text in ["{", r#"{"d": {}}"#, r#"{"op": 7}"#, r#"{"op": "IDENTIFY"}"#, r#"{"op": "DISPATCH"}"#, "[]"] {
            assert!(decode(text).is_err(), "{text} was accepted");
        }
        let bad_status = decode(r#"{"op": "PRESENCE_UPDATE", "d": {"status": "away"}}"#);
        assert!(bad_status.is_err(), "away is Pavilion's word, not Together's: {bad_status:?}");
    }

    /// READY carries the member and the party as the seed's example shows them.
    #[test]
    fn ready_is_the_seeds_shape() {
        let member = MemberInfo {
            id: "m-1".into(),
            name: "alice".into(),
            is_host: false,
            connection_status: ConnectionStatus::Connected,
            joined_at: 1_735_689_600_000,
            latency: None,
            device: None,
        };
        let session = SessionState {
            id: "s-1".into(),
            name: "Party".into(),
            host_id: "h-1".into(),
            locked: false,
            max_members: 10,
            member_count: 12,
        };
        let rooms = vec![Room { id: "general".into(), name: "General".into(), kind: RoomKind::Text }];
        let ready = ServerMessage::Ready {
            timestamp: 0,
            member,
            status: PresenceStatus::Online,
            session,
            created_at: 1_735_689_600_000,
            rooms,
        };
        let v = value(encode(&ready));
        assert_eq!((v["op"].as_str(), v["t"].as_str()), (Some("DISPATCH"), Some("READY")));
        let user = &v["d"]["user"];
        assert_eq!(user["username"], "alice");
        assert_eq!(user["created_at"], "2025-01-01T00:00:00Z");
        assert!(user["email"].is_null() && user["avatar_url"].is_null());
        let server = &v["d"]["servers"][0];
        assert_eq!((server["id"].as_str(), server["owner_id"].as_str()), (Some("s-1"), Some("h-1")));
        assert_eq!(server["member_count"], 12);
        assert_eq!(server["channels"][0]["type"], "text");
    }

    /// A chat line is MESSAGE_CREATE with the seed's field names, and LOUDSYNC-only messages
    /// have no Together form.
    #[test]
    fn chat_is_message_create() {
        let chat = ServerMessage::Chat {
            timestamp: 1_735_732_800_000,
            id: "c-1".into(),
            from: "m-1".into(),
            name: "alice".into(),
            text: "Hello, everyone!".into(),
            room: "general".into(),
            cid: None,
        };
        let v = value(encode(&chat));
        assert_eq!(v["t"], "MESSAGE_CREATE");
        assert_eq!(v["d"]["created_at"], "2025-01-01T12:00:00Z");
        assert_eq!((v["d"]["author_id"].as_str(), v["d"]["channel_id"].as_str()), (Some("m-1"), Some("general")));
        assert!(v["d"]["updated_at"].is_null());
        assert_eq!(encode(&ServerMessage::MemberList { timestamp: 0, members: vec![] }), None);
        let ack = value(encode(&ServerMessage::HeartbeatAck { timestamp: 0 }));
        assert_eq!(ack, json!({"op": "HEARTBEAT_ACK", "t": null, "d": null}));
    }

    /// Our close codes as Together writes them: the seed's four where it has them, RFC 6455's
    /// nearest otherwise, never one of our 40xx codes the seed does not know.
    #[test]
    fn close_codes_are_the_seeds() {
        use crate::{Wire, close};
        let together = |code| Wire::Together.close_code(code);
        assert_eq!(together(close::UNAUTHORIZED), 4001);
        assert_eq!(together(close::MALFORMED), 4002);
        assert_eq!(together(close::NORMAL), 1000);
        assert_eq!(together(close::SESSION_CLOSED), 1001);
        assert_eq!(
            (together(close::KICKED), together(close::RATE_LIMITED), together(close::POLICY)),
            (1008, 1008, 1008)
        );
        for ours in [close::TOO_SLOW, close::REPLACED, close::HEARTBEAT_TIMEOUT, close::JOIN_TIMEOUT] {
            assert_eq!(together(ours), 1000, "{ours}");
        }
        assert_eq!(Wire::Pavilion.close_code(close::UNAUTHORIZED), 1008, "Pavilion has no 4001");
        assert_eq!(Wire::Partyline.close_code(close::KICKED), close::KICKED, "/ws keeps ours");
    }
}
