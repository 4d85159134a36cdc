//! The session core keeps LOUDSYNC 1.0's promises to a plain client, exactly, and the
//! Partyline extensions' promises to a client that asked for them: deadlines fire at the
//! millisecond they are due, a member who drops and resumes loses nothing, and the host's
//! actions (kick, lock, capacity, rename, close) do what they say. All on virtual time: no
//! test here sleeps.

mod sim;

use partyline_protocol::client::{Chat, Leave};
use partyline_protocol::{
    ClientMessage, ConnectionStatus, ErrorCode, LeaveReason, MemberInfo, Received, ServerMessage, expect_message,
    reason,
};
use partyline_session::{Config, Event, SECOND};
use serde_json::{Value, json};
use sim::{Seen, Sim, T0, closed, join_msg, resume_msg};

/// The code and details of an `error`; any other message fails the test.
fn error_of(received: &Received) -> (ErrorCode, Value) {
    expect_message!(&received.message,
        ServerMessage::Error { code, details, .. } => (*code, details.clone().unwrap_or(Value::Null)))
}

/// The member of a `member_joined` or `member_updated`; any other message fails the test.
fn member_of(received: &Received) -> &MemberInfo {
    expect_message!(&received.message,
        ServerMessage::MemberJoined { member, .. } | ServerMessage::MemberUpdated { member, .. } => member)
}

/// The members of a `member_list`; any other message fails the test.
fn members_of(received: &Received) -> &[MemberInfo] {
    expect_message!(&received.message, ServerMessage::MemberList { members, .. } => members)
}

/// Who left and why, from a `member_left`; any other message fails the test.
fn left_of(received: &Received) -> (&str, LeaveReason) {
    expect_message!(&received.message,
        ServerMessage::MemberLeft { member_id, reason, .. } => (member_id.as_str(), *reason))
}

/// The first message of this type, or a failure listing what came.
fn first_of<'a>(seen: &'a [Received], kind: &str) -> &'a Received {
    seen.iter().find(|m| m.kind() == kind).unwrap_or_else(|| panic!("expected a {kind}, got {seen:?}"))
}

/// A leave, with the reason LOUDSYNC's example gives or none.
fn leave_msg(reason: Option<&str>) -> ClientMessage {
    ClientMessage::Leave(Leave { timestamp: 1.into(), reason: reason.map(str::to_string) })
}

/// A chat line.
fn chat(text: &str) -> ClientMessage {
    ClientMessage::Chat(Chat { timestamp: 1.into(), text: text.into(), room: None })
}

/// A 1.0 join gets welcome then member_list, exactly LOUDSYNC's shapes; the others get
/// member_joined; nobody gets an extension message.
#[test]
fn loudsync_join_flow() {
    let mut sim = Sim::new(Config::default());
    let (a, a_id) = sim.join("dev-a", false);
    let b = sim.connect();
    sim.send_msg(b, join_msg("dev-b", false));
    let seen = sim.messages(b);
    let types: Vec<&str> = seen.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["welcome", "member_list"]);
    let welcome = &seen[0];
    let keys: Vec<&String> = welcome.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["clientId", "sessionInfo", "timestamp", "type"], "no extension fields for 1.0");
    assert_eq!(welcome["sessionInfo"]["id"], "party1");
    assert_eq!(welcome["sessionInfo"]["name"], "Test Party");
    let list: Received = serde_json::from_value(seen[1].clone()).unwrap();
    let members = members_of(&list);
    assert_eq!(members.len(), 3, "host, a, b: {members:?}");
    assert!(members[0].is_host);
    assert_eq!(members[0].id, welcome["sessionInfo"]["hostId"].as_str().unwrap());
    assert_eq!(members[1].id, a_id);
    assert_eq!(members[2].id, welcome["clientId"].as_str().unwrap());
    assert_eq!(members[2].connection_status, ConnectionStatus::Connected);
    let to_a = sim.received(a);
    assert_eq!(to_a.len(), 1, "a gets exactly member_joined: {to_a:?}");
    assert_eq!(member_of(&to_a[0]).id, welcome["clientId"].as_str().unwrap());
    assert_eq!(to_a[0].seq, None);
}

