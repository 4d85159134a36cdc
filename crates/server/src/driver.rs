//! The session task: the one owner of the [`Session`]. It feeds the session what the
//! connections read and what the host commands, sleeps until the session's next deadline, and
//! routes what the session wants sent to each connection's bounded outbox.

use rustc_hash::FxHashMap;
use std::sync::{Arc, OnceLock};

use partyline_protocol::{ClientMessage, DecodeError, Frame, SessionState, Wire};
use partyline_session::{Arrival, ConnId, Event, Peer, Session, Time, Transmit};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::clock::Clock;
use crate::queue::QueueTx;

/// What a connection task tells the session task. Sent with `send().await`: these must
/// arrive, so a busy session slows the readers (and, through TCP, the clients) down.
#[derive(Debug)]
pub(crate) enum Inbound {
    Connected {
        conn: ConnId,
        outbox: Outbox,
        addr: std::net::IpAddr,
        device: Option<&'static str>,
        may_join: bool,
        arrival: Option<Arrival>,
    },
    Message {
        conn: ConnId,
        message: ClientMessage,
        /// partyline/1's outbox id for it, if it came with one.
        cid: Option<String>,
    },
    Invalid {
        conn: ConnId,
        error: DecodeError,
    },
    RateLimited {
        conn: ConnId,
        retry_after_ms: u64,
        abusive: bool,
    },
    ProbeReply {
        conn: ConnId,
        sent_at: Time,
    },
    Disconnected {
        conn: ConnId,
        clean: bool,
    },
    /// Answered once everything sent before it has been handled and what it produced is in
    /// the connections' queues: a reload's resume over HTTP ([`crate::attach`]) reads its
    /// answer from the queue then.
    Flushed {
        done: tokio::sync::oneshot::Sender<()>,
    },
}

/// What the session task asks a connection task to write.
#[derive(Debug)]
pub(crate) enum Out {
    Text(Frame, Option<u64>),
    /// What one pass of the session task had for the connection, in one slot: it counts as
    /// many frames as it holds ([`crate::queue`]).
    Batch(Vec<(Frame, Option<u64>)>),
    /// A resume's replay, in one slot that counts as one frame: written at the connection's
    /// pace, in flushes of at most `MAX_BATCH`, so a long replay neither overflows the queue
    /// nor goes out as one huge write.
    Replay(Vec<(Frame, Option<u64>)>),
    Probe(Time),
    Close(u16, &'static str),
}

impl Out {
    /// How many frames it counts as against the queue's limit.
    pub(crate) fn weight(&self) -> usize {
        match self {
            Out::Batch(frames) => frames.len().max(1),
            Out::Text(..) | Out::Replay(_) | Out::Probe(_) | Out::Close(..) => 1,
        }
    }
}

/// The session task's handle on one connection: a bounded queue, and a way to stop the
/// connection when the queue is full.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    pub(crate) tx: QueueTx,
    pub(crate) kill: Arc<Kill>,
    /// Whether the connection speaks the Partyline extensions (its pongs carry server times):
    /// set by the session task when the session attaches the connection to a member, read by
    /// the connection task when it answers a ping, with no queue between them.
    pub(crate) extended: Arc<std::sync::atomic::AtomicBool>,
    /// The format of the endpoint it came in on (`/ws`: partyline/1's codes), which writes the
    /// session's close codes its own way ([`Wire::close_code`]).
    pub(crate) format: Wire,
}

/// Stops a connection at once, skipping its queue, with this close code.
#[derive(Debug, Default)]
pub(crate) struct Kill {
    pub(crate) token: CancellationToken,
    code: OnceLock<(u16, &'static str)>,
    /// Cancelled when a close has been queued behind the connection's other frames: from then
    /// on its writes have a bounded time to finish, or the socket is dropped (a peer that
    /// stopped reading would otherwise hold it, and its descriptor, for ever).
    pub(crate) closing: CancellationToken,
}

impl Kill {
    pub(crate) fn fire(&self, code: u16, reason: &'static str) {
        let _ = self.code.set((code, reason));
        self.token.cancel();
    }

