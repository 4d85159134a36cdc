//! A member away for ten minutes is the same member and receives every chat line, direct
//! message and host notification it missed, in order, once: replayed when the party's log still
//! covers its absence, and in its fresh `welcome`'s `chat.history` when the log does not (a log
//! made small here, as a busy party's ten minutes would make it); what is beyond what the host
//! keeps is counted. On virtual time: ten minutes take none.

mod sim;

use partyline_protocol::{NotificationLevel, Received, ServerMessage};
use partyline_session::session::KEPT_NOTIFICATIONS;
use partyline_session::{Config, SECOND};
use serde_json::json;
use sim::{Sim, resume_msg};

/// What a member got of the party's talk: chat line ids, direct message ids and notification
/// ids, in order.
#[derive(Debug, Default, PartialEq)]
struct Got {
    lines: Vec<String>,
    directs: Vec<String>,
    notes: Vec<String>,
}

impl Got {
    fn add(&mut self, seen: &[Received]) {
        for r in seen {
            match &r.message {
                ServerMessage::Chat { id, .. } => self.lines.push(id.clone()),
                ServerMessage::Direct { id, .. } => self.directs.push(id.clone()),
                ServerMessage::Notification { id, .. } => self.notes.push(id.clone()),
                ServerMessage::ChatHistory {
                    lines,
                    directs,
                    missed,
                    directs_missed,
                    notifications,
                    notifications_missed,
                    ..
                } => {
                    assert_eq!(
                        (*missed, *directs_missed, *notifications_missed),
                        (0, 0, 0),
                        "nothing is beyond what the host keeps"
                    );
                    for note in notifications {
                        if !self.notes.contains(&note.id) {
                            self.notes.push(note.id.clone());
                        }
                    }
                    // The page merges a history by id: a line it has is not taken twice.
                    for line in lines {
                        if !self.lines.contains(&line.id) {
                            self.lines.push(line.id.clone());
                        }
                    }
                    for direct in directs {
                        if !self.directs.contains(&direct.id) {
                            self.directs.push(direct.id.clone());
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Cara drops; for ten minutes Ana says a line every 2 s, Ben sends Cara a direct message
/// every 30 s and the host notifies every minute, Ana and Ben heartbeating; Cara resumes from
/// the last number she had. Returns what she got before and after, what was said (as a `Got`),
/// and whether her resume was a snapshot.
fn ten_minutes_away(config: Config) -> (Got, Got, bool) {
    let mut sim = Sim::new(config);
    let (ana, _, _) = sim.join_resumable("ana");
    let (ben, _, _) = sim.join_resumable("ben");
    let (cara, cara_id, secret) = sim.join_resumable("cara");
    let mut got = Got::default();
    sim.send(ana, &json!({"type": "chat", "timestamp": 1, "text": "before"}).to_string());
    let seen = sim.received(cara);
    got.add(&seen);
    let last_seq = seen.iter().filter_map(|r| r.seq).max().unwrap_or(0);
    sim.session.handle_disconnect(sim.now, cara, false);
    sim.flush();
    let (mut lines, mut directs, mut notes) = (vec!["c-1".to_string()], Vec::new(), Vec::new());
    for tick in 1..=300u32 {
        sim.advance(2 * SECOND);
        sim.heartbeat(ana);
        sim.heartbeat(ben);
        sim.send(ana, &json!({"type": "chat", "timestamp": 1, "text": format!("line {tick}")}).to_string());
        lines.push(format!("c-{}", tick + 1));
        if tick % 15 == 0 {
            let id = format!("dm-{tick}");
            let dm = json!({"type": "direct", "timestamp": 1, "to": cara_id, "id": id, "payload": {"text": "psst"}});
            sim.send(ben, &dm.to_string());
            directs.push(id);
        }
        if tick % 30 == 0 {
            let note = sim.session.notify(sim.now, &format!("minute {}", tick / 30), "", NotificationLevel::Info);
            notes.push(note.expect("the host notifies"));
            sim.flush();
        }
        sim.take(ana);
        sim.take(ben);
    }
    let back = sim.connect();
    sim.send_msg(back, resume_msg(&cara_id, &secret, last_seq));
    let seen = sim.received(back);
    let snapshot = seen
        .iter()
        .find_map(|r| match &r.message {
            ServerMessage::Resumed { snapshot, .. } => Some(*snapshot),
            _ => None,
        })
        .expect("resumed: the same member after ten minutes");
    got.add(&seen);
    (got, Got { lines, directs, notes }, snapshot)
}

/// The log covers the ten minutes: everything is replayed, in order, once.
#[test]
fn ten_minutes_away_replayed() {
    let (got, said, snapshot) = ten_minutes_away(Config::default());
    assert!(!snapshot, "the default log holds ten minutes of this party");
    assert_eq!(said.notes.len(), 10, "a notification a minute");
    assert_eq!(got, said, "what Cara has (left) against what was said (right)");
}

/// The log does not cover them: the snapshot's history brings every line, direct message and
/// notification sent while she was away, in order, once.
#[test]
fn ten_minutes_away_beyond_the_log() {
    let (got, said, snapshot) = ten_minutes_away(Config { replay_capacity: 64, ..Config::default() });
    assert!(snapshot, "a log of 64 messages does not hold ten minutes");
    assert_eq!(got, said, "what Cara has (left) against what was said (right)");
}

/// More notifications while a member is away than the host keeps: its snapshot's history
/// brings the kept ones (those sent after it left), in order, and counts the ones that are
/// gone; one that had reached it before it left is not sent again; and a fresh join is not sent
/// the party's old notifications.
#[test]
fn notifications_beyond_what_the_host_keeps_are_counted() {
    let mut sim = Sim::new(Config { replay_capacity: 16, ..Config::default() });
    let (ana, _, _) = sim.join_resumable("ana");
    let (cara, cara_id, secret) = sim.join_resumable("cara");
    sim.session.notify(sim.now, "before", "", NotificationLevel::Info).unwrap();
    sim.flush();
    let last_seq = sim.received(cara).iter().filter_map(|r| r.seq).max().unwrap_or(0);
    // A latency probe she answers after it: the host knows it reached her.
    sim.advance(5 * SECOND);
    for seen in sim.take(cara) {
        if let sim::Seen::Probe(sent_at) = seen {
            sim.session.handle_probe_reply(sim.now, cara, sent_at);
        }
    }
    sim.session.handle_disconnect(sim.now, cara, false);
    sim.flush();
    let extra = 5;
    let sent: Vec<String> = (0..KEPT_NOTIFICATIONS + extra)
        .map(|n| {
            sim.advance(SECOND);
            sim.heartbeat(ana);
            sim.session.notify(sim.now, &format!("news {n}"), "", NotificationLevel::Warning).unwrap()
        })
        .collect();
    sim.flush();
    sim.take(ana);
    let back = sim.connect();
    sim.send_msg(back, resume_msg(&cara_id, &secret, last_seq));
    let (notes, missed) = sim
        .received(back)
        .into_iter()
        .find_map(|r| match r.message {
            ServerMessage::ChatHistory { notifications, notifications_missed, .. } => {
                Some((notifications, notifications_missed))
            }
            _ => None,
        })
        .expect("a snapshot's history");
    let ids: Vec<&str> = notes.iter().map(|note| note.id.as_str()).collect();
    let kept: Vec<&str> = sent[extra..].iter().map(String::as_str).collect();
    assert_eq!((ids, missed), (kept, extra as u64), "the kept ones in order, and the count of the gone");
    assert!(notes.iter().all(|note| !note.read && note.level == NotificationLevel::Warning), "{notes:?}");

    let (late, _) = sim.join("dan", true);
    let history = sim.received(late).into_iter().find_map(|r| match r.message {
        ServerMessage::ChatHistory { notifications, notifications_missed, .. } => {
            Some((notifications.len(), notifications_missed))
        }
        _ => None,
    });
    assert!(matches!(history, None | Some((0, 0))), "a fresh join gets no old notifications: {history:?}");
}

/// A connection that dies without a word is written into until the host notices (its heartbeat
/// timeout): the lines said in between never arrived. Back after the log has moved on, the member
/// gets them in its history too, counted from its last answered latency probe, not from when the
/// host noticed.
#[test]
fn a_silent_drop_loses_nothing_written_into_it() {
    let mut sim = Sim::new(Config { replay_capacity: 16, ..Config::default() });
    let (ana, _, _) = sim.join_resumable("ana");
    let (cara, cara_id, secret) = sim.join_resumable("cara");
    // Cara answers her probes while she is there.
    let answer = |sim: &mut Sim, conn| {
        for seen in sim.take(conn) {
            if let sim::Seen::Probe(sent_at) = seen {
                sim.session.handle_probe_reply(sim.now, conn, sent_at);
            }
        }
    };
    sim.send(ana, &json!({"type": "chat", "timestamp": 1, "text": "heard"}).to_string());
    sim.advance(5 * SECOND);
    answer(&mut sim, cara);
    // Her Wi-Fi goes: nothing reaches her, she answers nothing, the host writes on for 15 s.
    let mut unheard = Vec::new();
    for n in 0..10 {
        sim.advance(SECOND);
        sim.heartbeat(ana);
        sim.send(ana, &json!({"type": "chat", "timestamp": 1, "text": format!("unheard {n}")}).to_string());
        unheard.push(format!("c-{}", n + 2));
    }
    sim.take(cara); // lost on the way
    sim.advance(10 * SECOND); // her heartbeat deadline passes: now the host knows
    sim.heartbeat(ana);
    // More than a history's newest 100 after them: only her mark brings them.
    for n in 0..150 {
        sim.send(ana, &json!({"type": "chat", "timestamp": 1, "text": format!("later {n}")}).to_string());
    }
    let back = sim.connect();
    sim.send_msg(back, resume_msg(&cara_id, &secret, 2));
    let seen = sim.received(back);
    let history: Vec<String> = seen
        .iter()
        .find_map(|r| match &r.message {
            ServerMessage::ChatHistory { lines, .. } => Some(lines.iter().map(|line| line.id.clone()).collect()),
            _ => None,
        })
        .expect("a snapshot's history");
    let missing: Vec<&String> = unheard.iter().filter(|id| !history.contains(id)).collect();
    assert_eq!(
        missing,
        Vec::<&String>::new(),
        "the lines written into the dead socket are in the history: {history:?}"
    );
}
