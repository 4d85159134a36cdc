//! A Partyline host, reached over real WebSockets on loopback, keeps every promise of
//! LOUDSYNC 1.0 to a plain client, resumes an extension client without losing a message, turns
//! bad input into a clear error without losing the connection (or closes it, as documented),
//! and never lets one slow member hold up the others.

use std::time::Duration;

use partyline_server::Limits;
use partyline_support::{Client, Ending, SessionConfig, WAIT, default_host, join_msg, start_host, ws_url};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// join → welcome and member_list to the joiner, member_joined to the others; the 1.0 shapes
/// carry no extension fields.
#[tokio::test]
async fn loudsync_join_flow() {
    let host = default_host().await;
    let (mut a, a_welcome) = Client::join(&host, "dev-a", false).await;
    let a_list = a.recv().await;
    assert_eq!(a_list["type"], "member_list");
    let (mut b, b_welcome) = Client::join(&host, "dev-b", false).await;
    let keys: Vec<&String> = b_welcome.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["clientId", "sessionInfo", "timestamp", "type"]);
    assert_eq!(
        b_welcome["sessionInfo"],
        json!({"id": "party1", "name": "Test Party", "hostId": a_list["members"][0]["id"]})
    );
    let b_list = b.recv().await;
    let ids: Vec<&Value> = b_list["members"].as_array().unwrap().iter().map(|m| &m["id"]).collect();
    assert_eq!(ids, [&a_list["members"][0]["id"], &a_welcome["clientId"], &b_welcome["clientId"]]);
    let joined = a.recv().await;
    assert_eq!(joined["type"], "member_joined");
    assert_eq!(joined["member"]["id"], b_welcome["clientId"]);
    assert_eq!(joined["member"]["connectionStatus"], "connected");
    assert_eq!(joined["member"]["isHost"], false);
}

/// ping → pong with the same timestamp, nothing added for a 1.0 client.
#[tokio::test]
async fn ping_pong() {
    let host = default_host().await;
    let (mut a, _) = Client::join(&host, "dev-a", false).await;
    a.recv().await;
    a.send(json!({"type": "ping", "timestamp": 1706889650000u64})).await;
    assert_eq!(a.recv().await, json!({"type": "pong", "timestamp": 1706889650000u64}));
}

/// The extension pong carries the server's receive and send times in µs, close to our clock.
#[tokio::test]
async fn extension_pong_has_server_times() {
    let host = default_host().await;
    let (mut x, _) = Client::join(&host, "dev-x", true).await;
    x.recv_until("member_list").await;
    let t0 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as f64;
    x.send(json!({"type": "ping", "timestamp": t0 / 1000.0})).await;
    let (pong, _) = x.recv_until("pong").await;
    let received = pong["serverReceiveTime"].as_u64().expect("serverReceiveTime") as f64;
    let sent = pong["serverSendTime"].as_u64().expect("serverSendTime") as f64;
    assert!(sent >= received, "send {sent} before receive {received}");
    assert!((received - t0).abs() < 1_000_000.0, "server time {received} is a second away from ours {t0}");
}

/// leave → close 1000 for the leaver, member_left (left) for the others.
#[tokio::test]
async fn leave_flow() {
    let host = default_host().await;
    let (mut a, _) = Client::join(&host, "dev-a", false).await;
    a.recv().await;
    let (mut b, b_welcome) = Client::join(&host, "dev-b", false).await;
    a.recv_until("member_joined").await;
    b.send(json!({"type": "leave", "timestamp": 1, "reason": "User exited session"})).await;
    assert_eq!(b.ending().await, Ending::Code(1000));
    let left = a.recv().await;
    assert_eq!(left["type"], "member_left");
    assert_eq!(left["memberId"], b_welcome["clientId"]);
    assert_eq!(left["reason"], "left");
}

