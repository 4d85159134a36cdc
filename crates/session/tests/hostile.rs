//! One guest cannot take over another, farm a party's places, fake its latency or make the
//! host hold without bound: a device id is not a credential, a reconnecting place yields to a
//! new guest, only the pong of the host's own probe is a round trip, and replay buffers are
//! bounded per member and in total. On virtual time, like the other session tests.

mod sim;

use std::net::{IpAddr, Ipv4Addr};

use partyline_protocol::ClientMessage;
use partyline_protocol::client::{Chat, Direct, PlayCommand, SyncplayCommand};
use partyline_session::{Config, SECOND};
use serde_json::Value;
use sim::{Sim, T0, closed, join_msg, resume_msg};

const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9));

fn latency_of(sim: &Sim, id: &str) -> Option<u32> {
    sim.session.members().into_iter().find(|m| m.id == id).and_then(|m| m.latency)
}

fn error_code(seen: &[Value]) -> Option<String> {
    seen.iter().find(|m| m["type"] == "error").map(|m| m["code"].as_str().unwrap().to_string())
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
    let seen = sim.messages(thief);
    assert_eq!(error_code(&seen).as_deref(), Some("already_joined"), "{seen:?}");
    assert!(seen.iter().all(|m| m["type"] != "welcome"), "no welcome for the thief: {seen:?}");
    assert_eq!(sim.take(a), vec![], "the member noticed nothing");
    sim.session.set_locked(sim.now, false).unwrap();
    sim.flush();
    sim.take(a);
    let again = sim.connect_at(OTHER);
    sim.send_msg(again, join_msg("dev-a", true));
    assert_eq!(error_code(&sim.messages(again)).as_deref(), Some("already_joined"), "unlocked: still refused");

    let same_place = sim.connect();
    sim.send_msg(same_place, join_msg("dev-a", true));
    let welcome = sim.messages(same_place).into_iter().find(|m| m["type"] == "welcome").unwrap();
    assert_eq!(welcome["clientId"], a_id.as_str(), "from its own address the device takes over");
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
    let welcome = sim.messages(other).into_iter().find(|m| m["type"] == "welcome").unwrap();
    assert_ne!(welcome["clientId"], a_id.as_str(), "a new member, not the one that was away");
    let to_w = sim.messages(w);
    let left = to_w.iter().find(|m| m["type"] == "member_left").expect("the old place is let go");
    assert_eq!(left["memberId"], a_id.as_str());
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
    let seen = sim.messages(fourth);
    assert_eq!(error_code(&seen).as_deref(), Some("session_full"), "{seen:?}");
    let error = seen.iter().find(|m| m["type"] == "error").unwrap();
    assert_eq!(error["details"]["reason"], "address_limit");
    let elsewhere = sim.connect_at(OTHER);
    sim.send_msg(elsewhere, join_msg("dev-3", true));
    assert!(sim.messages(elsewhere).iter().any(|m| m["type"] == "welcome"), "another address joins");
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
    assert!(sim.messages(guest).iter().any(|m| m["type"] == "welcome"), "the new guest is in");
    let to_w = sim.messages(w);
    let left = to_w.iter().find(|m| m["type"] == "member_left").expect("a ghost gave up its place");
    assert_eq!((left["memberId"].as_str(), left["reason"].as_str()), (first_away.as_deref(), Some("timeout")));
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
    let last_seq = sim.messages(a).last().unwrap()["seq"].as_u64().unwrap(); // b's member_joined
    sim.session.handle_disconnect(sim.now, a, false);
    sim.flush();
    let payload = serde_json::Value::String("x".repeat(8000));
    for n in 0..100 {
        let direct = Direct { timestamp: 1.into(), to: a_id.clone(), id: format!("d-{n}"), payload: payload.clone() };
        sim.send(b, &ClientMessage::Direct(direct).to_text());
        if n % 20 == 0 {
            sim.heartbeat(b);
        }
    }
    sim.take(b);
    assert!(sim.session.replay_bytes() <= 64 * 1024 + 16 * 1024, "held {} bytes", sim.session.replay_bytes());
    let back = sim.connect();
    sim.send_msg(back, resume_msg(&a_id, &secret, last_seq));
    let seen = sim.messages(back);
    assert_eq!(seen[0]["type"], "resumed");
    assert_eq!(seen[0]["snapshot"], true, "what was dropped is not silently skipped");
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
        sim.send(sender, &ClientMessage::Chat(Chat { timestamp: 1.into(), text: format!("{round} {text}") }).to_text());
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
    };
    sim.session.set_library(sim.now, vec![item]).unwrap();
    sim.session.set_permissions(sim.now, Permissions { playback: false, queue: true }).unwrap();
    let (a, _) = sim.join("dev-a", true);
    let (b, _) = sim.join("dev-b", true);
    sim.take(b);
    let add = PlayCommand::QueueAdd { item_id: "t-1".into() };
    let add = &ClientMessage::SyncplayCommand(SyncplayCommand { timestamp: 1.into(), command: add }).to_text();
    sim.send(a, add);
    let to_b = sim.messages(b);
    assert_eq!(to_b.len(), 1, "{to_b:?}");
    assert_eq!(to_b[0]["type"], "syncplay.queue");
    assert_eq!((to_b[0]["added"]["itemId"].as_str(), to_b[0]["index"].as_u64()), (Some("t-1"), Some(0)));
    for _ in 1..MAX_QUEUE {
        sim.send(a, add);
        sim.heartbeat(a);
        sim.heartbeat(b);
    }
    sim.take(a);
    sim.take(b);
    sim.send(a, add);
    let seen = sim.messages(a);
    assert_eq!(error_code(&seen).as_deref(), Some("invalid_message"), "{seen:?}");
    assert!(seen[0]["message"].as_str().unwrap().contains("queue is full"), "{seen:?}");
    assert_eq!(sim.messages(b), Vec::<Value>::new(), "nothing sent to the others");
    assert_eq!(sim.session.play_state().queue.len(), MAX_QUEUE);
}
