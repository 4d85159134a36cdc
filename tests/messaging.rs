//! Messaging over real WebSockets on loopback: two partyline/1 phones exchange a direct
//! message, a topic broadcast with ack, a presence and WebRTC signaling, and get a host notification (whose mark_read the host hears
//! of), and a 1.0 phone in the same session sees none of it.

use partyline_protocol::NotificationLevel;
use partyline_server::HostEvent;
use partyline_support::{Client, WAIT, default_host};
use serde_json::json;

/// a → b `direct` arrives with its payload, a gets `direct_ack`; a `direct` for the 1.0 member
/// is refused with `recipient_unavailable`; the 1.0 member's next message is the pong of its
/// own ping, so nothing else reached it.
#[tokio::test]
async fn direct_between_two_phones() {
    let host = default_host().await;
    let (mut legacy, legacy_welcome) = Client::join(&host, "dev-l", false).await;
    legacy.recv_until("member_list").await;
    let (mut a, a_welcome) = Client::join(&host, "dev-a", true).await;
    a.recv_until("syncplay.state").await;
    let (mut b, b_welcome) = Client::join(&host, "dev-b", true).await;
    b.recv_until("syncplay.state").await;
    a.recv_until("member_joined").await;
    let (a_id, b_id) = (a_welcome["clientId"].clone(), b_welcome["clientId"].clone());

    let payload = json!({"kind": "poke", "emoji": "🎉", "n": [1, 2, 3]});
    a.send(json!({"type": "direct", "timestamp": 1, "to": b_id, "id": "d-1", "payload": payload})).await;
    let (got, skipped) = b.recv_until("direct").await;
    assert!(skipped.iter().all(|m| m["type"] != "direct"), "{skipped:?}");
    assert_eq!((&got["from"], &got["id"], &got["payload"]), (&a_id, &json!("d-1"), &payload));
    assert!(got["seq"].as_u64().is_some());
    let (ack, _) = a.recv_until("direct_ack").await;
    assert_eq!(ack["id"], "d-1");

    let to_legacy = legacy_welcome["clientId"].clone();
    a.send(json!({"type": "direct", "timestamp": 1, "to": to_legacy, "id": "d-2", "payload": 1})).await;
    let (error, _) = a.recv_until("error").await;
    assert_eq!(error["code"], "recipient_unavailable");
    assert_eq!(error["details"]["id"], "d-2");

    // Topics: b subscribes; a broadcasts to the topic with ack.
    b.send(json!({"type": "subscribe", "timestamp": 1, "topics": ["game", "lobby"]})).await;
    let (subscriptions, _) = b.recv_until("subscriptions").await;
    assert_eq!(subscriptions["topics"], json!(["game", "lobby"]));
    a.send(json!({"type": "broadcast", "timestamp": 1, "id": "b-1", "topic": "game", "payload": {"move": "e4"},
        "ack": true}))
        .await;
    let (got, _) = b.recv_until("broadcast").await;
    assert_eq!((&got["from"], &got["topic"], &got["payload"]), (&a_id, &json!("game"), &json!({"move": "e4"})));
    let (ack, skipped) = a.recv_until("broadcast_ack").await;
    assert!(skipped.iter().all(|m| m["type"] != "broadcast"), "not to its sender: {skipped:?}");
    assert_eq!((&ack["id"], &ack["recipients"]), (&json!("b-1"), &json!(1)));

    // Presence: a is away; b hears of it.
    a.send(json!({"type": "presence", "timestamp": 1, "status": "away", "text": "back in 5"})).await;
    let (update, _) = b.recv_until("presence_update").await;
    assert_eq!((&update["memberId"], &update["status"], &update["text"]), (&a_id, &json!("away"), &json!("back in 5")));

    // Voice signaling: an offer relayed a → b, an ICE candidate b → a, without seq.
    let offer = json!({"type": "offer", "sdp": "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\n"});
    a.send(json!({"type": "voice.signal", "timestamp": 1, "to": b_id, "signal": offer})).await;
    let (got, _) = b.recv_until("voice.signal").await;
    assert_eq!((&got["from"], &got["signal"]), (&a_id, &offer));
    assert!(got.get("seq").is_none(), "not sequenced: {got}");
    let candidate = json!({"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host", "sdpMid": "0"});
    b.send(json!({"type": "voice.signal", "timestamp": 1, "to": a_id, "signal": candidate})).await;
    let (got, _) = a.recv_until("voice.signal").await;
    assert_eq!((&got["from"], &got["signal"]), (&b_id, &candidate));

    // A host notification reaches both phones; b's mark_read comes back to the host as an event.
    let mut events = host.subscribe();
    let id = host.notify("Pizza is here", "In the kitchen", NotificationLevel::Info).await.unwrap();
    for phone in [&mut a, &mut b] {
        let (got, _) = phone.recv_until("notification").await;
        assert_eq!((&got["id"], &got["title"], &got["level"]), (&json!(id), &json!("Pizza is here"), &json!("info")));
    }
    b.send(json!({"type": "mark_read", "timestamp": 1, "ids": [id]})).await;
    let read = loop {
        match tokio::time::timeout(WAIT, events.recv()).await.expect("an event in time").unwrap() {
            HostEvent::NotificationsRead { member_id, ids, .. } => break (member_id, ids),
            _ => continue,
        }
    };
    assert_eq!((json!(read.0), read.1), (b_id.clone(), vec![id]));

    legacy.send(json!({"type": "ping", "timestamp": 5})).await;
    let mut seen = Vec::new();
    loop {
        let message = legacy.recv().await;
        if message["type"] == "pong" {
            break;
        }
        seen.push(message);
    }
    let types: Vec<&str> = seen.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert!(types.iter().all(|t| ["member_joined", "member_list"].contains(t)), "1.0 member saw {types:?}");
}
