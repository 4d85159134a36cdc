//! SyncPlay from the desktop: the shared media folder (checked, remembered, and replaced while
//! the party goes on), the library with durations, play/pause/seek/queue through the facade,
//! what members may control, and how in sync each member is.
//!
//! The commands at the bottom are one call each into the [`AppState`] methods here.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use partyline_host::{Host, LibraryItem, MemberSync, Permissions, PlayCommand, PlayState};
use serde::Serialize;
use tauri::State;

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
    /// The group's state: what plays, where, the queue, the permissions.
    pub state: PlayState,
    /// The shared media, in the folder's order.
    pub library: Vec<LibraryEntry>,
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
    /// The title (the file name without extension).
    pub title: String,
    /// Its MIME type.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Its length, when the file says (WAV and FLAC headers, read by the host); `None` otherwise.
    pub duration_ms: Option<f64>,
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
        let names: HashMap<String, String> = host.members().await?.into_iter().map(|m| (m.id, m.name)).collect();
        let (folder, problem) = {
            let media = self.media.lock().unwrap();
            (media.folder.clone(), media.problem.clone())
        };
        Ok(PlaybackView {
            media_folder: folder.map(|f| f.display().to_string()),
            media_problem: problem,
            state: playback.state,
            library: playback.library.iter().map(|item| entry(&host, item)).collect(),
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

fn entry(host: &Host, item: &LibraryItem) -> LibraryEntry {
    LibraryEntry {
        id: item.id.clone(),
        title: item.title.clone(),
        mime: item.mime.clone(),
        size: item.size,
        duration_ms: host.duration_ms(item),
    }
}

// ---- the commands ----------------------------------------------------------------------------

/// The SyncPlay panel: state, library (with durations), each member's sync.
#[tauri::command]
pub async fn playback(state: State<'_, AppState>) -> Result<PlaybackView, CommandError> {
    state.playback().await
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
