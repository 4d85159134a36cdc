//! What the CLI's test files share: `partyline host` with its streams piped, and a member that
//! sends typed client messages and reads typed server messages. Each test file uses some of it.
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use partyline_protocol::{ClientMessage, PARTYLINE_V1, Received};
use tokio_tungstenite::tungstenite::Message;

/// A member's WebSocket.
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `partyline host ARGS`, stdin, stdout and stderr piped, ready to spawn.
pub fn host(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_partyline"));
    command.args(["host", "--no-store"]).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// A join for device `id` named `name`, with partyline/1 when `ext`.
pub fn join_msg(session_id: &str, id: &str, name: &str, ext: bool) -> Message {
    frame(&ClientMessage::join(1, session_id, id, name, ext.then_some(PARTYLINE_V1)))
}

/// A client message as a text frame.
pub fn frame(message: &ClientMessage) -> Message {
    Message::text(message.to_text())
}

/// The next server message (pings skipped); anything else, or nothing within 5 s, fails the
/// test.
pub async fn next_message(ws: &mut Ws) -> Received {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a message in time");
        match frame {
            Some(Ok(Message::Text(text))) => {
                return Received::decode(text.as_str())
                    .unwrap_or_else(|err| panic!("expected a server message, got {text}: {err}"));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected text, got {other:?}"),
        }
    }
}
