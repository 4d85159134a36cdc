//! Seed 000, Revenge's socket, at `/socket`: every frame is `{type, id, data}`.
//!
//! The client sends `ping`, `playback.progress` (`{itemId, positionTicks, isPaused}`, ticks of
//! 100 ns as Jellyfin counts them), `syncplay.command` and `remote.command`; the server sends
//! `pong`, `notification`, `syncplay.state`, `library.update` and `session.update`. The seed
//! gives the shapes of none but `playback.progress`: the others are documented in
//! docs/protocol.md, Jellyfin's names where it has them. The seed has no error message either:
//! this host answers a bad frame with `error {code, message}` (our error codes) and stays open.
//!
//! [`encode`] maps the session's messages onto this format; [`decode`] reads a client's frame.

use serde_json::{Number, Value, json};

use crate::client::{
    ClientMessage, DecodeError, DeviceState, Ping, PlayCommand, PlaybackProgress, Remote, SyncplayCommand, checked,
    envelope, truncate,
};
use crate::server::{Frame, ServerMessage};

/// Ticks (100 ns) in a millisecond.
pub const TICKS_PER_MS: f64 = 10_000.0;

fn frame(kind: &str, id: Option<&str>, data: Value) -> Frame {
    match id {
        Some(id) => Frame::json(&json!({"type": kind, "id": id, "data": data})),
        None => Frame::json(&json!({"type": kind, "data": data})),
    }
}

/// `library.update`: the items at `offset` of the library of `revision`, which has `total`.
fn library_update(revision: u64, offset: usize, total: usize, items: &[crate::types::LibraryItem]) -> Frame {
    frame("library.update", None, json!({"revision": revision, "offset": offset, "total": total, "items": items}))
}

fn ticks(ms: f64) -> i64 {
    (ms * TICKS_PER_MS).round() as i64
}

/// One of the session's messages as Revenge writes it, or `None` when it has no such message.
pub fn encode(out: &ServerMessage) -> Option<Frame> {
    Some(match out {
        ServerMessage::Pong { .. } => frame("pong", None, json!({})),
        ServerMessage::Ready { member, session, .. } => {
            frame("session.update", None, json!({"event": "connected", "member": member, "session": session}))
        }
        ServerMessage::MemberJoined { member, .. } => {
            frame("session.update", None, json!({"event": "member_joined", "member": member}))
        }
        ServerMessage::MemberLeft { member_id, reason, .. } => {
            frame("session.update", None, json!({"event": "member_left", "memberId": member_id, "reason": reason}))
        }
        ServerMessage::MemberUpdated { member, .. } => {
            frame("session.update", None, json!({"event": "member_updated", "member": member}))
        }
        ServerMessage::SessionUpdated { session, .. } => {
            frame("session.update", None, json!({"event": "session", "session": session}))
        }
        ServerMessage::Notification { id, title, body, level, .. } => {
            frame("notification", Some(id), json!({"id": id, "title": title, "body": body, "level": level}))
        }
        ServerMessage::SyncplayState { state, .. } => {
            let mut data = serde_json::to_value(state).unwrap_or(Value::Null);
            data["positionTicks"] = json!(ticks(state.position));
            frame("syncplay.state", None, data)
        }
        // The seed's `library.update` ("Library changes") in parts, as it has no query: the first
        // page at offset 0 starts the library of a revision, and the session sends the rest as
        // pages of the whole library (never a search's: a Revenge client cannot ask one).
        ServerMessage::LibraryUpdate { items, total, revision, .. } => library_update(*revision, 0, *total, items),
        ServerMessage::LibraryPage { q: None, items, total, revision, offset, .. } => {
            library_update(*revision, *offset, *total, items)
        }
        ServerMessage::Error { code, message, details, .. } => {
            frame("error", None, json!({"code": code, "message": message, "details": details}))
        }
        _ => return None,
    })
}

fn bad(kind: &'static str, detail: impl Into<String>) -> DecodeError {
    DecodeError::BadFields { kind, detail: detail.into() }
}

fn position_ms(data: &Value, kind: &'static str) -> Result<Option<f64>, DecodeError> {
    match data.get("positionTicks") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map(|t| Some(t / TICKS_PER_MS))
            .ok_or_else(|| bad(kind, "data.positionTicks must be 0 or more")),
        Some(_) => Err(bad(kind, "data.positionTicks must be a number of ticks")),
    }
}

