//! The WebSocket upgrade at `/ws`, done with tokio-tungstenite directly: the request is
//! validated (RFC 6455 §4.2.1), then checked in this order: Origin (403), connections per
//! address (429), the join key (a wrong key is accepted and answered with `error` unauthorized
//! and close 4001, which a browser's script can see), the device label. The 101 answer echoes a
//! key-carrying subprotocol; the upgraded socket goes to [`handler`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use partyline_protocol::{MAX_MESSAGE_BYTES, Wire};
use partyline_session::{Arrival, ConnId};
use serde::Deserialize;
use tokio_tungstenite::WebSocketStream;
use tracing::debug;
use tungstenite::protocol::{Role, WebSocketConfig};

use crate::Shared;
use crate::auth::{self, KeyCheck};
use crate::handler;
use crate::listener::ConnSlot;

/// What an upgrade's URL may carry: the key (`?token=`, also the seeds' name for it); for
/// the formats that join at connect, the member's name and device id; and at `/ws`, a resume
/// (`?resume=<member id>&secret=<resume secret>&session=<session id>&lastSeq=<n>`), read as
/// if the connection's first frame were that `resume`: the answer follows the 101 at once, a
/// round trip sooner than a `resume` sent after it.
#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    pub(crate) token: Option<String>,
    name: Option<String>,
    device: Option<String>,
    pub(crate) resume: Option<String>,
    secret: Option<String>,
    session: Option<String>,
    #[serde(rename = "lastSeq")]
    last_seq: Option<String>,
    /// A reload's nonce: the socket takes over the connection a resume over HTTP with the same
    /// nonce made ([`crate::attach`]).
    pub(crate) attach: Option<String>,
}

impl TokenQuery {
    /// The `resume` message the URL stands for, as the text a client would have sent (so it is
    /// checked as any first frame is), or `None` when it names no resume. A `lastSeq` that is no
    /// number stays a string, which the decoder refuses with `invalid_message`.
    pub(crate) fn resume_text(&self, now: partyline_session::Time) -> Option<String> {
        let member = self.resume.as_ref()?;
        let timestamp = now / partyline_session::MILLISECOND; // a client's would be its clock, in ms
        let mut resume = serde_json::json!({ "type": "resume", "timestamp": timestamp, "memberId": member });
        if let Some(secret) = &self.secret {
            resume["resumeSecret"] = secret.as_str().into();
        }
        if let Some(session) = &self.session {
            resume["sessionId"] = session.as_str().into();
        }
        resume["lastSeq"] = match self.last_seq.as_deref() {
            None | Some("") => 0.into(),
            Some(text) => text.parse::<u64>().map_or_else(|_| text.into(), Into::into),
        };
        Some(resume.to_string())
    }
}

