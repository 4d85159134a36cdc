//! Messaging ([ext] only): `direct`, topic `broadcast`, `presence`, `voice.signal` between
//! members and host notifications. Each reaches exactly its recipients and is acknowledged as
//! documented; bad input changes nothing and is answered with an `error` that
//! names the sender's message id; a LOUDSYNC 1.0 member never sees any of it; a member that
//! drops gets what it missed on resume; and the per-connection rate limit covers these
//! messages like any other. All on virtual time.

mod sim;

use partyline_protocol::client::{Broadcast, Direct, MarkRead, Presence, Topics, VoiceSignal};
use partyline_protocol::{ClientMessage, NotificationLevel, PresenceStatus};
use partyline_session::limit::DEFAULT_PER_SECOND;
use partyline_session::{Config, ConnId, Event, SECOND, SessionError, TokenBucket};
use serde_json::{Value, json};
use sim::{Seen, Sim, T0, join_msg, resume_msg};

// The builders below write typed messages as text: the session reads them through the decoder,
// as it reads a client's frames, so a message the decoder refuses is refused here too.

fn direct(to: &str, id: &str, payload: Value) -> String {
    ClientMessage::Direct(Direct { timestamp: 1.into(), to: to.into(), id: id.into(), payload }).to_text()
}

/// Three extension members and a 1.0 one, joined, with their inboxes emptied.
struct Party {
    sim: Sim,
    a: (ConnId, String),
    b: (ConnId, String),
    c: (ConnId, String),
    legacy: (ConnId, String),
}

fn party() -> Party {
    let mut sim = Sim::new(Config::default());
    let a = sim.join("dev-a", true);
    let b = sim.join("dev-b", true);
    let c = sim.join("dev-c", true);
    let legacy = sim.join("dev-l", false);
    for conn in [a.0, b.0, c.0, legacy.0] {
        sim.take(conn);
    }
    Party { sim, a, b, c, legacy }
}

/// `direct` reaches only its recipient, as `direct {from, id, payload}` with a `seq`; the
/// sender gets `direct_ack {id}`; nobody else hears anything.
#[test]
fn direct_reaches_only_its_recipient() {
    let Party { mut sim, a, b, c, legacy } = party();
    let payload = json!({"emoji": "🎉", "nested": [1, 2.5, null, {"k": true}]});
    sim.send(a.0, &direct(&b.1, "d-1", payload.clone()));
    let to_b = sim.messages(b.0);
    assert_eq!(to_b.len(), 1, "{to_b:?}");
    assert_eq!(to_b[0]["type"], "direct");
    assert_eq!(to_b[0]["from"], a.1.as_str());
    assert_eq!(to_b[0]["id"], "d-1");
    assert_eq!(to_b[0]["payload"], payload, "the payload arrives as sent");
    assert!(to_b[0]["seq"].as_u64().is_some(), "sequenced");
    assert!(to_b[0]["timestamp"].as_u64().is_some());
    let to_a = sim.messages(a.0);
    assert_eq!(to_a.len(), 1, "{to_a:?}");
    assert_eq!((to_a[0]["type"].as_str(), to_a[0]["id"].as_str()), (Some("direct_ack"), Some("d-1")));
    assert!(to_a[0]["seq"].as_u64().is_some());
    assert_eq!(sim.messages(c.0), Vec::<Value>::new());
    assert_eq!(sim.messages(legacy.0), Vec::<Value>::new());
}