fn string(data: &Value, name: &str) -> Option<String> {
    data.get(name).and_then(Value::as_str).map(str::to_string)
}

/// A playback command by name, as `syncplay.command` and `remote.command` name them (Jellyfin's
/// `Unpause` is `play`).
fn play_command(data: &Value, kind: &'static str) -> Result<Option<PlayCommand>, DecodeError> {
    let name = data.get("command").and_then(Value::as_str).ok_or_else(|| bad(kind, "data.command must be a string"))?;
    Ok(Some(match name.to_ascii_lowercase().as_str() {
        "play" | "unpause" => PlayCommand::Play { item_id: string(data, "itemId"), position: position_ms(data, kind)? },
        "pause" => PlayCommand::Pause,
        "seek" => PlayCommand::Seek {
            position: position_ms(data, kind)?.ok_or_else(|| bad(kind, "seek needs data.positionTicks"))?,
        },
        "next" | "nexttrack" => PlayCommand::Next,
        "previous" | "previoustrack" => PlayCommand::Previous,
        "setrate" => PlayCommand::SetRate {
            rate: data.get("rate").and_then(Value::as_f64).ok_or_else(|| bad(kind, "setRate needs data.rate"))?,
        },
        "queue.add" => PlayCommand::QueueAdd {
            item_id: string(data, "itemId").ok_or_else(|| bad(kind, "queue.add needs data.itemId"))?,
        },
        "queue.remove" => PlayCommand::QueueRemove {
            entry_id: string(data, "entryId").ok_or_else(|| bad(kind, "queue.remove needs data.entryId"))?,
        },
        _ => return Ok(None),
    }))
}

/// Decodes one text frame a Revenge client sent.
pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
    let envelope: crate::client::TypeData = envelope(text)?;
    let Some(Value::String(kind)) = envelope.kind else { return Err(DecodeError::NoType) };
    let data = envelope.data.unwrap_or(Value::Null);
    let zero = Number::from(0);
    let message = match kind.as_str() {
        "ping" => ClientMessage::Ping(Ping { timestamp: zero }),
        "playback.progress" => {
            let paused = match data.get("isPaused") {
                Some(Value::Bool(paused)) => *paused,
                None | Some(Value::Null) => false,
                Some(_) => return Err(bad("playback.progress", "data.isPaused must be true or false")),
            };
            let position = position_ms(&data, "playback.progress")?
                .ok_or_else(|| bad("playback.progress", "data.positionTicks is missing"))?;
            ClientMessage::PlaybackProgress(PlaybackProgress {
                timestamp: zero,
                entry_id: None,
                item_id: string(&data, "itemId"),
                position,
                state: if paused { DeviceState::Paused } else { DeviceState::Playing },
                error: None,
            })
        }
        "syncplay.command" => match play_command(&data, "syncplay.command")? {
            Some(command) => ClientMessage::SyncplayCommand(SyncplayCommand { timestamp: zero, command }),
            None => return Err(bad("syncplay.command", "unknown command")),
        },
        "remote.command" => {
            let target = string(&data, "targetId");
            match (target, play_command(&data, "remote.command")?) {
                (None, Some(command)) => ClientMessage::SyncplayCommand(SyncplayCommand { timestamp: zero, command }),
                (target, _) => {
                    let command = string(&data, "command").unwrap_or_default();
                    ClientMessage::Remote(Remote { command, value: data.get("value").cloned(), target })
                }
            }
        }
        other => return Err(DecodeError::UnknownType(truncate(other, 64))),
    };
    checked(message)
}

#[cfg(test)]
mod tests {
    //! The seed's one example, and the messages it names, decoded; the session's encoded.

    use super::*;

