//! Chat lines have ids and can be edited and deleted: by their author (edit and delete), by the
//! host (delete, moderation), by nobody else; every member hears of it in its format, and a
//! refused change changes nothing. All on virtual time.

mod sim;

use partyline_protocol::DEFAULT_ROOM;
use partyline_session::{Config, Event, SessionError};
use serde_json::json;
use sim::Sim;

fn say(text: &str) -> String {
    json!({"type": "chat", "timestamp": 1, "text": text}).to_string()
}

/// An author edits and deletes its own line; the others get `chat.edited` then `chat.deleted`
/// with the line's id and room; the host hears of both.
#[test]
fn an_author_edits_and_deletes_its_line() {
    let mut sim = Sim::new(Config::default());
    let (a, a_id) = sim.join("a", true);
    let (b, _) = sim.join("b", true);
    sim.flush();
    sim.take(a);
    sim.take(b);
    sim.send(a, &say("hello"));
    let chat = sim.messages(b).pop().expect("b hears the line");
    let id = chat["id"].as_str().unwrap().to_string();
    assert_eq!((chat["room"].as_str(), chat["from"].as_str()), (Some(DEFAULT_ROOM), Some(a_id.as_str())));
    sim.take(a);

    sim.send(a, &json!({"type": "chat.edit", "timestamp": 1, "id": id, "text": "hello all"}).to_string());
    let edited = sim.messages(b).pop().expect("b hears the edit");
    assert_eq!(edited["type"], "chat.edited", "{edited}");
    assert_eq!((edited["id"].as_str(), edited["text"].as_str()), (Some(id.as_str()), Some("hello all")));
    assert!(edited["editedAt"].as_u64() >= edited["createdAt"].as_u64(), "{edited}");
    assert_eq!(sim.session.chat_line(&id).map(|line| line.text.as_str()), Some("hello all"));

    sim.send(a, &json!({"type": "chat.delete", "timestamp": 1, "id": id}).to_string());
    let deleted = sim.messages(b).pop().expect("b hears the deletion");
    assert_eq!(
        deleted,
        json!({"type": "chat.deleted", "seq": deleted["seq"], "timestamp": deleted["timestamp"], "id": id, "room": DEFAULT_ROOM})
    );
    assert!(sim.session.chat_line(&id).is_none());
    let events = sim.events();
    assert!(events.iter().any(|e| matches!(e, Event::ChatEdited { id: i, text } if *i == id && text == "hello all")));
    assert!(events.iter().any(|e| matches!(e, Event::ChatDeleted { id: i } if *i == id)));
}

/// Another member may neither edit nor delete a line (`unauthorized`, and nothing changes); an
/// unknown id is `invalid_message`; the host may delete any line but edit none.
#[test]
fn only_the_author_and_the_host() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("a", true);
    let (b, _) = sim.join("b", true);
    sim.flush();
    sim.send(a, &say("mine"));
    let id = sim.messages(b).pop().unwrap()["id"].as_str().unwrap().to_string();
    sim.take(a);

    sim.send(b, &json!({"type": "chat.edit", "timestamp": 1, "id": id, "text": "yours now"}).to_string());
    let error = sim.messages(b).pop().unwrap();
    assert_eq!((error["type"].as_str(), error["code"].as_str()), (Some("error"), Some("unauthorized")), "{error}");
    sim.send(b, &json!({"type": "chat.delete", "timestamp": 1, "id": id}).to_string());
    assert_eq!(sim.messages(b).pop().unwrap()["details"]["reason"], "not_yours");
    sim.send(b, &json!({"type": "chat.delete", "timestamp": 1, "id": "c-999"}).to_string());
    assert_eq!(sim.messages(b).pop().unwrap()["details"]["reason"], "no_such_line");
    assert!(sim.messages(a).is_empty(), "a heard of no change");
    assert_eq!(sim.session.chat_line(&id).map(|line| line.text.as_str()), Some("mine"));

    let now = sim.now;
    assert!(matches!(sim.session.edit_chat(now, "nobody", &id, "x"), Err(SessionError::NoSuchDevice(_))));
    assert!(matches!(sim.session.edit_chat(now, "b", &id, "x"), Err(SessionError::NotYourLine(_))));
    assert_eq!(sim.session.delete_chat(now, None, &id).map(|line| line.id), Ok(id.clone()), "the host deletes any");
    sim.flush();
    assert_eq!(sim.messages(a).pop().unwrap()["type"], "chat.deleted");
}

