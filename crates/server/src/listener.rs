//! The accept loop (mini-redis's `Listener` role) and the admission of every TCP connection the
//! port accepts, before HTTP or WebSocket is spoken on it.
//!
//! Each accepted connection is counted in [`Admission`], served by hyper's HTTP/1 connection
//! with a header-read deadline (which hyper restarts while it waits for the next request on a
//! keep-alive connection, so it is the idle timeout too), and handed to the axum router with
//! the peer ([`ConnectInfo`]), the address it arrived on ([`LocalAddr`]) and its place in the
//! count ([`ConnSlot`]) as request extensions. A connection that upgrades to a WebSocket stops
//! counting as HTTP and counts as a guest until it ends.
//!
//! When a cap is reached the oldest HTTP connection that is idle or still reading its headers
//! is shed (never one in the middle of a request or a response), so that a flood of connections
//! that trickle their headers cannot keep a guest's fresh request out; if none can be shed, the
//! new connection is refused. Both are logged with `warn!`, at most once a second.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::Limits;

/// Descriptors kept for the host's own files and sockets (the media files it serves, the
/// session's log, mDNS, the desktop app's own): connections may use the rest.
const HOST_FILES: u64 = 64;

/// How long the accept loop pauses after an accept error. EMFILE repeats at once until a
/// descriptor is freed, so retrying at once would spin a core; a tenth of a second lets shed
/// connections close and costs a guest little.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The largest request head (and response buffer) one HTTP connection may hold. hyper's
/// default, ~400 KB, times 256 connections would let unfinished requests hold 100 MB; a phone's
/// head is under 2 KiB (we set no cookies), so 64 KiB bounds them at 16 MiB and refuses no
/// browser. A longer head gets 431.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Connections the kernel holds for us before we accept them (`listen`'s backlog; the kernel
/// caps it at `net.core.somaxconn`, 4096 on current Linux). The standard library's `bind` asks
/// for 128: a hall of phones scanning one QR code at once overflows that, and each connection
/// the kernel drops waits a SYN retransmit, a second or more, before it tries again (measured:
/// a thousand joins at once took 1.5 s, about half of them after a retransmit).
const ACCEPT_BACKLOG: u32 = 4096;

/// Binds the host's listening socket as `std` would, with room for [`ACCEPT_BACKLOG`]
/// connections waiting to be accepted. Like `std`, `SO_REUSEADDR` on Unix only (a restart need
/// not wait for the old connections' `TIME_WAIT`, and a second host on the port still fails);
/// on Windows that option would let a second host take the port, so it is left off there.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Shedding and accept errors are logged at most this often, with a count: a flood of
/// thousands of connections a second must not become a flood of log lines.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// The address a connection arrived on (the listener's, or the interface's when it listens on
/// every address): what the `Host` header must name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalAddr(pub(crate) SocketAddr);

/// The caps admission enforces, derived once at start from [`Limits`] and the descriptor limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caps {
    /// HTTP connections from one address.
    pub(crate) http_per_addr: usize,
    /// HTTP connections in total.
    pub(crate) http: usize,
    /// Every connection, HTTP and WebSocket.
    pub(crate) connections: usize,
}

impl Caps {
    /// The caps for these limits when the process may hold `descriptors` open files: connections
    /// get what the host's own files leave, and HTTP at most half of that, so that half the
    /// descriptors always stay for guests' WebSockets however many HTTP connections arrive.
    pub(crate) fn derive(limits: &Limits, descriptors: u64) -> Caps {
        let free = usize::try_from(descriptors.saturating_sub(HOST_FILES)).unwrap_or(usize::MAX);
        let connections = limits.max_connections.unwrap_or(free).max(2);
        let http = limits.max_http.min(connections / 2).max(1);
        Caps { http_per_addr: limits.max_http_per_addr.min(http).max(1), http, connections }
    }
}

/// Raises the soft limit on open files to the hard one and returns it. Linux starts most
/// processes at a soft 1,024, which a party of a few hundred phones with a page load each
/// (about six connections) would reach; the hard limit is usually far higher.
pub(crate) fn raise_descriptor_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(err) => {
            warn!(cause = %err, "cannot raise the open-file limit; assuming 1024");
            1024
        }
    }
}