/// A member that stops heartbeating is closed (4012) and the others get member_left with
/// reason timeout. (The timeout is shortened here; the session tests pin 15 s exactly.)
#[tokio::test]
async fn heartbeat_timeout_flow() {
    let session = SessionConfig { heartbeat_timeout: 300_000, ..SessionConfig::default() };
    let host = start_host(session, Limits::default()).await;
    let (mut a, _) = Client::join(&host, "dev-a", false).await;
    let (mut b, b_welcome) = Client::join(&host, "dev-b", false).await;
    a.recv_until("member_joined").await;
    // a keeps heartbeating; b goes silent.
    let beat = tokio::spawn(async move {
        for _ in 0..8 {
            a.send(json!({"type": "heartbeat", "timestamp": 1})).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        a
    });
    assert_eq!(b.ending().await, Ending::Code(4012));
    let mut a = beat.await.unwrap();
    let left = a.recv().await;
    assert_eq!(
        (left["type"].as_str(), left["memberId"].as_str(), left["reason"].as_str()),
        (Some("member_left"), b_welcome["clientId"].as_str(), Some("timeout"))
    );
}

/// The same device joining again replaces the old connection (already_joined, 4009) and keeps
/// its member id.
#[tokio::test]
async fn already_joined_replaces() {
    let host = default_host().await;
    let (mut old, first) = Client::join(&host, "dev-a", false).await;
    old.recv().await;
    let (_new, second) = Client::join(&host, "dev-a", false).await;
    assert_eq!(first["clientId"], second["clientId"]);
    let error = old.recv().await;
    assert_eq!((error["type"].as_str(), error["code"].as_str()), (Some("error"), Some("already_joined")));
    assert_eq!(old.ending().await, Ending::Code(4009));
}

/// session_full carries maxMembers and currentMembers; session_not_found names the id.
#[tokio::test]
async fn full_and_not_found() {
    let host = start_host(SessionConfig { max_members: 1, ..SessionConfig::default() }, Limits::default()).await;
    let (_a, _) = Client::join(&host, "dev-a", false).await;
    let mut c = Client::connect(&ws_url(&host)).await;
    c.send(join_msg("dev-c", false)).await;
    let error = c.recv().await;
    assert_eq!(error["code"], "session_full");
    assert_eq!(error["details"], json!({"maxMembers": 1, "currentMembers": 1}));
    let mut wrong = join_msg("dev-d", false);
    wrong["sessionId"] = json!("elsewhere");
    c.send(wrong).await;
    let error = c.recv().await;
    assert_eq!(
        (error["code"].as_str(), error["details"]["sessionId"].as_str()),
        (Some("session_not_found"), Some("elsewhere"))
    );
}

/// Malformed JSON, an unknown type, missing fields and a binary frame each get
/// invalid_message, and the connection keeps working.
#[tokio::test]
async fn invalid_messages_keep_the_connection() {
    let host = default_host().await;
    let (mut a, _) = Client::join(&host, "dev-a", false).await;
    a.recv().await;
    for bad in ["{not json", "[]", r#"{"type":"dance","timestamp":1}"#, r#"{"type":"heartbeat"}"#] {
        a.send_text(bad).await;
        let error = a.recv().await;
        assert_eq!(error["code"], "invalid_message", "for {bad}: {error}");
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    use futures_util::SinkExt;
    a.ws.send(tokio_tungstenite::tungstenite::Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(a.recv().await["code"], "invalid_message");
    a.send(json!({"type": "ping", "timestamp": 5})).await;
    assert_eq!(a.recv().await, json!({"type": "pong", "timestamp": 5}));
}

/// A message over 64 KiB gets message_too_large and close 1009.
#[tokio::test]
async fn oversize_message() {
    let host = default_host().await;
    let (mut a, _) = Client::join(&host, "dev-a", true).await;
    a.recv_until("member_list").await;
    let text = format!(r#"{{"type":"chat","timestamp":1,"text":"{}"}}"#, "x".repeat(70 * 1024));
    a.send_text(&text).await;
    let (error, _) = a.recv_until("error").await;
    assert_eq!(error["code"], "message_too_large");
    assert_eq!(error["details"]["maxBytes"], 65536);
    assert_eq!(a.ending().await, Ending::Code(1009));
}

/// A flood gets rate_limited (with retryAfterMs) and the connection stays usable.
#[tokio::test]
async fn flood_is_rate_limited() {
    let host = default_host().await;
    let (mut a, _) = Client::join(&host, "dev-a", false).await;
    a.recv().await;
    for _ in 0..200 {
        a.send(json!({"type": "heartbeat", "timestamp": 1})).await;
    }
    let (error, _) = a.recv_until("error").await;
    assert_eq!(error["code"], "rate_limited");
    assert!(error["details"]["retryAfterMs"].as_u64().is_some(), "{error}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.send(json!({"type": "ping", "timestamp": 9})).await;
    let (pong, _) = a.recv_until("pong").await;
    assert_eq!(pong["timestamp"], 9);
}

/// A member that stops reading is cut off (its queue overflows: close 4008, shown as
/// reconnecting), while another member keeps receiving every message, in order.
#[tokio::test]
async fn stalled_member_is_cut_off() {
    let limits = Limits { burst: 100_000, per_second: 100_000, ..Limits::default() };
    let host = start_host(SessionConfig::default(), limits).await;
    let mut events = host.subscribe();
    // A 1.0 sender: chat goes to extension members only, so it has nothing to read.
    let (mut sender, _) = Client::join(&host, "dev-s", false).await;
    let (mut reader, _) = Client::join(&host, "dev-r", true).await;
    reader.recv_until("member_list").await;
    let mut stalled = Client::connect_small_buffer(&ws_url(&host)).await;
    stalled.send(join_msg("dev-x", true)).await;
    let welcome = stalled.recv().await;
    let stalled_id = welcome["clientId"].as_str().unwrap().to_string();
    const N: usize = 6000;
    let line = "y".repeat(1000);
    let read_all = tokio::spawn(async move {
        let mut next = 0;
        while next < N {
            let (chat, _) = reader.recv_until("chat").await;
            assert_eq!(chat["text"].as_str().unwrap(), format!("{next:04}{}", "y".repeat(996)), "in order");
            next += 1;
        }
        next
    });
    let send_all = tokio::spawn(async move {
        for n in 0..N {
            sender.send(json!({"type": "chat", "timestamp": 1, "text": format!("{n:04}{}", &line[4..])})).await;
            if n % 50 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        sender
    });
    let cut = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Ok(partyline_server::HostEvent::MemberUpdated(m))
                    if m.id == stalled_id
                        && m.connection_status == partyline_protocol::ConnectionStatus::Reconnecting =>
                {
                    return;
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(err) => panic!("{err}"),
            }
        }
    })
    .await;
    assert!(cut.is_ok(), "the stalled member was never cut off");
    let _sender = send_all.await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(60), read_all).await.expect("reader finishes").unwrap();
    assert_eq!(read, N, "the reading member got every message");
    drop(stalled);
}

/// The key is accepted in the query, an Authorization header, or a subprotocol (echoed back);
/// a wrong or missing key gets unauthorized and close 4001.
#[tokio::test]
async fn auth_methods() {
    let host = default_host().await;
    let base = format!("ws://{}/ws", host.local_addr());
    let key = host.join_key().unwrap().to_string();

    let mut query = Client::connect(&format!("{base}?token={key}")).await;
    query.send(join_msg("dev-q", false)).await;
    assert_eq!(query.recv().await["type"], "welcome");

    let request =
        Client::with_header(base.as_str().into_client_request().unwrap(), "authorization", &format!("Bearer {key}"));
    let mut bearer = Client::connect_request(request).await.unwrap();
    bearer.send(join_msg("dev-b", false)).await;
    assert_eq!(bearer.recv().await["type"], "welcome");

    let protocol = format!("access_token.{key}");
    let request =
        Client::with_header(base.as_str().into_client_request().unwrap(), "sec-websocket-protocol", &protocol);
    let mut sub = Client::connect_request(request).await.unwrap();
    assert_eq!(sub.protocol.as_deref(), Some(protocol.as_str()), "the subprotocol is echoed");
    sub.send(join_msg("dev-p", false)).await;
    assert_eq!(sub.recv().await["type"], "welcome");

    for url in [format!("{base}?token=wrong"), base.clone()] {
        let mut refused = Client::connect(&url).await;
        let error = refused.recv().await;
        assert_eq!(error["code"], "unauthorized", "{url}");
        assert_eq!(refused.ending().await, Ending::Code(4001), "{url}");
    }
}

/// A browser page from another origin is refused at the upgrade (403); the host's own page
/// is not.
#[tokio::test]
async fn foreign_origin_refused() {
    let host = default_host().await;
    let url = ws_url(&host);
    let request = Client::with_header(url.as_str().into_client_request().unwrap(), "origin", "http://evil.example");
    match Client::connect_request(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| "a connection")),
    }
    let own = format!("http://{}", host.local_addr());
    let request = Client::with_header(url.as_str().into_client_request().unwrap(), "origin", &own);
    assert!(Client::connect_request(request).await.is_ok());
}

