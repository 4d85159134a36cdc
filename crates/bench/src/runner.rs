//! Scenarios, server processes, and one measured run of a scenario against a server.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::client::{Cast, Cmd, MemberConf, Run, Target, marker_text, member};
use crate::flood::{self, Flood};
use crate::formats::{self, Format};
use crate::procfs;

/// The servers under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Kind {
    /// Partyline's server (`partyline_server::Server::start`), in `serve-partyline`.
    Partyline,
    /// The minimal tokio-tungstenite broadcast server, in `serve-bare`.
    Bare,
    /// Node and the `ws` package, `bench/ws-node/server.js`.
    WsNode,
}

impl Kind {
    /// Its name in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Partyline => "partyline",
            Kind::Bare => "bare",
            Kind::WsNode => "ws-node",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "partyline" => Some(Kind::Partyline),
            "bare" | "tungstenite-bare" | "tungstenite" => Some(Kind::Bare),
            "ws-node" | "ws" | "node" => Some(Kind::WsNode),
            _ => None,
        }
    }
}

/// What a scenario does once its members have joined.
#[derive(Debug, Clone)]
pub enum Work {
    /// Nothing but heartbeats and pings, for `hold`.
    Idle {
        /// How long.
        hold: Duration,
    },
    /// Nothing: the join itself (every member at once) is the measure.
    Storm,
    /// `rate` broadcasts a second for `secs` seconds.
    Steady {
        /// Broadcasts per second.
        rate: f64,
        /// Seconds.
        secs: f64,
        /// Chat text length.
        size: usize,
    },
    /// `count` broadcasts as fast as the server takes them, at most `window` not yet received
    /// by every member (the server's per-member queue holds 256).
    Burst {
        /// Broadcasts.
        count: usize,
        /// Chat text length.
        size: usize,
        /// Broadcasts in flight at most.
        window: usize,
    },
    /// The members ping every `ping_every` for `before`; then one more guest floods `frame` as
    /// fast as its socket takes for `secs`, reconnecting whenever it is closed.
    Flood {
        /// What the flooder sends.
        frame: Flood,
        /// The members' ping interval (the run's `--ping-every-ms` does not apply).
        ping_every: Duration,
        /// Pings measured before the flood.
        before: Duration,
        /// How long the flood lasts.
        secs: Duration,
    },
}

/// One scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name (`--only` matches it).
    pub name: String,
    /// Members.
    pub n: usize,
    /// Members join with `protocolVersion: "partyline/1"`.
    pub ext: bool,
    /// What happens after the joins.
    pub work: Work,
    /// The servers it runs against (others are skipped for it).
    pub kinds: Vec<Kind>,
    /// Pairs for this scenario, if fewer than the run's.
    pub max_pairs: Option<usize>,
    /// Extra arguments for `serve-partyline` in this scenario.
    pub partyline_args: Vec<String>,
    /// The wire format of every member but member 0 (partyline/1: the sender, or for host
    /// notifications one more receiver); `None`: all LOUDSYNC, as `ext` says.
    pub format: Option<Format>,
    /// What its broadcasts are (`Steady` and `Burst`): chat lines, topic broadcasts or host
    /// notifications.
    pub cast: Cast,
}

impl Scenario {
    /// The same scenario with every member but member 0 in `format`, against Partyline only
    /// (the references speak no other format), named `<name>-<format>`.
    fn in_format(&self, format: Format) -> Scenario {
        Scenario {
            name: format!("{}-{}", self.name, format.name()),
            kinds: vec![Kind::Partyline],
            format: Some(format),
            ..self.clone()
        }
    }

    /// The same partyline/1 scenario broadcasting `cast` instead of chat lines, named
    /// `<name>-topic` or `<name>-notice`. Against Partyline only: the references have neither
    /// topics nor a host.
    fn with_cast(&self, cast: Cast) -> Scenario {
        if cast == Cast::Chat {
            return self.clone();
        }
        Scenario { name: format!("{}{}", self.name, cast.suffix()), kinds: vec![Kind::Partyline], cast, ..self.clone() }
    }

    /// For a scenario in another format: the partyline/1 scenario it is the twin of.
    pub fn twin(&self) -> Option<&str> {
        let format = self.format?;
        self.name.strip_suffix(format.name())?.strip_suffix('-')
    }
}

