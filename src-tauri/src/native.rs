//! What makes the app behave as a desktop app is expected to: one instance (a second launch
//! brings the first window forward: [`focus_main`], called by the single-instance plugin), a
//! window that fits the screen ([`fit_to_screen`]) and names the party ([`window_title`]), a
//! close that asks first while guests are in the party ([`on_close_requested`]), and the native
//! folder picker ([`pick_media_folder`]).
//!
//! The dialogs are opened from Rust, never by the page: the window is granted none of the
//! dialog plugin's permissions. The close question is the page's own dialog (`ui/desktop/native.js`):
//! the window asks it through the [`CLOSE_REQUESTED`] event, and the answer "End party" comes
//! back as [`close_app`].

use std::path::PathBuf;

use tauri::{AppHandle, CloseRequestApi, Emitter, Manager, Runtime, State, Window};
use tauri_plugin_dialog::DialogExt;

use crate::error::CommandError;
use crate::hosting::AppState;

/// The app's name, as its window is titled alone (`productName` in `tauri.conf.json`).
const APP_NAME: &str = "Partyline";

/// The main window's label (`tauri.conf.json`).
pub const MAIN_WINDOW: &str = "main";

/// The event the page gets when the window is asked to close while guests are in the party:
/// `{"guests": 3}`. The page asks "End the party for 3 guests?".
pub const CLOSE_REQUESTED: &str = "close-requested";

/// What a window that does not fit its screen's work area (the screen less its panels) is
/// shrunk to, as a share of it: a 1366×768 laptop's work area is about 1366×740, and the
/// configured 1280×720 (`tauri.conf.json`) plus a title bar does not fit it; 94% leaves a margin
/// around the window, so it reads as a window, not as a full screen the user did not ask for.
/// A window that fits keeps its configured size.
const SCREEN_SHARE: f64 = 0.94;

/// The window's title for a party: "Rooftop — Partyline"; "Partyline" when not hosting, or for
/// a party of the default name (not "Partyline — Partyline").
pub fn window_title(party: Option<&str>) -> String {
    match party.map(str::trim).filter(|name| !name.is_empty() && *name != APP_NAME) {
        Some(name) => format!("{name} — Partyline"),
        None => APP_NAME.to_string(),
    }
}

/// Sets the main window's title (a no-op before the window exists).
pub fn set_title<R: Runtime>(app: &AppHandle<R>, party: Option<&str>) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW)
        && let Err(err) = window.set_title(&window_title(party))
    {
        tracing::warn!(%err, "cannot set the window's title");
    }
}

/// Shrinks the window to fit the screen it opened on when its configured size does not, and
/// centers it; a screen large enough keeps the configured size. Called when the page has loaded
/// (the window exists and is on a screen by then; `setup` runs before the window is made).
pub fn fit_to_screen<R: Runtime>(window: &Window<R>) {
    // A window not yet shown may have no monitor of its own yet: the primary one it opens on.
    let monitor = window.current_monitor().ok().flatten().or_else(|| window.primary_monitor().ok().flatten());
    let (Some(monitor), Ok(outer), Ok(inner)) = (monitor, window.outer_size(), window.inner_size()) else {
        tracing::info!("no screen to fit the window to");
        return;
    };
    // Without a window manager the frame is unknown (an outer size of 0): the inner size is all.
    let outer = if outer.width == 0 || outer.height == 0 { inner } else { outer };
    // Without a window manager (or a panel) there is no work area: the whole screen is.
    let work = monitor.work_area().size;
    let area = if work.width == 0 || work.height == 0 { *monitor.size() } else { work };
    if outer.width <= area.width && outer.height <= area.height {
        return;
    }
    let share = |side: u32| (side as f64 * SCREEN_SHARE) as u32;
    let (max_w, max_h) = (share(area.width).min(outer.width), share(area.height).min(outer.height));
    // The title bar and borders stay as they are: shrink the inner size by the excess.
    let width = inner.width.saturating_sub(outer.width - max_w);
    let height = inner.height.saturating_sub(outer.height - max_h);
    tracing::info!(width, height, screen = ?(area.width, area.height), "the window is sized to fit the screen");
    let _ = window.set_size(tauri::PhysicalSize::new(width, height));
    let _ = window.center();
}

/// A second launch (the single-instance plugin's callback, in the first instance): its window
/// comes forward, shown and unminimized. The second process exits without hosting.
pub fn focus_main<R: Runtime>(app: &AppHandle<R>) {
    tracing::info!("a second launch: bringing the window forward");
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// The window was asked to close (its close button, the window manager, Alt+F4). With guests
/// in the party the close waits and the page asks; with none it goes ahead.
pub fn on_close_requested<R: Runtime>(window: &Window<R>, api: &CloseRequestApi) {
    let guests = window.app_handle().state::<AppState>().guests();
    if guests == 0 {
        return;
    }
    api.prevent_close();
    tracing::info!(guests, "close asked while guests are in the party: the page asks first");
    if let Err(err) = window.emit_to(window.label(), CLOSE_REQUESTED, serde_json::json!({ "guests": guests })) {
        tracing::warn!(%err, "cannot ask the page; closing");
        window.app_handle().exit(0);
    }
}

/// The page's "End party" answer to the close question: the app exits, ending the party on the
/// way out as any exit does (guests are told; the party stays in its file for the next launch, without them).
#[tauri::command]
pub fn close_app<R: Runtime>(app: AppHandle<R>) {
    app.exit(0);
}

/// The native folder picker (GTK's, through the dialog plugin), starting in the folder shared
/// now; the chosen folder, or `None` when the picker was cancelled. The page puts it in the
/// media folder field and shares it as a typed one. With `PARTYLINE_PICK_FOLDER` set (tests:
/// a native dialog cannot be driven through WebDriver), that folder is the answer and no
/// dialog opens.
#[tauri::command]
pub async fn pick_media_folder<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<Option<String>, CommandError> {
    if let Some(folder) = state.launch().pick_folder.clone() {
        return Ok(Some(folder.display().to_string()));
    }
    let start: Option<PathBuf> = state.settings().media_folder;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut dialog = app.dialog().file().set_title("Choose the folder of music or video to share");
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        dialog = dialog.set_parent(&window);
    }
    if let Some(start) = start.filter(|dir| dir.is_dir()) {
        dialog = dialog.set_directory(start);
    }
    // Not blocking: GTK's dialog runs on the main thread, which a blocking call would hold.
    dialog.pick_folder(move |picked| {
        let _ = tx.send(picked);
    });
    let picked = rx.await.map_err(|_| CommandError::new("dialog", "the folder picker closed without an answer"))?;
    match picked.map(|path| path.into_path()) {
        None => Ok(None),
        Some(Ok(path)) => Ok(Some(path.display().to_string())),
        Some(Err(err)) => Err(CommandError::new("dialog", format!("the folder picker gave no usable path: {err}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The title names the party ("Rooftop — Partyline"), and is the app's name alone when
    /// there is no party or its name is blank.
    #[test]
    fn the_title_names_the_party() {
        for (party, want) in [
            (Some("Rooftop"), "Rooftop — Partyline"),
            (Some("  Rooftop "), "Rooftop — Partyline"),
            (Some(""), "Partyline"),
            (Some("Partyline"), "Partyline"),
            (None, "Partyline"),
        ] {
            let got = window_title(party);
            assert_eq!(got, want, "for {party:?}: expected {want:?}, got {got:?}");
        }
    }
}
