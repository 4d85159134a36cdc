//! Seed 001 (the Real-time Communication Service) spoken by a client written from that document
//! alone, at `/rt/ws`, in one party with partyline/1 phones and a LOUDSYNC 1.0 client: its
//! welcome, Ping/Pong both ways, wildcard subscriptions that take a phone's topic broadcasts
//! (and the Ack counts them), direct messages acknowledged or queued for a member that is
//! reconnecting, announcements (with the host's actions) and presence, binary frames
//! (`[type][length][payload]`, each acknowledged with the payload's sha256, a bad one refused
//! with 400 and nothing else), metadata the host cannot honour refused, and errors in the
//! seed's codes. Real sockets.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use partyline_protocol::{NotificationAction, NotificationLevel};
use partyline_server::{Limits, ServerHandle};
use partyline_support::{Client, Ending, SessionConfig, WAIT, default_host, jpeg, start_host, wav};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn url(host: &ServerHandle, query: &str) -> String {
    format!("ws://{}/rt/ws?token={}&{query}", host.local_addr(), host.join_key().unwrap_or_default())
}

fn kind(kind: &'static str) -> impl Fn(&Value) -> bool {
    move |frame| frame["type"] == kind
}

/// Connects and returns the client with its connection id (its member id), from the welcome.
async fn connect(host: &ServerHandle, query: &str) -> (Client, String) {
    let mut client = Client::connect(&url(host, query)).await;
    let welcome = client.recv_json_where("the welcome", kind("Status")).await;
    assert_eq!(welcome["data"]["status"], "connected", "{welcome}");
    let details = &welcome["data"]["details"];
    assert_eq!(details["protocol_version"], "1.0");
    assert!(details["server_time"].as_u64().is_some(), "{welcome}");
    let features: Vec<&str> = details["features"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for feature in ["broadcast", "direct_message", "presence", "history", "binary", "file_transfer"] {
        assert!(features.contains(&feature), "{feature} missing from {features:?}");
    }
    (client, details["connection_id"].as_str().unwrap().to_string())
}

/// The welcome; Ping answered with the same timestamp; a wildcard subscription answered with
/// `Status` `subscribed`, taking a phone's broadcast on a topic under it, and the sender's `Ack`
/// counting it; its own Broadcast reaching a phone subscribed to the topic.
#[tokio::test]
async fn welcome_ping_wildcards_and_broadcast_acks() {
    let host = default_host().await;
    let (mut phone, _) = Client::join(&host, "phone-1", true).await;
    let (mut rt, rt_id) = connect(&host, "name=rita&device=rita-1").await;
    let members = host.members().await.unwrap();
    assert!(members.iter().any(|m| m.id == rt_id && m.name == "rita"), "{members:?}");

    rt.send_json(json!({"type": "Ping", "data": {"timestamp": 1234567890}})).await;
    let pong = rt.recv_json_where("Pong", kind("Pong")).await;
    assert_eq!(pong, json!({"type": "Pong", "data": {"timestamp": 1234567890}}));

    rt.send_json(json!({"type": "Subscribe", "data": {"topics": ["notifications", "updates.*"]}})).await;
    let subscribed = rt.recv_json_where("subscribed", kind("Status")).await;
    assert_eq!(
        subscribed["data"],
        json!({"status": "subscribed", "details": {"topics": ["notifications", "updates.*"], "active_subscriptions": 2}})
    );

    phone.send_json(json!({"type": "broadcast", "timestamp": 1, "id": "b-1", "topic": "updates.score", "payload": {"home": 2}, "ack": true})).await;
    let got = rt.recv_json_where("the broadcast", kind("Broadcast")).await;
    assert_eq!(
        (got["data"]["topic"].as_str(), got["data"]["payload"]["home"].as_u64()),
        (Some("updates.score"), Some(2))
    );
    assert_eq!(got["data"]["metadata"]["message_id"], "b-1");
    assert!(got["data"]["metadata"]["sent_at"].as_u64().is_some(), "{got}");
    let ack = phone.recv_json_where("broadcast_ack", |m| m["type"] == "broadcast_ack").await;
    assert_eq!(ack["recipients"], 1, "the wildcard subscriber counts: {ack}");
    phone
        .send_json(
            json!({"type": "broadcast", "timestamp": 1, "id": "b-2", "topic": "updates", "payload": {}, "ack": true}),
        )
        .await;
    let ack = phone.recv_json_where("broadcast_ack", |m| m["type"] == "broadcast_ack").await;
    assert_eq!(ack["recipients"], 0, "updates.* does not take updates itself: {ack}");

    phone.send_json(json!({"type": "subscribe", "timestamp": 1, "topics": ["chat.general"]})).await;
    phone.recv_json_where("subscriptions", |m| m["type"] == "subscriptions").await;
    rt.send_json(json!({"type": "Broadcast", "data": {"topic": "chat.general", "payload": {"message": "Hello everyone!"}}, "id": "msg_1"})).await;
    let ack = rt.recv_json_where("Ack", kind("Ack")).await;
    assert_eq!(ack["data"], json!({"message_id": "msg_1", "status": "delivered", "recipients": 1}));
    let heard = phone.recv_json_where("the broadcast", |m| m["type"] == "broadcast").await;
    assert_eq!(
        (heard["from"].as_str(), heard["payload"]["message"].as_str()),
        (Some(rt_id.as_str()), Some("Hello everyone!"))
    );

    rt.send_json(json!({"type": "Unsubscribe", "data": {"topics": ["updates.*"]}})).await;
    let left = rt.recv_json_where("unsubscribed", kind("Status")).await;
    assert_eq!(left["data"]["details"]["active_subscriptions"], 1);
}

/// A direct message to a connected member is `Ack`ed with `delivered_to`; to one that is
/// reconnecting it is `Error` 404 with `queued: true`, and it arrives when that member is back
/// (a phone on resume; a seed-001 client connecting again with its device).
#[tokio::test]
async fn direct_messages_acked_or_queued() {
    let host = default_host().await;
    let (mut phone, welcome) = Client::join(&host, "phone-1", true).await;
    let phone_id = welcome.client_id.clone();
    let (mut rt, rt_id) = connect(&host, "name=rita&device=rita-1").await;
    rt.send_json(json!({"type": "DirectMessage", "data": {"target_user": phone_id, "payload": {"message": "Private message"}}, "id": "dm_1"})).await;
    let ack = rt.recv_json_where("Ack", kind("Ack")).await;
    assert_eq!(ack["data"], json!({"message_id": "dm_1", "status": "delivered", "delivered_to": [phone_id]}));
    let dm = phone.recv_json_where("direct", |m| m["type"] == "direct").await;
    assert_eq!(
        (dm["from"].as_str(), dm["payload"]["message"].as_str()),
        (Some(rt_id.as_str()), Some("Private message"))
    );

    // The phone answers; then rita's connection breaks and a second phone writes to her.
    phone
        .send_json(
            json!({"type": "direct", "timestamp": 1, "to": rt_id, "id": "d-1", "payload": {"message": "hi back"}}),
        )
        .await;
    let back = rt.recv_json_where("DirectMessage", kind("DirectMessage")).await;
    assert_eq!(
        (back["data"]["from_user"].as_str(), back["data"]["metadata"]["message_id"].as_str()),
        (Some(phone_id.as_str()), Some("d-1"))
    );
    drop(rt);
    phone
        .recv_json_where("rita reconnecting", |m| {
            m["type"] == "member_updated" && m["member"]["connectionStatus"] == "reconnecting"
        })
        .await;
    phone.send_json(json!({"type": "direct", "timestamp": 1, "to": rt_id, "id": "d-2", "payload": {"message": "are you there?"}})).await;
    let ack = phone.recv_json_where("direct_ack", |m| m["type"] == "direct_ack").await;
    assert_eq!((ack["queued"].as_bool(), ack["to"].as_str()), (Some(true), Some(rt_id.as_str())), "{ack}");
    let (mut rt, again) = connect(&host, "name=rita&device=rita-1").await;
    assert_eq!(again, rt_id, "the same member");
    let waited = rt.recv_json_where("the queued message", kind("DirectMessage")).await;
    assert_eq!(waited["data"]["payload"]["message"], "are you there?");

    // Now rita writes to a second phone whose connection broke: Error 404, queued.
    let (phone2, welcome2) = Client::join(&host, "phone-2", true).await;
    let phone2_id = welcome2.client_id.clone();
    drop(phone2);
    phone
        .recv_json_where("phone-2 reconnecting", |m| {
            m["type"] == "member_updated" && m["member"]["id"] == phone2_id.as_str()
        })
        .await;
    rt.send_json(
        json!({"type": "DirectMessage", "data": {"target_user": phone2_id, "payload": {"n": 1}}, "id": "dm_2"}),
    )
    .await;
    let queued = rt.recv_json_where("Error 404", kind("Error")).await;
    assert_eq!(queued["data"]["code"], 404);
    assert_eq!(queued["data"]["details"], json!({"message_id": "dm_2", "queued": true}));
    rt.send_json(json!({"type": "DirectMessage", "data": {"target_user": "m-nobody", "payload": {}}, "id": "dm_3"}))
        .await;
    let unknown = rt.recv_json_where("Error 404", kind("Error")).await;
    assert_eq!(unknown["data"]["code"], 404, "{unknown}");
    assert!(unknown["data"]["details"].get("queued").is_none(), "an unknown member is not queued for: {unknown}");
}

/// Host announcements are `Notification`s, presence changes `Presence`; the server's own `Ping`
/// arrives and a `Pong` keeps the client in; bad frames are `Error` 400, the rate limit 429 with
/// the delay in its details, and the connection stays; the key can come as a Bearer header or
/// an `access_token.` subprotocol, and a wrong one is `Error` 401 and a close.
#[tokio::test]
async fn notifications_presence_pings_errors_and_tokens() {
    use partyline_session::MILLISECOND;
    let config = SessionConfig { server_heartbeat_interval: 200 * MILLISECOND, ..Default::default() };
    let host = start_host(config, Limits { burst: 8, per_second: 4, ..Limits::default() }).await;
    let (mut phone, welcome) = Client::join(&host, "phone-1", true).await;
    let phone_id = welcome.client_id.clone();
    let (mut rt, _) = connect(&host, "name=rita").await;

    host.notify("Maintenance Notice", "Cake in the kitchen", NotificationLevel::Warning).await.unwrap();
    let note = rt.recv_json_where("Notification", kind("Notification")).await;
    assert_eq!(
        note["data"],
        json!({"level": "warning", "title": "Maintenance Notice", "message": "Cake in the kitchen", "actions": []})
    );
    let learn = NotificationAction { label: "Learn More".into(), url: "https://status.example.com".into() };
    host.notify_with_actions("Maintenance Notice", "", NotificationLevel::Info, vec![learn]).await.unwrap();
    let note = rt.recv_json_where("Notification", kind("Notification")).await;
    assert_eq!(note["data"]["actions"], json!([{"label": "Learn More", "url": "https://status.example.com"}]));
    let bad = NotificationAction { label: "Run".into(), url: "javascript:alert(1)".into() };
    assert!(host.notify_with_actions("x", "", NotificationLevel::Info, vec![bad]).await.is_err());
    phone.send_json(json!({"type": "presence", "timestamp": 1, "status": "away"})).await;
    let presence =
        rt.recv_json_where("Presence", |f| f["type"] == "Presence" && f["data"]["user_id"] == phone_id.as_str()).await;
    assert_eq!(presence["data"]["status"], "away");
    assert!(presence["data"]["last_seen"].as_u64().is_some(), "{presence}");

    let ping = rt.recv_json_where("the server's Ping", kind("Ping")).await;
    rt.send_json(json!({"type": "Pong", "data": {"timestamp": ping["data"]["timestamp"]}})).await;

    for bad in ["{", r#"{"type": "Teleport", "data": {}}"#, r#"{"type": "Subscribe", "data": {"topics": ["No Caps"]}}"#]
    {
        rt.send_text(bad).await;
        let error = rt.recv_json_where("Error", kind("Error")).await;
        assert_eq!(error["data"]["code"], 400, "{bad} → {error}");
        assert!(error["data"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await; // refill the bucket
    for _ in 0..30 {
        rt.send_json(json!({"type": "Pong", "data": {}})).await;
    }
    let limited = rt.recv_json_where("Error 429", |f| f["type"] == "Error" && f["data"]["code"] == 429).await;
    assert!(limited["data"]["details"]["retry_after_ms"].as_u64().is_some(), "{limited}");

    let addr = host.local_addr();
    let key = host.join_key().unwrap();
    let mut request = format!("ws://{addr}/rt/ws").into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
    let mut bearer = Client::connect_request(request).await.unwrap();
    bearer.recv_json_where("the welcome", kind("Status")).await;
    let mut request = format!("ws://{addr}/rt/ws").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", format!("access_token.{key}").parse().unwrap());
    let mut sub = Client::connect_request(request).await.unwrap();
    assert_eq!(sub.protocol.as_deref(), Some(format!("access_token.{key}").as_str()), "the subprotocol is echoed");
    sub.recv_json_where("the welcome", kind("Status")).await;
    let mut wrong = Client::connect(&format!("ws://{addr}/rt/ws?token=nope")).await;
    let error = wrong.recv_json().await;
    assert_eq!((error["type"].as_str(), error["data"]["code"].as_u64()), (Some("Error"), Some(401)), "{error}");
    assert!(matches!(wrong.ending().await, Ending::Code(_)));
}

/// A late joiner asks for a topic's history and gets its newest broadcasts, oldest first, in
/// `Broadcast`'s shape; an unknown topic's history is empty.
#[tokio::test]
async fn a_late_joiner_gets_a_topics_history() {
    let host = default_host().await;
    let (mut phone, _) = Client::join(&host, "phone-1", true).await;
    for n in 1..=3 {
        phone.send_json(json!({"type": "broadcast", "timestamp": 1, "id": format!("b-{n}"), "topic": "quiz.q1", "payload": {"n": n}, "ack": true})).await;
        phone.recv_json_where("broadcast_ack", |m| m["type"] == "broadcast_ack").await;
    }
    let (mut rt, _) = connect(&host, "name=late").await;
    rt.send_json(json!({"type": "History", "data": {"topic": "quiz.q1", "limit": 2}, "id": "h-1"})).await;
    let history = rt.recv_json_where("History", |f| f["type"] == "History").await;
    let ns: Vec<u64> =
        history["data"]["messages"].as_array().unwrap().iter().map(|m| m["payload"]["n"].as_u64().unwrap()).collect();
    assert_eq!((history["data"]["topic"].as_str(), ns), (Some("quiz.q1"), vec![2, 3]), "{history}");
    assert_eq!(history["data"]["messages"][1]["metadata"]["message_id"], "b-3");
    rt.send_json(json!({"type": "History", "data": {"topic": "nothing.here"}})).await;
    let empty = rt.recv_json_where("History", |f| f["type"] == "History").await;
    assert_eq!(empty["data"]["messages"], json!([]));
}

/// `X-` custom types are relayed to the party's other seed-001 clients as they came, and to a
/// phone subscribed to the type's topic (`x-customaction`) as a `broadcast`; a custom type that
/// cannot be a topic is `Error` 400.
#[tokio::test]
async fn custom_types_are_relayed() {
    let host = default_host().await;
    let (mut phone, _) = Client::join(&host, "phone-1", true).await;
    phone.send_json(json!({"type": "subscribe", "timestamp": 1, "topics": ["x-customaction"]})).await;
    phone.recv_json_where("subscriptions", |m| m["type"] == "subscriptions").await;
    let (mut a, a_id) = connect(&host, "name=a").await;
    let (mut b, _) = connect(&host, "name=b").await;
    a.send_json(json!({"type": "X-CustomAction", "data": {"action": "special_operation", "parameters": {}}})).await;
    let relayed = b.recv_json_where("the custom message", |f| f["type"] == "X-CustomAction").await;
    assert_eq!(relayed["data"], json!({"action": "special_operation", "parameters": {}}));
    assert_eq!(relayed["metadata"]["from_user"], a_id.as_str());
    let cast = phone.recv_json_where("the broadcast", |m| m["type"] == "broadcast").await;
    assert_eq!(
        (cast["topic"].as_str(), cast["payload"]["action"].as_str()),
        (Some("x-customaction"), Some("special_operation"))
    );
    a.send_json(json!({"type": "X-Bad Type", "data": {}})).await;
    let error = a.recv_json_where("Error", |f| f["type"] == "Error").await;
    assert_eq!(error["data"]["code"], 400, "{error}");
}

/// A seed-001 binary frame: `[1 byte type][4 bytes length, big-endian][payload]`.
fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![kind];
    bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// `[1 byte length][address][data]`: a 0x01/0x04 frame's topic, a 0x02 frame's target.
fn addressed(address: &str, data: &[u8]) -> Vec<u8> {
    [&[address.len() as u8][..], address.as_bytes(), data].concat()
}

/// `sha256:` and the hex digest, computed here, apart from the host's code.
fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// What arrives on a seed-001 connection: JSON text or a binary frame.
#[derive(Debug, PartialEq)]
enum Got {
    Json(Value),
    Bytes(Vec<u8>),
}

async fn send_binary(client: &mut Client, bytes: Vec<u8>) {
    client.ws.send(Message::binary(bytes)).await.expect("send");
}

async fn next(client: &mut Client) -> Got {
    loop {
        let frame = tokio::time::timeout(WAIT, client.ws.next()).await.expect("a frame within the time limit");
        match frame {
            Some(Ok(Message::Text(text))) => return Got::Json(serde_json::from_str(text.as_str()).unwrap()),
            Some(Ok(Message::Binary(bytes))) => return Got::Bytes(bytes.to_vec()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

/// The next binary frame; text frames before it (the server's Ping, presence) are skipped.
async fn recv_binary(client: &mut Client, what: &str) -> Vec<u8> {
    let mut seen = Vec::new();
    loop {
        match next(client).await {
            Got::Bytes(bytes) => return bytes,
            Got::Json(json) if json["type"] == "Error" => panic!("expected {what}, got {json} after {seen:?}"),
            Got::Json(json) => seen.push(json),
        }
    }
}

/// The next `Status` `binary_received` (or `Error`), failing on a binary frame.
async fn recv_answer(client: &mut Client) -> Value {
    loop {
        match next(client).await {
            Got::Json(json) if json["type"] == "Error" || json["data"]["status"] == "binary_received" => return json,
            Got::Json(_) => continue,
            Got::Bytes(bytes) => panic!("expected an answer, got a binary frame {bytes:?}"),
        }
    }
}

/// A round trip: every frame sent to `client` before this one has arrived when it returns.
async fn settled(client: &mut Client) -> Vec<Got> {
    client.send_json(json!({"type": "Ping", "data": {"timestamp": 42}})).await;
    let mut seen = Vec::new();
    loop {
        match next(client).await {
            Got::Json(json) if json["type"] == "Pong" && json["data"]["timestamp"] == 42 => return seen,
            other => seen.push(other),
        }
    }
}

/// Binary broadcasts (0x01) and stream data (0x04) reach, byte for byte, the seed-001 members
/// whose subscriptions take the topic; a binary direct message (0x02) reaches its target as
/// `[sender][data]`; each is acknowledged with `binary_received`, its size, type and the
/// payload's sha256. A phone subscribed to the topic gets none of it (no binary frames in its
/// format), and a 0x02 to the phone is 404.
#[tokio::test]
async fn binary_frames_are_acknowledged_and_relayed() {
    let host = default_host().await;
    let (mut phone, phone_welcome) = Client::join_in(&host, "phone-1", true).await;
    phone.send_json(json!({"type": "subscribe", "timestamp": 1, "topics": ["updates.score"]})).await;
    phone.recv_json_where("subscriptions", |m| m["type"] == "subscriptions").await;
    let (mut sam, sam_id) = connect(&host, "name=sam&device=sam-1").await;
    let (mut rita, rita_id) = connect(&host, "name=rita&device=rita-1").await;
    rita.send_json(json!({"type": "Subscribe", "data": {"topics": ["updates.*"]}})).await;
    rita.recv_json_where("subscribed", kind("Status")).await;

    for (kind_byte, name) in [(0x01, "broadcast"), (0x04, "stream_data")] {
        let payload = addressed("updates.score", &[0x00, 0x9f, 0xff, b'!']);
        send_binary(&mut sam, frame(kind_byte, &payload)).await;
        let ack = recv_answer(&mut sam).await;
        assert_eq!(
            ack,
            json!({"type": "Status", "data": {"status": "binary_received", "details": {
                "size": payload.len(), "type": name, "checksum": sha256(&payload), "recipients": 1}}}),
            "{name}"
        );
        assert_eq!(recv_binary(&mut rita, name).await, frame(kind_byte, &payload), "{name}: the frame as it came");
    }

    let data = b"\x01\x02secret\xfe";
    send_binary(&mut sam, frame(0x02, &addressed(&rita_id, data))).await;
    let ack = recv_answer(&mut sam).await;
    let details = &ack["data"]["details"];
    assert_eq!(
        (&details["type"], &details["checksum"], &details["delivered_to"]),
        (&json!("direct_message"), &json!(sha256(&addressed(&rita_id, data))), &json!([rita_id])),
        "{ack}"
    );
    assert_eq!(recv_binary(&mut rita, "the direct message").await, frame(0x02, &addressed(&sam_id, data)));

    send_binary(&mut sam, frame(0x02, &addressed(&phone_welcome.client_id, b"hi"))).await;
    let refused = recv_answer(&mut sam).await;
    assert_eq!((refused["type"].as_str(), refused["data"]["code"].as_u64()), (Some("Error"), Some(404)), "{refused}");
    // The phone read only text all along (its reader fails on a binary frame).
    phone.send(partyline_support::ping_msg(7)).await;
    phone.recv_json_where("pong", |m| m["type"] == "pong").await;
}

/// A short frame, a wrong length, an unknown type, a topic that is no topic: each is `Error`
/// 400, the connection stays, and nothing reaches anyone; a frame over 64 KiB is 400 and close
/// 1009, as text is. Binary frames on partyline/1's `/ws` are still refused.
#[tokio::test]
async fn bad_binary_frames_get_400_and_nothing_else() {
    let host = default_host().await;
    let (mut sam, _) = connect(&host, "name=sam").await;
    let (mut rita, _) = connect(&host, "name=rita").await;
    rita.send_json(json!({"type": "Subscribe", "data": {"topics": ["*"]}})).await;
    rita.recv_json_where("subscribed", kind("Status")).await;
    for (what, bytes) in [
        ("short", vec![0x01, 0, 0]),
        ("length too long", [&[0x01, 0, 0, 0, 9][..], &addressed("a", b"x")].concat()),
        ("length too short", [&[0x01, 0, 0, 0, 1][..], &addressed("a", b"xyz")].concat()),
        ("unknown type", frame(0x07, &addressed("a", b"x"))),
        ("type zero", frame(0x00, b"")),
        ("topic past the end", frame(0x01, &[40, b'a'])),
        ("no topic", frame(0x04, b"")),
        ("not a topic", frame(0x01, &addressed("Not Topic", b"x"))),
    ] {
        send_binary(&mut sam, bytes).await;
        let error = recv_answer(&mut sam).await;
        assert_eq!(
            (error["type"].as_str(), error["data"]["code"].as_u64()),
            (Some("Error"), Some(400)),
            "{what}: {error}"
        );
        assert!(error["data"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {error}");
    }
    assert!(settled(&mut sam).await.is_empty(), "one answer each, nothing more");
    let heard: Vec<Got> = settled(&mut rita).await.into_iter().filter(|got| matches!(got, Got::Bytes(_))).collect();
    assert!(heard.is_empty(), "nothing was relayed: {heard:?}");

    let (mut phone, _) = Client::join_in(&host, "phone-1", true).await;
    phone.ws.send(Message::binary(frame(0x01, &addressed("a", b"x")))).await.unwrap();
    let refused = phone.recv_json_where("error", |m| m["type"] == "error").await;
    assert_eq!(refused["code"], "invalid_message", "{refused}");

    send_binary(&mut sam, frame(0x03, &vec![0; 64 * 1024])).await;
    let error = recv_answer(&mut sam).await;
    assert_eq!(error["data"]["code"], 400, "{error}");
    assert_eq!(sam.ending().await, Ending::Code(1009));
}

/// `metadata` the host cannot honour (an encryption, a compression) is `Error` 400 saying so,
/// and the broadcast goes nowhere; a `priority` and a `ttl` are taken.
#[tokio::test]
async fn metadata_it_cannot_honour_is_refused() {
    let host = default_host().await;
    let (mut phone, _) = Client::join_in(&host, "phone-1", true).await;
    phone.send_json(json!({"type": "subscribe", "timestamp": 1, "topics": ["chat.general"]})).await;
    phone.recv_json_where("subscriptions", |m| m["type"] == "subscriptions").await;
    let (mut rt, _) = connect(&host, "name=rita").await;
    for metadata in [json!({"encryption": "aes256"}), json!({"compression": "gzip"}), json!({"priority": "urgent"})] {
        let cast = json!({"type": "Broadcast", "data": {"topic": "chat.general", "payload": {"n": 0}}, "id": "b-0", "metadata": metadata});
        rt.send_json(cast).await;
        let error = rt.recv_json_where("Error", kind("Error")).await;
        assert_eq!(error["data"]["code"], 400, "{metadata}: {error}");
    }
    let good = json!({"type": "Broadcast", "data": {"topic": "chat.general", "payload": {"n": 1}}, "id": "b-1",
                      "metadata": {"priority": "high", "ttl": 3600, "encryption": "none"}});
    rt.send_json(good).await;
    let ack = rt.recv_json_where("Ack", kind("Ack")).await;
    assert_eq!(ack["data"]["recipients"], 1, "{ack}");
    let got = phone.recv_json_where("the broadcast", |m| m["type"] == "broadcast").await;
    assert_eq!(got["payload"]["n"], 1, "the refused ones went nowhere: {got}");
}

/// The issue's "Done when" in one party: a seed-001 client, a phone-like partyline/1 client and
/// a LOUDSYNC 1.0 client. The seed-001 client's wildcard subscription takes the phone's topic
/// broadcast and the phone's ack counts it (the 1.0 client is not counted); its Broadcast with an
/// `id` is acked with the count; its direct message to the phone is acked with `delivered_to`, to
/// the 1.0 client it is 404; a direct message to it while it is reconnecting is queued and
/// arrives when it connects again; a binary broadcast and a binary file are acknowledged with
/// the payload's sha256 (the file kept, and shown to the phone);
/// the host's notification reaches it with its actions and the phone too; the phone's presence
/// reaches it. The 1.0 client sees the seed-001 member come and go as LOUDSYNC says, and no
/// message of another kind.
#[tokio::test]
async fn seed_001_flows_in_a_party_with_a_phone_and_a_loudsync_client() {
    let host = default_host().await;
    let (mut legacy, _) = Client::join_in(&host, "legacy-1", false).await;
    let (mut phone, phone_welcome) = Client::join_in(&host, "phone-1", true).await;
    let phone_id = phone_welcome.client_id.clone();
    let (mut rita, rita_id) = connect(&host, "name=rita&device=rita-1").await;
    let legacy_id = host
        .members()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.name != "rita" && m.id != phone_id && !m.is_host)
        .unwrap()
        .id;

    rita.send_json(json!({"type": "Subscribe", "data": {"topics": ["updates.*"]}})).await;
    rita.recv_json_where("subscribed", kind("Status")).await;
    phone.send_json(json!({"type": "broadcast", "timestamp": 1, "id": "b-1", "topic": "updates.score", "payload": {"home": 3}, "ack": true})).await;
    let got = rita.recv_json_where("the phone's broadcast", kind("Broadcast")).await;
    assert_eq!(
        (got["data"]["topic"].as_str(), got["data"]["payload"]["home"].as_u64()),
        (Some("updates.score"), Some(3))
    );
    let ack = phone.recv_json_where("broadcast_ack", |m| m["type"] == "broadcast_ack").await;
    assert_eq!(ack["recipients"], 1, "the wildcard subscriber counts, the 1.0 client does not: {ack}");

    phone.send_json(json!({"type": "subscribe", "timestamp": 1, "topics": ["chat.general"]})).await;
    phone.recv_json_where("subscriptions", |m| m["type"] == "subscriptions").await;
    rita.send_json(json!({"type": "Broadcast", "data": {"topic": "chat.general", "payload": {"message": "Hello everyone!"}}, "id": "msg_1", "metadata": {"priority": "normal"}})).await;
    let ack = rita.recv_json_where("Ack", kind("Ack")).await;
    assert_eq!(ack["data"], json!({"message_id": "msg_1", "status": "delivered", "recipients": 1}));
    phone.recv_json_where("rita's broadcast", |m| m["type"] == "broadcast" && m["id"] == "msg_1").await;

    rita.send_json(json!({"type": "DirectMessage", "data": {"target_user": phone_id, "payload": {"message": "Private message"}}, "id": "dm_1"})).await;
    let ack = rita.recv_json_where("Ack", kind("Ack")).await;
    assert_eq!(ack["data"]["delivered_to"], json!([phone_id]), "{ack}");
    phone.recv_json_where("rita's direct", |m| m["type"] == "direct" && m["from"] == rita_id.as_str()).await;
    rita.send_json(json!({"type": "DirectMessage", "data": {"target_user": legacy_id, "payload": {}}, "id": "dm_2"}))
        .await;
    let refused = rita.recv_json_where("Error", kind("Error")).await;
    assert_eq!(refused["data"]["code"], 404, "a LOUDSYNC 1.0 client has no direct messages: {refused}");

    let payload = addressed("updates.score", b"\x00\x01\x02");
    send_binary(&mut rita, frame(0x01, &payload)).await;
    let ack = recv_answer(&mut rita).await;
    assert_eq!(ack["data"]["details"]["checksum"], sha256(&payload), "{ack}");
    assert_eq!(ack["data"]["details"]["size"], payload.len(), "{ack}");
    let photo = jpeg();
    send_binary(&mut rita, frame(0x03, &photo)).await;
    let ack = recv_answer(&mut rita).await;
    assert_eq!(
        (&ack["data"]["details"]["type"], &ack["data"]["details"]["checksum"]),
        (&json!("file_transfer"), &json!(sha256(&photo))),
        "{ack}"
    );
    let kept = rita.recv_json_where("file_received", |f| f["data"]["status"] == "file_received").await;
    assert_eq!(kept["data"]["details"]["checksum"], sha256(&photo), "{kept}");
    phone.recv_json_where("photo.shared", |m| m["type"] == "photo.shared").await;

    let menu = NotificationAction { label: "See the menu".into(), url: "https://example.com/menu".into() };
    host.notify_with_actions("Pizza is here", "In the kitchen", NotificationLevel::Info, vec![menu]).await.unwrap();
    let note = rita.recv_json_where("Notification", kind("Notification")).await;
    assert_eq!(note["data"]["actions"], json!([{"label": "See the menu", "url": "https://example.com/menu"}]));
    let note = phone.recv_json_where("notification", |m| m["type"] == "notification").await;
    assert_eq!(note["actions"], json!([{"label": "See the menu", "url": "https://example.com/menu"}]), "{note}");

    phone.send_json(json!({"type": "presence", "timestamp": 1, "status": "busy"})).await;
    let presence = rita
        .recv_json_where("Presence", |f| f["type"] == "Presence" && f["data"]["user_id"] == phone_id.as_str())
        .await;
    assert_eq!(presence["data"]["status"], "busy");

    drop(rita);
    phone
        .recv_json_where("rita reconnecting", |m| {
            m["type"] == "member_updated" && m["member"]["connectionStatus"] == "reconnecting"
        })
        .await;
    phone.send_json(json!({"type": "direct", "timestamp": 1, "to": rita_id, "id": "d-9", "payload": {"message": "are you there?"}})).await;
    let ack = phone.recv_json_where("direct_ack", |m| m["type"] == "direct_ack").await;
    assert_eq!(ack["queued"], true, "{ack}");
    let (mut rita, again) = connect(&host, "name=rita&device=rita-1").await;
    assert_eq!(again, rita_id, "the same member");
    let waited = rita.recv_json_where("the queued message", kind("DirectMessage")).await;
    assert_eq!(waited["data"]["payload"]["message"], "are you there?");

    // The 1.0 client: rita joined (member_joined, as LOUDSYNC says), and nothing else came.
    let kinds = legacy.loudsync_news().await;
    assert!(kinds.contains(&"member_joined".to_string()), "{kinds:?}");
}

/// A host taking uploads into a folder of the test's own (removed at the end), as `policy`
/// says otherwise.
struct UploadHost {
    host: ServerHandle,
    dir: std::path::PathBuf,
}

impl UploadHost {
    async fn start(policy: partyline_server::UploadPolicy) -> UploadHost {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("partyline-rt-files-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let policy = partyline_server::UploadPolicy { dir: Some(dir.clone()), ..policy };
        let host =
            partyline_support::start_host_with_uploads(SessionConfig::default(), Limits::default(), None, policy).await;
        UploadHost { host, dir }
    }

    /// Every file in the uploads folder's `guests/`, temp files included.
    fn files(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("guests")) else { return Vec::new() };
        let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }
}

impl Drop for UploadHost {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Announces a file and sends it in frames of `chunk` bytes; returns every answer, in order.
async fn send_file(
    client: &mut Client,
    file_id: &str,
    name: &str,
    bytes: &[u8],
    chunk: usize,
    checksum: Option<String>,
) -> Vec<Value> {
    let mut data = json!({"file_id": file_id, "name": name, "size": bytes.len()});
    if let Some(checksum) = checksum {
        data["checksum"] = checksum.into();
    }
    client.send_json(json!({"type": "FileTransfer", "data": data})).await;
    let mut answers = Vec::new();
    for piece in bytes.chunks(chunk) {
        send_binary(client, frame(0x03, piece)).await;
    }
    for got in settled(client).await {
        match got {
            Got::Json(json) if json["type"] == "Error" || json["type"] == "Status" => answers.push(json),
            Got::Json(_) => {}
            Got::Bytes(bytes) => panic!("a binary frame came back: {bytes:?}"),
        }
    }
    answers
}

/// Seed 001's file transfer lands in the host's upload store: a photo sent as one raw 0x03
/// frame is acknowledged with its sha256 and `file_received` (and the phones get
/// `photo.shared`); a song announced with `FileTransfer` and sent in three frames has each frame
/// acknowledged with that frame's sha256, then `file_received`, and joins the library.
#[tokio::test]
async fn files_land_in_the_upload_store() {
    let party = UploadHost::start(partyline_server::UploadPolicy::default()).await;
    let host = &party.host;
    let (mut phone, _) = Client::join_in(host, "phone-1", true).await;
    let (mut sam, _) = connect(host, "name=sam&device=sam-1").await;

    let photo = jpeg();
    send_binary(&mut sam, frame(0x03, &photo)).await;
    let ack = recv_answer(&mut sam).await;
    assert_eq!(
        ack["data"],
        json!({"status": "binary_received", "details": {"size": photo.len(), "type": "file_transfer", "checksum": sha256(&photo)}})
    );
    let done = sam.recv_json_where("file_received", |f| f["data"]["status"] == "file_received").await;
    let details = &done["data"]["details"];
    assert_eq!(
        (&details["kind"], &details["size"], &details["checksum"], &details["file_id"]),
        (&json!("photo"), &json!(photo.len()), &json!(sha256(&photo)), &Value::Null),
        "{done}"
    );
    let shared = phone.recv_json_where("photo.shared", |m| m["type"] == "photo.shared").await;
    assert_eq!(shared["url"], details["url"], "{shared}");

    let song = wav();
    let answers = send_file(&mut sam, "f-1", "Summer.wav", &song, 3000, Some(sha256(&song))).await;
    assert_eq!(answers.len(), 4, "three acks and the result: {answers:?}");
    for (n, (ack, piece)) in answers.iter().zip(song.chunks(3000)).enumerate() {
        let details = &ack["data"]["details"];
        assert_eq!(ack["data"]["status"], "binary_received", "frame {n}: {ack}");
        assert_eq!((&details["checksum"], &details["size"]), (&json!(sha256(piece)), &json!(piece.len())), "frame {n}");
        assert_eq!(details["file_id"], "f-1");
    }
    let done = &answers[3]["data"];
    assert_eq!((&done["status"], &done["details"]["file_id"]), (&json!("file_received"), &json!("f-1")), "{done}");
    assert_eq!((&done["details"]["kind"], &done["details"]["checksum"]), (&json!("song"), &json!(sha256(&song))));
    let library = host.library().await.unwrap();
    assert!(library.iter().any(|item| item.id == done["details"]["id"]), "the song is in the library: {library:?}");
    assert_eq!(party.files().len(), 2, "the photo and the song: {:?}", party.files());
}

/// Nothing partial, corrupt or refused is kept: a wrong checksum is 400 after the last frame;
/// bytes that are neither a song nor a photo are 400; a frame past the announced size aborts the
/// transfer (400); a second announcement during one is 400; uploads switched off are 403 for the
/// announcement and for each of its frames (none taken for a file); a file over the limit is
/// 413; a connection that ends mid-transfer leaves no temp file. After all of it the uploads
/// folder is empty.
#[tokio::test]
async fn refused_transfers_keep_nothing() {
    let policy = partyline_server::UploadPolicy { max_file_bytes: 12_000, ..Default::default() };
    let party = UploadHost::start(policy).await;
    let host = &party.host;
    let (mut sam, _) = connect(host, "name=sam&device=sam-1").await;
    let song = wav();
    let code = |answer: &Value| answer["data"]["code"].as_u64();

    let answers = send_file(&mut sam, "bad-sum", "a.wav", &song, 4000, Some(sha256(b"something else"))).await;
    assert_eq!(answers.len(), 4, "three acks and the refusal: {answers:?}");
    assert_eq!(code(&answers[3]), Some(400), "checksum mismatch: {}", answers[3]);

    send_binary(&mut sam, frame(0x03, b"just some text, not a song")).await;
    let answers: Vec<Value> = settled(&mut sam)
        .await
        .into_iter()
        .map(|g| match g {
            Got::Json(j) => j,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!((answers.len(), code(&answers[1])), (2, Some(400)), "not media: {answers:?}");

    sam.send_json(json!({"type": "FileTransfer", "data": {"file_id": "small", "name": "a.wav", "size": 100}})).await;
    send_binary(&mut sam, frame(0x03, &song[..150])).await;
    let answers: Vec<Value> = settled(&mut sam)
        .await
        .into_iter()
        .map(|g| match g {
            Got::Json(j) => j,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(code(&answers[0]), Some(400), "overrun: {}", answers[0]);

    sam.send_json(json!({"type": "FileTransfer", "data": {"file_id": "one", "name": "a.wav", "size": 100}})).await;
    sam.send_json(json!({"type": "FileTransfer", "data": {"file_id": "two", "name": "b.wav", "size": 100}})).await;
    let answers: Vec<Value> = settled(&mut sam)
        .await
        .into_iter()
        .map(|g| match g {
            Got::Json(j) => j,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!((answers.len(), code(&answers[0])), (1, Some(400)), "one at a time: {answers:?}");
    send_binary(&mut sam, frame(0x03, &[0; 100])).await; // ends "one" (not media)
    settled(&mut sam).await;

    let big = [&song[..], &song[..]].concat();
    let answers = send_file(&mut sam, "big", "big.wav", &big, 8000, None).await;
    assert_eq!(code(&answers[0]), Some(413), "over the limit: {answers:?}");
    assert_eq!(answers.len(), 4, "the announcement's 413 and one for each of its three frames: {answers:?}");

    host.set_uploads(false);
    let answers = send_file(&mut sam, "off", "a.wav", &song, 4000, None).await;
    assert_eq!(answers.len(), 4, "the announcement and its three frames: {answers:?}");
    assert!(answers.iter().all(|a| code(a) == Some(403)), "uploads off: {answers:?}");
    host.set_uploads(true);

    sam.send_json(json!({"type": "FileTransfer", "data": {"file_id": "cut", "name": "a.wav", "size": song.len()}}))
        .await;
    send_binary(&mut sam, frame(0x03, &song[..4000])).await;
    recv_answer(&mut sam).await;
    assert_eq!(party.files().len(), 1, "the cut transfer's temp file: {:?}", party.files());
    drop(sam);
    let deadline = tokio::time::Instant::now() + WAIT;
    while !party.files().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "left behind: {:?}", party.files());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(host.library().await.unwrap().is_empty(), "nothing joined the library");
}
