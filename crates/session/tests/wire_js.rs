//! The wire contract has one definition, the Rust one: `ui/shared/wire.js`, which the phone, the
//! desktop page and `client.js` import, is rendered from `partyline_protocol` (close codes,
//! versions, limits, error codes, error reasons and the default leave reason, the message types,
//! the server's from `ServerMessage::KINDS`) and `partyline_session::Config::default()`
//! (timing), and this test fails when the checked-in copy is not what the Rust side renders. `UPDATE_WIRE_JS=1 nice -n 10 cargo test -p
//! partyline-session --test wire_js` rewrites it.

use std::path::PathBuf;

use partyline_protocol::{self as protocol, ClientMessage, DecodeError, ErrorCode, ServerMessage, close, reason};
use partyline_session::{Config, SECOND, Time};

/// Every close code, by the name JS uses.
const CLOSE_CODES: [(&str, u16); 10] = [
    ("NORMAL", close::NORMAL),
    ("MESSAGE_TOO_BIG", close::MESSAGE_TOO_BIG),
    ("UNAUTHORIZED", close::UNAUTHORIZED),
    ("TOO_SLOW", close::TOO_SLOW),
    ("REPLACED", close::REPLACED),
    ("KICKED", close::KICKED),
    ("SESSION_CLOSED", close::SESSION_CLOSED),
    ("HEARTBEAT_TIMEOUT", close::HEARTBEAT_TIMEOUT),
    ("JOIN_TIMEOUT", close::JOIN_TIMEOUT),
    ("RATE_LIMITED", close::RATE_LIMITED),
];

/// The limits, in the unit their Rust name says (characters are Unicode scalar values: JS
/// counts them with `[...text].length`).
const LIMITS: [(&str, usize); 14] = [
    ("maxMessageBytes", protocol::MAX_MESSAGE_BYTES),
    ("maxChatChars", protocol::MAX_CHAT_CHARS),
    ("maxPayloadBytes", protocol::MAX_PAYLOAD_BYTES),
    ("maxMessageIdChars", protocol::MAX_MESSAGE_ID_CHARS),
    ("maxTopics", protocol::MAX_TOPICS),
    ("maxTopicChars", protocol::MAX_TOPIC_CHARS),
    ("maxPresenceChars", protocol::MAX_PRESENCE_CHARS),
    ("maxSignalBytes", protocol::MAX_SIGNAL_BYTES),
    ("maxTitleChars", protocol::MAX_TITLE_CHARS),
    ("maxMarkReadIds", protocol::MAX_MARK_READ_IDS),
    ("maxNameChars", protocol::MAX_NAME_CHARS),
    ("maxCapacity", partyline_session::config::MAX_CAPACITY as usize),
    ("libraryPageItems", protocol::LIBRARY_PAGE_ITEMS),
    ("maxLibraryQueryChars", protocol::MAX_LIBRARY_QUERY_CHARS),
];

/// Every `details.reason` the host sends, and the default `leave` reason, by the name JS uses
/// (the Rust constant's).
const REASONS: [(&str, &str); 23] = [
    ("LOCKED", reason::LOCKED),
    ("OLD_KEY", reason::OLD_KEY),
    ("BANNED", reason::BANNED),
    ("BAD_KEY", reason::BAD_KEY),
    ("SYNCPLAY", reason::SYNCPLAY),
    ("ADDRESS_LIMIT", reason::ADDRESS_LIMIT),
    ("TOO_MANY_TOPICS", reason::TOO_MANY_TOPICS),
    ("EXTENSION_ONLY", reason::EXTENSION_ONLY),
    ("NOT_JOINED", reason::NOT_JOINED),
    ("ALREADY_JOINED", reason::ALREADY_JOINED),
    ("UNKNOWN_MEMBER", reason::UNKNOWN_MEMBER),
    ("LOUDSYNC_CLIENT", reason::LOUDSYNC_CLIENT),
    ("RECONNECTING", reason::RECONNECTING),
    ("UNKNOWN_SESSION", reason::UNKNOWN_SESSION),
    ("RESUME_UNKNOWN_MEMBER", reason::RESUME_UNKNOWN_MEMBER),
    ("WRONG_SECRET", reason::WRONG_SECRET),
    ("OTHER_FORMAT", reason::OTHER_FORMAT),
    ("NOT_IN_VOICE", reason::NOT_IN_VOICE),
    ("NOT_YOURS", reason::NOT_YOURS),
    ("NO_SUCH_LINE", reason::NO_SUCH_LINE),
    ("NO_SUCH_ROOM", reason::NO_SUCH_ROOM),
    ("BAD_CHAT", reason::BAD_CHAT),
    ("DEFAULT_LEAVE", reason::DEFAULT_LEAVE),
];

