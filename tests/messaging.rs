//! Messaging over real WebSockets on loopback: two partyline/1 phones exchange a direct
//! message, a topic broadcast with ack, a presence and WebRTC signaling, and get a host notification (whose mark_read the host hears
//! of), and a 1.0 phone in the same session sees none of it.

use partyline_protocol::client::{Broadcast, Direct, MarkRead, Presence, Topics, VoiceSignal};
use partyline_protocol::{ErrorCode, NotificationLevel, PresenceStatus, reason};
use partyline_server::HostEvent;
use partyline_support::{Client, ClientMessage, ServerMessage, WAIT, default_host, expect_message, ping_msg};
use serde_json::json;

/// a → b `direct` arrives with its payload, a gets `direct_ack`; a `direct` for the 1.0 member
/// is refused with `recipient_unavailable`; the 1.0 member's next message is the pong of its
/// own ping, so nothing else reached it.
#[tokio::test]
async fn direct_between_two_phones() {
    let host = default_host().await;
    let (mut legacy, legacy_welcome) = Client::join_in(&host, "dev-l", false).await;
    let (mut a, a_welcome) = Client::join_in(&host, "dev-a", true).await;
    let (mut b, b_welcome) = Client::join_in(&host, "dev-b", true).await;
    a.recv_until("member_joined").await;
    let (a_id, b_id) = (a_welcome.client_id, b_welcome.client_id);

    let payload = json!({"kind": "poke", "emoji": "🎉", "n": [1, 2, 3]});
    let direct = |to: &str, id: &str, payload| {
        ClientMessage::Direct(Direct { timestamp: 1.into(), to: to.into(), id: id.into(), payload, ttl: None })
    };
    a.send(direct(&b_id, "d-1", payload.clone())).await;
    let (got, skipped) = b.recv_until("direct").await;
    assert!(skipped.iter().all(|m| m.kind() != "direct"), "{skipped:?}");
    assert!(got.seq.is_some(), "a direct is sequenced: {got:?}");
    let (from, id, got_payload) =
        expect_message!(got.message, ServerMessage::Direct { from, id, payload, .. } => (from, id, payload));
    assert_eq!((from.as_str(), id.as_str(), &got_payload), (a_id.as_str(), "d-1", &payload));
    let (ack, _) = a.recv_until("direct_ack").await;
    assert_eq!(expect_message!(ack.message, ServerMessage::DirectAck { id, .. } => id), "d-1");

    a.send(direct(&legacy_welcome.client_id, "d-2", json!(1))).await;
    let (error, _) = a.recv_until("error").await;
    let (code, details) = expect_message!(error.message, ServerMessage::Error { code, details, .. } => (code, details));
    let details = details.expect("details");
    assert_eq!(
        (code, &details["id"], &details["reason"]),
        (ErrorCode::RecipientUnavailable, &json!("d-2"), &json!(reason::LOUDSYNC_CLIENT))
    );

    // Topics: b subscribes; a broadcasts to the topic with ack.
    let topics = vec!["game".to_string(), "lobby".to_string()];
    b.send(ClientMessage::Subscribe(Topics { timestamp: 1.into(), topics: topics.clone() })).await;
    let (subscriptions, _) = b.recv_until("subscriptions").await;
    assert_eq!(expect_message!(subscriptions.message, ServerMessage::Subscriptions { topics, .. } => topics), topics);
    let broadcast = Broadcast {
        timestamp: 1.into(),
        id: "b-1".into(),
        topic: Some("game".into()),
        payload: json!({"move": "e4"}),
        ack: true,
        ttl: None,
    };
    a.send(ClientMessage::Broadcast(broadcast)).await;
    let (got, _) = b.recv_until("broadcast").await;
    let got =
        expect_message!(got.message, ServerMessage::Broadcast { from, topic, payload, .. } => (from, topic, payload));
    assert_eq!(got, (a_id.clone(), Some("game".into()), json!({"move": "e4"})));
    let (ack, skipped) = a.recv_until("broadcast_ack").await;
    assert!(skipped.iter().all(|m| m.kind() != "broadcast"), "not to its sender: {skipped:?}");
    let ack = expect_message!(ack.message, ServerMessage::BroadcastAck { id, recipients, .. } => (id, recipients));
    assert_eq!(ack, ("b-1".into(), 1));

    // Presence: a is away; b hears of it.
    let away = Presence { timestamp: 1.into(), status: PresenceStatus::Away, text: Some("back in 5".into()) };
    a.send(ClientMessage::Presence(away)).await;
    let (update, _) = b.recv_until("presence_update").await;
    let update = expect_message!(update.message,
        ServerMessage::PresenceUpdate { member_id, status, text, .. } => (member_id, status, text));
    assert_eq!(update, (a_id.clone(), PresenceStatus::Away, Some("back in 5".into())));

    // Voice signaling: an offer relayed a → b, an ICE candidate b → a, without seq.
    let signal = |to: &str, signal: serde_json::Value| {
        let signal = signal.as_object().unwrap().clone();
        ClientMessage::VoiceSignal(VoiceSignal { timestamp: 1.into(), to: to.into(), signal })
    };
    let offer = json!({"type": "offer", "sdp": "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\n"});
    a.send(signal(&b_id, offer.clone())).await;
    let (got, _) = b.recv_until("voice.signal").await;
    assert_eq!(got.seq, None, "not sequenced: {got:?}");
    let got = expect_message!(got.message, ServerMessage::VoiceSignal { from, signal, .. } => (from, signal));
    assert_eq!((got.0.as_str(), json!(got.1)), (a_id.as_str(), offer));
    let candidate = json!({"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host", "sdpMid": "0"});
    b.send(signal(&a_id, candidate.clone())).await;
    let (got, _) = a.recv_until("voice.signal").await;
    let got = expect_message!(got.message, ServerMessage::VoiceSignal { from, signal, .. } => (from, signal));
    assert_eq!((got.0.as_str(), json!(got.1)), (b_id.as_str(), candidate));

    // A host notification reaches both phones; b's mark_read comes back to the host as an event.
    let mut events = host.subscribe();
    let id = host.notify("Pizza is here", "In the kitchen", NotificationLevel::Info).await.unwrap();
    for phone in [&mut a, &mut b] {
        let (got, _) = phone.recv_until("notification").await;
        let got =
            expect_message!(got.message, ServerMessage::Notification { id, title, level, .. } => (id, title, level));
        assert_eq!(got, (id.clone(), "Pizza is here".into(), NotificationLevel::Info));
    }
    b.send(ClientMessage::MarkRead(MarkRead { timestamp: 1.into(), ids: vec![id.clone()] })).await;
    let read = loop {
        match tokio::time::timeout(WAIT, events.recv()).await.expect("an event in time").unwrap() {
            HostEvent::NotificationsRead { member_id, ids, .. } => break (member_id, ids),
            _ => continue,
        }
    };
    assert_eq!(read, (b_id.clone(), vec![id]));

    legacy.send(ping_msg(5)).await;
    let (_, seen) = legacy.recv_until("pong").await;
    let types: Vec<&str> = seen.iter().map(|m| m.kind()).collect();
    assert!(types.iter().all(|t| ["member_joined", "member_list"].contains(t)), "1.0 member saw {types:?}");
}