    /// The seed's `playback.progress` example decodes to a report in milliseconds.
    #[test]
    fn the_seeds_example_decodes() {
        let report = decode(
            r#"{"type": "playback.progress", "id": "msg-123", "data": {"itemId": "uuid", "positionTicks": 123456789, "isPaused": false}}"#,
        );
        let Ok(ClientMessage::PlaybackProgress(report)) = report else { panic!("{report:?}") };
        assert_eq!(
            (report.position, report.state, report.item_id.as_deref()),
            (12345.6789, DeviceState::Playing, Some("uuid"))
        );
        assert!(matches!(decode(r#"{"type": "ping", "id": "p-1"}"#), Ok(ClientMessage::Ping(_))));
        let pause = decode(r#"{"type": "syncplay.command", "id": "c", "data": {"command": "pause"}}"#);
        assert!(matches!(
            pause,
            Ok(ClientMessage::SyncplayCommand(SyncplayCommand { command: PlayCommand::Pause, .. }))
        ));
        let seek =
            decode(r#"{"type": "remote.command", "id": "r", "data": {"command": "Seek", "positionTicks": 50000000}}"#);
        let Ok(ClientMessage::SyncplayCommand(SyncplayCommand { command: PlayCommand::Seek { position }, .. })) = seek
        else {
            panic!("{seek:?}")
        };
        assert_eq!(position, 5000.0);
        let volume =
            decode(r#"{"type": "remote.command", "data": {"command": "volume", "value": 0.5, "targetId": "m-2"}}"#);
        let Ok(ClientMessage::Remote(volume)) = volume else { panic!("{volume:?}") };
        assert_eq!((volume.command.as_str(), volume.target.as_deref()), ("volume", Some("m-2")));
    }

    /// Bad frames are refused with their reasons.
    #[test]
    fn bad_frames_are_refused() {
        for text in [
            "{",
            r#"{"id": "x"}"#,
            r#"{"type": "playback.progress", "data": {"isPaused": false}}"#,
            r#"{"type": "playback.progress", "data": {"positionTicks": -5}}"#,
            r#"{"type": "playback.progress", "data": {"positionTicks": 1, "isPaused": "no"}}"#,
            r#"{"type": "syncplay.command", "data": {"command": "dance"}}"#,
            r#"{"type": "syncplay.command", "data": {"command": "seek"}}"#,
            r#"{"type": "library.scan", "data": {}}"#,
        ] {
            assert!(decode(text).is_err(), "{text} was accepted");
        }
    }

    /// The library in parts: `library.update` is the first page at offset 0 with the revision
    /// and total, a page of the whole library is a `library.update` at its offset, and a
    /// search's page (which a Revenge client never asks for) is not sent at all.
    #[test]
    fn the_library_in_parts() {
        let item = crate::LibraryItem { id: "t-1".into(), title: "One".into(), ..Default::default() };
        let data = |message: &ServerMessage| -> Value {
            let v: Value = serde_json::from_str(encode(message).expect("a frame").as_str()).unwrap();
            assert_eq!(v["type"], "library.update", "{v}");
            v["data"].clone()
        };
        let first = ServerMessage::LibraryUpdate { timestamp: 0, revision: 3, total: 250, items: vec![item.clone()] };
        let first = data(&first);
        assert_eq!(
            (&first["revision"], &first["offset"], &first["total"], &first["items"][0]["id"]),
            (&json!(3), &json!(0), &json!(250), &json!("t-1"))
        );
        let page = |q: Option<&str>| ServerMessage::LibraryPage {
            timestamp: 0,
            revision: 3,
            q: q.map(str::to_string),
            offset: 100,
            total: 250,
            items: vec![item.clone()],
        };
        let rest = data(&page(None));
        assert_eq!((&rest["revision"], &rest["offset"], &rest["total"]), (&json!(3), &json!(100), &json!(250)));
        assert!(encode(&page(Some("one"))).is_none(), "a search's page is no Revenge message");
    }

    /// syncplay.state carries the group's position in ticks too; pong is bare.
    #[test]
    fn server_messages() {
        let state = crate::PlayState {
            state: crate::GroupState::Playing,
            entry_id: Some("q-1".into()),
            item_id: Some("t-1".into()),
            position: 1500.0,
            server_time: 7,
            rate: 1.0,
            paused: false,
            queue: vec![],
            revision: 1,
            permissions: Default::default(),
        };
        let v: Value =
            serde_json::from_str(encode(&ServerMessage::SyncplayState { timestamp: 0, state }).unwrap().as_str())
                .unwrap();
        assert_eq!(
            (v["type"].as_str(), v["data"]["positionTicks"].as_i64(), v["data"]["itemId"].as_str()),
            (Some("syncplay.state"), Some(15_000_000), Some("t-1"))
        );
        let pong: Value = serde_json::from_str(
            encode(&crate::server::ServerMessage::Pong {
                timestamp: 0.into(),
                server_receive_time: None,
                server_send_time: None,
            })
            .unwrap()
            .as_str(),
        )
        .unwrap();
        assert_eq!(pong, json!({"type": "pong", "data": {}}));
    }
}
