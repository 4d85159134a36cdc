//! `partyline host` is usable by a script and by a person: `--json` prints one line with what a
//! client needs, a client joins with it, and Ctrl-C ends the party cleanly (session_closed to
//! every member) before the process exits 0. A bad flag gets a clear error and a failure code.
//! What guests choose (names, chat, presence words) reaches the host's terminal with its control
//! characters shown escaped, never obeyed, while `--json` lines keep it exactly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{frame, join_msg, next_message};
use futures_util::{SinkExt, StreamExt};
use partyline_protocol::client::{Chat, Presence};
use partyline_protocol::{ClientMessage, ErrorCode, PresenceStatus, ServerMessage, expect_message};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Starts the host, joins over its wsUrl with its key, sends SIGINT: the member gets
/// session_closed and close 4011, and the process exits successfully.
#[tokio::test]
async fn host_json_join_and_ctrl_c() {
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
            "--name",
            "CLI Party",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("partyline starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    for field in ["sessionId", "name", "httpUrl", "wsUrl", "joinKey", "joinUrl", "roomCode"] {
        assert!(info[field].is_string(), "--json line lacks {field}: {info}");
    }
    assert_eq!(info["name"], "CLI Party");
    let key = info["joinKey"].as_str().unwrap();
    assert!(info["joinUrl"].as_str().unwrap().ends_with(&format!("#k={key}")), "key in the fragment: {info}");

    let url = format!("{}?token={key}", info["wsUrl"].as_str().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(join_msg(info["sessionId"].as_str().unwrap(), "cli-test", "Tester", false)).await.unwrap();
    expect_message!(next_message(&mut ws).await.message, ServerMessage::Welcome { .. } => ());

    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    while next_message(&mut ws).await.kind() != "session_closed" {}
    let close = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap();
    match close {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 4011),
        other => panic!("expected close 4011, got {other:?}"),
    }
    let exit = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(exit.status.success(), "exit {:?}; stderr: {}", exit.status, String::from_utf8_lossy(&exit.stderr));
    let stderr = String::from_utf8_lossy(&exit.stderr);
    assert!(stderr.contains("Party ended."), "human output on stderr: {stderr}");
}

/// Typed commands act on the party (`kick`, with a reason), events come out as JSON lines,
/// and a bad command is answered without ending the party.
#[tokio::test]
async fn stdin_commands_and_event_lines() {
    use std::io::Write;
    let mut child = common::host(&["--bind", "127.0.0.1", "--json", "--no-mdns"]).spawn().expect("partyline starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let info: Value = serde_json::from_str(&line).unwrap();
    let url = format!("{}?token={}", info["wsUrl"].as_str().unwrap(), info["joinKey"].as_str().unwrap());
    let mut request = url.into_client_request().unwrap();
    let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    request.headers_mut().insert("user-agent", iphone.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.send(join_msg(info["sessionId"].as_str().unwrap(), "cli-kick", "Kickee", false)).await.unwrap();
    let id =
        expect_message!(next_message(&mut ws).await.message, ServerMessage::Welcome { client_id, .. } => client_id);

    let event = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        (line, stdout)
    });
    let (line, stdout) = event.await.unwrap();
    let event: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
    assert_eq!(
        (event["event"].as_str(), event["id"].as_str(), event["name"].as_str()),
        (Some("member_joined"), Some(id.as_str()), Some("Kickee"))
    );
    assert_eq!(event["device"], "iPhone", "the device, from the User-Agent: {event}");

    writeln!(stdin, "members").unwrap();
    writeln!(stdin, "dance").unwrap();
    writeln!(stdin, "volume nobody 40").unwrap();
    writeln!(stdin, "volume {id} 40%").unwrap();
    writeln!(stdin, "rate 3").unwrap();
    writeln!(stdin, "kick {id} too loud").unwrap();
    let kicked = loop {
        let received = next_message(&mut ws).await;
        if received.kind() != "member_list" {
            break received.message;
        }
    };
    assert_eq!(expect_message!(kicked, ServerMessage::Kicked { reason, .. } => reason), "too loud");
    writeln!(stdin, "close").unwrap();
    let last = tokio::task::spawn_blocking(move || {
        let mut stdout = stdout;
        let mut last = String::new();
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap() > 0 {
            last = std::mem::take(&mut line);
        }
        last
    })
    .await
    .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&last).unwrap()["event"], "closed", "the last event line: {last}");
    let exit = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(exit.status.success());
    let stderr = String::from_utf8_lossy(&exit.stderr);
    assert!(stderr.contains("unknown command \"dance\""), "bad command answered: {stderr}");
    assert!(stderr.contains("kicked Kickee"), "{stderr}");
    assert!(stderr.contains("no member with id nobody"), "volume for an unknown member: {stderr}");
    assert!(stderr.contains("rate must be between 0.5 and 2"), "the host's check of a rate: {stderr}");
    assert!(stderr.contains("Kickee joined from an app that cannot be controlled from here"), "{stderr}");
    assert!(stderr.contains(&format!("{id}  Kickee (Connected, iPhone")), "members shows the device: {stderr}");
}