/// Every error code, in declaration order.
const ERROR_CODES: [ErrorCode; 11] = [
    ErrorCode::SessionNotFound,
    ErrorCode::SessionFull,
    ErrorCode::AlreadyJoined,
    ErrorCode::InvalidMessage,
    ErrorCode::Unauthorized,
    ErrorCode::VersionMismatch,
    ErrorCode::RateLimited,
    ErrorCode::MessageTooLarge,
    ErrorCode::ResumeFailed,
    ErrorCode::RecipientUnavailable,
    ErrorCode::InvalidSubscription,
];

/// A new error code breaks this match, so that it is added to [`ERROR_CODES`] too.
fn error_code_is_listed(code: ErrorCode) -> bool {
    match code {
        ErrorCode::SessionNotFound
        | ErrorCode::SessionFull
        | ErrorCode::AlreadyJoined
        | ErrorCode::InvalidMessage
        | ErrorCode::Unauthorized
        | ErrorCode::VersionMismatch
        | ErrorCode::RateLimited
        | ErrorCode::MessageTooLarge
        | ErrorCode::ResumeFailed
        | ErrorCode::RecipientUnavailable
        | ErrorCode::InvalidSubscription => ERROR_CODES.contains(&code),
    }
}

/// Every `type` a client may send, in `ClientMessage`'s order.
const CLIENT_TYPES: [&str; 19] = [
    "join",
    "leave",
    "heartbeat",
    "ping",
    "resume",
    "chat",
    "chat.edit",
    "chat.delete",
    "direct",
    "subscribe",
    "unsubscribe",
    "broadcast",
    "presence",
    "voice.signal",
    "mark_read",
    "rename",
    "syncplay.command",
    "playback.progress",
    "library.query",
];

/// A new client message breaks this match, so that its type is added to [`CLIENT_TYPES`] too.
fn client_type_is_listed(message: &ClientMessage) -> bool {
    match message {
        ClientMessage::Join(_)
        | ClientMessage::Leave(_)
        | ClientMessage::Heartbeat(_)
        | ClientMessage::Ping(_)
        | ClientMessage::Resume(_)
        | ClientMessage::Chat(_)
        | ClientMessage::ChatEdit(_)
        | ClientMessage::ChatDelete(_)
        | ClientMessage::Direct(_)
        | ClientMessage::Subscribe(_)
        | ClientMessage::Unsubscribe(_)
        | ClientMessage::Broadcast(_)
        | ClientMessage::Presence(_)
        | ClientMessage::VoiceSignal(_)
        | ClientMessage::MarkRead(_)
        | ClientMessage::Rename(_)
        | ClientMessage::SyncplayCommand(_)
        | ClientMessage::PlaybackProgress(_)
        | ClientMessage::LibraryQuery(_) => CLIENT_TYPES.contains(&message.kind()),
        // Pavilion's subscriptions, Revenge's remote control, seed 001's own: no `/ws` client
        // sends them.
        ClientMessage::Feed(_)
        | ClientMessage::Remote(_)
        | ClientMessage::History(_)
        | ClientMessage::Custom(_)
        | ClientMessage::Binary(_)
        | ClientMessage::FileTransfer(_) => true,
    }
}

fn ms(t: Time) -> Time {
    t / (SECOND / 1000)
}

fn js_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn error_code_name(code: ErrorCode) -> String {
    serde_json::to_value(code).expect("an error code serializes").as_str().expect("a string").to_owned()
}