/// A dropped extension member is shown reconnecting, resumes with its secret and last seq,
/// and receives every message it missed, in order, with no gap in the numbers.
#[tokio::test]
async fn resume_after_drop_loses_nothing() {
    let host = default_host().await;
    let (mut x, welcome) = Client::join(&host, "dev-x", true).await;
    let (list, _) = x.recv_until("member_list").await;
    let (mut talker, _) = Client::join(&host, "dev-t", true).await;
    talker.recv_until("member_list").await;
    let (joined, _) = x.recv_until("member_joined").await;
    let last_seq = joined["seq"].as_u64().unwrap();
    // welcome 1, member_list 2, library.update 3, syncplay.state 4, member_joined 5.
    assert_eq!((welcome["seq"].as_u64(), list["seq"].as_u64(), last_seq), (Some(1), Some(2), 5));

    // Cut x's TCP connection without a close frame.
    drop(x);
    let (update, _) = talker.recv_until("member_updated").await;
    assert_eq!(update["member"]["connectionStatus"], "reconnecting");
    for n in 0..5 {
        talker.send(json!({"type": "chat", "timestamp": 1, "text": format!("missed {n}")})).await;
    }
    for _ in 0..5 {
        talker.recv_until("chat").await;
    }

    let mut back = Client::connect(&ws_url(&host)).await;
    back.send(partyline_support::resume_msg(&welcome, &json!(last_seq))).await;
    let resumed = back.recv().await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!((resumed["replayed"].as_u64(), resumed["snapshot"].as_bool()), (Some(5), Some(false)));
    for n in 0..5 {
        let chat = back.recv().await;
        assert_eq!(chat["text"], format!("missed {n}"));
        assert_eq!(chat["seq"].as_u64(), Some(last_seq + 1 + n), "no gap: {chat}");
    }
    let (update, _) = talker.recv_until("member_updated").await;
    assert_eq!(update["member"]["connectionStatus"], "connected");
    assert_eq!(update["member"]["id"], welcome["clientId"]);
}