/// An unknown recipient, a 1.0 recipient, a payload over 8 KiB, a missing field: an `error`
/// to the sender (with its id where it names a recipient), nothing to anyone else, and the
/// connection stays open.
#[test]
fn direct_errors_change_nothing() {
    let Party { mut sim, a, b, c, legacy } = party();
    sim.send(a.0, &direct("m-nobody", "d-2", json!(1)));
    let seen = sim.messages(a.0);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["type"], "error");
    assert_eq!(seen[0]["code"], "recipient_unavailable");
    assert_eq!(seen[0]["details"], json!({"to": "m-nobody", "id": "d-2", "reason": "unknown_member"}));
    assert!(seen[0].get("seq").is_none(), "errors are not sequenced");

    sim.send(a.0, &direct(&legacy.1, "d-3", json!("hi")));
    let seen = sim.messages(a.0);
    assert_eq!(seen[0]["code"], "recipient_unavailable");
    assert_eq!(seen[0]["details"]["reason"], "loudsync_client");
    assert_eq!(seen[0]["details"]["id"], "d-3");

    let big = json!("x".repeat(8 * 1024));
    sim.send(a.0, &direct(&b.1, "d-4", big));
    let seen = sim.messages(a.0);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["code"], "invalid_message");
    assert!(seen[0]["message"].as_str().unwrap().starts_with("direct: payload is 8194 bytes"), "{}", seen[0]);

    sim.send(a.0, &direct(&b.1, &"i".repeat(65), json!(1)));
    assert_eq!(sim.messages(a.0)[0]["code"], "invalid_message");
    // Written out: a direct without `to` cannot be built typed.
    sim.send(a.0, r#"{"type":"direct","timestamp":1,"id":"d-5","payload":1}"#);
    assert_eq!(sim.messages(a.0)[0]["message"], "direct: missing field `to`");

    for conn in [b.0, c.0, legacy.0] {
        assert_eq!(sim.messages(conn), Vec::<Value>::new(), "nothing reached {conn}");
    }
    // Still open, still working.
    sim.send(a.0, &direct(&b.1, "d-6", json!(1)));
    assert_eq!(sim.types(a.0), ["direct_ack"]);
    assert_eq!(sim.types(b.0), ["direct"]);
}

/// A 1.0 member that sends `direct` gets `invalid_message` (a `direct_ack` would be a type it
/// does not know), and the recipient gets nothing.
#[test]
fn loudsync_sender_is_refused() {
    let Party { mut sim, a, legacy, .. } = party();
    sim.send(legacy.0, &direct(&a.1, "d-1", json!(1)));
    let seen = sim.messages(legacy.0);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["code"], "invalid_message");
    assert_eq!(seen[0]["details"], json!({"reason": "extension_only"}));
    assert_eq!(sim.messages(a.0), Vec::<Value>::new());
}

/// A member that drops gets the direct messages (and acks) sent meanwhile on resume, with their
/// original sequence numbers.
#[test]
fn resume_replays_direct_messages() {
    let mut sim = Sim::new(Config::default());
    let (x, x_id, secret) = sim.join_resumable("dev-x");
    let (y, y_id) = sim.join("dev-y", true);
    let last_seq = sim.messages(x).last().unwrap()["seq"].as_u64().unwrap(); // member_joined y
    sim.send(x, &direct(&y_id, "before", json!(0)));
    let ack_seq = sim.messages(x)[0]["seq"].as_u64().unwrap();
    assert_eq!(ack_seq, last_seq + 1);

    sim.session.handle_disconnect(sim.now, x, false);
    sim.flush();
    sim.take(y);
    sim.send(y, &direct(&x_id, "while-away-1", json!({"n": 1})));
    sim.send(y, &direct(&x_id, "while-away-2", json!({"n": 2})));
    assert_eq!(sim.types(y), ["direct_ack", "direct_ack"], "queued for a reconnecting member");

    let back = sim.connect();
    sim.send_msg(back, resume_msg(&x_id, &secret, ack_seq));
    let seen = sim.messages(back);
    let types: Vec<&str> = seen.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["resumed", "direct", "direct"]);
    assert_eq!(seen[0]["replayed"], 2);
    assert_eq!((seen[1]["id"].as_str(), seen[1]["seq"].as_u64()), (Some("while-away-1"), Some(ack_seq + 1)));
    assert_eq!((seen[2]["id"].as_str(), seen[2]["seq"].as_u64()), (Some("while-away-2"), Some(ack_seq + 2)));
    assert_eq!(seen[2]["payload"], json!({"n": 2}));
    assert_eq!(seen[2]["from"], y_id.as_str());
}

