//! Songs and photos guests share from their phones: the host's [`UploadPolicy`], and the
//! [`Store`] that keeps what it accepted in the uploads folder and serves it under
//! `/media/guests/`.
//!
//! One rule: nothing partial or unchecked is ever kept. The bytes go to a temp file in the
//! uploads folder (its name is `tempfile`'s, never the guest's), are fsynced, checked (not
//! empty, within the per-file limit, the SHA-256 the guest named, audio or an image by their
//! first bytes, sniffed with `infer`; the name and the `Content-Type` are only labels), and
//! only then renamed to `guests/<id>.<ext>` (the id and the sniffed extension are ours) and
//! added: a song to the library every member sees, a photo announced as `photo.shared`. A temp
//! file that is not renamed is removed when it is dropped: a refused upload, one whose
//! connection dropped half-way, a panic.
//!
//! Two ways in share that path: [`accept`] for bytes already in memory (seed 001's 0x03 file
//! transfer, once it is complete), and [`Receiving`] for a body streamed chunk by chunk
//! (`POST /api/uploads`, which never holds a whole file in memory).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use partyline_protocol::{LibraryItem, Photo};
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::Shared;

/// What a host takes from its guests. Defaults: allowed, 50 MiB a file, 1 GiB in all, in a
/// fresh temp folder of the host's own.
#[derive(Debug, Clone)]
pub struct UploadPolicy {
    /// Whether guests may share songs and photos at all (changeable while the party goes on:
    /// [`crate::ServerHandle::set_uploads`]).
    pub allowed: bool,
    /// The largest file taken. 50 MiB: a ten-minute song at 320 kbit/s is 24 MB, a phone's
    /// photo a few MB; a whole album in one file is not a party song.
    pub max_file_bytes: u64,
    /// The most kept in all. 1 GiB: a night of guests' songs and photos, on any laptop's disk.
    pub max_total_bytes: u64,
    /// Where the files go (their `guests/` folder is made inside). `None`: a fresh temp folder
    /// owned by the host, removed when it stops.
    pub dir: Option<PathBuf>,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        UploadPolicy { allowed: true, max_file_bytes: 50 * MIB, max_total_bytes: 1024 * MIB, dir: None }
    }
}

const MIB: u64 = 1024 * 1024;

/// Guests' songs the library lists at most: a night's worth, after the folder's
/// [`crate::media::MAX_ITEMS`] (members read the library in pages, so this bounds what the host
/// keeps, not a message). Past it, a song is refused as the total is (413).
pub const MAX_SONGS: usize = 100;

/// Files kept at most, songs and photos: bounds the store's own map whatever their sizes.
const MAX_FILES: usize = 1000;

/// The longest label kept from a file's name, in characters (a song title's length).
const MAX_NAME_CHARS: usize = partyline_protocol::MAX_TITLE_CHARS;

/// Bytes of a file's start kept for sniffing its type: every signature `infer` checks for the
/// formats we take lies in the first few dozen bytes; 8 KiB leaves room for an MP3's ID3 tag
/// boundary or an M4A's `ftyp` box.
const SNIFF_BYTES: usize = 8 * 1024;

/// What an upload is, from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    /// Audio: it joins the library.
    Song,
    /// An image: it is shown to the party.
    Photo,
}

impl UploadKind {
    /// `song` or `photo`, as the HTTP answer says.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadKind::Song => "song",
            UploadKind::Photo => "photo",
        }
    }
}

/// The formats taken, in the order they are tried (M4A before the generic MP4-like boxes,
/// Ogg Opus before plain Ogg, as `infer` orders them): its matcher, our extension, the
/// `Content-Type` it is served with, and what it is. Only audio and still images a browser
/// plays or shows; never video, never a document type.
type Matcher = fn(&[u8]) -> bool;
const FORMATS: &[(Matcher, &str, &str, UploadKind)] = &[
    (infer::audio::is_mp3, "mp3", "audio/mpeg", UploadKind::Song),
    (infer::audio::is_m4a, "m4a", "audio/mp4", UploadKind::Song),
    (infer::audio::is_ogg_opus, "opus", "audio/ogg", UploadKind::Song),
    (infer::audio::is_ogg, "ogg", "audio/ogg", UploadKind::Song),
    (infer::audio::is_flac, "flac", "audio/flac", UploadKind::Song),
    (infer::audio::is_wav, "wav", "audio/wav", UploadKind::Song),
    (infer::audio::is_aac, "aac", "audio/aac", UploadKind::Song),
    (infer::image::is_jpeg, "jpg", "image/jpeg", UploadKind::Photo),
    (infer::image::is_png, "png", "image/png", UploadKind::Photo),
    (infer::image::is_gif, "gif", "image/gif", UploadKind::Photo),
    (infer::image::is_webp, "webp", "image/webp", UploadKind::Photo),
];

/// A file's type from its first bytes: our extension, its MIME type and kind; `None` for
/// anything else (text, video, an executable, a document).
fn sniff(head: &[u8]) -> Option<(&'static str, &'static str, UploadKind)> {
    FORMATS.iter().find(|(matches, ..)| matches(head)).map(|(_, ext, mime, kind)| (*ext, *mime, *kind))
}

