//! Seed 000 (Revenge) spoken by a client written from that document alone, at `/socket`, in one
//! party with partyline/1 phones and a shared folder: `ping`/`pong`, the library and SyncPlay's
//! state on connect, its `syncplay.command` pausing the phones, its `playback.progress` (in
//! 100 ns ticks) reaching the host as the desktop's per-member report, `remote.command` refused
//! until the host lets guests control playback, and `notification`/`session.update` pushed to
//! it; and both seeds' clients in one party with a phone, a partyline/1 client and a LOUDSYNC
//! 1.0 client. Real sockets.

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

/// Sends `playback.progress` at `ticks` (playing) as the Revenge client and returns the report
/// the host hears from it.
async fn progress_report(
    host: &ServerHandle,
    rev: &mut Client,
    item: &str,
    ticks: u64,
) -> partyline_session::MemberSync {
    let mut events = host.subscribe();
    rev.send_json(json!({"type": "playback.progress", "id": "p-1", "data": {"itemId": item, "positionTicks": ticks, "isPaused": false}})).await;
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(Event::PlaybackProgress(report)) = events.recv().await {
                return report;
            }
        }
    })
    .await
    .expect("the host hears the Revenge client's report")
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
    let report = progress_report(&host, &mut rev, &item, 123456789).await;
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

