//! Guests' songs and photos, from the host screen: the switch "Guests share songs and photos"
//! (`Host::set_uploads`, remembered for the next launch) and the Photos card (`Host::photos`, then
//! each `photo_shared` host event; see [`partyline_host::HostEvent::PhotoShared`]). The host
//! checks every upload itself; this module only passes the host's choice on, and shows the
//! photos it kept.
//!
//! The web view cannot load a photo from the party's own `/media/` URL: the host answers its
//! files with `Cross-Origin-Resource-Policy: same-origin` (no other site's page may embed them),
//! and the web view's origin is the app's (`tauri://localhost`). So the app reads each photo the
//! host lists from the folder the host keeps uploads in (`Host::uploads_dir`: beside the party's
//! file, where they outlive the app as the party does; for a party without a file, a temp folder
//! of the app's own, removed when it ends) and serves it on the [`PHOTO_SCHEME`] URI scheme.

use std::path::Path;

use partyline_host::Photo;
use serde::Serialize;
use tauri::http::{Request, Response, StatusCode, header};
use tauri::{Manager, Runtime, State, UriSchemeContext, UriSchemeResponder};

use crate::error::CommandError;
use crate::hosting::AppState;

/// How the temp folders the app gives its parties without a file for guests' uploads begin
/// (then the process id and the party's number, in the temp directory). Earlier versions gave
/// every party one, so a crash lost what guests had shared; those folders are swept too.
pub const FOLDER_PREFIX: &str = "partyline-desktop-uploads-";

/// Removes the uploads folders earlier runs of the app left in `dir`: a run that was killed, or
/// whose exit gave up waiting for the party to end (`hosting::STOP_WAIT`), never removed its
/// own. Each is named by its process id; one whose process is gone is no one's.
pub fn remove_stale_folders(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name.to_str().and_then(|n| n.strip_prefix(FOLDER_PREFIX)).and_then(|rest| rest.split('-').next());
        let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id()
            && !process_alive(pid)
            && let Err(err) = std::fs::remove_dir_all(entry.path())
        {
            tracing::warn!(dir = %entry.path().display(), %err, "cannot remove an old uploads folder");
        }
    }
}

/// Whether process `pid` runs; where that cannot be told, it is taken to (its folder stays).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

/// The scheme the page loads photos from: `photo://localhost/<id>` (Windows and Android:
/// `http://photo.localhost/<id>`), allowed as `img-src` in the window's CSP.
pub const PHOTO_SCHEME: &str = "photo";

/// What the switch shows: whether guests may share songs and photos now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadsView {
    /// On or off, as the host has it after the change.
    pub allowed: bool,
}

impl AppState {
    /// Lets guests share songs and photos, or stops them (what they shared stays), and remembers
    /// the choice. Answers with the host's state after the change.
    pub async fn set_uploads(&self, allowed: bool) -> Result<UploadsView, CommandError> {
        let host = self.host().await?;
        host.set_uploads(allowed);
        self.update_settings(|s| s.guest_uploads = allowed)?;
        Ok(UploadsView { allowed: host.uploads_allowed() })
    }

    /// Whether guests may share songs and photos now.
    pub async fn uploads(&self) -> Result<UploadsView, CommandError> {
        Ok(UploadsView { allowed: self.host().await?.uploads_allowed() })
    }

    /// The photos guests shared, oldest first (the host keeps the newest 50).
    pub async fn photos(&self) -> Result<Vec<Photo>, CommandError> {
        Ok(self.host().await?.photos().await?)
    }
}

