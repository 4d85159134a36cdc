//! Both directions of the wire read back what they write: every `ServerMessage` a host encodes
//! decodes (as a client reads it) to the same value, every `ClientMessage` a Rust client builds
//! decodes (as the host reads it) to the same value, and every example in docs/protocol.md and
//! in the LOUDSYNC document decodes and encodes back to the same JSON. A field renamed on one
//! side only, or an example the types cannot carry, fails here instead of in a client.

use std::collections::BTreeMap;

use partyline_protocol::client::{
    Broadcast, Chat, Direct, Heartbeat, Join, Leave, MarkRead, PlayCommand, PlaybackProgress, Presence, Resume,
    SyncplayCommand, Topics, VoiceSignal,
};
use partyline_protocol::client::{ChatDelete, ChatEdit, DeviceState, Ping};
use partyline_protocol::{
    ClientMessage, ConnectionStatus, DeviceInfo, DeviceType, DirectLine, ErrorCode, Frame, GroupState, HistoryLine,
    HistoryNotification, LeaveReason, LibraryItem, MemberInfo, NotificationAction, NotificationLevel, Permissions,
    Photo, PlayState, PresenceStatus, QueueEntry, Received, Room, RoomKind, ServerMessage, SessionInfo, SessionState,
    decode,
};
use serde_json::{Value, json};

/// Which variant a server message is; a new variant breaks this match, so that it gets a
/// sample in [`server_samples`] too.
fn server_index(message: &ServerMessage) -> usize {
    match message {
        ServerMessage::Welcome { .. } => 0,
        ServerMessage::Hello { .. } => 1,
        ServerMessage::MemberList { .. } => 2,
        ServerMessage::MemberJoined { .. } => 3,
        ServerMessage::MemberLeft { .. } => 4,
        ServerMessage::MemberUpdated { .. } => 5,
        ServerMessage::LatencyUpdate { .. } => 6,
        ServerMessage::SessionUpdated { .. } => 7,
        ServerMessage::Chat { .. } => 8,
        ServerMessage::ChatEdited { .. } => 9,
        ServerMessage::ChatDeleted { .. } => 10,
        ServerMessage::VoiceState { .. } => 11,
        ServerMessage::Direct { .. } => 12,
        ServerMessage::DirectAck { .. } => 13,
        ServerMessage::Subscriptions { .. } => 14,
        ServerMessage::Broadcast { .. } => 15,
        ServerMessage::BroadcastAck { .. } => 16,
        ServerMessage::PresenceUpdate { .. } => 17,
        ServerMessage::VoiceSignal { .. } => 18,
        ServerMessage::Notification { .. } => 19,
        ServerMessage::Kicked { .. } => 20,
        ServerMessage::SessionClosed { .. } => 21,
        ServerMessage::Pong { .. } => 22,
        ServerMessage::Error { .. } => 23,
        ServerMessage::SyncplayState { .. } => 24,
        ServerMessage::SyncplayQueue { .. } => 25,
        ServerMessage::LibraryUpdate { .. } => 26,
        ServerMessage::RemoteCommand { .. } => 27,
        ServerMessage::Resumed { .. } => 28,
        ServerMessage::PhotoShared { .. } => 29,
        ServerMessage::Ready { .. } => 30,
        ServerMessage::HeartbeatAck { .. } => 31,
        ServerMessage::SubscriptionChange { .. } => 32,
        ServerMessage::Custom { .. } => 33,
        ServerMessage::History { .. } => 34,
        ServerMessage::ServerHeartbeat { .. } => 35,
        ServerMessage::Ack { .. } => 36,
        ServerMessage::ChatHistory { .. } => 37,
        ServerMessage::LibraryPage { .. } => 38,
    }
}
const SERVER_VARIANTS: usize = 39;

