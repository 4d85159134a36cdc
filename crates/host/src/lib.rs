//! The one API both front ends call: the `partyline` CLI and the desktop app start a host
//! through [`Host::start`], act on it through its methods, and receive the same typed
//! [`HostEvent`]s.
//!
//! # Layout
//! - [`Host`], [`HostConfig`], [`HostInfo`], [`HostError`], [`Lagged`]: this file. It wires the server
//!   and LAN discovery together: picks the addresses a guest can reach, builds their join URLs,
//!   advertises the session over mDNS and keeps its TXT record current. The protocol lives in
//!   the session crate, the sockets in the server crate, mDNS in the discovery crate.
//! - [`browse`]: other hosts' sessions on the LAN (re-exported from the discovery crate).
//! - [`join`]: joining another host as a member: address → WebSocket URL (room code → key).
//! - [`network`]: the addresses guests can reach, re-read while the party goes on, so the QR code
//!   follows the network ([`Host::watch_addresses`]).
//!
//! # One shape for each thing a front end shows
//! [`HostInfo`] and [`HostEvent`] serialize to the JSON both front ends emit: `partyline host
//! --json` prints the info, then one event a line; the desktop sends its web view the same objects
//! (its events with a `generation` added). An event is an object whose `event` field names it
//! (`member_joined`, ...), other fields camelCase; a subscriber that fell behind gets [`Lagged`]
//! (`{"event": "lagged", "skipped": 3}`) from [`next_event`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use partyline_discovery::{Advertisement, Advertiser, SessionTxt};
pub use partyline_discovery::{BrowseEvent, Browser, SessionAd, SvgSize, qr_png, qr_png_bytes, qr_svg, qr_terminal};
use tracing::warn;

pub mod join;
pub mod network;

pub use network::{NO_NETWORK_WARNING, NetworkChanged};

/// Browsing other sessions on the LAN.
pub mod browse {
    pub use partyline_discovery::{BrowseEvent, Browser, SessionAd, SessionTxt};
}
pub use partyline_protocol::Photo;
pub use partyline_protocol::{GroupState, LibraryItem, Permissions, PlayState};
pub use partyline_protocol::{
    LeaveReason, MemberInfo, NotificationAction, NotificationLevel, PresenceStatus, Room, RoomKind, SessionState,
};
pub use partyline_server::media::Cover;
pub use partyline_server::store::StoreError;
pub use partyline_server::{HostEvent, LibraryPage, Limits, PlayCommand, Playback, ServerError, UploadPolicy};
use partyline_server::{Server, ServerConfig, ServerHandle, generate_join_key, generate_room_code};
use partyline_session::Config as SessionConfig;
pub use partyline_session::{Ban, ChatLine, MemberSync, PlayError, SessionError};
use serde::Serialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
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
    /// The network interface guests use (`--interface`); `None` picks the best.
    pub interface: Option<String>,
    /// Advertise the session over mDNS so other desktops find it.
    pub mdns: bool,
    /// A folder of music or video to share for SyncPlay.
    pub media: Option<std::path::PathBuf>,
    /// What guests may share from their phones (songs, photos): on or off, the per-file limit,
    /// the total kept, where ([`Host::set_uploads`] switches it while the party goes on).
    pub uploads: UploadPolicy,
    /// The party's file ([`default_party_file`] for the user's own): with one, the party
    /// outlives the process, and a start picks up the party the file holds (its session, key,
    /// room code, port, folder, members, chat, queue) instead of making a new one; the name,
    /// capacity and keys above then give way to the stored ones. `None`: in memory only.
    pub store: Option<PathBuf>,
    /// End the party the file holds for good and start a new one (`--new-party`).
    pub new_party: bool,
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
            interface: None,
            mdns: true,
            media: None,
            uploads: UploadPolicy::default(),
            store: None,
            new_party: false,
        }
    }
}

/// The user's own party file: `party.db` in Partyline's folder of the user's data directory
/// (`~/.local/share/partyline` on Linux); `None` when the system names no data directory.
pub fn default_party_file() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join("partyline").join("party.db"))
}

/// One address guests may use, with its URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinAddress {
    /// The interface that holds it (`wlan0`), or `bound` when the host was bound to it.
    pub interface: String,
    /// The address.
    pub addr: IpAddr,
    /// The web client URL with the key in its fragment.
    pub join_url: String,
}

