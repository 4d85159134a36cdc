//! Partyline's wire types and codec: LOUDSYNC 1.0 plus the Partyline extensions.
//!
//! This crate is pure: no I/O, no clock, no async. `docs/protocol.md` is the prose version of
//! what these types encode.
//!
//! # Layout
//! - [`client`]: what clients send ([`ClientMessage`]), and [`decode`] that turns a text frame
//!   into one or a [`DecodeError`] saying exactly what was wrong.
//! - [`server`]: what the server sends ([`ServerMessage`]), and [`Frame`], a message serialized
//!   once and shared by every recipient.
//! - [`types`]: the shapes both directions share ([`MemberInfo`], [`ErrorCode`], ...).
//! - [`close`]: the WebSocket close codes and why each exists.
//! - [`together`], [`pavilion`], [`rt`], [`revenge`]: seeds 002, 004, 001 and 000, each its own
//!   envelope over the same session ([`Wire`]); [`iso`]: the ISO 8601 timestamps two of them write.
//! - [`reason`]: the `details.reason` strings of errors, and the default `leave` reason.
//!
//! Both directions read and write: the host decodes [`ClientMessage`] and encodes
//! [`ServerMessage`]; Rust clients and tests build [`ClientMessage`]s
//! ([`ClientMessage::to_text`]) and read [`Received`] server messages, never JSON by hand.

pub mod binary;
pub mod client;
pub mod close;
pub mod iso;
pub mod names;
pub mod pavilion;
pub mod reason;
pub mod revenge;
pub mod rt;
pub mod server;
pub mod together;
pub mod types;

pub use client::{ClientMessage, DecodeError, decode};
pub use server::{Frame, Received, ServerMessage};
pub use types::*;

/// The `protocolVersion` a client sends at join to receive every Partyline extension.
pub const PARTYLINE_V1: &str = "partyline/1";

/// What a connection speaks: decided by the session when the connection joins (or resumes) and
/// told to the connection's task, never guessed from the messages it sends. Each wire format
/// turns the session's messages into its own bytes in one place ([`Wire::encode`]) and its
/// own frames into the session's messages in another ([`Wire::decode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Wire {
    /// LOUDSYNC 1.0 exactly: its twelve message types with its fields, nothing else.
    #[default]
    Loudsync,
    /// LOUDSYNC plus every Partyline extension (`protocolVersion: "partyline/1"`).
    Partyline,
    /// Seed 002, Together's gateway (`/together/ws`, `{op, t, d}`): see [`together`].
    Together,
    /// Seed 004, Pavilion's notifications socket (`/pavilion/ws`, `{type, payload, timestamp}`):
    /// see [`pavilion`].
    Pavilion,
    /// Seed 001, the Real-time Communication Service (`/rt/ws`, `{type, data, id?}`): see [`rt`].
    Rt,
    /// Seed 000, Revenge's socket (`/socket`, `{type, id, data}`): see [`revenge`].
    Revenge,
}

impl Wire {
    /// Every format, in the order of [`Wire::index`].
    pub const ALL: [Wire; 6] =
        [Wire::Loudsync, Wire::Partyline, Wire::Together, Wire::Pavilion, Wire::Rt, Wire::Revenge];

    /// A small number per format, for tables indexed by it (a message's encodings).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the connection gets the Partyline extensions (sequence numbers, resume, clock
    /// sync).
    pub fn extended(self) -> bool {
        matches!(self, Wire::Partyline)
    }

    /// Whether it is LOUDSYNC 1.0, which knows none of the party's features beyond its member
    /// list (chat, presence, notifications...): every other format has them in its own words.
    pub fn is_plain_loudsync(self) -> bool {
        matches!(self, Wire::Loudsync)
    }

    /// Whether it carries voice signals (partyline/1 `voice.signal`, Together `VOICE_SIGNAL`).
    pub fn has_voice(self) -> bool {
        matches!(self, Wire::Partyline | Wire::Together)
    }

