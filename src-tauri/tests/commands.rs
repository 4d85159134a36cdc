//! The commands through Tauri's IPC, on the mock runtime (no display needed): each test builds
//! the real app (`partyline_desktop::configure` and `init`: the same commands and startup) hosting on
//! 127.0.0.1, and invokes commands as the page does.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use partyline_desktop::LaunchOptions;
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{App, Listener, Manager, WebviewWindow, WebviewWindowBuilder};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);

struct TestApp {
    app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    settings: PathBuf,
    /// Remove the settings directory when dropped.
    cleanup: bool,
}

fn loopback() -> LaunchOptions {
    LaunchOptions { bind: "127.0.0.1".parse().unwrap(), port: 0, mdns: false, ..LaunchOptions::default() }
}

fn temp_settings(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("partyline-desktop-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("settings.json")
}

fn app_with(settings: PathBuf) -> TestApp {
    let app = partyline_desktop::configure(mock_builder(), loopback(), Some(settings.clone()))
        .build(mock_context(noop_assets()))
        .expect("the app builds");
    partyline_desktop::init(app.handle(), loopback(), Some(settings.clone()));
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    TestApp { app, webview, settings, cleanup: true }
}

/// The library as the page reads it: its first page (`library_page`), every item of a small one.
fn library_of(t: &TestApp) -> Value {
    t.ok("library_page", json!({}))["items"].clone()
}

fn app(name: &str) -> TestApp {
    app_with(temp_settings(name))
}

impl TestApp {
    /// Invokes `cmd` with `args` as the page would; Ok(value) or Err(command error).
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            &self.webview,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<Value>().unwrap())
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args.clone()).unwrap_or_else(|err| panic!("{cmd} {args} failed: {err}"))
    }

    /// The command error's code (and checks its shape: exactly `code` and `message`).
    fn err_code(&self, cmd: &str, args: Value) -> String {
        let err = self.invoke(cmd, args.clone()).expect_err(&format!("{cmd} {args} should fail"));
        let obj = err.as_object().unwrap_or_else(|| panic!("not an object: {err}"));
        assert_eq!(obj.len(), 2, "{err}");
        assert!(!obj["message"].as_str().unwrap().is_empty(), "{err}");
        obj["code"].as_str().unwrap().to_string()
    }

    /// Every `host-event` payload from now on.
    fn events(&self) -> mpsc::Receiver<Value> {
        let (tx, rx) = mpsc::channel();
        self.app.listen("host-event", move |event| {
            let _ = tx.send(serde_json::from_str(event.payload()).unwrap());
        });
        rx
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.invoke("stop_hosting", json!({}));
        if let Some(dir) = self.settings.parent().filter(|_| self.cleanup) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The next `host-event` named `kind` (`member_joined`, ...); others are skipped.
fn next_event(events: &mpsc::Receiver<Value>, kind: &str) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let event = events.recv_timeout(left).unwrap_or_else(|_| panic!("no {kind} event"));
        if event["event"] == kind {
            return event;
        }
    }
}

fn join_key(join_url: &str) -> String {
    join_url.split_once("#k=").expect("a key in the join URL").1.to_string()
}