/// A guest named to forge a line ("Bob", CR, erase-line, "- Alice left (Kicked)", an OSC window
/// title) is refused at the door (a name may hold no control character); joined as "Bob" and
/// chatting in escape sequences it cannot reach the host's terminal: its human output holds no
/// ESC, CR or BEL, no line that starts as the forged one, and shows the chat escaped; the JSON
/// event lines carry the exact text.
#[tokio::test]
async fn guest_text_cannot_forge_the_host_terminal() {
    use std::io::{Read, Write};
    let mut child =
        common::host(&["--bind", "127.0.0.1", "--json", "--no-mdns", "--no-qr"]).spawn().expect("partyline starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let human = std::thread::spawn(move || {
        let mut all = Vec::new();
        stderr.read_to_end(&mut all).unwrap();
        String::from_utf8(all).unwrap()
    });
    let events = lines_of(child.stdout.take().unwrap());
    let info = wait_line(&events, "the host's info line", |v| v["wsUrl"].is_string());

    let name = "Bob\r\x1b[2K- Alice left (Kicked)\x1b]0;pwned\x07";
    let chat = "\x1b[31mred\x1b[0m\r- Carol left (Kicked)\x1b]0;chat\x07\u{202e}desrever";
    let away = "\x1b[8mhidden\x08";
    let url = format!("{}?token={}", info["wsUrl"].as_str().unwrap(), info["joinKey"].as_str().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(join_msg(info["sessionId"].as_str().unwrap(), "cli-forger", name, true)).await.unwrap();
    expect_message!(next_message(&mut ws).await.message, ServerMessage::Error { code: ErrorCode::InvalidMessage, .. } => ());
    let name = "Bob";
    ws.send(join_msg(info["sessionId"].as_str().unwrap(), "cli-forger", name, true)).await.unwrap();
    expect_message!(next_message(&mut ws).await.message, ServerMessage::Welcome { .. } => ());
    ws.send(frame(&ClientMessage::Chat(Chat { timestamp: 2.into(), text: chat.into(), room: None }))).await.unwrap();
    let presence = Presence { timestamp: 3.into(), status: PresenceStatus::Away, text: Some(away.into()) };
    ws.send(frame(&ClientMessage::Presence(presence))).await.unwrap();

    let joined = wait_line(&events, "the forger's join", |v| v["event"] == "member_joined");
    assert_eq!(joined["name"].as_str(), Some(name), "the JSON line keeps the name exactly: {joined}");
    let said = wait_line(&events, "the forger's chat", |v| v["event"] == "chat");
    assert_eq!(said["text"].as_str(), Some(chat), "the JSON line keeps the chat exactly: {said}");
    wait_line(&events, "the forger's presence", |v| v["event"] == "presence");
    writeln!(stdin, "members").unwrap();
    writeln!(stdin, "close").unwrap();
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(exit.success(), "exit {exit:?}");
    let human = human.join().unwrap();

    for (c, what) in [('\x1b', "ESC"), ('\r', "CR"), ('\x07', "BEL"), ('\x08', "BS"), ('\u{202e}', "RLO")] {
        assert!(!human.contains(c), "expected no {what} in the host's output, got {human:?}");
    }
    let forged: Vec<&str> =
        human.lines().filter(|line| line.starts_with("- Alice") || line.starts_with("- Carol")).collect();
    assert!(forged.is_empty(), "expected no forged line, got {forged:?} in {human:?}");
    assert!(human.contains("+ Bob joined"), "expected the guest's join, got {human:?}");
    assert!(
        human.contains(r"\x1b[31mred\x1b[0m\r- Carol left (Kicked)\x1b]0;chat\x07\u{202e}desrever"),
        "expected the chat shown escaped, got {human:?}"
    );
    assert!(human.contains(r"is Away: \x1b[8mhidden\x08"), "expected the presence shown escaped, got {human:?}");
}