/// A complete upload held in memory (seed 001's 0x03 file transfer, once its last chunk came).
#[allow(dead_code, reason = "built by seed 001's 0x03 file transfer (the /rt/ws binary path)")]
pub(crate) struct Upload {
    /// The sharer's device id (the one it connected with).
    pub device: String,
    /// The file's name as the guest gave it: only a label.
    pub name: String,
    /// The bytes.
    pub bytes: bytes::Bytes,
    /// `sha256:<64 lower-case hex>` the guest says the bytes have, if it said.
    pub checksum: Option<String>,
}

/// Why an upload was refused. Nothing of it is kept.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    /// The host does not take uploads now.
    #[error("The host is not taking songs or photos right now")]
    Disabled,
    /// The device is not a member of the party.
    #[error("Join the party before sharing")]
    NotAMember,
    /// Over the per-file limit.
    #[error("That file is too big (the limit is {} MB)", limit_bytes / MIB)]
    TooLarge {
        /// The limit.
        limit_bytes: u64,
    },
    /// The host keeps no more (bytes in all, or songs in the library).
    #[error("The host has no room for more songs or photos")]
    Full {
        /// The total limit, bytes.
        limit_bytes: u64,
    },
    /// The bytes are neither audio nor an image we take.
    #[error("That is not a song or a photo (MP3, M4A, AAC, Ogg, Opus, FLAC, WAV, JPEG, PNG, GIF, WebP)")]
    NotMedia,
    /// The bytes are not the ones the guest named.
    #[error("The file arrived damaged (checksum {actual}, expected {expected}); try again")]
    Checksum {
        /// What the guest said.
        expected: String,
        /// What arrived.
        actual: String,
    },
    /// No bytes at all.
    #[error("The file is empty")]
    Empty,
    /// The disk refused.
    #[error("The host could not store the file")]
    Io(#[from] std::io::Error),
}

/// An upload kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// Its id, `u-` and 16 hex digits.
    pub id: String,
    /// Song or photo.
    pub kind: UploadKind,
    /// Its label (the sanitised name).
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// `sha256:<hex>` of its bytes.
    pub checksum: String,
    /// Where it is served (`/media/guests/<id>.<ext>`).
    pub url: String,
    /// The library item, for a song.
    pub item: Option<LibraryItem>,
}

/// A kept file, for `/media/guests/`.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) path: PathBuf,
    pub(crate) mime: mime::Mime,
}

#[derive(Debug, Default)]
struct Kept {
    /// By path under `/media/` (`guests/u-….mp3`).
    files: HashMap<String, Stored>,
    /// Guests' songs, in the order they came.
    songs: Vec<LibraryItem>,
    /// Bytes kept, and bytes of uploads on their way (reserved chunk by chunk as they are
    /// written): the disk the store holds, temp files included, stays within the total.
    bytes: u64,
}

/// The uploads folder and what it holds. Dropping it removes a temp folder it made.
#[derive(Debug)]
pub(crate) struct Store {
    allowed: AtomicBool,
    max_file_bytes: u64,
    max_total_bytes: u64,
    place: Mutex<Place>,
    kept: Mutex<Kept>,
}

/// Where the files go.
#[derive(Debug, Default)]
struct Place {
    /// The folder the host named, or the temp one once made (a host nobody uploads to makes
    /// none: a test suite's hundred hosts leave no hundred empty folders behind).
    root: Option<PathBuf>,
    /// The temp folder the store made (`None` when the host named one): removed on shutdown
    /// ([`Store::remove_temp`]) or drop, whichever comes first.
    temp: Option<tempfile::TempDir>,
    /// The host has stopped: no folder is made again.
    closed: bool,
}

impl Store {
    /// Makes (or reuses) the folder the policy names and its `guests/`, so that a folder the
    /// host cannot write is an error at start; a temp folder is made on the first upload.
    pub(crate) fn open(policy: &UploadPolicy) -> std::io::Result<Store> {
        if let Some(dir) = &policy.dir {
            std::fs::create_dir_all(dir.join("guests"))?;
        }
        Ok(Store {
            allowed: AtomicBool::new(policy.allowed),
            max_file_bytes: policy.max_file_bytes,
            max_total_bytes: policy.max_total_bytes,
            place: Mutex::new(Place { root: policy.dir.clone(), ..Place::default() }),
            kept: Mutex::new(Kept::default()),
        })
    }

