//! Who receives what: broadcasts to every member (or every extension member), sequenced
//! delivery into each member's stream with its replay bounds, and replies to one connection.

use super::*;

/// A message on its way to members: serialized at most once per wire format, when the first
/// member speaking that format gets it ([`Wire::encode`]: the format decides whether it has
/// such a message and with which fields), and sequenced or not as the message says
/// ([`ServerMessage::is_sequenced`]) — facts of the message, not booleans passed by callers.
pub(super) struct Outgoing {
    message: ServerMessage,
    /// It carries `seq` and is kept for resume.
    sequenced: bool,
    /// One slot per wire format: `None` inside when the format has no such message.
    frames: [std::cell::OnceCell<Option<Frame>>; 2],
}

impl Outgoing {
    pub(super) fn new(message: &ServerMessage) -> Outgoing {
        Outgoing { message: message.clone(), sequenced: message.is_sequenced(), frames: Default::default() }
    }

    /// The message as `wire` writes it, or `None` when that format has no such message.
    fn frame(&self, wire: Wire) -> Option<&Frame> {
        let slot = match wire {
            Wire::Loudsync => 0,
            Wire::Partyline => 1,
        };
        self.frames[slot].get_or_init(|| wire.encode(&self.message)).as_ref()
    }
}

impl Session {
    pub(super) fn session_updated(&mut self, now: Time) {
        let state = self.state();
        let message = ServerMessage::SessionUpdated { timestamp: now / MILLISECOND, session: state.clone() };
        self.broadcast(&Outgoing::new(&message), None);
        self.events.push_back(Event::SessionUpdated(state));
    }

    /// Sends a message to every member that may receive it (see [`Session::deliver`]) but
    /// `except`.
    pub(super) fn broadcast(&mut self, out: &Outgoing, except: Option<u64>) {
        for i in 0..self.order.len() {
            let key = self.order[i];
            if Some(key) != except {
                self.deliver(key, out);
            }
        }
    }

    /// Puts a message into a member's stream in its wire format: numbered and kept for an
    /// extension member when it is sequenced, written if the member is connected. The one place
    /// that decides who gets what: a member whose format has no such message gets nothing (a
    /// LOUDSYNC 1.0 member never sees a type outside LOUDSYNC).
    pub(super) fn deliver(&mut self, key: u64, out: &Outgoing) {
        let member = self.members.get_mut(&key).expect("deliver to a member");
        let Some(frame) = out.frame(member.wire) else { return };
        let seq = (member.ext() && out.sequenced).then(|| {
            let before = member.stream.bytes();
            let seq = member.stream.push(frame);
            self.replay_bytes = self.replay_bytes + member.stream.bytes() - before;
            seq
        });
        if let Some(conn) = member.conn {
            self.transmits.push_back(Transmit::Send { conn, frame: frame.clone(), seq });
        }
        if self.replay_bytes > self.config.replay_total_bytes {
            self.trim_replay();
        }
    }

    /// All replay buffers together hold more than their bound: drops the largest buffer of a
    /// member that is reconnecting (it resumes with a snapshot), or the largest one of all.
    pub(super) fn trim_replay(&mut self) {
        let largest = self
            .members
            .iter()
            .max_by_key(|(_, member)| (member.conn.is_none(), member.stream.bytes()))
            .map(|(key, _)| *key);
        if let Some(member) = largest.and_then(|key| self.members.get_mut(&key)) {
            self.replay_bytes -= member.stream.bytes();
            member.stream.forget_buffered();
        }
    }

    /// A member's sequenced stream: extension members keep recent messages for resume.
    pub(super) fn new_stream(&self, ext: bool) -> Stream {
        let capacity = if ext { self.config.replay_capacity } else { 0 };
        Stream::new(capacity, self.config.replay_bytes)
    }

    /// An unsequenced reply to one connection.
    pub(super) fn reply(&mut self, conn: ConnId, message: ServerMessage) {
        self.transmits.push_back(Transmit::Send { conn, frame: Frame::encode(&message), seq: None });
    }

    pub(super) fn reply_error(
        &mut self,
        now: Time,
        conn: ConnId,
        code: ErrorCode,
        message: impl Into<String>,
        details: serde_json::Value,
    ) {
        self.reply(conn, ServerMessage::error(now / MILLISECOND, code, message, Some(details)));
    }

    pub(super) fn close_conn(&mut self, conn: ConnId, code: u16, reason: &'static str) {
        self.transmits.push_back(Transmit::Close { conn, code, reason });
    }
}
