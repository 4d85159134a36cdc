//! A reload's way back in, a round trip sooner: `GET /api/resume`.
//!
//! A page that reloads must open a new WebSocket, and a browser opens it on a new TCP
//! connection (never on the pooled one the page came on): a round trip for the connection and
//! one for the upgrade, before the resume's answer can come. The page's own connection is idle
//! by then. So the page asks for the resume over it (`GET /api/resume`, with the resume the
//! socket's URL carries and an `attach` nonce of its own), and opens the socket at once with the
//! same nonce. The host resumes the member on a connection of the session's like any other,
//! answers with what that connection was sent (the `resumed` and the snapshot, one frame a
//! line) and keeps the connection's queue for the socket: the socket with the nonce takes the
//! connection over, with everything queued for it since, as if it had been the connection all
//! along. On a 300 ms link that is the party back in one round trip after the page, not two.
//!
//! Whichever comes first decides: a socket that finds the resume parked takes it; one that
//! finds it in flight waits for it; one that comes first marks the nonce, and the resume over
//! HTTP is then refused (409) and the socket resumes from its URL, as before. A parked
//! connection no socket takes within [`PARK_FOR`] is dropped, as a socket that broke would be.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use partyline_session::ConnId;
use serde_json::json;
use tokio::sync::{Notify, oneshot};

use crate::Shared;
use crate::auth::{self, KeyCheck};
use crate::driver::Inbound;
use crate::handler::{self, Registered};
use crate::upgrade::TokenQuery;

/// How long a resumed connection waits for its socket. The page opens it at once; 10 s covers a
/// phone whose connection setup is slow, and is well inside the heartbeat timeout (15 s).
pub(crate) const PARK_FOR: Duration = Duration::from_secs(10);

/// How long a nonce stays known once a socket came with it first (so that a late resume over
/// HTTP is refused, not made beside the socket).
const REMEMBER: Duration = Duration::from_secs(60);

/// How long a socket waits for a resume over HTTP with its nonce that is in flight.
const WAIT_FOR_RESUME: Duration = Duration::from_secs(3);

enum Entry {
    /// The resume over HTTP is being made.
    Pending(Arc<Notify>),
    /// Made: the connection waits for its socket.
    Parked { registered: Registered, member: String },
    /// A socket came with this nonce before any resume over HTTP.
    Socket(Instant),
}

/// The nonces of reloads' resumes, shared by `/api/resume` and the upgrade at `/ws`.
#[derive(Default)]
pub(crate) struct Attachments {
    map: Mutex<HashMap<String, Entry>>,
}

/// What a socket found for its nonce.
pub(crate) enum Claim {
    /// The connection a resume over HTTP made: the socket serves it.
    Parked(Registered),
    /// Nothing: the socket resumes from its URL.
    None,
}

impl Attachments {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A resume over HTTP starts: the nonce is reserved, unless a socket (or another resume)
    /// has it.
    fn reserve(&self, nonce: &str) -> bool {
        let mut map = self.lock();
        map.retain(|_, entry| !matches!(entry, Entry::Socket(at) if at.elapsed() > REMEMBER));
        if map.contains_key(nonce) {
            return false;
        }
        map.insert(nonce.to_string(), Entry::Pending(Arc::new(Notify::new())));
        true
    }

    /// The resume over HTTP ended: parked (`Some`), or not made (the nonce is free again).
    fn settle(&self, nonce: &str, parked: Option<(Registered, String)>) {
        let mut map = self.lock();
        let notify = match map.remove(nonce) {
            Some(Entry::Pending(notify)) => Some(notify),
            _ => None,
        };
        if let Some((registered, member)) = parked {
            map.insert(nonce.to_string(), Entry::Parked { registered, member });
        }
        drop(map);
        if let Some(notify) = notify {
            notify.notify_one();
        }
    }

    /// A socket at `/ws` came with `nonce` (and the resume of `member` in its URL): it takes
    /// the parked connection of that member, or waits for the resume in flight, or marks the
    /// nonce as its own.
    pub(crate) async fn claim(&self, nonce: &str, member: Option<&str>) -> Claim {
        let deadline = tokio::time::Instant::now() + WAIT_FOR_RESUME;
        loop {
            let notify = {
                let mut map = self.lock();
                match map.remove(nonce) {
                    Some(Entry::Parked { registered, member: parked }) if member == Some(parked.as_str()) => {
                        // Used: a resume over HTTP with it again would take the member from
                        // this socket.
                        map.insert(nonce.to_string(), Entry::Socket(Instant::now()));
                        return Claim::Parked(registered);
                    }
                    Some(Entry::Pending(notify)) => {
                        map.insert(nonce.to_string(), Entry::Pending(notify.clone()));
                        notify
                    }
                    Some(other @ (Entry::Parked { .. } | Entry::Socket(_))) => {
                        // Another member's nonce, or a second socket: not this one's to take.
                        map.insert(nonce.to_string(), other);
                        return Claim::None;
                    }
                    None => {
                        map.insert(nonce.to_string(), Entry::Socket(Instant::now()));
                        return Claim::None;
                    }
                }
            };
            // `notify_one` keeps its permit for a waiter that comes after it.
            if tokio::time::timeout_at(deadline, notify.notified()).await.is_err() {
                return Claim::None;
            }
        }
    }

