//! `partyline-bench`: Partyline's load generator and benchmark suite.
//!
//! `partyline-bench --quick` (a smoke run of a few seconds) or `partyline-bench` (the full run,
//! see docs/performance.md) starts each server under test in a process of its own, pinned to
//! core 0 while the generator runs on core 1, drives it through the real protocol with many
//! members from this one process, and prints a Markdown table: the median of each figure per
//! server and the ratio Partyline ÷ reference (median, min and max over A-B pairs).
//!
//! # Layout
//! - `main`: the command line and the run loop (scenarios × pairs × servers).
//! - `client`: the members (a minimal, fast WebSocket client) and a run's tallies.
//! - `flood`: the one guest of the `flood-*` scenarios that floods a kind of frame.
//! - `formats`: members in the other wire formats (Together, Pavilion, seed 001, Revenge), for
//!   `*-<format>` scenarios.
//! - `runner`: scenarios, server processes, one measured run.
//! - `report`: medians, ratios, the goals.
//! - `serve`: `serve-partyline`, Partyline's server in its own process.
//! - `bare`: `serve-bare`, the minimal tokio-tungstenite reference server.
//! - `procfs`: CPU time and RSS of a process, how busy the machine is.

mod bare;
mod client;
mod flood;
mod formats;
mod procfs;
mod report;
mod runner;
mod serve;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use report::Record;
use runner::{Kind, Opts};

/// Benchmarks Partyline's host against bare tokio-tungstenite and Node ws.
#[derive(Parser)]
#[command(name = "partyline-bench", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the benchmark (the default).
    Run(RunArgs),
    /// Serve Partyline (partyline_server) with the bench's limits; used by `run`.
    ServePartyline(serve::ServeArgs),
    /// Serve the bare tokio-tungstenite reference server; used by `run`.
    ServeBare(serve::ServeArgs),
}

