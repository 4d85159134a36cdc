//! `partyline host --json` prints the facade's own shapes, the ones the desktop's web view gets:
//! the first line is `partyline_host::HostInfo` serialized (no hand-built JSON), with the facts it
//! shares with `/api/info` under the same names, and each event line is a `HostEvent` serialized
//! (the desktop adds only its `generation`).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use futures_util::{SinkExt, StreamExt};
use partyline_host::{HostEvent, MemberInfo};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// The info line has exactly `HostInfo`'s fields; `/api/info` names the same session the same
/// way; a member's join is one line equal to the facade's `HostEvent::MemberJoined` of it.
#[tokio::test]
async fn json_lines_are_the_facades_info_and_events() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_partyline"))
        .args([
            "host",
            "--no-store",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--json",
            "--no-mdns",
            "--no-qr",
            "--name",
            "Shapes",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("partyline starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));

    let keys: BTreeSet<&str> = info.as_object().expect("an object").keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = [
        "sessionId",
        "name",
        "localAddr",
        "port",
        "httpUrl",
        "wsUrl",
        "endpoints",
        "joinUrl",
        "joinKey",
        "roomCode",
        "addresses",
        "advertised",
        "warnings",
    ]
    .into();
    assert_eq!(keys, want, "expected HostInfo's fields, got {info}");
    let port = info["port"].as_u64().unwrap();
    assert_eq!(info["localAddr"], format!("127.0.0.1:{port}"), "{info}");
    assert_eq!(
        info["endpoints"]["together"],
        format!("ws://127.0.0.1:{port}/together/ws"),
        "each format's URL: {info}"
    );
    let bound = json!([{"interface": "bound", "addr": "127.0.0.1", "joinUrl": info["joinUrl"]}]);
    assert_eq!(info["addresses"], bound, "expected the one bound address, got {info}");

    let api = api_info(port as u16);
    assert_eq!(
        (&api["sessionId"], &api["name"]),
        (&info["sessionId"], &info["name"]),
        "/api/info's sessionId and name against the --json line's"
    );

    let url = format!("{}?token={}", info["wsUrl"].as_str().unwrap(), info["joinKey"].as_str().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let join = json!({"type": "join", "timestamp": 1, "sessionId": info["sessionId"], "protocolVersion": "partyline/1",
        "deviceInfo": {"id": "json-shape", "name": "Sara", "type": "client"}});
    ws.send(Message::text(join.to_string())).await.unwrap();
    let welcome = loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else { panic!("the host closed before welcome") };
        let message: Value = serde_json::from_str(&text).unwrap();
        if message["type"] == "welcome" {
            break message;
        }
    };

    let (line, mut stdout) = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        (line, stdout)
    })
    .await
    .unwrap();
    let joined: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    let mut member = joined.clone();
    member.as_object_mut().unwrap().remove("event");
    let member: MemberInfo = serde_json::from_value(member).unwrap_or_else(|e| panic!("not a member ({e}): {joined}"));
    assert_eq!(member.id, welcome["clientId"].as_str().unwrap(), "the member who joined");
    let facade = serde_json::to_value(HostEvent::MemberJoined(member)).unwrap();
    assert_eq!(joined, facade, "the --json line against the facade's event serialized");

    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "close").unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
}

/// `GET /api/info` on 127.0.0.1:`port`, its JSON body.
fn api_info(port: u16) -> Value {
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(socket, "GET /api/info HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = String::new();
    socket.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP head: {reply:?}"));
    assert!(head.starts_with("HTTP/1.1 200"), "expected 200, got {head}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}
