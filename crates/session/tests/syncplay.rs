//! SyncPlay decided in the session core: every member receives the same start time, far
//! enough ahead that the message reaches even the slowest member first; a start waits for the
//! members to be ready, but not forever; a member that joins late or stalls catches up on its
//! own and the group is never paused for it; only the host controls playback until it allows
//! members to. Members here have different simulated one-way delays, on virtual time.

mod sim;

use partyline_protocol::client::{DeviceState, PlayCommand, PlaybackProgress, SyncplayCommand};
use partyline_protocol::{
    ClientMessage, ErrorCode, GroupState, LibraryItem, Permissions, PlayState, ServerMessage, expect_message,
};
use partyline_session::{Config, ConnId, Event, MILLISECOND, SECOND, Time};
use serde_json::json;
use sim::Sim;

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

/// A party of extension members whose round trips are `rtts_ms` (one-way = half).
fn party(rtts_ms: &[u64]) -> (Sim, Vec<ConnId>) {
    let mut sim = Sim::new(Config::default());
    sim.session.set_library(sim.now, library()).unwrap();
    let mut conns = Vec::new();
    for (n, rtt) in rtts_ms.iter().enumerate() {
        let (conn, _) = sim.join(&format!("dev-{n}"), true);
        // The join's probe comes back after the member's round trip.
        sim.session.handle_probe_reply(sim.now + rtt * MILLISECOND, conn, sim.now);
        conns.push(conn);
    }
    sim.advance(SECOND);
    for &conn in &conns {
        sim.take(conn);
    }
    (sim, conns)
}

/// The `syncplay.state`s a connection got (its other messages dropped).
fn states(sim: &mut Sim, conn: ConnId) -> Vec<PlayState> {
    sim.received(conn)
        .into_iter()
        .filter_map(|m| match m.message {
            ServerMessage::SyncplayState { state, .. } => Some(state),
            _ => None,
        })
        .collect()
}

/// A `playback.progress` report, as text (the session reads it through the decoder).
fn progress(entry: &str, position: f64, state: DeviceState, error: Option<f64>) -> String {
    let entry_id = Some(entry.to_string());
    ClientMessage::PlaybackProgress(PlaybackProgress {
        timestamp: 1.into(),
        entry_id,
        item_id: None,
        position,
        state,
        error,
    })
    .to_text()
}

fn ready(sim: &mut Sim, conn: ConnId, entry: &str) {
    sim.send(conn, &progress(entry, 0.0, DeviceState::Ready, None));
}

fn host_play(sim: &mut Sim, item: &str) {
    let command = PlayCommand::Play { item_id: Some(item.into()), position: None };
    sim.session.syncplay_command(sim.now, command).unwrap();
    sim.flush();
}

/// When the last member is ready, every member receives the same start time, scheduled
/// 2 × the slowest round trip + 100 ms ahead: later than the message can reach the slowest.
#[test]
fn same_future_start_for_every_member() {
    let rtts = [8, 40, 120];
    let (mut sim, conns) = party(&rtts);
    host_play(&mut sim, "t-1");
    let waiting = states(&mut sim, conns[0]);
    assert_eq!(waiting[0].state, GroupState::Waiting);
    let entry = waiting[0].entry_id.clone().unwrap();
    for &conn in &conns {
        sim.take(conn);
    }
    for &conn in &conns {
        ready(&mut sim, conn, &entry);
    }
    let decided_at = sim.now;
    let starts: Vec<PlayState> = conns.iter().map(|&conn| states(&mut sim, conn).pop().expect("a state")).collect();
    let start_time = starts[0].server_time;
    for (n, state) in starts.iter().enumerate() {
        assert_eq!(state.state, GroupState::Playing);
        assert_eq!(state.server_time, start_time, "member {n} got another start time");
        assert_eq!(state.position, 0.0);
    }
    let lead = start_time - decided_at;
    assert_eq!(lead, (2 * 120 + 100) * MILLISECOND, "lead = 2 × slowest round trip + 100 ms");
    for (n, rtt) in rtts.iter().enumerate() {
        let arrives = decided_at + rtt * MILLISECOND / 2;
        assert!(arrives < start_time, "member {n} (rtt {rtt} ms) hears of the start after it happened");
    }
}

