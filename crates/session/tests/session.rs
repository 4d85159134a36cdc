//! The session core keeps LOUDSYNC 1.0's promises to a plain client, exactly, and the
//! Partyline extensions' promises to a client that asked for them: deadlines fire at the
//! millisecond they are due, a member who drops and resumes loses nothing, and the host's
//! actions (kick, lock, capacity, rename, close) do what they say. All on virtual time: no
//! test here sleeps.

mod sim;

use partyline_protocol::decode;
use partyline_session::{Config, Event, SECOND};
use serde_json::{Value, json};
use sim::{Seen, Sim, T0, closed, join_text, resume_text};

/// A 1.0 join gets welcome then member_list, exactly LOUDSYNC's shapes; the others get
/// member_joined; nobody gets an extension message.
#[test]
fn loudsync_join_flow() {
    let mut sim = Sim::new(Config::default());
    let (a, a_id) = sim.join("dev-a", false);
    let b = sim.connect();
    sim.send(b, &join_text("dev-b", false));
    let seen = sim.messages(b);
    let types: Vec<&str> = seen.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["welcome", "member_list"]);
    let welcome = &seen[0];
    let keys: Vec<&String> = welcome.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["clientId", "sessionInfo", "timestamp", "type"], "no extension fields for 1.0");
    assert_eq!(welcome["sessionInfo"]["id"], "party1");
    assert_eq!(welcome["sessionInfo"]["name"], "Test Party");
    let members = seen[1]["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "host, a, b: {members:?}");
    assert_eq!(members[0]["isHost"], true);
    assert_eq!(members[0]["id"], welcome["sessionInfo"]["hostId"]);
    assert_eq!(members[1]["id"], a_id.as_str());
    assert_eq!(members[2]["id"], welcome["clientId"]);
    assert_eq!(members[2]["connectionStatus"], "connected");
    let to_a = sim.messages(a);
    assert_eq!(to_a.len(), 1, "a gets exactly member_joined: {to_a:?}");
    assert_eq!(to_a[0]["type"], "member_joined");
    assert_eq!(to_a[0]["member"]["id"], welcome["clientId"]);
    assert!(to_a[0].get("seq").is_none());
}

/// ping → pong echoing the timestamp, for a joined member and before joining alike.
#[test]
fn ping_pong() {
    let mut sim = Sim::new(Config::default());
    let c = sim.connect();
    sim.send(c, r#"{"type":"ping","timestamp":1706889650000}"#);
    assert_eq!(sim.messages(c), [json!({"type": "pong", "timestamp": 1706889650000u64})]);
    let (x, _) = sim.join("dev-x", true);
    sim.send(x, r#"{"type":"ping","timestamp":1706889650000.5}"#);
    let pong = &sim.messages(x)[0];
    assert_eq!(pong["timestamp"].to_string(), "1706889650000.5");
    assert_eq!(pong["serverReceiveTime"], T0, "extension pong carries server times in µs");
    assert_eq!(pong["serverSendTime"], T0);
}

/// A member that stops heartbeating is closed at exactly 15 s, not a microsecond earlier,
/// and the others get member_left with reason timeout.
#[test]
fn heartbeat_timeout_is_exactly_15s() {
    let mut sim = Sim::new(Config::default());
    let (a, a_id) = sim.join("dev-a", false);
    let (b, _) = sim.join("dev-b", false);
    sim.take(a);
    sim.advance(4 * SECOND);
    sim.heartbeat(a); // a's deadline moves to 19 s; b's stays at 15 s.
    sim.advance(15 * SECOND - 4 * SECOND - 1);
    assert_eq!(closed(&sim.take(b)), None, "b still in 1 µs before 15 s");
    sim.advance(1);
    let seen = sim.take(b);
    assert_eq!(closed(&seen), Some(4012), "b closed at 15 s: {seen:?}");
    let to_a = sim.messages(a);
    assert_eq!(to_a.len(), 1, "{to_a:?}");
    assert_eq!(to_a[0]["type"], "member_left");
    assert_eq!(to_a[0]["reason"], "timeout");
    sim.advance(4 * SECOND - 1);
    assert_eq!(closed(&sim.take(a)), None);
    sim.advance(1);
    assert_eq!(closed(&sim.take(a)), Some(4012), "a closed 15 s after its heartbeat");
    assert!(sim.session.members().iter().all(|m| m.id != a_id));
}

/// Heartbeats every 5 s keep a member in for as long as they come.
#[test]
fn heartbeats_keep_a_member() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("dev-a", false);
    for _ in 0..100 {
        sim.advance(5 * SECOND);
        sim.heartbeat(a);
    }
    assert_eq!(closed(&sim.take(a)), None);
    assert_eq!(sim.session.member_count(), 1);
}

/// A connection that never joins is closed after 15 s.
#[test]
fn join_timeout() {
    let mut sim = Sim::new(Config::default());
    let c = sim.connect();
    sim.advance(15 * SECOND - 1);
    assert_eq!(closed(&sim.take(c)), None);
    sim.advance(1);
    assert_eq!(closed(&sim.take(c)), Some(4013));
}

/// A full session answers session_full with maxMembers and currentMembers; raising the
/// capacity lets the next join in.
#[test]
fn capacity() {
    let mut sim = Sim::new(Config { max_members: 2, ..Config::default() });
    sim.join("dev-a", false);
    sim.join("dev-b", false);
    let c = sim.connect();
    sim.send(c, &join_text("dev-c", false));
    let error = &sim.messages(c)[0];
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "session_full");
    assert_eq!(error["details"], json!({"maxMembers": 2, "currentMembers": 2}));
    assert_eq!(error["message"], "Session has reached maximum capacity (2 members)");
    sim.session.set_capacity(sim.now, 3).unwrap();
    sim.send(c, &join_text("dev-c", false));
    assert_eq!(sim.types(c), ["welcome", "member_list"], "the same connection may try again");
    assert!(sim.session.set_capacity(sim.now, 0).is_err());
}