/// The same forged chat reaches a `partyline join` terminal shown escaped (the forged name is
/// refused at the door): its output (stdout, without --json) holds no ESC, CR or BEL and no line
/// that starts as the forged one.
#[tokio::test]
async fn guest_text_cannot_forge_a_member_terminal() {
    use std::io::Read;
    let mut host = Command::new(env!("CARGO_BIN_EXE_partyline"))
        .args(["host", "--no-store", "--bind", "127.0.0.1", "--json", "--no-mdns", "--no-qr"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("partyline host starts");
    let host_in = host.stdin.take().unwrap();
    let events = lines_of(host.stdout.take().unwrap());
    let info = wait_line(&events, "the host's info line", |v| v["joinUrl"].is_string());
    let mut tess = Command::new(env!("CARGO_BIN_EXE_partyline"))
        .args(["join", info["joinUrl"].as_str().unwrap(), "--name", "Tess"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("partyline join starts");
    let tess_in = tess.stdin.take().unwrap();
    let mut tess_out = tess.stdout.take().unwrap();
    // Tess's screen, read as it comes, so the test can wait for the chat to be on it.
    let (screen_tx, screen_rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = tess_out.read(&mut chunk) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&chunk[..n]);
            let _ = screen_tx.send(String::from_utf8_lossy(&all).into_owned());
        }
        String::from_utf8(all).unwrap()
    });
    wait_line(&events, "Tess joined", |v| v["event"] == "member_joined" && v["name"] == "Tess");

    let name = "Bob\r\x1b[2K- Alice left (Kicked)\x1b]0;pwned\x07";
    let url = format!("{}?token={}", info["wsUrl"].as_str().unwrap(), info["joinKey"].as_str().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(join_msg(info["sessionId"].as_str().unwrap(), "cli-forger-2", name, true)).await.unwrap();
    expect_message!(next_message(&mut ws).await.message, ServerMessage::Error { code: ErrorCode::InvalidMessage, .. } => ());
    ws.send(join_msg(info["sessionId"].as_str().unwrap(), "cli-forger-2", "Bob", true)).await.unwrap();
    expect_message!(next_message(&mut ws).await.message, ServerMessage::Welcome { .. } => ());
    let chat = "\x1b[31mred\x1b[0m\r- Carol left (Kicked)\x07";
    ws.send(frame(&ClientMessage::Chat(Chat { timestamp: 2.into(), text: chat.into(), room: None }))).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut screen = String::new();
    while !screen.contains("Carol") {
        let left =
            deadline.checked_duration_since(std::time::Instant::now()).expect("the chat on Tess's screen in 10 s");
        screen = screen_rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("expected the chat on Tess's screen, got {screen:?}"));
    }
    drop(tess_in); // end of input: Tess leaves
    assert!(tess.wait().unwrap().success(), "Tess leaves cleanly");
    let screen = reader.join().unwrap();
    drop(host_in); // the host reads no more commands; end it
    let _ = host.kill();
    let _ = host.wait();

    for (c, what) in [('\x1b', "ESC"), ('\r', "CR"), ('\x07', "BEL")] {
        assert!(!screen.contains(c), "expected no {what} on Tess's screen, got {screen:?}");
    }
    let forged: Vec<&str> =
        screen.lines().filter(|line| line.starts_with("- Alice") || line.starts_with("- Carol")).collect();
    assert!(forged.is_empty(), "expected no forged line, got {forged:?} in {screen:?}");
    assert!(screen.contains("+ Bob joined"), "expected the guest's join on Tess's screen, got {screen:?}");
    assert!(screen.contains(r"\x1b[31mred\x1b[0m\r- Carol left (Kicked)\x07"), "expected the chat escaped: {screen:?}");
}

/// A port that is taken is an error that names the address, and a failure exit code.
#[test]
fn taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_partyline"))
        .args(["host", "--no-store", "--bind", "127.0.0.1", "--no-mdns", "--port", &port])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")), "stderr: {stderr}");
}

