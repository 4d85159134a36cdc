//! The party survives its host being killed: nothing a member was told is acknowledged (`ack`)
//! is lost or said twice, and every member comes back as itself. The real `partyline host`
//! binary with a party file on 127.0.0.1, twenty partyline/1 members chatting with `cid`s,
//! SIGKILL in the middle of the chat, the same binary started again on the same file: the same
//! port and key take the members' resumes (their old secrets), each resends what was not
//! acked, and every member counts every acked line once, whether it came live, or in the
//! `chat.history` of its fresh welcome. A ban and the key survive too; `--new-party` ends the
//! party for good.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use partyline_protocol::client::Resume;
use partyline_protocol::{ClientMessage, ErrorCode, PARTYLINE_V1, Received, ServerMessage};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio_tungstenite::tungstenite::Message;

/// Members chatting: the twenty phones.
const MEMBERS: usize = 20;

/// Lines each member says, one every [`PACE`]: the host is killed a third of the way in. Twenty
/// times five is the hundred lines a fresh joiner's `chat.history` holds, so a last member can
/// check what the restarted host kept.
const LINES: usize = 5;

/// Between one member's lines: ten a second, under the rate limit of 30, so the chat lasts
/// half a second and the kill lands inside it.
const PACE: Duration = Duration::from_millis(100);

/// How long the whole exchange may take before a member gives up and the counts tell why.
const DEADLINE: Duration = Duration::from_secs(60);

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The partyline binary built for this tree.
fn partyline_bin() -> std::path::PathBuf {
    let bin = std::env::var_os("PARTYLINE_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug/partyline"));
    assert!(bin.exists(), "{} is missing: build it with `cargo build -p partyline-cli`", bin.display());
    bin
}

/// A running `partyline host --json` on a party file.
struct HostProcess {
    child: Child,
    stdin: ChildStdin,
    info: Value,
}

impl HostProcess {
    /// Starts the host on `file` (127.0.0.1, port 0, mDNS off) and reads its first line.
    async fn start(file: &Path, extra: &[&str]) -> HostProcess {
        let mut child = tokio::process::Command::new(partyline_bin())
            .args(["host", "--party-file"])
            .arg(file)
            .args(["--bind", "127.0.0.1", "--port", "0", "--no-mdns", "--json", "--no-qr"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("partyline host starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), stdout.next_line()).await;
        let line = line.expect("the host prints its line in time").unwrap().expect("a first line");
        let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        // Event lines are read and dropped, so the host never waits on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                eprintln!("host: {line}");
            }
        });
        let stdin = child.stdin.take().unwrap();
        HostProcess { child, stdin, info }
    }

    fn text(&self, field: &str) -> String {
        self.info[field].as_str().unwrap_or_else(|| panic!("no {field} in {}", self.info)).to_string()
    }

    fn ws_url(&self) -> String {
        format!("{}?token={}", self.text("wsUrl"), self.text("joinKey"))
    }

    async fn command(&mut self, line: &str) {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// SIGKILL, and wait for the process to be gone.
    async fn kill(mut self) {
        self.child.kill().await.expect("the host is killed");
    }
}

fn join(session: &str, device: &str) -> Message {
    Message::text(ClientMessage::join(1, session, device, format!("{device} phone"), Some(PARTYLINE_V1)).to_text())
}

/// The next server message within 5 s; `None` when the connection ends (or nothing comes).
async fn next(ws: &mut Ws) -> Option<Received> {
    tokio::time::timeout(Duration::from_secs(5), recv(ws)).await.ok()?
}

/// The next server message, however long it takes; `None` when the connection ends.
async fn recv(ws: &mut Ws) -> Option<Received> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(text)) => return Some(Received::decode(text.as_str()).expect("a server message")),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn connect(url: &str) -> Option<Ws> {
    let attempt = tokio::time::timeout(Duration::from_secs(2), tokio_tungstenite::connect_async(url)).await;
    attempt.ok()?.ok().map(|(ws, _)| ws)
}

/// One member's view of the chat.
#[derive(Default)]
struct Tally {
    /// Each line's words (its `cid`, unique in the party) and the line ids it arrived under.
    seen: BTreeMap<String, BTreeSet<String>>,
    /// The `cid`s of its own lines the host acknowledged as applied.
    acked: BTreeSet<String>,
    /// When its resume was answered after the kill.
    resumed_at: Option<Instant>,
    /// The member id it resumed as.
    resumed_as: Option<String>,
}