/// Chat text lengths giving server `chat` frames of about 128 B and 1 KiB: a frame carries
/// about 110 bytes besides the text (seq, type, timestamp, ids, names).
pub const TEXT_128B: usize = 20;
/// See [`TEXT_128B`].
pub const TEXT_1KIB: usize = 914;

/// The scenario list: `quick` is the smoke run, the other the full benchmark.
pub fn scenarios(quick: bool) -> Vec<Scenario> {
    use Kind::*;
    let all = vec![Partyline, Bare, WsNode];
    let s = |name: &str, n: usize, ext: bool, work: Work, kinds: &[Kind]| Scenario {
        name: name.to_string(),
        n,
        ext,
        work,
        kinds: kinds.to_vec(),
        max_pairs: None,
        partyline_args: Vec::new(),
        format: None,
        cast: Cast::Chat,
    };
    // `chat` and its twins: for each cast, the partyline/1 scenario broadcasting it (`chat`
    // itself for chat lines), then the same broadcasts to members of each format that receives
    // that cast, to set beside the partyline/1 figures.
    let per_format = |chat: Scenario| {
        [Cast::Chat, Cast::Topic, Cast::Notice]
            .into_iter()
            .flat_map(|cast| {
                let twin = chat.with_cast(cast);
                let others: Vec<Scenario> =
                    Format::ALL.into_iter().filter(|f| f.cast() == cast).map(|f| twin.in_format(f)).collect();
                std::iter::once(twin).chain(others)
            })
            .collect::<Vec<_>>()
    };
    // One guest flooding, against Partyline only: the references have no rate limit or any
    // other defence to compare. The server keeps the host's own rate limit (`--host-limits`),
    // since what a flood costs the others is the question.
    let floods = |n: usize, before: Duration, secs: Duration| {
        [Flood::Ping, Flood::Pong, Flood::Text, Flood::Binary, Flood::Direct8k, Flood::Oversize].map(|frame| {
            let work = Work::Flood { frame, ping_every: Duration::from_millis(100), before, secs };
            Scenario {
                partyline_args: vec!["--host-limits".into()],
                ..s(&format!("flood-{}", frame.name()), n, true, work, &[Partyline])
            }
        })
    };
    let secs = Duration::from_secs;
    if quick {
        return vec![
            s("idle-100", 100, true, Work::Idle { hold: secs(1) }, &all),
            s("join-storm-100", 100, true, Work::Storm, &all),
            s("steady-50-128B", 50, true, Work::Steady { rate: 10.0, secs: 2.0, size: TEXT_128B }, &all),
            s("burst-100x100-128B", 100, true, Work::Burst { count: 100, size: TEXT_128B, window: 64 }, &all),
        ]
        .into_iter()
        .chain(per_format(s(
            "steady-100-128B",
            100,
            true,
            Work::Steady { rate: 10.0, secs: 2.0, size: TEXT_128B },
            &[Partyline],
        )))
        .chain(floods(10, secs(1), secs(1)))
        .collect();
    }
    let steady = |size: usize| Work::Steady { rate: 10.0, secs: 6.0, size };
    // Node's joins are quadratic in JavaScript (10 s for 1,000 members here, minutes for
    // 5,000): the largest scenarios compare Partyline with the bare server only.
    let big = [Partyline, Bare];
    let mut list = vec![
        // Idle memory: two probe rounds (5 s each) after the joins, so that the latency
        // updates and pings of a live party are in the figure.
        s("idle-1k", 1000, true, Work::Idle { hold: secs(11) }, &all),
        s("idle-1k-v1.0", 1000, false, Work::Idle { hold: secs(11) }, &[Partyline]),
        s("join-storm-1k", 1000, true, Work::Storm, &all),
        s("steady-10-128B", 10, true, steady(TEXT_128B), &all),
        s("steady-100-128B", 100, true, steady(TEXT_128B), &all),
        s("steady-250-128B", 250, true, steady(TEXT_128B), &all),
        s("steady-1k-128B", 1000, true, steady(TEXT_128B), &all),
        s("steady-1k-1KiB", 1000, true, steady(TEXT_1KIB), &all),
        s("steady-5k-128B", 5000, true, steady(TEXT_128B), &big),
        s("burst-1kx1k-128B", 1000, true, Work::Burst { count: 1000, size: TEXT_128B, window: 64 }, &all),
        s("burst-1kx1k-1KiB", 1000, true, Work::Burst { count: 1000, size: TEXT_1KIB, window: 64 }, &all),
        s("burst-10kx100-128B", 100, true, Work::Burst { count: 10_000, size: TEXT_128B, window: 64 }, &all),
        // 10,000 members: their joins alone are 50 M member_joined deliveries and 6.5 GB of
        // member lists (see docs/performance.md); one pair.
        Scenario { max_pairs: Some(1), ..s("idle-10k", 10_000, true, Work::Idle { hold: secs(20) }, &big) },
    ];
    // 50 members pinging every 100 ms: 500 round trips a second to take a p99 from, 3 s of
    // them before the flood and 10 s during it.
    list.extend(floods(50, secs(3), secs(10)));
    // Each format right after its partyline/1 twin.
    list.into_iter().flat_map(|s| if s.name == "steady-1k-128B" { per_format(s) } else { vec![s] }).collect()
}

