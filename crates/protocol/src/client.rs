//! Client → server messages and their decoder.
//!
//! Decoding happens in two steps: read `type`, then the fields of that type. That costs a second
//! pass over a small message, and buys an error that names the type and the field at fault
//! ("join: missing field `sessionId`") instead of serde's "no variant matched".

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::types::{DeviceInfo, PresenceStatus};
use crate::{
    LIBRARY_PAGE_ITEMS, MAX_CHAT_CHARS, MAX_LIBRARY_QUERY_CHARS, MAX_MARK_READ_IDS, MAX_MESSAGE_BYTES,
    MAX_MESSAGE_ID_CHARS, MAX_PAYLOAD_BYTES, MAX_PRESENCE_CHARS, MAX_SIGNAL_BYTES, MAX_TOPIC_CHARS, MAX_TOPICS,
};

/// The longest file name a `FileTransfer` may give, in characters: what file systems allow.
const MAX_FILE_NAME_CHARS: usize = 255;

/// The longest `deviceInfo.id` accepted: a UUID is 36 characters; four times that is generous.
const MAX_DEVICE_ID_CHARS: usize = 128;

/// Every message a client may send. The host reads them with [`decode`]; Rust clients and tests
/// write them with [`ClientMessage::to_text`] (`Serialize`), never with a JSON template.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// LOUDSYNC `join`.
    Join(Join),
    /// LOUDSYNC `leave`.
    Leave(Leave),
    /// LOUDSYNC `heartbeat`.
    Heartbeat(Heartbeat),
    /// LOUDSYNC `ping`.
    Ping(Ping),
    /// Extension: `resume` a dropped membership.
    Resume(Resume),
    /// Extension: a chat line for everyone.
    Chat(Chat),
    /// Extension: edit one's own chat line (`chat.edit`).
    #[serde(rename = "chat.edit")]
    ChatEdit(ChatEdit),
    /// Extension: delete one's own chat line (`chat.delete`).
    #[serde(rename = "chat.delete")]
    ChatDelete(ChatDelete),
    /// Extension: a message for one member.
    Direct(Direct),
    /// Extension: add topics to the member's subscriptions.
    Subscribe(Topics),
    /// Extension: remove topics from the member's subscriptions.
    Unsubscribe(Topics),
    /// Extension: a message for the other members (subscribed to a topic, or all).
    Broadcast(Broadcast),
    /// Extension: the member's presence (online, away, busy).
    Presence(Presence),
    /// Pavilion's `subscribe`/`unsubscribe` of a channel (a topic is one kind of channel). Only
    /// Pavilion's decoder makes it, and it has no partyline/1 form to write.
    #[serde(skip_serializing)]
    Feed(Feed),
    /// Seed 001's `X-` custom types, relayed. Only its decoder makes it.
    #[serde(skip_serializing)]
    Custom(Custom),
    /// Seed 001's `History`: a topic's recent broadcasts. Only its decoder makes it.
    #[serde(skip_serializing)]
    History(HistoryRequest),
    /// Seed 001's binary frames (`[type][length][payload]`). Only its binary decoder
    /// ([`crate::rt::decode_binary`]) makes it.
    #[serde(skip_serializing)]
    Binary(BinaryMessage),
    /// Seed 001's `FileTransfer` announcement of a file sent next as 0x03 frames (ours: the seed
    /// leaves the framing of a file open). Only its decoder makes it.
    #[serde(skip_serializing)]
    FileTransfer(FileAnnouncement),
    /// Revenge's `remote.command` to one member's device (`volume`, ...), from a client. Only
    /// Revenge's decoder makes it.
    #[serde(skip_serializing)]
    Remote(Remote),
    /// Extension: WebRTC signaling for one member, relayed by the host.
    #[serde(rename = "voice.signal")]
    VoiceSignal(VoiceSignal),
    /// Extension: the member has read these host notifications.
    MarkRead(MarkRead),
    /// Extension: the member changes the name it is shown by.
    Rename(Rename),
    /// Extension (SyncPlay): a playback or queue command.
    #[serde(rename = "syncplay.command")]
    SyncplayCommand(SyncplayCommand),
    /// Extension (SyncPlay): where this device's playback is, and how far off.
    #[serde(rename = "playback.progress")]
    PlaybackProgress(PlaybackProgress),
    /// Extension (SyncPlay): a page of the library, searched or not, or the items of some ids.
    #[serde(rename = "library.query")]
    LibraryQuery(LibraryQuery),
}

impl ClientMessage {
    /// The message as a client sends it: one line of JSON.
    pub fn to_text(&self) -> String {
        // Serializing cannot fail: every map key is a string, and a float that is not finite
        // becomes `null` (which the host then refuses, as it should).
        serde_json::to_string(self).expect("client messages always serialize")
    }

    /// A `join` of a client device at `timestamp` (ms), asking for `protocol_version` (`None`:
    /// plain LOUDSYNC 1.0, [`crate::PARTYLINE_V1`]: every extension).
    pub fn join(
        timestamp: impl Into<Number>,
        session_id: impl Into<String>,
        device_id: impl Into<String>,
        name: impl Into<String>,
        protocol_version: Option<&str>,
    ) -> ClientMessage {
        ClientMessage::Join(Join {
            timestamp: timestamp.into(),
            session_id: session_id.into(),
            device_info: DeviceInfo { id: device_id.into(), name: name.into(), kind: crate::types::DeviceType::Client },
            protocol_version: protocol_version.map(str::to_string),
            player: None,
        })
    }

    /// The wire name of this message's type.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Join(_) => "join",
            ClientMessage::Leave(_) => "leave",
            ClientMessage::Heartbeat(_) => "heartbeat",
            ClientMessage::Ping(_) => "ping",
            ClientMessage::Resume(_) => "resume",
            ClientMessage::Chat(_) => "chat",
            ClientMessage::ChatEdit(_) => "chat.edit",
            ClientMessage::ChatDelete(_) => "chat.delete",
            ClientMessage::Direct(_) => "direct",
            ClientMessage::Subscribe(_) => "subscribe",
            ClientMessage::Unsubscribe(_) => "unsubscribe",
            ClientMessage::Broadcast(_) => "broadcast",
            ClientMessage::Presence(_) => "presence",
            ClientMessage::Feed(Feed { add: true, .. }) => "subscribe",
            ClientMessage::Feed(Feed { add: false, .. }) => "unsubscribe",
            ClientMessage::Remote(_) => "remote.command",
            ClientMessage::History(_) => "History",
            ClientMessage::Custom(_) => "X-",
            ClientMessage::Binary(_) => "binary",
            ClientMessage::FileTransfer(_) => "FileTransfer",
            ClientMessage::VoiceSignal(_) => "voice.signal",
            ClientMessage::MarkRead(_) => "mark_read",
            ClientMessage::Rename(_) => "rename",
            ClientMessage::SyncplayCommand(_) => "syncplay.command",
            ClientMessage::PlaybackProgress(_) => "playback.progress",
            ClientMessage::LibraryQuery(_) => "library.query",
        }
    }
}

