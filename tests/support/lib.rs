//! Test support: a host on a free loopback port and a real WebSocket client that sends
//! [`ClientMessage`]s and reads [`Received`] server messages, typed: a misspelt field is a
//! compile error, and a message of the wrong type fails the test showing what came instead
//! ([`partyline_protocol::expect_message!`]). Raw text (`send_text`, `recv_json`) is only for
//! tests whose point is a malformed frame or the exact JSON on the wire.
//! Every wait here has a time limit, so a broken server fails a test instead of hanging it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use partyline_protocol::PARTYLINE_V1;
use partyline_protocol::client::{Chat, Heartbeat, Ping, Resume};
use partyline_server::{Limits, Server, ServerConfig, ServerHandle, UploadPolicy};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use partyline_protocol::{ClientMessage, Received, ServerMessage, expect_message};
pub use partyline_session::Config as SessionConfig;

/// How long any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// Starts a host on 127.0.0.1, port 0.
pub async fn start_host(session: SessionConfig, limits: Limits) -> ServerHandle {
    start_host_with_media(session, limits, None).await
}

/// Starts a host on 127.0.0.1, port 0, sharing a media folder.
pub async fn start_host_with_media(
    session: SessionConfig,
    limits: Limits,
    media: Option<std::path::PathBuf>,
) -> ServerHandle {
    start_host_with_uploads(session, limits, media, UploadPolicy::default()).await
}

/// Starts a host on 127.0.0.1, port 0, sharing a media folder and taking guests' uploads as
/// `uploads` says.
pub async fn start_host_with_uploads(
    session: SessionConfig,
    limits: Limits,
    media: Option<std::path::PathBuf>,
    uploads: UploadPolicy,
) -> ServerHandle {
    let session = SessionConfig { session_id: Some("party1".into()), name: "Test Party".into(), ..session };
    let config = ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        join_key: Some("test-key-0123456789abcdef".into()),
        room_code: Some("ABCDE".into()),
        session,
        limits,
        media,
        uploads,
        store: None,
        new_party: false,
    };
    Server::start(config).await.expect("host starts on a free port")
}

/// A host whose rate limit lets a test send as fast as the socket takes it (the default, 30
/// frames a second, would stretch a test of 500 messages to 16 s).
pub async fn fast_host() -> ServerHandle {
    start_host(SessionConfig::default(), Limits { burst: 100_000, per_second: 100_000, ..Limits::default() }).await
}

/// A host with default settings.
pub async fn default_host() -> ServerHandle {
    start_host(SessionConfig::default(), Limits::default()).await
}

/// The WebSocket URL of a host, with the key in the query.
pub fn ws_url(host: &ServerHandle) -> String {
    format!("ws://{}/ws?token={}", host.local_addr(), host.join_key().unwrap_or_default())
}

/// What a `welcome` told its member.
#[derive(Debug, Clone, PartialEq)]
pub struct Welcome {
    /// The member id.
    pub client_id: String,
    /// The secret that resumes the member (partyline/1 only).
    pub resume_secret: Option<String>,
    /// The welcome's `seq` (partyline/1 only).
    pub seq: Option<u64>,
}

impl Welcome {
    /// The welcome a received message is; any other message fails the test.
    pub fn of(received: Received) -> Welcome {
        let seq = received.seq;
        let (client_id, resume_secret) = expect_message!(received.message,
            ServerMessage::Welcome { client_id, resume_secret, .. } => (client_id, resume_secret));
        Welcome { client_id, resume_secret, seq }
    }
}

/// A resume for the member a `welcome` named, from `last_seq`.
pub fn resume_msg(welcome: &Welcome, last_seq: u64) -> ClientMessage {
    ClientMessage::Resume(Resume {
        timestamp: 1.into(),
        session_id: "party1".into(),
        member_id: welcome.client_id.clone(),
        resume_secret: welcome.resume_secret.clone().expect("a partyline/1 welcome has a resume secret"),
        last_seq,
    })
}