/// The scenarios in the groups whose pairs run together: a scenario, then the scenarios in other
/// formats that are its twins and follow it.
pub fn twin_groups(scenarios: &[Scenario]) -> Vec<Vec<&Scenario>> {
    let mut groups: Vec<Vec<&Scenario>> = Vec::new();
    for scenario in scenarios {
        match groups.last_mut() {
            Some(group) if scenario.twin() == Some(group[0].name.as_str()) => group.push(scenario),
            _ => groups.push(vec![scenario]),
        }
    }
    groups
}

/// How runs are made.
#[derive(Debug, Clone)]
pub struct Opts {
    /// This program (for `serve-partyline` / `serve-bare`).
    pub exe: PathBuf,
    /// `node`.
    pub node: String,
    /// `bench/ws-node` (holds server.js and node_modules).
    pub ws_node_dir: PathBuf,
    /// Core to pin servers to (`taskset -c`), if pinning.
    pub server_core: Option<usize>,
    /// Source addresses for the members.
    pub sources: Vec<IpAddr>,
    /// Members between connect and welcome at once (a join storm ignores it: all at once).
    pub join_concurrency: usize,
    /// Pause after a server starts, and after the joins, before memory is read.
    pub settle: Duration,
    /// Members' ping interval.
    pub ping_every: Duration,
    /// Extra arguments for `serve-partyline`.
    pub partyline_args: Vec<String>,
    /// Extra arguments for `serve-bare`.
    pub bare_args: Vec<String>,
    /// A command to run each server under (a profiler); empty: none.
    pub wrap: Vec<String>,
}

/// A server process under test.
pub struct ServerProc {
    child: Child,
    /// Its pid.
    pub pid: u32,
    /// Where to connect.
    pub target: Target,
    graceful: bool,
}

