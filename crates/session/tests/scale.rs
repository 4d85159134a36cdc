//! Roster news scales with the party: a member whose connection cannot keep up (the I/O layer
//! says its queue is deep) gets one fresh `member_list` once it has drained, instead of a
//! `member_joined` per joiner, with its numbers still without gaps and a resume from before the
//! fresh list answered with a snapshot; and one `latency_update` carries at most
//! `MAX_LATENCIES` changes however many members moved. All on virtual time.

mod sim;

use partyline_protocol::{Received, ServerMessage, expect_message};
use partyline_session::session::MAX_LATENCIES;
use partyline_session::{Config, SECOND};
use sim::{Sim, T0, join_msg, resume_msg};

fn big_party() -> Config {
    Config { max_members: 1000, max_members_per_addr: 1000, ..Config::default() }
}

/// The `seq`s of what a connection received, in order (every message here is numbered).
fn seqs(received: &[Received]) -> Vec<u64> {
    received.iter().filter_map(|received| received.seq).collect()
}

/// While its queue is deep a member gets no `member_joined` but still its chat; once drained,
/// one `member_list` with everyone, numbered right after what it had; then `member_joined`
/// again.
#[test]
fn a_congested_member_gets_one_fresh_list() {
    let mut sim = Sim::new(big_party());
    let a = sim.connect();
    sim.send_msg(a, join_msg("dev-a", true));
    let mut last = *seqs(&sim.received(a)).last().expect("a numbered welcome bundle");
    sim.session.handle_congested(sim.now, a);
    let (b, _) = sim.join("dev-b", true);
    for n in 0..20 {
        let (other, _) = sim.join(&format!("dev-{n}"), true);
        sim.take(other);
    }
    sim.send_msg(
        b,
        partyline_protocol::ClientMessage::Chat(partyline_protocol::client::Chat {
            timestamp: 1.into(),
            text: "hi".into(),
            room: None,
        }),
    );
    let during = sim.received(a);
    let kinds: Vec<&str> = during.iter().map(Received::kind).collect();
    assert_eq!(kinds, ["chat"], "only the chat while congested");
    assert_eq!(seqs(&during), [last + 1], "numbered after the welcome bundle");
    last += 1;

    sim.session.handle_drained(sim.now, a);
    sim.flush();
    let after = sim.received(a);
    assert_eq!(after.len(), 1, "one fresh list, got {after:?}");
    let members = expect_message!(&after[0].message, ServerMessage::MemberList { members, .. } => members);
    assert_eq!(members.len(), 23, "the host, a, b and 20 more");
    assert_eq!(after[0].seq, Some(last + 1), "numbered right after the chat");

    let (late, _) = sim.join("dev-late", true);
    sim.take(late);
    let kinds: Vec<String> = sim.received(a).iter().map(|r| r.kind().to_string()).collect();
    assert_eq!(kinds, ["member_joined"], "news flows again once drained");
}

/// A congested member that drops and resumes from its last number gets a snapshot, not a
/// replay without the roster news it was never sent.
#[test]
fn a_resume_after_held_back_news_is_a_snapshot() {
    let mut sim = Sim::new(big_party());
    let (a, id, secret) = sim.join_resumable("dev-a");
    let last = *seqs(&sim.received(a)).last().unwrap_or(&0);
    sim.session.handle_congested(sim.now, a);
    let (b, _) = sim.join("dev-b", true);
    sim.take(b);
    assert!(sim.received(a).is_empty(), "the member_joined was held back");
    sim.session.handle_disconnect(sim.now, a, false);
    sim.flush();
    let again = sim.connect();
    sim.send_msg(again, resume_msg(&id, &secret, last.max(1)));
    let seen = sim.received(again);
    let resumed = seen.iter().find(|r| r.kind() == "resumed").expect("resumed");
    let snapshot = expect_message!(&resumed.message, ServerMessage::Resumed { snapshot, .. } => *snapshot);
    assert!(snapshot, "expected a snapshot, got {seen:?}");
    let list = seen.iter().find(|r| r.kind() == "member_list").expect("a member_list in the snapshot");
    let members = expect_message!(&list.message, ServerMessage::MemberList { members, .. } => members);
    assert_eq!(members.len(), 3, "the host, a and b");
}

