//! `serve-partyline`: the real Partyline server ([`partyline_server::Server::start`]) in a
//! process of its own, so that its CPU and memory are measured apart from the load generator.
//! It prints one JSON line (`kind`, `wsUrl`, `sessionId`, `joinKey`, `pid`) and runs until its
//! standard input closes (the bench holds it open) or it is killed.
//!
//! Its standard input also carries the host's side of a scenario, one command a line:
//! `notify <title>` sends a host notification (`ServerHandle::notify`, level `info`, no body),
//! what every partyline/1, seed-001 and Revenge member receives, so that the bench can broadcast
//! the way a host does. Commands are carried out in order, one at a time; a refused one is
//! reported on standard error and the server goes on.

use std::net::{IpAddr, SocketAddr};

use clap::Args;
use partyline_protocol::NotificationLevel;
use partyline_server::{Limits, Server, ServerConfig};
use partyline_session::Config as SessionConfig;
use serde_json::json;

/// Settings of a server under test.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (loopback only: the bench never leaves this machine).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Most members (Partyline allows 1 to 10,000).
    #[arg(long, default_value_t = 10_000)]
    pub max_members: u32,
    /// Token bucket size per connection. The host's default (60) would drop a benchmark's
    /// sender after a second; raised so that the bench measures fan-out, not the limiter.
    #[arg(long, default_value_t = 1_000_000)]
    pub burst: u32,
    /// Token bucket refill per second per connection (the host's default is 30).
    #[arg(long, default_value_t = 1_000_000)]
    pub per_second: u32,
    /// Connections allowed from one address (the host's default is 32).
    #[arg(long, default_value_t = 1_000_000)]
    pub max_conns_per_addr: usize,
    /// WebSocket read buffer per connection, bytes (Partyline's default: 4096).
    #[arg(long)]
    pub read_buffer: Option<usize>,
    /// WebSocket write buffer target per connection, bytes (Partyline's default: 16384).
    #[arg(long)]
    pub write_buffer: Option<usize>,
    /// Outbound queue per connection, messages (Partyline's default: 256).
    #[arg(long)]
    pub outbound_queue: Option<usize>,
    /// Sequenced messages the party's log keeps for resume (Partyline's default: 4,096).
    #[arg(long)]
    pub replay_capacity: Option<usize>,
    /// Partyline only: the host's own rate limit (`Limits::default()`'s burst and refill),
    /// overriding `--burst` and `--per-second`, for the flood scenarios.
    #[arg(long)]
    pub host_limits: bool,
    /// Bare server only: leave Nagle's algorithm on (no TCP_NODELAY), as Partyline's server
    /// did before it set TCP_NODELAY. By default the bare server sets it, as Node's ws and
    /// Partyline's server do.
    #[arg(long)]
    pub no_nodelay: bool,
}

/// The Partyline limits for a bench: the defaults, with the per-connection rate limit and
/// the per-address connection cap out of the way, and any buffer size given on the command line.
pub fn limits(args: &ServeArgs) -> Limits {
    let defaults = Limits::default();
    Limits {
        burst: if args.host_limits { defaults.burst } else { args.burst },
        per_second: if args.host_limits { defaults.per_second } else { args.per_second },
        max_conns_per_addr: args.max_conns_per_addr,
        read_buffer: args.read_buffer.unwrap_or(defaults.read_buffer),
        write_buffer: args.write_buffer.unwrap_or(defaults.write_buffer),
        outbound_queue: args.outbound_queue.unwrap_or(defaults.outbound_queue),
        // Every member connects from loopback, many at once: the HTTP caps out of the way too.
        max_http_per_addr: args.max_conns_per_addr,
        max_http: args.max_conns_per_addr,
        ..defaults
    }
}

/// Runs the Partyline server until standard input closes.
pub fn partyline(args: ServeArgs) -> anyhow::Result<()> {
    // The same runtime as `partyline host`: multi-threaded, one worker per core it may use
    // (one when the bench pins it to a core).
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let defaults = SessionConfig::default();
        let session = SessionConfig {
            name: "Bench".into(),
            host_name: "bench-host".into(),
            max_members: args.max_members,
            replay_capacity: args.replay_capacity.unwrap_or(defaults.replay_capacity),
            ..defaults
        };
        let config = ServerConfig {
            bind: SocketAddr::new(args.bind, args.port),
            session,
            limits: limits(&args),
            ..ServerConfig::default()
        };
        let handle = Server::start(config).await?;
        let addr = handle.local_addr();
        announce("partyline", addr, handle.session_id(), handle.join_key().as_deref());
        host_commands(&handle).await;
        handle.shutdown(None).await;
        anyhow::Ok(())
    })
}

/// Prints the line the bench waits for.
pub fn announce(kind: &str, addr: SocketAddr, session_id: &str, join_key: Option<&str>) {
    let line = json!({
        "kind": kind,
        "wsUrl": format!("ws://{addr}/ws"),
        "port": addr.port(),
        "sessionId": session_id,
        "joinKey": join_key,
        "pid": std::process::id(),
    });
    println!("{line}");
}

/// Carries out the host commands on standard input (see the module's doc) until it reaches its
/// end (the bench closed it, or died).
async fn host_commands(handle: &partyline_server::ServerHandle) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match line.split_once(' ') {
            Some(("notify", title)) => {
                if let Err(err) = handle.notify(title, "", NotificationLevel::Info).await {
                    eprintln!("serve-partyline: notify refused: {err}");
                }
            }
            _ => eprintln!("serve-partyline: unknown command {line:?}"),
        }
    }
}

/// Resolves when standard input reaches its end (the bench closed it, or died).
pub async fn wait_for_stdin_eof() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    loop {
        match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
