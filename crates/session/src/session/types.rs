//! What the session takes in and gives out: connection ids and peers, transmits for the I/O
//! layer, events for the host's UI, and the errors of host actions.

use super::*;

/// A connection, as the I/O layer numbers them. The session never reuses one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// Where a connection comes from, as the I/O layer saw it when it opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The remote address. Members are counted per address, and a device id is only trusted
    /// to take over its member from the address that member is on.
    pub addr: IpAddr,
    /// A short label for the device ("iPhone", "Windows PC"), if the I/O layer could tell; a
    /// member that joins on the connection carries it as `device` to extension members.
    pub device: Option<String>,
    /// Whether it may `join`: false when it presented a join key the host has replaced since
    /// (it may still `resume`, with the member's secret).
    pub may_join: bool,
    /// For formats that join at connect ([`Wire::joins_at_connect`]): what the URL said. The
    /// connection is a member (or refused) as soon as it opens.
    pub arrival: Option<Arrival>,
}

/// A connection that joins as it opens: its format and what its URL names (`?name=`,
/// `?device=`), as the I/O layer read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// What it speaks.
    pub wire: Wire,
    /// Its display name; `None`: "Guest N".
    pub name: Option<String>,
    /// A stable device id, so that a reconnect is the same member; `None`: a new one each time.
    pub device_id: Option<String>,
}

impl Peer {
    /// A connection from `addr` whose device is unknown, with the key in force.
    pub fn from_addr(addr: IpAddr) -> Peer {
        Peer { addr, device: None, may_join: true, arrival: None }
    }
}

/// Something for the I/O layer to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Write a text frame. With `seq`, splice it in first ([`Frame::with_seq`]).
    Send {
        /// To whom.
        conn: ConnId,
        /// The message, shared with the other recipients.
        frame: Frame,
        /// The member's sequence number for it, for extension members.
        seq: Option<u64>,
    },
    /// The connection now belongs to a member and speaks `wire` (set at join, kept by a
    /// resume): the I/O layer answers its pings in that format. Decided here, never guessed by
    /// the I/O layer from what the client sends (a 1.0 client that sent `resume` got extension
    /// pongs for the rest of its connection).
    Attach {
        /// Which.
        conn: ConnId,
        /// What it speaks.
        wire: Wire,
    },
    /// Write these sequenced frames, in order, paced by the connection's own writer: a resume's
    /// replay, which may be hundreds of messages and must not count against the connection's
    /// outbound queue one by one (a replay that overflowed it closed the member before
    /// `resumed` was written, and every retry did the same).
    Replay {
        /// To whom.
        conn: ConnId,
        /// The messages with their sequence numbers.
        frames: Vec<(u64, Frame)>,
    },
    /// Write these frames, in order, paced by the connection's own writer, like a replay: the
    /// roster news held back from a member whose queue was deep ([`Session::handle_congested`]).
    Backlog {
        /// To whom.
        conn: ConnId,
        /// The messages, with their sequence numbers for an extension member.
        frames: Vec<(Frame, Option<u64>)>,
    },
    /// Send a WebSocket ping whose payload is `sent_at` (8 bytes, big-endian), and hand the
    /// pong's payload back to [`Session::handle_probe_reply`].
    Probe {
        /// To whom.
        conn: ConnId,
        /// The time to carry.
        sent_at: Time,
    },
    /// Close the connection after writing what was queued before it. The session has already
    /// forgotten the connection: a later [`Session::handle_disconnect`] for it is ignored.
    Close {
        /// Which.
        conn: ConnId,
        /// The WebSocket close code ([`partyline_protocol::close`]).
        code: u16,
        /// The close reason.
        reason: &'static str,
    },
}

/// Something the host's own user interface should know. Serializes as an object whose
/// `event` field names the variant (`member_joined`, ...), for the desktop app's web view and
/// `partyline host --json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum Event {
    /// A member joined.
    MemberJoined(MemberInfo),
    /// A member left.
    MemberLeft {
        /// The member as it was.
        member: MemberInfo,
        /// Why.
        reason: LeaveReason,
    },
    /// A member's status, name, latency or device changed.
    MemberUpdated(MemberInfo),
    /// The session's name, lock, capacity or member count changed.
    SessionUpdated(SessionState),
    /// A chat line.
    Chat {
        /// The line's id (to delete it).
        id: String,
        /// Its room.
        room: String,
        /// Sender's member id.
        from: String,
        /// Sender's name.
        name: String,
        /// The line.
        text: String,
    },
    /// A chat line was edited.
    ChatEdited {
        /// The line's id.
        id: String,
        /// The new text.
        text: String,
    },
    /// A chat line was deleted.
    ChatDeleted {
        /// The line's id.
        id: String,
    },
    /// A member's presence changed (a fresh join of its device resets it to online).
    Presence {
        /// The member.
        member_id: String,
        /// Its name.
        name: String,
        /// Online, away or busy.
        status: PresenceStatus,
        /// Its words, if any.
        text: Option<String>,
    },
    /// A member has read host notifications (`mark_read`).
    NotificationsRead {
        /// The member.
        member_id: String,
        /// Its name.
        name: String,
        /// The notification ids, as it sent them.
        ids: Vec<String>,
    },
    /// SyncPlay's state changed.
    SyncPlay(PlayState),
    /// A member reported its playback (about once a second while playing).
    PlaybackProgress(MemberSync),
    /// The host banned a device (its member was kicked).
    Banned(Ban),
    /// The host lifted a ban.
    Unbanned(Ban),
    /// A guest shared a photo (`photo.shared`'s fields).
    PhotoShared(partyline_protocol::Photo),
    /// The session is closed; nothing more will happen.
    Closed,
}

