//! On a LAN, `partyline host` is found by `partyline browse`, which sees the member count change
//! and the party vanish when it ends; `--qr-png` writes a code that decodes to exactly the join
//! URL. mDNS runs only inside a private network namespace that this test makes itself
//! (`unshare -rn`); if it cannot, the test fails, and never touches the real network.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::Value;

const IN_NETNS: &str = "PARTYLINE_NETNS";

/// Re-runs `test_name` inside `unshare -rn` (loopback up, multicast routed) and asserts it
/// passed there. Returns true in the child, where the body runs.
fn in_private_netns(test_name: &str) -> bool {
    if std::env::var(IN_NETNS).is_ok() {
        return true;
    }
    let setup = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && exec \"$@\"";
    let out = Command::new("unshare")
        .args(["--map-root-user", "--net", "--", "bash", "-c", setup, "netns"])
        .arg(std::env::current_exe().unwrap())
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_NETNS, "1")
        .stdin(Stdio::null())
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test_name} inside a private network namespace: {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// Lines of a child's stdout, as JSON, through a channel (so waits can time out).
fn json_lines(stdout: std::process::ChildStdout) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(value) = serde_json::from_str(&line)
                && tx.send(value).is_err()
            {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<Value>, within: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(value) if pred(&value) => return value,
            Ok(value) => seen.push(value),
            Err(_) => break,
        }
    }
    panic!("no {what} within {within:?}; saw {seen:#?}");
}

/// Browse finds the host with its name and count, sees a join as a TXT update, and loses the
/// party within 2 s of it ending; the QR PNG decodes to the join URL.
#[test]
fn browse_sees_host_join_and_goodbye() {
    if !in_private_netns("browse_sees_host_join_and_goodbye") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("partyline-lan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("qr.png");
    let mut host = Command::new(env!("CARGO_BIN_EXE_partyline"))
        .args(["host", "--no-store", "--bind", "127.0.0.1", "--json", "--no-qr", "--name", "LAN Party", "--qr-png"])
        .arg(&png)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let host_lines = json_lines(host.stdout.take().unwrap());
    let info = wait_for(&host_lines, Duration::from_secs(10), "host JSON line", |v| v["sessionId"].is_string());
    assert_eq!(info["advertised"], true, "{info}");

    let decoded = Command::new("zbarimg").args(["--raw", "-q"]).arg(&png).output().expect("zbarimg runs");
    assert_eq!(String::from_utf8_lossy(&decoded.stdout).trim_end(), info["joinUrl"].as_str().unwrap());

    let mut browse = Command::new(env!("CARGO_BIN_EXE_partyline"))
        .args(["browse", "--json", "--timeout", "20"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let found_lines = json_lines(browse.stdout.take().unwrap());
    let session = info["sessionId"].as_str().unwrap().to_string();
    let found = wait_for(&found_lines, Duration::from_secs(5), "found", |v| v["sessionId"] == session.as_str());
    assert_eq!((found["name"].as_str(), found["members"].as_u64()), (Some("LAN Party"), Some(0)));
    assert_eq!(found["port"], info["port"]);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let url = format!("{}?token={}", info["wsUrl"].as_str().unwrap(), info["joinKey"].as_str().unwrap());
    let _member = runtime.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws.send(common::join_msg(&session, "lan-1", "Phone", false)).await.unwrap();
        ws
    });
    wait_for(&found_lines, Duration::from_secs(5), "an update to 1 member", |v| {
        v["sessionId"] == session.as_str() && v["members"] == 1
    });

    writeln!(host.stdin.as_mut().unwrap(), "close").unwrap();
    let closed_at = Instant::now();
    wait_for(&found_lines, Duration::from_secs(2), "lost within 2 s", |v| v["event"] == "lost");
    println!("lost {:?} after close", closed_at.elapsed());
    assert!(host.wait().unwrap().success());
    let _ = browse.kill();
    let _ = browse.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