/// A member that is congested but misses nothing gets no list when it drains.
#[test]
fn nothing_missed_is_no_list() {
    let mut sim = Sim::new(big_party());
    let (a, _) = sim.join("dev-a", true);
    sim.session.handle_congested(sim.now, a);
    sim.session.handle_drained(sim.now, a);
    sim.flush();
    assert!(sim.received(a).is_empty());
}

/// With more members moving than `MAX_LATENCIES`, one update carries that many, and the rest
/// are told in the next round.
#[test]
fn latency_updates_are_bounded() {
    let mut sim = Sim::new(big_party());
    let members = MAX_LATENCIES + 36;
    let conns: Vec<_> = (0..members).map(|n| sim.join(&format!("dev-{n}"), true).0).collect();
    for (n, conn) in conns.iter().enumerate() {
        // Each member's probe went at T0; a round trip of 10 ms + n.
        sim.session.handle_probe_reply(T0 + (10 + n as u64) * 1000, *conn, T0);
    }
    for conn in &conns {
        sim.take(*conn);
    }
    let watcher = conns[0];
    let updates = |sim: &mut Sim| -> Vec<usize> {
        sim.received(watcher)
            .iter()
            .filter_map(|r| match &r.message {
                ServerMessage::LatencyUpdate { latencies, .. } => Some(latencies.len()),
                _ => None,
            })
            .collect()
    };
    sim.advance_to(T0 + 5 * SECOND);
    assert_eq!(updates(&mut sim), [MAX_LATENCIES], "the first round");
    sim.advance_to(T0 + 10 * SECOND);
    assert_eq!(updates(&mut sim), [36], "the rest, the next round");
}

/// Members drained at the same instant share one fresh list, and a list made after the party
/// changed has the change in it.
#[test]
fn lists_drained_together_are_current() {
    let mut sim = Sim::new(big_party());
    let (a, _) = sim.join("dev-a", true);
    let (b, _) = sim.join("dev-b", true);
    sim.take(a);
    for conn in [a, b] {
        sim.session.handle_congested(sim.now, conn);
    }
    let (c, _) = sim.join("dev-c", true);
    sim.take(c);
    sim.session.handle_drained(sim.now, a);
    sim.session.handle_drained(sim.now, b);
    sim.flush();
    let count = |received: Vec<Received>| -> Vec<usize> {
        received
            .iter()
            .filter_map(|r| match &r.message {
                ServerMessage::MemberList { members, .. } => Some(members.len()),
                _ => None,
            })
            .collect()
    };
    assert_eq!((count(sim.received(a)), count(sim.received(b))), (vec![4], vec![4]), "the host, a, b and c");
    sim.session.handle_congested(sim.now, a);
    // Two joins in a party of six: more news than a quarter of a list, so a list again.
    for device in ["dev-d", "dev-e"] {
        let (conn, _) = sim.join(device, true);
        sim.take(conn);
    }
    sim.session.handle_drained(sim.now, a);
    sim.flush();
    assert_eq!(count(sim.received(a)), [6], "d and e are in the list made after they joined");
}

