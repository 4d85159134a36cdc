//! The whole shared folder reaches every member, in messages of bounded size: `library.update`
//! carries the first page and the total, `library.query` pages through the rest and searches
//! by title or artist, and a cover is served only for an item the scan listed with one. A
//! real host on 127.0.0.1 port 0, a real WebSocket member, real files the test writes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use partyline_protocol::client::LibraryQuery;
use partyline_protocol::{ClientMessage, LIBRARY_PAGE_BYTES, LIBRARY_PAGE_ITEMS, PARTYLINE_V1};
use partyline_server::{Server, ServerConfig, ServerHandle};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How many files the big folder has: more than the old cut at 300, as many as a real collection's
/// shelf.
const FILES: usize = 2000;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("partyline-library-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/media").join(name)
}

async fn host_sharing(dir: &Path) -> ServerHandle {
    let config = ServerConfig { media: Some(dir.to_path_buf()), ..ServerConfig::default() };
    Server::start(config).await.expect("a host on port 0")
}

/// A partyline/1 member on a real socket, with the size of every text frame it read.
struct Member(Socket);

impl Member {
    async fn join(host: &ServerHandle) -> Member {
        let url = format!("ws://{}/ws?token={}", host.local_addr(), host.join_key().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("the socket opens");
        let join = ClientMessage::join(1u64, host.session_id(), "dev-a", "Sara", Some(PARTYLINE_V1));
        ws.send(tungstenite::Message::text(join.to_text())).await.unwrap();
        Member(ws)
    }

    /// The next message of this `type` and its size in bytes (others skipped), within 10 s.
    async fn until(&mut self, kind: &str) -> (Value, usize) {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.0.next()).await.expect("a message in time");
            if let Some(Ok(tungstenite::Message::Text(text))) = frame {
                let value: Value = serde_json::from_str(text.as_str()).unwrap();
                if value["type"] == kind {
                    return (value, text.len());
                }
            }
        }
    }

    async fn query(&mut self, q: Option<&str>, offset: usize, ids: Option<Vec<String>>) -> (Value, usize) {
        let query = LibraryQuery { timestamp: 1.into(), q: q.map(str::to_string), offset, limit: None, ids };
        self.0.send(tungstenite::Message::text(ClientMessage::LibraryQuery(query).to_text())).await.unwrap();
        self.until("library.page").await
    }
}

