//! Shapes shared by client and server messages.

use serde::{Deserialize, Serialize};

/// A member as every message describes it (LOUDSYNC `MemberInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberInfo {
    /// The member id the server assigned (`clientId` in `welcome`).
    pub id: String,
    /// Display name, from `deviceInfo.name`.
    pub name: String,
    /// True for the host's own member.
    pub is_host: bool,
    /// Whether the member's connection is up.
    pub connection_status: ConnectionStatus,
    /// When the member joined, in milliseconds since the Unix epoch.
    pub joined_at: u64,
    /// Round-trip time in milliseconds measured by the server; absent until measured.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub latency: Option<u32>,
    /// Extension (`partyline/1` only): a short label for the member's device ("iPhone",
    /// "Android phone", "Windows PC", "Partyline desktop", ...), which the host derives from
    /// the connection; absent when unknown. Never sent to a LOUDSYNC 1.0 client: see
    /// [`MemberInfo::loudsync`].
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub device: Option<String>,
}

impl MemberInfo {
    /// The member as LOUDSYNC 1.0 describes it: exactly the document's fields, extension
    /// fields dropped.
    pub fn loudsync(&self) -> MemberInfo {
        let mut member = self.clone();
        member.drop_extensions();
        member
    }

    /// Drops the extension fields in place (see [`MemberInfo::loudsync`]).
    pub fn drop_extensions(&mut self) {
        self.device = None;
    }

    /// The member as JSON, as a `member_list` writes each of its entries
    /// ([`crate::Frame::member_list`]).
    pub fn json(&self) -> bytes::Bytes {
        bytes::Bytes::from(serde_json::to_vec(self).expect("a member always serializes"))
    }

    /// Whether [`MemberInfo::loudsync`] would drop anything.
    pub fn has_extensions(&self) -> bool {
        self.device.is_some()
    }
}

/// LOUDSYNC's `connectionStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    /// The member's connection is up.
    Connected,
    /// The member is gone (LOUDSYNC names it; Partyline removes such members instead).
    Disconnected,
    /// The connection dropped and the member may still resume.
    Reconnecting,
}

/// A member's presence (extension `presence`): whether it is paying attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    /// Here (every member starts so, and is so again after a fresh join).
    #[default]
    Online,
    /// Away from the phone.
    Away,
    /// Here, but not to be disturbed.
    Busy,
    /// Connected, but appearing offline (Together's and Pavilion's `offline` set by the member
    /// itself; a member that is really gone is not in the list at all).
    Offline,
}

/// How much a host notification (extension `notification`) matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationLevel {
    /// For information ("Pizza is here").
    #[default]
    Info,
    /// Worth a look ("The party ends in 10 minutes").
    Warning,
    /// Needs attention now ("Everyone to the exit").
    Alert,
}

/// The most actions one notification carries: seed 001 shows a list of links under a notice;
/// a phone's card has room for three buttons.
pub const MAX_ACTIONS: usize = 3;

/// The longest action label, in characters: a button's words ("Learn More", "See the menu").
pub const MAX_ACTION_LABEL_CHARS: usize = 40;

/// The longest action URL, in bytes: room for any page's address with a query, short enough
/// that three of them stay a small part of a notification.
pub const MAX_ACTION_URL_BYTES: usize = 2048;

/// A link the host attaches to a notification (seed 001's `actions`: `{label, url}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationAction {
    /// What the link says, 1 to [`MAX_ACTION_LABEL_CHARS`] characters.
    pub label: String,
    /// Where it goes: an `http://` or `https://` URL of at most [`MAX_ACTION_URL_BYTES`] bytes.
    pub url: String,
}