/// The per-connection token bucket (applied by the I/O layer before a message reaches the
/// session, whatever its type) lets a burst of `direct` through and refuses the rest with
/// `rate_limited`; the recipient gets exactly the burst, and the sender gets on after a pause.
#[test]
fn rate_limit_applies_to_direct() {
    let Party { mut sim, a, b, .. } = party();
    let (burst, per_second) = (5, DEFAULT_PER_SECOND);
    let mut bucket = TokenBucket::new(sim.now, burst, per_second);
    let send = |sim: &mut Sim, bucket: &mut TokenBucket, id: usize| {
        if bucket.try_take(sim.now) {
            sim.send(a.0, &direct(&b.1, &format!("d-{id}"), json!(id)));
        } else {
            let retry = bucket.retry_after_ms(sim.now);
            sim.session.handle_rate_limited(sim.now, a.0, retry, false);
            sim.flush();
        }
    };
    for id in 0..8 {
        send(&mut sim, &mut bucket, id);
    }
    let to_b = sim.messages(b.0);
    let ids: Vec<&str> = to_b.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["d-0", "d-1", "d-2", "d-3", "d-4"]);
    let to_a = sim.messages(a.0);
    let codes: Vec<&str> =
        to_a.iter().map(|m| m["code"].as_str().unwrap_or_else(|| m["type"].as_str().unwrap())).collect();
    assert_eq!(codes, ["direct_ack"; 5].into_iter().chain(["rate_limited"; 3]).collect::<Vec<_>>());
    sim.advance(SECOND);
    send(&mut sim, &mut bucket, 9);
    assert_eq!(sim.types(b.0), ["direct"]);
    assert!(matches!(&sim.take(a.0)[..], [Seen::Msg(m)] if m["type"] == "direct_ack"));
}

fn topics_msg(kind: &str, topics: &[&str]) -> String {
    let topics = Topics { timestamp: 1.into(), topics: topics.iter().map(|t| t.to_string()).collect() };
    match kind {
        "subscribe" => ClientMessage::Subscribe(topics),
        "unsubscribe" => ClientMessage::Unsubscribe(topics),
        other => panic!("expected subscribe or unsubscribe, got {other}"),
    }
    .to_text()
}

fn broadcast(id: &str, topic: Option<&str>, ack: bool) -> String {
    let topic = topic.map(str::to_string);
    ClientMessage::Broadcast(Broadcast { timestamp: 1.into(), id: id.into(), topic, payload: json!({"n": id}), ack })
        .to_text()
}

/// subscribe / unsubscribe answer with the member's whole list, sorted, without duplicates.
#[test]
fn subscriptions_are_the_full_list() {
    let Party { mut sim, a, b, .. } = party();
    sim.send(a.0, &topics_msg("subscribe", &["game", "chat.room-1"]));
    let seen = sim.messages(a.0);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["type"], "subscriptions");
    assert_eq!(seen[0]["topics"], json!(["chat.room-1", "game"]));
    assert!(seen[0]["seq"].as_u64().is_some());
    sim.send(a.0, &topics_msg("subscribe", &["game", "x_y"]));
    assert_eq!(sim.messages(a.0)[0]["topics"], json!(["chat.room-1", "game", "x_y"]));
    sim.send(a.0, &topics_msg("unsubscribe", &["game", "never-had"]));
    assert_eq!(sim.messages(a.0)[0]["topics"], json!(["chat.room-1", "x_y"]));
    sim.send(a.0, &topics_msg("subscribe", &[]));
    assert_eq!(sim.messages(a.0)[0]["topics"], json!(["chat.room-1", "x_y"]), "an empty list asks for the list");
    assert_eq!(sim.messages(b.0), Vec::<Value>::new(), "nobody else hears of it");
}

