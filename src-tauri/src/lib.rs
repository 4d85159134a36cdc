//! Partyline's desktop app (Tauri 2): hosts a party on launch through the `partyline_host`
//! facade and shows its QR code, members and controls; browses and joins other parties.
//!
//! # Layout
//! - [`commands`]: the Tauri commands, a few lines each.
//! - [`hosting`]: the app's party: start/stop through the facade, actions, events to the page.
//! - [`error`]: the one command error, `{code, message}`.
//! - [`settings`]: party name, capacity, interface and media folder, remembered in `settings.json`.
//! - [`launch`]: `--bind` / `PARTYLINE_BIND`, `--port`, `--no-mdns` / `PARTYLINE_NO_MDNS`,
//!   `--media` / `PARTYLINE_MEDIA`.
//! - [`syncplay`]: the SyncPlay panel: media folder, library (with covers, on `cover:`), transport,
//!   queue, who is in sync.
//! - [`join`]: looking up another host to join it from the Browse tab.
//! - [`browse`]: the parties on the LAN (mDNS), live, for the Browse tab.
//! - [`messaging`]: announcements to every guest (`notify`); deleting any chat line (`delete_chat`).
//! - [`uploads`]: whether guests share songs and photos (`set_uploads`), the photos they shared.
//! - [`native`]: one instance, the window's size and title, a close that asks while guests are
//!   in the party, the native folder picker.
//!
//! The page is `ui/desktop/` (plain HTML/CSS/JS); it imports `ui/shared/client.js`.

pub mod browse;
pub mod commands;
pub mod error;
pub mod hosting;
pub mod join;
pub mod launch;
pub mod messaging;
pub mod native;
pub mod settings;
pub mod syncplay;
pub mod uploads;

use std::path::PathBuf;

use tauri::{AppHandle, Manager, RunEvent, Runtime, WindowEvent};

pub use error::CommandError;
pub use hosting::AppState;
pub use launch::LaunchOptions;

/// Adds the app to a builder (`tauri::Builder::default()`, or `tauri::test::mock_builder()` in
/// tests): the dialog plugin (the folder picker), the commands, the photos' and covers' URI
/// schemes ([`uploads::PHOTO_SCHEME`], [`syncplay::COVER_SCHEME`]), the window fitted to its screen once its page has loaded, the
/// close that asks ([`native::on_close_requested`]), and a `setup` that calls [`init`].
pub fn configure<R: Runtime>(
    builder: tauri::Builder<R>,
    launch: LaunchOptions,
    settings_file: Option<PathBuf>,
) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(commands::handler())
        .register_asynchronous_uri_scheme_protocol(uploads::PHOTO_SCHEME, uploads::serve_photo)
        .register_asynchronous_uri_scheme_protocol(syncplay::COVER_SCHEME, syncplay::serve_cover)
        .on_page_load(|webview, payload| {
            if payload.event() == tauri::webview::PageLoadEvent::Finished {
                native::fit_to_screen(&webview.window());
            }
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                native::on_close_requested(window, api);
            }
        })
        .setup(move |app| {
            init(app.handle(), launch, settings_file);
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                shutdown_signal().await;
                // Through the normal exit, so `run` ends the party properly.
                handle.exit(0);
            });
            Ok(())
        })
}

/// Ctrl-C, or SIGTERM on Unix (`kill`, a session logging out, a test harness).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else { return std::future::pending().await };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Manages the app's state and starts hosting. Settings live in `settings_file`, by default
/// `settings.json` in the app's config directory. `setup` calls this; tests call it on a mock
/// app (whose event loop, and so `setup`, never runs).
pub fn init<R: Runtime>(app: &AppHandle<R>, launch: LaunchOptions, settings_file: Option<PathBuf>) {
    let settings = settings_file.or_else(|| app.path().app_config_dir().ok().map(|dir| dir.join("settings.json")));
    let mdns = launch.mdns;
    uploads::remove_stale_folders(&std::env::temp_dir());
    app.manage(AppState::new(launch, settings));
    app.manage(browse::Browsing::default());
    // Bind before the page loads, so its first `host_info` finds the party. A failure is kept
    // and shown on the page, which offers to try again.
    tauri::async_runtime::block_on(async {
        if let Err(err) = app.state::<AppState>().start(app).await {
            tracing::error!(%err, "could not start hosting");
        }
    });
    // Browsing is mDNS too: off with `--no-mdns`, so nothing multicasts.
    if mdns {
        browse::start(app.clone());
    }
}

/// Runs the app until its window closes; ends the party on the way out.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(partyline_host::log_filter("warn,partyline_desktop=info"))
        .with_writer(std::io::stderr)
        .init();
    let launch = match LaunchOptions::from_process() {
        Ok(launch) => launch,
        Err(err) => {
            eprintln!("partyline-desktop: {err}");
            std::process::exit(2);
        }
    };
    // One instance: the first plugin, so a second launch goes no further than asking the first
    // (over the session's D-Bus) to bring its window forward, then exits: no second party, no
    // second window. Without a session bus the plugin lets every launch through; the party
    // file's lock then turns the second away (see `hosting`).
    let single = tauri_plugin_single_instance::init(|app, _args, _cwd| native::focus_main(app));
    let app = configure(tauri::Builder::default().plugin(single), launch, None)
        .build(tauri::generate_context!())
        .unwrap_or_else(|err| {
            eprintln!("partyline-desktop: cannot start: {err}");
            std::process::exit(1);
        });
    app.run(|app, event| {
        if let RunEvent::Exit = event {
            // Guests get `session_closed` ("the party is over") rather than a dropped connection.
            let state = app.state::<AppState>();
            tauri::async_runtime::block_on(async {
                let _ = tokio::time::timeout(hosting::STOP_WAIT, state.stop()).await;
            });
        }
    });
}
