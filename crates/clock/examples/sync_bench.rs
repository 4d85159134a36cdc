//! The clock-sync benchmark (issues 6 and 13): many members on loopback, some behind a userspace
//! proxy that delays each direction by a random 0–J ms, estimate the host's clock from ping/pong
//! with the phone's own filter ([`SyncClock`], the port of `ui/shared/clock.js` that the shared
//! test vectors check equal to it); all share this process's clock, so each estimate is compared
//! with the truth (an offset of 0). Beside it, the classic lowest-delay estimate over the same
//! window, as a baseline. Then the host plays an item, and we measure the spread of the instants
//! at which the members would start it. Prints figures; asserts nothing.
//!
//!     cargo run --release -p partyline-clock --example sync_bench -- [members] [jittered] [jitter_ms] [seconds] [ping_ms]
//!
//! Defaults: 50 members, 25 of them behind the proxy, 50 ms jitter each way, 30 s of pings
//! every 100 ms (a phone pings every 2 s; 100 ms compresses a few minutes into the run; pass
//! `2000` for the phone's rate).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use partyline_clock::{ClockOptions, SyncClock};
use partyline_server::{Clock, Limits, PlayCommand, Server, ServerConfig, ServerHandle};
use rand::Rng;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

struct Member {
    jittered: bool,
    clock: SyncClock,
    classic: LowestDelay,
}

/// The classic estimate, as a baseline: the offset (ms) of the lowest-delay exchange among the
/// last `window` (SyncClock's own window, so that both see the same samples).
struct LowestDelay {
    window: usize,
    /// (offset, delay) per exchange, ms, oldest first.
    samples: std::collections::VecDeque<(f64, f64)>,
}

impl LowestDelay {
    fn new(window: usize) -> Self {
        LowestDelay { window, samples: std::collections::VecDeque::with_capacity(window + 1) }
    }

    fn add(&mut self, t0: f64, t1_us: f64, t2_us: f64, t3: f64) {
        let (t1, t2) = (t1_us / 1000.0, t2_us / 1000.0);
        self.samples.push_back(((t1 - t0 + (t2 - t3)) / 2.0, (t3 - t0) - (t2 - t1)));
        if self.samples.len() > self.window {
            self.samples.pop_front();
        }
    }

    fn offset(&self) -> Option<f64> {
        self.samples.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map(|s| s.0)
    }
}

/// The host's clock in ms, as a phone's `now()` reads its own (here both are the same clock).
fn now_ms(clock: &Clock) -> f64 {
    clock.now() as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (members_n, jittered_n, jitter_ms, seconds, ping_ms) =
        (arg(0, 50) as usize, arg(1, 25) as usize, arg(2, 50), arg(3, 30), arg(4, 100).max(1));

    let media = std::env::temp_dir().join(format!("partyline-sync-bench-{}", std::process::id()));
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("track.mp3"), vec![0u8; 1024]).unwrap();
    // Every member connects from loopback, all at once: the per-address caps (WebSocket and HTTP,
    // 32 and 16 by default) and the rate limit out of the way.
    let limits = Limits {
        max_conns_per_addr: 10_000,
        max_http_per_addr: 10_000,
        max_http: 10_000,
        burst: 1000,
        per_second: 1000,
        ..Limits::default()
    };
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
        "clock-sync benchmark: {members_n} members ({jittered_n} behind 0–{jitter_ms} ms jitter each way), {seconds} s of pings every {ping_ms} ms, SyncClock (the phone's, ported)"
    );
    let window = ClockOptions::default().window;
    let members: Vec<Arc<Mutex<Member>>> = (0..members_n)
        .map(|n| {
            let member =
                Member { jittered: n < jittered_n, clock: SyncClock::default(), classic: LowestDelay::new(window) };
            Arc::new(Mutex::new(member))
        })
        .collect();
    let mut tasks = Vec::new();
    let (ready_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let starts = Arc::new(Mutex::new(Vec::<(bool, f64)>::new()));
    for (n, member) in members.iter().enumerate() {
        let port = if n < jittered_n { proxy } else { host.local_addr().port() };
        let url = format!("ws://127.0.0.1:{port}/ws?token={}", host.join_key().unwrap());
        let session = host.session_id().to_string();
        let run = Run { seconds, ping: Duration::from_millis(ping_ms) };
        tasks.push(tokio::spawn(run_member(n, url, session, clock.clone(), member.clone(), run, starts.clone())));
    }
    let _ = ready_tx;
    // Let everyone sync, then play once the estimates have had most of the run.
    tokio::time::sleep(Duration::from_secs(seconds.saturating_sub(5).max(3))).await;
    let item = host.library().await.unwrap()[0].id.clone();
    host.syncplay(PlayCommand::Play { item_id: Some(item), position: None }).await.unwrap();
    for task in tasks {
        let _ = task.await;
    }
    report(&members, &starts, &host).await;
    host.shutdown(None).await;
    let _ = std::fs::remove_dir_all(media);
}