/// A REST post names its member by device id and lands like a chat line from that member; an
/// unknown room or an empty line is refused and nothing is sent.
#[test]
fn a_post_by_device_id() {
    let mut sim = Sim::new(Config::default());
    let (a, a_id) = sim.join("dev-a", true);
    let (b, _) = sim.join("dev-b", true);
    sim.flush();
    sim.take(a);
    sim.take(b);
    let now = sim.now;
    let line = sim.session.post_chat(now, "dev-a", DEFAULT_ROOM, "from the API").unwrap();
    assert_eq!((line.from.as_str(), line.text.as_str()), (a_id.as_str(), "from the API"));
    sim.flush();
    assert_eq!(sim.messages(b).pop().unwrap()["id"], line.id.as_str());
    assert_eq!(sim.session.post_chat(now, "dev-a", "attic", "hi"), Err(SessionError::NoSuchRoom("attic".into())));
    assert_eq!(sim.session.post_chat(now, "dev-a", DEFAULT_ROOM, "  "), Err(SessionError::BadChat));
    sim.flush();
    assert!(sim.messages(b).is_empty(), "refused posts send nothing");
}

/// The `chat.history` a member's welcome brings, its lines' texts and its `missed`.
fn history_of(messages: &[serde_json::Value]) -> Option<(Vec<String>, u64)> {
    let history = messages.iter().find(|m| m["type"] == "chat.history")?;
    let texts = history["lines"].as_array().unwrap().iter().map(|l| l["text"].as_str().unwrap().to_string()).collect();
    Some((texts, history["missed"].as_u64().unwrap_or(0)))
}

/// A guest who joins late is welcomed with the chat so far (`chat.history`, oldest first, not
/// sequenced), edited words and without deleted lines; a 1.0 member gets none.
#[test]
fn a_late_joiner_gets_the_chat_so_far() {
    let mut sim = Sim::new(Config::default());
    let (a, _) = sim.join("a", true);
    for text in ["one", "two", "three"] {
        sim.send(a, &say(text));
    }
    let two = sim.messages(a).iter().find(|m| m["text"] == "two").unwrap()["id"].as_str().unwrap().to_string();
    sim.send(a, &json!({"type": "chat.delete", "timestamp": 1, "id": two}).to_string());
    let late = sim.connect();
    sim.send(late, &sim::join_text("late", true));
    let seen = sim.messages(late);
    assert_eq!(history_of(&seen), Some((vec!["one".into(), "three".into()], 0)), "{seen:?}");
    let history = seen.iter().find(|m| m["type"] == "chat.history").unwrap();
    assert!(history.get("seq").is_none(), "the history is not sequenced: {history}");
    let old = sim.connect();
    sim.send(old, &sim::join_text("old", false));
    assert_eq!(history_of(&sim.messages(old)), None, "no chat for a LOUDSYNC 1.0 member");
}

/// A member away for long enough that the log lost its messages is resumed with a fresh
/// welcome, and the history brings every line said while it was away; when the host kept fewer
/// lines than were said, `missed` says how many are gone.
#[test]
fn back_from_an_absence_with_what_was_said() {
    let config = Config { replay_capacity: 4, chat_lines: 6, ..Config::default() };
    let mut sim = Sim::new(config);
    let (away, id, secret) = sim.join_resumable("away");
    let (b, _) = sim.join("b", true);
    sim.send(b, &say("before"));
    let last_seq = sim.received(away).iter().filter_map(|r| r.seq).max().unwrap();
    sim.session.handle_disconnect(sim.now, away, false);
    for n in 1..=5 {
        sim.send(b, &say(&format!("while away {n}")));
    }
    let back = sim.connect();
    sim.send_msg(back, sim::resume_msg(&id, &secret, last_seq));
    let seen = sim.messages(back);
    assert_eq!(seen[0]["snapshot"], true, "the log lost what it missed: {}", seen[0]);
    let (texts, missed) = history_of(&seen).expect("a history");
    let said = ["while away 1", "while away 2", "while away 3", "while away 4", "while away 5"].map(String::from);
    assert!(texts.ends_with(&said), "{texts:?}");
    assert_eq!(missed, 0);

    sim.session.handle_disconnect(sim.now, back, false);
    for n in 6..=13 {
        sim.send(b, &say(&format!("while away {n}")));
    }
    let again = sim.connect();
    sim.send_msg(again, sim::resume_msg(&id, &secret, 0));
    let (texts, missed) = history_of(&sim.messages(again)).expect("a history");
    assert_eq!(texts.len(), 6, "the six lines the host keeps: {texts:?}");
    assert_eq!(missed, 2, "8 lines said while away, 6 kept: {texts:?}");
}
