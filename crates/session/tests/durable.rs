//! A party outlives its host's process: what the session journals (`poll_durable`), applied in
//! order to a store, is the whole party (`record`), and a session restored from that record is
//! the same party: its id, settings, rooms, bans, chat and chat counter, notifications with read
//! state, SyncPlay's queue and position, and every member, reconnecting, that resumes with its old
//! secret and takes no `cid` twice. All on virtual time, with a store modelled in memory.

mod sim;

use std::collections::BTreeMap;

use partyline_protocol::ConnectionStatus;
use partyline_protocol::{Frame, GroupState, LibraryItem, NotificationLevel, Received, RoomKind, ServerMessage};
use partyline_session::Session;
use partyline_session::{
    Ban, ChatLine, Config, Durable, KeptDirect, MemberRecord, PartyRecord, PlayRecord, Record, SECOND,
};
use serde_json::json;
use sim::{Sim, resume_msg};

/// A store as the server keeps one, in memory: each change applied by its key, in order.
#[derive(Default)]
struct Model {
    party: Option<PartyRecord>,
    members: BTreeMap<u64, MemberRecord>,
    chat: BTreeMap<u64, ChatLine>,
    deleted: Vec<u64>,
    notifications: BTreeMap<u64, ServerMessage>,
    bans: BTreeMap<String, Ban>,
    play: Option<PlayRecord>,
    directs: BTreeMap<u64, KeptDirect>,
    held: BTreeMap<u64, Vec<(Frame, Option<u64>)>>,
}

fn number(id: &str) -> u64 {
    id[2..].parse().unwrap()
}

impl Model {
    /// Drains the session's journal into the model.
    fn drain(&mut self, session: &mut Session) {
        while let Some(change) = session.poll_durable() {
            match change {
                Durable::Party(party) => self.party = Some(party),
                Durable::Member(member) => {
                    self.members.insert(member.key, member);
                }
                Durable::MemberGone(key) => {
                    self.members.remove(&key);
                    self.held.remove(&key);
                }
                Durable::Chat(line) => {
                    self.chat.insert(number(&line.id), line);
                }
                Durable::ChatGone { id, deleted } => {
                    self.chat.remove(&number(&id));
                    if deleted {
                        self.deleted.push(number(&id));
                    }
                }
                Durable::Notification(message) => {
                    let ServerMessage::Notification { id, .. } = &message else { panic!("not a notification") };
                    self.notifications.insert(number(id), message);
                }
                Durable::Ban(ban) => {
                    self.bans.insert(ban.device_id.clone(), ban);
                }
                Durable::Unban(device) => {
                    self.bans.remove(&device);
                }
                Durable::Play(play) => self.play = Some(play),
                Durable::Direct(kept) => {
                    self.directs.insert(kept.n, kept);
                }
                Durable::DirectGone(n) => {
                    self.directs.remove(&n);
                }
                Durable::Held { key, frame, expires } => {
                    let held = self.held.entry(key).or_default();
                    held.push((frame, expires));
                    let over = held.len().saturating_sub(partyline_session::member::HELD_MESSAGES);
                    held.drain(..over);
                }
                Durable::HeldSent(key) => {
                    self.held.remove(&key);
                }
            }
        }
    }

    fn record(&self, saved_at: u64) -> Record {
        let mut bans: Vec<Ban> = self.bans.values().cloned().collect();
        bans.sort_by_key(|ban| ban.at);
        Record {
            party: self.party.clone().expect("the party was journaled"),
            members: self
                .members
                .values()
                .map(|member| MemberRecord {
                    held: self.held.get(&member.key).cloned().unwrap_or_default(),
                    ..member.clone()
                })
                .collect(),
            chat: self.chat.values().cloned().collect(),
            deleted: self.deleted.clone(),
            notifications: self.notifications.values().cloned().collect(),
            bans,
            directs: self.directs.values().cloned().collect(),
            play: self.play.clone().unwrap_or_else(|| Session::new(Config::default(), 0, 0).record(0).play),
            saved_at,
        }
    }
}

fn durable() -> Config {
    Config { durable: true, ..Config::default() }
}

fn library() -> Vec<LibraryItem> {
    (1..=2)
        .map(|n| LibraryItem {
            id: format!("t-{n}"),
            title: format!("Track {n}"),
            mime: "audio/mpeg".into(),
            url: format!("/media/t-{n}"),
            size: 1,
            ..LibraryItem::default()
        })
        .collect()
}

