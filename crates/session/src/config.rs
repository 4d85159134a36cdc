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
    /// How long a dropped extension member keeps its place. Two minutes covers a phone that
    /// locks its screen for a song, or walks out of Wi-Fi range to the kitchen and back.
    pub resume_window: Time,
    /// How often the server measures each member's round trip with a WebSocket ping. The
    /// heartbeat interval: fresh enough to show, cheap enough for thousands of members.
    pub probe_interval: Time,
    /// How many sequenced messages each extension member keeps for resume. At a busy party's
    /// few messages a second, 512 covers the whole resume window; the messages themselves are
    /// shared with every other member's buffer, so each entry costs a pointer and a number.
    pub replay_capacity: usize,
    /// The most bytes one member's replay buffer keeps. 256 KiB holds the whole resume window
    /// of a busy party's chat (a few hundred bytes a message) and bounds what anyone can make
    /// the host hold for a member that is away: 32 maximal `direct`s, not 512.
    pub replay_bytes: usize,
    /// The most bytes all replay buffers together keep (counting a shared frame once per
    /// buffer, so the true figure is lower). Past it, the largest buffer of a reconnecting
    /// member (else the largest one) is dropped; that member resumes with a snapshot.
    /// 64 MiB: 256 KiB for each of 256 members, and a fixed ceiling for 10,000.
    pub replay_total_bytes: usize,
    /// The most members (connected or reconnecting) whose connections come from one address.
    /// The same 32 as the server's WebSocket connections per address: a household behind one
    /// NAT fits, and one address cannot take a party's places.
    pub max_members_per_addr: usize,
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
            resume_window: 120 * SECOND,
            probe_interval: 5 * SECOND,
            replay_capacity: 512,
            replay_bytes: 256 * 1024,
            replay_total_bytes: 64 * 1024 * 1024,
            max_members_per_addr: 32,
        }
    }
}
