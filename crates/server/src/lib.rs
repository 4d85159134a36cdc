//! Partyline's tokio glue. HTTP and WebSocket share one port; each connection gets a task;
//! one session task owns the sans-IO [`partyline_session::Session`] and sleeps until its next
//! deadline. The server reads sockets, calls the session, and writes what it returns.
//!
//! # Layout
//! - [`Server`] / [`ServerHandle`]: start a host on a port, act on it, stop it.
//! - `listener`: the accept loop: every TCP connection counted, header-read and idle
//!   timeouts, shedding at the caps, and the `Host` check in front of every route.
//! - `http`: the routes: the phone client, `/api/info`, `/api/join`, `/media/`.
//! - `upgrade`: the `/ws` upgrade with its checks (Origin, connections per address, key).
//! - `handler`: one task per WebSocket: rate limit on every frame, decode, pings, batched
//!   writes, and the close handshake within bounded times.
//! - `driver`: the session task, and the bounded queues between it and the connections.
//! - `transfer`: seed 001's file transfer (0x03 frames) on one connection, into [`uploads`].
//! - [`auth`]: key and Origin checks, and the room-code budget.
//! - [`device`]: the member's device label ("iPhone", "Windows PC") from the upgrade request.
//! - [`media`]: the shared media folder: the SyncPlay library, and the only files `/media/`
//!   serves (by lookup, with Range requests).
//! - [`clock`]: the host's one clock.
//! - [`store`]: the party's SQLite file, so a party outlives the process: what the session
//!   journals, committed before each pass's messages go out, and read back at start.
//! - [`uploads`]: songs and photos guests share: the host's policy, and the store that checks
//!   each file (size, checksum, type from its bytes) before it is renamed into place and added.
//!
//! # Backpressure
//! Connection → session: bounded, and readers wait (what a client sends must arrive).
//! Session → connection: bounded per connection ([`Limits::outbound_queue`]); a full queue
//! closes that connection with 4008 and nobody else waits. Session → UI events: a broadcast
//! channel; a UI that lags loses events and re-reads the member list.

mod attach;
pub mod auth;
pub mod clock;
pub mod device;
mod driver;
mod handler;
mod http;
mod listener;
pub mod media;
mod queue;
pub mod store;
mod transfer;
mod upgrade;
pub mod uploads;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

pub use partyline_protocol::client::PlayCommand;
use partyline_protocol::{LibraryItem, MemberInfo, Permissions, PlayState, SessionState};
use partyline_session::{Config as SessionConfig, Event, MemberSync, Session, SessionError, Time};
use rand::Rng;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

pub use clock::Clock;
pub use listener::bind as bind_listener;
pub use partyline_session::Event as HostEvent;
pub use uploads::UploadPolicy;

use driver::{Driver, Inbound};

/// Resource limits, each default with its reason.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Messages queued for one connection before it counts as too slow. 256 holds a burst of
    /// a few seconds of a busy party; a phone that falls further behind is better off
    /// resuming from its replay buffer than making the host hold more.
    pub outbound_queue: usize,
    /// Token bucket size for each WebSocket connection. Every frame takes a token: text,
    /// binary, each fragment of a message, ping and pong alike.
    pub burst: u32,
    /// Token bucket refill per second. A connection with an empty bucket is not read until a
    /// token is back, so TCP slows a flooder down and the host spends nothing on it.
    pub per_second: u32,
    /// Live WebSocket connections from one address. 32: a household behind one NAT with
    /// every phone and tablet, with room for reconnect overlap.
    pub max_conns_per_addr: usize,
    /// WebSocket read buffer per connection, all of it resident (tungstenite zero-fills it).
    /// tungstenite's default (128 KiB) was measured at 137 KB of RSS per idle connection. A
    /// client's messages are ~60 B (a heartbeat, a ping; a `join` ~250 B), so 512 B: a larger
    /// message grows the buffer to its size when it comes (tungstenite keeps that size).
    pub read_buffer: usize,
    /// Bytes gathered in a connection's write buffer before they go to the socket even without
    /// a flush. We flush after every batch, so this only bounds a batch or a long message (a
    /// `member_list` of thousands), which goes out as it is framed; 16 KiB, so that a batch of
    /// 64 small messages is still one system call. The buffer is given back once written.
    pub write_buffer: usize,
    /// How long a connection may take to send a request's head, and stay idle between
    /// requests on a keep-alive connection, before it is closed. 10 s: a phone on poor Wi-Fi
    /// sends a head in well under a second, and a connection that trickles one must not hold a
    /// descriptor for long.
    pub header_read_timeout: Duration,
    /// HTTP connections (not yet WebSockets) from one address. 16: a phone opens about six
    /// for a page load; a household behind one NAT loading at once gets more than two phones'
    /// worth, and one address cannot take the port.
    pub max_http_per_addr: usize,
    /// HTTP connections in total. 256: forty phones loading the page at the same moment;
    /// past it the oldest idle ones are closed, which costs a phone a reconnect. Capped at half
    /// of [`Limits::max_connections`], so guests always keep the other half.
    pub max_http: usize,
    /// Every connection, HTTP and WebSocket. `None`: the open-file limit (raised to its hard
    /// limit at start) less 64 descriptors kept for the host's own files.
    pub max_connections: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            outbound_queue: 256,
            burst: partyline_session::limit::DEFAULT_BURST,
            per_second: partyline_session::limit::DEFAULT_PER_SECOND,
            max_conns_per_addr: 32,
            read_buffer: 512,
            write_buffer: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            max_http_per_addr: 16,
            max_http: 256,
            max_connections: None,
        }
    }
}