/// An out-of-range capacity is refused by the argument parser with a message.
#[test]
fn bad_capacity_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_partyline")).args(["host", "--max-members", "0"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--max-members"));
}

/// `--no-uploads` and `--upload-max-mb` reach the phone: `/api/info` says uploads are off and
/// the limit in bytes; without the flags they are on at 50 MiB.
#[test]
fn upload_flags_reach_api_info() {
    for (flags, expected) in [
        (&["--no-uploads", "--upload-max-mb", "3", "--upload-total-mb", "10"][..], (false, 3 * 1024 * 1024)),
        (&[][..], (true, 50 * 1024 * 1024)),
    ] {
        let mut args = vec!["--bind", "127.0.0.1", "--port", "0", "--json", "--no-mdns", "--no-qr"];
        args.extend_from_slice(flags);
        let mut child = common::host(&args).spawn().expect("partyline starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        let url = format!("{}/api/info", info["httpUrl"].as_str().unwrap().trim_end_matches('/'));
        let out = Command::new("curl").args(["-s", &url]).output().unwrap();
        let api: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
        let uploads = &api["uploads"];
        assert_eq!(
            (uploads["allowed"].as_bool(), uploads["max_file_bytes"].as_u64()),
            (Some(expected.0), Some(expected.1)),
            "with {flags:?}: {api}"
        );
        // Ctrl-C, so that the host removes its uploads folder as it ends.
        let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
        assert!(child.wait().unwrap().success(), "the host ends cleanly");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_partyline")).args(["host", "--upload-max-mb", "0"]).output().unwrap();
    assert!(!output.status.success(), "a zero limit is refused");
    assert!(String::from_utf8_lossy(&output.stderr).contains("--upload-max-mb"));
}

/// JSON lines from a child's stdout, through a channel so a wait can time out.
fn lines_of(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<Value> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str(&line)
                && tx.send(value).is_err()
            {
                break;
            }
        }
    });
    rx
}

fn wait_line(rx: &std::sync::mpsc::Receiver<Value>, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(v) if pred(&v) => return v,
            Ok(v) => seen.push(v),
            Err(_) => break,
        }
    }
    panic!("expected {what}, got only {seen:?}")
}