fn send(sim: &mut Sim, conn: partyline_session::ConnId, message: serde_json::Value) {
    sim.send(conn, &message.to_string());
}

/// A party with a bit of everything: three members (one away, one banned, one renamed), chat with an edit and
/// a deletion, a notification one member read, presence, topics, a room, a lock, a capacity, a
/// name, a queue and a group paused part-way. The journal is drained after every step, as the
/// server drains it after every pass.
fn busy_party(model: &mut Model) -> (Sim, Vec<(String, String)>) {
    let mut sim = Sim::new(durable());
    sim.session.set_library(sim.now, library()).unwrap();
    let mut members = Vec::new();
    let mut conns = Vec::new();
    for device in ["dev-a", "dev-b", "dev-c", "dev-x"] {
        let (conn, id, secret) = sim.join_resumable(device);
        model.drain(&mut sim.session);
        conns.push(conn);
        members.push((id, secret));
    }
    let (a, b, c) = (conns[0], conns[1], conns[2]);
    for n in 0..5 {
        send(
            &mut sim,
            a,
            json!({"type": "chat", "timestamp": 1, "text": format!("line {n}"), "cid": format!("a-{n}")}),
        );
        model.drain(&mut sim.session);
    }
    send(&mut sim, a, json!({"type": "chat.edit", "timestamp": 1, "id": "c-2", "text": "line 1, edited"}));
    model.drain(&mut sim.session);
    send(&mut sim, a, json!({"type": "chat.delete", "timestamp": 1, "id": "c-3"}));
    model.drain(&mut sim.session);
    let notice = sim.session.notify(sim.now, "Pizza", "in the kitchen", NotificationLevel::Info).unwrap();
    model.drain(&mut sim.session);
    send(&mut sim, b, json!({"type": "mark_read", "timestamp": 1, "ids": [notice]}));
    model.drain(&mut sim.session);
    send(&mut sim, b, json!({"type": "presence", "timestamp": 1, "status": "away", "text": "back in 5"}));
    model.drain(&mut sim.session);
    send(&mut sim, c, json!({"type": "rename", "timestamp": 1, "name": "DJ Cee"}));
    model.drain(&mut sim.session);
    send(&mut sim, b, json!({"type": "subscribe", "timestamp": 1, "topics": ["game", "lobby"]}));
    model.drain(&mut sim.session);
    sim.session.add_room("Kitchen talk", RoomKind::Text).unwrap();
    model.drain(&mut sim.session);
    sim.session.set_locked(sim.now, true).unwrap();
    model.drain(&mut sim.session);
    sim.session.set_capacity(sim.now, 40).unwrap();
    model.drain(&mut sim.session);
    sim.session.rename(sim.now, "Rooftop").unwrap();
    model.drain(&mut sim.session);
    sim.session.ban(sim.now, &members[3].0, "rude").unwrap();
    model.drain(&mut sim.session);
    use partyline_protocol::client::PlayCommand;
    sim.session.syncplay_command(sim.now, PlayCommand::QueueAdd { item_id: "t-1".into() }).unwrap();
    model.drain(&mut sim.session);
    sim.session.syncplay_command(sim.now, PlayCommand::QueueAdd { item_id: "t-2".into() }).unwrap();
    model.drain(&mut sim.session);
    sim.session.syncplay_command(sim.now, PlayCommand::Play { item_id: Some("t-2".into()), position: None }).unwrap();
    model.drain(&mut sim.session);
    sim.session.syncplay_command(sim.now, PlayCommand::StartAnyway).unwrap();
    model.drain(&mut sim.session);
    sim.advance(10 * SECOND);
    model.drain(&mut sim.session);
    sim.session.syncplay_command(sim.now, PlayCommand::Pause).unwrap();
    model.drain(&mut sim.session);
    for (from, to, n) in [(a, 1, 1), (b, 0, 2), (a, 2, 3)] {
        let dm = json!({"type": "direct", "timestamp": 1, "to": members[to].0, "id": format!("dm-{n}"),
                        "payload": {"text": format!("psst {n}")}});
        send(&mut sim, from, dm);
        model.drain(&mut sim.session);
    }
    for conn in [a, b, c] {
        sim.heartbeat(conn);
    }
    sim.advance(5 * SECOND); // the phones answer the latency probes (their browsers do, at once)
    for conn in [a, b, c] {
        for seen in sim.take(conn) {
            if let sim::Seen::Probe(sent_at) = seen {
                sim.session.handle_probe_reply(sim.now, conn, sent_at);
            }
        }
    }
    model.drain(&mut sim.session);
    sim.session.handle_disconnect(sim.now, c, false); // c is away
    sim.flush();
    model.drain(&mut sim.session);
    let dm = json!({"type": "direct", "timestamp": 1, "to": members[2].0, "id": "dm-4", "payload": {"text": "psst 4"}});
    send(&mut sim, a, dm); // while c is away
    model.drain(&mut sim.session);
    model.drain(&mut sim.session);
    members.truncate(3);
    (sim, members)
}

