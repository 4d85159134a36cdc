//! The media a host shares: a folder scanned into a [`Library`] (the SyncPlay items and, for
//! each, the one file it stands for), and served by lookup in that library, with Range
//! requests (tower-http's `ServeFile` on the resolved file), so phones can seek and stream.
//!
//! Only what the scan listed is ever served: `/media/<path>` answers when `<path>` is exactly
//! an item's scanned path, and nothing else in the folder (other files, hidden ones, deeper
//! ones, folders) has a URL. A symbolic link is followed only when its target lies inside the
//! shared folder, at scan time and again at request time; a link back to a folder the walk is
//! already in (a loop) is not followed again.
//!
//! Each file's tags and length are read by lofty ([`Tags::read`]): title (else the file name),
//! artist, album, length, and whether it holds a cover picture, which `/media/.cover/<id>`
//! serves ([`Library::cover`]; a name with a leading `.` is never an item's, so the two cannot
//! meet). A subfolder the scan cannot read is skipped, and said ([`Library::note`]); only the
//! folder itself failing fails the scan.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
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

/// The most files a library lists: a large personal collection (about 3 MB of items in the
/// host's memory, a scan of a minute or so on a slow disk). Members page through it
/// (`library.query`), so its size never reaches one message. Past it the rest are left out,
/// and the host is told ([`Library::note`]).
pub const MAX_ITEMS: usize = 10_000;

/// How deep into subfolders the scan goes: genre, artist, album, disc and a spare level or two,
/// not a whole disk. Deeper folders are left out, and the host is told.
const MAX_DEPTH: usize = 6;

/// The most folders one scan opens, links included: a bound on the walk however the folder's
/// links interleave (each followed link may list a subtree again).
const MAX_FOLDERS: usize = 5_000;

/// The longest title, artist or album kept from a tag, in characters: a tag may hold a
/// paragraph; a phone's row shows a line.
const MAX_TAG_CHARS: usize = 200;

/// The largest cover picture served, in bytes: an album's front cover is 50 KB to 1 MB; a tag
/// holding more is not worth sending to thirty phones.
const MAX_COVER_BYTES: usize = 4 * 1024 * 1024;

/// Cover pictures kept in memory, in bytes: the few a party is playing and queueing, so that
/// thirty phones asking for the same cover read the file's tags once.
const COVER_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// The cover art URL of item `id` (below the host, behind the join key as `/media/` is).
fn cover_url(id: &str) -> String {
    format!("/media/.cover/{id}")
}

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

/// A part of the folder the scan left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its path inside the folder (`/`-separated).
    pub path: String,
    /// Why, in words (the system's error, or "deeper than 6 folders").
    pub why: String,
}

/// A scanned folder: the items phones see, and the file each one serves.
#[derive(Debug, Default)]
pub struct Library {
    dir: PathBuf,
    root: PathBuf,
    items: Vec<LibraryItem>,
    files: HashMap<String, MediaFile>,
    /// Item id → its scanned path, for the items whose tags hold a cover.
    covers: HashMap<String, String>,
    skipped: Vec<Skipped>,
    /// How many playable files were found past [`MAX_ITEMS`].
    left_out: usize,
    cache: CoverCache,
}

/// The one file a library item serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// Its canonical path (no links, no `..`), inside the canonical shared folder.
    pub path: PathBuf,
    /// Its MIME type, from [`PLAYABLE`]: audio, video or an image.
    pub mime: mime::Mime,
}

