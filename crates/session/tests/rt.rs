//! Seed 001 in the session core: what its metadata and binary frames do to the party. A
//! `ttl` bounds how long a direct message waits for a seed-001 member that is reconnecting and
//! how long a broadcast stays in its topic's history (decided on the session's `now`, so
//! checked a microsecond before and at the expiry); binary broadcasts and streams reach exactly
//! the seed-001 subscribers, binary direct messages exactly their seed-001 target (held while
//! it is away), each acknowledged with the payload's sha256; host notifications carry at most
//! three http(s) actions. All on virtual time.

mod sim;

use partyline_protocol::binary::{self, BinaryKind};
use partyline_protocol::{NotificationAction, NotificationLevel, ServerMessage, expect_message};
use partyline_session::{Config, ConnId, SECOND, SessionError};
use serde_json::{Value, json};
use sim::{Seen, Sim};

/// Feeds a binary frame as the I/O layer does: decoded (with its checksum) where it was read.
fn send_binary(sim: &mut Sim, conn: ConnId, kind: BinaryKind, payload: &[u8]) {
    let frame = binary::encode(kind, payload);
    match partyline_protocol::rt::decode_binary(frame.into()) {
        Ok(message) => sim.session.handle_message(sim.now, conn, message),
        Err(err) => sim.session.handle_invalid(sim.now, conn, &err),
    }
    sim.flush();
}

/// `[1 byte length][address][data]`, as 0x01, 0x02 and 0x04 carry it.
fn addressed(address: &str, data: &[u8]) -> Vec<u8> {
    [&[address.len() as u8][..], address.as_bytes(), data].concat()
}

/// What a connection got since last asked: JSON frames of one type, and binary frames.
fn frames(sim: &mut Sim, conn: ConnId) -> (Vec<Value>, Vec<Vec<u8>>) {
    let (mut json, mut bytes) = (Vec::new(), Vec::new());
    for seen in sim.take(conn) {
        match seen {
            Seen::Msg(message) => json.push(message),
            Seen::Binary(frame) => bytes.push(frame),
            Seen::Probe(_) | Seen::Closed(_) => {}
        }
    }
    (json, bytes)
}

fn of_type(json: &[Value], kind: &str) -> Vec<Value> {
    json.iter().filter(|m| m["type"] == kind).cloned().collect()
}

/// A seed-001 member's id, from its welcome.
fn rt_member(sim: &mut Sim, name: &str, device: &str) -> (ConnId, String) {
    let conn = sim.connect_rt(name, Some(device));
    let (json, _) = frames(sim, conn);
    let welcome = of_type(&json, "Status").into_iter().next().expect("a welcome");
    (conn, welcome["data"]["details"]["connection_id"].as_str().unwrap().to_string())
}

/// Rita (seed 001) drops; Sam sends her three direct messages, with a ttl of 60 s, of 600 s and
/// none; she comes back `after` later. Returns the payloads' `n` she got.
fn held_directs_after(after: u64) -> Vec<u64> {
    let mut sim = Sim::new(Config::default());
    let (sam, _) = rt_member(&mut sim, "sam", "sam-1");
    let (rita, rita_id) = rt_member(&mut sim, "rita", "rita-1");
    sim.session.handle_disconnect(sim.now, rita, false);
    sim.flush();
    for (n, ttl) in [(1, Some(60)), (2, Some(600)), (3, None)] {
        let metadata = ttl.map_or(Value::Null, |ttl| json!({"ttl": ttl, "priority": "high"}));
        let dm = json!({"type": "DirectMessage", "data": {"target_user": rita_id, "payload": {"n": n}},
                        "id": format!("dm-{n}"), "metadata": metadata});
        sim.send_rt(sam, &dm.to_string());
    }
    let (json, _) = frames(&mut sim, sam);
    let queued = of_type(&json, "Error");
    assert_eq!(queued.len(), 3, "each is Error 404 queued: {json:?}");
    assert!(queued.iter().all(|e| e["data"]["code"] == 404 && e["data"]["details"]["queued"] == true), "{queued:?}");
    sim.advance(after);
    let back = sim.connect_rt("rita", Some("rita-1"));
    let (json, _) = frames(&mut sim, back);
    of_type(&json, "DirectMessage").iter().map(|m| m["data"]["payload"]["n"].as_u64().unwrap()).collect()
}

/// A direct message's `ttl` bounds its wait for a seed-001 member that is reconnecting: a
/// microsecond before it expires it is delivered, at its expiry it is not; the others wait on.
#[test]
fn ttl_bounds_a_held_direct_message() {
    assert_eq!(held_directs_after(60 * SECOND - 1), vec![1, 2, 3], "all three, just before the first expires");
    assert_eq!(held_directs_after(60 * SECOND), vec![2, 3], "the 60 s one expired");
    assert_eq!(held_directs_after(100 * SECOND), vec![2, 3], "the others wait on");
}

