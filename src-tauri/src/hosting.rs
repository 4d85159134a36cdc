//! The app's one party: start it through the `partyline_host` facade, act on it, forward its
//! typed events to the web view, remember its settings. Each command in `commands` is one call
//! to a method here, so tests can call these directly or through IPC.
//!
//! The page receives the facade's own shapes: [`HostView`] is a [`HostInfo`] with what only the
//! window has, and each `host-event` is a [`HostEvent`] (or [`Lagged`]) as `partyline host --json`
//! prints it, with the `generation` added.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use partyline_host::{Host, HostConfig, HostEvent, HostInfo, JoinAddress, Lagged, Limits, MemberInfo, SessionState};
use partyline_host::{HostError, ServerError, SvgSize, UploadPolicy};
use serde::Serialize;
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter, Runtime};

use crate::error::CommandError;
use crate::launch::LaunchOptions;
use crate::settings::Settings;

/// The event name the web view listens to.
pub const HOST_EVENT: &str = "host-event";

/// Parties without a file started in this process, for each one's own temp uploads folder (a
/// process can hold several apps: the command tests do).
static PARTIES: AtomicU64 = AtomicU64::new(1);

/// How long stopping may take before the app gives up on a clean goodbye.
pub const STOP_WAIT: Duration = Duration::from_secs(3);

/// Everything the commands share (Tauri-managed state).
pub struct AppState {
    launch: LaunchOptions,
    host_name: String,
    /// The SyncPlay media folder chosen for this launch (see [`crate::syncplay`]).
    pub(crate) media: Mutex<crate::syncplay::MediaChoice>,
    settings_path: Option<PathBuf>,
    settings: Mutex<Settings>,
    hosting: tokio::sync::Mutex<Hosting>,
    /// The address picked for the join URL this run (`None`: the remembered interface's, else
    /// the best).
    picked: Mutex<Option<IpAddr>>,
    /// The running session's id, readable without waiting (the browse thread marks our own
    /// party with it).
    session_id: Mutex<Option<String>>,
    /// The running session's state, readable without waiting (the window's close asks first
    /// while it has guests).
    live: Mutex<Option<tokio::sync::watch::Receiver<SessionState>>>,
}

#[derive(Default)]
struct Hosting {
    current: Option<Running>,
    /// Counts hosts started by this app; events carry it so the page can drop a stale one.
    generation: u64,
    /// Why the last start failed, shown on the "not hosting" screen.
    last_error: Option<CommandError>,
}

struct Running {
    host: Host,
    generation: u64,
    forwarder: JoinHandle<()>,
    /// The temp folder a party without a file keeps what guests share in, removed when it
    /// ends. A party with a file has the host keep them beside it (`party.uploads/`), where
    /// they outlive the app as the party does: `None`.
    temporary: Option<PathBuf>,
}

impl Running {
    /// What guests shared was for this party: a temp folder goes when the party ends. A party
    /// with a file keeps its folder (the next start picks the party up, uploads and all; "New
    /// party" starts with it emptied).
    fn remove_uploads(&self) {
        let Some(dir) = &self.temporary else { return };
        if let Err(err) = std::fs::remove_dir_all(dir)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), %err, "cannot remove the guests' uploads");
        }
    }
}

/// What the host screen shows when no network guests can reach exists, in place of the
/// facade's words: what to do, and that the code redraws itself.
pub const NO_NETWORK_TEXT: &str = "Connect this computer to the Wi-Fi your guests use; the code will update by itself. Until then only this \
     computer can open the link.";

/// What the host screen shows: the facade's [`HostInfo`], its URLs on the selected address, and
/// what only the window has.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostView {
    /// Which start of the host this is; its events carry it too.
    pub generation: u64,
    /// The party's URLs, key, code and addresses (`partyline host --json`'s first line), the
    /// URLs and QR code on `selected`.
    #[serde(flatten)]
    pub info: HostInfo,
    /// The address picker's choice: which of `addresses` the QR code and URLs use.
    pub selected: IpAddr,
    /// The join URL as an SVG QR code that scales with the window.
    pub qr_svg: String,
    /// Whether mDNS was asked for (off with `--no-mdns` / `PARTYLINE_NO_MDNS=1`).
    pub mdns: bool,
    /// The session now: name, lock, capacity, member count.
    pub session: SessionState,
}

/// A host event as the web view receives it: the event as `partyline host --json` prints it, plus
/// which host sent it: `{"generation": 1, "event": "member_joined", "id": "m-…", ...}`.
#[derive(Debug, Clone, Serialize)]
pub struct HostEventPayload<E> {
    /// Which host sent it.
    pub generation: u64,
    /// A [`HostEvent`] or [`Lagged`].
    #[serde(flatten)]
    pub event: E,
}