/// Which cap a connection met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cap {
    HttpPerAddr,
    Http,
    Connections,
}

impl Cap {
    fn name(self) -> &'static str {
        match self {
            Cap::HttpPerAddr => "http_per_addr",
            Cap::Http => "http",
            Cap::Connections => "connections",
        }
    }
}

/// Every connection the port holds, and the caps on them.
pub(crate) struct Admission {
    caps: Caps,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    /// By accept order: the first sheddable one is the oldest.
    conns: BTreeMap<u64, Held>,
    http: usize,
    http_per_addr: HashMap<IpAddr, usize>,
    log: LoadLog,
}

struct Held {
    ip: IpAddr,
    kind: Kind,
    /// Cancelled to close the connection when it is shed.
    shed: CancellationToken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Not upgraded; `busy` requests are between their head and the end of their response.
    Http { busy: u32 },
    /// Upgraded to a WebSocket.
    Guest,
}

/// Shedding, counted between two log lines.
#[derive(Default)]
struct LoadLog {
    shed: u64,
    refused: u64,
    last: Option<Instant>,
}

impl Admission {
    pub(crate) fn new(caps: Caps) -> Arc<Admission> {
        Arc::new(Admission { caps, table: Mutex::default() })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // The table's invariants hold between statements; a panic elsewhere cannot break them.
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a new connection from `ip`, shedding an older one if a cap is reached; `None`:
    /// refused (at a cap with nothing sheddable).
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<(Arc<ConnSlot>, CancellationToken)> {
        let mut table = self.table();
        let caps = self.caps;
        let checks = [(Cap::HttpPerAddr, Some(ip)), (Cap::Http, None), (Cap::Connections, None)];
        for (cap, from) in checks {
            let full = match cap {
                Cap::HttpPerAddr => table.http_per_addr.get(&ip).copied().unwrap_or(0) >= caps.http_per_addr,
                Cap::Http => table.http >= caps.http,
                Cap::Connections => table.conns.len() >= caps.connections,
            };
            if !full {
                continue;
            }
            let shed = table.shed_oldest(from);
            table.log_load(cap, shed, caps);
            if !shed {
                return None;
            }
        }
        let id = table.next_id;
        table.next_id += 1;
        let shed = CancellationToken::new();
        table.conns.insert(id, Held { ip, kind: Kind::Http { busy: 0 }, shed: shed.clone() });
        table.http += 1;
        *table.http_per_addr.entry(ip).or_insert(0) += 1;
        Some((Arc::new(ConnSlot { admission: self.clone(), id }), shed))
    }

    /// Connections now: (HTTP, WebSocket).
    #[cfg(test)]
    fn counts(&self) -> (usize, usize) {
        let table = self.table();
        (table.http, table.conns.len() - table.http)
    }
}

impl Table {
    /// Sheds the oldest HTTP connection that is idle or reading its headers (from `ip` if
    /// given); `false` if there is none.
    fn shed_oldest(&mut self, ip: Option<IpAddr>) -> bool {
        let victim = self
            .conns
            .iter()
            .find(|(_, held)| held.kind == Kind::Http { busy: 0 } && ip.is_none_or(|ip| held.ip == ip))
            .map(|(id, _)| *id);
        let Some(held) = victim.and_then(|id| self.conns.remove(&id)) else { return false };
        self.forget_http(held.ip);
        held.shed.cancel();
        true
    }

    fn forget_http(&mut self, ip: IpAddr) {
        self.http -= 1;
        if let Some(count) = self.http_per_addr.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                self.http_per_addr.remove(&ip);
            }
        }
    }

    fn log_load(&mut self, cap: Cap, shed: bool, caps: Caps) {
        if shed {
            self.log.shed += 1;
        } else {
            self.log.refused += 1;
        }
        let now = Instant::now();
        if self.log.last.is_some_and(|last| now < last + LOG_EVERY) {
            return;
        }
        warn!(
            cap = cap.name(),
            shed = self.log.shed,
            refused = self.log.refused,
            http = self.http,
            connections = self.conns.len(),
            http_cap = caps.http,
            http_per_addr_cap = caps.http_per_addr,
            connections_cap = caps.connections,
            "shedding load: at a connection cap, closing the oldest idle HTTP connections (counts since the last line)"
        );
        self.log = LoadLog { shed: 0, refused: 0, last: Some(now) };
    }
}

