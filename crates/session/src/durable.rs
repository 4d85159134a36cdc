//! What of a party must outlive its host's process, as plain records: the session journals each
//! durable change as it happens ([`Durable`], drained with `Session::poll_durable`, in the order
//! it was made), and rebuilds itself from a whole [`Record`] with `Session::restore`. Where the
//! records are kept is the I/O layer's business (the server's SQLite store); this module knows no
//! file, no clock and no format on disk.
//!
//! Kept: the party (id, name, capacity, lock, rooms, the counters behind line and notification
//! ids), every member (id, name, device id, resume secret, wire, when it joined, the address it
//! is on, presence, topics, which notifications it read, the `cid`s it sent), the chat lines the
//! party keeps (and which numbers were deleted), the kept notifications, bans, and SyncPlay's
//! queue and position, the direct messages each member keeps ([`crate::direct`]) and what is held
//! for a seed-001 member that is away. Not kept: connections, latencies and probes, the log of
//! sequenced messages (a member back after a restart gets a fresh `welcome` with the chat's and
//! its direct messages' history instead of a replay), topic broadcasts, voice channels, photos
//! and the library (both are the server's: it stores its folder and the guests' uploads, and
//! gives them back with [`crate::Session::restore_photos`] and `set_library`).

use std::net::IpAddr;

use partyline_protocol::{Frame, GroupState, Permissions, PresenceStatus, QueueEntry, Room, ServerMessage, Wire};

use crate::Time;
use crate::chat::ChatLine;
use crate::direct::KeptDirect;
use crate::session::Ban;

/// One durable change, in the order the session made it. A store applies each as an upsert or a
/// delete by its key; applying a pass's changes in order, in one transaction, leaves what
/// [`crate::Session::record`] would return then.
#[derive(Debug, Clone, PartialEq)]
pub enum Durable {
    /// The party's own settings and counters, as they are now (one row).
    Party(PartyRecord),
    /// A member, as it is now (keyed by [`MemberRecord::key`]).
    Member(MemberRecord),
    /// The member with this key is gone (left, kicked, timed out).
    MemberGone(u64),
    /// A chat line, new or edited (keyed by its id).
    Chat(ChatLine),
    /// A chat line is no longer kept: `deleted` by its author or the host (its number is kept,
    /// so a history does not count it as missed), or dropped for room (the oldest).
    ChatGone {
        /// The line's id (`c-<n>`).
        id: String,
        /// Deleted, rather than dropped for room.
        deleted: bool,
    },
    /// A host notification (a [`ServerMessage::Notification`]); the store keeps the newest
    /// [`KEPT_NOTIFICATIONS`](crate::session::KEPT_NOTIFICATIONS) by number.
    Notification(ServerMessage),
    /// A device was banned.
    Ban(Ban),
    /// The ban on this device id was lifted.
    Unban(String),
    /// SyncPlay's queue and position, as they are now (one row).
    Play(PlayRecord),
    /// A direct message, kept for its two members (keyed by its number).
    Direct(KeptDirect),
    /// The direct message with this number is no longer kept for anyone.
    DirectGone(u64),
    /// A frame held for the away seed-001 member with this key (the store keeps its newest
    /// [`HELD_MESSAGES`](crate::member::HELD_MESSAGES)).
    Held {
        /// The member's key.
        key: u64,
        /// The frame, as it will be written.
        frame: Frame,
        /// When it stops being worth writing.
        expires: Option<Time>,
    },
    /// What was held for this member was written (or is no longer wanted): it goes.
    HeldSent(u64),
}

/// The party's own settings and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRecord {
    /// The session id (what the join key and every resume name).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The host's own member id (`hostId` in every `welcome`).
    pub host_id: String,
    /// The host's own member name.
    pub host_name: String,
    /// The capacity.
    pub max_members: u32,
    /// Locked: no new joins.
    pub locked: bool,
    /// When the party started, ms.
    pub started_ms: u64,
    /// The number of the last chat line (`c-<n>`): ids never repeat across a restart.
    pub next_chat: u64,
    /// The number of the last notification (`n-<n>`).
    pub next_notification: u64,
    /// The N of the last "Guest N".
    pub next_guest: u64,
    /// The next member key.
    pub next_key: u64,
    /// Chat rooms and voice channels, the default ones first.
    pub rooms: Vec<Room>,
}

/// A member, as a restart needs it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    /// The session's own key for it (members are restored in the order of their keys: the order
    /// they joined in).
    pub key: u64,
    /// Its wire id, `m-xxxxxxxx`.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its device id.
    pub device_id: String,
    /// When it joined, ms.
    pub joined_at_ms: u64,
    /// The address it is on (a join naming its device takes it over only from there).
    pub addr: IpAddr,
    /// Its device label.
    pub device: Option<String>,
    /// What it speaks.
    pub wire: Wire,
    /// Its resume secret (extension members).
    pub secret: Option<String>,
    /// Its presence.
    pub presence: PresenceStatus,
    /// The words with its presence.
    pub presence_text: Option<String>,
    /// Its topics.
    pub topics: Vec<String>,
    /// The notifications it has read.
    pub read: Vec<String>,
    /// The hashes of its last `cid`s, oldest first, and whether each was applied.
    pub taken: Vec<(u64, bool)>,
    /// The number of the last chat line when its connection went, while it is away.
    pub chat_mark: Option<u64>,
    /// Its count of direct messages when its connection went, while it is away.
    pub direct_mark: Option<u64>,
    /// The number of the last host notification when its connection went, while it is away.
    pub notification_mark: Option<u64>,
    /// What is held for it (a seed-001 member that is away), oldest first. Stored as rows of
    /// their own ([`Durable::Held`]); a [`Durable::Member`] leaves them as they are.
    pub held: Vec<(Frame, Option<Time>)>,
}

/// SyncPlay's queue and where playback is.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayRecord {
    /// Idle, waiting, playing or paused.
    pub state: GroupState,
    /// The queue.
    pub queue: Vec<QueueEntry>,
    /// The index of the current entry.
    pub current: Option<usize>,
    /// Position (ms) at `anchor`.
    pub position: f64,
    /// The server time the position is at.
    pub anchor: Time,
    /// Playback rate.
    pub rate: f64,
    /// The state's revision.
    pub revision: u64,
    /// The number of the last queue entry (`q-<n>`).
    pub next_entry: u64,
    /// What members may do.
    pub permissions: Permissions,
}

/// A whole party, as stored: what [`crate::Session::restore`] rebuilds a session from.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The party's settings and counters.
    pub party: PartyRecord,
    /// Its members, in order of their keys.
    pub members: Vec<MemberRecord>,
    /// The kept chat lines, oldest first.
    pub chat: Vec<ChatLine>,
    /// The numbers of deleted lines (a history does not count them as missed).
    pub deleted: Vec<u64>,
    /// The kept host notifications, oldest first.
    pub notifications: Vec<ServerMessage>,
    /// The bans, oldest first.
    pub bans: Vec<Ban>,
    /// The kept direct messages, oldest first.
    pub directs: Vec<KeptDirect>,
    /// SyncPlay.
    pub play: PlayRecord,
    /// The host's time when the record was last written (the last moment the store knows the
    /// party was alive): where a group that was playing had got to.
    pub saved_at: Time,
}
