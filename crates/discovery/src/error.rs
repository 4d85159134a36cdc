//! The error type of advertising and browsing.

use std::net::IpAddr;

use thiserror::Error;

use crate::interfaces::InterfaceError;
use crate::txt::TxtError;

/// Why an advertisement or a browse could not start or go on.
#[derive(Debug, Error)]
pub enum Error {
    /// The mDNS daemon (mdns-sd) refused a command or could not start.
    #[error("mDNS: {0}")]
    Mdns(#[from] mdns_sd::Error),
    /// The advertisement names no address to publish.
    #[error("advertisement has no addresses; pass at least one from interfaces::choose")]
    NoAddresses,
    /// Port 0 is not a port a phone can connect to: the listener's real port must be advertised.
    #[error("advertisement port is 0; advertise the port the server actually bound")]
    PortZero,
    /// The instance name is empty after trimming.
    #[error("advertisement instance name is empty")]
    EmptyInstanceName,
    /// An address to advertise is not on any local interface, so no interface can carry it.
    #[error("{addr} is not an address of this machine (have: {})", have.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    AddrNotLocal {
        /// The address asked for.
        addr: IpAddr,
        /// The addresses this machine has.
        have: Vec<IpAddr>,
    },
    /// The TXT record could not be built.
    #[error("TXT record: {0}")]
    Txt(#[from] TxtError),
    /// The interface list could not be read.
    #[error(transparent)]
    Interfaces(#[from] InterfaceError),
    /// A background thread could not be spawned.
    #[error("cannot spawn the {what} thread: {source}")]
    Spawn {
        /// Which thread.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The advertiser's background thread has stopped (it was shut down, or it panicked).
    #[error("the advertiser has stopped")]
    Stopped,
}