/// What a guest needs to reach the party. Serialized (camelCase) it is `partyline host --json`'s
/// first line and the heart of the desktop's host screen; `sessionId` and `name` are named as in
/// `/api/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostInfo {
    /// The session id.
    pub session_id: String,
    /// The party's name at start.
    pub name: String,
    /// The address actually bound.
    pub local_addr: SocketAddr,
    /// The port guests use (the bound one).
    pub port: u16,
    /// Where a phone opens the web client (no key).
    pub http_url: String,
    /// The WebSocket endpoint (no key).
    pub ws_url: String,
    /// Each wire format's WebSocket URL (no key), by format: `partyline` (LOUDSYNC 1.0 and
    /// partyline/1, the same as `ws_url`), `together`, `pavilion`, `rt`.
    pub endpoints: std::collections::BTreeMap<String, String>,
    /// The web client URL with the key in its fragment: what the QR code holds.
    pub join_url: String,
    /// The join key; `None` for an open host.
    pub join_key: Option<String>,
    /// The short code to type instead of scanning; `None` for an open host.
    pub room_code: Option<String>,
    /// Every address guests may use, best first. The URLs above are the first's, or the one
    /// [`HostInfo::via`] chose.
    pub addresses: Vec<JoinAddress>,
    /// Whether the session is being advertised over mDNS.
    pub advertised: bool,
    /// Things the user should know (no LAN address found, mDNS failed to start).
    pub warnings: Vec<String>,
    /// Whether the party was picked up from its file (the host restarted) rather than new; in
    /// the JSON only when true (`"restored": true`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub restored: bool,
    /// No address guests can reach: the URLs are on loopback, [`NO_NETWORK_WARNING`] is among
    /// the warnings, and the host keeps looking ([`Host::watch_addresses`]); in the JSON only
    /// when true (`"noNetwork": true`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_network: bool,
}

impl HostInfo {
    /// The same info with its URLs on `addr`, one of [`HostInfo::addresses`] (a front end's
    /// address picker); `None` when `addr` is not one of them.
    pub fn via(&self, addr: IpAddr) -> Option<HostInfo> {
        let chosen = self.addresses.iter().find(|a| a.addr == addr)?;
        let (http_url, ws_url) = urls(addr, self.port);
        let endpoints = endpoints(addr, self.port);
        Some(HostInfo { http_url, ws_url, endpoints, join_url: chosen.join_url.clone(), ..self.clone() })
    }
}

/// Events a subscriber missed because it read too slowly: it should re-read what it shows
/// (the members). Serializes as `{"event": "lagged", "skipped": 3}`, beside [`HostEvent`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename = "lagged")]
pub struct Lagged {
    /// How many.
    pub skipped: u64,
}

/// The next event for a subscriber: `None` once the host is gone; `Err(Lagged)` when events were
/// dropped because it fell behind (the channel keeps the newest).
pub async fn next_event(events: &mut broadcast::Receiver<HostEvent>) -> Option<Result<HostEvent, Lagged>> {
    match events.recv().await {
        Ok(event) => Some(Ok(event)),
        Err(RecvError::Lagged(skipped)) => Some(Err(Lagged { skipped })),
        Err(RecvError::Closed) => None,
    }
}

/// [`next_event`] without waiting: `None` when nothing is queued (or the host is gone).
pub fn try_next_event(events: &mut broadcast::Receiver<HostEvent>) -> Option<Result<HostEvent, Lagged>> {
    match events.try_recv() {
        Ok(event) => Some(Ok(event)),
        Err(TryRecvError::Lagged(skipped)) => Some(Err(Lagged { skipped })),
        Err(TryRecvError::Empty | TryRecvError::Closed) => None,
    }
}

