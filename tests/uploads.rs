//! Guests share songs and photos over `POST /api/uploads`, on real sockets: what is kept was
//! checked first (the key, the host's switch, the size, the checksum, the type from the bytes),
//! and nothing partial, corrupt or refused is ever kept: after every refusal and after a body
//! cut mid-way the uploads folder holds no file (no temp file either) and the library is as it
//! was. A song that is kept plays in sync like the folder's; a photo reaches every member.

use partyline_protocol::client::SyncplayCommand;
use partyline_protocol::{GroupState, LibraryItem};
use partyline_server::{Limits, PlayCommand, ServerHandle, UploadPolicy};
use partyline_support::{
    Client, ClientMessage, ServerMessage, SessionConfig, curl, expect_message, join_msg, jpeg, start_host_with_uploads,
    wav, ws_url,
};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// `sha256:<hex>`, as the phone sends it.
fn checksum(bytes: &[u8]) -> String {
    partyline_protocol::binary::checksum(bytes)
}

/// A host whose uploads go to a fresh folder the test can look into, with a partyline/1 phone
/// joined as `dev-a` (its welcome bundle read).
struct Party {
    host: ServerHandle,
    phone: Client,
    dir: tempfile_dir::Dir,
}

mod tempfile_dir {
    /// A folder under the system temp dir, removed when dropped.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let dir = std::env::temp_dir().join(format!("partyline-uploads-test-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn party(policy: UploadPolicy) -> Party {
    let dir = tempfile_dir::Dir::new();
    let policy = UploadPolicy { dir: Some(dir.0.clone()), ..policy };
    let host = start_host_with_uploads(SessionConfig::default(), Limits::default(), None, policy).await;
    let (phone, _) = Client::join_in(&host, "dev-a", true).await;
    Party { host, phone, dir }
}

impl Party {
    fn url(&self, query: &str) -> String {
        format!("http://{}/api/uploads?{query}", self.host.local_addr())
    }

    /// Every file in the uploads folder's `guests/`, temp files included.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.0.join("guests"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Posts `bytes` as `dev-a` with the host's key (and these extra curl arguments); returns
    /// the status and the JSON answer.
    async fn post(&self, name: &str, bytes: &[u8], extra: &[&str]) -> (u16, Value) {
        let file = self.dir.0.join(format!(".body-{}", rand_suffix()));
        std::fs::write(&file, bytes).unwrap();
        let key = self.host.join_key().unwrap();
        let url = self.url(&format!("device=dev-a&name={name}"));
        let auth = format!("Authorization: Bearer {key}");
        let body = format!("@{}", file.display());
        let mut args = vec!["-X", "POST", "-H", &auth, "--data-binary", &body, "-H", "Content-Type: audio/mpeg"];
        args.extend_from_slice(extra);
        args.push(&url);
        let (status, answer) = curl(&args).await;
        std::fs::remove_file(&file).unwrap();
        let json = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        (status, json)
    }