/// Host actions through the handle: kick (kicked, 4010, member_left kicked), lock (joins
/// refused), rename (session_updated), and shutdown (session_closed, 4011).
#[tokio::test]
async fn host_actions() {
    let host = default_host().await;
    let (mut a, _) = Client::join(&host, "dev-a", true).await;
    a.recv_until("member_list").await;
    let (mut b, b_welcome) = Client::join(&host, "dev-b", false).await;
    b.recv().await;
    a.recv_until("member_joined").await;

    host.kick(b_welcome["clientId"].as_str().unwrap(), "Host removed you from the session").await.unwrap();
    let kicked = b.recv().await;
    assert_eq!(
        kicked,
        json!({"type": "kicked", "timestamp": kicked["timestamp"], "reason": "Host removed you from the session"})
    );
    assert_eq!(b.ending().await, Ending::Code(4010));
    let (left, _) = a.recv_until("member_left").await;
    assert_eq!(left["reason"], "kicked");
    assert!(host.kick("m-nobody", "x").await.is_err());

    host.set_locked(true).await.unwrap();
    let (updated, _) = a.recv_until("session_updated").await;
    assert_eq!(updated["session"]["locked"], true);
    let mut late = Client::connect(&ws_url(&host)).await;
    late.send(join_msg("dev-late", false)).await;
    let error = late.recv().await;
    assert_eq!((error["code"].as_str(), error["details"]["reason"].as_str()), (Some("unauthorized"), Some("locked")));

    host.rename("Rooftop").await.unwrap();
    let (updated, _) = a.recv_until("session_updated").await;
    assert_eq!(updated["session"]["name"], "Rooftop");
    assert_eq!(host.state().name, "Rooftop");

    host.shutdown(Some("Host ended the session")).await;
    let (closed, _) = a.recv_until("session_closed").await;
    assert_eq!(closed["reason"], "Host ended the session");
    assert_eq!(a.ending().await, Ending::Code(4011));
    assert_eq!(late.ending().await, Ending::Code(4011), "a connection that never joined is just closed");
}

/// More connections from one address than the cap are refused with 429.
#[tokio::test]
async fn connections_per_address_capped() {
    let host = start_host(SessionConfig::default(), Limits { max_conns_per_addr: 2, ..Limits::default() }).await;
    let url = ws_url(&host);
    let _one = Client::connect(&url).await;
    let two = Client::connect(&url).await;
    match Client::connect_request(url.as_str().into_client_request().unwrap()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 429),
        other => panic!("expected 429, got {:?}", other.map(|_| "a connection")),
    }
    drop(two);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        Client::connect_request(url.as_str().into_client_request().unwrap()).await.is_ok(),
        "a freed slot is usable"
    );
}