/// A bad topic name, or a 33rd topic: an error, and the subscriptions stay as they were.
#[test]
fn bad_topics_change_nothing() {
    let Party { mut sim, a, b, .. } = party();
    sim.send(a.0, &topics_msg("subscribe", &["keep"]));
    sim.take(a.0);
    sim.send(a.0, &topics_msg("subscribe", &["fine", "Not-Fine"]));
    let seen = sim.messages(a.0);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["code"], "invalid_message");
    assert!(seen[0]["message"].as_str().unwrap().starts_with("subscribe: topic \"Not-Fine\""), "{}", seen[0]);
    sim.send(a.0, &topics_msg("unsubscribe", &["keep", "bad name"]));
    assert_eq!(sim.messages(a.0)[0]["code"], "invalid_message");

    let many: Vec<String> = (0..31).map(|i| format!("t{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    sim.send(a.0, &topics_msg("subscribe", &many));
    assert_eq!(sim.messages(a.0)[0]["topics"].as_array().unwrap().len(), 32, "keep + 31: the limit");
    sim.send(a.0, &topics_msg("subscribe", &["t0", "one-too-many"]));
    let seen = sim.messages(a.0);
    assert_eq!(seen[0]["code"], "invalid_message");
    assert_eq!(seen[0]["details"], json!({"reason": "too_many_topics", "maxTopics": 32}));
    sim.send(a.0, &topics_msg("subscribe", &["t0"]));
    assert_eq!(sim.messages(a.0)[0]["topics"].as_array().unwrap().len(), 32, "re-subscribing is no new topic");

    // "fine" was never added, "keep" never removed: a broadcast to them shows it.
    sim.send(b.0, &broadcast("b-1", Some("fine"), true));
    assert_eq!(sim.messages(b.0)[0]["recipients"], 0);
    sim.send(b.0, &broadcast("b-2", Some("keep"), true));
    assert_eq!(sim.messages(b.0)[0]["recipients"], 1);
    assert_eq!(sim.types(a.0), ["broadcast"]);
}

/// A topic broadcast reaches exactly the other extension members subscribed to it; one
/// without a topic reaches every other extension member; the sender never gets its own, a 1.0
/// member never gets any; `ack` brings `broadcast_ack` with the count, after the deliveries.
#[test]
fn broadcast_reaches_the_right_members() {
    let Party { mut sim, a, b, c, legacy } = party();
    for conn in [a.0, b.0] {
        sim.send(conn, &topics_msg("subscribe", &["game"]));
        sim.take(conn);
    }
    sim.send(a.0, &broadcast("b-1", Some("game"), true));
    let to_b = sim.messages(b.0);
    assert_eq!(to_b.len(), 1, "{to_b:?}");
    assert_eq!(to_b[0]["type"], "broadcast");
    assert_eq!((to_b[0]["from"].as_str(), to_b[0]["id"].as_str()), (Some(a.1.as_str()), Some("b-1")));
    assert_eq!((to_b[0]["topic"].as_str(), &to_b[0]["payload"]), (Some("game"), &json!({"n": "b-1"})));
    let b_seq = to_b[0]["seq"].as_u64().expect("sequenced");
    let to_a = sim.messages(a.0);
    assert_eq!(to_a.len(), 1, "not its own broadcast: {to_a:?}");
    assert_eq!((to_a[0]["type"].as_str(), to_a[0]["id"].as_str()), (Some("broadcast_ack"), Some("b-1")));
    assert_eq!(to_a[0]["recipients"], 1);
    assert_eq!(sim.messages(c.0), Vec::<Value>::new(), "c is not subscribed");

    sim.send(c.0, &broadcast("b-2", None, false));
    assert_eq!(sim.messages(c.0), Vec::<Value>::new(), "no ack unless asked");
    for conn in [a.0, b.0] {
        let seen = sim.messages(conn);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0]["id"], "b-2");
        assert!(seen[0].get("topic").is_none(), "no topic key when sent to all: {}", seen[0]);
    }
    sim.send(b.0, &broadcast("b-3", None, true));
    assert_eq!(sim.messages(b.0)[0]["recipients"], 2, "a and c; not the 1.0 member");
    assert_eq!(sim.messages(legacy.0), Vec::<Value>::new());
    assert!(b_seq > 0);

    // A 1.0 member may not broadcast (its ack would be a type it does not know).
    sim.take(a.0);
    sim.take(c.0);
    sim.send(legacy.0, &broadcast("b-4", None, true));
    assert_eq!(sim.messages(legacy.0)[0]["details"]["reason"], "extension_only");
    sim.send(legacy.0, &topics_msg("subscribe", &["game"]));
    assert_eq!(sim.messages(legacy.0)[0]["details"]["reason"], "extension_only");
    assert_eq!(sim.messages(a.0), Vec::<Value>::new());
    assert_eq!(sim.messages(c.0), Vec::<Value>::new());
}