struct Member {
    n: usize,
    session: String,
    url: String,
    id: String,
    secret: String,
    ws: Ws,
    last_seq: u64,
    tally: Tally,
}

impl Member {
    async fn join(host: &HostProcess, n: usize) -> Member {
        let session = host.text("sessionId");
        let mut ws = connect(&host.ws_url()).await.expect("a member connects");
        ws.send(join(&session, &format!("dev-{n}"))).await.unwrap();
        let mut member = Member {
            n,
            session,
            url: host.ws_url(),
            id: String::new(),
            secret: String::new(),
            ws,
            last_seq: 0,
            tally: Tally::default(),
        };
        loop {
            let received = next(&mut member.ws).await.expect("the welcome bundle");
            if let ServerMessage::Welcome { client_id, resume_secret, .. } = &received.message {
                member.id = client_id.clone();
                member.secret = resume_secret.clone().expect("a partyline/1 secret");
            }
            let done = received.kind() == "syncplay.state";
            member.take(received);
            if done {
                return member;
            }
        }
    }

    fn take(&mut self, received: Received) {
        if let Some(seq) = received.seq {
            self.last_seq = self.last_seq.max(seq);
        }
        match received.message {
            ServerMessage::Chat { id, text, .. } => {
                self.tally.seen.entry(text).or_default().insert(id);
            }
            ServerMessage::ChatHistory { lines, .. } => {
                for line in lines {
                    self.tally.seen.entry(line.text).or_default().insert(line.id);
                }
            }
            ServerMessage::Ack { cid, ok: true, .. } => {
                self.tally.acked.insert(cid);
            }
            _ => {}
        }
    }

    fn line(&self, k: usize) -> String {
        format!("m{}-{k}", self.n)
    }

    async fn say(&mut self, k: usize) -> bool {
        let cid = self.line(k);
        let chat = json!({"type": "chat", "timestamp": 1, "text": cid, "cid": cid});
        self.ws.send(Message::text(chat.to_string())).await.is_ok()
    }

    /// Resumes with its old secret until the host answers (the host may be down for a while).
    async fn resume(&mut self, deadline: Instant) {
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let Some(mut ws) = connect(&self.url).await else { continue };
            let resume = ClientMessage::Resume(Resume {
                timestamp: 1.into(),
                session_id: self.session.clone(),
                member_id: self.id.clone(),
                resume_secret: self.secret.clone(),
                last_seq: self.last_seq,
            });
            if ws.send(Message::text(resume.to_text())).await.is_err() {
                continue;
            }
            let Some(answer) = next(&mut ws).await else { continue };
            match answer.message {
                ServerMessage::Resumed { client_id, snapshot, .. } => {
                    self.tally.resumed_at.get_or_insert_with(Instant::now);
                    self.tally.resumed_as = Some(client_id);
                    if snapshot {
                        self.last_seq = 0; // a fresh welcome numbers from 1 again
                    }
                    self.ws = ws;
                    return;
                }
                other => panic!("member {} could not resume: {other:?}", self.n),
            }
        }
    }

    /// Says its lines, one every [`PACE`], resuming whenever the connection goes and resending
    /// what was not acked, until its lines are all acked and it has seen `everyone`'s.
    async fn chat(mut self, acks: Arc<AtomicUsize>, everyone: usize) -> Tally {
        let deadline = Instant::now() + DEADLINE;
        let mut said = 0;
        let mut tick = tokio::time::interval(PACE);
        let mut beat = tokio::time::interval(Duration::from_secs(4));
        while Instant::now() < deadline {
            if self.tally.acked.len() == LINES && self.tally.seen.len() >= everyone {
                break;
            }
            let alive = tokio::select! {
                _ = tick.tick(), if said < LINES => {
                    said += 1;
                    self.say(said - 1).await
                }
                _ = beat.tick() => {
                    let heartbeat = json!({"type": "heartbeat", "timestamp": 1});
                    self.ws.send(Message::text(heartbeat.to_string())).await.is_ok()
                }
                received = recv(&mut self.ws) => match received {
                    Some(received) => {
                        let before = self.tally.acked.len();
                        self.take(received);
                        acks.fetch_add(self.tally.acked.len() - before, Ordering::Relaxed);
                        true
                    }
                    None => false,
                },
            };
            if !alive {
                self.resume(deadline).await;
                // What was said and not acked goes again, with its cid: applied at most once.
                for k in 0..said {
                    if !self.tally.acked.contains(&self.line(k)) {
                        self.say(k).await;
                    }
                }
            }
        }
        self.tally
    }
}

