//! SyncPlay from the desktop: the shared media folder (checked, remembered, and replaced while
//! the party goes on, with a note of what its scan skipped), the library a page at a time
//! (searched by title, artist or album) with lengths and artists, play/pause/seek/queue through
//! the facade, what members may control, and how in sync each member is.
//!
//! The commands at the bottom are one call each into the [`AppState`] methods here.
//!
//! Covers: the web view cannot load the host's `/media/.cover/<id>` (the host answers `/media/`
//! with `Cross-Origin-Resource-Policy: same-origin`, and the page's origin is the app's), so the
//! app serves each item's cover on its own [`COVER_SCHEME`], from `Host::cover`, as it serves
//! guests' photos on `photo:` ([`crate::uploads`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use partyline_host::{LibraryItem, MemberSync, Permissions, PlayCommand, PlayState};
use serde::Serialize;
use tauri::http::Request;
use tauri::{Manager, Runtime, State, UriSchemeContext, UriSchemeResponder};

use crate::error::CommandError;
use crate::hosting::AppState;

/// The media folder this launch shares: `--media` / `PARTYLINE_MEDIA`, else the remembered one,
/// else the one chosen in the app.
#[derive(Debug, Default)]
pub struct MediaChoice {
    folder: Option<PathBuf>,
    /// Why the folder is not shared now (it could not be read when the party started).
    problem: Option<String>,
}

impl MediaChoice {
    /// This launch's folder.
    pub fn new(folder: Option<PathBuf>) -> Self {
        MediaChoice { folder, problem: None }
    }

    /// The folder to share at a start (a new try: the last problem is forgotten).
    pub(crate) fn start(&mut self) -> Option<PathBuf> {
        self.problem = None;
        self.folder.clone()
    }

    /// The folder could not be shared at start; the party started without it.
    pub(crate) fn unavailable(&mut self, why: String) {
        self.problem = Some(why);
    }
}

/// What the SyncPlay panel shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaybackView {
    /// The folder chosen (shared unless `mediaProblem` says why not).
    pub media_folder: Option<String>,
    /// Why the chosen folder is not shared (it could not be read when the party started).
    pub media_problem: Option<String>,
    /// What the scan of the shared folder left out ("Skipped 1 folder it could not read: …").
    pub media_note: Option<String>,
    /// The group's state: what plays, where, the queue, the permissions.
    pub state: PlayState,
    /// How many items the library has (the panel pages through them with `library_page`).
    pub library_total: usize,
    /// The library's revision: the panel asks for its pages again when it changes.
    pub library_revision: u64,
    /// The items the queue names (for their titles and lengths), in the library's order.
    pub queued: Vec<LibraryEntry>,
    /// Each member's last playback report, with its name.
    pub members: Vec<MemberSyncView>,
    /// The host's clock now, µs since the epoch: where `state.serverTime` is measured.
    pub now: u64,
}

/// A library item as the panel lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LibraryEntry {
    /// Its id (for play and queue).
    pub id: String,
    /// The title (its tag's, else the file name without extension).
    pub title: String,
    /// Its artist and album, from its tags.
    pub artist: Option<String>,
    /// Its album.
    pub album: Option<String>,
    /// Its MIME type.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Its length, when the file says (its header or tags, read by the host's scan).
    pub duration_ms: Option<u64>,
    /// Its tags hold a cover picture: the page loads it from [`COVER_SCHEME`] by the item's id.
    pub cover: bool,
}

impl From<LibraryItem> for LibraryEntry {
    fn from(item: LibraryItem) -> Self {
        LibraryEntry {
            id: item.id,
            title: item.title,
            artist: item.artist,
            album: item.album,
            mime: item.mime,
            size: item.size,
            duration_ms: item.duration_ms,
            cover: item.cover.is_some(),
        }
    }
}

/// A page of the library (or of a search of it) as the panel lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LibraryPageView {
    /// The library's revision the page is of.
    pub revision: u64,
    /// The search it answers ("" for the whole library).
    pub q: String,
    /// Where in the matching items it starts.
    pub offset: usize,
    /// How many items match.
    pub total: usize,
    /// The page's items.
    pub items: Vec<LibraryEntry>,
}

/// One member's sync, named.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberSyncView {
    /// The member's name.
    pub name: String,
    /// Its last report: state, error against the group (ms), position, when.
    #[serde(flatten)]
    pub sync: MemberSync,
}