/// The start waits for every member's ready; one missing member holds it until the timeout
/// (8 s), not longer, and then it starts for everyone.
#[test]
fn ready_barrier_and_timeout() {
    let (mut sim, conns) = party(&[10, 10]);
    host_play(&mut sim, "t-1");
    let entry = states(&mut sim, conns[0])[0].entry_id.clone().unwrap();
    let started_waiting = sim.now;
    sim.take(conns[1]);
    ready(&mut sim, conns[0], &entry);
    assert!(states(&mut sim, conns[0]).is_empty(), "one of two ready: still waiting");
    assert_eq!(sim.session.play_state().state, GroupState::Waiting);
    sim.advance_to(started_waiting + 8 * SECOND - 1);
    assert!(states(&mut sim, conns[1]).is_empty());
    sim.advance(1);
    let started = states(&mut sim, conns[1]);
    assert_eq!(started.len(), 1, "the timeout starts playback");
    assert_eq!(started[0].state, GroupState::Playing);
}

/// A start waits only for the members that play: a partyline/1 client whose `join` did not say
/// `player` (a terminal, a remote) does not hold it, and a phone that is ready starts it at once.
#[test]
fn the_barrier_waits_only_for_players() {
    let (mut sim, conns) = party(&[10]);
    let terminal = sim.connect();
    let join = ClientMessage::join(1, "party1", "dev-terminal", "terminal", Some(partyline_protocol::PARTYLINE_V1));
    sim.send_msg(terminal, join);
    sim.take(terminal);
    host_play(&mut sim, "t-1");
    let entry = states(&mut sim, conns[0])[0].entry_id.clone().unwrap();
    ready(&mut sim, conns[0], &entry);
    let started = states(&mut sim, conns[0]);
    assert_eq!(started.last().map(|s| s.state), Some(GroupState::Playing), "the phone's ready is enough: {started:?}");
}

/// A member that drops while the others wait for it no longer holds the start.
#[test]
fn barrier_does_not_wait_for_the_departed() {
    let (mut sim, conns) = party(&[10, 10]);
    host_play(&mut sim, "t-1");
    let entry = states(&mut sim, conns[0])[0].entry_id.clone().unwrap();
    ready(&mut sim, conns[0], &entry);
    sim.session.handle_disconnect(sim.now, conns[1], false);
    sim.flush();
    let started = states(&mut sim, conns[0]);
    assert_eq!(started.last().unwrap().state, GroupState::Playing);
}

/// The host may start without waiting.
#[test]
fn start_anyway() {
    let (mut sim, conns) = party(&[10, 10]);
    host_play(&mut sim, "t-1");
    sim.session.syncplay_command(sim.now, PlayCommand::StartAnyway).unwrap();
    sim.flush();
    assert_eq!(states(&mut sim, conns[1]).last().unwrap().state, GroupState::Playing);
}

/// A member joining mid-song receives the running state and can place itself; nobody else
/// receives anything, and the group keeps playing.
#[test]
fn late_join_does_not_pause_the_group() {
    let (mut sim, conns) = party(&[10]);
    host_play(&mut sim, "t-1");
    sim.session.syncplay_command(sim.now, PlayCommand::StartAnyway).unwrap();
    sim.flush();
    let start = states(&mut sim, conns[0]).pop().unwrap();
    sim.advance(30 * SECOND);
    sim.heartbeat(conns[0]);
    let revision = sim.session.play_state().revision;
    let late = sim.connect();
    sim.send_msg(late, sim::join_msg("dev-late", true));
    let got = states(&mut sim, late);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].state, got[0].server_time), (GroupState::Playing, start.server_time));
    // Its place: position + (now − serverTime) × rate.
    let place = got[0].position + (sim.now - got[0].server_time) as f64 / 1000.0 * got[0].rate;
    let expected = (sim.now - start.server_time) as f64 / 1000.0;
    assert_eq!(place, expected);
    assert!(states(&mut sim, conns[0]).is_empty(), "the others are not disturbed");
    assert_eq!(sim.session.play_state().revision, revision, "the group state did not change");
}