#[derive(Args, Clone, Debug)]
struct RunArgs {
    /// The smoke run: small N, one pair, a few seconds per server.
    #[arg(long)]
    quick: bool,
    /// A-B pairs per scenario (default: 3, or 1 with --quick).
    #[arg(long)]
    pairs: Option<usize>,
    /// Servers to run, comma-separated: partyline, bare, ws-node.
    #[arg(long, value_delimiter = ',', default_value = "partyline,bare,ws-node")]
    servers: Vec<String>,
    /// Only the scenarios whose name contains one of these (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Write every run's figures here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the Markdown tables here too.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Do not pin servers to core 0 and the generator to core 1.
    #[arg(long)]
    no_pin: bool,
    /// Longest wait for a quiet machine before each pair, seconds (default: 30, or 5 with --quick).
    #[arg(long)]
    quiet_wait: Option<u64>,
    /// "Quiet": at most this many cores busy over a second.
    #[arg(long, default_value_t = 0.3)]
    quiet_cores: f64,
    /// The Node.js binary.
    #[arg(long, default_value = "node")]
    node: String,
    /// The directory with server.js and node_modules (default: bench/ws-node of this checkout).
    #[arg(long)]
    ws_node_dir: Option<PathBuf>,
    /// Spread members over 127.0.0.1..127.0.0.K as source addresses (each holds ~28k ports).
    #[arg(long, default_value_t = 1)]
    source_addrs: u8,
    /// Members between connect and welcome at once (a join storm sends all at once).
    #[arg(long, default_value_t = 200)]
    join_concurrency: usize,
    /// Members' ping interval, ms.
    #[arg(long, default_value_t = 5000)]
    ping_every_ms: u64,
    /// An argument for every `serve-partyline` (repeat it), e.g. --partyline-arg=--replay-capacity=0.
    #[arg(long, allow_hyphen_values = true)]
    partyline_arg: Vec<String>,
    /// A command (split at spaces) to run each server under, e.g. "heaptrack -o /tmp/hp". The
    /// server then gets its standard input closed and 60 s to exit on its own at the end.
    #[arg(long)]
    server_wrap: Option<String>,
    /// An argument for every `serve-bare` (repeat it), e.g. --bare-arg=--no-nodelay.
    #[arg(long, allow_hyphen_values = true)]
    bare_arg: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::ServePartyline(args)) => serve::partyline(args),
        Some(Command::ServeBare(args)) => bare::serve(args),
        Some(Command::Run(args)) => run(args),
        None => run(cli.run),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("partyline-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn which(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

fn default_ws_node_dir() -> PathBuf {
    let here = PathBuf::from("bench/ws-node");
    if here.join("server.js").exists() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/ws-node")
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo.lines().next().unwrap_or_default().split_whitespace().nth(1).unwrap_or("0");
    let mem_gib = mem.parse::<f64>().unwrap_or(0.0) / 1024.0 / 1024.0;
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    format!("{cores} cores ({model}), {mem_gib:.1} GiB, Linux {}, load {}", kernel.trim(), procfs::loadavg())
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let scenarios: Vec<_> = runner::scenarios(args.quick)
        .into_iter()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| s.name.contains(o.as_str())))
        .collect();
    if args.list {
        for s in &scenarios {
            let kinds: Vec<_> = s.kinds.iter().map(|k| k.name()).collect();
            println!(
                "{:<30} N = {:<6} {} {:?} {:?} [{}]",
                s.name,
                s.n,
                s.format.map_or(if s.ext { "partyline/1" } else { "1.0" }, |f| f.name()),
                s.cast,
                s.work,
                kinds.join(",")
            );
        }
        return Ok(());
    }
    // 10,000 connections need 10,000 descriptors here and in each server (children inherit it).
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let mut kinds = Vec::new();
    for name in &args.servers {
        let kind = Kind::parse(name).ok_or_else(|| anyhow::anyhow!("unknown server {name}"))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let ws_node_dir = args.ws_node_dir.clone().unwrap_or_else(default_ws_node_dir);
    if kinds.contains(&Kind::WsNode) {
        let missing = if !which(&args.node) {
            Some(format!("{} not found", args.node))
        } else if !ws_node_dir.join("node_modules/ws").exists() {
            Some(format!("no node_modules/ws in {} (run `npm install` there)", ws_node_dir.display()))
        } else {
            None
        };
        if let Some(why) = missing {
            eprintln!("partyline-bench: skipping ws-node: {why}");
            kinds.retain(|k| *k != Kind::WsNode);
        }
    }
    let pin = !args.no_pin && procfs::cores() >= 2 && which("taskset");
    if pin {
        // The generator on core 1 (every thread), each server on core 0.
        let pid = std::process::id().to_string();
        let pinned = std::process::Command::new("taskset")
            .args(["-a", "-p", "-c", "1", &pid])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !pinned {
            eprintln!("partyline-bench: could not pin the generator to core 1");
        }
    }
    let sources: Vec<IpAddr> = if args.source_addrs > 1 {
        (1..=args.source_addrs).map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i))).collect()
    } else {
        Vec::new()
    };
    let opts = Opts {
        exe: std::env::current_exe()?,
        node: args.node.clone(),
        ws_node_dir,
        server_core: pin.then_some(0),
        sources,
        join_concurrency: args.join_concurrency,
        settle: if args.quick { Duration::from_millis(300) } else { Duration::from_secs(1) },
        ping_every: Duration::from_millis(args.ping_every_ms),
        partyline_args: args.partyline_arg.clone(),
        bare_args: args.bare_arg.clone(),
        wrap: args
            .server_wrap
            .as_deref()
            .map(|w| w.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
    };
    let pairs = args.pairs.unwrap_or(if args.quick { 1 } else { 3 });
    let quiet_wait = Duration::from_secs(args.quiet_wait.unwrap_or(if args.quick { 5 } else { 30 }));
    let header = format!(
        "machine: {}\npinning: {}\nfile descriptors: {nofile}\npairs: {pairs}; servers: {}",
        machine(),
        if pin { "servers on core 0, generator on core 1" } else { "none" },
        kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
    );
    eprintln!("{header}");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    let started = std::time::Instant::now();
    let records = local.block_on(&runtime, async {
        let mut records: Vec<Record> = Vec::new();
        // A scenario in another format runs in its twin's pairs (twin, then each format), so
        // that the ratio between them is taken a minute apart, not minutes.
        for group in runner::twin_groups(&scenarios) {
            let runs: Vec<(&runner::Scenario, Kind)> = group
                .iter()
                .flat_map(|scenario| kinds.iter().filter(|k| scenario.kinds.contains(k)).map(move |k| (*scenario, *k)))
                .collect();
            for pair in 0..group[0].max_pairs.map_or(pairs, |m| m.min(pairs)) {
                let (busy, waited) = procfs::wait_quiet(args.quiet_cores, quiet_wait).await;
                if waited > Duration::from_secs(2) {
                    eprintln!(
                        "  (waited {:.0} s for a quiet machine; busy {:.2} cores)",
                        waited.as_secs_f64(),
                        busy.unwrap_or(f64::NAN)
                    );
                }
                for (scenario, kind) in &runs {
                    let tag = format!("b{}{}{}", records.len(), kind.name().len(), pair);
                    let outcome = runner::run_once(scenario, *kind, &opts, &tag).await;
                    let record = match outcome {
                        Ok((metrics, note)) => Record {
                            scenario: scenario.name.clone(),
                            kind: *kind,
                            pair,
                            busy_before: busy,
                            metrics,
                            note,
                        },
                        Err(err) => Record {
                            scenario: scenario.name.clone(),
                            kind: *kind,
                            pair,
                            busy_before: busy,
                            metrics: Default::default(),
                            note: Some(format!("run failed: {err:#}")),
                        },
                    };
                    eprintln!("{}", progress_line(scenario, &record));
                    records.push(record);
                }
            }
        }
        records
    });
    let table = report::table(&scenarios, &kinds, &records);
    let goals = report::goals(&records);
    let elapsed = started.elapsed().as_secs_f64();
    let mut text = format!("```\n{header}\nwall time: {elapsed:.0} s\n```\n\n{table}");
    if let Some(formats) = report::formats(&scenarios, &records) {
        text.push_str(&format!("\n{formats}"));
    }
    if !args.quick {
        text.push_str(&format!("\n{goals}"));
    }
    println!("{text}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &text)?;
    }
    if let Some(path) = &args.json {
        let json = serde_json::json!({ "machine": machine(), "pinned": pin, "pairs": pairs, "runs": records });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    let failed: Vec<_> = records.iter().filter(|r| r.metrics.is_empty()).collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "{} run(s) failed; first: {} on {}: {}",
            failed.len(),
            failed[0].scenario,
            failed[0].kind.name(),
            failed[0].note.clone().unwrap_or_default()
        );
    }
    Ok(())
}