impl NotificationAction {
    /// Why these actions cannot go out, if they cannot: more than [`MAX_ACTIONS`], a blank or
    /// long label, or a URL that is not http(s) (a `javascript:` or `data:` URL would run or
    /// show something on the page that opens it), has spaces or control characters, or is long.
    pub fn check(actions: &[NotificationAction]) -> Result<(), String> {
        if actions.len() > MAX_ACTIONS {
            return Err(format!("at most {MAX_ACTIONS} actions, not {}", actions.len()));
        }
        for action in actions {
            let label = action.label.trim();
            if label.is_empty() || label.chars().count() > MAX_ACTION_LABEL_CHARS {
                return Err(format!("an action's label must be 1 to {MAX_ACTION_LABEL_CHARS} characters"));
            }
            let url = &action.url;
            let lower = url.to_ascii_lowercase();
            let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
            if !rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')) {
                return Err(format!("an action's url must be an http:// or https:// address, not {url:?}"));
            }
            if url.len() > MAX_ACTION_URL_BYTES || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "an action's url must be at most {MAX_ACTION_URL_BYTES} bytes, without spaces or control characters"
                ));
            }
        }
        Ok(())
    }
}

/// Why a member left (LOUDSYNC `member_left.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// It sent `leave`, or closed its socket cleanly.
    Left,
    /// The host kicked it.
    Kicked,
    /// No heartbeat in time, or it did not resume within the window.
    Timeout,
    /// Its connection broke.
    Error,
}

/// LOUDSYNC `deviceInfo.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    /// A host device.
    Host,
    /// A client device.
    Client,
}

/// LOUDSYNC `ClientInfo`, sent in `join`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// A stable id the device chose for itself.
    pub id: String,
    /// The device's display name.
    pub name: String,
    /// Host or client.
    #[serde(rename = "type")]
    pub kind: DeviceType,
}

/// LOUDSYNC `welcome.sessionInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The session id.
    pub id: String,
    /// The session's display name.
    pub name: String,
    /// The member id of the host's own member.
    pub host_id: String,
}

/// The session as `session_updated` describes it (extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionState {
    /// The session id.
    pub id: String,
    /// The session's display name.
    pub name: String,
    /// The member id of the host's own member.
    pub host_id: String,
    /// True while new joins are refused.
    pub locked: bool,
    /// The most members (not counting the host) the session admits.
    pub max_members: u32,
    /// Members now in the session (not counting the host), reconnecting ones included.
    pub member_count: u32,
}

/// Every error code the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// LOUDSYNC: the session id is not this host's.
    SessionNotFound,
    /// LOUDSYNC: the session is at capacity.
    SessionFull,
    /// LOUDSYNC: the device joined again on another connection.
    AlreadyJoined,
    /// LOUDSYNC: the message could not be understood.
    InvalidMessage,
    /// LOUDSYNC: wrong key, or the session is locked.
    Unauthorized,
    /// LOUDSYNC: the client asked for a protocol version we do not speak.
    VersionMismatch,
    /// Extension: too many messages.
    RateLimited,
    /// Extension: a message over the size limit.
    MessageTooLarge,
    /// Extension: a resume that cannot be honoured.
    ResumeFailed,
    /// Extension: the member a message is for does not exist, is not reachable now, or uses a
    /// LOUDSYNC 1.0 client, which knows no such message.
    RecipientUnavailable,
    /// Extension: a subscription to a channel that does not exist or that this member may
    /// not see (Pavilion's 1003).
    InvalidSubscription,
}

/// The party's default chat room: every chat line without a room is in it (a Together
/// channel and a Pavilion `chat:general`).
pub const DEFAULT_ROOM: &str = "general";

/// The party's default voice channel.
pub const DEFAULT_VOICE: &str = "voice";

/// A chat room or voice channel of the party (a Together channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Room {
    /// Its id (`general` for the default room).
    pub id: String,
    /// What the room list shows.
    pub name: String,
    /// Text or voice.
    pub kind: RoomKind,
}

/// What a room is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// Chat lines.
    Text,
    /// Voice: members join it and signal each other.
    Voice,
}