/// How to run a host.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address and port to listen on (port 0: any free one).
    pub bind: SocketAddr,
    /// The join key; `None` for an open host.
    pub join_key: Option<String>,
    /// The short code that can be exchanged for the key at `/api/join`.
    pub room_code: Option<String>,
    /// The session's settings.
    pub session: SessionConfig,
    /// Resource limits.
    pub limits: Limits,
    /// A folder whose playable files become the SyncPlay library, served at `/media/`.
    pub media: Option<std::path::PathBuf>,
    /// What guests may share (`POST /api/uploads`), and where it is kept.
    pub uploads: UploadPolicy,
    /// The party's file: with one, the party outlives the process (a start with a stored party
    /// picks it up: its session, keys, port and folder; else a new party is written to it).
    /// `None`: in memory only.
    pub store: Option<std::path::PathBuf>,
    /// End the stored party for good and start a new one in the same file.
    pub new_party: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            join_key: Some(generate_join_key()),
            room_code: Some(generate_room_code()),
            session: SessionConfig::default(),
            limits: Limits::default(),
            media: None,
            uploads: UploadPolicy::default(),
            store: None,
            new_party: false,
        }
    }
}

/// What can go wrong starting or driving a host.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound (in use, not ours, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The host has stopped; the action cannot be done.
    #[error("the host has stopped")]
    Stopped,
    /// An open host (`--open`) has no join key to change.
    #[error("an open host has no join key")]
    Open,
    /// The session refused the action.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The media folder cannot be shared.
    #[error(transparent)]
    Media(#[from] media::MediaError),
    /// The uploads folder cannot be made or written.
    #[error("cannot use the uploads folder: {0}")]
    Uploads(std::io::Error),
    /// The party's file cannot be opened, read or written.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// State the HTTP handlers and connection tasks share.
pub(crate) struct Shared {
    pub(crate) clock: Clock,
    pub(crate) limits: Limits,
    /// The join key and room code in force, and the retired keys ([`auth::Keys`]); replaced by
    /// [`ServerHandle::new_key`] while the party goes on.
    pub(crate) keys: SharedKeys,
    pub(crate) inbound: mpsc::Sender<Inbound>,
    /// Host actions for the session task: the REST routes act through it as the handle does.
    pub(crate) commands: mpsc::Sender<driver::Action>,
    pub(crate) state: watch::Receiver<SessionState>,
    pub(crate) next_conn: AtomicU64,
    pub(crate) per_addr: upgrade::PerAddr,
    pub(crate) code_tries: http::CodeTries,
    pub(crate) tracker: TaskTracker,
    /// The library `/media/` serves; replaced by [`ServerHandle::set_media`].
    pub(crate) media: MediaDir,
    /// Guests' songs and photos, served under `/media/guests/`.
    pub(crate) uploads: Arc<uploads::Store>,
    /// The party's file, if it has one (the session task commits to it; the handle stores the
    /// keys and the folder).
    pub(crate) store: Option<store::SharedStore>,
    /// Reloads' resumes made over HTTP, waiting for their sockets ([`attach`]).
    pub(crate) attachments: attach::Attachments,
}

/// The library members see: the shared folder's items, then guests' songs (`guests/…`).
pub(crate) fn library_items(media: &MediaDir, uploads: &uploads::Store) -> Vec<LibraryItem> {
    let folder = media.read().ok().and_then(|library| library.clone());
    let mut items = folder.map(|library| library.items().to_vec()).unwrap_or_default();
    items.extend(uploads.songs());
    items
}

/// The scanned library `/media/` serves now (`None`: nothing shared), shared by the HTTP routes
/// and the handle that can replace it while the party goes on. Only its items are served.
pub(crate) type MediaDir = Arc<std::sync::RwLock<Option<Arc<media::Library>>>>;

/// The host's keys, shared by the HTTP routes, the upgrade and the handle that replaces them.
pub(crate) type SharedKeys = Arc<std::sync::RwLock<auth::Keys>>;

/// The keys now (a copy: a few short strings), whatever a panicked writer left.
pub(crate) fn read_keys(keys: &SharedKeys) -> auth::Keys {
    match keys.read() {
        Ok(keys) => keys.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

impl Shared {
    /// The keys now.
    pub(crate) fn keys(&self) -> auth::Keys {
        read_keys(&self.keys)
    }
}

/// A 128-bit join key, base64url without padding (22 characters).
pub fn generate_join_key() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    base64url(&bytes)
}

/// A five-character room code of readable capitals and digits (no 0/O, 1/I/L): 31^5 ≈ 28
/// million codes, short enough to read across a room.
pub fn generate_room_code() -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..5).map(|_| LETTERS[rng.random_range(0..LETTERS.len())] as char).collect()
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SyncPlay as the host sees it: cheap to ask for often (the desktop reads it every 3 s), so
/// it names the library by its size and revision and carries none of its items; a reader pages
/// through them ([`ServerHandle::library_page`]) when the revision moves.
#[derive(Debug, Clone, PartialEq)]
pub struct Playback {
    /// The group's state.
    pub state: PlayState,
    /// How many items the shared library has.
    pub library_total: usize,
    /// The library's revision (it changes with the library).
    pub library_revision: u64,
    /// Each member's last report: how in sync the room is.
    pub members: Vec<MemberSync>,
}

/// A page of the library (or of a search of it), as a member's `library.page` has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryPage {
    /// The library's revision (it changes with the library).
    pub revision: u64,
    /// How many items match in all.
    pub total: usize,
    /// The page's items, in the library's order.
    pub items: Vec<LibraryItem>,
}