/// A device the host turned away: it cannot join the party again until the host lifts the ban.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ban {
    /// The device id it joined with.
    pub device_id: String,
    /// The member's name when it was banned.
    pub name: String,
    /// The host's reason, as the member was told it.
    pub reason: String,
    /// When, ms since the Unix epoch.
    pub at: u64,
}

/// How one member's playback is doing, from its last report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberSync {
    /// The member.
    pub member_id: String,
    /// What it is doing.
    pub state: DeviceState,
    /// Its error against the group, ms (positive: ahead).
    pub error_ms: Option<f64>,
    /// Its position, ms.
    pub position: f64,
    /// When it reported.
    pub at: Time,
}

/// Who changes a chat line: its author may edit or delete it, the host may delete any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// The host (moderation).
    Host,
    /// A member, by its key.
    Member(u64),
}

/// A change to a member's voice (Together's `POST`/`DELETE`/`PATCH /channels/{id}/voice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceChange {
    /// Join this voice channel (leaving any other), muted and deafened as given.
    Join {
        /// The voice channel.
        channel: String,
        /// Muted.
        muted: bool,
        /// Deafened.
        deafened: bool,
    },
    /// Leave this voice channel.
    Leave {
        /// The voice channel.
        channel: String,
    },
    /// Mute or deafen in this voice channel (what is `None` stays).
    Set {
        /// The voice channel.
        channel: String,
        /// Muted.
        muted: Option<bool>,
        /// Deafened.
        deafened: Option<bool>,
    },
}

/// A host action that cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// No member has that id.
    #[error("no member with id {0}")]
    NoSuchMember(String),
    /// The capacity is outside 1..=10,000.
    #[error("capacity must be between 1 and {MAX_CAPACITY}, not {0}")]
    BadCapacity(u32),
    /// The name is empty or longer than 64 characters.
    #[error("a session name must be 1 to {MAX_NAME_CHARS} characters")]
    BadName,
    /// The session is closed.
    #[error("the session is closed")]
    Closed,
    /// A notification's title is empty or over 100 characters, or its body over 1,000.
    #[error("a notification needs a title of 1 to {MAX_TITLE_CHARS} characters and a body of at most {MAX_CHAT_CHARS}")]
    BadNotification,
    /// A notification's actions cannot go out (more than three, a bad label or URL).
    #[error("{0}")]
    BadActions(String),
    /// The member joined with a LOUDSYNC 1.0 client, which knows no `remote.command` (said in a
    /// host's words: the desktop shows it as it is).
    #[error("{0} joined from an app that cannot be controlled from here")]
    NoRemote(String),
    /// No ban is kept for that device id.
    #[error("no ban for device {0}")]
    NoSuchBan(String),
    /// No member has that device id (a REST call names its member by `?device=`).
    #[error("no member with device id {0}")]
    NoSuchDevice(String),
    /// No chat line with that id is kept.
    #[error("no chat line {0}")]
    NoSuchLine(String),
    /// Only a line's author may edit it, and only its author or the host may delete it.
    #[error("only its author may change chat line {0}")]
    NotYourLine(String),
    /// No such chat room.
    #[error("no chat room {0}")]
    NoSuchRoom(String),
    /// The member is not in that voice channel.
    #[error("not in voice channel {0}")]
    NotInVoice(String),
    /// A room name must be 1 to 64 characters.
    #[error("a room name must be 1 to {MAX_NAME_CHARS} characters")]
    BadRoomName,
    /// A chat line must be 1 to 1,000 characters.
    #[error("a chat line must be 1 to {MAX_CHAT_CHARS} characters")]
    BadChat,
    /// SyncPlay refused the command.
    #[error(transparent)]
    Play(#[from] PlayError),
}