/// Which variant a client message is; a new variant breaks this match, so that it gets a
/// sample in [`client_samples`] too.
fn client_index(message: &ClientMessage) -> usize {
    match message {
        ClientMessage::Join(_) => 0,
        ClientMessage::Leave(_) => 1,
        ClientMessage::Heartbeat(_) => 2,
        ClientMessage::Ping(_) => 3,
        ClientMessage::Resume(_) => 4,
        ClientMessage::Chat(_) => 5,
        ClientMessage::ChatEdit(_) => 6,
        ClientMessage::ChatDelete(_) => 7,
        ClientMessage::Direct(_) => 8,
        ClientMessage::Subscribe(_) => 9,
        ClientMessage::Unsubscribe(_) => 10,
        ClientMessage::Broadcast(_) => 11,
        ClientMessage::Presence(_) => 12,
        ClientMessage::VoiceSignal(_) => 13,
        ClientMessage::MarkRead(_) => 14,
        ClientMessage::SyncplayCommand(_) => 15,
        ClientMessage::PlaybackProgress(_) => 16,
        ClientMessage::Rename(_) => 17,
        ClientMessage::LibraryQuery(_) => 18,
        // Pavilion's, Revenge's and seed 001's alone, made by their decoders (pavilion.rs,
        // revenge.rs and rt.rs test them): no partyline/1 form to round-trip.
        ClientMessage::Feed(_)
        | ClientMessage::Remote(_)
        | ClientMessage::History(_)
        | ClientMessage::Custom(_)
        | ClientMessage::Binary(_)
        | ClientMessage::FileTransfer(_) => usize::MAX,
    }
}
const CLIENT_VARIANTS: usize = 19;

fn member(device: Option<&str>, latency: Option<u32>) -> MemberInfo {
    MemberInfo {
        id: "m-3f9a2c1b".into(),
        name: "Rishad's iPhone".into(),
        is_host: false,
        connection_status: ConnectionStatus::Reconnecting,
        joined_at: 1706889600000,
        latency,
        device: device.map(str::to_string),
    }
}

fn photo() -> Photo {
    Photo {
        id: "u-5b1c0e2a".into(),
        url: "/media/guests/u-5b1c0e2a.jpg".into(),
        name: "Sunset.jpg".into(),
        from: "m-3f9a2c1b".into(),
        from_name: "Sara".into(),
        timestamp: 1706889600100,
    }
}

