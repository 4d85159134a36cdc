//! What a host logs is safe to paste into a bug report: even at `RUST_LOG=trace`, no resume
//! secret, join key or private message appears in its log.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A partyline/1 member joins a host running at `RUST_LOG=trace`: its resume secret and the
/// join key are nowhere in the host's stderr.
#[tokio::test]
async fn trace_logs_hold_no_secrets() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_partyline"))
        .args(["host", "--bind", "127.0.0.1", "--json", "--no-mdns", "--no-qr"])
        .env("RUST_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("partyline starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let key = info["joinKey"].as_str().unwrap().to_string();
    let url = format!("{}?token={key}", info["wsUrl"].as_str().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let join = json!({"type": "join", "timestamp": 1, "sessionId": info["sessionId"], "protocolVersion": "partyline/1",
        "deviceInfo": {"id": "log-test", "name": "Tester", "type": "client"}});
    ws.send(Message::text(join.to_string())).await.unwrap();
    let secret = loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else { panic!("no welcome") };
        let message: Value = serde_json::from_str(&text).unwrap();
        if message["type"] == "welcome" {
            break message["resumeSecret"].as_str().unwrap().to_string();
        }
    };
    ws.send(Message::text(json!({"type": "chat", "timestamp": 2, "text": "psst"}).to_string())).await.unwrap();
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