/// One connection's place in [`Admission`], given back when the last clone is dropped: the
/// connection task holds one, each request's extensions one, and a WebSocket's task one.
pub(crate) struct ConnSlot {
    admission: Arc<Admission>,
    id: u64,
}

impl ConnSlot {
    /// A request's head has been read: the connection is busy (not sheddable) until the
    /// returned guard is dropped, at the end of the response body.
    fn begin_request(self: &Arc<Self>) -> RequestGuard {
        if let Some(Held { kind: Kind::Http { busy }, .. }) = self.admission.table().conns.get_mut(&self.id) {
            *busy += 1;
        }
        RequestGuard { slot: self.clone() }
    }

    /// The connection became a WebSocket: it is a guest now, never shed (the WebSocket's own
    /// per-address cap applies to it).
    pub(crate) fn upgraded(&self) {
        let mut table = self.admission.table();
        let Some(held) = table.conns.get_mut(&self.id) else { return };
        if matches!(held.kind, Kind::Http { .. }) {
            held.kind = Kind::Guest;
            let ip = held.ip;
            table.forget_http(ip);
        }
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut table = self.admission.table();
        // Absent when shed: its counts went when it was.
        if let Some(held) = table.conns.remove(&self.id)
            && matches!(held.kind, Kind::Http { .. })
        {
            table.forget_http(held.ip);
        }
    }
}

/// A request in flight; dropped with its response body.
struct RequestGuard {
    slot: Arc<ConnSlot>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if let Some(Held { kind: Kind::Http { busy }, .. }) = self.slot.admission.table().conns.get_mut(&self.slot.id) {
            *busy = busy.saturating_sub(1);
        }
    }
}