    pub(crate) fn code(&self) -> (u16, &'static str) {
        self.code.get().copied().unwrap_or((partyline_protocol::close::TOO_SLOW, "too slow"))
    }
}

/// A host action: any call on the session, run by the session task with `now`. What it returns
/// is an answer to send back, which the task sends only after flushing (transmits routed, events
/// sent, the watched state updated), so whoever awaits it sees the change everywhere. One
/// variant for every action: a new host action is a session method and one line in the handle,
/// not a variant here, a match arm there and a forwarding method between.
pub(crate) type Action = Box<dyn FnOnce(&mut Session, Time) -> Answer + Send>;

/// The answer of an [`Action`], sent when the session task says so.
pub(crate) type Answer = Box<dyn FnOnce() + Send>;

pub(crate) struct Driver {
    pub(crate) session: Session,
    pub(crate) clock: Clock,
    pub(crate) outboxes: FxHashMap<ConnId, Route>,
    /// Connections with something in [`Route::pending`], each once.
    pub(crate) dirty: Vec<ConnId>,
    /// Informational: a UI that falls behind gets `Lagged` and re-reads the member list,
    /// rather than making the session wait for it.
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) state: watch::Sender<SessionState>,
    /// The party's store, when it outlives the process: each pass's durable changes are
    /// committed before its transmits are routed.
    pub(crate) store: Option<Persist>,
    /// Connections whose outbound queue was found [`DEEP`], and since when: the session holds
    /// roster news back from them ([`Session::handle_congested`]) until their queue is empty
    /// and [`HOLD`] has passed, so that the fresh `member_list` goes out right after what was
    /// queued, is current when read, and says a while's news at once.
    pub(crate) congested: FxHashMap<ConnId, tokio::time::Instant>,
    /// When the congested connections' queues are looked at next.
    pub(crate) drain_check: Option<tokio::time::Instant>,
    /// [`Inbound::Flushed`]s of this pass, answered after its flush.
    pub(crate) flushed: Vec<tokio::sync::oneshot::Sender<()>>,
}

/// Messages waiting in a connection's queue at which it counts as congested: roster news to it
/// is then held back and said once the queue drains, in one backlog slot, or by one fresh
/// `member_list` when the news held back would cost as much as the list. Half the queue's 256: a list of
/// the party costs as much as hundreds of `member_joined` (130 B a member), so it is for a
/// member that would otherwise be closed with 4008, not for one that is a little behind (at 32,
/// a thousand joining at the bench's pace got a list each, again and again).
const DEEP: usize = 128;

/// How long news is held back at least once a connection is congested. 250 ms: in a storm of
/// a thousand joins (about a second) a member gets a few lists, not one per drain of its queue,
/// and the last one comes within a quarter of a second of the last join.
const HOLD: std::time::Duration = std::time::Duration::from_millis(250);

/// How often congested queues are looked at. 5 ms: a list is at most that late after its queue
/// drains, and a storm of passes does not look at every congested queue each time.
const DRAIN_CHECK: std::time::Duration = std::time::Duration::from_millis(5);

/// A connection as the session task routes to it: its outbox, and what this pass has for it.
pub(crate) struct Route {
    pub(crate) outbox: Outbox,
    /// Sent when the pass's transmits have all been gathered: consecutive frames as one
    /// [`Out::Batch`].
    pending: Vec<Out>,
}

impl Route {
    pub(crate) fn new(outbox: Outbox) -> Route {
        Route { outbox, pending: Vec::new() }
    }
}

/// Most inbound messages one pass of the session task handles before it routes what they
/// produced. A pass that handled many sends each connection its frames in one slot of its
/// queue: one send and one wake-up for all of them. 32: a burst's sender has a few dozen
/// broadcasts in flight, and a pass of 32 is still well under a millisecond.
const PASS: usize = 32;

/// The session task's side of the party's store.
pub(crate) struct Persist {
    /// Shared with the handle, which stores the keys and the media folder.
    pub(crate) store: crate::store::SharedStore,
    /// A commit failed: that pass is not in the file, so the next write is the whole party.
    pub(crate) broken: bool,
    /// When the last whole write after a failure was tried.
    pub(crate) last_try: Time,
}

/// How often a store that failed is tried again (a whole write): a disk that filled up may
/// have room again, and trying on every pass would spend the party's time on a dead disk.
const STORE_RETRY: Time = partyline_session::SECOND;

