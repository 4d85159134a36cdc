//! One guest cannot take over another, farm a party's places, fake its latency or make the
//! host hold without bound: a device id is not a credential, a reconnecting place yields to a
//! new guest, only the pong of the host's own probe is a round trip, and replay buffers are
//! bounded per member and in total. On virtual time, like the other session tests.

mod sim;

use std::net::{IpAddr, Ipv4Addr};

use partyline_protocol::client::{Chat, Direct, PlayCommand, SyncplayCommand};
use partyline_protocol::{
    ClientMessage, ErrorCode, LeaveReason, QueueEntry, Received, ServerMessage, expect_message, reason,
};
use partyline_session::{Config, SECOND};
use serde_json::{Value, json};
use sim::{Sim, T0, closed, join_msg, resume_msg};

const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9));

fn latency_of(sim: &Sim, id: &str) -> Option<u32> {
    sim.session.members().into_iter().find(|m| m.id == id).and_then(|m| m.latency)
}

/// The code and details of the first `error` among these messages, if one came.
fn error_in(seen: &[Received]) -> Option<(ErrorCode, Value)> {
    seen.iter().find_map(|m| match &m.message {
        ServerMessage::Error { code, details, .. } => Some((*code, details.clone().unwrap_or(Value::Null))),
        _ => None,
    })
}

/// The member id of the `welcome` among these messages, if one came.
fn welcome_in(seen: &[Received]) -> Option<&str> {
    seen.iter().find_map(|m| match &m.message {
        ServerMessage::Welcome { client_id, .. } => Some(client_id.as_str()),
        _ => None,
    })
}

/// Who left and why, from the first `member_left` among these messages, if one came.
fn left_in(seen: &[Received]) -> Option<(&str, LeaveReason)> {
    seen.iter().find_map(|m| match &m.message {
        ServerMessage::MemberLeft { member_id, reason, .. } => Some((member_id.as_str(), *reason)),
        _ => None,
    })
}

/// An unsolicited pong (payload 0, or any time but the probe's) measures nothing; the probe's
/// own pong does, once.
#[test]
fn only_the_hosts_probe_is_a_round_trip() {
    let mut sim = Sim::new(Config::default());
    let (x, id) = sim.join("dev-x", true);
    sim.session.handle_probe_reply(sim.now + 5_000, x, 0);
    sim.session.handle_probe_reply(sim.now + 5_000, x, T0 - 1_000);
    assert_eq!(latency_of(&sim, &id), None, "forged pongs are not latencies");
    sim.session.handle_probe_reply(T0 + 20_000, x, T0);
    assert_eq!(latency_of(&sim, &id), Some(20), "the join probe's pong counts");
    sim.session.handle_probe_reply(T0 + 900_000, x, T0);
    assert_eq!(latency_of(&sim, &id), Some(20), "the same pong again counts no more");
}

/// A join naming a connected member's device from another address does not take it over, not
/// even while the party is locked; from the member's own address it does (a phone whose old
/// connection has not timed out yet).
#[test]
fn a_device_id_is_not_a_credential() {
    let mut sim = Sim::new(Config::default());
    let (a, a_id) = sim.join("dev-a", true);
    sim.take(a);
    sim.session.set_locked(sim.now, true).unwrap();
    sim.flush();
    sim.take(a);
    let thief = sim.connect_at(OTHER);
    sim.send_msg(thief, join_msg("dev-a", true));
    let seen = sim.received(thief);
    assert_eq!(error_in(&seen).map(|e| e.0), Some(ErrorCode::AlreadyJoined), "{seen:?}");
    assert_eq!(welcome_in(&seen), None, "no welcome for the thief: {seen:?}");
    assert_eq!(sim.take(a), vec![], "the member noticed nothing");
    sim.session.set_locked(sim.now, false).unwrap();
    sim.flush();
    sim.take(a);
    let again = sim.connect_at(OTHER);
    sim.send_msg(again, join_msg("dev-a", true));
    let refused = error_in(&sim.received(again)).map(|e| e.0);
    assert_eq!(refused, Some(ErrorCode::AlreadyJoined), "unlocked: still refused");

    let same_place = sim.connect();
    sim.send_msg(same_place, join_msg("dev-a", true));
    let seen = sim.received(same_place);
    assert_eq!(welcome_in(&seen), Some(a_id.as_str()), "from its own address the device takes over");
    assert_eq!(closed(&sim.take(a)), Some(4009));
}