/// ping → pong echoing the timestamp, for a joined member and before joining alike.
#[test]
fn ping_pong() {
    let mut sim = Sim::new(Config::default());
    let c = sim.connect();
    sim.send_msg(c, ClientMessage::Ping(partyline_protocol::client::Ping { timestamp: 1706889650000u64.into() }));
    assert_eq!(sim.messages(c), [json!({"type": "pong", "timestamp": 1706889650000u64})]);
    let (x, _) = sim.join("dev-x", true);
    // Written out: the point is that these exact digits come back.
    sim.send(x, r#"{"type":"ping","timestamp":1706889650000.5}"#);
    let pong = expect_message!(&sim.received(x)[0].message,
        ServerMessage::Pong { timestamp, server_receive_time, server_send_time } =>
            (timestamp.to_string(), *server_receive_time, *server_send_time));
    assert_eq!(pong, ("1706889650000.5".into(), Some(T0), Some(T0)), "extension pong carries server times in µs");
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
    let to_a = sim.received(a);
    assert_eq!(to_a.len(), 1, "{to_a:?}");
    assert_eq!(left_of(&to_a[0]).1, LeaveReason::Timeout);
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
    sim.send_msg(c, join_msg("dev-c", false));
    let error = sim.received(c).remove(0);
    assert_eq!(error_of(&error), (ErrorCode::SessionFull, json!({"maxMembers": 2, "currentMembers": 2})));
    let message = expect_message!(error.message, ServerMessage::Error { message, .. } => message);
    assert_eq!(message, "Session has reached maximum capacity (2 members)");
    sim.session.set_capacity(sim.now, 3).unwrap();
    sim.send_msg(c, join_msg("dev-c", false));
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
    assert_eq!(sim.received(other), [], "others see no churn");
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
    sim.send_msg(b, leave_msg(Some(reason::DEFAULT_LEAVE)));
    assert_eq!(closed(&sim.take(b)), Some(1000));
    let left = ServerMessage::MemberLeft { timestamp: T0 / 1000, member_id: b_id, reason: LeaveReason::Left };
    assert_eq!(sim.received(a), [Received { seq: None, message: left }]);
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
    let seen = sim.received(a);
    assert_eq!(left_of(&seen[0]).1, LeaveReason::Error);
    assert_eq!(sim.session.member_count(), 1);
}

/// Kick: kicked and close 4010 to the member, member_left (kicked) to the others, and its
/// resume secret no longer works.
#[test]
fn kick_revokes_resume() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("dev-a", false);
    let (conn, id, secret) = sim.join_resumable("dev-x");
    sim.take(a);
    sim.session.kick(sim.now, &id, "Host removed you from the session").unwrap();
    sim.flush();
    let seen = sim.take(conn);
    assert!(
        matches!(&seen[0], Seen::Msg(m) if m["type"] == "kicked" && m["reason"] == "Host removed you from the session")
    );
    assert_eq!(closed(&seen), Some(4010));
    assert_eq!(left_of(&sim.received(a)[0]), (id.as_str(), LeaveReason::Kicked));
    let again = sim.connect();
    sim.send_msg(again, resume_msg(&id, &secret, 0));
    let reply = &sim.received(again)[0];
    assert_eq!(error_of(reply), (ErrorCode::ResumeFailed, json!({"reason": reason::RESUME_UNKNOWN_MEMBER})));
    assert!(sim.session.kick(sim.now, &id, "again").is_err());
}