/// LOUDSYNC `join`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Join {
    /// The client's clock, milliseconds since the Unix epoch.
    pub timestamp: Number,
    /// The session the client wants.
    pub session_id: String,
    /// Who the client is.
    pub device_info: DeviceInfo,
    /// Extension: `"partyline/1"` opts into every extension; absent or `"1.0"` is plain LOUDSYNC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// Extension: `true` when this client plays SyncPlay's media (the phone page): a start waits
    /// for it to be ready. A client that does not say so (a terminal, a remote) is not waited for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub player: Option<bool>,
}

/// LOUDSYNC `leave`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leave {
    /// The client's clock.
    pub timestamp: Number,
    /// Why, in the user's words ([`crate::reason::DEFAULT_LEAVE`] when they gave none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// LOUDSYNC `heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The client's clock.
    pub timestamp: Number,
}

/// LOUDSYNC `ping`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ping {
    /// The client's clock; `pong` echoes it exactly, digit for digit.
    pub timestamp: Number,
}

/// Extension: `resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resume {
    /// The client's clock.
    pub timestamp: Number,
    /// The session the member belongs to.
    pub session_id: String,
    /// The member id from `welcome`.
    pub member_id: String,
    /// The secret from `welcome`.
    pub resume_secret: String,
    /// The highest `seq` the client has processed (0 if none).
    pub last_seq: u64,
}

/// Extension: `chat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    /// The client's clock.
    pub timestamp: Number,
    /// The line, at most [`MAX_CHAT_CHARS`] characters.
    pub text: String,
    /// Extension: the room to say it in (default [`crate::DEFAULT_ROOM`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

/// Extension: `chat.edit`, new words for one's own line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatEdit {
    /// The client's clock.
    pub timestamp: Number,
    /// The line's id (from its `chat`).
    pub id: String,
    /// The new text, at most [`MAX_CHAT_CHARS`] characters.
    pub text: String,
}

/// Extension: `chat.delete`, takes one's own line back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatDelete {
    /// The client's clock.
    pub timestamp: Number,
    /// The line's id.
    pub id: String,
}

/// Extension: `direct`, a message for one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Direct {
    /// The client's clock.
    pub timestamp: Number,
    /// The recipient's member id.
    pub to: String,
    /// The sender's id for the message (1 to [`MAX_MESSAGE_ID_CHARS`] characters), echoed in
    /// `direct_ack` or an `error`.
    pub id: String,
    /// Anything, at most [`MAX_PAYLOAD_BYTES`] as compact JSON.
    pub payload: Value,
    /// How long, in seconds, it may wait for a recipient that is reconnecting (seed 001's
    /// `metadata.ttl`; partyline/1 has no such field, so it is never written).
    #[serde(skip)]
    pub ttl: Option<u32>,
}

/// Extension: `subscribe` and `unsubscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topics {
    /// The client's clock.
    pub timestamp: Number,
    /// Topic names: 1 to [`MAX_TOPIC_CHARS`] characters of `[a-z0-9._-]`, at most
    /// [`MAX_TOPICS`] in one message.
    pub topics: Vec<String>,
}

/// Extension: `broadcast`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Broadcast {
    /// The client's clock.
    pub timestamp: Number,
    /// The sender's id for the message (1 to [`MAX_MESSAGE_ID_CHARS`] characters).
    pub id: String,
    /// Only members subscribed to this topic receive it; absent: every other member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Anything, at most [`MAX_PAYLOAD_BYTES`] as compact JSON.
    pub payload: Value,
    /// Whether the sender wants `broadcast_ack` with the number of recipients.
    #[serde(default)]
    pub ack: bool,
    /// How long, in seconds, it stays in its topic's history (seed 001's `metadata.ttl`;
    /// partyline/1 has no such field, so it is never written).
    #[serde(skip)]
    pub ttl: Option<u32>,
}

/// Extension: `presence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    /// The client's clock.
    pub timestamp: Number,
    /// Online, away or busy.
    pub status: PresenceStatus,
    /// A few words, at most [`MAX_PRESENCE_CHARS`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Extension: `voice.signal`, WebRTC signaling (an SDP offer or answer, an ICE candidate)
/// for one member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceSignal {
    /// The client's clock.
    pub timestamp: Number,
    /// The recipient's member id.
    pub to: String,
    /// Opaque to the host: any JSON object, at most [`MAX_SIGNAL_BYTES`] as compact JSON.
    pub signal: serde_json::Map<String, Value>,
}

/// Extension: `mark_read`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkRead {
    /// The client's clock.
    pub timestamp: Number,
    /// Notification ids (from `notification`), 1 to [`MAX_MARK_READ_IDS`] of them.
    pub ids: Vec<String>,
}

/// Extension: `rename`, a new name for the member (cleaned and checked as a `join`'s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rename {
    /// The client's clock.
    pub timestamp: Number,
    /// The new name.
    pub name: String,
}

/// Extension: `syncplay.command`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncplayCommand {
    /// The client's clock.
    pub timestamp: Number,
    /// What to do.
    #[serde(flatten)]
    pub command: PlayCommand,
}