impl ServerProc {
    /// Starts a server and waits for its announcement line.
    pub async fn spawn(kind: Kind, opts: &Opts) -> anyhow::Result<ServerProc> {
        let (program, mut args): (String, Vec<String>) = match kind {
            Kind::Partyline => (opts.exe.display().to_string(), vec!["serve-partyline".into()]),
            Kind::Bare => (opts.exe.display().to_string(), vec!["serve-bare".into()]),
            Kind::WsNode => (opts.node.clone(), vec![opts.ws_node_dir.join("server.js").display().to_string()]),
        };
        match kind {
            Kind::Partyline => args.extend(opts.partyline_args.iter().cloned()),
            Kind::Bare => args.extend(opts.bare_args.iter().cloned()),
            Kind::WsNode => {}
        }
        let mut argv: Vec<String> = Vec::new();
        if let Some(core) = opts.server_core {
            argv.extend(["taskset".into(), "-c".into(), core.to_string()]);
        }
        argv.extend(opts.wrap.iter().cloned());
        argv.push(program.clone());
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        command.args(&args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
        let mut child = command.spawn().with_context(|| format!("cannot start {program}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        // A wrapper (a profiler) may print lines of its own first.
        let announced = async {
            loop {
                match lines.next_line().await? {
                    Some(line) if line.trim_start().starts_with('{') => return anyhow::Ok(line),
                    Some(_) => {}
                    None => bail!("{} exited before announcing itself", kind.name()),
                }
            }
        };
        let line = tokio::time::timeout(Duration::from_secs(30), announced)
            .await
            .with_context(|| format!("{} did not announce itself in 30 s", kind.name()))??;
        let info: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("bad announcement: {line}"))?;
        let port = info["port"].as_u64().context("no port")? as u16;
        let pid = info["pid"].as_u64().context("no pid")? as u32;
        let session_id = info["sessionId"].as_str().context("no sessionId")?.to_string();
        let key = info["joinKey"].as_str().unwrap_or_default();
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        let target = Target { addr, host: addr.to_string(), path: format!("/ws?token={key}"), session_id };
        Ok(ServerProc { child, pid, target, graceful: !opts.wrap.is_empty() })
    }

    /// Has `serve-partyline` send a host notification titled `title` (a command on its
    /// standard input).
    pub async fn notify(&mut self, title: &str) -> anyhow::Result<()> {
        use tokio::io::AsyncWriteExt;
        let stdin = self.child.stdin.as_mut().context("the server's standard input is closed")?;
        stdin.write_all(format!("notify {title}\n").as_bytes()).await.context("cannot write to the server")?;
        Ok(())
    }

    /// Kills it (a benchmark's server has nothing to save) and reaps it. Safe to call twice.
    /// Under a wrapper it first closes its standard input and gives it 60 s to exit.
    pub async fn stop(&mut self) {
        if self.graceful {
            drop(self.child.stdin.take());
            let _ = tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await;
        }
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// Figures of one run, by name.
pub type Metrics = BTreeMap<String, f64>;

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64
}

fn put_percentiles(metrics: &mut Metrics, prefix: &str, values: &mut [u64], unit_ns: f64) {
    values.sort_unstable();
    metrics.insert(format!("{prefix}_p50"), percentile(values, 50.0) / unit_ns);
    metrics.insert(format!("{prefix}_p99"), percentile(values, 99.0) / unit_ns);
    metrics.insert(format!("{prefix}_max"), values.last().map_or(f64::NAN, |v| *v as f64 / unit_ns));
}

/// Runs `scenario` once against a fresh `kind` server.
pub async fn run_once(
    scenario: &Scenario,
    kind: Kind,
    opts: &Opts,
    tag: &str,
) -> anyhow::Result<(Metrics, Option<String>)> {
    let mut opts = opts.clone();
    if kind == Kind::Partyline {
        opts.partyline_args.extend(scenario.partyline_args.iter().cloned());
    }
    let opts = &opts;
    let mut server = ServerProc::spawn(kind, opts).await?;
    let result = measure(scenario, &mut server, opts, tag).await;
    server.stop().await;
    result
}

async fn measure(
    scenario: &Scenario,
    server: &mut ServerProc,
    opts: &Opts,
    tag: &str,
) -> anyhow::Result<(Metrics, Option<String>)> {
    let pid = server.pid.to_string();
    let n = scenario.n;
    let mut metrics = Metrics::new();
    tokio::time::sleep(opts.settle).await;
    let rss_before = procfs::rss(&pid).context("cannot read the server's memory")?;
    let storm = matches!(scenario.work, Work::Storm);
    let run = Rc::new(Run::new(n + 1, if storm { n } else { opts.join_concurrency }));
    let target = Rc::new(server.target.clone());
    let read_chunk = match scenario.work {
        Work::Burst { .. } | Work::Steady { .. } if n <= 1000 => 64 * 1024,
        _ => 8 * 1024,
    };
    let conf = Rc::new(MemberConf {
        ext: scenario.ext,
        heartbeat: Duration::from_secs(5),
        ping_every: Some(match scenario.work {
            Work::Flood { ping_every, .. } => ping_every,
            _ => opts.ping_every,
        }),
        sources: opts.sources.clone(),
        tag: tag.to_string(),
        read_chunk,
        cast: scenario.cast,
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let mut rx = Some(rx);

    // ---- Joins.
    let cpu_join0 = procfs::cpu(&pid).unwrap_or_default();
    let join_start = run.now();
    let mut handles = Vec::with_capacity(n);
    for index in 0..n {
        let cmds = if index == 0 { rx.take() } else { None };
        let handle = match scenario.format {
            Some(format) if index > 0 => {
                tokio::task::spawn_local(formats::member(run.clone(), target.clone(), conf.clone(), format, index))
            }
            _ => tokio::task::spawn_local(member(run.clone(), target.clone(), conf.clone(), index, cmds)),
        };
        handles.push(handle);
    }
    let join_limit = Duration::from_secs(30) + Duration::from_millis(20 * n as u64);
    let deadline = Instant::now() + join_limit;
    let mut last_progress = (0, 0, 0, Instant::now());
    loop {
        let (joined, views, failed) = (run.joined.get(), run.views.get(), run.failed.get());
        // In another format only member 0 keeps a member list. A member counts as joined once
        // it is subscribed, where its scenario subscribes (`Cast::Topic`).
        let done = match scenario.format {
            None => views >= n && joined >= n,
            Some(_) => joined >= n && views >= 1,
        };
        if done || Instant::now() > deadline {
            break;
        }
        if (joined, views, failed) != (last_progress.0, last_progress.1, last_progress.2) {
            last_progress = (joined, views, failed, Instant::now());
        } else if joined + failed >= n && last_progress.3.elapsed() > Duration::from_secs(3) {
            break; // everyone answered; some views will never complete (a member failed)
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let cpu_join1 = procfs::cpu(&pid).unwrap_or_default();
    let joined = run.joined.get();
    metrics.insert("members".into(), n as f64);
    metrics.insert("joined".into(), joined as f64);
    metrics.insert("failed".into(), run.failed.get() as f64);
    metrics.insert("views_complete".into(), run.views.get() as f64);
    if joined >= n {
        metrics.insert("all_joined_ms".into(), run.last_join_at.get().saturating_sub(join_start) as f64 / 1e6);
    }
    if run.views.get() >= n {
        metrics.insert("all_views_ms".into(), run.last_view_at.get().saturating_sub(join_start) as f64 / 1e6);
    }
    metrics.insert("join_cpu_ms".into(), cpu_join1.ns_since(&cpu_join0) as f64 / 1e6);
    put_percentiles(&mut metrics, "join_ms", &mut run.join_ns.borrow_mut(), 1e6);

    tokio::time::sleep(opts.settle).await;
    let rss_joined = procfs::rss(&pid).unwrap_or(0);
    metrics.insert("rss_before_kb".into(), rss_before as f64 / 1024.0);
    metrics.insert("rss_joined_kb".into(), rss_joined as f64 / 1024.0);
    metrics.insert("rss_per_member_joined_b".into(), rss_joined.saturating_sub(rss_before) as f64 / n as f64);

    // ---- The work.
    run.pings.borrow_mut().clear();
    run.pings_lost.set(0);
    let closed_before = run.closed.get();
    let cpu0 = procfs::cpu(&pid).unwrap_or_default();
    let gen0 = procfs::cpu("self").unwrap_or_default();
    let wall0 = Instant::now();
    let mut broadcasts = 0usize;
    match scenario.work {
        Work::Idle { hold } => tokio::time::sleep(hold).await,
        Work::Storm => {}
        Work::Steady { rate, secs, size } => {
            let count = (rate * secs).round() as usize;
            run.expect_broadcasts(count, scenario.cast.receivers(joined));
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            for index in 0..count {
                tick.tick().await;
                if !send(scenario.cast, index, size, &tx, server, &run).await {
                    break;
                }
                broadcasts += 1;
            }
            wait_delivered(&run, broadcasts, Duration::from_secs(3)).await;
        }
        Work::Burst { count, size, window } => {
            run.expect_broadcasts(count, scenario.cast.receivers(joined));
            let limit = Instant::now() + Duration::from_secs(120);
            'send: for index in 0..count {
                while index >= window && !run.complete(index - window) {
                    let left = limit.saturating_duration_since(Instant::now());
                    if left.is_zero() || tokio::time::timeout(left, run.window.notified()).await.is_err() {
                        break 'send;
                    }
                }
                if !send(scenario.cast, index, size, &tx, server, &run).await {
                    break;
                }
                broadcasts += 1;
            }
            wait_delivered(&run, broadcasts, Duration::from_secs(10)).await;
        }
        Work::Flood { frame, before, secs, .. } => {
            flood_phase(&run, &target, &pid, frame, before, secs, tag, &mut metrics).await?;
        }
    }
    let wall = wall0.elapsed().as_secs_f64();
    let cpu1 = procfs::cpu(&pid).unwrap_or_default();
    let gen1 = procfs::cpu("self").unwrap_or_default();
    let rss_end = procfs::rss(&pid).unwrap_or(0);
    let server_ns = cpu1.ns_since(&cpu0) as f64;
    metrics.insert("rss_end_kb".into(), rss_end as f64 / 1024.0);
    metrics.insert("rss_per_member_b".into(), rss_end.saturating_sub(rss_before) as f64 / n as f64);
    metrics.insert("phase_s".into(), wall);
    metrics.insert("server_cores".into(), server_ns / 1e9 / wall.max(1e-9));
    metrics.insert("generator_cores".into(), gen1.ns_since(&gen0) as f64 / 1e9 / wall.max(1e-9));
    metrics.insert("closed".into(), run.closed.get().saturating_sub(closed_before) as f64);
    metrics.insert("held".into(), joined.saturating_sub(run.closed.get()) as f64);
    metrics.insert("errors".into(), run.errors.get() as f64);
    metrics.insert("pings_lost".into(), run.pings_lost.get() as f64);
    metrics.insert("pings".into(), run.pings.borrow().len() as f64);
    put_percentiles(&mut metrics, "ping_ms", &mut run.pings.borrow_mut(), 1e6);
    if broadcasts > 0 {
        let delivered = run.delivered.get();
        let expected = broadcasts as u64 * u64::from(run.receivers.get());
        metrics.insert("broadcasts".into(), broadcasts as f64);
        metrics.insert("delivered".into(), delivered as f64);
        metrics.insert("expected".into(), expected as f64);
        metrics.insert("delivered_ratio".into(), delivered as f64 / expected.max(1) as f64);
        metrics.insert("frame_bytes".into(), run.delivered_bytes.get() as f64 / delivered.max(1) as f64);
        metrics.insert("cpu_us_per_delivery".into(), server_ns / 1e3 / delivered.max(1) as f64);
        // Fan-out per second of server CPU: what the server would do with a core to itself,
        // robust to a machine shared with other work (wall-clock throughput is not).
        metrics.insert("deliveries_per_cpu_s".into(), delivered as f64 / (server_ns / 1e9).max(1e-9));
        if let Some(first) = run.first_send_at.get() {
            let span = run.last_delivery_at.get().saturating_sub(first) as f64 / 1e9;
            metrics.insert("deliveries_per_s".into(), delivered as f64 / span.max(1e-9));
        }
        put_percentiles(&mut metrics, "latency_ms", &mut run.latencies.borrow_mut(), 1e6);
        put_percentiles(&mut metrics, "reach_all_ms", &mut run.reach_all_ns.borrow_mut(), 1e6);
    }
    for (code, count) in run.close_codes.borrow().iter() {
        metrics.insert(format!("closed_by_server_{code}"), *count as f64);
    }
    let codes: Vec<String> =
        run.close_codes.borrow().iter().map(|(code, count)| format!("{count}× close {code}")).collect();
    let note = match (run.first_error.borrow().clone(), codes.is_empty()) {
        (None, true) => None,
        (Some(error), true) => Some(error),
        (None, false) => Some(format!("server closed {}", codes.join(", "))),
        (Some(error), false) => Some(format!("{error}; server closed {}", codes.join(", "))),
    };

    // ---- Teardown: the server first (a thousand members leaving would set off a thousand
    // member_left broadcasts for nothing), then the members.
    server.stop().await;
    run.stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(20), futures_util::future::join_all(handles)).await;
    if joined == 0 {
        bail!("no member could join: {}", note.unwrap_or_default());
    }
    Ok((metrics, note))
}

/// Sends broadcast `index` of `cast`, its text `size` characters long: member 0's chat line or
/// topic broadcast, or the host's notification. Returns `false` when it cannot be sent.
async fn send(
    cast: Cast,
    index: usize,
    size: usize,
    member_0: &mpsc::UnboundedSender<Cmd>,
    server: &mut ServerProc,
    run: &Run,
) -> bool {
    match cast {
        Cast::Chat => member_0.send(Cmd::Chat { index, text_len: size }).is_ok(),
        Cast::Topic => member_0.send(Cmd::Broadcast { index, text_len: size }).is_ok(),
        Cast::Notice => {
            let sent = run.now();
            match server.notify(&marker_text(index, sent, size)).await {
                Ok(()) => {
                    run.note_sent(index, sent);
                    true
                }
                Err(err) => {
                    run.note_error(format!("notify: {err:#}"));
                    false
                }
            }
        }
    }
}

/// The flood: pings before it (their percentiles as `ping_before_ms_*`), then one guest
/// flooding for `secs` while the server's CPU and RSS are read; the pings during the flood are
/// left in `run.pings` for the run's usual `ping_ms_*`.
#[allow(clippy::too_many_arguments)]
async fn flood_phase(
    run: &Run,
    target: &Rc<Target>,
    pid: &str,
    frame: Flood,
    before: Duration,
    secs: Duration,
    tag: &str,
    metrics: &mut Metrics,
) -> anyhow::Result<()> {
    // The recipient of the directs: a member that joined and dropped, so it is reconnecting.
    let to = match frame {
        Flood::Direct8k => flood::reconnecting_member(target, &format!("{tag}-gone")).await?,
        _ => String::new(),
    };
    tokio::time::sleep(before).await;
    let mut pings_before = std::mem::take(&mut *run.pings.borrow_mut());
    metrics.insert("pings_before".into(), pings_before.len() as f64);
    put_percentiles(metrics, "ping_before_ms", &mut pings_before, 1e6);
    let lost_before = run.pings_lost.replace(0);
    metrics.insert("pings_lost_before".into(), lost_before as f64);

    let tally = Rc::new(flood::Tally::default());
    let stop = tokio_util::sync::CancellationToken::new();
    let rss0 = procfs::rss(pid).unwrap_or(0);
    let cpu0 = procfs::cpu(pid).unwrap_or_default();
    let wall0 = Instant::now();
    let flooder = tokio::task::spawn_local(flood::flooder(
        target.clone(),
        frame,
        format!("{tag}-flood"),
        to,
        stop.clone(),
        tally.clone(),
    ));
    // RSS every 100 ms: the peak, not only the end, is what a host must have room for.
    let mut peak = rss0;
    while wall0.elapsed() < secs {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(procfs::rss(pid).unwrap_or(0));
    }
    let cpu1 = procfs::cpu(pid).unwrap_or_default();
    let wall = wall0.elapsed().as_secs_f64();
    let rss1 = procfs::rss(pid).unwrap_or(0);
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), flooder).await;
    metrics.insert("flood_server_cores".into(), cpu1.ns_since(&cpu0) as f64 / 1e9 / wall.max(1e-9));
    metrics.insert("flood_rss_growth_kb".into(), rss1.saturating_sub(rss0) as f64 / 1024.0);
    metrics.insert("flood_rss_peak_growth_kb".into(), peak.saturating_sub(rss0) as f64 / 1024.0);
    metrics.insert("flood_sent".into(), tally.sent.get() as f64);
    metrics.insert("flood_sent_per_s".into(), tally.sent.get() as f64 / wall.max(1e-9));
    metrics.insert("flood_answered".into(), tally.answered.get() as f64);
    metrics.insert("flood_rate_limited".into(), tally.rate_limited.get() as f64);
    metrics.insert("flood_connections".into(), tally.connections.get() as f64);
    for (code, count) in tally.closes.borrow().iter() {
        metrics.insert(format!("flood_closed_{code}"), *count as f64);
    }
    Ok(())
}

/// Waits until `broadcasts` have reached every receiver, or `grace` passes without a delivery.
async fn wait_delivered(run: &Run, broadcasts: usize, grace: Duration) {
    let expected = broadcasts as u64 * run.receivers.get() as u64;
    let mut last = (run.delivered.get(), Instant::now());
    while run.delivered.get() < expected {
        if run.delivered.get() != last.0 {
            last = (run.delivered.get(), Instant::now());
        } else if last.1.elapsed() > grace {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
