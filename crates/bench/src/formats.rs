//! Members that speak another wire format than LOUDSYNC: Together (seed 002) at
//! `/together/ws`, Pavilion (seed 004) at `/pavilion/ws`, the Real-time Communication Service
//! (seed 001) at `/rt/ws` and Revenge (seed 000) at `/socket` (docs/protocol.md's chapters of the
//! same names). A [`Format`] is a parameter of a scenario: its members (all but member 0, the
//! partyline/1 member that sends or also receives) connect in that format, and each broadcast of
//! the format's [`Cast`] reaches them in its envelope with the bench's marker
//! `#<broadcast>:<sent ns>:` at the start of a string: a chat line (`MESSAGE_CREATE`,
//! `chat_message`: its `content`) for Together and Pavilion, a topic `Broadcast` (its
//! `payload.text`) for seed 001, whose clients get topic broadcasts rather than chat, and a host
//! `notification` (its `title`) for Revenge, whose clients get announcements rather than chat.
//!
//! Like the LOUDSYNC members in `client`, they are written for speed: frames parsed in place,
//! the event and the marker found by byte search. They keep no member list and send no timed
//! pings: a scenario over them waits for the joins, not for complete lists, and its ping
//! figures are member 0's alone.

use std::rc::Rc;
use std::time::Duration;

use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client::{
    Cast, MemberConf, OP_TEXT, OnText, Run, Socket, TEXT_MARKER, TITLE_MARKER, TOPIC, Target, connect, on_frames,
    parse_marker, phase,
};

/// A wire format besides LOUDSYNC and partyline/1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Together (seed 002): `{op, t, d}`, `READY` on connect, `HEARTBEAT` from the client.
    Together,
    /// Pavilion (seed 004): `{type, payload, timestamp}`, a subscription to `chat:general`,
    /// the server's `heartbeat` answered with `heartbeat_ack`.
    Pavilion,
    /// Seed 001: `{type, data}`, a `Subscribe` to [`TOPIC`] answered with `Status`
    /// `subscribed`, the server's `Ping` answered with `Pong` and the same `timestamp`.
    Rt,
    /// Revenge (seed 000): `{type, id, data}`, `session.update` `connected` on connect, `ping`
    /// from the client.
    Revenge,
}

/// Together's heartbeat interval: the seed's advice (the host closes a client silent for 90 s).
const TOGETHER_HEARTBEAT: Duration = Duration::from_secs(30);

/// Revenge's `ping`: the host closes a client silent for 90 s; a third of that, as Together's.
const REVENGE_PING: Duration = Duration::from_secs(30);

/// Pavilion's subscription to the chat room the sender's lines go to, and a frame of an unknown
/// type right behind it: its `error` 1002 comes after the subscription was processed, so it says
/// "subscribed" (a subscription that works has no answer of its own).
const PAVILION_HELLO: [&str; 2] = [
    r#"{"type":"subscribe","payload":{"channel":"chat:general"},"timestamp":"2026-01-01T00:00:00Z"}"#,
    r#"{"type":"x"}"#,
];

impl Format {
    /// Every format, for a scenario per format.
    pub const ALL: [Format; 4] = [Format::Together, Format::Pavilion, Format::Rt, Format::Revenge];