const PIXEL_8: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// Connects with these headers and joins.
async fn join_with(
    host: &partyline_server::ServerHandle,
    headers: &[(&'static str, &str)],
    device: &str,
    ext: bool,
) -> Client {
    let mut request = ws_url(host).as_str().into_client_request().unwrap();
    for (name, value) in headers {
        request = Client::with_header(request, name, value);
    }
    let mut client = Client::connect_request(request).await.expect("WebSocket connects");
    client.send(join_msg(device, ext)).await;
    client
}

/// A 1.0 member as the document describes it: its fields and nothing else (`latency` once
/// measured).
fn assert_loudsync_member(member: &Value) {
    let keys: Vec<&str> = member.as_object().unwrap().keys().map(String::as_str).filter(|k| *k != "latency").collect();
    assert_eq!(keys, ["connectionStatus", "id", "isHost", "joinedAt", "name"], "{member}");
}

/// The device label comes from the upgrade request (User-Agent; the desktop app by its
/// Origin), reaches partyline/1 members and the host, and never a 1.0 member.
#[tokio::test]
async fn device_from_the_upgrade_request() {
    let host = default_host().await;
    let mut x = join_with(&host, &[("user-agent", PIXEL_8)], "dev-x", true).await;
    x.recv_until("member_list").await;
    let mut l = join_with(&host, &[("user-agent", IPHONE)], "dev-l", false).await;
    let (list, _) = l.recv_until("member_list").await;
    for member in list["members"].as_array().unwrap() {
        assert_loudsync_member(member);
    }
    let (joined, _) = x.recv_until("member_joined").await;
    assert_eq!(joined["member"]["device"], "iPhone");
    let desktop = [
        ("origin", "tauri://localhost"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko)"),
    ];
    let mut d = join_with(&host, &desktop, "dev-d", true).await;
    let (list, _) = d.recv_until("member_list").await;
    let devices: Vec<&Value> = list["members"].as_array().unwrap().iter().map(|m| &m["device"]).collect();
    assert_eq!(devices, [&Value::Null, &json!("Android phone"), &json!("iPhone"), &json!("Partyline desktop")]);
    let (joined, _) = l.recv_until("member_joined").await;
    assert_loudsync_member(&joined["member"]);
    let (joined, _) = x.recv_until("member_joined").await;
    assert_eq!(joined["member"]["device"], "Partyline desktop");
    // A tool's User-Agent (tungstenite sends none at all) gets no label.
    let mut t = join_with(&host, &[("user-agent", "curl/8.5.0")], "dev-t", true).await;
    t.recv_until("member_list").await;
    let (joined, _) = x.recv_until("member_joined").await;
    assert!(joined["member"].get("device").is_none(), "{joined}");
    let members = host.members().await.unwrap();
    let devices: Vec<Option<&str>> = members.iter().map(|m| m.device.as_deref()).collect();
    assert_eq!(devices, [None, Some("Android phone"), Some("iPhone"), Some("Partyline desktop"), None]);
}

/// The server measures each member's latency and puts it in member lists.
#[tokio::test]
async fn latency_is_measured() {
    let session = SessionConfig { probe_interval: 200_000, ..SessionConfig::default() };
    let host = start_host(session, Limits::default()).await;
    let (mut x, welcome) = Client::join(&host, "dev-x", true).await;
    let (update, _) = tokio::time::timeout(WAIT, x.recv_until("latency_update")).await.unwrap();
    let id = welcome["clientId"].as_str().unwrap();
    assert!(update["latencies"][id].as_u64().is_some(), "{update}");
    let members = host.members().await.unwrap();
    assert!(members[1].latency.is_some(), "{members:?}");
}

/// The room code is exchanged for the key; a wrong one is 403 (the budget: `hardening_http`).
#[tokio::test]
async fn room_code_exchange() {
    let host = default_host().await;
    let base = format!("http://{}", host.local_addr());
    let get = |path: String| async move {
        let output =
            tokio::process::Command::new("curl").args(["-s", "-w", "\n%{http_code}", &path]).output().await.unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.to_string(), body.to_string())
    };
    let (code, body) = get(format!("{base}/api/join?code=abcde")).await;
    assert_eq!(code, "200");
    assert!(body.contains(&host.join_key().unwrap()), "{body}");
    assert_eq!(get(format!("{base}/api/join?code=WRONG")).await.0, "403");
    let (code, body) = get(format!("{base}/api/info")).await;
    assert_eq!(code, "200");
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((info["sessionId"].as_str(), info["open"].as_bool()), (Some("party1"), Some(false)));
    assert!(!body.contains(&host.join_key().unwrap()), "info never carries the key");
}
