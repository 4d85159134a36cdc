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
use tauri::{App, Listener, WebviewWindow, WebviewWindowBuilder};
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
    LaunchOptions { bind: "127.0.0.1".parse().unwrap(), port: 0, mdns: false }
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

fn next_event(events: &mpsc::Receiver<Value>, kind: &str) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let event = events.recv_timeout(left).unwrap_or_else(|_| panic!("no {kind} event"));
        if event["kind"] == kind {
            return event;
        }
    }
}

fn join_key(join_url: &str) -> String {
    join_url.split_once("#k=").expect("a key in the join URL").1.to_string()
}

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
    let members = t.ok("members", json!({}));
    assert_eq!(members.as_array().unwrap().len(), 1, "the host's own member: {members}");
    assert_eq!(members[0]["isHost"], true);
}

#[test]
fn set_capacity_zero_is_the_command_error() {
    let t = app("capacity0");
    assert_eq!(t.err_code("set_capacity", json!({"maxMembers": 0})), "bad_capacity");
    assert_eq!(t.err_code("set_capacity", json!({"maxMembers": 10_001})), "bad_capacity");
    assert_eq!(t.ok("host_info", json!({}))["session"]["maxMembers"], 100, "unchanged");
    let session = t.ok("set_capacity", json!({"maxMembers": 7}));
    assert_eq!(session["maxMembers"], 7);
}

#[test]
fn kick_of_an_unknown_member_is_an_error() {
    let t = app("kick");
    assert_eq!(t.err_code("kick", json!({"memberId": "m-nobody"})), "no_such_member");
}

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

#[test]
fn settings_are_remembered_between_launches() {
    let settings = temp_settings("remember");
    {
        let mut t = app_with(settings.clone());
        t.cleanup = false; // the next launch reads the file
        t.ok("rename", json!({"name": "Garden"}));
        t.ok("set_capacity", json!({"maxMembers": 12}));
        t.ok("set_interface", json!({"interface": "wlan0"}));
    }
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(saved, json!({"partyName": "Garden", "capacity": 12, "interface": "wlan0"}));
    let t = app_with(settings);
    let info = t.ok("host_info", json!({}));
    assert_eq!((info["session"]["name"].clone(), info["session"]["maxMembers"].clone()), (json!("Garden"), json!(12)));
}

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
    assert_eq!(third["generation"], 3);
    assert_ne!(join_key(third["joinUrl"].as_str().unwrap()), join_key(second["joinUrl"].as_str().unwrap()));
    assert_ne!(third["roomCode"], second["roomCode"]);
    assert_eq!(t.ok("host_info", json!({}))["joinUrl"], third["joinUrl"]);
}

#[test]
fn browse_and_addresses_are_stubbed_empty() {
    let t = app("browse");
    assert_eq!(t.ok("browse_sessions", json!({})), json!([]));
    assert_eq!(t.ok("address_candidates", json!({})), json!([]));
}

/// A phone joins over a real WebSocket: the page gets `memberJoined`, `members` lists it, and
/// `kick` removes it (the phone gets `kicked`, the page `memberLeft` with reason `kicked`).
#[test]
fn a_member_joins_is_listed_and_kicked() {
    let t = app("member");
    let events = t.events();
    let info = t.ok("host_info", json!({}));
    let url = format!("{}?token={}", info["wsUrl"].as_str().unwrap(), join_key(info["joinUrl"].as_str().unwrap()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut ws, _) = rt.block_on(tokio_tungstenite::connect_async(url)).unwrap();
    let join = json!({
        "type": "join", "timestamp": 1, "sessionId": info["sessionId"], "protocolVersion": "partyline/1",
        "deviceInfo": {"id": "dev-1", "name": "Sara's phone", "type": "client"},
    });
    rt.block_on(ws.send(Message::text(join.to_string()))).unwrap();

    let joined = next_event(&events, "memberJoined");
    assert_eq!(joined["generation"], 1);
    assert_eq!(joined["member"]["name"], "Sara's phone");
    let id = joined["member"]["id"].as_str().unwrap().to_string();
    let members = t.ok("members", json!({}));
    assert!(members.as_array().unwrap().iter().any(|m| m["id"] == id.as_str()), "{members}");
    assert_eq!(t.ok("host_info", json!({}))["session"]["memberCount"], 1);

    let kicked = t.ok("kick", json!({"memberId": id}));
    assert_eq!(kicked["name"], "Sara's phone");
    let left = next_event(&events, "memberLeft");
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