/// `host_info` is the facade's HostInfo (join URL with the key, room code) plus the window's own: QR SVG, session, generation.
#[test]
fn host_info_returns_join_url_room_code_and_qr() {
    let t = app("info");
    let info = t.ok("host_info", json!({}));
    let join_url = info["joinUrl"].as_str().unwrap();
    let http_url = info["httpUrl"].as_str().unwrap();
    assert!(http_url.starts_with("http://127.0.0.1:") && http_url.ends_with('/'), "{info}");
    assert!(join_url.starts_with(http_url) && join_key(join_url).len() == 22, "{info}");
    let code = info["roomCode"].as_str().unwrap();
    assert_eq!(code.len(), 5);
    assert!(code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{code}");
    assert!(info["qrSvg"].as_str().unwrap().starts_with("<svg"), "{info}");
    assert_eq!(info["session"]["name"], "Partyline");
    assert_eq!(info["session"]["maxMembers"], 100);
    assert_eq!(info["session"]["locked"], false);
    assert_eq!(
        (info["mdns"].clone(), info["advertised"].clone(), info["warnings"].clone()),
        (json!(false), json!(false), json!([]))
    );
    assert_eq!(info["generation"], 1);
    // The facade's HostInfo (the CLI's `--json` line) and what only the window adds.
    let keys: std::collections::BTreeSet<&str> = info.as_object().unwrap().keys().map(String::as_str).collect();
    let host_info =
        ["sessionId", "name", "localAddr", "port", "httpUrl", "wsUrl", "endpoints", "joinUrl", "joinKey", "roomCode"];
    let host_info = host_info.into_iter().chain(["addresses", "advertised", "warnings"]);
    let window = ["generation", "selected", "qrSvg", "mdns", "session"];
    assert_eq!(keys, host_info.chain(window).collect(), "{info}");
    assert_eq!(info["joinKey"].as_str(), Some(join_key(join_url).as_str()));
    let members = t.ok("members", json!({}));
    assert_eq!(members.as_array().unwrap().len(), 1, "the host's own member: {members}");
    assert_eq!(members[0]["isHost"], true);
}

/// A capacity outside 1..=10,000 is the core's `bad_capacity`, and changes nothing.
#[test]
fn set_capacity_zero_is_the_command_error() {
    let t = app("capacity0");
    assert_eq!(t.err_code("set_capacity", json!({"maxMembers": 0})), "bad_capacity");
    assert_eq!(t.err_code("set_capacity", json!({"maxMembers": 10_001})), "bad_capacity");
    assert_eq!(t.ok("host_info", json!({}))["session"]["maxMembers"], 100, "unchanged");
    let session = t.ok("set_capacity", json!({"maxMembers": 7}));
    assert_eq!(session["maxMembers"], 7);
}

/// Kicking nobody is `no_such_member`.
#[test]
fn kick_of_an_unknown_member_is_an_error() {
    let t = app("kick");
    assert_eq!(t.err_code("kick", json!({"memberId": "m-nobody"})), "no_such_member");
}

/// Lock and rename take effect, show in `host_info`, and a bad name is the core's `bad_name`.
#[test]
fn lock_and_rename_round_trip() {
    let t = app("lock");
    assert_eq!(t.ok("set_locked", json!({"locked": true}))["locked"], true);
    assert_eq!(t.ok("host_info", json!({}))["session"]["locked"], true);
    assert_eq!(t.ok("set_locked", json!({"locked": false}))["locked"], false);
    assert_eq!(t.ok("host_info", json!({}))["session"]["locked"], false);

    assert_eq!(t.ok("rename", json!({"name": "  Rooftop  "}))["name"], "Rooftop");
    assert_eq!(t.ok("host_info", json!({}))["session"]["name"], "Rooftop");
    assert_eq!(t.err_code("rename", json!({"name": "   "})), "bad_name");
    assert_eq!(t.err_code("rename", json!({"name": "x".repeat(65)})), "bad_name");
    assert_eq!(t.ok("get_settings", json!({}))["partyName"], "Rooftop");
}

/// Name, capacity and interface are written to the settings file and used by the next launch.
#[test]
fn settings_are_remembered_between_launches() {
    let settings = temp_settings("remember");
    {
        let mut t = app_with(settings.clone());
        t.cleanup = false; // the next launch reads the file
        t.ok("rename", json!({"name": "Garden"}));
        t.ok("set_capacity", json!({"maxMembers": 12}));
        t.ok("choose_address", json!({"addr": "127.0.0.1"}));
    }
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    let fields = (saved["partyName"].clone(), saved["capacity"].clone(), saved["interface"].clone());
    assert_eq!(fields, (json!("Garden"), json!(12), json!("bound")), "{saved}");
    let t = app_with(settings);
    let info = t.ok("host_info", json!({}));
    assert_eq!((info["session"]["name"].clone(), info["session"]["maxMembers"].clone()), (json!("Garden"), json!(12)));
}

/// Stop, start (a new generation and session) and a new key (same party and port, new key and code).
#[test]
fn stop_start_and_new_key() {
    let t = app("stop");
    let first = t.ok("host_info", json!({}));
    t.ok("stop_hosting", json!({}));
    assert_eq!(t.err_code("host_info", json!({})), "not_hosting");
    assert_eq!(t.err_code("members", json!({})), "not_hosting");
    assert_eq!(t.err_code("set_locked", json!({"locked": true})), "not_hosting");
    t.ok("stop_hosting", json!({})); // stopping twice is fine
    let second = t.ok("start_hosting", json!({}));
    assert_eq!(second["generation"], 2);
    assert_ne!(first["sessionId"], second["sessionId"]);
    assert_eq!(t.ok("start_hosting", json!({}))["sessionId"], second["sessionId"], "already hosting: same party");

    let third = t.ok("new_key", json!({}));
    assert_eq!(
        (&third["generation"], &third["sessionId"]),
        (&second["generation"], &second["sessionId"]),
        "the same party"
    );
    assert_eq!(third["localAddr"], second["localAddr"], "on the same port");
    assert_ne!(join_key(third["joinUrl"].as_str().unwrap()), join_key(second["joinUrl"].as_str().unwrap()));
    assert_ne!(third["roomCode"], second["roomCode"]);
    assert_eq!(t.ok("host_info", json!({}))["joinUrl"], third["joinUrl"]);
}

/// With mDNS off the app does not browse (and says so); the address picker offers the one
/// bound address and refuses any other. (Several addresses and live browsing are shown on a
/// simulated LAN by `tests/e2e/lan.py`.)
#[test]
fn browse_off_without_mdns_and_the_address_picker() {
    let t = app("browse");
    assert_eq!(t.ok("browse_sessions", json!({})), json!({"enabled": false, "error": null, "sessions": []}));
    let info = t.ok("host_info", json!({}));
    let bound = json!([{"interface": "bound", "addr": "127.0.0.1", "joinUrl": info["joinUrl"]}]);
    assert_eq!((&info["addresses"], &info["selected"]), (&bound, &json!("127.0.0.1")), "{info}");
    let chosen = t.ok("choose_address", json!({"addr": " 127.0.0.1 "}));
    assert_eq!(chosen["joinUrl"], info["joinUrl"]);
    assert_eq!(t.err_code("choose_address", json!({"addr": "10.9.9.9"})), "bad_address");
    assert_eq!(t.err_code("choose_address", json!({"addr": "not an address"})), "bad_address");
    assert_eq!(t.ok("host_info", json!({}))["joinUrl"], info["joinUrl"], "a refused choice changes nothing");
    t.ok("stop_hosting", json!({}));
    assert_eq!(t.err_code("choose_address", json!({"addr": "127.0.0.1"})), "not_hosting");
}

/// A phone joins over a real WebSocket: the page gets `member_joined`, `members` lists it, and
/// `kick` removes it (the phone gets `kicked`, the page `member_left` with reason `kicked`).
#[test]
fn a_member_joins_is_listed_and_kicked() {
    let t = app("member");
    let events = t.events();
    let info = t.ok("host_info", json!({}));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ws = join_ext(&rt, &info, "dev-1", "Sara's phone");

    let joined = next_event(&events, "member_joined");
    assert_eq!(joined["generation"], 1);
    assert_eq!(joined["name"], "Sara's phone");
    // Exactly the facade's event, as `partyline host --json` prints it, plus the generation.
    let mut fields = joined.clone();
    fields.as_object_mut().unwrap().retain(|key, _| key != "event" && key != "generation");
    let member: partyline_host::MemberInfo = serde_json::from_value(fields).unwrap();
    let mut facade = serde_json::to_value(partyline_host::HostEvent::MemberJoined(member)).unwrap();
    facade["generation"] = json!(1);
    assert_eq!(joined, facade, "the page's event against the facade's serialized");
    let id = joined["id"].as_str().unwrap().to_string();
    let members = t.ok("members", json!({}));
    assert!(members.as_array().unwrap().iter().any(|m| m["id"] == id.as_str()), "{members}");
    assert_eq!(t.ok("host_info", json!({}))["session"]["memberCount"], 1);

    let kicked = t.ok("kick", json!({"memberId": id}));
    assert_eq!(kicked["name"], "Sara's phone");
    let left = next_event(&events, "member_left");
    assert_eq!((left["member"]["id"].as_str(), left["reason"].as_str()), (Some(id.as_str()), Some("kicked")));
    let got_kicked = rt.block_on(async {
        tokio::time::timeout(WAIT, async {
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(text) = message
                    && serde_json::from_str::<Value>(&text).unwrap()["type"] == "kicked"
                {
                    return true;
                }
            }
            false
        })
        .await
    });
    assert_eq!(got_kicked, Ok(true));
    assert_eq!(t.err_code("kick", json!({"memberId": id})), "no_such_member", "already gone");
}