/// A response body that keeps its request's [`RequestGuard`] until hyper has written it all (a
/// media file can stream long after the handler returned).
struct GuardedBody {
    body: Body,
    _guard: RequestGuard,
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The accept loop.
pub(crate) struct Listener {
    pub(crate) listener: TcpListener,
    pub(crate) admission: Arc<Admission>,
    pub(crate) router: Router,
    pub(crate) header_read_timeout: Duration,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
}

impl Listener {
    /// Accepts until shutdown; each connection is served in its own tracked task.
    pub(crate) async fn run(self) {
        let mut errors = 0u64;
        let mut last_error_log: Option<Instant> = None;
        loop {
            let accepted = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(err) => {
                    errors += 1;
                    let now = Instant::now();
                    if last_error_log.is_none_or(|last| now >= last + LOG_EVERY) {
                        warn!(cause = %err, errors, "accept failed; backing off (counts since the last line)");
                        last_error_log = Some(now);
                        errors = 0;
                    }
                    tokio::select! {
                        () = self.shutdown.cancelled() => break,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            }
        }
        debug!("accept loop finished");
    }

    fn admit(&self, stream: TcpStream, peer: SocketAddr) {
        let Some((slot, shed)) = self.admission.admit(peer.ip().to_canonical()) else {
            return; // Refused (and logged): dropping the stream closes it.
        };
        // Small messages are the whole protocol: without TCP_NODELAY each batch waits for the
        // peer's delayed ACK (40 ms on Linux), measured as 40 ms p99s and a quarter of the
        // throughput in the benchmark.
        let _ = stream.set_nodelay(true);
        let Ok(local) = stream.local_addr() else { return };
        let connection = Connection {
            stream,
            peer,
            local,
            slot,
            shed,
            router: self.router.clone(),
            header_read_timeout: self.header_read_timeout,
            shutdown: self.shutdown.clone(),
        };
        self.tracker.spawn(connection.serve().instrument(info_span!("http", %peer)));
    }
}

/// One accepted TCP connection, served as HTTP/1 until it ends, is shed, or upgrades.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    slot: Arc<ConnSlot>,
    shed: CancellationToken,
    router: Router,
    header_read_timeout: Duration,
    shutdown: CancellationToken,
}

impl Connection {
    async fn serve(self) {
        let Connection { stream, peer, local, slot, shed, router, header_read_timeout, shutdown } = self;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let guard = slot.begin_request();
            let extensions = request.extensions_mut();
            extensions.insert(ConnectInfo(peer));
            extensions.insert(LocalAddr(local));
            extensions.insert(slot.clone());
            let router = router.clone();
            async move {
                let response = match tower::ServiceExt::oneshot(router, request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(response.map(|body| Body::new(GuardedBody { body, _guard: guard })))
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .max_header_size(MAX_HEAD_BYTES)
            .max_buf_size(MAX_HEAD_BYTES);
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        tokio::pin!(connection);
        tokio::select! {
            biased;
            () = shed.cancelled() => debug!("shed"),
            served = connection.as_mut() => {
                if let Err(err) = served {
                    debug!(cause = %err, "connection ended");
                }
            }
            () = shutdown.cancelled() => {
                // Finish the request in flight, then close; ServerHandle::shutdown bounds the wait.
                connection.as_mut().graceful_shutdown();
                tokio::select! {
                    () = shed.cancelled() => {}
                    _ = connection.as_mut() => {}
                }
            }
        }
    }
}

/// The router's outermost layer: a request whose `Host` (or absolute URI) does not name this
/// host is refused with 421 before any route sees it. A page a rebinding DNS name serves from
/// this address carries that name, so it cannot reach the host's routes as a same-origin page.
pub(crate) async fn check_host(request: Request, next: Next) -> Response {
    let local = request.extensions().get::<LocalAddr>().map(|local| local.0);
    let host = request.headers().get(header::HOST).and_then(|host| host.to_str().ok());
    let named = match (local, host) {
        (Some(local), Some(host)) => {
            names_this_host(host, local)
                && request.uri().authority().is_none_or(|authority| names_this_host(authority.as_str(), local))
        }
        _ => false,
    };
    if named {
        return next.run(request).await;
    }
    debug!(host, local = ?local, path = request.uri().path(), "refused: the Host does not name this host");
    (StatusCode::MISDIRECTED_REQUEST, "This host answers only to its own address (the Host header)\n").into_response()
}

/// Whether a `Host` value names `local`: its IP literal, or `localhost` for a loopback
/// address. The port, when given, must be a port but need not be ours: a browser always sends
/// the port it connected to, so only a TCP proxy or a port forward in between makes it differ
/// (our browser tests' proxy does), and a rebinding page is caught by its name alone.
fn names_this_host(host: &str, local: SocketAddr) -> bool {
    let (name, port, bracketed) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((name, port)) => (name, port, true),
            None => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, _)) => (name, &host[name.len()..], false),
            None => (host, "", false),
        },
    };
    if !port.is_empty() && port.strip_prefix(':').and_then(|port| port.parse::<u16>().ok()).is_none() {
        return false;
    }
    let ip = local.ip().to_canonical();
    if bracketed {
        name.parse::<Ipv6Addr>().is_ok_and(|named| IpAddr::V6(named).to_canonical() == ip)
    } else if let Ok(named) = name.parse::<Ipv4Addr>() {
        IpAddr::V4(named) == ip
    } else {
        name.eq_ignore_ascii_case("localhost") && ip.is_loopback()
    }
}