/// A join for the device `device` (named "`device` phone"), with partyline/1 when `ext`.
pub fn join_msg(device: &str, ext: bool) -> ClientMessage {
    let mut join =
        ClientMessage::join(1706889600000u64, "party1", device, format!("{device} phone"), ext.then_some(PARTYLINE_V1));
    if let ClientMessage::Join(join) = &mut join {
        join.player = ext.then_some(true); // a phone: it plays
    }
    join
}

/// A chat line.
pub fn chat_msg(text: impl Into<String>) -> ClientMessage {
    ClientMessage::Chat(Chat { timestamp: 1.into(), text: text.into(), room: None })
}

/// A ping with this timestamp (a pong echoes it).
pub fn ping_msg(timestamp: impl Into<serde_json::Number>) -> ClientMessage {
    ClientMessage::Ping(Ping { timestamp: timestamp.into() })
}

/// A heartbeat.
pub fn heartbeat_msg() -> ClientMessage {
    ClientMessage::Heartbeat(Heartbeat { timestamp: 1.into() })
}

/// A WebSocket client.
pub struct Client {
    /// The socket.
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The subprotocol the server chose, if any.
    pub protocol: Option<String>,
}

/// How a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// A close frame with this code.
    Code(u16),
    /// The socket closed without a close frame.
    Dropped,
}

