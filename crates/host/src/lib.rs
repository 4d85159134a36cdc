//! The one API both front ends call: the `partyline` CLI and the desktop app start a host
//! through [`Host::start`], act on it through its methods, and receive the same typed
//! [`HostEvent`]s.
//!
//! # Layout
//! - [`Host`], [`HostConfig`], [`HostInfo`], [`HostError`]: this file. It wires the server
//!   (and LAN discovery) together and works out the URLs a guest uses; the protocol lives in
//!   the session crate and the sockets in the server crate.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub use partyline_protocol::{LeaveReason, MemberInfo, SessionState};
pub use partyline_server::{HostEvent, Limits, ServerError};
use partyline_server::{Server, ServerConfig, ServerHandle, generate_join_key, generate_room_code};
use partyline_session::Config as SessionConfig;
use tokio::sync::{broadcast, watch};

/// How to host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The party's name.
    pub name: String,
    /// The host's own member name (this computer).
    pub host_name: String,
    /// Address to listen on; `0.0.0.0` listens on every interface.
    pub bind: IpAddr,
    /// Port; 0 picks any free one.
    pub port: u16,
    /// Most members, the host not counted.
    pub max_members: u32,
    /// No join key: anyone on the network may join.
    pub open: bool,
    /// Resource limits.
    pub limits: Limits,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            name: "Partyline".into(),
            host_name: "Host".into(),
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            max_members: partyline_session::config::DEFAULT_MAX_MEMBERS,
            open: false,
            limits: Limits::default(),
        }
    }
}

/// What a guest needs to reach the party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// The session id.
    pub session_id: String,
    /// The party's name at start.
    pub name: String,
    /// The address actually bound.
    pub local_addr: SocketAddr,
    /// Where a phone opens the web client (no key).
    pub http_url: String,
    /// The WebSocket endpoint (no key).
    pub ws_url: String,
    /// The web client URL with the key in its fragment: what the QR code holds.
    pub join_url: String,
    /// The join key; `None` for an open host.
    pub join_key: Option<String>,
    /// The short code to type instead of scanning; `None` for an open host.
    pub room_code: Option<String>,
}

/// Why hosting failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The server could not start or act.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// A running party.
#[derive(Debug, Clone)]
pub struct Host {
    server: ServerHandle,
    info: HostInfo,
}

impl Host {
    /// Starts hosting.
    pub async fn start(config: HostConfig) -> Result<Host, HostError> {
        let (join_key, room_code) =
            if config.open { (None, None) } else { (Some(generate_join_key()), Some(generate_room_code())) };
        let session = SessionConfig {
            name: config.name.clone(),
            host_name: config.host_name.clone(),
            max_members: config.max_members,
            ..SessionConfig::default()
        };
        let server = Server::start(ServerConfig {
            bind: SocketAddr::new(config.bind, config.port),
            join_key: join_key.clone(),
            room_code: room_code.clone(),
            session,
            limits: config.limits,
        })
        .await?;
        let local_addr = server.local_addr();
        let reachable = reachable_addr(local_addr.ip());
        let authority = match reachable {
            IpAddr::V4(ip) => format!("{ip}:{}", local_addr.port()),
            IpAddr::V6(ip) => format!("[{ip}]:{}", local_addr.port()),
        };
        let http_url = format!("http://{authority}/");
        let join_url = match &join_key {
            Some(key) => format!("{http_url}#k={key}"),
            None => http_url.clone(),
        };
        let info = HostInfo {
            session_id: server.session_id().to_string(),
            name: config.name,
            local_addr,
            ws_url: format!("ws://{authority}/ws"),
            http_url,
            join_url,
            join_key,
            room_code,
        };
        Ok(Host { server, info })
    }

    /// The URLs, key and code.
    pub fn info(&self) -> &HostInfo {
        &self.info
    }

    /// The session now.
    pub fn state(&self) -> SessionState {
        self.server.state()
    }

    /// The session each time it changes (member count, name, lock, capacity).
    pub fn watch_state(&self) -> watch::Receiver<SessionState> {
        self.server.watch_state()
    }

    /// Typed events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<HostEvent> {
        self.server.subscribe()
    }

    /// Every member, the host first.
    pub async fn members(&self) -> Result<Vec<MemberInfo>, HostError> {
        Ok(self.server.members().await?)
    }

    /// Removes a member (it may not resume).
    pub async fn kick(&self, member_id: &str, reason: &str) -> Result<MemberInfo, HostError> {
        Ok(self.server.kick(member_id, reason).await?)
    }

    /// Locks or unlocks the party.
    pub async fn set_locked(&self, locked: bool) -> Result<(), HostError> {
        Ok(self.server.set_locked(locked).await?)
    }

    /// Sets the capacity.
    pub async fn set_capacity(&self, max_members: u32) -> Result<(), HostError> {
        Ok(self.server.set_capacity(max_members).await?)
    }

    /// Renames the party.
    pub async fn rename(&self, name: &str) -> Result<(), HostError> {
        Ok(self.server.rename(name).await?)
    }

    /// Ends the party: `session_closed` to everyone, then stop.
    pub async fn stop(&self) {
        self.server.shutdown(Some("Host ended the session")).await;
    }
}

/// The address to put in URLs. A host bound to every interface is reached on its LAN address;
/// until discovery picks one, loopback.
fn reachable_addr(bound: IpAddr) -> IpAddr {
    if bound.is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { bound }
}