/// Both seeds' clients in one party with a phone, another partyline/1 client and a LOUDSYNC 1.0
/// client, each on its own wire: the seed-001 client's wildcard subscription takes the phone's
/// topic broadcast (the phone's ack counts it) and its direct message reaches the partyline/1
/// client; the Revenge client sees both arrive (`session.update`), its `syncplay.command` starts
/// and pauses the phones, its `playback.progress` is the host's report, its `remote.command` is
/// refused until the host allows it; a host announcement reaches every format in its own shape;
/// the 1.0 client sees the others join as LOUDSYNC says and nothing else.
#[tokio::test]
async fn both_seeds_in_one_party_with_a_phone_a_partyline_client_and_a_loudsync_client() {
    let (host, dir) = host().await;
    let key = host.join_key().unwrap();
    let (mut legacy, _) = Client::join_in(&host, "legacy-1", false).await;
    let mut rev =
        Client::connect(&format!("ws://{}/socket?token={key}&name=rev&device=rev-1", host.local_addr())).await;
    let library = rev.recv_json_where("library.update", |f| f["type"] == "library.update").await;
    let item = library["data"]["items"][0]["id"].as_str().unwrap().to_string();
    rev.recv_json_where("syncplay.state", |f| f["type"] == "syncplay.state").await;
    let (mut phone, _) = Client::join_in(&host, "phone-1", true).await;
    let (mut cli, cli_welcome) = Client::join_in(&host, "cli-1", true).await;
    let mut rita =
        Client::connect(&format!("ws://{}/rt/ws?token={key}&name=rita&device=rita-1", host.local_addr())).await;
    let welcome = rita.recv_json_where("seed 001's welcome", |f| f["type"] == "Status").await;
    assert_eq!(welcome["data"]["status"], "connected", "{welcome}");
    for name in ["phone-1 phone", "cli-1 phone", "rita"] {
        let joined = rev
            .recv_json_where(&format!("{name} joining"), |f| {
                f["type"] == "session.update" && f["data"]["event"] == "member_joined"
            })
            .await;
        assert_eq!(joined["data"]["member"]["name"], name, "in the order they joined: {joined}");
    }

    // Seed 001 and partyline/1: a wildcard subscription, a counted ack, a direct message.
    rita.send_json(json!({"type": "Subscribe", "data": {"topics": ["updates.*"]}})).await;
    rita.recv_json_where("subscribed", |f| f["type"] == "Status" && f["data"]["status"] == "subscribed").await;
    phone.send_json(json!({"type": "broadcast", "timestamp": 1, "id": "b-1", "topic": "updates.score", "payload": {"home": 3}, "ack": true})).await;
    let got = rita.recv_json_where("the phone's broadcast", |f| f["type"] == "Broadcast").await;
    assert_eq!(got["data"]["topic"], "updates.score", "{got}");
    let ack = phone.recv_json_where("broadcast_ack", |m| m["type"] == "broadcast_ack").await;
    assert_eq!(ack["recipients"], 1, "the seed-001 subscriber, no one else: {ack}");
    rita.send_json(json!({"type": "DirectMessage", "id": "dm-1", "data": {"target_user": cli_welcome.client_id, "payload": {"text": "hi"}}})).await;
    let ack = rita.recv_json_where("Ack", |f| f["type"] == "Ack").await;
    assert_eq!(ack["data"]["delivered_to"], json!([cli_welcome.client_id]), "{ack}");
    let direct = cli.recv_json_where("rita's direct", |m| m["type"] == "direct").await;
    assert_eq!(direct["payload"]["text"], "hi", "{direct}");

    // Revenge drives the party's SyncPlay; the phones follow.
    host.set_permissions(Permissions { playback: true, queue: true }).await.unwrap();
    rev.send_json(json!({"type": "syncplay.command", "id": "c-1", "data": {"command": "play", "itemId": item}})).await;
    rev.recv_json_where("the group waiting", |f| f["type"] == "syncplay.state" && f["data"]["state"] == "waiting")
        .await;
    host.syncplay(PlayCommand::StartAnyway).await.unwrap();
    for client in [&mut phone, &mut cli] {
        let playing =
            client.recv_json_where("playing", |m| m["type"] == "syncplay.state" && m["state"] == "playing").await;
        assert_eq!(playing["itemId"], item.as_str(), "{playing}");
    }
    let report = progress_report(&host, &mut rev, &item, 50_000_000).await;
    assert!((report.position - 5000.0).abs() < 1e-6, "5 s in ticks of 100 ns: {report:?}");
    rev.send_json(json!({"type": "syncplay.command", "id": "c-2", "data": {"command": "pause"}})).await;
    for client in [&mut phone, &mut cli] {
        let paused =
            client.recv_json_where("paused", |m| m["type"] == "syncplay.state" && m["state"] == "paused").await;
        assert_eq!(paused["paused"], true, "{paused}");
    }
    host.set_permissions(Permissions { playback: false, queue: false }).await.unwrap();
    rev.send_json(json!({"type": "remote.command", "id": "r-1", "data": {"command": "play"}})).await;
    let refused = rev.recv_json_where("refused", |f| f["type"] == "error").await;
    assert_eq!(refused["data"]["code"], "unauthorized", "{refused}");

    // One announcement, each format's shape.
    host.notify("Cake", "in the kitchen", NotificationLevel::Info).await.unwrap();
    let note = rev.recv_json_where("Revenge's notification", |f| f["type"] == "notification").await;
    assert_eq!(note["data"]["title"], "Cake");
    let note = rita.recv_json_where("seed 001's Notification", |f| f["type"] == "Notification").await;
    assert_eq!(note["data"]["title"], "Cake");
    let note = phone.recv_json_where("the phone's notification", |m| m["type"] == "notification").await;
    assert_eq!(note["title"], "Cake");

    // The 1.0 client: the four others joined, as LOUDSYNC says, and nothing else came.
    let kinds = legacy.loudsync_news().await;
    let joins = kinds.iter().filter(|kind| *kind == "member_joined").count();
    assert_eq!(joins, 4, "rev, the phone, the other client and rita: {kinds:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A Revenge client receives the library the way the host sends it, a `library.update` at a
/// time, and puts them together: the items of the library of `revision`, by offset, once it has
/// `total` of them. Every frame's size is checked against the bound of a page.
struct Assembled {
    revision: u64,
    items: Vec<String>,
    frames: usize,
    /// The largest frame's size, bytes.
    largest: usize,
}

/// The most bytes a `library.update` may be: a page's items budget plus the envelope.
const LIBRARY_FRAME_BOUND: usize = partyline_protocol::LIBRARY_PAGE_BYTES + 1024;

async fn whole_library(rev: &mut Client) -> Assembled {
    let mut got: Option<Assembled> = None;
    loop {
        let text = rev.recv_text().await;
        let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
        if frame["type"] != "library.update" {
            continue;
        }
        assert!(
            text.len() <= LIBRARY_FRAME_BOUND,
            "a library.update of {} bytes; the bound is {LIBRARY_FRAME_BOUND}",
            text.len()
        );
        let data = &frame["data"];
        let (revision, offset) = (data["revision"].as_u64().unwrap(), data["offset"].as_u64().unwrap() as usize);
        let ids = data["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string());
        if offset == 0 {
            // A library starts (again) at offset 0: a new revision replaces what came before.
            got = Some(Assembled { revision, items: Vec::new(), frames: 0, largest: 0 });
        }
        let Some(library) = got.as_mut().filter(|l| l.revision == revision) else { continue };
        assert_eq!(offset, library.items.len(), "each part continues where the last ended (revision {revision})");
        library.items.extend(ids);
        library.frames += 1;
        library.largest = library.largest.max(text.len());
        if library.items.len() >= data["total"].as_u64().unwrap() as usize {
            return got.unwrap();
        }
    }
}

/// A folder of 2,000 files reaches a Revenge client whole: it is told the library in parts
/// (`library.update`, each within a page's bound), which put together are every item once, in
/// the library's order; when the host shares another folder, the new library follows the same
/// way under a new revision.
#[tokio::test]
async fn the_whole_library_in_bounded_parts() {
    const FILES: usize = 2000;
    let dir = media_dir();
    std::fs::create_dir_all(dir.join("Shelf")).unwrap();
    for n in 0..FILES {
        std::fs::write(dir.join(format!("Shelf/Song {n:04} with a long enough title.mp3")), b"not really audio")
            .unwrap();
    }
    let host = start_host_with_media(SessionConfig::default(), Limits::default(), Some(dir.clone())).await;
    let url = format!("ws://{}/socket?token={}&name=rev&device=rev-1", host.local_addr(), host.join_key().unwrap());
    let started = std::time::Instant::now();
    let mut rev = Client::connect(&url).await;
    let library = whole_library(&mut rev).await;
    // A figure, not a goal: how long the whole library takes to arrive on loopback.
    println!(
        "revenge: {} items in {} library.update frames (largest {} bytes) in {:.0} ms from connect",
        library.items.len(),
        library.frames,
        library.largest,
        started.elapsed().as_secs_f64() * 1000.0
    );
    let all: Vec<String> = host.library().await.unwrap().into_iter().map(|item| item.id).collect();
    assert_eq!(all.len(), FILES + 1, "the folder's files and First Song");
    assert_eq!(library.items, all, "every item once, in the library's order");
    assert!(library.frames > 1, "in parts: {} frames", library.frames);

    let other = media_dir();
    for n in 0..250 {
        std::fs::write(other.join(format!("Other {n:03}.mp3")), b"not really audio").unwrap();
    }
    host.set_media(Some(other.clone())).await.unwrap();
    let again = whole_library(&mut rev).await;
    let all: Vec<String> = host.library().await.unwrap().into_iter().map(|item| item.id).collect();
    assert!(again.revision > library.revision, "a new revision: {} then {}", library.revision, again.revision);
    assert_eq!((again.items.len(), again.items == all), (251, true), "the new folder whole");
    host.shutdown(None).await;
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(other).unwrap();
}