/// A member that stalls (buffering) and recovers changes nothing for the group; its reports
/// reach the host as sync quality.
#[test]
fn stall_recovery_is_local() {
    let (mut sim, conns) = party(&[10, 10]);
    host_play(&mut sim, "t-1");
    sim.session.syncplay_command(sim.now, PlayCommand::StartAnyway).unwrap();
    sim.flush();
    sim.events();
    for &conn in &conns {
        sim.take(conn);
    }
    let revision = sim.session.play_state().revision;
    let report = |state, error| progress("q-1", 1000.0, state, Some(error));
    sim.send(conns[1], &report(DeviceState::Buffering, -900.0));
    sim.advance(2 * SECOND);
    sim.send(conns[1], &report(DeviceState::Playing, -4.0));
    assert!(states(&mut sim, conns[0]).is_empty(), "no group change");
    assert_eq!(sim.session.play_state().revision, revision);
    assert_eq!(sim.session.play_state().state, GroupState::Playing);
    let reports = sim.session.sync_report();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].error_ms, Some(-4.0));
    assert!(sim.events().iter().any(|e| matches!(e, Event::PlaybackProgress(p) if p.error_ms == Some(-900.0))));
}

/// Pause, seek and rate changes are scheduled at the same future time for all, with the
/// position continuous.
#[test]
fn pause_seek_rate_scheduled() {
    let (mut sim, conns) = party(&[10, 50]);
    host_play(&mut sim, "t-1");
    sim.session.syncplay_command(sim.now, PlayCommand::StartAnyway).unwrap();
    sim.flush();
    let start = states(&mut sim, conns[0]).pop().unwrap();
    let lead: Time = (2 * 50 + 100) * MILLISECOND;
    let lead = lead.max(300 * MILLISECOND);
    sim.advance(10 * SECOND);
    sim.session.syncplay_command(sim.now, PlayCommand::Pause).unwrap();
    sim.flush();
    let paused = states(&mut sim, conns[1]).pop().unwrap();
    assert!(paused.paused);
    assert_eq!(paused.server_time, sim.now + lead);
    let expected = (sim.now + lead - start.server_time) as f64 / 1000.0;
    assert_eq!(paused.position, expected);
    sim.session.syncplay_command(sim.now, PlayCommand::Seek { position: 60_000.0 }).unwrap();
    sim.session.syncplay_command(sim.now, PlayCommand::SetRate { rate: 1.25 }).unwrap();
    sim.session.syncplay_command(sim.now, PlayCommand::Play { item_id: None, position: None }).unwrap();
    sim.flush();
    let playing = states(&mut sim, conns[0]).pop().unwrap();
    assert_eq!((playing.state, playing.position, playing.rate), (GroupState::Playing, 60_000.0, 1.25));
    assert_eq!(playing.server_time, sim.now + lead);
}