/// How long a member pings, and how often.
#[derive(Clone, Copy)]
struct Run {
    seconds: u64,
    ping: Duration,
}

/// A heartbeat every 5 s, as LOUDSYNC requires, or the host drops the member at 15 s.
const HEARTBEAT: Duration = Duration::from_secs(5);

async fn run_member(
    n: usize,
    url: String,
    session: String,
    clock: Clock,
    member: Arc<Mutex<Member>>,
    run: Run,
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
        let clock = clock.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(run.ping);
            let end = tokio::time::Instant::now() + Duration::from_secs(run.seconds);
            let mut next_beat = tokio::time::Instant::now();
            while interval.tick().await < end {
                if tokio::time::Instant::now() >= next_beat {
                    next_beat += HEARTBEAT;
                    let beat = json!({"type": "heartbeat", "timestamp": 1});
                    if tx.lock().await.send(Message::text(beat.to_string())).await.is_err() {
                        break;
                    }
                }
                let ping = json!({"type": "ping", "timestamp": now_ms(&clock)});
                if tx.lock().await.send(Message::text(ping.to_string())).await.is_err() {
                    break;
                }
            }
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(run.seconds + 2);
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, rx.next()).await {
        let Message::Text(text) = frame else { continue };
        let t3 = now_ms(&clock);
        let message: Value = serde_json::from_str(text.as_str()).unwrap();
        match message["type"].as_str() {
            Some("pong") => {
                let (Some(t0), Some(t1), Some(t2)) = (
                    message["timestamp"].as_f64(),
                    message["serverReceiveTime"].as_f64(),
                    message["serverSendTime"].as_f64(),
                ) else {
                    continue;
                };
                let mut member = member.lock().await;
                let _ = member.clock.add_sample(t0, t1, t2, t3);
                member.classic.add(t0, t1, t2, t3);
            }
            Some("syncplay.state") if message["state"] == "waiting" => {
                let ready = json!({"type": "playback.progress", "timestamp": 1, "entryId": message["entryId"], "position": 0, "state": "ready"});
                let _ = tx.lock().await.send(Message::text(ready.to_string())).await;
            }
            Some("syncplay.state") if message["state"] == "playing" => {
                // The member would start at serverTime on its estimate of the host clock; in
                // true time that is serverTime − (estimated offset − true offset 0).
                let member = member.lock().await;
                if member.clock.offset().is_some() {
                    let offset_us = member.clock.current_offset(Some(t3)) * 1000.0;
                    let server_time = message["serverTime"].as_f64().unwrap();
                    starts.lock().await.push((member.jittered, server_time - offset_us));
                }
            }
            _ => {}
        }
    }
    pinger.abort();
}

async fn report(members: &[Arc<Mutex<Member>>], starts: &Mutex<Vec<(bool, f64)>>, host: &ServerHandle) {
    let at = now_ms(&host.clock());
    let mut plain = Vec::new();
    let mut jittered = Vec::new();
    let mut plain_classic = Vec::new();
    let mut jittered_classic = Vec::new();
    for member in members {
        let member = member.lock().await;
        let (Some(_), Some(classic)) = (member.clock.offset(), member.classic.offset()) else {
            continue;
        };
        let offset = member.clock.current_offset(Some(at));
        if member.jittered {
            jittered.push(offset.abs());
            jittered_classic.push(classic.abs());
        } else {
            plain.push(offset.abs());
            plain_classic.push(classic.abs());
        }
    }
    println!("{:<44} {:>6} {:>9} {:>9} {:>9}", "clock-offset error |estimate − truth| (ms)", "n", "p50", "p95", "max");
    for (name, values) in [
        ("plain loopback, SyncClock", &mut plain),
        ("plain loopback, lowest-delay sample", &mut plain_classic),
        ("jittered, SyncClock", &mut jittered),
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
    // What the jittered members' filters hold: whether a drift is believed (the true drift is 0:
    // one clock), how many samples the estimate used, and the bound it claims.
    let (mut drifts, mut used, mut bounds) = (Vec::new(), Vec::new(), Vec::new());
    for member in members {
        let member = member.lock().await;
        if member.jittered && member.clock.offset().is_some() {
            if member.clock.drift_known() {
                drifts.push(member.clock.drift().abs() * 1e6);
            }
            used.push(member.clock.used() as f64);
            bounds.push(member.clock.uncertainty().unwrap_or(f64::NAN));
        }
    }
    if !used.is_empty() {
        for values in [&mut drifts, &mut used, &mut bounds] {
            values.sort_by(f64::total_cmp);
        }
        println!(
            "jittered SyncClock: drift believed by {} of {} (|drift| p50 {:.1} ppm, max {:.1}); samples used p50 {:.0}; uncertainty p50 {:.3} ms",
            drifts.len(),
            used.len(),
            pct(&drifts, 0.5),
            drifts.last().copied().unwrap_or(f64::NAN),
            pct(&used, 0.5),
            pct(&bounds, 0.5)
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
