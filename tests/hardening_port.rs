//! The port stays open to guests whatever else arrives on it, and every WebSocket ends the
//! RFC's way in bounded time. Connections that trickle their headers are shed (the oldest idle
//! first) at the per-address, total and descriptor caps, so a guest's fresh request is answered
//! and a joined guest keeps its messages; unfinished and idle HTTP connections are closed after
//! the header timeout; only requests whose Host names this host are served; every frame costs
//! a token; a client's Close is answered, protocol errors get their close codes, and a peer
//! that stops reading gives its descriptor and slot back.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use partyline_protocol::ErrorCode;
use partyline_server::Limits;
use partyline_support::{
    Client, ClientMessage, Ending, ServerMessage, SessionConfig, WAIT, Welcome, chat_msg, default_host, expect_message,
    fast_host, join_msg, ping_msg, start_host, ws_url,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::{self, Bytes, Message};
use tracing_subscriber::util::SubscriberInitExt;

/// Trickling connections per flood: more than the 1,024 descriptors of a host whose limit is
/// the common default.
const FLOOD: usize = 1_100;

/// A TCP connection from `from` (an address of 127.0.0.0/8) to `to`.
async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    tokio::time::timeout(WAIT, socket.connect(to)).await.map_err(|_| std::io::ErrorKind::TimedOut)?
}

/// A WebSocket from `from`; `small_buffer`: a 4 KiB receive buffer, so that a client that
/// stops reading fills its socket quickly.
async fn ws_from(from: Ipv4Addr, url: &str, small_buffer: bool) -> Result<Client, tungstenite::Error> {
    let request = url.into_client_request().unwrap();
    let to: SocketAddr = request.uri().authority().unwrap().as_str().parse().unwrap();
    let socket = TcpSocket::new_v4()?;
    if small_buffer {
        socket.set_recv_buffer_size(4096)?;
    }
    socket.bind(SocketAddr::from((from, 0)))?;
    let stream = tokio::time::timeout(WAIT, socket.connect(to)).await.expect("connects in time")?;
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)))
        .await
        .expect("upgrade answered in time")?;
    Ok(Client { ws, protocol: None })
}

/// Joins from `from` over `url` into session `session`; returns the client and its welcome.
async fn join_from(from: Ipv4Addr, url: &str, session: &str, device: &str) -> (Client, Welcome) {
    let mut client = ws_from(from, url, false).await.expect("the guest's WebSocket opens");
    let mut join = join_msg(device, true);
    if let ClientMessage::Join(join) = &mut join {
        join.session_id = session.into();
    }
    client.send(join).await;
    let welcome = Welcome::of(client.recv().await);
    (client, welcome)
}

/// The id of the member a `member_joined` names; any other message fails the test.
fn joined_id(message: ServerMessage) -> String {
    expect_message!(message, ServerMessage::MemberJoined { member, .. } => member.id)
}

/// A GET over a fresh connection from `from`, with these header lines; the status and what
/// came back (the head only for a 101).
async fn get_from(from: Ipv4Addr, to: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = connect_from(from, to).await.expect("connects");
    let mut head = format!("GET {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("connection")) {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&chunk[..n]),
            }
            if answer_complete(&reply) {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("an answer to GET {path} within the time limit"));
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply.get(9..12).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("a status: {reply:?}"));
    (status, reply)
}

/// Whether `reply` holds a whole answer: a 101's head, or a head and its Content-Length body
/// (a connection that asked to upgrade stays open after a refusal).
fn answer_complete(reply: &[u8]) -> bool {
    let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&reply[..end]).to_ascii_lowercase();
    if head.starts_with("http/1.1 101") {
        return true;
    }
    let length = head.lines().find_map(|line| line.strip_prefix("content-length:")).and_then(|n| n.trim().parse().ok());
    length.is_some_and(|length: usize| reply.len() >= end + 4 + length)
}

/// Opens [`FLOOD`] connections (the n-th from `source(n)`) that each send half a request head
/// and then one more byte every two seconds, as a slowloris does; they stay until dropped.
struct Flood {
    trickle: tokio::task::JoinHandle<()>,
}