/// A join from a device that is already a member replaces its old connection: the old one
/// gets already_joined and close 4009, the new one is the same member, and nobody sees a leave.
#[test]
fn duplicate_device_replaces_old_connection() {
    let mut sim = Sim::new(Config::default());
    let (other, _) = sim.join("dev-o", false);
    let (old, id) = sim.join("dev-a", false);
    sim.take(other);
    let (new, id_again) = sim.join("dev-a", false);
    assert_eq!(id, id_again, "the device keeps its member id");
    let seen = sim.take(old);
    assert!(matches!(&seen[0], Seen::Msg(m) if m["code"] == "already_joined"), "{seen:?}");
    assert_eq!(closed(&seen), Some(4009));
    assert_eq!(sim.messages(other), Vec::<Value>::new(), "others see no churn");
    assert_eq!(sim.session.member_count(), 2);
    // The old connection's close reaching the session later changes nothing.
    sim.session.handle_disconnect(sim.now, old, false);
    sim.flush();
    assert_eq!(sim.session.member_count(), 2);
    sim.heartbeat(new);
    assert_eq!(closed(&sim.take(new)), None);
}

/// leave → close 1000 for the leaver, member_left (left) for the others.
#[test]
fn leave() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("dev-a", false);
    let (b, b_id) = sim.join("dev-b", false);
    sim.take(a);
    sim.send(b, r#"{"type":"leave","timestamp":1,"reason":"User exited session"}"#);
    assert_eq!(closed(&sim.take(b)), Some(1000));
    assert_eq!(
        sim.messages(a),
        [json!({"type":"member_left","timestamp": T0 / 1000,"memberId": b_id,"reason":"left"})]
    );
}

/// A 1.0 member whose socket breaks is gone at once (reason error); no resume for it.
#[test]
fn loudsync_member_drop_is_a_leave() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("dev-a", false);
    let (b, _) = sim.join("dev-b", false);
    sim.take(a);
    sim.session.handle_disconnect(sim.now, b, false);
    sim.flush();
    let seen = sim.messages(a);
    assert_eq!(seen[0]["type"], "member_left");
    assert_eq!(seen[0]["reason"], "error");
    assert_eq!(sim.session.member_count(), 1);
}

