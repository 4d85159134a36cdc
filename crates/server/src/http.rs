//! The HTTP side of the one port: the phone web client, `/api/info`, `/api/join` (room code),
//! `/media/`, and the route to the WebSocket upgrade at `/ws` (in `upgrade`).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use partyline_protocol::SUPPORTED_VERSIONS;
use partyline_session::{MILLISECOND, SECOND, Time};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Shared;
use crate::auth::{self, CodeBudget, CodeTry, KeyCheck};

mod assets;
#[cfg(test)]
mod imports;
mod rest;
mod uploads;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(assets::routes())
        .merge(rest::routes())
        .merge(uploads::routes(shared.uploads.max_file_bytes()))
        .route("/", get(page))
        .route("/api/info", get(info))
        .route("/api/join", get(room_code))
        .route("/api/resume", get(crate::attach::resume))
        .route("/ws", get(crate::upgrade::upgrade))
        .route("/together/ws", get(crate::upgrade::together))
        .route("/pavilion/ws", get(crate::upgrade::pavilion))
        .route("/rt/ws", get(crate::upgrade::rt))
        .route("/socket", get(crate::upgrade::revenge))
        .nest("/media", media_router(&shared))
        .with_state(shared)
        .layer(axum::middleware::from_fn(crate::listener::check_host))
        // Outermost, so that every answer carries the headers, the Host check's refusals too.
        .layer(axum::middleware::from_fn(security_headers))
}

/// The phone page and its assets: scripts, styles and sockets from this host only, no inline
/// script or style but the page's import map, its `boot.js` and its style (allowed by their
/// SHA-256s, which `build.rs` writes),
/// media and images also from `data:`/`blob:` (the player unlocks audio with a generated `data:`
/// WAV), never framed. An injected `<script>` has nowhere to load from.
const PAGE_CSP: &str = concat!(
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; \
    media-src 'self' data: blob:; style-src 'self' ",
    include_str!(concat!(env!("OUT_DIR"), "/page_style_hashes.txt")),
    "; script-src 'self' ",
    include_str!(concat!(env!("OUT_DIR"), "/page_script_hashes.txt")),
    "; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
);

/// Media: a file a browser would render as a document (opened directly, or mislabelled)
/// runs sandboxed, in an opaque origin that cannot read the phone page's `sessionStorage` (the
/// join key, the resume secret), and loads nothing. `<audio>`/`<video>` ignore it.
const MEDIA_CSP: &str = "sandbox; default-src 'none'";

/// JSON answers and everything else: nothing to run, nothing to load.
const NONE_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// One layer over every route, 404s included (but 304s and 101s, below): `nosniff` (a browser never guesses a type from
/// the bytes, so a file is only ever what its `Content-Type` says), no `Referer` (URLs carry the
/// key in `?token=`), and a Content-Security-Policy by what is answered.
async fn security_headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = request.uri().path();
    let media = path == "/media" || path.starts_with("/media/");
    let csp = if media {
        MEDIA_CSP
    } else if path.starts_with("/api/") || path.starts_with("/channels/") || path.ends_with("/ws") || path == "/socket"
    {
        NONE_CSP
    } else {
        PAGE_CSP
    };
    let mut response = next.run(request).await;
    // A 304 only refreshes what the browser stored with the 200 (RFC 9111, 4.3.4): a header it
    // does not carry keeps the 200's value, so the policy stays and the 304 carries only its
    // validators. A 101 hands the socket to the WebSocket: there is no document to protect. On
    // a slow Wi-Fi these bytes are on a reload's path: 550 fewer, 11 ms at 400 kbit/s.
    if matches!(response.status(), StatusCode::NOT_MODIFIED | StatusCode::SWITCHING_PROTOCOLS) {
        return response;
    }
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    if media {
        // Another site's page cannot embed the host's files as `<img>`/`<audio>` either.
        headers.insert(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        );
    }
    response
}

/// The shared library with Range support, behind the join key: the host's files are for its
/// guests only. An `<audio>` element cannot send headers, so the key rides in the query
/// (`?token=`), as for the WebSocket. The library is read on each request: the host may share
/// another folder while the party goes on.
fn media_router(shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new().fallback(serve_media).layer(axum::middleware::from_fn_with_state(shared.clone(), media_key))
}

