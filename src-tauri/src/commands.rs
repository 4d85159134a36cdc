//! The Tauri commands: each is one call into [`AppState`] (or [`join`](crate::join)), and every
//! failure is a [`CommandError`] `{code, message}`.

use partyline_host::{MemberInfo, SessionState};
use tauri::ipc::Invoke;
use tauri::{AppHandle, Runtime, State};

use crate::browse::{BrowseView, Browsing};
use crate::error::CommandError;
use crate::hosting::{AppState, HostView};
use crate::join::{self, JoinTarget};
use crate::settings::Settings;

/// Every command, for `Builder::invoke_handler` (the app and the tests use the same list).
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        host_info,
        start_hosting,
        stop_hosting,
        new_party,
        new_key,
        members,
        kick,
        bans,
        unban,
        set_locked,
        set_capacity,
        rename,
        get_settings,
        choose_address,
        browse_sessions,
        resolve_join,
        crate::syncplay::playback,
        crate::syncplay::library_page,
        crate::syncplay::set_media_folder,
        crate::syncplay::syncplay_command,
        crate::syncplay::set_permissions,
        crate::syncplay::set_member_volume,
        crate::messaging::notify,
        crate::messaging::delete_chat,
        crate::uploads::set_uploads,
        crate::uploads::uploads,
        crate::uploads::photos,
        crate::native::pick_media_folder,
        crate::native::close_app,
    ]
}

/// The host screen: join URL, QR code SVG, room code, session.
#[tauri::command]
pub async fn host_info(state: State<'_, AppState>) -> Result<HostView, CommandError> {
    state.view().await
}

/// Starts hosting (no-op when hosting).
#[tauri::command]
pub async fn start_hosting<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<HostView, CommandError> {
    state.start(&app).await
}

/// Stops hosting (the party stays in its file for the next start, without its guests).
#[tauri::command]
pub async fn stop_hosting<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> Result<(), CommandError> {
    state.stop().await?;
    crate::native::set_title(&app, None);
    Ok(())
}

/// "New party": ends the party for good and starts a fresh one (new key, QR code, room code).
#[tauri::command]
pub async fn new_party<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> Result<HostView, CommandError> {
    state.new_party(&app).await
}

/// New key and room code while the party goes on (the old QR code stops letting anyone join;
/// guests in the party stay).
#[tauri::command]
pub async fn new_key(state: State<'_, AppState>) -> Result<HostView, CommandError> {
    state.new_key().await
}

/// Every member, the host first.
#[tauri::command]
pub async fn members(state: State<'_, AppState>) -> Result<Vec<MemberInfo>, CommandError> {
    state.members().await
}

/// Removes a member, telling it `reason`; with `ban`, its device stays out until `unban`.
#[tauri::command]
pub async fn kick(
    state: State<'_, AppState>,
    member_id: String,
    reason: Option<String>,
    ban: Option<bool>,
) -> Result<MemberInfo, CommandError> {
    state.kick(&member_id, reason.as_deref(), ban.unwrap_or(false)).await
}

/// The devices kept out, oldest ban first.
#[tauri::command]
pub async fn bans(state: State<'_, AppState>) -> Result<Vec<partyline_host::Ban>, CommandError> {
    state.bans().await
}

/// Lets a banned device join again.
#[tauri::command]
pub async fn unban(state: State<'_, AppState>, device_id: String) -> Result<partyline_host::Ban, CommandError> {
    state.unban(&device_id).await
}

/// Locks or unlocks the party.
#[tauri::command]
pub async fn set_locked(state: State<'_, AppState>, locked: bool) -> Result<SessionState, CommandError> {
    state.set_locked(locked).await
}

/// Sets (and remembers) the capacity.
#[tauri::command]
pub async fn set_capacity(state: State<'_, AppState>, max_members: u32) -> Result<SessionState, CommandError> {
    state.set_capacity(max_members).await
}

/// Renames (and remembers) the party.
#[tauri::command]
pub async fn rename(state: State<'_, AppState>, name: String) -> Result<SessionState, CommandError> {
    state.rename(&name).await
}

/// The remembered settings.
#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> Settings {
    state.settings()
}

/// Puts one of the party's addresses (`HostView::addresses`) in the QR code; remembered.
#[tauri::command]
pub async fn choose_address(state: State<'_, AppState>, addr: String) -> Result<HostView, CommandError> {
    state.choose_address(&addr).await
}

/// Parties found on the LAN (empty, with `enabled: false`, when mDNS is off).
#[tauri::command]
pub fn browse_sessions(browsing: State<'_, Browsing>, state: State<'_, AppState>) -> BrowseView {
    browsing.view(state.session_id().as_deref())
}

/// Looks up another host and trades its room code for the key, for joining it as a member.
#[tauri::command]
pub async fn resolve_join(address: String, room_code: Option<String>) -> Result<JoinTarget, CommandError> {
    join::resolve(&address, room_code.as_deref()).await
}