/// Kick: kicked and close 4010 to the member, member_left (kicked) to the others, and its
/// resume secret no longer works.
#[test]
fn kick_revokes_resume() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("dev-a", false);
    let conn = sim.connect();
    sim.send(conn, &join_text("dev-x", true));
    let welcome = sim.messages(conn)[0].clone();
    let (id, secret) = (welcome["clientId"].as_str().unwrap(), welcome["resumeSecret"].as_str().unwrap());
    sim.take(a);
    sim.session.kick(sim.now, id, "Host removed you from the session").unwrap();
    sim.flush();
    let seen = sim.take(conn);
    assert!(
        matches!(&seen[0], Seen::Msg(m) if m["type"] == "kicked" && m["reason"] == "Host removed you from the session")
    );
    assert_eq!(closed(&seen), Some(4010));
    let to_a = sim.messages(a);
    assert_eq!((to_a[0]["type"].as_str(), to_a[0]["reason"].as_str()), (Some("member_left"), Some("kicked")));
    let again = sim.connect();
    sim.send(again, &resume_text(id, secret, 0));
    let reply = &sim.messages(again)[0];
    assert_eq!(reply["code"], "resume_failed", "{reply}");
    assert!(sim.session.kick(sim.now, id, "again").is_err());
}

/// Lock refuses new joins (unauthorized, reason locked) and still lets a member resume.
#[test]
fn lock() {
    let mut sim = Sim::new(Config::default());
    let conn = sim.connect();
    sim.send(conn, &join_text("dev-x", true));
    let welcome = sim.messages(conn)[0].clone();
    sim.session.set_locked(sim.now, true).unwrap();
    sim.flush();
    let updated = sim.messages(conn);
    assert_eq!(updated[0]["type"], "session_updated");
    assert_eq!(updated[0]["session"]["locked"], true);
    let c = sim.connect();
    sim.send(c, &join_text("dev-new", false));
    let error = &sim.messages(c)[0];
    assert_eq!((error["code"].as_str(), error["details"]["reason"].as_str()), (Some("unauthorized"), Some("locked")));
    sim.session.handle_disconnect(sim.now, conn, false);
    let back = sim.connect();
    sim.send(back, &resume_text(welcome["clientId"].as_str().unwrap(), welcome["resumeSecret"].as_str().unwrap(), 5));
    assert_eq!(sim.types(back), ["resumed"]);
}

/// An extension member that drops is shown as reconnecting (member_updated to extension
/// members, a fresh member_list to 1.0 members), everything sent meanwhile is replayed in
/// order on resume, and it is connected again.
#[test]
fn resume_replays_everything_missed() {
    let mut sim = Sim::new(Config::default());
    let x = sim.connect();
    sim.send(x, &join_text("dev-x", true));
    let first = sim.messages(x);
    let types: Vec<&str> = first.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["welcome", "hello", "member_list", "library.update", "syncplay.state"]);
    assert_eq!((first[0]["seq"].as_u64(), first[1].get("seq"), first[2]["seq"].as_u64()), (Some(1), None, Some(2)));
    assert_eq!(first[4]["seq"], 4);
    assert_eq!(first[1]["heartbeatTimeout"], 15000);
    assert_eq!(first[1]["resumeWindow"], 120000);
    let (id, secret) =
        (first[0]["clientId"].as_str().unwrap().to_string(), first[0]["resumeSecret"].as_str().unwrap().to_string());
    let (legacy, _) = sim.join("dev-l", false);
    let (watcher, _) = sim.join("dev-w", true);
    sim.messages(x); // member_joined l (seq 5), member_joined w (seq 6)
    sim.take(legacy);

    sim.session.handle_disconnect(sim.now, x, false);
    sim.flush();
    let to_watcher = sim.messages(watcher);
    assert_eq!(to_watcher[0]["type"], "member_updated");
    assert_eq!(to_watcher[0]["member"]["connectionStatus"], "reconnecting");
    let to_legacy = sim.messages(legacy);
    assert_eq!(to_legacy[0]["type"], "member_list", "1.0 members learn it from a member_list");
    let listed = to_legacy[0]["members"].as_array().unwrap().iter().find(|m| m["id"] == id.as_str()).unwrap().clone();
    assert_eq!(listed["connectionStatus"], "reconnecting");

    // While x is away (the others heartbeating): a chat, a member leaving.
    for _ in 0..6 {
        sim.advance(5 * SECOND);
        sim.heartbeat(watcher);
        sim.heartbeat(legacy);
    }
    sim.send(watcher, r#"{"type":"chat","timestamp":1,"text":"where did x go"}"#);
    sim.send(legacy, r#"{"type":"leave","timestamp":1}"#);

    let back = sim.connect();
    sim.send(back, &resume_text(&id, &secret, 6));
    let seen = sim.messages(back);
    let types: Vec<&str> = seen.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["resumed", "chat", "member_left"]);
    assert_eq!(seen[0]["replayed"], 2);
    assert_eq!(seen[0]["snapshot"], false);
    assert_eq!((seen[1]["seq"].as_u64(), seen[2]["seq"].as_u64()), (Some(7), Some(8)), "original numbers, no gap");
    assert_eq!(seen[1]["text"], "where did x go");
    let to_watcher = sim.messages(watcher);
    let update = to_watcher.iter().find(|m| m["type"] == "member_updated").unwrap();
    assert_eq!(update["member"]["connectionStatus"], "connected");
    assert_eq!(
        sim.session.members().iter().find(|m| m.id == id).unwrap().connection_status,
        partyline_protocol::ConnectionStatus::Connected
    );
}