/// A SyncPlay command, named by the message's `command` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum PlayCommand {
    /// Play: the paused item, or `itemId` from the library (added to the queue if needed),
    /// from `position` ms (default: where it is, or 0 for a new item).
    Play {
        /// A library item to play.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item_id: Option<String>,
        /// Where to start, ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<f64>,
    },
    /// Pause everyone at the same instant.
    Pause,
    /// Jump to `position` ms.
    Seek {
        /// Where, ms.
        position: f64,
    },
    /// The next queue entry.
    Next,
    /// The previous queue entry.
    Previous,
    /// Playback speed, 0.5 to 2.
    SetRate {
        /// The speed.
        rate: f64,
    },
    /// Append a library item to the queue.
    #[serde(rename = "queue.add")]
    QueueAdd {
        /// The library item.
        item_id: String,
    },
    /// Remove a queue entry.
    #[serde(rename = "queue.remove")]
    QueueRemove {
        /// The queue entry.
        entry_id: String,
    },
    /// Start without waiting for every device to be ready.
    StartAnyway,
}

/// Extension: `playback.progress`, sent by a playing device about once a second, and at once
/// when it becomes ready or stalls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybackProgress {
    /// The client's clock.
    pub timestamp: Number,
    /// The queue entry it is on.
    pub entry_id: Option<String>,
    /// The library item it plays, for a client that knows no queue entries (Revenge's
    /// `itemId`): the host takes it as the group's current entry when the items agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// Its position, ms.
    #[serde(default)]
    pub position: f64,
    /// What it is doing.
    pub state: DeviceState,
    /// Its measured error against the group's position, ms (positive: ahead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<f64>,
}

/// Extension: `library.query`, answered with one `library.page`. Without `ids`: the items that
/// match `q` (every word of it, in any case, in the title, artist or album; none: every item),
/// from `offset`, at most `limit` (and [`crate::LIBRARY_PAGE_ITEMS`]). With `ids`: those items
/// that are shared, in the library's order (`q` and `offset` are then ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LibraryQuery {
    /// The client's clock.
    pub timestamp: Number,
    /// Words to search for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Where in the matching items to start (0: the first).
    #[serde(default, skip_serializing_if = "is_start")]
    pub offset: usize,
    /// How many items at most (default and most: [`crate::LIBRARY_PAGE_ITEMS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Items wanted by id (a queue's titles), at most [`crate::LIBRARY_PAGE_ITEMS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
}

/// For `skip_serializing_if`: an offset of 0 (the start) is left out.
fn is_start(offset: &usize) -> bool {
    *offset == 0
}

/// A device's playback state as it reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Loaded the entry and able to start at the group's position.
    Ready,
    /// Playing.
    Playing,
    /// Paused with the group.
    Paused,
    /// Waiting for data.
    Buffering,
    /// Cannot play the entry.
    Error,
    /// Played the entry to its end: the host moves the group to the next entry.
    Ended,
}

impl PlayCommand {
    /// What every SyncPlay command must be, a member's (checked as it is decoded) or the host's
    /// (checked by the facade): positions finite and not negative, a rate from 0.5 to 2.
    pub fn check(&self) -> Result<(), &'static str> {
        match self {
            PlayCommand::Play { position: Some(position), .. } | PlayCommand::Seek { position }
                if !position.is_finite() || *position < 0.0 =>
            {
                Err("position must be a number of milliseconds, 0 or more")
            }
            PlayCommand::SetRate { rate } if !(0.5..=2.0).contains(rate) => Err("rate must be between 0.5 and 2"),
            _ => Ok(()),
        }
    }
}

/// A seed-001 custom message (`X-CustomAction`): relayed to the party's other seed-001 clients as
/// it came, and to partyline/1 members subscribed to its topic ([`Custom::topic`]) as a
/// `broadcast`.
#[derive(Debug, Clone, PartialEq)]
pub struct Custom {
    /// Its type, `X-` and up to 62 more characters.
    pub kind: String,
    /// Its `data`, at most [`MAX_PAYLOAD_BYTES`] as compact JSON.
    pub data: Value,
}

impl Custom {
    /// The partyline/1 topic it is broadcast on: its type in lower case (`X-CustomAction` →
    /// `x-customaction`), when that is a topic name.
    pub fn topic(&self) -> Option<String> {
        let topic = self.kind.to_ascii_lowercase();
        is_topic(&topic).then_some(topic)
    }
}

/// A request for a topic's recent broadcasts (seed 001 lists "history" as a feature and leaves the
/// request open: this is ours, documented in docs/protocol.md).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRequest {
    /// The topic (a name, not a pattern).
    pub topic: String,
    /// At most this many, the newest; the host keeps [`crate::HISTORY_PER_TOPIC`].
    pub limit: usize,
}

/// One of seed 001's binary frames, read (docs/protocol.md says what each payload holds).
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryMessage {
    /// Its type.
    pub kind: crate::binary::BinaryKind,
    /// The topic (0x01 broadcast, 0x04 stream data) or the target member's id (0x02 direct
    /// message); empty for 0x03 (a file's bytes, nothing before them).
    pub address: String,
    /// What follows the address: the data relayed, or the file's bytes.
    pub data: bytes::Bytes,
    /// The whole frame as it came (header included): a broadcast or a stream is relayed as is.
    pub frame: bytes::Bytes,
    /// The payload's length (the acknowledgement's `size`).
    pub size: usize,
    /// `sha256:` and the payload's SHA-256 in hex (the acknowledgement's `checksum`), computed
    /// where the frame was read.
    pub checksum: String,
}

/// A file announced before its bytes come as 0x03 frames (docs/protocol.md).
#[derive(Debug, Clone, PartialEq)]
pub struct FileAnnouncement {
    /// The sender's id for the transfer (1 to [`MAX_MESSAGE_ID_CHARS`] characters), echoed in
    /// every answer.
    pub file_id: String,
    /// The file's name: only a label.
    pub name: String,
    /// Its length in bytes: the transfer is complete when this many have come.
    pub size: u64,
    /// `sha256:` and 64 hex digits the whole file must have, if the sender gave it.
    pub checksum: Option<String>,
}

/// A client's remote control of one member's device (Revenge's `remote.command` with a
/// `targetId`), or of nothing the host knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    /// What to do (`volume`, ...).
    pub command: String,
    /// With what, if anything.
    pub value: Option<Value>,
    /// The member whose device it is for.
    pub target: Option<String>,
}

/// A subscription change to one of Pavilion's channels (seed 004, "Subscription Channels").
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// Which channel.
    pub channel: Channel,
    /// Subscribe (true) or unsubscribe.
    pub add: bool,
}

