//! The session task: the one owner of the [`Session`]. It feeds the session what the
//! connections read and what the host commands, sleeps until the session's next deadline, and
//! routes what the session wants sent to each connection's bounded outbox.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use partyline_protocol::{ClientMessage, DecodeError, Frame, SessionState, Wire};
use partyline_session::{Arrival, ConnId, Event, Peer, Session, Time, Transmit};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::clock::Clock;

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
}

/// What the session task asks a connection task to write.
#[derive(Debug)]
pub(crate) enum Out {
    Text(Frame, Option<u64>),
    /// Many frames in one outbox slot (a resume replay, a welcome bundle): written in flushes
    /// of at most `MAX_BATCH`, so a long replay neither overflows the queue nor goes out as one
    /// huge write.
    Batch(Vec<(Frame, Option<u64>)>),
    Probe(Time),
    Close(u16, &'static str),
}

/// The session task's handle on one connection: a bounded queue, and a way to stop the
/// connection when the queue is full.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    pub(crate) tx: mpsc::Sender<Out>,
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
    pub(crate) outboxes: HashMap<ConnId, Outbox>,
    /// Informational: a UI that falls behind gets `Lagged` and re-reads the member list,
    /// rather than making the session wait for it.
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) state: watch::Sender<SessionState>,
}

impl Driver {
    /// Yields to the runtime after this many turns: in a join storm the session task always has
    /// another message, and without yielding the connection tasks on its thread could not write
    /// what it queued for them, so their queues overflowed (measured: 40–60% of a thousand joiners
    /// closed with 4008).
    const YIELD_EVERY: u32 = 32;

    pub(crate) async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut commands: mpsc::Receiver<Action>,
        shutdown: CancellationToken,
    ) {
        let mut since_yield = 0;
        loop {
            since_yield += 1;
            if since_yield == Self::YIELD_EVERY {
                since_yield = 0;
                tokio::task::yield_now().await;
            }
            let deadline = self.session.poll_timeout().map(|at| self.clock.instant(at));
            tokio::select! {
                biased;
                () = shutdown.cancelled(), if !self.session.is_closed() => {
                    self.session.close(self.clock.now(), Some("Host ended the session"));
                }
                Some(action) = commands.recv() => self.act(action),
                message = inbound.recv() => match message {
                    Some(message) => self.inbound(message),
                    None => break,
                },
                () = sleep_until(deadline), if deadline.is_some() => self.session.handle_timeout(self.clock.now()),
            }
            self.flush();
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
                self.outboxes.insert(conn, outbox);
                let peer = Peer { addr, device: device.map(str::to_string), may_join, arrival };
                self.session.handle_connect(now, conn, peer);
            }
            Inbound::Message { conn, message } => self.session.handle_message(now, conn, message),
            Inbound::Invalid { conn, error } => self.session.handle_invalid(now, conn, &error),
            Inbound::RateLimited { conn, retry_after_ms, abusive } => {
                self.session.handle_rate_limited(now, conn, retry_after_ms, abusive);
            }
            Inbound::ProbeReply { conn, sent_at } => self.session.handle_probe_reply(now, conn, sent_at),
            Inbound::Disconnected { conn, clean } => {
                self.outboxes.remove(&conn);
                self.session.handle_disconnect(now, conn, clean);
            }
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
        while let Some(transmit) = self.session.poll_transmit() {
            let (conn, out) = match transmit {
                // One slot for the whole replay, written at the connection's pace.
                Transmit::Replay { conn, frames } => {
                    let frames = frames.into_iter().map(|(seq, frame)| (frame, Some(seq))).collect();
                    (conn, Out::Batch(frames))
                }
                Transmit::Attach { conn, wire } => {
                    if let Some(outbox) = self.outboxes.get(&conn) {
                        outbox.extended.store(wire.extended(), std::sync::atomic::Ordering::Relaxed);
                    }
                    continue;
                }
                Transmit::Send { conn, frame, seq } => (conn, Out::Text(frame, seq)),
                Transmit::Probe { conn, sent_at } => (conn, Out::Probe(sent_at)),
                Transmit::Close { conn, code, reason } => {
                    if let Some(outbox) = self.outboxes.remove(&conn) {
                        let code = outbox.format.close_code(code);
                        match outbox.tx.try_send(Out::Close(code, reason)) {
                            Ok(()) => outbox.kill.closing.cancel(),
                            Err(_) => outbox.kill.fire(code, reason),
                        }
                    }
                    continue;
                }
            };
            self.route(conn, out);
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
}

impl Driver {
    /// Queues one write for a connection. A full queue means it cannot keep up: the session is
    /// told, and closes it, in this same pass.
    fn route(&mut self, conn: ConnId, out: Out) {
        let Some(outbox) = self.outboxes.get(&conn) else { return };
        match outbox.tx.try_send(out) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!(%conn, "outbound queue full; closing the connection");
                self.session.handle_overflow(self.clock.now(), conn);
            }
            // The connection task has ended; its Disconnected is on its way.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
