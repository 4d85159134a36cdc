//! Members that speak another wire format than LOUDSYNC: Together (seed 002) at
//! `/together/ws` and Pavilion (seed 004) at `/pavilion/ws` (docs/protocol.md's chapters of the
//! same names). A [`Format`] is a parameter of a scenario: its members (all but member 0, the
//! partyline/1 sender of the broadcasts) connect in that format, and every chat line reaches
//! them in its envelope (`MESSAGE_CREATE`, `chat_message`) with the bench's marker
//! `#<broadcast>:<sent ns>:` at the start of its `content`.
//!
//! Like the LOUDSYNC members in `client`, they are written for speed: frames parsed in place,
//! the event and the marker found by byte search. They keep no member list (neither format
//! sends one) and send no pings (neither has one): a scenario over them waits for the joins,
//! not for complete lists, and its ping figures are member 0's alone.

use std::rc::Rc;
use std::time::Duration;

use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client::{MemberConf, OP_TEXT, OnText, Run, Socket, Target, connect, on_frames, phase};

/// A wire format besides LOUDSYNC and partyline/1. Seeds 001 and 000 are the next variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Together (seed 002): `{op, t, d}`, `READY` on connect, `HEARTBEAT` from the client.
    Together,
    /// Pavilion (seed 004): `{type, payload, timestamp}`, a subscription to `chat:general`,
    /// the server's `heartbeat` answered with `heartbeat_ack`.
    Pavilion,
}

/// Together's heartbeat interval: the seed's advice (the host closes a client silent for 90 s).
const TOGETHER_HEARTBEAT: Duration = Duration::from_secs(30);

/// Pavilion's subscription to the chat room the sender's lines go to, and a frame of an unknown
/// type right behind it: its `error` 1002 comes after the subscription was processed, so it says
/// "subscribed" (a subscription that works has no answer of its own).
const PAVILION_HELLO: [&str; 2] = [
    r#"{"type":"subscribe","payload":{"channel":"chat:general"},"timestamp":"2026-01-01T00:00:00Z"}"#,
    r#"{"type":"x"}"#,
];

impl Format {
    /// Every format, for a scenario per format.
    pub const ALL: [Format; 2] = [Format::Together, Format::Pavilion];