/// Ban: the member is kicked (close 4010), and its device's joins are refused (`unauthorized`,
/// `banned`, close 4010) from any address until the host lifts the ban; another device joins.
#[test]
fn ban_holds_until_lifted() {
    let mut sim = Sim::new(Config::default());
    let (conn, id, _) = sim.join_resumable("dev-x");
    sim.session.ban(sim.now, &id, "spam").unwrap();
    sim.flush();
    assert_eq!(closed(&sim.take(conn)), Some(4010));
    let bans = sim.session.bans();
    assert_eq!(
        bans.iter().map(|ban| (ban.device_id.as_str(), ban.reason.as_str())).collect::<Vec<_>>(),
        [("dev-x", "spam")]
    );
    for _ in 0..2 {
        let again = sim.connect();
        sim.send_msg(again, join_msg("dev-x", true));
        let seen = sim.take(again);
        let reply = seen.iter().find_map(|seen| match seen {
            Seen::Msg(m) if m["type"] == "error" => Some(m.clone()),
            _ => None,
        });
        let reply = reply.expect("an error answers a banned join");
        assert_eq!(
            (reply["code"].as_str(), &reply["details"]),
            (Some("unauthorized"), &json!({"reason": reason::BANNED}))
        );
        assert_eq!(closed(&seen), Some(4010), "a banned join is closed as a kick: {seen:?}");
    }
    assert_eq!(sim.session.member_count(), 0, "no banned member got in");
    let other = sim.connect();
    sim.send_msg(other, join_msg("dev-y", true));
    assert_eq!(sim.types(other)[0], "welcome", "another device still joins");
    assert!(sim.session.unban("dev-nobody").is_err());
    assert_eq!(sim.session.unban("dev-x").unwrap().device_id, "dev-x");
    let back = sim.connect();
    sim.send_msg(back, join_msg("dev-x", true));
    assert_eq!(sim.types(back)[0], "welcome", "the ban is lifted");
}

/// Lock refuses new joins (unauthorized, reason locked) and still lets a member resume.
#[test]
fn lock() {
    let mut sim = Sim::new(Config::default());
    let (conn, id, secret) = sim.join_resumable("dev-x");
    sim.session.set_locked(sim.now, true).unwrap();
    sim.flush();
    let updated = sim.received(conn);
    assert!(expect_message!(&updated[0].message, ServerMessage::SessionUpdated { session, .. } => session.locked));
    let c = sim.connect();
    sim.send_msg(c, join_msg("dev-new", false));
    assert_eq!(error_of(&sim.received(c)[0]), (ErrorCode::Unauthorized, json!({"reason": reason::LOCKED})));
    sim.session.handle_disconnect(sim.now, conn, false);
    let back = sim.connect();
    sim.send_msg(back, resume_msg(&id, &secret, 5));
    assert_eq!(sim.types(back), ["resumed"]);
}