/// `wire.js` as the Rust side defines it.
fn render() -> String {
    let config = Config::default();
    let mut out = String::new();
    out.push_str(
        "// The wire contract, generated from crates/protocol and partyline_session::Config by\n\
         // crates/session/tests/wire_js.rs: do not edit. After a change on the Rust side:\n\
         // UPDATE_WIRE_JS=1 nice -n 10 cargo test -p partyline-session --test wire_js\n\
         // docs/protocol.md says what each value means.\n\n",
    );
    out.push_str("/** WebSocket close codes. */\nexport const CLOSE = Object.freeze({\n");
    for (name, code) in CLOSE_CODES {
        out.push_str(&format!("  {name}: {code},\n"));
    }
    out.push_str("});\n\n");
    out.push_str("/** `protocolVersion` values; `supported` in the order the host lists them. */\n");
    out.push_str("export const VERSIONS = Object.freeze({\n");
    out.push_str(&format!("  loudsync: {},\n", js_string(protocol::LOUDSYNC_V1)));
    out.push_str(&format!("  partyline: {},\n", js_string(protocol::PARTYLINE_V1)));
    let supported: Vec<String> = protocol::SUPPORTED_VERSIONS.iter().map(|v| js_string(v)).collect();
    out.push_str(&format!("  supported: Object.freeze([{}]),\n", supported.join(", ")));
    out.push_str("});\n\n");
    out.push_str("/** Limits: `*Chars` in code points (`[...text].length`), `*Bytes` in UTF-8 bytes. */\n");
    out.push_str("export const LIMITS = Object.freeze({\n");
    for (name, value) in LIMITS {
        out.push_str(&format!("  {name}: {value},\n"));
    }
    out.push_str("});\n\n");
    out.push_str("/** The host's timing defaults, in milliseconds (a `hello` may announce others). */\n");
    out.push_str("export const TIMING = Object.freeze({\n");
    for (name, value) in [
        ("heartbeatInterval", config.heartbeat_interval),
        ("heartbeatTimeout", config.heartbeat_timeout),
        ("joinTimeout", config.join_timeout),
        ("resumeWindow", config.resume_window),
        ("probeInterval", config.probe_interval),
    ] {
        out.push_str(&format!("  {name}: {},\n", ms(value)));
    }
    out.push_str("});\n\n");
    out.push_str("/** The `code` of a server `error`. */\nexport const ERROR = Object.freeze({\n");
    for code in ERROR_CODES {
        let name = error_code_name(code);
        out.push_str(&format!("  {}: {},\n", name.to_uppercase(), js_string(&name)));
    }
    out.push_str("});\n\n");
    out.push_str("/** An `error`'s `details.reason` values, and the `reason` of a `leave` that names none. */\n");
    out.push_str("export const REASON = Object.freeze({\n");
    for (name, value) in REASONS {
        out.push_str(&format!("  {name}: {},\n", js_string(value)));
    }
    out.push_str("});\n\n");
    let client_types: Vec<String> = CLIENT_TYPES.iter().map(|t| js_string(t)).collect();
    out.push_str("/** Every `type` a client may send. */\n");
    out.push_str(&format!("export const CLIENT_TYPES = Object.freeze([{}]);\n\n", client_types.join(", ")));
    let server_types: Vec<String> = ServerMessage::KINDS.iter().map(|t| js_string(t)).collect();
    out.push_str("/** Every `type` the server sends. */\n");
    out.push_str(&format!("export const SERVER_TYPES = Object.freeze([{}]);\n", server_types.join(", ")));
    out
}

fn wire_js_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/shared/wire.js")
}

/// The checked-in `ui/shared/wire.js` is what the Rust constants render (or is rewritten with
/// `UPDATE_WIRE_JS=1`).
#[test]
fn wire_js_is_current() {
    let path = wire_js_path();
    let want = render();
    if std::env::var_os("UPDATE_WIRE_JS").is_some() {
        std::fs::write(&path, &want).expect("write ui/shared/wire.js");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let line = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(have.lines().count().min(want.lines().count()));
        panic!(
            "ui/shared/wire.js is stale: at line {}, expected {:?}, found {:?}; rewrite it with \
             UPDATE_WIRE_JS=1 nice -n 10 cargo test -p partyline-session --test wire_js",
            line + 1,
            want.lines().nth(line).unwrap_or("<end of file>"),
            have.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

/// Each listed client type is one the decoder knows, an unlisted one is not, and each error code
/// is listed once.
#[test]
fn the_lists_match_the_protocol() {
    for kind in CLIENT_TYPES {
        let text = format!(r#"{{"type":{},"timestamp":1}}"#, js_string(kind));
        match protocol::decode(&text) {
            Err(DecodeError::UnknownType(unknown)) => {
                panic!("expected {kind} to be a client type, the decoder says {unknown} is unknown")
            }
            Ok(message) => assert!(client_type_is_listed(&message), "expected {kind} listed"),
            Err(_) => {}
        }
    }
    let chat = ServerMessage::Chat {
        timestamp: 1,
        id: "c-1".into(),
        from: "m-1".into(),
        name: "Ana".into(),
        text: "hi".into(),
        room: "general".into(),
        cid: None,
    };
    assert!(ServerMessage::KINDS.contains(&chat.kind()), "expected chat listed");
    let unknown = protocol::decode(r#"{"type":"dance","timestamp":1}"#);
    assert!(matches!(unknown, Err(DecodeError::UnknownType(_))), "expected dance unknown, got {unknown:?}");
    for code in ERROR_CODES {
        assert!(error_code_is_listed(code), "expected {code:?} listed");
    }
    let names: std::collections::BTreeSet<String> = ERROR_CODES.iter().map(|c| error_code_name(*c)).collect();
    assert_eq!(names.len(), ERROR_CODES.len(), "expected {} distinct error codes, got {names:?}", ERROR_CODES.len());
}
