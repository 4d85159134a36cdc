//! SyncPlay from the desktop: the shared media folder (checked, remembered, and replaced while
//! the party goes on), the library with durations, play/pause/seek/queue through the facade,
//! what members may control, and how in sync each member is.
//!
//! The commands at the bottom are one call each into the [`AppState`] methods here.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use partyline_host::{LibraryItem, Permissions, PlayCommand, PlayState};
use partyline_session::MemberSync;
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
    /// Its length, when the file says (WAV and FLAC headers); `None` otherwise.
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
        let shared = host.media_dir();
        let (folder, problem) = {
            let media = self.media.lock().unwrap();
            (media.folder.clone(), media.problem.clone())
        };
        Ok(PlaybackView {
            media_folder: folder.map(|f| f.display().to_string()),
            media_problem: problem,
            state: playback.state,
            library: playback.library.iter().map(|item| entry(item, shared.as_deref())).collect(),
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
        check_command(&command)?;
        let host = self.host().await?;
        host.syncplay(command).await?;
        Ok(host.playback().await?.state)
    }

    /// Sets one phone's playback volume, 0 to 1 (`remote.command` `volume`).
    pub async fn set_member_volume(&self, member_id: &str, volume: f64) -> Result<(), CommandError> {
        if !(0.0..=1.0).contains(&volume) {
            return Err(CommandError::new("bad_volume", format!("a volume is 0 to 1 (0 to 100%), not {volume}")));
        }
        let host = self.host().await?;
        Ok(host.remote_command(member_id, "volume", Some(serde_json::json!(volume))).await?)
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

/// What the session would accept from a member (the host's own commands skip the protocol's
/// checks): positions finite and not negative, a rate from 0.5 to 2.
fn check_command(command: &PlayCommand) -> Result<(), CommandError> {
    match command {
        PlayCommand::Play { position: Some(position), .. } | PlayCommand::Seek { position }
            if !position.is_finite() || *position < 0.0 =>
        {
            Err(CommandError::new("bad_command", "a position is a number of milliseconds, 0 or more"))
        }
        PlayCommand::SetRate { rate } if !(0.5..=2.0).contains(rate) => {
            Err(CommandError::new("bad_command", "the speed must be between 0.5 and 2"))
        }
        _ => Ok(()),
    }
}

fn entry(item: &LibraryItem, folder: Option<&Path>) -> LibraryEntry {
    let duration_ms =
        folder.and_then(|folder| file_of(folder, &item.url)).and_then(|file| cached_duration(&file, item.size));
    LibraryEntry {
        id: item.id.clone(),
        title: item.title.clone(),
        mime: item.mime.clone(),
        size: item.size,
        duration_ms,
    }
}

/// The file behind a library URL (`/media/<percent-encoded path>`), inside `folder`.
fn file_of(folder: &Path, url: &str) -> Option<PathBuf> {
    let encoded = url.strip_prefix("/media/")?;
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let relative = PathBuf::from(String::from_utf8(decoded).ok()?);
    if !relative.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(folder.join(relative))
}

/// Durations already read, by file and size.
type Durations = Mutex<HashMap<(PathBuf, u64), Option<f64>>>;

/// A file's duration, read once (the panel asks every few seconds).
fn cached_duration(file: &Path, size: u64) -> Option<f64> {
    static CACHE: OnceLock<Durations> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (file.to_path_buf(), size);
    if let Some(known) = cache.lock().unwrap().get(&key) {
        return *known;
    }
    let found = duration_ms(file);
    cache.lock().unwrap().insert(key, found);
    found
}

/// A file's length from its header, for the formats whose header says: WAV (data size over
/// byte rate) and FLAC (STREAMINFO's samples over sample rate). Others: `None`.
pub fn duration_ms(path: &Path) -> Option<f64> {
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut head = [0u8; 42];
    let got = file.read(&mut head).ok()?;
    if got >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        wav_duration(&mut file, len)
    } else if got >= 42 && &head[0..4] == b"fLaC" && head[4] & 0x7f == 0 {
        // STREAMINFO: sample rate (20 bits) at byte 18, total samples (36 bits) from byte 21.
        let info = &head[8..42];
        let rate = (info[10] as u64) << 12 | (info[11] as u64) << 4 | (info[12] as u64) >> 4;
        let samples =
            ((info[13] & 0x0f) as u64) << 32 | u32::from_be_bytes([info[14], info[15], info[16], info[17]]) as u64;
        (rate > 0 && samples > 0).then(|| samples as f64 * 1000.0 / rate as f64)
    } else {
        None
    }
}

fn wav_duration(file: &mut std::fs::File, len: u64) -> Option<f64> {
    let mut at = 12u64;
    let mut byte_rate = None;
    // A few chunks at most come before the data (fmt, LIST, fact...).
    for _ in 0..16 {
        file.seek(SeekFrom::Start(at)).ok()?;
        let mut header = [0u8; 8];
        file.read_exact(&mut header).ok()?;
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as u64;
        match &header[0..4] {
            b"fmt " => {
                let mut fmt = [0u8; 12];
                file.read_exact(&mut fmt).ok()?;
                byte_rate = Some(u32::from_le_bytes([fmt[8], fmt[9], fmt[10], fmt[11]]) as u64);
            }
            b"data" => {
                // A streamed WAV may say 0 or 0xFFFFFFFF: the data then runs to the end.
                let data =
                    if size == 0 || size == u32::MAX as u64 || at + 8 + size > len { len - at - 8 } else { size };
                let rate = byte_rate.filter(|r| *r > 0)?;
                return Some(data as f64 * 1000.0 / rate as f64);
            }
            _ => {}
        }
        at += 8 + size + (size & 1);
    }
    None
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

    fn wav(path: &Path, seconds: u32, extra_chunk: bool) {
        let (rate, n) = (8000u32, 8000 * seconds);
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + n * 2 + if extra_chunk { 12 } else { 0 }).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes()); // PCM
        b.extend_from_slice(&1u16.to_le_bytes()); // mono
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * 2).to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        if extra_chunk {
            b.extend_from_slice(b"LIST");
            b.extend_from_slice(&3u32.to_le_bytes());
            b.extend_from_slice(b"abc\0"); // odd size, padded
        }
        b.extend_from_slice(b"data");
        b.extend_from_slice(&(n * 2).to_le_bytes());
        b.resize(b.len() + (n * 2) as usize, 0);
        std::fs::write(path, b).unwrap();
    }

    #[test]
    fn durations_from_headers() {
        let dir = std::env::temp_dir().join(format!("partyline-durations-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        wav(&dir.join("a.wav"), 2, false);
        wav(&dir.join("b.wav"), 3, true);
        assert_eq!(duration_ms(&dir.join("a.wav")), Some(2000.0));
        assert_eq!(duration_ms(&dir.join("b.wav")), Some(3000.0));
        // FLAC STREAMINFO: 44,100 Hz, 441,000 samples = 10 s.
        let mut flac = b"fLaC".to_vec();
        flac.extend_from_slice(&[0x80, 0, 0, 34]);
        let mut info = [0u8; 34];
        let (rate, samples) = (44_100u64, 441_000u64);
        info[10] = (rate >> 12) as u8;
        info[11] = (rate >> 4) as u8;
        info[12] = ((rate & 0xf) << 4) as u8 | 0b0010; // + channels bits, ignored
        info[13] = 0xf0 | (samples >> 32) as u8;
        info[14..18].copy_from_slice(&(samples as u32).to_be_bytes());
        flac.extend_from_slice(&info);
        std::fs::write(dir.join("c.flac"), flac).unwrap();
        assert_eq!(duration_ms(&dir.join("c.flac")), Some(10_000.0));
        std::fs::write(dir.join("d.mp3"), b"ID3 not a header we read").unwrap();
        assert_eq!(duration_ms(&dir.join("d.mp3")), None);
        assert_eq!(duration_ms(&dir.join("missing.wav")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn library_urls_map_back_to_files() {
        let folder = Path::new("/srv/music");
        assert_eq!(file_of(folder, "/media/Album%20One/a%231.ogg"), Some("/srv/music/Album One/a#1.ogg".into()));
        assert_eq!(file_of(folder, "/media/..%2Fetc%2Fpasswd"), None);
        assert_eq!(file_of(folder, "/elsewhere/x.mp3"), None);
        assert_eq!(file_of(folder, "/media/bad%zz"), None);
    }

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