/// SIGKILL in the middle of twenty members' chat, then the same file again: the same session,
/// port, key and room code; every member resumes as itself with its old secret (the figure is
/// printed); 0 acknowledged lines lost and 0 said twice on every member; a ban holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_chat_loses_and_repeats_nothing() {
    let dir = tempfile_dir();
    let file = dir.path().join("party.db");
    let mut host = HostProcess::start(&file, &[]).await;
    let session = host.text("sessionId");
    let mut members = Vec::new();
    for n in 0..MEMBERS {
        members.push(Member::join(&host, n).await);
    }
    // A guest the host bans before the crash.
    let mut troll = Member::join(&host, 99).await;
    host.command(&format!("ban {} spam", troll.id)).await;
    while next(&mut troll.ws).await.is_some() {}

    let acks = Arc::new(AtomicUsize::new(0));
    let ids: Vec<String> = members.iter().map(|member| member.id.clone()).collect();
    let chats: Vec<_> =
        members.into_iter().map(|member| tokio::spawn(member.chat(acks.clone(), MEMBERS * LINES))).collect();
    let started = Instant::now();
    while acks.load(Ordering::Relaxed) < MEMBERS * LINES / 3 {
        assert!(started.elapsed() < Duration::from_secs(20), "the chat never got going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let acked_before = acks.load(Ordering::Relaxed);
    let first = host.info.clone();
    host.kill().await;
    let host = HostProcess::start(&file, &[]).await;
    let back = Instant::now();
    let tallies: Vec<Tally> = futures_util::future::join_all(chats).await.into_iter().map(Result::unwrap).collect();

    assert_eq!(host.info["restored"], true, "the host says it picked the party up: {}", host.info);
    for field in ["sessionId", "port", "joinKey", "roomCode"] {
        assert_eq!(host.info[field], first[field], "the same {field} before (right) and after the crash (left)");
    }
    let resumed = tallies.iter().filter(|tally| tally.resumed_at.is_some()).count();
    assert_eq!(resumed, MEMBERS, "every member resumed");
    for (tally, id) in tallies.iter().zip(&ids) {
        assert_eq!(tally.resumed_as.as_ref(), Some(id), "a member resumed as itself");
    }
    let slowest = tallies.iter().filter_map(|tally| tally.resumed_at).max().unwrap().duration_since(back);
    println!(
        "restart: {acked_before} lines acked before the SIGKILL; every one of {MEMBERS} members resumed {} ms after the host was back",
        slowest.as_millis()
    );
    assert!(slowest < Duration::from_secs(30), "resumes took {slowest:?}");

    let acked: BTreeSet<&String> = tallies.iter().flat_map(|tally| &tally.acked).collect();
    assert_eq!(acked.len(), MEMBERS * LINES, "every line was acked in the end");
    for (n, tally) in tallies.iter().enumerate() {
        let lost: Vec<&&String> = acked.iter().filter(|cid| !tally.seen.contains_key(**cid)).collect();
        let twice: Vec<(&String, &BTreeSet<String>)> = tally.seen.iter().filter(|(_, ids)| ids.len() > 1).collect();
        assert_eq!((lost.len(), twice.len()), (0, 0), "member {n}: (lost, duplicated): {lost:?} {twice:?}");
    }

    // What the restarted host keeps is every acked line once: a guest who joins now gets them
    // all in its history (the newest hundred), each under one id.
    let mut late = Member::join(&host, 50).await;
    let kept: Vec<(&String, &BTreeSet<String>)> = late.tally.seen.iter().collect();
    let kept_lines: BTreeSet<&String> = kept.iter().map(|(text, _)| *text).collect();
    let kept_ids: BTreeSet<&String> = kept.iter().flat_map(|(_, ids)| ids.iter()).collect();
    assert_eq!(kept_lines, acked, "the lines the restarted host keeps (left) and those acked (right)");
    assert_eq!(kept_ids.len(), acked.len(), "one id per line: {kept:?}");
    late.ws.close(None).await.ok();

    // The ban survived the crash: the troll's device is still turned away.
    let mut ws = connect(&host.ws_url()).await.expect("connects with the old key");
    ws.send(join(&session, "dev-99")).await.unwrap();
    let refused = next(&mut ws).await.expect("an answer");
    match refused.message {
        ServerMessage::Error { code: ErrorCode::Unauthorized, details, .. } => {
            assert_eq!(details.as_ref().map(|d| d["reason"].clone()), Some(json!("banned")), "{details:?}");
        }
        other => panic!("expected the banned device refused, got {other:?}"),
    }
    host.kill().await;
}

/// `--new-party` ends the stored party for good: a new session, key and room code, and an old
/// member's resume fails.
#[tokio::test]
async fn new_party_starts_afresh() {
    let dir = tempfile_dir();
    let file = dir.path().join("party.db");
    let host = HostProcess::start(&file, &[]).await;
    let old = Member::join(&host, 1).await;
    let (old_session, old_key) = (host.text("sessionId"), host.text("joinKey"));
    host.kill().await;
    let host = HostProcess::start(&file, &["--new-party"]).await;
    assert_ne!(host.text("sessionId"), old_session, "a new session");
    assert_ne!(host.text("joinKey"), old_key, "a new key");
    assert!(host.info.get("restored").is_none(), "not restored: {}", host.info);
    let mut ws = connect(&host.ws_url()).await.expect("connects with the new key");
    let resume = ClientMessage::Resume(Resume {
        timestamp: 1.into(),
        session_id: old_session,
        member_id: old.id.clone(),
        resume_secret: old.secret.clone(),
        last_seq: 3,
    });
    ws.send(Message::text(resume.to_text())).await.unwrap();
    let answer = next(&mut ws).await.expect("an answer");
    assert!(
        matches!(answer.message, ServerMessage::Error { code: ErrorCode::ResumeFailed, .. }),
        "expected resume_failed, got {answer:?}"
    );
    let old_url = format!("{}?token={old_key}", host.text("wsUrl"));
    let mut ws = connect(&old_url).await.expect("the upgrade answers, to say why not");
    let answer = next(&mut ws).await.expect("an answer");
    assert!(
        matches!(answer.message, ServerMessage::Error { code: ErrorCode::Unauthorized, .. }),
        "expected the old key refused, got {answer:?}"
    );
    host.kill().await;
}

/// A fresh folder for one test's party file, removed when the test ends.
fn tempfile_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("partyline-restart-").tempdir().expect("a temp folder")
}