    /// Its name in scenario names and tables.
    pub fn name(self) -> &'static str {
        match self {
            Format::Together => "together",
            Format::Pavilion => "pavilion",
            Format::Rt => "rt",
            Format::Revenge => "revenge",
        }
    }

    /// Where its clients connect.
    pub fn path(self) -> &'static str {
        match self {
            Format::Together => "/together/ws",
            Format::Pavilion => "/pavilion/ws",
            Format::Rt => "/rt/ws",
            Format::Revenge => "/socket",
        }
    }

    /// What its scenario broadcasts: the party-wide fan-out its clients receive, and so the
    /// partyline/1 scenario it is compared with.
    pub fn cast(self) -> Cast {
        match self {
            Format::Together | Format::Pavilion => Cast::Chat,
            Format::Rt => Cast::Topic,
            Format::Revenge => Cast::Notice,
        }
    }

    /// The frames a member sends as soon as it is connected: seed 001's is its subscription to
    /// the topic member 0 broadcasts on, which `Status` `subscribed` answers.
    fn hello(self) -> Vec<String> {
        match self {
            Format::Together | Format::Revenge => Vec::new(),
            Format::Pavilion => PAVILION_HELLO.map(str::to_string).to_vec(),
            Format::Rt => vec![format!(r#"{{"type":"Subscribe","data":{{"topics":["{TOPIC}"]}}}}"#)],
        }
    }

    /// Whether `data` says the member is in the party (and, for Pavilion and seed 001,
    /// subscribed).
    fn is_joined(self, data: &[u8]) -> bool {
        match self {
            Format::Together => memmem::find(data, br#""t":"READY""#).is_some(),
            Format::Pavilion => {
                memmem::find(data, br#""type":"error""#).is_some() && memmem::find(data, br#""code":1002"#).is_some()
            }
            Format::Rt => {
                memmem::find(data, br#""type":"Status""#).is_some()
                    && memmem::find(data, br#""status":"subscribed""#).is_some()
            }
            Format::Revenge => {
                memmem::find(data, br#""type":"session.update""#).is_some()
                    && memmem::find(data, br#""event":"connected""#).is_some()
            }
        }
    }

    /// Whether `data` is the event the bench counts (a chat line, a topic broadcast, a
    /// notification).
    fn is_delivery(self, data: &[u8]) -> bool {
        match self {
            Format::Together => memmem::find(data, br#""t":"MESSAGE_CREATE""#).is_some(),
            Format::Pavilion => memmem::find(data, br#""type":"chat_message""#).is_some(),
            Format::Rt => memmem::find(data, br#""type":"Broadcast""#).is_some(),
            Format::Revenge => memmem::find(data, br#""type":"notification""#).is_some(),
        }
    }

    /// The key before the marker in a delivery.
    fn marker_key(self) -> &'static [u8] {
        match self {
            Format::Together | Format::Pavilion => CONTENT_MARKER,
            Format::Rt => TEXT_MARKER,
            Format::Revenge => TITLE_MARKER,
        }
    }

    /// The heartbeat the member sends on its own timer, and the timer's period.
    fn heartbeat(self) -> Option<(&'static str, Duration)> {
        match self {
            Format::Together => Some((r#"{"op":"HEARTBEAT"}"#, TOGETHER_HEARTBEAT)),
            Format::Revenge => Some((r#"{"type":"ping","data":{}}"#, REVENGE_PING)),
            Format::Pavilion | Format::Rt => None,
        }
    }

    /// The answer `data` asks for, if any: Pavilion's `heartbeat` wants a `heartbeat_ack`,
    /// seed 001's `Ping` a `Pong` with its `timestamp`.
    fn answer(self, data: &[u8]) -> Option<String> {
        match self {
            Format::Pavilion if memmem::find(data, br#""type":"heartbeat""#).is_some() => {
                Some(r#"{"type":"heartbeat_ack"}"#.to_string())
            }
            Format::Rt if memmem::find(data, br#""type":"Ping""#).is_some() => {
                let timestamp = number_after(data, br#""timestamp":"#)?;
                Some(format!(r#"{{"type":"Pong","data":{{"timestamp":{timestamp}}}}}"#))
            }
            _ => None,
        }
    }

    /// Whether `data` is an error message this format sends (Together has none: it closes).
    fn is_error(self, data: &[u8]) -> bool {
        match self {
            Format::Together => false,
            Format::Pavilion | Format::Revenge => memmem::find(data, br#""type":"error""#).is_some(),
            Format::Rt => memmem::find(data, br#""type":"Error""#).is_some(),
        }
    }

    /// The request path of member `index`: the join key as its token, a name and a device of
    /// its own (`tag` is unique per run).
    pub fn request_path(self, key: &str, tag: &str, index: usize) -> String {
        format!("{}?token={key}&name=m{index}&device={tag}-{index}", self.path())
    }
}

/// The marker of a Together or Pavilion chat line (its `content`).
const CONTENT_MARKER: &[u8] = br##""content":"#"##;

/// The JSON integer right after `key` (`"timestamp":`), as written.
fn number_after<'a>(data: &'a [u8], key: &[u8]) -> Option<&'a str> {
    let rest = &data[memmem::find(data, key)? + key.len()..];
    let end = rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok().filter(|n| !n.is_empty())
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
        if self.joined && self.format.is_delivery(data) {
            if let Some((index, sent)) = parse_marker(data, self.format.marker_key()) {
                self.run.record_delivery(index, sent, now, data.len());
            }
            return true;
        }
        if !self.joined && self.format.is_joined(data) {
            self.joined = true;
            self.run.note_joined(self.started, now);
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
    //! frames: each broadcast of a format's cast counted once per member that got it, whatever
    //! envelope carried it, and a server's seed-001 `Ping` answered with its own timestamp.

    use super::*;
    use crate::client::{Cmd, marker_text, member as loudsync_member};
    use partyline_protocol::{NotificationLevel, ServerMessage, revenge, rt};
    use partyline_server::{Limits, Server, ServerConfig};
    use serde_json::json;
    use std::net::{Ipv4Addr, SocketAddr};

    /// The marker is read from `content` in both chat envelopes, with the keys in any order, and
    /// from the frames the host's own encoders write: a seed-001 `Broadcast`'s `payload.text`
    /// and a Revenge `notification`'s `title`.
    #[test]
    fn markers_in_each_envelope() {
        let together = br##"{"d":{"author_id":"m-1","channel_id":"general","content":"#7:99:xx","id":"c-1"},"op":"DISPATCH","t":"MESSAGE_CREATE"}"##;
        let pavilion = br##"{"payload":{"content":"#8:100:xx","id":"c-2","roomId":"general"},"timestamp":"2026-01-01T00:00:00Z","type":"chat_message"}"##;
        let cast = ServerMessage::Broadcast {
            timestamp: 1,
            from: "m-1".into(),
            id: "b-9".into(),
            topic: Some(TOPIC.into()),
            payload: json!({ "text": marker_text(9, 101, 20) }),
        };
        let rt_frame = rt::encode(&cast).expect("seed 001 has Broadcast");
        let notice = ServerMessage::Notification {
            timestamp: 1,
            id: "n-1".into(),
            title: marker_text(10, 102, 20),
            body: String::new(),
            level: NotificationLevel::Info,
            from: "h-1".into(),
            name: "Host".into(),
            read: None,
            actions: Vec::new(),
        };
        let revenge_frame = revenge::encode(&notice).expect("Revenge has notification");
        let cases: [(Format, &[u8], (usize, u64)); 4] = [
            (Format::Together, together, (7, 99)),
            (Format::Pavilion, pavilion, (8, 100)),
            (Format::Rt, rt_frame.as_str().as_bytes(), (9, 101)),
            (Format::Revenge, revenge_frame.as_str().as_bytes(), (10, 102)),
        ];
        for (format, frame, marker) in cases {
            assert!(format.is_delivery(frame), "expected a {} delivery in {}", format.name(), show(frame));
            let found = parse_marker(frame, format.marker_key());
            assert_eq!(found, Some(marker), "{} marker in {}", format.name(), show(frame));
        }
        let none = parse_marker(br#"{"content":"no marker"}"#, CONTENT_MARKER);
        assert_eq!(none, None, "a line without the marker");
        assert!(!Format::Rt.is_delivery(pavilion), "a chat line is no seed-001 delivery");
        assert!(!Format::Revenge.is_delivery(rt_frame.as_str().as_bytes()), "a Broadcast is no Revenge delivery");
    }

    /// READY joins a Together member; Pavilion's error 1002 (the probe's answer) joins a
    /// Pavilion member, another error code does not; `Status` `subscribed` (not `connected`)
    /// joins a seed-001 member, and `session.update` `connected` (not `member_joined`) a
    /// Revenge member, as the host's encoders write them.
    #[test]
    fn joins_in_each_format() {
        assert!(Format::Together.is_joined(br#"{"d":{},"op":"DISPATCH","t":"READY"}"#));
        assert!(!Format::Together.is_joined(br#"{"d":{},"op":"DISPATCH","t":"PRESENCE_UPDATE"}"#));
        assert!(Format::Pavilion.is_joined(br#"{"payload":{"code":1002,"message":"x"},"type":"error"}"#));
        assert!(!Format::Pavilion.is_joined(br#"{"payload":{"code":1003,"message":"x"},"type":"error"}"#));
        let change =
            |added| ServerMessage::SubscriptionChange { timestamp: 1, topics: vec![TOPIC.into()], added, active: 1 };
        let subscribed = rt::encode(&change(true)).expect("seed 001 has Status");
        let unsubscribed = rt::encode(&change(false)).expect("seed 001 has Status");
        let connected = br#"{"data":{"details":{"connection_id":"m-1"},"status":"connected"},"type":"Status"}"#;
        assert!(Format::Rt.is_joined(subscribed.as_str().as_bytes()), "{}", subscribed.as_str());
        assert!(!Format::Rt.is_joined(unsubscribed.as_str().as_bytes()), "{}", unsubscribed.as_str());
        assert!(!Format::Rt.is_joined(connected), "connected is not yet subscribed");
        let member = json!({"id": "m-1", "name": "m1"});
        assert!(Format::Revenge.is_joined(
            json!({"type": "session.update", "data": {"event": "connected", "member": member}}).to_string().as_bytes()
        ));
        assert!(
            !Format::Revenge.is_joined(
                json!({"type": "session.update", "data": {"event": "member_joined", "member": member}})
                    .to_string()
                    .as_bytes()
            )
        );
    }

    /// A seed-001 member answers the server's `Ping` (as the host writes it) with a `Pong` of
    /// the same timestamp that the host's decoder reads as a Pong; a Revenge member answers
    /// nothing, since its own `ping` is what keeps it alive.
    #[test]
    fn a_servers_ping_is_answered() {
        let ping = rt::encode(&ServerMessage::ServerHeartbeat { timestamp: 1_706_889_600_123 }).expect("Ping");
        let pong = Format::Rt.answer(ping.as_str().as_bytes()).expect("a Pong for a Ping");
        let value: serde_json::Value = serde_json::from_str(&pong).expect("the Pong is JSON");
        assert_eq!(value, json!({"type": "Pong", "data": {"timestamp": 1_706_889_600_123u64}}), "got {pong}");
        let decoded = rt::decode(&pong);
        assert!(
            matches!(decoded, Ok(partyline_protocol::ClientMessage::Heartbeat(_))),
            "expected the host to read a Pong, got {decoded:?}"
        );
        assert_eq!(Format::Rt.answer(br#"{"data":{},"type":"Broadcast"}"#), None, "only a Ping is answered");
        assert_eq!(Format::Revenge.answer(br#"{"data":{},"type":"pong"}"#), None, "Revenge: no answers");
        let beat = Format::Revenge.heartbeat().map(|(frame, _)| revenge::decode(frame));
        assert!(
            matches!(beat, Some(Ok(partyline_protocol::ClientMessage::Ping(_)))),
            "expected Revenge's heartbeat to be a ping, got {beat:?}"
        );
    }

    fn show(frame: &[u8]) -> String {
        String::from_utf8_lossy(frame).into_owned()
    }

    /// Against a real host on 127.0.0.1 port 0: member 0 and member 1 in partyline/1 and one
    /// member per format of `cast` join, then one broadcast of `cast` (member 0's chat or topic
    /// broadcast, or the host's notification) is counted once by each receiver.
    async fn one_broadcast_reaches_each_format(cast: Cast) {
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
            cast,
        });
        let formats: Vec<Format> = Format::ALL.into_iter().filter(|f| f.cast() == cast).collect();
        let members = 2 + formats.len();
        let receivers = cast.receivers(members);
        let run = Rc::new(Run::new(members + 1, members));
        let local = tokio::task::LocalSet::new();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        local.spawn_local(loudsync_member(run.clone(), target.clone(), conf.clone(), 0, Some(rx)));
        local.spawn_local(loudsync_member(run.clone(), target.clone(), conf.clone(), 1, None));
        for (i, format) in formats.iter().enumerate() {
            local.spawn_local(member(run.clone(), target.clone(), conf.clone(), *format, i + 2));
        }
        let waited = local
            .run_until(async {
                tokio::time::timeout(Duration::from_secs(10), async {
                    while run.joined.get() < members {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    run.expect_broadcasts(1, receivers);
                    match cast {
                        Cast::Chat => tx.send(Cmd::Chat { index: 0, text_len: 20 }).expect("the sender is running"),
                        Cast::Topic => {
                            tx.send(Cmd::Broadcast { index: 0, text_len: 20 }).expect("the sender is running")
                        }
                        Cast::Notice => {
                            let sent = run.now();
                            host.notify(&marker_text(0, sent, 20), "", NotificationLevel::Info)
                                .await
                                .expect("the host notifies");
                            run.note_sent(0, sent);
                        }
                    }
                    while run.delivered.get() < u64::from(receivers) {
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
            "{cast:?}: expected {members} joined and {receivers} deliveries, got {joined} joined, {delivered} \
             delivered, {failed} failed (first error: {:?})",
            run.first_error.borrow()
        );
        assert_eq!(delivered, u64::from(receivers), "{cast:?}: expected one delivery per receiver, got {delivered}");
        assert!(run.complete(0), "{cast:?}: expected broadcast 0 to have reached all {receivers} receivers");
        assert_eq!(run.errors.get(), 0, "{cast:?}: no error expected, got {:?}", run.first_error.borrow());
    }

    /// A chat line from member 0 reaches both partyline/1 members, the Together member and the
    /// Pavilion member.
    #[tokio::test]
    async fn a_chat_reaches_every_chat_format() {
        one_broadcast_reaches_each_format(Cast::Chat).await;
    }

    /// Member 0's topic broadcast reaches the subscribed partyline/1 member and the subscribed
    /// seed-001 member (never member 0).
    #[tokio::test]
    async fn a_topic_broadcast_reaches_partyline_and_seed_001() {
        one_broadcast_reaches_each_format(Cast::Topic).await;
    }

    /// A host notification reaches both partyline/1 members and the Revenge member.
    #[tokio::test]
    async fn a_notification_reaches_partyline_and_revenge() {
        one_broadcast_reaches_each_format(Cast::Notice).await;
    }
}