impl Flood {
    async fn start(to: SocketAddr, source: impl Fn(usize) -> Ipv4Addr) -> Flood {
        let mut streams = Vec::with_capacity(FLOOD);
        for n in 0..FLOOD {
            // A connection the host cannot accept any more still completes in the kernel's
            // backlog; one that fails outright is the host's loss, not the test's.
            if let Ok(mut stream) = connect_from(source(n), to).await {
                let _ = stream.write_all(b"GET / HTTP/1.1\r\nHo").await;
                streams.push(stream);
            }
        }
        let trickle = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                for stream in &streams {
                    let _ = stream.try_write(b"s");
                }
            }
        });
        Flood { trickle }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.trickle.abort();
    }
}

/// What the host logged while a test ran (this thread's tracing, at warn and above).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    /// Captures this thread's logs (a `#[tokio::test]` runs the host on it) until the guard
    /// is dropped.
    fn capture() -> (Logs, impl Drop) {
        let logs = Logs::default();
        let guard = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
            .finish()
            .set_default();
        (logs, guard)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

const GUEST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const MEMBER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A member joins, the flood comes, then a new guest gets `/api/info` and joins at once, the
/// member hears of it, and the host has logged that it shed at `cap`.
async fn flood_then_guest(source: impl Fn(usize) -> Ipv4Addr, cap: &str) {
    let (logs, _guard) = Logs::capture();
    let host = default_host().await;
    let addr = host.local_addr();
    let (mut member, _) = join_from(MEMBER, &ws_url(&host), "party1", "dev-member").await;
    member.recv_until("member_list").await;
    let _flood = Flood::start(addr, source).await;

    let (status, reply) = get_from(GUEST, addr, "/api/info", &[("Host", &addr.to_string())]).await;
    assert_eq!(status, 200, "the guest's /api/info during the flood: {reply}");
    let (_guest, welcome) = join_from(GUEST, &ws_url(&host), "party1", "dev-guest").await;
    let (joined, _) = member.recv_until("member_joined").await;
    assert_eq!(joined_id(joined.message), welcome.client_id, "the joined member keeps getting messages");
    let log = logs.text();
    assert!(
        log.contains("shedding load") && log.contains(&format!("cap=\"{cap}\"")),
        "expected a shedding line at cap {cap:?} in the host's log, got:\n{log}"
    );
}

/// 1,100 trickling connections from one address cannot keep a guest from another out: the
/// per-address cap sheds them.
#[tokio::test]
async fn trickling_flood_from_one_address() {
    flood_then_guest(|_| Ipv4Addr::LOCALHOST, "http_per_addr").await;
}

/// The same flood spread over 100 addresses (11 each, under the per-address cap) meets the
/// total HTTP cap, which sheds the oldest.
#[tokio::test]
async fn trickling_flood_from_many_addresses() {
    flood_then_guest(|n| Ipv4Addr::new(127, 0, 1, (n / 11) as u8), "http").await;
}

/// The partyline binary built for this tree.
fn partyline_bin() -> std::path::PathBuf {
    let bin = std::env::var_os("PARTYLINE_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/partyline"));
    assert!(bin.exists(), "{} is missing: build it with `cargo build -p partyline-cli`", bin.display());
    bin
}