/// SyncPlay's group state (extension `syncplay.state`): every device plays `entryId` from
/// `position` ms at server time `serverTime` µs, advancing at `rate`, unless `paused`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayState {
    /// `idle`, `waiting` (loading; report ready), `paused` or `playing`.
    pub state: GroupState,
    /// The current queue entry.
    pub entry_id: Option<String>,
    /// The library item of the current entry.
    pub item_id: Option<String>,
    /// Position in ms at `serverTime`.
    pub position: f64,
    /// When this state takes effect, µs on the host's clock.
    pub server_time: u64,
    /// Playback speed.
    pub rate: f64,
    /// Whether playback is stopped at `position`.
    pub paused: bool,
    /// The queue, in order.
    pub queue: Vec<QueueEntry>,
    /// Counts changes; a device applies only the newest.
    pub revision: u64,
    /// Whether members (not only the host) may control playback and the queue.
    pub permissions: Permissions,
}

/// SyncPlay's group states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    /// Nothing queued or chosen.
    Idle,
    /// An entry is chosen; devices load it and report ready; play starts when all are
    /// ready, at the timeout, or when the host starts anyway.
    Waiting,
    /// Stopped at a position.
    Paused,
    /// Playing.
    Playing,
}

/// One entry of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueEntry {
    /// The entry's id (the same item may be queued twice).
    pub entry_id: String,
    /// The library item.
    pub item_id: String,
}

/// Who may control SyncPlay besides the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permissions {
    /// Members may play, pause, seek, skip and change speed.
    pub playback: bool,
    /// Members may add to and remove from the queue.
    pub queue: bool,
}

/// A media item the host shares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LibraryItem {
    /// Its id.
    pub id: String,
    /// A title to show: its tag's, else the file name without extension.
    pub title: String,
    /// Its MIME type, e.g. `audio/mpeg`.
    pub mime: String,
    /// Where to fetch it on the host (a path, served with Range support).
    pub url: String,
    /// Size in bytes.
    pub size: u64,
    /// Its length in ms, when the file says (its header or tags); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Its artist, from its tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    /// Its album, from its tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album: Option<String>,
    /// Where to fetch its cover art on the host (a path, behind the join key as `url` is),
    /// when its tags hold a picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover: Option<String>,
}

/// One chat line of a `chat.history`: what its `chat` said, as the line is now (edited words;
/// deleted lines are not in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryLine {
    /// The line's id.
    pub id: String,
    /// Its room.
    pub room: String,
    /// The author's member id.
    pub from: String,
    /// The author's name when it was said.
    pub name: String,
    /// The words.
    pub text: String,
    /// When it was said, ms since the Unix epoch.
    pub created_at: u64,
    /// When it was last edited, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<u64>,
}

/// One direct message of a `chat.history`: a `direct` between two members, as the host keeps it
/// for both (the newest [`crate::KEPT_DIRECTS`] each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectLine {
    /// The sender's id for the message (the `id` of its `direct`).
    pub id: String,
    /// The sender's member id.
    pub from: String,
    /// The recipient's member id.
    pub to: String,
    /// The sender's payload, as sent.
    pub payload: serde_json::Value,
    /// When the host took it, ms since the Unix epoch.
    pub timestamp: u64,
}

/// One host notification of a `chat.history`: what its `notification` said, and whether this
/// member has read it (`mark_read`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryNotification {
    /// Its id (`n-<n>`), what `mark_read` names.
    pub id: String,
    /// One line.
    pub title: String,
    /// More, possibly empty.
    pub body: String,
    /// How much it matters.
    pub level: NotificationLevel,
    /// The host's member id.
    pub from: String,
    /// The host's name.
    pub name: String,
    /// Links the host attached; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<NotificationAction>,
    /// When the host sent it, ms since the Unix epoch.
    pub timestamp: u64,
    /// This member has read it; absent when not.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read: bool,
}

/// For `skip_serializing_if`: `false` is left out.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// For `skip_serializing_if`: a count of zero is left out.
pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A photo a guest shared (`photo.shared`, and the `photos` of a partyline/1 `welcome`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Photo {
    /// Its id (`u-…`, as the upload's answer said).
    pub id: String,
    /// Where to fetch it on the host (`/media/guests/…`, behind the media key).
    pub url: String,
    /// The name it was shared with (a label only; sanitised).
    pub name: String,
    /// The sharer's member id.
    pub from: String,
    /// The sharer's name at the time.
    pub from_name: String,
    /// When it was shared, server time in ms.
    pub timestamp: u64,
}
