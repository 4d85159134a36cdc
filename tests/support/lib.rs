//! Test support: a host on a free loopback port and a real WebSocket client that speaks JSON.
//! Every wait here has a time limit, so a broken server fails a test instead of hanging it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use partyline_server::{Limits, Server, ServerConfig, ServerHandle};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

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
    let session = SessionConfig { session_id: Some("party1".into()), name: "Test Party".into(), ..session };
    let config = ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        join_key: Some("test-key-0123456789abcdef".into()),
        room_code: Some("ABCDE".into()),
        session,
        limits,
        media,
    };
    Server::start(config).await.expect("host starts on a free port")
}

/// A host with default settings.
pub async fn default_host() -> ServerHandle {
    start_host(SessionConfig::default(), Limits::default()).await
}

/// The WebSocket URL of a host, with the key in the query.
pub fn ws_url(host: &ServerHandle) -> String {
    format!("ws://{}/ws?token={}", host.local_addr(), host.join_key().unwrap_or_default())
}

/// A resume for the member a `welcome` named, from `last_seq`.
pub fn resume_msg(welcome: &Value, last_seq: &Value) -> Value {
    json!({"type": "resume", "timestamp": 1, "sessionId": "party1", "memberId": welcome["clientId"],
        "resumeSecret": welcome["resumeSecret"], "lastSeq": last_seq})
}

/// A join message.
pub fn join_msg(device: &str, ext: bool) -> Value {
    let mut join = json!({
        "type": "join", "timestamp": 1706889600000u64, "sessionId": "party1",
        "deviceInfo": {"id": device, "name": format!("{device} phone"), "type": "client"}
    });
    if ext {
        join["protocolVersion"] = json!("partyline/1");
    }
    join
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
    pub async fn join(host: &ServerHandle, device: &str, ext: bool) -> (Client, Value) {
        let mut client = Client::connect(&ws_url(host)).await;
        client.send(join_msg(device, ext)).await;
        let welcome = client.recv().await;
        assert_eq!(welcome["type"], "welcome", "expected welcome, got {welcome}");
        (client, welcome)
    }

    /// Sends a JSON value as a text frame.
    pub async fn send(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next JSON message (ping and pong frames skipped).
    pub async fn recv(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next()).await.expect("a message within the time limit");
            match frame {
                Some(Ok(Message::Text(text))) => return serde_json::from_str(text.as_str()).expect("JSON"),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// Messages until one of type `kind` arrives; returns it and those skipped before it.
    pub async fn recv_until(&mut self, kind: &str) -> (Value, Vec<Value>) {
        let mut skipped = Vec::new();
        loop {
            let message = self.recv().await;
            if message["type"] == kind {
                return (message, skipped);
            }
            skipped.push(message);
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