/// Subscriptions survive a resume; a broadcast to a member that is reconnecting is counted,
/// buffered and replayed; a fresh join of the same device starts with no topics.
#[test]
fn subscriptions_survive_resume_and_broadcasts_replay() {
    let mut sim = Sim::new(Config::default());
    let (x, x_id, secret) = sim.join_resumable("dev-x");
    let (y, _) = sim.join("dev-y", true);
    sim.take(x);
    sim.send(x, &topics_msg("subscribe", &["news"]));
    let last_seq = sim.messages(x)[0]["seq"].as_u64().unwrap();

    sim.session.handle_disconnect(sim.now, x, false);
    sim.flush();
    sim.take(y);
    sim.send(y, &broadcast("while-away", Some("news"), true));
    assert_eq!(sim.messages(y)[0]["recipients"], 1, "a reconnecting subscriber counts");

    let back = sim.connect();
    sim.send_msg(back, resume_msg(&x_id, &secret, last_seq));
    let seen = sim.messages(back);
    let types: Vec<&str> = seen.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["resumed", "broadcast"]);
    assert_eq!((seen[1]["id"].as_str(), seen[1]["seq"].as_u64()), (Some("while-away"), Some(last_seq + 1)));
    assert_eq!(sim.types(y), ["member_updated"], "x is connected again");
    sim.send(y, &broadcast("after", Some("news"), true));
    assert_eq!(sim.messages(y)[0]["recipients"], 1, "still subscribed after the resume");
    assert_eq!(sim.types(back), ["broadcast"]);

    // The same device joins afresh: no topics.
    let again = sim.connect();
    sim.send_msg(again, join_msg("dev-x", true));
    sim.take(y);
    sim.send(y, &broadcast("fresh", Some("news"), true));
    assert_eq!(sim.messages(y)[0]["recipients"], 0);
}

fn presence(status: PresenceStatus, text: Option<&str>) -> String {
    ClientMessage::Presence(Presence { timestamp: 1.into(), status, text: text.map(str::to_string) }).to_text()
}

/// `presence` reaches every other extension member as `presence_update` (sequenced), never the
/// sender or a 1.0 member, and the host hears of it as an event.
#[test]
fn presence_reaches_the_others() {
    let Party { mut sim, a, b, c, legacy } = party();
    sim.events();
    sim.send(a.0, &presence(PresenceStatus::Away, Some("  back in 5 ")));
    for conn in [b.0, c.0] {
        let seen = sim.messages(conn);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(keys(&seen[0]), ["memberId", "seq", "status", "text", "timestamp", "type"]);
        assert_eq!(seen[0]["type"], "presence_update");
        assert_eq!(seen[0]["memberId"], a.1.as_str());
        assert_eq!((seen[0]["status"].as_str(), seen[0]["text"].as_str()), (Some("away"), Some("back in 5")));
    }
    assert_eq!(sim.messages(a.0), Vec::<Value>::new(), "not to the sender");
    assert_eq!(sim.messages(legacy.0), Vec::<Value>::new(), "not to a 1.0 member");
    let events = sim.events();
    assert!(
        matches!(&events[..], [Event::Presence { member_id, status: PresenceStatus::Away, text: Some(text), .. }]
            if *member_id == a.1 && text == "back in 5"),
        "{events:?}"
    );
    sim.send(a.0, &presence(PresenceStatus::Online, None));
    let seen = sim.messages(b.0);
    assert_eq!(seen[0]["status"], "online");
    assert!(seen[0].get("text").is_none(), "no text, no key: {}", seen[0]);
    sim.take(c.0);

    // Bad input: an error to the sender, nothing to anyone.
    // Written out: no PresenceStatus is "asleep".
    sim.send(a.0, r#"{"type":"presence","timestamp":1,"status":"asleep"}"#);
    sim.send(a.0, &presence(PresenceStatus::Busy, Some(&"t".repeat(65))));
    let errors = sim.messages(a.0);
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().all(|m| m["code"] == "invalid_message"), "{errors:?}");
    sim.send(legacy.0, &presence(PresenceStatus::Busy, None));
    assert_eq!(sim.messages(legacy.0)[0]["details"]["reason"], "extension_only");
    for conn in [b.0, c.0, legacy.0] {
        assert_eq!(sim.messages(conn), Vec::<Value>::new());
    }
}