/// One value of every server message, optional fields both present and absent.
fn server_samples() -> Vec<ServerMessage> {
    let t = 1706889600100;
    let queue = vec![QueueEntry { entry_id: "q-1".into(), item_id: "t-729d4290".into() }];
    vec![
        ServerMessage::Welcome {
            timestamp: t,
            client_id: "m-1".into(),
            session_info: SessionInfo { id: "k7m2qx".into(), name: "Rooftop".into(), host_id: "host-7c01".into() },
            resume_secret: Some("0123456789abcdef0123456789abcdef".into()),
            photos: Some(vec![photo()]),
        },
        ServerMessage::Hello {
            timestamp: t,
            protocol_version: partyline_protocol::PARTYLINE_V1.into(),
            heartbeat_interval: 5000,
            heartbeat_timeout: 15000,
            resume_window: 120000,
            server_time: 1706889600100123,
        },
        ServerMessage::MemberList { timestamp: t, members: vec![member(None, Some(23)), member(Some("iPhone"), None)] },
        ServerMessage::MemberJoined { timestamp: t, member: member(Some("Android phone"), None) },
        ServerMessage::MemberLeft { timestamp: t, member_id: "m-1".into(), reason: LeaveReason::Timeout },
        ServerMessage::MemberUpdated { timestamp: t, member: member(Some("Mac"), Some(9)) },
        ServerMessage::LatencyUpdate {
            timestamp: t,
            latencies: BTreeMap::from([("m-1".into(), 24), ("m-2".into(), 61)]),
        },
        ServerMessage::SessionUpdated {
            timestamp: t,
            session: SessionState {
                id: "k7m2qx".into(),
                name: "Rooftop".into(),
                host_id: "host-7c01".into(),
                locked: true,
                max_members: 100,
                member_count: 2,
            },
        },
        ServerMessage::Chat {
            timestamp: t,
            id: "c-12".into(),
            from: "m-2".into(),
            name: "Sara".into(),
            text: "hi 🎉".into(),
            room: "general".into(),
            cid: Some("c-k3x9".into()),
        },
        ServerMessage::ChatEdited {
            timestamp: t,
            id: "c-12".into(),
            room: "general".into(),
            from: "m-2".into(),
            text: "hi 🎉🎉".into(),
            created_at: t - 9000,
            edited_at: t,
        },
        ServerMessage::ChatDeleted { timestamp: t, id: "c-12".into(), room: "general".into() },
        ServerMessage::VoiceState {
            timestamp: t,
            member_id: "m-1".into(),
            channel: Some("voice".into()),
            muted: true,
            deafened: false,
        },
        ServerMessage::Direct {
            timestamp: t,
            from: "m-1".into(),
            id: "d-7".into(),
            payload: json!({"kind": "poke", "n": [1, 2.5, null]}),
        },
        ServerMessage::DirectAck { timestamp: t, id: "d-7".into(), to: "m-2".into(), queued: true },
        ServerMessage::Subscriptions { timestamp: t, topics: vec!["game.round-1".into(), "lobby".into()] },
        ServerMessage::Broadcast {
            timestamp: t,
            from: "m-1".into(),
            id: "b-3".into(),
            topic: Some("game.round-1".into()),
            payload: json!({"move": "e4"}),
        },
        ServerMessage::BroadcastAck { timestamp: t, id: "b-3".into(), recipients: 2 },
        ServerMessage::PresenceUpdate {
            timestamp: t,
            member_id: "m-1".into(),
            status: PresenceStatus::Busy,
            text: Some("back in 5".into()),
        },
        ServerMessage::VoiceSignal {
            timestamp: t,
            from: "m-1".into(),
            signal: json!({"type": "offer", "sdp": "v=0\r\n"}).as_object().unwrap().clone(),
        },
        ServerMessage::Notification {
            timestamp: t,
            id: "n-3".into(),
            title: "Pizza is here".into(),
            body: String::new(),
            level: NotificationLevel::Alert,
            from: "host-7c01".into(),
            name: "Host".into(),
            actions: vec![partyline_protocol::NotificationAction {
                label: "Menu".into(),
                url: "https://example.com/menu".into(),
            }],
            read: Some(true),
        },
        ServerMessage::Kicked { timestamp: t, reason: "Host removed you from the session".into() },
        ServerMessage::SessionClosed { timestamp: t, reason: None },
        ServerMessage::Pong {
            timestamp: serde_json::from_str("1706889650000.125").unwrap(),
            server_receive_time: Some(1706889650012345),
            server_send_time: Some(1706889650012360),
        },
        ServerMessage::error(
            t,
            ErrorCode::RecipientUnavailable,
            "direct: member m-9 is not in the session",
            Some(json!({"to": "m-9", "id": "d-2", "reason": partyline_protocol::reason::UNKNOWN_MEMBER})),
        ),
        ServerMessage::SyncplayState {
            timestamp: t,
            state: PlayState {
                state: GroupState::Playing,
                entry_id: Some("q-1".into()),
                item_id: Some("t-729d4290".into()),
                position: 1034.5,
                server_time: 1706889700412000,
                rate: 1.25,
                paused: false,
                queue,
                revision: 4,
                permissions: Permissions { playback: true, queue: false },
            },
        },
        ServerMessage::SyncplayQueue {
            timestamp: t,
            revision: 5,
            added: Some(QueueEntry { entry_id: "q-2".into(), item_id: "t-1c2d3e4f".into() }),
            index: Some(1),
            removed: None,
        },
        ServerMessage::LibraryUpdate {
            timestamp: t,
            revision: 2,
            total: 1,
            items: vec![LibraryItem {
                id: "t-729d4290".into(),
                title: "First Song".into(),
                mime: "audio/mpeg".into(),
                url: "/media/First%20Song.mp3".into(),
                size: 4012345,
                duration_ms: Some(215_000),
                artist: Some("The Band".into()),
                album: Some("First Album".into()),
                cover: Some("/media/.cover/t-729d4290".into()),
            }],
        },
        ServerMessage::RemoteCommand { timestamp: t, command: "volume".into(), value: Some(json!(0.5)) },
        ServerMessage::Resumed {
            timestamp: t,
            client_id: "m-1".into(),
            last_seq: 41,
            replayed: 0,
            snapshot: true,
            restarted: true,
        },
        ServerMessage::PhotoShared { photo: photo() },
        ServerMessage::Ready {
            timestamp: t,
            member: member(None, None),
            status: PresenceStatus::Offline,
            session: SessionState {
                id: "k7m2qx".into(),
                name: "Rooftop".into(),
                host_id: "host-7c01".into(),
                locked: false,
                max_members: 100,
                member_count: 1,
            },
            created_at: t - 60_000,
            rooms: vec![Room { id: "general".into(), name: "General".into(), kind: RoomKind::Text }],
        },
        ServerMessage::HeartbeatAck { timestamp: t },
        ServerMessage::SubscriptionChange { timestamp: t, topics: vec!["updates.*".into()], added: true, active: 3 },
        ServerMessage::Custom {
            timestamp: t,
            from: "m-1".into(),
            kind: "X-CustomAction".into(),
            data: json!({"action": "special_operation", "parameters": {}}),
        },
        ServerMessage::History {
            timestamp: t,
            topic: "quiz".into(),
            messages: vec![ServerMessage::Broadcast {
                timestamp: t - 5,
                from: "m-1".into(),
                id: "b-1".into(),
                topic: Some("quiz".into()),
                payload: json!({"q": 1}),
            }],
        },
        ServerMessage::ServerHeartbeat { timestamp: t },
        ServerMessage::Ack { timestamp: t, cid: "c-k3x9".into(), ok: true, duplicate: true },
        ServerMessage::ChatHistory {
            timestamp: t,
            lines: vec![HistoryLine {
                id: "c-11".into(),
                room: "general".into(),
                from: "m-2".into(),
                name: "Sara".into(),
                text: "who's bringing snacks".into(),
                created_at: t - 60_000,
                edited_at: Some(t - 50_000),
            }],
            missed: 3,
            directs: vec![DirectLine {
                id: "d-1".into(),
                from: "m-2".into(),
                to: "m-1".into(),
                payload: json!({"text": "you up?"}),
                timestamp: t - 40_000,
            }],
            directs_missed: 2,
            notifications: vec![HistoryNotification {
                id: "n-4".into(),
                title: "Pizza is here".into(),
                body: "In the kitchen".into(),
                level: NotificationLevel::Warning,
                from: "h-1".into(),
                name: "Host".into(),
                actions: vec![NotificationAction { label: "Menu".into(), url: "https://example.com/menu".into() }],
                timestamp: t - 30_000,
                read: true,
            }],
            notifications_missed: 1,
        },
        ServerMessage::LibraryPage {
            timestamp: t,
            revision: 2,
            q: Some("song".into()),
            offset: 100,
            total: 101,
            items: vec![LibraryItem {
                id: "t-1c2d3e4f".into(),
                title: "Untagged".into(),
                mime: "audio/ogg".into(),
                url: "/media/Untagged.ogg".into(),
                size: 1200,
                ..LibraryItem::default()
            }],
        },
    ]
}