/// The real host under a hard limit of 1,024 open files: 1,100 trickling connections from
/// 100 addresses cannot exhaust its descriptors; a guest gets `/api/info` and joins, and the
/// host says on stderr that it is shedding.
#[tokio::test]
async fn trickling_flood_cannot_exhaust_the_hosts_descriptors() {
    rlimit::increase_nofile_limit(4 * FLOOD as u64).expect("the test may open its flood");
    let mut child = tokio::process::Command::new("prlimit")
        .arg("--nofile=1024:1024")
        .arg("--")
        .arg(partyline_bin())
        .args(["host", "--no-store", "--bind", "127.0.0.1", "--port", "0", "--no-mdns", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("prlimit (util-linux) runs the host");
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(WAIT, stdout.next_line()).await.expect("the host starts").unwrap().unwrap();
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let collected = stderr.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            collected.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let ws = format!("{}?token={}", info["wsUrl"].as_str().unwrap(), info["joinKey"].as_str().unwrap());
    let addr: SocketAddr = ws.trim_start_matches("ws://").split('/').next().unwrap().parse().unwrap();
    let session = info["sessionId"].as_str().unwrap();

    let (mut member, _) = join_from(MEMBER, &ws, session, "dev-member").await;
    member.recv_until("member_list").await;
    let _flood = Flood::start(addr, |n| Ipv4Addr::new(127, 0, 1, (n / 11) as u8)).await;
    let (status, reply) = get_from(GUEST, addr, "/api/info", &[("Host", &addr.to_string())]).await;
    assert_eq!(status, 200, "the guest's /api/info during the flood: {reply}");
    let (_guest, welcome) = join_from(GUEST, &ws, session, "dev-guest").await;
    let (joined, _) = member.recv_until("member_joined").await;
    assert_eq!(joined_id(joined.message), welcome.client_id);
    let log = stderr.lock().unwrap().clone();
    assert!(log.contains("shedding load"), "expected the host to say it sheds, stderr:\n{log}");
}

/// A connection that sends half a request head is closed after the header timeout.
#[tokio::test]
async fn half_a_request_head_is_closed() {
    let limits = Limits { header_read_timeout: Duration::from_millis(300), ..Limits::default() };
    let host = start_host(SessionConfig::default(), limits).await;
    let mut half = TcpStream::connect(host.local_addr()).await.unwrap();
    half.write_all(format!("GET /api/info HTTP/1.1\r\nHost: {}", host.local_addr()).as_bytes()).await.unwrap();
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(WAIT, half.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the host still holds a connection that never finished its head");
}

/// An idle keep-alive connection is closed after the same timeout, once its request is
/// answered.
#[tokio::test]
async fn idle_keep_alive_connection_is_closed() {
    let limits = Limits { header_read_timeout: Duration::from_millis(300), ..Limits::default() };
    let host = start_host(SessionConfig::default(), limits).await;
    let mut idle = TcpStream::connect(host.local_addr()).await.unwrap();
    idle.write_all(format!("GET /api/info HTTP/1.1\r\nHost: {}\r\n\r\n", host.local_addr()).as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let ended = tokio::time::timeout(WAIT, idle.read_to_end(&mut reply)).await;
    assert!(ended.is_ok(), "the host still holds an idle keep-alive connection");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200") && reply.contains("\"sessionId\""), "the request was answered: {reply}");
}

/// Header lines of a request.
type Headers<'a> = [(&'a str, &'a str)];

/// A request head over 64 KiB is refused with 431, so that 256 unfinished requests cannot
/// hold more than a bounded amount of memory; a head of a few KiB is served.
#[tokio::test]
async fn long_request_head_is_refused() {
    let host = default_host().await;
    let addr = host.local_addr().to_string();
    let long = "a".repeat(100 * 1024);
    let (status, _) =
        get_from(Ipv4Addr::LOCALHOST, host.local_addr(), "/api/info", &[("Host", &addr), ("X-Pad", &long)]).await;
    assert_eq!(status, 431, "a 100 KiB head");
    let short = "a".repeat(4 * 1024);
    let (status, _) =
        get_from(Ipv4Addr::LOCALHOST, host.local_addr(), "/api/info", &[("Host", &addr), ("X-Pad", &short)]).await;
    assert_eq!(status, 200, "a 4 KiB head");
}

/// `Host: evil.example` (with or without an `Origin` of the same name, as a DNS-rebinding
/// page sends) gets 421 on every route; the host's own address (and localhost) is served.
#[tokio::test]
async fn host_header_must_name_this_host() {
    let host = default_host().await;
    let addr = host.local_addr();
    let ws_path = format!("/ws?token={}", host.join_key().unwrap());
    let upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let routes: [(&str, &Headers, u16); 4] =
        [("/", &[], 200), ("/api/info", &[], 200), ("/api/join?code=ABCDE", &[], 200), (&ws_path, &upgrade, 101)];
    let right = addr.to_string();
    let evil_port = format!("evil.example:{}", addr.port());
    for (path, extra, served) in routes {
        for (name, origin) in [
            ("evil.example", None),
            ("evil.example", Some("http://evil.example")),
            (evil_port.as_str(), Some("http://evil.example")),
            ("127.0.0.2", None),
        ] {
            let mut headers: Vec<(&str, &str)> = vec![("Host", name)];
            headers.extend(origin.map(|origin| ("Origin", origin)));
            headers.extend_from_slice(extra);
            let (status, reply) = get_from(Ipv4Addr::LOCALHOST, addr, path, &headers).await;
            assert_eq!(status, 421, "GET {path} with Host {name} and Origin {origin:?}: {reply}");
        }
        let mut headers: Vec<(&str, &str)> = vec![("Host", &right)];
        headers.extend_from_slice(extra);
        let (status, reply) = get_from(Ipv4Addr::LOCALHOST, addr, path, &headers).await;
        assert_eq!(status, served, "GET {path} with the right Host: {reply}");
    }
    let localhost = format!("localhost:{}", addr.port());
    let (status, _) = get_from(Ipv4Addr::LOCALHOST, addr, "/api/info", &[("Host", &localhost)]).await;
    assert_eq!(status, 200, "localhost names a loopback host");
}

/// The next frame from the server, skipping messages, pings and pongs; the code of its Close.
async fn close_code(client: &mut Client) -> Option<u16> {
    loop {
        match tokio::time::timeout(WAIT, client.ws.next()).await.expect("the server closes in time") {
            Some(Ok(Message::Close(frame))) => return frame.map(|frame| u16::from(frame.code)),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// A client's Close is answered with a Close carrying the same code, then the server ends the
/// TCP connection.
#[tokio::test]
async fn client_close_is_answered() {
    let host = default_host().await;
    for code in [1000, 1001, 4321] {
        let (mut client, _) = Client::join_in(&host, &format!("dev-{code}"), true).await;
        let frame = CloseFrame { code: CloseCode::from(code), reason: "bye".into() };
        client.ws.send(Message::Close(Some(frame))).await.unwrap();
        assert_eq!(close_code(&mut client).await, Some(code), "the server's answer to Close({code})");
        let after = tokio::time::timeout(WAIT, client.ws.next()).await.expect("the server ends the connection");
        assert!(after.is_none() || matches!(after, Some(Err(_))), "nothing after the close handshake: {after:?}");
    }
}

/// Each protocol error is answered with its RFC 6455 close code: invalid UTF-8 in a text frame
/// or a close reason with 1007; a fragmented control frame, a continuation with nothing to
/// continue, and close codes a peer may not send with 1002.
#[tokio::test]
async fn protocol_errors_get_their_close_codes() {
    let host = default_host().await;
    let control = |opcode: Control, is_final: bool, payload: &'static [u8]| {
        let header = FrameHeader { is_final, opcode: OpCode::Control(opcode), ..FrameHeader::default() };
        Frame::from_payload(header, Bytes::from_static(payload))
    };
    let close_with = |code: u16| Frame::close(Some(CloseFrame { code: CloseCode::from(code), reason: "".into() }));
    let cases: Vec<(&str, Frame, u16)> = vec![
        (
            "invalid UTF-8 in a text frame",
            Frame::message(Bytes::from_static(&[0xff, 0xfe]), OpCode::Data(Data::Text), true),
            1007,
        ),
        ("invalid UTF-8 in a close reason", control(Control::Close, true, &[0x03, 0xe8, 0xff]), 1007),
        ("a fragmented ping", control(Control::Ping, false, b"x"), 1002),
        (
            "a continuation of nothing",
            Frame::message(Bytes::from_static(b"x"), OpCode::Data(Data::Continue), true),
            1002,
        ),
        ("close code 999", close_with(999), 1002),
        ("close code 1005, which is never sent", close_with(1005), 1002),
    ];
    for (what, frame, expected) in cases {
        let mut client = Client::connect(&ws_url(&host)).await;
        client.ws.send(Message::Frame(frame)).await.unwrap();
        assert_eq!(close_code(&mut client).await, Some(expected), "after {what}");
    }
}

/// A 70 KiB message, fully sent by a client that is slow to read (the host's answer waits
/// behind 100 KB of chat), gets `error` message_too_large and close 1009, 20 times of 20: the
/// host reads the unread rest instead of dropping the socket, whose reset would destroy the
/// close still queued.
#[tokio::test]
async fn oversize_message_gets_1009_every_time() {
    let host = fast_host().await;
    let (mut talker, _) = Client::join(&host, "dev-talker", false).await;
    let (mut reader, _) = Client::join_in(&host, "dev-reader", true).await;
    let oversize = chat_msg("x".repeat(70 * 1024));
    let line = "y".repeat(1000);
    let mut endings = Vec::new();
    for run in 0..20 {
        let mut client = Client::connect_small_buffer(&ws_url(&host)).await;
        client.send(join_msg(&format!("dev-big-{run}"), true)).await;
        Welcome::of(client.recv().await);
        for _ in 0..100 {
            talker.send(chat_msg(line.clone())).await;
        }
        // What the reader has, the client's queue has too, ahead of the answer to come.
        for _ in 0..100 {
            reader.recv_until("chat").await;
        }
        client.send(oversize.clone()).await;
        // The client is slow to read (the shape of the attack): the answer sits queued.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (error, _) = client.recv_until("error").await;
        let code = expect_message!(error.message, ServerMessage::Error { code, .. } => code);
        assert_eq!(code, ErrorCode::MessageTooLarge, "run {run}");
        endings.push(client.ending().await);
    }
    assert_eq!(endings, (0..20).map(|_| Ending::Code(1009)).collect::<Vec<_>>());
}

/// A message sent in 100 fragments costs 100 tokens, one a frame: with a burst of 60 it is
/// answered only after `rate_limited`, once the bucket has refilled.
#[tokio::test]
async fn every_fragment_costs_a_token() {
    let host = default_host().await;
    let (mut client, _) = Client::join_in(&host, "dev-frag", false).await;
    let text = r#"{"type":"ping","timestamp":77}"#.as_bytes();
    let mut pieces: Vec<&[u8]> = vec![&text[..1]];
    pieces.extend(std::iter::repeat_n(&b" "[..], 98));
    pieces.push(&text[1..]);
    for (n, piece) in pieces.iter().enumerate() {
        let opcode = if n == 0 { OpCode::Data(Data::Text) } else { OpCode::Data(Data::Continue) };
        let frame = Frame::message(Bytes::copy_from_slice(piece), opcode, n == pieces.len() - 1);
        client.ws.feed(Message::Frame(frame)).await.unwrap();
    }
    client.ws.flush().await.unwrap();
    let first = expect_message!(client.recv().await.message, ServerMessage::Error { code, .. } => code);
    assert_eq!(first, ErrorCode::RateLimited, "100 frames exceed the burst of 60");
    let (pong, _) = client.recv_until("pong").await;
    let timestamp = expect_message!(pong.message, ServerMessage::Pong { timestamp, .. } => timestamp);
    assert_eq!(timestamp, 77.into(), "the message is answered once its frames are paid");
}

/// A member kicked while its socket is full (it stopped reading) is gone within the close
/// bounds: its address can connect again, though it never read its close.
#[tokio::test]
async fn kicked_member_that_stopped_reading_is_dropped() {
    let limits = Limits {
        outbound_queue: 100_000,
        burst: 100_000,
        per_second: 100_000,
        max_conns_per_addr: 1,
        ..Limits::default()
    };
    let host = start_host(SessionConfig::default(), limits).await;
    let url = ws_url(&host);
    let (mut sender, _) = {
        let mut client = ws_from(Ipv4Addr::new(127, 0, 0, 2), &url, false).await.unwrap();
        client.send(join_msg("dev-s", false)).await;
        let welcome = Welcome::of(client.recv().await);
        (client, welcome)
    };
    let (mut reader, _) = join_from(Ipv4Addr::new(127, 0, 0, 4), &url, "party1", "dev-r").await;
    reader.recv_until("member_list").await;
    let stalled_ip = Ipv4Addr::new(127, 0, 0, 3);
    let mut stalled = ws_from(stalled_ip, &url, true).await.unwrap();
    stalled.send(join_msg("dev-x", true)).await;
    let stalled_id = Welcome::of(stalled.recv().await).client_id;
    // 8 MB of chat: more than loopback's largest send buffer (4 MiB) and the stalled
    // client's 4 KiB receive buffer hold, far less than its queue.
    const N: usize = 8000;
    let line = "y".repeat(1000);
    for n in 0..N {
        sender.send(chat_msg(line.clone())).await;
        if n % 100 == 99 {
            // The reader is fast: what it has, the stalled member's queue has too.
            for _ in 0..100 {
                reader.recv_until("chat").await;
            }
        }
    }
    host.kick(&stalled_id, "bye").await.unwrap();
    let kicked = Instant::now();
    loop {
        match ws_from(stalled_ip, &url, false).await {
            Ok(_) => break,
            Err(tungstenite::Error::Http(response)) if response.status() == 429 => {
                assert!(kicked.elapsed() < WAIT, "the kicked member's connection still holds its slot");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("unexpected {err}"),
        }
    }
    drop(stalled);
}

/// A connection sending ping frames as fast as it can is throttled like any other flood: it
/// gets `rate_limited`, then close 4029, and no more pongs than its tokens allow; another
/// member's pings are answered all the while.
#[tokio::test]
async fn ping_frame_flood_is_rate_limited() {
    // Ping frames are no heartbeat: a long timeout keeps 4012 out of the way of 4029.
    let session = SessionConfig { heartbeat_timeout: 60_000_000, ..SessionConfig::default() };
    let host = start_host(session, Limits::default()).await;
    let limits = Limits::default();
    let (flooder, _) = Client::join(&host, "dev-f", true).await;
    let (mut other, _) = Client::join_in(&host, "dev-o", true).await;
    let started = Instant::now();
    let (mut sink, mut stream) = flooder.ws.split();
    let writer = tokio::spawn(async move {
        for n in 0u64.. {
            if sink.feed(Message::Ping(Bytes::from_static(b"flood"))).await.is_err() {
                break;
            }
            if n % 64 == 63 && sink.flush().await.is_err() {
                break;
            }
        }
    });
    let reader = tokio::spawn(async move {
        let (mut pongs, mut notices) = (0u64, 0u32);
        let code = loop {
            match tokio::time::timeout(Duration::from_secs(20), stream.next()).await {
                Ok(Some(Ok(Message::Pong(_)))) => pongs += 1,
                Ok(Some(Ok(Message::Text(text)))) => notices += u32::from(text.contains("\"rate_limited\"")),
                Ok(Some(Ok(Message::Close(frame)))) => break frame.map(|frame| u16::from(frame.code)),
                Ok(Some(Ok(_))) => {}
                other => panic!("the flooder was not closed: {other:?} after {pongs} pongs, {notices} notices"),
            }
        };
        (pongs, notices, code, started.elapsed())
    });
    let mut answered = 0;
    while !reader.is_finished() {
        other.send(ping_msg(answered)).await;
        let (pong, _) = other.recv_until("pong").await;
        assert_eq!(expect_message!(pong.message, ServerMessage::Pong { timestamp, .. } => timestamp), answered.into());
        answered += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    writer.abort();
    let (pongs, notices, code, elapsed) = reader.await.unwrap();
    assert_eq!(code, Some(4029), "after {notices} rate_limited notices");
    assert!(notices >= 1, "told it was rate limited before the close");
    let allowed = f64::from(limits.burst) + elapsed.as_secs_f64() * f64::from(limits.per_second);
    assert!(pongs as f64 <= allowed, "{pongs} pongs in {elapsed:?}; its tokens allow {allowed:.0}");
    assert!(answered >= 10, "the other member's pings were answered throughout: {answered}");
}

/// The port holds a hall of phones arriving at once: the listening socket's backlog is the
/// kernel's largest (`net.core.somaxconn`, up to 4,096), not the standard library's 128, past
/// which each connection is dropped and waits a SYN retransmit (a second or more) to try again.
/// Read from the kernel with `ss` (iproute2). And the port is still the host's alone: a second
/// listener on it fails.
#[tokio::test]
async fn the_listener_holds_a_hall_of_phones_at_once() {
    let host = default_host().await;
    let port = host.local_addr().port();
    let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap().trim().parse().unwrap();
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .expect("ss (iproute2) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next().unwrap_or_else(|| panic!("ss lists no listener on port {port}: {text:?}"));
    // State, Recv-Q, Send-Q (a listener's backlog), local address, peer.
    let backlog: u32 =
        line.split_whitespace().nth(2).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line:?}"));
    assert_eq!(backlog, somaxconn.min(4096), "the listening socket's backlog: {line:?}");
    let second = std::net::TcpListener::bind(host.local_addr());
    assert_eq!(
        second.map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::AddrInUse),
        "a second listener on the port"
    );
    host.shutdown(None).await;
}