    fn place(&self) -> std::sync::MutexGuard<'_, Place> {
        self.place.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The folder the files are kept under, once there is one (the files are in its `guests/`:
    /// a song's `url` below `/media/` is its path here): the policy's, or the temp folder made
    /// on the first upload.
    pub(crate) fn root(&self) -> Option<PathBuf> {
        self.place().root.clone()
    }

    /// `<root>/guests`, where the files (and the temp files) go; the temp root is made on first
    /// use. Blocking: call it off the async threads.
    pub(crate) fn files_dir(&self) -> std::io::Result<PathBuf> {
        let mut place = self.place();
        if place.closed {
            return Err(std::io::Error::other("the host has stopped"));
        }
        if place.root.is_none() {
            let temp = tempfile::Builder::new().prefix("partyline-uploads-").tempdir()?;
            std::fs::create_dir_all(temp.path().join("guests"))?;
            place.root = Some(temp.path().to_path_buf());
            place.temp = Some(temp);
        }
        Ok(place.root.as_ref().expect("a root by now").join("guests"))
    }

    /// Removes the temp folder the store made, with everything in it (a host that named its
    /// own folder keeps it). Uploads are switched off first: nothing new lands in a folder that
    /// is going.
    pub(crate) fn remove_temp(&self) {
        self.set_allowed(false);
        let temp = {
            let mut place = self.place();
            place.closed = true;
            place.temp.take()
        };
        if let Some(temp) = temp {
            let path = temp.path().to_path_buf();
            if let Err(err) = temp.close() {
                tracing::warn!(cause = %err, path = %path.display(), "could not remove the uploads folder");
            }
        }
    }

    /// Whether guests may upload now.
    pub(crate) fn allowed(&self) -> bool {
        self.allowed.load(Ordering::Relaxed)
    }

    /// Switches uploads on or off (what is kept stays).
    pub(crate) fn set_allowed(&self, allowed: bool) {
        self.allowed.store(allowed, Ordering::Relaxed);
    }

    /// The per-file limit.
    pub(crate) fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Guests' songs, in the order they came.
    pub(crate) fn songs(&self) -> Vec<LibraryItem> {
        self.kept().songs.clone()
    }

    /// The kept file behind a request path under `/media` (`/guests/u-….mp3`), exactly.
    pub(crate) fn resolve(&self, request_path: &str) -> Option<Stored> {
        self.kept().files.get(request_path.strip_prefix('/')?).cloned()
    }

    /// Whether `size` more bytes fit in the total (and one more file, one more song).
    fn room_for(&self, kept: &Kept, size: u64, kind: UploadKind) -> bool {
        kept.bytes.saturating_add(size) <= self.max_total_bytes
            && kept.files.len() < MAX_FILES
            && (kind == UploadKind::Photo || kept.songs.len() < MAX_SONGS)
    }

    fn full(&self) -> UploadError {
        UploadError::Full { limit_bytes: self.max_total_bytes }
    }
}

/// Refusals that need no bytes: uploads off, or the device not a member. Returns the member's
/// id, for the log.
pub(crate) async fn admit(shared: &Arc<Shared>, device: &str) -> Result<String, UploadError> {
    if !shared.uploads.allowed() {
        return Err(UploadError::Disabled);
    }
    let device = device.to_string();
    match crate::act(&shared.commands, move |session, _| session.member_by_device(&device)).await {
        Ok(Some(member)) => Ok(member.id),
        _ => Err(UploadError::NotAMember),
    }
}

/// Checks and keeps an upload held in memory (seed 001's 0x03 file transfer): the same checks,
/// temp file and rename as an HTTP upload. A song joins every member's library, a photo is
/// announced to every member.
#[allow(dead_code, reason = "called by seed 001's 0x03 file transfer (the /rt/ws binary path)")]
pub(crate) async fn accept(shared: &Arc<Shared>, upload: Upload) -> Result<Accepted, UploadError> {
    admit(shared, &upload.device).await?;
    let mut receiving = Receiving::start(shared, Some(upload.bytes.len() as u64)).await?;
    receiving.write(&upload.bytes).await?;
    receiving.finish(shared, &upload.device, &upload.name, upload.checksum.as_deref()).await
}

/// Bytes of the total held for an upload on its way; given back when dropped, unless the upload
/// was kept ([`Reservation::keep`]).
struct Reservation {
    store: Arc<Store>,
    bytes: u64,
}

impl Reservation {
    /// Holds `more` bytes of the total, or refuses (the host keeps no more).
    fn grow(&mut self, more: u64) -> Result<(), UploadError> {
        let mut kept = self.store.kept();
        if kept.bytes.saturating_add(more) > self.store.max_total_bytes {
            return Err(self.store.full());
        }
        kept.bytes += more;
        self.bytes += more;
        Ok(())
    }

    /// The bytes now count as kept.
    fn keep(mut self) {
        self.bytes = 0;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.store.kept().bytes -= self.bytes;
        }
    }
}

/// An upload on its way into a temp file: its size, hash and first bytes so far, and the part
/// of the total it holds (so that many uploads at once cannot fill more disk than the total).
pub(crate) struct Receiving {
    file: tokio::fs::File,
    /// Removes the temp file when dropped before [`Receiving::finish`] renames it.
    temp: tempfile::TempPath,
    reservation: Reservation,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    limit: u64,
}

impl Receiving {
    /// A temp file in the uploads folder. A known length over the per-file limit, or over what
    /// the host still keeps, is refused before any byte is written.
    pub(crate) async fn start(shared: &Arc<Shared>, length: Option<u64>) -> Result<Receiving, UploadError> {
        let store = &shared.uploads;
        if let Some(length) = length {
            if length > store.max_file_bytes {
                return Err(UploadError::TooLarge { limit_bytes: store.max_file_bytes });
            }
            if !store.room_for(&store.kept(), length, UploadKind::Photo) {
                return Err(store.full());
            }
        }
        let place = store.clone();
        let temp = tokio::task::spawn_blocking(move || {
            tempfile::Builder::new().prefix(".upload-").tempfile_in(place.files_dir()?)
        })
        .await
        .map_err(|_| std::io::Error::other("the temp file task stopped"))??;
        let (file, temp) = temp.into_parts();
        Ok(Receiving {
            file: tokio::fs::File::from_std(file),
            temp,
            reservation: Reservation { store: store.clone(), bytes: 0 },
            hasher: Sha256::new(),
            size: 0,
            head: Vec::new(),
            limit: store.max_file_bytes,
        })
    }