impl Driver {
    /// Yields to the runtime after this many messages (a turn counts one at least): in a join
    /// storm the session task always has another message, and without yielding the connection
    /// tasks on its thread could not write what it queued for them, so their queues overflowed
    /// (measured: 40–60% of a thousand joiners closed with 4008).
    const YIELD_EVERY: u32 = 32;

    pub(crate) async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut commands: mpsc::Receiver<Action>,
        shutdown: CancellationToken,
    ) {
        let mut since_yield = 0;
        loop {
            if since_yield >= Self::YIELD_EVERY {
                since_yield = 0;
                tokio::task::yield_now().await;
            }
            since_yield += 1;
            let deadline = self.session.poll_timeout().map(|at| self.clock.instant(at));
            tokio::select! {
                biased;
                () = shutdown.cancelled(), if !self.session.is_closed() => {
                    self.session.close(self.clock.now(), Some("Host ended the session"));
                }
                Some(action) = commands.recv() => self.act(action),
                message = inbound.recv() => match message {
                    Some(message) => {
                        self.inbound(message);
                        // What else has arrived joins this pass, up to a pass's worth.
                        for _ in 1..PASS {
                            let Ok(message) = inbound.try_recv() else { break };
                            self.inbound(message);
                            since_yield += 1;
                        }
                    }
                    None => break,
                },
                () = sleep_until(deadline), if deadline.is_some() => self.session.handle_timeout(self.clock.now()),
                () = sleep_until(self.drain_check), if self.drain_check.is_some() => {}
            }
            self.flush();
            for done in self.flushed.drain(..) {
                let _ = done.send(()); // one that stopped waiting is no error of ours
            }
            if self.session.is_closed() && self.outboxes.is_empty() {
                break;
            }
        }
        debug!("session task finished");
    }

    fn inbound(&mut self, message: Inbound) {
        let now = self.clock.now();
        match message {
            Inbound::Connected { conn, outbox, addr, device, may_join, arrival } => {
                self.outboxes.insert(conn, Route::new(outbox));
                let peer = Peer { addr, device: device.map(str::to_string), may_join, arrival };
                self.session.handle_connect(now, conn, peer);
            }
            Inbound::Message { conn, message, cid } => self.session.handle_sent(now, conn, message, cid),
            Inbound::Invalid { conn, error } => self.session.handle_invalid(now, conn, &error),
            Inbound::RateLimited { conn, retry_after_ms, abusive } => {
                self.session.handle_rate_limited(now, conn, retry_after_ms, abusive);
            }
            Inbound::ProbeReply { conn, sent_at } => self.session.handle_probe_reply(now, conn, sent_at),
            Inbound::Disconnected { conn, clean } => {
                self.outboxes.remove(&conn);
                self.congested.remove(&conn);
                self.session.handle_disconnect(now, conn, clean);
            }
            Inbound::Flushed { done } => self.flushed.push(done),
        }
    }

    fn act(&mut self, action: Action) {
        let answer = action(&mut self.session, self.clock.now());
        self.flush();
        answer();
    }

    /// Routes everything the session wants done. A full outbox means that member cannot keep
    /// up: the session is told, and closes it, in this same pass.
    fn flush(&mut self) {
        self.persist();
        self.route_transmits();
        if self.drain_check.is_some_and(|at| at <= tokio::time::Instant::now()) {
            self.drain_check = None;
            self.drained();
            self.route_transmits();
        }
        let mut changed = false;
        while let Some(event) = self.session.poll_event() {
            changed |= matches!(
                event,
                Event::MemberJoined(_) | Event::MemberLeft { .. } | Event::SessionUpdated(_) | Event::Closed
            );
            // No receiver (no UI attached) is fine.
            let _ = self.events.send(event);
        }
        if changed {
            self.state.send_replace(self.session.state());
        }
    }

    /// Tells the session of each congested connection whose queue has drained.
    fn drained(&mut self) {
        let now = self.clock.now();
        let instant = tokio::time::Instant::now();
        let outboxes = &self.outboxes;
        let session = &mut self.session;
        self.congested.retain(|conn, since| {
            let drained = outboxes.get(conn).is_none_or(|route| route.outbox.tx.depth() == 0);
            let due = drained && instant >= *since + HOLD;
            if due {
                session.handle_drained(now, *conn);
            }
            !due
        });
        if !self.congested.is_empty() {
            self.drain_check = Some(tokio::time::Instant::now() + DRAIN_CHECK);
        }
    }

    /// Routes what the session wants sent, in order: gathered per connection, then sent, one
    /// slot per run of frames. Sending can close a connection that cannot keep up, which the
    /// session answers with more transmits: those are routed the same way.
    fn route_transmits(&mut self) {
        loop {
            while let Some(transmit) = self.session.poll_transmit() {
                let (conn, out) = match transmit {
                    // One slot for the whole replay, written at the connection's pace.
                    Transmit::Replay { conn, frames } => {
                        let frames = frames.into_iter().map(|(seq, frame)| (frame, Some(seq))).collect();
                        (conn, Out::Replay(frames))
                    }
                    // Roster news held back while its queue was deep: one slot, like a replay.
                    Transmit::Backlog { conn, frames } => (conn, Out::Replay(frames)),
                    Transmit::Attach { conn, wire } => {
                        if let Some(route) = self.outboxes.get(&conn) {
                            route.outbox.extended.store(wire.extended(), std::sync::atomic::Ordering::Relaxed);
                        }
                        continue;
                    }
                    Transmit::Send { conn, frame, seq } => (conn, Out::Text(frame, seq)),
                    Transmit::Probe { conn, sent_at } => (conn, Out::Probe(sent_at)),
                    Transmit::Close { conn, code, reason } => {
                        self.congested.remove(&conn);
                        if let Some(route) = self.outboxes.remove(&conn) {
                            let outbox = route.outbox;
                            let code = outbox.format.close_code(code);
                            // What the pass had for it goes first, then the close.
                            let mut sent = route.pending.into_iter().all(|out| outbox.tx.try_send(out).is_ok());
                            sent = sent && outbox.tx.try_send(Out::Close(code, reason)).is_ok();
                            if sent {
                                outbox.kill.closing.cancel();
                            } else {
                                outbox.kill.fire(code, reason);
                            }
                        }
                        continue;
                    }
                };
                self.gather(conn, out);
            }
            if self.dirty.is_empty() {
                break;
            }
            self.send_gathered();
        }
    }

    /// Adds `out` to what this pass has for `conn`, frames after frames in one batch.
    fn gather(&mut self, conn: ConnId, out: Out) {
        let Some(route) = self.outboxes.get_mut(&conn) else { return };
        if route.pending.is_empty() {
            self.dirty.push(conn);
        }
        let Out::Text(frame, seq) = out else {
            route.pending.push(out);
            return;
        };
        match route.pending.last_mut() {
            Some(Out::Batch(frames)) => frames.push((frame, seq)),
            Some(last @ Out::Text(..)) => {
                let Out::Text(first, first_seq) = std::mem::replace(last, Out::Batch(Vec::new())) else {
                    unreachable!("matched as text")
                };
                *last = Out::Batch(vec![(first, first_seq), (frame, seq)]);
            }
            _ => route.pending.push(Out::Text(frame, seq)),
        }
    }

    /// Sends what was gathered. A full queue means that member cannot keep up: the session is
    /// told, and closes it, in this same pass; a queue found deep holds roster news back.
    fn send_gathered(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        let mut overflowed = Vec::new();
        let mut deep = Vec::new();
        for conn in dirty.drain(..) {
            let Some(route) = self.outboxes.get_mut(&conn) else { continue };
            for out in route.pending.drain(..) {
                match route.outbox.tx.try_send(out) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        overflowed.push(conn);
                        break;
                    }
                    // The connection task has ended; its Disconnected is on its way.
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
            // Give back the room of a pass that had much for it (a replay and a probe and …).
            route.pending.shrink_to(2);
            if route.outbox.tx.depth() >= DEEP && !self.congested.contains_key(&conn) {
                deep.push(conn);
            }
        }
        self.dirty = dirty;
        let now = self.clock.now();
        for conn in overflowed {
            warn!(%conn, "outbound queue full; closing the connection");
            self.session.handle_overflow(now, conn);
        }
        for conn in deep {
            if self.outboxes.contains_key(&conn) && !self.congested.contains_key(&conn) {
                self.congested.insert(conn, tokio::time::Instant::now());
                self.session.handle_congested(now, conn);
                self.drain_check.get_or_insert_with(|| tokio::time::Instant::now() + DRAIN_CHECK);
            }
        }
    }
}