/// One value of every client message, optional fields both present and absent.
fn client_samples() -> Vec<ClientMessage> {
    let t = || serde_json::Number::from(1706889600000u64);
    vec![
        ClientMessage::Join(Join {
            timestamp: t(),
            session_id: "k7m2qx".into(),
            device_info: DeviceInfo {
                id: "device-456".into(),
                name: "Rishad's iPhone".into(),
                kind: DeviceType::Client,
            },
            protocol_version: Some(partyline_protocol::PARTYLINE_V1.into()),
            player: Some(true),
        }),
        ClientMessage::Leave(Leave { timestamp: t(), reason: Some(partyline_protocol::reason::DEFAULT_LEAVE.into()) }),
        ClientMessage::Heartbeat(Heartbeat { timestamp: t() }),
        ClientMessage::Ping(Ping { timestamp: serde_json::from_str("1706889650000.125").unwrap() }),
        ClientMessage::Resume(Resume {
            timestamp: t(),
            session_id: "k7m2qx".into(),
            member_id: "m-1".into(),
            resume_secret: "0123456789abcdef0123456789abcdef".into(),
            last_seq: 41,
        }),
        ClientMessage::Chat(Chat { timestamp: t(), text: "this song!".into(), room: None }),
        ClientMessage::ChatEdit(ChatEdit { timestamp: t(), id: "c-12".into(), text: "this song!!".into() }),
        ClientMessage::ChatDelete(ChatDelete { timestamp: t(), id: "c-12".into() }),
        ClientMessage::Direct(Direct {
            timestamp: t(),
            to: "m-2".into(),
            id: "d-7".into(),
            payload: json!({"n": 1}),
            ttl: None,
        }),
        ClientMessage::Subscribe(Topics { timestamp: t(), topics: vec!["lobby".into()] }),
        ClientMessage::Unsubscribe(Topics { timestamp: t(), topics: vec!["game.round-1".into(), "lobby".into()] }),
        ClientMessage::Broadcast(Broadcast {
            timestamp: t(),
            id: "b-3".into(),
            topic: None,
            payload: json!([1, "two"]),
            ack: true,
            ttl: None,
        }),
        ClientMessage::Presence(Presence { timestamp: t(), status: PresenceStatus::Away, text: None }),
        ClientMessage::VoiceSignal(VoiceSignal {
            timestamp: t(),
            to: "m-2".into(),
            signal: json!({"candidate": "candidate:1 1 udp 1 127.0.0.1 5 typ host"}).as_object().unwrap().clone(),
        }),
        ClientMessage::MarkRead(MarkRead { timestamp: t(), ids: vec!["n-3".into(), "n-4".into()] }),
        ClientMessage::SyncplayCommand(SyncplayCommand {
            timestamp: t(),
            command: PlayCommand::Play { item_id: Some("t-1".into()), position: None },
        }),
        ClientMessage::PlaybackProgress(PlaybackProgress {
            timestamp: t(),
            entry_id: Some("q-1".into()),
            item_id: Some("t-1".into()),
            position: 1034.5,
            state: DeviceState::Playing,
            error: Some(-2.4),
        }),
        ClientMessage::Rename(partyline_protocol::client::Rename { timestamp: t(), name: "Sara B.".into() }),
        ClientMessage::LibraryQuery(partyline_protocol::client::LibraryQuery {
            timestamp: t(),
            q: Some("abba".into()),
            offset: 100,
            limit: Some(50),
            ids: None,
        }),
    ]
}

