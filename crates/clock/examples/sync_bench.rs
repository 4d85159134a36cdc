//! The clock-sync benchmark (issue 6): many members on loopback, some behind a userspace proxy
//! that delays each direction by a random 0–J ms, estimate the host's clock from ping/pong; all
//! share this process's clock, so each estimate is compared with the truth (an offset of 0).
//! Then the host plays an item, and we measure the spread of the instants at which the members
//! would start it. Prints figures; asserts nothing.
//!
//!     cargo run --release -p partyline-clock --example sync_bench -- [members] [jittered] [jitter_ms] [seconds]
//!
//! Defaults: 50 members, 25 of them behind the proxy, 50 ms jitter each way, 30 s of pings
//! every 100 ms (a phone pings every 2 s; 100 ms compresses a few minutes into the run).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use partyline_clock::{Estimator, Sample};
use partyline_server::{Clock, Limits, PlayCommand, Server, ServerConfig, ServerHandle};
use rand::Rng;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

struct Member {
    jittered: bool,
    estimator: Estimator,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (members_n, jittered_n, jitter_ms, seconds) =
        (arg(0, 50) as usize, arg(1, 25) as usize, arg(2, 50), arg(3, 30));

    let media = std::env::temp_dir().join(format!("partyline-sync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("track.mp3"), vec![0u8; 1024]).unwrap();
    let limits = Limits { max_conns_per_addr: 10_000, burst: 1000, per_second: 1000, ..Limits::default() };
    let host = Server::start(ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        media: Some(media.clone()),
        limits,
        ..ServerConfig::default()
    })
    .await
    .expect("host starts");
    let clock = host.clock();
    let proxy = start_proxy(host.local_addr().port(), jitter_ms).await;

    println!(
        "clock-sync benchmark: {members_n} members ({jittered_n} behind 0–{jitter_ms} ms jitter each way), {seconds} s of pings every 100 ms"
    );
    let members: Vec<Arc<Mutex<Member>>> = (0..members_n)
        .map(|n| Arc::new(Mutex::new(Member { jittered: n < jittered_n, estimator: Estimator::default() })))
        .collect();
    let mut tasks = Vec::new();
    let (ready_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let starts = Arc::new(Mutex::new(Vec::<(bool, f64)>::new()));
    for (n, member) in members.iter().enumerate() {
        let port = if n < jittered_n { proxy } else { host.local_addr().port() };
        let url = format!("ws://127.0.0.1:{port}/ws?token={}", host.join_key().unwrap());
        let session = host.session_id().to_string();
        tasks.push(tokio::spawn(run_member(n, url, session, clock, member.clone(), seconds, starts.clone())));
    }
    let _ = ready_tx;
    // Let everyone sync, then play once the estimates have had most of the run.
    tokio::time::sleep(Duration::from_secs(seconds.saturating_sub(5).max(3))).await;
    let item = host.playback().await.unwrap().library[0].id.clone();
    host.syncplay(PlayCommand::Play { item_id: Some(item), position: None }).await.unwrap();
    for task in tasks {
        let _ = task.await;
    }
    report(&members, &starts, &host).await;
    host.shutdown(None).await;
    let _ = std::fs::remove_dir_all(media);
}

async fn run_member(
    n: usize,
    url: String,
    session: String,
    clock: Clock,
    member: Arc<Mutex<Member>>,
    seconds: u64,
    starts: Arc<Mutex<Vec<(bool, f64)>>>,
) {
    let (ws, _) = tokio_tungstenite::connect_async(&url).await.expect("member connects");
    let (mut tx, mut rx) = ws.split();
    let join = json!({"type": "join", "timestamp": 1, "sessionId": session, "protocolVersion": "partyline/1",
        "deviceInfo": {"id": format!("bench-{n}"), "name": format!("bench {n}"), "type": "client"}});
    tx.send(Message::text(join.to_string())).await.unwrap();
    let tx = Arc::new(Mutex::new(tx));
    let pinger = {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(100));
            for tick in 0..seconds * 10 {
                interval.tick().await;
                if tick % 50 == 0 {
                    // Heartbeat every 5 s, as LOUDSYNC requires, or the host drops us at 15 s.
                    let beat = json!({"type": "heartbeat", "timestamp": 1});
                    if tx.lock().await.send(Message::text(beat.to_string())).await.is_err() {
                        break;
                    }
                }
                let t0 = clock.now() as f64;
                let ping = json!({"type": "ping", "timestamp": t0 / 1000.0});
                if tx.lock().await.send(Message::text(ping.to_string())).await.is_err() {
                    break;
                }
            }
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds + 2);
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, rx.next()).await {
        let Message::Text(text) = frame else { continue };
        let t3 = clock.now() as f64;
        let message: Value = serde_json::from_str(text.as_str()).unwrap();
        match message["type"].as_str() {
            Some("pong") => {
                let (Some(t0ms), Some(t1), Some(t2)) = (
                    message["timestamp"].as_f64(),
                    message["serverReceiveTime"].as_f64(),
                    message["serverSendTime"].as_f64(),
                ) else {
                    continue;
                };
                member.lock().await.estimator.add(Sample { t0: t0ms * 1000.0, t1, t2, t3 });
            }
            Some("syncplay.state") if message["state"] == "waiting" => {
                let ready = json!({"type": "playback.progress", "timestamp": 1, "entryId": message["entryId"], "position": 0, "state": "ready"});
                let _ = tx.lock().await.send(Message::text(ready.to_string())).await;
            }
            Some("syncplay.state") if message["state"] == "playing" => {
                // The member would start at serverTime on its estimate of the host clock; in
                // true time that is serverTime − (estimated offset − true offset 0).
                let member = member.lock().await;
                if let Some(offset) = member.estimator.offset() {
                    let server_time = message["serverTime"].as_f64().unwrap();
                    starts.lock().await.push((member.jittered, server_time - offset));
                }
            }
            _ => {}
        }
    }
    pinger.abort();
}