impl AppState {
    /// The panel's data: the group's state, the library, each member's sync.
    pub async fn playback(&self) -> Result<PlaybackView, CommandError> {
        let host = self.host().await?;
        let playback = host.playback().await?;
        let ids = playback.state.queue.iter().map(|entry| entry.item_id.clone()).collect();
        let queued = host.library_items(ids).await?;
        let names: HashMap<String, String> = host.members().await?.into_iter().map(|m| (m.id, m.name)).collect();
        let (folder, problem) = {
            let media = self.media.lock().unwrap();
            (media.folder.clone(), media.problem.clone())
        };
        Ok(PlaybackView {
            media_folder: folder.map(|f| f.display().to_string()),
            media_problem: problem,
            media_note: host.media_note(),
            state: playback.state,
            library_total: playback.library_total,
            library_revision: playback.library_revision,
            queued: queued.items.into_iter().map(LibraryEntry::from).collect(),
            members: playback
                .members
                .into_iter()
                .map(|sync| MemberSyncView {
                    name: names.get(&sync.member_id).cloned().unwrap_or_else(|| sync.member_id.clone()),
                    sync,
                })
                .collect(),
            now: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or_default(),
        })
    }

    /// Shares `path` (empty or `None`: nothing) and remembers it. While hosting, the party goes
    /// on: members get the new library. A folder that is missing, not a folder or unreadable is
    /// a `bad_media_folder` error and changes nothing. Returns the panel's data, or `None` when
    /// not hosting (the folder is then shared at the next start).
    pub async fn set_media_folder(&self, path: Option<&str>) -> Result<Option<PlaybackView>, CommandError> {
        let folder = check_folder(path.unwrap_or_default())?;
        let host = self.host().await.ok();
        if let Some(host) = &host {
            host.set_media(folder.clone()).await?;
        }
        {
            let mut media = self.media.lock().unwrap();
            media.folder = folder.clone();
            media.problem = None;
        }
        self.update_settings(|s| s.media_folder = folder)?;
        match host {
            Some(_) => Ok(Some(self.playback().await?)),
            None => Ok(None),
        }
    }

    /// A page of the library: the items matching `q` (every word, in the title, artist or
    /// album; empty: all) from `offset`, at most `limit` (and 100).
    pub async fn library_page(
        &self,
        q: &str,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<LibraryPageView, CommandError> {
        let q = q.trim().to_string();
        let search = (!q.is_empty()).then(|| q.clone());
        let page = self.host().await?.library_page(search, offset, limit).await?;
        Ok(LibraryPageView {
            revision: page.revision,
            q,
            offset,
            total: page.total,
            items: page.items.into_iter().map(LibraryEntry::from).collect(),
        })
    }

    /// A SyncPlay command as the host: play (an item, or resume), pause, seek, next, previous,
    /// rate, queue add/remove, start anyway. Returns the group's state after it.
    pub async fn syncplay(&self, command: PlayCommand) -> Result<PlayState, CommandError> {
        let host = self.host().await?;
        host.syncplay(command).await?;
        Ok(host.playback().await?.state)
    }

    /// Sets one phone's playback volume, 0 to 1 (`remote.command` `volume`).
    pub async fn set_member_volume(&self, member_id: &str, volume: f64) -> Result<(), CommandError> {
        Ok(self.host().await?.set_volume(member_id, volume).await?)
    }

    /// Lets members control playback and/or the queue. Returns the group's state after it.
    pub async fn set_permissions(&self, playback: bool, queue: bool) -> Result<PlayState, CommandError> {
        let host = self.host().await?;
        host.set_permissions(Permissions { playback, queue }).await?;
        Ok(host.playback().await?.state)
    }
}

/// The scheme the page loads library covers from: `cover://localhost/<item id>` (Windows and
/// Android: `http://cover.localhost/<id>`), allowed as `img-src` in the window's CSP.
pub const COVER_SCHEME: &str = "cover";

impl AppState {
    /// The cover picture of library item `id`, as the library list and now playing show it: its
    /// bytes and image type, from the host (`no_such_cover` for an item with none, or not
    /// shared).
    pub async fn cover(&self, id: &str) -> Result<(Vec<u8>, &'static str), CommandError> {
        let cover = self.host().await?.cover(id).await;
        let cover =
            cover.ok_or_else(|| CommandError::new("no_such_cover", format!("the library has no cover for {id:?}")))?;
        Ok((cover.bytes.to_vec(), cover.mime))
    }
}

/// How long the web view may keep a cover: as the host tells phones (a cover is its file's
/// picture; a new scan gives the page new ids only when files change).
const COVER_CACHE: &str = "private, max-age=3600";

/// Answers a [`COVER_SCHEME`] request (`/<item id>`) with the cover, or a plain 404.
pub fn serve_cover<R: Runtime>(ctx: UriSchemeContext<'_, R>, request: Request<Vec<u8>>, responder: UriSchemeResponder) {
    let app = ctx.app_handle().clone();
    let id = request.uri().path().trim_start_matches('/').to_string();
    tauri::async_runtime::spawn(async move {
        let cover = app.state::<AppState>().cover(&id).await;
        crate::uploads::answer_image(responder, cover, Some(COVER_CACHE), "cover");
    });
}

/// The folder a person typed, checked: absolute (`~/` is the home folder), existing, a folder,
/// readable. Empty means none.
fn check_folder(text: &str) -> Result<Option<PathBuf>, CommandError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = |message: String| CommandError::new("bad_media_folder", message);
    let path = match text.strip_prefix("~/").or((text == "~").then_some("")) {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => return Err(bad("no home folder to expand ~ in; type the full path".into())),
        },
        None => PathBuf::from(text),
    };
    if !path.is_absolute() {
        return Err(bad(format!("{text:?} is not a full path; type one like /home/you/Music")));
    }
    let shown = path.display();
    match std::fs::metadata(&path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(bad(format!("there is no folder {shown}"))),
        Err(err) => Err(bad(format!("cannot open {shown}: {err}"))),
        Ok(meta) if !meta.is_dir() => Err(bad(format!("{shown} is a file, not a folder"))),
        Ok(_) => match std::fs::read_dir(&path) {
            Ok(_) => Ok(Some(path)),
            Err(err) => Err(bad(format!("cannot read {shown}: {err}"))),
        },
    }
}