    /// Whether the host sends it the whole library unasked, a page a message: its format has
    /// no `library.query` to ask for the pages after `library.update`'s first (Revenge's).
    pub fn pushes_library(self) -> bool {
        matches!(self, Wire::Revenge)
    }

    /// Whether a member joins at connect, from the URL (`?name=`, `?device=`), rather than
    /// with a `join` message: the formats whose documents have no join.
    pub fn joins_at_connect(self) -> bool {
        matches!(self, Wire::Together | Wire::Pavilion | Wire::Rt | Wire::Revenge)
    }

    /// Whether it has a list of everyone (`member_list`): LOUDSYNC 1.0 and partyline/1. The
    /// others say who is there one arrival or departure at a time.
    pub fn has_member_list(self) -> bool {
        matches!(self, Wire::Loudsync | Wire::Partyline)
    }

    /// Whether it carries direct messages to a member (partyline/1 `direct`, seed 001's
    /// `DirectMessage`).
    pub fn has_direct(self) -> bool {
        matches!(self, Wire::Partyline | Wire::Rt)
    }

    /// Decodes one text frame of this format into the session's vocabulary.
    pub fn decode(self, text: &str) -> Result<ClientMessage, DecodeError> {
        self.decode_with_cid(text).map(|(message, _)| message)
    }

    /// [`Wire::decode`], and the message's `cid` where the format has one (partyline/1's
    /// outbox id, [`client::decode_with_cid`]; the other formats have none).
    pub fn decode_with_cid(self, text: &str) -> Result<(ClientMessage, Option<String>), DecodeError> {
        let plain = |decoded: Result<ClientMessage, DecodeError>| decoded.map(|message| (message, None));
        match self {
            Wire::Loudsync | Wire::Partyline => client::decode_with_cid(text),
            Wire::Together => plain(together::decode(text)),
            Wire::Pavilion => plain(pavilion::decode(text)),
            Wire::Rt => plain(rt::decode(text)),
            Wire::Revenge => plain(revenge::decode(text)),
        }
    }

    /// The close code this format uses for one of ours ([`close`]): each seed's own where it
    /// has one (Together: 4001, 4002, 1000, 1001), RFC 6455's nearest where it has none.
    pub fn close_code(self, code: u16) -> u16 {
        match self {
            Wire::Loudsync | Wire::Partyline => code,
            Wire::Together | Wire::Pavilion | Wire::Rt | Wire::Revenge => match code {
                close::NORMAL | close::MESSAGE_TOO_BIG | close::GOING_AWAY | close::POLICY => code,
                // Seeds 002 and 000 close a failed authentication with 4001.
                close::UNAUTHORIZED if matches!(self, Wire::Together | Wire::Revenge) => close::UNAUTHORIZED,
                close::MALFORMED if self == Wire::Together => close::MALFORMED,
                close::SESSION_CLOSED => close::GOING_AWAY,
                close::UNAUTHORIZED | close::MALFORMED | close::KICKED | close::RATE_LIMITED => close::POLICY,
                _ => close::NORMAL,
            },
        }
    }
}

/// Each format's WebSocket path on the host's one port, by the name `/api/info` and
/// `partyline host --json` give it: LOUDSYNC 1.0 and partyline/1 share `/ws` (the `join` says
/// which).
pub const ENDPOINTS: [(&str, &str); 5] = [
    ("partyline", "/ws"),
    ("together", "/together/ws"),
    ("pavilion", "/pavilion/ws"),
    ("rt", "/rt/ws"),
    ("revenge", "/socket"),
];

/// A topic's broadcasts the host keeps for a late joiner's `History` (seed 001): the newest 50.
pub const HISTORY_PER_TOPIC: usize = 50;

/// Bytes of broadcasts kept for history in all (payloads as compact JSON), oldest dropped first:
/// a bound whatever the number of topics.
pub const HISTORY_BYTES: usize = 1024 * 1024;