impl Driver {
    /// Commits this pass's durable changes, in one transaction, before anything of the pass is
    /// sent: an `ack`, a `direct_ack` or a chat echo never goes out for what is not on disk.
    /// A failed write is logged loudly and the party goes on in memory (guests keep their
    /// party; only its copy is behind), and the whole party is written again once a second
    /// until a write succeeds.
    fn persist(&mut self) {
        let Some(persist) = &mut self.store else { return };
        let changes: Vec<_> = std::iter::from_fn(|| self.session.poll_durable()).collect();
        if changes.is_empty() && !persist.broken {
            return; // most passes (pings, progress reports) change nothing durable
        }
        let now = self.clock.now();
        let mut store = match persist.store.lock() {
            Ok(store) => store,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Let go at shutdown: nothing more is written.
        let Some(store) = store.as_mut() else { return };
        if persist.broken {
            if now < persist.last_try + STORE_RETRY {
                return;
            }
            persist.last_try = now;
            match store.write_all(&self.session.record(now)) {
                Ok(()) => {
                    persist.broken = false;
                    info!(path = %store.path().display(), "the party's store is written again");
                }
                Err(err) => error!(cause = %err, "the party's store still cannot be written"),
            }
            return;
        }
        if let Err(err) = store.commit(&changes, now) {
            error!(
                cause = %err,
                "could not write the party's store: the party goes on in memory, and a restart now would lose what changed since"
            );
            persist.broken = true;
            persist.last_try = now;
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    //! A store that cannot be written does not end the party: the pass goes out, the failure is
    //! the host's to read in its log, and the whole party is written again once there is room.
    use super::*;
    use crate::queue::QueueRx;
    use crate::store::Store;
    use partyline_protocol::{PARTYLINE_V1, Received, ServerMessage};
    use partyline_session::{Arrival, Config as SessionConfig};

    /// A driver around `session`, with no connections yet and `store` (or none).
    fn test_driver(session: Session, clock: Clock, store: Option<Persist>) -> Driver {
        let (events, _) = broadcast::channel(16);
        let (state, _) = watch::channel(session.state());
        Driver {
            session,
            clock,
            outboxes: FxHashMap::default(),
            dirty: Vec::new(),
            events,
            state,
            store,
            congested: FxHashMap::default(),
            drain_check: None,
            flushed: Vec::new(),
        }
    }

    fn outbox() -> (Outbox, QueueRx) {
        let (tx, rx) = crate::queue::queue(1024);
        let outbox = Outbox { tx, kill: Default::default(), extended: Default::default(), format: Wire::Partyline };
        (outbox, rx)
    }

    /// Everything queued for a connection, as text (`seq` spliced in), closes as `close <code>`.
    fn queued(rx: &mut QueueRx) -> Vec<String> {
        let text = |(frame, seq): &(Frame, Option<u64>)| match seq {
            Some(seq) => frame.with_seq(*seq),
            None => frame.as_str().to_string(),
        };
        let mut texts = Vec::new();
        while let Some(out) = rx.try_recv() {
            match out {
                Out::Text(frame, seq) => texts.push(text(&(frame, seq))),
                Out::Batch(frames) | Out::Replay(frames) => texts.extend(frames.iter().map(text)),
                Out::Probe(_) => {}
                Out::Close(code, _) => texts.push(format!("close {code}")),
            }
        }
        texts
    }

    /// A driver for a join storm: party `party1`, room for a thousand from one address.
    fn storm_driver() -> Driver {
        let clock = Clock::new();
        let config = SessionConfig {
            session_id: Some("party1".into()),
            max_members: 1000,
            max_members_per_addr: 1000,
            ..SessionConfig::default()
        };
        let session = Session::new(config, clock.now(), 1);
        test_driver(session, clock, None)
    }

    /// A join storm does not close a member that reads slowly: once its queue is deep the
    /// `member_joined`s for it are held back, and when it has read what was queued it gets one
    /// fresh `member_list` with everyone, numbered right after what it had. (Without this, the
    /// 257th message of the storm closed it with 4008.)
    #[tokio::test(start_paused = true)]
    async fn a_join_storm_is_one_fresh_list_for_a_slow_member() {
        let mut driver = storm_driver();
        let addr = std::net::Ipv4Addr::LOCALHOST.into();
        let join = |driver: &mut Driver, conn: ConnId, outbox: Outbox| {
            let connected = Inbound::Connected { conn, outbox, addr, device: None, may_join: true, arrival: None };
            driver.inbound(connected);
            driver.flush();
            let device = format!("dev-{}", conn.0);
            let message = ClientMessage::join(1, "party1", &device, &device, Some(PARTYLINE_V1));
            driver.inbound(Inbound::Message { conn, message, cid: None });
            driver.flush();
        };
        let (tx, mut slow_rx) = crate::queue::queue(256);
        let slow = Outbox { tx, kill: Default::default(), extended: Default::default(), format: Wire::Partyline };
        let kill = slow.kill.clone();
        join(&mut driver, ConnId(1), slow);
        let mut others = Vec::new();
        for n in 2..=400 {
            let (outbox, rx) = outbox();
            join(&mut driver, ConnId(n), outbox);
            others.push(rx);
            for rx in &mut others {
                while rx.try_recv().is_some() {} // the others read at once
            }
        }
        assert!(!kill.token.is_cancelled(), "the slow member was closed with {:?}", kill.code());
        let before = queued(&mut slow_rx);
        assert!(!before.iter().any(|text| text.starts_with("close")), "closed: {:?}", before.last());
        let joined = before.iter().filter(|text| text.contains(r#""type":"member_joined""#)).count();
        assert!(joined <= DEEP, "expected the member_joineds to stop once the queue was deep, got {joined} of 399");
        tokio::time::advance(DRAIN_CHECK).await;
        driver.flush();
        assert!(queued(&mut slow_rx).is_empty(), "nothing before the hold has passed");
        tokio::time::advance(HOLD).await;
        driver.flush();
        let after = queued(&mut slow_rx);
        assert_eq!(after.len(), 1, "expected one fresh list, got {after:?}");
        let Received { message: ServerMessage::MemberList { members, .. }, seq } = Received::decode(&after[0]).unwrap()
        else {
            panic!("expected a member_list, got {}", after[0]);
        };
        assert_eq!(members.len(), 401, "the host and 400 members");
        let seqs: Vec<u64> =
            before.iter().filter_map(|text| Received::decode(text).ok()).filter_map(|received| received.seq).collect();
        assert_eq!(seq, Some(seqs.len() as u64 + 1), "numbered right after the {} it had", seqs.len());
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "no gaps before it");
    }

    /// The same for a format with no `member_list` (seed 001): once its queue is deep the news
    /// of arrivals is held back, and when it has read what was queued it gets the rest in one
    /// slot, each arrival once: nobody is closed for the host's own roster news.
    #[tokio::test(start_paused = true)]
    async fn a_join_storm_is_one_backlog_for_a_slow_member_without_lists() {
        let mut driver = storm_driver();
        let addr = std::net::Ipv4Addr::LOCALHOST.into();
        let (tx, mut slow_rx) = crate::queue::queue(256);
        let slow = Outbox { tx, kill: Default::default(), extended: Default::default(), format: Wire::Rt };
        let kill = slow.kill.clone();
        let arrival = Arrival { wire: Wire::Rt, name: Some("Slow".into()), device_id: Some("dev-slow".into()) };
        let connected = Inbound::Connected {
            conn: ConnId(1),
            outbox: slow,
            addr,
            device: None,
            may_join: true,
            arrival: Some(arrival),
        };
        driver.inbound(connected);
        driver.flush();
        let mut others = Vec::new();
        for n in 2..=400u64 {
            let conn = ConnId(n);
            let (outbox, rx) = outbox();
            let connected = Inbound::Connected { conn, outbox, addr, device: None, may_join: true, arrival: None };
            driver.inbound(connected);
            let device = format!("dev-{n}");
            let message = ClientMessage::join(1, "party1", &device, &device, Some(PARTYLINE_V1));
            driver.inbound(Inbound::Message { conn, message, cid: None });
            driver.flush();
            others.push(rx);
            for rx in &mut others {
                while rx.try_recv().is_some() {} // the others read at once
            }
        }
        assert!(!kill.token.is_cancelled(), "the slow member was closed with {:?}", kill.code());
        let presence = |texts: &[String]| -> Vec<String> {
            texts
                .iter()
                .filter_map(|text| serde_json::from_str::<serde_json::Value>(text).ok())
                .filter(|value| value["type"] == "Presence" && value["data"]["status"] == "online")
                .map(|value| value["data"]["user_id"].as_str().unwrap().to_string())
                .collect()
        };
        let before = presence(&queued(&mut slow_rx));
        assert!(before.len() <= DEEP, "expected the arrivals to stop once the queue was deep, got {}", before.len());
        tokio::time::advance(HOLD + DRAIN_CHECK).await;
        driver.flush();
        let Some(Out::Replay(backlog)) = slow_rx.try_recv() else { panic!("expected the backlog in one slot") };
        let texts: Vec<String> = backlog.iter().map(|(frame, _)| frame.as_str().to_string()).collect();
        let after = presence(&texts);
        let mut everyone: Vec<String> = before.iter().chain(&after).cloned().collect();
        assert_eq!(
            everyone.len(),
            399,
            "each of the 399 arrivals once: {} before, {} after",
            before.len(),
            after.len()
        );
        everyone.sort();
        everyone.dedup();
        assert_eq!(everyone.len(), 399, "no arrival twice");
        assert!(slow_rx.try_recv().is_none(), "nothing more");
    }

    /// The acks among what a connection was sent: (cid, ok).
    fn acks(rx: &mut QueueRx) -> Vec<String> {
        let mut acks = Vec::new();
        for text in queued(rx) {
            if let Ok(Received { message: ServerMessage::Ack { cid, ok: true, .. }, .. }) = Received::decode(&text) {
                acks.push(cid);
            }
        }
        acks
    }

    /// A full disk mid-party: the pass that cannot be committed is still sent (its `ack` goes
    /// out), the store is marked broken, and once there is room again the whole party is written
    /// within a second, lines said meanwhile included.
    #[tokio::test(start_paused = true)]
    async fn a_full_disk_is_logged_and_the_party_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("party.db");
        let mut store = Store::open(&path).unwrap();
        let clock = Clock::new();
        let config = SessionConfig { durable: true, session_id: Some("party1".into()), ..SessionConfig::default() };
        let mut session = Session::new(config, clock.now(), 1);
        store.write_all(&session.record(clock.now())).unwrap();
        session.clear_durable();
        let shared: crate::store::SharedStore = Arc::new(std::sync::Mutex::new(Some(store)));
        let persist = Persist { store: shared.clone(), broken: false, last_try: 0 };
        let mut driver = test_driver(session, clock, Some(persist));
        let conn = ConnId(1);
        let (outbox, mut rx) = outbox();
        let addr = std::net::Ipv4Addr::LOCALHOST.into();
        let connected = Inbound::Connected { conn, outbox, addr, device: None, may_join: true, arrival: None };
        driver.inbound(connected);
        driver.flush();
        let join = ClientMessage::join(1, "party1", "dev-a", "Sara", Some(PARTYLINE_V1));
        driver.inbound(Inbound::Message { conn, message: join, cid: None });
        driver.flush();
        acks(&mut rx);

        shared.lock().unwrap().as_ref().unwrap().fill_disk(true);
        let long = "x".repeat(900);
        let mut sent = Vec::new();
        while !driver.store.as_ref().unwrap().broken {
            assert!(sent.len() < 100, "a full file never refused a commit");
            let cid = format!("c-{}", sent.len());
            let chat = ClientMessage::Chat(partyline_protocol::client::Chat {
                timestamp: 1.into(),
                text: format!("{} {long}", sent.len()),
                room: None,
            });
            driver.inbound(Inbound::Message { conn, message: chat, cid: Some(cid.clone()) });
            driver.flush();
            sent.push(cid);
        }
        assert_eq!(acks(&mut rx), sent, "every line was acked, the one the disk refused too");

        shared.lock().unwrap().as_ref().unwrap().fill_disk(false);
        driver.flush();
        assert!(driver.store.as_ref().unwrap().broken, "not tried again within the second");
        tokio::time::advance(std::time::Duration::from_secs(1)).await;
        driver.flush();
        assert!(!driver.store.as_ref().unwrap().broken, "written whole once there was room");
        let stored = shared.lock().unwrap().as_ref().unwrap().load().unwrap().expect("a party");
        assert_eq!(stored.record.chat.len(), sent.len(), "every line is in the file");
    }
}