    async fn library(&self) -> Vec<LibraryItem> {
        self.host.library().await.unwrap()
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

/// An uploaded WAV is answered 201 with its item, reaches a phone's library (and a Revenge
/// client's `library.update`), can be queued and
/// played by a phone's `syncplay.command` (every phone gets it in `syncplay.state`), and its
/// `url` serves the very bytes sent, behind the key.
#[tokio::test]
async fn a_song_plays_in_sync() {
    let Party { host, mut phone, dir } = party(UploadPolicy::default()).await;
    let p = Party { host: host.clone(), phone: Client::join_in(&host, "dev-b", true).await.0, dir };
    let revenge = format!("ws://{}/socket?token={}&name=rev&device=rev-1", host.local_addr(), host.join_key().unwrap());
    let mut revenge = Client::connect(&revenge).await;
    revenge.recv_json_where("the first library.update", |f| f["type"] == "library.update").await;
    let bytes = wav();
    let sum = checksum(&bytes);
    let (status, answer) = p.post("Summer%20Mix.wav", &bytes, &["-H", &format!("X-Checksum: {sum}")]).await;
    assert_eq!(status, 201, "expected 201, got {status}: {answer}");
    assert_eq!((answer["kind"].as_str(), answer["name"].as_str()), (Some("song"), Some("Summer Mix.wav")));
    assert_eq!((answer["size"].as_u64(), answer["checksum"].as_str()), (Some(bytes.len() as u64), Some(sum.as_str())));
    let item: LibraryItem = serde_json::from_value(answer["item"].clone()).expect("a song's answer has its item");
    assert_eq!(answer["url"].as_str(), Some(item.url.as_str()));
    assert!(item.url.starts_with("/media/guests/"), "under guests/: {}", item.url);
    let (update, _) = phone.recv_until("library.update").await;
    let items = expect_message!(update.message, ServerMessage::LibraryUpdate { items, .. } => items);
    assert_eq!(items, vec![item.clone()], "the phone's library has the song");
    let update = revenge.recv_json_where("library.update", |f| f["type"] == "library.update").await;
    assert_eq!(update["data"]["items"][0]["id"], item.id.as_str(), "so does a Revenge client's: {update}");
    host.set_permissions(partyline_protocol::Permissions { playback: true, queue: true }).await.unwrap();
    let play = PlayCommand::Play { item_id: Some(item.id.clone()), position: None };
    phone.send(ClientMessage::SyncplayCommand(SyncplayCommand { timestamp: 1.into(), command: play })).await;
    let mut other = p.phone;
    for client in [&mut phone, &mut other] {
        let state = loop {
            let (state, _) = client.recv_until("syncplay.state").await;
            let state = expect_message!(state.message, ServerMessage::SyncplayState { state, .. } => state);
            if state.item_id.is_some() {
                break state;
            }
        };
        assert_eq!((state.state, state.item_id.as_deref()), (GroupState::Waiting, Some(item.id.as_str())));
        assert_eq!(state.queue.len(), 1, "queued: {:?}", state.queue);
    }
    let key = host.join_key().unwrap();
    let media = format!("http://{}{}", host.local_addr(), item.url);
    let (status, served) = curl(&[&format!("{media}?token={key}")]).await;
    assert_eq!((status, served.len()), (200, bytes.len()));
    assert!(served == bytes, "GET of its url returns the bytes sent");
    let (status, _) = curl(&[&media]).await;
    assert_eq!(status, 401, "behind the key like /media/");
    host.shutdown(None).await;
}

/// A photo is answered 201 (no item), reaches the phone as `photo.shared` with its sharer, is
/// listed in a later joiner's welcome, and is served at its url behind the key.
#[tokio::test]
async fn a_photo_is_shared() {
    let mut p = party(UploadPolicy::default()).await;
    let bytes = jpeg();
    let (status, answer) = p.post("beach.jpg", &bytes, &[]).await;
    assert_eq!(status, 201, "expected 201, got {status}: {answer}");
    assert_eq!((answer["kind"].as_str(), answer.get("item")), (Some("photo"), None));
    let (shared, _) = p.phone.recv_until("photo.shared").await;
    let photo = expect_message!(shared.message, ServerMessage::PhotoShared { photo } => photo);
    assert_eq!((photo.id.as_str(), photo.name.as_str()), (answer["id"].as_str().unwrap(), "beach.jpg"));
    assert_eq!(photo.from_name, "dev-a phone");
    let mut late = Client::connect(&ws_url(&p.host)).await;
    late.send(join_msg("dev-late", true)).await;
    let welcome = late.recv_json().await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["photos"], serde_json::json!([photo]), "a later joiner's welcome lists it");
    let key = p.host.join_key().unwrap();
    let (status, served) = curl(&[&format!("http://{}{}?token={key}", p.host.local_addr(), photo.url)]).await;
    assert_eq!(status, 200);
    assert!(served == bytes, "the photo's url serves its bytes");
    assert_eq!(p.host.photos().await.unwrap(), vec![photo]);
    p.host.shutdown(None).await;
}

/// Each refusal is the contract's status with `{"error"}`, and keeps nothing: no file in the
/// uploads folder (no temp file either), the library unchanged. A text file named `.mp3` and a
/// checksum mismatch are 400, an empty body 400, a body over the (lowered) per-file limit 413
/// with `limit_bytes` (with a `Content-Length`, and chunked without one, cut off at the limit),
/// a wrong key 401, no device 400, a device not in the party 403, and uploads switched off 403
/// (which `/api/info`'s `uploads` says at once).
#[tokio::test]
async fn refusals_keep_nothing() {
    let p = party(UploadPolicy { max_file_bytes: 10_000, ..UploadPolicy::default() }).await;
    let key = p.host.join_key().unwrap();
    let wrong_sum = checksum(b"some other bytes");
    let big = vec![0xffu8; 50_000];
    let cases: Vec<(&str, Vec<u8>, Vec<String>, u16)> = vec![
        ("a text file renamed .mp3", b"la la la, just lyrics".repeat(10), vec![], 400),
        ("a checksum mismatch", wav(), vec!["-H".into(), format!("X-Checksum: {wrong_sum}")], 400),
        ("an empty body", Vec::new(), vec![], 400),
        ("over the per-file limit", big.clone(), vec![], 413),
        ("over the limit, chunked", big, vec!["-H".into(), "Transfer-Encoding: chunked".into()], 413),
    ];
    for (what, bytes, extra, expected) in cases {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let (status, answer) = p.post("song.mp3", &bytes, &extra).await;
        assert_eq!(status, expected, "{what}: expected {expected}, got {status}: {answer}");
        assert!(answer["error"].is_string(), "{what}: an error a guest can read: {answer}");
        if expected == 413 {
            assert_eq!(answer["limit_bytes"], 10_000, "{what}: the limit in the answer: {answer}");
        }
        assert_eq!(p.files(), Vec::<String>::new(), "{what}: nothing kept");
    }
    let file = p.dir.0.join(".w");
    std::fs::write(&file, wav()).unwrap();
    let data = format!("@{}", file.display());
    let refusals = [
        ("a wrong key", p.url("device=dev-a&token=not-the-key"), 401),
        ("no device", p.url(&format!("name=a.wav&token={key}")), 400),
        ("a device not in the party", p.url(&format!("device=dev-x&token={key}")), 403),
    ];
    for (what, url, expected) in refusals {
        let (status, answer) = curl(&["-X", "POST", "--data-binary", &data, &url]).await;
        assert_eq!(status, expected, "{what}: expected {expected}, got {status}: {}", String::from_utf8_lossy(&answer));
    }
    let info = format!("http://{}/api/info", p.host.local_addr());
    let uploads_info =
        || async { serde_json::from_slice::<Value>(&curl(&[&info]).await.1).unwrap()["uploads"].clone() };
    assert_eq!(uploads_info().await, serde_json::json!({"allowed": true, "max_file_bytes": 10_000}));
    p.host.set_uploads(false);
    assert_eq!(uploads_info().await["allowed"], false, "/api/info tells the phone at once");
    let (status, answer) = p.post("a.wav", &wav(), &[]).await;
    assert_eq!(status, 403, "switched off: expected 403, got {status}: {answer}");
    std::fs::remove_file(&file).unwrap();
    assert_eq!(p.files(), Vec::<String>::new(), "nothing kept");
    assert_eq!(p.library().await, vec![], "the library is unchanged");
    p.host.set_uploads(true);
    let (status, answer) = p.post("a.wav", &wav(), &[]).await;
    assert_eq!(status, 201, "switched back on: expected 201, got {status}: {answer}");
    p.host.shutdown(None).await;
}

/// A body cut mid-way (the phone's connection drops after half the bytes its Content-Length
/// promised) keeps nothing: the temp file is gone and the library is unchanged.
#[tokio::test]
async fn a_body_cut_short_keeps_nothing() {
    let mut p = party(UploadPolicy::default()).await;
    let bytes = wav();
    let key = p.host.join_key().unwrap();
    let mut socket = tokio::net::TcpStream::connect(p.host.local_addr()).await.unwrap();
    let head = format!(
        "POST /api/uploads?device=dev-a&name=a.wav&token={key} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        p.host.local_addr(),
        bytes.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&bytes[..bytes.len() / 2]).await.unwrap();
    socket.flush().await.unwrap();
    // Wait until the host has the temp file open (the half body reached it), then drop.
    let started = std::time::Instant::now();
    while p.files().is_empty() {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the upload began");
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(socket);
    let started = std::time::Instant::now();
    while !p.files().is_empty() {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "temp file left: {:?}", p.files());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(p.library().await, vec![], "the library is unchanged");
    // And the phone heard of nothing: the next thing it gets is the answer to a ping.
    p.phone.send(partyline_support::ping_msg(7)).await;
    let (pong, skipped) = p.phone.recv_until("pong").await;
    assert_eq!(skipped.iter().map(|m| m.kind()).collect::<Vec<_>>(), Vec::<&str>::new(), "nothing before {pong:?}");
    p.host.shutdown(None).await;
}

/// A 2 GB upload is refused at once from its `Content-Length` (413 with the limit), before a
/// byte of its body is read or buffered, and nothing is kept.
#[tokio::test]
async fn a_two_gigabyte_body_is_refused_unread() {
    let p = party(UploadPolicy::default()).await;
    let key = p.host.join_key().unwrap();
    let mut socket = tokio::net::TcpStream::connect(p.host.local_addr()).await.unwrap();
    let head = format!(
        "POST /api/uploads?device=dev-a&name=big.wav&token={key} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        p.host.local_addr(),
        2u64 << 30
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&wav()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("limit_bytes") {
        let n = tokio::time::timeout(partyline_support::WAIT, tokio::io::AsyncReadExt::read(&mut socket, &mut buf))
            .await
            .expect("an answer without the body")
            .unwrap();
        assert!(n > 0, "closed before answering: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "expected 413, got {text}");
    assert!(text.contains(&format!("\"limit_bytes\":{}", 50 * 1024 * 1024)), "the limit in the answer: {text}");
    assert_eq!(p.files(), Vec::<String>::new(), "nothing kept");
    p.host.shutdown(None).await;
}

/// The desktop's view, through the facade both front ends call: a photo a phone uploads is a
/// `HostEvent::PhotoShared` (`{"event": "photo_shared", ...}` with `photo.shared`'s fields) and is
/// in `Host::photos`; a guest's WAV has its length in its item (`durationMs`); `Host::set_uploads`
/// switches uploads off (403) and back on.
#[tokio::test]
async fn the_host_sees_photos_and_switches_uploads() {
    let config = partyline_host::HostConfig {
        bind: std::net::Ipv4Addr::LOCALHOST.into(),
        mdns: false,
        ..partyline_host::HostConfig::default()
    };
    let host = partyline_host::Host::start(config).await.expect("a host on 127.0.0.1 port 0");
    let mut events = host.subscribe();
    let info = host.info();
    let key = info.join_key.clone().unwrap();
    let mut phone = Client::connect(&format!("{}?token={key}", info.ws_url)).await;
    let join = ClientMessage::join(1u64, &info.session_id, "dev-a", "Sara", Some(partyline_protocol::PARTYLINE_V1));
    phone.send(join).await;
    phone.recv_until("syncplay.state").await;
    let post = |name: &'static str, bytes: Vec<u8>| {
        let (addr, key) = (info.local_addr, key.clone());
        async move {
            let file = std::env::temp_dir().join(format!("partyline-facade-{}-{name}", rand_suffix()));
            std::fs::write(&file, bytes).unwrap();
            let url = format!("http://{addr}/api/uploads?device=dev-a&name={name}&token={key}");
            let (status, body) = curl(&["-X", "POST", "--data-binary", &format!("@{}", file.display()), &url]).await;
            std::fs::remove_file(file).unwrap();
            (status, serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null))
        }
    };
    let (status, answer) = post("beach.jpg", jpeg()).await;
    assert_eq!(status, 201, "expected 201, got {status}: {answer}");
    let photo = loop {
        let event = tokio::time::timeout(partyline_support::WAIT, partyline_host::next_event(&mut events))
            .await
            .expect("an event in time")
            .expect("the host runs")
            .expect("no lag");
        if let partyline_host::HostEvent::PhotoShared(photo) = &event {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["event"], "photo_shared", "{json}");
            assert_eq!(
                (json["fromName"].as_str(), json["id"].as_str()),
                (Some("Sara"), answer["id"].as_str()),
                "{json}"
            );
            break photo.clone();
        }
    };
    assert_eq!(host.photos().await.unwrap(), vec![photo]);
    let (status, answer) = post("song.wav", wav()).await;
    assert_eq!(status, 201, "expected 201, got {status}: {answer}");
    let item: LibraryItem = serde_json::from_value(answer["item"].clone()).unwrap();
    assert_eq!(item.duration_ms, Some(1000), "a guest's WAV has its length");
    host.set_uploads(false);
    assert!(!host.uploads_allowed());
    let (status, _) = post("again.jpg", jpeg()).await;
    assert_eq!(status, 403, "switched off on the desktop");
    host.set_uploads(true);
    let (status, _) = post("again.jpg", jpeg()).await;
    assert_eq!(status, 201, "and back on");
    host.stop().await;
}
