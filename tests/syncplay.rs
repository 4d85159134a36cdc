//! SyncPlay over real sockets: the shared folder becomes the library every extension member
//! receives, its files are served with Range requests to key holders only, and a play command
//! reaches every member as the same state scheduled at the same future server time.

use partyline_protocol::client::{DeviceState, PlaybackProgress};
use partyline_protocol::{GroupState, LibraryItem, PlayState};
use partyline_server::{Limits, PlayCommand};
use partyline_support::{
    Client, ClientMessage, ServerMessage, SessionConfig, curl, expect_message, start_host_with_media,
};

/// The items of a `library.update`; any other message fails the test.
fn items_of(message: ServerMessage) -> Vec<LibraryItem> {
    expect_message!(message, ServerMessage::LibraryUpdate { items, .. } => items)
}

/// The state of a `syncplay.state`; any other message fails the test.
fn state_of(message: ServerMessage) -> PlayState {
    expect_message!(message, ServerMessage::SyncplayState { state, .. } => state)
}

fn media_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("partyline-syncplay-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes: Vec<u8> = (0..10_000u32).map(|n| (n % 251) as u8).collect();
    std::fs::write(dir.join("First Song.mp3"), &bytes).unwrap();
    std::fs::write(dir.join("readme.txt"), b"not media").unwrap();
    dir
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64
}

/// Media is served with Range (206, exactly the bytes asked for) to key holders, 401 without.
#[tokio::test]
async fn media_range_requests_need_the_key() {
    let dir = media_dir();
    let host = start_host_with_media(SessionConfig::default(), Limits::default(), Some(dir.clone())).await;
    let base = format!("http://{}", host.local_addr());
    let (mut x, _) = Client::join(&host, "dev-x", true).await;
    let (library, _) = x.recv_until("library.update").await;
    let items = items_of(library.message);
    assert_eq!(items.len(), 1, "only playable files: {items:?}");
    assert_eq!((items[0].title.as_str(), items[0].mime.as_str(), items[0].size), ("First Song", "audio/mpeg", 10_000));
    let url = format!("{base}{}", items[0].url);
    let key = host.join_key().unwrap();
    let (status, body) = curl(&["-H", "Range: bytes=100-199", &format!("{url}?token={key}")]).await;
    assert_eq!(status, 206);
    let expected: Vec<u8> = (100..200u32).map(|n| (n % 251) as u8).collect();
    assert_eq!(body, expected, "exactly bytes 100–199");
    let (status, _) = curl(&[&url]).await;
    assert_eq!(status, 401, "no key, no media");
    let (status, _) = curl(&[&format!("{base}/media/..%2F..%2Fetc%2Fpasswd?token={key}")]).await;
    assert_eq!(status, 404, "nothing outside the folder");
    host.shutdown(None).await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// The host plays an item: every member gets `waiting`, reports ready, and then every member
/// gets `playing` with the same serverTime, in the future when it arrives.
#[tokio::test]
async fn play_reaches_everyone_with_one_start_time() {
    let dir = media_dir();
    let host = start_host_with_media(SessionConfig::default(), Limits::default(), Some(dir.clone())).await;
    let mut members = Vec::new();
    for n in 0..3 {
        let (client, _) = Client::join_in(&host, &format!("dev-{n}"), true).await;
        members.push(client);
    }
    let item = host.library().await.unwrap()[0].id.clone();
    host.syncplay(PlayCommand::Play { item_id: Some(item.clone()), position: None }).await.unwrap();
    let mut entry = String::new();
    for client in &mut members {
        let (state, _) = client.recv_until("syncplay.state").await;
        let state = state_of(state.message);
        assert_eq!((state.state, state.item_id.as_deref()), (GroupState::Waiting, Some(item.as_str())));
        entry = state.entry_id.unwrap();
    }
    for client in &mut members {
        let ready = PlaybackProgress {
            timestamp: 1.into(),
            entry_id: Some(entry.clone()),
            item_id: None,
            position: 0.0,
            state: DeviceState::Ready,
            error: None,
        };
        client.send(ClientMessage::PlaybackProgress(ready)).await;
    }
    let mut starts = Vec::new();
    for client in &mut members {
        let (state, _) = client.recv_until("syncplay.state").await;
        let state = state_of(state.message);
        let now_us = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64;
        assert_eq!(state.state, GroupState::Playing);
        assert!(state.server_time > now_us, "the start is still ahead when it arrives");
        starts.push(state.server_time);
    }
    assert!(starts.iter().all(|s| *s == starts[0]), "one start time: {starts:?}");
    let playback = host.playback().await.unwrap();
    assert_eq!(playback.members.len(), 3, "every member's report reaches the host");
    host.shutdown(None).await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// The host shares another folder while the party goes on: members get the new library, the
/// same session keeps its members, `/media/` serves the new folder only, and a folder that
/// cannot be read is an error that changes nothing.
#[tokio::test]
async fn media_folder_changes_without_ending_the_party() {
    let first = media_dir();
    let host = start_host_with_media(SessionConfig::default(), Limits::default(), Some(first.clone())).await;
    let base = format!("http://{}", host.local_addr());
    let key = host.join_key().unwrap().to_string();
    let (mut x, _) = Client::join(&host, "dev-x", true).await;
    let (library, _) = x.recv_until("library.update").await;
    assert_eq!(items_of(library.message)[0].title, "First Song");

    let second = media_dir();
    std::fs::remove_file(second.join("First Song.mp3")).unwrap();
    std::fs::write(second.join("Second.wav"), b"RIFF-not-really").unwrap();
    let items = host.set_media(Some(second.clone())).await.unwrap();
    assert_eq!(items.iter().map(|i| i.title.as_str()).collect::<Vec<_>>(), ["Second"]);
    let (library, _) = x.recv_until("library.update").await;
    let titles: Vec<String> = items_of(library.message).into_iter().map(|i| i.title).collect();
    assert_eq!(titles, ["Second"], "the member learns the new library");
    assert_eq!(host.media_dir().as_deref(), Some(second.as_path()));
    let (status, body) = curl(&[&format!("{base}/media/Second.wav?token={key}")]).await;
    assert_eq!((status, body.as_slice()), (200, b"RIFF-not-really".as_slice()));
    let (status, _) = curl(&[&format!("{base}/media/First%20Song.mp3?token={key}")]).await;
    assert_eq!(status, 404, "the old folder is no longer served");

    // A missing folder, and a file that is not a folder: errors, and nothing changes.
    for bad in [first.join("missing"), second.join("Second.wav")] {
        let err = host.set_media(Some(bad.clone())).await.expect_err("not a readable folder");
        assert!(matches!(err, partyline_server::ServerError::Media(_)), "{err}");
        assert_eq!(host.media_dir().as_deref(), Some(second.as_path()), "{}", bad.display());
        assert_eq!(host.library().await.unwrap(), items);
    }
    let (status, _) = curl(&[&format!("{base}/media/Second.wav?token={key}")]).await;
    assert_eq!(status, 200);

    // Sharing nothing: an empty library, and /media/ answers 404.
    assert!(host.set_media(None).await.unwrap().is_empty());
    let (library, _) = x.recv_until("library.update").await;
    assert_eq!(items_of(library.message), []);
    let (status, _) = curl(&[&format!("{base}/media/Second.wav?token={key}")]).await;
    assert_eq!(status, 404);
    assert_eq!(host.members().await.unwrap().len(), 2, "the same party: the host and x");
    host.shutdown(None).await;
    std::fs::remove_dir_all(first).unwrap();
    std::fs::remove_dir_all(second).unwrap();
}