/// An extension member that drops is shown as reconnecting (member_updated to extension
/// members, a fresh member_list to 1.0 members), everything sent meanwhile is replayed in
/// order on resume, and it is connected again.
#[test]
fn resume_replays_everything_missed() {
    let mut sim = Sim::new(Config::default());
    let x = sim.connect();
    sim.send_msg(x, join_msg("dev-x", true));
    let first = sim.received(x);
    let types: Vec<&str> = first.iter().map(Received::kind).collect();
    assert_eq!(types, ["welcome", "hello", "member_list", "library.update", "syncplay.state"]);
    let seqs: Vec<Option<u64>> = first.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [Some(1), None, Some(2), Some(3), Some(4)]);
    let timing = expect_message!(&first[1].message,
        ServerMessage::Hello { heartbeat_timeout, resume_window, .. } => (*heartbeat_timeout, *resume_window));
    assert_eq!(timing, (15000, 900000));
    let (id, secret) = expect_message!(&first[0].message,
        ServerMessage::Welcome { client_id, resume_secret: Some(secret), .. } => (client_id.clone(), secret.clone()));
    let (legacy, _) = sim.join("dev-l", false);
    let (watcher, _) = sim.join("dev-w", true);
    sim.messages(x); // member_joined l (seq 5), member_joined w (seq 6)
    sim.take(legacy);

    sim.session.handle_disconnect(sim.now, x, false);
    sim.flush();
    let to_watcher = sim.received(watcher);
    assert_eq!(member_of(&to_watcher[0]).connection_status, ConnectionStatus::Reconnecting);
    let to_legacy = sim.received(legacy);
    // 1.0 members learn it from a member_list.
    let listed = members_of(&to_legacy[0]).iter().find(|m| m.id == id).unwrap();
    assert_eq!(listed.connection_status, ConnectionStatus::Reconnecting);

    // While x is away (the others heartbeating): a chat, a member leaving.
    for _ in 0..6 {
        sim.advance(5 * SECOND);
        sim.heartbeat(watcher);
        sim.heartbeat(legacy);
    }
    sim.send_msg(watcher, chat("where did x go"));
    sim.send_msg(legacy, leave_msg(None));

    let back = sim.connect();
    sim.send_msg(back, resume_msg(&id, &secret, 6));
    let seen = sim.received(back);
    let types: Vec<&str> = seen.iter().map(Received::kind).collect();
    assert_eq!(types, ["resumed", "chat", "member_left"]);
    let resumed = expect_message!(&seen[0].message,
        ServerMessage::Resumed { replayed, snapshot, .. } => (*replayed, *snapshot));
    assert_eq!(resumed, (2, false));
    assert_eq!((seen[1].seq, seen[2].seq), (Some(7), Some(8)), "original numbers, no gap");
    assert_eq!(expect_message!(&seen[1].message, ServerMessage::Chat { text, .. } => text), "where did x go");
    let to_watcher = sim.received(watcher);
    assert_eq!(member_of(first_of(&to_watcher, "member_updated")).connection_status, ConnectionStatus::Connected);
    assert_eq!(
        sim.session.members().iter().find(|m| m.id == id).unwrap().connection_status,
        ConnectionStatus::Connected
    );
}

/// A member that does not resume within the window leaves with reason timeout, at exactly
/// the window (here 120 s) after its connection dropped.
#[test]
fn resume_window_expires() {
    let mut sim = Sim::new(Config { resume_window: 120 * SECOND, ..Config::default() });
    let (w, _) = sim.join("dev-w", false);
    let x = sim.connect();
    sim.send_msg(x, join_msg("dev-x", true));
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
    assert!(sim.received(w).iter().all(|m| m.kind() != "member_left"), "still reconnecting 1 µs before 120 s");
    sim.advance(1);
    assert_eq!(left_of(&sim.received(w)[0]).1, LeaveReason::Timeout);
}

/// A heartbeat timeout of an extension member makes it reconnecting, not gone, and it can resume.
#[test]
fn heartbeat_timeout_then_resume() {
    let mut sim = Sim::new(Config::default());
    let (x, id, secret) = sim.join_resumable("dev-x");
    sim.advance(15 * SECOND);
    assert_eq!(closed(&sim.take(x)), Some(4012));
    assert_eq!(sim.session.members()[1].connection_status, ConnectionStatus::Reconnecting);
    let back = sim.connect();
    sim.send_msg(back, resume_msg(&id, &secret, 4));
    assert_eq!(sim.types(back), ["resumed"]);
    assert_eq!(sim.session.members()[1].connection_status, ConnectionStatus::Connected);
}

/// When the gap is older than the buffer, resume sends a snapshot: welcome and member_list.
#[test]
fn resume_snapshot_when_gap_too_old() {
    let mut sim = Sim::new(Config { replay_capacity: 2, ..Config::default() });
    let (x, id, secret) = sim.join_resumable("dev-x");
    sim.session.handle_disconnect(sim.now, x, false);
    for n in 0..3 {
        sim.join(&format!("dev-{n}"), false); // three member_joined for x: seq 3, 4, 5
    }
    let back = sim.connect();
    sim.send_msg(back, resume_msg(&id, &secret, 2));
    let seen = sim.received(back);
    let types: Vec<&str> = seen.iter().map(Received::kind).collect();
    assert_eq!(types, ["resumed", "welcome", "hello", "member_list", "library.update", "syncplay.state"]);
    assert!(expect_message!(&seen[0].message, ServerMessage::Resumed { snapshot, .. } => *snapshot));
    assert_eq!(members_of(&seen[3]).len(), 5);
}