/// A member that does not resume within the window leaves with reason timeout, at exactly
/// 120 s after its connection dropped.
#[test]
fn resume_window_expires() {
    let mut sim = Sim::new(Config::default());
    let (w, _) = sim.join("dev-w", false);
    let x = sim.connect();
    sim.send(x, &join_text("dev-x", true));
    sim.take(w);
    sim.advance(5 * SECOND);
    sim.heartbeat(w);
    sim.advance(5 * SECOND);
    sim.heartbeat(w);
    sim.session.handle_disconnect(sim.now, x, false);
    sim.flush();
    sim.take(w);
    for _ in 0..23 {
        sim.advance(5 * SECOND);
        sim.heartbeat(w);
    } // 115 s after the drop
    sim.advance(5 * SECOND - 1);
    assert!(sim.messages(w).iter().all(|m| m["type"] != "member_left"), "still reconnecting 1 µs before 120 s");
    sim.advance(1);
    let seen = sim.messages(w);
    assert_eq!((seen[0]["type"].as_str(), seen[0]["reason"].as_str()), (Some("member_left"), Some("timeout")));
}

/// A heartbeat timeout of an extension member makes it reconnecting, not gone, and it can resume.
#[test]
fn heartbeat_timeout_then_resume() {
    let mut sim = Sim::new(Config::default());
    let x = sim.connect();
    sim.send(x, &join_text("dev-x", true));
    let welcome = sim.messages(x)[0].clone();
    sim.advance(15 * SECOND);
    assert_eq!(closed(&sim.take(x)), Some(4012));
    assert_eq!(sim.session.members()[1].connection_status, partyline_protocol::ConnectionStatus::Reconnecting);
    let back = sim.connect();
    sim.send(back, &resume_text(welcome["clientId"].as_str().unwrap(), welcome["resumeSecret"].as_str().unwrap(), 4));
    assert_eq!(sim.types(back), ["resumed"]);
    assert_eq!(sim.session.members()[1].connection_status, partyline_protocol::ConnectionStatus::Connected);
}

/// When the gap is older than the buffer, resume sends a snapshot: welcome and member_list.
#[test]
fn resume_snapshot_when_gap_too_old() {
    let mut sim = Sim::new(Config { replay_capacity: 2, ..Config::default() });
    let x = sim.connect();
    sim.send(x, &join_text("dev-x", true));
    let welcome = sim.messages(x)[0].clone();
    sim.session.handle_disconnect(sim.now, x, false);
    for n in 0..3 {
        sim.join(&format!("dev-{n}"), false); // three member_joined for x: seq 3, 4, 5
    }
    let back = sim.connect();
    sim.send(back, &resume_text(welcome["clientId"].as_str().unwrap(), welcome["resumeSecret"].as_str().unwrap(), 2));
    let seen = sim.messages(back);
    let types: Vec<&str> = seen.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["resumed", "welcome", "hello", "member_list", "library.update", "syncplay.state"]);
    assert_eq!(seen[0]["snapshot"], true);
    assert_eq!(seen[3]["members"].as_array().unwrap().len(), 5);
}

