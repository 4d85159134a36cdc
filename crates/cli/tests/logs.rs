//! What a host logs is safe to paste into a bug report: even at `RUST_LOG=trace`, no resume
//! secret, join key or private message appears in its log.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::Command;

use common::{frame, join_msg, next_message};
use futures_util::{SinkExt, StreamExt};
use partyline_protocol::client::Chat;
use partyline_protocol::{ClientMessage, ServerMessage};
use serde_json::Value;

/// A partyline/1 member joins a host running at `RUST_LOG=trace`: its resume secret and the
/// join key are nowhere in the host's stderr.
#[tokio::test]
async fn trace_logs_hold_no_secrets() {
    let mut child = common::host(&["--bind", "127.0.0.1", "--json", "--no-mdns", "--no-qr"])
        .env("RUST_LOG", "trace")
        .spawn()
        .expect("partyline starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let key = info["joinKey"].as_str().unwrap().to_string();
    let url = format!("{}?token={key}", info["wsUrl"].as_str().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(join_msg(info["sessionId"].as_str().unwrap(), "log-test", "Tester", true)).await.unwrap();
    let secret = loop {
        if let ServerMessage::Welcome { resume_secret, .. } = next_message(&mut ws).await.message {
            break resume_secret.expect("a partyline/1 welcome has a resume secret");
        }
    };
    ws.send(frame(&ClientMessage::Chat(Chat { timestamp: 2.into(), text: "psst".into(), room: None }))).await.unwrap();
    let _ = ws.next().await;
    drop(child.stdin.take()); // stdin closed: the host ends the party
    let _ = ws.close(None).await;
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let _ = child.wait();
    // The log lines, not the host's own output (with --json its human text, which shows the
    // join URL on purpose, also goes to stderr).
    let log: Vec<&str> = stderr
        .lines()
        .filter(|line| ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].iter().any(|level| line.contains(level)))
        .collect();
    assert!(log.len() > 5, "trace logging is on: {} log lines", log.len());
    for (what, secret) in [("resume secret", &secret), ("join key", &key)] {
        let leaks: Vec<&&str> = log.iter().filter(|line| line.contains(secret.as_str())).collect();
        assert!(leaks.is_empty(), "the {what} is in the log: {leaks:#?}");
    }
}