impl Client {
    /// Connects with a ready request (URL plus any headers).
    pub async fn connect_request(
        request: tungstenite::handshake::client::Request,
    ) -> Result<Client, tungstenite::Error> {
        let (ws, response) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("connect within the time limit")?;
        let protocol = response.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap().to_string());
        Ok(Client { ws, protocol })
    }

    /// Connects with a 4 KiB receive buffer, so that a client that stops reading fills its
    /// socket quickly (loopback's default lets a reader sit on 32 MiB unread).
    pub async fn connect_small_buffer(url: &str) -> Client {
        let request = url.into_client_request().unwrap();
        let authority = request.uri().authority().unwrap().as_str().to_string();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(authority.parse().unwrap()).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream)).await.unwrap();
        Client { ws, protocol: None }
    }

    /// Connects to a URL.
    pub async fn connect(url: &str) -> Client {
        Client::connect_request(url.into_client_request().unwrap()).await.expect("WebSocket connects")
    }

    /// Connects to a host with its key and joins; returns the client and its welcome.
    pub async fn join(host: &ServerHandle, device: &str, ext: bool) -> (Client, Welcome) {
        let mut client = Client::connect(&ws_url(host)).await;
        client.send(join_msg(device, ext)).await;
        let welcome = Welcome::of(client.recv().await);
        (client, welcome)
    }

    /// Joins like [`Client::join`] and reads through the welcome bundle (to `member_list` for a
    /// 1.0 member, to `syncplay.state` for a partyline/1 one), so that the next message is news.
    pub async fn join_in(host: &ServerHandle, device: &str, ext: bool) -> (Client, Welcome) {
        let (mut client, welcome) = Client::join(host, device, ext).await;
        client.recv_until(if ext { "syncplay.state" } else { "member_list" }).await;
        (client, welcome)
    }

    /// Sends a message.
    pub async fn send(&mut self, message: ClientMessage) {
        self.send_text(&message.to_text()).await;
    }

    /// Sends raw text: for a malformed or hostile frame, or one the types cannot write.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next text frame (ping and pong frames skipped).
    pub async fn recv_text(&mut self) -> String {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next()).await.expect("a message within the time limit");
            match frame {
                Some(Ok(Message::Text(text))) => return text.as_str().to_string(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// The next message, as JSON: for tests of the exact fields on the wire.
    pub async fn recv_json(&mut self) -> Value {
        let text = self.recv_text().await;
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("expected JSON, got {text:?}: {err}"))
    }

    /// Messages until one of type `kind` arrives, as JSON: for tests of the exact fields on the wire.
    pub async fn recv_json_until(&mut self, kind: &str) -> Value {
        loop {
            let message = self.recv_json().await;
            if message["type"] == kind {
                return message;
            }
        }
    }

    /// Messages until `pick` takes one, as JSON (another format's frames, or the exact fields on
    /// the wire); the test fails, naming `what` and what came instead, after twice [`WAIT`].
    pub async fn recv_json_where(&mut self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT * 2;
        loop {
            let next = tokio::time::timeout_at(deadline, self.recv_json()).await;
            let message = next.unwrap_or_else(|_| panic!("expected {what}; got only {seen:?}"));
            if pick(&message) {
                return message;
            }
            seen.push(message);
        }
    }

    /// What a LOUDSYNC 1.0 client was sent since it last read: the types of every message before
    /// the answer to a ping it sends now. Fails if any is not a LOUDSYNC 1.0 message.
    pub async fn loudsync_news(&mut self) -> Vec<String> {
        self.send(ping_msg(9)).await;
        let mut kinds = Vec::new();
        loop {
            let message = self.recv_json().await;
            if message["type"] == "pong" {
                break;
            }
            kinds.push(message["type"].as_str().unwrap().to_string());
        }
        let loudsync = ["member_joined", "member_left", "member_list"];
        assert!(kinds.iter().all(|kind| loudsync.contains(&kind.as_str())), "only LOUDSYNC 1.0 messages: {kinds:?}");
        kinds
    }

    /// Sends a JSON value as a text frame: another format's frame (Together, Pavilion, seed
    /// 001, Revenge), which is no partyline/1 `ClientMessage`.
    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    /// The next message; one that is not a server message fails the test.
    pub async fn recv(&mut self) -> Received {
        let text = self.recv_text().await;
        Received::decode(&text).unwrap_or_else(|err| panic!("expected a server message, got {text}: {err}"))
    }

    /// Messages until one of type `kind` arrives; returns it and those skipped before it.
    pub async fn recv_until(&mut self, kind: &str) -> (Received, Vec<Received>) {
        let mut skipped = Vec::new();
        loop {
            let received = self.recv().await;
            if received.kind() == kind {
                return (received, skipped);
            }
            skipped.push(received);
        }
    }

    /// Reads until the connection ends and says how.
    pub async fn ending(&mut self) -> Ending {
        loop {
            let frame =
                tokio::time::timeout(WAIT, self.ws.next()).await.expect("connection ends within the time limit");
            match frame {
                Some(Ok(Message::Close(Some(frame)))) => return Ending::Code(u16::from(frame.code)),
                Some(Ok(Message::Close(None))) => return Ending::Code(u16::from(CloseCode::Status)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Ending::Dropped,
            }
        }
    }

    /// Adds a header to a request.
    pub fn with_header(
        mut request: tungstenite::handshake::client::Request,
        name: &'static str,
        value: &str,
    ) -> tungstenite::handshake::client::Request {
        request.headers_mut().insert(name, HeaderValue::from_str(value).unwrap());
        request
    }
}

/// Runs curl (HTTP only, loopback) and returns (status, body bytes).
pub async fn curl(args: &[&str]) -> (u16, Vec<u8>) {
    let output = tokio::process::Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .await
        .expect("curl runs");
    let split = output.stdout.iter().rposition(|b| *b == b'\n').expect("status line");
    let status = String::from_utf8_lossy(&output.stdout[split + 1..]).parse().expect("status code");
    (status, output.stdout[..split].to_vec())
}

/// A one-second WAV (8 kHz, 8-bit mono), its samples not all alike: a song the upload store
/// takes (its length readable, its bytes sniffed as audio).
pub fn wav() -> Vec<u8> {
    let n = 8000u32;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + n).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&8000u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&8u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&n.to_le_bytes());
    b.extend((0..n).map(|i| (i % 251) as u8));
    b
}

/// A JPEG's first bytes (SOI, APP0 JFIF) and some more: a photo the upload store takes.
pub fn jpeg() -> Vec<u8> {
    let mut b = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00".to_vec();
    b.extend((0..2000u32).map(|i| (i % 7) as u8));
    b.extend_from_slice(b"\xff\xd9");
    b
}