/// A new extension joiner learns who is not plain online right after its welcome bundle; a 1.0
/// joiner learns nothing of it; a member that joins afresh is online again, and the others hear.
#[test]
fn presence_for_joiners_and_reset_on_rejoin() {
    let Party { mut sim, a, b, c, .. } = party();
    sim.send(a.0, &presence(PresenceStatus::Busy, Some("DJing")));
    sim.send(b.0, &presence(PresenceStatus::Away, None));
    sim.send(b.0, &presence(PresenceStatus::Online, None));
    for conn in [a.0, b.0, c.0] {
        sim.take(conn);
    }

    let d = sim.connect();
    sim.send_msg(d, join_msg("dev-d", true));
    let seen = sim.messages(d);
    let types: Vec<&str> = seen.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["welcome", "hello", "member_list", "library.update", "syncplay.state", "presence_update"]);
    assert_eq!(seen[5]["memberId"], a.1.as_str(), "only a is not plain online");
    assert_eq!((seen[5]["status"].as_str(), seen[5]["text"].as_str()), (Some("busy"), Some("DJing")));
    assert_eq!(seen[5]["seq"].as_u64(), Some(seen[4]["seq"].as_u64().unwrap() + 1));

    let e = sim.connect();
    sim.send_msg(e, join_msg("dev-e", false));
    assert_eq!(sim.types(e), ["welcome", "member_list"], "exactly LOUDSYNC's join for a 1.0 client");

    // a's device joins afresh: online again, and the others are told.
    for conn in [b.0, d] {
        sim.take(conn);
    }
    sim.events();
    let again = sim.connect();
    sim.send_msg(again, join_msg("dev-a", true));
    assert!(!sim.types(again).contains(&"presence_update".to_string()), "its own old presence is gone");
    for conn in [b.0, d] {
        let update = sim.messages(conn).into_iter().find(|m| m["type"] == "presence_update").expect("told");
        assert_eq!((update["memberId"].as_str(), update["status"].as_str()), (Some(a.1.as_str()), Some("online")));
    }
    assert!(sim.events().iter().any(|e| matches!(e, Event::Presence { status: PresenceStatus::Online, .. })));
    assert_eq!(sim.messages(e), Vec::<Value>::new(), "the 1.0 member hears nothing of it");
    let f = sim.connect();
    sim.send_msg(f, join_msg("dev-f", true));
    assert!(!sim.types(f).contains(&"presence_update".to_string()), "nobody is away or busy now");
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

fn voice(to: &str, signal: Value) -> String {
    let signal = signal.as_object().expect("a signal is an object (write a malformed one out)").clone();
    ClientMessage::VoiceSignal(VoiceSignal { timestamp: 1.into(), to: to.into(), signal }).to_text()
}

fn mark_read(ids: &[&str]) -> String {
    ClientMessage::MarkRead(MarkRead { timestamp: 1.into(), ids: ids.iter().map(|id| id.to_string()).collect() })
        .to_text()
}

/// `voice.signal` reaches only its recipient, unsequenced, with the signal as sent; nothing
/// comes back to the sender on success.
#[test]
fn voice_signal_is_relayed_to_its_recipient() {
    let Party { mut sim, a, b, c, legacy } = party();
    let offer = json!({"type": "offer", "sdp": "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\n"});
    sim.send(a.0, &voice(&b.1, offer.clone()));
    let seen = sim.messages(b.0);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(keys(&seen[0]), ["from", "signal", "timestamp", "type"], "no seq: {}", seen[0]);
    assert_eq!((seen[0]["type"].as_str(), seen[0]["from"].as_str()), (Some("voice.signal"), Some(a.1.as_str())));
    assert_eq!(seen[0]["signal"], offer);
    let candidate = json!({"candidate": "candidate:1 1 udp 2122260223 192.168.1.5 54321 typ host", "sdpMid": "0"});
    sim.send(b.0, &voice(&a.1, candidate.clone()));
    assert_eq!(
        sim.messages(a.0),
        [json!({"type": "voice.signal", "timestamp": T0 / 1000, "from": b.1, "signal": candidate})]
    );
    assert_eq!(sim.messages(b.0), Vec::<Value>::new(), "no ack");
    assert_eq!(sim.messages(c.0), Vec::<Value>::new());
    assert_eq!(sim.messages(legacy.0), Vec::<Value>::new());
}