    /// The temp file's path (for tests: it must be gone after a refusal).
    #[cfg(test)]
    pub(crate) fn temp_path(&self) -> PathBuf {
        self.temp.to_path_buf()
    }

    /// Appends a chunk; past the per-file limit, or past what the host keeps in all, it is
    /// refused (and the temp file goes with `self`).
    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(UploadError::TooLarge { limit_bytes: self.limit });
        }
        self.reservation.grow(chunk.len() as u64)?;
        if self.head.len() < SNIFF_BYTES {
            let take = chunk.len().min(SNIFF_BYTES - self.head.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).await?;
        Ok(())
    }

    /// The last step: fsync, check (not empty, the checksum if one was named, the type), rename
    /// into place, and add: a song to the library (every member told), a photo announced.
    pub(crate) async fn finish(
        mut self,
        shared: &Arc<Shared>,
        device: &str,
        name: &str,
        checksum: Option<&str>,
    ) -> Result<Accepted, UploadError> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        drop(self.file);
        if self.size == 0 {
            return Err(UploadError::Empty);
        }
        let actual = hex_checksum(self.hasher.finalize().as_slice());
        if let Some(expected) = checksum
            && !expected.trim().eq_ignore_ascii_case(&actual)
        {
            return Err(UploadError::Checksum { expected: expected.to_string(), actual });
        }
        let (ext, mime, kind) = sniff(&self.head).ok_or(UploadError::NotMedia)?;
        let store = &shared.uploads;
        let id = format!("u-{:016x}", rand::rng().random::<u64>());
        let rel = format!("guests/{id}.{ext}");
        let path = self.temp.with_file_name(format!("{id}.{ext}"));
        let size = self.size;
        let label = sanitise(name, kind);
        let url = format!("/media/{rel}");
        let item = (kind == UploadKind::Song).then(|| LibraryItem {
            id: id.clone(),
            title: title_of(&label),
            mime: mime.to_string(),
            url: url.clone(),
            size,
            ..LibraryItem::default()
        });
        // Its bytes are held already (the reservation); the counts of files and songs are
        // checked, the file renamed and added under one lock, so two uploads finishing together
        // cannot both take the last place, and `/media/` never sees a name without its file.
        let kept_path = path.clone();
        let (temp, committed_store, added) = (self.temp, store.clone(), item.clone());
        let committed = tokio::task::spawn_blocking(move || {
            let store = committed_store;
            let mut kept = store.kept();
            if !store.room_for(&kept, 0, kind) {
                return Err(store.full());
            }
            temp.persist(&path).map_err(|err| UploadError::Io(err.error))?;
            // A song's tags name it better than its file name, and give its length.
            let added = added.map(|item| with_tags(item, &crate::media::Tags::read(&path)));
            let mime = mime.parse().expect("every MIME type in FORMATS parses");
            kept.files.insert(rel, Stored { path, mime });
            kept.songs.extend(added.clone());
            Ok(added)
        })
        .await;
        let item = committed.map_err(|_| std::io::Error::other("the rename task stopped"))??;
        self.reservation.keep();
        let accepted = Accepted { id, kind, name: label, size, checksum: actual, url, item };
        remember(shared, device, &accepted, &kept_path, mime).await;
        match kind {
            UploadKind::Song => {
                let result = crate::act(&shared.commands, {
                    let (media, uploads) = (shared.media.clone(), shared.uploads.clone());
                    move |session, now| session.set_library(now, crate::library_items(&media, &uploads))
                })
                .await;
                if !matches!(result, Ok(Ok(()))) {
                    tracing::warn!(id = %accepted.id, "a guest's song was kept but the session has stopped");
                }
            }
            UploadKind::Photo => {
                let (device, id, url, name) =
                    (device.to_string(), accepted.id.clone(), accepted.url.clone(), accepted.name.clone());
                let shared_photo: Result<Result<Photo, _>, _> = crate::act(&shared.commands, move |session, now| {
                    session.share_photo(now, &device, &id, &url, &name)
                })
                .await;
                if !matches!(shared_photo, Ok(Ok(_))) {
                    tracing::debug!(id = %accepted.id, "a photo kept, but its sharer left before it was announced");
                }
            }
        }
        tracing::info!(id = %accepted.id, kind = kind.as_str(), size, device, "a guest shared a file");
        Ok(accepted)
    }
}

/// Writes a kept upload to the party's store, if it has one, before the party hears of it: a
/// host killed after the announcement still has the file's row. A failed write is logged (the
/// file is kept for this run; a restart will not bring it back).
async fn remember(shared: &Arc<Shared>, device: &str, accepted: &Accepted, path: &std::path::Path, mime: &str) {
    let Some(store) = shared.store.clone() else { return };
    let device = device.to_string();
    let member = crate::act(&shared.commands, move |session, _| session.member_by_device(&device)).await;
    let (from, from_name) = match member {
        Ok(Some(member)) => (member.id, member.name),
        _ => (String::new(), String::new()),
    };
    let row = crate::store::StoredUpload {
        id: accepted.id.clone(),
        kind: accepted.kind.as_str().to_string(),
        name: accepted.name.clone(),
        file: path.to_string_lossy().into_owned(),
        mime: mime.to_string(),
        size: accepted.size,
        checksum: accepted.checksum.clone(),
        from,
        from_name,
        at: shared.clock.now() / partyline_session::MILLISECOND,
        modified: std::fs::metadata(path).ok().as_ref().and_then(modified_ns),
    };
    let written = tokio::task::spawn_blocking(move || {
        let mut store = store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        store.as_mut().map(|store| store.add_upload(&row))
    })
    .await;
    if let Ok(Some(Err(err))) = written {
        tracing::error!(cause = %err, id = %accepted.id, "could not keep a guest's upload in the party's store");
    }
}

