//! Seeds 002 (Together) and 004 (Pavilion) spoken by clients written from those documents
//! alone, in one party with partyline/1 phones and a LOUDSYNC 1.0 client, over real sockets.
//! Every frame a client here sends or expects is the seed's shape (`{op, t, d}`; `{type,
//! payload, timestamp}` with ISO 8601 times), and every bad input gets that format's answer
//! while the connection and the party carry on.

use std::time::Duration;

use partyline_protocol::NotificationLevel;
use partyline_server::{Limits, ServerHandle};
use partyline_support::{Client, Ending, SessionConfig, WAIT, curl, default_host, start_host};
use serde_json::{Value, json};

fn url(host: &ServerHandle, path: &str, query: &str) -> String {
    format!("ws://{}{path}?token={}&{query}", host.local_addr(), host.join_key().unwrap_or_default())
}

fn together_event(t: &'static str) -> impl Fn(&Value) -> bool {
    move |frame| frame["op"] == "DISPATCH" && frame["t"] == t
}

fn pavilion_type(kind: &'static str) -> impl Fn(&Value) -> bool {
    move |frame| frame["type"] == kind
}

fn is_iso(value: &Value) -> bool {
    value.as_str().is_some_and(|text| partyline_protocol::iso::parse_ms(text).is_some())
}

fn now_iso() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    partyline_protocol::iso::format_ms(ms)
}

fn pavilion(kind: &str, payload: Value) -> Value {
    json!({"type": kind, "payload": payload, "timestamp": now_iso()})
}

/// A Together client connects with `?token=` and gets READY: itself, and the party as its one
/// server with the default channel; a wrong token closes with 4001.
#[tokio::test]
async fn together_ready_and_a_wrong_token() {
    let host = default_host().await;
    let mut alice = Client::connect(&url(&host, "/together/ws", "name=alice&device=dev-alice")).await;
    let ready = alice.recv_json_where("READY", together_event("READY")).await;
    let user = &ready["d"]["user"];
    assert_eq!(user["username"], "alice", "{ready}");
    assert_eq!(user["status"], "online");
    assert!(user["email"].is_null() && user["avatar_url"].is_null(), "{ready}");
    assert!(is_iso(&user["created_at"]), "created_at is ISO 8601: {ready}");
    let server = &ready["d"]["servers"][0];
    assert_eq!(server["id"], "party1");
    assert_eq!(server["name"], "Test Party");
    assert_eq!(server["member_count"], 1);
    assert_eq!(server["owner_id"], host.state().host_id);
    assert!(is_iso(&server["created_at"]));
    assert_eq!(server["channels"][0], json!({"id": "general", "name": "General", "type": "text"}));
    let members = host.members().await.unwrap();
    assert!(members.iter().any(|m| m.name == "alice" && m.id == user["id"]), "alice is a member: {members:?}");

    let wrong = format!("ws://{}/together/ws?token=nope", host.local_addr());
    let mut eve = Client::connect(&wrong).await;
    assert_eq!(eve.ending().await, Ending::Code(4001), "a wrong token closes with 4001");
}

/// HEARTBEAT is answered with HEARTBEAT_ACK; a malformed frame and an unknown op close with
/// 4002, and the party carries on for the others.
#[tokio::test]
async fn together_heartbeat_and_bad_frames() {
    let host = default_host().await;
    let mut alice = Client::connect(&url(&host, "/together/ws", "name=alice")).await;
    alice.recv_json_where("READY", together_event("READY")).await;
    alice.send_json(json!({"op": "HEARTBEAT"})).await;
    let ack = alice.recv_json_where("HEARTBEAT_ACK", |f| f["op"] == "HEARTBEAT_ACK").await;
    assert_eq!(ack, json!({"op": "HEARTBEAT_ACK", "t": null, "d": null}));

    for bad in ["{not json", r#"{"op": "IDENTIFY", "d": {}}"#, r#"{"t": "READY"}"#] {
        let mut bob = Client::connect(&url(&host, "/together/ws", "name=bob")).await;
        bob.recv_json_where("READY", together_event("READY")).await;
        bob.send_text(bad).await;
        assert_eq!(bob.ending().await, Ending::Code(4002), "{bad} closes with 4002");
    }
    alice.send_json(json!({"op": "HEARTBEAT"})).await;
    alice.recv_json_where("HEARTBEAT_ACK after the others' mistakes", |f| f["op"] == "HEARTBEAT_ACK").await;
    let names: Vec<String> = host.members().await.unwrap().into_iter().map(|m| m.name).collect();
    assert!(names.contains(&"alice".to_string()), "alice is still in the party: {names:?}");
}