/// A resume with a wrong secret fails and the member stays reconnecting.
#[test]
fn resume_wrong_secret() {
    let mut sim = Sim::new(Config::default());
    let (x, id) = sim.join("dev-x", true);
    sim.session.handle_disconnect(sim.now, x, false);
    let c = sim.connect();
    sim.send_msg(c, resume_msg(&id, "00000000000000000000000000000000", 0));
    let reply = &sim.received(c)[0];
    assert_eq!(error_of(reply), (ErrorCode::ResumeFailed, json!({"reason": reason::WRONG_SECRET})));
}

/// A join for another session id gets session_not_found; an unknown version, version_mismatch.
#[test]
fn wrong_session_and_version() {
    let mut sim = Sim::new(Config::default());
    let c = sim.connect();
    let with = |change: fn(&mut partyline_protocol::client::Join)| {
        let mut join = join_msg("dev-a", false);
        if let ClientMessage::Join(join) = &mut join {
            change(join);
        }
        join
    };
    sim.send_msg(c, with(|join| join.session_id = "nope".into()));
    assert_eq!(error_of(&sim.received(c)[0]), (ErrorCode::SessionNotFound, json!({"sessionId": "nope"})));
    sim.send_msg(c, with(|join| join.protocol_version = Some("9.9".into())));
    let error = error_of(&sim.received(c)[0]);
    assert_eq!(error, (ErrorCode::VersionMismatch, json!({"supported": ["1.0", "partyline/1"]})));
}

/// Malformed input gets invalid_message and the connection keeps working.
#[test]
fn invalid_message_keeps_listening() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("dev-a", false);
    // Raw text on purpose: these frames are malformed.
    for bad in ["{oops", r#"{"type":"dance","timestamp":1}"#, r#"{"type":"heartbeat"}"#] {
        sim.send(a, bad);
        let seen = sim.take(a);
        assert!(matches!(&seen[..], [Seen::Msg(m)] if m["code"] == "invalid_message"), "{bad}: {seen:?}");
    }
    let c = sim.connect();
    sim.heartbeat(c);
    assert_eq!(sim.received(c)[0].message.error_reason(), Some(reason::NOT_JOINED));
    sim.send_msg(a, ClientMessage::Ping(partyline_protocol::client::Ping { timestamp: 3.into() }));
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
        assert_eq!(closed(&seen), Some(4011));
        let Seen::Msg(message) = &seen[0] else { panic!("expected session_closed first, got {seen:?}") };
        let closing: Received = serde_json::from_value(message.clone()).unwrap();
        let reason = expect_message!(closing.message, ServerMessage::SessionClosed { reason, .. } => reason);
        assert_eq!(reason.as_deref(), Some("Host ended the session"));
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
    sim.send_msg(x, join_msg("dev-x", true));
    let seen = sim.take(x);
    assert!(seen.contains(&Seen::Probe(T0)), "a probe right at join: {seen:?}");
    sim.now += 30_000; // 30 ms round trip
    sim.session.handle_probe_reply(sim.now, x, T0);
    assert_eq!(sim.session.members()[1].latency, Some(30));
    sim.advance_to(T0 + 5 * SECOND);
    let seen = sim.received(x);
    let update = first_of(&seen, "latency_update");
    let id = sim.session.members()[1].id.clone();
    let latencies = expect_message!(&update.message, ServerMessage::LatencyUpdate { latencies, .. } => latencies);
    assert_eq!(latencies.get(&id), Some(&30));
    // A 1 ms wobble is not announced.
    sim.session.handle_probe_reply(sim.now + 34_000, x, sim.now);
    sim.advance(5 * SECOND);
    assert!(sim.received(x).iter().all(|m| m.kind() != "latency_update"));
    let (l, _) = sim.join("dev-l", false);
    sim.take(l);
    let c = sim.connect();
    sim.send_msg(c, join_msg("dev-m", false));
    let list = &sim.received(c)[1];
    assert_eq!(members_of(list)[1].latency, Some(31), "1.0 member_list carries server-measured latency");
}