    /// The parked connection of `nonce`, if it is still `conn` and no socket took it.
    fn expire(&self, nonce: &str, conn: ConnId) -> Option<Registered> {
        let mut map = self.lock();
        match map.remove(nonce) {
            Some(Entry::Parked { registered, .. }) if registered.conn == conn => Some(registered),
            Some(other) => {
                map.insert(nonce.to_string(), other);
                None
            }
            None => None,
        }
    }
}

/// Whether `nonce` is one a page makes: 16 to 64 base64url characters.
fn nonce_ok(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// `GET /api/resume?resume=…&secret=…&session=…&lastSeq=…&attach=…[&token=…]`: the resume
/// `/ws` reads in its URL, made at once over this connection. 200: what the member's new
/// connection was sent, one frame a line (`application/x-ndjson`), and the connection waits for
/// the socket with the same `attach`. 409: a socket with this nonce came first. 404: not
/// resumed (the socket, which resumes from its URL, says why). 401: the join key is wrong.
pub(crate) async fn resume(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if !auth::origin_allowed(&headers) {
        return refusal(StatusCode::FORBIDDEN, "Cross-origin requests are refused");
    }
    let Some(nonce) = query.attach.clone().filter(|nonce| nonce_ok(nonce)) else {
        return refusal(StatusCode::BAD_REQUEST, "attach= is missing or malformed (16 to 64 base64url characters)");
    };
    let Some(member) = query.resume.clone() else {
        return refusal(StatusCode::BAD_REQUEST, "resume= (the member id) is missing");
    };
    if shared.keys().check(query.token.as_deref(), &headers) == KeyCheck::Refused {
        return refusal(StatusCode::UNAUTHORIZED, "Wrong or missing join key");
    }
    let Some(resume) = query.resume_text(shared.clock.now()) else {
        return refusal(StatusCode::BAD_REQUEST, "resume= (the member id) is missing");
    };
    if !shared.attachments.reserve(&nonce) {
        return refusal(StatusCode::CONFLICT, "A socket came with this attach= first: it resumes");
    }
    let device = crate::device::device_label(&headers);
    // Made in a task of its own: a page that stops waiting does not leave it half made.
    let task = shared.tracker.spawn(make(shared.clone(), peer, device, nonce, member, resume));
    match task.await {
        Ok(Made::Parked(body)) => {
            let kind = HeaderValue::from_static("application/x-ndjson; charset=utf-8");
            let store = HeaderValue::from_static("no-store");
            (StatusCode::OK, [(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, store)], body).into_response()
        }
        Ok(Made::NotResumed) => refusal(StatusCode::NOT_FOUND, "Not resumed: join again, or let the socket resume"),
        Ok(Made::Stopped) | Err(_) => refusal(StatusCode::SERVICE_UNAVAILABLE, "The party has ended"),
    }
}

enum Made {
    Parked(String),
    NotResumed,
    Stopped,
}

async fn make(
    shared: Arc<Shared>,
    peer: SocketAddr,
    device: Option<&'static str>,
    nonce: String,
    member: String,
    resume: String,
) -> Made {
    let conn = ConnId(shared.next_conn.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let Some(mut registered) = handler::register(&shared, conn, peer.ip(), device, false, None, Some(resume)).await
    else {
        shared.attachments.settle(&nonce, None);
        return Made::Stopped;
    };
    // Everything the resume produced is in the queue once the session task says so.
    let (done, flushed) = oneshot::channel();
    let sent = shared.inbound.send(Inbound::Flushed { done }).await.is_ok();
    let resumed = sent
        && flushed.await.is_ok()
        && crate::act(&shared.commands, move |session, _| session.is_ext(conn)).await.unwrap_or(false);
    let mut body = String::new();
    let mut closed = false;
    while let Some(out) = registered.rx.try_recv() {
        closed |= handler::lines(out, &mut body);
    }
    if !resumed || closed {
        shared.attachments.settle(&nonce, None);
        let _ = shared.inbound.send(Inbound::Disconnected { conn, clean: true }).await;
        return Made::NotResumed;
    }
    shared.attachments.settle(&nonce, Some((registered, member)));
    let weak = Arc::downgrade(&shared);
    drop(shared);
    tokio::spawn(expire(weak, nonce, conn));
    Made::Parked(body)
}

/// Drops a parked connection no socket took in time. It holds the server only weakly: a host
/// that stops does not wait for it.
async fn expire(shared: Weak<Shared>, nonce: String, conn: ConnId) {
    tokio::time::sleep(PARK_FOR).await;
    let Some(shared) = shared.upgrade() else { return };
    if let Some(registered) = shared.attachments.expire(&nonce, conn) {
        drop(registered);
        let _ = shared.inbound.send(Inbound::Disconnected { conn, clean: false }).await;
    }
}