/// Unknown, 1.0 and reconnecting recipients, a signal that is no object, a signal over 16 KiB,
/// a 1.0 sender: an error to the sender, nothing to anyone.
#[test]
fn voice_signal_errors_change_nothing() {
    let Party { mut sim, a, b, c, legacy } = party();
    let reason = |sim: &mut Sim, conn: ConnId| {
        let seen = sim.messages(conn);
        assert_eq!(seen.len(), 1, "{seen:?}");
        (seen[0]["code"].as_str().unwrap().to_string(), seen[0]["details"]["reason"].as_str().unwrap_or("").to_string())
    };
    sim.send(a.0, &voice("m-nobody", json!({"type": "offer"})));
    assert_eq!(reason(&mut sim, a.0), ("recipient_unavailable".into(), "unknown_member".into()));
    sim.send(a.0, &voice(&legacy.1, json!({"type": "offer"})));
    assert_eq!(reason(&mut sim, a.0), ("recipient_unavailable".into(), "loudsync_client".into()));
    // Written out: a signal that is no object cannot be built typed.
    sim.send(a.0, r#"{"type":"voice.signal","timestamp":1,"to":"m-any","signal":"offer"}"#);
    assert_eq!(reason(&mut sim, a.0).0, "invalid_message");
    sim.send(a.0, &voice(&b.1, json!({"sdp": "s".repeat(16 * 1024)})));
    assert_eq!(reason(&mut sim, a.0).0, "invalid_message");
    sim.send(legacy.0, &voice(&a.1, json!({"type": "offer"})));
    assert_eq!(reason(&mut sim, legacy.0), ("invalid_message".into(), "extension_only".into()));
    sim.session.handle_disconnect(sim.now, c.0, false);
    sim.flush();
    sim.take(b.0);
    sim.take(legacy.0);
    sim.send(a.0, &voice(&c.1, json!({"type": "offer"})));
    let seen = sim.messages(a.0);
    assert_eq!(seen.iter().filter(|m| m["type"] == "error").count(), 1, "{seen:?}");
    let error = seen.iter().find(|m| m["type"] == "error").unwrap();
    assert_eq!(error["details"], json!({"to": c.1, "reason": "reconnecting"}));
    for conn in [b.0, legacy.0] {
        assert_eq!(sim.messages(conn), Vec::<Value>::new());
    }
}

/// A resume replays a `direct` sent while the member was away and no `voice.signal`: a signal
/// for a member whose connection just dropped is refused (it is reconnecting), and one sent
/// just before the drop is not in the replay either.
#[test]
fn resume_does_not_replay_voice_signal() {
    let mut sim = Sim::new(Config::default());
    let (x, x_id, secret) = sim.join_resumable("dev-x");
    let (y, _) = sim.join("dev-y", true);
    let last_seq = sim.messages(x).last().unwrap()["seq"].as_u64().unwrap();
    // Delivered on the old connection but (being unsequenced) not kept.
    sim.send(y, &voice(&x_id, json!({"type": "offer", "sdp": "old"})));
    assert_eq!(sim.types(x), ["voice.signal"]);

    sim.session.handle_disconnect(sim.now, x, false);
    sim.flush();
    sim.take(y);
    sim.send(y, &voice(&x_id, json!({"candidate": "stale"})));
    assert_eq!(sim.messages(y)[0]["details"]["reason"], "reconnecting");
    sim.send(y, &direct(&x_id, "kept", json!(1)));

    let back = sim.connect();
    sim.send_msg(back, resume_msg(&x_id, &secret, last_seq));
    let types = sim.types(back);
    assert_eq!(types, ["resumed", "direct"], "the direct, and no signal");
}

/// `notify` reaches every extension member (sequenced, so a reconnecting one gets it on resume)
/// and no 1.0 member; bad titles are refused and send nothing; `mark_read` is a host event.
#[test]
fn notifications_and_mark_read() {
    let Party { mut sim, a, b, c, legacy } = party();
    // c drops: it is reconnecting when the notification goes out (resume_replays_notifications
    // shows it gets it on resume); nothing reaches its closed connection now.
    sim.session.handle_disconnect(sim.now, c.0, false);
    sim.flush();
    for conn in [a.0, b.0, c.0, legacy.0] {
        sim.take(conn);
    }
    let id = sim.session.notify(sim.now, " Pizza is here ", "In the kitchen", NotificationLevel::Info).unwrap();
    assert_eq!(id, "n-1");
    sim.flush();
    for conn in [a.0, b.0] {
        let seen = sim.messages(conn);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(keys(&seen[0]), ["body", "id", "level", "seq", "timestamp", "title", "type"]);
        assert_eq!(
            (seen[0]["type"].as_str(), seen[0]["id"].as_str(), seen[0]["title"].as_str()),
            (Some("notification"), Some("n-1"), Some("Pizza is here"))
        );
        assert_eq!((seen[0]["body"].as_str(), seen[0]["level"].as_str()), (Some("In the kitchen"), Some("info")));
    }
    assert_eq!(sim.messages(legacy.0), Vec::<Value>::new(), "never to a 1.0 member");

    assert_eq!(sim.session.notify(sim.now, "  ", "", NotificationLevel::Alert), Err(SessionError::BadNotification));
    let long = "t".repeat(101);
    assert_eq!(sim.session.notify(sim.now, &long, "", NotificationLevel::Alert), Err(SessionError::BadNotification));
    let body = "b".repeat(1001);
    assert_eq!(sim.session.notify(sim.now, "t", &body, NotificationLevel::Alert), Err(SessionError::BadNotification));
    sim.flush();
    for conn in [a.0, b.0, legacy.0] {
        assert_eq!(sim.messages(conn), Vec::<Value>::new(), "a refused notification sends nothing");
    }
    assert_eq!(sim.session.notify(sim.now, "Last call", "", NotificationLevel::Alert).unwrap(), "n-2");
    sim.flush();
    assert_eq!(sim.messages(a.0)[0]["level"], "alert");

    sim.events();
    sim.send(a.0, &mark_read(&["n-1", "n-2"]));
    assert_eq!(sim.messages(a.0), Vec::<Value>::new(), "no reply");
    let events = sim.events();
    assert!(
        matches!(&events[..], [Event::NotificationsRead { member_id, ids, .. }] if *member_id == a.1 && ids == &["n-1", "n-2"]),
        "{events:?}"
    );
    sim.send(legacy.0, &mark_read(&["n-1"]));
    assert_eq!(sim.messages(legacy.0)[0]["details"]["reason"], "extension_only");
    assert_eq!(sim.events(), []);
    assert_eq!(sim.take(c.0), [], "nothing on a dropped connection");
}

/// A member that was reconnecting when notifications went out gets them on resume.
#[test]
fn resume_replays_notifications() {
    let mut sim = Sim::new(Config::default());
    let x = sim.connect();
    sim.send_msg(x, join_msg("dev-x", true));
    let seen = sim.messages(x);
    let last_seq = seen.iter().filter_map(|m| m["seq"].as_u64()).max().unwrap();
    let x_id = seen[0]["clientId"].as_str().unwrap().to_string();
    let secret = seen[0]["resumeSecret"].as_str().unwrap().to_string();
    sim.session.handle_disconnect(sim.now, x, false);
    sim.session.notify(sim.now, "While you were away", "", NotificationLevel::Warning).unwrap();
    let back = sim.connect();
    sim.send_msg(back, resume_msg(&x_id, &secret, last_seq));
    let seen = sim.messages(back);
    let types: Vec<&str> = seen.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["resumed", "notification"]);
    assert_eq!((seen[1]["seq"].as_u64(), seen[1]["level"].as_str()), (Some(last_seq + 1), Some("warning")));
}