/// A member may not control playback until the host allows it; then it may.
#[test]
fn permissions_enforced() {
    let (mut sim, conns) = party(&[10]);
    let command = ClientMessage::SyncplayCommand(SyncplayCommand {
        timestamp: 1.into(),
        command: PlayCommand::Play { item_id: Some("t-1".into()), position: None },
    })
    .to_text();
    sim.send(conns[0], &command);
    let reply = sim.received(conns[0]).remove(0);
    assert_eq!(reply.message.error_reason(), Some(partyline_protocol::reason::SYNCPLAY));
    let refused = expect_message!(reply.message, ServerMessage::Error { code, message, .. } => (code, message));
    assert_eq!(refused, (ErrorCode::Unauthorized, "only the host may control playback".into()));
    let all = Permissions { playback: true, queue: true };
    sim.session.set_permissions(sim.now, all).unwrap();
    sim.flush();
    assert_eq!(states(&mut sim, conns[0]).pop().unwrap().permissions, all);
    sim.send(conns[0], &command);
    let waiting = states(&mut sim, conns[0]).pop().unwrap();
    assert_eq!(waiting.state, GroupState::Waiting, "the member's own command waits for it to load, too");
    ready(&mut sim, conns[0], waiting.entry_id.as_deref().unwrap());
    assert_eq!(states(&mut sim, conns[0]).pop().unwrap().state, GroupState::Playing);
}

/// remote.command reaches only its member; library.update reaches every extension member.
#[test]
fn remote_command_and_library() {
    let (mut sim, conns) = party(&[10, 10]);
    let target = sim.session.members()[1].id.clone();
    sim.session.remote_command(sim.now, &target, "volume", Some(json!(0.5))).unwrap();
    sim.flush();
    let got = sim.received(conns[0]);
    let volume = ServerMessage::RemoteCommand {
        timestamp: sim.now / MILLISECOND,
        command: "volume".into(),
        value: Some(json!(0.5)),
    };
    assert_eq!(got.into_iter().map(|m| m.message).collect::<Vec<_>>(), [volume]);
    assert!(sim.received(conns[1]).is_empty());
    // A LOUDSYNC 1.0 member is refused, by name, and hears nothing it does not know.
    let (legacy, _) = sim.join("old-phone", false);
    sim.flush();
    sim.take(legacy);
    for &conn in &conns {
        sim.take(conn);
    }
    let legacy_id = sim.session.members().last().unwrap().id.clone();
    let err = sim.session.remote_command(sim.now, &legacy_id, "volume", Some(json!(0.5))).unwrap_err();
    assert_eq!(err.to_string(), "old-phone phone joined from an app that cannot be controlled from here");
    sim.flush();
    assert!(sim.received(legacy).is_empty(), "a 1.0 client got a message it does not know");
    assert!(matches!(
        sim.session.remote_command(sim.now, "m-nobody", "volume", None),
        Err(partyline_session::SessionError::NoSuchMember(_))
    ));
    sim.session.set_library(sim.now, library()).unwrap();
    sim.flush();
    for &conn in &conns {
        let items =
            expect_message!(sim.received(conn).remove(0).message, ServerMessage::LibraryUpdate { items, .. } => items);
        assert_eq!(items, library());
    }
}

/// The first device to report the end of the entry moves the group to the next one; the same
/// report from another device afterwards changes nothing.
#[test]
fn end_of_entry_advances_the_queue() {
    let (mut sim, conns) = party(&[10, 10]);
    for item in ["t-1", "t-2"] {
        sim.session.syncplay_command(sim.now, PlayCommand::QueueAdd { item_id: item.into() }).unwrap();
    }
    sim.session.syncplay_command(sim.now, PlayCommand::Play { item_id: None, position: None }).unwrap();
    sim.session.syncplay_command(sim.now, PlayCommand::StartAnyway).unwrap();
    sim.flush();
    for &conn in &conns {
        sim.take(conn);
    }
    let ended = progress("q-1", 180000.0, DeviceState::Ended, None);
    sim.send(conns[0], &ended);
    let next = states(&mut sim, conns[1]).pop().expect("a new state");
    assert_eq!((next.state, next.entry_id.as_deref()), (GroupState::Waiting, Some("q-2")));
    sim.take(conns[0]);
    sim.send(conns[1], &ended);
    assert!(states(&mut sim, conns[0]).is_empty(), "a second report of the same end changes nothing");
}