/// A reconnecting member's device id, sent from another address, gets a new member, never the
/// old one (its secret is what proves a resume); the old place is let go.
#[test]
fn a_reconnecting_member_is_not_taken_over() {
    let mut sim = Sim::new(Config::default());
    let (a, a_id, _) = sim.join_resumable("dev-a");
    let (w, _) = sim.join("dev-w", true);
    sim.session.handle_disconnect(sim.now, a, false);
    sim.flush();
    sim.take(w);
    let other = sim.connect_at(OTHER);
    sim.send_msg(other, join_msg("dev-a", true));
    let seen = sim.received(other);
    let welcome = welcome_in(&seen).expect("a welcome");
    assert_ne!(welcome, a_id, "a new member, not the one that was away");
    let to_w = sim.received(w);
    assert_eq!(left_in(&to_w), Some((a_id.as_str(), LeaveReason::Timeout)), "the old place is let go");
}

/// One address cannot hold more than `max_members_per_addr` places; another address can still join.
#[test]
fn places_per_address_are_capped() {
    let mut sim = Sim::new(Config { max_members_per_addr: 3, ..Config::default() });
    for n in 0..3 {
        sim.join(&format!("dev-{n}"), true);
    }
    let fourth = sim.connect();
    sim.send_msg(fourth, join_msg("dev-3", true));
    let seen = sim.received(fourth);
    let limit = json!({"reason": reason::ADDRESS_LIMIT, "maxMembersPerAddress": 3});
    assert_eq!(error_in(&seen), Some((ErrorCode::SessionFull, limit)), "{seen:?}");
    let elsewhere = sim.connect_at(OTHER);
    sim.send_msg(elsewhere, join_msg("dev-3", true));
    assert!(welcome_in(&sim.received(elsewhere)).is_some(), "another address joins");
}

/// Joins that drop at once cannot hold a full party's places: a new guest takes the place of
/// the member away longest, which leaves with reason timeout.
#[test]
fn a_reconnecting_place_yields_to_a_new_guest() {
    let mut sim = Sim::new(Config { max_members: 5, ..Config::default() });
    let (w, _) = sim.join("watcher", true);
    let mut first_away = None;
    for n in 0..4 {
        let (conn, id) = sim.join(&format!("ghost-{n}"), true);
        sim.session.handle_disconnect(sim.now, conn, false);
        sim.flush();
        first_away.get_or_insert(id);
        sim.advance(SECOND);
        sim.heartbeat(w);
    }
    assert_eq!(sim.session.member_count(), 5, "full: 1 here and 4 reconnecting");
    sim.take(w);
    let guest = sim.connect_at(OTHER);
    sim.send_msg(guest, join_msg("guest", true));
    assert!(welcome_in(&sim.received(guest)).is_some(), "the new guest is in");
    let to_w = sim.received(w);
    let first_away = first_away.expect("a ghost");
    assert_eq!(left_in(&to_w), Some((first_away.as_str(), LeaveReason::Timeout)), "a ghost gave up its place");
    assert_eq!(sim.session.member_count(), 5);
}

