//! Session settings, each default with its reason.

use crate::{SECOND, Time};

/// How a session behaves. `Config::default()` is LOUDSYNC's timing.
#[derive(Debug, Clone)]
pub struct Config {
    /// The session id; `None` picks a random six-character one.
    pub session_id: Option<String>,
    /// The session's display name.
    pub name: String,
    /// The display name of the host's own member.
    pub host_name: String,
    /// The most members, not counting the host.
    pub max_members: u32,
    /// How often clients should heartbeat. LOUDSYNC: 5 s.
    pub heartbeat_interval: Time,
    /// How long without a heartbeat before a member is closed. LOUDSYNC: 15 s, three intervals,
    /// so one lost heartbeat never costs a member its place.
    pub heartbeat_timeout: Time,
    /// How long a new connection may take to send `join`. The heartbeat timeout again: a client
    /// that cannot join in that long is not going to.
    pub join_timeout: Time,
    /// How long a dropped extension member keeps its place (and a full party still gives that
    /// place to a new guest first). Fifteen minutes: a phone locked in a pocket through a few
    /// songs, a walk to the shop, comes back as the same member with what it missed.
    pub resume_window: Time,
    /// How often the server measures each member's round trip with a WebSocket ping. The
    /// heartbeat interval: fresh enough to show, cheap enough for thousands of members.
    pub probe_interval: Time,
    /// How many sequenced messages the party's log keeps for resume, shared by every member
    /// (each message is kept once, whoever its recipients). 4,096: at a busy party's ten
    /// broadcasts a second, seven minutes; a longer absence gets a fresh `welcome` with the
    /// chat's history instead.
    pub replay_capacity: usize,
    /// The most bytes of messages the party's log keeps: 16 MiB whatever the number of members,
    /// the bound on what resume costs the host.
    pub replay_log_bytes: usize,
    /// The most bytes the log keeps for one member alone (`direct`s, acks): past it, those are
    /// dropped and the member's resume gets a snapshot. 256 KiB is a long absence's worth of
    /// private messages, and 32 maximal `direct`s: nobody can fill the party's log through one
    /// member that is away.
    pub replay_bytes: usize,
    /// The most members (connected or reconnecting) whose connections come from one address.
    /// The same 32 as the server's WebSocket connections per address (the server sets it from
    /// that limit): a household behind one NAT fits, and one address cannot take a party's places.
    pub max_members_per_addr: usize,
    /// How long a Together or Pavilion member may send nothing before it is closed: seed 002
    /// closes "a client silent for three intervals" of 30 s, seed 004 after "90 seconds".
    pub silence_timeout: Time,
    /// How often Pavilion members get the server's `heartbeat` (seed 004: "every 30 seconds").
    pub server_heartbeat_interval: Time,
    /// Chat lines kept for editing and deleting: a few hours of a lively party's chat (a line a
    /// few hundred bytes: under a megabyte).
    pub chat_lines: usize,
    /// Whether the session journals its durable changes for a store (`Session::poll_durable`).
    /// Off for a party kept in memory only: nothing would drain the journal.
    pub durable: bool,
}

/// The highest capacity a host may set: the benchmarks carry 10,000 members on two cores.
pub const MAX_CAPACITY: u32 = 10_000;

/// The default capacity: a big party, far below what one host carries.
pub const DEFAULT_MAX_MEMBERS: u32 = 100;

impl Default for Config {
    fn default() -> Self {
        Config {
            session_id: None,
            name: "Partyline".into(),
            host_name: "Host".into(),
            max_members: DEFAULT_MAX_MEMBERS,
            heartbeat_interval: 5 * SECOND,
            heartbeat_timeout: 15 * SECOND,
            join_timeout: 15 * SECOND,
            resume_window: 15 * 60 * SECOND,
            probe_interval: 5 * SECOND,
            replay_capacity: 4096,
            replay_log_bytes: 16 * 1024 * 1024,
            replay_bytes: 256 * 1024,
            max_members_per_addr: 32,
            silence_timeout: 90 * SECOND,
            server_heartbeat_interval: 30 * SECOND,
            chat_lines: 2000,
            durable: false,
        }
    }
}
