//! Seed 001 (the Real-time Communication Service) spoken by a client written from that document
//! alone, at `/rt/ws`, in one party with partyline/1 phones: its welcome, Ping/Pong both ways,
//! wildcard subscriptions that take a phone's topic broadcasts (and the Ack counts them),
//! direct messages acknowledged or queued for a member that is reconnecting, announcements and
//! presence, and errors in the seed's codes. Real sockets.

use std::time::Duration;

use partyline_protocol::NotificationLevel;
use partyline_server::{Limits, ServerHandle};
use partyline_support::{Client, Ending, SessionConfig, default_host, start_host};
use serde_json::{Value, json};
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
    assert!(features.contains(&"broadcast") && features.contains(&"direct_message"), "{features:?}");
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