/// Why hosting failed, or why the host refused an action.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The server could not start or act.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The interface asked for does not exist or has no usable address.
    #[error(transparent)]
    Interface(#[from] partyline_discovery::InterfaceError),
    /// A SyncPlay command a member could not send either: a negative or non-finite position, a
    /// rate outside 0.5 to 2.
    #[error("{0}")]
    BadCommand(&'static str),
    /// A volume outside 0 to 1.
    #[error("a volume is 0 to 1 (0 to 100%), not {0}")]
    BadVolume(f64),
}

/// The reason a kicked guest is shown when the host gives none: LOUDSYNC's own example.
pub const DEFAULT_KICK_REASON: &str = "Host removed you from the session";

/// A running party.
#[derive(Debug, Clone)]
pub struct Host {
    server: ServerHandle,
    /// Changed by [`Host::new_key`] (the key, the code, the join URLs); nothing else changes it.
    info: Arc<Mutex<HostInfo>>,
    /// Taken (and said goodbye to) on stop.
    advertiser: Arc<Mutex<Option<Advertiser>>>,
    /// The addresses each time they change ([`network`]).
    addresses: watch::Receiver<NetworkChanged>,
    /// Set on stop: the address follower ends.
    stopping: Arc<watch::Sender<bool>>,
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
            join_key,
            room_code,
            session,
            limits: config.limits,
            media: config.media,
            uploads: config.uploads,
            store: config.store,
            new_party: config.new_party,
        })
        .await?;
        // A restored party keeps its own key, code and name.
        let (join_key, room_code) = (server.join_key(), server.room_code());
        let local_addr = server.local_addr();
        let port = local_addr.port();
        // A host bound to one address is reached there alone, whatever the interfaces are.
        let chosen = match local_addr.ip().is_unspecified() {
            true => partyline_discovery::choose(config.interface.as_deref()),
            false => Ok(Vec::new()),
        };
        let offer = match network::offer(local_addr.ip(), chosen) {
            Ok(offer) => offer,
            Err(err) => {
                server.shutdown(None).await;
                return Err(err.into());
            }
        };
        if let Some(why) = &offer.no_network {
            warn!(why = %why, "no LAN address yet; the URLs are on loopback until one appears");
        }
        let state = server.state();
        let mut info = HostInfo {
            session_id: server.session_id().to_string(),
            name: state.name.clone(),
            local_addr,
            port,
            http_url: String::new(),
            ws_url: String::new(),
            endpoints: Default::default(),
            join_url: String::new(),
            join_key,
            room_code,
            addresses: Vec::new(),
            advertised: false,
            warnings: Vec::new(),
            restored: server.restored(),
            no_network: false,
        };
        network::apply(&mut info, &offer);
        let mut advertiser = None;
        if config.mdns {
            // mDNS advertises exactly where guests can reach us.
            let addrs = info.addresses.iter().map(|a| a.addr).collect();
            let ad = Advertisement { instance_name: state.name.clone(), port, addrs, txt: txt(&state) };
            match Advertiser::start(ad) {
                Ok(started) => advertiser = Some(started),
                Err(err) => {
                    warn!(cause = %err, "mDNS advertising failed; the QR code and URL still work");
                    info.warnings.push(format!("not advertised on the LAN ({err}); the QR code and URL still work"));
                }
            }
        }
        info.advertised = advertiser.is_some();
        let advertiser = Arc::new(Mutex::new(advertiser));
        if config.mdns {
            tokio::spawn(keep_txt_current(server.watch_state(), advertiser.clone()));
        }
        let addresses = NetworkChanged { addresses: info.addresses.clone(), no_network: info.no_network };
        let (changes, addresses) = watch::channel(addresses);
        let (stopping, stop) = watch::channel(false);
        let info = Arc::new(Mutex::new(info));
        // A host bound to one address is reached there alone: nothing to follow.
        if local_addr.ip().is_unspecified() {
            tokio::spawn(network::follow(network::Following {
                bound: local_addr.ip(),
                interface: config.interface.clone(),
                info: info.clone(),
                advertiser: config.mdns.then(|| advertiser.clone()),
                state: server.watch_state(),
                changes,
                stop,
            }));
        }
        Ok(Host { server, info, advertiser, addresses, stopping: Arc::new(stopping) })
    }

    /// The URLs, key and code now.
    pub fn info(&self) -> HostInfo {
        match self.info.lock() {
            Ok(info) => info.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A new join key and room code while the party goes on, on the same port and with every
    /// member still there: the old QR code and room code stop letting anyone join (a member
    /// whose phone reconnects with the old key still resumes). Returns the new info (its join
    /// URLs, for the QR code). An open host has no key: an error.
    pub fn new_key(&self) -> Result<HostInfo, HostError> {
        let (key, code) = self.server.new_key()?;
        let mut info = match self.info.lock() {
            Ok(info) => info,
            Err(poisoned) => poisoned.into_inner(),
        };
        let port = info.local_addr.port();
        for address in &mut info.addresses {
            address.join_url = partyline_discovery::join_url(address.addr, port, Some(&key));
        }
        info.join_url = info.addresses[0].join_url.clone();
        info.join_key = Some(key);
        info.room_code = Some(code);
        Ok(info.clone())
    }

    /// The session now.
    pub fn state(&self) -> SessionState {
        self.server.state()
    }

    /// The session each time it changes (member count, name, lock, capacity).
    pub fn watch_state(&self) -> watch::Receiver<SessionState> {
        self.server.watch_state()
    }

    /// The addresses guests can reach each time they change (a network joined or left after
    /// the start, a new lease): [`Host::info`] already has the new join URLs, so a front end
    /// redraws its QR code from it. Checked every [`network::NETWORK_POLL`]; a host bound to one
    /// address never changes.
    pub fn watch_addresses(&self) -> watch::Receiver<NetworkChanged> {
        self.addresses.clone()
    }

    /// Typed events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<HostEvent> {
        self.server.subscribe()
    }

    /// Every member, the host first.
    pub async fn members(&self) -> Result<Vec<MemberInfo>, HostError> {
        Ok(self.server.members().await?)
    }

    /// Removes a member (it may not resume), telling it `reason` ([`DEFAULT_KICK_REASON`] when
    /// the host gives none).
    pub async fn kick(&self, member_id: &str, reason: &str) -> Result<MemberInfo, HostError> {
        Ok(self.server.kick(member_id, reason).await?)
    }

    /// Kicks a member (as [`Host::kick`]) and bans its device: it cannot join again until
    /// [`Host::unban`].
    pub async fn ban(&self, member_id: &str, reason: &str) -> Result<MemberInfo, HostError> {
        Ok(self.server.ban(member_id, reason).await?)
    }

    /// Lifts the ban on a device (its id as [`Host::bans`] lists it).
    pub async fn unban(&self, device_id: &str) -> Result<Ban, HostError> {
        Ok(self.server.unban(device_id).await?)
    }

    /// The devices turned away, oldest ban first.
    pub async fn bans(&self) -> Result<Vec<Ban>, HostError> {
        Ok(self.server.bans().await?)
    }

    /// Locks or unlocks the party; answers with the session after the change, which is already
    /// visible to [`Host::state`] and the members.
    pub async fn set_locked(&self, locked: bool) -> Result<SessionState, HostError> {
        Ok(self.server.set_locked(locked).await?)
    }

    /// Sets the capacity.
    pub async fn set_capacity(&self, max_members: u32) -> Result<SessionState, HostError> {
        Ok(self.server.set_capacity(max_members).await?)
    }

    /// Renames the party.
    pub async fn rename(&self, name: &str) -> Result<SessionState, HostError> {
        Ok(self.server.rename(name).await?)
    }

    /// A SyncPlay command (play, pause, seek, next, previous, rate, queue, start anyway). It
    /// passes the check a member's `syncplay.command` passes (the session core trusts the host's
    /// commands), so no front end checks positions or rates of its own.
    pub async fn syncplay(&self, command: PlayCommand) -> Result<(), HostError> {
        check_play(&command)?;
        Ok(self.server.syncplay(command).await?)
    }

    /// Test hook: the host's clock jumps `by` forward, as if that long had passed at once; returns
    /// once the session has run every timer now due (connections whose heartbeats now look late
    /// are closed, and their phones resume). For tests of long absences with real phones
    /// (`partyline host`'s `advance <seconds>` under `PARTYLINE_TEST_CLOCK=1`); a host never
    /// needs it.
    pub async fn skip_time(&self, by: std::time::Duration) -> Result<(), HostError> {
        Ok(self.server.skip_time(by).await?)
    }

    /// Lets members control playback and/or the queue.
    pub async fn set_permissions(&self, permissions: Permissions) -> Result<(), HostError> {
        Ok(self.server.set_permissions(permissions).await?)
    }

    /// A notification to every phone that joined with the extensions (`notification`); returns
    /// its id. A member's `mark_read` comes back as [`HostEvent::NotificationsRead`].
    pub async fn notify(&self, title: &str, body: &str, level: NotificationLevel) -> Result<String, HostError> {
        Ok(self.server.notify(title, body, level).await?)
    }

    /// A notification with links attached: at most three `{label, url}`, each URL http(s)
    /// (a phone shows them as links; seed 001 clients get them as `actions`).
    pub async fn notify_with_actions(
        &self,
        title: &str,
        body: &str,
        level: NotificationLevel,
        actions: Vec<NotificationAction>,
    ) -> Result<String, HostError> {
        Ok(self.server.notify_with_actions(title, body, level, actions).await?)
    }

    /// Deletes any chat line the party still keeps (moderation): every member is told in its
    /// format (`chat.deleted`, Together's `MESSAGE_DELETE`) and subscribers get
    /// [`HostEvent::ChatDeleted`]. Returns the line as it was; one no longer kept is
    /// [`SessionError::NoSuchLine`].
    pub async fn delete_chat(&self, id: &str) -> Result<ChatLine, HostError> {
        Ok(self.server.delete_chat(id).await?)
    }

    /// Adds a chat room or voice channel (a Together channel, a Pavilion `chat:{id}`); returns it.
    pub async fn add_room(&self, name: &str, kind: RoomKind) -> Result<Room, HostError> {
        Ok(self.server.add_room(name, kind).await?)
    }

    /// The party's chat rooms and voice channels.
    pub async fn rooms(&self) -> Result<Vec<Room>, HostError> {
        Ok(self.server.rooms().await?)
    }

    /// Acts on one member's device, e.g. `volume` with `0.5`.
    pub async fn remote_command(
        &self,
        member_id: &str,
        command: &str,
        value: Option<serde_json::Value>,
    ) -> Result<(), HostError> {
        Ok(self.server.remote_command(member_id, command, value).await?)
    }

    /// Sets one phone's playback volume, 0 to 1 (`remote.command` `volume`).
    pub async fn set_volume(&self, member_id: &str, volume: f64) -> Result<(), HostError> {
        if !(0.0..=1.0).contains(&volume) {
            return Err(HostError::BadVolume(volume));
        }
        self.remote_command(member_id, "volume", Some(serde_json::json!(volume))).await
    }

    /// A page of the library, as phones read it (`library.query`): the items matching `q`
    /// (every word, in the title, artist or album; none: all) from `offset`, at most `limit`
    /// (and [`partyline_protocol::LIBRARY_PAGE_ITEMS`]). Each item has what its tags say
    /// (`durationMs`, `artist`, `album`, `cover`).
    pub async fn library_page(
        &self,
        q: Option<String>,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<LibraryPage, HostError> {
        Ok(self.server.library_page(q, offset, limit).await?)
    }

    /// The shared items among `ids` (the queue's, for their titles), in the library's order.
    pub async fn library_items(&self, ids: Vec<String>) -> Result<LibraryPage, HostError> {
        Ok(self.server.library_items(ids).await?)
    }

    /// The cover picture of library item `id` (its `cover` says it has one), as phones get it
    /// from `/media/.cover/<id>`: its bytes and image type. `None` for an item with none, or
    /// not in the shared folder. For a screen that cannot load the host's `/media/` (the
    /// desktop's web view, whose origin is the app's).
    pub async fn cover(&self, id: &str) -> Option<Cover> {
        self.server.cover(id).await
    }

    /// What the scan of the shared folder left out, in a line for the host ("Skipped 1 folder
    /// it could not read: Live (Permission denied (os error 13))."), if anything.
    pub fn media_note(&self) -> Option<String> {
        self.server.media_note()
    }

    /// Lets guests share songs and photos from their phones, or stops them (what they shared
    /// stays). Phones see it in `/api/info` (`uploads.allowed`).
    pub fn set_uploads(&self, allowed: bool) {
        self.server.set_uploads(allowed);
    }

    /// Whether guests may share songs and photos now.
    pub fn uploads_allowed(&self) -> bool {
        self.server.uploads_allowed()
    }

    /// The folder guests' songs and photos are kept in (the files in its `guests/`, as the
    /// photos' `/media/guests/…` URLs say): [`UploadPolicy::dir`], else beside the party's file
    /// (`party.uploads/`, where it outlives the process), else a temp folder made on the first
    /// upload (`None` until then).
    pub fn uploads_dir(&self) -> Option<std::path::PathBuf> {
        self.server.uploads_dir()
    }

    /// The photos guests shared, oldest first (the newest 50); each new one is also a
    /// [`HostEvent::PhotoShared`]. Its `url` is fetched with the join key, as `/media/`'s.
    pub async fn photos(&self) -> Result<Vec<Photo>, HostError> {
        Ok(self.server.photos().await?)
    }

    /// SyncPlay's state, the library's size and revision (not its items: a screen that asks
    /// every few seconds copies no library; it pages with [`Host::library_page`] when the
    /// revision moves), and each member's sync.
    pub async fn playback(&self) -> Result<Playback, HostError> {
        Ok(self.server.playback().await?)
    }

    /// The whole shared library, in its order (a copy of every item: for a reader that lists
    /// them all, as the CLI's `library` does).
    pub async fn library(&self) -> Result<Vec<LibraryItem>, HostError> {
        Ok(self.server.library().await?)
    }

    /// The media folder shared now, if any.
    pub fn media_dir(&self) -> Option<PathBuf> {
        self.server.media_dir()
    }

    /// Shares another media folder (or none) without ending the party: members get the new
    /// library. A folder that cannot be read changes nothing. Returns the new library.
    pub async fn set_media(&self, dir: Option<PathBuf>) -> Result<Vec<LibraryItem>, HostError> {
        Ok(self.server.set_media(dir).await?)
    }

    /// Stops hosting: `session_closed` to everyone, goodbyes on mDNS, then stop. A party with a
    /// file stays in it without its members (they were told it ended): the next start picks up
    /// its key, room code, chat and queue (use [`Host::end_party`] to end it for good).
    pub async fn stop(&self) {
        self.say_goodbye().await;
        self.server.shutdown(Some("Host ended the session")).await;
    }

    /// Ends the party for good ("New party"): stops as [`Host::stop`] does and empties its file,
    /// so the next [`Host::start`] with the same file makes a new party (a new session id, key,
    /// room code and port; the old members' resumes fail). Without a file it is a stop.
    pub async fn end_party(&self) -> Result<(), HostError> {
        self.say_goodbye().await;
        Ok(self.server.end_party(Some("Host ended the session")).await?)
    }

    async fn say_goodbye(&self) {
        self.stopping.send_replace(true);
        let advertiser = self.advertiser.lock().ok().and_then(|mut slot| slot.take());
        if let Some(advertiser) = advertiser {
            // Goodbyes take a quarter second on the advertiser's own thread.
            let _ = tokio::task::spawn_blocking(move || advertiser.shutdown()).await;
        }
    }
}

/// The log filter both binaries install: `RUST_LOG` when set (else `default`), except that the
/// WebSocket library never logs below `debug`. At `trace` it prints every frame it reads or
/// writes, and frames carry secrets: the join key in a `resume`'s URL, every `welcome`'s
/// `resumeSecret`, private messages. What a host logs must be safe to paste into a bug report.
pub fn log_filter(default: &str) -> tracing_subscriber::EnvFilter {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    filter
        .add_directive("tungstenite=debug".parse().expect("a valid directive"))
        .add_directive("tokio_tungstenite=debug".parse().expect("a valid directive"))
}

/// This computer's name ("Rishad's MacBook"), for a member it joins as or hosts as; `None` when
/// the system does not say.
pub fn computer_name() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
}