/// The journal, applied in order to a store, is exactly the party's whole record, after every
/// kind of change (joins, lines, edits, deletions, reads, presence, topics, settings, a ban, a
/// member away, SyncPlay).
#[test]
fn the_journal_adds_up_to_the_record() {
    let mut model = Model::default();
    let (sim, _) = busy_party(&mut model);
    let (want, got) = (sim.session.record(sim.now), model.record(sim.now));
    assert_eq!(got, want, "the store's rows (left) against the session's record (right)");
    assert_eq!(want.members.len(), 3, "the banned member is gone: {:?}", want.members);
    assert_eq!(want.chat.len(), 4, "five lines, one deleted");
    assert_eq!(want.deleted, vec![3], "the deleted line's number is kept");
}

/// A session restored from its record is the same party: its record is the same (members now
/// reconnecting), they show as reconnecting, and its chat counter goes on where it was.
#[test]
fn restore_keeps_the_party() {
    let mut model = Model::default();
    let (sim, members) = busy_party(&mut model);
    let record = model.record(sim.now);
    let later = sim.now + 30 * SECOND;
    let restored = Session::restore(durable(), record.clone(), later, 99);
    let again = restored.record(later);
    assert_eq!(again.party, record.party, "party");
    assert_eq!(again.chat, record.chat, "chat");
    assert_eq!(again.deleted, record.deleted, "deleted numbers");
    assert_eq!(again.notifications, record.notifications, "notifications");
    assert_eq!(again.bans, record.bans, "bans");
    assert_eq!(again.play.queue, record.play.queue, "queue");
    assert_eq!(again.play.state, GroupState::Paused, "a paused group stays paused");
    assert_eq!(again.play.position, record.play.position, "where it was paused");
    for (was, now) in record.members.iter().zip(&again.members) {
        let reset_mark =
            MemberRecord { chat_mark: was.chat_mark, notification_mark: was.notification_mark, ..now.clone() };
        assert_eq!(&reset_mark, was, "member {} as stored (left) and restored (right)", was.id);
    }
    assert_eq!(again.members.len(), record.members.len(), "every member");
    let state = restored.state();
    assert_eq!(
        (state.id.as_str(), state.name.as_str(), state.locked, state.max_members),
        ("party1", "Rooftop", true, 40)
    );
    let shown = restored.members();
    assert!(
        shown[1..].iter().all(|m| m.connection_status == ConnectionStatus::Reconnecting),
        "every member reconnecting: {shown:?}"
    );
    assert_eq!(shown[1].id, members[0].0, "the first joiner first");
    assert!(restored.rooms().iter().any(|room| room.id == "kitchen-talk"), "the room added");
}