/// A cover picture as served: its bytes and the image type they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    /// The picture.
    pub bytes: bytes::Bytes,
    /// `image/jpeg`, `image/png`, `image/webp` or `image/gif`, from the bytes themselves.
    pub mime: &'static str,
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

    /// What the scan left out: subfolders it could not read, links that lead nowhere, folders
    /// too deep.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// A line for the host when the scan left something out ("Skipped 1 folder it could not
    /// read: Live (Permission denied)"), else `None`.
    pub fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.skipped.is_empty() {
            const SHOWN: usize = 3;
            let n = self.skipped.len();
            let listed: Vec<String> =
                self.skipped.iter().take(SHOWN).map(|s| format!("{} ({})", s.path, s.why)).collect();
            let more = if n > SHOWN { format!(" and {} more", n - SHOWN) } else { String::new() };
            let folders = if n == 1 { "folder" } else { "folders" };
            parts.push(format!("Skipped {n} {folders} it could not read: {}{more}.", listed.join(", ")));
        }
        if self.left_out > 0 {
            parts.push(format!("Listed the first {MAX_ITEMS} files; {} more were left out.", self.left_out));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
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

    /// The cover picture of item `id`, for a request path under `/media` (`/.cover/<id>`):
    /// only an item the scan listed with a cover, whose file is still inside the folder, and
    /// only a picture whose bytes are an image (JPEG, PNG, WebP, GIF). Kept in a small cache.
    /// Blocking (it reads the file's tags): call it off the async threads.
    pub fn cover(&self, request_path: &str) -> Option<Cover> {
        let id = request_path.strip_prefix("/.cover/")?;
        let rel = self.covers.get(id)?;
        if let Some(cover) = self.cache.get(id) {
            return Some(cover);
        }
        let file = self.files.get(rel)?;
        if !self.still_inside(file) {
            return None;
        }
        let cover = read_cover(&file.path)?;
        self.cache.put(id, &cover);
        Some(cover)
    }
}

/// The covers served lately, newest last, at most [`COVER_CACHE_BYTES`] of them.
#[derive(Debug, Default)]
struct CoverCache(Mutex<VecDeque<(String, Cover)>>);

impl CoverCache {
    fn get(&self, id: &str) -> Option<Cover> {
        let cache = self.0.lock().ok()?;
        cache.iter().find(|(key, _)| key == id).map(|(_, cover)| cover.clone())
    }

    fn put(&self, id: &str, cover: &Cover) {
        let Ok(mut cache) = self.0.lock() else { return };
        if cache.iter().any(|(key, _)| key == id) {
            return;
        }
        cache.push_back((id.to_string(), cover.clone()));
        while cache.iter().map(|(_, c)| c.bytes.len()).sum::<usize>() > COVER_CACHE_BYTES && cache.len() > 1 {
            cache.pop_front();
        }
    }
}

/// What a file's tags and header say, as lofty reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    /// The title tag.
    pub title: Option<String>,
    /// The artist tag.
    pub artist: Option<String>,
    /// The album tag.
    pub album: Option<String>,
    /// The length, ms (none when the header does not say, or says 0).
    pub duration_ms: Option<u64>,
    /// Whether a tag holds a picture that is an image ([`read_cover`] would find one).
    pub has_cover: bool,
}

impl Tags {
    /// Reads `path`'s tags and length; a file lofty cannot read (not audio, damaged, a format it
    /// does not know) has none, and is still listed. Blocking.
    pub fn read(path: &Path) -> Tags {
        use lofty::prelude::*;
        let Some(tagged) = probe(path) else { return Tags::default() };
        let length = tagged.properties().duration().as_millis();
        let duration_ms = u64::try_from(length).ok().filter(|ms| *ms > 0);
        let tag = tagged.primary_tag().or_else(|| tagged.first_tag());
        let text = |value: Option<std::borrow::Cow<'_, str>>| value.and_then(|v| clean_tag(&v));
        Tags {
            title: text(tag.and_then(|t| t.title())),
            artist: text(tag.and_then(|t| t.artist())),
            album: text(tag.and_then(|t| t.album())),
            duration_ms,
            has_cover: picture_of(&tagged).is_some(),
        }
    }
}

/// `path` opened and read by lofty, by its bytes (not its extension), or `None`.
fn probe(path: &Path) -> Option<lofty::file::TaggedFile> {
    lofty::probe::Probe::open(path).ok()?.guess_file_type().ok()?.read().ok()
}

/// The cover a file's tags hold: the front cover if one is marked so, else the first picture;
/// only one within [`MAX_COVER_BYTES`] whose bytes are an image.
fn picture_of(tagged: &lofty::file::TaggedFile) -> Option<Cover> {
    use lofty::picture::PictureType;
    use lofty::prelude::*;
    let pictures: Vec<&lofty::picture::Picture> = tagged.tags().iter().flat_map(|tag| tag.pictures()).collect();
    let picture = pictures.iter().find(|p| p.pic_type() == PictureType::CoverFront).or_else(|| pictures.first())?;
    let data = picture.data();
    if data.len() > MAX_COVER_BYTES {
        return None;
    }
    let mime = image_type(data)?;
    Some(Cover { bytes: bytes::Bytes::copy_from_slice(data), mime })
}