/// A channel as Pavilion names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    /// `user`: my notifications.
    User,
    /// `zone:{id}`: the party, whose id is the session id.
    Zone(String),
    /// `channel:{id}`: a topic, the same as a partyline/1 topic.
    Topic(String),
    /// `chat:{roomId}`: a room's chat lines.
    Chat(String),
    /// Anything else: answered with an invalid-subscription error.
    Unknown(String),
}

impl Channel {
    /// Reads a channel name.
    pub fn parse(name: &str) -> Channel {
        let owned = |rest: &str| rest.to_string();
        if name == "user" {
            Channel::User
        } else if let Some(id) = name.strip_prefix("zone:").filter(|id| !id.is_empty()) {
            Channel::Zone(owned(id))
        } else if let Some(id) = name.strip_prefix("channel:").filter(|id| !id.is_empty()) {
            Channel::Topic(owned(id))
        } else if let Some(id) = name.strip_prefix("chat:").filter(|id| !id.is_empty()) {
            Channel::Chat(owned(id))
        } else {
            Channel::Unknown(truncate(name, 64))
        }
    }

    /// The channel's name as Pavilion writes it.
    pub fn name(&self) -> String {
        match self {
            Channel::User => "user".to_string(),
            Channel::Zone(id) => format!("zone:{id}"),
            Channel::Topic(id) => format!("channel:{id}"),
            Channel::Chat(id) => format!("chat:{id}"),
            Channel::Unknown(name) => name.clone(),
        }
    }
}

/// Why a text frame is not a valid client message. Each becomes an `invalid_message` (or
/// `message_too_large`) error for the client, with this text as its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame is bigger than [`MAX_MESSAGE_BYTES`].
    #[error("message is {size} bytes; the limit is {limit}")]
    TooLarge {
        /// The frame's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A binary frame: the protocol is JSON text.
    #[error("binary frames are not part of the protocol; send JSON text")]
    Binary,
    /// A seed-001 binary frame that is not `[type][length][payload]` of a known type.
    #[error(transparent)]
    BinaryFrame(#[from] crate::binary::BinaryError),
    /// Not valid JSON.
    #[error("not valid JSON: {0}")]
    NotJson(String),
    /// Valid JSON, but not an object with a string `type`.
    #[error("a message must be a JSON object with a string \"type\"")]
    NoType,
    /// A `type` this server does not know.
    #[error("unknown message type \"{0}\"")]
    UnknownType(String),
    /// A known type with missing or wrong fields.
    #[error("{kind}: {detail}")]
    BadFields {
        /// The message type.
        kind: &'static str,
        /// What was wrong, in serde's words or ours.
        detail: String,
    },
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
    /// Extension: the sender's outbox id for the message (see [`decode_with_cid`]).
    #[serde(default, borrow)]
    cid: Option<std::borrow::Cow<'a, str>>,
}

/// The longest `cid`, in characters.
pub const MAX_CID_CHARS: usize = 64;

/// Decodes one text frame.
pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
    decode_with_cid(text).map(|(message, _)| message)
}

/// Decodes one text frame and its `cid`, if it has one: partyline/1's outbox id (1 to
/// [`MAX_CID_CHARS`] characters, any message), which the host answers with `ack` and never
/// applies twice.
pub fn decode_with_cid(text: &str) -> Result<(ClientMessage, Option<String>), DecodeError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge { size: text.len(), limit: MAX_MESSAGE_BYTES });
    }
    let envelope: Envelope<'_> = match serde_json::from_str(text) {
        Ok(envelope) => envelope,
        Err(err) if err.is_data() => return Err(DecodeError::NoType),
        Err(err) => return Err(DecodeError::NotJson(err.to_string())),
    };
    let kind = envelope.kind.ok_or(DecodeError::NoType)?;
    let message = match kind.as_ref() {
        "join" => ClientMessage::Join(fields::<Join>("join", text)?),
        "leave" => ClientMessage::Leave(fields::<Leave>("leave", text)?),
        "heartbeat" => ClientMessage::Heartbeat(fields::<Heartbeat>("heartbeat", text)?),
        "ping" => ClientMessage::Ping(fields::<Ping>("ping", text)?),
        "resume" => ClientMessage::Resume(fields::<Resume>("resume", text)?),
        "chat" => ClientMessage::Chat(fields::<Chat>("chat", text)?),
        "chat.edit" => ClientMessage::ChatEdit(fields::<ChatEdit>("chat.edit", text)?),
        "chat.delete" => ClientMessage::ChatDelete(fields::<ChatDelete>("chat.delete", text)?),
        "direct" => ClientMessage::Direct(fields::<Direct>("direct", text)?),
        "subscribe" => ClientMessage::Subscribe(fields::<Topics>("subscribe", text)?),
        "unsubscribe" => ClientMessage::Unsubscribe(fields::<Topics>("unsubscribe", text)?),
        "broadcast" => ClientMessage::Broadcast(fields::<Broadcast>("broadcast", text)?),
        "presence" => ClientMessage::Presence(fields::<Presence>("presence", text)?),
        "voice.signal" => ClientMessage::VoiceSignal(fields::<VoiceSignal>("voice.signal", text)?),
        "mark_read" => ClientMessage::MarkRead(fields::<MarkRead>("mark_read", text)?),
        "rename" => ClientMessage::Rename(fields::<Rename>("rename", text)?),
        "syncplay.command" => ClientMessage::SyncplayCommand(fields("syncplay.command", text)?),
        "playback.progress" => ClientMessage::PlaybackProgress(fields("playback.progress", text)?),
        "library.query" => ClientMessage::LibraryQuery(fields("library.query", text)?),
        other => return Err(DecodeError::UnknownType(truncate(other, 64))),
    };
    validate(&message)?;
    let cid = match envelope.cid {
        Some(cid) if (1..=MAX_CID_CHARS).contains(&cid.chars().count()) => Some(cid.into_owned()),
        Some(_) => {
            let detail = format!("cid must be 1 to {MAX_CID_CHARS} characters");
            return Err(DecodeError::BadFields { kind: message.kind(), detail });
        }
        None => None,
    };
    Ok((message, cid))
}

fn fields<T: DeserializeOwned>(kind: &'static str, text: &str) -> Result<T, DecodeError> {
    serde_json::from_str(text).map_err(|err| DecodeError::BadFields { kind, detail: strip_position(&err) })
}