/// Bounded inbound queue into the session task: a burst of a thousand joins fits; past it,
/// readers wait, and so (through TCP) do their clients.
const INBOUND_QUEUE: usize = 4096;

/// Host commands queue: a UI clicks, it does not stream.
const COMMAND_QUEUE: usize = 64;

/// Events kept for a UI that is slow to read them.
const EVENT_QUEUE: usize = 1024;

/// How long shutdown waits for connections to say goodbye before giving up on them.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// A way to start a host.
pub struct Server;

impl Server {
    /// Binds, starts the session and the HTTP server, and returns a handle. A bind failure is
    /// an error, never a silent port 0.
    pub async fn start(mut config: ServerConfig) -> Result<ServerHandle, ServerError> {
        let (party, stored) = match &config.store {
            Some(path) => {
                let mut party = store::Store::open(path)?;
                if config.new_party {
                    party.end_party()?;
                    info!(path = %path.display(), "the stored party is ended; a new one starts");
                }
                let stored = party.load()?;
                (Some(party), stored)
            }
            None => (None, None),
        };
        if let Some(stored) = &stored {
            // The same QR code, port and folder as before the restart.
            config.join_key = stored.keys.join_key.clone();
            config.room_code = stored.keys.room_code.clone();
            if config.bind.port() == 0 {
                config.bind.set_port(stored.port);
            }
            if config.media.is_none() {
                config.media = stored.media.clone();
            }
        }
        if let Some(path) = &config.store
            && config.uploads.dir.is_none()
        {
            // A party that outlives the process keeps its guests' files where they outlive it
            // too: the folder it had (if it is still there: one that was removed holds nothing
            // to pick up, say a temp folder an older desktop app named), or one beside its file.
            let kept = stored.as_ref().and_then(|stored| stored.uploads_dir.clone()).filter(|dir| dir.is_dir());
            let dir = kept.unwrap_or_else(|| path.with_extension("uploads"));
            if stored.is_none() {
                // A new party in this file: an ended one's files are no one's now.
                let _ = std::fs::remove_dir_all(dir.join("guests"));
            }
            config.uploads.dir = Some(dir);
        }
        let library = match &config.media {
            Some(dir) => Some(Arc::new(media::scan(dir)?)),
            None => None,
        };
        let store = Arc::new(uploads::Store::open(&config.uploads).map_err(ServerError::Uploads)?);
        let listener = listener::bind(config.bind).map_err(|source| ServerError::Bind { addr: config.bind, source })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind { addr: config.bind, source })?;
        let descriptors = listener::raise_descriptor_limit();
        let caps = listener::Caps::derive(&config.limits, descriptors);
        listener::log_caps(caps, descriptors);
        let header_read_timeout = config.limits.header_read_timeout;
        let clock = Clock::new();
        // One figure for one address: as many members as WebSocket connections (a load test that
        // raises the connection cap raises this with it).
        let session_config = SessionConfig {
            max_members_per_addr: config.limits.max_conns_per_addr,
            durable: party.is_some(),
            ..config.session
        };
        let restored = stored.is_some();
        let keys = match &stored {
            Some(stored) => stored.keys.clone(),
            None => auth::Keys::new(config.join_key, config.room_code),
        };
        let (mut session, uploaded) = match stored {
            Some(stored) => {
                let session = Session::restore(session_config, stored.record, clock.now(), rand::rng().random());
                (session, stored.uploads)
            }
            None => (Session::new(session_config, clock.now(), rand::rng().random()), Vec::new()),
        };
        let gone = restore_uploads(&store, &mut session, uploaded).await;
        let mut items = library.as_ref().map(|l| l.items().to_vec()).unwrap_or_default();
        items.extend(store.songs());
        session.set_library(clock.now(), items)?;
        let party = match party {
            Some(mut party) => {
                for id in &gone {
                    party.remove_upload(id)?;
                }
                if let Some(dir) = &config.uploads.dir {
                    party.set_uploads_dir(dir)?;
                }
                if !restored {
                    party.write_all(&session.record(clock.now()))?;
                    session.clear_durable();
                }
                party.set_keys(&keys)?;
                party.set_port(local_addr.port())?;
                party.set_media(config.media.as_deref())?;
                let path = party.path().display().to_string();
                info!(%path, restored, members = session.member_count(), "the party's store");
                Some(Arc::new(std::sync::Mutex::new(Some(party))))
            }
            None => None,
        };
        let session_id = session.id().to_string();
        let (state_tx, state_rx) = watch::channel(session.state());
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let media: MediaDir = Arc::new(std::sync::RwLock::new(library));
        let keys: SharedKeys = Arc::new(std::sync::RwLock::new(keys));
        let shared = Arc::new(Shared {
            clock: clock.clone(),
            limits: config.limits,
            keys: keys.clone(),
            inbound: inbound_tx,
            commands: commands_tx.clone(),
            state: state_rx.clone(),
            next_conn: AtomicU64::new(1),
            per_addr: Default::default(),
            code_tries: Default::default(),
            tracker: tracker.clone(),
            media: media.clone(),
            uploads: store.clone(),
            store: party.clone(),
            attachments: Default::default(),
        });
        let persist = party.map(|store| driver::Persist { store, broken: false, last_try: 0 });
        let driver = Driver {
            session,
            clock: clock.clone(),
            outboxes: Default::default(),
            dirty: Vec::new(),
            events: events.clone(),
            state: state_tx,
            store: persist,
            congested: Default::default(),
            drain_check: None,
            flushed: Vec::new(),
        };
        let session_done = tokio::spawn(driver.run(inbound_rx, commands_rx, shutdown.clone()));
        let accept = listener::Listener {
            listener,
            admission: listener::Admission::new(caps),
            router: http::router(shared.clone()),
            header_read_timeout,
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
        };
        let http_done = tokio::spawn(accept.run());
        info!(%local_addr, session = %session_id, "hosting");
        Ok(ServerHandle {
            local_addr,
            session_id,
            keys,
            commands: commands_tx,
            events,
            state: state_rx,
            shutdown,
            tracker,
            tasks: Arc::new(tokio::sync::Mutex::new(Some((session_done, http_done)))),
            clock,
            media,
            shared,
            restored,
            store_path: config.store,
        })
    }
}

