//! The media a host shares: a folder scanned into the SyncPlay library, and served over HTTP
//! with Range requests (tower-http's `ServeDir`), so phones can seek and stream.

use std::path::{Path, PathBuf};

use partyline_protocol::LibraryItem;

/// Files a browser can play, by extension, with their MIME types. Audio first; video plays
/// through the same path.
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

/// Lists the playable files under `dir`, sorted by path, as library items whose URLs are
/// `/media/<path>` (percent-encoded). Ids are derived from the path, so they stay the same
/// across restarts.
pub fn scan(dir: &Path) -> Result<Vec<LibraryItem>, MediaError> {
    let mut files = Vec::new();
    walk(dir, dir, 0, &mut files).map_err(|source| MediaError::Read { path: dir.to_path_buf(), source })?;
    files.sort();
    if files.len() > MAX_ITEMS {
        tracing::warn!(found = files.len(), kept = MAX_ITEMS, "media folder has more files than a library lists");
        files.truncate(MAX_ITEMS);
    }
    Ok(files
        .into_iter()
        .map(|(rel, mime, size)| {
            let title = Path::new(&rel).file_stem().map_or(rel.clone(), |s| s.to_string_lossy().into_owned());
            LibraryItem {
                id: format!("t-{:08x}", fnv1a(rel.as_bytes()) as u32),
                title,
                mime: mime.into(),
                url: format!("/media/{}", encode_path(&rel)),
                size,
            }
        })
        .collect())
}

fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<(String, &'static str, u64)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() && depth < MAX_DEPTH {
            walk(root, &path, depth + 1, out)?;
        } else if kind.is_file() {
            let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            let Some((_, mime)) = PLAYABLE.iter().find(|(e, _)| *e == ext) else { continue };
            let Ok(rel) = path.strip_prefix(root) else { continue };
            let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            out.push((rel.join("/"), mime, entry.metadata()?.len()));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Playable files are listed with MIME, size and encoded URL; others and hidden depths not.
    #[test]
    fn scans_a_folder() {
        let dir = std::env::temp_dir().join(format!("partyline-media-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("Album One")).unwrap();
        std::fs::write(dir.join("b song.mp3"), b"12345").unwrap();
        std::fs::write(dir.join("Album One/a#1.ogg"), b"1").unwrap();
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        let items = scan(&dir).unwrap();
        let urls: Vec<&str> = items.iter().map(|i| i.url.as_str()).collect();
        assert_eq!(urls, ["/media/Album%20One/a%231.ogg", "/media/b%20song.mp3"]);
        assert_eq!((items[1].title.as_str(), items[1].mime.as_str(), items[1].size), ("b song", "audio/mpeg", 5));
        assert_eq!(items[0].id, scan(&dir).unwrap()[0].id, "ids are stable");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(scan(&dir), Err(MediaError::Read { .. })));
    }
}