/// Whether a header lists `token` (comma-separated, any case), as `Connection: keep-alive,
/// Upgrade` does.
fn lists(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// What is wrong with a request that is not a WebSocket opening handshake, as the answer.
fn not_a_handshake(request: &Request) -> Option<Response> {
    let headers = request.headers();
    if request.method() != Method::GET {
        return Some((StatusCode::BAD_REQUEST, "A WebSocket opening is a GET request\n").into_response());
    }
    if !lists(headers, header::UPGRADE, "websocket") {
        let upgrade = [(header::UPGRADE, HeaderValue::from_static("websocket"))];
        return Some((StatusCode::UPGRADE_REQUIRED, upgrade, "This is the WebSocket endpoint\n").into_response());
    }
    if !lists(headers, header::CONNECTION, "upgrade") {
        return Some((StatusCode::BAD_REQUEST, "Connection: upgrade is missing\n").into_response());
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|version| version != "13") {
        let version = [(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"))];
        return Some((StatusCode::UPGRADE_REQUIRED, version, "WebSocket version 13 only\n").into_response());
    }
    // 16 bytes in base64: 22 characters and "==".
    let key_ok = headers.get(header::SEC_WEBSOCKET_KEY).is_some_and(|key| {
        let key = key.as_bytes();
        key.len() == 24
            && key.ends_with(b"==")
            && key[..22].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
    });
    if !key_ok {
        return Some((StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing or malformed\n").into_response());
    }
    None
}

/// `/ws`: LOUDSYNC 1.0 and partyline/1 (the `join` says which).
pub(crate) async fn upgrade(
    state: State<Arc<Shared>>,
    peer: ConnectInfo<SocketAddr>,
    query: Query<TokenQuery>,
    request: Request,
) -> Response {
    open(state, peer, query, request, None).await
}

/// `/together/ws`: seed 002's gateway.
pub(crate) async fn together(
    state: State<Arc<Shared>>,
    peer: ConnectInfo<SocketAddr>,
    query: Query<TokenQuery>,
    request: Request,
) -> Response {
    open(state, peer, query, request, Some(Wire::Together)).await
}

/// `/pavilion/ws`: seed 004's socket.
pub(crate) async fn pavilion(
    state: State<Arc<Shared>>,
    peer: ConnectInfo<SocketAddr>,
    query: Query<TokenQuery>,
    request: Request,
) -> Response {
    open(state, peer, query, request, Some(Wire::Pavilion)).await
}

/// `/rt/ws`: seed 001's socket.
pub(crate) async fn rt(
    state: State<Arc<Shared>>,
    peer: ConnectInfo<SocketAddr>,
    query: Query<TokenQuery>,
    request: Request,
) -> Response {
    open(state, peer, query, request, Some(Wire::Rt)).await
}

/// `/socket`: seed 000's (Revenge's) socket.
pub(crate) async fn revenge(
    state: State<Arc<Shared>>,
    peer: ConnectInfo<SocketAddr>,
    query: Query<TokenQuery>,
    request: Request,
) -> Response {
    open(state, peer, query, request, Some(Wire::Revenge)).await
}

/// The upgrade, the same for every endpoint but for `format` (`None`: `/ws`, where the `join`
/// decides).
async fn open(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<TokenQuery>,
    mut request: Request,
    format: Option<Wire>,
) -> Response {
    if let Some(refusal) = not_a_handshake(&request) {
        return refusal;
    }
    let headers = request.headers();
    if !auth::origin_allowed(headers) {
        return (StatusCode::FORBIDDEN, "Cross-origin WebSocket requests are refused\n").into_response();
    }
    let Some(slot) = AddrSlot::acquire(&shared.per_addr, peer.ip(), shared.limits.max_conns_per_addr) else {
        return (StatusCode::TOO_MANY_REQUESTS, "Too many connections from this address\n").into_response();
    };
    let check = shared.keys().check(query.token.as_deref(), headers);
    let device = crate::device::device_label(headers);
    let mut answer = HeaderMap::new();
    answer.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    answer.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let key = headers.get(header::SEC_WEBSOCKET_KEY).map(HeaderValue::as_bytes).unwrap_or_default();
    let accept = tungstenite::handshake::derive_accept_key(key);
    let Ok(accept) = HeaderValue::from_str(&accept) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response(); // base64 is always a header value
    };
    answer.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    if let KeyCheck::AcceptedSubprotocol(protocol) | KeyCheck::Retired(Some(protocol)) = &check {
        let Ok(protocol) = HeaderValue::from_str(protocol) else {
            return (StatusCode::BAD_REQUEST, "Bad subprotocol\n").into_response();
        };
        answer.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    let on_upgrade = hyper::upgrade::on(&mut request);
    // From here on the connection is a guest's, counted as one and never shed.
    let conn_slot = request.extensions().get::<Arc<ConnSlot>>().cloned();
    if let Some(conn_slot) = &conn_slot {
        conn_slot.upgraded();
    }
    let limits = &shared.limits;
    // tungstenite writes each frame through at once (a write buffer of 0): the connection's
    // write buffer is `Counted`'s, which gives its memory back once the socket has taken it.
    let config = WebSocketConfig::default()
        .read_buffer_size(limits.read_buffer)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let write_chunk = limits.write_buffer;
    let tracker = shared.tracker.clone();
    tracker.spawn(async move {
        let _slots = (slot, conn_slot);
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(err) => {
                debug!(cause = %err, %peer, "upgrade failed");
                return;
            }
        };
        let io = handler::Counted::new(TokioIo::new(upgraded), write_chunk);
        let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        if check == KeyCheck::Refused {
            handler::refuse(socket, shared.clock.now(), format.unwrap_or(Wire::Partyline)).await;
            return;
        }
        // A reload whose resume was made over HTTP: this socket is that connection now.
        if let (None, Some(nonce)) = (format, query.attach.as_deref()) {
            let member = query.resume.as_deref();
            if let crate::attach::Claim::Parked(registered) = shared.attachments.claim(nonce, member).await {
                handler::serve_registered(socket, registered, shared, peer).await;
                return;
            }
        }
        // At `/ws` only: the other formats' URLs join, they do not resume.
        let first = if format.is_none() { query.resume_text(shared.clock.now()) } else { None };
        let arrival = format.map(|wire| Arrival { wire, name: query.name, device_id: query.device });
        let conn = ConnId(shared.next_conn.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        // An old key (the host made a new one since): this connection may resume, not join.
        let may_join = !matches!(check, KeyCheck::Retired(_));
        handler::serve(socket, conn, shared, peer, device, may_join, arrival, first).await;
    });
    (StatusCode::SWITCHING_PROTOCOLS, answer).into_response()
}

/// Live WebSocket connections per address, capped so one device cannot take every slot.
pub(crate) type PerAddr = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// One connection's place in [`PerAddr`], given back on drop.
pub(crate) struct AddrSlot {
    map: PerAddr,
    ip: IpAddr,
}

impl AddrSlot {
    fn acquire(map: &PerAddr, ip: IpAddr, max: usize) -> Option<AddrSlot> {
        let mut counts = map.lock().expect("per-address map poisoned");
        let count = counts.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddrSlot { map: map.clone(), ip })
    }
}

impl Drop for AddrSlot {
    fn drop(&mut self) {
        let mut counts = self.map.lock().expect("per-address map poisoned");
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}