/// Takes back the uploads a store kept whose files are still as they were kept (photos into the
/// session's gallery, songs into the uploads store's list); returns the ids of the others, each
/// dropped with a warning.
async fn restore_uploads(
    uploads: &Arc<uploads::Store>,
    session: &mut Session,
    kept: Vec<store::StoredUpload>,
) -> Vec<String> {
    if kept.is_empty() {
        return Vec::new();
    }
    let uploads = uploads.clone();
    let checked = tokio::task::spawn_blocking(move || {
        kept.into_iter().map(|upload| (upload.id.clone(), uploads.restore(&upload))).collect::<Vec<_>>()
    })
    .await
    .unwrap_or_else(|_| {
        tracing::warn!("the check of the guests' uploads stopped; none is restored");
        Vec::new()
    });
    let (mut photos, mut songs, mut gone) = (Vec::new(), 0, Vec::new());
    for (id, result) in checked {
        match result {
            Ok(uploads::Restored::Photo(photo)) => photos.push(photo),
            Ok(uploads::Restored::Song) => songs += 1,
            Err(why) => {
                tracing::warn!(%id, %why, "a guest's upload kept before the restart is gone; dropped");
                gone.push(id);
            }
        }
    }
    info!(photos = photos.len(), songs, dropped = gone.len(), "guests' uploads restored");
    session.restore_photos(photos);
    gone
}

