//! The media a host shares: a folder scanned into a [`Library`] (the SyncPlay items and, for
//! each, the one file it stands for), and served by lookup in that library, with Range
//! requests (tower-http's `ServeFile` on the resolved file), so phones can seek and stream.
//!
//! Only what the scan listed is ever served: `/media/<path>` answers when `<path>` is exactly
//! an item's scanned path, and nothing else in the folder (other files, hidden ones, deeper
//! ones, folders) has a URL. A symbolic link is followed only when its target lies inside the
//! shared folder, at scan time and again at request time.
//!
//! It also reads a file's length from its header for the formats whose header says (WAV, FLAC):
//! [`duration_ms`], remembered per file by [`Durations`], for a host's UI.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use partyline_protocol::LibraryItem;

/// Files a browser can play or show, by extension, with their MIME types: audio, video and
/// still images only. Never a type a browser runs as a document (HTML, SVG, XML, PDF): a file
/// served from the phone page's origin must not be able to run script there.
const PLAYABLE: &[(&str, &str)] = &[
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/ogg"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("webm", "video/webm"),
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("webp", "image/webp"),
    ("gif", "image/gif"),
    ("avif", "image/avif"),
];

/// The most files a library lists: more than a party plays in a night, and it keeps one
/// `library.update` near 50 KB for a phone to parse. Past it, the rest are left out (and logged).
pub const MAX_ITEMS: usize = 300;

/// How deep into subfolders the scan goes: albums in artist folders, not a whole disk.
const MAX_DEPTH: usize = 3;

/// Why a media folder cannot be shared.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The folder cannot be read.
    #[error("cannot read media folder {path}: {source}")]
    Read {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A scanned folder: the items phones see, and the file each one serves.
#[derive(Debug, Clone, Default)]
pub struct Library {
    dir: PathBuf,
    root: PathBuf,
    items: Vec<LibraryItem>,
    files: HashMap<String, MediaFile>,
}

/// The one file a library item serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// Its canonical path (no links, no `..`), inside the canonical shared folder.
    pub path: PathBuf,
    /// Its MIME type, from [`PLAYABLE`]: audio, video or an image.
    pub mime: mime::Mime,
}

impl Library {
    /// The folder as it was given to [`scan`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The items, sorted by path.
    pub fn items(&self) -> &[LibraryItem] {
        &self.items
    }

    /// The file behind a scanned path (`/`-separated, not encoded: `Album/Song.mp3`), if it is
    /// exactly an item's.
    pub fn file(&self, path: &str) -> Option<&MediaFile> {
        self.files.get(path)
    }

    /// The file behind a request path under `/media` (`/Album/Song%20One.mp3`): percent-decoded,
    /// then looked up exactly. Anything that is not an item's path is `None`, whatever it
    /// encodes (`..`, `%2F`, a folder, a file the scan skipped).
    pub fn resolve(&self, request_path: &str) -> Option<&MediaFile> {
        let encoded = request_path.strip_prefix('/')?;
        let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8().ok()?;
        self.file(&decoded)
    }

    /// Whether `file` is still what the scan found: its path is still canonical (no component
    /// was swapped for a link since) and inside the shared folder, and it is a regular file.
    /// Blocking: call it off the async threads.
    pub fn still_inside(&self, file: &MediaFile) -> bool {
        let Ok(now) = std::fs::canonicalize(&file.path) else { return false };
        now == file.path && now.starts_with(&self.root) && std::fs::metadata(&now).is_ok_and(|m| m.is_file())
    }
}

/// Scans `dir` into a library: the playable files, sorted by path, as items whose URLs are
/// `/media/<path>` (percent-encoded). Ids are derived from the path, so they stay the same
/// across restarts. Hidden files and folders (a leading `.`) are skipped, and so is a link whose
/// target lies outside `dir`.
pub fn scan(dir: &Path) -> Result<Library, MediaError> {
    let read = |source| MediaError::Read { path: dir.to_path_buf(), source };
    let root = std::fs::canonicalize(dir).map_err(read)?;
    let mut files = Vec::new();
    walk(&root, &root, 0, &mut files).map_err(read)?;
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    // Two names that are not UTF-8 can read alike: one path, one file.
    files.dedup_by(|a, b| a.rel == b.rel);
    if files.len() > MAX_ITEMS {
        tracing::warn!(found = files.len(), kept = MAX_ITEMS, "media folder has more files than a library lists");
        files.truncate(MAX_ITEMS);
    }
    let mut library = Library { dir: dir.to_path_buf(), root, ..Library::default() };
    for found in files {
        let title = Path::new(&found.rel).file_stem().map_or(found.rel.clone(), |s| s.to_string_lossy().into_owned());
        library.items.push(LibraryItem {
            id: format!("t-{:08x}", fnv1a(found.rel.as_bytes()) as u32),
            title,
            mime: found.mime.into(),
            url: format!("/media/{}", encode_path(&found.rel)),
            size: found.size,
        });
        let mime = found.mime.parse().expect("every MIME type in PLAYABLE parses");
        library.files.insert(found.rel, MediaFile { path: found.path, mime });
    }
    Ok(library)
}