impl AppState {
    /// State for a launch; settings are read from (and saved to) `settings_path` when given.
    pub fn new(launch: LaunchOptions, settings_path: Option<PathBuf>) -> Self {
        let settings: Settings = settings_path.as_deref().map(Settings::load).unwrap_or_default();
        let media = crate::syncplay::MediaChoice::new(launch.media.clone().or_else(|| settings.media_folder.clone()));
        AppState {
            launch,
            host_name: this_computer(),
            media: Mutex::new(media),
            settings_path,
            settings: Mutex::new(settings),
            hosting: tokio::sync::Mutex::new(Hosting::default()),
            picked: Mutex::new(None),
            session_id: Mutex::new(None),
            live: Mutex::new(None),
        }
    }

    /// How this launch hosts.
    pub fn launch(&self) -> &LaunchOptions {
        &self.launch
    }

    /// Guests in the party now (reconnecting ones included), 0 when not hosting.
    pub fn guests(&self) -> u32 {
        self.live.lock().unwrap().as_ref().map_or(0, |state| state.borrow().member_count)
    }

    /// The remembered settings.
    pub fn settings(&self) -> Settings {
        self.settings.lock().unwrap().clone()
    }

    pub(crate) fn update_settings(&self, change: impl FnOnce(&mut Settings)) -> Result<(), CommandError> {
        let settings = {
            let mut settings = self.settings.lock().unwrap();
            change(&mut settings);
            settings.clone()
        };
        match &self.settings_path {
            Some(path) => settings.save(path),
            None => Ok(()),
        }
    }

    /// Starts hosting with the remembered settings (a no-op when already hosting) and forwards
    /// the host's events to `app`'s web views.
    pub async fn start<R: Runtime>(&self, app: &AppHandle<R>) -> Result<HostView, CommandError> {
        let mut hosting = self.hosting.lock().await;
        if let Some(running) = &hosting.current {
            return self.view_of(running);
        }
        let settings = self.settings();
        // A party with a file keeps its guests' files beside it (the host's `party.uploads/`,
        // as `partyline host --party-file` does); one without, in a temp folder of its own.
        let temporary = self.launch.party_file.is_none().then(|| {
            std::env::temp_dir().join(format!(
                "{}{}-{}",
                crate::uploads::FOLDER_PREFIX,
                std::process::id(),
                PARTIES.fetch_add(1, Ordering::Relaxed)
            ))
        });
        // Fields this app does not set keep the facade's defaults (it is still growing).
        #[allow(clippy::needless_update)]
        let config = HostConfig {
            name: settings.party_name.clone(),
            host_name: self.host_name.clone(),
            bind: self.launch.bind,
            port: self.launch.port,
            max_members: settings.capacity,
            open: false,
            limits: Limits::default(),
            // Every usable address, so the picker can offer them all; the remembered interface
            // only decides which one the QR code holds (it may be gone on another network).
            interface: None,
            mdns: self.launch.mdns,
            media: self.media.lock().unwrap().start(),
            // The facade's limits; the switch as left; the folder as above.
            uploads: UploadPolicy {
                allowed: settings.guest_uploads,
                dir: temporary.clone(),
                ..UploadPolicy::default()
            },
            // The party outlives the app: a crash or `kill -9` and the next launch picks it up
            // (same key, QR code and guests); "New party" ([`AppState::new_party`]) ends it.
            store: self.launch.party_file.clone(),
            new_party: false,
            ..HostConfig::default()
        };
        // A shared folder that has gone away must not keep the party from starting: it starts
        // sharing nothing, and the SyncPlay panel says why.
        let started = match Host::start(config.clone()).await {
            Err(HostError::Server(ServerError::Media(err))) => {
                self.media.lock().unwrap().unavailable(err.to_string());
                Host::start(HostConfig { media: None, ..config }).await
            }
            started => started,
        };
        let host = match started {
            Ok(host) => host,
            Err(err) => {
                if let Some(dir) = &temporary {
                    let _ = std::fs::remove_dir_all(dir);
                }
                let err = CommandError::from(err);
                hosting.last_error = Some(err.clone());
                return Err(err);
            }
        };
        hosting.generation += 1;
        let generation = hosting.generation;
        let forwarder = tauri::async_runtime::spawn(forward(app.clone(), generation, host.clone()));
        let running = Running { host, generation, forwarder, temporary };
        *self.session_id.lock().unwrap() = Some(running.host.info().session_id.clone());
        *self.live.lock().unwrap() = Some(running.host.watch_state());
        crate::native::set_title(app, Some(&running.host.state().name));
        if running.host.info().restored {
            tracing::info!(guests = running.host.state().member_count, "the party was picked up from its file");
        }
        let shown = self.view_of(&running);
        hosting.current = Some(running);
        hosting.last_error = None;
        shown
    }