type Tasks = Option<(tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>)>;

/// A running host. Cloning shares it.
#[derive(Clone)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    session_id: String,
    keys: SharedKeys,
    commands: mpsc::Sender<driver::Action>,
    events: broadcast::Sender<Event>,
    state: watch::Receiver<SessionState>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    tasks: Arc<tokio::sync::Mutex<Tasks>>,
    clock: Clock,
    media: MediaDir,
    /// What the routes share: the uploads store, for the handle's own uploads actions.
    shared: Arc<Shared>,
    /// Whether the party was picked up from its store.
    restored: bool,
    /// The party's file, if it has one.
    store_path: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .field("session_id", &self.session_id)
            .finish()
    }
}

impl ServerHandle {
    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Whether this party was picked up from its store (the host restarted), rather than new.
    pub fn restored(&self) -> bool {
        self.restored
    }

    /// The host's clock: what `serverTime` and the pong timestamps are measured on.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// Test hook: the host's clock jumps `by` forward, as if that long had passed at once (see
    /// [`Clock::skip`]); returns once the session has run every timer that is now due (members
    /// whose heartbeats now look late lose their connections and resume, as after a host whose
    /// clock jumped). For tests of long absences on a real host; never called in production.
    pub async fn skip_time(&self, by: std::time::Duration) -> Result<(), ServerError> {
        self.clock.skip(by);
        // An action wakes the session task: its next turn sees the timers that are now due.
        self.act(|session, now| session.handle_timeout(now)).await
    }

    /// The join key in force, `None` for an open host.
    pub fn join_key(&self) -> Option<String> {
        read_keys(&self.keys).join_key
    }

    /// The room code in force, `None` for an open host.
    pub fn room_code(&self) -> Option<String> {
        read_keys(&self.keys).room_code
    }