/// A resume with a wrong secret fails and the member stays reconnecting.
#[test]
fn resume_wrong_secret() {
    let mut sim = Sim::new(Config::default());
    let (x, id) = sim.join("dev-x", true);
    sim.session.handle_disconnect(sim.now, x, false);
    let c = sim.connect();
    sim.send(c, &resume_text(&id, "00000000000000000000000000000000", 0));
    let reply = &sim.messages(c)[0];
    assert_eq!(
        (reply["code"].as_str(), reply["details"]["reason"].as_str()),
        (Some("resume_failed"), Some("wrong secret"))
    );
}

/// A join for another session id gets session_not_found; an unknown version, version_mismatch.
#[test]
fn wrong_session_and_version() {
    let mut sim = Sim::new(Config::default());
    let c = sim.connect();
    sim.send(c, &join_text("dev-a", false).replace("party1", "nope"));
    let error = &sim.messages(c)[0];
    assert_eq!(
        (error["code"].as_str(), error["details"]["sessionId"].as_str()),
        (Some("session_not_found"), Some("nope"))
    );
    sim.send(c, &join_text("dev-a", false).replace("\"deviceInfo\"", "\"protocolVersion\":\"9.9\",\"deviceInfo\""));
    let error = &sim.messages(c)[0];
    assert_eq!(error["code"], "version_mismatch");
    assert_eq!(error["details"]["supported"], json!(["1.0", "partyline/1"]));
}

/// Malformed input gets invalid_message and the connection keeps working.
#[test]
fn invalid_message_keeps_listening() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("dev-a", false);
    for bad in ["{oops", r#"{"type":"dance","timestamp":1}"#, r#"{"type":"heartbeat"}"#] {
        sim.send(a, bad);
        let seen = sim.take(a);
        assert!(matches!(&seen[..], [Seen::Msg(m)] if m["code"] == "invalid_message"), "{bad}: {seen:?}");
    }
    let c = sim.connect();
    sim.send(c, r#"{"type":"heartbeat","timestamp":1}"#);
    assert_eq!(sim.messages(c)[0]["details"]["reason"], "not_joined");
    sim.send(a, r#"{"type":"ping","timestamp":3}"#);
    assert_eq!(sim.types(a), ["pong"]);
}

/// Close: session_closed to every member, close 4011 for every connection, then nothing.
#[test]
fn close_session() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("dev-a", false);
    let (x, _) = sim.join("dev-x", true);
    let pending = sim.connect();
    sim.take(a);
    sim.take(x);
    sim.session.close(sim.now, Some("Host ended the session"));
    sim.flush();
    for conn in [a, x] {
        let seen = sim.take(conn);
        assert!(
            matches!(&seen[0], Seen::Msg(m) if m["type"] == "session_closed" && m["reason"] == "Host ended the session")
        );
        assert_eq!(closed(&seen), Some(4011));
    }
    assert_eq!(closed(&sim.take(pending)), Some(4011));
    assert!(sim.events().contains(&Event::Closed));
    let late = sim.connect();
    assert_eq!(closed(&sim.take(late)), Some(4011));
}

/// Probe replies become latency: in member_list for everyone, in latency_update for
/// extension members, announced only when it moved by 2 ms or more.
#[test]
fn latency_is_measured_and_announced() {
    let mut sim = Sim::new(Config::default());
    let x = sim.connect();
    sim.send(x, &join_text("dev-x", true));
    let seen = sim.take(x);
    assert!(seen.contains(&Seen::Probe(T0)), "a probe right at join: {seen:?}");
    sim.now += 30_000; // 30 ms round trip
    sim.session.handle_probe_reply(sim.now, x, T0);
    assert_eq!(sim.session.members()[1].latency, Some(30));
    sim.advance_to(T0 + 5 * SECOND);
    let seen = sim.messages(x);
    let update = seen.iter().find(|m| m["type"] == "latency_update").expect("latency_update");
    let id = sim.session.members()[1].id.clone();
    assert_eq!(update["latencies"][&id], 30);
    // A 1 ms wobble is not announced.
    sim.session.handle_probe_reply(sim.now + 34_000, x, sim.now);
    sim.advance(5 * SECOND);
    assert!(sim.messages(x).iter().all(|m| m["type"] != "latency_update"));
    let (l, _) = sim.join("dev-l", false);
    let list = sim.messages(l);
    drop(list);
    let c = sim.connect();
    sim.send(c, &join_text("dev-m", false));
    let list = &sim.messages(c)[1];
    assert_eq!(list["members"][1]["latency"], 31, "1.0 member_list carries server-measured latency");
}