/// Every server message serializes, deserializes to the same value, and reads back with its
/// `seq` when a partyline/1 member's copy carries one.
#[test]
fn every_server_message_round_trips() {
    let samples = server_samples();
    let covered: Vec<usize> = samples.iter().map(server_index).collect();
    assert_eq!(covered, (0..SERVER_VARIANTS).collect::<Vec<_>>(), "expected one sample per variant, in order");
    let kinds: Vec<&str> = samples.iter().filter(|m| m.is_partyline()).map(ServerMessage::kind).collect();
    assert_eq!(kinds, ServerMessage::KINDS, "KINDS lists every partyline/1 variant's type, in order");
    for message in samples {
        let frame = Frame::encode(&message);
        let back = Received::decode(frame.as_str()).unwrap_or_else(|err| panic!("{}: {err}", frame.as_str()));
        assert_eq!(back, Received { seq: None, message: message.clone() }, "from {}", frame.as_str());
        let sequenced = Received::decode(&frame.with_seq(42)).unwrap();
        assert_eq!(sequenced, Received { seq: Some(42), message: message.clone() }, "with seq");
        assert_eq!(sequenced.kind(), message.kind());
        let json: Value = serde_json::from_str(frame.as_str()).unwrap();
        assert_eq!(json["type"], message.kind(), "kind() names the wire type");
    }
}