/// `kick` with `ban`: the device is listed by `bans` and its next join is refused (`banned`);
/// `unban` lets it back in; an unknown device is `no_such_ban`.
#[test]
fn a_ban_from_the_app_holds_until_lifted() {
    let t = app("ban");
    let events = t.events();
    let info = t.ok("host_info", json!({}));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _ws = join_ext(&rt, &info, "dev-ban", "Sam's phone");
    let id = next_event(&events, "member_joined")["id"].as_str().unwrap().to_string();
    t.ok("kick", json!({"memberId": id, "reason": "spam", "ban": true}));
    let banned = next_event(&events, "banned");
    assert_eq!((banned["deviceId"].as_str(), banned["reason"].as_str()), (Some("dev-ban"), Some("spam")));
    assert_eq!(t.ok("bans", json!({}))[0]["deviceId"], "dev-ban");
    let mut again = join_ext(&rt, &info, "dev-ban", "Sam's phone");
    let refused = rt.block_on(async {
        tokio::time::timeout(WAIT, async {
            while let Some(Ok(message)) = again.next().await {
                if let Message::Text(text) = message {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    if v["type"] == "error" {
                        return v["details"]["reason"].as_str().map(str::to_string);
                    }
                }
            }
            None
        })
        .await
    });
    assert_eq!(refused, Ok(Some("banned".to_string())), "the banned device is turned away");
    assert_eq!(t.err_code("unban", json!({"deviceId": "dev-nobody"})), "no_such_ban");
    assert_eq!(t.ok("unban", json!({"deviceId": "dev-ban"}))["name"], "Sam's phone");
    assert_eq!(t.ok("bans", json!({})), json!([]));
}

/// Joining another party from the Browse tab: the room code is traded for a WebSocket URL.
#[test]
fn resolve_join_trades_the_room_code() {
    let t = app("resolve");
    let info = t.ok("host_info", json!({}));
    let address = info["localAddr"].as_str().unwrap();
    let target = t
        .ok("resolve_join", json!({"address": address, "roomCode": info["roomCode"].as_str().unwrap().to_lowercase()}));
    let key = join_key(info["joinUrl"].as_str().unwrap());
    assert_eq!(target["wsUrl"], format!("ws://{address}/ws?token={key}"));
    assert_eq!(target["sessionId"], info["sessionId"]);
    assert_eq!(target["name"], "Partyline");
    // A pasted join URL carries its key: no code needed.
    assert_eq!(t.ok("resolve_join", json!({"address": info["joinUrl"]}))["wsUrl"], target["wsUrl"]);
    assert_eq!(t.err_code("resolve_join", json!({"address": address, "roomCode": "ZZZZZ"})), "wrong_code");
    assert_eq!(t.err_code("resolve_join", json!({"address": address})), "wrong_code");
    assert_eq!(t.err_code("resolve_join", json!({"address": "nonsense"})), "bad_address");
    assert_eq!(t.err_code("resolve_join", json!({"address": "127.0.0.1:1", "roomCode": "ABCDE"})), "unreachable");
}

// ---- SyncPlay ---------------------------------------------------------------------------------

/// An app launched with these options (loopback, mDNS off) and settings file.
fn app_launched(settings: PathBuf, launch: LaunchOptions) -> TestApp {
    let app = partyline_desktop::configure(mock_builder(), launch.clone(), Some(settings.clone()))
        .build(mock_context(noop_assets()))
        .expect("the app builds");
    partyline_desktop::init(app.handle(), launch, Some(settings.clone()));
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    TestApp { app, webview, settings, cleanup: true }
}

/// A media folder holding `seconds` of silence as a 16-bit mono 8 kHz PCM WAV, and a file that
/// is not media. Removed when dropped.
struct MediaFolder(PathBuf);