/// A playable file the walk found.
struct Found {
    rel: String,
    path: PathBuf,
    mime: &'static str,
    size: u64,
}

/// Lists playable files under `dir` (a path below `root`, the canonical shared folder). Each
/// entry's canonical path must lie inside `root`: that one check keeps out a link to `/etc`, a
/// link to a file elsewhere, and a link below a linked folder alike.
fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<Found>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(target) = std::fs::canonicalize(&path) else { continue };
        if !target.starts_with(root) {
            tracing::debug!(path = %path.display(), target = %target.display(), "skipping a link out of the media folder");
            continue;
        }
        let Ok(meta) = std::fs::metadata(&target) else { continue };
        if meta.is_dir() && depth < MAX_DEPTH {
            walk(root, &path, depth + 1, out)?;
        } else if meta.is_file() {
            let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            let Some((_, mime)) = PLAYABLE.iter().find(|(e, _)| *e == ext) else { continue };
            let Ok(rel) = path.strip_prefix(root) else { continue };
            let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            out.push(Found { rel: rel.join("/"), path: target, mime, size: meta.len() });
        }
    }
    Ok(())
}

/// Percent-encodes each segment of a `/`-separated path (RFC 3986 unreserved characters stay).
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// FNV-1a, 64-bit: a stable, dependency-free hash for ids.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |hash, b| (hash ^ *b as u64).wrapping_mul(0x100000001b3))
}

/// Lengths already read, by file and size: a host's UI asks for the library's every few seconds,
/// and a file is read once (again only when its size changes).
#[derive(Debug, Default)]
pub struct Durations(Mutex<HashMap<(PathBuf, u64), Option<f64>>>);

impl Durations {
    /// `item`'s length in ms, `item` being one of `dir`'s library (its `url` names its file
    /// there); `None` when the header does not say or the file is not `dir`'s.
    pub fn of(&self, dir: &Path, item: &LibraryItem) -> Option<f64> {
        let file = file_of(dir, &item.url)?;
        let key = (file, item.size);
        if let Some(known) = self.0.lock().ok()?.get(&key) {
            return *known;
        }
        let found = duration_ms(&key.0);
        self.0.lock().ok()?.insert(key, found);
        found
    }
}

/// The file behind a library URL (`/media/<percent-encoded path>`) inside `dir`; `None` for a
/// URL that is not `/media/`'s or whose path leaves `dir` (`..`, a root).
fn file_of(dir: &Path, url: &str) -> Option<PathBuf> {
    let encoded = url.strip_prefix("/media/")?;
    let relative = PathBuf::from(percent_encoding::percent_decode_str(encoded).decode_utf8().ok()?.as_ref());
    relative.components().all(|c| matches!(c, Component::Normal(_))).then(|| dir.join(relative))
}

/// A file's length in ms from its header, for the formats whose header says: WAV (data size
/// over byte rate) and FLAC (STREAMINFO's samples over sample rate). Others: `None`.
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

/// How many RIFF chunks a WAV may have before its data: a few in practice (fmt, LIST, fact...);
/// past this the file is not worth walking.
const MAX_WAV_CHUNKS: usize = 16;