/// A message with no optional fields round-trips too (absent, not `null`).
#[test]
fn absent_optional_fields_round_trip() {
    let messages = [
        ServerMessage::Welcome {
            timestamp: 1,
            client_id: "m-1".into(),
            session_info: SessionInfo { id: "s".into(), name: "n".into(), host_id: "h".into() },
            resume_secret: None,
            photos: None,
        },
        ServerMessage::Broadcast { timestamp: 1, from: "m".into(), id: "b".into(), topic: None, payload: Value::Null },
        ServerMessage::SessionClosed { timestamp: 1, reason: Some("Host ended the session".into()) },
        ServerMessage::Pong { timestamp: 7.into(), server_receive_time: None, server_send_time: None },
        ServerMessage::error(1, ErrorCode::InvalidMessage, "x", None),
        ServerMessage::SyncplayQueue {
            timestamp: 1,
            revision: 6,
            added: None,
            index: None,
            removed: Some("q-2".into()),
        },
        ServerMessage::RemoteCommand { timestamp: 1, command: "volume".into(), value: None },
        ServerMessage::PresenceUpdate {
            timestamp: 1,
            member_id: "m".into(),
            status: PresenceStatus::Online,
            text: None,
        },
    ];
    for message in messages {
        let text = Frame::encode(&message).as_str().to_string();
        assert!(!text.contains("null") || matches!(message, ServerMessage::Broadcast { .. }), "{text}");
        assert_eq!(Received::decode(&text).unwrap().message, message, "from {text}");
    }
}

/// Every client message a Rust client builds is one the host decodes to the same value.
#[test]
fn every_client_message_round_trips() {
    let samples = client_samples();
    let covered: Vec<usize> = samples.iter().map(client_index).collect();
    assert_eq!(covered, (0..CLIENT_VARIANTS).collect::<Vec<_>>(), "expected one sample per variant, in order");
    for message in samples {
        let text = message.to_text();
        assert_eq!(decode(&text), Ok(message.clone()), "from {text}");
        let json: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["type"], message.kind(), "the wire type");
    }
    for command in [
        PlayCommand::Pause,
        PlayCommand::Seek { position: 95000.0 },
        PlayCommand::Next,
        PlayCommand::Previous,
        PlayCommand::SetRate { rate: 1.5 },
        PlayCommand::QueueAdd { item_id: "t-1".into() },
        PlayCommand::QueueRemove { entry_id: "q-1".into() },
        PlayCommand::StartAnyway,
        PlayCommand::Play { item_id: None, position: Some(0.0) },
    ] {
        let message = ClientMessage::SyncplayCommand(SyncplayCommand { timestamp: 1.into(), command });
        assert_eq!(decode(&message.to_text()), Ok(message.clone()), "from {}", message.to_text());
    }
}

/// Whether two JSON values are the same, a number being the same whether written `1` or `1.0`.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Decodes one example as a client message and as a server message, and encodes each back; the
/// example is good when one of them gives the same JSON (`chat`, `direct`, `broadcast` and
/// `voice.signal` are names of both directions). Returns what came back otherwise.
fn check_example(example: &Value) -> Result<(), String> {
    let text = example.to_string();
    let mut got = Vec::new();
    match partyline_protocol::client::decode_with_cid(&text) {
        Ok((client, cid)) => {
            let mut back: Value = serde_json::from_str(&client.to_text()).unwrap();
            if let Some(cid) = cid {
                back["cid"] = Value::String(cid); // the envelope's, not the message's
            }
            got.push(back);
        }
        Err(err) => got.push(Value::String(format!("as a client message: {err}"))),
    }
    match Received::decode(&text) {
        Ok(received) => {
            let frame = Frame::encode(&received.message);
            let text = match received.seq {
                Some(seq) => frame.with_seq(seq),
                None => frame.as_str().to_string(),
            };
            got.push(serde_json::from_str(&text).unwrap());
        }
        Err(err) => got.push(Value::String(format!("as a server message: {err}"))),
    }
    if got.iter().any(|back| same(back, example)) {
        return Ok(());
    }
    Err(format!("expected {example}\n     got {}\n      or {}", got[0], got[1]))
}