/// Serves `/media/<path>` only when `<path>` is exactly a guest's kept upload (`guests/…`) or a
/// library item's scanned path, and, for the folder's, only
/// while that file is still where the scan found it (a file swapped for a link since is
/// refused). Everything else is a plain 404: no directory listing, no redirect.
async fn serve_media(State(shared): State<Arc<Shared>>, request: axum::extract::Request) -> Response {
    // Guests' songs and photos first: their paths (`guests/u-….ext`) are the store's own.
    if let Some(file) = shared.uploads.resolve(request.uri().path()) {
        let serve = tower_http::services::ServeFile::new_with_mime(&file.path, &file.mime);
        return match tower::ServiceExt::oneshot(serve, request).await {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        };
    }
    let library = shared.media.read().ok().and_then(|library| library.clone());
    let Some(library) = library else {
        return (StatusCode::NOT_FOUND, "This host shares no media\n").into_response();
    };
    if request.uri().path().starts_with("/.cover/") {
        return serve_cover(library, request).await;
    }
    let Some(file) = library.resolve(request.uri().path()).cloned() else {
        return not_in_library();
    };
    let checked = file.clone();
    let inside = tokio::task::spawn_blocking(move || library.still_inside(&checked)).await.unwrap_or(false);
    if !inside {
        tracing::debug!(path = %file.path.display(), "library file moved or became a link; refused");
        return not_in_library();
    }
    let serve = tower_http::services::ServeFile::new_with_mime(&file.path, &file.mime);
    match tower::ServiceExt::oneshot(serve, request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

/// How long a phone may keep a cover without asking again: a cover is its file's picture, and
/// a party plays a song a few minutes; a changed file is a new scan (and its ETag changes).
const COVER_MAX_AGE: &str = "private, max-age=3600";

/// `/media/.cover/<item id>`: the picture the item's tags hold ([`crate::media::Library::cover`]:
/// only an item the scan listed, only image bytes), with an ETag from its bytes, so a phone
/// that has it gets a 304.
async fn serve_cover(library: Arc<crate::media::Library>, request: axum::extract::Request) -> Response {
    let path = request.uri().path().to_string();
    let cover = tokio::task::spawn_blocking(move || library.cover(&path)).await.ok().flatten();
    let Some(cover) = cover else { return not_in_library() };
    let tag = format!("\"{:016x}\"", crate::media::fingerprint(&cover.bytes));
    let fresh = request.headers().get(header::IF_NONE_MATCH).is_some_and(|value| value.as_bytes() == tag.as_bytes());
    let headers = [
        (header::CONTENT_TYPE, cover.mime.to_string()),
        (header::CACHE_CONTROL, COVER_MAX_AGE.to_string()),
        (header::ETAG, tag),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (headers, cover.bytes).into_response()
}

fn not_in_library() -> Response {
    (StatusCode::NOT_FOUND, "Not in this party's library\n").into_response()
}

async fn media_key(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<WsQuery>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // A retired key still fetches media: the members who resumed with it play in sync too.
    let check = shared.keys().check(query.token.as_deref(), request.headers());
    match check {
        KeyCheck::Refused => (StatusCode::UNAUTHORIZED, "A join key is needed (?token=)\n").into_response(),
        _ => next.run(request).await,
    }
}

/// `/api/info`: what anyone may know before holding the key (it carries no key): the facts the
/// page carries too, and what changes while the party goes on. The facts it shares with
/// `partyline_host::HostInfo` (`sessionId`, `name`) and with `SessionState` (`memberCount`,
/// `maxMembers`, `locked`) have the same names there.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublicInfo {
    #[serde(flatten)]
    facts: PageFacts,
    member_count: u32,
    /// Each wire format's WebSocket URL on the address asked (no key), by format.
    endpoints: std::collections::BTreeMap<&'static str, String>,
    /// The party's chat rooms and voice channels.
    rooms: Vec<partyline_protocol::Room>,
}

/// `/api/info`'s `uploads` (snake_case, as `POST /api/uploads`'s `limit_bytes`).
#[derive(Serialize)]
struct UploadsInfo {
    allowed: bool,
    max_file_bytes: u64,
}

/// What the host writes into the phone page (`#party-facts`): the part of `/api/info` that
/// stays put while a party goes on, under the same names (the head count and the rooms change
/// at every join, and would make every reload download the page again). The join screen is
/// drawn from it before any other request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageFacts {
    session_id: String,
    name: String,
    max_members: u32,
    locked: bool,
    /// No join key is needed.
    open: bool,
    protocol_versions: [&'static str; SUPPORTED_VERSIONS.len()],
    /// The longest a room-code try may wait for its answer.
    room_code_wait_ms: Time,
    /// Whether guests may share songs and photos now, and the largest file taken: the phone
    /// hides or limits its buttons by it.
    uploads: UploadsInfo,
}

impl PageFacts {
    fn of(shared: &Shared, state: partyline_protocol::SessionState) -> PageFacts {
        PageFacts {
            session_id: state.id,
            name: state.name,
            max_members: state.max_members,
            locked: state.locked,
            open: shared.keys().join_key.is_none(),
            protocol_versions: SUPPORTED_VERSIONS,
            room_code_wait_ms: auth::MAX_WAIT / MILLISECOND,
            uploads: UploadsInfo { allowed: shared.uploads.allowed(), max_file_bytes: shared.uploads.max_file_bytes() },
        }
    }
}

async fn page(State(shared): State<Arc<Shared>>, headers: axum::http::HeaderMap) -> Response {
    let facts = PageFacts::of(&shared, shared.state.borrow().clone());
    let facts = serde_json::to_string(&facts).expect("the facts serialize");
    assets::page(&facts, &headers)
}

async fn info(State(shared): State<Arc<Shared>>, headers: axum::http::HeaderMap) -> Response {
    let state = shared.state.borrow().clone();
    // The Host header names this host (`check_host` let the request through on it).
    let authority = headers.get(header::HOST).and_then(|host| host.to_str().ok()).unwrap_or("localhost");
    let endpoints = partyline_protocol::ENDPOINTS
        .iter()
        .map(|(format, path)| (*format, format!("ws://{authority}{path}")))
        .collect();
    let rooms = crate::act(&shared.commands, |session, _| session.rooms()).await.unwrap_or_default();
    let member_count = state.member_count;
    axum::Json(PublicInfo { facts: PageFacts::of(&shared, state), member_count, endpoints, rooms }).into_response()
}

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

/// Exchanges the short room code shown by the host for the join key. Every try is budgeted
/// ([`auth::CodeBudget`]): within budget it is checked at once; over it, it waits its turn
/// (at most [`auth::MAX_WAIT`]) and is then checked, or is refused with 429 and when to retry.
async fn room_code(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<CodeQuery>,
) -> Response {
    let keys = shared.keys();
    let (Some(expected), Some(key)) = (keys.room_code.as_deref(), keys.join_key.as_deref()) else {
        return (StatusCode::OK, axum::Json(json!({"joinKey": null, "open": true}))).into_response();
    };
    let ip = peer.ip();
    match shared.code_tries.try_code(ip, shared.clock.now()) {
        CodeTry::Now => {}
        CodeTry::After(wait) => {
            // Given back however this ends, also when the phone gives up and the request is dropped.
            let _turn = shared.code_tries.waiting(ip);
            tracing::debug!(%ip, wait_ms = wait / MILLISECOND, "room-code try waits its turn");
            tokio::time::sleep(std::time::Duration::from_micros(wait)).await;
        }
        CodeTry::Refused(retry) => {
            let retry_ms = retry.div_ceil(MILLISECOND);
            tracing::debug!(%ip, retry_ms, "room-code try refused: over budget");
            let body = json!({
                "error": "too_many_tries",
                "message": "Too many room-code tries; try again shortly",
                "retryAfterMs": retry_ms,
            });
            let seconds = retry.div_ceil(SECOND).to_string();
            return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, seconds)], axum::Json(body)).into_response();
        }
    }
    let given = query.code.unwrap_or_default().trim().to_ascii_uppercase();
    if auth::keys_equal(&given, expected) {
        axum::Json(json!({"joinKey": key})).into_response()
    } else {
        let body = json!({"error": "wrong_code", "message": "That code is not this party's"});
        (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
    }
}

#[derive(Deserialize)]
struct WsQuery {
    token: Option<String>,
}

/// The room-code budget, shared by the `/api/join` requests.
#[derive(Default)]
pub(crate) struct CodeTries(Mutex<CodeBudget>);

impl CodeTries {
    fn try_code(&self, ip: IpAddr, now: Time) -> CodeTry {
        self.0.lock().expect("code tries poisoned").try_code(ip, now)
    }

    /// A waiting try's place, given back on drop.
    fn waiting(&self, ip: IpAddr) -> WaitingTry<'_> {
        WaitingTry { tries: self, ip }
    }
}

/// One try waiting its turn; dropping it (checked, or the request abandoned) frees the place.
struct WaitingTry<'a> {
    tries: &'a CodeTries,
    ip: IpAddr,
}

impl Drop for WaitingTry<'_> {
    fn drop(&mut self) {
        let mut budget = self.tries.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        budget.done_waiting(self.ip);
    }
}
