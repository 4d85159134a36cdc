//! Names a guest cannot abuse: a name with a character nobody can see is refused at `join`; one
//! that looks like the host's or another member's is shown with a number; a guest may change its
//! name (`rename`), under the same rules, and everyone hears of it. All on virtual time.

mod sim;

use partyline_protocol::{Received, ServerMessage};
use partyline_session::Config;
use serde_json::json;
use sim::Sim;

fn join_named(sim: &mut Sim, device: &str, name: &str) -> Vec<Received> {
    let conn = sim.connect();
    let join = json!({"type": "join", "timestamp": 1, "sessionId": "party1", "protocolVersion": "partyline/1",
        "deviceInfo": {"id": device, "name": name, "type": "client"}});
    sim.send(conn, &join.to_string());
    sim.received(conn)
}

fn names(sim: &Sim) -> Vec<String> {
    sim.session.members().into_iter().filter(|m| !m.is_host).map(|m| m.name).collect()
}

/// A zero-width space, a right-to-left override or a control character in a name is
/// `invalid_message` and nobody joins; a composed and a decomposed "é" are one name.
#[test]
fn invisible_names_are_refused() {
    let mut sim = Sim::new(Config { session_id: Some("party1".into()), ..Config::default() });
    for (n, name) in ["Sa\u{200B}ra", "\u{202E}araS", "Bo\u{7}b"].iter().enumerate() {
        let seen = join_named(&mut sim, &format!("dev-{n}"), name);
        assert_eq!(seen.iter().map(|r| r.message.kind()).collect::<Vec<_>>(), ["error"], "{name:?}: {seen:?}");
    }
    assert!(names(&sim).is_empty(), "nobody joined: {:?}", names(&sim));
    join_named(&mut sim, "dev-e", "Zoe\u{0301}   B");
    assert_eq!(names(&sim), ["Zoé B"], "NFC, one space");
}

/// A second "Sara", a "sara" and a Cyrillic "Ѕara" are shown as "Sara (2)", "sara (3)" and
/// "Ѕara (4)"; a guest named like the host is marked too; a name is free again once its
/// member left.
#[test]
fn lookalikes_are_marked() {
    let mut sim = Sim::new(Config { session_id: Some("party1".into()), host_name: "Host".into(), ..Config::default() });
    for (device, name) in [("a", "Sara"), ("b", "Sara"), ("c", "sara"), ("d", "\u{0405}ara"), ("e", "H\u{043E}st")] {
        join_named(&mut sim, device, name);
    }
    assert_eq!(names(&sim), ["Sara", "Sara (2)", "sara (3)", "\u{0405}ara (4)", "H\u{043E}st (2)"]);
    let b = sim.session.members().into_iter().find(|m| m.name == "Sara (2)").unwrap().id;
    sim.session.kick(sim.now, &b, "bye").unwrap();
    join_named(&mut sim, "f", "SARA");
    assert_eq!(names(&sim).last().map(String::as_str), Some("SARA (2)"), "the freed look is taken again");
}

/// `rename`: the member and everyone else get `member_updated` with the new name; a name that
/// looks taken is marked; an invisible one is refused and the name stays.
#[test]
fn a_guest_renames_itself() {
    let mut sim = Sim::new(Config { session_id: Some("party1".into()), ..Config::default() });
    let (a, a_id) = sim.join("a", true);
    let (b, _) = sim.join("b", true);
    sim.received(a);
    sim.received(b);
    sim.send(a, &json!({"type": "rename", "timestamp": 1, "name": "  DJ   Ana "}).to_string());
    let name_in = |received: Vec<Received>| {
        received.into_iter().find_map(|r| match r.message {
            ServerMessage::MemberUpdated { member, .. } if member.id == a_id => Some(member.name),
            _ => None,
        })
    };
    assert_eq!(name_in(sim.received(b)), Some("DJ Ana".into()), "the others hear of it");
    assert_eq!(name_in(sim.received(a)), Some("DJ Ana".into()), "and the member itself");
    sim.send(a, &json!({"type": "rename", "timestamp": 1, "name": "b phone"}).to_string());
    assert_eq!(name_in(sim.received(b)), Some("b phone (2)".into()), "b's name is taken: marked");
    sim.received(a);
    sim.send(a, &json!({"type": "rename", "timestamp": 1, "name": "Ana\u{200B}"}).to_string());
    assert_eq!(sim.received(a).iter().map(|r| r.message.kind()).collect::<Vec<_>>(), ["error"]);
    assert!(names(&sim).contains(&"b phone (2)".to_string()), "the name stays: {:?}", names(&sim));
}