/// Direct messages the host keeps per member, to and from it, the newest first kept: a night's
/// private conversation (a few dozen each way) with room to spare, so a member back from any
/// absence, or after a restart, gets what was said to it (`chat.history`'s `directs`).
pub const KEPT_DIRECTS: usize = 200;

/// Photos a partyline/1 `welcome` lists (`photos`), the newest kept: enough for a late joiner's
/// gallery, and a welcome that stays a few KB whatever the night's count.
pub const WELCOME_PHOTOS: usize = 50;

/// The LOUDSYNC version a plain client speaks (and the one assumed when a join names none).
pub const LOUDSYNC_V1: &str = "1.0";

/// Every `protocolVersion` this server accepts, in the order shown to clients.
pub const SUPPORTED_VERSIONS: [&str; 2] = [LOUDSYNC_V1, PARTYLINE_V1];

/// The largest message a client may send, in bytes. LOUDSYNC's companion documents advise
/// keeping messages under 64 KiB, and nothing in the protocol comes near it: a chat line is
/// capped at 1,000 characters.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The longest chat text accepted, in characters: a party chat line, not a document.
pub const MAX_CHAT_CHARS: usize = 1000;

/// The largest `payload` of a `direct` or `broadcast`, in bytes of compact JSON: room for a
/// small app state or a reaction with metadata, well under the 64 KiB message limit.
pub const MAX_PAYLOAD_BYTES: usize = 8 * 1024;

/// The longest client-chosen message `id` (`direct`, `broadcast`), in characters.
pub const MAX_MESSAGE_ID_CHARS: usize = 64;

/// The most topics one member may be subscribed to.
pub const MAX_TOPICS: usize = 32;

/// The longest topic name, in characters (`[a-z0-9._-]`, at least one).
pub const MAX_TOPIC_CHARS: usize = 64;

/// The longest presence `text` ("back in 5", "in the kitchen"), in characters.
pub const MAX_PRESENCE_CHARS: usize = 64;

/// The largest `signal` of a `voice.signal`, in bytes of compact JSON: an SDP offer with a
/// few codecs and candidates is 2 to 6 KB.
pub const MAX_SIGNAL_BYTES: usize = 16 * 1024;

/// The longest notification title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;

/// The most notification ids one `mark_read` may name.
pub const MAX_MARK_READ_IDS: usize = 100;

/// The most items one library page holds (`library.update`'s first page, a `library.page`), and
/// the most a `library.query` may ask for: a screenful or two on a phone, parsed at once.
pub const LIBRARY_PAGE_ITEMS: usize = 100;

/// The most bytes of items (as compact JSON) one library page holds, whatever the items'
/// titles and paths: a page stops before the item that would pass it (it always has one), so
/// a `library.update` or `library.page` stays near the size of the 64 KiB messages clients send.
pub const LIBRARY_PAGE_BYTES: usize = 48 * 1024;

/// The longest `library.query` search text, in characters: a few words of a title or a name.
pub const MAX_LIBRARY_QUERY_CHARS: usize = 100;

/// The longest display name accepted, in characters: enough for "Rishad's iPhone 15 Pro Max"
/// in any script, short enough to fit a member row on a phone.
pub const MAX_NAME_CHARS: usize = 64;

/// The fields of a message of one variant, or a panic that shows the pattern expected and the
/// message that came instead: for clients and tests, where a message of another type is a
/// failure, not a silent `None`.
///
/// ```
/// use partyline_protocol::{ServerMessage, expect_message};
/// let ack = ServerMessage::DirectAck { timestamp: 1, id: "d-1".into(), to: "m-2".into(), queued: false };
/// let id = expect_message!(ack, ServerMessage::DirectAck { id, .. } => id);
/// assert_eq!(id, "d-1");
/// ```
#[macro_export]
macro_rules! expect_message {
    ($message:expr, $pattern:pat => $out:expr) => {
        match $message {
            $pattern => $out,
            other => panic!("expected {}, got {:?}", stringify!($pattern), other),
        }
    };
}