/// The desktop's flow, in one process through the facade: a stopped host lets its party file go
/// and the next start picks the party up (same session and key, `restored`); `end_party` ("New
/// party") and a start make a new one.
#[tokio::test]
async fn the_facade_stops_resumes_and_ends_a_party() {
    let dir = tempfile_dir();
    let config = || partyline_host::HostConfig {
        bind: std::net::Ipv4Addr::LOCALHOST.into(),
        mdns: false,
        store: Some(dir.path().join("party.db")),
        ..partyline_host::HostConfig::default()
    };
    let first = partyline_host::Host::start(config()).await.expect("a host on a party file");
    let before = first.info();
    assert!(!before.restored, "a new party");
    first.stop().await;
    let again = partyline_host::Host::start(config()).await.expect("the same file again, in the same process");
    let after = again.info();
    assert!(after.restored, "picked up");
    let same = (&after.session_id, &after.join_key, &after.room_code, after.port);
    assert_eq!(
        same,
        (&before.session_id, &before.join_key, &before.room_code, before.port),
        "(session, key, code, port)"
    );
    again.end_party().await.expect("the party ends for good");
    let fresh = partyline_host::Host::start(config()).await.expect("a new party");
    let info = fresh.info();
    assert!(!info.restored && info.session_id != before.session_id, "a new session: {info:?}");
    assert_ne!(info.join_key, before.join_key, "a new key");
    fresh.stop().await;
}

