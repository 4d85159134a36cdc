//! LAN discovery for Partyline: how phones and other desktops find a running session.
//!
//! # Layout
//!
//! - [`interfaces`]: which local address to offer: skips loopback, link-local and virtual
//!   interfaces, prefers the default route, honours `--interface NAME`.
//! - [`advertise`]: publishes a session as `_partyline._tcp.local.` on the chosen interfaces,
//!   coalesces TXT updates, follows address changes, says goodbye on shutdown.
//! - [`browse`]: finds other hosts' sessions and reports them as found / updated / lost.
//! - [`txt`]: the TXT record (`v`, `id`, `name`, `members`, `cap`, `locked`, `path`) and its
//!   decoding errors. The join key is never in it.
//! - [`join`]: the join URL (key in the `#k=` fragment) and its QR code for a terminal, SVG, PNG.
//! - [`error`]: the error type of advertising and browsing.
//!
//! Phones never use mDNS: they scan the QR code or type the URL. Browsing only helps other
//! desktops, so a network that blocks multicast breaks browsing and nothing else
//! (see `docs/troubleshooting.md`).

pub mod advertise;
pub mod browse;
pub mod error;
pub mod interfaces;
pub mod join;
pub mod txt;

pub use advertise::{Advertisement, Advertiser};
pub use browse::{BrowseEvent, Browser, SessionAd};
pub use error::Error;
pub use interfaces::{Candidate, InterfaceError, choose};
pub use join::{QrError, SvgSize, join_url, qr_png, qr_png_bytes, qr_svg, qr_terminal};
pub use txt::{REVISION_KEY, SERVICE_TYPE, SessionTxt, TxtError};