    /// A new join key and room code while the party goes on, on the same port: the old QR code
    /// and room code stop letting anyone join, and every member stays (a member whose phone
    /// reconnects with the old key still resumes: its resume secret is what proves it).
    /// Returns the new key and code. An open host has no key to change.
    pub fn new_key(&self) -> Result<(String, String), ServerError> {
        let mut keys = match self.keys.write() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        };
        if keys.join_key.is_none() {
            return Err(ServerError::Open);
        }
        let (key, code) = (generate_join_key(), generate_room_code());
        keys.rotate(key.clone(), code.clone());
        self.store_with(|store| store.set_keys(&keys));
        info!("a new join key and room code; the old ones no longer let anyone join");
        Ok((key, code))
    }

    /// The session's state now (name, lock, capacity, member count).
    pub fn state(&self) -> SessionState {
        self.state.borrow().clone()
    }

    /// A receiver of the state each time it changes.
    pub fn watch_state(&self) -> watch::Receiver<SessionState> {
        self.state.clone()
    }

    /// Typed events from now on: joins, leaves, updates, chat, close.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Every member, the host first.
    pub async fn members(&self) -> Result<Vec<MemberInfo>, ServerError> {
        self.act(|session, _| session.members()).await
    }

    /// Kicks a member.
    pub async fn kick(&self, member_id: &str, reason: &str) -> Result<MemberInfo, ServerError> {
        let (member_id, reason) = (member_id.to_string(), reason.to_string());
        Ok(self.act(move |session, now| session.kick(now, &member_id, &reason)).await??)
    }

    /// Kicks a member and bans its device until [`ServerHandle::unban`].
    pub async fn ban(&self, member_id: &str, reason: &str) -> Result<MemberInfo, ServerError> {
        let (member_id, reason) = (member_id.to_string(), reason.to_string());
        Ok(self.act(move |session, now| session.ban(now, &member_id, &reason)).await??)
    }

    /// Lifts a device's ban.
    pub async fn unban(&self, device_id: &str) -> Result<partyline_session::Ban, ServerError> {
        let device_id = device_id.to_string();
        Ok(self.act(move |session, _| session.unban(&device_id)).await??)
    }

    /// The devices the host turned away, oldest first.
    pub async fn bans(&self) -> Result<Vec<partyline_session::Ban>, ServerError> {
        self.act(|session, _| session.bans()).await
    }

    /// Locks (no new joins; resumes still work) or unlocks. Like the other actions that change
    /// the session, it answers once the change is visible everywhere (members told, events
    /// sent, [`ServerHandle::state`] updated), with the session as it is then.
    pub async fn set_locked(&self, locked: bool) -> Result<SessionState, ServerError> {
        Ok(self.act(move |session, now| session.set_locked(now, locked)).await??)
    }

    /// Sets the capacity (1 to 10,000).
    pub async fn set_capacity(&self, max_members: u32) -> Result<SessionState, ServerError> {
        Ok(self.act(move |session, now| session.set_capacity(now, max_members)).await??)
    }

    /// Renames the session.
    pub async fn rename(&self, name: &str) -> Result<SessionState, ServerError> {
        let name = name.to_string();
        Ok(self.act(move |session, now| session.rename(now, &name)).await??)
    }

    /// A SyncPlay command as the host (who may do anything).
    pub async fn syncplay(&self, command: PlayCommand) -> Result<(), ServerError> {
        Ok(self.act(move |session, now| session.syncplay_command(now, command)).await??)
    }

    /// Lets members control playback and/or the queue.
    pub async fn set_permissions(&self, permissions: Permissions) -> Result<(), ServerError> {
        Ok(self.act(move |session, now| session.set_permissions(now, permissions)).await??)
    }

    /// A notification to every extension member; returns its id (which `mark_read` names).
    pub async fn notify(
        &self,
        title: &str,
        body: &str,
        level: partyline_protocol::NotificationLevel,
    ) -> Result<String, ServerError> {
        self.notify_with_actions(title, body, level, Vec::new()).await
    }

    /// A notification with links attached (at most three, http(s) only: seed 001's `actions`,
    /// partyline/1's `actions`); returns its id.
    pub async fn notify_with_actions(
        &self,
        title: &str,
        body: &str,
        level: partyline_protocol::NotificationLevel,
        actions: Vec<partyline_protocol::NotificationAction>,
    ) -> Result<String, ServerError> {
        let (title, body) = (title.to_string(), body.to_string());
        Ok(self.act(move |session, now| session.notify_with_actions(now, &title, &body, level, actions)).await??)
    }

    /// The party's chat rooms and voice channels.
    pub async fn rooms(&self) -> Result<Vec<partyline_protocol::Room>, ServerError> {
        self.act(|session, _| session.rooms()).await
    }

    /// Adds a chat room or voice channel; returns it.
    pub async fn add_room(
        &self,
        name: &str,
        kind: partyline_protocol::RoomKind,
    ) -> Result<partyline_protocol::Room, ServerError> {
        let name = name.to_string();
        Ok(self.act(move |session, _| session.add_room(&name, kind)).await??)
    }

    /// Deletes any chat line (moderation); every member is told, in its format.
    pub async fn delete_chat(&self, id: &str) -> Result<partyline_session::ChatLine, ServerError> {
        let id = id.to_string();
        Ok(self.act(move |session, now| session.delete_chat(now, None, &id)).await??)
    }

    /// Acts on one member's device (`remote.command`), e.g. `volume` with `0.5`.
    pub async fn remote_command(
        &self,
        member_id: &str,
        command: &str,
        value: Option<serde_json::Value>,
    ) -> Result<(), ServerError> {
        let (member_id, command) = (member_id.to_string(), command.to_string());
        Ok(self.act(move |session, now| session.remote_command(now, &member_id, &command, value)).await??)
    }

    /// SyncPlay's state, the library, and how in sync each member is.
    pub async fn playback(&self) -> Result<Playback, ServerError> {
        self.act(|session, _| Playback {
            state: session.play_state(),
            library_total: session.catalog().items().len(),
            library_revision: session.catalog().revision(),
            members: session.sync_report(),
        })
        .await
    }

    /// The whole shared library, in its order: a copy of every item (up to 10,000), for a
    /// reader that wants them all at once (the CLI's `library`); a screen pages instead.
    pub async fn library(&self) -> Result<Vec<LibraryItem>, ServerError> {
        self.act(|session, _| session.library().to_vec()).await
    }

    /// A page of the library as members read it: the items matching `q` (every word, in the
    /// title, artist or album; none: all) from `offset`, at most `limit` (and
    /// [`partyline_protocol::LIBRARY_PAGE_ITEMS`]), in the library's order.
    pub async fn library_page(
        &self,
        q: Option<String>,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<LibraryPage, ServerError> {
        self.act(move |session, _| {
            let library = session.catalog();
            let page = library.page(q.as_deref(), offset, limit);
            LibraryPage { revision: library.revision(), total: page.total, items: page.items }
        })
        .await
    }

    /// The shared items among `ids` (a queue's), in the library's order.
    pub async fn library_items(&self, ids: Vec<String>) -> Result<LibraryPage, ServerError> {
        self.act(move |session, _| {
            let library = session.catalog();
            let page = library.by_ids(&ids);
            LibraryPage { revision: library.revision(), total: page.total, items: page.items }
        })
        .await
    }

    /// The cover picture of library item `id`, as `/media/.cover/<id>` serves it to phones:
    /// only for an item of the shared folder whose tags hold a picture, and only image bytes
    /// (kept in the library's small cache, so a screen showing it again reads no file).
    pub async fn cover(&self, id: &str) -> Option<media::Cover> {
        let library = self.media.read().ok().and_then(|library| library.clone())?;
        let path = format!("/.cover/{id}");
        tokio::task::spawn_blocking(move || library.cover(&path)).await.ok().flatten()
    }

    /// What the scan of the shared folder left out, in a line for the host ("Skipped 1 folder
    /// it could not read: …"), if it left anything out.
    pub fn media_note(&self) -> Option<String> {
        self.media.read().ok().and_then(|library| library.as_ref().and_then(|l| l.note()))
    }

    /// The folder shared now, if any.
    pub fn media_dir(&self) -> Option<std::path::PathBuf> {
        self.media.read().ok().and_then(|library| library.as_ref().map(|l| l.dir().to_path_buf()))
    }

    /// Shares another folder (or none) while the party goes on: it is scanned, `/media/` serves
    /// its library from now on, and every extension member gets the new library
    /// (`library.update`; guests' songs stay in it). Queue entries of items no longer shared
    /// stay until removed. A folder that cannot be read is an error and changes nothing.
    /// Returns the new library.
    pub async fn set_media(&self, dir: Option<std::path::PathBuf>) -> Result<Vec<LibraryItem>, ServerError> {
        let library = match dir {
            Some(dir) => Some(Arc::new(
                tokio::task::spawn_blocking(move || media::scan(&dir)).await.map_err(|_| ServerError::Stopped)??,
            )),
            None => None,
        };
        // The files first, so a member that fetches as soon as the library arrives finds them.
        let previous = self.replace_media(library);
        // Composed in the session task, so that a guest's song added meanwhile is not lost.
        let (media, store) = (self.media.clone(), self.shared.uploads.clone());
        let answer = self
            .act(move |session, now| {
                let items = library_items(&media, &store);
                session.set_library(now, items.clone()).map(|()| items)
            })
            .await;
        if !matches!(answer, Ok(Ok(_))) {
            self.replace_media(previous);
        } else {
            let dir = self.media_dir();
            self.store_with(|store| store.set_media(dir.as_deref()));
        }
        Ok(answer??)
    }

    /// Lets guests share songs and photos, or stops them (what they shared stays). A change
    /// shows in `/api/info` at once.
    pub fn set_uploads(&self, allowed: bool) {
        self.shared.uploads.set_allowed(allowed);
        info!(allowed, "guest uploads");
    }

    /// The folder guests' songs and photos are kept in (the files are in its `guests/`, as the
    /// photos' `/media/guests/…` URLs say): the one the policy named, the one beside the party's
    /// file, or (a party without a file that named none) the temp folder made on the first
    /// upload; `None` before that.
    pub fn uploads_dir(&self) -> Option<std::path::PathBuf> {
        self.shared.uploads.root()
    }

    /// Whether guests may share songs and photos now.
    pub fn uploads_allowed(&self) -> bool {
        self.shared.uploads.allowed()
    }

    /// The photos guests shared, oldest first (the newest [`partyline_protocol::WELCOME_PHOTOS`]).
    pub async fn photos(&self) -> Result<Vec<partyline_protocol::Photo>, ServerError> {
        self.act(|session, _| session.photos()).await
    }

    fn replace_media(&self, library: Option<Arc<media::Library>>) -> Option<Arc<media::Library>> {
        match self.media.write() {
            Ok(mut slot) => std::mem::replace(&mut *slot, library),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), library),
        }
    }

    /// Closes the session (`session_closed` to everyone), stops accepting, and waits (at most
    /// five seconds) for the connections to drain. Safe to call twice.
    pub async fn shutdown(&self, reason: Option<&str>) {
        let reason = reason.map(str::to_string);
        let _ = self.act(move |session, now| session.close(now, reason.as_deref())).await;
        self.shutdown.cancel();
        let Some((session_done, http_done)) = self.tasks.lock().await.take() else { return };
        let _ = tokio::time::timeout(DRAIN_LIMIT, async {
            let _ = session_done.await;
            let _ = http_done.await;
            self.tracker.close();
            self.tracker.wait().await;
        })
        .await;
        self.shared.uploads.remove_temp();
        // Let the party's file go (its lock with it): the same process may start it again.
        if let Some(store) = &self.shared.store {
            let store = match store.lock() {
                Ok(mut store) => store.take(),
                Err(poisoned) => poisoned.into_inner().take(),
            };
            drop(store);
        }
    }

    /// Ends the party for good: closes it (as [`ServerHandle::shutdown`]) and empties its store,
    /// so the next start with the same file makes a new party (a new session id, key and port;
    /// the old members' resumes fail). Without a store it is a shutdown.
    pub async fn end_party(&self, reason: Option<&str>) -> Result<(), ServerError> {
        self.shutdown(reason).await;
        let Some(path) = &self.store_path else { return Ok(()) };
        // The file was let go at shutdown: opened again to end its party, then let go again.
        store::Store::open(path)?.end_party()?;
        info!(path = %path.display(), "the party is ended for good");
        Ok(())
    }

    /// Writes to the store, if there is one; a failure is logged loudly (the party goes on).
    fn store_with(&self, write: impl FnOnce(&mut store::Store) -> Result<(), store::StoreError>) {
        let Some(store) = &self.shared.store else { return };
        let mut store = match store.lock() {
            Ok(store) => store,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(store) = store.as_mut() else { return };
        if let Err(err) = write(store) {
            tracing::error!(cause = %err, "could not write the party's store");
        }
    }

    /// Runs `action` on the session in the session task, and answers once its effect is out
    /// (see [`driver::Action`]).
    async fn act<T: Send + 'static>(
        &self,
        action: impl FnOnce(&mut Session, Time) -> T + Send + 'static,
    ) -> Result<T, ServerError> {
        act(&self.commands, action).await
    }
}

/// Runs `action` on the session task and waits for its answer (after the task has flushed what
/// it did): the one way in for host actions, from the handle and from the REST routes.
pub(crate) async fn act<T: Send + 'static>(
    commands: &mpsc::Sender<driver::Action>,
    action: impl FnOnce(&mut Session, Time) -> T + Send + 'static,
) -> Result<T, ServerError> {
    let (reply, answer) = oneshot::channel();
    let run: driver::Action = Box::new(move |session, now| {
        let result = action(session, now);
        // A caller that stopped waiting for its answer is no error of ours.
        Box::new(move || {
            let _ = reply.send(result);
        })
    });
    commands.send(run).await.map_err(|_| ServerError::Stopped)?;
    answer.await.map_err(|_| ServerError::Stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys are 22 base64url characters (128 bits) and differ each time.
    #[test]
    fn join_keys() {
        let (a, b) = (generate_join_key(), generate_join_key());
        assert_eq!(a.len(), 22, "{a}");
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{a}");
        assert_ne!(a, b);
        assert_eq!(base64url(b"\xff\xff\xff"), "____");
        assert_eq!(base64url(b"Ma"), "TWE");
    }
}
