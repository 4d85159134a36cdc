//! Seed 000 (Revenge) spoken by a client written from that document alone, at `/socket`, in one
//! party with partyline/1 phones and a shared folder: `ping`/`pong`, the library and SyncPlay's
//! state on connect, its `syncplay.command` pausing the phones, its `playback.progress` (in
//! 100 ns ticks) reaching the host as the desktop's per-member report, `remote.command` refused
//! until the host lets guests control playback, and `notification`/`session.update` pushed to
//! it. Real sockets.

use partyline_protocol::{GroupState, NotificationLevel, Permissions};
use partyline_server::{Limits, PlayCommand, ServerHandle};
use partyline_session::Event;
use partyline_support::{Client, Ending, SessionConfig, WAIT, start_host_with_media};
use serde_json::json;

fn media_dir() -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let dir = std::env::temp_dir().join(format!("partyline-revenge-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("First Song.mp3"), vec![7u8; 4000]).unwrap();
    dir
}

async fn host() -> (ServerHandle, std::path::PathBuf) {
    let dir = media_dir();
    (start_host_with_media(SessionConfig::default(), Limits::default(), Some(dir.clone())).await, dir)
}

/// Connect, ping, and what it is told: the party (`session.update` `connected`), the library
/// and SyncPlay's state; a wrong token closes with 4001; a bad frame is an `error`, and the
/// connection stays.
#[tokio::test]
async fn connect_ping_library_and_a_wrong_token() {
    let (host, dir) = host().await;
    let url = format!("ws://{}/socket?token={}&name=rev&device=rev-1", host.local_addr(), host.join_key().unwrap());
    let mut rev = Client::connect(&url).await;
    let hello = rev.recv_json_where("session.update", |f| f["type"] == "session.update").await;
    assert_eq!(
        (hello["data"]["event"].as_str(), hello["data"]["member"]["name"].as_str()),
        (Some("connected"), Some("rev"))
    );
    let library = rev.recv_json_where("library.update", |f| f["type"] == "library.update").await;
    assert_eq!(library["data"]["items"][0]["title"], "First Song");
    let state = rev.recv_json_where("syncplay.state", |f| f["type"] == "syncplay.state").await;
    assert_eq!((state["data"]["state"].as_str(), state["data"]["positionTicks"].as_i64()), (Some("idle"), Some(0)));
    rev.send_json(json!({"type": "ping", "id": "msg-1"})).await;
    assert_eq!(rev.recv_json_where("pong", |f| f["type"] == "pong").await, json!({"type": "pong", "data": {}}));
    rev.send_json(json!({"type": "playback.progress", "id": "msg-2", "data": {"isPaused": false}})).await;
    let error = rev.recv_json_where("error", |f| f["type"] == "error").await;
    assert_eq!(error["data"]["code"], "invalid_message", "{error}");
    rev.send_json(json!({"type": "ping", "id": "msg-3"})).await;
    rev.recv_json_where("pong after the error", |f| f["type"] == "pong").await;

    let mut wrong = Client::connect(&format!("ws://{}/socket?token=nope", host.local_addr())).await;
    assert_eq!(wrong.ending().await, Ending::Code(4001));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The Revenge client drives the party's SyncPlay: its `syncplay.command` play and pause reach
/// the phones as `syncplay.state`; its `playback.progress` (ticks) is the host's per-member
/// report; `remote.command` is refused until the host allows guests to control playback, then
/// pauses the group and sets a phone's volume; host announcements and members arriving are
/// pushed to it.
#[tokio::test]
async fn syncplay_progress_remote_control_and_pushes() {
    let (host, dir) = host().await;
    let url = format!("ws://{}/socket?token={}&name=rev&device=rev-1", host.local_addr(), host.join_key().unwrap());
    let mut rev = Client::connect(&url).await;
    let library = rev.recv_json_where("library.update", |f| f["type"] == "library.update").await;
    let item = library["data"]["items"][0]["id"].as_str().unwrap().to_string();
    let (mut phone, phone_welcome) = Client::join(&host, "phone-1", true).await;
    let joined = rev
        .recv_json_where("the phone joins", |f| f["type"] == "session.update" && f["data"]["event"] == "member_joined")
        .await;
    assert_eq!(joined["data"]["member"]["id"], phone_welcome.client_id.as_str());

    host.set_permissions(Permissions { playback: true, queue: true }).await.unwrap();
    rev.send_json(json!({"type": "syncplay.command", "id": "c-1", "data": {"command": "play", "itemId": item}})).await;
    let waiting = rev
        .recv_json_where("the group waiting", |f| f["type"] == "syncplay.state" && f["data"]["state"] == "waiting")
        .await;
    assert_eq!(waiting["data"]["itemId"], item.as_str());
    let (_, _) = phone.recv_until("syncplay.state").await; // the phone is told too
    host.syncplay(PlayCommand::StartAnyway).await.unwrap();
    rev.recv_json_where("playing", |f| f["type"] == "syncplay.state" && f["data"]["state"] == "playing").await;

    // Progress in ticks: the host's report has it in ms, on the group's entry.
    let mut events = host.subscribe();
    rev.send_json(json!({"type": "playback.progress", "id": "p-1", "data": {"itemId": item, "positionTicks": 123456789, "isPaused": false}})).await;
    let report = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(Event::PlaybackProgress(report)) = events.recv().await {
                return report;
            }
        }
    })
    .await
    .expect("the host hears the report");
    assert!((report.position - 12345.6789).abs() < 1e-6, "{report:?}");
    assert_eq!(report.state, partyline_protocol::client::DeviceState::Playing);

    rev.send_json(json!({"type": "syncplay.command", "id": "c-2", "data": {"command": "pause"}})).await;
    let paused = loop {
        let (state, _) = phone.recv_until("syncplay.state").await;
        if let partyline_protocol::ServerMessage::SyncplayState { state, .. } = state.message
            && state.state == GroupState::Paused
        {
            break state;
        }
    };
    assert!(paused.paused, "the phone is paused by the Revenge client");

    // remote.command: refused while guests may not control playback.
    host.set_permissions(Permissions { playback: false, queue: false }).await.unwrap();
    rev.send_json(json!({"type": "remote.command", "id": "r-1", "data": {"command": "play"}})).await;
    let refused = rev.recv_json_where("refused", |f| f["type"] == "error").await;
    assert_eq!(refused["data"]["code"], "unauthorized", "{refused}");
    rev.send_json(json!({"type": "remote.command", "id": "r-2", "data": {"command": "volume", "value": 0.3, "targetId": phone_welcome.client_id}})).await;
    let refused = rev.recv_json_where("refused", |f| f["type"] == "error").await;
    assert_eq!(refused["data"]["code"], "unauthorized", "{refused}");
    host.set_permissions(Permissions { playback: true, queue: false }).await.unwrap();
    rev.send_json(json!({"type": "remote.command", "id": "r-3", "data": {"command": "volume", "value": 0.3, "targetId": phone_welcome.client_id}})).await;
    let (volume, _) = phone.recv_until("remote.command").await;
    match volume.message {
        partyline_protocol::ServerMessage::RemoteCommand { command, value, .. } => {
            assert_eq!((command.as_str(), value), ("volume", Some(json!(0.3))));
        }
        other => panic!("expected remote.command, got {other:?}"),
    }

    let id = host.notify("Last song", "then cake", NotificationLevel::Info).await.unwrap();
    let note = rev.recv_json_where("notification", |f| f["type"] == "notification").await;
    assert_eq!(
        (note["id"].as_str(), note["data"]["title"].as_str(), note["data"]["body"].as_str()),
        (Some(id.as_str()), Some("Last song"), Some("then cake"))
    );
    drop(phone);
    rev.recv_json_where("the phone reconnecting", |f| {
        f["type"] == "session.update" && f["data"]["event"] == "member_updated"
    })
    .await;
    std::fs::remove_dir_all(dir).unwrap();
}
