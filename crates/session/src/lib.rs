//! The sans-IO heart of a Partyline host: one session's members, heartbeats, latency, resume
//! windows and host actions, as a state machine.
//!
//! It contains no networking code and never reads a clock: every call that can change state
//! takes `now` ([`Time`]), and everything it wants done comes back out of the `poll_*` methods.
//! That makes a 15-second heartbeat timeout a test that runs in microseconds.
//!
//! # Layout
//! - [`session`]: [`Session`], the state machine. Its methods come in quinn-proto's four
//!   families, in this order: getters; `handle_*(now, ..)` for what came in; host actions
//!   (mutators); `poll_transmit` / `poll_event` / `poll_timeout` for what goes out. It is a
//!   conductor over parts, each an `impl Session` of its own: the roster (members, connections,
//!   probes), messaging, playback (the glue to `syncplay`) and the fan-out.
//! - [`member`]: one member's state.
//! - [`chat`]: the party's kept chat lines, for edits and deletions.
//! - [`direct`]: the party's kept direct messages, per member, for a member back from an
//!   absence or a restart.
//! - [`log`]: the party's log of sequenced messages, appended once each, from which a resume's
//!   replay is derived.
//! - [`durable`]: what of a party outlives the host's process: the changes the session
//!   journals ([`Durable`], `Session::poll_durable`) and the [`Record`] `Session::restore`
//!   rebuilds it from.
//! - [`config`]: [`Config`], every tunable with its default and the reason for it.
//! - [`limit`]: [`TokenBucket`], the per-connection rate limiter the I/O layer applies.
//! - [`ids`]: random ids and secrets.
//! - [`library`]: [`Library`], the shared items as members page and search them.
//! - [`syncplay`]: [`SyncPlay`], the group's playback state (play, pause, seek, queue, the
//!   ready barrier), scheduled ahead on the host's clock.

pub mod chat;
pub mod config;
pub mod direct;
pub mod durable;
pub mod ids;
pub mod library;
pub mod limit;
pub mod log;
pub mod member;
pub mod session;
pub mod syncplay;

pub use chat::ChatLine;
pub use config::Config;
pub use direct::KeptDirect;
pub use durable::{Durable, MemberRecord, PartyRecord, PlayRecord, Record};
pub use library::Library;
pub use limit::TokenBucket;
pub use session::{
    Arrival, Author, Ban, ConnId, Event, MemberSync, Peer, Session, SessionError, Transmit, VoiceChange,
};
pub use syncplay::{Actor, Change, PlayError, QueueChange, SyncPlay};

/// The host's one clock: microseconds since the Unix epoch. The I/O layer derives it from a
/// monotonic clock anchored to the wall clock at start, so it never jumps backwards, and every
/// timestamp the session sends (LOUDSYNC's milliseconds, the pong's microseconds) is on it.
pub type Time = u64;

/// One second in [`Time`] units.
pub const SECOND: Time = 1_000_000;

/// One millisecond in [`Time`] units.
pub const MILLISECOND: Time = 1_000;
