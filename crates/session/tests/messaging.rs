//! Messaging ([ext] only): `direct`, topic `broadcast`, `presence`, `voice.signal` between
//! members and host notifications. Each reaches exactly its recipients and is acknowledged as
//! documented; bad input changes nothing and is answered with an `error` that
//! names the sender's message id; a LOUDSYNC 1.0 member never sees any of it; a member that
//! drops gets what it missed on resume; and the per-connection rate limit covers these
//! messages like any other. All on virtual time.

mod sim;

use partyline_protocol::client::{Broadcast, Direct, MarkRead, Presence, Topics, VoiceSignal};
use partyline_protocol::{
    ClientMessage, ErrorCode, NotificationLevel, PresenceStatus, Received, ServerMessage, expect_message, reason,
};
use partyline_session::limit::DEFAULT_PER_SECOND;
use partyline_session::{Config, ConnId, Event, SECOND, SessionError, TokenBucket};
use serde_json::{Value, json};
use sim::{Sim, T0, join_msg, resume_msg};

// The builders below write typed messages as text: the session reads them through the decoder,
// as it reads a client's frames, so a message the decoder refuses is refused here too.

fn direct(to: &str, id: &str, payload: Value) -> String {
    ClientMessage::Direct(Direct { timestamp: 1.into(), to: to.into(), id: id.into(), payload, ttl: None }).to_text()
}

/// The code, message and details of an `error`; any other message fails the test.
fn error_of(received: &Received) -> (ErrorCode, String, Value) {
    expect_message!(&received.message, ServerMessage::Error { code, message, details, .. } =>
        (*code, message.clone(), details.clone().unwrap_or(Value::Null)))
}

/// The topics of a `subscriptions`; any other message fails the test.
fn topics_of(received: &Received) -> Vec<String> {
    expect_message!(&received.message, ServerMessage::Subscriptions { topics, .. } => topics.clone())
}

/// The recipient count of a `broadcast_ack`; any other message fails the test.
fn recipients_of(received: &Received) -> u32 {
    expect_message!(&received.message, ServerMessage::BroadcastAck { recipients, .. } => *recipients)
}

/// The one message a connection got; none, or more than one, fails the test.
fn only(seen: Vec<Received>) -> Received {
    assert_eq!(seen.len(), 1, "expected one message, got {seen:?}");
    seen.into_iter().next().unwrap()
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
    let to_b = only(sim.received(b.0));
    assert!(to_b.seq.is_some(), "sequenced");
    let expected = ServerMessage::Direct { timestamp: T0 / 1000, from: a.1.clone(), id: "d-1".into(), payload };
    assert_eq!(to_b.message, expected, "the payload arrives as sent");
    let to_a = only(sim.received(a.0));
    assert!(to_a.seq.is_some());
    let ack = ServerMessage::DirectAck { timestamp: T0 / 1000, id: "d-1".into(), to: b.1.clone(), queued: false };
    assert_eq!(to_a.message, ack);
    assert_eq!(sim.received(c.0), []);
    assert_eq!(sim.received(legacy.0), []);
}

