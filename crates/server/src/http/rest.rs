//! The REST routes seed 002 implies ("posting chat, joining voice"): Together posts messages
//! outside the socket. Each takes the join key as `Authorization: Bearer` (or `?token=`) and acts
//! for the member its `?device=` names (the device id that member connected with); answers are
//! the seed's message objects, errors `{"error": "..."}` with the HTTP status that fits.
//!
//! - `POST /channels/{id}/messages` `{"content": "..."}` → 201 and the message.
//! - `PATCH /channels/{id}/messages/{message_id}` `{"content": "..."}` → 200 and the message.
//! - `DELETE /channels/{id}/messages/{message_id}` → 204.
//! - `POST /channels/{id}/voice` (`{"muted": false, "deafened": false}`, optional) joins a voice
//!   channel, `PATCH` on it mutes or deafens (`{"muted": true}`), `DELETE` leaves: 200 and the
//!   voice state `{user_id, channel_id, muted, deafened}` (`DELETE`: 204); every change is a
//!   `VOICE_STATE_UPDATE` to all.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use partyline_protocol::together;
use partyline_session::member::Voice;
use partyline_session::{ChatLine, SessionError, VoiceChange};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::KeyCheck;
use crate::{ServerError, Shared};

/// The largest body a route reads: a message is at most 1,000 characters.
const MAX_BODY: usize = 16 * 1024;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/channels/{channel}/messages", post(create))
        .route("/channels/{channel}/messages/{message}", patch(edit).delete(remove))
        .route("/channels/{channel}/voice", post(voice_set).patch(voice_set).delete(voice_leave))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

#[derive(Deserialize)]
pub(crate) struct Caller {
    token: Option<String>,
    device: Option<String>,
}

/// A refused call: its status and why, answered as `{"error": "..."}`.
pub(crate) struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({"error": self.1}))).into_response()
    }
}

fn refusal(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal(status, message.into())
}

/// The caller's device id, once its key is checked (the uploads route checks so too).
pub(crate) fn device(shared: &Shared, caller: &Caller, headers: &HeaderMap) -> Result<String, Refusal> {
    // A retired key lets a member resume its socket, not act: it is refused here.
    if !matches!(
        shared.keys().check(caller.token.as_deref(), headers),
        KeyCheck::Accepted | KeyCheck::AcceptedSubprotocol(_)
    ) {
        return Err(refusal(StatusCode::UNAUTHORIZED, "wrong or missing token (Authorization: Bearer <join key>)"));
    }
    match caller.device.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(device) => Ok(device.to_string()),
        None => Err(refusal(StatusCode::BAD_REQUEST, "?device= must name the member (its device id)")),
    }
}

/// The caller's device id and what its body says, or the first refusal.
fn call<T>(
    shared: &Shared,
    caller: &Caller,
    headers: &HeaderMap,
    body: Result<T, Refusal>,
) -> Result<(String, T), Refusal> {
    Ok((device(shared, caller, headers)?, body?))
}

fn json_body(body: &Bytes) -> Result<Value, Refusal> {
    serde_json::from_slice(body)
        .map_err(|err| refusal(StatusCode::BAD_REQUEST, format!("the body must be JSON: {err}")))
}

fn content(body: &Bytes) -> Result<String, Refusal> {
    match json_body(body)?.get("content").and_then(Value::as_str) {
        Some(content) => Ok(content.to_string()),
        None => Err(refusal(StatusCode::BAD_REQUEST, "the body must be {\"content\": \"...\"}")),
    }
}

/// A voice body's flags (absent ones `None`); an empty body has none.
fn flags(body: &Bytes) -> Result<(Option<bool>, Option<bool>), Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((None, None));
    }
    let value = json_body(body)?;
    let flag = |name: &str| match value.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(on)) => Ok(Some(*on)),
        Some(_) => Err(refusal(StatusCode::BAD_REQUEST, format!("{name} must be true or false"))),
    };
    Ok((flag("muted")?, flag("deafened")?))
}