fn progress_line(scenario: &runner::Scenario, record: &Record) -> String {
    let m = &record.metrics;
    let get = |k: &str| m.get(k).copied().unwrap_or(f64::NAN);
    let mut line = format!("{:<20} {:<9} pair {}:", scenario.name, record.kind.name(), record.pair + 1);
    if m.is_empty() {
        line.push_str(&format!(" FAILED {}", record.note.clone().unwrap_or_default()));
        return line;
    }
    line.push_str(&format!(
        " joined {}/{} lists {} in {} ms; rss/member {} B",
        get("joined"),
        get("members"),
        get("views_complete"),
        report::num(get("all_views_ms")),
        report::num(get("rss_per_member_b"))
    ));
    if m.contains_key("delivered") {
        line.push_str(&format!(
            "; delivered {}/{}; {}/s; cpu {} µs/delivery; p50 {} p99 {} ms; gen {} cores",
            get("delivered"),
            get("expected"),
            report::num(get("deliveries_per_s")),
            report::num(get("cpu_us_per_delivery")),
            report::num(get("latency_ms_p50")),
            report::num(get("latency_ms_p99")),
            report::num(get("generator_cores"))
        ));
    }
    if get("pings") > 0.0 {
        line.push_str(&format!("; ping p99 {} ms", report::num(get("ping_ms_p99"))));
    }
    if m.contains_key("flood_sent") {
        line.push_str(&format!(
            "; flood sent {} ({}/s), answered {}, rate-limited {}, connections {}; ping p99 before {} ms; \
             server {} cores, RSS +{} kB (peak +{} kB)",
            report::num(get("flood_sent")),
            report::num(get("flood_sent_per_s")),
            report::num(get("flood_answered")),
            report::num(get("flood_rate_limited")),
            report::num(get("flood_connections")),
            report::num(get("ping_before_ms_p99")),
            report::num(get("flood_server_cores")),
            report::num(get("flood_rss_growth_kb")),
            report::num(get("flood_rss_peak_growth_kb")),
        ));
    }
    if get("closed") > 0.0 || get("errors") > 0.0 {
        line.push_str(&format!("; closed {} errors {}", get("closed"), get("errors")));
    }
    if let Some(note) = &record.note {
        line.push_str(&format!(" [{}]", note.chars().take(160).collect::<String>()));
    }
    line
}