/// `partyline join` is a member from a terminal: with the join URL it joins and lists who is
/// there, a typed line is chat the host sees, and a kick ends it with exit status 3 and says so;
/// with `host:port` and the room code it joins too; a wrong code is a clear error, exit 1.
#[test]
fn join_from_the_terminal_chats_and_is_kicked() {
    use std::io::Write;
    let mut host = Command::new(env!("CARGO_BIN_EXE_partyline"))
        .args(["host", "--no-store", "--bind", "127.0.0.1", "--json", "--no-mdns", "--no-qr", "--name", "Rooftop"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("partyline host starts");
    let mut host_in = host.stdin.take().unwrap();
    let host_out = lines_of(host.stdout.take().unwrap());
    let info = wait_line(&host_out, "the host's info line", |v| v["joinUrl"].is_string());

    let mut join = Command::new(env!("CARGO_BIN_EXE_partyline"))
        .args(["join", info["joinUrl"].as_str().unwrap(), "--name", "Tess", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("partyline join starts");
    let mut join_in = join.stdin.take().unwrap();
    let join_out = lines_of(join.stdout.take().unwrap());
    // `join --json` prints the host's frames: read them as server messages.
    let list = typed(wait_line(&join_out, "Tess's member_list", |v| v["type"] == "member_list"));
    let members = expect_message!(list.message, ServerMessage::MemberList { members, .. } => members);
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert!(names.contains(&"Tess") && names.len() == 2, "{members:?}");
    let joined = wait_line(&host_out, "Tess joined, on the host", |v| v["event"] == "member_joined");
    assert_eq!(joined["name"], "Tess", "{joined}");

    writeln!(join_in, "hello from the terminal").unwrap();
    let chat = wait_line(&host_out, "Tess's chat, on the host", |v| v["event"] == "chat");
    assert_eq!((chat["name"].as_str(), chat["text"].as_str()), (Some("Tess"), Some("hello from the terminal")));

    // The room-code route, then a wrong code.
    let port = info["port"].as_u64().unwrap();
    let code = info["roomCode"].as_str().unwrap().to_lowercase();
    let mut uma = Command::new(env!("CARGO_BIN_EXE_partyline"))
        .args(["join", &format!("127.0.0.1:{port}"), "--code", &code, "--name", "Uma"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut uma_in = uma.stdin.take().unwrap();
    writeln!(uma_in, "/dm tess psst, over here").unwrap(); // read once Uma is in
    let joined = wait_line(&host_out, "Uma joined with the room code", |v| v["event"] == "member_joined");
    assert_eq!(joined["name"], "Uma");
    let direct = typed(wait_line(&join_out, "Uma's direct message to Tess", |v| v["type"] == "direct"));
    let (from, payload) =
        expect_message!(direct.message, ServerMessage::Direct { from, payload, .. } => (from, payload));
    assert_eq!((Some(from.as_str()), &payload["text"]), (joined["id"].as_str(), &serde_json::json!("psst, over here")));
    writeln!(host_in, "notify Pizza is here").unwrap();
    let note = typed(wait_line(&join_out, "the host's notification", |v| v["type"] == "notification"));
    assert_eq!(expect_message!(note.message, ServerMessage::Notification { title, .. } => title), "Pizza is here");
    drop(uma_in); // end of input: Uma leaves
    let uma = uma.wait_with_output().unwrap();
    assert!(uma.status.success(), "leaving on end of input exits 0: {:?}", uma.status);
    assert!(String::from_utf8_lossy(&uma.stdout).contains("Joined \"Rooftop\" as Uma"));
    let wrong = Command::new(env!("CARGO_BIN_EXE_partyline"))
        .args(["join", &format!("127.0.0.1:{port}"), "--code", "ZZZZZ"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("That room code is not this party's"));

    let tess = members.iter().find(|m| m.name == "Tess").expect("Tess in the list");
    writeln!(host_in, "kick {} enough", tess.id).unwrap();
    let out = join.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "a kick exits 3");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("The host removed you: enough"), "{said}");
    assert!(said.contains("[Uma → you] psst, over here") && said.contains("** Pizza is here **"), "{said}");
    writeln!(host_in, "close").unwrap();
    let _ = host.wait();
}

/// A line of `partyline join --json`, a frame from the host, as a server message.
fn typed(line: Value) -> partyline_protocol::Received {
    serde_json::from_value(line.clone()).unwrap_or_else(|err| panic!("expected a server message, got {line}: {err}"))
}
