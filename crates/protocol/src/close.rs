//! WebSocket close codes. 1000–1015 are RFC 6455's; 4000–4999 are ours to define
//! (seed 002 already uses 4001 for a failed authentication, so we keep that one).

/// A normal close: the client sent `leave`.
pub const NORMAL: u16 = 1000;
/// The server is going away (RFC 6455): what Together and Pavilion clients get when the host
/// closes the party (seed 002: "1001 Server going away").
pub const GOING_AWAY: u16 = 1001;
/// A policy violation (RFC 6455): a kick, or a flood, for formats with no code of their own.
pub const POLICY: u16 = 1008;
/// The client sent a message over [`crate::MAX_MESSAGE_BYTES`] (RFC 6455 "message too big").
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// Wrong or missing join key. The same code seed 002 uses, so such clients already know it.
pub const UNAUTHORIZED: u16 = 4001;
/// Seed 002's "Invalid message format (malformed JSON or unknown opcode)": a Together client's
/// bad frame (the other formats answer with an error message and stay open).
pub const MALFORMED: u16 = 4002;
/// The member's outbound queue overflowed: it could not keep up, and nobody else waits for it.
pub const TOO_SLOW: u16 = 4008;
/// The same device joined or resumed on another connection; this one is no longer used.
pub const REPLACED: u16 = 4009;
/// The host kicked this member.
pub const KICKED: u16 = 4010;
/// The host closed the session.
pub const SESSION_CLOSED: u16 = 4011;
/// No heartbeat within the timeout (15 s).
pub const HEARTBEAT_TIMEOUT: u16 = 4012;
/// The connection sent no `join` (or `resume`) within the join timeout.
pub const JOIN_TIMEOUT: u16 = 4013;
/// The connection kept flooding after being told it was rate limited.
pub const RATE_LIMITED: u16 = 4029;