/// The web client's and the WebSocket's URLs (no key) on one address.
fn endpoints(addr: IpAddr, port: u16) -> std::collections::BTreeMap<String, String> {
    let authority = SocketAddr::new(addr, port);
    partyline_protocol::ENDPOINTS
        .iter()
        .map(|(format, path)| (format.to_string(), format!("ws://{authority}{path}")))
        .collect()
}

fn urls(addr: IpAddr, port: u16) -> (String, String) {
    let authority = SocketAddr::new(addr, port);
    (format!("http://{authority}/"), format!("ws://{authority}/ws"))
}

/// The rule a member's `syncplay.command` must keep to pass decoding ([`PlayCommand::check`]),
/// asked of the host's too: the session core trusts the host's commands.
fn check_play(command: &PlayCommand) -> Result<(), HostError> {
    command.check().map_err(HostError::BadCommand)
}

fn txt(state: &SessionState) -> SessionTxt {
    SessionTxt::new(state.id.clone(), state.name.clone(), state.member_count, state.max_members, state.locked)
}

/// Re-publishes the TXT record whenever the member count, name, lock or capacity changes (the
/// advertiser coalesces bursts).
async fn keep_txt_current(mut state: watch::Receiver<SessionState>, advertiser: Arc<Mutex<Option<Advertiser>>>) {
    while state.changed().await.is_ok() {
        let txt = txt(&state.borrow_and_update());
        let Ok(slot) = advertiser.lock() else { return };
        // None while the address follower restarts it (or after stop, when the state's sender
        // goes and the loop ends).
        let Some(advertiser) = slot.as_ref() else { continue };
        if let Err(err) = advertiser.update(txt) {
            warn!(cause = %err, "could not update the mDNS record");
        }
    }
}