async fn report(members: &[Arc<Mutex<Member>>], starts: &Mutex<Vec<(bool, f64)>>, _host: &ServerHandle) {
    let mut plain = Vec::new();
    let mut jittered = Vec::new();
    let mut plain_classic = Vec::new();
    let mut jittered_classic = Vec::new();
    for member in members {
        let member = member.lock().await;
        let (Some(offset), Some(classic)) = (member.estimator.offset(), member.estimator.offset_lowest_delay()) else {
            continue;
        };
        if member.jittered {
            jittered.push(offset.abs() / 1000.0);
            jittered_classic.push(classic.abs() / 1000.0);
        } else {
            plain.push(offset.abs() / 1000.0);
            plain_classic.push(classic.abs() / 1000.0);
        }
    }
    println!("{:<44} {:>6} {:>9} {:>9} {:>9}", "clock-offset error |estimate − truth| (ms)", "n", "p50", "p95", "max");
    for (name, values) in [
        ("plain loopback, per-direction minima", &mut plain),
        ("plain loopback, lowest-delay sample", &mut plain_classic),
        ("jittered, per-direction minima", &mut jittered),
        ("jittered, lowest-delay sample", &mut jittered_classic),
    ] {
        values.sort_by(f64::total_cmp);
        println!(
            "{name:<44} {:>6} {:>9.3} {:>9.3} {:>9.3}",
            values.len(),
            pct(values, 0.5),
            pct(values, 0.95),
            values.last().copied().unwrap_or(f64::NAN)
        );
    }
    let starts = starts.lock().await;
    let spread = |filter: &dyn Fn(bool) -> bool| {
        let times: Vec<f64> = starts.iter().filter(|(j, _)| filter(*j)).map(|(_, t)| *t).collect();
        let (min, max) = times.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| (lo.min(*t), hi.max(*t)));
        (times.len(), (max - min) / 1000.0)
    };
    let (n_all, all) = spread(&|_| true);
    let (n_plain, plain_spread) = spread(&|j| !j);
    println!(
        "start spread (latest − earliest start instant, true time): all {n_all} members {all:.3} ms; plain loopback {n_plain} members {plain_spread:.3} ms"
    );
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// A TCP proxy on 127.0.0.1 that delays every chunk, each direction on its own, by a random
/// 0–`jitter_ms` ms, keeping order (a chunk never overtakes the one before it). Returns its port.
async fn start_proxy(target: u16, jitter_ms: u64) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else { continue };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(delayed_pipe(client_read, server_write, jitter_ms));
            tokio::spawn(delayed_pipe(server_read, client_write, jitter_ms));
        }
    });
    port
}

async fn delayed_pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    jitter_ms: u64,
) {
    // Bounded: a proxy holding more than 1,024 chunks in flight is not modelling a network.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(1024);
    let writer = tokio::spawn(async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let mut last = tokio::time::Instant::now();
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        let delay = Duration::from_micros(rand::rng().random_range(0..=jitter_ms * 1000));
        last = last.max(tokio::time::Instant::now() + delay);
        if tx.send((last, buf[..n].to_vec())).await.is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}