    /// Stops hosting (guests see "the party is over"); a party with a file stays in it, without
    /// those guests, for the next start to pick up. Not hosting is no error.
    pub async fn stop(&self) -> Result<(), CommandError> {
        if let Some(running) = self.take_running().await {
            running.host.stop().await;
            running.remove_uploads();
        }
        Ok(())
    }

    /// "New party": ends the party for good (its file emptied: the old QR code, room code and
    /// guests' resumes stop working) and starts a fresh one, with a new key and room code.
    pub async fn new_party<R: Runtime>(&self, app: &AppHandle<R>) -> Result<HostView, CommandError> {
        if let Some(running) = self.take_running().await {
            let ended = running.host.end_party().await;
            running.remove_uploads();
            ended?;
        } else if let Some(file) = &self.launch.party_file {
            // Not hosting (the last start failed, or the party was stopped): the file's party
            // is ended all the same, so the start below makes a new one.
            let host = Host::start(HostConfig {
                bind: std::net::Ipv4Addr::LOCALHOST.into(),
                mdns: false,
                store: Some(file.clone()),
                new_party: true,
                ..HostConfig::default()
            })
            .await?;
            host.end_party().await?;
        }
        tracing::info!("a new party");
        self.start(app).await
    }

    /// The running host, no longer running as far as the page and the window know.
    async fn take_running(&self) -> Option<Running> {
        let running = self.hosting.lock().await.current.take();
        *self.session_id.lock().unwrap() = None;
        *self.live.lock().unwrap() = None;
        let running = running?;
        // The page asked for this; it needs no `closed` event from the old host.
        running.forwarder.abort();
        Some(running)
    }

    /// A new join key and room code: the old QR code and room code stop letting anyone join;
    /// the party goes on, on the same port, with every guest still in it.
    pub async fn new_key(&self) -> Result<HostView, CommandError> {
        let hosting = self.hosting.lock().await;
        let running = hosting.current.as_ref().ok_or_else(CommandError::not_hosting)?;
        running.host.new_key()?;
        self.view_of(running)
    }

    /// The host screen's data.
    pub async fn view(&self) -> Result<HostView, CommandError> {
        let hosting = self.hosting.lock().await;
        match &hosting.current {
            Some(running) => self.view_of(running),
            None => Err(hosting.last_error.clone().unwrap_or_else(CommandError::not_hosting)),
        }
    }

    pub(crate) async fn host(&self) -> Result<Host, CommandError> {
        let hosting = self.hosting.lock().await;
        hosting.current.as_ref().map(|r| r.host.clone()).ok_or_else(CommandError::not_hosting)
    }

    /// Every member, the host first.
    pub async fn members(&self) -> Result<Vec<MemberInfo>, CommandError> {
        Ok(self.host().await?.members().await?)
    }

    /// Removes a member (and with `ban`, keeps its device out); returns it as it was.
    pub async fn kick(&self, member_id: &str, reason: Option<&str>, ban: bool) -> Result<MemberInfo, CommandError> {
        let host = self.host().await?;
        let reason = reason.map(str::trim).filter(|r| !r.is_empty()).unwrap_or(partyline_host::DEFAULT_KICK_REASON);
        if ban {
            return Ok(host.ban(member_id, reason).await?);
        }
        Ok(host.kick(member_id, reason).await?)
    }

    /// The devices kept out.
    pub async fn bans(&self) -> Result<Vec<partyline_host::Ban>, CommandError> {
        Ok(self.host().await?.bans().await?)
    }

    /// Lets a device back in.
    pub async fn unban(&self, device_id: &str) -> Result<partyline_host::Ban, CommandError> {
        Ok(self.host().await?.unban(device_id).await?)
    }

    /// Locks or unlocks; returns the session after the change.
    pub async fn set_locked(&self, locked: bool) -> Result<SessionState, CommandError> {
        Ok(self.host().await?.set_locked(locked).await?)
    }

    /// Sets and remembers the capacity; returns the session after the change.
    pub async fn set_capacity(&self, max_members: u32) -> Result<SessionState, CommandError> {
        let state = self.host().await?.set_capacity(max_members).await?;
        self.update_settings(|s| s.capacity = max_members)?;
        Ok(state)
    }