/// In a party where a list is large, a member whose queue was deep for a few joins gets those
/// joins, not a list of everyone: a list of N members costs as much as N `member_joined`s.
/// The news comes numbered after what it had, without gaps, and a resume from before the news
/// is a snapshot.
#[test]
fn a_congested_member_of_a_large_party_gets_the_news_not_a_list() {
    let mut sim = Sim::new(big_party());
    let (a, id, secret) = sim.join_resumable("dev-a");
    for n in 0..40 {
        let (other, _) = sim.join(&format!("dev-{n}"), true);
        sim.take(other);
    }
    sim.take(a);
    let (probe, _) = sim.join("dev-probe", true);
    let last = *seqs(&sim.received(a)).last().expect("a's member_joined of dev-probe");
    sim.take(probe);

    sim.session.handle_congested(sim.now, a);
    let mut joined = Vec::new();
    for n in 0..5 {
        let (other, _) = sim.join(&format!("late-{n}"), true);
        sim.take(other);
        joined.push(other);
    }
    // One of them loses its connection before a's queue drains: it is told of as joined, then
    // as reconnecting (never a change to a member it has not heard of).
    sim.session.handle_disconnect(sim.now, joined[4], false);
    sim.flush();
    assert!(sim.received(a).is_empty(), "held back while congested");

    sim.session.handle_drained(sim.now, a);
    sim.flush();
    let after = sim.received(a);
    let kinds: Vec<&str> = after.iter().map(Received::kind).collect();
    let mut expected = vec!["member_joined"; 5];
    expected.push("member_updated");
    assert_eq!(kinds, expected, "the five joins and the change, no list: {after:?}");
    assert_eq!(seqs(&after), (last + 1..last + 7).collect::<Vec<_>>(), "numbered after what it had");

    sim.session.handle_disconnect(sim.now, a, false);
    sim.flush();
    let again = sim.connect();
    sim.send_msg(again, resume_msg(&id, &secret, last));
    let seen = sim.received(again);
    let resumed = seen.iter().find(|r| r.kind() == "resumed").expect("resumed");
    let snapshot = expect_message!(&resumed.message, ServerMessage::Resumed { snapshot, .. } => *snapshot);
    assert!(snapshot, "a resume from before the held-back news is a snapshot: {seen:?}");
}

/// A LOUDSYNC 1.0 member held back from in a large party gets the news as LOUDSYNC 1.0 writes
/// it (seed 003, "MEMBER_JOINED": `type`, `timestamp`, `member`, and `MemberInfo`'s `id`,
/// `name`, `isHost`, `connectionStatus`, `joinedAt`, `latency?`), field by field and with no
/// `seq`, which 1.0 does not have.
#[test]
fn a_congested_loudsync_member_gets_the_news_in_loudsync_words() {
    let mut sim = Sim::new(big_party());
    let (a, _) = sim.join("dev-a", false);
    for n in 0..40 {
        let (other, _) = sim.join(&format!("dev-{n}"), true);
        sim.take(other);
    }
    sim.take(a);
    sim.session.handle_congested(sim.now, a);
    let mut names = Vec::new();
    for n in 0..3 {
        let (other, _) = sim.join(&format!("late-{n}"), true);
        sim.take(other);
        names.push(format!("late-{n} phone"));
    }
    assert!(sim.messages(a).is_empty(), "held back while congested");
    sim.session.handle_drained(sim.now, a);
    sim.flush();
    let after = sim.messages(a);
    assert_eq!(after.len(), 3, "three member_joined, no list: {after:?}");
    for (message, name) in after.iter().zip(&names) {
        let mut keys: Vec<&str> = message.as_object().expect("an object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["member", "timestamp", "type"], "{message}");
        assert_eq!(message["type"], "member_joined");
        assert!(message["timestamp"].is_u64(), "{message}");
        let member = message["member"].as_object().expect("member is an object");
        let mut keys: Vec<&str> = member.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys.retain(|key| *key != "latency");
        assert_eq!(keys, ["connectionStatus", "id", "isHost", "joinedAt", "name"], "{message}");
        assert!(member["id"].is_string() && member["joinedAt"].is_u64(), "{message}");
        assert_eq!(member["name"], name.as_str());
        assert_eq!(member["isHost"], false);
        assert_eq!(member["connectionStatus"], "connected");
    }
}