/// `n` items with ids `t-0000`, `t-0001`, ...
fn many(n: usize) -> Vec<LibraryItem> {
    (0..n)
        .map(|n| LibraryItem {
            id: format!("t-{n:04}"),
            title: format!("Song {n:04}"),
            mime: "audio/mpeg".into(),
            url: format!("/media/Song%20{n:04}.mp3"),
            size: 1,
            ..LibraryItem::default()
        })
        .collect()
}

/// The `library.update`s a Revenge connection got: (revision, offset, total, item ids).
fn revenge_parts(sim: &mut Sim, conn: ConnId) -> Vec<(u64, usize, usize, Vec<String>)> {
    sim.messages(conn)
        .into_iter()
        .filter(|m| m["type"] == "library.update")
        .map(|m| {
            let d = &m["data"];
            let ids = d["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
            (
                d["revision"].as_u64().unwrap(),
                d["offset"].as_u64().unwrap() as usize,
                d["total"].as_u64().unwrap() as usize,
                ids,
            )
        })
        .collect()
}

/// A Revenge member, whose format has no `library.query`, is sent the whole library: the first
/// page as it connects, the rest a few pages a step on the session's timer, in order, so it has
/// every item once; while its queue is deep the pages wait, and go on once it drained. A
/// partyline/1 member in the same party gets the first page only (it asks for the rest).
#[test]
fn a_revenge_member_is_sent_the_whole_library_in_paced_steps() {
    let mut sim = Sim::new(Config::default());
    sim.session.set_library(sim.now, many(2_000)).unwrap();
    let (phone, _) = sim.join("phone", true);
    sim.take(phone);
    let rev = sim.connect_as(partyline_protocol::Wire::Revenge, "tv", Some("tv-1"));
    let first = revenge_parts(&mut sim, rev);
    assert_eq!(first.len(), 1, "the first page as it connects: {:?}", first.iter().map(|p| p.1).collect::<Vec<_>>());
    let (revision, offset, total, mut ids) = first[0].clone();
    assert_eq!((offset, total, ids.len()), (0, 2_000, 100), "the first page of 2,000");

    // A step at a time: the first at once, then every 20 ms.
    sim.advance(0);
    let step = revenge_parts(&mut sim, rev);
    assert_eq!(step.len(), 8, "one step's pages: {:?}", step.iter().map(|p| p.1).collect::<Vec<_>>());
    for (r, offset, total, part) in step {
        assert_eq!((r, offset, total), (revision, ids.len(), 2_000), "each page continues where the last ended");
        ids.extend(part);
    }
    // Its queue is deep: nothing more until it drained.
    sim.session.handle_congested(sim.now, rev);
    sim.advance(200 * MILLISECOND);
    assert_eq!(revenge_parts(&mut sim, rev).len(), 0, "no pages into a deep queue");
    sim.session.handle_drained(sim.now, rev);
    sim.advance(SECOND);
    for (r, offset, _, part) in revenge_parts(&mut sim, rev) {
        assert_eq!((r, offset), (revision, ids.len()), "in order, after the pause");
        ids.extend(part);
    }
    let all: Vec<String> = many(2_000).into_iter().map(|i| i.id).collect();
    assert_eq!(ids, all, "every item once, in the library's order");

    // A new library starts again from its first page, under its new revision.
    sim.session.set_library(sim.now, many(150)).unwrap();
    sim.flush();
    sim.advance(SECOND);
    let parts = revenge_parts(&mut sim, rev);
    let offsets: Vec<(usize, usize)> = parts.iter().map(|p| (p.1, p.3.len())).collect();
    assert_eq!(offsets, [(0, 100), (100, 50)], "the new library whole");
    assert!(parts.iter().all(|p| p.0 > revision), "under its new revision");
    let pages = sim.types(phone).into_iter().filter(|t| t.starts_with("library.")).collect::<Vec<_>>();
    assert_eq!(pages, ["library.update"], "the phone got the first page only");
}