/// 8 KiB directs to a member that is away are kept up to the per-member byte bound, not 512
/// of them; its resume from before what was dropped gets a snapshot, not a partial replay.
#[test]
fn replay_is_bounded_per_member() {
    let config = Config { replay_bytes: 64 * 1024, ..Config::default() };
    let mut sim = Sim::new(config);
    let (a, a_id, secret) = sim.join_resumable("dev-a");
    let (b, _) = sim.join("dev-b", true);
    let last_seq = sim.received(a).last().unwrap().seq.unwrap(); // b's member_joined
    sim.session.handle_disconnect(sim.now, a, false);
    sim.flush();
    let payload = serde_json::Value::String("x".repeat(8000));
    for n in 0..100 {
        let direct =
            Direct { timestamp: 1.into(), to: a_id.clone(), id: format!("d-{n}"), payload: payload.clone(), ttl: None };
        sim.send(b, &ClientMessage::Direct(direct).to_text());
        if n % 20 == 0 {
            sim.heartbeat(b);
        }
    }
    sim.take(b);
    assert!(sim.session.replay_bytes() <= 64 * 1024 + 16 * 1024, "held {} bytes", sim.session.replay_bytes());
    let back = sim.connect();
    sim.send_msg(back, resume_msg(&a_id, &secret, last_seq));
    let seen = sim.received(back);
    let snapshot = expect_message!(&seen[0].message, ServerMessage::Resumed { snapshot, .. } => *snapshot);
    assert!(snapshot, "what was dropped is not silently skipped");
}

/// The party's log stays under `replay_log_bytes`, however many members are away: each message
/// is kept once, not once per member.
#[test]
fn replay_is_bounded_in_total() {
    let config = Config { replay_log_bytes: 100 * 1024, max_members_per_addr: 100, ..Config::default() };
    let mut sim = Sim::new(config);
    let (sender, _) = sim.join("sender", true);
    let mut away = Vec::new();
    for n in 0..20 {
        let (conn, id) = sim.join(&format!("dev-{n}"), true);
        sim.session.handle_disconnect(sim.now, conn, false);
        away.push(id);
    }
    sim.flush();
    let text = "y".repeat(900);
    for round in 0..200 {
        sim.send(
            sender,
            &ClientMessage::Chat(Chat { timestamp: 1.into(), text: format!("{round} {text}"), room: None }).to_text(),
        );
        sim.heartbeat(sender);
        assert!(sim.session.replay_bytes() <= 100 * 1024, "round {round}: {} bytes", sim.session.replay_bytes());
    }
    assert!(sim.session.replay_bytes() > 50 * 1024, "the bound is used, not everything dropped");
}

/// Adding to the queue sends the one step (`syncplay.queue`), not the whole state with the
/// whole queue; the queue stops at its bound with an error that changes nothing.
#[test]
fn queue_changes_are_steps_and_the_queue_is_bounded() {
    use partyline_protocol::{LibraryItem, Permissions};
    use partyline_session::syncplay::MAX_QUEUE;
    let mut sim = Sim::new(Config::default());
    let item = LibraryItem {
        id: "t-1".into(),
        title: "Song".into(),
        mime: "audio/mpeg".into(),
        url: "/media/song.mp3".into(),
        size: 10,
        ..LibraryItem::default()
    };
    sim.session.set_library(sim.now, vec![item]).unwrap();
    sim.session.set_permissions(sim.now, Permissions { playback: false, queue: true }).unwrap();
    let (a, _) = sim.join("dev-a", true);
    let (b, _) = sim.join("dev-b", true);
    sim.take(b);
    let add = PlayCommand::QueueAdd { item_id: "t-1".into() };
    let add = &ClientMessage::SyncplayCommand(SyncplayCommand { timestamp: 1.into(), command: add }).to_text();
    sim.send(a, add);
    let to_b = sim.received(b);
    assert_eq!(to_b.len(), 1, "{to_b:?}");
    let step = expect_message!(&to_b[0].message, ServerMessage::SyncplayQueue { added, index, .. } => (added, *index));
    assert_eq!((step.0.as_ref().map(|e: &QueueEntry| e.item_id.as_str()), step.1), (Some("t-1"), Some(0)));
    for _ in 1..MAX_QUEUE {
        sim.send(a, add);
        sim.heartbeat(a);
        sim.heartbeat(b);
    }
    sim.take(a);
    sim.take(b);
    sim.send(a, add);
    let seen = sim.received(a);
    let refused = expect_message!(&seen[0].message, ServerMessage::Error { code, message, .. } => (*code, message));
    assert_eq!(refused.0, ErrorCode::InvalidMessage, "{seen:?}");
    assert!(refused.1.contains("queue is full"), "{seen:?}");
    assert_eq!(sim.received(b), [], "nothing sent to the others");
    assert_eq!(sim.session.play_state().queue.len(), MAX_QUEUE);
}