/// serde_json appends " at line 1 column 57"; for one-line messages that only adds noise.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The envelope seeds 001 and 000 share: `{type, data, id?}`.
#[derive(Deserialize)]
pub(crate) struct TypeData {
    #[serde(rename = "type")]
    pub(crate) kind: Option<Value>,
    #[serde(default)]
    pub(crate) data: Option<Value>,
    #[serde(default)]
    pub(crate) id: Option<Value>,
    /// Seed 001's "metadata headers" (`priority`, `ttl`, `encryption`, `compression`).
    #[serde(default)]
    pub(crate) metadata: Option<Value>,
}

/// The first step of every other format's decoder: the size limit, then its envelope as JSON
/// (an envelope that is JSON but not an object of its shape is [`DecodeError::NoType`]).
pub(crate) fn envelope<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge { size: text.len(), limit: MAX_MESSAGE_BYTES });
    }
    match serde_json::from_str(text) {
        Ok(envelope) => Ok(envelope),
        Err(err) if err.is_data() => Err(DecodeError::NoType),
        Err(err) => Err(DecodeError::NotJson(err.to_string())),
    }
}

/// The last step of every decoder: the message keeps the limits every format shares.
pub(crate) fn checked(message: ClientMessage) -> Result<ClientMessage, DecodeError> {
    validate(&message)?;
    Ok(message)
}

pub(crate) fn validate(message: &ClientMessage) -> Result<(), DecodeError> {
    let bad = |kind: &'static str, detail: &str| DecodeError::BadFields { kind, detail: detail.to_string() };
    match message {
        ClientMessage::Join(join) => {
            let device = &join.device_info;
            if device.id.trim().is_empty() {
                return Err(bad("join", "deviceInfo.id must not be empty"));
            }
            if device.id.chars().count() > MAX_DEVICE_ID_CHARS {
                return Err(bad("join", "deviceInfo.id is longer than 128 characters"));
            }
            if let Err(err) = crate::names::clean(&device.name) {
                return Err(bad("join", &format!("deviceInfo.name: {err}")));
            }
        }
        ClientMessage::Chat(Chat { text, .. }) | ClientMessage::ChatEdit(ChatEdit { text, .. }) => {
            let kind = message.kind();
            if text.trim().is_empty() {
                return Err(bad(kind, "text must not be empty"));
            }
            if text.chars().count() > MAX_CHAT_CHARS {
                return Err(bad(kind, "text is longer than 1000 characters"));
            }
        }
        ClientMessage::ChatDelete(ChatDelete { id, .. }) => check_id("chat.delete", id)?,
        ClientMessage::Direct(direct) => {
            check_id("direct", &direct.id)?;
            check_payload("direct", &direct.payload)?;
        }
        ClientMessage::Subscribe(Topics { topics, .. }) | ClientMessage::Unsubscribe(Topics { topics, .. }) => {
            let kind = message.kind();
            if topics.len() > MAX_TOPICS {
                let detail = format!("at most {MAX_TOPICS} topics");
                return Err(DecodeError::BadFields { kind, detail });
            }
            topics.iter().try_for_each(|topic| check_pattern(kind, topic))?;
        }
        ClientMessage::Broadcast(broadcast) => {
            check_id("broadcast", &broadcast.id)?;
            if let Some(topic) = &broadcast.topic {
                check_topic("broadcast", topic)?;
            }
            check_payload("broadcast", &broadcast.payload)?;
        }
        ClientMessage::Presence(presence) => {
            if presence.text.as_ref().is_some_and(|text| text.chars().count() > MAX_PRESENCE_CHARS) {
                return Err(bad("presence", "text is longer than 64 characters"));
            }
        }
        ClientMessage::VoiceSignal(voice) => {
            let size = serde_json::to_vec(&voice.signal).map_or(usize::MAX, |bytes| bytes.len());
            if size > MAX_SIGNAL_BYTES {
                let detail = format!("signal is {size} bytes as JSON; the limit is {MAX_SIGNAL_BYTES}");
                return Err(DecodeError::BadFields { kind: "voice.signal", detail });
            }
        }
        ClientMessage::MarkRead(read) => {
            if read.ids.is_empty() || read.ids.len() > MAX_MARK_READ_IDS {
                return Err(bad("mark_read", "ids must name 1 to 100 notifications"));
            }
            read.ids.iter().try_for_each(|id| check_id("mark_read", id))?;
        }
        ClientMessage::SyncplayCommand(command) => {
            command.command.check().map_err(|why| bad("syncplay.command", why))?
        }
        ClientMessage::Rename(rename) => {
            if let Err(err) = crate::names::clean(&rename.name) {
                return Err(bad("rename", &format!("name: {err}")));
            }
        }
        ClientMessage::PlaybackProgress(progress) => {
            if !progress.position.is_finite() || progress.error.is_some_and(|e| !e.is_finite()) {
                return Err(bad("playback.progress", "position and error must be finite numbers"));
            }
        }
        ClientMessage::LibraryQuery(query) => {
            if query.q.as_ref().is_some_and(|q| q.chars().count() > MAX_LIBRARY_QUERY_CHARS) {
                let detail = format!("q is longer than {MAX_LIBRARY_QUERY_CHARS} characters");
                return Err(DecodeError::BadFields { kind: "library.query", detail });
            }
            if query.limit.is_some_and(|limit| !(1..=LIBRARY_PAGE_ITEMS).contains(&limit)) {
                let detail = format!("limit must be 1 to {LIBRARY_PAGE_ITEMS}");
                return Err(DecodeError::BadFields { kind: "library.query", detail });
            }
            if let Some(ids) = &query.ids {
                if ids.len() > LIBRARY_PAGE_ITEMS {
                    let detail = format!("ids may name at most {LIBRARY_PAGE_ITEMS} items");
                    return Err(DecodeError::BadFields { kind: "library.query", detail });
                }
                ids.iter().try_for_each(|id| check_id("library.query", id))?;
            }
        }
        ClientMessage::Leave(_)
        | ClientMessage::Heartbeat(_)
        | ClientMessage::Ping(_)
        | ClientMessage::Resume(_)
        | ClientMessage::Feed(_)
        | ClientMessage::Binary(_)
        | ClientMessage::Remote(_) => {}
        ClientMessage::FileTransfer(file) => {
            check_id("FileTransfer", &file.file_id)?;
            if file.name.trim().is_empty() || file.name.chars().count() > MAX_FILE_NAME_CHARS {
                return Err(bad("FileTransfer", "data.name must be 1 to 255 characters"));
            }
            if file.size == 0 {
                return Err(bad("FileTransfer", "data.size must be at least 1 byte"));
            }
            let hex = file.checksum.as_deref().map(|sum| sum.strip_prefix("sha256:"));
            if hex.is_some_and(|hex| {
                !hex.is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            }) {
                return Err(bad("FileTransfer", "data.checksum must be \"sha256:\" and 64 hex digits"));
            }
        }
        ClientMessage::History(request) => check_topic("History", &request.topic)?,
        ClientMessage::Custom(custom) => {
            if custom.kind.len() > MAX_TOPIC_CHARS || custom.topic().is_none() {
                return Err(bad("X-", "a custom type is X- and letters, digits, '.', '_' or '-', at most 64 in all"));
            }
            check_payload("X-", &custom.data)?;
        }
    }
    Ok(())
}