/// The image type `bytes` are, by their magic numbers, among those a cover may be served as.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    use infer::image::{is_gif, is_jpeg, is_png, is_webp};
    [
        (is_jpeg as fn(&[u8]) -> bool, "image/jpeg"),
        (is_png, "image/png"),
        (is_webp, "image/webp"),
        (is_gif, "image/gif"),
    ]
    .into_iter()
    .find(|(matches, _)| matches(bytes))
    .map(|(_, mime)| mime)
}

/// `path`'s cover picture, read from its tags. Blocking.
pub fn read_cover(path: &Path) -> Option<Cover> {
    picture_of(&probe(path)?)
}

/// A tag's text as shown: control characters dropped, spaces trimmed, at most
/// [`MAX_TAG_CHARS`]; an empty one is none.
fn clean_tag(text: &str) -> Option<String> {
    let cleaned: String = text.chars().filter(|c| !c.is_control()).take(MAX_TAG_CHARS).collect();
    let trimmed = cleaned.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// Scans `dir` into a library: the playable files, sorted by path, as items whose URLs are
/// `/media/<path>` (percent-encoded), with what their tags say. Ids are derived from the path,
/// so they stay the same across restarts. Hidden files and folders (a leading `.`) are skipped,
/// and so is a link whose target lies outside `dir`. A subfolder that cannot be read is
/// skipped and logged (and in [`Library::note`]); only `dir` itself failing is an error.
pub fn scan(dir: &Path) -> Result<Library, MediaError> {
    let read = |source| MediaError::Read { path: dir.to_path_buf(), source };
    let root = std::fs::canonicalize(dir).map_err(read)?;
    let entries = std::fs::read_dir(&root).map_err(read)?;
    let mut walk = Walk { root: root.clone(), files: Vec::new(), skipped: Vec::new(), folders: 1 };
    walk.folder(entries, &mut vec![root.clone()]);
    let Walk { mut files, skipped, .. } = walk;
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    // Two names that are not UTF-8 can read alike: one path, one file.
    files.dedup_by(|a, b| a.rel == b.rel);
    let left_out = files.len().saturating_sub(MAX_ITEMS);
    if left_out > 0 {
        tracing::warn!(found = files.len(), kept = MAX_ITEMS, "media folder has more files than a library lists");
        files.truncate(MAX_ITEMS);
    }
    for skip in &skipped {
        tracing::warn!(folder = %dir.display(), path = %skip.path, why = %skip.why, "skipped part of the media folder");
    }
    let mut library = Library { dir: dir.to_path_buf(), root, skipped, left_out, ..Library::default() };
    for found in files {
        let tags = Tags::read(&found.path);
        let stem = Path::new(&found.rel).file_stem().map_or(found.rel.clone(), |s| s.to_string_lossy().into_owned());
        let id = format!("t-{:08x}", fnv1a(found.rel.as_bytes()) as u32);
        if tags.has_cover {
            library.covers.insert(id.clone(), found.rel.clone());
        }
        library.items.push(LibraryItem {
            cover: tags.has_cover.then(|| cover_url(&id)),
            id,
            title: tags.title.unwrap_or(stem),
            mime: found.mime.into(),
            url: format!("/media/{}", encode_path(&found.rel)),
            size: found.size,
            duration_ms: tags.duration_ms,
            artist: tags.artist,
            album: tags.album,
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

/// One scan's walk: what it found, what it left out, how many folders it opened.
struct Walk {
    /// The canonical shared folder.
    root: PathBuf,
    files: Vec<Found>,
    skipped: Vec<Skipped>,
    folders: usize,
}

impl Walk {
    /// Lists playable files among `entries` (of a folder below the root, as reached: through
    /// links, if it was). `ancestors` are the canonical folders from the root down to this one: a link to
    /// one of them is a loop and is not followed. Each entry's canonical path must lie inside
    /// the root: that one check keeps out a link to `/etc`, a link to a file elsewhere, and a
    /// link below a linked folder alike.
    fn folder(&mut self, entries: std::fs::ReadDir, ancestors: &mut Vec<PathBuf>) {
        let mut entries: Vec<std::fs::DirEntry> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let target = match std::fs::canonicalize(&path) {
                Ok(target) => target,
                Err(err) => {
                    // A link to something missing (an unplugged drive) or a link loop.
                    self.skip(&path, err.to_string());
                    continue;
                }
            };
            if !target.starts_with(&self.root) {
                tracing::debug!(path = %path.display(), target = %target.display(), "skipping a link out of the media folder");
                continue;
            }
            let meta = match std::fs::metadata(&target) {
                Ok(meta) => meta,
                Err(err) => {
                    self.skip(&path, err.to_string());
                    continue;
                }
            };
            if meta.is_dir() {
                if ancestors.contains(&target) {
                    tracing::debug!(path = %path.display(), "skipping a link back to a folder the scan is in");
                    continue;
                }
                if ancestors.len() > MAX_DEPTH {
                    self.skip(&path, format!("deeper than {MAX_DEPTH} folders"));
                    continue;
                }
                if self.folders >= MAX_FOLDERS {
                    self.skip(&path, format!("past the {MAX_FOLDERS} folders a scan opens"));
                    continue;
                }
                self.folders += 1;
                match std::fs::read_dir(&path) {
                    Ok(inner) => {
                        ancestors.push(target);
                        self.folder(inner, ancestors);
                        ancestors.pop();
                    }
                    Err(err) => self.skip(&path, err.to_string()),
                }
            } else if meta.is_file() {
                let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
                let Some((_, mime)) = PLAYABLE.iter().find(|(e, _)| *e == ext) else { continue };
                let Some(rel) = self.rel(&path) else { continue };
                self.files.push(Found { rel, path: target, mime, size: meta.len() });
            }
        }
    }

    /// `path` inside the root, `/`-separated.
    fn rel(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        Some(parts.join("/"))
    }

    fn skip(&mut self, path: &Path, why: String) {
        let path = self.rel(path).unwrap_or_else(|| path.display().to_string());
        self.skipped.push(Skipped { path, why });
    }
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

/// A cover's fingerprint for its ETag: FNV-1a of its bytes.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    fnv1a(bytes)
}

/// FNV-1a, 64-bit: a stable, dependency-free hash for ids.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |hash, b| (hash ^ *b as u64).wrapping_mul(0x100000001b3))
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

    /// The media fixtures (tests/fixtures/media: encoder-made, tagged by the encoders).
    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/media").join(name)
    }

    fn by_title<'a>(library: &'a Library, title: &str) -> &'a LibraryItem {
        library
            .items()
            .iter()
            .find(|i| i.title == title)
            .unwrap_or_else(|| panic!("no {title:?} in {:?}", library.items()))
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
        assert_eq!(
            (items[1].duration_ms, &items[1].artist, &items[1].cover),
            (None, &None, &None),
            "not audio: no tags"
        );
        assert_eq!(items[0].id, scan(&dir).unwrap().items()[0].id, "ids are stable");
        assert_eq!(library.dir(), dir.as_path());
        assert_eq!(library.note(), None, "nothing left out");
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

    /// Real files from real encoders: MP3 (ID3v2), Ogg Vorbis and Opus (Vorbis comments), FLAC,
    /// M4A (iTunes atoms) and WAV (RIFF INFO) give their title, artist, album and length, and
    /// those with a picture a cover URL; a file with no tags is named by its file name and still
    /// has its length (from its frames: no Xing header).
    #[test]
    fn tags_and_lengths_from_real_files() {
        let dir = temp_dir("tags");
        for name in ["tone.mp3", "tone.ogg", "tone.opus", "tone.flac", "tone.m4a", "tone.wav", "untagged.mp3"] {
            std::fs::copy(fixture(name), dir.join(name)).unwrap();
        }
        let library = scan(&dir).unwrap();
        for (title, ms, cover) in [
            ("Tone in MP3", 2000, true),
            ("Tone in Vorbis", 2000, false),
            ("Tone in Opus", 2000, true),
            ("Tone in FLAC", 2000, true),
            ("Tone in M4A", 2000, true),
            ("Tone in WAV", 1000, false),
            ("untagged", 2000, false),
        ] {
            let item = by_title(&library, title);
            let length = item.duration_ms.unwrap_or_else(|| panic!("{title}: no length in {item:?}"));
            // Encoders pad to whole frames (an MP3 frame at 8 kHz is 72 ms; lame adds two).
            assert!(length.abs_diff(ms) <= 200, "{title}: {length} ms, expected {ms} ms ± 200");
            let tagged = title != "untagged";
            let expected = tagged.then(|| "The Fixtures".to_string());
            assert_eq!((&item.artist, &item.album), (&expected, &tagged.then(|| "Encoders".to_string())), "{title}");
            assert_eq!(item.cover, cover.then(|| format!("/media/.cover/{}", item.id)), "{title}'s cover");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A cover is served for an item the scan listed with one, as the picture's own bytes and
    /// image type, from the cache once read; an item without one, an unknown id, a path that is
    /// not an id, and a picture whose bytes are not an image (an HTML page in a tag) are none.
    #[test]
    fn covers_only_for_listed_items() {
        use lofty::config::WriteOptions;
        use lofty::picture::{MimeType, Picture, PictureType};
        use lofty::prelude::*;
        use lofty::tag::{Tag, TagType};
        let dir = temp_dir("covers");
        std::fs::copy(fixture("tone.flac"), dir.join("tone.flac")).unwrap();
        std::fs::copy(fixture("tone.ogg"), dir.join("tone.ogg")).unwrap();
        std::fs::copy(fixture("untagged.mp3"), dir.join("html.mp3")).unwrap();
        let mut tag = Tag::new(TagType::Id3v2);
        tag.set_title("Not a picture".into());
        let page = b"<html><script>alert(1)</script></html>".to_vec();
        tag.push_picture(Picture::new_unchecked(PictureType::CoverFront, Some(MimeType::Png), None, page));
        tag.save_to_path(dir.join("html.mp3"), WriteOptions::default()).unwrap();
        let library = scan(&dir).unwrap();
        let flac = by_title(&library, "Tone in FLAC").clone();
        let cover = library.cover(&flac.cover.clone().unwrap()["/media".len()..]).expect("the FLAC's picture");
        assert_eq!(
            (cover.mime, cover.bytes.as_ref()),
            ("image/png", std::fs::read(fixture("cover.png")).unwrap().as_slice())
        );
        let html = by_title(&library, "Not a picture");
        assert_eq!(html.cover, None, "a picture that is not an image is no cover");
        assert_eq!(library.cover(&format!("/.cover/{}", html.id)), None);
        let ogg = by_title(&library, "Tone in Vorbis");
        assert_eq!(library.cover(&format!("/.cover/{}", ogg.id)), None, "no picture");
        for path in ["/.cover/t-00000000", "/.cover/", "/.cover/../tone.flac", "/tone.flac"] {
            assert_eq!(library.cover(path), None, "{path}");
        }
        std::fs::remove_file(dir.join("tone.flac")).unwrap();
        assert_eq!(library.cover(&format!("/.cover/{}", flac.id)), Some(cover), "kept in the cache");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Links inside the folder are followed: a link to a file is listed under its own name, a
    /// link to a folder lists that folder's files under the link's path. Links out of the folder
    /// (to a file, to a folder) are not listed and not served.
    #[test]
    fn links_inside_followed_outside_not() {
        use std::os::unix::fs::symlink;
        let dir = temp_dir("links");
        let outside = temp_dir("links-outside");
        std::fs::write(outside.join("secret.mp3"), b"x").unwrap();
        std::fs::create_dir_all(dir.join("Albums/Best")).unwrap();
        std::fs::write(dir.join("Albums/Best/one.mp3"), b"1").unwrap();
        symlink(dir.join("Albums/Best/one.mp3"), dir.join("favourite.mp3")).unwrap();
        symlink("Albums/Best", dir.join("Party")).unwrap();
        symlink(outside.join("secret.mp3"), dir.join("stolen.mp3")).unwrap();
        symlink(&outside, dir.join("Elsewhere")).unwrap();
        let library = scan(&dir).unwrap();
        let urls: Vec<&str> = library.items().iter().map(|i| i.url.as_str()).collect();
        assert_eq!(urls, ["/media/Albums/Best/one.mp3", "/media/Party/one.mp3", "/media/favourite.mp3"]);
        let canonical = std::fs::canonicalize(dir.join("Albums/Best/one.mp3")).unwrap();
        assert_eq!(library.resolve("/favourite.mp3").map(|f| f.path.clone()), Some(canonical.clone()));
        assert_eq!(library.resolve("/Party/one.mp3").map(|f| f.path.clone()), Some(canonical));
        for path in ["/stolen.mp3", "/Elsewhere/secret.mp3"] {
            assert_eq!(library.resolve(path), None, "{path} leads out of the folder");
        }
        assert_eq!(library.note(), None, "a link out is left out on purpose, not a failure");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }

    /// A link back up (to the folder itself, or to a folder the walk is in) is not walked again,
    /// and two links to each other (the system's ELOOP) are skipped: the scan ends, listing each
    /// real file once through each way that does not loop.
    #[test]
    fn link_loops_end() {
        use std::os::unix::fs::symlink;
        let dir = temp_dir("loops");
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/b/song.mp3"), b"1").unwrap();
        symlink("..", dir.join("a/b/up")).unwrap();
        symlink(&dir, dir.join("a/root")).unwrap();
        symlink("ping", dir.join("pong")).unwrap();
        symlink("pong", dir.join("ping")).unwrap();
        let library = scan(&dir).unwrap();
        let urls: Vec<&str> = library.items().iter().map(|i| i.url.as_str()).collect();
        assert_eq!(urls, ["/media/a/b/song.mp3"], "each loop is cut where it comes back");
        let skipped: Vec<&str> = library.skipped().iter().map(|s| s.path.as_str()).collect();
        assert_eq!(skipped, ["ping", "pong"], "the two links that lead nowhere");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A subfolder the scan cannot read is skipped, the rest is shared, and the host is told in a
    /// line. As root, `chmod 000` does not stop a read (root passes permission checks), so the
    /// failure here is one root meets too: a folder that is a link to a drive that is gone. The
    /// `chmod 000` folder is listed exactly when this user can still read it.
    #[test]
    fn one_bad_subfolder_is_skipped() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = temp_dir("bad-subfolder");
        std::fs::create_dir_all(dir.join("Good")).unwrap();
        std::fs::write(dir.join("Good/song.mp3"), b"1").unwrap();
        std::fs::write(dir.join("top.mp3"), b"1").unwrap();
        let gone = temp_dir("bad-subfolder-drive");
        std::fs::create_dir_all(gone.join("Live")).unwrap();
        symlink(gone.join("Live"), dir.join("Live")).unwrap();
        std::fs::remove_dir_all(&gone).unwrap();
        std::fs::create_dir_all(dir.join("Locked")).unwrap();
        std::fs::write(dir.join("Locked/hidden.mp3"), b"1").unwrap();
        std::fs::set_permissions(dir.join("Locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
        let readable = std::fs::read_dir(dir.join("Locked")).is_ok();
        let library = scan(&dir).expect("one bad subfolder does not fail the share");
        let urls: Vec<&str> = library.items().iter().map(|i| i.url.as_str()).collect();
        let mut expected = vec!["/media/Good/song.mp3", "/media/top.mp3"];
        if readable {
            expected.insert(1, "/media/Locked/hidden.mp3");
        }
        assert_eq!(urls, expected, "the rest is shared (Locked readable by this user: {readable})");
        let skipped: Vec<&str> = library.skipped().iter().map(|s| s.path.as_str()).collect();
        assert_eq!(skipped, if readable { vec!["Live"] } else { vec!["Live", "Locked"] });
        let note = library.note().expect("the host is told");
        assert!(note.starts_with("Skipped 1 folder it could not read: Live (") || !readable, "{note}");
        assert!(note.contains("No such file or directory"), "the system's words: {note}");
        std::fs::set_permissions(dir.join("Locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