/// Logs the caps once at start.
pub(crate) fn log_caps(caps: Caps, descriptors: u64) {
    info!(
        descriptors,
        connections = caps.connections,
        http = caps.http,
        http_per_addr = caps.http_per_addr,
        "connection caps"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(http_per_addr: usize, http: usize, connections: usize) -> Arc<Admission> {
        Admission::new(Caps { http_per_addr, http, connections })
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    /// Only an IP literal equal to the local address (or `localhost` on loopback) names this
    /// host, with any well-formed port.
    #[test]
    fn host_names() {
        let local: SocketAddr = "192.168.1.20:48321".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[fe80::1]:4000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:192.168.1.20]:48321".parse().unwrap();
        let cases = [
            ("192.168.1.20:48321", local, true),
            ("192.168.1.20:48322", local, true),
            ("192.168.1.20", local, true),
            ("192.168.1.20:", local, false),
            ("192.168.1.20:99999", local, false),
            ("192.168.1.20:http", local, false),
            ("192.168.1.21:48321", local, false),
            ("evil.example:48321", local, false),
            ("localhost:48321", local, false),
            ("localhost", loopback, true),
            ("LOCALHOST:80", loopback, true),
            ("127.0.0.1", loopback, true),
            ("127.1:80", loopback, false),
            ("[fe80::1]:4000", v6, true),
            ("[fe80::1]", v6, true),
            ("[fe80::2]:4000", v6, false),
            ("fe80::1:4000", v6, false),
            ("[fe80::1:4000", v6, false),
            ("192.168.1.20:48321", mapped, true),
            ("", local, false),
        ];
        for (host, local, expected) in cases {
            assert_eq!(names_this_host(host, local), expected, "Host {host:?} on {local}");
        }
    }

    /// At the per-address cap the oldest idle connection from that address is shed, not
    /// another address's; a busy one is never shed, and when all are busy the new one is
    /// refused.
    #[test]
    fn sheds_the_oldest_idle_from_the_same_address() {
        let admission = caps(2, 10, 20);
        let (a1, a1_shed) = admission.admit(ip(1)).unwrap();
        let (_b1, b1_shed) = admission.admit(ip(2)).unwrap();
        let (a2, a2_shed) = admission.admit(ip(1)).unwrap();
        let busy = a2.begin_request();
        let (_a3, a3_shed) = admission.admit(ip(1)).expect("the idle a1 is shed for it");
        assert!(a1_shed.is_cancelled() && !b1_shed.is_cancelled() && !a2_shed.is_cancelled(), "only a1 is shed");
        drop(a1);
        assert_eq!(admission.counts(), (3, 0), "a1's drop after its shed does not count twice");
        let _a3_busy = _a3.begin_request();
        assert!(admission.admit(ip(1)).is_none(), "both of ip 1's connections are busy");
        assert!(!a3_shed.is_cancelled());
        drop(busy);
        assert!(admission.admit(ip(1)).is_some(), "a2 finished its response: it is idle, so shed");
        assert!(a2_shed.is_cancelled());
    }

    /// The total HTTP cap sheds across addresses, and a WebSocket guest is never shed but
    /// counts against every connection.
    #[test]
    fn total_caps() {
        let admission = caps(4, 2, 3);
        let (guest, guest_shed) = admission.admit(ip(1)).unwrap();
        guest.upgraded();
        let (_b, b_shed) = admission.admit(ip(2)).unwrap();
        let (_c, c_shed) = admission.admit(ip(3)).unwrap();
        assert_eq!(admission.counts(), (2, 1));
        let (_d, _) = admission.admit(ip(4)).expect("b is shed for it");
        assert!(b_shed.is_cancelled() && !c_shed.is_cancelled() && !guest_shed.is_cancelled());
        assert_eq!(admission.counts(), (2, 1));
        drop(guest);
        assert_eq!(admission.counts(), (2, 0), "the guest's drop frees its place");
    }

    /// The caps come from the descriptor limit: the host's files reserved, HTTP at most half.
    #[test]
    fn caps_from_descriptors() {
        let limits = Limits::default();
        let caps = Caps::derive(&limits, 1024);
        assert_eq!(caps, Caps { http_per_addr: 16, http: 256, connections: 960 });
        let small = Caps::derive(&limits, 256);
        assert_eq!(small, Caps { http_per_addr: 16, http: 96, connections: 192 });
        let set = Caps::derive(&Limits { max_connections: Some(10), max_http_per_addr: 16, ..limits }, 1024);
        assert_eq!(set, Caps { http_per_addr: 5, http: 5, connections: 10 });
    }
}
