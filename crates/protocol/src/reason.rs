//! The `details.reason` of an `error`, for codes with several causes a client tells apart, and
//! the `reason` of a `leave` that names none. Each is defined here once: the session and the
//! server send these, `ui/shared/wire.js` is generated from them, and clients compare with them.

/// `unauthorized`: the host locked the party; a join is refused until it unlocks.
pub const LOCKED: &str = "locked";
/// `unauthorized`: the join key was replaced (the host made a new one); a resume still works.
pub const OLD_KEY: &str = "old_key";
/// `unauthorized`: the host banned this device; a join is refused until it lifts the ban (then
/// close 4010).
pub const BANNED: &str = "banned";
/// `unauthorized`: the join key is wrong or missing (then close 4001).
pub const BAD_KEY: &str = "bad_key";
/// `unauthorized` (a member may not control playback) or `invalid_message` (an unknown item or
/// entry): a `syncplay.command` was refused, and the connection goes on.
pub const SYNCPLAY: &str = "syncplay";
/// `session_full`: the address already holds its most members.
pub const ADDRESS_LIMIT: &str = "address_limit";
/// `invalid_message`: a `subscribe` past the most topics one member may hold.
pub const TOO_MANY_TOPICS: &str = "too_many_topics";
/// `invalid_message`: an extension message from a LOUDSYNC 1.0 client.
pub const EXTENSION_ONLY: &str = "extension_only";
/// `invalid_message`: a message that needs a `join` first.
pub const NOT_JOINED: &str = "not_joined";
/// `invalid_message`: a `join` or `resume` over a connection that has already joined.
pub const ALREADY_JOINED: &str = "already_joined";
/// `recipient_unavailable`: no member has that id.
pub const UNKNOWN_MEMBER: &str = "unknown_member";
/// `recipient_unavailable`: the member uses a LOUDSYNC 1.0 client, which knows no such message.
pub const LOUDSYNC_CLIENT: &str = "loudsync_client";
/// `recipient_unavailable`: the member is reconnecting (a `voice.signal` is not buffered).
pub const RECONNECTING: &str = "reconnecting";
/// `resume_failed`: the resume names another session.
pub const UNKNOWN_SESSION: &str = "unknown session";
/// `resume_failed`: no member has that id (it left, was kicked, or its window passed).
pub const RESUME_UNKNOWN_MEMBER: &str = "unknown member";
/// `resume_failed`: the secret is not the member's.
pub const WRONG_SECRET: &str = "wrong secret";

/// The `reason` a `leave` carries when the user gave none: the words of LOUDSYNC's example.
pub const DEFAULT_LEAVE: &str = "User exited session";

/// `recipient_unavailable`: the member's client has no such message (a Pavilion client gets
/// no voice signal, a Together one no direct message).
pub const OTHER_FORMAT: &str = "other_format";
/// `recipient_unavailable`: a Together voice signal to a member outside the sender's voice
/// channel.
pub const NOT_IN_VOICE: &str = "not_in_voice";
/// `unauthorized`: a `chat.edit` or `chat.delete` of another member's line.
pub const NOT_YOURS: &str = "not_yours";
/// `invalid_message`: a `chat.edit` or `chat.delete` of a line the host does not keep.
pub const NO_SUCH_LINE: &str = "no_such_line";
/// `invalid_message`: a `chat` in a room the party does not have.
pub const NO_SUCH_ROOM: &str = "no_such_room";
/// `invalid_message`: an empty or overlong chat line.
pub const BAD_CHAT: &str = "bad_chat";