/// A Pavilion client: the server's heartbeat arrives on its schedule, `error` 1002 answers a bad
/// frame without closing, an unknown zone or channel is 1003, a wrong token is `error` 1001
/// and a close.
#[tokio::test]
async fn pavilion_heartbeat_errors_and_a_wrong_token() {
    let config =
        SessionConfig { server_heartbeat_interval: 300 * partyline_session::MILLISECOND, ..Default::default() };
    let host = start_host(config, Limits::default()).await;
    let mut pat = Client::connect(&url(&host, "/pavilion/ws", "name=pat")).await;
    let beat = pat.recv_json_where("heartbeat", pavilion_type("heartbeat")).await;
    assert!(is_iso(&beat["timestamp"]), "{beat}");
    pat.send_json(pavilion("heartbeat_ack", Value::Null)).await;

    for (bad, code) in [
        ("{oops".to_string(), 1002),
        (pavilion("dance", json!({})).to_string(), 1002),
        (json!({"type": "presence", "payload": {"status": "online"}, "timestamp": 1710504000000u64}).to_string(), 1002),
        (pavilion("subscribe", json!({"channel": "zone:elsewhere"})).to_string(), 1003),
        (pavilion("subscribe", json!({"channel": "chat:nowhere"})).to_string(), 1003),
        (pavilion("subscribe", json!({"channel": "galaxy"})).to_string(), 1003),
    ] {
        pat.send_text(&bad).await;
        let error = pat.recv_json_where("error", pavilion_type("error")).await;
        assert_eq!(error["payload"]["code"], code, "{bad} → {error}");
        assert!(error["payload"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{error}");
        assert!(is_iso(&error["timestamp"]), "{error}");
    }
    // Still connected: the next heartbeat comes.
    pat.recv_json_where("heartbeat after the errors", pavilion_type("heartbeat")).await;

    let wrong = format!("ws://{}/pavilion/ws?token=nope", host.local_addr());
    let mut eve = Client::connect(&wrong).await;
    let error = eve.recv_json().await;
    assert_eq!((error["type"].as_str(), error["payload"]["code"].as_u64()), (Some("error"), Some(1001)), "{error}");
    assert!(matches!(eve.ending().await, Ending::Code(_)), "then the socket closes");
}

/// One party, four formats: a phone's chat reaches the Together client as MESSAGE_CREATE and
/// the Pavilion client (subscribed to `chat:general`) as `chat_message`; presence set in
/// Together and in Pavilion reaches the phone and each other; a host announcement reaches the
/// Pavilion client (on `user`) and the phone; the LOUDSYNC client sees the others join as
/// plain members and nothing else.
#[tokio::test]
async fn four_formats_in_one_party() {
    let host = default_host().await;
    let (mut phone, phone_welcome) = Client::join(&host, "phone-1", true).await;
    let phone_id = phone_welcome.client_id.clone();
    let (mut plain, _) = Client::join(&host, "plain-1", false).await;

    let mut pat = Client::connect(&url(&host, "/pavilion/ws", "name=pat&device=pat-1")).await;
    for channel in ["zone:party1", "chat:general", "user"] {
        pat.send_json(pavilion("subscribe", json!({"channel": channel, "parameters": {}}))).await;
    }
    // A subscription has no answer in the seed: a heartbeat_ack round-trip is not one either,
    // so wait until the session has the member, by watching the phone see it join.
    let pat_joined =
        phone.recv_json_where("pat joins", |m| m["type"] == "member_joined" && m["member"]["name"] == "pat").await;
    let pat_id = pat_joined["member"]["id"].as_str().unwrap().to_string();

    let mut alice = Client::connect(&url(&host, "/together/ws", "name=alice&device=alice-1")).await;
    let ready = alice.recv_json_where("READY", together_event("READY")).await;
    let alice_id = ready["d"]["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(ready["d"]["servers"][0]["member_count"], 4, "{ready}");

    // Pavilion sees Together's alice come online on the zone.
    let online = pat
        .recv_json_where("alice online", |f| {
            f["type"] == "status_update" && f["payload"]["userId"] == alice_id.as_str()
        })
        .await;
    assert_eq!(online["payload"]["status"], "online");
    assert!(is_iso(&online["payload"]["lastActive"]), "{online}");

    // A phone's chat line reaches both.
    phone.send_json(json!({"type": "chat", "timestamp": 1, "text": "pizza's here"})).await;
    let created = alice.recv_json_where("MESSAGE_CREATE", together_event("MESSAGE_CREATE")).await;
    let d = &created["d"];
    assert_eq!(
        (d["content"].as_str(), d["author_id"].as_str(), d["channel_id"].as_str()),
        (Some("pizza's here"), Some(phone_id.as_str()), Some("general"))
    );
    assert!(is_iso(&d["created_at"]) && d["updated_at"].is_null(), "{created}");
    let line = pat.recv_json_where("chat_message", pavilion_type("chat_message")).await;
    let p = &line["payload"];
    assert_eq!(
        (p["content"].as_str(), p["roomId"].as_str(), p["sender"]["id"].as_str()),
        (Some("pizza's here"), Some("general"), Some(phone_id.as_str()))
    );
    assert_eq!(p["sender"]["username"], "phone-1 phone");
    assert_eq!(p["id"], d["id"], "one message, one id in every format");

    // Together's idle is the phone's away and Pavilion's away.
    alice.send_json(json!({"op": "PRESENCE_UPDATE", "d": {"status": "idle"}})).await;
    let away = phone
        .recv_json_where("alice away", |m| m["type"] == "presence_update" && m["memberId"] == alice_id.as_str())
        .await;
    assert_eq!(away["status"], "away");
    let away = pat
        .recv_json_where("alice away", |f| f["type"] == "status_update" && f["payload"]["userId"] == alice_id.as_str())
        .await;
    assert_eq!(away["payload"]["status"], "away");
    // Pavilion's busy is Together's dnd.
    pat.send_json(pavilion("presence", json!({"status": "busy"}))).await;
    let dnd =
        alice.recv_json_where("pat dnd", |f| f["t"] == "PRESENCE_UPDATE" && f["d"]["user_id"] == pat_id.as_str()).await;
    assert_eq!(dnd["d"]["status"], "dnd");
    let busy =
        phone.recv_json_where("pat busy", |m| m["type"] == "presence_update" && m["memberId"] == pat_id.as_str()).await;
    assert_eq!(busy["status"], "busy");

    // A host announcement reaches Pavilion's `user` channel and the phone.
    let id = host.notify("Cake in 5", "kitchen", NotificationLevel::Info).await.unwrap();
    let note = pat.recv_json_where("notification", pavilion_type("notification")).await;
    let p = &note["payload"];
    assert_eq!(
        (p["id"].as_str(), p["isRead"].as_bool(), p["sender"]["id"].as_str()),
        (Some(id.as_str()), Some(false), Some(host.state().host_id.as_str()))
    );
    assert!(p["content"].as_str().unwrap().starts_with("Cake in 5"), "{note}");
    assert!(is_iso(&p["createdAt"]));
    phone.recv_json_where("notification", |m| m["type"] == "notification" && m["id"] == id.as_str()).await;
    let mut read = host.subscribe();
    pat.send_json(pavilion("mark_read", json!({"notificationId": id}))).await;
    let event = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(partyline_session::Event::NotificationsRead { member_id, ids, .. }) = read.recv().await {
                return (member_id, ids);
            }
        }
    })
    .await
    .expect("the host hears of the read");
    assert_eq!(event, (pat_id.clone(), vec![id.clone()]));

    // Together leaves: Pavilion and the phone see it go; the plain client saw only LOUDSYNC.
    alice.ws.close(None).await.unwrap();
    pat.recv_json_where("alice offline", |f| {
        f["type"] == "status_update"
            && f["payload"]["userId"] == alice_id.as_str()
            && f["payload"]["status"] == "offline"
    })
    .await;
    phone.recv_json_where("alice left", |m| m["type"] == "member_left" && m["memberId"] == alice_id.as_str()).await;
    let loudsync =
        ["welcome", "member_list", "member_joined", "member_left", "kicked", "session_closed", "pong", "error"];
    let mut seen = Vec::new();
    while let Ok(frame) = tokio::time::timeout(Duration::from_millis(300), plain.recv_json()).await {
        seen.push(frame);
    }
    assert!(seen.iter().all(|m| loudsync.contains(&m["type"].as_str().unwrap_or(""))), "LOUDSYNC only: {seen:?}");
    assert!(seen.iter().any(|m| m["type"] == "member_joined" && m["member"]["name"] == "alice"), "{seen:?}");
    assert!(seen.iter().all(|m| m.get("device").is_none()), "{seen:?}");
}