impl MediaFolder {
    fn new(name: &str, title: &str, seconds: u32) -> MediaFolder {
        let dir = std::env::temp_dir().join(format!("partyline-desktop-media-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (rate, samples) = (8000u32, 8000 * seconds);
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF");
        wav.extend_from_slice(&(36 + samples * 2).to_le_bytes());
        wav.extend_from_slice(b"WAVEfmt ");
        for (value, bytes) in [(16u32, 4), (1, 2), (1, 2), (rate, 4), (rate * 2, 4), (2, 2), (16, 2)] {
            wav.extend_from_slice(&value.to_le_bytes()[..bytes]);
        }
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&(samples * 2).to_le_bytes());
        wav.resize(wav.len() + samples as usize * 2, 0);
        std::fs::write(dir.join(format!("{title}.wav")), wav).unwrap();
        std::fs::write(dir.join("notes.txt"), b"not media").unwrap();
        MediaFolder(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for MediaFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn saved_settings(t: &TestApp) -> Value {
    serde_json::from_str(&std::fs::read_to_string(&t.settings).unwrap()).unwrap()
}

fn play_item(id: &Value) -> Value {
    json!({"command": {"command": "play", "itemId": id}})
}

/// The folder is chosen while hosting: the same party lists the WAV (with its duration), plays,
/// pauses, seeks, queues, changes speed and permissions; bad folders, items, entries and values
/// are `{code, message}` errors that change nothing; the folder is remembered for the next launch.
#[test]
fn syncplay_media_folder_library_and_transport() {
    let media = MediaFolder::new("transport", "One second of silence", 1);
    let t = app("syncplay");
    let events = t.events();
    let before = t.ok("host_info", json!({}));
    let empty = t.ok("playback", json!({}));
    assert_eq!((library_of(&t), empty["mediaFolder"].clone()), (json!([]), Value::Null), "{empty}");
    assert_eq!(empty["libraryTotal"], 0, "{empty}");
    assert_eq!(empty["state"]["state"], "idle");
    assert_eq!(t.err_code("syncplay_command", json!({"command": {"command": "play"}})), "nothing_to_play");

    let shown = t.ok("set_media_folder", json!({"path": media.path()}));
    assert_eq!(shown["mediaFolder"], media.path());
    assert_eq!(shown["libraryTotal"], 1, "only the WAV: {shown}");
    let library = library_of(&t).as_array().unwrap().clone();
    assert_eq!(library.len(), 1, "only the WAV: {library:?}");
    assert_eq!(
        (library[0]["title"].as_str(), library[0]["mime"].as_str()),
        (Some("One second of silence"), Some("audio/wav"))
    );
    assert_eq!(library[0]["durationMs"], 1000.0, "the WAV header's length");
    let after = t.ok("host_info", json!({}));
    assert_eq!(
        (after["sessionId"].clone(), after["generation"].clone()),
        (before["sessionId"].clone(), json!(1)),
        "the same party"
    );
    assert_eq!(library_of(&t), json!(library));
    assert_eq!(saved_settings(&t)["mediaFolder"], media.path(), "remembered");

    // Play: nobody to wait for, so it plays at once; the page hears it as `sync_play`.
    let item = library[0]["id"].clone();
    let state = t.ok("syncplay_command", play_item(&item));
    assert_eq!((state["state"].as_str(), &state["itemId"]), (Some("playing"), &item), "{state}");
    let event = next_event(&events, "sync_play");
    assert_eq!((event["itemId"].clone(), event["generation"].clone()), (item.clone(), json!(1)), "{event}");
    let state = t.ok("syncplay_command", json!({"command": {"command": "pause"}}));
    assert_eq!((state["state"].as_str(), state["paused"].as_bool()), (Some("paused"), Some(true)));
    let state = t.ok("syncplay_command", json!({"command": {"command": "seek", "position": 500}}));
    assert_eq!(state["position"], 500.0);
    let state = t.ok("syncplay_command", json!({"command": {"command": "queue.add", "itemId": item}}));
    let queue: Vec<&Value> = state["queue"].as_array().unwrap().iter().map(|e| &e["itemId"]).collect();
    assert_eq!(queue, [&item, &item], "played once, queued once: {state}");
    let second = state["queue"][1]["entryId"].clone();
    let state = t.ok("syncplay_command", json!({"command": {"command": "next"}}));
    assert_eq!(state["entryId"], second);
    let state = t.ok("syncplay_command", json!({"command": {"command": "setRate", "rate": 1.5}}));
    assert_eq!(state["rate"], 1.5);

    // Refusals change nothing.
    let revision = t.ok("playback", json!({}))["state"]["revision"].clone();
    assert_eq!(t.err_code("syncplay_command", play_item(&json!("t-nope"))), "unknown_item");
    let remove = json!({"command": {"command": "queue.remove", "entryId": "q-99"}});
    assert_eq!(t.err_code("syncplay_command", remove), "unknown_entry");
    assert_eq!(t.err_code("syncplay_command", json!({"command": {"command": "setRate", "rate": 3}})), "bad_command");
    assert_eq!(t.err_code("syncplay_command", json!({"command": {"command": "seek", "position": -1}})), "bad_command");
    assert!(t.invoke("syncplay_command", json!({"command": {"command": "dance"}})).is_err(), "not a command");
    let now = t.ok("playback", json!({}));
    assert_eq!((now["state"]["revision"].clone(), now["state"]["rate"].clone()), (revision, json!(1.5)));

    let state = t.ok("set_permissions", json!({"playback": true, "queue": false}));
    assert_eq!(state["permissions"], json!({"playback": true, "queue": false}));
    assert_eq!(t.ok("playback", json!({}))["state"]["permissions"], json!({"playback": true, "queue": false}));

    // Bad folders: clear errors, and the library, the folder and the settings stay.
    let file = media.0.join("notes.txt");
    for bad in [media.0.join("missing").to_str().unwrap(), file.to_str().unwrap(), "relative/music"] {
        assert_eq!(t.err_code("set_media_folder", json!({"path": bad})), "bad_media_folder", "{bad}");
        let now = t.ok("playback", json!({}));
        assert_eq!((library_of(&t), now["mediaFolder"].clone()), (json!(library), json!(media.path())), "{bad}");
        assert_eq!(saved_settings(&t)["mediaFolder"], media.path(), "{bad}");
    }

    // Another launch with the same settings shares the remembered folder at start.
    let settings = t.settings.clone();
    let mut t = t;
    t.cleanup = false;
    drop(t);
    let again = app_with(settings);
    let shown = again.ok("playback", json!({}));
    assert_eq!((library_of(&again), shown["mediaFolder"].clone()), (json!(library), json!(media.path())));
    // Sharing nothing: an empty library, remembered as none.
    assert_eq!(again.ok("set_media_folder", json!({"path": ""}))["libraryTotal"], 0);
    assert_eq!(library_of(&again), json!([]));
    assert_eq!(saved_settings(&again).get("mediaFolder"), None);
}

/// A guest's phone is in the ready barrier and reports its sync: "start anyway" starts without
/// it, its reports reach the page as `playback_progress`, and `playback` lists it by name with its
/// error against the group.
#[test]
fn syncplay_member_sync_reaches_the_panel() {
    let media = MediaFolder::new("sync", "Silence", 2);
    let t = app_launched(temp_settings("sync"), LaunchOptions { media: Some(media.0.clone()), ..loopback() });
    let events = t.events();
    let item = library_of(&t)[0]["id"].clone();
    assert!(item.is_string(), "--media shares the folder at start");
    let info = t.ok("host_info", json!({}));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ws = join_ext(&rt, &info, "dev-1", "Sara's phone");
    let member = next_event(&events, "member_joined")["id"].clone();

    // The phone is an extension member: the start waits for it.
    let state = t.ok("syncplay_command", play_item(&item));
    assert_eq!(state["state"], "waiting", "{state}");
    let entry = state["entryId"].clone();
    let state = t.ok("syncplay_command", json!({"command": {"command": "startAnyway"}}));
    assert_eq!(state["state"], "playing", "{state}");

    let progress = json!({
        "type": "playback.progress", "timestamp": 2, "entryId": entry, "position": 1200.0,
        "state": "playing", "error": -2.5,
    });
    rt.block_on(ws.send(Message::text(progress.to_string()))).unwrap();
    let event = next_event(&events, "playback_progress");
    assert_eq!(event["memberId"], member, "{event}");
    assert_eq!((event["state"].as_str(), event["errorMs"].as_f64()), (Some("playing"), Some(-2.5)), "{event}");
    let panel = t.ok("playback", json!({}));
    let members = panel["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{panel}");
    assert_eq!(
        (members[0]["name"].as_str(), members[0]["state"].as_str(), members[0]["errorMs"].as_f64()),
        (Some("Sara's phone"), Some("playing"), Some(-2.5))
    );
    assert!(panel["now"].as_u64().unwrap() >= panel["state"]["serverTime"].as_u64().unwrap() - 3_000_000);

    // The host turns this phone down: it gets remote.command volume 0.3; bad values are refused.
    t.ok("set_member_volume", json!({"memberId": member, "volume": 0.3}));
    let command = next_message(&rt, &mut ws, "remote.command", WAIT).expect("remote.command within WAIT");
    assert_eq!((command["command"].as_str(), command["value"].as_f64()), (Some("volume"), Some(0.3)), "{command}");
    assert_eq!(t.err_code("set_member_volume", json!({"memberId": member, "volume": 1.5})), "bad_volume");
    assert_eq!(t.err_code("set_member_volume", json!({"memberId": member, "volume": -0.1})), "bad_volume");
    assert_eq!(t.err_code("set_member_volume", json!({"memberId": "m-nobody", "volume": 0.5})), "no_such_member");

    // The launch flag is for this launch: not written to the settings.
    t.ok("rename", json!({"name": "Flagged"}));
    assert_eq!(saved_settings(&t).get("mediaFolder"), None);
}

/// A remembered folder that has gone away does not keep the party from starting: it shares
/// nothing and the panel says why.
#[test]
fn syncplay_missing_folder_at_start_still_hosts() {
    let gone = std::env::temp_dir().join(format!("partyline-desktop-gone-{}", std::process::id()));
    let t = app_launched(temp_settings("gone"), LaunchOptions { media: Some(gone.clone()), ..loopback() });
    let panel = t.ok("playback", json!({}));
    assert_eq!((panel["libraryTotal"].clone(), library_of(&t)), (json!(0), json!([])));
    assert_eq!(panel["mediaFolder"], gone.to_str().unwrap());
    let problem = panel["mediaProblem"].as_str().expect("the reason it is not shared");
    assert!(problem.contains("cannot read media folder"), "{problem}");
    assert_eq!(t.ok("host_info", json!({}))["session"]["name"], "Partyline");
}

/// Covers on the desktop: an item whose tags hold a picture is listed with `cover`, and the
/// page's `cover:` scheme answers with the picture's own bytes and type, from the host; an item
/// without one, or an id the library does not list, is `no_such_cover`. And `playback`, read
/// every 3 s, carries no library: with 300 files shared it names their number and revision only.
#[test]
fn covers_for_the_page_and_a_playback_without_the_library() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/media");
    let media = MediaFolder::new("covers", "No picture", 1);
    std::fs::copy(fixtures.join("tone.mp3"), media.0.join("tone.mp3")).unwrap();
    let t = app_launched(temp_settings("covers"), LaunchOptions { media: Some(media.0.clone()), ..loopback() });
    let library = library_of(&t);
    let by_title = |title: &str| library.as_array().unwrap().iter().find(|i| i["title"] == title).cloned().unwrap();
    let (tagged, plain) = (by_title("Tone in MP3"), by_title("No picture"));
    assert_eq!((tagged["cover"].clone(), plain["cover"].clone()), (json!(true), json!(false)), "{library}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = t.app.state::<partyline_desktop::AppState>();
    let (bytes, mime) = rt.block_on(state.cover(tagged["id"].as_str().unwrap())).expect("the MP3's cover");
    assert_eq!((bytes, mime), (std::fs::read(fixtures.join("cover.png")).unwrap(), "image/png"), "the tag's picture");
    assert_eq!(rt.block_on(state.cover(plain["id"].as_str().unwrap())).unwrap_err().code, "no_such_cover");
    assert_eq!(rt.block_on(state.cover("t-00000000")).unwrap_err().code, "no_such_cover", "not a listed id");

    let before = t.ok("playback", json!({}));
    for n in 0..300 {
        std::fs::write(media.0.join(format!("Song {n:03}.mp3")), b"not really audio").unwrap();
    }
    let shown = t.ok("set_media_folder", json!({"path": media.path()}));
    assert_eq!(shown["libraryTotal"], 302, "{shown}");
    assert!(
        shown["libraryRevision"].as_u64() > before["libraryRevision"].as_u64(),
        "the revision moves with the folder: {} then {}",
        before["libraryRevision"],
        shown["libraryRevision"]
    );
    let panel = t.ok("playback", json!({}));
    let text = panel.to_string();
    assert!(!text.contains("Song 000") && text.len() < 1500, "playback is {} bytes: {text}", text.len());
}

// ---- Messaging: announcements, reads, presence ------------------------------------------------

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `partyline/1` member joins over a real WebSocket as device `device`, named `name`, as a
/// phone does (`player`: SyncPlay waits for it).
fn join_ext(rt: &tokio::runtime::Runtime, info: &Value, device: &str, name: &str) -> Socket {
    let url = format!("{}?token={}", info["wsUrl"].as_str().unwrap(), join_key(info["joinUrl"].as_str().unwrap()));
    let (mut ws, _) = rt.block_on(tokio_tungstenite::connect_async(url)).unwrap();
    let join = json!({
        "type": "join", "timestamp": 1, "sessionId": info["sessionId"], "protocolVersion": "partyline/1",
        "deviceInfo": {"id": device, "name": name, "type": "client"}, "player": true,
    });
    rt.block_on(ws.send(Message::text(join.to_string()))).unwrap();
    ws
}

fn send(rt: &tokio::runtime::Runtime, ws: &mut Socket, message: Value) {
    rt.block_on(ws.send(Message::text(message.to_string()))).unwrap();
}

/// The next server message of type `kind` (others skipped); `None` after `wait`.
fn next_message(rt: &tokio::runtime::Runtime, ws: &mut Socket, kind: &str, wait: Duration) -> Option<Value> {
    rt.block_on(async {
        tokio::time::timeout(wait, async {
            while let Some(Ok(message)) = ws.next().await {
                let Message::Text(text) = message else { continue }; // WebSocket pings (latency)
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] == kind {
                    return Some(value);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
    })
}

/// `notify` from the page reaches a member as `notification`; bad inputs are command errors that
/// send nothing; the member's `mark_read` and `presence` come back on the page's event stream.
#[test]
fn notify_reaches_a_member_and_reads_and_presence_come_back() {
    let t = app("notify");
    let events = t.events();
    let info = t.ok("host_info", json!({}));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ws = join_ext(&rt, &info, "dev-1", "Sara");
    let member = next_event(&events, "member_joined")["id"].as_str().unwrap().to_string();
    assert!(next_message(&rt, &mut ws, "welcome", WAIT).is_some());

    // Refused by the host before anything is sent.
    let long_title = "t".repeat(101);
    let long_body = "b".repeat(1001);
    assert_eq!(t.err_code("notify", json!({"title": ""})), "bad_notification");
    assert_eq!(t.err_code("notify", json!({"title": "   ", "body": "nothing to say"})), "bad_notification");
    assert_eq!(t.err_code("notify", json!({"title": long_title})), "bad_notification");
    assert_eq!(t.err_code("notify", json!({"title": "Pizza", "body": long_body})), "bad_notification");
    assert_eq!(t.err_code("notify", json!({"title": "Pizza", "level": "urgent"})), "bad_level");
    assert_eq!(t.err_code("notify", json!({"title": "Pizza", "level": ""})), "bad_level");
    assert_eq!(
        next_message(&rt, &mut ws, "notification", Duration::from_millis(300)),
        None,
        "a refused announcement sends nothing"
    );

    // At the limits, and trimmed.
    let sent = t.ok("notify", json!({"title": " Pizza is here ", "body": "In the kitchen", "level": "warning"}));
    assert_eq!(
        (sent["title"].as_str(), sent["body"].as_str(), sent["level"].as_str()),
        (Some("Pizza is here"), Some("In the kitchen"), Some("warning"))
    );
    assert!(sent["sentAt"].as_u64().unwrap() > 1_600_000_000_000, "{sent}");
    let id = sent["id"].as_str().unwrap().to_string();
    let got = next_message(&rt, &mut ws, "notification", WAIT).expect("the notification reaches the member");
    assert_eq!(got["id"], id.as_str(), "the first notification the member gets is this one: {got}");
    assert_eq!(
        (got["title"].as_str(), got["body"].as_str(), got["level"].as_str()),
        (Some("Pizza is here"), Some("In the kitchen"), Some("warning"))
    );
    let most = t.ok("notify", json!({"title": "t".repeat(100), "body": "b".repeat(1000)}));
    assert_eq!(most["level"], "info", "info unless told");
    let got = next_message(&rt, &mut ws, "notification", WAIT).expect("the second notification");
    assert_eq!((got["id"].clone(), got["level"].as_str()), (most["id"].clone(), Some("info")));

    // The member has read both: the page hears who read which.
    send(&rt, &mut ws, json!({"type": "mark_read", "timestamp": 2, "ids": [id, most["id"]]}));
    let read = next_event(&events, "notifications_read");
    assert_eq!((read["memberId"].as_str(), read["name"].as_str()), (Some(member.as_str()), Some("Sara")), "{read}");
    assert_eq!(read["ids"], json!([id, most["id"]]));
    assert_eq!(read["generation"], 1);

    // Away with words, then busy without: the page hears each.
    send(&rt, &mut ws, json!({"type": "presence", "timestamp": 3, "status": "away", "text": "back in 5"}));
    let away = next_event(&events, "presence");
    assert_eq!(
        (away["memberId"].as_str(), away["name"].as_str(), away["status"].as_str(), away["text"].as_str()),
        (Some(member.as_str()), Some("Sara"), Some("away"), Some("back in 5"))
    );
    send(&rt, &mut ws, json!({"type": "presence", "timestamp": 4, "status": "busy"}));
    let busy = next_event(&events, "presence");
    assert_eq!((busy["status"].as_str(), busy["text"].clone()), (Some("busy"), Value::Null), "{busy}");

    // A fresh join of the same device: online again, and the page is told.
    let _again = join_ext(&rt, &info, "dev-1", "Sara");
    let online = next_event(&events, "presence");
    assert_eq!((online["memberId"].as_str(), online["status"].as_str()), (Some(member.as_str()), Some("online")));

    // Not hosting: nothing to announce to.
    t.ok("stop_hosting", json!({}));
    assert_eq!(t.err_code("notify", json!({"title": "Anyone?"})), "not_hosting");
}

// ---- Chat moderation --------------------------------------------------------------------------

/// A guest's chat line reaches the page as `chat`; `delete_chat` removes it: the guest gets
/// `chat.deleted`, the page `chat_deleted`, and deleting it again (no longer kept) is
/// `no_such_line`, as is an id the party never had.
#[test]
fn delete_chat_removes_a_guests_line_for_everyone() {
    let t = app("chat");
    let events = t.events();
    let info = t.ok("host_info", json!({}));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ws = join_ext(&rt, &info, "dev-1", "Sara");
    next_event(&events, "member_joined");
    assert!(next_message(&rt, &mut ws, "welcome", WAIT).is_some());

    send(&rt, &mut ws, json!({"type": "chat", "timestamp": 2, "text": "wrong chat, sorry"}));
    let said = next_event(&events, "chat");
    assert_eq!(
        (said["name"].as_str(), said["text"].as_str(), said["generation"].as_u64()),
        (Some("Sara"), Some("wrong chat, sorry"), Some(1)),
        "{said}"
    );
    let id = said["id"].as_str().expect("the line's id").to_string();
    let echoed = next_message(&rt, &mut ws, "chat", WAIT).expect("the guest's own line comes back");
    assert_eq!(echoed["id"], id.as_str(), "the same id on the wire: {echoed}");

    let deleted = t.ok("delete_chat", json!({"id": id}));
    assert_eq!(
        (deleted["id"].as_str(), deleted["text"].as_str(), deleted["name"].as_str()),
        (Some(id.as_str()), Some("wrong chat, sorry"), Some("Sara")),
        "the line as it was: {deleted}"
    );
    let told = next_message(&rt, &mut ws, "chat.deleted", WAIT).expect("chat.deleted reaches the guest");
    assert_eq!((told["id"].as_str(), told["room"].as_str()), (Some(id.as_str()), said["room"].as_str()), "{told}");
    let gone = next_event(&events, "chat_deleted");
    assert_eq!((gone["id"].as_str(), gone["generation"].as_u64()), (Some(id.as_str()), Some(1)), "{gone}");

    assert_eq!(t.err_code("delete_chat", json!({"id": id})), "no_such_line", "already deleted");
    assert_eq!(t.err_code("delete_chat", json!({"id": "c-999"})), "no_such_line", "never said");
    t.ok("stop_hosting", json!({}));
    assert_eq!(t.err_code("delete_chat", json!({"id": id})), "not_hosting");
}

// ---- Guests' uploads: the switch and the photos ------------------------------------------------

/// A 1×1 PNG: what the host sniffs as an image.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d,
    0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// One HTTP/1.1 request to the party (`Connection: close`): the status and the body.
fn http(info: &Value, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    use std::io::{Read, Write};
    let base = info["httpUrl"].as_str().unwrap().trim_end_matches('/');
    let authority = base.strip_prefix("http://").unwrap();
    let key = join_key(info["joinUrl"].as_str().unwrap());
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The switch turns guests' uploads off (`/api/info` says so and an upload is refused 403,
/// nothing listed) and on again; a photo a guest then uploads over real HTTP is listed by
/// `photos` and reaches the page as `photo_shared`; the choice is remembered for the next launch.
#[test]
fn uploads_switch_and_the_photos_guests_share() {
    let settings = temp_settings("uploads");
    let mut t = app_with(settings.clone());
    t.cleanup = false; // the next launch reads the file
    let events = t.events();
    let info = t.ok("host_info", json!({}));
    assert_eq!(t.ok("uploads", json!({})), json!({"allowed": true}), "on by default");
    assert_eq!(t.ok("photos", json!({})), json!([]), "no photos yet");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ws = join_ext(&rt, &info, "dev-1", "Sara");
    assert!(next_message(&rt, &mut ws, "welcome", WAIT).is_some());
    let upload = "/api/uploads?device=dev-1&name=Balcony.png";

    assert_eq!(t.ok("set_uploads", json!({"allowed": false})), json!({"allowed": false}));
    assert_eq!(http(&info, "GET", "/api/info", b"").1["uploads"]["allowed"], false, "/api/info after the switch");
    let (status, body) = http(&info, "POST", upload, PNG);
    assert_eq!(status, 403, "an upload while off: {body}");
    assert_eq!(t.ok("photos", json!({})), json!([]), "nothing was added");
    assert_eq!(saved_settings(&t)["guestUploads"], false, "remembered");

    assert_eq!(t.ok("set_uploads", json!({"allowed": true})), json!({"allowed": true}));
    let (status, body) = http(&info, "POST", upload, PNG);
    assert_eq!((status, body["kind"].as_str()), (201, Some("photo")), "{body}");
    let shared = next_event(&events, "photo_shared");
    assert_eq!(
        (shared["id"].as_str(), shared["fromName"].as_str(), shared["name"].as_str(), shared["generation"].as_u64()),
        (body["id"].as_str(), Some("Sara"), Some("Balcony.png"), Some(1)),
        "{shared}"
    );
    let listed = t.ok("photos", json!({}));
    assert_eq!(listed.as_array().map(|l| l.len()), Some(1), "{listed}");
    assert_eq!((listed[0]["id"].as_str(), listed[0]["url"].as_str()), (body["id"].as_str(), body["url"].as_str()));
    let (status, _) = http(&info, "GET", listed[0]["url"].as_str().unwrap(), b"");
    assert_eq!(status, 200, "the photo is served with the key");
    // What the page's photo: scheme answers: the bytes the guest sent, from the party's folder.
    let state = t.app.state::<partyline_desktop::AppState>();
    let (bytes, mime) = rt.block_on(state.photo(body["id"].as_str().unwrap())).expect("the photo");
    assert_eq!((bytes.as_slice(), mime), (PNG, "image/png"), "the photo as the Photos card gets it");
    assert_eq!(rt.block_on(state.photo("u-0000")).unwrap_err().code, "no_such_photo", "an id the host never listed");

    t.ok("set_uploads", json!({"allowed": false}));
    drop(t);
    let t = app_with(settings);
    assert_eq!(t.ok("uploads", json!({})), json!({"allowed": false}), "the next launch starts as the switch was left");
    t.ok("stop_hosting", json!({}));
    assert_eq!(t.err_code("set_uploads", json!({"allowed": true})), "not_hosting");
    assert_eq!(t.err_code("photos", json!({})), "not_hosting");
    let state = t.app.state::<partyline_desktop::AppState>();
    assert_eq!(rt.block_on(state.photo("u-0000")).unwrap_err().code, "not_hosting");
}

// ---- the party's file, the folder picker --------------------------------------------------------

/// With a party file the party outlives its host: a stop and a start pick it up (`restored`,
/// the same session and key); "New party" ends it for good and starts a new one (a new session
/// and key, not restored), which a later launch on the same file picks up.
#[test]
fn new_party_ends_the_stored_party_and_starts_afresh() {
    let settings = temp_settings("party-file");
    // Beside the settings' folder, which each app removes when dropped.
    let data = std::env::temp_dir().join(format!("partyline-desktop-test-{}-party-data", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let file = data.join("party.db");
    let launch = LaunchOptions { party_file: Some(file.clone()), ..loopback() };
    let t = app_launched(settings.clone(), launch.clone());
    let first = t.ok("host_info", json!({}));
    assert_eq!(first.get("restored"), None, "a new party is not restored: {first}");
    assert!(file.exists(), "expected the party kept in {}", file.display());
    t.ok("stop_hosting", json!({}));
    let again = t.ok("start_hosting", json!({}));
    assert_eq!(again["restored"], true, "expected the stored party picked up: {again}");
    assert_eq!(
        (&again["sessionId"], &again["joinKey"], &again["roomCode"]),
        (&first["sessionId"], &first["joinKey"], &first["roomCode"]),
        "the same party, key and code"
    );
    let fresh = t.ok("new_party", json!({}));
    assert_eq!(fresh.get("restored"), None, "a new party is not restored: {fresh}");
    assert_ne!(fresh["sessionId"], first["sessionId"], "expected a new session");
    assert_ne!(fresh["joinKey"], first["joinKey"], "expected a new key");
    assert_eq!(fresh["generation"], 3, "a new host for the page");
    t.ok("stop_hosting", json!({}));
    // "New party" while not hosting ends the stored party too.
    let fourth = t.ok("new_party", json!({}));
    assert_ne!(fourth["sessionId"], fresh["sessionId"], "expected a new session while stopped");
    let kept = fourth["sessionId"].clone();
    drop(t);
    let t = app_launched(temp_settings("party-file-2"), launch);
    let later = t.ok("host_info", json!({}));
    assert_eq!((&later["sessionId"], &later["restored"]), (&kept, &json!(true)), "the next launch picks it up");
    t.ok("stop_hosting", json!({}));
    drop(t);
    let _ = std::fs::remove_dir_all(&data);
}

/// One second of silence as a 16-bit mono 8 kHz PCM WAV: what the host sniffs as a song.
fn wav_second() -> Vec<u8> {
    let (rate, samples) = (8000u32, 8000u32);
    let mut wav = Vec::new();
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + samples * 2).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    for (value, bytes) in [(16u32, 4), (1, 2), (1, 2), (rate, 4), (rate * 2, 4), (2, 2), (16, 2)] {
        wav.extend_from_slice(&value.to_le_bytes()[..bytes]);
    }
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(samples * 2).to_le_bytes());
    wav.resize(wav.len() + samples as usize * 2, 0);
    wav
}

/// The files in a folder's `guests/` (none when it is missing).
fn guest_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("guests"))
        .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// With a party file, what guests share is kept beside it (`party.uploads/`, as `partyline host
/// --party-file` keeps it), not in a temp folder: a stop and start, and a new launch of the app
/// on the same data (whose start sweeps old temp folders), still have the guest's photo (listed,
/// and its bytes for the Photos card) and song (in the library); "New party" starts with the
/// folder empty.
#[test]
fn guests_uploads_outlive_the_app_beside_its_party_file() {
    let data = std::env::temp_dir().join(format!("partyline-desktop-test-{}-uploads-data", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let file = data.join("party.db");
    let folder = data.join("party.uploads");
    let launch = LaunchOptions { party_file: Some(file.clone()), ..loopback() };
    let t = app_launched(temp_settings("uploads-file"), launch.clone());
    let info = t.ok("host_info", json!({}));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ws = join_ext(&rt, &info, "dev-1", "Sara");
    assert!(next_message(&rt, &mut ws, "welcome", WAIT).is_some());
    let (status, photo) = http(&info, "POST", "/api/uploads?device=dev-1&name=Balcony.png", PNG);
    assert_eq!((status, photo["kind"].as_str()), (201, Some("photo")), "{photo}");
    let (status, song) = http(&info, "POST", "/api/uploads?device=dev-1&name=Our%20song.wav", &wav_second());
    assert_eq!((status, song["kind"].as_str()), (201, Some("song")), "{song}");
    assert_eq!(guest_files(&folder).len(), 2, "both files beside the party file, in {}", folder.display());
    drop(ws);

    let kept = |t: &TestApp, when: &str| {
        let photos = t.ok("photos", json!({}));
        assert_eq!(photos.as_array().map(|p| p.len()), Some(1), "{when}: the photo listed: {photos}");
        assert_eq!(photos[0]["id"], photo["id"], "{when}");
        let state = t.app.state::<partyline_desktop::AppState>();
        let (bytes, mime) = rt.block_on(state.photo(photo["id"].as_str().unwrap())).expect("the photo's bytes");
        assert_eq!((bytes.as_slice(), mime), (PNG, "image/png"), "{when}: the photo as the Photos card gets it");
        let library = library_of(t);
        let songs: Vec<&str> = library.as_array().unwrap().iter().filter_map(|item| item["title"].as_str()).collect();
        assert!(songs.contains(&"Our song"), "{when}: the song in the library: {library}");
    };
    t.ok("stop_hosting", json!({}));
    assert_eq!(guest_files(&folder).len(), 2, "a stop keeps them: the party is kept");
    let again = t.ok("start_hosting", json!({}));
    assert_eq!(again["restored"], true, "{again}");
    kept(&t, "after a stop and start");
    drop(t);

    let t = app_launched(temp_settings("uploads-file-2"), launch);
    let later = t.ok("host_info", json!({}));
    assert_eq!((&later["sessionId"], &later["restored"]), (&info["sessionId"], &json!(true)), "the party picked up");
    kept(&t, "after a new launch");

    let fresh = t.ok("new_party", json!({}));
    assert_eq!(fresh.get("restored"), None, "{fresh}");
    assert_eq!(t.ok("photos", json!({})), json!([]), "a new party has no photos");
    assert_eq!(guest_files(&folder), Vec::<String>::new(), "and an empty uploads folder");
    t.ok("stop_hosting", json!({}));
    drop(t);
    let _ = std::fs::remove_dir_all(&data);
}

/// The folder picker is a command the page may call: with the test answer
/// (`PARTYLINE_PICK_FOLDER`) it gives that folder, which `set_media_folder` then shares as a
/// typed one. The page is granted none of the dialog plugin's own commands.
#[test]
fn the_folder_picker_is_a_command_the_page_may_call() {
    let media = MediaFolder::new("picked", "Picked song", 2);
    let launch = LaunchOptions { pick_folder: Some(media.0.clone()), ..loopback() };
    let t = app_launched(temp_settings("picker"), launch);
    let picked = t.ok("pick_media_folder", json!({}));
    assert_eq!(picked, json!(media.path()), "expected the test answer, got {picked}");
    let view = t.ok("set_media_folder", json!({"path": picked}));
    let library = library_of(&t);
    let titles: Vec<&str> = library.as_array().unwrap().iter().filter_map(|i| i["title"].as_str()).collect();
    assert_eq!(titles, ["Picked song"], "expected the picked folder shared, got {view} and {library}");
    let capabilities: Value =
        serde_json::from_str(include_str!("../capabilities/default.json")).expect("the capabilities file is JSON");
    let granted: Vec<&str> = capabilities["permissions"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(!granted.iter().any(|p| p.starts_with("dialog:")), "expected no dialog permission, got {granted:?}");
}