impl AppState {
    /// A photo the host lists, as the Photos card shows it: its bytes and type, read from the
    /// party's uploads folder. `no_such_photo` for an id the host does not list (a song's
    /// included: only photos are shown).
    pub async fn photo(&self, id: &str) -> Result<(Vec<u8>, &'static str), CommandError> {
        let host = self.host().await?;
        let missing = || CommandError::new("no_such_photo", format!("the party has no photo {id:?}"));
        let photos = host.photos().await?;
        let dir = host.uploads_dir().ok_or_else(missing)?;
        let photo = photos.iter().find(|p| p.id == id).ok_or_else(missing)?;
        // The host's own url, `/media/guests/<id>.<ext>`: a path in its uploads folder.
        let relative = photo
            .url
            .strip_prefix("/media/")
            .filter(|rel| rel.split('/').all(|part| !part.is_empty() && part != "." && part != ".."))
            .ok_or_else(missing)?;
        let mime = image_type(Path::new(relative)).ok_or_else(missing)?;
        let bytes = tokio::fs::read(dir.join(relative))
            .await
            .map_err(|err| CommandError::new("no_such_photo", format!("cannot read the photo {id:?}: {err}")))?;
        Ok((bytes, mime))
    }
}

/// The types the host keeps photos as, by the extension it gave the file.
fn image_type(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// Answers a [`PHOTO_SCHEME`] request (`/<id>`) with the photo, or a plain 404.
pub fn serve_photo<R: Runtime>(ctx: UriSchemeContext<'_, R>, request: Request<Vec<u8>>, responder: UriSchemeResponder) {
    let app = ctx.app_handle().clone();
    let id = request.uri().path().trim_start_matches('/').to_string();
    tauri::async_runtime::spawn(async move {
        let photo = app.state::<AppState>().photo(&id).await;
        answer_image(responder, photo, None, "photo");
    });
}

/// Answers an image scheme's request (the desktop's `photo:` and `cover:`): the image with its
/// type (and `cache`, a `Cache-Control`, if any), or a plain 404 saying why.
pub(crate) fn answer_image(
    responder: UriSchemeResponder,
    image: Result<(Vec<u8>, &'static str), CommandError>,
    cache: Option<&'static str>,
    what: &str,
) {
    let answer = match image {
        Ok((bytes, mime)) => {
            let builder = Response::builder().header(header::CONTENT_TYPE, mime);
            match cache {
                Some(cache) => builder.header(header::CACHE_CONTROL, cache),
                None => builder,
            }
            .body(bytes)
        }
        Err(err) => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(err.message.into_bytes()),
    };
    match answer {
        Ok(answer) => responder.respond(answer),
        Err(err) => tracing::warn!(%err, what, "cannot answer an image request"),
    }
}

/// Turns guests' uploads on or off: `{allowed}`; answers `{allowed}` as the host has it.
#[tauri::command]
pub async fn set_uploads(state: State<'_, AppState>, allowed: bool) -> Result<UploadsView, CommandError> {
    state.set_uploads(allowed).await
}

/// Whether guests may share songs and photos now: `{allowed}`.
#[tauri::command]
pub async fn uploads(state: State<'_, AppState>) -> Result<UploadsView, CommandError> {
    state.uploads().await
}

/// The photos guests shared, oldest first: `[{id, url, name, from, fromName, timestamp}]`.
#[tauri::command]
pub async fn photos(state: State<'_, AppState>) -> Result<Vec<Photo>, CommandError> {
    state.photos().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of a process that is gone is removed; this process's and other names stay.
    #[test]
    fn stale_folders_of_gone_processes_are_removed() {
        let base = std::env::temp_dir().join(format!("partyline-desktop-sweep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        // Above Linux's largest pid (2^22): no process has it.
        let gone = base.join(format!("{FOLDER_PREFIX}4194305-1"));
        let ours = base.join(format!("{FOLDER_PREFIX}{}-1", std::process::id()));
        let other = base.join("partyline-desktop-settings");
        for dir in [&gone, &ours, &other] {
            std::fs::create_dir_all(dir.join("guests")).unwrap();
        }
        remove_stale_folders(&base);
        let left = [&gone, &ours, &other].map(|d| d.exists());
        assert_eq!(left, [!cfg!(target_os = "linux"), true, true], "gone, ours, another name");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