/// A client-chosen message id: 1 to [`MAX_MESSAGE_ID_CHARS`] characters.
fn check_id(kind: &'static str, id: &str) -> Result<(), DecodeError> {
    if id.is_empty() || id.chars().count() > MAX_MESSAGE_ID_CHARS {
        let detail = format!("id must be 1 to {MAX_MESSAGE_ID_CHARS} characters");
        return Err(DecodeError::BadFields { kind, detail });
    }
    Ok(())
}

/// Whether `pattern` is a subscription: a topic name, or one ending in `.*` (`updates.*`: every
/// topic under `updates.`, at any depth), or `*` alone (every topic).
pub fn is_topic_pattern(pattern: &str) -> bool {
    pattern == "*" || pattern.strip_suffix(".*").map_or_else(|| is_topic(pattern), is_topic)
}

/// Whether a subscription `pattern` takes `topic`: the same name, or for `prefix.*` any topic
/// that starts with `prefix.` (`updates.*` takes `updates.score` and `updates.score.home`, not
/// `updates` itself), or for `*` any topic.
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => topic.len() > prefix.len() && topic.starts_with(prefix),
        None => pattern == topic,
    }
}

/// Whether `name` is a topic name: 1 to [`MAX_TOPIC_CHARS`] characters of `[a-z0-9._-]`.
pub fn is_topic(name: &str) -> bool {
    (1..=MAX_TOPIC_CHARS).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_pattern(kind: &'static str, pattern: &str) -> Result<(), DecodeError> {
    if !is_topic_pattern(pattern) {
        let detail = format!(
            "topic \"{}\" is not a topic name (1 to {MAX_TOPIC_CHARS} characters of a-z, 0-9, '.', '_', '-'), \
             nor one ending in \".*\", nor \"*\"",
            truncate(pattern, MAX_TOPIC_CHARS + 1)
        );
        return Err(DecodeError::BadFields { kind, detail });
    }
    Ok(())
}

fn check_topic(kind: &'static str, topic: &str) -> Result<(), DecodeError> {
    if !is_topic(topic) {
        let detail = format!(
            "topic \"{}\" is not a topic name (1 to {MAX_TOPIC_CHARS} characters of a-z, 0-9, '.', '_', '-')",
            truncate(topic, MAX_TOPIC_CHARS + 1)
        );
        return Err(DecodeError::BadFields { kind, detail });
    }
    Ok(())
}

/// A payload: any JSON, at most [`MAX_PAYLOAD_BYTES`] once serialized compactly.
fn check_payload(kind: &'static str, payload: &Value) -> Result<(), DecodeError> {
    let size = serde_json::to_vec(payload).map_or(usize::MAX, |bytes| bytes.len());
    if size > MAX_PAYLOAD_BYTES {
        let detail = format!("payload is {size} bytes as JSON; the limit is {MAX_PAYLOAD_BYTES}");
        return Err(DecodeError::BadFields { kind, detail });
    }
    Ok(())
}

pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DeviceType;

    /// The join example of the LOUDSYNC document decodes field for field.
    #[test]
    fn loudsync_join_example_decodes() {
        let text = r#"{"type":"join","timestamp":1706889600000,"sessionId":"abc123",
            "deviceInfo":{"id":"device-456","name":"Rishad's iPhone","type":"client"}}"#;
        let ClientMessage::Join(join) = decode(text).unwrap() else { panic!("not a join") };
        assert_eq!(join.session_id, "abc123");
        assert_eq!(join.device_info.id, "device-456");
        assert_eq!(join.device_info.name, "Rishad's iPhone");
        assert_eq!(join.device_info.kind, DeviceType::Client);
        assert_eq!(join.protocol_version, None);
        assert_eq!(join.timestamp.to_string(), "1706889600000");
    }

    /// Every LOUDSYNC client message of the document decodes.
    #[test]
    fn loudsync_examples_decode() {
        let cases = [
            (r#"{"type":"leave","timestamp":1706889700000,"reason":"User exited session"}"#, "leave"),
            (r#"{"type":"leave","timestamp":1706889700000}"#, "leave"),
            (r#"{"type":"heartbeat","timestamp":1706889650000}"#, "heartbeat"),
            (r#"{"type":"ping","timestamp":1706889650000}"#, "ping"),
        ];
        for (text, kind) in cases {
            assert_eq!(decode(text).map(|m| m.kind()), Ok(kind), "decoding {text}");
        }
    }

    /// A fractional timestamp survives exactly, so pong can echo it digit for digit.
    #[test]
    fn ping_timestamp_is_kept_exactly() {
        let ClientMessage::Ping(ping) = decode(r#"{"type":"ping","timestamp":1706889650000.125}"#).unwrap() else {
            panic!("not a ping")
        };
        assert_eq!(ping.timestamp.to_string(), "1706889650000.125");
    }

    /// Each kind of bad input gets its own, readable error.
    #[test]
    fn bad_input_is_named() {
        let cases: [(&str, DecodeError); 6] = [
            ("{not json", DecodeError::NotJson("key must be a string at line 1 column 2".into())),
            ("[1,2]", DecodeError::NoType),
            (r#"{"timestamp":1}"#, DecodeError::NoType),
            (r#"{"type":7}"#, DecodeError::NoType),
            (r#"{"type":"dance","timestamp":1}"#, DecodeError::UnknownType("dance".into())),
            (
                r#"{"type":"join","timestamp":1,"deviceInfo":{"id":"d","name":"n","type":"client"}}"#,
                DecodeError::BadFields { kind: "join", detail: "missing field `sessionId`".into() },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(decode(text), Err(expected), "decoding {text}");
        }
    }

    /// A heartbeat without its timestamp breaks LOUDSYNC's base structure and is refused.
    #[test]
    fn timestamp_is_required() {
        let err = decode(r#"{"type":"heartbeat"}"#).unwrap_err();
        assert_eq!(err.to_string(), "heartbeat: missing field `timestamp`");
    }

    /// Empty and overlong names and chat lines are refused.
    #[test]
    fn field_limits() {
        let join = |name: &str| {
            format!(
                r#"{{"type":"join","timestamp":1,"sessionId":"s","deviceInfo":{{"id":"d","name":"{name}","type":"client"}}}}"#
            )
        };
        assert!(decode(&join("Sara")).is_ok());
        assert!(matches!(decode(&join("  ")), Err(DecodeError::BadFields { kind: "join", .. })));
        assert!(matches!(decode(&join(&"x".repeat(65))), Err(DecodeError::BadFields { kind: "join", .. })));
        let chat = format!(r#"{{"type":"chat","timestamp":1,"text":"{}"}}"#, "y".repeat(1001));
        assert!(matches!(decode(&chat), Err(DecodeError::BadFields { kind: "chat", .. })));
    }

    /// `library.query` decodes with its defaults (offset 0, no limit, no search), and its search
    /// text, limit and ids are bounded.
    #[test]
    fn library_queries() {
        let plain = decode(r#"{"type":"library.query","timestamp":1}"#);
        let expected = LibraryQuery { timestamp: 1.into(), q: None, offset: 0, limit: None, ids: None };
        assert_eq!(plain, Ok(ClientMessage::LibraryQuery(expected)));
        let search = decode(r#"{"type":"library.query","timestamp":1,"q":"abba","offset":200,"limit":100}"#);
        assert!(
            matches!(&search, Ok(ClientMessage::LibraryQuery(LibraryQuery { q: Some(q), offset: 200, limit: Some(100), .. })) if q == "abba"),
            "{search:?}"
        );
        let ids = ClientMessage::LibraryQuery(LibraryQuery {
            timestamp: 1.into(),
            q: None,
            offset: 0,
            limit: None,
            ids: Some(vec!["t-1".into()]),
        });
        assert_eq!(decode(&ids.to_text()), Ok(ids.clone()), "what a Rust client writes, the host reads");
        let many: Vec<String> = (0..=LIBRARY_PAGE_ITEMS).map(|n| format!("t-{n}")).collect();
        for bad in [
            format!(r#"{{"type":"library.query","timestamp":1,"q":"{}"}}"#, "q".repeat(MAX_LIBRARY_QUERY_CHARS + 1)),
            r#"{"type":"library.query","timestamp":1,"limit":0}"#.to_string(),
            format!(r#"{{"type":"library.query","timestamp":1,"limit":{}}}"#, LIBRARY_PAGE_ITEMS + 1),
            r#"{"type":"library.query","timestamp":1,"offset":-1}"#.to_string(),
            format!(r#"{{"type":"library.query","timestamp":1,"ids":{}}}"#, serde_json::to_string(&many).unwrap()),
            r#"{"type":"library.query","timestamp":1,"ids":[""]}"#.to_string(),
        ] {
            assert!(matches!(decode(&bad), Err(DecodeError::BadFields { kind: "library.query", .. })), "{bad} refused");
        }
    }

    /// SyncPlay commands decode by their `command` field and are validated.
    #[test]
    fn syncplay_commands() {
        let seek = decode(r#"{"type":"syncplay.command","timestamp":1,"command":"seek","position":1500.5}"#);
        assert!(
            matches!(seek, Ok(ClientMessage::SyncplayCommand(SyncplayCommand { command: PlayCommand::Seek { position }, .. })) if position == 1500.5)
        );
        let add = decode(r#"{"type":"syncplay.command","timestamp":1,"command":"queue.add","itemId":"t-1"}"#);
        assert!(matches!(
            add,
            Ok(ClientMessage::SyncplayCommand(SyncplayCommand { command: PlayCommand::QueueAdd { .. }, .. }))
        ));
        let bad_rate = decode(r#"{"type":"syncplay.command","timestamp":1,"command":"setRate","rate":9}"#);
        assert!(matches!(bad_rate, Err(DecodeError::BadFields { kind: "syncplay.command", .. })));
        let unknown = decode(r#"{"type":"syncplay.command","timestamp":1,"command":"dance"}"#);
        assert!(matches!(unknown, Err(DecodeError::BadFields { kind: "syncplay.command", .. })), "{unknown:?}");
        let progress =
            decode(r#"{"type":"playback.progress","timestamp":1,"entryId":"q-1","position":10,"state":"ready"}"#);
        assert!(matches!(
            progress,
            Ok(ClientMessage::PlaybackProgress(PlaybackProgress { state: DeviceState::Ready, .. }))
        ));
    }

    /// `direct`: any JSON payload up to 8 KiB, an id of 1 to 64 characters, every field required.
    #[test]
    fn direct_limits() {
        let direct = |id: &str, payload: &str| {
            format!(r#"{{"type":"direct","timestamp":1,"to":"m-1","id":"{id}","payload":{payload}}}"#)
        };
        let ok = decode(&direct("d-1", r#"{"emoji":"🎉","n":[1,2]}"#));
        assert!(matches!(ok, Ok(ClientMessage::Direct(Direct { ref to, ref id, .. })) if to == "m-1" && id == "d-1"));
        assert!(decode(&direct("d-1", "null")).is_ok(), "any JSON, null included");
        let big = format!(r#""{}""#, "p".repeat(MAX_PAYLOAD_BYTES));
        let err = decode(&direct("d-1", &big)).unwrap_err();
        assert!(
            matches!(err, DecodeError::BadFields { kind: "direct", ref detail } if detail.contains("8192")),
            "{err}"
        );
        let fits = format!(r#""{}""#, "p".repeat(MAX_PAYLOAD_BYTES - 2));
        assert!(decode(&direct("d-1", &fits)).is_ok(), "exactly 8192 bytes fits");
        assert!(matches!(decode(&direct("", "1")), Err(DecodeError::BadFields { kind: "direct", .. })));
        assert!(matches!(decode(&direct(&"i".repeat(65), "1")), Err(DecodeError::BadFields { kind: "direct", .. })));
        assert!(decode(&direct(&"i".repeat(64), "1")).is_ok());
        let missing = decode(r#"{"type":"direct","timestamp":1,"to":"m-1","id":"d"}"#).unwrap_err();
        assert_eq!(missing.to_string(), "direct: missing field `payload`");
    }

    /// Topic names are 1 to 64 characters of [a-z0-9._-]; a message names at most 32; a
    /// broadcast's topic is optional and checked like them.
    #[test]
    fn topics_and_broadcast() {
        let subscribe = |topics: &str| format!(r#"{{"type":"subscribe","timestamp":1,"topics":{topics}}}"#);
        let ok = decode(&subscribe(r#"["game.round-1","chat_2","x"]"#));
        assert!(matches!(ok, Ok(ClientMessage::Subscribe(Topics { ref topics, .. })) if topics.len() == 3));
        assert!(decode(&subscribe(&format!(r#"["{}"]"#, "a".repeat(64)))).is_ok());
        for bad in [r#"[""]"#, r#"["Game"]"#, r#"["a b"]"#, r#"["é"]"#, r#"["a/b"]"#] {
            let err = decode(&subscribe(bad)).unwrap_err();
            assert!(matches!(err, DecodeError::BadFields { kind: "subscribe", .. }), "{bad}: {err}");
        }
        assert!(decode(&subscribe(&format!(r#"["{}"]"#, "a".repeat(65)))).is_err());
        let many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
        let err = decode(&subscribe(&serde_json::to_string(&many).unwrap())).unwrap_err();
        assert_eq!(err.to_string(), "subscribe: at most 32 topics");
        let un = decode(r#"{"type":"unsubscribe","timestamp":1,"topics":["B"]}"#).unwrap_err();
        assert!(matches!(un, DecodeError::BadFields { kind: "unsubscribe", .. }));

        let all = decode(r#"{"type":"broadcast","timestamp":1,"id":"b-1","payload":[1]}"#).unwrap();
        assert!(matches!(all, ClientMessage::Broadcast(Broadcast { topic: None, ack: false, .. })));
        let topic = decode(r#"{"type":"broadcast","timestamp":1,"id":"b-1","topic":"t","payload":1,"ack":true}"#);
        assert!(matches!(topic, Ok(ClientMessage::Broadcast(Broadcast { topic: Some(_), ack: true, .. }))));
        let bad = decode(r#"{"type":"broadcast","timestamp":1,"id":"b-1","topic":"T!","payload":1}"#).unwrap_err();
        assert!(matches!(bad, DecodeError::BadFields { kind: "broadcast", .. }));
        let big = format!(r#"{{"type":"broadcast","timestamp":1,"id":"b","payload":"{}"}}"#, "p".repeat(9000));
        assert!(matches!(decode(&big), Err(DecodeError::BadFields { kind: "broadcast", .. })));
    }

    /// `presence`: online, away or busy, with up to 64 characters of text.
    #[test]
    fn presence() {
        let ok = decode(r#"{"type":"presence","timestamp":1,"status":"away","text":"back in 5"}"#);
        assert!(matches!(
            ok,
            Ok(ClientMessage::Presence(Presence { status: PresenceStatus::Away, text: Some(_), .. }))
        ));
        let bare = decode(r#"{"type":"presence","timestamp":1,"status":"busy"}"#);
        assert!(matches!(bare, Ok(ClientMessage::Presence(Presence { status: PresenceStatus::Busy, text: None, .. }))));
        let unknown = decode(r#"{"type":"presence","timestamp":1,"status":"asleep"}"#).unwrap_err();
        assert!(matches!(unknown, DecodeError::BadFields { kind: "presence", .. }), "{unknown}");
        let long = format!(r#"{{"type":"presence","timestamp":1,"status":"away","text":"{}"}}"#, "t".repeat(65));
        assert_eq!(decode(&long).unwrap_err().to_string(), "presence: text is longer than 64 characters");
    }

    /// `voice.signal`: a JSON object up to 16 KiB; anything else is refused.
    #[test]
    fn voice_signal() {
        let signal = |signal: &str| format!(r#"{{"type":"voice.signal","timestamp":1,"to":"m-1","signal":{signal}}}"#);
        let ok = decode(&signal(r#"{"type":"offer","sdp":"v=0\r\n"}"#));
        assert!(
            matches!(ok, Ok(ClientMessage::VoiceSignal(VoiceSignal { ref signal, .. })) if signal["type"] == "offer")
        );
        for bad in ["\"offer\"", "[1]", "null", "3"] {
            let err = decode(&signal(bad)).unwrap_err();
            assert!(matches!(err, DecodeError::BadFields { kind: "voice.signal", .. }), "{bad}: {err}");
        }
        let big = signal(&format!(r#"{{"sdp":"{}"}}"#, "s".repeat(MAX_SIGNAL_BYTES)));
        let err = decode(&big).unwrap_err();
        assert!(err.to_string().starts_with("voice.signal: signal is 16394 bytes"), "{err}");
    }

    /// `mark_read`: 1 to 100 ids of 1 to 64 characters.
    #[test]
    fn mark_read() {
        let ok = decode(r#"{"type":"mark_read","timestamp":1,"ids":["n-1","n-2"]}"#);
        assert!(matches!(ok, Ok(ClientMessage::MarkRead(MarkRead { ref ids, .. })) if ids.len() == 2));
        let empty = decode(r#"{"type":"mark_read","timestamp":1,"ids":[]}"#).unwrap_err();
        assert_eq!(empty.to_string(), "mark_read: ids must name 1 to 100 notifications");
        let blank = decode(r#"{"type":"mark_read","timestamp":1,"ids":[""]}"#);
        assert!(matches!(blank, Err(DecodeError::BadFields { kind: "mark_read", .. })));
    }

    /// A frame over 64 KiB is refused before it is parsed.
    #[test]
    fn oversize_is_refused_first() {
        let text = format!(r#"{{"type":"chat","timestamp":1,"text":"{}"}}"#, "z".repeat(MAX_MESSAGE_BYTES));
        assert!(matches!(decode(&text), Err(DecodeError::TooLarge { limit: MAX_MESSAGE_BYTES, .. })));
    }
}