/// An unknown recipient, a 1.0 recipient, a payload over 8 KiB, a missing field: an `error`
/// to the sender (with its id where it names a recipient), nothing to anyone else, and the
/// connection stays open.
#[test]
fn direct_errors_change_nothing() {
    let Party { mut sim, a, b, c, legacy } = party();
    sim.send(a.0, &direct("m-nobody", "d-2", json!(1)));
    let error = only(sim.received(a.0));
    assert_eq!(error.seq, None, "errors are not sequenced");
    let (code, _, details) = error_of(&error);
    let unknown = json!({"to": "m-nobody", "id": "d-2", "reason": reason::UNKNOWN_MEMBER});
    assert_eq!((code, details), (ErrorCode::RecipientUnavailable, unknown));

    sim.send(a.0, &direct(&legacy.1, "d-3", json!("hi")));
    let (code, _, details) = error_of(&only(sim.received(a.0)));
    let loudsync = json!({"to": legacy.1, "id": "d-3", "reason": reason::LOUDSYNC_CLIENT});
    assert_eq!((code, details), (ErrorCode::RecipientUnavailable, loudsync));

    let big = json!("x".repeat(8 * 1024));
    sim.send(a.0, &direct(&b.1, "d-4", big));
    let (code, message, _) = error_of(&only(sim.received(a.0)));
    assert_eq!(code, ErrorCode::InvalidMessage);
    assert!(message.starts_with("direct: payload is 8194 bytes"), "{message}");

    sim.send(a.0, &direct(&b.1, &"i".repeat(65), json!(1)));
    assert_eq!(error_of(&only(sim.received(a.0))).0, ErrorCode::InvalidMessage);
    // Written out: a direct without `to` cannot be built typed.
    sim.send(a.0, r#"{"type":"direct","timestamp":1,"id":"d-5","payload":1}"#);
    assert_eq!(error_of(&only(sim.received(a.0))).1, "direct: missing field `to`");

    for conn in [b.0, c.0, legacy.0] {
        assert_eq!(sim.received(conn), [], "nothing reached {conn}");
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
    let (code, _, details) = error_of(&only(sim.received(legacy.0)));
    assert_eq!((code, details), (ErrorCode::InvalidMessage, json!({"reason": reason::EXTENSION_ONLY})));
    assert_eq!(sim.received(a.0), []);
}

/// A member that drops gets the direct messages (and acks) sent meanwhile on resume, with their
/// original sequence numbers.
#[test]
fn resume_replays_direct_messages() {
    let mut sim = Sim::new(Config::default());
    let (x, x_id, secret) = sim.join_resumable("dev-x");
    let (y, y_id) = sim.join("dev-y", true);
    let last_seq = sim.received(x).last().unwrap().seq.unwrap(); // member_joined y
    sim.send(x, &direct(&y_id, "before", json!(0)));
    let ack_seq = only(sim.received(x)).seq.unwrap();
    assert_eq!(ack_seq, last_seq + 1);

    sim.session.handle_disconnect(sim.now, x, false);
    sim.flush();
    sim.take(y);
    sim.send(y, &direct(&x_id, "while-away-1", json!({"n": 1})));
    sim.send(y, &direct(&x_id, "while-away-2", json!({"n": 2})));
    assert_eq!(sim.types(y), ["direct_ack", "direct_ack"], "queued for a reconnecting member");

    let back = sim.connect();
    sim.send_msg(back, resume_msg(&x_id, &secret, ack_seq));
    let seen = sim.received(back);
    assert_eq!(expect_message!(&seen[0].message, ServerMessage::Resumed { replayed, .. } => *replayed), 2);
    let directs: Vec<(Option<u64>, ServerMessage)> = seen[1..].iter().map(|m| (m.seq, m.message.clone())).collect();
    let direct = |id: &str, n| ServerMessage::Direct {
        timestamp: T0 / 1000,
        from: y_id.clone(),
        id: id.into(),
        payload: json!({"n": n}),
    };
    assert_eq!(
        directs,
        [(Some(ack_seq + 1), direct("while-away-1", 1)), (Some(ack_seq + 2), direct("while-away-2", 2))]
    );
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
    let to_b = sim.received(b.0);
    let ids: Vec<String> =
        to_b.into_iter().map(|m| expect_message!(m.message, ServerMessage::Direct { id, .. } => id)).collect();
    assert_eq!(ids, ["d-0", "d-1", "d-2", "d-3", "d-4"]);
    let to_a = sim.received(a.0);
    let answers: Vec<&str> = to_a
        .iter()
        .map(|m| match &m.message {
            ServerMessage::Error { code: ErrorCode::RateLimited, .. } => "rate_limited",
            other => other.kind(),
        })
        .collect();
    assert_eq!(answers, ["direct_ack"; 5].into_iter().chain(["rate_limited"; 3]).collect::<Vec<_>>());
    sim.advance(SECOND);
    send(&mut sim, &mut bucket, 9);
    assert_eq!(sim.types(b.0), ["direct"]);
    assert_eq!(only(sim.received(a.0)).kind(), "direct_ack");
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
    ClientMessage::Broadcast(Broadcast {
        timestamp: 1.into(),
        id: id.into(),
        topic,
        payload: json!({"n": id}),
        ack,
        ttl: None,
    })
    .to_text()
}

/// subscribe / unsubscribe answer with the member's whole list, sorted, without duplicates.
#[test]
fn subscriptions_are_the_full_list() {
    let Party { mut sim, a, b, .. } = party();
    sim.send(a.0, &topics_msg("subscribe", &["game", "chat.room-1"]));
    let seen = only(sim.received(a.0));
    assert_eq!(topics_of(&seen), ["chat.room-1", "game"]);
    assert!(seen.seq.is_some());
    sim.send(a.0, &topics_msg("subscribe", &["game", "x_y"]));
    assert_eq!(topics_of(&only(sim.received(a.0))), ["chat.room-1", "game", "x_y"]);
    sim.send(a.0, &topics_msg("unsubscribe", &["game", "never-had"]));
    assert_eq!(topics_of(&only(sim.received(a.0))), ["chat.room-1", "x_y"]);
    sim.send(a.0, &topics_msg("subscribe", &[]));
    assert_eq!(topics_of(&only(sim.received(a.0))), ["chat.room-1", "x_y"], "an empty list asks for the list");
    assert_eq!(sim.received(b.0), [], "nobody else hears of it");
}

/// A bad topic name, or a 33rd topic: an error, and the subscriptions stay as they were.
#[test]
fn bad_topics_change_nothing() {
    let Party { mut sim, a, b, .. } = party();
    sim.send(a.0, &topics_msg("subscribe", &["keep"]));
    sim.take(a.0);
    sim.send(a.0, &topics_msg("subscribe", &["fine", "Not-Fine"]));
    let (code, message, _) = error_of(&only(sim.received(a.0)));
    assert_eq!(code, ErrorCode::InvalidMessage);
    assert!(message.starts_with("subscribe: topic \"Not-Fine\""), "{message}");
    sim.send(a.0, &topics_msg("unsubscribe", &["keep", "bad name"]));
    assert_eq!(error_of(&only(sim.received(a.0))).0, ErrorCode::InvalidMessage);

    let many: Vec<String> = (0..31).map(|i| format!("t{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    sim.send(a.0, &topics_msg("subscribe", &many));
    assert_eq!(topics_of(&only(sim.received(a.0))).len(), 32, "keep + 31: the limit");
    sim.send(a.0, &topics_msg("subscribe", &["t0", "one-too-many"]));
    let (code, _, details) = error_of(&only(sim.received(a.0)));
    let too_many = json!({"reason": reason::TOO_MANY_TOPICS, "maxTopics": 32});
    assert_eq!((code, details), (ErrorCode::InvalidMessage, too_many));
    sim.send(a.0, &topics_msg("subscribe", &["t0"]));
    assert_eq!(topics_of(&only(sim.received(a.0))).len(), 32, "re-subscribing is no new topic");

    // "fine" was never added, "keep" never removed: a broadcast to them shows it.
    sim.send(b.0, &broadcast("b-1", Some("fine"), true));
    assert_eq!(recipients_of(&only(sim.received(b.0))), 0);
    sim.send(b.0, &broadcast("b-2", Some("keep"), true));
    assert_eq!(recipients_of(&only(sim.received(b.0))), 1);
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
    let to_b = only(sim.received(b.0));
    let sent = |id: &str, from: &str, topic: Option<&str>| ServerMessage::Broadcast {
        timestamp: T0 / 1000,
        from: from.into(),
        id: id.into(),
        topic: topic.map(str::to_string),
        payload: json!({"n": id}),
    };
    assert_eq!(to_b.message, sent("b-1", &a.1, Some("game")));
    assert!(to_b.seq.is_some_and(|seq| seq > 0), "sequenced");
    let to_a = sim.received(a.0);
    assert_eq!(to_a.len(), 1, "not its own broadcast: {to_a:?}");
    let ack = ServerMessage::BroadcastAck { timestamp: T0 / 1000, id: "b-1".into(), recipients: 1 };
    assert_eq!(to_a[0].message, ack);
    assert_eq!(sim.received(c.0), [], "c is not subscribed");

    sim.send(c.0, &broadcast("b-2", None, false));
    assert_eq!(sim.received(c.0), [], "no ack unless asked");
    for conn in [a.0, b.0] {
        assert_eq!(only(sim.received(conn)).message, sent("b-2", &c.1, None), "no topic when sent to all");
    }
    sim.send(b.0, &broadcast("b-3", None, true));
    assert_eq!(recipients_of(&only(sim.received(b.0))), 2, "a and c; not the 1.0 member");
    assert_eq!(sim.received(legacy.0), []);

    // A 1.0 member may not broadcast (its ack would be a type it does not know).
    sim.take(a.0);
    sim.take(c.0);
    sim.send(legacy.0, &broadcast("b-4", None, true));
    assert_eq!(only(sim.received(legacy.0)).message.error_reason(), Some(reason::EXTENSION_ONLY));
    sim.send(legacy.0, &topics_msg("subscribe", &["game"]));
    assert_eq!(only(sim.received(legacy.0)).message.error_reason(), Some(reason::EXTENSION_ONLY));
    assert_eq!(sim.received(a.0), []);
    assert_eq!(sim.received(c.0), []);
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
    let last_seq = only(sim.received(x)).seq.unwrap();

    sim.session.handle_disconnect(sim.now, x, false);
    sim.flush();
    sim.take(y);
    sim.send(y, &broadcast("while-away", Some("news"), true));
    assert_eq!(recipients_of(&only(sim.received(y))), 1, "a reconnecting subscriber counts");

    let back = sim.connect();
    sim.send_msg(back, resume_msg(&x_id, &secret, last_seq));
    let seen = sim.received(back);
    let types: Vec<&str> = seen.iter().map(Received::kind).collect();
    assert_eq!(types, ["resumed", "broadcast"]);
    let id = expect_message!(&seen[1].message, ServerMessage::Broadcast { id, .. } => id.as_str());
    assert_eq!((id, seen[1].seq), ("while-away", Some(last_seq + 1)));
    assert_eq!(sim.types(y), ["member_updated"], "x is connected again");
    sim.send(y, &broadcast("after", Some("news"), true));
    assert_eq!(recipients_of(&only(sim.received(y))), 1, "still subscribed after the resume");
    assert_eq!(sim.types(back), ["broadcast"]);

    // The same device joins afresh: no topics.
    let again = sim.connect();
    sim.send_msg(again, join_msg("dev-x", true));
    sim.take(y);
    sim.send(y, &broadcast("fresh", Some("news"), true));
    assert_eq!(recipients_of(&only(sim.received(y))), 0);
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
    let update = |status, text: Option<&str>| ServerMessage::PresenceUpdate {
        timestamp: T0 / 1000,
        member_id: a.1.clone(),
        status,
        text: text.map(str::to_string),
    };
    for conn in [b.0, c.0] {
        let seen = only(sim.received(conn));
        assert!(seen.seq.is_some(), "sequenced");
        assert_eq!(seen.message, update(PresenceStatus::Away, Some("back in 5")), "the text trimmed");
    }
    assert_eq!(sim.received(a.0), [], "not to the sender");
    assert_eq!(sim.received(legacy.0), [], "not to a 1.0 member");
    let events = sim.events();
    assert!(
        matches!(&events[..], [Event::Presence { member_id, status: PresenceStatus::Away, text: Some(text), .. }]
            if *member_id == a.1 && text == "back in 5"),
        "{events:?}"
    );
    sim.send(a.0, &presence(PresenceStatus::Online, None));
    // The exact fields: no text, no key (read as JSON on purpose).
    let seen = sim.messages(b.0);
    assert_eq!(keys(&seen[0]), ["memberId", "seq", "status", "timestamp", "type"], "no text, no key");
    assert_eq!(seen[0]["status"], "online");
    sim.take(c.0);

    // Bad input: an error to the sender, nothing to anyone.
    // Written out: no PresenceStatus is "asleep".
    sim.send(a.0, r#"{"type":"presence","timestamp":1,"status":"asleep"}"#);
    sim.send(a.0, &presence(PresenceStatus::Busy, Some(&"t".repeat(65))));
    let errors = sim.received(a.0);
    let codes: Vec<ErrorCode> = errors.iter().map(|m| error_of(m).0).collect();
    assert_eq!(codes, [ErrorCode::InvalidMessage; 2]);
    sim.send(legacy.0, &presence(PresenceStatus::Busy, None));
    assert_eq!(only(sim.received(legacy.0)).message.error_reason(), Some(reason::EXTENSION_ONLY));
    for conn in [b.0, c.0, legacy.0] {
        assert_eq!(sim.received(conn), []);
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
    let seen = sim.received(d);
    let types: Vec<&str> = seen.iter().map(Received::kind).collect();
    assert_eq!(types, ["welcome", "hello", "member_list", "library.update", "syncplay.state", "presence_update"]);
    let busy = ServerMessage::PresenceUpdate {
        timestamp: T0 / 1000,
        member_id: a.1.clone(),
        status: PresenceStatus::Busy,
        text: Some("DJing".into()),
    };
    assert_eq!(seen[5].message, busy, "only a is not plain online");
    assert_eq!(seen[5].seq, Some(seen[4].seq.unwrap() + 1));

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
        let update = sim.received(conn).into_iter().find(|m| m.kind() == "presence_update").expect("told");
        let update = expect_message!(update.message,
            ServerMessage::PresenceUpdate { member_id, status, .. } => (member_id, status));
        assert_eq!(update, (a.1.clone(), PresenceStatus::Online));
    }
    assert!(sim.events().iter().any(|e| matches!(e, Event::Presence { status: PresenceStatus::Online, .. })));
    assert_eq!(sim.received(e), [], "the 1.0 member hears nothing of it");
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
    let relayed = |from: &str, signal: &Value| Received {
        seq: None,
        message: ServerMessage::VoiceSignal {
            timestamp: T0 / 1000,
            from: from.into(),
            signal: signal.as_object().unwrap().clone(),
        },
    };
    assert_eq!(sim.received(b.0), [relayed(&a.1, &offer)], "as sent, with no seq");
    let candidate = json!({"candidate": "candidate:1 1 udp 2122260223 192.168.1.5 54321 typ host", "sdpMid": "0"});
    sim.send(b.0, &voice(&a.1, candidate.clone()));
    assert_eq!(sim.received(a.0), [relayed(&b.1, &candidate)]);
    assert_eq!(sim.received(b.0), [], "no ack");
    assert_eq!(sim.received(c.0), []);
    assert_eq!(sim.received(legacy.0), []);
}

/// Unknown, 1.0 and reconnecting recipients, a signal that is no object, a signal over 16 KiB,
/// a 1.0 sender: an error to the sender, nothing to anyone.
#[test]
fn voice_signal_errors_change_nothing() {
    let Party { mut sim, a, b, c, legacy } = party();
    let refusal = |sim: &mut Sim, conn: ConnId| {
        let error = only(sim.received(conn));
        (error_of(&error).0, error.message.error_reason().map(str::to_string))
    };
    let unavailable = |why: &str| (ErrorCode::RecipientUnavailable, Some(why.to_string()));
    sim.send(a.0, &voice("m-nobody", json!({"type": "offer"})));
    assert_eq!(refusal(&mut sim, a.0), unavailable(reason::UNKNOWN_MEMBER));
    sim.send(a.0, &voice(&legacy.1, json!({"type": "offer"})));
    assert_eq!(refusal(&mut sim, a.0), unavailable(reason::LOUDSYNC_CLIENT));
    // Written out: a signal that is no object cannot be built typed.
    sim.send(a.0, r#"{"type":"voice.signal","timestamp":1,"to":"m-any","signal":"offer"}"#);
    assert_eq!(refusal(&mut sim, a.0).0, ErrorCode::InvalidMessage);
    sim.send(a.0, &voice(&b.1, json!({"sdp": "s".repeat(16 * 1024)})));
    assert_eq!(refusal(&mut sim, a.0).0, ErrorCode::InvalidMessage);
    sim.send(legacy.0, &voice(&a.1, json!({"type": "offer"})));
    let extension_only = (ErrorCode::InvalidMessage, Some(reason::EXTENSION_ONLY.to_string()));
    assert_eq!(refusal(&mut sim, legacy.0), extension_only);
    sim.session.handle_disconnect(sim.now, c.0, false);
    sim.flush();
    sim.take(b.0);
    sim.take(legacy.0);
    sim.send(a.0, &voice(&c.1, json!({"type": "offer"})));
    let seen = sim.received(a.0);
    let errors: Vec<&Received> = seen.iter().filter(|m| m.kind() == "error").collect();
    assert_eq!(errors.len(), 1, "{seen:?}");
    assert_eq!(error_of(errors[0]).2, json!({"to": c.1, "reason": reason::RECONNECTING}));
    for conn in [b.0, legacy.0] {
        assert_eq!(sim.received(conn), []);
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
    let last_seq = sim.received(x).last().unwrap().seq.unwrap();
    // Delivered on the old connection but (being unsequenced) not kept.
    sim.send(y, &voice(&x_id, json!({"type": "offer", "sdp": "old"})));
    assert_eq!(sim.types(x), ["voice.signal"]);

    sim.session.handle_disconnect(sim.now, x, false);
    sim.flush();
    sim.take(y);
    sim.send(y, &voice(&x_id, json!({"candidate": "stale"})));
    assert_eq!(only(sim.received(y)).message.error_reason(), Some(reason::RECONNECTING));
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
    let pizza = ServerMessage::Notification {
        timestamp: T0 / 1000,
        id: "n-1".into(),
        title: "Pizza is here".into(),
        body: "In the kitchen".into(),
        level: NotificationLevel::Info,
        from: sim.session.state().host_id,
        name: "Host".into(),
        actions: vec![],
        read: None,
    };
    for conn in [a.0, b.0] {
        let seen = only(sim.received(conn));
        assert!(seen.seq.is_some(), "sequenced");
        assert_eq!(seen.message, pizza, "the title trimmed");
    }
    assert_eq!(sim.received(legacy.0), [], "never to a 1.0 member");

    assert_eq!(sim.session.notify(sim.now, "  ", "", NotificationLevel::Alert), Err(SessionError::BadNotification));
    let long = "t".repeat(101);
    assert_eq!(sim.session.notify(sim.now, &long, "", NotificationLevel::Alert), Err(SessionError::BadNotification));
    let body = "b".repeat(1001);
    assert_eq!(sim.session.notify(sim.now, "t", &body, NotificationLevel::Alert), Err(SessionError::BadNotification));
    sim.flush();
    for conn in [a.0, b.0, legacy.0] {
        assert_eq!(sim.received(conn), [], "a refused notification sends nothing");
    }
    assert_eq!(sim.session.notify(sim.now, "Last call", "", NotificationLevel::Alert).unwrap(), "n-2");
    sim.flush();
    let level = expect_message!(only(sim.received(a.0)).message, ServerMessage::Notification { level, .. } => level);
    assert_eq!(level, NotificationLevel::Alert);

    sim.events();
    sim.send(a.0, &mark_read(&["n-1", "n-2"]));
    assert_eq!(sim.received(a.0), [], "no reply");
    let events = sim.events();
    assert!(
        matches!(&events[..], [Event::NotificationsRead { member_id, ids, .. }] if *member_id == a.1 && ids == &["n-1", "n-2"]),
        "{events:?}"
    );
    sim.send(legacy.0, &mark_read(&["n-1"]));
    assert_eq!(only(sim.received(legacy.0)).message.error_reason(), Some(reason::EXTENSION_ONLY));
    assert_eq!(sim.events(), []);
    assert_eq!(sim.take(c.0), [], "nothing on a dropped connection");
}

/// A member that was reconnecting when notifications went out gets them on resume.
#[test]
fn resume_replays_notifications() {
    let mut sim = Sim::new(Config::default());
    let x = sim.connect();
    sim.send_msg(x, join_msg("dev-x", true));
    let seen = sim.received(x);
    let last_seq = seen.iter().filter_map(|m| m.seq).max().unwrap();
    let (x_id, secret) = expect_message!(&seen[0].message,
        ServerMessage::Welcome { client_id, resume_secret: Some(secret), .. } => (client_id.clone(), secret.clone()));
    sim.session.handle_disconnect(sim.now, x, false);
    sim.session.notify(sim.now, "While you were away", "", NotificationLevel::Warning).unwrap();
    let back = sim.connect();
    sim.send_msg(back, resume_msg(&x_id, &secret, last_seq));
    let seen = sim.received(back);
    let types: Vec<&str> = seen.iter().map(Received::kind).collect();
    assert_eq!(types, ["resumed", "notification"]);
    let level = expect_message!(&seen[1].message, ServerMessage::Notification { level, .. } => *level);
    assert_eq!((seen[1].seq, level), (Some(last_seq + 1), NotificationLevel::Warning));
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
    assert_eq!(sim.received(legacy.0), []);
    let types: Vec<String> = [sim.types(a.0), sim.types(b.0)].concat();
    for kind in ["direct", "direct_ack", "subscriptions", "broadcast", "broadcast_ack", "voice.signal", "notification"]
    {
        assert!(types.iter().any(|t| t == kind), "the extension members did get {kind}: {types:?}");
    }
    let l2 = sim.connect();
    sim.send_msg(l2, join_msg("dev-l2", false));
    assert_eq!(sim.types(l2), ["welcome", "member_list"]);
}

/// A shared photo reaches every extension member as `photo.shared` with the sharer's id and
/// name, and the host as `Event::PhotoShared`; a later partyline/1 joiner's `welcome` lists it
/// (the newest `WELCOME_PHOTOS` only), a 1.0 member and a 1.0 joiner see none of it, and a
/// device that is not in the party shares nothing.
#[test]
fn photos_are_announced_and_listed() {
    let Party { mut sim, a, b, legacy, .. } = party();
    sim.events();
    let now = sim.now;
    let photo = sim.session.share_photo(now, "dev-a", "u-1", "/media/guests/u-1.jpg", "Sunset.jpg").unwrap();
    let name_a = sim.session.member_by_device("dev-a").expect("dev-a is a member").name;
    assert_eq!((photo.from.as_str(), photo.from_name.as_str()), (a.1.as_str(), name_a.as_str()));
    sim.flush();
    let to_b = only(sim.received(b.0));
    assert_eq!(to_b.message, ServerMessage::PhotoShared { photo: photo.clone() }, "b hears of it");
    assert!(to_b.seq.is_some(), "sequenced, so a resume replays it");
    assert_eq!(only(sim.received(a.0)).message, ServerMessage::PhotoShared { photo: photo.clone() }, "so does a");
    assert_eq!(sim.received(legacy.0), [], "nothing for a 1.0 member");
    assert!(sim.events().contains(&Event::PhotoShared(photo.clone())), "the host's UI hears of it");
    assert_eq!(
        sim.session.share_photo(now, "dev-nobody", "u-2", "/media/guests/u-2.jpg", "x.jpg"),
        Err(SessionError::NoSuchDevice("dev-nobody".into()))
    );
    for i in 0..partyline_protocol::WELCOME_PHOTOS {
        sim.session.share_photo(now, "dev-b", &format!("u-b{i}"), "/media/guests/x.png", "x.png").unwrap();
    }
    let photos = sim.session.photos();
    assert_eq!(photos.len(), partyline_protocol::WELCOME_PHOTOS, "the newest are kept");
    assert_eq!((photos[0].id.as_str(), photos.last().unwrap().id.as_str()), ("u-b0", "u-b49"), "oldest first");
    let late = sim.connect();
    sim.send_msg(late, sim::join_msg("dev-late", true));
    let welcome = sim.received(late).into_iter().next().expect("a welcome");
    let listed = expect_message!(welcome.message, ServerMessage::Welcome { photos, .. } => photos);
    assert_eq!(listed, Some(photos), "the late joiner's welcome lists them");
    let l2 = sim.connect();
    sim.send_msg(l2, join_msg("dev-l2", false));
    let welcome = sim.messages(l2).into_iter().next().expect("a welcome");
    assert_eq!(welcome.get("photos"), None, "a 1.0 welcome is LOUDSYNC's: {welcome}");
}