/// Extension messages never reach a 1.0 client: a chat and a rename are invisible to it.
#[test]
fn loudsync_client_sees_only_loudsync() {
    let mut sim = Sim::new(Config::default());
    let (l, _) = sim.join("dev-l", false);
    let (x, _) = sim.join("dev-x", true);
    sim.take(l);
    sim.send(x, r#"{"type":"chat","timestamp":1,"text":"hi"}"#);
    sim.session.rename(sim.now, "New name").unwrap();
    sim.flush();
    assert_eq!(sim.messages(l), Vec::<Value>::new());
    let to_x: Vec<String> = sim.messages(x).iter().map(|m| m["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(to_x, ["chat", "session_updated"]);
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

/// The document's `MemberInfo` fields, before any latency is measured.
const LOUDSYNC_MEMBER: [&str; 5] = ["connectionStatus", "id", "isHost", "joinedAt", "name"];

/// `device` (the label the I/O layer gave the connection) reaches extension members in
/// member_list, member_joined and member_updated, and the host; a 1.0 member's member_list and
/// member_joined keep exactly the document's fields.
#[test]
fn device_label_for_extension_members_only() {
    let mut sim = Sim::new(Config::default());
    let x = sim.connect_from(Some("iPhone"));
    sim.send(x, &join_text("dev-x", true));
    let l = sim.connect_from(Some("Windows PC"));
    sim.send(l, &join_text("dev-l", false));
    let to_l = sim.messages(l);
    assert_eq!(to_l[1]["type"], "member_list");
    for member in to_l[1]["members"].as_array().unwrap() {
        assert_eq!(keys(member), LOUDSYNC_MEMBER, "1.0 member_list: {member}");
    }
    let to_x = sim.messages(x);
    let joined = to_x.iter().find(|m| m["type"] == "member_joined").expect("x hears of l");
    assert_eq!(joined["member"]["device"], "Windows PC", "an extension member sees a 1.0 member's device");

    // An extension joiner: its member_list has every known device, the host's none.
    let y = sim.connect_from(Some("Android phone"));
    sim.send(y, &join_text("dev-y", true));
    let to_y = sim.messages(y);
    let list = to_y.iter().find(|m| m["type"] == "member_list").unwrap();
    let devices: Vec<&Value> = list["members"].as_array().unwrap().iter().map(|m| &m["device"]).collect();
    assert_eq!(devices, [&Value::Null, &json!("iPhone"), &json!("Windows PC"), &json!("Android phone")]);
    assert!(list["members"][0].get("device").is_none(), "unknown: no key at all");

    // Its arrival: with device to x, exactly LOUDSYNC's member_joined to l.
    let to_x = sim.messages(x);
    assert_eq!(to_x[0]["type"], "member_joined");
    assert_eq!(to_x[0]["member"]["device"], "Android phone");
    let to_l = sim.messages(l);
    assert_eq!(to_l.len(), 1, "{to_l:?}");
    assert_eq!(keys(&to_l[0]), ["member", "timestamp", "type"]);
    assert_eq!(keys(&to_l[0]["member"]), LOUDSYNC_MEMBER, "1.0 member_joined: {}", to_l[0]);

    // y drops and is reconnecting: member_updated with device to x, a 1.0 member_list to l.
    sim.session.handle_disconnect(sim.now, y, false);
    sim.flush();
    let to_x = sim.messages(x);
    let updated = to_x.iter().find(|m| m["type"] == "member_updated").expect("member_updated");
    assert_eq!(updated["member"]["device"], "Android phone");
    assert_eq!(updated["member"]["connectionStatus"], "reconnecting");
    let to_l = sim.messages(l);
    assert_eq!(to_l[0]["type"], "member_list");
    for member in to_l[0]["members"].as_array().unwrap() {
        assert_eq!(keys(member), LOUDSYNC_MEMBER, "1.0 member_list after a change: {member}");
    }

    // The host sees every device.
    let devices: Vec<Option<String>> = sim.session.members().into_iter().map(|m| m.device).collect();
    assert_eq!(devices, [None, Some("iPhone".into()), Some("Windows PC".into()), Some("Android phone".into())]);
    let events = sim.events();
    let joined: Vec<Option<&str>> = events
        .iter()
        .filter_map(|e| match e {
            Event::MemberJoined(m) => Some(m.device.as_deref()),
            _ => None,
        })
        .collect();
    assert_eq!(joined, [Some("iPhone"), Some("Windows PC"), Some("Android phone")]);
}

/// A device that joins again from another browser takes that connection's label, and the
/// others hear of it.
#[test]
fn rejoin_updates_device() {
    let mut sim = Sim::new(Config::default());
    let (x, _) = sim.join("dev-x", true);
    let a = sim.connect_from(Some("Mac"));
    sim.send(a, &join_text("dev-a", true));
    assert_eq!(sim.session.members()[2].device.as_deref(), Some("Mac"));
    sim.take(x);
    let b = sim.connect_from(Some("Mac or iPad"));
    sim.send(b, &join_text("dev-a", true));
    assert_eq!(sim.session.members()[2].device.as_deref(), Some("Mac or iPad"));
    let to_x = sim.messages(x);
    let updated = to_x.iter().find(|m| m["type"] == "member_updated").expect("member_updated");
    assert_eq!(updated["member"]["device"], "Mac or iPad");
}

/// Host events report joins and leaves in order, each followed by the session's new count.
#[test]
fn host_events() {
    let mut sim = Sim::new(Config::default());
    let (a, id) = sim.join("dev-a", false);
    sim.send_msg(a, decode(r#"{"type":"leave","timestamp":1}"#).unwrap());
    let events = sim.events();
    assert!(matches!(&events[0], Event::MemberJoined(m) if m.id == id), "{events:?}");
    assert!(matches!(&events[1], Event::SessionUpdated(s) if s.member_count == 1), "the count follows: {events:?}");
    assert!(
        matches!(&events[2], Event::MemberLeft { member, reason: partyline_protocol::LeaveReason::Left } if member.id == id)
    );
    assert!(matches!(&events[3], Event::SessionUpdated(s) if s.member_count == 0), "{events:?}");
}

/// rate_limited errors keep the connection; the verdict of abuse closes it with 4029, and an
/// extension member may resume afterwards.
#[test]
fn rate_limit_and_abuse() {
    let mut sim = Sim::new(Config::default());
    let (x, _) = sim.join("dev-x", true);
    sim.session.handle_rate_limited(sim.now, x, 250, false);
    sim.flush();
    let seen = sim.take(x);
    assert!(
        matches!(&seen[..], [Seen::Msg(m)] if m["code"] == "rate_limited" && m["details"]["retryAfterMs"] == 250),
        "{seen:?}"
    );
    sim.session.handle_rate_limited(sim.now, x, 250, true);
    sim.flush();
    assert_eq!(closed(&sim.take(x)), Some(4029));
    assert_eq!(sim.session.members()[1].connection_status, partyline_protocol::ConnectionStatus::Reconnecting);
}

/// A member that rejoins (and resumes, and drops) a thousand times holds one heartbeat timer,
/// not one per connection: the timer heap stays the size of the party.
#[test]
fn rejoins_hold_one_heartbeat_deadline() {
    let mut sim = Sim::new(Config::default());
    let (mut a, _) = sim.join("dev-a", true);
    let (mut b, b_id, b_secret) = sim.join_resumable("dev-b");
    let baseline = sim.session.timers_pending();
    for round in 0..1000 {
        let next = sim.connect();
        if round % 2 == 0 {
            sim.send(next, &join_text("dev-a", true)); // replaces a's connection
            a = next;
        } else {
            sim.session.handle_disconnect(sim.now, b, false);
            sim.send(next, &resume_text(&b_id, &b_secret, 0));
            b = next;
        }
        sim.advance(1_000);
    }
    // Every connect armed a join deadline (15 s); let those fire while both keep heartbeating.
    for _ in 0..4 {
        sim.heartbeat(a);
        sim.heartbeat(b);
        sim.advance(5 * SECOND);
    }
    let _ = (sim.take(a), sim.take(b));
    let after = sim.session.timers_pending();
    assert!(after <= baseline + 1, "timers grew with the rejoins: {baseline} before, {after} after");
}