/// The answer to a session action: `status` with `body(result)` (204: no body), or the status
/// that fits its refusal.
fn respond<T>(
    result: Result<Result<T, SessionError>, ServerError>,
    status: StatusCode,
    body: impl FnOnce(T) -> Value,
) -> Response {
    match result {
        Ok(Ok(_)) if status == StatusCode::NO_CONTENT => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(done)) => (status, axum::Json(body(done))).into_response(),
        Ok(Err(err)) => {
            let status = match err {
                SessionError::NoSuchDevice(_) | SessionError::NoSuchLine(_) | SessionError::NoSuchRoom(_) => {
                    StatusCode::NOT_FOUND
                }
                SessionError::NotYourLine(_) => StatusCode::FORBIDDEN,
                SessionError::NotInVoice(_) => StatusCode::CONFLICT,
                SessionError::Closed => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            refusal(status, err.to_string()).into_response()
        }
        Err(err) => refusal(StatusCode::SERVICE_UNAVAILABLE, err.to_string()).into_response(),
    }
}

fn message(line: ChatLine) -> Value {
    together::message(&line.id, &line.room, &line.from, &line.text, line.created_at, line.edited_at)
}

fn voice_state((member_id, voice): (String, Voice)) -> Value {
    json!({"user_id": member_id, "channel_id": voice.channel, "muted": voice.muted, "deafened": voice.deafened})
}

/// Runs `action` on the session unless the call was refused, and answers.
async fn act<T: Send + 'static>(
    shared: &Shared,
    called: Result<(String, impl Send + 'static), Refusal>,
    action: impl FnOnce(&mut partyline_session::Session, partyline_session::Time, String) -> Result<T, SessionError>
    + Send
    + 'static,
    status: StatusCode,
    body: impl FnOnce(T) -> Value,
) -> Response {
    match called {
        Err(refused) => refused.into_response(),
        Ok((device, _)) => {
            let result = crate::act(&shared.commands, move |session, now| action(session, now, device)).await;
            respond(result, status, body)
        }
    }
}

async fn create(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    Query(caller): Query<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let called = call(&shared, &caller, &headers, content(&body));
    let text = called.as_ref().map(|(_, text)| text.clone()).unwrap_or_default();
    let action = move |session: &mut partyline_session::Session, now, device: String| {
        session.post_chat(now, &device, &channel, &text)
    };
    act(&shared, called, action, StatusCode::CREATED, message).await
}

async fn edit(
    State(shared): State<Arc<Shared>>,
    Path((channel, id)): Path<(String, String)>,
    Query(caller): Query<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let called = call(&shared, &caller, &headers, content(&body));
    let text = called.as_ref().map(|(_, text)| text.clone()).unwrap_or_default();
    let action = move |session: &mut partyline_session::Session, now, device: String| match session
        .chat_line(&id)
        .map(|line| line.room == channel)
    {
        Some(true) => session.edit_chat(now, &device, &id, &text),
        _ => Err(SessionError::NoSuchLine(id)),
    };
    act(&shared, called, action, StatusCode::OK, message).await
}

async fn remove(
    State(shared): State<Arc<Shared>>,
    Path((channel, id)): Path<(String, String)>,
    Query(caller): Query<Caller>,
    headers: HeaderMap,
) -> Response {
    let called = call(&shared, &caller, &headers, Ok(()));
    let action = move |session: &mut partyline_session::Session, now, device: String| match session
        .chat_line(&id)
        .map(|line| line.room == channel)
    {
        Some(true) => session.delete_chat(now, Some(&device), &id),
        _ => Err(SessionError::NoSuchLine(id)),
    };
    act(&shared, called, action, StatusCode::NO_CONTENT, message).await
}

/// `POST` joins the voice channel (muted and deafened as the body says, else not); `PATCH`
/// changes what the body names.
async fn voice_set(
    method: axum::http::Method,
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    Query(caller): Query<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let called = call(&shared, &caller, &headers, flags(&body));
    let (muted, deafened) = called.as_ref().map(|(_, flags)| *flags).unwrap_or_default();
    let change = if method == axum::http::Method::POST {
        VoiceChange::Join { channel, muted: muted.unwrap_or(false), deafened: deafened.unwrap_or(false) }
    } else {
        VoiceChange::Set { channel, muted, deafened }
    };
    let action =
        move |session: &mut partyline_session::Session, now, device: String| session.voice(now, &device, change);
    act(&shared, called, action, StatusCode::OK, voice_state).await
}

async fn voice_leave(
    State(shared): State<Arc<Shared>>,
    Path(channel): Path<String>,
    Query(caller): Query<Caller>,
    headers: HeaderMap,
) -> Response {
    let called = call(&shared, &caller, &headers, Ok(()));
    let change = VoiceChange::Leave { channel };
    let action =
        move |session: &mut partyline_session::Session, now, device: String| session.voice(now, &device, change);
    act(&shared, called, action, StatusCode::NO_CONTENT, voice_state).await
}