// ---- the commands ----------------------------------------------------------------------------

/// The SyncPlay panel: state, the library's size and the queue's items, each member's sync.
#[tauri::command]
pub async fn playback(state: State<'_, AppState>) -> Result<PlaybackView, CommandError> {
    state.playback().await
}

/// A page of the library, searched or not: `{q, offset, limit}` → `{revision, q, offset, total, items}`.
#[tauri::command]
pub async fn library_page(
    state: State<'_, AppState>,
    q: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
) -> Result<LibraryPageView, CommandError> {
    state.library_page(q.as_deref().unwrap_or_default(), offset.unwrap_or(0), limit).await
}

/// Shares another media folder (empty or null: none) without ending the party; remembered.
#[tauri::command]
pub async fn set_media_folder(
    state: State<'_, AppState>,
    path: Option<String>,
) -> Result<Option<PlaybackView>, CommandError> {
    state.set_media_folder(path.as_deref()).await
}

/// A SyncPlay command, shaped as in the protocol: `{"command": "play", "itemId": "t-…"}`,
/// `{"command": "seek", "position": 95000}`, `{"command": "queue.add", "itemId": "t-…"}`...
#[tauri::command]
pub async fn syncplay_command(state: State<'_, AppState>, command: PlayCommand) -> Result<PlayState, CommandError> {
    state.syncplay(command).await
}

/// One phone's playback volume, 0 to 1.
#[tauri::command]
pub async fn set_member_volume(state: State<'_, AppState>, member_id: String, volume: f64) -> Result<(), CommandError> {
    state.set_member_volume(&member_id, volume).await
}

/// Lets guests control playback and/or the queue.
#[tauri::command]
pub async fn set_permissions(
    state: State<'_, AppState>,
    playback: bool,
    queue: bool,
) -> Result<PlayState, CommandError> {
    state.set_permissions(playback, queue).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A typed folder is expanded and checked: empty is none, a relative path, a file and a
    /// missing folder are `bad_media_folder` with words saying which.
    #[test]
    fn folders_are_checked() {
        assert_eq!(check_folder("  ").unwrap(), None);
        assert_eq!(check_folder("music").unwrap_err().code, "bad_media_folder");
        let dir = std::env::temp_dir().join(format!("partyline-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f.wav"), b"x").unwrap();
        assert_eq!(check_folder(&format!(" {} ", dir.display())).unwrap(), Some(dir.clone()));
        let file = check_folder(&dir.join("f.wav").display().to_string()).unwrap_err();
        assert!(file.message.contains("not a folder"), "{file}");
        let missing = check_folder(&dir.join("nope").display().to_string()).unwrap_err();
        assert!(missing.message.contains("no folder"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
