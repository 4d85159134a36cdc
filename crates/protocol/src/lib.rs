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
//! - [`reason`]: the `details.reason` strings of errors, and the default `leave` reason.
//!
//! Both directions read and write: the host decodes [`ClientMessage`] and encodes
//! [`ServerMessage`]; Rust clients and tests build [`ClientMessage`]s
//! ([`ClientMessage::to_text`]) and read [`Received`] server messages, never JSON by hand.

pub mod client;
pub mod close;
pub mod reason;
pub mod server;
pub mod types;

pub use client::{ClientMessage, DecodeError, decode};
pub use server::{Frame, Received, ServerMessage};
pub use types::*;

/// The `protocolVersion` a client sends at join to receive every Partyline extension.
pub const PARTYLINE_V1: &str = "partyline/1";

/// What a connection speaks: decided by the session when the connection joins (or resumes) and
/// told to the connection's task, never guessed from the messages it sends. Each wire format
/// turns the session's messages into its own bytes in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Wire {
    /// LOUDSYNC 1.0 exactly: its twelve message types with its fields, nothing else.
    #[default]
    Loudsync,
    /// LOUDSYNC plus every Partyline extension (`protocolVersion: "partyline/1"`).
    Partyline,
}

impl Wire {
    /// Whether the connection gets the Partyline extensions (sequence numbers, resume, clock
    /// sync, messaging, SyncPlay).
    pub fn extended(self) -> bool {
        matches!(self, Wire::Partyline)
    }
}

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

/// The longest display name accepted, in characters: enough for "Rishad's iPhone 15 Pro Max"
/// in any script, short enough to fit a member row on a phone.
pub const MAX_NAME_CHARS: usize = 64;

/// The fields of a message of one variant, or a panic that shows the pattern expected and the
/// message that came instead: for clients and tests, where a message of another type is a
/// failure, not a silent `None`.
///
/// ```
/// use partyline_protocol::{ServerMessage, expect_message};
/// let ack = ServerMessage::DirectAck { timestamp: 1, id: "d-1".into() };
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
