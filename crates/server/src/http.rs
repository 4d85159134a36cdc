//! The HTTP side of the one port: the phone web client, `/api/info`, `/api/join` (room code),
//! and the WebSocket upgrade at `/ws`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use partyline_protocol::{MAX_MESSAGE_BYTES, SUPPORTED_VERSIONS};
use partyline_session::{ConnId, SECOND, Time};
use serde::Deserialize;
use serde_json::json;

use crate::Shared;
use crate::auth::{self, KeyCheck};
use crate::handler;

mod assets;

/// Wrong room codes allowed per address per minute: enough for typos, too few to guess one
/// of 28 million codes before the party ends.
const ROOM_CODE_TRIES: u32 = 5;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(assets::routes())
        .route("/api/info", get(info))
        .route("/api/join", get(room_code))
        .route("/ws", get(upgrade))
        .nest("/media", media_router(&shared))
        .with_state(shared)
}

/// The shared folder with Range support (404 for everything when nothing is shared), behind
/// the join key: the host's files are for its guests only. An `<audio>` element cannot send
/// headers, so the key rides in the query (`?token=`), as for the WebSocket. The folder is read
/// on each request: the host may share another one while the party goes on.
fn media_router(shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new().fallback(serve_media).layer(axum::middleware::from_fn_with_state(shared.clone(), media_key))
}

async fn serve_media(State(shared): State<Arc<Shared>>, request: axum::extract::Request) -> Response {
    let dir = shared.media.read().map(|dir| dir.clone()).unwrap_or_default();
    let Some(dir) = dir else {
        return (StatusCode::NOT_FOUND, "This host shares no media\n").into_response();
    };
    match tower::ServiceExt::oneshot(tower_http::services::ServeDir::new(dir), request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

async fn media_key(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<WsQuery>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match auth::check_key(shared.join_key.as_deref(), query.token.as_deref(), request.headers()) {
        KeyCheck::Refused => (StatusCode::UNAUTHORIZED, "A join key is needed (?token=)\n").into_response(),
        _ => next.run(request).await,
    }
}

async fn info(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.state.borrow().clone();
    axum::Json(json!({
        "sessionId": state.id,
        "name": state.name,
        "memberCount": state.member_count,
        "maxMembers": state.max_members,
        "locked": state.locked,
        "open": shared.join_key.is_none(),
        "protocolVersions": SUPPORTED_VERSIONS,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

/// Exchanges the short room code shown by the host for the join key.
async fn room_code(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<CodeQuery>,
) -> Response {
    let (Some(expected), Some(key)) = (shared.room_code.as_deref(), shared.join_key.as_deref()) else {
        return (StatusCode::OK, axum::Json(json!({"joinKey": null, "open": true}))).into_response();
    };
    let now = shared.clock.now();
    if !shared.code_tries.allowed(peer.ip(), now) {
        let body = json!({"error": "too_many_tries", "message": "Too many wrong codes; wait a minute"});
        return (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    }
    let given = query.code.unwrap_or_default().trim().to_ascii_uppercase();
    if given == expected {
        axum::Json(json!({"joinKey": key})).into_response()
    } else {
        shared.code_tries.failed(peer.ip(), now);
        let body = json!({"error": "wrong_code", "message": "That code is not this party's"});
        (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
    }
}

#[derive(Deserialize)]
struct WsQuery {
    token: Option<String>,
}

async fn upgrade(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !auth::origin_allowed(&headers) {
        return (StatusCode::FORBIDDEN, "Cross-origin WebSocket requests are refused\n").into_response();
    }
    let Some(slot) = AddrSlot::acquire(&shared.per_addr, peer.ip(), shared.limits.max_conns_per_addr) else {
        return (StatusCode::TOO_MANY_REQUESTS, "Too many connections from this address\n").into_response();
    };
    let check = auth::check_key(shared.join_key.as_deref(), query.token.as_deref(), &headers);
    let limits = &shared.limits;
    let mut ws = ws
        .read_buffer_size(limits.read_buffer)
        .write_buffer_size(limits.write_buffer)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES);
    if let KeyCheck::AcceptedSubprotocol(protocol) = &check {
        ws = ws.protocols([protocol.clone()]);
    }
    let device = crate::device::device_label(&headers);
    let tracker = shared.tracker.clone();
    ws.on_upgrade(move |socket| {
        tracker.track_future(async move {
            let _slot = slot;
            if check == KeyCheck::Refused {
                handler::refuse(socket, shared.clock.now()).await;
                return;
            }
            let conn = ConnId(shared.next_conn.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            handler::serve(socket, conn, shared, peer, device).await;
        })
    })
}

/// Live connections per address, capped so one device cannot take every slot.
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

/// Wrong room-code tries per address, in one-minute windows.
#[derive(Default)]
pub(crate) struct CodeTries(Mutex<HashMap<IpAddr, (Time, u32)>>);

impl CodeTries {
    fn allowed(&self, ip: IpAddr, now: Time) -> bool {
        let map = self.0.lock().expect("code tries poisoned");
        map.get(&ip).is_none_or(|(since, count)| now >= since + 60 * SECOND || *count < ROOM_CODE_TRIES)
    }

    fn failed(&self, ip: IpAddr, now: Time) {
        let mut map = self.0.lock().expect("code tries poisoned");
        let entry = map.entry(ip).or_insert((now, 0));
        if now >= entry.0 + 60 * SECOND {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}