/// `curl` against a host's REST route with the key as a Bearer token; (status, JSON or Null).
async fn rest(host: &ServerHandle, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, Value) {
    let url = format!("http://{}{path}", host.local_addr());
    let auth = format!("Authorization: Bearer {token}");
    let mut args = vec!["-X", method, "-H", auth.as_str(), "-H", "Content-Type: application/json"];
    if let Some(body) = body {
        args.extend(["--data", body]);
    }
    args.push(url.as_str());
    let (status, bytes) = curl(&args).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Chat through Together's REST routes and the phone's edits: a post by `?device=` is the
/// member's line everywhere; a phone's edit and delete reach the Together client as
/// MESSAGE_UPDATE and MESSAGE_DELETE; the host deletes any line; and every bad call gets its
/// status (401 key, 400 body or device, 403 not yours, 404 unknown) and changes nothing.
#[tokio::test]
async fn together_messages_over_rest_and_edits_from_a_phone() {
    let host = default_host().await;
    let key = host.join_key().unwrap();
    let (mut phone, phone_welcome) = Client::join(&host, "phone-1", true).await;
    let phone_id = phone_welcome.client_id.clone();
    let mut alice = Client::connect(&url(&host, "/together/ws", "name=alice&device=alice-1")).await;
    let ready = alice.recv_json_where("READY", together_event("READY")).await;
    let alice_id = ready["d"]["user"]["id"].as_str().unwrap().to_string();

    // Alice posts over REST: 201 with the seed's message, and the phone hears it from her.
    let (status, posted) =
        rest(&host, "POST", "/channels/general/messages?device=alice-1", &key, Some(r#"{"content": "hi all"}"#)).await;
    assert_eq!(status, 201, "{posted}");
    assert_eq!(
        (posted["author_id"].as_str(), posted["channel_id"].as_str(), posted["content"].as_str()),
        (Some(alice_id.as_str()), Some("general"), Some("hi all"))
    );
    assert!(is_iso(&posted["created_at"]) && posted["updated_at"].is_null(), "{posted}");
    let heard = phone.recv_json_where("alice's line", |m| m["type"] == "chat" && m["text"] == "hi all").await;
    assert_eq!((heard["from"].as_str(), heard["id"].as_str()), (Some(alice_id.as_str()), posted["id"].as_str()));
    let created = alice.recv_json_where("her own MESSAGE_CREATE", together_event("MESSAGE_CREATE")).await;
    assert_eq!(created["d"]["id"], posted["id"]);
    let alice_line = posted["id"].as_str().unwrap().to_string();

    // Alice edits her line over REST: MESSAGE_UPDATE with updated_at set; the phone gets chat.edited.
    let (status, edited) = rest(
        &host,
        "PATCH",
        &format!("/channels/general/messages/{alice_line}?device=alice-1"),
        &key,
        Some(r#"{"content": "hi everyone"}"#),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert!(is_iso(&edited["updated_at"]), "{edited}");
    let update = alice.recv_json_where("MESSAGE_UPDATE", together_event("MESSAGE_UPDATE")).await;
    assert_eq!(
        (update["d"]["content"].as_str(), update["d"]["id"].as_str()),
        (Some("hi everyone"), Some(alice_line.as_str()))
    );
    phone.recv_json_where("chat.edited", |m| m["type"] == "chat.edited" && m["text"] == "hi everyone").await;

    // The phone's own line, edited and deleted on the socket: Together hears both.
    phone.send_json(json!({"type": "chat", "timestamp": 1, "text": "typo hre"})).await;
    let line = alice.recv_json_where("MESSAGE_CREATE", together_event("MESSAGE_CREATE")).await;
    let phone_line = line["d"]["id"].as_str().unwrap().to_string();
    assert_eq!(line["d"]["author_id"], phone_id.as_str());
    phone.send_json(json!({"type": "chat.edit", "timestamp": 1, "id": phone_line, "text": "typo here"})).await;
    let update = alice.recv_json_where("MESSAGE_UPDATE", together_event("MESSAGE_UPDATE")).await;
    assert_eq!(
        (update["d"]["id"].as_str(), update["d"]["content"].as_str()),
        (Some(phone_line.as_str()), Some("typo here"))
    );
    assert!(is_iso(&update["d"]["updated_at"]), "{update}");

    // Bad calls: each its status, nothing changes.
    let other = format!("/channels/general/messages/{phone_line}?device=alice-1");
    for (method, path, token, body, status) in [
        ("POST", "/channels/general/messages?device=alice-1", "wrong", Some(r#"{"content": "x"}"#), 401),
        ("POST", "/channels/general/messages", key.as_str(), Some(r#"{"content": "x"}"#), 400),
        ("POST", "/channels/general/messages?device=alice-1", key.as_str(), Some("{oops"), 400),
        ("POST", "/channels/general/messages?device=alice-1", key.as_str(), Some(r#"{"content": ""}"#), 400),
        ("POST", "/channels/attic/messages?device=alice-1", key.as_str(), Some(r#"{"content": "x"}"#), 404),
        ("POST", "/channels/general/messages?device=nobody", key.as_str(), Some(r#"{"content": "x"}"#), 404),
        ("PATCH", other.as_str(), key.as_str(), Some(r#"{"content": "mine now"}"#), 403),
        ("DELETE", other.as_str(), key.as_str(), None, 403),
        ("DELETE", "/channels/general/messages/c-999?device=alice-1", key.as_str(), None, 404),
    ] {
        let (got, body) = rest(&host, method, path, token, body).await;
        assert_eq!(got, status, "{method} {path} → {got} {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "an error says why: {body}");
    }

    phone.send_json(json!({"type": "chat.delete", "timestamp": 1, "id": phone_line})).await;
    let deleted = alice.recv_json_where("MESSAGE_DELETE", together_event("MESSAGE_DELETE")).await;
    assert_eq!(deleted["d"], json!({"id": phone_line, "channel_id": "general"}));

    // The host deletes Alice's line (moderation): both hear of it.
    host.delete_chat(&alice_line).await.unwrap();
    let deleted = alice.recv_json_where("MESSAGE_DELETE", together_event("MESSAGE_DELETE")).await;
    assert_eq!(deleted["d"]["id"], alice_line.as_str());
    phone.recv_json_where("chat.deleted", |m| m["type"] == "chat.deleted" && m["id"] == alice_line.as_str()).await;
}

/// Voice as seed 002 describes it: `POST /channels/{id}/voice` joins, `PATCH` mutes, `DELETE`
/// leaves, each a VOICE_STATE_UPDATE to all (`channel_id` null on leave, and `voice.state` to a
/// phone); VOICE_SIGNAL reaches a Together member only in the same voice channel, and crosses
/// to and from a partyline/1 member (which has no voice channels) as `voice.signal`.
#[tokio::test]
async fn together_voice_and_signals_crossing_to_a_phone() {
    let host = default_host().await;
    let key = host.join_key().unwrap();
    let (mut phone, phone_welcome) = Client::join(&host, "phone-1", true).await;
    let phone_id = phone_welcome.client_id.clone();
    let mut alice = Client::connect(&url(&host, "/together/ws", "name=alice&device=alice-1")).await;
    let alice_id =
        alice.recv_json_where("READY", together_event("READY")).await["d"]["user"]["id"].as_str().unwrap().to_string();
    let mut bob = Client::connect(&url(&host, "/together/ws", "name=bob&device=bob-1")).await;
    let ready = bob.recv_json_where("READY", together_event("READY")).await;
    let bob_id = ready["d"]["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(ready["d"]["servers"][0]["channels"][1], json!({"id": "voice", "name": "Voice", "type": "voice"}));

    let (status, state) = rest(&host, "POST", "/channels/voice/voice?device=alice-1", &key, None).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state, json!({"user_id": alice_id, "channel_id": "voice", "muted": false, "deafened": false}));
    let update = bob.recv_json_where("VOICE_STATE_UPDATE", together_event("VOICE_STATE_UPDATE")).await;
    assert_eq!(update["d"], state);
    let seen = phone.recv_json_where("voice.state", |m| m["type"] == "voice.state").await;
    assert_eq!((seen["memberId"].as_str(), seen["channel"].as_str()), (Some(alice_id.as_str()), Some("voice")));

    // Bob is not in the channel yet: alice's signal does not reach him.
    let offer = json!({"type": "offer", "sdp": "v=0 alice"});
    alice.send_json(json!({"op": "VOICE_SIGNAL", "d": {"to_user_id": bob_id, "signal": offer}})).await;
    let (status, _) = rest(&host, "POST", "/channels/voice/voice?device=bob-1", &key, Some(r#"{"muted": true}"#)).await;
    assert_eq!(status, 200);
    let joined = bob
        .recv_json_where("his own VOICE_STATE_UPDATE", |f| {
            f["t"] == "VOICE_STATE_UPDATE" && f["d"]["user_id"] == bob_id.as_str()
        })
        .await;
    assert_eq!(
        (joined["d"]["muted"].as_bool(), joined["d"]["channel_id"].as_str()),
        (Some(true), Some("voice")),
        "{joined}"
    );
    alice.send_json(json!({"op": "VOICE_SIGNAL", "d": {"to_user_id": bob_id, "signal": offer}})).await;
    let signal = bob.recv_json_where("VOICE_SIGNAL", together_event("VOICE_SIGNAL")).await;
    assert_eq!(signal["d"], json!({"from_user_id": alice_id, "signal": offer}));

    // Across formats: alice → phone is voice.signal; phone → alice is VOICE_SIGNAL.
    alice.send_json(json!({"op": "VOICE_SIGNAL", "d": {"to_user_id": phone_id, "signal": {"candidate": "c1", "sdpMid": "0", "sdpMLineIndex": 0}}})).await;
    let got = phone.recv_json_where("voice.signal", |m| m["type"] == "voice.signal").await;
    assert_eq!((got["from"].as_str(), got["signal"]["candidate"].as_str()), (Some(alice_id.as_str()), Some("c1")));
    phone.send_json(json!({"type": "voice.signal", "timestamp": 1, "to": alice_id, "signal": {"type": "answer", "sdp": "v=0 phone"}})).await;
    let answer = alice.recv_json_where("VOICE_SIGNAL from the phone", together_event("VOICE_SIGNAL")).await;
    assert_eq!(answer["d"], json!({"from_user_id": phone_id, "signal": {"type": "answer", "sdp": "v=0 phone"}}));

    // Mute, leave, and the refusals.
    let (status, muted) = rest(
        &host,
        "PATCH",
        "/channels/voice/voice?device=alice-1",
        &key,
        Some(r#"{"muted": true, "deafened": true}"#),
    )
    .await;
    assert_eq!(
        (status, muted["muted"].as_bool(), muted["deafened"].as_bool()),
        (200, Some(true), Some(true)),
        "{muted}"
    );
    bob.recv_json_where("alice muted", |f| {
        f["t"] == "VOICE_STATE_UPDATE" && f["d"]["muted"] == true && f["d"]["user_id"] == alice_id.as_str()
    })
    .await;
    let (status, _) = rest(&host, "DELETE", "/channels/voice/voice?device=alice-1", &key, None).await;
    assert_eq!(status, 204);
    let left = bob
        .recv_json_where("alice left voice", |f| {
            f["t"] == "VOICE_STATE_UPDATE" && f["d"]["user_id"] == alice_id.as_str() && f["d"]["channel_id"].is_null()
        })
        .await;
    assert_eq!(left["d"]["channel_id"], Value::Null);
    for (method, path, body, status) in [
        ("POST", "/channels/general/voice?device=alice-1", None, 404),
        ("PATCH", "/channels/voice/voice?device=alice-1", Some(r#"{"muted": false}"#), 409),
        ("DELETE", "/channels/voice/voice?device=alice-1", None, 409),
        ("PATCH", "/channels/voice/voice?device=bob-1", Some(r#"{"muted": "yes"}"#), 400),
        ("POST", "/channels/voice/voice?device=ghost", None, 404),
    ] {
        let (got, body) = rest(&host, method, path, &key, body).await;
        assert_eq!(got, status, "{method} {path} → {got} {body}");
    }
}

/// `?device=` makes a Together client the same member across a broken connection: its place is
/// kept (offline to the others meanwhile) and it comes back with the same id. A client that
/// closes, or named no device, is gone with its connection.
#[tokio::test]
async fn together_reconnect_with_the_same_device_is_the_same_member() {
    let host = default_host().await;
    let (mut phone, _) = Client::join(&host, "phone-1", true).await;
    let mut alice = Client::connect(&url(&host, "/together/ws", "name=alice&device=alice-1")).await;
    let first = alice.recv_json_where("READY", together_event("READY")).await["d"]["user"]["id"].clone();
    drop(alice); // the socket breaks: no close frame
    let away = phone
        .recv_json_where("alice reconnecting", |m| m["type"] == "member_updated" && m["member"]["id"] == first)
        .await;
    assert_eq!(away["member"]["connectionStatus"], "reconnecting");
    let mut again = Client::connect(&url(&host, "/together/ws", "name=alice&device=alice-1")).await;
    let second = again.recv_json_where("READY", together_event("READY")).await["d"]["user"]["id"].clone();
    assert_eq!(second, first, "the same member");
    let back =
        phone.recv_json_where("alice back", |m| m["type"] == "member_updated" && m["member"]["id"] == first).await;
    assert_eq!(back["member"]["connectionStatus"], "connected");

    again.ws.close(None).await.unwrap();
    phone.recv_json_where("alice left", |m| m["type"] == "member_left" && m["memberId"] == first).await;
    let mut anon = Client::connect(&url(&host, "/together/ws", "name=anon")).await;
    let anon_id = anon.recv_json_where("READY", together_event("READY")).await["d"]["user"]["id"].clone();
    drop(anon);
    phone.recv_json_where("anon left", |m| m["type"] == "member_left" && m["memberId"] == anon_id).await;
}

/// Refusals and endings in each format's words: a locked party closes a Together client with
/// 1008 and sends Pavilion's `error` 1004 first; a kick closes with 1008 and the others see the
/// member go; the host stopping closes both with 1001.
#[tokio::test]
async fn locked_kicked_and_closed_in_each_format() {
    let host = default_host().await;
    let (mut phone, _) = Client::join(&host, "phone-1", true).await;
    host.set_locked(true).await.unwrap();
    let mut late = Client::connect(&url(&host, "/together/ws", "name=late")).await;
    assert_eq!(late.ending().await, Ending::Code(1008), "a locked party refuses a Together client");
    let mut late = Client::connect(&url(&host, "/pavilion/ws", "name=late")).await;
    let refused = late.recv_json().await;
    assert_eq!(
        (refused["type"].as_str(), refused["payload"]["code"].as_u64()),
        (Some("error"), Some(1004)),
        "{refused}"
    );
    assert_eq!(late.ending().await, Ending::Code(1008));
    host.set_locked(false).await.unwrap();

    let mut alice = Client::connect(&url(&host, "/together/ws", "name=alice")).await;
    let alice_id =
        alice.recv_json_where("READY", together_event("READY")).await["d"]["user"]["id"].as_str().unwrap().to_string();
    let mut pat = Client::connect(&url(&host, "/pavilion/ws", "name=pat")).await;
    phone.recv_json_where("pat", |m| m["type"] == "member_joined" && m["member"]["name"] == "pat").await;
    host.kick(&alice_id, "bye").await.unwrap();
    assert_eq!(alice.ending().await, Ending::Code(1008), "a kicked Together client");
    let left = phone
        .recv_json_where("alice kicked", |m| m["type"] == "member_left" && m["memberId"] == alice_id.as_str())
        .await;
    assert_eq!(left["reason"], "kicked");
    let mut bob = Client::connect(&url(&host, "/together/ws", "name=bob")).await;
    bob.recv_json_where("READY", together_event("READY")).await;
    host.shutdown(Some("good night")).await;
    assert_eq!(bob.ending().await, Ending::Code(1001), "Together: server going away");
    assert_eq!(pat.ending().await, Ending::Code(1001), "Pavilion too");
}

/// Each format's heartbeat rule, on a host with short timeouts: a Together client that sends
/// HEARTBEAT stays, one that falls silent is closed; a Pavilion client that answers the
/// server's heartbeat stays, a silent one is closed.
#[tokio::test]
async fn silent_clients_are_closed_by_their_formats_rule() {
    use partyline_session::MILLISECOND;
    let config = SessionConfig {
        silence_timeout: 600 * MILLISECOND,
        server_heartbeat_interval: 200 * MILLISECOND,
        ..Default::default()
    };
    let host = start_host(config, Limits::default()).await;
    let mut talker = Client::connect(&url(&host, "/together/ws", "name=talker")).await;
    talker.recv_json_where("READY", together_event("READY")).await;
    let mut quiet = Client::connect(&url(&host, "/together/ws", "name=quiet")).await;
    quiet.recv_json_where("READY", together_event("READY")).await;
    let mut pat = Client::connect(&url(&host, "/pavilion/ws", "name=pat")).await;
    let mut mute = Client::connect(&url(&host, "/pavilion/ws", "name=mute")).await;
    // 1.5 s: more than two silence timeouts. The talkers keep talking.
    let until_when = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < until_when {
        talker.send_json(json!({"op": "HEARTBEAT"})).await;
        talker.recv_json_where("HEARTBEAT_ACK", |f| f["op"] == "HEARTBEAT_ACK").await;
        pat.recv_json_where("heartbeat", pavilion_type("heartbeat")).await;
        pat.send_json(pavilion("heartbeat_ack", Value::Null)).await;
    }
    assert_eq!(quiet.ending().await, Ending::Code(1000), "a silent Together client is closed");
    assert_eq!(mute.ending().await, Ending::Code(1000), "a silent Pavilion client is closed");
    let names: Vec<String> = host.members().await.unwrap().into_iter().map(|m| m.name).collect();
    assert!(names.contains(&"talker".to_string()) && names.contains(&"pat".to_string()), "{names:?}");
    assert!(!names.contains(&"quiet".to_string()) && !names.contains(&"mute".to_string()), "{names:?}");
}

/// A notification's read state is the member's: marked read from Pavilion, it is still read after
/// the client's connection breaks and it comes back with the same `?device=` and subscribes to
/// `user` again (the kept notifications arrive with `isRead`).
#[tokio::test]
async fn pavilion_read_state_survives_a_reconnect() {
    let host = default_host().await;
    let mut pat = Client::connect(&url(&host, "/pavilion/ws", "name=pat&device=pat-1")).await;
    pat.send_json(pavilion("subscribe", json!({"channel": "user"}))).await;
    // The subscription is in once a bad frame sent after it is answered.
    pat.send_json(pavilion("dance", json!({}))).await;
    pat.recv_json_where("error", pavilion_type("error")).await;
    let first = host.notify("Pizza", "", NotificationLevel::Info).await.unwrap();
    let second = host.notify("Cake", "", NotificationLevel::Info).await.unwrap();
    pat.recv_json_where("the first", |f| f["type"] == "notification" && f["payload"]["id"] == first.as_str()).await;
    pat.recv_json_where("the second", |f| f["type"] == "notification" && f["payload"]["id"] == second.as_str()).await;
    pat.send_json(pavilion("mark_read", json!({"notificationId": first}))).await;
    pat.send_json(pavilion("dance", json!({}))).await;
    pat.recv_json_where("error after mark_read", pavilion_type("error")).await;
    let members = host.members().await.unwrap();
    let pat_id = members.iter().find(|m| m.name == "pat").unwrap().id.clone();
    drop(pat);

    let mut back = Client::connect(&url(&host, "/pavilion/ws", "name=pat&device=pat-1")).await;
    back.send_json(pavilion("subscribe", json!({"channel": "user"}))).await;
    let a = back
        .recv_json_where("the first again", |f| f["type"] == "notification" && f["payload"]["id"] == first.as_str())
        .await;
    let b = back
        .recv_json_where("the second again", |f| f["type"] == "notification" && f["payload"]["id"] == second.as_str())
        .await;
    assert_eq!(
        (a["payload"]["isRead"].as_bool(), b["payload"]["isRead"].as_bool()),
        (Some(true), Some(false)),
        "{a} {b}"
    );
    let again = host.members().await.unwrap();
    assert!(again.iter().any(|m| m.id == pat_id), "the same member: {again:?}");
}

/// Pavilion's rate limit: a client over the host's per-connection rate gets `error` 1005 (with
/// the seed's shape), and the connection stays open.
#[tokio::test]
async fn pavilion_rate_limit_is_1005() {
    let limits = Limits { burst: 5, per_second: 2, ..Limits::default() };
    let host = start_host(SessionConfig::default(), limits).await;
    let mut pat = Client::connect(&url(&host, "/pavilion/ws", "name=pat")).await;
    for _ in 0..20 {
        pat.send_json(pavilion("heartbeat_ack", Value::Null)).await;
    }
    let error = pat.recv_json_where("the rate limit", |f| f["type"] == "error" && f["payload"]["code"] == 1005).await;
    assert!(error["payload"]["message"].as_str().is_some_and(|m| m.contains("retry")), "{error}");
    assert!(is_iso(&error["timestamp"]), "{error}");
    let members = host.members().await.unwrap();
    assert!(members.iter().any(|m| m.name == "pat"), "still a member: {members:?}");
}

/// `/api/info` lists each format's WebSocket URL (on the address asked, without the key) and the
/// party's rooms, so a client of any seed can find where to connect.
#[tokio::test]
async fn api_info_lists_every_format_and_the_rooms() {
    let host = default_host().await;
    let (status, body) = curl(&[&format!("http://{}/api/info", host.local_addr())]).await;
    assert_eq!(status, 200);
    let info: Value = serde_json::from_slice(&body).unwrap();
    let addr = host.local_addr();
    for (format, path) in [
        ("partyline", "/ws"),
        ("together", "/together/ws"),
        ("pavilion", "/pavilion/ws"),
        ("rt", "/rt/ws"),
        ("revenge", "/socket"),
    ] {
        assert_eq!(info["endpoints"][format], format!("ws://{addr}{path}"), "{info}");
    }
    assert!(!body.windows(host.join_key().unwrap().len()).any(|w| w == host.join_key().unwrap().as_bytes()), "no key");
    assert_eq!(
        info["rooms"],
        json!([{"id": "general", "name": "General", "kind": "text"}, {"id": "voice", "name": "Voice", "kind": "voice"}])
    );
}

/// Rooms the host adds are every format's: a later Together client's READY lists them, a phone
/// says a line in one (Together's `channel_id` is the room), and a Pavilion client hears a room
/// only on its `chat:{roomId}`; a topic broadcast reaches a Pavilion client on its
/// `channel:{topic}` and the sender's ack counts it.
#[tokio::test]
async fn rooms_and_channels_cross_formats() {
    let host = default_host().await;
    let room = host.add_room("Kitchen talk", partyline_protocol::RoomKind::Text).await.unwrap();
    assert_eq!(room.id, "kitchen-talk");
    let (mut phone, _) = Client::join(&host, "phone-1", true).await;
    let mut alice = Client::connect(&url(&host, "/together/ws", "name=alice")).await;
    let ready = alice.recv_json_where("READY", together_event("READY")).await;
    let channels = &ready["d"]["servers"][0]["channels"];
    assert!(
        channels.as_array().unwrap().iter().any(|c| c["id"] == "kitchen-talk" && c["type"] == "text"),
        "{channels}"
    );
    let mut pat = Client::connect(&url(&host, "/pavilion/ws", "name=pat")).await;
    pat.send_json(pavilion("subscribe", json!({"channel": "chat:kitchen-talk"}))).await;
    pat.send_json(pavilion("subscribe", json!({"channel": "channel:quiz"}))).await;
    pat.send_json(pavilion("dance", json!({}))).await;
    pat.recv_json_where("the subscriptions in", pavilion_type("error")).await;

    phone.send_json(json!({"type": "chat", "timestamp": 1, "text": "in general"})).await;
    phone.send_json(json!({"type": "chat", "timestamp": 1, "text": "in the kitchen", "room": "kitchen-talk"})).await;
    let general = alice.recv_json_where("the general line", together_event("MESSAGE_CREATE")).await;
    assert_eq!(
        (general["d"]["channel_id"].as_str(), general["d"]["content"].as_str()),
        (Some("general"), Some("in general"))
    );
    let kitchen = alice.recv_json_where("the kitchen line", together_event("MESSAGE_CREATE")).await;
    assert_eq!(kitchen["d"]["channel_id"], "kitchen-talk");
    let heard = pat.recv_json_where("a chat_message", pavilion_type("chat_message")).await;
    assert_eq!(
        (heard["payload"]["roomId"].as_str(), heard["payload"]["content"].as_str()),
        (Some("kitchen-talk"), Some("in the kitchen")),
        "only the room it subscribed to: {heard}"
    );

    phone.send_json(json!({"type": "broadcast", "timestamp": 1, "id": "b-1", "topic": "quiz", "payload": {"q": "2+2?"}, "ack": true})).await;
    let cast = pat.recv_json_where("channel_message", pavilion_type("channel_message")).await;
    assert_eq!(
        cast["payload"],
        json!({"channel": "channel:quiz", "id": "b-1", "senderId": cast["payload"]["senderId"], "data": {"q": "2+2?"}})
    );
    let ack = phone.recv_json_where("broadcast_ack", |m| m["type"] == "broadcast_ack").await;
    assert_eq!(ack["recipients"], 1, "the Pavilion subscriber counts: {ack}");
    phone.send_json(json!({"type": "chat", "timestamp": 1, "text": "x", "room": "attic"})).await;
    let refused = phone.recv_json_where("the refusal", |m| m["type"] == "error").await;
    assert_eq!(refused["details"]["reason"], "no_such_room");
}