#[cfg(test)]
mod tests {
    //! The facade's own rules: one shape for a lagged subscriber beside the host's events, the
    //! address picker's URLs, and the check the host's SyncPlay commands pass.
    use super::*;

    /// `Lagged` is an event line like the others: `{"event": "lagged", "skipped": n}`.
    #[test]
    fn lagged_is_tagged_like_the_events() {
        let got = serde_json::to_value(Lagged { skipped: 3 }).unwrap();
        let want = serde_json::json!({"event": "lagged", "skipped": 3});
        assert_eq!(got, want, "expected {want}, got {got}");
    }

    /// `via` moves every URL to the chosen address (IPv6 bracketed) and refuses one not offered.
    #[test]
    fn via_points_the_urls_at_one_address() {
        let address = |addr: &str| JoinAddress {
            interface: "wlan0".into(),
            addr: addr.parse().unwrap(),
            join_url: partyline_discovery::join_url(addr.parse().unwrap(), 4000, Some("k")),
        };
        let (http_url, ws_url) = urls("192.168.1.2".parse().unwrap(), 4000);
        let info = HostInfo {
            session_id: "s".into(),
            name: "Party".into(),
            local_addr: "0.0.0.0:4000".parse().unwrap(),
            port: 4000,
            join_url: address("192.168.1.2").join_url,
            http_url,
            ws_url,
            endpoints: endpoints("192.168.1.2".parse().unwrap(), 4000),
            join_key: Some("k".into()),
            room_code: Some("ABCDE".into()),
            addresses: vec![address("192.168.1.2"), address("fd00::5")],
            advertised: false,
            warnings: vec![],
            restored: false,
            no_network: false,
        };
        let moved = info.via("fd00::5".parse().unwrap()).expect("an offered address");
        let got = (moved.http_url.as_str(), moved.ws_url.as_str(), moved.join_url.as_str());
        let want = ("http://[fd00::5]:4000/", "ws://[fd00::5]:4000/ws", "http://[fd00::5]:4000/#k=k");
        assert_eq!(got, want, "expected the URLs on fd00::5");
        assert_eq!(moved.endpoints["together"], "ws://[fd00::5]:4000/together/ws", "every format's URL moves too");
        assert_eq!(moved.addresses, info.addresses, "the list stays as it was");
        assert_eq!(info.via("10.0.0.9".parse().unwrap()), None, "an address not offered");
    }

    /// The host's SyncPlay commands pass a member's check: positions of 0 ms or more, rates 0.5 to 2.
    #[test]
    fn host_play_commands_are_checked() {
        for bad in [
            PlayCommand::Seek { position: -1.0 },
            PlayCommand::Seek { position: f64::NAN },
            PlayCommand::Play { item_id: None, position: Some(f64::INFINITY) },
            PlayCommand::SetRate { rate: 3.0 },
            PlayCommand::SetRate { rate: 0.25 },
        ] {
            assert!(matches!(check_play(&bad), Err(HostError::BadCommand(_))), "expected {bad:?} refused");
        }
        for good in [PlayCommand::Seek { position: 0.0 }, PlayCommand::SetRate { rate: 2.0 }, PlayCommand::Pause] {
            assert!(check_play(&good).is_ok(), "expected {good:?} accepted");
        }
    }
}
