// The wire contract, generated from crates/protocol and partyline_session::Config by
// crates/session/tests/wire_js.rs: do not edit. After a change on the Rust side:
// UPDATE_WIRE_JS=1 nice -n 10 cargo test -p partyline-session --test wire_js
// docs/protocol.md says what each value means.

/** WebSocket close codes. */
export const CLOSE = Object.freeze({
  NORMAL: 1000,
  MESSAGE_TOO_BIG: 1009,
  UNAUTHORIZED: 4001,
  TOO_SLOW: 4008,
  REPLACED: 4009,
  KICKED: 4010,
  SESSION_CLOSED: 4011,
  HEARTBEAT_TIMEOUT: 4012,
  JOIN_TIMEOUT: 4013,
  RATE_LIMITED: 4029,
});

/** `protocolVersion` values; `supported` in the order the host lists them. */
export const VERSIONS = Object.freeze({
  loudsync: "1.0",
  partyline: "partyline/1",
  supported: Object.freeze(["1.0", "partyline/1"]),
});

/** Limits: `*Chars` in code points (`[...text].length`), `*Bytes` in UTF-8 bytes. */
export const LIMITS = Object.freeze({
  maxMessageBytes: 65536,
  maxChatChars: 1000,
  maxPayloadBytes: 8192,
  maxMessageIdChars: 64,
  maxTopics: 32,
  maxTopicChars: 64,
  maxPresenceChars: 64,
  maxSignalBytes: 16384,
  maxTitleChars: 100,
  maxMarkReadIds: 100,
  maxNameChars: 64,
  maxCapacity: 10000,
  libraryPageItems: 100,
  maxLibraryQueryChars: 100,
});

/** The host's timing defaults, in milliseconds (a `hello` may announce others). */
export const TIMING = Object.freeze({
  heartbeatInterval: 5000,
  heartbeatTimeout: 15000,
  joinTimeout: 15000,
  resumeWindow: 900000,
  probeInterval: 5000,
});

/** The `code` of a server `error`. */
export const ERROR = Object.freeze({
  SESSION_NOT_FOUND: "session_not_found",
  SESSION_FULL: "session_full",
  ALREADY_JOINED: "already_joined",
  INVALID_MESSAGE: "invalid_message",
  UNAUTHORIZED: "unauthorized",
  VERSION_MISMATCH: "version_mismatch",
  RATE_LIMITED: "rate_limited",
  MESSAGE_TOO_LARGE: "message_too_large",
  RESUME_FAILED: "resume_failed",
  RECIPIENT_UNAVAILABLE: "recipient_unavailable",
  INVALID_SUBSCRIPTION: "invalid_subscription",
});

/** An `error`'s `details.reason` values, and the `reason` of a `leave` that names none. */
export const REASON = Object.freeze({
  LOCKED: "locked",
  OLD_KEY: "old_key",
  BANNED: "banned",
  BAD_KEY: "bad_key",
  SYNCPLAY: "syncplay",
  ADDRESS_LIMIT: "address_limit",
  TOO_MANY_TOPICS: "too_many_topics",
  EXTENSION_ONLY: "extension_only",
  NOT_JOINED: "not_joined",
  ALREADY_JOINED: "already_joined",
  UNKNOWN_MEMBER: "unknown_member",
  LOUDSYNC_CLIENT: "loudsync_client",
  RECONNECTING: "reconnecting",
  UNKNOWN_SESSION: "unknown session",
  RESUME_UNKNOWN_MEMBER: "unknown member",
  WRONG_SECRET: "wrong secret",
  OTHER_FORMAT: "other_format",
  NOT_IN_VOICE: "not_in_voice",
  NOT_YOURS: "not_yours",
  NO_SUCH_LINE: "no_such_line",
  NO_SUCH_ROOM: "no_such_room",
  BAD_CHAT: "bad_chat",
  DEFAULT_LEAVE: "User exited session",
});

/** Every `type` a client may send. */
export const CLIENT_TYPES = Object.freeze(["join", "leave", "heartbeat", "ping", "resume", "chat", "chat.edit", "chat.delete", "direct", "subscribe", "unsubscribe", "broadcast", "presence", "voice.signal", "mark_read", "rename", "syncplay.command", "playback.progress", "library.query"]);

/** Every `type` the server sends. */
export const SERVER_TYPES = Object.freeze(["welcome", "hello", "member_list", "member_joined", "member_left", "member_updated", "latency_update", "session_updated", "chat", "chat.edited", "chat.deleted", "voice.state", "direct", "direct_ack", "subscriptions", "broadcast", "broadcast_ack", "presence_update", "voice.signal", "notification", "kicked", "session_closed", "pong", "error", "syncplay.state", "syncplay.queue", "library.update", "remote.command", "resumed", "photo.shared", "ack", "chat.history", "library.page"]);