fn wav_duration(file: &mut std::fs::File, len: u64) -> Option<f64> {
    let mut at = 12u64;
    let mut byte_rate = None;
    for _ in 0..MAX_WAV_CHUNKS {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("partyline-media-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Playable files are listed with MIME, size and encoded URL; others and hidden depths not.
    #[test]
    fn scans_a_folder() {
        let dir = temp_dir("scan");
        std::fs::create_dir_all(dir.join("Album One")).unwrap();
        std::fs::write(dir.join("b song.mp3"), b"12345").unwrap();
        std::fs::write(dir.join("Album One/a#1.ogg"), b"1").unwrap();
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        let library = scan(&dir).unwrap();
        let items = library.items();
        let urls: Vec<&str> = items.iter().map(|i| i.url.as_str()).collect();
        assert_eq!(urls, ["/media/Album%20One/a%231.ogg", "/media/b%20song.mp3"]);
        assert_eq!((items[1].title.as_str(), items[1].mime.as_str(), items[1].size), ("b song", "audio/mpeg", 5));
        assert_eq!(items[0].id, scan(&dir).unwrap().items()[0].id, "ids are stable");
        assert_eq!(library.dir(), dir.as_path());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(scan(&dir), Err(MediaError::Read { .. })));
    }

    /// A request path resolves only when it decodes to exactly an item's scanned path.
    #[test]
    fn resolves_only_scanned_paths() {
        let dir = temp_dir("resolve");
        std::fs::create_dir_all(dir.join("Album One/.hidden")).unwrap();
        std::fs::write(dir.join("Album One/a#1.ogg"), b"1").unwrap();
        std::fs::write(dir.join("Album One/.hidden/x.mp3"), b"1").unwrap();
        std::fs::write(dir.join("pic.svg"), b"<svg/>").unwrap();
        std::fs::write(dir.join("photo.JPG"), b"jpeg").unwrap();
        let library = scan(&dir).unwrap();
        let canonical = std::fs::canonicalize(&dir).unwrap();
        let song = library.resolve("/Album%20One/a%231.ogg").expect("the item's own URL");
        assert_eq!((song.path.clone(), song.mime.as_ref()), (canonical.join("Album One/a#1.ogg"), "audio/ogg"));
        assert_eq!(library.resolve("/photo.JPG").map(|f| f.mime.as_ref()), Some("image/jpeg"));
        for path in [
            "/Album%20One",
            "/Album%20One/",
            "/Album%20One/.hidden/x.mp3",
            "/pic.svg",
            "/Album%20One/../Album%20One/a%231.ogg",
            "/./photo.JPG",
            "/%ff",
            "",
        ] {
            assert_eq!(library.resolve(path), None, "{path} is not an item");
        }
        assert!(library.still_inside(song));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!library.still_inside(song), "a file gone since the scan");
    }

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

    /// WAV and FLAC lengths come from their headers (a chunk before the data is skipped, padded
    /// to even); other files and missing ones have none.
    #[test]
    fn durations_from_headers() {
        let dir = temp_dir("durations");
        wav(&dir.join("a.wav"), 2, false);
        wav(&dir.join("b.wav"), 3, true);
        assert_eq!(duration_ms(&dir.join("a.wav")), Some(2000.0), "a 2 s WAV");
        assert_eq!(duration_ms(&dir.join("b.wav")), Some(3000.0), "a 3 s WAV with a LIST chunk");
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
        assert_eq!(duration_ms(&dir.join("c.flac")), Some(10_000.0), "a 10 s FLAC");
        std::fs::write(dir.join("d.mp3"), b"ID3 not a header we read").unwrap();
        assert_eq!(duration_ms(&dir.join("d.mp3")), None, "an MP3 says nothing");
        assert_eq!(duration_ms(&dir.join("missing.wav")), None, "a missing file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A library's items find their files (and lengths) through their URLs; a URL that leaves the
    /// folder or is not `/media/`'s finds none.
    #[test]
    fn items_find_their_files() {
        let dir = temp_dir("item-files");
        std::fs::create_dir_all(dir.join("Album One")).unwrap();
        wav(&dir.join("Album One/a#1.wav"), 1, false);
        let library = scan(&dir).unwrap();
        let durations = Durations::default();
        assert_eq!(durations.of(&dir, &library.items()[0]), Some(1000.0), "{:?}", library.items()[0]);
        assert_eq!(file_of(&dir, "/media/Album%20One/a%231.wav"), Some(dir.join("Album One/a#1.wav")));
        assert_eq!(file_of(&dir, "/media/..%2Fetc%2Fpasswd"), None, "a path out of the folder");
        assert_eq!(file_of(&dir, "/elsewhere/x.mp3"), None, "not a media URL");
        assert_eq!(file_of(&dir, "/media/%ff"), None, "not UTF-8");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