fn ids(message: &Value) -> Vec<String> {
    message["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

/// The most bytes a library message may be: its items' budget plus the envelope around them.
const MESSAGE_BOUND: usize = LIBRARY_PAGE_BYTES + 1024;

/// 2,000 files are all reachable: the update says 2,000 and holds the first page, pages from
/// the offsets the pages' lengths give reach every item once, a search finds one by its title
/// and one by its tagged artist, and no message passes its bound.
#[tokio::test]
async fn the_whole_folder_in_bounded_pages() {
    let dir = temp_dir("whole");
    std::fs::create_dir_all(dir.join("Shelf")).unwrap();
    for n in 0..FILES {
        std::fs::write(dir.join(format!("Shelf/Song {n:04}.mp3")), b"not really audio").unwrap();
    }
    std::fs::copy(fixture("tone.opus"), dir.join("Shelf/zz.opus")).unwrap();
    let host = host_sharing(&dir).await;
    let mut member = Member::join(&host).await;
    let (update, size) = member.until("library.update").await;
    assert_eq!(update["total"], FILES + 1, "the update counts every file");
    assert!(size <= MESSAGE_BOUND, "library.update is {size} bytes; the bound is {MESSAGE_BOUND}");
    let first = ids(&update);
    assert!(!first.is_empty() && first.len() <= LIBRARY_PAGE_ITEMS, "a first page of {} items", first.len());
    let mut seen = first.clone();
    loop {
        let (page, size) = member.query(None, seen.len(), None).await;
        assert!(size <= MESSAGE_BOUND, "library.page is {size} bytes; the bound is {MESSAGE_BOUND}");
        assert_eq!(
            (page["revision"].clone(), page["total"].clone()),
            (update["revision"].clone(), update["total"].clone())
        );
        let got = ids(&page);
        if got.is_empty() {
            break;
        }
        seen.extend(got);
    }
    let all: Vec<String> = host.library().await.unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(seen, all, "every item once, in the library's order");

    let (found, _) = member.query(Some("song 1234"), 0, None).await;
    assert_eq!((found["total"].clone(), found["items"][0]["title"].clone()), (1.into(), "Song 1234".into()));
    assert_eq!(found["q"], "song 1234", "the page says which search it answers");
    let (by_artist, _) = member.query(Some("the FIXTURES"), 0, None).await;
    let titles: Vec<&str> =
        by_artist["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Tone in Opus"], "found by its artist tag");
    assert_eq!(by_artist["items"][0]["artist"], "The Fixtures");
    let (by_id, _) = member.query(None, 0, Some(vec![all[1999].clone(), "t-nope".into()])).await;
    assert_eq!(ids(&by_id), [all[1999].clone()], "a queue's item found by id, an unknown id left out");

    let page = host.library_page(None, 1990, Some(5)).await.unwrap();
    let got = (page.total, page.items.len(), page.items[0].title.as_str());
    assert_eq!(got, (FILES + 1, 5, "Song 1990"), "the host's own API pages the same");
    let page = host.library_page(Some("1234 SONG".into()), 0, None).await.unwrap();
    assert_eq!((page.total, page.items[0].title.as_str()), (1, "Song 1234"), "and searches the same");
    host.shutdown(None).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `playback` (what the desktop asks for every 3 s) names the library by its size and revision
/// and copies none of it: with 2,000 files shared it is as small as with none, and its revision
/// is the pages' and moves when the folder changes.
#[tokio::test]
async fn playback_carries_no_library() {
    let dir = temp_dir("playback");
    for n in 0..FILES {
        std::fs::write(dir.join(format!("Song {n:04}.mp3")), b"not really audio").unwrap();
    }
    let host = host_sharing(&dir).await;
    let playback = host.playback().await.unwrap();
    let page = host.library_page(None, 0, None).await.unwrap();
    assert_eq!(
        (playback.library_total, playback.library_revision),
        (FILES, page.revision),
        "the size and revision, as the pages have them"
    );
    let shown = format!("{playback:?}");
    assert!(!shown.contains("Song 0000") && shown.len() < 1000, "playback is {} bytes: {shown}", shown.len());
    // Figures, not goals: what a poll costs now, and what copying the library (the old
    // `playback`, now `library`) costs, each the mean of 50 calls.
    let mean_us = |total: std::time::Duration| total.as_secs_f64() * 1e6 / 50.0;
    let started = std::time::Instant::now();
    for _ in 0..50 {
        host.playback().await.unwrap();
    }
    let poll = mean_us(started.elapsed());
    let started = std::time::Instant::now();
    for _ in 0..50 {
        host.library().await.unwrap();
    }
    let copy = mean_us(started.elapsed());
    println!("playback with {FILES} files shared: {poll:.0} µs a call; with the library copied: {copy:.0} µs");
    let empty = temp_dir("playback-empty");
    host.set_media(Some(empty.clone())).await.unwrap();
    let after = host.playback().await.unwrap();
    assert_eq!(after.library_total, 0, "the new folder's size");
    assert!(
        after.library_revision > playback.library_revision,
        "{} then {}",
        playback.library_revision,
        after.library_revision
    );
    host.shutdown(None).await;
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&empty).unwrap();
}

/// One HTTP/1.1 GET on 127.0.0.1: the status, the headers (lowercase names) and the body.
async fn get(host: &ServerHandle, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let mut tcp = tokio::net::TcpStream::connect(host.local_addr()).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra}\r\n", host.local_addr());
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await.unwrap().unwrap();
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8_lossy(&answer[..end]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    (status, head, answer[end + 4..].to_vec())
}

/// A cover is served at the item's `cover` URL with the key: the picture's bytes, its image
/// type, a cache lifetime and an ETag that a second request turns into 304. Without the key it
/// is 401; an id the scan did not list is 404.
#[tokio::test]
async fn covers_are_served_for_listed_items() {
    let dir = temp_dir("covers");
    std::fs::copy(fixture("tone.mp3"), dir.join("tone.mp3")).unwrap();
    let host = host_sharing(&dir).await;
    let item = host.library().await.unwrap().remove(0);
    let (title, length) = (item.title.as_str(), item.duration_ms.unwrap_or_default());
    assert!(title == "Tone in MP3" && length.abs_diff(2000) <= 200, "{item:?}");
    let cover = item.cover.clone().expect("the MP3 holds a picture");
    let key = host.join_key().unwrap();
    let (status, head, body) = get(&host, &format!("{cover}?token={key}"), "").await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(body, std::fs::read(fixture("cover.png")).unwrap(), "the picture's own bytes");
    assert!(head.contains("content-type: image/png"), "{head}");
    assert!(head.contains("cache-control: private, max-age=3600"), "{head}");
    let etag = head.lines().find_map(|l| l.strip_prefix("etag: ")).expect("an etag").to_string();
    let (again, _, body) = get(&host, &format!("{cover}?token={key}"), &format!("If-None-Match: {etag}\r\n")).await;
    assert_eq!((again, body.len()), (304, 0), "a phone that has it is told so");
    assert_eq!(get(&host, &cover, "").await.0, 401, "without the key");
    assert_eq!(get(&host, &format!("/media/.cover/t-00000000?token={key}"), "").await.0, 404, "not a listed id");
    host.shutdown(None).await;
    std::fs::remove_dir_all(&dir).unwrap();
}