/// A broadcast's `ttl` bounds its stay in the topic's history; a broadcast without one stays.
#[test]
fn ttl_bounds_a_broadcasts_history() {
    let mut sim = Sim::new(Config::default());
    let (sam, _) = rt_member(&mut sim, "sam", "sam-1");
    for (n, metadata) in [(1, json!(null)), (2, json!({"ttl": 30})), (3, json!({"ttl": 3600}))] {
        let cast =
            json!({"type": "Broadcast", "data": {"topic": "quiz.q1", "payload": {"n": n}}, "metadata": metadata});
        sim.send_rt(sam, &cast.to_string());
    }
    let history = |sim: &mut Sim| -> Vec<u64> {
        sim.take(sam);
        sim.send_rt(sam, r#"{"type": "History", "data": {"topic": "quiz.q1"}}"#);
        let (json, _) = frames(sim, sam);
        let history = of_type(&json, "History").pop().expect("History");
        history["data"]["messages"].as_array().unwrap().iter().map(|m| m["payload"]["n"].as_u64().unwrap()).collect()
    };
    sim.advance(30 * SECOND - 1);
    assert_eq!(history(&mut sim), vec![1, 2, 3], "before the 30 s one expires");
    sim.advance(1);
    assert_eq!(history(&mut sim), vec![1, 3], "at its expiry it is gone");
}

/// Bad metadata, or an encryption or compression the host cannot honour, is Error 400 and
/// nothing is sent.
#[test]
fn bad_metadata_is_refused() {
    let mut sim = Sim::new(Config::default());
    let (sam, _) = rt_member(&mut sim, "sam", "sam-1");
    let (rita, _) = rt_member(&mut sim, "rita", "rita-1");
    sim.send_rt(rita, r#"{"type": "Subscribe", "data": {"topics": ["chat"]}}"#);
    sim.take(rita);
    sim.take(sam);
    for metadata in [json!({"encryption": "aes256"}), json!({"compression": "gzip"}), json!({"ttl": "soon"})] {
        let cast =
            json!({"type": "Broadcast", "data": {"topic": "chat", "payload": 1}, "id": "b", "metadata": metadata});
        sim.send_rt(sam, &cast.to_string());
        let (json, _) = frames(&mut sim, sam);
        assert_eq!(json.len(), 1, "{metadata}: one answer, got {json:?}");
        assert_eq!(json[0]["data"]["code"], 400, "{metadata}: {}", json[0]);
    }
    assert_eq!(frames(&mut sim, rita), (vec![], vec![]), "nothing reached the subscriber");
}

/// A binary broadcast (0x01) and stream (0x04) reach, as they came, the connected seed-001
/// members whose subscriptions take the topic (a wildcard included), not the sender, not a
/// partyline/1 member subscribed to it; the ack has the size, type, sha256 and count.
#[test]
fn binary_broadcasts_and_streams_reach_seed_001_subscribers() {
    let mut sim = Sim::new(Config::default());
    let (sam, _) = rt_member(&mut sim, "sam", "sam-1");
    let (rita, _) = rt_member(&mut sim, "rita", "rita-1");
    let (other, _) = rt_member(&mut sim, "olga", "olga-1");
    let (phone, _) = sim.join("phone-1", true);
    sim.send_rt(rita, r#"{"type": "Subscribe", "data": {"topics": ["updates.*"]}}"#);
    sim.send_rt(sam, r#"{"type": "Subscribe", "data": {"topics": ["updates.*"]}}"#);
    sim.send_rt(other, r#"{"type": "Subscribe", "data": {"topics": ["chat"]}}"#);
    sim.send(phone, r#"{"type": "subscribe", "timestamp": 1, "topics": ["updates.score"]}"#);
    for conn in [sam, rita, other, phone] {
        sim.take(conn);
    }
    for kind in [BinaryKind::Broadcast, BinaryKind::StreamData] {
        let payload = addressed("updates.score", &[0, 1, 2, 255]);
        send_binary(&mut sim, sam, kind, &payload);
        let (json, bytes) = frames(&mut sim, sam);
        assert!(bytes.is_empty(), "{kind:?}: not back to its sender");
        let details = &json[0]["data"]["details"];
        assert_eq!(json[0]["data"]["status"], "binary_received");
        assert_eq!(
            details,
            &json!({"size": payload.len(), "type": kind.name(), "checksum": binary::checksum(&payload), "recipients": 1}),
            "{kind:?}"
        );
        assert_eq!(frames(&mut sim, rita).1, vec![binary::encode(kind, &payload)], "{kind:?}: the same frame");
        assert_eq!(frames(&mut sim, other), (vec![], vec![]), "{kind:?}: not subscribed");
        assert!(sim.take(phone).is_empty(), "{kind:?}: partyline/1 has no binary frames");
    }
    // A stream is never held: rita away, nothing waits for her.
    sim.session.handle_disconnect(sim.now, rita, false);
    sim.flush();
    send_binary(&mut sim, sam, BinaryKind::StreamData, &addressed("updates.score", b"x"));
    assert_eq!(of_type(&frames(&mut sim, sam).0, "Status")[0]["data"]["details"]["recipients"], 0);
    let back = sim.connect_rt("rita", Some("rita-1"));
    assert!(frames(&mut sim, back).1.is_empty(), "no stream data was kept for her");
}

/// A binary direct message (0x02) reaches its seed-001 target as `[sender][data]`, waits for it
/// while it is reconnecting, and is Error 404 for a partyline/1 member or nobody.
#[test]
fn binary_direct_messages() {
    let mut sim = Sim::new(Config::default());
    let (sam, sam_id) = rt_member(&mut sim, "sam", "sam-1");
    let (rita, rita_id) = rt_member(&mut sim, "rita", "rita-1");
    let (phone, phone_id) = sim.join("phone-1", true);
    sim.take(rita);
    let mut expected = addressed(&sam_id, b"\x00psst");
    send_binary(&mut sim, sam, BinaryKind::Direct, &addressed(&rita_id, b"\x00psst"));
    assert_eq!(frames(&mut sim, rita).1, vec![binary::encode(BinaryKind::Direct, &expected)]);
    let ack = of_type(&frames(&mut sim, sam).0, "Status").pop().unwrap();
    assert_eq!(ack["data"]["details"]["delivered_to"], json!([rita_id]));
    assert_eq!(ack["data"]["details"]["type"], "direct_message");

    for target in [phone_id.as_str(), "m-nobody"] {
        send_binary(&mut sim, sam, BinaryKind::Direct, &addressed(target, b"hi"));
        let (json, _) = frames(&mut sim, sam);
        assert_eq!(json.len(), 1, "{target}: only the error, got {json:?}");
        assert_eq!(
            (json[0]["type"].as_str(), json[0]["data"]["code"].as_u64()),
            (Some("Error"), Some(404)),
            "{target}"
        );
    }
    assert!(sim.take(phone).iter().all(|seen| !matches!(seen, Seen::Binary(_))), "nothing binary to a phone");

    sim.session.handle_disconnect(sim.now, rita, false);
    sim.flush();
    send_binary(&mut sim, sam, BinaryKind::Direct, &addressed(&rita_id, b"later"));
    let ack = of_type(&frames(&mut sim, sam).0, "Status").pop().unwrap();
    assert_eq!(
        (&ack["data"]["details"]["delivered_to"], &ack["data"]["details"]["queued"]),
        (&json!([]), &json!(true))
    );
    let back = sim.connect_rt("rita", Some("rita-1"));
    expected = addressed(&sam_id, b"later");
    assert_eq!(frames(&mut sim, back).1, vec![binary::encode(BinaryKind::Direct, &expected)], "held, then delivered");
}

/// Host notifications carry their actions to partyline/1 and seed 001 alike; more than three,
/// a URL that is not http(s) or a blank label is refused and nothing goes out.
#[test]
fn notification_actions() {
    let mut sim = Sim::new(Config::default());
    let (rita, _) = rt_member(&mut sim, "rita", "rita-1");
    let (phone, _) = sim.join("phone-1", true);
    sim.take(rita);
    sim.take(phone);
    let action = |label: &str, url: &str| NotificationAction { label: label.into(), url: url.into() };
    let menu = vec![action(" Menu ", "https://example.com/menu?x=1"), action("Map", "http://192.168.1.20/map")];
    sim.session.notify_with_actions(sim.now, "Pizza", "in the kitchen", NotificationLevel::Info, menu).unwrap();
    sim.flush();
    let note = sim.received(phone).pop().unwrap().message;
    let actions = expect_message!(note, ServerMessage::Notification { actions, .. } => actions);
    assert_eq!(actions, vec![action("Menu", "https://example.com/menu?x=1"), action("Map", "http://192.168.1.20/map")]);
    let (json, _) = frames(&mut sim, rita);
    assert_eq!(
        of_type(&json, "Notification")[0]["data"]["actions"],
        json!([{"label": "Menu", "url": "https://example.com/menu?x=1"}, {"label": "Map", "url": "http://192.168.1.20/map"}])
    );
    for bad in [
        vec![action("a", "https://a.example"); 4],
        vec![action("Run", "javascript:alert(1)")],
        vec![action("Run", "JavaScript://%0aalert(1)")],
        vec![action("File", "ftp://example.com/x")],
        vec![action("Data", "data:text/html,<b>hi</b>")],
        vec![action("  ", "https://example.com")],
        vec![action("Gap", "https://example.com/a b")],
        vec![action("Nothing", "https://")],
    ] {
        let refused = sim.session.notify_with_actions(sim.now, "t", "", NotificationLevel::Info, bad.clone());
        assert!(matches!(refused, Err(SessionError::BadActions(_))), "{bad:?} → {refused:?}");
    }
    sim.flush();
    assert!(sim.take(phone).is_empty() && sim.take(rita).is_empty(), "nothing went out");
}
