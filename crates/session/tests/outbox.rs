//! The outbox's promise on the host's side: a partyline/1 message sent with a `cid` is applied
//! at most once however often it is sent again (after a drop, a resume, a rejoin of the same
//! device), and every sending is answered with `ack`: `ok` when applied, not when refused,
//! `duplicate` when it had been taken already. A 1.0 member's `cid` changes nothing. All on
//! virtual time.

mod sim;

use partyline_protocol::{Received, ServerMessage};
use partyline_session::Config;
use serde_json::json;
use sim::{Sim, resume_msg};

fn chat(text: &str, cid: &str) -> String {
    json!({"type": "chat", "timestamp": 1, "text": text, "cid": cid}).to_string()
}

/// The `ack`s among what a member received: (cid, ok, duplicate).
fn acks(received: &[Received]) -> Vec<(String, bool, bool)> {
    received
        .iter()
        .filter_map(|r| match &r.message {
            ServerMessage::Ack { cid, ok, duplicate, .. } => Some((cid.clone(), *ok, *duplicate)),
            _ => None,
        })
        .collect()
}

/// The chat texts among what a member received.
fn chats(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .filter_map(|r| match &r.message {
            ServerMessage::Chat { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// A chat sent three times with one `cid` is said once; the first sending is acked `ok`, the
/// others `duplicate`; a new `cid` is a new line.
#[test]
fn a_cid_is_applied_once() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("dev-a", true);
    let (b, _) = sim.join("dev-b", true);
    sim.received(a);
    sim.received(b);
    for _ in 0..3 {
        sim.send(a, &chat("hello", "c-1"));
    }
    sim.send(a, &chat("hello", "c-2"));
    let seen = sim.received(a);
    assert_eq!(chats(&seen), ["hello", "hello"], "the sender sees each line once");
    let expected = [("c-1", true, false), ("c-1", true, true), ("c-1", true, true), ("c-2", true, false)];
    assert_eq!(acks(&seen), expected.map(|(c, o, d)| (c.to_string(), o, d)));
    let lines = sim.received(b);
    assert_eq!(chats(&lines), ["hello", "hello"], "the others see two lines, not four");
    let cids: Vec<_> = lines
        .iter()
        .filter_map(|r| match &r.message {
            ServerMessage::Chat { cid, .. } => cid.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(cids, ["c-1", "c-2"], "each line carries the cid it was sent with");
}

/// A refused message is acked with `ok` false, after its `error`, and sent again it is not
/// tried again (`duplicate`, still not ok).
#[test]
fn a_refused_message_is_acked_not_ok() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("dev-a", true);
    sim.received(a);
    let bad = json!({"type": "chat", "timestamp": 1, "text": "hi", "room": "nowhere", "cid": "c-9"}).to_string();
    sim.send(a, &bad);
    let seen = sim.received(a);
    assert_eq!(seen.iter().map(|r| r.message.kind()).collect::<Vec<_>>(), ["error", "ack"]);
    assert_eq!(acks(&seen), [("c-9".to_string(), false, false)]);
    sim.send(a, &bad);
    assert_eq!(acks(&sim.received(a)), [("c-9".to_string(), false, true)], "not tried again");
}

/// The ack is lost with the connection; the phone resumes and sends the line again: the
/// others still have it once, and the sender gets its ack as a duplicate.
#[test]
fn a_resend_after_resume_is_not_a_second_line() {
    let mut sim = Sim::new(Config::default());
    let (a, id, secret) = sim.join_resumable("dev-a");
    let (b, _) = sim.join("dev-b", true);
    sim.received(b);
    sim.send(a, &chat("are you there", "c-1"));
    let last_seq = sim.received(a).iter().filter_map(|r| r.seq).max().unwrap();
    sim.session.handle_disconnect(sim.now, a, false);
    let back = sim.connect();
    sim.send_msg(back, resume_msg(&id, &secret, last_seq));
    sim.received(back);
    sim.send(back, &chat("are you there", "c-1"));
    assert_eq!(acks(&sim.received(back)), [("c-1".to_string(), true, true)]);
    assert_eq!(chats(&sim.received(b)), ["are you there"], "once, not twice");
}

/// A LOUDSYNC 1.0 member's `cid` is ignored: no `ack` (a 1.0 client knows none), and each
/// sending is what it would be without one.
#[test]
fn a_loudsync_member_gets_no_ack() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("dev-a", false);
    sim.received(a);
    sim.send(a, &json!({"type": "heartbeat", "timestamp": 1, "cid": "c-1"}).to_string());
    sim.send(a, &chat("hi", "c-2"));
    let kinds: Vec<&str> = sim.received(a).iter().map(|r| r.message.kind()).collect();
    assert!(!kinds.contains(&"ack"), "no ack for a 1.0 member: {kinds:?}");
}