/// Every JSON value in the ```json blocks of a Markdown text (a block may hold several).
fn json_examples(markdown: &str) -> Vec<Value> {
    let mut examples = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("```json\n") {
        let block = &rest[start + 8..];
        let end = block.find("```").expect("a closed block");
        let values = serde_json::Deserializer::from_str(&block[..end]).into_iter::<Value>();
        examples.extend(values.map(|value| value.unwrap_or_else(|err| panic!("bad JSON in a block: {err}"))));
        rest = &block[end + 3..];
    }
    examples
}

/// docs/protocol.md's chapters of the other formats (Together, Pavilion, ...) begin at the first
/// of these headings: their examples are in those formats, checked by `formats_md_examples`.
const OTHER_FORMATS: &str = "\n## Together (seed 002)";

/// Every message example in docs/protocol.md's partyline/1 chapters decodes as the type it names
/// and encodes back to the same JSON; the only examples without a `type` are HTTP answers.
#[test]
fn protocol_md_examples_decode() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md");
    let doc = std::fs::read_to_string(path).expect("docs/protocol.md");
    let partyline = &doc[..doc.find(OTHER_FORMATS).expect("the other formats' chapters")];
    let examples = json_examples(partyline);
    let (messages, http): (Vec<&Value>, Vec<&Value>) = examples.iter().partition(|e| e.get("type").is_some());
    assert!(messages.len() >= 40, "expected every message's example, found {}", messages.len());
    for example in http {
        assert!(example.get("error").is_some(), "expected an HTTP error body, got {example}");
    }
    let mut kinds = std::collections::BTreeSet::new();
    for example in messages {
        check_example(example).unwrap_or_else(|err| panic!("{err}"));
        kinds.insert(example["type"].as_str().unwrap().to_string());
    }
    for message in server_samples().into_iter().filter(ServerMessage::is_partyline) {
        assert!(kinds.contains(message.kind()), "expected an example of {} in docs/protocol.md", message.kind());
    }
}

/// The LOUDSYNC 1.0 document's examples (seed 003, quoted here) decode and encode back to the
/// same JSON: a 1.0 client's messages, and what the host sends it.
#[test]
fn loudsync_examples_decode() {
    let examples = [
        r#"{"type":"join","timestamp":1706889600000,"sessionId":"abc123",
            "deviceInfo":{"id":"device-456","name":"Rishad's iPhone","type":"client"}}"#,
        r#"{"type":"leave","timestamp":1706889700000,"reason":"User exited session"}"#,
        r#"{"type":"heartbeat","timestamp":1706889650000}"#,
        r#"{"type":"ping","timestamp":1706889650000}"#,
        r#"{"type":"welcome","timestamp":1706889600100,"clientId":"client-789",
            "sessionInfo":{"id":"abc123","name":"Rishad's Party","hostId":"host-001"}}"#,
        r#"{"type":"member_list","timestamp":1706889600200,"members":[
            {"id":"host-001","name":"Rishad's MacBook","isHost":true,"connectionStatus":"connected",
             "joinedAt":1706889500000},
            {"id":"client-789","name":"Rishad's iPhone","isHost":false,"connectionStatus":"connected",
             "joinedAt":1706889600000,"latency":23}]}"#,
        r#"{"type":"member_joined","timestamp":1706889600300,"member":{"id":"client-999",
            "name":"Sara's Android","isHost":false,"connectionStatus":"connected",
            "joinedAt":1706889600300,"latency":31}}"#,
        r#"{"type":"member_left","timestamp":1706889700000,"memberId":"client-789","reason":"left"}"#,
        r#"{"type":"kicked","timestamp":1706889750000,"reason":"Host removed you from the session"}"#,
        r#"{"type":"session_closed","timestamp":1706889800000,"reason":"Host ended the session"}"#,
        r#"{"type":"pong","timestamp":1706889650000}"#,
        r#"{"type":"error","timestamp":1706889600000,"code":"session_full",
            "message":"Session has reached maximum capacity (10 members)",
            "details":{"maxMembers":10,"currentMembers":10}}"#,
    ];
    for text in examples {
        let example: Value = serde_json::from_str(text).unwrap();
        check_example(&example).unwrap_or_else(|err| panic!("{err}"));
    }
    let welcome = Received::decode(examples[4]).unwrap();
    let ServerMessage::Welcome { client_id, resume_secret, .. } = welcome.message else {
        panic!("expected welcome, got {welcome:?}")
    };
    assert_eq!((client_id.as_str(), resume_secret, welcome.seq), ("client-789", None, None));
}