    /// Renames and remembers the party; returns the session after the change.
    pub async fn rename(&self, name: &str) -> Result<SessionState, CommandError> {
        let state = self.host().await?.rename(name).await?;
        self.update_settings(|s| s.party_name = state.name.clone())?;
        Ok(state)
    }

    /// The running session's id (`None` when not hosting).
    pub fn session_id(&self) -> Option<String> {
        self.session_id.lock().unwrap().clone()
    }

    /// Puts `addr` (one of [`HostView::addresses`]) in the QR code and join URL, and remembers
    /// its interface for the next launch. The party goes on: the host listens on every address.
    pub async fn choose_address(&self, addr: &str) -> Result<HostView, CommandError> {
        let hosting = self.hosting.lock().await;
        let running = hosting.current.as_ref().ok_or_else(CommandError::not_hosting)?;
        let offered = running.host.info().addresses;
        let Some(chosen) = offered.iter().find(|a| a.addr.to_string() == addr.trim()) else {
            let list: Vec<String> = offered.iter().map(|a| a.addr.to_string()).collect();
            return Err(CommandError::new(
                "bad_address",
                format!("{addr:?} is not one of this party's addresses ({})", list.join(", ")),
            ));
        };
        *self.picked.lock().unwrap() = Some(chosen.addr);
        let interface = chosen.interface.clone();
        self.update_settings(|s| s.interface = Some(interface))?;
        self.view_of(running)
    }

    /// The address the QR code holds: picked this run, else the remembered interface's, else
    /// the best.
    fn selected<'a>(&self, offered: &'a [JoinAddress]) -> &'a JoinAddress {
        let picked = *self.picked.lock().unwrap();
        let remembered = self.settings.lock().unwrap().interface.clone();
        offered
            .iter()
            .find(|a| Some(a.addr) == picked)
            .or_else(|| offered.iter().find(|a| Some(&a.interface) == remembered.as_ref()))
            .unwrap_or(&offered[0])
    }

    fn view_of(&self, running: &Running) -> Result<HostView, CommandError> {
        let info = running.host.info();
        let selected = self.selected(&info.addresses).addr;
        let mut info = info.via(selected).unwrap_or(info);
        for warning in &mut info.warnings {
            if warning == partyline_host::NO_NETWORK_WARNING {
                *warning = NO_NETWORK_TEXT.to_string();
            }
        }
        let qr_svg = partyline_host::qr_svg(&info.join_url, SvgSize::Scalable)
            .map_err(|err| CommandError::new("qr", format!("cannot make a QR code of the join URL: {err}")))?;
        Ok(HostView {
            generation: running.generation,
            info,
            selected,
            qr_svg,
            mdns: self.launch.mdns,
            session: running.host.state(),
        })
    }
}

/// Sends each host event to the web views until the host closes, and a `network_changed` one
/// ([`partyline_host::NetworkChanged`]) when the addresses guests can reach change (the page
/// then redraws the QR code from `host_info`). A rename retitles the window.
async fn forward<R: Runtime>(app: AppHandle<R>, generation: u64, host: Host) {
    let mut events = host.subscribe();
    // `None` once the host's address follower is gone (at stop, or never started: a host
    // bound to one address).
    let mut network = Some(host.watch_addresses());
    // The host is not kept alive by its forwarder: only its event channels.
    drop(host);
    loop {
        let event = tokio::select! {
            event = partyline_host::next_event(&mut events) => match event {
                Some(event) => event,
                None => break,
            },
            changed = async { network.as_mut().expect("guarded").changed().await }, if network.is_some() => {
                let Some(watch) = network.as_mut().filter(|_| changed.is_ok()) else {
                    network = None;
                    continue;
                };
                let event = watch.borrow_and_update().clone();
                if let Err(err) = app.emit(HOST_EVENT, HostEventPayload { generation, event }) {
                    tracing::warn!(%err, "cannot send a host event to the window");
                }
                continue;
            }
        };
        let closed = matches!(event, Ok(HostEvent::Closed));
        if let Ok(HostEvent::SessionUpdated(state)) = &event {
            crate::native::set_title(&app, Some(&state.name));
        }
        if closed {
            crate::native::set_title(&app, None);
        }
        let sent = match event {
            Ok(event) => app.emit(HOST_EVENT, HostEventPayload { generation, event }),
            Err(lagged) => app.emit(HOST_EVENT, HostEventPayload::<Lagged> { generation, event: lagged }),
        };
        if let Err(err) = sent {
            tracing::warn!(%err, "cannot send a host event to the window");
        }
        if closed {
            break;
        }
    }
}

/// This computer's name, for the host's own member.
fn this_computer() -> String {
    partyline_host::computer_name().unwrap_or_else(|| "Host".into())
}