/// What an upload kept before a restart gives back, once its file is checked.
#[derive(Debug)]
pub(crate) enum Restored {
    /// A song, back in the library.
    Song,
    /// A photo, for the party's gallery.
    Photo(Photo),
}

impl Store {
    /// Takes back an upload the party's store kept, if its file is still there with the size
    /// and checksum it was kept with; otherwise says why not (the caller drops it with a warning).
    /// A file still of its size with the modification time it was kept with is taken without
    /// reading it (what a restart must not wait for: hashing a gigabyte of uploads takes longer
    /// than the five seconds phones have to come back); one whose time moved (or kept without
    /// one) is read and its checksum compared. Blocking: call it off the async threads.
    pub(crate) fn restore(&self, upload: &crate::store::StoredUpload) -> Result<Restored, String> {
        let path = PathBuf::from(&upload.file);
        let ext = path.extension().and_then(|ext| ext.to_str()).unwrap_or_default().to_string();
        let rel = format!("guests/{}.{ext}", upload.id);
        let kind = match upload.kind.as_str() {
            "song" => UploadKind::Song,
            "photo" => UploadKind::Photo,
            other => return Err(format!("an upload of kind {other}")),
        };
        let mime: mime::Mime = upload.mime.parse().map_err(|_| format!("its type {}", upload.mime))?;
        let meta = std::fs::metadata(&path).map_err(|err| format!("{}: {err}", path.display()))?;
        if meta.len() != upload.size {
            return Err(format!("{} is {} bytes, {} were kept", path.display(), meta.len(), upload.size));
        }
        if upload.modified.is_none() || modified_ns(&meta) != upload.modified {
            let mut file = std::fs::File::open(&path).map_err(|err| format!("{}: {err}", path.display()))?;
            let mut hasher = Sha256::new();
            let size = std::io::copy(&mut file, &mut hasher).map_err(|err| format!("{}: {err}", path.display()))?;
            if size != upload.size {
                return Err(format!("{} is {size} bytes, {} were kept", path.display(), upload.size));
            }
            let checksum = hex_checksum(hasher.finalize().as_slice());
            if checksum != upload.checksum {
                return Err(format!(
                    "{} has changed (checksum {checksum}, {} was kept)",
                    path.display(),
                    upload.checksum
                ));
            }
        }
        let size = meta.len();
        let url = format!("/media/{rel}");
        let mut kept = self.kept();
        if !self.room_for(&kept, size, kind) {
            return Err("the host keeps no more".into());
        }
        kept.bytes += size;
        // Read before the path moves into the table: a restored song is named by its tags again.
        let tags = (kind == UploadKind::Song).then(|| crate::media::Tags::read(&path));
        kept.files.insert(rel, Stored { path, mime });
        Ok(match kind {
            UploadKind::Song => {
                let item = LibraryItem {
                    id: upload.id.clone(),
                    title: title_of(&upload.name),
                    mime: upload.mime.clone(),
                    url,
                    size,
                    artist: None,
                    album: None,
                    duration_ms: None,
                    cover: None,
                };
                let item = match &tags {
                    Some(tags) => with_tags(item, tags),
                    None => item,
                };
                kept.songs.push(item);
                Restored::Song
            }
            UploadKind::Photo => Restored::Photo(Photo {
                id: upload.id.clone(),
                url,
                name: upload.name.clone(),
                from: upload.from.clone(),
                from_name: upload.from_name.clone(),
                timestamp: upload.at,
            }),
        })
    }
}

/// A file's modification time, ns since the Unix epoch (what the store keeps beside its size).
fn modified_ns(meta: &std::fs::Metadata) -> Option<i64> {
    let since = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_nanos()).ok()
}

/// `sha256:` and lower-case hex.
fn hex_checksum(digest: &[u8]) -> String {
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256:");
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// A file name as a label: its last path segment only, no control characters, at most
/// [`MAX_NAME_CHARS`], trimmed; an empty one is "Song" or "Photo". It names nothing on disk.
fn sanitise(name: &str, kind: UploadKind) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS).collect();
    let clean = clean.trim();
    if clean.is_empty() {
        match kind {
            UploadKind::Song => "Song".into(),
            UploadKind::Photo => "Photo".into(),
        }
    } else {
        clean.to_string()
    }
}

/// A guest's song with what its tags say: their title over the file name's, artist, album, length.
fn with_tags(item: LibraryItem, tags: &crate::media::Tags) -> LibraryItem {
    LibraryItem {
        title: tags.title.clone().unwrap_or(item.title),
        artist: tags.artist.clone(),
        album: tags.album.clone(),
        duration_ms: tags.duration_ms,
        ..item
    }
}