/// A frame that is not a server message is an error naming what is wrong, not a panic.
#[test]
fn a_bad_server_frame_is_an_error() {
    // Raw JSON on purpose: these frames are malformed.
    for (text, expected) in [
        (r#"{"type":"dance","timestamp":1}"#, "unknown variant `dance`"),
        (r#"{"type":"kicked","timestamp":1}"#, "missing field `reason`"),
        (r#"{"timestamp":1}"#, "missing field `type`"),
    ] {
        let err = Received::decode(text).unwrap_err().to_string();
        assert!(err.contains(expected), "expected {expected:?} in the error for {text}, got {err:?}");
    }
}

/// A message of another type than the one expected fails, showing the pattern expected and the
/// message that came.
#[test]
#[should_panic(expected = "got Kicked { timestamp: 1, reason: \"bye\" }")]
fn expect_message_shows_expected_and_actual() {
    let kicked = ServerMessage::Kicked { timestamp: 1, reason: "bye".into() };
    partyline_protocol::expect_message!(kicked, ServerMessage::DirectAck { id, .. } => id);
}

/// The client frames in docs/protocol.md's Together and Pavilion chapters decode with their
/// format's decoder (the server frames there are checked against the encoders' own tests).
#[test]
fn formats_md_examples() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md");
    let doc = std::fs::read_to_string(path).expect("docs/protocol.md");
    let start = doc.find(OTHER_FORMATS).expect("the Together chapter");
    let pavilion = doc.find("\n## Pavilion (seed 004)").expect("the Pavilion chapter");
    let end = doc[pavilion + 1..].find("\n## ").map_or(doc.len(), |at| pavilion + 1 + at);
    let together: Vec<Value> = json_examples(&doc[start..pavilion]);
    let clients: Vec<&Value> =
        together.iter().filter(|e| e["op"] != "DISPATCH" && e["op"] != "HEARTBEAT_ACK").collect();
    for example in &together {
        assert!(example.get("op").is_some(), "a Together example has an op: {example}");
    }
    for example in clients {
        partyline_protocol::together::decode(&example.to_string()).unwrap_or_else(|err| panic!("{example}: {err}"));
    }
    let server = ["notification", "status_update", "chat_message", "heartbeat", "error", "channel_message"];
    let mut decoded = 0;
    for example in json_examples(&doc[pavilion..end]) {
        assert!(example["type"].is_string() && example.get("timestamp").is_some(), "Pavilion's envelope: {example}");
        if !server.contains(&example["type"].as_str().unwrap()) {
            partyline_protocol::pavilion::decode(&example.to_string()).unwrap_or_else(|err| panic!("{example}: {err}"));
            decoded += 1;
        }
    }
    assert!(decoded >= 2, "the subscribe examples were found");
}