    /// Its name in scenario names and tables.
    pub fn name(self) -> &'static str {
        match self {
            Format::Together => "together",
            Format::Pavilion => "pavilion",
        }
    }

    /// Where its clients connect.
    pub fn path(self) -> &'static str {
        match self {
            Format::Together => "/together/ws",
            Format::Pavilion => "/pavilion/ws",
        }
    }

    /// The frames a member sends as soon as it is connected.
    fn hello(self) -> &'static [&'static str] {
        match self {
            Format::Together => &[],
            Format::Pavilion => &PAVILION_HELLO,
        }
    }

    /// Whether `data` says the member is in the party (and, for Pavilion, subscribed).
    fn is_joined(self, data: &[u8]) -> bool {
        match self {
            Format::Together => memmem::find(data, br#""t":"READY""#).is_some(),
            Format::Pavilion => {
                memmem::find(data, br#""type":"error""#).is_some() && memmem::find(data, br#""code":1002"#).is_some()
            }
        }
    }

    /// Whether `data` is a chat line, the event the bench counts.
    fn is_chat(self, data: &[u8]) -> bool {
        match self {
            Format::Together => memmem::find(data, br#""t":"MESSAGE_CREATE""#).is_some(),
            Format::Pavilion => memmem::find(data, br#""type":"chat_message""#).is_some(),
        }
    }

    /// The heartbeat the member sends on its own timer, and the timer's period.
    fn heartbeat(self) -> Option<(&'static str, Duration)> {
        match self {
            Format::Together => Some((r#"{"op":"HEARTBEAT"}"#, TOGETHER_HEARTBEAT)),
            Format::Pavilion => None,
        }
    }

    /// The answer `data` asks for, if any: Pavilion's `heartbeat` wants a `heartbeat_ack`.
    fn answer(self, data: &[u8]) -> Option<&'static str> {
        match self {
            Format::Pavilion if memmem::find(data, br#""type":"heartbeat""#).is_some() => {
                Some(r#"{"type":"heartbeat_ack"}"#)
            }
            _ => None,
        }
    }

    /// Whether `data` is an error message this format sends (Together has none: it closes).
    fn is_error(self, data: &[u8]) -> bool {
        match self {
            Format::Together => false,
            Format::Pavilion => memmem::find(data, br#""type":"error""#).is_some(),
        }
    }

    /// The request path of member `index`: the join key as its token, a name and a device of
    /// its own (`tag` is unique per run).
    pub fn request_path(self, key: &str, tag: &str, index: usize) -> String {
        format!("{}?token={key}&name=m{index}&device={tag}-{index}", self.path())
    }
}

/// `#<index>:<ns>:` at the start of a chat line's `content`.
pub fn parse_marker(data: &[u8]) -> Option<(usize, u64)> {
    const KEY: &[u8] = br##""content":"#"##;
    let at = memmem::find(data, KEY)?;
    let mut rest = &data[at + KEY.len()..];
    let mut number = || -> Option<u64> {
        let end = memchr::memchr(b':', rest)?;
        let value = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
        rest = &rest[end + 1..];
        Some(value)
    };
    let index = number()?;
    let sent = number()?;
    Some((index as usize, sent))
}

/// The join key in a LOUDSYNC target's path (`/ws?token=<key>`).
fn join_key(target: &Target) -> &str {
    target.path.split_once("token=").map_or("", |(_, key)| key.split('&').next().unwrap_or_default())
}

/// Per-member state.
struct Member<'a> {
    run: &'a Run,
    format: Format,
    started: u64,
    joined: bool,
    socket: Socket,
}

impl OnText for Member<'_> {
    fn run(&self) -> &Run {
        self.run
    }

    fn socket(&mut self) -> &mut Socket {
        &mut self.socket
    }

    fn on_text(&mut self, data: &[u8], now: u64) -> bool {
        Member::on_text(self, data, now)
    }
}

impl Member<'_> {
    fn queue(&mut self, opcode: u8, payload: &[u8]) {
        self.socket.queue(opcode, payload);
    }

    /// Handles one text message. Returns `false` to end the connection.
    fn on_text(&mut self, data: &[u8], now: u64) -> bool {
        if self.joined && self.format.is_chat(data) {
            if let Some((index, sent)) = parse_marker(data) {
                self.run.record_delivery(index, sent, now, data.len());
            }
            return true;
        }
        if !self.joined && self.format.is_joined(data) {
            self.joined = true;
            let run = self.run;
            run.joined.set(run.joined.get() + 1);
            run.join_ns.borrow_mut().push(now.saturating_sub(self.started));
            run.last_join_at.set(now);
            return true;
        }
        if let Some(answer) = self.format.answer(data) {
            self.queue(OP_TEXT, answer.as_bytes());
        } else if self.format.is_error(data) {
            self.run.errors.set(self.run.errors.get() + 1);
            self.run.note_error(String::from_utf8_lossy(&data[..data.len().min(300)]).to_string());
        }
        true
    }
}

/// Member `index` in `format`, from connect until the run stops or the server closes it.
pub async fn member(run: Rc<Run>, target: Rc<Target>, conf: Rc<MemberConf>, format: Format, index: usize) {
    let Ok(permit) = run.join_gate.clone().acquire_owned().await else { return };
    let mut permit = Some(permit);
    let started = run.now();
    let source = (!conf.sources.is_empty()).then(|| conf.sources[index % conf.sources.len()]);
    let target = Target { path: format.request_path(join_key(&target), &conf.tag, index), ..(*target).clone() };
    let connected = tokio::select! {
        () = run.stop.cancelled() => return,
        c = tokio::time::timeout(Duration::from_secs(20), connect(&target, source)) => c,
    };
    let (mut rd, mut wr, mut buf) = match connected {
        Ok(Ok(parts)) => parts,
        Ok(Err(err)) => {
            run.failed.set(run.failed.get() + 1);
            run.note_error(format!("connect ({}): {err}", format.name()));
            return;
        }
        Err(_) => {
            run.failed.set(run.failed.get() + 1);
            run.note_error(format!("connect ({}): timed out", format.name()));
            return;
        }
    };
    let mut m = Member { run: &run, format, started, joined: false, socket: Socket::new(index) };
    for frame in format.hello() {
        m.queue(OP_TEXT, frame.as_bytes());
    }
    let (beat, period) = format.heartbeat().unwrap_or(("", Duration::from_secs(3600)));
    let start = tokio::time::Instant::now();
    let mut heartbeat = tokio::time::interval_at(start + phase(index, period, 1), period);
    // Anything already read with the handshake's response.
    let mut alive = on_frames(&mut m, &mut buf);
    while alive {
        if !m.socket.out.is_empty() {
            if wr.write_all(&m.socket.out).await.is_err() {
                break;
            }
            m.socket.out.clear();
        }
        if m.joined && permit.is_some() {
            permit = None;
        }
        if buf.capacity() - buf.len() < conf.read_chunk / 2 {
            buf.reserve(conf.read_chunk);
        }
        tokio::select! {
            () = run.stop.cancelled() => return,
            read = rd.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => alive = false,
                Ok(_) => alive = on_frames(&mut m, &mut buf),
            },
            _ = heartbeat.tick(), if m.joined && !beat.is_empty() => m.queue(OP_TEXT, beat.as_bytes()),
        }
    }
    if !run.stop.is_cancelled() {
        if m.joined {
            run.closed.set(run.closed.get() + 1);
        } else {
            run.failed.set(run.failed.get() + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The formats' members find their joins and the bench's deliveries in each format's own
    //! frames: a chat line counted once per member that got it, whatever envelope carried it.

    use super::*;
    use crate::client::{Cmd, member as loudsync_member};
    use partyline_server::{Limits, Server, ServerConfig};
    use std::net::{Ipv4Addr, SocketAddr};

    /// The marker is read from `content` in both envelopes, with the keys in any order.
    #[test]
    fn markers_in_each_envelope() {
        let together = br##"{"d":{"author_id":"m-1","channel_id":"general","content":"#7:99:xx","id":"c-1"},"op":"DISPATCH","t":"MESSAGE_CREATE"}"##;
        let pavilion = br##"{"payload":{"content":"#8:100:xx","id":"c-2","roomId":"general"},"timestamp":"2026-01-01T00:00:00Z","type":"chat_message"}"##;
        assert!(Format::Together.is_chat(together), "expected a Together chat line");
        assert!(Format::Pavilion.is_chat(pavilion), "expected a Pavilion chat line");
        assert_eq!(parse_marker(together), Some((7, 99)), "Together marker");
        assert_eq!(parse_marker(pavilion), Some((8, 100)), "Pavilion marker");
        assert_eq!(parse_marker(br#"{"content":"no marker"}"#), None, "a line without the marker");
    }

    /// READY joins a Together member; Pavilion's error 1002 (the probe's answer) joins a
    /// Pavilion member, another error code does not.
    #[test]
    fn joins_in_each_format() {
        assert!(Format::Together.is_joined(br#"{"d":{},"op":"DISPATCH","t":"READY"}"#));
        assert!(!Format::Together.is_joined(br#"{"d":{},"op":"DISPATCH","t":"PRESENCE_UPDATE"}"#));
        assert!(Format::Pavilion.is_joined(br#"{"payload":{"code":1002,"message":"x"},"type":"error"}"#));
        assert!(!Format::Pavilion.is_joined(br#"{"payload":{"code":1003,"message":"x"},"type":"error"}"#));
    }

    /// Against a real host on 127.0.0.1 port 0: a partyline/1 sender and one member per
    /// format join, and one chat from the sender is counted once by each of the three.
    #[tokio::test]
    async fn a_chat_reaches_every_format() {
        let config = ServerConfig {
            bind: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
            limits: Limits { max_conns_per_addr: 64, ..Limits::default() },
            ..ServerConfig::default()
        };
        let host = Server::start(config).await.expect("a host on port 0");
        let addr = host.local_addr();
        let target = Rc::new(Target {
            addr,
            host: addr.to_string(),
            path: format!("/ws?token={}", host.join_key().unwrap_or_default()),
            session_id: host.session_id().to_string(),
        });
        let conf = Rc::new(MemberConf {
            ext: true,
            heartbeat: Duration::from_secs(5),
            ping_every: None,
            sources: Vec::new(),
            tag: "t".into(),
            read_chunk: 8 * 1024,
        });
        let members = 1 + Format::ALL.len();
        let run = Rc::new(Run::new(members + 1, members));
        let local = tokio::task::LocalSet::new();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        local.spawn_local(loudsync_member(run.clone(), target.clone(), conf.clone(), 0, Some(rx)));
        for (i, format) in Format::ALL.into_iter().enumerate() {
            local.spawn_local(member(run.clone(), target.clone(), conf.clone(), format, i + 1));
        }
        let waited = local
            .run_until(async {
                tokio::time::timeout(Duration::from_secs(10), async {
                    while run.joined.get() < members {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    run.expect_broadcasts(1, members as u32);
                    tx.send(Cmd::Chat { index: 0, text_len: 20 }).expect("the sender is running");
                    while run.delivered.get() < members as u64 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
                .await
            })
            .await;
        let (joined, delivered, failed) = (run.joined.get(), run.delivered.get(), run.failed.get());
        run.stop.cancel();
        host.shutdown(None).await;
        assert!(
            waited.is_ok(),
            "expected {members} joined and {members} deliveries, got {joined} joined, {delivered} delivered, \
             {failed} failed (first error: {:?})",
            run.first_error.borrow()
        );
        assert_eq!(delivered, members as u64, "expected one delivery per member, got {delivered}");
        assert!(run.complete(0), "expected broadcast 0 to have reached all {members} members");
    }
}