/// Extension messages never reach a 1.0 client: a chat and a rename are invisible to it.
#[test]
fn loudsync_client_sees_only_loudsync() {
    let mut sim = Sim::new(Config::default());
    let (l, _) = sim.join("dev-l", false);
    let (x, _) = sim.join("dev-x", true);
    sim.take(l);
    sim.send_msg(x, chat("hi"));
    sim.session.rename(sim.now, "New name").unwrap();
    sim.flush();
    assert_eq!(sim.received(l), []);
    assert_eq!(sim.types(x), ["chat", "session_updated"]);
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

/// The document's `MemberInfo` fields, before any latency is measured.
const LOUDSYNC_MEMBER: [&str; 5] = ["connectionStatus", "id", "isHost", "joinedAt", "name"];

/// `device` (the label the I/O layer gave the connection) reaches extension members in
/// member_list, member_joined and member_updated, and the host; a 1.0 member's member_list and
/// member_joined keep exactly the document's fields (read as JSON here, on purpose).
#[test]
fn device_label_for_extension_members_only() {
    let mut sim = Sim::new(Config::default());
    let x = sim.connect_from(Some("iPhone"));
    sim.send_msg(x, join_msg("dev-x", true));
    let l = sim.connect_from(Some("Windows PC"));
    sim.send_msg(l, join_msg("dev-l", false));
    let to_l = sim.messages(l);
    assert_eq!(to_l[1]["type"], "member_list");
    for member in to_l[1]["members"].as_array().unwrap() {
        assert_eq!(keys(member), LOUDSYNC_MEMBER, "1.0 member_list: {member}");
    }
    let to_x = sim.received(x);
    let joined = member_of(first_of(&to_x, "member_joined"));
    assert_eq!(joined.device.as_deref(), Some("Windows PC"), "an extension member sees a 1.0 member's device");

    // An extension joiner: its member_list has every known device, the host's none.
    let y = sim.connect_from(Some("Android phone"));
    sim.send_msg(y, join_msg("dev-y", true));
    let to_y = sim.messages(y);
    let list = to_y.iter().find(|m| m["type"] == "member_list").unwrap();
    let devices: Vec<&Value> = list["members"].as_array().unwrap().iter().map(|m| &m["device"]).collect();
    assert_eq!(devices, [&Value::Null, &json!("iPhone"), &json!("Windows PC"), &json!("Android phone")]);
    assert!(list["members"][0].get("device").is_none(), "unknown: no key at all");

    // Its arrival: with device to x, exactly LOUDSYNC's member_joined to l.
    let to_x = sim.received(x);
    assert_eq!(member_of(&to_x[0]).device.as_deref(), Some("Android phone"));
    let to_l = sim.messages(l);
    assert_eq!(to_l.len(), 1, "{to_l:?}");
    assert_eq!(keys(&to_l[0]), ["member", "timestamp", "type"]);
    assert_eq!(keys(&to_l[0]["member"]), LOUDSYNC_MEMBER, "1.0 member_joined: {}", to_l[0]);

    // y drops and is reconnecting: member_updated with device to x, a 1.0 member_list to l.
    sim.session.handle_disconnect(sim.now, y, false);
    sim.flush();
    let to_x = sim.received(x);
    let updated = member_of(first_of(&to_x, "member_updated"));
    assert_eq!(
        (updated.device.as_deref(), updated.connection_status),
        (Some("Android phone"), ConnectionStatus::Reconnecting)
    );
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
    sim.send_msg(a, join_msg("dev-a", true));
    assert_eq!(sim.session.members()[2].device.as_deref(), Some("Mac"));
    sim.take(x);
    let b = sim.connect_from(Some("Mac or iPad"));
    sim.send_msg(b, join_msg("dev-a", true));
    assert_eq!(sim.session.members()[2].device.as_deref(), Some("Mac or iPad"));
    let to_x = sim.received(x);
    assert_eq!(member_of(first_of(&to_x, "member_updated")).device.as_deref(), Some("Mac or iPad"));
}

/// Host events report joins and leaves in order, each followed by the session's new count.
#[test]
fn host_events() {
    let mut sim = Sim::new(Config::default());
    let (a, id) = sim.join("dev-a", false);
    sim.send_msg(a, leave_msg(None));
    let events = sim.events();
    assert!(matches!(&events[0], Event::MemberJoined(m) if m.id == id), "{events:?}");
    assert!(matches!(&events[1], Event::SessionUpdated(s) if s.member_count == 1), "the count follows: {events:?}");
    assert!(matches!(&events[2], Event::MemberLeft { member, reason: LeaveReason::Left } if member.id == id));
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
    let seen = sim.received(x);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(error_of(&seen[0]), (ErrorCode::RateLimited, json!({"retryAfterMs": 250})));
    sim.session.handle_rate_limited(sim.now, x, 250, true);
    sim.flush();
    assert_eq!(closed(&sim.take(x)), Some(4029));
    assert_eq!(sim.session.members()[1].connection_status, ConnectionStatus::Reconnecting);
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
            sim.send_msg(next, join_msg("dev-a", true)); // replaces a's connection
            a = next;
        } else {
            sim.session.handle_disconnect(sim.now, b, false);
            sim.send_msg(next, resume_msg(&b_id, &b_secret, 0));
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

/// Every `member_list` says the party as it is at that moment, though the host keeps each
/// member's entry from one list to the next: after a rename, a measured latency and a dropped
/// connection, the list a 1.0 member is sent and the list a new member gets are the party's
/// members as the session describes them then (1.0's without the extension fields).
#[test]
fn every_list_is_the_party_as_it_is_then() {
    let mut sim = Sim::new(Config::default());
    let (plain, _) = sim.join("plain", false);
    let (ana, ana_id) = sim.join("ana", true);
    let (_bo, _) = sim.join("bo", true);
    let now_plain = |sim: &Sim| -> Vec<MemberInfo> { sim.session.members().iter().map(MemberInfo::loudsync).collect() };
    let last_list = |seen: &[Received]| -> Vec<MemberInfo> {
        members_of(seen.iter().rev().find(|m| m.kind() == "member_list").expect("a member_list")).to_vec()
    };
    sim.received(plain); // the joins: `member_joined`, no list

    sim.send(ana, &json!({"type": "rename", "timestamp": 1, "name": "DJ Ana"}).to_string());
    let list = last_list(&sim.received(plain));
    assert_eq!(list, now_plain(&sim), "after the rename");
    assert!(list.iter().any(|m| m.id == ana_id && m.name == "DJ Ana"), "{list:?}");

    // Ana answers her latency probe 40 ms late: a newcomer's list carries it, extension fields too.
    sim.advance(5 * SECOND);
    for seen in sim.take(ana) {
        if let Seen::Probe(sent_at) = seen {
            sim.session.handle_probe_reply(sim.now + 40 * partyline_session::MILLISECOND, ana, sent_at);
        }
    }
    sim.flush();
    let late = sim.connect();
    sim.send_msg(late, join_msg("late", true));
    let seen = sim.received(late);
    let list = last_list(&seen);
    assert_eq!(list, sim.session.members(), "a newcomer's list");
    assert!(list.iter().any(|m| m.id == ana_id && m.latency.is_some()), "Ana's latency: {list:?}");

    sim.session.handle_disconnect(sim.now, ana, false);
    sim.flush();
    let list = last_list(&sim.received(plain));
    assert_eq!(list, now_plain(&sim), "after Ana's connection dropped");
    let ana_now = list.iter().find(|m| m.id == ana_id).expect("Ana, reconnecting");
    assert_eq!(ana_now.connection_status, ConnectionStatus::Reconnecting);
}