/// A song's title: its label without the extension (`Summer Mix.mp3` → `Summer Mix`).
fn title_of(label: &str) -> String {
    match label.rsplit_once('.') {
        Some((stem, ext)) if !stem.trim().is_empty() && ext.len() <= 5 => stem.trim().to_string(),
        _ => label.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The smallest WAV with one second of 8 kHz 8-bit silence.
    pub(crate) fn wav() -> Vec<u8> {
        let n = 8000u32;
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&(36 + n).to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&8000u32.to_le_bytes());
        b.extend_from_slice(&8000u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&n.to_le_bytes());
        b.resize(b.len() + n as usize, 128);
        b
    }

    /// A PNG's signature and IHDR start: enough for the sniffer.
    pub(crate) fn png() -> Vec<u8> {
        let mut b = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
        b.extend_from_slice(b"IHDR");
        b.resize(64, 0);
        b
    }

    /// Types come from the bytes: audio and still images only; text, HTML, SVG, an MP4 video
    /// and an ELF are refused whatever they are called.
    #[test]
    fn sniffs_from_the_bytes() {
        assert_eq!(sniff(&wav()), Some(("wav", "audio/wav", UploadKind::Song)));
        assert_eq!(sniff(b"ID3\x04\0\0\0\0\0\0"), Some(("mp3", "audio/mpeg", UploadKind::Song)));
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Some(("flac", "audio/flac", UploadKind::Song)));
        assert_eq!(sniff(&png()), Some(("png", "image/png", UploadKind::Photo)));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some(("jpg", "image/jpeg", UploadKind::Photo)));
        for (what, bytes) in [
            ("text", &b"just some lyrics, renamed song.mp3"[..]),
            ("HTML", b"<!doctype html><script>alert(1)</script>"),
            ("SVG", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            ("MP4 video", b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"),
            ("ELF", b"\x7fELF\x02\x01\x01\0"),
        ] {
            assert_eq!(sniff(bytes), None, "{what} is refused");
        }
    }

    /// A name is only a label: no folders, no control characters, bounded; empty ones get a word.
    #[test]
    fn names_are_labels() {
        assert_eq!(sanitise("../../etc/passwd", UploadKind::Song), "passwd");
        assert_eq!(sanitise("C:\\Music\\Mix.mp3", UploadKind::Song), "Mix.mp3");
        assert_eq!(sanitise("a\u{0}b\u{1b}[31mc.jpg", UploadKind::Photo), "ab[31mc.jpg");
        assert_eq!(sanitise("  ", UploadKind::Photo), "Photo");
        assert_eq!(sanitise(&"x".repeat(500), UploadKind::Song).chars().count(), MAX_NAME_CHARS);
        assert_eq!(title_of("Summer Mix.mp3"), "Summer Mix");
        assert_eq!(title_of(".mp3"), ".mp3");
    }

    /// A host on 127.0.0.1 port 0 with this policy, and a partyline/1 member joined as `dev-a`
    /// (its socket, to read what the party is told).
    async fn host_with_member(policy: UploadPolicy) -> (crate::ServerHandle, Member) {
        let config = crate::ServerConfig { uploads: policy, ..crate::ServerConfig::default() };
        let host = crate::Server::start(config).await.expect("a host on port 0");
        let member = Member::join(&host, "dev-a").await;
        (host, member)
    }

    type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

    /// A real WebSocket member.
    struct Member(Socket);

    impl Member {
        async fn join(host: &crate::ServerHandle, device: &str) -> Member {
            use futures_util::SinkExt;
            let url = format!("ws://{}/ws?token={}", host.local_addr(), host.join_key().unwrap());
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("the socket opens");
            let join = partyline_protocol::ClientMessage::join(
                1u64,
                host.session_id(),
                device,
                format!("{device} phone"),
                Some(partyline_protocol::PARTYLINE_V1),
            );
            ws.send(tungstenite::Message::text(join.to_text())).await.unwrap();
            let mut member = Member(ws);
            member.until("syncplay.state").await;
            member
        }

        /// The next message of this `type`, as JSON (others skipped), within five seconds.
        async fn until(&mut self, kind: &str) -> serde_json::Value {
            use futures_util::StreamExt;
            let wait = std::time::Duration::from_secs(5);
            loop {
                let frame = tokio::time::timeout(wait, self.0.next()).await.expect("a message in time");
                if let Some(Ok(tungstenite::Message::Text(text))) = frame {
                    let value: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                    if value["type"] == kind {
                        return value;
                    }
                }
            }
        }
    }

    fn upload(device: &str, name: &str, bytes: Vec<u8>, checksum: Option<String>) -> Upload {
        Upload { device: device.into(), name: name.into(), bytes: bytes.into(), checksum }
    }

    /// Files in the uploads folder's `guests/`, temp files included.
    fn files_in(host: &crate::ServerHandle) -> Vec<String> {
        let dir = host.shared.uploads.files_dir().unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    /// A WAV with the right checksum is kept as `guests/<id>.wav`, joins the library every
    /// member is sent, and its file is the bytes sent.
    #[tokio::test]
    async fn a_song_joins_the_library() {
        let (host, mut member) = host_with_member(UploadPolicy::default()).await;
        let bytes = wav();
        let sum = partyline_protocol::binary::checksum(&bytes);
        let accepted = accept(&host.shared, upload("dev-a", "../Summer Mix.mp3", bytes.clone(), Some(sum.clone())))
            .await
            .expect("accepted");
        assert_eq!((accepted.kind, accepted.name.as_str(), accepted.size), (UploadKind::Song, "Summer Mix.mp3", 8044));
        assert_eq!(accepted.checksum, sum);
        assert_eq!(accepted.url, format!("/media/guests/{}.wav", accepted.id), "our name, the sniffed extension");
        let update = member.until("library.update").await;
        let item = accepted.item.clone().expect("a song has an item");
        assert_eq!(update["items"], serde_json::json!([item]), "every member gets the new library");
        assert_eq!((item.title.as_str(), item.mime.as_str()), ("Summer Mix", "audio/wav"));
        let path = host.shared.uploads.resolve(&accepted.url["/media".len()..]).expect("served").path;
        assert_eq!(std::fs::read(path).unwrap(), bytes, "the kept file is the bytes sent");
        assert_eq!(host.library().await.unwrap(), vec![item.clone()]);
        assert_eq!(item.duration_ms, Some(1000), "its length, from its header");
        host.shutdown(None).await;
    }

    /// A photo is kept and announced as `photo.shared` with the sharer's member id; it is not a
    /// library item.
    #[tokio::test]
    async fn a_photo_is_announced() {
        let (host, mut member) = host_with_member(UploadPolicy::default()).await;
        let accepted = accept(&host.shared, upload("dev-a", "beach.png", png(), None)).await.expect("accepted");
        assert_eq!((accepted.kind, accepted.item.clone()), (UploadKind::Photo, None));
        let shared = member.until("photo.shared").await;
        assert_eq!(
            (&shared["id"], &shared["url"], &shared["name"]),
            (&json!(accepted.id), &json!(accepted.url), &json!("beach.png"))
        );
        assert_eq!(host.photos().await.unwrap().len(), 1);
        assert!(host.library().await.unwrap().is_empty(), "a photo is not a song");
        host.shutdown(None).await;
    }

    /// Every refusal keeps nothing: not audio or an image, a checksum mismatch, empty, over the
    /// per-file limit, over the total, uploads off, a device not in the party. The folder holds
    /// no file (no temp file either) and the library stays empty.
    #[tokio::test]
    async fn refusals_keep_nothing() {
        let policy = UploadPolicy { max_file_bytes: 10_000, max_total_bytes: 12_000, ..UploadPolicy::default() };
        let (host, _member) = host_with_member(policy).await;
        let shared = &host.shared;
        let text = b"just lyrics".to_vec();
        let wrong = Some(partyline_protocol::binary::checksum(b"other bytes"));
        type Expected = fn(&UploadError) -> bool;
        let cases: Vec<(&str, Upload, Expected)> = vec![
            ("text named .mp3", upload("dev-a", "x.mp3", text, None), |e| matches!(e, UploadError::NotMedia)),
            ("checksum", upload("dev-a", "a.wav", wav(), wrong), |e| matches!(e, UploadError::Checksum { .. })),
            ("empty", upload("dev-a", "a.wav", Vec::new(), None), |e| matches!(e, UploadError::Empty)),
            ("too large", upload("dev-a", "a.wav", vec![0; 10_001], None), |e| {
                matches!(e, UploadError::TooLarge { limit_bytes: 10_000 })
            }),
            ("not a member", upload("dev-x", "a.wav", wav(), None), |e| matches!(e, UploadError::NotAMember)),
        ];
        for (what, upload, expected) in cases {
            let err = accept(shared, upload).await.expect_err(what);
            assert!(expected(&err), "{what}: got {err:?}");
        }
        assert_eq!(files_in(&host), Vec::<String>::new(), "nothing kept, no temp file left");
        accept(shared, upload("dev-a", "a.wav", wav(), None)).await.expect("8 KB fits");
        let full = accept(shared, upload("dev-a", "b.wav", wav(), None)).await.expect_err("16 KB do not");
        assert!(matches!(full, UploadError::Full { limit_bytes: 12_000 }), "got {full:?}");
        host.set_uploads(false);
        let off = accept(shared, upload("dev-a", "c.png", png(), None)).await.expect_err("switched off");
        assert!(matches!(off, UploadError::Disabled), "got {off:?}");
        assert_eq!(files_in(&host).len(), 1, "only the one accepted: {:?}", files_in(&host));
        assert_eq!(host.library().await.unwrap().len(), 1);
        host.shutdown(None).await;
    }

    /// A streamed upload dropped half-way (its connection gone) leaves no temp file.
    #[tokio::test]
    async fn a_dropped_upload_leaves_nothing() {
        let (host, _member) = host_with_member(UploadPolicy::default()).await;
        let mut receiving = Receiving::start(&host.shared, None).await.unwrap();
        receiving.write(&wav()[..100]).await.unwrap();
        let temp = receiving.temp_path();
        assert!(temp.exists(), "the temp file is written while the bytes come");
        drop(receiving);
        assert!(!temp.exists(), "and gone when the upload is");
        assert_eq!(files_in(&host), Vec::<String>::new());
        host.shutdown(None).await;
    }

    /// Uploads on their way hold their part of the total as they are written: with 8 KB of one
    /// in flight, a second one is refused at the total (many phones uploading at once cannot
    /// fill more disk than the host keeps); once the first is dropped its part is free again.
    #[tokio::test]
    async fn uploads_in_flight_count_against_the_total() {
        let policy = UploadPolicy { max_total_bytes: 12_000, ..UploadPolicy::default() };
        let (host, _member) = host_with_member(policy).await;
        let mut first = Receiving::start(&host.shared, None).await.unwrap();
        first.write(&wav()).await.expect("8 KB of 12");
        let mut second = Receiving::start(&host.shared, None).await.unwrap();
        let refused = second.write(&wav()).await.expect_err("8 more KB do not fit beside the first");
        assert!(matches!(refused, UploadError::Full { limit_bytes: 12_000 }), "got {refused:?}");
        drop((first, second));
        assert_eq!(host.shared.uploads.kept().bytes, 0, "both parts given back");
        accept(&host.shared, upload("dev-a", "a.wav", wav(), None)).await.expect("room again");
        assert_eq!(host.shared.uploads.kept().bytes, 8044, "a kept file keeps its part");
        host.shutdown(None).await;
    }

    /// The host's own temp folder is removed on shutdown; a folder the host named stays.
    #[tokio::test]
    async fn the_temp_folder_goes_with_the_host() {
        let (host, _member) = host_with_member(UploadPolicy::default()).await;
        assert_eq!(host.shared.uploads.root(), None, "no folder before the first upload");
        accept(&host.shared, upload("dev-a", "a.png", png(), None)).await.unwrap();
        let root = host.shared.uploads.root().expect("made for the first upload");
        host.shutdown(None).await;
        assert!(!root.exists(), "{} removed", root.display());
        let named = tempfile::tempdir().unwrap();
        let policy = UploadPolicy { dir: Some(named.path().join("up")), ..UploadPolicy::default() };
        let (host, _member) = host_with_member(policy).await;
        accept(&host.shared, upload("dev-a", "a.png", png(), None)).await.unwrap();
        host.shutdown(None).await;
        assert_eq!(
            std::fs::read_dir(named.path().join("up/guests")).unwrap().count(),
            1,
            "the host's own folder stays"
        );
    }

    /// At start a kept file still of its size and modification time is taken back without
    /// being read; one whose time moved is read, and refused when its bytes are not the ones kept
    /// (the same size, other bytes); one kept without a time (an older party file) is read too.
    #[test]
    fn restore_reads_a_file_only_when_its_time_moved() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(&UploadPolicy { dir: Some(dir.path().to_path_buf()), ..UploadPolicy::default() }).unwrap();
        let path = dir.path().join("guests/u-00000000000000aa.png");
        let bytes = png();
        std::fs::write(&path, &bytes).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let kept = crate::store::StoredUpload {
            id: "u-00000000000000aa".into(),
            kind: "photo".into(),
            name: "a.png".into(),
            file: path.to_string_lossy().into_owned(),
            mime: "image/png".into(),
            size: bytes.len() as u64,
            checksum: hex_checksum(Sha256::digest(&bytes).as_slice()),
            from: "m-1".into(),
            from_name: "Sara".into(),
            at: 1,
            modified: modified_ns(&meta),
        };
        assert!(matches!(store.restore(&kept), Ok(Restored::Photo(_))), "as it was kept");
        // Other bytes of the same size, the time put back: not read, so taken (what the check
        // trades for a quick start; the host's own folder is not where files are swapped).
        let mut other = bytes.clone();
        *other.last_mut().unwrap() ^= 0xff;
        std::fs::write(&path, &other).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(meta.modified().unwrap()).unwrap();
        let store =
            Store::open(&UploadPolicy { dir: Some(dir.path().to_path_buf()), ..UploadPolicy::default() }).unwrap();
        assert!(store.restore(&kept).is_ok(), "size and time as kept: taken without reading");
        // Its time moved: read, and refused.
        file.set_modified(meta.modified().unwrap() + std::time::Duration::from_secs(1)).unwrap();
        let store =
            Store::open(&UploadPolicy { dir: Some(dir.path().to_path_buf()), ..UploadPolicy::default() }).unwrap();
        let why = store.restore(&kept).expect_err("changed bytes");
        assert!(why.contains("has changed"), "{why}");
        // No time kept: read, and refused.
        file.set_modified(meta.modified().unwrap()).unwrap();
        let store =
            Store::open(&UploadPolicy { dir: Some(dir.path().to_path_buf()), ..UploadPolicy::default() }).unwrap();
        let untimed = crate::store::StoredUpload { modified: None, ..kept.clone() };
        assert!(store.restore(&untimed).expect_err("read").contains("has changed"));
        std::fs::write(&path, &bytes).unwrap();
        let store =
            Store::open(&UploadPolicy { dir: Some(dir.path().to_path_buf()), ..UploadPolicy::default() }).unwrap();
        assert!(store.restore(&untimed).is_ok(), "read, and the bytes kept");
    }

    /// `sha256:` and 64 lower-case hex digits, as seed 001's acknowledgement writes them.
    #[test]
    fn checksums_are_seed_001s() {
        let text = hex_checksum(Sha256::digest(b"abc").as_slice());
        assert_eq!(text, partyline_protocol::binary::checksum(b"abc"));
        assert_eq!(text, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