/// A restored member resumes with its old secret and gets a fresh welcome with the chat so far
/// (the lines, edited, without the deleted one); its old `cid`s are duplicates; a new line takes
/// the next number.
#[test]
fn a_restored_member_resumes_and_takes_no_cid_twice() {
    let mut model = Model::default();
    let (old, members) = busy_party(&mut model);
    let record = model.record(old.now);
    let mut sim = Sim::new(durable());
    sim.now = old.now + 5 * SECOND;
    sim.session = Session::restore(durable(), record, sim.now, 3);
    let conn = sim.connect();
    let (id, secret) = &members[0];
    sim.send_msg(conn, resume_msg(id, secret, 57));
    let seen = sim.received(conn);
    let kinds: Vec<&str> = seen.iter().map(|r| r.message.kind()).collect();
    assert_eq!(&kinds[..3], ["resumed", "welcome", "hello"], "a snapshot resume; saw {kinds:?}");
    assert!(matches!(seen[0].message, ServerMessage::Resumed { snapshot: true, .. }), "{:?}", seen[0]);
    let lines: Vec<(String, String)> = seen
        .iter()
        .find_map(|r| match &r.message {
            ServerMessage::ChatHistory { lines, missed, .. } => {
                assert_eq!(*missed, 0, "nothing is missing");
                Some(lines.iter().map(|line| (line.id.clone(), line.text.clone())).collect())
            }
            _ => None,
        })
        .expect("a chat.history");
    let want: Vec<(String, String)> =
        [("c-1", "line 0"), ("c-2", "line 1, edited"), ("c-4", "line 3"), ("c-5", "line 4")]
            .map(|(id, text)| (id.to_string(), text.to_string()))
            .into();
    assert_eq!(lines, want, "the kept lines as they are");
    send(&mut sim, conn, json!({"type": "chat", "timestamp": 1, "text": "line 4", "cid": "a-4"}));
    send(&mut sim, conn, json!({"type": "chat", "timestamp": 1, "text": "after", "cid": "a-5"}));
    let seen: Vec<Received> = sim.received(conn);
    let acks: Vec<(String, bool)> = seen
        .iter()
        .filter_map(|r| match &r.message {
            ServerMessage::Ack { cid, duplicate, .. } => Some((cid.clone(), *duplicate)),
            _ => None,
        })
        .collect();
    assert_eq!(acks, [("a-4".to_string(), true), ("a-5".to_string(), false)], "a-4 was taken before the restart");
    let ids: Vec<String> = seen
        .iter()
        .filter_map(|r| match &r.message {
            ServerMessage::Chat { id, .. } => Some(id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["c-6"], "one new line, numbered after the stored ones");
}

/// A member that was away when the host stopped keeps its mark: its history says what it
/// missed since it left, not the newest lines alone.
#[test]
fn an_away_member_keeps_its_mark() {
    let mut model = Model::default();
    let (mut sim, members) = busy_party(&mut model);
    let a = sim.connect();
    sim.send_msg(a, resume_msg(&members[0].0, &members[0].1, 0));
    sim.take(a);
    send(&mut sim, a, json!({"type": "chat", "timestamp": 1, "text": "while c was away"}));
    model.drain(&mut sim.session);
    let c_mark = model.members.values().find(|m| m.id == members[2].0).and_then(|m| m.chat_mark);
    assert_eq!(c_mark, Some(5), "c left after line 5");
    let record = model.record(sim.now);
    let mut sim = Sim::new(durable());
    sim.now += 60 * SECOND;
    sim.session = Session::restore(durable(), record, sim.now, 4);
    let conn = sim.connect();
    sim.send_msg(conn, resume_msg(&members[2].0, &members[2].1, 3));
    let history = sim.received(conn).into_iter().find_map(|r| match r.message {
        ServerMessage::ChatHistory { lines, missed, .. } => Some((lines.len(), missed)),
        _ => None,
    });
    assert_eq!(history, Some((5, 0)), "(lines, missed): every kept line, c-6 among them, none missed");
}

/// The notifications of a `chat.history` among `seen`, as (id, read), and how many are gone.
fn notes_of(seen: &[Received]) -> Option<(Vec<(String, bool)>, u64)> {
    seen.iter().find_map(|r| match &r.message {
        ServerMessage::ChatHistory { notifications, notifications_missed, .. } => {
            Some((notifications.iter().map(|n| (n.id.clone(), n.read)).collect(), *notifications_missed))
        }
        _ => None,
    })
}

/// After a restart, a member that was away gets the host notifications sent since it left (and
/// only those), in order; one that was connected when the host stopped gets every kept one, each
/// with whether it read it (whatever was on its way is among them; the page merges by id).
#[test]
fn notifications_missed_come_back_after_a_restart() {
    let mut model = Model::default();
    let (mut sim, members) = busy_party(&mut model); // n-1 read by b; c away since
    let away = sim.session.notify(sim.now, "Cake", "", NotificationLevel::Alert).unwrap();
    model.drain(&mut sim.session);
    let record = model.record(sim.now);
    let mut sim = Sim::new(durable());
    sim.now += 60 * SECOND;
    sim.session = Session::restore(durable(), record, sim.now, 6);
    let c = sim.connect();
    sim.send_msg(c, resume_msg(&members[2].0, &members[2].1, 0));
    assert_eq!(notes_of(&sim.received(c)), Some((vec![(away.clone(), false)], 0)), "c: what it missed, once");
    let b = sim.connect();
    sim.send_msg(b, resume_msg(&members[1].0, &members[1].1, 0));
    let want = vec![("n-1".to_string(), true), (away, false)];
    assert_eq!(notes_of(&sim.received(b)), Some((want, 0)), "b: every kept one, n-1 read");
}

/// A group that was playing when the host stopped continues from where it had got to at the
/// store's last write: it waits for the phones at that position, and starts at the ready
/// timeout if they are slow.
#[test]
fn playback_continues_from_where_the_group_was() {
    use partyline_protocol::client::PlayCommand;
    let mut sim = Sim::new(durable());
    sim.session.set_library(sim.now, library()).unwrap();
    sim.join("dev-a", true);
    sim.session.syncplay_command(sim.now, PlayCommand::Play { item_id: Some("t-1".into()), position: None }).unwrap();
    sim.session.syncplay_command(sim.now, PlayCommand::StartAnyway).unwrap();
    let started = sim.session.play_state();
    sim.advance(20 * SECOND);
    let saved_at = sim.now;
    let mut record = sim.session.record(saved_at);
    record.saved_at = saved_at;
    let reached = started.position + (saved_at - started.server_time) as f64 / 1000.0;
    let back = saved_at + 90 * SECOND;
    let mut restored = Session::restore(durable(), record, back, 5);
    let state = restored.play_state();
    assert_eq!((state.state, state.position), (GroupState::Waiting, reached), "(state, position) after restore");
    let deadline = restored.poll_timeout().expect("timers armed");
    restored.handle_timeout(back + 8 * SECOND);
    let state = restored.play_state();
    assert!(deadline <= back + 8 * SECOND, "the ready timer is armed");
    assert_eq!((state.state, state.position), (GroupState::Playing, reached), "started at the ready timeout");
}

/// A LOUDSYNC 1.0 member is gone with its connection, so a restart does not bring it back
/// reconnecting (it joins afresh); the store is told at the first drain.
#[test]
fn a_loudsync_member_is_not_restored() {
    let mut model = Model::default();
    let mut sim = Sim::new(durable());
    sim.join_resumable("dev-a");
    sim.join("dev-old", false);
    model.drain(&mut sim.session);
    assert_eq!(model.members.len(), 2, "both stored while connected");
    let mut restored = Session::restore(durable(), model.record(sim.now), sim.now, 8);
    let names: Vec<String> = restored.members().into_iter().skip(1).map(|m| m.name).collect();
    assert_eq!(names, ["dev-a phone"], "only the partyline/1 member comes back");
    model.drain(&mut restored);
    assert_eq!(model.members.len(), 1, "the store forgets the 1.0 member");
}

/// A direct message as a test compares it: (id, from, to, text).
type Dm = (String, String, String, String);

/// The direct messages of a `chat.history` among `seen`, and how many are gone.
fn directs_of(seen: &[Received]) -> Option<(Vec<Dm>, u64)> {
    seen.iter().find_map(|r| match &r.message {
        ServerMessage::ChatHistory { directs, directs_missed, .. } => Some((
            directs
                .iter()
                .map(|d| (d.id.clone(), d.from.clone(), d.to.clone(), d.payload["text"].as_str().unwrap().to_string()))
                .collect(),
            *directs_missed,
        )),
        _ => None,
    })
}

/// After a restart, a member that was away gets the direct messages sent to it since it left
/// (and only those), in order, once; one that was connected gets its own (to and from it), so
/// nothing that was on its way is lost; the resume says `restarted`, and a later resume does not.
#[test]
fn direct_messages_come_back_after_a_restart() {
    let mut model = Model::default();
    let (old, members) = busy_party(&mut model);
    let record = model.record(old.now);
    let mut sim = Sim::new(durable());
    sim.now = old.now + 5 * SECOND;
    sim.session = Session::restore(durable(), record, sim.now, 6);
    let (a, b, c) = (&members[0].0, &members[1].0, &members[2].0);
    let dm = |n: u32, from: &str, to: &str| (format!("dm-{n}"), from.to_string(), to.to_string(), format!("psst {n}"));

    let conn = sim.connect();
    sim.send_msg(conn, resume_msg(c, &members[2].1, 9));
    let seen = sim.received(conn);
    assert!(matches!(seen[0].message, ServerMessage::Resumed { snapshot: true, restarted: true, .. }), "{:?}", seen[0]);
    assert_eq!(directs_of(&seen), Some((vec![dm(4, a, c)], 0)), "c was away: what came since it left");

    let conn = sim.connect();
    sim.send_msg(conn, resume_msg(b, &members[1].1, 40));
    let seen = sim.received(conn);
    let want = vec![dm(1, a, b), dm(2, b, a)];
    assert_eq!(directs_of(&seen), Some((want, 0)), "b was connected: its own, to and from it");

    sim.session.handle_disconnect(sim.now, conn, false);
    let again = sim.connect();
    sim.send_msg(again, resume_msg(b, &members[1].1, 0));
    let seen = sim.received(again);
    assert!(matches!(seen[0].message, ServerMessage::Resumed { restarted: false, .. }), "{:?}", seen[0]);
}

/// What was held for an away seed-001 member survives a restart: back, it gets it, oldest first.
#[test]
fn held_messages_survive_a_restart() {
    let mut model = Model::default();
    let mut sim = Sim::new(durable());
    let frames_of = |sim: &mut Sim, conn| -> Vec<serde_json::Value> {
        sim.take(conn)
            .into_iter()
            .filter_map(|seen| match seen {
                sim::Seen::Msg(message) => Some(message),
                _ => None,
            })
            .collect()
    };
    let sam = sim.connect_rt("sam", Some("sam-1"));
    let rita = sim.connect_rt("rita", Some("rita-1"));
    let rita_id = frames_of(&mut sim, rita)
        .into_iter()
        .find(|m| m["type"] == "Status")
        .map(|m| m["data"]["details"]["connection_id"].as_str().unwrap().to_string())
        .expect("rita's welcome");
    model.drain(&mut sim.session);
    sim.session.handle_disconnect(sim.now, rita, false);
    sim.flush();
    model.drain(&mut sim.session);
    for n in 1..=2 {
        let dm = json!({"type": "DirectMessage", "data": {"target_user": rita_id, "payload": {"n": n}}, "id": format!("dm-{n}")});
        sim.send_rt(sam, &dm.to_string());
        model.drain(&mut sim.session);
    }
    let record = model.record(sim.now);
    assert_eq!(record.members.iter().map(|m| m.held.len()).sum::<usize>(), 2, "two held in the store");
    let mut sim2 = Sim::new(durable());
    sim2.now = sim.now + 10 * SECOND;
    sim2.session = Session::restore(durable(), record, sim2.now, 7);
    let back = sim2.connect_rt("rita", Some("rita-1"));
    let got: Vec<u64> = frames_of(&mut sim2, back)
        .iter()
        .filter(|m| m["type"] == "DirectMessage")
        .map(|m| m["data"]["payload"]["n"].as_u64().unwrap())
        .collect();
    assert_eq!(got, vec![1, 2], "held, kept through the restart, delivered in order");
    let journal: Vec<Durable> = std::iter::from_fn(|| sim2.session.poll_durable()).collect();
    assert!(journal.iter().any(|change| matches!(change, Durable::HeldSent(_))), "the store is told: {journal:?}");
}

/// A party the host stopped (`close`: every member told `session_closed`) is kept without its
/// members, who were told it is over: the next start of the same file has no guests waiting as
/// "reconnecting", and keeps the rest (its chat, notifications, bans, queue). The direct
/// messages kept for those members go with them.
#[test]
fn a_stopped_party_is_kept_without_its_members() {
    let mut model = Model::default();
    let (mut sim, _) = busy_party(&mut model);
    assert!(!model.members.is_empty() && !model.directs.is_empty(), "members and directs before the stop");
    sim.session.close(sim.now, Some("Host ended the session"));
    model.drain(&mut sim.session);
    let record = model.record(sim.now);
    assert!(record.members.is_empty(), "no member kept: {:?}", record.members);
    assert!(model.directs.is_empty(), "no direct kept for members told the party ended");
    assert_eq!(record.chat.len(), 4, "the chat is kept");
    assert_eq!(record.bans.len(), 1, "the ban is kept");
    assert_eq!(record.play.queue.len(), 2, "the queue is kept");
    let restored = Session::restore(durable(), record, sim.now + SECOND, 5);
    assert_eq!(restored.members().len(), 1, "the host alone: {:?}", restored.members());
}