/// A 1.0 member in a room where every messaging feature is in use sees none of it: nothing at
/// all arrives while the others direct, subscribe, broadcast, set presence, signal and read
/// notifications, and the joiner after it gets exactly LOUDSYNC's welcome and member_list.
#[test]
fn loudsync_member_sees_none_of_it() {
    let Party { mut sim, a, b, legacy, .. } = party();
    sim.send(a.0, &direct(&b.1, "d", json!(1)));
    sim.send(a.0, &topics_msg("subscribe", &["t"]));
    sim.send(b.0, &broadcast("b", Some("t"), true));
    sim.send(b.0, &broadcast("b2", None, true));
    sim.send(a.0, &presence(PresenceStatus::Busy, Some("DJing")));
    sim.send(a.0, &voice(&b.1, json!({"type": "offer"})));
    sim.session.notify(sim.now, "Hello", "", NotificationLevel::Info).unwrap();
    sim.flush();
    sim.send(a.0, &mark_read(&["n-1"]));
    assert_eq!(sim.messages(legacy.0), Vec::<Value>::new());
    let types: Vec<String> = [sim.types(a.0), sim.types(b.0)].concat();
    for kind in ["direct", "direct_ack", "subscriptions", "broadcast", "broadcast_ack", "voice.signal", "notification"]
    {
        assert!(types.iter().any(|t| t == kind), "the extension members did get {kind}: {types:?}");
    }
    let l2 = sim.connect();
    sim.send_msg(l2, join_msg("dev-l2", false));
    assert_eq!(sim.types(l2), ["welcome", "member_list"]);
}