/// Posts `bytes` to the host's `POST /api/uploads` as `device`; returns the status and answer.
async fn upload(host: &HostProcess, device: &str, name: &str, bytes: &[u8], dir: &Path) -> (u16, Value) {
    let body = dir.join(format!("body-{name}"));
    std::fs::write(&body, bytes).unwrap();
    let base = host.text("wsUrl").replace("ws://", "http://").replace("/ws", "");
    let url = format!("{base}/api/uploads?device={device}&name={name}");
    let auth = format!("Authorization: Bearer {}", host.text("joinKey"));
    let data = format!("@{}", body.display());
    let (status, answer) = partyline_support::curl(&["-X", "POST", "-H", &auth, "--data-binary", &data, &url]).await;
    (status, serde_json::from_slice(&answer).unwrap_or(Value::Null))
}

/// Guests' songs and photos come back after a SIGKILL: a late joiner's welcome lists the
/// photos, its library the song, and each is served again; a photo whose file changed while the
/// host was down is dropped (a warning), not served.
#[tokio::test]
async fn uploads_survive_a_sigkill() {
    let dir = tempfile_dir();
    let file = dir.path().join("party.db");
    let host = HostProcess::start(&file, &[]).await;
    let sharer = Member::join(&host, 1).await;
    let (status, song) = upload(&host, "dev-1", "Summer.wav", &partyline_support::wav(), dir.path()).await;
    assert_eq!(status, 201, "the song is taken: {song}");
    let (status, photo) = upload(&host, "dev-1", "cake.jpg", &partyline_support::jpeg(), dir.path()).await;
    assert_eq!(status, 201, "the photo is taken: {photo}");
    let (status, spoiled) = upload(&host, "dev-1", "blurry.jpg", &partyline_support::jpeg(), dir.path()).await;
    assert_eq!(status, 201, "the second photo is taken: {spoiled}");
    host.kill().await;
    drop(sharer);
    // While the host is down, one photo's file is changed: it is not the file that was kept.
    let spoiled_file =
        dir.path().join(format!("party.uploads/{}", spoiled["url"].as_str().unwrap().trim_start_matches("/media/")));
    std::fs::write(&spoiled_file, b"not the photo").expect("the uploads folder is beside the party file");

    let host = HostProcess::start(&file, &[]).await;
    let session = host.text("sessionId");
    let mut ws = connect(&host.ws_url()).await.expect("a late joiner connects");
    ws.send(join(&session, "dev-late")).await.unwrap();
    let (mut photos, mut library) = (None, None);
    while library.is_none() {
        let received = next(&mut ws).await.expect("the welcome bundle");
        match received.message {
            ServerMessage::Welcome { photos: shown, .. } => photos = Some(shown.unwrap_or_default()),
            ServerMessage::LibraryUpdate { items, .. } => library = Some(items),
            _ => {}
        }
    }
    let photo_ids: Vec<String> = photos.expect("a welcome").into_iter().map(|p| p.id).collect();
    assert_eq!(photo_ids, vec![photo["id"].as_str().unwrap().to_string()], "the photo back, the changed one dropped");
    let songs: Vec<String> = library.unwrap().into_iter().map(|item| item.id).collect();
    assert_eq!(songs, vec![song["id"].as_str().unwrap().to_string()], "the guest's song back in the library");
    let base = host.text("wsUrl").replace("ws://", "http://").replace("/ws", "");
    for (what, url, want) in
        [("song", &song["url"], 200), ("photo", &photo["url"], 200), ("changed photo", &spoiled["url"], 404)]
    {
        let auth = format!("Authorization: Bearer {}", host.text("joinKey"));
        let (status, _) = partyline_support::curl(&["-H", &auth, &format!("{base}{}", url.as_str().unwrap())]).await;
        assert_eq!(status, want, "the {what} served after the restart");
    }
    host.kill().await;
    // A new party in the same file starts with none of the old one's files.
    let host = HostProcess::start(&file, &["--new-party"]).await;
    let left = std::fs::read_dir(dir.path().join("party.uploads/guests")).map(|files| files.count()).unwrap_or(0);
    assert_eq!(left, 0, "the ended party's uploads are gone");
    host.kill().await;
}
